/**
 * Running suites: capability probing (a target lacking what a suite needs is skipped with the
 * reason), fast-check runs per property (deterministic from the seed), and for a failure: the
 * seed and path fast-check needs to replay it, the shrunk counterexample as an op log (JSON, with
 * `expected` set to the failure signature), and an in-process replay of that log without
 * fast-check, which says whether `iomap-harness replay` reproduces the failure from the log alone.
 */
import * as fc from 'fast-check';
import * as fs from 'fs';
import * as path from 'path';
import { AdapterSpecError, loadAdapter, type AdapterOptions } from '../../adapters/registry';
import type { FileAdapter } from '../../adapters/types';
// The contract monitor installs itself as the checker of every monitored mount.
import '../contract/monitor';
import { replayLog } from '../fsx/engine';
import { adapterOptionsOf, Expected, OpLog, serializeOpLog } from '../fsx/oplog';
import { shrinkLog } from '../fsx/shrink';
import { describeSetup, setupArbitrary, sweeps } from '../fsx/sweep';
import type { PropContext, PropertyDef, SuiteDef, SuiteEnv, SuiteFailure, WorkloadOptions } from './types';
import { hasNeed } from './steps';
import { StopWorkload, Workload } from './workload';

export interface RunOptions {
  /** fast-check runs per property (times the property's weight, at least 1). */
  runs: number;
  seed: number;
  /** Directory for counterexample op logs (or a function making one when first needed); null: do not save. */
  saveDir: string | null | (() => string);
  /** Shrink steps at most (fast-check limitShrink). Default 300. */
  maxShrinks?: number;
  /** Replay each saved log in-process to report whether it reproduces the failure. Default true. */
  verifyReplay?: boolean;
  /**
   * When the saved log alone reproduces its failure, also delta-debug it (properties/fsx/shrink)
   * into NAME.min.json. Default false (the CLI turns it on).
   */
  shrinkLogs?: boolean;
  /** Only these properties (names), when given. */
  only?: string[];
  /**
   * The setup sweep (properties/fsx/sweep.ts): each property run draws a setup (block and folio
   * size, post-EOF preallocation, poisoned device, inline data) from what the adapter declares,
   * as part of the fast-check input, so a counterexample shrinks in its setup too. What the
   * property asks for itself and what the command line pins win. Default false here; the `check`
   * command turns it on.
   */
  sweep?: boolean;
  /** Lines for the user (failures, skips). */
  log?: (line: string) => void;
  /** Told before each property runs (the CLI's status line). */
  onProperty?: (name: string, index: number, count: number) => void;
}

export interface ReplayCheck {
  outcome: string;
  op?: number;
  /** Same kind at the same op as the suite saw. */
  same: boolean;
}

export interface PropertyResult {
  name: string;
  section: string;
  runs: number;
  failed: boolean;
  skipped?: string;
  elapsedMs: number;
  /** fast-check's seed and path of the failure (fc.assert(prop, {seed, path}) replays it). */
  seed?: number;
  path?: string;
  shrinks?: number;
  failure?: SuiteFailure;
  /** The saved op log. */
  log?: string;
  /** The shrunk op log (NAME.min.json) and its length, when the log was shrunk. */
  minLog?: string;
  minOps?: number;
  replay?: ReplayCheck;
  /** Steps the op log could not record (writeback, completions, evict, faults, ...). */
  notes?: string[];
  /** The setup of the counterexample, when the sweep drew it (the saved log records it too). */
  setup?: AdapterOptions;
}

export interface SuiteResult {
  name: string;
  area: string;
  sections: string;
  runs: number;
  failures: number;
  skipped?: string;
  elapsedMs: number;
  properties: PropertyResult[];
}

/**
 * An environment for an adapter spec: adapters come from the registry. An exec: server that takes
 * up "reset" serves every run and shrink step of a property (a pool, emptied by release() at the
 * end of each property) instead of a process per run. With `keepServers` (check), the pool lives
 * until close(): one server serves every property and suite of the same geometry, reset between
 * runs like between the runs of one property (starting a server costs more than most runs).
 */
export function registryEnv(spec: string, opts: AdapterOptions = {}, keepServers = false): SuiteEnv {
  const pool = spec.startsWith('exec:') ? newServerPool() : null;
  const load = (o: AdapterOptions): FileAdapter => loadAdapter(spec, pool === null ? o : { ...o, pool });
  return {
    spec,
    opts,
    release: () => {
      if (!keepServers) pool?.closeAll();
    },
    close: () => pool?.closeAll(),
    servers: () => (pool === null ? null : { started: pool.started, reused: pool.reused }),
    create: (o) => {
      try {
        return load(o);
      } catch (e) {
        // A target whose geometry is fixed (a kernel filesystem made by mkfs) refuses a requested
        // block or folio size: run the property at the target's own geometry instead.
        if (e instanceof AdapterSpecError && (o.blockSize !== undefined || o.folioSize !== undefined) && /block size|folio/i.test(e.message)) {
          const { blockSize: _b, folioSize: _f, ...rest } = o;
          return load(rest);
        }
        throw e;
      }
    },
  };
}

class Context implements PropContext {
  readonly workloads: Workload[] = [];
  /** The run's drawn setup (null: no sweep). Applies to workloads on the suite's own environment. */
  constructor(readonly env: SuiteEnv, private readonly setup: AdapterOptions | null = null, private readonly crash = false) {}

  open(opts: AdapterOptions = {}, wo: WorkloadOptions = {}, env?: SuiteEnv): Workload {
    const o = env === undefined && this.setup !== null ? withSetup(this.setup, opts, this.env.opts, this.crash) : opts;
    const w = new Workload(env ?? this.env, o, wo);
    this.workloads.push(w);
    return w;
  }

  closeAll(): void {
    for (const w of this.workloads) w.close();
  }

  failed(): Workload | null {
    return this.workloads.find((w) => w.failure !== null) ?? null;
  }
}

/**
 * A drawn setup under a property's own options (they win) and the command line's (they pin, and
 * the workload applies them last): a drawn folio smaller than the resulting block, or preallocation
 * smaller than it, is left out; so is preallocation for a property that needs power cuts (refs
 * does not cut the power with its written post-EOF preallocation).
 */
export function withSetup(drawn: AdapterOptions, own: AdapterOptions, pinned: AdapterOptions, crash: boolean): AdapterOptions {
  const o: AdapterOptions = { ...drawn, ...own };
  const final = { ...o, ...pinned };
  const bs = (final.blockSize as number | undefined) ?? 4096;
  if (own.folioSize === undefined && final.folioSize !== undefined && (final.folioSize as number) < bs) delete o.folioSize;
  if (own.eofPrealloc === undefined && final.eofPrealloc !== undefined && (crash || (final.eofPrealloc as number) < bs)) delete o.eofPrealloc;
  return o;
}

/** A harness error (not the target's): reported as a crash with its stack. */
class HarnessError extends Error {}

/** Run one input of a property. Returns the context (its workloads closed). */
function runOnce<T>(def: PropertyDef<T>, env: SuiteEnv, input: T, setup: AdapterOptions | null = null): { ctx: Context; error: unknown } {
  const ctx = new Context(env, setup, def.needs?.includes('crash') === true);
  let error: unknown = null;
  try {
    def.run(ctx, input);
  } catch (e) {
    if (!(e instanceof StopWorkload)) error = e;
  } finally {
    ctx.closeAll();
  }
  return { ctx, error };
}

/** Does the environment's adapter honour a requested geometry (and is none forced on it)? */
function geometryHonoured(env: SuiteEnv): boolean {
  if (env.opts.blockSize !== undefined || env.opts.folioSize !== undefined) return false;
  try {
    const a = env.create({ blockSize: 1024, folioSize: 16384 });
    const ok = a.capabilities.blockSize === 1024;
    a.close();
    return ok;
  } catch {
    return false;
  }
}

/** Why the target cannot run a property (or suite), or null. */
export function unmetNeeds(needs: readonly string[], probe: Workload): string | null {
  const missing = needs.filter((n) => (n === 'geometry' ? !geometryHonoured(probe.env) : !hasNeed(probe, n)));
  if (missing.length === 0) return null;
  const why: Record<string, string> = {
    model: 'needs the reference model (a ReferenceTarget: FileHandle, refs counters, invariants)',
    interleave: 'needs FileTarget.interleave (writeback now, completions, evict, the begin/get_folio window)',
    asyncDio: 'needs asynchronous O_DIRECT writes (interleave.directWriteAsync)',
    geometry: 'needs an adapter that honours a requested block and folio size (and no --bs/--folio)',
    crash: 'needs power cuts (FileTarget.crash: the reference adapter over a CrashDevice, for a filesystem that declares itself crash safe)',
    introspect: 'needs the filesystem\'s block-mapping introspection (an exec: fs-level server offers it with the snapshot request)',
    faults: 'needs model-level fault injection (FileTarget.faults: short user copies and capped delalloc reservations inside refs)',
    atomic: 'needs RWF_ATOMIC writes (Capabilities.atomicWrite, O_DIRECT and FileTarget.atomicWrite)',
    dontcache: 'needs RWF_DONTCACHE reads and writes (Capabilities.dontcache, FileTarget.readDontcache/writeDontcache)',
    exchange: 'needs XFS_IOC_EXCHANGE_RANGE (Capabilities.exchangeRange, FileTarget.exchangeRange)',
    deviceFaults: 'needs device faults under the file (FileTarget.deviceFaults: a device the harness owns and a filesystem that can tell which blocks back the file)',
  };
  return missing.map((m) => why[m] ?? (m.startsWith('falloc:') ? `needs fallocate mode ${m.slice(7)}` : `needs capability ${m}`)).join('; ');
}

function expectedOf(f: SuiteFailure | { kind: string; op: number; offset?: number; rule?: string }): Expected | undefined {
  if (f.op < 1) return undefined;
  const e: Expected = { outcome: 'fail', kind: f.kind as Extract<Expected, { outcome: 'fail' }>['kind'], op: f.op };
  if (f.offset !== undefined) e.offset = f.offset;
  if (f.rule !== undefined) e.rule = f.rule;
  return e;
}

const safe = (s: string): string => s.replace(/[^A-Za-z0-9_.-]+/g, '_').replace(/^_+|_+$/g, '').slice(0, 60) || 'x';

/** Replay `log` in-process on a fresh adapter from the workload's environment. */
export function replayInProcess(w: Workload, log: OpLog): { outcome: string; op?: number; failure: { kind: string; op: number; offset?: number; rule?: string } | null } {
  const adapter = w.env.create({ ...adapterOptionsOf(log), ...w.env.opts });
  const quiet = { out: (): void => undefined, err: (): void => undefined };
  const r = replayLog(adapter, w.env.spec, log, { quiet: true, debug: false, logDumpOps: 0 }, quiet);
  if (r.failure === null) return { outcome: 'pass', failure: null };
  return { outcome: r.failure.kind, op: r.failure.op, failure: r.failure };
}

/**
 * Save the failing workload's op log. `expected` is what `iomap-harness replay` will see: the
 * replayed failure when the log alone reproduces one, else the suite's own failure signature.
 */
function saveCounterexample(suite: SuiteDef, def: PropertyDef<never>, w: Workload, o: RunOptions, res: PropertyResult): void {
  const f = w.failure!;
  const notes = w.notes.length > 0 ? ` Steps the op log cannot record: ${w.notes.join('; ')}.` : '';
  const desc = `check: suite ${suite.name}, property ${def.name} (${def.section}); found ${f.kind}${f.rule ? ` (${f.rule})` : ''} at op ${f.op}: ${f.lines[0] ?? ''}.${notes}${w.description ? ` ${w.description}` : ''}`;
  const log = w.log(desc);
  let expected = expectedOf(f);
  if (o.verifyReplay !== false && log.ops.length > 0) {
    try {
      const r = replayInProcess(w, log);
      res.replay = { outcome: r.outcome, same: r.failure !== null && r.failure.kind === f.kind && r.failure.op === f.op };
      if (r.op !== undefined) res.replay.op = r.op;
      if (r.failure !== null) expected = expectedOf(r.failure);
    } catch (e) {
      res.replay = { outcome: `replay error: ${e instanceof Error ? e.message : String(e)}`, same: false };
    }
  }
  if (expected !== undefined) log.expected = expected;
  if (o.saveDir === null) return;
  const dir = typeof o.saveDir === 'function' ? o.saveDir() : o.saveDir;
  if (!fs.existsSync(dir)) fs.mkdirSync(dir);
  const file = path.join(dir, `check-${safe(suite.name)}-${safe(def.name)}-${safe(w.env.spec)}-s${o.seed}.json`);
  fs.writeFileSync(file, serializeOpLog(log));
  res.log = file;
  if (o.shrinkLogs === true && res.replay !== undefined && res.replay.outcome !== 'pass' && !res.replay.outcome.startsWith('replay error')) {
    try {
      const r = shrinkLog(log, { makeAdapter: () => w.env.create({ ...adapterOptionsOf(log), ...w.env.opts }), name: w.env.spec, maxReplays: 3000, maxReplayedOps: 300_000 });
      if (r.failed) {
        const min = file.replace(/\.json$/, '.min.json');
        r.log.description = `${log.description ?? ''} Shrunk from ${r.inputOps} to ${r.outputOps} ops.`.trim();
        fs.writeFileSync(min, serializeOpLog(r.log));
        res.minLog = min;
        res.minOps = r.outputOps;
      }
    } catch {
      // a shrink that cannot run leaves the full log, which is already saved
    }
  }
}

/** A pool of exec: servers (adapters/process), loaded with the exec: adapter only when used. */
function newServerPool(): import('../../adapters/process').ServerPool {
  const { ServerPool } = require('../../adapters/process') as typeof import('../../adapters/process');
  return new ServerPool();
}

/** Run one property with fast-check; the environment's pooled servers are ended after it. */
export function runProperty(suite: SuiteDef, def: PropertyDef<never>, env: SuiteEnv, o: RunOptions, probe: Workload | null): PropertyResult {
  try {
    return runPropertyOnce(suite, def, env, o, probe);
  } finally {
    env.release?.();
  }
}

function runPropertyOnce(suite: SuiteDef, def: PropertyDef<never>, env: SuiteEnv, o: RunOptions, probe: Workload | null): PropertyResult {
  const t0 = performance.now();
  const res: PropertyResult = { name: def.name, section: def.section, runs: 0, failed: false, elapsedMs: 0 };
  const say = o.log ?? (() => undefined);
  if (probe !== null && def.needs !== undefined) {
    const why = unmetNeeds(def.needs, probe);
    if (why !== null) {
      res.skipped = why;
      res.elapsedMs = performance.now() - t0;
      return res;
    }
  }
  const numRuns = Math.max(1, Math.round(o.runs * (def.weight ?? 1)));
  const support = o.sweep === true ? probe?.adapter.setups : undefined;
  // Without the sweep the property's own arbitrary runs as it always did (same inputs, same paths).
  const inputs: fc.Arbitrary<[AdapterOptions | null, never]> = sweeps(support)
    ? fc.tuple(setupArbitrary(support, {}), def.arb(env))
    : def.arb(env).map((x): [AdapterOptions | null, never] => [null, x]);
  const arb = fc.limitShrink(inputs, o.maxShrinks ?? 300);
  const prop = fc.property(arb, ([setup, input]) => {
    const { ctx, error } = runOnce(def, env, input, setup);
    if (error !== null) throw error instanceof Error ? error : new HarnessError(String(error));
    return ctx.failed() === null;
  });
  const details = fc.check(prop, { seed: o.seed, numRuns });
  res.runs = details.numRuns;
  if (!details.failed) {
    res.elapsedMs = performance.now() - t0;
    return res;
  }
  res.failed = true;
  res.seed = details.seed;
  res.path = details.counterexamplePath ?? undefined;
  res.shrinks = details.numShrinks;
  const [setup, input] = fc.cloneIfNeeded(details.counterexample![0]) as [AdapterOptions | null, never];
  if (setup !== null) res.setup = setup;
  const { ctx, error } = runOnce(def, env, input, setup);
  const w = ctx.failed();
  if (w === null) {
    const err = error ?? details.errorInstance;
    const e = err instanceof Error ? err : new Error(String(err));
    res.failure = { kind: 'crash', op: 0, lines: [`harness error in property ${def.name}: ${e.name}: ${e.message}`, ...(e.stack ?? '').split('\n').slice(1, 6)] };
  } else {
    res.failure = w.failure!;
    res.notes = w.notes.slice();
    saveCounterexample(suite, def, w, o, res);
  }
  const f = res.failure;
  say(`FAILED ${suite.name}/${def.name} (${def.section}): ${f.kind}${f.rule ? ` ${f.rule}` : ''} at op ${f.op}`);
  if (res.setup !== undefined) say(`  setup (drawn by the sweep): ${describeSetup(res.setup)}`);
  for (const l of f.lines.slice(0, 12)) say(`  ${l}`);
  say(`  fast-check: seed ${res.seed}, path "${res.path}" after ${res.runs} runs and ${res.shrinks} shrinks (fc.assert(prop, { seed: ${res.seed}, path: "${res.path}" }))`);
  if (res.notes !== undefined && res.notes.length > 0) {
    say('  steps outside the op log:');
    for (const n of res.notes.slice(-8)) say(`    ${n}`);
  }
  if (res.log !== undefined) say(`  counterexample op log: ${res.log} (iomap-harness replay ${res.log})`);
  if (res.minLog !== undefined) say(`  shrunk to ${res.minOps} ops: ${res.minLog}`);
  if (res.replay !== undefined) {
    say(res.replay.same
      ? '  replay without fast-check reproduces it (same kind at the same op)'
      : res.replay.outcome === 'pass'
        ? '  replay of the op log alone passes: the failure needs the steps outside the op log, or a check replay does not make'
        : `  replay of the op log alone fails with ${res.replay.outcome} at op ${res.replay.op} (recorded as the log's expected outcome)`);
  }
  res.elapsedMs = performance.now() - t0;
  return res;
}

/** Run one suite: probe the target, then every property. */
export function runSuite(suite: SuiteDef, env: SuiteEnv, o: RunOptions): SuiteResult {
  const t0 = performance.now();
  const out: SuiteResult = { name: suite.name, area: suite.area, sections: suite.sections, runs: 0, failures: 0, elapsedMs: 0, properties: [] };
  let probe: Workload | null = null;
  try {
    probe = new Workload(env, {}, { invariants: false });
  } catch (e) {
    probe = null;
    out.skipped = `cannot open the target: ${e instanceof Error ? e.message : String(e)}`;
  }
  try {
    if (probe !== null) {
      const why = suite.needs ? unmetNeeds(suite.needs, probe) : null;
      if (why !== null) out.skipped = why;
      probe.close();
    }
    if (out.skipped === undefined) {
      const defs = suite.properties.filter((def) => o.only === undefined || o.only.includes(def.name));
      for (const [i, def] of defs.entries()) {
        o.onProperty?.(def.name, i, defs.length);
        const r = runProperty(suite, def, env, o, probe);
        out.properties.push(r);
        out.runs += r.runs;
        if (r.failed) out.failures++;
      }
      const all = out.properties;
      if (all.length > 0 && all.every((p) => p.skipped !== undefined)) out.skipped = [...new Set(all.map((p) => p.skipped))].join('; ');
    }
  } finally {
    probe?.close();
    // The probe's server, when pooled and no property took it (a skipped suite).
    env.release?.();
  }
  out.elapsedMs = performance.now() - t0;
  return out;
}
