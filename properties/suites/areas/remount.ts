/**
 * Clean remounts (file-ops §14.25): a clean unmount writes everything back and commits, so after
 * a remount the size and every byte written are there — synced or not.
 */
import type { SuiteDef } from '../types';
import { GEO_DEFAULT, GEO_SUBFOLIO, workloadProperty } from '../common';

export const remount: SuiteDef = {
  name: 'remount',
  area: 'clean unmount and mount keep every byte written and the size',
  sections: 'file-ops §14.1, §14.3, §14.25',
  needs: ['remount'],
  properties: [
    workloadProperty({
      name: 'keeps-everything',
      section: 'file-ops §14.25',
      describe: 'after writes, size changes, space operations and mmap stores, synced or not, a clean remount finds the size and every byte (the runner reads the whole file back at once)',
      weights: { write: 5, remount: 3, truncate: 2, punch: 1, falloc: 1, fallocKeep: 1, zero: 1, collapse: 1, insert: 1, mapwrite: 1, dwrite: 1, fsync: 1, read: 1 },
      maxSteps: 24,
      geometries: [GEO_DEFAULT, GEO_SUBFOLIO],
    }),
  ],
};
