/**
 * Fault properties: seeded random workloads on a target's volume (adapters/volume.ts; by default
 * refs under the reference generic layer) over FaultDevice(MemoryDevice), with the fault schedule as steps of the workload, checked against a byte model and an
 * errseq model (docs/rules.md, fileops-14.26).
 *
 *   const r = runFaultWorkload(generateFaultWorkload({ seed: 7, mode: 'write-eio' }));
 *   r.violations   // [] when the filesystem behaved as Linux allows
 *   r.detections   // mode 'drop'/'corrupt': where the byte oracle noticed the injected damage
 *
 * Modes (one kind of fault per workload, so that the model stays exact where it must be):
 *  - 'write-eio' (a): data writes fail with EIO. Each failure is attributed to the file that owns
 *    the block at that moment. Expected: the next fsync/fdatasync/msync of every fd open before
 *    the failure reports EIO once, later ones 0 (until a new failure); an fd opened after someone
 *    reported it does not see it, one opened before anybody did does; folios are neither dirty
 *    nor under writeback after an fsync; an fsync with nothing re-dirtied since the last one
 *    writes no data (lost pages are not retried); cached reads return the newest data until the
 *    cache is dropped; after that every byte holds a value it had since it was last known to be
 *    stored (old or new, never garbage, never bytes truncated away).
 *  - 'read-eio' (b): data reads fail with EIO. A read returns EIO (mmap: SIGBUS) or a short
 *    count, and every byte it returns is right; writes needing a read may fail or be short; no
 *    byte is ever wrong, then or later.
 *  - 'drop' (c): data writes are acknowledged and dropped. Cached reads are right; after the
 *    cache is dropped, reads return exactly what the media holds (computed independently from
 *    FIEMAP and the raw inner device), and the byte oracle flags exactly the damaged bytes.
 *  - 'corrupt' (d): data reads get one byte flipped. Every read returns exactly the media bytes
 *    with the injected flips, and the oracle flags every flip that reaches the program.
 * Errors that no injected fault explains are violations in every mode; so is a mismatch in
 * 'drop'/'corrupt' mode when nothing was injected.
 *
 * Faults are injected only in the data area (refs metadata is read at mount only and written by
 * commits, which these properties do not fault). Workloads replay exactly (runFaultWorkload) and
 * shrink by deleting ops (shrinkFaultWorkload).
 */
import { CrashRng } from '../../reference/device/crash';
import { FaultDevice, FaultSpec, InjectedFault } from '../../reference/device/fault';
import { DEFAULT_POISON_SEED, MemoryDevice, poisonPattern } from '../../reference/device/memory';
import { FsError } from '../../reference/errno';
import { iomapVolume, RefsBugs, Volume, VolumeFile, VolumeProvider } from '../../adapters/volume';
import { FIEMAP_EXTENT_DATA_INLINE, FIEMAP_EXTENT_UNWRITTEN } from '../../reference/iomap/fiemap';
import { TraceablePattern } from './crash';
import { GEOMETRIES } from './crash-harness';

export type FaultMode = 'write-eio' | 'read-eio' | 'drop' | 'corrupt';
export const FAULT_MODES: readonly FaultMode[] = ['write-eio', 'read-eio', 'drop', 'corrupt'];

/**
 * One step. File handles live in numbered slots (an open file description each); slot i < files
 * is opened on file i before op 0. An op naming an empty slot is skipped (so deleting ops while
 * shrinking never makes a workload invalid).
 */
export type FaultOp =
  | { op: 'open'; file: number; slot: number }
  | { op: 'close'; slot: number }
  | { op: 'write'; slot: number; off: number; len: number }
  | { op: 'read'; slot: number; off: number; len: number }
  | { op: 'mapwrite'; slot: number; off: number; len: number; msync: boolean }
  | { op: 'mapread'; slot: number; off: number; len: number }
  | { op: 'truncate'; slot: number; size: number }
  | { op: 'fsync'; slot: number }
  | { op: 'fdatasync'; slot: number }
  /** Background writeback of the slot's file (I/O submitted, completes later). */
  | { op: 'writeback'; slot: number }
  /** Complete one pending I/O (index modulo the number pending). */
  | { op: 'complete'; which: number }
  | { op: 'sync' }
  /**
   * sync, then echo 3 > drop_caches, then read every file back and check it: the sync is what lets
   * the read-back check every byte against the media. Workloads saved before drop caches stopped
   * writing back name it 'dropcaches'; both names run the same.
   */
  | { op: 'syncdrop' | 'dropcaches' }
  /** Arm a fault rule (the fault schedule is part of the workload). */
  | { op: 'fault'; rule: FaultSpec }
  /** Remove every fault rule. */
  | { op: 'heal' };

export interface FaultGeometry {
  blockSize: number;
  sectorSize: number;
  folioSize: number;
  deviceSize: number;
  /** Bytes of each refs metadata slot (mkfs metaBytes). */
  metaBytes: number;
  maxFileSize: number;
  maxOpLen: number;
}

export interface FaultWorkload {
  seed: number;
  mode: FaultMode;
  geometry: FaultGeometry;
  files: number;
  slots: number;
  ops: FaultOp[];
}

export type FaultViolationKind =
  /** fsync/fdatasync/msync returned 0 where errseq requires the error. */
  | 'errseq-missed'
  /** It returned an error errseq does not explain. */
  | 'errseq-extra'
  /** An op failed (or came back short) with no injected fault to explain it, or with the wrong errno. */
  | 'unexpected-error'
  /** Folios dirty or under writeback after fsync/sync. */
  | 'dirty-after-sync'
  /** An fsync with nothing re-dirtied wrote data again (failed pages retried). */
  | 'retried-write'
  /** A read returned bytes other than the program's, where the model is exact. */
  | 'wrong-data'
  /** After the cache was dropped, a byte no allowed version explains. */
  | 'bad-bytes'
  | 'size'
  /** Reads disagree with the media (FIEMAP + raw device) plus the injected corruption. */
  | 'read-path'
  /** A mismatch in 'drop'/'corrupt' mode although nothing was injected. */
  | 'unexplained-mismatch'
  | 'invariant'
  /** An op returned EIO for a write failure an fsync had already reported (sticky AS_EIO). */
  | 'legacy-eio-after-fsync'
  /** The model or the filesystem threw something that is not an FsError. */
  | 'exception';

export interface FaultViolation {
  kind: FaultViolationKind;
  /** Op index (-1: setup; ops.length: the final check). */
  op: number;
  file?: string;
  message: string;
}

export interface FaultDetection {
  op: number;
  file: string;
  /** First damaged offset and how many bytes differ. */
  offset: number;
  bytes: number;
  phase: 'mid-run' | 'final';
}

export interface FaultRunResult {
  workload: FaultWorkload;
  violations: FaultViolation[];
  detections: FaultDetection[];
  /** Every fault injected, with the op it happened in. */
  injected: Array<InjectedFault & { op: number }>;
  /** Ops executed (not skipped). */
  opsRun: number;
  /** Ops that failed or came back short because of an injected fault (or a legacy error bit). */
  failedOps: number;
  /** fsync-family calls whose result was checked, and how many of them reported an error. */
  syncChecks: number;
  syncErrors: number;
  /** Every checked fsync-family call: [op, file, 0 or the errno name]. */
  syncTrace: Array<[number, string, 0 | string]>;
  /** Bytes of the final media that differ from the model (mode drop/corrupt: effective damage). */
  damagedBytes: number;
  notes: string[];
  report: string[];
  elapsedMs: number;
}

export interface FaultRunOptions {
  /** refs bug switches for the run (the bug zoo). */
  bugs?: RefsBugs;
  /** The target (its volume capability); default the reference over refs with `bugs`. */
  target?: VolumeProvider;
  /** Check fs invariants after every op (slow; default: at the end). */
  invariantsEachOp?: boolean;
  /** Known deviations to accept (noted in the result instead of failing). */
  tolerate?: FaultViolationKind[];
}

/* ------------------------------------------------------------------------------------------ */
/* Geometry and generation                                                                    */
/* ------------------------------------------------------------------------------------------ */

export function faultGeometryFor(seed: number, over: Partial<FaultGeometry> = {}): FaultGeometry {
  const g = GEOMETRIES[new CrashRng(seed ^ 0xfa17).below(GEOMETRIES.length)];
  return {
    blockSize: g.blockSize, sectorSize: g.sectorSize, folioSize: g.folioSize,
    deviceSize: 4 << 20, metaBytes: 64 * 1024, maxFileSize: 64 * 1024, maxOpLen: 16 * 1024, ...over,
  };
}

/** First byte of refs' data area for this geometry (what mkfs computes). */
export function dataStartBytes(g: FaultGeometry): number {
  const slotBlocks = Math.max(2, Math.ceil(g.metaBytes / g.blockSize));
  return (1 + 2 * slotBlocks) * g.blockSize;
}

export interface FaultGenOptions {
  seed: number;
  mode: FaultMode;
  /** Ops per workload (default 40). */
  ops?: number;
  files?: number;
  geometry?: Partial<FaultGeometry>;
}

/** A fault rule of the workload's mode, in the data area, seeded. */
function genRule(rng: CrashRng, mode: FaultMode, g: FaultGeometry): FaultSpec {
  const start = dataStartBytes(g);
  const range = { off: start, len: g.deviceSize - start };
  const seed = rng.next32();
  const sched = rng.below(3);
  const timing: Partial<FaultSpec> = sched === 0
    ? { probability: rng.pick([0.05, 0.15, 0.3, 0.6]) }
    : sched === 1 ? { after: rng.below(6), count: 1 + rng.below(3) } : { probability: rng.pick([0.2, 0.5]), count: 1 + rng.below(4) };
  switch (mode) {
    case 'write-eio': return { kind: 'write', ...range, ...timing, seed };
    case 'read-eio': return { kind: 'read', ...range, ...timing, seed };
    case 'drop': return { kind: 'write', action: 'drop', ...range, ...timing, seed };
    case 'corrupt': return { kind: 'read', action: 'corrupt', ...range, ...timing, seed };
  }
}

type GenKind = 'write' | 'read' | 'mapwrite' | 'mapread' | 'fsync' | 'open' | 'close' | 'writeback' | 'complete' | 'sync' |
  'syncdrop' | 'truncate' | 'fault';

/** Op weights per mode: reads where reads fail, drop caches where the media matters. */
const OP_WEIGHTS: Record<FaultMode, ReadonlyArray<[GenKind, number]>> = {
  'write-eio': [['write', 28], ['read', 10], ['mapwrite', 6], ['mapread', 4], ['fsync', 14], ['open', 7], ['close', 3],
    ['writeback', 8], ['complete', 5], ['sync', 3], ['syncdrop', 4], ['truncate', 4], ['fault', 4]],
  'read-eio': [['write', 22], ['read', 22], ['mapread', 8], ['fsync', 8], ['open', 4], ['close', 2],
    ['writeback', 4], ['complete', 3], ['sync', 2], ['syncdrop', 14], ['truncate', 6], ['fault', 5]],
  drop: [['write', 28], ['read', 10], ['mapwrite', 6], ['mapread', 4], ['fsync', 12], ['open', 5], ['close', 2],
    ['writeback', 8], ['complete', 5], ['sync', 3], ['syncdrop', 6], ['truncate', 4], ['fault', 4]],
  corrupt: [['write', 24], ['read', 18], ['mapwrite', 4], ['mapread', 6], ['fsync', 10], ['open', 4], ['close', 2],
    ['writeback', 6], ['complete', 4], ['sync', 3], ['syncdrop', 10], ['truncate', 4], ['fault', 5]],
};

function pickWeighted<T>(rng: CrashRng, table: ReadonlyArray<[T, number]>): T {
  let total = 0;
  for (const [, w] of table) total += w;
  let r = rng.below(total);
  for (const [k, w] of table) {
    if (r < w) return k;
    r -= w;
  }
  return table[table.length - 1][0];
}

/** A seeded random workload for one fault mode (the fault steps included). */
export function generateFaultWorkload(opts: FaultGenOptions): FaultWorkload {
  const rng = new CrashRng(opts.seed ^ 0x0fa171);
  const g = faultGeometryFor(opts.seed, opts.geometry);
  const files = opts.files ?? 2;
  const slots = files * 2;
  const n = opts.ops ?? 40;
  const mode = opts.mode;
  const bs = g.blockSize;
  const sizes = new Array<number>(files).fill(0);
  const slotFile: Array<number | null> = Array.from({ length: slots }, (_, i) => (i < files ? i : null));
  const ops: FaultOp[] = [];
  // A little data first, then the fault, so that faults meet existing data as well as new data.
  const armAt = rng.below(Math.max(1, Math.floor(n / 3)));
  const openSlots = (): number[] => slotFile.flatMap((f, i) => (f === null ? [] : [i]));
  const offset = (max: number, size: number): number => {
    const r = rng.below(6);
    if (r === 0 && size > 0) return Math.min(max, Math.max(0, size - rng.below(Math.min(size, bs) + 1)));
    if (r <= 2) return Math.min(max, rng.below(Math.floor(max / bs) + 1) * bs);
    return rng.below(max + 1);
  };
  let lastSync = -1;
  for (let i = 0; i < n; i++) {
    if (i === armAt) {
      ops.push({ op: 'fault', rule: genRule(rng, mode, g) });
      continue;
    }
    const live = openSlots();
    if (live.length === 0) {
      const slot = rng.below(slots);
      const file = rng.below(files);
      slotFile[slot] = file;
      ops.push({ op: 'open', file, slot });
      continue;
    }
    const slot = rng.pick(live);
    const file = slotFile[slot]!;
    const size = sizes[file];
    // errseq patterns: often fsync again, or on another fd of the same file, right after an fsync.
    if (lastSync >= 0 && ops.length === lastSync + 1 && rng.chance(0.5)) {
      const same = live.filter((s) => slotFile[s] === slotFile[(ops[lastSync] as { slot: number }).slot]);
      ops.push({ op: rng.chance(0.8) ? 'fsync' : 'fdatasync', slot: rng.pick(same) });
      lastSync = ops.length - 1;
      continue;
    }
    switch (pickWeighted(rng, OP_WEIGHTS[mode])) {
      case 'write': {
        const len = 1 + rng.below(rng.chance(0.5) ? Math.min(g.maxOpLen, 2 * bs) : g.maxOpLen);
        const off = offset(g.maxFileSize - len, size);
        sizes[file] = Math.max(size, off + len);
        ops.push({ op: 'write', slot, off, len });
        break;
      }
      case 'read': {
        if (size === 0) break;
        const off = rng.below(size);
        ops.push({ op: 'read', slot, off, len: 1 + rng.below(Math.min(size - off + bs, g.maxOpLen)) });
        break;
      }
      case 'mapwrite': {
        if (size === 0) break;
        const off = rng.below(size);
        ops.push({ op: 'mapwrite', slot, off, len: 1 + rng.below(Math.min(size - off, 2 * bs)), msync: rng.chance(0.5) });
        break;
      }
      case 'mapread': {
        if (size === 0) break;
        const off = rng.below(size);
        ops.push({ op: 'mapread', slot, off, len: 1 + rng.below(Math.min(size - off, 2 * bs)) });
        break;
      }
      case 'fsync':
        ops.push({ op: rng.chance(0.8) ? 'fsync' : 'fdatasync', slot });
        lastSync = ops.length - 1;
        break;
      case 'open': {
        const s = rng.below(slots);
        const f = rng.below(files);
        slotFile[s] = f;
        ops.push({ op: 'open', file: f, slot: s });
        break;
      }
      case 'close':
        slotFile[slot] = null;
        ops.push({ op: 'close', slot });
        break;
      case 'writeback':
        ops.push({ op: 'writeback', slot });
        break;
      case 'complete':
        ops.push({ op: 'complete', which: rng.below(8) });
        break;
      case 'sync':
        ops.push({ op: 'sync' });
        break;
      case 'syncdrop':
        ops.push({ op: 'syncdrop' });
        break;
      case 'truncate': {
        // Block-aligned sizes in write-eio mode: the only writeback a truncate then does is of the
        // old EOF block when growing, and a failure there leaves the size as it was.
        let to = rng.below(g.maxFileSize + 1);
        if (mode === 'write-eio' || rng.chance(0.5)) to = Math.floor(to / bs) * bs;
        sizes[file] = to;
        ops.push({ op: 'truncate', slot, size: to });
        break;
      }
      case 'fault':
        ops.push(rng.chance(0.5) ? { op: 'heal' } : { op: 'fault', rule: genRule(rng, mode, g) });
        break;
    }
  }
  if (rng.chance(0.6)) ops.push({ op: 'fsync', slot: rng.below(files) });
  return { seed: opts.seed, mode, geometry: g, files, slots, ops };
}

export function describeFaultOp(o: FaultOp): string {
  switch (o.op) {
    case 'open': return `open f${o.file} as fd${o.slot}`;
    case 'close': return `close fd${o.slot}`;
    case 'write': return `write fd${o.slot} [${o.off}, +${o.len})`;
    case 'read': return `read fd${o.slot} [${o.off}, +${o.len})`;
    case 'mapwrite': return `mapwrite fd${o.slot} [${o.off}, +${o.len})${o.msync ? ' msync' : ''}`;
    case 'mapread': return `mapread fd${o.slot} [${o.off}, +${o.len})`;
    case 'truncate': return `truncate fd${o.slot} ${o.size}`;
    case 'fsync': return `fsync fd${o.slot}`;
    case 'fdatasync': return `fdatasync fd${o.slot}`;
    case 'writeback': return `writeback fd${o.slot}`;
    case 'complete': return `complete I/O #${o.which}`;
    case 'sync': return 'sync';
    case 'syncdrop':
    case 'dropcaches': return 'sync and drop caches';
    case 'fault': {
      const r = o.rule;
      const bits: string[] = [r.kind, r.action ?? 'error'];
      if (r.off !== undefined) bits.push(`[${r.off}, +${r.len ?? '∞'})`);
      if (r.after) bits.push(`after ${r.after}`);
      if (r.count !== undefined) bits.push(`count ${r.count}`);
      if (r.probability !== undefined && r.probability < 1) bits.push(`p=${r.probability}`);
      if (r.seed !== undefined) bits.push(`seed ${r.seed}`);
      return `fault ${bits.join(' ')}`;
    }
    case 'heal': return 'heal (remove every fault rule)';
  }
}

/* ------------------------------------------------------------------------------------------ */
/* The model                                                                                  */
/* ------------------------------------------------------------------------------------------ */

interface FileModel {
  name: string;
  /** Contents after each change; the last one is current. */
  versions: Uint8Array[];
  /** Per byte: the oldest version whose value may still be what the media holds. */
  from: Int32Array;
  /** Per byte: the op that last changed it (-1: never). */
  lastMod: Int32Array;
  /** Op of the last write failure attributed to this file (-1: none). */
  lastFault: number;
  /** errseq model: failures so far, and whether the latest has been reported to anybody. */
  errSeq: number;
  errSeen: boolean;
  /** Changed since its last full writeback (fsync/sync/sync and drop caches). */
  dirtySinceSync: boolean;
  /**
   * The legacy AS_EIO bit (filemap_check_errors): set by a write failure, test-and-cleared by
   * the next filemap_write_and_wait_range() that returns it, and cleared by fsync-family calls
   * (file_check_and_advance_wb_err() clears it in Linux). `legacySticky` is the same bit without
   * the fsync clearing, to recognise a filesystem that keeps it.
   */
  legacy: boolean;
  legacySticky: boolean;
}

interface Slot {
  file: number;
  fh: VolumeFile;
  /** errseq model cursor of this open file description. */
  since: number;
}

class Stop extends Error {}

function resized(a: Uint8Array, n: number): Uint8Array {
  if (n === a.length) return a.slice();
  const b = new Uint8Array(n);
  b.set(n < a.length ? a.subarray(0, n) : a);
  return b;
}

function firstDiff(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return i;
  return a.length === b.length ? -1 : n;
}

function countDiff(a: Uint8Array, b: Uint8Array): number {
  let c = 0;
  for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) c++;
  return c + Math.abs(a.length - b.length);
}

const hex = (x: number | undefined): string => (x === undefined ? '--' : `0x${x.toString(16).padStart(2, '0')}`);


class FaultRunner {
  readonly w: FaultWorkload;
  readonly g: FaultGeometry;
  readonly mem: MemoryDevice;
  readonly dev: FaultDevice;
  readonly vol: Volume;
  readonly files: FileModel[] = [];
  readonly slots: Array<Slot | null>;
  readonly pattern: TraceablePattern;
  readonly result: FaultRunResult;
  readonly dataStart: number;
  opIndex = -1;
  /** Faults injected during the current op. */
  opFaults: InjectedFault[] = [];
  /** Device log length at the start of the current op. */
  private logMark = 0;

  constructor(w: FaultWorkload, readonly opts: FaultRunOptions) {
    this.w = w;
    this.g = w.geometry;
    const g = this.g;
    this.mem = new MemoryDevice({ size: g.deviceSize, sectorSize: g.sectorSize, name: `fault-seed-${w.seed}` });
    const chunk = poisonPattern(DEFAULT_POISON_SEED);
    for (let off = 0; off < g.deviceSize; off += chunk.length) this.mem.write(off, chunk.subarray(0, Math.min(chunk.length, g.deviceSize - off)));
    this.dev = new FaultDevice(this.mem, { seed: w.seed });
    const target = opts.target ?? iomapVolume({ bugs: opts.bugs });
    target.mkfs(this.dev, { blockSize: g.blockSize, metaBytes: g.metaBytes });
    this.vol = target.mount(this.dev, { folioSize: g.folioSize });
    this.dataStart = dataStartBytes(g);
    this.pattern = new TraceablePattern(w.seed);
    this.slots = new Array<Slot | null>(w.slots).fill(null);
    this.result = {
      workload: w, violations: [], detections: [], injected: [], opsRun: 0, failedOps: 0, syncChecks: 0, syncErrors: 0, syncTrace: [],
      damagedBytes: 0, notes: [], report: [], elapsedMs: 0,
    };
    for (let i = 0; i < w.files; i++) {
      const name = `f${i}`;
      this.files.push({
        name, versions: [new Uint8Array(0)], from: new Int32Array(g.maxFileSize), lastMod: new Int32Array(g.maxFileSize).fill(-1),
        lastFault: -1, errSeq: 0, errSeen: true, dirtySinceSync: false, legacy: false, legacySticky: false,
      });
      const fh = this.vol.open(name, { create: true });
      if (i < w.slots) this.slots[i] = { file: i, fh, since: 0 };
    }
    this.vol.sync();
    this.dev.resetStats();
    this.dev.onFault = (f) => this.onFault(f);
  }

  /* ---- bookkeeping ------------------------------------------------------------------------ */

  private cur(i: number): Uint8Array {
    const v = this.files[i].versions;
    return v[v.length - 1];
  }

  private latest(i: number): number {
    return this.files[i].versions.length - 1;
  }

  private violate(kind: FaultViolationKind, message: string, file?: number): never {
    this.result.violations.push({ kind, op: this.opIndex, ...(file !== undefined ? { file: this.files[file].name } : {}), message });
    throw new Stop(message);
  }

  /** The file owning device byte `off` (data or COW fork, as the filesystem reports it), or -1. */
  private ownerOf(off: number): number {
    const name = this.vol.ownerOfBlock(Math.floor(off / this.g.blockSize));
    return name === undefined ? -1 : this.files.findIndex((f) => f.name === name);
  }

  private onFault(f: InjectedFault): void {
    this.opFaults.push(f);
    this.result.injected.push({ ...f, op: this.opIndex });
    if (f.kind !== 'write' || f.action !== 'error') return;
    const owner = this.ownerOf(f.off);
    if (owner < 0) {
      // Not attributable: every file may have lost data and may report it (the model gives up
      // exactness for errseq by treating it as a failure of each file).
      this.result.notes.push(`op #${this.opIndex}: write fault at ${f.off} in no file's blocks`);
      for (const fm of this.files) this.recordFailure(fm);
      return;
    }
    this.recordFailure(this.files[owner]);
  }

  private recordFailure(fm: FileModel): void {
    fm.lastFault = this.opIndex;
    fm.errSeq++;
    fm.errSeen = false;
    fm.legacy = true;
    fm.legacySticky = true;
  }

  /** The file's new contents (one version per change). */
  private change(i: number, data: Uint8Array, from: number, to: number): void {
    const fm = this.files[i];
    fm.versions.push(data);
    for (let o = from; o < Math.min(to, fm.lastMod.length); o++) fm.lastMod[o] = this.opIndex;
    fm.dirtySinceSync = true;
  }

  private applyWrite(i: number, off: number, data: Uint8Array): void {
    const old = this.cur(i);
    const b = resized(old, Math.max(old.length, off + data.length));
    b.set(data, off);
    this.change(i, b, Math.min(old.length, off), off + data.length);
  }

  /** Every dirty byte of file i has been written back and waited for: what is now stored? */
  private writtenBack(i: number): void {
    const fm = this.files[i];
    fm.dirtySinceSync = false;
    const v = this.latest(i);
    if (fm.lastFault < 0) {
      fm.from.fill(v);
      return;
    }
    const n = this.cur(i).length;
    for (let o = 0; o < n; o++) if (fm.lastMod[o] > fm.lastFault) fm.from[o] = v;
  }

  /** The errseq answer the model expects from an fsync-family call on this slot. */
  private expectSync(s: Slot): boolean {
    const fm = this.files[s.file];
    const report = s.since !== fm.errSeq;
    s.since = fm.errSeq;
    if (report) fm.errSeen = true;
    return report;
  }

  private dataWritesThisOp(): number {
    let n = 0;
    for (let k = this.logMark; k < this.dev.log.length; k++) {
      const r = this.dev.log[k];
      if (r.kind === 'write' && r.off + r.len > this.dataStart) n++;
    }
    return n;
  }

  private checkClean(i: number, what: string): void {
    const fh = this.anyHandle(i);
    const bad = fh ? fh.dirtyFolios() : [];
    if (bad.length) {
      this.violate('dirty-after-sync', `${this.files[i].name}: after ${what}, folios ${bad.join(', ')}`, i);
    }
  }

  private anyHandle(i: number): VolumeFile | null {
    for (const s of this.slots) if (s && s.file === i) return s.fh;
    return null;
  }

  /** A handle for model reads of file i (opened on demand, never used for fsync). */
  private reader(i: number): VolumeFile {
    return this.anyHandle(i) ?? this.vol.open(this.files[i].name);
  }

  /** fsync/fdatasync/msync on a slot: check the errseq answer, cleanliness and no-retry. */
  private syncCall(s: Slot, what: string, call: () => void): void {
    const fm = this.files[s.file];
    const wasDirty = fm.dirtySinceSync;
    let err: FsError | null = null;
    try {
      call();
    } catch (e) {
      if (!(e instanceof FsError)) throw e;
      err = e;
    }
    const expectErr = this.expectSync(s);
    fm.legacy = false;
    this.result.syncChecks++;
    if (err) this.result.syncErrors++;
    this.result.syncTrace.push([this.opIndex, fm.name, err ? err.code : 0]);
    if (err && err.code !== 'EIO') this.violate('unexpected-error', `${what} on ${fm.name}: ${err.message}`, s.file);
    if (expectErr && !err) {
      this.violate('errseq-missed', `${what} on ${fm.name} returned 0; errseq requires EIO (write failure #${fm.errSeq} at op #${fm.lastFault}, not yet reported on this fd)`, s.file);
    }
    if (!expectErr && err) this.violate('errseq-extra', `${what} on ${fm.name} returned ${err.code}, but no write failure is unreported on this fd`, s.file);
    this.checkClean(s.file, what);
    if (!wasDirty && this.opFaults.length === 0 && this.w.mode === 'write-eio') {
      const n = this.dataWritesThisOp();
      if (n > 0) this.violate('retried-write', `${what} on ${fm.name}: nothing was re-dirtied since the last writeback, yet ${n} data write(s) were issued`, s.file);
    }
    this.writtenBack(s.file);
  }

  /**
   * An op failed: allowed only if a fault of the right kind was injected during it, or (EIO) if
   * it may have flushed the file and picked up the legacy error bit of an earlier failure.
   */
  private failed(e: unknown, what: string, file: number, allowed: string[]): void {
    if (!(e instanceof FsError)) throw e;
    this.result.failedOps++;
    const fm = this.files[file];
    const kind = this.w.mode === 'read-eio' ? 'read' : 'write';
    const explained = this.opFaults.some((f) => f.action === 'error' && f.kind === kind);
    if (explained && allowed.includes(e.code)) return;
    if (!explained && e.code === 'EIO' && fm.legacy) {
      fm.legacy = false;
      fm.legacySticky = false;
      return;
    }
    if (!explained && e.code === 'EIO' && fm.legacySticky) {
      fm.legacySticky = false;
      const msg = `${what} failed with ${e.message}: the legacy AS_EIO bit of the write failure at op #${fm.lastFault}, ` +
        'which an fsync-family call already reported (Linux clears it there: file_check_and_advance_wb_err)';
      if (this.opts.tolerate?.includes('legacy-eio-after-fsync')) {
        this.result.notes.push(`op #${this.opIndex}: tolerated: ${msg}`);
        return;
      }
      this.violate('legacy-eio-after-fsync', msg, file);
    }
    this.violate('unexpected-error', `${what} failed with ${e.message}${explained ? '' : ' and no fault was injected during it'}`, file);
  }

  /** Compare a read with the model where it must be exact. */
  private checkRead(i: number, off: number, got: Uint8Array, what: string): void {
    const cur = this.cur(i);
    const want = cur.subarray(Math.min(off, cur.length), Math.min(off + got.length, cur.length));
    const d = firstDiff(got.subarray(0, want.length), want);
    if (d < 0 && got.length <= want.length) return;
    const at = d < 0 ? off + want.length : off + d;
    const msg = `${what}: byte ${at} of ${this.files[i].name} is ${hex(got[at - off])}, the program wrote ${hex(cur[at])}` +
      ` (${countDiff(got.subarray(0, want.length), want)} bytes differ)`;
    if (this.w.mode === 'drop' || this.w.mode === 'corrupt') {
      const damage = this.result.injected.some((f) => f.action === 'drop' || f.action === 'corrupt');
      if (!damage) this.violate('unexplained-mismatch', `${msg}; nothing was injected`, i);
      this.result.detections.push({ op: this.opIndex, file: this.files[i].name, offset: at, bytes: countDiff(got.subarray(0, want.length), want), phase: 'mid-run' });
      throw new Stop('detected');
    }
    this.violate('wrong-data', msg, i);
  }

  /* ---- ops -------------------------------------------------------------------------------- */

  runOp(o: FaultOp, index: number): boolean {
    this.opIndex = index;
    this.opFaults = [];
    this.logMark = this.dev.log.length;
    const slotOf = (s: number): Slot | null => (s >= 0 && s < this.slots.length ? this.slots[s] : null);
    switch (o.op) {
      case 'open': {
        if (o.file < 0 || o.file >= this.files.length || o.slot < 0 || o.slot >= this.slots.length) return false;
        const old = this.slots[o.slot];
        if (old) old.fh.close();
        const fm = this.files[o.file];
        this.slots[o.slot] = { file: o.file, fh: this.vol.open(fm.name), since: fm.errSeen ? fm.errSeq : fm.errSeq - 1 };
        return true;
      }
      case 'close': {
        const s = slotOf(o.slot);
        if (!s) return false;
        s.fh.close();
        this.slots[o.slot] = null;
        return true;
      }
      case 'write': {
        const s = slotOf(o.slot);
        if (!s) return false;
        const data = this.pattern.data(index, o.off, o.len);
        let n: number;
        try {
          n = s.fh.pwrite(o.off, data);
        } catch (e) {
          this.failed(e, describeFaultOp(o), s.file, ['EIO']);
          // Nothing was written; zeroing past EOF (if any) is beyond EOF, invisible.
          return true;
        }
        if (n < o.len) {
          this.result.failedOps++;
          if (!this.opFaults.some((f) => f.action === 'error')) this.violate('unexpected-error', `${describeFaultOp(o)}: short write ${n} with no injected fault`, s.file);
          if (n === 0) return true;
        }
        this.applyWrite(s.file, o.off, data.subarray(0, n));
        return true;
      }
      case 'read': {
        const s = slotOf(o.slot);
        if (!s) return false;
        let got: Uint8Array;
        try {
          got = s.fh.pread(o.off, o.len);
        } catch (e) {
          this.failed(e, describeFaultOp(o), s.file, ['EIO']);
          return true;
        }
        const size = this.cur(s.file).length;
        const want = Math.max(0, Math.min(o.len, size - o.off));
        if (got.length > want) this.violate('size', `${describeFaultOp(o)} returned ${got.length} bytes, at most ${want} exist`, s.file);
        if (got.length < want) this.result.failedOps++;
        if (got.length < want && !this.opFaults.some((f) => f.action === 'error')) {
          this.violate('unexpected-error', `${describeFaultOp(o)}: short read ${got.length} of ${want} with no injected fault`, s.file);
        }
        this.checkRead(s.file, o.off, got, describeFaultOp(o));
        return true;
      }
      case 'mapread': {
        const s = slotOf(o.slot);
        if (!s) return false;
        const size = this.cur(s.file).length;
        if (o.off + o.len > Math.ceil(size / this.vol.pageSize) * this.vol.pageSize) return false; // SIGBUS by design
        let got: Uint8Array;
        try {
          got = s.fh.mapread!(o.off, o.len);
        } catch (e) {
          this.failed(e, describeFaultOp(o), s.file, ['SIGBUS']);
          return true;
        }
        const inside = Math.max(0, Math.min(o.len, size - o.off));
        this.checkRead(s.file, o.off, got.subarray(0, inside), describeFaultOp(o));
        for (let k = inside; k < got.length; k++) {
          if (got[k] !== 0) this.violate('wrong-data', `${describeFaultOp(o)}: byte ${o.off + k} past EOF ${size} reads ${hex(got[k])} through mmap`, s.file);
        }
        return true;
      }
      case 'mapwrite': {
        const s = slotOf(o.slot);
        if (!s) return false;
        const size = this.cur(s.file).length;
        if (o.off >= size) return false;
        const len = Math.min(o.len, size - o.off);
        const data = this.pattern.data(index, o.off, len);
        try {
          s.fh.mapwrite!(o.off, data, { msync: false });
        } catch (e) {
          this.failed(e, describeFaultOp(o), s.file, ['SIGBUS']);
          return true;
        }
        this.applyWrite(s.file, o.off, data);
        if (o.msync) this.syncCall(s, 'msync', () => s.fh.fdatasync());
        return true;
      }
      case 'truncate': {
        const s = slotOf(o.slot);
        if (!s) return false;
        const old = this.cur(s.file);
        try {
          s.fh.truncate(o.size);
        } catch (e) {
          this.failed(e, describeFaultOp(o), s.file, ['EIO']);
          const now = s.fh.size();
          if (now === o.size) {
            this.change(s.file, resized(old, o.size), Math.min(old.length, o.size), Math.max(old.length, o.size));
            this.result.notes.push(`op #${index}: ${describeFaultOp(o)} failed with EIO after changing the size (Linux order)`);
          } else if (now === old.length) {
            this.result.notes.push(`op #${index}: ${describeFaultOp(o)} failed with EIO and left the size at ${now}`);
          } else {
            this.violate('size', `${describeFaultOp(o)} failed and left size ${now} (was ${old.length})`, s.file);
          }
          return true;
        }
        this.change(s.file, resized(old, o.size), Math.min(old.length, o.size), Math.max(old.length, o.size));
        return true;
      }
      case 'fsync':
      case 'fdatasync': {
        const s = slotOf(o.slot);
        if (!s) return false;
        this.syncCall(s, o.op, () => (o.op === 'fsync' ? s.fh.fsync() : s.fh.fdatasync()));
        return true;
      }
      case 'writeback': {
        const s = slotOf(o.slot);
        if (!s) return false;
        s.fh.writeback();
        return true;
      }
      case 'complete': {
        const n = this.vol.pendingIo();
        if (!n) return false;
        this.vol.complete(o.which % n);
        return true;
      }
      case 'sync':
        this.vol.sync();
        for (let i = 0; i < this.files.length; i++) {
          this.checkClean(i, 'sync');
          this.writtenBack(i);
        }
        return true;
      case 'syncdrop':
      case 'dropcaches':
        this.vol.sync();
        this.vol.dropCaches();
        for (let i = 0; i < this.files.length; i++) {
          this.checkClean(i, 'sync and drop caches');
          this.writtenBack(i);
          this.checkEvicted(i);
        }
        // The check read everything back: drop it again, so later ops start from a cold cache.
        this.vol.dropCaches();
        return true;
      case 'fault':
        this.dev.addFault(o.rule);
        return true;
      case 'heal':
        this.dev.clearFaults();
        return true;
    }
  }

  /**
   * After the cache was dropped: read file i back. Where the model is exact it must match; in
   * 'write-eio' mode each byte may hold any value it had since it was last known stored; the
   * values found become the new truth (they are what the media holds).
   */
  private checkEvicted(i: number): void {
    const fm = this.files[i];
    const cur = this.cur(i);
    const fh = this.reader(i);
    if (fh.size() !== cur.length) this.violate('size', `${fm.name}: size ${fh.size()} after drop caches, the program gave it ${cur.length}`, i);
    let got: Uint8Array;
    try {
      got = fh.pread(0, cur.length);
    } catch (e) {
      this.failed(e, `reading ${fm.name} back after drop caches`, i, ['EIO']);
      return;
    }
    if (got.length < cur.length) {
      if (!this.opFaults.some((f) => f.action === 'error' && f.kind === 'read')) {
        this.violate('unexpected-error', `reading ${fm.name} back after drop caches: short read ${got.length} of ${cur.length}`, i);
      }
      return;
    }
    if (this.w.mode !== 'write-eio') {
      this.checkRead(i, 0, got, `${fm.name} read back after drop caches`);
      return;
    }
    this.checkAllowed(i, got, 'after drop caches');
    if (Buffer.compare(got, cur) !== 0) {
      this.result.notes.push(`op #${this.opIndex}: ${fm.name} lost ${countDiff(got, cur)} byte(s) to write failures (allowed)`);
      fm.versions.push(got.slice());
    }
    fm.from.fill(this.latest(i));
  }

  /** Is every byte of `got` a value the byte had in an allowed version (write-eio data loss rule)? */
  private checkAllowed(i: number, got: Uint8Array, when: string): void {
    const fm = this.files[i];
    const vs = fm.versions;
    const last = vs.length - 1;
    const cur = vs[last];
    for (let o = 0; o < got.length; o++) {
      if (got[o] === cur[o]) continue;
      let ok = false;
      // Walk back from the newest version; a version whose size cut o off ends the walk (data
      // truncated away must not come back), after allowing its own value (zero past its EOF).
      for (let k = last - 1; k >= fm.from[o]; k--) {
        const v = vs[k];
        const val = o < v.length ? v[o] : 0;
        if (val === got[o]) {
          ok = true;
          break;
        }
        if (o >= v.length) break;
      }
      if (!ok) {
        const opts = [];
        for (let k = last; k >= fm.from[o]; k--) opts.push(hex(o < vs[k].length ? vs[k][o] : 0));
        this.violate('bad-bytes', `${fm.name} ${when}: byte ${o} is ${hex(got[o])}; allowed (newest first, since it was last stored): ${[...new Set(opts)].join(' ')}` +
          `${fm.lastFault >= 0 ? `; last write failure at op #${fm.lastFault}` : '; no write failure in this file'}`, i);
      }
    }
  }

  /* ---- the final check -------------------------------------------------------------------- */

  /** What a read of file i must return now: the raw media through FIEMAP (null: inline file). */
  private mediaView(i: number, size: number): Uint8Array | null {
    const fh = this.reader(i);
    const out = new Uint8Array(size);
    if (size === 0) return out;
    for (const e of fh.fiemap!(0, size, 0)) {
      if (e.flags & FIEMAP_EXTENT_DATA_INLINE) return null;
      if (e.flags & FIEMAP_EXTENT_UNWRITTEN) continue;
      const a = Math.max(0, e.logical);
      const b = Math.min(size, e.logical + e.length);
      if (a >= b) continue;
      const bs = this.g.blockSize;
      const pa = e.physical + (a - e.logical);
      const start = Math.floor(pa / bs) * bs;
      const raw = new Uint8Array(Math.ceil((pa + (b - a)) / bs) * bs - start);
      this.mem.read(start, raw);
      out.set(raw.subarray(pa - start, pa - start + (b - a)), a);
    }
    return out;
  }

  finalCheck(): void {
    this.opIndex = this.w.ops.length;
    this.opFaults = [];
    this.dev.enabled = false;
    this.vol.drain();
    this.vol.sync();
    this.vol.dropCaches();
    for (let i = 0; i < this.files.length; i++) {
      this.checkClean(i, 'the final sync');
      this.writtenBack(i);
    }
    const problems = this.vol.invariants();
    if (problems.length) this.violate('invariant', problems.slice(0, 3).join('; '));
    // In corrupt mode the final read-back goes through a fresh corruption rule.
    let corruptions: InjectedFault[] = [];
    if (this.w.mode === 'corrupt') {
      this.dev.clearFaults();
      this.dev.enabled = true;
      const start = this.dataStart;
      this.dev.addFault({ kind: 'read', action: 'corrupt', off: start, len: this.g.deviceSize - start, probability: 0.5, seed: this.w.seed ^ 0xc0de });
    }
    for (let i = 0; i < this.files.length; i++) {
      const fm = this.files[i];
      const cur = this.cur(i);
      const fh = this.reader(i);
      if (fh.size() !== cur.length) this.violate('size', `${fm.name}: size ${fh.size()} at the end, the program gave it ${cur.length}`, i);
      const media = this.mediaView(i, cur.length);
      const before = this.dev.injected.length;
      const got = fh.pread(0, cur.length);
      corruptions = this.dev.injected.slice(before).filter((f) => f.action === 'corrupt');
      if (media) {
        // The read path returns exactly the media, plus the flips injected into this read.
        const expect = media.slice();
        for (const f of corruptions) {
          for (const e of fh.fiemap!(0, cur.length, 0)) {
            if (e.flags & (FIEMAP_EXTENT_UNWRITTEN | FIEMAP_EXTENT_DATA_INLINE)) continue;
            if (f.at! >= e.physical && f.at! < e.physical + e.length) {
              const o = e.logical + (f.at! - e.physical);
              if (o < cur.length) expect[o] = f.to!;
            }
          }
        }
        const d = firstDiff(got, expect);
        if (d >= 0) {
          this.violate('read-path', `${fm.name}: byte ${d} reads ${hex(got[d])}, the media holds ${hex(media[d])}` +
            `${expect[d] !== media[d] ? ` and the injected corruption makes it ${hex(expect[d])}` : ''}`, i);
        }
        const damaged = countDiff(media, cur);
        this.result.damagedBytes += damaged;
        if (damaged && this.w.mode === 'read-eio') this.violate('bad-bytes', `${fm.name}: ${damaged} byte(s) on the media differ from the program's (first ${firstDiff(media, cur)}) after read errors only`, i);
        if (damaged && this.w.mode === 'write-eio') this.checkAllowed(i, media, 'on the media at the end');
      }
      if (this.w.mode === 'write-eio') {
        this.checkAllowed(i, got, 'at the end');
        continue;
      }
      const d = firstDiff(got, cur);
      if (d < 0) continue;
      const damage = this.result.injected.some((f) => f.action === 'drop' || f.action === 'corrupt') || corruptions.length > 0;
      const msg = `${fm.name}: byte ${d} reads ${hex(got[d])} at the end, the program wrote ${hex(cur[d])} (${countDiff(got, cur)} bytes differ)`;
      if (this.w.mode === 'read-eio') this.violate('wrong-data', msg, i);
      if (!damage) this.violate('unexplained-mismatch', `${msg}; nothing was injected`, i);
      this.result.detections.push({ op: this.opIndex, file: fm.name, offset: d, bytes: countDiff(got, cur), phase: 'final' });
    }
    this.dev.enabled = false;
  }
}

/* ------------------------------------------------------------------------------------------ */
/* Running and shrinking                                                                      */
/* ------------------------------------------------------------------------------------------ */

function formatReport(r: FaultRunResult, runner: FaultRunner | null): string[] {
  const w = r.workload;
  const out: string[] = [];
  out.push(`fault workload seed ${w.seed}, mode ${w.mode}, geometry ${JSON.stringify(w.geometry)}`);
  if (r.violations.length) {
    out.push('violations:');
    for (const v of r.violations) out.push(`  op #${v.op}: ${v.kind}: ${v.message}`);
  }
  if (r.detections.length) {
    out.push('detections:');
    for (const d of r.detections) out.push(`  op #${d.op} (${d.phase}): ${d.file} byte ${d.offset}, ${d.bytes} byte(s) differ`);
  }
  const stopAt = r.violations.length ? r.violations[0].op : r.detections.length ? r.detections[0].op : -1;
  out.push('ops:');
  w.ops.forEach((o, i) => {
    const faults = r.injected.filter((f) => f.op === i);
    out.push(`  #${i} ${describeFaultOp(o)}${i === stopAt ? '  <- here' : ''}`);
    for (const f of faults.slice(0, 4)) out.push(`        ${runner ? runner.dev.describeFault(f) : JSON.stringify(f)}`);
    if (faults.length > 4) out.push(`        ... ${faults.length - 4} more faults`);
  });
  for (const n of r.notes.slice(0, 8)) out.push(`note: ${n}`);
  out.push(`replay: runFaultWorkload(${JSON.stringify(w)})`);
  return out;
}

/** Run a fault workload and check it; stops at the first violation or mid-run detection. */
export function runFaultWorkload(w: FaultWorkload, opts: FaultRunOptions = {}): FaultRunResult {
  const target = opts.target ?? iomapVolume({ bugs: opts.bugs });
  return target.session(() => runFaultOn(w, { ...opts, target }));
}

function runFaultOn(w: FaultWorkload, opts: FaultRunOptions): FaultRunResult {
  const t0 = Date.now();
  let runner: FaultRunner | null = null;
  let result: FaultRunResult;
  try {
    runner = new FaultRunner(w, opts);
    result = runner.result;
  } catch (e) {
    result = {
      workload: w, violations: [{ kind: 'exception', op: -1, message: `setup: ${e instanceof Error ? e.message : String(e)}` }],
      detections: [], injected: [], opsRun: 0, failedOps: 0, syncChecks: 0, syncErrors: 0, syncTrace: [], damagedBytes: 0, notes: [], report: [], elapsedMs: 0,
    };
    result.report = formatReport(result, null);
    return result;
  }
  const r = runner;
  try {
    w.ops.forEach((o, i) => {
      if (r.runOp(o, i)) result.opsRun++;
      if (opts.invariantsEachOp) {
        const p = r.vol.invariants();
        if (p.length) {
          result.violations.push({ kind: 'invariant', op: i, message: p.slice(0, 3).join('; ') });
          throw new Stop('invariant');
        }
      }
    });
    r.finalCheck();
  } catch (e) {
    if (!(e instanceof Stop)) {
      const msg = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
      result.violations.push({ kind: 'exception', op: r.opIndex, message: msg });
    }
  }
  result.report = formatReport(result, r);
  result.elapsedMs = Date.now() - t0;
  return result;
}

/** The first violation's kind (the failure's "signature" for shrinking and the corpus). */
export function faultSignature(r: FaultRunResult): { kind: FaultViolationKind; file?: string } | null {
  const v = r.violations[0];
  return v ? { kind: v.kind, ...(v.file !== undefined ? { file: v.file } : {}) } : null;
}

/**
 * Shrink a failing fault workload by deleting ops (chunks, then single ops, back to front) while
 * it still fails with a violation of the same kind; then try dropping probabilities and limits
 * from the fault rules that remain. Deterministic; one run per attempt.
 */
export function shrinkFaultWorkload(w: FaultWorkload, opts: FaultRunOptions = {}): FaultWorkload {
  const first = runFaultWorkload(w, opts);
  const sig = faultSignature(first);
  if (!sig) return w;
  const fails = (ops: FaultOp[]): boolean => faultSignature(runFaultWorkload({ ...w, ops }, opts))?.kind === sig.kind;
  let ops = w.ops.slice();
  // Nothing after the failing op matters.
  const stop = first.violations[0].op;
  if (stop >= 0 && stop < ops.length - 1 && fails(ops.slice(0, stop + 1))) ops = ops.slice(0, stop + 1);
  for (let chunk = Math.max(1, ops.length >> 1); chunk >= 1; chunk = chunk === 1 ? 0 : Math.max(1, chunk >> 1)) {
    for (let i = ops.length - chunk; i >= 0; i--) {
      const cand = [...ops.slice(0, i), ...ops.slice(i + chunk)];
      if (fails(cand)) {
        ops = cand;
        i = Math.min(i, ops.length - chunk + 1);
      }
    }
  }
  // Simpler rules: certain instead of random, no after/count, where the failure survives it.
  for (let i = 0; i < ops.length; i++) {
    const o = ops[i];
    if (o.op !== 'fault') continue;
    for (const simpler of [
      { ...o.rule, probability: undefined, after: undefined, count: undefined },
      { ...o.rule, probability: undefined, after: undefined },
      { ...o.rule, probability: undefined },
    ]) {
      const rule = Object.fromEntries(Object.entries(simpler).filter(([, v]) => v !== undefined)) as unknown as FaultSpec;
      const cand = ops.slice();
      cand[i] = { op: 'fault', rule };
      if (fails(cand)) {
        ops = cand;
        break;
      }
    }
  }
  return { ...w, ops };
}

export interface FaultCampaignResult {
  mode: FaultMode;
  workloads: number;
  ops: number;
  injected: number;
  failedOps: number;
  syncChecks: number;
  syncErrors: number;
  /** Workloads whose media ended up damaged or that were stopped by a detection. */
  damagedWorkloads: number;
  detectedWorkloads: number;
  failures: FaultRunResult[];
  elapsedMs: number;
}

/** Run seeded workloads of one mode from `firstSeed` until `count` ran or `timeMs` passed. */
export function runFaultCampaign(o: {
  mode: FaultMode; firstSeed?: number; count?: number; timeMs?: number; ops?: number; bugs?: RefsBugs; maxFailures?: number;
  tolerate?: FaultViolationKind[]; target?: VolumeProvider;
}): FaultCampaignResult {
  const t0 = Date.now();
  const res: FaultCampaignResult = {
    mode: o.mode, workloads: 0, ops: 0, injected: 0, failedOps: 0, syncChecks: 0, syncErrors: 0, damagedWorkloads: 0, detectedWorkloads: 0, failures: [], elapsedMs: 0,
  };
  const count = o.count ?? Infinity;
  for (let seed = o.firstSeed ?? 1; res.workloads < count; seed++) {
    if (o.timeMs !== undefined && Date.now() - t0 >= o.timeMs) break;
    const r = runFaultWorkload(generateFaultWorkload({ seed, mode: o.mode, ops: o.ops }), { bugs: o.bugs, tolerate: o.tolerate, target: o.target });
    res.workloads++;
    res.ops += r.opsRun;
    res.injected += r.injected.length;
    res.failedOps += r.failedOps;
    res.syncChecks += r.syncChecks;
    res.syncErrors += r.syncErrors;
    if (r.damagedBytes > 0 || r.detections.some((d) => d.phase === 'mid-run')) res.damagedWorkloads++;
    if (r.detections.length) res.detectedWorkloads++;
    if (r.violations.length) {
      res.failures.push(r);
      if (res.failures.length >= (o.maxFailures ?? 3)) break;
    }
  }
  res.elapsedMs = Date.now() - t0;
  return res;
}
