/**
 * refs' extent map (reference/fs/extents.ts) against a block-by-block model, with views taken
 * along the way: a view must stay what the map was when it was taken, whatever changes follow
 * (set, merge, remove, convert, split, shift), and taking one must not make the next change copy
 * every extent (the extents are immutable and shared; only the array of references is copied).
 */
import * as assert from 'assert';
import { ExtentMap, ExtState } from '../reference/fs/extents';

/** One block of the model: null for a hole. */
type Blk = { state: ExtState; pblk: number } | null;

const STATES: ExtState[] = ['delalloc', 'written', 'unwritten'];
const SPAN = 96;

/** The map's state, block by block over [0, SPAN). */
function blocksOf(m: ExtentMap): Blk[] {
  const out: Blk[] = [];
  for (let b = 0; b < SPAN; b++) {
    const { ext } = m.lookup(b);
    out.push(ext === null ? null : { state: ext.state, pblk: ext.pblk < 0 ? -1 : ext.pblk + (b - ext.lblk) });
  }
  return out;
}

/** A small deterministic PRNG (xorshift32). */
function prng(seed: number): (n: number) => number {
  let x = seed >>> 0 || 1;
  return (n) => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x % n;
  };
}

/** Extents sorted, non-overlapping, none mergeable with the next. */
function assertWellFormed(m: ExtentMap): void {
  for (let i = 0; i + 1 < m.exts.length; i++) {
    const a = m.exts[i];
    const b = m.exts[i + 1];
    assert.ok(a.len > 0 && a.lblk + a.len <= b.lblk, `extents ${i} and ${i + 1} overlap or are out of order`);
    const mergeable = a.state === b.state && a.lblk + a.len === b.lblk && (a.state === 'delalloc' || a.pblk + a.len === b.pblk);
    assert.ok(!mergeable, `extents ${i} and ${i + 1} should have merged`);
  }
}

describe('refs extent map: changes against a block model, views frozen', () => {
  for (const seed of [1, 2, 3, 4]) {
    it(`seed ${seed}: 400 random changes, a view every few, each view unchanged to the end`, () => {
      const r = prng(seed);
      const m = new ExtentMap();
      let model: Blk[] = new Array(SPAN).fill(null);
      const views: Array<{ view: ExtentMap; want: Blk[] }> = [];
      for (let step = 0; step < 400; step++) {
        if (r(3) === 0) views.push({ view: m.view(), want: model.slice() });
        const lblk = r(SPAN - 16);
        const len = 1 + r(12);
        switch (r(5)) {
          case 0: {
            const state = STATES[r(3)];
            // Physical blocks follow the logical ones often enough to merge.
            const pblk = r(2) === 0 ? 1000 + lblk : 2000 + r(500);
            m.set(lblk, len, state, pblk);
            for (let i = 0; i < len; i++) model[lblk + i] = { state, pblk: state === 'delalloc' ? -1 : pblk + i };
            break;
          }
          case 1:
            m.remove(lblk, len);
            for (let i = 0; i < len; i++) model[lblk + i] = null;
            break;
          case 2: {
            const from = STATES[r(3)];
            const to = STATES[1 + r(2)];
            if (from === 'delalloc') break; // delalloc has no pblk to convert to written
            m.convert(lblk, len, from, to);
            for (let i = 0; i < len; i++) {
              const b = model[lblk + i];
              if (b !== null && b.state === from) model[lblk + i] = { state: to, pblk: b.pblk };
            }
            break;
          }
          case 3:
            m.splitAt(lblk);
            break;
          default: {
            // collapse (a freed range shifted down) or insert (shifted up, a hole left)
            if (r(2) === 0) {
              m.remove(lblk, len);
              m.shift(lblk + len, -len);
              model = [...model.slice(0, lblk), ...model.slice(lblk + len), ...new Array(len).fill(null)];
            } else if (model.slice(SPAN - len).every((b) => b === null)) {
              m.splitAt(lblk); // as refs' insertBlocks does: nothing may straddle lblk
              m.shift(lblk, len);
              model = [...model.slice(0, lblk), ...new Array(len).fill(null), ...model.slice(lblk, SPAN - len)];
            }
          }
        }
        assert.deepStrictEqual(blocksOf(m), model, `step ${step}`);
        // The allocation-free lookups the monitor's snapshots use answer as lookup() does.
        for (let b = 0; b < SPAN + 4; b++) {
          const l = m.lookup(b);
          assert.ok(m.extentAt(b) === l.ext && m.nextEdge(b) === l.next, `step ${step}: extentAt/nextEdge(${b}) differ from lookup`);
        }
      }
      for (const [i, v] of views.entries()) assert.deepStrictEqual(blocksOf(v.view), v.want, `view ${i} changed after it was taken`);
      assertWellFormed(m);
    });
  }

  it('a change after a view copies the array of extents, not the extents: the untouched ones are shared', () => {
    const m = new ExtentMap();
    for (let i = 0; i < 1000; i++) m.set(i * 4, 2, 'written', 10000 + i * 7);
    const v = m.view();
    m.set(2000, 2, 'unwritten', 50000);
    assert.strictEqual(v.exts.length, 1000);
    assert.strictEqual(v.exts[500].state, 'written', 'the view kept the old extent');
    assert.strictEqual(m.exts[500].state, 'unwritten');
    let shared = 0;
    for (let i = 0; i < 1000; i++) if (m.exts[i] === v.exts[i]) shared++;
    assert.strictEqual(shared, 999, 'every extent the change did not touch is the same object in both');
  });
});
