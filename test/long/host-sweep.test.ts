/**
 * `scratch:TYPE` (adapters/host/scratch-adapter.ts), the slower cases (about 25 s as root): fsx's
 * setup sweep over mkfs block sizes through the CLI, a run killed by SIGTERM (the reaper cleans up),
 * and what each filesystem type declares — every declared block size makes a filesystem of that
 * block size, XFS's post-EOF preallocation becomes its allocsize= mount option. Each type skips
 * with its reason where it cannot be made.
 */
import * as assert from 'assert';
import { spawn } from 'child_process';
import * as fs from 'fs';
import { loadAdapter } from '../../adapters/registry';
import { readMounts, scratchUnavailable, SCRATCH_TYPES } from '../../adapters/host/scratch';
import type { FileAdapter } from '../../adapters/types';
import { bin, BIN, ROOT } from '../support/bin';
import { skipWith } from '../support/expect';
import { freshParent, mountedUnder, settled } from '../support/scratch-sweep';

function mountOf(a: FileAdapter): string {
  return (a as unknown as { scratch: { mount: string } }).scratch.mount;
}

describe('scratch: adapter, slow cases', function () {
  this.timeout(300_000);
  const parentDir = freshParent();

  it('fsx sweeps the mkfs block size per round and removes every filesystem it made', function () {
    const why = scratchUnavailable('ext4');
    if (why !== null) skipWith(this, why);
    const r = bin(['fsx', '--adapter', `scratch:ext4:${parentDir()}`, '-N', '600', '--round-ops', '200', '-S', '1', '--json'], { cwd: ROOT });
    assert.strictEqual(r.code, 0, r.out + r.err);
    const sizes = [...r.out.matchAll(/^Setup round \d+\/3 .*: bs (\d+)/gm)].map((m) => Number(m[1]));
    assert.strictEqual(sizes.length, 3, r.out);
    assert.ok(new Set(sizes).size >= 2, `rounds on different block sizes: ${sizes.join(', ')}`);
    assert.strictEqual((JSON.parse(r.out.trim().split('\n').pop() as string) as { ops: number }).ops, 600);
  });

  it('a run killed by SIGTERM leaves nothing behind (the reaper)', async function () {
    const why = scratchUnavailable('tmpfs');
    if (why !== null) skipWith(this, why);
    const parent = parentDir();
    const child = spawn(process.execPath, [BIN, 'fsx', '--adapter', `scratch:tmpfs:${parent}`, '-N', '10000000', '-S', '1'], { stdio: 'ignore' });
    const end = Date.now() + 30_000;
    while (!mountedUnder(parent) && Date.now() < end) await new Promise((r) => setTimeout(r, 100));
    assert.ok(mountedUnder(parent), 'the run mounted its filesystem');
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    await exited;
    assert.deepStrictEqual(await settled(parent, 10_000), []);
  });

  for (const type of SCRATCH_TYPES) {
    it(`${type}: every declared setup makes that filesystem`, function () {
      const why = scratchUnavailable(type);
      if (why !== null) skipWith(this, why);
      const spec = `scratch:${type}:${parentDir()}`;
      const first = loadAdapter(spec);
      const s = first.setups ?? {};
      first.close();
      const bss = s.blockSizes ?? [];
      // What mkfs refuses is never declared; what 6.18 on 4 KiB pages mounts is.
      if (type === 'xfs') assert.ok(bss.includes(1024) && bss.includes(4096) && !bss.includes(512), `xfs declares ${bss.join(', ')}`);
      if (type === 'btrfs' || type === 'tmpfs') assert.deepStrictEqual(bss, [], `${type} has one block size`);
      assert.strictEqual(s.eofPrealloc === true, type === 'xfs', 'allocsize= on xfs only');
      assert.strictEqual(s.folioSizes, undefined);
      assert.strictEqual(first.capabilities.remount, type === 'xfs' || type === 'ext4', 'remount on xfs and ext4');
      for (const bs of bss) {
        const a = loadAdapter(spec, { blockSize: bs });
        try {
          assert.strictEqual(a.capabilities.blockSize, bs);
          assert.strictEqual(fs.statfsSync(mountOf(a)).bsize, bs);
        } finally {
          a.close();
        }
      }
      if (type === 'xfs') {
        const a = loadAdapter(spec, { blockSize: 4096, eofPrealloc: 65536 });
        try {
          assert.deepStrictEqual(a.setup, { eofPrealloc: 65536 });
          const m = readMounts().find((x) => x.target === mountOf(a));
          assert.ok(m !== undefined);
          const opts = fs.readFileSync('/proc/mounts', 'utf8').split('\n').find((l) => l.split(' ')[1] === mountOf(a)) ?? '';
          assert.match(opts, /allocsize=64k/);
        } finally {
          a.close();
        }
      }
    });
  }
});
