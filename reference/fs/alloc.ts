/**
 * The block allocator: a sorted list of free extents over the data area, first fit from a goal
 * (so a file's blocks tend to be contiguous, which makes ioend merging and FIEMAP interesting).
 * A list rather than a bitmap so that a 1 TiB sparse device costs nothing.
 */
export class Allocator {
  /** Free extents [start, len], sorted and coalesced. */
  readonly free: Array<[number, number]> = [];
  freeBlocks = 0;
  /**
   * Busy extents: freed since the last metadata commit. They may not be reused until that commit
   * is durable — otherwise a crash would leave the old owner (per the on-disk metadata) pointing
   * at a new owner's data (xfs "busy extents"). commitBusy() returns them to the free list.
   */
  readonly busy: Array<[number, number]> = [];
  busyBlocks = 0;

  constructor(start: number, len: number) {
    if (len > 0) {
      this.free.push([start, len]);
      this.freeBlocks = len;
    }
  }

  /** Allocate up to `want` contiguous blocks at or after `goal` (wrapping). Null if full. */
  alloc(want: number, goal = 0): [number, number] | null {
    if (this.freeBlocks === 0 || want <= 0) return null;
    let idx = this.firstEndingAfter(goal);
    if (idx >= this.free.length) idx = 0;
    const s = this.free[idx][0];
    const l = this.free[idx][1];
    const start = Math.max(s, goal < s + l ? goal : s);
    const take = Math.min(want, s + l - start);
    this.take(idx, start, take);
    return [start, take];
  }

  private take(idx: number, start: number, n: number): void {
    // Index access, not destructuring, and no spread: mount claims every extent through here.
    const s = this.free[idx][0];
    const l = this.free[idx][1];
    const head = start > s;
    const tail = start + n < s + l;
    if (head && tail) this.free.splice(idx, 1, [s, start - s], [start + n, s + l - start - n]);
    else if (head) this.free[idx] = [s, start - s];
    else if (tail) this.free[idx] = [start + n, s + l - start - n];
    else this.free.splice(idx, 1);
    this.freeBlocks -= n;
  }

  /** Mark a specific range as used (mount rebuilds the free list from the extent maps). */
  claim(start: number, n: number): boolean {
    const idx = this.firstEndingAfter(start);
    const e = this.free[idx];
    if (e === undefined || e[0] > start || start + n > e[0] + e[1]) return false;
    this.take(idx, start, n);
    return true;
  }

  /** Index of the first free extent ending after blk (binary search: the list is sorted). */
  private firstEndingAfter(blk: number): number {
    let lo = 0;
    let hi = this.free.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const e = this.free[mid];
      if (e[0] + e[1] <= blk) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** How many free blocks start at `blk` (0 when it is in use), up to `end`. */
  freeRunAt(blk: number, end: number): number {
    const e = this.free[this.firstEndingAfter(blk)];
    return e !== undefined && e[0] <= blk ? Math.min(e[0] + e[1], end) - blk : 0;
  }

  /** The first free block in (blk, end), or end. */
  nextFree(blk: number, end: number): number {
    const e = this.free[this.firstEndingAfter(blk)];
    return e ? Math.min(Math.max(e[0], blk + 1), end) : end;
  }

  /** Free blocks after the next metadata commit (the normal path for blocks a file gave up). */
  releaseBusy(start: number, n: number): void {
    if (n <= 0) return;
    this.busy.push([start, n]);
    this.busyBlocks += n;
  }

  /** The metadata commit that freed the busy extents is durable: make them allocatable. */
  commitBusy(): void {
    const b = this.busy.splice(0);
    this.busyBlocks = 0;
    for (const [s, n] of b) this.release(s, n);
  }

  /** Return blocks to the free list at once (blocks never referenced by durable metadata). */
  release(start: number, n: number): void {
    if (n <= 0) return;
    let i = 0;
    while (i < this.free.length && this.free[i][0] < start) i++;
    const prev = this.free[i - 1];
    const next = this.free[i];
    if ((prev && prev[0] + prev[1] > start) || (next && start + n > next[0])) {
      throw new Error(`model bug: double free of blocks [${start}, +${n})`);
    }
    this.free.splice(i, 0, [start, n]);
    if (next && start + n === next[0]) {
      this.free[i][1] += next[1];
      this.free.splice(i + 1, 1);
    }
    if (prev && prev[0] + prev[1] === start) {
      prev[1] += this.free[i][1];
      this.free.splice(i, 1);
    }
    this.freeBlocks += n;
  }

  /** Whether some block of [start, end) is free (binary search). */
  overlapsFree(start: number, end: number): boolean {
    const e = this.free[this.firstEndingAfter(start)];
    return e !== undefined && e[0] < end;
  }

  /** Whether some block of [start, end) is busy. */
  overlapsBusy(start: number, end: number): boolean {
    return this.busy.some(([s, l]) => s < end && start < s + l);
  }

  isFree(blk: number): boolean {
    return this.free.some(([s, l]) => blk >= s && blk < s + l);
  }

  isBusy(blk: number): boolean {
    return this.busy.some(([s, l]) => blk >= s && blk < s + l);
  }
}
