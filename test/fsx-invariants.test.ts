/**
 * The fsx runner asks a target that states its own invariants (reference targets: per-folio
 * state, delalloc reservations, kernel WARNs) after every op: a reservation leak reads back fine,
 * so only this check sees it.
 */
import * as assert from 'assert';
import { ReferenceAdapter, ReferenceTarget } from '../adapters/reference';
import { runFsx } from '../properties/fsx/engine';
import { defaultOptions } from '../properties/fsx/generator';

const quiet = { out: () => undefined, err: () => undefined };

describe('fsx runner: target invariants after every op', () => {
  it('a broken invariant stops the run with kind "invariant" at that op', () => {
    class Leaky extends ReferenceAdapter {
      open() {
        const t = super.open() as ReferenceTarget;
        let ops = 0;
        const orig = t.invariants.bind(t);
        t.invariants = () => (++ops >= 40 ? ['reservedBlocks 3 != delalloc blocks 2'] : orig());
        return t;
      }
    }
    const r = runFsx(new Leaky(), 'leaky', { ...defaultOptions(), numOps: 1000, seed: 1, quiet: true }, quiet);
    assert.ok(r.failure, 'the invariant violation was not reported');
    assert.strictEqual(r.failure!.kind, 'invariant');
    assert.ok(r.failure!.op >= 40 && r.failure!.op < 60, `failed at op ${r.failure!.op}`); // armed race ops do not run the check
    assert.ok(r.failure!.lines.some((l) => /reservedBlocks/.test(l)));
  });

  it('reference passes with the invariant check on', () => {
    const r = runFsx(new ReferenceAdapter(), 'reference', { ...defaultOptions(), numOps: 3000, seed: 5, quiet: true }, quiet);
    assert.strictEqual(r.failure, null, r.report.join('\n'));
  });
});
