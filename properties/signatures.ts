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
import { KERNEL_RELEASE_RE, OpLog, OpLogError, OpRecord, parseJsonLog } from './fsx/oplog';
import type { KernelEvidence } from '../adapters/types';

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
  /** A family signature (a `.family.json` file): matched by kernel evidence, not by shape. */
  family?: FamilySpec;
  /**
   * The kernel releases the failure was seen on (the file's `kernels`): on a real kernel it
   * matches only one of the same major.minor series (seenOnKernel). Absent: not recorded, any.
   */
  kernels?: string[];
}

/** The major.minor series of a kernel release ("6.18.44-fc-v1272" -> "6.18"), or null. */
export function kernelSeries(release: string): string | null {
  const m = /^(\d+)\.(\d+)/.exec(release);
  return m === null ? null : `${m[1]}.${m[2]}`;
}

/**
 * Whether known signature `k` may match a failure on kernel `release` (null: the target is no
 * real kernel, as the reference, which reproduces a kernel behaviour on purpose whatever it runs
 * on). A bug seen on 6.18 may be fixed, or have another cause, on 6.19: a match there is not a
 * known hit but a new failure, which names the file (docs/corpus.md "Kernels").
 */
export function seenOnKernel(k: KnownSignature, release: string | null): boolean {
  if (release === null || k.kernels === undefined) return true;
  const series = kernelSeries(release);
  return k.kernels.some((r) => kernelSeries(r) === series);
}

/** The format tag of a family known signature file. */
export const FAMILY_FORMAT = 'iomap-harness-known-family';

/** The kernel reports a family signature can name, each with the one op and errno it explains. */
const FAMILY_REPORTS: Record<string, { op: string; errno: string }> = {
  // fs/iomap/direct-io.c, iomap_dio_iter, case IOMAP_DELALLOC: "Direct I/O collision with
  // buffered writes!" and -EIO. adapters/host/kmsg.ts captures it for O_DIRECT reads.
  'iomap-dio-delalloc': { op: 'read_direct', errno: 'EIO' },
};

/**
 * A family known signature (docs/corpus.md "Family signatures"): every failure of `op` with
 * `errno` on filesystem `fs` that the kernel itself reported as `report` in the same op, whatever
 * the ops before it. Only the op that failed and the kernel's record of it decide; no shrink is needed.
 */
export interface FamilySpec {
  family: string;
  kind: 'kernel-report';
  fs: string;
  op: string;
  errno: string;
  report: string;
  /** Where the kernel makes the report (for the reader). */
  kernelFunction: string;
  /** The text of the kernel's report. */
  message: string;
}

const FAMILY_KEYS = ['format', 'version', 'kind', 'family', 'fs', 'kernels', 'op', 'errno', 'report', 'kernelFunction', 'message', 'description'];

/** Parse a family file; throws KnownSignatureError (one line) when malformed. */
export function parseFamily(v: Record<string, unknown>, file: string): { spec: FamilySpec; note: string; kernels: string[] } {
  const bad = (why: string): never => { throw new KnownSignatureError(`known signature ${file}: ${why}`); };
  const extra = Object.keys(v).filter((k) => !FAMILY_KEYS.includes(k));
  if (extra.length > 0) bad(`unknown field ${JSON.stringify(extra[0])} in a family signature (fields: ${FAMILY_KEYS.join(', ')})`);
  if (v.version !== 1) bad(`family signature version ${JSON.stringify(v.version ?? null)} (this harness reads version 1)`);
  if (v.kind !== 'kernel-report') bad(`family signature kind ${JSON.stringify(v.kind ?? null)} (the one kind is "kernel-report")`);
  const str = (k: string): string => {
    const x = v[k];
    return typeof x === 'string' && x.trim() !== '' ? x : bad(`a family signature needs "${k}" (a non-empty string)`);
  };
  const family = str('family');
  if (!/^[a-z0-9][a-z0-9.-]*$/.test(family)) bad(`family name ${JSON.stringify(family)}: lower-case letters, digits, dots and dashes`);
  const report = str('report');
  const known = FAMILY_REPORTS[report];
  if (known === undefined) bad(`kernel report ${JSON.stringify(report)} is not one the harness captures (${Object.keys(FAMILY_REPORTS).join(', ')})`);
  const spec: FamilySpec = {
    family, kind: 'kernel-report', fs: str('fs'), op: str('op'), errno: str('errno'), report, kernelFunction: str('kernelFunction'), message: str('message'),
  };
  if (spec.op !== known.op || spec.errno !== known.errno) bad(`the report ${report} explains ${known.op} failing with ${known.errno}, not ${spec.op} with ${spec.errno}`);
  const kernels = v.kernels;
  if (!Array.isArray(kernels) || kernels.length === 0 || !kernels.every((r) => typeof r === 'string' && KERNEL_RELEASE_RE.test(r))) {
    bad('a family signature needs "kernels": the kernel releases it was seen on (uname -r, major.minor first: ["6.18.44"])');
  }
  return { spec, note: str('description'), kernels: kernels as string[] };
}

/** What a family signature looks at in a failure (properties/fsx/runner.ts Failure, by shape). */
export interface FamilyFailure {
  kind: string;
  rule?: string;
  errno?: string;
  op: number;
  evidence?: KernelEvidence;
}

/**
 * Whether `spec` explains failure `f` of op record `rec` (the failing op of the log). All must hold:
 * the op is the family's (an O_DIRECT read) and failed with its errno, as an op error (fsx: the op
 * had to succeed) or as a diff-result divergence; the target captured the kernel's report of that
 * very op (same offset and length, logged after the op began) on the family's filesystem; and the
 * reference did not fail the op too. A divergence in bytes, size or mapping never matches.
 */
export function familyExplains(spec: FamilySpec, f: FamilyFailure, rec: OpRecord | undefined): boolean {
  const e = f.evidence;
  if (rec === undefined || e === undefined || rec.op !== spec.op || f.errno !== spec.errno) return false;
  if (!(f.kind === 'op-error' || (f.kind === 'divergence' && f.rule === 'diff-result'))) return false;
  return e.report === spec.report && e.fs === spec.fs && e.op === spec.op && e.errno === spec.errno
    && e.off === rec.off && e.len === rec.len && (e.source === 'fiemap' || e.seq > e.since) && e.referenceFailed !== true;
}

/** The family signatures of a known index. */
export function familiesOf(index: ReadonlyMap<string, KnownSignature>): KnownSignature[] {
  return [...index.values()].filter((k) => k.family !== undefined);
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

/** The parsed object of a family signature file (its format tag says so), else null. */
export function familyObject(text: string): Record<string, unknown> | null {
  if (!text.includes(FAMILY_FORMAT)) return null;
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return null; // not JSON: the op-log parser says what is wrong
  }
  return v !== null && typeof v === 'object' && (v as { format?: unknown }).format === FAMILY_FORMAT ? v as Record<string, unknown> : null;
}

/** Whether `file` is a family signature file (no ops: a folder replay passes over it). */
export function isFamilyFile(file: string): boolean {
  return familyObject(fs.readFileSync(file, 'utf8')) !== null;
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
      const text = fs.readFileSync(file, 'utf8');
      const fam = familyObject(text);
      if (fam !== null) {
        const { spec, note, kernels } = parseFamily(fam, file);
        out.push({ signature: { kind: 'family', rule: spec.family, shape: '', errno: spec.errno }, file, note, family: spec, kernels });
        continue;
      }
      let log: OpLog;
      try {
        log = parseJsonLog(text, file);
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
      if (log.kernels !== undefined) k.kernels = log.kernels;
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
  for (const k of known) {
    const t = signatureText(k.signature);
    const had = m.get(t);
    if (had === undefined) {
      m.set(t, k);
    } else if (had.kernels !== undefined) {
      // The same signature in another file, seen on other kernels: one entry for all of them
      // (the first file's name and description), any kernel if that file records none.
      const merged: KnownSignature = { ...had };
      if (k.kernels === undefined) delete merged.kernels;
      else merged.kernels = [...new Set([...had.kernels, ...k.kernels])];
      m.set(t, merged);
    }
  }
  return m;
}
