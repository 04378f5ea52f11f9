/**
 * FaultDevice: EIO for reads/writes overlapping configured byte ranges, switchable at run time,
 * argument validation before any fault, no side effects from a failed request, counters and log.
 */
import * as assert from 'assert';
import { MemoryDevice } from '../reference/device/memory';
import { FaultDevice } from '../reference/device/fault';
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
