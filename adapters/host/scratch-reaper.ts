/**
 * The scratch reaper: `node scratch-reaper.js PID PARENT` waits until process PID is gone, then
 * destroys every scratch filesystem under PARENT whose state file says PID made it.
 *
 * Why a process of its own: a harness process can end in ways that run none of its own code — a
 * signal (`timeout`, Ctrl-C: the fsx loop is synchronous, so a JS signal handler would only run
 * once the run is over, and installing one would make the harness ignore SIGTERM until then),
 * SIGKILL, an abort. The loop devices and mounts it made must not outlive it. The reaper is started
 * detached the first time a process makes a scratch filesystem under PARENT, polls twice a second
 * and exits with its parent; destroyScratch's own checks (this tool's state file, our device, our
 * image) still decide what is touched.
 */
import * as fs from 'fs';
import * as path from 'path';
import { destroyScratch, readScratchState } from './scratch';

const POLL_MS = 500;

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as { code?: string }).code === 'EPERM';
  }
}

/** Destroy what `pid` made under `parent` (lazily: its files may still be closing). */
export function reap(pid: number, parent: string): void {
  let names: string[] = [];
  try {
    names = fs.readdirSync(parent).filter((n) => n.startsWith('iomap-scratch-'));
  } catch {
    return;
  }
  for (const n of names) {
    try {
      const s = readScratchState(path.join(parent, n));
      if (s.pid === pid) destroyScratch(s.container, { lazy: true });
    } catch {
      // not ours, damaged, or already gone
    }
  }
}

function main(argv: string[]): void {
  const pid = Number(argv[0]);
  const parent = argv[1];
  if (!Number.isInteger(pid) || pid <= 1 || typeof parent !== 'string') {
    process.stderr.write('usage: scratch-reaper PID PARENT\n');
    process.exit(2);
  }
  const timer = setInterval(() => {
    if (alive(pid)) return;
    clearInterval(timer);
    reap(pid, parent);
  }, POLL_MS);
}

if (require.main === module) main(process.argv.slice(2));
