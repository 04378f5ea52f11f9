/**
 * fs/iomap/iter.c in both API generations (docs/model.md "API generations"): the iteration
 * protocol of contract §3.1 with the Errata.
 *
 *   const it = new IomapIter(inode, pos, len, flags);
 *   let r; while ((r = iomapIter(it, ops)) > 0) iomapIterBodyDone(it, body(it));
 *
 * 6.12 (5.15–6.14): the body reports the bytes it processed in `it.processed` and the next
 * iomap_iter() moves pos/len. current (6.15+): the body moves pos/len itself through
 * iomapIterAdvance() and reports only an error in `it.status`; ->iomap_end is then told the
 * mapping's start position (iter_start_pos) and how far the iterator advanced. The model's
 * bodies are written once: iomapIterBodyDone() hands a body's result to the iterator in the
 * form of the inode's generation, so every body is shared by both.
 *
 * One deliberate model decision: where the kernel only WARNs after ->iomap_begin (offset > pos,
 * length == 0, end <= pos, STALE set), the model records the warning on `it.warnings` and carries
 * on exactly as the kernel would; the contract monitor turns these into hard violations.
 */
import {
  Inode, Iomap, IomapApi, IomapOps, IomapWriteOps, IOMAP_F_STALE, IOMAP_HOLE, resetIomap, zeroedIomap,
} from './types';
import { EIO } from '../errno';
import { iomapTrace } from './trace';

export class IomapIter {
  inode: Inode;
  pos: number;
  len: number;
  /** The API generation the iteration runs in (the inode's filesystem decides). */
  readonly api: IomapApi;
  /** 6.12: bytes done by the body (> 0), 0 to stop, or a negative errno. */
  processed = 0;
  /** current: 0, or a negative errno that ends the iteration (the body advanced pos itself). */
  status = 0;
  /** current: pos when the current mapping was handed out (iter_start_pos). */
  iterStartPos = 0;
  /** current: the buffered-write hooks passed to the entry point (struct iomap_write_ops). */
  writeOps: IomapWriteOps | null = null;
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
    this.api = inode.api ?? '6.12';
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
  return it.api === 'current' ? iomapIterCurrent(it, ops) : iomapIter612(it, ops);
}

/** Map the next range: ->iomap_begin, the WARN checks, the tracepoint. */
function iomapIterBegin(it: IomapIter, ops: IomapOps): number {
  resetIomap(it.iomap);
  resetIomap(it.srcmap);
  const ret = ops.begin(it.inode, it.pos, it.len, it.flags, it.iomap, it.srcmap);
  if (ret < 0) return ret; // ->iomap_end is not called after a failed ->iomap_begin
  iomapIterDone(it);
  it.iterStartPos = it.pos;
  const trace = iomapTrace.iterMap;
  if (trace !== null) trace(it.inode, it.pos, it.len, it.flags, it.iomap, it.srcmap);
  return 1;
}

/** The 6.12 iomap_iter(). */
function iomapIter612(it: IomapIter, ops: IomapOps): number {
  // "Is there a previous mapping" is iomap.length != 0 (Errata §3.1): a zero-length mapping
  // gets no ->iomap_end and the next call maps again at the same position.
  if (it.iomap.length !== 0) {
    if (ops.end) {
      const ret = ops.end(it.inode, it.pos, iomapLength(it), it.processed > 0 ? it.processed : 0,
        it.flags, it.iomap);
      if (ret < 0 && it.processed === 0) return ret;
    }
    const ret = iomapIterAdvance612(it);
    if (ret <= 0) return ret;
  }
  it.processed = 0;
  return iomapIterBegin(it, ops);
}

/**
 * The current iomap_iter() (iomap_iter_next + iomap_iter_continue): ->iomap_end gets the
 * mapping's start, its length from there, and the bytes the body advanced; the iteration goes
 * on while something is left and the body advanced (or the mapping went stale) without error.
 */
function iomapIterCurrent(it: IomapIter, ops: IomapOps): number {
  if (it.iomap.length !== 0) {
    const advanced = it.pos - it.iterStartPos;
    let ret = 0;
    if (ops.end) {
      const olen = it.len + advanced;
      ret = ops.end(it.inode, it.iterStartPos, iomapLengthTrim(it, it.iterStartPos, olen), advanced, it.flags, it.iomap);
    }
    if (ret < 0 && advanced === 0) return ret;
    const stale = (it.iomap.flags & IOMAP_F_STALE) !== 0;
    if (it.status > 0) {
      // A body that still returns bytes processed (the 6.12 form): the kernel WARNs and fails.
      it.warnings.push(`status ${it.status} > 0: a body returned bytes instead of advancing`);
      ret = -EIO;
    } else if (it.status < 0) ret = it.status;
    else if (it.len === 0 || (advanced === 0 && !stale)) ret = 0;
    else ret = 1;
    if (ret <= 0) return ret;
  }
  it.status = 0;
  return iomapIterBegin(it, ops);
}

/** iomap_length_trim(): the mapping's usable length from `pos` for a request of `len`. */
function iomapLengthTrim(it: IomapIter, pos: number, len: number): number {
  let end = it.iomap.offset + it.iomap.length;
  if (it.srcmap.type !== IOMAP_HOLE) end = Math.min(end, it.srcmap.offset + it.srcmap.length);
  const avail = end - pos;
  if (avail < 0) return len;
  return Math.min(len, avail);
}

/**
 * iomap_iter_advance() (current generation): move the iterator over `count` bytes of the current
 * mapping. More than the mapping has left is refused with a WARN and -EIO.
 */
export function iomapIterAdvance(it: IomapIter, count: number): number {
  if (count > iomapLength(it)) {
    it.warnings.push(`advance ${count} > length ${iomapLength(it)}`);
    return -EIO;
  }
  it.pos += count;
  it.len -= count;
  return 0;
}

/**
 * Hand a body's result (bytes processed > 0, 0 to stop, or a negative errno) to the iterator:
 * 6.12 stores it in `processed`; current advances the iterator by it and keeps errors in `status`.
 */
export function iomapIterBodyDone(it: IomapIter, result: number): void {
  if (it.api !== 'current') {
    it.processed = result;
    return;
  }
  it.status = result > 0 ? iomapIterAdvance(it, result) : result;
}

/** The 6.12 advance step (static iomap_iter_advance in 6.2–6.14). */
function iomapIterAdvance612(it: IomapIter): number {
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
  while ((ret = iomapIter(it, ops)) > 0) iomapIterBodyDone(it, body(it));
  return ret;
}
