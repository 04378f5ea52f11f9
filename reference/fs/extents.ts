/**
 * An extent map in file blocks: a sorted array of non-overlapping extents, each DELALLOC
 * (reserved, no location), WRITTEN or UNWRITTEN (with a physical block). Holes are implicit.
 * Adjacent extents of the same state and contiguous physical blocks are merged, so a lookup
 * reports the longest run (what a filesystem returns from ->iomap_begin).
 *
 * Extent objects are immutable once in the array: every change puts new objects in (a merge,
 * a split, a shift), so a view shares them, and copy-on-write copies only the array of
 * references (one memcpy), never the extents themselves.
 */
export type ExtState = 'delalloc' | 'written' | 'unwritten';

export interface Extent {
  readonly lblk: number;
  readonly len: number;
  /** Physical block (device block number); -1 for delalloc. */
  readonly pblk: number;
  readonly state: ExtState;
}

/** A copy of `e` with another length (one shape for every extent: no spread). */
function withLen(e: Extent, len: number): Extent {
  return { lblk: e.lblk, len, pblk: e.pblk, state: e.state };
}

export class ExtentMap {
  /** The extents; treat as read-only outside this class (views share the array copy-on-write). */
  exts: Extent[];
  /** `exts` is shared with a view: copy it before the next change. */
  private sharedWithView = false;
  /** Delalloc blocks in the map, kept up to date by every change (-1: not counted yet). */
  private delallocBlocks = -1;
  /**
   * Blocks [touchedLo, touchedHi) cover every extent change since the invariants last looked
   * (forgetTouched): they check only there (IomapFs.checkTouchedInvariants). A new map starts with
   * all of it touched.
   */
  touchedLo = 0;
  touchedHi = Infinity;

  constructor(exts: Extent[] = []) {
    this.exts = exts;
  }

  /** Note that the extents over blocks [lo, hi) changed. */
  private touch(lo: number, hi: number): void {
    if (lo < this.touchedLo) this.touchedLo = lo;
    if (hi > this.touchedHi) this.touchedHi = hi;
  }

  /** The invariants looked at every change so far. */
  forgetTouched(): void {
    this.touchedLo = Infinity;
    this.touchedHi = -Infinity;
  }

  /** Copy-on-write: make the array `exts` private before changing it (the extents are shared: immutable). */
  private own(): void {
    if (!this.sharedWithView) return;
    this.exts = this.exts.slice();
    this.sharedWithView = false;
  }

  /** An O(1) frozen view of the current state (the map copies itself on its next change). */
  view(): ExtentMap {
    const v = new ExtentMap(this.exts);
    this.sharedWithView = true;
    v.sharedWithView = true;
    return v;
  }

  /** Index of the first extent ending after lblk (exts.length: none). */
  firstAfter(lblk: number): number {
    let lo = 0;
    let hi = this.exts.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const e = this.exts[mid];
      if (e.lblk + e.len <= lblk) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** The extent containing lblk, or null and the start of the next extent (Infinity if none). */
  lookup(lblk: number): { ext: Extent | null; next: number } {
    const i = this.firstAfter(lblk);
    const e = this.exts[i];
    if (e && e.lblk <= lblk) return { ext: e, next: e.lblk + e.len };
    return { ext: null, next: e ? e.lblk : Infinity };
  }

  /** lookup(lblk).ext without the result object (hot: the monitor's snapshots ask per run). */
  extentAt(lblk: number): Extent | null {
    const e = this.exts[this.firstAfter(lblk)];
    return e !== undefined && e.lblk <= lblk ? e : null;
  }

  /** lookup(lblk).next without the result object: the end of the extent holding lblk, else the next start. */
  nextEdge(lblk: number): number {
    const e = this.exts[this.firstAfter(lblk)];
    if (e === undefined) return Infinity;
    return e.lblk <= lblk ? e.lblk + e.len : e.lblk;
  }

  /** Extents overlapping [lblk, lblk+len), clipped to it. */
  range(lblk: number, len: number): Extent[] {
    const out: Extent[] = [];
    const end = lblk + len;
    for (let i = this.firstAfter(lblk); i < this.exts.length && this.exts[i].lblk < end; i++) {
      const e = this.exts[i];
      const s = Math.max(e.lblk, lblk);
      const t = Math.min(e.lblk + e.len, end);
      out.push({ lblk: s, len: t - s, pblk: e.pblk < 0 ? -1 : e.pblk + (s - e.lblk), state: e.state });
    }
    return out;
  }

  /** Remove [lblk, lblk+len); returns the removed pieces. */
  remove(lblk: number, len: number): Extent[] {
    return this.cut(lblk, len);
  }

  /** Map [lblk, lblk+len) to `state` at pblk (replacing whatever was there); returns what was replaced. */
  set(lblk: number, len: number, state: ExtState, pblk: number): Extent[] {
    const old = this.cut(lblk, len);
    this.own();
    this.touch(lblk, lblk + len);
    if (state === 'delalloc' && this.delallocBlocks >= 0) this.delallocBlocks += len;
    // Where [lblk, ...) now starts: after the cut, nothing of the old map overlaps it.
    const i = this.cutAt;
    this.exts.splice(i, 0, { lblk, len, pblk: state === 'delalloc' ? -1 : pblk, state });
    this.mergeAround(i);
    return old;
  }

  /** The index cut() left [lblk, ...) at: the first extent at or after the cut range. */
  private cutAt = 0;

  /**
   * Remove [lblk, lblk+len) in one pass: the pieces inside it (clipped copies, returned) go, the
   * parts of the edge extents outside it stay as new extents; cutAt is where the range now begins.
   */
  private cut(lblk: number, len: number): Extent[] {
    const end = lblk + len;
    const i = this.firstAfter(lblk);
    const removed: Extent[] = [];
    let x = this.exts;
    if (i >= x.length || x[i].lblk >= end) {
      this.cutAt = i;
      return removed;
    }
    this.own();
    x = this.exts;
    this.touch(lblk, end);
    let j = i;
    let head: Extent | null = null;
    let tail: Extent | null = null;
    for (; j < x.length && x[j].lblk < end; j++) {
      const e = x[j];
      const eEnd = e.lblk + e.len;
      const s = e.lblk > lblk ? e.lblk : lblk;
      const t = eEnd < end ? eEnd : end;
      removed.push({ lblk: s, len: t - s, pblk: e.pblk < 0 ? -1 : e.pblk + (s - e.lblk), state: e.state });
      if (e.state === 'delalloc' && this.delallocBlocks >= 0) this.delallocBlocks -= t - s;
      if (e.lblk < lblk) head = { lblk: e.lblk, len: lblk - e.lblk, pblk: e.pblk, state: e.state };
      if (eEnd > end) tail = { lblk: end, len: eEnd - end, pblk: e.pblk < 0 ? -1 : e.pblk + (end - e.lblk), state: e.state };
    }
    if (head !== null && tail !== null) x.splice(i, j - i, head, tail);
    else if (head !== null) x.splice(i, j - i, head);
    else if (tail !== null) x.splice(i, j - i, tail);
    else x.splice(i, j - i);
    this.cutAt = head !== null ? i + 1 : i;
    return removed;
  }

  private canMerge(a: Extent, b: Extent): boolean {
    return a.state === b.state && a.lblk + a.len === b.lblk &&
      (a.state === 'delalloc' || a.pblk + a.len === b.pblk);
  }

  private mergeAround(i: number): void {
    const x = this.exts;
    if (i + 1 < x.length && this.canMerge(x[i], x[i + 1])) {
      x[i] = withLen(x[i], x[i].len + x[i + 1].len);
      x.splice(i + 1, 1);
    }
    if (i > 0 && this.canMerge(x[i - 1], x[i])) {
      x[i - 1] = withLen(x[i - 1], x[i - 1].len + x[i].len);
      x.splice(i, 1);
    }
  }

  /** Change the state of every extent piece in [lblk, lblk+len) that is in state `from`. */
  convert(lblk: number, len: number, from: ExtState, to: ExtState): number {
    let n = 0;
    for (const e of this.range(lblk, len)) {
      if (e.state !== from) continue;
      this.set(e.lblk, e.len, to, e.pblk);
      n += e.len;
    }
    return n;
  }

  /** Split the extent straddling lblk (if any) so that an extent starts exactly at lblk. */
  splitAt(lblk: number): void {
    this.own();
    const { ext } = this.lookup(lblk);
    if (!ext || ext.lblk === lblk) return;
    const i = this.exts.indexOf(ext);
    this.touch(ext.lblk, ext.lblk + ext.len);
    const d = lblk - ext.lblk;
    const tail: Extent = { lblk, len: ext.len - d, pblk: ext.pblk < 0 ? -1 : ext.pblk + d, state: ext.state };
    this.exts.splice(i, 1, { ...ext, len: d }, tail);
  }

  /** Shift every extent starting at or after lblk by delta blocks (collapse/insert). */
  shift(lblk: number, delta: number): void {
    // A new array (nothing to own first): the moved extents are new objects.
    this.exts = this.exts.map((e) => (e.lblk >= lblk ? { ...e, lblk: e.lblk + delta } : e));
    this.sharedWithView = false;
    this.touch(Math.min(lblk, lblk + delta), Infinity);
    this.exts.sort((a, b) => a.lblk - b.lblk);
  }

  /** Blocks in `state`, counted extent by extent. */
  count(state: ExtState): number {
    let n = 0;
    for (const e of this.exts) if (e.state === state) n += e.len;
    return n;
  }

  /** count('delalloc') from a tally every change keeps (counted once, on the first ask). */
  delallocCount(): number {
    if (this.delallocBlocks < 0) this.delallocBlocks = this.count('delalloc');
    return this.delallocBlocks;
  }

  clone(): ExtentMap {
    return new ExtentMap(this.exts.slice());
  }
}
