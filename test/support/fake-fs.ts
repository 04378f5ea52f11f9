/**
 * A tiny extent-map filesystem for driving the generic iomap families (direct I/O, seek, fiemap,
 * swapfile, DAX) before the reference filesystem is wired to them.
 *
 * State is a per-block map (absent = hole) of { kind: delalloc | mapped | unwritten, addr,
 * shared, dirty (uncommitted metadata), cow (a pending COW destination) } plus an optional inline
 * area at offset 0. ->iomap_begin merges neighbouring blocks of the same state whose device
 * addresses continue each other, and:
 *   - allocates on WRITE over holes/delalloc (kind `allocOnWrite`, F_NEW, F_DIRTY),
 *   - allocates a COW destination on WRITE over shared blocks (F_SHARED, srcmap = old blocks),
 *   - answers NOWAIT with -EAGAIN when it would allocate or cannot map the whole request,
 *   - answers OVERWRITE_ONLY with -EAGAIN unless one MAPPED (or aligned UNWRITTEN) non-shared
 *     mapping covers the request,
 *   - sets F_DIRTY when a block's metadata is uncommitted or a write extends i_size.
 * Tests can override any begin with `beginHook` and any end with `endHook`. Every begin/end
 * (CallLog) and every DIO ->end_io is recorded. ->end_io remaps COW, converts UNWRITTEN and
 * raises i_size, like xfs_dio_write_end_io. Writeback ops convert delalloc on ->map_blocks and
 * unwritten at ioend completion.
 */
import {
  Inode, Iomap, IomapOps, IOMAP_DAX, IOMAP_DELALLOC, IOMAP_F_DIRTY, IOMAP_F_MERGED, IOMAP_F_NEW, IOMAP_F_SHARED,
  IOMAP_HOLE, IOMAP_INLINE, IOMAP_MAPPED, IOMAP_NOWAIT, IOMAP_NULL_ADDR, IOMAP_OVERWRITE_ONLY, IOMAP_REPORT,
  IOMAP_UNWRITTEN, IOMAP_WRITE, IOMAP_ZERO, IomapType, PAGE_SHIFT, PAGE_SIZE, WritebackOps, WritepageCtx,
} from '../../reference/iomap/types';
import { AddressSpace } from '../../reference/iomap/pagecache';
import { BioQueue } from '../../reference/iomap/bio';
import { Folio, ifsAlloc, setRangeDirty, setRangeUptodate } from '../../reference/iomap/folio';
import { iomapAops } from '../../reference/iomap/buffered-io';
import { iomapWritepages, newWritepageCtx } from '../../reference/iomap/writeback';
import { Ioend, iomapFinishIoends } from '../../reference/iomap/ioend';
import { lowerBound } from '../../reference/sorted';
import { DioOps, IOMAP_DIO_COW, IOMAP_DIO_UNWRITTEN, IOMAP_DIO_WRITE, Kiocb } from '../../reference/iomap/direct-io';
import { MemoryDevice } from '../../reference/device/memory';
import type { BlockDevice, WriteOptions } from '../../reference/device/types';
import { EAGAIN } from '../../reference/errno';
import { CallLog } from './scripted-ops';

export type BlockKind = 'delalloc' | 'mapped' | 'unwritten';

export interface FakeBlock {
  kind: BlockKind;
  /** Device byte address (-1 for delalloc). */
  addr: number;
  /** Reflinked: a write must COW. */
  shared?: boolean;
  /** Uncommitted metadata (F_DIRTY) until fsync. */
  dirty?: boolean;
  /** Allocated by the begin that is reporting it (F_NEW); cleared after that begin returns. */
  fresh?: boolean;
  /** Pending COW destination (allocated by a write begin, remapped by end_io / DAX end). */
  cow?: { addr: number; kind: 'mapped' | 'unwritten' };
  /** Report F_MERGED for mappings containing this block. */
  merged?: boolean;
}

/** A device wrapper recording every request (with FUA). */
export class RecordingDevice implements BlockDevice {
  readonly inner: BlockDevice;
  readonly log: Array<{ op: 'read' | 'write' | 'flush' | 'discard'; off: number; len: number; fua: boolean }> = [];
  constructor(inner: BlockDevice) {
    this.inner = inner;
  }
  get name(): string { return `rec(${this.inner.name})`; }
  get sectorSize(): number { return this.inner.sectorSize; }
  get size(): number { return this.inner.size; }
  get dax(): boolean { return this.inner.dax; }
  get closed(): boolean { return this.inner.closed; }
  read(off: number, buf: Uint8Array): void {
    this.inner.read(off, buf);
    this.log.push({ op: 'read', off, len: buf.length, fua: false });
  }
  write(off: number, data: Uint8Array, opts?: WriteOptions): void {
    this.inner.write(off, data, opts);
    this.log.push({ op: 'write', off, len: data.length, fua: opts?.fua === true });
  }
  flush(): void {
    this.inner.flush();
    this.log.push({ op: 'flush', off: 0, len: 0, fua: false });
  }
  discard(off: number, len: number): void {
    this.inner.discard(off, len);
    this.log.push({ op: 'discard', off, len, fua: false });
  }
  close(): void { this.inner.close(); }
  writes(): Array<[number, number, boolean]> {
    return this.log.filter((r) => r.op === 'write').map((r) => [r.off, r.len, r.fua]);
  }
}

export interface FakeFsOptions {
  blockSize: number;
  /** Largest folio of the page cache (default 4096, at least the block size). */
  folioSize?: number;
  /** Device (default: a MemoryDevice of 64 MiB with `sectorSize`). */
  dev?: BlockDevice;
  sectorSize?: number;
  /** First device byte handed out by the allocator (default 1 MiB). */
  allocStart?: number;
}

export class FakeFs {
  readonly dev: BlockDevice;
  readonly blockSize: number;
  readonly blkbits: number;
  readonly folioSize: number;
  readonly queue = new BioQueue();
  nextAlloc: number;
  private nextIno = 1;

  constructor(o: FakeFsOptions) {
    this.blockSize = o.blockSize;
    this.blkbits = Math.log2(o.blockSize);
    this.folioSize = Math.max(o.folioSize ?? PAGE_SIZE, o.blockSize, PAGE_SIZE);
    this.dev = o.dev ?? new MemoryDevice({ size: 64 << 20, sectorSize: o.sectorSize ?? 512 });
    this.nextAlloc = o.allocStart ?? (1 << 20);
  }

  /** Allocate `n` contiguous blocks; returns the device byte address. */
  alloc(n: number): number {
    const a = this.nextAlloc;
    this.nextAlloc += n * this.blockSize;
    return a;
  }

  newInode(size = 0): Inode {
    const minOrder = Math.max(0, this.blkbits - PAGE_SHIFT);
    const maxOrder = Math.log2(this.folioSize) - PAGE_SHIFT;
    const mapping = new AddressSpace({ minOrder, maxOrder, newFolioFill: 0 }, this.queue);
    const inode: Inode = { ino: this.nextIno++, size, blkbits: this.blkbits, blockSize: this.blockSize, mapping, fsPrivate: null };
    mapping.host = inode;
    mapping.aops = iomapAops;
    return inode;
  }

  file(o: FakeFileOptions = {}): FakeFile {
    return new FakeFile(this, o);
  }
}

export interface FakeFileOptions {
  size?: number;
  /** What a WRITE over a hole/delalloc allocates ('none': return the hole/delalloc as is). */
  allocOnWrite?: 'mapped' | 'unwritten' | 'none';
  /** Kind of COW destinations (default 'mapped'). */
  cowKind?: 'mapped' | 'unwritten';
  /** Mappings end at the block holding the request's end (default true, like xfs). */
  trimToRequest?: boolean;
  /** Cap on blocks per mapping (forces several mappings). */
  maxMapBlocks?: number;
  /** Freshly allocated blocks carry uncommitted metadata (F_DIRTY) until fsync (default true). */
  dirtyOnAlloc?: boolean;
  /** NOWAIT writes must be mapped whole by one mapping, else -EAGAIN (default true). */
  nowaitWholeRange?: boolean;
  /** The inline area (offset 0): bytes are the buffer, length = its size. */
  inline?: Uint8Array;
  /** Ignore shared-ness on writes (report the old blocks as plain MAPPED|SHARED, no COW). */
  noCow?: boolean;
}

export interface EndIoRecord {
  pos: number;
  size: number;
  error: number;
  flags: number;
}

export class FakeFile extends CallLog {
  readonly fs: FakeFs;
  readonly inode: Inode;
  readonly blocks = new Map<number, FakeBlock>();
  inline: Uint8Array | null;
  readonly opts: Required<Omit<FakeFileOptions, 'inline' | 'size'>>;
  /** Runs first in ->iomap_begin; a number return is the begin result (the iomap as the hook left it). */
  beginHook: ((pos: number, len: number, flags: number, iomap: Iomap, srcmap: Iomap) => number | undefined) | null = null;
  /** Replaces ->iomap_end's result when set. */
  endHook: ((pos: number, length: number, written: number, flags: number, iomap: Iomap) => number) | null = null;
  readonly endIos: EndIoRecord[] = [];
  /** Return value of ->end_io instead of the usual (null: behave normally). */
  endIoReturn: number | null = null;
  /** Fails fsync with this errno when set. */
  fsyncError = 0;
  fsyncCalls = 0;
  readonly ops: IomapOps;
  readonly dops: DioOps;
  readonly wbOps: WritebackOps;
  private sortedCache: number[] | null = null;

  constructor(fs: FakeFs, o: FakeFileOptions) {
    super();
    this.fs = fs;
    this.inode = fs.newInode(o.size ?? 0);
    this.inode.fsPrivate = this;
    this.inline = o.inline ?? null;
    this.opts = {
      allocOnWrite: o.allocOnWrite ?? 'mapped',
      cowKind: o.cowKind ?? 'mapped',
      trimToRequest: o.trimToRequest ?? true,
      maxMapBlocks: o.maxMapBlocks ?? Infinity,
      dirtyOnAlloc: o.dirtyOnAlloc ?? true,
      nowaitWholeRange: o.nowaitWholeRange ?? true,
      noCow: o.noCow ?? false,
    };
    const self = this;
    this.ops = {
      begin: (inode, pos, len, flags, iomap, srcmap) => self.begin(inode, pos, len, flags, iomap, srcmap),
      end: (inode, pos, length, written, flags, iomap) => self.end(inode, pos, length, written, flags, iomap),
    };
    // Tests may add a submitIo hook to this object.
    this.dops = { endIo: (iocb, size, error, flags) => self.endIo(iocb, size, error, flags) };
    this.wbOps = {
      mapBlocks: (wpc, inode, offset, len) => self.mapBlocks(wpc, inode, offset, len),
      prepareIoend: (ioend, status) => self.prepareIoend(ioend, status),
    };
    const mapping = this.inode.mapping;
    mapping.writepages = (wbc) => iomapWritepages(mapping, wbc, newWritepageCtx(self.wbOps));
  }

  get bs(): number {
    return this.fs.blockSize;
  }

  /* ---------------------------------------------------------------------------------------- */
  /* Setup                                                                                    */
  /* ---------------------------------------------------------------------------------------- */

  private changed(): void {
    this.sortedCache = null;
  }

  /** Define blocks [first, first+n) as `kind`, at consecutive device addresses from `addr` (default: allocate). */
  set(first: number, n: number, kind: BlockKind, o: { addr?: number; shared?: boolean; dirty?: boolean; merged?: boolean } = {}): number {
    const addr = kind === 'delalloc' ? -1 : (o.addr ?? this.fs.alloc(n));
    for (let i = 0; i < n; i++) {
      this.blocks.set(first + i, {
        kind, addr: kind === 'delalloc' ? -1 : addr + i * this.bs, shared: o.shared, dirty: o.dirty, merged: o.merged,
      });
    }
    this.changed();
    return addr;
  }

  punch(first: number, n: number): void {
    for (let i = 0; i < n; i++) this.blocks.delete(first + i);
    this.changed();
  }

  /** Store bytes on the device under mapped/unwritten blocks (the file contents a read would see, for mapped). */
  writeDevice(off: number, data: Uint8Array): void {
    const ss = this.fs.dev.sectorSize;
    for (let done = 0; done < data.length;) {
      const pos = off + done;
      const blk = Math.floor(pos / this.bs);
      const b = this.blocks.get(blk);
      const inBlk = pos - blk * this.bs;
      const n = Math.min(this.bs - inBlk, data.length - done);
      if (b && b.addr >= 0) {
        const a = b.addr + inBlk;
        const s = Math.floor(a / ss) * ss;
        const e = Math.ceil((a + n) / ss) * ss;
        const buf = new Uint8Array(e - s);
        this.fs.dev.read(s, buf);
        buf.set(data.subarray(done, done + n), a - s);
        this.fs.dev.write(s, buf);
      }
      done += n;
    }
  }

  /** What the file holds on disk: mapped blocks from the device, everything else zero (no page cache). */
  readDisk(off: number, len: number): Uint8Array {
    const out = new Uint8Array(len);
    const ss = this.fs.dev.sectorSize;
    for (let done = 0; done < len;) {
      const pos = off + done;
      const blk = Math.floor(pos / this.bs);
      const b = this.blocks.get(blk);
      const inBlk = pos - blk * this.bs;
      const n = Math.min(this.bs - inBlk, len - done);
      if (this.inline && pos < this.inline.length) {
        const m = Math.min(n, this.inline.length - pos);
        out.set(this.inline.subarray(pos, pos + m), done);
      } else if (b && b.kind === 'mapped') {
        const a = b.addr + inBlk;
        const s = Math.floor(a / ss) * ss;
        const e = Math.ceil((a + n) / ss) * ss;
        const buf = new Uint8Array(e - s);
        this.fs.dev.read(s, buf);
        out.set(buf.subarray(a - s, a - s + n), done);
      }
      done += n;
    }
    return out;
  }

  /** Raw device bytes under a block (whatever the kind). */
  rawBlock(blk: number): Uint8Array {
    const b = this.blocks.get(blk);
    if (!b || b.addr < 0) throw new Error(`block ${blk} has no device address`);
    const buf = new Uint8Array(this.bs);
    const ss = this.fs.dev.sectorSize;
    const s = Math.floor(b.addr / ss) * ss;
    const tmp = new Uint8Array(Math.ceil((b.addr + this.bs) / ss) * ss - s);
    this.fs.dev.read(s, tmp);
    buf.set(tmp.subarray(b.addr - s, b.addr - s + this.bs));
    return buf;
  }

  /** The folio holding pos (allocated with the fs's folio size if missing). */
  folio(pos: number): Folio {
    const m = this.inode.mapping;
    return m.folioAt(pos) ?? m.allocFolio(Math.floor(pos / PAGE_SIZE), this.fs.folioSize);
  }

  /**
   * Put [off, off+len) into the page cache as uptodate blocks (per-block bits), optionally dirty,
   * with `data` (default: what the disk holds). Block-aligned ranges only.
   */
  cache(off: number, len: number, o: { dirty?: boolean; data?: Uint8Array } = {}): Folio[] {
    const data = o.data ?? this.readDisk(off, len);
    const out: Folio[] = [];
    for (let done = 0; done < len;) {
      const pos = off + done;
      const f = this.folio(pos);
      const poff = pos - f.pos;
      const n = Math.min(f.size - poff, len - done);
      ifsAlloc(f, this.fs.blkbits);
      f.data.set(data.subarray(done, done + n), poff);
      setRangeUptodate(f, poff, n, this.fs.blkbits);
      if (o.dirty) {
        setRangeDirty(f, poff, n, this.fs.blkbits);
        f.dirty = true;
      }
      if (!out.includes(f)) out.push(f);
      done += n;
    }
    return out;
  }

  /** fsync: write back the page cache (allocating delalloc), then commit metadata (clear F_DIRTY). */
  fsync(): number {
    this.fsyncCalls++;
    if (this.fsyncError) return this.fsyncError;
    const m = this.inode.mapping;
    if (m.writepages) m.writepages({ syncMode: 'all', rangeStart: 0, rangeEnd: Number.MAX_SAFE_INTEGER });
    m.queue.waitInode(this.inode);
    for (const [blk, b] of this.blocks) {
      if (b.kind === 'delalloc') {
        b.kind = 'mapped';
        b.addr = this.fs.alloc(1);
        this.blocks.set(blk, b);
      }
      b.dirty = false;
    }
    this.changed();
    return 0;
  }

  /* ---------------------------------------------------------------------------------------- */
  /* Mapping                                                                                  */
  /* ---------------------------------------------------------------------------------------- */

  private sorted(): number[] {
    if (!this.sortedCache) this.sortedCache = [...this.blocks.keys()].sort((a, b) => a - b);
    return this.sortedCache;
  }

  /** First present block ≥ blk, or Infinity. */
  private nextPresent(blk: number): number {
    const s = this.sorted();
    const i = lowerBound(s, blk);
    return i < s.length ? s[i] : Infinity;
  }

  private sameRun(a: FakeBlock, b: FakeBlock | undefined, cow: boolean): boolean {
    if (!b || a.kind !== b.kind || !!a.shared !== !!b.shared || !!a.dirty !== !!b.dirty || !!a.fresh !== !!b.fresh) return false;
    if (!!a.merged !== !!b.merged) return false;
    if (a.kind !== 'delalloc' && b.addr !== a.addr + this.bs) return false;
    if (cow && (!a.cow || !b.cow || b.cow.addr !== a.cow.addr + this.bs)) return false;
    return true;
  }

  private typeOf(kind: BlockKind): IomapType {
    return kind === 'mapped' ? IOMAP_MAPPED : kind === 'unwritten' ? IOMAP_UNWRITTEN : IOMAP_DELALLOC;
  }

  begin(inode: Inode, pos: number, len: number, flags: number, iomap: Iomap, srcmap: Iomap): number {
    this.recordBegin(pos, len, flags, iomap, srcmap);
    if (this.beginHook) {
      const r = this.beginHook(pos, len, flags, iomap, srcmap);
      if (r !== undefined) return r;
    }
    const bs = this.bs;
    const write = (flags & IOMAP_WRITE) !== 0 && !(flags & (IOMAP_REPORT | IOMAP_ZERO));
    const blk = Math.floor(pos / bs);
    let endBlk = this.opts.trimToRequest ? Math.max(blk + 1, Math.ceil((pos + len) / bs)) : Infinity;
    if (this.opts.maxMapBlocks !== Infinity) endBlk = Math.min(endBlk, blk + this.opts.maxMapBlocks);

    // Inline area at offset 0.
    if (this.inline && pos < this.inline.length) {
      iomap.offset = 0;
      iomap.length = this.inline.length;
      iomap.type = IOMAP_INLINE;
      iomap.addr = IOMAP_NULL_ADDR;
      iomap.inlineData = this.inline;
      return 0;
    }

    let b = this.blocks.get(blk);
    const hole = !b || b.kind === 'delalloc';
    if (write && hole && this.opts.allocOnWrite !== 'none') {
      // Allocate the hole/delalloc run up to the next real block.
      if (flags & (IOMAP_NOWAIT | IOMAP_OVERWRITE_ONLY)) return -EAGAIN;
      let allocEnd = Math.max(blk + 1, Math.ceil((pos + len) / bs));
      if (this.opts.maxMapBlocks !== Infinity) allocEnd = Math.min(allocEnd, blk + this.opts.maxMapBlocks);
      let n = 1;
      while (blk + n < allocEnd) {
        const nb = this.blocks.get(blk + n);
        if (nb && nb.kind !== 'delalloc') break;
        n++;
      }
      const addr = this.fs.alloc(n);
      for (let i = 0; i < n; i++) {
        this.blocks.set(blk + i, { kind: this.opts.allocOnWrite, addr: addr + i * bs, dirty: this.opts.dirtyOnAlloc, fresh: true });
      }
      this.changed();
      b = this.blocks.get(blk);
    }

    if (!b) {
      // A hole up to the next present block (or the request end).
      const next = this.nextPresent(blk);
      let end = Math.min(next, endBlk);
      if (end === Infinity) end = blk + 2 ** 40 / bs;
      iomap.offset = blk * bs;
      iomap.length = (end - blk) * bs;
      iomap.type = IOMAP_HOLE;
      iomap.addr = IOMAP_NULL_ADDR;
      if (write && (flags & IOMAP_OVERWRITE_ONLY)) return -EAGAIN;
      return 0;
    }

    const cowWrite = write && !!b.shared && !this.opts.noCow;
    if (cowWrite && (flags & (IOMAP_NOWAIT | IOMAP_OVERWRITE_ONLY))) return -EAGAIN;
    if (cowWrite && !b.cow) {
      // Allocate COW destinations for the shared run.
      let n = 1;
      while (blk + n < endBlk && this.sameRun(this.blocks.get(blk + n - 1)!, this.blocks.get(blk + n), false) && !this.blocks.get(blk + n)!.cow) n++;
      const addr = this.fs.alloc(n);
      for (let i = 0; i < n; i++) this.blocks.get(blk + i)!.cow = { addr: addr + i * bs, kind: this.opts.cowKind };
    }
    let n = 1;
    while (blk + n < endBlk && this.sameRun(this.blocks.get(blk + n - 1)!, this.blocks.get(blk + n), cowWrite)) n++;

    let mflags = 0;
    if (b.fresh) mflags |= IOMAP_F_NEW;
    if (b.shared) mflags |= IOMAP_F_SHARED;
    if (b.merged) mflags |= IOMAP_F_MERGED;
    if (b.dirty || (write && pos + len > inode.size) || cowWrite) mflags |= IOMAP_F_DIRTY;
    iomap.offset = blk * bs;
    iomap.length = n * bs;
    iomap.bdev = this.fs.dev;
    iomap.flags = mflags;
    if (cowWrite) {
      iomap.type = b.cow!.kind === 'mapped' ? IOMAP_MAPPED : IOMAP_UNWRITTEN;
      iomap.addr = b.cow!.addr;
      srcmap.offset = blk * bs;
      srcmap.length = n * bs;
      srcmap.type = IOMAP_MAPPED;
      srcmap.addr = b.addr;
      srcmap.bdev = this.fs.dev;
    } else {
      iomap.type = this.typeOf(b.kind);
      iomap.addr = b.kind === 'delalloc' ? IOMAP_NULL_ADDR : b.addr;
    }
    for (let i = 0; i < n; i++) this.blocks.get(blk + i)!.fresh = false;

    if (write && (flags & IOMAP_OVERWRITE_ONLY)) {
      const covers = iomap.offset <= pos && iomap.offset + iomap.length >= pos + len;
      const aligned = pos % bs === 0 && len % bs === 0;
      const ok = covers && !(mflags & (IOMAP_F_NEW | IOMAP_F_SHARED)) &&
        (iomap.type === IOMAP_MAPPED || (iomap.type === IOMAP_UNWRITTEN && aligned));
      if (!ok) return -EAGAIN;
    }
    if (write && (flags & IOMAP_NOWAIT) && this.opts.nowaitWholeRange && iomap.offset + iomap.length < pos + len) return -EAGAIN;
    return 0;
  }

  end(_inode: Inode, pos: number, length: number, written: number, flags: number, iomap: Iomap): number {
    this.recordEnd(pos, length, written, flags, iomap);
    // fsdax writes finish COW in ->iomap_end (xfs_dax_write_iomap_end).
    if ((flags & IOMAP_DAX) && (flags & IOMAP_WRITE) && (iomap.flags & IOMAP_F_SHARED) && written > 0) {
      this.endCow(pos, written);
    }
    if (this.endHook) return this.endHook(pos, length, written, flags, iomap);
    return 0;
  }

  /** Remap pending COW destinations over [pos, pos+len) (block granular). */
  endCow(pos: number, len: number): void {
    const first = Math.floor(pos / this.bs);
    const last = Math.floor((pos + len - 1) / this.bs);
    for (let i = first; i <= last; i++) {
      const b = this.blocks.get(i);
      if (!b?.cow) continue;
      this.blocks.set(i, { kind: b.cow.kind, addr: b.cow.addr, dirty: true });
    }
    this.changed();
  }

  /** Convert unwritten blocks over [pos, pos+len) to mapped. */
  convertUnwritten(pos: number, len: number): void {
    const first = Math.floor(pos / this.bs);
    const last = Math.floor((pos + len - 1) / this.bs);
    for (let i = first; i <= last; i++) {
      const b = this.blocks.get(i);
      if (b && b.kind === 'unwritten') b.kind = 'mapped';
    }
    this.changed();
  }

  /** ->end_io (xfs_dio_write_end_io shape): COW remap, unwritten conversion, size update. */
  endIo(iocb: Kiocb, size: number, error: number, flags: number): number {
    this.endIos.push({ pos: iocb.pos, size, error, flags });
    if (this.endIoReturn !== null) return this.endIoReturn;
    if (error) return error;
    if (!size) return 0;
    if (!(flags & IOMAP_DIO_WRITE)) return 0; // reads: nothing to do
    if (flags & IOMAP_DIO_COW) this.endCow(iocb.pos, size);
    if (flags & IOMAP_DIO_UNWRITTEN) this.convertUnwritten(iocb.pos, size);
    if (iocb.pos + size > this.inode.size) this.inode.size = iocb.pos + size;
    return 0;
  }

  /* ---------------------------------------------------------------------------------------- */
  /* Writeback                                                                                */
  /* ---------------------------------------------------------------------------------------- */

  mapBlocks(wpc: WritepageCtx, _inode: Inode, offset: number, len: number): number {
    const bs = this.bs;
    const blk = Math.floor(offset / bs);
    const nblk = Math.max(1, Math.ceil((offset + len) / bs) - blk);
    const m = wpc.iomap;
    const b = this.blocks.get(blk);
    m.bdev = this.fs.dev;
    m.flags = 0;
    if (!b) {
      m.offset = blk * bs;
      m.length = nblk * bs;
      m.type = IOMAP_HOLE;
      m.addr = IOMAP_NULL_ADDR;
      return 0;
    }
    if (b.kind === 'delalloc') {
      let n = 1;
      while (n < nblk && this.blocks.get(blk + n)?.kind === 'delalloc') n++;
      const addr = this.fs.alloc(n);
      for (let i = 0; i < n; i++) this.blocks.set(blk + i, { kind: 'mapped', addr: addr + i * bs, dirty: true });
      this.changed();
    }
    const first = this.blocks.get(blk)!;
    let n = 1;
    while (n < nblk && this.sameRun(this.blocks.get(blk + n - 1)!, this.blocks.get(blk + n), false)) n++;
    m.offset = blk * bs;
    m.length = n * bs;
    m.type = this.typeOf(first.kind);
    m.addr = first.addr;
    return 0;
  }

  prepareIoend(ioend: Ioend, status: number): number {
    if (ioend.type === IOMAP_UNWRITTEN) {
      ioend.endIo = (io) => {
        if (!io.status) this.convertUnwritten(io.offset, io.size);
        iomapFinishIoends(io, io.status);
      };
    }
    return status;
  }
}

/** A small deterministic PRNG (xorshift32) for randomised layouts. */
export function rng(seed: number): () => number {
  let x = (seed * 2654435761) >>> 0 || 1;
  return () => {
    x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
    return x / 2 ** 32;
  };
}
