/**
 * The sparse byte oracle: what every byte of the file under test must read as, plus its size.
 * It is fsx's `good_buf` + `file_size`, made sparse and 64-bit clean: memory grows with the data
 * written (in fixed-size chunks), never with the file size, so a file may be truncated or written
 * at any offset up to MAX_OFFSET.
 *
 * Limit: offsets and sizes are JavaScript numbers, exact up to Number.MAX_SAFE_INTEGER
 * (2^53 − 1 = 9 007 199 254 740 991 bytes, 8 PiB). Every method requires `off + len ≤ MAX_OFFSET`
 * and throws a RangeError otherwise; the op-log loader rejects larger values before they get here.
 * Linux allows up to 2^63 − 1 (s_maxbytes of xfs/btrfs/tmpfs); that upper range is not modelled.
 *
 * Invariant: every byte at or beyond `size` is zero. Writes beyond EOF therefore need no explicit
 * gap zeroing, and truncate/collapse restore the invariant for the bytes they release.
 *
 * Hot path rules: bulk typed-array operations only (Buffer#copy / fill / compare); the only
 * per-byte loops are on failure paths (finding the first mismatching byte).
 *
 * The oracle knows nothing of extents, blocks or caches: it is independent of the thing checked.
 */

import { lowerBound } from '../../reference/sorted';
import type { RangeSet } from '../../reference/ranges';

export const MAX_OFFSET = Number.MAX_SAFE_INTEGER;

/** Default chunk size: 64 KiB (the default fsx -o); a power of two. */
export const DEFAULT_CHUNK_SIZE = 65536;

/** The largest file (fsx -l) whose oracle keeps DEFAULT_CHUNK_SIZE chunks (SPARSE_CHUNK_SIZE above it). */
export const DENSE_FILE_LIMIT = 1 << 24;

/** Chunk size of the oracle of a file larger than DENSE_FILE_LIMIT: one fs block of the usual size. */
export const SPARSE_CHUNK_SIZE = 4096;

/**
 * The oracle's chunk size for files of at most `maxlen` bytes. A file of up to 16 MiB costs at
 * most 16 MiB of chunks whatever their size, and 64 KiB chunks (one per fsx op at most) are
 * cheapest there; in a larger, sparse file every scattered write of a few bytes would pin a
 * 64 KiB chunk (and every copy the checks make of it), so there the chunks are 4 KiB and the
 * memory follows the bytes written. The contents are the same either way; what differs is which
 * ranges storedRanges() names, so runs up to 16 MiB keep reading exactly what they always read.
 */
export function oracleChunkSize(maxlen: number): number {
  return maxlen <= DENSE_FILE_LIMIT ? DEFAULT_CHUNK_SIZE : SPARSE_CHUNK_SIZE;
}

/** Released chunks kept for reuse. */
const SPARE_CHUNKS = 8;

/** Largest buffer shiftTail() keeps for the next shift. */
const MOVE_BUF_KEPT = 4 << 20;

/** Chunk indices below this live in a plain array (fast); above it in a Map. */
const DENSE_CHUNKS = 4096;

/** The first byte where the oracle and an actual buffer differ. */
export interface Mismatch {
  /** Absolute file offset of the first differing byte. */
  offset: number;
  /** Index of that byte in the actual buffer. */
  index: number;
  expected: number;
  actual: number;
}

/** A piece of data during a shift (collapse/insert): `len` bytes at `pos` (old position), saved at `at`. */
interface Segment {
  pos: number;
  at: number;
  len: number;
}

export class SparseBytes {
  readonly chunkSize: number;
  /** Current file size. Mutate only through the methods (they keep the zero-past-EOF invariant). */
  size = 0;
  private dense: (Buffer | undefined)[] = [];
  /** A few released chunks, reused (zeroed) before allocating new ones: saves allocation and GC. */
  private spare: Buffer[] = [];
  private far = new Map<number, Buffer>();
  /**
   * far's indices ascending, or null when a chunk came or went since they were listed: a range
   * query over many far chunks (chunksIn) binary-searches them instead of visiting every chunk.
   */
  private farSorted: number[] | null = null;
  private readonly zeroes: Buffer;
  /** Where shiftTail() keeps the bytes it moves (reused; grows to the largest tail moved). */
  private moveBuf = Buffer.alloc(0);

  /** false: collapse/insert always take the sparse path (tests use it to cover both paths). */
  private readonly inPlaceMoves: boolean;
  /** Bytes that may have changed since takeChanges(): [changedLo, changedHi) (empty: lo ≥ hi). */
  private changedLo = Infinity;
  private changedHi = 0;
  /**
   * Called with [lo, hi) before any change to those bytes or to the size across them (the
   * durability tracker keeps the bytes it is about to lose). null: nobody listens.
   */
  beforeChange: ((lo: number, hi: number) => void) | null = null;
  /**
   * Every range whose bytes or size changed since its owner last cleared it (null: not kept).
   * The fsx runner's incremental whole-file check after a remount reads these (docs/fsx.md).
   */
  changeLog: RangeSet | null = null;
  /**
   * Where bytes were moved by collapse/insert since its owner last cleared it (null: not kept).
   * When kept (with a changeLog), a collapse or insert does not put its whole tail into the
   * changeLog: the changeLog's ranges move with the data, and it gets only the seams (where the
   * move starts and the new EOF) and the inserted range; the moved tail goes here instead.
   */
  moveLog: RangeSet | null = null;

  constructor(chunkSize: number = DEFAULT_CHUNK_SIZE, opts: { inPlaceMoves?: boolean } = {}) {
    this.inPlaceMoves = opts.inPlaceMoves ?? true;
    if (!Number.isInteger(chunkSize) || chunkSize < 16 || (chunkSize & (chunkSize - 1)) !== 0 || chunkSize > 1 << 26) {
      throw new RangeError(`SparseBytes: chunk size must be a power of two in [16, 64 MiB], got ${chunkSize}`);
    }
    this.chunkSize = chunkSize;
    this.zeroes = Buffer.alloc(chunkSize);
  }

  /** Bytes of chunk memory in use (for tests and diagnostics). */
  get memoryBytes(): number {
    return this.chunkCount() * this.chunkSize;
  }

  chunkCount(): number {
    let n = this.far.size;
    for (const c of this.dense) if (c !== undefined) n++;
    return n;
  }

  /**
   * The byte range that may have changed (content or size) since the last call, then forget it;
   * null when nothing did. Cheap enough to ask after every op: the durability tracker of the fsx
   * crash op records a file version from it instead of copying the whole file.
   */
  takeChanges(): { lo: number; hi: number } | null {
    if (this.changedLo >= this.changedHi) return null;
    const r = { lo: this.changedLo, hi: this.changedHi };
    this.changedLo = Infinity;
    this.changedHi = 0;
    return r;
  }

  /** Whether takeChanges() would return a range (without forgetting it). */
  hasChanges(): boolean {
    return this.changedLo < this.changedHi;
  }

  private touch(lo: number, hi: number): void {
    if (this.beforeChange !== null && lo < hi) this.beforeChange(lo, hi);
    if (this.changeLog !== null) this.changeLog.include(lo, hi);
    if (lo < this.changedLo) this.changedLo = lo;
    if (hi > this.changedHi) this.changedHi = hi;
  }

  /**
   * touch() for a collapse (delta < 0) or insert (delta > 0) at `off` of a file of `oldSize`
   * bytes. With a moveLog, the changeLog's ranges move with the data (only the seams are added:
   * the first byte past the move's start, the inserted range, the last byte of the new size) and
   * the moved tail goes to the moveLog; without one, the whole of [off, end) counts as changed.
   */
  private touchShift(off: number, delta: number, oldSize: number): void {
    const newSize = oldSize + delta;
    const end = Math.max(oldSize, newSize);
    if (this.moveLog === null || this.changeLog === null) return this.touch(off, end);
    if (this.beforeChange !== null) this.beforeChange(off, end);
    if (off < this.changedLo) this.changedLo = off;
    if (end > this.changedHi) this.changedHi = end;
    const log = this.changeLog;
    const moved = this.moveLog;
    if (delta < 0) {
      log.collapse(off, -delta);
      moved.collapse(off, -delta);
      moved.include(off, newSize);
      log.include(off, off + 1);
    } else {
      log.insert(off, delta);
      moved.insert(off, delta);
      moved.include(off + delta, newSize);
      log.include(off, off + delta + 1);
    }
    log.include(newSize - 1, newSize);
  }

  /** Forget everything: size 0, no data. */
  clear(): void {
    this.touch(0, this.size);
    this.dense = [];
    this.spare = [];
    this.far.clear();
    this.farSorted = null;
    this.size = 0;
  }

  // ---- chunk access -------------------------------------------------------------------------

  private get(idx: number): Buffer | undefined {
    return idx < DENSE_CHUNKS ? this.dense[idx] : this.far.get(idx);
  }

  private getOrCreate(idx: number): Buffer {
    let c = idx < DENSE_CHUNKS ? this.dense[idx] : this.far.get(idx);
    if (c === undefined) {
      const s = this.spare.pop();
      c = s === undefined ? Buffer.alloc(this.chunkSize) : s.fill(0);
      if (idx < DENSE_CHUNKS) this.dense[idx] = c;
      else this.setFar(idx, c);
    }
    return c;
  }

  /** Forget a chunk; it may be recycled. */
  private drop(idx: number): void {
    const c = this.unlink(idx);
    if (c !== undefined && this.spare.length < SPARE_CHUNKS) this.spare.push(c);
  }

  /** Forget a chunk without recycling it (its memory may still be referenced). */
  private unlink(idx: number): Buffer | undefined {
    const c = this.get(idx);
    if (idx < DENSE_CHUNKS) this.dense[idx] = undefined;
    else if (this.far.delete(idx)) this.farSorted = null;
    return c;
  }

  private setFar(idx: number, c: Buffer): void {
    if (!this.far.has(idx)) this.farSorted = null;
    this.far.set(idx, c);
  }

  /** far's indices, ascending (listed again only after a chunk came or went). */
  private farIndices(): number[] {
    if (this.farSorted === null) this.farSorted = Array.from(this.far.keys()).sort((a, b) => a - b);
    return this.farSorted;
  }

  /**
   * Indices of existing chunks in [lo, hi], ascending. Cost ∝ the smaller of the number of chunks
   * and the range's length in chunks (a short range far out is probed index by index; a longer
   * one binary-searches far's sorted indices, listed once per change of the chunk set).
   */
  private chunksIn(lo: number, hi: number): number[] {
    const out: number[] = [];
    const dEnd = Math.min(hi, DENSE_CHUNKS - 1, this.dense.length - 1);
    for (let i = Math.max(lo, 0); i <= dEnd; i++) if (this.dense[i] !== undefined) out.push(i);
    const from = Math.max(lo, DENSE_CHUNKS);
    if (hi >= from && hi - from < this.far.size) {
      for (let k = from; k <= hi; k++) if (this.far.has(k)) out.push(k);
    } else if (hi >= DENSE_CHUNKS && this.far.size > 0) {
      const keys = this.farIndices();
      for (let i = lowerBound(keys, lo); i < keys.length && keys[i] <= hi; i++) out.push(keys[i]);
    }
    return out;
  }

  private static checkRange(what: string, off: number, len: number): void {
    if (!(off >= 0 && len >= 0 && off + len <= MAX_OFFSET) || !Number.isInteger(off) || !Number.isInteger(len)) {
      throw new RangeError(`SparseBytes.${what}: range off=${off} len=${len} outside [0, 2^53-1]`);
    }
  }

  // ---- data movement ------------------------------------------------------------------------

  /** Store `data[start, end)` at `off`; size grows to cover it. */
  write(off: number, data: Uint8Array, start = 0, end: number = data.length): void {
    const len = end - start;
    SparseBytes.checkRange('write', off, len);
    if (len === 0) return;
    this.touch(off, off + len);
    this.writeRaw(off, data, start, end);
  }

  /** write() without telling anyone: for bytes whose change was reported already (shiftTail). */
  private writeRaw(off: number, data: Uint8Array, start: number, end: number): void {
    const len = end - start;
    const cs = this.chunkSize;
    let idx = Math.floor(off / cs);
    let pos = off - idx * cs;
    let s = start;
    while (s < end) {
      const n = Math.min(cs - pos, end - s);
      Buffer.prototype.copy.call(data, this.getOrCreate(idx), pos, s, s + n);
      s += n;
      idx++;
      pos = 0;
    }
    if (off + len > this.size) this.size = off + len;
  }

  /** Copy the oracle's bytes [off, off+len) into `dst` at `dstStart` (zeroes where nothing was written). */
  readInto(off: number, len: number, dst: Uint8Array, dstStart = 0): void {
    SparseBytes.checkRange('readInto', off, len);
    const cs = this.chunkSize;
    let idx = Math.floor(off / cs);
    let pos = off - idx * cs;
    let d = dstStart;
    const dEnd = dstStart + len;
    while (d < dEnd) {
      const n = Math.min(cs - pos, dEnd - d);
      const c = this.get(idx);
      if (c === undefined) dst.fill(0, d, d + n);
      else c.copy(dst, d, pos, pos + n);
      d += n;
      idx++;
      pos = 0;
    }
  }

  /** A fresh copy of [off, off+len) (not clipped to size; bytes past EOF read as zero). */
  read(off: number, len: number): Buffer {
    const out = Buffer.allocUnsafe(len);
    this.readInto(off, len, out, 0);
    return out;
  }

  /** The byte at `off`. */
  byteAt(off: number): number {
    const idx = Math.floor(off / this.chunkSize);
    const c = this.get(idx);
    return c === undefined ? 0 : c[off - idx * this.chunkSize];
  }

  /**
   * Compare `actual[start, end)` with the oracle's bytes at `off`. Returns null when equal, else the
   * first mismatch. Bulk compares per chunk; a byte loop runs only inside the first differing chunk.
   */
  compare(off: number, actual: Uint8Array, start = 0, end: number = actual.length): Mismatch | null {
    const len = end - start;
    SparseBytes.checkRange('compare', off, len);
    const cs = this.chunkSize;
    let idx = Math.floor(off / cs);
    let pos = off - idx * cs;
    let a = start;
    while (a < end) {
      const n = Math.min(cs - pos, end - a);
      const c = this.get(idx);
      const ref = c === undefined ? this.zeroes : c;
      const refPos = c === undefined ? 0 : pos;
      if (ref.compare(actual, a, a + n, refPos, refPos + n) !== 0) {
        for (let i = 0; i < n; i++) {
          if (ref[refPos + i] !== actual[a + i]) {
            return { offset: off + (a - start) + i, index: a + i, expected: ref[refPos + i], actual: actual[a + i] };
          }
        }
      }
      a += n;
      idx++;
      pos = 0;
    }
    return null;
  }

  /** True when every byte of [off, off+len) is zero. Cost ∝ chunks present in the range. */
  isZero(off: number, len: number): boolean {
    return this.firstNonZero(off, len) < 0;
  }

  /** Offset of the first non-zero byte in [off, off+len), or -1. */
  firstNonZero(off: number, len: number): number {
    SparseBytes.checkRange('firstNonZero', off, len);
    if (len === 0) return -1;
    const cs = this.chunkSize;
    const end = off + len;
    for (const idx of this.chunksIn(Math.floor(off / cs), Math.floor((end - 1) / cs))) {
      const c = this.get(idx) as Buffer;
      const base = idx * cs;
      const s = Math.max(off, base) - base;
      const e = Math.min(end, base + cs) - base;
      if (this.zeroes.compare(c, s, e, 0, e - s) !== 0) {
        for (let i = s; i < e; i++) if (c[i] !== 0) return base + i;
      }
    }
    return -1;
  }

  /** True when [a, a+len) and [b, b+len) hold the same bytes (compared chunk against chunk). */
  equalRanges(a: number, b: number, len: number): boolean {
    SparseBytes.checkRange('equalRanges', a, len);
    SparseBytes.checkRange('equalRanges', b, len);
    const cs = this.chunkSize;
    for (let done = 0; done < len;) {
      const ia = Math.floor((a + done) / cs);
      const ib = Math.floor((b + done) / cs);
      const pa = a + done - ia * cs;
      const pb = b + done - ib * cs;
      const n = Math.min(cs - pa, cs - pb, len - done);
      const ca = this.get(ia);
      const cb = this.get(ib);
      if (ca !== undefined || cb !== undefined) {
        const x = ca ?? this.zeroes;
        const y = cb ?? this.zeroes;
        if (x.compare(y, cb === undefined ? 0 : pb, (cb === undefined ? 0 : pb) + n, ca === undefined ? 0 : pa, (ca === undefined ? 0 : pa) + n) !== 0) return false;
      }
      done += n;
    }
    return true;
  }

  // ---- content changes that keep the size ----------------------------------------------------

  /**
   * Zero [off, off+len). Does not change the size. Whole chunks are released; cost ∝ chunks present
   * in the range (so zeroing a huge sparse range is cheap).
   */
  zero(off: number, len: number): void {
    SparseBytes.checkRange('zero', off, len);
    if (len === 0) return;
    this.touch(off, off + len);
    const cs = this.chunkSize;
    const end = off + len;
    const lo = Math.floor(off / cs);
    const hi = Math.floor((end - 1) / cs);
    if (hi - lo < 8) {
      for (let idx = lo; idx <= hi; idx++) this.zeroInChunk(idx, off, end);
    } else {
      for (const idx of this.chunksIn(lo, hi)) this.zeroInChunk(idx, off, end);
    }
  }

  private zeroInChunk(idx: number, off: number, end: number): void {
    const c = this.get(idx);
    if (c === undefined) return;
    const cs = this.chunkSize;
    const base = idx * cs;
    const s = Math.max(off, base) - base;
    const e = Math.min(end, base + cs) - base;
    // Bytes at or past EOF are zero already, so zeroing up to EOF may release the whole chunk.
    if (s === 0 && (e === cs || end >= this.size)) this.drop(idx);
    else c.fill(0, s, e);
  }

  // ---- size-changing operations --------------------------------------------------------------

  /** ftruncate: shrinking forgets the tail (bytes past the new EOF become zero), growing reads zero. */
  truncate(newSize: number): void {
    SparseBytes.checkRange('truncate', newSize, 0);
    if (newSize < this.size) this.zero(newSize, this.size - newSize);
    else this.touch(this.size, newSize);
    this.size = newSize;
  }

  /** Raise the size to at least `newSize` (fallocate/zero_range without KEEP_SIZE); no data change. */
  extend(newSize: number): void {
    SparseBytes.checkRange('extend', newSize, 0);
    if (newSize > this.size) {
      this.touch(this.size, newSize);
      this.size = newSize;
    }
  }

  /** PUNCH_HOLE|KEEP_SIZE: zero [off, min(off+len, size)); size unchanged. */
  punch(off: number, len: number): void {
    SparseBytes.checkRange('punch', off, len);
    if (off >= this.size) return;
    this.zero(off, Math.min(len, this.size - off));
  }

  /**
   * ZERO_RANGE: the range reads zero; without keepSize the size grows to off+len. With keepSize,
   * the part past EOF is already zero (invariant) and stays invisible.
   */
  zeroRange(off: number, len: number, keepSize: boolean): void {
    SparseBytes.checkRange('zeroRange', off, len);
    if (off < this.size) this.zero(off, Math.min(len, this.size - off));
    if (!keepSize) this.extend(off + len);
  }

  /** COLLAPSE_RANGE: bytes [off, off+len) disappear, the tail moves down; requires off+len ≤ size. */
  collapse(off: number, len: number): void {
    SparseBytes.checkRange('collapse', off, len);
    const old = this.size;
    if (off + len > old) throw new RangeError(`SparseBytes.collapse: range ends past EOF (${off}+${len} > ${old})`);
    if (len === 0) return;
    this.touchShift(off, -len, old);
    if (!this.denseEnough(old - off)) return this.shiftTail(off + len, -len, off);
    this.moveRange(off + len, off, old - off - len);
    this.zero(old - len, len);
    this.size = old - len;
  }

  /** INSERT_RANGE: bytes from off move up by len, [off, off+len) reads zero; requires off ≤ size. */
  insert(off: number, len: number): void {
    SparseBytes.checkRange('insert', off, len);
    const old = this.size;
    SparseBytes.checkRange('insert', old, len);
    if (off > old) throw new RangeError(`SparseBytes.insert: offset past EOF (${off} > ${old})`);
    if (len === 0) return;
    this.touchShift(off, len, old);
    if (!this.denseEnough(old + len - off)) return this.shiftTail(off, len, off);
    this.moveRange(off, off + len, old - off);
    // The size goes up first: zero() may release a chunk whole only when nothing past EOF holds data.
    this.size = old + len;
    this.zero(off, len);
  }

  /**
   * Whether moving a range of `span` bytes piece by piece (cost ∝ span / chunk size) is cheap
   * compared with the data present; otherwise shiftTail (cost ∝ chunks present) is used.
   */
  private denseEnough(span: number): boolean {
    if (!this.inPlaceMoves) return false;
    const pieces = span / this.chunkSize;
    return pieces <= 64 || pieces <= 4 * this.chunkCount();
  }

  /**
   * memmove of [src, src+len) to [dst, dst+len) across chunks, in place (ascending when moving
   * down, descending when moving up). Missing source chunks read as zero. Does not change the size.
   */
  private moveRange(src: number, dst: number, len: number): void {
    if (len === 0 || src === dst) return;
    const cs = this.chunkSize;
    if (dst < src) {
      for (let done = 0; done < len;) {
        const s = src + done;
        const d = dst + done;
        const si = Math.floor(s / cs);
        const di = Math.floor(d / cs);
        const so = s - si * cs;
        const dOff = d - di * cs;
        const n = Math.min(cs - so, cs - dOff, len - done);
        this.movePiece(si, so, di, dOff, n);
        done += n;
      }
    } else {
      for (let left = len; left > 0;) {
        const sEnd = src + left;
        const dEnd = dst + left;
        const si = Math.floor((sEnd - 1) / cs);
        const di = Math.floor((dEnd - 1) / cs);
        const n = Math.min(sEnd - si * cs, dEnd - di * cs, left);
        this.movePiece(si, sEnd - n - si * cs, di, dEnd - n - di * cs, n);
        left -= n;
      }
    }
  }

  private movePiece(si: number, so: number, di: number, dOff: number, n: number): void {
    const sc = this.get(si);
    if (sc === undefined) {
      const dc = this.get(di);
      if (dc !== undefined) dc.fill(0, dOff, dOff + n);
      return;
    }
    sc.copy(this.getOrCreate(di), dOff, so, so + n);
  }

  /**
   * Move bytes [from, size) by `delta`; every byte in [clearFrom, size) not covered by the moved data
   * ends up zero. Cost ∝ data present in the tail: its bytes are copied out once into a reused
   * buffer, the chunks they lived in are released for reuse, and the bytes are written back where
   * they land (into those same chunk buffers: a shift allocates nothing, where fresh chunks and
   * their garbage were most of its cost).
   */
  private shiftTail(from: number, delta: number, clearFrom: number): void {
    const cs = this.chunkSize;
    const oldSize = this.size;
    if (from % cs === 0 && delta % cs === 0) return this.renumberTail(from, delta, clearFrom);
    const keepIdx = Math.floor(clearFrom / cs);
    const lastIdx = Math.floor((oldSize - 1) / cs);
    const segs: Segment[] = [];
    let total = 0;
    const idxs = from < oldSize ? this.chunksIn(Math.floor(from / cs), lastIdx) : [];
    for (const idx of idxs) {
      const base = idx * cs;
      const s = Math.max(from, base) - base;
      const e = Math.min(oldSize, base + cs) - base;
      segs.push({ pos: base + s, at: total, len: e - s });
      total += e - s;
    }
    if (this.moveBuf.length < total) this.moveBuf = Buffer.allocUnsafe(Math.max(total, 2 * this.moveBuf.length));
    const buf = this.moveBuf;
    idxs.forEach((idx, k) => (this.get(idx) as Buffer).copy(buf, segs[k].at, segs[k].pos - idx * cs, segs[k].pos - idx * cs + segs[k].len));
    if (clearFrom < oldSize) {
      // from ≥ clearFrom, so everything after the chunk holding clearFrom is released whole.
      for (const idx of this.chunksIn(keepIdx + 1, lastIdx)) this.spare.push(this.unlink(idx) as Buffer);
      this.zeroInChunk(keepIdx, clearFrom, oldSize);
    }
    // collapse/insert reported the whole move (touchShift): the pieces land silently.
    for (const seg of segs) this.writeRaw(seg.pos + delta, buf, seg.at, seg.at + seg.len);
    if (this.spare.length > SPARE_CHUNKS) this.spare.length = SPARE_CHUNKS;
    // A large tail's copy is not kept for the next shift (memory follows the data, not its peaks).
    if (buf.length > MOVE_BUF_KEPT) this.moveBuf = Buffer.alloc(0);
    this.size = oldSize + delta;
  }

  /**
   * shiftTail() for a move by whole chunks from a chunk boundary: the tail's chunks get new
   * indices, no byte is copied (cost ∝ chunks present in the tail). [clearFrom, from) is released.
   */
  private renumberTail(from: number, delta: number, clearFrom: number): void {
    const cs = this.chunkSize;
    const oldSize = this.size;
    const lastIdx = Math.floor((oldSize - 1) / cs);
    const first = from / cs;
    const moved = from < oldSize ? this.chunksIn(first, lastIdx).map((idx) => [idx, this.unlink(idx) as Buffer] as const) : [];
    if (clearFrom < from) for (const idx of this.chunksIn(clearFrom / cs, first - 1)) this.drop(idx);
    const by = delta / cs;
    for (const [idx, c] of moved) {
      const to = idx + by;
      if (to < DENSE_CHUNKS) this.dense[to] = c;
      else this.setFar(to, c);
    }
    this.size = oldSize + delta;
  }

  /**
   * Copy [src, src+len) to [dst, dst+len) as memmove does (overlap allowed); the size grows to
   * dst+len. Used for clone_range and copy_range. Cost ∝ len / chunk size.
   */
  copyWithin(src: number, len: number, dst: number): void {
    SparseBytes.checkRange('copyWithin', src, len);
    SparseBytes.checkRange('copyWithin', dst, len);
    if (len === 0) return;
    this.touch(dst, dst + len);
    // Raise the size first: pieces past the old EOF must not look like stale data to zero().
    if (dst + len > this.size) this.size = dst + len;
    this.moveRange(src, dst, len);
  }

  /**
   * Copies of the stored pieces of [lo, hi) (ascending, each within one chunk); bytes outside
   * them read as zero. Cost ∝ chunks present in the range, not its length.
   */
  copyPieces(lo: number, hi: number): Array<{ off: number; data: Uint8Array }> {
    const out: Array<{ off: number; data: Uint8Array }> = [];
    if (hi <= lo) return out;
    SparseBytes.checkRange('copyPieces', lo, hi - lo);
    const cs = this.chunkSize;
    const first = Math.floor(lo / cs);
    const last = Math.floor((hi - 1) / cs);
    const take = (idx: number): void => {
      const c = this.get(idx);
      if (c === undefined) return;
      const base = idx * cs;
      const s = Math.max(lo, base);
      const e = Math.min(hi, base + cs);
      const data = new Uint8Array(e - s);
      data.set(c.subarray(s - base, e - base));
      out.push({ off: s, data });
    };
    if (last - first < 8) for (let idx = first; idx <= last; idx++) take(idx);
    else for (const idx of this.chunksIn(first, last)) take(idx);
    return out;
  }

  /**
   * The ranges of [lo, hi) that hold stored chunks, ascending and coalesced ([start, end) pairs);
   * every byte outside them reads as zero. Cost ∝ chunks stored, not the range's length.
   */
  storedRanges(lo: number, hi: number): Array<[number, number]> {
    const out: Array<[number, number]> = [];
    if (hi <= lo) return out;
    const cs = this.chunkSize;
    for (const idx of this.chunksIn(Math.floor(lo / cs), Math.floor((hi - 1) / cs))) {
      const s = Math.max(lo, idx * cs);
      const e = Math.min(hi, (idx + 1) * cs);
      const last = out[out.length - 1];
      if (last !== undefined && last[1] === s) last[1] = e;
      else out.push([s, e]);
    }
    return out;
  }

  /** Every (offset, bytes) piece that holds data within [0, size), ascending. For image dumps. */
  *pieces(): Generator<{ off: number; data: Buffer }> {
    if (this.size === 0) return;
    const cs = this.chunkSize;
    for (const idx of this.chunksIn(0, Math.floor((this.size - 1) / cs))) {
      const c = this.get(idx) as Buffer;
      const base = idx * cs;
      const e = Math.min(this.size, base + cs) - base;
      yield { off: base, data: c.subarray(0, e) };
    }
  }
}
