/**
 * Deliberate deviations from the correct model, switched on one at a time by the bug zoo
 * (adapters/mutants). Each is a historical iomap bug (docs/bug-zoo.md) or a
 * rule violation real filesystems shipped, seeded where the kernel had it. All false: the
 * correct model. Core switches live here; filesystem-level bugs are options of refs (RefsBugs).
 */
export const modelBugs = {
  /** §7.11: zero_range skips HOLE/UNWRITTEN even with dirty cache over them (pre-6.12). */
  zeroRangeNoFlush: false,
  /** §7.12: writeback errors are not recorded, so fsync never reports them. */
  writebackErrorNotRecorded: false,
  /** §7.21: unshare uses the pre-6.12 predicate and tries to unshare DELALLOC/UNWRITTEN sources. */
  unshareOldPredicate: false,
  /** ioend completion merging ignores UNWRITTEN/SHARED (one conversion covers mixed ranges). */
  ioendMergeIgnoresType: false,
  /** §7.5: the delalloc release scan runs to `end` instead of min(end, i_size). */
  delallocScanPastEof: false,
  /** §7.6: clean blocks inside a dirty large folio are not punched. */
  delallocNoPerBlockPunch: false,
  /** §7.14: adjust_read_range finds the EOF block from i_size instead of i_size - 1. */
  readEofOffByOne: false,
  /** §7.16: page_mkwrite's truncate check accepts a folio that starts exactly at EOF. */
  mkwriteEofOffByOne: false,
  /** §7.7: page_mkwrite dirties the folio only after the whole iteration succeeded. */
  mkwriteDirtyAfterIteration: false,
  /** Truncate down does not zero the tail of the new EOF block (no iomap_truncate_page). */
  truncateNoTailZero: false,
  /** Writeback does not zero the EOF folio beyond EOF. */
  writebackNoEofZero: false,
  /** §7.20: a direct write does not invalidate the page cache afterwards. */
  dioNoPostInvalidate: false,
  /** §7.10: O_DSYNC direct writes into UNWRITTEN extents use FUA and skip the final sync. */
  dioFuaIntoUnwritten: false,
  /** SEEK_HOLE/SEEK_DATA ignore the page cache over UNWRITTEN extents. */
  seekIgnoresPagecache: false,
  /** FIEMAP never flags the last extent with FIEMAP_EXTENT_LAST. */
  fiemapNoLast: false,
  /** FIEMAP never reports FIEMAP_EXTENT_SHARED. */
  fiemapNoShared: false,
  /**
   * Read completion marks the blocks of a failed read uptodate (the folio's old memory then
   * passes for file data), instead of leaving them not uptodate for the next read to retry.
   */
  readErrorMarksUptodate: false,
  /**
   * iomap_dio_zero() zeroes at most one page (one ZERO_PAGE per bio, as before large block
   * sizes): with blocks larger than a page, the rest of a new block's sub-block padding keeps the
   * device's old contents.
   */
  dioZeroOnePage: false,
  /**
   * __iomap_write_end() accepts a short copy into a folio that is not uptodate: it marks the whole
   * requested range uptodate (blocks write_begin never read because the copy was to cover them)
   * and reports the bytes copied, so the rest of the last block reads (and is written back) as
   * whatever the folio memory held instead of the file's data.
   */
  writeEndShortCopyUptodate: false,
  /** FICLONERANGE accepts an unaligned length that does not end at the source EOF and remaps
   * the whole last block (destination bytes past the range take the source's). */
  cloneUnalignedTail: false,
  /** Unmount syncs (and commits) only when some page is dirty: metadata-only changes since the
   * last commit (a truncate, a punch, an allocation, a completed conversion) are lost. */
  unmountSyncOnlyDirty: false,
  /** A hardware atomic direct write goes out as ordinary bios (no REQ_ATOMIC, may be split), so a
   * power cut can tear it at sector granularity. */
  atomicBioNotAtomic: false,
  /** An RWF_DONTCACHE read drops every clean-or-dirty folio it touched, not only the clean ones
   * it brought in: dirty data that was never written back is thrown away. */
  dontcacheDropsDirty: false,
  /** Exchange range writes the page cache over the two ranges back but does not drop it before
   * swapping the block mappings: cached pages keep showing the pre-exchange contents. */
  exchangeKeepsCache: false,
  /** Writeback completion never drops RWF_DONTCACHE folios (the end-of-writeback half of
   * dropbehind is missing): uncached writes fill the page cache like ordinary ones. */
  dontcacheNoDropAtWriteback: false,
};

export type ModelBug = keyof typeof modelBugs;

export function isModelBug(name: string): name is ModelBug {
  return Object.prototype.hasOwnProperty.call(modelBugs, name);
}

/** Switch every core bug off (the correct model). */
export function resetModelBugs(): void {
  for (const k of Object.keys(modelBugs) as ModelBug[]) modelBugs[k] = false;
}
