/**
 * The crash property harness: run a seeded random workload on a target's volume (adapters/volume.ts;
 * by default refs under the reference generic layer) over a CrashDevice
 * (wrapping a MemoryDevice), then for every crash state of the chosen window of the device log
 * (by default the last fsync interval: from the return of the second-to-last durability op to
 * the end), build the crash image, mount it, run refs' consistency check and compare every file
 * with the crash envelope (properties/oracle/crash.ts).
 *
 *   const r = runCrashWorkload({ seed: 7 });
 *   r.failures      // [] when every state passed; else the workload, state and violations
 *   r.statesChecked // how many crash images were mounted and checked
 *
 * Per crash point (CrashDevice.crashPoints): whole-write subsets exhaustively when there are at
 * most `exhaustiveLimit` of them, else `samples` seeded samples; plus `tornSamples` seeded torn
 * states (sector granularity, the full volatile-cache model). A workload is an op list, so any
 * failure replays exactly with runWorkload(workload) and checkState(...).
 */
import { CrashDevice, CrashPoint, CrashRng, CrashState } from '../../reference/device/crash';
import { DEFAULT_POISON_SEED, MemoryDevice, poisonPattern } from '../../reference/device/memory';
import type { BlockDevice } from '../../reference/device/types';
import { FsError } from '../../reference/errno';
import {
  FALLOC_FL_COLLAPSE_RANGE, FALLOC_FL_INSERT_RANGE, FALLOC_FL_KEEP_SIZE, FALLOC_FL_PUNCH_HOLE, FALLOC_FL_UNSHARE_RANGE,
  FALLOC_FL_ZERO_RANGE,
} from '../../adapters/types';
import { iomapVolume, RefsBugs, Volume, VolumeFile, VolumeProvider } from '../../adapters/volume';
import { CrashEnvelope, CrashViolationKind, TraceablePattern } from './crash';

/** A problem with one crash image: an envelope violation, or 'fs' (mount/consistency/read failed). */
export interface CrashCheckViolation {
  kind: CrashViolationKind | 'fs';
  file: string;
  message: string;
}

/* ------------------------------------------------------------------------------------------ */
/* Workloads                                                                                  */
/* ------------------------------------------------------------------------------------------ */

export type CrashOp =
  /** pwrite; with `sync` it is an O_SYNC write (pwrite + fdatasync, acknowledged). */
  | { op: 'write'; file: number; off: number; len: number; sync?: boolean }
  /** O_DIRECT pwrite (sector aligned); with dsync (O_DSYNC) its bytes are acknowledged. */
  | { op: 'dwrite'; file: number; off: number; len: number; dsync: boolean }
  /**
   * RWF_ATOMIC O_DIRECT pwrite (a power-of-two length at a multiple of it): all or nothing over a
   * crash; with dsync (RWF_DSYNC) its bytes are acknowledged when it returns. A target without
   * atomic writes, or whose unit range leaves the length out, gets a plain O_DIRECT write.
   */
  | { op: 'awrite'; file: number; off: number; len: number; dsync: boolean }
  /** Store through MAP_SHARED inside EOF; with msync it is written back and acknowledged. */
  | { op: 'mapwrite'; file: number; off: number; len: number; msync: boolean }
  | { op: 'truncate'; file: number; size: number }
  | { op: 'falloc'; file: number; mode: number; off: number; len: number }
  | { op: 'clone'; src: number; dst: number; srcOff: number; dstOff: number; len: number }
  | { op: 'copy'; src: number; dst: number; srcOff: number; dstOff: number; len: number }
  /**
   * XFS_IOC_EXCHANGE_RANGE within one file: [off1, +len) and [off2, +len) (block aligned, apart,
   * inside EOF) trade contents, all or nothing over a crash. A target without it leaves the file
   * as it is (the op is then a no-op in the model too).
   */
  | { op: 'exchange'; file: number; off1: number; off2: number; len: number }
  | { op: 'fsync'; file: number }
  | { op: 'fdatasync'; file: number }
  | { op: 'sync' }
  /** Background writeback of one file (I/O submitted, completes later). */
  | { op: 'writeback'; file: number }
  /** Complete one pending I/O (index modulo the number pending). */
  | { op: 'complete'; which: number }
  | { op: 'unlink'; file: number };

export interface CrashGeometry {
  blockSize: number;
  sectorSize: number;
  folioSize: number;
  deviceSize: number;
  /** Largest file the generator makes. */
  maxFileSize: number;
  /** Largest single write. */
  maxOpLen: number;
}

export interface CrashWorkload {
  seed: number;
  geometry: CrashGeometry;
  files: number;
  ops: CrashOp[];
}

export interface CrashRunOptions {
  seed: number;
  /** Ops per workload (default 24). */
  ops?: number;
  /** Files (default 3). */
  files?: number;
  /** Fixed geometry (default: chosen from the seed). */
  geometry?: Partial<CrashGeometry>;
  /** Which crash points: the last fsync interval (default) or the whole log. */
  window?: 'last-fsync' | 'all';
  /** Exhaustive whole-write subsets per crash point up to this many (default 256). */
  exhaustiveLimit?: number;
  /** Whole-write samples per crash point above the limit (default 64). */
  samples?: number;
  /** Torn (sector granularity) samples per crash point (default 8; 0 disables). */
  tornSamples?: number;
  /** Also require each 512-byte unit to come from a single version (stricter than per byte). */
  atomicUnit?: number;
  /** Compare the live files with the model after every op (default: only at the end). */
  verifyEachOp?: boolean;
  /** Stop after this many failing states (default 3; statesChecked then counts up to there). */
  maxFailures?: number;
  /**
   * Fill the device with random bytes before mkfs (default true), as real disks hold old data:
   * any block the filesystem exposes without writing it first then reads as garbage, not zeroes.
   */
  poison?: boolean;
  /** refs bug switches for the live run (the bug zoo): shows what the harness catches. */
  bugs?: RefsBugs;
  /** The target (its volume capability); default the reference over refs with `bugs`. */
  target?: VolumeProvider;
}

export interface CrashFailure {
  workload: CrashWorkload;
  state: CrashState;
  /** Human-readable: the state, the ops around it, the violations. */
  report: string[];
  violations: CrashCheckViolation[];
}

export interface CrashRunResult {
  workload: CrashWorkload;
  /** Crash images mounted and checked. */
  statesChecked: number;
  crashPoints: number;
  /** Crash points enumerated exhaustively / sampled. */
  exhaustivePoints: number;
  sampledPoints: number;
  logEntries: number;
  failures: CrashFailure[];
  elapsedMs: number;
}

/** Small geometries the crash and fault harnesses draw from, by seed. */
export const GEOMETRIES: ReadonlyArray<Pick<CrashGeometry, 'blockSize' | 'sectorSize' | 'folioSize'>> = [
  { blockSize: 4096, sectorSize: 512, folioSize: 16384 },
  { blockSize: 4096, sectorSize: 4096, folioSize: 65536 },
  { blockSize: 1024, sectorSize: 512, folioSize: 4096 },
  { blockSize: 1024, sectorSize: 512, folioSize: 16384 },
  { blockSize: 2048, sectorSize: 512, folioSize: 8192 },
];

export function geometryFor(seed: number, over: Partial<CrashGeometry> = {}): CrashGeometry {
  const g = GEOMETRIES[new CrashRng(seed ^ 0x9e0).below(GEOMETRIES.length)];
  return {
    blockSize: g.blockSize, sectorSize: g.sectorSize, folioSize: g.folioSize,
    deviceSize: 4 << 20, maxFileSize: 96 * 1024, maxOpLen: 24 * 1024, ...over,
  };
}

const FALLOC_MODES = [
  0, FALLOC_FL_KEEP_SIZE, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, FALLOC_FL_ZERO_RANGE,
  FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE, FALLOC_FL_COLLAPSE_RANGE, FALLOC_FL_INSERT_RANGE, FALLOC_FL_UNSHARE_RANGE,
];

export function describeOp(o: CrashOp): string {
  const f = (i: number): string => `f${i}`;
  switch (o.op) {
    case 'write': return `${o.sync ? 'write O_SYNC' : 'write'} ${f(o.file)} [${o.off}, +${o.len})`;
    case 'dwrite': return `write O_DIRECT${o.dsync ? '|O_DSYNC' : ''} ${f(o.file)} [${o.off}, +${o.len})`;
    case 'awrite': return `write RWF_ATOMIC${o.dsync ? '|RWF_DSYNC' : ''} ${f(o.file)} [${o.off}, +${o.len})`;
    case 'mapwrite': return `mapwrite ${f(o.file)} [${o.off}, +${o.len})${o.msync ? ' msync' : ''}`;
    case 'truncate': return `truncate ${f(o.file)} ${o.size}`;
    case 'falloc': return `fallocate ${f(o.file)} mode 0x${o.mode.toString(16)} [${o.off}, +${o.len})`;
    case 'clone': return `clone ${f(o.src)}[${o.srcOff}, +${o.len}) -> ${f(o.dst)}@${o.dstOff}`;
    case 'copy': return `copy_file_range ${f(o.src)}[${o.srcOff}, +${o.len}) -> ${f(o.dst)}@${o.dstOff}`;
    case 'exchange': return `exchange range ${f(o.file)} [${o.off1}, +${o.len}) <-> [${o.off2}, +${o.len})`;
    case 'fsync': return `fsync ${f(o.file)}`;
    case 'fdatasync': return `fdatasync ${f(o.file)}`;
    case 'sync': return 'sync';
    case 'writeback': return `writeback ${f(o.file)}`;
    case 'complete': return `complete I/O #${o.which}`;
    case 'unlink': return `unlink ${f(o.file)}`;
  }
}

/** The model's view of the files while generating (sizes and existence only). */
interface GenState {
  sizes: Map<number, number>;
}

/** One random op that is valid in the state `st` (no op the fs may legitimately refuse). */
function genOp(rng: CrashRng, g: CrashGeometry, files: number, st: GenState): CrashOp {
  const bs = g.blockSize;
  const file = rng.below(files);
  const size = st.sizes.get(file) ?? -1;
  const exists = size >= 0;
  const cur = Math.max(0, size);
  const offset = (max: number): number => {
    // Bias to block boundaries, partial blocks near EOF and small offsets.
    const r = rng.below(8);
    if (r === 0 && cur > 0) return Math.min(max, Math.max(0, cur - rng.below(Math.min(cur, bs) + 1)));
    if (r <= 2) return Math.min(max, rng.below(Math.floor(max / bs) + 1) * bs);
    return rng.below(max + 1);
  };
  const roll = rng.below(100);
  if (roll < 30) {
    const len = 1 + rng.below(rng.chance(0.5) ? Math.min(g.maxOpLen, 2 * bs) : g.maxOpLen);
    return { op: 'write', file, off: offset(g.maxFileSize - len), len, sync: rng.chance(0.08) };
  }
  if (roll < 40) {
    const r = rng.below(4);
    let n: number;
    if (r === 0 && cur > 0) n = Math.max(0, cur - 1 - rng.below(Math.min(cur, bs)));
    else if (r === 1) n = rng.below(Math.floor(g.maxFileSize / bs) + 1) * bs;
    else n = rng.below(g.maxFileSize + 1);
    return { op: 'truncate', file, size: n };
  }
  if (roll < 48) return { op: 'fsync', file };
  if (roll < 52) return { op: 'fdatasync', file };
  if (roll < 55) return { op: 'sync' };
  if (roll < 60) return { op: 'writeback', file };
  if (roll < 63) return genExchange(rng, g, file, cur);
  if (roll < 68) return { op: 'complete', which: rng.below(8) };
  if (roll < 72 && exists && size > 0) {
    const off = rng.below(size);
    const len = 1 + rng.below(Math.min(size - off, 2 * bs));
    return { op: 'mapwrite', file, off, len, msync: rng.chance(0.4) };
  }
  if (roll < 82) {
    const mode = rng.pick(FALLOC_MODES);
    if (mode === FALLOC_FL_COLLAPSE_RANGE || mode === FALLOC_FL_INSERT_RANGE) {
      const blocks = Math.floor(cur / bs);
      if (blocks >= 2) {
        const off = rng.below(blocks - 1) * bs;
        if (mode === FALLOC_FL_COLLAPSE_RANGE) {
          const maxLen = Math.floor((cur - 1 - off) / bs);
          if (maxLen >= 1) return { op: 'falloc', file, mode, off, len: (1 + rng.below(Math.min(maxLen, 4))) * bs };
        } else {
          const room = Math.floor((g.maxFileSize - cur) / bs);
          if (room >= 1) return { op: 'falloc', file, mode, off, len: (1 + rng.below(Math.min(room, 4))) * bs };
        }
      }
      return { op: 'fsync', file };
    }
    const len = 1 + rng.below(Math.min(g.maxOpLen, 4 * bs));
    return { op: 'falloc', file, mode, off: offset(g.maxFileSize - len), len };
  }
  if (roll < 90) {
    const src = rng.below(files);
    const dst = rng.below(files);
    const ss = st.sizes.get(src) ?? -1;
    const ds = Math.max(0, st.sizes.get(dst) ?? 0);
    if (rng.chance(0.5) && ss >= bs) {
      const sblocks = Math.floor(ss / bs);
      const srcOff = rng.below(sblocks) * bs;
      const len = (1 + rng.below(Math.min(sblocks - srcOff / bs, 4))) * bs;
      const dmax = Math.floor((Math.min(g.maxFileSize, ds + 2 * bs) - len) / bs);
      if (dmax >= 0) {
        const dstOff = rng.below(dmax + 1) * bs;
        if (src !== dst || dstOff + len <= srcOff || srcOff + len <= dstOff) return { op: 'clone', src, dst, srcOff, dstOff, len };
      }
    } else if (ss > 0) {
      const srcOff = rng.below(ss);
      const len = 1 + rng.below(Math.min(ss - srcOff, 2 * bs));
      const dstOff = rng.below(Math.max(1, Math.min(g.maxFileSize, ds + bs) - len));
      if (src !== dst || dstOff + len <= srcOff || srcOff + len <= dstOff) return { op: 'copy', src, dst, srcOff, dstOff, len };
    }
    return { op: 'writeback', file };
  }
  if (roll < 93 && exists) return { op: 'unlink', file };
  if (roll >= 93 && roll < 96) return genAtomic(rng, g, file, cur);
  if (roll >= 96) {
    const ss = g.sectorSize;
    const len = ss * (1 + rng.below(Math.max(1, Math.floor(Math.min(g.maxOpLen, 4 * bs) / ss))));
    const off = ss * rng.below(Math.floor((g.maxFileSize - len) / ss) + 1);
    return { op: 'dwrite', file, off, len, dsync: rng.chance(0.5) };
  }
  const len = 1 + rng.below(g.maxOpLen);
  return { op: 'write', file, off: offset(g.maxFileSize - len), len };
}

/**
 * An RWF_ATOMIC write of one to eight blocks (a power of two, at a multiple of its length): half
 * of them over the file's own data near or across its EOF, where written blocks, holes and
 * unwritten blocks mix (refs then takes the copy-on-write fallback instead of one REQ_ATOMIC bio),
 * one in four with RWF_DSYNC.
 */
function genAtomic(rng: CrashRng, g: CrashGeometry, file: number, cur: number): CrashOp {
  const len = g.blockSize << rng.below(4);
  const slots = Math.floor(g.maxFileSize / len);
  if (slots < 1) return { op: 'fsync', file };
  const near = cur > 0 && rng.chance(0.5) ? Math.floor(Math.max(0, cur - rng.below(len) - 1) / len) : rng.below(slots);
  return { op: 'awrite', file, off: Math.min(near, slots - 1) * len, len, dsync: rng.chance(0.25) };
}

/**
 * An exchange of two block-aligned ranges of one file, apart and inside EOF (one to four blocks
 * each); a background writeback of the file when it has fewer than two blocks.
 */
function genExchange(rng: CrashRng, g: CrashGeometry, file: number, cur: number): CrashOp {
  const bs = g.blockSize;
  const blocks = Math.floor(cur / bs);
  if (blocks < 2) return { op: 'writeback', file };
  const n = 1 + rng.below(Math.min(4, Math.floor(blocks / 2)));
  const b1 = rng.below(blocks - 2 * n + 1);
  const b2 = b1 + n + rng.below(blocks - b1 - 2 * n + 1);
  return rng.chance(0.5) ? { op: 'exchange', file, off1: b1 * bs, off2: b2 * bs, len: n * bs } : { op: 'exchange', file, off1: b2 * bs, off2: b1 * bs, len: n * bs };
}

/** Sizes after an op, for the generator (mirrors applyModel's size rules). */
function genAdvance(st: GenState, o: CrashOp): void {
  const get = (f: number): number => Math.max(0, st.sizes.get(f) ?? 0);
  switch (o.op) {
    case 'write': case 'dwrite': case 'awrite': st.sizes.set(o.file, Math.max(get(o.file), o.off + o.len)); break;
    case 'mapwrite': break;
    case 'truncate': st.sizes.set(o.file, o.size); break;
    case 'falloc': {
      const s = get(o.file);
      const end = o.off + o.len;
      if (o.mode === FALLOC_FL_COLLAPSE_RANGE) st.sizes.set(o.file, s - o.len);
      else if (o.mode === FALLOC_FL_INSERT_RANGE) st.sizes.set(o.file, s + o.len);
      else if (!(o.mode & FALLOC_FL_KEEP_SIZE)) st.sizes.set(o.file, Math.max(s, end));
      else st.sizes.set(o.file, s);
      break;
    }
    case 'clone': case 'copy': {
      const n = o.op === 'copy' ? Math.min(o.len, Math.max(0, get(o.src) - o.srcOff)) : o.len;
      if (!st.sizes.has(o.src)) st.sizes.set(o.src, 0);
      st.sizes.set(o.dst, n > 0 ? Math.max(get(o.dst), o.dstOff + n) : get(o.dst));
      break;
    }
    case 'unlink': st.sizes.delete(o.file); break;
    case 'fsync': case 'fdatasync': case 'writeback':
      if (!st.sizes.has(o.file)) st.sizes.set(o.file, 0);
      break;
    default: break;
  }
}

/** A seeded random workload: ops valid in sequence, ending with a durability op most of the time. */
export function generateWorkload(opts: CrashRunOptions): CrashWorkload {
  const seed = opts.seed;
  const rng = new CrashRng(seed);
  const geometry = geometryFor(seed, opts.geometry);
  const files = opts.files ?? 3;
  const n = opts.ops ?? 24;
  const st: GenState = { sizes: new Map() };
  const ops: CrashOp[] = [];
  for (let i = 0; i < n; i++) {
    const o = genOp(rng, geometry, files, st);
    genAdvance(st, o);
    ops.push(o);
  }
  // Most workloads end in the middle of durability work: crash inside / right after an fsync.
  if (rng.chance(0.7)) ops.push(rng.chance(0.8) ? { op: 'fsync', file: rng.below(files) } : { op: 'sync' });
  return { seed, geometry, files, ops };
}

/* ------------------------------------------------------------------------------------------ */
/* The byte model (what each op does to the files' bytes)                                     */
/* ------------------------------------------------------------------------------------------ */

function resized(a: Uint8Array, n: number): Uint8Array {
  if (n === a.length) return a.slice();
  const b = new Uint8Array(n);
  b.set(n < a.length ? a.subarray(0, n) : a);
  return b;
}

/* ------------------------------------------------------------------------------------------ */
/* Running                                                                                    */
/* ------------------------------------------------------------------------------------------ */

export class CrashHarnessError extends Error {}

interface Live {
  /** Largest folio of the mount (the span a store through the mapping dirties, and its writeback rewrites). */
  folioSize: number;
  /** Block size (the span a buffered write dirties: iomap tracks dirty state per block). */
  blockSize: number;
  dev: CrashDevice;
  vol: Volume;
  env: CrashEnvelope;
  handles: Map<number, VolumeFile>;
  pattern: TraceablePattern;
}

const name = (i: number): string => `f${i}`;

function handle(l: Live, i: number): VolumeFile {
  let fh = l.handles.get(i);
  if (!fh) {
    const existed = l.vol.exists(name(i));
    fh = l.vol.open(name(i), { create: true });
    l.handles.set(i, fh);
    if (!existed) l.env.set(name(i), new Uint8Array(0));
  }
  return fh;
}

function cur(l: Live, i: number): Uint8Array {
  const v = l.env.latest(name(i));
  return v.exists ? v.data : new Uint8Array(0);
}

/** Apply one op to the live fs and to the envelope's model. */
function applyOp(l: Live, o: CrashOp, index: number): void {
  const env = l.env;
  switch (o.op) {
    case 'write': {
      const fh = handle(l, o.file);
      const data = l.pattern.data(index, o.off, o.len);
      const n = fh.pwrite(o.off, data);
      if (n !== o.len) throw new CrashHarnessError(`short write ${n} of ${o.len}`);
      const b = resized(cur(l, o.file), Math.max(cur(l, o.file).length, o.off + o.len));
      b.set(data, o.off);
      env.set(name(o.file), b);
      if (o.sync) {
        fh.fdatasync();
        env.acknowledge([name(o.file)]);
      }
      return;
    }
    case 'dwrite': {
      const fh = handle(l, o.file);
      const data = l.pattern.data(index, o.off, o.len);
      const n = fh.directWrite(o.off, data, { dsync: o.dsync });
      if (n !== o.len) throw new CrashHarnessError(`short O_DIRECT write ${n} of ${o.len}`);
      const b = resized(cur(l, o.file), Math.max(cur(l, o.file).length, o.off + o.len));
      b.set(data, o.off);
      env.set(name(o.file), b);
      if (o.dsync) env.acknowledgeRange(name(o.file), o.off, o.len);
      return;
    }
    case 'awrite': {
      const fh = handle(l, o.file);
      const data = l.pattern.data(index, o.off, o.len);
      const units = fh.atomicWriteUnits?.();
      const atomic = typeof fh.atomicWrite === 'function' && units !== undefined && o.len >= units.min && o.len <= units.max;
      const n = atomic ? fh.atomicWrite!(o.off, data) : fh.directWrite(o.off, data);
      if (n !== o.len) throw new CrashHarnessError(`short ${atomic ? 'atomic' : 'O_DIRECT'} write ${n} of ${o.len}`);
      const b = resized(cur(l, o.file), Math.max(cur(l, o.file).length, o.off + o.len));
      b.set(data, o.off);
      env.set(name(o.file), b);
      // Guarded by the block: a later write into one of its blocks rewrites it through the page
      // cache (a later mmap store says it rewrites its whole folio: see mapwrite).
      if (atomic) env.atomic(name(o.file), o.off, o.len, l.blockSize);
      if (o.dsync) {
        fh.fdatasync();
        env.acknowledgeRange(name(o.file), o.off, o.len);
      }
      return;
    }
    case 'mapwrite': {
      const fh = handle(l, o.file);
      const data = l.pattern.data(index, o.off, o.len);
      fh.mapwrite!(o.off, data, { msync: o.msync });
      // page_mkwrite dirties the whole folio, so its writeback rewrites every block in it.
      env.rewritesWhole(l.folioSize);
      const b = cur(l, o.file).slice();
      b.set(data.subarray(0, Math.max(0, Math.min(o.len, b.length - o.off))), o.off);
      env.set(name(o.file), b);
      if (o.msync) env.acknowledge([name(o.file)]);
      return;
    }
    case 'truncate': {
      handle(l, o.file).truncate(o.size);
      env.set(name(o.file), resized(cur(l, o.file), o.size));
      return;
    }
    case 'falloc': {
      const fh = handle(l, o.file);
      const old = cur(l, o.file);
      const size = old.length;
      const end = o.off + o.len;
      if (o.mode === FALLOC_FL_INSERT_RANGE) {
        // refs (like xfs) first raises the size, then shifts: record the intermediate state.
        fh.fallocate!(o.mode, o.off, o.len);
        env.set(name(o.file), resized(old, size + o.len));
        const b = new Uint8Array(size + o.len);
        b.set(old.subarray(0, o.off));
        b.set(old.subarray(o.off), o.off + o.len);
        env.set(name(o.file), b);
        return;
      }
      fh.fallocate!(o.mode, o.off, o.len);
      if (o.mode === FALLOC_FL_COLLAPSE_RANGE) {
        const b = new Uint8Array(size - o.len);
        b.set(old.subarray(0, o.off));
        b.set(old.subarray(end), o.off);
        env.set(name(o.file), b);
        return;
      }
      const keep = (o.mode & FALLOC_FL_KEEP_SIZE) !== 0;
      const b = resized(old, keep ? size : Math.max(size, end));
      if (o.mode & (FALLOC_FL_PUNCH_HOLE | FALLOC_FL_ZERO_RANGE)) b.fill(0, Math.min(o.off, b.length), Math.min(end, b.length));
      env.set(name(o.file), b);
      return;
    }
    case 'clone':
    case 'copy': {
      const src = handle(l, o.src);
      const dst = handle(l, o.dst);
      const s = cur(l, o.src);
      let n: number;
      if (o.op === 'clone') {
        dst.cloneFrom(src, o.srcOff, o.len, o.dstOff);
        n = o.len;
      } else {
        n = dst.copyFrom(src, o.srcOff, o.len, o.dstOff);
        const want = Math.min(o.len, Math.max(0, s.length - o.srcOff));
        if (n !== want) throw new CrashHarnessError(`copy_file_range copied ${n}, expected ${want}`);
      }
      if (n > 0) {
        const data = s.slice(o.srcOff, o.srcOff + n);
        const d = cur(l, o.dst);
        const b = resized(d, Math.max(d.length, o.dstOff + n));
        b.set(data, o.dstOff);
        env.set(name(o.dst), b);
      }
      return;
    }
    case 'exchange': {
      const fh = handle(l, o.file);
      if (typeof fh.exchangeRange !== 'function') return;
      try {
        fh.exchangeRange(o.off1, o.len, o.off2);
      } catch (e) {
        if (e instanceof FsError && e.code === 'EOPNOTSUPP') return; // the filesystem cannot: nothing changed
        throw e;
      }
      const b = cur(l, o.file).slice();
      const r1 = b.slice(o.off1, o.off1 + o.len);
      b.copyWithin(o.off1, o.off2, o.off2 + o.len);
      b.set(r1, o.off2);
      env.set(name(o.file), b);
      // One metadata change: both ranges are as before or both as after. The span from the first
      // range to the end of the second is judged whole (the bytes between are the same in both).
      const lo = Math.min(o.off1, o.off2);
      env.atomic(name(o.file), lo, Math.max(o.off1, o.off2) + o.len - lo, l.blockSize);
      return;
    }
    case 'fsync':
    case 'fdatasync': {
      const fh = handle(l, o.file);
      if (o.op === 'fsync') fh.fsync();
      else fh.fdatasync();
      env.acknowledge([name(o.file)]);
      return;
    }
    case 'sync':
      l.vol.sync();
      env.acknowledge('all');
      return;
    case 'writeback':
      handle(l, o.file).writeback();
      return;
    case 'complete': {
      const n = l.vol.pendingIo();
      if (n) l.vol.complete(o.which % n);
      return;
    }
    case 'unlink': {
      const fh = l.handles.get(o.file);
      if (fh) fh.close();
      l.handles.delete(o.file);
      l.vol.unlink(name(o.file));
      env.remove(name(o.file));
      return;
    }
  }
}

/** Compare the live files with the model (a mismatch is a model or refs bug, not a crash bug). */
function verifyLive(l: Live, files: number, after: string): void {
  for (let i = 0; i < files; i++) {
    const v = l.env.latest(name(i));
    const exists = l.vol.exists(name(i));
    if (exists !== v.exists) throw new CrashHarnessError(`live check after ${after}: ${name(i)} exists=${exists}, model says ${v.exists}`);
    if (!exists) continue;
    const fh = handle(l, i);
    if (fh.size() !== v.size) throw new CrashHarnessError(`live check after ${after}: ${name(i)} size ${fh.size()}, model ${v.size}`);
    const got = fh.pread(0, v.size);
    if (Buffer.compare(got, v.data) !== 0) {
      let o = 0;
      while (got[o] === v.data[o]) o++;
      throw new CrashHarnessError(`live check after ${after}: ${name(i)} byte ${o} is 0x${got[o].toString(16)}, model 0x${v.data[o].toString(16)}`);
    }
  }
}


export interface ExecutedWorkload {
  workload: CrashWorkload;
  dev: CrashDevice;
  env: CrashEnvelope;
  /** Crash point range examined. */
  from: number;
  to: number;
  /** The target whose volume ran it (crash images are mounted with it too). */
  target: VolumeProvider;
}

/** The target a run uses: `opts.target`, else the reference over refs with `opts.bugs`. */
function targetOf(opts: Pick<CrashRunOptions, 'bugs' | 'target'>): VolumeProvider {
  return opts.target ?? iomapVolume({ bugs: opts.bugs });
}

/** Run a workload on the target's volume over a CrashDevice(MemoryDevice) and record the envelope. */
export function executeWorkload(w: CrashWorkload, opts: Pick<CrashRunOptions, 'window' | 'verifyEachOp' | 'bugs' | 'poison' | 'target'> = {}): ExecutedWorkload {
  const target = targetOf(opts);
  return target.session(() => executeOn(target, w, opts));
}

function executeOn(target: VolumeProvider, w: CrashWorkload, opts: Pick<CrashRunOptions, 'window' | 'verifyEachOp' | 'poison'>): ExecutedWorkload {
  const g = w.geometry;
  const mem = new MemoryDevice({ size: g.deviceSize, sectorSize: g.sectorSize, name: `crash-seed-${w.seed}` });
  if (opts.poison ?? true) {
    const chunk = poisonPattern(DEFAULT_POISON_SEED);
    for (let off = 0; off < g.deviceSize; off += chunk.length) mem.write(off, chunk.subarray(0, Math.min(chunk.length, g.deviceSize - off)));
  }
  target.mkfs(mem, { blockSize: g.blockSize, metaBytes: 64 * 1024 });
  const dev = new CrashDevice(mem);
  const vol = target.mount(dev, { folioSize: g.folioSize });
  const env = new CrashEnvelope();
  const pattern = new TraceablePattern(w.seed);
  env.pattern = pattern;
  const l: Live = { folioSize: g.folioSize, blockSize: g.blockSize, dev, vol, env, handles: new Map(), pattern };
  w.ops.forEach((o, i) => {
    const desc = describeOp(o);
    dev.mark(`op #${i} ${desc}`);
    env.begin(desc, dev.position);
    try {
      applyOp(l, o, i);
    } catch (e) {
      const msg = e instanceof Error ? e.message : String(e);
      throw new CrashHarnessError(`op #${i} (${desc}) failed on the live filesystem: ${msg}`);
    }
    env.end(dev.position);
    if (opts.verifyEachOp) verifyLive(l, w.files, `op #${i} ${desc}`);
  });
  verifyLive(l, w.files, 'the last op');
  let from = dev.firstIndex;
  if ((opts.window ?? 'last-fsync') === 'last-fsync') {
    const acks = env.ops.filter((op) => op.durable === 'all' || op.durable.size > 0);
    if (acks.length >= 2) from = acks[acks.length - 2].end;
  }
  return { workload: w, dev, env, from, to: dev.position, target };
}

export interface ImageFiles {
  files: Map<string, Uint8Array>;
  /** Mount failure or consistency-check complaints (requirement (d)). */
  problems: string[];
}

/** Mount a crash image with the target (default refs), run its checks and read every file. */
export function readImage(img: BlockDevice, g: CrashGeometry, maxSize: number, known: readonly string[] = [], target: VolumeProvider = iomapVolume()): ImageFiles {
  const files = new Map<string, Uint8Array>();
  let vol: Volume;
  try {
    vol = target.mount(img, { folioSize: g.folioSize });
  } catch (e) {
    return { files, problems: [`mount failed: ${e instanceof Error ? e.message : String(e)}`] };
  }
  const problems = vol.consistency().map((s) => `consistency: ${s}`);
  // A filesystem that lists its names is asked for all; any other for the names the program used.
  const present = vol.names() ?? known.filter((n) => vol.exists(n));
  for (const n of present.sort()) {
    try {
      const fh = vol.open(n);
      const size = fh.size();
      if (size > maxSize) {
        problems.push(`${n}: size ${size} is larger than any size the program gave it (${maxSize})`);
        continue;
      }
      files.set(n, fh.pread(0, size));
    } catch (e) {
      problems.push(`${n}: read failed: ${e instanceof FsError || e instanceof Error ? e.message : String(e)}`);
    }
  }
  return { files, problems };
}

/** Check one crash state of an executed workload; returns the violations (empty: allowed). */
export function checkState(x: ExecutedWorkload, state: CrashState, atomicUnit?: number): CrashCheckViolation[] {
  const img = x.dev.image(state);
  let maxSize = 0;
  for (const n of x.env.names()) for (const v of x.env.history(n)) maxSize = Math.max(maxSize, v.size);
  const r = x.target.session(() => readImage(img, x.workload.geometry, maxSize, x.env.names(), x.target));
  if (r.problems.length) return r.problems.map((m) => ({ kind: 'fs', file: '', message: m }));
  return x.env.checkSpan(r.files, x.dev.earliestPoint(state), state.point, atomicUnit ? { atomicUnit } : {});
}

function formatFailure(x: ExecutedWorkload, cp: CrashPoint, state: CrashState, violations: Array<{ message: string }>): string[] {
  const out: string[] = [];
  const w = x.workload;
  out.push(`crash workload seed ${w.seed}, geometry ${JSON.stringify(w.geometry)}`);
  const at = x.env.opsAt(state.point);
  out.push(x.dev.describeState(state));
  out.push(`  earliest point ${x.dev.earliestPoint(state)}; last completed op #${at.lastCompleted}` +
    `${at.running >= 0 ? `, op #${at.running} in progress` : ''}`);
  out.push('violations:');
  for (const v of violations) out.push(`  ${v.message}`);
  out.push('ops:');
  x.env.ops.forEach((op) => {
    const flag = op.index === at.running ? '  <- crash inside' : op.index === at.lastCompleted ? '  <- last completed' : '';
    out.push(`  #${op.index} ${op.desc}  [log ${op.start}..${op.end}]${flag}`);
  });
  out.push(`log around the crash (group from ${cp.groupStart}):`);
  const from = Math.max(x.dev.firstIndex, Math.min(cp.groupStart, state.point) - 3);
  for (const e of x.dev.entries(from, state.point)) out.push(`  ${x.dev.describeEntry(e)}`);
  out.push(`replay: runWorkload(${JSON.stringify(w)}) then checkState(x, ${JSON.stringify(state)})`);
  return out;
}

/** Run a given workload and check its crash states. */
export function runWorkload(w: CrashWorkload, opts: Omit<CrashRunOptions, 'seed' | 'ops' | 'files' | 'geometry'> = {}): CrashRunResult {
  const t0 = Date.now();
  const x = executeWorkload(w, opts);
  const rng = new CrashRng(w.seed ^ 0x5a5a5a5a);
  const limit = opts.exhaustiveLimit ?? 256;
  const samples = opts.samples ?? 64;
  const torn = opts.tornSamples ?? 8;
  const maxFailures = opts.maxFailures ?? 3;
  const result: CrashRunResult = {
    workload: w, statesChecked: 0, crashPoints: 0, exhaustivePoints: 0, sampledPoints: 0,
    logEntries: x.dev.position - x.dev.firstIndex, failures: [], elapsedMs: 0,
  };
  const points = x.dev.crashPoints(x.from, x.to);
  for (const cp of points) {
    if (result.failures.length >= maxFailures) break;
    result.crashPoints++;
    let states: CrashState[];
    if (x.dev.rawStateCount(cp.point) <= limit) {
      states = [...x.dev.enumerate(cp.point, { limit })];
      result.exhaustivePoints++;
    } else {
      states = x.dev.sample(cp.point, samples, rng);
      result.sampledPoints++;
    }
    if (torn > 0 && cp.pending.length > 0) {
      const seen = new Set(states.map((s) => JSON.stringify(s.writes)));
      for (const s of x.dev.sample(cp.point, torn + 2, rng, { torn: true })) {
        if (!seen.has(JSON.stringify(s.writes))) states.push(s);
      }
    }
    for (const st of states) {
      result.statesChecked++;
      const v = checkState(x, st, opts.atomicUnit);
      if (v.length) {
        result.failures.push({ workload: w, state: st, violations: v, report: formatFailure(x, cp, st, v) });
        if (result.failures.length >= maxFailures) break;
      }
    }
  }
  result.elapsedMs = Date.now() - t0;
  return result;
}

/** Generate a seeded workload and check its crash states. */
export function runCrashWorkload(opts: CrashRunOptions): CrashRunResult {
  return runWorkload(generateWorkload(opts), opts);
}

/**
 * Shrink a failing workload by deleting ops (chunks, then single ops, back to front) while it
 * still fails with a violation of the same kind. Workloads that become invalid (an op fails on
 * the live filesystem) count as not failing. Deterministic; costs one run per attempt.
 */
export function shrinkWorkload(w: CrashWorkload, opts: Omit<CrashRunOptions, 'seed' | 'ops' | 'files' | 'geometry'> = {}): CrashWorkload {
  const first = runWorkload(w, { ...opts, maxFailures: 1 });
  if (!first.failures.length) return w;
  const kind = first.failures[0].violations[0].kind;
  const fails = (ops: CrashOp[]): boolean => {
    try {
      const r = runWorkload({ ...w, ops }, { ...opts, maxFailures: 1 });
      return r.failures.some((f) => f.violations.some((v) => v.kind === kind));
    } catch (e) {
      if (e instanceof CrashHarnessError) return false;
      throw e;
    }
  };
  let ops = w.ops.slice();
  for (let chunk = Math.max(1, ops.length >> 1); chunk >= 1; chunk = chunk === 1 ? 0 : Math.max(1, chunk >> 1)) {
    for (let i = ops.length - chunk; i >= 0; i--) {
      const cand = [...ops.slice(0, i), ...ops.slice(i + chunk)];
      if (fails(cand)) {
        ops = cand;
        i = Math.min(i, ops.length - chunk + 1);
      }
    }
  }
  return { ...w, ops };
}
