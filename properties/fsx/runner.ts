/**
 * The fsx runner: applies one op record to the target and to the oracle, then checks, as fsx's
 * do_* functions and test() do:
 *  - whether the op applies to the current file at all (zero length, read past EOF, punch/collapse/
 *    insert/clone/dedupe/copy behind EOF, ...) — if not it is logged as skipped, like fsx;
 *  - bytes read (read, mapread, direct read, and -X full-file reads) against the oracle;
 *  - the size after every op (unless -n); the EOF page tail reads zero through mmap;
 *  - results of dedupe/copy_range, SEEK_DATA/SEEK_HOLE soundness, FIEMAP shape and coverage.
 * A failure is recorded in `failure` (fsx-style lines; report.ts adds the LOG DUMP) and apply()
 * returns false. An FsError from the target is an op failure (EOPNOTSUPP turns the op off instead);
 * any other exception is a target crash.
 *
 * Hot path: one switch per op, bulk compares, no per-op allocation besides what the target returns.
 */

import type { Capabilities, FaultSteps, FileTarget, FiemapExtent, InterleavingSteps, KernelEvidence, ReadKind } from '../../adapters/types';
import {
  FALLOC_FL_COLLAPSE_RANGE, FALLOC_FL_INSERT_RANGE, FALLOC_FL_KEEP_SIZE, FALLOC_FL_PUNCH_HOLE,
  FALLOC_FL_UNSHARE_RANGE, FALLOC_FL_ZERO_RANGE,
} from '../../adapters/types';
import { FsError } from '../../reference/errno';
import { TargetError, HarnessLimit } from '../../adapters/errors';
import { MAX_OFFSET, Mismatch, SparseBytes, oracleChunkSize } from '../oracle/bytes';
import { RangeSet } from '../../reference/ranges';
import {
  FIEMAP_EXTENT_DATA_ENCRYPTED, FIEMAP_EXTENT_DATA_INLINE, FIEMAP_EXTENT_DATA_TAIL, FIEMAP_EXTENT_DELALLOC,
  FIEMAP_EXTENT_ENCODED, FIEMAP_EXTENT_LAST, FIEMAP_EXTENT_NOT_ALIGNED, FIEMAP_EXTENT_UNKNOWN,
  FIEMAP_EXTENT_SHARED, FIEMAP_EXTENT_UNWRITTEN, FIEMAP_FLAG_SYNC, FL_CHECK_SHARED, FL_CLOSE_OPEN, FL_DSYNC, FL_FAULT_AT, FL_RESERVE, FL_KEEP_SIZE,
  FL_NO_MSYNC, FL_POLLUTE, FL_SKIPPED, FL_UNSHARE, isRace, FAULT_READ_EVICT, FAULT_READ_MMAP, FAULT_WRITE_ACTIONS, OP_FAULT_READ, OP_FAULT_WRITE,
  OP_CLONE_RANGE, OP_CRASH, OP_COLLAPSE_RANGE, OP_COMPLETE_IO, OP_COPY_RANGE, OP_DEDUPE_RANGE, OP_EVICT, OP_FALLOCATE, FL_INVALID,
  OP_FDATASYNC, OP_FIEMAP, OP_FSYNC, OP_INSERT_RANGE, OP_MAPREAD, OP_MAPWRITE, OP_PUNCH_HOLE, OP_RACE_PUNCH,
  OP_RACE_WRITE, OP_RACE_WRITEBACK, OP_READ, OP_READ_DIRECT, OP_REMOUNT, OP_SEEK_DATA, OP_SEEK_HOLE, OP_TRUNCATE, OP_WRITE,
  OP_WRITE_DIRECT, OP_WRITE_DIRECT_ASYNC, OP_WRITEBACK, OP_ZERO_RANGE, OPS, OpBuffer,
  OP_READ_DONTCACHE, OP_WRITE_DONTCACHE, OP_WRITE_ATOMIC, OP_EXCHANGE_RANGE,
} from './ops';
import { AtomicChange, DurabilityTracker, FoundFile, FULL_CHECK_BYTES } from './durability';
import { mappingChanges, mappingOf, rangesOutside } from './moved-ranges';
import { eofRelationOf, extentClassOf, fileEof } from '../coverage/cells';
import type { CoverageRecorder } from '../coverage/recorder';
import { opOfBadByte, Pattern } from './pattern';

/** What went wrong. `kind` is stable (JSON summaries and op logs use it). */
export type FailureKind =
  | 'bad-data' // READ BAD DATA: bytes read differ from the oracle
  | 'short-read' // a read returned fewer/more bytes than the file holds
  | 'short-write' // a write/copy returned a count other than requested
  | 'size' // Size error: st_size differs from the oracle
  | 'eof-page' // mapped read: non-zero data past EOF in the EOF page
  | 'op-error' // an op that must succeed failed with an errno (or SIGBUS)
  | 'dedupe' // dedupe reported the wrong byte count for (un)equal ranges
  | 'seek' // SEEK_DATA/SEEK_HOLE answer out of bounds or claims a hole over data
  | 'fiemap' // FIEMAP extents malformed, or data left unmapped
  | 'contract' // the target's contract monitor reported a rule violation (rule = its ID, e.g. R33)
  | 'invariant' // the target's own model invariants broke (reference targets: folio state, reservations)
  | 'errno' // an op with arguments a correct target must refuse succeeded, failed with another errno, or changed something
  | 'durability' // after a power cut (crash op): acknowledged data lost, or bytes that are neither old nor new
  | 'recovery' // after a power cut: the filesystem did not mount, or its own consistency check failed
  | 'fault' // under a device fault (fault_read/fault_write): wrong bytes, an error not reported exactly once, or an error no fault explains
  | 'uncached' // an RWF_DONTCACHE read or write left the folios it brought in cached once its I/O completed
  | 'divergence' // a differential target (diff:): host and reference disagree (rule = what: diff-result, diff-mapping, ...)
  | 'crash' // the target threw something that is not an FsError
  | 'hang'; // the target stopped making progress (out-of-process / watchdog)

export const FAILURE_KINDS: readonly FailureKind[] = [
  'bad-data', 'short-read', 'short-write', 'size', 'eof-page', 'op-error', 'dedupe', 'seek', 'fiemap', 'contract', 'invariant',
  'errno', 'durability', 'recovery', 'divergence', 'crash', 'hang', 'fault', 'uncached',
];

export interface Failure {
  kind: FailureKind;
  /** Invariant of file-ops.md §14 that was broken, as "fileops-14.N". */
  rule?: string;
  /** 1-based number of the failing op. */
  op: number;
  /** The bad file offset (first bad byte), when there is one; drives LOG DUMP overlap markers. */
  offset?: number;
  /** Errno name for op-error. */
  errno?: string;
  /** fsx-style description lines (the LOG DUMP is added by report.ts). */
  lines: string[];
  /** Stack of a crash (not part of the deterministic report). */
  stack?: string;
  /** The kernel's own report of the failed op, when the target captured one (FileTarget.kernelEvidence). */
  evidence?: KernelEvidence;
}

export { TargetError, HarnessLimit };

/**
 * A rule violation reported by a contract monitor inside the target (properties/contract: an Error
 * named ContractViolation with a `rule` ID). Recognised by shape, so the engine does not depend on it.
 */
export function contractViolation(e: unknown): { rule: string; lines: string[] } | null {
  if (!(e instanceof Error) || e.name !== 'ContractViolation') return null;
  const rule = (e as { rule?: unknown }).rule;
  return typeof rule === 'string' ? { rule, lines: e.message.split('\n') } : null;
}

/** A differential target's report that host and reference disagree (adapters/diff.ts), by shape. */
export function divergence(e: unknown): { rule: string; lines: string[]; errno?: string } | null {
  if (!(e instanceof Error) || e.name !== 'Divergence') return null;
  const rule = (e as { rule?: unknown }).rule;
  const errno = (e as { errno?: unknown }).errno;
  if (typeof rule !== 'string') return null;
  return typeof errno === 'string' ? { rule, lines: e.message.split('\n'), errno } : { rule, lines: e.message.split('\n') };
}

export interface Output {
  out(line: string): void;
  err(line: string): void;
  /**
   * Write out what `out` has batched. Called after each -p progress line: a long run killed by a
   * time limit must have printed how far it got (the CLI batches lines 512 at a time).
   */
  flush?(): void;
}

export interface RunnerConfig {
  /**
   * Ask the target's own invariants (when it has them) after every op. The fsx engine turns it
   * on; callers that apply ops from inside another operation (the suites' race steps) leave it
   * off, since mid-operation state is allowed to be transient.
   */
  checkInvariants?: boolean;
  /**
   * Keep the file's versions since the last fsync, so a `crash` op can be judged (the engine
   * turns it on when crash ops will run on a target that can crash). Costs a copy of each op's
   * changed bytes.
   */
  trackDurability?: boolean;
  /** Shown as fsx's fname in reports (the adapter spec). */
  name: string;
  maxlen: number;
  checkFile: boolean;
  sizeChecks: boolean;
  simulatedOps: number;
  /** fsx -e: junk past EOF in the EOF page (through mmap) before size changes. */
  polluteEof: boolean;
  /**
   * The target's largest folio, when known (the reference's --folio): the folios a store through
   * the mapping dirties whole. Unknown: 2 MiB, the largest any target may use.
   */
  folioSize?: number;
  quiet: boolean;
  debug: boolean;
  progressInterval: number;
  /** Ops before op 1 of this runner in the whole run (sweep rounds): -p counts from the run's start. */
  progressBase?: number;
}

const hex = (n: number): string => '0x' + n.toString(16);

/** The first line of a check's failure, or what builds it (only when the check fails). */
type Head = string | (() => string);

function headLine(h: Head): string {
  return typeof h === 'string' ? h : h();
}

/**
 * fsx's GOOD/BAD column: the 2-byte word at i, or the one byte at i when it is the read's last
 * (a second byte would be one the read never returned).
 */
const word = (b: Uint8Array, i: number, len: number): string => (i + 1 < len
  ? '0x' + (((b[i] ?? 0) << 8) | (b[i + 1] ?? 0)).toString(16).padStart(4, '0')
  : ('0x' + (b[i] ?? 0).toString(16).padStart(2, '0')).padEnd(6));

/** The largest folio any target may use (a PMD, 2 MiB): a store's folio when the target's is not known. */
const MAX_FOLIO_SPAN = 2 * 1024 * 1024;

/** Ops the target may refuse with EOPNOTSUPP (then they are turned off, as fsx does). */
const OPTIONAL = new Set<number>([
  OP_MAPREAD, OP_MAPWRITE, OP_FALLOCATE, OP_PUNCH_HOLE, OP_ZERO_RANGE, OP_COLLAPSE_RANGE, OP_INSERT_RANGE,
  OP_CLONE_RANGE, OP_DEDUPE_RANGE, OP_COPY_RANGE, OP_READ_DIRECT, OP_WRITE_DIRECT, OP_SEEK_DATA, OP_SEEK_HOLE,
  OP_FIEMAP, OP_FDATASYNC, OP_READ_DONTCACHE, OP_WRITE_DONTCACHE, OP_WRITE_ATOMIC, OP_EXCHANGE_RANGE,
]);

/**
 * Ops that wait for in-flight asynchronous direct writes first (the runner completes every pending
 * I/O before them): the size and space changers wait in the kernel too (inode_dio_wait in
 * truncate, fallocate and remap), and for writes, mmap stores, SEEK and FIEMAP the oracle has no
 * answer while the bytes under an in-flight write are still "old or new".
 */
const WAITS_FOR_DIO = new Set<number>([
  OP_WRITE, OP_MAPWRITE, OP_WRITE_DIRECT, OP_TRUNCATE, OP_FALLOCATE, OP_PUNCH_HOLE, OP_ZERO_RANGE, OP_COLLAPSE_RANGE,
  OP_INSERT_RANGE, OP_CLONE_RANGE, OP_DEDUPE_RANGE, OP_COPY_RANGE, OP_SEEK_DATA, OP_SEEK_HOLE, OP_FIEMAP,
  OP_RACE_WRITE, OP_RACE_PUNCH, OP_RACE_WRITEBACK, OP_REMOUNT, OP_WRITE_DONTCACHE, OP_WRITE_ATOMIC, OP_EXCHANGE_RANGE,
]);

/** Completions a drain may take before the target is declared hung. */
const DRAIN_LIMIT = 1 << 20;

/** An asynchronous direct write submitted but not yet known to be complete. */
interface InFlight {
  off: number;
  data: Uint8Array;
}

/** What a correct target answers bad arguments with (Runner.mustRefuse). */
interface Refusal {
  errno: string;
  rule: string;
  why: string;
  /** The target may serve the call instead (misaligned O_DIRECT on some filesystems). */
  maySucceed?: boolean;
}

/** The FIEMAP flags that pick an extent's coverage class. */
const EXTENT_FLAGS = {
  shared: FIEMAP_EXTENT_SHARED, delalloc: FIEMAP_EXTENT_DELALLOC, unwritten: FIEMAP_EXTENT_UNWRITTEN, inline: FIEMAP_EXTENT_DATA_INLINE,
};

/** Largest piece the -X full-file check reads at once. */
const CHECK_PIECE = 1 << 20;
/**
 * A zero gap of the oracle longer than this is read in full only at its two ends (GAP_EDGE bytes
 * each); inside it, where the target's SEEK_DATA finds data (checkRanges). At least fsx's default
 * -l (256 KiB): such files are always read whole.
 */
const GAP_READ_ALL = 1 << 18;
/** Bytes read at each end of a long zero gap: a page either side of the data around it. */
const GAP_EDGE = 4096;
/**
 * GAP_READ_ALL of an incremental remount check (files over INCREMENTAL_CHECK_FROM only): inside
 * the windows around what changed, a zero gap longer than this is read at its ends and where
 * SEEK_DATA finds data, so a check costs the bytes changed, not the window (whole 2 MiB folios).
 */
const WINDOW_GAP_READ_ALL = 4 * GAP_EDGE;
/**
 * Files up to this size are read whole after a refused call (nothing may have changed); larger
 * ones around the ranges the call named and at EOF (refusalRanges).
 */
const REFUSAL_FULL_CHECK = 1 << 20;
/**
 * Files up to this size are read whole at every remount; larger ones incrementally, over what
 * changed since the last remount check (remountRanges), and whole at every FULL_CHECK_EVERY-th
 * such remount and at the end of the run (finish).
 */
const INCREMENTAL_CHECK_FROM = 1 << 20;
/** An incremental remount check reads whole units of this size (or folios) around each change. */
const CHANGE_WINDOW = 1 << 16;
/** Of the remounts of a file larger than INCREMENTAL_CHECK_FROM, every this-many-th reads it whole. */
const FULL_CHECK_EVERY = 8;
/**
 * A target's invariants after an op look at what the op changed (`invariants(true)`), and at
 * everything after every this-many-th op and at the end of the run (docs/fsx.md).
 */
export const FULL_INVARIANTS_EVERY = 100;
/** Extents at which a FIEMAP answer may be a full array (the final one then lacks LAST). */
const FIEMAP_FULL = 1024;
/** Dedupe requests are capped at 1 GiB per call (fs/remap_range.c). */
const DEDUPE_MAX = 1 << 30;

/** The first extent edge (start or end) of `ext` past offset `rel` of a range starting at `base`, as an offset in the range (Infinity: none). */
function nextEdge(ext: readonly FiemapExtent[], base: number, rel: number): number {
  let edge = Infinity;
  for (const e of ext) {
    const lo = e.logical - base;
    const hi = lo + e.length;
    if (lo > rel) edge = Math.min(edge, lo);
    else if (hi > rel) edge = Math.min(edge, hi);
  }
  return edge;
}

/** The target's mapping of moved ranges before a remount (extents null: FIEMAP failed). */
interface MovedMapping {
  ranges: Array<[number, number]>;
  extents: FiemapExtent[][] | null;
}

export class Runner {
  /** What every byte must read as; its chunk size follows the largest file (oracleChunkSize). */
  readonly oracle: SparseBytes;
  /** Number of the op being applied (1-based); 0 before the first. */
  opNum = 0;
  failure: Failure | null = null;
  /** Called when the target answers EOPNOTSUPP for an optional op (the generator turns it off). */
  onUnsupported: ((code: number) => void) | null = null;
  /** State coverage of the run (null: not recorded): the op running, file cells, steps, extents. */
  coverage: CoverageRecorder | null = null;
  private readonly t: FileTarget;
  private readonly bs: number;
  private readonly ps: number;
  /** The target answers SEEK_DATA/SEEK_HOLE (whole-file checks use it inside long zero gaps). */
  private readonly canSeek: boolean;
  /** O_DIRECT offset and length alignment. */
  private readonly dioAlign: number;
  /** The target remaps written extents only (xfs): an unwritten source block has no SHARED twin. */
  private readonly skipsUnwritten: boolean;
  /** s_maxbytes (bad-argument ops past it must fail with EFBIG). */
  private readonly maxFile: number;
  /** A misaligned O_DIRECT read / write may be served instead of refused (Capabilities). */
  private readonly dioReadMaySucceed: boolean;
  private readonly dioWriteBuffered: boolean;
  private readonly dioWritePartial: boolean;
  private readonly zeroPage: Buffer;
  /** The target can read through a mapping (EOF page checks after mapwrite and with -X). */
  private readonly canMapRead: boolean;
  /** The target can store through a mapping (EOF pollution). */
  private readonly canMapWrite: boolean;
  private readonly pattern: Pattern;
  private readonly cfg: RunnerConfig;
  private readonly io: Output;
  /** The target's interleaving steps, when it has them. */
  private readonly il: InterleavingSteps | undefined;
  /** Asynchronous direct writes in flight: their bytes read old or new until every I/O completed. */
  private inflight: InFlight[] = [];
  /** Index of a race op waiting for the next op's folio lookup (-1: none). */
  private armed = -1;
  /** Flags of the op being applied (pollution reads FL_NO_MSYNC). */
  private curFlags = 0;
  /**
   * Bytes a short write or store of the op being applied accepted (-1: it was not short): only
   * those are acknowledged by its msync (a store that stopped part-way synced only what landed).
   */
  private shortDone = -1;
  /** The atomic write or exchange the op made, to be judged whole after a power cut (durability). */
  private pendingAtomic: AtomicChange | null = null;
  /**
   * Reused buffers for bytes the runner reads and uses at once (reads of the target, oracle
   * copies): no per-op allocation on the hot path. [2] holds what the target reads into.
   */
  private scratchBufs: Uint8Array[] = [new Uint8Array(0), new Uint8Array(0), new Uint8Array(0), new Uint8Array(0)];
  /** RWF_ATOMIC unit range of the target (statx), when it has atomic writes. */
  private readonly atomicUnits: { unitMin: number; unitMax: number } | null;

  /** The target's own invariant check, when it has one (reference targets). */
  /** The target's own invariants (null: it has none); `touched`: over what changed since the last ask. */
  private readonly invariants: ((touched: boolean) => string[]) | null;
  /** The last invariants check looked at what changed only (finish checks everything). */
  private invariantsTouchedOnly = false;
  /** The op whose invariants check looks at everything (FULL_INVARIANTS_EVERY; ops that skip the check defer it). */
  private fullInvariantsAt = FULL_INVARIANTS_EVERY;
  /** Versions since the last fsync, for crash ops (null: not tracked). */
  private readonly durability: DurabilityTracker | null;
  /** What the oracle changed since the last remount check (its changeLog; remountRanges). */
  private readonly unchecked = new RangeSet();
  /** Incremental remount checks since the last whole-file one (FULL_CHECK_EVERY, finish). */
  private incrementalChecks = 0;
  /**
   * What collapse/insert moved since the last remount check (the oracle's moveLog; kept only for
   * a target that answers FIEMAP): an incremental check reads it only where the target's mapping
   * changed across the remount (moved-ranges.ts).
   */
  private readonly moved = new RangeSet();
  /**
   * What the device fault ops did: ops run, ops whose fault hit the device, reads that failed
   * (EIO/SIGBUS) or came back short, fsyncs that reported a write error (measurements, docs/fsx.md).
   */
  readonly faultStats = { reads: 0, readHits: 0, readErrors: 0, writes: 0, writeHits: 0, reportedErrors: 0 };
  /** Remount checks that read the whole file and incremental ones (remountRanges); end-of-run whole checks (finish). */
  readonly remountStats = { whole: 0, incremental: 0, atEnd: 0 };
  /** Bytes moved by collapse/insert that incremental remount checks compared by mapping, and of those, read because it changed. */
  readonly movedStats = { compared: 0, read: 0 };

  /** Whether every size-changing op pollutes the EOF page first (fsx -e 1), for the report. */
  get polluteEof(): boolean {
    return this.cfg.polluteEof;
  }

  constructor(target: FileTarget, caps: Capabilities, pattern: Pattern, cfg: RunnerConfig, io: Output) {
    this.oracle = new SparseBytes(oracleChunkSize(cfg.maxlen));
    this.t = target;
    const inv = (target as { invariants?: (touched?: boolean) => string[] }).invariants;
    this.invariants = typeof inv === 'function' ? (touched) => inv.call(target, touched) : null;
    this.il = target.interleave;
    this.bs = caps.blockSize;
    this.ps = caps.pageSize;
    this.dioAlign = Math.max(1, caps.dioAlign);
    this.skipsUnwritten = caps.reflinkSkipsUnwritten === true;
    this.maxFile = caps.maxFileSize;
    this.dioReadMaySucceed = caps.dioMisalignedReadMaySucceed === true;
    this.dioWriteBuffered = caps.dioMisalignedWriteBuffered === true;
    this.dioWritePartial = caps.dioMisalignedWritePartial === true;
    this.zeroPage = Buffer.alloc(caps.pageSize);
    this.canMapRead = caps.mmap && typeof target.mapread === 'function';
    this.canMapWrite = caps.mmap && typeof target.mapwrite === 'function';
    this.atomicUnits = caps.atomicWrite ?? null;
    this.canSeek = caps.seek && typeof target.seekData === 'function' && typeof target.seekHole === 'function';
    this.pattern = pattern;
    this.cfg = cfg;
    this.io = io;
    const judgesLoss = typeof target.crash === 'function' || target.deviceFaults !== undefined;
    this.durability = cfg.trackDurability === true && judgesLoss ? new DurabilityTracker(this.oracle) : null;
    if (typeof target.remount === 'function') {
      this.oracle.changeLog = this.unchecked;
      if (caps.fiemap && typeof target.fiemap === 'function') this.oracle.moveLog = this.moved;
    }
  }

  /**
   * The end of a run that passed: the target's invariants are checked over everything (when the
   * last op's check looked at what changed only), and when a remount was checked incrementally
   * since the last whole-file check, the whole file is read back now (remountRanges), so that no
   * byte a remount lost or damaged outside what the ops changed goes unchecked.
   */
  finish(): void {
    if (this.failure === null && this.invariantsTouchedOnly) {
      this.invariantsTouchedOnly = false;
      const v = this.invariants!(false);
      if (v.length) this.fail('invariant', 'iomap-contract-8b', undefined, [`model invariants broken at the end of the run (op ${this.opNum}):`, ...v.slice(0, 8)]);
    }
    if (this.failure !== null || this.incrementalChecks === 0) return;
    const n = this.incrementalChecks;
    this.incrementalChecks = 0;
    this.remountStats.atEnd++;
    const head = `at the end of the run, the whole-file check that ${n} incremental remount check(s) deferred:`;
    try {
      const size = this.t.size();
      if (size !== this.oracle.size) return this.fail('durability', 'fileops-14.25', undefined, [head, `size ${hex(size)}, expected ${hex(this.oracle.size)}`]);
      this.verifyFile('durability', 'fileops-14.25', head);
    } catch (e) {
      if (!(e instanceof FsError)) throw e;
      this.fail('durability', 'fileops-14.25', undefined, [head, `the check failed: ${e.code}: ${e.message}`]);
    }
  }

  /** Apply op `i` of `buf` (op number i+1). Returns false when a failure was found. */
  apply(buf: OpBuffer, i: number): boolean {
    const n = i + 1;
    this.opNum = n;
    const cfg = this.cfg;
    const sim = n <= cfg.simulatedOps;
    buf.size[i] = this.oracle.size;
    try {
      if (cfg.simulatedOps > 0 && n === cfg.simulatedOps + 1) this.writeFileImage();
      if ((buf.flags[i] & FL_SKIPPED) === 0) {
        if (!sim && (cfg.debug || (cfg.progressInterval > 0 && ((cfg.progressBase ?? 0) + n) % cfg.progressInterval === 0))) {
          // A later sweep round numbers its ops from 1 (its log replays alone): say where the run is.
          const base = cfg.progressBase ?? 0;
          this.io.out(base > 0 && !cfg.debug ? `${this.describe(buf, i)}\t(op ${base + n} of the run)` : this.describe(buf, i));
          if (!cfg.debug) this.io.flush?.();
        }
        // A race op whose window will open runs inside the next op: nothing happens now.
        if (!sim && isRace(buf.code[i]) && this.canArm(buf, i)) {
          this.armed = i;
          return true;
        }
        this.curFlags = buf.flags[i];
        this.shortDone = -1;
        if (this.coverage !== null) this.coverage.op = buf.code[i];
        if (!sim && this.inflight.length > 0 && WAITS_FOR_DIO.has(buf.code[i])) this.drain();
        this.exec(buf, i, n, sim);
        if (this.coverage !== null && !sim) this.countFileOp(buf, i);
      }
    } catch (e) {
      this.caught(e, buf, i);
    }
    if (this.failure !== null) return false;
    if (sim) return true;
    // Runs for skipped ops too (fsx's "out:" label), so a replay that meets the op already marked
    // skipped does exactly what the original run did.
    try {
      this.after(buf, i);
      if (this.inflight.length > 0 && this.il!.pendingIo() === 0) this.resolve();
    } catch (e) {
      this.caught(e, buf, i);
    }
    this.durability?.record(`op ${n} ${OPS[buf.code[i]].name}`, this.oracle, this.acknowledgedRange(buf, i));
    if (this.pendingAtomic !== null) {
      if (this.failure === null) this.durability?.addAtomic(this.pendingAtomic);
      this.pendingAtomic = null;
    }
    if (this.failure === null && this.invariants !== null && this.cfg.checkInvariants === true) {
      // Model targets state their own invariants (per-folio state, delalloc reservations,
      // kernel WARNs): a leaked reservation reads back fine but is still a bug.
      this.invariantsTouchedOnly = n < this.fullInvariantsAt;
      if (!this.invariantsTouchedOnly) this.fullInvariantsAt = n + FULL_INVARIANTS_EVERY;
      const v = this.invariants(this.invariantsTouchedOnly);
      if (v.length) this.fail('invariant', 'iomap-contract-8b', undefined, [`model invariants broken after op ${n}:`, ...v.slice(0, 8)]);
    }
    return this.failure === null;
  }

  /**
   * Whether race op i will run inside op i+1: that op is an issued buffered write past the -b
   * prefix, the target has interleaving steps, the race op has no close/open, and a race write or
   * punch lies inside EOF (a second writer cannot change the size under the first). Otherwise the
   * race op runs in order as its plain twin (race_write as write, race_punch as punch_hole,
   * race_writeback as writeback + completions + evict).
   */
  private canArm(buf: OpBuffer, i: number): boolean {
    if (this.il === undefined || i + 1 >= buf.count) return false;
    if (buf.code[i + 1] !== OP_WRITE || (buf.flags[i + 1] & (FL_SKIPPED | FL_DSYNC)) !== 0 || buf.len[i + 1] === 0) return false;
    if ((buf.flags[i] & FL_CLOSE_OPEN) !== 0) return false;
    const code = buf.code[i];
    if (code === OP_RACE_WRITEBACK) return true;
    return buf.len[i] > 0 && buf.off[i] + buf.len[i] <= this.oracle.size;
  }

  /** Complete every pending I/O (oldest first), then take in-flight direct writes as done. */
  private drain(): void {
    const il = this.il!;
    for (let k = 0; il.pendingIo() > 0; k++) {
      if (k >= DRAIN_LIMIT) throw new TargetError(`pending I/O does not drain: ${il.pendingIo()} left after ${DRAIN_LIMIT} completions`);
      il.complete(0);
    }
    this.resolve();
  }

  /** Every I/O completed: in-flight direct writes are now the file's contents. */
  private resolve(): void {
    for (const f of this.inflight) this.oracle.write(f.off, f.data);
    this.inflight = [];
    // A version of its own: the op that made the writes complete may change the bytes again.
    this.durability?.record(`op ${this.opNum}: asynchronous direct writes completed`, this.oracle);
  }

  /** Whether [off, off+len), rounded out to blocks, meets an in-flight direct write. */
  private overlapsInflight(off: number, len: number): boolean {
    const bs = this.bs;
    const lo = Math.floor(off / bs) * bs;
    const hi = Math.ceil((off + len) / bs) * bs;
    for (const f of this.inflight) {
      const flo = Math.floor(f.off / bs) * bs;
      const fhi = Math.ceil((f.off + f.data.length) / bs) * bs;
      if (lo < fhi && flo < hi) return true;
    }
    return false;
  }

  /**
   * Compare bytes read at `off` (data[0, end)) with the oracle. Bytes under an in-flight direct
   * write may hold either the old contents or the new data (the write is racing the read).
   */
  private compareData(off: number, data: Uint8Array, end: number): Mismatch | null {
    let mm = this.oracle.compare(off, data, 0, end);
    if (mm === null || this.inflight.length === 0) return mm;
    while (mm !== null) {
      const pos: number = mm.offset;
      const f = this.inflight.find((x) => pos >= x.off && pos < x.off + x.data.length);
      if (f === undefined) return mm;
      // Within this in-flight write: every byte must be the old or the new one.
      const segEnd = Math.min(f.off + f.data.length, off + end);
      for (let p = pos; p < segEnd; p++) {
        const a = data[p - off];
        if (a !== f.data[p - f.off] && a !== this.oracle.byteAt(p)) {
          return { offset: p, index: p - off, expected: this.oracle.byteAt(p), actual: a };
        }
      }
      const next = segEnd - off;
      if (next >= end) return null;
      mm = this.oracle.compare(off + next, data, next, end);
    }
    return null;
  }

  private after(buf: OpBuffer, i: number): void {
    if (this.cfg.checkFile && (buf.flags[i] & FL_SKIPPED) === 0) {
      this.checkContents();
      if (this.failure !== null) return;
    }
    if ((buf.flags[i] & FL_CLOSE_OPEN) !== 0) this.t.closeOpen();
    if (this.cfg.sizeChecks) {
      const s = this.t.size();
      if (s !== this.oracle.size) {
        this.fail('size', 'fileops-14.1', undefined, [`Size error: expected ${hex(this.oracle.size)} stat ${hex(s)}`]);
      }
    }
  }

  private skip(buf: OpBuffer, i: number, sim: boolean, msg: string): void {
    buf.flags[i] |= FL_SKIPPED;
    if (!this.cfg.quiet && !sim) this.io.out(msg);
  }

  private exec(buf: OpBuffer, i: number, n: number, sim: boolean): void {
    const t = this.t;
    const oracle = this.oracle;
    const off = buf.off[i];
    const len = buf.len[i];
    const flags = buf.flags[i];
    const size = oracle.size;
    // Race ops that do not run inside the next write run in order as their plain twins.
    const code = buf.code[i] === OP_RACE_WRITE ? OP_WRITE : buf.code[i] === OP_RACE_PUNCH ? OP_PUNCH_HOLE : buf.code[i];
    if ((flags & FL_INVALID) !== 0) return this.refusal(buf, i, n, sim);
    const bad = this.misaligned(code, off, len, buf.dst[i], size);
    if (bad !== null) return this.skip(buf, i, sim, bad);
    switch (code) {
      case OP_READ:
      case OP_MAPREAD: {
        if (len === 0) return this.skip(buf, i, sim, 'skipping zero size read');
        if (off + len > size) return this.skip(buf, i, sim, 'skipping seek/read past end of file');
        if (sim) return;
        if (code === OP_READ) {
          const data = this.readAt('pread', off, len);
          if (data.length !== len) return this.shortRead(data.length, len);
          const mm = this.compareData(off, data, len);
          if (mm !== null) this.badData(off, data, len, mm);
        } else {
          this.mapRead(off, len, size);
        }
        return;
      }
      case OP_READ_DIRECT: {
        if (len === 0) return this.skip(buf, i, sim, 'skipping zero size read');
        if (off >= size) return this.skip(buf, i, sim, 'skipping seek/read past end of file');
        if (sim) return;
        const want = Math.min(len, size - off);
        const data = this.readAt('direct', off, len);
        if (data.length !== want) return this.shortRead(data.length, want, 'fileops-14.24');
        const mm = this.compareData(off, data, data.length);
        if (mm !== null) this.badData(off, data, want, mm);
        return;
      }
      case OP_WRITE:
      case OP_WRITE_DIRECT:
      case OP_MAPWRITE: {
        if (len === 0) return this.skip(buf, i, sim, 'skipping zero size write');
        if (!sim && off > size) this.pollute(n, off + len);
        const data = this.pattern.data(n, off, len);
        if (!sim) {
          if (code === OP_MAPWRITE) {
            if (off + len > size) {
              t.truncate(off + len);
              oracle.truncate(off + len); // a capped store may stop before it reaches the new end
            }
            const got = this.store(off, data, flags, buf.dst[i]);
            if (got < 0) return;
            if (got < len) {
              this.shortDone = got;
              return oracle.write(off, data, 0, got);
            }
          } else if (code === OP_WRITE && this.armed === i - 1 && i > 0 && (flags & FL_DSYNC) === 0) {
            return this.raceWrite(buf, i, off, data);
          } else {
            const w = (flags & FL_DSYNC) !== 0 ? this.dsyncWrite(off, data, code === OP_WRITE_DIRECT)
              : code === OP_WRITE ? this.bufferedWrite(flags, off, data, buf.dst[i]) : t.directWrite!(off, data);
            if (w < 0) return;
            if (w < len && (flags & (FL_FAULT_AT | FL_RESERVE)) !== 0) {
              oracle.write(off, data, 0, w);
              if (off > size) this.unpollute(size, off + len);
              return;
            }
            if (w !== len) return this.fail('short-write', 'fileops-14.1', undefined, [`short write: ${hex(w)} bytes instead of ${hex(len)}`]);
          }
        }
        oracle.write(off, data);
        if (code === OP_MAPWRITE && !sim) this.checkEofPage('Write');
        return;
      }
      case OP_WRITE_DIRECT_ASYNC:
        return this.asyncDirectWrite(buf, i, n, sim);
      case OP_READ_DONTCACHE:
        return this.readDontcache(buf, i, sim);
      case OP_WRITE_DONTCACHE:
        return this.writeDontcache(buf, i, n, sim);
      case OP_WRITE_ATOMIC:
        return this.writeAtomic(buf, i, n, sim);
      case OP_EXCHANGE_RANGE:
        return this.exchangeRange(buf, i, sim);
      case OP_WRITEBACK:
      case OP_COMPLETE_IO:
      case OP_EVICT:
      case OP_RACE_WRITEBACK: {
        if (sim) return;
        const il = this.il;
        if (il === undefined) return this.skip(buf, i, sim, `skipping ${OPS[code].name}: the target has no interleaving steps`);
        const cov = this.coverage;
        if (code === OP_WRITEBACK) {
          il.writeback();
          cov?.step('writeback');
        } else if (code === OP_COMPLETE_IO) {
          const p = il.pendingIo();
          if (p === 0) return this.skip(buf, i, sim, 'skipping complete_io: no pending I/O');
          il.complete(off % p);
          cov?.step(off % p === 0 ? 'complete-in-order' : 'complete-out-of-order');
        } else if (code === OP_EVICT) {
          // The evict runs whether or not coverage is recorded (a run that records it, as every
          // guided one does, and its replay, which does not, must do the same).
          const took = il.evict(off);
          cov?.step(took ? 'evict' : 'evict-refused');
        } else {
          this.writebackAndEvict(il, off);
        }
        return;
      }
      case OP_TRUNCATE:
        if (!sim && len !== size) this.pollute(n, len < size ? this.cfg.maxlen : len);
        if (!sim) t.truncate(len);
        oracle.truncate(len);
        return;
      case OP_FALLOCATE: {
        if (len === 0) return this.skip(buf, i, sim, 'skipping zero length fallocate');
        const keep = (flags & FL_KEEP_SIZE) !== 0;
        const mode = (keep ? FALLOC_FL_KEEP_SIZE : 0) | ((flags & FL_UNSHARE) !== 0 ? FALLOC_FL_UNSHARE_RANGE : 0);
        if (!sim && !keep && off > size) this.pollute(n, off + len);
        if (!sim) this.fallocate(mode, off, len);
        if (!keep) oracle.extend(off + len);
        return;
      }
      case OP_PUNCH_HOLE:
        if (len === 0) return this.skip(buf, i, sim, 'skipping zero length punch hole');
        if (off >= size) return this.skip(buf, i, sim, 'skipping hole punch off the end of the file');
        if (!sim) this.fallocate(FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, off, len);
        oracle.punch(off, len);
        return;
      case OP_ZERO_RANGE: {
        if (len === 0) return this.skip(buf, i, sim, 'skipping zero length zero range');
        const keep = (flags & FL_KEEP_SIZE) !== 0;
        if (!sim && !keep && off > size) this.pollute(n, off + len);
        if (!sim) this.fallocate(FALLOC_FL_ZERO_RANGE | (keep ? FALLOC_FL_KEEP_SIZE : 0), off, len);
        oracle.zeroRange(off, len, keep);
        return;
      }
      case OP_COLLAPSE_RANGE:
        if (len === 0) return this.skip(buf, i, sim, 'skipping zero length collapse range');
        if (off + len >= size) return this.skip(buf, i, sim, 'skipping collapse range behind EOF');
        if (!sim) this.pollute(n, this.cfg.maxlen);
        if (!sim) this.fallocate(FALLOC_FL_COLLAPSE_RANGE, off, len);
        oracle.collapse(off, len);
        return;
      case OP_INSERT_RANGE:
        if (len === 0) return this.skip(buf, i, sim, 'skipping zero length insert range');
        if (off >= size) return this.skip(buf, i, sim, 'skipping insert range behind EOF');
        if (size + len > MAX_OFFSET) return this.skip(buf, i, sim, 'skipping insert range past the 2^53-1 limit');
        if (!sim) this.pollute(n, this.cfg.maxlen);
        if (!sim) this.fallocate(FALLOC_FL_INSERT_RANGE, off, len);
        // The size goes up before the tail moves (xfs, refs): a crash may find that state.
        this.durability?.recordSize(`op ${n} insert_range (size raised, tail not moved yet)`, size + len);
        oracle.insert(off, len);
        return;
      case OP_CLONE_RANGE:
      case OP_DEDUPE_RANGE:
      case OP_COPY_RANGE:
        return this.twoRange(buf, i, code, sim);
      case OP_FSYNC:
      case OP_FDATASYNC:
        // A simulated fsync (-b) made nothing durable: the target has not even seen the data.
        if (sim) return;
        if (code === OP_FSYNC) t.fsync();
        else t.fdatasync();
        this.durability?.acknowledge(oracle, `op ${n} ${OPS[code].name}`);
        return;
      case OP_CRASH:
        return this.crash(buf, i, sim);
      case OP_REMOUNT:
        return this.remount(buf, i, n, sim);
      case OP_FAULT_READ:
        return this.faultRead(buf, i, sim);
      case OP_FAULT_WRITE:
        return this.faultWrite(buf, i, sim);
      case OP_SEEK_DATA:
      case OP_SEEK_HOLE:
        if (!sim) this.seek(code, off, size);
        return;
      case OP_FIEMAP:
        if (len === 0) return this.skip(buf, i, sim, 'skipping zero length fiemap');
        if (!sim) this.fiemap(off, len, size);
        return;
      default:
        throw new Error(`runner: unknown op code ${code}`);
    }
  }

  /**
   * The bytes an op made durable by returning: an msync'd mapwrite (msync(MS_SYNC) is fdatasync
   * of the range) or an O_DSYNC write.
   */
  private acknowledgedRange(buf: OpBuffer, i: number): { off: number; len: number } | undefined {
    const code = buf.code[i];
    const f = buf.flags[i];
    if ((f & FL_SKIPPED) !== 0 || buf.len[i] === 0) return undefined;
    const msynced = code === OP_MAPWRITE && (f & FL_NO_MSYNC) === 0;
    const dsync = (code === OP_WRITE || code === OP_WRITE_DIRECT) && (f & FL_DSYNC) !== 0;
    if (!msynced && !dsync) return undefined;
    const len = this.shortDone >= 0 ? this.shortDone : buf.len[i];
    return len > 0 ? { off: buf.off[i], len } : undefined;
  }

  /** A write on an O_DSYNC file description (FileTarget.dsyncWrite, else write + fdatasync). */
  private dsyncWrite(off: number, data: Uint8Array, direct: boolean): number {
    const t = this.t;
    if (typeof t.dsyncWrite === 'function') return t.dsyncWrite(off, data, direct);
    const w = direct ? t.directWrite!(off, data) : t.pwrite(off, data);
    t.fdatasync();
    return w;
  }

  /**
   * crash: cut the power (FileTarget.crash with the op's selector), then judge the file the
   * filesystem recovered against the versions since the last fsync, and carry on from it.
   */
  private crash(buf: OpBuffer, i: number, sim: boolean): void {
    const t = this.t;
    const tracker = this.durability;
    if (sim) return this.skip(buf, i, sim, 'skipping crash: not simulated');
    if (typeof t.crash !== 'function') return this.skip(buf, i, sim, 'skipping crash: the target cannot simulate a power cut');
    if (tracker === null) return this.skip(buf, i, sim, 'skipping crash: durability tracking is off');
    if (!tracker.complete) return this.skip(buf, i, sim, `skipping crash: ${tracker.incompleteReason}`);
    const out = t.crash(buf.off[i]);
    this.coverage?.step('crash');
    const inflight = this.inflight;
    this.inflight = [];
    this.armed = -1;
    const state = out.state.length > 400 ? `${out.state.slice(0, 400)}…` : out.state;
    const head = `after a power cut (${state}):`;
    if (out.problems.length > 0) return this.fail('recovery', 'fileops-14.25', undefined, [head, ...out.problems.slice(0, 8)]);
    if (out.missing === true) return this.fail('durability', 'fileops-14.25', undefined, [head, 'the file is missing, although its creation was made durable']);
    const size = t.size();
    const largest = tracker.largestSize(inflight);
    if (size > largest) {
      return this.fail('durability', 'fileops-14.25', undefined, [head, `size ${hex(size)} is larger than any size the file had since the last fsync (${hex(largest)})`]);
    }
    // The whole file when small, else the ranges some version since the fsync changed.
    const found = this.readFound(size, tracker.rangesToRead(size, inflight));
    if (found === null) return;
    const v = tracker.check(found, inflight);
    if (v.length > 0) return this.fail('durability', 'fileops-14.25', v[0].offset, [head, ...v.slice(0, 8).map((x) => `${x.kind}: ${x.message}`)]);
    const torn = tracker.checkAtomic(found, inflight);
    if (torn.length > 0) return this.fail('durability', 'fileops-14.29', undefined, [head, ...torn.slice(0, 8)]);
    // What survived is the file from now on (and the new starting point of the envelope).
    tracker.survived(found);
  }

  /**
   * Read back the file a power cut or a lost write left (`size` bytes; `ranges` of it, [off, len)
   * ascending) for the durability judge; null after a short read (reported). The pieces lie in
   * one scratch area where the target reads into the caller's buffer: they live until the op
   * ends (survived() copies them into the oracle).
   */
  private readFound(size: number, ranges: ReadonlyArray<readonly [number, number]>): FoundFile | null {
    const t = this.t;
    const found: FoundFile = { size, pieces: [] };
    const readInto = t.readInto;
    let area = readInto === undefined ? null : this.scratch(3, ranges.reduce((n, r) => n + r[1], 0));
    for (const [off, len] of ranges) {
      let data: Uint8Array;
      if (area === null) data = t.pread(off, len);
      else {
        data = this.readIntoView(readInto!, 'pread', off, area.subarray(0, len));
        area = area.subarray(len);
      }
      if (data.length !== len) {
        this.shortRead(data.length, len);
        return null;
      }
      found.pieces.push({ off, data });
    }
    return found;
  }

  // ---- device faults (fault_read, fault_write) ------------------------------------------------

  /**
   * fault_read: the device fails every read of the blocks under [off, off+len) while the op reads
   * that range (first dropping the clean cache over it, with FAULT_READ_EVICT, so the read goes to
   * the device; a dirty, partly uptodate folio stays and only its other blocks are read). The read
   * may fail (EIO; SIGBUS through mmap) or come back short, but every byte it returns is the
   * file's. The fault is gone after the op: later ops see the file unchanged (the ordinary oracle
   * judges them), which is where a folio wrongly marked uptodate over a failed block shows.
   */
  private faultRead(buf: OpBuffer, i: number, sim: boolean): void {
    const t = this.t;
    const df = t.deviceFaults;
    const off = buf.off[i];
    const len = buf.len[i];
    const size = this.oracle.size;
    const how = buf.dst[i];
    if (sim) return this.skip(buf, i, sim, 'skipping fault_read: not simulated');
    if (df === undefined) return this.skip(buf, i, sim, 'skipping fault_read: the target has no device faults');
    if (len === 0) return this.skip(buf, i, sim, 'skipping zero size fault_read');
    if (off + len > size) return this.skip(buf, i, sim, 'skipping fault_read past end of file');
    const mmap = (how & FAULT_READ_MMAP) !== 0 && this.canMapRead;
    if ((how & FAULT_READ_EVICT) !== 0) this.evictRange(off, len);
    df.arm('read', 'error', off, len);
    let data: Uint8Array | null = null;
    let err: FsError | null = null;
    let fired = 0;
    try {
      data = mmap ? t.mapread!(off, len) : t.pread(off, len);
    } catch (e) {
      if (!(e instanceof FsError)) throw e;
      err = e;
    } finally {
      fired = df.heal().hits;
    }
    this.faultStats.reads++;
    if (fired > 0) this.faultStats.readHits++;
    if (err !== null || (data !== null && data.length < len)) this.faultStats.readErrors++;
    const what = `${mmap ? 'mapped ' : ''}read of ${hex(off)} to ${hex(off + len)} under a device read fault (${fired} device read(s) failed)`;
    if (err !== null) {
      if (fired === 0) throw err; // no fault explains it: an ordinary op-error
      const allowed = mmap ? ['SIGBUS', 'EIO'] : ['EIO'];
      if (!allowed.includes(err.code)) return this.fail('fault', 'fileops-14.26', undefined, [`${what}: failed with ${err.code}, expected ${allowed.join(' or ')}`]);
      return;
    }
    const got = data!;
    if (got.length > len) return this.shortRead(got.length, len, 'fileops-14.2', 'long read');
    if (got.length < len && fired === 0) return this.shortRead(got.length, len);
    const mm = this.compareData(off, got, got.length);
    if (mm !== null) {
      this.badData(off, got, got.length, mm);
      this.failure!.lines.unshift(`${what}: returned wrong bytes (EIO or the right bytes only)`);
      this.failure!.kind = 'fault';
      this.failure!.rule = 'fileops-14.26';
    }
  }

  /** Drop the clean cache over [off, off+len) (interleaving steps, else close and reopen). */
  private evictRange(off: number, len: number): void {
    const il = this.il;
    if (il === undefined) return this.t.closeOpen();
    const ps = this.ps;
    for (let p = off - (off % ps); p < off + len; p += ps) il.evict(p);
  }

  /**
   * fault_write: background writeback of the file and every completion, while the device fails
   * (dst 0), drops (1) or tears (2) the writes of the blocks under [off, off+len). Then, with the
   * fault gone: fsync must report EIO if a write failed and 0 otherwise, and a second fsync 0
   * (errseq: once per open file); the clean cache is dropped and the file read back: what the
   * device lost may read old, but every byte is a version since the last fsync (the crash
   * envelope), and fsync'd bytes are intact. What was read is the file from then on.
   */
  private faultWrite(buf: OpBuffer, i: number, sim: boolean): void {
    const t = this.t;
    const df = t.deviceFaults;
    const il = this.il;
    const tracker = this.durability;
    const off = buf.off[i];
    const len = buf.len[i];
    const action = FAULT_WRITE_ACTIONS[buf.dst[i]];
    if (sim) return this.skip(buf, i, sim, 'skipping fault_write: not simulated');
    if (df === undefined || il === undefined) return this.skip(buf, i, sim, 'skipping fault_write: the target has no device faults or no background writeback');
    if (df.noWriteFaults !== undefined) return this.skip(buf, i, sim, `skipping fault_write: ${df.noWriteFaults}`);
    if (action === undefined) return this.skip(buf, i, sim, `skipping fault_write with unknown action ${buf.dst[i]}`);
    if (len === 0) return this.skip(buf, i, sim, 'skipping zero size fault_write');
    if (tracker === null) return this.skip(buf, i, sim, 'skipping fault_write: durability tracking is off');
    if (!tracker.complete) return this.skip(buf, i, sim, `skipping fault_write: ${tracker.incompleteReason}`);
    // In-flight direct writes complete first: the fault is for this writeback alone (a failed
    // direct write is its caller's error, never a writeback error fsync reports).
    if (il.pendingIo() > 0 || this.inflight.length > 0) this.drain();
    df.arm('write', action, off, len);
    let hit: { hits: number; ranges: Array<{ off: number; len: number }> } = { hits: 0, ranges: [] };
    try {
      il.writeback();
      this.drain();
    } finally {
      hit = df.heal();
    }
    const fired = hit.hits;
    this.faultStats.writes++;
    if (fired > 0) this.faultStats.writeHits++;
    const head = `after background writeback with a device write fault (${action}) over ${hex(off)} to ${hex(off + len)}: ${fired} device write(s) hit`;
    const expectEio = action === 'error' && fired > 0;
    for (const which of ['first', 'second'] as const) {
      let err: FsError | null = null;
      try {
        t.fsync();
      } catch (e) {
        if (!(e instanceof FsError)) throw e;
        err = e;
      }
      const want = which === 'first' && expectEio;
      if (want && err === null) return this.fail('fault', 'fileops-14.26', undefined, [head, 'the first fsync returned 0: the writeback error was never reported (errseq)']);
      if (!want && err !== null) {
        const why = which === 'second' && expectEio ? 'the error was already reported by the first fsync (errseq reports it once per open file)' : 'no write failed';
        return this.fail('fault', 'fileops-14.26', undefined, [head, `the ${which} fsync failed with ${err.code}: ${why}`]);
      }
      if (err !== null && err.code !== 'EIO') return this.fail('fault', 'fileops-14.26', undefined, [head, `the first fsync failed with ${err.code}, expected EIO`]);
      if (err !== null) this.faultStats.reportedErrors++;
    }
    if (fired === 0) {
      tracker.acknowledge(this.oracle, `op ${this.opNum} fault_write (fsync)`);
      return;
    }
    // What the device kept: read it back from the media, judge it, and carry on from it.
    t.closeOpen();
    const size = t.size();
    if (size !== this.oracle.size) {
      return this.fail('fault', 'fileops-14.26', undefined, [head, `size ${hex(size)} after the lost writes, expected ${hex(this.oracle.size)} (sizes move only with successful I/O)`]);
    }
    // What is read back: the whole file up to the tracker's FULL_CHECK_BYTES, else the ranges
    // that can differ and the blocks the fault hit (cost follows the bytes changed, not the size).
    const found = this.readFound(size, this.faultReadRanges(tracker, size, hit.ranges));
    if (found === null) return;
    // A dropped or torn write leaves whatever the device held before in its blocks (stale data the
    // filesystem cannot know about): those blocks are judged as if they held the newest bytes.
    const judged: FoundFile = action === 'error' ? found : { size, pieces: found.pieces.map((p) => ({ off: p.off, data: Uint8Array.from(p.data) })) };
    if (action !== 'error') {
      for (const p of judged.pieces) {
        const end = p.off + p.data.length;
        for (const r of hit.ranges) {
          const a = Math.max(p.off, Math.min(r.off, size));
          const b = Math.min(end, r.off + r.len, size);
          if (b > a) this.oracle.readInto(a, b - a, p.data.subarray(a - p.off, b - p.off));
        }
      }
    }
    // A failed write leaves the blocks as they were last written, which can be bytes a later
    // truncate cut off (ext4 leaves the EOF block it zeroes dirty): the tracker allows them there.
    const failed = action === 'error' ? hit.ranges : [];
    const v = tracker.check(size <= FULL_CHECK_BYTES ? (judged.pieces[0]?.data ?? new Uint8Array(0)) : judged, [], this.oracle, failed);
    if (v.length > 0) return this.fail('fault', 'fileops-14.26', v[0].offset, [head, ...v.slice(0, 8).map((x) => `${x.kind}: ${x.message}`)]);
    tracker.survived(found);
    this.resettle(size, head);
  }

  /**
   * The byte ranges a fault_write reads back ([off, len), ascending, disjoint): the tracker's
   * rangesToRead (the whole file when small) and the file blocks the fault hit, in 512-byte units.
   */
  private faultReadRanges(tracker: DurabilityTracker, size: number, hits: ReadonlyArray<{ off: number; len: number }>): Array<[number, number]> {
    const all: Array<[number, number]> = tracker.rangesToRead(size, []).map(([off, len]) => [off, off + len]);
    for (const r of hits) {
      const a = Math.floor(Math.min(r.off, size) / 512) * 512;
      const b = Math.min(size, Math.ceil((r.off + r.len) / 512) * 512);
      if (b > a) all.push([a, b]);
    }
    all.sort((x, y) => x[0] - y[0]);
    const out: Array<[number, number]> = [];
    for (const [a, b] of all) {
      const last = out[out.length - 1];
      if (last !== undefined && last[0] + last[1] >= a) last[1] = Math.max(last[0] + last[1], b) - last[0];
      else out.push([a, b - a]);
    }
    return out;
  }

  /**
   * After data was lost under the file, what the device holds is the file, but its on-disk size
   * may still be the one before the lost extension (sizes move with completed writes). Rewrite the
   * last byte and fsync, so that everything read back is durable again and later power cuts are
   * judged from there.
   */
  private resettle(size: number, head: string): void {
    const t = this.t;
    if (size > 0) {
      // The oracle holds what survived (DurabilityTracker.survived): its last byte is the file's.
      const n = t.pwrite(size - 1, Uint8Array.of(this.oracle.byteAt(size - 1)));
      if (n !== 1) return this.fail('short-write', 'fileops-14.1', undefined, [head, `short write: ${hex(n)} bytes instead of 0x1 while rewriting the last byte`]);
    }
    t.fsync();
    this.oracle.takeChanges();
    this.durability!.acknowledge(this.oracle, `op ${this.opNum} fault_write (what the device kept, rewritten at EOF and fsynced)`);
  }

  /**
   * remount: a clean unmount and mount (FileTarget.remount). Unmounting writes everything back and
   * commits, so the size and every byte written must survive — not only what an fsync covered.
   * The whole file is read back at once, so what a remount loses is charged to it. Everything is
   * durable afterwards (the envelope of a later power cut starts here).
   */
  private remount(buf: OpBuffer, i: number, n: number, sim: boolean): void {
    const t = this.t;
    if (sim) return;
    if (typeof t.remount !== 'function') return this.skip(buf, i, sim, 'skipping remount: the target cannot remount');
    const head = (): string => `after a clean remount (op ${n}), which must keep every byte written and the size:`;
    const movedBefore = this.movedMapping();
    try {
      t.remount();
    } catch (e) {
      // A clean remount has no reason to fail: the file missing or the mount refused is data lost.
      if (!(e instanceof FsError)) throw e;
      return this.fail('durability', 'fileops-14.25', undefined, [head(), `the remount failed: ${e.message}`]);
    }
    this.armed = -1;
    const size = t.size();
    if (size !== this.oracle.size) {
      return this.fail('durability', 'fileops-14.25', undefined, [head(), `size ${hex(size)}, expected ${hex(this.oracle.size)}`]);
    }
    const check = this.remountRanges(movedBefore);
    // The counts as they stand now (the failure's line is built only if the check fails).
    const incremental = this.remountStats.incremental;
    const checks = this.remountStats.whole + incremental;
    const also = check.media ? 'and those the target says its media changed under (device writes, mapping changes)' : 'and those moved by collapse/insert whose mapping (FIEMAP) changed across the remount';
    const what = !check.incremental ? head : () => `${head()} (an incremental check: the ranges changed since the last remount check, ${also}, ${incremental} of ${checks} remount checks so far)`;
    if (!this.verifyPieces('durability', 'fileops-14.25', what, this.piecesOf(check.ranges))) return;
    this.durability?.acknowledge(this.oracle, `op ${n} remount`);
  }

  /**
   * What a remount check reads: the whole file (checkRanges) while it is at most
   * INCREMENTAL_CHECK_FROM bytes and at every FULL_CHECK_EVERY-th remount beyond that; otherwise
   * the same reads restricted to the windows around every range the oracle changed since the last
   * remount check (changeWindows). A filesystem that changes only what it was asked to differs
   * from the oracle after a remount only there; bytes it damaged elsewhere are found by the next
   * whole-file check (at most FULL_CHECK_EVERY - 1 remounts later, or at the end of the run), or
   * earlier by any op that reads them (docs/fsx.md, "Remount").
   */
  private remountRanges(movedBefore: MovedMapping | null): { ranges: Array<[number, number]>; incremental: boolean; media: boolean } {
    const size = this.oracle.size;
    const media = typeof this.t.changedOnMedia === 'function';
    let incremental: boolean;
    let unit: number | undefined;
    if (media) {
      // Asked at every remount (each answer is relative to the last call), for an answer only
      // when the check will be incremental: then at every remount of a file over
      // INCREMENTAL_CHECK_FROM (no whole-file check every FULL_CHECK_EVERY-th: everything else
      // reads as at the last check), over what the ops and the media changed, in whole blocks
      // (the bytes around a change that the target got wrong are among those it names).
      const changed = this.t.changedOnMedia!(size > INCREMENTAL_CHECK_FROM);
      incremental = changed !== null;
      if (changed !== null) for (const [lo, hi] of changed) this.unchecked.include(lo, hi);
      unit = this.bs;
    } else {
      incremental = this.nextRemountIncremental();
      if (incremental && movedBefore !== null) this.readRemapped(movedBefore);
    }
    this.moved.clear();
    const ranges = incremental ? this.checkRanges(this.changeWindows(this.unchecked, size, unit), WINDOW_GAP_READ_ALL) : this.checkRanges();
    if (incremental) {
      this.incrementalChecks++;
      this.remountStats.incremental++;
    } else {
      this.incrementalChecks = 0;
      this.remountStats.whole++;
    }
    this.unchecked.clear();
    return { ranges, incremental, media };
  }

  /** Whether the next remount check is incremental (remountRanges). */
  private nextRemountIncremental(): boolean {
    return this.oracle.size > INCREMENTAL_CHECK_FROM && this.incrementalChecks + 1 < FULL_CHECK_EVERY;
  }

  /**
   * Before a remount whose check will be incremental: the target's mapping of what collapse/insert
   * moved and no op changed since (null: nothing to compare). A target whose FIEMAP fails gets
   * those ranges read instead.
   */
  private movedMapping(): MovedMapping | null {
    if (this.moved.count === 0 || !this.nextRemountIncremental() || typeof this.t.changedOnMedia === 'function') return null;
    const ranges = rangesOutside(this.moved, this.unchecked, this.oracle.size);
    try {
      return { ranges, extents: mappingOf(this.t, ranges) };
    } catch (e) {
      if (!(e instanceof FsError)) throw e;
      return { ranges, extents: null };
    }
  }

  /** After the remount: the moved ranges whose mapping changed (or cannot be compared) join the ranges read. */
  private readRemapped(before: MovedMapping): void {
    let after: FiemapExtent[][] | null = null;
    try {
      if (before.extents !== null) after = mappingOf(this.t, before.ranges);
    } catch (e) {
      if (!(e instanceof FsError)) throw e;
    }
    const read = (lo: number, hi: number): void => {
      this.movedStats.read += hi - lo;
      this.unchecked.include(lo, hi);
    };
    before.ranges.forEach(([lo, hi], k) => {
      this.movedStats.compared += hi - lo;
      if (before.extents === null || after === null) read(lo, hi);
      else mappingChanges(before.extents[k], after[k], lo, hi, read);
    });
  }

  /**
   * The ranges of `set` clipped to [0, size), rounded out to whole CHANGE_WINDOW units (whole
   * folios when the target's are larger): a change dirties whole blocks and folios, and a
   * filesystem that gets a write wrong may get the bytes around it wrong too. Ascending, disjoint.
   * `unit` whole blocks instead where the target names what changed on its media: the bytes
   * around a change that it got wrong are among those.
   */
  private changeWindows(set: RangeSet, size: number, unit = Math.max(CHANGE_WINDOW, this.cfg.folioSize ?? 0, this.bs)): Array<[number, number]> {
    const out: Array<[number, number]> = [];
    for (let k = 0; k < set.count; k++) {
      const lo = Math.floor(set.los[k] / unit) * unit;
      const hi = Math.min(size, Math.ceil(Math.min(set.his[k], size) / unit) * unit);
      if (hi <= lo) continue;
      const last = out[out.length - 1];
      if (last !== undefined && last[1] >= lo) last[1] = Math.max(last[1], hi);
      else out.push([lo, hi]);
    }
    return out;
  }

  /**
   * Read the whole file back against the oracle (in pieces); on a difference record a failure of
   * `kind` (fsx's bad-data lines after `head`) and return false.
   */
  private verifyFile(kind: FailureKind, rule: string, head: Head): boolean {
    return this.verifyPieces(kind, rule, head, this.checkPieces());
  }

  /** verifyFile() over the [off, len) pieces given. */
  private verifyPieces(kind: FailureKind, rule: string, head: Head, pieces: Array<[number, number]>): boolean {
    for (const [off, len] of pieces) {
      const data = this.readAt('pread', off, len);
      if (data.length !== len) {
        // A short read is a read-length failure whatever the read was for.
        this.shortRead(data.length, len);
        this.failure!.lines.unshift(headLine(head));
        return false;
      }
      const mm = this.compareData(off, data, len);
      if (mm !== null) {
        this.badData(off, data, len, mm);
        const f = this.failure!;
        f.kind = kind;
        f.rule = rule;
        f.lines.unshift(headLine(head));
        return false;
      }
    }
    return true;
  }

  /**
   * The reads of a whole-file check: [off, len) pieces of at most CHECK_PIECE bytes, cut at
   * multiples of CHECK_PIECE, over checkRanges(). A file with no long zero gap is read whole, in
   * the same pieces as always.
   */
  private checkPieces(): Array<[number, number]> {
    return this.piecesOf(this.checkRanges());
  }

  /** Ascending disjoint [lo, hi) ranges as [off, len) reads cut at multiples of CHECK_PIECE. */
  private piecesOf(ranges: Array<[number, number]>): Array<[number, number]> {
    const out: Array<[number, number]> = [];
    for (const [lo, hi] of ranges) {
      for (let off = lo; off < hi;) {
        const end = Math.min(hi, (Math.floor(off / CHECK_PIECE) + 1) * CHECK_PIECE);
        out.push([off, end - off]);
        off = end;
      }
    }
    return out;
  }

  /**
   * What a whole-file check reads, ascending and coalesced: every range where the oracle holds
   * data, every zero gap up to GAP_READ_ALL, and of a longer gap its first and last GAP_EDGE bytes
   * plus whatever the target's SEEK_DATA/SEEK_HOLE call data inside it (all of it when the target
   * cannot seek). The cost follows the bytes written, not the file size: a sparse 2^53-byte file
   * is a few reads, where reading it whole would never end. What this misses: stray non-zero
   * bytes deep inside a long gap of a target whose SEEK_DATA also hides them (docs/fsx.md).
   * `windows` (ascending, disjoint, inside [0, size)) restricts it: the same reads inside each
   * window (a long gap cut by a window's edge gets no edge read there: only data and the ends of
   * the file have edges).
   */
  private checkRanges(windows: Array<[number, number]> = [[0, this.oracle.size]], gapReadAll = GAP_READ_ALL): Array<[number, number]> {
    const size = this.oracle.size;
    const out: Array<[number, number]> = [];
    const add = (lo: number, hi: number): void => {
      if (hi <= lo) return;
      const last = out[out.length - 1];
      if (last !== undefined && last[1] >= lo) last[1] = Math.max(last[1], hi);
      else out.push([lo, hi]);
    };
    const gap = (lo: number, hi: number, edgeLo: boolean, edgeHi: boolean): void => {
      if (hi - lo <= gapReadAll || !this.canSeek) return add(lo, hi);
      const a = edgeLo ? lo + GAP_EDGE : lo;
      const b = edgeHi ? hi - GAP_EDGE : hi;
      add(lo, a);
      this.seekDataIn(a, b, add);
      add(b, hi);
    };
    for (const [wlo, whi] of windows) {
      let pos = wlo;
      for (const [lo, hi] of this.oracle.storedRanges(wlo, whi)) {
        gap(pos, lo, pos > wlo || wlo === 0, true);
        add(lo, hi);
        pos = hi;
      }
      gap(pos, whi, pos > wlo || wlo === 0, whi >= size);
    }
    return out;
  }

  /** Hand `add` each range of [lo, hi) the target's SEEK_DATA/SEEK_HOLE call data. */
  private seekDataIn(lo: number, hi: number, add: (lo: number, hi: number) => void): void {
    for (let p = lo; p < hi;) {
      let d: number;
      let h: number;
      try {
        d = this.t.seekData!(p);
        if (d >= hi) return;
        h = this.t.seekHole!(d);
      } catch (e) {
        if (e instanceof FsError && e.code === 'ENXIO') return;
        throw e;
      }
      // A seek that does not move forward would loop: read the rest instead.
      if (d < p || h <= d) return add(p, hi);
      add(d, Math.min(h, hi));
      p = h;
    }
  }

  /**
   * An op with arguments a correct target must refuse (FL_INVALID): issue it, want the errno
   * mustRefuse() gives, then require that nothing changed — the size and every byte (file-ops
   * §14.4). Where a target may legitimately serve the call instead (misaligned O_DIRECT on btrfs,
   * tmpfs), success is judged as the plain op. Arguments that are valid in the current state (a
   * shrunk or replayed log) make it a skip.
   */
  private refusal(buf: OpBuffer, i: number, n: number, sim: boolean): void {
    const code = buf.code[i];
    const off = buf.off[i];
    const len = buf.len[i];
    const dst = buf.dst[i];
    const size = this.oracle.size;
    const want = this.mustRefuse(code, off, len, dst, size);
    if (want === null) return this.skip(buf, i, sim, `skipping ${OPS[code].name} flagged invalid: its arguments are valid here`);
    if (sim) return;
    let got = 'success';
    let result: number | Uint8Array = 0;
    try {
      result = this.issue(code, n, off, len, dst);
    } catch (e) {
      if (!(e instanceof FsError) || (e.code === 'EOPNOTSUPP' && OPTIONAL.has(code))) throw e;
      got = e.code;
    }
    // The lines of a failure are built only for one (most refusals pass).
    const what = (): string => `${this.describeArgs(buf, i)} with size ${hex(size)}: ${want.why}`;
    if (got === 'success' && want.maySucceed === true) return this.servedAnyway(code, n, off, len, result);
    if (got !== want.errno) {
      return this.fail('errno', want.rule, undefined, [what(), `expected ${want.errno}${want.maySucceed === true ? ' or success' : ''}, got ${got}`]);
    }
    const head = (): string => `${what()}: refused with ${got}, but the file changed (a refused call changes nothing)`;
    const now = this.t.size();
    if (now !== size) return this.fail('errno', 'fileops-14.4', undefined, [head(), `size ${hex(now)}, expected ${hex(size)}`]);
    if (code === OP_WRITE_DIRECT && this.dioWritePartial) this.acceptLandedBlocks(n, off, len, size);
    if (size <= REFUSAL_FULL_CHECK) this.verifyFile('errno', 'fileops-14.4', head);
    else this.verifyPieces('errno', 'fileops-14.4', head, this.refusalRanges(off, len, dst, size));
  }

  /**
   * What a refusal check reads of a file larger than REFUSAL_FULL_CHECK: the CHECK_PIECE pieces
   * holding both ends of each range the call named (offset and destination, each `len` long) and
   * the last piece before EOF: where a refused call that did something would have left a mark.
   * Inside them, what a whole-file check reads there (checkRanges): the oracle's data, the edges of
   * long zero gaps and whatever the target's SEEK_DATA calls data in them, not megabytes of holes.
   */
  private refusalRanges(off: number, len: number, dst: number, size: number): Array<[number, number]> {
    const out: Array<[number, number]> = [];
    // The piece holding byte p (a bad argument may name any length: its two ends are read).
    const piece = (p: number): void => {
      if (!Number.isFinite(p) || p < 0 || p >= size) return;
      const lo = Math.floor(p / CHECK_PIECE) * CHECK_PIECE;
      out.push([lo, Math.min(size, lo + CHECK_PIECE)]);
    };
    const around = (at: number): void => {
      if (!Number.isFinite(at) || !Number.isFinite(len)) return;
      const lo = Math.max(0, Math.min(at, at + len));
      const hi = Math.min(size, Math.max(at, at + len) + 1);
      if (lo >= hi) return;
      piece(lo);
      piece(hi - 1);
    };
    around(off);
    around(dst);
    out.push([Math.max(0, size - CHECK_PIECE), size]);
    out.sort((a, b) => a[0] - b[0]);
    const merged: Array<[number, number]> = [];
    for (const r of out) {
      const last = merged[merged.length - 1];
      if (last !== undefined && last[1] >= r[0]) last[1] = Math.max(last[1], r[1]);
      else merged.push([r[0], r[1]]);
    }
    // Within those pieces, what a whole-file check would read there (data, gap edges, SEEK_DATA).
    return this.piecesOf(this.checkRanges(merged));
  }

  /**
   * A refused misaligned O_DIRECT write on a target that may have written part of it first
   * (dioMisalignedWritePartial, ext4): each mapping before the misaligned one was submitted, and of
   * those only the written ones show their data (an unwritten or newly allocated extent is
   * converted at completion, which the error skips). So each block of the range, clipped to the
   * range and to EOF, reads either all old or all new: the oracle takes the new ones, and
   * verifyFile() then reports any block that is neither (a torn block, bytes from elsewhere).
   */
  private acceptLandedBlocks(n: number, off: number, len: number, size: number): void {
    const end = Math.min(off + len, size);
    if (end <= off) return;
    const data = this.pattern.data(n, off, len);
    const now = this.t.pread(off, end - off);
    if (now.length !== end - off) return;
    for (let a = off; a < end;) {
      const b = Math.min(end, (Math.floor(a / this.bs) + 1) * this.bs);
      const got = now.subarray(a - off, b - off);
      if (Buffer.compare(got, data.subarray(a - off, b - off)) === 0) this.oracle.write(a, got);
      a = b;
    }
  }

  /** Issue op `code` with these arguments as they are (bad-argument ops; see refusal()). */
  private issue(code: number, n: number, off: number, len: number, dst: number): number | Uint8Array {
    const t = this.t;
    switch (code) {
      case OP_COLLAPSE_RANGE: t.fallocate!(FALLOC_FL_COLLAPSE_RANGE, off, len); return 0;
      case OP_INSERT_RANGE: t.fallocate!(FALLOC_FL_INSERT_RANGE, off, len); return 0;
      case OP_FALLOCATE: t.fallocate!(0, off, len); return 0;
      case OP_TRUNCATE: t.truncate(len); return 0;
      case OP_CLONE_RANGE: t.cloneRange!(off, len, dst); return 0;
      case OP_DEDUPE_RANGE: return t.dedupeRange!(off, len, dst);
      case OP_WRITE: return t.pwrite(off, this.pattern.data(n, off, len));
      case OP_WRITE_DIRECT: return t.directWrite!(off, this.pattern.data(n, off, len));
      case OP_READ_DIRECT: return t.directRead!(off, len);
      case OP_WRITE_ATOMIC: return t.atomicWrite!(off, this.pattern.data(n, off, len));
      case OP_EXCHANGE_RANGE: t.exchangeRange!(off, len, dst); return 0;
      default: throw new Error(`runner: ${OPS[code].name} has no bad-argument form`);
    }
  }

  /** A misaligned O_DIRECT call the target may serve (dioMisaligned* capabilities): judged as the plain op. */
  private servedAnyway(code: number, n: number, off: number, len: number, result: number | Uint8Array): void {
    if (code === OP_READ_DIRECT) {
      const data = result as Uint8Array;
      const want = Math.min(len, this.oracle.size - off);
      if (data.length !== want) return this.shortRead(data.length, want, 'fileops-14.24');
      const mm = this.compareData(off, data, want);
      if (mm !== null) this.badData(off, data, want, mm);
      return;
    }
    if (result !== len) return this.fail('short-write', 'fileops-14.1', undefined, [`short write: ${hex(result as number)} bytes instead of ${hex(len)}`]);
    this.oracle.write(off, this.pattern.data(n, off, len));
  }

  /**
   * The errno a correct target answers these arguments with in the current state, the rule and
   * why, or null when they are valid. The rules, in the kernel's order (docs/fsx.md "Bad
   * arguments"; file-ops §1–§5, §11): s_maxbytes (EFBIG) for writes, truncates and every
   * fallocate; collapse/insert alignment, then insert growth past s_maxbytes (EFBIG), then their
   * EOF rules; clone offsets, source range, unaligned tail, overlap, partial EOF block; dedupe
   * source range, offsets, destination range, overlap; O_DIRECT alignment inside EOF.
   */
  private mustRefuse(code: number, off: number, len: number, dst: number, size: number): Refusal | null {
    const bs = this.bs;
    const max = this.maxFile;
    const no = (errno: string, rule: string, why: string, maySucceed?: boolean): Refusal => ({ errno, rule, why, maySucceed });
    const isFalloc = code === OP_FALLOCATE || code === OP_COLLAPSE_RANGE || code === OP_INSERT_RANGE;
    if (isFalloc && off + len > max) return no('EFBIG', 'fileops-14.28', `offset + length past the size limit ${hex(max)}`);
    switch (code) {
      case OP_WRITE:
        return len > 0 && off >= max ? no('EFBIG', 'fileops-14.1', `a write at or past the size limit ${hex(max)}`) : null;
      case OP_TRUNCATE:
        return len > max ? no('EFBIG', 'fileops-14.1', `a size past the size limit ${hex(max)}`) : null;
      case OP_FALLOCATE:
        return null;
      case OP_COLLAPSE_RANGE:
        if (len === 0) return no('EINVAL', 'fileops-14.28', 'length 0');
        if (off % bs !== 0 || len % bs !== 0) return no('EINVAL', 'fileops-14.7', 'collapse range not block aligned');
        return off + len >= size ? no('EINVAL', 'fileops-14.7', 'collapse range reaching EOF') : null;
      case OP_INSERT_RANGE:
        if (len === 0) return no('EINVAL', 'fileops-14.28', 'length 0');
        if (off % bs !== 0 || len % bs !== 0) return no('EINVAL', 'fileops-14.8', 'insert range not block aligned');
        if (size + len > max) return no('EFBIG', 'fileops-14.8', `insert growing the file past the size limit ${hex(max)}`);
        return off >= size ? no('EINVAL', 'fileops-14.8', 'insert at or past EOF') : null;
      case OP_CLONE_RANGE: {
        if (len === 0) return null;
        if (off % bs !== 0 || dst % bs !== 0) return no('EINVAL', 'fileops-14.12', 'clone offsets not block aligned');
        if (off + len > size) return no('EINVAL', 'fileops-14.12', 'clone source range past EOF');
        if (len % bs !== 0 && off + len !== size) return no('EINVAL', 'fileops-14.12', 'clone length not block aligned and not ending at EOF');
        const span = Math.ceil(len / bs) * bs;
        if (off < dst + span && dst < off + span) return no('EINVAL', 'fileops-14.12', 'overlapping clone ranges');
        return len % bs !== 0 && dst + len < size ? no('EINVAL', 'fileops-14.12', 'a partial EOF block landing inside the destination') : null;
      }
      case OP_DEDUPE_RANGE: {
        if (off + len > size) return no('EINVAL', 'fileops-14.14', 'dedupe source range past EOF');
        if (len === 0) return null;
        if (off % bs !== 0 || dst % bs !== 0) return no('EINVAL', 'fileops-14.14', 'dedupe offsets not block aligned');
        if (dst + len > size) return no('EINVAL', 'fileops-14.14', 'dedupe destination range past EOF');
        const eff = len % bs !== 0 && !(off + len === size && dst + len === size) ? len - (len % bs) : len;
        const span = Math.ceil(eff / bs) * bs;
        return eff > 0 && off < dst + span && dst < off + span ? no('EINVAL', 'fileops-14.14', 'overlapping dedupe ranges') : null;
      }
      case OP_READ_DIRECT:
      case OP_WRITE_DIRECT: {
        // A read of nothing, or at or past EOF, returns 0 before any alignment check.
        if (code === OP_READ_DIRECT && (len === 0 || off >= size)) return null;
        if (code === OP_WRITE_DIRECT && len === 0) return null;
        const al = this.dioAlign;
        if (off % al === 0 && len % al === 0) return null;
        const may = code === OP_READ_DIRECT ? this.dioReadMaySucceed : this.dioWriteBuffered;
        return no('EINVAL', 'fileops-14.24', `O_DIRECT ${code === OP_READ_DIRECT ? 'read' : 'write'} not ${al}-byte aligned`, may);
      }
      case OP_WRITE_ATOMIC: {
        const u = this.atomicUnits;
        if (u === null || len === 0) return null;
        if (len < u.unitMin || len > u.unitMax || !Number.isInteger(Math.log2(len))) {
          return no('EINVAL', 'fileops-14.29', `atomic write length not a power of two in the unit range [${hex(u.unitMin)}, ${hex(u.unitMax)}]`);
        }
        return off % len !== 0 ? no('EINVAL', 'fileops-14.29', 'atomic write offset not a multiple of its length') : null;
      }
      case OP_EXCHANGE_RANGE: {
        if (len === 0) return null;
        if (off % bs !== 0 || dst % bs !== 0 || len % bs !== 0) return no('EINVAL', 'fileops-14.31', 'exchange range not block aligned');
        if (off + len > size || dst + len > size) return no('EINVAL', 'fileops-14.31', 'exchange range beyond EOF');
        return off < dst + len && dst < off + len ? no('EINVAL', 'fileops-14.31', 'overlapping exchange ranges') : null;
      }
      default:
        return null;
    }
  }

  /**
   * Arguments no correct target may accept (EINVAL by file-ops §3.2, §4, §5 and the O_DIRECT
   * alignment rule): the skip message, or null. The generator never makes such ops, but a shrunk
   * or hand-edited log can (the shrinker tries length 1 first), and issuing them would report a
   * correct EINVAL as an op-error. fsx's replay rounds collapse/insert down to the block (skipping
   * what becomes empty); skipping keeps the log's arguments the ones that ran. Checked before the
   * EOF pollution, so a mutant's failure inside the pollution cannot make an invalid op look valid.
   */
  private misaligned(code: number, off: number, len: number, dst: number, size: number): string | null {
    const bs = this.bs;
    switch (code) {
      case OP_COLLAPSE_RANGE:
      case OP_INSERT_RANGE:
        return off % bs !== 0 || len % bs !== 0 ? `skipping ${OPS[code].name} not block aligned` : null;
      case OP_CLONE_RANGE:
      case OP_DEDUPE_RANGE: {
        if (len === 0) return null;
        if (off % bs !== 0 || dst % bs !== 0) return `skipping ${OPS[code].name} with offsets not block aligned`;
        const span = Math.ceil(len / bs) * bs;
        if (off < dst + span && dst < off + span) return `skipping ${OPS[code].name} with overlapping ranges`;
        // A clone cannot shorten: a partial last block must end the source and land at or past
        // the destination's EOF (dedupe rounds such a length down instead).
        const partialOk = off + len === size && dst + len >= size;
        return code === OP_CLONE_RANGE && len % bs !== 0 && !partialOk ? 'skipping clone_range with a length not block aligned' : null;
      }
      case OP_READ_DIRECT:
      case OP_WRITE_DIRECT:
      case OP_WRITE_DIRECT_ASYNC: {
        const al = this.dioAlign;
        return off % al !== 0 || len % al !== 0 ? `skipping ${OPS[code].name} not ${al}-byte aligned` : null;
      }
      case OP_WRITE_ATOMIC: {
        const u = this.atomicUnits;
        if (len === 0 || u === null) return null;
        if (len < u.unitMin || len > u.unitMax || !Number.isInteger(Math.log2(len))) {
          return `skipping write_atomic of ${hex(len)} bytes: not a power of two in the atomic write unit range [${hex(u.unitMin)}, ${hex(u.unitMax)}]`;
        }
        if (off % len !== 0) return 'skipping write_atomic not naturally aligned';
        return off % this.dioAlign !== 0 ? `skipping write_atomic not ${this.dioAlign}-byte aligned` : null;
      }
      case OP_EXCHANGE_RANGE: {
        if (len === 0) return null;
        const bs = this.bs;
        if (off % bs !== 0 || dst % bs !== 0 || len % bs !== 0) return 'skipping exchange_range not block aligned';
        return off < dst + len && dst < off + len ? 'skipping exchange_range with overlapping ranges' : null;
      }
      default:
        return null;
    }
  }

  // ---- RWF_DONTCACHE, RWF_ATOMIC, exchange range ------------------------------------------------

  /** Pages of [off, off+len) the target has cached now (null: it cannot say). */
  private cached(off: number, len: number): Uint8Array | null {
    return typeof this.t.cachedPages === 'function' && len > 0 ? this.t.cachedPages(off, len) : null;
  }

  /**
   * The uncached-I/O rule (file-ops §14.30): once its I/O completed, an RWF_DONTCACHE read or write
   * leaves none of the pages wholly inside its range cached that were not cached before it.
   */
  private checkDropped(what: string, off: number, len: number, before: Uint8Array): void {
    const after = this.cached(off, len)!;
    const ps = this.ps;
    const first = Math.floor(off / ps);
    for (let k = 0; k < after.length; k++) {
      const p = (first + k) * ps;
      if (p < off || p + ps > off + len || before[k] !== 0 || after[k] === 0) continue;
      return this.fail('uncached', 'fileops-14.30', p, [
        `${what} ${hex(off)} thru ${hex(off + len - 1)}: the page at ${hex(p)} was not cached before it and is still cached after its I/O completed`,
      ]);
    }
  }

  /** read_dontcache: a read compared with the oracle, then the folios it brought in must be gone. */
  private readDontcache(buf: OpBuffer, i: number, sim: boolean): void {
    const off = buf.off[i];
    const len = buf.len[i];
    if (len === 0) return this.skip(buf, i, sim, 'skipping zero size read');
    if (off + len > this.oracle.size) return this.skip(buf, i, sim, 'skipping seek/read past end of file');
    if (sim) return;
    const before = this.cached(off, len);
    const data = this.readAt('dontcache', off, len);
    if (data.length !== len) return this.shortRead(data.length, len);
    const mm = this.compareData(off, data, len);
    if (mm !== null) return this.badData(off, data, len, mm);
    if (before !== null) this.checkDropped('read_dontcache', off, len, before);
  }

  /**
   * write_dontcache: a buffered write; then (where the runner can complete the I/O, and the write
   * did not start past EOF, where zeroing the gap caches pages of its own) its writeback is
   * completed and the folios it created must be gone.
   */
  private writeDontcache(buf: OpBuffer, i: number, n: number, sim: boolean): void {
    const off = buf.off[i];
    const len = buf.len[i];
    const size = this.oracle.size;
    if (len === 0) return this.skip(buf, i, sim, 'skipping zero size write');
    if (!sim && off > size) this.pollute(n, off + len);
    const data = this.pattern.data(n, off, len);
    if (!sim) {
      const before = off <= size && this.il !== undefined ? this.cached(off, len) : null;
      const w = this.t.writeDontcache!(off, data);
      if (w !== len) return this.fail('short-write', 'fileops-14.1', undefined, [`short write: ${hex(w)} bytes instead of ${hex(len)}`]);
      this.oracle.write(off, data);
      if (before !== null) {
        this.drain();
        this.checkDropped('write_dontcache', off, len, before);
      }
      return;
    }
    this.oracle.write(off, data);
  }

  /**
   * write_atomic: an O_DIRECT RWF_ATOMIC write, whole or refused (never short). fsx skips one
   * ending past -l; a range unchanged since the last fsync is remembered for the crash check.
   */
  private writeAtomic(buf: OpBuffer, i: number, n: number, sim: boolean): void {
    const off = buf.off[i];
    const len = buf.len[i];
    const size = this.oracle.size;
    if (len === 0) return this.skip(buf, i, sim, 'skipping zero size write');
    if (off + len > this.cfg.maxlen) return this.skip(buf, i, sim, 'skipping atomic write past maxfilelen');
    if (!sim && off > size) this.pollute(n, off + len);
    const data = this.pattern.data(n, off, len);
    const tr = this.durability;
    const old = !sim && tr !== null && tr.unchangedSinceBase(off, off + len) ? this.oracle.read(off, len) : null;
    if (!sim) {
      const w = this.t.atomicWrite!(off, data);
      if (w !== len) return this.fail('short-write', 'fileops-14.29', undefined, [`short atomic write: ${hex(w)} bytes instead of ${hex(len)}`]);
    }
    this.oracle.write(off, data);
    // A copy: data is the pattern's scratch, which the next op's data overwrites.
    if (old !== null) this.pendingAtomic = { label: `op ${n} write_atomic`, parts: [{ off, old, neu: Buffer.from(data) }] };
  }

  /**
   * exchange_range: the two ranges (inside EOF, block aligned, apart) swap contents; fsx's own
   * skips first (zero length, either range behind EOF, past -l).
   */
  private exchangeRange(buf: OpBuffer, i: number, sim: boolean): void {
    const off = buf.off[i];
    const len = buf.len[i];
    const dst = buf.dst[i];
    const size = this.oracle.size;
    if (len === 0) return this.skip(buf, i, sim, 'skipping zero length exchange range');
    if (off >= size || dst >= size || off + len > size || dst + len > size) return this.skip(buf, i, sim, 'skipping exchange range behind EOF');
    if (dst + len > this.cfg.maxlen) return this.skip(buf, i, sim, 'skipping exchange range past maxlen');
    const tr = this.durability;
    const whole = !sim && tr !== null && tr.unchangedSinceBase(off, off + len) && tr.unchangedSinceBase(dst, dst + len);
    // The two ranges' bytes: copies to keep when the exchange is judged whole after a power cut,
    // else the runner's two scratch buffers.
    const a = whole ? this.oracle.read(off, len) : this.oracleInto(0, off, len);
    const b = whole ? this.oracle.read(dst, len) : this.oracleInto(1, dst, len);
    if (!sim) this.t.exchangeRange!(off, len, dst);
    this.oracle.write(off, b);
    this.oracle.write(dst, a);
    if (whole) this.pendingAtomic = { label: `op ${i + 1} exchange_range`, parts: [{ off, old: a, neu: b }, { off: dst, old: b, neu: a }] };
  }

  /**
   * A read of [off, off+len) (`how`: FileTarget.readInto's kinds) for a check made at once: into
   * the runner's read buffer where the target reads into the caller's buffer, valid until the next
   * readAt; else the target's own array.
   */
  private readAt(how: ReadKind, off: number, len: number): Uint8Array {
    const t = this.t;
    // Asked at every read: a target may offer it only while its read methods are its own.
    const readInto = t.readInto;
    if (readInto === undefined) {
      return how === 'pread' ? t.pread(off, len) : how === 'direct' ? t.directRead!(off, len) : how === 'mmap' ? t.mapread!(off, len) : t.readDontcache!(off, len);
    }
    return this.readIntoView(readInto, how, off, this.scratch(2, len));
  }

  /** FileTarget.readInto (`readInto`, the target's) of v.length bytes at off into v: the bytes it read, a view of v. */
  private readIntoView(readInto: NonNullable<FileTarget['readInto']>, how: ReadKind, off: number, v: Uint8Array): Uint8Array {
    const len = v.length;
    const got = readInto.call(this.t, how, off, v);
    if (!Number.isInteger(got) || got < 0 || got > len) throw new TargetError(`readInto(${how}, ${off}, a ${len}-byte buffer) returned ${got}`);
    return got === len ? v : v.subarray(0, got);
  }

  /** The oracle's bytes [off, off+len) in scratch buffer k (0 or 1): valid until its next use. */
  private oracleInto(k: number, off: number, len: number): Uint8Array {
    const v = this.scratch(k, len);
    this.oracle.readInto(off, len, v);
    return v;
  }

  /** A view of `len` bytes of the runner's scratch buffer k (grown when needed, never shrunk). */
  private scratch(k: number, len: number): Uint8Array {
    if (this.scratchBufs[k].length < len) this.scratchBufs[k] = new Uint8Array(Math.max(len, 2 * this.scratchBufs[k].length));
    return this.scratchBufs[k].subarray(0, len);
  }

  // ---- op log v3: model-level faults ---------------------------------------------------------

  /** The target's fault injection (replay refuses v3 fault logs on targets without it). */
  private get faults(): FaultSteps {
    const f = this.t.faults;
    if (f === undefined) throw new HarnessLimit('faults', 'the op needs model-level fault injection (FileTarget.faults), which this target has not');
    return f;
  }

  /**
   * A buffered write of `data`: whole, or (v3) with the user buffer faulting at byte `arg`
   * (FL_FAULT_AT) or with at most `arg` more delalloc blocks reservable (FL_RESERVE). Returns the
   * bytes accepted; -1 after recording a failure (a count no short write may return).
   */
  private bufferedWrite(flags: number, off: number, data: Uint8Array, arg: number): number {
    if ((flags & FL_FAULT_AT) !== 0) return this.faultingWrite(off, data, arg);
    if ((flags & FL_RESERVE) === 0) return this.t.pwrite(off, data);
    const got = this.faults.withReserveHeadroom(arg, () => this.acceptErrno('ENOSPC', () => this.t.pwrite(off, data)));
    return this.shortCount(got, data.length, off, `reservations capped at ${arg} more blocks`);
  }

  /** Contract §5.2: a short copy accepts a prefix no longer than the readable part of the buffer. */
  private faultingWrite(off: number, data: Uint8Array, faultAt: number): number {
    const got = this.acceptErrno('EFAULT', () => this.faults.pwriteFaulting(off, data, faultAt));
    return this.shortCount(got, faultAt, off, `user buffer faulting at byte ${faultAt}`);
  }

  /**
   * A store whose source buffer faults at byte `faultAt` (FaultSteps.mapwriteFaulting): exactly
   * the bytes before the fault may land (a page the store never reached is never write-faulted);
   * the target reports how many did, and that many must read back.
   */
  private faultingStore(off: number, data: Uint8Array, faultAt: number, opts: { msync?: boolean } | undefined): number {
    const f = this.faults;
    if (typeof f.mapwriteFaulting !== 'function') throw new TargetError('a mapwrite with faultAt needs FileTarget.faults.mapwriteFaulting, which this target has not');
    const got = this.acceptErrno('SIGBUS', () => f.mapwriteFaulting!(off, data, faultAt, opts));
    return this.shortCount(got, faultAt, off, `source buffer faulting at byte ${faultAt} (a store through the mapping)`);
  }

  /** The count an op returned, or 0 when it failed with `errno` (a short op that accepted nothing). */
  private acceptErrno(errno: string, fn: () => number): number {
    try {
      return fn();
    } catch (e) {
      if (e instanceof FsError && e.code === errno) return 0;
      throw e;
    }
  }

  /** `got` when it is a count in [0, max]; else a short-write failure and -1. */
  private shortCount(got: number, max: number, off: number, why: string): number {
    if (Number.isInteger(got) && got >= 0 && got <= max) return got;
    this.fail('short-write', 'iomap-contract-§5.2', undefined, [`write at ${hex(off)} with ${why} returned ${got} (expected 0 to ${max})`]);
    return -1;
  }

  /** Before a store through the mapping: atomic changes in its folios are no longer all or nothing. */
  private storing(off: number, len: number): void {
    this.durability?.forgetAtomicNear(off, off + len, this.cfg.folioSize ?? MAX_FOLIO_SPAN);
  }

  /**
   * A store through the mapping (msync unless FL_NO_MSYNC). With FL_RESERVE, at most `arg` more
   * delalloc blocks may be reserved: page_mkwrite then fails (SIGBUS) and the store stops at that
   * page, so it goes page by page to know how much landed. Returns the bytes stored.
   */
  private store(off: number, data: Uint8Array, flags: number, arg: number): number {
    this.storing(off, data.length);
    const opts = (flags & FL_NO_MSYNC) !== 0 ? { msync: false } : undefined;
    if ((flags & FL_FAULT_AT) !== 0) return this.faultingStore(off, data, arg, opts);
    if ((flags & FL_RESERVE) === 0) {
      this.t.mapwrite!(off, data, opts);
      return data.length;
    }
    return this.faults.withReserveHeadroom(arg, () => {
      let done = 0;
      while (done < data.length) {
        const piece = Math.min(data.length - done, this.ps - ((off + done) % this.ps));
        if (this.acceptErrno('SIGBUS', () => (this.t.mapwrite!(off + done, data.subarray(done, done + piece), opts), 1)) === 0) break;
        done += piece;
      }
      return done;
    });
  }

  /**
   * file-ops §14.11/§14.14 (v3 checkShared): after a clone or a dedupe of equal ranges, FIEMAP
   * (without SYNC: looking changes nothing) reports every allocated full block of the source range
   * SHARED, in both ranges, at one physical address. Delalloc source blocks have no address yet.
   */
  private checkShared(src: number, dst: number, len: number, rule: string): void {
    const bs = this.bs;
    const nb = Math.floor(len / bs);
    if (nb === 0 || typeof this.t.fiemap !== 'function') return;
    const se = this.t.fiemap(src, nb * bs, 0);
    const de = this.t.fiemap(dst, nb * bs, 0);
    const at = (ext: FiemapExtent[], pos: number) => ext.find((e) => pos >= e.logical && pos < e.logical + e.length);
    // Piece by piece, not block by block: between two extent edges (of either answer, counted from
    // the start of its range) every block finds the same extents, and its addresses move with its
    // offset on both sides, so the first block of a piece judges all of it (a long clone of one
    // extent is one step).
    for (let b = 0, next = 0; b < nb; b = next) {
      next = Math.max(b + 1, Math.min(nb, Math.ceil(Math.min(nextEdge(se, src, b * bs), nextEdge(de, dst, b * bs)) / bs)));
      const s = at(se, src + b * bs);
      if (s === undefined || (s.flags & FIEMAP_EXTENT_DELALLOC) !== 0) continue;
      if (this.skipsUnwritten && (s.flags & FIEMAP_EXTENT_UNWRITTEN) !== 0) continue;
      const d = at(de, dst + b * bs);
      const srcOk = (s.flags & FIEMAP_EXTENT_SHARED) !== 0;
      const dstOk = d !== undefined && (d.flags & FIEMAP_EXTENT_SHARED) !== 0
        && d.physical + (dst + b * bs - d.logical) === s.physical + (src + b * bs - s.logical);
      if (srcOk && dstOk) continue;
      return this.fail('fiemap', rule, srcOk ? dst + b * bs : src + b * bs, [
        `block at ${hex(src + b * bs)} (source) / ${hex(dst + b * bs)} (destination) must be SHARED at one physical address`,
        'source:', ...se.map(fmtExtent), 'destination:', ...de.map(fmtExtent),
      ]);
    }
  }

  /** race_writeback's step: writeback, complete everything, reclaim the folio at `pos`. */
  private writebackAndEvict(il: InterleavingSteps, pos: number): void {
    il.writeback();
    this.drain();
    il.evict(pos);
  }

  /**
   * Buffered write i with race op i-1 run inside it, between ->iomap_begin and the first folio
   * lookup. The race op's failures are its own (its op number); its exceptions never reach the
   * writer. Data order is the log's: the race op first, then the write. If the window never
   * opened, the race op runs right after the write.
   */
  private raceWrite(buf: OpBuffer, i: number, off: number, pattern: Buffer): void {
    const il = this.il!;
    const inner = i - 1;
    this.armed = -1;
    const len = buf.len[i];
    // A copy: the race op's own pattern may reuse the buffer the writer's data is a view of.
    const data = Buffer.from(pattern);
    let fired = false;
    il.betweenBeginAndGetFolio(() => {
      fired = true;
      this.runInner(buf, inner);
    });
    const flags = buf.flags[i];
    let w: number;
    try {
      w = this.bufferedWrite(flags, off, data, buf.dst[i]);
    } finally {
      if (!fired) il.betweenBeginAndGetFolio(() => undefined); // disarm (a no-op if it fires later)
    }
    this.coverage?.step(!fired ? 'race-after-write' : buf.code[inner] === OP_RACE_WRITE ? 'race-write-in-window'
      : buf.code[inner] === OP_RACE_PUNCH ? 'race-punch-in-window' : 'race-writeback-in-window');
    if (this.failure !== null || w < 0) return;
    const modelShort = (flags & (FL_FAULT_AT | FL_RESERVE)) !== 0;
    if (w !== len && !modelShort) return this.fail('short-write', 'fileops-14.1', undefined, [`short write: ${hex(w)} bytes instead of ${hex(len)}`]);
    this.oracle.write(off, data, 0, w);
    if (!fired) this.runInner(buf, inner);
  }

  /** Run race op `inner` now (inside a window or after it), charging failures to it. */
  private runInner(buf: OpBuffer, inner: number): void {
    const saved = this.opNum;
    const savedFlags = this.curFlags;
    this.opNum = inner + 1;
    this.curFlags = buf.flags[inner];
    const cov = this.coverage;
    const savedOp = cov?.op ?? 0;
    if (cov !== null) cov.op = buf.code[inner];
    try {
      if (buf.code[inner] === OP_RACE_WRITEBACK) this.writebackAndEvict(this.il!, buf.off[inner]);
      else this.exec(buf, inner, inner + 1, false);
      if (cov !== null) this.countFileOp(buf, inner);
      this.durability?.record(`op ${inner + 1} ${OPS[buf.code[inner]].name} (inside op ${inner + 2})`, this.oracle, this.acknowledgedRange(buf, inner));
    } catch (e) {
      this.caught(e, buf, inner);
    } finally {
      this.opNum = this.failure !== null ? this.opNum : saved;
      this.curFlags = savedFlags;
      if (cov !== null) cov.op = savedOp;
    }
  }

  /**
   * write_direct_async: submit through interleave.directWriteAsync and remember the bytes; they
   * become the oracle's when every pending I/O has completed. One overlapping an in-flight write
   * (block-rounded) waits for everything first; one reaching past EOF (i_size changes at
   * completion) or not block aligned also waits before and is waited for at once. Without
   * asynchronous submission it is a synchronous O_DIRECT write.
   */
  private asyncDirectWrite(buf: OpBuffer, i: number, n: number, sim: boolean): void {
    const off = buf.off[i];
    const len = buf.len[i];
    if (len === 0) return this.skip(buf, i, sim, 'skipping zero size write');
    const data = Uint8Array.from(this.pattern.data(n, off, len));
    if (sim) {
      this.oracle.write(off, data);
      return;
    }
    const il = this.il;
    const past = off + len > this.oracle.size;
    if (il === undefined || typeof il.directWriteAsync !== 'function') {
      if (off > this.oracle.size) this.pollute(n, off + len);
      const w = this.t.directWrite!(off, data);
      if (w !== len) return this.fail('short-write', 'fileops-14.1', undefined, [`short write: ${hex(w)} bytes instead of ${hex(len)}`]);
      this.oracle.write(off, data);
      return;
    }
    // Sub-block writes zero the rest of their block with bios of their own; xfs makes them wait
    // (IOMAP_DIO_FORCE_WAIT), and so does the runner.
    const sync = past || off % this.bs !== 0 || len % this.bs !== 0;
    if (this.inflight.length > 0 && (sync || this.overlapsInflight(off, len))) this.drain();
    if (off > this.oracle.size) this.pollute(n, off + len);
    il.directWriteAsync(off, data);
    this.inflight.push({ off, data });
    this.coverage?.step(sync ? 'async-direct-write-waited' : 'async-direct-write');
    if (sync) this.drain();
  }

  /**
   * fsx's pollute_eofpage: with -e (or on an op flagged FL_POLLUTE), before an op that changes the
   * size, store op n's pattern through
   * the mapping from EOF to the end of the EOF page (at most up to `maxoff`). The oracle is not told:
   * the op must zero those bytes, so any that survive show up as bad data or EOF page junk later.
   */
  private pollute(n: number, maxoff: number): void {
    if (!this.cfg.polluteEof && (this.curFlags & FL_POLLUTE) === 0) return;
    // A log replayed on a target without mmap stores: nothing to pollute with.
    if (!this.canMapWrite) return;
    const size = this.oracle.size;
    const pg = size % this.ps;
    const len = Math.min(this.ps - pg, maxoff - size);
    if (pg === 0 || len <= 0) return;
    this.storing(size, len);
    if ((this.curFlags & FL_NO_MSYNC) !== 0) this.t.mapwrite!(size, this.pattern.data(n, size, len), { msync: false });
    else this.t.mapwrite!(size, this.pattern.data(n, size, len));
  }

  /**
   * A short write past EOF (its user buffer faulted part-way, or it ran out of reservations) grew
   * the size to where it stopped, or not at all: the junk pollute() stored past the old EOF beyond
   * that point lies past the new EOF, where nothing had to zero it (the kernel leaves it in the page
   * cache until writeback). Store zeroes over it again, so the later EOF-page checks judge only
   * what the target was asked to do.
   */
  private unpollute(oldSize: number, maxoff: number): void {
    if (!this.cfg.polluteEof && (this.curFlags & FL_POLLUTE) === 0) return;
    if (!this.canMapWrite || oldSize % this.ps === 0) return;
    const size = this.oracle.size;
    const end = Math.min(oldSize - (oldSize % this.ps) + this.ps, maxoff);
    if (size >= end) return;
    this.storing(size, end - size);
    this.t.mapwrite!(size, new Uint8Array(end - size), (this.curFlags & FL_NO_MSYNC) !== 0 ? { msync: false } : undefined);
  }

  private fallocate(mode: number, off: number, len: number): void {
    this.t.fallocate!(mode, off, len);
  }

  private twoRange(buf: OpBuffer, i: number, code: number, sim: boolean): void {
    const off = buf.off[i];
    const len = buf.len[i];
    const dst = buf.dst[i];
    const size = this.oracle.size;
    const what = code === OP_CLONE_RANGE ? 'clone' : code === OP_DEDUPE_RANGE ? 'dedupe' : 'copy';
    if (len === 0) return this.skip(buf, i, sim, `skipping zero length ${what} range`);
    if (off >= size || off + len > size) return this.skip(buf, i, sim, `skipping ${what} range behind EOF`);
    if (code === OP_DEDUPE_RANGE) {
      if (dst + len > size) return this.skip(buf, i, sim, 'skipping dedupe range behind EOF');
      if (!sim) this.dedupe(off, len, dst, size, (buf.flags[i] & FL_CHECK_SHARED) !== 0);
      return;
    }
    if (dst + len > this.cfg.maxlen) return this.skip(buf, i, sim, `skipping ${what} range past maxlen`);
    if (!sim && dst > size) this.pollute(i + 1, dst + len);
    if (!sim) {
      if (code === OP_CLONE_RANGE) {
        this.t.cloneRange!(off, len, dst);
        if ((buf.flags[i] & FL_CHECK_SHARED) !== 0) this.checkShared(off, dst, len, 'fileops-14.11');
      } else {
        for (let done = 0; done < len;) {
          const r = this.t.copyRange!(off + done, len - done, dst + done);
          if (!(Number.isInteger(r) && r > 0 && r <= len - done)) {
            const why = r === 0 ? 'no progress made' : `asked ${hex(len - done)}, copied ${hex(r)}??`;
            return this.fail('short-write', 'fileops-14.15', undefined, [
              `copy range: ${hex(off)} to ${hex(off + len)} at ${hex(dst)}`, `do_copy_range: ${why}`,
            ]);
          }
          done += r;
        }
      }
    }
    this.oracle.copyWithin(off, len, dst);
  }

  private dedupe(off: number, len: number, dst: number, size: number, checkShared: boolean): void {
    // The length the kernel works on: capped at 1 GiB, rounded down to the block unless both
    // ranges end at EOF (fs/remap_range.c generic_remap_checks).
    // What it reports is the capped length asked for, whenever the remap did not fail
    // (vfs_dedupe_file_range: bytes_deduped = len), however far it was shortened: shortened to
    // nothing, the ranges are not even compared.
    const asked = Math.min(len, DEDUPE_MAX);
    let eff = asked;
    if (eff % this.bs !== 0 && !(off + eff === size && dst + eff === size)) eff -= eff % this.bs;
    const same = eff === 0 || this.oracle.equalRanges(off, dst, eff);
    const r = this.t.dedupeRange!(off, len, dst);
    const want = same ? asked : 0;
    if (r !== want) {
      const ranges = eff === 0 ? 'shortened to nothing' : eff < asked ? `shortened to ${hex(eff)} bytes that ${same ? 'are equal' : 'differ'}` : same ? 'are equal' : 'differ';
      this.fail('dedupe', 'fileops-14.14', undefined, [
        `dedupe range: ${hex(off)} to ${hex(off + len)} at ${hex(dst)}`,
        `do_dedupe_range: ranges ${ranges}, expected ${hex(want)} bytes deduped, got ${hex(r)}`,
      ]);
    } else if (same && eff > 0 && checkShared) {
      this.checkShared(off, dst, eff, 'fileops-14.14');
    }
  }

  private mapRead(off: number, len: number, size: number): void {
    // Like fsx's check_eofpage: when the read lands in the EOF page, map through to the page end
    // and require zeroes past EOF.
    const tail = size % this.ps;
    const eofPage = size - tail;
    const req = tail !== 0 && off + len > eofPage ? eofPage + this.ps - off : len;
    const data = this.readAt('mmap', off, req);
    if (data.length !== req) return this.shortRead(data.length, req);
    const mm = this.compareData(off, data, len);
    if (mm !== null) return this.badData(off, data, len, mm);
    if (req > len) this.eofZero('Read', data, size - off, size);
  }

  /** After a store through the mapping: the EOF page must still read zero past EOF. */
  private checkEofPage(what: string): void {
    const size = this.oracle.size;
    const tail = size % this.ps;
    if (tail === 0 || !this.canMapRead) return;
    const data = this.readAt('mmap', size, this.ps - tail);
    if (data.length !== this.ps - tail) return this.shortRead(data.length, this.ps - tail);
    this.eofZero(what, data, 0, size);
  }

  /** data[from..] covers the EOF page from `size` to its end: it must be all zero. */
  private eofZero(what: string, data: Uint8Array, from: number, size: number): void {
    const n = data.length - from;
    if (this.zeroPage.compare(data, from, data.length, 0, n) === 0) return;
    let k = from;
    while (data[k] === 0) k++;
    const bad = size + (k - from);
    this.fail('eof-page', 'fileops-14.22', bad, [
      `Mapped ${what}: non-zero data past EOF (${hex(size - 1)}) page offset ${hex(bad % this.ps)} is ${word(data, k, data.length).trimEnd()}`,
    ]);
  }

  private seek(code: number, off: number, size: number): void {
    const name = code === OP_SEEK_DATA ? 'SEEK_DATA' : 'SEEK_HOLE';
    let r: number;
    try {
      r = code === OP_SEEK_DATA ? this.t.seekData!(off) : this.t.seekHole!(off);
    } catch (e) {
      if (!(e instanceof FsError && e.code === 'ENXIO')) throw e;
      r = -1;
    }
    const bad = (rule: string, why: string, at?: number) =>
      this.fail('seek', rule, at, [`${name}(${hex(off)}) returned ${r < 0 ? 'ENXIO' : hex(r)} with size ${hex(size)}: ${why}`]);
    if (off >= size) {
      if (r >= 0) bad('fileops-14.16', 'expected ENXIO at or past EOF');
      return;
    }
    if (code === OP_SEEK_DATA) {
      if (r < 0) {
        const nz = this.oracle.firstNonZero(off, size - off);
        if (nz >= 0) bad('fileops-14.17', `but ${hex(nz)} reads non-zero`, nz);
        return;
      }
      // Linux 6.6–6.14 can answer i_size itself: mapping_seek_hole_data() scans an uncached
      // unwritten segment's folio past the segment and returns the segment end (here i_size)
      // when it finds cached data beyond it (iomap-contract Errata §5.9). Treat it like ENXIO:
      // nothing may read non-zero in [off, size).
      if (r === size) {
        const nz = this.oracle.firstNonZero(off, size - off);
        if (nz >= 0) bad('fileops-14.17', `but ${hex(nz)} reads non-zero`, nz);
        return;
      }
      if (r < off || r >= size) return bad('fileops-14.16', 'expected a result in [offset, size)');
      if (r !== off && r % this.bs !== 0) return bad('fileops-14.18', `not a multiple of the block size ${hex(this.bs)}`);
      const nz = this.oracle.firstNonZero(off, r - off);
      if (nz >= 0) bad('fileops-14.17', `but ${hex(nz)} (inside the hole before it) reads non-zero`, nz);
      return;
    }
    if (r < off || r > size) return bad('fileops-14.16', 'expected a result in [offset, size]');
    if (r !== off && r !== size && r % this.bs !== 0) return bad('fileops-14.18', `not a multiple of the block size ${hex(this.bs)}`);
    if (r < size) {
      // The hole reaches at least the next block boundary (or EOF): all of it must read zero.
      const end = Math.min(size, (Math.floor(r / this.bs) + 1) * this.bs);
      const nz = this.oracle.firstNonZero(r, end - r);
      if (nz >= 0) bad('fileops-14.17', `but ${hex(nz)} (inside that hole) reads non-zero`, nz);
    }
  }

  private fiemap(off: number, len: number, size: number): void {
    const ext = this.t.fiemap!(off, len, FIEMAP_FLAG_SYNC);
    const bad = (rule: string, why: string, at?: number) =>
      this.fail('fiemap', rule, at, [`FIEMAP(${hex(off)}, ${hex(len)}, SYNC) with size ${hex(size)}: ${why}`, ...ext.map(fmtExtent)]);
    const bs = this.bs;
    let prevEnd = -1;
    for (let k = 0; k < ext.length; k++) {
      const e = ext[k];
      const f = e.flags;
      if (!(Number.isInteger(e.logical) && Number.isInteger(e.length) && Number.isInteger(e.physical)) || e.logical < 0 || e.physical < 0) {
        return bad('fileops-14.19', `extent ${k} has a non-integer or negative field`);
      }
      if (e.length <= 0) return bad('fileops-14.19', `extent ${k} has length ${e.length}`);
      if (e.logical < prevEnd) return bad('fileops-14.19', `extent ${k} overlaps or is out of order`);
      prevEnd = e.logical + e.length;
      if ((f & FIEMAP_EXTENT_LAST) !== 0 && k !== ext.length - 1) return bad('fileops-14.19', `LAST on extent ${k}, not the final one`);
      if ((f & FIEMAP_EXTENT_DELALLOC) !== 0 && (f & FIEMAP_EXTENT_UNKNOWN) === 0) return bad('fileops-14.19', `extent ${k}: DELALLOC without UNKNOWN`);
      if ((f & FIEMAP_EXTENT_DATA_ENCRYPTED) !== 0 && (f & FIEMAP_EXTENT_ENCODED) === 0) return bad('fileops-14.19', `extent ${k}: DATA_ENCRYPTED without ENCODED`);
      if ((f & (FIEMAP_EXTENT_DATA_INLINE | FIEMAP_EXTENT_DATA_TAIL)) !== 0 && (f & FIEMAP_EXTENT_NOT_ALIGNED) === 0) {
        return bad('fileops-14.19', `extent ${k}: DATA_INLINE/DATA_TAIL without NOT_ALIGNED`);
      }
      if ((f & FIEMAP_EXTENT_NOT_ALIGNED) === 0 && (e.logical % bs !== 0 || e.physical % bs !== 0 || e.length % bs !== 0)) {
        return bad('fileops-14.19', `extent ${k} is not block aligned and not NOT_ALIGNED`);
      }
    }
    // A query past every extent an fsx run can make (twice -l: nothing is ever placed beyond -l)
    // covers the file's last extent: it is LAST, by the ABI (last of the file) and by iomap (last
    // in the range) alike — unless the array filled up.
    if (off + len >= Math.min(MAX_OFFSET, 2 * this.cfg.maxlen) && ext.length > 0 && ext.length < FIEMAP_FULL && (ext[ext.length - 1].flags & FIEMAP_EXTENT_LAST) === 0) {
      return bad('fileops-14.19', `a query to the end of the file: its final extent ${ext.length - 1} lacks LAST`);
    }
    // Coverage (after SYNC): every byte that reads non-zero in the range lies in a written extent.
    const end = Math.min(off + len, size);
    let pos = off;
    for (let k = 0; k < ext.length && pos < end; k++) {
      const e = ext[k];
      const eEnd = e.logical + e.length;
      if (eEnd <= pos) continue;
      const gapEnd = Math.min(e.logical, end);
      if (gapEnd > pos) {
        const nz = this.oracle.firstNonZero(pos, gapEnd - pos);
        if (nz >= 0) return bad('fileops-14.20', `${hex(nz)} reads non-zero but no extent maps it`, nz);
      }
      if ((e.flags & FIEMAP_EXTENT_UNWRITTEN) !== 0) {
        const s = Math.max(e.logical, pos);
        const u = Math.min(eEnd, end);
        if (u > s) {
          const nz = this.oracle.firstNonZero(s, u - s);
          if (nz >= 0) return bad('fileops-14.20', `${hex(nz)} reads non-zero but its extent is UNWRITTEN`, nz);
        }
      }
      pos = Math.max(pos, eEnd);
    }
    if (pos < end) {
      const nz = this.oracle.firstNonZero(pos, end - pos);
      if (nz >= 0) bad('fileops-14.20', `${hex(nz)} reads non-zero but no extent maps it`, nz);
    }
    if (this.coverage !== null) this.countExtents(ext, off, len, size);
  }

  /** State coverage at the file level: the op's own range against the size before it. */
  private countFileOp(buf: OpBuffer, i: number): void {
    if ((buf.flags[i] & FL_SKIPPED) !== 0) return;
    const code = buf.code[i];
    this.coverage!.fileOp(code, fileEof(code, buf.off[i], buf.len[i], buf.dst[i], buf.size[i]));
  }

  /** State coverage of a FIEMAP answer: each extent's class, and each gap as a hole. */
  private countExtents(ext: FiemapExtent[], off: number, len: number, size: number): void {
    const cov = this.coverage!;
    let pos = off;
    for (const e of ext) {
      if (e.logical > pos) cov.extent(0, eofRelationOf(pos, e.logical, size));
      cov.extent(extentClassOf(e.flags, EXTENT_FLAGS), eofRelationOf(e.logical, e.logical + e.length, size));
      pos = Math.max(pos, e.logical + e.length);
    }
    const end = Math.min(off + len, size);
    if (pos < end) cov.extent(0, eofRelationOf(pos, end, size));
  }

  /** -X: read the whole file back (in pieces) and check the EOF page through the mapping. */
  private checkContents(): void {
    const size = this.oracle.size;
    for (const [off, len] of this.checkPieces()) {
      const data = this.readAt('pread', off, len);
      if (data.length !== len) return this.shortRead(data.length, len, 'fileops-14.2', 'short check read');
      const mm = this.compareData(off, data, len);
      if (mm !== null) return this.badData(off, data, len, mm);
    }
    if (size > 0) this.checkEofPage('check_contents');
  }

  /** fsx -b: after the simulated ops, write the oracle's image to the (still empty) file. */
  private writeFileImage(): void {
    for (const { off, data } of this.oracle.pieces()) this.t.pwrite(off, data);
    this.t.truncate(this.oracle.size);
  }

  // ---- failures -----------------------------------------------------------------------------

  private fail(kind: FailureKind, rule: string | undefined, offset: number | undefined, lines: string[]): void {
    this.failure = { kind, op: this.opNum, lines };
    if (rule !== undefined) this.failure.rule = rule;
    if (offset !== undefined) this.failure.offset = offset;
  }

  private shortRead(got: number, want: number, rule = 'fileops-14.2', what = 'short read'): void {
    this.fail('short-read', rule, undefined, [`${what}: ${hex(got)} bytes instead of ${hex(want)}`]);
  }

  /** fsx's check_buffers report: up to 16 bad bytes with GOOD/BAD words (a byte at the read's end) and the op guess. */
  private badData(off: number, data: Uint8Array, len: number, first: Mismatch): void {
    const good = this.oracle.read(off, len + 1);
    const lines = [
      `READ BAD DATA: offset = ${hex(off)}, size = ${hex(len)}, fname = ${this.cfg.name}`,
      `${'OFFSET'.padEnd(10)}  ${'GOOD'.padEnd(6)}  ${'BAD'.padEnd(6)}  RANGE`,
    ];
    let n = 0;
    for (let i = first.index; i < len; i++) {
      if (good[i] === data[i]) continue;
      if (n < 16) {
        lines.push(`0x${(off + i).toString(16).padEnd(8)}  ${word(good, i, len)}  ${word(data, i, len)}  ${hex(n)}`);
        const op = opOfBadByte(data, i, off + i);
        lines.push(op !== 0
          ? `operation# (mod 256) for the bad data may be ${op}`
          : 'operation# (mod 256) for the bad data unknown, check HOLE and EXTEND ops');
      }
      n++;
    }
    this.fail('bad-data', 'fileops-14.3', first.offset, lines);
  }

  private caught(e: unknown, buf: OpBuffer, i: number): void {
    const code = buf.code[i];
    const name = OPS[code].name;
    if (e instanceof FsError) {
      if (e.code === 'EOPNOTSUPP' && OPTIONAL.has(code)) {
        buf.flags[i] |= FL_SKIPPED;
        if (!this.cfg.quiet) this.io.err(`${name}: adapter ${this.cfg.name} returned EOPNOTSUPP, disabling!`);
        if (this.onUnsupported !== null) this.onUnsupported(code);
        return;
      }
      const rule = e.code === 'SIGBUS' ? 'fileops-14.23' : undefined;
      this.fail('op-error', rule, undefined, [`${this.describeArgs(buf, i)}`, `do_${name}: ${e.message}`]);
      (this.failure as Failure).errno = e.code;
      this.attachEvidence();
      return;
    }
    if (e instanceof HarnessLimit) {
      // The harness cannot make this op happen here (a capability the target lacks): a skip.
      buf.flags[i] |= FL_SKIPPED;
      if (!this.cfg.quiet) this.io.err(`skipping ${name}: ${e.message}`);
      return;
    }
    if (e instanceof RangeError && e.message.startsWith('SparseBytes')) throw e; // the harness's own bug
    const cv = contractViolation(e);
    if (cv !== null) {
      this.fail('contract', cv.rule, undefined, [`${this.describeArgs(buf, i)}`, ...cv.lines]);
      return;
    }
    const dv = divergence(e);
    if (dv !== null) {
      this.fail('divergence', dv.rule, undefined, [`${this.describeArgs(buf, i)}`, ...dv.lines]);
      if (dv.errno !== undefined) (this.failure as Failure).errno = dv.errno;
      this.attachEvidence();
      return;
    }
    const err = e instanceof Error ? e : new Error(String(e));
    if (e instanceof TargetError && (e as { kind?: unknown }).kind === 'hang') {
      this.fail('hang', undefined, undefined, [`${this.describeArgs(buf, i)}`, `target hung in ${name}: ${err.message}`]);
      return;
    }
    this.fail('crash', undefined, undefined, [`${this.describeArgs(buf, i)}`, `target crashed in ${name}: ${err.name}: ${err.message}`]);
    if (err.stack !== undefined) (this.failure as Failure).stack = err.stack;
  }

  /** The target's kernel evidence for the op that just failed, when it has one (asked only on a failure). */
  private attachEvidence(): void {
    const e = this.t.kernelEvidence?.() ?? null;
    if (e !== null) (this.failure as Failure).evidence = e;
  }

  private describeArgs(buf: OpBuffer, i: number): string {
    const info = OPS[buf.code[i]];
    const off = buf.off[i];
    const len = buf.len[i];
    const dst = info.twoRange ? ` at ${hex(buf.dst[i])}` : '';
    return `${info.name}: ${hex(off)} to ${hex(off + len)} (${hex(len)} bytes)${dst}`;
  }

  /** fsx -d / -p line for op i. */
  private describe(buf: OpBuffer, i: number): string {
    const info = OPS[buf.code[i]];
    const off = buf.off[i];
    const len = buf.len[i];
    const n = i + 1;
    if (buf.code[i] === OP_TRUNCATE) return `${n} trunc\tfrom ${hex(this.oracle.size)} to ${hex(len)}`;
    const dst = info.twoRange ? `\tat ${hex(buf.dst[i])}` : '';
    return `${n} ${info.name}\t${hex(off)} thru\t${hex(off + len - 1)}\t(${hex(len)} bytes)${dst}`;
  }
}

function fmtExtent(e: FiemapExtent): string {
  return `  extent logical ${hex(e.logical)} physical ${hex(e.physical)} length ${hex(e.length)} flags ${hex(e.flags)}`;
}
