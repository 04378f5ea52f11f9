/**
 * Folios and the per-folio iomap state ("ifs", struct iomap_folio_state) of contract §6.
 *
 * A folio is a naturally aligned, power-of-two run of pages with its own data buffer and the
 * folio-level flags (uptodate, dirty, writeback, locked). When a folio holds more than one fs
 * block it may carry an ifs with per-block uptodate and dirty bits and the read/write bytes
 * pending counters. With one block per folio there is never an ifs: the folio flags are the
 * whole truth. Bits are kept one byte per block so ranges are set with `fill` (bulk, no loops).
 */
import { PAGE_SHIFT, PAGE_SIZE } from './types';
import type { AddressSpace } from './pagecache';

export class IomapFolioState {
  /** Per-block bits; changed only through this file's range helpers, which note the change. */
  readonly uptodate: Uint8Array;
  readonly dirty: Uint8Array;
  /** The folio it hangs off (null: a detached state, as in tests): its changes are noted there. */
  private readonly owner: Folio | null;
  private readPending = 0;
  private writePending = 0;
  constructor(nblocks: number, owner: Folio | null = null) {
    this.uptodate = new Uint8Array(nblocks);
    this.dirty = new Uint8Array(nblocks);
    this.owner = owner;
  }

  get readBytesPending(): number {
    return this.readPending;
  }

  set readBytesPending(v: number) {
    this.readPending = v;
    this.owner?.noteChange();
  }

  get writeBytesPending(): number {
    return this.writePending;
  }

  set writeBytesPending(v: number) {
    this.writePending = v;
    this.owner?.noteChange();
  }
}

export class Folio {
  /** Page index of the first page. */
  readonly index: number;
  readonly nrPages: number;
  readonly size: number;
  readonly pos: number;
  /** The folio's bytes. Emptied when the folio leaves the cache (its buffer may be reused). */
  data: Uint8Array;
  /*
   * The state the invariants judge (uptodate, dirty, writeback, locked, refs, ifs, pteDirty) is
   * set through accessors that note the change in the mapping (AddressSpace.touch), so that the
   * invariants after an op can look at the folios it changed only (IomapFs.checkTouchedInvariants).
   * Every change of a cached folio's state goes through here, ioend completions included.
   */
  private isUptodate = false;
  private isDirty = false;
  private underWriteback = false;
  private isLocked = false;
  private refCount = 0;
  private state: IomapFolioState | null = null;
  private pteDirtyBit = false;
  /**
   * PG_dropbehind: an RWF_DONTCACHE read or write brought it in, so it leaves the cache as soon as
   * it is clean again (end of the read, end of its writeback). A normal lookup clears it.
   */
  dropbehind = false;
  /** Pending read error flag (6.6 PG_error); kept for reports only. */
  error = false;
  /** The mapping it belongs to; null once truncated/evicted (folio->mapping != mapping). */
  mapping: AddressSpace | null;
  /** A shared writable PTE exists (set by page_mkwrite, cleared by write-protection). */
  pteWritable = false;
  /** End of the pages that writable PTE covers: the EOF page at the last page_mkwrite (no page past EOF is mapped). */
  pteMappedEnd = 0;

  constructor(mapping: AddressSpace, index: number, nrPages: number, fill: number) {
    this.mapping = mapping;
    this.index = index;
    this.nrPages = nrPages;
    this.size = nrPages * PAGE_SIZE;
    this.pos = index * PAGE_SIZE;
    this.data = takeBuffer(this.size, fill);
  }

  /** Note a state change in the mapping's touched range (nothing once the folio left the cache). */
  noteChange(): void {
    const m = this.mapping;
    if (m !== null) m.touch(this.pos, this.pos + this.size);
  }

  get uptodate(): boolean {
    return this.isUptodate;
  }

  set uptodate(v: boolean) {
    this.isUptodate = v;
    this.noteChange();
  }

  get dirty(): boolean {
    return this.isDirty;
  }

  set dirty(v: boolean) {
    this.isDirty = v;
    this.noteChange();
  }

  get writeback(): boolean {
    return this.underWriteback;
  }

  set writeback(v: boolean) {
    this.underWriteback = v;
    this.noteChange();
  }

  get locked(): boolean {
    return this.isLocked;
  }

  set locked(v: boolean) {
    this.isLocked = v;
    this.noteChange();
  }

  /** get_folio/put_folio reference balance seen by the core (monitor aid). */
  get refs(): number {
    return this.refCount;
  }

  set refs(v: number) {
    this.refCount = v;
    this.noteChange();
  }

  get ifs(): IomapFolioState | null {
    return this.state;
  }

  set ifs(v: IomapFolioState | null) {
    this.state = v;
    this.noteChange();
  }

  /** Stores went through a PTE since the last mkclean (the PTE dirty bit). */
  get pteDirty(): boolean {
    return this.pteDirtyBit;
  }

  set pteDirty(v: boolean) {
    this.pteDirtyBit = v;
    this.noteChange();
  }

  get end(): number {
    return this.pos + this.size;
  }

  get nextIndex(): number {
    return this.index + this.nrPages;
  }

  /** offset_in_folio(): works for positions just before the folio too (kernel mask arithmetic). */
  offsetIn(pos: number): number {
    const r = pos % this.size;
    return r < 0 ? r + this.size : r;
  }

  contains(pos: number): boolean {
    return pos >= this.pos && pos < this.end;
  }
}

/**
 * Folio buffers are recycled: allocating (and collecting) a zeroed 64 KiB array per folio was
 * the fuzzer's largest cost. A buffer is handed back only by the page cache when the folio has
 * left it for good, and the old Folio object then holds an empty array, so a stale reference
 * reads nothing instead of someone else's bytes.
 */
const pool = new Map<number, Uint8Array[]>();
const POOL_MAX = 256;

function takeBuffer(size: number, fill: number): Uint8Array {
  const free = pool.get(size);
  const b = free && free.pop();
  if (b) {
    b.fill(fill);
    return b;
  }
  const n = new Uint8Array(size);
  if (fill !== 0) n.fill(fill);
  return n;
}

const EMPTY = new Uint8Array(0);

/** Give a removed folio's buffer back to the pool. */
export function recycleFolioData(folio: Folio): void {
  const b = folio.data;
  if (b.length === 0) return;
  folio.data = EMPTY;
  let free = pool.get(b.length);
  if (!free) pool.set(b.length, (free = []));
  if (free.length < POOL_MAX) free.push(b);
}

export function folioIndexOf(pos: number): number {
  return Math.floor(pos / PAGE_SIZE);
}

export { PAGE_SHIFT };

/** i_blocks_per_folio(). */
export function blocksPerFolio(folio: Folio, blkbits: number): number {
  return folio.size >>> blkbits;
}

/**
 * ifs_alloc(): attach per-block state if the folio holds more than one block. Bits are seeded
 * from the folio flags. (Allocation never fails in the model; the NOWAIT failure path is
 * reachable through `failNowaitIfsAlloc` for tests.)
 */
export function ifsAlloc(folio: Folio, blkbits: number, nowaitFail = false): IomapFolioState | null {
  const n = blocksPerFolio(folio, blkbits);
  if (folio.ifs || n <= 1) return folio.ifs;
  if (nowaitFail) return null;
  const ifs = new IomapFolioState(n, folio);
  if (folio.uptodate) ifs.uptodate.fill(1);
  if (folio.dirty) ifs.dirty.fill(1);
  folio.ifs = ifs;
  return ifs;
}

/** ifs_free(): returns the WARN conditions it found (pending counts, uptodate mismatch). */
export function ifsFree(folio: Folio): string[] {
  const ifs = folio.ifs;
  const warns: string[] = [];
  if (!ifs) return warns;
  if (ifs.readBytesPending !== 0) warns.push('ifs freed with read bytes pending');
  if (ifs.writeBytesPending !== 0) warns.push('ifs freed with write bytes pending');
  if (allSet(ifs.uptodate) !== folio.uptodate) warns.push('ifs uptodate bits disagree with folio uptodate');
  folio.ifs = null;
  return warns;
}

export function allSet(bits: Uint8Array): boolean {
  return bits.indexOf(0) === -1;
}

/** Block range [first, last] touched by the byte range [off, off+len) within a folio. */
function blockSpan(off: number, len: number, blkbits: number): [number, number] {
  const first = off >>> blkbits;
  const last = Math.floor((off + len - 1) / (1 << blkbits));
  return [first, last];
}

/** iomap_set_range_uptodate(). */
export function setRangeUptodate(folio: Folio, off: number, len: number, blkbits: number): void {
  const ifs = folio.ifs;
  if (ifs) {
    if (len > 0) {
      const [first, last] = blockSpan(off, len, blkbits);
      ifs.uptodate.fill(1, first, last + 1);
      folio.noteChange();
    }
    if (allSet(ifs.uptodate)) folio.uptodate = true;
  } else {
    folio.uptodate = true;
  }
}

/**
 * ifs_set_range_dirty(). The Errata edge case is kept: a zero-length range starting mid-block
 * marks that block (first == last), one at a block boundary marks none.
 */
export function setRangeDirty(folio: Folio, off: number, len: number, blkbits: number): void {
  const ifs = folio.ifs;
  if (!ifs) return;
  const first = off >>> blkbits;
  const last = Math.floor((off + len - 1) / (1 << blkbits));
  if (last >= first) {
    ifs.dirty.fill(1, first, last + 1);
    folio.noteChange();
  }
}

export function clearRangeDirty(folio: Folio, off: number, len: number, blkbits: number): void {
  const ifs = folio.ifs;
  if (!ifs || len <= 0) return;
  const [first, last] = blockSpan(off, len, blkbits);
  ifs.dirty.fill(0, first, last + 1);
  folio.noteChange();
}

export function blockIsUptodate(folio: Folio, blk: number): boolean {
  return folio.ifs ? folio.ifs.uptodate[blk] === 1 : folio.uptodate;
}

export function blockIsDirty(folio: Folio, blk: number): boolean {
  return folio.ifs ? folio.ifs.dirty[blk] === 1 : folio.dirty;
}

/** iomap_is_partially_uptodate(): false without ifs; else every overlapped block is uptodate. */
export function isPartiallyUptodate(folio: Folio, from: number, count: number, blkbits: number): boolean {
  const ifs = folio.ifs;
  if (!ifs) return false;
  const end = Math.min(from + count, folio.size);
  if (end <= from) return true;
  const [first, last] = blockSpan(from, end - from, blkbits);
  for (let i = first; i <= last; i++) if (!ifs.uptodate[i]) return false;
  return true;
}

/**
 * iomap_find_dirty_range(): from *start, find the next maximal run of dirty blocks below
 * rangeEnd. Returns [runStart, runLength] or null. Without ifs the whole remainder is dirty.
 */
export function findDirtyRange(folio: Folio, start: number, rangeEnd: number, blkbits: number): [number, number] | null {
  if (start >= rangeEnd) return null;
  const ifs = folio.ifs;
  if (!ifs) return [start, rangeEnd - start];
  const bs = 1 << blkbits;
  const startBlk = folio.offsetIn(start) >>> blkbits;
  const endBlk = Math.min(ifs.dirty.length, Math.ceil((rangeEnd - folio.pos) / bs));
  let first = ifs.dirty.indexOf(1, startBlk);
  if (first === -1 || first >= endBlk) return null;
  let last = first;
  while (last + 1 < endBlk && ifs.dirty[last + 1]) last++;
  const runStart = folio.pos + first * bs;
  return [runStart, (last - first + 1) * bs];
}

/** The dirty bit of a folio block, or of the folio when there is no per-block state. */
export function dirtyBlocks(folio: Folio, blkbits: number): number[] {
  const n = blocksPerFolio(folio, blkbits);
  const out: number[] = [];
  for (let i = 0; i < n; i++) if (blockIsDirty(folio, i)) out.push(i);
  return out;
}
