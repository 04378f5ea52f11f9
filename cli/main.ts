/**
 * iomap-harness command line. bin/iomap-harness.js calls main(argv) and exits with its result.
 * The exit codes (docs/exit-codes.md is the one place they are written down):
 *   0 every check passed (or every replayed case ended as it expects), 1 a failure was found (and
 *   saved), 2 usage or input error (one line on stderr), 3 the target crashed or hung.
 * Each command is one declaration (cli/command-line.ts CommandSpec), listed in COMMAND_MODULES.
 */

import { AdapterSpecError } from '../adapters/registry';
import { defaultApi } from '../reference/iomap/types';
// (The contract monitor loads at the first monitored mount: properties/fsx/engine.ts.)
import { TargetError } from '../properties/fsx/engine';
import { CliIO, EXIT_CRASH, EXIT_PASS, EXIT_USAGE, processIO, UsageError } from './common';
import { CommandSpec, runProgram } from './command-line';

/**
 * Every command, in the order the top-level help lists them, each loaded when first asked for:
 * running one command does not load the others' modules (fast-check, the campaign, the suites),
 * which was a third of a short fsx run's CPU.
 */
const COMMAND_MODULES: ReadonlyArray<readonly [string, () => CommandSpec]> = [
  ['fsx', () => (require('./fsx-command') as typeof import('./fsx-command')).FSX_COMMAND],
  ['diff', () => (require('./diff-command') as typeof import('./diff-command')).DIFF_COMMAND],
  ['check', () => (require('./check-command') as typeof import('./check-command')).CHECK_COMMAND],
  ['replay', () => (require('./replay-command') as typeof import('./replay-command')).REPLAY_COMMAND],
  ['shrink', () => (require('./shrink-command') as typeof import('./shrink-command')).SHRINK_COMMAND],
  ['report', () => (require('./report-command') as typeof import('./report-command')).REPORT_COMMAND],
  ['explain', () => (require('./explain-command') as typeof import('./explain-command')).EXPLAIN_COMMAND],
  ['list', () => (require('./list-command') as typeof import('./list-command')).LIST_COMMAND],
  ['init-adapter', () => (require('./init-adapter') as typeof import('./init-adapter')).INIT_ADAPTER_COMMAND],
  ['scratch', () => (require('./scratch') as typeof import('./scratch')).SCRATCH_COMMAND],
  ['campaign', () => (require('./campaign-command') as typeof import('./campaign-command')).CAMPAIGN_COMMAND],
];

/** The declaration of command `name` (loading its module), or undefined for no such command. */
export function commandNamed(name: string): CommandSpec | undefined {
  const entry = COMMAND_MODULES.find(([n]) => n === name);
  if (entry === undefined) return undefined;
  const spec = entry[1]();
  if (spec.name !== name) throw new Error(`cli/main: the module of command ${name} declares ${spec.name}`);
  return spec;
}

/** Every command's declaration (loading every command module). */
export function allCommands(): CommandSpec[] {
  return COMMAND_MODULES.map(([name]) => commandNamed(name)!);
}

/** The top-level help: the commands with one line each, where to read more, the exit codes. */
export function usage(commands: readonly CommandSpec[] = allCommands()): string {
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
    if (command === 'help') return await runProgram(allCommands(), [rest[0], '--help'], io);
    checkApiEnv();
    // A command named exactly: only its module; anything else (a misspelling commander suggests
    // the closest name for): all of them.
    const one = commandNamed(command);
    return await runProgram(one !== undefined ? [one] : allCommands(), argv, io);
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
