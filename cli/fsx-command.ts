/**
 * `iomap-harness fsx`: fsx's flags (same letters, same meaning), plus --adapter, --bs, --folio,
 * --weight NAME=N, --save DIR and --json. On a failure the op log is saved (JSON and .fsxops) under
 * --save DIR (default: a new temporary directory) and its path printed.
 */

import * as fs from 'fs';
import * as path from 'path';
import { AdapterOptions, AdapterSpecError, hasAdapter, loadAdapter } from '../adapters/registry';
import type { FileAdapter } from '../adapters/types';
import { TargetError } from '../properties/fsx/engine';
import { defaultOptions, FsxOptions, turnOff } from '../properties/fsx/generator';
import {
  runSeed, runSeedCollected, runSeedsInWorkers, SeedOutcome, SeedTask, shardSeeds, tempSaveDir,
} from '../properties/fsx/workers';
import {
  OP_CLONE_RANGE, OP_COLLAPSE_RANGE, OP_COPY_RANGE, OP_DEDUPE_RANGE, OP_FALLOCATE, OP_INSERT_RANGE,
  OP_MAPREAD, OP_MAPWRITE, OP_PUNCH_HOLE, OP_ZERO_RANGE, opByName, OPS,
} from '../properties/fsx/ops';
import type { SweepPins } from '../properties/fsx/sweep';
import { CliIO, EXIT_CRASH, EXIT_FAILURE, EXIT_PASS, Lines, parseFlags, parseNumber, parsePow2, UsageError } from './common';

/** fsx's switches that turn an op off (-R/-W: mapped reads/writes become plain ones). */
const OFF_SWITCHES: readonly [string, string, number][] = [
  ['no-mapread', 'R', OP_MAPREAD],
  ['no-mapwrite', 'W', OP_MAPWRITE],
  ['no-fallocate', 'F', OP_FALLOCATE],
  ['no-punch-hole', 'H', OP_PUNCH_HOLE],
  ['no-zero-range', 'z', OP_ZERO_RANGE],
  ['no-collapse-range', 'C', OP_COLLAPSE_RANGE],
  ['no-insert-range', 'I', OP_INSERT_RANGE],
  ['no-clone-range', 'J', OP_CLONE_RANGE],
  ['no-dedupe-range', 'B', OP_DEDUPE_RANGE],
  ['no-copy-range', 'E', OP_COPY_RANGE],
];

/** The setup flags, for the flag tables of the commands that take them. */
export const SETUP_FLAGS = { poison: { type: 'string' }, 'eof-prealloc': { type: 'string' }, inline: { type: 'string' } } as const;

const FSX_FLAGS = {
  adapter: { type: 'string' },
  bs: { type: 'string' },
  folio: { type: 'string' },
  ...SETUP_FLAGS,
  save: { type: 'string' },
  json: { type: 'boolean' },
  weight: { type: 'string', multiple: true },
  'num-ops': { type: 'string', short: 'N' },
  seed: { type: 'string', short: 'S' },
  maxlen: { type: 'string', short: 'l' },
  maxoplen: { type: 'string', short: 'o' },
  readbdy: { type: 'string', short: 'r' },
  writebdy: { type: 'string', short: 'w' },
  truncbdy: { type: 'string', short: 't' },
  closeprob: { type: 'string', short: 'c' },
  progress: { type: 'string', short: 'p' },
  'begin-op': { type: 'string', short: 'b' },
  'pollute-eof': { type: 'string', short: 'e' },
  'no-mapread': { type: 'boolean', short: 'R' },
  'no-mapwrite': { type: 'boolean', short: 'W' },
  'no-fallocate': { type: 'boolean', short: 'F' },
  'no-punch-hole': { type: 'boolean', short: 'H' },
  'no-zero-range': { type: 'boolean', short: 'z' },
  'no-collapse-range': { type: 'boolean', short: 'C' },
  'no-insert-range': { type: 'boolean', short: 'I' },
  'no-clone-range': { type: 'boolean', short: 'J' },
  'no-dedupe-range': { type: 'boolean', short: 'B' },
  'no-copy-range': { type: 'boolean', short: 'E' },
  'no-keep-size': { type: 'boolean', short: 'K' },
  'no-unshare': { type: 'boolean', short: 'u' },
  'fixed-oplen': { type: 'boolean', short: 'O' },
  'no-size-checks': { type: 'boolean', short: 'n' },
  direct: { type: 'boolean', short: 'Z' },
  'check-file': { type: 'boolean', short: 'X' },
  quiet: { type: 'boolean', short: 'q' },
  debug: { type: 'boolean', short: 'd' },
  'no-interleave': { type: 'boolean' },
  'no-sweep': { type: 'boolean' },
  'round-ops': { type: 'string' },
  'no-short-copies': { type: 'boolean' },
  shrink: { type: 'boolean' },
  jobs: { type: 'string', short: 'j' },
  seeds: { type: 'string' },
  shard: { type: 'string' },
} as const;

type Values = Record<string, string | boolean | string[] | boolean[] | undefined>;

const str = (v: Values, k: string): string | undefined => v[k] as string | undefined;
const flag = (v: Values, k: string): boolean => v[k] === true;

/**
 * Adapter options from --bs / --folio and the reference setup flags --poison SEED (never-written
 * device sectors read old data) and --eof-prealloc BYTES (refs' speculative post-EOF
 * preallocation) — shared with replay, shrink and check.
 */
export function geometryFlags(v: Values): AdapterOptions {
  const o: AdapterOptions = {};
  const bs = str(v, 'bs');
  const folio = str(v, 'folio');
  if (bs !== undefined) o.blockSize = parsePow2('--bs', bs, 512, 1 << 20);
  if (folio !== undefined) o.folioSize = parsePow2('--folio', folio, 4096, 1 << 30);
  if (o.blockSize !== undefined && o.folioSize !== undefined && o.folioSize < o.blockSize) {
    throw new UsageError(`--folio ${o.folioSize} is smaller than --bs ${o.blockSize}`);
  }
  // "off" pins a knob off: the key is present with no value, which also overrides a log's setup.
  const poison = str(v, 'poison');
  const pre = str(v, 'eof-prealloc');
  const inline = str(v, 'inline');
  if (poison !== undefined) o.poison = poison === 'off' ? undefined : parseNumber('--poison', poison, 0, 0xffffffff);
  if (pre !== undefined) o.eofPrealloc = pre === 'off' || pre === '0' ? undefined : parsePow2('--eof-prealloc', pre, 512, 1 << 30);
  if (inline !== undefined) {
    if (inline !== 'on' && inline !== 'off') throw new UsageError(`--inline: expected on or off, got ${JSON.stringify(inline)}`);
    o.inlineMax = inline === 'off' ? 0 : undefined;
  }
  return o;
}

/** The knobs the user pinned (geometryFlags' result), for the setup sweep. */
export function sweepPins(geo: AdapterOptions): SweepPins {
  const has = (k: string) => Object.prototype.hasOwnProperty.call(geo, k);
  const p: SweepPins = {};
  if (geo.blockSize !== undefined) p.blockSize = geo.blockSize;
  if (geo.folioSize !== undefined) p.folioSize = geo.folioSize;
  if (has('poison')) p.poison = (geo.poison as number | undefined) ?? null;
  if (has('eofPrealloc')) p.eofPrealloc = (geo.eofPrealloc as number | undefined) ?? null;
  if (has('inlineMax')) p.inline = geo.inlineMax !== 0;
  return p;
}

/** A setup option the adapter did not take (only reference and mutants have a setup): usage error. */
function checkSetupTaken(spec: string, a: FileAdapter, opts: AdapterOptions): void {
  for (const [k, flagName] of [['poison', '--poison'], ['eofPrealloc', '--eof-prealloc'], ['inlineMax', '--inline']] as const) {
    if (opts[k] !== undefined && a.setup?.[k] !== opts[k]) {
      a.close();
      throw new UsageError(`${flagName} (or a log's setup.${k}): adapter ${spec} has no such setup (only reference and its mutants do)`);
    }
  }
}

/** The default adapter: `reference` when it is registered. */
export function defaultAdapter(): string {
  if (hasAdapter('reference')) return 'reference';
  throw new UsageError('no default adapter: "reference" is not registered in this build; pass --adapter NAME (see iomap-harness list adapters)');
}

/** Create the adapter, with a one-line usage error for any problem with the spec or module. */
export function openAdapter(spec: string, opts: AdapterOptions): FileAdapter {
  let a: FileAdapter;
  try {
    a = loadAdapter(spec, opts);
  } catch (e) {
    if (e instanceof AdapterSpecError) throw new UsageError(e.message);
    throw e;
  }
  checkSetupTaken(spec, a, opts);
  return a;
}

/** Build fsx options from parsed flags. */
export function fsxOptionsFrom(v: Values): FsxOptions {
  const o = defaultOptions();
  const num = (k: string, f: string, lo?: number, hi?: number): number | undefined => {
    const s = str(v, k);
    return s === undefined ? undefined : parseNumber(f, s, lo, hi);
  };
  o.numOps = num('num-ops', '-N') ?? o.numOps;
  o.seed = num('seed', '-S', 0, 0xffffffff) ?? o.seed;
  o.maxlen = num('maxlen', '-l', 1) ?? o.maxlen;
  o.maxoplen = num('maxoplen', '-o', 0, 1 << 30) ?? o.maxoplen;
  o.readbdy = num('readbdy', '-r', 1, 1 << 30) ?? o.readbdy;
  o.writebdy = num('writebdy', '-w', 1, 1 << 30) ?? o.writebdy;
  o.truncbdy = num('truncbdy', '-t', 1, 1 << 30) ?? o.truncbdy;
  o.closeprob = num('closeprob', '-c', 0, 1 << 28) ?? o.closeprob;
  o.progressInterval = num('progress', '-p') ?? o.progressInterval;
  const begin = num('begin-op', '-b', 1);
  o.simulatedOps = begin === undefined ? 0 : begin - 1;
  // -e not given: EOF pollution wherever the target has mmap stores (runFsx decides).
  const e = num('pollute-eof', '-e', 0, 1);
  o.polluteEof = e === undefined ? 'auto' : e === 1;
  o.randomOpLen = !flag(v, 'fixed-oplen');
  o.keepSize = !flag(v, 'no-keep-size');
  o.unshare = !flag(v, 'no-unshare');
  o.direct = flag(v, 'direct');
  o.checkFile = flag(v, 'check-file');
  o.sizeChecks = !flag(v, 'no-size-checks');
  o.quiet = flag(v, 'quiet');
  o.debug = flag(v, 'debug');
  o.interleave = !flag(v, 'no-interleave');
  o.shortCopies = !flag(v, 'no-short-copies');
  for (const spec of (v.weight as string[] | undefined) ?? []) {
    const m = /^([a-z_]+)=(.*)$/.exec(spec);
    if (m === null) throw new UsageError(`--weight: expected NAME=N, got ${JSON.stringify(spec)}`);
    const info = opByName(m[1]);
    if (info === undefined) throw new UsageError(`--weight: unknown op ${JSON.stringify(m[1])} (known: ${OPS.map((x) => x.name).join(', ')})`);
    o.weights[info.code] = parseNumber(`--weight ${m[1]}`, m[2], 0, 1000);
  }
  for (const [name, , code] of OFF_SWITCHES) if (flag(v, name)) turnOff(o.weights, code);
  return o;
}

/**
 * mkdir -p, one level at a time: Node 20's mkdirSync(..., {recursive: true}) spins forever on some
 * paths (e.g. under /proc), and a bad --save must cost one line, not a hang.
 */
function mkdirs(dir: string): void {
  const missing: string[] = [];
  for (let d = dir; !fs.existsSync(d); d = path.dirname(d)) {
    missing.push(d);
    if (path.dirname(d) === d) break;
  }
  for (const d of missing.reverse()) fs.mkdirSync(d);
}

/** Make sure --save DIR exists and is a directory (before the run, so a bad path costs nothing). */
function prepareSaveDir(dir: string | undefined): string | undefined {
  if (dir === undefined) return undefined;
  const abs = path.resolve(dir);
  try {
    mkdirs(abs);
    fs.accessSync(abs, fs.constants.W_OK);
  } catch (e) {
    throw new UsageError(`--save ${dir}: cannot create or write to it: ${(e as { code?: string }).code ?? String(e)}`);
  }
  if (!fs.statSync(abs).isDirectory()) throw new UsageError(`--save ${dir}: not a directory`);
  return abs;
}

/** `--shard K/N`: 1 ≤ K ≤ N. */
function parseShard(text: string): { k: number; n: number } {
  const m = /^(\d+)\/(\d+)$/.exec(text);
  if (m === null) throw new UsageError(`--shard: expected K/N (e.g. 2/4), got ${JSON.stringify(text)}`);
  const k = Number(m[1]);
  const n = Number(m[2]);
  if (!(n >= 1 && n <= 1 << 20 && k >= 1 && k <= n)) throw new UsageError(`--shard ${text}: need 1 <= K <= N <= ${1 << 20}`);
  return { k, n };
}

export async function fsxCommand(args: string[], io: CliIO): Promise<number> {
  const { values: v } = parseFlags('fsx', args, FSX_FLAGS, false);
  const o = fsxOptionsFrom(v);
  const json = flag(v, 'json');
  const spec = str(v, 'adapter') ?? defaultAdapter();
  const geo = geometryFlags(v);
  const saveDir = prepareSaveDir(str(v, 'save'));
  const jobs = str(v, 'jobs') === undefined ? 1 : parseNumber('-j', str(v, 'jobs') as string, 1, 256);
  const shard = str(v, 'shard') === undefined ? null : parseShard(str(v, 'shard') as string);
  const seedsFlag = str(v, 'seeds') === undefined ? undefined : parseNumber('--seeds', str(v, 'seeds') as string, 1, 1 << 24);
  if (shard !== null && seedsFlag === undefined) throw new UsageError('--shard needs --seeds M (the campaign\'s size, the same on every shard)');
  const lines = new Lines(io);
  if (o.seed === 0) {
    o.seed = (Date.now() ^ (process.pid << 16)) >>> 0 || 1;
    lines.out(`Seed set to ${o.seed}`);
  }
  const adapter = openAdapter(spec, geo);
  const task: SeedTask = { spec, adapterOptions: geo, options: o, saveDir: saveDir ?? '', shrink: flag(v, 'shrink') };
  if (!flag(v, 'no-sweep')) task.sweep = sweepPins(geo);
  if (str(v, 'round-ops') !== undefined) task.roundOps = parseNumber('--round-ops', str(v, 'round-ops') as string, 1, 1 << 30);
  const campaign = seedsFlag !== undefined || jobs > 1 || shard !== null;
  if (campaign) {
    adapter.close();
    return runCampaign(task, seedsFlag ?? jobs, jobs, shard, json, lines);
  }
  let lastProgress = performance.now();
  const t0 = lastProgress;
  const showProgress = io.isTTY && !json && !o.quiet;
  // The temporary directory is made only when a failure has to be saved.
  let tmp: string | undefined;
  const out = runSeed(task, o.seed, lines, {
    first: adapter,
    saveDir: () => saveDir ?? (tmp ??= tempSaveDir()),
    hooks: {
      progress: showProgress
        ? (n) => {
          const now = performance.now();
          if (now - lastProgress < 500) return;
          lastProgress = now;
          lines.raw(`\r${n} ops, ${Math.round((n * 1000) / (now - t0))} ops/s`);
        }
        : undefined,
    },
  });
  if (showProgress) lines.raw('\r\x1b[K');
  if (out.fatal !== undefined) {
    lines.flush();
    if (out.fatal.usage) throw new UsageError(out.fatal.message);
    throw new TargetError(out.fatal.message);
  }
  const sm = out.summary;
  const summary: Record<string, unknown> = {
    command: 'fsx', adapter: spec, seed: o.seed, ops: sm.ops, failures: sm.failures, opsPerSec: sm.opsPerSec, elapsedMs: sm.elapsedMs,
  };
  if (sm.setup !== undefined) summary.setup = sm.setup;
  if (sm.rounds !== undefined) summary.rounds = sm.rounds;
  if (sm.failure !== undefined) summary.failure = sm.failure;
  if (json) lines.out(JSON.stringify(summary));
  lines.flush();
  return out.crashed ? EXIT_CRASH : sm.failures > 0 ? EXIT_FAILURE : EXIT_PASS;
}

/**
 * A campaign: seeds o.seed .. o.seed+count-1 (this shard's share), on `jobs` worker threads (in
 * this thread when jobs is 1). Each seed's lines are printed as a block, prefixed "[seed S] ", in
 * seed order; the JSON summary lists every seed's result.
 */
async function runCampaign(task: SeedTask, count: number, jobs: number, shard: { k: number; n: number } | null, json: boolean, lines: Lines): Promise<number> {
  const seeds = shardSeeds(task.options.seed, count, shard);
  if (task.saveDir === '') task.saveDir = tempSaveDir();
  const t0 = performance.now();
  let outcomes: SeedOutcome[];
  if (jobs <= 1) {
    outcomes = seeds.map((s) => runSeedCollected(task, s));
  } else {
    try {
      outcomes = await runSeedsInWorkers(task, seeds, jobs);
    } catch (e) {
      throw new TargetError(`fsx -j: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
  const wall = performance.now() - t0;
  const fatal = outcomes.find((x) => x.fatal !== undefined)?.fatal;
  if (fatal !== undefined) {
    if (fatal.usage) throw new UsageError(fatal.message);
    throw new TargetError(fatal.message);
  }
  let ops = 0;
  let failures = 0;
  let crashed = false;
  for (const x of outcomes) {
    for (const l of x.lines) (l.err ? lines.err : lines.out)(`[seed ${x.summary.seed}] ${l.text}`);
    if (x.summary.failures === 0) lines.out(`[seed ${x.summary.seed}] All ${x.summary.ops} operations completed A-OK!`);
    ops += x.summary.ops;
    failures += x.summary.failures;
    if (x.crashed) crashed = true;
  }
  const range = seeds.length === 0 ? 'no seeds' : `seeds ${task.options.seed}..${(task.options.seed + count - 1) >>> 0}${shard !== null ? `, shard ${shard.k}/${shard.n}: ${seeds.length} of ${count}` : ''}`;
  lines.out(`Campaign: ${range}; ${failures} failed; ${ops} ops in ${Math.round(wall)} ms on ${Math.min(jobs, Math.max(1, seeds.length))} worker${jobs > 1 ? 's' : ' (this thread)'}`);
  if (json) {
    const summary: Record<string, unknown> = {
      command: 'fsx', adapter: task.spec, seed: task.options.seed, ops, failures,
      opsPerSec: wall > 0 ? Math.round((ops * 1000) / wall) : 0, elapsedMs: Math.round(wall),
      seedCount: count, workers: jobs,
    };
    if (shard !== null) summary.shard = `${shard.k}/${shard.n}`;
    summary.seeds = outcomes.map((x) => x.summary);
    const firstFail = outcomes.find((x) => x.summary.failure !== undefined);
    if (firstFail !== undefined) summary.failure = { seed: firstFail.summary.seed, ...firstFail.summary.failure };
    lines.out(JSON.stringify(summary));
  }
  lines.flush();
  return crashed ? EXIT_CRASH : failures > 0 ? EXIT_FAILURE : EXIT_PASS;
}
