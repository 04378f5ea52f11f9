/**
 * The fsx op vocabulary: numeric codes (used in the hot loop), the log names fsx uses in its
 * `.fsxops` files, the LOG DUMP labels and overlap markers, and a packed, allocation-free store of
 * op records (struct of typed arrays) that the generator appends to and the runner reads from.
 *
 * Names shared with xfstests' ltp/fsx.c keep fsx's spelling. Ops fsx does not have are marked
 * `fsx: false`; they are exported to `.fsxops` as `#@` lines (comments to fsx, ops to us).
 */
export {
  FIEMAP_FLAG_SYNC, FIEMAP_EXTENT_LAST, FIEMAP_EXTENT_UNKNOWN, FIEMAP_EXTENT_DELALLOC, FIEMAP_EXTENT_ENCODED,
  FIEMAP_EXTENT_DATA_ENCRYPTED, FIEMAP_EXTENT_NOT_ALIGNED, FIEMAP_EXTENT_DATA_INLINE,
  FIEMAP_EXTENT_DATA_TAIL, FIEMAP_EXTENT_UNWRITTEN, FIEMAP_EXTENT_SHARED,
} from '../../reference/uapi-fiemap';

export const OP_READ = 0;
export const OP_WRITE = 1;
export const OP_MAPREAD = 2;
export const OP_MAPWRITE = 3;
export const OP_TRUNCATE = 4;
export const OP_FALLOCATE = 5;
export const OP_PUNCH_HOLE = 6;
export const OP_ZERO_RANGE = 7;
export const OP_COLLAPSE_RANGE = 8;
export const OP_INSERT_RANGE = 9;
export const OP_CLONE_RANGE = 10;
export const OP_DEDUPE_RANGE = 11;
export const OP_COPY_RANGE = 12;
export const OP_FSYNC = 13;
export const OP_FDATASYNC = 14;
export const OP_READ_DIRECT = 15;
export const OP_WRITE_DIRECT = 16;
export const OP_SEEK_DATA = 17;
export const OP_SEEK_HOLE = 18;
export const OP_FIEMAP = 19;
/** Interleaving steps (FileTarget.interleave; op log version 2). */
export const OP_WRITEBACK = 20;
export const OP_COMPLETE_IO = 21;
export const OP_EVICT = 22;
export const OP_RACE_WRITE = 23;
export const OP_RACE_PUNCH = 24;
export const OP_RACE_WRITEBACK = 25;
export const OP_WRITE_DIRECT_ASYNC = 26;
/** Power cut (FileTarget.crash; op log version 3). */
export const OP_CRASH = 27;
/** Device faults under the file (FileTarget.deviceFaults; op log version 3, new op names). */
export const OP_FAULT_READ = 28;
export const OP_FAULT_WRITE = 29;
/** A clean unmount and mount (FileTarget.remount; op log version 4). */
export const OP_REMOUNT = 30;
/**
 * The newer I/O of xfstests' fsx (op log version 5, fsx's names): RWF_DONTCACHE reads and writes,
 * RWF_ATOMIC O_DIRECT writes, and XFS_IOC_EXCHANGE_RANGE within the file.
 */
export const OP_READ_DONTCACHE = 31;
export const OP_WRITE_DONTCACHE = 32;
export const OP_WRITE_ATOMIC = 33;
export const OP_EXCHANGE_RANGE = 34;
export const OP_COUNT = 35;

/** fault_read's `dst`: bit 0 evicts the clean cache over the range first, bit 1 reads through mmap. */
export const FAULT_READ_EVICT = 1;
export const FAULT_READ_MMAP = 2;
/** fault_write's `dst`: what the device does with the faulted writes. */
export const FAULT_WRITE_ACTIONS = ['error', 'drop', 'torn'] as const;

/** Op record flags (fsx's enum opflags values where fsx has them). */
export const FL_SKIPPED = 1;
export const FL_CLOSE_OPEN = 2;
export const FL_KEEP_SIZE = 4;
export const FL_UNSHARE = 8;
/** mmap stores of this op (mapwrite's data, or -e pollution before it) are not msynced. */
export const FL_NO_MSYNC = 16;
/** Before this op, if it changes the size, store junk past EOF in the EOF page (-e 1 for one op). */
export const FL_POLLUTE = 32;
/**
 * Op log v3 attributes (model-level steps and checks; they need FileTarget.faults or FIEMAP). The
 * op's value rides in the `dst` column, which write and mapwrite do not otherwise use.
 * FL_FAULT_AT: a buffered write whose user buffer faults at byte `dst` (a short copy).
 * FL_RESERVE: a write or store during which at most `dst` more delalloc blocks may be reserved
 * (the next reservation fails with ENOSPC: a short write, or SIGBUS for a store).
 * FL_CHECK_SHARED: after a clone/dedupe, FIEMAP must report the remapped blocks SHARED.
 */
export const FL_FAULT_AT = 64;
export const FL_RESERVE = 128;
export const FL_CHECK_SHARED = 256;
/** The write is on an O_DSYNC file description: it returns when its bytes are durable (op log v3). */
export const FL_DSYNC = 512;
/**
 * The op's arguments are ones a correct target must refuse (op log v4 `invalid`): the runner issues
 * it, wants the errno the rules in docs/fsx.md ("Bad arguments") give, and checks that nothing
 * changed. Generated now and then; never skipped the way a malformed unflagged op is.
 */
export const FL_INVALID = 1024;

/** Ops that may pollute the EOF page first (they can change the size): FL_POLLUTE, FL_NO_MSYNC. */
export const POLLUTING_OPS: ReadonlySet<number> = new Set([
  OP_WRITE, OP_MAPWRITE, OP_TRUNCATE, OP_FALLOCATE, OP_ZERO_RANGE, OP_COLLAPSE_RANGE, OP_INSERT_RANGE,
  OP_CLONE_RANGE, OP_COPY_RANGE, OP_WRITE_DIRECT, OP_WRITE_DIRECT_ASYNC, OP_WRITE_DONTCACHE, OP_WRITE_ATOMIC,
]);

export interface OpInfo {
  code: number;
  /** Log name (fsx's op_names[] where fsx has the op). */
  name: string;
  /** LOG DUMP label, padded like fsx's. */
  label: string;
  /** Overlap marker printed in LOG DUMP when the op touched the bad offset. */
  marker: string;
  /** True for ops with a destination (clone/dedupe/copy): fsx logs 4 args. */
  twoRange: boolean;
  /** xfstests' fsx knows this op name. */
  fsx: boolean;
  /** Short description (docs, --help). */
  describe: string;
  /** An interleaving step: needs FileTarget.interleave (and a version 2 op log). */
  interleave: boolean;
}

function info(code: number, name: string, label: string, marker: string, twoRange: boolean, fsx: boolean, describe: string, interleave = false): OpInfo {
  return { code, name, label, marker, twoRange, fsx, describe, interleave };
}

export const OPS: readonly OpInfo[] = [
  info(OP_READ, 'read', 'READ    ', 'RRRR', false, true, 'pread, compared with the oracle'),
  info(OP_WRITE, 'write', 'WRITE   ', 'WWWW', false, true, 'pwrite of the fsx data pattern'),
  info(OP_MAPREAD, 'mapread', 'MAPREAD ', 'RRRR', false, true, 'read through a shared mapping; the EOF page tail must be zero'),
  info(OP_MAPWRITE, 'mapwrite', 'MAPWRITE', 'WWWW', false, true, 'store through a shared mapping (extends with ftruncate first) + msync'),
  info(OP_TRUNCATE, 'truncate', 'TRUNCATE', 'WWWW', false, true, 'ftruncate up or down'),
  info(OP_FALLOCATE, 'fallocate', 'FALLOC  ', 'FFFF', false, true, 'fallocate mode 0, KEEP_SIZE or UNSHARE_RANGE'),
  info(OP_PUNCH_HOLE, 'punch_hole', 'PUNCH   ', 'PPPP', false, true, 'fallocate PUNCH_HOLE|KEEP_SIZE'),
  info(OP_ZERO_RANGE, 'zero_range', 'ZERO    ', 'ZZZZ', false, true, 'fallocate ZERO_RANGE (±KEEP_SIZE)'),
  info(OP_COLLAPSE_RANGE, 'collapse_range', 'COLLAPSE', 'CCCC', false, true, 'fallocate COLLAPSE_RANGE (block aligned)'),
  info(OP_INSERT_RANGE, 'insert_range', 'INSERT', 'IIII', false, true, 'fallocate INSERT_RANGE (block aligned)'),
  info(OP_CLONE_RANGE, 'clone_range', 'CLONE', 'JJJJ', true, true, 'FICLONERANGE within the file (block aligned)'),
  info(OP_DEDUPE_RANGE, 'dedupe_range', 'DEDUPE', 'BBBB', true, true, 'FIDEDUPERANGE within the file'),
  info(OP_COPY_RANGE, 'copy_range', 'COPY', 'EEEE', true, true, 'copy_file_range within the file'),
  info(OP_FSYNC, 'fsync', 'FSYNC', '', false, true, 'fsync'),
  info(OP_FDATASYNC, 'fdatasync', 'FDATASYNC', '', false, false, 'fdatasync'),
  info(OP_READ_DIRECT, 'read_direct', 'DREAD   ', 'RRRR', false, false, 'O_DIRECT pread (aligned; may cross EOF)'),
  info(OP_WRITE_DIRECT, 'write_direct', 'DWRITE  ', 'WWWW', false, false, 'O_DIRECT pwrite (aligned)'),
  info(OP_SEEK_DATA, 'seek_data', 'SEEK_DATA', '', false, false, 'lseek SEEK_DATA; holes reported must read zero'),
  info(OP_SEEK_HOLE, 'seek_hole', 'SEEK_HOLE', '', false, false, 'lseek SEEK_HOLE; holes reported must read zero'),
  info(OP_FIEMAP, 'fiemap', 'FIEMAP  ', '', false, false, 'FIEMAP with FLAG_SYNC; shape rules, data must be mapped'),
  info(OP_WRITEBACK, 'writeback', 'WRITEBACK', '', false, false, 'start background writeback (WB_SYNC_NONE), do not wait', true),
  info(OP_COMPLETE_IO, 'complete_io', 'COMPLETE', '', false, false, 'complete pending I/O number (off mod pending)', true),
  info(OP_EVICT, 'evict', 'EVICT   ', '', false, false, 'reclaim the clean folio holding off', true),
  info(OP_RACE_WRITE, 'race_write', 'RACE_WRITE', 'WWWW', false, false, 'a small write run inside the next write, between ->iomap_begin and get_folio', true),
  info(OP_RACE_PUNCH, 'race_punch', 'RACE_PUNCH', 'PPPP', false, false, 'a punch run inside the next write, between ->iomap_begin and get_folio', true),
  info(OP_RACE_WRITEBACK, 'race_writeback', 'RACE_WB ', '', false, false,
    'writeback + every completion + evict(off), run inside the next write, between ->iomap_begin and get_folio', true),
  info(OP_WRITE_DIRECT_ASYNC, 'write_direct_async', 'ADWRITE ', 'WWWW', false, false, 'asynchronous O_DIRECT write; completes through complete_io or a wait', true),
  info(OP_CRASH, 'crash', 'CRASH   ', '', false, false,
    'power cut: the device keeps a seeded choice (off) of its unflushed writes, the filesystem is mounted again; fsynced data must read back, the rest old or new'),
  info(OP_FAULT_READ, 'fault_read', 'FAULT_RD', 'RRRR', false, false,
    'read [off, +len) while the device fails reads of the blocks under it (dst: 1 evict first, 2 through mmap): EIO, SIGBUS or a short read, never wrong bytes'),
  info(OP_FAULT_WRITE, 'fault_write', 'FAULT_WR', 'WWWW', false, false,
    'background writeback + completion while the device fails (dst 0), drops (1) or tears (2) writes of the blocks under [off, +len); then the cache is dropped: every byte old or new, and the next fsync reports an error exactly once'),
  info(OP_REMOUNT, 'remount', 'REMOUNT ', '', false, false,
    'clean unmount and mount again (FileTarget.remount): every byte written and the size must survive'),
  info(OP_READ_DONTCACHE, 'read_dontcache', 'READ    ', 'RRRR', false, true,
    'pread with RWF_DONTCACHE: the bytes as read, and the folios the read brought in are dropped after it'),
  info(OP_WRITE_DONTCACHE, 'write_dontcache', 'WRITE   ', 'WWWW', false, true,
    'pwrite with RWF_DONTCACHE: writeback of the range starts at once, and its new folios are dropped when it completes'),
  info(OP_WRITE_ATOMIC, 'write_atomic', 'WRITE   ', 'WWWW', false, true,
    'O_DIRECT pwrite with RWF_ATOMIC (power-of-two length in the statx atomic write unit range, naturally aligned): after a power cut wholly old or wholly new'),
  info(OP_EXCHANGE_RANGE, 'exchange_range', 'XCHG', 'XXXX', true, true,
    'XFS_IOC_EXCHANGE_RANGE within the file (block aligned, inside EOF, ranges apart): the two ranges swap contents, all or nothing'),
];

/** Race ops: run inside the next op (a buffered write) when it reaches its first folio lookup. */
export function isRace(code: number): boolean {
  return code === OP_RACE_WRITE || code === OP_RACE_PUNCH || code === OP_RACE_WRITEBACK;
}

const BY_NAME = new Map<string, OpInfo>(OPS.map((o) => [o.name, o]));

export function opByName(name: string): OpInfo | undefined {
  return BY_NAME.get(name);
}

export function opName(code: number): string {
  return OPS[code].name;
}

/** fsx's own ops: the ones generated by default, in fsx's order. */
export const FSX_OPS: readonly number[] = OPS.filter((o) => o.fsx && o.code !== OP_FSYNC).map((o) => o.code);

/** The device fault ops (on by default only where the target exposes FileTarget.deviceFaults). */
export const FAULT_OPS: readonly number[] = [OP_FAULT_READ, OP_FAULT_WRITE];

/** The interleaving ops (on by default only where the target exposes FileTarget.interleave). */
export const INTERLEAVE_OPS: readonly number[] = OPS.filter((o) => o.interleave).map((o) => o.code);

/**
 * A growable log of op records kept as parallel typed arrays: appending an op allocates nothing
 * (amortised), which keeps the fuzz loop free of per-op garbage. Index i is op number i+1.
 */
export class OpBuffer {
  count = 0;
  code: Uint8Array;
  /** FL_* bits (16 wide: the v3 attributes took the last two of the first eight). */
  flags: Uint16Array;
  off: Float64Array;
  len: Float64Array;
  dst: Float64Array;
  /** File size before the op (fsx logs it as the last argument). */
  size: Float64Array;

  constructor(capacity = 1024) {
    this.code = new Uint8Array(capacity);
    this.flags = new Uint16Array(capacity);
    this.off = new Float64Array(capacity);
    this.len = new Float64Array(capacity);
    this.dst = new Float64Array(capacity);
    this.size = new Float64Array(capacity);
  }

  push(code: number, off: number, len: number, dst: number, flags: number): number {
    const i = this.count;
    if (i === this.code.length) this.grow();
    this.code[i] = code;
    this.off[i] = off;
    this.len[i] = len;
    this.dst[i] = dst;
    this.flags[i] = flags;
    this.size[i] = 0;
    this.count = i + 1;
    return i;
  }

  private grow(): void {
    const cap = this.code.length * 2;
    const g8 = (a: Uint8Array) => { const b = new Uint8Array(cap); b.set(a); return b; };
    const g16 = (a: Uint16Array) => { const b = new Uint16Array(cap); b.set(a); return b; };
    const g64 = (a: Float64Array) => { const b = new Float64Array(cap); b.set(a); return b; };
    this.code = g8(this.code);
    this.flags = g16(this.flags);
    this.off = g64(this.off);
    this.len = g64(this.len);
    this.dst = g64(this.dst);
    this.size = g64(this.size);
  }
}

/** FIEMAP request flag and extent flags (include/uapi/linux/fiemap.h). */
