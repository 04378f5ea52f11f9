/**
 * MediaWatch: which bytes of the test file can read differently from the media since the last
 * look (FileTarget.changedOnMedia), for a target that sees its own device and its filesystem's
 * mapping (the reference adapter).
 *
 * After a clean remount the page cache is empty, so every byte of the file is what the media hold
 * under the file's mapping: device block pblk for a written block, zeroes for a hole or an
 * unwritten block. Compared with the last look, a byte can read differently only where
 *  - the mapping differs from the last look's (another device block, another state), once the
 *    shifts of COLLAPSE_RANGE and INSERT_RANGE are applied to the old mapping (a shift moves
 *    extent records, not data: a moved block that still maps where it did reads what it did);
 *  - or a written block's device block was written, discarded, or lost by a power cut since.
 * The watch records device writes as they pass (a hook on the FaultDevice every request goes
 * through, power cuts add the writes their image lost) and keeps the old mapping as the
 * filesystem's own immutable snapshot, walked only when a look needs it, so a look costs the
 * extents and the writes since the last one, not the file size, and starting over (forget())
 * costs nothing.
 */
import { lowerBound } from '../reference/sorted';
import { RangeSet } from '../reference/ranges';
import { blockRuns, MappingSnapshot } from '../reference/iomap/fs-ops';

/** Blocks [lblk, lblk + len) mapped in one state to device blocks pblk.. (pblk -1: none, as for delalloc). */
interface Run {
  lblk: number;
  len: number;
  state: string;
  pblk: number;
}

/** A collapse (n < 0) or insert (n > 0) of |n| blocks at block lblk, since the last look. */
interface Shift {
  lblk: number;
  n: number;
}

export class MediaWatch {
  /** Device byte ranges written since the last look, [lo, hi) pairs in arrival order. */
  private writes: number[] = [];
  /** The mapping at the last look (holes left out); null while it is `baseSnap`'s. */
  private base: Run[] | null = [];
  /** The mapping at the last look as the filesystem's snapshot, of a file of `baseSize` bytes (walked on demand). */
  private baseSnap: MappingSnapshot | null = null;
  private baseSize = 0;
  /** Collapses and inserts since the last look, in order (applied to the old mapping when it is walked). */
  private shifts: Shift[] = [];

  constructor(private readonly blockSize: number) {}

  /** Start over from `snap`, the mapping of a file of `size` bytes that was checked whole. */
  forget(snap: MappingSnapshot, size: number): void {
    this.base = null;
    this.baseSnap = snap;
    this.baseSize = size;
    this.shifts = [];
    this.writes = [];
  }

  /** A write or discard of device bytes [off, off + len) (whatever became of it). */
  noteWrite(off: number, len: number): void {
    if (len > 0) this.writes.push(off, off + len);
  }

  /** COLLAPSE_RANGE of file blocks [lblk, lblk + n) succeeded: the old mapping past it moves down. */
  collapse(lblk: number, n: number): void {
    this.shifts.push({ lblk, n: -n });
  }

  /** INSERT_RANGE of n blocks at file block lblk succeeded: the old mapping from there moves up. */
  insert(lblk: number, n: number): void {
    this.shifts.push({ lblk, n });
  }

  /** The mapping at the last look, with the shifts since applied. */
  private oldMapping(): Run[] {
    let runs = this.base ?? mappedRuns(this.baseSnap!, Math.ceil(this.baseSize / this.blockSize));
    for (const s of this.shifts) runs = shifted(runs, s);
    return runs;
  }

  /**
   * The file byte ranges [lo, hi) (ascending, disjoint, inside [0, size)) that may read
   * differently than at the last look, given the mapping now; then this is the new last look.
   */
  look(snap: MappingSnapshot, size: number): Array<[number, number]> {
    const bs = this.blockSize;
    const blocks = Math.ceil(size / bs);
    const now = mappedRuns(snap, blocks);
    const out = new RangeSet();
    const add = (a: number, b: number): void => out.include(a * bs, Math.min(size, b * bs));
    mappingDifferences(this.oldMapping(), now, blocks, add);
    writtenUnder(now, writtenBlocks(this.writes, bs), add);
    this.base = now;
    this.baseSnap = null;
    this.shifts = [];
    this.writes = [];
    return out.los.map((lo, k) => [lo, out.his[k]]);
  }
}

/** `runs` after a collapse (s.n < 0: blocks [lblk, lblk - n) go, the rest moves down) or an insert (s.n > 0). */
function shifted(runs: readonly Run[], s: Shift): Run[] {
  const out: Run[] = [];
  const cut = s.n < 0 ? s.lblk - s.n : s.lblk;
  for (const r of runs) {
    pushPart(out, r, r.lblk, Math.min(r.lblk + r.len, s.lblk), 0);
    pushPart(out, r, Math.max(r.lblk, cut), r.lblk + r.len, s.n);
  }
  return out;
}

/** Push the part [a, b) of run r, moved by `delta` blocks (nothing when empty). */
function pushPart(out: Run[], r: Run, a: number, b: number, delta: number): void {
  if (b <= a) return;
  out.push({ lblk: a + delta, len: b - a, state: r.state, pblk: r.pblk < 0 ? -1 : r.pblk + (a - r.lblk) });
}

/** The mapping of blocks [0, blocks) as runs, holes left out. */
function mappedRuns(snap: MappingSnapshot, blocks: number): Run[] {
  const out: Run[] = [];
  blockRuns(snap, 0, blocks, (lo, hi, st) => {
    if (st.state !== 'hole') out.push({ lblk: lo, len: hi - lo, state: st.state, pblk: st.pblk ?? -1 });
  });
  return out;
}

/**
 * Hand `fn` the block ranges [a, b) of [0, blocks) where runs `x` and `y` (ascending, disjoint,
 * holes left out) map differently: one a hole and not the other, another state, or another
 * device block. A delalloc block (no device block) never counts as equal.
 */
function mappingDifferences(x: readonly Run[], y: readonly Run[], blocks: number, fn: (a: number, b: number) => void): void {
  let i = 0;
  let j = 0;
  let pos = 0;
  while (pos < blocks && (i < x.length || j < y.length)) {
    while (i < x.length && x[i].lblk + x[i].len <= pos) i++;
    while (j < y.length && y[j].lblk + y[j].len <= pos) j++;
    const r = x[i];
    const s = y[j];
    if (r === undefined && s === undefined) break;
    const rIn = r !== undefined && r.lblk <= pos;
    const sIn = s !== undefined && s.lblk <= pos;
    if (!rIn && !sIn) {
      // Both holes up to the next run of either.
      pos = Math.min(r?.lblk ?? Infinity, s?.lblk ?? Infinity);
      continue;
    }
    // The segment [pos, end) where neither side changes run.
    let end = Math.min(blocks, rIn ? r.lblk + r.len : r?.lblk ?? Infinity, sIn ? s.lblk + s.len : s?.lblk ?? Infinity);
    end = Math.max(end, pos + 1);
    const same = rIn && sIn && r.state === s.state && r.pblk >= 0 && r.pblk + (pos - r.lblk) === s.pblk + (pos - s.lblk);
    if (!same) fn(pos, Math.min(end, blocks));
    pos = end;
  }
}

/** Device byte ranges as [lo, hi) pairs -> the device blocks they touch, merged. */
function writtenBlocks(pairs: readonly number[], bs: number): RangeSet {
  const dev = new RangeSet();
  for (let k = 0; k < pairs.length; k += 2) dev.include(Math.floor(pairs[k] / bs), Math.ceil(pairs[k + 1] / bs));
  return dev;
}

/** Hand `fn` the file block ranges of written runs whose device blocks meet the written device blocks. */
function writtenUnder(runs: readonly Run[], dev: RangeSet, fn: (a: number, b: number) => void): void {
  if (dev.count === 0) return;
  for (const r of runs) {
    if (r.state !== 'written') continue; // holes and unwritten blocks read zeroes whatever the device holds
    if (r.pblk < 0) {
      fn(r.lblk, r.lblk + r.len);
      continue;
    }
    const pEnd = r.pblk + r.len;
    // The first written device range ending after the run's first block.
    for (let k = lowerBound(dev.his, r.pblk + 1); k < dev.los.length && dev.los[k] < pEnd; k++) {
      const a = Math.max(dev.los[k], r.pblk);
      const b = Math.min(dev.his[k], pEnd);
      if (a < b) fn(r.lblk + (a - r.pblk), r.lblk + (b - r.pblk));
    }
  }
}
