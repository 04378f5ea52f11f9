/**
 * The generic layer's tracepoints (reference/iomap/trace.ts) turned into state-coverage
 * observations (FileTarget.observeStates): for each mapping, its class, the folio state at the
 * first byte the mapping serves, and where the served range lies against i_size. It reads only
 * what the generic layer holds (the iomap, the page cache, i_size), so it works for every
 * filesystem under the reference generic layer: refs, mutants, module and exec: ops tables.
 */
import {
  EOF_BEFORE, EOF_PAST, EOF_STRADDLING, FOLIO_ABSENT, FOLIO_DIRTY, FOLIO_PARTIAL, FOLIO_UPTODATE, FOLIO_WRITEBACK,
  MAP_SHARED, StateObserver,
} from './types';
import { iomapTrace } from '../reference/iomap/trace';
import { Inode, Iomap, IOMAP_F_SHARED, IOMAP_HOLE } from '../reference/iomap/types';

/** The mapping class: the iomap type (HOLE..INLINE share their numbers), or SHARED for COW. */
export function mapClassOf(m: Iomap, src: Iomap | null): number {
  if ((m.flags & IOMAP_F_SHARED) !== 0 || (src !== null && src.type !== IOMAP_HOLE)) return MAP_SHARED;
  return m.type;
}

/** Folio state at `pos`: writeback over dirty over not-uptodate over uptodate; no folio: absent. */
export function folioStateAt(inode: Inode, pos: number): number {
  const f = inode.mapping.folioAt(pos);
  if (f === undefined) return FOLIO_ABSENT;
  if (f.writeback) return FOLIO_WRITEBACK;
  if (f.dirty) return FOLIO_DIRTY;
  return f.uptodate ? FOLIO_UPTODATE : FOLIO_PARTIAL;
}

/** [pos, end) against i_size. */
export function eofRelation(pos: number, end: number, size: number): number {
  if (pos >= size) return EOF_PAST;
  return end > size ? EOF_STRADDLING : EOF_BEFORE;
}

/**
 * Install (or with null remove) `o` as the listener of the generic layer's tracepoints. The
 * served range of an iteration is the request clipped to the mapping (what the body works on).
 */
export function traceStates(o: StateObserver | null): void {
  if (o === null) {
    iomapTrace.iterMap = null;
    iomapTrace.writepageMap = null;
    return;
  }
  iomapTrace.iterMap = (inode, pos, len, _flags, iomap, srcmap) => {
    const end = Math.min(pos + Math.max(len, 1), iomap.offset + iomap.length);
    o.mapping(mapClassOf(iomap, srcmap), folioStateAt(inode, pos), eofRelation(pos, end, inode.size));
  };
  iomapTrace.writepageMap = (inode, pos, len, iomap) => {
    const end = Math.min(pos + len, iomap.offset + iomap.length);
    o.mapping(mapClassOf(iomap, null), folioStateAt(inode, pos), eofRelation(pos, end, inode.size));
  };
}
