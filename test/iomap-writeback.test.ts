/**
 * Writeback (contract §5.6 + Errata §5.6, 6.12 form): one ioend per contiguous mapped run, the
 * can-add rules, EOF handling (zeroing past EOF, end = round_up(i_size, bs), folios wholly
 * beyond EOF skipped), dirty bits, write_bytes_pending and completion order, device write
 * errors and map_blocks errors (discard_folio, the failed last ioend, errseq reporting by fsync)
 * — with scripted writeback ops and through refs.
 */
import * as assert from 'assert';
import { iomapWritepages, newWritepageCtx } from '../reference/iomap/writeback';
import { BIO_MAX_VECS, Ioend, ioendCanMerge, iomapIoendTryMerge } from '../reference/iomap/ioend';
import { iomapDirtyFolio } from '../reference/iomap/buffered-io';
import { setRangeUptodate } from '../reference/iomap/folio';
import {
  IOMAP_DELALLOC, IOMAP_F_SHARED, IOMAP_HOLE, IOMAP_MAPPED, IOMAP_UNWRITTEN, Inode, WritebackControl, roundUp,
} from '../reference/iomap/types';
import { MemoryDevice } from '../reference/device/memory';
import { FaultDevice } from '../reference/device/fault';
import { EIO } from '../reference/errno';
import {
  ALL_GEOS, MapSpec, ScriptedWritebackOps, allBytes, bareInode, expectFsError, extentsOf, folioAt, geoName,
  mountRefs, pattern, wbTableMapper,
} from './support/scripted-ops';

const ADDR = 1 << 20;
const MiB = 1 << 20;
const ALL: WritebackControl = { syncMode: 'all', rangeStart: 0, rangeEnd: Number.MAX_SAFE_INTEGER };

function device(): FaultDevice {
  return new FaultDevice(new MemoryDevice({ size: 16 * MiB }));
}

function mapped(dev: FaultDevice, offset = 0, length = 8 * MiB, flags = 0, addr = ADDR + offset): MapSpec {
  return { offset, length, type: IOMAP_MAPPED, addr, bdev: dev, flags };
}

/** A dirty, uptodate folio filled with `fill`; per-block dirty bits from `dirtyBits` if given. */
function dirtyFolio(inode: Inode, pos: number, size: number, fill: number, dirtyBits?: string) {
  const f = folioAt(inode, pos, size);
  f.data.fill(fill);
  setRangeUptodate(f, 0, size, inode.blkbits);
  iomapDirtyFolio(f);
  if (dirtyBits) for (let i = 0; i < dirtyBits.length; i++) f.ifs!.dirty[i] = dirtyBits[i] === '1' ? 1 : 0;
  return f;
}

function setup(bs: number, folio: number, size: number, mapper: (dev: FaultDevice) => (off: number, len: number) => MapSpec | { error: number }) {
  const dev = device();
  const wb = new ScriptedWritebackOps(mapper(dev));
  const inode = bareInode({ blockSize: bs, folioSize: folio, size, wbOps: wb });
  const writepages = (wbc: WritebackControl = ALL) => iomapWritepages(inode.mapping, wbc, newWritepageCtx(wb));
  return { dev, wb, inode, writepages, queue: inode.mapping.queue };
}

describe('writeback: ioends (scripted map_blocks)', () => {
  for (const g of ALL_GEOS) {
    it(`${geoName(g)}: three dirty folios over one mapping -> one map_blocks per folio, ONE ioend, I/O only at completion`, () => {
      const F = g.folio;
      const { dev, wb, inode, writepages, queue } = setup(g.bs, F, 3 * F, (d) => wbTableMapper([mapped(d)]));
      const folios = [0, 1, 2].map((i) => dirtyFolio(inode, i * F, F, 0x11 * (i + 1)));
      assert.strictEqual(writepages(), 0);
      // W2: one ->map_blocks per dirty run; each folio is one run [pos, F).
      assert.deepStrictEqual(wb.mapCalls, [[0, F], [F, F], [2 * F, F]]);
      // File- and sector-contiguous, same type and flags -> one ioend [0, 3F) at sector ADDR/512.
      assert.deepStrictEqual(wb.spans(), [[0, 3 * F, ADDR / 512]]);
      assert.deepStrictEqual(wb.ioends[0].folios, [0, F, 2 * F]);
      assert.strictEqual(queue.pending.length, 1);
      for (const f of folios) {
        assert.strictEqual(f.dirty, false);
        assert.strictEqual(f.writeback, true);
        if (f.ifs) assert.strictEqual(f.ifs.writeBytesPending, F, 'bias dropped, the queued bytes remain');
        if (f.ifs) assert.ok(allBytes(f.ifs.dirty, 0));
      }
      // The bio's pages go to the device at submission (stable pages: they cannot change before
      // completion); completion is a separate step that ends writeback.
      assert.strictEqual(dev.stats.writeBytes, 3 * F);
      assert.strictEqual(dev.log.filter((r) => r.kind === 'write')[0].off, ADDR);
      queue.drain();
      assert.strictEqual(dev.stats.writeBytes, 3 * F, 'completion writes nothing more');
      for (const f of folios) {
        assert.strictEqual(f.writeback, false);
        if (f.ifs) assert.strictEqual(f.ifs.writeBytesPending, 0);
      }
      const back = new Uint8Array(3 * F);
      dev.read(ADDR, back);
      for (let i = 0; i < 3; i++) assert.ok(allBytes(back.subarray(i * F, (i + 1) * F), 0x11 * (i + 1)));
      assert.deepStrictEqual(inode.mapping.warnings, []);
    });
  }

  const canAdd: Array<[string, string | undefined, (d: FaultDevice) => MapSpec[], Array<[number, number, number]>, Array<[number, number]>]> = [
    ['same type/flags, contiguous: one ioend', undefined, (d) => [mapped(d)], [[0, 4096, ADDR / 512]], [[0, 4096]]],
    ['type change MAPPED -> UNWRITTEN: new ioend', undefined,
      (d) => [mapped(d, 0, 2048), { offset: 2048, length: 8 * MiB, type: IOMAP_UNWRITTEN, addr: ADDR + 2048, bdev: d }],
      [[0, 2048, ADDR / 512], [2048, 2048, (ADDR + 2048) / 512]], [[0, 4096], [2048, 2048]]],
    ['SHARED changes: new ioend', undefined,
      (d) => [mapped(d, 0, 2048), mapped(d, 2048, 8 * MiB, IOMAP_F_SHARED)],
      [[0, 2048, ADDR / 512], [2048, 2048, (ADDR + 2048) / 512]], [[0, 4096], [2048, 2048]]],
    ['file discontiguity (clean block 2): new ioend', '1101', (d) => [mapped(d)],
      [[0, 2048, ADDR / 512], [3072, 1024, (ADDR + 3072) / 512]], [[0, 2048], [3072, 1024]]],
    ['sector discontiguity: new ioend', undefined,
      (d) => [mapped(d, 0, 2048), mapped(d, 2048, 8 * MiB, 0, ADDR + 65536)],
      [[0, 2048, ADDR / 512], [2048, 2048, (ADDR + 65536) / 512]], [[0, 4096], [2048, 2048]]],
    ['HOLE from map_blocks: skipped, no error', undefined,
      (d) => [mapped(d, 0, 2048), { offset: 2048, length: 8 * MiB, type: IOMAP_HOLE }],
      [[0, 2048, ADDR / 512]], [[0, 4096], [2048, 2048]]],
  ];
  for (const [name, bits, table, ioends, calls] of canAdd) {
    it(`can-add (bs 1K, one 4K folio): ${name}`, () => {
      const { wb, inode, writepages, queue } = setup(1024, 4096, MiB, (d) => wbTableMapper(table(d)));
      const f = dirtyFolio(inode, 0, 4096, 0x33, bits);
      assert.strictEqual(writepages(), 0);
      assert.deepStrictEqual(wb.mapCalls, calls);
      assert.deepStrictEqual(wb.spans(), ioends);
      assert.ok(allBytes(f.ifs!.dirty, 0), 'all dirty bits cleared');
      assert.strictEqual(f.ifs!.writeBytesPending, ioends.reduce((n, [, s]) => n + s, 0));
      queue.drain();
      assert.strictEqual(f.writeback, false);
      assert.strictEqual(inode.mapping.wbErr.errno, 0);
    });
  }

  it('a run that maps to HOLE only: nothing queued, writeback ends at once (bias drop)', () => {
    const { wb, inode, writepages, queue } = setup(1024, 4096, MiB, () => () => ({ offset: 0, length: MiB, type: IOMAP_HOLE }));
    const f = dirtyFolio(inode, 0, 4096, 0x44);
    writepages();
    assert.strictEqual(wb.ioends.length, 0);
    assert.strictEqual(queue.pending.length, 0);
    assert.strictEqual(f.writeback, false);
    assert.strictEqual(f.dirty, false);
    assert.strictEqual(f.ifs!.writeBytesPending, 0);
  });

  it(`a full bio (${BIO_MAX_VECS} segments) starts a new ioend (6.12)`, () => {
    // 300 single-page folios, each one bio segment: [0, 256 pages) and [256, 300).
    const { wb, inode, writepages } = setup(4096, 4096, 300 * 4096, (d) => wbTableMapper([mapped(d)]));
    for (let i = 0; i < 300; i++) dirtyFolio(inode, i * 4096, 4096, 1);
    writepages();
    assert.deepStrictEqual(wb.spans(), [[0, 256 * 4096, ADDR / 512], [256 * 4096, 44 * 4096, (ADDR + 256 * 4096) / 512]]);
  });

  it('completion order is the queue\'s: completing the second ioend first ends only its folio', () => {
    // Folios 0 and 2 dirty, 1 clean: two file-discontiguous ioends, submitted in file order.
    const { dev, wb, inode, writepages, queue } = setup(4096, 4096, 3 * 4096, (d) => wbTableMapper([mapped(d)]));
    const f0 = dirtyFolio(inode, 0, 4096, 0x10);
    const f2 = dirtyFolio(inode, 8192, 4096, 0x20);
    dev.failWrites(ADDR, 1); // the first ioend's I/O fails
    writepages();
    assert.deepStrictEqual(wb.spans(), [[0, 4096, ADDR / 512], [8192, 4096, (ADDR + 8192) / 512]]);
    assert.strictEqual(queue.pending.length, 2);
    queue.completeAt(1);
    assert.deepStrictEqual([f0.writeback, f2.writeback], [true, false]);
    assert.strictEqual(inode.mapping.wbErr.errno, 0, 'the failed I/O is not reported before its completion');
    queue.completeAt(0);
    assert.deepStrictEqual([f0.writeback, f2.writeback], [false, false]);
    assert.strictEqual(inode.mapping.wbErr.errno, EIO);
  });

  it('WB_SYNC_NONE skips folios under writeback; WB_SYNC_ALL waits for them', () => {
    const { wb, inode, writepages, queue } = setup(4096, 4096, 4096, (d) => wbTableMapper([mapped(d)]));
    const f = dirtyFolio(inode, 0, 4096, 0x10);
    writepages();
    iomapDirtyFolio(f); // redirtied while under writeback
    writepages({ ...ALL, syncMode: 'none' });
    assert.strictEqual(wb.ioends.length, 1);
    assert.strictEqual(f.dirty, true);
    writepages();
    assert.strictEqual(wb.ioends.length, 2);
    assert.strictEqual(queue.completed, 1, 'the first ioend was completed by the wait');
  });
});

describe('writeback: EOF', () => {
  for (const g of ALL_GEOS) {
    it(`${geoName(g)}: the EOF folio is zeroed past EOF and written up to round_up(i_size, bs)`, () => {
      // i_size = F/2 + 100. A folio dirty as a whole without per-block state (a full-folio
      // write) gets an ifs with dirty [0, end - pos) where end = round_up(i_size, bs).
      const F = g.folio;
      const size = F / 2 + 100;
      const end = roundUp(size, g.bs);
      const { dev, wb, inode, writepages, queue } = setup(g.bs, F, size, (d) => wbTableMapper([mapped(d)]));
      const f = folioAt(inode, 0, F);
      f.data.fill(0x55);
      f.uptodate = true;
      f.dirty = true;
      writepages();
      assert.deepStrictEqual(wb.mapCalls, [[0, end]]);
      assert.deepStrictEqual(wb.spans(), [[0, end, ADDR / 512]]);
      assert.ok(allBytes(f.data.subarray(0, size), 0x55));
      assert.ok(allBytes(f.data.subarray(size), 0), 'zeroed from EOF to the folio end');
      if (F > g.bs) assert.ok(allBytes(f.ifs!.dirty, 0));
      queue.drain();
      const back = new Uint8Array(end);
      dev.read(ADDR, back);
      assert.ok(allBytes(back.subarray(0, size), 0x55));
      assert.ok(allBytes(back.subarray(size), 0));
    });

    it(`${geoName(g)}: folios wholly beyond EOF are skipped (dirty flag cleared, block bits left)`, () => {
      const F = g.folio;
      const { wb, inode, writepages } = setup(g.bs, F, F, (d) => wbTableMapper([mapped(d)]));
      dirtyFolio(inode, 0, F, 1);
      const atEof = dirtyFolio(inode, F, F, 2); // index == EOF index, EOF at its start
      const past = dirtyFolio(inode, 2 * F, F, 3); // index > EOF index
      writepages();
      assert.deepStrictEqual(wb.mapCalls, [[0, F]]);
      for (const f of [atEof, past]) {
        assert.strictEqual(f.dirty, false);
        assert.strictEqual(f.writeback, false);
        assert.strictEqual(f.locked, false);
        if (f.ifs) assert.ok(allBytes(f.ifs.dirty, 1), 'Errata §5.6 step 1: block bits stay set');
      }
    });
  }

  it('mkwrite-dirtied EOF folio: every dirty bit is cleared, even past EOF', () => {
    // bs 1K, i_size 1500: the dirty run is [0, round_up(1500, 1K) = 2048); blocks 2-3 are
    // dirty (dirty_folio) but past EOF; all four bits are cleared after writeback.
    const { wb, inode, writepages } = setup(1024, 4096, 1500, (d) => wbTableMapper([mapped(d)]));
    const f = dirtyFolio(inode, 0, 4096, 7);
    writepages();
    assert.deepStrictEqual(wb.mapCalls, [[0, 2048]]);
    assert.strictEqual(Array.from(f.ifs!.dirty).join(''), '0000');
  });
});

describe('writeback: errors (scripted map_blocks)', () => {
  it('a device write error: the folio ends clean, the error is recorded once in errseq and AS_EIO', () => {
    const { dev, inode, writepages, queue } = setup(4096, 4096, 4096, (d) => wbTableMapper([mapped(d)]));
    const f = dirtyFolio(inode, 0, 4096, 9);
    dev.failWrites(ADDR, 1);
    assert.strictEqual(writepages(), 0, 'submission succeeds; the error comes at completion');
    assert.strictEqual(f.writeback, true);
    assert.strictEqual(inode.mapping.wbErr.errno, 0);
    queue.drain();
    assert.strictEqual(dev.stats.failedWrites, 1);
    assert.deepStrictEqual([f.dirty, f.writeback], [false, false]);
    assert.strictEqual(inode.mapping.wbErr.errno, EIO);
    assert.strictEqual(inode.mapping.checkErrors(), -EIO);
    assert.strictEqual(inode.mapping.checkErrors(), 0, 'test-and-clear');
    const cursor = { since: 0 };
    assert.strictEqual(inode.mapping.wbErr.checkAndAdvance(cursor), -EIO);
    assert.strictEqual(inode.mapping.wbErr.checkAndAdvance(cursor), 0);
  });

  it('map_blocks error: discard_folio(folio, failing pos), folio clean without I/O, error returned and recorded', () => {
    // bs 1K folio 4K: map_blocks fails at 2048 -> mapLen for [0, 2048) was queued first.
    const { wb, inode, writepages, queue } = setup(1024, 4096, MiB, (d) => (off: number) =>
      off < 2048 ? mapped(d, 0, 2048) : { error: -EIO });
    const f = dirtyFolio(inode, 0, 4096, 5);
    assert.strictEqual(writepages(), -EIO);
    assert.deepStrictEqual(wb.mapCalls, [[0, 4096], [2048, 2048]]);
    assert.deepStrictEqual(wb.discards, [[0, 2048]]);
    // Errata §5.6 step 6: the cached ioend [0, 2048) is failed with the pass's error, never sent.
    assert.deepStrictEqual(wb.ioends.map((i) => [i.offset, i.size, i.status]), [[0, 2048, -EIO]]);
    assert.strictEqual(queue.pending.length, 0);
    assert.deepStrictEqual([f.dirty, f.writeback], [false, false]);
    assert.ok(allBytes(f.ifs!.dirty, 0));
    assert.strictEqual(inode.mapping.wbErr.errno, EIO);
  });

  it('WB_SYNC_NONE stops at the first error, WB_SYNC_ALL carries on', () => {
    for (const mode of ['none', 'all'] as const) {
      const { wb, inode, writepages } = setup(4096, 4096, MiB, (d) => (off: number) =>
        off === 0 ? { error: -EIO } : mapped(d));
      dirtyFolio(inode, 0, 4096, 1);
      const f1 = dirtyFolio(inode, 4096, 4096, 2);
      assert.strictEqual(writepages({ ...ALL, syncMode: mode }), -EIO);
      assert.deepStrictEqual(wb.mapCalls, mode === 'none' ? [[0, 4096]] : [[0, 4096], [4096, 4096]]);
      assert.strictEqual(f1.dirty, mode === 'none');
    }
  });
});

describe('ioend completion merging (iomap_ioend_can_merge / try_merge)', () => {
  const inode = bareInode({ blockSize: 4096, folioSize: 4096, size: MiB });
  const dev = device();
  const io = (off: number, size: number, type = IOMAP_MAPPED, flags = 0, addr = ADDR + off, status = 0): Ioend => {
    const e = new Ioend(inode, { offset: off, length: size, addr, type: type as 2, flags, bdev: dev, inlineData: null, private: null, folioOps: null, validityCookie: 0 }, off);
    e.size = size;
    e.status = status;
    return e;
  };
  it('merges only file- and sector-contiguous ioends with equal status, SHARED and UNWRITTEN-ness', () => {
    assert.strictEqual(ioendCanMerge(io(0, 4096), io(4096, 4096)), true);
    assert.strictEqual(ioendCanMerge(io(0, 4096), io(8192, 4096)), false, 'file gap');
    assert.strictEqual(ioendCanMerge(io(0, 4096), io(4096, 4096, IOMAP_MAPPED, 0, ADDR + 65536)), false, 'sector gap');
    assert.strictEqual(ioendCanMerge(io(0, 4096), io(4096, 4096, IOMAP_MAPPED, 0, ADDR + 4096, -EIO)), false, 'status');
    assert.strictEqual(ioendCanMerge(io(0, 4096), io(4096, 4096, IOMAP_MAPPED, IOMAP_F_SHARED)), false, 'SHARED');
    assert.strictEqual(ioendCanMerge(io(0, 4096), io(4096, 4096, IOMAP_UNWRITTEN)), false, 'UNWRITTEN-ness');
    // Only UNWRITTEN-ness is compared at completion: MAPPED and DELALLOC merge (Errata §5.6).
    assert.strictEqual(ioendCanMerge(io(0, 4096), io(4096, 4096, IOMAP_DELALLOC)), true);
    const head = io(0, 4096);
    const list = [io(4096, 4096), io(8192, 4096), io(16384, 4096)];
    iomapIoendTryMerge(head, list);
    assert.strictEqual(head.size, 12288);
    assert.strictEqual(head.chain.length, 2);
    assert.deepStrictEqual(list.map((e) => e.offset), [16384]);
    // try_merge stops at the first ioend that may not merge: an UNWRITTEN or SHARED neighbour
    // is left for its own completion (its conversion/remap must not cover the MAPPED range).
    for (const next of [io(4096, 4096, IOMAP_UNWRITTEN), io(4096, 4096, IOMAP_MAPPED, IOMAP_F_SHARED)]) {
      const h = io(0, 4096);
      const rest = [next];
      iomapIoendTryMerge(h, rest);
      assert.deepStrictEqual([h.size, h.chain.length, rest.length], [4096, 0, 1]);
    }
  });
});

describe('writeback through the file API (refs on a FaultDevice)', () => {
  for (const g of ALL_GEOS) {
    it(`${geoName(g)}: device write error -> folios clean, fsync EIO exactly once per open file, data lost on disk`, () => {
      const env = mountRefs(g.bs, g.folio);
      const F = g.folio;
      const data = pattern(1, 2 * F);
      env.fh.pwrite(0, data);
      const other = env.fsys.open('f'); // opened before the error
      env.dev.failWrites(env.fs.sb.dataStart * g.bs, env.dev.size - env.fs.sb.dataStart * g.bs);
      expectFsError(() => env.fh.fsync(), 'EIO', 'first fsync');
      for (const f of env.inode.mapping.allFolios()) assert.deepStrictEqual([f.dirty, f.writeback], [false, false]);
      assert.ok(env.dev.stats.failedWrites >= 1);
      env.fh.fsync(); // reported once: OK now
      const later = env.fsys.open('f'); // opened after the error was seen
      later.fsync();
      expectFsError(() => other.fsync(), 'EIO', 'a second open file sees it once too');
      other.fsync();
      // Completion did not convert the allocation: the blocks stay UNWRITTEN, nothing reserved.
      assert.deepStrictEqual(extentsOf(env.ri), [[0, 2 * F / g.bs, 'unwritten']]);
      assert.strictEqual(env.fs.reservedBlocks, 0);
      // The clean cache still holds the data; once dropped, the file reads zeroes.
      assert.ok(Buffer.from(env.fh.pread(0, 2 * F)).equals(Buffer.from(data)));
      env.fsys.dropCaches();
      assert.ok(allBytes(env.fh.pread(0, 2 * F), 0));
      assert.deepStrictEqual(env.fsys.checkInvariants(), []);
    });

    it(`${geoName(g)}: map_blocks error on the only folio -> discard_folio punches its delalloc; fsync EIO once`, () => {
      const env = mountRefs(g.bs, g.folio);
      const F = g.folio;
      env.fh.pwrite(0, pattern(2, F)); // one max-size folio, delalloc [0, F/bs)
      assert.strictEqual(env.fs.reservedBlocks, F / g.bs);
      env.fs.faults.mapBlocksError = { err: -EIO, from: 0, to: F };
      expectFsError(() => env.fh.fsync(), 'EIO');
      assert.strictEqual(env.fs.reservedBlocks, 0, 'discard_folio(folio, 0) punched [0, F)');
      assert.deepStrictEqual(extentsOf(env.ri), []);
      const f = env.inode.mapping.folioAt(0)!;
      assert.deepStrictEqual([f.dirty, f.writeback], [false, false]);
      env.fh.fsync();
      env.fs.faults.mapBlocksError = undefined;
      env.fsys.dropCaches();
      assert.ok(allBytes(env.fh.pread(0, F), 0));
      assert.deepStrictEqual(env.fsys.checkInvariants(), []);
    });

    it(`${geoName(g)}: map_blocks error on folio 1 of 2 -> the last cached ioend (folio 2) is failed without I/O too`, () => {
      // pwrite(0, F) + pwrite(F, F): two max folios, one delalloc extent [0, 2F/bs).
      // WB_SYNC_ALL: folio 1's map_blocks fails -> discard_folio punches [0, F) -> error recorded.
      // Folio 2 maps (delalloc [F/bs, 2F/bs) -> UNWRITTEN) and is added to an ioend that is still
      // cached when the pass ends, so iomap_writepages fails it with the pass's error (Errata
      // §5.6 step 6): its completion (refs' end_io work) runs later and records EIO again.
      // fsync 1: writepages returned -EIO -> no wait -> errseq EIO. fsync 2: waits, the failed
      // ioend completes -> a NEW error -> EIO again. fsync 3: OK.
      const env = mountRefs(g.bs, g.folio);
      const F = g.folio;
      env.fh.pwrite(0, pattern(3, F));
      env.fh.pwrite(F, pattern(4, F));
      assert.deepStrictEqual(extentsOf(env.ri), [[0, 2 * F / g.bs, 'delalloc']]);
      env.fs.faults.mapBlocksError = { err: -EIO, from: 0, to: F };
      const writesBefore = env.dev.stats.writes;
      expectFsError(() => env.fh.fsync(), 'EIO', 'fsync 1');
      assert.deepStrictEqual(extentsOf(env.ri), [[F / g.bs, F / g.bs, 'unwritten']]);
      assert.strictEqual(env.fs.reservedBlocks, 0);
      expectFsError(() => env.fh.fsync(), 'EIO', 'fsync 2');
      env.fh.fsync();
      assert.strictEqual(env.dev.stats.writes - writesBefore, 1, 'no data write: only fsync 3\'s metadata commit');
      assert.deepStrictEqual(extentsOf(env.ri), [[F / g.bs, F / g.bs, 'unwritten']], 'never converted');
      for (const f of env.inode.mapping.allFolios()) assert.deepStrictEqual([f.dirty, f.writeback], [false, false]);
      env.fs.faults.mapBlocksError = undefined;
      env.fsys.dropCaches();
      assert.ok(allBytes(env.fh.pread(0, 2 * F), 0));
      assert.deepStrictEqual(env.fsys.checkInvariants(), []);
    });

    it(`${geoName(g)}: fsx-style interleaving: background writeback, a rewrite, completion, then fsync`, () => {
      const env = mountRefs(g.bs, g.folio);
      const F = g.folio;
      const a = pattern(5, 2 * F);
      env.fh.pwrite(0, a);
      env.fh.writebackNow(); // ioends pending; extents UNWRITTEN until completion, folios under writeback
      assert.ok(env.fsys.queue.pending.length >= 1);
      assert.deepStrictEqual(extentsOf(env.ri), [[0, 2 * F / g.bs, 'unwritten']]);
      assert.ok(env.inode.mapping.folioAt(0)!.writeback);
      // A rewrite of the first block waits for that folio's writeback (stable pages), then dirties it.
      const completed = env.fsys.queue.completed;
      const b = pattern(6, 100);
      env.fh.pwrite(10, b);
      assert.ok(env.fsys.queue.completed > completed, 'the rewrite had to complete the I/O under its folio');
      assert.strictEqual(env.inode.mapping.folioAt(0)!.dirty, true);
      env.fsys.queue.drain();
      env.fh.fsync();
      env.fsys.dropCaches();
      const expect = a.slice();
      expect.set(b, 10);
      assert.ok(Buffer.from(env.fh.pread(0, 2 * F)).equals(Buffer.from(expect)));
      assert.deepStrictEqual(extentsOf(env.ri), [[0, 2 * F / g.bs, 'written']]);
    });
  }
});
