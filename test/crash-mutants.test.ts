/**
 * The crash and fault corpus (corpus/crash/*.json, corpus/fault/*.json; format in
 * properties/oracle/fault-cases.ts and docs/crash.md): every case must pass on the adapters it
 * names in `passesOn` and fail on each mutant of `failsOn` with the recorded signature. Also:
 * each mutant of issue #7 is caught by a fresh random search within a few seeds.
 *
 * HUNT_MUTANTS=1 measures the detection rate over HUNT_SEEDS (default 200) seeds per mutant and
 * prints it; with WRITE_CORPUS=1 it also rewrites the minimized cases into corpus/.
 */
import { strict as assert } from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import {
  SavedCase, caseFiles, describeSignature, huntMutant, loadCase, parseCase, reshrinkCase, serializeCase, verifyCase, withAdapter,
} from '../properties/oracle/fault-cases';
import { generateWorkload, runWorkload } from '../properties/oracle/crash-harness';
import { generateFaultWorkload, runFaultWorkload } from '../properties/oracle/fault';
import { modelBugs } from '../reference/bugs';

const CORPUS = path.resolve(__dirname, '..', '..', 'corpus');
const DIRS = ['crash', 'fault'].map((d) => path.join(CORPUS, d));
const files = DIRS.flatMap((d) => caseFiles(d));

/** The mutants issue #7 asks for, and the suite that catches each. */
const ISSUE_MUTANTS: Array<[string, 'crash' | 'write-eio']> = [
  ['fsync-no-flush', 'crash'],
  ['metadata-before-data', 'crash'],
  ['fua-into-unwritten', 'crash'],
  ['writeback-error-lost', 'write-eio'],
];

describe(`crash and fault corpus (${files.length} cases in corpus/crash and corpus/fault)`, () => {
  const cases = new Map<string, SavedCase>();
  for (const f of files) cases.set(path.relative(CORPUS, f), loadCase(f));

  it('every case file loads, round-trips through the writer, and names a failing mutant', () => {
    assert.ok(files.length > 0, 'no case files');
    for (const [name, c] of cases) {
      assert.deepStrictEqual(parseCase(serializeCase(c), name), c, name);
      assert.ok(c.expected.passesOn.includes('reference'), `${name}: passes on the reference`);
      assert.ok(c.expected.failsOn.length > 0, `${name}: fails somewhere`);
      assert.ok(c.kind === 'crash' ? name.startsWith('crash') : name.startsWith('fault'), `${name}: in the directory of its kind`);
    }
  });

  it('each mutant of issue #7 has a minimized case', () => {
    for (const [m] of ISSUE_MUTANTS) {
      const has = [...cases.values()].some((c) => c.expected.failsOn.some((f) => f.adapter === `mutant:${m}`));
      assert.ok(has, `no case fails on mutant:${m}`);
    }
  });

  for (const [name, c] of cases) {
    const fails = c.expected.failsOn.map((f) => `${f.adapter} (${describeSignature(f.signature)})`).join(', ');
    it(`${name}: ${c.workload.ops.length} ops; passes on ${c.expected.passesOn.join(', ')}, fails on ${fails}`, function () {
      this.timeout(60000);
      assert.deepStrictEqual(verifyCase(c), []);
      assert.ok(!Object.values(modelBugs).some(Boolean), 'no core bug switch left on');
    });
  }

  it('a saved case is shrinkable again (no op can be deleted from a minimized case)', function () {
    this.timeout(60000);
    for (const [name, c] of cases) {
      const again = reshrinkCase(c);
      assert.strictEqual(again.workload.ops.length, c.workload.ops.length, `${name} shrank further`);
      assert.deepStrictEqual(verifyCase(again), [], name);
    }
  });
});

describe('mutants of issue #7 caught by a fresh random search', () => {
  for (const [m, suite] of ISSUE_MUTANTS) {
    it(`mutant:${m} (${suite === 'crash' ? 'crash harness' : `fault properties, ${suite}`})`, function () {
      this.timeout(0);
      const t0 = Date.now();
      let seed = 1;
      let ops = 0;
      for (; seed <= 40; seed++) {
        let caught: boolean;
        if (suite === 'crash') {
          const w = generateWorkload({ seed });
          ops += w.ops.length;
          caught = withAdapter(`mutant:${m}`, (target) => runWorkload(w, { target, maxFailures: 1 })).failures.length > 0;
        } else {
          const w = generateFaultWorkload({ seed, mode: suite });
          const r = withAdapter(`mutant:${m}`, (target) => runFaultWorkload(w, { target, tolerate: ['legacy-eio-after-fsync'] }));
          ops += r.opsRun;
          caught = r.violations.length > 0;
        }
        if (caught) break;
      }
      console.log(`    mutant:${m}: caught by workload ${seed} (${ops} ops generated), ${Date.now() - t0} ms`);
      assert.ok(seed <= 40, `mutant:${m} not caught in 40 workloads`);
    });
  }

  const hunt = process.env.HUNT_MUTANTS === '1';
  (hunt ? it : it.skip)('measure detection rates and (WRITE_CORPUS=1) rewrite the minimized cases', function () {
    this.timeout(0);
    const seeds = Number(process.env.HUNT_SEEDS ?? 200);
    for (const [m, suite] of ISSUE_MUTANTS) {
      const r = huntMutant(m, { suite, seeds, measure: true, tolerate: suite === 'crash' ? undefined : ['legacy-eio-after-fsync'] });
      console.log(`    mutant:${m}: caught by ${r.caughtSeeds.length} of ${r.seedsTried} workloads (first: ${r.caughtSeeds[0]}), ` +
        `${r.ops} ops, ${r.states} crash states, ${r.elapsedMs} ms; shrunk ${r.shrunkFrom} -> ${r.case?.workload.ops.length} ops` +
        `${r.skippedSeeds.length ? `; ${r.skippedSeeds.length} seeds also fail on the reference` : ''}`);
      if (r.case && process.env.WRITE_CORPUS === '1') {
        const dir = path.join(CORPUS, r.case.kind);
        fs.mkdirSync(dir, { recursive: true });
        fs.writeFileSync(path.join(dir, `${m}.json`), serializeCase(r.case));
      }
    }
  });
});
