/**
 * Fault properties on refs over FaultDevice(MemoryDevice) through IomapFs (properties/oracle/
 * fault.ts): (a) writeback EIO and errseq, (b) read EIO, (c) dropped writes, (d) read corruption.
 * Hand-written workloads pin the rules; seeded random workloads run for a bounded time each.
 * FAULT_WORKLOADS=N runs N workloads per mode instead of the time budget.
 */
import { strict as assert } from 'assert';
import type { FaultSpec } from '../reference/device/fault';
import { modelBugs } from '../reference/bugs';
import {
  FaultCampaignResult, FaultMode, FaultOp, FaultWorkload, dataStartBytes, describeFaultOp, faultGeometryFor, generateFaultWorkload,
  runFaultCampaign, runFaultWorkload, shrinkFaultWorkload,
} from '../properties/oracle/fault';

/** Known refs deviations to tolerate in random runs: none any more (the AS_EIO one is fixed). */
const TOLERATE: Array<'legacy-eio-after-fsync'> = [];

function workload(mode: FaultMode, ops: FaultOp[], files = 1, seed = 1): FaultWorkload {
  const geometry = faultGeometryFor(seed, { blockSize: 4096, sectorSize: 512, folioSize: 16384 });
  return { seed, mode, geometry, files, slots: 4, ops };
}

function dataRule(w: FaultWorkload, spec: Omit<FaultSpec, 'off' | 'len'>): FaultOp {
  const start = dataStartBytes(w.geometry);
  return { op: 'fault', rule: { ...spec, off: start, len: w.geometry.deviceSize - start } };
}

function clean(r: ReturnType<typeof runFaultWorkload>): void {
  assert.deepStrictEqual(r.violations, [], r.report.join('\n'));
}

describe('fault properties (a): writeback EIO is reported once per open file (errseq)', () => {
  it('first fsync EIO, second 0; an fd open before the error reports it once; one opened after the report does not', () => {
    const w = workload('write-eio', []);
    w.ops = [
      { op: 'write', slot: 0, off: 0, len: 8192 },
      { op: 'open', file: 0, slot: 1 }, // before the error
      dataRule(w, { kind: 'write', count: 1 }),
      { op: 'fsync', slot: 0 },
      { op: 'fsync', slot: 0 },
      { op: 'open', file: 0, slot: 2 }, // after someone reported it
      { op: 'fsync', slot: 2 },
      { op: 'fsync', slot: 1 },
      { op: 'fdatasync', slot: 1 },
      { op: 'read', slot: 0, off: 0, len: 8192 }, // the clean cache still has the data
      { op: 'syncdrop' }, // then it reads back as old (zeroes: never stored)
    ];
    const r = runFaultWorkload(w);
    clean(r);
    assert.deepStrictEqual(r.syncTrace, [[3, 'f0', 'EIO'], [4, 'f0', 0], [6, 'f0', 0], [7, 'f0', 'EIO'], [8, 'f0', 0]]);
    assert.ok(r.notes.some((n) => /lost 8192 byte\(s\) to write failures/.test(n)), r.notes.join('\n'));
  });

  it('an fd opened after the error, before anybody reported it, reports it; background writeback errors count too', () => {
    const w = workload('write-eio', []);
    w.ops = [
      { op: 'write', slot: 0, off: 0, len: 5000 },
      dataRule(w, { kind: 'write', count: 1 }),
      { op: 'writeback', slot: 0 }, // submitted (and failed at the device), not completed
      { op: 'open', file: 0, slot: 1 },
      { op: 'complete', which: 0 },
      { op: 'open', file: 0, slot: 2 },
      { op: 'fsync', slot: 1 },
      { op: 'fsync', slot: 2 },
      { op: 'fsync', slot: 0 },
      { op: 'fsync', slot: 0 },
      { op: 'open', file: 0, slot: 3 },
      { op: 'fsync', slot: 3 },
    ];
    const r = runFaultWorkload(w);
    clean(r);
    assert.deepStrictEqual(r.syncTrace.map((t) => t[2]), ['EIO', 'EIO', 'EIO', 0, 0]);
  });

  it('two failures before any check are one report; a new failure after it is reported again', () => {
    const w = workload('write-eio', []);
    w.ops = [
      { op: 'write', slot: 0, off: 0, len: 4096 },
      { op: 'write', slot: 0, off: 32768, len: 4096 },
      dataRule(w, { kind: 'write', count: 2 }),
      { op: 'sync' }, // both writes fail; sync() itself reports nothing
      { op: 'fsync', slot: 0 },
      { op: 'fsync', slot: 0 },
      { op: 'write', slot: 0, off: 4096, len: 100 },
      dataRule(w, { kind: 'write', count: 1 }),
      { op: 'fsync', slot: 0 },
      { op: 'fsync', slot: 0 },
    ];
    const r = runFaultWorkload(w);
    clean(r);
    assert.deepStrictEqual(r.syncTrace.map((t) => t[2]), ['EIO', 0, 'EIO', 0]);
    assert.strictEqual(r.injected.length, 3);
  });

  it('errors are per file: a failure in f1 is not reported by f0', () => {
    const w = workload('write-eio', [], 2);
    w.ops = [
      { op: 'write', slot: 0, off: 0, len: 4096 },
      { op: 'fsync', slot: 0 },
      { op: 'write', slot: 1, off: 0, len: 4096 },
      dataRule(w, { kind: 'write', count: 1 }),
      { op: 'sync' },
      { op: 'fsync', slot: 0 },
      { op: 'fsync', slot: 1 },
    ];
    const r = runFaultWorkload(w);
    clean(r);
    assert.deepStrictEqual(r.syncTrace, [[1, 'f0', 0], [5, 'f0', 0], [6, 'f1', 'EIO']]);
  });

  it('catches a filesystem that does not record writeback errors (bug zoo: writeback-error-lost)', () => {
    const w = workload('write-eio', [{ op: 'write', slot: 0, off: 0, len: 4096 }]);
    w.ops.push(dataRule(w, { kind: 'write', count: 1 }), { op: 'fsync', slot: 0 });
    modelBugs.writebackErrorNotRecorded = true;
    let r;
    try {
      r = runFaultWorkload(w);
    } finally {
      modelBugs.writebackErrorNotRecorded = false;
    }
    assert.deepStrictEqual(r.violations.map((v) => [v.kind, v.op, v.file]), [['errseq-missed', 2, 'f0']]);
  });

  it('catches stale blocks exposed by a failed writeback (bug zoo: metadata-before-data)', () => {
    // Allocated as WRITTEN before the data write: when that write fails, the committed extent
    // exposes whatever the (poisoned) device held there.
    const w = workload('write-eio', [{ op: 'write', slot: 0, off: 100, len: 6000 }]);
    w.ops.push(dataRule(w, { kind: 'write', count: 1 }), { op: 'fsync', slot: 0 }, { op: 'syncdrop' });
    clean(runFaultWorkload(w));
    const r = runFaultWorkload(w, { bugs: { allocWrittenAtWriteback: true } });
    assert.deepStrictEqual(r.violations.map((v) => v.kind), ['bad-bytes'], r.report.join('\n'));
  });

  it('shrinks a failing random workload to the few ops that matter', () => {
    modelBugs.writebackErrorNotRecorded = true;
    try {
      const w = generateFaultWorkload({ seed: 1, mode: 'write-eio' });
      assert.ok(runFaultWorkload(w, { tolerate: TOLERATE }).violations.length > 0);
      const s = shrinkFaultWorkload(w, { tolerate: TOLERATE });
      assert.ok(s.ops.length <= 4 && s.ops.length < w.ops.length, s.ops.map(describeFaultOp).join('; '));
      assert.strictEqual(runFaultWorkload(s).violations[0].kind, 'errseq-missed');
      assert.ok(s.ops.some((o) => o.op === 'fault'), 'the fault step is part of the minimal case');
    } finally {
      modelBugs.writebackErrorNotRecorded = false;
    }
  });
});

describe('fault properties (b)-(d): read errors, dropped writes, read corruption', () => {
  it('(b) a read error returns EIO (or a short read), never wrong data, and leaves nothing behind', () => {
    const w = workload('read-eio', []);
    w.ops = [
      { op: 'write', slot: 0, off: 0, len: 20000 },
      { op: 'syncdrop' },
      dataRule(w, { kind: 'read' }),
      { op: 'read', slot: 0, off: 0, len: 20000 },
      { op: 'mapread', slot: 0, off: 0, len: 100 },
      { op: 'write', slot: 0, off: 30000, len: 10 }, // zeroing past EOF needs the EOF block
      { op: 'write', slot: 0, off: 100, len: 10 }, // read-modify-write of a block
      { op: 'heal' },
      { op: 'read', slot: 0, off: 0, len: 20000 },
    ];
    const r = runFaultWorkload(w);
    clean(r);
    assert.strictEqual(r.failedOps, 4, r.report.join('\n'));
  });

  it('(c) a dropped write is invisible in the cache and found by the oracle once the cache is dropped', () => {
    const w = workload('drop', []);
    w.ops = [
      dataRule(w, { kind: 'write', action: 'drop', count: 1 }),
      { op: 'write', slot: 0, off: 0, len: 12288 },
      { op: 'fsync', slot: 0 },
      { op: 'read', slot: 0, off: 0, len: 12288 },
    ];
    const before = runFaultWorkload(w);
    clean(before);
    assert.deepStrictEqual(before.detections.map((d) => d.phase), ['final'], 'not before the final drop of the cache');
    const mid = runFaultWorkload({ ...w, ops: [...w.ops, { op: 'syncdrop' }] });
    clean(mid);
    assert.deepStrictEqual(mid.detections.map((d) => [d.phase, d.file]), [['mid-run', 'f0']]);
    // Without the drop nothing is flagged.
    const none = runFaultWorkload({ ...w, ops: [...w.ops.slice(1), { op: 'syncdrop' }] });
    clean(none);
    assert.deepStrictEqual(none.detections, []);
  });

  it('(d) a corrupted read reaches the program and the oracle flags exactly that byte', () => {
    const w = workload('corrupt', []);
    w.ops = [
      { op: 'write', slot: 0, off: 0, len: 8192 },
      { op: 'syncdrop' },
      dataRule(w, { kind: 'read', action: 'corrupt', count: 1, xor: 0x40 }),
      { op: 'read', slot: 0, off: 0, len: 8192 },
    ];
    const r = runFaultWorkload(w);
    clean(r);
    assert.strictEqual(r.detections.length, 1);
    assert.strictEqual(r.detections[0].bytes, 1);
    const f = r.injected.find((x) => x.action === 'corrupt')!;
    assert.strictEqual(f.to, f.from! ^ 0x40);
  });

  it('workloads replay deterministically', () => {
    for (const mode of ['write-eio', 'read-eio', 'drop', 'corrupt'] as const) {
      const w = generateFaultWorkload({ seed: 3, mode });
      assert.deepStrictEqual(w, generateFaultWorkload({ seed: 3, mode }));
      const a = runFaultWorkload(w, { tolerate: TOLERATE });
      const b = runFaultWorkload(w, { tolerate: TOLERATE });
      assert.deepStrictEqual([a.injected, a.syncTrace, a.detections, a.violations], [b.injected, b.syncTrace, b.detections, b.violations]);
    }
  });
});

describe('fault properties: seeded random workloads on refs', () => {
  const n = Number(process.env.FAULT_WORKLOADS ?? 0);
  const budget = (mode: FaultMode): FaultCampaignResult =>
    runFaultCampaign(n > 0 ? { mode, count: n, tolerate: TOLERATE } : { mode, count: 200, timeMs: 1000, tolerate: TOLERATE });
  const show = (r: FaultCampaignResult): void => {
    console.log(`    ${r.mode}: ${r.workloads} workloads, ${r.ops} ops, ${r.injected} faults injected, ${r.failedOps} ops failed, ` +
      `${r.syncChecks} fsync results checked (${r.syncErrors} EIO), ${r.damagedWorkloads} damaged / ${r.detectedWorkloads} detected, ${r.elapsedMs} ms`);
  };
  const failures = (r: FaultCampaignResult): string[] => r.failures.map((f) => f.report.join('\n'));

  it('(a) write EIO: errseq, clean folios, no retries, data lost only as Linux allows', function () {
    this.timeout(0);
    const r = budget('write-eio');
    show(r);
    assert.deepStrictEqual(failures(r), []);
    assert.ok(r.syncErrors > 0 && r.damagedWorkloads > 0, 'the faults were exercised');
  });

  it('(b) read EIO: errors or short reads, never wrong data', function () {
    this.timeout(0);
    const r = budget('read-eio');
    show(r);
    assert.deepStrictEqual(failures(r), []);
    assert.ok(r.failedOps > 0, 'some reads failed');
  });

  it('(c) dropped writes: every damaged workload is detected after the cache is dropped, reads return the media', function () {
    this.timeout(0);
    const r = budget('drop');
    show(r);
    assert.deepStrictEqual(failures(r), []);
    assert.ok(r.damagedWorkloads > 0);
    assert.strictEqual(r.detectedWorkloads, r.damagedWorkloads);
  });

  it('(d) read corruption: every flip that reaches a file is flagged, reads are media plus the flips', function () {
    this.timeout(0);
    const r = budget('corrupt');
    show(r);
    assert.deepStrictEqual(failures(r), []);
    assert.ok(r.detectedWorkloads > 0);
  });
});

describe('fault properties: regression of a fixed refs deviation', () => {
  it('an extending write after fsync reported a writeback error does not return EIO again (fsync clears the legacy AS_EIO bit)', () => {
    const w = workload('write-eio', []);
    w.ops = [
      { op: 'write', slot: 0, off: 0, len: 5000 },
      { op: 'fsync', slot: 0 },
      { op: 'write', slot: 0, off: 0, len: 5000 },
      dataRule(w, { kind: 'write', count: 1 }),
      { op: 'fsync', slot: 0 }, // EIO: reported
      { op: 'fsync', slot: 0 }, // 0
      { op: 'write', slot: 0, off: 4096, len: 100 }, // re-dirty the EOF block
      { op: 'write', slot: 0, off: 20000, len: 10 }, // Linux: succeeds; refs: EIO from the zeroing flush
    ];
    const r = runFaultWorkload(w);
    clean(r);
  });
});
