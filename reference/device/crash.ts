/**
 * CrashDevice: a BlockDevice wrapper with a volatile write cache model and a dm-log-writes style
 * log, from which crash images are built.
 *
 *   const dev = new CrashDevice(new MemoryDevice({ size }));
 *   ... run a workload on dev (reads see every completed write, as through a cache) ...
 *   dev.mark('before fsync');                 // a named mark in the log
 *   for (const cp of dev.crashPoints())       // the distinct durable states, see below
 *     for (const st of dev.enumerate(cp.point, { limit: 1024 }))
 *       check(dev.image(st));                 // a new MemoryDevice; the live device is untouched
 *
 * Durability model (what a write-back cache in front of the media may do on power loss):
 *  - A write (or discard) is durable once a LATER flush() was issued, or at once if it was FUA.
 *    FUA makes only that write durable; it does not flush earlier cached writes.
 *  - Until then it may or may not have reached the media: any subset of the unflushed writes.
 *  - With `torn`, each unflushed write may reach the media only in part, at the granularity of
 *    `tearUnit` (default: the sector size), in any pattern. With tearing this is the full cache
 *    model: every unit independently holds the contents of any unflushed write that covered it,
 *    or its durable contents.
 *  - With `reorder` (and no tearing), persisted writes may land in any order, so an older write
 *    can win over a newer one where they overlap. Tearing subsumes this.
 *  - Nothing crosses a flush: a write issued after a flush never lands while an older one is
 *    lost "through" it, and a FUA write always wins over older unflushed writes of the same bytes.
 *  - Discards are cached like writes (dm-log-writes does the same) and, when they land, read as
 *    zeroes.
 *
 * The log. Every write, discard, flush and mark is an entry with an index (0, 1, 2, ...). A crash
 * POINT p means: entries with index < p were issued (and completed; the model is synchronous),
 * entries from p on were not. At point p the durable state is the origin (the inner device's
 * contents when it was wrapped, assumed durable), plus every write before the last flush before
 * p, plus every FUA write before p; the PENDING writes are the non-FUA writes and discards after
 * that flush and before p.
 *
 * A crash STATE is a point plus the pending writes that reached the media (in issue order, each
 * whole or only some byte ranges of it). Points with the same durable state form a GROUP (they
 * are separated by flushes and FUA writes); every state at a point of the group is also a state
 * at the group's last point, so crashPoints() returns only those maximal points. The earliest
 * point at which a state can occur is earliestPoint(state).
 *
 * Counting: enumerate() yields DISTINCT images, told apart by which write each unit comes from
 * (not by the bytes, so two writes of equal data still count twice). Units of a pending write
 * that a later FUA write (before the point) covers are not choices (the FUA data is there
 * whatever happened), and a pending write with no other unit is left out:
 *  - whole writes, issue order: subsets in which every chosen write is visible somewhere (not
 *    entirely overwritten by a later chosen write); n pending writes that do not overlap give 2^n;
 *  - torn: the product over units of (1 + number of pending writes covering the unit);
 *  - reorder: subsets in any order, distinct by outcome.
 * Exhaustive enumeration refuses (RangeError) when the raw space exceeds `limit` (default 4096):
 * 2^n subsets, the product above, or subsets x orderings of overlapping writes. Use sample() then.
 *
 * Images are built backwards from the live contents: every logged write also keeps what it
 * overwrote (an undo record, sparse: MemoryDevice.saveRange), so the durable base at a flush is
 * the live media with the later writes undone, newest first; the chosen writes are then applied
 * again. A write's own bytes are not copied either: they are in the live contents, under the
 * undo records of the later writes, and are taken from there when an image needs them (the
 * entry's `data`, made on first use). Nothing is replayed while the workload runs: a flush costs nothing and trim()
 * just forgets entries, so the log holds only the writes since the last trimmed flush. Bases are
 * cached (copy-on-write snapshots: the live device copies a chunk on its next write to it). The live contents are the inner device
 * when it is a MemoryDevice, else a MemoryDevice mirror of it (a one-time sparse copy, O(size)
 * reads, then every write twice). An image costs the number of 64 KiB chunks plus the bytes
 * undone and applied, never the device size; takeImage() (a power cut that abandons the live
 * media) reuses the live chunks instead of sharing them.
 */
import { EINVAL, FsError } from '../errno';
import { lowerBound } from '../sorted';
import type { BlockDevice, WriteOptions } from './types';
import { MemoryDevice, MemorySnapshot, RangeImage } from './memory';
import { checkOpen, validateDiscard, validateRead, validateWrite } from './validate';
import { WrappedDevice } from './wrapper';

/* ------------------------------------------------------------------------------------------ */
/* A small deterministic PRNG (no Math.random anywhere in the model)                          */
/* ------------------------------------------------------------------------------------------ */

/**
 * xoshiro128** seeded through splitmix32: fast, 2^128 - 1 period, identical sequences on every
 * platform for the same seed.
 */
export class CrashRng {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;
  readonly seed: number;

  constructor(seed: number) {
    if (typeof seed !== 'number' || !Number.isFinite(seed)) throw new FsError(EINVAL, `CrashRng: seed must be a finite number, got ${String(seed)}`);
    this.seed = seed;
    let x = (Math.floor(seed) ^ Math.floor(seed / 0x100000000)) >>> 0;
    const split = (): number => {
      x = (x + 0x9e3779b9) >>> 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x21f0aaad);
      z = Math.imul(z ^ (z >>> 15), 0x735a2d97);
      return (z ^ (z >>> 15)) >>> 0;
    };
    this.s0 = split();
    this.s1 = split();
    this.s2 = split();
    this.s3 = split();
    if ((this.s0 | this.s1 | this.s2 | this.s3) === 0) this.s0 = 1;
  }

  /** Uniform unsigned 32-bit integer. */
  next32(): number {
    const r = Math.imul(rotl(Math.imul(this.s1, 5), 7), 9) >>> 0;
    const t = this.s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3, 11);
    return r;
  }

  /** Integer in [0, n), n ≤ 2^32 (0 when n ≤ 1). */
  below(n: number): number {
    if (n <= 1) return 0;
    // Rejection sampling keeps it unbiased.
    const lim = Math.floor(0x100000000 / n) * n;
    let r = this.next32();
    while (r >= lim) r = this.next32();
    return r % n;
  }

  /** Integer in [lo, hi]. */
  range(lo: number, hi: number): number {
    return lo + this.below(hi - lo + 1);
  }

  /** True with probability p. */
  chance(p: number): boolean {
    return this.next32() < p * 0x100000000;
  }

  pick<T>(xs: readonly T[]): T {
    if (xs.length === 0) throw new RangeError('CrashRng.pick: empty list');
    return xs[this.below(xs.length)];
  }

  /** Fisher-Yates, in place. */
  shuffle<T>(xs: T[]): T[] {
    for (let i = xs.length - 1; i > 0; i--) {
      const j = this.below(i + 1);
      const t = xs[i];
      xs[i] = xs[j];
      xs[j] = t;
    }
    return xs;
  }

  /** Fill a buffer with random bytes. */
  fill(buf: Uint8Array): Uint8Array {
    let i = 0;
    for (; i + 4 <= buf.length; i += 4) {
      const r = this.next32();
      buf[i] = r & 255;
      buf[i + 1] = (r >>> 8) & 255;
      buf[i + 2] = (r >>> 16) & 255;
      buf[i + 3] = r >>> 24;
    }
    for (; i < buf.length; i++) buf[i] = this.next32() & 255;
    return buf;
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

/* ------------------------------------------------------------------------------------------ */
/* Log entries and crash states                                                               */
/* ------------------------------------------------------------------------------------------ */

export interface CrashWriteEntry {
  readonly kind: 'write' | 'discard';
  readonly index: number;
  readonly off: number;
  readonly len: number;
  /** Durable at once (a discard is never FUA). */
  readonly fua: boolean;
  /**
   * The data written (null for a discard, which lands as zeroes). For the CrashDevice's own log,
   * rebuilt on first use from the live contents and the later undo records (nothing is copied
   * while the workload runs); only while the entry is in the log.
   */
  readonly data: Uint8Array | null;
  /** REQ_ATOMIC: it lands whole or not at all, never torn. */
  readonly atomic?: boolean;
}

export interface CrashFlushEntry {
  readonly kind: 'flush';
  readonly index: number;
}

export interface CrashMarkEntry {
  readonly kind: 'mark';
  readonly index: number;
  readonly name: string;
}

export type CrashLogEntry = CrashWriteEntry | CrashFlushEntry | CrashMarkEntry;

/** A pending write that reached the media: all of it, or only `parts` ([off, len] device byte ranges). */
export interface PersistedWrite {
  readonly index: number;
  readonly parts?: ReadonlyArray<readonly [number, number]>;
}

export interface CrashState {
  /** Entries with index < point were issued before the crash. */
  readonly point: number;
  /** Pending writes that reached the media, in issue (log) order. */
  readonly writes: readonly PersistedWrite[];
}

/** What a crash point looks like. */
export interface CrashPoint {
  readonly point: number;
  /** First point of its group (same durable state): just after the last flush or FUA write before it. */
  readonly groupStart: number;
  /** Index of the last flush entry before the point, or -1. */
  readonly lastFlush: number;
  /** Entry indices of the pending (unflushed, non-FUA) writes and discards, in issue order. */
  readonly pending: readonly number[];
}

export interface EnumerateOptions {
  /** Unflushed writes may land in part, at tearUnit granularity (the full cache model). */
  torn?: boolean;
  /** Without torn: persisted writes may land in any order (older can win where they overlap). */
  reorder?: boolean;
  /** Tearing granularity in bytes: a multiple of the sector size, a power of two. Default sectorSize. */
  tearUnit?: number;
  /** Largest raw state space enumerate() accepts (default 4096). */
  limit?: number;
}

export const DEFAULT_ENUMERATE_LIMIT = 4096;

export interface CrashDeviceOptions {
  name?: string;
}

/* ------------------------------------------------------------------------------------------ */
/* The device                                                                                 */
/* ------------------------------------------------------------------------------------------ */

export class CrashDevice extends WrappedDevice {
  readonly name: string;
  private readonly log: CrashLogEntry[] = [];
  /** What each write/discard of `log` overwrote (same positions; null for flushes and marks). */
  private readonly undo: Array<RangeImage | null> = [];
  /** Absolute index of log[0]: entries before it were forgotten by trim() (durable, never undone). */
  private originIndex = 0;
  /** The live contents: the inner device, or a mirror of it when it is not a MemoryDevice. */
  private readonly live: MemoryDevice;
  /** The live contents when the device was closed (the inner device forgets them). */
  private liveAtClose: MemorySnapshot | null = null;
  /** Whether `live` is a mirror that every write must also reach. */
  private readonly mirrored: boolean;
  /** A private device used to build durable bases (its own snapshots restore safely into it). */
  private readonly builder: MemoryDevice;
  /**
   * Durable bases: key = a flush entry index f (or originIndex - 1: nothing after the origin
   * landed), value = the media once every write < f landed (later writes do not change it).
   */
  private readonly bases = new Map<number, MemorySnapshot>();
  /** Flush entry indices, ascending (absolute). */
  private flushes: number[] = [];
  private readonly marks = new Map<string, number[]>();
  /** false after stopLogging(): writes pass straight through and no crash state can be built. */
  private logging = true;

  constructor(inner: BlockDevice, opts: CrashDeviceOptions = {}) {
    if (inner === null || typeof inner !== 'object' || typeof inner.write !== 'function') {
      throw new FsError(EINVAL, 'CrashDevice: inner must be a BlockDevice');
    }
    if (opts === null || typeof opts !== 'object') throw new FsError(EINVAL, 'CrashDevice: options must be an object');
    if (opts.name !== undefined && typeof opts.name !== 'string') throw new FsError(EINVAL, 'CrashDevice: name must be a string');
    checkOpen(inner, 'CrashDevice');
    super(inner);
    this.name = opts.name ?? `crash(${inner.name})`;
    // A poisoned inner device's never-written sectors must read the same in every image.
    const poison = inner instanceof MemoryDevice ? inner.poison ?? undefined : undefined;
    this.builder = new MemoryDevice({ size: inner.size, sectorSize: inner.sectorSize, dax: inner.dax, name: `${this.name}:builder`, poison });
    this.mirrored = !(inner instanceof MemoryDevice);
    if (inner instanceof MemoryDevice) {
      this.live = inner;
    } else {
      this.live = new MemoryDevice({ size: inner.size, sectorSize: inner.sectorSize, dax: inner.dax, name: `${this.name}:mirror` });
      copyDevice(inner, this.live);
    }
  }

  /* ---- BlockDevice: everything passes through; the log remembers it ---------------------- */

  read(off: number, buf: Uint8Array): void {
    validateRead(this, off, buf);
    this.inner.read(off, buf);
  }

  write(off: number, data: Uint8Array, opts?: WriteOptions): void {
    const fua = validateWrite(this, off, data, opts);
    if (data.length === 0 || !this.logging) {
      this.inner.write(off, data, opts);
      return;
    }
    const old = this.live.saveRange(off, data.length);
    this.inner.write(off, data, opts);
    if (this.mirrored) this.live.write(off, data);
    // No copy of `data` (the caller may reuse its buffer): the live contents hold it (LoggedWrite).
    this.push(new LoggedWrite(this, this.position, off, data.length, fua, opts?.atomic === true), old);
  }

  /**
   * @internal The bytes write entry `index` wrote: the live contents over its range with the undo
   * records of every later write and discard laid over them, newest first (each says what its
   * range held just before it, so after the one right after `index` the buffer holds the media
   * just after the write).
   */
  writtenData(index: number, off: number, len: number): Uint8Array {
    if (!this.logging || index < this.originIndex || index >= this.position) {
      throw new FsError(EINVAL, `${this.name}: the data of write #${index} is gone (the log holds [${this.originIndex}, ${this.position})${this.logging ? '' : ', recording stopped'})`);
    }
    const out = new Uint8Array(len);
    if (this.liveAtClose === null) this.live.read(off, out);
    else {
      const dev = this.blankImage(`${this.name}:closed`);
      adoptSnapshot(dev, this.liveAtClose);
      dev.read(off, out);
    }
    for (let i = this.position - 1; i > index; i--) {
      const old = this.undo[i - this.originIndex];
      if (old !== null && old.off < off + len && off < old.off + old.len) this.live.readSaved(old, off, out);
    }
    return out;
  }

  /** Append a log entry, with what a write or discard overwrote. */
  private push(e: CrashLogEntry, old: RangeImage | null): void {
    this.log.push(e);
    this.undo.push(old);
  }

  flush(): void {
    checkOpen(this, 'flush');
    this.inner.flush();
    if (!this.logging) return;
    const index = this.position;
    this.push({ kind: 'flush', index }, null);
    this.flushes.push(index);
  }

  discard(off: number, len: number): void {
    validateDiscard(this, off, len);
    if (len === 0 || !this.logging) {
      this.inner.discard(off, len);
      return;
    }
    const old = this.live.saveRange(off, len);
    this.inner.discard(off, len);
    if (this.mirrored) this.live.discard(off, len);
    this.push({ kind: 'discard', index: this.position, off, len, fua: false, data: null }, old);
  }

  /** Closes the inner device. The log stays: images can still be built afterwards (from the contents at the close). */
  close(): void {
    checkOpen(this, 'close');
    if (this.logging) this.liveAtClose = this.live.snapshot();
    this.inner.close();
  }

  /**
   * No power cut will be simulated on this device any more (an fsx run without crash ops): stop
   * recording writes, so the device costs what the one inside it costs. Crash states and images
   * can no longer be built (EINVAL).
   */
  stopLogging(): void {
    this.logging = false;
    this.log.length = 0;
    this.undo.length = 0;
    this.bases.clear();
    this.flushes = [];
  }

  /** Whether writes are still recorded (stopLogging() not called). */
  get recording(): boolean {
    return this.logging;
  }

  /* ---- The log ---------------------------------------------------------------------------- */

  /** Index the next entry will get (= the crash point "now"). */
  get position(): number {
    return this.originIndex + this.log.length;
  }

  /** First index still in the log (entries before it were trimmed into the durable origin). */
  get firstIndex(): number {
    return this.originIndex;
  }

  /** Add a named mark (dm-log-writes `mark NAME`); returns its index. Marks change no durability. */
  mark(name: string): number {
    if (typeof name !== 'string' || name.length === 0) throw new FsError(EINVAL, `${this.name}: mark name must be a non-empty string`);
    const index = this.position;
    this.push({ kind: 'mark', index, name }, null);
    const list = this.marks.get(name);
    if (list) list.push(index);
    else this.marks.set(name, [index]);
    return index;
  }

  /** Index of the last mark with this name (undefined if none, or trimmed away). */
  findMark(name: string): number | undefined {
    const list = this.marks.get(name);
    if (!list) return undefined;
    const last = list[list.length - 1];
    return last >= this.originIndex ? last : undefined;
  }

  /** The entry with this absolute index. */
  entry(index: number): CrashLogEntry {
    const e = this.log[index - this.originIndex];
    if (!Number.isInteger(index) || e === undefined) {
      throw new FsError(EINVAL, `${this.name}: no log entry ${String(index)} (log holds [${this.originIndex}, ${this.position}))`);
    }
    return e;
  }

  /** Entries with index in [from, to). */
  entries(from = this.originIndex, to = this.position): CrashLogEntry[] {
    this.checkPoint(from, 'from');
    this.checkPoint(to, 'to');
    return this.log.slice(from - this.originIndex, Math.max(from, to) - this.originIndex);
  }

  /** One line per entry, for reports. */
  describeEntry(e: CrashLogEntry): string {
    switch (e.kind) {
      case 'flush':
        return `#${e.index} flush`;
      case 'mark':
        return `#${e.index} mark ${JSON.stringify(e.name)}`;
      default:
        return `#${e.index} ${e.kind}${e.fua ? ' FUA' : ''} [${e.off}, +${e.len})`;
    }
  }

  /**
   * Forget the entries before the last flush at or before `point`: they are durable, and no
   * image will undo them (bounds memory in long runs; O(1) per entry, nothing is copied). Points
   * before it can no longer be examined.
   */
  trim(point: number = this.position): void {
    this.checkPoint(point, 'point');
    const f = this.lastFlushBefore(point);
    if (f < 0) return;
    this.log.splice(0, f + 1 - this.originIndex);
    this.undo.splice(0, f + 1 - this.originIndex);
    this.originIndex = f + 1;
    this.flushes = this.flushes.filter((x) => x > f);
    this.bases.clear();
  }

  /* ---- Crash points ----------------------------------------------------------------------- */

  private checkPoint(p: unknown, what: string): asserts p is number {
    if (typeof p !== 'number' || !Number.isInteger(p) || p < this.originIndex || p > this.position) {
      throw new FsError(EINVAL, `${this.name}: ${what} ${String(p)} is not a crash point in [${this.originIndex}, ${this.position}]`);
    }
  }

  /** Index of the last flush entry with index < point, or -1. */
  private lastFlushBefore(point: number): number {
    const fl = this.flushes;
    const i = lowerBound(fl, point);
    return i > 0 ? fl[i - 1] : -1;
  }

  /** The durable state and pending writes at `point`. */
  crashPoint(point: number): CrashPoint {
    if (!this.logging) throw new FsError(EINVAL, `${this.name}: no crash states: recording was stopped (stopLogging)`);
    this.checkPoint(point, 'point');
    const lastFlush = this.lastFlushBefore(point);
    const from = Math.max(lastFlush + 1, this.originIndex);
    const pending: number[] = [];
    let groupStart = from;
    for (let i = from; i < point; i++) {
      const e = this.log[i - this.originIndex];
      if (e.kind === 'write' && e.fua) groupStart = i + 1;
      else if (e.kind === 'write' || e.kind === 'discard') pending.push(i);
    }
    return { point, groupStart, lastFlush, pending };
  }

  /**
   * The maximal crash points in [from, to]: for each group of points sharing a durable state
   * (separated by flushes and FUA writes), its last point. Every crash state of every point in
   * [from, to] is a state of one of these points.
   */
  crashPoints(from = this.originIndex, to = this.position): CrashPoint[] {
    this.checkPoint(from, 'from');
    this.checkPoint(to, 'to');
    const out: CrashPoint[] = [];
    for (let p = from; p <= to; p++) {
      if (p === to) {
        out.push(this.crashPoint(p));
        break;
      }
      const e = this.log[p - this.originIndex];
      if (e.kind === 'flush' || (e.kind === 'write' && e.fua)) out.push(this.crashPoint(p));
    }
    return out;
  }

  /** The earliest point at which `state` can occur (its group start, or just after its last write). */
  earliestPoint(state: CrashState): number {
    const cp = this.crashPoint(state.point);
    let p = cp.groupStart;
    for (const w of state.writes) p = Math.max(p, w.index + 1);
    return p;
  }

  /* ---- Enumeration and sampling ----------------------------------------------------------- */

  private unitOf(opts: EnumerateOptions): number {
    const u = opts.tearUnit ?? this.sectorSize;
    if (!Number.isInteger(u) || u < this.sectorSize || u % this.sectorSize !== 0 || (u & (u - 1)) !== 0) {
      throw new FsError(EINVAL, `${this.name}: tearUnit ${String(u)} must be a power-of-two multiple of the sector size ${this.sectorSize}`);
    }
    return u;
  }

  private limitOf(opts: EnumerateOptions): number {
    const l = opts.limit ?? DEFAULT_ENUMERATE_LIMIT;
    if (typeof l !== 'number' || !(l >= 1)) throw new FsError(EINVAL, `${this.name}: limit must be a number ≥ 1, got ${String(l)}`);
    return l;
  }

  /**
   * The pending writes at a point that can still be seen, with their EFFECTIVE units: the units
   * of the write not entirely overwritten by a later FUA write issued before the point (those
   * always show the FUA data, whatever happened to the older write). Writes with no effective
   * unit are left out: no choice about them changes the image.
   */
  private pendingWrites(cp: CrashPoint, unit: number): PW[] {
    const out: PW[] = [];
    const fuaSectors = new Set<number>();
    const ss = this.sectorSize;
    const per = unit / ss;
    for (let i = cp.point - 1; i > cp.lastFlush && i >= this.originIndex; i--) {
      const e = this.log[i - this.originIndex];
      if (e.kind !== 'write' && e.kind !== 'discard') continue;
      if (e.kind === 'write' && e.fua) {
        for (let s = e.off / ss; s < (e.off + e.len) / ss; s++) fuaSectors.add(s);
        continue;
      }
      const units = unitsOf(e, unit).filter((u) => {
        if (fuaSectors.size === 0) return true;
        const first = Math.max(u * per, e.off / ss);
        const last = Math.min((u + 1) * per, (e.off + e.len) / ss);
        for (let s = first; s < last; s++) if (!fuaSectors.has(s)) return true;
        return false;
      });
      if (units.length) out.push({ e, units, runs: runsOf(units) });
    }
    return out.reverse();
  }

  /**
   * The size of the raw space enumerate() walks for `point` (what `limit` is compared with):
   * 2^n (whole writes), the product over units of (1 + writes covering it) (torn), or the sum over
   * subsets of the product of factorials of their overlap components (reorder). May be Infinity.
   * Pending writes hidden behind later FUA writes do not count.
   */
  rawStateCount(point: number, opts: EnumerateOptions = {}): number {
    const cp = this.crashPoint(point);
    if (opts.torn) {
      const cover = unitCover(this.pendingWrites(cp, this.unitOf(opts)));
      let n = 1;
      for (const c of cover.values()) n *= 1 + c.length;
      return n;
    }
    const ws = this.pendingWrites(cp, this.sectorSize);
    if (opts.reorder) {
      if (ws.length > 20) return Infinity;
      let total = 0;
      forEachSubset(ws.length, (chosen) => {
        let n = 1;
        for (const comp of overlapComponents(chosen.map((i) => ws[i]))) n *= factorial(comp.length);
        total += n;
      });
      return total;
    }
    return 2 ** ws.length;
  }

  /** The number of distinct states enumerate() yields (enumerates them; same limit). */
  countStates(point: number, opts: EnumerateOptions = {}): number {
    let n = 0;
    for (const _ of this.enumerate(point, opts)) n++;
    return n;
  }

  /**
   * Every distinct crash state at `point` (see the header for what distinct means). The first
   * state is always "no pending write landed". Throws RangeError when the raw space exceeds
   * opts.limit.
   */
  *enumerate(point: number, opts: EnumerateOptions = {}): Generator<CrashState> {
    const cp = this.crashPoint(point);
    const limit = this.limitOf(opts);
    const raw = this.rawStateCount(point, opts);
    if (raw > limit) {
      throw new RangeError(`${this.name}: ${raw} raw crash states at point ${point} (${cp.pending.length} pending writes` +
        `${opts.torn ? ', torn' : ''}${opts.reorder ? ', reordered' : ''}) exceed the limit ${limit}; sample instead`);
    }
    if (opts.torn) {
      const unit = this.unitOf(opts);
      yield* enumerateTorn(point, this.pendingWrites(cp, unit), unit);
      return;
    }
    const unit = this.sectorSize;
    const ws = this.pendingWrites(cp, unit);
    const seen = new Set<string>();
    const subsets: number[][] = [];
    forEachSubset(ws.length, (chosen) => subsets.push(chosen.slice()));
    for (const chosen of subsets) {
      const picked = chosen.map((i) => ws[i]);
      if (!opts.reorder) {
        // Issue order: distinct iff every chosen write is visible somewhere.
        if (visibleWrites(picked).includes(false)) continue;
        yield { point, writes: picked.map((w) => ({ index: w.e.index })) };
        continue;
      }
      for (const order of orderings(picked)) {
        const st = stateFromOrder(point, order, unit);
        if (st.writes.length !== picked.length) continue; // a hidden write: same as a smaller subset
        const key = stateKey(st);
        if (seen.has(key)) continue;
        seen.add(key);
        yield st;
      }
    }
  }

  /**
   * `count` distinct crash states at `point`, drawn from `rng` (deterministic for a seed): the
   * first two are always "none landed" and "all landed"; the rest pick each pending write with
   * probability 1/2, then (torn) a random unit subset of each, or (reorder) a random order.
   * Fewer are returned when the space is smaller than count.
   */
  sample(point: number, count: number, rng: CrashRng, opts: EnumerateOptions = {}): CrashState[] {
    if (!Number.isInteger(count) || count < 0) throw new FsError(EINVAL, `${this.name}: sample count must be a non-negative integer`);
    if (!(rng instanceof CrashRng)) throw new FsError(EINVAL, `${this.name}: sample needs a CrashRng`);
    const cp = this.crashPoint(point);
    const unit = opts.torn ? this.unitOf(opts) : this.sectorSize;
    const ws = this.pendingWrites(cp, unit);
    if (!opts.torn && !opts.reorder && ws.length <= MASK_WRITES) return sampleWhole(point, count, rng, ws);
    const out: CrashState[] = [];
    const seen = new Set<string>();
    const add = (st: CrashState): void => {
      const key = stateKey(st);
      if (seen.has(key) || out.length >= count) return;
      seen.add(key);
      out.push(st);
    };
    add({ point, writes: [] });
    add(issueOrderState(point, ws));
    const tries = count * 8 + 16;
    for (let t = 0; t < tries && out.length < count; t++) {
      const picked = ws.filter(() => rng.chance(0.5));
      if (opts.torn) {
        const st = tornDraw(point, picked, rng, unit);
        if (!seen.has(st.key) && out.length < count) {
          seen.add(st.key);
          out.push(st.state());
        }
      } else if (opts.reorder) {
        add(stateFromOrder(point, rng.shuffle(picked.slice()), unit));
      } else {
        add(issueOrderState(point, picked));
      }
    }
    return out;
  }

  /**
   * One crash state at the current point, chosen deterministically by a 32-bit `selector` (the
   * fsx `crash` op's argument): 0 loses every cached write, 1 lands them all in issue order;
   * any other value is torn at sector granularity one time in four, else whole writes, and picks
   * one of a few seeded samples (including those two and random subsets). The same log and
   * selector always give the same state.
   */
  choose(selector: number): CrashState {
    if (!Number.isInteger(selector) || selector < 0 || selector > 0xffffffff) {
      throw new FsError(EINVAL, `${this.name}: crash selector must be an integer in [0, 2^32), got ${String(selector)}`);
    }
    if (!this.logging) throw new FsError(EINVAL, `${this.name}: no crash states: recording was stopped (stopLogging)`);
    // The two canonical states first, so that a shrunk log keeps its crash state when ops go:
    // 0 = every cached write lost, 1 = every cached write landed, in issue order.
    if (selector === 0) return { point: this.position, writes: [] };
    if (selector === 1) return issueOrderState(this.position, this.pendingWrites(this.crashPoint(this.position), this.sectorSize));
    const rng = new CrashRng(selector);
    const torn = rng.below(4) === 0;
    const states = this.sample(this.position, 8, rng, { torn });
    return states[rng.below(states.length)];
  }

  /* ---- Images ------------------------------------------------------------------------------ */

  /**
   * The media once every write before flush entry f landed (before the origin: the origin):
   * the live contents with every later write undone, newest first, starting from the nearest
   * cached base above f. Cached (copy-on-write snapshots) until trim().
   */
  private baseFor(f: number): MemorySnapshot {
    const key = Math.max(f, this.originIndex - 1);
    const hit = this.bases.get(key);
    if (hit) return hit;
    let from = this.position;
    let snap: MemorySnapshot | null = null;
    for (const [k, s] of this.bases) {
      if (k > key && k < from) {
        from = k;
        snap = s;
      }
    }
    adoptSnapshot(this.builder, snap ?? this.liveAtClose ?? this.live.snapshot());
    this.undoDown(this.builder, from, key);
    const out = this.builder.snapshot();
    this.bases.set(key, out);
    return out;
  }

  /** Undo, on `dev` (holding the media at `from`), every write and discard with index in (to, from), newest first. */
  private undoDown(dev: MemoryDevice, from: number, to: number): void {
    for (let i = from - 1; i > to; i--) {
      const old = this.undo[i - this.originIndex];
      if (old) dev.restoreRange(old);
    }
  }

  /** Check a state against the log: EINVAL with a clear message when it is not a state here. */
  validateState(state: CrashState): CrashPoint {
    if (state === null || typeof state !== 'object' || !Array.isArray(state.writes)) {
      throw new FsError(EINVAL, `${this.name}: a crash state is {point, writes: [...]}`);
    }
    const cp = this.crashPoint(state.point);
    const pending = new Set(cp.pending);
    let last = -1;
    for (const w of state.writes) {
      if (w === null || typeof w !== 'object' || !pending.has(w.index)) {
        throw new FsError(EINVAL, `${this.name}: entry ${String(w?.index)} is not a pending write at point ${state.point}`);
      }
      if (w.index <= last) throw new FsError(EINVAL, `${this.name}: crash state writes must be in increasing index order`);
      last = w.index;
      if (w.parts === undefined) continue;
      const e = this.log[w.index - this.originIndex] as CrashWriteEntry;
      if (!Array.isArray(w.parts)) throw new FsError(EINVAL, `${this.name}: parts of write ${w.index} must be an array`);
      for (const p of w.parts) {
        const ok = Array.isArray(p) && p.length === 2 && Number.isInteger(p[0]) && Number.isInteger(p[1]) && p[1] > 0 &&
          p[0] >= e.off && p[0] + p[1] <= e.off + e.len && p[0] % this.sectorSize === 0 && p[1] % this.sectorSize === 0;
        if (!ok) {
          throw new FsError(EINVAL, `${this.name}: part ${JSON.stringify(p)} of write ${w.index} is not a sector-aligned range inside [${e.off}, +${e.len})`);
        }
      }
    }
    return cp;
  }

  /**
   * The media after a crash in `state`, as a new MemoryDevice (the live device is not touched).
   * Replays in issue order from the durable base: FUA writes always, the chosen pending writes
   * (or their parts).
   */
  image(state: CrashState, name?: string): MemoryDevice {
    const cp = this.validateState(state);
    const img = this.blankImage(name ?? `${this.name}@${state.point}`);
    adoptSnapshot(img, this.baseFor(cp.lastFlush));
    this.applyState(img, cp, state);
    return img;
  }

  /**
   * image(state) for a power cut that abandons the live media: the live chunks become the
   * image's (no copy-on-write snapshot, no copy), the later writes are undone in place and the
   * chosen ones applied. The inner device is closed and this device records nothing more; only
   * for an inner MemoryDevice (otherwise the same as image()).
   */
  takeImage(state: CrashState, name?: string): MemoryDevice {
    const cp = this.validateState(state);
    if (this.mirrored || this.liveAtClose) return this.image(state, name);
    const img = this.blankImage(name ?? `${this.name}@${state.point}`);
    // The writes applyState() lands take their bytes from the live contents: before they move.
    this.prepareData(cp, state);
    this.live.moveTo(img);
    this.undoDown(img, this.position, Math.max(cp.lastFlush, this.originIndex - 1));
    this.applyState(img, cp, state);
    this.stopLogging();
    return img;
  }

  private blankImage(name: string): MemoryDevice {
    return new MemoryDevice({ size: this.size, sectorSize: this.sectorSize, dax: this.dax, name, poison: this.builder.poison ?? undefined });
  }

  /** Make the data of the writes applyState() will land (FUA ones after the flush, the chosen ones). */
  private prepareData(cp: CrashPoint, state: CrashState): void {
    for (let i = Math.max(cp.lastFlush + 1, this.originIndex); i < state.point; i++) {
      const e = this.log[i - this.originIndex];
      if (e.kind === 'write' && e.fua) void e.data;
    }
    for (const w of state.writes) void (this.log[w.index - this.originIndex] as CrashWriteEntry).data;
  }

  /** Replay onto the durable base, in issue order: FUA writes always, the chosen pending writes (or their parts). */
  private applyState(img: MemoryDevice, cp: CrashPoint, state: CrashState): void {
    const chosen = new Map<number, PersistedWrite>();
    for (const w of state.writes) chosen.set(w.index, w);
    for (let i = Math.max(cp.lastFlush + 1, this.originIndex); i < state.point; i++) {
      const e = this.log[i - this.originIndex];
      if (e.kind !== 'write' && e.kind !== 'discard') continue;
      if (e.kind === 'write' && e.fua) {
        applyEntry(img, e, null);
        continue;
      }
      const w = chosen.get(i);
      if (w) applyEntry(img, e, w.parts ?? null);
    }
  }

  /** The media at `point` if none of the pending writes landed. */
  durableImage(point: number = this.position): MemoryDevice {
    return this.image({ point, writes: [] });
  }

  /** The media at `point` if every pending write landed whole (what the live device showed then). */
  fullImage(point: number = this.position): MemoryDevice {
    const cp = this.crashPoint(point);
    return this.image({ point, writes: cp.pending.map((index) => ({ index })) });
  }

  /** A one-line description of a state, for reports. */
  describeState(state: CrashState): string {
    const cp = this.crashPoint(state.point);
    const parts = state.writes.map((w) => {
      const e = this.log[w.index - this.originIndex] as CrashWriteEntry;
      const what = `#${w.index} ${e.kind} [${e.off}, +${e.len})`;
      return w.parts ? `${what} torn to ${w.parts.map(([o, l]) => `[${o}, +${l})`).join(' ')}` : what;
    });
    const lost = cp.pending.length - state.writes.length;
    return `crash at point ${state.point} (after entry #${state.point - 1}), last flush #${cp.lastFlush}, ` +
      `${cp.pending.length} pending; landed: ${parts.length ? parts.join(', ') : 'none'}; ${lost} lost entirely`;
  }
}

/* ------------------------------------------------------------------------------------------ */
/* Helpers                                                                                    */
/* ------------------------------------------------------------------------------------------ */

/**
 * Make `dev` hold `snap`'s contents safely. MemoryDevice.restore() assumes the snapshot was
 * taken from the same device: its copy-on-write marks are per device, so a foreign snapshot's
 * chunks would be written in place. Taking a snapshot right after the restore marks them as
 * shared in `dev` too, so `dev`'s later writes copy first.
 */
function adoptSnapshot(dev: MemoryDevice, snap: MemorySnapshot): void {
  dev.restore(snap);
  dev.snapshot();
}

/** A sparse copy of any device into a MemoryDevice of the same geometry (1 MiB reads). */
function copyDevice(src: BlockDevice, dst: MemoryDevice): void {
  const step = Math.max(1 << 20, src.sectorSize);
  const buf = new Uint8Array(step);
  for (let off = 0; off < src.size; off += step) {
    const n = Math.min(step, src.size - off);
    const view = buf.subarray(0, n);
    src.read(off, view);
    dst.write(off, view);
  }
}

/** A write in the CrashDevice's log: its data is rebuilt from the device when first asked for. */
class LoggedWrite implements CrashWriteEntry {
  readonly kind = 'write' as const;
  readonly atomic?: boolean;
  private bytes: Uint8Array | null = null;

  constructor(private readonly dev: CrashDevice, readonly index: number, readonly off: number, readonly len: number, readonly fua: boolean, atomic: boolean) {
    if (atomic) this.atomic = true;
  }

  get data(): Uint8Array {
    if (this.bytes === null) this.bytes = this.dev.writtenData(this.index, this.off, this.len);
    return this.bytes;
  }
}

/** Apply a write/discard entry (all of it, or only `parts`) to a device. */
function applyEntry(dev: MemoryDevice, e: CrashWriteEntry, parts: ReadonlyArray<readonly [number, number]> | null): void {
  const ranges = parts ?? [[e.off, e.len] as const];
  for (const [off, len] of ranges) {
    if (e.data) dev.write(off, e.data.subarray(off - e.off, off - e.off + len));
    else dev.discard(off, len);
  }
}

/** A pending write and its effective units (see pendingWrites). */
interface PW {
  readonly e: CrashWriteEntry;
  readonly units: readonly number[];
  /** The same units as runs of consecutive numbers, [lo, hi) pairs flattened (visibleWrites). */
  readonly runs: readonly number[];
}

/**
 * One torn draw of sample(): each picked write lands on a random subset of its units (one draw
 * per unit, in order; an atomic write lands whole), as stateFromUnitSets() with unitsToParts()
 * would make it, and the stateKey() of that state. The runs of landed units are found as the
 * units are drawn (no per-write unit arrays, map or sort); the state itself is made on demand,
 * only for a key not seen before.
 */
function tornDraw(point: number, picked: readonly PW[], rng: CrashRng, unit: number): { key: string; state: () => CrashState } {
  const writes: PersistedWrite[] = [];
  const keys: string[] = [];
  for (const w of picked) {
    const e = w.e;
    if (e.atomic === true) {
      if (w.units.length > 0) {
        writes.push({ index: e.index });
        keys.push(`${e.index}`);
      }
      continue;
    }
    const us = w.units;
    const parts: Array<[number, number]> = [];
    let landed = 0;
    let runLo = -1;
    let runHi = -1;
    const close = (): void => {
      const start = Math.max(e.off, runLo * unit);
      const end = Math.min(e.off + e.len, runHi * unit);
      parts.push([start, end - start]);
    };
    for (let k = 0; k < us.length; k++) {
      if (!rng.chance(0.5)) continue;
      const u = us[k];
      landed++;
      if (runHi === u) runHi = u + 1;
      else {
        if (runLo >= 0) close();
        runLo = u;
        runHi = u + 1;
      }
    }
    if (landed === 0) continue;
    if (landed === us.length) {
      writes.push({ index: e.index });
      keys.push(`${e.index}`);
      continue;
    }
    close();
    writes.push({ index: e.index, parts });
    keys.push(`${e.index}:${parts.map(([o, l]) => `${o}+${l}`).join(',')}`);
  }
  return { key: keys.join(';'), state: () => ({ point, writes }) };
}

/** Pending writes up to which sampleWhole() names a subset by a bit mask. */
const MASK_WRITES = 30;

/**
 * sample() of whole writes in issue order (no tearing, no reordering), for at most MASK_WRITES
 * pending writes: the same draws in the same order, the same states in the same order, but a
 * subset is a bit mask and a state is made only when its mask is new. A power cut with a few
 * pending writes runs out of new states long before its tries end (2 writes: 4 states, 80 tries),
 * and then each try is just its draws.
 */
function sampleWhole(point: number, count: number, rng: CrashRng, ws: readonly PW[]): CrashState[] {
  const n = ws.length;
  const disjoint = noOverlap(ws);
  const all = 2 ** n;
  const out: CrashState[] = [];
  const seen = new Set<number>();
  const add = (mask: number): void => {
    if (seen.has(mask) || out.length >= count) return;
    seen.add(mask);
    const writes: PersistedWrite[] = [];
    for (let i = 0; i < n; i++) if ((mask >>> i) & 1) writes.push({ index: ws[i].e.index });
    out.push({ point, writes });
  };
  // A state is its visible writes (issueOrderState): a write no unit of which shows is not in it.
  const visible = (mask: number): number => {
    if (disjoint) return mask;
    const picked: PW[] = [];
    const at: number[] = [];
    for (let i = 0; i < n; i++) {
      if ((mask >>> i) & 1) {
        picked.push(ws[i]);
        at.push(i);
      }
    }
    const vis = visibleWrites(picked);
    let m = 0;
    for (let k = 0; k < at.length; k++) if (vis[k]) m |= 1 << at[k];
    return m >>> 0;
  };
  add(0);
  add(visible(all - 1));
  const tries = count * 8 + 16;
  for (let t = 0; t < tries && out.length < count; t++) {
    let m = 0;
    for (let i = 0; i < n; i++) if (rng.chance(0.5)) m |= 1 << i;
    if (seen.size < all) add(visible(m >>> 0));
  }
  return out;
}

/** Whether no two of the writes share a unit (then every write of every subset is visible). */
function noOverlap(ws: readonly PW[]): boolean {
  const runs: Array<[number, number]> = [];
  for (const w of ws) for (let k = 0; k < w.runs.length; k += 2) runs.push([w.runs[k], w.runs[k + 1]]);
  runs.sort((a, b) => a[0] - b[0]);
  let end = -Infinity;
  for (const [lo, hi] of runs) {
    if (lo < end) return false;
    end = Math.max(end, hi);
  }
  return true;
}

/** Ascending unit numbers as runs [lo, hi) of consecutive ones, flattened. */
function runsOf(units: readonly number[]): number[] {
  const out: number[] = [];
  for (const u of units) {
    if (out.length > 0 && out[out.length - 1] === u) out[out.length - 1] = u + 1;
    else out.push(u, u + 1);
  }
  return out;
}

/** Whether some atomic write got some but not all of its units in `per` (entry index -> units). */
function tearsAtomic(ws: readonly PW[], per: ReadonlyMap<number, number[]>): boolean {
  for (const w of ws) {
    if (w.e.atomic !== true) continue;
    const got = per.get(w.e.index)?.length ?? 0;
    if (got !== 0 && got !== w.units.length) return true;
  }
  return false;
}

/** Unit numbers (absolute: floor(byte / unit)) a write touches. */
function unitsOf(w: CrashWriteEntry, unit: number): number[] {
  const out: number[] = [];
  const last = Math.floor((w.off + w.len - 1) / unit);
  for (let u = Math.floor(w.off / unit); u <= last; u++) out.push(u);
  return out;
}

/** unit -> entry indices of the pending writes whose effective units include it (issue order). */
function unitCover(ws: readonly PW[]): Map<number, number[]> {
  const cover = new Map<number, number[]>();
  for (const w of ws) {
    for (const u of w.units) {
      const l = cover.get(u);
      if (l) l.push(w.e.index);
      else cover.set(u, [w.e.index]);
    }
  }
  return cover;
}

/** Merge unit numbers into [off, len] byte ranges, clipped to the write. */
function unitsToParts(w: CrashWriteEntry, units: readonly number[], unit: number): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  const sorted = [...units].sort((a, b) => a - b);
  let i = 0;
  while (i < sorted.length) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1] === sorted[j] + 1) j++;
    const start = Math.max(w.off, sorted[i] * unit);
    const end = Math.min(w.off + w.len, (sorted[j] + 1) * unit);
    out.push([start, end - start]);
    i = j + 1;
  }
  return out;
}

/**
 * A state from per-write landed unit sets (listed in issue order); writes with no unit are
 * dropped, writes that landed on all their effective units are listed whole.
 */
function stateFromUnitSets(point: number, ws: readonly PW[], units: Map<number, number[]>, unit: number): CrashState {
  const writes: PersistedWrite[] = [];
  for (const w of [...ws].sort((a, b) => a.e.index - b.e.index)) {
    const us = units.get(w.e.index);
    if (!us || us.length === 0) continue;
    if (us.length === w.units.length) writes.push({ index: w.e.index });
    else writes.push({ index: w.e.index, parts: unitsToParts(w.e, us, unit) });
  }
  return { point, writes };
}

/** Torn enumeration: every unit independently takes any covering pending write, or nothing. */
function* enumerateTorn(point: number, ws: readonly PW[], unit: number): Generator<CrashState> {
  const cover = unitCover(ws);
  const units = [...cover.keys()].sort((a, b) => a - b);
  const choice = new Array<number>(units.length).fill(0);
  for (;;) {
    const per = new Map<number, number[]>();
    units.forEach((u, i) => {
      if (choice[i] === 0) return;
      const w = cover.get(u)![choice[i] - 1];
      const l = per.get(w);
      if (l) l.push(u);
      else per.set(w, [u]);
    });
    // A state that tears an atomic write (some of its units, not all) cannot happen: skip it.
    // (So is one where it landed whole but a later write won some of its units: an image left out.)
    if (!tearsAtomic(ws, per)) yield stateFromUnitSets(point, ws, per, unit);
    let i = 0;
    while (i < units.length) {
      choice[i]++;
      if (choice[i] <= cover.get(units[i])!.length) break;
      choice[i] = 0;
      i++;
    }
    if (i === units.length) return;
  }
}

/**
 * The state where `order`'s writes land whole in that order (later wins): each keeps only the
 * units where it wins (parts, if not all of them); writes that win nowhere are dropped.
 */
function stateFromOrder(point: number, order: readonly PW[], unit: number): CrashState {
  const winner = new Map<number, number>();
  for (const w of order) for (const u of w.units) winner.set(u, w.e.index);
  const per = new Map<number, number[]>();
  for (const [u, w] of winner) {
    const l = per.get(w);
    if (l) l.push(u);
    else per.set(w, [u]);
  }
  return stateFromUnitSets(point, order, per, unit);
}

/** Whole writes in issue order, minus those entirely overwritten by later chosen ones. */
function issueOrderState(point: number, picked: readonly PW[]): CrashState {
  const vis = visibleWrites(picked);
  return { point, writes: picked.filter((_, i) => vis[i]).map((w) => ({ index: w.e.index })) };
}

/**
 * For whole writes applied in issue order: whether each is visible somewhere (some unit of it
 * no later one covers). Run by run against the union of the later writes' runs (a few intervals),
 * not unit by unit: sample() asks this for dozens of subsets at every crash op.
 */
function visibleWrites(picked: readonly PW[]): boolean[] {
  const out = new Array<boolean>(picked.length).fill(false);
  const los: number[] = [];
  const his: number[] = [];
  for (let i = picked.length - 1; i >= 0; i--) {
    const r = picked[i].runs;
    for (let k = 0; k < r.length && !out[i]; k += 2) if (!covered(los, his, r[k], r[k + 1])) out[i] = true;
    for (let k = 0; k < r.length; k += 2) cover(los, his, r[k], r[k + 1]);
  }
  return out;
}

/** Whether [lo, hi) lies inside one interval of the sorted, disjoint, non-touching los/his. */
function covered(los: readonly number[], his: readonly number[], lo: number, hi: number): boolean {
  for (let k = 0; k < los.length && los[k] <= lo; k++) if (hi <= his[k]) return true;
  return false;
}

/** Add [lo, hi) to the sorted interval list los/his, merging what it meets or touches. */
function cover(los: number[], his: number[], lo: number, hi: number): void {
  let i = 0;
  while (i < los.length && his[i] < lo) i++;
  let j = i;
  while (j < los.length && los[j] <= hi) {
    lo = Math.min(lo, los[j]);
    hi = Math.max(hi, his[j]);
    j++;
  }
  los.splice(i, j - i, lo);
  his.splice(i, j - i, hi);
}


function stateKey(st: CrashState): string {
  return st.writes.map((w) => (w.parts ? `${w.index}:${w.parts.map(([o, l]) => `${o}+${l}`).join(',')}` : `${w.index}`)).join(';');
}

/** Call fn with every subset of {0..n-1} (as a sorted index list), the empty one first. */
function forEachSubset(n: number, fn: (chosen: number[]) => void): void {
  if (n > 30) throw new RangeError(`too many pending writes (${n}) to enumerate subsets`);
  const total = 2 ** n;
  const chosen: number[] = [];
  for (let m = 0; m < total; m++) {
    chosen.length = 0;
    for (let i = 0; i < n; i++) if (Math.floor(m / 2 ** i) % 2 === 1) chosen.push(i);
    fn(chosen);
  }
}

function overlaps(a: PW, b: PW): boolean {
  if (!(a.e.off < b.e.off + b.e.len && b.e.off < a.e.off + a.e.len)) return false;
  const s = new Set(a.units);
  return b.units.some((u) => s.has(u));
}

/** Connected components of the overlap graph (each in issue order). */
function overlapComponents(ws: readonly PW[]): PW[][] {
  const comp = ws.map((_, i) => i);
  const find = (i: number): number => {
    while (comp[i] !== i) i = comp[i] = comp[comp[i]];
    return i;
  };
  for (let i = 0; i < ws.length; i++) {
    for (let j = i + 1; j < ws.length; j++) if (overlaps(ws[i], ws[j])) comp[find(i)] = find(j);
  }
  const groups = new Map<number, PW[]>();
  ws.forEach((w, i) => {
    const r = find(i);
    const g = groups.get(r);
    if (g) g.push(w);
    else groups.set(r, [w]);
  });
  return [...groups.values()];
}

function factorial(n: number): number {
  let f = 1;
  for (let i = 2; i <= n; i++) f *= i;
  return f;
}

function permutations<T>(xs: readonly T[]): T[][] {
  if (xs.length <= 1) return [xs.slice()];
  const out: T[][] = [];
  xs.forEach((x, i) => {
    for (const rest of permutations([...xs.slice(0, i), ...xs.slice(i + 1)])) out.push([x, ...rest]);
  });
  return out;
}

/** Every landing order that can matter: each overlap component permuted, components concatenated. */
function* orderings(picked: readonly PW[]): Generator<PW[]> {
  const comps = overlapComponents(picked);
  const perms = comps.map((c) => permutations(c));
  const idx = new Array<number>(comps.length).fill(0);
  for (;;) {
    yield perms.flatMap((p, i) => p[idx[i]]);
    let i = 0;
    while (i < comps.length) {
      idx[i]++;
      if (idx[i] < perms[i].length) break;
      idx[i] = 0;
      i++;
    }
    if (i === comps.length) return;
  }
}
