import { lowerBound } from './sorted';

/**
 * RangeSet: sorted disjoint ranges [lo, hi) (bytes or blocks of a file or a device), merged as
 * they are added (touching ranges merge). The durability tracker keeps what changed since the last
 * acknowledgement in one; the oracle keeps what changed since the last whole-file check in another
 * (SparseBytes.changeLog); the media watch (adapters/media-watch.ts) the device blocks written since
 * its last look, and its answer.
 * Cost per add: a binary search plus the ranges it swallows.
 */
export class RangeSet {
  readonly los: number[] = [];
  readonly his: number[] = [];

  get count(): number {
    return this.los.length;
  }

  clear(): void {
    this.los.length = 0;
    this.his.length = 0;
  }

  /** Add [lo, hi); returns the parts of it that were not in the set yet. */
  add(lo: number, hi: number): Array<[number, number]> {
    const gaps: Array<[number, number]> = [];
    this.merge(lo, hi, gaps);
    return gaps;
  }

  /** Add [lo, hi) (nothing when empty), without reporting what was new. */
  include(lo: number, hi: number): void {
    if (lo < hi) this.merge(lo, hi, null);
  }

  private merge(lo: number, hi: number, gaps: Array<[number, number]> | null): void {
    const { los, his } = this;
    // First range that ends at or after lo (touching ranges merge).
    const i = lowerBound(his, lo);
    let k = i;
    let pos = lo;
    let nlo = lo;
    let nhi = hi;
    while (k < los.length && los[k] <= hi) {
      if (gaps !== null && los[k] > pos) gaps.push([pos, los[k]]);
      pos = Math.max(pos, his[k]);
      nlo = Math.min(nlo, los[k]);
      nhi = Math.max(nhi, his[k]);
      k++;
    }
    if (gaps !== null && pos < hi) gaps.push([pos, hi]);
    if (k === i + 1) {
      los[i] = nlo;
      his[i] = nhi;
      return;
    }
    los.splice(i, k - i, nlo);
    his.splice(i, k - i, nhi);
  }

  /** Whether some range of the set meets [lo, hi). */
  meets(lo: number, hi: number): boolean {
    // The first range ending after lo (ends are ascending): only it can start before hi.
    const k = lowerBound(this.his, lo + 1);
    return k < this.los.length && this.los[k] < hi;
  }

  /**
   * COLLAPSE_RANGE applied to the set: [off, off+len) is cut out and every range past it moves
   * down by len (ranges either side of the cut merge when they touch). Cost ∝ ranges.
   */
  collapse(off: number, len: number): void {
    this.rebuild((a, b, out) => {
      if (a < off) out(a, Math.min(b, off));
      if (b > off + len) out(Math.max(a, off + len) - len, b - len);
    });
  }

  /**
   * INSERT_RANGE applied to the set: every range at or past off moves up by len (one straddling
   * off is split there); [off, off+len) is not in the set afterwards. Cost ∝ ranges.
   */
  insert(off: number, len: number): void {
    this.rebuild((a, b, out) => {
      if (a < off) out(a, Math.min(b, off));
      if (b > off) out(Math.max(a, off) + len, b + len);
    });
  }

  /** Replace every range by what `map` emits for it (ascending), merging touching results. */
  private rebuild(map: (lo: number, hi: number, out: (lo: number, hi: number) => void) => void): void {
    const los = this.los.slice();
    const his = this.his.slice();
    this.clear();
    const out = (lo: number, hi: number): void => {
      if (hi <= lo) return;
      const n = this.los.length;
      if (n > 0 && this.his[n - 1] >= lo) this.his[n - 1] = Math.max(this.his[n - 1], hi);
      else {
        this.los.push(lo);
        this.his.push(hi);
      }
    };
    for (let k = 0; k < los.length; k++) map(los[k], his[k], out);
  }
}
