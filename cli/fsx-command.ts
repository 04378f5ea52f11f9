/**
 * `iomap-harness fsx`: fsx's flags (same letters, same meaning), plus --adapter, --bs, --folio,
 * --weight NAME=N, --save DIR and --json. On a failure the op log is saved (JSON and .fsxops) under
 * --save DIR (default: a new temporary directory) and its path printed.
 */

import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { AdapterOptions, AdapterSpecError, hasAdapter, loadAdapter } from '../adapters/registry';
import type { FileAdapter } from '../adapters/types';
import { FsxUsageError, RunResult, runFsx } from '../properties/fsx/engine';
import { defaultOptions, FsxOptions, turnOff } from '../properties/fsx/generator';
import { serializeOpLog, toFsxops } from '../properties/fsx/oplog';
import {
  OP_CLONE_RANGE, OP_COLLAPSE_RANGE, OP_COPY_RANGE, OP_DEDUPE_RANGE, OP_FALLOCATE, OP_INSERT_RANGE,
  OP_MAPREAD, OP_MAPWRITE, OP_PUNCH_HOLE, OP_ZERO_RANGE, opByName, OPS,
} from '../properties/fsx/ops';
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

export const FSX_FLAGS = {
  adapter: { type: 'string' },
  bs: { type: 'string' },
  folio: { type: 'string' },
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
} as const;

type Values = Record<string, string | boolean | string[] | boolean[] | undefined>;

const str = (v: Values, k: string): string | undefined => v[k] as string | undefined;
const flag = (v: Values, k: string): boolean => v[k] === true;

/** Adapter geometry from --bs / --folio (shared with replay). */
export function geometryFlags(v: Values): AdapterOptions {
  const o: AdapterOptions = {};
  const bs = str(v, 'bs');
  const folio = str(v, 'folio');
  if (bs !== undefined) o.blockSize = parsePow2('--bs', bs, 512, 1 << 20);
  if (folio !== undefined) o.folioSize = parsePow2('--folio', folio, 4096, 1 << 30);
  if (o.blockSize !== undefined && o.folioSize !== undefined && o.folioSize < o.blockSize) {
    throw new UsageError(`--folio ${o.folioSize} is smaller than --bs ${o.blockSize}`);
  }
  return o;
}

/** The default adapter: `reference` when it is registered. */
export function defaultAdapter(): string {
  if (hasAdapter('reference')) return 'reference';
  throw new UsageError('no default adapter: "reference" is not registered in this build; pass --adapter NAME (see iomap-harness list adapters)');
}

/** Create the adapter, with a one-line usage error for any problem with the spec or module. */
export function openAdapter(spec: string, opts: AdapterOptions): FileAdapter {
  try {
    return loadAdapter(spec, opts);
  } catch (e) {
    if (e instanceof AdapterSpecError) throw new UsageError(e.message);
    throw e;
  }
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
  o.polluteEof = (num('pollute-eof', '-e', 0, 1) ?? 0) === 1;
  o.randomOpLen = !flag(v, 'fixed-oplen');
  o.keepSize = !flag(v, 'no-keep-size');
  o.unshare = !flag(v, 'no-unshare');
  o.direct = flag(v, 'direct');
  o.checkFile = flag(v, 'check-file');
  o.sizeChecks = !flag(v, 'no-size-checks');
  o.quiet = flag(v, 'quiet');
  o.debug = flag(v, 'debug');
  o.interleave = !flag(v, 'no-interleave');
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

function safeName(s: string): string {
  return s.replace(/[^A-Za-z0-9_.-]+/g, '_').replace(/^[._]+/, '') || 'adapter';
}

/** Save the failing run's op log (JSON + .fsxops) and return the JSON path. */
function saveLog(r: RunResult, dir: string, adapter: string, seed: number): string {
  const log = r.log();
  const base = path.join(dir, `fsx-${safeName(adapter)}-s${seed}-op${r.failure?.op ?? r.ops}`);
  fs.writeFileSync(base + '.json', serializeOpLog(log));
  fs.writeFileSync(base + '.fsxops', toFsxops(log));
  return base + '.json';
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

export function fsxCommand(args: string[], io: CliIO): number {
  const { values: v } = parseFlags('fsx', args, FSX_FLAGS, false);
  const o = fsxOptionsFrom(v);
  const json = flag(v, 'json');
  const spec = str(v, 'adapter') ?? defaultAdapter();
  const geo = geometryFlags(v);
  const saveDir = prepareSaveDir(str(v, 'save'));
  const lines = new Lines(io);
  if (o.seed === 0) {
    o.seed = (Date.now() ^ (process.pid << 16)) >>> 0 || 1;
    lines.out(`Seed set to ${o.seed}`);
  }
  const adapter = openAdapter(spec, geo);
  let lastProgress = performance.now();
  const t0 = lastProgress;
  const showProgress = io.isTTY && !json && !o.quiet;
  let r: RunResult;
  try {
    r = runFsx(adapter, spec, o, lines, {
      folioSize: geo.folioSize,
      progress: showProgress
        ? (n) => {
          const now = performance.now();
          if (now - lastProgress < 500) return;
          lastProgress = now;
          lines.raw(`\r${n} ops, ${Math.round((n * 1000) / (now - t0))} ops/s`);
        }
        : undefined,
    });
  } catch (e) {
    if (e instanceof FsxUsageError) throw new UsageError(`fsx: ${e.message}`);
    throw e;
  }
  if (showProgress) lines.raw('\r\x1b[K');
  const summary: Record<string, unknown> = {
    command: 'fsx', adapter: spec, seed: o.seed, ops: r.ops, failures: r.failure === null ? 0 : 1,
    opsPerSec: r.opsPerSec, elapsedMs: Math.round(r.elapsedMs),
  };
  let code = EXIT_PASS;
  if (r.failure !== null) {
    for (const l of r.report) lines.out(l);
    if (r.failure.stack !== undefined && o.debug) lines.err(r.failure.stack);
    const dir = saveDir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'iomap-harness-'));
    const saved = saveLog(r, dir, spec, o.seed);
    lines.out(`Log of operations saved to "${saved}"; replay with: iomap-harness replay ${saved}`);
    const f: Record<string, unknown> = { kind: r.failure.kind };
    if (r.failure.rule !== undefined) f.rule = r.failure.rule;
    if (r.failure.offset !== undefined) f.offset = r.failure.offset;
    f.op = r.failure.op;
    f.log = saved;
    summary.failure = f;
    code = r.failure.kind === 'crash' || r.failure.kind === 'hang' ? EXIT_CRASH : EXIT_FAILURE;
  }
  if (json) lines.out(JSON.stringify(summary));
  lines.flush();
  return code;
}
