/**
 * properties/fsx/moved-ranges.ts: the mapping the remount check compares must be all of it, however
 * few extents a target puts in one FIEMAP answer.
 */
import { strict as assert } from 'assert';
import { loadAdapter } from '../adapters/registry';
import type { FileTarget } from '../adapters/types';
import { mappingOf } from '../properties/fsx/moved-ranges';
import '../properties/fsx/engine'; // installs the contract monitor the reference mounts with

describe('moved ranges: mappingOf', () => {
  /** A reference file with `n` one-block extents, holes between, fsynced. */
  function fragmented(n: number): { t: FileTarget; close: () => void } {
    const a = loadAdapter('reference', { blockSize: 4096 });
    const t = a.open();
    for (let i = 0; i < n; i++) t.pwrite(2 * i * 4096, new Uint8Array(4096).fill(i + 1));
    t.fsync();
    return { t, close: () => a.close() };
  }

  it('asks again until LAST or the end of the range when a target answers a few extents at a time', () => {
    const { t, close } = fragmented(7);
    try {
      const whole = t.fiemap!(0, 14 * 4096, 0);
      assert.equal(whole.length, 7);
      const fiemap = t.fiemap!.bind(t);
      let calls = 0;
      // At most 2 extents per answer, as a target with a small array would give.
      t.fiemap = (off, len, flags) => { calls++; return fiemap(off, len, flags).slice(0, 2); };
      assert.deepEqual(mappingOf(t, [[0, 14 * 4096]])[0], whole, 'every extent, LAST included');
      assert.equal(calls, 4);
      // A range that stops before EOF ends at its own end (no LAST there).
      calls = 0;
      assert.deepEqual(mappingOf(t, [[0, 9 * 4096]])[0], fiemap(0, 9 * 4096, 0));
      assert.equal(calls, 3);
    } finally {
      close();
    }
  });
});
