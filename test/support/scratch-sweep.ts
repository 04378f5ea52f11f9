/**
 * Helpers for the scratch: adapter tests (test/host-sweep.test.ts, test/long/host-sweep.test.ts):
 * a fresh parent directory per test, and what is left under it (mounts, loop devices, files).
 */
import * as assert from 'assert';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { readMounts } from '../../adapters/host/scratch';
import { releaseScratchPool } from '../../adapters/host/scratch-adapter';

/** Mounts and loop devices whose path lies under `dir`, and what is left in it. */
export function leftovers(dir: string): string[] {
  const out = readMounts().filter((m) => m.target.startsWith(dir + '/')).map((m) => `mount ${m.target}`);
  const loops = spawnSync('losetup', ['-a'], { encoding: 'utf8' }).stdout ?? '';
  for (const l of loops.split('\n')) if (l.includes(dir + '/')) out.push(`loop ${l}`);
  for (const n of fs.existsSync(dir) ? fs.readdirSync(dir) : []) out.push(`file ${path.join(dir, n)}`);
  return out;
}

/** Wait (polling, at most `ms`) until nothing is left under `dir`; what is left then. */
export async function settled(dir: string, ms: number): Promise<string[]> {
  const end = Date.now() + ms;
  for (;;) {
    const left = leftovers(dir);
    if (left.length === 0 || Date.now() > end) return left;
    await new Promise((r) => setTimeout(r, 250));
  }
}

export function mountedUnder(dir: string): boolean {
  return readMounts().some((m) => m.target.startsWith(dir + '/'));
}

/** beforeEach/afterEach: a fresh parent for each test, checked empty (and removed) after it. */
export function freshParent(): () => string {
  let parent = '';
  beforeEach(function () {
    parent = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'iomap-sweep-test-')));
  });
  afterEach(async function () {
    releaseScratchPool();
    const left = await settled(parent, 10_000);
    // Never a recursive delete: a filesystem may still be mounted under it.
    if (left.length === 0) fs.rmdirSync(parent);
    assert.deepStrictEqual(left, [], 'nothing left behind');
  });
  return () => parent;
}
