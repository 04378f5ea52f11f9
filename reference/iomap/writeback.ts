/**
 * Buffered writeback (§5.6) in both API generations. 6.12: writeback_iter, W2 map_blocks with a
 * length, writeback bit set before mapping with a +1 write_bytes_pending bias, end =
 * round_up(i_size, bs), ->discard_folio on a mapping error, ->prepare_ioend at submission.
 * current (6.17+): the same folio walk, but each dirty run goes to the filesystem's
 * ->writeback_range (which maps and queues it with iomapAddToIoend), the folio's data ends at
 * i_size, and the pass ends with ->writeback_submit.
 * Includes the mm/page-writeback.c pieces iomap is driven by (writeback_iter,
 * filemap_write_and_wait_range, fdatawait).
 */
import {
  Inode, IOMAP_HOLE, IOMAP_INLINE, IomapWritebackOps, PAGE_SIZE, WritebackControl, WritebackOps, WritepageCtx, roundUp,
  zeroedIomap,
} from './types';
import { Folio, blocksPerFolio, clearRangeDirty, findDirtyRange, ifsAlloc, setRangeDirty } from './folio';
import { addToIoend, submitIoend } from './ioend';
import type { AddressSpace } from './pagecache';
import { EIO } from '../errno';
import { modelBugs } from '../bugs';
import { iomapTrace } from './trace';

/** A 6.12 writepage context. */
export function newWritepageCtx(ops: WritebackOps): WritepageCtx {
  return { iomap: zeroedIomap(), ioend: null, ops, wbOps: null, inode: null, wbc: null, nrFolios: 0, private: null };
}

/** A current-generation writepage context (the filesystem's ->writepages sets inode and ops). */
export function newWritebackCtx(inode: Inode, wbOps: IomapWritebackOps): WritepageCtx {
  return { iomap: zeroedIomap(), ioend: null, ops: null, wbOps, inode, wbc: null, nrFolios: 0, private: null };
}

/** The writepages entry point for an inode in its filesystem's generation. */
export function writepagesFor(inode: Inode, ops: WritebackOps | undefined, wbOps: IomapWritebackOps | undefined):
  (wbc: WritebackControl) => number {
  if (inode.api === 'current') {
    if (!wbOps) throw new Error('a current-generation filesystem must provide iomap_writeback_ops (wbOps)');
    return (wbc) => iomapWritepages(inode.mapping, wbc, newWritebackCtx(inode, wbOps));
  }
  if (!ops) throw new Error('a 6.12 filesystem must provide writeback ops (writebackOps)');
  return (wbc) => iomapWritepages(inode.mapping, wbc, newWritepageCtx(ops));
}


/**
 * iomap_writepage_handle_eof(): false if the folio lies wholly beyond EOF; else where its data
 * ends: round_up(i_size, bs) in 6.12, i_size itself in the current generation.
 */
function writepageHandleEof(folio: Folio, inode: Inode): number | null {
  const isize = inode.size;
  let endPos = folio.end;
  if (endPos > isize) {
    const poff = folio.offsetIn(isize);
    const endIndex = Math.floor(isize / PAGE_SIZE);
    if (folio.index > endIndex || (folio.index === endIndex && poff === 0)) return null;
    if (!modelBugs.writebackNoEofZero) folio.data.fill(0, poff, folio.size);
    endPos = inode.api === 'current' ? isize : roundUp(isize, inode.blockSize);
  }
  return endPos;
}

/** iomap_writepage_map_blocks(): map one dirty run, possibly with several mappings. */
function writepageMapBlocks(wpc: WritepageCtx, wbc: WritebackControl, folio: Folio, inode: Inode, pos: number,
  dirtyLen: number, count: { n: number }): number {
  let error = 0;
  do {
    error = wpc.ops!.mapBlocks(wpc, inode, pos, dirtyLen);
    if (error) break;
    if (iomapTrace.writepageMap !== null) iomapTrace.writepageMap(inode, pos, dirtyLen, wpc.iomap);
    const mapLen = Math.min(dirtyLen, wpc.iomap.offset + wpc.iomap.length - pos);
    if (!folio.ifs && mapLen < dirtyLen) inode.mapping.warnings.push('map_blocks: short mapping for a folio without per-block state');
    if (mapLen <= 0) {
      // W2 would loop forever here; the model stops and reports it.
      inode.mapping.warnings.push(`map_blocks returned a mapping that does not cover ${pos}`);
      error = -EIO;
      break;
    }
    switch (wpc.iomap.type) {
      case IOMAP_INLINE:
        inode.mapping.warnings.push('map_blocks returned INLINE');
        error = -EIO;
        break;
      case IOMAP_HOLE:
        break;
      default:
        error = addToIoend(wpc, wbc, folio, inode, pos, mapLen);
        if (!error) count.n++;
        break;
    }
    dirtyLen -= mapLen;
    pos += mapLen;
  } while (dirtyLen && !error);
  if (error && wpc.ops!.discardFolio) wpc.ops!.discardFolio(folio, pos);
  return error;
}

/**
 * iomap_writeback_range() (current): hand the dirty run to ->writeback_range until all of it is
 * handled. An answer of 0 or more than asked is a WARN and -EIO; bytes of non-HOLE mappings count
 * as submitted (the folio stays under writeback for them).
 */
function writebackRangeCurrent(wpc: WritepageCtx, folio: Folio, inode: Inode, pos: number, rlen: number, endPos: number,
  count: { n: number }): number {
  do {
    const ret = wpc.wbOps!.writebackRange(wpc, folio, pos, rlen, endPos);
    if (ret === 0 || ret > rlen) {
      inode.mapping.warnings.push(`writeback_range returned ${ret} for ${rlen} bytes at ${pos}`);
      return -EIO;
    }
    if (ret < 0) return ret;
    // The rest of the dirty run and its mapping, as 6.12 traces each ->map_blocks.
    if (iomapTrace.writepageMap !== null) iomapTrace.writepageMap(inode, pos, rlen, wpc.iomap);
    rlen -= ret;
    pos += ret;
    if (wpc.iomap.type !== IOMAP_HOLE) count.n++;
  } while (rlen);
  return 0;
}

/** iomap_writepage_map(): write back one locked folio whose dirty flag was just cleared. */
function writepageMap(wpc: WritepageCtx, wbc: WritebackControl, folio: Folio): number {
  const inode = folio.mapping!.host;
  let pos = folio.pos;
  const endPos = writepageHandleEof(folio, inode);
  if (endPos === null) {
    folio.locked = false;
    return 0;
  }
  let ifs = folio.ifs;
  if (blocksPerFolio(folio, inode.blkbits) > 1) {
    if (!ifs) {
      ifs = ifsAlloc(folio, inode.blkbits);
      setRangeDirty(folio, 0, endPos - pos, inode.blkbits);
    }
    if (ifs!.writeBytesPending !== 0) inode.mapping.warnings.push('writeback started with write bytes pending');
    ifs!.writeBytesPending++;
  }
  folio.writeback = true;
  const count = { n: 0 };
  let error = 0;
  const endAligned = roundUp(endPos, inode.blockSize);
  for (;;) {
    const run = findDirtyRange(folio, pos, endAligned, inode.blkbits);
    if (!run) break;
    [pos] = run;
    const rlen = run[1];
    error = wpc.wbOps
      ? writebackRangeCurrent(wpc, folio, inode, pos, rlen, endPos, count)
      : writepageMapBlocks(wpc, wbc, folio, inode, pos, rlen, count);
    if (error) break;
    pos += rlen;
  }
  if (count.n) wpc.nrFolios++;
  clearRangeDirty(folio, 0, folio.size, inode.blkbits);
  if (ifs) {
    ifs.writeBytesPending--;
    if (ifs.writeBytesPending === 0) folio.writeback = false;
  } else if (!count.n) {
    folio.writeback = false;
  }
  folio.locked = false;
  if (!modelBugs.writebackErrorNotRecorded) inode.mapping.setError(error);
  return error;
}

/**
 * writeback_iter() + iomap_writepages(): write back the dirty folios in the range. WB_SYNC_ALL
 * carries on past errors and returns the first; WB_SYNC_NONE stops at the first error. The
 * pass's error also fails the last cached ioend (Errata §5.6 step 6).
 */
export function iomapWritepages(mapping: AddressSpace, wbc: WritebackControl, wpc: WritepageCtx): number {
  wpc.wbc = wbc;
  const first = Math.floor(wbc.rangeStart / PAGE_SIZE);
  const last = Math.floor(Math.min(wbc.rangeEnd, Number.MAX_SAFE_INTEGER) / PAGE_SIZE);
  let firstError = 0;
  for (const folio of mapping.foliosIn(first, last)) {
    if (!folio.dirty || folio.mapping !== mapping) continue;
    if (folio.writeback) {
      if (wbc.syncMode === 'none') continue;
      mapping.queue.waitFolio(folio);
    }
    folio.locked = true;
    // folio_clear_dirty_for_io(): write-protect the PTEs and clear the folio dirty bit.
    folio.pteWritable = false;
    folio.pteDirty = false;
    folio.dirty = false;
    const err = writepageMap(wpc, wbc, folio);
    if (err && !firstError) firstError = err;
    if (firstError && wbc.syncMode === 'none') break;
  }
  if (wpc.wbOps) return wpc.ioend ? wpc.wbOps.writebackSubmit(wpc, firstError) : firstError;
  return submitIoend(wpc, firstError);
}

/** filemap_fdatawrite_range(): start writeback through the mapping's ->writepages. */
export function filemapFdatawriteRange(mapping: AddressSpace, start: number, endIncl: number, sync: 'none' | 'all' = 'all'): number {
  if (!mapping.writepages) return 0;
  return mapping.writepages({ syncMode: sync, rangeStart: start, rangeEnd: endIncl });
}

/** filemap_fdatawait_range(): complete the I/O of this inode (the model completes all of it). */
export function filemapFdatawait(mapping: AddressSpace): void {
  mapping.queue.waitInode(mapping.host);
}

/** filemap_write_and_wait_range(): write, wait, then test-and-clear the AS_EIO-style error. */
export function filemapWriteAndWaitRange(mapping: AddressSpace, start: number, endIncl: number): number {
  let err = 0;
  if (mapping.hasDirtyOrWriteback()) {
    err = filemapFdatawriteRange(mapping, start, endIncl, 'all');
    if (err !== -EIO) filemapFdatawait(mapping);
  }
  const err2 = mapping.checkErrors();
  return err || err2;
}
