/**
 * Per-folio iomap state (contract §6 + Errata §6): when an ifs exists, how it is seeded, the
 * per-block uptodate/dirty range helpers and their edge cases, is_partially_uptodate,
 * find_dirty_range, ifs_free warnings, the aops iomap installs, and the page-cache folio
 * allocation those rely on.
 */
import * as assert from 'assert';
import {
  Folio, blockIsDirty, blockIsUptodate, blocksPerFolio, clearRangeDirty, findDirtyRange, ifsAlloc, ifsFree,
  isPartiallyUptodate, setRangeDirty, setRangeUptodate,
} from '../reference/iomap/folio';
import { iomapDirtyFolio, iomapInvalidateFolio, iomapReleaseFolio } from '../reference/iomap/buffered-io';
import { ALL_GEOS, bareInode, folioAt, geoName } from './support/scripted-ops';
import type { Inode } from '../reference/iomap/types';

function bits(a: Uint8Array | undefined): string {
  return a ? Array.from(a).join('') : 'none';
}

function setBits(folio: Folio, which: 'uptodate' | 'dirty', pattern: string): void {
  const arr = folio.ifs![which];
  for (let i = 0; i < pattern.length; i++) arr[i] = pattern[i] === '1' ? 1 : 0;
}

/** A folio of `folio` bytes at 0 in a bare inode with block size `bs`. */
function mk(bs: number, folio: number, at = 0): { inode: Inode; f: Folio } {
  const inode = bareInode({ blockSize: bs, folioSize: Math.max(folio, 4096) });
  return { inode, f: folioAt(inode, at, folio) };
}

describe('iomap folio state: when an ifs exists and how it is seeded', () => {
  for (const g of [...ALL_GEOS, { bs: 16384, folio: 16384 }, { bs: 16384, folio: 65536 }]) {
    const n = g.folio / g.bs;
    it(`${geoName(g)}: ${n} block(s) per folio -> ${n > 1 ? 'ifs' : 'no ifs'}`, () => {
      const { inode, f } = mk(g.bs, g.folio);
      assert.strictEqual(blocksPerFolio(f, inode.blkbits), n);
      const ifs = ifsAlloc(f, inode.blkbits);
      if (n <= 1) {
        assert.strictEqual(ifs, null);
        assert.strictEqual(f.ifs, null);
        // The folio flags are the whole truth: one block's state is the folio's.
        f.uptodate = true;
        assert.strictEqual(blockIsUptodate(f, 0), true);
        assert.strictEqual(blockIsDirty(f, 0), false);
        return;
      }
      assert.ok(ifs && f.ifs === ifs);
      assert.strictEqual(ifs.uptodate.length, n);
      assert.strictEqual(ifs.dirty.length, n);
      assert.strictEqual(bits(ifs.uptodate), '0'.repeat(n), 'a new folio seeds nothing');
      assert.strictEqual(bits(ifs.dirty), '0'.repeat(n));
      assert.strictEqual(ifs.readBytesPending + ifs.writeBytesPending, 0);
      // A second call returns the same state.
      assert.strictEqual(ifsAlloc(f, inode.blkbits), ifs);
    });
  }

  it('seeding from folio flags: uptodate => all uptodate bits, dirty => all dirty bits', () => {
    const a = mk(1024, 4096);
    a.f.uptodate = true;
    ifsAlloc(a.f, a.inode.blkbits);
    assert.strictEqual(bits(a.f.ifs!.uptodate), '1111');
    assert.strictEqual(bits(a.f.ifs!.dirty), '0000');
    const b = mk(512, 4096);
    b.f.dirty = true;
    ifsAlloc(b.f, b.inode.blkbits);
    assert.strictEqual(bits(b.f.ifs!.uptodate), '00000000');
    assert.strictEqual(bits(b.f.ifs!.dirty), '11111111');
  });

  it('NOWAIT allocation failure returns null (and an existing ifs is still returned)', () => {
    const { inode, f } = mk(1024, 16384);
    assert.strictEqual(ifsAlloc(f, inode.blkbits, true), null);
    assert.strictEqual(f.ifs, null);
    const ifs = ifsAlloc(f, inode.blkbits);
    assert.strictEqual(ifsAlloc(f, inode.blkbits, true), ifs);
  });
});

describe('iomap folio state: range helpers', () => {
  it('set_range_uptodate: blocks overlapped by [off, off+len); the folio goes uptodate with the last bit', () => {
    // bs 1024, 4 blocks. [100, 1100) touches blocks 100>>10 = 0 .. 1099>>10 = 1.
    const { inode, f } = mk(1024, 4096);
    ifsAlloc(f, inode.blkbits);
    setRangeUptodate(f, 100, 1000, inode.blkbits);
    assert.strictEqual(bits(f.ifs!.uptodate), '1100');
    assert.strictEqual(f.uptodate, false);
    // A zero-length range at a block boundary (1024) touches no block: last = 1023>>10 = 0 < first = 1.
    setRangeUptodate(f, 1024, 0, inode.blkbits);
    assert.strictEqual(bits(f.ifs!.uptodate), '1100');
    // [2048, 4096) = blocks 2..3: now all set -> folio uptodate.
    setRangeUptodate(f, 2048, 2048, inode.blkbits);
    assert.strictEqual(bits(f.ifs!.uptodate), '1111');
    assert.strictEqual(f.uptodate, true);
  });

  it('set_range_uptodate without ifs marks the whole folio uptodate, whatever the range', () => {
    const { inode, f } = mk(4096, 4096);
    setRangeUptodate(f, 100, 1, inode.blkbits);
    assert.strictEqual(f.uptodate, true);
  });

  it('set_range_dirty: zero length mid-block marks that block, at a boundary none (Errata §6.1)', () => {
    const { inode, f } = mk(1024, 4096);
    ifsAlloc(f, inode.blkbits);
    // off 1500, len 0: first = 1500>>10 = 1, last = (1500 + 0 - 1)>>10 = 1 -> block 1.
    setRangeDirty(f, 1500, 0, inode.blkbits);
    assert.strictEqual(bits(f.ifs!.dirty), '0100');
    // off 3072, len 0: first = 3, last = 3071>>10 = 2 -> nothing.
    setRangeDirty(f, 3072, 0, inode.blkbits);
    assert.strictEqual(bits(f.ifs!.dirty), '0100');
    // off 0, len 0: last = -1 -> nothing (the kernel's unsigned wrap also yields 0 blocks).
    setRangeDirty(f, 0, 0, inode.blkbits);
    assert.strictEqual(bits(f.ifs!.dirty), '0100');
    // [3000, 3100): blocks 2..3.
    setRangeDirty(f, 3000, 100, inode.blkbits);
    assert.strictEqual(bits(f.ifs!.dirty), '0111');
    // The helper never touches the folio flag.
    assert.strictEqual(f.dirty, false);
    // clear [1024, 3072) = blocks 1..2.
    clearRangeDirty(f, 1024, 2048, inode.blkbits);
    assert.strictEqual(bits(f.ifs!.dirty), '0001');
  });

  it('set_range_dirty without ifs does nothing (the folio flag is the caller\'s job)', () => {
    const { inode, f } = mk(4096, 4096);
    setRangeDirty(f, 0, 4096, inode.blkbits);
    assert.strictEqual(f.dirty, false);
    assert.strictEqual(f.ifs, null);
  });

  it('is_partially_uptodate: false without ifs, else every overlapped block, range clipped to the folio', () => {
    const one = mk(4096, 4096);
    one.f.uptodate = true;
    assert.strictEqual(isPartiallyUptodate(one.f, 0, 100, one.inode.blkbits), false, 'no ifs: false even if uptodate');

    const { inode, f } = mk(1024, 4096);
    ifsAlloc(f, inode.blkbits);
    setBits(f, 'uptodate', '1101');
    const b = inode.blkbits;
    assert.strictEqual(isPartiallyUptodate(f, 0, 2048, b), true); // blocks 0..1
    assert.strictEqual(isPartiallyUptodate(f, 0, 2049, b), false); // 0..2, block 2 missing
    assert.strictEqual(isPartiallyUptodate(f, 1000, 100, b), true); // [1000, 1100): blocks 0..1
    assert.strictEqual(isPartiallyUptodate(f, 2047, 2, b), false); // blocks 1..2
    assert.strictEqual(isPartiallyUptodate(f, 3072, 100000, b), true); // clipped to [3072, 4096): block 3
    assert.strictEqual(isPartiallyUptodate(f, 2048, 1, b), false);
  });

  it('find_dirty_range: maximal dirty runs from a start, bounded by the range end', () => {
    // bs 512, 8 blocks, dirty 01101110; the folio sits at 8192 so offsets are folio-relative.
    const inode = bareInode({ blockSize: 512, folioSize: 4096 });
    const f = folioAt(inode, 8192, 4096);
    ifsAlloc(f, inode.blkbits);
    setBits(f, 'dirty', '01101110');
    const b = inode.blkbits;
    const end = f.end;
    assert.deepStrictEqual(findDirtyRange(f, 8192, end, b), [8192 + 512, 1024]); // blocks 1..2
    assert.deepStrictEqual(findDirtyRange(f, 8192 + 1024, end, b), [8192 + 1024, 512]); // starts mid-run at 2
    assert.deepStrictEqual(findDirtyRange(f, 8192 + 1536, end, b), [8192 + 2048, 1536]); // skips 3, run 4..6
    // range end 8192 + 2560 -> end block 5: run 4..4 only.
    assert.deepStrictEqual(findDirtyRange(f, 8192 + 1536, 8192 + 2560, b), [8192 + 2048, 512]);
    assert.strictEqual(findDirtyRange(f, 8192 + 3584, end, b), null); // block 7 clean, nothing after
    assert.strictEqual(findDirtyRange(f, end, end, b), null); // start >= end
    // Without ifs everything from start to the end is one dirty run.
    const g = folioAt(inode, 0, 4096);
    assert.deepStrictEqual(findDirtyRange(g, 1000, 4096, b), [1000, 3096]);
  });

  it('ifs_free reports pending I/O and uptodate mismatches', () => {
    const { inode, f } = mk(1024, 4096);
    ifsAlloc(f, inode.blkbits);
    f.ifs!.readBytesPending = 1024;
    f.ifs!.writeBytesPending = 2048;
    setBits(f, 'uptodate', '1111');
    assert.deepStrictEqual(ifsFree(f), [
      'ifs freed with read bytes pending', 'ifs freed with write bytes pending',
      'ifs uptodate bits disagree with folio uptodate',
    ]);
    assert.strictEqual(f.ifs, null);
    assert.deepStrictEqual(ifsFree(f), [], 'no ifs: nothing to free');
    ifsAlloc(f, inode.blkbits);
    assert.deepStrictEqual(ifsFree(f), []);
  });
});

describe('iomap aops: dirty_folio, invalidate_folio, release_folio', () => {
  it('dirty_folio creates the ifs if needed and dirties every block and the folio', () => {
    const { f } = mk(1024, 16384);
    iomapDirtyFolio(f);
    assert.strictEqual(bits(f.ifs!.dirty), '1'.repeat(16));
    assert.strictEqual(bits(f.ifs!.uptodate), '0'.repeat(16));
    assert.strictEqual(f.dirty, true);
    const one = mk(4096, 4096);
    iomapDirtyFolio(one.f);
    assert.strictEqual(one.f.ifs, null);
    assert.strictEqual(one.f.dirty, true);
  });

  it('invalidate_folio acts only on the whole folio: cancels dirty and frees the ifs', () => {
    const { inode, f } = mk(1024, 4096);
    iomapDirtyFolio(f);
    iomapInvalidateFolio(f, 1024, 3072);
    assert.strictEqual(f.dirty, true);
    assert.ok(f.ifs);
    iomapInvalidateFolio(f, 0, 4096);
    assert.strictEqual(f.dirty, false);
    assert.strictEqual(f.ifs, null);
    assert.deepStrictEqual(inode.mapping.warnings, []);
    // Under writeback: WARN.
    iomapDirtyFolio(f);
    f.writeback = true;
    iomapInvalidateFolio(f, 0, 4096);
    assert.deepStrictEqual(inode.mapping.warnings, [`invalidate of folio 0 under writeback`]);
  });

  it('release_folio refuses a dirty folio and frees the ifs of a clean one', () => {
    const { f } = mk(1024, 4096);
    iomapDirtyFolio(f);
    assert.strictEqual(iomapReleaseFolio(f), false);
    assert.ok(f.ifs);
    f.dirty = false;
    assert.strictEqual(iomapReleaseFolio(f), true);
    assert.strictEqual(f.ifs, null);
  });
});

describe('page cache: folio allocation (order from the size hint, alignment, conflicts, EOF cap, min order)', () => {
  it('order = log2(hint) - PAGE_SHIFT, clamped to max order and to the index alignment', () => {
    const inode = bareInode({ blockSize: 1024, folioSize: 65536 });
    const m = inode.mapping;
    const at = (idx: number, hint: number, last?: number) => {
      const f = m.allocFolio(idx, hint, last);
      return [f.index, f.nrPages];
    };
    assert.deepStrictEqual(at(0, 65536), [0, 16]); // order 16 - 12 = 4
    assert.deepStrictEqual(at(19, 65536), [19, 1]); // 19 is odd: ctz(19) = 0 -> one page
    assert.deepStrictEqual(at(20, 65536), [20, 4]); // ctz(20) = 2 -> 4 pages [20, 24)
    assert.deepStrictEqual(at(32, 10000), [32, 2]); // floor(log2(10000)) = 13 -> order 1
    assert.deepStrictEqual(at(34, 1 << 20), [34, 2]); // ctz(34) = 1
    assert.deepStrictEqual(at(64, 1 << 20), [64, 16]); // max order 4
  });

  it('drops the order on a conflict with a cached folio, and at the EOF index cap', () => {
    const inode = bareInode({ blockSize: 1024, folioSize: 65536 });
    const m = inode.mapping;
    m.allocFolio(2, 4096);
    // order 4 [0,16), 3 [0,8), 2 [0,4) all hold index 2; order 1 [0,2) is free.
    const f = m.allocFolio(0, 65536);
    assert.deepStrictEqual([f.index, f.nrPages], [0, 2]);
    // lastIndex 21 for a folio at 16: order 4 ends at 31 > 21, order 3 at 23 > 21, order 2 at 19 <= 21.
    const g = m.allocFolio(16, 65536, 21);
    assert.deepStrictEqual([g.index, g.nrPages], [16, 4]);
  });

  it('block size above the page size forces a minimum order (bs 16K: 4-page folios)', () => {
    const inode = bareInode({ blockSize: 16384, folioSize: 65536 });
    const f = inode.mapping.allocFolio(5, 4096);
    // min order 2: index 5 rounds down to 4, order max(0 -> 2) = 2.
    assert.deepStrictEqual([f.index, f.nrPages], [4, 4]);
  });
});
