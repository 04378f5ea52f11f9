/**
 * SEEK_DATA / SEEK_HOLE (iomap-contract §5.9 and its Errata; file-ops §7, §14.16–14.18).
 */
import { FsError } from '../../../reference/errno';
import { SuiteDef } from '../types';
import { GEO_DEFAULT, GEO_SUBFOLIO, workloadProperty } from '../common';
import { seekWalk } from '../checks';
import type { Workload } from '../workload';

const hex = (n: number): string => '0x' + n.toString(16);

/**
 * Model-level: a per-block classification of "data", written independently of the seek code
 * (contract §5.9 + Errata, per block rather than per mapping): written, delalloc and inline blocks
 * are data; unwritten blocks are data where the cache holds uptodate bytes or a reclaim shadow;
 * holes never are. SEEK_HOLE must never land in a data block, SEEK_DATA never skip one.
 */
function blockIsData(w: Workload, b: number): boolean {
  const ref = w.ref!;
  const fs = ref.fsys.fs;
  const inode = ref.fh.inode;
  const bs = w.bs;
  if (fs.describeBlock(inode, 0) === 'inline') return true;
  const st = fs.introspect!.snapshot(inode).block(b).state;
  if (st === 'written' || st === 'delalloc') return true;
  if (st === 'hole') return false;
  const mapping = inode.mapping;
  for (const [a, z] of mapping.shadowRanges()) if (b * bs < z && (b + 1) * bs > a) return true;
  const f = mapping.folioAt(b * bs);
  if (!f) return false;
  if (f.uptodate) return true;
  if (!f.ifs) return false;
  return f.ifs.uptodate[Math.floor((b * bs - f.pos) / bs)] === 1;
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
    const data = blockIsData(w, b);
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
      needs: ['model'],
      weights: { falloc: 3, fallocKeep: 1, write: 3, mapwriteNoSync: 2, read: 2, evict: 2, writeback: 1, complete: 1, cycle: 1, punch: 1 },
      maxSteps: 25,
      geometries: [GEO_DEFAULT, GEO_SUBFOLIO],
      check: (w) => classifiedSeek(w),
    }),
  ],
};
