/**
 * Short writes and delalloc release (iomap-contract §5.2 steps 6–8 and the delalloc release
 * algorithm, rule 24, §7.2/§7.3/§7.5/§7.6, §8(b) reservations). Model-level: the short write is
 * FileHandle.pwrite(off, data, {faultAt}) on the reference target, and refs' reservation counters
 * are checked after every step (ReferenceTarget.invariants()).
 */
import type { SuiteDef } from '../types';
import { GEO_DEFAULT, GEO_SUBFOLIO, workloadProperty } from '../common';

export const shortWrites: SuiteDef = {
  name: 'short-writes',
  area: 'short writes and delalloc release',
  sections: 'iomap-contract §5.2 (steps 6–8, delalloc release), rule 24, §7.2, §7.3, §7.5, §7.6, §8b',
  needs: ['model', 'faults'],
  properties: [
    workloadProperty({
      name: 'no-leaked-delalloc',
      section: 'iomap-contract §5.2 delalloc release, rule 24, §7.5, §7.6, §8b',
      describe: 'after short writes the reservations equal the delalloc blocks, and every delalloc block is dirty in the cache below EOF',
      weights: { shortWrite: 5, write: 3, mapwriteNoSync: 2, mapwrite: 1, truncate: 1, writeback: 1, complete: 1, fsync: 1, evict: 1, read: 1 },
      maxSteps: 25,
      geometries: [GEO_SUBFOLIO, GEO_DEFAULT],
    }),
    workloadProperty({
      name: 'short-write-keeps-others',
      section: 'iomap-contract §5.2 step 6 (accept nothing of a short copy into a !uptodate folio), §7.2, §7.3',
      describe: 'a short write changes exactly the bytes it reports; dirty data of other writers and of mmap stores in the same folios survives',
      weights: { write: 4, mapwriteNoSync: 3, shortWrite: 4, raceShortWrite: 3, read: 3, cycle: 1, fsync: 1, writeback: 1, complete: 1 },
      maxSteps: 25,
      geometries: [GEO_SUBFOLIO, GEO_DEFAULT],
    }),
  ],
};
