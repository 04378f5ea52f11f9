/**
 * mmap and page_mkwrite (iomap-contract §5.3, §7.7, §7.16; file-ops §10, §14.22, §14.23).
 */
import * as fc from 'fast-check';
import { FsError } from '../../../reference/errno';
import { PAGE_SIZE } from '../../../reference/iomap/types';
import { property, SuiteDef } from '../types';
import { GEO_DEFAULT, GEO_SUBFOLIO, defaultSpan, playStep, workloadProperty } from '../common';
import { Step, stepsArb } from '../steps';
import type { Workload } from '../workload';

const hex = (n: number): string => '0x' + n.toString(16);

/** file-ops §14.23: touching the page past the last one raises SIGBUS (pure: nothing is faulted in). */
function sigbusPastEof(w: Workload): void {
  const last = Math.ceil(w.size / PAGE_SIZE);
  let err: unknown = null;
  w.step(`mmap read of page ${last} (past the last page: SIGBUS expected)`, () => {
    try {
      w.target.mapread!(last * PAGE_SIZE, 1);
    } catch (e) {
      err = e;
      if (!(e instanceof FsError && e.code === 'SIGBUS')) throw e;
    }
  });
  w.notes.pop();
  w.check(err !== null, 'op-error', 'fileops-14.23', () => [`mmap read of page ${last} with size ${hex(w.size)} did not raise SIGBUS`]);
}

export const mmap: SuiteDef = {
  name: 'mmap',
  area: 'mmap reads, stores and page_mkwrite',
  sections: 'iomap-contract §5.3, §7.7, §7.16; file-ops §10, §14.22, §14.23',
  needs: ['mmap'],
  properties: [
    workloadProperty({
      name: 'stores-and-loads',
      section: 'iomap-contract §5.3; file-ops §10, §14.22, §14.23',
      describe: 'stores through the mapping are read back by pread and mmap, the EOF page tail reads zero, pages past EOF raise SIGBUS, stores to the last page work',
      weights: { mapwrite: 5, mapread: 4, write: 2, read: 2, truncate: 3, fsync: 1, cycle: 1, punch: 1, mapwriteNoSync: 1 },
      maxSteps: 30,
      geometries: [GEO_DEFAULT, GEO_SUBFOLIO],
      check: (w) => sigbusPastEof(w),
    }),
    property<{ steps: Step[]; at: number[] }>({
      name: 'mkwrite-enospc',
      section: 'iomap-contract §5.3 (dirty per mapping), §7.7, §8b',
      describe: 'a page_mkwrite that runs out of space part-way (SIGBUS) leaves no reservation without a dirty folio over it',
      needs: ['model', 'mmap', 'faults'],
      arb: () => fc.record({
        steps: stepsArb({ write: 3, fsync: 1, punch: 1, truncate: 1, falloc: 1 }, 10),
        at: fc.array(fc.nat(), { minLength: 1, maxLength: 4 }),
      }),
      run: (ctx, input) => {
        const w = ctx.open(GEO_SUBFOLIO);
        const span = defaultSpan(w);
        for (const s of input.steps) playStep(w, s, span);
        for (const a of input.at) {
          const size = w.size;
          if (size === 0) break;
          const off = a % size;
          const len = Math.min(PAGE_SIZE - (off % PAGE_SIZE), size - off, 1 + (a >>> 12) % 512);
          // At most 0-2 more delalloc blocks: page_mkwrite runs out of space part-way (SIGBUS).
          w.op('mapwrite', off, len, { noMsync: true, reserveBlocks: (a >>> 20) % 3 });
        }
        w.drain();
        w.op('fsync', 0, 0);
        w.quiesce();
      },
    }),
  ],
};
