/**
 * Running the system tools scratch filesystems need (losetup, mkfs.*, mount, umount): shared by
 * `iomap-harness scratch` (adapters/host/scratch.ts) and the tests' loop-device helpers.
 * Synchronous, with a timeout; failures come back as one line.
 */
import { spawnSync } from 'child_process';

export const CMD_TIMEOUT_MS = 120_000;

export interface CommandResult {
  ok: boolean;
  out: string;
  /** The first line of stderr, or how the command ended. */
  err: string;
}

export function runCommand(cmd: string, args: string[]): CommandResult {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: CMD_TIMEOUT_MS });
  if (r.error) return { ok: false, out: '', err: `${cmd}: ${(r.error as NodeJS.ErrnoException).code ?? r.error.message}` };
  const err = (r.stderr ?? '').trim().split('\n')[0] ?? '';
  return { ok: r.status === 0, out: (r.stdout ?? '').trim(), err: err || `${cmd} exited with ${r.status ?? r.signal}` };
}

/** Run and return stdout; a failure throws `fail(message)` (default: an Error). */
export function mustRunCommand(cmd: string, args: string[], fail: (message: string) => Error = (m) => new Error(m)): string {
  const r = runCommand(cmd, args);
  if (!r.ok) throw fail(`${cmd} ${args.join(' ')} failed: ${r.err}`);
  return r.out;
}

/** Whether `cmd` is installed (it runs; its exit status does not matter). */
export function hasTool(cmd: string): boolean {
  const r = spawnSync(cmd, ['--version'], { encoding: 'utf8', timeout: 10_000 });
  return !(r.error && (r.error as NodeJS.ErrnoException).code === 'ENOENT');
}

/** Synchronous pause for cleanup retries (the callers are synchronous: no timers). */
export function pause(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}
