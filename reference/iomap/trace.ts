/**
 * fs/iomap/trace.h, reduced to the two tracepoints a state-coverage observer needs: every mapping
 * the iterator hands to an operation body (trace_iomap_iter_dstmap / _srcmap) and every mapping
 * writeback uses for a dirty range (trace_iomap_writepage_map). Like a tracepoint, a hook costs
 * one null test when nobody listens, and sees the mapping through the generic layer only, so it
 * works for any filesystem under the model.
 *
 * One listener at a time (the harness runs one target per thread).
 */
import type { Inode, Iomap } from './types';

export interface IomapTraceHooks {
  /** After a successful ->iomap_begin: the request [pos, pos + len) and the mappings returned. */
  iterMap: ((inode: Inode, pos: number, len: number, flags: number, iomap: Iomap, srcmap: Iomap) => void) | null;
  /** After a successful ->map_blocks for the dirty range [pos, pos + len) of a folio under writeback. */
  writepageMap: ((inode: Inode, pos: number, len: number, iomap: Iomap) => void) | null;
}

export const iomapTrace: IomapTraceHooks = { iterMap: null, writepageMap: null };
