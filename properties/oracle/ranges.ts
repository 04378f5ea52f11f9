import { lowerBound } from '../../reference/sorted';

/**
 * RangeSet: sorted disjoint byte ranges [lo, hi) of a file, merged as they are added (touching
 * ranges merge). The durability tracker keeps what changed since the last acknowledgement in one;
 * the oracle keeps what changed since the last whole-file check in another (SparseBytes.changeLog).
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
    for (let k = 0; k < this.los.length; k++) if (this.los[k] < hi && lo < this.his[k]) return true;
    return false;
  }
}
