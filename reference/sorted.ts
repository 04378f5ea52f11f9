/**
 * Binary search over an ascending array of numbers: the page cache's folio starts, the crash
 * device's flush indices, a RangeSet's range ends.
 */

/** The index of the first element of ascending `a` that is >= x (a.length when none is). */
export function lowerBound(a: readonly number[], x: number): number {
  let lo = 0;
  let hi = a.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (a[mid] < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** The index of the first element of ascending `a` that is > x (a.length when none is). */
export function upperBound(a: readonly number[], x: number): number {
  let lo = 0;
  let hi = a.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (a[mid] <= x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
