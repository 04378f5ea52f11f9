/**
 * Reflink, dedupe and copy (file-ops §4, §5, §6, §14.11–14.15).
 */
import { SuiteDef } from '../types';
import { GEO_DEFAULT, GEO_SUBFOLIO, workloadProperty } from '../common';

/**
 * Sharing after a clone, or a dedupe of equal ranges (file-ops §14.11, §14.14): the ops carry
 * checkShared (op log v3), so the fsx runner checks FIEMAP SHARED right after them, in the suite
 * and in a replay of its log alike. Targets without FIEMAP make no such check.
 */
const SHARED = { checkShared: true };

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
      wo: SHARED,
    }),
    workloadProperty({
      name: 'dedupe-and-copy',
      section: 'file-ops §5, §6, §14.14, §14.15',
      describe: 'dedupe of equal ranges reports the capped length and shares them, of different ranges 0 with nothing changed; copy_file_range copies exactly',
      needs: ['dedupe', 'copyRange'],
      weights: { dedupeSame: 3, dedupe: 2, copy: 3, write: 3, read: 2, cycle: 1, fsync: 1 },
      maxSteps: 25,
      geometries: [GEO_DEFAULT, GEO_SUBFOLIO],
      wo: SHARED,
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
