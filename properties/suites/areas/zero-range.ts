/**
 * zero_range and truncate_page (iomap-contract §5.4, §5.6 step 1, §7.11; file-ops §2, §3.2,
 * §14.6, §14.22).
 */
import type { SuiteDef } from '../types';
import { GEO_DEFAULT, GEO_SUBFOLIO, workloadProperty } from '../common';
import { extentAt, fiemapNoSync, fmtExtents, fullBlocks, lastOp } from '../checks';
import { hasNeed } from '../steps';
import type { Workload } from '../workload';

const hex = (n: number): string => '0x' + n.toString(16);

/** file-ops §14.6: every full block of a ZERO_RANGE inside EOF appears in FIEMAP (never a hole). */
function zeroedBlocksMapped(w: Workload): void {
  const op = lastOp(w);
  if (op === null || op.name !== 'zero_range' || op.skipped || !hasNeed(w, 'fiemap')) return;
  const bs = w.bs;
  const [b0, b1] = fullBlocks(op.off, Math.min(op.len, Math.max(0, w.size - op.off)), bs);
  if (b1 <= b0) return;
  const ext = fiemapNoSync(w, b0 * bs, (b1 - b0) * bs);
  for (let b = b0; b < b1; b++) {
    w.check(extentAt(ext, b * bs) !== undefined, 'fiemap', 'fileops-14.6', () => [
      `after zero_range ${hex(op.off)}+${hex(op.len)} (op ${op.n}): block at ${hex(b * bs)} is a hole in FIEMAP`, ...fmtExtents(ext)], b * bs);
  }
}

export const zeroRange: SuiteDef = {
  name: 'zero-range',
  area: 'zero_range, truncate_page and EOF zeroing',
  sections: 'iomap-contract §5.4, §5.6 step 1, §7.11; file-ops §2, §3.2, §14.6, §14.22',
  needs: ['falloc:0x10'],
  properties: [
    workloadProperty({
      name: 'zero-over-dirty-unwritten',
      section: 'iomap-contract §5.4 (dirty cache over UNWRITTEN), §7.11; file-ops §14.6',
      describe: 'ZERO_RANGE, truncate up and extending writes read zero afterwards even where dirty cached data (or junk stored past EOF) lies over unwritten or delalloc extents; zeroed full blocks stay allocated',
      weights: { falloc: 2, fallocKeep: 2, write: 3, mapwriteNoSync: 2, pollute: 2, zero: 4, zeroKeep: 1, read: 2, writeback: 1, complete: 1, fsync: 1, truncate: 2 },
      maxSteps: 25,
      geometries: [GEO_DEFAULT, GEO_SUBFOLIO],
      check: (w) => zeroedBlocksMapped(w),
    }),
    workloadProperty({
      name: 'truncate-zeroes-eof-block',
      section: 'iomap-contract §5.4 truncate_page, §5.6 step 1; file-ops §2, §14.22',
      describe: 'after truncate down (with the tail of the new EOF block on disk) and any size-raising op, the bytes past the old EOF read zero through pread and mmap',
      weights: { write: 3, truncate: 4, fsync: 2, cycle: 2, mapread: 3, read: 1, mapwrite: 2, zero: 1 },
      maxSteps: 25,
      geometries: [GEO_DEFAULT, GEO_SUBFOLIO],
    }),
  ],
};
