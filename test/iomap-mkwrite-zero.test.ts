/**
 * page_mkwrite (contract §5.3) and zero_range / truncate_page (§5.4 + Errata §5.4, 6.12 form):
 * the mapped range, EOF checks, per-mapping dirtying, SIGBUS through the file API; skipped
 * HOLE/UNWRITTEN, zeroed MAPPED/DELALLOC, did_zero, the one-shot 6.12 flush + STALE re-query,
 * truncate_page's block rounding — with scripted mappings and through refs.
 */
import * as assert from 'assert';
import {
  iomapPageMkwrite, iomapTruncatePage, iomapZeroRange, iomapDirtyFolio, zeroRangeConfig,
} from '../reference/iomap/buffered-io';
import { setRangeUptodate } from '../reference/iomap/folio';
import {
  IOMAP_DELALLOC, IOMAP_F_NEW, IOMAP_HOLE, IOMAP_MAPPED, IOMAP_UNWRITTEN, FolioOps, Inode, roundUp,
} from '../reference/iomap/types';
import { MemoryDevice } from '../reference/device/memory';
import { FaultDevice } from '../reference/device/fault';
import { EFAULT, EIO, ENOSPC } from '../reference/errno';
import {
  ALL_GEOS, MapSpec, ScriptedOps, ScriptedWritebackOps, allBytes, bareInode, expectFsError, extentsOf, folioAt,
  geoName, mountRefs, pattern, tableMapper, tapOps,
} from './support/scripted-ops';

const ADDR = 1 << 20;
const MiB = 1 << 20;
const POISON = 0xaa;

function device(): { dev: FaultDevice; content: Uint8Array } {
  const mem = new MemoryDevice({ size: 8 * MiB });
  const content = pattern(7, 2 * MiB);
  mem.write(ADDR, content);
  return { dev: new FaultDevice(mem), content };
}

function mapped(dev: FaultDevice, offset = 0, length = 2 * MiB): MapSpec {
  return { offset, length, type: IOMAP_MAPPED, addr: ADDR + offset, bdev: dev };
}

function eq(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.from(a).equals(Buffer.from(b));
}

function uptodateFolio(inode: Inode, pos: number, size: number): ReturnType<typeof folioAt> {
  const f = folioAt(inode, pos, size);
  setRangeUptodate(f, 0, size, inode.blkbits);
  return f;
}

describe('iomap_page_mkwrite (scripted mappings)', () => {
  for (const g of ALL_GEOS) {
    it(`${geoName(g)}: EOF folio -> range [folio_pos, EOF), whole folio dirtied, left locked`, () => {
      // i_size = F - 100: folio_mkwrite_check_truncate gives offset_in_folio(i_size) = F - 100.
      const F = g.folio;
      const inode = bareInode({ blockSize: g.bs, folioSize: F, size: F - 100 });
      const f = uptodateFolio(inode, 0, F);
      const ops = new ScriptedOps([{ map: { offset: 0, length: F, type: IOMAP_DELALLOC } }]);
      assert.strictEqual(iomapPageMkwrite(inode, f, ops), 0);
      // page_mkwrite maps [folio_pos, EOF) of the EOF folio: [F - 4096, F - 100).
      assert.deepStrictEqual(ops.trace(), [`begin(${f.pos}, ${F - 100 - f.pos}, WRITE|FAULT)`, `end(${f.pos}, ${F - 100 - f.pos}, ${F - 100 - f.pos}, WRITE|FAULT)`]);
      assert.strictEqual(f.dirty, true);
      if (F > g.bs) assert.ok(allBytes(f.ifs!.dirty, 1), 'every block, including those past EOF');
      assert.strictEqual(f.locked, true, 'VM_FAULT_LOCKED');
      assert.deepStrictEqual(inode.mapping.warnings, []);
    });

    it(`${geoName(g)}: folio wholly inside EOF -> the whole folio; at/after EOF -> -EFAULT, no begin`, () => {
      const F = g.folio;
      const inode = bareInode({ blockSize: g.bs, folioSize: F, size: 3 * F });
      const f = uptodateFolio(inode, F, F);
      const ops = new ScriptedOps(tableMapper([{ offset: 0, length: 4 * F, type: IOMAP_DELALLOC }]));
      assert.strictEqual(iomapPageMkwrite(inode, f, ops), 0);
      assert.deepStrictEqual(ops.trace(), [`begin(${F}, ${F}, WRITE|FAULT)`, `end(${F}, ${F}, ${F}, WRITE|FAULT)`]);
      // i_size == F: the folio at F starts exactly at EOF (index == EOF index, offset 0) -> -EFAULT.
      const inode2 = bareInode({ blockSize: g.bs, folioSize: F, size: F });
      const f2 = uptodateFolio(inode2, F, F);
      const ops2 = new ScriptedOps([]);
      assert.strictEqual(iomapPageMkwrite(inode2, f2, ops2), -EFAULT);
      assert.deepStrictEqual(ops2.trace(), []);
      assert.strictEqual(f2.locked, false);
      assert.strictEqual(f2.dirty, false);
      // A folio past the EOF index, and a folio no longer in the mapping (truncated): -EFAULT.
      const f3 = uptodateFolio(inode2, 2 * F, F);
      assert.strictEqual(iomapPageMkwrite(inode2, f3, ops2), -EFAULT);
      const f4 = uptodateFolio(inode, 2 * F, F);
      inode.mapping.removeFolio(f4, 'truncate');
      assert.strictEqual(iomapPageMkwrite(inode, f4, ops), -EFAULT);
    });
  }

  it('dirties per mapping: a failing second mapping still leaves the folio dirty (§7.7 fix)', () => {
    const inode = bareInode({ blockSize: 1024, folioSize: 4096, size: MiB });
    const f = uptodateFolio(inode, 0, 4096);
    const ops = new ScriptedOps([{ map: { offset: 0, length: 2048, type: IOMAP_DELALLOC, flags: IOMAP_F_NEW } }, { error: -ENOSPC }]);
    assert.strictEqual(iomapPageMkwrite(inode, f, ops), -ENOSPC);
    assert.deepStrictEqual(ops.trace(), [
      'begin(0, 4096, WRITE|FAULT)', 'end(0, 2048, 2048, WRITE|FAULT) [NEW]', 'begin(2048, 2048, WRITE|FAULT)',
    ]);
    assert.strictEqual(f.dirty, true);
    assert.strictEqual(f.locked, false);
  });

  it('does not call ->iomap_valid, and WARNs on a folio that is not uptodate', () => {
    const inode = bareInode({ blockSize: 1024, folioSize: 4096, size: MiB });
    const f = folioAt(inode, 0, 4096);
    let valid = 0;
    const folioOps: FolioOps = { iomapValid: () => { valid++; return false; } };
    const ops = new ScriptedOps([{ map: { offset: 0, length: 4096, type: IOMAP_DELALLOC, folioOps } }]);
    assert.strictEqual(iomapPageMkwrite(inode, f, ops), 0);
    assert.strictEqual(valid, 0);
    assert.deepStrictEqual(inode.mapping.warnings, ['page_mkwrite on folio that is not uptodate']);
  });
});

describe('page_mkwrite through mmap stores (refs)', () => {
  for (const g of ALL_GEOS) {
    it(`${geoName(g)}: store into the clean EOF folio maps [0, EOF) once, dirties it, persists; SIGBUS past the last page`, () => {
      const env = mountRefs(g.bs, g.folio);
      const F = g.folio;
      const data = pattern(1, F);
      env.fh.pwrite(0, data); // one full max-size folio
      env.fh.fsync(); // clean, write-protected
      env.fh.truncate(F - 100); // the folio straddles EOF now; no block is freed (ceil((F-100)/bs) = F/bs)
      // truncate_page dirtied the EOF folio before truncate_setsize, and a dirty large folio cannot
      // be split (iomap_release_folio refuses), so it stays whole; xfs_setattr_size then writes
      // the zeroed block back.
      const f = env.inode.mapping.folioAt(0)!;
      assert.deepStrictEqual([f.pos, f.size], [0, F]);
      env.fh.fsync();
      const ops = tapOps(env.fs.iomapOps);
      const store = pattern(2, 10);
      try {
        env.fh.mmapWrite(F - 200, store, { msync: false });
        env.fh.mmapWrite(F - 150, store, { msync: false }); // same page, now writable: no new fault
      } finally {
        ops.restore();
      }
      // page_mkwrite maps [folio_pos, EOF) of the EOF folio: [F - 4096, F - 100).
      assert.deepStrictEqual(ops.trace(), [`begin(${f.pos}, ${F - 100 - f.pos}, WRITE|FAULT)`, `end(${f.pos}, ${F - 100 - f.pos}, ${F - 100 - f.pos}, WRITE|FAULT)`]);
      assert.strictEqual(ops.results[0].map.type, IOMAP_MAPPED);
      assert.strictEqual(f.dirty, true);
      if (f.size > g.bs) assert.ok(allBytes(f.ifs!.dirty, 1)); // per-block bits only with >1 block per folio
      // Past EOF inside the last page is allowed; the next page is SIGBUS.
      const lastPageEnd = roundUp(F - 100, 4096);
      env.fh.mmapWrite(lastPageEnd - 1, new Uint8Array([9]), { msync: false });
      expectFsError(() => env.fh.mmapWrite(lastPageEnd, new Uint8Array([9])), 'SIGBUS');
      expectFsError(() => env.fh.mmapRead(lastPageEnd, 1), 'SIGBUS');
      env.fh.fsync();
      env.fsys.dropCaches();
      const expect = data.slice(0, F - 100);
      expect.fill(0, F - 100);
      expect.set(store, F - 200);
      expect.set(store, F - 150);
      assert.ok(eq(env.fh.pread(0, F), expect));
      assert.strictEqual(env.fh.size, F - 100);
      assert.deepStrictEqual(env.fsys.checkInvariants(), []);
    });

    it(`${geoName(g)}: store over a hole reserves delalloc (F_NEW) for the page part below EOF only`, () => {
      const env = mountRefs(g.bs, g.folio);
      env.fh.truncate(3 * 4096 + 500); // sparse, i_size 12788
      const ops = tapOps(env.fs.iomapOps);
      try {
        // page 1: wholly inside EOF -> [4096, 8192): 4096/bs blocks reserved.
        env.fh.mmapWrite(4096 + 10, pattern(3, 5), { msync: false });
        // page 3 (EOF page): range [12288, 12788) -> blocks 12288/bs .. ceil(12788/bs) = 1 block.
        env.fh.mmapWrite(3 * 4096 + 10, pattern(4, 5), { msync: false });
      } finally {
        ops.restore();
      }
      // Each store first faults the page in for reading (readahead of that one page over the
      // hole: flags 0), then page_mkwrite maps it for writing.
      assert.deepStrictEqual(ops.trace(), [
        'begin(4096, 4096, 0)', 'end(4096, 4096, 4096, 0)',
        'begin(4096, 4096, WRITE|FAULT)', 'end(4096, 4096, 4096, WRITE|FAULT) [NEW]',
        'begin(12288, 4096, 0)', 'end(12288, 4096, 4096, 0)',
        'begin(12288, 500, WRITE|FAULT)', 'end(12288, 500, 500, WRITE|FAULT) [NEW]',
      ]);
      const n1 = 4096 / g.bs;
      assert.deepStrictEqual(extentsOf(env.ri), [[4096 / g.bs, n1, 'delalloc'], [12288 / g.bs, 1, 'delalloc']]);
      assert.strictEqual(env.fs.reservedBlocks, n1 + 1);
      assert.deepStrictEqual(env.fsys.checkInvariants(), []);
    });

    it(`${geoName(g)}: ->iomap_begin ENOSPC in page_mkwrite -> SIGBUS, folio stays clean`, () => {
      const env = mountRefs(g.bs, g.folio);
      env.fh.truncate(8192);
      env.fs.faults.reserveLimit = 0;
      expectFsError(() => env.fh.mmapWrite(100, pattern(5, 5), { msync: false }), 'SIGBUS');
      const f = env.inode.mapping.folioAt(0)!;
      assert.strictEqual(f.dirty, false);
      assert.strictEqual(f.locked, false);
      assert.strictEqual(env.fs.reservedBlocks, 0);
    });
  }
});

describe('iomap_zero_range (scripted mappings)', () => {
  it('HOLE and UNWRITTEN are skipped whole; a partial MAPPED block is read (run rule), then zeroed', () => {
    // bs 1K folio 4K; zero [1000, 9000): HOLE [0,4096) -> curLen 3096 skipped; UNWRITTEN
    // [4096,8192) skipped; MAPPED from 8192: curLen 808 -> write_begin [8192, 9000): run
    // [8192, 9216) with to = 9000 inside -> read the block, zero [8192, 9000).
    const { dev, content } = device();
    const inode = bareInode({ blockSize: 1024, folioSize: 4096, size: MiB, newFolioFill: POISON });
    const ops = new ScriptedOps(tableMapper([
      { offset: 0, length: 4096, type: IOMAP_HOLE },
      { offset: 4096, length: 4096, type: IOMAP_UNWRITTEN, addr: ADDR + 4096, bdev: dev },
      mapped(dev, 8192, MiB),
    ]));
    const didZero = { v: false };
    assert.strictEqual(iomapZeroRange(inode, 1000, 8000, ops, didZero), 0);
    assert.deepStrictEqual(ops.trace(), [
      'begin(1000, 8000, ZERO)', 'end(1000, 3096, 3096, ZERO)',
      'begin(4096, 4904, ZERO)', 'end(4096, 4096, 4096, ZERO)',
      'begin(8192, 808, ZERO)', 'end(8192, 808, 808, ZERO)',
    ]);
    assert.strictEqual(didZero.v, true);
    assert.deepStrictEqual(dev.ios('read'), [[ADDR + 8192, 1024]]);
    assert.deepStrictEqual(inode.mapping.allFolios().map((f) => f.pos), [8192], 'no folio for skipped ranges');
    const f = inode.mapping.folioAt(8192)!;
    assert.ok(allBytes(f.data.subarray(0, 808), 0));
    assert.ok(eq(f.data.subarray(808, 1024), content.subarray(8192 + 808, 9216)));
    assert.strictEqual(f.dirty, true);
    assert.strictEqual(inode.size, MiB);
  });

  it('DELALLOC is zeroed without I/O; all-skipped ranges leave did_zero false', () => {
    const { dev } = device();
    const inode = bareInode({ blockSize: 1024, folioSize: 4096, size: MiB, newFolioFill: POISON });
    const ops = new ScriptedOps([{ map: { offset: 0, length: 4096, type: IOMAP_DELALLOC } }]);
    const didZero = { v: false };
    iomapZeroRange(inode, 100, 100, ops, didZero);
    assert.strictEqual(didZero.v, true);
    const f = inode.mapping.folioAt(0)!;
    // needsZeroing: the run [0, 1024) is zero-filled outside [100, 200) too; the rest untouched.
    assert.ok(allBytes(f.data.subarray(0, 1024), 0));
    assert.ok(allBytes(f.data.subarray(1024), POISON));
    assert.strictEqual(dev.stats.reads, 0);

    const inode2 = bareInode({ blockSize: 1024, folioSize: 4096, size: MiB });
    const d2 = { v: false };
    iomapZeroRange(inode2, 0, 8192, new ScriptedOps([{ map: { offset: 0, length: 8192, type: IOMAP_HOLE } }]), d2);
    assert.strictEqual(d2.v, false);
  });

  it('never raises i_size (6.11+), even when zeroing MAPPED blocks past EOF', () => {
    const { dev } = device();
    const inode = bareInode({ blockSize: 1024, folioSize: 4096, size: 1000 });
    const ops = new ScriptedOps(tableMapper([mapped(dev)]));
    iomapZeroRange(inode, 1000, 2000, ops);
    assert.strictEqual(inode.size, 1000);
    assert.deepStrictEqual(ops.trace(), ['begin(1000, 2000, ZERO)', 'end(1000, 2000, 2000, ZERO)']);
  });

  describe('6.12: dirty cache over HOLE/UNWRITTEN -> flush the rest of the range once, then STALE re-query', () => {
    function setup(secondType: number) {
      const { dev, content } = device();
      const wb = new ScriptedWritebackOps(() => mapped(dev));
      const inode = bareInode({ blockSize: 1024, folioSize: 4096, size: MiB, wbOps: wb });
      const f = uptodateFolio(inode, 0, 4096);
      const dirtyData = pattern(9, 4096);
      f.data.set(dirtyData);
      iomapDirtyFolio(f);
      const ops = new ScriptedOps([
        { map: { offset: 0, length: 4096, type: IOMAP_UNWRITTEN, addr: ADDR, bdev: dev } },
        { map: { offset: 0, length: 4096, type: secondType as 2 | 3, addr: ADDR, bdev: dev } },
      ]);
      return { dev, content, wb, inode, f, dirtyData, ops };
    }

    it('UNWRITTEN + dirty folio: flush, end(0) [STALE], re-begin -> MAPPED -> zeroed', () => {
      const { dev, wb, inode, f, dirtyData, ops } = setup(IOMAP_MAPPED);
      assert.strictEqual(iomapZeroRange(inode, 1000, 2000, ops), 0);
      assert.deepStrictEqual(ops.trace(), [
        'begin(1000, 2000, ZERO)', 'end(1000, 2000, 0, ZERO) [STALE]',
        'begin(1000, 2000, ZERO)', 'end(1000, 2000, 2000, ZERO)',
      ]);
      // The flush wrote the dirty folio (one ioend [0, 4096)) and waited for it.
      assert.deepStrictEqual(wb.mapCalls, [[0, 4096]]);
      assert.deepStrictEqual(dev.ios('write'), [[ADDR, 4096]]);
      assert.ok(allBytes(f.data.subarray(1000, 3000), 0));
      assert.ok(eq(f.data.subarray(0, 1000), dirtyData.subarray(0, 1000)));
      assert.strictEqual(f.dirty, true, 'dirty again from the zeroing');
    });

    it('one-shot: if the re-query is UNWRITTEN again it is skipped without a second flush', () => {
      const { wb, inode, f, dirtyData, ops } = setup(IOMAP_UNWRITTEN);
      iomapZeroRange(inode, 1000, 2000, ops);
      assert.deepStrictEqual(ops.trace(), [
        'begin(1000, 2000, ZERO)', 'end(1000, 2000, 0, ZERO) [STALE]',
        'begin(1000, 2000, ZERO)', 'end(1000, 2000, 2000, ZERO)',
      ]);
      assert.strictEqual(wb.mapCalls.length, 1);
      assert.ok(eq(f.data, dirtyData), 'nothing zeroed in the cache');
    });

    it('no dirty cache at the start: no flush, plain skip', () => {
      const { wb, inode, f, ops } = setup(IOMAP_MAPPED);
      f.dirty = false;
      f.ifs!.dirty.fill(0);
      iomapZeroRange(inode, 1000, 2000, ops);
      assert.deepStrictEqual(ops.trace(), ['begin(1000, 2000, ZERO)', 'end(1000, 2000, 2000, ZERO)']);
      assert.strictEqual(wb.mapCalls.length, 0);
    });

    it('a writeback error during the flush ends zero_range with it', () => {
      const { inode, ops } = setup(IOMAP_MAPPED);
      const wb = new ScriptedWritebackOps(() => ({ error: -EIO }));
      const inode2 = bareInode({ blockSize: 1024, folioSize: 4096, size: MiB, wbOps: wb });
      const f = uptodateFolio(inode2, 0, 4096);
      iomapDirtyFolio(f);
      assert.strictEqual(iomapZeroRange(inode2, 1000, 2000, ops), -EIO);
      // iomap_zero_iter_flush_and_stale() sets STALE before the flush: ->iomap_end sees it.
      assert.deepStrictEqual(ops.trace(), ['begin(1000, 2000, ZERO)', 'end(1000, 2000, 0, ZERO) [STALE]']);
      assert.deepStrictEqual(wb.discards, [[0, 0]]);
      void inode;
    });
  });
});

describe('iomap_truncate_page', () => {
  for (const g of ALL_GEOS) {
    it(`${geoName(g)}: block-aligned pos does nothing (no begin); else zero [pos, round_up(pos, bs))`, () => {
      const { dev, content } = device();
      const inode = bareInode({ blockSize: g.bs, folioSize: g.folio, size: MiB });
      const ops = new ScriptedOps(tableMapper([mapped(dev)]));
      assert.strictEqual(iomapTruncatePage(inode, 3 * g.bs, ops), 0);
      assert.deepStrictEqual(ops.trace(), []);
      const pos = 3 * g.bs + 100;
      assert.strictEqual(iomapTruncatePage(inode, pos, ops), 0);
      assert.deepStrictEqual(ops.trace(), [`begin(${pos}, ${g.bs - 100}, ZERO)`, `end(${pos}, ${g.bs - 100}, ${g.bs - 100}, ZERO)`]);
      // The block [3bs, 4bs) is read first (partial MAPPED block), then its tail zeroed.
      assert.deepStrictEqual(dev.ios('read'), [[ADDR + 3 * g.bs, g.bs]]);
      const f = inode.mapping.folioAt(pos)!;
      const o = f.offsetIn(pos);
      assert.ok(eq(f.data.subarray(o - 100, o), content.subarray(pos - 100, pos)));
      assert.ok(allBytes(f.data.subarray(o, o + g.bs - 100), 0));
    });
  }
});

describe('zeroing through the file API (refs)', () => {
  for (const g of ALL_GEOS) {
    it(`${geoName(g)}: truncate down/up zeroes the EOF block tail and the gap; aligned truncate maps nothing`, () => {
      const env = mountRefs(g.bs, g.folio);
      const bs = g.bs;
      const data = pattern(6, 3 * bs);
      env.fh.pwrite(0, data);
      env.fh.fsync();
      const ops = tapOps(env.fs.iomapOps);
      try {
        env.fh.truncate(bs + 100);
        // truncate_page(bs + 100): zero [bs + 100, 2bs) through the MAPPED block.
        assert.deepStrictEqual(ops.trace(), [`begin(${bs + 100}, ${bs - 100}, ZERO)`, `end(${bs + 100}, ${bs - 100}, ${bs - 100}, ZERO)`]);
        assert.deepStrictEqual(extentsOf(env.ri), [[0, 2, 'written']], 'blocks from ceil((bs+100)/bs) = 2 freed');
        ops.clear();
        env.fh.truncate(3 * bs);
        // zero [bs + 100, 3bs): truncate down wrote its zeroed EOF block back before logging the
        // size (xfs_setattr_size), so nothing in the range needs writeback when zero_range
        // starts: MAPPED [0, 2bs) -> curLen bs - 100, zeroed; the HOLE at 2bs is skipped with no
        // flush and no STALE re-query.
        assert.deepStrictEqual(ops.trace(), [
          `begin(${bs + 100}, ${2 * bs - 100}, ZERO)`, `end(${bs + 100}, ${bs - 100}, ${bs - 100}, ZERO)`,
          `begin(${2 * bs}, ${bs}, ZERO)`, `end(${2 * bs}, ${bs}, ${bs}, ZERO)`,
        ]);
        // And the zeroing just done was written back too before the new size counts.
        const eofFolio = env.inode.mapping.folioAt(bs + 100)!;
        assert.strictEqual(eofFolio.dirty, false, 'the zeroed EOF block is written back by truncate');
        ops.clear();
        env.fh.truncate(2 * bs); // block aligned: truncate_page maps nothing
        assert.deepStrictEqual(ops.trace(), []);
      } finally {
        ops.restore();
      }
      const expect = new Uint8Array(2 * bs);
      expect.set(data.subarray(0, bs + 100));
      assert.ok(eq(env.fh.pread(0, 3 * bs), expect));
      env.fh.fsync();
      env.fsys.dropCaches();
      assert.ok(eq(env.fh.pread(0, 3 * bs), expect));
    });

    it(`${geoName(g)}: zero over UNWRITTEN under writeback: flush, STALE, re-query MAPPED, zeroed (and the §7.11 mutant is caught)`, () => {
      for (const flush of [true, false]) {
        const env = mountRefs(g.bs, g.folio);
        const F = g.folio;
        const data = pattern(7, F);
        env.fh.pwrite(0, data);
        env.fh.writebackNow(); // map_blocks: delalloc -> UNWRITTEN; the I/O stays pending
        assert.deepStrictEqual(extentsOf(env.ri), [[0, F / g.bs, 'unwritten']]);
        const ops = tapOps(env.fs.iomapOps);
        zeroRangeConfig.flushDirtyOverUnwritten = flush;
        try {
          assert.strictEqual(iomapZeroRange(env.inode, 100, 200, env.fs.iomapOps), 0);
        } finally {
          zeroRangeConfig.flushDirtyOverUnwritten = true;
          ops.restore();
        }
        const expect = data.slice();
        if (flush) {
          // Folio under writeback -> range needs writeback -> the UNWRITTEN mapping triggers the
          // flush (completion converts to WRITTEN), STALE, and the re-query returns MAPPED.
          assert.deepStrictEqual(ops.trace(), [
            'begin(100, 200, ZERO)', 'end(100, 200, 0, ZERO) [STALE]', 'begin(100, 200, ZERO)', 'end(100, 200, 200, ZERO)',
          ]);
          assert.deepStrictEqual(ops.results.map((r) => r.map.type), [IOMAP_UNWRITTEN, IOMAP_MAPPED]);
          expect.fill(0, 100, 300);
        } else {
          // The pre-6.12 behaviour: UNWRITTEN skipped, the (soon written) data survives.
          assert.deepStrictEqual(ops.trace(), ['begin(100, 200, ZERO)', 'end(100, 200, 200, ZERO)']);
        }
        env.fh.fsync();
        env.fsys.dropCaches();
        assert.strictEqual(eq(env.fh.pread(0, F), expect), true, `flush=${flush}`);
        assert.strictEqual(allBytes(env.fh.pread(100, 200), 0), flush, 'only the 6.12 flush zeroes the range');
      }
    });
  }
});
