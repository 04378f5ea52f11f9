/**
 * Throw-away scratch filesystems for the host adapter (the library behind `iomap-harness scratch`).
 *
 * createScratch(type) makes, in a fresh directory CONTAINER (mkdtemp under the temp dir):
 *   CONTAINER/disk.img      sparse image (not for tmpfs)
 *   CONTAINER/mnt/          the mount point: mkfs.TYPE on a loop device over disk.img, or tmpfs
 *   CONTAINER/scratch.json  the state file: what was made, written before the first step that needs
 *                           undoing and updated as steps complete
 * and undoes everything it did if a step fails.
 *
 * destroyScratch(PATH) (PATH = the mount point, CONTAINER or the state file) reads the state file and
 * undoes exactly what it records, checking each item before touching it: it unmounts only if what is
 * mounted there is our device (our tmpfs, source name "iomap-scratch"), detaches the loop device
 * only if its backing file is our image, unlinks only disk.img and scratch.json, and removes the two
 * directories only when empty (rmdir, never a recursive delete). Everything needs root.
 */

import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { CommandResult, hasTool, mustRunCommand, pause, runCommand } from './commands';

export type ScratchType = 'xfs' | 'ext4' | 'btrfs' | 'tmpfs';
export const SCRATCH_TYPES: readonly ScratchType[] = ['xfs', 'ext4', 'btrfs', 'tmpfs'];
export const STATE_FILE = 'scratch.json';
export const IMAGE_FILE = 'disk.img';
export const MOUNT_DIR = 'mnt';
/** Mount source name of our tmpfs mounts (how destroy recognises them in /proc/mounts). */
export const TMPFS_SOURCE = 'iomap-scratch';
const STATE_TOOL = 'iomap-harness scratch';
const STATE_VERSION = 1;

export const DEFAULT_SIZE = 512 * 1024 * 1024;
/** Smallest image mkfs accepts with default options. */
const MIN_SIZE: Record<ScratchType, number> = { xfs: 300 * 1024 * 1024, btrfs: 128 * 1024 * 1024, ext4: 16 * 1024 * 1024, tmpfs: 4096 };

const MKFS: Record<Exclude<ScratchType, 'tmpfs'>, { tool: string; args: (bs: number | null) => string[]; pkg: string }> = {
  xfs: { tool: 'mkfs.xfs', args: (bs) => ['-q', '-f', ...(bs ? ['-b', `size=${bs}`] : [])], pkg: 'xfsprogs' },
  ext4: { tool: 'mkfs.ext4', args: (bs) => ['-q', '-F', ...(bs ? ['-b', String(bs)] : [])], pkg: 'e2fsprogs' },
  btrfs: { tool: 'mkfs.btrfs', args: (bs) => ['-q', '-f', ...(bs ? ['-s', String(bs), '-n', String(Math.max(16384, bs))] : [])], pkg: 'btrfs-progs' },
};

export interface ScratchState {
  tool: string;
  version: number;
  type: ScratchType;
  /** Realpath of the directory holding everything. */
  container: string;
  mount: string;
  image: string | null;
  device: string | null;
  size: number;
  blockSize: number | null;
  /** Extra mount options (`-o`), e.g. XFS `allocsize=65536`; absent: none. */
  mountOptions?: string[];
  /** True once mounted; false while (or if a crash happened while) being made. */
  complete: boolean;
  createdAt: string;
  pid: number;
}

/** Refusals and failures: one line each. */
export class ScratchError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ScratchError';
  }
}

const run = runCommand;

function mustRun(cmd: string, args: string[]): string {
  return mustRunCommand(cmd, args, (m) => new ScratchError(m));
}

export function isRoot(): boolean {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}

/** What to tell a user who cannot make scratch filesystems. */
export const NO_ROOT_HINT = 'without root, use a directory you may write on the filesystem you want to test: '
  + 'IOMAP_HARNESS_SCRATCH=/path/to/dir iomap-harness fsx --adapter host:/path/to/dir';

/** Why a scratch filesystem of `type` cannot be made here, or null. */
export function scratchUnavailable(type: ScratchType): string | null {
  if (process.platform !== 'linux') return `scratch filesystems need Linux (this is ${process.platform})`;
  if (!isRoot()) return `scratch create needs root (losetup, mkfs, mount); ${NO_ROOT_HINT}`;
  if (!hasTool('mount')) return 'mount is not installed (util-linux)';
  if (!kernelHas(type)) return `the kernel does not list ${type} in /proc/filesystems`;
  if (type === 'tmpfs') return null;
  if (!fs.existsSync('/dev/loop-control')) return '/dev/loop-control does not exist (no loop driver)';
  if (!hasTool('losetup')) return 'losetup is not installed (util-linux)';
  const m = MKFS[type];
  if (!hasTool(m.tool)) return `${m.tool} is not installed (apt-get install -y ${m.pkg})`;
  return null;
}

function kernelHas(type: string): boolean {
  try {
    return fs.readFileSync('/proc/filesystems', 'utf8').split('\n').some((l) => l.trim().split(/\s+/).pop() === type);
  } catch {
    return true;
  }
}

/** /proc/mounts entries (octal escapes decoded). */
export function readMounts(): { source: string; target: string; fstype: string }[] {
  const unescape = (s: string) => s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
  let text = '';
  try {
    text = fs.readFileSync('/proc/mounts', 'utf8');
  } catch {
    return [];
  }
  return text.split('\n').filter((l) => l.trim() !== '').map((l) => {
    const [source, target, fstype] = l.split(' ');
    return { source: unescape(source ?? ''), target: unescape(target ?? ''), fstype: fstype ?? '' };
  });
}

/** Backing file of /dev/loopN (sysfs), or null when not attached. */
export function loopBackingFile(device: string): string | null {
  const m = /^\/dev\/loop(\d+)$/.exec(device);
  if (m === null) return null;
  try {
    return fs.readFileSync(`/sys/block/loop${m[1]}/loop/backing_file`, 'utf8').trim();
  } catch {
    return null;
  }
}

function writeState(s: ScratchState): void {
  const p = path.join(s.container, STATE_FILE);
  const tmp = `${p}.tmp`;
  fs.writeFileSync(tmp, JSON.stringify(s, null, 2) + '\n', { mode: 0o644 });
  fs.renameSync(tmp, p);
}

export interface CreateOptions {
  /** Image size (tmpfs: size limit) in bytes. Default 512 MiB. */
  size?: number;
  /** Filesystem block size (mkfs option); tmpfs only accepts the page size. */
  blockSize?: number;
  /** Where to make the container directory. Default os.tmpdir(). */
  parent?: string;
  /** Extra mount options (each `name` or `name=value`; passed as `-o`). */
  mountOptions?: string[];
}

const MOUNT_OPTION_RE = /^[a-z0-9_]+(=[A-Za-z0-9_.]+)?$/;

/** Make, mount and record a scratch filesystem. Throws ScratchError (one line); leaves nothing behind on failure. */
export function createScratch(type: ScratchType, opts: CreateOptions = {}): ScratchState {
  if (!SCRATCH_TYPES.includes(type)) throw new ScratchError(`unknown filesystem type ${JSON.stringify(type)} (xfs, ext4, btrfs, tmpfs)`);
  const size = opts.size ?? DEFAULT_SIZE;
  if (!Number.isSafeInteger(size) || size <= 0) throw new ScratchError(`size must be a positive integer, got ${size}`);
  if (size < MIN_SIZE[type]) throw new ScratchError(`${type} needs a size of at least ${MIN_SIZE[type]} bytes (${Math.ceil(MIN_SIZE[type] / 1048576)}m), got ${size}`);
  const bs = opts.blockSize ?? null;
  if (bs !== null && (!Number.isInteger(bs) || bs < 512 || bs > 65536 || (bs & (bs - 1)) !== 0)) {
    throw new ScratchError(`block size must be a power of two in [512, 65536], got ${bs}`);
  }
  if (type === 'tmpfs' && bs !== null && bs !== 4096) throw new ScratchError('tmpfs has no block size option (its block size is the page size, 4096)');
  const mopts = opts.mountOptions ?? [];
  const badOpt = mopts.find((o) => !MOUNT_OPTION_RE.test(o));
  if (badOpt !== undefined) throw new ScratchError(`mount option ${JSON.stringify(badOpt)}: expected name or name=value (letters, digits, _ and .)`);
  const why = scratchUnavailable(type);
  if (why !== null) throw new ScratchError(why);
  const parent = opts.parent ?? os.tmpdir();
  let container: string;
  try {
    container = fs.realpathSync(fs.mkdtempSync(path.join(parent, `iomap-scratch-${type}-`)));
  } catch (e) {
    throw new ScratchError(`cannot make a directory in ${parent}: ${(e as { code?: string }).code ?? String(e)}`);
  }
  const state: ScratchState = {
    tool: STATE_TOOL, version: STATE_VERSION, type, container,
    mount: path.join(container, MOUNT_DIR),
    image: type === 'tmpfs' ? null : path.join(container, IMAGE_FILE),
    device: null, size, blockSize: bs, ...(mopts.length > 0 ? { mountOptions: [...mopts] } : {}), complete: false, createdAt: new Date().toISOString(), pid: process.pid,
  };
  try {
    fs.mkdirSync(state.mount);
    writeState(state);
    if (type === 'tmpfs') {
      mustRun('mount', ['-t', 'tmpfs', '-o', [`size=${size}`, 'mode=0755', ...mopts].join(','), TMPFS_SOURCE, state.mount]);
    } else {
      const fd = fs.openSync(state.image as string, 'wx', 0o600);
      try { fs.ftruncateSync(fd, size); } finally { fs.closeSync(fd); }
      const dev = mustRun('losetup', ['-f', '--show', state.image as string]);
      if (!/^\/dev\/loop\d+$/.test(dev)) throw new ScratchError(`losetup printed ${JSON.stringify(dev)}, expected /dev/loopN`);
      state.device = dev;
      writeState(state);
      const m = MKFS[type];
      mustRun(m.tool, [...m.args(bs), dev]);
      mustRun('mount', mountArgs(state));
    }
    state.complete = true;
    writeState(state);
    return state;
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    try {
      undo(state);
    } catch (u) {
      throw new ScratchError(`${msg}; and cleaning up failed: ${(u as Error).message}`);
    }
    throw e instanceof ScratchError ? e : new ScratchError(msg);
  }
}

/** `mount` arguments of a block-device scratch filesystem (type, options, device, mount point). */
function mountArgs(s: ScratchState): string[] {
  const o = s.mountOptions ?? [];
  return ['-t', s.type, ...(o.length > 0 ? ['-o', o.join(',')] : []), s.device as string, s.mount];
}

/**
 * A clean unmount and mount of a complete block-device scratch filesystem (everything written
 * reaches the device at the unmount; the mount reads it back). Nothing of ours may be open on it.
 */
export function remountScratch(s: ScratchState): void {
  if (s.type === 'tmpfs' || s.device === null || !s.complete) throw new ScratchError(`${s.mount}: only a complete block-device scratch filesystem can be remounted`);
  const r = umountRetrying(s.mount, 20);
  if (!r.ok) throw new ScratchError(`umount ${s.mount} failed: ${r.err}`);
  mustRun('mount', mountArgs(s));
}

/**
 * `umount mount`, tried up to `tries` times 100 ms apart while it is busy (a file still closing);
 * stops early once it worked or nothing is mounted there. The last result.
 */
function umountRetrying(mount: string, tries: number): CommandResult {
  let r: CommandResult = { ok: false, out: '', err: '' };
  for (let i = 0; i < tries; i++) {
    r = run('umount', [mount]);
    if (r.ok || /not mounted/i.test(r.err)) break;
    pause(100);
  }
  return r;
}

/**
 * The mount point of the harness-made scratch filesystem that holds `p`, or null. A filesystem
 * `iomap-harness scratch create` made (its state file says so, and it is complete and mounted) is a
 * designated scratch area by that fact: host:PATH inside it needs no IOMAP_HARNESS_SCRATCH.
 */
export function scratchMountAround(p: string): string | null {
  let real: string;
  try {
    real = fs.realpathSync(path.resolve(p));
  } catch {
    return null;
  }
  for (let d = real; path.dirname(d) !== d; d = path.dirname(d)) {
    if (path.basename(d) !== MOUNT_DIR || !fs.existsSync(path.join(path.dirname(d), STATE_FILE))) continue;
    try {
      const s = readScratchState(d);
      if (s.complete && s.mount === d && readMounts().some((m) => m.target === d)) return d;
    } catch {
      return null;
    }
  }
  return null;
}

/** Every scratch filesystem of `type` the harness made under `parent` (their mount paths). */
export function scratchesOfType(type: ScratchType, parent = os.tmpdir()): string[] {
  let names: string[];
  try {
    names = fs.readdirSync(parent);
  } catch {
    return [];
  }
  const out: string[] = [];
  for (const n of names.filter((x) => x.startsWith(`iomap-scratch-${type}-`)).sort()) {
    try {
      const s = readScratchState(path.join(parent, n));
      if (s.type === type) out.push(s.mount);
    } catch {
      // not ours, or damaged: destroy by path says why
    }
  }
  return out;
}

/** Find and validate the state file for PATH (mount point, container or state file). */
export function readScratchState(p: string): ScratchState {
  let real: string;
  try {
    real = fs.realpathSync(path.resolve(p));
  } catch (e) {
    throw new ScratchError(`${p}: no such file or directory (${(e as { code?: string }).code ?? String(e)})`);
  }
  const candidates = [
    path.basename(real) === STATE_FILE ? path.dirname(real) : null,
    real,
    path.basename(real) === MOUNT_DIR ? path.dirname(real) : null,
  ].filter((c): c is string => c !== null);
  const container = candidates.find((c) => fs.existsSync(path.join(c, STATE_FILE)));
  if (container === undefined) {
    throw new ScratchError(`${p} was not made by iomap-harness scratch create (no ${STATE_FILE} next to it); not touching it`);
  }
  const file = path.join(container, STATE_FILE);
  let s: ScratchState;
  try {
    s = JSON.parse(fs.readFileSync(file, 'utf8')) as ScratchState;
  } catch (e) {
    throw new ScratchError(`${file}: not a readable scratch state file (${e instanceof Error ? e.message.split('\n')[0] : String(e)})`);
  }
  const bad = (why: string): never => {
    throw new ScratchError(`${file}: ${why}; not touching anything`);
  };
  if (typeof s !== 'object' || s === null || s.tool !== STATE_TOOL) bad('not written by iomap-harness scratch');
  if (s.version !== STATE_VERSION) bad(`state version ${String(s.version)}, expected ${STATE_VERSION}`);
  if (!SCRATCH_TYPES.includes(s.type)) bad(`unknown type ${JSON.stringify(s.type)}`);
  if (s.container !== container) bad(`it records container ${JSON.stringify(s.container)} but lies in ${container}`);
  if (s.mount !== path.join(container, MOUNT_DIR)) bad(`unexpected mount path ${JSON.stringify(s.mount)}`);
  const wantImage = s.type === 'tmpfs' ? null : path.join(container, IMAGE_FILE);
  if (s.image !== wantImage) bad(`unexpected image path ${JSON.stringify(s.image)}`);
  if (s.device !== null && (typeof s.device !== 'string' || !/^\/dev\/loop\d+$/.test(s.device))) bad(`unexpected device ${JSON.stringify(s.device)}`);
  if (s.type === 'tmpfs' && s.device !== null) bad('a tmpfs scratch has no device');
  return s;
}

export interface DestroyResult {
  state: ScratchState;
  /** What was undone, in order ("umount X", "losetup -d /dev/loopN", "rm X", "rmdir X"). */
  done: string[];
  /** Items left alone, with the reason. */
  leftAlone: string[];
}

/** Undo what the state file at PATH records. Throws ScratchError for a refusal or a failed step. */
export function destroyScratch(p: string, o: { lazy?: boolean } = {}): DestroyResult {
  if (!isRoot()) throw new ScratchError(`scratch destroy needs root (umount, losetup -d); ${NO_ROOT_HINT}`);
  const state = readScratchState(p);
  return undo(state, o.lazy === true);
}

/**
 * `lazy` (for a process that is being ended, whose other threads may still hold files open there):
 * when a plain umount keeps failing, detach the mount with `umount -l` (it goes once the last file
 * on it is closed) and let losetup -d mark the busy loop device for autoclear.
 */
function undo(s: ScratchState, lazy = false): DestroyResult {
  const done: string[] = [];
  const leftAlone: string[] = [];
  // 1. unmount, if what is mounted there is ours.
  const mounted = readMounts().filter((m) => m.target === s.mount);
  for (const m of mounted.reverse()) {
    const ours = s.type === 'tmpfs' ? m.fstype === 'tmpfs' && m.source === TMPFS_SOURCE : s.device !== null && m.source === s.device;
    if (!ours) throw new ScratchError(`${s.mount} has ${m.source} (${m.fstype}) mounted on it, which scratch create did not mount; not unmounting it`);
    let r = umountRetrying(s.mount, lazy ? 5 : 20);
    if (!r.ok && lazy && !/not mounted/i.test(r.err)) r = run('umount', ['-l', s.mount]);
    if (!r.ok && !/not mounted/i.test(r.err)) throw new ScratchError(`umount ${s.mount} failed: ${r.err} (is something using it?)`);
    done.push(`umount ${s.mount}`);
  }
  // 2. detach the loop device, if it is still backed by our image.
  if (s.device !== null && s.image !== null) {
    const backing = loopBackingFile(s.device);
    if (backing === null) {
      leftAlone.push(`${s.device}: no longer attached`);
    } else if (backing.replace(/ \(deleted\)$/, '') !== s.image) {
      leftAlone.push(`${s.device}: now backed by ${backing}, not ${s.image}; not detaching it`);
    } else {
      let r: CommandResult = { ok: false, out: '', err: '' };
      for (let i = 0; i < (lazy ? 1 : 20); i++) {
        r = run('losetup', ['-d', s.device]);
        if (r.ok || loopBackingFile(s.device) !== s.image) break;
        pause(100);
      }
      if (!r.ok && loopBackingFile(s.device) === s.image && !lazy) throw new ScratchError(`losetup -d ${s.device} failed: ${r.err}`);
      done.push(`losetup -d ${s.device}`);
    }
  }
  // 3. our two files, then the two directories if empty.
  const rm = (f: string) => {
    try {
      const st = fs.lstatSync(f);
      if (!st.isFile()) {
        leftAlone.push(`${f}: not a regular file`);
        return;
      }
      fs.unlinkSync(f);
      done.push(`rm ${f}`);
    } catch (e) {
      if ((e as { code?: string }).code !== 'ENOENT') leftAlone.push(`${f}: ${(e as { code?: string }).code ?? String(e)}`);
    }
  };
  const rmdir = (d: string) => {
    try {
      fs.rmdirSync(d);
      done.push(`rmdir ${d}`);
    } catch (e) {
      const c = (e as { code?: string }).code;
      if (c !== 'ENOENT') leftAlone.push(`${d}: ${c === 'ENOTEMPTY' ? 'not empty' : c ?? String(e)}`);
    }
  };
  if (s.image !== null) rm(s.image);
  rm(path.join(s.container, STATE_FILE));
  rm(path.join(s.container, `${STATE_FILE}.tmp`));
  rmdir(s.mount);
  rmdir(s.container);
  return { state: s, done, leftAlone };
}
