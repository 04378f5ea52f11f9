/**
 * FileDevice: a BlockDevice over a regular file or a real block device (/dev/loopN, /dev/sdX...).
 *
 *   FileDevice.open(path, {sectorSize?, direct?, create?: {size}})
 *
 * - Size: fstat for a regular file (rounded down to whole sectors); for a block device the
 *   BLKGETSIZE64 ioctl through the native addon, else /sys/dev/block/MAJ:MIN/size x 512.
 * - Sector size: for a block device its logical block size (/sys/dev/block/MAJ:MIN/queue/
 *   logical_block_size, else BLKSSZGET, else 512); for a file 512 (with O_DIRECT: the
 *   filesystem's statx DIO offset alignment, if larger). `sectorSize` may ask for a larger
 *   power of two; a smaller one than the device needs is EINVAL.
 * - create: {size}: the regular file is created if absent and (re)set to `size` bytes of zeroes
 *   (existing contents are discarded). EINVAL on a block device.
 * - I/O is synchronous (pread/pwrite loops through fs.readSync/writeSync; a short transfer is
 *   continued; no progress at all is EIO for a read and ENOSPC for a write).
 *   flush() = fdatasync; a FUA write = write + fdatasync.
 * - direct: true opens with O_DIRECT, and all I/O goes through page-aligned bounce buffers from
 *   the native addon (Node Buffers are only 16-byte aligned, which O_DIRECT rejects). Without the
 *   addon, EOPNOTSUPP. A filesystem that refuses O_DIRECT also gives EOPNOTSUPP.
 * - discard: fallocate(PUNCH_HOLE|KEEP_SIZE) through the addon (a regular file gets a hole, a block
 *   device zeroes/unmaps), else zeroes are written. Either way the range then reads as zeroes.
 * - Every failure is an FsError; Node errors keep their errno (EIO, ENOSPC, ...).
 */
import * as fs from 'fs';
import { EINVAL, EIO, ENODEV, ENOSPC, EOPNOTSUPP, FsError } from '../errno';
import { toFsError } from './errors';
import { FALLOC_FL_KEEP_SIZE, FALLOC_FL_PUNCH_HOLE, loadNative, type NativeAddon } from './native';
import type { BlockDevice, WriteOptions } from './types';
import { checkOpen, validateDiscard, validateGeometry, validateRead, validateWrite } from './validate';

export interface FileDeviceOptions {
  /** Sector size to present (power of two, 512..65536); at least the device's own. */
  sectorSize?: number;
  /** Open with O_DIRECT (needs the native addon). */
  direct?: boolean;
  /** Create (or reset) a regular file of this many bytes (a multiple of the sector size). */
  create?: { size: number };
  /** Name shown in errors; default "file:PATH", "loop:/dev/loopN" or "blockdev:PATH". */
  name?: string;
}

/** Bounce buffer size for O_DIRECT and zero-writing (a multiple of every allowed sector size). */
const BOUNCE_SIZE = 1 << 20;
const PAGE = 4096;
const RETRIES = 16;

function isErrno(e: unknown, ...names: string[]): boolean {
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === 'string' && names.includes(code);
}

function readSysfsInt(file: string): number | null {
  try {
    const v = Number(fs.readFileSync(file, 'utf8').trim());
    return Number.isSafeInteger(v) && v >= 0 ? v : null;
  } catch {
    return null;
  }
}

/** MAJ:MIN of a device number (glibc's gnu_dev_major/minor). */
export function devMajorMinor(rdev: bigint): { major: number; minor: number } {
  const major = ((rdev >> 8n) & 0xfffn) | ((rdev >> 32n) & ~0xfffn);
  const minor = (rdev & 0xffn) | ((rdev >> 12n) & ~0xffn);
  return { major: Number(major), minor: Number(minor) };
}

export class FileDevice implements BlockDevice {
  readonly name: string;
  readonly sectorSize: number;
  readonly size: number;
  readonly dax = false;
  /** The path opened. */
  readonly path: string;
  /** True for a block device, false for a regular file. */
  readonly isBlockDevice: boolean;
  /** True when opened with O_DIRECT. */
  readonly direct: boolean;
  private _fd: number;
  private _closed = false;
  private readonly addon: NativeAddon | null;
  private readonly align: number;
  private bounce: Buffer | null = null;
  private zeroes: Buffer | null = null;
  private punchWorks: boolean;

  private constructor(p: {
    path: string; name: string; fd: number; size: number; sectorSize: number; isBlockDevice: boolean;
    direct: boolean; addon: NativeAddon | null; align: number;
  }) {
    this.path = p.path;
    this.name = p.name;
    this._fd = p.fd;
    this.size = p.size;
    this.sectorSize = p.sectorSize;
    this.isBlockDevice = p.isBlockDevice;
    this.direct = p.direct;
    this.addon = p.addon;
    this.align = p.align;
    this.punchWorks = p.addon !== null;
  }

  /** Open a regular file or a block device as a BlockDevice. Throws FsError. */
  static open(path: string, opts: FileDeviceOptions = {}): FileDevice {
    if (typeof path !== 'string' || path.length === 0 || path.includes('\0')) {
      throw new FsError(EINVAL, `FileDevice.open: path must be a non-empty string without NUL bytes`);
    }
    if (opts === null || typeof opts !== 'object') {
      throw new FsError(EINVAL, `FileDevice.open ${path}: options must be an object`);
    }
    if (opts.sectorSize !== undefined) validateGeometry(`FileDevice.open ${path}`, 0, opts.sectorSize);
    if (opts.direct !== undefined && typeof opts.direct !== 'boolean') {
      throw new FsError(EINVAL, `FileDevice.open ${path}: direct must be a boolean`);
    }
    if (opts.name !== undefined && typeof opts.name !== 'string') {
      throw new FsError(EINVAL, `FileDevice.open ${path}: name must be a string`);
    }
    let createSize: number | undefined;
    if (opts.create !== undefined) {
      const c = opts.create as { size?: unknown } | null;
      if (c === null || typeof c !== 'object' || typeof c.size !== 'number' || !Number.isSafeInteger(c.size) || c.size < 0) {
        throw new FsError(EINVAL, `FileDevice.open ${path}: create must be {size: non-negative integer}`);
      }
      createSize = c.size;
    }
    const direct = opts.direct === true;
    const { addon, reason } = loadNative();
    if (direct && !addon) {
      throw new FsError(EOPNOTSUPP, `FileDevice.open ${path}: O_DIRECT needs sector-aligned memory from the native addon, ` +
        `which is unavailable: ${reason}`);
    }

    const flags = fs.constants.O_RDWR | (createSize !== undefined ? fs.constants.O_CREAT : 0) |
      (direct ? fs.constants.O_DIRECT : 0);
    let fd: number;
    try {
      fd = fs.openSync(path, flags, 0o644);
    } catch (e) {
      if (direct && isErrno(e, 'EINVAL')) {
        throw new FsError(EOPNOTSUPP, `FileDevice.open ${path}: the filesystem refuses O_DIRECT (EINVAL from open)`);
      }
      throw toFsError(e, `FileDevice.open ${path}`, EINVAL);
    }
    try {
      return FileDevice.setup(path, fd, opts, direct, createSize, addon);
    } catch (e) {
      try { fs.closeSync(fd); } catch { /* already failing */ }
      throw toFsError(e, `FileDevice.open ${path}`);
    }
  }

  private static setup(path: string, fd: number, opts: FileDeviceOptions, direct: boolean,
    createSize: number | undefined, addon: NativeAddon | null): FileDevice {
    const st = fs.fstatSync(fd, { bigint: true });
    let size: number;
    let sectorSize: number;
    let align = PAGE;
    let isBlockDevice: boolean;
    if (st.isFile()) {
      isBlockDevice = false;
      let need = 512;
      if (direct && addon) {
        const dio = addon.statxDioAlign(path);
        if (dio) {
          need = Math.max(need, dio.offsetAlign);
          align = Math.max(align, dio.memAlign);
        }
      }
      sectorSize = opts.sectorSize ?? need;
      if (sectorSize < need) {
        throw new FsError(EINVAL, `sectorSize ${sectorSize} is smaller than the O_DIRECT alignment ${need} this filesystem needs`);
      }
      validateGeometry(`FileDevice.open ${path}`, 0, sectorSize);
      if (createSize !== undefined) {
        if (createSize % sectorSize !== 0) {
          throw new FsError(EINVAL, `create.size ${createSize} is not a multiple of the sector size ${sectorSize}`);
        }
        fs.ftruncateSync(fd, 0);
        fs.ftruncateSync(fd, createSize);
        size = createSize;
      } else {
        const bytes = st.size;
        if (bytes > BigInt(Number.MAX_SAFE_INTEGER)) throw new FsError(EINVAL, `file size ${bytes} exceeds 2^53`);
        size = Number(bytes) - (Number(bytes) % sectorSize);
      }
    } else if (st.isBlockDevice()) {
      isBlockDevice = true;
      if (createSize !== undefined) throw new FsError(EINVAL, `create applies to regular files, and ${path} is a block device`);
      const { major, minor } = devMajorMinor(st.rdev);
      const sys = `/sys/dev/block/${major}:${minor}`;
      let lbs = readSysfsInt(`${sys}/queue/logical_block_size`) ?? readSysfsInt(`${sys}/../queue/logical_block_size`);
      if (lbs === null && addon) {
        try { lbs = addon.blkSszGet(fd); } catch { lbs = null; }
      }
      const need = lbs && lbs >= 512 ? lbs : 512;
      sectorSize = opts.sectorSize ?? need;
      if (sectorSize < need || sectorSize % need !== 0) {
        throw new FsError(EINVAL, `sectorSize ${sectorSize} is not a multiple of the device's logical block size ${need}`);
      }
      validateGeometry(`FileDevice.open ${path}`, 0, sectorSize);
      align = Math.max(align, sectorSize > PAGE ? sectorSize : PAGE);
      let bytes: number | null = null;
      if (addon) {
        try { bytes = addon.blkGetSize64(fd); } catch { bytes = null; }
      }
      if (bytes === null) {
        const sectors = readSysfsInt(`${sys}/size`);
        if (sectors !== null) bytes = sectors * 512;
      }
      if (bytes === null || !Number.isSafeInteger(bytes)) {
        throw new FsError(ENODEV, `cannot find the size of block device ${major}:${minor} (no addon, no ${sys}/size)`);
      }
      size = bytes - (bytes % sectorSize);
    } else {
      throw new FsError(EINVAL, `${path} is neither a regular file nor a block device`);
    }
    const kind = !isBlockDevice ? 'file' : /^\/dev\/loop\d+$/.test(path) ? 'loop' : 'blockdev';
    return new FileDevice({
      path, name: opts.name ?? `${kind}:${path}`, fd, size, sectorSize, isBlockDevice, direct,
      addon: addon ?? null, align: Math.max(align, sectorSize),
    });
  }

  get closed(): boolean {
    return this._closed;
  }

  /** The file descriptor (for the host adapter and tests); EBADF once closed. */
  get fd(): number {
    checkOpen(this, 'fd');
    return this._fd;
  }

  read(off: number, buf: Uint8Array): void {
    validateRead(this, off, buf);
    const len = buf.length;
    if (len === 0) return;
    if (!this.direct) {
      this.preadFull(buf, off);
      return;
    }
    const bounce = this.bounceBuffer();
    for (let pos = 0; pos < len; pos += BOUNCE_SIZE) {
      const n = Math.min(BOUNCE_SIZE, len - pos);
      const b = bounce.subarray(0, n);
      this.preadFull(b, off + pos);
      buf.set(b, pos);
    }
  }

  write(off: number, data: Uint8Array, opts?: WriteOptions): void {
    const fua = validateWrite(this, off, data, opts);
    const len = data.length;
    if (len > 0) {
      if (!this.direct) {
        this.pwriteFull(data, off);
      } else {
        const bounce = this.bounceBuffer();
        for (let pos = 0; pos < len; pos += BOUNCE_SIZE) {
          const n = Math.min(BOUNCE_SIZE, len - pos);
          bounce.set(data.subarray(pos, pos + n), 0);
          this.pwriteFull(bounce.subarray(0, n), off + pos);
        }
      }
    }
    if (fua) this.sync('write (FUA)');
  }

  flush(): void {
    checkOpen(this, 'flush');
    this.sync('flush');
  }

  discard(off: number, len: number): void {
    validateDiscard(this, off, len);
    if (len === 0) return;
    if (this.punchWorks && this.addon) {
      try {
        this.addon.fallocate(this._fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, off, len);
        return;
      } catch (e) {
        // Not supported here: remember, and write zeroes instead. Real failures propagate.
        if (!isErrno(e, 'EOPNOTSUPP', 'ENOTTY', 'ENOSYS', 'EINVAL')) throw toFsError(e, `${this.name}: discard`);
        this.punchWorks = false;
      }
    }
    const z = this.zeroBuffer();
    for (let pos = 0; pos < len; pos += BOUNCE_SIZE) {
      const n = Math.min(BOUNCE_SIZE, len - pos);
      this.pwriteFull(z.subarray(0, n), off + pos);
    }
  }

  close(): void {
    checkOpen(this, 'close');
    this._closed = true;
    this.bounce = null;
    this.zeroes = null;
    try {
      fs.closeSync(this._fd);
    } catch (e) {
      throw toFsError(e, `${this.name}: close`);
    }
  }

  // ---- internals ----------------------------------------------------------------------------

  private alignedBuffer(): Buffer {
    if (!this.addon) throw new FsError(EOPNOTSUPP, `${this.name}: no native addon for aligned buffers`);
    return Buffer.from(this.addon.alignedAlloc(BOUNCE_SIZE, this.align));
  }

  private bounceBuffer(): Buffer {
    if (!this.bounce) this.bounce = this.alignedBuffer();
    return this.bounce;
  }

  private zeroBuffer(): Buffer {
    if (!this.zeroes) this.zeroes = this.direct ? this.alignedBuffer() : Buffer.alloc(BOUNCE_SIZE);
    return this.zeroes;
  }

  private preadFull(buf: Uint8Array, pos: number): void {
    let done = 0;
    let retries = 0;
    while (done < buf.length) {
      let n: number;
      try {
        n = fs.readSync(this._fd, buf, done, buf.length - done, pos + done);
      } catch (e) {
        if (isErrno(e, 'EINTR', 'EAGAIN') && ++retries <= RETRIES) continue;
        throw this.ioError(e, 'read', pos + done);
      }
      if (n === 0) {
        throw new FsError(EIO, `${this.name}: read at ${pos + done}: unexpected end of data ` +
          `(the file or device is shorter than ${this.size} bytes)`);
      }
      done += n;
    }
  }

  private pwriteFull(data: Uint8Array, pos: number): void {
    let done = 0;
    let retries = 0;
    while (done < data.length) {
      let n: number;
      try {
        n = fs.writeSync(this._fd, data, done, data.length - done, pos + done);
      } catch (e) {
        if (isErrno(e, 'EINTR', 'EAGAIN') && ++retries <= RETRIES) continue;
        throw this.ioError(e, 'write', pos + done);
      }
      if (n === 0) throw new FsError(ENOSPC, `${this.name}: write at ${pos + done}: no progress (device full or shorter than ${this.size} bytes)`);
      done += n;
    }
  }

  private sync(what: string): void {
    try {
      fs.fdatasyncSync(this._fd);
    } catch (e) {
      throw this.ioError(e, what, null);
    }
  }

  /** I/O failures keep their errno (EIO, ENOSPC, EFBIG, ...); an error without one is EIO. */
  private ioError(e: unknown, op: string, at: number | null): FsError {
    return toFsError(e, at === null ? `${this.name}: ${op}` : `${this.name}: ${op} at ${at}`, EIO);
  }
}
