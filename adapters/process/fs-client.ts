/**
 * The fs-level client: an out-of-process filesystem (a server speaking protocol 1 — the 6.12 ops
 * table — or 2 — the current one — at the "fs" level) as an FsAdapter, so the whole reference generic layer and the contract monitor run over
 * its ops table (adapters/reference.ts mountWithMonitor, or ReferenceAdapter with `fs:`).
 *
 * The server formats and mounts a block device image FILE that the harness creates (a FileDevice);
 * it does its own metadata I/O on that file, while the generic layer reads and writes file data
 * at the addresses the server's mappings give, through the same file.
 *
 * Every FsInstance callback becomes one request (docs/protocol.md lists them); callbacks the
 * server does not implement (its hello lists the optional ones under capabilities.ops) take the
 * documented default without a round trip.
 */
import * as fs from 'fs';
import type { BlockDevice } from '../../reference/device/types';
import { MemoryDevice } from '../../reference/device/memory';
import type { BlockState, FsCapabilities, FsInstance, FsIntrospection, MappingSnapshot } from '../../reference/iomap/fs-ops';
import type { FsAdapter, FsMkfsOptions } from '../fs-adapter';
import {
  FolioOps, Inode, Iomap, IomapApi, IomapIterLike, IomapOps, IomapReadOps, IomapWritebackOps, IomapWriteOps, WritepageCtx, IOMAP_DELALLOC, IOMAP_F_NEW, IOMAP_FAULT, IOMAP_INLINE, IOMAP_MAPPED,
  IOMAP_HOLE, IOMAP_TYPE_NAMES, IOMAP_UNWRITTEN, IOMAP_WRITE, IOMAP_ZERO, IomapType, MAX_LFS_FILESIZE, WritebackOps,
} from '../../reference/iomap/types';
import { Ioend, iomapAddToIoend, iomapFinishIoends, iomapIoendWritebackSubmit } from '../../reference/iomap/ioend';
import type { Folio } from '../../reference/iomap/folio';
import { iomapLastWrittenBlock, iomapWriteDelallocRelease } from '../../reference/iomap/buffered-io';
import { EINVAL, EOPNOTSUPP, FsError, errnoName } from '../../reference/errno';
import { Fields, Hello, Rpc, apiOfProtocol, encodeU64, handshake } from './protocol';
import { ProcessTransport, TransportOptions } from './transport';

/**
 * Optional fs-level methods a server may list in capabilities.ops. prepare_ioend and discard_folio
 * are protocol 1's (6.12), writeback_submit protocol 2's (current); the others are both.
 */
export const FS_OPTIONAL_OPS = [
  'iomap_end', 'iomap_valid', 'punch_delalloc', 'prepare_ioend', 'end_ioend', 'discard_folio', 'writeback_submit', 'dio_end_io',
  'unlink', 'prepare_size', 'unstuff', 'size_changed', 'alloc_range', 'punch_blocks', 'collapse_blocks',
  'insert_blocks', 'remap_blocks', 'unshare_unwritten', 'snapshot', 'metadata_dirty', 'check_reservations',
  'check_consistency', 'describe_block', 'read_folio_range',
] as const;
export type FsOptionalOp = (typeof FS_OPTIONAL_OPS)[number];

export interface ProcessFsOptions {
  /** Ask the server for mapping snapshots so the monitor can check the state rules (default true). */
  introspect?: boolean;
  /**
   * Feature "devio": the image file the server reads at mount (a copy of the harness's device,
   * written before every mkfs and mount); without it the device must be a FileDevice.
   */
  image?: string;
}

/** The server's own mapping as it sent it: echoed back verbatim (plus core-set flags) to end/valid. */
class WireMapping {
  /** `ino`: the inode a map_blocks answer was for (feature "seq" reuses it: mapBlocks). */
  constructor(readonly raw: Record<string, unknown>, readonly mappedFor?: number) {}
}

const TWO53 = 2 ** 53;
/** Every SV_AUDIT-th reuse of a snapshot (feature "sv") is checked against a fresh one. */
export const SV_AUDIT = 16;

/**
 * The path of the image file the server is to open, or EINVAL for a device that has none. A
 * wrapper (the reference adapter's FaultDevice) is looked through: the server's own metadata I/O
 * goes to the file, the data I/O of the generic layer through the wrapper.
 */
export function devicePath(dev: BlockDevice): string {
  let d: BlockDevice | undefined = dev;
  while (d !== undefined && typeof (d as { path?: unknown }).path !== 'string') d = (d as { inner?: BlockDevice }).inner;
  const p = (d as { path?: unknown } | undefined)?.path;
  if (typeof p !== 'string' || p === '') {
    throw new FsError(EINVAL, `an out-of-process filesystem needs a device backed by a file (a FileDevice), got ${dev.name}`);
  }
  return p;
}

/**
 * Feature "devio": carry out the device requests a reply lists (`devio`: `{"write": OFF, "data":
 * BYTES}` and `{"flush": true}`, in the order the server made them) on the harness's device.
 */
function applyDevio(dev: BlockDevice, r: Fields, t: ProcessTransport): void {
  if (!r.has('devio')) return;
  for (const req of r.objects('devio')) {
    if (req.has('flush')) {
      dev.flush();
      continue;
    }
    const off = req.int('write');
    const data = req.bytes('data');
    try {
      dev.write(off, data);
    } catch (e) {
      if (e instanceof FsError) throw t.badValue(`${req.where}: device write of ${data.length} bytes at ${off} refused: ${e.message}`);
      throw e;
    }
  }
}

/** The MemoryDevice under `dev`'s wrappers (CrashDevice, FaultDevice), or null. */
function memoryUnder(dev: BlockDevice): MemoryDevice | null {
  let d: BlockDevice | undefined = dev;
  while (d !== undefined && !(d instanceof MemoryDevice)) d = (d as { inner?: BlockDevice }).inner;
  return d ?? null;
}

/** What copyToFile last wrote into an image file: the device's chunks then (never mutated: shared). */
export interface ImageCopy {
  file: string;
  size: number;
  chunks: ReadonlyMap<number, Uint8Array>;
  /** The file's modification time right after the copy (ns). */
  mtimeNs: bigint;
}

/**
 * Make the (sparse) file `file` hold `mem`'s contents: its allocated chunks, zeroes elsewhere.
 * After an earlier copy into the same file (`prev`), only the chunks that changed since are
 * written: a snapshot shares the device's chunk arrays and the device copies a shared chunk
 * before changing it, so an unchanged chunk is the very same array. (Writing the whole image
 * into a truncated file at every mount was a tenth of the harness's CPU on examples/fs-server.py.)
 * With "devio" the file is the harness's alone; a server that wrote it anyway changed its
 * modification time (at the host filesystem's timestamp granularity) and gets the whole image
 * again, as before.
 */
export function copyToFile(mem: MemoryDevice, file: string, prev: ImageCopy | null): ImageCopy {
  const chunks = mem.snapshot().chunks;
  const since = prev !== null && prev.file === file && prev.size === mem.size && mtimeNs(file) === prev.mtimeNs ? prev : null;
  const fd = fs.openSync(file, since === null ? 'w' : 'r+');
  try {
    if (since === null) fs.ftruncateSync(fd, mem.size);
    for (const [idx, chunk] of chunks) {
      if (since?.chunks.get(idx) !== chunk) fs.writeSync(fd, chunk, 0, chunk.length, idx * chunk.length);
    }
    if (since !== null) {
      for (const [idx, chunk] of since.chunks) {
        if (!chunks.has(idx)) fs.writeSync(fd, new Uint8Array(chunk.length), 0, chunk.length, idx * chunk.length);
      }
    }
    return { file, size: mem.size, chunks, mtimeNs: fs.fstatSync(fd, { bigint: true }).mtimeNs };
  } finally {
    fs.closeSync(fd);
  }
}

/** A file's modification time in ns, or -1 when it cannot be read (then nothing matches it). */
function mtimeNs(file: string): bigint {
  try {
    return fs.statSync(file, { bigint: true }).mtimeNs;
  } catch {
    return -1n;
  }
}

export class ProcessFsAdapter implements FsAdapter {
  readonly name: string;
  readonly describe: string;
  readonly rpc: Rpc;
  readonly hello: Hello;
  /** Optional methods the server implements. */
  readonly ops: ReadonlySet<string>;
  /** What the server declared (the block size comes from mount). */
  readonly declared: Omit<FsCapabilities, 'blockSize'>;
  /** The block size the server will format with (hello geometry.blockSize). */
  readonly blockSize: number;
  /** The iomap API generation of the server's ops table: its protocol version says (1: 6.12, 2: current). */
  readonly api: IomapApi;
  private readonly opts: ProcessFsOptions;
  /** The devio image file's last copy (imageOf). */
  private imageCopy: ImageCopy | null = null;

  /**
   * Feature "devio": the server sends its device writes and flushes to the harness, so a power cut
   * under it can be simulated (the harness's CrashDevice sees every write): crash safe in the
   * sense of FsAdapter.crashSafe — the harness may cut the power and the server must recover.
   */
  readonly devio: boolean;
  readonly crashSafe: boolean;

  constructor(t: ProcessTransport, hello: Hello, opts: ProcessFsOptions = {}) {
    this.rpc = new Rpc(t);
    this.hello = hello;
    this.opts = opts;
    this.devio = hello.features.has('devio');
    this.crashSafe = this.devio;
    this.name = hello.name;
    this.describe = `out-of-process filesystem ${hello.name} (${t.label})`;
    const c = hello.capabilities;
    const ops = c.has('ops') ? c.strings('ops') : [];
    for (const o of ops) if (!(FS_OPTIONAL_OPS as readonly string[]).includes(o)) throw t.badValue(`hello: capabilities.ops lists ${JSON.stringify(o)}, which is not an optional fs-level method`);
    this.ops = new Set(ops);
    this.api = apiOfProtocol(hello.protocol);
    const other = this.api === 'current' ? ['prepare_ioend', 'discard_folio'] : ['writeback_submit', 'read_folio_range'];
    for (const o of ops) if (other.includes(o)) throw t.badValue(`hello: capabilities.ops lists ${JSON.stringify(o)}, a method of the other protocol version (this server speaks protocol ${hello.protocol})`);
    this.declared = {
      maxFileSize: Math.min(hello.geometry.optInt('maxFileSize', MAX_LFS_FILESIZE), MAX_LFS_FILESIZE),
      reflink: c.optBool('reflink', false),
      inline: c.optBool('inline', false),
      directIO: c.optBool('directIO', false),
      fallocModes: c.has('fallocModes') ? c.ints('fallocModes', 0, 0x7f) : [],
    };
    this.blockSize = hello.geometry.int('blockSize', 512, 1 << 20);
  }

  /** Spawn `command args` and handshake at the fs level. */
  static start(command: string, args: string[], o: TransportOptions & ProcessFsOptions & { blockSize?: number; scratch?: string; api?: IomapApi } = {}): ProcessFsAdapter {
    const t = new ProcessTransport(command, args, o);
    try {
      const hello = handshake(t, 'fs', { harness: 'iomap-harness', blockSize: o.blockSize ?? 4096, pageSize: 4096, scratch: o.scratch ?? null }, o.api);
      return new ProcessFsAdapter(t, hello, o);
    } catch (e) {
      t.close(false);
      throw e;
    }
  }

  get transport(): ProcessTransport {
    return this.rpc.t;
  }

  get alive(): boolean {
    return this.rpc.t.alive;
  }

  mkfs(dev: BlockDevice, opts: FsMkfsOptions): void {
    const params: Record<string, unknown> = { device: this.imageOf(dev), size: dev.size, sectorSize: dev.sectorSize, blockSize: opts.blockSize };
    if (opts.inlineMax !== undefined) params.inlineMax = opts.inlineMax;
    applyDevio(dev, this.rpc.must('mkfs', params), this.rpc.t);
  }

  mount(dev: BlockDevice, opts?: { api?: IomapApi }): FsInstance {
    if (opts?.api !== undefined && opts.api !== this.api) throw new FsError(EINVAL, `api: ${this.name} speaks protocol ${this.hello.protocol}, the ${this.api} API, not ${opts.api}`);
    const r = this.rpc.must('mount', { device: this.imageOf(dev), size: dev.size, sectorSize: dev.sectorSize });
    applyDevio(dev, r, this.rpc.t);
    const bs = r.int('blockSize', 512, 1 << 20);
    if ((bs & (bs - 1)) !== 0) throw this.rpc.t.badValue(`mount: result.blockSize ${bs} is not a power of two`);
    return new ProcessFsInstance(this, dev, bs, this.opts.introspect ?? true);
  }

  /**
   * The image file the server opens. Without "devio" it is the device itself (a FileDevice under
   * any wrappers). With "devio" the device is the harness's (a MemoryDevice under a CrashDevice),
   * and the file is a copy of its contents made for the server to read at mount: written here,
   * before every mkfs and mount, so it holds what survived the last power cut.
   */
  private imageOf(dev: BlockDevice): string {
    const image = this.opts.image;
    if (!this.devio || image === undefined) return devicePath(dev);
    const mem = memoryUnder(dev);
    if (mem === null) return devicePath(dev);
    this.imageCopy = copyToFile(mem, image, this.imageCopy);
    return image;
  }

  /** End the server (bye, then kill and reap). */
  close(): void {
    this.rpc.t.close();
  }
}

function mapType(f: Fields, t: ProcessTransport): IomapType {
  const v = f.raw('type');
  let n: number | undefined;
  if (typeof v === 'number') n = v;
  else if (typeof v === 'string') n = (IOMAP_TYPE_NAMES as readonly string[]).indexOf(v);
  if (n === undefined || !Number.isInteger(n) || n < 0 || n > 4) {
    throw t.badValue(`${f.where}.type ${JSON.stringify(v)} is not a mapping type (0..4 or HOLE, DELALLOC, MAPPED, UNWRITTEN, INLINE)`);
  }
  return n as IomapType;
}

interface SnapExtent {
  lblk: number;
  count: number;
  state: 'delalloc' | 'written' | 'unwritten';
  pblk: number;
  shared: boolean;
}

class ProcessFsInstance implements FsInstance {
  readonly blockSize: number;
  readonly blkbits: number;
  readonly capabilities: FsCapabilities;
  readonly api: IomapApi;
  readonly iomapOps: IomapOps;
  /* protocol 1 (6.12) */
  readonly writebackOps?: WritebackOps;
  /* protocol 2 (current) */
  readonly writeOps?: IomapWriteOps;
  readonly wbOps?: IomapWritebackOps;
  /** `read_folio_range` listed: the server serves buffered reads itself (iomap_read_ops). */
  readonly readOps?: IomapReadOps;
  dioEndIo?: (inode: Inode, offset: number, size: number, error: number, dioFlags: number) => number;
  introspect?: FsIntrospection;
  sizeOf: (ino: number) => number;
  private readonly a: ProcessFsAdapter;
  private readonly rpc: Rpc;
  private readonly dev: BlockDevice;
  private readonly folioOps: FolioOps | null;
  /** Snapshots by inode with the state counter they were taken at (feature "sv"); null: off. */
  private readonly snaps: Map<number, { sv: number | string; snap: MappingSnapshot; inode: Inode }> | null;
  private reuses = 0;

  constructor(a: ProcessFsAdapter, dev: BlockDevice, bs: number, introspect: boolean) {
    this.a = a;
    this.rpc = a.rpc;
    this.dev = dev;
    this.blockSize = bs;
    this.blkbits = Math.log2(bs);
    this.capabilities = { blockSize: bs, ...a.declared };
    this.sizeOf = (ino) => this.loadInode(ino).size;
    this.snaps = a.hello.features.has('sv') ? new Map() : null;
    const has = (op: FsOptionalOp) => a.ops.has(op);
    this.rpc.tracksSeq = a.hello.features.has('seq') && has('iomap_valid');
    if (this.snaps !== null && a.hello.features.has('snap')) this.rpc.onSnapshot = (ino, f) => this.brought(ino, f);
    this.iomapOps = { begin: (inode, pos, length, flags, iomap, srcmap) => this.begin(inode, pos, length, flags, iomap, srcmap) };
    if (has('iomap_end') || has('punch_delalloc')) {
      this.iomapOps.end = (inode, pos, length, written, flags, iomap) => this.end(inode, pos, length, written, flags, iomap);
    }
    this.api = a.api;
    if (this.api === 'current') {
      // Protocol 2: the hook is passed by the caller (no folio_ops on mappings); writeback goes
      // through writeback_range (the server maps, the harness queues) and writeback_submit.
      this.folioOps = null;
      const wops: IomapWriteOps = has('iomap_valid') ? { iomapValid: (inode, iomap) => this.valid(inode, iomap) } : {};
      if (has('read_folio_range')) {
        // A server without a block device (FUSE): it fills the bytes of buffered reads and of the
        // partial-block reads before a write (iomap_read_ops and iomap_write_ops' read_folio_range).
        const rr = (it: IomapIterLike, folio: Folio, pos: number, len: number): number => this.readFolioRange(it, folio, pos, len);
        this.readOps = { readFolioRange: rr };
        wops.readFolioRange = rr;
      }
      this.writeOps = wops;
      this.wbOps = {
        writebackRange: (wpc, folio, pos, len, endPos) => this.writebackRange(wpc, folio, pos, len, endPos),
        writebackSubmit: (wpc, error) => this.writebackSubmit(wpc, error),
      };
    } else {
      this.folioOps = has('iomap_valid') ? { iomapValid: (inode, iomap) => this.valid(inode, iomap) } : null;
      const wb: WritebackOps = { mapBlocks: (wpc, inode, offset, len) => this.mapBlocks(wpc.iomap, inode, offset, len) };
      if (has('prepare_ioend')) wb.prepareIoend = (ioend, status) => this.prepareIoend(ioend, status);
      if (has('discard_folio')) wb.discardFolio = (folio, pos) => this.discardFolio(folio, pos);
      this.writebackOps = wb;
    }
    if (has('dio_end_io')) this.dioEndIo = (inode, offset, size, error, dioFlags) => this.dioEnd(inode, offset, size, error, dioFlags);
    if (introspect && has('snapshot')) {
      this.introspect = { snapshot: (inode) => this.snapshot(inode), confirm: () => this.confirmSnapshots() };
      if (has('metadata_dirty')) this.introspect.metadataDirty = (inode) => this.rpc.must('metadata_dirty', this.ino(inode)).bool('dirty');
    }
  }

  private has(op: FsOptionalOp): boolean {
    return this.a.ops.has(op);
  }

  private get t(): ProcessTransport {
    return this.rpc.t;
  }

  private ino(inode: Inode): { ino: number; isize: number } {
    return { ino: inode.ino, isize: inode.size };
  }

  /* ------------------------------------------------------------------------------------ */
  /* Mappings on the wire                                                                 */
  /* ------------------------------------------------------------------------------------ */

  /** Fill `m` from a mapping object of a reply (every field checked). */
  private fill(m: Iomap, f: Fields, withFolioOps: boolean): void {
    const type = mapType(f, this.t);
    if (type === IOMAP_INLINE) throw this.t.badValue(`${f.where}.type INLINE: protocol 1 does not carry inline data`);
    const offset = f.u64('offset');
    if (offset < 0) throw this.t.badValue(`${f.where}.offset (u64)-1 is not a file offset`);
    m.offset = offset;
    m.length = f.length('length', TWO53 - offset);
    m.addr = f.has('addr') ? f.u64('addr') : -1;
    m.type = type;
    m.flags = f.optInt('flags', 0, 0, 0xffff);
    m.bdev = type === IOMAP_MAPPED || type === IOMAP_UNWRITTEN ? this.dev : null;
    m.inlineData = null;
    m.private = new WireMapping(f.obj);
    const c = f.raw('cookie');
    m.validityCookie = typeof c === 'number' && Number.isSafeInteger(c) ? c : 0;
    m.folioOps = withFolioOps ? this.folioOps : null;
  }

  /** The mapping as sent back: the server's own object with the current flags (core bits included). */
  private wire(m: Iomap): Record<string, unknown> {
    if (m.private instanceof WireMapping) return { ...m.private.raw, flags: m.flags };
    return { offset: m.offset, length: m.length, addr: encodeU64(m.addr), type: m.type, flags: m.flags };
  }

  /* ------------------------------------------------------------------------------------ */
  /* ->iomap_begin / ->iomap_end / ->iomap_valid                                          */
  /* ------------------------------------------------------------------------------------ */

  private begin(inode: Inode, pos: number, length: number, flags: number, iomap: Iomap, srcmap: Iomap): number {
    const o = this.rpc.try('iomap_begin', { ...this.ino(inode), pos, length, flags });
    if (!o.ok) return -o.errno;
    this.fill(iomap, o.result.obj_('iomap'), true);
    const s = o.result.optObj('srcmap');
    if (s !== null) this.fill(srcmap, s, false);
    return 0;
  }

  private end(inode: Inode, pos: number, length: number, written: number, flags: number, iomap: Iomap): number {
    // Delalloc servers: the core helper finds the clean ranges to release (rule 24), the server punches.
    if (this.has('punch_delalloc') && iomap.type === IOMAP_DELALLOC && (iomap.flags & IOMAP_F_NEW) && written < length &&
      (flags & (IOMAP_WRITE | IOMAP_ZERO)) && !(flags & IOMAP_FAULT)) {
      const start = iomapLastWrittenBlock(inode, pos, written);
      const end = Math.ceil((pos + length) / this.blockSize) * this.blockSize;
      if (start < end) {
        iomapWriteDelallocRelease(inode, start, end, flags, iomap, (ino, off, len) => {
          this.rpc.must('punch_delalloc', { ...this.ino(ino), offset: off, length: len, iomap: this.wire(iomap) });
        });
      }
    }
    if (!this.has('iomap_end')) return 0;
    const o = this.rpc.try('iomap_end', { ...this.ino(inode), pos, length, written, flags, iomap: this.wire(iomap) });
    return o.ok ? 0 : -o.errno;
  }

  /**
   * ->read_folio_range: the server answers the file bytes [pos, pos+len) of the mapping (the
   * source mapping of a copy-on-write write, else the current one) as `data`, exactly `len` bytes;
   * an error reply is its -errno.
   */
  private readFolioRange(it: IomapIterLike, folio: Folio, pos: number, len: number): number {
    const m = it.srcmap !== undefined && it.srcmap.type !== IOMAP_HOLE ? it.srcmap : it.iomap;
    const o = this.rpc.try('read_folio_range', { ...this.ino(it.inode), pos, length: len, iomap: this.wire(m) });
    if (!o.ok) return -o.errno;
    const data = o.result.bytes('data');
    if (data.length !== len) throw this.t.badValue(`read_folio_range: ${data.length} bytes for a range of ${len}`);
    folio.data.set(data, folio.offsetIn(pos));
    return 0;
  }

  /**
   * ->iomap_valid. With feature "seq" the harness answers as xfs_iomap_valid does: the mapping's
   * cookie against the sequence number the last reply about the inode carried; the server's
   * bookkeeping is still what is judged (a sequence that stays while the mappings change makes
   * the monitor's R30 check fail, as a wrong answer would). Asked over the wire when the number
   * is not known (no reply about the inode since a request that named none).
   */
  private valid(inode: Inode, iomap: Iomap): boolean {
    const seq = this.rpc.tracksSeq ? this.rpc.seqs.get(inode.ino) : undefined;
    const cookie = iomap.private instanceof WireMapping ? iomap.private.raw.cookie : undefined;
    if (seq !== undefined && typeof cookie === 'number') return cookie === seq;
    return this.rpc.must('iomap_valid', { ...this.ino(inode), iomap: this.wire(iomap) }).bool('valid');
  }

  /* ------------------------------------------------------------------------------------ */
  /* Writeback and direct I/O completion                                                  */
  /* ------------------------------------------------------------------------------------ */

  /**
   * ->map_blocks. With feature "seq" the mapping the last map_blocks of this writeback gave is
   * reused while `offset` lies inside it and its cookie is the inode's sequence number, as xfs's
   * own map_blocks does (xfs_imap_valid); a stale one is caught as any wrong answer is (R34).
   */
  private mapBlocks(m: Iomap, inode: Inode, offset: number, len: number): number {
    if (this.reusable(m, inode, offset)) return 0;
    const o = this.rpc.try('map_blocks', { ...this.ino(inode), offset, length: len });
    if (!o.ok) return -o.errno;
    this.fill(m, o.result.obj_('iomap'), false);
    m.private = new WireMapping((m.private as WireMapping).raw, inode.ino);
    return 0;
  }

  private reusable(m: Iomap, inode: Inode, offset: number): boolean {
    if (!this.rpc.tracksSeq || !(m.private instanceof WireMapping) || m.private.mappedFor !== inode.ino) return false;
    const seq = this.rpc.seqs.get(inode.ino);
    return seq !== undefined && m.private.raw.cookie === seq && offset >= m.offset && offset < m.offset + m.length;
  }

  /** An ioend on the wire: protocol 1 has io_type and the mapping's IOMAP_F_* flags, 2 the IOMAP_IOEND_* flags. */
  private ioendParams(io: Ioend, status: number): Record<string, unknown> {
    const st = status ? errnoName(status) : null;
    if (this.api === 'current') return { ...this.ino(io.inode), offset: io.offset, size: io.size, flags: io.ioFlags, status: st };
    return { ...this.ino(io.inode), offset: io.offset, size: io.size, type: io.type, flags: io.flags, status: st };
  }

  /**
   * ->writeback_range (protocol 2): the server maps the dirty run (`writeback_range`, an
   * error reply being its -errno, after which it must have dropped what [pos, folioEnd) reserved)
   * and the harness queues it with iomap_add_to_ioend, as a kernel filesystem's would.
   */
  private writebackRange(wpc: WritepageCtx, folio: Folio, pos: number, len: number, endPos: number): number {
    const inode = wpc.inode!;
    const o = this.rpc.try('writeback_range', { ...this.ino(inode), pos, length: len, endPos, folioEnd: folio.end });
    if (!o.ok) return -o.errno;
    this.fill(wpc.iomap, o.result.obj_('iomap'), false);
    return iomapAddToIoend(wpc, folio, pos, endPos, len);
  }

  /**
   * ->writeback_submit (protocol 2): `writeback_submit` (when listed) answers whether the ioend
   * needs `end_ioend` at completion and may replace the status; then the bio goes out
   * (iomap_ioend_writeback_submit).
   */
  private writebackSubmit(wpc: WritepageCtx, error: number): number {
    const io = wpc.ioend;
    if (io && this.has('writeback_submit')) {
      const o = this.rpc.try('writeback_submit', this.ioendParams(io, error));
      if (!o.ok) error = -o.errno;
      else {
        const r = o.result;
        if (r.optBool('endIo', false)) {
          if (!this.has('end_ioend')) throw this.t.badValue('writeback_submit asked for endIo, but the server does not list end_ioend');
          io.endIo = (done) => this.endIoend(done);
        }
        if (r.has('status')) error = r.status('status');
      }
    }
    return iomapIoendWritebackSubmit(wpc, error);
  }

  private prepareIoend(io: Ioend, status: number): number {
    const o = this.rpc.try('prepare_ioend', this.ioendParams(io, status));
    if (!o.ok) return -o.errno;
    const r = o.result;
    if (r.optBool('endIo', false)) {
      if (!this.has('end_ioend')) throw this.t.badValue('prepare_ioend asked for endIo, but the server does not list end_ioend');
      io.endIo = (done) => this.endIoend(done);
    }
    return r.has('status') ? r.status('status') : status;
  }

  /** The completion the server asked for: it converts/records, then the ioend is finished. */
  private endIoend(io: Ioend): void {
    const o = this.rpc.try('end_ioend', this.ioendParams(io, io.status));
    iomapFinishIoends(io, o.ok ? io.status : io.status || -o.errno);
  }

  private discardFolio(folio: Folio, pos: number): void {
    const inode = folio.mapping?.host;
    if (!inode) return;
    this.rpc.must('discard_folio', { ...this.ino(inode), pos, end: folio.end });
  }

  private dioEnd(inode: Inode, offset: number, size: number, error: number, dioFlags: number): number {
    const o = this.rpc.try('dio_end_io', { ...this.ino(inode), offset, size, error: error ? errnoName(error) : null, flags: dioFlags });
    if (!o.ok) return -o.errno;
    const r = o.result;
    if (r.has('isize')) inode.size = r.int('isize', 0, MAX_LFS_FILESIZE);
    return r.status('error');
  }

  /* ------------------------------------------------------------------------------------ */
  /* Namespace and inodes                                                                 */
  /* ------------------------------------------------------------------------------------ */

  lookup(name: string): number | undefined {
    const r = this.rpc.must('lookup', { name });
    return r.has('ino') ? r.int('ino') : undefined;
  }

  create(name: string): number {
    return this.rpc.must('create', { name }).int('ino');
  }

  unlink(name: string): void {
    if (!this.has('unlink')) throw new FsError(EOPNOTSUPP, `${this.t.label}: unlink is not implemented by the server`);
    this.rpc.must('unlink', { name });
  }

  loadInode(ino: number): { size: number; fsPrivate: unknown } {
    return { size: this.rpc.must('load_inode', { ino }).int('size', 0, MAX_LFS_FILESIZE), fsPrivate: null };
  }

  /* ------------------------------------------------------------------------------------ */
  /* Space operations                                                                     */
  /* ------------------------------------------------------------------------------------ */

  /** An optional op that returns 0 or -errno; `dflt` when the server does not implement it. */
  private errnoOp(op: FsOptionalOp, params: Record<string, unknown>, dflt: number): number {
    if (!this.has(op)) return dflt;
    const o = this.rpc.try(op, params);
    return o.ok ? 0 : -o.errno;
  }

  /** An optional op that cannot fail softly: EOPNOTSUPP when absent, an error reply thrown. */
  private voidOp(op: FsOptionalOp, params: Record<string, unknown>): void {
    if (!this.has(op)) throw new FsError(EOPNOTSUPP, `${this.t.label}: ${op} is not implemented by the server`);
    this.rpc.must(op, params);
  }

  prepareSize(inode: Inode, newsize: number): number {
    return this.errnoOp('prepare_size', { ...this.ino(inode), newsize }, 0);
  }

  unstuff(inode: Inode): number {
    return this.errnoOp('unstuff', this.ino(inode), 0);
  }

  truncateBlocks(inode: Inode, newsize: number): void {
    this.rpc.must('truncate_blocks', { ...this.ino(inode), newsize });
  }

  sizeChanged(inode: Inode): void {
    if (this.has('size_changed')) this.rpc.must('size_changed', this.ino(inode));
  }

  allocRange(inode: Inode, lblk: number, n: number): number {
    return this.errnoOp('alloc_range', { ...this.ino(inode), lblk, count: n }, -EOPNOTSUPP);
  }

  punchBlocks(inode: Inode, lblk: number, n: number): void {
    this.voidOp('punch_blocks', { ...this.ino(inode), lblk, count: n });
  }

  collapseBlocks(inode: Inode, lblk: number, n: number): void {
    this.voidOp('collapse_blocks', { ...this.ino(inode), lblk, count: n });
  }

  insertBlocks(inode: Inode, lblk: number, n: number): void {
    this.voidOp('insert_blocks', { ...this.ino(inode), lblk, count: n });
  }

  remapBlocks(src: Inode, srcLblk: number, dst: Inode, dstLblk: number, n: number): void {
    this.voidOp('remap_blocks', { src: src.ino, srcIsize: src.size, srcLblk, dst: dst.ino, dstIsize: dst.size, dstLblk, count: n });
  }

  unshareUnwritten(inode: Inode, lblk: number, n: number): number {
    return this.errnoOp('unshare_unwritten', { ...this.ino(inode), lblk, count: n }, 0);
  }

  commit(): void {
    applyDevio(this.dev, this.rpc.must('commit'), this.rpc.t);
  }

  /* ------------------------------------------------------------------------------------ */
  /* Oracles, reports, introspection                                                      */
  /* ------------------------------------------------------------------------------------ */

  checkReservations(inode: Inode): string[] {
    return this.has('check_reservations') ? this.rpc.must('check_reservations', this.ino(inode)).strings('problems') : [];
  }

  checkConsistency(): string[] {
    return this.has('check_consistency') ? this.rpc.must('check_consistency').strings('problems') : [];
  }

  describeBlock(inode: Inode, pos: number): string {
    if (this.has('describe_block')) return this.rpc.must('describe_block', { ...this.ino(inode), pos }).str('text');
    if (!this.has('snapshot')) return '(the server describes no blocks)';
    const s = this.snapshot(inode).block(Math.floor(pos / this.blockSize));
    return `${s.state}${s.pblk !== undefined ? ` @${s.pblk}` : ''}${s.shared ? ' shared' : ''}`;
  }

  private extents(r: Fields, name: string): SnapExtent[] {
    if (!r.has(name)) return [];
    const out: SnapExtent[] = [];
    let prevEnd = 0;
    for (const e of r.objects(name)) {
      const lblk = e.int('lblk');
      const count = e.int('count', 1);
      const state = e.str('state');
      if (state !== 'delalloc' && state !== 'written' && state !== 'unwritten') throw this.t.badValue(`snapshot: extent state ${JSON.stringify(state)} (delalloc, written or unwritten)`);
      if (lblk < prevEnd) throw this.t.badValue(`snapshot: ${name} extent at block ${lblk} overlaps or is out of order`);
      prevEnd = lblk + count;
      out.push({ lblk, count, state, pblk: state === 'delalloc' ? -1 : e.int('pblk'), shared: e.optBool('shared', false) });
    }
    return out;
  }

  /**
   * The server's mapping state of one inode. With the state counter (feature "sv") a snapshot is
   * reused while the counter is the one it was taken at; every SV_AUDIT-th reuse is checked
   * against a fresh snapshot, so a counter that stays while the mappings change is caught.
   */
  private snapshot(inode: Inode): MappingSnapshot {
    const cache = this.snaps;
    if (cache === null) return this.fetchSnapshot(inode);
    const sv = this.rpc.lastSv;
    const kept = cache.get(inode.ino);
    if (kept !== undefined && sv !== undefined && kept.sv === sv) {
      if (++this.reuses % SV_AUDIT !== 0) return kept.snap;
      return this.keep(inode, this.audited(kept, sv));
    }
    return this.keep(inode, this.fetchSnapshot(inode));
  }

  /** Remember `snap` under the state counter of the reply that brought it (none: forget the inode). */
  private keep(inode: Inode, snap: MappingSnapshot): MappingSnapshot {
    const now = this.rpc.lastSv;
    if (now !== undefined) this.snaps!.set(inode.ino, { sv: now, snap, inode });
    else this.snaps!.delete(inode.ino);
    return snap;
  }

  /** A fresh snapshot of a kept one's inode; throws if it differs while the counter stayed `sv`. */
  private audited(kept: { snap: MappingSnapshot; inode: Inode }, sv: number | string): MappingSnapshot {
    const fresh = this.fetchSnapshot(kept.inode);
    if (fresh.fingerprint('all') !== kept.snap.fingerprint('all')) throw this.staleSv(sv, kept.inode.ino, kept.snap, fresh);
    return fresh;
  }

  /**
   * Before a violation is reported: every snapshot kept under the current state counter is checked
   * against a fresh one (a stale sv would otherwise be blamed on the server's mappings).
   */
  private confirmSnapshots(): void {
    const cache = this.snaps;
    const sv = this.rpc.lastSv;
    if (cache === null || sv === undefined) return;
    for (const kept of [...cache.values()]) if (kept.sv === sv) this.audited(kept, sv);
  }

  private staleSv(sv: number | string, ino: number, kept: MappingSnapshot, fresh: MappingSnapshot): Error {
    return this.t.badValue(`snapshot: the state counter sv stayed ${JSON.stringify(sv)}, but the mappings of inode ${ino} changed `
      + `(${kept.fingerprint('all').slice(0, 60)} -> ${fresh.fingerprint('all').slice(0, 60)}): sv must change whenever a mapping does`);
  }

  /**
   * Feature "snap": a reply about inode `ino` brought its snapshot (the server sends one when the
   * request changed the inode's mappings); kept under the reply's state counter like a fetched
   * one (and audited like one). Only for an inode the monitor has asked about before.
   */
  private brought(ino: number, f: Fields): void {
    const kept = this.snaps!.get(ino);
    const sv = this.rpc.lastSv;
    if (kept === undefined || sv === undefined) return;
    this.snaps!.set(ino, { sv, snap: this.parseSnapshot(f), inode: kept.inode });
  }

  /** A frozen copy of the server's mapping state for one inode (the monitor's state rules). */
  private fetchSnapshot(inode: Inode): MappingSnapshot {
    return this.parseSnapshot(this.rpc.must('snapshot', this.ino(inode)));
  }

  /** A snapshot from its wire form (`extents`, `cow`?, `version`?, `dataVersion`?). */
  private parseSnapshot(r: Fields): MappingSnapshot {
    const data = this.extents(r, 'extents');
    const cow = this.extents(r, 'cow');
    const fp = (l: SnapExtent[]) => l.map((e) => `${e.lblk}+${e.count}:${e.state}@${e.pblk}${e.shared ? 's' : ''}`).join(' ');
    const fd = fp(data);
    const fa = `${fd} | cow ${fp(cow)}`;
    // The server's own change counters when it sends them (what its validity cookie covers),
    // else the state itself.
    const vd = r.has('dataVersion') ? `v${String(r.raw('dataVersion'))}` : fd;
    const va = r.has('version') ? `v${String(r.raw('version'))}` : fa;
    // The first extent ending after lblk.
    const at = (lblk: number): SnapExtent | undefined => {
      let lo = 0;
      let hi = data.length;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (data[mid].lblk + data[mid].count <= lblk) lo = mid + 1;
        else hi = mid;
      }
      return data[lo];
    };
    return {
      version: (scope) => (scope === 'data' ? vd : va),
      fingerprint: (scope) => (scope === 'data' ? fd : fa),
      block: (lblk): BlockState => {
        const e = at(lblk);
        if (e === undefined || e.lblk > lblk) return { state: 'hole' };
        if (e.state === 'delalloc') return { state: 'delalloc' };
        return { state: e.state, pblk: e.pblk + (lblk - e.lblk), shared: e.shared };
      },
      // Runs are the server's extents (and the holes between them); SHARED is one per extent.
      nextChange: (lblk) => {
        const e = at(lblk);
        return e === undefined ? Infinity : e.lblk > lblk ? e.lblk : e.lblk + e.count;
      },
      sharedRun: (_lblk, n) => n,
    };
  }
}
