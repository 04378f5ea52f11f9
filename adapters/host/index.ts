/**
 * `host:PATH` — the host adapter: the same fuzzers and suites against a real Linux filesystem.
 *
 * PATH names a directory inside a scratch area the user designated (safety.ts: the `scratch` option
 * or IOMAP_HARNESS_SCRATCH; realpath before the check). The adapter creates one uniquely named test
 * file there (O_EXCL), works on it with Node's synchronous fs API (readSync/writeSync with explicit
 * positions, ftruncate, fsync, fdatasync) and, through the native addon (native/), fallocate (every
 * mode), SEEK_DATA/SEEK_HOLE, FIEMAP, FICLONERANGE, FIDEDUPERANGE, copy_file_range and O_DIRECT with
 * aligned buffers. At start-up it detects the filesystem (statfs magic → profiles.ts) and probes each
 * optional operation on a probe file of its own, turning off what the kernel refuses, as fsx does.
 *
 * Not offered: mmap (Node cannot map files and the addon has no mmap; mapped ops are declared off
 * rather than faked) and remount, unless the owner of the mount says how (HostOptions.remount). Without the addon only
 * pread/pwrite/truncate/fsync/fdatasync/close-open remain; `info.disabled` says what is off and why.
 *
 * closeOpen(): close the fds, drop clean caches (as root: write 3 to /proc/sys/vm/drop_caches, which
 * drops clean page cache, dentries and inodes system-wide; dirty pages stay), reopen the same inode.
 *
 * close(): closes everything and unlinks the test file — only if its name still refers to the inode
 * this adapter created. Files left open at process exit are removed by an exit hook the same way.
 */

import { spawnSync } from 'child_process';
import * as fs from 'fs';
import type { Capabilities, FiemapExtent, FileAdapter, FileTarget, KernelEvidence } from '../types';
import { loadNative, POSIX_FADV_RANDOM, RWF_ATOMIC, RWF_DONTCACHE, type NativeAddon, type U64 } from '../../reference/device/native';
import { toFsError } from '../../reference/device/errors';
import { EBADF, EINVAL, EIO, ENXIO, EOPNOTSUPP, FsError } from '../../reference/errno';
import {
  detectProfile, errnoLabel, fallocModeName, maxFileSizeFor, probeCapabilities, type FsProfile, type HostFsType, type ProbeResult,
} from './profiles';
import { HostSafetyError, OwnedFile, resolveScratchDir, SCRATCH_ENV, scratchRoots } from './safety';
import { scratchMountAround } from './scratch';
import { delallocEvidence, dioCollisionEvidence, KmsgLog, MAX_RW_COUNT, sharedKmsg } from './kmsg';

export { HostSafetyError, SCRATCH_ENV } from './safety';
export { PROFILES, type FsProfile, type HostFsType } from './profiles';

export const describe = 'a real kernel filesystem (host:DIR, DIR inside a scratch directory from IOMAP_HARNESS_SCRATCH): '
  + 'pread/pwrite/truncate/fsync, and through the native addon fallocate, SEEK_DATA/HOLE, FIEMAP, clone/dedupe/copy, O_DIRECT';

const PROC_DROP_CACHES = '/proc/sys/vm/drop_caches';

/** The page cache drops this process made (closeOpen): not someone else's (externalCacheDrops). */
let ownCacheDrops = 0;
/** /proc/vmstat, opened once (null: not yet; -1: cannot be read). */
let vmstatFd: number | null = null;
const vmstatBuf = Buffer.allocUnsafe(16384);

/**
 * /proc/vmstat's drop_pagecache: how many times anyone wrote 1 or 3 to /proc/sys/vm/drop_caches
 * since boot (each drops every clean, unmapped page cache folio of the machine: our test file's
 * too). Null when it cannot be read. One pread of the file (about 70 µs: the kernel formats every
 * counter), so the diff target asks once per op.
 */
export function pageCacheDrops(): number | null {
  if (vmstatFd === -1) return null;
  try {
    if (vmstatFd === null) vmstatFd = fs.openSync('/proc/vmstat', 'r');
    const n = fs.readSync(vmstatFd, vmstatBuf, 0, vmstatBuf.length, 0);
    const text = vmstatBuf.toString('latin1', 0, n);
    const at = text.indexOf('\ndrop_pagecache ');
    if (at < 0) throw new Error('no drop_pagecache');
    const v = Number(text.slice(at + 16, text.indexOf('\n', at + 1)));
    if (!Number.isSafeInteger(v)) throw new Error('drop_pagecache not a number');
    return v;
  } catch {
    if (vmstatFd !== null && vmstatFd >= 0) fs.closeSync(vmstatFd);
    vmstatFd = -1;
    return null;
  }
}
/** Any single read/write is clamped to this by the kernel (fs/read_write.c). */

export interface HostOptions {
  /** The directory to create the test file in (the PATH of host:PATH). */
  path?: string;
  /** Allowed scratch roots; default: IOMAP_HARNESS_SCRATCH (':'-separated). */
  scratch?: string | string[];
  /**
   * What closeOpen() does between close and reopen: 'auto' (default) drops caches when running as
   * root and /proc/sys/vm/drop_caches is writable; 'always' requires it (fails otherwise); 'never'.
   */
  dropCaches?: 'auto' | 'always' | 'never';
  /** Geometry asked for by the caller (e.g. fsx --bs): must match the filesystem's block size. */
  blockSize?: number;
  /**
   * Unmount and mount the filesystem again (the owner of the mount passes it: scratch:TYPE).
   * With it the target offers remount (Capabilities.remount): close, this, reopen the same inode.
   */
  remount?: () => void;
  /** false: do not read /dev/kmsg for evidence (default: read it on xfs when it can be read). */
  kernelLog?: boolean;
  [key: string]: unknown;
}

export interface HostInfo {
  /** Realpath of the directory the test file lives in. */
  dir: string;
  fsType: HostFsType;
  /** statfs f_type. */
  magic: number;
  profile: FsProfile;
  blockSize: number;
  native: { loaded: boolean; reason: string | null };
  /** Capability (or "fallocate MODE") → why it is off. */
  disabled: Record<string, string>;
  /** Probe answers outside the profile's envelope and other remarks. */
  notes: string[];
  /** Whether closeOpen() drops caches. */
  dropCaches: boolean;
}

/**
 * The filesystem block size: statfs f_bsize (XFS answers its sb_blocksize there, while st_blksize is
 * the preferred I/O size, 4096 on a 1k-block xfs). st_blksize when statfs is not available.
 */
function fsBlockSize(dir: string, stBlksize: number): number {
  try {
    const b = fs.statfsSync(dir).bsize;
    return Number.isInteger(b) && b >= 512 && (b & (b - 1)) === 0 ? b : stBlksize;
  } catch {
    return stBlksize;
  }
}

let pageSizeCache: number | undefined;
/** The kernel page size (getconf PAGESIZE), 4096 when it cannot be asked. */
export function hostPageSize(): number {
  if (pageSizeCache === undefined) {
    const r = spawnSync('getconf', ['PAGESIZE'], { encoding: 'utf8', timeout: 5000 });
    const v = Number((r.stdout ?? '').trim());
    pageSizeCache = Number.isInteger(v) && v >= 4096 && (v & (v - 1)) === 0 ? v : 4096;
  }
  return pageSizeCache;
}

function isRoot(): boolean {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}

/**
 * Node gives meaning to some values the kernel would refuse (readSync/writeSync position -1 = "the
 * current file position", ftruncateSync clamps a negative length to 0): such arguments are answered
 * with the kernel's EINVAL here instead of being passed on.
 */
function checkArg(v: number, what: string): void {
  if (!Number.isSafeInteger(v) || v < 0) throw new FsError(EINVAL, `host ${what}: ${v} is not a non-negative integer`);
}

function num(v: U64): number {
  return typeof v === 'bigint' ? Number(v) : v;
}

// ---- exit hook: never leave our files behind ------------------------------------------------------

const live = new Set<HostAdapter>();
let exitHook = false;
function track(a: HostAdapter): void {
  live.add(a);
  if (!exitHook) {
    exitHook = true;
    process.once('exit', () => {
      for (const x of [...live]) {
        try { x.close(); } catch { /* best effort at exit */ }
      }
    });
  }
}

// ---- the open file --------------------------------------------------------------------------------

export class HostTarget implements FileTarget {
  private fdNum: number;
  private dioFdNum = -1;
  private dioBuf: Buffer | null = null;
  private closed = false;
  /** randomReads() was asked for: every fd this target opens gets POSIX_FADV_RANDOM. */
  private random = false;
  /** The kernel's report of the last O_DIRECT read's EIO (kernelEvidence()). */
  private evidence: KernelEvidence | null = null;

  constructor(private readonly adapter: HostAdapter, private readonly file: OwnedFile, fd: number) {
    this.fdNum = fd;
  }

  /** Path of the test file (tests use it to corrupt the file from outside). */
  get path(): string {
    return this.file.path;
  }

  /** The buffered fd (for tests). */
  get fd(): number {
    this.live();
    return this.fdNum;
  }

  private live(): void {
    if (this.closed) throw new FsError(EBADF, 'host: the test file is closed');
  }

  private addon(what: string): NativeAddon {
    const a = this.adapter.addon;
    if (a === null) throw new FsError(EOPNOTSUPP, `host: ${what} needs the native addon (${this.adapter.info.native.reason})`);
    return a;
  }

  private fail(e: unknown, what: string): FsError {
    return toFsError(e, `host ${what}`);
  }

  size(): number {
    this.live();
    try {
      return fs.fstatSync(this.fdNum).size;
    } catch (e) {
      throw this.fail(e, 'fstat');
    }
  }

  pread(off: number, len: number): Uint8Array {
    this.live();
    checkArg(off, 'pread offset');
    checkArg(len, 'pread length');
    const want = Math.min(len, MAX_RW_COUNT);
    let buf: Buffer;
    try {
      buf = Buffer.allocUnsafe(Math.max(0, want));
    } catch (e) {
      throw this.fail(e, `pread(${off}, ${len})`);
    }
    let done = 0;
    try {
      while (done < want) {
        const n = fs.readSync(this.fdNum, buf, done, want - done, off + done);
        if (n === 0) break;
        done += n;
      }
    } catch (e) {
      if (done === 0) throw this.fail(e, `pread(${off}, ${len})`);
    }
    return done === buf.length ? buf : buf.subarray(0, done);
  }

  pwrite(off: number, data: Uint8Array): number {
    this.live();
    checkArg(off, 'pwrite offset');
    const want = Math.min(data.length, MAX_RW_COUNT);
    let done = 0;
    try {
      while (done < want) {
        const n = fs.writeSync(this.fdNum, data, done, want - done, off + done);
        if (n === 0) break;
        done += n;
      }
    } catch (e) {
      // Like pwrite(2): the bytes written before a failure (ENOSPC, EFBIG at s_maxbytes) count.
      if (done === 0) throw this.fail(e, `pwrite(${off}, ${data.length})`);
    }
    return done;
  }

  truncate(size: number): void {
    this.live();
    checkArg(size, 'ftruncate length');
    try {
      fs.ftruncateSync(this.fdNum, size);
    } catch (e) {
      throw this.fail(e, `ftruncate(${size})`);
    }
  }

  fsync(): void {
    this.live();
    try {
      fs.fsyncSync(this.fdNum);
    } catch (e) {
      throw this.fail(e, 'fsync');
    }
  }

  fdatasync(): void {
    this.live();
    try {
      fs.fdatasyncSync(this.fdNum);
    } catch (e) {
      throw this.fail(e, 'fdatasync');
    }
  }

  fallocate(mode: number, off: number, len: number): void {
    this.live();
    this.addon(`fallocate ${fallocModeName(mode)}`).fallocate(this.fdNum, mode, off, len);
  }

  cloneRange(srcOff: number, len: number, dstOff: number): void {
    this.live();
    this.addon('FICLONERANGE').ficloneRange(this.fdNum, srcOff, len, this.fdNum, dstOff);
  }

  dedupeRange(srcOff: number, len: number, dstOff: number): number {
    this.live();
    const r = this.addon('FIDEDUPERANGE').fideduperange(this.fdNum, srcOff, len, this.fdNum, dstOff);
    if (r.status === 0) return num(r.bytesDeduped);
    if (r.status === 1) return 0; // FILE_DEDUPE_RANGE_DIFFERS
    throw new FsError(-r.status, `host FIDEDUPERANGE(${srcOff}, ${len}, ${dstOff}): destination status ${errnoLabel(-r.status)}`);
  }

  copyRange(srcOff: number, len: number, dstOff: number): number {
    this.live();
    return num(this.addon('copy_file_range').copyFileRange(this.fdNum, srcOff, this.fdNum, dstOff, len));
  }

  /**
   * Negative offsets cannot be passed through the addon (it takes unsigned offsets): they get the
   * answer the profile records for the filesystem (ENXIO, or btrfs's clamp to 0) — not the kernel's.
   */
  private seekOffset(off: number, what: string): number {
    if (!(off < 0)) return off;
    if (this.adapter.info.profile.negativeSeek === 'clamp-to-0') return 0;
    throw new FsError(ENXIO, `host ${what}(${off}): negative offset (answered per the ${this.adapter.info.fsType} profile)`);
  }

  seekData(off: number): number {
    this.live();
    const a = this.addon('SEEK_DATA');
    return num(a.seekData(this.fdNum, this.seekOffset(off, 'SEEK_DATA')));
  }

  seekHole(off: number): number {
    this.live();
    const a = this.addon('SEEK_HOLE');
    return num(a.seekHole(this.fdNum, this.seekOffset(off, 'SEEK_HOLE')));
  }

  /**
   * All extents of [off, off+len) (the addon issues FS_IOC_FIEMAP in batches). fm_length 0 is
   * answered EINVAL here (§8), because the addon issues no ioctl for an empty range.
   */
  fiemap(off: number, len: number, flags: number): FiemapExtent[] {
    this.live();
    const addon = this.addon('FIEMAP');
    if (len === 0) throw new FsError(EINVAL, 'host FIEMAP: fm_length 0 (answered per file-ops.md §8; the addon issues no ioctl for it)');
    return addon.fiemap(this.fdNum, off, len, flags).map((e) => ({
      logical: num(e.logical), physical: num(e.physical), length: num(e.length), flags: e.flags,
    }));
  }

  // ---- O_DIRECT -----------------------------------------------------------------------------------

  private direct(what: string): { fd: number; addon: NativeAddon } {
    const caps = this.adapter.capabilities;
    if (!caps.directIO) throw new FsError(EOPNOTSUPP, `host: ${what}: O_DIRECT is off (${this.adapter.info.disabled.directIO ?? 'unknown'})`);
    const addon = this.addon(what);
    if (this.dioFdNum < 0) {
      try {
        this.dioFdNum = fs.openSync(this.file.path, fs.constants.O_RDWR | fs.constants.O_DIRECT | fs.constants.O_NOFOLLOW);
      } catch (e) {
        throw this.fail(e, `open(O_DIRECT) for ${what}`);
      }
      if (!this.file.matchesFd(this.dioFdNum)) {
        fs.closeSync(this.dioFdNum);
        this.dioFdNum = -1;
        throw new FsError(EIO, `host: ${this.file.path} is no longer the test file this adapter created`);
      }
    }
    return { fd: this.dioFdNum, addon };
  }

  /** An aligned bounce buffer of at least `len` bytes (reused; grows in 64 KiB steps). */
  private bounce(addon: NativeAddon, len: number): Buffer {
    if (this.dioBuf === null || this.dioBuf.length < len) {
      const size = Math.max(65536, Math.ceil(len / 65536) * 65536);
      this.dioBuf = Buffer.from(addon.alignedAlloc(size, this.adapter.dioMemAlign));
    }
    return this.dioBuf;
  }

  /** One O_DIRECT pread of exactly `len` bytes at `off` (the kernel checks the alignment). */
  directRead(off: number, len: number): Uint8Array {
    // Forget the last read's evidence first: a read that fails before it reaches the kernel
    // (closed target, bad argument, the O_DIRECT fd not reopening, EIO included) has none.
    this.evidence = null;
    this.live();
    checkArg(off, 'O_DIRECT pread offset');
    checkArg(len, 'O_DIRECT pread length');
    const { fd, addon } = this.direct('O_DIRECT read');
    const want = Math.min(len, MAX_RW_COUNT);
    const buf = this.bounce(addon, want);
    const kmsg = this.adapter.kmsg;
    const since = kmsg === null ? -1 : kmsg.mark();
    let n: number;
    try {
      n = fs.readSync(fd, buf, 0, want, off);
    } catch (e) {
      const err = this.fail(e, `O_DIRECT pread(${off}, ${len})`);
      if (err.code === 'EIO' && this.adapter.collectsEvidence) this.evidence = this.collisionEvidence(off, len, since);
      throw err;
    }
    return Buffer.from(buf.subarray(0, n));
  }

  /**
   * Why the O_DIRECT read of [off, off+len) just failed with EIO, in the kernel's words: its
   * warning logged since `since`, else the delalloc extent FIEMAP shows over the range (kmsg.ts),
   * provided no writeback error was pending (writebackErrorPending).
   */
  private collisionEvidence(off: number, len: number, since: number): KernelEvidence | null {
    const op = { off, len, errno: 'EIO' };
    const fsType = this.adapter.info.fsType;
    const kmsg = this.adapter.kmsg;
    const logged = kmsg === null ? null : dioCollisionEvidence(kmsg.since(since), since, this.file.path, fsType, op);
    if (logged !== null || !this.adapter.capabilities.fiemap || len === 0) return logged;
    // With a readable log, a missing warning counts against a collision unless the rate limiter
    // can have taken it (docs/corpus.md "Family signatures").
    const suppressed = kmsg === null ? 'no kernel log' : kmsg.rateLimitedNow();
    if (suppressed === null) return null;
    let probed: KernelEvidence | null;
    try {
      probed = delallocEvidence(this.fiemap(off, Math.min(len, MAX_RW_COUNT), 0), fsType, op, suppressed);
    } catch {
      return null; // FIEMAP failing too (a shut-down filesystem): no evidence
    }
    // Asked after FIEMAP, which a flush would change.
    return probed === null || this.writebackErrorPending() ? null : probed;
  }

  /**
   * Whether a writeback error is waiting to be reported: the O_DIRECT read flushes its range before
   * it maps anything, and that flush answers EIO for a failed writeback (a background one's
   * included) with no mapping looked at, whatever delalloc is left in the range. Such an error has
   * not reached the buffered fd yet (fsync ops report it there and fail), so an fdatasync on that
   * fd names it now; after a genuine DIO collision it returns 0 (the collision touches no errseq:
   * docs/corpus.md "Family signatures"). Only on the failure path, which ends the run.
   */
  private writebackErrorPending(): boolean {
    try {
      fs.fdatasyncSync(this.fdNum);
      return false;
    } catch {
      return true;
    }
  }

  /** The kernel's report of why the last O_DIRECT read failed with EIO (adapters/host/kmsg.ts), if it made one. */
  kernelEvidence(): KernelEvidence | null {
    return this.evidence;
  }

  /** O_DIRECT pwritev2(RWF_ATOMIC) of `data` at `off` from an aligned copy: one call, all or nothing. */
  atomicWrite(off: number, data: Uint8Array): number {
    this.live();
    checkArg(off, 'atomic pwrite offset');
    const { fd, addon } = this.direct('RWF_ATOMIC write');
    if (addon.pwritev2 === undefined) throw new FsError(EOPNOTSUPP, 'host: atomic writes need a native addon with pwritev2 (rebuild: npm ci)');
    const buf = this.bounce(addon, data.length);
    buf.set(data, 0);
    try {
      return addon.pwritev2(fd, buf.subarray(0, data.length), off, RWF_ATOMIC);
    } catch (e) {
      throw this.fail(e, `pwritev2(${off}, ${data.length}, RWF_ATOMIC)`);
    }
  }

  /** preadv2(RWF_DONTCACHE) on the buffered fd, looped like pread until `len` or EOF. */
  readDontcache(off: number, len: number): Uint8Array {
    this.live();
    checkArg(off, 'preadv2 offset');
    checkArg(len, 'preadv2 length');
    const addon = this.addon('RWF_DONTCACHE read');
    if (addon.preadv2 === undefined) throw new FsError(EOPNOTSUPP, 'host: RWF_DONTCACHE needs a native addon with preadv2 (rebuild: npm ci)');
    const buf = Buffer.alloc(Math.min(len, MAX_RW_COUNT));
    let done = 0;
    try {
      while (done < buf.length) {
        const n = addon.preadv2(this.fdNum, buf.subarray(done), off + done, RWF_DONTCACHE);
        if (n === 0) break;
        done += n;
      }
    } catch (e) {
      if (done === 0) throw this.fail(e, `preadv2(${off}, ${len}, RWF_DONTCACHE)`);
    }
    return buf.subarray(0, done);
  }

  /** pwritev2(RWF_DONTCACHE) on the buffered fd, looped like pwrite. */
  writeDontcache(off: number, data: Uint8Array): number {
    this.live();
    checkArg(off, 'pwritev2 offset');
    const addon = this.addon('RWF_DONTCACHE write');
    if (addon.pwritev2 === undefined) throw new FsError(EOPNOTSUPP, 'host: RWF_DONTCACHE needs a native addon with pwritev2 (rebuild: npm ci)');
    const want = Math.min(data.length, MAX_RW_COUNT);
    let done = 0;
    try {
      while (done < want) {
        const n = addon.pwritev2(this.fdNum, data.subarray(done, want), off + done, RWF_DONTCACHE);
        if (n === 0) break;
        done += n;
      }
    } catch (e) {
      if (done === 0) throw this.fail(e, `pwritev2(${off}, ${data.length}, RWF_DONTCACHE)`);
    }
    return done;
  }

  /** ioctl(XFS_IOC_EXCHANGE_RANGE) with both ranges in the test file, flags 0. */
  exchangeRange(srcOff: number, len: number, dstOff: number): void {
    this.live();
    const addon = this.addon('exchange range');
    if (addon.exchangeRange === undefined) throw new FsError(EOPNOTSUPP, 'host: exchange range needs a native addon with it (rebuild: npm ci)');
    try {
      addon.exchangeRange(this.fdNum, srcOff, len, dstOff, 0);
    } catch (e) {
      throw this.fail(e, `XFS_IOC_EXCHANGE_RANGE(${srcOff}, ${len}, ${dstOff})`);
    }
  }

  /** One O_DIRECT pwrite of `data` at `off` from an aligned copy (the kernel checks the alignment). */
  directWrite(off: number, data: Uint8Array): number {
    this.live();
    checkArg(off, 'O_DIRECT pwrite offset');
    const { fd, addon } = this.direct('O_DIRECT write');
    const want = Math.min(data.length, MAX_RW_COUNT);
    const buf = this.bounce(addon, want);
    buf.set(want === data.length ? data : data.subarray(0, want), 0);
    try {
      return fs.writeSync(fd, buf, 0, want, off);
    } catch (e) {
      throw this.fail(e, `O_DIRECT pwrite(${off}, ${data.length})`);
    }
  }

  // ---- readahead ----------------------------------------------------------------------------------

  /** POSIX_FADV_RANDOM (sets FMODE_RANDOM on the open file), now and after every reopen. */
  randomReads(): void {
    this.live();
    this.random = true;
    this.adviseRandom();
  }

  private adviseRandom(): void {
    if (!this.random) return;
    const addon = this.addon('POSIX_FADV_RANDOM');
    if (!addon.fadvise) throw new FsError(EOPNOTSUPP, 'host: POSIX_FADV_RANDOM needs a rebuilt native addon (npm ci): this one has no fadvise()');
    try {
      addon.fadvise(this.fdNum, 0, 0, POSIX_FADV_RANDOM);
    } catch (e) {
      throw this.fail(e, 'posix_fadvise(POSIX_FADV_RANDOM)');
    }
  }

  // ---- lifecycle ----------------------------------------------------------------------------------

  /** The machine's page cache drops by other processes since boot (FileTarget.externalCacheDrops). */
  externalCacheDrops(): number | null {
    const n = pageCacheDrops();
    return n === null ? null : n - ownCacheDrops;
  }

  /** Close both fds, drop clean caches (see HostOptions.dropCaches), reopen the same file. */
  closeOpen(): void {
    this.live();
    this.closeFds();
    this.adapter.dropCaches();
    this.reopen();
  }

  /**
   * A clean unmount and mount (the owner of the mount does it: HostOptions.remount), then reopen
   * the same file: every byte written must still be there (fsx's remount op).
   */
  remount(): void {
    this.live();
    const again = this.adapter.remountHook;
    if (again === null) throw new FsError(EOPNOTSUPP, 'host: remount needs a filesystem the harness mounted (scratch:TYPE)');
    this.closeFds();
    try {
      again();
    } catch (e) {
      this.closed = true;
      throw new FsError(EIO, `host: remount failed: ${e instanceof Error ? e.message : String(e)}`);
    }
    this.reopen();
  }

  private reopen(): void {
    let fd: number;
    try {
      fd = fs.openSync(this.file.path, fs.constants.O_RDWR | fs.constants.O_NOFOLLOW);
    } catch (e) {
      this.closed = true;
      throw this.fail(e, `reopen ${this.file.path}`);
    }
    if (!this.file.matchesFd(fd)) {
      fs.closeSync(fd);
      this.closed = true;
      throw new FsError(EIO, `host: ${this.file.path} was replaced while closed; not using it`);
    }
    this.fdNum = fd;
    this.adviseRandom();
  }

  private closeFds(): void {
    for (const fd of [this.fdNum, this.dioFdNum]) {
      if (fd >= 0) {
        try { fs.closeSync(fd); } catch { /* already closed */ }
      }
    }
    this.fdNum = -1;
    this.dioFdNum = -1;
  }

  /** Used by the adapter: close for good. */
  shutdown(): void {
    if (this.closed) return;
    this.closed = true;
    this.closeFds();
    this.dioBuf = null;
  }
}

// ---- the adapter ----------------------------------------------------------------------------------

/**
 * The scratch roots: the `scratch` option or IOMAP_HARNESS_SCRATCH; when neither designates any,
 * the harness-made scratch filesystem host:PATH lies in (scratch create's state file designates it).
 */
function designatedRoots(opts: HostOptions): string[] {
  const none = opts.scratch === undefined && (process.env[SCRATCH_ENV] ?? '') === '';
  const made = none && typeof opts.path === 'string' ? scratchMountAround(opts.path) : null;
  return made !== null ? [made] : scratchRoots(opts.scratch);
}

export class HostAdapter implements FileAdapter {
  readonly name = 'host';
  readonly capabilities: Capabilities;
  readonly info: HostInfo;
  readonly addon: NativeAddon | null;
  readonly dioMemAlign: number;
  /** Messages from cleanup (files left alone because they were replaced, ...). */
  readonly cleanupNotes: string[] = [];
  /** HostOptions.remount: how the owner of the mount unmounts and mounts it again (null: not ours). */
  readonly remountHook: (() => void) | null;
  /**
   * The kernel log, read for evidence when an O_DIRECT read fails with EIO (xfs only: the family
   * known signature it serves is an XFS bug). Null when off; info.notes says why once.
   */
  readonly kmsg: KmsgLog | null;
  /** Whether an O_DIRECT read's EIO is looked into for kernel evidence (xfs with O_DIRECT). */
  get collectsEvidence(): boolean {
    return this.info.fsType === 'xfs' && this.capabilities.directIO;
  }
  private readonly dropMode: 'auto' | 'always' | 'never';
  private file: OwnedFile | null = null;
  private target: HostTarget | null = null;

  constructor(opts: HostOptions) {
    const roots = designatedRoots(opts);
    const dir = resolveScratchDir(typeof opts.path === 'string' ? opts.path : '', roots);
    const drop = opts.dropCaches ?? 'auto';
    if (drop !== 'auto' && drop !== 'always' && drop !== 'never') throw new Error(`host: dropCaches must be auto, always or never, not ${String(drop)}`);
    this.dropMode = drop;
    const { profile, magic } = detectProfile(dir);
    const nat = loadNative();
    this.addon = nat.addon;

    // Probe on a file of our own; always removed.
    const { file: probeFile, fd } = OwnedFile.create(dir, 'probe');
    let blockSize: number;
    let probe: ProbeResult;
    try {
      blockSize = fsBlockSize(dir, fs.fstatSync(fd).blksize);
      probe = probeCapabilities({ addon: nat.addon, addonReason: nat.reason, profile, blockSize, path: probeFile.path, fd });
    } finally {
      fs.closeSync(fd);
      const why = probeFile.remove();
      if (why !== null) this.cleanupNotes.push(why);
    }
    if (opts.blockSize !== undefined && opts.blockSize !== blockSize) {
      throw new Error(`block size ${String(opts.blockSize)} was asked for, but ${dir} is ${profile.type} with block size ${blockSize}; `
        + `the block size is fixed at mkfs time (iomap-harness scratch create ${profile.type === 'generic' ? 'xfs' : profile.type} --bs ${String(opts.blockSize)})`);
    }
    const disabled: Record<string, string> = {
      ...probe.disabled,
      mmap: 'Node.js cannot mmap(2) a file and the native addon has no mapping call: mapped reads/writes are declared off, not emulated (docs/host.md)',
    };
    this.remountHook = typeof opts.remount === 'function' ? opts.remount : null;
    if (this.remountHook === null) disabled.remount = 'host:PATH does not own the mount (scratch:xfs and scratch:ext4 do)';
    const canDrop = drop !== 'never' && isRoot() && writable(PROC_DROP_CACHES);
    if (drop === 'always' && !canDrop) throw new Error(`host: dropCaches "always" needs root and a writable ${PROC_DROP_CACHES}`);
    if (!canDrop) disabled.dropCaches = drop === 'never' ? 'turned off by the dropCaches option' : `needs root and a writable ${PROC_DROP_CACHES}; closeOpen only closes and reopens`;
    this.dioMemAlign = probe.dioMemAlign;
    this.capabilities = {
      blockSize,
      pageSize: hostPageSize(),
      maxFileSize: maxFileSizeFor(profile, blockSize),
      mmap: false,
      fallocModes: probe.fallocModes,
      clone: probe.clone,
      dedupe: probe.dedupe,
      copyRange: probe.copyRange,
      directIO: probe.directIO,
      dioAlign: Math.max(1, probe.dioAlign),
      dioMisalignedReadMaySucceed: probe.directIO,
      dioMisalignedWriteBuffered: probe.dioMisalignedWriteBuffered,
      dioMisalignedWritePartial: probe.directIO && profile.dioPartialRefusal,
      reflinkSkipsUnwritten: profile.reflinkUnwritten === 'unmapped',
      seek: probe.seek,
      fiemap: probe.fiemap,
      remount: this.remountHook !== null,
      ...(probe.atomicWrite !== undefined ? { atomicWrite: probe.atomicWrite } : {}),
      ...(probe.dontcache === true ? { dontcache: true } : {}),
      ...(probe.exchangeRange === true ? { exchangeRange: true } : {}),
    };
    this.info = {
      dir, fsType: profile.type, magic, profile, blockSize,
      native: { loaded: nat.addon !== null, reason: nat.reason },
      disabled, notes: probe.notes, dropCaches: canDrop,
    };
    this.kmsg = this.kernelLog(opts);
    track(this);
  }

  /**
   * The kernel log reader for evidence (xfs with O_DIRECT only); when /dev/kmsg cannot be read a
   * note says once that family known signatures cannot match here (docs/corpus.md).
   */
  private kernelLog(opts: HostOptions): KmsgLog | null {
    if (!this.collectsEvidence || opts.kernelLog === false) return null;
    const { log, reason } = sharedKmsg();
    if (log === null) this.info.notes.push(`kernel log unreadable (${reason}): an O_DIRECT read's EIO has only FIEMAP for evidence (docs/corpus.md "Family signatures")`);
    return log;
  }

  /** One line per capability that is off, with the reason (for the CLI and logs). */
  describeCapabilities(): string[] {
    const c = this.capabilities;
    const lines = [
      `host: ${this.info.dir} is ${this.info.fsType} (statfs magic 0x${this.info.magic.toString(16)}), block size ${c.blockSize}, `
        + `max file size ${c.maxFileSize}, O_DIRECT ${c.directIO ? `alignment ${c.dioAlign}` : 'off'}`,
    ];
    for (const [k, why] of Object.entries(this.info.disabled)) lines.push(`host: ${k} is off: ${why}`);
    for (const n of this.info.notes) lines.push(`host: note: ${n}`);
    return lines;
  }

  /** Write 3 to /proc/sys/vm/drop_caches when enabled (called by closeOpen). */
  dropCaches(): void {
    if (!this.info.dropCaches) return;
    try {
      fs.writeFileSync(PROC_DROP_CACHES, '3\n');
      ownCacheDrops++;
    } catch (e) {
      if (this.dropMode === 'always') throw toFsError(e, `host: write ${PROC_DROP_CACHES}`);
      this.info.dropCaches = false;
      this.info.disabled.dropCaches = `writing ${PROC_DROP_CACHES} failed (${(e as { code?: string }).code ?? String(e)})`;
    }
  }

  /** Create the test file (first call) or truncate our file to empty, and open it. */
  open(): FileTarget {
    if (this.target !== null) {
      this.target.shutdown();
      this.target = null;
    }
    if (this.file === null) {
      const { file, fd } = OwnedFile.create(this.info.dir, 'fsx');
      this.file = file;
      track(this);
      this.target = new HostTarget(this, file, fd);
      return this.target;
    }
    const file = this.file;
    let fd: number;
    try {
      fd = fs.openSync(file.path, fs.constants.O_RDWR | fs.constants.O_NOFOLLOW);
    } catch (e) {
      throw toFsError(e, `host: reopen ${file.path}`);
    }
    if (!file.matchesFd(fd)) {
      fs.closeSync(fd);
      throw new HostSafetyError(`${file.path} is no longer the test file this adapter created; not truncating it`);
    }
    fs.ftruncateSync(fd, 0);
    this.target = new HostTarget(this, file, fd);
    return this.target;
  }

  /** Close the file and remove it (only if it is still ours). Idempotent. */
  close(): void {
    if (this.target !== null) {
      this.target.shutdown();
      this.target = null;
    }
    if (this.file !== null) {
      const why = this.file.remove();
      if (why !== null) this.cleanupNotes.push(why);
      this.file = null;
    }
    live.delete(this);
  }
}

function writable(p: string): boolean {
  try {
    fs.accessSync(p, fs.constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

/** Factory used by the registry for `host:PATH` (opts.path = PATH). */
export function createHostAdapter(opts: HostOptions): HostAdapter {
  return new HostAdapter(opts);
}

/** Errors that mean "refused for safety" (for callers that want to tell them apart). */
export function isHostSafetyError(e: unknown): e is HostSafetyError {
  return e instanceof HostSafetyError;
}
