/**
 * The file API a program sees, composed from the iomap model and a filesystem (the VFS glue):
 * open/create, pread, pwrite (buffered), truncate, fsync/fdatasync, mmap reads and stores at page
 * granularity (page_mkwrite), sync, drop_caches, unmount/mount, with i_size handled as in the
 * kernel (xfs_file_write_checks zeroing, xfs_setattr_size, truncate_setsize).
 *
 * Interleaving steps the fuzzer can schedule are exposed as methods too: background writeback
 * without waiting, completing pending I/O in a chosen order, reclaiming one clean folio.
 */
import { BioQueue } from './iomap/bio';
import { AddressSpace } from './iomap/pagecache';
import {
  Inode, IomapOps, MAX_LFS_FILESIZE, PAGE_SHIFT, PAGE_SIZE, roundUp,
} from './iomap/types';
import { Folio, blockIsDirty, blocksPerFolio, clearRangeDirty, dirtyBlocks, ifsAlloc, isPartiallyUptodate } from './iomap/folio';
import {
  folioMkclean, iomapAops, iomapFileBufferedWrite, iomapFileUnshare, iomapPageMkwrite, iomapReadFolio, iomapReadahead, iomapTruncatePage,
  iomapZeroRange, mkwriteErrorIsOom, mkwriteErrorIsRetry, pagecacheIsizeExtended,
} from './iomap/buffered-io';
import { filemapFdatawait, filemapFdatawriteRange, filemapWriteAndWaitRange, writepagesFor } from './iomap/writeback';
import { IovIter } from './iomap/uio';
import { Refs, MkfsOptions } from './fs/refs';
import { Personality, personality } from './fs/personality';
import type { FsInstance } from './iomap/fs-ops';
import { modelBugs } from './bugs';
import {
  DioOps, IOCB_ATOMIC, IOCB_DSYNC, IOCB_SYNC, IOMAP_DIO_FORCE_WAIT, IOMAP_DIO_OVERWRITE_ONLY, Kiocb, dioIter, iomapDioRw,
} from './iomap/direct-io';
import { iomapSeekData, iomapSeekHole } from './iomap/seek';
import { FiemapExtent, fiemapInfo, iomapBmap, iomapFiemap } from './iomap/fiemap';
import { SwapInfo, iomapSwapfileActivate, newSwapInfo } from './iomap/swapfile';
import type { BlockDevice } from './device/types';
import { FIEMAP_EXTENT_DELALLOC, FIEMAP_EXTENT_UNWRITTEN } from './uapi-fiemap';
import {
  FsError, EAGAIN, EBADF, EBUSY, EFBIG, EPERM, ETXTBSY, EINVAL, EIO, EIOCBQUEUED, ENOENT, ENOMEM, ENOPROTOOPT, ENOTBLK, ENXIO, EOPNOTSUPP, EXDEV, SIGBUS, check,
} from './errno';

export const FALLOC_FL_KEEP_SIZE = 0x01;
export const FALLOC_FL_PUNCH_HOLE = 0x02;
export const FALLOC_FL_COLLAPSE_RANGE = 0x08;
export const FALLOC_FL_ZERO_RANGE = 0x10;
export const FALLOC_FL_INSERT_RANGE = 0x20;
export const FALLOC_FL_UNSHARE_RANGE = 0x40;
/** The mode values vfs_fallocate accepts in 6.12+ (WRITE_ZEROES, 6.17, is not modelled). */
const FALLOC_ALLOWED = new Set([0, 0x01, 0x03, 0x10, 0x11, 0x08, 0x20, 0x40, 0x41]);
/** Largest single read/write/copy. */
export const MAX_RW_COUNT = 0x7ffff000;

export interface MountOptions {
  /** Largest folio in bytes (power of two, ≥ PAGE_SIZE and ≥ the block size). */
  maxFolioSize?: number;
  /** Fill byte of new folios (0, or a poison value to expose uninitialised-memory bugs). */
  newFolioFill?: number;
}

export interface OpenOptions {
  create?: boolean;
  truncate?: boolean;
}

/**
 * The partial blocks at the edges of [off, end) (ext4_zero_partial_blocks): the head block's part
 * and the tail block's part, one range when both lie in the same block; none where an edge is
 * block aligned.
 */
function partialEdges(off: number, end: number, bs: number): [number, number][] {
  const headEnd = Math.min(roundUp(off, bs), end);
  const tailStart = Math.max(end - (end % bs), off);
  if (Math.floor(off / bs) === Math.floor((end - 1) / bs)) return off % bs !== 0 || end % bs !== 0 ? [[off, end]] : [];
  const out: [number, number][] = [];
  if (headEnd > off) out.push([off, headEnd]);
  if (end > tailStart) out.push([tailStart, end]);
  return out;
}

function validOffset(x: unknown, what: string): number {
  if (typeof x !== 'number' || !Number.isSafeInteger(x) || x < 0) {
    throw new FsError(EINVAL, `${what} must be a non-negative integer, got ${String(x)}`);
  }
  return x;
}

/** An options argument: undefined, or a plain object (null and non-objects are EINVAL). */
function validOpts<T extends object>(x: T | undefined | null, what: string): T {
  if (x === undefined) return {} as T;
  if (x === null || typeof x !== 'object') throw new FsError(EINVAL, `${what} must be an object, got ${String(x)}`);
  return x;
}

function validData(x: unknown, what: string): Uint8Array {
  if (!(x instanceof Uint8Array)) throw new FsError(EINVAL, `${what} must be a Uint8Array`);
  return x;
}

export class IomapFs {
  readonly dev: BlockDevice;
  readonly fs: FsInstance;
  readonly queue = new BioQueue();
  /** The file operation in progress (for contract-violation reports), formatted on demand. */
  opName = '';
  opArgs: number[] = [];
  readonly pageSize = PAGE_SIZE;
  private readonly icache = new Map<number, Inode>();
  private readonly opts: Required<MountOptions>;
  mounted = true;

  static mkfs(dev: BlockDevice, opts?: MkfsOptions): void {
    Refs.mkfs(dev, opts);
  }

  static mount(dev: BlockDevice, opts?: MountOptions): IomapFs {
    const o = validOpts(opts, 'mount options');
    return new IomapFs(dev, Refs.mount(dev), o);
  }

  /** Mount any filesystem instance (an FsAdapter's, or refs wrapped by the contract monitor). */
  static withFs(dev: BlockDevice, fs: FsInstance, opts: MountOptions = {}): IomapFs {
    return new IomapFs(dev, fs, opts);
  }

  private constructor(dev: BlockDevice, fs: FsInstance, opts: MountOptions) {
    this.dev = dev;
    this.fs = fs;
    const maxFolio = opts.maxFolioSize ?? 64 * 1024;
    if (!Number.isInteger(maxFolio) || maxFolio < PAGE_SIZE || (maxFolio & (maxFolio - 1)) !== 0 || maxFolio > 2 * 1024 * 1024) {
      throw new FsError(EINVAL, `maxFolioSize ${maxFolio} must be a power of two in [4096, 2 MiB]`);
    }
    if (maxFolio < fs.blockSize) throw new FsError(EINVAL, `maxFolioSize ${maxFolio} is below the block size ${fs.blockSize}`);
    this.opts = { maxFolioSize: maxFolio, newFolioFill: opts.newFolioFill ?? 0 };
    fs.sizeOf = (ino) => this.icache.get(ino)?.size ?? fs.loadInode(ino).size;
  }

  get blockSize(): number {
    return this.fs.blockSize;
  }

  /** "pwrite(4096, 100) on fsx.file": the file operation in progress. */
  currentOp(): string {
    return this.opName ? `${this.opName}(${this.opArgs.join(', ')})` : '';
  }

  /** The refs instance underneath (tests and reports reach its counters and fault hooks). */
  get refs(): Refs {
    if (!(this.fs instanceof Refs)) throw new FsError(EINVAL, 'the mounted filesystem is not refs');
    return this.fs;
  }

  get maxFileSize(): number {
    const pers = this.fs.personality?.maxBytes(this.fs.blockSize) ?? Infinity;
    return Math.min(MAX_LFS_FILESIZE, this.fs.capabilities.maxFileSize, pers);
  }

  private checkMounted(): void {
    if (!this.mounted) throw new FsError(EBADF, 'filesystem is unmounted');
  }

  /** iget(): the in-core inode with its page cache. */
  iget(ino: number): Inode {
    let inode = this.icache.get(ino);
    if (inode) return inode;
    const loaded = this.fs.loadInode(ino);
    const minOrder = Math.max(0, Math.log2(this.fs.blockSize) - PAGE_SHIFT);
    const maxOrder = Math.log2(this.opts.maxFolioSize) - PAGE_SHIFT;
    // Buffer heads (the ext4 personality, invalidateDiscardsBlocks) keep a dirty folio's private state.
    const dirtyFoliosHavePrivate = this.fs.personality?.invalidateDiscardsBlocks === true;
    const mapping = new AddressSpace({ minOrder, maxOrder, newFolioFill: this.opts.newFolioFill, dirtyFoliosHavePrivate }, this.queue);
    inode = {
      ino, size: loaded.size, blkbits: this.fs.blkbits, blockSize: this.fs.blockSize, mapping, fsPrivate: loaded.fsPrivate,
      api: this.fs.api ?? '6.12',
    };
    mapping.host = inode;
    mapping.aops = iomapAops;
    mapping.writepages = writepagesFor(inode, this.fs.writebackOps, this.fs.wbOps);
    this.icache.set(ino, inode);
    return inode;
  }

  open(name: string, optsArg?: OpenOptions): FileHandle {
    this.checkMounted();
    const opts = validOpts(optsArg, 'open options');
    if (typeof name !== 'string' || name.length === 0 || name.includes('/')) throw new FsError(EINVAL, `bad file name ${JSON.stringify(name)}`);
    let ino = this.fs.lookup(name);
    if (ino === undefined) {
      if (!opts.create) throw new FsError(ENOENT, `${name} does not exist`);
      ino = this.fs.create(name);
    }
    const inode = this.iget(ino);
    const fh = new FileHandle(this, inode, name);
    if (opts.truncate && inode.size > 0) fh.truncate(0);
    return fh;
  }

  unlink(name: string): void {
    this.checkMounted();
    const ino = this.fs.lookup(name);
    if (ino === undefined) throw new FsError(ENOENT, `${name} does not exist`);
    const inode = this.icache.get(ino);
    // may_delete(): an active swap file cannot be unlinked.
    if (inode?.swapfile) throw new FsError(EPERM, `${name}: unlink of an active swap file`);
    if (inode) {
      inode.mapping.truncatePagecache(0);
      this.queue.waitInode(inode);
      this.icache.delete(ino);
    }
    this.fs.unlink(name);
  }

  inodes(): Inode[] {
    return [...this.icache.values()];
  }

  /** sync(): write back everything, wait, commit metadata. Never fails (errors stay in errseq). */
  sync(): void {
    this.checkMounted();
    for (const inode of this.icache.values()) filemapFdatawriteRange(inode.mapping, 0, Number.MAX_SAFE_INTEGER, 'all');
    this.queue.drain();
    this.fs.commit();
    for (const inode of this.icache.values()) if (!inode.mapping.hasDirtyOrWriteback()) inode.mapping.dirtiedPages = false;
  }

  /**
   * echo 3 > drop_caches (drop_pagecache_sb -> invalidate_mapping_pages): drop every clean,
   * unmapped folio not under writeback, leaving no shadow entries. Nothing is written back: dirty
   * folios stay cached with their delalloc reservations, exactly as the kernel leaves them.
   */
  dropCaches(): void {
    this.checkMounted();
    for (const inode of this.icache.values()) {
      inode.mapping.invalidateClean();
      // With nothing dirty the inode itself goes too (prune_icache_sb), I_DIRTY_PAGES with it.
      if (!inode.mapping.hasDirtyOrWriteback()) inode.mapping.dirtiedPages = false;
    }
  }

  /** `sync; echo 3 > drop_caches`: the cold cache a check wants when every byte must come from the media. */
  syncAndDropCaches(): void {
    this.sync();
    this.dropCaches();
  }

  unmount(): void {
    if (!this.mounted) return;
    // The bug zoo's unmount-sync-only-dirty: the final sync (and its commit) only when some page
    // is dirty, so metadata-only changes since the last commit are lost at a clean unmount.
    const dirty = [...this.icache.values()].some((i) => i.mapping.hasDirtyOrWriteback());
    if (!modelBugs.unmountSyncOnlyDirty || dirty) this.sync();
    for (const inode of this.icache.values()) inode.mapping.truncatePagecache(0);
    this.icache.clear();
    this.dev.flush();
    this.mounted = false;
  }

  /** Per-folio (§6) and reservation (§8b) invariants for every cached inode. */
  checkInvariants(): string[] {
    const out: string[] = [];
    for (const inode of this.icache.values()) {
      for (const v of this.fs.checkReservations(inode)) out.push(`ino ${inode.ino}: ${v}`);
      for (const v of checkFolioInvariants(inode)) out.push(`ino ${inode.ino}: ${v}`);
      for (const w of inode.mapping.warnings) out.push(`ino ${inode.ino}: WARN ${w}`);
      this.forgetTouched(inode);
    }
    return out;
  }

  /**
   * checkInvariants() over what changed since the last check only: the folios whose state
   * changed or that came or went (AddressSpace.touch), the extents that changed (the fs's
   * takeTouchedBlocks), the blocks between the old and the new EOF; the fs-wide reservation
   * total and the WARNs every time. What no change reached held at the last check and still
   * does. When anything is found, the answer is checkInvariants()'s, so the report is the same
   * as a check of everything would give. fsx checks everything every FULL_INVARIANTS_EVERY ops
   * and at the end of a run (docs/fsx.md), which bounds what a change the tracking missed could
   * cost: a later verdict, never a different one.
   */
  checkTouchedInvariants(): string[] {
    for (const inode of this.icache.values()) {
      if (inode.mapping.warnings.length > 0 || this.touchedViolation(inode)) return this.checkInvariants();
    }
    return [];
  }

  /** Whether the invariants fail where the inode changed since the last check (then forgotten). */
  private touchedViolation(inode: Inode): boolean {
    const mapping = inode.mapping;
    const bs = inode.blockSize;
    const [fromBlk, toBlk] = this.fs.takeTouchedBlocks?.(inode) ?? [0, Infinity];
    let lo = Math.min(mapping.touchedLo, fromBlk * bs);
    let hi = Math.max(mapping.touchedHi, toBlk * bs);
    const was = mapping.sizeAtCheck;
    const size = inode.size;
    if (was < 0) {
      lo = 0;
      hi = Infinity;
    } else if (was !== size) {
      // Blocks that crossed EOF: "below EOF" changed for them (dirty bits, delalloc, reservations).
      lo = Math.min(lo, Math.floor(Math.min(was, size) / bs) * bs);
      hi = Math.max(hi, Math.ceil(Math.max(was, size) / bs) * bs);
    }
    mapping.forgetTouched();
    if (lo >= hi) return this.fs.checkReservations(inode, 0, 0).length > 0;
    const to = hi === Infinity ? Infinity : Math.ceil(hi / bs);
    return this.fs.checkReservations(inode, Math.floor(lo / bs), to).length > 0 || checkFolioInvariants(inode, lo, hi).length > 0;
  }

  private forgetTouched(inode: Inode): void {
    inode.mapping.forgetTouched();
    this.fs.takeTouchedBlocks?.(inode);
  }
}

/**
 * The §6 invariants of the folios of an inode overlapping bytes [lo, hi) (default: all of them),
 * outside of any operation (bulk typed-array scans: this runs after every fsx op).
 */
export function checkFolioInvariants(inode: Inode, lo = 0, hi = Infinity): string[] {
  const out: string[] = [];
  const mapping = inode.mapping;
  for (let k = lo === 0 ? 0 : mapping.rankFrom(Math.floor(lo / PAGE_SIZE)); k < mapping.nrFolios; k++) {
    const f = mapping.folioByRank(k);
    if (f.pos >= hi) break;
    const ifs = f.ifs;
    if (f.locked) out.push(`${folioName(f)} left locked`);
    if (f.refs !== 0) out.push(`${folioName(f)} get/put imbalance ${f.refs}`);
    if (blocksPerFolio(f, inode.blkbits) <= 1 && ifs) out.push(`${folioName(f)} has per-block state with one block`);
    if (!ifs) continue;
    // One scan of the uptodate bits serves both checks that read them (a 2 MiB folio of 512-byte blocks has 4096).
    const firstNotUptodate = indexOfByte(ifs.uptodate, 0, 0);
    if ((firstNotUptodate === -1) !== f.uptodate) out.push(`${folioName(f)} uptodate ${f.uptodate} but bits ${Array.from(ifs.uptodate).join('')}`);
    if (ifs.readBytesPending !== 0) out.push(`${folioName(f)} read bytes pending ${ifs.readBytesPending}`);
    if (!f.writeback && ifs.writeBytesPending !== 0) out.push(`${folioName(f)} write bytes pending ${ifs.writeBytesPending} without writeback`);
    const bad = firstNotUptodate === -1 ? -1 : firstDirtyNotUptodate(ifs.dirty, ifs.uptodate);
    if (bad >= 0) out.push(`${folioName(f)} block ${bad} dirty but not uptodate`);
    if (!f.dirty && !f.writeback) {
      const eofBlk = Math.ceil((inode.size - f.pos) / inode.blockSize);
      const d = indexOfByte(ifs.dirty, 1, 0);
      if (d !== -1 && d < eofBlk) out.push(`${folioName(f)} block ${d} dirty bit set on a clean folio`);
    }
  }
  return out;
}

/** How a folio is named in invariant reports (built only for a violation: this runs after every op). */
function folioName(f: Folio): string {
  return `folio ${f.index}+${f.nrPages}`;
}

/** The first block whose dirty bit is set and uptodate bit clear, or -1 (run by run). */
function firstDirtyNotUptodate(dirty: Uint8Array, uptodate: Uint8Array): number {
  if (indexOfByte(uptodate, 0, 0) === -1) return -1;
  let i = indexOfByte(dirty, 1, 0);
  while (i !== -1) {
    let j = indexOfByte(dirty, 0, i);
    if (j === -1) j = dirty.length;
    const notUp = indexOfByte(uptodate, 0, i);
    if (notUp !== -1 && notUp < j) return notUp;
    i = j < dirty.length ? indexOfByte(dirty, 1, j) : -1;
  }
  return -1;
}

const bufferIndexOf = Buffer.prototype.indexOf;

/**
 * bits.indexOf(value, from) for a per-block bitmap, through Buffer's native byte search: it takes
 * any Uint8Array and scans a 4096-entry bitmap about ten times faster than the typed array's own
 * indexOf (the invariants scan every touched folio's bitmaps after every op).
 */
function indexOfByte(bits: Uint8Array, value: number, from: number): number {
  return bufferIndexOf.call(bits, value, from);
}

/** An open file description. */
export class FileHandle {
  readonly fsys: IomapFs;
  readonly inode: Inode;
  readonly name: string;
  /** errseq cursor (struct file f_wb_err). */
  private readonly wbErr: { since: number };
  closed = false;
  /**
   * FMODE_RANDOM (posix_fadvise POSIX_FADV_RANDOM): a read miss is force_page_cache_ra(), which
   * reads exactly the missing pages of the request in minimum-order folios. Otherwise the model
   * sizes readahead folios from the request (a simplification of page_cache_sync_ra's window).
   */
  randomReads = false;

  constructor(fsys: IomapFs, inode: Inode, name: string) {
    this.fsys = fsys;
    this.inode = inode;
    this.name = name;
    this.wbErr = { since: inode.mapping.wbErr.sample() };
  }

  private get ops() {
    return this.fsys.fs.iomapOps;
  }

  /** current generation: the write ops the entry points are given (6.12: null, they hang off mappings). */
  private get wops() {
    return this.fsys.fs.api === 'current' ? this.fsys.fs.writeOps ?? null : null;
  }

  /** current generation: the filesystem's read ops (null: the core's bio reads). */
  private get rops() {
    return this.fsys.fs.api === 'current' ? this.fsys.fs.readOps ?? null : null;
  }

  private live(): void {
    if (this.closed) throw new FsError(EBADF, `${this.name}: file is closed`);
    if (!this.fsys.mounted) throw new FsError(EBADF, `${this.name}: filesystem is unmounted`);
  }

  /** Record the operation in progress (for reports), then check the handle. */
  private enter(name: string, ...args: number[]): void {
    this.fsys.opName = name;
    this.fsys.opArgs = args;
    this.live();
  }

  get size(): number {
    this.live();
    return this.inode.size;
  }

  /**
   * IS_SWAPFILE(): an active swap file's blocks are the kernel's, so everything that could change
   * them fails with ETXTBSY (generic_write_checks, vfs_fallocate, the remap and copy prep checks,
   * inode_newsize_ok for a shrinking truncate) until swapoff.
   */
  private notSwapfile(what: string): void {
    if (this.inode.swapfile) throw new FsError(ETXTBSY, `${this.name}: ${what} on an active swap file`);
  }

  close(): void {
    this.closed = true;
  }

  /* ------------------------------------------------------------------------------------ */
  /* Reads                                                                                */
  /* ------------------------------------------------------------------------------------ */

  /**
   * Get the folio holding `pos` with [pos, pos+len) readable: page_cache_sync_ra() for a miss,
   * then filemap_update_page() (is_partially_uptodate, else ->read_folio). Null on read error.
   */
  private readableFolio(pos: number, len: number, end: number, wholeFolio = false): Folio | null {
    const mapping = this.inode.mapping;
    const idx = Math.floor(pos / PAGE_SIZE);
    let folio = mapping.lookup(idx);
    if (!folio) {
      const lastIndex = Math.floor((this.inode.size - 1) / PAGE_SIZE);
      const fresh: Folio[] = [];
      let p = pos;
      while (p < end) {
        const i = Math.floor(p / PAGE_SIZE);
        if (mapping.lookup(i)) break;
        const f = mapping.allocFolio(i, this.randomReads ? 0 : end - p, lastIndex);
        fresh.push(f);
        p = f.end;
      }
      iomapReadahead(fresh, this.ops, this.rops);
      folio = mapping.lookup(idx)!;
    }
    if (!folio.uptodate) {
      const off = folio.offsetIn(pos);
      if (wholeFolio || !isPartiallyUptodate(folio, off, Math.min(len, folio.size - off), this.inode.blkbits)) {
        iomapReadFolio(folio, this.ops, this.rops);
        if (!folio.uptodate) return null;
      }
    }
    return folio;
  }

  /** pread(2). */
  pread(off: number, len: number): Uint8Array {
    const end = this.preadStart(off, len);
    if (end <= off) return new Uint8Array(0);
    const out = new Uint8Array(end - off);
    const n = this.readFolios(off, end, out);
    return n === out.length ? out : out.subarray(0, n);
  }

  /**
   * pread(2) of dst.length bytes into the caller's buffer, as the syscall does: the bytes read
   * (fewer at EOF). The same errors and counts as pread; no array per read.
   */
  preadInto(off: number, dst: Uint8Array): number {
    const end = this.preadStart(off, dst.length);
    return end <= off ? 0 : this.readFolios(off, end, dst);
  }

  /** pread's entry checks: where the read ends (at most i_size; <= off for nothing to read). */
  private preadStart(off: number, len: number): number {
    this.enter('pread', off, len);
    validOffset(off, 'offset');
    validOffset(len, 'length');
    const size = this.inode.size;
    if (off >= size || len === 0) return off;
    return Math.min(off + len, size);
  }

  /** Copy [off, end) out of readable folios into out[0..]: bytes copied (short on a read error after progress). */
  private readFolios(off: number, end: number, out: Uint8Array): number {
    let pos = off;
    while (pos < end) {
      const folio = this.readableFolio(pos, end - pos, end);
      if (!folio) {
        if (pos > off) return pos - off;
        throw new FsError(EIO, `${this.name}: read error at ${pos}`);
      }
      const n = Math.min(end, folio.end) - pos;
      const fo = folio.offsetIn(pos);
      out.set(folio.data.subarray(fo, fo + n), pos - off);
      pos += n;
    }
    return end - off;
  }

  /* ------------------------------------------------------------------------------------ */
  /* Writes and size changes                                                              */
  /* ------------------------------------------------------------------------------------ */

  /** generic_write_checks + s_maxbytes: returns the (possibly shortened) length. */
  private writeLimit(off: number, len: number): number {
    const max = this.fsys.maxFileSize;
    if (off >= max) throw new FsError(EFBIG, `${this.name}: offset ${off} at or beyond the maximum file size ${max}`);
    return Math.min(len, max - off);
  }

  /**
   * pwrite(2), buffered. `faultAt` makes the user buffer unreadable from that index on (a
   * short copy), to exercise the short-write path deterministically.
   */
  pwrite(off: number, data: Uint8Array, optsArg?: { faultAt?: number }): number {
    const opts = validOpts(optsArg, 'write options');
    if (opts.faultAt !== undefined && (typeof opts.faultAt !== 'number' || Number.isNaN(opts.faultAt) || opts.faultAt < 0)) {
      throw new FsError(EINVAL, `faultAt must be a non-negative number, got ${String(opts.faultAt)}`);
    }
    return this.bufferedWrite('pwrite', off, data, opts.faultAt ?? Infinity, false);
  }

  /** The buffered write of pwrite and of pwritev2(RWF_DONTCACHE) (`dontcache`: IOMAP_DONTCACHE). */
  private bufferedWrite(what: string, off: number, data: Uint8Array, faultAt: number, dontcache: boolean): number {
    this.enter(what, off, (data as Uint8Array | undefined)?.length ?? -1);
    validOffset(off, 'offset');
    validData(data, 'data');
    if (data.length === 0) return 0;
    this.notSwapfile('write');
    const len = this.writeLimit(off, data.length);
    const inode = this.inode;
    // xfs_file_write_checks(): zero from the old EOF to the start of an extending write.
    if (off > inode.size) this.zeroPastEof(off, 'zeroing past EOF');
    const iov = new IovIter(len === data.length ? data : data.subarray(0, len), faultAt);
    const ret = iomapFileBufferedWrite(inode, off, iov, this.ops, false, undefined, this.wops, dontcache);
    return check(ret, `${this.name}: write at ${off}`);
  }

  /**
   * Zero [i_size, end) before i_size moves to `end` (xfs_setattr_size, xfs_file_write_checks,
   * xfs_reflink_zero_posteof), after letting the filesystem neutralise written blocks past EOF.
   */
  private zeroPastEof(end: number, what: string, didZero?: { v: boolean }): void {
    const inode = this.inode;
    check(this.fsys.fs.prepareZeroPastEof?.(inode, end) ?? 0, `${this.name}: preparing to zero past EOF`);
    check(iomapZeroRange(inode, inode.size, end - inode.size, this.ops, didZero, this.personality.zeroDirtyUnwrittenInCache, this.wops, this.personality.zeroPartialBlockInCache), `${this.name}: ${what}`);
  }

  /** ftruncate(2): xfs_setattr_size() order — zero, set size, fix the page cache, free blocks. */
  truncate(newsize: number): void {
    this.enter('truncate', newsize);
    validOffset(newsize, 'size');
    if (newsize > this.fsys.maxFileSize) throw new FsError(EFBIG, `${this.name}: size ${newsize} beyond the maximum file size`);
    if (newsize < this.inode.size) this.notSwapfile('truncate');
    const inode = this.inode;
    const fs = this.fsys.fs;
    const oldsize = inode.size;
    this.fsys.queue.waitInode(inode); // inode_dio_wait(): no direct I/O may complete after the size changes
    check(fs.prepareSize(inode, newsize), `${this.name}: preparing size ${newsize}`);
    const didZero = { v: false };
    if (newsize > oldsize) {
      this.zeroPastEof(newsize, 'zeroing for truncate up', didZero);
    } else if (!modelBugs.truncateNoTailZero) {
      this.writeBackBeforeTruncateDown(oldsize, newsize);
      check(iomapTruncatePage(inode, newsize, this.ops, didZero, this.personality.zeroDirtyUnwrittenInCache, this.wops, this.personality.zeroPartialBlockInCache), `${this.name}: truncate_page`);
    }
    // truncate_setsize()
    inode.size = newsize;
    if (newsize > oldsize) pagecacheIsizeExtended(inode, oldsize, newsize);
    inode.mapping.truncatePagecache(newsize);
    // A truncate down invalidates the EOF folio past the new size: with buffer heads (ext4) the
    // blocks past it are discarded clean, so a later extension finds nothing dirty there to write
    // (ext4 4k, a 16 KiB folio truncated to 10000 then a zero range extending over block 3:
    // unwritten after an fsync on 6.18.44).
    const tail = newsize < oldsize && this.personality.invalidateDiscardsBlocks ? inode.mapping.folioAt(newsize) : undefined;
    if (tail !== undefined) this.discardCoveredBlocks(newsize, tail.end - newsize);
    // truncate_pagecache() unmaps every page past the new EOF page. The model maps whole folios, so
    // a folio that keeps pages past it is write-protected whole: the next store page_mkwrites again
    // (without it, a store there would dirty blocks truncate just freed).
    const eofFolio = newsize < oldsize ? inode.mapping.folioAt(newsize) : undefined;
    if (eofFolio && eofFolio.end > roundUp(newsize, PAGE_SIZE)) folioMkclean(eofFolio);
    // xfs_setattr_size(): the new size is about to be logged, so the block zeroing just done must
    // reach the disk first, or a crash would bring the old bytes back under the new size. Like
    // xfs, a writeback error here fails the call after the in-core size has already moved.
    // ext4 leaves the zeroed block dirty instead (ordered-data journalling writes it before the
    // size commits): the personality says which.
    this.writeBackAfterTruncateZero(oldsize, newsize, didZero.v);
    if (newsize < oldsize || (newsize === oldsize && this.personality.truncateSameSizeFrees)) fs.truncateBlocks(inode, newsize);
    fs.sizeChanged(inode);
  }

  /* ------------------------------------------------------------------------------------ */
  /* fallocate                                                                            */
  /* ------------------------------------------------------------------------------------ */

  private get fs(): FsInstance {
    return this.fsys.fs;
  }

  /** The filesystem's policy choices (reference/fs/personality.ts). */
  private get personality(): Personality {
    return this.fs.personality ?? personality('generic');
  }

  /**
   * What PUNCH_HOLE and ZERO_RANGE do to the page cache first: write back and drop the range
   * (xfs_flush_unmap_range), or only drop it, dirty data and all, zeroing the covered bytes of
   * folios that straddle an edge (ext4: truncate_pagecache_range).
   */
  private settleCacheForPunch(off: number, len: number): void {
    if (this.personality.flushBeforePunchZero) {
      this.flushUnmapRange(off, len);
      return;
    }
    this.fsys.queue.waitInode(this.inode);
    // ext4_update_disksize_before_punch(): the dropped folios will never be written back to raise
    // the on-disk size, so it moves now (found by fsx remounts under the ext4 personality).
    this.fs.diskSizeBeforePunch?.(this.inode, off, len);
    // ext4_truncate_page_cache_block_range(): write-protect every page the range touches, partial
    // ones too, so the next store faults and page_mkwrite reserves space again for punched blocks.
    const mapping = this.inode.mapping;
    for (const f of mapping.foliosIn(Math.floor(off / PAGE_SIZE), Math.floor((off + len - 1) / PAGE_SIZE))) folioMkclean(f);
    mapping.truncateRange(off, off + len - 1);
    if (this.personality.invalidateDiscardsBlocks) this.discardCoveredBlocks(off, len);
  }

  /**
   * ext4 caches through buffer heads: the partial-folio invalidation of truncate_pagecache_range
   * (block_invalidate_folio) discards the buffers the range covers whole, dirty state and all,
   * where iomap's keeps a folio's per-block dirty state unless the whole folio goes. With blocks
   * smaller than a page, a block the range covers whole is therefore clean on ext4 and stays
   * unwritten after an fsync (diff, ext4 1k seeds 111 and 112, 3 ops each: the model wrote it back
   * and a later O_DIRECT write or read saw a written block the host did not have).
   */
  private discardCoveredBlocks(off: number, len: number): void {
    const inode = this.inode;
    const bs = inode.blockSize;
    for (const f of inode.mapping.foliosIn(Math.floor(off / PAGE_SIZE), Math.floor((off + len - 1) / PAGE_SIZE))) {
      const a = roundUp(Math.max(off, f.pos), bs);
      const b = Math.floor(Math.min(off + len, f.end) / bs) * bs;
      // A folio written whole has no per-block state yet (iomap allocates it lazily); buffer heads
      // always exist, so give it one (all dirty, as the folio) to discard from (ext4 1k, seed 501,
      // op 52,240, 3 ops: a 4 KiB write, then a zero range from 512 left blocks 1-3 dirty).
      if (b <= a || ifsAlloc(f, inode.blkbits) === null) continue;
      clearRangeDirty(f, a - f.pos, b - a, inode.blkbits);
      if (f.dirty && !f.pteDirty && dirtyBlocks(f, inode.blkbits).length === 0) f.dirty = false;
    }
  }

  /** inode_dio_wait() + xfs_flush_unmap_range(): write back and drop the cache over a range. */
  private flushUnmapRange(off: number, len: number): void {
    const rounding = Math.max(this.inode.blockSize, PAGE_SIZE);
    const start = Math.floor(off / rounding) * rounding;
    const end = roundUp(off + len, rounding) - 1;
    this.fsys.queue.waitInode(this.inode);
    check(filemapWriteAndWaitRange(this.inode.mapping, start, end), `${this.name}: flush`);
    this.dropFlushedRange(start, end);
  }

  /**
   * The drop half of xfs_flush_unmap_range over [start, endIncl], just written back: under
   * flushUnmapDropsWholeFolios every clean folio touching the range goes whole (xfs 4k seed 1103:
   * a punch of one block dropped the host's 16 KiB folio 8-11 whole, so a later write there made
   * 4 KiB folios and a flush wrote block 8 without block 9); else straddling folios are split.
   */
  private dropFlushedRange(start: number, endIncl: number): void {
    if (this.personality.flushUnmapDropsWholeFolios) this.inode.mapping.dropRangeWholeFolios(start, endIncl);
    else this.inode.mapping.truncateRange(start, endIncl);
  }

  /**
   * Collapse/insert: write back and drop the cache from `off` to `end` (the size), from one
   * allocation unit earlier under shiftFlushesUnitBefore (xfs_prepare_shift).
   */
  private flushForShift(off: number, end: number): void {
    const unit = this.inode.blockSize;
    const start = this.personality.shiftFlushesUnitBefore && off > 0 ? Math.floor(off / unit) * unit - unit : off;
    this.flushUnmapRange(start, end - start);
  }

  /** Make sure the file is not inline (every space operation works on blocks). */
  private unstuffed(): void {
    check(this.fs.unstuff(this.inode), `${this.name}: unstuff`);
  }

  /**
   * xfs_free_file_space(): free whole blocks, zero the partial edges inside EOF, and (xfs) write
   * back the EOF page when the range reached EOF (personality punchWritesBackEofPage).
   */
  private freeFileSpace(off: number, len: number): void {
    const bs = this.inode.blockSize;
    const first = Math.ceil(off / bs);
    const last = Math.floor((off + len) / bs);
    if (last > first) this.fs.punchBlocks(this.inode, first, last - first);
    const size = this.inode.size;
    if (off >= size) return;
    const zlen = Math.min(len, size - off);
    const end = off + zlen;
    for (const [a, b] of this.personality.punchZeroesEdgesOnly ? partialEdges(off, end, bs) : [[off, end]]) {
      check(iomapZeroRange(this.inode, a, b - a, this.ops, undefined, this.personality.zeroDirtyUnwrittenInCache, this.wops, this.personality.zeroPartialBlockInCache), `${this.name}: zeroing punched edges`);
    }
    if (this.personality.punchWritesBackEofPage && end === size && end % PAGE_SIZE !== 0) {
      check(filemapWriteAndWaitRange(this.inode.mapping, end - (end % PAGE_SIZE), Number.MAX_SAFE_INTEGER), `${this.name}: writing back the EOF page`);
    }
  }

  /**
   * The size extension of a fallocate that allocated up to `end`: a truncate up (xfs), or under
   * fallocExtendsWithoutZeroing (ext4_alloc_file_blocks -> ext4_update_inode_size) the size set
   * as it is, with only pagecache_isize_extended's zeroing of a dirty cached EOF folio's tail, so
   * no block is dirtied (its partial-edge zeroing, ext4_zero_partial_blocks, leaves the block it
   * has just allocated unwritten clean as well: diff, ext4 1k seed 113).
   */
  private fallocExtend(end: number): void {
    if (!this.personality.fallocExtendsWithoutZeroing) {
      this.truncate(end);
      return;
    }
    const inode = this.inode;
    const oldsize = inode.size;
    check(this.fs.prepareSize(inode, end), `${this.name}: preparing size ${end}`);
    // Blocks past EOF that hold stale data must not come inside it (as for a truncate up).
    check(this.fs.prepareZeroPastEof?.(inode, end) ?? 0, `${this.name}: preparing to extend`);
    // The old EOF block's tail is zeroed through the cache when that block is dirty there (ext4
    // 6.18.44 reads zeroes there after the extension even when mmap stores had put data past EOF
    // and that block ends its page, where pagecache_isize_extended does nothing); a clean one is
    // left alone, unwritten included (an insert over an unwritten EOF block in a page dirty
    // elsewhere left it unwritten: diff, ext4 1k seed 501, op 963,031, 7 ops), and so are the
    // blocks after it.
    const tail = Math.min(end, roundUp(oldsize, inode.blockSize)) - oldsize;
    const eofFolio = tail > 0 ? inode.mapping.folioAt(oldsize) : undefined;
    if (eofFolio !== undefined && eofFolio.dirty && blockIsDirty(eofFolio, Math.floor((oldsize - eofFolio.pos) / inode.blockSize))) {
      check(iomapZeroRange(inode, oldsize, tail, this.ops, undefined, this.personality.zeroDirtyUnwrittenInCache, this.wops, this.personality.zeroPartialBlockInCache), `${this.name}: zeroing the EOF block`);
    }
    inode.size = end;
    pagecacheIsizeExtended(inode, oldsize, end);
    this.fs.sizeChanged(inode);
  }

  /**
   * ext4 (fallocExtendsWithoutZeroing): an allocating fallocate without KEEP_SIZE whose end lies
   * past i_size or past the on-disk size sets both to it (ext4_fallocate takes new_size = end
   * when end > i_size || end > i_disksize; ext4_alloc_file_blocks -> ext4_update_inode_size), so
   * a later O_DIRECT write inside that end is not extending (ext4_extending_io) and a refused one
   * frees nothing past EOF (diff, ext4 4k seed 1601, op 154,265, 5 ops: a 1-byte write into a
   * KEEP_SIZE-preallocated block left the on-disk size at 0, a fallocate 0+1 raised it to 1 on
   * the host only, and the refused O_DIRECT write 0+1 freed the preallocated block past EOF in the
   * model only).
   */
  private fallocRaisesDiskSize(off: number, len: number): void {
    if (this.personality.fallocExtendsWithoutZeroing) this.fs.diskSizeBeforePunch?.(this.inode, off, len);
  }

  /** fallocate(2) with the 6.12 generic validation order (file-ops §3.1) and xfs semantics. */
  fallocate(mode: number, off: number, len: number): void {
    this.enter('fallocate', mode, off, len);
    if (typeof off !== 'number' || !Number.isSafeInteger(off) || off < 0 || typeof len !== 'number' || !Number.isSafeInteger(len) || len <= 0) {
      throw new FsError(EINVAL, `${this.name}: fallocate offset ${off} length ${len}`);
    }
    if (!Number.isInteger(mode) || !FALLOC_ALLOWED.has(mode)) throw new FsError(EOPNOTSUPP, `${this.name}: fallocate mode 0x${Number(mode).toString(16)}`);
    this.notSwapfile('fallocate');
    if (off + len > this.fsys.maxFileSize) throw new FsError(EFBIG, `${this.name}: fallocate beyond the maximum file size`);
    // Step 9/10 of file-ops §3.1: a mode the filesystem does not implement.
    if (!this.fsys.fs.capabilities.fallocModes.includes(mode)) throw new FsError(EOPNOTSUPP, `${this.name}: the filesystem does not do fallocate mode 0x${mode.toString(16)}`);
    const bs = this.inode.blockSize;
    const size = this.inode.size;
    const keep = (mode & FALLOC_FL_KEEP_SIZE) !== 0;
    const end = off + len;
    const lblk = Math.floor(off / bs);
    const nblk = Math.ceil(end / bs) - lblk;
    switch (mode & ~FALLOC_FL_KEEP_SIZE) {
      case 0:
        this.unstuffed();
        check(this.fs.allocRange(this.inode, lblk, nblk), `${this.name}: fallocate`);
        if (!keep && end > size) this.fallocExtend(end);
        if (!keep) this.fallocRaisesDiskSize(off, len);
        return;
      case FALLOC_FL_PUNCH_HOLE:
        this.unstuffed();
        this.settleCacheForPunch(off, len);
        this.freeFileSpace(off, len);
        return;
      case FALLOC_FL_ZERO_RANGE:
        this.unstuffed();
        this.settleCacheForPunch(off, len);
        this.freeFileSpace(off, len);
        check(this.fs.allocRange(this.inode, lblk, nblk), `${this.name}: zero range allocation`);
        if (!keep && end > size) this.fallocExtend(end);
        if (!keep) this.fallocRaisesDiskSize(off, len);
        return;
      case FALLOC_FL_COLLAPSE_RANGE:
        if (off % bs || len % bs) throw new FsError(EINVAL, `${this.name}: collapse range not block aligned`);
        if (end >= size) throw new FsError(EINVAL, `${this.name}: collapse range reaches EOF`);
        this.unstuffed();
        this.flushForShift(off, size);
        // Blocks past EOF are freed whatever the persistent-preallocation flag says: where
        // xfs_prepare_shift keeps them, the size change after the shift (xfs_falloc_setsize ->
        // xfs_itruncate_extents) frees the same blocks, moved down by len.
        if (this.personality.shiftFreesPostEofBlocks && this.canFreeEofBlocks(false)) this.fs.truncateBlocks(this.inode, size);
        this.fs.collapseBlocks(this.inode, off / bs, len / bs);
        if (this.personality.collapseTruncates) {
          // xfs_falloc_setsize(): the size goes down by truncate(2)'s own path, so its EOF-block
          // zeroing, write-back and reflink-flag rule apply (xfs 4k seed 706: a collapse that left
          // no extent dropped the flag, and the next unaligned O_DIRECT write went direct).
          this.truncate(size - len);
        } else {
          this.inode.size = size - len;
          this.inode.mapping.truncatePagecache(size - len);
          this.fs.sizeChanged(this.inode);
        }
        // The shift moved data to new offsets: make it durable before any moved block is
        // overwritten in place, or a crash would read new data through the old map.
        this.fs.commit();
        return;
      case FALLOC_FL_INSERT_RANGE:
        if (off % bs || len % bs) throw new FsError(EINVAL, `${this.name}: insert range not block aligned`);
        if (size + len > this.fsys.maxFileSize) throw new FsError(EFBIG, `${this.name}: insert range beyond the maximum file size`);
        if (off >= size) throw new FsError(EINVAL, `${this.name}: insert range at or beyond EOF`);
        this.unstuffed();
        // xfs_falloc_insert_range sets the new size first (xfs_falloc_setsize), so what
        // xfs_prepare_shift frees lies past the new EOF, and the extending truncate's flush has
        // already written back the delalloc it would count. ext4_insert_range only adds len to
        // i_size, zeroing nothing (fallocExtendsWithoutZeroing): a truncate's zeroing would dirty
        // an unwritten block past EOF in the EOF folio, which the flush then wrote (diff, ext4 1k
        // seed 501, op 963,031, 6 ops).
        this.fallocExtend(size + len);
        if (this.personality.shiftFreesPostEofBlocks && this.canFreeEofBlocks()) this.freeEofBlocks(size + len);
        this.flushForShift(off, size + len);
        this.fs.insertBlocks(this.inode, off / bs, len / bs);
        this.fs.commit(); // as for collapse: the shift must be durable before in-place overwrites
        return;
      case FALLOC_FL_UNSHARE_RANGE:
        this.unstuffed();
        // xfs_reflink_unshare() returns at once for a file without the reflink flag.
        if (!this.personality.unshareOnlyReflinked || this.fs.isReflinked?.(this.inode) !== false) {
          check(iomapFileUnshare(this.inode, off, len, this.ops, this.wops), `${this.name}: unshare`);
          check(filemapWriteAndWaitRange(this.inode.mapping, off, end - 1), `${this.name}: unshare writeback`);
          check(this.fs.unshareUnwritten(this.inode, lblk, nblk), `${this.name}: unshare unwritten`);
          this.fs.tryClearReflinkFlag?.(this.inode);
        }
        check(this.fs.allocRange(this.inode, lblk, nblk), `${this.name}: unshare allocation`);
        if (!keep && end > size) this.truncate(end);
        return;
      default:
        throw new FsError(EOPNOTSUPP, `${this.name}: fallocate mode 0x${mode.toString(16)}`);
    }
  }

  /* ------------------------------------------------------------------------------------ */
  /* Reflink: clone, dedupe, copy                                                         */
  /* ------------------------------------------------------------------------------------ */

  private sameFs(src: FileHandle): void {
    src.live();
    if (src.fsys !== this.fsys) throw new FsError(EXDEV, `${this.name}: source is on another filesystem`);
  }

  /** Write back and wait for [off, off+len) so that no delalloc remains there. */
  private flushRange(off: number, len: number): void {
    this.fsys.queue.waitInode(this.inode);
    check(filemapWriteAndWaitRange(this.inode.mapping, off, off + Math.max(len, 1) - 1), `${this.name}: flush`);
  }

  /**
   * FICLONERANGE from `src` (possibly this file) with the validation order of file-ops §4:
   * clones cannot shorten, so every rule that would shorten is EINVAL.
   */
  cloneFrom(src: FileHandle, srcOff: number, len: number, dstOff: number): void {
    this.enter('cloneFrom', srcOff, len, dstOff);
    for (const [v, n] of [[srcOff, 'source offset'], [len, 'length'], [dstOff, 'destination offset']] as const) {
      if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw new FsError(EINVAL, `${this.name}: clone ${n} ${v}`);
    }
    this.sameFs(src);
    if (!this.fsys.fs.capabilities.reflink) throw new FsError(EOPNOTSUPP, `${this.name}: the filesystem cannot share blocks (no reflink)`);
    src.notSwapfile('clone');
    this.notSwapfile('clone');
    const srcSize = src.inode.size;
    if (len === 0) {
      if (srcOff === srcSize) return;
      if (srcOff > srcSize) throw new FsError(EINVAL, `${this.name}: clone source offset beyond EOF`);
      len = srcSize - srcOff;
    }
    this.remapFrom(src, srcOff, len, dstOff, false);
  }

  /**
   * The remap itself (generic_remap_file_range_prep, xfs_reflink_remap_prep, the block remap and
   * the size update), for a length that is not 0. `canShorten` (REMAP_FILE_CAN_SHORTEN, what
   * copy_file_range asks for): every rule that would have to shorten the request shortens it
   * instead of failing with EINVAL; a request shortened to nothing returns 0 having done nothing
   * but the flushes the kernel does before it knows. Returns the bytes remapped.
   */
  private remapFrom(src: FileHandle, srcOff: number, len: number, dstOff: number, canShorten: boolean): number {
    const bs = this.inode.blockSize;
    const srcSize = src.inode.size;
    const shorten = (to: number, why: string): number => {
      if (!canShorten) throw new FsError(EINVAL, `${this.name}: ${why}`);
      return to;
    };
    if (srcOff % bs || dstOff % bs) throw new FsError(EINVAL, `${this.name}: clone offsets not block aligned`);
    if (srcOff >= srcSize) throw new FsError(EINVAL, `${this.name}: clone source offset at or beyond EOF`);
    if (len > srcSize - srcOff) len = shorten(srcSize - srcOff, 'clone source range beyond EOF');
    if (dstOff >= this.fsys.maxFileSize) throw new FsError(EFBIG, `${this.name}: clone destination beyond the maximum file size`);
    if (dstOff + len > this.fsys.maxFileSize) len = shorten(this.fsys.maxFileSize - dstOff, 'clone would be shortened');
    // A partial last block only where the source ends (generic_remap_checks).
    // The bug zoo's clone-unaligned-tail accepts such a length and remaps the whole last block.
    if (len % bs !== 0 && srcOff + len !== srcSize && !(modelBugs.cloneUnalignedTail && !canShorten)) {
      len = shorten(len - (len % bs), 'clone length not block aligned');
    }
    const nblk = Math.ceil(len / bs);
    if (src.inode === this.inode && srcOff < dstOff + nblk * bs && dstOff < srcOff + nblk * bs) {
      throw new FsError(EINVAL, `${this.name}: clone ranges overlap`);
    }
    if (len === 0) return 0;
    src.unstuffed();
    this.unstuffed();
    src.flushRange(srcOff, len);
    this.flushRange(dstOff, len);
    // generic_remap_check_len: the source's partial EOF block may not land inside the destination.
    if (len % bs !== 0 && srcOff + len === srcSize && dstOff + len < this.inode.size) {
      len = shorten(len - (len % bs), 'partial EOF block would land inside the destination');
      if (len === 0) return 0;
    }
    const n = Math.ceil(len / bs);
    if (dstOff > this.inode.size) {
      const eof = this.inode.size;
      this.zeroPastEof(dstOff, 'zeroing before clone');
      this.writeBackEofBlock(eof);
      // xfs_reflink_remap_prep(): past EOF the flush and unmap start at the old EOF (rounded down
      // to the page: xfs_flush_unmap_range), so the cached folio holding it goes too (diff, xfs 4k
      // seed 104, op 33,422, 5 ops: a clean folio 16-17 over the EOF block was dropped on the host
      // and kept by the model, whose later flush then wrote block 17 with it).
      this.flushUnmapRange(eof, dstOff + len - eof);
    }
    this.flushRange(dstOff, len);
    this.invalidateForRemap(dstOff, n * bs);
    this.fs.remapBlocks(src.inode, srcOff / bs, this.inode, dstOff / bs, n);
    if (dstOff + len > this.inode.size) {
      this.inode.size = dstOff + len;
      this.fs.sizeChanged(this.inode);
    }
    return len;
  }

  /** xfs_reflink_remap_prep(): drop the destination's (clean) cache, rounded out to pages. */
  private invalidateForRemap(off: number, len: number): void {
    const start = Math.floor(off / PAGE_SIZE) * PAGE_SIZE;
    this.dropFlushedRange(start, roundUp(off + len, PAGE_SIZE) - 1);
  }

  /** FICLONERANGE within this file. */
  cloneRange(srcOff: number, len: number, dstOff: number): void {
    this.cloneFrom(this, srcOff, len, dstOff);
  }

  /**
   * FIDEDUPERANGE with one destination (this file): returns bytes_deduped as Linux reports it,
   * the length asked for (capped at 1 GiB) even when the remap shortened it, or 0 when the
   * contents of the (shortened) ranges differ (FILE_DEDUPE_RANGE_DIFFERS, nothing changed).
   */
  dedupeFrom(src: FileHandle, srcOff: number, len: number, dstOff: number): number {
    this.enter('dedupeFrom', srcOff, len, dstOff);
    for (const [v, n] of [[srcOff, 'source offset'], [len, 'length'], [dstOff, 'destination offset']] as const) {
      if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw new FsError(EINVAL, `${this.name}: dedupe ${n} ${v}`);
    }
    this.sameFs(src);
    if (!this.fsys.fs.capabilities.reflink) throw new FsError(EOPNOTSUPP, `${this.name}: the filesystem cannot share blocks (no reflink)`);
    src.notSwapfile('dedupe');
    this.notSwapfile('dedupe');
    if (srcOff + len > src.inode.size) throw new FsError(EINVAL, `${this.name}: dedupe source range beyond EOF`);
    len = Math.min(len, 1 << 30);
    // vfs_dedupe_file_range reports this length (the request, capped at 1 GiB) as bytes_deduped
    // whenever the remap did not fail, however far generic_remap_checks shortened it.
    const asked = len;
    if (len === 0) return 0;
    const bs = this.inode.blockSize;
    if (srcOff % bs || dstOff % bs) throw new FsError(EINVAL, `${this.name}: dedupe offsets not block aligned`);
    if (dstOff + len > this.inode.size) throw new FsError(EINVAL, `${this.name}: dedupe destination range beyond EOF`);
    const bothAtEof = srcOff + len === src.inode.size && dstOff + len === this.inode.size;
    if (len % bs && !bothAtEof) len -= len % bs;
    // Shortened to nothing: nothing is compared or remapped, and the call succeeds.
    if (len === 0) return asked;
    const nblk = Math.ceil(len / bs);
    if (src.inode === this.inode && srcOff < dstOff + nblk * bs && dstOff < srcOff + nblk * bs) {
      throw new FsError(EINVAL, `${this.name}: dedupe ranges overlap`);
    }
    src.unstuffed();
    this.unstuffed();
    src.flushRange(srcOff, len);
    this.flushRange(dstOff, len);
    const a = src.pread(srcOff, len);
    const b = this.pread(dstOff, len);
    if (Buffer.compare(a, b) !== 0) return 0;
    this.invalidateForRemap(dstOff, nblk * bs);
    this.fs.remapBlocks(src.inode, srcOff / bs, this.inode, dstOff / bs, nblk);
    return asked;
  }

  dedupeRange(srcOff: number, len: number, dstOff: number): number {
    return this.dedupeFrom(this, srcOff, len, dstOff);
  }

  /** copy_file_range(2) from `src`: an in-kernel copy (short counts are legitimate). */
  copyFrom(src: FileHandle, srcOff: number, len: number, dstOff: number): number {
    this.enter('copyFrom', srcOff, len, dstOff);
    for (const [v, n] of [[srcOff, 'source offset'], [len, 'length'], [dstOff, 'destination offset']] as const) {
      if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw new FsError(EINVAL, `${this.name}: copy_file_range ${n} ${v}`);
    }
    this.sameFs(src);
    src.notSwapfile('copy_file_range');
    this.notSwapfile('copy_file_range');
    len = Math.min(len, Math.max(0, src.inode.size - srcOff), MAX_RW_COUNT);
    if (dstOff >= this.fsys.maxFileSize) throw new FsError(EFBIG, `${this.name}: copy destination beyond the maximum file size`);
    if (src.inode === this.inode && len > 0 && srcOff < dstOff + len && dstOff < srcOff + len) {
      throw new FsError(EINVAL, `${this.name}: copy_file_range ranges overlap`);
    }
    if (len === 0) return 0;
    const remapped = this.personality.copyRangeRemapsFirst && this.fsys.fs.capabilities.reflink ? this.remapForCopy(src, srcOff, len, dstOff) : 0;
    if (remapped > 0) return remapped;
    const data = src.pread(srcOff, len);
    return this.pwrite(dstOff, data);
  }

  /**
   * vfs_copy_file_range's first try (personality copyRangeRemapsFirst): ->remap_file_range with
   * REMAP_FILE_CAN_SHORTEN. Any error, or 0 bytes, sends the copy through the page cache instead.
   */
  private remapForCopy(src: FileHandle, srcOff: number, len: number, dstOff: number): number {
    try {
      return this.remapFrom(src, srcOff, len, dstOff, true);
    } catch (e) {
      if (e instanceof FsError) return 0;
      throw e;
    }
  }

  copyRange(srcOff: number, len: number, dstOff: number): number {
    return this.copyFrom(this, srcOff, len, dstOff);
  }

  /**
   * A block-aligned truncate down on xfs (writeBackAfterTruncateZero 'disk-size-range') whose new
   * size the disk lags behind has [i_disk_size, newsize) written back before the page cache is
   * truncated: xfs_setattr_size writes back when newsize > i_disk_size and oldsize != i_disk_size
   * (the unaligned case, which zeroes, is writeBackAfterTruncateZero's). Seen on 6.18.44 xfs 4k
   * (diff, xfs 4k seed 104, op 33,422, 4 ops); what the page cache truncate then splits:
   * AddressSpace.truncateRange.
   */
  private writeBackBeforeTruncateDown(oldsize: number, newsize: number): void {
    if (this.personality.writeBackAfterTruncateZero !== 'disk-size-range' || newsize >= oldsize) return;
    if (newsize % this.inode.blockSize !== 0) return;
    const disk = this.fs.diskSize?.(this.inode) ?? 0;
    if (newsize > disk && oldsize !== disk) check(filemapWriteAndWaitRange(this.inode.mapping, disk, newsize - 1), `${this.name}: writing back up to the new size`);
  }

  /**
   * What truncate writes back after zeroing the EOF block (personality writeBackAfterTruncateZero).
   * xfs_setattr_size() also writes back when the on-disk size lags behind both sizes, zeroing or
   * not (a truncate to the current size included: diff, xfs 1k, 4 ops).
   */
  private writeBackAfterTruncateZero(oldsize: number, newsize: number, didZero: boolean): void {
    const how = this.personality.writeBackAfterTruncateZero;
    if (how === 'eof-block' && didZero) this.writeBackEofBlock(Math.min(oldsize, newsize));
    if (how !== 'disk-size-range') return;
    const disk = this.fs.diskSize?.(this.inode) ?? 0;
    if (!didZero && !(newsize > disk && oldsize !== disk)) return;
    if (disk < newsize) check(filemapWriteAndWaitRange(this.inode.mapping, disk, newsize - 1), `${this.name}: writing back up to the new size`);
  }

  /** Write back (and wait for) the block holding byte `pos`: zeroing there must be durable. */
  private writeBackEofBlock(pos: number): void {
    const bs = this.inode.blockSize;
    const start = Math.floor(pos / bs) * bs;
    check(filemapWriteAndWaitRange(this.inode.mapping, start, start + bs - 1), `${this.name}: writing back the EOF block`);
  }

  /* ------------------------------------------------------------------------------------ */
  /* Durability                                                                           */
  /* ------------------------------------------------------------------------------------ */

  /** file_write_and_wait_range() + file_check_and_advance_wb_err(). */
  private writeAndWait(): number {
    const mapping = this.inode.mapping;
    let err = 0;
    if (mapping.hasDirtyOrWriteback()) {
      err = filemapFdatawriteRange(mapping, 0, Number.MAX_SAFE_INTEGER, 'all');
      if (err !== -EIO) filemapFdatawait(mapping);
    }
    const err2 = mapping.wbErr.checkAndAdvance(this.wbErr);
    // file_check_and_advance_wb_err() also clears the legacy AS_EIO/AS_ENOSPC bits, so an error
    // fsync reported is not reported again by a later filemap_write_and_wait_range().
    mapping.checkErrors();
    return err || err2;
  }

  /** fsync(2): data, then metadata commit and device flush; reports a writeback error once. */
  fsync(): void {
    this.enter('fsync');
    check(this.writeAndWait(), `${this.name}: fsync`);
    this.fsys.fs.commit();
  }

  /** fdatasync(2): the same durability for size and allocation; refs commits either way. */
  fdatasync(): void {
    this.fsync();
  }

  /* ------------------------------------------------------------------------------------ */
  /* mmap                                                                                 */
  /* ------------------------------------------------------------------------------------ */

  private lastPage(): number {
    return Math.ceil(this.inode.size / PAGE_SIZE);
  }

  /** filemap_fault(): bring the page in (read-only); SIGBUS beyond the last page or on error. */
  private faultIn(idx: number): Folio {
    if (idx >= this.lastPage()) throw new FsError(SIGBUS, `${this.name}: access to page ${idx} beyond EOF page ${this.lastPage() - 1}`);
    const pos = idx * PAGE_SIZE;
    // filemap_fault() maps only uptodate folios: a partially uptodate one is read in full.
    const folio = this.readableFolio(pos, PAGE_SIZE, Math.min(this.inode.size, pos + this.fsys.pageSize), true);
    if (!folio) throw new FsError(SIGBUS, `${this.name}: read error faulting page ${idx}`);
    return folio;
  }

  /**
   * mmapRead's entry: the checks, then pages past the last one fault with SIGBUS: touch the valid
   * ones first, like a memcpy would, and never size a buffer by an access that cannot complete.
   */
  private mmapStart(off: number, len: number): void {
    this.enter('mmapRead', off, len);
    validOffset(off, 'offset');
    validOffset(len, 'length');
    const lastPage = this.lastPage();
    if (len > 0 && Math.floor((off + len - 1) / PAGE_SIZE) >= lastPage) {
      for (let p = Math.floor(off / PAGE_SIZE); p < lastPage; p++) this.faultIn(p);
      this.faultIn(Math.max(lastPage, Math.floor(off / PAGE_SIZE)));
    }
  }

  /** Read through a MAP_SHARED mapping: whole pages, including bytes past EOF in the last page. */
  mmapRead(off: number, len: number): Uint8Array {
    this.mmapStart(off, len);
    const out = new Uint8Array(len);
    this.copyMapped(off, out);
    return out;
  }

  /** mmapRead of dst.length bytes into the caller's buffer: the same faults; returns dst.length. */
  mmapReadInto(off: number, dst: Uint8Array): number {
    this.mmapStart(off, dst.length);
    this.copyMapped(off, dst);
    return dst.length;
  }

  /** Copy out.length bytes at off through the mapping into out (every page faulted in first). */
  private copyMapped(off: number, out: Uint8Array): void {
    const len = out.length;
    let pos = off;
    while (pos < off + len) {
      const folio = this.faultIn(Math.floor(pos / PAGE_SIZE));
      const pageEnd = (Math.floor(pos / PAGE_SIZE) + 1) * PAGE_SIZE;
      const n = Math.min(off + len, pageEnd) - pos;
      const fo = folio.offsetIn(pos);
      out.set(folio.data.subarray(fo, fo + n), pos - off);
      pos += n;
    }
  }

  /** do_page_mkwrite() for a write fault on a write-protected page. */
  private mkwrite(folio: Folio, idx: number): Folio {
    for (let tries = 0; tries < 3; tries++) {
      const ret = iomapPageMkwrite(this.inode, folio, this.ops);
      if (ret === 0) {
        folio.pteWritable = true;
        folio.pteMappedEnd = Math.min(folio.end, roundUp(this.inode.size, PAGE_SIZE));
        folio.locked = false;
        return folio;
      }
      if (mkwriteErrorIsOom(ret)) throw new FsError(ENOMEM, `${this.name}: page_mkwrite out of memory`);
      if (!mkwriteErrorIsRetry(ret)) throw new FsError(SIGBUS, `${this.name}: page_mkwrite failed (${-ret}) at page ${idx}`);
      folio = this.faultIn(idx); // VM_FAULT_NOPAGE: the access is retried from the start
    }
    throw new FsError(SIGBUS, `${this.name}: page_mkwrite kept asking for a retry at page ${idx}`);
  }

  /**
   * Store through a MAP_SHARED mapping: fault each page in, page_mkwrite it if it is
   * write-protected, copy. With `msync` the range is then written back (msync(MS_SYNC)).
   * Stores past EOF inside the last page are allowed and never become part of the file.
   */
  mmapWrite(off: number, data: Uint8Array, optsArg?: { msync?: boolean }): void {
    const opts = validOpts(optsArg, 'mmap write options');
    this.enter('mmapWrite', off, (data as Uint8Array | undefined)?.length ?? -1);
    validOffset(off, 'offset');
    validData(data, 'data');
    let pos = off;
    const end = off + data.length;
    while (pos < end) {
      const idx = Math.floor(pos / PAGE_SIZE);
      let folio = this.faultIn(idx);
      // A page past the EOF page of the last page_mkwrite was never mapped (the kernel maps no page
      // past EOF): a store there faults and page_mkwrites again, now that EOF has moved.
      if (!folio.pteWritable || (idx + 1) * PAGE_SIZE > folio.pteMappedEnd) folio = this.mkwrite(folio, idx);
      const pageEnd = (idx + 1) * PAGE_SIZE;
      const n = Math.min(end, pageEnd) - pos;
      const fo = folio.offsetIn(pos);
      folio.data.set(data.subarray(pos - off, pos - off + n), fo);
      folio.pteDirty = true;
      this.inode.mapping.writablyMapped = true;
      pos += n;
    }
    if (opts.msync ?? true) this.fdatasync();
  }

  /* ------------------------------------------------------------------------------------ */
  /* Direct I/O                                                                           */
  /* ------------------------------------------------------------------------------------ */

  /** The dio ops the VFS glue hands iomap_dio_rw: ->end_io is the filesystem's. */
  private dioOps(): DioOps {
    const fs = this.fsys.fs;
    const inode = this.inode;
    return fs.dioEndIo ? { endIo: (iocb, size, error, flags) => fs.dioEndIo!(inode, iocb.pos, size, error, flags) } : {};
  }

  private kiocb(off: number, opts: { dsync?: boolean; sync?: boolean; complete?: (res: number) => void }): Kiocb {
    let flags = 0;
    if (opts.dsync || opts.sync) flags |= IOCB_DSYNC;
    if (opts.sync) flags |= IOCB_SYNC;
    const iocb: Kiocb = {
      pos: off,
      flags,
      fsync: () => this.writeAndWait() || (this.fsys.fs.commit(), 0),
    };
    if (this.personality.dioMappingAlignOnly) iocb.mappingAlignOnly = true;
    if (opts.complete) iocb.complete = (_i, res) => opts.complete!(res);
    return iocb;
  }

  /** xfs_file_dio_write (and the generic personality for reads too): offset and length logical-sector aligned, checked up front. */
  private checkDioAlignment(off: number, len: number): void {
    const lbs = this.fsys.dev.sectorSize;
    if (off % lbs || len % lbs) throw new FsError(EINVAL, `${this.name}: O_DIRECT offset ${off} length ${len} not ${lbs}-byte aligned`);
  }

  /**
   * xfs_prepare_shift frees post-EOF blocks only when xfs_can_free_eofblocks finds some (and, with
   * `honourPreallocFlag`, not for a file with the persistent-preallocation flag and no delalloc).
   */
  private canFreeEofBlocks(honourPreallocFlag = true): boolean {
    return this.fs.canFreeEofBlocks?.(this.inode, honourPreallocFlag) ?? true;
  }

  /** xfs_free_eofblocks past `size` (the filesystem's own when it has one, else a truncate of the blocks). */
  private freeEofBlocks(size: number): void {
    if (this.fs.freeEofBlocks) this.fs.freeEofBlocks(this.inode, size);
    else this.fs.truncateBlocks(this.inode, size);
  }

  /** O_DIRECT pread: logical-sector aligned offset and length (else EINVAL). */
  directRead(off: number, len: number): Uint8Array {
    if (!this.directReadStart(off, len)) return new Uint8Array(0);
    const buf = new Uint8Array(len);
    return buf.subarray(0, this.directReadIov(off, buf));
  }

  /** directRead of dst.length bytes into the caller's buffer: the bytes read, the same errors. */
  directReadInto(off: number, dst: Uint8Array): number {
    return this.directReadStart(off, dst.length) ? this.directReadIov(off, dst) : 0;
  }

  /** directRead's entry checks: false for a read that returns 0 at once. */
  private directReadStart(off: number, len: number): boolean {
    this.enter('directRead', off, len);
    validOffset(off, 'offset');
    validOffset(len, 'length');
    // iomap_dio_rw answers a read of nothing, or at/after EOF, with 0 before any alignment check.
    if (len === 0 || off >= this.inode.size) return false;
    if (this.personality.dioReadAlignUpFront) this.checkDioAlignment(off, len);
    return true;
  }

  /** The O_DIRECT read of buf.length bytes at off into buf: bytes read. */
  private directReadIov(off: number, buf: Uint8Array): number {
    const iov = new IovIter(buf);
    // Like xfs_file_dio_read(): no dio ops for reads (->end_io is a write-completion hook).
    const ret = iomapDioRw(this.kiocb(off, {}), dioIter(iov, 'read'), this.inode, this.ops, null);
    check(ret, `${this.name}: O_DIRECT read at ${off}`);
    return ret;
  }

  /**
   * O_DIRECT pwrite, xfs-style: zero the gap past EOF first; unaligned (sub-block) writes are
   * serialised (FORCE_WAIT) after an OVERWRITE_ONLY attempt; -ENOTBLK or a short result falls
   * back to a buffered write of the rest, as xfs_file_write_iter does.
   */
  directWrite(off: number, data: Uint8Array, opts: { dsync?: boolean; sync?: boolean } = {}): number {
    this.enter('directWrite', off, (data as Uint8Array | undefined)?.length ?? -1);
    validOffset(off, 'offset');
    validData(data, 'data');
    const upFront = this.personality.dioWriteAlignUpFront;
    if (upFront) this.checkDioAlignment(off, data.length);
    if (data.length === 0) return 0;
    this.notSwapfile('O_DIRECT write');
    const len = this.writeLimit(off, data.length);
    const inode = this.inode;
    const bs = inode.blockSize;
    const unaligned = off % bs !== 0 || len % bs !== 0;
    const src = data.subarray(0, len);
    if (unaligned && this.personality.dioFallbackOnReflinkedInode && this.fs.isReflinked?.(inode)) {
      // xfs_file_dio_write_unaligned(): -ENOTBLK for any reflinked inode, before
      // xfs_file_write_checks zeroes past EOF, and xfs_file_write_iter then does a plain buffered
      // write, which zeroes past EOF once: the data stays dirty in the page cache. (Zeroing here
      // too dirtied the EOF block, so the buffered write's zeroing found its range dirty and
      // flushed it: diff, xfs 4k seed 416, op 199,446, 8 ops.)
      const n = this.pwrite(off, src);
      if (opts.dsync || opts.sync) this.fsync();
      return n;
    }
    if (off > inode.size) this.zeroPastEof(off, 'zeroing past EOF');
    const extending = this.extendingDio(off, len);
    let ret: number;
    if (unaligned) {
      ret = iomapDioRw(this.kiocb(off, opts), dioIter(new IovIter(src), 'write'), inode, this.ops, this.dioOps(),
        IOMAP_DIO_OVERWRITE_ONLY | IOMAP_DIO_FORCE_WAIT);
      if (ret === -EAGAIN) {
        this.fsys.queue.waitInode(inode); // inode_dio_wait() under the exclusive lock
        ret = iomapDioRw(this.kiocb(off, opts), dioIter(new IovIter(src), 'write'), inode, this.ops, this.dioOps(), IOMAP_DIO_FORCE_WAIT);
      }
    } else {
      ret = iomapDioRw(this.kiocb(off, opts), dioIter(new IovIter(src), 'write'), inode, this.ops, this.dioOps());
    }
    if (ret === -ENOTBLK) ret = 0;
    if (ret < 0) {
      if (!upFront && extending) this.truncateFailedWrite();
      check(ret, `${this.name}: O_DIRECT write at ${off}`);
    }
    if (ret < len) {
      // Buffered fallback for what direct I/O did not do, then write it back and drop it.
      const n = this.pwrite(off + ret, src.subarray(ret));
      check(filemapWriteAndWaitRange(inode.mapping, off + ret, off + ret + n - 1), `${this.name}: fallback writeback`);
      inode.mapping.invalidateRange2(Math.floor((off + ret) / PAGE_SIZE), Math.floor((off + ret + n - 1) / PAGE_SIZE));
      if (opts.dsync || opts.sync) this.fsync();
      return ret + n;
    }
    return ret;
  }

  /**
   * ext4_extending_io: the write ends past i_size, or past the on-disk size (data not yet written
   * back counts: a failed one then truncates to i_size, freeing blocks past EOF; diff, ext4 4k
   * seed 13, op 154,062, 4 ops).
   */
  private extendingDio(off: number, len: number): boolean {
    const inode = this.inode;
    return off + len > inode.size || off + len > (this.fs.diskSize?.(inode) ?? inode.size);
  }

  /**
   * ext4_inode_extension_cleanup → ext4_truncate_failed_write, after an extending O_DIRECT write
   * failed: without the up-front check a misaligned write fails in a later mapping, when the
   * earlier mappings' bios were already sent, so the EOF block may now hold the write's bytes past
   * EOF, and blocks past EOF may have been allocated. truncate_inode_pages(i_size), then
   * ext4_truncate: zero the EOF block from i_size (ext4_block_truncate_page) and free the blocks
   * past EOF. What Linux 6.18 ext4 showed (docs/model.md, dioWriteAlignUpFront): a written EOF
   * block had its zeroed tail on disk right after the call, its page cached afterwards only if it
   * was cached before; a delalloc one stayed delalloc (zeroed in the cache); an unwritten one
   * stayed unwritten and uncached.
   */
  private truncateFailedWrite(): void {
    const inode = this.inode;
    const size = inode.size;
    const bs = inode.blockSize;
    inode.mapping.truncatePagecache(size);
    if (size % bs !== 0) {
      const wasCached = inode.mapping.folioAt(size) !== undefined;
      check(iomapTruncatePage(inode, size, this.ops, undefined, this.personality.zeroDirtyUnwrittenInCache, this.wops, this.personality.zeroPartialBlockInCache), `${this.name}: truncate_page after a failed write`);
      if (this.eofBlockWritten(size)) {
        this.writeBackEofBlock(size);
        const idx = Math.floor(size / PAGE_SIZE);
        if (!wasCached) inode.mapping.invalidateRange2(idx, idx);
      }
    }
    this.fs.truncateBlocks(inode, size);
  }

  /** Whether the block holding byte `pos` is allocated and written (neither a hole, delalloc nor unwritten). */
  private eofBlockWritten(pos: number): boolean {
    const bs = this.inode.blockSize;
    const fi = fiemapInfo(0, 4);
    if (iomapFiemap(this.inode, fi, pos - (pos % bs), bs, this.ops) < 0) return false;
    const e = fi.extents[0];
    return e !== undefined && (e.flags & (FIEMAP_EXTENT_DELALLOC | FIEMAP_EXTENT_UNWRITTEN)) === 0;
  }

  /**
   * An asynchronous O_DIRECT write: returns the submission result (-EIOCBQUEUED while bios are
   * in flight); `onComplete` gets the final result when the queue completes the last bio.
   */
  directWriteAsync(off: number, data: Uint8Array, onComplete: (res: number) => void): number {
    this.enter('directWriteAsync', off, (data as Uint8Array | undefined)?.length ?? -1);
    validOffset(off, 'offset');
    validData(data, 'data');
    if (this.personality.dioWriteAlignUpFront) this.checkDioAlignment(off, data.length);
    this.notSwapfile('O_DIRECT write');
    const len = this.writeLimit(off, data.length);
    if (off > this.inode.size) this.zeroPastEof(off, 'zeroing past EOF');
    const src = data.subarray(0, len);
    // As for the synchronous path: -ENOTBLK (e.g. an unaligned COW write) or a short result means
    // the caller falls back to a buffered write of the rest — here when the dio completes.
    const extending = !this.personality.dioWriteAlignUpFront && this.extendingDio(off, len);
    const finish = (res: number): void => {
      if (res === -ENOTBLK) res = 0;
      // ext4 runs an extending write synchronously and cleans up after a failed one.
      if (res < 0 && extending && !this.closed && this.fsys.mounted) this.truncateFailedWrite();
      if (res >= 0 && res < len && !this.closed && this.fsys.mounted) {
        const n = this.pwrite(off + res, src.subarray(res));
        const err = filemapWriteAndWaitRange(this.inode.mapping, off + res, off + res + n - 1);
        this.inode.mapping.invalidateRange2(Math.floor((off + res) / PAGE_SIZE), Math.floor((off + res + n - 1) / PAGE_SIZE));
        res = err < 0 ? err : res + n;
      }
      onComplete(res);
    };
    const ret = iomapDioRw(this.kiocb(off, { complete: finish }), dioIter(new IovIter(src), 'write'), this.inode, this.ops, this.dioOps());
    if (ret !== -EIOCBQUEUED) finish(ret);
    return ret;
  }

  /* ------------------------------------------------------------------------------------ */
  /* Newer I/O: RWF_ATOMIC, RWF_DONTCACHE, exchange range                                 */
  /* ------------------------------------------------------------------------------------ */

  /**
   * statx(STATX_WRITE_ATOMIC): the file's atomic write unit range in bytes (max 0: no atomic
   * writes, the kernel's missing FMODE_CAN_ATOMIC_WRITE).
   */
  atomicWriteUnits(): { min: number; max: number } {
    this.live();
    const fs = this.fsys.fs;
    const u = fs.capabilities.directIO ? fs.atomicWriteUnits?.(this.inode) : undefined;
    return u === undefined || u.max === 0 ? { min: 0, max: 0 } : { min: u.min, max: u.max };
  }

  /**
   * pwritev2(RWF_ATOMIC) on an O_DIRECT file, xfs-style (xfs_file_dio_write_atomic): the length a
   * power of two inside the atomic write unit range, the offset a multiple of it (else EINVAL);
   * the hardware path first (one REQ_ATOMIC bio) when the write fits it, and the copy-on-write
   * ops when the filesystem answers -ENOPROTOOPT. Never short, never a buffered fallback.
   */
  atomicWrite(off: number, data: Uint8Array): number {
    this.enter('atomicWrite', off, (data as Uint8Array | undefined)?.length ?? -1);
    validOffset(off, 'offset');
    validData(data, 'data');
    const fs = this.fsys.fs;
    const units = fs.capabilities.directIO ? fs.atomicWriteUnits?.(this.inode) : undefined;
    if (units === undefined || units.max === 0) throw new FsError(EOPNOTSUPP, `${this.name}: the file takes no atomic writes`);
    const len = data.length;
    if (len === 0) return 0;
    if (len < units.min || len > units.max) throw new FsError(EINVAL, `${this.name}: atomic write of ${len} bytes outside the unit range [${units.min}, ${units.max}]`);
    if (!Number.isInteger(Math.log2(len))) throw new FsError(EINVAL, `${this.name}: atomic write length ${len} is not a power of two`);
    if (off % len !== 0) throw new FsError(EINVAL, `${this.name}: atomic write at ${off} not aligned to its length ${len}`);
    this.checkDioAlignment(off, len);
    this.notSwapfile('O_DIRECT write');
    if (this.writeLimit(off, len) !== len) throw new FsError(EINVAL, `${this.name}: atomic write would be shortened at the maximum file size`);
    const inode = this.inode;
    if (off > inode.size) this.zeroPastEof(off, 'zeroing past EOF');
    // Block-mapped first: ->iomap_begin may refuse the hardware path, and a refusal changes nothing.
    this.unstuffed();
    const issue = (ops: IomapOps): number => {
      const iocb = this.kiocb(off, {});
      iocb.flags |= IOCB_ATOMIC;
      return iomapDioRw(iocb, dioIter(new IovIter(data), 'write'), inode, ops, this.dioOps());
    };
    let ret = len <= units.hwMax ? issue(this.ops) : -ENOPROTOOPT;
    if (ret === -ENOPROTOOPT && fs.atomicCowOps !== undefined) ret = issue(fs.atomicCowOps);
    if (ret === -ENOPROTOOPT) ret = -EINVAL; // neither path can do it: refused
    return check(ret, `${this.name}: atomic write at ${off}`);
  }

  /** The folios over page indices [first, last] now (what an uncached op compares with afterwards). */
  private foliosOver(first: number, last: number): Set<Folio> {
    return new Set(last < first ? [] : this.inode.mapping.foliosIn(first, last));
  }

  /**
   * preadv2(RWF_DONTCACHE): a read whose folios are created dropbehind, and dropped as the read
   * ends (filemap_end_dropbehind_read) when clean. Folios that were cached before are someone
   * else's: they stay.
   */
  readDontcache(off: number, len: number): Uint8Array {
    const before = this.dontcacheStart(off, len);
    const out = this.pread(off, len);
    this.dontcacheEnd(off, len, before);
    return out;
  }

  /** readDontcache of dst.length bytes into the caller's buffer: the bytes read. */
  readDontcacheInto(off: number, dst: Uint8Array): number {
    const before = this.dontcacheStart(off, dst.length);
    const n = this.preadInto(off, dst);
    this.dontcacheEnd(off, dst.length, before);
    return n;
  }

  /** The folios over [off, off+len) cached before an RWF_DONTCACHE read (they are someone else's). */
  private dontcacheStart(off: number, len: number): Set<Folio> {
    this.enter('readDontcache', off, len);
    validOffset(off, 'offset');
    validOffset(len, 'length');
    return this.foliosOver(Math.floor(off / PAGE_SIZE), this.dontcacheLastPage(off, len));
  }

  /** The last page an RWF_DONTCACHE read of [off, off+len) covers (below the first: none). */
  private dontcacheLastPage(off: number, len: number): number {
    return Math.floor((Math.min(off + len, this.inode.size) - 1) / PAGE_SIZE);
  }

  /** After the read: drop the folios it created (dropbehind), keep those cached before. */
  private dontcacheEnd(off: number, len: number, before: Set<Folio>): void {
    const mapping = this.inode.mapping;
    for (const f of this.foliosOver(Math.floor(off / PAGE_SIZE), this.dontcacheLastPage(off, len))) {
      if (modelBugs.dontcacheDropsDirty && !f.writeback && !f.locked) {
        // The bug: every folio the read touched goes, dirty data included.
        f.dirty = false;
        mapping.removeFolio(f, 'invalidate');
        continue;
      }
      if (before.has(f)) continue;
      f.dropbehind = true;
      mapping.endDropbehind(f);
    }
  }

  /**
   * pwritev2(RWF_DONTCACHE): a buffered write (IOMAP_DONTCACHE) whose new folios are dropbehind,
   * then writeback of the range started without waiting (generic_write_sync's kick); each such
   * folio leaves the cache when its writeback completes clean (folio_end_dropbehind).
   */
  writeDontcache(off: number, data: Uint8Array): number {
    // IOMAP_DONTCACHE: iomap_get_folio creates the folios it needs dropbehind.
    const ret = this.bufferedWrite('writeDontcache', off, data, Infinity, true);
    if (ret > 0) filemapFdatawriteRange(this.inode.mapping, off, off + ret - 1, 'none');
    return ret;
  }

  /**
   * XFS_IOC_EXCHANGE_RANGE with both ranges in this file (flags 0): block aligned offsets, a block
   * aligned length, both ranges inside EOF and apart (else EINVAL). The page cache over both is
   * written back and dropped, rounded out to pages (xfs_flush_unmap_range), then the filesystem
   * swaps the block mappings; the exchange is one metadata change.
   */
  exchangeRange(off1: number, len: number, off2: number): void {
    this.enter('exchangeRange', off1, len, off2);
    for (const [v, n] of [[off1, 'first offset'], [len, 'length'], [off2, 'second offset']] as const) {
      if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw new FsError(EINVAL, `${this.name}: exchange ${n} ${v}`);
    }
    const fs = this.fsys.fs;
    if (fs.exchangeBlocks === undefined) throw new FsError(EOPNOTSUPP, `${this.name}: the filesystem cannot exchange file ranges`);
    this.notSwapfile('exchange range');
    if (len === 0) return;
    const bs = this.inode.blockSize;
    const size = this.inode.size;
    if (off1 % bs || off2 % bs || len % bs) throw new FsError(EINVAL, `${this.name}: exchange range not block aligned`);
    if (off1 + len > size || off2 + len > size) throw new FsError(EINVAL, `${this.name}: exchange range beyond EOF`);
    if (off1 < off2 + len && off2 < off1 + len) throw new FsError(EINVAL, `${this.name}: exchange ranges overlap`);
    this.unstuffed();
    for (const o of [off1, off2]) {
      const start = Math.floor(o / PAGE_SIZE) * PAGE_SIZE;
      const end = roundUp(o + len, PAGE_SIZE);
      this.flushRange(start, end - start);
      // The bug zoo's exchange-keeps-cache forgets to drop the (now clean) cache over the ranges.
      if (!modelBugs.exchangeKeepsCache) this.dropFlushedRange(start, end - 1);
    }
    fs.exchangeBlocks(this.inode, off1 / bs, off2 / bs, len / bs);
  }

  /** mincore(): one byte per page of [off, off+len), 1 when the page is in the page cache. */
  cachedPages(off: number, len: number): Uint8Array {
    this.live();
    const first = Math.floor(off / PAGE_SIZE);
    const n = Math.max(0, Math.ceil((off + len) / PAGE_SIZE) - first);
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) out[i] = this.inode.mapping.lookup(first + i) !== undefined ? 1 : 0;
    return out;
  }

  /* ------------------------------------------------------------------------------------ */
  /* Reporting: seek, FIEMAP, FIBMAP, swapon                                              */
  /* ------------------------------------------------------------------------------------ */

  /** lseek(SEEK_DATA): FsError(ENXIO) when no data at or after off (also for off < 0). */
  seekData(off: number): number {
    this.enter('seekData', off);
    if (typeof off !== 'number' || !Number.isSafeInteger(off)) throw new FsError(EINVAL, `${this.name}: seek offset ${off}`);
    if (off < 0) throw new FsError(ENXIO, `${this.name}: SEEK_DATA at negative offset ${off}`);
    return check(iomapSeekData(this.inode, off, this.ops), `${this.name}: SEEK_DATA from ${off}`);
  }

  seekHole(off: number): number {
    this.enter('seekHole', off);
    if (typeof off !== 'number' || !Number.isSafeInteger(off)) throw new FsError(EINVAL, `${this.name}: seek offset ${off}`);
    if (off < 0) throw new FsError(ENXIO, `${this.name}: SEEK_HOLE at negative offset ${off}`);
    return check(iomapSeekHole(this.inode, off, this.ops), `${this.name}: SEEK_HOLE from ${off}`);
  }

  /** FS_IOC_FIEMAP over [off, off+len): the extents (at most maxExtents; 0 = count only → []). */
  fiemap(off: number, len: number, flags = 0, maxExtents = 1024): FiemapExtent[] {
    this.enter('fiemap', off, len, flags);
    validOffset(off, 'offset');
    validOffset(len, 'length');
    const fi = fiemapInfo(flags, maxExtents);
    const ret = iomapFiemap(this.inode, fi, off, len, this.ops);
    if (ret < 0) throw new FsError(-ret, `${this.name}: FIEMAP (flags 0x${fi.flags.toString(16)})`);
    return fi.extents;
  }

  /** FIBMAP: the device block of file block `bno`, 0 for none. */
  bmap(bno: number): number {
    this.enter('bmap', bno);
    validOffset(bno, 'block number');
    // xfs_vm_bmap(): a reflinked file has no stable block numbers to hand out.
    if (this.personality.bmapZeroOnReflink && this.fs.hasSharedBlocks?.(this.inode)) return 0;
    return iomapBmap(this.inode, bno, this.ops);
  }

  /**
   * swapon(): activate the file as swap on its device; returns the swap info and span. The file
   * is then S_SWAPFILE until swapOff(): a second swapon is EBUSY (claim_swapfile).
   */
  swapActivate(maxPages = Number.MAX_SAFE_INTEGER): { sis: SwapInfo; extents: number; span: number } {
    this.enter('swapActivate');
    if (this.inode.swapfile) throw new FsError(EBUSY, `${this.name}: swapon: already an active swap file`);
    const sis = newSwapInfo(this.fsys.dev, maxPages);
    const span = { v: 0 };
    const ret = iomapSwapfileActivate(sis, this.inode, span, this.ops, () => {
      const err = this.writeAndWait();
      if (!err) this.fsys.fs.commit();
      return err;
    });
    check(ret, `${this.name}: swapon`);
    this.inode.swapfile = true;
    return { sis, extents: ret, span: span.v };
  }

  /**
   * swapoff(): EINVAL unless the file is an active swap file (the swap_info lookup fails); then
   * its swap extents are released and S_SWAPFILE cleared, so it is writable again and its blocks
   * may move (punch, collapse, reflink). Swapped-out pages live in the swap area's own slots, which
   * the model does not have, so there is nothing to read back in.
   */
  swapOff(): void {
    this.enter('swapOff');
    if (!this.inode.swapfile) throw new FsError(EINVAL, `${this.name}: swapoff: not an active swap file`);
    this.inode.swapfile = false;
  }

  /* ------------------------------------------------------------------------------------ */
  /* Interleaving steps and introspection                                                 */
  /* ------------------------------------------------------------------------------------ */

  /** Background writeback (WB_SYNC_NONE) of the whole file, without waiting for completion. */
  writebackNow(): number {
    this.live();
    return filemapFdatawriteRange(this.inode.mapping, 0, Number.MAX_SAFE_INTEGER, 'none');
  }

  /** Reclaim the clean folio containing `pos` (leaves a shadow entry). */
  evict(pos: number): boolean {
    this.live();
    const f = this.inode.mapping.folioAt(pos);
    return f ? this.inode.mapping.reclaimFolio(f) : false;
  }

  /** The state of the block holding `pos`: extent and cache, for failure reports. */
  describe(pos: number): string {
    const bs = this.inode.blockSize;
    const blk = Math.floor(pos / bs);
    const map = this.fsys.fs.describeBlock(this.inode, pos);
    const f = this.inode.mapping.folioAt(pos);
    let cache = 'not cached';
    if (f) {
      const b = Math.floor((pos - f.pos) / bs);
      cache = `folio ${f.pos}+${f.size} ${f.uptodate ? 'uptodate' : '!uptodate'} ${f.dirty ? 'dirty' : 'clean'}` +
        `${f.writeback ? ' writeback' : ''}; block ${b} ${blockIsDirty(f, b) ? 'dirty' : 'clean'}`;
    }
    return `block ${blk}: ${map}; ${cache}; i_size ${this.inode.size}`;
  }
}

export { roundUp };
