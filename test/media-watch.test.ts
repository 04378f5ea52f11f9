/**
 * MediaWatch (adapters/media-watch.ts): which file ranges can read differently from the media
 * since the last look. Each rule has a case where it must name a range and one where it must not.
 */
import { strict as assert } from 'assert';
import { MediaWatch } from '../adapters/media-watch';
import type { BlockState, MappingSnapshot } from '../reference/iomap/fs-ops';

const BS = 4096;

/** A mapping of [lblk, len, state, pblk] extents (holes elsewhere), as a snapshot with nextChange. */
function mapping(exts: Array<[number, number, BlockState['state'], number]>): MappingSnapshot {
  const find = (b: number) => exts.find(([l, n]) => l <= b && b < l + n);
  return {
    version: () => '',
    fingerprint: () => '',
    block(b: number): BlockState {
      const e = find(b);
      if (e === undefined) return { state: 'hole' };
      return e[2] === 'delalloc' ? { state: 'delalloc' } : { state: e[2], pblk: e[3] + (b - e[0]) };
    },
    nextChange(b: number): number {
      const e = find(b);
      if (e !== undefined) return e[0] + e[1];
      const next = exts.filter(([l]) => l > b).map(([l]) => l);
      return next.length ? Math.min(...next) : Infinity;
    },
  };
}

const KB = 1024;
const SIZE = 1 << 30;

describe('MediaWatch (which file ranges the media may have changed under)', () => {
  it('names nothing when neither the mapping nor the device under it changed', () => {
    const w = new MediaWatch(BS);
    const m = mapping([[0, 4, 'written', 100], [1000, 2, 'unwritten', 200]]);
    w.look(m, SIZE);
    assert.deepEqual(w.look(m, SIZE), []);
    // A device write outside the file's blocks (metadata, another file) changes nothing of it.
    w.noteWrite(50 * BS, 8 * BS);
    assert.deepEqual(w.look(m, SIZE), []);
  });

  it('names the file blocks over written device blocks (only written extents: unwritten ones read zeroes)', () => {
    const w = new MediaWatch(BS);
    const m = mapping([[0, 4, 'written', 100], [1000, 2, 'unwritten', 200]]);
    w.look(m, SIZE);
    w.noteWrite(102 * BS + 10, 100); // inside block 102 = file block 2
    w.noteWrite(200 * BS, BS); // under the unwritten extent
    assert.deepEqual(w.look(m, SIZE), [[2 * BS, 3 * BS]]);
    assert.deepEqual(w.look(m, SIZE), [], 'forgotten after the look');
  });

  it('names where the mapping changed: another block, another state, a hole either way, delalloc', () => {
    const w = new MediaWatch(BS);
    w.look(mapping([[0, 4, 'written', 100], [10, 2, 'unwritten', 200]]), SIZE);
    const now = mapping([[0, 2, 'written', 100], [2, 1, 'written', 300], [10, 1, 'written', 200], [11, 1, 'unwritten', 201], [20, 1, 'delalloc', -1]]);
    assert.deepEqual(w.look(now, SIZE), [[2 * BS, 4 * BS], [10 * BS, 11 * BS], [20 * BS, 21 * BS]]);
  });

  it('moves the old mapping with a collapse: a shifted tail is not a change, a tail shifted wrong is', () => {
    const w = new MediaWatch(BS);
    w.look(mapping([[0, 2, 'written', 100], [16, 4, 'written', 500]]), SIZE);
    w.collapse(4, 8); // blocks 4..11 go: the tail at 16 moves to 8
    assert.deepEqual(w.look(mapping([[0, 2, 'written', 100], [8, 4, 'written', 500]]), SIZE), []);
    w.collapse(4, 2);
    assert.deepEqual(w.look(mapping([[0, 2, 'written', 100], [6, 4, 'written', 501]]), SIZE), [[6 * BS, 10 * BS]]);
  });

  it('moves the old mapping with an insert, splitting the extent it lands in', () => {
    const w = new MediaWatch(BS);
    w.look(mapping([[0, 8, 'written', 100]]), SIZE);
    w.insert(4, 2);
    assert.deepEqual(w.look(mapping([[0, 4, 'written', 100], [6, 4, 'written', 104]]), SIZE), []);
    w.insert(0, 1);
    // The fs left block 0 where it was: blocks 0 and 1 differ from the shifted mapping.
    assert.deepEqual(w.look(mapping([[0, 4, 'written', 100], [7, 4, 'written', 104]]), SIZE), [[0, 5 * BS]]);
  });

  it('forget() starts over from a snapshot it walks only at the next look (shifts since applied)', () => {
    const w = new MediaWatch(BS);
    w.noteWrite(100 * BS, BS);
    w.forget(mapping([[0, 2, 'written', 100], [16, 4, 'written', 500]]), 20 * BS);
    w.collapse(4, 8);
    w.insert(0, 1);
    assert.deepEqual(w.look(mapping([[1, 2, 'written', 100], [9, 4, 'written', 500]]), SIZE), [], 'the write before forget() is forgotten');
    w.forget(mapping([[0, 2, 'written', 100]]), 2 * BS);
    w.noteWrite(101 * BS, 10);
    assert.deepEqual(w.look(mapping([[0, 2, 'written', 100]]), SIZE), [[BS, 2 * BS]]);
  });

  it('clips to the file size and looks only at blocks inside it', () => {
    const w = new MediaWatch(BS);
    w.look(mapping([]), 10 * KB);
    assert.deepEqual(w.look(mapping([[0, 8, 'written', 100]]), 10 * KB), [[0, 10 * KB]]);
  });
});
