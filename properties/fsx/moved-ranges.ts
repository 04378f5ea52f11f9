/**
 * Which bytes a collapse or insert moved that a remount check must still read.
 *
 * A collapse or insert near the start of a large file moves its whole tail: read back after every
 * remount, the tail would cost the file's size, not the bytes the ops touched. A filesystem moves
 * a tail by shifting its extent records, not by rewriting data (xfs and refs flush the tail first),
 * so what a clean remount can lose there is the shifted mapping. The remount check therefore
 * compares the target's mapping of the moved ranges before and after the remount (FIEMAP, without
 * SYNC: asking must not write anything back) and reads only where it changed or cannot be compared;
 * the rest is read by the next whole-file check (docs/fsx.md, "Clean remounts").
 */

import type { FiemapExtent, FileTarget } from '../../adapters/types';
import {
  FIEMAP_EXTENT_DATA_ENCRYPTED, FIEMAP_EXTENT_DATA_INLINE, FIEMAP_EXTENT_DATA_TAIL, FIEMAP_EXTENT_DELALLOC,
  FIEMAP_EXTENT_ENCODED, FIEMAP_EXTENT_LAST, FIEMAP_EXTENT_MERGED, FIEMAP_EXTENT_NOT_ALIGNED, FIEMAP_EXTENT_UNKNOWN,
} from '../../reference/uapi-fiemap';
import type { RangeSet } from '../../reference/ranges';

/** Extents whose bytes are not at a stable place on the device: never taken as unchanged. */
const NO_IDENTITY = FIEMAP_EXTENT_UNKNOWN | FIEMAP_EXTENT_DELALLOC | FIEMAP_EXTENT_ENCODED | FIEMAP_EXTENT_DATA_ENCRYPTED
  | FIEMAP_EXTENT_NOT_ALIGNED | FIEMAP_EXTENT_DATA_INLINE | FIEMAP_EXTENT_DATA_TAIL;
/** Flags that say nothing about where the bytes are (how the answer was cut). */
const PRESENTATION = FIEMAP_EXTENT_LAST | FIEMAP_EXTENT_MERGED;
/**
 * The target's mapping of each [lo, hi) of `ranges`, all of it: a target may answer FIEMAP with
 * fewer extents than there are (its array may be any size, and the host's is whatever the
 * adapter passed), so it is asked again from the end of each answer until the answer is empty,
 * ends with LAST (the file's final extent) or reaches hi.
 */
export function mappingOf(t: FileTarget, ranges: ReadonlyArray<readonly [number, number]>): FiemapExtent[][] {
  return ranges.map(([lo, hi]) => {
    const out: FiemapExtent[] = [];
    for (let pos = lo; pos < hi;) {
      const ext = t.fiemap!(pos, hi - pos, 0);
      out.push(...ext);
      const last = ext[ext.length - 1];
      if (last === undefined || (last.flags & FIEMAP_EXTENT_LAST) !== 0) break;
      const next = last.logical + last.length;
      if (next <= pos || next >= hi) break;
      pos = next;
    }
    return out;
  });
}

/**
 * Call `out` with every piece of [lo, hi) whose mapping differs between `before` and `after`:
 * mapped in one and not the other, at another device offset, with other flags, or in an extent
 * that has no stable device place (delalloc, inline, unknown...). Ascending.
 */
export function mappingChanges(before: readonly FiemapExtent[], after: readonly FiemapExtent[], lo: number, hi: number, out: (lo: number, hi: number) => void): void {
  const edges = [lo, hi];
  for (const e of [...before, ...after]) {
    if (e.logical > lo && e.logical < hi) edges.push(e.logical);
    const end = e.logical + e.length;
    if (end > lo && end < hi) edges.push(end);
  }
  edges.sort((a, b) => a - b);
  // FIEMAP answers are ascending and disjoint: one cursor per answer follows the edges.
  const cursor = (ext: readonly FiemapExtent[]) => {
    let i = 0;
    return (pos: number): FiemapExtent | undefined => {
      while (i < ext.length && ext[i].logical + ext[i].length <= pos) i++;
      return i < ext.length && ext[i].logical <= pos ? ext[i] : undefined;
    };
  };
  const was = cursor(before);
  const is = cursor(after);
  for (let k = 0; k + 1 < edges.length; k++) {
    const a = edges[k];
    const b = edges[k + 1];
    if (b <= a) continue;
    if (!sameMapping(was(a), is(a))) out(a, b);
  }
}

function sameMapping(x: FiemapExtent | undefined, y: FiemapExtent | undefined): boolean {
  if (x === undefined || y === undefined) return x === y;
  if (((x.flags | y.flags) & NO_IDENTITY) !== 0) return false;
  return x.physical - x.logical === y.physical - y.logical && (x.flags & ~PRESENTATION) === (y.flags & ~PRESENTATION);
}

/** The ranges of `set` clipped to [0, size), minus those of `minus`: [lo, hi) pairs, ascending. */
export function rangesOutside(set: RangeSet, minus: RangeSet, size: number): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  let m = 0;
  for (let k = 0; k < set.count; k++) {
    let lo = set.los[k];
    const hi = Math.min(set.his[k], size);
    while (m < minus.count && minus.his[m] <= lo) m++;
    for (let j = m; j < minus.count && minus.los[j] < hi && lo < hi; j++) {
      if (minus.los[j] > lo) out.push([lo, minus.los[j]]);
      lo = Math.max(lo, minus.his[j]);
    }
    if (lo < hi) out.push([lo, hi]);
  }
  return out;
}
