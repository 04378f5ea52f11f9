/**
 * The volume capability: a filesystem the harness formats and mounts on a block device the
 * harness owns (a CrashDevice, a FaultDevice, a plain MemoryDevice), with any number of files and
 * open file descriptions. The crash and fault harnesses (the oracle layer) drive their workloads
 * through it, so they run on every target that offers it: the reference (refs under the reference
 * generic layer), the bug-zoo mutants, a user's ops table plugged in as a module, and an exec:
 * fs-level server (the harness serves it the device). A target without it (file-level servers,
 * host filesystems, naive) skips those harnesses with a reason.
 *
 *   const v = adapter.volume;               // VolumeProvider | undefined
 *   v.mkfs(dev, { blockSize: 4096 });
 *   const vol = v.mount(dev, { folioSize: 65536 });
 *   const f = vol.open('f0', { create: true });
 *   f.pwrite(0, data); f.fsync(); vol.sync();
 */
import type { CrashOutcome, FiemapExtent, FileTarget } from './types';
import type { BlockDevice } from '../reference/device/types';
import type { FsInstance } from '../reference/iomap/fs-ops';
import { FileHandle, IomapFs } from '../reference/file';
import { Refs, RefsBugs } from '../reference/fs/refs';
import { FsAdapter, refsFsAdapter } from './fs-adapter';
import { mountWithMonitor } from './reference';
import type { IomapApi } from '../reference/iomap/types';

export type { RefsBugs };

/** One open file description on a volume: the file-level ops plus what whole-volume harnesses need. */
export interface VolumeFile extends FileTarget {
  readonly name: string;
  close(): void;
  /** Start background writeback of this file (WB_SYNC_NONE); returns the folios submitted. */
  writeback(): number;
  /** Folios dirty or under writeback, described ("pos+size dirty"); empty when the file is clean. */
  dirtyFolios(): string[];
  /** O_DIRECT write; with `dsync` an O_DSYNC one. */
  directWrite(off: number, data: Uint8Array, opts?: { dsync?: boolean }): number;
  /** statx atomic write unit range (bytes) of this file; absent or max 0: no RWF_ATOMIC writes. */
  atomicWriteUnits?(): { min: number; max: number };
  /** FICLONERANGE / copy_file_range from another file of the same volume. */
  cloneFrom(src: VolumeFile, srcOff: number, len: number, dstOff: number): void;
  copyFrom(src: VolumeFile, srcOff: number, len: number, dstOff: number): number;
}

export interface Volume {
  readonly pageSize: number;
  /** Open (with `create`: create if missing) a file by name: a new open file description. */
  open(name: string, opts?: { create?: boolean }): VolumeFile;
  exists(name: string): boolean;
  /** Every name in the volume, when the filesystem can list them (else undefined). */
  names(): string[] | undefined;
  unlink(name: string): void;
  /** sync(2): write back every file and commit. */
  sync(): void;
  /** echo 3 > drop_caches: clean page cache dropped. */
  dropCaches(): void;
  /** Submitted I/O not yet completed; complete the i-th (0 = oldest); complete all. */
  pendingIo(): number;
  complete(i: number): void;
  drain(): void;
  /** The generic layer's own invariants (per-folio state, reservations); empty when all hold. */
  invariants(): string[];
  /** The filesystem's consistency check (fsck); empty when clean. */
  consistency(): string[];
  /**
   * The name of the file whose data (or COW staging) occupies device block `pblk`, from the
   * filesystem's introspection; undefined when no file does or the filesystem cannot tell.
   */
  ownerOfBlock(pblk: number): string | undefined;
  unmount(): void;
}

export interface VolumeProvider {
  /** Target name, for reports ("reference", "mutant:NAME", "module:..."). */
  readonly name: string;
  /** Format `dev`. `metaBytes` sizes refs' metadata slots (other filesystems ignore it). */
  mkfs(dev: BlockDevice, opts: { blockSize: number; metaBytes?: number }): void;
  mount(dev: BlockDevice, opts: { folioSize: number }): Volume;
  /**
   * Run `fn` with whatever process-wide state the target needs switched on (the bug zoo's core
   * switches): every use of the provider's volumes happens inside it.
   */
  session<T>(fn: () => T): T;
}

class HandleFile implements VolumeFile {
  constructor(readonly fh: FileHandle, readonly name: string) {}
  crash?: (selector: number) => CrashOutcome;
  size(): number { return this.fh.size; }
  pread(off: number, len: number): Uint8Array { return this.fh.pread(off, len); }
  pwrite(off: number, data: Uint8Array): number { return this.fh.pwrite(off, data); }
  truncate(size: number): void { this.fh.truncate(size); }
  fsync(): void { this.fh.fsync(); }
  fdatasync(): void { this.fh.fdatasync(); }
  mapread(off: number, len: number): Uint8Array { return this.fh.mmapRead(off, len); }
  mapwrite(off: number, data: Uint8Array, opts?: { msync?: boolean }): void { this.fh.mmapWrite(off, data, { msync: opts?.msync ?? true }); }
  fallocate(mode: number, off: number, len: number): void { this.fh.fallocate(mode, off, len); }
  fiemap(off: number, len: number, flags = 0): FiemapExtent[] { return this.fh.fiemap(off, len, flags); }
  directRead(off: number, len: number): Uint8Array { return this.fh.directRead(off, len); }
  directWrite(off: number, data: Uint8Array, opts: { dsync?: boolean } = {}): number { return this.fh.directWrite(off, data, opts); }
  atomicWrite(off: number, data: Uint8Array): number { return this.fh.atomicWrite(off, data); }
  atomicWriteUnits(): { min: number; max: number } { return this.fh.atomicWriteUnits(); }
  cloneFrom(src: VolumeFile, srcOff: number, len: number, dstOff: number): void { this.fh.cloneFrom(handleOf(src), srcOff, len, dstOff); }
  copyFrom(src: VolumeFile, srcOff: number, len: number, dstOff: number): number { return this.fh.copyFrom(handleOf(src), srcOff, len, dstOff); }
  exchangeRange(off1: number, len: number, off2: number): void { this.fh.exchangeRange(off1, len, off2); }
  closeOpen(): void { throw new Error('closeOpen: open another description with Volume.open instead'); }
  close(): void { this.fh.close(); }
  writeback(): number { return this.fh.writebackNow(); }
  dirtyFolios(): string[] {
    const m = this.fh.inode.mapping;
    if (!m.hasDirtyOrWriteback()) return [];
    return m.allFolios().filter((f) => f.dirty || f.writeback).map((f) => `${f.pos}+${f.size}${f.dirty ? ' dirty' : ''}${f.writeback ? ' writeback' : ''}`);
  }
}

function handleOf(f: VolumeFile): FileHandle {
  if (!(f instanceof HandleFile)) throw new Error(`${f.name}: not a file of this volume`);
  return f.fh;
}

/** A volume of the reference generic layer over any FsInstance. */
class IomapVolume implements Volume {
  constructor(readonly fsys: IomapFs) {}
  get pageSize(): number { return this.fsys.pageSize; }
  open(name: string, opts: { create?: boolean } = {}): VolumeFile { return new HandleFile(this.fsys.open(name, { create: opts.create ?? false }), name); }
  exists(name: string): boolean { return this.fsys.fs.lookup(name) !== undefined; }
  names(): string[] | undefined { return this.fsys.fs instanceof Refs ? [...this.fsys.fs.names.keys()] : undefined; }
  unlink(name: string): void { this.fsys.unlink(name); }
  sync(): void { this.fsys.sync(); }
  dropCaches(): void { this.fsys.dropCaches(); }
  pendingIo(): number { return this.fsys.queue.pending.length; }
  complete(i: number): void { this.fsys.queue.completeAt(i); }
  drain(): void { this.fsys.queue.drain(); }
  invariants(): string[] { return this.fsys.checkInvariants(); }
  consistency(): string[] { return this.fsys.fs.checkConsistency(); }
  unmount(): void { this.fsys.unmount(); }

  ownerOfBlock(pblk: number): string | undefined {
    const fs = this.fsys.fs;
    if (fs instanceof Refs) {
      for (const [name, ino] of fs.names) {
        const ri = fs.inodes.get(ino);
        if (!ri) continue;
        for (const e of [...ri.extents.exts, ...ri.cow.exts]) {
          if (e.state !== 'delalloc' && pblk >= e.pblk && pblk < e.pblk + e.len) return name;
        }
      }
      return undefined;
    }
    return undefined;
  }
}

export interface VolumeOptions {
  /** The filesystem (default refs). */
  fs?: FsAdapter;
  /** Called with the filesystem after every mount (bug switches). */
  configureFs?: (fs: FsInstance) => void;
  /** refs bug switches (a shorthand for configureFs). */
  bugs?: RefsBugs;
  /** Put the contract monitor between the generic layer and the filesystem (default false). */
  monitor?: boolean;
  /** The API generation to run the filesystem in (default: the adapter's first). */
  api?: IomapApi;
  name?: string;
  session?: <T>(fn: () => T) => T;
}

/** The volume capability of the reference generic layer over `opts.fs` (default refs). */
export function iomapVolume(opts: VolumeOptions = {}): VolumeProvider {
  const fsa = opts.fs ?? refsFsAdapter;
  return {
    name: opts.name ?? 'reference',
    mkfs: (dev, o) => {
      if (fsa === refsFsAdapter) Refs.mkfs(dev, { blockSize: o.blockSize, metaBytes: o.metaBytes });
      else fsa.mkfs(dev, { blockSize: o.blockSize });
    },
    mount: (dev, o) => {
      const { fsys } = mountWithMonitor(fsa, dev, o.folioSize, opts.monitor ?? false, undefined, opts.api);
      if (opts.bugs) {
        if (!(fsys.fs instanceof Refs)) throw new Error('refs bug switches need refs');
        fsys.fs.bugs = { ...opts.bugs };
      }
      opts.configureFs?.(fsys.fs);
      return new IomapVolume(fsys);
    },
    session: opts.session ?? (<T>(fn: () => T): T => fn()),
  };
}
