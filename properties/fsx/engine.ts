/**
 * The fsx loop: generate an op, apply it to target + oracle, check; stop at the first failure.
 * runFsx() fuzzes from a seed; replayLog() applies a saved op log (recorded args used as they are,
 * as fsx --replay-ops does). Both return the same RunResult, and for the same ops the same report.
 */

import { AdapterSpecError } from '../../adapters/registry';
import type { FileAdapter, FileTarget } from '../../adapters/types';
import { installFsMonitorLoader } from '../../adapters/fs-monitor';
import { FsxOptions, Generator, resolveOps, unsupportedOp, validateOptions } from './generator';
import { OpLog, LogOptions, OPLOG_FORMAT, OPLOG_VERSION, bufferFromRecords, recordsFromBuffer, Geometry, Expected, setupOf } from './oplog';
import { FL_CHECK_SHARED, FL_FAULT_AT, FL_RESERVE, FL_SKIPPED, OP_CRASH, OP_FAULT_WRITE, OP_MAPWRITE, OpBuffer, OPS } from './ops';
import { Pattern } from './pattern';
import { CoverageRecorder } from '../coverage/recorder';
import type { CoverageSet } from '../coverage/set';
import { geometryClass } from '../coverage/cells';
import { Guide } from '../coverage/guide';
import { reachableFor } from '../coverage/reachable';
import { formatReport } from './report';
import { contractViolation, Failure, Output, Runner, RunnerConfig, TargetError } from './runner';

export { TargetError };

// The contract monitor is the checker of every monitored mount; its module loads at the first one
// (a naive run mounts nothing and never needs it).
installFsMonitorLoader(() => require('../contract/monitor'));

export interface RunResult {
  /** Ops applied (skipped ones included), up to and including a failing op. */
  ops: number;
  failure: Failure | null;
  /** Failure lines + LOG DUMP; empty when the run passed. */
  report: string[];
  elapsedMs: number;
  opsPerSec: number;
  /** The op log of what ran (built on demand: ops up to the failure, or all). */
  log(): OpLog;
  /** State coverage of the run (fsx runs with guidance or coverage on; null otherwise). */
  coverage: CoverageRecorder | null;
}

export interface RunHooks {
  /** Called every `progressEvery` ops with the number of ops done (progress lines, watchdogs). */
  progress?: (opsDone: number) => void;
  progressEvery?: number;
  /** Receives the runner before the first op (tests use it to read the current op number). */
  runner?: (r: Runner) => void;
  /** Extra geometry recorded in the log (e.g. the folio size the adapter was created with). */
  folioSize?: number;
  /** No "All N operations completed A-OK!" line (the caller prints one for several runs). */
  quietPass?: boolean;
  /**
   * Coverage maps that outlive this run, one per geometry class (the setup sweep's rounds): the
   * run adds to its class's map and guidance reads all of it. Absent: a map of its own.
   */
  coverageSet?: CoverageSet;
  /**
   * Record the map but draw nothing for the guide (the setup sweep's first round in a geometry
   * class: the plain op mix, so guidance aims only at what a class's first round missed).
   */
  unguided?: boolean;
  /**
   * Ops the run did before this one (the setup sweep's earlier rounds): -p counts from the run's
   * start, so an interval longer than a round still prints (op numbers in the lines stay the round's).
   */
  opsBefore?: number;
}

/** A usage problem with the options (exit 2): message is one line. */
export class FsxUsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FsxUsageError';
  }
}

function openTarget(adapter: FileAdapter, name: string): FileTarget {
  try {
    return adapter.open();
  } catch (e) {
    if (e instanceof TargetError || e instanceof AdapterSpecError) throw e;
    throw new TargetError(`adapter ${name}: open() failed: ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`);
  }
}

/**
 * Close (unmount) after the run. A contract violation found there (e.g. by the final writeback) is a
 * failure of the run, charged to the last op; anything else after a failure adds nothing.
 */
function closeAdapter(adapter: FileAdapter, name: string, runner: Runner, ops: number): void {
  try {
    adapter.close();
  } catch (e) {
    const cv = contractViolation(e);
    if (runner.failure === null && cv !== null && ops > 0) {
      runner.failure = { kind: 'contract', rule: cv.rule, op: ops, lines: [`at close (unmount) after op ${ops}:`, ...cv.lines] };
      return;
    }
    if (runner.failure !== null) return;
    if (e instanceof TargetError) throw e;
    throw new TargetError(`adapter ${name}: close() failed: ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`);
  }
}

/** Release the adapter on the way out of an exception (its own error would only hide that one). */
function closeQuietly(adapter: FileAdapter): void {
  try {
    adapter.close();
  } catch {
    // the exception already propagating is the one to report
  }
}

function geometryOf(adapter: FileAdapter, folioSize: number | undefined): Geometry {
  const g: Geometry = { blockSize: adapter.capabilities.blockSize, pageSize: adapter.capabilities.pageSize };
  if (folioSize !== undefined) g.folioSize = folioSize;
  return g;
}

/** The adapter's largest folio when it says (the reference's --folio); else undefined. */
function folioSizeOf(adapter: FileAdapter): number | undefined {
  const f = (adapter as { folioSize?: unknown }).folioSize;
  return typeof f === 'number' && f > 0 ? f : undefined;
}

/** Runner settings: what the log records, plus how much to print. */
function runnerConfig(name: string, lo: LogOptions, show: Pick<RunnerConfig, 'quiet' | 'debug' | 'progressInterval'> & Partial<Pick<RunnerConfig, 'progressBase'>>, trackDurability: boolean, folioSize: number | undefined): RunnerConfig {
  return {
    name,
    folioSize,
    checkInvariants: true,
    trackDurability,
    maxlen: lo.maxlen ?? Number.MAX_SAFE_INTEGER,
    checkFile: lo.checkFile ?? false,
    sizeChecks: lo.sizeChecks ?? true,
    simulatedOps: lo.simulatedOps ?? 0,
    polluteEof: lo.polluteEof ?? false,
    ...show,
  };
}

/** Whether ops [0, count) hold an op with this code that will run. */
function hasOp(buf: OpBuffer, count: number, code: number): boolean {
  for (let i = 0; i < count; i++) if (buf.code[i] === code && (buf.flags[i] & FL_SKIPPED) === 0) return true;
  return false;
}

/**
 * Whether ops [0, count) hold an op judged against the versions since the last fsync (a crash,
 * or a write fault that may lose cached data): the runner then tracks versions.
 */
function hasCrash(buf: OpBuffer, count: number): boolean {
  for (let i = 0; i < count; i++) {
    if ((buf.code[i] === OP_CRASH || buf.code[i] === OP_FAULT_WRITE) && (buf.flags[i] & FL_SKIPPED) === 0) return true;
  }
  return false;
}

function expectedOf(f: Failure | null): Expected {
  if (f === null) return { outcome: 'pass' };
  const e: Expected = { outcome: 'fail', kind: f.kind, op: f.op };
  if (f.offset !== undefined) e.offset = f.offset;
  if (f.rule !== undefined) e.rule = f.rule;
  // A divergence where one side failed keeps that errno: replay and shrink hold the log to it.
  if (f.kind === 'divergence' && f.errno !== undefined) e.errno = f.errno;
  return e;
}

function loop(
  runner: Runner, buf: OpBuffer, total: number, next: ((i: number) => void) | null, hooks: RunHooks,
): { ops: number; elapsedMs: number } {
  const every = hooks.progressEvery ?? 4096;
  const progress = hooks.progress;
  const t0 = performance.now();
  let i = 0;
  for (; i < total; i++) {
    if (next !== null && i >= buf.count) next(i); // a race op comes with its write: two at once
    if (!runner.apply(buf, i)) {
      i++;
      break;
    }
    if (progress !== undefined && (i + 1) % every === 0) progress(i + 1);
  }
  // Every op passed: the checks deferred to the end (Runner.finish) run now, charged to the last op.
  if (runner.failure === null && i > 0) runner.finish();
  return { ops: i, elapsedMs: performance.now() - t0 };
}

function result(
  runner: Runner, buf: OpBuffer, ops: number, elapsedMs: number, logDumpOps: number, makeLog: (count: number, failure: Failure | null) => OpLog,
): RunResult {
  const failure = runner.failure;
  return {
    coverage: runner.coverage,
    ops,
    failure,
    report: failure === null ? [] : formatReport(failure, buf, logDumpOps, runner.polluteEof),
    elapsedMs,
    opsPerSec: elapsedMs > 0 ? Math.round((ops * 1000) / elapsedMs) : 0,
    log: () => makeLog(ops, failure),
  };
}

/**
 * Fuzz `adapter` (opened here, closed at the end) with fsx options `o`. `name` is the adapter spec
 * (recorded in the log and used as fsx's fname). Throws FsxUsageError for bad options.
 */
export function runFsx(adapter: FileAdapter, name: string, given: FsxOptions, io: Output, hooks: RunHooks = {}): RunResult {
  const bad = validateOptions(given);
  if (bad !== null) throw new FsxUsageError(bad);
  const caps = adapter.capabilities;
  if (given.maxlen > caps.maxFileSize) throw new FsxUsageError(`-l ${given.maxlen} is larger than the adapter's maximum file size ${caps.maxFileSize}`);
  const target = openTarget(adapter, name);
  let closed = false;
  try {
    const o = resolvePolluteEof(given, caps, target);
    if (o.direct && !caps.directIO) throw new FsxUsageError(`-Z: adapter ${name} does not support direct I/O`);
    if (o.polluteEof && !(caps.mmap && typeof target.mapwrite === 'function')) throw new FsxUsageError(`-e: adapter ${name} has no mmap stores to pollute the EOF page with`);
    const ops = resolveOps(o, caps, target, name);
    if (!o.quiet) for (const m of ops.messages) io.err(m);
    const cov = o.guide || o.coverage === true ? newCoverage(adapter, target, name, o.seed, hooks.folioSize, hooks.coverageSet) : null;
    const guide = o.guide && cov !== null && hooks.unguided !== true ? new Guide(cov, reachableFor(cov.geometryClass), typeof target.observeStates === 'function') : null;
    const gen = new Generator(o, caps, ops, guide);
    if (gen.totalWeight === 0) throw new FsxUsageError('every op is disabled (weights, flags and adapter capabilities leave nothing to run)');
    const options: LogOptions = {
      maxlen: o.maxlen, checkFile: o.checkFile, sizeChecks: o.sizeChecks, simulatedOps: o.simulatedOps, polluteEof: o.polluteEof,
    };
    // No crash op will run: spare the target the bookkeeping power cuts need.
    if (ops.weights[OP_CRASH] === 0) target.noCrashes?.();
    const runner = new Runner(target, caps, Pattern.forSeed(o.seed), runnerConfig(name, options, { ...o, progressBase: hooks.opsBefore ?? 0 }, ops.weights[OP_CRASH] > 0 || ops.weights[OP_FAULT_WRITE] > 0, folioSizeOf(adapter)), io);
    runner.onUnsupported = (code) => gen.disable(code);
    runner.coverage = cov;
    if (hooks.runner !== undefined) hooks.runner(runner);
    const buf = new OpBuffer(Math.min(Math.max(o.numOps, 16), 1 << 16));
    const fileSize = () => runner.oracle.size;
    const { ops: done, elapsedMs } = loop(runner, buf, o.numOps, () => gen.next(buf, fileSize()), hooks);
    closed = true;
    closeAdapter(adapter, name, runner, done);
    if (cov !== null) finishCoverage(cov, target, gen.weights, done);
    if (runner.failure === null && hooks.quietPass !== true) io.out(`All ${done} operations completed A-OK!`);
    return result(runner, buf, done, elapsedMs, o.logDumpOps, (count, failure) => ({
      format: OPLOG_FORMAT,
      version: OPLOG_VERSION,
      adapter: name,
      geometry: geometryOf(adapter, hooks.folioSize),
      ...(setupOf(adapter) ? { setup: setupOf(adapter) } : {}),
      seed: o.seed,
      options,
      ops: recordsFromBuffer(buf, count),
      expected: expectedOf(failure),
    }));
  } finally {
    target.observeStates?.(null);
    if (!closed) closeQuietly(adapter);
  }
}

/** -e's default ('auto'): EOF pollution wherever the target can store through a mapping. */
function resolvePolluteEof(o: FsxOptions, caps: FileAdapter['capabilities'], t: FileTarget): FsxOptions & { polluteEof: boolean } {
  if (o.polluteEof !== 'auto') return o as FsxOptions & { polluteEof: boolean };
  return { ...o, polluteEof: caps.mmap && typeof t.mapwrite === 'function' };
}

/** A coverage map for a run on `target`, observing the generic layer where the target offers it. */
function newCoverage(adapter: FileAdapter, target: FileTarget, name: string, seed: number, folioSize: number | undefined, set?: CoverageSet): CoverageRecorder {
  const caps = adapter.capabilities;
  const folio = folioSize ?? (adapter as { folioSize?: number }).folioSize ?? caps.pageSize;
  if (set !== undefined) {
    const shared = set.recorderFor(caps, folio, adapter.setup?.eofPrealloc !== undefined);
    target.observeStates?.(shared);
    return shared;
  }
  const cls = geometryClass(caps.blockSize, caps.pageSize, folio, adapter.setup?.eofPrealloc !== undefined);
  const cov = new CoverageRecorder(name, { blockSize: caps.blockSize, pageSize: caps.pageSize, folioSize: folio }, cls, seed);
  target.observeStates?.(cov);
  return cov;
}

/** After the run: which ops could run, how many ran, the contract rules' precondition counts. */
function finishCoverage(cov: CoverageRecorder, target: FileTarget, weights: readonly number[], ops: number): void {
  cov.ops += ops;
  for (let code = 0; code < weights.length; code++) if (weights[code] > 0) cov.enabled[code] = true;
  const rules = target.ruleCounts?.();
  if (rules !== undefined) for (const [k, v] of rules) cov.rules[k] = (cov.rules[k] ?? 0) + v;
}

export interface ReplayOptions {
  quiet: boolean;
  debug: boolean;
  logDumpOps: number;
}

/**
 * Op log v3's faulting and reservation-capped writes need FileTarget.faults. Run as whole writes
 * they would write other bytes than the recorded run, and skipped they would write none: either
 * way the replay would prove nothing, so a target without fault injection refuses the log (exit 2).
 */
function refuseModelSteps(name: string, target: FileTarget, buf: OpBuffer, count: number): void {
  const stores = typeof target.faults?.mapwriteFaulting === 'function';
  if (target.faults !== undefined && stores) return;
  for (let i = 0; i < count; i++) {
    const f = buf.flags[i];
    if ((f & FL_SKIPPED) !== 0 || (f & (FL_FAULT_AT | FL_RESERVE)) === 0) continue;
    if (target.faults !== undefined && !(buf.code[i] === OP_MAPWRITE && (f & FL_FAULT_AT) !== 0)) continue;
    const what = (f & FL_FAULT_AT) !== 0 ? 'faultAt' : 'reserveBlocks';
    throw new AdapterSpecError(`adapter ${name} cannot replay op ${i + 1} (${OPS[buf.code[i]].name} with ${what}): it needs model-level fault injection, which only reference and mutant: targets have`);
  }
}

/** Apply a validated op log to `adapter` (opened here, closed at the end). */
export function replayLog(adapter: FileAdapter, name: string, log: OpLog, ro: ReplayOptions, io: Output, hooks: RunHooks = {}): RunResult {
  return replayBuffer(adapter, name, log, bufferFromRecords(log.ops), log.ops.length, ro, io, hooks);
}

/**
 * Apply ops [0, count) of `buf` (the runner marks skips in it) with the settings of `log` (seed,
 * options; its ops are not read). The shrinker builds such buffers without records.
 */
export function replayBuffer(
  adapter: FileAdapter, name: string, log: OpLog, buf: OpBuffer, count: number, ro: ReplayOptions, io: Output, hooks: RunHooks = {},
): RunResult {
  const caps = adapter.capabilities;
  const lo = log.options ?? {};
  const target = openTarget(adapter, name);
  let closed = false;
  try {
    // Ops this adapter cannot do are skipped, with fsx's start-up message, as fsx's replay does.
    const said = new Set<string>();
    for (let i = 0; i < count; i++) {
      if ((buf.flags[i] & FL_SKIPPED) !== 0) continue;
      const why = unsupportedOp(buf.code[i], buf.flags[i], caps, target);
      if (why === null) continue;
      buf.flags[i] |= FL_SKIPPED;
      if (!ro.quiet && !said.has(why)) io.err(`main: adapter ${name} does not support ${why}, disabling!`);
      said.add(why);
    }
    refuseModelSteps(name, target, buf, count);
    if (!ro.quiet && typeof target.fiemap !== 'function' && buf.flags.subarray(0, count).some((f) => (f & FL_CHECK_SHARED) !== 0)) {
      io.err(`main: adapter ${name} has no FIEMAP: the checkShared checks of clone/dedupe ops are not made`);
    }
    const crashes = hasCrash(buf, count);
    if (!hasOp(buf, count, OP_CRASH)) target.noCrashes?.();
    const runner = new Runner(target, caps, Pattern.forSeed(log.seed), runnerConfig(name, lo, { quiet: ro.quiet, debug: ro.debug, progressInterval: 0 }, crashes, folioSizeOf(adapter)), io);
    if (hooks.runner !== undefined) hooks.runner(runner);
    const { ops: done, elapsedMs } = loop(runner, buf, count, null, hooks);
    closed = true;
    closeAdapter(adapter, name, runner, done);
    return result(runner, buf, done, elapsedMs, ro.logDumpOps, (n, failure) => {
      const out: OpLog = { ...log, adapter: name, ops: recordsFromBuffer(buf, n), expected: expectedOf(failure) };
      return out;
    });
  } finally {
    if (!closed) closeQuietly(adapter);
  }
}
