/**
 * iomap-harness command line. bin/iomap-harness.js calls main(argv) and exits with its result.
 * The exit codes (docs/exit-codes.md is the one place they are written down):
 *   0 every check passed (or every replayed case ended as it expects), 1 a failure was found (and
 *   saved), 2 usage or input error (one line on stderr), 3 the target crashed or hung.
 * Each command is one declaration (cli/command-line.ts CommandSpec) in COMMANDS.
 */

import { AdapterSpecError } from '../adapters/registry';
import { defaultApi } from '../reference/iomap/types';
// The contract monitor installs itself as the checker of every monitored mount.
import '../properties/contract/monitor';
import { TargetError } from '../properties/fsx/engine';
import { CliIO, EXIT_CRASH, EXIT_PASS, EXIT_USAGE, processIO, UsageError } from './common';
import { CommandSpec, runProgram } from './command-line';
import { CAMPAIGN_COMMAND } from './campaign-command';
import { CHECK_COMMAND } from './check-command';
import { DIFF_COMMAND } from './diff-command';
import { EXPLAIN_COMMAND } from './explain-command';
import { FSX_COMMAND } from './fsx-command';
import { INIT_ADAPTER_COMMAND } from './init-adapter';
import { LIST_COMMAND } from './list-command';
import { REPLAY_COMMAND } from './replay-command';
import { REPORT_COMMAND } from './report-command';
import { SCRATCH_COMMAND } from './scratch';
import { SHRINK_COMMAND } from './shrink-command';

/** Every command, in the order the top-level help lists them. */
export const COMMANDS: readonly CommandSpec[] = [
  FSX_COMMAND, DIFF_COMMAND, CHECK_COMMAND, REPLAY_COMMAND, SHRINK_COMMAND, REPORT_COMMAND, EXPLAIN_COMMAND, LIST_COMMAND, INIT_ADAPTER_COMMAND, SCRATCH_COMMAND, CAMPAIGN_COMMAND,
];

/** The top-level help: the commands with one line each, where to read more, the exit codes. */
export function usage(commands: readonly CommandSpec[] = COMMANDS): string {
  const width = Math.max(...commands.map((c) => c.name.length));
  return `usage: iomap-harness COMMAND [options]

commands:
${commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`).join('\n')}

Every command has its own help with each flag, its default and examples:
  iomap-harness fsx --help        (or -h; also: iomap-harness help fsx)

First steps (README.md "The first hour"):
  iomap-harness fsx -N 10000                       fuzz the reference filesystem
  iomap-harness init-adapter file my-adapter        write an adapter skeleton to fill in
  iomap-harness fsx --adapter ./my-adapter/adapter.js

exit codes: 0 pass, 1 failure found (op log saved), 2 usage or input error, 3 target crashed or hung
(docs/exit-codes.md)
`;
}

/** $IOMAP_HARNESS_API is checked before anything runs: a bad value is a usage error, one line. */
function checkApiEnv(): void {
  try {
    defaultApi();
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}

export async function main(argv: string[], io: CliIO = processIO()): Promise<number> {
  const [command, ...rest] = argv;
  try {
    if (command === undefined) {
      io.stderr(usage());
      return EXIT_USAGE;
    }
    if (command === '--help' || command === '-h' || (command === 'help' && rest.length === 0)) {
      io.stdout(usage());
      return EXIT_PASS;
    }
    if (command === 'help') return await runProgram(COMMANDS, [rest[0], '--help'], io);
    checkApiEnv();
    return await runProgram(COMMANDS, argv, io);
  } catch (e) {
    if (e instanceof UsageError || e instanceof AdapterSpecError) {
      io.stderr(`iomap-harness: ${e.message}\n`);
      return EXIT_USAGE;
    }
    if (e instanceof TargetError) {
      io.stderr(`iomap-harness: ${e.message}\n`);
      return EXIT_CRASH;
    }
    throw e;
  }
}
