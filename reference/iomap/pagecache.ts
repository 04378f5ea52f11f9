/**
 * The page cache of one inode (struct address_space), the parts of mm/filemap.c and
 * mm/truncate.c that iomap depends on: folio lookup and allocation with large folios (natural
 * alignment, an order chosen from the I/O size like fgf_set_order(), minimum order for block
 * sizes above the page size), removal by truncation, invalidation or reclaim (reclaim leaves a
 * shadow entry, which SEEK_DATA counts as data — Errata §5.9), mapping_seek_hole_data(),
 * range-needs-writeback, and the errseq writeback error of contract §5.6 / file-ops §12.
 */
import { Folio, ifsFree, isPartiallyUptodate, recycleFolioData } from './folio';
import { BioQueue } from './bio';
import { Inode, PAGE_SHIFT, PAGE_SIZE } from './types';
import { ENXIO } from '../errno';
import { lowerBound } from '../sorted';

/** The address_space_operations iomap installs (iomap_dirty_folio, iomap_invalidate_folio...). */
export interface AddressSpaceOps {
  dirtyFolio(folio: Folio): void;
  invalidateFolio(folio: Folio, off: number, len: number): void;
  releaseFolio(folio: Folio): boolean;
}

/** Page cache geometry. */
export interface CacheGeometry {
  /** log2(pages) of the smallest folio (block size above page size forces it up). */
  minOrder: number;
  /** log2(pages) of the largest folio (mapping_max_folio_order). */
  maxOrder: number;
  /** Byte that fills new folios (0 unless poisoning to expose uninitialised-memory bugs). */
  newFolioFill: number;
  /**
   * A dirty folio always carries private state the filesystem will not release (buffer heads:
   * block_dirty_folio attaches them, try_to_free_buffers refuses dirty ones), so a dirty large
   * folio never splits. false (iomap): a folio written whole has no ifs at all (__iomap_write_begin
   * skips ifs_alloc), and such a folio splits even when dirty.
   */
  dirtyFoliosHavePrivate?: boolean;
}

/** lib/errseq.c reduced to what fsync reporting needs. */
export class ErrSeq {
  seq = 0;
  errno = 0;
  seen = true;

  /** mapping_set_error()/errseq_set(): record a (positive) errno. */
  set(errno: number): void {
    if (!errno) return;
    this.errno = Math.abs(errno);
    this.seq++;
    this.seen = false;
  }

  /** errseq_sample() at open: an error nobody has seen yet stays reportable to the new opener. */
  sample(): number {
    return this.seen ? this.seq : this.seq - 1;
  }

  /** errseq_check_and_advance(): report (as -errno) once per sampler. */
  checkAndAdvance(cursor: { since: number }): number {
    if (cursor.since === this.seq) return 0;
    cursor.since = this.seq;
    this.seen = true;
    return -this.errno;
  }
}

interface Shadow {
  index: number;
  nrPages: number;
}

export class AddressSpace {
  host!: Inode;
  readonly geometry: CacheGeometry;
  readonly queue: BioQueue;
  aops!: AddressSpaceOps;
  readonly wbErr = new ErrSeq();
  /**
   * Folio start indices, sorted, and the folios at the same ranks: a lookup is a binary search,
   * and a large folio costs one entry, not one per page (multi-index entries).
   */
  private readonly starts: number[] = [];
  private readonly folios: Folio[] = [];
  /** Rank of the last folio lookup() found (a guess: checked before use). */
  private hint = 0;
  /** Reclaim shadows (value entries), keyed by start index. */
  private readonly shadows = new Map<number, Shadow>();
  /** A mmap store into a writably mapped page happened (mapping_writably_mapped()). */
  writablyMapped = false;
  /**
   * I_DIRTY_PAGES of the host inode: a folio was dirtied since writeback_single_inode() last ran
   * for it (sync, the flusher) or the inode was evicted. The model clears it at sync and when
   * drop caches finds nothing dirty; the kernel's flusher may clear it earlier.
   */
  dirtiedPages = false;
  /** Kernel WARN conditions hit while operating on this mapping, oldest first. */
  readonly warnings: string[] = [];
  /** AS_EIO / AS_ENOSPC: the legacy "an error happened" bit, test-and-cleared by filemap_check_errors. */
  private asError = 0;
  /** ->writepages, installed by the VFS glue (runs iomap_writepages with the fs writeback ops). */
  writepages: ((wbc: import('./types').WritebackControl) => number) | null = null;
  /** mark_inode_dirty() was called (inline data changed, size updates): metadata needs a commit. */
  inodeDirty = false;
  /**
   * Bytes [touchedLo, touchedHi) cover every folio whose state changed, or that came into or left
   * the cache, since the invariants last looked (IomapFs.checkTouchedInvariants); a new mapping
   * starts with all of it touched.
   */
  touchedLo = 0;
  touchedHi = Infinity;
  /** The host's size when the invariants last looked (-1: never). */
  sizeAtCheck = -1;

  constructor(geometry: CacheGeometry, queue: BioQueue) {
    this.geometry = geometry;
    this.queue = queue;
  }

  /** mapping_set_error(): record a writeback error for fsync (errseq) and the legacy bit. */
  setError(err: number): void {
    if (!err) return;
    this.wbErr.set(err);
    this.asError = Math.abs(err);
  }

  /** filemap_check_errors(): test-and-clear the legacy error bit; returns -errno or 0. */
  checkErrors(): number {
    const e = this.asError;
    this.asError = 0;
    return e ? -e : 0;
  }

  get nrFolios(): number {
    return this.starts.length;
  }

  /** Note that the folios overlapping bytes [lo, hi) changed (see touchedLo). */
  touch(lo: number, hi: number): void {
    if (lo < this.touchedLo) this.touchedLo = lo;
    if (hi > this.touchedHi) this.touchedHi = hi;
  }

  /** The invariants looked at everything touched so far. */
  forgetTouched(): void {
    this.touchedLo = Infinity;
    this.touchedHi = -Infinity;
    this.sizeAtCheck = this.host.size;
  }

  get minFolioSize(): number {
    return PAGE_SIZE << this.geometry.minOrder;
  }

  lookup(index: number): Folio | undefined {
    const i = this.rankAt(index);
    const f = this.folios[i];
    if (f === undefined || index >= f.nextIndex) return undefined;
    this.hint = i;
    return f;
  }

  /** The rank of the last folio starting at or before `index` (-1: none). */
  private rankAt(index: number): number {
    // Reads and writes walk a file folio by folio: the last hit and the next rank come first.
    const st = this.starts;
    const h = this.hint;
    if (h < st.length && st[h] <= index) {
      if (h + 1 >= st.length || st[h + 1] > index) return h;
      if (h + 2 >= st.length || st[h + 2] > index) return h + 1;
    }
    return lowerBound(st, index + 1) - 1;
  }

  folioAt(pos: number): Folio | undefined {
    return this.lookup(Math.floor(pos / PAGE_SIZE));
  }

  /** The folios overlapping page indices [first, last], in index order. */
  foliosIn(first: number, last: number): Folio[] {
    const out: Folio[] = [];
    for (let i = this.rankFrom(first); i < this.starts.length && this.starts[i] <= last; i++) out.push(this.folios[i]);
    return out;
  }

  /** The rank of the first folio that ends after page `index` (nrFolios: none). */
  rankFrom(index: number): number {
    const i = lowerBound(this.starts, index);
    return i > 0 && this.folios[i - 1].nextIndex > index ? i - 1 : i;
  }

  allFolios(): Folio[] {
    return this.folios.slice();
  }

  /** The folio of rank i (0 <= i < nrFolios) in index order: walks the cache without building a list. */
  folioByRank(i: number): Folio {
    return this.folios[i];
  }

  /** Reclaim shadow entries, as [startByte, endByte) ranges (for reports and seek). */
  shadowRanges(): Array<[number, number]> {
    return [...this.shadows.values()].sort((a, b) => a.index - b.index)
      .map((s) => [s.index * PAGE_SIZE, (s.index + s.nrPages) * PAGE_SIZE]);
  }

  private rangeFree(start: number, nr: number): boolean {
    // The last folio starting before the range's end must end at or before its start.
    const f = this.folios[lowerBound(this.starts, start + nr) - 1];
    return f === undefined || f.nextIndex <= start;
  }

  /** Take the folio starting at `index` out of the index. */
  private unindex(index: number): void {
    const i = lowerBound(this.starts, index);
    const f = this.folios[i];
    this.touch(f.pos, f.end);
    this.starts.splice(i, 1);
    this.folios.splice(i, 1);
  }

  /**
   * __filemap_get_folio(FGP_CREAT) for a missing index: the order comes from the size hint
   * (ilog2(len) - PAGE_SHIFT), limited by the index's alignment and by the mapping's min/max,
   * and drops on conflict with an existing folio. `lastIndex` caps readahead at EOF.
   */
  allocFolio(index: number, sizeHint: number, lastIndex = Infinity): Folio {
    const { minOrder, maxOrder } = this.geometry;
    let order = sizeHint > PAGE_SIZE ? Math.floor(Math.log2(sizeHint)) - PAGE_SHIFT : 0;
    order = Math.min(Math.max(order, minOrder), maxOrder);
    const minMask = (1 << minOrder) - 1;
    index -= index & minMask;
    if (order > minOrder && index % (1 << order) !== 0) order = Math.max(minOrder, ctz(index));
    for (; order > minOrder; order--) {
      const nr = 1 << order;
      const start = index - (index % nr);
      if (start + nr - 1 <= Math.max(lastIndex, index + (1 << minOrder) - 1) && this.rangeFree(start, nr)) break;
    }
    const nr = 1 << order;
    const start = index - (index % nr);
    return this.insertFolio(start, nr);
  }

  private insertFolio(start: number, nr: number): Folio {
    if (!this.rangeFree(start, nr)) throw new Error(`model bug: folio conflict at index ${start}`);
    const folio = new Folio(this, start, nr, this.geometry.newFolioFill);
    const at = lowerBound(this.starts, start);
    this.starts.splice(at, 0, start);
    this.folios.splice(at, 0, folio);
    this.touch(folio.pos, folio.end);
    this.dropShadows(start, start + nr - 1);
    return folio;
  }

  private dropShadows(first: number, last: number): void {
    for (const [k, s] of this.shadows) if (s.index <= last && s.index + s.nrPages - 1 >= first) this.shadows.delete(k);
  }

  /**
   * split_folio() to the mapping's minimum order: a folio with no private (ifs) state, or whose
   * state was released; each piece inherits the folio-level uptodate and dirty flags (the split
   * copies PG_dirty to every new folio) and a copy of its bytes. (Linux 6.18's truncate splits
   * non-uniformly, keeping larger buddies below the split page; the model's pieces are all of the
   * minimum order, so a later flush may write back less here than the kernel does.)
   */
  splitFolio(f: Folio): Folio[] {
    const nr = 1 << this.geometry.minOrder;
    if (f.nrPages <= nr || f.mapping !== this) return [f];
    this.unindex(f.index);
    f.mapping = null;
    const out: Folio[] = [];
    for (let idx = f.index; idx < f.nextIndex; idx += nr) {
      const sub = this.insertFolio(idx, nr);
      const off = (idx - f.index) * PAGE_SIZE;
      sub.data.set(f.data.subarray(off, off + sub.size));
      sub.uptodate = f.uptodate;
      sub.dirty = f.dirty;
      sub.pteWritable = f.pteWritable;
      sub.pteMappedEnd = f.pteMappedEnd;
      sub.pteDirty = f.pteDirty;
      out.push(sub);
    }
    recycleFolioData(f);
    return out;
  }

  /**
   * Remove a folio from the cache. 'reclaim' leaves a shadow entry (workingset), 'truncate' and
   * 'invalidate' do not. Returns ifs_free() warnings.
   */
  removeFolio(folio: Folio, how: 'truncate' | 'invalidate' | 'reclaim'): string[] {
    if (folio.mapping !== this) return [];
    this.unindex(folio.index);
    folio.mapping = null;
    folio.pteWritable = false;
    folio.pteDirty = false;
    if (how === 'reclaim') this.shadows.set(folio.index, { index: folio.index, nrPages: folio.nrPages });
    const warns = ifsFree(folio);
    recycleFolioData(folio);
    return warns;
  }

  /**
   * folio_end_dropbehind(): a dropbehind folio that is clean, not under writeback and not locked
   * leaves the cache (its mappings go with it). Called when a read ends and when writeback ends.
   */
  endDropbehind(folio: Folio): void {
    if (!folio.dropbehind || folio.mapping !== this || folio.dirty || folio.writeback || folio.locked || folio.refs > 0) return;
    folio.dropbehind = false;
    this.aops.invalidateFolio(folio, 0, folio.size);
    this.removeFolio(folio, 'invalidate');
  }

  /** filemap_range_needs_writeback(): any folio in [start, endIncl] dirty or under writeback. */
  rangeNeedsWriteback(start: number, endIncl: number): boolean {
    if (endIncl < start) return false;
    for (const f of this.foliosIn(Math.floor(start / PAGE_SIZE), Math.floor(endIncl / PAGE_SIZE))) {
      if (f.dirty || f.writeback) return true;
    }
    return false;
  }

  hasDirtyOrWriteback(): boolean {
    for (const f of this.folios) {
      if (f.dirty || f.writeback) return true;
    }
    return false;
  }

  /**
   * folio_seek_hole_data(): within one present entry. Uptodate folios and shadow entries are
   * data; a folio that is not uptodate is examined block by block through is_partially_uptodate.
   */
  private folioSeekHoleData(folio: Folio | null, start: number, end: number, seekData: boolean): number {
    if (folio === null || folio.uptodate) return seekData ? start : end;
    const bsz = this.host.blockSize;
    let offset = folio.offsetIn(start) - (folio.offsetIn(start) % bsz);
    do {
      if (isPartiallyUptodate(folio, offset, bsz, this.host.blkbits) === seekData) break;
      start = (Math.floor(start / bsz) + 1) * bsz;
      offset += bsz;
    } while (offset < folio.size);
    return start;
  }

  /** mapping_seek_hole_data(): the page-cache notion of data in [start, end). */
  seekHoleData(start: number, end: number, seekData: boolean): number {
    if (end <= start) return -ENXIO;
    const first = Math.floor(start / PAGE_SIZE);
    const last = Math.floor((end - 1) / PAGE_SIZE);
    const entries: Array<{ pos: number; size: number; folio: Folio | null }> = [];
    for (const f of this.foliosIn(first, last)) entries.push({ pos: f.pos, size: f.size, folio: f });
    for (const s of this.shadows.values()) {
      if (s.index <= last && s.index + s.nrPages - 1 >= first) {
        entries.push({ pos: s.index * PAGE_SIZE, size: s.nrPages * PAGE_SIZE, folio: null });
      }
    }
    entries.sort((a, b) => a.pos - b.pos);
    for (const e of entries) {
      const epos = Math.max(e.pos, first * PAGE_SIZE);
      if (start < epos) {
        if (!seekData) return Math.min(start, end);
        start = epos;
      }
      const eend = e.pos + e.size;
      start = this.folioSeekHoleData(e.folio, start, eend, seekData);
      if (start < eend) return Math.min(start, end);
      if (start >= end) break;
    }
    if (seekData) return -ENXIO;
    return Math.min(start, end);
  }

  /**
   * truncate_inode_pages_range(lstart, lendIncl): folios wholly inside are removed (after their
   * writeback completes; dirty data is simply lost); folios straddling an edge have the covered
   * bytes zeroed and get a partial invalidate (iomap ignores partial invalidation).
   */
  truncateRange(lstart: number, lendIncl: number): void {
    if (lendIncl < lstart) return;
    for (const f of this.foliosIn(Math.floor(lstart / PAGE_SIZE), Math.floor(lendIncl / PAGE_SIZE))) {
      this.queue.waitFolio(f);
      if (lstart <= f.pos && lendIncl >= f.end - 1) {
        this.aops.invalidateFolio(f, 0, f.size);
        this.removeFolio(f, 'truncate');
      } else {
        // truncate_inode_partial_folio(): zero the covered bytes; a large folio would then be
        // split, and if that fails a clean one is dropped whole. The model never splits, so a
        // clean large folio is dropped and a dirty one keeps its zeroed bytes.
        const from = Math.max(lstart, f.pos) - f.pos;
        const to = Math.min(lendIncl + 1, f.end) - f.pos;
        f.data.fill(0, from, to);
        this.aops.invalidateFolio(f, from, to - from);
        // truncate_inode_partial_folio() then splits a large folio so the pages wholly inside
        // the range can go; a dirty large folio that cannot split stays whole (bytes zeroed).
        if (f.nrPages > (1 << this.geometry.minOrder) && this.releasedForSplit(f)) {
          for (const sub of this.splitFolio(f)) {
            if (lstart <= sub.pos && lendIncl >= sub.end - 1) this.removeFolio(sub, 'truncate');
          }
        }
      }
    }
    this.dropShadows(Math.ceil(lstart / PAGE_SIZE), Math.floor((lendIncl + 1) / PAGE_SIZE) - 1);
  }

  /**
   * Drop [lstart, lendIncl] from the cache with every clean folio it touches going whole, the
   * pages outside the range too (their data is on disk, so a later read brings the same bytes
   * back): XFS's xfs_flush_unmap_range on Linux 6.18.44 after its write-back (the personality's
   * flushUnmapDropsWholeFolios). A folio that cannot be released (dirty, under writeback, its
   * state held) is left to truncateRange's partial handling, as are the folios wholly inside.
   */
  dropRangeWholeFolios(lstart: number, lendIncl: number): void {
    if (lendIncl < lstart) return;
    for (const f of this.foliosIn(Math.floor(lstart / PAGE_SIZE), Math.floor(lendIncl / PAGE_SIZE))) {
      if (lstart <= f.pos && lendIncl >= f.end - 1) continue;
      this.queue.waitFolio(f);
      if (f.dirty || f.pteDirty || f.writeback || !this.aops.releaseFolio(f)) continue;
      this.removeFolio(f, 'invalidate');
    }
    this.truncateRange(lstart, lendIncl);
  }

  /**
   * filemap_release_folio() as a split calls it first: a folio with no private state needs no
   * release (folio_needs_release), dirty or not (a dirty folio written whole has no ifs: xfs 4k,
   * seed 412, op 31,152, 4 ops: pwrite 0 8192 then truncate 4096 drops page 1, so a later zeroing
   * flush from 4096 finds nothing and block 0 stays delalloc); one with private state goes only
   * if it is clean (iomap_release_folio refuses a dirty folio) and not under writeback.
   */
  private releasedForSplit(f: Folio): boolean {
    if (f.writeback) return false;
    if (f.ifs === null && !(f.dirty && this.geometry.dirtyFoliosHavePrivate)) return true;
    return !f.dirty && this.aops.releaseFolio(f);
  }

  /** truncate_pagecache(): drop everything from newsize on (the EOF folio keeps [.., newsize)). */
  truncatePagecache(newsize: number): void {
    this.truncateRange(newsize, Number.MAX_SAFE_INTEGER);
  }

  /**
   * invalidate_mapping_pages() (drop_caches): remove clean, unlocked, unmapped folios not under
   * writeback (mapping_evict_folio). No shadow entries are left (they are not reclaimed). A folio
   * with dirty page table entries is still mapped and dirty in all but name: it stays.
   */
  invalidateClean(): number {
    let n = 0;
    for (const f of this.allFolios()) {
      if (f.dirty || f.writeback || f.locked || f.pteDirty) continue;
      if (!this.aops.releaseFolio(f)) continue;
      this.removeFolio(f, 'invalidate');
      n++;
    }
    return n;
  }

  /** Reclaim one clean folio (kswapd): leaves a shadow entry. Returns false if it cannot. */
  reclaimFolio(f: Folio): boolean {
    if (f.mapping !== this || f.dirty || f.writeback || f.locked) return false;
    if (!this.aops.releaseFolio(f)) return false;
    this.removeFolio(f, 'reclaim');
    return true;
  }

  /**
   * invalidate_inode_pages2_range(): used around direct I/O; returns false (the kernel's -EBUSY)
   * if a folio in the range is dirty and could not be cleaned.
   */
  invalidateRange2(startIdx: number, endIdx: number): boolean {
    let ok = true;
    for (const f of this.foliosIn(startIdx, endIdx)) {
      this.queue.waitFolio(f);
      if (f.dirty) { ok = false; continue; }
      this.aops.invalidateFolio(f, 0, f.size);
      this.removeFolio(f, 'invalidate');
    }
    return ok;
  }
}

function ctz(x: number): number {
  if (x === 0) return 31;
  let n = 0;
  while (x % 2 === 0) { x /= 2; n++; }
  return n;
}
