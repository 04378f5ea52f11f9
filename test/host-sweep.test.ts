/**
 * `scratch:TYPE[:PARENT]` (adapters/host/scratch-adapter.ts): the host adapter on filesystems the
 * harness makes per setup, so that fsx's setup sweep varies the mkfs block size of a real
 * filesystem. Here the cheap cases (about 5 s, as root with mkfs.ext4; each skips with its reason
 * otherwise): bad specs, a declared block size, cleanup when the process throws.
 * test/long/host-sweep.test.ts has the sweep through fsx, SIGTERM, and every filesystem type.
 */
import * as assert from 'assert';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { AdapterSpecError, loadAdapter } from '../adapters/registry';
import { readMounts, remountScratch, scratchUnavailable, type ScratchState } from '../adapters/host/scratch';
import { createHostAdapter } from '../adapters/host';
import { runFsx } from '../properties/fsx/engine';
import { defaultOptions } from '../properties/fsx/generator';
import { bin, ROOT } from './support/bin';
import { skipWith } from './support/expect';
import { freshParent, settled } from './support/scratch-sweep';

describe('scratch: adapter (host filesystems made per setup)', function () {
  this.timeout(120_000);
  const parentDir = freshParent();

  it('refuses a bad spec with one line (exit 2 through the CLI)', function () {
    const parent = parentDir();
    assert.throws(() => loadAdapter('scratch:zfs'), (e: Error) => e instanceof AdapterSpecError && /unknown filesystem type "zfs"/.test(e.message));
    assert.throws(() => loadAdapter(`scratch:ext4:${parent}/none`), (e: Error) => e instanceof AdapterSpecError && /does not exist/.test(e.message));
    if (scratchUnavailable('ext4') === null) {
      assert.throws(() => loadAdapter(`scratch:ext4:${parent}`, { eofPrealloc: 65536 }), /allocsize=\) is an xfs mount option/);
      // Refused, not ignored: the geometry suite then skips instead of running at another size.
      assert.throws(() => loadAdapter(`scratch:ext4:${parent}`, { folioSize: 16384 }), /largest folio size is the kernel's/);
    }
    const r = bin(['fsx', '--adapter', 'scratch:zfs', '-N', '10']);
    assert.strictEqual(r.code, 2, r.err);
    assert.match(r.err.trim(), /^iomap-harness: .*unknown filesystem type "zfs"[^\n]*$/);
  });

  it('declares the block sizes mkfs and the kernel accept, and makes the one asked for', function () {
    const why = scratchUnavailable('ext4');
    if (why !== null) skipWith(this, why);
    const a = loadAdapter(`scratch:ext4:${parentDir()}`, { blockSize: 1024 });
    try {
      const bss = a.setups?.blockSizes ?? [];
      // mkfs.ext4 refuses 512; 1k and 4k always work on 4 KiB pages.
      assert.ok(bss.includes(1024) && bss.includes(4096) && !bss.includes(512), `ext4 declares ${bss.join(', ')}`);
      assert.strictEqual(a.setups?.eofPrealloc, undefined, 'allocsize= is xfs only');
      // Unpinned, 4 KiB (mke2fs alone would take 1 KiB on an image this small, and the geometry
      // suite would then take the fallback for "honours any block size").
      const plain = loadAdapter(`scratch:ext4:${parentDir()}`);
      assert.strictEqual(plain.capabilities.blockSize, 4096);
      plain.close();
      assert.strictEqual(a.capabilities.blockSize, 1024);
      const mnt = (a as unknown as { scratch: { mount: string } }).scratch.mount;
      assert.strictEqual(fs.statfsSync(mnt).bsize, 1024);
      const t = a.open();
      t.pwrite(5000, Buffer.from('x'));
      assert.strictEqual(t.size(), 5001);
    } finally {
      a.close();
    }
  });

  it('xfs and ext4 offer remount (a real unmount and mount); a remount that loses data fails fsx (durability); one left unmounted is not reused', function () {
    const why = scratchUnavailable('ext4');
    if (why !== null) skipWith(this, why);
    const a = loadAdapter(`scratch:ext4:${parentDir()}`, { blockSize: 4096 });
    try {
      assert.strictEqual(a.capabilities.remount, true);
      const state = (a as unknown as { scratch: ScratchState }).scratch;
      // ext4 counts its mounts in the superblock (mount IDs are reused, so they prove nothing).
      const mountId = (): string => /Mount count:\s*(\d+)/.exec(spawnSync('dumpe2fs', ['-h', state.device as string], { encoding: 'utf8' }).stdout ?? '')?.[1] ?? '';
      const t = a.open();
      t.pwrite(0, Buffer.from('kept'));
      const before = mountId();
      t.remount!();
      assert.ok(before !== '' && mountId() !== '' && mountId() !== before, 'a new mount');
      assert.deepStrictEqual(Buffer.from(t.pread(0, 4)).toString(), 'kept');
      a.close();
      // The same filesystem behind a remount that empties the test file while it is unmounted.
      const lossy = createHostAdapter({
        path: state.mount, scratch: state.mount,
        remount: () => {
          remountScratch(state);
          for (const n of fs.readdirSync(state.mount)) if (n.startsWith('.iomap-harness-fsx-')) fs.truncateSync(path.join(state.mount, n), 0);
        },
      });
      try {
        const r = runFsx(lossy, 'lossy', { ...defaultOptions(), quiet: true, numOps: 2000, seed: 1 }, { out: () => undefined, err: () => undefined });
        assert.strictEqual(r.failure?.kind, 'durability', r.report.join('\n'));
        assert.strictEqual(r.log().ops[r.failure!.op - 1].op, 'remount');
      } finally {
        lossy.close();
      }
      // What remountScratch leaves when its umount worked and its mount did not: that idle
      // filesystem is not reused (the adapter would test the directory under it, in its name).
      assert.strictEqual(spawnSync('umount', [state.mount]).status, 0);
      const next = loadAdapter(`scratch:ext4:${parentDir()}`, { blockSize: 4096 });
      try {
        const mnt = (next as unknown as { scratch: ScratchState }).scratch.mount;
        assert.ok(readMounts().some((m) => m.target === mnt && m.fstype === 'ext4'), `${mnt} is not an ext4 mount`);
      } finally {
        next.close();
      }
    } finally {
      a.close();
    }
  });

  it('a process that throws leaves nothing behind (its exit hook)', async function () {
    const why = scratchUnavailable('tmpfs');
    if (why !== null) skipWith(this, why);
    const parent = parentDir();
    const js = `const {loadAdapter}=require(${JSON.stringify(path.join(ROOT, 'dist/adapters/registry'))});`
      + `const a=loadAdapter(${JSON.stringify(`scratch:tmpfs:${parent}`)});a.open().pwrite(0,Buffer.from('y'));throw new Error('boom');`;
    const r = spawnSync(process.execPath, ['-e', js], { encoding: 'utf8' });
    assert.notStrictEqual(r.status, 0);
    assert.match(r.stderr, /boom/);
    assert.deepStrictEqual(await settled(parent, 10_000), []);
  });
});
