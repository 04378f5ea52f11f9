/**
 * Failure signatures and known-signature folders (docs/campaigns.md "Signatures").
 *
 * A failure's signature is its kind, its rule, and the normalized shape of its shrunk op log: the
 * sequence of op names with the boolean attributes that change what an op does (keep-size,
 * close/open, O_DSYNC, a user-buffer fault, ...), without offsets, lengths, seeds or bytes. Two
 * seeds that shrink to the same few ops of the same kinds and break the same rule count as one bug;
 * a shrink that reaches a different op sequence is a different way to fail, reported apart.
 *
 * A known-signature folder holds op logs (shrunk reproducers, each with an `expected` failure and
 * a `description` saying what it is: a kernel bug, an accepted deviation). A failure whose
 * signature equals one of them is reported as a known hit, not as a new failure. Used by
 * `campaign merge`; written so that `fsx --known DIR` can match the same way.
 */

import * as fs from 'fs';
import { filesUnder } from './corpus-files';
import { OpLog, OpLogError, OpRecord, parseJsonLog } from './fsx/oplog';

/** The attributes of an op record that are part of its shape (present / true). */
const SHAPE_ATTRS: readonly (keyof OpRecord)[] = [
  'keepSize', 'unshare', 'closeOpen', 'skip', 'noMsync', 'pollute', 'faultAt', 'reserveBlocks', 'checkShared', 'dsync',
];

/** One op's token: `write`, `fallocate+keepSize`, `write+dsync+faultAt`. */
function opToken(r: OpRecord): string {
  const attrs = SHAPE_ATTRS.filter((a) => r[a] !== undefined && r[a] !== false);
  return attrs.length === 0 ? r.op : `${r.op}+${attrs.join('+')}`;
}

/** The normalized shape of an op log: its op tokens in order, space-separated. */
export function logShape(ops: readonly OpRecord[]): string {
  return ops.map(opToken).join(' ');
}

export interface Signature {
  kind: string;
  rule: string;
  shape: string;
  /**
   * The errno of an op-error, or of the side that failed in a divergence (the host's when both
   * sides answered differently), when known: an EIO from a known kernel bug is not an EINVAL from
   * a new one with the same op shape.
   */
  errno?: string;
}

/** The signature as one string: `kind|rule|shape`, then `|errno` when it has one. */
export function signatureText(s: Signature): string {
  const base = `${s.kind}|${s.rule}|${s.shape}`;
  return s.errno === undefined ? base : `${base}|${s.errno}`;
}

/** Kinds whose signature carries the errno. */
const ERRNO_KINDS = new Set(['op-error', 'divergence']);

/** A short stable name for a signature (folder names, JUnit cases, HTML anchors). */
export function signatureId(s: Signature): string {
  // crypto is loaded here, not by every fsx run that imports this module.
  const { createHash } = require('crypto') as typeof import('crypto');
  return 'sig-' + createHash('sha256').update(signatureText(s)).digest('hex').slice(0, 12);
}

/** The signature of a failure given its kind and rule and its (shrunk) reproducer. */
export function failureSignature(kind: string, rule: string | undefined, log: Pick<OpLog, 'ops'>, errno?: string): Signature {
  const s: Signature = { kind, rule: rule ?? '', shape: logShape(log.ops) };
  if (errno !== undefined && ERRNO_KINDS.has(kind)) s.errno = errno;
  return s;
}

export interface KnownSignature {
  signature: Signature;
  /** The op log that defines it. */
  file: string;
  /** Its description: what the bug is, where it was reported. */
  note: string;
  /** The adapter the log records (`reference` for a kernel behaviour the reference reproduces). */
  adapter?: string;
  /** The personality of the log's setup, if any. */
  personality?: string;
}

/** A contract-monitor rule name (docs/contract.md): what a `contract` signature must name. */
const MONITOR_RULE = /^R\d+$/;

/** A known-signature folder that cannot be used: the message is one line. */
export class KnownSignatureError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'KnownSignatureError';
  }
}

/**
 * Every known signature under `dirs` (JSON op logs, recursively). A log without an expected
 * failure defines nothing and is refused: a known signature is a failure.
 */
export function loadKnownSignatures(dirs: readonly string[]): KnownSignature[] {
  const out: KnownSignature[] = [];
  for (const dir of dirs) {
    if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) throw new KnownSignatureError(`known-signature folder ${dir}: not a directory`);
    for (const file of filesUnder(dir, /\.json$/)) {
      let log: OpLog;
      try {
        log = parseJsonLog(fs.readFileSync(file, 'utf8'), file);
      } catch (e) {
        if (e instanceof OpLogError) throw new KnownSignatureError(`known signature ${e.message}`);
        throw e;
      }
      const exp = log.expected;
      if (exp === undefined || exp.outcome !== 'fail') throw new KnownSignatureError(`known signature ${file}: the log has no expected failure ("expected": {"outcome": "fail", ...})`);
      // A contract finding has no errno: the rule the monitor saw broken is what identifies it.
      if (exp.kind === 'contract' && !MONITOR_RULE.test(exp.rule ?? '')) {
        throw new KnownSignatureError(`known signature ${file}: a contract failure must name the monitor rule it breaks ("rule": "R33", not ${JSON.stringify(exp.rule ?? null)})`);
      }
      const k: KnownSignature = { signature: failureSignature(exp.kind, exp.rule, log, exp.errno), file, note: log.description ?? '' };
      if (log.adapter !== '') k.adapter = log.adapter;
      if (log.setup?.personality !== undefined) k.personality = log.setup.personality;
      out.push(k);
    }
  }
  return out;
}

/**
 * The known signature a failure's signature matches: the same kind, rule, shape and errno; or a
 * known signature that names no errno (written before known logs recorded one: it matches any).
 * A contract signature (the monitor's rule instead of an errno) matches its rule only.
 */
export function lookupKnown(index: ReadonlyMap<string, KnownSignature>, sig: Signature): KnownSignature | undefined {
  const exact = index.get(signatureText(sig));
  // A contract failure matches only a known one that names the same monitor rule (its text has it).
  if (exact !== undefined || sig.errno === undefined || sig.kind === 'contract') return exact;
  return index.get(signatureText({ kind: sig.kind, rule: sig.rule, shape: sig.shape }));
}

/** Index known signatures by their text for matching. */
export function knownIndex(known: readonly KnownSignature[]): Map<string, KnownSignature> {
  const m = new Map<string, KnownSignature>();
  for (const k of known) if (!m.has(signatureText(k.signature))) m.set(signatureText(k.signature), k);
  return m;
}
