/**
 * A DAX file target for the dax suite: the reference DAX paths (reference/iomap/dax.ts:
 * dax_iomap_rw, dax_iomap_fault, dax_zero_range, dax_truncate_page, dax_writeback_mapping_range)
 * over a small block-mapped filesystem on a DAX-capable MemoryDevice, behind the FileAdapter
 * interface, so the fsx runner and its byte oracle drive it like any other target.
 *
 * The filesystem ("daxfs") allocates on WRITE (DAX needs MAPPED extents to store into), reports
 * the new blocks with F_NEW and zeroes them first (as xfs does for DAX with XFS_BMAPI_ZERO);
 * reads and ZERO of unallocated ranges see HOLEs. Freed blocks are reused first, so a missing
 * zeroing shows stale bytes.
 *
 * This module exports createAdapter(opts), so an op log recorded on it replays with
 *   iomap-harness replay LOG   (its "adapter" field is the path of this module)
 * Option `daxDefect` switches one realistic filesystem defect on, for the tests:
 *   'no-new-flag'       allocations are not reported with F_NEW (hole pages stay mapped)
 *   'no-zero-on-alloc'  new blocks are not zeroed (stale device bytes become visible)
 *   'truncate-no-zero'  truncate down does not zero the tail of the new EOF block
 */
import * as path from 'path';
import type { Capabilities, FileAdapter, FileTarget } from '../../adapters/types';
import { MemoryDevice } from '../../reference/device/memory';
import { EINVAL, EOPNOTSUPP, FsError, SIGBUS } from '../../reference/errno';
import { BioQueue } from '../../reference/iomap/bio';
import { iomapAops } from '../../reference/iomap/buffered-io';
import {
  VM_FAULT_ERROR, Vma, daxInvalidateRange, daxIomapFault, daxIomapRw, daxRead, daxState, daxTruncatePage, daxWrite,
  daxWritebackMappingRange, daxZeroRange, unmapMappingPages, vmFault,
} from '../../reference/iomap/dax';
import { dioIter } from '../../reference/iomap/direct-io';
import { AddressSpace } from '../../reference/iomap/pagecache';
import {
  Inode, Iomap, IomapOps, IOMAP_F_NEW, IOMAP_HOLE, IOMAP_MAPPED, IOMAP_NULL_ADDR, IOMAP_WRITE, IOMAP_ZERO, PAGE_SIZE,
} from '../../reference/iomap/types';
import { IovIter } from '../../reference/iomap/uio';

export type DaxDefect = 'no-new-flag' | 'no-zero-on-alloc' | 'truncate-no-zero';
export const DAX_DEFECTS: readonly DaxDefect[] = ['no-new-flag', 'no-zero-on-alloc', 'truncate-no-zero'];

export const describe = 'the reference DAX paths (dax_iomap_rw, faults, zeroing) over a small block-mapped fs on a DAX MemoryDevice';

const BS = 4096;
const DEV_SIZE = 256 << 20;
/** First device block the allocator hands out (the rest of the device is unused). */
const DATA_START = 256;

/** A WARN from the DAX paths: reported as a contract failure. */
class DaxWarning extends Error {
  readonly rule = 'iomap-contract-§5.8';
  constructor(msg: string) {
    super(msg);
    this.name = 'ContractViolation';
  }
}

class DaxFs {
  readonly dev: MemoryDevice;
  readonly map = new Map<number, number>();
  private next = DATA_START;
  private free: number[] = [];
  readonly ops: IomapOps;

  constructor(readonly defect: DaxDefect | undefined) {
    this.dev = new MemoryDevice({ size: DEV_SIZE, dax: true });
    this.ops = { begin: (inode, pos, length, flags, iomap) => this.begin(inode, pos, length, flags, iomap), end: () => 0 };
  }

  private alloc(): number {
    const b = this.free.length > 0 ? this.free.shift()! : this.next++;
    if (this.defect !== 'no-zero-on-alloc') this.dev.write(b * BS, new Uint8Array(BS));
    return b;
  }

  /** Free every block from `lblk` on. */
  freeFrom(lblk: number): void {
    for (const [l, p] of [...this.map]) {
      if (l < lblk) continue;
      this.map.delete(l);
      this.free.push(p);
    }
    this.free.sort((a, b) => a - b);
  }

  private begin(_inode: Inode, pos: number, length: number, flags: number, m: Iomap): number {
    const first = Math.floor(pos / BS);
    const endBlk = Math.max(first + 1, Math.ceil((pos + length) / BS));
    m.offset = first * BS;
    m.bdev = this.dev;
    const p = this.map.get(first);
    if (p === undefined) {
      let n = 1;
      while (first + n < endBlk && !this.map.has(first + n)) n++;
      if ((flags & IOMAP_WRITE) && !(flags & IOMAP_ZERO)) {
        // Allocate the hole run (block by block; contiguous runs are reported one block at a time
        // unless the allocator happened to hand out neighbours).
        const got = this.alloc();
        this.map.set(first, got);
        m.type = IOMAP_MAPPED;
        m.addr = got * BS;
        m.length = BS;
        m.flags = this.defect === 'no-new-flag' ? 0 : IOMAP_F_NEW;
        return 0;
      }
      m.type = IOMAP_HOLE;
      m.addr = IOMAP_NULL_ADDR;
      m.bdev = null;
      m.length = n * BS;
      return 0;
    }
    let n = 1;
    while (first + n < endBlk && this.map.get(first + n) === p + n) n++;
    m.type = IOMAP_MAPPED;
    m.addr = p * BS;
    m.length = n * BS;
    m.flags = 0;
    return 0;
  }
}

const hex = (n: number): string => '0x' + n.toString(16);

class DaxTarget implements FileTarget {
  readonly inode: Inode;
  private vma: Vma;

  constructor(readonly fs: DaxFs) {
    const mapping = new AddressSpace({ minOrder: 0, maxOrder: 0, newFolioFill: 0 }, new BioQueue());
    this.inode = { ino: 1, size: 0, blkbits: 12, blockSize: BS, mapping, fsPrivate: null };
    mapping.host = this.inode;
    mapping.aops = iomapAops;
    this.vma = this.newVma();
  }

  private newVma(): Vma {
    return new Vma(this.inode, { start: 1 << 30, length: 2 ** 40, pgoff: 0, shared: true });
  }

  private warnings(what: string): void {
    const w = this.inode.mapping.warnings;
    if (w.length === 0) return;
    const msg = w.splice(0).join('; ');
    throw new DaxWarning(`WARN in ${what}: ${msg}`);
  }

  private check(ret: number, what: string): number {
    this.warnings(what);
    if (ret < 0) throw new FsError(-ret, what);
    return ret;
  }

  size(): number {
    return this.inode.size;
  }

  pread(off: number, len: number): Uint8Array {
    if (off >= this.inode.size || len === 0) return new Uint8Array(0);
    const buf = new Uint8Array(Math.min(len, this.inode.size - off));
    const n = this.check(daxIomapRw({ pos: off, flags: 0 }, dioIter(new IovIter(buf), 'read'), this.inode, this.fs.ops), `dax read ${hex(off)}+${hex(len)}`);
    return buf.subarray(0, n);
  }

  pwrite(off: number, data: Uint8Array): number {
    if (data.length === 0) return 0;
    const inode = this.inode;
    // xfs_file_write_checks(): zero from the old EOF to the start of an extending write.
    if (off > inode.size) this.check(daxZeroRange(inode, inode.size, off - inode.size, null, this.fs.ops), 'zeroing past EOF');
    const n = this.check(daxIomapRw({ pos: off, flags: 0 }, dioIter(new IovIter(data), 'write'), inode, this.fs.ops), `dax write ${hex(off)}+${hex(data.length)}`);
    if (off + n > inode.size) inode.size = off + n;
    return n;
  }

  truncate(size: number): void {
    const inode = this.inode;
    const old = inode.size;
    if (size > old) {
      this.check(daxZeroRange(inode, old, size - old, null, this.fs.ops), 'zeroing for truncate up');
      inode.size = size;
      return;
    }
    if (this.fs.defect !== 'truncate-no-zero') this.check(daxTruncatePage(inode, size, null, this.fs.ops), 'dax_truncate_page');
    inode.size = size;
    // truncate_pagecache(): drop the DAX entries and user mappings of the pages past the new EOF.
    const firstGone = Math.ceil(size / PAGE_SIZE);
    daxInvalidateRange(inode, firstGone, Number.MAX_SAFE_INTEGER);
    unmapMappingPages(inode, firstGone, Number.MAX_SAFE_INTEGER);
    this.fs.freeFrom(Math.ceil(size / BS));
    this.warnings('truncate');
  }

  fsync(): void {
    this.check(daxWritebackMappingRange(this.inode, 0, Number.MAX_SAFE_INTEGER), 'dax writeback');
  }

  fdatasync(): void {
    this.fsync();
  }

  /** The PTE of file page `idx`, faulting it in (write: a writable one). */
  private pte(idx: number, write: boolean): { pfn: number | 'zero' | 'anon'; write: boolean } {
    if (idx >= Math.ceil(this.inode.size / PAGE_SIZE)) throw new FsError(SIGBUS, `DAX page ${idx} beyond EOF`);
    for (let tries = 0; tries < 3; tries++) {
      const p = this.vma.ptes.get(idx);
      if (p !== undefined && (!write || p.write)) return p;
      const r = daxIomapFault(vmFault(this.vma, idx, write), 0, { v: 0 }, null, this.fs.ops);
      this.warnings(`dax ${write ? 'write' : 'read'} fault at page ${idx}`);
      if (r & VM_FAULT_ERROR) throw new FsError(SIGBUS, `DAX ${write ? 'write' : 'read'} fault at page ${idx}: 0x${r.toString(16)}`);
    }
    throw new FsError(SIGBUS, `DAX fault at page ${idx} kept asking for a retry`);
  }

  mapread(off: number, len: number): Uint8Array {
    const last = Math.ceil(this.inode.size / PAGE_SIZE);
    if (len > 0 && Math.floor((off + len - 1) / PAGE_SIZE) >= last) throw new FsError(SIGBUS, `DAX mapread past page ${last - 1}`);
    const out = new Uint8Array(len);
    for (let pos = off; pos < off + len;) {
      const idx = Math.floor(pos / PAGE_SIZE);
      const n = Math.min(off + len, (idx + 1) * PAGE_SIZE) - pos;
      const p = this.pte(idx, false);
      if (typeof p.pfn === 'number') {
        const d = daxRead(this.fs.dev, p.pfn * PAGE_SIZE + (pos % PAGE_SIZE), n);
        if (typeof d === 'number') throw new FsError(SIGBUS, `DAX load at ${hex(pos)}`);
        out.set(d, pos - off);
      }
      pos += n;
    }
    return out;
  }

  mapwrite(off: number, data: Uint8Array): void {
    for (let pos = off; pos < off + data.length;) {
      const idx = Math.floor(pos / PAGE_SIZE);
      const n = Math.min(off + data.length, (idx + 1) * PAGE_SIZE) - pos;
      const p = this.pte(idx, true);
      if (typeof p.pfn !== 'number') throw new FsError(SIGBUS, `DAX store at ${hex(pos)}: no device page mapped`);
      if (daxWrite(this.fs.dev, p.pfn * PAGE_SIZE + (pos % PAGE_SIZE), data.subarray(pos - off, pos - off + n))) throw new FsError(SIGBUS, `DAX store at ${hex(pos)}`);
      daxState(this.inode).dirtyPages = true;
      pos += n;
    }
    this.fsync(); // msync
  }

  closeOpen(): void {
    this.vma.close();
    daxInvalidateRange(this.inode, 0, Number.MAX_SAFE_INTEGER);
    this.vma = this.newVma();
  }
}

export class DaxAdapter implements FileAdapter {
  readonly name = 'dax';
  readonly capabilities: Capabilities = {
    blockSize: BS, pageSize: PAGE_SIZE, maxFileSize: DEV_SIZE / 2, mmap: true, fallocModes: [], clone: false, dedupe: false,
    copyRange: false, directIO: false, dioAlign: 512, seek: false, fiemap: false, remount: false,
  };
  private fs: DaxFs | null = null;
  constructor(readonly defect?: DaxDefect) {}

  open(): FileTarget {
    this.fs = new DaxFs(this.defect);
    return new DaxTarget(this.fs);
  }

  close(): void {
    this.fs?.dev.close();
    this.fs = null;
  }
}

export function createAdapter(opts: Record<string, unknown> = {}): FileAdapter {
  const d = opts.daxDefect;
  if (d !== undefined && !DAX_DEFECTS.includes(d as DaxDefect)) throw new FsError(EINVAL, `daxDefect must be one of ${DAX_DEFECTS.join(', ')}`);
  if (opts.blockSize !== undefined && opts.blockSize !== BS) throw new FsError(EOPNOTSUPP, `the DAX target has ${BS}-byte blocks`);
  return new DaxAdapter(d as DaxDefect | undefined);
}

/** The adapter spec that loads this module (a path; relative to the working directory when inside it). */
export function daxAdapterSpec(): string {
  const file = __filename.replace(/\.ts$/, '.js');
  const rel = path.relative(process.cwd(), file);
  return rel.startsWith('..') || path.isAbsolute(rel) ? file : `./${rel}`;
}
