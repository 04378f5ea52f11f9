/**
 * Saved crash and fault cases (corpus/crash/*.json, corpus/fault/*.json): a minimized workload
 * with its crash state or fault schedule, and what it must do on which adapter.
 *
 *   {
 *     "format": "iomap-harness-case", "version": 1, "kind": "crash" | "fault",
 *     "description": "...",
 *     "workload": {...},                       // CrashWorkload or FaultWorkload (fault steps included)
 *     "crash": {"state": {...}, "window": "last-fsync"},        // kind crash: the failing state
 *     "schedule": {"rules": [...], "injected": [...]},          // kind fault: rules armed, faults seen
 *     "expected": {"passesOn": ["reference"],
 *                  "failsOn": [{"adapter": "mutant:NAME", "signature": {"check": ..., "kind": ..., "file": ...}}]},
 *     "found": {...}                           // how it was found and shrunk (informational)
 *   }
 *
 * Replay: on a passing adapter the whole workload must pass (every crash state of its window, or
 * every fault check); on a failing adapter the recorded crash state (or the fault run) must fail
 * with the recorded signature. Adapters are 'reference' and 'mutant:NAME' (the bug zoo: core
 * switches of reference/bugs.ts, refs switches of RefsBugs): any adapter with the volume capability.
 */
import * as fs from 'fs';
import * as path from 'path';
import { filesUnder } from '../corpus-files';
import type { CrashState } from '../../reference/device/crash';
import type { FaultSpec } from '../../reference/device/fault';
import { mutantByName } from '../../adapters/mutants/catalog';
import '../../adapters/mutants';
import { loadAdapter } from '../../adapters/registry';
import type { FileAdapter } from '../../adapters/types';
import type { VolumeProvider } from '../../adapters/volume';
import {
  CrashWorkload, checkState, executeWorkload, generateWorkload, runWorkload, shrinkWorkload,
} from './crash-harness';
import {
  FaultMode, FaultRunResult, FaultViolationKind, FaultWorkload, faultSignature, generateFaultWorkload, runFaultWorkload,
  shrinkFaultWorkload,
} from './fault';

export const CASE_FORMAT = 'iomap-harness-case';
export const CASE_VERSION = 1;

export interface CaseSignature {
  check: 'crash' | 'fault';
  kind: string;
  file?: string;
}

export interface CaseExpectation {
  passesOn: string[];
  failsOn: Array<{ adapter: string; signature: CaseSignature }>;
}

interface CaseBase {
  format: typeof CASE_FORMAT;
  version: number;
  description?: string;
  expected: CaseExpectation;
  found?: Record<string, unknown>;
}

export interface CrashCase extends CaseBase {
  kind: 'crash';
  workload: CrashWorkload;
  crash: { state: CrashState; window?: 'last-fsync' | 'all' };
}

export interface FaultCase extends CaseBase {
  kind: 'fault';
  workload: FaultWorkload;
  schedule: {
    /** The fault rules the workload arms, with the op that arms each. */
    rules: Array<{ op: number; rule: FaultSpec }>;
    /** The faults injected on the failing run (op, action, kind, device range). */
    injected: Array<{ op: number; action: string; kind: string; off: number; len: number }>;
  };
  /** Known deviations the replay tolerates (see FaultRunOptions.tolerate). */
  tolerate?: FaultViolationKind[];
}

export type SavedCase = CrashCase | FaultCase;

export class CaseError extends Error {}

/* ------------------------------------------------------------------------------------------ */
/* Adapters                                                                                   */
/* ------------------------------------------------------------------------------------------ */

/**
 * Run `fn` with the adapter's volume capability (adapters/volume.ts): the harnesses mount it on
 * their own crash or fault device. Any registered adapter that offers it will do (reference,
 * mutant:NAME, a module: ops table); one without it cannot replay a crash or fault case.
 */
export function withAdapter<T>(adapter: string, fn: (target: VolumeProvider) => T): T {
  let a: FileAdapter;
  try {
    a = loadAdapter(adapter);
  } catch (e) {
    throw new CaseError(`adapter ${JSON.stringify(adapter)}: ${e instanceof Error ? e.message : String(e)}`);
  }
  try {
    if (!a.volume) throw new CaseError(`adapter ${adapter} has no volume capability (a filesystem on a device the harness owns): crash and fault cases cannot run on it`);
    return fn(a.volume);
  } finally {
    a.close();
  }
}

/* ------------------------------------------------------------------------------------------ */
/* Loading and saving                                                                         */
/* ------------------------------------------------------------------------------------------ */

const isObj = (x: unknown): x is Record<string, unknown> => x !== null && typeof x === 'object' && !Array.isArray(x);

/** Parse and validate a case file (strict: wrong format, version, kind or shape is an error). */
export function parseCase(text: string, name = 'case'): SavedCase {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new CaseError(`${name}: not valid JSON: ${e instanceof Error ? e.message : String(e)}`);
  }
  const fail = (what: string): never => {
    throw new CaseError(`${name}: ${what}`);
  };
  if (!isObj(v)) return fail('a case is a JSON object');
  if (v.format !== CASE_FORMAT) fail(`format: expected ${JSON.stringify(CASE_FORMAT)}, got ${JSON.stringify(v.format)}`);
  if (v.version !== CASE_VERSION) fail(`version: unsupported case version ${JSON.stringify(v.version)} (this build reads ${CASE_VERSION})`);
  if (v.kind !== 'crash' && v.kind !== 'fault') fail(`kind: expected "crash" or "fault", got ${JSON.stringify(v.kind)}`);
  const allowed = v.kind === 'crash'
    ? ['format', 'version', 'kind', 'description', 'workload', 'crash', 'expected', 'found']
    : ['format', 'version', 'kind', 'description', 'workload', 'schedule', 'expected', 'found', 'tolerate'];
  for (const k of Object.keys(v)) if (!allowed.includes(k)) fail(`unknown field ${JSON.stringify(k)} (allowed: ${allowed.join(', ')})`);
  const w = v.workload;
  if (!isObj(w) || !Array.isArray(w.ops) || !isObj(w.geometry) || typeof w.seed !== 'number') fail('workload: needs seed, geometry and ops');
  const e = v.expected as Record<string, unknown>;
  if (!isObj(e) || !Array.isArray(e.passesOn) || !Array.isArray(e.failsOn)) fail('expected: needs passesOn and failsOn arrays');
  for (const [i, f] of (e.failsOn as unknown[]).entries()) {
    if (!isObj(f) || typeof f.adapter !== 'string' || !isObj(f.signature) || typeof f.signature.kind !== 'string' ||
      (f.signature.check !== 'crash' && f.signature.check !== 'fault')) {
      fail(`expected.failsOn[${i}]: needs adapter and signature {check, kind}`);
    }
  }
  for (const a of e.passesOn as unknown[]) if (typeof a !== 'string') fail('expected.passesOn: adapter names');
  if (v.kind === 'crash') {
    const c = v.crash;
    if (!isObj(c) || !isObj(c.state) || typeof c.state.point !== 'number' || !Array.isArray(c.state.writes)) fail('crash: needs state {point, writes}');
  } else {
    if (!['write-eio', 'read-eio', 'drop', 'corrupt'].includes(String((w as Record<string, unknown>).mode))) fail('workload.mode: a fault mode');
    const s = v.schedule;
    if (!isObj(s) || !Array.isArray(s.rules) || !Array.isArray(s.injected)) fail('schedule: needs rules and injected arrays');
  }
  return v as unknown as SavedCase;
}

export function loadCase(file: string): SavedCase {
  return parseCase(fs.readFileSync(file, 'utf8'), path.basename(file));
}

/** JSON with a fixed key order and one op per line (diffs well). */
export function serializeCase(c: SavedCase): string {
  const { workload, ...rest } = c;
  const order = ['format', 'version', 'kind', 'description', 'workload', 'crash', 'schedule', 'tolerate', 'expected', 'found'];
  const lines: string[] = ['{'];
  const keys = order.filter((k) => k === 'workload' || (rest as Record<string, unknown>)[k] !== undefined);
  keys.forEach((k, i) => {
    const comma = i < keys.length - 1 ? ',' : '';
    if (k === 'workload') {
      const { ops, ...head } = workload as unknown as { ops: unknown[] } & Record<string, unknown>;
      const h = JSON.stringify(head);
      lines.push(`  "workload": ${h.slice(0, -1)}, "ops": [`);
      ops.forEach((o, j) => lines.push(`    ${JSON.stringify(o)}${j < ops.length - 1 ? ',' : ''}`));
      lines.push(`  ]}${comma}`);
    } else {
      lines.push(`  ${JSON.stringify(k)}: ${JSON.stringify((rest as Record<string, unknown>)[k])}${comma}`);
    }
  });
  lines.push('}');
  const text = lines.join('\n') + '\n';
  parseCase(text, 'serializeCase');
  return text;
}

/** Every case file under a directory (recursively), sorted. */
export function caseFiles(dir: string): string[] {
  return filesUnder(dir, /\.json$/);
}

/* ------------------------------------------------------------------------------------------ */
/* Replay                                                                                     */
/* ------------------------------------------------------------------------------------------ */

export interface ReplayOutcome {
  /** null: passed. */
  signature: CaseSignature | null;
  report: string[];
}

function sameSignature(a: CaseSignature | null, b: CaseSignature): boolean {
  return !!a && a.check === b.check && a.kind === b.kind && (b.file === undefined || a.file === b.file);
}

export function describeSignature(s: CaseSignature | null): string {
  return s ? `${s.check}:${s.kind}${s.file ? `:${s.file}` : ''}` : 'pass';
}

/** A crash case on an adapter: the recorded state first, then (for passing adapters) every state. */
function replayCrash(c: CrashCase, adapter: string, full: boolean): ReplayOutcome {
  return withAdapter(adapter, (target) => {
    const x = executeWorkload(c.workload, { target, window: c.crash.window });
    let valid = true;
    try {
      x.dev.validateState(c.crash.state);
    } catch {
      valid = false;
    }
    if (valid) {
      const v = checkState(x, c.crash.state);
      if (v.length) {
        return {
          signature: { check: 'crash', kind: v[0].kind, ...(v[0].file ? { file: v[0].file } : {}) },
          report: [`recorded state ${x.dev.describeState(c.crash.state)}`, ...v.map((y) => `  ${y.kind} ${y.file}: ${y.message}`)],
        };
      }
    }
    if (!full) return { signature: null, report: [valid ? 'the recorded state passes' : 'the recorded state is not a state of this run'] };
    const r = runWorkload(c.workload, { target, window: c.crash.window, maxFailures: 1 });
    const f = r.failures[0];
    if (!f) return { signature: null, report: [`${r.statesChecked} crash states passed`] };
    const v = f.violations[0];
    return { signature: { check: 'crash', kind: v.kind, ...(v.file ? { file: v.file } : {}) }, report: f.report };
  });
}

function replayFault(c: FaultCase, adapter: string): ReplayOutcome & { run: FaultRunResult } {
  return withAdapter(adapter, (target) => {
    const r = runFaultWorkload(c.workload, { target, tolerate: c.tolerate });
    const s = faultSignature(r);
    return { signature: s ? { check: 'fault', kind: s.kind, ...(s.file ? { file: s.file } : {}) } : null, report: r.report, run: r };
  });
}

/** Replay a case on one adapter. */
export function replayCase(c: SavedCase, adapter: string): ReplayOutcome {
  if (c.kind === 'crash') {
    const failing = c.expected.failsOn.some((f) => f.adapter === adapter);
    return replayCrash(c, adapter, !failing);
  }
  return replayFault(c, adapter);
}

/** Check a case against all its expectations; returns the problems (empty: as recorded). */
export function verifyCase(c: SavedCase): string[] {
  const problems: string[] = [];
  for (const a of c.expected.passesOn) {
    const o = replayCase(c, a);
    if (o.signature) problems.push(`${a}: expected to pass, failed with ${describeSignature(o.signature)}\n${o.report.join('\n')}`);
  }
  for (const f of c.expected.failsOn) {
    const o = replayCase(c, f.adapter);
    if (!sameSignature(o.signature, f.signature)) {
      problems.push(`${f.adapter}: expected ${describeSignature(f.signature)}, got ${describeSignature(o.signature)}\n${o.report.join('\n')}`);
    }
  }
  return problems;
}

/* ------------------------------------------------------------------------------------------ */
/* Hunting: find a mutant with random workloads, shrink, make a case                          */
/* ------------------------------------------------------------------------------------------ */

export interface HuntOptions {
  /** Which suite: the crash harness or a fault mode. */
  suite: 'crash' | FaultMode;
  firstSeed?: number;
  /** Seeds to try (default 200). */
  seeds?: number;
  /** Keep trying after the first find to measure the detection rate (default false). */
  measure?: boolean;
  tolerate?: FaultViolationKind[];
}

export interface HuntResult {
  mutant: string;
  suite: string;
  seedsTried: number;
  /** Workloads that caught the mutant (all of them when measuring, else just the first). */
  caughtSeeds: number[];
  /** Ops executed over the tried workloads, and crash states checked (crash suite). */
  ops: number;
  states: number;
  elapsedMs: number;
  case: SavedCase | null;
  shrunkFrom: number;
  /** Seeds whose failure also happened on the reference (not the mutant's doing). */
  skippedSeeds: number[];
}

/** Search seeds until the mutant is caught, shrink the failing workload and build its case. */
export function huntMutant(mutant: string, o: HuntOptions): HuntResult {
  const t0 = Date.now();
  const adapter = `mutant:${mutant}`;
  const res: HuntResult = {
    mutant, suite: o.suite, seedsTried: 0, caughtSeeds: [], ops: 0, states: 0, elapsedMs: 0, case: null, shrunkFrom: 0, skippedSeeds: [],
  };
  const first = o.firstSeed ?? 1;
  let found: { seed: number; ops: number } | null = null;
  for (let seed = first; seed < first + (o.seeds ?? 200); seed++) {
    res.seedsTried++;
    let failed: boolean;
    let nops: number;
    if (o.suite === 'crash') {
      const w = generateWorkload({ seed });
      const r = withAdapter(adapter, (target) => runWorkload(w, { target, maxFailures: 1 }));
      res.ops += w.ops.length;
      res.states += r.statesChecked;
      failed = r.failures.length > 0;
      nops = w.ops.length;
      if (failed && runWorkload(w, { maxFailures: 1 }).failures.length) {
        res.skippedSeeds.push(seed);
        continue;
      }
    } else {
      const w = generateFaultWorkload({ seed, mode: o.suite });
      const r = withAdapter(adapter, (target) => runFaultWorkload(w, { target, tolerate: o.tolerate }));
      res.ops += r.opsRun;
      failed = r.violations.length > 0;
      nops = w.ops.length;
      if (failed && runFaultWorkload(w, { tolerate: o.tolerate }).violations.length) {
        res.skippedSeeds.push(seed);
        continue;
      }
    }
    if (!failed) continue;
    res.caughtSeeds.push(seed);
    if (!found) found = { seed, ops: nops };
    if (!o.measure) break;
  }
  if (found) {
    res.shrunkFrom = found.ops;
    res.case = o.suite === 'crash' ? crashCaseFor(mutant, found.seed) : faultCaseFor(mutant, found.seed, o.suite, o.tolerate);
    if (res.case && res.case.found) Object.assign(res.case.found, { seedsTriedUntilFound: found.seed - first + 1 });
  }
  res.elapsedMs = Date.now() - t0;
  return res;
}

function crashCaseFor(mutant: string, seed: number): CrashCase | null {
  const adapter = `mutant:${mutant}`;
  const w = generateWorkload({ seed });
  const shrunk = withAdapter(adapter, (target) => shrinkWorkload(w, { target }));
  const r = withAdapter(adapter, (target) => runWorkload(shrunk, { target, maxFailures: 1 }));
  const f = r.failures[0];
  if (!f) return null;
  if (runWorkload(shrunk, {}).failures.length) return null;
  const v = f.violations[0];
  return {
    format: CASE_FORMAT, version: CASE_VERSION, kind: 'crash',
    description: `${adapter}: ${mutantByName(mutant)?.description ?? ''}`,
    workload: shrunk,
    crash: { state: f.state, window: 'last-fsync' },
    expected: {
      passesOn: ['reference'],
      failsOn: [{ adapter, signature: { check: 'crash', kind: v.kind, ...(v.file ? { file: v.file } : {}) } }],
    },
    found: { suite: 'crash harness (generateWorkload)', seed, originalOps: w.ops.length, shrunkOps: shrunk.ops.length, violation: v.message },
  };
}

function faultCaseFor(mutant: string, seed: number, mode: FaultMode, tolerate?: FaultViolationKind[]): FaultCase | null {
  const adapter = `mutant:${mutant}`;
  const w = generateFaultWorkload({ seed, mode });
  const shrunk = withAdapter(adapter, (target) => shrinkFaultWorkload(w, { target, tolerate }));
  const r = withAdapter(adapter, (target) => runFaultWorkload(shrunk, { target, tolerate }));
  const s = faultSignature(r);
  if (!s) return null;
  if (runFaultWorkload(shrunk, { tolerate }).violations.length) return null;
  return {
    format: CASE_FORMAT, version: CASE_VERSION, kind: 'fault',
    description: `${adapter}: ${mutantByName(mutant)?.description ?? ''}`,
    workload: shrunk,
    schedule: scheduleOf(shrunk, r),
    ...(tolerate && tolerate.length ? { tolerate } : {}),
    expected: { passesOn: ['reference'], failsOn: [{ adapter, signature: { check: 'fault', ...s } }] },
    found: { suite: `fault properties (${mode})`, seed, originalOps: w.ops.length, shrunkOps: shrunk.ops.length, violation: r.violations[0].message },
  };
}

/** The fault schedule of a workload and what it injected on a run. */
export function scheduleOf(w: FaultWorkload, r: FaultRunResult): FaultCase['schedule'] {
  const rules: Array<{ op: number; rule: FaultSpec }> = [];
  w.ops.forEach((o, i) => {
    if (o.op === 'fault') rules.push({ op: i, rule: o.rule });
  });
  return { rules, injected: r.injected.map((f) => ({ op: f.op, action: f.action, kind: f.kind, off: f.off, len: f.len })) };
}

/** Shrink a saved case again for its first failing adapter (e.g. after the generator changed). */
export function reshrinkCase(c: SavedCase): SavedCase {
  const target = c.expected.failsOn[0];
  if (!target) return c;
  if (c.kind === 'crash') {
    const shrunk = withAdapter(target.adapter, (target) => shrinkWorkload(c.workload, { target }));
    const r = withAdapter(target.adapter, (target) => runWorkload(shrunk, { target, maxFailures: 1 }));
    if (!r.failures.length) return c;
    return { ...c, workload: shrunk, crash: { ...c.crash, state: r.failures[0].state } };
  }
  const shrunk = withAdapter(target.adapter, (target) => shrinkFaultWorkload(c.workload, { target, tolerate: c.tolerate }));
  const r = withAdapter(target.adapter, (target) => runFaultWorkload(shrunk, { target, tolerate: c.tolerate }));
  return { ...c, workload: shrunk, schedule: scheduleOf(shrunk, r) };
}
