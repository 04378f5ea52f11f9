/**
 * `--known DIR` for fsx and diff: a soak on a real filesystem is not stopped by the first known
 * kernel bug. Every failure is shrunk and its signature (properties/signatures.ts: kind, rule and
 * the shape of the shrunk op log) looked up in the known-signature folders; a known one is reported
 * as a known hit and fuzzing goes on with the next seed (a fresh file) for the ops that remain; a
 * new one ends the run as any failure does.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { corpusDir } from '../properties/corpus-files';
import { OpLog, parseJsonLog } from '../properties/fsx/oplog';
import { KnownSignature, KnownSignatureError, failureSignature, familiesOf, familyExplains, knownIndex, loadKnownSignatures, lookupKnown, seenOnKernel } from '../properties/signatures';
import type { KernelEvidence } from '../adapters/types';
import type { Failure, Output } from '../properties/fsx/runner';
import { SeedExtras, SeedOutcome, SeedTask, runSeed } from '../properties/fsx/workers';
import { UsageError } from './common';
import { sharedKmsg } from '../adapters/host/kmsg';

export const KNOWN_FLAG = {
  known: {
    type: 'string', multiple: true, value: 'DIR',
    help: 'a known-signature folder (shrunk op logs with an expected failure and a description): failures matching one are reported as known hits and fuzzing goes on past them; repeatable',
  },
} as const;

/** One failure matched to a known signature. */
export interface KnownHit {
  seed: number;
  op: number;
  log: string;
  known: string;
  note: string;
  /** A family signature's hit: the family, and the kernel's record that classified the failure. */
  family?: string;
  evidence?: string;
}

/** The known signatures of the --known folders (null when none were given). */
export function knownFrom(dirs: readonly string[] | undefined): Map<string, KnownSignature> | null {
  if (dirs === undefined || dirs.length === 0) return null;
  try {
    return knownIndex(loadKnownSignatures(dirs));
  } catch (e) {
    if (e instanceof KnownSignatureError) throw new UsageError(e.message);
    throw e;
  }
}

/**
 * The project's documented kernel behaviours that the reference reproduces under `personality`:
 * the logs of corpus/known recorded on the reference with that personality (a real kernel's data
 * loss that the model copies, which the contract monitor reports: docs/host.md). A run of the
 * reference with that personality reports them as known hits and goes on, as --known does. Empty
 * for the generic personality and when the corpus is not installed.
 */
export function builtInKnown(personality: string | undefined): Map<string, KnownSignature> {
  const dir = path.join(corpusDir(), 'known');
  if (personality === undefined || !fs.existsSync(dir)) return new Map();
  return knownIndex(loadKnownSignatures([dir]).filter((k) => k.adapter === 'reference' && k.personality === personality));
}

/** `a` and then the entries of `b` it lacks, as one index (null when both are empty). */
export function mergeKnown(a: Map<string, KnownSignature> | null, b: Map<string, KnownSignature>): Map<string, KnownSignature> | null {
  if (b.size === 0) return a;
  const m = new Map(a ?? []);
  for (const [t, k] of b) if (!m.has(t)) m.set(t, k);
  return m;
}

/**
 * The kernel release a run on `spec` tests (`uname -r`), or null when the target is not a real
 * kernel filesystem (the reference, a mutant, an exec: server): known signatures carry the kernels
 * they were seen on and match only on the same major.minor series (seenOnKernel).
 */
export function runKernel(spec: string): string | null {
  return /(^|:)(host|scratch):/.test(spec) ? os.release() : null;
}

/**
 * The family signature that explains a failure by the kernel evidence the target captured for its
 * op (properties/signatures.ts familyExplains), or null. Asked before the shrink, which it saves.
 * Only the families seen on `kernel`'s series count (null: any).
 */
export function explainingFamily(known: ReadonlyMap<string, KnownSignature>, kernel: string | null = null): (f: Failure, log: OpLog) => string | null {
  const families = familiesOf(known).filter((k) => seenOnKernel(k, kernel));
  return (f, log) => {
    if (f.evidence === undefined) return null;
    const rec = log.ops[f.op - 1];
    const k = families.find((x) => familyExplains(x.family!, f, rec));
    return k === undefined ? null : k.family!.family;
  };
}

/**
 * The known signature a seed's (shrunk) failure matches on `kernel` (null: any kernel), or null
 * (no shrunk log: treated as new).
 */
function matchKnown(out: Omit<SeedOutcome, 'lines'>, known: Map<string, KnownSignature>, kernel: string | null): KnownSignature | null {
  const f = out.summary.failure;
  if (typeof f?.family === 'string') return familiesOf(known).find((k) => k.family!.family === f.family && seenOnKernel(k, kernel)) ?? null;
  const shrunk = f?.shrunk as { log?: string } | undefined;
  if (f === undefined || shrunk?.log === undefined) return null;
  const log = parseJsonLog(fs.readFileSync(shrunk.log, 'utf8'), shrunk.log);
  const sig = failureSignature(String(f.kind), f.rule as string | undefined, log, f.errno as string | undefined);
  const k = lookupKnown(known, sig);
  return k !== undefined && seenOnKernel(k, kernel) ? k : null;
}

/** The family that would explain a seed's failure on any kernel (its saved log has the failing op). */
function familyOnAnyKernel(out: Omit<SeedOutcome, 'lines'>, known: Map<string, KnownSignature>): KnownSignature | null {
  const f = out.summary.failure;
  if (f?.evidence === undefined || typeof f.log !== 'string') return null;
  const log = parseJsonLog(fs.readFileSync(f.log, 'utf8'), f.log);
  const failure = { kind: String(f.kind), rule: f.rule as string | undefined, errno: f.errno as string | undefined, op: Number(f.op), evidence: f.evidence as KernelEvidence };
  return familiesOf(known).find((k) => familyExplains(k.family!, failure, log.ops[failure.op - 1])) ?? null;
}

/**
 * A failure that a known signature would match but for the kernel (seen on another series only)
 * stays a new failure: a known bug of 6.18 on 6.19 is either not fixed or a different bug, which a
 * filesystem developer checks, not skips. Say which file it was, and record it in the summary
 * (failure.knownOnOtherKernel).
 */
function noteOtherKernel(out: Omit<SeedOutcome, 'lines'>, known: Map<string, KnownSignature>, kernel: string, io: Output): void {
  const k = matchKnown(out, known, null) ?? familyOnAnyKernel(out, known);
  if (k === null || out.summary.failure === undefined) return;
  const seen = (k.kernels ?? []).join(', ');
  out.summary.failure.knownOnOtherKernel = { known: k.file, kernels: k.kernels ?? [], kernel };
  io.out(`Known signature (${k.file}) matches this failure but was seen on kernel ${seen} only; this host runs ${kernel}: reported as a new failure (if it is the same bug here, add "${kernel}" to the file's "kernels")`);
}

/**
 * Run `task` from its seed for its -N ops in total: after a failure that matches a known
 * signature, continue with the next seed for the ops left. Returns the last seed's outcome with
 * the ops of every seed added up, and the known hits.
 */
export function runPastKnown(task: SeedTask, known: Map<string, KnownSignature>, io: Output, first: SeedExtras,
  kernel: string | null = runKernel(task.spec)): { out: Omit<SeedOutcome, 'lines'>; hits: KnownHit[] } {
  const hits: KnownHit[] = [];
  let left = task.options.numOps;
  let seed = task.options.seed;
  let ops = 0;
  let elapsedMs = 0;
  let rounds = 0;
  const explained = explainingFamily(known, kernel);
  // Said once per run, not per op: on a real filesystem without a readable kernel log a family
  // hit rests on the FIEMAP probe alone (docs/corpus.md "Family signatures").
  const noLog = familiesOf(known).length > 0 && /(^|:)(host|scratch):/.test(task.spec) ? sharedKmsg().reason : null;
  if (noLog !== null) io.err(`Family known signatures: the kernel log is unreadable (${noLog}); only the FIEMAP probe can show the kernel's delalloc mapping`);
  let extras: SeedExtras = { ...first, explained };
  for (;;) {
    const out = runSeed({ ...task, shrink: true, options: { ...task.options, numOps: left } }, seed, io, extras);
    ops += out.summary.ops;
    extras = { saveDir: first.saveDir, explained, opsBefore: ops };
    left -= out.summary.ops;
    elapsedMs += out.summary.elapsedMs;
    rounds += out.summary.rounds ?? 1;
    const k = out.fatal === undefined ? matchKnown(out, known, kernel) : null;
    if (k === null && out.fatal === undefined && kernel !== null) noteOtherKernel(out, known, kernel, io);
    if (k === null || left <= 0) {
      // The summary describes the whole run, every seed it took: ops, time, speed and rounds.
      out.summary.ops = ops;
      out.summary.elapsedMs = elapsedMs;
      out.summary.opsPerSec = elapsedMs > 0 ? Math.round((ops * 1000) / elapsedMs) : 0;
      if (out.summary.rounds !== undefined || rounds > 1) out.summary.rounds = rounds;
      if (k !== null) {
        out.summary.failures = 0;
        delete out.summary.failure;
      }
      return { out, hits: k === null ? hits : [...hits, hit(seed, out, k)] };
    }
    const h = hit(seed, out, k);
    hits.push(h);
    const what = h.family === undefined ? '' : ` family ${h.family}, by the kernel's report of op ${h.op} (${h.evidence})`;
    io.out(`Known signature (${k.file})${what}: ${shortNote(k.note)}; going on with seed ${(seed + 1) >>> 0} for the ${left} ops left`);
    seed = (seed + 1) >>> 0;
  }
}

/** The first sentence of a known signature's description, at most 200 characters (the file has the rest). */
export function shortNote(note: string): string {
  if (note === '') return 'no description';
  const end = note.search(/\.(\s|$)/);
  const first = end < 0 ? note : note.slice(0, end + 1);
  return first.length <= 200 ? first : `${first.slice(0, 199)}…`;
}

function hit(seed: number, out: Omit<SeedOutcome, 'lines'>, k: KnownSignature): KnownHit {
  const f = out.summary.failure ?? {};
  const h: KnownHit = { seed, op: Number(f.op ?? 0), log: String(f.log ?? ''), known: k.file, note: k.note };
  const e = f.evidence as KernelEvidence | undefined;
  if (k.family !== undefined && e !== undefined) {
    h.family = k.family.family;
    h.evidence = e.source === 'kmsg' ? `kmsg #${e.seq}: ${e.line}` : e.line;
  }
  return h;
}
