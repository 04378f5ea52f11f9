/**
 * Durability of out-of-process fs-level servers (examples/fs-server.py) under the default campaign:
 * the `remount` op (a clean unmount, i.e. writeback + commit, then mount) must find every byte, so a
 * server whose metadata commit does nothing, or whose mount loads an older metadata state, is
 * caught by plain fsx. With the "devio" feature the server's own device writes and flushes go
 * through the harness, which then cuts the power under it (the `crash` op): a server whose commit
 * never flushes the device loses what fsync acknowledged, and plain fsx catches that too.
 */
import { strict as assert } from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { copyToFile } from '../adapters/process/fs-client';
import { loadAdapter } from '../adapters/registry';
import { CHUNK_SIZE, MemoryDevice } from '../reference/device/memory';
import { runFsx } from '../properties/fsx/engine';
import { defaultOptions, FsxOptions } from '../properties/fsx/generator';
import type { Output } from '../properties/fsx/runner';
import { skipWithoutPython } from './support/python';

const QUIET: Output = { out: () => undefined, err: () => undefined };


describe('fs-level Python server (examples/fs-server.py): durability under the default campaign', function () {
  this.timeout(180000);
  before(skipWithoutPython);
  const spec = (defect?: string, flags = '') => `exec:python3 examples/fs-server.py${flags}${defect ? ` --defect ${defect}` : ''}`;
  const fsx = (defect?: string, over: Partial<FsxOptions> = {}, flags = '') => {
    const s = spec(defect, flags);
    return runFsx(loadAdapter(s, {}), s, { ...defaultOptions(), quiet: true, ...over }, QUIET);
  };

  it('the correct server passes with remounts on', () => {
    const r = fsx(undefined, { numOps: 400, seed: 4 });
    assert.equal(r.failure, null, r.report.join('\n'));
    assert.ok(r.log().ops.some((o) => o.op === 'remount' && o.skip !== true), 'no remount ran');
  });

  for (const defect of ['commit-noop', 'mount-older-slot']) {
    it(`--defect ${defect} is caught by plain fsx at a remount or a power cut (durability, fileops-14.25)`, () => {
      const r = fsx(defect);
      assert.ok(r.failure !== null, 'not caught');
      assert.equal(r.failure.kind, 'durability', r.report.join('\n'));
      assert.equal(r.failure.rule, 'fileops-14.25');
      // Both mount the server again (with "devio" power cuts run too, and may come first).
      assert.ok(['remount', 'crash'].includes(r.log().ops[r.failure.op - 1].op), r.log().ops[r.failure.op - 1].op);
      const clean = fsx(defect, {}, ' --no-features');
      assert.equal(clean.failure?.kind, 'durability', 'caught at a clean remount without power cuts too');
      assert.equal(clean.log().ops[clean.failure!.op - 1].op, 'remount');
    });
  }

  it('--defect lax-overwrite-only (iomap_begin takes an OVERWRITE_ONLY write it must refuse) is caught by plain fsx (R17)', () => {
    const r = fsx('lax-overwrite-only');
    assert.ok(r.failure !== null, 'not caught');
    assert.equal(r.failure.kind, 'contract', r.report.join('\n'));
    assert.equal(r.failure.rule, 'R17');
  });

  it('with "devio" the correct server passes power cuts (its metadata writes and flushes go through the harness)', () => {
    const a = loadAdapter(spec(), {});
    try {
      assert.equal((a as unknown as { fsAdapter: { devio: boolean } }).fsAdapter.devio, true, 'pyfs takes up devio');
    } finally {
      a.close();
    }
    const r = fsx(undefined, { numOps: 1500, seed: 2 });
    assert.equal(r.failure, null, r.report.join('\n'));
    assert.ok(r.log().ops.filter((o) => o.op === 'crash' && o.skip !== true).length >= 10, 'power cuts ran');
  });

  it('--defect commit-no-flush (commit never flushes the device) is caught by plain fsx at a power cut, and only with devio', () => {
    const r = fsx('commit-no-flush');
    assert.ok(r.failure !== null, 'not caught');
    assert.equal(r.failure.kind, 'durability', r.report.join('\n'));
    assert.equal(r.log().ops[r.failure.op - 1].op, 'crash');
    // Without the feature the server writes the image file itself: no power cuts, nothing caught.
    const old = fsx('commit-no-flush', { numOps: 1500 }, ' --no-features');
    assert.equal(old.failure, null, old.report.join('\n'));
    assert.ok(!old.log().ops.some((o) => o.op === 'crash' && o.skip !== true));
  });
});

// With "devio" the harness holds the device and copies it into the image file the server mounts:
// after the first copy, only the chunks that changed since (and those discarded, as zeroes).
describe('the devio image file: copied at every mount, incrementally', () => {
  it('holds the device after writes and discards, and is copied whole again after someone else wrote it', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'iomap-image-copy-'));
    try {
      const file = path.join(dir, 'device.img');
      const mem = new MemoryDevice({ size: 64 * CHUNK_SIZE });
      const same = (what: string) => {
        const want = new Uint8Array(mem.size);
        mem.read(0, want);
        assert.ok(Buffer.from(fs.readFileSync(file)).equals(Buffer.from(want)), what);
      };
      mem.write(0, new Uint8Array(4096).fill(1));
      mem.write(10 * CHUNK_SIZE, new Uint8Array(8192).fill(2));
      let copy = copyToFile(mem, file, null);
      same('first copy');
      mem.write(10 * CHUNK_SIZE + 4096, new Uint8Array(512).fill(3));
      mem.write(40 * CHUNK_SIZE, new Uint8Array(512).fill(4));
      mem.discard(0, CHUNK_SIZE);
      copy = copyToFile(mem, file, copy);
      same('a changed chunk, a new one and a discarded one');
      // Another writer (a server that wrote the image despite devio): the whole image again.
      const fd = fs.openSync(file, 'r+');
      fs.writeSync(fd, Uint8Array.of(0x55), 0, 1, 20 * CHUNK_SIZE);
      fs.closeSync(fd);
      fs.utimesSync(file, new Date(Date.now() + 5000), new Date(Date.now() + 5000));
      copyToFile(mem, file, copy);
      same('after a foreign write');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
