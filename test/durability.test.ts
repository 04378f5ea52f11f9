/**
 * The fsx crash op's durability tracker (properties/fsx/durability.ts) judges only the ranges
 * changed since the last fsync and keeps no whole-file copy. Its specification is the crash
 * envelope over whole versions (properties/oracle/crash.ts), which is what the tracker used to
 * build: here both judge the same random histories and found files, and must give the same
 * violations, message for message. Found files are drawn from the versions (a mix per 512-byte
 * unit and per byte), with lost acknowledged bytes, stray bytes and wrong sizes, so that both
 * verdicts occur. Then: offsets past 2^32 and a large file read back only where it changed.
 */
import { strict as assert } from 'assert';
import { DurabilityTracker, FULL_CHECK_BYTES, InFlightWrite } from '../properties/fsx/durability';
import { SparseBytes } from '../properties/oracle/bytes';
import { CrashEnvelope, CrashViolation } from '../properties/oracle/crash';
import { CrashDevice, CrashRng } from '../reference/device/crash';
import { MemoryDevice } from '../reference/device/memory';
import { ReferenceAdapter } from '../adapters/reference';
import { replayLog, runFsx } from '../properties/fsx/engine';
import { defaultOptions } from '../properties/fsx/generator';
import { OP_CRASH } from '../properties/fsx/ops';

const FILE = 'the file';

/** The whole-file judge: every version materialised, handed to the envelope as the tracker once did. */
class WholeFileJudge {
  private base = new Uint8Array(0);
  private baseAck: string | null = null;
  private versions: Array<{ label: string; data: Uint8Array; ack?: { off: number; len: number } }> = [];

  acknowledge(o: SparseBytes, label: string): void {
    this.base = Uint8Array.from(o.read(0, o.size));
    this.baseAck = label;
    this.versions = [];
  }

  record(label: string, o: SparseBytes, ack?: { off: number; len: number }): void {
    this.versions.push({ label, data: Uint8Array.from(o.read(0, o.size)), ...(ack ? { ack } : {}) });
  }

  recordSize(label: string, size: number): void {
    const prev = this.versions.length ? this.versions[this.versions.length - 1].data : this.base;
    const next = new Uint8Array(size);
    next.set(prev.subarray(0, Math.min(prev.length, size)));
    this.versions.push({ label, data: next });
  }

  latest(): Uint8Array {
    return this.versions.length ? this.versions[this.versions.length - 1].data : this.base;
  }

  check(got: Uint8Array, inflight: InFlightWrite[]): CrashViolation[] {
    const env = new CrashEnvelope();
    env.versionsByDesc = true;
    env.initial(FILE, this.base);
    let pos = 0;
    if (this.baseAck !== null) {
      env.begin(this.baseAck, pos);
      env.set(FILE, this.base);
      env.acknowledge([FILE]);
      env.end(pos++);
    }
    for (const v of this.versions) {
      env.begin(v.label, pos);
      env.set(FILE, v.data);
      if (v.ack) env.acknowledgeRange(FILE, v.ack.off, v.ack.len);
      env.end(pos++);
    }
    if (inflight.length > 0) {
      const next = this.latest().slice();
      for (const f of inflight) next.set(f.data.subarray(0, Math.max(0, Math.min(f.data.length, next.length - f.off))), f.off);
      env.begin('direct writes in flight', pos);
      env.set(FILE, next);
      env.end(pos++);
    }
    return env.check(new Map([[FILE, got]]), pos);
  }
}

/** A random history on a small file, recorded by both judges. */
function history(rng: CrashRng, tr: DurabilityTracker, whole: WholeFileJudge, o: SparseBytes, steps: number): void {
  for (let i = 0; i < steps; i++) {
    const label = `op ${i + 1}`;
    const r = rng.below(100);
    const off = rng.below(40000);
    const len = 1 + rng.below(9000);
    if (r < 8) {
      tr.acknowledge(o, `${label} fsync`);
      whole.acknowledge(o, `${label} fsync`);
      continue;
    }
    let ack: { off: number; len: number } | undefined;
    if (r < 45) o.write(off, new Uint8Array(len).fill(1 + rng.below(255)));
    else if (r < 55) ack = (o.write(off, new Uint8Array(len).fill(1 + rng.below(255))), { off, len });
    else if (r < 65) o.truncate(rng.below(50000));
    else if (r < 72) o.punch(off, len);
    else if (r < 78 && off + len < o.size) o.collapse(off, len);
    else if (r < 84 && off < o.size) {
      tr.recordSize(`${label} insert (size raised)`, o.size + len);
      whole.recordSize(`${label} insert (size raised)`, o.size + len);
      o.insert(off, len);
    } else if (r < 92) o.copyWithin(rng.below(30000), len, off);
    else o.zeroRange(off, len, rng.chance(0.5));
    if (!o.hasChanges() && ack === undefined) continue;
    tr.record(label, o, ack);
    whole.record(label, o, ack);
  }
}

/** A found file: per unit (sometimes per byte) some version's bytes, then a few accidents. */
function foundFile(rng: CrashRng, whole: WholeFileJudge, tr: DurabilityTracker, inflight: InFlightWrite[]): Uint8Array {
  const vs = [(whole as unknown as { base: Uint8Array }).base, ...(whole as unknown as { versions: Array<{ data: Uint8Array }> }).versions.map((v) => v.data)];
  const size = rng.chance(0.8) ? vs[rng.below(vs.length)].length : rng.below(60000);
  const got = new Uint8Array(size);
  const at = (v: Uint8Array, x: number) => (x < v.length ? v[x] : 0);
  for (let u = 0; u < size; u += 512) {
    const perByte = rng.chance(0.1);
    let v = vs[rng.below(vs.length)];
    for (let x = u; x < Math.min(size, u + 512); x++) {
      if (perByte) v = vs[rng.below(vs.length)];
      got[x] = at(v, x);
    }
  }
  for (const f of inflight) if (rng.chance(0.5)) got.set(f.data.subarray(0, Math.max(0, Math.min(f.data.length, size - f.off))), Math.min(f.off, size));
  const accidents = rng.below(3);
  for (let i = 0; i < accidents && size > 0; i++) got[rng.below(size)] = rng.below(256);
  void tr;
  return got;
}

describe('durability tracker', () => {
  it('gives the whole-file envelope\'s verdict and report on random histories (600 cases)', () => {
    let failing = 0;
    let passing = 0;
    for (let seed = 1; seed <= 600; seed++) {
      const rng = new CrashRng(seed);
      const o = new SparseBytes(4096);
      const tr = new DurabilityTracker(o);
      const whole = new WholeFileJudge();
      history(rng, tr, whole, o, 1 + rng.below(24));
      const inflight: InFlightWrite[] = [];
      if (rng.chance(0.2) && o.size > 1024) {
        const off = rng.below(o.size - 512);
        inflight.push({ off, data: new Uint8Array(512).fill(0xee) });
      }
      const got = foundFile(rng, whole, tr, inflight);
      const want = whole.check(got, inflight);
      // The fast path of both: the newest contents are always allowed.
      const newest = got.length === o.size && o.compare(0, got) === null;
      const have = tr.check(got, inflight);
      assert.deepEqual(have, newest ? [] : want, `seed ${seed}`);
      if (have.length > 0) failing++;
      else passing++;
    }
    assert.ok(failing > 100 && passing > 100, `both verdicts occur: ${failing} failing, ${passing} passing`);
  });

  it('keeps no copy of the file at an fsync and stores only the stored pieces of a change', () => {
    const o = new SparseBytes();
    const tr = new DurabilityTracker(o);
    o.write(2 ** 40, new Uint8Array(4096).fill(7));
    tr.acknowledge(o, 'fsync');
    // An extension by 2^41 bytes of zeroes and a write far past it: nothing is copied for the gap.
    o.truncate(2 ** 42);
    tr.record('truncate up', o);
    o.write(2 ** 43, new Uint8Array(100).fill(9));
    tr.record('write', o);
    const heap = process.memoryUsage().arrayBuffers;
    assert.ok(heap < 512 * 2 ** 20, `array buffers: ${heap}`);
    assert.equal(tr.largestSize([]), 2 ** 43 + 100);
  });

  it('judges a file past 2^32 bytes over its changed ranges (and catches a lost acknowledged byte there)', () => {
    const o = new SparseBytes();
    const tr = new DurabilityTracker(o);
    o.write(2 ** 40, new Uint8Array(4096).fill(7));
    tr.acknowledge(o, 'op 1 fsync');
    o.write(2 ** 40 + 8192, new Uint8Array(512).fill(9));
    tr.record('op 2 write', o);
    const size = o.size;
    assert.ok(size > FULL_CHECK_BYTES);
    const ranges = tr.rangesToRead(size, []);
    assert.deepEqual(ranges, [[2 ** 40 + 8192, 512]], 'only the write is read (the gap before it reads zero in every version)');
    // Everything lost but the fsync: the old size, a shorter file.
    assert.deepEqual(tr.check({ size: 2 ** 40 + 4096, pieces: [] }, []), []);
    // The new write landed, the zeroes before it too.
    const landed = new Uint8Array(512).fill(9);
    assert.deepEqual(tr.check({ size, pieces: [{ off: 2 ** 40 + 8192, data: landed }] }, []), []);
    // A byte of the gap reads as garbage.
    const bad = landed.slice();
    bad[10] = 0x55;
    const v = tr.check({ size, pieces: [{ off: 2 ** 40 + 8192, data: bad }] }, []);
    assert.equal(v.length, 1);
    assert.equal(v[0].kind, 'bad-bytes');
    assert.equal(v[0].offset, 2 ** 40 + 8192 + 10);
    // An acknowledged byte changed by the crash is read back as well once an op changed it.
    o.write(2 ** 40, Uint8Array.of(8));
    tr.record('op 3 write', o);
    const r2 = tr.rangesToRead(size, []);
    assert.deepEqual(r2[0], [2 ** 40, 512]);
    const lost = new Uint8Array(512).fill(7);
    lost[0] = 0x33;
    const v2 = tr.check({ size, pieces: [{ off: 2 ** 40, data: lost }, { off: 2 ** 40 + 8192, data: landed }] }, []);
    assert.equal(v2[0]?.offset, 2 ** 40);
  });

  // A sparse file is read back in many pieces; the judge finds a piece by binary search when they
  // are ascending (as the runner reads them), else by looking through all: the same verdicts.
  it('judges a file read back in many pieces alike in order and out of order', () => {
    const o = new SparseBytes();
    const tr = new DurabilityTracker(o);
    o.write(0, new Uint8Array(4096).fill(1));
    tr.acknowledge(o, 'op 1 fsync');
    for (let k = 0; k < 20; k++) {
      o.write(2 ** 40 + k * 2 ** 30, new Uint8Array(700).fill(10 + k));
      tr.record(`op ${k + 2} write`, o);
    }
    const size = o.size;
    const ranges = tr.rangesToRead(size, []);
    assert.equal(ranges.length, 20);
    const pieces: Array<{ off: number; data: Uint8Array }> = ranges.map(([off, len]) => ({ off, data: o.read(off, len) }));
    const shuffled = (ps: typeof pieces) => ps.map((_, i) => ps[(i * 7) % ps.length]);
    assert.deepEqual(tr.check({ size, pieces }, []), []);
    assert.deepEqual(tr.check({ size, pieces: shuffled(pieces) }, []), []);
    const bad = pieces.map((p) => ({ off: p.off, data: Uint8Array.from(p.data) }));
    bad[13].data[600] = 0x55;
    const inOrder = tr.check({ size, pieces: bad }, []);
    assert.equal(inOrder.length, 1);
    assert.equal(inOrder[0].offset, bad[13].off + 600);
    assert.deepEqual(tr.check({ size, pieces: shuffled(bad) }, []), inOrder);
  });

  // fsx fault_write: a write-back that failed leaves its blocks as they were last written. When
  // that write was truncate's zeroing of the EOF block (ext4 leaves it dirty), the bytes truncate
  // cut off read back after a later extension: allowed over the failed range only.
  it('allows bytes a truncate cut off, over a failed write-back only (ext4, 16k blocks, 4 ops)', () => {
    const o = new SparseBytes();
    const tr = new DurabilityTracker(o);
    o.write(0, new Uint8Array(8704).fill(1));
    tr.record('op 1 write', o);
    o.truncate(8192);
    tr.record('op 2 truncate', o);
    o.truncate(16384);
    tr.record('op 3 fallocate', o);
    const found = new Uint8Array(16384);
    found.fill(1, 0, 8704); // the zeroing of [8192, 16384) was the write that failed
    const block = [{ off: 0, len: 16384 }];
    assert.equal(tr.check(found, [], o)[0]?.offset, 8192, 'a power cut may not bring them back');
    assert.deepEqual(tr.check(found, [], o, block), []);
    assert.equal(tr.check(found, [], o, [{ off: 0, len: 4096 }])[0]?.offset, 8192, 'a failure elsewhere does not allow them');
    const garbage = found.slice();
    garbage[8300] = 0x55;
    const v = tr.check(garbage, [], o, block);
    assert.equal(v[0]?.offset, 8300, 'bytes of no version still fail');
    assert.equal(v[0]?.kind, 'bad-bytes');
  });

  // A store through the mapping dirties its folios whole (page_mkwrite), so their writeback may
  // tear an atomic write in them: only those folios (naturally aligned) lose the all-or-nothing
  // check. One folio further, a torn atomic write is still reported.
  it('a store through the mapping ends the all-or-nothing check in its own folios only', () => {
    const torn = (storeOff: number, span: number): number => {
      const tr = new DurabilityTracker(new SparseBytes());
      tr.addAtomic({ label: 'op 3 write_atomic', parts: [{ off: 0, old: new Uint8Array(4096).fill(1), neu: new Uint8Array(4096).fill(2) }] });
      tr.forgetAtomicNear(storeOff, storeOff + 100, span);
      const found = new Uint8Array(65536 + 4096).fill(1, 0, 2048).fill(2, 2048, 4096);
      return tr.checkAtomic({ size: found.length, pieces: [{ off: 0, data: found }] }, []).length;
    };
    assert.equal(torn(8192, 65536), 0, 'same 64 KiB folio: forgotten');
    assert.equal(torn(65536, 65536), 1, 'the next folio: still judged (it was forgotten while the store was within a folio\'s length)');
    assert.equal(torn(65536, 2 * 1024 * 1024), 0, 'folio size unknown: 2 MiB');
    assert.equal(torn(2 * 1024 * 1024, 2 * 1024 * 1024), 1);
  });

  // checkAtomic compares what was read back piece by piece (a sparse file is read in pieces):
  // bytes outside the pieces are not judged, and a torn change is named by the first byte read
  // back, part by part, that differs from the old bytes and from the new ones.
  it('a torn all-or-nothing change is found across pieces and parts, naming the first differing bytes', () => {
    const tr = new DurabilityTracker(new SparseBytes());
    tr.addAtomic({ label: 'op 5 exchange_range', parts: [
      { off: 0, old: new Uint8Array(4096).fill(1), neu: new Uint8Array(4096).fill(2) },
      { off: 8192, old: new Uint8Array(4096).fill(3), neu: new Uint8Array(4096).fill(4) },
    ] });
    const piece = (off: number, len: number, v: number) => ({ off, data: new Uint8Array(len).fill(v) });
    const judge = (pieces: Array<{ off: number; data: Uint8Array }>) => tr.checkAtomic({ size: 16384, pieces }, []);
    assert.deepEqual(judge([piece(0, 1024, 1), piece(2048, 1024, 1), piece(8192, 4096, 3)]), [], 'wholly old where read');
    assert.deepEqual(judge([piece(0, 4096, 2), piece(8192, 100, 4)]), [], 'wholly new where read');
    const mixed = piece(2048, 1024, 1);
    mixed.data[2500 - 2048] = 2;
    const v = judge([piece(0, 1024, 1), mixed, piece(8192, 4096, 3)]);
    assert.equal(v.length, 1);
    assert.match(v[0], /old bytes differ first at 0x9c4, the new ones at 0x0\)/);
    const v2 = judge([piece(0, 4096, 1), piece(9000, 50, 4)]);
    assert.match(v2[0], /old bytes differ first at 0x2328, the new ones at 0x0\)/, 'the second part tears it');
  });

  describe('power cuts cost nothing in a run without crash ops', () => {
    const quiet = { out: () => undefined, err: () => undefined };
    const run = (crash: number) => {
      const a = new ReferenceAdapter();
      const weights = defaultOptions().weights.slice();
      weights[OP_CRASH] = crash;
      let recording: boolean | undefined;
      const r = runFsx(a, 'reference', { ...defaultOptions(), numOps: 300, seed: 3, quiet: true, weights }, quiet, {
        runner: () => { recording = a.crashDevice()?.recording; },
      });
      return { r, recording, after: a };
    };

    it('--weight crash=0: the crash device records nothing (and a replay of that log neither)', () => {
      const { r, recording } = run(0);
      assert.equal(r.failure, null, r.report.join('\n'));
      assert.equal(recording, false);
      const b = new ReferenceAdapter();
      let again: boolean | undefined;
      replayLog(b, 'reference', r.log(), { quiet: true, debug: false, logDumpOps: 0 }, quiet, { runner: () => { again = b.crashDevice()?.recording; } });
      assert.equal(again, false);
    });

    it('with crash ops the device keeps its log', () => {
      const { r, recording } = run(20);
      assert.equal(r.failure, null, r.report.join('\n'));
      assert.equal(recording, true);
    });

    it('a CrashDevice that stopped recording refuses to build crash states', () => {
      const dev = new CrashDevice(new MemoryDevice({ size: 1 << 20 }));
      dev.write(0, new Uint8Array(512).fill(1));
      dev.stopLogging();
      dev.write(512, new Uint8Array(512).fill(2));
      assert.throws(() => dev.choose(1), /recording was stopped/);
      assert.throws(() => dev.crashPoint(dev.position), /recording was stopped/);
    });
  });
});
