/**
 * The fsx `crash` op (docs/fsx.md "Power cuts"): generated only where the target can simulate a
 * power cut (FileTarget.crash), recorded in op logs (version 3) and .fsxops, replayed and shrunk
 * like any op; judged by the durability envelope (properties/fsx/durability.ts). Every judgement
 * has a target that fails it: a naive file that "crashes" correctly passes, and each way of
 * crashing wrongly is caught with its own failure kind. On the reference adapter the op runs over
 * a CrashDevice; the refs bugs it found stay fixed (their shrunk cases fail with the bug back on).
 */
import { strict as assert } from 'assert';
import { createNaiveAdapter } from '../adapters/naive';
import { loadAdapter } from '../adapters/registry';
import { ReferenceAdapter } from '../adapters/reference';
import { refsFsAdapter } from '../adapters/fs-adapter';
import type { CrashOutcome, FileAdapter, FileTarget } from '../adapters/types';
import { Refs, RefsBugs } from '../reference/fs/refs';
import { CrashDevice } from '../reference/device/crash';
import { MemoryDevice } from '../reference/device/memory';
import { DurabilityTracker, MAX_KEPT_BYTES, MAX_VERSIONS } from '../properties/fsx/durability';
import { replayLog, runFsx } from '../properties/fsx/engine';
import { defaultOptions, FsxOptions } from '../properties/fsx/generator';
import { fromFsxops, OpLog, parseOpLog, serializeOpLog, toFsxops, validateOpLog } from '../properties/fsx/oplog';
import { OP_CRASH, OPS } from '../properties/fsx/ops';
import { shrinkLog } from '../properties/fsx/shrink';
import { SparseBytes } from '../properties/oracle/bytes';
import { withTarget } from './support/broken-adapters';

const quiet = { out: () => undefined, err: () => undefined };
const ro = { quiet: true, debug: false, logDumpOps: 0 };

function weights(over: Record<string, number>): number[] {
  const w = defaultOptions().weights.slice();
  for (const [name, n] of Object.entries(over)) w[OPS.find((o) => o.name === name)!.code] = n;
  return w;
}

/** fsx with the unguided generator (--no-guide): the seeds and op counts below are that sequence's. */
function fsx(adapter: FileAdapter, o: Partial<FsxOptions>) {
  return runFsx(adapter, adapter.name, { ...defaultOptions(), quiet: true, guide: false, ...o }, quiet);
}

function crashesRun(log: OpLog): number {
  return log.ops.filter((r) => r.op === 'crash' && r.skip !== true).length;
}

type Mode = 'correct' | 'lose-acked' | 'garbage' | 'problems' | 'too-big';

/**
 * naive with a power cut of its own: fsync/fdatasync take a durable copy; a crash goes back to
 * it (everything unsynced is lost, which is always allowed) — or, in the broken modes, goes back
 * one fsync too far, adds bytes nobody wrote, reports a consistency problem, or grows the file.
 */
function crashable(mode: Mode): FileAdapter {
  return withTarget(createNaiveAdapter(), `naive-crash-${mode}`, (t) => {
    let durable = new Uint8Array(0);
    let before = new Uint8Array(0);
    const snap = (): void => {
      before = durable;
      durable = t.pread(0, t.size()).slice();
    };
    const restore = (img: Uint8Array): void => {
      t.truncate(0);
      if (img.length > 0) t.pwrite(0, img);
    };
    return {
      fsync: () => { t.fsync(); snap(); },
      fdatasync: () => { t.fdatasync(); snap(); },
      // A clean remount makes everything durable (fsx's remount op acknowledges it all).
      remount: () => { t.remount!(); snap(); },
      // msync(MS_SYNC) makes the stored range durable: take the whole file (more is allowed).
      mapwrite: (off: number, data: Uint8Array, opts?: { msync?: boolean }) => {
        t.mapwrite!(off, data, opts);
        if (opts?.msync !== false) snap();
      },
      crash: (selector: number): CrashOutcome => {
        restore(mode === 'lose-acked' ? before : durable);
        if (mode === 'garbage' && durable.length > 64) t.pwrite(selector % (durable.length - 32), new Uint8Array(16).fill(0xee));
        if (mode === 'too-big') t.truncate(durable.length + 1 + (selector % 4096) + (1 << 20));
        return { state: `back to the last fsync (${mode})`, problems: mode === 'problems' ? ['consistency: inode 1 has a made-up problem'] : [] };
      },
    } as Partial<FileTarget>;
  });
}

describe('fsx crash op', function () {
  this.timeout(600000);

  describe('generation and the op log', () => {
    it('is generated only for targets that can crash, with a 32-bit selector', () => {
      const plain = fsx(createNaiveAdapter(), { numOps: 2000, seed: 3, weights: weights({ crash: 50 }) });
      assert.equal(plain.failure, null);
      assert.equal(crashesRun(plain.log()), 0, 'naive has no crash(): the op is turned off');
      const r = fsx(crashable('correct'), { numOps: 2000, seed: 3, weights: weights({ crash: 50 }) });
      assert.equal(r.failure, null, r.report.join('\n'));
      const ops = r.log().ops.filter((o) => o.op === 'crash');
      assert.ok(ops.length > 50, `${ops.length} crash ops`);
      for (const o of ops) assert.ok(o.len === 0 && o.off >= 0 && o.off < 2 ** 32);
      assert.ok(new Set(ops.map((o) => o.off)).size > 1, 'selectors vary');
    });

    it('round-trips through JSON and .fsxops; older versions and bad selectors are refused', () => {
      const r = fsx(crashable('correct'), { numOps: 300, seed: 5, weights: weights({ crash: 30 }) });
      const log = r.log();
      assert.ok(crashesRun(log) > 0);
      const back = parseOpLog(serializeOpLog(log), 'x.json');
      assert.deepEqual(back.ops, log.ops);
      const text = toFsxops(log);
      assert.match(text, /^#@ crash 0x[0-9a-f]+ 0x0 0x[0-9a-f]+$/m);
      assert.deepEqual(fromFsxops(text, 'x.fsxops').ops, log.ops);
      const base = { format: 'iomap-harness-oplog', adapter: 'x', geometry: { blockSize: 4096, pageSize: 4096 }, seed: 1 };
      assert.throws(() => validateOpLog({ ...base, version: 2, ops: [{ op: 'crash', off: 1, len: 0 }] }, 'v2.json'), /ops\[0\]\.op: crash needs op log version 3/);
      assert.throws(() => validateOpLog({ ...base, version: 3, ops: [{ op: 'crash', off: 2 ** 32, len: 0 }] }, 'b.json'), /ops\[0\]\.off: the crash selector must be below 2\^32/);
      assert.throws(() => validateOpLog({ ...base, version: 3, ops: [{ op: 'crash', off: 1, len: 4 }] }, 'c.json'), /ops\[0\]\.len: must be 0 for crash/);
    });

    it('is skipped with a reason on replay where the target cannot crash', () => {
      const r = fsx(crashable('correct'), { numOps: 200, seed: 7, weights: weights({ crash: 30 }) });
      const errs: string[] = [];
      const out = replayLog(createNaiveAdapter(), 'naive', r.log(), { ...ro, quiet: false }, { out: () => undefined, err: (l) => errs.push(l) });
      assert.equal(out.failure, null);
      assert.ok(errs.some((l) => /does not support power cuts \(crash\), disabling!/.test(l)), errs.join('\n'));
    });
  });

  describe('the durability envelope fails targets that crash wrongly', () => {
    const cases: Array<[Mode, string]> = [
      ['lose-acked', 'durability'], ['garbage', 'durability'], ['problems', 'recovery'], ['too-big', 'durability'],
    ];
    for (const [mode, kind] of cases) {
      it(`${mode}: caught as ${kind}, shrunk, and the shrunk log replays`, () => {
        const o = { numOps: 5000, seed: 11, weights: weights({ crash: 20 }) };
        const r = fsx(crashable(mode), o);
        assert.ok(r.failure, `${mode} passed ${r.ops} ops`);
        assert.equal(r.failure!.kind, kind, r.report.join('\n'));
        assert.equal(r.failure!.rule, 'fileops-14.25');
        const shrunk = shrinkLog(r.log(), { makeAdapter: () => crashable(mode), name: 'x' });
        assert.ok(shrunk.log.ops.length <= 8, `shrunk to ${shrunk.log.ops.length}`);
        const again = replayLog(crashable(mode), 'x', shrunk.log, ro, quiet);
        assert.equal(again.failure?.kind, kind);
        assert.equal(replayLog(crashable('correct'), 'x', shrunk.log, ro, quiet).failure, null, 'a correct target passes the shrunk case');
      });
    }
  });

  describe('DurabilityTracker', () => {
    it('allows old or new per byte, keeps what fsync acknowledged, and knows the size raised before an insert shifts', () => {
      const o = new SparseBytes();
      const tr = new DurabilityTracker();
      o.write(0, new Uint8Array(8).fill(1));
      tr.acknowledge(o);
      o.write(4, new Uint8Array(8).fill(2));
      tr.record('w2', o);
      const mix = Uint8Array.from([1, 1, 1, 1, 2, 2, 1, 1, 0, 0, 0, 0]);
      assert.deepEqual(tr.check(mix, []), [], 'old or new per byte');
      const lost = Uint8Array.from([1, 1, 9, 1, 1, 1, 1, 1]);
      assert.equal(tr.check(lost, [])[0].kind, 'lost-durable-data');
      assert.equal(tr.check(new Uint8Array(3), [])[0].kind, 'size', 'shorter than what fsync acknowledged');
      assert.deepEqual(tr.check(Uint8Array.from([1, 1, 1, 1, 7, 7, 1, 1]), [{ off: 4, data: new Uint8Array(2).fill(7) }]), [], 'in-flight bytes may land');
      tr.recordSize('insert', 20);
      assert.deepEqual(tr.check(Uint8Array.from([...mix, 0, 0, 0, 0, 0, 0, 0, 0]), []), []);
    });

    it(`stops judging after ${MAX_VERSIONS} versions without an fsync, and says so`, () => {
      const o = new SparseBytes();
      const tr = new DurabilityTracker();
      for (let i = 0; i <= MAX_VERSIONS; i++) {
        o.write(i, Uint8Array.of(1));
        tr.record(`w${i}`, o);
      }
      assert.equal(tr.complete, false);
      assert.match(tr.incompleteReason, new RegExp(`more than ${MAX_VERSIONS} file versions`));
      tr.acknowledge(o);
      assert.equal(tr.complete, true);
      assert.equal(tr.incompleteReason, '');
    });

    it(`stops judging after ${MAX_KEPT_BYTES >> 20} MiB of kept bytes without an fsync (memory bound), and says so`, () => {
      const o = new SparseBytes();
      const tr = new DurabilityTracker(o);
      const mib = new Uint8Array(1 << 20).fill(3);
      // Each version rewrites the same 1 MiB: the tracker keeps a copy per version.
      let i = 0;
      for (; tr.complete && i < 2 * (MAX_KEPT_BYTES >> 20); i++) {
        o.write(0, mib.fill(i + 1));
        tr.record(`w${i}`, o);
      }
      assert.equal(tr.complete, false);
      assert.ok(i <= (MAX_KEPT_BYTES >> 20) + 1, `overflowed after ${i} versions`);
      assert.match(tr.incompleteReason, /MiB of changed bytes kept since the last fsync/);
      assert.equal(tr.versions, 0, 'the kept versions are dropped');
      tr.acknowledge(o);
      assert.equal(tr.complete, true);
    });
  });

  describe('on the reference adapter (refs over a CrashDevice)', () => {
    it('passes fsx with many crash ops (no false positives)', () => {
      for (const seed of [1, 2, 3]) {
        const r = fsx(loadAdapter('reference'), { numOps: 4000, seed, weights: weights({ crash: 10 }) });
        assert.equal(r.failure, null, r.report.join('\n'));
        assert.ok(crashesRun(r.log()) > 50, `seed ${seed}: ${crashesRun(r.log())} crashes`);
      }
    });

    it('reads the file back after a power cut through readInto, and judges what it read (a byte flipped there is caught)', () => {
      // The target's own reads after each crash come through readInto (the runner's scratch):
      // flip a byte of the first non-empty one after the third crash.
      let crashes = 0;
      let armed = false;
      let fired = false;
      const inner = loadAdapter('reference');
      const adapter: FileAdapter = {
        name: 'reference+flip-after-crash', capabilities: inner.capabilities, close: () => inner.close(),
        open: () => {
          const t = inner.open();
          assert.equal(typeof t.readInto, 'function', 'the reference target reads into the caller\'s buffer');
          return new Proxy(t, {
            get(target, prop) {
              if (prop === 'crash') return (sel: number) => { armed = ++crashes === 3; return target.crash!(sel); };
              if (prop === 'readInto') {
                const own = target.readInto!;
                return (how: Parameters<typeof own>[0], off: number, dst: Uint8Array) => {
                  const n = own.call(target, how, off, dst);
                  if (armed && n > 0) { dst[n >> 1] ^= 0xff; armed = false; fired = true; }
                  return n;
                };
              }
              const v = Reflect.get(target, prop, target);
              return typeof v === 'function' ? v.bind(target) : v;
            },
          }) as FileTarget;
        },
      };
      const r = fsx(adapter, { numOps: 4000, seed: 1, weights: weights({ crash: 10 }) });
      assert.ok(fired, 'the flip fired');
      assert.equal(r.failure?.kind, 'durability', r.report.join('\n'));
      assert.equal(OPS[OP_CRASH].name, r.log().ops[r.failure!.op - 1].op);
    });

    it('offers readInto only while its read methods are its own (a replaced pread is what the runner must call)', () => {
      for (const m of ['pread', 'directRead', 'mapread', 'readDontcache'] as const) {
        const t = loadAdapter('reference').open();
        assert.equal(typeof t.readInto, 'function');
        const orig = t[m]!.bind(t);
        (t as unknown as Record<string, unknown>)[m] = (o: number, l: number) => orig(o, l);
        assert.equal(t.readInto, undefined, `${m} replaced`);
      }
    });

    it('replays a run with crashes byte for byte', () => {
      const r = fsx(loadAdapter('reference'), { numOps: 1500, seed: 4, weights: weights({ crash: 10 }) });
      const a = replayLog(loadAdapter('reference'), 'reference', r.log(), ro, quiet);
      assert.equal(a.failure, null);
      assert.deepEqual(a.log().ops, r.log().ops);
    });

    it('catches fsync-no-flush with default settings and shrinks it', () => {
      const r = fsx(loadAdapter('mutant:fsync-no-flush'), { numOps: 200000, seed: 1 });
      assert.ok(r.failure, 'mutant:fsync-no-flush passed');
      assert.equal(r.failure!.kind, 'durability');
      assert.equal(OPS[OP_CRASH].name, r.log().ops[r.failure!.op - 1].op);
    });

    it('shrinks an O_DSYNC failure keeping the attribute (mutant:fua-into-unwritten)', () => {
      const r = fsx(loadAdapter('mutant:fua-into-unwritten'), { numOps: 200000, seed: 3 });
      assert.equal(r.failure?.kind, 'durability', r.report.join('\n'));
      const shrunk = shrinkLog(r.log(), { makeAdapter: () => loadAdapter('mutant:fua-into-unwritten'), name: 'mutant:fua-into-unwritten' });
      assert.ok(shrunk.log.ops.length <= 4, `shrunk to ${shrunk.log.ops.length}`);
      assert.ok(shrunk.log.ops.some((o) => o.dsync === true), JSON.stringify(shrunk.log.ops));
      assert.equal(replayLog(loadAdapter('reference'), 'reference', shrunk.log, ro, quiet).failure, null);
    });

    it('selector 0 loses every cached write, 1 lands them all, whatever came before', () => {
      const dev = new CrashDevice(new MemoryDevice({ size: 1 << 20 }));
      dev.write(0, new Uint8Array(512).fill(1));
      dev.flush();
      dev.write(512, new Uint8Array(512).fill(2));
      dev.write(4096, new Uint8Array(1024).fill(3));
      assert.deepEqual(dev.choose(0).writes, []);
      assert.deepEqual(dev.choose(1).writes.map((w) => [w.index, w.parts]), [[2, undefined], [3, undefined]]);
      assert.throws(() => dev.choose(2 ** 32), /selector/);
    });

    // Shrunk from fsx runs on refs before the fixes; each fails with the bug switched back on.
    // Crash selectors: 0 loses every cached write, 1 lands them all (CrashDevice.choose).
    const regressions: Array<[keyof RefsBugs, OpLog['ops'], string, number?]> = [
      ['overwriteUnsharedBeforeCommit', [
        { op: 'write', off: 0, len: 4096 }, { op: 'clone_range', off: 0, len: 4096, dst: 139264 }, { op: 'write', off: 0, len: 1 },
        { op: 'insert_range', off: 4096, len: 4096 }, { op: 'fiemap', off: 0, len: 1 }, { op: 'write', off: 122880, len: 24576 },
        { op: 'clone_range', off: 0, len: 4096, dst: 143360 }, { op: 'crash', off: 1, len: 0 },
      ], 'durability'],
      ['noEofTailZeroAtRecovery', [
        { op: 'write', off: 86016, len: 33280 }, { op: 'insert_range', off: 0, len: 12288 }, { op: 'write', off: 131072, len: 4096 },
        { op: 'fiemap', off: 0, len: 1 }, { op: 'crash', off: 1, len: 0 }, { op: 'mapwrite', off: 0, len: 1 },
      ], 'eof-page'],
      // Found at --bs 512 --folio 4096 (seed 5, op 178,360); written small by hand: a byte of the
      // block-aligned EOF folio dirtied inside an extending write's window stays dirty while the
      // extension's completion wants to raise the on-disk size; its own completion is a plain
      // overwrite with no end_io work, so only the commit can catch up.
      ['noSizeRetryAtCommit', [
        { op: 'write', off: 0, len: 7168 }, { op: 'fsync', off: 0, len: 0 }, { op: 'race_write', off: 7167, len: 1 },
        { op: 'write', off: 16384, len: 512 }, { op: 'clone_range', off: 16384, len: 512, dst: 512 }, { op: 'fdatasync', off: 0, len: 0 },
        { op: 'crash', off: 0, len: 0 },
      ], 'durability', 512],
    ];
    for (const [bug, ops, kind, bs] of regressions) {
      it(`refs ${bug}: the shrunk case fails with the bug (${kind}), passes without`, () => {
        const geometry = { blockSize: bs ?? 4096, pageSize: 4096, folioSize: bs === undefined ? undefined : 4096 };
        const log: OpLog = { format: 'iomap-harness-oplog', version: 4, adapter: 'reference', geometry, seed: bug === 'overwriteUnsharedBeforeCommit' ? 2 : 1, ops };
        const withBug = new ReferenceAdapter({
          blockSize: geometry.blockSize, folioSize: geometry.folioSize,
          fs: { ...refsFsAdapter, mount: (dev) => Refs.mount(dev, { bugs: { [bug]: true } }) },
          configureFs: (fs) => { (fs as Refs).bugs = { [bug]: true }; },
        });
        assert.equal(replayLog(withBug, 'refs-with-bug', log, ro, quiet).failure?.kind, kind);
        assert.equal(replayLog(loadAdapter('reference', { blockSize: geometry.blockSize, folioSize: geometry.folioSize }), 'reference', log, ro, quiet).failure, null);
      });
    }
  });
});
