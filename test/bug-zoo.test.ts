/**
 * The bug zoo's minimized cases (corpus/bug-zoo, written by bench/bug-zoo.ts): every case fails on
 * its mutant with the recorded failure and passes on the reference adapter, so each detection is
 * proven again on every change; and every mutant of the catalog is registered.
 */
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { loadAdapter, listMutants } from '../adapters/registry';
import { MUTANTS } from '../adapters/mutants/catalog';
import { replayLog } from '../properties/fsx/engine';
import { adapterOptionsOf, parseOpLog } from '../properties/fsx/oplog';
import { CATCHES, NOT_CAUGHT } from '../properties/suites/catches';

const DIR = path.join(__dirname, '..', '..', 'corpus', 'bug-zoo');
const quiet = { out: () => undefined, err: () => undefined };
const ro = { quiet: true, debug: false, logDumpOps: 0 };

describe('bug zoo', () => {
  it(`catalogs at least 20 mutants, each registered as mutant:NAME`, () => {
    assert.ok(MUTANTS.length >= 20, `${MUTANTS.length} mutants`);
    const registered = new Set(listMutants().map((m) => m.name.replace(/^mutant:/, '')));
    for (const m of MUTANTS) assert.ok(registered.has(m.name), `mutant:${m.name} not registered`);
  });

  const files = fs.existsSync(DIR) ? fs.readdirSync(DIR).filter((f) => f.endsWith('.json')).sort() : [];
  it('has minimized cases in corpus/bug-zoo', () => {
    assert.ok(files.length >= 10, `${files.length} cases`);
  });

  it('every mutant something catches has its case: corpus/bug-zoo, or the crash/fault harness', () => {
    const harnessCases = ['crash', 'fault'].flatMap((d) => {
      const dir = path.join(DIR, '..', d);
      return fs.existsSync(dir) ? fs.readdirSync(dir).map((f) => fs.readFileSync(path.join(dir, f), 'utf8')) : [];
    });
    for (const m of MUTANTS) {
      if (NOT_CAUGHT[m.name] !== undefined && !CATCHES.some((c) => c.mutant === m.name)) continue;
      const ok = files.includes(`${m.name}.json`) || harnessCases.some((t) => t.includes(`"mutant:${m.name}"`));
      assert.ok(ok, `mutant:${m.name} has no minimized case`);
    }
  });

  for (const f of files) {
    it(`${f}: fails on its mutant as recorded, passes on reference`, () => {
      const log = parseOpLog(fs.readFileSync(path.join(DIR, f), 'utf8'), f);
      const exp = log.expected;
      assert.ok(exp && exp.outcome === 'fail', 'the case records its failure');
      // Geometry and setup (poisoned device, post-EOF preallocation) are the log's on both sides.
      const onMutant = replayLog(loadAdapter(log.adapter, adapterOptionsOf(log)), log.adapter, log, ro, quiet);
      assert.ok(onMutant.failure, `${log.adapter} passes the case`);
      assert.strictEqual(onMutant.failure!.kind, exp!.outcome === 'fail' ? exp!.kind : '');
      const onRef = replayLog(loadAdapter('reference', adapterOptionsOf(log)), 'reference', log, ro, quiet);
      assert.strictEqual(onRef.failure, null, onRef.report.join('\n'));
      assert.ok(log.ops.length <= 12, `shrunk case has ${log.ops.length} ops`);
      assert.equal(onMutant.failure!.op, exp!.outcome === 'fail' ? exp!.op : 0, 'fails at the recorded op');
    });
  }
});
