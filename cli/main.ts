/**
 * iomap-harness command line. bin/iomap-harness.js calls main(argv) and exits with its result:
 * 0 all checks passed, 1 a failure was found (and saved), 2 usage or input error (one line on
 * stderr), 3 the target crashed or hung. See ARCHITECTURE.md "Command line" and docs/fsx.md.
 */

import { AdapterSpecError } from '../adapters/registry';
// The contract monitor installs itself as the checker of every monitored mount.
import '../properties/contract/monitor';
import { TargetError } from '../properties/fsx/engine';
import { CliIO, EXIT_CRASH, EXIT_PASS, EXIT_USAGE, processIO, UsageError } from './common';
import { checkCommand } from './check-command';
import { fsxCommand } from './fsx-command';
import { listCommand } from './list-command';
import { replayCommand } from './replay-command';
import { reportCommand } from './report-command';
import { SCRATCH_USAGE, scratchCommand } from './scratch';
import { shrinkCommand } from './shrink-command';

const USAGE = `usage: iomap-harness COMMAND [options]

commands:
  fsx    [--adapter A] [-N ops] [-S seed] [-l maxlen] [-o maxoplen] [--bs B] [--folio F]
         [--poison SEED] [--eof-prealloc BYTES]
         [-r readbdy] [-w writebdy] [-t truncbdy] [-c P] [-p N] [-b opnum]
         [-R -W -F -H -z -C -I -J -B -E -K -u -O -n -Z -X -q -d] [--weight OP=N]...
         [--no-interleave] [--shrink] [-j N] [--seeds M] [--shard K/N] [--save DIR] [--json]
         fuzz an adapter the way xfstests' fsx does (see docs/fsx.md)
  replay PATH... [--adapter A] [--bs B] [--folio F] [--poison SEED] [--eof-prealloc BYTES] [-S seed] [-l maxlen] [-q] [--json]
         apply saved op logs (JSON or .fsxops)
  report LOG [--adapter A] [--out FILE.html] [--json]
         write the failure explorer: one self-contained HTML page stepping through the log
  shrink LOG [--adapter A] [--out FILE] [--bs B] [--folio F] [--poison SEED] [--eof-prealloc BYTES] [--max-replays N] [-q] [--json]
         shrink a failing op log to a minimal one with the same failure (docs/corpus.md)
  check  [--adapter A] [--suite S]... [--property P]... [--runs N] [--seed S] [--save DIR]
         [--junit FILE] [--bs B] [--folio F] [--poison SEED] [--eof-prealloc BYTES] [-q] [--json]
         run the property suites (docs/suites.md; iomap-harness list suites)
  list   [adapters|mutants|suites|corpus] [--json]
  scratch create|destroy ...   throw-away kernel filesystems for host: adapters (root; see below)

--poison SEED: never-written sectors of reference's memory device read a seeded non-zero pattern
  (old disk contents); --eof-prealloc BYTES: refs preallocates past EOF up to a multiple of
  BYTES, as WRITTEN blocks holding that old data (XFS allocsize=). Both: reference and mutants
  only; op logs record them ("setup") and replay applies them.

exit codes: 0 pass, 1 failure found (op log saved), 2 usage or input error, 3 target crashed or hung

${SCRATCH_USAGE}`;

const NOT_YET = new Set<string>();

export async function main(argv: string[], io: CliIO = processIO()): Promise<number> {
  const [command, ...args] = argv;
  try {
    switch (command) {
      case 'fsx':
        return await fsxCommand(args, io);
      case 'shrink':
        return shrinkCommand(args, io);
      case 'replay':
        return replayCommand(args, io);
      case 'check':
        return checkCommand(args, io);
      case 'report':
        return reportCommand(args, io);
      case 'list':
        return listCommand(args, io);
      case 'scratch':
        return await scratchCommand(args, io);
      case 'help':
      case '--help':
      case '-h':
        io.stdout(USAGE + '\n');
        return EXIT_PASS;
      case undefined:
        io.stderr(USAGE + '\n');
        return EXIT_USAGE;
      default:
        if (NOT_YET.has(command)) throw new UsageError(`command ${command} is not available in this build yet`);
        throw new UsageError(`unknown command ${JSON.stringify(command)} (fsx, replay, shrink, check, list; --help for usage)`);
    }
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
