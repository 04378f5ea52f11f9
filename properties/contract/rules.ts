/**
 * The contract rules of the iomap contract (docs/contract.md) as named, stable checks. Each rule
 * says whether the monitor checks it on every callback ("checked"), only part of it or only with
 * the filesystem's introspection ("partial"), or cannot see it ("unchecked": the state it needs —
 * locks, sleeping, the caller's context — does not exist in a single-threaded model).
 */
export type RuleStatus = 'checked' | 'partial' | 'unchecked';

export interface Rule {
  id: string;
  name: string;
  status: RuleStatus;
  /** One line: what is checked (and, for partial/unchecked, what is not and why). */
  description: string;
}

/** R47: consecutive mergeable one-block mappings within one iteration that make a violation. */
export const PER_BLOCK_LIMIT = 16;

export const RULES: Rule[] = [
  { id: 'R01', name: 'begin-contains-pos', status: 'checked', description: '->iomap_begin mapping satisfies offset <= pos < offset+length' },
  { id: 'R02', name: 'begin-nonempty', status: 'checked', description: '->iomap_begin mapping has length > 0 (a zero-length mapping makes the iterator re-begin forever)' },
  { id: 'R03', name: 'begin-no-core-flags', status: 'checked', description: '->iomap_begin never sets core-owned flags (SIZE_CHANGED, STALE)' },
  { id: 'R04', name: 'begin-valid-type', status: 'checked', description: 'mapping type is HOLE, DELALLOC, MAPPED, UNWRITTEN or INLINE' },
  { id: 'R05', name: 'addr-discipline', status: 'checked', description: 'HOLE/DELALLOC/INLINE carry IOMAP_NULL_ADDR; MAPPED/UNWRITTEN carry a real address and a block device' },
  { id: 'R06', name: 'sector-aligned-addr', status: 'checked', description: 'MAPPED/UNWRITTEN: addr - offset is a multiple of 512; for direct I/O the device address of pos is logical-sector aligned' },
  { id: 'R07', name: 'block-aligned-mapping', status: 'checked', description: 'non-INLINE mappings (and srcmaps) for page cache and writeback start and end on fs block boundaries' },
  { id: 'R08', name: 'dio-segment-alignment', status: 'checked', description: 'a direct I/O mapping never ends at a non-logical-sector-aligned offset inside an aligned request' },
  { id: 'R09', name: 'inline-shape', status: 'checked', description: 'INLINE: inline data present, length <= PAGE_SIZE, i_size - offset <= length, writes start at offset 0' },
  { id: 'R10', name: 'srcmap-shape', status: 'checked', description: 'a srcmap contains pos, is non-empty, block aligned, has sane addr and type MAPPED/UNWRITTEN/DELALLOC/INLINE' },
  { id: 'R11', name: 'write-not-hole', status: 'checked', description: 'IOMAP_WRITE never gets a HOLE (except IOMAP_UNSHARE of a hole, which xfs reports as is)' },
  { id: 'R12', name: 'dio-write-types', status: 'checked', description: 'direct writes get MAPPED, UNWRITTEN or INLINE (DELALLOC means a collision with buffered writes)' },
  { id: 'R13', name: 'dax-write-types', status: 'checked', description: 'DAX writes get MAPPED, or a SHARED (COW) destination' },
  { id: 'R14', name: 'read-only-lookups', status: 'partial', description: 'reads, REPORT, direct reads and ZERO lookups leave the data-fork mapping unchanged across begin and end (needs introspection; ZERO may stage COW for shared blocks)' },
  { id: 'R15', name: 'zero-beyond-eof', status: 'checked', description: 'ZERO lookups wholly beyond i_size are HOLE or UNWRITTEN' },
  { id: 'R16', name: 'new-only-fresh', status: 'partial', description: 'IOMAP_F_NEW covers only blocks that were holes before this begin (needs introspection)' },
  { id: 'R17', name: 'overwrite-only', status: 'checked', description: 'OVERWRITE_ONLY: one MAPPED (or aligned UNWRITTEN) mapping covering the whole request, no NEW/SHARED, no allocation — or -EAGAIN' },
  { id: 'R18', name: 'nowait', status: 'partial', description: 'NOWAIT: no allocation and, for direct I/O, one mapping covering the request — or -EAGAIN (sleeping itself is not observable)' },
  { id: 'R19', name: 'atomic', status: 'unchecked', description: 'IOMAP_ATOMIC / F_ATOMIC_BIO are not part of the 6.6-6.14 model' },
  { id: 'R20', name: 'anon-write', status: 'unchecked', description: 'IOMAP_F_ANON_WRITE is not part of the 6.6-6.14 model' },
  { id: 'R21', name: 'begin-end-pairing', status: 'checked', description: 'every successful begin gets exactly one end with the same flags and iomap; a failed begin undoes its own changes' },
  { id: 'R22', name: 'end-arguments', status: 'checked', description: '->iomap_end gets offset <= pos, pos+length <= end of iomap and srcmap, 0 <= written <= length' },
  { id: 'R23', name: 'end-error-after-progress', status: 'checked', description: '->iomap_end does not return an error after progress (the core drops it; fail on the next begin instead)' },
  { id: 'R24', name: 'short-delalloc-release', status: 'partial', description: 'after a short write into new delalloc, no reservation is left over clean blocks of [last written block, end) (needs introspection)' },
  { id: 'R25', name: 'punch-only-delalloc', status: 'partial', description: 'the delalloc release in ->iomap_end removes only delalloc: no other data-fork block of the mapping changes (needs introspection)' },
  { id: 'R26', name: 'stale-at-end', status: 'partial', description: 'after a STALE mapping, ->iomap_end released the unused reservation as for a short write (needs introspection)' },
  { id: 'R27', name: 'size-changed', status: 'unchecked', description: 'SIZE_CHANGED is informational; on-disk size timing is checked by the crash suite, not per call' },
  { id: 'R28', name: 'get-folio', status: 'checked', description: '->get_folio returns a locked folio of this mapping that contains pos, or an errno' },
  { id: 'R29', name: 'put-folio-balance', status: 'checked', description: 'every folio from get_folio is put exactly once and is unlocked after ->put_folio' },
  { id: 'R30', name: 'iomap-valid-honest', status: 'partial', description: '->iomap_valid is false if the mapping state changed since begin and true if it did not (needs introspection); a true answer is also judged on the blocks of the write\'s range themselves, not only on the filesystem\'s version counter' },
  { id: 'R31', name: 'iomap-roundtrip', status: 'checked', description: 'the core hands ->iomap_valid and ->iomap_end the fields ->iomap_begin set, unchanged' },
  { id: 'R32', name: 'map-blocks-shape', status: 'checked', description: '->map_blocks: mapping contains offset, is non-empty and block aligned, type MAPPED/UNWRITTEN/HOLE' },
  { id: 'R33', name: 'map-blocks-hole-drops-data', status: 'checked', description: '->map_blocks returns HOLE only where the dirty data below EOF is all zero (else it silently drops data)' },
  { id: 'R34', name: 'map-blocks-fresh', status: 'partial', description: 'a (possibly cached) writeback mapping agrees with the filesystem state now (needs introspection; COW staging excluded)' },
  { id: 'R35', name: 'discard-folio', status: 'checked', description: '->discard_folio leaves the folio clean and not redirtied' },
  { id: 'R36', name: 'ioend-finished-once', status: 'checked', description: 'every submitted ioend is finished exactly once, also through a completion handler installed by ->prepare_ioend' },
  { id: 'R37', name: 'dio-submit-io', status: 'unchecked', description: 'custom ->submit_io is not modelled: the model submits every direct I/O bio itself' },
  { id: 'R38', name: 'dio-end-io', status: 'partial', description: '->end_io runs once per dio and leaves no UNWRITTEN block under completed written data' },
  { id: 'R39', name: 'f-dirty-honest', status: 'partial', description: 'direct writes carry F_DIRTY when their ->iomap_begin allocated (needs introspection; metadata dirtied by earlier calls is not checked)' },
  { id: 'R40', name: 'swapfile', status: 'partial', description: 'REPORT mappings carry no F_DIRTY once the metadata is committed, as swapon needs after its fsync (type, SHARED and device are refused by the core)' },
  { id: 'R41', name: 'report-truthful', status: 'partial', description: 'REPORT and read mappings agree with the filesystem state: type, address, SHARED (needs introspection)' },
  { id: 'R42', name: 'bmap-no-delalloc-as-mapped', status: 'partial', description: 'DELALLOC is never reported as MAPPED (needs introspection)' },
  { id: 'R43', name: 'seek-no-written-as-unwritten', status: 'partial', description: 'written blocks are never reported as UNWRITTEN (needs introspection)' },
  { id: 'R44', name: 'mapping-lock-dropped', status: 'unchecked', description: 'locks are not modelled: the single-threaded model cannot deadlock' },
  { id: 'R45', name: 'delalloc-release-lock-order', status: 'unchecked', description: 'lock order is not modelled' },
  { id: 'R46', name: 'writeback-no-inode-locks', status: 'unchecked', description: 'writeback locking context is not modelled' },
  { id: 'R47', name: 'begin-no-per-block-iteration', status: 'checked', description: `->iomap_begin does not make the generic layer iterate block by block where one mapping would do: at most ${PER_BLOCK_LIMIT - 1} one-block answers in a row to a longer request, each continuing the last (same type and flags, contiguous offset and address)` },
  /* The current API generation (docs/model.md "API generations"): rules of the ops tables 6.15-6.19 introduced. R32-R34 apply to ->writeback_range's mapping as to ->map_blocks'. */
  { id: 'C01', name: 'writeback-range-answer', status: 'checked', description: '(current) ->writeback_range answers the bytes it handled, 1..len, or a negative errno (0 or more than asked is a WARN and -EIO in the core)' },
  { id: 'C02', name: 'writeback-range-queues', status: 'checked', description: '(current) every byte ->writeback_range reports handled in a non-HOLE mapping went into an ioend through iomap_add_to_ioend (else it is marked clean and never written)' },
  { id: 'C03', name: 'writeback-range-error-releases', status: 'partial', description: '(current) after ->writeback_range fails, no block from the failing pos to the folio end keeps a delalloc reservation (what ->discard_folio did; needs introspection)' },
  { id: 'C04', name: 'writeback-submit-sends', status: 'checked', description: '(current) ->writeback_submit sends or fails the ioend it is handed before returning (iomap_ioend_writeback_submit); its completion handler finishes it (R36)' },
  { id: 'C05', name: 'writeback-submit-error', status: 'checked', description: '(current) ->writeback_submit handed an error fails the ioend and returns a negative errno, never 0' },
  { id: 'C06', name: 'no-folio-ops-on-mapping', status: 'checked', description: '(current) ->iomap_begin leaves iomap.folio_ops unset: the hooks are iomap_write_ops passed by the caller, a mapping\'s are ignored' },
  { id: 'C07', name: 'read-folio-range', status: 'checked', description: '(current) ->read_folio_range (iomap_write_ops or iomap_read_ops) answers 0 or a negative errno and writes only the folio bytes of the range it was asked for' },
];

export function ruleById(id: string): Rule | undefined {
  return RULES.find((r) => r.id === id);
}
