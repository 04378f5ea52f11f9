/**
 * fixedfs: a second, independently written ops table — the worked example of docs/adapters.md.
 *
 * A deliberately simple filesystem: every file owns a fixed region of the device (file slot i
 * maps file block b to device block dataStart + i * regionBlocks + b), so there is no allocator
 * and no delalloc; a block is a hole, written, or unwritten. Writes "allocate" at ->iomap_begin:
 * fresh blocks become UNWRITTEN with IOMAP_F_NEW (the core zeroes around partial writes), and
 * turn WRITTEN when data reaches them — at ioend completion for writeback, in ->end_io for direct
 * writes; fallocate marks holes unwritten. Metadata (names, sizes, block states)
 * is one JSON blob in the first blocks, rewritten on every commit — simple, and NOT crash safe
 * (a torn commit loses the filesystem), which is why it declares no crash guarantees.
 *
 * Its ops tables are written for both iomap API generations (docs/model.md "API generations"):
 * 6.12 (folio ops hung off each mapping, ->map_blocks / ->prepare_ioend, io_type) and current
 * (iomap_write_ops, ->writeback_range / ->writeback_submit, ioend flags); `--api` picks one.
 *
 * Plug it in as a module: `iomap-harness fsx --adapter ./dist/examples/fixed-fs.js [--api current]`.
 */
import type { BlockDevice } from '../reference/device/types';
import type { FsAdapter, FsInstance, MappingSnapshot } from '../adapters/fs-adapter';
import { ReferenceAdapter } from '../adapters/reference';
import type { AdapterOptions } from '../adapters/registry';
import {
  FolioOps, Inode, Iomap, defaultApi, IomapApi, IomapOps, IomapWritebackOps, IomapWriteOps, IOMAP_DIRECT, IOMAP_IOEND_UNWRITTEN, IOMAP_F_DIRTY, IOMAP_F_NEW, IOMAP_HOLE, IOMAP_MAPPED, IOMAP_NOWAIT, IOMAP_NULL_ADDR,
  IOMAP_OVERWRITE_ONLY,
  IOMAP_UNWRITTEN, IOMAP_WRITE, WritebackOps, WritepageCtx,
} from '../reference/iomap/types';
import { Ioend, iomapAddToIoend, iomapFinishIoends, iomapIoendWritebackSubmit } from '../reference/iomap/ioend';
import type { Folio } from '../reference/iomap/folio';
import { iomapLastWrittenBlock, iomapWriteDelallocRelease } from '../reference/iomap/buffered-io';
import { FsError, EAGAIN, EEXIST, EINVAL, ENOENT, ENOSPC, EOPNOTSUPP, EUCLEAN } from '../reference/errno';

const MAGIC = 'fixedfs-1';
const HOLE = 0;
const WRITTEN = 1;
const UNWRITTEN = 2;
const STATE_CHARS = '.wu';

interface FixedFile {
  slot: number;
  size: number;
  /** One state byte per file block of the slot's region. */
  states: Uint8Array;
  /** Validity cookie: bumped whenever states change. */
  seq: number;
  metaDirty: boolean;
}

interface Layout {
  blockSize: number;
  metaBlocks: number;
  slots: number;
  regionBlocks: number;
}

function layoutFor(dev: BlockDevice, blockSize: number): Layout {
  const total = Math.floor(dev.size / blockSize);
  const metaBlocks = Math.max(1, Math.ceil((256 * 1024) / blockSize));
  const slots = 8;
  const regionBlocks = Math.min(Math.floor((total - metaBlocks) / slots), Math.floor((64 << 20) / blockSize));
  if (regionBlocks < 16) throw new FsError(ENOSPC, `fixedfs: device ${dev.name} too small`);
  return { blockSize, metaBlocks, slots, regionBlocks };
}

function writeMeta(dev: BlockDevice, lay: Layout, names: Map<string, FixedFile>): void {
  const files = [...names.entries()].map(([name, f]) => ({
    name, slot: f.slot, size: f.size, states: Buffer.from(f.states).toString('base64'),
  }));
  const body = Buffer.from(JSON.stringify({ magic: MAGIC, ...lay, files }));
  const cap = lay.metaBlocks * lay.blockSize;
  if (body.length + 4 > cap) throw new FsError(ENOSPC, 'fixedfs: metadata does not fit');
  const buf = Buffer.alloc(cap);
  buf.writeUInt32LE(body.length, 0);
  body.copy(buf, 4);
  dev.write(0, buf);
  dev.flush();
}

class FixedFs implements FsInstance {
  readonly blockSize: number;
  readonly blkbits: number;
  readonly capabilities;
  readonly api: IomapApi;
  readonly iomapOps: IomapOps;
  /* 6.12: writeback ops, and folio ops every mapping carries */
  readonly writebackOps: WritebackOps;
  private readonly folioOps: FolioOps;
  /* current: write ops passed by the caller, writeback_range / writeback_submit */
  readonly writeOps: IomapWriteOps;
  readonly wbOps: IomapWritebackOps;
  sizeOf: (ino: number) => number = () => 0;
  private readonly names = new Map<string, FixedFile>();
  private readonly dev: BlockDevice;
  private readonly lay: Layout;
  readonly introspect;

  constructor(dev: BlockDevice, lay: Layout, names: Map<string, FixedFile>, api: IomapApi) {
    this.api = api;
    this.dev = dev;
    this.lay = lay;
    this.names = names;
    this.blockSize = lay.blockSize;
    this.blkbits = Math.log2(lay.blockSize);
    this.capabilities = {
      blockSize: lay.blockSize, maxFileSize: lay.regionBlocks * lay.blockSize, reflink: false, inline: false,
      directIO: true, fallocModes: [0, 0x01, 0x03],
    };
    this.iomapOps = {
      begin: (inode, pos, len, flags, iomap) => this.begin(inode, pos, len, flags, iomap),
      end: (inode, pos, len, written, flags, iomap) => this.end(inode, pos, len, written, flags, iomap),
    };
    // 6.12: map in ->map_blocks; unwritten ioends (io_type) convert at completion.
    this.writebackOps = {
      mapBlocks: (wpc, inode, offset) => this.mapBlocks(wpc, inode, offset),
      prepareIoend: (io, status) => {
        if (io.type === IOMAP_UNWRITTEN) io.endIo = (done) => this.endUnwrittenIoend(done);
        return status;
      },
    };
    this.folioOps = { iomapValid: (ino, map) => map.validityCookie === this.file(ino).seq };
    // current: the same hook passed by the caller; ->writeback_range maps and queues the run,
    // ->writeback_submit picks the completion by the ioend's flags.
    this.writeOps = { iomapValid: (ino, map) => map.validityCookie === this.file(ino).seq };
    this.wbOps = {
      writebackRange: (wpc, folio, pos, len, endPos) => this.writebackRange(wpc, folio, pos, len, endPos),
      writebackSubmit: (wpc, error) => {
        if (wpc.ioend && (wpc.ioend.ioFlags & IOMAP_IOEND_UNWRITTEN)) wpc.ioend.endIo = (done) => this.endUnwrittenIoend(done);
        return iomapIoendWritebackSubmit(wpc, error);
      },
    };
    this.introspect = { snapshot: (inode: Inode) => this.snapshot(inode) };
  }

  private file(inode: Inode): FixedFile {
    return inode.fsPrivate as FixedFile;
  }

  private devBlock(f: FixedFile, lblk: number): number {
    return this.lay.metaBlocks + f.slot * this.lay.regionBlocks + lblk;
  }

  /** The run of blocks from lblk with lblk's state, up to `limit` (exclusive). */
  private run(f: FixedFile, lblk: number, limit: number): number {
    const st = f.states[lblk];
    let n = 1;
    while (lblk + n < limit && f.states[lblk + n] === st) n++;
    return n;
  }

  private fill(f: FixedFile, lblk: number, n: number, m: Iomap): void {
    const bs = this.blockSize;
    const st = f.states[lblk];
    m.offset = lblk * bs;
    m.length = n * bs;
    m.validityCookie = f.seq;
    if (st === HOLE) {
      m.type = IOMAP_HOLE;
      m.addr = IOMAP_NULL_ADDR;
      m.bdev = null;
    } else {
      m.type = st === WRITTEN ? IOMAP_MAPPED : IOMAP_UNWRITTEN;
      m.addr = this.devBlock(f, lblk) * bs;
      m.bdev = this.dev;
    }
  }

  private setStates(f: FixedFile, lblk: number, n: number, st: number): void {
    f.states.fill(st, lblk, lblk + n);
    f.seq++;
    f.metaDirty = true;
  }

  private begin(inode: Inode, pos: number, len: number, flags: number, m: Iomap): number {
    const f = this.file(inode);
    const bs = this.blockSize;
    const lblk = Math.floor(pos / bs);
    if (lblk >= this.lay.regionBlocks) return -EINVAL;
    if (flags & IOMAP_WRITE) {
      const end = Math.min(this.lay.regionBlocks, Math.ceil((pos + Math.max(len, 1)) / bs));
      const n = this.run(f, lblk, end);
      if (flags & (IOMAP_OVERWRITE_ONLY | IOMAP_NOWAIT)) {
        // A pure overwrite (or a caller that must not wait): one existing mapping covering the
        // whole request, no allocation — unwritten only when block aligned — or -EAGAIN (rule 17/18).
        const covers = (lblk + n) * bs >= pos + len;
        const aligned = pos % bs === 0 && len % bs === 0;
        const st = f.states[lblk];
        if (!covers || st === HOLE || (st === UNWRITTEN && (flags & IOMAP_OVERWRITE_ONLY) && !aligned)) return -EAGAIN;
      }
      if (f.states[lblk] === HOLE) {
        // "Allocation": the blocks are the file's own, and hold whatever was there before. They
        // become UNWRITTEN (reading as zeroes) and turn WRITTEN only when data has reached them:
        // at ioend completion for writeback, in ->end_io for direct writes. Marking them written
        // here — the first draft — let fsx read stale bytes after a STALE re-lookup and while an
        // async direct write was in flight.
        this.setStates(f, lblk, n, UNWRITTEN);
        this.fill(f, lblk, n, m);
        m.flags |= IOMAP_F_NEW;
      } else {
        this.fill(f, lblk, n, m);
      }
      if ((flags & IOMAP_DIRECT) && (f.metaDirty || pos + len > f.size)) m.flags |= IOMAP_F_DIRTY;
    } else {
      this.fill(f, lblk, this.run(f, lblk, this.lay.regionBlocks), m);
    }
    if (this.api === '6.12') m.folioOps = this.folioOps;
    return 0;
  }

  /**
   * A short or STALE write into blocks this begin "allocated" (F_NEW) must give back the ones it
   * did not use: they hold old contents, and once marked written a later write would read them
   * instead of zeroing (found by fsx: a STALE re-lookup after an interleaved write exposed stale
   * bytes). Like the delalloc release, keep only blocks the page cache holds dirty.
   */
  private end(inode: Inode, pos: number, length: number, written: number, flags: number, m: Iomap): number {
    if (!(flags & IOMAP_WRITE) || !(m.flags & IOMAP_F_NEW) || written >= length) return 0;
    const f = this.file(inode);
    const bs = this.blockSize;
    const start = iomapLastWrittenBlock(inode, pos, written);
    const end = Math.ceil((pos + length) / bs) * bs;
    if (start >= end) return 0;
    iomapWriteDelallocRelease(inode, start, end, flags, m, (_ino, off, len) => {
      const first = Math.max(Math.floor(off / bs), m.offset / bs);
      const last = Math.min(Math.ceil((off + len) / bs), (m.offset + m.length) / bs);
      if (last > first) this.setStates(f, first, last - first, HOLE);
    });
    return 0;
  }

  private mapBlocks(wpc: WritepageCtx, inode: Inode, offset: number): number {
    const f = this.file(inode);
    const lblk = Math.floor(offset / this.blockSize);
    wpc.iomap.flags = 0;
    this.fill(f, lblk, this.run(f, lblk, this.lay.regionBlocks), wpc.iomap);
    return 0;
  }

  /** ->writeback_range (current): map as ->map_blocks does, then queue the run. */
  private writebackRange(wpc: WritepageCtx, folio: Folio, pos: number, len: number, endPos: number): number {
    const ret = this.mapBlocks(wpc, wpc.inode!, pos);
    return ret < 0 ? ret : iomapAddToIoend(wpc, folio, pos, endPos, len);
  }

  private convert(f: FixedFile, off: number, size: number): void {
    const bs = this.blockSize;
    const first = Math.floor(off / bs);
    const last = Math.ceil((off + size) / bs);
    let changed = false;
    for (let b = first; b < last; b++) if (f.states[b] === UNWRITTEN) { f.states[b] = WRITTEN; changed = true; }
    if (changed) { f.seq++; f.metaDirty = true; }
  }

  private endUnwrittenIoend(io: Ioend): void {
    if (io.status === 0) this.convert(this.file(io.inode), io.offset, io.size);
    iomapFinishIoends(io, io.status);
  }

  dioEndIo(inode: Inode, offset: number, size: number, error: number, dioFlags: number): number {
    if (error || size === 0) return error;
    if (dioFlags & 1) this.convert(this.file(inode), offset, size);
    if (offset + size > inode.size) inode.size = offset + size;
    return 0;
  }

  private snapshot(inode: Inode): MappingSnapshot {
    const f = this.file(inode);
    const states = f.states.slice();
    const seq = f.seq;
    return {
      version: () => `s${seq}`,
      fingerprint: () => Array.from(states.subarray(0, Math.ceil(inode.size / this.blockSize) + 1), (s) => STATE_CHARS[s]).join(''),
      block: (lblk) => {
        const st = states[lblk] ?? HOLE;
        if (st === HOLE) return { state: 'hole' };
        return { state: st === WRITTEN ? 'written' : 'unwritten', pblk: this.devBlock(f, lblk), shared: false };
      },
    };
  }

  /* namespace */
  lookup(name: string): number | undefined {
    const f = this.names.get(name);
    return f ? f.slot + 1 : undefined;
  }

  create(name: string): number {
    if (this.names.has(name)) throw new FsError(EEXIST, `fixedfs: ${name} exists`);
    const used = new Set([...this.names.values()].map((f) => f.slot));
    let slot = 0;
    while (used.has(slot)) slot++;
    if (slot >= this.lay.slots) throw new FsError(ENOSPC, 'fixedfs: no free file slot');
    this.names.set(name, { slot, size: 0, states: new Uint8Array(this.lay.regionBlocks), seq: 0, metaDirty: true });
    return slot + 1;
  }

  unlink(name: string): void {
    if (!this.names.delete(name)) throw new FsError(ENOENT, `fixedfs: ${name} does not exist`);
  }

  private bySlot(ino: number): FixedFile {
    for (const f of this.names.values()) if (f.slot + 1 === ino) return f;
    throw new FsError(ENOENT, `fixedfs: no inode ${ino}`);
  }

  loadInode(ino: number): { size: number; fsPrivate: unknown } {
    const f = this.bySlot(ino);
    return { size: f.size, fsPrivate: f };
  }

  /* space operations */
  prepareSize(_inode: Inode, newsize: number): number {
    return newsize > this.capabilities.maxFileSize ? -EINVAL : 0;
  }

  unstuff(): number {
    return 0;
  }

  truncateBlocks(inode: Inode, newsize: number): void {
    const f = this.file(inode);
    const first = Math.ceil(newsize / this.blockSize);
    if (first < this.lay.regionBlocks) this.setStates(f, first, this.lay.regionBlocks - first, HOLE);
  }

  sizeChanged(): void {
    // The in-core size is committed as it is; fixedfs makes no crash-ordering promises.
  }

  allocRange(inode: Inode, lblk: number, n: number): number {
    const f = this.file(inode);
    const end = Math.min(lblk + n, this.lay.regionBlocks);
    for (let b = lblk; b < end; b++) if (f.states[b] === HOLE) this.setStates(f, b, 1, UNWRITTEN);
    return end < lblk + n ? -ENOSPC : 0;
  }

  punchBlocks(inode: Inode, lblk: number, n: number): void {
    this.setStates(this.file(inode), lblk, Math.min(n, this.lay.regionBlocks - lblk), HOLE);
  }

  collapseBlocks(): void {
    throw new FsError(EOPNOTSUPP, 'fixedfs: no collapse range');
  }

  insertBlocks(): void {
    throw new FsError(EOPNOTSUPP, 'fixedfs: no insert range');
  }

  remapBlocks(): void {
    throw new FsError(EOPNOTSUPP, 'fixedfs: no reflink');
  }

  unshareUnwritten(): number {
    return 0;
  }

  commit(): void {
    for (const f of this.names.values()) {
      f.size = this.sizeOf(f.slot + 1);
      f.metaDirty = false;
    }
    writeMeta(this.dev, this.lay, this.names);
  }

  checkReservations(): string[] {
    return []; // no delalloc, nothing reserved
  }

  checkConsistency(): string[] {
    const out: string[] = [];
    const slots = new Set<number>();
    for (const [n, f] of this.names) {
      if (slots.has(f.slot)) out.push(`${n}: slot ${f.slot} used twice`);
      slots.add(f.slot);
    }
    return out;
  }

  describeBlock(inode: Inode, pos: number): string {
    const f = this.file(inode);
    const b = Math.floor(pos / this.blockSize);
    return `${['hole', 'written', 'unwritten'][f.states[b] ?? 0]} @${this.devBlock(f, b)}`;
  }
}

export const fixedFsAdapter: FsAdapter = {
  name: 'fixedfs',
  describe: 'fixedfs: one fixed device region per file, no allocator (the docs/adapters.md example)',
  fileCapabilities: { fallocModes: [0, 0x01, 0x03], reflink: false, directIO: true, inline: false },
  api: ['6.12', 'current'],
  mkfs(dev, opts) {
    const lay = layoutFor(dev, opts.blockSize);
    writeMeta(dev, lay, new Map());
  },
  mount(dev, opts) {
    const head = new Uint8Array(dev.sectorSize);
    dev.read(0, head);
    const len = Buffer.from(head.buffer, head.byteOffset).readUInt32LE(0);
    if (!len || len > 64 << 20) throw new FsError(EINVAL, `fixedfs: no filesystem on ${dev.name}`);
    const buf = new Uint8Array(Math.ceil((len + 4) / dev.sectorSize) * dev.sectorSize);
    dev.read(0, buf);
    let meta: { magic: string; blockSize: number; metaBlocks: number; slots: number; regionBlocks: number; files: Array<{ name: string; slot: number; size: number; states: string }> };
    try {
      meta = JSON.parse(Buffer.from(buf.subarray(4, 4 + len)).toString('utf8'));
    } catch {
      throw new FsError(EUCLEAN, `fixedfs: metadata on ${dev.name} is unreadable`);
    }
    if (meta.magic !== MAGIC) throw new FsError(EINVAL, `fixedfs: not a fixedfs on ${dev.name}`);
    const lay: Layout = { blockSize: meta.blockSize, metaBlocks: meta.metaBlocks, slots: meta.slots, regionBlocks: meta.regionBlocks };
    const names = new Map<string, FixedFile>();
    for (const f of meta.files) {
      const states = new Uint8Array(lay.regionBlocks);
      states.set(Buffer.from(f.states, 'base64').subarray(0, lay.regionBlocks));
      names.set(f.name, { slot: f.slot, size: f.size, states, seq: 0, metaDirty: false });
    }
    return new FixedFs(dev, lay, names, opts?.api ?? defaultApi());
  },
};

/** The module-adapter entry point: the reference generic layer (and contract monitor) over fixedfs. */
export function createAdapter(opts: AdapterOptions = {}): ReferenceAdapter {
  return new ReferenceAdapter({
    fs: fixedFsAdapter,
    blockSize: (opts.blockSize as number | undefined) ?? 4096,
    folioSize: opts.folioSize as number | undefined,
    deviceSize: 1 << 30,
    api: opts.api as string | undefined,
  });
}
