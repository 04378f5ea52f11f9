/**
 * Two API generations, one model (issue 18 item 1/2): refs behind the 6.12 ops tables and behind
 * the current ones (iomap_iter_advance, iomap_write_ops, writeback_range / writeback_submit,
 * ioend flags) runs the same fsx stream and must observe exactly the same things after every
 * call: results, size, bytes, FIEMAP, SEEK, and every mapping the generic layer was handed.
 * The long version (test/long/api-generations.test.ts) runs 100,000 ops.
 */
import { strict as assert } from 'assert';
import { firstDifference, observeFsx, ObservedRun } from './support/api-observe';
import { GENERATION_SETUPS } from './support/api-generations';
import { ReferenceAdapter } from '../adapters/reference';
import { Refs } from '../reference/fs/refs';
import { iomapIoendWritebackSubmit } from '../reference/iomap/ioend';
import { IOMAP_IOEND_UNWRITTEN, IOMAP_IOEND_SHARED } from '../reference/iomap/types';
import '../properties/contract/monitor';
import { refsFsAdapter, resolveApi } from '../adapters/fs-adapter';
import { main } from '../cli/main';
import { defaultApi } from '../reference/iomap/types';

const OPS_PER_SETUP = 300;

function compare(seed: number, numOps: number, ref: (typeof GENERATION_SETUPS)[number]['ref']): [ObservedRun, ObservedRun] {
  const a = observeFsx('6.12', ref, { numOps, seed });
  const b = observeFsx('current', ref, { numOps, seed });
  return [a, b];
}

describe('API generations: refs under 6.12 and current observe the same', () => {
  for (const [i, s] of GENERATION_SETUPS.entries()) {
    it(`${s.label}: ${OPS_PER_SETUP} fsx ops, every observation equal`, function () {
      this.timeout(300_000);
      const [a, b] = compare(100 + i, OPS_PER_SETUP, s.ref);
      assert.equal(a.result.failure, null, a.result.report.join('\n'));
      assert.equal(b.result.failure, null, b.result.report.join('\n'));
      assert.ok(a.steps.length >= OPS_PER_SETUP, `only ${a.steps.length} steps recorded`);
      assert.ok(a.mappings > OPS_PER_SETUP, `only ${a.mappings} mappings recorded`);
      const d = firstDifference(a, b);
      assert.equal(d, null, d?.join('\n'));
    });
  }

  it('the comparison sees a difference: current refs that never converts unwritten extents at completion', function () {
    this.timeout(300_000);
    // A current-generation refs whose ->writeback_submit drops the UNWRITTEN ioend flag's
    // meaning (no completion handler): the extents stay unwritten, FIEMAP and reads show it.
    const orig = Refs.prototype.writebackSubmit;
    Refs.prototype.writebackSubmit = function (this: Refs, wpc, error) {
      if (this.api === 'current' && wpc.ioend && (wpc.ioend.ioFlags & IOMAP_IOEND_UNWRITTEN) && !(wpc.ioend.ioFlags & IOMAP_IOEND_SHARED)) {
        return iomapIoendWritebackSubmit(wpc, error);
      }
      return orig.call(this, wpc, error);
    };
    try {
      const ref = GENERATION_SETUPS[2].ref;
      const a = observeFsx('6.12', ref, { numOps: OPS_PER_SETUP, seed: 102 });
      const b = observeFsx('current', ref, { numOps: OPS_PER_SETUP, seed: 102 });
      const d = firstDifference(a, b);
      assert.ok(d !== null, 'the broken current generation went unnoticed');
    } finally {
      Refs.prototype.writebackSubmit = orig;
    }
  });

  it('the generation is part of the setup (op logs) and is checked against the adapter', () => {
    const cur = new ReferenceAdapter({ api: 'current' });
    assert.deepEqual(cur.setup, { api: 'current' });
    cur.close();
    const old = new ReferenceAdapter({ api: '6.12' });
    // The 6.12 baseline is not recorded, unless IOMAP_HARNESS_API moved the default away from it.
    assert.deepEqual(old.setup, defaultApi() === '6.12' ? {} : { api: '6.12' });
    old.close();
    assert.throws(() => new ReferenceAdapter({ api: '7.0' }), /api: expected one of 6\.12, current, got 7\.0/);
  });

  it('IOMAP_HARNESS_API moves the default generation of adapters that have it; --api still wins; a bad value is a usage error', async () => {
    const saved = process.env.IOMAP_HARNESS_API;
    try {
      process.env.IOMAP_HARNESS_API = 'current';
      const a = new ReferenceAdapter({});
      assert.deepEqual(a.setup, { api: 'current' });
      a.open();
      assert.equal(a.fsys!.fs.api, 'current', 'refs is mounted with the current ops tables');
      a.close();
      // --api 6.12 wins, and is recorded: a replay under the variable must not run current.
      const b = new ReferenceAdapter({ api: '6.12' });
      assert.deepEqual(b.setup, { api: '6.12' });
      b.open();
      assert.equal(b.fsys!.fs.api, '6.12');
      b.close();
      // An adapter written for one generation keeps it.
      assert.equal(resolveApi({ ...refsFsAdapter, api: '6.12' }, undefined), '6.12');
      process.env.IOMAP_HARNESS_API = '6.12';
      assert.deepEqual(new ReferenceAdapter({}).setup, {});
      process.env.IOMAP_HARNESS_API = '6.13';
      let err = '';
      const code = await main(['fsx', '-N', '1'], { stdout: () => undefined, stderr: (t) => { err += t; }, isTTY: false });
      assert.equal(code, 2);
      assert.match(err, /IOMAP_HARNESS_API=6\.13: not an API generation/);
    } finally {
      if (saved === undefined) delete process.env.IOMAP_HARNESS_API;
      else process.env.IOMAP_HARNESS_API = saved;
    }
  });
});
