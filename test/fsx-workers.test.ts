/**
 * fsx campaigns (docs/fsx.md "Campaigns"): -j N worker threads over disjoint seeds, --seeds M,
 * --shard K/N; a seed's result does not depend on how the campaign is split, and shards merge by
 * seed into the unsharded result.
 */
import { strict as assert } from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { defaultOptions } from '../properties/fsx/generator';
import { runSeedCollected, runSeedsInWorkers, SeedSummary, SeedTask, shardSeeds } from '../properties/fsx/workers';
import { bin, inProcess as cli, naiveModule } from './support/bin';

/** What must not depend on the split: everything but timings. */
const stable = (s: SeedSummary) => ({ seed: s.seed, ops: s.ops, failures: s.failures, failure: s.failure });

describe('fsx campaigns: -j, --seeds, --shard', () => {
  let tmp: string;
  before(() => { tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'iomap-workers-test-')); });
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('shardSeeds: round robin over the campaign\'s seed indexes, disjoint and complete', () => {
    assert.deepEqual(shardSeeds(10, 5, null), [10, 11, 12, 13, 14]);
    assert.deepEqual(shardSeeds(10, 5, { k: 1, n: 2 }), [10, 12, 14]);
    assert.deepEqual(shardSeeds(10, 5, { k: 2, n: 2 }), [11, 13]);
    assert.deepEqual(shardSeeds(1, 2, { k: 3, n: 3 }), []);
    assert.deepEqual(shardSeeds(0xffffffff, 2, null), [0xffffffff, 0]);
  });

  it('worker threads give each seed the result it has in this thread', async function () {
    this.timeout(120000);
    const task: SeedTask = { spec: 'naive', adapterOptions: {}, options: { ...defaultOptions(), numOps: 3000, quiet: true }, saveDir: tmp, shrink: false };
    const seeds = [3, 1, 2];
    const got = await runSeedsInWorkers(task, seeds, 2);
    assert.deepEqual(got.map((x) => x.summary.seed), seeds, 'in the order asked');
    for (const x of got) assert.deepEqual(stable(x.summary), stable(runSeedCollected(task, x.summary.seed).summary));
    assert.deepEqual(await runSeedsInWorkers(task, [], 4), []);
  });

  it('fsx -j 2 --seeds 3 --json lists every seed; shards 1/2 and 2/2 merge by seed into the same list', async function () {
    this.timeout(120000);
    const base = ['fsx', '--adapter', 'reference', '-N', '1500', '-S', '7', '-q', '--json', '--save', tmp];
    const all = await cli([...base, '-j', '2', '--seeds', '3']);
    assert.equal(all.code, 0, all.err + all.out);
    const j = all.json;
    assert.deepEqual(Object.keys(j), ['command', 'adapter', 'seed', 'ops', 'failures', 'opsPerSec', 'elapsedMs', 'seedCount', 'workers', 'seeds']);
    const seeds = j.seeds as SeedSummary[];
    assert.deepEqual(seeds.map((s) => s.seed), [7, 8, 9]);
    assert.equal(j.ops, 4500);
    // `setup`: each seed's own, drawn by the setup sweep (docs/fsx.md).
    for (const s of seeds) assert.deepEqual(Object.keys(s), ['seed', 'ops', 'failures', 'opsPerSec', 'elapsedMs', 'setup']);
    assert.equal(new Set(seeds.map((s) => JSON.stringify(s.setup))).size, 3);
    assert.match(all.out, /^\[seed 8\] All 1500 operations completed A-OK!$/m);
    assert.match(all.out, /^Campaign: seeds 7\.\.9; 0 failed; 4500 ops in \d+ ms on 2 workers$/m);

    const s1 = await cli([...base, '--seeds', '3', '--shard', '1/2']);
    const s2 = await cli([...base, '--seeds', '3', '--shard', '2/2', '-j', '2']);
    assert.equal(s1.code, 0, s1.err);
    assert.equal(s2.code, 0, s2.err);
    assert.equal(s1.json.shard, '1/2');
    const merged = [...(s1.json.seeds as SeedSummary[]), ...(s2.json.seeds as SeedSummary[])].sort((a, b) => a.seed - b.seed);
    assert.deepEqual(merged.map(stable), seeds.map(stable));
  });

  it('a failing campaign: each failing seed saves its log, the summary names the first, exit 1', async function () {
    this.timeout(120000);
    const mod = path.join(tmp, 'broken.js');
    const req = (p: string) => JSON.stringify(path.resolve(__dirname, '..', p));
    fs.writeFileSync(mod, [
      `const { createNaiveAdapter } = require(${req('adapters/naive')});`,
      `const b = require(${req('test/support/broken-adapters')});`,
      'exports.createAdapter = (o) => b.corruptRead(createNaiveAdapter(o), { at: 40 });',
    ].join('\n'));
    const save = path.join(tmp, 'fail');
    const r = await cli(['fsx', '--adapter', mod, '-N', '3000', '-S', '1', '-q', '-j', '2', '--seeds', '2', '--save', save, '--shrink', '--json']);
    assert.equal(r.code, 1, r.err);
    const seeds = r.json.seeds as SeedSummary[];
    assert.deepEqual(seeds.map((s) => s.failures), [1, 1]);
    for (const s of seeds) {
      const f = s.failure as Record<string, unknown>;
      // The corrupted 40th read is a plain read (bad-data), the read-back after a refused
      // bad-argument op (errno: "refused, but the file changed") or the read-back after a clean
      // remount (durability), as the seed's op stream has it.
      assert.ok(['bad-data', 'errno', 'durability'].includes(f.kind as string), String(f.kind));
      assert.ok(fs.existsSync(f.log as string));
      assert.equal(path.dirname(f.log as string), save);
    }
    assert.deepEqual(r.json.failure, { seed: 1, ...seeds[0].failure });
    assert.match(r.out, /^\[seed 2\] READ BAD DATA: /m);
    assert.match(r.out, /^\[seed 1\] Log of operations saved to /m);
  });

  it('a module adapter that hangs in a worker: exit 3, one line naming the call, the worker and its seed (was: the campaign hung)', function () {
    this.timeout(120000);
    naiveModule(tmp, 'hangs.js', "const w = t.pwrite.bind(t); let n = 0; t.pwrite = (...a) => { if (++n === 10) for (;;) {} return w(...a); }");
    const t0 = Date.now();
    const r = bin(['fsx', '--adapter', './hangs.js', '-N', '1000', '-j', '2', '--seeds', '2', '-q', '--save', tmp], { cwd: tmp, env: { ...process.env, IOMAP_HARNESS_EXEC_TIMEOUT_MS: '1000' } });
    assert.equal(r.code, 3, `${r.err}${r.out.slice(-500)}`);
    const errLines = r.err.split('\n').filter((l) => l !== '');
    assert.equal(errLines.length, 1, r.err);
    // The line names the outermost call into the module: pwrite itself, or a call whose
    // implementation writes through the patched pwrite (naive's exchange_range and directWrite
    // do). Both seeds hang (seed 2 inside directWrite): which worker is reported is a race.
    assert.match(errLines[0], /^iomap-harness: adapter module .*hangs\.js: FileTarget\.(pwrite|directWrite|exchangeRange|writeDontcache|atomicWrite)\(\) did not return within 1000 ms in worker [12] \(seed [12]\): the target hung/);
    assert.ok(Date.now() - t0 < 60_000);
    // Without the hang the same campaign passes (the watchdog costs nothing when nothing hangs).
    naiveModule(tmp, 'fine.js', 'void 0');
    const ok = bin(['fsx', '--adapter', './fine.js', '-N', '1000', '-j', '2', '--seeds', '2', '-q', '--save', tmp], { cwd: tmp, env: { ...process.env, IOMAP_HARNESS_EXEC_TIMEOUT_MS: '1000' } });
    assert.equal(ok.code, 0, ok.err);
  });
});
