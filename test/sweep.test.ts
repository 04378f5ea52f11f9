/**
 * The default campaign's reach (docs/fsx.md "The setup sweep", "Short copies", "EOF pollution"):
 * the setup sweep (properties/fsx/sweep.ts) draws block size, folio size, post-EOF preallocation,
 * a poisoned device and inline data per seed and round from what the adapter declares, records it
 * and replays it exactly; pinned flags pin; EOF pollution is on by default wherever the target has
 * mmap stores; writes and mapwrites with a faulting user buffer are judged by the byte oracle; and
 * a shrink survives a target that fails to close or open a candidate. Each check has a target with
 * the matching defect that it catches.
 */
import { defaultApi } from '../reference/iomap/types';
import { strict as assert } from 'assert';
import * as fc from 'fast-check';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { createNaiveAdapter } from '../adapters/naive';
import { AdapterSpecError, loadAdapter } from '../adapters/registry';
import type { FileAdapter, FileTarget, SetupSupport } from '../adapters/types';
import { replayLog, runFsx } from '../properties/fsx/engine';
import { defaultOptions, FsxOptions } from '../properties/fsx/generator';
import { adapterOptionsOf, OpLog, OPLOG_VERSION, parseOpLog, serializeOpLog } from '../properties/fsx/oplog';
import { shrinkLog } from '../properties/fsx/shrink';
import { drawSetup, EXPLORE_ROUNDS, roundSeed, roundSizes, setupArbitrary, setupClass, SETUP_ROUND_OPS, SweepSchedule } from '../properties/fsx/sweep';
import { withTarget } from './support/broken-adapters';
import { inProcess as cli } from './support/bin';

const quiet = { out: () => undefined, err: () => undefined };
const ro = { quiet: true, debug: false, logDumpOps: 0 };
const FULL: SetupSupport = { blockSizes: [512, 1024, 4096, 16384], folioSizes: [4096, 16384, 65536, 2097152], eofPrealloc: true, poison: true, inline: true };

function fsx(adapter: FileAdapter, o: Partial<FsxOptions>) {
  return runFsx(adapter, adapter.name, { ...defaultOptions(), quiet: true, ...o }, quiet);
}

function log(ops: OpLog['ops'], more: Partial<OpLog> = {}): OpLog {
  return { format: 'iomap-harness-oplog', version: OPLOG_VERSION, adapter: 'reference', geometry: { blockSize: 4096, pageSize: 4096 }, seed: 1, ops, ...more };
}

describe('setup sweep: the draw', () => {
  it('is a function of the seed and round, and changes the op seed only after round 0', () => {
    assert.deepEqual(drawSetup(7, FULL, {}, 3), drawSetup(7, FULL, {}, 3));
    assert.equal(roundSeed(7, 0), 7);
    assert.notEqual(roundSeed(7, 1), 7);
    assert.deepEqual(roundSizes(25000), [SETUP_ROUND_OPS, SETUP_ROUND_OPS, 5000]);
    assert.deepEqual(roundSizes(5), [5]);
    assert.deepEqual(roundSizes(0), [0]);
  });

  it('every block of four rounds visits every block size and every preallocation x poison combination; folios never below the block', () => {
    for (const seed of [1, 2, 99, 123456]) {
      for (const first of [0, 4, 12]) {
        const rounds = [0, 1, 2, 3].map((k) => drawSetup(seed, FULL, {}, first + k));
        assert.deepEqual(rounds.map((r) => r.blockSize).sort((a, b) => Number(a) - Number(b)), [512, 1024, 4096, 16384]);
        const combos = new Set(rounds.map((r) => `${r.eofPrealloc !== undefined}/${r.poison !== undefined}`));
        assert.equal(combos.size, 4, `seed ${seed}: ${[...combos].join(' ')}`);
        for (const r of rounds) {
          assert.ok(Number(r.folioSize) >= Number(r.blockSize));
          if (r.eofPrealloc !== undefined) assert.ok(Number(r.eofPrealloc) >= Number(r.blockSize));
        }
      }
    }
  });

  it('a target with three block sizes (scratch:xfs) gets each in turn, not the first every other round', () => {
    const xfs = { blockSizes: [1024, 4096, 16384] };
    for (const seed of [1, 2, 3, 99]) {
      const counts = new Map<unknown, number>();
      for (let k = 0; k < 12; k++) {
        const b = drawSetup(seed, xfs, {}, k).blockSize;
        counts.set(b, (counts.get(b) ?? 0) + 1);
      }
      assert.deepEqual([...counts.values()], [4, 4, 4], `seed ${seed}: ${[...counts].join(' ')}`);
    }
  });

  it('draws only what the adapter declares, and keeps what the user pinned', () => {
    assert.deepEqual(drawSetup(3, undefined, {}), {});
    const naive = drawSetup(3, { blockSizes: [512, 1024, 4096, 16384] }, {}, 1);
    assert.deepEqual(Object.keys(naive), ['blockSize']);
    for (let k = 0; k < 8; k++) {
      const s = drawSetup(5, FULL, { blockSize: 1024, poison: null, eofPrealloc: 65536, inline: false }, k);
      assert.equal(s.blockSize, 1024);
      assert.equal(s.poison, undefined);
      assert.equal(s.eofPrealloc, 65536);
      assert.equal(s.inlineMax, 0);
    }
  });

  it('check\'s arbitrary covers the matrix and shrinks to the plainest setup', () => {
    const seen = new Set<number>();
    fc.assert(fc.property(setupArbitrary(FULL, {}), (s) => {
      seen.add(Number(s.blockSize));
      return Number(s.folioSize) >= Number(s.blockSize);
    }), { seed: 1, numRuns: 200 });
    assert.equal(seen.size, 4);
    const r = fc.check(fc.property(setupArbitrary(FULL, {}), (s) => s.poison === undefined), { seed: 1, numRuns: 200 });
    assert.ok(r.failed);
    const min = r.counterexample![0];
    assert.equal(min.blockSize, 512);
    assert.equal(min.eofPrealloc, undefined);
    assert.equal(min.inlineMax, undefined);
  });

  it('reference, mutants and naive declare what they support; a setup they cannot take is refused', () => {
    const ref = loadAdapter('reference');
    // The whole matrix, post-EOF preallocation included (refs' preallocation race is fixed).
    assert.deepEqual(ref.setups, FULL);
    assert.deepEqual(loadAdapter('mutant:read-eof-off-by-one').setups, FULL);
    assert.deepEqual(createNaiveAdapter().setups, { blockSizes: [512, 1024, 4096, 16384] });
    // inline data off is recorded as setup, and refused where it is no setup
    // (with the API generation, when IOMAP_HARNESS_API moved it from the 6.12 baseline)
    const api = defaultApi() === '6.12' ? {} : { api: defaultApi() };
    assert.deepEqual(loadAdapter('reference', { inlineMax: 0 }).setup, { inlineMax: 0, ...api });
    assert.throws(() => loadAdapter('reference', { blockSize: 1024, inlineMax: 4096 }), /inlineMax: expected an integer in \[0, block size 1024\]/);
  });
});

describe('setup sweep: the schedule (explore, then deepen)', () => {
  /** Run a schedule for `rounds` rounds; `reach(cls, k)` is what the map says after round k. */
  function schedule(seed: number, rounds: number, reach?: (cls: string, k: number) => { reached: number; reachable: number } | undefined, support = FULL, pins = {}) {
    const s = new SweepSchedule(seed, support, pins);
    const setups = [];
    for (let k = 0; k < rounds; k++) {
      setups.push(s.setup(k));
      s.done(k, reach?.(s.classOf(k), k));
    }
    return setups;
  }

  it('explores with drawSetup()\'s rounds first, then revisits only classes they drew, with the rest of the setup drawn anew', () => {
    for (const seed of [1, 2, 3, 99, 123456]) {
      const setups = schedule(seed, 20);
      for (let k = 0; k < EXPLORE_ROUNDS; k++) assert.deepEqual(setups[k], drawSetup(seed, FULL, {}, k));
      const explored = new Set(setups.slice(0, EXPLORE_ROUNDS).map(setupClass));
      for (const s of setups.slice(EXPLORE_ROUNDS)) {
        assert.ok(explored.has(setupClass(s)), `seed ${seed}: ${setupClass(s)} was never explored`);
        assert.ok(Number(s.folioSize) >= Number(s.blockSize));
        if (s.eofPrealloc !== undefined) assert.ok(Number(s.eofPrealloc) >= Number(s.blockSize));
      }
      // Without a map: the class with the fewest rounds, so the revisits spread evenly.
      const rounds = new Map<string, number>();
      for (const s of setups) rounds.set(setupClass(s), (rounds.get(setupClass(s)) ?? 0) + 1);
      const n = [...rounds.values()];
      assert.ok(Math.max(...n) - Math.min(...n) <= 2, `seed ${seed}: ${JSON.stringify([...rounds])}`);
    }
    assert.deepEqual(schedule(7, 20), schedule(7, 20));
    // Revisits vary the setup inside the class: both sub-page block sizes, poisoned and not.
    const sub = schedule(1, 60).slice(EXPLORE_ROUNDS).filter((s) => setupClass(s).startsWith('subpage'));
    assert.deepEqual([...new Set(sub.map((s) => s.blockSize))].sort(), [1024, 512]);
    assert.deepEqual([...new Set(sub.map((s) => s.poison !== undefined))].sort(), [false, true]);
  });

  it('revisits the class furthest from its reachable cells, skipping saturated ones', () => {
    // Every class is past 80 % after a round except the one the seed explored first: it stays
    // below 50 %, and all keep gaining, so it takes every revisit.
    const first = setupClass(drawSetup(5, FULL, {}, 0));
    const gaining = (cls: string, k: number) => ({ reached: (cls === first ? 300 : 800) + 10 * k, reachable: 1000 });
    for (const s of schedule(5, 16, gaining).slice(EXPLORE_ROUNDS)) assert.equal(setupClass(s), first);
    // The same class stuck at 50 % from round 9 on: once a revisit added nothing, it is saturated
    // and the others get the revisits.
    const flat = (cls: string, k: number) => (cls === first ? { reached: 500, reachable: 1000 } : gaining(cls, k));
    const later = schedule(5, 16, (cls, k) => (k < EXPLORE_ROUNDS ? gaining(cls, k) : flat(cls, k))).slice(EXPLORE_ROUNDS + 2);
    assert.ok(later.every((s) => setupClass(s) !== first), later.map(setupClass).join(' '));
  });

  it('keeps the pins in every revisit and draws only what the adapter declares', () => {
    for (const s of schedule(5, 16, undefined, FULL, { blockSize: 1024, poison: null, eofPrealloc: 65536, inline: false })) {
      assert.equal(s.blockSize, 1024);
      assert.equal(s.poison, undefined);
      assert.equal(s.eofPrealloc, 65536);
      assert.equal(s.inlineMax, 0);
    }
    for (const s of schedule(3, 12, undefined, { blockSizes: [512, 1024, 4096, 16384] })) assert.deepEqual(Object.keys(s), ['blockSize']);
  });
});

describe('setup sweep: fsx', () => {
  let tmp: string;
  before(() => { tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'iomap-sweep-test-')); });
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('plain fsx runs a round per setup and says which; every seed of a campaign draws its own', async () => {
    const r = await cli(['fsx', '--adapter', 'naive', '-N', '12000', '-S', '1', '--json']);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /^Setup round 1\/2 \(ops 1-10000, op seed 1\): bs \d+$/m);
    assert.match(r.out, /^Setup round 2\/2 \(ops 10001-12000, op seed \d+\): bs \d+$/m);
    assert.match(r.out, /^All 12000 operations completed A-OK!$/m);
    assert.equal(r.json.rounds, 2);
    assert.deepEqual(r.json.setup, drawSetup(1, { blockSizes: [512, 1024, 4096, 16384] }, {}, 1));
    const c = await cli(['fsx', '-N', '300', '-S', '1', '--seeds', '3', '-q', '--json']);
    assert.equal(c.code, 0, c.err);
    const seeds = c.json.seeds as { seed: number; setup: Record<string, unknown> }[];
    assert.deepEqual(seeds.map((s) => s.setup), [1, 2, 3].map((s) => drawSetup(s, FULL, {}, 0)));
  });

  it('pinned flags pin every round; --no-sweep keeps the adapter\'s own setup', async () => {
    const r = await cli(['fsx', '-N', '600', '--round-ops', '200', '-S', '4', '--bs', '1024', '--folio', '16384', '--poison', 'off', '--eof-prealloc', '65536', '--inline', 'off', '--json', '-q']);
    assert.equal(r.code, 0, r.err);
    assert.deepEqual(r.json.setup, { blockSize: 1024, folioSize: 16384, eofPrealloc: 65536, inlineMax: 0 });
    assert.doesNotMatch(r.out, /poison/);
    const n = await cli(['fsx', '-N', '300', '--no-sweep', '--json']);
    assert.equal(n.code, 0, n.err);
    assert.equal(n.json.setup, undefined);
    assert.doesNotMatch(n.out, /^Setup/m);
    const bad = await cli(['fsx', '-N', '3', '--inline', 'maybe']);
    assert.equal(bad.code, 2);
    assert.match(bad.err, /--inline: expected on or off, got "maybe"/);
  });

  it('a failure found in a later round saves that round\'s log: its seed, geometry and setup replay it exactly', async () => {
    // naive that loses writes only at 512-byte blocks: the sweep reaches it in some round.
    const mod = path.join(tmp, 'small-blocks-lose.js');
    fs.writeFileSync(mod, `
      const { createNaiveAdapter } = require(${JSON.stringify(require.resolve('../adapters/naive'))});
      exports.createAdapter = (o) => {
        const a = createNaiveAdapter({ blockSize: o.blockSize });
        return { name: 'small-blocks-lose', capabilities: a.capabilities, setups: a.setups, close: () => a.close(), open: () => {
          const t = a.open();
          const w = t.pwrite.bind(t);
          if (a.capabilities.blockSize === 512) t.pwrite = (off, d) => { if (d.length < 1000) return w(off, d); if (off + d.length > t.size()) t.truncate(off + d.length); return d.length; };
          return t;
        } };
      };
    `);
    // The classic op mix (without fsx's newer ops): the rounds and op counts here are that stream's.
    const classic = ['--weight', 'read_dontcache=0', '--weight', 'write_dontcache=0', '--weight', 'write_atomic=0', '--weight', 'exchange_range=0'];
    const r = await cli(['fsx', '--adapter', mod, '-N', '4000', '--round-ops', '500', '-S', '1', '--save', tmp, '--json', '-q', ...classic]);
    assert.equal(r.code, 1, r.out + r.err);
    const f = r.json.failure as { log: string; op: number; round: number; opsToDetect: number; kind: string };
    assert.ok(f.round > 1, `round ${f.round}`);
    assert.equal(f.opsToDetect, (f.round - 1) * 500 + f.op);
    assert.match(f.log, new RegExp(`-s1-round${f.round}-op${f.op}\\.json$`));
    const saved = parseOpLog(fs.readFileSync(f.log, 'utf8'), f.log);
    assert.equal(saved.seed, roundSeed(1, f.round - 1));
    assert.equal(saved.geometry.blockSize, 512);
    const again = await cli(['replay', f.log, '--json', '-q']);
    assert.equal(again.code, 1, again.out + again.err);
    assert.equal((again.json.failure as { op: number }).op, f.op);
  });

});

describe('EOF pollution by default', () => {
  /** A target whose size-raising truncate forgets to zero what mmap stored past the old EOF. */
  const leaky = () => withTarget(createNaiveAdapter(), 'leaky-eof', (t) => {
    let junk: { off: number; data: Uint8Array } | null = null;
    return {
      mapwrite: (off: number, d: Uint8Array) => {
        const size = t.size();
        if (off + d.length > size) junk = { off: Math.max(off, size), data: Uint8Array.from(d.subarray(Math.max(0, size - off))) };
        t.mapwrite!(off, d);
      },
      truncate: (len: number) => {
        const old = t.size();
        t.truncate(len);
        if (junk !== null && len > old && junk.off === old) t.pwrite(junk.off, junk.data.subarray(0, Math.min(junk.data.length, len - junk.off)));
        junk = null;
      },
    };
  });

  it('is on where the target stores through a mapping ("auto"), off where it cannot, and -e 0 turns it off', () => {
    const on = fsx(loadAdapter('reference'), { numOps: 200, polluteEof: 'auto' });
    assert.equal(on.log().options?.polluteEof, true);
    const plain = createNaiveAdapter();
    const caps = { ...plain.capabilities, mmap: false };
    const off = fsx({ name: 'nommap', capabilities: caps, open: () => plain.open(), close: () => plain.close() }, { numOps: 200, polluteEof: 'auto' });
    assert.equal(off.failure, null);
    assert.equal(off.log().options?.polluteEof, false);
  });

  it('catches a target that leaves junk past EOF, which the run without pollution does not see', () => {
    const caught = fsx(leaky(), { numOps: 20000, polluteEof: 'auto', checkFile: true });
    assert.equal(caught.failure?.kind, 'bad-data', caught.report.join('\n'));
    assert.equal(caught.log().options?.polluteEof, true);
    const missed = fsx(leaky(), { numOps: caught.failure!.op + 500, polluteEof: false, checkFile: true });
    assert.equal(missed.failure, null);
  });

  it('the CLI default is "auto"', async () => {
    const r = await cli(['fsx', '--adapter', 'naive', '-N', '300', '-q', '--json', '--save', os.tmpdir()]);
    assert.equal(r.code, 0, r.err);
    const e = await cli(['fsx', '--adapter', 'naive', '-N', '3', '-e', '2']);
    assert.equal(e.code, 2);
  });
});

describe('short copies', () => {
  it('fsx makes some writes and mapwrites short copies on targets that can fault a user buffer, none elsewhere', () => {
    const r = fsx(loadAdapter('reference'), { numOps: 1500, shortCopies: true });
    assert.equal(r.failure, null, r.report.join('\n'));
    const ops = r.log().ops;
    assert.ok(ops.some((o) => o.op === 'write' && o.faultAt !== undefined), 'a faulting write');
    assert.ok(ops.some((o) => o.op === 'mapwrite' && o.faultAt !== undefined), 'a faulting mapwrite');
    assert.ok(ops.some((o) => o.reserveBlocks !== undefined), 'a write or store with capped reservations');
    for (const o of ops) if (o.faultAt !== undefined) assert.ok(o.faultAt >= 0 && o.faultAt < o.len);
    const n = fsx(createNaiveAdapter(), { numOps: 1500, shortCopies: true });
    assert.ok(!n.log().ops.some((o) => o.faultAt !== undefined));
    const off = fsx(loadAdapter('reference'), { numOps: 1500 });
    assert.ok(!off.log().ops.some((o) => o.faultAt !== undefined));
  });

  const storeLog = (): OpLog => log([
    { op: 'mapwrite', off: 0, len: 8192, faultAt: 100 },
    { op: 'read', off: 0, len: 8192 },
  ]);

  it('a mapwrite stores exactly the bytes before the fault (JSON and .fsxops carry faultAt on mapwrite)', () => {
    const l = storeLog();
    assert.deepEqual(parseOpLog(serializeOpLog(l), 'x.json').ops[0].faultAt, 100);
    const ok = replayLog(loadAdapter('reference'), 'reference', l, ro, quiet);
    assert.equal(ok.failure, null, ok.report.join('\n'));
  });

  it('catches a store that lands past the fault, and one that reports more than the readable prefix', () => {
    const whole = withTarget(loadAdapter('reference'), 'store-past-fault', (t: FileTarget) => ({
      faults: { ...t.faults!, mapwriteFaulting: (off: number, data: Uint8Array, faultAt: number, o?: { msync?: boolean }) => { t.mapwrite!(off, data, o); return faultAt; } },
    }));
    const a = replayLog(whole, 'store-past-fault', storeLog(), ro, quiet);
    assert.equal(a.failure?.kind, 'bad-data');
    assert.equal(a.failure?.offset, 100);
    const over = withTarget(loadAdapter('reference'), 'over-report', (t: FileTarget) => ({
      faults: { ...t.faults!, mapwriteFaulting: (off: number, data: Uint8Array, faultAt: number) => { t.mapwrite!(off, data.subarray(0, faultAt)); return faultAt + 1; } },
    }));
    const b = replayLog(over, 'over-report', storeLog(), ro, quiet);
    assert.equal(b.failure?.kind, 'short-write');
    assert.match(b.failure!.lines[0], /source buffer faulting at byte 100 .* returned 101 \(expected 0 to 100\)/);
  });

  it('a store that stopped part-way acknowledges (msync) only what landed: a power cut after it is judged by that', () => {
    for (const attr of [{ reserveBlocks: 0 }, { faultAt: 0 }, { faultAt: 5000 }]) {
      const l = log([{ op: 'mapwrite', off: 0, len: 9000, ...attr }, { op: 'crash', off: 0, len: 0 }], { geometry: { blockSize: 1024, pageSize: 4096, folioSize: 16384 } });
      const r = replayLog(loadAdapter('reference', adapterOptionsOf(l)), 'reference', l, ro, quiet);
      assert.equal(r.failure, null, `${JSON.stringify(attr)}: ${r.report.join('\n')}`);
    }
  });

  // Shrunk from a reference run of the coverage bench (bs 4096, folio 64 KiB, eof-prealloc 16 KiB,
  // seed 1002): junk stored past EOF before a short write past EOF lies, where the write stopped,
  // past the new EOF; nothing has to zero it there, and the runner used to call it eof-page.
  const pollutedShortWrite = (faultAt: number): OpLog => log([
    { op: 'write', off: 69632, len: 1 },
    { op: 'write', off: 71680, len: 4096, faultAt, noMsync: true },
    { op: 'mapwrite', off: 0, len: 1, noMsync: true },
    { op: 'read', off: 65536, len: 69633 + faultAt - 65536 },
  ], { geometry: { blockSize: 4096, pageSize: 4096, folioSize: 65536 }, setup: { eofPrealloc: 16384 }, options: { maxlen: 262144, checkFile: false, sizeChecks: true, simulatedOps: 0, polluteEof: true } });

  it('EOF pollution before a short write past EOF: only the bytes up to the new EOF must be zeroed', () => {
    for (const faultAt of [0, 512]) {
      const l = pollutedShortWrite(faultAt);
      const r = replayLog(loadAdapter('reference', adapterOptionsOf(l)), 'reference', l, ro, quiet);
      assert.equal(r.failure, null, `faultAt ${faultAt}: ${r.report.join('\n')}`);
    }
    // A target that leaves the junk between the old EOF and the write (the gap it must zero) is caught.
    const gap = withTarget(loadAdapter('reference', { eofPrealloc: 16384 }), 'gap-junk', (t: FileTarget) => ({
      faults: {
        ...t.faults!,
        pwriteFaulting: (off: number, data: Uint8Array, faultAt: number) => {
          const old = t.size();
          const got = t.faults!.pwriteFaulting(off, data, faultAt);
          if (got > 0 && off > old) t.mapwrite!(old, new Uint8Array(Math.min(off, old + 4096 - (old % 4096)) - old).fill(0x5a));
          return got;
        },
      },
    }));
    const bad = replayLog(gap, 'gap-junk', pollutedShortWrite(512), ro, quiet);
    assert.ok(bad.failure !== null && ['eof-page', 'bad-data'].includes(bad.failure.kind), bad.report.join('\n'));
  });

  it('mutant:write-end-short-copy needs the short copy: its case without faultAt passes on the mutant', () => {
    const file = path.join(__dirname, '..', '..', 'corpus', 'bug-zoo', 'write-end-short-copy.json');
    const c = parseOpLog(fs.readFileSync(file, 'utf8'), file);
    assert.ok(c.ops.some((o) => o.faultAt !== undefined));
    const m = () => loadAdapter('mutant:write-end-short-copy', adapterOptionsOf(c));
    assert.ok(replayLog(m(), 'm', c, ro, quiet).failure !== null);
    const whole: OpLog = { ...c, ops: c.ops.map(({ faultAt: _f, ...o }) => o), expected: undefined };
    const r = replayLog(m(), 'm', whole, ro, quiet);
    assert.equal(r.failure, null, r.report.join('\n'));
  });
});

describe('robust shrinking', () => {
  let tmp: string;
  before(() => { tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'iomap-robust-shrink-')); });
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  /** naive that loses the bytes of any write of 1000 bytes or more at an offset above 100000. */
  function lossy(): FileAdapter {
    return withTarget(createNaiveAdapter(), 'lossy', (t) => ({
      pwrite(off: number, d: Uint8Array): number {
        if (off <= 100000 || d.length < 1000) return t.pwrite(off, d);
        if (off + d.length > t.size()) t.truncate(off + d.length);
        return d.length;
      },
    }));
  }

  it('a candidate whose target fails to close or to be created does not reproduce; the shrink goes on', () => {
    const r = fsx(lossy(), { numOps: 3000, seed: 3 });
    assert.ok(r.failure !== null);
    let made = 0;
    const flaky = (): FileAdapter => {
      made++;
      if (made % 5 === 0) throw new AdapterSpecError('cannot start the target this time');
      const a = lossy();
      const n = made;
      return { ...a, name: a.name, capabilities: a.capabilities, open: () => a.open(), close: () => { a.close(); if (n % 3 === 0) throw new Error('unmount failed'); } };
    };
    const lines: string[] = [];
    const s = shrinkLog(r.log(), { makeAdapter: flaky, name: 'lossy', trustExpected: true, progress: (l) => lines.push(l) });
    assert.ok(s.failed);
    assert.ok(s.outputOps <= 3, `${s.outputOps} ops`);
    assert.ok(lines.some((l) => /taken as not reproducing/.test(l)), lines.join('\n'));
  });

  it('fsx --shrink --json prints the detection summary even when the shrink cannot run', async () => {
    const mod = path.join(tmp, 'shrink-hostile.js');
    const naive = require.resolve('../adapters/naive');
    fs.writeFileSync(mod, `
      const { createNaiveAdapter } = require(${JSON.stringify(naive)});
      let made = 0;
      exports.createAdapter = () => {
        made++;
        // The run's own adapters (the sweep's probe, then one per round) work; a shrink's do not.
        if (made > 2) throw new Error('the target is gone');
        const a = createNaiveAdapter();
        return { name: 'hostile', capabilities: a.capabilities, setups: a.setups, close: () => a.close(), open: () => {
          const t = a.open();
          const w = t.pwrite.bind(t);
          t.pwrite = (off, d) => { if (off <= 100000 || d.length < 1000) return w(off, d); if (off + d.length > t.size()) t.truncate(off + d.length); return d.length; };
          return t;
        } };
      };
    `);
    const r = await cli(['fsx', '--adapter', mod, '-N', '3000', '-S', '3', '--shrink', '--json', '-q', '--save', tmp]);
    assert.equal(r.code, 1, r.out + r.err);
    const f = r.json.failure as { kind: string; log: string; shrunk: { error?: string } };
    // The lost write is found by a read (bad-data), by the read-back after a refused bad-argument
    // op (errno, with the same READ BAD DATA lines) or by a dedupe that compares it (dedupe), as
    // the op stream has it.
    assert.ok(['bad-data', 'errno', 'dedupe'].includes(f.kind), f.kind);
    assert.ok(fs.existsSync(f.log));
    assert.match(String(f.shrunk.error), /the target is gone/);
    assert.match(r.out, /^Shrink failed: /m);
  });
});

describe('the new mutants need the new reach', () => {
  it('dio-zero-one-page changes nothing while blocks fit in a page', () => {
    const r = fsx(loadAdapter('mutant:dio-zero-one-page', { blockSize: 4096, poison: 77 }), { numOps: 3000, seed: 1, polluteEof: 'auto' });
    assert.equal(r.failure, null, r.report.join('\n'));
  });
});
