/**
 * fsx's interleaving ops (docs/fsx.md "Interleaving steps"): generated only where the target has
 * FileTarget.interleave, recorded in op logs (version 2) and .fsxops, replayed identically; the
 * runner's rules for asynchronous direct writes (old or new bytes until every I/O completed) and
 * race ops (run inside the next buffered write); and the bug-zoo mutants they make fsx catch.
 */
import { strict as assert } from 'assert';
import { createNaiveAdapter } from '../adapters/naive';
import { loadAdapter } from '../adapters/registry';
import type { FileAdapter, FileTarget, InterleavingSteps } from '../adapters/types';
import { replayLog, runFsx } from '../properties/fsx/engine';
import { classicWeights, defaultOptions, defaultWeights, FsxOptions } from '../properties/fsx/generator';
import { fromFsxops, OpLog, OPLOG_VERSION, parseOpLog, serializeOpLog, toFsxops, validateOpLog } from '../properties/fsx/oplog';
import { INTERLEAVE_OPS, OPS } from '../properties/fsx/ops';
import { withTarget } from './support/broken-adapters';

const quiet = { out: () => undefined, err: () => undefined };
const ro = { quiet: true, debug: false, logDumpOps: 100 };

/** fsx with the unguided generator (--no-guide): the seeds and op counts below are that sequence's. */
/** No remounts and no bad-argument ops (docs/fsx.md): the op mix of the interleaving figures. */
const CLASSIC: Partial<FsxOptions> = {
  invalidArgs: false,
  weights: defaultWeights().map((w, code) => (OPS[code].name === 'remount' ? 0 : w)),
};

function fsx(adapter: FileAdapter, o: Partial<FsxOptions>) {
  return runFsx(adapter, adapter.name, { ...defaultOptions(), quiet: true, guide: false, ...o }, quiet);
}

function log(ops: OpLog['ops'], extra: Partial<OpLog> = {}): OpLog {
  return { format: 'iomap-harness-oplog', version: OPLOG_VERSION, adapter: 'x', geometry: { blockSize: 4096, pageSize: 4096 }, seed: 1, ops, ...extra };
}

/**
 * naive with interleaving steps of its own: asynchronous direct writes are queued and applied at
 * completion (`early`: also stored at once, so readers may see the new bytes before completion;
 * `lost`: never stored), the begin/get_folio window is the start of the next pwrite.
 */
function withSteps(mode: 'normal' | 'early' | 'lost'): FileAdapter {
  return withTarget(createNaiveAdapter(), `steps-${mode}`, (t) => {
    const queue: (() => void)[] = [];
    let step: (() => void) | null = null;
    const il: InterleavingSteps = {
      writeback: () => undefined,
      pendingIo: () => queue.length,
      complete: (i) => queue.splice(i, 1)[0](),
      evict: () => false,
      betweenBeginAndGetFolio: (s) => { step = s; },
      directWriteAsync: (off, data) => {
        const copy = Uint8Array.from(data);
        if (mode === 'early') t.directWrite!(off, copy);
        queue.push(() => { if (mode !== 'lost') t.directWrite!(off, copy); });
      },
    };
    const fsync = () => { while (queue.length > 0) queue.shift()!(); t.fsync(); };
    return {
      interleave: il,
      fsync,
      pwrite(off: number, data: Uint8Array): number {
        const s = step;
        step = null;
        s?.();
        return t.pwrite(off, data);
      },
    } as Partial<FileTarget>;
  });
}

describe('fsx interleaving ops', () => {
  it('are generated on the reference adapter (every one of them), never on naive, not with --no-interleave', () => {
    const r = fsx(loadAdapter('reference'), { numOps: 4000, seed: 3 });
    assert.equal(r.failure, null, r.report.join('\n'));
    const seen = new Set(r.log().ops.map((o) => o.op));
    for (const code of INTERLEAVE_OPS) assert.ok(seen.has(OPS[code].name), `never generated ${OPS[code].name}`);
    const ops = r.log().ops;
    assert.ok(ops.some((o) => o.noMsync === true) && ops.some((o) => o.pollute === true));
    // A race op is always followed by the buffered write it runs inside.
    ops.forEach((o, i) => { if (o.op.startsWith('race_')) assert.equal(ops[i + 1]?.op, 'write', `op ${i + 1}`); });
    const off = fsx(loadAdapter('reference'), { numOps: 4000, seed: 3, interleave: false }).log().ops;
    assert.ok(!off.some((o) => OPS.find((x) => x.name === o.op)!.interleave || o.noMsync === true || o.pollute === true));
  });

  for (const geo of [{}, { blockSize: 1024, folioSize: 16384 }]) {
    it(`reference passes them, and replays its own log identically (${JSON.stringify(geo)})`, () => {
      for (const seed of [11, 12]) {
        const r = fsx(loadAdapter('reference', geo), { numOps: 6000, seed });
        assert.equal(r.failure, null, r.report.join('\n'));
        const l = r.log();
        const again = replayLog(loadAdapter('reference', geo), 'reference', l, ro, quiet);
        assert.equal(again.failure, null);
        assert.deepEqual(again.log().ops, l.ops);
      }
    });
  }

  it('round-trip through JSON and .fsxops (markers #@race, #@async, #@nomsync, #@pollute); version 1 refuses them', () => {
    const r = fsx(loadAdapter('reference'), { numOps: 3000, seed: 4 });
    const l = r.log();
    assert.deepEqual(validateOpLog(JSON.parse(serializeOpLog(l)), 'j'), l);
    const text = toFsxops(l);
    assert.deepEqual(fromFsxops(text, 'x.fsxops'), l);
    assert.match(text, /^#@race\n(write|punch_hole) 0x/m);
    assert.match(text, /^#@async\nwrite 0x/m);
    assert.match(text, /^#@nomsync\n/m);
    assert.match(text, /^#@pollute\n/m);
    assert.match(text, /^#@ writeback 0x0 0x0 0x[0-9a-f]+$/m);
    assert.match(text, /^#@ complete_io 0x[0-9a-f]+ 0x0 0x[0-9a-f]+$/m);
    assert.match(text, /^#@ race_writeback 0x[0-9a-f]+ 0x0 0x[0-9a-f]+$/m);
    const v1 = { ...JSON.parse(serializeOpLog(log([{ op: 'write', off: 0, len: 5 }, { op: 'race_write', off: 0, len: 1 }]))), version: 1 };
    assert.throws(() => validateOpLog(v1, 'old.json'), /^OpLogError: old\.json: ops\[1\]\.op: race_write needs op log version 2 \(this log says version 1\)$/);
    assert.throws(() => validateOpLog({ ...v1, ops: [{ op: 'truncate', off: 0, len: 5, pollute: true }] }, 'old.json'), /ops\[0\]\.pollute: needs op log version 2/);
    assert.throws(() => validateOpLog({ ...v1, version: 2, ops: [{ op: 'read', off: 0, len: 5, noMsync: true }] }, 'n.json'), /ops\[0\]\.noMsync: not valid for read/);
    assert.throws(() => validateOpLog({ ...v1, version: 2, ops: [{ op: 'evict', off: 0, len: 5 }] }, 'n.json'), /ops\[0\]\.len: must be 0 for evict/);
    assert.throws(() => fromFsxops('#@race\nread 0x0 0x1 0x0\n', 'f'), /^OpLogError: f: line 2: #@race \(line 1\) must be followed by a write or punch_hole, got read$/);
    assert.throws(() => fromFsxops('write 0x0 0x1 0x0\n#@async\n', 'f'), /^OpLogError: f: line 2: #@async at the end of the file applies to no op$/);
  });

  it('a race op runs inside the next buffered write, its failures are its own; without the window it runs in order', () => {
    const l = log([
      { op: 'write', off: 0, len: 8192 },
      { op: 'race_write', off: 100, len: 50 },
      { op: 'write', off: 4000, len: 200 },
      { op: 'race_punch', off: 4096, len: 4096 },
      { op: 'write', off: 0, len: 10 },
      { op: 'read', off: 0, len: 8192 },
    ]);
    for (const a of [withSteps('normal'), createNaiveAdapter(), loadAdapter('reference')]) {
      const r = replayLog(a, a.name, l, ro, quiet);
      assert.equal(r.failure, null, `${a.name}: ${r.report.join('\n')}`);
    }
    // A failing race op is charged to its own op number.
    const broken = withTarget(withSteps('normal'), 'bad-punch', (t) => ({
      fallocate(): void { throw new TypeError('punch exploded'); },
      pwrite: t.pwrite.bind(t),
      interleave: t.interleave,
    }));
    const r = replayLog(broken, 'bad-punch', l, ro, quiet);
    assert.equal(r.failure?.kind, 'crash');
    assert.equal(r.failure?.op, 4);
  });

  it('an evict op evicts whether or not coverage is recorded (a replay records none)', () => {
    // The bug: the evict call sat in the argument of the coverage step count (cov?.step(...)), so
    // without a coverage map (--no-guide, replay, shrink) evict ops did nothing and a guided run's
    // failing log could pass on replay.
    let evicts = 0;
    const spying = () => withTarget(loadAdapter('reference'), 'evict-spy', (t) => {
      const il = t.interleave!;
      const spy: InterleavingSteps = new Proxy(il, {
        get: (o, k) => (k === 'evict' ? (off: number) => { evicts++; return o.evict(off); } : Reflect.get(o, k)),
      });
      return { interleave: spy };
    });
    const l = log([{ op: 'write', off: 0, len: 4096 }, { op: 'fsync', off: 0, len: 0 }, { op: 'evict', off: 0, len: 0 }, { op: 'read', off: 0, len: 100 }]);
    const r = replayLog(spying(), 'evict-spy', l, { quiet: true, debug: false, logDumpOps: 0 }, quiet);
    assert.equal(r.failure, null, r.report.join('\n'));
    assert.equal(evicts, 1, 'the replay evicted');
    evicts = 0;
    fsx(spying(), { numOps: 1000, seed: 3, coverage: false });
    const unrecorded = evicts;
    evicts = 0;
    fsx(spying(), { numOps: 1000, seed: 3, coverage: true });
    assert.ok(unrecorded > 0 && unrecorded === evicts, `evicts without coverage ${unrecorded}, with ${evicts}`);
  });

  it('asynchronous direct writes: bytes old or new until every I/O completed, then new; lost ones are bad data', () => {
    const l = log([
      { op: 'write', off: 0, len: 16384 },
      { op: 'write_direct_async', off: 4096, len: 4096 },
      { op: 'read', off: 0, len: 16384 },
      { op: 'mapread', off: 4000, len: 500 },
      { op: 'complete_io', off: 0, len: 0 },
      { op: 'read', off: 0, len: 16384 },
    ]);
    for (const mode of ['normal', 'early'] as const) {
      const r = replayLog(withSteps(mode), mode, l, ro, quiet);
      assert.equal(r.failure, null, `${mode}: ${r.report.join('\n')}`);
    }
    const lost = replayLog(withSteps('lost'), 'lost', l, ro, quiet);
    assert.equal(lost.failure?.kind, 'bad-data');
    assert.equal(lost.failure?.op, 6, 'found at the first read after the completion');
    assert.equal(lost.failure?.offset, 4096);
    // On a target without interleaving steps it is a synchronous direct write; the others are skipped.
    const plain = replayLog(createNaiveAdapter(), 'naive', l, ro, quiet);
    assert.equal(plain.failure, null);
    assert.deepEqual(plain.log().ops.map((o) => o.skip === true), [false, false, false, false, true, false]);
  });

  it('a log recorded on reference with interleaving replays data-equivalently on naive', () => {
    const r = fsx(loadAdapter('reference'), { numOps: 3000, seed: 6 });
    const again = replayLog(createNaiveAdapter(), 'naive', r.log(), ro, quiet);
    assert.equal(again.failure, null, again.report.join('\n'));
  });

  describe('bug-zoo mutants the default run catches (and does not with --no-interleave)', () => {
    const cases: [string, number, number, string][] = [
      // mutant, seed, ops, the failure
      ['stale-iomap-valid', 1, 2000, 'contract R30'],
      ['dio-no-post-invalidate', 2, 6000, 'bad-data fileops-14.3'],
      ['zero-range-no-flush', 5, 4000, 'eof-page fileops-14.22'],
      ['writeback-no-eof-zero', 1, 4000, 'eof-page fileops-14.22'],
    ];
    // Without the device fault ops (test/fsx-faults.test.ts) and fsx's newer ops (the classic mix),
    // whose draws would change the ops these seeds make.
    const noFaults = classicWeights().map((w, code) => (OPS[code].name.startsWith('fault_') ? 0 : w));
    for (const [name, seed, n, what] of cases) {
      it(`mutant:${name}: ${what} (seed ${seed}, within ${n} ops)`, function () {
        this.timeout(300000);
        // The op mix these figures were taken with: no remounts, no bad-argument ops.
        const r = fsx(loadAdapter(`mutant:${name}`), { numOps: n, seed, ...CLASSIC, weights: noFaults.map((w, code) => (OPS[code].name === 'remount' ? 0 : w)) });
        assert.ok(r.failure !== null, `not caught in ${n} ops`);
        assert.equal(`${r.failure.kind} ${r.failure.rule}`, what, r.report.join('\n'));
        const off = fsx(loadAdapter(`mutant:${name}`), { numOps: n, seed, interleave: false, ...CLASSIC, weights: noFaults.map((w, code) => (OPS[code].name === 'remount' ? 0 : w)) });
        assert.equal(off.failure, null, `caught without interleaving too: ${off.report.slice(0, 3).join(' | ')}`);
        // Its log replays to the same failure.
        const l = parseOpLog(serializeOpLog(r.log()), 'l');
        const again = replayLog(loadAdapter(`mutant:${name}`), name, l, ro, quiet);
        assert.deepEqual([again.failure?.kind, again.failure?.op], [r.failure.kind, r.failure.op]);
      });
    }
  });
});
