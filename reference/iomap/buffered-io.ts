/**
 * fs/iomap/buffered-io.c (6.12 semantics, the 6.6–6.14 baseline): buffered reads (§5.1), buffered
 * writes with write_begin/write_end and the delalloc release helper (§5.2), page_mkwrite (§5.3),
 * zero_range/truncate_page (§5.4), unshare (§5.5), and the address_space operations iomap
 * provides (dirty_folio, invalidate_folio, release_folio). Writeback lives in writeback.ts.
 *
 * Device reads are issued synchronously where the kernel would submit a read bio and wait for
 * its completion; a read error leaves the affected blocks not uptodate, as in 6.12.
 */
import {
  FolioOps, Inode, Iomap, IomapOps, IomapReadOps, IomapWriteOps, IOMAP_DELALLOC, IOMAP_F_NEW, IOMAP_F_SIZE_CHANGED, IOMAP_F_STALE, IOMAP_F_BUFFER_HEAD,
  IOMAP_F_SHARED, IOMAP_HOLE, IOMAP_INLINE, IOMAP_MAPPED, IOMAP_NOWAIT, IOMAP_UNSHARE, IOMAP_UNWRITTEN,
  IOMAP_WRITE, IOMAP_ZERO, IOMAP_FAULT, IOMAP_DONTCACHE, PAGE_SIZE, SECTOR_SIZE, iomapSector, roundDown, roundUp,
} from './types';
import {
  Folio, blockIsDirty, blocksPerFolio, ifsAlloc, ifsFree, setRangeDirty, setRangeUptodate, isPartiallyUptodate,
} from './folio';
import { IomapIter, iomapIter, iomapIterBodyDone, iomapIterSrcmap, iomapLength } from './iter';
import { AddressSpace, AddressSpaceOps } from './pagecache';
import { IovIter } from './uio';
import { filemapWriteAndWaitRange } from './writeback';
import { EAGAIN, EFAULT, EIO, ENOMEM, ENXIO } from '../errno';
import { isFsError } from '../errno';
import { modelBugs } from '../bugs';

/** Record a kernel WARN on the inode's mapping (the contract monitor reads them). */
export function warn(inode: Inode, msg: string): void {
  inode.mapping.warnings.push(msg);
}

/* ------------------------------------------------------------------------------------------ */
/* address_space_operations                                                                   */
/* ------------------------------------------------------------------------------------------ */

/** iomap_dirty_folio(): per-block state for the whole folio goes dirty (mmap, set_page_dirty). */
export function iomapDirtyFolio(folio: Folio): void {
  const inode = folio.mapping!.host;
  ifsAlloc(folio, inode.blkbits);
  setRangeDirty(folio, 0, folio.size, inode.blkbits);
  folio.dirty = true;
  inode.mapping.dirtiedPages = true;
}

/** iomap_invalidate_folio(): only a whole-folio invalidation acts. */
export function iomapInvalidateFolio(folio: Folio, off: number, len: number): void {
  if (off === 0 && len === folio.size) {
    const inode = folio.mapping?.host;
    if (folio.writeback && inode) warn(inode, `invalidate of folio ${folio.index} under writeback`);
    folio.dirty = false;
    const w = ifsFree(folio);
    if (inode) for (const m of w) warn(inode, m);
  }
}

/** iomap_release_folio(): refuse while dirty, else drop the per-block state. */
export function iomapReleaseFolio(folio: Folio): boolean {
  if (folio.dirty) return false;
  const inode = folio.mapping?.host;
  const w = ifsFree(folio);
  if (inode) for (const m of w) warn(inode, m);
  return true;
}

export const iomapAops: AddressSpaceOps = {
  dirtyFolio: iomapDirtyFolio,
  invalidateFolio: iomapInvalidateFolio,
  releaseFolio: iomapReleaseFolio,
};

/* ------------------------------------------------------------------------------------------ */
/* Helpers shared by the read and write paths                                                 */
/* ------------------------------------------------------------------------------------------ */

/** iomap_block_needs_zeroing(). */
export function blockNeedsZeroing(it: IomapIter, pos: number): boolean {
  const src = iomapIterSrcmap(it);
  return src.type !== IOMAP_MAPPED || (src.flags & IOMAP_F_NEW) !== 0 || pos >= it.inode.size;
}

/**
 * iomap_adjust_read_range(): from *pos, skip leading uptodate blocks, stop before the next
 * uptodate block, and split at the block holding EOF so blocks wholly past EOF are handled
 * apart. Returns [newPos, poff, plen]. Uses the fixed (unaligned-pos-safe) skip arithmetic of
 * the 6.6 LTS tree; with block-aligned mappings it is identical to 6.12 mainline.
 */
export function adjustReadRange(inode: Inode, folio: Folio, pos: number, length: number): [number, number, number] {
  const blkbits = inode.blkbits;
  const bs = inode.blockSize;
  const isize = inode.size;
  const origPos = pos;
  let poff = folio.offsetIn(pos);
  let plen = Math.min(folio.size - poff, length);
  const origPlen = plen;
  let first = poff >>> blkbits;
  let last = Math.floor((poff + plen - 1) / bs);
  const ifs = folio.ifs;
  if (ifs) {
    let i = first;
    for (; i <= last; i++) {
      if (!ifs.uptodate[i]) break;
      const step = bs - (poff & (bs - 1));
      pos += step;
      poff += step;
      plen -= step;
      first++;
    }
    for (; i <= last; i++) {
      if (ifs.uptodate[i]) {
        plen -= (last - i + 1) * bs;
        last = i - 1;
        break;
      }
    }
  }
  if (origPos <= isize && origPos + origPlen > isize) {
    const end = folio.offsetIn(modelBugs.readEofOffByOne ? isize : isize - 1) >>> blkbits;
    if (first <= end && last > end) plen -= (last - end) * bs;
  }
  return [pos, poff, Math.max(plen, 0)];
}

/** Synchronous read of [pos, pos+len) from the source map into the folio at poff. 0 or -EIO. */
function readFromMap(map: Iomap, pos: number, folio: Folio, poff: number, len: number): number {
  const dev = map.bdev;
  if (!dev) return -EIO;
  const addr = map.addr + (pos - map.offset);
  try {
    dev.read(iomapSector(map, pos) * SECTOR_SIZE + (addr % SECTOR_SIZE), folio.data.subarray(poff, poff + len));
    return 0;
  } catch (e) {
    if (isFsError(e)) return -EIO;
    throw e;
  }
}

/**
 * iomap_bio_read_ops (6.19+): the read ops a block filesystem passes, reading each range from the
 * mapping's device. In the model a range is read and completed at once (IomapReadOps), not queued
 * into a bio with its neighbours: the bytes are the same, a device read error fails only the ranges
 * that touch it.
 */
export const iomapBioReadOps: IomapReadOps = {
  readFolioRange: (it, folio, pos, len) => readFromMap(it.iomap, pos, folio, folio.offsetIn(pos), len),
};

/* ------------------------------------------------------------------------------------------ */
/* Buffered read (§5.1)                                                                       */
/* ------------------------------------------------------------------------------------------ */

interface ReadSegment {
  /** A copy of the mapping: the iterator reuses its iomap for the next mapping. */
  map: Iomap;
  /** Byte address on the device of the first byte. */
  addr: number;
  pos: number;
  folio: Folio;
  poff: number;
  len: number;
}

interface ReadpageCtx {
  curFolio: Folio | null;
  /** Pending read "bio" segments, submitted (read from the device) at the end. */
  segs: ReadSegment[];
  folios: Folio[] | null;
  /** current generation: the filesystem's read ops (null: the core's bio reads). */
  readOps: IomapReadOps | null;
}

/** iomap_read_inline_data(). */
function readInlineData(it: IomapIter, folio: Folio): number {
  const map = iomapIterSrcmap(it);
  const size = it.inode.size - map.offset;
  const offset = folio.offsetIn(map.offset);
  if (folio.uptodate) return 0;
  if (size > map.length || size < 0 || !map.inlineData) {
    warn(it.inode, `inline data size ${size} > iomap length ${map.length}`);
    return -EIO;
  }
  if (offset > 0) ifsAlloc(folio, it.inode.blkbits);
  folio.data.set(map.inlineData.subarray(0, size), offset);
  folio.data.fill(0, offset + size);
  setRangeUptodate(folio, offset, folio.size - offset, it.inode.blkbits);
  return 0;
}

/** iomap_readpage_iter(): one run of one folio within the current mapping. */
function readpageIter(it: IomapIter, ctx: ReadpageCtx, offset: number): number {
  const map = it.iomap;
  let pos = it.pos + offset;
  const length = iomapLength(it) - offset;
  const folio = ctx.curFolio!;
  const origPos = pos;
  if (map.type === IOMAP_INLINE) return readInlineData(it, folio);
  ifsAlloc(folio, it.inode.blkbits);
  const [npos, poff, plen] = adjustReadRange(it.inode, folio, pos, length);
  pos = npos;
  if (plen === 0) return pos - origPos + plen;
  if (blockNeedsZeroing(it, pos)) {
    folio.data.fill(0, poff, poff + plen);
    setRangeUptodate(folio, poff, plen, it.inode.blkbits);
    return pos - origPos + plen;
  }
  if (folio.ifs) folio.ifs.readBytesPending += plen;
  if (ctx.readOps) {
    const err = ctx.readOps.readFolioRange(it, folio, pos, plen);
    finishFolioRead(it.inode, folio, poff, plen, err);
    return err < 0 ? err : pos - origPos + plen;
  }
  const last = ctx.segs[ctx.segs.length - 1];
  const addr = map.addr + (pos - map.offset);
  if (last && last.folio === folio && last.poff + last.len === poff && last.addr + last.len === addr && last.map.bdev === map.bdev) {
    last.len += plen;
  } else {
    ctx.segs.push({ map: { ...map }, addr, pos, folio, poff, len: plen });
  }
  return pos - origPos + plen;
}

/** Submit the read bios: read each segment, then run iomap_finish_folio_read(). */
function submitReads(inode: Inode, ctx: ReadpageCtx, it: IomapIter): void {
  if (ctx.readOps) {
    ctx.readOps.submitRead?.(it);
    return;
  }
  for (const s of ctx.segs) {
    const err = readFromMap(s.map, s.pos, s.folio, s.poff, s.len);
    finishFolioRead(inode, s.folio, s.poff, s.len, err);
  }
  ctx.segs.length = 0;
}

/** iomap_finish_folio_read() (6.12): success sets uptodate; an error sets nothing. */
function finishFolioRead(inode: Inode, folio: Folio, off: number, len: number, err: number): void {
  if (err === 0 || modelBugs.readErrorMarksUptodate) setRangeUptodate(folio, off, len, inode.blkbits);
  if (err !== 0) folio.error = true;
  if (folio.ifs) folio.ifs.readBytesPending -= len;
}

/** iomap_read_folio(): always returns 0; failure shows as a folio that is not uptodate. */
export function iomapReadFolio(folio: Folio, ops: IomapOps, readOps: IomapReadOps | null = null): number {
  const inode = folio.mapping!.host;
  const it = new IomapIter(inode, folio.pos, folio.size, 0);
  const ctx: ReadpageCtx = { curFolio: folio, segs: [], folios: null, readOps: it.api === 'current' ? readOps : null };
  while (iomapIter(it, ops) > 0) {
    const offset = folio.offsetIn(it.pos);
    const length = Math.min(folio.size - offset, iomapLength(it));
    let done = 0;
    let ret = 0;
    for (; done < length; done += ret) {
      ret = readpageIter(it, ctx, done);
      if (ret <= 0) break;
    }
    iomapIterBodyDone(it, ret <= 0 ? ret : done);
  }
  submitReads(inode, ctx, it);
  return 0;
}

/** iomap_readahead(): read a run of new, contiguous folios; errors are swallowed. */
export function iomapReadahead(folios: Folio[], ops: IomapOps, readOps: IomapReadOps | null = null): void {
  if (folios.length === 0) return;
  const inode = folios[0].mapping!.host;
  const start = folios[0].pos;
  const len = folios[folios.length - 1].end - start;
  const it = new IomapIter(inode, start, len, 0);
  const ctx: ReadpageCtx = { curFolio: null, segs: [], folios: folios.slice(), readOps: it.api === 'current' ? readOps : null };
  while (iomapIter(it, ops) > 0) {
    const length = iomapLength(it);
    let done = 0;
    let ret = 0;
    for (; done < length; done += ret) {
      if (ctx.curFolio && ctx.curFolio.offsetIn(it.pos + done) === 0) ctx.curFolio = null;
      if (!ctx.curFolio) ctx.curFolio = ctx.folios!.shift() ?? null;
      if (!ctx.curFolio) { ret = 0; break; }
      ret = readpageIter(it, ctx, done);
      if (ret <= 0) break;
    }
    iomapIterBodyDone(it, ret <= 0 ? ret : done);
  }
  submitReads(inode, ctx, it);
}

/* ------------------------------------------------------------------------------------------ */
/* Buffered write (§5.2)                                                                      */
/* ------------------------------------------------------------------------------------------ */

/** Test hooks for the interleavings of contract §8 ("a second writer between begin and get_folio"). */
export interface WriteHooks {
  /** Called after ->iomap_begin and before the folio is looked up (write_begin). */
  beforeGetFolio?(it: IomapIter, pos: number): void;
  /** Make ifs allocation fail under NOWAIT (the -EAGAIN path). */
  failNowaitIfsAlloc?: boolean;
  /** A fatal signal is pending (write_begin returns -EINTR). */
  fatalSignal?: boolean;
}

export const writeHooks: WriteHooks = {};

/**
 * The filesystem's buffered-write hooks for this iteration: hung off the mapping in 6.12
 * (iomap->folio_ops), passed to the entry point in the current generation (iomap_write_ops).
 */
function writeHooksOf(it: IomapIter): FolioOps | IomapWriteOps | null {
  return it.api === 'current' ? it.writeOps : it.iomap.folioOps;
}

/** __iomap_get_folio(). */
function getFolio(it: IomapIter, pos: number, len: number): Folio | number {
  const fops = writeHooksOf(it);
  if (fops?.getFolio) {
    const f = fops.getFolio(it, pos, len);
    if (typeof f !== 'number') f.refs++;
    return f;
  }
  return iomapGetFolio(it, pos, len);
}

/** iomap_get_folio(): __filemap_get_folio(FGP_WRITEBEGIN | order from len). */
export function iomapGetFolio(it: IomapIter, pos: number, len: number): Folio {
  const mapping = it.inode.mapping;
  const index = Math.floor(pos / PAGE_SIZE);
  let folio = mapping.lookup(index);
  if (!folio) {
    folio = mapping.allocFolio(index, len);
    // FGP_DONTCACHE: a folio an uncached write brings in leaves the cache once written back.
    if (it.flags & IOMAP_DONTCACHE) folio.dropbehind = true;
  } else if (!(it.flags & IOMAP_DONTCACHE)) {
    folio.dropbehind = false; // a cached user found it: it stays
  }
  // __filemap_get_folio takes its reference and the folio lock first, then (FGP_STABLE) waits
  // for writeback: the completion must find the folio held, or it drops an uncached
  // (dropbehind) folio from under the writer (folio_end_dropbehind skips locked folios).
  folio.refs++;
  folio.locked = true;
  mapping.queue.waitFolio(folio);
  return folio;
}

/** __iomap_put_folio(). */
function putFolio(it: IomapIter, pos: number, copied: number, folio: Folio): void {
  const fops = writeHooksOf(it);
  if (fops?.putFolio) {
    fops.putFolio(it.inode, pos, copied, folio);
  } else {
    folio.locked = false;
  }
  folio.refs--;
}

/**
 * iomap_read_folio_range(): synchronous read of a block run from the source map, or (current
 * generation) through the filesystem's ->read_folio_range when it has one.
 */
function readFolioRange(it: IomapIter, folio: Folio, pos: number, len: number): number {
  const wops = it.api === 'current' ? it.writeOps : null;
  if (wops?.readFolioRange) return wops.readFolioRange(it, folio, pos, len);
  const src = iomapIterSrcmap(it);
  return readFromMap(src, pos, folio, folio.offsetIn(pos), len);
}

/** __iomap_write_begin(): make the blocks the write touches uptodate, run by run (Errata §5.2). */
function __writeBegin(it: IomapIter, pos: number, len: number, folio: Folio): number {
  const inode = it.inode;
  const bs = inode.blockSize;
  let blockStart = roundDown(pos, bs);
  const blockEnd = roundUp(pos + len, bs);
  const nrBlocks = blocksPerFolio(folio, inode.blkbits);
  const from = folio.offsetIn(pos);
  const to = from + len;
  if (!(it.flags & IOMAP_UNSHARE) && pos <= folio.pos && pos + len >= folio.end) return 0;
  const ifs = ifsAlloc(folio, inode.blkbits, (it.flags & IOMAP_NOWAIT) !== 0 && !!writeHooks.failNowaitIfsAlloc);
  if ((it.flags & IOMAP_NOWAIT) && !ifs && nrBlocks > 1) return -EAGAIN;
  if (folio.uptodate) return 0;
  do {
    const [nstart, poff, plen] = adjustReadRange(inode, folio, blockStart, blockEnd - blockStart);
    blockStart = nstart;
    if (plen === 0) break;
    const skip = !(it.flags & IOMAP_UNSHARE) && (from <= poff || from >= poff + plen) && (to <= poff || to >= poff + plen);
    if (!skip) {
      if (blockNeedsZeroing(it, blockStart)) {
        if (it.flags & IOMAP_UNSHARE) {
          warn(inode, 'unshare needs zeroing');
          return -EIO;
        }
        // folio_zero_segments(folio, poff, from, to, poff + plen)
        if (from > poff) folio.data.fill(0, poff, Math.min(from, poff + plen));
        if (to < poff + plen) folio.data.fill(0, Math.max(to, poff), poff + plen);
      } else {
        if (it.flags & IOMAP_NOWAIT) return -EAGAIN;
        const st = readFolioRange(it, folio, blockStart, plen);
        if (st) return st;
      }
      setRangeUptodate(folio, poff, plen, inode.blkbits);
    }
    blockStart += plen;
  } while (blockStart < blockEnd);
  return 0;
}

/** iomap_write_begin_inline(). */
function writeBeginInline(it: IomapIter, folio: Folio): number {
  if (iomapIterSrcmap(it).offset !== 0) {
    warn(it.inode, 'inline write at non-zero offset');
    return -EIO;
  }
  if (folio.uptodate) return 0;
  return readInlineData(it, folio);
}

/** iomap_write_begin(): returns [status, folio | null, trimmed length]. */
function writeBegin(it: IomapIter, pos: number, len: number): [number, Folio | null, number] {
  const src = iomapIterSrcmap(it);
  if (pos + len > it.iomap.offset + it.iomap.length) {
    warn(it.inode, `BUG: write_begin beyond iomap end (${pos}+${len} > ${it.iomap.offset + it.iomap.length})`);
    return [-EIO, null, len];
  }
  if (src !== it.iomap && pos + len > src.offset + src.length) {
    warn(it.inode, 'BUG: write_begin beyond srcmap end');
    return [-EIO, null, len];
  }
  if (writeHooks.fatalSignal) return [-4 /* -EINTR */, null, len];
  writeHooks.beforeGetFolio?.(it, pos);
  const got = getFolio(it, pos, len);
  if (typeof got === 'number') return [got, null, len];
  const folio = got;
  const fops = writeHooksOf(it);
  if (fops?.iomapValid && !fops.iomapValid(it.inode, it.iomap)) {
    it.iomap.flags |= IOMAP_F_STALE;
    putFolio(it, pos, 0, folio);
    return [0, null, len];
  }
  if (pos + len > folio.end) len = folio.end - pos;
  let status: number;
  if (src.type === IOMAP_INLINE) status = writeBeginInline(it, folio);
  else if (src.flags & IOMAP_F_BUFFER_HEAD) status = -EIO; // buffer heads are not modelled
  else status = __writeBegin(it, pos, len, folio);
  if (status) {
    putFolio(it, pos, 0, folio);
    return [status, null, len];
  }
  return [0, folio, len];
}

/** __iomap_write_end(): refuse a short copy into a folio that is not uptodate. */
function __writeEnd(inode: Inode, pos: number, len: number, copied: number, folio: Folio): boolean {
  if (copied < len && !folio.uptodate && !modelBugs.writeEndShortCopyUptodate) return false;
  setRangeUptodate(folio, folio.offsetIn(pos), len, inode.blkbits);
  setRangeDirty(folio, folio.offsetIn(pos), copied, inode.blkbits);
  folio.dirty = true; // filemap_dirty_folio()
  inode.mapping.dirtiedPages = true; // __mark_inode_dirty(I_DIRTY_PAGES)
  return true;
}

/** iomap_write_end(). */
function writeEnd(it: IomapIter, pos: number, len: number, copied: number, folio: Folio): boolean {
  const src = iomapIterSrcmap(it);
  if (src.type === IOMAP_INLINE) {
    if (!folio.uptodate) warn(it.inode, 'inline write_end on folio that is not uptodate');
    const map = it.iomap;
    if (!map.inlineData || pos - map.offset + copied > map.inlineData.length) {
      warn(it.inode, 'BUG: inline data too small for write');
      return false;
    }
    map.inlineData.set(folio.data.subarray(folio.offsetIn(pos), folio.offsetIn(pos) + copied), pos - map.offset);
    inodeMarkDirty(it.inode);
    return true;
  }
  return __writeEnd(it.inode, pos, len, copied, folio);
}

/** mark_inode_dirty(): the filesystem notices through its inode state; recorded for the monitor. */
function inodeMarkDirty(inode: Inode): void {
  inode.mapping.inodeDirty = true;
}

/** iomap_write_failed(): drop page cache for the part of a failed chunk beyond EOF. */
function writeFailed(inode: Inode, pos: number, len: number): void {
  const isize = inode.size;
  if (pos + len > isize) inode.mapping.truncateRange(Math.max(pos, isize), pos + len - 1);
}

/**
 * pagecache_isize_extended(): after i_size grew from `from` to `to` with blocks smaller than a
 * page, write-protect the old EOF page (so the next store faults and allocates) and zero its
 * post-EOF bytes if it is dirty (mmap stores may have left garbage there).
 */
/** folio_mkclean(): write-protect; a PTE-dirty folio gets marked dirty through ->dirty_folio. */
export function folioMkclean(folio: Folio): void {
  const wasPteDirty = folio.pteDirty;
  folio.pteWritable = false;
  folio.pteDirty = false;
  if (wasPteDirty) iomapDirtyFolio(folio);
}

export function pagecacheIsizeExtended(inode: Inode, from: number, to: number): void {
  const bs = inode.blockSize;
  if (from >= to || bs >= PAGE_SIZE) return;
  const roundedFrom = roundUp(from, bs);
  if (to <= roundedFrom || (roundedFrom & (PAGE_SIZE - 1)) === 0) return;
  const folio = inode.mapping.lookup(Math.floor(from / PAGE_SIZE));
  if (!folio) return;
  folioMkclean(folio);
  if (folio.dirty) {
    const offset = from - folio.pos;
    const end = Math.min(to - folio.pos, folio.size);
    folio.data.fill(0, offset, end);
  }
}

/** iomap_write_iter(): the per-mapping body of a buffered write. */
function writeIter(it: IomapIter, iov: IovIter): number {
  let length = iomapLength(it);
  let pos = it.pos;
  let total = 0;
  let status = 0;
  let chunk = PAGE_SIZE << it.inode.mapping.geometry.maxOrder;
  outer: do {
    let bytes = iov.count;
    for (;;) { // retry:
      const offset = pos & (chunk - 1);
      bytes = Math.min(chunk - offset, bytes);
      if (bytes > length) bytes = length;
      if (iov.faultInReadable(bytes) === bytes) { status = -EFAULT; break outer; }
      const [st, folio, blen] = writeBegin(it, pos, bytes);
      if (st) {
        writeFailed(it.inode, it.pos, iomapLength(it));
        status = st;
        break outer;
      }
      if (it.iomap.flags & IOMAP_F_STALE) break outer;
      const f = folio!;
      bytes = blen;
      const foff = f.offsetIn(pos);
      if (bytes > f.size - foff) bytes = f.size - foff;
      const copied = iov.copyFrom(f.data, foff, bytes);
      const written = writeEnd(it, pos, bytes, copied, f) ? copied : 0;
      const oldSize = it.inode.size;
      if (pos + written > oldSize) {
        it.inode.size = pos + written;
        it.iomap.flags |= IOMAP_F_SIZE_CHANGED;
      }
      putFolio(it, pos, written, f);
      if (oldSize < pos) pagecacheIsizeExtended(it.inode, oldSize, pos);
      if (written === 0) {
        writeFailed(it.inode, pos, bytes);
        iov.revert(copied);
        if (chunk > PAGE_SIZE) chunk /= 2;
        if (copied) { bytes = copied; continue; }
      } else {
        pos += written;
        total += written;
        length -= written;
      }
      break;
    }
  } while (iov.count && length);
  if (status === -EAGAIN) {
    iov.revert(total);
    return -EAGAIN;
  }
  return total ? total : status;
}

/** iomap_file_buffered_write(): returns bytes written, or a negative errno if none were. */
export function iomapFileBufferedWrite(inode: Inode, pos: number, iov: IovIter, ops: IomapOps, nowait = false, priv?: unknown,
  writeOps: IomapWriteOps | null = null, dontcache = false): number {
  const it = new IomapIter(inode, pos, iov.count, IOMAP_WRITE | (nowait ? IOMAP_NOWAIT : 0) | (dontcache ? IOMAP_DONTCACHE : 0), priv);
  it.writeOps = writeOps;
  let ret: number;
  while ((ret = iomapIter(it, ops)) > 0) iomapIterBodyDone(it, writeIter(it, iov));
  if (it.pos > pos) return it.pos - pos;
  return ret;
}

/* ------------------------------------------------------------------------------------------ */
/* Delalloc release (rule 24/25)                                                              */
/* ------------------------------------------------------------------------------------------ */

export type PunchFn = (inode: Inode, off: number, len: number, iomap: Iomap) => void;

/** iomap_write_delalloc_ifs_punch(): punch the clean blocks of a dirty folio. */
function delallocIfsPunch(inode: Inode, folio: Folio, start: number, end: number, iomap: Iomap, punch: PunchFn): void {
  const ifs = folio.ifs;
  if (!ifs || modelBugs.delallocNoPerBlockPunch) return;
  const blkbits = inode.blkbits;
  const lastByte = Math.min(end - 1, folio.end - 1);
  const firstBlk = folio.offsetIn(start) >>> blkbits;
  const lastBlk = folio.offsetIn(lastByte) >>> blkbits;
  for (let i = firstBlk; i <= lastBlk; i++) {
    if (!ifs.dirty[i]) punch(inode, folio.pos + i * inode.blockSize, inode.blockSize, iomap);
  }
}

/** iomap_write_delalloc_scan(): walk cached data folios; returns the new punch start. */
function delallocScan(inode: Inode, punchStart: number, start: number, end: number, iomap: Iomap, punch: PunchFn): number {
  while (start < end) {
    const folio = inode.mapping.lookup(Math.floor(start / PAGE_SIZE));
    if (!folio) {
      start = roundDown(start, PAGE_SIZE) + PAGE_SIZE;
      continue;
    }
    if (folio.dirty) {
      if (start > punchStart) punch(inode, punchStart, start - punchStart, iomap);
      delallocIfsPunch(inode, folio, start, end, iomap, punch);
      punchStart = Math.min(end, folio.end);
    }
    start = folio.end;
  }
  return punchStart;
}

/**
 * iomap_write_delalloc_release() (6.12 form): keep delalloc exactly over dirty cached blocks
 * below EOF, punch everything else in [start, end). The caller holds invalidate_lock.
 */
export function iomapWriteDelallocRelease(inode: Inode, start: number, end: number, _flags: number, iomap: Iomap, punch: PunchFn): void {
  let punchStart = start;
  const scanEnd = modelBugs.delallocScanPastEof ? end : Math.min(inode.size, end);
  const mapping = inode.mapping;
  while (start < scanEnd) {
    start = mapping.seekHoleData(start, scanEnd, true);
    if (start === -ENXIO || start === scanEnd) break;
    if (start < 0) { warn(inode, 'delalloc release: seek data failed'); return; }
    const dataEnd = mapping.seekHoleData(start, scanEnd, false);
    if (dataEnd < 0) { warn(inode, 'delalloc release: seek hole failed'); return; }
    if (dataEnd === start) continue;
    punchStart = delallocScan(inode, punchStart, start, dataEnd, iomap, punch);
    start = dataEnd;
  }
  if (punchStart < end) punch(inode, punchStart, end - punchStart, iomap);
}

/** iomap_last_written_block(): first block a short write did not reach. */
export function iomapLastWrittenBlock(inode: Inode, pos: number, written: number): number {
  if (written === 0) return roundDown(pos, inode.blockSize);
  return roundUp(pos + written, inode.blockSize);
}

/* ------------------------------------------------------------------------------------------ */
/* page_mkwrite (§5.3)                                                                        */
/* ------------------------------------------------------------------------------------------ */

/** folio_mkwrite_check_truncate(): bytes of the folio below EOF, or -EFAULT. */
export function folioMkwriteCheckTruncate(folio: Folio, inode: Inode): number {
  const size = inode.size;
  const index = Math.floor(size / PAGE_SIZE);
  const offset = folio.offsetIn(size);
  if (folio.mapping !== inode.mapping) return -EFAULT;
  if (folio.nextIndex - 1 < index) return folio.size;
  // §7.16 as shipped: ">=" where ">" was meant, so the valid, partly-inside-EOF last folio is
  // refused and a store to the last page raises SIGBUS.
  if (modelBugs.mkwriteEofOffByOne && folio.index >= index) return -EFAULT;
  if (folio.index > index || !offset) return -EFAULT;
  return offset;
}

/**
 * iomap_page_mkwrite(): map the part of the folio below EOF for writing and dirty the folio
 * after every mapping. Returns 0 (VM_FAULT_LOCKED) or a negative errno (the caller turns
 * -EFAULT/-EAGAIN into a retry, -ENOMEM into OOM, anything else into SIGBUS).
 */
export function iomapPageMkwrite(inode: Inode, folio: Folio, ops: IomapOps): number {
  folio.locked = true;
  let ret = folioMkwriteCheckTruncate(folio, inode);
  if (ret < 0) {
    folio.locked = false;
    return ret;
  }
  const it = new IomapIter(inode, folio.pos, ret, IOMAP_WRITE | IOMAP_FAULT);
  while ((ret = iomapIter(it, ops)) > 0) {
    const length = iomapLength(it);
    if (!folio.uptodate) warn(inode, 'page_mkwrite on folio that is not uptodate');
    if (!modelBugs.mkwriteDirtyAfterIteration) iomapDirtyFolio(folio);
    iomapIterBodyDone(it, length);
  }
  if (ret < 0) {
    folio.locked = false;
    return ret;
  }
  if (modelBugs.mkwriteDirtyAfterIteration) iomapDirtyFolio(folio);
  inode.mapping.queue.waitFolio(folio); // folio_wait_stable()
  return 0;
}

export function mkwriteErrorIsRetry(err: number): boolean {
  return err === -EFAULT || err === -EAGAIN;
}

export function mkwriteErrorIsOom(err: number): boolean {
  return err === -ENOMEM;
}

/* ------------------------------------------------------------------------------------------ */
/* zero_range / truncate_page (§5.4) and unshare (§5.5)                                       */
/* ------------------------------------------------------------------------------------------ */

/** iomap_zero_iter(): zero a non-hole mapping folio by folio through write_begin/write_end. */
function zeroIter(it: IomapIter, didZero: { v: boolean }): number {
  const length = iomapLength(it);
  const st = zeroInFolioRange(it, it.pos, it.pos + length, didZero);
  if (st !== null && st < 0) return st;
  didZero.v = true;
  // A stale mapping ends the iteration with the bytes done so far.
  return st ?? length;
}

/** The 6.12 flush of dirty cache over HOLE/UNWRITTEN, as a switch (same as modelBugs.zeroRangeNoFlush). */
export const zeroRangeConfig = {
  get flushDirtyOverUnwritten(): boolean { return !modelBugs.zeroRangeNoFlush; },
  set flushDirtyOverUnwritten(v: boolean) { modelBugs.zeroRangeNoFlush = !v; },
};

/** iomap_zero_iter_flush_and_stale(). */
function zeroFlushAndStale(it: IomapIter): number {
  const end = it.pos + it.len - 1;
  // The kernel marks the mapping stale BEFORE flushing and returns the flush result as is, so
  // ->iomap_end sees IOMAP_F_STALE even when the flush fails (and the error ends zero_range).
  it.iomap.flags |= IOMAP_F_STALE;
  return filemapWriteAndWaitRange(it.inode.mapping, it.pos, end);
}

/**
 * Zero the cached folios that are dirty or under writeback inside the current UNWRITTEN mapping,
 * in place, and skip the rest (clean or uncached blocks read as zeroes already): what 6.17+ does
 * with the folio batch a filesystem fills for IOMAP_ZERO (xfs: iomap_fill_dirty_folios), and what
 * ext4's page-cache zeroing amounts to. With `dirtyBlocksOnly` a dirty folio's clean blocks are
 * skipped too (xfs, 'within-eof': see ZeroInCache). Returns the whole mapping length as processed.
 */
function zeroDirtyFolios(it: IomapIter, didZero: { v: boolean }, cap = Infinity, dirtyBlocksOnly = false): number {
  const len = Math.min(iomapLength(it), cap);
  const end = it.pos + len;
  const mapping = it.inode.mapping;
  const bs = it.inode.blockSize;
  for (const f of mapping.foliosIn(Math.floor(it.pos / PAGE_SIZE), Math.floor((end - 1) / PAGE_SIZE))) {
    if (!f.dirty && !f.writeback) continue;
    const from = Math.max(it.pos, f.pos);
    const to = Math.min(end, f.end);
    const runs = dirtyBlocksOnly && !f.writeback ? dirtyRuns(f, from, to, bs) : [[from, to]];
    for (const [a, b] of runs) {
      const st = zeroInFolioRange(it, a, b, didZero);
      if (st !== null) return st;
    }
  }
  return len;
}

/** The parts of [from, to) (inside folio `f`) whose blocks are dirty. */
function dirtyRuns(f: Folio, from: number, to: number, bs: number): [number, number][] {
  const out: [number, number][] = [];
  for (let pos = from; pos < to;) {
    const next = Math.min(to, (Math.floor(pos / bs) + 1) * bs);
    if (blockIsDirty(f, Math.floor((pos - f.pos) / bs))) {
      const last = out[out.length - 1];
      if (last !== undefined && last[1] === pos) last[1] = next;
      else out.push([pos, next]);
    }
    pos = next;
  }
  return out;
}

/** Zero [pos, stop) through write_begin/write_end: null when done, else what ends the mapping (an error, or the bytes done when stale). */
function zeroInFolioRange(it: IomapIter, pos: number, stop: number, didZero: { v: boolean }): number | null {
  while (pos < stop) {
    const [st, folio, blen] = writeBegin(it, pos, stop - pos);
    if (st) return st;
    if (it.iomap.flags & IOMAP_F_STALE) return pos - it.pos;
    const off = folio!.offsetIn(pos);
    const bytes = Math.min(blen, folio!.size - off, stop - pos);
    folio!.data.fill(0, off, off + bytes);
    const ok = writeEnd(it, pos, bytes, bytes, folio!);
    putFolio(it, pos, bytes, folio!);
    if (!ok) {
      warn(it.inode, 'zero_range: write_end refused');
      return -EIO;
    }
    didZero.v = true;
    pos += bytes;
  }
  return null;
}

/**
 * iomap_zero_range(): returns 0 or a negative errno; didZero reports whether it zeroed. Dirty cache
 * over an UNWRITTEN mapping is written back first (6.12), or with `zeroDirtyInCache` zeroed in
 * place (6.17+ with a filesystem that fills the folio batch, and ext4's own zeroing).
 */
export function iomapZeroRange(inode: Inode, pos: number, len: number, ops: IomapOps, didZero = { v: false }, zeroDirtyInCache: ZeroInCache = false,
  writeOps: IomapWriteOps | null = null, partialInCache = false): number {
  if (partialInCache) {
    const head = zeroPartialBlockInCache(inode, pos, len, ops, didZero, writeOps);
    if (head < 0) return head;
    pos += head;
    len -= head;
    if (len === 0) return 0;
  }
  const it = new IomapIter(inode, pos, len, IOMAP_ZERO);
  it.writeOps = writeOps;
  let rangeDirty = !modelBugs.zeroRangeNoFlush && inode.mapping.rangeNeedsWriteback(pos, pos + len - 1);
  let ret: number;
  while ((ret = iomapIter(it, ops)) > 0) {
    const src = iomapIterSrcmap(it);
    // 'always': holes too, nothing is ever flushed (ext4 zeroes through the page cache only).
    // 'within-eof': unwritten blocks inside the EOF block only (xfs_buffered_write_iomap_begin
    // fills the folio batch for those and trims the mapping at EOF; past it the flush decides).
    const eofEnd = roundUp(inode.size, inode.blockSize);
    if (zeroDirtyInCache === 'within-eof' && src.type === IOMAP_UNWRITTEN && it.pos < eofEnd) {
      iomapIterBodyDone(it, zeroDirtyFolios(it, didZero, eofEnd - it.pos, true));
      continue;
    }
    if (zeroDirtyInCache === true && src.type === IOMAP_UNWRITTEN) {
      iomapIterBodyDone(it, zeroDirtyFolios(it, didZero));
      continue;
    }
    // ext4 zeroes through buffer heads: only buffers that hold data (delalloc or dirty) are
    // touched, so a hole or unwritten block that is clean stays clean in a folio dirty elsewhere
    // (diff, ext4 1k seed 501, op 986,498, 4 ops: a zero range's tail edge in block 1).
    if (zeroDirtyInCache === 'always' && (src.type === IOMAP_UNWRITTEN || src.type === IOMAP_HOLE)) {
      iomapIterBodyDone(it, zeroDirtyFolios(it, didZero, Infinity, true));
      continue;
    }
    if (src.type === IOMAP_HOLE || src.type === IOMAP_UNWRITTEN) {
      let proc = iomapLength(it);
      if (rangeDirty) {
        rangeDirty = false;
        proc = zeroFlushAndStale(it);
      }
      iomapIterBodyDone(it, proc);
      continue;
    }
    iomapIterBodyDone(it, zeroIter(it, didZero));
  }
  return ret;
}

/**
 * 6.13-6.18: a zeroing that starts inside a block whose part of the range is dirty in the cache
 * zeroes that partial block through the cache whatever the mapping, so a truncate's EOF zeroing
 * does not write back the dirty folio around it. Returns the bytes it took (0: not this case).
 */
function zeroPartialBlockInCache(inode: Inode, pos: number, len: number, ops: IomapOps, didZero: { v: boolean },
  writeOps: IomapWriteOps | null): number {
  const off = pos & (inode.blockSize - 1);
  const plen = Math.min(len, inode.blockSize - off);
  if (!off || !inode.mapping.rangeNeedsWriteback(pos, pos + plen - 1)) return 0;
  const it = new IomapIter(inode, pos, plen, IOMAP_ZERO);
  it.writeOps = writeOps;
  let ret: number;
  while ((ret = iomapIter(it, ops)) > 0) iomapIterBodyDone(it, zeroIter(it, didZero));
  return ret < 0 ? ret : it.pos - pos;
}

/**
 * Where zeroing over dirty cache happens in place instead of after a flush: false (6.12: flush),
 * true (over UNWRITTEN mappings), 'within-eof' (over UNWRITTEN blocks inside the EOF block that
 * are dirty themselves, xfs 6.17+: a folio the same zeroing dirtied over a written block earlier in
 * the range does not count, as seen on 6.18.44), 'always' (UNWRITTEN and HOLE: ext4).
 */
export type ZeroInCache = boolean | 'within-eof' | 'always';

/** iomap_truncate_page(): zero from pos to the end of its block (nothing if block aligned). */
export function iomapTruncatePage(inode: Inode, pos: number, ops: IomapOps, didZero = { v: false }, zeroDirtyInCache: ZeroInCache = false,
  writeOps: IomapWriteOps | null = null, partialInCache = false): number {
  const off = pos & (inode.blockSize - 1);
  if (!off) return 0;
  return iomapZeroRange(inode, pos, inode.blockSize - off, ops, didZero, zeroDirtyInCache, writeOps, partialInCache);
}

/** iomap_want_unshare_iter() (6.12+ predicate). */
export function wantUnshareIter(it: IomapIter): boolean {
  return (it.iomap.flags & IOMAP_F_SHARED) !== 0 && it.srcmap.type === IOMAP_MAPPED;
}

/** The pre-6.12 predicate (§7.21): anything SHARED whose source is not a hole or unwritten. */
function wantUnshareIterOld(it: IomapIter): boolean {
  return (it.iomap.flags & IOMAP_F_SHARED) !== 0 && it.srcmap.type !== IOMAP_HOLE && it.srcmap.type !== IOMAP_UNWRITTEN;
}

function unshareIter(it: IomapIter): number {
  let pos = it.pos;
  let length = iomapLength(it);
  let written = 0;
  if (!(modelBugs.unshareOldPredicate ? wantUnshareIterOld(it) : wantUnshareIter(it))) return length;
  do {
    let bytes = length;
    const [st, folio, blen] = writeBegin(it, pos, bytes);
    if (st) return st;
    if (it.iomap.flags & IOMAP_F_STALE) break;
    bytes = blen;
    const off = folio!.offsetIn(pos);
    if (bytes > folio!.size - off) bytes = folio!.size - off;
    const ok = writeEnd(it, pos, bytes, bytes, folio!);
    putFolio(it, pos, bytes, folio!);
    if (!ok) {
      warn(it.inode, 'unshare: write_end refused');
      return -EIO;
    }
    pos += bytes;
    written += bytes;
    length -= bytes;
  } while (length > 0);
  return written;
}

/** iomap_file_unshare(). */
export function iomapFileUnshare(inode: Inode, pos: number, len: number, ops: IomapOps, writeOps: IomapWriteOps | null = null): number {
  const size = inode.size;
  if (pos < 0 || pos >= size) return 0;
  const it = new IomapIter(inode, pos, Math.min(len, size - pos), IOMAP_WRITE | IOMAP_UNSHARE);
  it.writeOps = writeOps;
  let ret: number;
  while ((ret = iomapIter(it, ops)) > 0) iomapIterBodyDone(it, unshareIter(it));
  return ret;
}

export { isPartiallyUptodate, IOMAP_DELALLOC, AddressSpace };
