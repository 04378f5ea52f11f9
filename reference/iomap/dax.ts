/**
 * fs/dax.c, the iomap half (6.12 semantics, era A): dax_iomap_rw, dax_iomap_fault (PTE and PMD
 * with fallback), dax_finish_sync_fault, dax_zero_range / dax_truncate_page, dax_file_unshare,
 * dax_dedupe_file_range_compare, contract §5.8.
 *
 * The DAX device is the mapping's bdev (it must report dax=true, e.g. MemoryDevice): "memory"
 * accesses are byte ranges on it, done as read-modify-write of whole sectors. Device page numbers
 * stand in for pfns (pfn = device byte address / PAGE_SIZE).
 *
 * The page cache of a DAX inode holds no folios, only DAX entries; the model keeps them (and the
 * page tables of each mapping of the file) in a per-inode DaxState next to the inode:
 *   - an entry covers one page (PTE entry) or a 2 MiB-aligned PMD range (PMD entry) and is
 *     empty (a placeholder taken by a fault), a zero-page entry (read fault on a hole) or a pfn
 *     entry, with DIRTY and TOWRITE marks;
 *   - a Vma holds the PTEs/PMDs installed into one user mapping (file page -> pfn or zero page).
 * Entry locking, wait queues and TLB flushing have no single-threaded equivalent and are left out.
 */
import {
  Inode, Iomap, IomapOps, IOMAP_DAX, IOMAP_F_DIRTY, IOMAP_F_NEW, IOMAP_F_SHARED, IOMAP_FAULT, IOMAP_HOLE, IOMAP_MAPPED,
  IOMAP_NOWAIT, IOMAP_UNSHARE, IOMAP_UNWRITTEN, IOMAP_WRITE, IOMAP_ZERO, PAGE_SIZE, roundDown, roundUp,
} from './types';
import { IomapIter, iomapIter, iomapIterSrcmap, iomapLength, iomapIterBodyDone } from './iter';
import { DioIovIter, IOCB_NOWAIT, Kiocb } from './direct-io';
import type { BlockDevice } from '../device/types';
import { EFAULT, EINTR, EINVAL, EIO, ENOMEM, EOPNOTSUPP, ERANGE, isFsError } from '../errno';

/* ------------------------------------------------------------------------------------------ */
/* Constants                                                                                  */
/* ------------------------------------------------------------------------------------------ */

export const PMD_ORDER = 9;
export const PMD_SIZE = PAGE_SIZE << PMD_ORDER;
export const PG_PMD_NR = 1 << PMD_ORDER;
export const PG_PMD_COLOUR = PG_PMD_NR - 1;

/** vm_fault_t bits (include/linux/mm_types.h). */
export const VM_FAULT_OOM = 0x000001;
export const VM_FAULT_SIGBUS = 0x000002;
export const VM_FAULT_MAJOR = 0x000004;
export const VM_FAULT_HWPOISON = 0x000010;
export const VM_FAULT_SIGSEGV = 0x000040;
export const VM_FAULT_NOPAGE = 0x000100;
export const VM_FAULT_LOCKED = 0x000200;
export const VM_FAULT_RETRY = 0x000400;
export const VM_FAULT_FALLBACK = 0x000800;
export const VM_FAULT_DONE_COW = 0x001000;
export const VM_FAULT_NEEDDSYNC = 0x002000;
export const VM_FAULT_ERROR = VM_FAULT_OOM | VM_FAULT_SIGBUS | VM_FAULT_SIGSEGV | VM_FAULT_HWPOISON | VM_FAULT_FALLBACK;

/** -EHWPOISON (a poisoned DAX range). */
export const EHWPOISON = 133;

/** vm_fault flags. */
export const FAULT_FLAG_WRITE = 0x01;

/** Model switches: pending fatal signal for the rw copy loop. */
export const daxHooks = { fatalSignal: false };

/* ------------------------------------------------------------------------------------------ */
/* DAX entries and page tables                                                                */
/* ------------------------------------------------------------------------------------------ */

export interface DaxEntry {
  /** First file page index covered (PMD entries: PMD aligned). */
  index: number;
  /** 0 (PTE entry) or PMD_ORDER. */
  order: number;
  /** DAX_EMPTY: a placeholder, no storage yet. */
  empty: boolean;
  /** DAX_ZERO_PAGE: the shared zero page is mapped (read fault on a hole). */
  zero: boolean;
  /** First device page of a pfn entry, else -1. */
  pfn: number;
  dirty: boolean;
  towrite: boolean;
}

/** One installed page-table entry: a device page, the zero page, or an anonymous COW copy. */
export interface Pte {
  pfn: number | 'zero' | 'anon';
  write: boolean;
  /** Installed as part of a PMD mapping. */
  huge: boolean;
  /** Private COW copy (pfn 'anon'). */
  anon?: Uint8Array;
}

/** A user mapping of the file (the VMA fields the fault path reads, and its page tables). */
export class Vma {
  readonly inode: Inode;
  /** vm_start / vm_end (user virtual addresses, page aligned). */
  readonly start: number;
  readonly end: number;
  /** vm_pgoff: file page mapped at vm_start. */
  readonly pgoff: number;
  /** VM_SHARED (MAP_SHARED) versus a private mapping. */
  readonly shared: boolean;
  /** VM_SYNC (MAP_SYNC). */
  readonly sync: boolean;
  /** Installed entries by FILE page index. */
  readonly ptes = new Map<number, Pte>();

  constructor(inode: Inode, o: { start: number; length: number; pgoff?: number; shared?: boolean; sync?: boolean }) {
    this.inode = inode;
    this.start = o.start;
    this.end = o.start + o.length;
    this.pgoff = o.pgoff ?? 0;
    this.shared = o.shared ?? true;
    this.sync = o.sync ?? false;
    daxState(inode).vmas.add(this);
  }

  /** The user address of a file page, and back. */
  addrOf(index: number): number {
    return this.start + (index - this.pgoff) * PAGE_SIZE;
  }

  /** munmap(): drop the page tables and forget the mapping. */
  close(): void {
    this.ptes.clear();
    daxState(this.inode).vmas.delete(this);
  }

  /** Was a PMD installed covering this file page? */
  pmdMapped(index: number): boolean {
    return this.ptes.get(index)?.huge === true;
  }
}

export class DaxState {
  /** Entries keyed by their first index. */
  readonly entries = new Map<number, DaxEntry>();
  readonly vmas = new Set<Vma>();
  /** Count of major faults (PGMAJFAULT) and PMD fallbacks (THP_FAULT_FALLBACK). */
  majorFaults = 0;
  pmdFallbacks = 0;
  /** __mark_inode_dirty(I_DIRTY_PAGES) happened. */
  dirtyPages = false;

  /** The entry covering a file page, PTE or PMD. */
  lookup(index: number): DaxEntry | undefined {
    return this.entries.get(index) ?? this.pmdAt(index);
  }

  private pmdAt(index: number): DaxEntry | undefined {
    const e = this.entries.get(index - (index % PG_PMD_NR));
    return e && e.order === PMD_ORDER ? e : undefined;
  }

  /** Entries overlapping file pages [first, last]. */
  inRange(first: number, last: number): DaxEntry[] {
    const out: DaxEntry[] = [];
    for (const e of this.entries.values()) {
      const eLast = e.index + (1 << e.order) - 1;
      if (e.index <= last && eLast >= first) out.push(e);
    }
    return out.sort((a, b) => a.index - b.index);
  }
}

const states = new WeakMap<Inode, DaxState>();

/** The DAX state of an inode (created on first use). */
export function daxState(inode: Inode): DaxState {
  let s = states.get(inode);
  if (!s) {
    s = new DaxState();
    states.set(inode, s);
  }
  return s;
}

/** unmap_mapping_pages(): zap every user mapping of file pages [index, index+nr). */
export function unmapMappingPages(inode: Inode, index: number, nr: number): void {
  for (const vma of daxState(inode).vmas) {
    for (const k of [...vma.ptes.keys()]) if (k >= index && k < index + nr) vma.ptes.delete(k);
  }
}

/** __dax_clear_dirty_range(): clear DIRTY/TOWRITE of the entries in [first, last]. */
function daxClearDirtyRange(inode: Inode, first: number, last: number): void {
  for (const e of daxState(inode).inRange(first, last)) {
    e.dirty = false;
    e.towrite = false;
  }
}

/**
 * invalidate_inode_pages2_range() on a DAX mapping: drop every entry in the range that carries no
 * DIRTY/TOWRITE mark (dax_invalidate_mapping_entry_sync), then zap the page tables of the whole
 * range. Returns false (-EBUSY) if an entry had to stay.
 */
export function daxInvalidateRange(inode: Inode, first: number, last: number): boolean {
  const st = daxState(inode);
  let ok = true;
  for (const e of st.inRange(first, last)) {
    if (e.dirty || e.towrite) {
      ok = false;
      continue;
    }
    st.entries.delete(e.index);
  }
  unmapMappingPages(inode, first, last - first + 1);
  return ok;
}

/**
 * dax_writeback_mapping_range() (WB_SYNC_ALL): for every DIRTY entry in the range, write-protect
 * its mappings (pfn_mkclean_range) and clear the mark. The model's device has no CPU cache to flush.
 */
export function daxWritebackMappingRange(inode: Inode, start: number, endIncl: number): number {
  const first = Math.floor(start / PAGE_SIZE);
  const last = Math.floor(Math.min(endIncl, Number.MAX_SAFE_INTEGER) / PAGE_SIZE);
  const st = daxState(inode);
  for (const e of st.inRange(first, last)) {
    if (!e.dirty && !e.towrite) continue;
    for (const vma of st.vmas) {
      for (const [k, p] of vma.ptes) if (k >= e.index && k < e.index + (1 << e.order) && p.pfn !== 'anon') p.write = false;
    }
    e.dirty = false;
    e.towrite = false;
  }
  return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* DAX device access                                                                          */
/* ------------------------------------------------------------------------------------------ */

/** dax_iomap_pgoff(): the device page holding file position pos (pos rounded down to a page). */
export function daxIomapPgoff(m: Iomap, pos: number): number {
  return Math.floor((m.addr + roundDown(pos, PAGE_SIZE) - m.offset) / PAGE_SIZE);
}

function daxDev(m: Iomap): BlockDevice | null {
  return m.bdev && m.bdev.dax ? m.bdev : null;
}

/**
 * dax_direct_access(): map nrPages device pages from pgoff. Returns the device byte address of the
 * first page and the number of pages available (≤ nrPages), or -errno.
 */
function daxDirectAccess(dev: BlockDevice | null, pgoff: number, nrPages: number): { addr: number; pages: number } | number {
  if (!dev) return -EOPNOTSUPP;
  if (nrPages < 0 || pgoff < 0) return -EINVAL;
  const avail = Math.floor(dev.size / PAGE_SIZE) - pgoff;
  if (avail <= 0) return -ERANGE;
  return { addr: pgoff * PAGE_SIZE, pages: Math.min(avail, Math.max(nrPages, 1)) };
}

/** dax_mem2blk_err(). */
function daxMem2BlkErr(err: number): number {
  return err === -EHWPOISON ? -EIO : err;
}

/** A byte-granular load from the DAX device (copy_mc: a media error gives -EIO). */
export function daxRead(dev: BlockDevice, addr: number, len: number): Uint8Array | number {
  const ss = dev.sectorSize;
  const start = roundDown(addr, ss);
  const end = roundUp(addr + len, ss);
  const buf = new Uint8Array(end - start);
  try {
    if (end > start) dev.read(start, buf);
  } catch (e) {
    if (isFsError(e)) return -EIO;
    throw e;
  }
  return buf.subarray(addr - start, addr - start + len);
}

/** A byte-granular store to the DAX device (sector read-modify-write). 0 or -EIO. */
export function daxWrite(dev: BlockDevice, addr: number, data: Uint8Array): number {
  if (data.length === 0) return 0;
  const ss = dev.sectorSize;
  const start = roundDown(addr, ss);
  const end = roundUp(addr + data.length, ss);
  try {
    let buf: Uint8Array;
    if (start === addr && end === addr + data.length) {
      buf = data;
    } else {
      buf = new Uint8Array(end - start);
      dev.read(start, buf);
      buf.set(data, addr - start);
    }
    dev.write(start, buf);
    return 0;
  } catch (e) {
    if (isFsError(e)) return -EIO;
    throw e;
  }
}

/** Copy len bytes between two device addresses (copy_mc_to_kernel). 0 or -EIO. */
function daxCopy(dst: BlockDevice, daddr: number, src: BlockDevice, saddr: number, len: number): number {
  if (len <= 0) return 0;
  const data = daxRead(src, saddr, len);
  if (typeof data === 'number') return data;
  return daxWrite(dst, daddr, data.slice());
}

/**
 * dax_iomap_direct_access(): device address (page start) of pos in `m`. With `wantPfn` (fault
 * paths) the mapped length must cover `size` and the pfn must be aligned to it, else -EINVAL.
 */
function daxIomapDirectAccess(m: Iomap, pos: number, size: number, wantPfn: boolean): { addr: number; pfn: number } | number {
  const pgoff = daxIomapPgoff(m, pos);
  const r = daxDirectAccess(daxDev(m), pgoff, Math.floor(size / PAGE_SIZE));
  if (typeof r === 'number') return r;
  if (wantPfn) {
    const nr = Math.floor(size / PAGE_SIZE);
    if (r.pages * PAGE_SIZE < size) return -EINVAL;
    if (pgoff % nr !== 0) return -EINVAL;
  }
  return { addr: r.addr, pfn: pgoff };
}

/**
 * dax_iomap_copy_around(): before an unaligned write to a COW destination, fill the parts of the
 * aligned block around [pos, pos+length) from the source (or zero them when the source is
 * UNWRITTEN, or when there is no separate srcmap and the destination itself is SHARED).
 * `daddr` is the device address of the aligned block start in the destination.
 */
function daxIomapCopyAround(pos: number, length: number, alignSize: number, srcmap: Iomap, dst: BlockDevice, daddr: number): number {
  const headOff = pos % alignSize;
  const size = roundUp(headOff + length, alignSize);
  const end = pos + length;
  const pgEnd = roundUp(end, alignSize);
  const copyAll = headOff === 0 && end === pgEnd;
  const zeroEdge = (srcmap.flags & IOMAP_F_SHARED) !== 0 || srcmap.type === IOMAP_UNWRITTEN;
  let saddr = 0;
  const sdev = daxDev(srcmap);
  if (!zeroEdge) {
    const r = daxIomapDirectAccess(srcmap, pos, size, false);
    if (typeof r === 'number') return daxMem2BlkErr(r);
    saddr = r.addr;
  }
  if (copyAll) {
    const ret = zeroEdge ? daxWrite(dst, daddr, new Uint8Array(size)) : daxCopy(dst, daddr, sdev!, saddr, length);
    return ret ? -EIO : 0;
  }
  if (headOff) {
    const ret = zeroEdge ? daxWrite(dst, daddr, new Uint8Array(headOff)) : daxCopy(dst, daddr, sdev!, saddr, headOff);
    if (ret) return -EIO;
  }
  if (end < pgEnd) {
    const tailOff = headOff + length;
    const tailLen = pgEnd - end;
    const ret = zeroEdge ? daxWrite(dst, daddr + tailOff, new Uint8Array(tailLen))
      : daxCopy(dst, daddr + tailOff, sdev!, saddr + tailOff, tailLen);
    if (ret) return -EIO;
  }
  return 0;
}

function forwardWarnings(it: IomapIter): void {
  for (const w of it.warnings) it.inode.mapping.warnings.push(`iomap_iter: ${w}`);
}

function warn(inode: Inode, msg: string): void {
  inode.mapping.warnings.push(msg);
}

/* ------------------------------------------------------------------------------------------ */
/* read/write                                                                                 */
/* ------------------------------------------------------------------------------------------ */

/** dax_iomap_iter(): one mapping of dax_iomap_rw. Returns bytes moved, or -errno if none. */
function daxIomapIter(it: IomapIter, iter: DioIovIter): number {
  const map = it.iomap;
  const srcmap = iomapIterSrcmap(it);
  const inode = it.inode;
  let length = iomapLength(it);
  let pos = it.pos;
  let end = pos + length;
  let done = 0;
  const write = iter.rw === 'write';
  const cow = write && (map.flags & IOMAP_F_SHARED) !== 0;
  const iov = iter.iov;
  let ret = 0;

  if (!write) {
    end = Math.min(end, inode.size);
    if (pos >= end) return 0;
    if (map.type === IOMAP_HOLE || map.type === IOMAP_UNWRITTEN) return iov.zero(Math.min(length, end - pos));
  }
  // Only pure overwrites of written extents, or COW writes to anything.
  if (map.type !== IOMAP_MAPPED && !(map.flags & IOMAP_F_SHARED)) {
    warn(inode, `dax_iomap_iter: ${write ? 'write' : 'read'} over mapping type ${map.type} at ${pos}`);
    return -EIO;
  }
  // Tear down hole pages (and the COW source's mappings) so mmap sees what write(2) stores.
  if ((map.flags & IOMAP_F_NEW) || cow) {
    if (cow) daxClearDirtyRange(inode, Math.floor(pos / PAGE_SIZE), Math.floor((end - 1) / PAGE_SIZE));
    daxInvalidateRange(inode, Math.floor(pos / PAGE_SIZE), Math.floor((end - 1) / PAGE_SIZE));
  }
  const dev = daxDev(map);
  while (pos < end) {
    const offset = pos % PAGE_SIZE;
    const size = roundUp(length + offset, PAGE_SIZE);
    const pgoff = daxIomapPgoff(map, pos);
    if (daxHooks.fatalSignal) {
      ret = -EINTR;
      break;
    }
    const da = daxDirectAccess(dev, pgoff, size / PAGE_SIZE);
    if (typeof da === 'number') {
      ret = daxMem2BlkErr(da);
      break;
    }
    if (cow) {
      ret = daxIomapCopyAround(pos, length, PAGE_SIZE, srcmap, dev!, da.addr);
      if (ret) break;
    }
    let mapLen = da.pages * PAGE_SIZE - offset;
    if (mapLen > end - pos) mapLen = end - pos;
    const kaddr = da.addr + offset;
    let xfer: number;
    if (write) {
      const tmp = new Uint8Array(mapLen);
      xfer = iov.copyFrom(tmp, 0, mapLen);
      const err = daxWrite(dev!, kaddr, tmp.subarray(0, xfer));
      if (err) {
        iov.revert(xfer);
        ret = err;
        break;
      }
    } else {
      const data = daxRead(dev!, kaddr, mapLen);
      if (typeof data === 'number') {
        ret = data;
        break;
      }
      xfer = iov.copyTo(data, mapLen);
    }
    pos += xfer;
    length -= xfer;
    done += xfer;
    if (xfer === 0) ret = -EFAULT;
    if (xfer < mapLen) break;
  }
  return done ? done : ret;
}

/**
 * dax_iomap_rw(): read or write a DAX file. Returns bytes moved (ki_pos advanced) or -errno. The
 * caller holds i_rwsem (exclusive for writes) and keeps the page cache out of the range.
 */
export function daxIomapRw(iocb: Kiocb, iter: DioIovIter, inode: Inode, ops: IomapOps): number {
  const it = new IomapIter(inode, iocb.pos, iter.iov.count, IOMAP_DAX);
  if (!it.len) return 0;
  if (iter.rw === 'write') it.flags |= IOMAP_WRITE;
  if (iocb.flags & IOCB_NOWAIT) it.flags |= IOMAP_NOWAIT;
  let ret: number;
  while ((ret = iomapIter(it, ops)) > 0) iomapIterBodyDone(it, daxIomapIter(it, iter));
  forwardWarnings(it);
  const done = it.pos - iocb.pos;
  iocb.pos = it.pos;
  return done ? done : ret;
}

/* ------------------------------------------------------------------------------------------ */
/* Faults                                                                                     */
/* ------------------------------------------------------------------------------------------ */

/** struct vm_fault, the parts DAX reads. */
export interface VmFault {
  vma: Vma;
  /** Faulting user address. */
  address: number;
  /** File page index of the fault. */
  pgoff: number;
  /** FAULT_FLAG_*. */
  flags: number;
  /** A private-COW write fault provides the anonymous page to fill (vmf->cow_page). */
  cowPage?: Uint8Array | null;
}

/** Build the vm_fault for a file page of a vma. */
export function vmFault(vma: Vma, index: number, write: boolean, cowPage?: Uint8Array): VmFault {
  return { vma, address: vma.addrOf(index), pgoff: index, flags: write ? FAULT_FLAG_WRITE : 0, cowPage: cowPage ?? null };
}

/** vmf_error(). */
function vmfError(err: number): number {
  if (err === -ENOMEM) return VM_FAULT_OOM;
  if (err === -EHWPOISON) return VM_FAULT_HWPOISON;
  return VM_FAULT_SIGBUS;
}

/** dax_fault_return(). */
function daxFaultReturn(err: number): number {
  return err === 0 ? VM_FAULT_NOPAGE : vmfError(err);
}

/** dax_fault_is_synchronous(): a write fault on a MAP_SYNC vma with uncommitted metadata. */
function daxFaultIsSynchronous(it: IomapIter, vma: Vma): boolean {
  return (it.flags & IOMAP_WRITE) !== 0 && vma.sync && (it.iomap.flags & IOMAP_F_DIRTY) !== 0;
}

/**
 * grab_mapping_entry(): find or create the entry for the fault. A PMD request conflicting with
 * PTE entries falls back; a PTE request over a zero/empty PMD entry downgrades it.
 */
function grabMappingEntry(inode: Inode, index: number, order: number): DaxEntry | number {
  const st = daxState(inode);
  if (order === PMD_ORDER) {
    const base = index - (index % PG_PMD_NR);
    const ex = st.entries.get(base);
    if (ex && ex.order === PMD_ORDER) return ex;
    if (st.inRange(base, base + PG_PMD_NR - 1).length) return VM_FAULT_FALLBACK;
    const e: DaxEntry = { index: base, order, empty: true, zero: false, pfn: -1, dirty: false, towrite: false };
    st.entries.set(base, e);
    return e;
  }
  const base = index - (index % PG_PMD_NR);
  const pmd = st.entries.get(base);
  if (pmd && pmd.order === PMD_ORDER) {
    if (!(pmd.zero || pmd.empty)) return pmd;
    // Downgrade: unmap a huge zero page, drop the PMD entry, fall through to a PTE entry.
    if (pmd.zero) unmapMappingPages(inode, base, PG_PMD_NR);
    st.entries.delete(base);
  }
  const ex = st.entries.get(index);
  if (ex) return ex;
  const e: DaxEntry = { index, order: 0, empty: true, zero: false, pfn: -1, dirty: false, towrite: false };
  st.entries.set(index, e);
  return e;
}

/** dax_insert_entry(): replace an empty/zero entry (or any, for COW) with the new one; set marks. */
function daxInsertEntry(vmf: VmFault, it: IomapIter, entry: DaxEntry, pfn: number, pmd: boolean, zero: boolean): DaxEntry {
  const inode = it.inode;
  const st = daxState(inode);
  const write = (it.flags & IOMAP_WRITE) !== 0;
  const dirty = write && !daxFaultIsSynchronous(it, vmf.vma);
  const shared = (it.iomap.flags & IOMAP_F_SHARED) !== 0;
  if (dirty) st.dirtyPages = true;
  if (shared || (entry.zero && !zero)) {
    // Replacing a zero page with a block mapping: unmap the zero page everywhere.
    if (entry.order === PMD_ORDER) unmapMappingPages(inode, entry.index, PG_PMD_NR);
    else unmapMappingPages(inode, vmf.pgoff, 1);
  }
  if (shared || entry.zero || entry.empty) {
    st.entries.delete(entry.index);
    const order = pmd ? PMD_ORDER : 0;
    const index = pmd ? vmf.pgoff - (vmf.pgoff % PG_PMD_NR) : vmf.pgoff;
    entry = { index, order, empty: false, zero, pfn: zero ? -1 : pfn, dirty: false, towrite: false };
    st.entries.set(index, entry);
  }
  if (dirty) entry.dirty = true;
  if (write && shared) entry.towrite = true;
  return entry;
}

/** Install a PTE (vmf_insert_mixed[_mkwrite]) or PMD (vmf_insert_pfn_pmd) mapping. */
function insertMapping(vmf: VmFault, pfn: number | 'zero', write: boolean, pmd: boolean): number {
  const vma = vmf.vma;
  if (pmd) {
    const base = vmf.pgoff - (vmf.pgoff % PG_PMD_NR);
    for (let i = 0; i < PG_PMD_NR; i++) {
      vma.ptes.set(base + i, { pfn: pfn === 'zero' ? 'zero' : pfn + i, write, huge: true });
    }
  } else {
    vma.ptes.set(vmf.pgoff, { pfn, write, huge: false });
  }
  return VM_FAULT_NOPAGE;
}

/** dax_load_hole() / dax_pmd_load_hole(): map the (huge) zero page read-only. */
function daxLoadHole(vmf: VmFault, it: IomapIter, entry: { e: DaxEntry }, pmd: boolean): number {
  if (pmd) {
    const base = vmf.pgoff - (vmf.pgoff % PG_PMD_NR);
    entry.e = daxInsertEntry(vmf, it, entry.e, -1, true, true);
    // The PMD is already populated (pmd_none() is false): fall back.
    for (let i = 0; i < PG_PMD_NR; i++) if (vmf.vma.ptes.has(base + i)) return VM_FAULT_FALLBACK;
    return insertMapping(vmf, 'zero', false, true);
  }
  entry.e = daxInsertEntry(vmf, it, entry.e, -1, false, true);
  return insertMapping(vmf, 'zero', false, false);
}

/** dax_fault_cow_page(): a private write fault copies into the anonymous page. */
function daxFaultCowPage(vmf: VmFault, it: IomapIter): number {
  const page = vmf.cowPage!;
  let err = 0;
  switch (it.iomap.type) {
    case IOMAP_HOLE:
    case IOMAP_UNWRITTEN:
      page.fill(0);
      break;
    case IOMAP_MAPPED: {
      // copy_cow_page_dax()
      const r = daxDirectAccess(daxDev(it.iomap), daxIomapPgoff(it.iomap, it.pos), 1);
      if (typeof r === 'number') {
        err = daxMem2BlkErr(r);
        break;
      }
      const data = daxRead(it.iomap.bdev!, r.addr, PAGE_SIZE);
      if (typeof data === 'number') err = data;
      else page.set(data);
      break;
    }
    default:
      warn(it.inode, `dax COW fault over mapping type ${it.iomap.type}`);
      err = -EIO;
      break;
  }
  if (err) return daxFaultReturn(err);
  // finish_fault(): install the anonymous page.
  vmf.vma.ptes.set(vmf.pgoff, { pfn: 'anon', write: true, huge: false, anon: page });
  return VM_FAULT_DONE_COW;
}

/** dax_fault_iter(): handle the fault with the current mapping. */
function daxFaultIter(vmf: VmFault, it: IomapIter, pfnp: { v: number }, entry: { e: DaxEntry }, pmd: boolean): number {
  const map = it.iomap;
  const srcmap = iomapIterSrcmap(it);
  const size = pmd ? PMD_SIZE : PAGE_SIZE;
  const pos = (pmd ? vmf.pgoff - (vmf.pgoff % PG_PMD_NR) : vmf.pgoff) * PAGE_SIZE;
  const write = (it.flags & IOMAP_WRITE) !== 0;
  if (!pmd && vmf.cowPage) return daxFaultCowPage(vmf, it);
  // Reads of UNWRITTEN and HOLE map the zero page.
  if (!write && (map.type === IOMAP_UNWRITTEN || map.type === IOMAP_HOLE)) return daxLoadHole(vmf, it, entry, pmd);
  if (map.type !== IOMAP_MAPPED && !(map.flags & IOMAP_F_SHARED)) {
    warn(it.inode, `dax fault over mapping type ${map.type} at ${pos}`);
    return pmd ? VM_FAULT_FALLBACK : VM_FAULT_SIGBUS;
  }
  const r = daxIomapDirectAccess(map, pos, size, true);
  if (typeof r === 'number') return pmd ? VM_FAULT_FALLBACK : daxFaultReturn(r);
  entry.e = daxInsertEntry(vmf, it, entry.e, r.pfn, pmd, false);
  if (write && (map.flags & IOMAP_F_SHARED)) {
    const err = daxIomapCopyAround(pos, size, size, srcmap, daxDev(map)!, r.addr);
    if (err) return daxFaultReturn(err);
  }
  if (daxFaultIsSynchronous(it, vmf.vma)) {
    // The caller must fsync, then install the entry with dax_finish_sync_fault().
    pfnp.v = r.pfn;
    return VM_FAULT_NEEDDSYNC;
  }
  return insertMapping(vmf, r.pfn, write, pmd);
}

/** dax_iomap_pte_fault(). */
function daxIomapPteFault(vmf: VmFault, pfnp: { v: number }, iomapErrp: { v: number } | null, ops: IomapOps): number {
  const inode = vmf.vma.inode;
  const it = new IomapIter(inode, vmf.pgoff * PAGE_SIZE, PAGE_SIZE, IOMAP_DAX | IOMAP_FAULT);
  let ret = 0;
  // Beyond EOF (the caller serialises against truncate).
  if (it.pos >= inode.size) return VM_FAULT_SIGBUS;
  if ((vmf.flags & FAULT_FLAG_WRITE) && !vmf.cowPage) it.flags |= IOMAP_WRITE;
  const got = grabMappingEntry(inode, vmf.pgoff, 0);
  if (typeof got === 'number') return got;
  const entry = { e: got };
  // Raced with a PMD fault covering this address: retry.
  if (vmf.vma.pmdMapped(vmf.pgoff)) return VM_FAULT_NOPAGE;
  let error: number;
  while ((error = iomapIter(it, ops)) > 0) {
    if (iomapLength(it) < PAGE_SIZE) {
      warn(inode, `dax pte fault: mapping shorter than a page at ${it.pos}`);
      iomapIterBodyDone(it, -EIO); // fs corruption?
      continue;
    }
    ret = daxFaultIter(vmf, it, pfnp, entry, false);
    if (ret !== VM_FAULT_SIGBUS && (it.iomap.flags & IOMAP_F_NEW)) {
      daxState(inode).majorFaults++;
      ret |= VM_FAULT_MAJOR;
    }
    if (!(ret & VM_FAULT_ERROR)) iomapIterBodyDone(it, PAGE_SIZE);
  }
  forwardWarnings(it);
  if (iomapErrp) iomapErrp.v = error;
  if (!ret && error) ret = daxFaultReturn(error);
  return ret;
}

/** dax_fault_check_fallback(): the PMD cannot be used for this fault. */
function daxFaultCheckFallback(vmf: VmFault, index: number, maxPgoff: number): boolean {
  const vma = vmf.vma;
  const pmdAddr = roundDown(vmf.address, PMD_SIZE);
  const write = (vmf.flags & FAULT_FLAG_WRITE) !== 0;
  // The file offset's PMD colour must match the address's.
  if ((vmf.pgoff % PG_PMD_NR) !== (Math.floor(vmf.address / PAGE_SIZE) % PG_PMD_NR)) return true;
  // Private write: COW is done with PTEs.
  if (write && !vma.shared) return true;
  // The PMD must lie inside the VMA.
  if (pmdAddr < vma.start) return true;
  if (pmdAddr + PMD_SIZE > vma.end) return true;
  // ... and inside the file.
  if ((index | PG_PMD_COLOUR) >= maxPgoff) return true;
  return false;
}

/** dax_iomap_pmd_fault(). */
function daxIomapPmdFault(vmf: VmFault, pfnp: { v: number }, ops: IomapOps): number {
  const inode = vmf.vma.inode;
  const st = daxState(inode);
  const it = new IomapIter(inode, 0, PMD_SIZE, IOMAP_DAX | IOMAP_FAULT);
  let ret = VM_FAULT_FALLBACK;
  if (vmf.flags & FAULT_FLAG_WRITE) it.flags |= IOMAP_WRITE;
  const maxPgoff = Math.ceil(inode.size / PAGE_SIZE);
  const index = vmf.pgoff - (vmf.pgoff % PG_PMD_NR);
  if (index >= maxPgoff) return VM_FAULT_SIGBUS;
  if (daxFaultCheckFallback(vmf, index, maxPgoff)) {
    st.pmdFallbacks++;
    return VM_FAULT_FALLBACK;
  }
  const got = grabMappingEntry(inode, vmf.pgoff, PMD_ORDER);
  if (typeof got === 'number') {
    if (got === VM_FAULT_FALLBACK) st.pmdFallbacks++;
    return got;
  }
  const entry = { e: got };
  // Raced with PTE faults that populated page tables under this PMD: retry.
  for (let i = 0; i < PG_PMD_NR; i++) {
    const p = vmf.vma.ptes.get(index + i);
    if (p && !p.huge) return 0;
  }
  it.pos = index * PAGE_SIZE;
  while (iomapIter(it, ops) > 0) {
    if (iomapLength(it) < PMD_SIZE) continue; // processed stays 0: the loop ends
    ret = daxFaultIter(vmf, it, pfnp, entry, true);
    if (ret !== VM_FAULT_FALLBACK) iomapIterBodyDone(it, PMD_SIZE);
  }
  forwardWarnings(it);
  if (ret === VM_FAULT_FALLBACK) st.pmdFallbacks++;
  return ret;
}

/**
 * dax_iomap_fault(): order 0 = PTE fault, PMD_ORDER = PMD fault; anything else falls back.
 * `pfnp.v` receives the pfn when VM_FAULT_NEEDDSYNC is returned; `iomapErrp` the iterator error.
 */
export function daxIomapFault(vmf: VmFault, order: number, pfnp: { v: number }, iomapErrp: { v: number } | null,
  ops: IomapOps): number {
  if (order === 0) return daxIomapPteFault(vmf, pfnp, iomapErrp, ops);
  if (order === PMD_ORDER) return daxIomapPmdFault(vmf, pfnp, ops);
  return VM_FAULT_FALLBACK;
}

/** dax_insert_pfn_mkwrite(): install the writable mapping after the sync, marking the entry dirty. */
function daxInsertPfnMkwrite(vmf: VmFault, pfn: number, order: number): number {
  const st = daxState(vmf.vma.inode);
  const entry = order === PMD_ORDER ? st.entries.get(vmf.pgoff - (vmf.pgoff % PG_PMD_NR)) : st.entries.get(vmf.pgoff);
  // Raced with someone splitting or removing the entry: retry the fault.
  if (!entry || (order === 0 && entry.order !== 0)) return VM_FAULT_NOPAGE;
  entry.dirty = true;
  if (order === 0) return insertMapping(vmf, pfn, true, false);
  if (order === PMD_ORDER) return insertMapping(vmf, pfn, true, true);
  return VM_FAULT_FALLBACK;
}

/**
 * dax_finish_sync_fault(): after VM_FAULT_NEEDDSYNC, make the range durable (vfs_fsync_range,
 * datasync) and install the writable entry.
 */
export function daxFinishSyncFault(vmf: VmFault, order: number, pfn: number,
  fsync: (start: number, endIncl: number, datasync: boolean) => number): number {
  const start = vmf.pgoff * PAGE_SIZE;
  const len = PAGE_SIZE << order;
  if (fsync(start, start + len - 1, true)) return VM_FAULT_SIGBUS;
  return daxInsertPfnMkwrite(vmf, pfn, order);
}

/* ------------------------------------------------------------------------------------------ */
/* Zeroing, unshare, dedupe compare                                                           */
/* ------------------------------------------------------------------------------------------ */

/** dax_memzero(): zero part of one page (and, for COW, copy around it from the source). */
function daxMemzero(it: IomapIter, pos: number, size: number): number {
  const map = it.iomap;
  const srcmap = iomapIterSrcmap(it);
  const offset = pos % PAGE_SIZE;
  const r = daxDirectAccess(daxDev(map), daxIomapPgoff(map, pos), 1);
  if (typeof r === 'number') return daxMem2BlkErr(r);
  if (daxWrite(map.bdev!, r.addr + offset, new Uint8Array(size))) return -EIO;
  if (map.flags & IOMAP_F_SHARED) return daxIomapCopyAround(pos, size, PAGE_SIZE, srcmap, map.bdev!, r.addr);
  return r.pages;
}

/** dax_zero_page_range(dax_dev, pgoff, 1). */
function daxZeroPageRange(map: Iomap, pgoff: number): number {
  const r = daxDirectAccess(daxDev(map), pgoff, 1);
  if (typeof r === 'number') return daxMem2BlkErr(r);
  return daxWrite(map.bdev!, r.addr, new Uint8Array(PAGE_SIZE));
}

/** dax_zero_iter(). */
function daxZeroIter(it: IomapIter, didZero: { v: boolean } | null): number {
  const map = it.iomap;
  const srcmap = iomapIterSrcmap(it);
  let pos = it.pos;
  let length = iomapLength(it);
  let written = 0;
  // Already zero.
  if (srcmap.type === IOMAP_HOLE || srcmap.type === IOMAP_UNWRITTEN) return length;
  // The pages whose sharing state changes because of COW.
  if (map.flags & IOMAP_F_SHARED) daxInvalidateRange(it.inode, Math.floor(pos / PAGE_SIZE), Math.floor((pos + length - 1) / PAGE_SIZE));
  do {
    const offset = pos % PAGE_SIZE;
    const size = Math.min(PAGE_SIZE - offset, length);
    const pgoff = daxIomapPgoff(map, pos);
    const rc = offset === 0 && size === PAGE_SIZE ? daxZeroPageRange(map, pgoff) : daxMemzero(it, pos, size);
    if (rc < 0) return rc;
    pos += size;
    length -= size;
    written += size;
  } while (length > 0);
  if (didZero) didZero.v = true;
  return written;
}

/** dax_zero_range(). */
export function daxZeroRange(inode: Inode, pos: number, len: number, didZero: { v: boolean } | null, ops: IomapOps): number {
  const it = new IomapIter(inode, pos, len, IOMAP_DAX | IOMAP_ZERO);
  let ret: number;
  while ((ret = iomapIter(it, ops)) > 0) iomapIterBodyDone(it, daxZeroIter(it, didZero));
  forwardWarnings(it);
  return ret;
}

/** dax_truncate_page(): zero from pos to the end of its block; nothing at a block boundary. */
export function daxTruncatePage(inode: Inode, pos: number, didZero: { v: boolean } | null, ops: IomapOps): number {
  const off = pos % inode.blockSize;
  if (!off) return 0;
  return daxZeroRange(inode, pos, inode.blockSize - off, didZero, ops);
}

/** iomap_want_unshare_iter() (6.12): SHARED destination with a MAPPED source. */
function wantUnshare(it: IomapIter): boolean {
  return (it.iomap.flags & IOMAP_F_SHARED) !== 0 && it.srcmap.type === IOMAP_MAPPED;
}

/** dax_unshare_iter() (6.12 fixed form: copies whole pages around the range). */
function daxUnshareIter(it: IomapIter): number {
  const map = it.iomap;
  const srcmap = iomapIterSrcmap(it);
  let copyPos = it.pos;
  let copyLen = iomapLength(it);
  if (!wantUnshare(it)) return iomapLength(it);
  // Whole pages: extend to page boundaries; invalidate because of the COW.
  let mod = copyPos % PAGE_SIZE;
  if (mod) {
    copyLen += mod;
    copyPos -= mod;
  }
  mod = (copyPos + copyLen) % PAGE_SIZE;
  if (mod) copyLen += PAGE_SIZE - mod;
  daxInvalidateRange(it.inode, Math.floor(copyPos / PAGE_SIZE), Math.floor((copyPos + copyLen - 1) / PAGE_SIZE));
  const d = daxIomapDirectAccess(map, copyPos, copyLen, false);
  if (typeof d === 'number') return daxMem2BlkErr(d);
  const s = daxIomapDirectAccess(srcmap, copyPos, copyLen, false);
  if (typeof s === 'number') return daxMem2BlkErr(s);
  if (daxCopy(map.bdev!, d.addr, srcmap.bdev!, s.addr, copyLen)) return -EIO;
  return iomapLength(it);
}

/** dax_file_unshare(). */
export function daxFileUnshare(inode: Inode, pos: number, len: number, ops: IomapOps): number {
  const size = inode.size;
  if (pos < 0 || pos >= size) return 0;
  const it = new IomapIter(inode, pos, Math.min(len, size - pos), IOMAP_WRITE | IOMAP_UNSHARE | IOMAP_DAX);
  let ret: number;
  while ((ret = iomapIter(it, ops)) > 0) iomapIterBodyDone(it, daxUnshareIter(it));
  forwardWarnings(it);
  return ret;
}

/**
 * dax_range_compare_iter(). As in the kernel: the length is limited by the raw mapping lengths
 * (not by what is left of them after pos), and the bytes compared start at the PAGE containing
 * each position (dax_iomap_direct_access returns the page address).
 */
function daxRangeCompareIter(itSrc: IomapIter, itDst: IomapIter, len: number, same: { v: boolean }): number {
  const smap = itSrc.iomap;
  const dmap = itDst.iomap;
  const pos1 = itSrc.pos;
  const pos2 = itDst.pos;
  len = Math.min(len, smap.length, dmap.length);
  if (smap.type === IOMAP_HOLE && dmap.type === IOMAP_HOLE) {
    same.v = true;
    return len;
  }
  if (smap.type === IOMAP_HOLE || dmap.type === IOMAP_HOLE) {
    same.v = false;
    return 0;
  }
  const s = daxIomapDirectAccess(smap, pos1, roundUp(pos1 + len, PAGE_SIZE), false);
  if (typeof s === 'number') return -EIO;
  const d = daxIomapDirectAccess(dmap, pos2, roundUp(pos2 + len, PAGE_SIZE), false);
  if (typeof d === 'number') return -EIO;
  const a = daxRead(smap.bdev!, s.addr, len);
  const b = daxRead(dmap.bdev!, d.addr, len);
  if (typeof a === 'number' || typeof b === 'number') return -EIO;
  same.v = Buffer.compare(Buffer.from(a), Buffer.from(b)) === 0;
  if (!same.v) len = 0;
  return len;
}

/**
 * dax_dedupe_file_range_compare(): walk both files in lock step. Returns the iterator result (0
 * when done or when a difference stopped the walk; `same.v` says which). Kernel quirks kept: a
 * compare error returns the iterator's positive value, and when the walk stops (finished or on a
 * difference) the destination's current mapping gets no ->iomap_end (the && short-circuits).
 */
export function daxDedupeFileRangeCompare(src: Inode, srcoff: number, dst: Inode, dstoff: number, len: number,
  same: { v: boolean }, ops: IomapOps): number {
  const srcIter = new IomapIter(src, srcoff, len, IOMAP_DAX);
  const dstIter = new IomapIter(dst, dstoff, len, IOMAP_DAX);
  let ret: number;
  while ((ret = iomapIter(srcIter, ops)) > 0 && (ret = iomapIter(dstIter, ops)) > 0) {
    const compared = daxRangeCompareIter(srcIter, dstIter, Math.min(srcIter.len, dstIter.len), same);
    if (compared < 0) return ret;
    iomapIterBodyDone(srcIter, compared);
    iomapIterBodyDone(dstIter, compared);
  }
  forwardWarnings(srcIter);
  forwardWarnings(dstIter);
  return ret;
}
