/**
 * MemoryDevice: a sparse in-memory block device.
 *
 * Storage is a Map from chunk index to a CHUNK_SIZE (64 KiB) Uint8Array, allocated on the first
 * write that puts non-zero data into the chunk. Unallocated chunks read as zeroes, so memory follows
 * the data written, not the device size: a 1 TiB device costs nothing until written.
 *   - writing all-zero data to an absent chunk allocates nothing;
 *   - writing zeroes over a whole present chunk frees it;
 *   - discard frees whole chunks and zeroes the partial ones (reads after a discard return zeroes).
 * All copying is bulk typed-array work (set/fill/subarray, Buffer.compare for the zero test): this
 * is on the fuzzer's hot path.
 *
 * snapshot()/restore() are O(number of chunks), not O(bytes): a snapshot shares chunk arrays with
 * the live device, and any later mutation of a shared chunk copies it first (copy-on-write).
 * The crash wrapper uses this to materialize device states.
 *
 * Memory is always "durable": flush() and FUA are accepted and do nothing (volatile-cache
 * behaviour is the crash wrapper's job).
 *
 * `poison: SEED` models a used disk: sectors never written read as old data — a 64 KiB non-zero
 * pattern made from SEED, repeated — instead of zeroes, still without materialising anything
 * (the first write into a chunk copies the pattern in). Filesystem bugs that expose blocks they
 * never wrote (stale data) then show up as bytes a correct run never produces.
 */
import { EINVAL, FsError } from '../errno';
import { CrashRng } from './crash';
import type { BlockDevice, WriteOptions } from './types';
import { checkOpen, validateDiscard, validateGeometry, validateRead, validateWrite } from './validate';

/** Chunk size: a multiple of every allowed sector size (max 64 KiB). */
export const CHUNK_SIZE = 65536;

/** A shared all-zero chunk for "is this range all zero?" via Buffer.compare (memcmp). */
const ZERO = Buffer.alloc(CHUNK_SIZE);

function isZero(data: Uint8Array): boolean {
  const view = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  return view.compare(ZERO, 0, data.byteLength) === 0;
}

const patterns = new Map<number, Uint8Array>();

/**
 * The "old disk contents" of a poisoned device: CHUNK_SIZE bytes drawn from CrashRng(seed), with
 * no zero byte (a zero could pass for correctly zeroed data). Made once per seed; shared, never
 * written. The crash and fault harnesses fill their devices with it too.
 */
export function poisonPattern(seed: number): Uint8Array {
  let p = patterns.get(seed);
  if (!p) {
    p = new CrashRng(seed).fill(new Uint8Array(CHUNK_SIZE));
    for (let i = 0; i < p.length; i++) if (p[i] === 0) p[i] = 0xa5;
    patterns.set(seed, p);
  }
  return p;
}

/** The pattern seed the crash harness has always used; `--poison` without a seed picks it too. */
export const DEFAULT_POISON_SEED = 0x0bad0bad;

export interface MemoryDeviceOptions {
  /** Device size in bytes: a multiple of sectorSize, at most Number.MAX_SAFE_INTEGER. */
  size: number;
  /** Logical sector size (a power of two, 512..65536). Default 512. */
  sectorSize?: number;
  /** Whether the device reports DAX capability. Default true. */
  dax?: boolean;
  /** Name shown in errors and reports. Default "memory". */
  name?: string;
  /** Never-written sectors read as poisonPattern(poison) instead of zeroes. Default: zeroes. */
  poison?: number;
}

/** An opaque point-in-time image of a MemoryDevice (see snapshot()). */
export class MemorySnapshot {
  /** @internal */
  constructor(
    readonly size: number,
    readonly sectorSize: number,
    /** Pattern seed of the device it was taken from (null: never-written reads zero). */
    readonly poison: number | null,
    /** @internal */ readonly chunks: ReadonlyMap<number, Uint8Array>,
  ) {}
  /** Bytes held by the snapshot's chunks (shared with the device until either side changes). */
  allocatedBytes(): number {
    return this.chunks.size * CHUNK_SIZE;
  }
}

/**
 * What a byte range of a MemoryDevice held (saveRange): a copy of the bytes of each chunk that was
 * present; the rest read as never written. Sparse: a range over absent chunks costs nothing.
 */
export interface RangeImage {
  readonly off: number;
  readonly len: number;
  /** Chunk index -> the range's bytes in that chunk, for the chunks present when it was saved. */
  readonly present: ReadonlyMap<number, Uint8Array>;
}

export class MemoryDevice implements BlockDevice {
  readonly name: string;
  readonly sectorSize: number;
  readonly size: number;
  readonly dax: boolean;
  /** Seed of the pattern never-written sectors read as; null: they read zero. */
  readonly poison: number | null;
  /** poisonPattern(poison), or null. */
  private readonly old: Uint8Array | null;
  private _closed = false;
  private chunks = new Map<number, Uint8Array>();
  /** Chunks that a snapshot also references: copy before mutating. */
  private shared = new WeakSet<Uint8Array>();

  constructor(opts: MemoryDeviceOptions) {
    if (opts === null || typeof opts !== 'object') {
      throw new FsError(EINVAL, `MemoryDevice: options must be an object like {size: 1048576}`);
    }
    const g = validateGeometry('MemoryDevice', opts.size, opts.sectorSize ?? 512);
    if (opts.dax !== undefined && typeof opts.dax !== 'boolean') {
      throw new FsError(EINVAL, `MemoryDevice: dax must be a boolean`);
    }
    if (opts.name !== undefined && typeof opts.name !== 'string') {
      throw new FsError(EINVAL, `MemoryDevice: name must be a string`);
    }
    if (opts.poison !== undefined && (!Number.isInteger(opts.poison) || opts.poison < 0 || opts.poison > 0xffffffff)) {
      throw new FsError(EINVAL, `MemoryDevice: poison must be an integer seed in [0, 2^32-1]`);
    }
    this.size = g.size;
    this.sectorSize = g.sectorSize;
    this.poison = opts.poison ?? null;
    this.old = this.poison === null ? null : poisonPattern(this.poison);
    this.dax = opts.dax ?? true;
    this.name = opts.name ?? 'memory';
  }

  get closed(): boolean {
    return this._closed;
  }

  read(off: number, buf: Uint8Array): void {
    validateRead(this, off, buf);
    let pos = 0;
    const len = buf.length;
    while (pos < len) {
      const abs = off + pos;
      const idx = Math.floor(abs / CHUNK_SIZE);
      const inChunk = abs - idx * CHUNK_SIZE;
      const n = Math.min(CHUNK_SIZE - inChunk, len - pos);
      const chunk = this.chunks.get(idx);
      if (chunk) buf.set(chunk.subarray(inChunk, inChunk + n), pos);
      else if (this.old) buf.set(this.old.subarray(inChunk, inChunk + n), pos);
      else buf.fill(0, pos, pos + n);
      pos += n;
    }
  }

  write(off: number, data: Uint8Array, opts?: WriteOptions): void {
    validateWrite(this, off, data, opts);
    let pos = 0;
    const len = data.length;
    while (pos < len) {
      const abs = off + pos;
      const idx = Math.floor(abs / CHUNK_SIZE);
      const inChunk = abs - idx * CHUNK_SIZE;
      const n = Math.min(CHUNK_SIZE - inChunk, len - pos);
      const src = data.subarray(pos, pos + n);
      let chunk = this.chunks.get(idx);
      if (chunk === undefined) {
        if (this.old || !isZero(src)) {
          // A partial write into a poisoned chunk keeps the old bytes around it.
          chunk = this.old && n < CHUNK_SIZE ? this.old.slice() : new Uint8Array(CHUNK_SIZE);
          chunk.set(src, inChunk);
          this.chunks.set(idx, chunk);
        }
      } else if (n === CHUNK_SIZE && isZero(src) && !this.old) {
        this.chunks.delete(idx);
      } else {
        this.writable(idx, chunk).set(src, inChunk);
      }
      pos += n;
    }
  }

  flush(): void {
    checkOpen(this, 'flush');
  }

  discard(off: number, len: number): void {
    validateDiscard(this, off, len);
    let pos = 0;
    while (pos < len) {
      const abs = off + pos;
      const idx = Math.floor(abs / CHUNK_SIZE);
      const inChunk = abs - idx * CHUNK_SIZE;
      const n = Math.min(CHUNK_SIZE - inChunk, len - pos);
      const chunk = this.chunks.get(idx) ?? (this.old ? this.materialise(idx) : undefined);
      if (chunk !== undefined) {
        // Discarded ranges read zero; on a poisoned device an absent chunk would not.
        if (n === CHUNK_SIZE && !this.old) this.chunks.delete(idx);
        else this.writable(idx, chunk).fill(0, inChunk, inChunk + n);
      }
      pos += n;
    }
  }

  close(): void {
    checkOpen(this, 'close');
    this._closed = true;
    this.chunks = new Map();
  }

  /** Bytes of memory holding data (number of allocated chunks x CHUNK_SIZE). */
  allocatedBytes(): number {
    checkOpen(this, 'allocatedBytes');
    return this.chunks.size * CHUNK_SIZE;
  }

  /** A cheap image of the current contents (no data copied; later writes copy-on-write). */
  snapshot(): MemorySnapshot {
    checkOpen(this, 'snapshot');
    for (const c of this.chunks.values()) this.shared.add(c);
    return new MemorySnapshot(this.size, this.sectorSize, this.poison, new Map(this.chunks));
  }

  /** Make the contents equal to `snap` (which stays valid and may be restored again). */
  restore(snap: MemorySnapshot): void {
    checkOpen(this, 'restore');
    if (!(snap instanceof MemorySnapshot)) {
      throw new FsError(EINVAL, `${this.name}: restore: argument is not a MemorySnapshot`);
    }
    if (snap.size !== this.size || snap.sectorSize !== this.sectorSize) {
      throw new FsError(EINVAL, `${this.name}: restore: snapshot geometry (${snap.size}/${snap.sectorSize}) ` +
        `does not match the device (${this.size}/${this.sectorSize})`);
    }
    // Absent chunks mean "never written": they must read the same on both sides.
    if (snap.poison !== this.poison) {
      throw new FsError(EINVAL, `${this.name}: restore: snapshot poison ${snap.poison} does not match the device's ${this.poison}`);
    }
    // The snapshot may come from another device, whose WeakSet marked its chunks shared, not
    // ours: mark them here too, or our next write would change the snapshot (and that device).
    for (const c of snap.chunks.values()) this.shared.add(c);
    this.chunks = new Map(snap.chunks);
  }

  /**
   * The current contents of [off, off+len) (the crash device's undo record of a write): bytes of
   * the chunks present, nothing for absent ones. No validation: the caller validated the request.
   */
  saveRange(off: number, len: number): RangeImage {
    const present = new Map<number, Uint8Array>();
    this.forChunksIn(off, len, (idx, chunk, from, to) => {
      present.set(idx, chunk.slice(from, to));
    });
    return { off, len, present };
  }

  /**
   * Copy into `dst` (device bytes [off, off + dst.length)) what `img` says its range held, where
   * the two meet: the saved bytes of chunks present at the save, never-written contents (zeroes
   * or the pattern) for the others. The rest of `dst` is left alone.
   */
  readSaved(img: RangeImage, off: number, dst: Uint8Array): void {
    const hi = Math.min(off + dst.length, img.off + img.len);
    for (let a = Math.max(off, img.off); a < hi;) {
      const idx = Math.floor(a / CHUNK_SIZE);
      const base = idx * CHUNK_SIZE;
      const b = Math.min(hi, base + CHUNK_SIZE);
      const saved = img.present.get(idx);
      if (saved !== undefined) {
        const from = Math.max(img.off, base);
        dst.set(saved.subarray(a - from, b - from), a - off);
      } else if (this.old) dst.set(this.old.subarray(a - base, b - base), a - off);
      else dst.fill(0, a - off, b - off);
      a = b;
    }
  }

  /** Make [img.off, +img.len) read as it did when `img` was saved (the rest is untouched). */
  restoreRange(img: RangeImage): void {
    const { off, len, present } = img;
    for (const [idx, bytes] of present) {
      const from = Math.max(off, idx * CHUNK_SIZE) - idx * CHUNK_SIZE;
      const chunk = this.chunks.get(idx) ?? this.absentChunk(idx);
      this.writable(idx, chunk).set(bytes, from);
    }
    // Chunks absent at the save and written since: back to never written (zero, or the pattern).
    this.forChunksIn(off, len, (idx, chunk, from, to) => {
      if (present.has(idx)) return;
      if (to - from === CHUNK_SIZE) this.chunks.delete(idx);
      else if (this.old) this.writable(idx, chunk).set(this.old.subarray(from, to), from);
      else this.writable(idx, chunk).fill(0, from, to);
    });
  }

  /**
   * Hand every chunk over to `dst` (same geometry and pattern), which then holds this device's
   * contents without a copy; this device is closed. For a device nobody will read again (the
   * media a power cut abandons).
   */
  moveTo(dst: MemoryDevice): void {
    checkOpen(this, 'moveTo');
    if (dst.size !== this.size || dst.sectorSize !== this.sectorSize || dst.poison !== this.poison) {
      throw new FsError(EINVAL, `${this.name}: moveTo: ${dst.name} has another geometry or pattern`);
    }
    dst.chunks = this.chunks;
    dst.shared = this.shared;
    this.chunks = new Map();
    this.shared = new WeakSet();
    this._closed = true;
  }

  /** fn(idx, chunk, from, to) for each present chunk overlapping [off, off+len), in-chunk byte bounds; walks the cheaper of the range and the chunk map. */
  private forChunksIn(off: number, len: number, fn: (idx: number, chunk: Uint8Array, from: number, to: number) => void): void {
    const first = Math.floor(off / CHUNK_SIZE);
    const last = Math.floor((off + len - 1) / CHUNK_SIZE);
    if (len <= 0) return;
    const visit = (idx: number, chunk: Uint8Array): void => {
      const base = idx * CHUNK_SIZE;
      fn(idx, chunk, Math.max(off, base) - base, Math.min(off + len, base + CHUNK_SIZE) - base);
    };
    if (last - first < this.chunks.size) {
      for (let idx = first; idx <= last; idx++) {
        const chunk = this.chunks.get(idx);
        if (chunk !== undefined) visit(idx, chunk);
      }
    } else {
      const hits: number[] = [];
      for (const idx of this.chunks.keys()) if (idx >= first && idx <= last) hits.push(idx);
      for (const idx of hits.sort((a, b) => a - b)) visit(idx, this.chunks.get(idx)!);
    }
  }

  /** A chunk for an absent index: the pattern (poisoned) or zeroes, now present. */
  private absentChunk(idx: number): Uint8Array {
    if (this.old) return this.materialise(idx);
    const chunk = new Uint8Array(CHUNK_SIZE);
    this.chunks.set(idx, chunk);
    return chunk;
  }

  /** A poisoned device's absent chunk as a real one holding the pattern (then written over). */
  private materialise(idx: number): Uint8Array {
    const chunk = this.old!.slice();
    this.chunks.set(idx, chunk);
    return chunk;
  }

  /** The chunk at idx, copied first if a snapshot shares it. */
  private writable(idx: number, chunk: Uint8Array): Uint8Array {
    if (!this.shared.has(chunk)) return chunk;
    const copy = chunk.slice();
    this.chunks.set(idx, copy);
    return copy;
  }
}

