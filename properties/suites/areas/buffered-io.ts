/**
 * Buffered read and write (iomap-contract §5.1, §5.2, §6; file-ops §1, §14.1–14.3).
 */
import * as fc from 'fast-check';
import { property, SuiteDef } from '../types';
import { GEO_DEFAULT, GEO_SMALLFOLIO, GEO_SUBFOLIO, workloadProperty, defaultSpan, playStep } from '../common';
import { Step, stepsArb } from '../steps';

const hex = (n: number): string => '0x' + n.toString(16);

export const bufferedIo: SuiteDef = {
  name: 'buffered-io',
  area: 'buffered read and write through the page cache',
  sections: 'iomap-contract §5.1, §5.2, §6; file-ops §1, §14.1–14.3',
  properties: [
    workloadProperty({
      name: 'read-after-write',
      section: 'iomap-contract §5.1–5.2; file-ops §14.1, §14.3',
      describe: 'every byte read back equals the byte oracle after random buffered writes, truncates, reads, cache drops and reclaim',
      weights: { write: 6, read: 4, truncate: 1, cycle: 1, fsync: 1, mapread: 1, evict: 1, writeback: 1, complete: 1 },
      maxSteps: 40,
      geometries: [GEO_DEFAULT, GEO_SUBFOLIO, GEO_SMALLFOLIO],
    }),
    workloadProperty({
      name: 'sub-block-writes-uncached',
      section: 'iomap-contract §5.2 step 4, §6.2–6.3',
      describe: 'unaligned writes into blocks that are not cached (read-modify-write or zeroing of the block edges) keep the bytes around them',
      weights: { write: 2, cycle: 3, evict: 2, writeback: 1, complete: 1, fsync: 1, read: 2, truncate: 1, falloc: 1 },
      maxSteps: 30,
      geometries: [GEO_SUBFOLIO, GEO_DEFAULT],
    }),
    property<{ steps: Step[]; probes: number[] }>({
      name: 'read-length',
      section: 'iomap-contract §5.1 (return); file-ops §1, §14.2',
      describe: 'pread returns exactly min(n, max(0, size − off)) bytes: 0 at or past EOF, size − off across it',
      arb: () => fc.record({ steps: stepsArb({ write: 4, truncate: 2, punch: 1, cycle: 1 }, 12), probes: fc.array(fc.nat(), { minLength: 1, maxLength: 6 }) }),
      run: (ctx, input) => {
        const w = ctx.open();
        const span = defaultSpan(w);
        for (const s of input.steps) playStep(w, s, span);
        for (const p of input.probes) {
          const size = w.size;
          const off = p % (size + 2 * w.bs + 1);
          const n = 1 + (p >>> 7) % (2 * w.bs);
          const want = Math.max(0, Math.min(n, size - off));
          let got: Uint8Array = new Uint8Array(0);
          w.step(`pread(${hex(off)}, ${hex(n)}) across or past EOF ${hex(size)}`, () => { got = w.target.pread(off, n); });
          w.check(got.length === want, 'short-read', 'fileops-14.2', () => [`pread(${hex(off)}, ${hex(n)}) with size ${hex(size)} returned ${hex(got.length)} bytes, expected ${hex(want)}`]);
          const mm = w.oracle.compare(off, got);
          w.check(mm === null, 'bad-data', 'fileops-14.3', () => [`pread(${hex(off)}, ${hex(n)}): byte at ${hex(mm!.offset)} differs from the oracle`], mm?.offset);
        }
        w.quiesce();
      },
    }),
  ],
};
