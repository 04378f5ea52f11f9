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

/**
 * A Map keyed by numbers that can hand out its keys ascending (sortedKeys), sorted again only
 * after the key set changed: refs' refcount table, asked for the shared block nearest a mapping
 * at every ->iomap_begin, changes far less often than it is asked.
 */
export class SortedKeyMap<V> extends Map<number, V> {
  private sorted: number[] | null = null;

  set(key: number, value: V): this {
    if (this.sorted !== null && !this.has(key)) this.sorted = null;
    return super.set(key, value);
  }

  delete(key: number): boolean {
    const gone = super.delete(key);
    if (gone) this.sorted = null;
    return gone;
  }

  clear(): void {
    super.clear();
    this.sorted = null;
  }

  /** The keys, ascending (shared until the key set changes: do not modify). */
  sortedKeys(): readonly number[] {
    if (this.sorted === null) this.sorted = Array.from(this.keys()).sort((x, y) => x - y);
    return this.sorted;
  }
}
