/**
 * The long generation comparison: 100,000 fsx ops (25,000 per setup) on refs under 6.12 and
 * under the current API, every observation equal (test/api-generations.test.ts explains it).
 */
import { strict as assert } from 'assert';
import { firstDifference, observeFsx } from '../support/api-observe';
import { GENERATION_SETUPS } from '../support/api-generations';
import '../../properties/contract/monitor';

const TOTAL_OPS = 100_000;

describe('API generations (long): 100,000 ops, refs under 6.12 and current observe the same', () => {
  for (const [i, s] of GENERATION_SETUPS.entries()) {
    const n = TOTAL_OPS / GENERATION_SETUPS.length;
    it(`${s.label}: ${n} ops`, function () {
      this.timeout(1_800_000);
      const a = observeFsx('6.12', s.ref, { numOps: n, seed: 1 + i });
      const b = observeFsx('current', s.ref, { numOps: n, seed: 1 + i });
      assert.equal(a.result.failure, null, a.result.report.join('\n'));
      assert.equal(b.result.failure, null, b.result.report.join('\n'));
      const d = firstDifference(a, b);
      assert.equal(d, null, d?.join('\n'));
      console.log(`      ${s.label}: ${a.steps.length} steps, ${a.mappings} mappings compared`);
    });
  }
});
