/**
 * The bug zoo: historical iomap bugs (contract digest §7) and rule violations real filesystems
 * shipped, each a small deviation of the reference model or of refs, selectable as
 * `--adapter mutant:NAME`. `catches` says which check is expected to notice it.
 */
import type { ModelBug } from '../../reference/bugs';
import type { RefsBugs } from '../../reference/fs/refs';

export interface MutantSpec {
  name: string;
  /** Section of the iomap contract (docs/rules.md, docs/contract.md) or the rule the bug comes from. */
  section: string;
  description: string;
  /** The check expected to catch it: "fsx" (byte/size oracle), "monitor:Rxx", "check:SUITE", "crash". */
  catches: string;
  /** Core switch (reference/bugs.ts) to turn on, if any. */
  core?: ModelBug;
  /** refs switch (RefsBugs) to turn on, if any. */
  refs?: keyof RefsBugs;
  /**
   * Geometry the bug needs to show (e.g. blocks smaller than folios). Documentation only: the
   * mutant is created with what it is given, and the setup sweep is what reaches this geometry.
   */
  geometry?: { blockSize?: number; folioSize?: number };
  /**
   * Reference setup the bug needs to show (adapters/reference.ts TargetSetup): `poison` (never-
   * written sectors read old data; true picks the default seed) and `eofPrealloc` (bytes of
   * speculative post-EOF preallocation). Documentation only, like `geometry`; a case records the
   * setup it ran with, so it replays on `reference` with the same setup.
   */
  options?: { poison?: boolean | number; eofPrealloc?: number };
  /** The kernel commit (or thread) the bug imitates, for mutants added with the setup sweep. */
  commit?: string;
}

export const MUTANTS: MutantSpec[] = [
  { name: 'stale-iomap-valid', section: '§7.1', core: undefined, refs: 'iomapValidAlwaysTrue', catches: 'monitor:R30',
    description: '->iomap_valid always true: a buffered write keeps using a mapping that writeback or a punch changed under it' },
  { name: 'new-flag-merged-delalloc', section: '§7.2', refs: 'newFlagOnMergedDelalloc', catches: 'monitor:R16',
    description: 'F_NEW on a mapping that merges new and pre-existing delalloc; a short write then punches the old reservation' },
  { name: 'short-write-truncates-pagecache', section: '§7.3', refs: 'shortWriteTruncatesPagecache', catches: 'check:short-writes',
    description: 'a short write drops the page cache over the unused delalloc range (dirty data of other writers included)' },
  { name: 'delalloc-scan-past-eof', section: '§7.5', core: 'delallocScanPastEof', catches: 'check:short-writes',
    description: 'the delalloc release scan is not capped at EOF, so post-EOF reservations over dirty folios leak' },
  { name: 'no-per-block-punch', section: '§7.6', core: 'delallocNoPerBlockPunch', catches: 'check:short-writes',
    geometry: { blockSize: 1024, folioSize: 16384 },
    description: 'clean blocks inside a dirty large folio are not punched after a short write (leaked delalloc)' },
  { name: 'zero-range-no-flush', section: '§7.11', core: 'zeroRangeNoFlush', catches: 'fsx',
    description: 'zero_range skips UNWRITTEN extents although dirty cached data over them will be written back' },
  { name: 'writeback-error-lost', section: '§7.12', core: 'writebackErrorNotRecorded', catches: 'check:writeback-errors',
    description: 'a failed writeback is not recorded, so fsync reports success after the data was dropped' },
  { name: 'map-blocks-hole', section: '§7.13', refs: 'mapBlocksHoleForDelalloc', catches: 'monitor:R33',
    description: '->map_blocks answers HOLE for dirty delalloc data, which writeback then silently skips' },
  { name: 'read-eof-off-by-one', section: '§7.14', core: 'readEofOffByOne', catches: 'fsx',
    geometry: { blockSize: 1024, folioSize: 16384 },
    // xfs with 1 KiB blocks: post-EOF preallocation written with stale disk contents is what the
    // block after a block-aligned EOF is read from.
    options: { poison: true, eofPrealloc: 65536 },
    description: 'adjust_read_range finds the EOF block from i_size instead of i_size - 1' },
  { name: 'mkwrite-eof-off-by-one', section: '§7.16', core: 'mkwriteEofOffByOne', catches: 'fsx',
    description: 'page_mkwrite compares with >= instead of >: a store to the valid last page raises SIGBUS' },
  { name: 'mkwrite-dirty-late', section: '§7.7', core: 'mkwriteDirtyAfterIteration', catches: 'check:mmap',
    description: 'page_mkwrite dirties the folio only after every mapping succeeded; an ENOSPC mid-way leaks reservations' },
  { name: 'ioend-merge-ignores-type', section: '§5.6 merge rule', core: 'ioendMergeIgnoresType', catches: 'check:writeback',
    description: 'completion merging joins UNWRITTEN and MAPPED ioends, so one conversion covers (or skips) both' },
  { name: 'truncate-no-tail-zero', section: 'file-ops §2', core: 'truncateNoTailZero', catches: 'fsx',
    description: 'truncate down does not zero the tail of the new EOF block; a later extension resurrects old bytes' },
  { name: 'writeback-no-eof-zero', section: '§5.6 EOF', core: 'writebackNoEofZero', catches: 'fsx',
    description: 'writeback does not zero the EOF folio beyond EOF, so mmap stores past EOF reach the disk' },
  { name: 'collapse-short-by-one', section: 'file-ops §3.2', refs: 'collapseShortByOne', catches: 'fsx',
    description: 'COLLAPSE_RANGE shifts the tail down by one block too few' },
  { name: 'insert-short-by-one', section: 'file-ops §3.2', refs: 'insertShortByOne', catches: 'fsx',
    description: 'INSERT_RANGE shifts the tail up by one block too few' },
  { name: 'fsync-no-flush', section: 'file-ops §12', refs: 'fsyncNoFlush', catches: 'crash',
    description: 'fsync commits metadata without flushing the device cache: acknowledged data can vanish in a crash' },
  { name: 'metadata-before-data', section: 'crash (stale data)', refs: 'allocWrittenAtWriteback', catches: 'crash',
    description: 'delalloc allocated as WRITTEN at writeback: a crash can expose stale blocks under committed extents' },
  { name: 'dio-no-post-invalidate', section: '§7.20', core: 'dioNoPostInvalidate', catches: 'fsx',
    description: 'a direct write does not invalidate the page cache afterwards: buffered and mmap reads return old data' },
  { name: 'fua-into-unwritten', section: '§7.10', core: 'dioFuaIntoUnwritten', catches: 'crash',
    description: 'O_DSYNC direct writes into unwritten extents use FUA and skip the sync that makes the conversion durable' },
  { name: 'seek-ignores-pagecache', section: '§5.9', core: 'seekIgnoresPagecache', catches: 'fsx',
    description: 'SEEK_DATA/SEEK_HOLE treat unwritten extents as holes even with dirty data cached over them' },
  { name: 'fiemap-no-last', section: '§5.10', core: 'fiemapNoLast', catches: 'fsx',
    description: 'FIEMAP never marks the final extent FIEMAP_EXTENT_LAST' },
  { name: 'fiemap-no-shared', section: '§5.10', core: 'fiemapNoShared', catches: 'check:reflink',
    description: 'FIEMAP never reports FIEMAP_EXTENT_SHARED for reflinked extents' },
  // Found only by the setup sweep: blocks larger than the page over a device with old contents.
  { name: 'dio-zero-one-page', section: '§5.7 sub-block zeroing', core: 'dioZeroOnePage', catches: 'fsx (setup sweep)',
    geometry: { blockSize: 16384 }, options: { poison: true },
    commit: 'fs/iomap "iomap: fix iomap_dio_zero() for fs bs > system page size" (Pankaj Raghav, large block size series, Linux 6.12): iomap_dio_zero() put one ZERO_PAGE in its bio',
    description: 'a sub-block direct write zeroes at most one page of the new block around it: with blocks larger than a page the rest keeps stale device data' },
  // Found only by short copies: a user buffer that faults part-way through a buffered write.
  { name: 'write-end-short-copy', section: '§5.2 short copy', core: 'writeEndShortCopyUptodate', catches: 'fsx (short copies)',
    commit: '__iomap_write_end() short-copy check, inherited from block_write_end() (fs/buffer.c, "fs: introduce write_begin, write_end, and perform_write aops", afddba49d18f, 2.6.24): a short copy into a folio that is not uptodate must be refused',
    description: 'write_end accepts a short copy into a folio that is not uptodate and marks the whole range uptodate: the unread rest of the last block reads as zeroes' },
  // Reached only by device faults (fsx fault_read/fault_write, check read-errors).
  { name: 'read-error-uptodate', section: 'read completion (iomap_finish_folio_read)', core: 'readErrorMarksUptodate', catches: 'fsx (device faults)',
    commit: 'fs/iomap per-block uptodate tracking, 9dc55f1389f9 "iomap: add support for sub-pagesize buffered I/O without buffer heads" (4.19): a block whose read failed stays not uptodate',
    description: 'a failed read marks its blocks uptodate, so the folio\'s stale memory is served as file data' },
  { name: 'convert-on-io-error', section: 'ioend completion (xfs_end_ioend)', refs: 'convertOnIoError', catches: 'fsx (device faults)',
    options: { poison: true },
    commit: 'fs/xfs xfs_end_ioend(): a failed ioend skips the unwritten conversion ("xfs: fix and streamline error handling in xfs_end_io", 4.15)',
    description: 'the end_io work converts UNWRITTEN extents although the write failed, exposing the blocks\' old contents' },
  { name: 'cow-remap-on-io-error', section: 'ioend completion (xfs_end_ioend)', refs: 'remapCowOnIoError', catches: 'fsx (device faults on COW writes)',
    options: { poison: true },
    commit: 'fs/xfs xfs_end_ioend(): a failed ioend over shared blocks cancels its COW staging (xfs_reflink_cancel_cow_range) instead of remapping it ("xfs: fix and streamline error handling in xfs_end_io", 4.15)',
    description: 'the end_io work remaps a failed COW write\'s staging blocks into the file, replacing the shared data with the blocks\' old contents' },
  { name: 'clone-unaligned-tail', section: 'file-ops §4, §14.12', core: 'cloneUnalignedTail', catches: 'fsx:invalid',
    commit: 'xfs b39989009bdb "xfs: fix data corruption w/ unaligned reflink ranges" (Linux 4.19): an unaligned clone length that does not end at the source EOF must be refused, not rounded up to the block',
    description: 'FICLONERANGE accepts an unaligned length that does not end at the source EOF and remaps the whole last block over the destination' },
  { name: 'unmount-sync-only-dirty', section: 'file-ops §14.25', core: 'unmountSyncOnlyDirty', catches: 'fsx:remount',
    commit: 'Jan Kara\'s "vfs: Call ->sync_fs() even if s_dirt is 0" (Linux 2.6.31): the sync at unmount was skipped when nothing was marked dirty, losing metadata-only changes',
    description: 'unmount syncs and commits only when some page is dirty: a truncate, punch or allocation since the last commit is lost at a clean remount' },
  { name: 'delalloc-convert-no-seq', section: '§7.1', refs: 'convertDelallocNoSeq', catches: 'monitor:R30',
    commit: 'xfs 304a68b9c63b "xfs: use iomap_valid method to detect stale cached iomaps" (Linux 6.2): every extent-map change must move the sequence the cookie samples; here writeback\'s delalloc conversion does not',
    description: 'writeback converts delalloc without moving the validity cookie: a racing buffered write goes on with its stale DELALLOC mapping' },
  // The newer I/O (issue 18): atomic writes, uncached I/O, exchange range.
  { name: 'atomic-cow-per-extent', section: 'file-ops §14.29', refs: 'atomicCowPerExtent', catches: 'crash',
    commit: 'xfs "xfs: commit CoW-based atomic writes atomically" (John Garry, in the series adding CoW-based atomic writes to xfs, based on v6.15-rc1): before it, a copy-on-write completion remapped extent by extent, one transaction each',
    description: 'the copy-on-write fallback of an atomic write is remapped piece by piece, each piece its own transaction: a power cut in between leaves the write half old, half new' },
  { name: 'atomic-bio-not-atomic', section: 'file-ops §14.29', core: 'atomicBioNotAtomic', catches: 'crash',
    description: 'a hardware atomic write goes to the device as ordinary writes (no REQ_ATOMIC): the volatile cache may tear it at a power cut' },
  { name: 'atomic-hw-partial-mapping', section: 'file-ops §14.29', refs: 'atomicHwPartialMapping', catches: 'fsx',
    description: 'the filesystem hands out IOMAP_F_ATOMIC_BIO for a mapping that does not cover the whole atomic write instead of answering -ENOPROTOOPT for the copy-on-write fallback: the write fails with EINVAL' },
  { name: 'dontcache-drops-dirty', section: 'file-ops §14.30', core: 'dontcacheDropsDirty', catches: 'fsx',
    description: 'an RWF_DONTCACHE read drops every folio it touched, dirty ones included: data never written back is lost' },
  { name: 'dontcache-no-drop', section: 'file-ops §14.30', core: 'dontcacheNoDropAtWriteback', catches: 'fsx',
    description: 'writeback completion does not drop RWF_DONTCACHE folios: uncached writes stay in the page cache' },
  { name: 'exchange-keeps-cache', section: 'file-ops §14.31', core: 'exchangeKeepsCache', catches: 'fsx',
    description: 'exchange range writes the cache over the two ranges back but does not drop it: reads keep returning the pre-exchange bytes' },
];

export function mutantByName(name: string): MutantSpec | undefined {
  return MUTANTS.find((m) => m.name === name);
}
