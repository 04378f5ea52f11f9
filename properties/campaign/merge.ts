/**
 * Merging shard results (`campaign merge DIR...`, docs/campaigns.md "Merge and triage"): totals
 * over every unit, failures grouped into distinct failures by target and signature (kind, rule,
 * shape of the shrunk reproducer), each with its count, where it was first found (the campaign's
 * lowest unit, so the answer does not depend on which shard ran first), one reproducer and its
 * failure-explorer page, and whether a known signature matches it.
 *
 * Tolerant by design: shards that are missing are named, a shard folder seen twice (a retried
 * job that uploaded twice, a folder copied by hand) counts once, and a shard that was killed
 * half-way contributes the units it finished.
 */

import * as fs from 'fs';
import * as path from 'path';
import { CoverageRecorder } from '../coverage/recorder';
import { reachableFor, summarize } from '../coverage/reachable';
import { KnownSignature, knownIndex, lookupKnown, Signature } from '../signatures';
import { SHARD_FORMAT, ShardInfo, UNIT_FORMAT, UnitFailure, UnitResult } from './shard';
import type { SetupOptions } from './config';

/** Merge input that cannot be used (exit 2); one line. */
export class MergeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MergeError';
  }
}

export interface ShardFolder {
  dir: string;
  info: ShardInfo;
}

export interface FirstSeen {
  shard: string;
  unit: string;
  engine: 'fsx' | 'check';
  seed: number;
  setup: SetupOptions;
  suite?: string;
  property?: string;
  fcSeed?: number;
  fcPath?: string;
}

export interface DistinctFailure {
  /** `target/sig-...`: unique in the merge. */
  key: string;
  sigId: string;
  target: string;
  adapter: string;
  signature: Signature;
  /** Failures with this signature (a unit finds at most one per fsx seed or check property). */
  count: number;
  first: FirstSeen;
  message: string;
  /** Paths in the merge output folder (copied there), when the shard had them. */
  reproducer?: string;
  reproducerOps?: number;
  shrunk: boolean;
  report?: string;
  reportError?: string;
  known?: { file: string; note: string };
  /** Since when the campaign has found it: the date (UTC) and run of the first merge that had it (carried from the previous merge). */
  since?: { date: string; run?: string };
}

/** What changed since the previous merge of the campaign (merge --previous, or the merge folder's own merged.json). */
export interface History {
  /** The previous merge's date, and its run. */
  previous: { date?: string; run?: string };
  /** Distinct failures this merge has and the previous one had not. */
  appeared: string[];
  /** Distinct failures the previous merge had and this one has not (fixed, or not reached tonight). */
  gone: { key: string; message: string; since?: { date: string; run?: string } }[];
}

/** The union of the units' coverage maps of one geometry class (what fsx --coverage reports for one run). */
export interface CoverageClass {
  geometryClass: string;
  level: 'generic-layer' | 'file';
  units: number;
  ops: number;
  /** Against the reference's reachable cells of the class (absent when there is no data for it). */
  reached?: number;
  reachable?: number;
  percent?: number;
  /** Reachable cells no unit reached (the first 50). */
  never?: string[];
  /** The merged map, written in the merge folder (iomap-harness report FILE shows it). */
  map: string;
}

export interface MergeResult {
  campaign: string;
  campaignId: string;
  /**
   * `run`: the run merged (its run id), when the shards have one; `otherRunFolders`: shard
   * folders of other runs (an earlier night left in a reused folder), not merged.
   */
  shards: { n: number; present: number[]; missing: number[]; incomplete: number[]; duplicateFolders: string[]; run?: string; otherRunFolders: string[] };
  units: { merged: number; expected: number | null; duplicates: number };
  totals: {
    ops: number; checkRuns: number; cpuMs: number; elapsedMs: number; setups: SetupOptions[]; targets: string[];
    skippedUnits: number; failures: number; distinct: number; known: number; new: number;
  };
  coverage: { classes: CoverageClass[]; unitsWithout: number } | { unavailable: string };
  failures: DistinctFailure[];
  /** The day of this merge (UTC, YYYY-MM-DD): what `since` is counted in. */
  date?: string;
  history?: History;
}

/**
 * Since when: each distinct failure keeps the `since` of the same failure (target and signature)
 * in the previous merge, or starts today; the previous merge's failures that are gone are listed.
 */
export function withHistory(m: MergeResult, previous: MergeResult | undefined, date: string): MergeResult {
  m.date = date;
  const run = m.shards.run;
  const before = new Map((previous?.failures ?? []).map((f) => [f.key, f]));
  for (const f of m.failures) {
    const old = before.get(f.key);
    f.since = old?.since ?? (old !== undefined && previous?.date !== undefined ? { date: previous.date, ...(previous.shards.run !== undefined ? { run: previous.shards.run } : {}) } : { date, ...(run !== undefined ? { run } : {}) });
  }
  if (previous !== undefined) {
    const now = new Set(m.failures.map((f) => f.key));
    m.history = {
      previous: { ...(previous.date !== undefined ? { date: previous.date } : {}), ...(previous.shards.run !== undefined ? { run: previous.shards.run } : {}) },
      appeared: m.failures.filter((f) => !before.has(f.key)).map((f) => f.key),
      gone: previous.failures.filter((f) => !now.has(f.key)).map((f) => ({ key: f.key, message: f.message, ...(f.since !== undefined ? { since: f.since } : {}) })),
    };
  }
  return m;
}

function readJson(file: string): unknown {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch {
    return undefined;
  }
}

function isShardFolder(dir: string): boolean {
  return fs.existsSync(path.join(dir, 'shard.json'));
}

/** Shard folders among the inputs: a shard folder itself, or folders holding them (any depth up to 3). */
export function findShardFolders(inputs: readonly string[]): string[] {
  const out: string[] = [];
  const walk = (d: string, depth: number): void => {
    if (isShardFolder(d)) {
      out.push(d);
      return;
    }
    if (depth === 0) return;
    let entries: fs.Dirent[] = [];
    try {
      entries = fs.readdirSync(d, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries.sort((a, b) => a.name.localeCompare(b.name))) if (e.isDirectory()) walk(path.join(d, e.name), depth - 1);
  };
  for (const i of inputs) {
    if (!fs.existsSync(i) || !fs.statSync(i).isDirectory()) throw new MergeError(`${i}: not a directory`);
    const before = out.length;
    walk(path.resolve(i), 3);
    if (out.length === before) throw new MergeError(`${i}: no shard results in it (a shard folder has a shard.json; run iomap-harness campaign run first)`);
  }
  return out;
}

/** Read the shard folders; they must all be of one campaign. */
export function readShards(dirs: readonly string[]): ShardFolder[] {
  const out: ShardFolder[] = [];
  for (const dir of dirs) {
    const info = readJson(path.join(dir, 'shard.json')) as ShardInfo | undefined;
    if (info === undefined || info.format !== SHARD_FORMAT) throw new MergeError(`${path.join(dir, 'shard.json')}: not a campaign shard file`);
    if (out.length > 0 && info.campaignId !== out[0].info.campaignId) {
      throw new MergeError(`${dir}: shard of campaign ${info.campaign} (${info.campaignId}), but ${out[0].dir} is of ${out[0].info.campaign} (${out[0].info.campaignId}): merge one campaign at a time`);
    }
    out.push({ dir, info });
  }
  return out;
}

/**
 * The shard folders of one run: the run `runId`, or by default the newest (the run whose
 * shard.json was written last), so a results folder reused night after night merges tonight's
 * shards and names last night's leftovers instead of mixing them in. Folders without a run id
 * form one run of their own. Within the run, every folder must split the campaign alike.
 */
export function selectRun(shards: readonly ShardFolder[], runId?: string): { run: ShardFolder[]; others: ShardFolder[] } {
  const byRun = new Map<string, ShardFolder[]>();
  for (const s of shards) byRun.set(s.info.runId ?? '', [...(byRun.get(s.info.runId ?? '') ?? []), s]);
  let chosen: string;
  if (runId !== undefined) {
    if (!byRun.has(runId)) throw new MergeError(`no shard folder of run ${runId} (runs found: ${[...byRun.keys()].map((r) => r || '(none)').join(', ')})`);
    chosen = runId;
  } else {
    const newest = (l: ShardFolder[]) => Math.max(...l.map((s) => fs.statSync(path.join(s.dir, 'shard.json')).mtimeMs));
    chosen = [...byRun.entries()].reduce((a, b) => (newest(b[1]) > newest(a[1]) ? b : a))[0];
  }
  const run = byRun.get(chosen)!;
  for (const s of run) {
    if (s.info.shard.n !== run[0].info.shard.n) {
      throw new MergeError(`${s.dir}: shard ${s.info.shard.k}/${s.info.shard.n}, but ${run[0].dir} split the campaign into ${run[0].info.shard.n} shards`);
    }
  }
  return { run, others: shards.filter((s) => !run.includes(s)) };
}

function readUnits(dir: string): UnitResult[] {
  let names: string[] = [];
  try {
    names = fs.readdirSync(path.join(dir, 'units')).filter((n) => n.endsWith('.json')).sort();
  } catch {
    return [];
  }
  const out: UnitResult[] = [];
  for (const n of names) {
    const r = readJson(path.join(dir, 'units', n)) as UnitResult | undefined;
    if (r !== undefined && r.format === UNIT_FORMAT) out.push(r);
  }
  return out;
}

function setupKey(s: SetupOptions): string {
  return JSON.stringify(Object.keys(s).sort().map((k) => [k, s[k as keyof SetupOptions]]));
}

/** Copy a file of a shard into the merge folder (once); returns its path relative to `out`. */
function copyInto(out: string, sub: string, from: string): string | undefined {
  if (!fs.existsSync(from)) return undefined;
  const dest = path.join(out, sub, path.basename(from));
  fs.mkdirSync(path.dirname(dest), { recursive: true });
  fs.copyFileSync(from, dest);
  return path.relative(out, dest);
}

interface Occurrence {
  unit: UnitResult;
  failure: UnitFailure;
  shardDir: string;
}

/**
 * Merge shard folders (found under `inputs`) into `out`: copies each distinct failure's
 * reproducer and page under out/failures/, and returns the merged result (the caller writes the
 * JSON, JUnit and HTML).
 */
export function mergeShards(inputs: readonly string[], out: string, known: readonly KnownSignature[], runId?: string): MergeResult {
  const { run: shards, others } = selectRun(readShards(findShardFolders(inputs)), runId);
  const first = shards[0].info;
  const n = first.shard.n;
  const byK = new Map<number, ShardFolder[]>();
  for (const s of shards) byK.set(s.info.shard.k, [...(byK.get(s.info.shard.k) ?? []), s]);
  const present = [...byK.keys()].sort((a, b) => a - b);
  const missing: number[] = [];
  for (let k = 1; k <= n; k++) if (!byK.has(k)) missing.push(k);
  const duplicateFolders = [...byK.values()].flatMap((l) => l.slice(1).map((s) => s.dir));

  // Units by id: the same unit from two folders of one shard (or a re-run) counts once.
  const units = new Map<string, { r: UnitResult; dir: string }>();
  let duplicates = 0;
  for (const s of shards) {
    for (const r of readUnits(s.dir)) {
      if (units.has(r.id)) duplicates++;
      else units.set(r.id, { r, dir: s.dir });
    }
  }
  const incomplete = present.filter((k) => {
    const folders = byK.get(k)!;
    const exp = folders[0].info.expectedUnits;
    if (exp === null) return !folders.some((f) => f.info.complete);
    const have = [...units.values()].filter((u) => u.r.index % n === k - 1).length;
    return have < exp;
  });

  const ordered = [...units.values()].sort((a, b) => a.r.index - b.r.index);
  const setups = new Map<string, SetupOptions>();
  const targets = new Set<string>();
  const maps = new Map<string, CoverageRecorder>();
  const mapUnits = new Map<string, number>();
  let unitsWithout = 0;
  let ops = 0;
  let checkRuns = 0;
  let cpuMs = 0;
  let elapsedMs = 0;
  let skippedUnits = 0;
  let occurrences = 0;
  const groups = new Map<string, Occurrence[]>();
  for (const { r, dir } of ordered) {
    ops += r.ops;
    checkRuns += r.runs;
    cpuMs += r.cpuMs;
    elapsedMs += r.elapsedMs;
    if (r.status === 'skip') skippedUnits++;
    setups.set(setupKey(r.setup), r.setup);
    targets.add(r.target);
    const rec = r.engine === 'fsx' ? readCoverage(dir, r) : null;
    if (rec !== null) {
      const key = `${rec.geometryClass} ${rec.deep ? 'generic-layer' : 'file'}`;
      const m = maps.get(key);
      if (m === undefined) maps.set(key, rec);
      else m.merge(rec);
      mapUnits.set(key, (mapUnits.get(key) ?? 0) + 1);
    } else if (r.engine === 'fsx' && r.status !== 'skip') unitsWithout++;
    for (const f of r.failures) {
      occurrences++;
      const key = `${r.target}/${f.sigId}`;
      const g = groups.get(key);
      if (g === undefined) groups.set(key, [{ unit: r, failure: f, shardDir: dir }]);
      else g.push({ unit: r, failure: f, shardDir: dir });
    }
  }

  const kidx = knownIndex(known);
  const failures: DistinctFailure[] = [];
  for (const [key, occ] of groups) {
    // The representative: the first occurrence that has a shrunk reproducer, else the first.
    const head = occ[0];
    const rep = occ.find((o) => o.failure.shrunk) ?? head;
    const f = rep.failure;
    const sub = path.join('failures', `${head.unit.target.replace(/[^A-Za-z0-9_.-]+/g, '_')}-${f.sigId}`);
    const d: DistinctFailure = {
      key, sigId: f.sigId, target: head.unit.target, adapter: head.unit.adapter, signature: f.signature, count: occ.length,
      first: {
        shard: path.basename(head.shardDir), unit: head.unit.id, engine: head.unit.engine, seed: head.unit.seed, setup: head.unit.setup,
        ...(head.unit.suite !== undefined ? { suite: head.unit.suite } : {}),
        ...(head.failure.property !== undefined ? { property: head.failure.property, fcSeed: head.failure.fcSeed, fcPath: head.failure.fcPath } : {}),
      },
      message: head.failure.message, shrunk: f.shrunk,
    };
    if (f.reproducer !== undefined) {
      const src = path.join(rep.shardDir, f.reproducer);
      d.reproducer = copyInto(out, sub, src);
      copyInto(out, sub, src.replace(/\.json$/, '.fsxops'));
      d.reproducerOps = f.reproducerOps;
    }
    if (f.report !== undefined) d.report = copyInto(out, sub, path.join(rep.shardDir, f.report));
    if (f.reportError !== undefined) d.reportError = f.reportError;
    const k = lookupKnown(kidx, f.signature);
    if (k !== undefined) d.known = { file: k.file, note: k.note };
    failures.push(d);
  }
  const knownCount = failures.filter((f) => f.known !== undefined).length;
  return {
    campaign: first.campaign,
    campaignId: first.campaignId,
    shards: { n, present, missing, incomplete, duplicateFolders, ...(first.runId !== undefined ? { run: first.runId } : {}), otherRunFolders: others.map((s) => s.dir) },
    units: { merged: units.size, expected: first.campaignUnits, duplicates },
    totals: {
      ops, checkRuns, cpuMs, elapsedMs, setups: [...setups.values()], targets: [...targets], skippedUnits,
      failures: occurrences, distinct: failures.length, known: knownCount, new: failures.length - knownCount,
    },
    coverage: maps.size > 0 ? { classes: coverageClasses(maps, mapUnits, out), unitsWithout } : { unavailable: `no state coverage: ${first.coverage ?? 'the shards recorded none'}` },
    failures,
  };
}

/** A unit's coverage map, or null (none recorded, or the file is gone or unreadable). */
function readCoverage(dir: string, r: UnitResult): CoverageRecorder | null {
  if (r.coverage === undefined) return null;
  try {
    return CoverageRecorder.fromJSON(JSON.parse(fs.readFileSync(path.join(dir, r.coverage), 'utf8')));
  } catch {
    return null;
  }
}

/** Each geometry class's union, summarized against its reachable cells and written as one map. */
function coverageClasses(maps: Map<string, CoverageRecorder>, units: Map<string, number>, out: string): CoverageClass[] {
  const dir = path.join(out, 'coverage');
  fs.mkdirSync(dir, { recursive: true });
  return [...maps.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([key, rec]) => {
    const reach = reachableFor(rec.geometryClass);
    const s = summarize(rec, reach);
    const file = path.join(dir, `${key.replace(/[^A-Za-z0-9_.-]+/g, '_')}.coverage.json`);
    fs.writeFileSync(file, JSON.stringify(rec.toJSON(s), null, 1) + '\n');
    const c: CoverageClass = {
      geometryClass: rec.geometryClass, level: rec.deep ? 'generic-layer' : 'file', units: units.get(key) ?? 0, ops: rec.ops, map: path.relative(out, file),
    };
    if (s !== undefined) Object.assign(c, { reached: s.reached, reachable: s.reachable, percent: s.percent, never: s.never.slice(0, 50) });
    return c;
  });
}
