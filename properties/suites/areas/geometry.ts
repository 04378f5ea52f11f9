/**
 * Geometry sweeps (ARCHITECTURE "Geometry is a parameter"; iomap-contract §6.1): block size
 * 512 B … 64 KiB, folio size up to 2 MiB, logical sector 512 or 4096, covering bs < folio,
 * bs == folio and bs > page. Each run draws a geometry and a workload.
 */
import * as fc from 'fast-check';
import { property, SuiteDef } from '../types';
import { defaultSpan, playStep } from '../common';
import { hasNeed, Step, stepsArb, verifyAll } from '../steps';
import { seekWalk } from '../checks';

export interface GeometryChoice {
  blockSize: number;
  folioSize: number;
  sectorSize: number;
}

/** A geometry: bs 2^9..2^16, folio ≥ max(bs, 4 KiB) up to 2 MiB, sector 512 or 4096 (≤ bs). */
export const geometryArb: fc.Arbitrary<GeometryChoice> = fc.record({ bsLog: fc.integer({ min: 9, max: 16 }), extra: fc.nat(5), sector4k: fc.boolean() })
  .map(({ bsLog, extra, sector4k }) => {
    const blockSize = 2 ** bsLog;
    const minFolioLog = Math.max(bsLog, 12);
    const folioSize = 2 ** Math.min(21, minFolioLog + extra);
    const sectorSize = sector4k && blockSize >= 4096 ? 4096 : 512;
    return { blockSize, folioSize, sectorSize };
  });

const WEIGHTS = {
  write: 5, read: 3, mapwrite: 2, mapread: 2, truncate: 2, falloc: 1, punch: 1, zero: 1, collapse: 1, insert: 1, clone: 1,
  dwrite: 1, dread: 1, cycle: 1, fsync: 1, writeback: 1, complete: 1, evict: 1, fiemap: 1,
};

export const geometry: SuiteDef = {
  name: 'geometry',
  area: 'geometry sweeps: block, folio and sector sizes',
  sections: 'ARCHITECTURE (geometry is a parameter); iomap-contract §6.1; file-ops §14.1–14.3',
  needs: ['geometry'],
  properties: [
    property<{ geo: GeometryChoice; steps: Step[] }>({
      name: 'sweep',
      section: 'iomap-contract §6.1 (per-block state when bs < folio), §5.1–5.7; file-ops §14.1–14.3',
      describe: 'the same random workloads stay correct at every block size (512 B–64 KiB), folio size (to 2 MiB) and sector size, including bs > page',
      weight: 0.5,
      arb: () => fc.record({ geo: geometryArb, steps: stepsArb(WEIGHTS, 25) }),
      run: (ctx, input) => {
        const w = ctx.open({ ...input.geo });
        w.check(w.caps.blockSize === input.geo.blockSize, 'op-error', 'geometry', () => [`asked for ${input.geo.blockSize}-byte blocks, the adapter has ${w.caps.blockSize}`]);
        const span = defaultSpan(w);
        const seek = hasNeed(w, 'seek');
        for (const s of input.steps) {
          playStep(w, s, span);
          if (seek) seekWalk(w);
        }
        w.drain();
        verifyAll(w);
        w.quiesce();
      },
    }),
  ],
};
