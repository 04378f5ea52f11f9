/**
 * Loader for the optional native addon (native/, built by `npm ci` through native/build.js).
 *
 * `loadNative()` returns `{addon, reason}`: the addon (every function wrapped so failures are
 * FsError with the errno the kernel gave) or null plus one line saying why it is unavailable.
 * Without the addon, FileDevice refuses `direct: true` with EOPNOTSUPP, uses sysfs for block
 * device sizes and writes zeroes for discard; the host adapter turns off what needs it.
 *
 * Environment: IOMAP_NATIVE=0 pretends the addon is missing; IOMAP_NATIVE_PATH=FILE loads that file.
 */
import * as fs from 'fs';
import * as path from 'path';
import { toFsError } from './errors';
export {
  FIEMAP_FLAG_SYNC, FIEMAP_FLAG_XATTR, FIEMAP_EXTENT_LAST, FIEMAP_EXTENT_UNKNOWN, FIEMAP_EXTENT_DELALLOC,
  FIEMAP_EXTENT_ENCODED, FIEMAP_EXTENT_DATA_ENCRYPTED, FIEMAP_EXTENT_NOT_ALIGNED, FIEMAP_EXTENT_DATA_INLINE,
  FIEMAP_EXTENT_DATA_TAIL, FIEMAP_EXTENT_UNWRITTEN, FIEMAP_EXTENT_MERGED, FIEMAP_EXTENT_SHARED,
} from '../uapi-fiemap';

/** 64-bit results come back as a number when < 2^53, else a bigint. */
export type U64 = number | bigint;

export interface FiemapExtent {
  logical: U64;
  physical: U64;
  length: U64;
  /** FIEMAP_EXTENT_* flags. */
  flags: number;
}

export interface DedupeResult {
  bytesDeduped: U64;
  /** FILE_DEDUPE_RANGE_SAME (0), FILE_DEDUPE_RANGE_DIFFERS (1), or a negative errno. */
  status: number;
}

export interface DioAlign {
  memAlign: number;
  offsetAlign: number;
}

/** The addon's functions. All synchronous; all throw FsError (through this wrapper). */
export interface NativeAddon {
  /** Zeroed memory aligned to `align` (a power of two), freed when the ArrayBuffer is collected. */
  alignedAlloc(size: number, align: number): ArrayBuffer;
  /** ioctl(BLKGETSIZE64): size in bytes of a block device. ENOTTY on a regular file. */
  blkGetSize64(fd: number): number;
  /** ioctl(BLKSSZGET): logical sector size of a block device. */
  blkSszGet(fd: number): number;
  /** fallocate(2) with FALLOC_FL_* `mode`. */
  fallocate(fd: number, mode: number, off: U64, len: U64): void;
  /** lseek(SEEK_DATA): next data offset >= off; ENXIO if none. */
  seekData(fd: number, off: U64): U64;
  /** lseek(SEEK_HOLE): next hole offset >= off (EOF counts as a hole); ENXIO if off >= EOF. */
  seekHole(fd: number, off: U64): U64;
  /** FS_IOC_FIEMAP over [off, off+len) (len may be FIEMAP_MAX_OFFSET), all extents. */
  fiemap(fd: number, off: U64, len: U64, flags: number): FiemapExtent[];
  /** ioctl(dstFd, FICLONERANGE): share srcFd's [srcOff, srcOff+len) at dstOff. len 0 = to EOF. */
  ficloneRange(srcFd: number, srcOff: U64, len: U64, dstFd: number, dstOff: U64): void;
  /** ioctl(srcFd, FIDEDUPERANGE) with one destination. */
  fideduperange(srcFd: number, srcOff: U64, len: U64, dstFd: number, dstOff: U64): DedupeResult;
  /** One copy_file_range(2) call with explicit offsets: bytes copied (may be short, 0 at EOF). */
  copyFileRange(fdIn: number, offIn: U64, fdOut: number, offOut: U64, len: U64): number;
  /** statx(STATX_DIOALIGN): O_DIRECT alignment needs, or null if not reported / no O_DIRECT. */
  statxDioAlign(path: string): DioAlign | null;
  /**
   * posix_fadvise(2) on [off, off+len) (len 0: to EOF). Optional: an addon built before it was
   * added lacks it, and the caller says what it cannot do without it.
   */
  fadvise?(fd: number, off: U64, len: U64, advice: number): void;
  /**
   * The newer calls (absent from an addon built before them: the callers then say so). statx
   * (STATX_WRITE_ATOMIC): the atomic write unit range, or null when the file takes none.
   */
  statxAtomic?(path: string): { unitMin: number; unitMax: number; segmentsMax: number } | null;
  /** One preadv2/pwritev2 call with RWF_* `flags` (RWF_ATOMIC 0x40, RWF_DONTCACHE 0x80): bytes moved. */
  preadv2?(fd: number, buf: Uint8Array, off: U64, flags: number): number;
  pwritev2?(fd: number, buf: Uint8Array, off: U64, flags: number): number;
  /** ioctl(fd, XFS_IOC_EXCHANGE_RANGE) with both ranges in fd's file (flags: XFS_EXCHANGE_RANGE_*). */
  exchangeRange?(fd: number, off1: U64, len: U64, off2: U64, flags: number): void;
}

export const RWF_ATOMIC = 0x40;
export const RWF_DONTCACHE = 0x80;
export const XFS_EXCHANGE_RANGE_DRY_RUN = 1 << 2;

export interface NativeLoad {
  addon: NativeAddon | null;
  /** Why the addon is unavailable (null when it loaded). */
  reason: string | null;
  /** The file loaded or looked for. */
  path: string | null;
}

/** Linux constants the addon's callers need. */
export const FALLOC_FL_KEEP_SIZE = 0x01;
export const FALLOC_FL_PUNCH_HOLE = 0x02;
export const FALLOC_FL_COLLAPSE_RANGE = 0x08;
export const FALLOC_FL_ZERO_RANGE = 0x10;
export const FALLOC_FL_INSERT_RANGE = 0x20;
export const FALLOC_FL_UNSHARE_RANGE = 0x40;
export const FIEMAP_MAX_OFFSET = 0xffffffffffffffffn;
export const FILE_DEDUPE_RANGE_SAME = 0;
export const FILE_DEDUPE_RANGE_DIFFERS = 1;
export const POSIX_FADV_NORMAL = 0;
export const POSIX_FADV_RANDOM = 1;

const ADDON_FILE = path.join('native', 'build', 'Release', 'iomap_native.node');
const FUNCTIONS: readonly (keyof NativeAddon)[] = [
  'alignedAlloc', 'blkGetSize64', 'blkSszGet', 'fallocate', 'seekData', 'seekHole', 'fiemap',
  'ficloneRange', 'fideduperange', 'copyFileRange', 'statxDioAlign',
];
/** Functions added later: a stale build without them still loads (the rest of it works; the callers say what they cannot do). */
const OPTIONAL: readonly (keyof NativeAddon)[] = ['fadvise', 'statxAtomic', 'preadv2', 'pwritev2', 'exchangeRange'];

let cached: NativeLoad | undefined;
let override: NativeLoad | undefined;

function findAddon(): string | null {
  let dir = __dirname;
  for (let i = 0; i < 6; i++) {
    const p = path.join(dir, ADDON_FILE);
    if (fs.existsSync(p)) return p;
    const parent = path.dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  return null;
}

function wrap(raw: Record<string, unknown>): NativeAddon {
  const out: Record<string, unknown> = {};
  for (const name of [...FUNCTIONS, ...OPTIONAL]) {
    const fn = raw[name];
    if (typeof fn !== 'function' && OPTIONAL.includes(name)) continue;
    if (typeof fn !== 'function') throw new Error(`the addon lacks ${name}() (stale build? run npm ci)`);
    out[name] = (...args: unknown[]) => {
      try {
        return (fn as (...a: unknown[]) => unknown)(...args);
      } catch (e) {
        throw toFsError(e, `native ${name}`);
      }
    };
  }
  return Object.freeze(out) as unknown as NativeAddon;
}

function load(): NativeLoad {
  if (process.env.IOMAP_NATIVE === '0') {
    return { addon: null, reason: 'disabled by IOMAP_NATIVE=0', path: null };
  }
  if (process.platform !== 'linux') {
    return { addon: null, reason: `platform is ${process.platform}, not linux`, path: null };
  }
  const file = process.env.IOMAP_NATIVE_PATH || findAddon();
  if (!file) {
    return { addon: null, reason: `${ADDON_FILE} not found (it is built by npm ci; see docs/devices.md)`, path: null };
  }
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const raw = require(file) as Record<string, unknown>;
    return { addon: wrap(raw), reason: null, path: file };
  } catch (e) {
    const msg = e instanceof Error ? e.message.split('\n')[0] : String(e);
    return { addon: null, reason: `cannot load ${file}: ${msg}`, path: file };
  }
}

/** The addon (or null and why). Loaded once. */
export function loadNative(): NativeLoad {
  if (override) return override;
  if (!cached) cached = load();
  return cached;
}

/** The addon or null. */
export function native(): NativeAddon | null {
  return loadNative().addon;
}

/**
 * Tests only: pretend the addon is missing (`null`) with a reason, or restore the real state
 * (`undefined`).
 */
export function setNativeForTesting(addon: NativeAddon | null | undefined, reason = 'disabled for a test'): void {
  override = addon === undefined ? undefined : { addon, reason: addon ? null : reason, path: null };
}
