/**
 * The defect wrappers of test/support/broken-adapters.ts pass every member of the wrapped target
 * through, so a wrapped target keeps each optional op (dontcache, atomic writes, exchange range,
 * readInto...) and the fuzzer runs the same ops on it as on the target itself.
 */
import { strict as assert } from 'assert';
import { createNaiveAdapter } from '../adapters/naive';
import { createReferenceAdapter, ReferenceAdapter } from '../adapters/reference';
import { fixedFsAdapter } from '../examples/fixed-fs';
import type { FileAdapter } from '../adapters/types';
import '../properties/contract/monitor';
import { corruptRead, corruptReadInto, withTarget, wrapTarget } from './support/broken-adapters';

/** Every member name of `t`, own or inherited, but the constructor. */
function members(t: object): string[] {
  const out = new Set<string>();
  for (let o: object | null = t; o !== null && o !== Object.prototype; o = Object.getPrototypeOf(o)) {
    for (const k of Object.getOwnPropertyNames(o)) if (k !== 'constructor') out.add(k);
  }
  return [...out].sort();
}

const OPTIONAL_OPS = [
  'readInto', 'mapread', 'mapwrite', 'fallocate', 'cloneRange', 'dedupeRange', 'copyRange', 'dsyncWrite', 'directRead',
  'directWrite', 'atomicWrite', 'readDontcache', 'writeDontcache', 'exchangeRange', 'cachedPages', 'seekData', 'seekHole',
  'fiemap', 'randomReads', 'remount', 'changedOnMedia', 'crash', 'noCrashes', 'observeStates', 'ruleCounts',
];

describe('defect wrappers (test/support/broken-adapters.ts)', () => {
  for (const [name, make] of [['naive', createNaiveAdapter], ['reference', createReferenceAdapter]] as const) {
    it(`a ${name} target wrapped without a defect keeps every member, each optional op working`, () => {
      const a: FileAdapter = make();
      const t = a.open();
      const w = wrapTarget(t, {});
      const own = members(t);
      const kept = members(w);
      for (const k of own) assert.ok(kept.includes(k), `${name}: ${k} lost by the wrapper`);
      const ops = OPTIONAL_OPS.filter((k) => typeof (t as unknown as Record<string, unknown>)[k] === 'function');
      assert.ok(ops.length >= (name === 'reference' ? 15 : 5), `${name} has only ${ops.join(', ')}`);
      for (const k of ops) assert.equal(typeof (w as unknown as Record<string, unknown>)[k], 'function', `${name}: ${k}`);
      for (const k of ['interleave', 'deviceFaults', 'faults'] as const) assert.equal(w[k], t[k], `${name}: ${k}`);
      // The methods act on the wrapped target.
      w.pwrite(0, Uint8Array.of(1, 2, 3));
      assert.equal(t.size(), 3);
      if (typeof w.writeDontcache === 'function') {
        w.writeDontcache(3, Uint8Array.of(4));
        assert.deepEqual([...t.pread(0, 4)], [1, 2, 3, 4]);
      }
      a.close();
    });
  }

  it('a defect adapter keeps the optional ops of the target it wraps', () => {
    const a = withTarget(createReferenceAdapter(), 'none', () => ({}));
    const t = a.open();
    for (const k of ['atomicWrite', 'exchangeRange', 'writeDontcache', 'readDontcache', 'crash', 'remount'] as const) {
      assert.equal(typeof t[k], 'function', `${k} lost`);
    }
    a.close();
  });

  it('a wrapper that replaces a read method drops readInto (the runner would read around it), one that wraps readInto keeps it', () => {
    const n = createNaiveAdapter();
    assert.equal(typeof n.open().readInto, 'function');
    n.close();
    const r = corruptRead(createNaiveAdapter(), { at: 1 });
    const t = r.open();
    assert.equal(t.readInto, undefined);
    assert.equal(typeof t.readDontcache, typeof createNaiveAdapter().open().readDontcache);
    r.close();
    const ri = corruptReadInto(createNaiveAdapter(), 'pread', { at: 1 });
    assert.equal(typeof ri.open().readInto, 'function');
    ri.close();
  });

  it('a wrapper that replaces a read method drops changedOnMedia too (the media no longer say what its reads return)', () => {
    const a = createReferenceAdapter();
    assert.equal(typeof a.open().changedOnMedia, 'function');
    a.close();
    const r = corruptRead(createReferenceAdapter(), { at: 1 });
    assert.equal(r.open().changedOnMedia, undefined);
    r.close();
  });

  it('only refs vouches for its media: a user filesystem under the reference adapter has no changedOnMedia (its own snapshot would vouch for its reads)', () => {
    const u = new ReferenceAdapter({ fs: fixedFsAdapter });
    assert.equal(u.open().changedOnMedia, undefined);
    u.close();
  });
});
