/**
 * DAX (iomap-contract §5.8). Model-level: the reference DAX paths over a small block-mapped
 * filesystem on a DAX MemoryDevice (properties/suites/dax-target.ts), driven by the fsx runner.
 */
import type { AdapterOptions } from '../../../adapters/registry';
import { SuiteDef, SuiteEnv } from '../types';
import { workloadProperty, WorkloadPropertyOptions } from '../common';
import { createAdapter, daxAdapterSpec } from '../dax-target';

/** The DAX target for a suite environment (env.opts.daxDefect switches a test defect on). */
export function daxEnv(env: SuiteEnv): SuiteEnv {
  const defect = env.opts.daxDefect;
  return {
    spec: daxAdapterSpec(),
    opts: {},
    create: (_o: AdapterOptions) => createAdapter(defect === undefined ? {} : { daxDefect: defect }),
  };
}

function daxProperty(o: WorkloadPropertyOptions): ReturnType<typeof workloadProperty> {
  const p = workloadProperty(o);
  return {
    ...p,
    run: (ctx, input) => p.run({ env: ctx.env, open: (opts, wo) => ctx.open(opts, wo, daxEnv(ctx.env)) }, input),
  };
}

export const dax: SuiteDef = {
  name: 'dax',
  area: 'DAX: direct access reads, writes and faults (model-level)',
  sections: 'iomap-contract §5.8',
  needs: ['model'],
  properties: [
    daxProperty({
      name: 'rw-and-faults',
      section: 'iomap-contract §5.8 (dax_iomap_rw, PTE faults, truncate zeroing)',
      describe: 'DAX reads, writes, mmap loads and stores, truncates and syncs agree with the byte oracle; the EOF page tail reads zero',
      weights: { write: 4, read: 3, mapwrite: 3, mapread: 3, truncate: 2, fsync: 1, cycle: 1 },
      maxSteps: 30,
    }),
    daxProperty({
      name: 'hole-pages',
      section: 'iomap-contract §5.8 (read faults on holes map the zero page; F_NEW invalidates it)',
      describe: 'a hole read through the mapping shows zeroes, and after write(2) allocates the block the mapping shows the new data',
      weights: { mapread: 4, write: 4, read: 2, truncate: 2, mapwrite: 1 },
      maxSteps: 25,
      wo: { polluteEof: true },
    }),
  ],
};
