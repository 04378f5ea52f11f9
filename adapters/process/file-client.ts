/**
 * The file-level client: an out-of-process file implementation (a server speaking protocol 1 at
 * the "file" level) as a FileAdapter. Each FileTarget call is one request; an error reply becomes
 * the FsError the fuzzer expects (EOPNOTSUPP turns the op off, as fsx does), and every value in a
 * reply is checked (a short read longer than asked, a negative size...: TargetError).
 */
import * as fs from 'fs';
import type { Capabilities, FiemapExtent, FileAdapter, FileTarget } from '../types';
import { Fields, Hello, Rpc, handshake } from './protocol';
import { ProcessTransport, TransportOptions } from './transport';

function capabilitiesOf(h: Hello): Capabilities {
  const g = h.geometry;
  const c = h.capabilities;
  const blockSize = g.int('blockSize', 1, 1 << 30);
  return {
    blockSize,
    pageSize: g.optInt('pageSize', 4096, 1, 1 << 30),
    maxFileSize: g.optInt('maxFileSize', 2 ** 53 - 2 ** 16, 1),
    dioAlign: g.optInt('dioAlign', 512, 1, 1 << 30),
    mmap: c.optBool('mmap', false),
    fallocModes: c.has('fallocModes') ? c.ints('fallocModes', 0, 0x7f) : [],
    clone: c.optBool('clone', false),
    dedupe: c.optBool('dedupe', false),
    copyRange: c.optBool('copyRange', false),
    directIO: c.optBool('directIO', false),
    seek: c.optBool('seek', false),
    fiemap: c.optBool('fiemap', false),
    remount: c.optBool('remount', false),
  };
}

export class ProcessFileTarget implements FileTarget {
  /**
   * The file size the last reply carried (feature "size"), or -1: size() then asks. Every
   * request forgets it first, so it is never older than the last operation.
   */
  private knownSize = -1;
  private readonly sizeInReplies: boolean;

  constructor(private readonly rpc: Rpc, features: ReadonlySet<string> = new Set()) {
    this.sizeInReplies = features.has('size');
  }

  /** Note the size a reply carries (feature "size"); a reply without one leaves it unknown. */
  private noted(r: Fields): Fields {
    if (this.sizeInReplies && r.has('size')) this.knownSize = r.int('size');
    return r;
  }

  private must(method: string, params?: unknown): Fields {
    this.knownSize = -1;
    return this.noted(this.rpc.must(method, params));
  }

  private mustWithData(method: string, params: Record<string, unknown>, data: Uint8Array): Fields {
    this.knownSize = -1;
    return this.noted(this.rpc.mustWithData(method, params, data));
  }

  private bytes(r: Fields, most: number, exact: boolean): Uint8Array {
    const d = r.bytes('data');
    if (exact ? d.length !== most : d.length > most) throw this.rpc.t.badValue(`result.data holds ${d.length} bytes, ${exact ? 'expected' : 'at most'} ${most}`);
    return d;
  }

  size(): number {
    if (this.knownSize >= 0) return this.knownSize;
    return this.must('size').int('size');
  }

  pread(off: number, len: number): Uint8Array {
    return this.bytes(this.must('pread', { off, len }), len, false);
  }

  pwrite(off: number, data: Uint8Array): number {
    return this.mustWithData('pwrite', { off }, data).int('written', 0, data.length);
  }

  truncate(size: number): void {
    this.must('truncate', { size });
  }

  fsync(): void {
    this.must('fsync');
  }

  fdatasync(): void {
    this.must('fdatasync');
  }

  mapread(off: number, len: number): Uint8Array {
    return this.bytes(this.must('mapread', { off, len }), len, true);
  }

  mapwrite(off: number, data: Uint8Array, opts?: { msync?: boolean }): void {
    this.mustWithData('mapwrite', { off, msync: opts?.msync ?? true }, data);
  }

  fallocate(mode: number, off: number, len: number): void {
    this.must('fallocate', { mode, off, len });
  }

  cloneRange(srcOff: number, len: number, dstOff: number): void {
    this.must('clone_range', { srcOff, len, dstOff });
  }

  dedupeRange(srcOff: number, len: number, dstOff: number): number {
    return this.must('dedupe_range', { srcOff, len, dstOff }).int('deduped', 0, len);
  }

  copyRange(srcOff: number, len: number, dstOff: number): number {
    return this.must('copy_range', { srcOff, len, dstOff }).int('copied', 0, len);
  }

  directRead(off: number, len: number): Uint8Array {
    return this.bytes(this.must('direct_read', { off, len }), len, false);
  }

  directWrite(off: number, data: Uint8Array): number {
    return this.mustWithData('direct_write', { off }, data).int('written', 0, data.length);
  }

  seekData(off: number): number {
    return this.must('seek_data', { off }).int('offset');
  }

  seekHole(off: number): number {
    return this.must('seek_hole', { off }).int('offset');
  }

  fiemap(off: number, len: number, flags: number): FiemapExtent[] {
    return this.must('fiemap', { off, len, flags }).objects('extents').map((e) => ({
      logical: e.int('logical'),
      physical: e.u64('physical'),
      length: e.int('length'),
      flags: e.int('flags', 0, 0xffffffff),
    }));
  }

  closeOpen(): void {
    this.must('close_open');
  }

  remount(): void {
    this.must('remount');
  }
}

export class ProcessFileAdapter implements FileAdapter {
  readonly name: string;
  readonly capabilities: Capabilities;
  readonly rpc: Rpc;
  readonly hello: Hello;
  /** A scratch directory the harness made for the server, removed at close (null: none). */
  private scratch: string | null;
  /** Where close() hands the live server back (a pool, feature "reset"), instead of ending it. */
  recycle: ((t: ProcessTransport, hello: Hello, scratch: string) => void) | null = null;
  /** The server was reset for this adapter: open() checks that it left no file behind. */
  afterReset = false;
  private closed = false;

  constructor(t: ProcessTransport, hello: Hello, name: string, scratch: string | null = null) {
    this.rpc = new Rpc(t);
    this.hello = hello;
    this.name = name;
    this.scratch = scratch;
    this.capabilities = capabilitiesOf(hello);
  }

  /** Spawn `command args` and handshake at the file level; `scratch` is handed to the server. */
  static start(command: string, args: string[], scratch: string, o: TransportOptions & { blockSize?: number } = {}): ProcessFileAdapter {
    const t = new ProcessTransport(command, args, o);
    try {
      const hello = handshake(t, 'file', { harness: 'iomap-harness', blockSize: o.blockSize ?? 4096, pageSize: 4096, scratch });
      return new ProcessFileAdapter(t, hello, o.label ?? hello.name);
    } catch (e) {
      t.close(false);
      throw e;
    }
  }

  get transport(): ProcessTransport {
    return this.rpc.t;
  }

  open(): FileTarget {
    this.rpc.must('open');
    const t = new ProcessFileTarget(this.rpc, this.hello.features);
    if (this.afterReset) {
      this.afterReset = false;
      const size = t.size();
      if (size !== 0) throw this.rpc.t.badValue(`after reset, open left a file of ${size} bytes: the server did not reset (reset must return it to its state right after the hello)`);
    }
    return t;
  }

  close(): void {
    const recycle = this.recycle;
    this.recycle = null;
    if (this.closed) return;
    this.closed = true;
    if (recycle !== null && this.rpc.t.alive && this.scratch !== null) {
      const scratch = this.scratch;
      this.scratch = null;
      recycle(this.rpc.t, this.hello, scratch);
      return;
    }
    this.rpc.t.close();
    if (this.scratch !== null) {
      fs.rmSync(this.scratch, { recursive: true, force: true });
      this.scratch = null;
    }
  }
}
