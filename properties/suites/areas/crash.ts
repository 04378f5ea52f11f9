/**
 * Power cuts (file-ops §12, §14.25; the crash model of docs/crash.md). Workloads with crash steps
 * — fsx's `crash` op: the page cache and pending I/O are lost, the device keeps a chosen part of
 * its volatile cache, the filesystem mounts again and checks itself — judged by the durability
 * envelope: what fsync/fdatasync (and msync) acknowledged reads back exactly, every other byte as
 * in some version since (old or new, never garbage), the size consistent with the data that
 * survived. Counterexamples are ordinary op logs (version 3) with their crash ops: they replay and
 * shrink. The crash harness (properties/oracle/crash-harness.ts) enumerates every crash state of a
 * window instead, with several files; this suite puts power cuts among every file operation.
 */
import type { AdapterOptions } from '../../../adapters/registry';
import { GEO_DEFAULT, GEO_SUBFOLIO, workloadProperty } from '../common';
import type { SuiteDef } from '../types';

/**
 * On a poisoned device: never-written sectors read old data, as on a real disk, so a block a
 * crash exposes before its data was written reads as garbage instead of innocent zeroes.
 */
const POISON = 0x5eed0bad;
export const CRASH_GEOMETRIES: AdapterOptions[] = [{ ...GEO_DEFAULT, poison: POISON }, { ...GEO_SUBFOLIO, poison: POISON }];
const GEOS = CRASH_GEOMETRIES;

export const crash: SuiteDef = {
  name: 'crash',
  area: 'power cuts: fsynced data survives, the rest reads old or new, the filesystem recovers',
  sections: 'file-ops §12, §14.25; docs/crash.md',
  needs: ['crash'],
  properties: [
    workloadProperty({
      name: 'acknowledged-survives',
      section: 'file-ops §12, §14.25',
      describe: 'after fsync/fdatasync/msync or an O_DSYNC write returned, a power cut keeps those bytes and the size that holds them; unsynced bytes read old or new',
      weights: { write: 5, dsyncWrite: 1, dsyncDwrite: 1, truncate: 2, mapwrite: 1, mapwriteNoSync: 1, fsync: 2, fdatasync: 2, cycle: 1, crash: 3 },
      maxSteps: 24,
      geometries: GEOS,
    }),
    workloadProperty({
      name: 'space-ops-and-remaps',
      section: 'file-ops §3, §4, §6, §14.25',
      describe: 'power cuts among fallocate modes, collapse/insert, clone/copy and direct writes never expose stale or misplaced data',
      weights: {
        write: 3, dwrite: 2, dsyncDwrite: 2, falloc: 1, fallocKeep: 1, punch: 1, zero: 1, collapse: 1, insert: 1, clone: 2,
        copy: 1, unshare: 1, fsync: 2, fdatasync: 1, crash: 3,
      },
      maxSteps: 24,
      geometries: GEOS,
    }),
    workloadProperty({
      name: 'in-flight-io',
      section: 'iomap-contract §5.6, §5.7; file-ops §14.25',
      describe: 'power cuts with writeback and asynchronous direct writes in flight, completions in any order and racing writers',
      needs: ['interleave'],
      weights: { write: 4, writeback: 2, complete: 2, asyncDio: 2, raceWrite: 1, raceWriteback: 1, evict: 1, fsync: 2, fdatasync: 1, crash: 3 },
      maxSteps: 24,
      geometries: GEOS,
    }),
  ],
};
