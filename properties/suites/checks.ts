/**
 * Checks the suites make beyond the fsx runner's, on the target's answers (not on its insides):
 * SEEK walks, FIEMAP over whole blocks, sharing after clone/dedupe. Every check here is pure: it
 * uses calls that do not change the file or its cache (FIEMAP without FLAG_SYNC, lseek), so the
 * op log stays a faithful record of what changed state.
 */
import type { FiemapExtent } from '../../adapters/types';
import { FsError } from '../../reference/errno';
import { FL_SKIPPED, OPS } from '../fsx/ops';
import type { Workload } from './workload';
import type { FsInstance } from '../../reference/iomap/fs-ops';
import type { Inode } from '../../reference/iomap/types';
export {
  FIEMAP_EXTENT_LAST, FIEMAP_EXTENT_DELALLOC, FIEMAP_EXTENT_UNWRITTEN, FIEMAP_EXTENT_SHARED,
} from '../../reference/uapi-fiemap';

const hex = (n: number): string => '0x' + n.toString(16);

export interface LastOp {
  name: string;
  off: number;
  len: number;
  dst: number;
  skipped: boolean;
  n: number;
}

/** The last op in the log (after a step), or null. */
export function lastOp(w: Workload): LastOp | null {
  const i = w.buf.count - 1;
  if (i < 0) return null;
  return {
    name: OPS[w.buf.code[i]].name, off: w.buf.off[i], len: w.buf.len[i], dst: w.buf.dst[i],
    skipped: (w.buf.flags[i] & FL_SKIPPED) !== 0, n: i + 1,
  };
}

export function fmtExtents(ext: readonly FiemapExtent[]): string[] {
  return ext.map((e) => `  extent logical ${hex(e.logical)} physical ${hex(e.physical)} length ${hex(e.length)} flags ${hex(e.flags)}`);
}

/** FIEMAP without FLAG_SYNC (no writeback: the state is not changed by looking). */
export function fiemapNoSync(w: Workload, off: number, len: number): FiemapExtent[] {
  let ext: FiemapExtent[] = [];
  w.step(`FIEMAP(${hex(off)}, ${hex(len)}) without FLAG_SYNC (checks only)`, () => { ext = w.target.fiemap!(off, len, 0); });
  w.notes.pop();
  return ext;
}

/** The extent covering byte `pos`, if any. */
export function extentAt(ext: readonly FiemapExtent[], pos: number): FiemapExtent | undefined {
  return ext.find((e) => pos >= e.logical && pos < e.logical + e.length);
}

/** lseek that answers -1 for ENXIO. */
function seek(w: Workload, data: boolean, off: number): number {
  let r = -1;
  w.step(`${data ? 'SEEK_DATA' : 'SEEK_HOLE'}(${hex(off)}) (checks only)`, () => {
    try {
      r = data ? w.target.seekData!(off) : w.target.seekHole!(off);
    } catch (e) {
      if (!(e instanceof FsError && e.code === 'ENXIO')) throw e;
      r = -1;
    }
  });
  w.notes.pop();
  return r;
}

/**
 * file-ops §14.16–14.18: alternating SEEK_DATA/SEEK_HOLE from 0 gives strictly increasing,
 * disjoint data segments ending at or before the size, interior boundaries on block multiples,
 * and every byte that reads non-zero lies inside a data segment. A failure is witnessed by the
 * same lseek as an fsx op (seek_data/seek_hole), so the op log shows it where the runner can.
 *
 * Tolerated: SEEK_DATA answering exactly i_size. Linux's mapping_seek_hole_data() returns `end`
 * (= i_size) when the first uptodate block of a partially uptodate folio over an UNWRITTEN extent
 * lies past EOF (e.g. after a write past EOF and a truncate down in the same folio), and the
 * reference models that; lseek then returns i_size instead of ENXIO. Everything at EOF is a hole,
 * so it hides no data (the soundness check below still runs). Likewise mid-file, where the answer
 * is the end of the UNWRITTEN segment searched, the start of a hole: an empty data segment.
 */
export function seekWalk(w: Workload): void {
  const size = w.size;
  const bs = w.bs;
  const segs: Array<[number, number]> = [];
  let pos = 0;
  for (let guard = 0; guard < 10000; guard++) {
    if (pos >= size) break;
    const d = seek(w, true, pos);
    if (d < 0 || d === size) break;
    if (!(d >= pos && d < size)) w.witness('seek_data', pos, 'seek', 'fileops-14.16', [`SEEK_DATA(${hex(pos)}) = ${hex(d)} with size ${hex(size)}`]);
    const h = seek(w, false, d);
    if (h === d && d % bs === 0) {
      // The same quirk mid-file: over an UNWRITTEN segment whose first uptodate block lies past the
      // segment's end (in the same folio), SEEK_DATA answers the segment's end, the start of a hole.
      pos = d + 1;
      continue;
    }
    if (!(h > d && h <= size)) w.witness('seek_hole', d, 'seek', 'fileops-14.18', [`SEEK_HOLE(${hex(d)}) = ${hex(h)} after SEEK_DATA gave ${hex(d)} (size ${hex(size)})`]);
    if (segs.length > 0) w.check(d > segs[segs.length - 1][1], 'seek', 'fileops-14.18', () => [`data segment at ${hex(d)} does not follow the previous one ending at ${hex(segs[segs.length - 1][1])}`]);
    // Witnessed by the query itself (logged as that seek op), so the saved log's failing op is the
    // query that answered wrong and a replay of the log meets the same failure there.
    if (!(d === pos || d % bs === 0)) w.witness('seek_data', pos, 'seek', 'fileops-14.18', [`SEEK_DATA(${hex(pos)}) = ${hex(d)}: not a block (${bs}) multiple`]);
    if (!(h === size || h % bs === 0)) w.witness('seek_hole', d, 'seek', 'fileops-14.18', [`SEEK_HOLE(${hex(d)}) = ${hex(h)}: not a block (${bs}) multiple nor EOF`]);
    segs.push([d, h]);
    pos = h;
  }
  // Soundness: nothing non-zero between the segments.
  let prev = 0;
  for (const [d, h] of [...segs, [size, size] as [number, number]]) {
    if (d > prev) {
      const nz = w.oracle.firstNonZero(prev, d - prev);
      if (nz >= 0) {
        w.witness('seek_data', prev, 'seek', 'fileops-14.17', [`${hex(nz)} reads non-zero but the SEEK walk reports a hole [${hex(prev)}, ${hex(d)})`,
          `segments: ${segs.map(([a, b]) => `[${hex(a)}, ${hex(b)})`).join(' ')}`], nz);
      }
    }
    prev = h;
  }
}

/** Full blocks of [off, off+len). */
export function fullBlocks(off: number, len: number, bs: number): [number, number] {
  return [Math.ceil(off / bs), Math.floor((off + len) / bs)];
}

/**
 * Model-level: a per-block classification of "data" for SEEK, written independently of the seek
 * code (contract §5.9 + Errata, per block rather than per mapping): written, delalloc and inline
 * blocks are data; unwritten blocks are data where the cache holds uptodate bytes or a reclaim
 * shadow; holes never are. Needs the filesystem's introspection (refs has it).
 */
export function blockIsData(fs: FsInstance, inode: Inode, b: number): boolean {
  const bs = fs.blockSize;
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
