/**
 * The personalities' page-cache drop knob (flushUnmapDropsWholeFolios) against the running kernel.
 *
 * The knob says: on xfs, the cache drop that follows xfs_flush_unmap_range's write-back takes a
 * clean large folio whole, including its pages outside the range, and a truncate still splits it;
 * on ext4 (and generic) the folio is split and only the range's pages go. test/personality.test.ts
 * shows the two behaviours on the model. Here the same steps run on a real xfs and a real ext4
 * (xfs_io: one 32 KiB write, fsync, then the op), and the number of cached pages the kernel reports
 * (fincore) must equal the model's under the matching personality. With the xfs knob off, the
 * xfs row fails (host 0 pages after the punch, model 7). ext4's punch and zero range do not take
 * the xfs_flush_unmap_range path in the model at all (they drop the range only, as
 * truncate_pagecache_range with a successful split does), and the ext4 row checks that path against the kernel.
 */
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { MemoryDevice } from '../reference/device/memory';
import { FALLOC_FL_KEEP_SIZE, FALLOC_FL_PUNCH_HOLE, FALLOC_FL_ZERO_RANGE, FileHandle, IomapFs } from '../reference/file';
import { PersonalityName, personality } from '../reference/fs/personality';
import { hasTool, runCommand } from '../adapters/host/commands';
import { skipWith } from './support/expect';
import { withScratchFs } from './support/loop';

const BS = 4096;
const PAGES = 8;

interface Step {
  /** The xfs_io command run after `pwrite 0 32768` and `fsync`. */
  io: string;
  /** The same on the model. */
  model: (f: FileHandle) => void;
}

const STEPS: Step[] = [
  { io: 'fpunch 12288 4096', model: (f) => f.fallocate(FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 3 * BS, BS) },
  { io: 'fzero -k 12288 4096', model: (f) => f.fallocate(FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE, 3 * BS, BS) },
  { io: 'fpunch 12288 1', model: (f) => f.fallocate(FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 3 * BS, 1) },
  { io: 'truncate 8192', model: (f) => f.truncate(2 * BS) },
];

/** Pages of the file cached on the model after the step (folios up to 2 MiB, as the host's). */
function modelPages(name: PersonalityName, step: Step): number {
  const dev = new MemoryDevice({ size: 64 << 20 });
  IomapFs.mkfs(dev, { blockSize: BS });
  const fsys = IomapFs.mount(dev, { maxFolioSize: 2 << 20 });
  fsys.refs.personality = personality(name);
  const f = fsys.open('f', { create: true });
  f.pwrite(0, new Uint8Array(PAGES * BS).fill(3));
  f.fsync();
  step.model(f);
  return [...Array(PAGES).keys()].filter((p) => f.inode.mapping.folioAt(p * BS) !== undefined).length;
}

/** Pages of a fresh file cached on the host after the same step (fincore's PAGES column). */
function hostPages(dir: string, i: number, step: Step): number {
  const file = path.join(dir, `f${i}`);
  const io = runCommand('xfs_io', ['-f', '-c', `pwrite -q -b ${PAGES * BS} 0 ${PAGES * BS}`, '-c', 'fsync', '-c', step.io, file]);
  assert.ok(io.ok, `xfs_io ${step.io}: ${io.err}`);
  const fc = runCommand('fincore', ['-n', '-o', 'PAGES', file]);
  assert.ok(fc.ok, `fincore: ${fc.err}`);
  fs.unlinkSync(file);
  const n = Number(fc.out.trim());
  assert.ok(Number.isInteger(n), `fincore printed ${JSON.stringify(fc.out)}`);
  return n;
}

describe('personalities against the kernel: the cache drop after a flush-and-unmap', function () {
  this.timeout(120_000);

  for (const type of ['xfs', 'ext4'] as const) {
    it(`${type} 4k: pages cached after pwrite 32 KiB, fsync and a punch, zero range or truncate match the model's ${type} personality`, async function () {
      for (const tool of ['xfs_io', 'fincore']) if (!hasTool(tool)) skipWith(this, `${tool} is not installed (xfsprogs / util-linux)`);
      const out = await withScratchFs(type, (dir) => STEPS.map((s, i) => hostPages(dir, i, s)), { size: 320 << 20, mkfsArgs: type === 'ext4' ? ['-b', '4096'] : ['-b', 'size=4096'] });
      if (out.skipped !== null) skipWith(this, out.skipped);
      const want = STEPS.map((s) => modelPages(type, s));
      const rows = STEPS.map((s, i) => `${s.io}: host ${out.value[i]}, model ${want[i]}`);
      assert.deepStrictEqual(out.value, want, rows.join('; '));
    });
  }

  it('the rows tell the two behaviours apart on the model (with the xfs knob off, the xfs host row fails)', () => {
    const punch = STEPS[0];
    assert.strictEqual(modelPages('xfs', punch), 0, 'xfs: the clean folio goes whole');
    assert.strictEqual(modelPages('ext4', punch), PAGES - 1, 'ext4: split, only the punched page goes');
    assert.strictEqual(modelPages('xfs', STEPS[3]), 2, 'xfs: a truncate splits');
  });
});
