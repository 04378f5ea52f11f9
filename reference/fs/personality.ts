/**
 * Filesystem personalities: where real iomap filesystems differ by policy rather than by iomap
 * semantics, refs follows one of them. `generic` is what refs did before personalities existed
 * (XFS-like everywhere except the speculative preallocation, which stays an explicit option);
 * `xfs` and `ext4` follow Linux 6.18. docs/model.md has the table with the kernel function that
 * makes each choice.
 */

import type { ZeroInCache } from '../iomap/buffered-io';

export type PersonalityName = 'generic' | 'xfs' | 'ext4';
export const PERSONALITY_NAMES: readonly PersonalityName[] = ['generic', 'xfs', 'ext4'];

export interface Personality {
  readonly name: PersonalityName;
  /**
   * PUNCH_HOLE and ZERO_RANGE write back and drop the cached range first (xfs_file_fallocate ->
   * xfs_flush_unmap_range). false: the range is only dropped from the cache, dirty data and all
   * (ext4_punch_hole / ext4_zero_range -> truncate_pagecache_range, since 6.15), blocks the range
   * covers whole inside a partly covered folio included (their buffers are discarded).
   */
  readonly flushBeforePunchZero: boolean;
  /**
   * What truncate writes back after zeroing the tail of the new EOF block, before the size changes
   * on disk: 'eof-block', that block (what refs always did); 'disk-size-range', the range from
   * the on-disk size to the new size, when it is not empty (xfs_setattr_size:
   * filemap_write_and_wait_range(i_disk_size, newsize - 1), so a truncate down inside the on-disk
   * size writes nothing); 'none', nothing (ext4_block_truncate_page; ordered-data journalling writes
   * the block before the size commits).
   */
  readonly writeBackAfterTruncateZero: 'eof-block' | 'disk-size-range' | 'none';
  /**
   * Writeback allocates the whole delalloc extent holding the block it writes
   * (xfs_bmapi_convert_delalloc). false: only the range being written back is allocated, the
   * rest stays delalloc (ext4: mpage_map_and_submit_extent maps just the dirty pages' extent).
   */
  readonly convertWholeDelalloc: boolean;
  /**
   * FIBMAP answers 0 for a file that has shared blocks (xfs_vm_bmap refuses reflinked inodes,
   * xfs_is_cow_inode). false: the block is reported (iomap_bmap), as ext4 would if it shared.
   */
  readonly bmapZeroOnReflink: boolean;
  /**
   * FICLONERANGE/FIDEDUPERANGE share written source blocks only: where the source is unwritten
   * the destination becomes a hole (xfs_reflink_remap_extent maps written extents only). false:
   * unwritten source blocks are shared too.
   */
  readonly reflinkSkipsUnwritten: boolean;
  /**
   * An unaligned O_DIRECT write to a file that has ever shared blocks (the reflink inode flag) goes
   * through the page cache, and its data stays there dirty (xfs_file_dio_write_unaligned ->
   * -ENOTBLK, then xfs_file_buffered_write). false: only a write over shared blocks falls back,
   * and the fallback writes its range back and drops it (ext4 ext4_dio_write_iter,
   * direct_write_fallback).
   */
  readonly dioFallbackOnReflinkedInode: boolean;
  /**
   * Zeroing (truncate, extending writes, punch edges) over an UNWRITTEN block with dirty cache
   * zeroes the cached folio in place. false: the range is written back first and the zeroing
   * redone over the new mapping (iomap_zero_range in 6.12). xfs 6.17+: xfs_buffered_write_iomap_begin
   * fills the folio batch (iomap_fill_dirty_folios); ext4: ext4_block_zero_page_range zeroes
   * through the page cache whatever the mapping. 'always': over holes as well, so zeroing never
   * writes anything back (ext4).
   */
  readonly zeroDirtyUnwrittenInCache: ZeroInCache;
  /**
   * A zeroing that starts inside a block whose range has dirty cache zeroes that partial block in
   * the cache, whatever the mapping (a hole included), instead of writing the range back first
   * (iomap_zero_range 6.13-6.18, "elide flush from partial eof zero range"; xfs). false: the 6.12
   * flush decides there too.
   */
  readonly zeroPartialBlockInCache: boolean;
  /**
   * COLLAPSE_RANGE and INSERT_RANGE free the blocks past EOF before shifting, so no post-EOF
   * preallocation is shifted into the file (xfs_prepare_shift -> xfs_free_eofblocks). false: they
   * shift with the tail and stay past EOF.
   */
  readonly shiftFreesPostEofBlocks: boolean;
  /**
   * A truncate to the current size still frees the blocks past EOF (a KEEP_SIZE preallocation):
   * xfs_setattr_size calls xfs_itruncate_extents whenever newsize <= oldsize, ext4_setattr calls
   * ext4_truncate "even if i_size didn't change to truncate possible preallocated blocks". false:
   * only a truncate down frees.
   */
  readonly truncateSameSizeFrees: boolean;
  /**
   * Bytes of speculative post-EOF preallocation done when the setup does not say (XFS:
   * xfs_buffered_write_iomap_begin -> xfs_iomap_prealloc_size). 0: none. The refs form of it is
   * the older XFS one (allocated WRITTEN at writeback), see docs/model.md.
   */
  readonly eofPrealloc: number;
  /**
   * O_DIRECT reads check offset and length against the logical sector size before anything
   * else. false: only where bios are built (iomap_dio_bio_iter), so a misaligned read of holes or
   * unwritten blocks is zero-filled and succeeds; neither xfs_file_dio_read nor
   * ext4_dio_read_iter checks up front.
   */
  readonly dioReadAlignUpFront: boolean;
  /**
   * O_DIRECT writes check offset and length up front (xfs_file_dio_write). false: only
   * iomap_dio_bio_iter checks, one mapping at a time, so a write whose misaligned part lies in a
   * later mapping fails with EINVAL after the earlier mappings' bios were submitted: their data
   * lands (visible where the blocks were written; unwritten ones are not converted, since
   * ->end_io sees the error) and blocks allocated past EOF are freed again
   * (ext4_dio_write_iter has no check; ext4_inode_extension_cleanup -> ext4_truncate_failed_write).
   */
  readonly dioWriteAlignUpFront: boolean;
  /**
   * iomap_dio_bio_iter checks only each mapping's own offset and length (6.18, after the
   * bdev_iter_is_aligned check went). false: the whole remaining count as well (6.12), so a
   * mapping that is aligned fails when the request's tail is not. Seen only where nothing
   * checked up front.
   */
  readonly dioMappingAlignOnly: boolean;
  /**
   * The filesystem shares blocks (FICLONERANGE, FIDEDUPERANGE: xfs with reflink=1). false: ext4
   * has no ->remap_file_range, so the reference adapter offers no clone or dedupe (the file API
   * still does, for tests of the other knobs).
   */
  readonly reflink: boolean;
  /**
   * copy_file_range first tries to share the blocks (vfs_copy_file_range calls
   * ->remap_file_range with REMAP_FILE_CAN_SHORTEN when both files are on one filesystem that
   * can remap): block-aligned offsets, the length cut down to whole blocks unless it ends at the
   * source's EOF (and that partial block would not land inside the destination), and the count
   * the remap returns is the call's answer, which may be short. Only when the remap does nothing
   * (an error such as unaligned offsets or overlapping blocks, or nothing left after the cut)
   * does the copy go through the page cache (splice). false: always through the page cache
   * (ext4 has no ->remap_file_range).
   */
  readonly copyRangeRemapsFirst: boolean;
  /**
   * PUNCH_HOLE and ZERO_RANGE reaching EOF, where EOF is not on a page boundary, write back the
   * EOF page after zeroing the partial edges (xfs_free_file_space: "the post-EOF area" of a page
   * that could be mmapped is zeroed by writeback). That write-back leaves the EOF page clean, so a
   * size extension right after it (an extending ZERO_RANGE) finds no dirty cache to zero into.
   * false: the zeroed edges stay dirty.
   */
  readonly punchWritesBackEofPage: boolean;
  /**
   * COLLAPSE_RANGE and INSERT_RANGE write back and drop the cache from one allocation unit before
   * the offset (xfs_prepare_shift: "stabilize the start block offset boundary" against COW
   * completions). false: from the offset (ext4_collapse_range / ext4_insert_range round it down
   * to the page only).
   */
  readonly shiftFlushesUnitBefore: boolean;
  /**
   * After its write-back, the drop of xfs_flush_unmap_range (PUNCH_HOLE, ZERO_RANGE, COLLAPSE and
   * INSERT, a clone's or dedupe's destination, exchange range) takes every clean folio the range
   * touches whole, the part outside the range included, where a truncate splits a large folio at
   * the cut (Linux 6.18.44 xfs, ftrace: iomap_release_folio then the whole folio's removal from the
   * page cache, with no partial iomap_invalidate_folio; xfs 4k seed 1103, 11 ops). false: folios
   * straddling an edge are split as truncate_pagecache_range does, the pages outside kept.
   */
  readonly flushUnmapDropsWholeFolios: boolean;
  /**
   * COLLAPSE_RANGE ends with a truncate to the new size (xfs_falloc_collapse_range ->
   * xfs_falloc_setsize -> xfs_vn_setattr_size, the path of truncate(2)): the new EOF block's tail
   * is zeroed through the cache (a shared one gets a copy-on-write), the disk-size write-back of
   * a truncate down applies, and xfs_itruncate_extents drops the reflink inode flag when neither
   * fork has an extent left. false: the size is set as it is (ext4_collapse_range).
   */
  readonly collapseTruncates: boolean;
  /**
   * UNSHARE_RANGE does nothing but allocate on a file that never shared blocks: no unsharing pass
   * and no write-back of the range (xfs_reflink_unshare returns at once without the reflink inode
   * flag; then xfs_alloc_file_space). false: the range is unshared and written back regardless.
   */
  readonly unshareOnlyReflinked: boolean;
  /**
   * fallocate (plain allocation, ZERO_RANGE, INSERT_RANGE) raises i_size with no zeroing from the
   * old EOF: ext4_alloc_file_blocks -> ext4_update_inode_size (ext4_insert_range adds len to
   * i_size), and pagecache_isize_extended
   * zeroes the cached EOF folio's tail only if that folio is dirty, dirtying no block. So a block
   * the call has just allocated unwritten stays clean, even in a dirty EOF folio, and an fsync
   * leaves it unwritten (ext4 1k, seed 113). false: through truncate up (xfs_falloc_setsize ->
   * xfs_vn_setattr_size), whose iomap_zero_range zeroes from the old EOF.
   */
  readonly fallocExtendsWithoutZeroing: boolean;
  /**
   * Invalidating part of a cached folio (a truncate's EOF folio, a punch's or zero range's edge
   * folios) discards the blocks it covers whole, dirty state and all: ext4 caches through buffer
   * heads, and block_invalidate_folio drops the buffers. false: iomap_invalidate_folio keeps a
   * folio's per-block dirty state unless the whole folio goes.
   */
  readonly invalidateDiscardsBlocks: boolean;
  /**
   * PUNCH_HOLE and ZERO_RANGE zero through the page cache only the partial blocks at the range's
   * edges (ext4_zero_partial_blocks); the blocks the range covers whole are freed or made unwritten
   * and never zeroed in the cache, so a dirty folio around them does not dirty them again. false:
   * the whole range inside EOF is zeroed, holes skipped (xfs_free_file_space -> xfs_zero_range).
   */
  readonly punchZeroesEdgesOnly: boolean;
  /**
   * s_maxbytes for block size `bs` beyond which writes, truncates and fallocate fail with EFBIG:
   * MAX_LFS_FILESIZE (xfs), or (2^32 - 1) blocks (ext4_max_size for extent-mapped files: 32-bit
   * logical block numbers).
   */
  readonly maxBytes: (bs: number) => number;
}

const GENERIC: Personality = {
  name: 'generic',
  flushBeforePunchZero: true,
  writeBackAfterTruncateZero: 'eof-block',
  convertWholeDelalloc: true,
  bmapZeroOnReflink: false,
  reflinkSkipsUnwritten: false,
  dioFallbackOnReflinkedInode: false,
  zeroDirtyUnwrittenInCache: false,
  zeroPartialBlockInCache: false,
  shiftFreesPostEofBlocks: false,
  truncateSameSizeFrees: false,
  eofPrealloc: 0,
  dioReadAlignUpFront: true,
  dioWriteAlignUpFront: true,
  dioMappingAlignOnly: false,
  reflink: true,
  copyRangeRemapsFirst: false,
  punchWritesBackEofPage: false,
  shiftFlushesUnitBefore: false,
  flushUnmapDropsWholeFolios: false,
  collapseTruncates: false,
  unshareOnlyReflinked: false,
  fallocExtendsWithoutZeroing: false,
  invalidateDiscardsBlocks: false,
  punchZeroesEdgesOnly: false,
  maxBytes: () => Number.MAX_SAFE_INTEGER,
};

const XFS: Personality = {
  ...GENERIC, name: 'xfs', writeBackAfterTruncateZero: 'disk-size-range', bmapZeroOnReflink: true, reflinkSkipsUnwritten: true, dioFallbackOnReflinkedInode: true, zeroDirtyUnwrittenInCache: 'within-eof',
  zeroPartialBlockInCache: true, shiftFreesPostEofBlocks: true, truncateSameSizeFrees: true, dioReadAlignUpFront: false, dioMappingAlignOnly: true,
  shiftFlushesUnitBefore: true, collapseTruncates: true, unshareOnlyReflinked: true, copyRangeRemapsFirst: true, punchWritesBackEofPage: true,
  flushUnmapDropsWholeFolios: true,
};

const EXT4: Personality = {
  name: 'ext4',
  flushBeforePunchZero: false,
  writeBackAfterTruncateZero: 'none',
  convertWholeDelalloc: false,
  bmapZeroOnReflink: false,
  reflinkSkipsUnwritten: false,
  dioFallbackOnReflinkedInode: false,
  zeroDirtyUnwrittenInCache: 'always',
  zeroPartialBlockInCache: false,
  shiftFreesPostEofBlocks: false,
  truncateSameSizeFrees: true,
  eofPrealloc: 0,
  dioReadAlignUpFront: false,
  dioWriteAlignUpFront: false,
  dioMappingAlignOnly: true,
  reflink: false,
  copyRangeRemapsFirst: false,
  punchWritesBackEofPage: false,
  shiftFlushesUnitBefore: false,
  flushUnmapDropsWholeFolios: false,
  collapseTruncates: false,
  unshareOnlyReflinked: false,
  fallocExtendsWithoutZeroing: true,
  invalidateDiscardsBlocks: true,
  punchZeroesEdgesOnly: true,
  maxBytes: (bs) => (2 ** 32 - 1) * bs,
};

const BY_NAME: Record<PersonalityName, Personality> = { generic: GENERIC, xfs: XFS, ext4: EXT4 };

export function isPersonalityName(x: unknown): x is PersonalityName {
  return typeof x === 'string' && (PERSONALITY_NAMES as readonly string[]).includes(x);
}

/** The personality called `name` (throws on an unknown name: callers validate input first). */
export function personality(name: PersonalityName = 'generic'): Personality {
  const p = BY_NAME[name];
  if (!p) throw new Error(`unknown personality ${String(name)}`);
  return p;
}
