/**
 * `iomap-harness diff --adapter host:DIR [--personality xfs|ext4] [fsx flags]`: one fsx op stream
 * on a host filesystem and on the reference with the matching personality and geometry, compared
 * after every op (adapters/diff.ts). It is fsx over the `diff:` target, so a divergence is saved,
 * shrunk (--shrink) and replayed like any fsx failure: `replay --adapter diff:host:DIR LOG` runs
 * both sides again, `--adapter host:DIR` or `--adapter reference` one side alone (docs/host.md).
 */
import { CliIO, UsageError } from './common';
import { CommandSpec, Parsed, str } from './command-line';
import { FSX_FLAGS, fsxCommand } from './fsx-command';

export async function diffCommand(p: Parsed, io: CliIO): Promise<number> {
  const spec = str(p.values, 'adapter');
  if (spec === undefined) throw new UsageError('diff needs --adapter host:DIR (the kernel filesystem to compare the reference with)');
  if (spec.startsWith('diff:') || spec === 'reference' || spec.startsWith('mutant:')) {
    throw new UsageError(`diff --adapter ${spec}: name the target to compare with the reference, e.g. host:/mnt/scratch`);
  }
  return fsxCommand({ ...p, values: { ...p.values, adapter: `diff:${spec}` } }, io);
}

export const DIFF_COMMAND: CommandSpec = {
  name: 'diff',
  summary: 'differential fuzzing: one fsx op stream on a host filesystem and on the reference, compared op by op (bytes, size, mapping)',
  details: 'The reference runs with --personality (default: the host filesystem\'s, xfs or ext4, else generic) and the host\'s block size. '
    + 'After every op the results, the size, the per-block FIEMAP class and SEEK answers are compared within the envelope of docs/host.md; '
    + 'a divergence is a failure of kind divergence, saved as an op log (replay it with --adapter diff:host:DIR, host:DIR or reference).',
  flags: FSX_FLAGS,
  examples: [
    'scratch create xfs --json                 # a throw-away xfs; then:',
    'diff --adapter host:/tmp/iomap-harness-scratch-xfs-XXXX -N 100000 --personality xfs --shrink',
    'replay --adapter diff:host:/mnt/scratch /tmp/iomap-harness-XXXX/fsx-diff_host_...-s1-op77.json',
  ],
  run: diffCommand,
};
