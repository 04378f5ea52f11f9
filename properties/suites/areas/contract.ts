/**
 * The per-call contract rules (iomap-contract §4, rules R1–R47; docs/contract.md): a random
 * workload of every operation and interleaving step on a reference target, with the contract
 * monitor between the generic layer and the filesystem. Any ContractViolation fails, as does a
 * broken model invariant (§6 folio state, §8b reservations, WARNs) or a quiescent-point check.
 */
import type { SuiteDef } from '../types';
import { GEO_DEFAULT, GEO_SMALLFOLIO, GEO_SUBFOLIO, workloadProperty } from '../common';

export const contract: SuiteDef = {
  name: 'contract',
  area: 'per-call contract rules under a random workload (contract monitor)',
  sections: 'iomap-contract §4 (rules R1–R47), §6, §8b',
  needs: ['model'],
  properties: [
    workloadProperty({
      name: 'monitored-workload',
      section: 'iomap-contract §4 (every checked rule), §6, §8b',
      describe: 'a random workload of every operation, interleaving step and short write runs without a contract violation, broken invariant or WARN',
      weights: {
        write: 5, read: 3, mapwrite: 2, mapread: 2, truncate: 2, falloc: 1, fallocKeep: 1, unshare: 1, punch: 1, zero: 1, zeroKeep: 1,
        collapse: 1, insert: 1, clone: 2, dedupeSame: 1, copy: 1, fsync: 1, dread: 1, dwrite: 2, fiemap: 1,
        cycle: 1, writeback: 2, complete: 2, evict: 2, raceWrite: 1, raceWriteback: 2, racePunch: 1, asyncDio: 1, shortWrite: 2,
        mapwriteNoSync: 1,
      },
      maxSteps: 40,
      geometries: [GEO_DEFAULT, GEO_SUBFOLIO, GEO_SMALLFOLIO],
    }),
    workloadProperty({
      name: 'write-window-races',
      section: 'iomap-contract rule 30 (->iomap_valid), §7.1, §5.2 step 3',
      describe: 'writeback, reclaim, a punch or a second writer between ->iomap_begin and get_folio: the writer revalidates and nothing is lost',
      needs: ['interleave'],
      weights: { write: 3, falloc: 2, raceWrite: 3, raceWriteback: 4, racePunch: 2, writeback: 1, complete: 1, evict: 1, read: 2, cycle: 1 },
      maxSteps: 25,
      geometries: [GEO_SUBFOLIO, GEO_DEFAULT],
    }),
  ],
};
