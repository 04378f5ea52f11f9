/**
 * One shard of a campaign, run in this process with the fsx and check engines, into a results
 * folder (docs/campaigns.md "Results folder"):
 *
 *   shard-K-of-N/
 *     shard.json            campaign id, shard, totals, complete: true at the end
 *     campaign.json         the campaign file as it was given
 *     units/ID.json         one per finished unit (written last, by rename: its presence means done)
 *     failures/ID/...       the unit's saved and shrunk op logs and a failure-explorer page each
 *     junit.xml             one test case per unit
 *
 * Resumable and idempotent: a unit's result file appears only when everything else of the unit
 * is on disk, so a shard killed at any moment and started again skips the finished units and
 * runs the rest; a unit run twice writes the same files (every unit is seeded).
 *
 * A run id (the engine's id of one night's job: a Kubernetes Job's uid, a Slurm array job id)
 * tells a retry from a new night in the same folder: a shard folder of the same run resumes, one
 * of an earlier run is cleared and the shard starts afresh, so a results folder can be reused
 * night after night without resuming last night's finished shards.
 */

import * as fs from 'fs';
import * as path from 'path';
import { AdapterSpecError, loadAdapter } from '../../adapters/registry';
import { runSeed, SeedTask } from '../fsx/workers';
import { defaultOptions, FsxOptions, turnOff } from '../fsx/generator';
import { adapterOptionsOf, OpLog, parseJsonLog } from '../fsx/oplog';
import { opByName } from '../fsx/ops';
import { captureReport } from '../report/capture';
import { renderReport } from '../report/html';
import { junitXml, JUnitCase, JUnitSuite } from '../suites/junit';
import { registryEnv, runSuite, suiteByName } from '../suites/index';
import { failureSignature, Signature, signatureId } from '../signatures';
import { Campaign, CampaignError, campaignId, SetupOptions, TARGET_SETUP_KEYS } from './config';
import { Shard, shardUnits, Unit, unitCount, unitOptions } from './units';

export const SHARD_FORMAT = 'iomap-harness-campaign-shard';
export const UNIT_FORMAT = 'iomap-harness-campaign-unit';

/** One failure a unit found. Paths are relative to the shard folder. */
export interface UnitFailure {
  kind: string;
  rule?: string;
  /** The errno of an op-error or divergence, when the run reported one (part of the signature). */
  errno?: string;
  op: number;
  /** The failure's first report line. */
  message: string;
  signature: Signature;
  sigId: string;
  /** check: the property and fast-check's seed and path. */
  property?: string;
  fcSeed?: number;
  fcPath?: string;
  /** The saved op log (the whole run for fsx, the counterexample for check). */
  log?: string;
  /** The reproducer: the shrunk log when there is one, else the saved log. */
  reproducer?: string;
  reproducerOps?: number;
  shrunk: boolean;
  /** The failure-explorer page of the reproducer, or why there is none. */
  report?: string;
  reportError?: string;
}

export interface UnitResult {
  format: typeof UNIT_FORMAT;
  version: 1;
  id: string;
  index: number;
  engine: 'fsx' | 'check';
  target: string;
  adapter: string;
  setupIndex: number;
  setup: SetupOptions;
  seed: number;
  suite?: string;
  status: 'pass' | 'fail' | 'skip';
  skipped?: string;
  /** fsx ops applied (0 for check). */
  ops: number;
  /** check: fast-check runs over the suite's properties. */
  runs: number;
  /** CPU time of this process while the unit ran (user + system), and wall time. */
  cpuMs: number;
  elapsedMs: number;
  failures: UnitFailure[];
  /** The unit's state coverage map (fsx --coverage JSON, relative to the shard folder), when recorded. */
  coverage?: string;
}

export interface ShardInfo {
  format: typeof SHARD_FORMAT;
  version: 1;
  campaign: string;
  campaignId: string;
  shard: Shard;
  /** Every unit of the shard has a result (false while running, or when the budget ended it). */
  complete: boolean;
  /** Units this shard has results for. */
  units: number;
  /** Units of the shard in a campaign with a fixed unit count (null: open-ended, a budget). */
  expectedUnits: number | null;
  /** Units in the whole campaign (null: open-ended). */
  campaignUnits: number | null;
  budgetSeconds: number | null;
  /** Where state coverage comes from, or why the units carry none. */
  coverage: string;
  harness: string;
  /** The engine's id of the run this folder belongs to (campaign run --run-id), when given. */
  runId?: string;
}

/** Per-unit progress for the terminal. */
export interface ShardHooks {
  unitDone?: (r: UnitResult, resumed: boolean) => void;
  /** The folder held an earlier run's results (its run id), cleared before this run starts. */
  cleared?: (oldRunId: string | undefined) => void;
}

export function shardFolderName(s: Shard): string {
  return `shard-${s.k}-of-${s.n}`;
}

function writeAtomic(file: string, text: string): void {
  const tmp = `${file}.tmp-${process.pid}`;
  fs.writeFileSync(tmp, text);
  fs.renameSync(tmp, file);
}

function mkdirp(dir: string): string {
  fs.mkdirSync(dir, { recursive: true });
  return dir;
}

function readJson(file: string): unknown {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch {
    return undefined;
  }
}

/** Units of this shard already finished (results that parse and belong to the campaign's units). */
function finishedUnits(dir: string): Map<string, UnitResult> {
  const out = new Map<string, UnitResult>();
  let names: string[] = [];
  try {
    names = fs.readdirSync(path.join(dir, 'units'));
  } catch {
    return out;
  }
  for (const n of names) {
    if (!n.endsWith('.json')) continue;
    const r = readJson(path.join(dir, 'units', n)) as UnitResult | undefined;
    if (r !== undefined && r.format === UNIT_FORMAT && typeof r.id === 'string') out.set(r.id, r);
  }
  return out;
}

function fsxOptionsOf(c: Campaign, seed: number): FsxOptions {
  const plan = c.fsx!;
  const o = defaultOptions();
  o.numOps = plan.ops;
  o.seed = seed;
  o.quiet = true;
  o.interleave = plan.interleave;
  o.direct = plan.direct;
  o.coverage = plan.coverage;
  if (plan.maxlen !== undefined) o.maxlen = plan.maxlen;
  if (plan.maxoplen !== undefined) o.maxoplen = plan.maxoplen;
  for (const [name, w] of Object.entries(plan.weights)) {
    const code = opByName(name)!.code;
    if (w === 0) turnOff(o.weights, code);
    else o.weights[code] = w;
  }
  return o;
}

function readLog(file: string): OpLog | undefined {
  try {
    return parseJsonLog(fs.readFileSync(file, 'utf8'), file);
  } catch {
    return undefined;
  }
}

/** The failure-explorer page for a reproducer, beside it; the reason when it cannot be made. */
function explorerPage(spec: string, logFile: string, log: OpLog): { report?: string; reportError?: string } {
  if (log.ops.length > 5000) return { reportError: `the reproducer has ${log.ops.length} ops (pages are made for at most 5000)` };
  try {
    const adapter = loadAdapter(spec, adapterOptionsOf(log));
    const out = logFile.replace(/\.json$/, '.html');
    fs.writeFileSync(out, renderReport(captureReport(adapter, spec, log)));
    return { report: out };
  } catch (e) {
    return { reportError: `no failure-explorer page: ${e instanceof Error ? e.message.split('\n')[0] : String(e)}` };
  }
}

/** A failure record from its reproducer (signature, page), paths relative to the shard folder. */
function failureRecord(dir: string, spec: string, base: Omit<UnitFailure, 'signature' | 'sigId' | 'shrunk'>, shrunkFile: string | undefined): UnitFailure {
  const reproducer = shrunkFile ?? base.log;
  const log = reproducer === undefined ? undefined : readLog(reproducer);
  const signature = failureSignature(base.kind, base.rule, log ?? { ops: [] }, base.errno);
  const rel = (p: string | undefined) => (p === undefined ? undefined : path.relative(dir, p));
  const f: UnitFailure = { ...base, signature, sigId: signatureId(signature), shrunk: shrunkFile !== undefined && log !== undefined };
  if (f.rule === undefined) delete f.rule;
  f.log = rel(base.log);
  if (log !== undefined && reproducer !== undefined) {
    f.reproducer = rel(reproducer);
    f.reproducerOps = log.ops.length;
    const page = explorerPage(spec, reproducer, log);
    if (page.report !== undefined) f.report = rel(page.report);
    if (page.reportError !== undefined) f.reportError = page.reportError;
  }
  for (const k of Object.keys(f) as (keyof UnitFailure)[]) if (f[k] === undefined) delete f[k];
  return f;
}

function runFsxUnit(c: Campaign, u: Unit, dir: string, r: UnitResult): void {
  const spec = c.targets[u.target].adapter;
  const unitDir = path.join(dir, 'failures', u.id);
  const opts = unitOptions(c, u);
  const task: SeedTask = { spec, adapterOptions: opts, options: fsxOptionsOf(c, u.seed), saveDir: unitDir, shrink: c.fsx!.shrink };
  // As plain fsx does: the setup sweep draws per seed whatever the target and setup do not pin.
  if (c.fsx!.sweep) {
    task.sweep = {};
    for (const k of ['blockSize', 'folioSize', 'poison', 'eofPrealloc'] as const) if (opts[k] !== undefined) task.sweep[k] = opts[k];
  }
  // The failure report's first two lines (the op, what went wrong) are the failure's message; the
  // rest is in the saved log.
  const head: string[] = [];
  const keep = (l: string): void => { if (head.length < 2 && !l.startsWith('Coverage map saved')) head.push(l.trim()); };
  const out = runSeed(task, u.seed, { out: keep, err: keep }, { saveDir: () => mkdirp(unitDir), printCoverage: false });
  if (out.fatal !== undefined) {
    if (out.fatal.usage) throw new CampaignError(`target ${c.targets[u.target].name}: ${out.fatal.message}`);
    // The target would not open or close: a failure of this unit, with no op log to shrink.
    const signature = failureSignature('crash', undefined, { ops: [] });
    signature.shape = out.fatal.message.replace(/0x[0-9a-f]+|\d+/gi, '#');
    r.failures.push({ kind: 'crash', op: 0, message: out.fatal.message, signature, sigId: signatureId(signature), shrunk: false });
    return;
  }
  r.ops = out.summary.ops;
  const cov = out.summary.coverage;
  // The map of the geometry class that ran most (a swept seed has one per class it visited).
  if (cov !== undefined && cov.length > 0) r.coverage = path.relative(dir, cov[0].json);
  const f = out.summary.failure;
  if (f === undefined) return;
  const shrunk = (f.shrunk as { log?: string } | undefined)?.log;
  const log = f.log as string;
  r.failures.push(failureRecord(dir, spec, {
    kind: String(f.kind), rule: f.rule as string | undefined, op: Number(f.op), ...(typeof f.errno === 'string' ? { errno: f.errno } : {}),
    message: `${f.kind}${f.rule !== undefined ? ` ${f.rule}` : ''} at op ${f.op}${head.length > 0 ? `: ${head.join('; ')}` : ''}`, log,
  }, shrunk));
}

function runCheckUnit(c: Campaign, u: Unit, dir: string, r: UnitResult): void {
  const t = c.targets[u.target];
  const suite = suiteByName(u.suite!)!;
  const unitDir = path.join(dir, 'failures', u.id);
  const res = runSuite(suite, registryEnv(t.adapter, unitOptions(c, u)), {
    runs: c.check!.runs, seed: u.seed, shrinkLogs: true, saveDir: () => mkdirp(unitDir),
  });
  r.runs = res.runs;
  if (res.skipped !== undefined) r.skipped = res.skipped;
  for (const p of res.properties) {
    if (!p.failed || p.failure === undefined) continue;
    const pf = p.failure;
    r.failures.push(failureRecord(dir, t.adapter, {
      kind: pf.kind, rule: pf.rule, op: pf.op, message: `${suite.name}/${p.name}: ${pf.kind}${pf.rule ? ` ${pf.rule}` : ''} at op ${pf.op}: ${pf.lines[0] ?? ''}`,
      property: p.name, fcSeed: p.seed, fcPath: p.path, log: p.log,
    }, p.minLog));
  }
}

/**
 * Why a target cannot run under a setup (a geometry it refuses, a setup option it does not
 * take: only reference and its mutants have a poisoned device, post-EOF preallocation and
 * personalities), or null. The campaign's units for that pair are skipped with this reason: a
 * capability a target lacks is never a target failure.
 */
export function setupProblem(spec: string, opts: SetupOptions): string | null {
  let a;
  try {
    a = loadAdapter(spec, { ...opts });
  } catch (e) {
    if (e instanceof AdapterSpecError) return `the target refuses this setup: ${e.message}`;
    throw e;
  }
  try {
    for (const k of TARGET_SETUP_KEYS) {
      if (opts[k] !== undefined && (a.setup as Record<string, unknown> | undefined)?.[k] !== opts[k]) {
        return `the target has no setup ${k} (only reference and its mutants do)`;
      }
    }
    return null;
  } finally {
    a.close();
  }
}

/** A harness error as a unit failure: kind `harness-error`, its message (numbers as #) as the shape. */
function harnessFailure(e: unknown): UnitFailure {
  const message = e instanceof Error ? `${e.name}: ${e.message.split('\n')[0]}` : String(e);
  const signature = failureSignature('harness-error', undefined, { ops: [] });
  signature.shape = message.replace(/0x[0-9a-f]+|\d+/gi, '#');
  return { kind: 'harness-error', op: 0, message, signature, sigId: signatureId(signature), shrunk: false };
}

/** Run one unit and return its result (not yet written). `skip`: the setup cannot apply (setupProblem). */
export function runUnit(c: Campaign, u: Unit, dir: string, skip: string | null = null): UnitResult {
  const t = c.targets[u.target];
  const r: UnitResult = {
    format: UNIT_FORMAT, version: 1, id: u.id, index: u.index, engine: u.engine, target: t.name, adapter: t.given,
    setupIndex: u.setup, setup: unitOptions(c, u), seed: u.seed, status: 'pass', ops: 0, runs: 0, cpuMs: 0, elapsedMs: 0, failures: [],
  };
  if (u.suite !== undefined) r.suite = u.suite;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  if (skip !== null) r.skipped = skip;
  else {
    try {
      // A rerun of a unit killed half-way starts from a clean failure folder.
      fs.rmSync(path.join(dir, 'failures', u.id), { recursive: true, force: true });
      if (u.engine === 'fsx') runFsxUnit(c, u, dir, r);
      else runCheckUnit(c, u, dir, r);
    } catch (e) {
      if (e instanceof CampaignError) throw e;
      // The harness itself failed on this unit (a shrink that cannot reproduce, a model bug):
      // recorded as the unit's failure, so the night goes on and the merge shows it.
      r.failures.push(harnessFailure(e));
    }
  }
  const cpu = process.cpuUsage(cpu0);
  r.cpuMs = Math.round((cpu.user + cpu.system) / 1000);
  r.elapsedMs = Math.round(performance.now() - t0);
  r.status = r.failures.length > 0 ? 'fail' : r.skipped !== undefined ? 'skip' : 'pass';
  return r;
}

/** The JUnit report of a shard: one suite per target and engine, one case per unit. */
export function shardJunit(name: string, results: readonly UnitResult[]): string {
  const suites = new Map<string, JUnitSuite>();
  for (const r of [...results].sort((a, b) => a.index - b.index)) {
    const key = `${r.target}.${r.engine}`;
    let s = suites.get(key);
    if (s === undefined) suites.set(key, (s = { name: key, time: 0, cases: [] }));
    const c: JUnitCase = {
      classname: key, name: r.engine === 'fsx' ? `fsx seed ${r.seed} setup ${r.setupIndex}` : `${r.suite} seed ${r.seed} setup ${r.setupIndex}`,
      time: r.elapsedMs / 1000,
    };
    if (r.skipped !== undefined && r.failures.length === 0) c.skipped = r.skipped;
    if (r.failures.length > 0) {
      const f = r.failures[0];
      c.failure = {
        message: f.message, type: f.kind,
        text: r.failures.map((x) => `${x.message}\nsignature ${x.sigId}: ${x.signature.kind}|${x.signature.rule}|${x.signature.shape}${x.reproducer ? `\nreproducer: ${x.reproducer}` : ''}`).join('\n\n'),
      };
    }
    s.time += r.elapsedMs / 1000;
    s.cases.push(c);
  }
  return junitXml(name, [...suites.values()]);
}

export interface ShardRun {
  dir: string;
  info: ShardInfo;
  results: UnitResult[];
  /** Units run now (the rest were finished by an earlier run). */
  ran: number;
}

/** What a shard folder holds besides shard.json: cleared when an earlier run's folder is reused. */
const SHARD_CONTENTS = ['units', 'failures', 'junit.xml', 'campaign.json'];

/**
 * Run shard `shard` of `c` into `root`/shard-K-of-N, resuming what an earlier run left. The
 * campaign file's text is copied in. A folder holding another campaign's shard is refused; one
 * holding this shard of another run (`runId` given and different) is cleared first.
 */
export function runShard(c: Campaign, campaignText: string, shard: Shard, root: string, hooks: ShardHooks = {}, harness = '', runId?: string): ShardRun {
  const dir = path.join(root, shardFolderName(shard));
  const id = campaignId(c);
  const infoFile = path.join(dir, 'shard.json');
  const old = readJson(infoFile) as ShardInfo | undefined;
  if (old !== undefined && (old.campaignId !== id || old.shard?.k !== shard.k || old.shard?.n !== shard.n)) {
    throw new CampaignError(`${dir} holds shard ${old.shard?.k}/${old.shard?.n} of campaign ${old.campaign} (${old.campaignId}), not shard ${shard.k}/${shard.n} of ${c.name} (${id}): use another --out`);
  }
  if (old !== undefined && runId !== undefined && old.runId !== runId) {
    // Last night's shard: its results are not this run's to resume. shard.json goes last, so a
    // clear that is itself killed is redone by the next start.
    for (const name of SHARD_CONTENTS) fs.rmSync(path.join(dir, name), { recursive: true, force: true });
    fs.rmSync(infoFile, { force: true });
    hooks.cleared?.(old.runId);
  }
  mkdirp(path.join(dir, 'units'));
  writeAtomic(path.join(dir, 'campaign.json'), campaignText);
  const total = unitCount(c);
  const expectedUnits = total === null ? null : Math.max(0, Math.ceil((total - (shard.k - 1)) / shard.n));
  const info: ShardInfo = {
    format: SHARD_FORMAT, version: 1, campaign: c.name, campaignId: id, shard, complete: false, units: 0, expectedUnits, campaignUnits: total,
    budgetSeconds: c.budgetSeconds,
    coverage: c.fsx?.coverage === true ? 'fsx units record state coverage (fsx --coverage); check units record none' : 'not recorded (fsx.coverage is false, or the campaign has no fsx)',
    harness,
  };
  if (runId !== undefined) info.runId = runId;
  else if (old?.runId !== undefined) info.runId = old.runId;
  const done = finishedUnits(dir);
  info.units = done.size;
  writeAtomic(infoFile, JSON.stringify(info, null, 2) + '\n');

  const results: UnitResult[] = [];
  // The budget counts the time earlier runs of this shard already spent.
  let spentMs = [...done.values()].reduce((t, r) => t + r.elapsedMs, 0);
  let ran = 0;
  let budgetLeft = true;
  const problems = new Map<string, string | null>();
  for (const u of shardUnits(c, shard)) {
    const prev = done.get(u.id);
    if (prev !== undefined) {
      results.push(prev);
      hooks.unitDone?.(prev, true);
      continue;
    }
    if (c.budgetSeconds !== null && spentMs >= c.budgetSeconds * 1000) {
      budgetLeft = false;
      break;
    }
    if (total === null && u.engine === 'fsx' && c.fsx!.seedCount === null && u.seed < c.fsx!.firstSeed) break; // seeds wrapped past 2^32
    const pair = `${u.target}/${u.setup}`;
    if (!problems.has(pair)) problems.set(pair, setupProblem(c.targets[u.target].adapter, unitOptions(c, u)));
    const r = runUnit(c, u, dir, problems.get(pair)!);
    writeAtomic(path.join(dir, 'units', `${u.id}.json`), JSON.stringify(r, null, 1) + '\n');
    results.push(r);
    spentMs += r.elapsedMs;
    ran++;
    hooks.unitDone?.(r, false);
  }
  info.units = results.length;
  info.complete = total !== null || !budgetLeft;
  writeAtomic(path.join(dir, 'junit.xml'), shardJunit(`iomap-harness campaign ${c.name} shard ${shard.k}/${shard.n}`, results));
  writeAtomic(infoFile, JSON.stringify(info, null, 2) + '\n');
  return { dir, info, results, ran };
}
