/**
 * Which bug-zoo mutants (adapters/mutants/catalog.ts) each suite catches, and with which
 * property and failure: measured with `iomap-harness check --adapter mutant:NAME --runs 60
 * --seed 1` (test/suites-defects.test.ts re-checks the `primary` entries in CI and all of them
 * with SUITES_FULL=1). The bug-zoo report reads this table.
 *
 * `replays`: the saved op log alone reproduces the failure under `iomap-harness replay` (same kind
 * at the same op). When false, the failure needs steps op log version 1 cannot record (writeback
 * now, completions, evict, begin/get_folio races, short writes, async direct I/O, device faults)
 * or a check the fsx runner does not make (SHARED/LAST flags, errseq, reservations).
 */

export interface Catch {
  suite: string;
  property: string;
  mutant: string;
  kind: string;
  rule?: string;
  replays: boolean;
  /** Re-checked in every CI run. */
  primary?: boolean;
}

export const CATCHES: readonly Catch[] = [
  { suite: 'buffered-io', property: 'read-after-write', mutant: 'stale-iomap-valid', kind: 'contract', rule: 'R30', replays: false, primary: true },
  { suite: 'buffered-io', property: 'read-after-write', mutant: 'ioend-merge-ignores-type', kind: 'bad-data', rule: 'fileops-14.3', replays: false },
  { suite: 'buffered-io', property: 'read-after-write', mutant: 'map-blocks-hole', kind: 'contract', rule: 'R33', replays: true },
  { suite: 'buffered-io', property: 'read-after-write', mutant: 'new-flag-merged-delalloc', kind: 'contract', rule: 'R16', replays: true },
  { suite: 'short-writes', property: 'no-leaked-delalloc', mutant: 'no-per-block-punch', kind: 'contract', rule: 'R24', replays: false, primary: true },
  { suite: 'short-writes', property: 'short-write-keeps-others', mutant: 'delalloc-scan-past-eof', kind: 'contract', rule: 'R24', replays: false, primary: true },
  { suite: 'short-writes', property: 'short-write-keeps-others', mutant: 'short-write-truncates-pagecache', kind: 'bad-data', rule: 'fileops-14.3', replays: false, primary: true },
  { suite: 'short-writes', property: 'no-leaked-delalloc', mutant: 'new-flag-merged-delalloc', kind: 'contract', rule: 'R16', replays: false },
  { suite: 'mmap', property: 'stores-and-loads', mutant: 'mkwrite-eof-off-by-one', kind: 'op-error', rule: 'fileops-14.23', replays: true, primary: true },
  { suite: 'mmap', property: 'mkwrite-enospc', mutant: 'mkwrite-dirty-late', kind: 'contract', rule: 'iomap-contract-§8b', replays: false, primary: true },
  { suite: 'mmap', property: 'stores-and-loads', mutant: 'truncate-no-tail-zero', kind: 'eof-page', rule: 'fileops-14.22', replays: true },
  { suite: 'zero-range', property: 'zero-over-dirty-unwritten', mutant: 'zero-range-no-flush', kind: 'bad-data', rule: 'fileops-14.3', replays: false, primary: true },
  { suite: 'zero-range', property: 'truncate-zeroes-eof-block', mutant: 'writeback-no-eof-zero', kind: 'bad-data', rule: 'fileops-14.3', replays: true },
  { suite: 'unshare', property: 'unshare-content-neutral', mutant: 'ioend-merge-ignores-type', kind: 'bad-data', rule: 'fileops-14.3', replays: true },
  { suite: 'writeback', property: 'ioend-merge-rule', mutant: 'ioend-merge-ignores-type', kind: 'contract', rule: 'iomap-contract-§5.6', replays: false, primary: true },
  { suite: 'writeback', property: 'unwritten-conversion', mutant: 'ioend-merge-ignores-type', kind: 'bad-data', rule: 'fileops-14.3', replays: true, primary: true },
  { suite: 'writeback', property: 'eof-folio-zeroing', mutant: 'writeback-no-eof-zero', kind: 'bad-data', rule: 'fileops-14.3', replays: true, primary: true },
  { suite: 'writeback-errors', property: 'error-reported-once', mutant: 'writeback-error-lost', kind: 'op-error', rule: 'fileops-14.26', replays: false, primary: true },
  { suite: 'direct-io', property: 'cache-coherence', mutant: 'dio-no-post-invalidate', kind: 'bad-data', rule: 'fileops-14.3', replays: false, primary: true },
  { suite: 'seek', property: 'walk-sound', mutant: 'seek-ignores-pagecache', kind: 'seek', rule: 'fileops-14.17', replays: true, primary: true },
  { suite: 'seek', property: 'page-cache-over-unwritten', mutant: 'seek-ignores-pagecache', kind: 'seek', rule: 'iomap-contract-§5.9', replays: false },
  { suite: 'fiemap', property: 'shape-and-coverage', mutant: 'fiemap-no-last', kind: 'fiemap', rule: 'iomap-contract-§5.10', replays: false, primary: true },
  { suite: 'fiemap', property: 'shape-and-coverage', mutant: 'insert-short-by-one', kind: 'bad-data', rule: 'fileops-14.3', replays: true },
  { suite: 'fiemap', property: 'shape-and-coverage', mutant: 'collapse-short-by-one', kind: 'bad-data', rule: 'fileops-14.3', replays: true },
  { suite: 'swapfile', property: 'activation', mutant: 'fiemap-no-shared', kind: 'op-error', rule: 'fileops-14.27', replays: false },
  { suite: 'fallocate', property: 'modes', mutant: 'collapse-short-by-one', kind: 'bad-data', rule: 'fileops-14.3', replays: true, primary: true },
  { suite: 'fallocate', property: 'modes', mutant: 'insert-short-by-one', kind: 'bad-data', rule: 'fileops-14.3', replays: true, primary: true },
  { suite: 'reflink', property: 'clone-shares', mutant: 'fiemap-no-shared', kind: 'fiemap', rule: 'fileops-14.11', replays: false, primary: true },
  { suite: 'reflink', property: 'dedupe-and-copy', mutant: 'fiemap-no-shared', kind: 'fiemap', rule: 'fileops-14.14', replays: false },
  { suite: 'contract', property: 'monitored-workload', mutant: 'map-blocks-hole', kind: 'contract', rule: 'R33', replays: true, primary: true },
  { suite: 'contract', property: 'monitored-workload', mutant: 'new-flag-merged-delalloc', kind: 'contract', rule: 'R16', replays: false, primary: true },
  { suite: 'contract', property: 'write-window-races', mutant: 'stale-iomap-valid', kind: 'contract', rule: 'R30', replays: false, primary: true },
  { suite: 'contract', property: 'write-window-races', mutant: 'short-write-truncates-pagecache', kind: 'bad-data', rule: 'fileops-14.3', replays: false },
  { suite: 'contract', property: 'monitored-workload', mutant: 'no-per-block-punch', kind: 'contract', rule: 'R26', replays: false },
  { suite: 'geometry', property: 'sweep', mutant: 'collapse-short-by-one', kind: 'seek', rule: 'fileops-14.17', replays: true, primary: true },
  { suite: 'geometry', property: 'sweep', mutant: 'seek-ignores-pagecache', kind: 'seek', rule: 'fileops-14.17', replays: true },
  { suite: 'stateful', property: 'commands', mutant: 'collapse-short-by-one', kind: 'bad-data', rule: 'fileops-14.3', replays: true },
  { suite: 'stateful', property: 'commands', mutant: 'dio-no-post-invalidate', kind: 'bad-data', rule: 'fileops-14.3', replays: false, primary: true },
  { suite: 'stateful', property: 'commands', mutant: 'stale-iomap-valid', kind: 'contract', rule: 'R30', replays: false },
];

/** Bug-zoo mutants no suite catches, and why. */
export const NOT_CAUGHT: Readonly<Record<string, string>> = {
  'fsync-no-flush': 'durability only: needs a crash after fsync (the crash harness, properties/oracle/crash-harness.ts)',
  'metadata-before-data': 'durability only: needs a crash between metadata commit and data writeback (crash harness)',
  'fua-into-unwritten': 'durability only: needs a crash after an O_DSYNC write into unwritten extents (crash harness)',
  'read-eof-off-by-one': 'needs a MAPPED block past EOF inside the EOF folio with stale bytes on disk; refs frees every block past EOF on truncate and never allocates written blocks there',
};
