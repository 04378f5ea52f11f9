/**
 * The file-level target interface (the fsx level). A FileAdapter opens one test file and offers
 * the operations a program can issue on it. Everything is synchronous: the fuzzer's throughput
 * depends on it, and out-of-process targets block on their answer (with a timeout).
 *
 * Errors are thrown as FsError (reference/errno.ts) carrying the errno name. An operation the
 * target cannot do throws FsError(EOPNOTSUPP); the fuzzer then turns that op off, as fsx does.
 */

import type { IomapApi } from '../reference/iomap/types';
import type { VolumeProvider } from './volume';

/** fallocate(2) mode bits (Linux values). */
export const FALLOC_FL_KEEP_SIZE = 0x01;
export const FALLOC_FL_PUNCH_HOLE = 0x02;
export const FALLOC_FL_COLLAPSE_RANGE = 0x08;
export const FALLOC_FL_ZERO_RANGE = 0x10;
export const FALLOC_FL_INSERT_RANGE = 0x20;
export const FALLOC_FL_UNSHARE_RANGE = 0x40;

/** What a target declares it can do. Missing optional methods imply `false`. */
export interface Capabilities {
  /** Filesystem block size (allocation unit). */
  blockSize: number;
  /** Page size used for mmap granularity (4096 on x86-64). */
  pageSize: number;
  /** Largest file size / offset the target accepts (s_maxbytes). */
  maxFileSize: number;
  mmap: boolean;
  /** Subset of FALLOC_FL_* combinations supported, as mode numbers (0 = plain allocate). */
  fallocModes: number[];
  clone: boolean;
  dedupe: boolean;
  copyRange: boolean;
  directIO: boolean;
  /** Required alignment of O_DIRECT offset/length (logical sector size), when directIO is true. */
  dioAlign: number;
  /**
   * A misaligned O_DIRECT read may succeed (and must then return the right bytes) instead of
   * failing with EINVAL: the kernel's iomap_dio_rw checks alignment only where it builds bios, so a
   * read of a hole or an unwritten range is zero-filled whatever its alignment, and btrfs serves a
   * misaligned read buffered. Absent or false: EINVAL is required.
   */
  dioMisalignedReadMaySucceed?: boolean;
  /**
   * A misaligned O_DIRECT write may be served through the page cache instead of failing with
   * EINVAL (btrfs's fallback). Absent or false: EINVAL is required (xfs and ext4 check up front).
   */
  dioMisalignedWriteBuffered?: boolean;
  /**
   * A misaligned O_DIRECT write refused with EINVAL may already have written whole blocks of itself
   * inside EOF. iomap_dio_bio_iter() checks alignment per mapping, after the bios of the earlier
   * mappings were submitted, and a filesystem without an up-front check (ext4; xfs checks in
   * xfs_file_dio_write) returns the error with those blocks written (visible where the extent was
   * already written; unwritten ones are not converted). Each block of the range then reads all old
   * or all new. Absent or false: a refused write changes nothing.
   */
  dioMisalignedWritePartial?: boolean;
  /**
   * clone/dedupe leave an unwritten (preallocated) source block unshared: the destination gets a
   * hole there, which reads the same zeroes (xfs remaps written extents only). Absent or false:
   * every allocated source block must end up SHARED.
   */
  reflinkSkipsUnwritten?: boolean;
  seek: boolean;
  fiemap: boolean;
  /** Target can be unmounted and mounted again (state must survive). */
  remount: boolean;
  /**
   * RWF_ATOMIC O_DIRECT writes, as statx(STATX_WRITE_ATOMIC) reports them for the file: the
   * smallest and largest atomic write unit in bytes (powers of two). Absent: no atomic writes.
   */
  atomicWrite?: { unitMin: number; unitMax: number };
  /** RWF_DONTCACHE reads and writes (uncached buffered I/O). Absent or false: none. */
  dontcache?: boolean;
  /** XFS_IOC_EXCHANGE_RANGE within the file. Absent or false: none. */
  exchangeRange?: boolean;
}

/** One extent as FIEMAP reports it. */
export interface FiemapExtent {
  logical: number;
  physical: number;
  length: number;
  flags: number;
}

/**
 * iomap-level interleaving steps a target may expose (the reference model does): concurrency
 * that matters, as explicit steps a fuzzer schedules and an op log records.
 */
export interface InterleavingSteps {
  /** Start background writeback (WB_SYNC_NONE) of the file without waiting for completion. */
  writeback(): void;
  /** Submitted I/O (writeback bios, async direct I/O, completion work) not yet completed. */
  pendingIo(): number;
  /** Complete the i-th pending I/O (0 = oldest): completions in any order. */
  complete(i: number): void;
  /** Reclaim the clean folio holding `pos` (leaves a shadow entry); false if it cannot. */
  evict(pos: number): boolean;
  /**
   * Run `step` once, between ->iomap_begin and the folio lookup of the next buffered write
   * (the window of contract §7.1: writeback or a punch changing the mapping under the writer).
   */
  betweenBeginAndGetFolio(step: () => void): void;
  /** Submit an asynchronous O_DIRECT write; it completes through complete(). */
  directWriteAsync?(off: number, data: Uint8Array): void;
}

/** What a simulated power cut left behind (FileTarget.crash). */
export interface CrashOutcome {
  /** The crash state in words: which cached writes reached the media, whole or torn. */
  state: string;
  /**
   * Complaints of the mount after the crash and of the filesystem's own consistency check
   * (empty: it mounted and checked clean). The file must still be open for reading either way
   * unless the mount failed, in which case crash() throws.
   */
  problems: string[];
  /** The file is gone after the crash (its creation was made durable: a durability failure). */
  missing?: boolean;
}

/**
 * Model-level fault injection a target may expose (the reference model over refs does): what op
 * log v3's `faultAt` and `reserveBlocks` attributes need. A real kernel cannot be made to do either
 * on demand, so replay refuses such logs on targets without it.
 */
export interface FaultSteps {
  /**
   * Buffered pwrite whose user buffer is unreadable from byte `faultAt` on (a short copy): returns
   * the bytes accepted, or throws FsError(EFAULT) when it accepted none.
   */
  pwriteFaulting(off: number, data: Uint8Array, faultAt: number): number;
  /**
   * A store through the mapping (the file already covers it) copying from a user buffer that is
   * unreadable from byte `faultAt` on: the copy stops there, as memcpy's SIGSEGV does. Every
   * byte before the fault was stored (each page it touched was write-faulted: ->page_mkwrite ran
   * and dirtied it); no page at or past the fault was touched. Then msync unless `opts.msync` is
   * false. Returns the bytes stored (`faultAt`, or fewer when a page could not be made writable).
   */
  mapwriteFaulting?(off: number, data: Uint8Array, faultAt: number, opts?: { msync?: boolean }): number;
  /** Run `fn` while at most `blocks` more delalloc blocks may be reserved (then ENOSPC). */
  withReserveHeadroom<T>(blocks: number, fn: () => T): T;
}

/**
 * Device-level fault injection under the file: the harness owns the device the filesystem runs on
 * (reference, mutant:, module: and exec: fs-level targets whose filesystem can say which device
 * blocks back a file range). What the fsx fault ops need.
 */
export interface DeviceFaultSteps {
  /**
   * Until heal() (each call adds one more fault; the first that matches a request decides it):
   * device requests of `kind` that touch a block backing file bytes [off, off+len)
   * (as the filesystem maps them at the moment of the I/O) fail with EIO ('error'), or, for
   * writes, are acknowledged and lost ('drop') or land torn at a sector boundary ('torn').
   */
  arm(kind: 'read' | 'write', action: 'error' | 'drop' | 'torn', off: number, len: number): void;
  /**
   * Remove every armed fault. Returns how many device requests they hit, and the file byte ranges
   * (whole blocks) those requests covered: where a dropped or torn write leaves whatever the
   * device held before, which no filesystem can know.
   */
  heal(): { hits: number; ranges: Array<{ off: number; len: number }> };
  /**
   * Why write faults cannot be judged on this target, or absent when they can: a filesystem that
   * keeps WRITTEN blocks of old data past EOF (refs with eofPrealloc, XFS allocsize=) exposes them
   * when an extending write is lost, as it does after a power cut.
   */
  readonly noWriteFaults?: string;
}

/**
 * State coverage (docs/fsx.md "State coverage"): the classes under which the generic layer's view
 * of one mapping is counted. Mapping class: the type ->iomap_begin or ->map_blocks returned, or
 * SHARED when the mapping is a COW one (IOMAP_F_SHARED or a source map to read from).
 */
export const MAP_HOLE = 0;
export const MAP_DELALLOC = 1;
export const MAP_MAPPED = 2;
export const MAP_UNWRITTEN = 3;
export const MAP_INLINE = 4;
export const MAP_SHARED = 5;
export const MAP_CLASS_NAMES = ['hole', 'delalloc', 'mapped', 'unwritten', 'inline', 'shared'] as const;
/** Folio state at the mapped position when the mapping was handed out (the strongest flag wins). */
export const FOLIO_ABSENT = 0;
export const FOLIO_PARTIAL = 1;
export const FOLIO_UPTODATE = 2;
export const FOLIO_DIRTY = 3;
export const FOLIO_WRITEBACK = 4;
export const FOLIO_STATE_NAMES = ['absent', 'partly-uptodate', 'uptodate', 'dirty', 'writeback'] as const;
/** Where the range worked on lies against i_size: wholly before it, across it, or at/after it. */
export const EOF_BEFORE = 0;
export const EOF_STRADDLING = 1;
export const EOF_PAST = 2;
export const EOF_RELATION_NAMES = ['before', 'straddling', 'past'] as const;

/** Receives one observation per mapping the generic layer hands out (FileTarget.observeStates). */
export interface StateObserver {
  mapping(mapClass: number, folioState: number, eofRelation: number): void;
}

/** Which read FileTarget.readInto makes (the method it stands for). */
export type ReadKind = 'pread' | 'direct' | 'mmap' | 'dontcache';

/**
 * Whether t's four read methods are still those of `proto` (its class's prototype): an
 * in-process target offers FileTarget.readInto only then, so that a module adapter that replaced
 * one of them on the target is called, not bypassed.
 */
export function readMethodsAreOwn(t: FileTarget, proto: FileTarget): boolean {
  return t.pread === proto.pread && t.directRead === proto.directRead && t.mapread === proto.mapread && t.readDontcache === proto.readDontcache;
}

export interface FileTarget {
  /** Device faults under the file (fsx fault ops), when the harness owns the device. */
  deviceFaults?: DeviceFaultSteps;
  /** iomap-level interleaving steps, when the target can expose them. */
  interleave?: InterleavingSteps;
  /** Model-level fault injection (op log v3), when the target can do it. */
  faults?: FaultSteps;
  /** st_size. */
  size(): number;
  /** pread: returns the bytes read (may be shorter than len at EOF). */
  pread(off: number, len: number): Uint8Array;
  /**
   * A read into the caller's buffer, as the syscalls do: up to dst.length bytes at `off` into dst;
   * returns how many (fewer at EOF). `how` says which read: 'pread' (pread), 'direct'
   * (directRead), 'mmap' (mapread), 'dontcache' (readDontcache); each must behave exactly as that
   * method (errors, counts, bytes), for every kind whose method the target has (a target whose
   * read methods can be replaced after open offers it only while they are its own: `naive` makes
   * it a getter that answers undefined then). Optional: the
   * runner then reads into one buffer it reuses instead of a fresh array per read (allocation is
   * dear on the hot path); without it the runner calls the methods.
   */
  readInto?(how: ReadKind, off: number, dst: Uint8Array): number;
  /** pwrite: returns bytes written. */
  pwrite(off: number, data: Uint8Array): number;
  truncate(size: number): void;
  fsync(): void;
  fdatasync(): void;
  /** Read through a MAP_SHARED mapping of [off, off+len); may cover the tail of the EOF page. */
  mapread?(off: number, len: number): Uint8Array;
  /**
   * Store through a MAP_SHARED mapping (the file must already be large enough), then msync
   * (MS_SYNC) unless `opts.msync` is false: without it the stores stay dirty in the page cache.
   */
  mapwrite?(off: number, data: Uint8Array, opts?: { msync?: boolean }): void;
  fallocate?(mode: number, off: number, len: number): void;
  /** FICLONERANGE within the same file. */
  cloneRange?(srcOff: number, len: number, dstOff: number): void;
  /**
   * FIDEDUPERANGE within the same file; returns bytes_deduped as Linux reports it: the length
   * asked for (capped at 1 GiB) whenever the remap did not fail, even when it was shortened to
   * whole blocks (to nothing included), and 0 if the contents differ.
   */
  dedupeRange?(srcOff: number, len: number, dstOff: number): number;
  /** copy_file_range within the same file; returns bytes copied. */
  copyRange?(srcOff: number, len: number, dstOff: number): number;
  /**
   * A write on an O_DSYNC file description (buffered, or O_DIRECT with `direct`): it returns when
   * its bytes and what is needed to read them back are durable. Optional: without it the runner
   * writes and then calls fdatasync() (the same promise, through another path).
   */
  dsyncWrite?(off: number, data: Uint8Array, direct: boolean): number;
  /** O_DIRECT pread/pwrite. */
  directRead?(off: number, len: number): Uint8Array;
  directWrite?(off: number, data: Uint8Array): number;
  /**
   * O_DIRECT pwritev2 with RWF_ATOMIC (Capabilities.atomicWrite): the whole write or nothing,
   * also across a power cut. Returns bytes written (all of them).
   */
  atomicWrite?(off: number, data: Uint8Array): number;
  /** preadv2 with RWF_DONTCACHE (Capabilities.dontcache): the folios it brought in are dropped after it. */
  readDontcache?(off: number, len: number): Uint8Array;
  /**
   * pwritev2 with RWF_DONTCACHE: writeback of the range is started at once, and the folios the
   * write created are dropped when it completes. Returns bytes written.
   */
  writeDontcache?(off: number, data: Uint8Array): number;
  /**
   * XFS_IOC_EXCHANGE_RANGE with both ranges in this file (Capabilities.exchangeRange): the
   * contents of [srcOff, +len) and [dstOff, +len) swap, all or nothing.
   */
  exchangeRange?(srcOff: number, len: number, dstOff: number): void;
  /**
   * Which pages of [off, off+len) are in the page cache (mincore): one byte per page from the
   * page holding `off`, 1 when cached. Model targets; what the dontcache oracle asks.
   */
  cachedPages?(off: number, len: number): Uint8Array;
  /** lseek SEEK_DATA / SEEK_HOLE; throw FsError(ENXIO) as lseek does. */
  seekData?(off: number): number;
  seekHole?(off: number): number;
  fiemap?(off: number, len: number, flags: number): FiemapExtent[];
  /**
   * POSIX_FADV_RANDOM on the file from now on, kept across closeOpen and remount: a buffered read
   * that misses the page cache reads exactly the pages it asked for, each in a folio of the
   * mapping's minimum order, with no readahead window (force_page_cache_ra). The diff target asks
   * both sides for it so that folio sizes, and with them what a flush writes back, do not depend
   * on the kernel's readahead heuristics. Absent: the target cannot.
   */
  randomReads?(): void;
  /**
   * How many times the whole machine's clean page cache was dropped by someone else
   * (`echo 1|3 > /proc/sys/vm/drop_caches` by another process: /proc/vmstat drop_pagecache, less
   * this process's own drops); null when it cannot be read. The diff target drops the reference's
   * clean cache too when it moves (DiffOptions.followCacheDrops). Absent: not a kernel filesystem.
   */
  externalCacheDrops?(): number | null;
  /**
   * Close the file, drop caches as `echo 3 > /proc/sys/vm/drop_caches` does (clean, unmapped folios
   * only: nothing is written back, dirty data stays cached), reopen. Dropping nothing is allowed.
   */
  closeOpen(): void;
  /** Unmount and mount the filesystem again; the file must survive. */
  remount?(): void;
  /**
   * The byte ranges of the file ([lo, hi), ascending, disjoint) that may read differently from
   * the media than at the last call: where device writes landed under the file's mapping, or the
   * mapping changed other than by the shifts of collapse/insert (a hole, another block, another
   * state). Everywhere else a read that misses the page cache returns what it returned at the
   * last call. Null when the target cannot tell, or when `answer` is false: the caller is about to
   * read the whole file and only wants the next call to start from here. Model targets that see
   * their own device (the reference adapter); after a remount the runner checks only these and
   * what the ops changed (docs/fsx.md, "Clean remounts").
   */
  changedOnMedia?(answer?: boolean): Array<[number, number]> | null;
  /**
   * Power cut now: in-memory state (page cache, pending I/O) is lost and the device keeps the
   * durable media plus a choice, made deterministically from `selector` (a 32-bit number), of the
   * writes still in its volatile cache (whole or torn at sector granularity). Then the filesystem
   * is mounted again (recovery), checked, and the file reopened. Targets that can simulate this
   * declare it by having the method (the reference adapter over a CrashDevice does).
   */
  crash?(selector: number): CrashOutcome;
  /**
   * The run will not cut the power (no crash op in it): the target may drop what it keeps only
   * for power cuts (the reference adapter stops its CrashDevice's write log). crash() may be
   * gone afterwards.
   */
  noCrashes?(): void;
  /**
   * State coverage: report every mapping the generic layer hands out from now on to `o` (null:
   * stop). Targets under the reference generic layer have it (any ops table); file-level targets
   * do not, and coverage is then what the file API shows.
   */
  observeStates?(o: StateObserver | null): void;
  /** How often each contract rule's precondition arose so far (rule ID -> count), when a monitor runs. */
  ruleCounts?(): ReadonlyMap<string, number>;
  /**
   * The kernel's own report of why the last op failed, when the target captured one (the host
   * adapter on xfs reads /dev/kmsg after an O_DIRECT read fails with EIO: adapters/host/kmsg.ts).
   * Null when it has none. A family known signature (properties/signatures.ts) matches a failure
   * only through this; a target without the method never matches one.
   */
  kernelEvidence?(): KernelEvidence | null;
}

/** A kernel report dated to one failed op (FileTarget.kernelEvidence). */
export interface KernelEvidence {
  /** Which report: 'iomap-dio-delalloc' (iomap_dio_iter met a delalloc mapping). */
  report: string;
  /** The filesystem type the op ran on ('xfs'). */
  fs: string;
  /** The op that failed ('read_direct'), its offset, length and errno. */
  op: string;
  off: number;
  len: number;
  errno: string;
  /**
   * Where it comes from: 'kmsg', the kernel's warning logged during the op (line = the record,
   * seq = its sequence number, since = the last one before the op); 'fiemap', when the warning
   * was not logged (rate-limited, or /dev/kmsg unreadable): FIEMAP right after the op shows the
   * delalloc mapping the read met (line = what it showed; seq and since -1).
   */
  source: 'kmsg' | 'fiemap';
  line: string;
  seq: number;
  since: number;
  /** A differential target sets it: whether the reference failed the same op too. */
  referenceFailed?: boolean;
}

/**
 * What, besides geometry, makes a run on the reference adapter what it was: op logs record it
 * (`setup`) so that replaying elsewhere (a mutant's case on `reference`) sees the same old disk
 * contents and the same post-EOF blocks. Passed back as adapter options of the same names.
 */
export interface TargetSetup {
  /** Seed of the old data never-written device sectors read as (MemoryDevice `poison`). */
  poison?: number;
  /** Bytes of speculative post-EOF preallocation refs does (XFS `allocsize=`). */
  eofPrealloc?: number;
  /**
   * Inline data limit in bytes (refs: small files live in the inode, IOMAP_INLINE); 0 turns inline
   * data off. Absent: the filesystem's default.
   */
  inlineMax?: number;
  /** Whose policies refs follows where filesystems differ (reference/fs/personality.ts); absent: generic. */
  personality?: 'generic' | 'xfs' | 'ext4';
  /**
   * The iomap API generation the generic layer runs the filesystem's ops tables in (docs/model.md
   * "API generations"); absent: the adapter's default (6.12 for refs).
   */
  api?: IomapApi;
}

/**
 * Which setups an adapter can be created with, for the setup sweep of fsx and check: when
 * the user pins nothing, fsx draws a setup per seed and check one per property run from these.
 * Each list holds the values the adapter honours for that knob (AdapterOptions blockSize,
 * folioSize); a boolean says whether the knob exists at all. Absent or empty: the knob is not
 * swept (the adapter's own value is used). `host:PATH` declares nothing (mkfs fixed its geometry);
 * `scratch:TYPE` makes its filesystem per setup and declares the mkfs block sizes that work.
 */
export interface SetupSupport {
  /** Block sizes (AdapterOptions.blockSize). */
  blockSizes?: readonly number[];
  /** Largest folio sizes (AdapterOptions.folioSize); only those >= the block size are drawn. */
  folioSizes?: readonly number[];
  /** TargetSetup.eofPrealloc (post-EOF preallocation). */
  eofPrealloc?: boolean;
  /** TargetSetup.poison (never-written sectors read old data). */
  poison?: boolean;
  /** TargetSetup.inlineMax (inline data on or off). */
  inline?: boolean;
}

export interface FileAdapter {
  readonly name: string;
  readonly capabilities: Capabilities;
  /**
   * The volume capability (adapters/volume.ts): the same filesystem formatted and mounted on a
   * device the harness hands in, with many files. The crash and fault harnesses need it; targets
   * without it (host filesystems, file-level servers, naive) skip them with a reason.
   */
  readonly volume?: VolumeProvider;
  /** Non-default setup the adapter runs with (reference and mutants); recorded in op logs. */
  readonly setup?: TargetSetup;
  /** The setups it can be created with (the setup sweep draws from them); absent: none. */
  readonly setups?: SetupSupport;
  /** Create (or truncate to empty) the test file and open it. */
  open(): FileTarget;
  /** Release everything (unmount, remove scratch files). Idempotent. */
  close(): void;
}
