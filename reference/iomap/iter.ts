/**
 * fs/iomap/iter.c (era A, 5.15–6.14): the iteration protocol of contract §3.1 with the Errata.
 *
 *   const it = new IomapIter(inode, pos, len, flags);
 *   let r; while ((r = iomapIter(it, ops)) > 0) it.processed = body(it);
 *
 * One deliberate model decision: where the kernel only WARNs after ->iomap_begin (offset > pos,
 * length == 0, end <= pos, STALE set), the model records the warning on `it.warnings` and carries
 * on exactly as the kernel would; the contract monitor turns these into hard violations.
 */
import {
  Inode, Iomap, IomapOps, IOMAP_F_STALE, IOMAP_HOLE, resetIomap, zeroedIomap,
} from './types';
import { EIO } from '../errno';
import { iomapTrace } from './trace';

export class IomapIter {
  inode: Inode;
  pos: number;
  len: number;
  /** Era A: bytes done by the body (> 0), 0 to stop, or a negative errno. */
  processed = 0;
  flags: number;
  iomap: Iomap = zeroedIomap();
  srcmap: Iomap = zeroedIomap();
  /** Operation-level cookie (iomap_iter.private), e.g. the dio for direct I/O. */
  private: unknown;
  /** WARN_ON_ONCE conditions the kernel would have printed, in order. */
  warnings: string[] = [];

  constructor(inode: Inode, pos: number, len: number, flags: number, priv?: unknown) {
    this.inode = inode;
    this.pos = pos;
    this.len = len;
    this.flags = flags;
    this.private = priv;
  }
}

/** iomap_iter_srcmap(): where existing data must be read from. */
export function iomapIterSrcmap(it: IomapIter): Iomap {
  return it.srcmap.type !== IOMAP_HOLE ? it.srcmap : it.iomap;
}

/**
 * iomap_length(): the part of the current mapping the body may work on, clamped by the request
 * and by srcmap: min(len, end - pos) in u64. A mapping that ends exactly at pos gives 0; one that
 * ends before pos underflows to a huge number, so the whole remaining request comes out (the
 * underflow the Errata describe), not a negative number.
 */
export function iomapLength(it: IomapIter): number {
  let end = it.iomap.offset + it.iomap.length;
  if (it.srcmap.type !== IOMAP_HOLE) end = Math.min(end, it.srcmap.offset + it.srcmap.length);
  const avail = end - it.pos;
  // Only a negative difference wraps (u64): end == pos is min(len, 0) == 0 in the kernel.
  if (avail < 0) return it.len; // u64 wrap-around: min(len, huge) == len
  return Math.min(it.len, avail);
}

function iomapIterDone(it: IomapIter): void {
  const m = it.iomap;
  if (m.offset > it.pos) it.warnings.push(`iomap.offset ${m.offset} > pos ${it.pos}`);
  if (m.length === 0) it.warnings.push('iomap.length == 0');
  if (m.offset + m.length <= it.pos) it.warnings.push(`iomap end ${m.offset + m.length} <= pos ${it.pos}`);
  if (m.flags & IOMAP_F_STALE) it.warnings.push('iomap_begin returned IOMAP_F_STALE');
}

/**
 * iomap_iter(): finish the previous mapping (->iomap_end, advance) and map the next one.
 * Returns > 0 to run the body, 0 when done, or a negative errno.
 */
export function iomapIter(it: IomapIter, ops: IomapOps): number {
  // "Is there a previous mapping" is iomap.length != 0 (Errata §3.1): a zero-length mapping
  // gets no ->iomap_end and the next call maps again at the same position.
  if (it.iomap.length !== 0) {
    if (ops.end) {
      const ret = ops.end(it.inode, it.pos, iomapLength(it), it.processed > 0 ? it.processed : 0,
        it.flags, it.iomap);
      if (ret < 0 && it.processed === 0) return ret;
    }
    const ret = iomapIterAdvance(it);
    if (ret <= 0) return ret;
  }
  it.processed = 0;
  resetIomap(it.iomap);
  resetIomap(it.srcmap);
  const ret = ops.begin(it.inode, it.pos, it.len, it.flags, it.iomap, it.srcmap);
  if (ret < 0) return ret; // ->iomap_end is not called after a failed ->iomap_begin
  iomapIterDone(it);
  const trace = iomapTrace.iterMap;
  if (trace !== null) trace(it.inode, it.pos, it.len, it.flags, it.iomap, it.srcmap);
  return 1;
}

/** The era-A advance step (static iomap_iter_advance in 6.2–6.12). */
function iomapIterAdvance(it: IomapIter): number {
  const stale = (it.iomap.flags & IOMAP_F_STALE) !== 0;
  if (it.processed < 0) return it.processed;
  if (it.processed === 0 && !stale) return 0;
  if (it.processed > iomapLength(it)) {
    it.warnings.push(`processed ${it.processed} > length ${iomapLength(it)}`);
    return -EIO;
  }
  it.pos += it.processed;
  it.len -= it.processed;
  if (it.len === 0) return 0;
  return 1;
}

/** Run a whole iteration: the common caller shape. Returns the iterator's final return value. */
export function iomapIterate(it: IomapIter, ops: IomapOps, body: (it: IomapIter) => number): number {
  let ret: number;
  while ((ret = iomapIter(it, ops)) > 0) it.processed = body(it);
  return ret;
}
