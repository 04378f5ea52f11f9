/**
 * `--known DIR` for fsx and diff: a soak on a real filesystem is not stopped by the first known
 * kernel bug. Every failure is shrunk and its signature (properties/signatures.ts: kind, rule and
 * the shape of the shrunk op log) looked up in the known-signature folders; a known one is reported
 * as a known hit and fuzzing goes on with the next seed (a fresh file) for the ops that remain; a
 * new one ends the run as any failure does.
 */
import * as fs from 'fs';
import * as path from 'path';
import { corpusDir } from '../properties/corpus-files';
import { parseJsonLog } from '../properties/fsx/oplog';
import { KnownSignature, KnownSignatureError, failureSignature, knownIndex, loadKnownSignatures, lookupKnown } from '../properties/signatures';
import type { Output } from '../properties/fsx/runner';
import { SeedExtras, SeedOutcome, SeedTask, runSeed } from '../properties/fsx/workers';
import { UsageError } from './common';

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

/** The known signature a seed's (shrunk) failure matches, or null (no shrunk log: treated as new). */
function matchKnown(out: Omit<SeedOutcome, 'lines'>, known: Map<string, KnownSignature>): KnownSignature | null {
  const f = out.summary.failure;
  const shrunk = f?.shrunk as { log?: string } | undefined;
  if (f === undefined || shrunk?.log === undefined) return null;
  const log = parseJsonLog(fs.readFileSync(shrunk.log, 'utf8'), shrunk.log);
  const sig = failureSignature(String(f.kind), f.rule as string | undefined, log, f.errno as string | undefined);
  return lookupKnown(known, sig) ?? null;
}

/**
 * Run `task` from its seed for its -N ops in total: after a failure that matches a known
 * signature, continue with the next seed for the ops left. Returns the last seed's outcome with
 * the ops of every seed added up, and the known hits.
 */
export function runPastKnown(task: SeedTask, known: Map<string, KnownSignature>, io: Output, first: SeedExtras): { out: Omit<SeedOutcome, 'lines'>; hits: KnownHit[] } {
  const hits: KnownHit[] = [];
  let left = task.options.numOps;
  let seed = task.options.seed;
  let ops = 0;
  let elapsedMs = 0;
  let rounds = 0;
  let extras: SeedExtras = first;
  for (;;) {
    const out = runSeed({ ...task, shrink: true, options: { ...task.options, numOps: left } }, seed, io, extras);
    extras = { saveDir: first.saveDir };
    ops += out.summary.ops;
    left -= out.summary.ops;
    elapsedMs += out.summary.elapsedMs;
    rounds += out.summary.rounds ?? 1;
    const k = out.fatal === undefined ? matchKnown(out, known) : null;
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
    hits.push(hit(seed, out, k));
    io.out(`Known signature (${k.file}): ${shortNote(k.note)}; going on with seed ${(seed + 1) >>> 0} for the ${left} ops left`);
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
  return { seed, op: Number(f.op ?? 0), log: String(f.log ?? ''), known: k.file, note: k.note };
}
