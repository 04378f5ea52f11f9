/**
 * SEEK_DATA / SEEK_HOLE (iomap-contract §5.9 and its Errata; file-ops §7, §14.16–14.18).
 */
import { FsError } from '../../../reference/errno';
import { SuiteDef } from '../types';
import { GEO_DEFAULT, GEO_SUBFOLIO, workloadProperty } from '../common';
import { blockIsData, seekWalk } from '../checks';
import type { Workload } from '../workload';

const hex = (n: number): string => '0x' + n.toString(16);

/** The independent per-block "data" classification of checks.ts, on the workload's file. */
function isData(w: Workload, b: number): boolean {
  const ref = w.ref!;
  return blockIsData(ref.fsys.fs, ref.fh.inode, b);
}

function seekRaw(w: Workload, data: boolean, off: number): number {
  let r = -1;
  w.step(`${data ? 'SEEK_DATA' : 'SEEK_HOLE'}(${hex(off)})`, () => {
    try {
      r = data ? w.target.seekData!(off) : w.target.seekHole!(off);
    } catch (e) {
      if (!(e instanceof FsError && e.code === 'ENXIO')) throw e;
    }
  });
  w.notes.pop();
  return r;
}

function classifiedSeek(w: Workload): void {
  const size = w.size;
  const bs = w.bs;
  for (let b = 0; b * bs < size; b++) {
    const data = isData(w, b);
    const off = b * bs;
    const h = seekRaw(w, false, off);
    if (data) {
      w.check(h !== off, 'seek', 'iomap-contract-§5.9', () => [`SEEK_HOLE(${hex(off)}) = ${hex(h)} but block ${b} is data (${w.ref!.describe(off)})`], off);
    }
    const d = seekRaw(w, true, off);
    if (data) w.check(d === off, 'seek', 'iomap-contract-§5.9', () => [`SEEK_DATA(${hex(off)}) = ${d < 0 ? 'ENXIO' : hex(d)} but block ${b} is data (${w.ref!.describe(off)})`], off);
  }
}

export const seek: SuiteDef = {
  name: 'seek',
  area: 'SEEK_DATA and SEEK_HOLE',
  sections: 'iomap-contract §5.9 (+ Errata); file-ops §7, §14.16–14.18',
  needs: ['seek'],
  properties: [
    workloadProperty({
      name: 'walk-sound',
      section: 'file-ops §14.16–14.18',
      describe: 'SEEK results stay in bounds, the SEEK_DATA/SEEK_HOLE walk is increasing with block-aligned interior boundaries, and no non-zero byte lies in a reported hole',
      weights: { write: 3, falloc: 2, fallocKeep: 1, punch: 2, truncate: 2, read: 1, mapwrite: 1, mapwriteNoSync: 1, writeback: 1, cycle: 1, evict: 1, zero: 1 },
      maxSteps: 30,
      geometries: [GEO_DEFAULT, GEO_SUBFOLIO],
      check: (w) => seekWalk(w),
    }),
    workloadProperty({
      name: 'page-cache-over-unwritten',
      section: 'iomap-contract §5.9 and Errata (uptodate cache and reclaim shadows over UNWRITTEN count as data)',
      describe: 'dirty or clean uptodate cached data over unwritten extents (and reclaimed folios) is reported as data, per block',
      needs: ['model', 'introspect'],
      weights: { falloc: 3, fallocKeep: 1, write: 3, mapwriteNoSync: 2, read: 2, evict: 2, writeback: 1, complete: 1, cycle: 1, punch: 1 },
      maxSteps: 25,
      geometries: [GEO_DEFAULT, GEO_SUBFOLIO],
      check: (w) => classifiedSeek(w),
    }),
  ],
};
