/**
 * fs/iomap/seek.c (iomap_iter era, 5.15–6.14): SEEK_HOLE / SEEK_DATA over the filesystem's
 * REPORT mappings, contract §5.9 with its Errata.
 *
 *   - pos < 0 or pos ≥ i_size ⇒ -ENXIO without any ->iomap_begin;
 *   - the iteration covers [pos, i_size);
 *   - HOLE is a hole; DELALLOC, INLINE and MAPPED are data; UNWRITTEN is whatever the page cache
 *     says (mapping_seek_hole_data: uptodate folios, uptodate blocks of partially uptodate folios,
 *     and reclaim shadow entries count as data);
 *   - SEEK_DATA with no data before EOF ⇒ -ENXIO; SEEK_HOLE with no hole ⇒ i_size.
 *
 * Inherited 6.6–6.14 quirk (mm/filemap.c, reproduced by AddressSpace.seekHoleData): the folio
 * holding the end of an UNWRITTEN mapping is scanned to the folio's end, and an uptodate block
 * found past the mapping is answered as "data at the mapping's end" — so with blocks smaller than
 * a folio SEEK_DATA can return an offset inside a hole. (A later -mm fix bounds the scan.)
 */
import { modelBugs } from '../bugs';
import { Inode, IomapOps, IOMAP_HOLE, IOMAP_REPORT, IOMAP_UNWRITTEN } from './types';
import { IomapIter, iomapIter, iomapLength, iomapIterBodyDone } from './iter';
import { ENXIO } from '../errno';

function forwardWarnings(it: IomapIter): void {
  for (const w of it.warnings) it.inode.mapping.warnings.push(`iomap_iter: ${w}`);
}

/** iomap_seek_hole_iter(): 0 stops the iteration with *holePos set. */
function seekHoleIter(it: IomapIter, holePos: { v: number }): number {
  const length = iomapLength(it);
  switch (it.iomap.type) {
    case IOMAP_UNWRITTEN:
      // The mutant treats unwritten extents as holes, ignoring cached data over them.
      holePos.v = modelBugs.seekIgnoresPagecache ? it.pos : it.inode.mapping.seekHoleData(it.pos, it.pos + length, false);
      if (holePos.v === it.pos + length) return length;
      return 0;
    case IOMAP_HOLE:
      holePos.v = it.pos;
      return 0;
    default:
      return length;
  }
}

/** iomap_seek_hole(). */
export function iomapSeekHole(inode: Inode, pos: number, ops: IomapOps): number {
  const size = inode.size;
  // Nothing to be found before or beyond the end of the file.
  if (pos < 0 || pos >= size) return -ENXIO;
  const it = new IomapIter(inode, pos, size - pos, IOMAP_REPORT);
  const holePos = { v: pos };
  let ret: number;
  while ((ret = iomapIter(it, ops)) > 0) iomapIterBodyDone(it, seekHoleIter(it, holePos));
  forwardWarnings(it);
  if (ret < 0) return ret;
  if (it.len) return holePos.v; // found a hole before EOF
  return size;
}

/** iomap_seek_data_iter(): 0 stops the iteration with *dataPos set. */
function seekDataIter(it: IomapIter, dataPos: { v: number }): number {
  const length = iomapLength(it);
  switch (it.iomap.type) {
    case IOMAP_HOLE:
      return length;
    case IOMAP_UNWRITTEN:
      dataPos.v = modelBugs.seekIgnoresPagecache ? -1 : it.inode.mapping.seekHoleData(it.pos, it.pos + length, true);
      if (dataPos.v < 0) return length;
      return 0;
    default:
      dataPos.v = it.pos;
      return 0;
  }
}

/** iomap_seek_data(). */
export function iomapSeekData(inode: Inode, pos: number, ops: IomapOps): number {
  const size = inode.size;
  if (pos < 0 || pos >= size) return -ENXIO;
  const it = new IomapIter(inode, pos, size - pos, IOMAP_REPORT);
  const dataPos = { v: pos };
  let ret: number;
  while ((ret = iomapIter(it, ops)) > 0) iomapIterBodyDone(it, seekDataIter(it, dataPos));
  forwardWarnings(it);
  if (ret < 0) return ret;
  if (it.len) return dataPos.v; // found data before EOF
  // Reached the end of the file without finding data.
  return -ENXIO;
}
