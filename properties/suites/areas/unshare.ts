/**
 * Unshare (iomap-contract §5.5, §7.21; file-ops §3.2 UNSHARE_RANGE, §14.9, §14.13).
 */
import type { SuiteDef } from '../types';
import { GEO_DEFAULT, GEO_SUBFOLIO, workloadProperty } from '../common';
import { FIEMAP_EXTENT_SHARED, extentAt, fiemapNoSync, fmtExtents, fullBlocks, lastOp } from '../checks';
import { hasNeed } from '../steps';
import { FL_UNSHARE } from '../../fsx/ops';

const hex = (n: number): string => '0x' + n.toString(16);

export const unshare: SuiteDef = {
  name: 'unshare',
  area: 'FALLOC_FL_UNSHARE_RANGE over reflinked extents',
  sections: 'iomap-contract §5.5, §7.21; file-ops §3.2, §14.9, §14.13',
  needs: ['falloc:0x40', 'clone'],
  properties: [
    workloadProperty({
      name: 'unshare-content-neutral',
      section: 'iomap-contract §5.5; file-ops §14.9, §14.13',
      describe: 'UNSHARE_RANGE changes no byte and leaves no SHARED extent in its range, over shared, delalloc, unwritten and hole sources',
      weights: { write: 3, clone: 4, unshare: 4, read: 2, cycle: 1, fsync: 1, writeback: 1, falloc: 1, mapwriteNoSync: 1 },
      maxSteps: 25,
      geometries: [GEO_DEFAULT, GEO_SUBFOLIO],
      check: (w) => {
        const op = lastOp(w);
        if (op === null || op.name !== 'fallocate' || op.skipped || !hasNeed(w, 'fiemap')) return;
        if ((w.buf.flags[op.n - 1] & FL_UNSHARE) === 0) return;
        const bs = w.bs;
        const end = Math.min(op.off + op.len, w.size);
        if (end <= op.off) return;
        const [b0, b1] = fullBlocks(op.off, end - op.off, bs);
        if (b1 <= b0) return;
        const ext = fiemapNoSync(w, b0 * bs, (b1 - b0) * bs);
        for (let b = b0; b < b1; b++) {
          const e = extentAt(ext, b * bs);
          w.check(e === undefined || (e.flags & FIEMAP_EXTENT_SHARED) === 0, 'fiemap', 'fileops-14.13', () => [
            `after UNSHARE_RANGE ${hex(op.off)}+${hex(op.len)} (op ${op.n}): block at ${hex(b * bs)} is still SHARED`, ...fmtExtents(ext)], b * bs);
        }
      },
    }),
    workloadProperty({
      name: 'cow-isolation',
      section: 'iomap-contract §5.5 (COW through writeback); file-ops §14.13',
      describe: 'a write (buffered, mmap, direct) to one side of a shared range never changes the other side',
      weights: { clone: 4, write: 3, mapwriteNoSync: 1, mapwrite: 1, dwrite: 1, read: 3, cycle: 1, writeback: 1, complete: 1, unshare: 1 },
      maxSteps: 25,
      geometries: [GEO_DEFAULT, GEO_SUBFOLIO],
    }),
  ],
};
