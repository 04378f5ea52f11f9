/**
 * refs over real device backends: the same random workload (writes, mmap stores, truncates,
 * fallocate, clones, fsync, drop caches, remount) on a FileDevice over a regular file, with and
 * without O_DIRECT, and over a loop block device (512- and 4096-byte sectors) when running as
 * root. Skips print their reason.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as assert from 'assert';
import { ModelHarness, ModelOp } from './support/model-ops';
import { FileDevice } from '../reference/device/file';
import { loadNative } from '../reference/device/native';
import { createLoopDevice, loopSkipReason } from './support/loop';

/** A fixed, deterministic workload (xorshift), long enough to reach every path at least once. */
function workload(seed: number, n: number, bs: number): ModelOp[] {
  let x = seed >>> 0 || 1;
  const r = (m: number) => {
    x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
    return x % m;
  };
  const ops: ModelOp[] = [];
  for (let i = 0; i < n; i++) {
    const off = r(200 * 1024);
    const len = 1 + r(24 * 1024);
    switch (r(12)) {
      case 0: case 1: case 2: ops.push({ op: 'write', off, len, seed: i }); break;
      case 3: ops.push({ op: 'read', off, len }); break;
      case 4: ops.push({ op: 'truncate', size: r(220 * 1024) }); break;
      case 5: ops.push({ op: 'mapwrite', off, len, seed: i, msync: r(2) === 0 }); break;
      case 6: ops.push({ op: 'falloc', mode: [0, 1, 2, 0x10, 0x08, 0x20][r(6)], off, len }); break;
      case 7: ops.push({ op: 'clone', src: r(64), len: len - (len % bs) + bs, dst: off }); break;
      case 8: ops.push({ op: 'fsync' }); break;
      case 9: ops.push({ op: 'dropcaches' }); break;
      case 10: ops.push({ op: 'writeback' }); break;
      default: ops.push({ op: 'remount' }); break;
    }
  }
  return ops;
}

function runOn(dev: FileDevice, bs: number): void {
  const h = new ModelHarness({ blockSize: bs, folioSize: 65536 }, dev);
  for (const o of workload(bs + dev.sectorSize, 400, bs)) h.apply(o);
  h.checkAll();
  h.apply({ op: 'remount' });
  h.checkAll();
  assert.deepStrictEqual(h.fsys.fs.checkConsistency(), []);
  h.fsys.unmount();
}

describe('refs on real device backends', () => {
  let dir: string;
  before(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), 'refs-dev-')); });
  after(() => { fs.rmSync(dir, { recursive: true, force: true }); });

  for (const bs of [1024, 4096]) {
    it(`FileDevice over a regular file, bs=${bs}`, () => {
      const dev = FileDevice.open(path.join(dir, `img-${bs}`), { create: { size: 64 << 20 } });
      try { runOn(dev, bs); } finally { dev.close(); }
    });
  }

  it('FileDevice over a regular file with O_DIRECT, bs=4096', function () {
    const nat = loadNative();
    if (!nat.addon) {
      console.log(`      skipped: native addon unavailable (${nat.reason})`);
      this.skip();
    }
    const dev = FileDevice.open(path.join(dir, 'img-direct'), { create: { size: 64 << 20 }, direct: true });
    try { runOn(dev, 4096); } finally { dev.close(); }
  });

  for (const sector of [512, 4096]) {
    it(`FileDevice over a loop block device, ${sector}-byte sectors`, function () {
      const why = loopSkipReason();
      if (why) {
        console.log(`      skipped: ${why}`);
        this.skip();
      }
      const loop = createLoopDevice(64 << 20, { sectorSize: sector });
      try {
        const dev = FileDevice.open(loop.path);
        try {
          assert.strictEqual(dev.sectorSize, sector);
          runOn(dev, 4096);
        } finally { dev.close(); }
      } finally { loop.release(); }
    });
  }
});
