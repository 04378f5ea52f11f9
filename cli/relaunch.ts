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
 * same signal (a shell sees 130 after Ctrl-C, as before). They also run V8 without its helper
 * threads (see relaunchFlags).
 *
 * Not relaunched: commands that do not run a target, a process whose Node flags already set the
 * young generation or attach a debugger, and IOMAP_HARNESS_RELAUNCH=0 (then the run simply uses
 * V8's default young generation).
 */
import type { ChildProcess } from 'child_process';

/** The young generation flag the child runs with. */
export const SEMI_SPACE_FLAG = '--max-semi-space-size=4';
/** The V8 threading flag the commands that run a target run with (relaunchFlags). */
export const SINGLE_THREADED = '--single-threaded';

/** Commands whose runs are long enough for the young generation to matter. */
const HEAVY = new Set(['fsx', 'diff', 'check', 'replay', 'shrink', 'campaign']);

/** Signals passed on to the child (the terminal sends SIGINT/SIGQUIT to both: twice is harmless). */
const FORWARDED: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR2'];

/**
 * The Node flags to relaunch `argv` (the command line after the script) with, or null for none.
 * Also `--single-threaded`, unless the user chose V8's threading (`--single-threaded-gc`,
 * `--no-single-threaded`, ...): V8's helper threads (parallel and concurrent collection,
 * background compilation) cost more CPU than the work they take off the main thread — 14–21 %
 * less CPU per fsx op without them on the reference (docs/benchmarks.md, session 7) — and busy
 * `fsx -j N` workers no longer compete with them for the cores (docs/benchmarks.md, "fsx -j").
 */
export function relaunchFlags(argv: readonly string[], execArgv: readonly string[], env: NodeJS.ProcessEnv): string[] | null {
  if (env.IOMAP_HARNESS_RELAUNCH === '0') return null;
  if (!HEAVY.has(argv[0] ?? '')) return null;
  if (argv.includes('--help') || argv.includes('-h')) return null;
  const flags = [...execArgv, ...(env.NODE_OPTIONS ?? '').split(/\s+/)];
  if (flags.some((f) => /^--(inspect|debug)/.test(f))) return null;
  // Started through the bin's sh line (or by a user who chose the young generation): only the
  // threading flag can still be missing.
  const young = flags.some((f) => /^--(max-semi-space-size|semi-space-growth-factor)/.test(f)) ? [] : [SEMI_SPACE_FLAG];
  const threads = flags.some((f) => /^--(no-)?single-threaded/.test(f)) ? [] : [SINGLE_THREADED];
  return young.length + threads.length === 0 ? null : [...young, ...threads];
}

/**
 * V8 settings for the commands that run a target, set at run time (v8.setFlagsFromString) by
 * bin/iomap-harness.js before it loads the CLI, so they hold on every way in (the sh line, the
 * relaunched child, `node bin/iomap-harness.js` with IOMAP_HARNESS_RELAUNCH=0, fsx's workers).
 *
 * Why: in a run of a few ten thousand ops TurboFan's compiles were about 30 % of all CPU, on the
 * naive target and on the reference alike (perf, Node 20 / V8 11.3): large functions (the
 * runner's op switch, the generic layer's write and commit paths) are optimized early, with part
 * of their feedback still missing, deoptimized and compiled again, each compile inlining up to
 * 920 bytes of bytecode. A later tier-up (an interrupt budget of 300,000 instead of V8's 66 KiB)
 * compiles fewer functions, each once with complete feedback, and a smaller inlining budget
 * makes each compile cheaper; the code of long runs is as fast (docs/benchmarks.md, session 9).
 * Both flags have existed in V8 for years; only V8 majors 10-13 get them (an unknown flag would
 * print a line on stderr), and a user who set either flag keeps theirs.
 */
export const COMPILER_FLAGS: readonly string[] = ['--interrupt-budget=300000', '--max-inlined-bytecode-size-cumulative=200'];

/** The compiler flags to set for `argv` (COMPILER_FLAGS less those the user set), or [] for none. */
export function compilerFlags(argv: readonly string[], execArgv: readonly string[], env: NodeJS.ProcessEnv, v8Version: string = process.versions.v8): string[] {
  if (!HEAVY.has(argv[0] ?? '')) return [];
  const major = Number(v8Version.split('.')[0]);
  if (!(major >= 10 && major <= 13)) return [];
  const given = [...execArgv, ...(env.NODE_OPTIONS ?? '').split(/\s+/)].map((f) => f.split('=')[0].replace(/_/g, '-'));
  return COMPILER_FLAGS.filter((f) => !given.includes(f.split('=')[0]));
}

/** Set compilerFlags() in this process (before the CLI's modules load). */
export function tuneCompiler(argv: readonly string[]): void {
  const flags = compilerFlags(argv, process.execArgv, process.env);
  if (flags.length > 0) (require('v8') as typeof import('v8')).setFlagsFromString(flags.join(' '));
}

/** Where util-linux's setpriv may be (it sets the child's parent-death signal: childCommand). */
const SETPRIV_PATHS = ['/usr/bin/setpriv', '/bin/setpriv'];

/**
 * The program and arguments that start the child `node args`. On Linux with setpriv, through
 * `setpriv --pdeathsig TERM`: the child gets SIGTERM when the launcher dies, so a launcher killed
 * with SIGKILL (the one signal it cannot pass on) does not leave its run going with nobody waiting
 * for it (and the scratch reaper, which waits for the child, cleans up after it). setpriv execs
 * node in place: the child's pid, signals and exit status are node's. Without setpriv: node
 * directly, and a SIGKILLed launcher orphans the run (the window between fork and prctl is the
 * same small race either way).
 */
export function childCommand(execPath: string, args: readonly string[], exists: (p: string) => boolean = (p) => (require('fs') as typeof import('fs')).existsSync(p), platform: string = process.platform): [string, string[]] {
  const setpriv = platform === 'linux' ? SETPRIV_PATHS.find((p) => exists(p)) : undefined;
  return setpriv === undefined ? [execPath, [...args]] : [setpriv, ['--pdeathsig', 'TERM', '--', execPath, ...args]];
}

/** Whether `argv` should run in a relaunched child. */
export function wantsRelaunch(argv: readonly string[], execArgv: readonly string[], env: NodeJS.ProcessEnv): boolean {
  return relaunchFlags(argv, execArgv, env) !== null;
}

/**
 * Run `script argv` in a child Node with SEMI_SPACE_FLAG and mirror its end; resolves never (the
 * process ends with the child). Returns false (nothing started) when the command does not want it.
 */
export function relaunch(script: string, argv: readonly string[]): boolean {
  const flags = relaunchFlags(argv, process.execArgv, process.env);
  if (flags === null) return false;
  // Loaded here: a command that is not relaunched (or the relaunched child) has no use for them.
  const { spawn } = require('child_process') as typeof import('child_process');
  const os = require('os') as typeof import('os');
  const [program, args] = childCommand(process.execPath, [...process.execArgv, ...flags, script, ...argv]);
  const child: ChildProcess = spawn(program, args, { stdio: 'inherit' });
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
    process.stderr.write(`iomap-harness: cannot start ${program}: ${e.message}\n`);
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
