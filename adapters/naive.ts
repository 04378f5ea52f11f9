/**
 * `naive`: the simplest honest FileAdapter. The file is one contiguous byte array (grown on demand,
 * memory ∝ the highest byte written; truncate up and fallocate only change the size), every
 * fallocate mode with Linux 6.12+ semantics and errno rules (file-ops.md §3), clone/dedupe/
 * copy_file_range within the file (§4–§6), SEEK_DATA/SEEK_HOLE reporting all of [0, size) as data
 * (a legal answer, §7), a FIEMAP of one extent, mmap reads/stores at page granularity with SIGBUS
 * past the EOF page (§10), O_DIRECT with sector alignment (§11), and no-op fsync/close-open.
 *
 * It shares no code with the harness's byte oracle, so running the fuzzer against it
 * cross-checks the fuzzer itself. Bytes at or past EOF in the array are kept zero.
 */

import type { Capabilities, FileAdapter, FileTarget, FiemapExtent, ReadKind, SetupSupport } from './types';
import { readMethodsAreOwn } from './types';
import {
  FALLOC_FL_COLLAPSE_RANGE, FALLOC_FL_INSERT_RANGE, FALLOC_FL_KEEP_SIZE, FALLOC_FL_PUNCH_HOLE,
  FALLOC_FL_UNSHARE_RANGE, FALLOC_FL_ZERO_RANGE,
} from './types';
import { EBADF, EBADR, EFBIG, EINVAL, ENOSPC, ENXIO, EOPNOTSUPP, EOVERFLOW, FsError, SIGBUS } from '../reference/errno';

/** FALLOC_FL_WRITE_ZEROES (Linux 6.17): like ZERO_RANGE, result must be written zeroes. */
export const FALLOC_FL_WRITE_ZEROES = 0x80;
const MODE_BITS = FALLOC_FL_PUNCH_HOLE | FALLOC_FL_COLLAPSE_RANGE | FALLOC_FL_ZERO_RANGE | FALLOC_FL_INSERT_RANGE
  | FALLOC_FL_UNSHARE_RANGE | FALLOC_FL_WRITE_ZEROES;
const KNOWN_BITS = MODE_BITS | FALLOC_FL_KEEP_SIZE;
/** Any single read/write/copy is clamped to this (fs/read_write.c). */
const MAX_RW_COUNT = 0x7ffff000;
const DEDUPE_MAX = 1 << 30;
const FIEMAP_FLAG_SYNC = 0x1;
const FIEMAP_EXTENT_LAST = 0x1;

/** Every fallocate mode value that passes the generic 6.12+ mode check. */
export const ALL_FALLOC_MODES: readonly number[] = [
  0, FALLOC_FL_KEEP_SIZE, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, FALLOC_FL_ZERO_RANGE,
  FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE, FALLOC_FL_COLLAPSE_RANGE, FALLOC_FL_INSERT_RANGE,
  FALLOC_FL_UNSHARE_RANGE, FALLOC_FL_UNSHARE_RANGE | FALLOC_FL_KEEP_SIZE, FALLOC_FL_WRITE_ZEROES,
];

export interface NaiveOptions {
  /** Block size (st_blksize; alignment of collapse/insert/clone/dedupe). Default 4096. */
  blockSize?: number;
  /** Page size for mmap. Default 4096. */
  pageSize?: number;
  /** O_DIRECT alignment (logical sector). Default 512. */
  dioAlign?: number;
  /** s_maxbytes. Default 2^53-1 (the harness limit). */
  maxFileSize?: number;
  /** Memory the file may use (bytes of the array); writes past it fail with ENOSPC. Default 1 GiB. */
  capacity?: number;
}

function pow2(v: number, lo: number, hi: number): boolean {
  return Number.isInteger(v) && v >= lo && v <= hi && (v & (v - 1)) === 0;
}

function err(errno: number, what: string): FsError {
  return new FsError(errno, `naive: ${what}`);
}

function isOffset(v: number): boolean {
  return Number.isInteger(v) && v >= 0 && v <= Number.MAX_SAFE_INTEGER;
}

class NaiveFile implements FileTarget {
  /** Storage; bytes at or past `len` are zero. Its length is the capacity in use, not the size. */
  private data: Buffer = Buffer.alloc(0);
  /** st_size. */
  private len = 0;
  closed = false;
  private readonly bs: number;
  private readonly ps: number;
  private readonly dio: number;
  private readonly max: number;

  constructor(private readonly caps: Capabilities, private readonly capacity: number) {
    this.bs = caps.blockSize;
    this.ps = caps.pageSize;
    this.dio = caps.dioAlign;
    this.max = caps.maxFileSize;
  }

  private open(): void {
    if (this.closed) throw err(EBADF, 'file is closed');
  }

  /** Make the array at least `end` bytes long. */
  private ensure(end: number): void {
    if (end <= this.data.length) return;
    if (end > this.capacity) throw err(ENOSPC, `file data would need ${end} bytes (capacity ${this.capacity})`);
    const cap = Math.min(this.capacity, Math.max(end, this.data.length * 2, 4096));
    const d = Buffer.alloc(cap);
    this.data.copy(d, 0, 0, this.data.length);
    this.data = d;
  }

  /** Zero [a, b) of the array (what lies past the array is zero already). */
  private zero(a: number, b: number): void {
    const e = Math.min(b, this.data.length);
    if (a < e) this.data.fill(0, a, e);
  }

  /** memmove n bytes from src to dst inside the file (source bytes past the array read zero). */
  private move(src: number, n: number, dst: number): void {
    this.ensure(dst + n);
    const avail = Math.max(0, Math.min(n, this.data.length - src));
    if (avail > 0) this.data.copyWithin(dst, src, src + avail);
    if (avail < n) this.data.fill(0, dst + avail, dst + n);
  }

  /** [off, off+n) as a fresh array (zeroes past the storage). */
  private copyOut(off: number, n: number): Uint8Array {
    return this.copyInto(off, n, new Uint8Array(n));
  }

  /** [off, off+n) into out[0, n) (zeroes past the storage); returns out. */
  private copyInto(off: number, n: number, out: Uint8Array): Uint8Array {
    const have = Math.max(0, Math.min(n, this.data.length - off));
    if (have > 0) this.data.copy(out, 0, off, off + have);
    if (have < n) out.fill(0, Math.max(have, 0), n);
    return out;
  }

  /** A scratch array of at least n bytes, reused by exchangeRange (never handed out). */
  private scratch = new Uint8Array(0);

  /** True when [a, a+n) and [b, b+n) hold the same bytes (compared in place). */
  private sameBytes(a: number, b: number, n: number): boolean {
    const d = this.data;
    const stored = d.length;
    // Both pieces inside the storage: one compare. Otherwise compare piecewise against zeroes.
    if (a + n <= stored && b + n <= stored) return d.compare(d, b, b + n, a, a + n) === 0;
    return Buffer.compare(this.copyOut(a, n), this.copyOut(b, n)) === 0;
  }

  size(): number {
    this.open();
    return this.len;
  }

  pread(off: number, len: number): Uint8Array {
    return this.copyOut(off, this.readCount(off, len));
  }

  /**
   * FileTarget.readInto, while pread, directRead, mapread and readDontcache are this class's own.
   * A target whose read methods were replaced after open (a module adapter that patches naive to
   * misbehave) has none, so the runner calls the replacements and sees what they do.
   */
  get readInto(): ((how: ReadKind, off: number, dst: Uint8Array) => number) | undefined {
    return readMethodsAreOwn(this, NaiveFile.prototype) ? this.readIntoOwn : undefined;
  }

  /** Every read into the caller's buffer: the same checks and counts as the methods. */
  private readonly readIntoOwn = (how: ReadKind, off: number, dst: Uint8Array): number => {
    const len = dst.length;
    let n: number;
    if (how === 'pread' || how === 'dontcache') n = this.readCount(off, len);
    else if (how === 'direct') n = this.directCount(off, len);
    else if (how === 'mmap') n = this.mapCount(off, len);
    else throw err(EINVAL, `readInto: unknown read ${String(how)}`);
    this.copyInto(off, n, dst);
    return n;
  };

  /** The bytes a pread of [off, off+len) returns. */
  private readCount(off: number, len: number): number {
    this.open();
    if (!isOffset(off) || !isOffset(len)) throw err(EINVAL, `pread(${off}, ${len})`);
    return Math.max(0, Math.min(len, MAX_RW_COUNT, this.len - off));
  }

  pwrite(off: number, d: Uint8Array): number {
    this.open();
    if (!isOffset(off)) throw err(EINVAL, `pwrite at ${off}`);
    let n = Math.min(d.length, MAX_RW_COUNT);
    if (n === 0) return 0;
    if (off >= this.max) throw err(EFBIG, `pwrite at ${off} (max file size ${this.max})`);
    if (off + n > this.max) n = this.max - off;
    this.ensure(off + n);
    this.data.set(n === d.length ? d : d.subarray(0, n), off);
    if (off + n > this.len) this.len = off + n;
    return n;
  }

  truncate(size: number): void {
    this.open();
    if (!isOffset(size)) throw err(EINVAL, `truncate to ${size}`);
    if (size > this.max) throw err(EFBIG, `truncate to ${size} (max file size ${this.max})`);
    if (size < this.len) this.zero(size, this.len);
    this.len = size;
  }

  fsync(): void {
    this.open();
  }

  fdatasync(): void {
    this.open();
  }

  closeOpen(): void {
    this.open();
  }

  remount(): void {
    this.open();
  }

  /** Pages [off, off+len) touches must lie below the EOF page count, else SIGBUS. */
  private mapCheck(off: number, len: number): void {
    if (!isOffset(off) || !isOffset(len) || len === 0) throw err(EINVAL, `mmap range (${off}, ${len})`);
    const lastPage = Math.ceil(this.len / this.ps);
    if (Math.floor((off + len - 1) / this.ps) >= lastPage) {
      throw err(SIGBUS, `access to page ${Math.floor((off + len - 1) / this.ps)} of a file with ${lastPage} pages`);
    }
  }

  mapread(off: number, len: number): Uint8Array {
    return this.copyOut(off, this.mapCount(off, len));
  }

  /** The bytes a mapped read of [off, off+len) returns (all of them, or SIGBUS). */
  private mapCount(off: number, len: number): number {
    this.open();
    this.mapCheck(off, len);
    return len;
  }

  mapwrite(off: number, d: Uint8Array): void {
    this.open();
    this.mapCheck(off, d.length);
    // Stores past EOF inside the EOF page never become part of the file: drop them.
    const n = Math.max(0, Math.min(d.length, this.len - off));
    if (n === 0) return;
    this.ensure(off + n);
    this.data.set(n === d.length ? d : d.subarray(0, n), off);
  }

  fallocate(mode: number, off: number, len: number): void {
    this.open();
    // Generic checks in fs/open.c vfs_fallocate order (file-ops.md §3.1).
    if (!Number.isInteger(off) || !Number.isInteger(len) || off < 0 || len <= 0) throw err(EINVAL, `fallocate(${off}, ${len})`);
    const bits = mode & MODE_BITS;
    if (!Number.isInteger(mode) || (mode & ~KNOWN_BITS) !== 0 || (bits & (bits - 1)) !== 0
      || ((mode & FALLOC_FL_PUNCH_HOLE) !== 0 && (mode & FALLOC_FL_KEEP_SIZE) === 0)
      || ((mode & FALLOC_FL_KEEP_SIZE) !== 0 && (bits & (FALLOC_FL_COLLAPSE_RANGE | FALLOC_FL_INSERT_RANGE | FALLOC_FL_WRITE_ZEROES)) !== 0)) {
      throw err(EOPNOTSUPP, `fallocate mode 0x${mode.toString(16)}`);
    }
    const end = off + len;
    if (end > this.max) throw err(EFBIG, `fallocate range ends at ${end} (max file size ${this.max})`);
    if (!this.caps.fallocModes.includes(mode)) throw err(EOPNOTSUPP, `fallocate mode 0x${mode.toString(16)} not supported`);
    const keep = (mode & FALLOC_FL_KEEP_SIZE) !== 0;
    switch (bits) {
      case 0:
      case FALLOC_FL_UNSHARE_RANGE:
        if (!keep && end > this.len) this.len = end;
        return;
      case FALLOC_FL_PUNCH_HOLE:
        this.zero(off, Math.min(end, this.len));
        return;
      case FALLOC_FL_ZERO_RANGE:
      case FALLOC_FL_WRITE_ZEROES:
        this.zero(off, Math.min(end, this.len));
        if (!keep && end > this.len) this.len = end;
        return;
      case FALLOC_FL_COLLAPSE_RANGE: {
        if (off % this.bs !== 0 || len % this.bs !== 0) throw err(EINVAL, `collapse range (${off}, ${len}) not block aligned`);
        if (end >= this.len) throw err(EINVAL, `collapse range ends at ${end}, not before EOF ${this.len}`);
        const old = this.len;
        const stored = Math.min(old, this.data.length);
        if (end < stored) this.data.copyWithin(off, end, stored);
        this.zero(Math.max(off, stored - len), old);
        this.len = old - len;
        return;
      }
      case FALLOC_FL_INSERT_RANGE: {
        if (off % this.bs !== 0 || len % this.bs !== 0) throw err(EINVAL, `insert range (${off}, ${len}) not block aligned`);
        if (this.len + len > this.max) throw err(EFBIG, `insert range would make the file ${this.len + len} bytes`);
        if (off >= this.len) throw err(EINVAL, `insert range at ${off}, not before EOF ${this.len}`);
        const stored = Math.min(this.len, this.data.length);
        if (off < stored) {
          this.ensure(stored + len);
          this.data.copyWithin(off + len, off, stored);
          this.data.fill(0, off, off + len);
        }
        this.len += len;
        return;
      }
      default:
        throw err(EOPNOTSUPP, `fallocate mode 0x${mode.toString(16)}`);
    }
  }

  private rangesOverlap(a: number, b: number, n: number): boolean {
    const r = Math.ceil(n / this.bs) * this.bs;
    return a < b + r && b < a + r;
  }

  cloneRange(src: number, len: number, dst: number): void {
    this.open();
    // do_clone_file_range / generic_remap_file_range_prep order (file-ops.md §4).
    if (!isOffset(src) || !isOffset(len) || !isOffset(dst)) throw err(EINVAL, `clone (${src}, ${len}, ${dst})`);
    const size = this.len;
    let n = len;
    if (n === 0) {
      if (src === size) return;
      if (src > size) throw err(EINVAL, `clone from ${src} past EOF ${size}`);
      n = size - src;
    }
    if (src % this.bs !== 0 || dst % this.bs !== 0) throw err(EINVAL, `clone offsets (${src}, ${dst}) not block aligned`);
    if (src >= size) throw err(EINVAL, `clone from ${src} at or past EOF ${size}`);
    if (src + n > size) throw err(EINVAL, `clone source runs past EOF (${src}+${n} > ${size})`);
    if (dst >= this.max) throw err(EFBIG, `clone to ${dst} (max file size ${this.max})`);
    if (dst + n > this.max) throw err(EINVAL, `clone destination would pass the max file size`);
    const toEof = src + n === size;
    if (n % this.bs !== 0 && !toEof) throw err(EINVAL, `clone length ${n} not block aligned and not ending at EOF`);
    if (this.rangesOverlap(src, dst, n)) throw err(EINVAL, `clone ranges overlap (${src}, ${dst}, ${n})`);
    if (n % this.bs !== 0 && dst + n < size) throw err(EINVAL, 'clone of a partial EOF block into the middle of the file');
    this.move(src, n, dst);
    if (dst + n > this.len) this.len = dst + n;
  }

  dedupeRange(src: number, len: number, dst: number): number {
    this.open();
    if (!isOffset(src) || !isOffset(len) || !isOffset(dst)) throw err(EINVAL, `dedupe (${src}, ${len}, ${dst})`);
    const size = this.len;
    if (src + len > size) throw err(EINVAL, `dedupe source runs past EOF (${src}+${len} > ${size})`);
    let n = Math.min(len, DEDUPE_MAX);
    if (n === 0) return 0;
    if (src % this.bs !== 0 || dst % this.bs !== 0) throw err(EINVAL, `dedupe offsets (${src}, ${dst}) not block aligned`);
    if (dst + n > size) throw err(EINVAL, `dedupe destination runs past EOF (${dst}+${n} > ${size})`);
    // Linux reports the length asked for (capped) whenever the remap did not fail, even when it
    // was shortened to whole blocks, to nothing included (then nothing is compared).
    const asked = n;
    if (n % this.bs !== 0 && !(src + n === size && dst + n === size)) n -= n % this.bs;
    if (n === 0) return asked;
    if (this.rangesOverlap(src, dst, n)) throw err(EINVAL, `dedupe ranges overlap (${src}, ${dst}, ${n})`);
    return this.sameBytes(src, dst, n) ? asked : 0;
  }

  copyRange(src: number, len: number, dst: number): number {
    this.open();
    if (!isOffset(src) || !isOffset(len) || !isOffset(dst)) {
      if (Number.isInteger(src) && Number.isInteger(len) && Number.isInteger(dst) && src >= 0 && dst >= 0 && len >= 0) {
        throw err(EOVERFLOW, `copy_file_range (${src}, ${len}, ${dst}) wraps`);
      }
      throw err(EINVAL, `copy_file_range (${src}, ${len}, ${dst})`);
    }
    const size = this.len;
    let n = src >= size ? 0 : Math.min(len, size - src);
    if (dst >= this.max) throw err(EFBIG, `copy_file_range to ${dst} (max file size ${this.max})`);
    n = Math.min(n, MAX_RW_COUNT, this.max - dst);
    if (n > 0 && src < dst + n && dst < src + n) throw err(EINVAL, `copy_file_range ranges overlap (${src}, ${dst}, ${n})`);
    if (n === 0) return 0;
    this.move(src, n, dst);
    if (dst + n > this.len) this.len = dst + n;
    return n;
  }

  directRead(off: number, len: number): Uint8Array {
    return this.copyOut(off, this.directCount(off, len));
  }

  /** The bytes an O_DIRECT read of [off, off+len) returns. */
  private directCount(off: number, len: number): number {
    this.open();
    if (!isOffset(off) || !isOffset(len)) throw err(EINVAL, `O_DIRECT read (${off}, ${len})`);
    if (off >= this.len) return 0;
    if (off % this.dio !== 0 || len % this.dio !== 0) throw err(EINVAL, `O_DIRECT read (${off}, ${len}) not ${this.dio}-aligned`);
    return this.readCount(off, len);
  }

  directWrite(off: number, d: Uint8Array): number {
    this.open();
    if (!isOffset(off) || off % this.dio !== 0 || d.length % this.dio !== 0) {
      throw err(EINVAL, `O_DIRECT write (${off}, ${d.length}) not ${this.dio}-aligned`);
    }
    return this.pwrite(off, d);
  }

  /** RWF_ATOMIC: a byte array writes everything at once anyway; only the argument rules apply. */
  atomicWrite(off: number, d: Uint8Array): number {
    this.open();
    const u = this.caps.atomicWrite!;
    const n = d.length;
    if (n === 0) return 0;
    if (n < u.unitMin || n > u.unitMax || (n & (n - 1)) !== 0 || off % n !== 0) throw err(EINVAL, `atomic write (${off}, ${n})`);
    return this.directWrite(off, d);
  }

  /** RWF_DONTCACHE: there is no cache to keep out of. */
  readDontcache(off: number, len: number): Uint8Array {
    return this.pread(off, len);
  }

  writeDontcache(off: number, d: Uint8Array): number {
    return this.pwrite(off, d);
  }

  /** XFS_IOC_EXCHANGE_RANGE within the file: block aligned, inside EOF, apart. */
  exchangeRange(src: number, len: number, dst: number): void {
    this.open();
    if (!isOffset(src) || !isOffset(len) || !isOffset(dst)) throw err(EINVAL, `exchange (${src}, ${len}, ${dst})`);
    if (len === 0) return;
    if (src % this.bs !== 0 || dst % this.bs !== 0 || len % this.bs !== 0) throw err(EINVAL, `exchange (${src}, ${len}, ${dst}) not block aligned`);
    if (src + len > this.len || dst + len > this.len) throw err(EINVAL, `exchange (${src}, ${len}, ${dst}) past EOF (${this.len})`);
    if (this.rangesOverlap(src, dst, len)) throw err(EINVAL, `exchange ranges overlap (${src}, ${dst}, ${len})`);
    if (this.scratch.length < len) this.scratch = new Uint8Array(len);
    const a = this.copyInto(src, len, this.scratch.subarray(0, len));
    this.move(dst, len, src);
    this.pwrite(dst, a);
  }

  seekData(off: number): number {
    this.open();
    if (!Number.isInteger(off) || off < 0 || off >= this.len) throw err(ENXIO, `SEEK_DATA at ${off} (size ${this.len})`);
    return off;
  }

  seekHole(off: number): number {
    this.open();
    if (!Number.isInteger(off) || off < 0 || off >= this.len) throw err(ENXIO, `SEEK_HOLE at ${off} (size ${this.len})`);
    return this.len;
  }

  fiemap(off: number, len: number, flags: number): FiemapExtent[] {
    this.open();
    if ((flags & ~FIEMAP_FLAG_SYNC) !== 0) throw err(EBADR, `FIEMAP flags 0x${(flags & ~FIEMAP_FLAG_SYNC).toString(16)}`);
    if (!isOffset(off) || !isOffset(len) || len === 0) throw err(EINVAL, `FIEMAP (${off}, ${len})`);
    if (off >= this.max) throw err(EFBIG, `FIEMAP at ${off}`);
    const bs = this.bs;
    const fileEnd = Math.ceil(this.len / bs) * bs;
    const start = Math.floor(off / bs) * bs;
    const end = Math.min(fileEnd, Math.ceil(Math.min(off + len, this.max) / bs) * bs);
    if (start >= end) return [];
    return [{ logical: start, physical: start, length: end - start, flags: end === fileEnd ? FIEMAP_EXTENT_LAST : 0 }];
  }
}

export class NaiveAdapter implements FileAdapter {
  readonly name = 'naive';
  readonly capabilities: Capabilities;
  /** A byte array has no folios, device or preallocation: only the block size (alignment rules) varies. */
  readonly setups: SetupSupport = { blockSizes: [512, 1024, 4096, 16384] };
  private readonly capacity: number;
  private file: NaiveFile | null = null;

  constructor(opts: NaiveOptions = {}) {
    const blockSize = opts.blockSize ?? 4096;
    const pageSize = opts.pageSize ?? 4096;
    const dioAlign = opts.dioAlign ?? 512;
    const maxFileSize = opts.maxFileSize ?? Number.MAX_SAFE_INTEGER;
    this.capacity = opts.capacity ?? 1 << 30;
    if (!pow2(blockSize, 512, 1 << 20)) throw new FsError(EINVAL, `naive: block size must be a power of two in [512, 1 MiB], got ${blockSize}`);
    if (!pow2(pageSize, 1024, 1 << 20)) throw new FsError(EINVAL, `naive: page size must be a power of two in [1 KiB, 1 MiB], got ${pageSize}`);
    if (!pow2(dioAlign, 1, 1 << 20)) throw new FsError(EINVAL, `naive: O_DIRECT alignment must be a power of two, got ${dioAlign}`);
    if (!isOffset(maxFileSize) || maxFileSize < 1) throw new FsError(EINVAL, `naive: bad max file size ${maxFileSize}`);
    if (!Number.isInteger(this.capacity) || this.capacity < 0 || this.capacity > 2 ** 32) {
      throw new FsError(EINVAL, `naive: capacity must be an integer in [0, 4 GiB], got ${this.capacity}`);
    }
    this.capabilities = {
      blockSize, pageSize, maxFileSize, mmap: true, fallocModes: ALL_FALLOC_MODES.slice(), clone: true, dedupe: true,
      copyRange: true, directIO: true, dioAlign, seek: true, fiemap: true, remount: true,
      atomicWrite: { unitMin: blockSize, unitMax: Math.max(blockSize, 65536) }, dontcache: true, exchangeRange: true,
    };
  }

  open(): FileTarget {
    if (this.file !== null) this.file.closed = true;
    this.file = new NaiveFile(this.capabilities, this.capacity);
    return this.file;
  }

  close(): void {
    if (this.file !== null) this.file.closed = true;
    this.file = null;
  }
}

export function createNaiveAdapter(opts: NaiveOptions = {}): FileAdapter {
  return new NaiveAdapter(opts);
}
