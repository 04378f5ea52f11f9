/**
 * What the VFS glue (reference/file.ts) needs from a mounted filesystem: the iomap ops tables,
 * plus the filesystem's own operations that the kernel leaves to each filesystem (namespace,
 * block-level space operations, metadata commit), and optional introspection that oracles and
 * the contract monitor use. refs implements it; so can any ops table plugged in as an FsAdapter.
 */
import type { Personality } from '../fs/personality';
import type { Inode, IomapApi, IomapOps, IomapReadOps, IomapWritebackOps, IomapWriteOps, WritebackOps } from './types';

/** What a filesystem declares about itself. */
export interface FsCapabilities {
  blockSize: number;
  maxFileSize: number;
  /** Supports clone/dedupe (shared blocks, a COW path). */
  reflink: boolean;
  /** Stores small files inline (IOMAP_INLINE). */
  inline: boolean;
  /** Handles IOMAP_DIRECT writes (allocation, end_io). */
  directIO: boolean;
  /** fallocate mode values it implements (subset of the ones Linux accepts). */
  fallocModes: number[];
}

/** Allocation state of one block as the filesystem itself records it. */
export interface BlockState {
  state: 'hole' | 'delalloc' | 'written' | 'unwritten';
  /** Device block number (written/unwritten). */
  pblk?: number;
  shared?: boolean;
  /**
   * Device block of allocated COW staging for this block (XFS's COW fork), where writeback of a
   * write to a shared block lands before completion remaps it into the data fork.
   */
  cowPblk?: number;
}

/**
 * A frozen view of one inode's mapping state, taken before a callback. It may be a class instance
 * with its methods on the prototype (refs' is): wrap one by delegation (Object.create), not by
 * spreading it.
 */
export interface MappingSnapshot {
  /**
   * Cheap change detector: equal versions mean the state did not change (data fork only, or
   * everything the filesystem's validity cookie covers); different versions mean it may have.
   */
  version(scope: 'data' | 'all'): string;
  /** A printable description of the state (for violation reports). */
  fingerprint(scope: 'data' | 'all'): string;
  block(lblk: number): BlockState;
  /**
   * Optional: the first block after `lblk` where the state may stop continuing block(lblk)'s:
   * up to there every block has the same `state`, and `pblk`/`cowPblk` one more than the block
   * before (`shared` may still differ block by block). Infinity when nothing follows. Lets
   * checks walk extents instead of blocks; without it they go block by block (blockRuns).
   */
  nextChange?(lblk: number): number;
  /**
   * Optional, with nextChange: how many blocks from `lblk` (1..n; [lblk, lblk + n) inside one
   * run of nextChange) answer `shared` as block(lblk) does. Lets checks of SHARED walk runs of
   * shared and unshared blocks; without it they ask block() for each block.
   */
  sharedRun?(lblk: number, n: number): number;
}

/**
 * Hand `fn` the runs of [first, last) in which the state continues (MappingSnapshot.nextChange):
 * fn(lo, hi, state of block lo); fn returning true stops the walk. One call per block when the
 * snapshot cannot say where runs end.
 */
export function blockRuns(snap: MappingSnapshot, first: number, last: number, fn: (lo: number, hi: number, st: BlockState) => boolean | void): void {
  for (let b = first; b < last;) {
    const next = snap.nextChange !== undefined ? Math.min(last, Math.max(b + 1, snap.nextChange(b))) : b + 1;
    if (fn(b, next, snap.block(b)) === true) return;
    b = next;
  }
}

/** Read-only access to the filesystem's own idea of its mappings. */
export interface FsIntrospection {
  snapshot(inode: Inode): MappingSnapshot;
  /**
   * Called before a contract violation is reported: an implementation that hands out cached
   * snapshots (an exec: server's state counter "sv") checks them against fresh ones here, so a
   * stale cache is reported as the target's own fault, not as a rule its mappings broke.
   */
  confirm?(): void;
  /** Inode metadata needed to read data back is not yet durable (F_DIRTY honesty). */
  metadataDirty?(inode: Inode): boolean;
}

export interface FsInstance {
  readonly blockSize: number;
  readonly blkbits: number;
  readonly capabilities: FsCapabilities;
  /** Policy choices where real filesystems differ (absent: the generic personality). */
  readonly personality?: Personality;
  /** Some block of the file is shared (FIBMAP under a bmapZeroOnReflink personality answers 0). */
  hasSharedBlocks?(inode: Inode): boolean;
  /** The size written-back data has reached on disk (XFS i_disk_size): truncate's write-back starts there. */
  diskSize?(inode: Inode): number;
  /** Raise the on-disk size to cover a punch/zero range whose cached data is about to be dropped (ext4). */
  diskSizeBeforePunch?(inode: Inode, off: number, len: number): void;
  /** xfs_reflink_try_clear_inode_flag(): drop the reflink flag if nothing is shared any more. */
  tryClearReflinkFlag?(inode: Inode): void;
  /** The file carries the reflink inode flag (personality dioFallbackOnReflinkedInode). */
  isReflinked?(inode: Inode): boolean;
  /**
   * The iomap API generation the ops tables below are written for (docs/model.md "API
   * generations"); absent: '6.12'. It decides which of the tables the generic layer calls.
   */
  readonly api?: IomapApi;
  /** struct iomap_ops (both generations). */
  readonly iomapOps: IomapOps;
  /** 6.12: struct iomap_writeback_ops with map_blocks / prepare_ioend / discard_folio. */
  readonly writebackOps?: WritebackOps;
  /** current: struct iomap_write_ops (get_folio, put_folio, iomap_valid, read_folio_range). */
  readonly writeOps?: IomapWriteOps;
  /** current: struct iomap_writeback_ops with writeback_range / writeback_submit (required there). */
  readonly wbOps?: IomapWritebackOps;
  /** current: struct iomap_read_ops (absent: the core's bio reads from the mapping's device). */
  readonly readOps?: IomapReadOps;
  /** DIO ->end_io: (inode, file offset, bytes, error, IOMAP_DIO_* flags) → replacement error. */
  dioEndIo?(inode: Inode, offset: number, size: number, error: number, dioFlags: number): number;

  /**
   * RWF_ATOMIC direct writes (6.11+; the copy-on-write fallback 6.16+): the atomic write unit
   * range statx reports for the file (min and max; 0 max: none), and hwMax, the largest write the
   * hardware path (one REQ_ATOMIC bio, IOMAP_F_ATOMIC_BIO) may take.
   */
  atomicWriteUnits?(inode: Inode): { min: number; max: number; hwMax: number };
  /**
   * The ops table for atomic writes the hardware path cannot take (its ->iomap_begin answered
   * -ENOPROTOOPT, or the write is longer than hwMax), as XFS's xfs_atomic_write_cow_iomap_ops:
   * the data goes to new blocks whose remap at completion is one metadata change.
   */
  readonly atomicCowOps?: IomapOps;
  /** XFS_IOC_EXCHANGE_RANGE within one file: swap the mappings of two block ranges (whole blocks). */
  exchangeBlocks?(inode: Inode, lblk1: number, lblk2: number, n: number): void;

  /* namespace and inodes */
  lookup(name: string): number | undefined;
  create(name: string): number;
  unlink(name: string): void;
  /** Bring an inode in core: its durable size and the fs-private state for Inode.fsPrivate. */
  loadInode(ino: number): { size: number; fsPrivate: unknown };
  /** How the filesystem asks the VFS for an inode's current in-core size. */
  sizeOf: (ino: number) => number;

  /* space operations, in blocks */
  /** Called before i_size moves to `newsize` (e.g. move inline data into a block). 0 or -errno. */
  prepareSize(inode: Inode, newsize: number): number;
  /**
   * Optional: the file layer is about to zero [i_size, end) ahead of a size extension (truncate
   * up, an extending write's gap, a clone past EOF). A filesystem that keeps WRITTEN blocks past
   * EOF (speculative preallocation) must make them read zero without zeroing them through the
   * page cache (rule 15), e.g. convert them to UNWRITTEN. 0 or -errno.
   */
  prepareZeroPastEof?(inode: Inode, end: number): number;
  /** Make the file block-mapped (no inline data) before a block-level space operation. */
  unstuff(inode: Inode): number;
  /** Free the blocks from the one holding `newsize` (rounded up) on. */
  truncateBlocks(inode: Inode, newsize: number): void;
  /** Optional (xfs_can_free_eofblocks): whether there are post-EOF blocks or delalloc to free; absent: true. */
  canFreeEofBlocks?(inode: Inode, honourPreallocFlag?: boolean): boolean;
  /**
   * Optional (xfs_free_eofblocks): free what lies past `size`; absent: truncateBlocks. A file with
   * persistent preallocation (XFS_DIFLAG_PREALLOC) loses only its delalloc reservations there.
   */
  freeEofBlocks?(inode: Inode, size: number): void;
  /** i_size was set explicitly (truncate, fallocate, collapse, insert, clone). */
  sizeChanged(inode: Inode): void;
  allocRange(inode: Inode, lblk: number, n: number): number;
  punchBlocks(inode: Inode, lblk: number, n: number): void;
  collapseBlocks(inode: Inode, lblk: number, n: number): void;
  insertBlocks(inode: Inode, lblk: number, n: number): void;
  remapBlocks(src: Inode, srcLblk: number, dst: Inode, dstLblk: number, n: number): void;
  unshareUnwritten(inode: Inode, lblk: number, n: number): number;
  /** Make all metadata durable (the fsync/sync commit). */
  commit(): void;

  /* oracles and reports */
  /**
   * The §8b reservation invariants of an inode (and the fs-wide total). With a block range, only
   * the extents and dirty folios overlapping blocks [from, to), and the total from running
   * tallies (IomapFs.checkTouchedInvariants).
   */
  checkReservations(inode: Inode, from?: number, to?: number): string[];
  /**
   * Blocks [from, to) covering every change of the inode's mapping state since the last call
   * (then forgotten), for the invariants after an op; absent: every check covers the whole file.
   */
  takeTouchedBlocks?(inode: Inode): [number, number];
  checkConsistency(): string[];
  describeBlock(inode: Inode, pos: number): string;
  introspect?: FsIntrospection;
}
