/**
 * Test helpers for real block devices and kernel filesystems.
 *
 *   withLoopDevice(size, fn, {sectorSize?, directIo?})  image in a fresh temp dir + losetup
 *   withScratchFs(type, fn, {size?, mkfsArgs?})          tmpfs, or mkfs.TYPE [mkfsArgs] on a loop device, mounted
 *
 * Both always undo everything they did (unmount, losetup -d, delete the temp dir) in a finally,
 * also when `fn` throws. When the machine cannot do it (not root, no losetup, no mkfs.TYPE, the
 * kernel lacks the filesystem) they return `{skipped: reason}` without running `fn`, so a test can
 * `console.log(reason); this.skip()`. The `*SkipReason()` functions answer the same question up
 * front, and `createLoopDevice`/`mountScratchFs` give hooks (before/after) a handle with release().
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { hasTool, mustRunCommand, pause, runCommand } from '../../adapters/host/commands';

export type ScratchFsType = 'xfs' | 'ext4' | 'btrfs' | 'tmpfs';

export type Outcome<T> = { skipped: string; value?: undefined } | { skipped: null; value: T };

export interface LoopOptions {
  /** Logical sector size of the loop device (losetup --sector-size). */
  sectorSize?: number;
  /** losetup --direct-io=on (the loop driver uses O_DIRECT on its backing file). */
  directIo?: boolean;
}

export interface LoopDevice {
  /** /dev/loopN */
  readonly path: string;
  /** The backing image file. */
  readonly image: string;
  /** Detach and delete the image and its temp dir. Idempotent. Throws if something stayed behind. */
  release(): void;
}

export interface ScratchFs {
  readonly type: ScratchFsType;
  /** The mount point (an empty, writable directory on the new filesystem). */
  readonly dir: string;
  /** The loop device under it (null for tmpfs). */
  readonly device: string | null;
  /** Unmount, detach, delete. Idempotent. Throws if something stayed behind. */
  release(): void;
}

const run = runCommand;
const mustRun = (cmd: string, args: string[]): string => mustRunCommand(cmd, args);

/** Why loop devices cannot be used here, or null if they can. */
export function loopSkipReason(): string | null {
  if (process.platform !== 'linux') return `loop devices need Linux (this is ${process.platform})`;
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return 'loop devices need root (not running as root)';
  if (!fs.existsSync('/dev/loop-control')) return '/dev/loop-control does not exist (no loop driver)';
  if (!hasTool('losetup')) return 'losetup is not installed (util-linux / mount package)';
  return null;
}

const MKFS: Record<Exclude<ScratchFsType, 'tmpfs'>, { tool: string; args: string[]; pkg: string }> = {
  ext4: { tool: 'mkfs.ext4', args: ['-q', '-F'], pkg: 'e2fsprogs' },
  xfs: { tool: 'mkfs.xfs', args: ['-q', '-f'], pkg: 'xfsprogs' },
  btrfs: { tool: 'mkfs.btrfs', args: ['-q', '-f'], pkg: 'btrfs-progs' },
};

function kernelHasFs(type: string): boolean {
  try {
    return fs.readFileSync('/proc/filesystems', 'utf8').split('\n').some((l) => l.trim().split(/\s+/).pop() === type);
  } catch {
    return true; // cannot tell: let mount decide
  }
}

/** Why a scratch filesystem of `type` cannot be made here, or null if it can. */
export function scratchFsSkipReason(type: ScratchFsType): string | null {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return `mounting ${type} needs root (not running as root)`;
  if (!hasTool('mount')) return 'mount is not installed';
  if (!kernelHasFs(type)) return `the kernel does not list ${type} in /proc/filesystems`;
  if (type === 'tmpfs') return null;
  const loop = loopSkipReason();
  if (loop) return loop;
  const m = MKFS[type];
  if (!m) return `unknown filesystem type ${String(type)}`;
  if (!hasTool(m.tool)) return `${m.tool} is not installed (apt-get install -y ${m.pkg})`;
  return null;
}

function makeTempDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

function removeDir(dir: string, problems: string[]): void {
  try {
    fs.rmSync(dir, { recursive: true, force: true });
  } catch (e) {
    problems.push(`rm -rf ${dir}: ${(e as Error).message}`);
  }
}

function detach(dev: string, problems: string[]): void {
  for (let i = 0; i < 10; i++) {
    const r = run('losetup', ['-d', dev]);
    if (r.ok) return;
    // ENXIO: already gone (e.g. autoclear) - fine.
    if (/No such device|not a block device|No such device or address/i.test(r.err)) return;
    if (i === 9) problems.push(`losetup -d ${dev}: ${r.err}`);
    pause(100);
  }
}

function unmount(dir: string, problems: string[]): void {
  for (let i = 0; i < 10; i++) {
    const r = run('umount', [dir]);
    if (r.ok || /not mounted/i.test(r.err)) return;
    pause(100);
  }
  const lazy = run('umount', ['-l', dir]);
  if (!lazy.ok) problems.push(`umount ${dir}: ${lazy.err}`);
}

function finish(problems: string[], what: string): void {
  if (problems.length) throw new Error(`cleanup of ${what} left something behind: ${problems.join('; ')}`);
}

function attach(image: string, opts: LoopOptions): string {
  const args = ['-f', '--show'];
  if (opts.sectorSize !== undefined) args.push('--sector-size', String(opts.sectorSize));
  if (opts.directIo) args.push('--direct-io=on');
  args.push(image);
  const dev = mustRun('losetup', args);
  if (!/^\/dev\/loop\d+$/.test(dev)) throw new Error(`losetup printed ${JSON.stringify(dev)}, expected /dev/loopN`);
  return dev;
}

/**
 * A sparse image of `sizeBytes` in a fresh temp dir, attached to a free loop device. Throws if
 * loop devices are unavailable (check loopSkipReason() first) or losetup fails; nothing is left
 * behind on failure.
 */
export function createLoopDevice(sizeBytes: number, opts: LoopOptions = {}): LoopDevice {
  if (!Number.isSafeInteger(sizeBytes) || sizeBytes <= 0) throw new Error(`loop image size must be a positive integer, got ${sizeBytes}`);
  const skip = loopSkipReason();
  if (skip) throw new Error(skip);
  const dir = makeTempDir('iomap-loop-');
  const image = path.join(dir, 'disk.img');
  let dev: string;
  try {
    const fd = fs.openSync(image, 'w');
    try { fs.ftruncateSync(fd, sizeBytes); } finally { fs.closeSync(fd); }
    dev = attach(image, opts);
  } catch (e) {
    removeDir(dir, []);
    throw e;
  }
  let released = false;
  return {
    path: dev,
    image,
    release(): void {
      if (released) return;
      released = true;
      const problems: string[] = [];
      detach(dev, problems);
      removeDir(dir, problems);
      finish(problems, `loop device ${dev}`);
    },
  };
}

/** Run fn(/dev/loopN) on a fresh loop device; always detached and deleted afterwards. */
export async function withLoopDevice<T>(sizeBytes: number, fn: (devPath: string) => T | Promise<T>,
  opts: LoopOptions = {}): Promise<Outcome<T>> {
  const skip = loopSkipReason();
  if (skip) return { skipped: skip };
  const loop = createLoopDevice(sizeBytes, opts);
  let failed = false;
  try {
    return { skipped: null, value: await fn(loop.path) };
  } catch (e) {
    failed = true;
    throw e;
  } finally {
    try {
      loop.release();
    } catch (e) {
      if (!failed) throw e; // don't hide the test's own failure behind a cleanup failure
      console.error(`withLoopDevice: ${(e as Error).message}`);
    }
  }
}

/**
 * A freshly made, mounted filesystem of `type` in a temp dir (default 512 MiB, sparse; xfs needs at
 * least 300 MiB). Throws if it cannot (check scratchFsSkipReason() first); nothing is left behind.
 */
export function mountScratchFs(type: ScratchFsType, opts: { size?: number; mkfsArgs?: string[] } = {}): ScratchFs {
  const skip = scratchFsSkipReason(type);
  if (skip) throw new Error(skip);
  const size = opts.size ?? 512 * 1024 * 1024;
  const dir = makeTempDir(`iomap-${type}-`);
  const mnt = path.join(dir, 'mnt');
  fs.mkdirSync(mnt);
  let loop: LoopDevice | null = null;
  let mounted = false;
  const cleanup = (): void => {
    const problems: string[] = [];
    if (mounted) unmount(mnt, problems);
    mounted = false;
    if (loop) {
      try { loop.release(); } catch (e) { problems.push((e as Error).message); }
      loop = null;
    }
    removeDir(dir, problems);
    finish(problems, `${type} scratch filesystem at ${mnt}`);
  };
  try {
    if (type === 'tmpfs') {
      mustRun('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', mnt]);
    } else {
      loop = createLoopDevice(size);
      const m = MKFS[type];
      mustRun(m.tool, [...m.args, ...(opts.mkfsArgs ?? []), loop.path]);
      mustRun('mount', ['-t', type, loop.path, mnt]);
    }
    mounted = true;
  } catch (e) {
    try { cleanup(); } catch (c) { console.error(`mountScratchFs: ${(c as Error).message}`); }
    throw e;
  }
  const device = loop ? (loop as LoopDevice).path : null;
  let released = false;
  return {
    type,
    dir: mnt,
    device,
    release(): void {
      if (released) return;
      released = true;
      cleanup();
    },
  };
}

/** Run fn(mountDir) on a fresh scratch filesystem; always unmounted, detached and deleted. */
export async function withScratchFs<T>(type: ScratchFsType, fn: (dir: string, scratch: ScratchFs) => T | Promise<T>,
  opts: { size?: number; mkfsArgs?: string[] } = {}): Promise<Outcome<T>> {
  const skip = scratchFsSkipReason(type);
  if (skip) return { skipped: skip };
  const scratch = mountScratchFs(type, opts);
  let failed = false;
  try {
    return { skipped: null, value: await fn(scratch.dir, scratch) };
  } catch (e) {
    failed = true;
    throw e;
  } finally {
    try {
      scratch.release();
    } catch (e) {
      if (!failed) throw e;
      console.error(`withScratchFs: ${(e as Error).message}`);
    }
  }
}
