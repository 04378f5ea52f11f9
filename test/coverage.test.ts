import { strict as assert } from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { loadAdapter } from '../adapters/registry';
import { createNaiveAdapter } from '../adapters/naive';
import { runFsx } from '../properties/fsx/engine';
import { classicWeights, defaultOptions, FsxOptions, Generator, resolveOps } from '../properties/fsx/generator';
import { fsxOptionsFrom } from '../cli/fsx-command';
import { OP_FIEMAP, OP_RACE_WRITE, OP_READ, OP_TRUNCATE, OP_WRITE, OpBuffer, OPS } from '../properties/fsx/ops';
import { CoverageFormatError, CoverageRecorder } from '../properties/coverage/recorder';
import { fileEof, geometryClass, PER_OP, stateIndex, stateName, STATE_CELLS } from '../properties/coverage/cells';
import { reachableFor, summarize } from '../properties/coverage/reachable';
import { Guide, GUIDE_TRIES, GUIDE_WARMUP } from '../properties/coverage/guide';
import { renderCoveragePage } from '../properties/report/heatmap';
import { writeReport } from '../cli/report-command';
import { EOF_BEFORE, EOF_PAST, EOF_STRADDLING, FOLIO_ABSENT, FOLIO_DIRTY, FOLIO_UPTODATE, MAP_DELALLOC, MAP_HOLE, MAP_SHARED } from '../adapters/types';

const quiet = { out: () => undefined, err: () => undefined };
const opts = (o: Partial<FsxOptions>): FsxOptions => ({ ...defaultOptions(), quiet: true, ...o });
const GEO = { blockSize: 4096, pageSize: 4096, folioSize: 65536 };

/** The state cells of `rec` that were reached, by name. */
function reached(rec: CoverageRecorder): Record<string, number> {
  return rec.toJSON().states;
}

describe('state coverage', () => {
  it('counts a scripted scenario exactly: truncate up, then a write across EOF into a hole', () => {
    const a = loadAdapter('reference');
    const t = a.open();
    const rec = new CoverageRecorder('reference', GEO, 'page-multi');
    t.observeStates!(rec);
    try {
      rec.op = OP_TRUNCATE;
      t.truncate(1000);
      rec.op = OP_WRITE;
      t.pwrite(500, new Uint8Array(1000).fill(7));
    } finally {
      t.observeStates!(null);
      a.close();
    }
    // Truncating up from 0 zeroes the old EOF block (a hole, past the old EOF); the write gets a
    // new delalloc mapping, no folio cached yet, its range [500, 1500) across i_size 1000.
    assert.deepEqual(reached(rec), { 'truncate/hole/absent/past': 1, 'write/delalloc/absent/straddling': 1 });
    assert.equal(rec.states[stateIndex(OP_WRITE, MAP_DELALLOC, FOLIO_ABSENT, EOF_STRADDLING)], 1);
    assert.equal(rec.states[stateIndex(OP_TRUNCATE, MAP_HOLE, FOLIO_ABSENT, EOF_PAST)], 1);
    assert.ok(rec.deep);
  });

  it('stops observing when the observer is removed, and counts nothing for file-level targets', () => {
    const a = loadAdapter('reference');
    const t = a.open();
    const rec = new CoverageRecorder('reference', GEO, 'page-multi');
    t.observeStates!(rec);
    t.observeStates!(null);
    t.pwrite(0, new Uint8Array(100));
    a.close();
    assert.deepEqual(reached(rec), {});
    const n = runFsx(createNaiveAdapter(), 'naive', opts({ numOps: 3000, coverage: true }), quiet);
    assert.equal(n.coverage!.deep, false);
    assert.deepEqual(n.coverage!.toJSON().states, {});
    assert.ok(Object.keys(n.coverage!.toJSON().fileOps).length > 20, 'file cells are recorded for any target');
    assert.ok(Object.keys(n.coverage!.toJSON().extents).length > 0, 'FIEMAP extent classes are recorded');
  });

  it('records file cells, steps and rule preconditions in an fsx run, deterministically', () => {
    const r1 = runFsx(loadAdapter('reference'), 'reference', opts({ numOps: 1500, coverage: true }), quiet);
    const r2 = runFsx(loadAdapter('reference'), 'reference', opts({ numOps: 1500, coverage: true }), quiet);
    assert.equal(r1.failure, null);
    const j = r1.coverage!.toJSON();
    assert.deepEqual(j, r2.coverage!.toJSON());
    assert.equal(j.level, 'generic-layer');
    assert.equal(j.ops, 1500);
    assert.ok(j.steps.writeback > 0 && j.steps.crash > 0 && j.steps['race-write-in-window'] > 0, JSON.stringify(j.steps));
    assert.ok((j.rules.R01 ?? 0) > 0 && (j.rules.R32 ?? 0) > 0, 'rule preconditions counted (begin and map_blocks rules)');
    // The file cells add up to the ops that ran (a race op that ran inside its write counts once).
    const log = r1.log();
    const ran = log.ops.filter((o) => !o.skip).length;
    const total = Object.values(j.fileOps).reduce((x, y) => x + y, 0);
    assert.equal(total, ran);
  });

  it('the JSON round-trips, and a corrupt map is refused with the reason', () => {
    const r = runFsx(loadAdapter('reference'), 'reference', opts({ numOps: 1000, coverage: true }), quiet);
    const j = JSON.parse(JSON.stringify(r.coverage!.toJSON()));
    const back = CoverageRecorder.fromJSON(j);
    assert.deepEqual(back.toJSON(), r.coverage!.toJSON());
    assert.deepEqual(back.states, r.coverage!.states);
    assert.throws(() => CoverageRecorder.fromJSON({ ...j, states: { 'write/delalloc/absent/sideways': 1 } }), CoverageFormatError);
    assert.throws(() => CoverageRecorder.fromJSON({ ...j, states: { 'nosuchop/hole/absent/past': 1 } }), /unknown op/);
    assert.throws(() => CoverageRecorder.fromJSON({ ...j, format: 'x' }), /format/);
    assert.throws(() => CoverageRecorder.fromJSON({ ...j, fileOps: { 'write/before': -1 } }), /count/);
  });

  it('merging adds counts cell by cell', () => {
    const a = new CoverageRecorder('x', GEO, 'page-multi');
    const b = new CoverageRecorder('x', GEO, 'page-multi');
    a.op = OP_READ;
    a.mapping(MAP_HOLE, FOLIO_ABSENT, EOF_PAST);
    b.op = OP_READ;
    b.mapping(MAP_HOLE, FOLIO_ABSENT, EOF_PAST);
    b.step('crash');
    a.merge(b);
    assert.equal(a.states[stateIndex(OP_READ, MAP_HOLE, FOLIO_ABSENT, EOF_PAST)], 2);
    assert.equal(a.toJSON().steps.crash, 1);
  });

  it('names cells and classes geometry as documented', () => {
    assert.equal(stateName(stateIndex(OP_WRITE, MAP_DELALLOC, FOLIO_ABSENT, EOF_STRADDLING)), 'write/delalloc/absent/straddling');
    assert.equal(geometryClass(4096, 4096, 65536, false), 'page-multi');
    assert.equal(geometryClass(4096, 4096, 4096, false), 'page-single');
    assert.equal(geometryClass(512, 4096, 4096, false), 'subpage-multi');
    assert.equal(geometryClass(16384, 4096, 16384, true), 'superpage-single+prealloc');
    assert.equal(fileEof(OP_WRITE, 0, 10, 0, 5), EOF_STRADDLING);
    assert.equal(fileEof(OP_FIEMAP, 5, 0, 0, 5), EOF_PAST);
    assert.equal(fileEof(OP_TRUNCATE, 0, 9, 0, 5), EOF_PAST);
  });

  it('the summary counts reachable cells the run never reached, and ones beyond the data', () => {
    const rec = new CoverageRecorder('x', GEO, 'test');
    const states = new Uint8Array(STATE_CELLS);
    states[stateIndex(OP_READ, MAP_HOLE, FOLIO_ABSENT, EOF_PAST)] = 1;
    states[stateIndex(OP_WRITE, MAP_DELALLOC, FOLIO_ABSENT, EOF_PAST)] = 1;
    rec.op = OP_READ;
    rec.mapping(MAP_HOLE, FOLIO_ABSENT, EOF_PAST);
    rec.mapping(MAP_HOLE, FOLIO_ABSENT, EOF_STRADDLING);
    const s = summarize(rec, { geometryClass: 'test', states, fileOps: new Uint8Array(OPS.length * 3) })!;
    assert.deepEqual([s.reachable, s.reached, s.percent], [2, 1, 50]);
    assert.deepEqual(s.never, ['write/delalloc/absent/past']);
    assert.deepEqual(s.beyond, ['read/hole/absent/straddling']);
    rec.enabled[OP_WRITE] = false;
    assert.equal(summarize(rec, { geometryClass: 'test', states, fileOps: new Uint8Array(OPS.length * 3) })!.reachable, 1, 'ops the run could not generate are not in the denominator');
  });
});

describe('coverage-guided generation', () => {
  it('is deterministic per seed, and guidance changes the ops', () => {
    const run = (guide: boolean) => runFsx(loadAdapter('reference'), 'reference', opts({ numOps: 1200, guide }), quiet).log().ops;
    const g1 = run(true);
    assert.deepEqual(run(true), g1);
    assert.notDeepEqual(run(false), g1);
    // On a file-level target guidance aims at file cells, deterministically as well.
    const n = (guide: boolean) => runFsx(createNaiveAdapter(), 'naive', opts({ numOps: 2000, guide }), quiet).log().ops;
    assert.deepEqual(n(true), n(true));
    assert.notDeepEqual(n(true), n(false));
  });

  it('on the default op mix, reaches more of the reachable cells than unguided generation in 6,000 ops', function () {
    this.timeout(600000);
    for (const seed of [1]) {
      // The op mix of plain `iomap-harness fsx` (faults, short copies, remounts, bad arguments, EOF
      // pollution): the one the committed reachable data (reachable-data.ts) was made with, before
      // fsx's newer ops (the classic mix).
      const run = (guide: boolean) => runFsx(loadAdapter('reference'), 'reference', { ...fsxOptionsFrom({}), weights: classicWeights(), numOps: 6000, seed, guide, coverage: true, quiet: true }, quiet).coverage!;
      const g = run(true);
      const u = run(false);
      const [gs, us] = [g, u].map((c) => summarize(c, reachableFor(c.geometryClass))!);
      // Measured with the warm-up (guidance from op 3,000): seed 1 79.8 % guided vs 74.4 % unguided,
      // 60 cells only guided (seed 2 80.2 vs 75.3, 63; seed 3 79.7 vs 75.5, 52).
      assert.ok(gs.percent >= us.percent + 3, `seed ${seed}: guided reached ${gs.percent} % of the reachable cells, unguided ${us.percent} %`);
      assert.equal(gs.reachable, us.reachable, 'the same denominator');
      const onlyGuided = Object.keys(g.toJSON().states).filter((k) => !(k in u.toJSON().states));
      assert.ok(onlyGuided.length >= 40, `seed ${seed}: ${onlyGuided.length} cells reached only by the guided run`);
    }
  });

  it('a recipe prepares the cell it aims at: a clone shares the block before a write into it', () => {
    const { prepareCell } = require('../properties/fsx/recipe') as typeof import('../properties/fsx/recipe');
    const { OpBuffer } = require('../properties/fsx/ops') as typeof import('../properties/fsx/ops');
    const { Prng } = require('../properties/fsx/generator') as typeof import('../properties/fsx/generator');
    const buf = new OpBuffer(16);
    const k = stateIndex(OP_WRITE, MAP_SHARED, FOLIO_UPTODATE, EOF_BEFORE) - OP_WRITE * PER_OP;
    const c = { rng: new Prng(5), bs: 4096, folioSize: 65536, maxlen: 262144, keepSize: true, weights: defaultOptions().weights };
    const w = prepareCell(c, buf, OP_WRITE, k, 65536)!;
    const names = Array.from({ length: buf.count }, (_, i) => OPS[buf.code[i]].name);
    assert.deepEqual(names, ['write', 'clone_range', 'fsync', 'evict', 'read']);
    assert.equal(w.hi - w.lo, 4096, 'the op is drawn on the one block');
    assert.equal(buf.off[1], w.lo, 'the cloned block is the one the op starts in');
    assert.equal(w.size, 65536, 'a clone inside the file keeps its size');
    // Replayed on the reference, the write then starts on a shared, uptodate block before EOF.
    const a = loadAdapter('reference');
    const t = a.open();
    const rec = new CoverageRecorder('reference', GEO, 'page-multi');
    try {
      t.pwrite(0, new Uint8Array(65536).fill(1));
      t.fsync();
      for (let i = 0; i < buf.count; i++) {
        const [off, len, dst] = [buf.off[i], buf.len[i], buf.dst[i]];
        switch (names[i]) {
          case 'write': t.pwrite(off, new Uint8Array(len).fill(2)); break;
          case 'clone_range': t.cloneRange!(off, len, dst); break;
          case 'fsync': t.fsync(); break;
          case 'evict': t.interleave!.evict(off); break;
          case 'read': t.pread(off, len); break;
        }
      }
      t.observeStates!(rec);
      rec.op = OP_WRITE;
      t.pwrite(w.lo, new Uint8Array(100).fill(3));
    } finally {
      t.observeStates!(null);
      a.close();
    }
    assert.ok(rec.states[stateIndex(OP_WRITE, MAP_SHARED, FOLIO_UPTODATE, EOF_BEFORE)] > 0, JSON.stringify(rec.toJSON().states));
  });

  it('guidance waits for the warm-up (the unguided sequence), then a guided truncate or race lands on the prepared block', () => {
    // A guide wanting two cells only: truncate over a dirty delalloc EOF block, and a race write
    // past EOF. The file is 65,636 bytes (the oracle's size stays put: ops are generated, not run).
    const size = 65536 + 100;
    const o = opts({ numOps: 4000, seed: 3 });
    const gen = (cells: number[]) => {
      const a = loadAdapter('reference');
      const t = a.open();
      const rec = new CoverageRecorder('x', GEO, 'test');
      const states = new Uint8Array(STATE_CELLS);
      for (const c of cells) states[c] = 1;
      const g = new Guide(rec, { geometryClass: 'test', states, fileOps: new Uint8Array(OPS.length * 3) }, true);
      const ops = resolveOps(o, a.capabilities, t, 'reference');
      const generator = new Generator(o, a.capabilities, ops, cells.length ? g : null);
      const buf = new OpBuffer(o.numOps);
      while (buf.count < o.numOps) generator.next(buf, size);
      a.close();
      return buf;
    };
    const cells = [stateIndex(OP_TRUNCATE, MAP_DELALLOC, FOLIO_DIRTY, EOF_STRADDLING), stateIndex(OP_RACE_WRITE, MAP_HOLE, FOLIO_ABSENT, EOF_PAST)];
    const guided = gen(cells);
    const plain = gen([]);
    const half = o.numOps * GUIDE_WARMUP;
    for (const f of ['code', 'off', 'len', 'dst', 'flags'] as const) {
      assert.deepEqual(guided[f].subarray(0, half), plain[f].subarray(0, half), `the warm-up's ${f} are the unguided run's`);
    }
    let truncates = 0;
    let races = 0;
    for (let i = half; i < guided.count; i++) {
      // Straddling: the new size falls inside the EOF block's part below EOF [65,536, 65,636).
      if (guided.code[i] === OP_TRUNCATE && guided.len[i] >= 65536 && guided.len[i] < size) truncates++;
      // Past EOF: the race's write starts in the block past EOF [65,636, 69,632).
      if (guided.code[i] === OP_RACE_WRITE && guided.off[i + 1] >= size && guided.off[i + 1] < 65536 + 4096) races++;
    }
    // Each cell is aimed at GUIDE_TRIES times (never reached: nothing runs); an unguided truncate
    // or race write lands in those few bytes about once in 2,600 / 64 draws.
    assert.ok(truncates >= GUIDE_TRIES, `${truncates} truncates to a size inside the prepared EOF block`);
    assert.ok(races >= GUIDE_TRIES, `${races} race writes starting on the prepared block past EOF`);
  });

  it('the guided draw lists only enabled ops with unreached reachable cells, capped', () => {
    const rec = new CoverageRecorder('x', GEO, 'test');
    const states = new Uint8Array(STATE_CELLS);
    for (const [op, eof] of [[OP_READ, EOF_PAST], [OP_READ, EOF_STRADDLING], [OP_WRITE, EOF_PAST]]) states[stateIndex(op, MAP_HOLE, FOLIO_ABSENT, eof)] = 1;
    const g = new Guide(rec, { geometryClass: 'test', states, fileOps: new Uint8Array(OPS.length * 3) }, true);
    const w = OPS.map(() => 1);
    g.refresh(w);
    assert.deepEqual([...g.pick], [OP_READ, OP_READ, OP_WRITE]);
    assert.equal(g.eofMask[OP_READ], (1 << EOF_PAST) | (1 << EOF_STRADDLING));
    rec.op = OP_READ;
    rec.mapping(MAP_HOLE, FOLIO_ABSENT, EOF_PAST);
    w[OP_WRITE] = 0;
    g.refresh(w);
    assert.deepEqual([...g.pick], [OP_READ]);
    assert.equal(g.eofMask[OP_READ], 1 << EOF_STRADDLING);
  });

  it('a cell aimed at GUIDE_TRIES times without being reached is given up; a reached one leaves the draw', () => {
    const rec = new CoverageRecorder('x', GEO, 'test');
    const states = new Uint8Array(STATE_CELLS);
    for (const eof of [EOF_PAST, EOF_STRADDLING, 0]) states[stateIndex(OP_READ, MAP_HOLE, FOLIO_ABSENT, eof)] = 1;
    const g = new Guide(rec, { geometryClass: 'test', states, fileOps: new Uint8Array(OPS.length * 3) }, true);
    const w = OPS.map(() => 1);
    const weightOfRead = () => { g.refresh(w); return g.pick.length; };
    assert.equal(weightOfRead(), 3);
    const past = stateIndex(OP_READ, MAP_HOLE, FOLIO_ABSENT, EOF_PAST) - OP_READ * PER_OP;
    for (let i = 1; i < GUIDE_TRIES; i++) g.aimed(OP_READ, past);
    assert.equal(weightOfRead(), 3, `${GUIDE_TRIES - 1} tries: still aimed at`);
    g.aimed(OP_READ, past);
    assert.equal(weightOfRead(), 2, 'given up after GUIDE_TRIES');
    assert.ok(!g.missing[OP_READ].includes(past));
    rec.op = OP_READ;
    rec.mapping(MAP_HOLE, FOLIO_ABSENT, EOF_STRADDLING);
    assert.equal(weightOfRead(), 1, 'a cell reached leaves the draw');
    assert.equal(g.eofMask[OP_READ], 1 << 0);
  });
});

describe('coverage heat map', () => {
  let dir = '';
  before(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), 'iomap-cov-')); });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('renders reached cells shaded and reachable-but-missed cells marked', () => {
    const r = runFsx(loadAdapter('reference'), 'reference', opts({ numOps: 1500, coverage: true }), quiet);
    const j = r.coverage!.toJSON();
    const html = renderCoveragePage(j);
    assert.match(html, /<table class="heat" id="heatmap">/);
    assert.match(html, /title="write \/ delalloc \/ absent \/ past: \d+" style="background:hsl/);
    if (reachableFor(j.geometryClass) !== null) {
      assert.match(html, /id="covsum">State coverage: \d+ of \d+ state cells/);
      assert.match(html, /class="c[^"]* n"/, 'a short run leaves reachable cells unreached (outlined)');
      assert.match(html, /id="never"/);
    }
    const file = path.join(dir, 'fsx-reference-s1.coverage.json');
    fs.writeFileSync(file, JSON.stringify(j));
    const out = writeReport(file, path.join(dir, 'cov.html'));
    assert.match(fs.readFileSync(out, 'utf8'), /id="heatmap"/);
    fs.writeFileSync(path.join(dir, 'bad.coverage.json'), JSON.stringify({ ...j, states: { 'x/y/z/w': 1 } }));
    assert.throws(() => writeReport(path.join(dir, 'bad.coverage.json'), path.join(dir, 'bad.html')), /report: .*unknown state cell/);
  });
});

describe('state coverage of check', () => {
  it('every workload of a suite adds to the map of its geometry class', () => {
    const { registryEnv, runSuite, suiteByName } = require('../properties/suites/index') as typeof import('../properties/suites/index');
    const { CoverageSet } = require('../properties/coverage/set') as typeof import('../properties/coverage/set');
    const env = registryEnv('reference');
    env.coverage = new CoverageSet('reference');
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'iomap-cov-check-'));
    try {
      const r = runSuite(suiteByName('seek')!, env, { runs: 2, seed: 1, shrinkLogs: false, saveDir: () => dir, log: () => undefined });
      assert.equal(r.failures, 0);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
    assert.ok(env.coverage.byClass.size > 0);
    for (const rec of env.coverage.byClass.values()) {
      assert.ok(rec.deep, `${rec.geometryClass}: generic-layer states recorded`);
      assert.ok(rec.ops > 0 && Object.keys(rec.rules).length > 0);
      assert.ok(rec.enabled.some((x) => x), 'the ops that ran make up the denominator');
    }
  });
});

describe('state coverage with the setup sweep', () => {
  it('keeps one map per geometry class across the rounds and saves each', () => {
    const { runSeed } = require('../properties/fsx/workers') as typeof import('../properties/fsx/workers');
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'iomap-cov-sweep-'));
    try {
      const out = runSeed({ spec: 'reference', adapterOptions: {}, options: opts({ numOps: 1200, coverage: true }), saveDir: dir, shrink: false, sweep: {}, roundOps: 300 }, 1, quiet);
      const figs = out.summary.coverage!;
      assert.equal(out.summary.rounds, 4);
      assert.ok(figs.length >= 1);
      assert.equal(figs.reduce((n, f) => n + f.ops, 0), 1200, 'every round counted in its class');
      assert.equal(new Set(figs.map((f) => f.geometryClass)).size, figs.length);
      for (const f of figs) assert.equal(CoverageRecorder.fromJSON(JSON.parse(fs.readFileSync(f.json, 'utf8'))).geometryClass, f.geometryClass);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a class\'s first round is the plain op mix: guidance starts in a later round of the class', () => {
    const { runSeed } = require('../properties/fsx/workers') as typeof import('../properties/fsx/workers');
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'iomap-cov-sweep-'));
    const states = (guide: boolean, numOps: number) => {
      const out = runSeed({ spec: 'reference', adapterOptions: {}, options: opts({ numOps, coverage: true, guide }), saveDir: dir, shrink: false, sweep: {}, roundOps: 300 }, 1, quiet);
      return out.summary.coverage!.map((f) => `${f.geometryClass} ${JSON.stringify(JSON.parse(fs.readFileSync(f.json, 'utf8')).states)}`).sort();
    };
    try {
      // Two rounds, two classes (consecutive rounds differ in preallocation): the same ops as --no-guide.
      assert.deepEqual(states(true, 600), states(false, 600));
      // Seed 1's rounds 4 and 7 share a class: from round 7 on the guided run has ops of its own.
      assert.notDeepEqual(states(true, 2100), states(false, 2100));
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('rounds past the exploring ones revisit classes those drew (the schedule reads the maps)', () => {
    const { runSeed } = require('../properties/fsx/workers') as typeof import('../properties/fsx/workers');
    const { drawSetup, EXPLORE_ROUNDS, setupClass } = require('../properties/fsx/sweep') as typeof import('../properties/fsx/sweep');
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'iomap-cov-sweep-'));
    try {
      const out = runSeed({ spec: 'reference', adapterOptions: {}, options: opts({ numOps: 1500, coverage: true }), saveDir: dir, shrink: false, sweep: {}, roundOps: 150 }, 2, quiet);
      assert.equal(out.summary.rounds, 10);
      const explored = new Set(Array.from({ length: EXPLORE_ROUNDS }, (_, k) => setupClass(drawSetup(2, loadAdapter('reference').setups, {}, k))));
      assert.deepEqual(new Set(out.summary.coverage!.map((f) => f.geometryClass)), explored);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
