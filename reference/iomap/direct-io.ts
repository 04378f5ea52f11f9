/**
 * fs/iomap/direct-io.c (6.12 semantics, era A): iomap_dio_rw / __iomap_dio_rw /
 * iomap_dio_complete, contract §5.7 with its Errata, plus the mm/filemap.c helpers DIO is driven
 * by (kiocb_write_and_wait, kiocb_invalidate_pages, kiocb_invalidate_post_direct_write) and
 * generic_write_sync.
 *
 * Bios are real objects (DioBio). Submission queues them on the inode's BioQueue (or hands them
 * to dops.submitIo); the device transfer happens when a step completes the queue entry, in any
 * order the caller chooses. A synchronous dio (or FORCE_WAIT, -ENOTBLK, PARTIAL+EFAULT) completes
 * its own bios oldest first before returning; an asynchronous one returns -EIOCBQUEUED and the
 * final bio completion runs iomap_dio_complete and the kiocb's completion.
 *
 * Model decisions (where the kernel has no single-threaded equivalent):
 *   - write bios snapshot the user data at submission (the pinned pages); read bios copy the
 *     device data into the user buffer when they complete;
 *   - pinning user pages is page granular: the page holding the IovIter's first faulting byte and
 *     everything after it cannot be pinned (iov_iter_extract_pages), and a bio is trimmed to a
 *     multiple of the logical block size like bio_iov_iter_get_pages;
 *   - device properties the BlockDevice interface does not carry (FUA support, volatile write
 *     cache, DMA alignment) come from a small per-device registry (setBdevLimits);
 *   - completion context (inline, caller, workqueue) is not modelled: the final completion runs
 *     in the step that completes the last bio. IOCB_HIPRI polling is not modelled.
 */
import { modelBugs } from '../bugs';
import {
  Inode, Iomap, IomapOps, IOMAP_DELALLOC, IOMAP_DIRECT, IOMAP_F_DIRTY, IOMAP_F_NEW, IOMAP_F_SHARED, IOMAP_HOLE,
  IOMAP_INLINE, IOMAP_MAPPED, IOMAP_NOWAIT, IOMAP_OVERWRITE_ONLY, IOMAP_UNWRITTEN, IOMAP_WRITE, PAGE_SIZE, IOMAP_ATOMIC, IOMAP_F_ATOMIC_BIO,
  SECTOR_SIZE, iomapSector,
} from './types';
import { IomapIter, iomapIter, iomapLength, iomapIterBodyDone } from './iter';
import type { PendingCompletion } from './bio';
import { IovIter } from './uio';
import { filemapWriteAndWaitRange } from './writeback';
import type { BlockDevice } from '../device/types';
import { EAGAIN, EBUSY, EFAULT, EINVAL, EIO, EIOCBQUEUED, ENOTBLK, isFsError } from '../errno';

/* ------------------------------------------------------------------------------------------ */
/* Constants                                                                                  */
/* ------------------------------------------------------------------------------------------ */

/** Flags handed to ->end_io (include/linux/iomap.h). */
export const IOMAP_DIO_UNWRITTEN = 1 << 0;
export const IOMAP_DIO_COW = 1 << 1;

/** dio_flags of iomap_dio_rw(). */
export const IOMAP_DIO_FORCE_WAIT = 1 << 0;
export const IOMAP_DIO_OVERWRITE_ONLY = 1 << 1;
export const IOMAP_DIO_PARTIAL = 1 << 2;

/** Private dio flags (direct-io.c); ->end_io sees them too and must ignore them. */
export const IOMAP_DIO_WRITE_THROUGH = 1 << 28;
export const IOMAP_DIO_NEED_SYNC = 1 << 29;
export const IOMAP_DIO_WRITE = 1 << 30;

/** kiocb->ki_flags (include/linux/fs.h; the RWF_* values for the first five). */
export const IOCB_HIPRI = 1 << 0;
export const IOCB_DSYNC = 1 << 1;
export const IOCB_SYNC = 1 << 2;
export const IOCB_NOWAIT = 1 << 3;
export const IOCB_APPEND = 1 << 4;
/** RWF_ATOMIC (the kernel's IOCB_ATOMIC has the RWF bit's value, 0x40): iomap passes IOMAP_ATOMIC on. */
export const IOCB_ATOMIC = 1 << 6;
export const IOCB_DIRECT = 1 << 17;
export const IOCB_WRITE = 1 << 18;

/** BIO_MAX_VECS: pages one bio can hold. */
export const BIO_MAX_VECS = 256;
/** IOMAP_ZERO_PAGE_SIZE (6.12 large-block-size support): the largest sub-block zeroing bio. */
export const IOMAP_ZERO_PAGE_SIZE = 65536;

/* ------------------------------------------------------------------------------------------ */
/* Shapes: kiocb, iov direction, ops                                                          */
/* ------------------------------------------------------------------------------------------ */

/** struct kiocb, the parts direct I/O uses. No `complete` = a synchronous kiocb (is_sync_kiocb). */
export interface Kiocb {
  /** ki_pos. Advanced by the completed byte count (not by done_before). */
  pos: number;
  /** ki_flags: IOCB_*. */
  flags: number;
  /** ki_complete: the asynchronous completion, called once with the final result. */
  complete?: (iocb: Kiocb, res: number) => void;
  /** vfs_fsync_range(file, start, endIncl, datasync) for generic_write_sync; default succeeds. */
  fsync?: (start: number, endIncl: number, datasync: boolean) => number;
  /**
   * 6.18: iomap_dio_bio_iter checks only the mapping's pos and length against the logical block
   * size; the user iter's remaining count is no longer checked there (bdev_iter_is_aligned was
   * dropped; bio_iov_iter_get_pages trims each bio to the logical block size). Unset: the 6.12
   * check, which also fails a mapping whose own range is aligned when the total count is not.
   */
  mappingAlignOnly?: boolean;
}

/** The iov_iter of a direct I/O: the user buffer, its direction and its user address. */
export interface DioIovIter {
  readonly iov: IovIter;
  readonly rw: 'read' | 'write';
  /** User virtual address of iov.buf[0] (alignment checks, page-granular pinning). */
  readonly addr: number;
}

export function dioIter(iov: IovIter, rw: 'read' | 'write', addr = 0): DioIovIter {
  return { iov, rw, addr };
}

/** struct iomap_dio_ops. */
export interface DioOps {
  /**
   * Submit `bio` (file offset `fileOffset`) instead of submit_bio(). Must either pass it to
   * submitDioBio() or set bio.status and call iomapDioBioEndIo() exactly once (rule 37).
   */
  submitIo?(iter: IomapIter, bio: DioBio, fileOffset: number): void;
  /** Runs once per dio before post-write invalidation; its return value replaces `error` (rule 38). */
  endIo?(iocb: Kiocb, size: number, error: number, flags: number): number;
}

/* ------------------------------------------------------------------------------------------ */
/* Device queue limits the BlockDevice interface does not carry                               */
/* ------------------------------------------------------------------------------------------ */

export interface BdevLimits {
  /** bdev_fua(): the device honours REQ_FUA. */
  fua: boolean;
  /** bdev_write_cache(): the device has a volatile write cache. */
  writeCache: boolean;
  /** bdev_dma_alignment() + 1: user buffer address alignment. */
  dmaAlignment: number;
  /**
   * The largest REQ_ATOMIC write the device takes in bytes (queue atomic_write_unit_max; 0: none).
   * The model's devices all honour `atomic` writes (CrashDevice never tears them): 16 KiB, as a
   * common NVMe AWUPF.
   */
  atomicWriteMax: number;
}

const DEFAULT_LIMITS: BdevLimits = { fua: true, writeCache: true, dmaAlignment: SECTOR_SIZE, atomicWriteMax: 16384 };
const limitsRegistry = new WeakMap<BlockDevice, BdevLimits>();

/** Set queue limits for a device (defaults: FUA capable, volatile cache, 512-byte DMA alignment). */
export function setBdevLimits(bdev: BlockDevice, limits: Partial<BdevLimits>): void {
  limitsRegistry.set(bdev, { ...bdevLimits(bdev), ...limits });
}

export function bdevLimits(bdev: BlockDevice): BdevLimits {
  return limitsRegistry.get(bdev) ?? DEFAULT_LIMITS;
}

/* ------------------------------------------------------------------------------------------ */
/* The dio and its bios                                                                       */
/* ------------------------------------------------------------------------------------------ */

let dioSerial = 0;

/** struct iomap_dio. */
export class IomapDio {
  readonly id = ++dioSerial;
  readonly iocb: Kiocb;
  readonly inode: Inode;
  readonly dops: DioOps | null;
  /** i_size snapshot taken at setup. */
  readonly iSize: number;
  /** Bytes submitted (or copied for holes/inline), dio->size. */
  size = 0;
  /** dio->ref: one for submission plus one per bio in flight. */
  ref = 1;
  flags = 0;
  /** First error (0 or -errno); later errors are dropped. */
  error = 0;
  readonly doneBefore: number;
  waitForCompletion = false;
  readonly iter: DioIovIter;
  /** Every bio this dio submitted, in submission order. */
  readonly bios: DioBio[] = [];
  /** Set once iomap_dio_complete ran; holds its result. */
  result: number | null = null;

  constructor(iocb: Kiocb, inode: Inode, iter: DioIovIter, dops: DioOps | null, doneBefore: number) {
    this.iocb = iocb;
    this.inode = inode;
    this.iter = iter;
    this.dops = dops;
    this.iSize = inode.size;
    this.doneBefore = doneBefore;
  }
}

let bioSerial = 0;

/** A direct I/O bio: one contiguous device range. */
export class DioBio {
  readonly id = ++bioSerial;
  readonly dio: IomapDio;
  readonly op: 'read' | 'write';
  readonly bdev: BlockDevice;
  /** bi_sector (512-byte units). */
  readonly sector: number;
  /** File offset of the first byte. */
  readonly pos: number;
  readonly len: number;
  readonly fua: boolean;
  /** REQ_ATOMIC: the device writes all of it or none of it, even across a power cut. */
  readonly atomic: boolean;
  /** A sub-block zeroing bio (iomap_dio_zero). */
  readonly zero: boolean;
  /** Write payload (snapshot of the pinned user pages / zeroes); null for reads. */
  readonly data: Uint8Array | null;
  /** Reads: index in the user buffer where the data lands. */
  readonly userOff: number;
  /** bi_status: 0 or a negative errno. */
  status = 0;
  ended = false;

  constructor(dio: IomapDio, o: {
    op: 'read' | 'write'; bdev: BlockDevice; sector: number; pos: number; len: number; fua: boolean; zero: boolean;
    data: Uint8Array | null; userOff: number; atomic?: boolean;
  }) {
    this.dio = dio;
    this.op = o.op;
    this.bdev = o.bdev;
    this.sector = o.sector;
    this.pos = o.pos;
    this.len = o.len;
    this.fua = o.fua;
    this.atomic = o.atomic === true;
    this.zero = o.zero;
    this.data = o.data;
    this.userOff = o.userOff;
  }

  get label(): string {
    const kind = this.zero ? 'zero' : this.op;
    return `dio#${this.dio.id} ${kind} bio#${this.id} file [${this.pos}, +${this.len}) sector ${this.sector}${this.fua ? ' FUA' : ''}${this.atomic ? ' ATOMIC' : ''}`;
  }
}

/** The device transfer of a bio; returns 0 or -EIO. */
function bioTransfer(bio: DioBio): number {
  const off = bio.sector * SECTOR_SIZE;
  try {
    if (bio.op === 'write') {
      const opts = bio.fua || bio.atomic ? { ...(bio.fua ? { fua: true } : {}), ...(bio.atomic ? { atomic: true } : {}) } : undefined;
      bio.bdev.write(off, bio.data!, opts);
    } else {
      const tmp = new Uint8Array(bio.len);
      bio.bdev.read(off, tmp);
      bio.dio.iter.iov.buf.set(tmp, bio.userOff);
    }
    return 0;
  } catch (e) {
    if (isFsError(e)) return -EIO;
    throw e;
  }
}

/** The completion queue entries of dio bios, so waiters can find them. */
const pendingOf = new WeakMap<DioBio, PendingCompletion>();

/** submit_bio(): queue the bio; the transfer and iomap_dio_bio_end_io run when the step completes it. */
export function submitDioBio(bio: DioBio): void {
  const inode = bio.dio.inode;
  const entry: PendingCompletion = {
    // Made when read (reports): the bio's fields are fixed at creation.
    get label() {
      return bio.label;
    },
    inode,
    folios: [],
    complete: () => {
      pendingOf.delete(bio);
      if (!bio.status) bio.status = bioTransfer(bio);
      iomapDioBioEndIo(bio);
    },
  };
  pendingOf.set(bio, entry);
  inode.mapping.queue.submit(entry);
}

/** iomap_dio_set_error(): first error wins. */
function dioSetError(dio: IomapDio, err: number): void {
  if (!dio.error) dio.error = err;
}

/** iomap_dio_bio_end_io(). */
export function iomapDioBioEndIo(bio: DioBio): void {
  const dio = bio.dio;
  if (bio.ended) {
    dio.inode.mapping.warnings.push(`${bio.label} ended twice`);
    return;
  }
  bio.ended = true;
  if (bio.status) dioSetError(dio, bio.status);
  if (--dio.ref === 0) dioDone(dio);
}

/** iomap_dio_done(): the last reference of an I/O completion. */
function dioDone(dio: IomapDio): void {
  // A synchronous waiter completes the dio itself after it wakes up.
  if (dio.waitForCompletion) return;
  const res = iomapDioComplete(dio);
  dio.iocb.complete?.(dio.iocb, res);
}

/** iomap_dio_submit_bio(). */
function dioSubmitBio(it: IomapIter, dio: IomapDio, bio: DioBio): void {
  dio.ref++;
  dio.bios.push(bio);
  if (dio.dops?.submitIo) dio.dops.submitIo(it, bio, bio.pos);
  else submitDioBio(bio);
}

/* ------------------------------------------------------------------------------------------ */
/* Completion                                                                                 */
/* ------------------------------------------------------------------------------------------ */

/** generic_write_sync(). */
function genericWriteSync(iocb: Kiocb, count: number): number {
  if (iocb.flags & IOCB_DSYNC) {
    const ret = iocb.fsync ? iocb.fsync(iocb.pos - count, iocb.pos - 1, !(iocb.flags & IOCB_SYNC)) : 0;
    if (ret) return ret;
  }
  return count;
}

/**
 * kiocb_invalidate_post_direct_write(): if cached pages could not be invalidated after the write,
 * warn (dio_warn_stale_pagecache) and record -EIO in the mapping's errseq only.
 */
function invalidatePostDirectWrite(dio: IomapDio, count: number): void {
  const mapping = dio.inode.mapping;
  if (mapping.nrFolios === 0) return;
  const pos = dio.iocb.pos;
  if (!mapping.invalidateRange2(Math.floor(pos / PAGE_SIZE), Math.floor((pos + count - 1) / PAGE_SIZE))) {
    mapping.warnings.push(`direct I/O write [${pos}, +${count}): page cache invalidation failed, data may be stale`);
    mapping.wbErr.set(EIO);
  }
}

/** iomap_dio_complete(). */
export function iomapDioComplete(dio: IomapDio): number {
  const iocb = dio.iocb;
  const offset = iocb.pos;
  let ret = dio.error;
  if (dio.dops?.endIo) ret = dio.dops.endIo(iocb, dio.size, ret, dio.flags);
  if (!ret) {
    ret = dio.size;
    // A short read: report only up to the i_size snapshot.
    if (offset + ret > dio.iSize && !(dio.flags & IOMAP_DIO_WRITE)) ret = dio.iSize - offset;
  }
  // After ->end_io, so converted unwritten extents are what a racing buffered read would cache.
  if (!dio.error && dio.size && (dio.flags & IOMAP_DIO_WRITE) && !modelBugs.dioNoPostInvalidate) invalidatePostDirectWrite(dio, dio.size);
  if (ret > 0) {
    iocb.pos += ret;
    if (dio.flags & IOMAP_DIO_NEED_SYNC) ret = genericWriteSync(iocb, ret);
    if (ret > 0) ret += dio.doneBefore;
  }
  dio.result = ret;
  return ret;
}

/* ------------------------------------------------------------------------------------------ */
/* Per-mapping work                                                                           */
/* ------------------------------------------------------------------------------------------ */

/** iomap_dio_zero(): a write bio of zeroes for [pos, pos+len). */
function dioZero(it: IomapIter, dio: IomapDio, pos: number, len: number): number {
  if (!len) return 0;
  if (len > IOMAP_ZERO_PAGE_SIZE) {
    dio.inode.mapping.warnings.push(`iomap_dio_zero: ${len} bytes > zero page`);
    return -EINVAL;
  }
  const map = it.iomap;
  // The bug zoo's dio-zero-one-page: one page of zeroes, whatever the block size.
  const n = modelBugs.dioZeroOnePage ? Math.min(len, PAGE_SIZE) : len;
  const bio = new DioBio(dio, {
    op: 'write', bdev: map.bdev!, sector: iomapSector(map, pos), pos, len: n, fua: false, zero: true,
    data: new Uint8Array(n), userOff: -1,
  });
  dioSubmitBio(it, dio, bio);
  return 0;
}

/**
 * bdev_iter_is_aligned() (6.12): user address to the DMA alignment, remaining count to the lbs.
 * 6.18 (Kiocb.mappingAlignOnly) has no such check here: the memory is judged per bio by the block
 * layer instead (bioSegmentsValid).
 */
function iterIsAligned(bdev: BlockDevice, iter: DioIovIter, mappingAlignOnly: boolean): boolean {
  if (mappingAlignOnly) return true;
  const lbs = bdev.sectorSize;
  if (iter.iov.count % lbs) return false;
  return (iter.addr + iter.iov.off) % bdevLimits(bdev).dmaAlignment === 0;
}

/**
 * 6.18's memory rule for one bio of `n` bytes from user address `addr` (bio_split_io_at, reached
 * from __bio_split_to_limits only when bio_may_need_split: a bio whose memory lies inside one page
 * is one segment and is not looked at). Any other bio's segments must each start on the DMA
 * alignment and be a multiple of the logical block size long; the inner segments are whole pages,
 * so that comes down to where the first one starts. A bio that fails it ends with -EINVAL without
 * a transfer. So a read whose hole or unwritten part zero-filled a misaligned number of bytes may
 * still read the written block after it, as long as that bio stays inside one page (seen on
 * 6.18.44, xfs 1k: a read of 1 byte of hole and a 1 KiB written block succeeds; 1 byte of hole and
 * 4 KiB, spanning two pages, is EINVAL; diff, xfs 1k seed 41, op 42,881, 9 ops).
 */
function bioSegmentsValid(bdev: BlockDevice, addr: number, n: number): boolean {
  const inPage = addr % PAGE_SIZE;
  if (inPage + n <= PAGE_SIZE) return true;
  return inPage % bdevLimits(bdev).dmaAlignment === 0 && inPage % bdev.sectorSize === 0;
}

/** How many bytes of the user buffer from its current position can be pinned (page granular). */
function pinnableBytes(iter: DioIovIter): number {
  const fault = iter.iov.faultAt;
  if (fault === Infinity) return Infinity;
  const firstBadPage = Math.floor((iter.addr + fault) / PAGE_SIZE) * PAGE_SIZE - iter.addr;
  return Math.max(0, firstBadPage - iter.iov.off);
}

/**
 * bio_iov_iter_get_pages(): the size of the next bio from the user buffer (limited to `limit`,
 * BIO_MAX_VECS pages and what can be pinned, trimmed to the logical block size), or -EFAULT.
 */
function bioIovIterGetPages(iter: DioIovIter, limit: number, lbs: number): number {
  const addr = iter.addr + iter.iov.off;
  const vecBytes = BIO_MAX_VECS * PAGE_SIZE - (addr % PAGE_SIZE);
  let n = Math.min(limit, vecBytes, pinnableBytes(iter));
  n -= n % lbs;
  return n > 0 ? n : -EFAULT;
}

/** The FUA decision of iomap_dio_bio_iter (6.12: iomap_dio_can_use_fua inline). */
function dioCanUseFua(map: Iomap, dio: IomapDio): boolean {
  if (map.flags & (IOMAP_F_SHARED | IOMAP_F_DIRTY)) return false;
  if (!(dio.flags & IOMAP_DIO_WRITE_THROUGH)) return false;
  const lim = bdevLimits(map.bdev!);
  return lim.fua || !lim.writeCache;
}

/** Model switches (version differences and mutants). */
export const dioConfig = {
  /**
   * 6.6–6.12: F_NEW requests sub-block zeroing for reads too (Errata §5.7: a read over a MAPPED
   * F_NEW mapping issues zeroing WRITE bios). ~6.13+ only for writes.
   */
  zeroNewOnRead: true,
};

/** iomap_dio_bio_iter(): MAPPED (and UNWRITTEN writes). Returns bytes submitted or -errno. */
function dioBioIter(it: IomapIter, dio: IomapDio): number {
  const map = it.iomap;
  const inode = it.inode;
  const bs = inode.blockSize;
  const length = iomapLength(it);
  const iter = dio.iter;
  const iov = iter.iov;
  const isWrite = (dio.flags & IOMAP_DIO_WRITE) !== 0;
  let pos = it.pos;
  let needZeroout = false;
  let useFua = false;
  let copied = 0;
  let ret = 0;

  if (!map.bdev) {
    inode.mapping.warnings.push(`direct I/O: ${map.type === IOMAP_UNWRITTEN ? 'UNWRITTEN' : 'MAPPED'} mapping without a bdev`);
    return -EIO;
  }
  const lbs = map.bdev.sectorSize;
  if (pos % lbs !== 0 || length % lbs !== 0 || !iterIsAligned(map.bdev, iter, dio.iocb.mappingAlignOnly === true)) return -EINVAL;

  // A hardware atomic write goes out as one REQ_ATOMIC bio, so this mapping must cover all of it.
  const atomic = isWrite && (map.flags & IOMAP_F_ATOMIC_BIO) !== 0 && !modelBugs.atomicBioNotAtomic;
  if (atomic && length !== it.len) return -EINVAL;
  if (map.type === IOMAP_UNWRITTEN) {
    dio.flags |= IOMAP_DIO_UNWRITTEN;
    needZeroout = true;
  }
  if (map.flags & IOMAP_F_SHARED) dio.flags |= IOMAP_DIO_COW;
  if (map.flags & IOMAP_F_NEW) {
    if (isWrite || dioConfig.zeroNewOnRead) needZeroout = true;
  } else if (map.type === IOMAP_MAPPED && isWrite) {
    useFua = dioCanUseFua(map, dio);
  }
  // §7.10 mutant: FUA for O_DSYNC writes into unwritten extents too (the conversion at completion
  // is then never made durable, as the final sync is skipped).
  if (modelBugs.dioFuaIntoUnwritten && isWrite && map.type === IOMAP_UNWRITTEN && !(map.flags & IOMAP_F_SHARED) &&
    (dio.flags & IOMAP_DIO_WRITE_THROUGH)) {
    useFua = true;
  }

  // iov_iter_truncate(): only this mapping's part of the user buffer.
  let avail = Math.min(iov.count, length);
  if (avail === 0) return 0;

  if (needZeroout) {
    const pad = pos % bs;
    ret = dioZero(it, dio, pos - pad, pad);
    if (ret) return ret;
  }

  // iomap_dio_bio_opflags(): a write that is not FUA cancels the write-through optimisation.
  if (isWrite && !useFua) dio.flags &= ~IOMAP_DIO_WRITE_THROUGH;

  while (avail > 0) {
    if (dio.error) {
      // A bio already failed: undo this mapping's progress and stop.
      iov.revert(copied);
      return 0;
    }
    const n = bioIovIterGetPages(iter, avail, lbs);
    if (n < 0) {
      // Stop part way, but still zero the tail of the block so no stale data is exposed.
      ret = n;
      break;
    }
    if (atomic && n !== length) {
      // An atomic write that does not fit one bio is refused (a WARN in the kernel).
      inode.mapping.warnings.push(`direct I/O: atomic write of ${length} bytes does not fit one bio (${n})`);
      ret = -EINVAL;
      break;
    }
    const userOff = iov.off;
    const data = isWrite ? iov.buf.slice(userOff, userOff + n) : null;
    const segmentsValid = !dio.iocb.mappingAlignOnly || bioSegmentsValid(map.bdev, iter.addr + userOff, n);
    iov.advance(n);
    const bio = new DioBio(dio, {
      op: isWrite ? 'write' : 'read', bdev: map.bdev, sector: iomapSector(map, pos), pos, len: n,
      fua: isWrite && useFua, zero: false, data, userOff, atomic,
    });
    // The block layer refuses it at submission: it completes with the error, nothing transferred.
    if (!segmentsValid) bio.status = -EINVAL;
    dio.size += n;
    copied += n;
    avail -= n;
    dioSubmitBio(it, dio, bio);
    pos += n;
  }

  // zero_tail: the extent needs zeroing, or the write ends at/after the LIVE i_size (mmap of the
  // EOF block would otherwise see stale data).
  if (needZeroout || (isWrite && pos >= inode.size)) {
    const pad = pos % bs;
    if (pad) ret = dioZero(it, dio, pos, bs - pad);
  }
  if (copied) return copied;
  return ret;
}

/** iomap_dio_hole_iter(): reads of HOLE/UNWRITTEN zero the user buffer. */
function dioHoleIter(it: IomapIter, dio: IomapDio): number {
  const length = dio.iter.iov.zero(iomapLength(it));
  dio.size += length;
  if (!length) return -EFAULT;
  return length;
}

/** iomap_inline_data_valid(): the inline area must not cross a page. */
function inlineDataValid(map: Iomap): boolean {
  const data = map.inlineData!;
  return map.length <= PAGE_SIZE - (data.byteOffset % PAGE_SIZE) && map.length <= data.length;
}

/** iomap_dio_inline_iter(). */
function dioInlineIter(it: IomapIter, dio: IomapDio): number {
  const map = it.iomap;
  const inode = it.inode;
  const length = iomapLength(it);
  const pos = it.pos;
  const iov = dio.iter.iov;
  if (!map.inlineData || !inlineDataValid(map)) {
    inode.mapping.warnings.push(`direct I/O: invalid inline mapping [${map.offset}, +${map.length})`);
    return -EIO;
  }
  const data = map.inlineData;
  const at = pos - map.offset;
  let copied: number;
  if (dio.flags & IOMAP_DIO_WRITE) {
    const size = inode.size;
    if (pos > size) data.fill(0, size - map.offset, at);
    copied = iov.copyFrom(data, at, Math.min(length, data.length - at));
    if (copied) {
      if (pos + copied > size) inode.size = pos + copied;
      inode.mapping.inodeDirty = true;
    }
  } else {
    copied = iov.copyTo(data.subarray(at, at + length), length);
  }
  dio.size += copied;
  if (!copied) return -EFAULT;
  return copied;
}

/** iomap_dio_iter(): dispatch on the mapping type. */
function iomapDioIter(it: IomapIter, dio: IomapDio): number {
  const inode = it.inode;
  switch (it.iomap.type) {
    case IOMAP_HOLE:
      if (dio.flags & IOMAP_DIO_WRITE) {
        inode.mapping.warnings.push(`direct I/O write got a HOLE mapping at ${it.pos}`);
        return -EIO;
      }
      return dioHoleIter(it, dio);
    case IOMAP_UNWRITTEN:
      if (!(dio.flags & IOMAP_DIO_WRITE)) return dioHoleIter(it, dio);
      return dioBioIter(it, dio);
    case IOMAP_MAPPED:
      return dioBioIter(it, dio);
    case IOMAP_INLINE:
      return dioInlineIter(it, dio);
    case IOMAP_DELALLOC:
      // pr_warn_ratelimited, not a WARN: page_mkwrite raced in between the flush and the lookup.
      inode.mapping.warnings.push(`Direct I/O collision with buffered writes! (DELALLOC at ${it.pos})`);
      return -EIO;
    default:
      inode.mapping.warnings.push(`direct I/O: invalid mapping type ${it.iomap.type}`);
      return -EIO;
  }
}

/* ------------------------------------------------------------------------------------------ */
/* Setup helpers (mm/filemap.c)                                                               */
/* ------------------------------------------------------------------------------------------ */

/** kiocb_write_and_wait(): flush the read range; NOWAIT only checks. */
function kiocbWriteAndWait(iocb: Kiocb, inode: Inode, count: number): number {
  const pos = iocb.pos;
  const end = pos + count - 1;
  if (iocb.flags & IOCB_NOWAIT) return inode.mapping.rangeNeedsWriteback(pos, end) ? -EAGAIN : 0;
  return filemapWriteAndWaitRange(inode.mapping, pos, end);
}

/** filemap_range_has_page(). */
function rangeHasPage(inode: Inode, pos: number, end: number): boolean {
  return inode.mapping.foliosIn(Math.floor(pos / PAGE_SIZE), Math.floor(end / PAGE_SIZE)).length > 0;
}

/** kiocb_invalidate_pages(): flush and invalidate the write range. 0, -EAGAIN, -EBUSY or a flush error. */
function kiocbInvalidatePages(iocb: Kiocb, inode: Inode, count: number): number {
  const pos = iocb.pos;
  const end = pos + count - 1;
  if (iocb.flags & IOCB_NOWAIT) {
    if (rangeHasPage(inode, pos, end)) return -EAGAIN;
  } else {
    const ret = filemapWriteAndWaitRange(inode.mapping, pos, end);
    if (ret) return ret;
  }
  return inode.mapping.invalidateRange2(Math.floor(pos / PAGE_SIZE), Math.floor(end / PAGE_SIZE)) ? 0 : -EBUSY;
}

/* ------------------------------------------------------------------------------------------ */
/* Entry points                                                                               */
/* ------------------------------------------------------------------------------------------ */

/** Complete this dio's bios that are still queued, oldest first (the waiting task). */
function dioWait(dio: IomapDio): void {
  const queue = dio.inode.mapping.queue;
  while (dio.ref > 0) {
    const bio = dio.bios.find((b) => !b.ended && pendingOf.has(b));
    if (!bio) throw new Error(`dio#${dio.id} hangs: a bio was never submitted or ended (->submit_io contract, rule 37)`);
    const idx = queue.pending.indexOf(pendingOf.get(bio)!);
    if (idx < 0) throw new Error(`model bug: ${bio.label} not in the queue`);
    queue.completeAt(idx);
  }
}

/**
 * __iomap_dio_rw(): set up and submit. Returns the dio (to be completed with iomapDioComplete),
 * 0 (nothing to do: len 0 or a read at/after EOF), or a negative errno (-EIOCBQUEUED included).
 */
export function __iomapDioRw(iocb: Kiocb, iter: DioIovIter, inode: Inode, ops: IomapOps, dops: DioOps | null,
  dioFlags = 0, priv?: unknown, doneBefore = 0): IomapDio | number {
  const iomi = new IomapIter(inode, iocb.pos, iter.iov.count, IOMAP_DIRECT, priv);
  let waitForCompletion = !iocb.complete || (dioFlags & IOMAP_DIO_FORCE_WAIT) !== 0;
  let ret = 0;

  if (!iomi.len) return 0;

  const dio = new IomapDio(iocb, inode, iter, dops, doneBefore);
  if (iocb.flags & IOCB_NOWAIT) iomi.flags |= IOMAP_NOWAIT;

  if (iter.rw === 'read') {
    if (iomi.pos >= dio.iSize) return 0;
    ret = kiocbWriteAndWait(iocb, inode, iomi.len);
    if (ret) return ret;
  } else {
    iomi.flags |= IOMAP_WRITE;
    dio.flags |= IOMAP_DIO_WRITE;
    if (dioFlags & IOMAP_DIO_OVERWRITE_ONLY) {
      if (iomi.pos >= dio.iSize || iomi.pos + iomi.len > dio.iSize) return -EAGAIN;
      iomi.flags |= IOMAP_OVERWRITE_ONLY;
    }
    if (iocb.flags & IOCB_ATOMIC) iomi.flags |= IOMAP_ATOMIC;
    // O_DSYNC: sync at completion; datasync-only writes first try write-through (FUA).
    if (iocb.flags & IOCB_DSYNC) {
      dio.flags |= IOMAP_DIO_NEED_SYNC;
      if (!(iocb.flags & IOCB_SYNC)) dio.flags |= IOMAP_DIO_WRITE_THROUGH;
    }
    ret = kiocbInvalidatePages(iocb, inode, iomi.len);
    if (ret) {
      // Anything but -EAGAIN: fall back to buffered I/O; an atomic write cannot (it has no
      // buffered path), so it says -EAGAIN and the caller may try again.
      if (ret !== -EAGAIN) ret = iocb.flags & IOCB_ATOMIC ? -EAGAIN : -ENOTBLK;
      return ret;
    }
  }

  while ((ret = iomapIter(iomi, ops)) > 0) iomapIterBodyDone(iomi, iomapDioIter(iomi, dio));
  for (const w of iomi.warnings) inode.mapping.warnings.push(`iomap_iter: ${w}`);

  // Only report data read up to the i_size snapshot: wind the user iov back to it.
  if (iter.rw === 'read' && iomi.pos >= dio.iSize) iter.iov.revert(iomi.pos - dio.iSize);

  if (ret === -EFAULT && dio.size && (dioFlags & IOMAP_DIO_PARTIAL)) {
    if (!(iocb.flags & IOCB_NOWAIT)) waitForCompletion = true;
    ret = 0;
  }
  // The magic fall-back-to-buffered code from the filesystem: report what was done.
  if (ret === -ENOTBLK) {
    waitForCompletion = true;
    ret = 0;
  }
  if (ret < 0) dioSetError(dio, ret);

  // Every data write went out FUA: no cache flush needed at completion.
  if (dio.flags & IOMAP_DIO_WRITE_THROUGH) dio.flags &= ~IOMAP_DIO_NEED_SYNC;

  dio.waitForCompletion = waitForCompletion;
  if (--dio.ref !== 0) {
    if (!waitForCompletion) return -EIOCBQUEUED;
    dioWait(dio);
  }
  return dio;
}

/**
 * iomap_dio_rw(): the whole direct I/O. Returns done_before + bytes, 0, or a negative errno
 * (-EIOCBQUEUED for an async kiocb whose bios are still in flight).
 */
export function iomapDioRw(iocb: Kiocb, iter: DioIovIter, inode: Inode, ops: IomapOps, dops: DioOps | null,
  dioFlags = 0, priv?: unknown, doneBefore = 0): number {
  const dio = __iomapDioRw(iocb, iter, inode, ops, dops, dioFlags, priv, doneBefore);
  if (typeof dio === 'number') return dio;
  return iomapDioComplete(dio);
}
