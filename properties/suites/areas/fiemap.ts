/**
 * FIEMAP and FIBMAP (iomap-contract §5.10, §5.11; file-ops §8, §9, §14.19–14.21).
 */
import type { SuiteDef } from '../types';
import { GEO_DEFAULT, GEO_SUBFOLIO, workloadProperty } from '../common';
import { FIEMAP_EXTENT_DELALLOC, FIEMAP_EXTENT_LAST, FIEMAP_EXTENT_UNWRITTEN, extentAt, fiemapNoSync, fmtExtents } from '../checks';
import type { Workload } from '../workload';

/**
 * iomap-contract §5.10: a FIEMAP of the whole file returns sorted, disjoint extents and flags the
 * final one LAST (the last non-hole mapping in the requested range), file-ops §14.19.
 */
function wholeFileShape(w: Workload): void {
  const size = w.size;
  if (size === 0) return;
  const ext = fiemapNoSync(w, 0, w.caps.maxFileSize);
  if (ext.length === 0) return;
  let prev = -1;
  ext.forEach((e, k) => {
    w.check(e.length > 0 && e.logical >= prev, 'fiemap', 'fileops-14.19', () => [`FIEMAP of the whole file: extent ${k} empty, overlapping or out of order`, ...fmtExtents(ext)]);
    prev = e.logical + e.length;
    const last = (e.flags & FIEMAP_EXTENT_LAST) !== 0;
    w.check(last === (k === ext.length - 1), 'fiemap', 'iomap-contract-§5.10', () => [
      `FIEMAP of the whole file: ${last ? `LAST on extent ${k}, not the final one` : `the final extent (${k}) is not flagged LAST`}`, ...fmtExtents(ext)]);
  });
}

/**
 * iomap-contract §5.11, file-ops §14.21 (model-level: FileHandle.bmap): FIBMAP of a block inside
 * a written, unshared extent is its device block; holes, delalloc and unwritten blocks give 0.
 */
function fibmap(w: Workload): void {
  const ref = w.ref!;
  const size = w.size;
  const bs = w.bs;
  if (size === 0) return;
  // FIBMAP flushes the file; the log gets an fsync at this point so replay does the same.
  w.op('fsync', 0, 0);
  const ext = fiemapNoSync(w, 0, size);
  const nb = Math.ceil(size / bs);
  for (let b = 0; b < nb; b++) {
    let got = -1;
    w.step(`FIBMAP block ${b}`, () => { got = ref.fh.bmap(b); });
    w.notes.pop();
    const e = extentAt(ext, b * bs);
    const want = e === undefined || (e.flags & (FIEMAP_EXTENT_UNWRITTEN | FIEMAP_EXTENT_DELALLOC)) !== 0
      ? 0 : (e.physical + (b * bs - e.logical)) / bs;
    w.check(got === want, 'fiemap', 'fileops-14.21', () => [`FIBMAP(${b}) = ${got}, expected ${want}`, ...fmtExtents(ext)], b * bs);
  }
}

export const fiemap: SuiteDef = {
  name: 'fiemap',
  area: 'FIEMAP extent reports and FIBMAP',
  sections: 'iomap-contract §5.10, §5.11; file-ops §8, §9, §14.19–14.21',
  needs: ['fiemap'],
  properties: [
    workloadProperty({
      name: 'shape-and-coverage',
      section: 'iomap-contract §5.10; file-ops §14.19, §14.20',
      describe: 'FIEMAP extents are sorted, disjoint, aligned, LAST only (and always) on the final extent of a whole-file query, and after FLAG_SYNC every non-zero byte is in a written extent',
      weights: { write: 3, falloc: 2, fallocKeep: 1, punch: 2, fiemap: 4, truncate: 1, clone: 1, cycle: 1, insert: 1, collapse: 1, zero: 1, writeback: 1 },
      maxSteps: 30,
      geometries: [GEO_DEFAULT, GEO_SUBFOLIO],
      check: (w) => wholeFileShape(w),
    }),
    workloadProperty({
      name: 'fibmap',
      section: 'iomap-contract §5.11; file-ops §14.21',
      describe: 'FIBMAP agrees with FIEMAP: device block of written blocks, 0 for holes, delalloc and unwritten',
      needs: ['model'],
      weights: { write: 3, falloc: 2, punch: 1, truncate: 1, fsync: 1, clone: 1 },
      maxSteps: 12,
      geometries: [GEO_DEFAULT, GEO_SUBFOLIO],
      finish: (w) => fibmap(w),
    }),
  ],
};

