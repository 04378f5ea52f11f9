/**
 * The fsx op generator: a small seeded PRNG, fsx's options, per-op weights (with the ops a target
 * cannot do turned off, as fsx does at start-up), and fsx's argument rules: offsets and lengths
 * trimmed to the file size or to maxlen (TRIM_OFF_LEN), rounded down to the -r/-w/-t boundaries,
 * block-aligned for collapse/insert/clone/dedupe, and non-overlapping two-range ops found in up to
 * 30 tries (else length 0, which the runner logs as skipped).
 *
 * The generator only proposes ops; whether an op applies to the current file (e.g. a read past EOF)
 * is decided by the runner, as fsx's do_* functions do, so replayed logs follow the same rules.
 * Sequences are deterministic per seed but are not those of C fsx (its random() is glibc's).
 */

import type { Capabilities, FileTarget } from '../../adapters/types';
import {
  FALLOC_FL_COLLAPSE_RANGE, FALLOC_FL_INSERT_RANGE, FALLOC_FL_KEEP_SIZE, FALLOC_FL_PUNCH_HOLE,
  FALLOC_FL_UNSHARE_RANGE, FALLOC_FL_ZERO_RANGE,
} from '../../adapters/types';
import {
  FL_CLOSE_OPEN, FL_DSYNC, FL_FAULT_AT, FL_KEEP_SIZE, FL_RESERVE, FL_NO_MSYNC, FL_POLLUTE, FL_UNSHARE, INTERLEAVE_OPS, POLLUTING_OPS, OP_CLONE_RANGE,
  OP_COLLAPSE_RANGE, OP_COMPLETE_IO, OP_COPY_RANGE, OP_COUNT, OP_CRASH, OP_FAULT_READ, OP_FAULT_WRITE, FAULT_WRITE_ACTIONS, OP_DEDUPE_RANGE,
  OP_EVICT, OP_FALLOCATE, OP_FDATASYNC, OP_FIEMAP, FL_INVALID,
  OP_FSYNC, OP_INSERT_RANGE, OP_MAPREAD, OP_MAPWRITE, OP_PUNCH_HOLE, OP_RACE_PUNCH, OP_RACE_WRITE,
  OP_RACE_WRITEBACK, OP_READ, OP_READ_DIRECT, OP_REMOUNT, OP_SEEK_DATA, OP_SEEK_HOLE, OP_TRUNCATE, OP_WRITE,
  OP_WRITE_DIRECT, OP_WRITE_DIRECT_ASYNC, OP_WRITEBACK, OP_ZERO_RANGE, OPS, OpBuffer,
  OP_READ_DONTCACHE, OP_WRITE_DONTCACHE, OP_WRITE_ATOMIC, OP_EXCHANGE_RANGE,
} from './ops';
import { MAX_OFFSET } from '../oracle/bytes';
import { fileEof, hasPosition, N_EOF } from '../coverage/cells';
import { Guide, GUIDE_ODDS, GUIDE_PERIOD, GUIDE_WARMUP } from '../coverage/guide';
import { Prepared, prepareCell, RECIPE_MAX_OPS } from './recipe';

/**
 * xoshiro128** (Blackman & Vigna), seeded through splitmix32. 32-bit state words, Math.imul only:
 * fast, deterministic across platforms, good enough statistically for fuzzing.
 */
export class Prng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(seed: number) {
    let s = seed >>> 0;
    const mix = (): number => {
      s = (s + 0x9e3779b9) | 0;
      let z = s;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
      return (z ^ (z >>> 16)) >>> 0;
    };
    // Kept as int32 (| 0): the steps below are 32-bit bit operations, so the stream is the same,
    // and the fields stay small integers from the start (an unsigned word above 2^31 would make
    // them doubles until the first step, and optimized code of next32 would deoptimize on that).
    this.a = mix() | 0;
    this.b = mix() | 0;
    this.c = mix() | 0;
    this.d = mix() | 0;
    if ((this.a | this.b | this.c | this.d) === 0) this.a = 1;
  }

  /** Uniform 32-bit unsigned integer. */
  next32(): number {
    const b = this.b;
    const r = Math.imul(b, 5);
    const result = Math.imul((r << 7) | (r >>> 25), 9) >>> 0;
    const t = b << 9;
    this.c ^= this.a;
    this.d ^= b;
    this.b ^= this.c;
    this.a ^= this.d;
    this.c ^= t;
    this.d = (this.d << 11) | (this.d >>> 21);
    return result;
  }

  /** Integer in [0, n) for 0 < n ≤ 2^53 (0 when n ≤ 0). Like fsx's random() % n. */
  below(n: number): number {
    if (n <= 0) return 0;
    if (n <= 0x100000000) return this.next32() % n;
    return ((this.next32() & 0x1fffff) * 0x100000000 + this.next32()) % n;
  }
}

/** Everything that shapes an fsx run (fsx's flags; CLI names in comments). */
export interface FsxOptions {
  /** -N: number of ops. */
  numOps: number;
  /** -S: PRNG seed (also seeds the data pattern). */
  seed: number;
  /** -l: largest file size (default 256 KiB). */
  maxlen: number;
  /** -o: largest op length (default 64 KiB). */
  maxoplen: number;
  /** -r / -w / -t: read / write / truncate offset boundaries (default 1). */
  readbdy: number;
  writebdy: number;
  truncbdy: number;
  /** -c P: close/reopen with probability 1/P after an op (0 = never). */
  closeprob: number;
  /** false with -O: every op uses exactly maxoplen. */
  randomOpLen: boolean;
  /** false with -K: no KEEP_SIZE variants. */
  keepSize: boolean;
  /** false with -u: no UNSHARE_RANGE fallocates. */
  unshare: boolean;
  /** -Z: reads and writes go through O_DIRECT (read/write become read_direct/write_direct). */
  direct: boolean;
  /** Per-op weights, indexed by op code (see OPS). */
  weights: number[];
  /** -X: after every op read the whole file back (and the EOF page through mmap). */
  checkFile: boolean;
  /** false with -n: no size check after every op. */
  sizeChecks: boolean;
  /** -b N: ops 1..N-1 only update the oracle; the file image is written before op N (0 = off). */
  simulatedOps: number;
  /**
   * -e 1: before size changes, store junk through mmap past EOF in the EOF page (fsx's EOF
   * pollution). 'auto' (the command's default when -e is not given): on wherever the target can
   * store through a mapping, off elsewhere; runFsx resolves it before anything runs.
   */
  polluteEof: boolean | 'auto';
  /** -q: no "skipping ..." lines and no "disabling" lines. */
  quiet: boolean;
  /** -d: print every op as it runs. */
  debug: boolean;
  /** -p N: print every Nth op (0 = off). */
  progressInterval: number;
  /** Ops shown in a failure's LOG DUMP (the full log is in the saved op log). */
  logDumpOps: number;
  /**
   * false with --no-interleave: no interleaving ops and no unsynced mmap stores. They are only
   * generated where the target exposes FileTarget.interleave anyway.
   */
  interleave: boolean;
  /**
   * Writes and mapwrites with a faulting user buffer, and some with capped reservations (the fsx
   * command: on unless --no-short-copies). Only generated where the target can fake the fault
   * (FileTarget.faults) anyway.
   */
  shortCopies: boolean;
  /**
   * false with --no-guide: no coverage-guided choices (properties/coverage/guide.ts). Guided runs
   * draw some ops toward states not reached yet; the same seed still gives the same ops.
   */
  guide: boolean;
  /** --coverage: record state coverage (the engine also records it whenever guidance is on). */
  coverage?: boolean;
  /**
   * Now and then an op with arguments a correct target must refuse (FL_INVALID, docs/fsx.md "Bad
   * arguments"): the runner wants the errno and checks nothing changed. Default on.
   */
  invalidArgs: boolean;
}

/** Tries to give a guided op a range with the EOF relation it aims at (then it keeps the last). */
const EOF_TRIES = 8;

/** One write or mapwrite in this many is a short copy (where the target can make one). */
export const SHORT_COPY_ONE_IN = 8;

/**
 * Default weights: fsx's own ops and our file-level extensions 1 each; the interleaving steps
 * (generated only where the target has FileTarget.interleave) as tuned in docs/fsx.md.
 */
export const DEFAULT_INTERLEAVE_WEIGHTS: Readonly<Record<number, number>> = {
  [OP_WRITEBACK]: 1,
  [OP_COMPLETE_IO]: 2,
  [OP_EVICT]: 1,
  [OP_RACE_WRITE]: 1,
  [OP_RACE_PUNCH]: 1,
  [OP_RACE_WRITEBACK]: 1,
  [OP_WRITE_DIRECT_ASYNC]: 1,
};

export function defaultWeights(): number[] {
  return OPS.map((o) => (o.interleave ? DEFAULT_INTERLEAVE_WEIGHTS[o.code] ?? 1 : 1));
}

/** xfstests fsx's newer ops (op log version 5): on by default where the target has them. */
export const NEWIO_OPS: readonly number[] = [OP_READ_DONTCACHE, OP_WRITE_DONTCACHE, OP_WRITE_ATOMIC, OP_EXCHANGE_RANGE];

/**
 * The default weights without the newer ops: the op mix (and so the op stream of a seed) of
 * op log version 4, for runs that pin a stream made before those ops existed.
 */
export function classicWeights(): number[] {
  const w = defaultWeights();
  for (const code of NEWIO_OPS) w[code] = 0;
  return w;
}

export function defaultOptions(): FsxOptions {
  return {
    numOps: 100000,
    seed: 1,
    maxlen: 256 * 1024,
    maxoplen: 64 * 1024,
    readbdy: 1,
    writebdy: 1,
    truncbdy: 1,
    closeprob: 0,
    randomOpLen: true,
    keepSize: true,
    unshare: true,
    direct: false,
    weights: defaultWeights(),
    checkFile: false,
    sizeChecks: true,
    simulatedOps: 0,
    polluteEof: false,
    quiet: false,
    debug: false,
    progressInterval: 0,
    logDumpOps: 100,
    interleave: true,
    // Library default off (runs keep their sequences); the fsx command turns them on (fsxOptionsFrom).
    shortCopies: false,
    guide: true,
    invalidArgs: true,
  };
}

/** Check option values; returns a one-line problem description or null. */
export function validateOptions(o: FsxOptions): string | null {
  const int = (v: number, lo: number, hi: number) => Number.isInteger(v) && v >= lo && v <= hi;
  if (!int(o.numOps, 0, MAX_OFFSET)) return `-N must be a non-negative integer, got ${o.numOps}`;
  if (!int(o.seed, 0, 0xffffffff)) return `-S must be an integer in [0, 2^32-1], got ${o.seed}`;
  if (!int(o.maxlen, 1, MAX_OFFSET)) return `-l must be an integer in [1, 2^53-1], got ${o.maxlen}`;
  if (!int(o.maxoplen, 0, 1 << 30)) return `-o must be an integer in [0, 1 GiB], got ${o.maxoplen}`;
  for (const [flag, v] of [['-r', o.readbdy], ['-w', o.writebdy], ['-t', o.truncbdy]] as const) {
    if (!int(v, 1, 1 << 30)) return `${flag} must be an integer in [1, 1 GiB], got ${v}`;
  }
  if (!int(o.closeprob, 0, 1 << 28)) return `-c must be an integer in [0, 2^28], got ${o.closeprob}`;
  if (!int(o.simulatedOps, 0, MAX_OFFSET)) return `-b must be a positive integer, got ${o.simulatedOps + 1}`;
  if (!int(o.progressInterval, 0, MAX_OFFSET)) return `-p must be a non-negative integer, got ${o.progressInterval}`;
  if (o.weights.length !== OP_COUNT) return `weights: expected ${OP_COUNT} entries`;
  for (let i = 0; i < OP_COUNT; i++) {
    if (!int(o.weights[i], 0, 1000)) return `weight of ${OPS[i].name} must be an integer in [0, 1000], got ${o.weights[i]}`;
  }
  return null;
}

/**
 * Turn op `code` off in a weight table, as fsx does: a mapped read/write that cannot run becomes a
 * plain read/write (its weight moves over), every other op simply gets weight 0.
 */
export function turnOff(weights: number[], code: number): void {
  if (code === OP_MAPREAD || code === OP_READ_DONTCACHE) weights[OP_READ] += weights[code];
  if (code === OP_MAPWRITE || code === OP_WRITE_DONTCACHE) weights[OP_WRITE] += weights[code];
  weights[code] = 0;
}

/** Why an op cannot run on this target ("clone range", ...), or null when it can. */
function unsupported(code: number, caps: Capabilities, t: FileTarget): string | null {
  const mode = (m: number) => caps.fallocModes.includes(m) && typeof t.fallocate === 'function';
  switch (code) {
    case OP_MAPREAD: return caps.mmap && typeof t.mapread === 'function' ? null : 'mapped reads';
    case OP_MAPWRITE: return caps.mmap && typeof t.mapwrite === 'function' ? null : 'mapped writes';
    case OP_FALLOCATE: return mode(0) ? null : 'fallocate';
    case OP_PUNCH_HOLE: return mode(FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE) ? null : 'punch hole';
    case OP_ZERO_RANGE: return mode(FALLOC_FL_ZERO_RANGE) ? null : 'zero range';
    case OP_COLLAPSE_RANGE: return mode(FALLOC_FL_COLLAPSE_RANGE) ? null : 'collapse range';
    case OP_INSERT_RANGE: return mode(FALLOC_FL_INSERT_RANGE) ? null : 'insert range';
    case OP_CLONE_RANGE: return caps.clone && typeof t.cloneRange === 'function' ? null : 'clone range';
    case OP_DEDUPE_RANGE: return caps.dedupe && typeof t.dedupeRange === 'function' ? null : 'dedupe range';
    case OP_COPY_RANGE: return caps.copyRange && typeof t.copyRange === 'function' ? null : 'copy range';
    case OP_READ_DIRECT: return caps.directIO && typeof t.directRead === 'function' ? null : 'direct I/O reads';
    case OP_WRITE_DIRECT: return caps.directIO && typeof t.directWrite === 'function' ? null : 'direct I/O writes';
    case OP_SEEK_DATA:
    case OP_SEEK_HOLE:
      return caps.seek && typeof t.seekData === 'function' && typeof t.seekHole === 'function' ? null : 'SEEK_DATA/SEEK_HOLE';
    case OP_FIEMAP: return caps.fiemap && typeof t.fiemap === 'function' ? null : 'FIEMAP';
    case OP_READ_DONTCACHE: return caps.dontcache === true && typeof t.readDontcache === 'function' ? null : 'dontcache IO (RWF_DONTCACHE reads)';
    case OP_WRITE_DONTCACHE: return caps.dontcache === true && typeof t.writeDontcache === 'function' ? null : 'dontcache IO (RWF_DONTCACHE writes)';
    case OP_WRITE_ATOMIC:
      return caps.atomicWrite !== undefined && caps.directIO && typeof t.atomicWrite === 'function' ? null : 'atomic writes (RWF_ATOMIC)';
    case OP_EXCHANGE_RANGE: return caps.exchangeRange === true && typeof t.exchangeRange === 'function' ? null : 'exchange range';
    case OP_WRITEBACK:
    case OP_COMPLETE_IO:
    case OP_EVICT:
    case OP_RACE_WRITEBACK:
      return t.interleave !== undefined ? null : 'interleaving steps';
    // Without interleaving steps these run as their plain twins (runner.ts).
    case OP_RACE_PUNCH: return unsupported(OP_PUNCH_HOLE, caps, t);
    case OP_CRASH: return typeof t.crash === 'function' ? null : 'power cuts (crash)';
    case OP_REMOUNT: return canRemount(caps, t) ? null : 'remount';
    case OP_FAULT_READ:
      return t.deviceFaults !== undefined ? null : 'device faults (the harness does not own a device under this file, or cannot tell its blocks)';
    case OP_FAULT_WRITE:
      if (t.deviceFaults === undefined) return 'device faults (the harness does not own a device under this file, or cannot tell its blocks)';
      if (t.deviceFaults.noWriteFaults !== undefined) return `device write faults (${t.deviceFaults.noWriteFaults})`;
      return t.interleave !== undefined ? null : 'device write faults (they need interleaving steps to write back in the background)';
    case OP_WRITE_DIRECT_ASYNC: return unsupported(OP_WRITE_DIRECT, caps, t);
    default: return null;
  }
}

/** The target declares a clean unmount + mount and has the method (process servers always have it). */
function canRemount(caps: Capabilities, t: FileTarget): boolean {
  return caps.remount && typeof t.remount === 'function';
}

/** Whether the generator may use interleaving steps (and unsynced mmap stores) on this target. */
function interleaveOn(o: FsxOptions, t: FileTarget): boolean {
  return o.interleave && t.interleave !== undefined;
}

/**
 * Why a recorded op (code + flags) cannot run on this target, or null. Replay uses it to skip such
 * ops, as fsx does for ops it disabled at start-up.
 */
export function unsupportedOp(code: number, flags: number, caps: Capabilities, t: FileTarget): string | null {
  const why = unsupported(code, caps, t);
  if (why !== null) return why;
  const keep = (flags & FL_KEEP_SIZE) !== 0 ? FALLOC_FL_KEEP_SIZE : 0;
  if (code === OP_FALLOCATE && keep !== 0 && (flags & FL_UNSHARE) === 0 && !caps.fallocModes.includes(keep)) return 'fallocate mode FALLOC_FL_KEEP_SIZE';
  if (code === OP_FALLOCATE && (flags & FL_UNSHARE) !== 0 && !caps.fallocModes.includes(FALLOC_FL_UNSHARE_RANGE | keep)) return 'unshare range';
  if (code === OP_ZERO_RANGE && keep !== 0 && !caps.fallocModes.includes(FALLOC_FL_ZERO_RANGE | keep)) return 'zero range with FALLOC_FL_KEEP_SIZE';
  return null;
}

/** The weights actually used, the fsx-style "disabling" messages, and the variant switches. */
export interface ResolvedOps {
  weights: number[];
  messages: string[];
  keepSize: boolean;
  zeroKeepSize: boolean;
  unshare: boolean;
  /** Unsynced mmap stores (FL_NO_MSYNC on mapwrite, and on -e pollution) may be generated. */
  noMsync: boolean;
  /** Some writes are O_DSYNC (with power cuts on: what they acknowledge is then checked). */
  dsync: boolean;
  /**
   * Short copies: some writes and mapwrites copy from a user buffer that faults part-way
   * (op log `faultAt`), where the target can fake the fault (FileTarget.faults).
   */
  shortCopies: boolean;
}

/**
 * Apply -Z, then the target's capabilities (an unsupported op is turned off; a mapped op falls back
 * to its plain twin like fsx's -R/-W; -Z without direct I/O support is an error for the caller).
 */
export function resolveOps(o: FsxOptions, caps: Capabilities, t: FileTarget, adapterName: string): ResolvedOps {
  const w = o.weights.slice();
  const messages: string[] = [];
  // Interleaving steps exist only where the target exposes them: off without a word otherwise.
  const il = interleaveOn(o, t);
  if (!il) for (const code of INTERLEAVE_OPS) w[code] = 0;
  // Power cuts, likewise, only where the target can simulate them (FileTarget.crash).
  if (typeof t.crash !== 'function') w[OP_CRASH] = 0;
  // Remounts, likewise, only where the target declares them.
  if (!canRemount(caps, t)) w[OP_REMOUNT] = 0;
  if (il && w[OP_WRITE_DIRECT_ASYNC] > 0 && !(caps.directIO && typeof t.interleave?.directWriteAsync === 'function')) w[OP_WRITE_DIRECT_ASYNC] = 0;
  if (o.direct) {
    // fsx: -Z excludes dontcache I/O (the ops run as plain reads and writes, here direct ones).
    turnOff(w, OP_READ_DONTCACHE);
    turnOff(w, OP_WRITE_DONTCACHE);
    w[OP_READ_DIRECT] += w[OP_READ];
    w[OP_WRITE_DIRECT] += w[OP_WRITE];
    w[OP_READ] = 0;
    w[OP_WRITE] = 0;
  }
  for (let code = 0; code < OP_COUNT; code++) {
    if (w[code] === 0) continue;
    const why = unsupported(code, caps, t);
    if (why === null) continue;
    const msg = `main: adapter ${adapterName} does not support ${why}, disabling!`;
    if (!messages.includes(msg)) messages.push(msg);
    turnOff(w, code);
  }
  const mode = (m: number) => caps.fallocModes.includes(m);
  let keepSize = o.keepSize;
  if (keepSize && w[OP_FALLOCATE] > 0 && !mode(FALLOC_FL_KEEP_SIZE)) {
    messages.push(`main: adapter ${adapterName} does not support fallocate mode FALLOC_FL_KEEP_SIZE, disabling!`);
    keepSize = false;
  }
  let zeroKeepSize = o.keepSize;
  if (zeroKeepSize && w[OP_ZERO_RANGE] > 0 && !mode(FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE)) {
    messages.push(`main: adapter ${adapterName} does not support zero range with FALLOC_FL_KEEP_SIZE, disabling!`);
    zeroKeepSize = false;
  }
  let unshare = o.unshare && w[OP_FALLOCATE] > 0;
  if (unshare && !(mode(FALLOC_FL_UNSHARE_RANGE) && (!keepSize || mode(FALLOC_FL_UNSHARE_RANGE | FALLOC_FL_KEEP_SIZE)))) {
    messages.push(`main: adapter ${adapterName} does not support unshare range, disabling!`);
    unshare = false;
  }
  const noMsync = il && caps.mmap && typeof t.mapwrite === 'function';
  const shortCopies = o.shortCopies && canShortCopy(t);
  return { weights: w, messages, keepSize, zeroKeepSize, unshare, noMsync, dsync: w[OP_CRASH] > 0, shortCopies };
}

/** The target can make a write's and a store's user buffer fault (FileTarget.faults). */
export function canShortCopy(t: FileTarget): boolean {
  return typeof t.faults?.pwriteFaulting === 'function' && typeof t.faults.mapwriteFaulting === 'function';
}

function lcm(a: number, b: number): number {
  let x = a;
  let y = b;
  while (y !== 0) [x, y] = [y, x % y];
  return (a / x) * b;
}

/** Ops that sometimes get arguments a correct target must refuse (FL_INVALID). */
const INVALID_CODES: ReadonlySet<number> = new Set([
  OP_COLLAPSE_RANGE, OP_INSERT_RANGE, OP_CLONE_RANGE, OP_DEDUPE_RANGE, OP_READ_DIRECT, OP_WRITE_DIRECT, OP_WRITE, OP_TRUNCATE,
  OP_FALLOCATE,
]);
/** One in INVALID_RATE of those ops. */
const INVALID_RATE = 16;
/** Bytes past s_maxbytes the size-limit cases reach (an op log must still hold the numbers). */
const LIMIT_ROOM = 8192;

/** Proposes ops into an OpBuffer, fsx's test() without the I/O. */
export class Generator {
  private readonly rng: Prng;
  private pick: Uint8Array = new Uint8Array(0);
  private readonly o: FsxOptions;
  private readonly bs: number;
  private readonly dioRead: number;
  private readonly dioWrite: number;
  private keepSize: boolean;
  private zeroKeepSize: boolean;
  private unshare: boolean;
  private readonly noMsync: boolean;
  private readonly dsync: boolean;
  /** Some writes and mapwrites get a faulting user buffer (FL_FAULT_AT): ResolvedOps.shortCopies. */
  private readonly shortCopies: boolean;
  private readonly closeLimit: number;
  /** O_DIRECT alignment (1: no direct I/O, or no alignment rule to break). */
  private readonly dioAlign: number;
  /** s_maxbytes, when ops past it can be written in an op log (else 0: no such bad arguments). */
  private readonly sizeLimit: number;
  /** statx atomic write unit range (write_atomic's lengths), when the target has atomic writes. */
  private readonly awu: { unitMin: number; unitMax: number } | null;
  private readonly invalidOn: boolean;
  readonly weights: number[];
  /** Coverage guidance (null: off) and the ops generated since it last looked at the map. */
  private readonly guide: Guide | null;
  private sinceRefresh = 0;
  /** The op (of this round) guidance starts at: the ops before it are the unguided sequence. */
  private readonly guideFrom: number;
  /** A guided op's position window (its recipe's focus block), or null: positions as fsx draws them. */
  private win: Prepared | null = null;

  constructor(o: FsxOptions, caps: Capabilities, ops: ResolvedOps, guide: Guide | null = null) {
    this.guide = guide;
    this.guideFrom = Math.floor(o.numOps * GUIDE_WARMUP);
    this.o = o;
    this.rng = new Prng(o.seed);
    this.bs = caps.blockSize;
    this.dioAlign = caps.directIO ? Math.max(1, caps.dioAlign) : 1;
    this.sizeLimit = caps.maxFileSize + LIMIT_ROOM <= MAX_OFFSET ? caps.maxFileSize : 0;
    this.invalidOn = o.invalidArgs;
    this.awu = caps.atomicWrite ?? null;
    const dio = caps.directIO ? Math.max(1, caps.dioAlign) : 1;
    this.dioRead = lcm(o.readbdy, dio);
    this.dioWrite = lcm(o.writebdy, dio);
    this.keepSize = ops.keepSize;
    this.zeroKeepSize = ops.zeroKeepSize;
    this.unshare = ops.unshare;
    this.noMsync = ops.noMsync;
    this.dsync = ops.dsync;
    this.shortCopies = ops.shortCopies;
    this.closeLimit = o.closeprob > 0 ? 0x10000000 / o.closeprob : 0;
    this.weights = ops.weights.slice();
    this.rebuild();
  }

  /** Total weight; 0 means nothing can be generated. */
  get totalWeight(): number {
    return this.pick.length;
  }

  /** Turn an op off (after the target answered EOPNOTSUPP). */
  disable(code: number): void {
    turnOff(this.weights, code);
    this.rebuild();
  }

  private rebuild(): void {
    let total = 0;
    for (const x of this.weights) total += x;
    this.pick = new Uint8Array(total);
    let k = 0;
    for (let code = 0; code < OP_COUNT; code++) for (let j = 0; j < this.weights[code]; j++) this.pick[k++] = code;
  }

  /** The op being built (fields, so that building one allocates nothing). */
  private off = 0;
  private len = 0;
  private dst = 0;

  /**
   * A position below `limit`, as fsx draws it; for a guided op with a recipe, inside the window on
   * its focus block when the window starts below `limit`.
   */
  private pos(limit: number): number {
    const w = this.win;
    if (w === null || w.lo >= limit) return this.rng.below(limit);
    return w.lo + this.rng.below(Math.min(w.hi, limit) - w.lo);
  }

  /** fsx's TRIM_OFF_LEN: a random offset below `limit` (0 if none), the length cut to end by `limit`. */
  private trimOffLen(limit: number): void {
    this.off = this.pos(limit);
    if (this.off + this.len > limit) this.len = Math.max(0, limit - this.off);
  }

  /**
   * Append the next op, given the oracle's current file size. A race op comes with the buffered
   * write it runs inside (two ops), unless that would pass -N (then it is a plain write).
   */
  next(buf: OpBuffer, fileSize: number): void {
    const rng = this.rng;
    const o = this.o;
    const rv = rng.next32();
    const flags0 = this.closeLimit > 0 && rv >>> 4 < this.closeLimit ? FL_CLOSE_OPEN : 0;
    const g = buf.count >= this.guideFrom ? this.guide : null;
    let want = -1;
    let code: number;
    if (g !== null && this.sinceRefresh-- === 0) {
      g.refresh(this.weights);
      this.sinceRefresh = GUIDE_PERIOD - 1;
    }
    let cell = -1;
    if (g !== null && g.pick.length > 0 && rng.below(GUIDE_ODDS) === 0) {
      code = g.pick[rng.below(g.pick.length)];
      const cells = g.missing[code];
      cell = cells[rng.below(cells.length)];
      g.aimed(code, cell);
      want = hasPosition(code) ? cell % N_EOF : -1;
      if (!g.deep) cell = -1; // file cells: the EOF relation is all there is to aim at
    } else {
      code = this.pick[rng.next32() % this.pick.length];
    }
    if ((code === OP_RACE_WRITE || code === OP_RACE_PUNCH || code === OP_RACE_WRITEBACK) && buf.count + 2 > o.numOps) code = OP_WRITE;
    if (code === OP_RACE_WRITE || code === OP_RACE_PUNCH || code === OP_RACE_WRITEBACK) {
      // A race aimed at a state cell: its write (and so the race inside it) starts on the prepared block.
      if (cell >= 0 && buf.count + RECIPE_MAX_OPS + 2 <= o.numOps) this.prepare(buf, code, cell, fileSize);
      this.len = o.randomOpLen ? rng.below(o.maxoplen + 1) : o.maxoplen;
      this.off = 0;
      this.race(buf, code, flags0, this.win?.size ?? fileSize);
      this.win = null;
      return;
    }
    // Now and then arguments a correct target must refuse (no EOF pollution before those).
    if (this.invalidOn && INVALID_CODES.has(code) && rng.below(INVALID_RATE) === 0 && this.invalid(code, fileSize)) {
      buf.push(code, this.off, this.len, this.dst, flags0 | FL_INVALID);
      return;
    }
    // A state cell to reach: prepare the block under the op first (recipe.ts), then draw the op's
    // position on that block.
    if (cell >= 0 && buf.count + RECIPE_MAX_OPS + 1 <= o.numOps && this.prepare(buf, code, cell, fileSize)) fileSize = this.win!.size;
    let flags = this.shape(code, flags0, fileSize);
    for (let t = 0; want >= 0 && t < EOF_TRIES && fileEof(code, this.off, this.len, this.dst, fileSize) !== want; t++) {
      flags = this.shape(code, flags0, fileSize);
    }
    this.win = null;
    // Unsynced EOF pollution: with -e on half the size changers, else (interleaving on) a quarter.
    if (this.noMsync && code !== OP_MAPWRITE && POLLUTING_OPS.has(code)) {
      if (o.polluteEof !== true && rng.below(4) === 0) flags |= FL_POLLUTE | (rng.below(2) === 1 ? FL_NO_MSYNC : 0);
      else if (o.polluteEof === true && rng.below(2) === 1) flags |= FL_NO_MSYNC;
    }
    buf.push(code, this.off, this.len, this.dst, flags);
  }

  /** Push the recipe for state cell `cell` of op `code` (recipe.ts) and keep its window; false without one. */
  private prepare(buf: OpBuffer, code: number, cell: number, fileSize: number): boolean {
    const c = { rng: this.rng, bs: this.bs, folioSize: this.guide!.folioSize, maxlen: this.o.maxlen, keepSize: this.keepSize, weights: this.weights };
    this.win = prepareCell(c, buf, code, cell, fileSize);
    return this.win !== null;
  }

  /** fsx's argument rules for op `code` into off/len/dst; returns the op's flags. */
  private shape(code: number, flags0: number, fileSize: number): number {
    const rng = this.rng;
    const o = this.o;
    let flags = flags0;
    this.len = o.randomOpLen ? rng.below(o.maxoplen + 1) : o.maxoplen;
    this.off = 0;
    this.dst = 0;
    const maxlen = o.maxlen;
    const bs = this.bs;
    switch (code) {
      case OP_READ:
      case OP_MAPREAD:
        this.trimOffLen(fileSize);
        this.off -= this.off % o.readbdy;
        break;
      case OP_READ_DIRECT:
        this.off = this.pos(fileSize);
        this.off -= this.off % this.dioRead;
        this.len -= this.len % this.dioRead;
        break;
      case OP_READ_DONTCACHE:
        this.trimOffLen(fileSize);
        this.off -= this.off % o.readbdy;
        break;
      case OP_WRITE_DONTCACHE:
        this.trimOffLen(maxlen);
        this.off -= this.off % o.writebdy;
        break;
      case OP_WRITE_ATOMIC:
        this.atomicArgs();
        break;
      case OP_EXCHANGE_RANGE:
        this.dst = this.destRange(code, fileSize);
        break;
      case OP_WRITE:
      case OP_MAPWRITE:
        this.trimOffLen(maxlen);
        this.off -= this.off % o.writebdy;
        if (code === OP_MAPWRITE && this.noMsync && rng.below(2) === 1) flags |= FL_NO_MSYNC;
        if (code === OP_WRITE && this.dsync && rng.below(8) === 0) flags |= FL_DSYNC;
        if (this.shortCopies && (flags & FL_DSYNC) === 0 && this.len > 0) {
          const r = rng.below(4 * SHORT_COPY_ONE_IN);
          if (r < 4) {
            flags |= FL_FAULT_AT;
            this.dst = this.faultByte(this.off, this.len);
          } else if (r === 4) {
            // A short write of the other kind: the filesystem runs out of delalloc reservations
            // part-way (ENOSPC after `dst` more blocks; SIGBUS for a store).
            flags |= FL_RESERVE;
            this.dst = rng.below(4);
          }
        }
        break;
      case OP_WRITE_DIRECT_ASYNC: {
        // Block aligned (a sub-block one would be waited for at once), mostly inside EOF.
        const al = lcm(this.dioWrite, bs);
        this.trimOffLen(fileSize >= al && rng.below(4) !== 0 ? fileSize : maxlen);
        this.off -= this.off % al;
        this.len -= this.len % al;
        break;
      }
      case OP_WRITEBACK:
        this.len = 0;
        break;
      case OP_COMPLETE_IO:
        this.off = rng.below(16);
        this.len = 0;
        break;
      case OP_FAULT_READ:
        // A range inside EOF; evict first or not (a dirty, partly uptodate folio keeps its
        // uptodate blocks: the read then reads only the others), read through mmap or not.
        this.trimOffLen(fileSize);
        this.dst = rng.below(4);
        break;
      case OP_FAULT_WRITE:
        this.trimOffLen(fileSize);
        this.dst = rng.below(FAULT_WRITE_ACTIONS.length);
        break;
      case OP_CRASH:
        // The selector of the crash state: which cached writes land, whole or torn.
        this.off = rng.next32();
        this.len = 0;
        break;
      case OP_EVICT:
        this.off = this.pos(fileSize + bs);
        this.len = 0;
        break;
      case OP_REMOUNT:
        this.len = 0;
        break;
      case OP_WRITE_DIRECT:
        this.trimOffLen(maxlen);
        this.off -= this.off % this.dioWrite;
        this.len -= this.len % this.dioWrite;
        if (this.dsync && rng.below(4) === 0) flags |= FL_DSYNC;
        break;
      case OP_TRUNCATE:
        // Guided: the new size falls in the prepared block (its tail is what truncate zeroes).
        this.len = this.pos(maxlen);
        this.len -= this.len % o.truncbdy;
        break;
      case OP_FALLOCATE:
        if (this.len > 0) {
          if (this.keepSize && rng.below(2) === 1) flags |= FL_KEEP_SIZE;
          if (this.unshare && rng.below(2) === 1) flags |= FL_UNSHARE;
        }
        this.trimOffLen(maxlen);
        break;
      case OP_PUNCH_HOLE:
        this.trimOffLen(fileSize);
        break;
      case OP_ZERO_RANGE:
        if (this.len > 0 && this.zeroKeepSize && rng.below(2) === 1) flags |= FL_KEEP_SIZE;
        this.trimOffLen(maxlen);
        break;
      case OP_COLLAPSE_RANGE:
        this.trimOffLen(fileSize - 1);
        this.off -= this.off % bs;
        this.len -= this.len % bs;
        break;
      case OP_INSERT_RANGE:
        this.off = this.pos(fileSize);
        if (fileSize + this.len > maxlen) this.len = Math.max(0, maxlen - fileSize);
        this.off -= this.off % bs;
        this.len -= this.len % bs;
        break;
      case OP_CLONE_RANGE:
      case OP_DEDUPE_RANGE:
      case OP_COPY_RANGE:
        this.dst = this.destRange(code, fileSize);
        break;
      case OP_FSYNC:
      case OP_FDATASYNC:
        this.len = 0;
        break;
      case OP_SEEK_DATA:
      case OP_SEEK_HOLE:
        this.off = this.pos(fileSize + bs);
        this.len = 0;
        break;
      case OP_FIEMAP:
        this.off = this.pos(fileSize + bs);
        // A quarter of them (by length, no extra draw) ask past every extent the run can make
        // (twice -l), as filefrag's whole-file query does: the runner then wants LAST at the end.
        if (this.len % 4 === 0) this.len = Math.max(1, Math.min(MAX_OFFSET, 2 * maxlen) - this.off);
        break;
    }
    return flags;
  }

  /**
   * Arguments for `code` that a correct target must refuse (docs/fsx.md "Bad arguments"), into
   * off/len/dst; false when none fits this target and file (the op is then built as usual).
   * Each draws a variant: block-unaligned or EOF-reaching collapse/insert, clone/dedupe with
   * unaligned offsets, an unaligned tail inside the file, a range past EOF or overlapping ranges,
   * misaligned O_DIRECT, and writes, truncates and allocations past s_maxbytes.
   */
  private invalid(code: number, size: number): boolean {
    const rng = this.rng;
    const bs = this.bs;
    const up = (x: number) => Math.ceil(x / bs) * bs;
    const down = (x: number) => x - (x % bs);
    const sub = () => 1 + rng.below(bs - 1); // a non-zero offset inside a block
    const blocks = (k: number) => bs * (1 + rng.below(k));
    const lim = this.sizeLimit;
    this.dst = 0;
    const v = rng.next32();
    switch (code) {
      case OP_COLLAPSE_RANGE:
      case OP_INSERT_RANGE: {
        if (size === 0 && code === OP_COLLAPSE_RANGE) return false;
        const at = size > 0 ? down(rng.below(size)) : 0;
        const kind = v % 3;
        if (kind === 0 && bs > 1) {
          // Not block aligned: the offset or the length.
          this.off = at + ((v & 8) !== 0 ? sub() : 0);
          this.len = blocks(4) + ((v & 8) === 0 ? sub() : 0);
        } else if (code === OP_COLLAPSE_RANGE) {
          // Reaching (or passing) EOF.
          this.off = at;
          this.len = up(size - at) + bs * rng.below(2);
        } else if (kind === 2 && lim > 0 && size > 0) {
          // Growing the file past s_maxbytes.
          this.off = at;
          this.len = up(lim - size + 1);
        } else {
          // At or past EOF.
          this.off = up(size) + bs * rng.below(3);
          this.len = blocks(4);
        }
        return true;
      }
      case OP_CLONE_RANGE:
      case OP_DEDUPE_RANGE: {
        if (size === 0) return false;
        const at = down(rng.below(size));
        const room = size - at;
        this.off = at;
        this.len = Math.min(up(room), blocks(4));
        this.dst = down(rng.below(this.o.maxlen));
        switch (v % 5) {
          case 0: if (bs === 1) return false; this.off += sub(); this.len = Math.min(this.len, Math.max(1, size - this.off)); break;
          case 1: if (bs === 1) return false; this.dst += sub(); break;
          case 2:
            // An unaligned tail that does not end at EOF: clone refuses it (dedupe would round it
            // down, so dedupe gets a range past EOF instead).
            if (code === OP_CLONE_RANGE && bs > 1 && room > bs + 1) {
              this.len = Math.min(down(room - 1), bs * (1 + rng.below(3)));
              if (this.len === 0 || this.off + this.len >= size - 1) return false;
              this.len += 1 + rng.below(Math.min(bs - 1, size - this.off - this.len - 1));
              break;
            }
            this.len = up(room) + bs;
            break;
          case 3:
            this.len = up(room) + bs * (1 + rng.below(2)); // the source runs past EOF
            break;
          default:
            // Overlapping ranges in the one file.
            this.len = Math.min(down(room) || bs, blocks(4));
            if (this.len > room) return false;
            this.dst = this.off + bs * rng.below(Math.max(1, this.len / bs));
            if (this.dst === this.off && (v & 16) !== 0 && this.off >= bs && this.len > bs) this.dst -= bs;
            break;
        }
        if (code === OP_DEDUPE_RANGE && v % 5 === 1 && this.dst >= size) this.dst = down(rng.below(size)) + sub();
        return true;
      }
      case OP_READ_DIRECT:
      case OP_WRITE_DIRECT: {
        const al = this.dioAlign;
        if (al === 1) return false;
        // A read at or past EOF returns 0 before any alignment check: stay inside EOF.
        const limit = code === OP_READ_DIRECT ? size : this.o.maxlen;
        if (limit <= al) return false;
        const a = rng.below(limit - al);
        this.off = a - (a % al);
        this.len = al * (1 + rng.below(8));
        if ((v & 1) === 0) this.off += 1 + rng.below(al - 1);
        else this.len += 1 + rng.below(al - 1);
        return true;
      }
      case OP_WRITE:
        if (lim === 0) return false;
        this.off = lim + rng.below(LIMIT_ROOM / 2);
        this.len = 1 + rng.below(LIMIT_ROOM / 2);
        return true;
      case OP_TRUNCATE:
        if (lim === 0) return false;
        this.off = 0;
        this.len = lim + 1 + rng.below(LIMIT_ROOM - 1);
        return true;
      case OP_FALLOCATE:
        if (lim === 0 || lim < 2 * bs) return false;
        this.off = down(lim - 1) - bs * rng.below(2);
        this.len = lim + blocks(2) - this.off;
        return true;
      default:
        return false;
    }
  }

  /**
   * Where a short copy's user buffer faults (op log `faultAt`, in [0, len)): half the time
   * anywhere, half the time next to a block boundary of the file (one byte before, at, or one
   * after), where a partial copy leaves a block partly written — the case write_end must get right.
   */
  private faultByte(off: number, len: number): number {
    const rng = this.rng;
    if (rng.below(2) === 0) return rng.below(len);
    const bs = this.bs;
    const first = (bs - (off % bs)) % bs;
    const b = first + bs * rng.below(Math.floor(len / bs) + 1) + rng.below(3) - 1;
    return Math.min(len - 1, Math.max(0, b));
  }

  /**
   * A race op and its buffered write: the write as fsx's, then the race op placed in or next to
   * its range — race_write: up to two blocks near the write, race_punch: one to four blocks inside
   * it, race_writeback: the folio to evict somewhere in it. Race writes and punches stay inside
   * EOF (else the runner runs them in order); with an empty file the pair is a plain write.
   */
  private race(buf: OpBuffer, code: number, flags: number, fileSize: number): void {
    const rng = this.rng;
    const o = this.o;
    const bs = this.bs;
    this.trimOffLen(o.maxlen);
    this.off -= this.off % o.writebdy;
    const wOff = this.off;
    const wLen = this.len;
    if (wLen === 0 || (code !== OP_RACE_WRITEBACK && fileSize === 0)) {
      buf.push(OP_WRITE, wOff, wLen, 0, flags);
      return;
    }
    let off: number;
    let len: number;
    if (code === OP_RACE_WRITEBACK) {
      off = wOff + rng.below(wLen);
      len = 0;
    } else if (code === OP_RACE_WRITE) {
      const lo = Math.max(0, wOff - bs);
      off = Math.min(fileSize - 1, lo + rng.below(wLen + 2 * bs));
      len = Math.min(1 + rng.below(2 * bs), fileSize - off);
    } else {
      off = Math.min(wOff + rng.below(wLen), fileSize - 1);
      off -= off % bs;
      len = Math.min(bs * (1 + rng.below(4)), fileSize - off);
    }
    buf.push(code, off, len, 0, 0);
    buf.push(OP_WRITE, wOff, wLen, 0, flags);
  }

  /**
   * fsx's dowrite() for RWF_ATOMIC: the length clamped into the atomic write unit range and
   * rounded down to a power of two, the offset rounded down to a multiple of it (natural
   * alignment). The runner skips one that ends past -l, as fsx does.
   */
  private atomicArgs(): void {
    const u = this.awu;
    this.trimOffLen(this.o.maxlen);
    this.off -= this.off % this.o.writebdy;
    if (u === null) return;
    let len = Math.min(Math.max(this.len, u.unitMin), u.unitMax);
    len = 2 ** Math.floor(Math.log2(len));
    this.len = len;
    this.off -= this.off % len;
  }

  /**
   * fsx's generate_dest_range: the source trimmed to the file and aligned (copy: to -r/-w, clone and
   * dedupe: to the block), then up to 30 tries for a non-overlapping destination ending by the limit
   * (dedupe: the file size, else -l); if none is found the length becomes 0 (logged as skipped).
   */
  private destRange(code: number, fileSize: number): number {
    const o = this.o;
    const bs = this.bs;
    const bdy = code === OP_COPY_RANGE;
    const maxEnd = code === OP_DEDUPE_RANGE || code === OP_EXCHANGE_RANGE ? fileSize : o.maxlen;
    // A guided op's window is for its destination (where the cell is counted), not its source.
    const win = this.win;
    this.win = null;
    this.trimOffLen(fileSize);
    this.win = win;
    // A dedupe whose source starts in every fourth block keeps its unaligned tail where it fits
    // (no new random draw, so the op stream is otherwise unchanged): Linux cuts it down to whole
    // blocks, to nothing if it is shorter than one, and still reports the whole length as deduped
    // (fileops-14.14), which the oracle must expect.
    const tail = code === OP_DEDUPE_RANGE && bs > 1 && Math.floor(this.off / bs) % 4 === 0 ? this.len % bs : 0;
    if (bdy) {
      this.off -= this.off % o.readbdy;
      if (o.direct) this.len -= this.len % o.readbdy;
    } else {
      this.off -= this.off % bs;
      this.len -= this.len % bs;
    }
    for (let tries = 0; tries < 30; tries++) {
      let dst = this.pos(maxEnd);
      dst -= dst % (bdy ? o.writebdy : bs);
      if (!(Math.abs(dst - this.off) < this.len) && dst + this.len <= maxEnd) {
        if (tail > 0 && !(Math.abs(dst - this.off) < this.len + tail) && dst + this.len + tail <= maxEnd) this.len += tail;
        return dst;
      }
    }
    this.len = 0;
    return 0;
  }
}

