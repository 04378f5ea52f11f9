/**
 * The worked example of docs/adapters.md is a real test: fixedfs (examples/fixed-fs.ts), an
 * independently written ops table, loaded the way a user loads theirs (a module path), runs the
 * fsx engine under the reference generic layer with the contract monitor on every callback, for
 * every fsx op it claims capability for. A variant that forgets OVERWRITE_ONLY is caught by the
 * monitor (rule R17), which is exactly the bug the first draft of the example had.
 */
import * as assert from 'assert';
import * as path from 'path';
import { loadAdapter } from '../adapters/registry';
import { runFsx } from '../properties/fsx/engine';
import { defaultOptions } from '../properties/fsx/generator';
import { ReferenceAdapter } from '../adapters/reference';
import { FsAdapter } from '../adapters/fs-adapter';
import { fixedFsAdapter } from '../examples/fixed-fs';
import { IOMAP_OVERWRITE_ONLY } from '../reference/iomap/types';

const MODULE = path.join(__dirname, '..', 'examples', 'fixed-fs.js');
const quiet = { out: () => undefined, err: () => undefined };

describe('docs/adapters.md worked example: fixedfs as a module adapter', () => {
  for (const bs of [1024, 4096]) {
    it(`passes the fsx engine (every op it claims) with the monitor on, bs=${bs}`, function () {
      this.timeout(300000);
      for (const seed of [1, 2]) {
        const adapter = loadAdapter(MODULE, { blockSize: bs, folioSize: 16384 });
        assert.strictEqual(adapter.capabilities.clone, false, 'fixedfs declares no reflink');
        assert.deepStrictEqual(adapter.capabilities.fallocModes, [0, 0x01, 0x03]);
        const r = runFsx(adapter, MODULE, { ...defaultOptions(), numOps: 8000, seed, quiet: true }, quiet);
        assert.strictEqual(r.failure, null, r.report.join('\n'));
        assert.strictEqual(r.ops, 8000);
      }
    });
  }

  it('passes the fsx engine in the current API generation too (iomap_write_ops, writeback_range/_submit)', function () {
    this.timeout(300000);
    const adapter = loadAdapter(MODULE, { blockSize: 1024, folioSize: 16384, api: 'current' });
    assert.deepStrictEqual(adapter.setup, { api: 'current' });
    const r = runFsx(adapter, MODULE, { ...defaultOptions(), numOps: 8000, seed: 3, quiet: true }, quiet);
    assert.strictEqual(r.failure, null, r.report.join('\n'));
    assert.strictEqual(r.ops, 8000);
    assert.strictEqual(r.log().setup?.api, 'current', 'the op log records the generation');
  });

  it('survives unmount and mount (metadata on the device)', () => {
    const a = loadAdapter(MODULE, { blockSize: 4096 });
    const t = a.open();
    t.pwrite(5000, new Uint8Array(9000).fill(7));
    t.fallocate!(0, 40000, 8192);
    t.remount!();
    assert.strictEqual(t.size(), 48192);
    assert.ok(Buffer.from(t.pread(5000, 9000)).every((b) => b === 7));
    assert.ok(Buffer.from(t.pread(40000, 8192)).every((b) => b === 0));
    a.close();
  });

  it('a fixedfs that ignores OVERWRITE_ONLY is stopped by contract rule R17', () => {
    const broken: FsAdapter = {
      ...fixedFsAdapter,
      name: 'fixedfs-broken',
      mount(dev) {
        const fs = fixedFsAdapter.mount(dev);
        const begin = fs.iomapOps.begin;
        // The first draft's bug: allocate and answer as for any write.
        (fs.iomapOps as { begin: typeof begin }).begin = (inode, pos, len, flags, m, s) => begin(inode, pos, len, flags & ~IOMAP_OVERWRITE_ONLY, m, s);
        return fs;
      },
    };
    const adapter = new ReferenceAdapter({ fs: broken, blockSize: 4096, deviceSize: 1 << 30 });
    const r = runFsx(adapter, 'fixedfs-broken', { ...defaultOptions(), numOps: 20000, seed: 1, quiet: true }, quiet);
    assert.ok(r.failure, 'the broken fixedfs was not caught');
    assert.strictEqual(r.failure!.kind, 'contract');
    assert.strictEqual(r.failure!.rule, 'R17');
  });
});
