/**
 * `iomap-harness fsx`: fsx's flags (same letters, same meaning), plus --adapter, --bs, --folio,
 * --weight NAME=N, --save DIR and --json. On a failure the op log is saved (JSON and .fsxops) under
 * --save DIR (default: a new temporary directory) and its path printed.
 */

import { KNOWN_FLAG, builtInKnown, knownFrom, mergeKnown, runPastKnown, shortNote } from './known';
import { PERSONALITY_NAMES, isPersonalityName } from '../reference/fs/personality';
import { IOMAP_APIS, isIomapApi } from '../reference/iomap/types';
import * as path from 'path';
import { AdapterOptions, AdapterSpecError, hasAdapter, isModuleSpec, loadAdapter } from '../adapters/registry';
import type { FileAdapter } from '../adapters/types';
import { TargetError } from '../properties/fsx/engine';
import type { Output } from '../properties/fsx/runner';
import { defaultOptions, FsxOptions, turnOff } from '../properties/fsx/generator';
import {
  runSeed, runSeedCollected, runSeedsInWorkers, SeedExtras, SeedOutcome, SeedTask, shardSeeds, WorkerHang,
} from '../properties/fsx/workers';
import { defaultSaveDir, ensureDir, prepareSaveDir, Skips } from './output';
import { progressText, StatusLine } from './status-line';
import {
  OP_CLONE_RANGE, OP_COLLAPSE_RANGE, OP_COPY_RANGE, OP_DEDUPE_RANGE, OP_FALLOCATE, OP_INSERT_RANGE,
  OP_EXCHANGE_RANGE, OP_READ_DONTCACHE, OP_WRITE_ATOMIC, OP_WRITE_DONTCACHE,
  OP_MAPREAD, OP_MAPWRITE, OP_PUNCH_HOLE, OP_ZERO_RANGE, opByName, OPS,
} from '../properties/fsx/ops';
import type { SweepPins } from '../properties/fsx/sweep';
import { CoverageRecorder } from '../properties/coverage/recorder';
import { reachableFor, summarize } from '../properties/coverage/reachable';
import { formatCoverage } from '../properties/coverage/table';
import { CliIO, EXIT_CRASH, EXIT_FAILURE, EXIT_PASS, Lines, parseNumber, parsePow2, UsageError } from './common';
import { CommandSpec, flag, FlagTable, Parsed, str, Values } from './command-line';

/** fsx's switches that turn an op off (-R/-W: mapped reads/writes become plain ones). */
const OFF_SWITCHES: readonly [string, string, number | readonly number[]][] = [
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
  ['no-atomic-writes', 'a', OP_WRITE_ATOMIC],
  ['no-exchange-range', '0', OP_EXCHANGE_RANGE],
  // -T: dontcache reads and writes become plain ones, as in fsx.
  ['no-dontcache', 'T', [OP_READ_DONTCACHE, OP_WRITE_DONTCACHE]],
];

/** The setup flags, for the flag tables of the commands that take them. */
export const SETUP_FLAGS = {
  poison: {
    type: 'string', value: 'SEED|off', default: 'swept',
    help: 'reference and mutants only: never-written sectors of the memory device read a seeded non-zero pattern (old disk contents); recorded in the op log',
  },
  'eof-prealloc': {
    type: 'string', value: 'BYTES|off', default: 'swept',
    help: 'reference and mutants only: refs preallocates past EOF up to a multiple of BYTES, as WRITTEN blocks holding old data (XFS allocsize=)',
  },
  inline: {
    type: 'string', value: 'on|off', default: 'on',
    help: 'reference and mutants only: inline data for small files (refs); off is recorded in the op log',
  },
  personality: {
    type: 'string', value: 'NAME', default: 'generic',
    help: 'reference and mutants only: whose policies refs follows where filesystems differ: generic, xfs or ext4 (docs/model.md, "Personalities"); recorded in the op log',
  },
  api: {
    type: 'string', value: '6.12|current', default: 'the adapter\'s (6.12 for refs)',
    help: 'the iomap API generation the generic layer runs the filesystem\'s ops tables in (docs/model.md, "API generations"); refs has both; recorded in the op log',
  },
} as const satisfies FlagTable;

/** --adapter, --bs and --folio, for every command that opens an adapter. */
export const ADAPTER_FLAGS = {
  adapter: {
    type: 'string', value: 'SPEC', default: 'reference',
    help: 'the target: reference, naive, mutant:NAME, host:DIR (a kernel filesystem), scratch:TYPE (one the harness makes per setup: xfs, ext4, btrfs, tmpfs), exec:CMD (a server, docs/protocol.md) or a module path exporting createAdapter (docs/adapters.md); iomap-harness list adapters',
  },
  bs: { type: 'string', value: 'B', default: "the adapter's", help: 'block size the adapter is created with (a power of two, 512..1M)' },
  folio: { type: 'string', value: 'F', default: "the adapter's", help: 'largest folio the adapter is created with (a power of two, >= 4096 and >= --bs)' },
} as const satisfies FlagTable;

export const FSX_FLAGS = {
  ...ADAPTER_FLAGS,
  ...SETUP_FLAGS,
  ...KNOWN_FLAG,
  'no-default-known': {
    type: 'boolean',
    help: 'the reference with --personality ext4|xfs: do not treat the real kernel behaviours documented in corpus/known for that personality as known signatures (by default a run that meets one reports a known hit and goes on)',
  },
  'num-ops': { type: 'string', short: 'N', value: 'N', default: '100000', help: 'number of operations to run' },
  seed: { type: 'string', short: 'S', value: 'S', default: '1', help: 'PRNG seed (also seeds the data pattern); 0 picks one from the clock and prints it' },
  maxlen: { type: 'string', short: 'l', value: 'N', default: '256k', help: 'largest file size (numbers take k/m/g suffixes and 0x hex)' },
  maxoplen: { type: 'string', short: 'o', value: 'N', default: '64k', help: 'largest length of one operation (at least 1)' },
  'fixed-oplen': { type: 'boolean', short: 'O', help: 'every operation uses exactly -o bytes instead of a random length' },
  readbdy: { type: 'string', short: 'r', value: 'N', default: '1', help: 'read offsets are rounded down to a multiple of N' },
  writebdy: { type: 'string', short: 'w', value: 'N', default: '1', help: 'write offsets are rounded down to a multiple of N' },
  truncbdy: { type: 'string', short: 't', value: 'N', default: '1', help: 'truncate sizes are rounded down to a multiple of N' },
  closeprob: { type: 'string', short: 'c', value: 'P', default: 'never', help: 'close, drop caches and reopen after an operation with probability 1/P' },
  'begin-op': { type: 'string', short: 'b', value: 'N', default: '1', help: 'simulate operations 1..N-1 on the oracle only, then start real I/O at operation N' },
  'pollute-eof': { type: 'string', short: 'e', value: '0|1', default: 'on where the target has mmap stores', help: 'EOF pollution: store junk past EOF through mmap before a size change; the operation must zero it' },
  progress: { type: 'string', short: 'p', value: 'N', default: 'off', help: 'print every N-th operation' },
  debug: { type: 'boolean', short: 'd', help: 'print every operation' },
  quiet: { type: 'boolean', short: 'q', help: 'quiet: no status line, no skip summary, no "disabling" lines; failures and the result only' },
  verbose: { type: 'boolean', short: 'v', help: 'list every skipped operation ("skipping ...") instead of a count at the end' },
  'no-size-checks': { type: 'boolean', short: 'n', help: 'no size check after each operation' },
  'check-file': { type: 'boolean', short: 'X', help: 'after every operation read the whole file back and check the EOF page through mmap' },
  direct: { type: 'boolean', short: 'Z', help: 'reads and writes go through O_DIRECT (use with -R -W -r -w as in fsx)' },
  'no-mapread': { type: 'boolean', short: 'R', help: 'mapped reads become plain reads' },
  'no-mapwrite': { type: 'boolean', short: 'W', help: 'mapped writes become plain writes' },
  'no-fallocate': { type: 'boolean', short: 'F', help: 'no fallocate operations' },
  'no-punch-hole': { type: 'boolean', short: 'H', help: 'no punch_hole operations' },
  'no-zero-range': { type: 'boolean', short: 'z', help: 'no zero_range operations' },
  'no-collapse-range': { type: 'boolean', short: 'C', help: 'no collapse_range operations' },
  'no-insert-range': { type: 'boolean', short: 'I', help: 'no insert_range operations' },
  'no-clone-range': { type: 'boolean', short: 'J', help: 'no clone_range operations' },
  'no-dedupe-range': { type: 'boolean', short: 'B', help: 'no dedupe_range operations' },
  'no-copy-range': { type: 'boolean', short: 'E', help: 'no copy_range operations' },
  'no-atomic-writes': { type: 'boolean', short: 'a', help: 'no write_atomic operations (RWF_ATOMIC)' },
  'no-exchange-range': { type: 'boolean', short: '0', help: 'no exchange_range operations' },
  'no-dontcache': { type: 'boolean', short: 'T', help: 'no RWF_DONTCACHE: read_dontcache and write_dontcache run as plain read and write' },
  'no-keep-size': { type: 'boolean', short: 'K', help: 'no KEEP_SIZE variants of fallocate and zero_range' },
  'no-unshare': { type: 'boolean', short: 'u', help: 'no UNSHARE_RANGE fallocates' },
  weight: { type: 'string', multiple: true, value: 'OP=N', default: '1 per op', help: 'weight of operation OP (0-1000), repeatable; the op names are in docs/fsx.md' },
  'no-interleave': { type: 'boolean', help: 'no interleaving steps (writeback, complete_io, races), no unsynced mmap stores' },
  'no-sweep': { type: 'boolean', help: 'no setup sweep: one setup, the adapter\'s own plus what --bs/--folio/--poison/--eof-prealloc/--inline pin' },
  'round-ops': { type: 'string', value: 'N', default: '10000', help: 'ops per setup round of the sweep (each round a fresh target with its own setup)' },
  'no-short-copies': { type: 'boolean', help: 'no writes or mapwrites whose user buffer faults part-way (nor capped reservations)' },
  'no-guide': { type: 'boolean', help: 'no coverage-guided choices: the op mix of the weights alone' },
  'no-invalid': { type: 'boolean', help: 'no calls with bad arguments (by default some collapse/insert/clone/dedupe/O_DIRECT/size-limit calls must be refused, docs/fsx.md)' },
  coverage: { type: 'boolean', help: 'record state coverage: print its table at the end and save X.coverage.json in the save directory' },
  shrink: { type: 'boolean', help: 'on a failure also shrink the saved log and save it as ....min.json' },
  jobs: { type: 'string', short: 'j', value: 'N', default: '1', help: 'run a campaign of seeds on N worker threads' },
  seeds: { type: 'string', value: 'M', default: "-j's N", help: 'the campaign is the seeds S..S+M-1 (S from -S)' },
  shard: { type: 'string', value: 'K/N', default: 'all', help: "run only shard K of N of the campaign's seeds (needs --seeds)" },
  save: { type: 'string', value: 'DIR', default: './iomap-harness-failures', help: 'where a failing run saves its op log (created when needed)' },
  json: { type: 'boolean', help: 'the last stdout line is a JSON summary' },
} as const satisfies FlagTable;


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
  const pers = str(v, 'personality');
  if (pers !== undefined) {
    if (!isPersonalityName(pers)) throw new UsageError(`--personality ${pers}: expected one of ${PERSONALITY_NAMES.join(', ')}`);
    if (pers !== 'generic') o.personality = pers;
  }
  const api = str(v, 'api');
  if (api !== undefined) {
    if (!isIomapApi(api)) throw new UsageError(`--api ${api}: expected one of ${IOMAP_APIS.join(', ')}`);
    o.api = api;
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
  for (const [k, flagName] of [['poison', '--poison'], ['eofPrealloc', '--eof-prealloc'], ['inlineMax', '--inline'], ['personality', '--personality'], ['api', '--api']] as const) {
    // The 6.12 baseline is not recorded in a setup: any adapter with ops tables has it.
    const has = k === 'api' && a.setup !== undefined ? a.setup.api ?? '6.12' : a.setup?.[k];
    if (opts[k] !== undefined && has !== opts[k]) {
      a.close();
      throw new UsageError(`${flagName} (or a log's setup.${k}): adapter ${spec} has no such setup (reference, its mutants and scratch:xfs for --eof-prealloc have setups)`);
    }
  }
}

/**
 * --adapter as given, with a module path made absolute: the spec is recorded in saved op logs, and
 * a relative path would only replay from the directory fsx ran in. Reassigns `v.adapter`; returns
 * the spec as typed when it was changed (for the log's description).
 */
export function absoluteAdapterFlag(v: Values): string | undefined {
  const given = str(v, 'adapter');
  if (given === undefined || !isModuleSpec(given) || /^(exec|host|scratch|mutant|diff):/.test(given)) return undefined;
  const abs = path.resolve(given);
  if (abs === given) return undefined;
  v.adapter = abs;
  return given;
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
  o.maxoplen = num('maxoplen', '-o', 1, 1 << 30) ?? o.maxoplen; // -o 0 would make every op a zero-length skip and "pass"
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
  o.guide = !flag(v, 'no-guide');
  o.invalidArgs = !flag(v, 'no-invalid');
  o.coverage = flag(v, 'coverage');
  for (const spec of (v.weight as string[] | undefined) ?? []) {
    const m = /^([a-z_]+)=(.*)$/.exec(spec);
    if (m === null) throw new UsageError(`--weight: expected NAME=N, got ${JSON.stringify(spec)}`);
    const info = opByName(m[1]);
    if (info === undefined) throw new UsageError(`--weight: unknown op ${JSON.stringify(m[1])} (known: ${OPS.map((x) => x.name).join(', ')})`);
    o.weights[info.code] = parseNumber(`--weight ${m[1]}`, m[2], 0, 1000);
  }
  for (const [name, , code] of OFF_SWITCHES) {
    if (flag(v, name)) for (const c of typeof code === 'number' ? [code] : code) turnOff(o.weights, c);
  }
  return o;
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

export async function fsxCommand(p: Parsed, io: CliIO): Promise<number> {
  const v = p.values;
  const o = fsxOptionsFrom(v);
  const json = flag(v, 'json');
  const given = absoluteAdapterFlag(v);
  const spec = str(v, 'adapter') ?? defaultAdapter();
  const geo = geometryFlags(v);
  const saveFlag = str(v, 'save');
  const saveDir = saveFlag === undefined ? undefined : prepareSaveDir('--save', saveFlag);
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
  // The default folder (./iomap-harness-failures) is made only when a failure has to be saved.
  const task: SeedTask = { spec, adapterOptions: geo, options: o, saveDir: saveDir ?? defaultSaveDir(), shrink: flag(v, 'shrink') };
  if (given !== undefined) task.description = `adapter module given as ${given} in ${process.cwd()}; recorded by its absolute path`;
  const skips = new Skips(flag(v, 'verbose'));
  lines.status = new StatusLine(io, io.isTTY && !json && !o.quiet);
  const givenKnown = knownFrom(v.known as string[] | undefined);
  if (!flag(v, 'no-sweep')) task.sweep = sweepPins(geo);
  if (str(v, 'round-ops') !== undefined) task.roundOps = parseNumber('--round-ops', str(v, 'round-ops') as string, 1, 1 << 30);
  const campaign = seedsFlag !== undefined || jobs > 1 || shard !== null;
  if (campaign && givenKnown !== null) throw new UsageError('--known runs one seed after another; without -j/--seeds/--shard (campaign merge --known matches a campaign\'s failures)');
  // The reference under a personality reproduces the documented kernel behaviours of corpus/known
  // recorded for it: by default they are known hits, not failures (a campaign matches them with
  // campaign merge --known corpus/known).
  const defaults = campaign || spec !== 'reference' || flag(v, 'no-default-known') ? new Map() : builtInKnown(geo.personality as string | undefined);
  const known = mergeKnown(givenKnown, defaults);
  if (campaign) {
    adapter.close();
    return runCampaign(task, seedsFlag ?? jobs, jobs, shard, json, lines, skips);
  }
  const t0 = performance.now();
  const status = lines.status;
  status.update(progressText(`fsx seed ${o.seed}`, 0, o.numOps, 'ops', t0, 0), true);
  const extras: SeedExtras = {
    first: adapter,
    saveDir: () => ensureDir(task.saveDir),
    hooks: {
      progressEvery: 1024,
      progress: status.enabled ? (n) => status.update(progressText(`fsx seed ${o.seed}`, n, o.numOps, 'ops', t0, 0)) : undefined,
    },
  };
  const past = known === null ? null : runPastKnown(task, known, skips.wrap(lines), extras);
  const out = past?.out ?? runSeed(task, o.seed, skips.wrap(lines), extras);
  status.clear();
  lines.status = null;
  for (const l of skips.summary()) lines.out(l);
  const off = skips.disabledLine();
  if (off !== null) lines.err(off);
  if (out.summary.failures > 0) lines.out(`Failures are saved in ${task.saveDir}`);
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
  if (sm.coverage !== undefined) summary.coverage = sm.coverage;
  if (past !== null && (givenKnown !== null || past.hits.length > 0)) {
    summary.knownHits = past.hits;
    lines.out(`Known signatures hit: ${past.hits.length}${past.hits.map((h) => `\n  seed ${h.seed} op ${h.op}: ${h.family === undefined ? '' : `family ${h.family} (${h.evidence}): `}${h.note === '' ? h.known : shortNote(h.note)} (${h.log})`).join('')}`);
  }
  if (json) lines.out(JSON.stringify(summary));
  lines.flush();
  return out.crashed ? EXIT_CRASH : sm.failures > 0 ? EXIT_FAILURE : EXIT_PASS;
}

/** A campaign's coverage: the union of its seeds' maps, as one table (each seed's JSON is saved). */
function printMergedCoverage(outcomes: SeedOutcome[], lines: Lines): void {
  const merged = new Map<string, CoverageRecorder>();
  for (const x of outcomes) {
    for (const j of x.coverage ?? []) {
      const r = CoverageRecorder.fromJSON(j);
      const m = merged.get(r.geometryClass);
      if (m === undefined) merged.set(r.geometryClass, r);
      else m.merge(r);
    }
  }
  for (const m of merged.values()) {
    const reach = reachableFor(m.geometryClass);
    for (const l of formatCoverage(m, reach, summarize(m, reach))) lines.out(`[all seeds] ${l}`);
  }
}

/**
 * A campaign: seeds o.seed .. o.seed+count-1 (this shard's share), on `jobs` worker threads (in
 * this thread when jobs is 1). Each seed's lines are printed as a block, prefixed "[seed S] ", in
 * seed order; the JSON summary lists every seed's result.
 */
async function runCampaign(task: SeedTask, count: number, jobs: number, shard: { k: number; n: number } | null, json: boolean, lines: Lines, skips: Skips): Promise<number> {
  const seeds = shardSeeds(task.options.seed, count, shard);
  const t0 = performance.now();
  let outcomes: SeedOutcome[];
  const status = lines.status ?? new StatusLine({ stdout: () => undefined }, false);
  status.update(progressText('fsx campaign', 0, seeds.length, 'seeds', t0, 0), true);
  if (jobs <= 1) {
    outcomes = [];
    let failed = 0;
    for (const s of seeds) {
      outcomes.push(runSeedCollected(task, s));
      failed += outcomes[outcomes.length - 1].summary.failures;
      status.update(progressText('fsx campaign', outcomes.length, seeds.length, 'seeds', t0, failed));
    }
  } else {
    try {
      outcomes = await runSeedsInWorkers(task, seeds, jobs);
    } catch (e) {
      // A hung target's line is complete as it is (the watchdog's, as without -j).
      if (e instanceof WorkerHang) throw new TargetError(e.message);
      throw new TargetError(`fsx -j: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
  const wall = performance.now() - t0;
  status.clear();
  lines.status = null;
  const fatal = outcomes.find((x) => x.fatal !== undefined)?.fatal;
  if (fatal !== undefined) {
    if (fatal.usage) throw new UsageError(fatal.message);
    throw new TargetError(fatal.message);
  }
  let ops = 0;
  let failures = 0;
  let crashed = false;
  for (const x of outcomes) {
    const prefixed: Output = { out: (t) => lines.out(`[seed ${x.summary.seed}] ${t}`), err: (t) => lines.err(`[seed ${x.summary.seed}] ${t}`) };
    for (const l of x.lines) skips.route(l.err, l.text, prefixed);
    if (x.summary.failures === 0) lines.out(`[seed ${x.summary.seed}] All ${x.summary.ops} operations completed A-OK!`);
    ops += x.summary.ops;
    failures += x.summary.failures;
    if (x.crashed) crashed = true;
  }
  if (task.options.coverage === true) printMergedCoverage(outcomes, lines);
  const range = seeds.length === 0 ? 'no seeds' : `seeds ${task.options.seed}..${(task.options.seed + count - 1) >>> 0}${shard !== null ? `, shard ${shard.k}/${shard.n}: ${seeds.length} of ${count}` : ''}`;
  for (const l of skips.summary()) lines.out(l);
  const off = skips.disabledLine();
  if (off !== null) lines.err(off);
  if (failures > 0) lines.out(`Failures are saved in ${task.saveDir}`);
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

export const FSX_COMMAND: CommandSpec = {
  name: 'fsx',
  summary: "fuzz an adapter the way xfstests' fsx does: random operations checked against an exact oracle",
  details: "fsx's flags keep fsx's letters and meanings (docs/fsx.md). On a failure the op log is saved (JSON and .fsxops) "
    + 'and its path printed; replay, shrink and report take it.',
  flags: FSX_FLAGS,
  examples: [
    'fsx                                  # 100000 ops on the reference filesystem',
    'fsx --adapter ./my-adapter.js -N 20000 -S 7',
    'fsx --adapter mutant:fiemap-no-last -q --save ./failures',
    'fsx --adapter host:/mnt/scratch -Z -R -W -r 4096 -w 4096',
    'fsx -j 2 --seeds 8 --json',
  ],
  run: fsxCommand,
};
