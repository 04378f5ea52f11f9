/**
 * The campaign file (`campaign.json`, docs/campaigns.md): what a nightly campaign runs — targets
 * with their options, setups, fsx seeds and op counts or a time budget, check suites, known
 * signature folders, and the job-engine settings `campaign plan` writes into manifests.
 *
 * parseCampaign() validates the whole file up front and names the first bad field in one line
 * (`campaign.json: targets[1].options.blockSize: expected a power of two in [512, 1048576]`), so a
 * typo costs a second on the submitting machine, not a night on a cluster.
 */

import { createHash } from 'crypto';
import * as path from 'path';
import { PERSONALITY_NAMES, PersonalityName } from '../../reference/fs/personality';
import { opByName, OPS } from '../fsx/ops';
import { SUITES } from '../suites/index';

/** A bad campaign file: the message is one line naming the file and the field. */
export class CampaignError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CampaignError';
  }
}

/** Adapter options a target or setup may pin (the same as fsx's --bs/--folio/--poison/--eof-prealloc/--personality). */
export interface SetupOptions {
  blockSize?: number;
  folioSize?: number;
  poison?: number;
  eofPrealloc?: number;
  personality?: PersonalityName;
}

/** The setup options a target must take as given (only reference and its mutants have them). */
export const TARGET_SETUP_KEYS = ['poison', 'eofPrealloc', 'personality'] as const;

export interface CampaignTarget {
  /** Name in reports (default: the adapter spec). Unique in the campaign. */
  name: string;
  /** Adapter spec as the CLI takes it (`reference`, `mutant:NAME`, `./my-fs.js`, `exec:...`, `host:DIR`); a relative module path made absolute. */
  adapter: string;
  /** The spec as the file gives it (the campaign's identity uses it: checkouts differ in path). */
  given: string;
  /** Options every unit of this target gets (a setup's options override them). */
  options: SetupOptions;
}

export interface FsxPlan {
  /** Ops per seed (fsx -N). */
  ops: number;
  /** First seed; seeds are first, first+1, ... */
  firstSeed: number;
  /** Seeds per target and setup; null with a time budget (open-ended). */
  seedCount: number | null;
  /** Shrink every failure (default true): the shrunk log is what signatures and reproducers use. */
  shrink: boolean;
  /** fsx -l, -o. */
  maxlen?: number;
  maxoplen?: number;
  /** Op weights by name (fsx --weight NAME=N; 0 turns an op off). */
  weights: Record<string, number>;
  /** false: fsx --no-interleave. */
  interleave: boolean;
  /** fsx -Z. */
  direct: boolean;
  /** Record state coverage (fsx --coverage; default true): each unit saves its map, the merge unions them. */
  coverage: boolean;
  /** The setup sweep (fsx's default; false: fsx --no-sweep): what a setup does not pin is drawn per seed. */
  sweep: boolean;
}

export interface CheckPlan {
  suites: string[];
  runs: number;
  seeds: number[];
}

/**
 * Kubernetes results in an object store instead of a volume: each pod keeps its shard on an
 * emptyDir and copies it to `url`/RUN_ID/shard-K-of-N with `sync SRC DST` (an rsync-like command:
 * `aws s3 sync`, `gsutil -m rsync -r`, `rclone sync`) every `everySeconds` and at the end; a
 * retried pod first copies back what its run uploaded, and resumes from there.
 */
export interface ObjectStore {
  url: string;
  sync: string;
  everySeconds: number;
}

export interface EngineSettings {
  k8s: { image: string; namespace?: string; resultsClaim: string; objectStore?: ObjectStore; parallelism?: number; cpu: string; memory: string };
  github: { runsOn: string; nodeVersion: string; timeoutMinutes: number; maxParallel?: number };
  slurm: { partition?: string; time: string; cpusPerTask: number; mem: string; results: string };
}

export interface Campaign {
  name: string;
  targets: CampaignTarget[];
  /** Explicit setups, or one empty setup: each target's own defaults (the adapter's sweep when it has one). */
  setups: SetupOptions[];
  /** True when `setups` was not given (the default). */
  defaultSetups: boolean;
  fsx: FsxPlan | null;
  check: CheckPlan | null;
  /** Seconds a shard may spend (with fsx seeds open-ended); null: run every unit. */
  budgetSeconds: number | null;
  /** Known-signature folders, absolute. */
  known: string[];
  engines: EngineSettings;
  /** The file's directory: relative module paths and folders are taken from there. */
  baseDir: string;
}

type Obj = Record<string, unknown>;

const TOP_KEYS = ['name', 'description', 'targets', 'setups', 'fsx', 'check', 'budget', 'known', 'engines'];

class Reader {
  constructor(readonly source: string) {}

  fail(field: string, what: string): never {
    throw new CampaignError(`${this.source}: ${field}: ${what}`);
  }

  obj(v: unknown, field: string, keys: readonly string[]): Obj {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) this.fail(field, 'expected an object');
    for (const k of Object.keys(v)) if (!keys.includes(k)) this.fail(`${field === '' ? '' : field + '.'}${k}`, `unknown field (known: ${keys.join(', ')})`);
    return v as Obj;
  }

  int(v: unknown, field: string, lo: number, hi: number): number {
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < lo || v > hi) this.fail(field, `expected an integer in [${lo}, ${hi}], got ${JSON.stringify(v)}`);
    return v;
  }

  pow2(v: unknown, field: string, lo: number, hi: number): number {
    const n = typeof v === 'number' && Number.isSafeInteger(v) ? v : NaN;
    if (!(n >= lo && n <= hi) || (n & (n - 1)) !== 0) this.fail(field, `expected a power of two in [${lo}, ${hi}], got ${JSON.stringify(v)}`);
    return n;
  }

  str(v: unknown, field: string, pattern?: RegExp, what = 'a non-empty string'): string {
    if (typeof v !== 'string' || v === '' || (pattern !== undefined && !pattern.test(v))) this.fail(field, `expected ${what}, got ${JSON.stringify(v)}`);
    return v;
  }

  bool(v: unknown, field: string): boolean {
    if (typeof v !== 'boolean') this.fail(field, `expected true or false, got ${JSON.stringify(v)}`);
    return v;
  }

  arr(v: unknown, field: string, min = 0): unknown[] {
    if (!Array.isArray(v)) this.fail(field, 'expected an array');
    if (v.length < min) this.fail(field, `expected at least ${min} entr${min === 1 ? 'y' : 'ies'}`);
    return v;
  }
}

const SETUP_KEYS = ['blockSize', 'folioSize', 'poison', 'eofPrealloc', 'personality'];

function readSetup(r: Reader, v: unknown, field: string): SetupOptions {
  const o = r.obj(v, field, SETUP_KEYS);
  const s: SetupOptions = {};
  if (o.blockSize !== undefined) s.blockSize = r.pow2(o.blockSize, `${field}.blockSize`, 512, 1 << 20);
  if (o.folioSize !== undefined) s.folioSize = r.pow2(o.folioSize, `${field}.folioSize`, 4096, 1 << 30);
  if (o.poison !== undefined) s.poison = r.int(o.poison, `${field}.poison`, 0, 0xffffffff);
  if (o.eofPrealloc !== undefined) s.eofPrealloc = r.pow2(o.eofPrealloc, `${field}.eofPrealloc`, 512, 1 << 30);
  if (o.personality !== undefined) {
    s.personality = r.str(o.personality, `${field}.personality`, new RegExp(`^(${PERSONALITY_NAMES.join('|')})$`), `one of ${PERSONALITY_NAMES.join(', ')}`) as PersonalityName;
  }
  if (s.blockSize !== undefined && s.folioSize !== undefined && s.folioSize < s.blockSize) {
    r.fail(`${field}.folioSize`, `${s.folioSize} is smaller than blockSize ${s.blockSize}`);
  }
  return s;
}

/** A module adapter given relative to the campaign file is taken from the file's folder. */
function resolveAdapter(spec: string, baseDir: string): string {
  if (spec.startsWith('./') || spec.startsWith('../')) return path.resolve(baseDir, spec);
  return spec;
}

function readTargets(r: Reader, v: unknown, baseDir: string): CampaignTarget[] {
  const out: CampaignTarget[] = [];
  r.arr(v, 'targets', 1).forEach((t, i) => {
    const f = `targets[${i}]`;
    const o = typeof t === 'string' ? { adapter: t } : r.obj(t, f, ['name', 'adapter', 'options']);
    const adapter = r.str(o.adapter, `${f}.adapter`, undefined, 'an adapter spec (reference, mutant:NAME, ./module.js, exec:CMD, host:DIR)');
    const name = o.name === undefined ? adapter : r.str(o.name, `${f}.name`, /^[A-Za-z0-9:_.-]+$/, 'a name of letters, digits, ":", "_", ".", "-"');
    if (out.some((x) => x.name === name)) r.fail(`${f}.name`, `${JSON.stringify(name)} is used by another target (give each a distinct name)`);
    out.push({ name, adapter: resolveAdapter(adapter, baseDir), given: adapter, options: o.options === undefined ? {} : readSetup(r, o.options, `${f}.options`) });
  });
  return out;
}

function readFsx(r: Reader, v: unknown, budget: boolean): FsxPlan {
  const o = r.obj(v, 'fsx', ['ops', 'seeds', 'shrink', 'maxlen', 'maxoplen', 'weights', 'interleave', 'direct', 'coverage', 'sweep']);
  const ops = o.ops === undefined ? 10000 : r.int(o.ops, 'fsx.ops', 1, 1e9);
  let firstSeed = 1;
  let seedCount: number | null = null;
  if (o.seeds === undefined) {
    if (!budget) r.fail('fsx.seeds', 'required unless a budget is given (e.g. "seeds": {"first": 1, "count": 100} or "budget": {"seconds": 3600})');
  } else {
    const s = r.obj(o.seeds, 'fsx.seeds', ['first', 'count']);
    if (s.first !== undefined) firstSeed = r.int(s.first, 'fsx.seeds.first', 1, 0xffffffff);
    if (s.count !== undefined) seedCount = r.int(s.count, 'fsx.seeds.count', 1, 1 << 24);
    else if (!budget) r.fail('fsx.seeds.count', 'required unless a budget is given');
    if (seedCount !== null && firstSeed + seedCount - 1 > 0xffffffff) r.fail('fsx.seeds.count', 'the last seed would pass 2^32-1');
  }
  const weights: Record<string, number> = {};
  if (o.weights !== undefined) {
    const w = r.obj(o.weights, 'fsx.weights', OPS.map((x) => x.name));
    for (const [k, n] of Object.entries(w)) {
      if (opByName(k) === undefined) r.fail(`fsx.weights.${k}`, 'unknown op');
      weights[k] = r.int(n, `fsx.weights.${k}`, 0, 1000);
    }
  }
  const plan: FsxPlan = {
    ops, firstSeed, seedCount, weights,
    shrink: o.shrink === undefined ? true : r.bool(o.shrink, 'fsx.shrink'),
    interleave: o.interleave === undefined ? true : r.bool(o.interleave, 'fsx.interleave'),
    direct: o.direct === undefined ? false : r.bool(o.direct, 'fsx.direct'),
    coverage: o.coverage === undefined ? true : r.bool(o.coverage, 'fsx.coverage'),
    sweep: o.sweep === undefined ? true : r.bool(o.sweep, 'fsx.sweep'),
  };
  if (o.maxlen !== undefined) plan.maxlen = r.int(o.maxlen, 'fsx.maxlen', 1, 1 << 30);
  if (o.maxoplen !== undefined) plan.maxoplen = r.int(o.maxoplen, 'fsx.maxoplen', 1, 1 << 30);
  return plan;
}

function readCheck(r: Reader, v: unknown): CheckPlan {
  const o = r.obj(v, 'check', ['suites', 'runs', 'seeds']);
  let suites: string[];
  if (o.suites === undefined || o.suites === 'all') suites = SUITES.map((s) => s.name);
  else {
    suites = r.arr(o.suites, 'check.suites', 1).map((s, i) => {
      const n = r.str(s, `check.suites[${i}]`);
      if (!SUITES.some((x) => x.name === n)) r.fail(`check.suites[${i}]`, `unknown suite ${JSON.stringify(n)} (known: ${SUITES.map((x) => x.name).join(', ')})`);
      return n;
    });
    if (new Set(suites).size !== suites.length) r.fail('check.suites', 'a suite is listed twice');
  }
  const runs = o.runs === undefined ? 50 : r.int(o.runs, 'check.runs', 1, 1_000_000);
  const seeds = o.seeds === undefined ? [1] : r.arr(o.seeds, 'check.seeds', 1).map((s, i) => r.int(s, `check.seeds[${i}]`, 0, 0x7fffffff));
  if (new Set(seeds).size !== seeds.length) r.fail('check.seeds', 'a seed is listed twice');
  return { suites, runs, seeds };
}

function readEngines(r: Reader, v: unknown, name: string): EngineSettings {
  const e: EngineSettings = {
    k8s: { image: 'iomap-harness:latest', resultsClaim: 'iomap-harness-results', cpu: '1', memory: '2Gi' },
    github: { runsOn: 'ubuntu-latest', nodeVersion: '20', timeoutMinutes: 360 },
    slurm: { time: '08:00:00', cpusPerTask: 1, mem: '4G', results: `results/${name}` },
  };
  if (v === undefined) return e;
  const o = r.obj(v, 'engines', ['k8s', 'github', 'slurm']);
  const dns = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
  if (o.k8s !== undefined) {
    const k = r.obj(o.k8s, 'engines.k8s', ['image', 'namespace', 'resultsClaim', 'objectStore', 'parallelism', 'cpu', 'memory']);
    if (k.image !== undefined) e.k8s.image = r.str(k.image, 'engines.k8s.image');
    if (k.namespace !== undefined) e.k8s.namespace = r.str(k.namespace, 'engines.k8s.namespace', dns, 'a DNS label');
    if (k.resultsClaim !== undefined) e.k8s.resultsClaim = r.str(k.resultsClaim, 'engines.k8s.resultsClaim', dns, 'a PersistentVolumeClaim name');
    if (k.parallelism !== undefined) e.k8s.parallelism = r.int(k.parallelism, 'engines.k8s.parallelism', 1, 100000);
    if (k.cpu !== undefined) e.k8s.cpu = r.str(k.cpu, 'engines.k8s.cpu', /^\d+(\.\d+)?m?$/, 'a CPU quantity such as "1" or "500m"');
    if (k.memory !== undefined) e.k8s.memory = r.str(k.memory, 'engines.k8s.memory', /^\d+(Ki|Mi|Gi|Ti|K|M|G|T)?$/, 'a memory quantity such as "2Gi"');
    if (k.objectStore !== undefined) {
      if (k.resultsClaim !== undefined) r.fail('engines.k8s.objectStore', 'give resultsClaim (a volume) or objectStore, not both');
      e.k8s.objectStore = readObjectStore(r, k.objectStore);
    }
  }
  if (o.github !== undefined) {
    const g = r.obj(o.github, 'engines.github', ['runsOn', 'nodeVersion', 'timeoutMinutes', 'maxParallel']);
    if (g.runsOn !== undefined) e.github.runsOn = r.str(g.runsOn, 'engines.github.runsOn');
    if (g.nodeVersion !== undefined) e.github.nodeVersion = r.str(g.nodeVersion, 'engines.github.nodeVersion', /^\d+(\.\d+)*$/, 'a Node.js version such as "20"');
    if (g.timeoutMinutes !== undefined) e.github.timeoutMinutes = r.int(g.timeoutMinutes, 'engines.github.timeoutMinutes', 1, 4320);
    if (g.maxParallel !== undefined) e.github.maxParallel = r.int(g.maxParallel, 'engines.github.maxParallel', 1, 256);
  }
  if (o.slurm !== undefined) {
    const s = r.obj(o.slurm, 'engines.slurm', ['partition', 'time', 'cpusPerTask', 'mem', 'results']);
    if (s.partition !== undefined) e.slurm.partition = r.str(s.partition, 'engines.slurm.partition', /^[A-Za-z0-9_.-]+$/, 'a partition name');
    if (s.time !== undefined) e.slurm.time = r.str(s.time, 'engines.slurm.time', /^(\d+-)?\d+(:\d\d){0,2}$/, 'a Slurm time limit such as "08:00:00"');
    if (s.cpusPerTask !== undefined) e.slurm.cpusPerTask = r.int(s.cpusPerTask, 'engines.slurm.cpusPerTask', 1, 1024);
    if (s.mem !== undefined) e.slurm.mem = r.str(s.mem, 'engines.slurm.mem', /^\d+[KMGT]?$/, 'a Slurm memory size such as "4G"');
    if (s.results !== undefined) e.slurm.results = r.str(s.results, 'engines.slurm.results');
  }
  return e;
}

/** The sync commands known for a URL scheme (each takes SRC DST, as rsync does). */
const SYNC_FOR_SCHEME: Record<string, string> = { 's3:': 'aws s3 sync', 'gs:': 'gsutil -m rsync -r' };

function readObjectStore(r: Reader, v: unknown): ObjectStore {
  const f = 'engines.k8s.objectStore';
  const o = r.obj(v, f, ['url', 'sync', 'everySeconds']);
  // Quoted in the pod's shell script: no quotes, spaces, $ or backslashes.
  const url = r.str(o.url, `${f}.url`, /^[a-z][a-z0-9+.-]*:\/\/[^\s"'`$\\]+[^/\s"'`$\\]$/, 'a URL such as "s3://bucket/iomap/nightly" (no trailing "/", quotes or spaces)');
  const scheme = url.slice(0, url.indexOf(':') + 1);
  let sync = SYNC_FOR_SCHEME[scheme];
  if (o.sync !== undefined) sync = r.str(o.sync, `${f}.sync`, /^[A-Za-z0-9_./][^"'`$\\;&|<>\n]*$/, 'a command that takes SRC DST, such as "rclone sync"');
  else if (sync === undefined) r.fail(`${f}.sync`, `required for ${scheme} URLs (a command that takes SRC DST; known without it: s3:, gs:)`);
  const everySeconds = o.everySeconds === undefined ? 300 : r.int(o.everySeconds, `${f}.everySeconds`, 10, 86400);
  return { url, sync, everySeconds };
}

/** Parse and validate a campaign file's text; `file` names it in errors and anchors relative paths. */
export function parseCampaign(text: string, file: string): Campaign {
  const source = path.basename(file);
  const r = new Reader(source);
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new CampaignError(`${source}: not valid JSON: ${(e instanceof Error ? e.message : String(e)).split('\n')[0]}`);
  }
  const o = r.obj(v, '', TOP_KEYS);
  const baseDir = path.dirname(path.resolve(file));
  const name = o.name === undefined ? 'campaign' : r.str(o.name, 'name', /^[a-z0-9]([-a-z0-9]{0,40}[a-z0-9])?$/, 'a lowercase name of letters, digits and "-" (it names jobs and folders)');
  if (o.description !== undefined) r.str(o.description, 'description');
  const targets = readTargets(r, o.targets, baseDir);
  const defaultSetups = o.setups === undefined;
  const setups = defaultSetups ? [{}] : r.arr(o.setups, 'setups', 1).map((s, i) => readSetup(r, s, `setups[${i}]`));
  let budgetSeconds: number | null = null;
  if (o.budget !== undefined) {
    const b = r.obj(o.budget, 'budget', ['seconds']);
    budgetSeconds = r.int(b.seconds, 'budget.seconds', 1, 7 * 24 * 3600);
  }
  const fsx = o.fsx === undefined ? null : readFsx(r, o.fsx, budgetSeconds !== null);
  const check = o.check === undefined ? null : readCheck(r, o.check);
  if (fsx === null && check === null) r.fail('fsx', 'a campaign needs "fsx", "check" or both');
  if (budgetSeconds !== null && fsx === null) r.fail('budget', 'a time budget needs "fsx" (its seeds are what the budget buys)');
  const known = o.known === undefined ? [] : r.arr(o.known, 'known').map((k, i) => path.resolve(baseDir, r.str(k, `known[${i}]`)));
  return { name, targets, setups, defaultSetups, fsx, check, budgetSeconds, known, engines: readEngines(r, o.engines, name), baseDir };
}

/**
 * The campaign's identity: a hash of everything that decides what its units are and do (not the
 * engine settings), so shard folders of one campaign merge and folders of another are refused.
 */
export function campaignId(c: Campaign): string {
  const what = { name: c.name, targets: c.targets.map((t) => ({ name: t.name, adapter: t.given, options: t.options })), setups: c.setups, fsx: c.fsx, check: c.check, budget: c.budgetSeconds };
  return createHash('sha256').update(JSON.stringify(what)).digest('hex').slice(0, 16);
}
