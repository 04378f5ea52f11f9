/**
 * fsx campaigns: one fsx run per seed, for many seeds, in worker threads (`fsx -j N`) and split
 * across machines (`fsx --shard K/N`); docs/fsx.md "Campaigns".
 *
 * A campaign is the seeds S, S+1, ..., S+M-1 (`-S S --seeds M`); every seed is a whole fsx run of
 * -N ops with the same options, so a seed's result does not depend on how the campaign is split.
 * `--shard K/N` runs the seeds whose index i (0-based, seed = S+i) has i mod N = K-1; `-j J`
 * runs them on J worker threads, each taking the next seed when it is free. Results are merged
 * by seed: runSeed() is the unit, and its SeedSummary is what the JSON summary lists.
 *
 * runSeed() is also the single-seed path of the fsx command (in the calling thread).
 */

import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { isMainThread, parentPort, Worker, workerData } from 'worker_threads';
import { AdapterOptions, AdapterSpecError, loadAdapter } from '../../adapters/registry';
import { WATCHDOG_KEY, watchWorkers, workerWatchdogState } from '../../adapters/watchdog';

/**
 * V8 heap limits of each fsx worker thread. A young generation of 8 MiB (V8 sizes it larger by
 * default) made `-j 2` about 8 % cheaper in CPU per op (node dist/bench/workers.js, five
 * interleaved pairs, docs/benchmarks.md): the model allocates many short-lived objects per op,
 * and smaller scavenges stay in the CPU caches. V8 flags such as --single-threaded-gc cannot be
 * set per worker (they are per process; set at run time they crash V8).
 */
const WORKER_LIMITS = { maxYoungGenerationSizeMb: 8 };
import type { FileAdapter, SetupSupport } from '../../adapters/types';
import { FsxUsageError, RunHooks, RunResult, runFsx, TargetError } from './engine';
import type { FsxOptions } from './generator';
import { OpLog, serializeOpLog, toFsxops } from './oplog';
import type { Failure, Output } from './runner';
import { shrinkLog, ShrinkResult } from './shrink';
import { ClassReach, describeSetup, roundSeed, roundSizes, sweeps, SweepPins, SweepSchedule } from './sweep';
import type { CoverageJson } from '../coverage/recorder';
import { CoverageSet } from '../coverage/set';
import { reachableFor, summarize } from '../coverage/reachable';
import { formatCoverage } from '../coverage/table';

/** Everything a seed's run needs (structured-cloneable: it crosses to worker threads). */
export interface SeedTask {
  /** Adapter spec (`reference`, `mutant:NAME`, a module path, ...). */
  spec: string;
  adapterOptions: AdapterOptions;
  /** fsx options; `seed` is set per task. */
  options: FsxOptions;
  /** Where a failing seed's op log goes. */
  saveDir: string;
  /** Shrink a failure and save the minimal log next to the full one. */
  shrink: boolean;
  /**
   * The setup sweep (sweep.ts): each seed draws its setup from what the adapter declares, the
   * pinned knobs kept. Absent: the adapter is created with `adapterOptions` as they are.
   */
  sweep?: SweepPins;
  /** Ops per setup round of the sweep (default SETUP_ROUND_OPS). */
  roundOps?: number;
  /** The saved log's description (e.g. how a module adapter was given on the command line). */
  description?: string;
}

/** A seed's result, as the JSON summary lists it. */
export interface SeedSummary {
  seed: number;
  ops: number;
  failures: number;
  opsPerSec: number;
  elapsedMs: number;
  /** The setup the seed ran with (adapter options; the last round's), when the sweep drew it. */
  setup?: AdapterOptions;
  /** Setup rounds run (the sweep changes the setup every SETUP_ROUND_OPS ops), when more than one. */
  rounds?: number;
  failure?: Record<string, unknown>;
  /** With --coverage: the coverage figure and where its JSON went. */
  coverage?: { geometryClass: string; ops: number; json: string; table?: string; reached?: number; reachable?: number; percent?: number }[];
}

/** What runSeed() returns: the summary, the lines it printed, and the exit code it implies. */
export interface SeedOutcome {
  summary: SeedSummary;
  /** The engine's lines (stdout / stderr), in order, tagged. */
  lines: { err: boolean; text: string }[];
  crashed: boolean;
  /** A problem that ends the whole command: a usage error (exit 2) or the target failing to open (exit 3). */
  fatal?: { usage: boolean; message: string };
  /** With --coverage: the run's coverage maps, one per geometry class (campaigns merge them). */
  coverage?: CoverageJson[];
  /**
   * CPU milliseconds of the thread that ran the seed (a worker's own thread: its JavaScript and
   * the garbage collection done on it, not V8's helper threads), where Linux tells (-1 else).
   */
  threadCpuMs?: number;
}

/** CPU milliseconds the calling thread has used (/proc/thread-self/stat), or -1 off Linux. */
export function threadCpuMs(): number {
  try {
    const stat = fs.readFileSync('/proc/thread-self/stat', 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) * 10; // clock ticks of 10 ms (USER_HZ 100)
  } catch {
    return -1;
  }
}

function safeName(spec: string): string {
  // A module adapter is named by its file (its absolute path would make an unreadable file name).
  const s = /^[a-z]+:/.test(spec) || !/[\\/]/.test(spec) ? spec : path.basename(spec).replace(/\.c?js$/, '');
  return s.replace(/[^A-Za-z0-9_.-]+/g, '_').replace(/^[._]+/, '') || 'adapter';
}

/** Save a log as BASE.json + BASE.fsxops; returns the JSON path. */
export function saveLogFiles(base: string, log: OpLog): string {
  fs.writeFileSync(base + '.json', serializeOpLog(log));
  fs.writeFileSync(base + '.fsxops', toFsxops(log));
  return base + '.json';
}

/**
 * Save a failing run's log in its folder (made if missing); when that fails (a full disk, a folder
 * that cannot hold files) save it in a new temporary folder and say so: a found failure is never lost.
 */
function saveFailure(base: () => string, name: string, log: OpLog, io: Output): string {
  try {
    const b = base();
    if (!fs.existsSync(path.dirname(b))) fs.mkdirSync(path.dirname(b)); // one level: the CLI made the rest
    return saveLogFiles(b, log);
  } catch (e) {
    const alt = path.join(tempSaveDir(), name);
    io.err(`cannot save the op log where asked (${(e as { code?: string }).code ?? String(e)}); saving it in ${path.dirname(alt)} instead`);
    return saveLogFiles(alt, log);
  }
}

/** Extras for a seed run in the calling thread. */
export interface SeedExtras {
  /** Progress hooks. */
  hooks?: RunHooks;
  /** The adapter for the run (else one is created from the task). */
  first?: FileAdapter;
  /** The directory to save a failure (or a coverage map) in, asked only when there is one (else task.saveDir). */
  saveDir?: () => string;
  /** false: do not print the coverage table (a campaign prints the merged one). */
  printCoverage?: boolean;
  /**
   * A failure this names a family known signature for (by the kernel evidence the target captured:
   * cli/known.ts) is classified without a shrink: the summary's failure gets `family`, and no
   * shrunk log is made.
   */
  explained?: (failure: Failure, log: OpLog) => string | null;
  /** Ops the run did before this seed (a `--known` run going on past a hit): -p counts from there. */
  opsBefore?: number;
}

/**
 * One fsx run for `task` with seed `seed`: run, on a failure save the log (and with `shrink` the
 * shrunk one), report through `io` as the single-seed command does. `hooks` (progress) only in
 * the calling thread.
 */
export function runSeed(task: SeedTask, seed: number, io: Output, more: SeedExtras = {}): Omit<SeedOutcome, 'lines'> {
  const o: FsxOptions = { ...task.options, seed };
  let first = more.first;
  let support: SetupSupport | undefined;
  try {
    if (task.sweep !== undefined) {
      // The adapter says what it can be created with; each round of the seed picks among that.
      const probe = first ?? loadAdapter(task.spec, task.adapterOptions);
      if (sweeps(probe.setups)) {
        support = probe.setups;
        probe.close();
        first = undefined;
      } else {
        first = probe;
      }
    }
  } catch (e) {
    if (e instanceof AdapterSpecError) return { summary: empty(seed), crashed: false, fatal: { usage: true, message: e.message } };
    throw e;
  }
  // With the sweep, the run is rounds of SETUP_ROUND_OPS ops, each on a fresh target with its
  // own setup and op seed (roundSeed); a failing round's log is self-contained.
  const sizes = support !== undefined ? roundSizes(o.numOps, task.roundOps) : [o.numOps];
  let opts = task.adapterOptions;
  let swept: AdapterOptions | undefined;
  let r: RunResult | undefined;
  let round = 0;
  let total = 0;
  let elapsed = 0;
  // One coverage map per geometry class, kept across the sweep's rounds (guidance reads it too).
  const covSet = o.guide || o.coverage === true ? new CoverageSet(task.spec, seed) : undefined;
  // Rounds past the exploring ones revisit the class furthest from its reachable cells.
  const schedule = support !== undefined ? new SweepSchedule(seed, support, task.sweep!) : undefined;
  for (; round < sizes.length; round++) {
    if (schedule !== undefined) {
      swept = schedule.setup(round);
      opts = { ...task.adapterOptions, ...swept };
      const which = sizes.length > 1 ? ` round ${round + 1}/${sizes.length} (ops ${total + 1}-${total + sizes[round]}, op seed ${roundSeed(seed, round)})` : '';
      if (!o.quiet) io.out(`Setup${which}: ${describeSetup(swept)}`);
    }
    const ro: FsxOptions = { ...o, seed: support !== undefined ? roundSeed(seed, round) : seed, numOps: sizes[round] };
    const done = (more.opsBefore ?? 0) + total;
    // A class's first round is the plain op mix; guidance aims at what it left (docs/fsx.md).
    const hooks: RunHooks = { ...more.hooks, quietPass: sizes.length > 1, coverageSet: covSet, unguided: sizes.length > 1 && schedule !== undefined && !schedule.revisits(round), opsBefore: done };
    if (more.hooks?.progress !== undefined) hooks.progress = (n) => more.hooks!.progress!(done + n);
    try {
      const adapter = (round === 0 ? first : undefined) ?? loadAdapter(task.spec, opts);
      hooks.folioSize = (opts.folioSize as number | undefined) ?? ownFolioSize(adapter);
      r = runFsx(adapter, task.spec, ro, io, hooks);
    } catch (e) {
      if (e instanceof FsxUsageError) return { summary: empty(seed), crashed: false, fatal: { usage: true, message: `fsx: ${e.message}` } };
      if (e instanceof TargetError) return { summary: empty(seed), crashed: true, fatal: { usage: false, message: e.message } };
      if (e instanceof AdapterSpecError) return { summary: empty(seed), crashed: false, fatal: { usage: true, message: e.message } };
      throw e;
    }
    total += r.ops;
    elapsed += r.elapsedMs;
    if (r.failure !== null) break;
    schedule?.done(round, classReach(covSet, schedule.classOf(round)));
  }
  if (r === undefined) throw new Error('fsx: no round ran');
  if (sizes.length > 1 && r.failure === null) io.out(`All ${total} operations completed A-OK!`);
  const roundOpts = opts;
  const make = () => loadAdapter(task.spec, roundOpts);
  const summary: SeedSummary = {
    seed, ops: total, failures: r.failure === null ? 0 : 1, opsPerSec: elapsed > 0 ? Math.round((total * 1000) / elapsed) : 0, elapsedMs: Math.round(elapsed),
  };
  if (swept !== undefined) summary.setup = swept;
  if (sizes.length > 1) summary.rounds = Math.min(round + 1, sizes.length);
  const saveDir = (): string => more.saveDir?.() ?? task.saveDir;
  const covJson = o.coverage === true && covSet !== undefined ? saveCoverage(covSet, saveDir(), `fsx-${safeName(task.spec)}-s${seed}`, summary, io, more.printCoverage !== false) : undefined;
  if (r.failure === null) return { summary, crashed: false, coverage: covJson };
  for (const l of r.report) io.out(l);
  if (r.failure.stack !== undefined && o.debug) io.err(r.failure.stack);
  const roundName = summary.rounds !== undefined && round > 0 ? `-round${round + 1}` : '';
  const name = `fsx-${safeName(task.spec)}-s${seed}${roundName}-op${r.failure.op}`;
  const log = task.description === undefined ? r.log() : { ...r.log(), description: task.description };
  const saved = saveFailure(() => path.join(saveDir(), name), name, log, io);
  const base = saved.replace(/\.json$/, '');
  io.out(`Log of operations saved to "${saved}"; replay with: iomap-harness replay ${saved}`);
  const f: Record<string, unknown> = { kind: r.failure.kind };
  if (summary.rounds !== undefined) {
    // Op numbers are the round's (its log replays alone); opsToDetect counts from the run's start.
    f.round = round + 1;
    f.opsToDetect = total;
  }
  if (r.failure.rule !== undefined) f.rule = r.failure.rule;
  if (r.failure.errno !== undefined) f.errno = r.failure.errno;
  if (r.failure.offset !== undefined) f.offset = r.failure.offset;
  f.op = r.failure.op;
  f.log = saved;
  if (r.failure.evidence !== undefined) f.evidence = r.failure.evidence;
  const family = more.explained?.(r.failure, log) ?? null;
  if (family !== null) f.family = family;
  if (task.shrink && family === null) {
    // The detection stands whatever the shrink does: a shrink that cannot finish is reported in
    // the summary (shrunk.error) next to the failure it was given.
    let s: ShrinkResult;
    try {
      s = shrinkLog(log, { makeAdapter: make, name: task.spec, trustExpected: true });
    } catch (e) {
      const why = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
      io.out(`Shrink failed: ${why}; the full log above is the reproducer`);
      f.shrunk = { error: why };
      summary.failure = f;
      return { summary, crashed: r.failure.kind === 'crash' || r.failure.kind === 'hang', coverage: covJson };
    }
    if (s.failed) {
      const log: OpLog = {
        ...s.log,
        description: `shrunk by iomap-harness fsx --shrink from ${path.basename(saved)} (${s.inputOps} ops to ${s.outputOps}; signature ${s.signature})`,
      };
      const min = saveLogFiles(`${base}.min`, log);
      io.out(`Shrunk to ${s.outputOps} ops in ${Math.round(s.elapsedMs)} ms (${s.replays} replays); saved to "${min}"; replay with: iomap-harness replay ${min}`);
      f.shrunk = { log: min, ops: s.outputOps, elapsedMs: Math.round(s.elapsedMs) };
    }
  }
  summary.failure = f;
  return { summary, crashed: r.failure.kind === 'crash' || r.failure.kind === 'hang', coverage: covJson };
}

/**
 * --coverage: write the run's maps, one per geometry class the sweep visited, as
 * BASE.coverage.json (one class) or BASE-CLASS.coverage.json, in `dir` (beside the op log a
 * failure saves); print their tables (unless the caller prints merged ones); note the figures.
 */
function saveCoverage(set: CoverageSet, dir: string, base: string, summary: SeedSummary, io: Output, print: boolean): CoverageJson[] {
  const out: CoverageJson[] = [];
  const figures: NonNullable<SeedSummary['coverage']> = [];
  const classes = [...set.byClass.values()].sort((x, y) => y.ops - x.ops);
  for (const cov of classes) {
    const reach = reachableFor(cov.geometryClass);
    const s = summarize(cov, reach);
    const json = cov.toJSON(s);
    const file = path.join(dir, `${base}${classes.length > 1 ? `-${cov.geometryClass.replace('+', '_')}` : ''}.coverage.json`);
    fs.writeFileSync(file, JSON.stringify(json, null, 1) + '\n');
    if (print) for (const l of formatCoverage(cov, reach, s)) io.out(l);
    io.out(`Coverage map saved to "${file}"; see it with: iomap-harness report ${file}`);
    figures.push(s === undefined ? { geometryClass: cov.geometryClass, ops: cov.ops, json: file }
      : { geometryClass: cov.geometryClass, ops: cov.ops, table: s.table, reached: s.reached, reachable: s.reachable, percent: s.percent, json: file });
    out.push(json);
  }
  summary.coverage = figures;
  return out;
}

/** A class's reachable cells reached so far, for the sweep's schedule (undefined: no map or no data). */
function classReach(set: CoverageSet | undefined, cls: string): ClassReach | undefined {
  const rec = set?.byClass.get(cls);
  if (rec === undefined) return undefined;
  const s = summarize(rec, reachableFor(cls));
  return s === undefined ? undefined : { reached: s.reached, reachable: s.reachable };
}

/** The largest folio an adapter was created with, when it says (reference-based adapters do). */
function ownFolioSize(a: FileAdapter): number | undefined {
  const f = (a as { folioSize?: unknown }).folioSize;
  return typeof f === 'number' ? f : undefined;
}

function empty(seed: number): SeedSummary {
  return { seed, ops: 0, failures: 0, opsPerSec: 0, elapsedMs: 0 };
}

/** A runSeed() that collects its lines (worker threads and multi-seed runs). */
export function runSeedCollected(task: SeedTask, seed: number): SeedOutcome {
  const lines: { err: boolean; text: string }[] = [];
  const io: Output = { out: (text) => lines.push({ err: false, text }), err: (text) => lines.push({ err: true, text }) };
  return { ...runSeed(task, seed, io, { printCoverage: false }), lines };
}

/** The seeds of a campaign this shard runs, in order. */
export function shardSeeds(first: number, count: number, shard: { k: number; n: number } | null): number[] {
  const out: number[] = [];
  for (let i = 0; i < count; i++) {
    if (shard !== null && i % shard.n !== shard.k - 1) continue;
    out.push((first + i) >>> 0);
  }
  return out;
}

/** A new temporary directory for failing logs (when --save is not given). */
export function tempSaveDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'iomap-harness-'));
}

interface WorkerRequest {
  seed: number;
}

/** A worker's target call that did not return (the watchdog): the campaign ends, exit 3. */
export class WorkerHang extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'WorkerHang';
  }
}

/** The per-call limit module adapters are watched with (as exec:'s), or null when it is unset or bad (the workers report that). */
function watchdogTimeout(): number | null {
  // The exec: transport is loaded by -j runs only (a single fsx run has no use for it).
  const { defaultTimeout } = require('../../adapters/process/transport') as typeof import('../../adapters/process/transport');
  try {
    return defaultTimeout();
  } catch {
    return null;
  }
}

interface WorkerReply {
  seed: number;
  outcome?: SeedOutcome;
  error?: string;
}

/**
 * Run `seeds` on `workers` threads (each takes the next seed when free). `onResult` gets every
 * outcome as it arrives; the returned list is in seed order. A worker that dies rejects.
 */
export function runSeedsInWorkers(task: SeedTask, seeds: readonly number[], workers: number, onResult?: (o: SeedOutcome) => void): Promise<SeedOutcome[]> {
  const results = new Map<number, SeedOutcome>();
  let next = 0;
  const n = Math.max(1, Math.min(workers, seeds.length));
  return new Promise((resolve, reject) => {
    if (seeds.length === 0) {
      resolve([]);
      return;
    }
    let live = 0;
    let failed = false;
    const pool: Worker[] = [];
    /** The seed each worker runs now (for the watchdog's line). */
    const running: number[] = [];
    // Module adapters' calls are watched from here (adapters/watchdog.ts): a worker's own thread
    // cannot interrupt its hung JavaScript, terminate() from here can.
    const states = Array.from({ length: n }, () => workerWatchdogState());
    let unwatch = (): void => undefined;
    const finish = (err?: Error) => {
      if (failed) return;
      if (err !== undefined) {
        failed = true;
        unwatch();
        for (const w of pool) void w.terminate();
        reject(err);
        return;
      }
      if (results.size === seeds.length) {
        unwatch();
        resolve(seeds.map((s) => results.get(s)!));
      }
    };
    const timeoutMs = watchdogTimeout();
    if (timeoutMs !== null) {
      unwatch = watchWorkers(states, timeoutMs, (i, call) => finish(new WorkerHang(
        `adapter module ${task.spec}: ${call} did not return within ${timeoutMs} ms in worker ${i + 1} (seed ${running[i]}): the target hung `
        + '(the limit is IOMAP_HARNESS_EXEC_TIMEOUT_MS, as for exec: servers)')));
    }
    /** Workers told to stop (no seed left): their exit is not an error. */
    const retired = new Set<Worker>();
    const feed = (w: Worker) => {
      if (next < seeds.length) {
        const req: WorkerRequest = { seed: seeds[next++] };
        running[pool.indexOf(w)] = req.seed;
        w.postMessage(req);
      } else {
        retired.add(w);
        void w.terminate();
      }
    };
    for (let k = 0; k < n; k++) {
      const w = new Worker(__filename, { resourceLimits: WORKER_LIMITS, workerData: { iomapHarnessFsxWorker: true, task, [WATCHDOG_KEY]: states[k] } });
      pool.push(w);
      live++;
      w.on('message', (m: WorkerReply) => {
        if (m.error !== undefined || m.outcome === undefined) {
          finish(new Error(`fsx worker: seed ${m.seed}: ${m.error ?? 'no result'}`));
          return;
        }
        results.set(m.seed, m.outcome);
        onResult?.(m.outcome);
        feed(w);
        finish();
      });
      w.on('error', (e) => finish(e instanceof Error ? e : new Error(String(e))));
      w.on('exit', (code) => {
        live--;
        if (!retired.has(w) && results.size < seeds.length) finish(new Error(`fsx worker exited with code ${code} before its seed finished`));
        else if (live === 0 && results.size < seeds.length) finish(new Error('fsx workers exited before every seed ran'));
      });
      feed(w);
    }
  });
}

// ---- worker thread entry ------------------------------------------------------------------------

if (!isMainThread && (workerData as { iomapHarnessFsxWorker?: boolean } | null)?.iomapHarnessFsxWorker === true) {
  const task = (workerData as { task: SeedTask }).task;
  parentPort!.on('message', (req: WorkerRequest) => {
    let reply: WorkerReply;
    try {
      const c0 = threadCpuMs();
      const outcome = runSeedCollected(task, req.seed);
      outcome.threadCpuMs = c0 < 0 ? -1 : threadCpuMs() - c0;
      reply = { seed: req.seed, outcome };
    } catch (e) {
      reply = { seed: req.seed, error: e instanceof Error ? `${e.name}: ${e.message}` : String(e) };
    }
    parentPort!.postMessage(reply);
  });
}
