/**
 * refs, the reference filesystem: a complete iomap ops table over a BlockDevice.
 *
 * - Per-inode extent map (DELALLOC / WRITTEN / UNWRITTEN; holes implicit) and an inline mode for
 *   small files (IOMAP_INLINE over block 0 while the file fits in `inlineMax` bytes).
 * - Buffered writes reserve delalloc (IOMAP_F_NEW only on blocks reserved by that call, rule 16);
 *   ->iomap_end releases what a short write did not use through iomap_write_delalloc_release
 *   (rule 24/25). Writeback converts delalloc to UNWRITTEN allocations in ->map_blocks and to
 *   WRITTEN at ioend completion, so data always reaches the disk before the extent says so.
 * - A validity sequence counter per inode, bumped on every extent change, is the cookie that
 *   ->iomap_valid and map_blocks' cached-mapping reuse compare (rules 30, 34).
 * - Reservation accounting: `reservedBlocks` always equals the delalloc blocks of all inodes,
 *   and checkReservations() states the page-cache invariant of contract §8(b).
 * - Metadata (names, sizes, extents, inline data) lives on the device (meta.ts) and is committed
 *   atomically by fsync/sync/unmount.
 */
import { Personality, personality } from './personality';
import {
  FolioOps, Inode, Iomap, IomapIterLike, IomapOps, IOMAP_DELALLOC, IOMAP_DIRECT, IOMAP_F_DIRTY, IOMAP_F_NEW,
  IOMAP_F_SHARED, IOMAP_FAULT, IOMAP_IOEND_SHARED, IOMAP_IOEND_UNWRITTEN, defaultApi, IomapApi, IomapWriteOps, IomapWritebackOps, IOMAP_HOLE, IOMAP_NOWAIT, IOMAP_OVERWRITE_ONLY, IOMAP_ZERO,
  IOMAP_INLINE, IOMAP_MAPPED, IOMAP_NULL_ADDR, IOMAP_UNSHARE, IOMAP_UNWRITTEN, IOMAP_WRITE, IOMAP_ATOMIC, IOMAP_F_ATOMIC_BIO,
  MAX_LFS_FILESIZE, PAGE_SIZE, WritebackOps, WritepageCtx, roundUp,
} from '../iomap/types';
import { Folio } from '../iomap/folio';
import {
  Ioend, iomapAddToIoend, iomapFinishIoends, iomapIoendTryMerge, iomapIoendWritebackSubmit, iomapSortIoends,
} from '../iomap/ioend';
import { iomapBioReadOps, iomapLastWrittenBlock, iomapWriteDelallocRelease } from '../iomap/buffered-io';
import { Allocator } from './alloc';
import { Extent, ExtentMap } from './extents';
import { InodeRecord, MetaImage, Superblock, REFS_MAGIC, readNewestSlot, readSuperblock, writeSlot, writeSuperblock } from './meta';
import type { BlockDevice } from '../device/types';
import type { BlockState, FsCapabilities, FsInstance, FsIntrospection, MappingSnapshot } from '../iomap/fs-ops';
import { FsError, EAGAIN, EEXIST, EINVAL, EIO, ENOENT, ENOPROTOOPT, ENOSPC, ENOTBLK, EUCLEAN } from '../errno';
import { bdevLimits } from '../iomap/direct-io';
import { SortedKeyMap, lowerBound, upperBound } from '../sorted';

export interface MkfsOptions {
  blockSize?: number;
  /** Largest inline file in bytes (0 disables inline data; must be ≤ blockSize ≤ PAGE_SIZE). */
  inlineMax?: number;
  /** Bytes per metadata slot. */
  metaBytes?: number;
}

/** Per-inode filesystem state (what the VFS inode's fsPrivate points at). */
export class RefsInode {
  readonly ino: number;
  /** On-disk size as of the last metadata commit. */
  diskSize = 0;
  /**
   * The size the next commit may record: raised only when written-back data reaches it (ioend
   * or DIO completion) or by explicit size changes (truncate, fallocate, clone), so a crash never
   * shows an appended range whose data is not on disk as zeroes (the "NULL files" problem).
   */
  wbSize = 0;
  /** Highest end of written-back data seen by completions (wbSize follows it, in order). */
  reachedEnd = 0;
  extents = new ExtentMap();
  /** The COW fork: staging for writes to shared blocks (delalloc reservations, then allocated blocks). */
  cow = new ExtentMap();
  /** In-core metadata (extents) changed since the last commit: fdatasync must commit (F_DIRTY). */
  metaDirty = false;
  /** Inline data buffer (one block) while the file is inline, else null. */
  inline: Uint8Array | null = null;
  /** Whether it was inline when the invariants last looked (takeTouchedBlocks). */
  inlineAtCheck = false;
  /** Validity sequence: bumped on every extent map change. */
  seq = 0;
  /** Bumped on data-fork changes only (COW staging leaves it alone). */
  dataSeq = 0;
  /** Bumped on every extent map change: what writeback's cached mapping is checked against. */
  cacheSeq = 0;
  /** The last mapping snapshot handed out (Refs.snapshot reuses it while it still shows this inode). */
  lastSnapshot: RefsSnapshot | null = null;
  /** Completed unwritten ioends awaiting the end_io work item. */
  ioendList: Ioend[] = [];
  workQueued = false;
  /**
   * Speculative preallocation an extending buffered write asked for (Refs.eofPreallocBlocks):
   * writeback allocates the blocks from EOF up to this block; 0 when none is pending.
   */
  preallocEnd = 0;
  /**
   * The first block preallocation may take: the end of the extending write that asked for it.
   * Blocks between the old EOF and that end are the write's own gap, which the file layer has
   * already zeroed (skipping holes); a writeback racing the write must not fill them with WRITTEN
   * stale blocks that the new size then exposes.
   */
  preallocFloor = 0;
  /**
   * The reflink inode flag: set when a remap shares blocks into or out of the file (even when no
   * block ended up shared, as xfs_reflink_remap_prep sets it first). Cleared by an unshare that
   * leaves nothing shared while the inode has no dirty pages (tryClearReflinkFlag), and by a
   * truncate that leaves no extent at all (truncateBlocks). On disk with the inode
   * (InodeRecord.reflink, XFS_DIFLAG2_REFLINK), so a remount keeps it.
   */
  reflinked = false;
  /**
   * The persistent-preallocation inode flag (XFS_DIFLAG_PREALLOC): set by every fallocate that
   * allocates (xfs_alloc_file_space sets it in each of its transactions: allocate, zero range,
   * unshare), never cleared by I/O. With it, xfs_can_free_eofblocks leaves post-EOF blocks alone
   * unless the inode has delalloc reservations (canFreeEofBlocks). On disk with the inode (InodeRecord.prealloc).
   */
  preallocFlag = false;
  constructor(ino: number) {
    this.ino = ino;
  }
}

/**
 * Filesystem-level bugs the bug zoo switches on (historical ones, §7 of the contract digest):
 * each is how a real filesystem got the contract wrong, not a caricature.
 */
export interface RefsBugs {
  /** §7.1: ->iomap_valid always says the cached mapping is fine (no validity cookie). */
  iomapValidAlwaysTrue?: boolean;
  /** §7.2: a write next to existing delalloc returns the merged old+new extent with F_NEW, and a
   * short write then punches the whole unused range, dirty or not (pre-6.2 punch). */
  newFlagOnMergedDelalloc?: boolean;
  /** §7.3: a short write truncates the page cache over the unused range, then punches it. */
  shortWriteTruncatesPagecache?: boolean;
  /** §7.13: ->map_blocks answers HOLE for delalloc instead of allocating it. */
  mapBlocksHoleForDelalloc?: boolean;
  /** collapse shifts the tail down by one block too few. */
  collapseShortByOne?: boolean;
  /** insert shifts the tail up by one block too few. */
  insertShortByOne?: boolean;
  /** fsync commits metadata without flushing the device cache first (or after). */
  fsyncNoFlush?: boolean;
  /**
   * Exchange range trades the mappings of its first half of blocks, commits, then the second half
   * and commits again: each commit is consistent (every block has one owner) but a crash between
   * them shows the exchange half done. What exchanging extent by extent in separate transactions
   * does, the gap XFS's file mapping exchange log intent item closed (Linux 6.10, "xfs: introduce
   * a file mapping exchange log intent item").
   */
  exchangeInSteps?: boolean;
  /** Delalloc is allocated as WRITTEN at writeback (data=writeback): metadata can reach the disk
   * before the data, exposing stale blocks after a crash. */
  allocWrittenAtWriteback?: boolean;
  /** Blocks that stop being shared are overwritten in place at once, although the durable
   * metadata still shares them (a crash then shows one owner's new data in the other's block). */
  overwriteUnsharedBeforeCommit?: boolean;
  /** Writeback's extent state conversions (delalloc allocation, unwritten conversion at
   * completion) do not move the validity sequence (nor the version the monitor's snapshots
   * report), so a buffered write racing writeback keeps its stale mapping. */
  convertDelallocNoSeq?: boolean;
  /** Recovery leaves bytes past the recorded size in the EOF block (mmap shows them). */
  noEofTailZeroAtRecovery?: boolean;
  /** The on-disk size is raised only by completions, so one held back by a folio in flight whose
   * own completion has no end_io work stays behind (fdatasync then loses the size). */
  noSizeRetryAtCommit?: boolean;
  /** The end_io work converts UNWRITTEN extents to WRITTEN even for an ioend that failed, so the
   * blocks' old device contents become file data. */
  convertOnIoError?: boolean;
  /** A copy-on-write completion remaps its staging extent by extent, each remap its own metadata
   * transaction (XFS before CoW-based atomic writes were committed atomically): a power cut in
   * between leaves an atomic write half old, half new. */
  atomicCowPerExtent?: boolean;
  /** The hardware atomic path hands out IOMAP_F_ATOMIC_BIO for a mapping that does not cover the
   * whole write (the filesystem forgot its side of the single-bio rule): the core refuses the
   * write with EINVAL instead of the filesystem answering -ENOPROTOOPT for the fallback. */
  atomicHwPartialMapping?: boolean;
  /** The end_io work remaps COW staging into the data fork even for an ioend that failed, so the
   * staging blocks' old device contents replace the shared data. */
  remapCowOnIoError?: boolean;
}

/**
 * The largest atomic write refs takes through its copy-on-write fallback (XFS bounds it by what
 * one log transaction can remap; refs by a round number above the fsx default op length).
 */
export const REFS_ATOMIC_COW_MAX = 64 * 1024;

/** Fault hooks for tests of the filesystem's error paths. */
export interface RefsFaults {
  /** ->map_blocks fails with this errno (negative) for offsets in [from, to). */
  mapBlocksError?: { err: number; from: number; to: number };
  /** Delalloc reservation fails with -ENOSPC once this many blocks are reserved. */
  reserveLimit?: number;
}

function sbDataStart(sb: Superblock): number {
  return sb.dataStart;
}

/** RefsSnapshot.block's answers for a hole and for delalloc with no COW staging. */
const HOLE_BLOCK: BlockState = { state: 'hole' };
const DELALLOC_BLOCK: BlockState = { state: 'delalloc' };

/**
 * A frozen view of an inode's mapping state (Refs.snapshot): the two forks' copy-on-write views
 * and the sequence numbers. One object with its methods on the prototype: the contract monitor
 * takes two of these around every ->iomap_begin.
 */
class RefsSnapshot implements MappingSnapshot {
  /** version('data') and version('all'), made once (the monitor compares them around every callback). */
  private readonly dataVersion: string;
  private readonly allVersion: string;

  constructor(
    private readonly fs: Refs, private readonly data: ExtentMap, private readonly cow: ExtentMap,
    private readonly inline: boolean, private readonly seq: number, private readonly dataSeq: number,
  ) {
    this.dataVersion = `d${dataSeq}`;
    this.allVersion = `a${seq}`;
  }

  /**
   * Whether this snapshot still shows ri: the same extent arrays (a map copies its array at its
   * first change after a view, so an unchanged array is unchanged contents), inline flag and
   * sequence numbers.
   */
  shows(ri: RefsInode): boolean {
    return this.data.exts === ri.extents.exts && this.cow.exts === ri.cow.exts && this.inline === (ri.inline !== null) &&
      this.seq === ri.seq && this.dataSeq === ri.dataSeq;
  }

  version(scope: 'data' | 'all'): string {
    return scope === 'data' ? this.dataVersion : this.allVersion;
  }

  fingerprint(scope: 'data' | 'all'): string {
    const fp = (m: ExtentMap) => m.exts.map((e) => `${e.lblk}+${e.len}:${e.state}@${e.pblk}`).join(' ');
    return `${this.inline ? 'inline ' : ''}${fp(this.data)}${scope === 'all' ? ` | cow ${fp(this.cow)}` : ''}`;
  }

  block(lblk: number): BlockState {
    const ext = this.data.extentAt(lblk);
    const c = this.cow.extentAt(lblk);
    // One object per answer (no spread of a second one): the monitor asks per run of every check.
    const cowPblk = c && c.state !== 'delalloc' && c.pblk >= 0 ? c.pblk + (lblk - c.lblk) : undefined;
    if (!ext || ext.state === 'delalloc') {
      // The two answers without a location are shared (no consumer changes an answer).
      if (cowPblk === undefined) return ext ? DELALLOC_BLOCK : HOLE_BLOCK;
      return { state: ext ? 'delalloc' : 'hole', cowPblk };
    }
    const pblk = ext.pblk + (lblk - ext.lblk);
    const shared = this.fs.isShared(pblk);
    return cowPblk === undefined ? { state: ext.state, pblk, shared } : { state: ext.state, pblk, shared, cowPblk };
  }

  /** The end of whichever extent (data or COW fork) ends first after lblk, or the next start. */
  nextChange(lblk: number): number {
    return Math.min(this.data.nextEdge(lblk), this.cow.nextEdge(lblk));
  }

  sharedRun(lblk: number, n: number): number {
    const ext = this.data.extentAt(lblk);
    return ext === null || ext.state === 'delalloc' ? n : this.fs.sharedSpan(ext.pblk + (lblk - ext.lblk), n);
  }
}

/** A run of device blocks [a, z) (Refs.copyRun's answer, valid until its next call). */
interface CopyRun {
  a: number;
  z: number;
}

function refsOf(inode: Inode): RefsInode {
  return inode.fsPrivate as RefsInode;
}

export class Refs implements FsInstance {
  readonly dev: BlockDevice;
  readonly sb: Superblock;
  readonly blockSize: number;
  readonly blkbits: number;
  readonly maxFileSize = MAX_LFS_FILESIZE;
  readonly alloc: Allocator;
  /** Delalloc blocks reserved across all inodes (data and COW forks). */
  reservedBlocks = 0;
  /** Reference counts of shared blocks (absent: 1 if allocated), keys ascending on demand (copyRun). */
  readonly refcount = new SortedKeyMap<number>();
  /**
   * Blocks that stopped being shared since the last metadata commit. The durable metadata may
   * still give them two owners, so writes keep copying them (COW) instead of overwriting in place
   * until the commit: a power cut must not show one owner's new data in the other's block. The
   * same reasoning as busy extents, for refcounts.
   */
  private readonly unsharedSinceCommit = new Set<number>();
  /** copyRun's answer, reused. */
  private readonly run: CopyRun = { a: 0, z: 0 };
  /**
   * Inodes whose on-disk size stopped short of written-back data because a folio below was still
   * in flight. The completion that clears that folio may not come back here (a plain overwrite
   * ioend inside the old size has no end_io work), so every commit tries again.
   */
  private readonly sizeBehind = new Set<Inode>();
  readonly inodes = new Map<number, RefsInode>();
  readonly names = new Map<string, number>();
  private nextIno = 1;
  private generation = 0;
  private activeSlot = 0;
  faults: RefsFaults = {};
  /** Deliberate bugs (the bug zoo); empty for the correct filesystem. */
  bugs: RefsBugs = {};
  /**
   * Speculative post-EOF preallocation, as older XFS did it (the `allocsize=` mount option), in
   * blocks; 0 (the default) turns it off. An extending buffered write asks for the blocks from
   * its new EOF up to the next multiple of this (RefsInode.preallocEnd); writeback, when it
   * allocates the delalloc extent holding the file's last block, allocates them as WRITTEN
   * extents that are never written, so they hold whatever the device held. That is legal: the
   * generic layer zeroes everything past EOF in the page cache, and before a size extension the
   * file layer calls prepareZeroPastEof(), which turns them UNWRITTEN. The request is remembered
   * rather than reserved as post-EOF delalloc, so the delalloc invariants (§8b: delalloc only
   * below EOF, always dirty) stay as they are.
   */
  eofPreallocBlocks = 0;
  /** Policy choices where real filesystems differ (reference/fs/personality.ts). */
  personality: Personality = personality('generic');
  /** Count of metadata commits (tests observe fsync durability through it). */
  commits = 0;
  /**
   * The API generation refs runs its ops tables in (a mount option: refs is written for both,
   * and the two must agree on every observation; test/api-generations.test.ts).
   */
  readonly api: IomapApi;
  readonly iomapOps: IomapOps;
  /** ->iomap_begin of atomic writes the hardware cannot take (FsInstance.atomicCowOps). */
  readonly atomicCowOps: IomapOps;
  /** 6.12 writeback ops. */
  readonly writebackOps: WritebackOps;
  /** 6.12 folio ops, hung off every mapping. */
  readonly folioOps: FolioOps;
  /** current: iomap_write_ops (only ->iomap_valid: get/put_folio are the core's). */
  readonly writeOps: IomapWriteOps;
  /**
   * current: refs is a block filesystem and says so, as xfs does: its buffered reads go through
   * iomap_bio_read_ops (the contract monitor then checks them, C07).
   */
  readonly readOps = iomapBioReadOps;
  /** current: iomap_writeback_ops. */
  readonly wbOps: IomapWritebackOps;
  readonly capabilities: FsCapabilities;
  readonly introspect: FsIntrospection;

  /* --------------------------------------------------------------------------------------- */
  /* Lifecycle                                                                               */
  /* --------------------------------------------------------------------------------------- */

  static mkfs(dev: BlockDevice, opts: MkfsOptions = {}): void {
    const bs = opts.blockSize ?? 4096;
    if (!Number.isInteger(bs) || bs < 512 || bs > 65536 || (bs & (bs - 1)) !== 0) {
      throw new FsError(EINVAL, `block size ${bs} is not a power of two in [512, 65536]`);
    }
    if (bs < dev.sectorSize) throw new FsError(EINVAL, `block size ${bs} is below the device sector size ${dev.sectorSize}`);
    let inlineMax = opts.inlineMax ?? Math.min(256, bs / 4);
    if (bs > PAGE_SIZE) inlineMax = 0;
    if (!Number.isInteger(inlineMax) || inlineMax < 0 || inlineMax > bs) throw new FsError(EINVAL, `inlineMax ${inlineMax} out of range`);
    const metaBytes = opts.metaBytes ?? 1 << 20;
    const slotBlocks = Math.max(2, Math.ceil(metaBytes / bs));
    const totalBlocks = Math.floor(dev.size / bs);
    const dataStart = 1 + 2 * slotBlocks;
    if (totalBlocks <= dataStart + 1) throw new FsError(ENOSPC, `device ${dev.name} too small for refs (${dev.size} bytes)`);
    const sb: Superblock = {
      magic: REFS_MAGIC, blockSize: bs, deviceBytes: dev.size, slotBlocks, dataStart,
      dataBlocks: totalBlocks - dataStart, inlineMax,
    };
    writeSuperblock(dev, sb);
    const img: MetaImage = { generation: 1, nextIno: 1, names: {}, inodes: [] };
    writeSlot(dev, sb, 1, { ...img, generation: 0 });
    writeSlot(dev, sb, 0, img);
    dev.flush();
  }

  /** Mount `dev`; `bugs` are switched on before recovery runs (tests of the recovery steps). */
  static mount(dev: BlockDevice, opts: { bugs?: RefsBugs; api?: IomapApi } = {}): Refs {
    const sb = readSuperblock(dev);
    if (sb.deviceBytes > dev.size) throw new FsError(EINVAL, `refs on ${dev.name} expects ${sb.deviceBytes} bytes, device has ${dev.size}`);
    const newest = readNewestSlot(dev, sb);
    if (newest === null) throw new FsError(EUCLEAN, `refs on ${dev.name}: no valid metadata slot`);
    const fs = new Refs(dev, sb, opts.api ?? defaultApi());
    if (opts.bugs) fs.bugs = { ...opts.bugs };
    fs.load(newest.img, newest.slot);
    if (!fs.bugs.noEofTailZeroAtRecovery) fs.zeroEofBlockTails();
    return fs;
  }

  /**
   * Recovery after a power cut: data reaches the disk before the size that covers it is
   * committed (as xfs logs di_size at I/O completion), so a crash can leave bytes past the
   * recorded size in the EOF block. The page cache reads whole blocks, and mmap would show them
   * in the EOF page (file-ops §14.22): zero them on disk. Shared EOF blocks are left alone (their
   * tail may be the other owner's data; refs copies shared blocks on write, so it stays zero).
   */
  private zeroEofBlockTails(): void {
    const bs = this.blockSize;
    for (const ri of this.inodes.values()) {
      const tail = ri.diskSize % bs;
      if (ri.inline || tail === 0) continue;
      const lblk = Math.floor(ri.diskSize / bs);
      const { ext } = ri.extents.lookup(lblk);
      if (!ext || ext.state !== 'written') continue;
      const pblk = ext.pblk + (lblk - ext.lblk);
      if (this.isShared(pblk)) continue;
      const block = new Uint8Array(bs);
      this.dev.read(pblk * bs, block);
      if (zeroBytes(block, tail, bs - tail)) continue;
      block.fill(0, tail);
      this.dev.write(pblk * bs, block);
    }
  }

  private constructor(dev: BlockDevice, sb: Superblock, api: IomapApi) {
    this.api = api;
    this.dev = dev;
    this.sb = sb;
    this.blockSize = sb.blockSize;
    this.blkbits = Math.log2(sb.blockSize);
    this.alloc = new Allocator(sb.dataStart, sb.dataBlocks);
    this.iomapOps = {
      begin: (inode, pos, length, flags, iomap, srcmap) => this.iomapBegin(inode, pos, length, flags, iomap, srcmap),
      end: (inode, pos, length, written, flags, iomap) => this.iomapEnd(inode, pos, length, written, flags, iomap),
    };
    this.atomicCowOps = {
      begin: (inode, pos, length, flags, iomap) => this.atomicCowBegin(inode, pos, length, flags, iomap),
    };
    this.writebackOps = {
      mapBlocks: (wpc, inode, offset, len) => this.mapBlocks(wpc, inode, offset, len),
      prepareIoend: (ioend, status) => this.prepareIoend(ioend, status),
      discardFolio: (folio, pos) => this.discardFolio(folio, pos),
    };
    this.folioOps = {
      iomapValid: (inode, iomap) => this.iomapValid(inode, iomap),
    };
    this.writeOps = {
      iomapValid: (inode, iomap) => this.iomapValid(inode, iomap),
    };
    this.wbOps = {
      writebackRange: (wpc, folio, pos, len, endPos) => this.writebackRange(wpc, folio, pos, len, endPos),
      writebackSubmit: (wpc, error) => this.writebackSubmit(wpc, error),
    };
    this.capabilities = {
      blockSize: sb.blockSize, maxFileSize: MAX_LFS_FILESIZE, reflink: true, inline: sb.inlineMax > 0, directIO: true,
      fallocModes: [0, 0x01, 0x03, 0x10, 0x11, 0x08, 0x20, 0x40, 0x41],
    };
    this.introspect = {
      snapshot: (inode) => this.snapshot(inode),
      metadataDirty: (inode) => refsOf(inode).metaDirty || inode.size !== refsOf(inode).diskSize,
    };
  }

  loadInode(ino: number): { size: number; fsPrivate: unknown } {
    const ri = this.inode(ino);
    return { size: ri.diskSize, fsPrivate: ri };
  }

  /** Move inline data out before i_size grows beyond what fits inline. */
  prepareSize(inode: Inode, newsize: number): number {
    const ri = refsOf(inode);
    if (ri.inline && newsize > this.sb.inlineMax) return this.unstuff(inode);
    return 0;
  }

  /**
   * The file layer is about to zero [i_size, end) and move i_size there. WRITTEN blocks wholly
   * past EOF are speculative preallocation nobody wrote: make them UNWRITTEN, so that zeroing
   * may skip them and they read zero once inside EOF. Zeroing them through the page cache
   * instead is what rule 15 forbids (since 6.11 zeroing does not raise i_size, so writeback
   * would never write those folios); xfs 6.13 likewise converts post-EOF delalloc to unwritten
   * before zeroing. Done here, outside ->iomap_begin, because ZERO lookups change nothing (rule 14).
   */
  prepareZeroPastEof(inode: Inode, end: number): number {
    const ri = refsOf(inode);
    // A pending preallocation would be allocated by the writeback zeroing may start: drop it.
    ri.preallocEnd = 0;
    ri.preallocFloor = 0;
    if (ri.inline) return 0;
    const first = Math.ceil(inode.size / this.blockSize);
    const last = Math.ceil(end / this.blockSize);
    if (last > first && ri.extents.convert(first, last - first, 'written', 'unwritten')) this.bumpSeq(ri);
    return 0;
  }

  /**
   * A frozen view of the inode's mapping state for the contract monitor (O(1): copy-on-write).
   * The last one is handed out again while nothing it shows changed (a snapshot is immutable, so
   * the same object serves every caller): the monitor asks before and after each callback.
   */
  snapshot(inode: Inode): MappingSnapshot {
    const ri = refsOf(inode);
    const last = ri.lastSnapshot;
    if (last !== null && last.shows(ri)) return last;
    const s = new RefsSnapshot(this, ri.extents.view(), ri.cow.view(), ri.inline !== null, ri.seq, ri.dataSeq);
    ri.lastSnapshot = s;
    return s;
  }

  describeBlock(inode: Inode, pos: number): string {
    const bs = this.blockSize;
    const ri = refsOf(inode);
    const blk = Math.floor(pos / bs);
    if (ri.inline) return 'inline';
    const { ext } = ri.extents.lookup(blk);
    const { ext: c } = ri.cow.lookup(blk);
    const d = ext ? `${ext.state} [${ext.lblk * bs}, +${ext.len * bs}) @${ext.pblk}${ext.pblk >= 0 && this.isShared(ext.pblk + blk - ext.lblk) ? ' shared' : ''}` : 'hole';
    return c ? `${d}; cow ${c.state} @${c.pblk}` : d;
  }


  private load(img: MetaImage, slot: number): void {
    this.generation = img.generation;
    this.activeSlot = slot;
    this.nextIno = img.nextIno;
    for (const [n, ino] of Object.entries(img.names)) this.names.set(n, ino);
    for (const r of img.inodes) {
      const ri = new RefsInode(r.ino);
      ri.diskSize = r.size;
      ri.wbSize = r.size;
      ri.reachedEnd = r.size;
      ri.preallocFlag = r.prealloc === true;
      ri.reflinked = r.reflink === true;
      for (const [lblk, len, pblk, st] of r.extents) {
        if (!Number.isSafeInteger(lblk) || !Number.isSafeInteger(len) || !Number.isSafeInteger(pblk) || len <= 0 ||
          pblk < sbDataStart(this.sb) || pblk + len > this.sb.dataStart + this.sb.dataBlocks) {
          throw new FsError(EUCLEAN, `refs: inode ${r.ino} extent [${pblk}, +${len}) lies outside the data area`);
        }
        this.claimOwned(pblk, len);
        ri.extents.set(lblk, len, st === 1 ? 'unwritten' : 'written', pblk);
      }
      if (r.inline !== undefined) {
        ri.inline = new Uint8Array(this.blockSize);
        ri.inline.set(Buffer.from(r.inline, 'base64').subarray(0, this.blockSize));
      }
      this.inodes.set(r.ino, ri);
    }
  }

  /**
   * Mount: blocks [pblk, +len) have one more owner. Free runs are claimed whole; blocks an earlier
   * extent claimed become shared, one refcount per block (what sharing costs anyway), so a mount
   * costs what the extents and the shared blocks cost, not the blocks mapped.
   */
  private claimOwned(pblk: number, len: number): void {
    const end = pblk + len;
    let b = pblk;
    while (b < end) {
      const run = this.alloc.freeRunAt(b, end);
      if (run > 0) {
        this.alloc.claim(b, run);
        b += run;
        continue;
      }
      for (const next = this.alloc.nextFree(b, end); b < next; b++) {
        const c = this.refcount.get(b);
        this.refcount.set(b, c === undefined ? 2 : c + 1);
      }
    }
  }

  /** Size of each inode as the VFS knows it (in-core), for commits. */
  sizeOf: (ino: number) => number = (ino) => this.inodes.get(ino)?.diskSize ?? 0;

  /** Make all metadata durable: flush data first, then write the other slot with FUA. */
  commit(): void {
    if (!this.bugs.noSizeRetryAtCommit) for (const inode of [...this.sizeBehind]) this.dataReached(inode, refsOf(inode).reachedEnd);
    if (!this.bugs.fsyncNoFlush) this.dev.flush();
    const img: MetaImage = { generation: this.generation + 1, nextIno: this.nextIno, names: {}, inodes: [] };
    for (const [n, ino] of this.names) img.names[n] = ino;
    for (const ri of this.inodes.values()) {
      const inCore = this.sizeOf(ri.ino);
      const size = ri.inline ? inCore : Math.min(inCore, ri.wbSize);
      const rec: InodeRecord = { ino: ri.ino, size, extents: [] };
      for (const e of ri.extents.exts) {
        if (e.state === 'delalloc') continue;
        rec.extents.push([e.lblk, e.len, e.pblk, e.state === 'unwritten' ? 1 : 0]);
      }
      if (ri.inline) rec.inline = Buffer.from(ri.inline.subarray(0, Math.min(size, this.sb.inlineMax))).toString('base64');
      if (ri.preallocFlag) rec.prealloc = true;
      if (ri.reflinked) rec.reflink = true;
      img.inodes.push(rec);
    }
    const slot = 1 - this.activeSlot;
    writeSlot(this.dev, this.sb, slot, img, !this.bugs.fsyncNoFlush);
    this.generation = img.generation;
    this.activeSlot = slot;
    this.alloc.commitBusy();
    this.unsharedSinceCommit.clear();
    for (const rec of img.inodes) {
      const ri = this.inodes.get(rec.ino)!;
      ri.diskSize = rec.size;
      ri.metaDirty = false;
    }
    this.commits++;
  }

  /* --------------------------------------------------------------------------------------- */
  /* Namespace                                                                               */
  /* --------------------------------------------------------------------------------------- */

  lookup(name: string): number | undefined {
    return this.names.get(name);
  }

  create(name: string): number {
    if (this.names.has(name)) throw new FsError(EEXIST, `refs: ${name} exists`);
    const ri = new RefsInode(this.nextIno++);
    if (this.sb.inlineMax > 0) ri.inline = new Uint8Array(this.blockSize);
    this.inodes.set(ri.ino, ri);
    this.names.set(name, ri.ino);
    return ri.ino;
  }

  inode(ino: number): RefsInode {
    const ri = this.inodes.get(ino);
    if (!ri) throw new FsError(ENOENT, `refs: no inode ${ino}`);
    return ri;
  }

  /** Remove a name and free its blocks (the caller has dropped its page cache). */
  unlink(name: string): void {
    const ino = this.names.get(name);
    if (ino === undefined) throw new FsError(ENOENT, `refs: ${name} does not exist`);
    const ri = this.inode(ino);
    this.freeRange(ri, 0, Infinity);
    this.names.delete(name);
    this.inodes.delete(ino);
  }

  /** Blocks available for reservation: free now, or free after the next commit. */
  get freeBlocks(): number {
    return this.alloc.freeBlocks + this.alloc.busyBlocks - this.reservedBlocks;
  }

  /** Allocate, forcing a metadata commit to recycle busy extents when nothing else is free. */
  private allocBlocks(want: number, goal: number): [number, number] | null {
    let got = this.alloc.alloc(want, goal);
    if (!got && this.alloc.busyBlocks > 0) {
      this.commit();
      got = this.alloc.alloc(want, goal);
    }
    return got;
  }

  /* --------------------------------------------------------------------------------------- */
  /* Extent helpers                                                                          */
  /* --------------------------------------------------------------------------------------- */

  /** Record an extent change: the validity cookie moves; `data` false for COW-fork-only changes. */
  private bumpSeq(ri: RefsInode, data = true): void {
    ri.seq++;
    ri.cacheSeq++;
    if (data) ri.dataSeq++;
    ri.metaDirty = true;
  }

  isShared(pblk: number): boolean {
    return (this.refcount.get(pblk) ?? 1) > 1;
  }

  /**
   * How many blocks from pblk (1..n) answer isShared() as pblk does, in O(min(n, shared blocks)):
   * an unshared run longer than the refcount table is ended by the nearest shared block found in
   * the table, not by asking each block (a 2^40-byte extent has 2^28 of them).
   */
  /** How many blocks from pblk (1..n) answer isShared() as pblk does. */
  sharedSpan(pblk: number, n: number): number {
    const s = this.isShared(pblk);
    if (!s && this.refcount.size < n) {
      const b = this.nearestShared(pblk, pblk + n, 1);
      return b === null ? n : b - pblk;
    }
    let k = 1;
    while (k < n && this.isShared(pblk + k) === s) k++;
    return k;
  }

  /** Whether a write must copy the block: shared now, or in the durable metadata (see unsharedSinceCommit). */
  mustCopy(pblk: number): boolean {
    return this.isShared(pblk) || (!this.bugs.overwriteUnsharedBeforeCommit && this.unsharedSinceCommit.has(pblk));
  }

  /**
   * The run [a, z) around pblk, within [lo, hi), whose blocks all answer like pblk does: isShared,
   * or mustCopy when `forWrite`. Block by block when the range is no longer than the table of
   * special blocks (shared, or unshared since the commit); else a run of ordinary blocks ends at
   * the nearest special block the table holds on either side, so a mapping inside a huge extent
   * costs the table, not the extent.
   */
  private copyRun(pblk: number, lo: number, hi: number, forWrite: boolean): CopyRun {
    // No closure or tuple per call: this runs at every mapping of a written extent.
    const run = this.run;
    const s = this.special(pblk, forWrite);
    const table = this.refcount.size + (forWrite ? this.unsharedSinceCommit.size : 0);
    let a = pblk;
    let z = pblk + 1;
    if (s || hi - lo <= table) {
      while (a > lo && this.special(a - 1, forWrite) === s) a--;
      while (z < hi && this.special(z, forWrite) === s) z++;
    } else {
      // The nearest special blocks on either side, by binary search in the sorted tables.
      const below = this.nearestShared(pblk, lo - 1, -1);
      const above = this.nearestShared(pblk, hi, 1);
      a = below === null ? lo : below + 1;
      z = above === null ? hi : above;
      if (forWrite && !this.bugs.overwriteUnsharedBeforeCommit) {
        for (const b of this.unsharedSinceCommit) {
          if (b < pblk && b >= a) a = b + 1;
          else if (b > pblk && b < z) z = b;
        }
      }
    }
    run.a = a;
    run.z = z;
    return run;
  }

  /**
   * The shared block (refcount above 1) nearest `pblk` in direction `dir` (1: above, -1: below),
   * strictly between pblk and `limit`; null if none. Binary search in the sorted refcount keys.
   */
  private nearestShared(pblk: number, limit: number, dir: 1 | -1): number | null {
    const keys = this.refcount.sortedKeys();
    if (dir > 0) {
      for (let i = upperBound(keys, pblk); i < keys.length && keys[i] < limit; i++) if (this.refcount.get(keys[i])! > 1) return keys[i];
    } else {
      for (let i = lowerBound(keys, pblk) - 1; i >= 0 && keys[i] > limit; i--) if (this.refcount.get(keys[i])! > 1) return keys[i];
    }
    return null;
  }

  /** copyRun's question about block b: isShared, or mustCopy for a write. */
  private special(b: number, forWrite: boolean): boolean {
    return forWrite ? this.mustCopy(b) : this.isShared(b);
  }

  /** Length of the run starting at pblk whose blocks all answer `shared` like pblk does. */
  sharedRun(pblk: number, len: number, shared: (b: number) => boolean = (b) => this.isShared(b)): number {
    const s = shared(pblk);
    let n = 1;
    while (n < len && shared(pblk + n) === s) n++;
    return n;
  }

  /** Take one more reference on each block of [pblk, pblk+len). */
  addRefs(pblk: number, len: number): void {
    for (let b = pblk; b < pblk + len; b++) this.refcount.set(b, (this.refcount.get(b) ?? 1) + 1);
  }

  /**
   * Drop one reference on each block; blocks reaching zero return to the allocator (as busy runs).
   * Only the blocks in the refcount table have more than one owner: the runs between them are
   * freed whole, so a huge extent costs the table, not its blocks.
   */
  releaseBlocks(pblk: number, len: number): void {
    const end = pblk + len;
    let runStart = pblk;
    for (const b of this.tableBlocksIn(pblk, end)) {
      const c = this.refcount.get(b)!;
      if (c < 2) continue; // one owner: freed with its run
      if (c > 2) this.refcount.set(b, c - 1);
      else {
        this.refcount.delete(b);
        this.unsharedSinceCommit.add(b);
      }
      if (b > runStart) this.alloc.releaseBusy(runStart, b - runStart);
      runStart = b + 1;
    }
    if (end > runStart) this.alloc.releaseBusy(runStart, end - runStart);
  }

  /** The blocks of [from, to) with a refcount entry, ascending (walks the table or the range, whichever is shorter). */
  private tableBlocksIn(from: number, to: number): number[] {
    const out: number[] = [];
    if (this.refcount.size < to - from) {
      const keys = this.refcount.sortedKeys();
      return keys.slice(lowerBound(keys, from), lowerBound(keys, to));
    }
    for (let b = from; b < to; b++) if (this.refcount.has(b)) out.push(b);
    return out;
  }

  private releaseExtent(e: Extent): void {
    if (e.state === 'delalloc') this.reservedBlocks -= e.len;
    else this.releaseBlocks(e.pblk, e.len);
  }

  /** Free [lblk, lblk+len) of both forks: release delalloc reservations, drop block references. */
  freeRange(ri: RefsInode, lblk: number, len: number): void {
    const end = len === Infinity ? Number.MAX_SAFE_INTEGER : lblk + len;
    const removed = ri.extents.remove(lblk, end - lblk);
    for (const e of removed) this.releaseExtent(e);
    const cow = ri.cow.remove(lblk, end - lblk);
    for (const e of cow) this.releaseExtent(e);
    if (removed.length || cow.length) this.bumpSeq(ri);
  }

  /** Reserve delalloc for up to n blocks; returns how many could be reserved. */
  private reserve(n: number): number {
    let avail = this.freeBlocks;
    if (this.faults.reserveLimit !== undefined) avail = Math.min(avail, this.faults.reserveLimit - this.reservedBlocks);
    const got = Math.max(0, Math.min(n, avail));
    this.reservedBlocks += got;
    return got;
  }

  /** Allocate real blocks for a delalloc range (reservation already held). */
  private convertDelalloc(ri: RefsInode, ext: Extent, fork: ExtentMap = ri.extents, as: 'unwritten' | 'written' = 'unwritten'): void {
    let lblk = ext.lblk;
    let left = ext.len;
    let goal = this.goalFor(ri, lblk);
    while (left > 0) {
      const got = this.allocBlocks(left, goal);
      if (!got) throw new Error('model bug: delalloc reservation without free blocks');
      fork.set(lblk, got[1], as, got[0]);
      this.reservedBlocks -= got[1];
      lblk += got[1];
      left -= got[1];
      goal = got[0] + got[1];
    }
    this.bumpSeqUnlessBug(ri, fork === ri.extents);
  }

  /** bumpSeq, except for the state conversions of the bug zoo's delalloc-convert-no-seq. */
  private bumpSeqUnlessBug(ri: RefsInode, data = true): void {
    if (!this.bugs.convertDelallocNoSeq) return this.bumpSeq(ri, data);
    // The bug moves only writeback's own cache sequence (xfs's wpc cookie is separate as well).
    ri.cacheSeq++;
    ri.metaDirty = true;
  }

  /** An extending buffered write to `newEnd`: preallocate up to the next multiple of the prealloc size. */
  private wantPrealloc(ri: RefsInode, newEnd: number): void {
    const n = this.eofPreallocBlocks;
    if (n <= 0) return;
    const endBlk = Math.ceil(newEnd / this.blockSize);
    ri.preallocEnd = Math.max(ri.preallocEnd, (Math.floor(endBlk / n) + 1) * n);
    ri.preallocFloor = Math.max(ri.preallocFloor, endBlk);
  }

  /**
   * Writeback converted a delalloc extent ending at block `extEnd`: if it holds the file's last
   * block and an extending write asked for preallocation, allocate the hole blocks from EOF to
   * ri.preallocEnd as WRITTEN (never written: stale contents). Best effort, as speculative
   * preallocation is: no space, no preallocation.
   */
  private preallocPastEof(inode: Inode, ri: RefsInode, extEnd: number): void {
    const end = ri.preallocEnd;
    const eofBlk = Math.ceil(inode.size / this.blockSize);
    if (end <= eofBlk || eofBlk === 0 || extEnd < eofBlk) return;
    ri.preallocEnd = 0;
    let b = Math.max(eofBlk, ri.preallocFloor);
    ri.preallocFloor = 0;
    while (b < end && this.freeBlocks > 0) {
      const { ext, next } = ri.extents.lookup(b);
      if (ext) { b = ext.lblk + ext.len; continue; }
      const holeEnd = Math.min(next, end);
      const got = this.allocBlocks(Math.min(holeEnd - b, this.freeBlocks), this.goalFor(ri, b));
      if (!got) return;
      ri.extents.set(b, got[1], 'written', got[0]);
      this.bumpSeq(ri);
      b += got[1];
    }
  }

  /** Allocate unwritten blocks for a hole range (fallocate, direct I/O). Returns blocks allocated. */
  allocUnwritten(ri: RefsInode, lblk: number, len: number): number {
    let done = 0;
    let goal = this.goalFor(ri, lblk);
    while (done < len) {
      if (this.freeBlocks <= 0) break;
      const got = this.allocBlocks(Math.min(len - done, this.freeBlocks), goal);
      if (!got) break;
      ri.extents.set(lblk + done, got[1], 'unwritten', got[0]);
      done += got[1];
      goal = got[0] + got[1];
    }
    if (done) this.bumpSeq(ri);
    return done;
  }

  /** Allocation goal: right after the physical block of the previous logical block. */
  private goalFor(ri: RefsInode, lblk: number): number {
    const prev = lblk > 0 ? ri.extents.lookup(lblk - 1).ext : null;
    if (prev && prev.pblk >= 0) return prev.pblk + (lblk - 1 - prev.lblk) + 1;
    return this.sb.dataStart;
  }

  /**
   * Fill `m` with the extent (or hole) containing block lblk. `forWrite`: F_SHARED also marks
   * blocks still shared in the durable metadata (mustCopy), so writes copy them.
   */
  private fillMapping(inode: Inode, ri: RefsInode, lblk: number, m: Iomap, forWrite = false): void {
    const bs = this.blockSize;
    // extentAt/nextEdge, not lookup(): no result object per mapping.
    const ext = ri.extents.extentAt(lblk);
    m.bdev = null;
    m.validityCookie = ri.seq;
    if (!ext) {
      m.type = IOMAP_HOLE;
      m.addr = IOMAP_NULL_ADDR;
      m.offset = lblk * bs;
      const end = Math.min(ri.extents.nextEdge(lblk), Math.floor(this.maxFileSize / bs)) * bs;
      m.length = Math.max(end - m.offset, bs);
      return;
    }
    m.offset = ext.lblk * bs;
    m.length = ext.len * bs;
    if (ext.state === 'delalloc') {
      m.type = IOMAP_DELALLOC;
      m.addr = IOMAP_NULL_ADDR;
    } else {
      m.type = ext.state === 'written' ? IOMAP_MAPPED : IOMAP_UNWRITTEN;
      // Report the run around lblk whose blocks are all shared or all private (F_SHARED is per mapping).
      const pblk = ext.pblk + lblk - ext.lblk;
      const shared = forWrite ? this.mustCopy(pblk) : this.isShared(pblk);
      const { a, z } = this.copyRun(pblk, ext.pblk, ext.pblk + ext.len, forWrite);
      m.offset = (ext.lblk + a - ext.pblk) * bs;
      m.length = (z - a) * bs;
      m.addr = a * bs;
      m.bdev = this.dev;
      if (shared) m.flags |= IOMAP_F_SHARED;
    }
    void inode;
  }

  /** Fill `m` from the COW fork extent `c` (staging for a shared range). */
  private fillCowMapping(ri: RefsInode, c: Extent, m: Iomap): void {
    const bs = this.blockSize;
    m.offset = c.lblk * bs;
    m.length = c.len * bs;
    m.flags |= IOMAP_F_SHARED;
    m.validityCookie = ri.seq;
    if (c.state === 'delalloc') {
      m.type = IOMAP_DELALLOC;
      m.addr = IOMAP_NULL_ADDR;
      m.bdev = null;
    } else {
      // Allocated COW staging blocks are written in place and remapped at I/O completion.
      m.type = IOMAP_MAPPED;
      m.addr = c.pblk * bs;
      m.bdev = this.dev;
    }
  }

  /* --------------------------------------------------------------------------------------- */
  /* Inline data                                                                             */
  /* --------------------------------------------------------------------------------------- */

  isInline(ri: RefsInode): boolean {
    return ri.inline !== null;
  }

  /** Move inline data into a real block (gfs2 calls this unstuffing). */
  unstuff(inode: Inode): number {
    const ri = refsOf(inode);
    if (!ri.inline) return 0;
    const data = ri.inline;
    if (inode.size > 0 || data.some((b) => b !== 0)) {
      if (this.freeBlocks < 1) return -ENOSPC;
      const got = this.allocBlocks(1, this.sb.dataStart);
      if (!got) return -ENOSPC;
      const blk = new Uint8Array(this.blockSize);
      blk.set(data.subarray(0, Math.min(inode.size, this.blockSize)));
      try {
        this.dev.write(got[0] * this.blockSize, blk);
      } catch (e) {
        this.alloc.release(got[0], 1);
        if (e instanceof FsError) return -EIO;
        throw e;
      }
      ri.extents.set(0, 1, 'written', got[0]);
    }
    ri.inline = null;
    // The inline bytes are on the device now: the on-disk size, which an inline file commits as
    // its in-core size, must not fall back to the ordered size that no writeback ever raised
    // (a 1-byte write, then an fallocate inside it, lost the size across a remount).
    this.dataReached(inode, Math.min(inode.size, this.blockSize));
    this.bumpSeq(ri);
    return 0;
  }

  private inlineMapping(ri: RefsInode, m: Iomap): void {
    m.type = IOMAP_INLINE;
    m.offset = 0;
    m.length = this.blockSize;
    m.addr = IOMAP_NULL_ADDR;
    m.inlineData = ri.inline;
    m.validityCookie = ri.seq;
  }

  /** A HOLE from block-aligned `offset` to the last whole block below the maximum file size. */
  private holeToMax(ri: RefsInode, m: Iomap, offset: number): void {
    m.type = IOMAP_HOLE;
    m.addr = IOMAP_NULL_ADDR;
    m.offset = offset;
    // At least one block: the last block of a size that is no block multiple is still a block.
    m.length = Math.max(this.blockSize, Math.floor(this.maxFileSize / this.blockSize) * this.blockSize - offset);
    m.validityCookie = ri.seq;
  }

  /* --------------------------------------------------------------------------------------- */
  /* ->iomap_begin / ->iomap_end                                                            */
  /* --------------------------------------------------------------------------------------- */

  iomapBegin(inode: Inode, pos: number, length: number, flags: number, iomap: Iomap, srcmap: Iomap): number {
    const ri = refsOf(inode);
    const bs = this.blockSize;
    if (ri.inline) {
      const fitsInline = (flags & IOMAP_WRITE) && !(flags & (IOMAP_FAULT | IOMAP_DIRECT | IOMAP_UNSHARE)) &&
        pos + length <= this.sb.inlineMax;
      if (!(flags & IOMAP_WRITE) || fitsInline) {
        if ((flags & IOMAP_ZERO) && pos >= inode.size) {
          // Nothing to zero wholly beyond EOF: the inline tail is kept zero (rule 15). One hole to
          // the end of the file's range, not one block per call: a zeroing of a 2^40-byte gap
          // would otherwise take 2^28 ->iomap_begin calls (rule R47).
          this.holeToMax(ri, iomap, Math.floor(pos / bs) * bs);
        } else if (pos < bs) {
          this.inlineMapping(ri, iomap);
        } else {
          this.holeToMax(ri, iomap, bs);
        }
        iomap.folioOps = this.mappingFolioOps();
        return 0;
      }
      const err = this.unstuff(inode);
      if (err) return err;
    }
    const lblk = Math.floor(pos / bs);
    if ((flags & (IOMAP_WRITE | IOMAP_DIRECT)) === (IOMAP_WRITE | IOMAP_DIRECT)) {
      const ret = this.directWriteBegin(inode, ri, pos, length, lblk, flags, iomap);
      if (ret) return ret;
    } else if (flags & IOMAP_WRITE) {
      const ret = this.writeBegin(inode, ri, pos, length, lblk, flags, iomap, srcmap);
      if (ret) return ret;
    } else {
      this.fillMapping(inode, ri, lblk, iomap, (flags & IOMAP_ZERO) !== 0);
      // Zeroing a shared block must not write into the other owner's copy: stage it in the COW
      // fork like a write (xfs zeroes through its buffered-write iomap ops for this reason).
      if ((flags & IOMAP_ZERO) && (iomap.flags & IOMAP_F_SHARED) && iomap.type === IOMAP_MAPPED) {
        const ret = this.cowWriteBegin(inode, ri, pos, length, lblk, iomap, srcmap);
        if (ret) return ret;
      }
    }
    iomap.folioOps = this.mappingFolioOps();
    return 0;
  }

  /** What a mapping carries as folio_ops: the hooks in 6.12; nothing in current (iomap_write_ops). */
  private mappingFolioOps(): FolioOps | null {
    return this.api === 'current' ? null : this.folioOps;
  }

  /** Buffered write / page fault: existing extents as they are, holes become new delalloc. */
  private writeBegin(inode: Inode, ri: RefsInode, pos: number, length: number, lblk: number, flags: number,
    iomap: Iomap, srcmap: Iomap): number {
    const bs = this.blockSize;
    const { ext, next } = ri.extents.lookup(lblk);
    if (ext) {
      this.fillMapping(inode, ri, lblk, iomap, true);
      // Unshare only copies written data (iomap_want_unshare_iter skips anything else), so it
      // reserves COW space only over MAPPED shared blocks; writes COW any shared block.
      const cow = (iomap.flags & IOMAP_F_SHARED) && (!(flags & IOMAP_UNSHARE) || iomap.type === IOMAP_MAPPED);
      if (cow) return this.cowWriteBegin(inode, ri, pos, length, lblk, iomap, srcmap);
      return 0;
    }
    if (flags & IOMAP_UNSHARE) {
      // Never allocate to unshare a hole (xfs reports the hole as it is).
      this.fillMapping(inode, ri, lblk, iomap);
      return 0;
    }
    const endBlk = Math.ceil((pos + Math.max(length, 1)) / bs);
    const want = Math.min(endBlk, next) - lblk;
    const got = this.reserve(want);
    if (got === 0) return -ENOSPC;
    if (pos + length > inode.size) this.wantPrealloc(ri, pos + length);
    ri.extents.set(lblk, got, 'delalloc', -1);
    this.bumpSeq(ri);
    iomap.type = IOMAP_DELALLOC;
    iomap.addr = IOMAP_NULL_ADDR;
    iomap.offset = lblk * bs;
    iomap.length = got * bs;
    iomap.flags |= IOMAP_F_NEW;
    iomap.validityCookie = ri.seq;
    if (this.bugs.newFlagOnMergedDelalloc) {
      // Report the whole (merged) delalloc extent as new, old reservations included.
      const merged = ri.extents.lookup(lblk).ext!;
      iomap.offset = merged.lblk * bs;
      iomap.length = merged.len * bs;
    }
    return 0;
  }

  /**
   * A buffered write or fault over shared blocks: the destination is the COW fork (existing
   * staging, or a new delalloc reservation), the source is the data fork extent (srcmap).
   */
  private cowWriteBegin(inode: Inode, ri: RefsInode, pos: number, length: number, lblk: number, data: Iomap,
    srcmap: Iomap): number {
    const bs = this.blockSize;
    Object.assign(srcmap, data);
    srcmap.flags &= ~IOMAP_F_SHARED;
    const dataEnd = (data.offset + data.length) / bs;
    const { ext: c, next } = ri.cow.lookup(lblk);
    const iomap = data;
    iomap.flags = 0;
    if (c) {
      this.fillCowMapping(ri, c, iomap);
      return 0;
    }
    const endBlk = Math.min(Math.ceil((pos + Math.max(length, 1)) / bs), dataEnd, next);
    const got = this.reserve(endBlk - lblk);
    if (got === 0) return -ENOSPC;
    ri.cow.set(lblk, got, 'delalloc', -1);
    this.bumpSeq(ri, false);
    this.fillCowMapping(ri, ri.cow.lookup(lblk).ext!, iomap);
    // Only the blocks this call reserved carry F_NEW (rule 16).
    iomap.offset = lblk * bs;
    iomap.length = got * bs;
    iomap.flags |= IOMAP_F_NEW;
    return 0;
  }

  /**
   * Direct write: holes get unwritten blocks (F_NEW), shared blocks get COW staging blocks
   * (remapped by end_io), existing extents are used in place. NOWAIT and OVERWRITE_ONLY never
   * allocate (-EAGAIN). F_DIRTY whenever metadata needed to read the data back is not durable.
   */
  private directWriteBegin(inode: Inode, ri: RefsInode, pos: number, length: number, lblk: number, flags: number,
    iomap: Iomap): number {
    const bs = this.blockSize;
    const endBlk = Math.ceil((pos + Math.max(length, 1)) / bs);
    this.fillMapping(inode, ri, lblk, iomap, true);
    const shared = (iomap.flags & IOMAP_F_SHARED) !== 0;
    // The hardware atomic path allocates at most one block: a longer allocation may come back in
    // pieces, which one bio cannot cover (xfs refuses before allocating, so nothing changes).
    if (flags & IOMAP_ATOMIC) {
      if (shared || (iomap.type === IOMAP_HOLE && endBlk - lblk > 1)) return -ENOPROTOOPT;
      if (iomap.type !== IOMAP_HOLE && iomap.type !== IOMAP_DELALLOC && this.hwAtomicCheck(inode, pos, length, iomap) !== 0) return -ENOPROTOOPT;
    }
    if (flags & IOMAP_OVERWRITE_ONLY) {
      const covers = iomap.offset <= pos && iomap.offset + iomap.length >= pos + length;
      const aligned = pos % bs === 0 && length % bs === 0;
      const ok = covers && !shared && (iomap.type === IOMAP_MAPPED || (iomap.type === IOMAP_UNWRITTEN && aligned));
      if (!ok) return -EAGAIN;
    }
    // NOWAIT: one mapping must span the whole request (xfs imap_spans_range), or a later
    // -EAGAIN would turn a partly submitted dio into an overall -EAGAIN (rule 18).
    if ((flags & IOMAP_NOWAIT) && (iomap.offset > pos || iomap.offset + iomap.length < pos + length)) return -EAGAIN;
    if (iomap.type === IOMAP_DELALLOC) return 0; // a race with page_mkwrite; the core answers -EIO
    if (iomap.type === IOMAP_HOLE || shared) {
      if (flags & IOMAP_NOWAIT) return -EAGAIN;
      if (shared && (pos % bs !== 0 || length % bs !== 0)) return -ENOTBLK; // unaligned COW: buffered fallback
      const n = Math.min(endBlk, iomap.offset / bs + iomap.length / bs) - lblk;
      if (shared) {
        const got = this.allocBlocks(Math.min(n, this.freeBlocks), this.goalFor(ri, lblk));
        if (!got || this.freeBlocks < 0) return -ENOSPC;
        ri.cow.set(lblk, got[1], 'unwritten', got[0]);
        this.bumpSeq(ri, false);
        iomap.flags = 0;
        this.fillCowMapping(ri, ri.cow.lookup(lblk).ext!, iomap);
      } else {
        const got = this.allocUnwritten(ri, lblk, n);
        if (got === 0) return -ENOSPC;
        iomap.flags = 0;
        this.fillMapping(inode, ri, lblk, iomap);
        // The new blocks may have merged with a neighbouring unwritten extent: F_NEW must cover
        // only what this call allocated (rule 16), so clip the mapping to it.
        const lo = Math.max(iomap.offset, lblk * bs);
        const hi = Math.min(iomap.offset + iomap.length, (lblk + got) * bs);
        iomap.addr += lo - iomap.offset;
        iomap.offset = lo;
        iomap.length = hi - lo;
        iomap.flags |= IOMAP_F_NEW;
      }
    }
    if (ri.metaDirty || pos + length > ri.diskSize || iomap.type === IOMAP_UNWRITTEN || (iomap.flags & IOMAP_F_SHARED)) {
      iomap.flags |= IOMAP_F_DIRTY;
    }
    if (flags & IOMAP_ATOMIC) return this.hwAtomicCheck(inode, pos, length, iomap);
    return 0;
  }

  /**
   * RWF_ATOMIC: the atomic write unit range (statx): one block up to the larger of what the device
   * writes atomically and what the copy-on-write fallback remaps at once.
   */
  atomicWriteUnits(inode: Inode): { min: number; max: number; hwMax: number } {
    const bs = this.blockSize;
    const dev = bdevLimits(this.dev).atomicWriteMax;
    // Hardware that cannot write one block atomically is ignored (xfs does the same).
    const hwMax = dev >= bs ? dev : 0;
    void inode;
    return { min: bs, max: Math.max(hwMax, REFS_ATOMIC_COW_MAX, bs), hwMax };
  }

  /**
   * The hardware atomic path (xfs_bmap_hw_atomic_write_possible): one REQ_ATOMIC bio, so the
   * write must fit the device's atomic unit, lie in one extent that covers it whole (not shared)
   * and start on a device address aligned to its length. Otherwise -ENOPROTOOPT: the caller
   * retries through atomicCowOps.
   */
  private hwAtomicCheck(inode: Inode, pos: number, length: number, iomap: Iomap): number {
    const covers = iomap.offset <= pos && iomap.offset + iomap.length >= pos + length;
    const mapped = iomap.type === IOMAP_MAPPED || iomap.type === IOMAP_UNWRITTEN;
    const addr = iomap.addr + (pos - iomap.offset);
    const ok = length <= this.atomicWriteUnits(inode).hwMax && mapped && !(iomap.flags & IOMAP_F_SHARED) && addr % length === 0;
    if (ok && covers) {
      iomap.flags |= IOMAP_F_ATOMIC_BIO;
      return 0;
    }
    if (ok && this.bugs.atomicHwPartialMapping) {
      iomap.flags |= IOMAP_F_ATOMIC_BIO;
      return 0;
    }
    return -ENOPROTOOPT;
  }

  /**
   * xfs_atomic_write_cow_iomap_begin(): stage the whole write in new blocks of the COW fork (whole
   * blocks: an atomic write is block aligned), handed out as a SHARED mapping; the DIO completion
   * remaps all of them in one step (endCow), which the next commit makes durable at once.
   */
  private atomicCowBegin(inode: Inode, pos: number, length: number, flags: number, iomap: Iomap): number {
    const ri = refsOf(inode);
    const bs = this.blockSize;
    if (!(flags & IOMAP_DIRECT) || !(flags & IOMAP_WRITE)) return -EINVAL;
    if (ri.inline) {
      const err = this.unstuff(inode);
      if (err) return err;
    }
    const lblk = Math.floor(pos / bs);
    const endBlk = Math.ceil((pos + length) / bs);
    const { ext: c, next } = ri.cow.lookup(lblk);
    if (c !== null && c.state === 'delalloc') return -EAGAIN; // the flush before the write left staging: retry
    if (c === null) {
      const n = Math.min(endBlk, next) - lblk;
      const got = this.allocBlocks(Math.min(n, this.freeBlocks), this.goalFor(ri, lblk));
      if (!got || this.freeBlocks < 0) return -ENOSPC;
      ri.cow.set(lblk, got[1], 'unwritten', got[0]);
      this.bumpSeq(ri, false);
    }
    this.fillCowMapping(ri, ri.cow.lookup(lblk).ext!, iomap);
    iomap.flags |= IOMAP_F_DIRTY;
    iomap.folioOps = this.mappingFolioOps();
    return 0;
  }

  /**
   * XFS_IOC_EXCHANGE_RANGE within one file: the block mappings of [lblk1, +n) and [lblk2, +n)
   * trade places (the ranges do not overlap; the caller flushed and dropped their page cache). Each
   * block keeps its one owner, so no reference count moves; the next commit records the whole
   * exchange at once, as XFS's exchange intent items do, and it commits right away.
   */
  exchangeBlocks(inode: Inode, lblk1: number, lblk2: number, n: number): void {
    const ri = refsOf(inode);
    // Staging left in the COW fork belongs to the old layout: drop it.
    this.cancelCow(inode, lblk1 * this.blockSize, n * this.blockSize);
    this.cancelCow(inode, lblk2 * this.blockSize, n * this.blockSize);
    // The bug zoo's exchangeInSteps trades the first half, commits, then the rest.
    const half = this.bugs.exchangeInSteps && n > 1 ? Math.floor(n / 2) : n;
    this.tradeBlocks(ri, lblk1, lblk2, half);
    if (half < n) {
      this.commit();
      this.tradeBlocks(ri, lblk1 + half, lblk2 + half, n - half);
    }
    this.bumpSeq(ri);
    // Durable at once (as XFS_EXCHANGE_RANGE_DSYNC): a block that moved is overwritten in place by
    // later writes at its new offset, and a power cut must never show that data at its old one.
    this.commit();
  }

  /** Swap the extent maps of [lblk1, +n) and [lblk2, +n) (apart; no delalloc in either). */
  private tradeBlocks(ri: RefsInode, lblk1: number, lblk2: number, n: number): void {
    const take = (lblk: number): Array<Extent> => ri.extents.remove(lblk, n).map((e) => ({ ...e }));
    const a = take(lblk1);
    const b = take(lblk2);
    for (const e of a) {
      if (e.state === 'delalloc') throw new Error('model bug: exchange of a delalloc range');
      ri.extents.set(lblk2 + (e.lblk - lblk1), e.len, e.state, e.pblk);
    }
    for (const e of b) {
      if (e.state === 'delalloc') throw new Error('model bug: exchange of a delalloc range');
      ri.extents.set(lblk1 + (e.lblk - lblk2), e.len, e.state, e.pblk);
    }
  }

  /**
   * DIO ->end_io: convert unwritten extents, remap COW staging, raise i_size for extending
   * writes (the core never does for DIO). Its return replaces the I/O error.
   */
  dioEndIo(inode: Inode, offset: number, size: number, error: number, dioFlags: number): number {
    if (error || size === 0) {
      if (dioFlags & 2 /* IOMAP_DIO_COW */) this.cancelCow(inode, offset, size);
      return error;
    }
    const ri = refsOf(inode);
    const bs = this.blockSize;
    const lblk = Math.floor(offset / bs);
    const n = Math.ceil((offset + size) / bs) - lblk;
    if (dioFlags & 2) this.endCow(inode, lblk, n);
    if (dioFlags & 1 /* IOMAP_DIO_UNWRITTEN */) {
      if (ri.extents.convert(lblk, n, 'unwritten', 'written')) this.bumpSeq(ri);
    }
    if (offset + size > inode.size) inode.size = offset + size;
    this.dataReached(inode, offset + size);
    return 0;
  }

  /** xfs_reflink_end_cow(): move allocated COW staging in [lblk, lblk+n) into the data fork. */
  endCow(inode: Inode, lblk: number, n: number): void {
    const ri = refsOf(inode);
    let changed = false;
    if (this.bugs.atomicCowPerExtent) return this.endCowPerExtent(inode, lblk, n);
    for (const c of ri.cow.range(lblk, n)) {
      if (c.state === 'delalloc') continue;
      ri.cow.remove(c.lblk, c.len);
      const old = ri.extents.set(c.lblk, c.len, 'written', c.pblk);
      for (const e of old) this.releaseExtent(e);
      changed = true;
    }
    if (changed) this.bumpSeq(ri);
  }

  /**
   * The bug zoo's atomicCowPerExtent: the remap goes piece by piece, cut where the data fork's
   * extents end (XFS's xfs_reflink_end_cow_extent trims each step to the data fork mapping), and
   * each piece is a transaction of its own: committed before the next starts.
   */
  private endCowPerExtent(inode: Inode, lblk: number, n: number): void {
    const ri = refsOf(inode);
    let first = true;
    for (const c of ri.cow.range(lblk, n)) {
      if (c.state === 'delalloc') continue;
      for (let b = c.lblk; b < c.lblk + c.len;) {
        const { ext, next } = ri.extents.lookup(b);
        const len = Math.min(ext !== null ? ext.lblk + ext.len : next, c.lblk + c.len) - b;
        if (!first) this.commit();
        first = false;
        ri.cow.remove(b, len);
        for (const e of ri.extents.set(b, len, 'written', c.pblk + (b - c.lblk))) this.releaseExtent(e);
        this.bumpSeq(ri);
        b += len;
      }
    }
  }

  /**
   * xfs_reflink_try_clear_inode_flag() at the end of an unshare: the reflink flag goes when no
   * data fork block is shared any more and the inode has no dirty pages (xfs_can_free_cowblocks:
   * I_DIRTY_PAGES, dirty or writeback folios), with any COW staging left cancelled.
   */
  tryClearReflinkFlag(inode: Inode): void {
    const ri = refsOf(inode);
    if (!ri.reflinked || inode.mapping.dirtiedPages || inode.mapping.hasDirtyOrWriteback()) return;
    if (this.hasSharedBlocks(inode) || ri.cow.exts.some((c) => c.state === 'delalloc')) return;
    this.cancelCow(inode, 0, Number.MAX_SAFE_INTEGER - this.blockSize);
    ri.reflinked = false;
  }

  /** xfs_reflink_cancel_cow_range(): drop COW staging after a failed write. */
  cancelCow(inode: Inode, offset: number, size: number): void {
    const ri = refsOf(inode);
    const bs = this.blockSize;
    const lblk = Math.floor(offset / bs);
    const n = Math.max(1, Math.ceil((offset + size) / bs) - lblk);
    let changed = false;
    for (const c of ri.cow.range(lblk, n)) {
      if (c.state === 'delalloc') continue;
      ri.cow.remove(c.lblk, c.len);
      this.releaseExtent(c);
      changed = true;
    }
    if (changed) this.bumpSeq(ri, false);
  }

  /** Punch delalloc reservations only (the ->punch callback of rule 25). */
  punchDelalloc(inode: Inode, off: number, len: number, cowFork = false): void {
    const ri = refsOf(inode);
    const bs = this.blockSize;
    // The release helper can start a punch at i_size inside a dirty EOF block (its last data
    // range ends at i_size); round the start up so that block keeps its reservation.
    const lblk = Math.ceil(off / bs);
    const end = Math.ceil((off + len) / bs);
    let changed = false;
    const fork = cowFork ? ri.cow : ri.extents;
    for (const e of fork.range(lblk, end - lblk)) {
      if (e.state !== 'delalloc') continue;
      fork.remove(e.lblk, e.len);
      this.reservedBlocks -= e.len;
      changed = true;
    }
    if (changed) this.bumpSeq(ri, !cowFork);
  }

  iomapEnd(inode: Inode, pos: number, length: number, written: number, flags: number, iomap: Iomap): number {
    if (!(flags & (IOMAP_WRITE | IOMAP_ZERO)) || (flags & IOMAP_FAULT)) return 0;
    if (iomap.type !== IOMAP_DELALLOC || !(iomap.flags & IOMAP_F_NEW)) return 0;
    const start = iomapLastWrittenBlock(inode, pos, written);
    const end = roundUp(pos + length, this.blockSize);
    if (start >= end) return 0;
    const cowFork = (iomap.flags & IOMAP_F_SHARED) !== 0;
    if (this.bugs.shortWriteTruncatesPagecache || this.bugs.newFlagOnMergedDelalloc) {
      // The old way: throw away the cache over the unused range, then punch all of it.
      if (this.bugs.shortWriteTruncatesPagecache) inode.mapping.truncateRange(start, end - 1);
      this.punchDelalloc(inode, start, end - start, cowFork);
      return 0;
    }
    iomapWriteDelallocRelease(inode, start, end, flags, iomap, (ino, off, len) => this.punchDelalloc(ino, off, len, cowFork));
    return 0;
  }

  /** ->iomap_valid: the mapping is stale once the inode's extent map changed (rule 30). */
  iomapValid(inode: Inode, iomap: Iomap): boolean {
    if (this.bugs.iomapValidAlwaysTrue) return true;
    return iomap.validityCookie === refsOf(inode).seq;
  }

  /* --------------------------------------------------------------------------------------- */
  /* Writeback ops                                                                           */
  /* --------------------------------------------------------------------------------------- */

  mapBlocks(wpc: WritepageCtx, inode: Inode, offset: number, _len: number): number {
    const ri = refsOf(inode);
    const f = this.faults.mapBlocksError;
    if (f && offset >= f.from && offset < f.to) return f.err;
    const m = wpc.iomap;
    // Reuse the cached mapping only after revalidating it (rule 34).
    if (wpc.private === ri.cacheSeq && m.length > 0 && offset >= m.offset && offset < m.offset + m.length && m.type !== IOMAP_HOLE) {
      return 0;
    }
    const lblk = Math.floor(offset / this.blockSize);
    m.flags = 0;
    m.inlineData = null;
    const { ext: c } = ri.cow.lookup(lblk);
    if (c) {
      if (c.state === 'delalloc') this.convertDelalloc(ri, c, ri.cow);
      this.fillCowMapping(ri, ri.cow.lookup(lblk).ext!, m);
      wpc.private = ri.cacheSeq;
      return 0;
    }
    const { ext } = ri.extents.lookup(lblk);
    if (ext && ext.state === 'delalloc') {
      if (this.bugs.mapBlocksHoleForDelalloc) {
        m.type = IOMAP_HOLE;
        m.addr = IOMAP_NULL_ADDR;
        m.bdev = null;
        m.offset = ext.lblk * this.blockSize;
        m.length = ext.len * this.blockSize;
        wpc.private = null;
        return 0;
      }
      const conv = this.delallocToConvert(ext, lblk, Math.ceil((offset + _len) / this.blockSize));
      this.convertDelalloc(ri, conv, ri.extents, this.bugs.allocWrittenAtWriteback ? 'written' : 'unwritten');
      this.preallocPastEof(inode, ri, conv.lblk + conv.len);
    }
    this.fillMapping(inode, ri, lblk, m);
    // Trim the data-fork mapping at the next COW staging extent: those blocks must go through
    // the COW fork, also when this mapping is reused from the cache (xfs_map_blocks does this).
    const nextCow = ri.cow.lookup(lblk).next * this.blockSize;
    if (nextCow < m.offset + m.length) m.length = nextCow - m.offset;
    wpc.private = ri.cacheSeq;
    return 0;
  }

  /**
   * The part of delalloc extent `ext` writeback allocates when it writes blocks [lblk, endBlk):
   * all of it (xfs_bmapi_convert_delalloc), or, for the ext4 personality, just the blocks being
   * written (ext4 maps the extent of the dirty pages it submits; the rest stays delayed).
   */
  private delallocToConvert(ext: Extent, lblk: number, endBlk: number): Extent {
    if (this.personality.convertWholeDelalloc) return ext;
    const end = Math.min(ext.lblk + ext.len, Math.max(endBlk, lblk + 1));
    return { ...ext, lblk, len: end - lblk };
  }

  /**
   * XFS's i_disk_size: the end of the furthest completed write-back or direct write, within
   * i_size (xfs_setfilesize at ioend and DIO completion is not held back by dirty data below it).
   * refs itself commits the ordered `wbSize` (crash safety), which can lag behind it.
   */
  diskSize(inode: Inode): number {
    const ri = refsOf(inode);
    return Math.max(ri.wbSize, Math.min(inode.size, ri.reachedEnd));
  }

  /** The file carries the reflink inode flag (a remap shared blocks into or out of it since the last unshare). */
  isReflinked(inode: Inode): boolean {
    return refsOf(inode).reflinked;
  }

  /** Some block of the file's data fork is shared with another owner (reflinked). */
  hasSharedBlocks(inode: Inode): boolean {
    for (const e of refsOf(inode).extents.exts) {
      if (e.state === 'delalloc') continue;
      for (const b of this.tableBlocksIn(e.pblk, e.pblk + e.len)) if (this.isShared(b)) return true;
    }
    return false;
  }

  prepareIoend(ioend: Ioend, status: number): number {
    this.setIoendCompletion(ioend);
    return status;
  }

  /**
   * Where an ioend's data ends, in whole blocks. The current generation stops an ioend's size at
   * i_size (6.12 rounds it up to the block): refs decides by whole blocks in both, so its
   * completion work and on-disk size are the same whichever way the core sized the ioend.
   */
  private ioendEnd(io: Ioend): number {
    return roundUp(io.offset + io.size, this.blockSize);
  }

  /** Unwritten, COW and size-extending ioends complete through the end_io work item. */
  private setIoendCompletion(ioend: Ioend): void {
    const extends_ = this.ioendEnd(ioend) > refsOf(ioend.inode).wbSize;
    if (ioendUnwritten(ioend) || ioendShared(ioend) || extends_) ioend.endIo = (io) => this.endIoUnwritten(io);
  }

  /**
   * ->writeback_range (current): map the run as ->map_blocks does and queue it; on an error drop
   * the delalloc reservations of the rest of the folio (what ->discard_folio did in 6.12).
   */
  writebackRange(wpc: WritepageCtx, folio: Folio, pos: number, len: number, endPos: number): number {
    let ret = this.mapBlocks(wpc, wpc.inode!, pos, len);
    if (ret === 0) ret = iomapAddToIoend(wpc, folio, pos, endPos, len);
    if (ret < 0) this.discardFolio(folio, pos);
    return ret;
  }

  /** ->writeback_submit (current): install the completion handler, then the core's bio submission. */
  writebackSubmit(wpc: WritepageCtx, error: number): number {
    if (wpc.ioend) this.setIoendCompletion(wpc.ioend);
    return iomapIoendWritebackSubmit(wpc, error);
  }

  /** Bio completion for unwritten ioends: queue them for the end_io work item. */
  private endIoUnwritten(io: Ioend): void {
    const ri = refsOf(io.inode);
    ri.ioendList.push(io);
    if (ri.workQueued) return;
    ri.workQueued = true;
    io.inode.mapping.queue.submit({
      get label() {
        return `refs end_io work (inode ${ri.ino})`;
      },
      inode: io.inode,
      get folios(): Folio[] {
        return ri.ioendList.flatMap((x) => x.folios);
      },
      complete: () => this.endIoWork(io.inode),
    });
  }

  /** The completion work item: sort, merge, convert unwritten extents, finish the ioends. */
  private endIoWork(inode: Inode): void {
    const ri = refsOf(inode);
    const list = ri.ioendList;
    ri.ioendList = [];
    ri.workQueued = false;
    iomapSortIoends(list);
    while (list.length) {
      const io = list.shift()!;
      iomapIoendTryMerge(io, list);
      const bs = this.blockSize;
      const lblk = Math.floor(io.offset / bs);
      const n = Math.ceil((io.offset + io.size) / bs) - lblk;
      if (ioendShared(io)) {
        if (io.status === 0 || this.bugs.remapCowOnIoError === true) this.endCow(inode, lblk, n);
        else this.cancelCow(inode, io.offset, io.size);
      } else if ((io.status === 0 || this.bugs.convertOnIoError === true) && ioendUnwritten(io)) {
        // Like xfs_end_ioend(), the (merged) ioend's type decides: one conversion per chain,
        // which is why completion merging must never mix UNWRITTEN and MAPPED ioends.
        if (ri.extents.convert(lblk, n, 'unwritten', 'written')) this.bumpSeqUnlessBug(ri);
      }
      const end = this.ioendEnd(io);
      const ok = io.status === 0;
      iomapFinishIoends(io, io.status);
      // After finishing, so that this ioend's own folios no longer count as in flight.
      if (ok) this.dataReached(inode, end);
    }
  }

  /** ->discard_folio: drop the delalloc reservations of the rest of a folio that failed to map. */
  discardFolio(folio: Folio, pos: number): void {
    const inode = folio.mapping?.host;
    if (!inode) return;
    this.punchDelalloc(inode, pos, folio.end - pos);
  }

  /* --------------------------------------------------------------------------------------- */
  /* Space operations                                                                        */
  /* --------------------------------------------------------------------------------------- */

  /** The in-core size was set explicitly (truncate, fallocate, collapse/insert, clone): log it as is. */
  sizeChanged(inode: Inode): void {
    const ri = refsOf(inode);
    ri.wbSize = inode.size;
    ri.reachedEnd = Math.min(ri.reachedEnd, inode.size);
  }

  /**
   * ext4_update_disksize_before_punch(): a punch or zero range that drops cached (possibly dirty)
   * data must first move the on-disk size up to the end of the range (at most i_size), because
   * the writeback that would have raised it will never happen for the dropped folios.
   */
  diskSizeBeforePunch(inode: Inode, off: number, len: number): void {
    const ri = refsOf(inode);
    if (off > inode.size) return;
    const target = Math.min(inode.size, off + len);
    if (ri.wbSize >= target) return;
    ri.wbSize = target;
    if (target > ri.reachedEnd) ri.reachedEnd = target;
  }

  /** Written-back data now reaches `end`: the on-disk size may follow, up to the in-core size. */
  private dataReached(inode: Inode, end: number): void {
    const ri = refsOf(inode);
    if (end > ri.reachedEnd) ri.reachedEnd = end;
    let target = Math.min(inode.size, ri.reachedEnd);
    if (target <= ri.wbSize) return;
    // Ordered size updates: never past cached data below `end` that has not reached the disk
    // yet (e.g. zeroing of the old EOF block), or a crash would expose stale bytes under it.
    const want = target;
    for (const f of inode.mapping.foliosIn(Math.floor(ri.wbSize / PAGE_SIZE), Math.floor((target - 1) / PAGE_SIZE))) {
      if (f.dirty || f.writeback) {
        target = Math.min(target, Math.max(ri.wbSize, f.pos));
        break;
      }
    }
    if (target > ri.wbSize) ri.wbSize = target;
    if (target < want) this.sizeBehind.add(inode);
    else this.sizeBehind.delete(inode);
  }

  /**
   * xfs_can_free_eofblocks(): whether the inode has anything for xfs_free_eofblocks to free, a data
   * extent reaching past the EOF block or any delalloc reservation (i_delayed_blks, both forks).
   * When it has none, xfs_free_eofblocks is not called at all, so nothing is truncated and the
   * reflink flag stays (a collapse/insert of a file whose clone of a hole left no extent kept it on
   * 6.18.44, and the next unaligned O_DIRECT write fell back to a buffered one: diff, xfs 1k seed
   * 44, op 104,428, 4 ops). A file with the persistent-preallocation flag keeps its post-EOF
   * blocks unless it has delalloc reservations (a KEEP_SIZE zero range's blocks past EOF stayed
   * through an insert range on 6.18.44, and the write that extended the file over them found them
   * unwritten: diff, xfs 1k seed 201, op 9,498, 5 ops; plain xfs_io shows the same).
   */
  canFreeEofBlocks(inode: Inode, honourPreallocFlag = true): boolean {
    const ri = refsOf(inode);
    if (ri.inline) return false;
    const delayed = ri.extents.exts.some((e) => e.state === 'delalloc') || ri.cow.exts.some((c) => c.state === 'delalloc');
    if (delayed) return true;
    if (ri.preallocFlag && honourPreallocFlag) return false;
    const eofBlock = Math.ceil(inode.size / this.blockSize);
    return ri.extents.exts.some((e) => e.lblk + e.len > eofBlock);
  }

  /**
   * xfs_free_eofblocks(): free what lies past `size`; for a file with the persistent-preallocation
   * flag only the data fork's delalloc reservations there go (xfs_bmap_punch_delalloc_range), its
   * allocated blocks stay (checked with xfs_io on 6.18.44, xfs 1k: with a delalloc block inside EOF
   * an insert range still kept a KEEP_SIZE preallocation past EOF).
   */
  freeEofBlocks(inode: Inode, size: number): void {
    if (!refsOf(inode).preallocFlag) {
      this.truncateBlocks(inode, size);
      return;
    }
    const from = Math.ceil(size / this.blockSize) * this.blockSize;
    this.punchDelalloc(inode, from, Number.MAX_SAFE_INTEGER - from);
  }

  /** Free every block from the block containing byte `newsize` rounded up (truncate). */
  truncateBlocks(inode: Inode, newsize: number): void {
    const ri = refsOf(inode);
    if (ri.inline) {
      ri.inline.fill(0, Math.min(newsize, this.blockSize));
      return;
    }
    this.freeRange(ri, Math.ceil(newsize / this.blockSize), Infinity);
    // xfs_itruncate_clear_reflink_flags(): no extent left in either fork, no reflink flag.
    if (ri.extents.exts.length === 0 && ri.cow.exts.length === 0) ri.reflinked = false;
  }

  /** fallocate 0/KEEP_SIZE over blocks [lblk, lblk+n): holes become unwritten, delalloc is allocated. */
  allocRange(inode: Inode, lblk: number, n: number): number {
    const ri = refsOf(inode);
    if (n > 0) ri.preallocFlag = true;
    let b = lblk;
    while (b < lblk + n) {
      const { ext, next } = ri.extents.lookup(b);
      if (ext) {
        const end = Math.min(ext.lblk + ext.len, lblk + n);
        if (ext.state === 'delalloc') this.convertDelalloc(ri, { ...ext, lblk: b, len: end - b });
        b = end;
        continue;
      }
      const holeEnd = Math.min(next, lblk + n);
      const got = this.allocUnwritten(ri, b, holeEnd - b);
      if (got < holeEnd - b) return -ENOSPC;
      b = holeEnd;
    }
    return 0;
  }

  /** PUNCH_HOLE of whole blocks: the blocks become holes (shared references dropped). */
  punchBlocks(inode: Inode, lblk: number, n: number): void {
    if (n > 0) this.freeRange(refsOf(inode), lblk, n);
  }

  /** COLLAPSE_RANGE: drop [lblk, lblk+n) and shift everything after it down by n blocks. */
  collapseBlocks(inode: Inode, lblk: number, n: number): void {
    const ri = refsOf(inode);
    this.freeRange(ri, lblk, n);
    const by = this.bugs.collapseShortByOne && n > 1 ? n - 1 : n;
    ri.extents.shift(lblk + n, -by);
    ri.cow.shift(lblk + n, -by);
    this.bumpSeq(ri);
  }

  /** INSERT_RANGE: shift everything from lblk up by n blocks, leaving a hole. */
  insertBlocks(inode: Inode, lblk: number, n: number): void {
    const ri = refsOf(inode);
    ri.extents.splitAt(lblk);
    ri.cow.splitAt(lblk);
    const by = this.bugs.insertShortByOne && n > 1 ? n - 1 : n;
    ri.extents.shift(lblk, by);
    ri.cow.shift(lblk, by);
    this.bumpSeq(ri);
  }

  /**
   * Remap n blocks from src (at srcLblk) into dst (at dstLblk), as FICLONERANGE does: allocated
   * source blocks become shared by both, source holes punch the destination. The caller has
   * written back both ranges (no delalloc) and checked overlap.
   */
  remapBlocks(src: Inode, srcLblk: number, dst: Inode, dstLblk: number, n: number): void {
    const rs = refsOf(src);
    const rd = refsOf(dst);
    this.freeDestination(rs, srcLblk, rd, dstLblk, n);
    for (const e of rs.extents.range(srcLblk, n)) {
      if (e.state === 'delalloc') throw new Error('model bug: remap of a delalloc source');
      if (e.state === 'unwritten' && this.personality.reflinkSkipsUnwritten) continue; // not shared: see freeDestination
      this.addRefs(e.pblk, e.len);
      rd.extents.set(dstLblk + (e.lblk - srcLblk), e.len, e.state, e.pblk);
    }
    this.bumpSeq(rd);
    this.bumpSeq(rs);
    rd.reflinked = true;
    rs.reflinked = true;
  }

  /**
   * Unmap the remap destination. With reflinkSkipsUnwritten (xfs_reflink_remap_extent), a block
   * whose source and destination are both unwritten is left alone (both read as zeroes), and the
   * rest is unmapped; unwritten source blocks are then not shared, so the destination reads zeroes
   * from a hole or its own unwritten block.
   */
  private freeDestination(rs: RefsInode, srcLblk: number, rd: RefsInode, dstLblk: number, n: number): void {
    if (!this.personality.reflinkSkipsUnwritten) {
      this.freeRange(rd, dstLblk, n);
      return;
    }
    const bothUnwritten = (i: number): boolean =>
      rs.extents.lookup(srcLblk + i).ext?.state === 'unwritten' && rd.extents.lookup(dstLblk + i).ext?.state === 'unwritten';
    let i = 0;
    while (i < n) {
      const keep = bothUnwritten(i);
      let j = i + 1;
      while (j < n && bothUnwritten(j) === keep) j++;
      if (!keep) this.freeRange(rd, dstLblk + i, j - i);
      i = j;
    }
  }

  /** Give shared UNWRITTEN blocks in [lblk, lblk+n) private storage (their content is zero). */
  unshareUnwritten(inode: Inode, lblk: number, n: number): number {
    const ri = refsOf(inode);
    let changed = false;
    for (const e of ri.extents.range(lblk, n)) {
      if (e.state !== 'unwritten') continue;
      for (let b = 0; b < e.len;) {
        const run = this.sharedRun(e.pblk + b, e.len - b);
        if (this.isShared(e.pblk + b)) {
          const got = this.allocBlocks(run, this.goalFor(ri, e.lblk + b));
          if (!got || this.freeBlocks < 0) return -ENOSPC;
          ri.extents.set(e.lblk + b, got[1], 'unwritten', got[0]);
          this.releaseBlocks(e.pblk + b, got[1]);
          b += got[1];
          changed = true;
        } else {
          b += run;
        }
      }
    }
    if (changed) this.bumpSeq(ri);
    return 0;
  }

  /** Blocks [lblk, lblk+n) hold no delalloc in either fork (after writeback). */
  hasDelalloc(inode: Inode, lblk: number, n: number): boolean {
    const ri = refsOf(inode);
    return ri.extents.range(lblk, n).some((e) => e.state === 'delalloc') || ri.cow.range(lblk, n).some((e) => e.state === 'delalloc');
  }

  /* --------------------------------------------------------------------------------------- */
  /* Invariants                                                                              */
  /* --------------------------------------------------------------------------------------- */

  /**
   * Delalloc accounting (contract §8(b)): the fs-wide reservation equals the delalloc blocks of
   * all inodes; for this inode every delalloc block lies below EOF and is dirty in the page
   * cache, and every dirty block below EOF is backed by delalloc or allocated space unless its
   * cached bytes are all zero over a hole (stale dirty bits of post-EOF blocks that later came
   * inside EOF, which writeback legitimately skips). Returns the violations.
   */
  checkReservations(inode: Inode, from?: number, to?: number): string[] {
    const out: string[] = [];
    const whole = from === undefined;
    let total = 0;
    for (const r of this.inodes.values()) {
      total += whole ? r.extents.count('delalloc') + r.cow.count('delalloc') : r.extents.delallocCount() + r.cow.delallocCount();
    }
    if (total !== this.reservedBlocks) out.push(`reservedBlocks ${this.reservedBlocks} != delalloc blocks ${total}`);
    const ri = refsOf(inode);
    const eofBlk = Math.ceil(inode.size / this.blockSize);
    const lo = from ?? 0;
    const hi = to ?? Infinity;
    // Run by run, never block by block: this runs after every fsx op.
    this.checkDelallocExtents(inode, ri.extents, lo, hi, eofBlk, out);
    this.checkDelallocExtents(inode, ri.cow, lo, hi, eofBlk, out);
    if (ri.inline) return out;
    const mapping = inode.mapping;
    const end = hi * this.blockSize;
    for (let k = lo === 0 ? 0 : mapping.rankFrom(Math.floor(lo * this.blockSize / PAGE_SIZE)); k < mapping.nrFolios; k++) {
      const folio = mapping.folioByRank(k);
      if (folio.pos >= end) break;
      if (folio.dirty) this.checkDirtyBacked(ri, folio, eofBlk, out);
    }
    return out;
  }

  /** checkDelallocExtent for each delalloc extent of a fork overlapping blocks [lo, hi). */
  private checkDelallocExtents(inode: Inode, fork: ExtentMap, lo: number, hi: number, eofBlk: number, out: string[]): void {
    const x = fork.exts;
    for (let i = lo === 0 ? 0 : fork.firstAfter(lo); i < x.length && x[i].lblk < hi; i++) {
      if (x[i].state === 'delalloc') this.checkDelallocExtent(inode, x[i], eofBlk, out);
    }
  }

  /** Blocks [from, to) whose extents changed, or that inline data left, since the last call. */
  takeTouchedBlocks(inode: Inode): [number, number] {
    const ri = refsOf(inode);
    let from = Math.min(ri.extents.touchedLo, ri.cow.touchedLo);
    let to = Math.max(ri.extents.touchedHi, ri.cow.touchedHi);
    // The dirty-folio checks skip an inline file: all of them apply once it is no longer inline.
    const inline = ri.inline !== null;
    if (inline !== ri.inlineAtCheck) {
      from = 0;
      to = Infinity;
      ri.inlineAtCheck = inline;
    }
    ri.extents.forgetTouched();
    ri.cow.forgetTouched();
    return [from, to];
  }

  /** The first block of a delalloc extent that is at/after EOF or not dirty in the page cache (one message). */
  private checkDelallocExtent(inode: Inode, e: Extent, eofBlk: number, out: string[]): void {
    const end = e.lblk + e.len;
    const notDirty = this.firstCleanBlock(inode, e.lblk, Math.min(end, eofBlk));
    if (notDirty >= 0) out.push(`delalloc block ${notDirty} is not dirty in the page cache (leaked reservation)`);
    else if (end > eofBlk) out.push(`delalloc block ${Math.max(e.lblk, eofBlk)} at/after EOF block ${eofBlk}`);
  }

  /** The first block in [from, to) that is not dirty in the page cache, or -1. */
  private firstCleanBlock(inode: Inode, from: number, to: number): number {
    const bs = this.blockSize;
    let b = from;
    while (b < to) {
      const folio = inode.mapping.folioAt(b * bs);
      if (!folio || !folio.dirty) return b;
      const first = (b * bs - folio.pos) / bs;
      const stop = Math.min(folio.size / bs, first + (to - b));
      if (folio.ifs) {
        const clean = folio.ifs.dirty.indexOf(0, first);
        if (clean !== -1 && clean < stop) return b + clean - first;
      }
      b += stop - first;
    }
    return -1;
  }

  /** Dirty blocks of a dirty folio below EOF are backed by an extent, or hold only zeroes. */
  private checkDirtyBacked(ri: RefsInode, folio: Folio, eofBlk: number, out: string[]): void {
    const bs = this.blockSize;
    const base = folio.pos / bs;
    const lim = Math.min(folio.size / bs, eofBlk - base);
    const dirty = folio.ifs?.dirty;
    let i = 0;
    while (i < lim) {
      // The next run of dirty blocks [i, j) (without per-block state: every block).
      if (dirty) {
        i = dirty.indexOf(1, i);
        if (i === -1 || i >= lim) return;
      }
      let j = dirty ? dirty.indexOf(0, i) : lim;
      if (j === -1 || j > lim) j = lim;
      for (let b = base + i; b < base + j;) {
        const { ext, next } = ri.extents.lookup(b);
        const stop = Math.min(base + j, ext ? ext.lblk + ext.len : next);
        if (!ext) {
          for (let h = b; h < stop; h++) {
            if (!zeroBytes(folio.data, (h - base) * bs, bs)) out.push(`dirty block ${h} below EOF has no reservation`);
          }
        }
        b = stop;
      }
      i = j;
    }
  }

  /**
   * fs-level consistency (mount-time style): extents sorted, blocks owned once, in range. Runs
   * after every power cut: the blocks are judged span by span (coverage of the extents, the free
   * and busy lists, the refcount table); only when something is wrong are they walked one by one,
   * for the per-block messages.
   */
  checkConsistency(): string[] {
    const out: string[] = [];
    const spans: Array<[number, number]> = [];
    for (const ri of this.inodes.values()) {
      for (const fork of [ri.extents, ri.cow]) {
        let prevEnd = -1;
        for (const e of fork.exts) {
          if (e.lblk < prevEnd) out.push(`inode ${ri.ino}: overlapping extents at ${e.lblk}`);
          prevEnd = e.lblk + e.len;
          if (e.state === 'delalloc') continue;
          if (e.pblk < this.sb.dataStart || e.pblk + e.len > this.sb.dataStart + this.sb.dataBlocks) {
            out.push(`inode ${ri.ino}: extent [${e.pblk}, +${e.len}) outside the data area`);
          }
          spans.push([e.pblk, e.pblk + e.len]);
        }
      }
    }
    if (this.blocksConsistent(spans)) return out;
    const refs = new Map<number, number>();
    for (const [lo, hi] of spans) for (let blk = lo; blk < hi; blk++) refs.set(blk, (refs.get(blk) ?? 0) + 1);
    for (const [blk, n] of refs) {
      if (this.alloc.isFree(blk)) out.push(`block ${blk} is referenced ${n} times and on the free list`);
      if (this.alloc.isBusy(blk)) out.push(`block ${blk} is referenced ${n} times and busy (freed, awaiting commit)`);
      const want = this.refcount.get(blk) ?? 1;
      if (want !== n) out.push(`block ${blk}: refcount ${want} but ${n} references`);
    }
    for (const [blk, c] of this.refcount) if (!refs.has(blk)) out.push(`block ${blk}: refcount ${c} with no references`);
    return out;
  }

  /**
   * No referenced block is free or busy, and each one's refcount (absent: 1) is its number of
   * references, every table entry being referenced: checked over the segments of equal coverage.
   */
  private blocksConsistent(spans: ReadonlyArray<readonly [number, number]>): boolean {
    const edges: Array<[number, number]> = [];
    for (const [lo, hi] of spans) edges.push([lo, 1], [hi, -1]);
    edges.sort((x, y) => x[0] - y[0]);
    const segs: Array<[number, number, number]> = [];
    let n = 0;
    for (let i = 0; i < edges.length; i++) {
      n += edges[i][1];
      const next = i + 1 < edges.length ? edges[i + 1][0] : edges[i][0];
      if (n > 0 && next > edges[i][0]) segs.push([edges[i][0], next, n]);
    }
    for (const [lo, hi] of segs) if (this.alloc.overlapsFree(lo, hi) || this.alloc.overlapsBusy(lo, hi)) return false;
    const counted = new Array<number>(segs.length).fill(0);
    for (const [blk, c] of this.refcount) {
      let lo = 0;
      let hi = segs.length;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (segs[mid][1] <= blk) lo = mid + 1;
        else hi = mid;
      }
      const seg = segs[lo];
      if (seg === undefined || seg[0] > blk || seg[2] !== c) return false;
      counted[lo]++;
    }
    return segs.every(([lo, hi, k], i) => k === 1 || counted[i] === hi - lo);
  }
}

/** Whether data[off, off+len) is all zero bytes. */
function zeroBytes(data: Uint8Array, off: number, len: number): boolean {
  for (let k = off; k < off + len; k++) if (data[k] !== 0) return false;
  return true;
}

/** The ioend covers a COW extent: io_flags SHARED (current) or the copied IOMAP_F_SHARED (6.12). */
function ioendShared(io: Ioend): boolean {
  return io.inode.api === 'current' ? (io.ioFlags & IOMAP_IOEND_SHARED) !== 0 : (io.flags & IOMAP_F_SHARED) !== 0;
}

/** The ioend covers unwritten extents: io_flags UNWRITTEN (current) or io_type (6.12). */
function ioendUnwritten(io: Ioend): boolean {
  return io.inode.api === 'current' ? (io.ioFlags & IOMAP_IOEND_UNWRITTEN) !== 0 : io.type === IOMAP_UNWRITTEN;
}

export { refsOf, IOMAP_MAPPED, IOMAP_UNWRITTEN };
export type { IomapIterLike };
