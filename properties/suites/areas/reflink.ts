/**
 * Reflink, dedupe and copy (file-ops §4, §5, §6, §14.11–14.15).
 */
import { SuiteDef } from '../types';
import { GEO_DEFAULT, GEO_SUBFOLIO, workloadProperty } from '../common';
import { checkShared, lastOp } from '../checks';
import { hasNeed } from '../steps';
import type { Workload } from '../workload';

function sharedAfterRemap(w: Workload): void {
  const op = lastOp(w);
  if (op === null || op.skipped || !hasNeed(w, 'fiemap')) return;
  if (op.name === 'clone_range') checkShared(w, op.off, op.dst, op.len, 'fileops-14.11', `clone_range ${op.off}+${op.len} to ${op.dst} (op ${op.n})`);
  if (op.name === 'dedupe_range' && w.oracle.equalRanges(op.off, op.dst, op.len)) {
    checkShared(w, op.off, op.dst, op.len, 'fileops-14.14', `dedupe_range of equal ranges ${op.off}+${op.len} and ${op.dst} (op ${op.n})`);
  }
}

export const reflink: SuiteDef = {
  name: 'reflink',
  area: 'FICLONERANGE, FIDEDUPERANGE and copy_file_range',
  sections: 'file-ops §4, §5, §6, §14.11–14.15',
  needs: ['clone'],
  properties: [
    workloadProperty({
      name: 'clone-shares',
      section: 'file-ops §4, §14.11',
      describe: 'after a clone the destination reads the source bytes, and every full block allocated in the source is SHARED in both at one physical address',
      weights: { write: 3, clone: 4, read: 2, fsync: 1, cycle: 1, falloc: 1, punch: 1 },
      maxSteps: 25,
      geometries: [GEO_DEFAULT, GEO_SUBFOLIO],
      check: (w) => sharedAfterRemap(w),
    }),
    workloadProperty({
      name: 'dedupe-and-copy',
      section: 'file-ops §5, §6, §14.14, §14.15',
      describe: 'dedupe of equal ranges reports the capped length and shares them, of different ranges 0 with nothing changed; copy_file_range copies exactly',
      needs: ['dedupe', 'copyRange'],
      weights: { dedupeSame: 3, dedupe: 2, copy: 3, write: 3, read: 2, cycle: 1, fsync: 1 },
      maxSteps: 25,
      geometries: [GEO_DEFAULT, GEO_SUBFOLIO],
      check: (w) => sharedAfterRemap(w),
    }),
    workloadProperty({
      name: 'cow-isolation',
      section: 'file-ops §14.13',
      describe: 'writes of every kind to one side of a shared range never show on the other side',
      weights: { clone: 3, write: 3, mapwriteNoSync: 1, mapwrite: 1, dwrite: 1, read: 3, cycle: 1, writeback: 1, complete: 1, truncate: 1, punch: 1 },
      maxSteps: 25,
      geometries: [GEO_DEFAULT, GEO_SUBFOLIO],
    }),
  ],
};
