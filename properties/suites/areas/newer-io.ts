/**
 * The newer I/O of xfstests' fsx (file-ops §14.29–14.31; docs/fsx.md "Newer I/O"): RWF_ATOMIC
 * writes, RWF_DONTCACHE reads and writes, XFS_IOC_EXCHANGE_RANGE. Each step is the fsx op of the
 * same name, judged by the fsx runner as in a replay: an atomic write is whole or refused and,
 * after a power cut, wholly old or wholly new; an uncached op moves the right bytes and leaves no
 * page it brought in cached once its I/O completed; an exchange swaps the two ranges for every
 * read path at once; calls with bad arguments fail with EINVAL and change nothing. A target
 * without the op skips the suite with the reason (the host where the kernel lacks it).
 */
import { GEO_DEFAULT, GEO_SUBFOLIO, workloadProperty } from '../common';
import type { SuiteDef } from '../types';
// Power cuts over a poisoned device, as the crash suite's (a block exposed unwritten reads as junk).
import { CRASH_GEOMETRIES as CRASH_GEOS } from './crash';

export const atomicWrites: SuiteDef = {
  name: 'atomic-writes',
  area: 'RWF_ATOMIC writes: whole or refused, untorn by a power cut, unit and alignment rules',
  sections: 'file-ops §11, §14.25, §14.29',
  needs: ['atomic'],
  properties: [
    workloadProperty({
      name: 'untorn-over-crash',
      section: 'file-ops §14.25, §14.29',
      describe: 'after a power cut an atomic write over synced data reads wholly old or wholly new, whether it went out as one hardware bio or through the copy-on-write fallback (mixed, shared or unallocated blocks)',
      needs: ['crash'],
      weights: { write: 3, dwrite: 1, atomicWrite: 6, punch: 1, clone: 1, fsync: 3, crash: 4 },
      maxSteps: 24,
      geometries: CRASH_GEOS,
    }),
    workloadProperty({
      name: 'whole-or-refused',
      section: 'file-ops §11, §14.29',
      describe: 'an atomic write of a valid length at a multiple of it returns its whole length and reads back over holes, written, unwritten and shared blocks alike; one of a length outside the statx unit range or not a power of two, or at an offset not a multiple of it, fails with EINVAL and changes nothing',
      weights: { write: 3, atomicWrite: 5, invalidAtomic: 3, fallocKeep: 1, punch: 1, clone: 1, read: 2, dread: 1, cycle: 1 },
      maxSteps: 24,
      geometries: [GEO_DEFAULT, GEO_SUBFOLIO],
    }),
  ],
};

export const uncachedIo: SuiteDef = {
  name: 'uncached-io',
  area: 'RWF_DONTCACHE reads and writes: the same bytes, no folio left cached, dirty data never dropped',
  sections: 'file-ops §14.1, §14.3, §14.30',
  needs: ['dontcache'],
  properties: [
    workloadProperty({
      name: 'no-folios-left',
      section: 'file-ops §14.30',
      describe: 'once its I/O completed, an uncached read or write leaves none of the pages it brought in cached (pages cached before it stay); checked where the target can say what is cached',
      weights: { readDontcache: 4, writeDontcache: 4, write: 2, read: 2, truncate: 1, fsync: 1, cycle: 1 },
      maxSteps: 24,
      geometries: [GEO_DEFAULT, GEO_SUBFOLIO],
    }),
    workloadProperty({
      name: 'dirty-data-kept',
      section: 'file-ops §14.1, §14.3, §14.30',
      describe: 'uncached reads and writes over dirty page cache (buffered writes, unsynced mmap stores, writeback in flight) drop no data that was never written back: every byte reads back, also after the cache is dropped',
      weights: { write: 4, mapwriteNoSync: 1, readDontcache: 4, writeDontcache: 2, writeback: 1, complete: 1, evict: 1, read: 1, cycle: 2 },
      maxSteps: 24,
      geometries: [GEO_DEFAULT, GEO_SUBFOLIO],
    }),
  ],
};

export const exchangeRange: SuiteDef = {
  name: 'exchange-range',
  area: 'XFS_IOC_EXCHANGE_RANGE within the file: contents swapped for every read path, cache dropped, all or nothing, refusals',
  sections: 'file-ops §14.4, §14.25, §14.29, §14.31',
  needs: ['exchange'],
  properties: [
    workloadProperty({
      name: 'contents-swapped',
      section: 'file-ops §14.31',
      describe: 'after an exchange over cached, dirty, mapped, unwritten and shared blocks, buffered, mmap and O_DIRECT reads all see the two ranges swapped (the page cache over both was written back and dropped); bad arguments fail with EINVAL and change nothing',
      weights: { write: 4, exchange: 5, invalidExchange: 2, read: 3, mapread: 1, dread: 1, mapwriteNoSync: 1, fallocKeep: 1, clone: 1, fsync: 1 },
      maxSteps: 24,
      geometries: [GEO_DEFAULT, GEO_SUBFOLIO],
    }),
    workloadProperty({
      name: 'all-or-nothing-over-crash',
      section: 'file-ops §14.25, §14.29, §14.31',
      describe: 'after a power cut an exchange of synced ranges shows both ranges old or both new, never one of each',
      needs: ['crash'],
      weights: { write: 3, exchange: 5, fsync: 3, dwrite: 1, crash: 4 },
      maxSteps: 24,
      geometries: CRASH_GEOS,
    }),
  ],
};
