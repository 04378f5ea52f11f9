/**
 * `scratch:TYPE[:PARENT]` — a host filesystem the harness makes itself, so that the setup sweep can
 * vary what only mkfs and mount can: the block size (`mkfs -b`) and, on XFS, the post-EOF
 * preallocation (`allocsize=`). Each adapter runs the host adapter (index.ts) on a scratch
 * filesystem (scratch.ts: a sparse image on a loop device, or a tmpfs) made with the setup it was
 * created with, in a fresh directory under PARENT (default: the temp dir, as `scratch create`).
 *
 * What each type can vary is found out, not assumed: the first adapter of a type makes (and keeps
 * for reuse) one scratch filesystem per block size of the sweep's matrix (512 / 1k / 4k / 16k), and
 * the sizes mkfs and the kernel accept are the ones it declares (Linux 6.18, x86-64: xfs 1k/4k/16k,
 * ext4 1k/4k, btrfs 4k only, tmpfs none: its block is the page). Folio sizes, inline data and old
 * device contents are not mkfs or mount settings of these filesystems and are not swept.
 *
 * Lifetime: a filesystem whose adapter closes goes to a small pool of idle ones (a shrink or a
 * `check` run makes many adapters of the same few setups; making each anew costs a mkfs and a
 * mount); the oldest beyond POOL_MAX are destroyed at once, and the rest at process exit or by
 * releaseScratchPool(). A process that ends without running its exit hook (a signal, SIGKILL) is
 * cleaned up after by the reaper (scratch-reaper.ts), started once per PARENT. Cleanup only ever
 * undoes what a state file of this process records (destroyScratch's checks).
 */

import { spawn } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import type { Capabilities, FileAdapter, FileTarget, SetupSupport, TargetSetup } from '../types';
import { createHostAdapter, type HostAdapter, type HostInfo, type HostOptions } from './index';
import {
  createScratch, destroyScratch, readMounts, remountScratch, SCRATCH_TYPES, ScratchError, scratchUnavailable, type ScratchState, type ScratchType,
} from './scratch';

export const describe = 'a scratch filesystem the harness makes per setup (scratch:xfs|ext4|btrfs|tmpfs[:PARENT], root): '
  + 'the host adapter on a fresh loop-device filesystem, block size and XFS allocsize= swept';

/** The block sizes of the sweep's matrix (properties/fsx/sweep.ts) a type is tried with. */
const MATRIX_BLOCK_SIZES = [512, 1024, 4096, 16384];
/** Image sizes: small (the fsx file stays under a few MiB) but above each mkfs's minimum. */
const IMAGE_SIZE: Record<ScratchType, number> = { xfs: 320 << 20, ext4: 128 << 20, btrfs: 256 << 20, tmpfs: 64 << 20 };
/** The block size when none is asked for (the sweep's and the reference's default). */
const DEFAULT_BLOCK_SIZE = 4096;
/** Types whose scratch filesystems offer remount. */
const REMOUNTS: readonly ScratchType[] = ['xfs', 'ext4'];
/** Idle scratch filesystems kept for reuse. */
const POOL_MAX = 4;

export interface ScratchAdapterOptions extends HostOptions {
  /** Bytes of XFS speculative post-EOF preallocation (mount option allocsize=); xfs only. */
  eofPrealloc?: number;
}

/** A scratch filesystem this process made, and the setup it was made with. */
interface Made {
  key: string;
  state: ScratchState;
}

const idle: Made[] = [];
const busy = new Set<Made>();
/** Parents this thread watches with a reaper. */
const reaped = new Set<string>();
const supportCache = new Map<string, number[]>();

function keyOf(type: ScratchType, parent: string, bs: number | null, alloc: number | null): string {
  return `${type}|${parent}|${String(bs)}|${String(alloc)}`;
}

/** A mounted scratch filesystem with this setup: an idle one, or a new one. */
function acquire(type: ScratchType, parent: string, bs: number | null, alloc: number | null): Made {
  const key = keyOf(type, parent, bs, alloc);
  const i = idle.findIndex((m) => m.key === key);
  let made: Made | undefined = i >= 0 ? idle.splice(i, 1)[0] : undefined;
  // An idle one that is no longer mounted (a remount whose mount failed) is not reused: the host
  // adapter would test the directory under it, on the parent's filesystem, in its name.
  if (made !== undefined && !stillMounted(made.state)) {
    destroyOne(made, false);
    made = undefined;
  }
  if (made === undefined) {
    hookCleanup();
    startReaper(parent);
    const mountOptions = alloc !== null ? [`allocsize=${alloc}`] : [];
    made = { key, state: createScratch(type, { size: IMAGE_SIZE[type], blockSize: bs ?? undefined, parent, mountOptions }) };
  }
  busy.add(made);
  return made;
}

/** Whether `s` is still mounted where it was made, from its own device (or as our tmpfs). */
function stillMounted(s: ScratchState): boolean {
  return readMounts().some((m) => m.target === s.mount && (s.type === 'tmpfs' ? m.fstype === 'tmpfs' : m.source === s.device));
}

function release(m: Made): void {
  if (!busy.delete(m)) return;
  idle.push(m);
  while (idle.length > POOL_MAX) destroyOne(idle.shift()!, false);
}

function destroyOne(m: Made, lazy: boolean): void {
  try {
    destroyScratch(m.state.container, { lazy });
  } catch (e) {
    process.stderr.write(`iomap-harness: cleaning up ${m.state.container} failed: ${e instanceof Error ? e.message : String(e)}\n`);
  }
}

/** Destroy every idle scratch filesystem (tests; the exit hook does it otherwise). */
export function releaseScratchPool(): void {
  while (idle.length > 0) destroyOne(idle.shift()!, false);
}

/** The scratch filesystems this thread made that still exist (idle or in use): their mount paths. */
export function liveScratches(): string[] {
  return [...idle, ...busy].map((m) => m.state.mount);
}

/** At a normal end of the process: this thread's filesystems (its other threads' files may still be open). */
function cleanupAll(): void {
  for (const m of [...idle, ...busy]) destroyOne(m, true);
  idle.length = 0;
  busy.clear();
}

let hooked = false;
function hookCleanup(): void {
  if (hooked) return;
  hooked = true;
  process.once('exit', cleanupAll);
}

/** Start the reaper for `parent` (once per thread and parent): it cleans up if we die without exiting. */
function startReaper(parent: string): void {
  if (reaped.has(parent)) return;
  reaped.add(parent);
  const child = spawn(process.execPath, [path.join(__dirname, 'scratch-reaper.js'), String(process.pid), parent], { detached: true, stdio: 'ignore' });
  child.unref();
}

/** Parse TYPE[:PARENT]; PARENT must be an existing directory (the containers go inside it). */
export function parseScratchSpec(rest: string): { type: ScratchType; parent: string } {
  const i = rest.indexOf(':');
  const type = (i < 0 ? rest : rest.slice(0, i)) as ScratchType;
  if (!SCRATCH_TYPES.includes(type)) throw new ScratchError(`scratch:${rest}: unknown filesystem type ${JSON.stringify(type)} (xfs, ext4, btrfs, tmpfs)`);
  const given = i < 0 ? os.tmpdir() : rest.slice(i + 1);
  let parent: string;
  try {
    parent = fs.realpathSync(path.resolve(given));
  } catch {
    throw new ScratchError(`scratch:${rest}: ${given} does not exist`);
  }
  if (!fs.statSync(parent).isDirectory()) throw new ScratchError(`scratch:${rest}: ${given} is not a directory`);
  if (parent === '/') throw new ScratchError(`scratch:${rest}: / is never a scratch area`);
  return { type, parent };
}

/**
 * The matrix block sizes `type` can be made with here (mkfs accepts it and the kernel mounts it).
 * The filesystems made to find out stay in the pool for the runs that follow.
 */
export function supportedBlockSizes(type: ScratchType, parent: string): number[] {
  if (type === 'tmpfs') return [];
  const cached = supportCache.get(`${type}|${parent}`);
  if (cached !== undefined) return cached;
  const ok: number[] = [];
  for (const bs of MATRIX_BLOCK_SIZES) {
    let m: Made;
    try {
      m = acquire(type, parent, bs, null);
    } catch {
      continue; // mkfs or mount refused it: not a setup of this filesystem here
    }
    ok.push(bs);
    release(m);
  }
  supportCache.set(`${type}|${parent}`, ok);
  return ok;
}

export class ScratchHostAdapter implements FileAdapter {
  readonly name: string;
  readonly capabilities: Capabilities;
  readonly setup?: TargetSetup;
  readonly setups: SetupSupport;
  readonly type: ScratchType;
  private readonly inner: HostAdapter;
  private made: Made | null;

  constructor(spec: string, opts: ScratchAdapterOptions) {
    const { type, parent } = parseScratchSpec(spec);
    const why = scratchUnavailable(type);
    if (why !== null) throw new ScratchError(why);
    this.type = type;
    this.name = `scratch:${type}`;
    const alloc = opts.eofPrealloc ?? null;
    if (alloc !== null && type !== 'xfs') throw new ScratchError(`${this.name}: post-EOF preallocation (allocsize=) is an xfs mount option`);
    if (alloc !== null && (!Number.isInteger(alloc) || alloc < 4096 || (alloc & (alloc - 1)) !== 0)) {
      throw new ScratchError(`${this.name}: allocsize must be a power of two of at least 4096, got ${String(alloc)}`);
    }
    // The page cache picks these filesystems' folio sizes; asking for one is refused, not ignored.
    if (opts.folioSize !== undefined) throw new ScratchError(`${this.name}: the largest folio size is the kernel's, not a mkfs or mount setting (asked for ${String(opts.folioSize)})`);
    if (type === 'tmpfs' && opts.blockSize !== undefined && opts.blockSize !== 4096) {
      throw new ScratchError(`${this.name}: tmpfs has no block size option (its block size is the page size)`);
    }
    const sizes = supportedBlockSizes(type, parent);
    this.setups = { ...(sizes.length > 1 ? { blockSizes: sizes } : {}), ...(type === 'xfs' ? { eofPrealloc: true } : {}) };
    // Unpinned: 4 KiB, not mkfs's own choice (mke2fs picks 1 KiB below 512 MiB), as the reference.
    const bs = type === 'tmpfs' ? null : opts.blockSize ?? DEFAULT_BLOCK_SIZE;
    this.made = acquire(type, parent, bs, alloc);
    try {
      const { eofPrealloc: _e, blockSize: _b, scratch: _s, path: _p, ...rest } = opts;
      const state = this.made.state;
      // xfs and ext4 remount (a clean unmount and mount): st_dev stays the loop device, so the
      // reopened file is checked as ours. tmpfs forgets everything at umount; btrfs gives each
      // mount a new anonymous st_dev.
      const remount = REMOUNTS.includes(type) ? () => remountScratch(state) : undefined;
      this.inner = createHostAdapter({ ...rest, path: state.mount, scratch: state.mount, remount });
    } catch (e) {
      release(this.made);
      throw e;
    }
    this.capabilities = this.inner.capabilities;
    if (bs !== null && this.capabilities.blockSize !== bs) {
      this.close();
      throw new ScratchError(`${this.name}: mkfs was asked for block size ${bs} but the filesystem reports ${this.capabilities.blockSize}`);
    }
    if (alloc !== null) this.setup = { eofPrealloc: alloc };
  }

  /** The host adapter's findings (filesystem, probe answers); the diff adapter reads fsType and dir. */
  get info(): HostInfo {
    return this.inner.info;
  }

  /** Where the filesystem is (mount path, loop device, mkfs block size). */
  get scratch(): ScratchState | null {
    return this.made?.state ?? null;
  }

  describeCapabilities(): string[] {
    const s = this.made?.state;
    const where = s === undefined ? [] : [`${this.name}: ${s.mount} on ${s.device ?? 'tmpfs'}${s.mountOptions !== undefined ? ` (-o ${s.mountOptions.join(',')})` : ''}`];
    return [...where, ...this.inner.describeCapabilities()];
  }

  open(): FileTarget {
    if (this.made === null) throw new ScratchError(`${this.name}: the adapter is closed`);
    return this.inner.open();
  }

  /** Remove the test file, then hand the filesystem back to the pool. Idempotent. */
  close(): void {
    if (this.made === null) return;
    try {
      this.inner.close();
    } finally {
      release(this.made);
      this.made = null;
    }
  }
}

export function createScratchHostAdapter(spec: string, opts: ScratchAdapterOptions): ScratchHostAdapter {
  return new ScratchHostAdapter(spec, opts);
}
