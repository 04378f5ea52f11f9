/**
 * The commands that run a target run in a child Node process with a small young generation.
 *
 * V8 sizes its young generation (two semi-spaces the scavenger copies between) at start-up and grows
 * it to 2 × 16 MiB under the harness's allocation rate; that is 32 MiB of every run's peak RSS
 * that holds nothing the run needs, and no V8 flag changes it once the process runs. With
 * `--max-semi-space-size=4` the peak of a long fsx run drops by 40–60 MiB for a few percent of CPU
 * (docs/benchmarks.md, "Memory"). bin/iomap-harness.js calls relaunch() before it loads the CLI:
 * for such a command it starts the same script again with the flag, with the same stdin, stdout
 * and stderr (inherited descriptors, so output, terminals and pipes are exactly as before), passes
 * on the signals it gets, and ends the way the child ended: the same exit code, or killed by the
 * same signal (a shell sees 130 after Ctrl-C, as before).
 *
 * Not relaunched: commands that do not run a target, a process whose Node flags already set the
 * young generation or attach a debugger, and IOMAP_HARNESS_RELAUNCH=0 (then the run simply uses
 * V8's default young generation).
 */
import { spawn } from 'child_process';
import * as os from 'os';

/** The young generation flag the child runs with. */
export const SEMI_SPACE_FLAG = '--max-semi-space-size=4';

/** Commands whose runs are long enough for the young generation to matter. */
const HEAVY = new Set(['fsx', 'diff', 'check', 'replay', 'shrink', 'campaign']);

/** Signals passed on to the child (the terminal sends SIGINT/SIGQUIT to both: twice is harmless). */
const FORWARDED: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR2'];

/** Whether `argv` (the command line after the script) should run in a relaunched child. */
export function wantsRelaunch(argv: readonly string[], execArgv: readonly string[], env: NodeJS.ProcessEnv): boolean {
  if (env.IOMAP_HARNESS_RELAUNCH === '0') return false;
  if (!HEAVY.has(argv[0] ?? '')) return false;
  if (argv.includes('--help') || argv.includes('-h')) return false;
  const flags = [...execArgv, ...(env.NODE_OPTIONS ?? '').split(/\s+/)];
  return !flags.some((f) => /^--(max-semi-space-size|semi-space-growth-factor|inspect|debug)/.test(f));
}

/**
 * Run `script argv` in a child Node with SEMI_SPACE_FLAG and mirror its end; resolves never (the
 * process ends with the child). Returns false (nothing started) when the command does not want it.
 */
export function relaunch(script: string, argv: readonly string[]): boolean {
  if (!wantsRelaunch(argv, process.execArgv, process.env)) return false;
  const child = spawn(process.execPath, [...process.execArgv, SEMI_SPACE_FLAG, script, ...argv], { stdio: 'inherit' });
  const forward = new Map<NodeJS.Signals, () => void>();
  for (const sig of FORWARDED) {
    const f = (): void => {
      child.kill(sig);
    };
    forward.set(sig, f);
    process.on(sig, f);
  }
  child.on('error', (e) => {
    // The Node binary that runs us could not be started again: one line, exit 3 like a crash.
    process.stderr.write(`iomap-harness: cannot start ${process.execPath}: ${e.message}\n`);
    process.exit(3);
  });
  child.on('exit', (code, signal) => {
    if (signal !== null) {
      // End the way the child ended: the same signal, with its default action.
      for (const [sig, f] of forward) process.removeListener(sig, f);
      // If that signal does not end us (one Node ignores), exit as a shell reports it: 128 + number.
      process.exitCode = 128 + (os.constants.signals[signal] ?? 0);
      process.kill(process.pid, signal);
      return;
    }
    process.exitCode = code ?? 3;
  });
  return true;
}
