/**
 * fs/iomap/fiemap.c (iomap_iter era, 5.15–6.14): iomap_fiemap and iomap_bmap, contract §5.10 and
 * §5.11, with the fs/ioctl.c pieces they rely on (fiemap_prep, fiemap_fill_next_extent).
 *
 * FIEMAP emits every non-HOLE mapping one step late, so the last one can carry
 * FIEMAP_EXTENT_LAST: "last within the requested range", not "last of the file". Extents are
 * reported verbatim (offset, addr, untrimmed length; rule 41).
 */
import { modelBugs } from '../bugs';
import {
  Inode, Iomap, IomapOps, IOMAP_DELALLOC, IOMAP_F_MERGED, IOMAP_F_SHARED, IOMAP_HOLE, IOMAP_INLINE, IOMAP_MAPPED,
  IOMAP_NULL_ADDR, IOMAP_REPORT, IOMAP_UNWRITTEN, MAX_LFS_FILESIZE, copyIomap, iomapSector, zeroedIomap,
} from './types';
import { IomapIter, iomapIter, iomapLength, iomapIterBodyDone } from './iter';
import { filemapWriteAndWaitRange } from './writeback';
import { EBADR, EFAULT, EFBIG, EINVAL, ENOENT } from '../errno';
import {
  FIEMAP_FLAG_SYNC, FIEMAP_FLAGS_COMPAT, FIEMAP_EXTENT_LAST, FIEMAP_EXTENT_UNKNOWN, FIEMAP_EXTENT_DELALLOC,
  FIEMAP_EXTENT_ENCODED, FIEMAP_EXTENT_DATA_ENCRYPTED, FIEMAP_EXTENT_NOT_ALIGNED, FIEMAP_EXTENT_DATA_INLINE,
  FIEMAP_EXTENT_DATA_TAIL, FIEMAP_EXTENT_UNWRITTEN, FIEMAP_EXTENT_MERGED, FIEMAP_EXTENT_SHARED,
} from '../uapi-fiemap';
export {
  FIEMAP_FLAG_SYNC, FIEMAP_FLAG_XATTR, FIEMAP_FLAG_CACHE, FIEMAP_FLAGS_COMPAT, FIEMAP_EXTENT_LAST,
  FIEMAP_EXTENT_UNKNOWN, FIEMAP_EXTENT_DELALLOC, FIEMAP_EXTENT_ENCODED, FIEMAP_EXTENT_DATA_ENCRYPTED,
  FIEMAP_EXTENT_NOT_ALIGNED, FIEMAP_EXTENT_DATA_INLINE, FIEMAP_EXTENT_DATA_TAIL, FIEMAP_EXTENT_UNWRITTEN,
  FIEMAP_EXTENT_MERGED, FIEMAP_EXTENT_SHARED,
} from '../uapi-fiemap';

/* include/uapi/linux/fiemap.h: the flags are in ../uapi-fiemap.ts */
export const FIEMAP_MAX_OFFSET = 2 ** 64 - 1;

/** struct fiemap_extent (the fields user space sees). */
export interface FiemapExtent {
  logical: number;
  physical: number;
  length: number;
  flags: number;
}

/**
 * struct fiemap_extent_info. `flags` is fi_flags (on -EBADR it is overwritten with the
 * offending bits); `extentsMax` 0 means "count only".
 */
export interface FiemapExtentInfo {
  flags: number;
  mapped: number;
  extentsMax: number;
  extents: FiemapExtent[];
  /** Make the n-th copy into the user array fail (copy_to_user ⇒ -EFAULT); for tests. */
  faultAtExtent?: number;
}

export function fiemapInfo(flags: number, extentsMax: number): FiemapExtentInfo {
  return { flags, mapped: 0, extentsMax, extents: [] };
}

/** fiemap_fill_next_extent(): 0 = continue, 1 = stop (array full or LAST), < 0 = error. */
export function fiemapFillNextExtent(fi: FiemapExtentInfo, logical: number, phys: number, len: number, flags: number): number {
  // Only counting.
  if (fi.extentsMax === 0) {
    fi.mapped++;
    return flags & FIEMAP_EXTENT_LAST ? 1 : 0;
  }
  if (fi.mapped >= fi.extentsMax) return 1;
  if (flags & FIEMAP_EXTENT_DELALLOC) flags |= FIEMAP_EXTENT_UNKNOWN;
  if (flags & FIEMAP_EXTENT_DATA_ENCRYPTED) flags |= FIEMAP_EXTENT_ENCODED;
  if (flags & (FIEMAP_EXTENT_DATA_TAIL | FIEMAP_EXTENT_DATA_INLINE)) flags |= FIEMAP_EXTENT_NOT_ALIGNED;
  if (fi.faultAtExtent === fi.mapped) return -EFAULT; // copy_to_user failed
  fi.extents.push({ logical, physical: phys, length: len, flags });
  fi.mapped++;
  if (fi.mapped === fi.extentsMax) return 1;
  return flags & FIEMAP_EXTENT_LAST ? 1 : 0;
}

/**
 * fiemap_prep(): validate the range and the flags (only SYNC plus `supported`), trim the length
 * to s_maxbytes, and honour FIEMAP_FLAG_SYNC. Returns 0 or -errno; `len.v` may shrink.
 */
export function fiemapPrep(inode: Inode, fi: FiemapExtentInfo, start: number, len: { v: number }, supported = 0): number {
  const maxbytes = MAX_LFS_FILESIZE;
  if (len.v === 0) return -EINVAL;
  if (start >= maxbytes) return -EFBIG;
  // Shrink the request to what the filesystem can handle.
  if (len.v > maxbytes || maxbytes - len.v < start) len.v = maxbytes - start;
  supported |= FIEMAP_FLAG_SYNC;
  supported &= FIEMAP_FLAGS_COMPAT;
  const incompat = fi.flags & ~supported;
  if (incompat) {
    fi.flags = incompat;
    return -EBADR;
  }
  if (fi.flags & FIEMAP_FLAG_SYNC) return filemapWriteAndWaitRange(inode.mapping, 0, Number.MAX_SAFE_INTEGER);
  return 0;
}

/** iomap_to_fiemap(). */
function iomapToFiemap(fi: FiemapExtentInfo, m: Iomap, flags: number): number {
  switch (m.type) {
    case IOMAP_HOLE:
      return 0; // holes are not reported
    case IOMAP_DELALLOC:
      flags |= FIEMAP_EXTENT_DELALLOC | FIEMAP_EXTENT_UNKNOWN;
      break;
    case IOMAP_MAPPED:
      break;
    case IOMAP_UNWRITTEN:
      flags |= FIEMAP_EXTENT_UNWRITTEN;
      break;
    case IOMAP_INLINE:
      flags |= FIEMAP_EXTENT_DATA_INLINE;
      break;
    default:
      break;
  }
  if (m.flags & IOMAP_F_MERGED) flags |= FIEMAP_EXTENT_MERGED;
  if ((m.flags & IOMAP_F_SHARED) && !modelBugs.fiemapNoShared) flags |= FIEMAP_EXTENT_SHARED;
  return fiemapFillNextExtent(fi, m.offset, m.addr !== IOMAP_NULL_ADDR ? m.addr : 0, m.length, flags);
}

/** iomap_fiemap_iter(): emit the previous mapping, remember this one. */
function fiemapIter(it: IomapIter, fi: FiemapExtentInfo, prev: { m: Iomap }): number {
  if (it.iomap.type === IOMAP_HOLE) return iomapLength(it);
  const ret = iomapToFiemap(fi, prev.m, 0);
  prev.m = copyIomap(it.iomap);
  switch (ret) {
    case 0:
      return iomapLength(it);
    case 1: // extent array full
      return 0;
    default:
      return ret;
  }
}

/**
 * iomap_fiemap(). Note the kernel's ordering at the end: when an extent is pending, the result of
 * emitting it (0 or 1) replaces the iterator's return value, so an iteration error after at least
 * one extent is lost and the call succeeds. -ENOENT (no such fork) is success.
 */
export function iomapFiemap(inode: Inode, fi: FiemapExtentInfo, start: number, len: number, ops: IomapOps): number {
  const l = { v: len };
  let ret = fiemapPrep(inode, fi, start, l, 0);
  if (ret) return ret;
  const it = new IomapIter(inode, start, l.v, IOMAP_REPORT);
  const prev = { m: zeroedIomap() };
  prev.m.type = IOMAP_HOLE;
  while ((ret = iomapIter(it, ops)) > 0) iomapIterBodyDone(it, fiemapIter(it, fi, prev));
  for (const w of it.warnings) inode.mapping.warnings.push(`iomap_iter: ${w}`);
  if (prev.m.type !== IOMAP_HOLE) {
    ret = iomapToFiemap(fi, prev.m, modelBugs.fiemapNoLast ? 0 : FIEMAP_EXTENT_LAST);
    if (ret < 0) return ret;
  }
  // An inode with no (attribute) mapping gives -ENOENT.
  if (ret < 0 && ret !== -ENOENT) return ret;
  return 0;
}

/**
 * iomap_bmap(): the legacy ->bmap. 0 is both "no block" and the error return. Flushes the whole
 * file first; one REPORT lookup of the block; only MAPPED yields a number.
 */
export function iomapBmap(inode: Inode, bno: number, ops: IomapOps): number {
  const blkshift = inode.blkbits - 9;
  if (filemapWriteAndWaitRange(inode.mapping, 0, Number.MAX_SAFE_INTEGER)) return 0;
  const it = new IomapIter(inode, bno * inode.blockSize, inode.blockSize, IOMAP_REPORT);
  let result = 0;
  let ret: number;
  while ((ret = iomapIter(it, ops)) > 0) {
    if (it.iomap.type === IOMAP_MAPPED) result = Math.floor(iomapSector(it.iomap, it.pos) / 2 ** blkshift);
    // it.processed stays 0: the loop ends after this one mapping.
  }
  for (const w of it.warnings) inode.mapping.warnings.push(`iomap_iter: ${w}`);
  if (ret) return 0;
  return result;
}
