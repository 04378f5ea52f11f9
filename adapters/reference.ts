/**
 * The `reference` FileAdapter: the reference generic layer (reference/iomap) over refs on a block
 * device — by default a sparse in-memory device, or any BlockDevice the caller hands in.
 */
import { PERSONALITY_NAMES, isPersonalityName, personality } from '../reference/fs/personality';
import { Capabilities, CrashOutcome, FALLOC_FL_COLLAPSE_RANGE, FALLOC_FL_INSERT_RANGE, DeviceFaultSteps, FaultSteps, FiemapExtent, FileAdapter, FileTarget, InterleavingSteps, ReadKind, readMethodsAreOwn, SetupSupport, StateObserver, TargetSetup } from './types';
import { traceStates } from './state-trace';
import { writeHooks } from '../reference/iomap/buffered-io';
import { IomapFs, FileHandle } from '../reference/file';
import { CrashDevice, CrashWriteEntry } from '../reference/device/crash';
import { FaultDevice, FaultRule } from '../reference/device/fault';
import { Refs, REFS_ATOMIC_COW_MAX } from '../reference/fs/refs';
import { MemoryDevice } from '../reference/device/memory';
import type { BlockDevice } from '../reference/device/types';
import { FsError, EINVAL, EOPNOTSUPP } from '../reference/errno';
import { PAGE_SIZE } from '../reference/iomap/types';
import { FsAdapter, FsInstance, refsFsAdapter, resolveApi } from './fs-adapter';
import type { MappingSnapshot } from '../reference/iomap/fs-ops';
import { defaultApi, IOMAP_APIS, IomapApi, isIomapApi } from '../reference/iomap/types';
import { FsMonitor, RuleCounts, fsMonitorFactory } from './fs-monitor';
import { iomapVolume, VolumeProvider } from './volume';
import { MediaWatch } from './media-watch';

export interface ReferenceOptions {
  blockSize?: number;
  /** Largest folio in bytes. */
  folioSize?: number;
  /** Inline data limit for small files (0 disables). */
  inlineMax?: number;
  /** Device to format; default a sparse MemoryDevice of `deviceSize` bytes. */
  device?: BlockDevice;
  /**
   * Simulate power cuts (FileTarget.crash, the fsx `crash` op): the formatted device is wrapped
   * in a CrashDevice, which models its volatile write cache. Default: on for a filesystem that
   * declares itself crash safe (FsAdapter.crashSafe: refs) on the in-memory device; off for a
   * device handed in (wrapping copies a device that is not a MemoryDevice).
   */
  crash?: boolean;
  deviceSize?: number;
  sectorSize?: number;
  /** File name inside the filesystem. */
  fileName?: string;
  /** The filesystem under the generic layer (default refs). */
  fs?: FsAdapter;
  /** Check every callback against the contract rules (default true). */
  monitor?: boolean;
  /** Called with the filesystem after every mount (the bug zoo switches refs bugs on here). */
  configureFs?: (fs: FsInstance) => void;
  /** Seed: the default MemoryDevice reads never-written sectors as old data (MemoryDevice poison). */
  poison?: number;
  /** Bytes of speculative post-EOF preallocation refs does (XFS allocsize=; Refs.eofPreallocBlocks). */
  eofPrealloc?: number;
  /** Whose policies refs follows (reference/fs/personality.ts): generic (default), xfs, ext4. */
  personality?: string;
  /** The iomap API generation to run the filesystem's ops tables in (default: the adapter's first). */
  api?: string;
}

/** Validate the setup knobs against the block size; one-line errors naming the option. */
export function checkSetup(s: TargetSetup, blockSize: number): TargetSetup {
  const out: TargetSetup = {};
  if (s.poison !== undefined) {
    if (!Number.isInteger(s.poison) || s.poison < 0 || s.poison > 0xffffffff) throw new FsError(EINVAL, `poison: expected a seed in [0, 2^32-1], got ${String(s.poison)}`);
    out.poison = s.poison;
  }
  if (s.eofPrealloc !== undefined) {
    const p = s.eofPrealloc;
    if (!Number.isInteger(p) || p < blockSize || p > 2 ** 30 || (p & (p - 1)) !== 0) {
      throw new FsError(EINVAL, `eofPrealloc: expected a power of two in [block size ${blockSize}, 2^30], got ${String(p)}`);
    }
    out.eofPrealloc = p;
  }
  if (s.inlineMax !== undefined) {
    const m = s.inlineMax;
    if (!Number.isInteger(m) || m < 0 || m > blockSize) throw new FsError(EINVAL, `inlineMax: expected an integer in [0, block size ${blockSize}], got ${String(m)}`);
    out.inlineMax = m;
  }
  if (s.personality !== undefined && s.personality !== 'generic') {
    if (!isPersonalityName(s.personality)) throw new FsError(EINVAL, `personality: expected one of ${PERSONALITY_NAMES.join(', ')}, got ${String(s.personality)}`);
    out.personality = s.personality;
  }
  if (s.api !== undefined) {
    if (!isIomapApi(s.api)) throw new FsError(EINVAL, `api: expected one of ${IOMAP_APIS.join(', ')}, got ${String(s.api)}`);
    out.api = s.api;
  }
  return out;
}

/**
 * The setups the reference generic layer can run any filesystem at (the setup sweep draws from
 * them): every block size from 512 bytes to 16 KiB (above the 4 KiB page: large block sizes) and
 * largest folios from a page to a PMD (2 MiB). Poisoned devices, post-EOF preallocation and inline
 * data are properties of refs on the in-memory device (`refsOnly`).
 */
export function referenceSetups(refsOnly: { poison: boolean; eofPrealloc: boolean; inline: boolean }): SetupSupport {
  return {
    blockSizes: [512, 1024, 4096, 16384],
    folioSizes: [4096, 16384, 65536, 2 * 1024 * 1024],
    ...refsOnly,
  };
}

/** Mount `fsa` on `dev` under the reference generic layer, with the contract monitor in between. */
export function mountWithMonitor(
  fsa: FsAdapter, dev: BlockDevice, folioSize: number, monitor: boolean, evaluated?: RuleCounts, api?: IomapApi,
): { fsys: IomapFs; monitor: FsMonitor | null } {
  const want = resolveApi(fsa, api);
  const inst = fsa.mount(dev, { api: want });
  if ((inst.api ?? '6.12') !== want) throw new FsError(EINVAL, `api: ${fsa.name} was mounted for ${want} but its ops tables say ${inst.api ?? '6.12'}`);
  if (!monitor) return { fsys: IomapFs.withFs(dev, inst, { maxFolioSize: folioSize }), monitor: null };
  let fsys: IomapFs | null = null;
  const mon = fsMonitorFactory()(inst, { lbs: dev.sectorSize, currentOp: () => fsys?.currentOp() ?? '', evaluated });
  fsys = IomapFs.withFs(dev, mon.wrapped, { maxFolioSize: folioSize });
  return { fsys, monitor: mon };
}

/** The end of the run of `snap` that starts at lo, at most `end` (one block without nextChange; as blockRuns). */
function runEnd(snap: MappingSnapshot, lo: number, end: number): number {
  return snap.nextChange !== undefined ? Math.min(end, Math.max(lo + 1, snap.nextChange(lo))) : lo + 1;
}

/**
 * Whether a block of file blocks [lo, end) that backs data (written or unwritten) or its COW
 * staging lies in device bytes [doff, doff+dlen). Run by run: within a run the device blocks
 * (data and COW staging) follow the file blocks.
 */
function runsMeet(snap: MappingSnapshot, lo: number, end: number, bs: number, doff: number, dlen: number): boolean {
  while (lo < end) {
    const hi = runEnd(snap, lo, end);
    const b = snap.block(lo);
    if ((b.state === 'written' || b.state === 'unwritten') && deviceMeets(b.pblk, hi - lo, bs, doff, dlen)) return true;
    // A write to a shared block lands in its COW staging block, remapped at completion.
    if (deviceMeets(b.cowPblk, hi - lo, bs, doff, dlen)) return true;
    lo = hi;
  }
  return false;
}

/** Whether device blocks [base, base+n) meet device bytes [doff, doff+dlen). */
function deviceMeets(base: number | undefined, n: number, bs: number, doff: number, dlen: number): boolean {
  return base !== undefined && doff < (base + n) * bs && base * bs < doff + dlen;
}

/**
 * The file blocks of run [lo, hi), whose device blocks start at `base`, that sit on device blocks
 * [first, last): the interval [spanFrom, spanTo), empty (from >= to) when none.
 */
function spanFrom(base: number, lo: number, first: number): number {
  return Math.max(lo, lo + first - base);
}
function spanTo(base: number, lo: number, hi: number, last: number): number {
  return Math.min(hi, lo + last - base);
}

export class ReferenceTarget implements FileTarget {
  fsys: IomapFs;
  fh: FileHandle;
  /** Power cuts (FileTarget.crash): only over a CrashDevice (see ReferenceOptions.crash). */
  crash?: (selector: number) => CrashOutcome;
  private readonly adapter: ReferenceAdapter;
  private random = false;
  readonly interleave: InterleavingSteps = {
    writeback: () => { this.fh.writebackNow(); },
    pendingIo: () => this.fsys.queue.pending.length,
    complete: (i) => {
      const q = this.fsys.queue;
      if (!Number.isInteger(i) || i < 0 || i >= q.pending.length) throw new FsError(EINVAL, `no pending I/O #${i} (${q.pending.length} pending)`);
      q.completeAt(i);
    },
    evict: (pos) => this.fh.evict(pos),
    betweenBeginAndGetFolio: (step) => {
      const hooks = writeHooks;
      hooks.beforeGetFolio = () => {
        hooks.beforeGetFolio = undefined;
        step();
      };
    },
    directWriteAsync: (off, data) => { this.fh.directWriteAsync(off, data, () => undefined); },
  };

  /** Fault injection through refs' hooks (absent when the filesystem under the core is not refs). */
  readonly faults: FaultSteps | undefined;

  /**
   * Device faults under the file (fsx fault ops): the adapter's FaultDevice, aimed at the blocks
   * the filesystem's introspection says back the file range. Absent without introspection (an
   * exec: server that offers no snapshot cannot say which blocks are the file's).
   */
  readonly deviceFaults: DeviceFaultSteps | undefined;
  private armed: FaultRule[] = [];
  /** File byte ranges of the blocks the armed fault hit. */
  private hitRanges: Array<{ off: number; len: number }> = [];

  constructor(adapter: ReferenceAdapter) {
    this.adapter = adapter;
    this.fsys = adapter.fsys!;
    this.fh = this.fsys.open(adapter.fileName, { create: true, truncate: true });
    // A power cut must find the (empty) file: make its creation durable, as a program would.
    if (adapter.crashDevice() !== null) {
      this.syncAll();
      this.crash = (selector) => this.powerCut(selector);
    }
    this.changedOnMedia = this.fsys.fs instanceof Refs ? (answer?: boolean) => this.mediaChanges(answer) : undefined;
    this.faults = this.fsys.fs instanceof Refs ? {
      pwriteFaulting: (off, data, faultAt) => this.fh.pwrite(off, data, { faultAt }),
      mapwriteFaulting: (off, data, faultAt, opts) => this.mapwriteFaulting(off, data, faultAt, opts?.msync ?? true),
      withReserveHeadroom: (blocks, fn) => {
        // Relative to what is reserved now, so a shrunk log (fewer reservations before) keeps its meaning.
        const refs = this.fsys.refs;
        refs.faults.reserveLimit = refs.reservedBlocks + blocks;
        try {
          return fn();
        } finally {
          refs.faults.reserveLimit = undefined;
        }
      },
    } : undefined;
    this.deviceFaults = this.makeDeviceFaults();
  }

  private makeDeviceFaults(): DeviceFaultSteps | undefined {
    if (this.fsys.fs.introspect === undefined || this.adapter.faultDevice === null) return undefined;
    const pre = this.adapter.setup.eofPrealloc;
    return {
      ...(pre !== undefined ? { noWriteFaults: `written post-EOF preallocation (eofPrealloc ${pre}) exposes old data when a write is lost, as after a power cut` } : {}),
      arm: (kind, action, off, len) => {
        const dev = this.adapter.faultDevice!;
        this.armed.push(dev.addFault({ kind, action, match: (doff, dlen) => this.backsRange(doff, dlen, off, len), label: `file [${off}, +${len})` }));
      },
      heal: () => {
        const ranges = this.hitRanges;
        let hits = 0;
        for (const r of this.armed) {
          hits += r.fired;
          this.adapter.faultDevice?.removeFault(r);
        }
        this.armed = [];
        this.hitRanges = [];
        return { hits, ranges };
      },
    };
  }

  /**
   * Whether device bytes [doff, doff+dlen) meet a block that backs file bytes [off, off+len) now
   * (the filesystem's own mapping, read through its introspection). A match is a hit (the rule
   * always fires): the file blocks the whole request covers are recorded for heal().
   */
  private backsRange(doff: number, dlen: number, off: number, len: number): boolean {
    const fs = this.fsys.fs;
    const bs = fs.blockSize;
    const snap = fs.introspect!.snapshot(this.fh.inode);
    if (!runsMeet(snap, Math.floor(off / bs), Math.ceil((off + len) / bs), bs, doff, dlen)) return false;
    // The request may reach past the range (a merged bio): record every file block it covers.
    // Extent by extent (a 2^53-byte file has few extents and 2^41 blocks): within a run the
    // device blocks are consecutive, so the blocks of [first, last) it holds are one interval.
    const first = Math.floor(doff / bs);
    const last = Math.ceil((doff + dlen) / bs);
    const end = Math.ceil(this.fh.size / bs) + 1;
    for (let lo = 0; lo < end;) {
      const hi = runEnd(snap, lo, end);
      const b = snap.block(lo);
      // The blocks of the run whose data or COW staging block is in [first, last), ascending, once.
      const d = b.pblk;
      const c = b.cowPblk;
      this.recordUnion(
        d === undefined ? 0 : spanFrom(d, lo, first), d === undefined ? 0 : spanTo(d, lo, hi, last),
        c === undefined ? 0 : spanFrom(c, lo, first), c === undefined ? 0 : spanTo(c, lo, hi, last), bs);
      lo = hi;
    }
    return true;
  }

  /** Note the file blocks of [aFrom, aTo) and [bFrom, bTo) (either may be empty) as hit, ascending, once. */
  private recordUnion(aFrom: number, aTo: number, bFrom: number, bTo: number, bs: number): void {
    if (aFrom >= aTo) return this.recordBlocks(bFrom, bTo, bs);
    if (bFrom >= bTo || aFrom <= bFrom) {
      this.recordBlocks(aFrom, aTo, bs);
      this.recordBlocks(Math.max(bFrom, aTo), bTo, bs);
    } else {
      this.recordBlocks(bFrom, bTo, bs);
      this.recordBlocks(Math.max(aFrom, bTo), aTo, bs);
    }
  }

  /** Note file blocks [from, to) as hit by the armed fault. */
  private recordBlocks(from: number, to: number, bs: number): void {
    for (let lblk = from; lblk < to; lblk++) this.hitRanges.push({ off: lblk * bs, len: bs });
  }

  /**
   * A store whose source buffer faults at byte `faultAt` (FaultSteps.mapwriteFaulting): the
   * bytes before it are stored (their pages write-faulted), nothing at or past it; msync as asked.
   */
  private mapwriteFaulting(off: number, data: Uint8Array, faultAt: number, msync: boolean): number {
    const n = Math.min(Math.max(0, Math.floor(faultAt)), data.length);
    if (n > 0) this.fh.mmapWrite(off, data.subarray(0, n), { msync });
    else if (msync) this.fh.fdatasync();
    return n;
  }

  /** FileTarget.noCrashes: the crash device records nothing from now on; crash() is gone. */
  noCrashes(): void {
    this.adapter.crashDevice()?.stopLogging();
    this.crash = undefined;
  }

  private syncAll(): void {
    this.fsys.sync();
    this.adapter.crashDevice()?.trim();
  }

  size(): number { return this.fh.size; }
  pread(off: number, len: number): Uint8Array { return this.fh.pread(off, len); }

  /**
   * FileTarget.readInto, while pread, directRead, mapread and readDontcache are this class's own:
   * a module adapter that replaces one of them on the target turns it off, so the runner calls
   * the replacement and sees what it does.
   */
  get readInto(): ((how: ReadKind, off: number, dst: Uint8Array) => number) | undefined {
    return readMethodsAreOwn(this, ReferenceTarget.prototype) ? this.readIntoOwn : undefined;
  }

  /** Every read into the caller's buffer: FileHandle's ...Into twins of the four read methods. */
  private readonly readIntoOwn = (how: ReadKind, off: number, dst: Uint8Array): number => {
    const fh = this.fh;
    if (how === 'pread') return fh.preadInto(off, dst);
    if (how === 'direct') return fh.directReadInto(off, dst);
    if (how === 'mmap') return fh.mmapReadInto(off, dst);
    if (how === 'dontcache') return fh.readDontcacheInto(off, dst);
    throw new FsError(EINVAL, `readInto: unknown read ${String(how)}`);
  };
  pwrite(off: number, data: Uint8Array): number { return this.fh.pwrite(off, data); }
  truncate(size: number): void { this.fh.truncate(size); }
  fsync(): void {
    this.fh.fsync();
    this.adapter.crashDevice()?.trim();
  }

  fdatasync(): void {
    this.fh.fdatasync();
    this.adapter.crashDevice()?.trim();
  }
  mapread(off: number, len: number): Uint8Array { return this.fh.mmapRead(off, len); }
  mapwrite(off: number, data: Uint8Array, opts?: { msync?: boolean }): void { this.fh.mmapWrite(off, data, { msync: opts?.msync ?? true }); }
  fallocate(mode: number, off: number, len: number): void {
    this.fh.fallocate(mode, off, len);
    // A shift moves the file's mapping: the media watch's old mapping moves with it.
    const bs = this.adapter.capabilities.blockSize;
    if (mode === FALLOC_FL_COLLAPSE_RANGE) this.adapter.media.collapse(off / bs, len / bs);
    else if (mode === FALLOC_FL_INSERT_RANGE) this.adapter.media.insert(off / bs, len / bs);
  }

  /**
   * FileTarget.changedOnMedia: the file ranges whose bytes on the media (under the mapping the
   * filesystem reports) may differ from the last call's, by device writes or mapping changes
   * other than collapse/insert shifts (adapters/media-watch.ts). Null when the filesystem shows
   * no mapping (no FsIntrospection), or when not asked (`answer` false: the caller read the file
   * whole; the watch starts over from here at no cost).
   */
  readonly changedOnMedia: ((answer?: boolean) => Array<[number, number]> | null) | undefined;

  /**
   * changedOnMedia's answer. Only refs's is trusted: the mapping half of the answer comes from the
   * filesystem's own introspection, and a user's filesystem (an fs-level module or exec: server)
   * whose snapshot is wrong would vouch for its own reads; without it fsx keeps the whole-file
   * check every FULL_CHECK_EVERY-th remount (docs/fsx.md, "Remount").
   */
  private mediaChanges(answer = true): Array<[number, number]> | null {
    const intro = this.fsys.fs.introspect;
    if (intro === undefined) return null;
    const snap = intro.snapshot(this.fh.inode);
    if (answer) return this.adapter.media.look(snap, this.fh.size);
    this.adapter.media.forget(snap, this.fh.size);
    return null;
  }
  cloneRange(srcOff: number, len: number, dstOff: number): void { this.fh.cloneRange(srcOff, len, dstOff); }
  dedupeRange(srcOff: number, len: number, dstOff: number): number { return this.fh.dedupeRange(srcOff, len, dstOff); }
  copyRange(srcOff: number, len: number, dstOff: number): number { return this.fh.copyRange(srcOff, len, dstOff); }
  directRead(off: number, len: number): Uint8Array { return this.fh.directRead(off, len); }
  directWrite(off: number, data: Uint8Array): number { return this.fh.directWrite(off, data); }
  atomicWrite(off: number, data: Uint8Array): number { return this.fh.atomicWrite(off, data); }
  readDontcache(off: number, len: number): Uint8Array { return this.fh.readDontcache(off, len); }
  writeDontcache(off: number, data: Uint8Array): number { return this.fh.writeDontcache(off, data); }
  exchangeRange(srcOff: number, len: number, dstOff: number): void { this.fh.exchangeRange(srcOff, len, dstOff); }
  cachedPages(off: number, len: number): Uint8Array { return this.fh.cachedPages(off, len); }

  /** O_DSYNC: direct writes take the model's IOCB_DSYNC path (FUA or a sync at completion); buffered ones sync their range as generic_write_sync does (here: fdatasync). */
  dsyncWrite(off: number, data: Uint8Array, direct: boolean): number {
    if (direct) return this.fh.directWrite(off, data, { dsync: true });
    const n = this.fh.pwrite(off, data);
    this.fdatasync();
    return n;
  }
  seekData(off: number): number { return this.fh.seekData(off); }
  seekHole(off: number): number { return this.fh.seekHole(off); }
  fiemap(off: number, len: number, flags: number): FiemapExtent[] { return this.fh.fiemap(off, len, flags); }

  /** POSIX_FADV_RANDOM from now on (FileTarget.randomReads), on this and every later open. */
  randomReads(): void {
    this.random = true;
    this.fh.randomReads = true;
  }

  /** Open the test file again (after a close, remount or power cut), as it was advised. */
  private reopen(create = false): FileHandle {
    const fh = this.fsys.open(this.adapter.fileName, create ? { create } : undefined);
    fh.randomReads = this.random;
    return fh;
  }

  closeOpen(): void {
    this.fh.close();
    this.fsys.dropCaches();
    this.fh = this.reopen();
  }

  remount(): void {
    this.fh.close();
    this.fsys.unmount();
    this.adapter.mount();
    this.fsys = this.adapter.fsys!;
    this.fh = this.reopen();
  }

  /**
   * Power cut (FileTarget.crash): the live filesystem is abandoned without unmounting (its page
   * cache, pending I/O and in-memory metadata are gone), the device becomes the image of the
   * crash state `selector` picks, and the filesystem mounts it (recovery), checks itself and the
   * file is reopened. A failed mount is reported as a problem; the target is unusable after it.
   */
  private powerCut(selector: number): CrashOutcome {
    const dev = this.adapter.crashDevice();
    if (dev === null) throw new FsError(EOPNOTSUPP, 'crash: this reference target has no crash device (its device was handed in; pass crash: true)');
    const state = dev.choose(selector);
    const desc = dev.describeState(state);
    // The writes the image may lose are the pending ones: the media may differ from the live device there.
    for (const i of dev.crashPoint(dev.position).pending) {
      const e = dev.entry(i) as CrashWriteEntry;
      this.adapter.media.noteWrite(e.off, e.len);
    }
    writeHooks.beforeGetFolio = undefined; // an armed race step belongs to the lost world
    // The live media are abandoned: the image takes their memory over (no copy).
    const problems = this.adapter.powerCut(dev.takeImage(state));
    if (this.adapter.fsys === null) return { state: desc, problems }; // nothing to reopen; the run stops here
    this.fsys = this.adapter.fsys;
    problems.push(...this.fsys.fs.checkConsistency().map((s) => `consistency: ${s}`));
    const missing = this.fsys.fs.lookup(this.adapter.fileName) === undefined;
    this.fh = this.reopen(missing);
    return { state: desc, problems, missing };
  }

  /** Contract checks that need a quiet moment (every ioend finished, folio refs balanced). */
  quiesce(): void {
    this.adapter.monitor?.checkQuiescent();
  }

  /**
   * Model invariants (§6 per-folio, §8b reservations, kernel WARNs); empty when all hold.
   * `touched`: over what changed since the last check only (IomapFs.checkTouchedInvariants).
   */
  invariants(touched = false): string[] {
    return touched ? this.fsys.checkTouchedInvariants() : this.fsys.checkInvariants();
  }

  describe(pos: number): string {
    return this.fh.describe(pos);
  }

  /** State coverage through the generic layer's tracepoints (adapters/state-trace.ts). */
  observeStates(o: StateObserver | null): void {
    traceStates(o);
  }

  /** Rule preconditions counted by every monitor this adapter mounted (remounts and power cuts included). */
  ruleCounts(): ReadonlyMap<string, number> {
    return this.adapter.ruleCounts;
  }
}

export class ReferenceAdapter implements FileAdapter {
  readonly name: string = 'reference';
  readonly capabilities: Capabilities;
  readonly fileName: string;
  readonly folioSize: number;
  device: BlockDevice | null = null;
  /** Between the filesystem and `device`: the device faults of the fsx fault ops (no rules: no effect). */
  faultDevice: FaultDevice | null = null;
  fsys: IomapFs | null = null;
  monitor: FsMonitor | null = null;
  readonly fsAdapter: FsAdapter;
  /** Poison seed, post-EOF preallocation and inline limit this adapter runs with (recorded in op logs). */
  readonly setup: TargetSetup;
  /** The API generation the filesystem's ops tables run in (resolved: --api, else the default). */
  readonly api: IomapApi;
  /** What the setup sweep may vary (SetupSupport). */
  readonly setups: SetupSupport;
  /** How often each contract rule was evaluated, over every mount (ContractMonitor.evaluated). */
  readonly ruleCounts = new RuleCounts();
  /** Device writes and the file's mapping, for FileTarget.changedOnMedia (every fault device reports to it). */
  readonly media: MediaWatch;
  private readonly opts: ReferenceOptions;

  constructor(opts: ReferenceOptions = {}) {
    this.opts = opts;
    this.fsAdapter = opts.fs ?? refsFsAdapter;
    const bs = opts.blockSize ?? 4096;
    this.media = new MediaWatch(bs);
    this.folioSize = opts.folioSize ?? Math.max(64 * 1024, bs);
    this.fileName = opts.fileName ?? 'fsx.file';
    if (!Number.isInteger(bs) || bs < 512 || bs > 65536 || (bs & (bs - 1))) throw new FsError(EINVAL, `--bs ${bs}: block size must be a power of two in [512, 65536]`);
    this.setup = checkSetup({ poison: opts.poison, eofPrealloc: opts.eofPrealloc, inlineMax: opts.inlineMax, personality: opts.personality as TargetSetup['personality'], api: opts.api as TargetSetup['api'] }, bs);
    // The generation is checked against the adapter now (one line, before anything runs); one
    // other than the 6.12 baseline is part of the setup op logs record, and so is 6.12 itself
    // when IOMAP_HARNESS_API moved the default (a replay must not run the other one). Every
    // mount gets it explicitly: an absent setup.api means "the default", which the variable moves.
    const api = resolveApi(this.fsAdapter, this.setup.api);
    this.api = api;
    if (api === '6.12' && defaultApi() === '6.12') delete this.setup.api;
    else this.setup.api = api;
    const fc = this.fsAdapter.fileCapabilities;
    const refs = this.fsAdapter === refsFsAdapter;
    const ownDevice = opts.device === undefined;
    this.setups = referenceSetups({ poison: ownDevice, eofPrealloc: refs, inline: refs || fc?.inline === true });
    const pers = personality(this.setup.personality ?? 'generic');
    const reflink = (fc?.reflink ?? true) && pers.reflink;
    this.capabilities = {
      blockSize: bs, pageSize: PAGE_SIZE, maxFileSize: Math.min(2 ** 53 - 2 ** 16, pers.maxBytes(bs)), mmap: true, fallocModes: fc?.fallocModes ?? [0, 0x01, 0x03, 0x10, 0x11, 0x08, 0x20, 0x40, 0x41],
      clone: reflink, dedupe: reflink, copyRange: true, directIO: fc?.directIO ?? true, dioAlign: opts.sectorSize ?? 512,
      seek: true, fiemap: true, remount: true,
      // xfs and ext4 check O_DIRECT read alignment only where bios are built (docs/model.md).
      dioMisalignedReadMaySucceed: !pers.dioReadAlignUpFront,
      // ext4 refuses a misaligned O_DIRECT write only at the misaligned mapping, after the earlier
      // mappings were written (docs/host.md): the oracle accepts those whole blocks.
      dioMisalignedWritePartial: !pers.dioWriteAlignUpFront,
      // The generic layer does uncached I/O for any filesystem; atomic writes and exchange range
      // need the filesystem's part (refs has it: FsInstance.atomicWriteUnits, exchangeBlocks).
      dontcache: true,
      ...(refs ? { atomicWrite: { unitMin: bs, unitMax: Math.max(REFS_ATOMIC_COW_MAX, bs) }, exchangeRange: true } : {}),
    };
  }

  open(): FileTarget {
    if (!this.fsys) {
      const dev = this.opts.device ?? new MemoryDevice({ size: this.opts.deviceSize ?? 64 * 2 ** 30, sectorSize: this.opts.sectorSize ?? 512, poison: this.setup.poison });
      this.fsAdapter.mkfs(dev, { blockSize: this.capabilities.blockSize, inlineMax: this.setup.inlineMax });
      // eofPrealloc models the old XFS written post-EOF preallocation, which is not crash safe
      // (an extension can make never-written blocks part of the file): no power cuts with it.
      // Nor with the ext4 personality: its truncate leaves the zeroed EOF block to ordered-data
      // journalling, which refs does not have.
      const crash = this.opts.crash ?? (this.opts.device === undefined && this.fsAdapter.crashSafe === true &&
        this.setup.eofPrealloc === undefined && this.setup.personality !== 'ext4');
      this.device = crash ? new CrashDevice(dev) : dev;
      this.faultDevice = this.wrapFaults(this.device);
      this.mount();
    }
    return new ReferenceTarget(this);
  }

  /** (Re)mount the device through the generic layer and the monitor. */
  mount(): void {
    const { fsys, monitor } = mountWithMonitor(this.fsAdapter, this.faultDevice ?? this.device!, this.folioSize, this.opts.monitor ?? true, this.ruleCounts, this.api);
    this.fsys = fsys;
    this.monitor = monitor;
    if (this.setup.personality !== undefined) {
      if (!(fsys.fs instanceof Refs)) throw new FsError(EINVAL, 'personality: only refs has personalities');
      fsys.fs.personality = personality(this.setup.personality);
    }
    const pre = this.setup.eofPrealloc;
    if (pre !== undefined) {
      // A property of refs, like a mount option (the monitor's proxy passes it through).
      if (!(fsys.fs instanceof Refs)) throw new FsError(EINVAL, 'eofPrealloc: only refs preallocates past EOF');
      fsys.fs.eofPreallocBlocks = pre / this.capabilities.blockSize;
    }
    this.opts.configureFs?.(fsys.fs);
  }

  /** The volume capability: this filesystem, with this adapter's configuration, on a device the harness owns. */
  get volume(): VolumeProvider {
    return iomapVolume({ fs: this.fsAdapter, configureFs: this.opts.configureFs, name: this.name, api: this.api });
  }

  /** The FaultDevice the filesystem runs on (no log kept: fsx issues millions of requests). */
  private wrapFaults(dev: BlockDevice): FaultDevice {
    const fd = new FaultDevice(dev, { name: dev.name, keepLog: false });
    fd.onWrite = (off, len) => this.media.noteWrite(off, len);
    return fd;
  }

  /** The device as a CrashDevice, when power cuts are simulated. */
  crashDevice(): CrashDevice | null {
    return this.device instanceof CrashDevice ? this.device : null;
  }

  /**
   * Replace the device by a crash image and mount it (the live filesystem is dropped, never
   * unmounted). Returns the mount's complaint, if it failed; the image is wrapped in a new
   * CrashDevice so that later power cuts work the same way.
   */
  powerCut(image: MemoryDevice): string[] {
    this.fsys = null;
    this.monitor = null;
    this.device = new CrashDevice(image);
    this.faultDevice = this.wrapFaults(this.device);
    try {
      this.mount();
      return [];
    } catch (e) {
      return [`mount after the crash failed: ${e instanceof Error ? e.message : String(e)}`];
    }
  }

  close(): void {
    if (this.fsys?.mounted) this.fsys.unmount();
    this.fsys = null;
  }
}

export function createReferenceAdapter(opts: ReferenceOptions = {}): ReferenceAdapter {
  return new ReferenceAdapter(opts);
}
