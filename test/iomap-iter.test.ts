/**
 * fs/iomap/iter.c (era A, contract §3.1 + Errata §3.1): the exact ->iomap_begin/->iomap_end
 * sequence and arguments the iterator produces, driven with scripted ops tables. Every expected
 * value is worked out by hand in the comment next to it.
 */
import * as assert from 'assert';
import { IomapIter, iomapIter, iomapIterAdvance, iomapIterate, iomapIterSrcmap, iomapLength } from '../reference/iomap/iter';
import {
  IOMAP_DELALLOC, IOMAP_F_NEW, IOMAP_F_SHARED, IOMAP_F_STALE, IOMAP_HOLE, IOMAP_MAPPED, IOMAP_NOWAIT, IOMAP_UNSHARE,
  IOMAP_WRITE, IOMAP_ZERO, Inode,
} from '../reference/iomap/types';
import { EIO, ENOSPC } from '../reference/errno';
import { BeginOnlyOps, BeginStep, ScriptedOps, bareInode } from './support/scripted-ops';

const W = IOMAP_WRITE;

function inode(): Inode {
  return bareInode({ blockSize: 4096, folioSize: 4096 });
}

/**
 * Run the iterator with one body per mapping; returns the sequence of iomapIter results. A body's
 * answer is the bytes processed (6.12), or with `answer` 'status' a status, 0 or -errno, after the
 * body advanced the iterator itself (the current API).
 */
function run(it: IomapIter, ops: ScriptedOps | BeginOnlyOps, bodies: Array<(it: IomapIter) => number>, answer: 'processed' | 'status' = 'processed'): number[] {
  const rets: number[] = [];
  let i = 0;
  for (;;) {
    const r = iomapIter(it, ops);
    rets.push(r);
    if (r <= 0) return rets;
    const body = bodies[i++];
    if (!body) throw new Error(`no body for mapping #${i}`);
    it[answer] = body(it);
  }
}

function isZeroed(m: { offset: number; length: number; type: number; flags: number; addr: number }): boolean {
  return m.offset === 0 && m.length === 0 && m.type === IOMAP_HOLE && m.flags === 0 && m.addr === 0;
}

describe('iomap iter (era A): begin/end sequence and arguments', () => {
  it('two mappings: end gets pos/curLen/written/flags, lengths clamped to the mapping', () => {
    // pos 1000, len 10000. Mapping 1 = [0, 4096): curLen = min(10000, 4096 - 1000) = 3096.
    // The body consumes it all -> end(1000, 3096, 3096), pos = 4096, len = 10000 - 3096 = 6904.
    // Mapping 2 = [4096, 12288): curLen = min(6904, 12288 - 4096) = 6904 -> end(4096, 6904, 6904),
    // len = 0 -> the iterator returns 0 without another begin.
    const ops = new ScriptedOps([
      { map: { offset: 0, length: 4096, type: IOMAP_MAPPED, addr: 1 << 20 } },
      { map: { offset: 4096, length: 8192, type: IOMAP_MAPPED, addr: 1 << 21, flags: IOMAP_F_NEW } },
    ]);
    const it = new IomapIter(inode(), 1000, 10000, W);
    const seen: number[] = [];
    const rets = run(it, ops, [
      (i) => { seen.push(iomapLength(i)); return iomapLength(i); },
      (i) => { seen.push(iomapLength(i)); return iomapLength(i); },
    ]);
    assert.deepStrictEqual(rets, [1, 1, 0]);
    assert.deepStrictEqual(seen, [3096, 6904]);
    assert.deepStrictEqual(ops.trace(), [
      'begin(1000, 10000, WRITE)',
      'end(1000, 3096, 3096, WRITE)',
      'begin(4096, 6904, WRITE)',
      'end(4096, 6904, 6904, WRITE) [NEW]',
    ]);
    assert.strictEqual(it.pos, 11000);
    assert.strictEqual(it.len, 0);
    // The core zeroes iomap and srcmap before every begin, even after a mapping with values.
    for (const b of ops.begins()) {
      assert.ok(isZeroed(b.iomapIn), `iomap not zeroed before begin at ${b.pos}`);
      assert.ok(isZeroed(b.srcmapIn), `srcmap not zeroed before begin at ${b.pos}`);
    }
    assert.deepStrictEqual(it.warnings, []);
  });

  it('flags are passed to ->iomap_end exactly as ->iomap_begin got them', () => {
    const flags = IOMAP_WRITE | IOMAP_NOWAIT | IOMAP_UNSHARE;
    const ops = new ScriptedOps([{ map: { offset: 0, length: 8192, type: IOMAP_MAPPED } }]);
    const it = new IomapIter(inode(), 0, 8192, flags);
    run(it, ops, [() => 8192]);
    assert.deepStrictEqual(ops.calls.map((c) => c.flags), [flags, flags]);
    assert.deepStrictEqual(ops.trace(), ['begin(0, 8192, WRITE|NOWAIT|UNSHARE)', 'end(0, 8192, 8192, WRITE|NOWAIT|UNSHARE)']);
  });

  it('srcmap clamps curLen; a HOLE srcmap means "no srcmap" and clamps nothing', () => {
    // iomap [0, 65536), srcmap MAPPED [0, 8192), pos 1024, len 20000:
    // curLen = min(20000, min(65536, 8192) - 1024) = 7168.
    // Second mapping at 1024 + 7168 = 8192, len 20000 - 7168 = 12832, no srcmap:
    // curLen = min(12832, 65536 - 8192) = 12832.
    const ops = new ScriptedOps([
      {
        map: { offset: 0, length: 65536, type: IOMAP_DELALLOC, flags: IOMAP_F_SHARED },
        src: { offset: 0, length: 8192, type: IOMAP_MAPPED, addr: 4096 },
      },
      { map: { offset: 8192, length: 57344, type: IOMAP_DELALLOC } },
    ]);
    const it = new IomapIter(inode(), 1024, 20000, W);
    const seen: Array<[number, number]> = [];
    run(it, ops, [
      (i) => { seen.push([iomapLength(i), iomapIterSrcmap(i).type]); return iomapLength(i); },
      (i) => { seen.push([iomapLength(i), iomapIterSrcmap(i).type]); return iomapLength(i); },
    ]);
    // iomap_iter_srcmap(): the srcmap while one is set, else the iomap itself.
    assert.deepStrictEqual(seen, [[7168, IOMAP_MAPPED], [12832, IOMAP_DELALLOC]]);
    assert.deepStrictEqual(ops.trace(), [
      'begin(1024, 20000, WRITE)', 'end(1024, 7168, 7168, WRITE) [SHARED]',
      'begin(8192, 12832, WRITE)', 'end(8192, 12832, 12832, WRITE)',
    ]);

    // srcmap.type == HOLE with a (short) length: ignored. curLen = min(20000, 65536 - 1024) = 20000.
    const ops2 = new ScriptedOps([{
      map: { offset: 0, length: 65536, type: IOMAP_DELALLOC },
      src: { offset: 0, length: 512, type: IOMAP_HOLE },
    }]);
    const it2 = new IomapIter(inode(), 1024, 20000, W);
    const seen2: number[] = [];
    run(it2, ops2, [(i) => { seen2.push(iomapLength(i)); return iomapLength(i); }]);
    assert.deepStrictEqual(seen2, [20000]);
  });

  it('a failed ->iomap_begin is never followed by ->iomap_end', () => {
    const ops = new ScriptedOps([{ error: -ENOSPC }]);
    const it = new IomapIter(inode(), 0, 100, W);
    assert.deepStrictEqual(run(it, ops, []), [-ENOSPC]);
    assert.deepStrictEqual(ops.trace(), ['begin(0, 100, WRITE)']);

    // After one good mapping: begin, end, begin(fails) — and nothing after it.
    const ops2 = new ScriptedOps([{ map: { offset: 0, length: 4096, type: IOMAP_MAPPED } }, { error: -EIO }]);
    const it2 = new IomapIter(inode(), 0, 10000, W);
    assert.deepStrictEqual(run(it2, ops2, [() => 4096]), [1, -EIO]);
    assert.deepStrictEqual(ops2.trace(), ['begin(0, 10000, WRITE)', 'end(0, 4096, 4096, WRITE)', 'begin(4096, 5904, WRITE)']);
    assert.strictEqual(it2.pos, 4096);
  });

  it("->iomap_end's error is returned only when the body processed nothing", () => {
    const map: BeginStep = { map: { offset: 0, length: 4096, type: IOMAP_MAPPED } };
    // (a) processed == 0, end fails: the end error is the result (instead of 0).
    const a = new ScriptedOps([map]);
    a.endReturns = [-ENOSPC];
    assert.deepStrictEqual(run(new IomapIter(inode(), 0, 4096, W), a, [() => 0]), [1, -ENOSPC]);
    // (b) processed == 0, end succeeds: plain stop.
    const b = new ScriptedOps([map]);
    assert.deepStrictEqual(run(new IomapIter(inode(), 0, 4096, W), b, [() => 0]), [1, 0]);
    assert.deepStrictEqual(b.trace(), ['begin(0, 4096, WRITE)', 'end(0, 4096, 0, WRITE)']);
    // (c) processed 512 > 0, end fails: dropped; the iterator advances to 512 and maps again.
    const c = new ScriptedOps([map, { map: { offset: 0, length: 4096, type: IOMAP_MAPPED } }]);
    c.endReturns = [-ENOSPC];
    const itc = new IomapIter(inode(), 0, 4096, W);
    assert.deepStrictEqual(run(itc, c, [() => 512, (i) => iomapLength(i)]), [1, 1, 0]);
    // second mapping: pos 512, len 4096 - 512 = 3584, curLen = min(3584, 4096 - 512) = 3584.
    assert.deepStrictEqual(c.trace(), [
      'begin(0, 4096, WRITE)', 'end(0, 4096, 512, WRITE)', 'begin(512, 3584, WRITE)', 'end(512, 3584, 3584, WRITE)',
    ]);
    // (d) processed = -EIO, end fails with -ENOSPC: end gets written 0, the body's error wins.
    const d = new ScriptedOps([map]);
    d.endReturns = [-ENOSPC];
    assert.deepStrictEqual(run(new IomapIter(inode(), 0, 4096, W), d, [() => -EIO]), [1, -EIO]);
    assert.deepStrictEqual(d.trace(), ['begin(0, 4096, WRITE)', 'end(0, 4096, 0, WRITE)']);
  });

  it('processed > length: ->iomap_end still sees it, then WARN and -EIO (Errata §3.1)', () => {
    // curLen = min(10000, 4096 - 1000) = 3096; the body over-reports 4000.
    const ops = new ScriptedOps([{ map: { offset: 0, length: 4096, type: IOMAP_MAPPED } }]);
    const it = new IomapIter(inode(), 1000, 10000, W);
    assert.deepStrictEqual(run(it, ops, [() => 4000]), [1, -EIO]);
    assert.deepStrictEqual(ops.trace(), ['begin(1000, 10000, WRITE)', 'end(1000, 3096, 4000, WRITE)']);
    assert.strictEqual(it.pos, 1000, 'no advance');
    assert.deepStrictEqual(it.warnings, ['processed 4000 > length 3096']);
  });

  it('len == 0 still calls ->iomap_begin once (with length 0)', () => {
    // curLen = min(0, ...) = 0; the body does nothing; end(0, 0, 0) and stop.
    const ops = new ScriptedOps([{ map: { offset: 0, length: 4096, type: IOMAP_HOLE } }]);
    const it = new IomapIter(inode(), 0, 0, 0);
    const seen: number[] = [];
    assert.deepStrictEqual(run(it, ops, [(i) => { seen.push(iomapLength(i)); return 0; }]), [1, 0]);
    assert.deepStrictEqual(seen, [0]);
    assert.deepStrictEqual(ops.trace(), ['begin(0, 0, 0)', 'end(0, 0, 0, 0)']);
  });

  it('a zero-length mapping gets no ->iomap_end and is mapped again at the same pos (Errata §3.1)', () => {
    // Mapping 1 = [4096, +0): curLen = min(8192, 4096 - 4096) = 0. "Is there a previous mapping"
    // is iomap.length != 0, so the next iomapIter() neither calls end nor advances (even the
    // 100 bytes a buggy body claims are dropped) and begins again at 4096 with len 8192.
    const ops = new ScriptedOps([
      { map: { offset: 4096, length: 0, type: IOMAP_MAPPED } },
      { map: { offset: 4096, length: 8192, type: IOMAP_MAPPED } },
    ]);
    const it = new IomapIter(inode(), 4096, 8192, IOMAP_ZERO);
    const seen: number[] = [];
    const rets = run(it, ops, [
      (i) => { seen.push(iomapLength(i)); return 100; },
      (i) => { seen.push(iomapLength(i)); return iomapLength(i); },
    ]);
    assert.deepStrictEqual(rets, [1, 1, 0]);
    assert.deepStrictEqual(seen, [0, 8192]);
    assert.deepStrictEqual(ops.trace(), ['begin(4096, 8192, ZERO)', 'begin(4096, 8192, ZERO)', 'end(4096, 8192, 8192, ZERO)']);
    assert.deepStrictEqual(it.warnings, ['iomap.length == 0', 'iomap end 4096 <= pos 4096']);
  });

  it('curLen of a mapping that ends at pos is 0; one that ends before pos wraps to the whole len (u64)', () => {
    // [0, 4096) for pos 4096: end - pos = 0 -> curLen = min(8192, 0) = 0 (kernel iomap_length).
    const ops = new ScriptedOps([{ map: { offset: 0, length: 4096, type: IOMAP_MAPPED } }]);
    const it = new IomapIter(inode(), 4096, 8192, W);
    const seen: number[] = [];
    assert.deepStrictEqual(run(it, ops, [(i) => { seen.push(iomapLength(i)); return iomapLength(i); }]), [1, 0]);
    assert.deepStrictEqual(seen, [0]);
    assert.deepStrictEqual(ops.trace(), ['begin(4096, 8192, WRITE)', 'end(4096, 0, 0, WRITE)']);
    assert.deepStrictEqual(it.warnings, ['iomap end 4096 <= pos 4096']);

    // [0, 2048) for pos 4096: end - pos = -2048 as u64 is huge -> curLen = min(8192, huge) = 8192.
    const ops2 = new ScriptedOps([{ map: { offset: 0, length: 2048, type: IOMAP_MAPPED } }]);
    const it2 = new IomapIter(inode(), 4096, 8192, W);
    const seen2: number[] = [];
    run(it2, ops2, [(i) => { seen2.push(iomapLength(i)); return 0; }]);
    assert.deepStrictEqual(seen2, [8192]);
    // Zero length below pos: the same wrap (Errata: "the body runs over a range the mapping does not cover").
    const ops3 = new ScriptedOps([{ map: { offset: 0, length: 0, type: IOMAP_MAPPED } }, { error: -EIO }]);
    const it3 = new IomapIter(inode(), 4096, 8192, W);
    const seen3: number[] = [];
    run(it3, ops3, [(i) => { seen3.push(iomapLength(i)); return 0; }]);
    assert.deepStrictEqual(seen3, [8192]);
  });

  it('STALE with no progress: end sees STALE, then begin again at the same pos', () => {
    // Body 1 marks the mapping stale and processes 0 -> end(0, 4096, 0) [STALE]; the iterator
    // does not stop (processed == 0 but STALE) and maps pos 0 again with the full len.
    const ops = new ScriptedOps([
      { map: { offset: 0, length: 4096, type: IOMAP_DELALLOC, flags: IOMAP_F_NEW } },
      { map: { offset: 0, length: 4096, type: IOMAP_MAPPED } },
    ]);
    const it = new IomapIter(inode(), 0, 4096, W);
    const rets = run(it, ops, [
      (i) => { i.iomap.flags |= IOMAP_F_STALE; return 0; },
      (i) => iomapLength(i),
    ]);
    assert.deepStrictEqual(rets, [1, 1, 0]);
    assert.deepStrictEqual(ops.trace(), [
      'begin(0, 4096, WRITE)', 'end(0, 4096, 0, WRITE) [NEW|STALE]',
      'begin(0, 4096, WRITE)', 'end(0, 4096, 4096, WRITE)',
    ]);
    // The re-begin gets a zeroed iomap (STALE is not carried over).
    assert.ok(isZeroed(ops.begins()[1].iomapIn));
  });

  it('STALE after progress: advance by what was done, then re-query', () => {
    // 512 of curLen 4096 done, then STALE: end(0, 4096, 512) [STALE], begin(512, 4096 - 512 = 3584).
    const ops = new ScriptedOps([
      { map: { offset: 0, length: 4096, type: IOMAP_MAPPED } },
      { map: { offset: 0, length: 8192, type: IOMAP_MAPPED } },
    ]);
    const it = new IomapIter(inode(), 0, 4096, W);
    run(it, ops, [(i) => { i.iomap.flags |= IOMAP_F_STALE; return 512; }, (i) => iomapLength(i)]);
    assert.deepStrictEqual(ops.trace(), [
      'begin(0, 4096, WRITE)', 'end(0, 4096, 512, WRITE) [STALE]',
      'begin(512, 3584, WRITE)', 'end(512, 3584, 3584, WRITE)',
    ]);
  });

  it('post-begin sanity checks are recorded as warnings (offset > pos, STALE from the fs)', () => {
    const ops = new ScriptedOps([
      { map: { offset: 8192, length: 4096, type: IOMAP_MAPPED, flags: IOMAP_F_STALE } },
    ]);
    const it = new IomapIter(inode(), 4096, 4096, W);
    run(it, ops, [() => -EIO]);
    assert.deepStrictEqual(it.warnings, ['iomap.offset 8192 > pos 4096', 'iomap_begin returned IOMAP_F_STALE']);
  });

  it('without ->iomap_end the iterator still advances mapping by mapping', () => {
    const ops = new BeginOnlyOps([
      { map: { offset: 0, length: 2048, type: IOMAP_MAPPED } },
      { map: { offset: 2048, length: 2048, type: IOMAP_HOLE } },
    ]);
    const it = new IomapIter(inode(), 0, 4096, 0);
    const ret = iomapIterate(it, ops, (i) => iomapLength(i));
    assert.strictEqual(ret, 0);
    assert.deepStrictEqual(ops.trace(), ['begin(0, 4096, 0)', 'begin(2048, 2048, 0)']);
    assert.strictEqual(it.pos, 4096);
  });
});

describe('iomap iter (current generation): bodies advance the iterator (iomap_iter_advance)', () => {
  function current(): Inode {
    const i = inode();
    i.api = 'current';
    return i;
  }

  /** run() with bodies that advance and return a status (0 or -errno). */
  const runCurrent = (it: IomapIter, ops: ScriptedOps, bodies: Array<(it: IomapIter) => number>): number[] => run(it, ops, bodies, 'status');

  it('->iomap_end gets the mapping\'s start (iter_start_pos), its length and the bytes advanced', () => {
    // pos 1000, len 10000; mapping [0, 4096): the body advances 1000 then 2096 (3096 in all);
    // end(1000, 3096, 3096). Mapping 2 [4096, 12288) advanced fully: end(4096, 6904, 6904), len 0.
    const ops = new ScriptedOps([
      { map: { offset: 0, length: 4096, type: IOMAP_MAPPED, addr: 1 << 20 } },
      { map: { offset: 4096, length: 8192, type: IOMAP_MAPPED, addr: 1 << 21 } },
    ]);
    const it = new IomapIter(current(), 1000, 10000, W);
    assert.strictEqual(it.api, 'current');
    const rets = runCurrent(it, ops, [
      (i) => { assert.strictEqual(iomapIterAdvance(i, 1000), 0); return iomapIterAdvance(i, 2096); },
      (i) => iomapIterAdvance(i, iomapLength(i)),
    ]);
    assert.deepStrictEqual(rets, [1, 1, 0]);
    assert.deepStrictEqual(ops.trace(), [
      'begin(1000, 10000, WRITE)',
      'end(1000, 3096, 3096, WRITE)',
      'begin(4096, 6904, WRITE)',
      'end(4096, 6904, 6904, WRITE)',
    ]);
    assert.strictEqual(it.pos, 11000);
  });

  it('a partial advance then an error: end is told the bytes advanced, the error ends the iteration', () => {
    const ops = new ScriptedOps([{ map: { offset: 0, length: 8192, type: IOMAP_MAPPED, addr: 1 << 20 } }]);
    const it = new IomapIter(current(), 0, 8192, W);
    const rets = runCurrent(it, ops, [(i) => { iomapIterAdvance(i, 4096); return -ENOSPC; }]);
    assert.deepStrictEqual(rets, [1, -ENOSPC]);
    assert.deepStrictEqual(ops.trace(), ['begin(0, 8192, WRITE)', 'end(0, 8192, 4096, WRITE)']);
    assert.strictEqual(it.pos, 4096);
  });

  it('advancing past the mapping is refused with a WARN and -EIO; a positive status (the 6.12 habit) too', () => {
    const ops = new ScriptedOps([{ map: { offset: 0, length: 4096, type: IOMAP_MAPPED, addr: 1 << 20 } }]);
    const it = new IomapIter(current(), 0, 8192, W);
    assert.strictEqual(iomapIter(it, ops), 1);
    assert.strictEqual(iomapIterAdvance(it, 4097), -EIO);
    assert.strictEqual(it.pos, 0, 'nothing advanced');
    assert.ok(it.warnings.some((w) => /advance 4097 > length 4096/.test(w)), it.warnings.join('; '));
    // A body that returns the bytes it processed instead of advancing:
    const ops2 = new ScriptedOps([{ map: { offset: 0, length: 4096, type: IOMAP_MAPPED, addr: 1 << 20 } }]);
    const it2 = new IomapIter(current(), 0, 4096, W);
    const rets = runCurrent(it2, ops2, [() => 4096]);
    assert.deepStrictEqual(rets, [1, -EIO]);
    assert.ok(it2.warnings.some((w) => /status 4096 > 0/.test(w)), it2.warnings.join('; '));
    assert.deepStrictEqual(ops2.trace(), ['begin(0, 4096, WRITE)', 'end(0, 4096, 0, WRITE)']);
  });

  it('STALE with nothing advanced maps the same position again; nothing advanced and not stale stops', () => {
    const ops = new ScriptedOps([
      { map: { offset: 0, length: 4096, type: IOMAP_DELALLOC, addr: -1 } },
      { map: { offset: 0, length: 4096, type: IOMAP_DELALLOC, addr: -1 } },
    ]);
    const it = new IomapIter(current(), 0, 4096, W);
    const rets = runCurrent(it, ops, [
      (i) => { i.iomap.flags |= IOMAP_F_STALE; return 0; },
      () => 0,
    ]);
    assert.deepStrictEqual(rets, [1, 1, 0]);
    assert.deepStrictEqual(ops.trace(), ['begin(0, 4096, WRITE)', 'end(0, 4096, 0, WRITE) [STALE]', 'begin(0, 4096, WRITE)', 'end(0, 4096, 0, WRITE)']);
  });

  it('iomapIterate runs the shared bodies in either generation with the same ->iomap_begin/->iomap_end calls', () => {
    const script = (): ScriptedOps => new ScriptedOps([
      { map: { offset: 0, length: 4096, type: IOMAP_MAPPED, addr: 1 << 20 } },
      { map: { offset: 4096, length: 4096, type: IOMAP_HOLE, addr: -1 } },
    ]);
    const a = script();
    const b = script();
    iomapIterate(new IomapIter(inode(), 100, 6000, W), a, (i) => iomapLength(i));
    iomapIterate(new IomapIter(current(), 100, 6000, W), b, (i) => iomapLength(i));
    assert.deepStrictEqual(b.trace(), a.trace());
  });
});
