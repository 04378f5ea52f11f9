/**
 * fs/iomap/swapfile.c (iomap_iter era): iomap_swapfile_activate, contract §5.12 and rule 40, with
 * mm/swapfile.c add_swap_extent (which merges a new extent into the previous one when both the
 * swap pages and the disk blocks continue it).
 *
 * Every mapping over [0, ALIGN_DOWN(i_size, PAGE_SIZE)) must be MAPPED or UNWRITTEN, not F_DIRTY,
 * not F_SHARED, on the swap device. Physically contiguous mappings are accumulated (using the
 * WHOLE mapping, addr and length, as the kernel does), then each accumulated extent is trimmed
 * to whole pages; the first file page (offset 0) is the swap header and does not count towards
 * the lowest usable page.
 */
import { Inode, Iomap, IomapOps, IOMAP_F_DIRTY, IOMAP_F_SHARED, IOMAP_INLINE, IOMAP_MAPPED, IOMAP_REPORT,
  IOMAP_UNWRITTEN, PAGE_SIZE, copyIomap, roundDown, roundUp, zeroedIomap } from './types';
import { IomapIter, iomapIter, iomapLength, iomapIterBodyDone } from './iter';
import type { BlockDevice } from '../device/types';
import { EINVAL } from '../errno';

/** A swap extent: swap pages [startPage, startPage + nrPages) live at disk page startBlock. */
export interface SwapExtent {
  startPage: number;
  nrPages: number;
  startBlock: number;
}

/** struct swap_info_struct, the parts activation reads (bdev, max) and writes. */
export interface SwapInfo {
  bdev: BlockDevice | null;
  /** In: pages the swap header allows (maxpages). Out: usable pages including the header. */
  max: number;
  pages: number;
  highestBit: number;
  extents: SwapExtent[];
  /** pr_err/pr_warn lines ("swapon: file ..."). */
  log: string[];
}

export function newSwapInfo(bdev: BlockDevice | null, max: number): SwapInfo {
  return { bdev, max, pages: 0, highestBit: 0, extents: [], log: [] };
}

interface SwapfileState {
  /** The accumulated mapping (length 0: none). */
  iomap: Iomap;
  sis: SwapInfo;
  lowestPpage: number;
  highestPpage: number;
  nrPages: number;
  nrExtents: number;
}

/** add_swap_extent(): append, or merge into the last extent; returns 1 if a new extent was added. */
export function addSwapExtent(sis: SwapInfo, startPage: number, nrPages: number, startBlock: number): number {
  const last = sis.extents[sis.extents.length - 1];
  if (last) {
    if (last.startPage + last.nrPages !== startPage) throw new Error('BUG: add_swap_extent out of order');
    if (last.startBlock + last.nrPages === startBlock) {
      last.nrPages += nrPages;
      return 0;
    }
  }
  sis.extents.push({ startPage, nrPages, startBlock });
  return 1;
}

/** iomap_swapfile_add_extent(): page-align the accumulated extent and hand it to swap. */
function swapfileAddExtent(isi: SwapfileState): number {
  const m = isi.iomap;
  if (isi.nrPages >= isi.sis.max) return 0;
  const maxPages = isi.sis.max - isi.nrPages;
  // Round the start up and the end down to page boundaries.
  const firstPpage = roundUp(m.addr, PAGE_SIZE) / PAGE_SIZE;
  const nextPpage = roundDown(m.addr + m.length, PAGE_SIZE) / PAGE_SIZE;
  // Too short to hold a whole page.
  if (firstPpage >= nextPpage) return 0;
  const nrPages = Math.min(nextPpage - firstPpage, maxPages);
  // The first page of the file holds the swap header and is not usable swap space.
  let firstReported = firstPpage;
  if (m.offset === 0) firstReported++;
  if (isi.lowestPpage > firstReported) isi.lowestPpage = firstReported;
  if (isi.highestPpage < nextPpage - 1) isi.highestPpage = nextPpage - 1;
  const err = addSwapExtent(isi.sis, isi.nrPages, nrPages, firstPpage);
  if (err < 0) return err;
  isi.nrExtents += err;
  isi.nrPages += nrPages;
  return 0;
}

/** iomap_swapfile_fail(). */
function swapfileFail(isi: SwapfileState, what: string): number {
  isi.sis.log.push(`swapon: file ${what}`);
  return -EINVAL;
}

/** iomap_swapfile_iter(): validate one mapping and accumulate it. */
function swapfileIter(it: IomapIter, m: Iomap, isi: SwapfileState): number {
  switch (m.type) {
    case IOMAP_MAPPED:
    case IOMAP_UNWRITTEN:
      break; // only real or unwritten extents
    case IOMAP_INLINE:
      return swapfileFail(isi, 'is inline');
    default:
      return swapfileFail(isi, 'has unallocated extents');
  }
  // No uncommitted metadata or shared blocks.
  if (m.flags & IOMAP_F_DIRTY) return swapfileFail(isi, 'is not committed');
  if (m.flags & IOMAP_F_SHARED) return swapfileFail(isi, 'has shared extents');
  // Only one bdev per swap file.
  if (m.bdev !== isi.sis.bdev) return swapfileFail(isi, 'outside the main device');
  if (isi.iomap.length === 0) {
    isi.iomap = copyIomap(m);
  } else if (isi.iomap.addr + isi.iomap.length === m.addr) {
    isi.iomap.length += m.length;
  } else {
    const err = swapfileAddExtent(isi);
    if (err) return err;
    isi.iomap = copyIomap(m);
  }
  return iomapLength(it);
}

/**
 * iomap_swapfile_activate(): `fsync` is vfs_fsync(file, 1), run first so no F_DIRTY mapping
 * should remain. Returns the number of swap extents or -errno; `span.v` = highest − lowest
 * usable physical page + 1; sis.max/pages/highestBit are set.
 */
export function iomapSwapfileActivate(sis: SwapInfo, inode: Inode, span: { v: number }, ops: IomapOps,
  fsync: (inode: Inode) => number): number {
  const it = new IomapIter(inode, 0, roundDown(inode.size, PAGE_SIZE), IOMAP_REPORT);
  const isi: SwapfileState = {
    iomap: zeroedIomap(), sis, lowestPpage: Number.MAX_SAFE_INTEGER, highestPpage: 0, nrPages: 0, nrExtents: 0,
  };
  // Persist all file mapping metadata so that no IOMAP_F_DIRTY mapping is left.
  let ret = fsync(inode);
  if (ret) return ret;
  while ((ret = iomapIter(it, ops)) > 0) iomapIterBodyDone(it, swapfileIter(it, it.iomap, isi));
  for (const w of it.warnings) inode.mapping.warnings.push(`iomap_iter: ${w}`);
  if (ret < 0) return ret;
  if (isi.iomap.length) {
    ret = swapfileAddExtent(isi);
    if (ret) return ret;
  }
  // Not a single page-aligned contiguous run of blocks: reject the useless swap file.
  if (isi.nrPages === 0) {
    sis.log.push('swapon: Cannot find a single usable page in file.');
    return -EINVAL;
  }
  span.v = 1 + isi.highestPpage - isi.lowestPpage;
  sis.max = isi.nrPages;
  sis.pages = isi.nrPages - 1;
  sis.highestBit = isi.nrPages - 1;
  return isi.nrExtents;
}
