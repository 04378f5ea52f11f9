/**
 * FaultDevice: EIO for reads/writes overlapping configured byte ranges, switchable at run time,
 * argument validation before any fault, no side effects from a failed request, counters and log.
 */
import * as assert from 'assert';
import { MemoryDevice } from '../reference/device/memory';
import { FaultDevice } from '../reference/device/fault';
import { IomapFs } from '../reference/file';
import { expectFsError, pattern } from './support/scripted-ops';

function make(): { mem: MemoryDevice; dev: FaultDevice } {
  const mem = new MemoryDevice({ size: 1 << 20 });
  mem.write(0, pattern(1, 1 << 20));
  return { mem, dev: new FaultDevice(mem) };
}

describe('FaultDevice', () => {
  it('passes geometry through and forwards I/O while no rule matches', () => {
    const { mem, dev } = make();
    assert.deepStrictEqual([dev.size, dev.sectorSize, dev.dax, dev.closed], [mem.size, mem.sectorSize, mem.dax, false]);
    assert.strictEqual(dev.name, 'fault(memory)');
    const buf = new Uint8Array(1024);
    dev.read(4096, buf);
    assert.ok(Buffer.from(buf).equals(Buffer.from(pattern(1, 1 << 20).subarray(4096, 5120))));
    dev.write(8192, new Uint8Array(512).fill(9));
    const back = new Uint8Array(512);
    mem.read(8192, back);
    assert.ok(back.every((x) => x === 9));
    dev.flush();
    dev.discard(0, 512);
    assert.deepStrictEqual(dev.stats, {
      reads: 1, writes: 1, readBytes: 1024, writeBytes: 512, failedReads: 0, failedWrites: 0, flushes: 1, discards: 1,
    });
    assert.deepStrictEqual(dev.log.map((r) => [r.kind, r.off, r.len, r.failed]), [
      ['read', 4096, 1024, false], ['write', 8192, 512, false], ['flush', 0, 0, false], ['discard', 0, 512, false],
    ]);
  });

  it('fails only requests overlapping a rule, of the rule\'s kind; a failed request has no effect', () => {
    const { mem, dev } = make();
    dev.failReads(10000, 1).failWrites(20000, 100);
    // [9728, 10240) contains byte 10000 -> EIO, buffer untouched.
    const buf = new Uint8Array(512).fill(0x5a);
    expectFsError(() => dev.read(9728, buf), 'EIO');
    assert.ok(buf.every((x) => x === 0x5a));
    // Touching but not overlapping: [9216, 9728) and [10240, 10752) are fine.
    dev.read(9216, buf);
    dev.read(10240, buf);
    // Writes to the read-fault range are fine; writes overlapping [20000, 20100) fail and change nothing.
    dev.write(9728, new Uint8Array(512));
    const before = new Uint8Array(1024);
    mem.read(19968, before);
    expectFsError(() => dev.write(19968, new Uint8Array(1024).fill(1)), 'EIO');
    const after = new Uint8Array(1024);
    mem.read(19968, after);
    assert.ok(Buffer.from(after).equals(Buffer.from(before)));
    // Zero-length requests never fail.
    dev.read(10000 - 10000 % 512, new Uint8Array(0));
    assert.deepStrictEqual([dev.stats.failedReads, dev.stats.failedWrites], [1, 1]);
    assert.deepStrictEqual(dev.ios('read'), [[9728, 512], [9216, 512], [10240, 512], [9728, 0]]);
  });

  it('rules can be switched off and on, and cleared', () => {
    const { dev } = make();
    dev.failReads(0, 512);
    const buf = new Uint8Array(512);
    expectFsError(() => dev.read(0, buf), 'EIO');
    dev.enabled = false;
    dev.read(0, buf);
    dev.enabled = true;
    expectFsError(() => dev.read(0, buf), 'EIO');
    dev.clearFaults();
    dev.read(0, buf);
    dev.resetStats();
    assert.deepStrictEqual(dev.log, []);
    assert.strictEqual(dev.stats.reads, 0);
  });

  it('validates arguments before faults: EINVAL/ENOSPC/EBADF win over an injected EIO', () => {
    const { dev } = make();
    dev.failReads(0, dev.size).failWrites(0, dev.size);
    expectFsError(() => dev.read(100, new Uint8Array(512)), 'EINVAL', 'misaligned');
    expectFsError(() => dev.read(-512, new Uint8Array(512)), 'EINVAL', 'negative');
    expectFsError(() => dev.read(NaN, new Uint8Array(512)), 'EINVAL', 'NaN');
    expectFsError(() => dev.write(0, 'x' as unknown as Uint8Array), 'EINVAL', 'not a buffer');
    expectFsError(() => dev.write(0, new Uint8Array(512), { fua: 1 as unknown as boolean }), 'EINVAL', 'bad options');
    expectFsError(() => dev.read(dev.size, new Uint8Array(512)), 'ENOSPC', 'past the end');
    expectFsError(() => dev.failReads(-1, 5), 'EINVAL', 'bad rule');
    expectFsError(() => dev.failWrites(0, NaN), 'EINVAL', 'bad rule');
    assert.strictEqual(dev.stats.reads + dev.stats.writes, 0, 'rejected requests are not counted');
    dev.close();
    assert.strictEqual(dev.closed, true);
    expectFsError(() => dev.read(0, new Uint8Array(512)), 'EBADF', 'closed');
    expectFsError(() => dev.flush(), 'EBADF', 'closed flush');
    expectFsError(() => dev.close(), 'EBADF', 'closed twice');
  });
});

describe('FaultDevice: schedules, actions and the fault log', () => {
  const writeAt = (dev: FaultDevice, off: number, fill: number): void => dev.write(off, new Uint8Array(512).fill(fill));
  const readAt = (dev: { read(off: number, b: Uint8Array): void }, off: number): Uint8Array => {
    const b = new Uint8Array(512);
    dev.read(off, b);
    return b;
  };

  it('after N matching I/Os, at most count times; requests outside the range do not count', () => {
    const { dev } = make();
    const r = dev.addFault({ kind: 'write', off: 4096, len: 4096, after: 2, count: 2 });
    writeAt(dev, 0, 1); // outside: not counted
    writeAt(dev, 4096, 1);
    writeAt(dev, 4608, 1);
    expectFsError(() => writeAt(dev, 5120, 1), 'EIO');
    expectFsError(() => writeAt(dev, 5120, 1), 'EIO');
    writeAt(dev, 5120, 1); // count exhausted
    assert.deepStrictEqual([r.matched, r.fired], [5, 2]);
    assert.deepStrictEqual(dev.injected.map((f) => [f.seq, f.action, f.off]), [[3, 'error', 5120], [4, 'error', 5120]]);
    assert.strictEqual(dev.counts.errors, 2);
    // Disabled: no rule fires or counts.
    dev.enabled = false;
    writeAt(dev, 4096, 2);
    assert.strictEqual(r.matched, 5);
  });

  it('a custom errno, and rules tried in order (the first that fires wins)', () => {
    const { dev } = make();
    dev.addFault({ kind: 'read', off: 0, len: 512, errno: 28 });
    const second = dev.addFault({ kind: 'read' });
    expectFsError(() => readAt(dev, 0), 'ENOSPC');
    expectFsError(() => readAt(dev, 512), 'EIO');
    assert.strictEqual(second.matched, 1, 'the first request was taken by rule 0');
    assert.ok(dev.removeFault(0));
    assert.ok(!dev.removeFault(0));
    expectFsError(() => readAt(dev, 0), 'EIO');
  });

  it('seeded probability: deterministic per seed, about the requested rate, no Math.random', () => {
    const run = (seed: number): number[] => {
      const { dev } = make();
      const d = new FaultDevice(dev.inner, { seed });
      d.addFault({ kind: 'read', probability: 0.25 });
      const hits: number[] = [];
      for (let i = 0; i < 400; i++) {
        try {
          readAt(d, (i % 64) * 512);
        } catch {
          hits.push(i);
        }
      }
      return hits;
    };
    const saved = Math.random;
    Math.random = () => {
      throw new Error('Math.random used');
    };
    try {
      const a = run(5);
      assert.deepStrictEqual(run(5), a);
      assert.notDeepStrictEqual(run(6), a);
      assert.ok(a.length > 60 && a.length < 140, `${a.length} of 400 at p=0.25`);
    } finally {
      Math.random = saved;
    }
    // An explicit rule seed overrides the device seed.
    const { dev } = make();
    const r = dev.addFault({ kind: 'read', probability: 0.5, seed: 42 });
    assert.strictEqual(r.seed, 42);
  });

  it('drop: acknowledged, never stored, logged', () => {
    const { mem, dev } = make();
    const before = readAt(mem, 8192);
    dev.addFault({ kind: 'write', action: 'drop', off: 8192, len: 512, label: 'lost' });
    writeAt(dev, 8192, 7);
    assert.ok(Buffer.from(readAt(dev, 8192)).equals(Buffer.from(before)));
    assert.deepStrictEqual(dev.log.map((r) => [r.kind, r.failed, r.fault]), [['write', false, 'drop'], ['read', false, undefined]]);
    assert.match(dev.describeFault(dev.injected[0]), /write \[8192, \+512\) dropped \(rule 0 "lost"\)/);
    assert.strictEqual(dev.counts.drops, 1);
    expectFsError(() => dev.addFault({ kind: 'read', action: 'drop' }), 'EINVAL', 'drop reads');
  });

  it('corrupt: one byte of a read flipped (dm-flakey corrupt_bio_byte), the media untouched; writes store a corrupted copy', () => {
    const { mem, dev } = make();
    const good = readAt(mem, 1024);
    dev.addFault({ kind: 'read', action: 'corrupt', byte: 7, xor: 0xff, count: 1 });
    const bad = readAt(dev, 1024);
    const diff = [...bad.keys()].filter((i) => bad[i] !== good[i]);
    assert.deepStrictEqual(diff, [7]);
    assert.strictEqual(bad[7], good[7] ^ 0xff);
    assert.deepStrictEqual(dev.injected.map((f) => [f.action, f.at, f.from, f.to]), [['corrupt', 1031, good[7], good[7] ^ 0xff]]);
    assert.ok(Buffer.from(readAt(dev, 1024)).equals(Buffer.from(good)), 'count 1: the next read is clean');
    // Random byte inside the rule's range, random non-zero mask.
    dev.addFault({ kind: 'write', action: 'corrupt', off: 2048 + 100, len: 10 });
    const data = new Uint8Array(512).fill(3);
    dev.write(2048, data);
    assert.ok(data.every((x) => x === 3), "the caller's buffer is not changed");
    const stored = readAt(mem, 2048);
    const changed = [...stored.keys()].filter((i) => stored[i] !== 3);
    assert.strictEqual(changed.length, 1);
    assert.ok(changed[0] >= 100 && changed[0] < 110, `byte ${changed[0]}`);
    // A request too short for `byte` is not corrupted.
    dev.clearFaults();
    dev.addFault({ kind: 'read', action: 'corrupt', byte: 600 });
    assert.ok(Buffer.from(readAt(dev, 1024)).equals(Buffer.from(good)));
    expectFsError(() => dev.addFault({ kind: 'read', action: 'corrupt', xor: 0 }), 'EINVAL', 'xor 0');
  });

  it('hold: writes acknowledged and landed later by release steps, in any order', () => {
    const { mem, dev } = make();
    const old = readAt(mem, 0);
    const old512 = readAt(mem, 512);
    dev.addFault({ kind: 'write', action: 'hold' });
    writeAt(dev, 0, 1);
    writeAt(dev, 0, 2);
    writeAt(dev, 512, 3);
    assert.deepStrictEqual(dev.held.map((h) => [h.id, h.off]), [[0, 0], [1, 0], [2, 512]]);
    assert.ok(Buffer.from(readAt(dev, 0)).equals(Buffer.from(old)), 'reads see the media');
    dev.readsSeeHeld = true;
    assert.strictEqual(readAt(dev, 0)[0], 2, 'or, coherent, the newest held write');
    dev.readsSeeHeld = false;
    // Land the newer write first, then the older one: the older one wins (reordered completion).
    dev.release(1);
    assert.strictEqual(readAt(mem, 0)[0], 2);
    dev.release(0);
    assert.strictEqual(readAt(mem, 0)[0], 1);
    assert.strictEqual(dev.dropHeld(), 1, 'the write at 512 is lost');
    assert.ok(Buffer.from(readAt(mem, 512)).equals(Buffer.from(old512)));
    expectFsError(() => dev.release(), 'EINVAL', 'nothing held');
    assert.deepStrictEqual(dev.log.filter((r) => r.kind === 'release').map((r) => r.off), [0, 0]);
    assert.strictEqual(dev.counts.releases, 2);
    // A flush lands held writes first, unless the device lies about flushes.
    writeAt(dev, 1024, 9);
    dev.flush();
    assert.strictEqual(readAt(mem, 1024)[0], 9);
    dev.holdAcrossFlush = true;
    writeAt(dev, 1536, 9);
    dev.flush();
    assert.strictEqual(dev.held.length, 1);
    assert.strictEqual(dev.releaseAll(), 1);
    assert.strictEqual(readAt(mem, 1536)[0], 9);
  });

  it('onFault sees every injected fault as it happens; resetStats clears the logs', () => {
    const { dev } = make();
    const seen: string[] = [];
    dev.onFault = (f) => seen.push(`${f.action}@${f.off}`);
    dev.addFault({ kind: 'write', action: 'drop', count: 1 });
    dev.addFault({ kind: 'read', count: 1 });
    writeAt(dev, 0, 1);
    expectFsError(() => readAt(dev, 0), 'EIO');
    assert.deepStrictEqual(seen, ['drop@0', 'error@0']);
    dev.resetStats();
    assert.deepStrictEqual([dev.injected, dev.log, dev.counts.drops], [[], [], 0]);
  });

  it('validates rules', () => {
    const { dev } = make();
    for (const bad of [
      { kind: 'erase' }, { kind: 'read', action: 'explode' }, { kind: 'read', probability: 2 }, { kind: 'read', probability: NaN },
      { kind: 'read', after: -1 }, { kind: 'read', count: 1.5 }, { kind: 'read', errno: 0 }, { kind: 'write', action: 'hold', seed: 'x' },
    ]) {
      expectFsError(() => dev.addFault(bad as unknown as Parameters<FaultDevice['addFault']>[0]), 'EINVAL', JSON.stringify(bad));
    }
    assert.strictEqual(dev.rules.length, 0);
  });
});

describe('FaultDevice under the file API (refs)', () => {
  it('latency steps interleave with writeback: a held data write is not on the media until released', () => {
    const mem = new MemoryDevice({ size: 4 << 20 });
    const dev = new FaultDevice(mem, { holdAcrossFlush: true });
    IomapFs.mkfs(dev, { blockSize: 4096, metaBytes: 65536 });
    const fsys = IomapFs.mount(dev);
    const fh = fsys.open('f', { create: true });
    const data = pattern(9, 8192);
    fh.pwrite(0, data);
    const start = fsys.refs.sb.dataStart * 4096;
    dev.addFault({ kind: 'write', action: 'hold', off: start, len: dev.size - start });
    fh.fsync(); // acknowledged: the device said the data writes completed
    assert.ok(dev.held.length >= 1);
    fsys.dropCaches();
    assert.ok(!Buffer.from(fh.pread(0, 8192)).equals(Buffer.from(data)), 'the media does not have it yet');
    dev.clearFaults();
    dev.releaseAll();
    fsys.dropCaches();
    assert.ok(Buffer.from(fh.pread(0, 8192)).equals(Buffer.from(data)), 'landed');
    assert.deepStrictEqual(dev.injected.map((f) => f.action).filter((a) => a !== 'hold'), []);
  });
});
