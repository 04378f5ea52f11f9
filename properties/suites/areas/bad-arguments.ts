/**
 * Calls a correct target must refuse (file-ops §3.1–§5, §11, §14.4): each bad-argument op is
 * judged by the fsx runner — exactly the errno of docs/fsx.md "Bad arguments", then the size and
 * every byte unchanged — between ordinary writes and space operations.
 */
import type { SuiteDef } from '../types';
import { GEO_DEFAULT, GEO_SUBFOLIO, workloadProperty } from '../common';

export const badArguments: SuiteDef = {
  name: 'bad-arguments',
  area: 'refused calls: unaligned or EOF-reaching collapse/insert, unaligned clone/dedupe, misaligned O_DIRECT, past s_maxbytes',
  sections: 'file-ops §1, §3.1–3.2, §4, §5, §11, §14.4, §14.7, §14.8, §14.12, §14.14, §14.24, §14.28',
  properties: [
    workloadProperty({
      name: 'refused-and-unchanged',
      section: 'file-ops §14.4, §14.7, §14.8, §14.12, §14.14, §14.24, §14.28',
      describe: 'every call with arguments a correct target must refuse fails with the rule\'s errno and leaves the size and every byte as they were',
      weights: { write: 4, invalid: 4, truncate: 1, clone: 1, punch: 1, read: 1, cycle: 1 },
      maxSteps: 20,
      geometries: [GEO_DEFAULT, GEO_SUBFOLIO],
    }),
  ],
};
