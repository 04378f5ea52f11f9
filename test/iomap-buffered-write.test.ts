/**
 * Buffered write (contract §5.2 + Errata §5.2, 6.12 form): the run rule of __iomap_write_begin,
 * needsZeroing, full-folio overwrites, short copies (rejected into a !uptodate folio, accepted
 * into an uptodate one), write_failed, i_size / SIZE_CHANGED / pagecache_isize_extended,
 * NOWAIT, STALE — first against scripted mappings with exact device reads, then through the
 * file API with refs (delalloc release after short writes, the STALE re-lookup after a
 * concurrent writeback or punch, EOF-straddling writes).
 */
import * as assert from 'assert';
import {
  iomapDirtyFolio, iomapFileBufferedWrite, iomapFileUnshare, iomapLastWrittenBlock, iomapWriteDelallocRelease, writeHooks,
} from '../reference/iomap/buffered-io';
import { IovIter } from '../reference/iomap/uio';
import { ifsAlloc } from '../reference/iomap/folio';
import {
  FolioOps, IOMAP_DELALLOC, IOMAP_F_NEW, IOMAP_F_SHARED, IOMAP_MAPPED, IOMAP_UNWRITTEN, IOMAP_WRITE, Inode, roundUp,
  zeroedIomap,
} from '../reference/iomap/types';
import { MemoryDevice } from '../reference/device/memory';
import { FaultDevice } from '../reference/device/fault';
import { EAGAIN, EFAULT, EINTR, EIO, ENOMEM } from '../reference/errno';
import {
  ALL_GEOS, BeginStep, MapSpec, ScriptedOps, allBytes, bareInode, expectFsError, extentsOf, folioAt, geoName, mountRefs,
  pattern, tableMapper, tapOps,
} from './support/scripted-ops';

const POISON = 0xaa;
const ADDR = 1 << 20;
const MiB = 1 << 20;

function device(): { dev: FaultDevice; content: Uint8Array } {
  const mem = new MemoryDevice({ size: 8 * MiB });
  const content = pattern(7, 2 * MiB);
  mem.write(ADDR, content);
  return { dev: new FaultDevice(mem), content };
}

function mapped(dev: FaultDevice, offset = 0, length = 2 * MiB, flags = 0): MapSpec {
  return { offset, length, type: IOMAP_MAPPED, addr: ADDR + offset, bdev: dev, flags };
}

function write(inode: Inode, pos: number, data: Uint8Array, ops: ScriptedOps, faultAt = Infinity, nowait = false): number {
  return iomapFileBufferedWrite(inode, pos, new IovIter(data, faultAt), ops, nowait);
}

function eq(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.from(a).equals(Buffer.from(b));
}

function bitsOf(a: Uint8Array): string {
  return Array.from(a).join('');
}

describe('buffered write: __iomap_write_begin run rule and zeroing (scripted mappings)', () => {
  it('Errata example: 16 !uptodate 4K blocks, write [1K, 63K) over MAPPED -> ONE 64 KiB read', () => {
    const { dev, content } = device();
    const inode = bareInode({ blockSize: 4096, folioSize: 65536, size: MiB, newFolioFill: POISON });
    const f = folioAt(inode, 0, 65536); // cached, not uptodate
    const ops = new ScriptedOps(tableMapper([mapped(dev)]));
    const data = pattern(1, 63 * 1024 - 1024);
    // One run [0, 64K) holds both write edges (1024 and 64512) -> the whole run is read,
    // including the 14 blocks the write overwrites completely.
    assert.strictEqual(write(inode, 1024, data, ops), data.length);
    assert.deepStrictEqual(dev.ios('read'), [[ADDR, 65536]]);
    assert.ok(eq(f.data.subarray(0, 1024), content.subarray(0, 1024)));
    assert.ok(eq(f.data.subarray(1024, 64512), data));
    assert.ok(eq(f.data.subarray(64512), content.subarray(64512, 65536)));
    assert.strictEqual(f.uptodate, true);
    assert.strictEqual(bitsOf(f.ifs!.dirty), '1'.repeat(16)); // [1024, 64512) touches blocks 0..15
    assert.deepStrictEqual(ops.trace(), ['begin(1024, 63488, WRITE)', 'end(1024, 63488, 63488, WRITE)']);
    assert.strictEqual(inode.size, MiB);
  });

  for (const g of ALL_GEOS) {
    it(`${geoName(g)}: both edges inside one !uptodate run -> one read of the whole folio`, () => {
      const { dev, content } = device();
      const inode = bareInode({ blockSize: g.bs, folioSize: g.folio, size: MiB, newFolioFill: POISON });
      const f = folioAt(inode, 0, g.folio);
      // [bs/2, folio - bs/2) when the folio has >= 2 blocks, else [bs/4, 3bs/4): block range
      // [0, folio) is one run with both edges strictly inside -> read [0, folio) once.
      const [a, b] = g.folio >= 2 * g.bs ? [g.bs / 2, g.folio - g.bs / 2] : [g.bs / 4, (3 * g.bs) / 4];
      const data = pattern(2, b - a);
      assert.strictEqual(write(inode, a, data, new ScriptedOps(tableMapper([mapped(dev)]))), b - a);
      assert.deepStrictEqual(dev.ios('read'), [[ADDR, g.folio]]);
      assert.ok(eq(f.data.subarray(0, a), content.subarray(0, a)));
      assert.ok(eq(f.data.subarray(a, b), data));
      assert.ok(eq(f.data.subarray(b), content.subarray(b, g.folio)));
      assert.strictEqual(f.uptodate, true);
      assert.strictEqual(f.dirty, true);
    });

    it(`${geoName(g)}: a full-folio overwrite reads nothing and creates no ifs`, () => {
      const { dev } = device();
      const inode = bareInode({ blockSize: g.bs, folioSize: g.folio, size: MiB, newFolioFill: POISON });
      const data = pattern(3, g.folio);
      assert.strictEqual(write(inode, g.folio, data, new ScriptedOps(tableMapper([mapped(dev)]))), g.folio);
      const f = inode.mapping.folioAt(g.folio)!;
      assert.deepStrictEqual([f.pos, f.size], [g.folio, g.folio], 'the size hint picks a whole max folio');
      assert.strictEqual(dev.stats.reads, 0);
      assert.strictEqual(f.ifs, null);
      assert.strictEqual(f.uptodate, true);
      assert.strictEqual(f.dirty, true);
      assert.ok(eq(f.data, data));
    });
  }

  it('block-aligned write inside a !uptodate folio: the run is skipped, nothing read', () => {
    // bs 4K, 64K folio, write [4096, 12288): run [4096, 12288) has from == poff and to == poff + plen.
    const { dev } = device();
    const inode = bareInode({ blockSize: 4096, folioSize: 65536, size: MiB, newFolioFill: POISON });
    const f = folioAt(inode, 0, 65536);
    write(inode, 4096, pattern(4, 8192), new ScriptedOps(tableMapper([mapped(dev)])));
    assert.strictEqual(dev.stats.reads, 0);
    assert.strictEqual(bitsOf(f.ifs!.uptodate), '0110000000000000');
    assert.strictEqual(f.uptodate, false);
    assert.ok(allBytes(f.data.subarray(0, 4096), POISON), 'blocks outside the write untouched');
  });

  it('an uptodate block splits the runs: [1500, 3500) with bits 0010 reads blocks 1 and 3 only', () => {
    // bs 1K folio 4K. Blocks 1..3 are touched. Run 1 = [1024, 2048) (stops before uptodate block 2),
    // from = 1500 inside -> read. Run 2 = [3072, 4096), to = 3500 inside -> read. Block 0 untouched.
    const { dev, content } = device();
    const inode = bareInode({ blockSize: 1024, folioSize: 4096, size: MiB, newFolioFill: POISON });
    const f = folioAt(inode, 0, 4096);
    ifsAlloc(f, inode.blkbits);
    f.ifs!.uptodate[2] = 1;
    f.data.fill(0x77, 2048, 3072);
    const data = pattern(5, 2000);
    write(inode, 1500, data, new ScriptedOps(tableMapper([mapped(dev)])));
    assert.deepStrictEqual(dev.ios('read'), [[ADDR + 1024, 1024], [ADDR + 3072, 1024]]);
    assert.strictEqual(bitsOf(f.ifs!.uptodate), '0111');
    assert.ok(eq(f.data.subarray(1024, 1500), content.subarray(1024, 1500)));
    assert.ok(eq(f.data.subarray(1500, 3500), data));
    assert.ok(eq(f.data.subarray(3500, 4096), content.subarray(3500, 4096)));
    assert.ok(allBytes(f.data.subarray(0, 1024), POISON));
  });

  const zeroCases: Array<[string, (dev: FaultDevice) => MapSpec, number]> = [
    ['UNWRITTEN', (dev) => ({ offset: 0, length: MiB, type: IOMAP_UNWRITTEN, addr: ADDR, bdev: dev }), MiB],
    ['MAPPED|NEW', (dev) => mapped(dev, 0, MiB, IOMAP_F_NEW), MiB],
    ['DELALLOC', () => ({ offset: 0, length: MiB, type: IOMAP_DELALLOC }), MiB],
    ['MAPPED with the block at/after i_size (1024)', (dev) => mapped(dev), 1024],
  ];
  for (const [name, spec, size] of zeroCases) {
    it(`needsZeroing (${name}): zero the run outside [from, to), no read`, () => {
      // bs 1K, write [1500, 2000): run [1024, 2048) -> zero [1024, 1500) and [2000, 2048).
      const { dev } = device();
      const inode = bareInode({ blockSize: 1024, folioSize: 4096, size, newFolioFill: POISON });
      const data = pattern(6, 500);
      write(inode, 1500, data, new ScriptedOps(tableMapper([spec(dev)])));
      const f = inode.mapping.folioAt(0)!;
      assert.strictEqual(dev.stats.reads, 0);
      assert.ok(allBytes(f.data.subarray(1024, 1500), 0));
      assert.ok(eq(f.data.subarray(1500, 2000), data));
      assert.ok(allBytes(f.data.subarray(2000, 2048), 0));
      assert.ok(allBytes(f.data.subarray(0, 1024), POISON), 'block 0 is not part of the write');
      assert.ok(allBytes(f.data.subarray(2048), POISON));
      assert.strictEqual(bitsOf(f.ifs!.uptodate), '0100');
      assert.strictEqual(bitsOf(f.ifs!.dirty), '0100');
    });
  }

  it('MAPPED with i_size inside the block (1500): the block is read, not zeroed', () => {
    const { dev } = device();
    const inode = bareInode({ blockSize: 1024, folioSize: 4096, size: 1500, newFolioFill: POISON });
    write(inode, 1500, pattern(6, 500), new ScriptedOps(tableMapper([mapped(dev)])));
    assert.deepStrictEqual(dev.ios('read'), [[ADDR + 1024, 1024]]);
    assert.strictEqual(inode.size, 2000);
  });

  it('COW: iomap DELALLOC|SHARED with a MAPPED srcmap reads the old data from the srcmap address', () => {
    const { dev, content } = device();
    const inode = bareInode({ blockSize: 1024, folioSize: 4096, size: MiB, newFolioFill: POISON });
    const SRC = 65536; // srcmap [0, 1M) at device ADDR + 65536
    const ops = new ScriptedOps([{
      map: { offset: 0, length: 8192, type: IOMAP_DELALLOC, flags: IOMAP_F_SHARED },
      src: { offset: 0, length: MiB, type: IOMAP_MAPPED, addr: ADDR + SRC, bdev: dev },
    }]);
    write(inode, 1500, pattern(6, 500), ops);
    assert.deepStrictEqual(dev.ios('read'), [[ADDR + SRC + 1024, 1024]]);
    const f = inode.mapping.folioAt(0)!;
    assert.ok(eq(f.data.subarray(1024, 1500), content.subarray(SRC + 1024, SRC + 1500)));
  });
});

describe('buffered write: short copies (scripted mappings)', () => {
  it('short copy into a !uptodate folio is rejected (0 accepted), then retried with bytes = copied', () => {
    // bs 1K folio 4K, MAPPED, write [1024, 3072) with faultAt 500.
    // Try 1: run [1024, 3072) is skipped (aligned edges); copy 500 < 2048 into a !uptodate folio
    //        -> accept 0, revert 500, retry with bytes = 500.
    // Try 2: [1024, 1524): run [1024, 2048), to = 1524 inside -> read block 1; copy 500 == len -> accept.
    // Then pos 1524: nothing more can be faulted in -> -EFAULT ends the loop; the mapping reports
    // 500, so the iterator maps the rest (1524, 1548), whose body fails at once with -EFAULT and
    // end(written 0); the call returns the 500 bytes by which pos moved.
    const { dev, content } = device();
    const inode = bareInode({ blockSize: 1024, folioSize: 4096, size: MiB, newFolioFill: POISON });
    const data = pattern(8, 2048);
    const ops = new ScriptedOps(tableMapper([mapped(dev)]));
    assert.strictEqual(write(inode, 1024, data, ops, 500), 500);
    assert.deepStrictEqual(dev.ios('read'), [[ADDR + 1024, 1024]]);
    assert.deepStrictEqual(ops.trace(), [
      'begin(1024, 2048, WRITE)', 'end(1024, 2048, 500, WRITE)', 'begin(1524, 1548, WRITE)', 'end(1524, 1548, 0, WRITE)',
    ]);
    const f = inode.mapping.folioAt(0)!;
    assert.ok(eq(f.data.subarray(1024, 1524), data.subarray(0, 500)));
    assert.ok(eq(f.data.subarray(1524, 2048), content.subarray(1524, 2048)));
    assert.strictEqual(bitsOf(f.ifs!.uptodate), '0100');
    assert.strictEqual(bitsOf(f.ifs!.dirty), '0100');
    assert.strictEqual(f.refs, 0);
    assert.strictEqual(f.locked, false);
  });

  it('nothing faultable -> -EFAULT, end(written 0)', () => {
    const { dev } = device();
    const inode = bareInode({ blockSize: 1024, folioSize: 4096, size: MiB });
    const ops = new ScriptedOps(tableMapper([mapped(dev)]));
    assert.strictEqual(write(inode, 0, pattern(1, 100), ops, 0), -EFAULT);
    assert.deepStrictEqual(ops.trace(), ['begin(0, 100, WRITE)', 'end(0, 100, 0, WRITE)']);
  });

  it('short copy accepted when write_begin made the folio uptodate: uncopied bytes keep stale memory (Errata §5.2)', () => {
    // UNWRITTEN, bs 1K folio 4K, write [100, 4000) faultAt 1000. write_begin: run [0, 4096) holds
    // both edges; needsZeroing -> zero [0, 100) and [4000, 4096) only, mark ALL uptodate (folio
    // uptodate). The copy stops after 1000 bytes, but the folio is uptodate -> accepted:
    // [1100, 4000) keeps the new folio's memory (poison) and is "uptodate"; dirty = [100, 1100).
    const { dev } = device();
    const inode = bareInode({ blockSize: 1024, folioSize: 4096, size: MiB, newFolioFill: POISON });
    const data = pattern(9, 3900);
    const ops = new ScriptedOps(() => ({ map: { offset: 0, length: MiB, type: IOMAP_UNWRITTEN, addr: ADDR, bdev: dev } }));
    assert.strictEqual(write(inode, 100, data, ops, 1000), 1000);
    const f = inode.mapping.folioAt(0)!;
    assert.ok(allBytes(f.data.subarray(0, 100), 0));
    assert.ok(eq(f.data.subarray(100, 1100), data.subarray(0, 1000)));
    assert.ok(allBytes(f.data.subarray(1100, 4000), POISON), 'uncopied bytes were never initialised');
    assert.ok(allBytes(f.data.subarray(4000), 0));
    assert.strictEqual(f.uptodate, true);
    assert.strictEqual(bitsOf(f.ifs!.dirty), '1100'); // [100, 1100) -> blocks 0..1
    assert.deepStrictEqual(ops.trace(), [
      'begin(100, 3900, WRITE)', 'end(100, 3900, 1000, WRITE)', 'begin(1100, 2900, WRITE)', 'end(1100, 2900, 0, WRITE)',
    ]);
  });

  it('a rejected chunk beyond EOF drops its page cache (iomap_write_failed)', () => {
    // i_size 0, DELALLOC|NEW, bs 1K, folio 16K, write [0, 16384) faultAt 6000:
    // try 1: one 16K folio (full overwrite, no read), copy 6000 < 16384 into a !uptodate folio
    //        -> rejected; write_failed truncates [0, 16384) beyond EOF 0 -> the folio is gone.
    // try 2: chunk halves to 8192, bytes = 6000 -> hint 6000 -> 4K folio at 0: 4096 bytes, accepted.
    // try 3: pos 4096, bytes = min(8192 - 4096, 12288) = 4096, faultable 1904 -> 4K folio rejected,
    //        write_failed drops [4096, 8192); retry bytes 1904 -> 4K folio, run [4096, 6144):
    //        zero [6000, 6144), accept 1904. Next: -EFAULT. Total 6000, i_size 6000.
    const inode = bareInode({ blockSize: 1024, folioSize: 16384, size: 0, newFolioFill: POISON });
    const data = pattern(10, 16384);
    const ops = new ScriptedOps(() => ({ map: { offset: 0, length: 16384, type: IOMAP_DELALLOC, flags: IOMAP_F_NEW } }));
    assert.strictEqual(write(inode, 0, data, ops, 6000), 6000);
    assert.strictEqual(inode.size, 6000);
    const folios = inode.mapping.allFolios().map((f) => [f.pos, f.size]);
    assert.deepStrictEqual(folios, [[0, 4096], [4096, 4096]]);
    const f1 = inode.mapping.folioAt(4096)!;
    assert.ok(eq(f1.data.subarray(0, 1904), data.subarray(4096, 6000)));
    assert.ok(allBytes(f1.data.subarray(1904, 2048), 0));
    assert.strictEqual(bitsOf(f1.ifs!.uptodate), '1100');
    // The rest is mapped again (curLen 16384 - 6000 = 10384) and fails at once: end(written 0).
    assert.deepStrictEqual(ops.trace(), [
      'begin(0, 16384, WRITE)', 'end(0, 16384, 6000, WRITE) [NEW|SIZE_CHANGED]',
      'begin(6000, 10384, WRITE)', 'end(6000, 10384, 0, WRITE) [NEW]',
    ]);
  });
});

describe('buffered write: i_size, EOF page, NOWAIT, signals, STALE (scripted mappings)', () => {
  it('EOF-straddling write reads the old EOF run and raises i_size with SIZE_CHANGED', () => {
    // i_size 2500, bs 1K, write [2000, 3000): run [1024, 3072) (EOF block 2 is inside EOF),
    // from 2000 inside, block 1 < i_size -> read [1024, 3072) = 2048 bytes. i_size -> 3000.
    const { dev, content } = device();
    const inode = bareInode({ blockSize: 1024, folioSize: 4096, size: 2500, newFolioFill: POISON });
    const ops = new ScriptedOps(tableMapper([mapped(dev)]));
    const data = pattern(11, 1000);
    assert.strictEqual(write(inode, 2000, data, ops), 1000);
    assert.deepStrictEqual(dev.ios('read'), [[ADDR + 1024, 2048]]);
    assert.strictEqual(inode.size, 3000);
    assert.deepStrictEqual(ops.trace(), ['begin(2000, 1000, WRITE)', 'end(2000, 1000, 1000, WRITE) [SIZE_CHANGED]']);
    const f = inode.mapping.folioAt(0)!;
    assert.ok(eq(f.data.subarray(1024, 2000), content.subarray(1024, 2000)));
    assert.ok(eq(f.data.subarray(3000, 3072), content.subarray(3000, 3072)));
  });

  it('a write inside i_size does not set SIZE_CHANGED', () => {
    const { dev } = device();
    const inode = bareInode({ blockSize: 1024, folioSize: 4096, size: 4096 });
    const ops = new ScriptedOps(tableMapper([mapped(dev)]));
    write(inode, 0, pattern(1, 4096), ops);
    assert.deepStrictEqual(ops.trace(), ['begin(0, 4096, WRITE)', 'end(0, 4096, 4096, WRITE)']);
  });

  for (const dirty of [true, false]) {
    it(`extending past a partial EOF block: pagecache_isize_extended ${dirty ? 'zeroes [old EOF, pos) of the dirty' : 'leaves the clean'} EOF folio`, () => {
      // i_size 2500, bs 1K, EOF folio cached uptodate with garbage 0x55 past EOF. Write [3500, 3600):
      // round_up(2500, 1K) = 3072 < 3500 and 3072 is not page aligned -> the EOF folio is
      // write-protected and, if dirty, zeroed over [2500, min(3500, 4096)).
      // (The write dirties that same folio, so "clean" needs the write in another folio: [4596, 4696).)
      const { dev } = device();
      const inode = bareInode({ blockSize: 1024, folioSize: 4096, size: 2500 });
      const f = folioAt(inode, 0, 4096);
      f.uptodate = true;
      f.data.fill(0x55);
      f.pteWritable = true;
      const pos = dirty ? 3500 : 4596;
      write(inode, pos, pattern(12, 100), new ScriptedOps(tableMapper([mapped(dev)])));
      assert.strictEqual(inode.size, pos + 100);
      assert.strictEqual(f.pteWritable, false, 'write-protected either way');
      if (dirty) {
        assert.ok(allBytes(f.data.subarray(2500, 3500), 0));
        assert.ok(allBytes(f.data.subarray(0, 2500), 0x55));
      } else {
        assert.strictEqual(f.dirty, false);
        assert.ok(allBytes(f.data.subarray(2500), 0x55));
      }
    });
  }

  it('NOWAIT: a needed read -> -EAGAIN; bytes done by earlier mappings are still returned', () => {
    const { dev } = device();
    const inode = bareInode({ blockSize: 1024, folioSize: 4096, size: MiB });
    const ops = new ScriptedOps(tableMapper([mapped(dev)]));
    assert.strictEqual(write(inode, 1500, pattern(1, 500), ops, Infinity, true), -EAGAIN);
    assert.deepStrictEqual(ops.trace(), ['begin(1500, 500, WRITE|NOWAIT)', 'end(1500, 500, 0, WRITE|NOWAIT)']);
    // Two mappings: [0, 1024) needs no read (aligned, skipped run); [1024, ...) needs one -> 1024 done.
    const inode2 = bareInode({ blockSize: 1024, folioSize: 4096, size: MiB });
    const ops2 = new ScriptedOps(tableMapper([mapped(dev, 0, 1024), mapped(dev, 1024, MiB)]));
    assert.strictEqual(write(inode2, 0, pattern(1, 1524), ops2, Infinity, true), 1024);
    assert.deepStrictEqual(ops2.trace(), [
      'begin(0, 1524, WRITE|NOWAIT)', 'end(0, 1024, 1024, WRITE|NOWAIT)',
      'begin(1024, 500, WRITE|NOWAIT)', 'end(1024, 500, 0, WRITE|NOWAIT)',
    ]);
  });

  it('NOWAIT ifs allocation failure -> -EAGAIN; a fatal signal -> -EINTR', () => {
    const { dev } = device();
    try {
      writeHooks.failNowaitIfsAlloc = true;
      const inode = bareInode({ blockSize: 1024, folioSize: 4096, size: MiB });
      assert.strictEqual(write(inode, 0, pattern(1, 1024), new ScriptedOps(tableMapper([mapped(dev)])), Infinity, true), -EAGAIN);
      writeHooks.failNowaitIfsAlloc = false;
      writeHooks.fatalSignal = true;
      assert.strictEqual(write(inode, 0, pattern(1, 1024), new ScriptedOps(tableMapper([mapped(dev)]))), -EINTR);
    } finally {
      writeHooks.failNowaitIfsAlloc = false;
      writeHooks.fatalSignal = false;
    }
  });

  it('->iomap_valid false: STALE, put folio, end(written 0) [STALE], re-begin at the same pos', () => {
    const { dev } = device();
    const inode = bareInode({ blockSize: 1024, folioSize: 4096, size: MiB });
    let validCalls = 0;
    const folioOps: FolioOps = { iomapValid: () => ++validCalls > 1 };
    const ops = new ScriptedOps(() => ({ map: { ...mapped(dev), folioOps } }));
    const data = pattern(13, 4096);
    assert.strictEqual(write(inode, 0, data, ops), 4096);
    assert.deepStrictEqual(ops.trace(), [
      'begin(0, 4096, WRITE)', 'end(0, 4096, 0, WRITE) [STALE]',
      'begin(0, 4096, WRITE)', 'end(0, 4096, 4096, WRITE)',
    ]);
    const f = inode.mapping.folioAt(0)!;
    assert.strictEqual(f.refs, 0);
    assert.strictEqual(f.locked, false);
    assert.ok(eq(f.data, data));
    assert.strictEqual(validCalls, 2);
  });

  it('->get_folio failure ends the write with its error', () => {
    const inode = bareInode({ blockSize: 1024, folioSize: 4096, size: MiB });
    const folioOps: FolioOps = { getFolio: () => -ENOMEM };
    const ops = new ScriptedOps([{ map: { offset: 0, length: MiB, type: IOMAP_DELALLOC, folioOps } }]);
    assert.strictEqual(write(inode, 0, pattern(1, 100), ops), -ENOMEM);
    assert.deepStrictEqual(ops.trace(), ['begin(0, 100, WRITE)', 'end(0, 100, 0, WRITE)']);
  });
});

describe('buffered write through the file API (refs)', () => {
  for (const g of ALL_GEOS) {
    it(`${geoName(g)}: short write in the 2nd folio returns the bytes done and releases the unused delalloc`, () => {
      // pwrite(0, 2F) with faultAt = F + bs/2 + 100 (F = max folio). ->iomap_begin reserves
      // 2F/bs blocks (DELALLOC|NEW). Folio 1 (full overwrite) is accepted; folio 2 (full) gets a
      // short copy -> rejected and dropped (beyond EOF); retry with bytes = bs/2 + 100 in a 4K
      // folio -> zero the rest of the block, accept. Written = F + bs/2 + 100.
      // ->iomap_end: release [round_up(written, bs), 2F) = [F + bs, 2F) -> F/bs + 1 blocks stay.
      const env = mountRefs(g.bs, g.folio);
      const ops = tapOps(env.fs.iomapOps);
      try {
        const F = g.folio;
        const data = pattern(14, 2 * F);
        const expect = F + g.bs / 2 + 100;
        assert.strictEqual(env.fh.pwrite(0, data, { faultAt: expect }), expect);
        assert.deepStrictEqual(ops.trace(), [
          `begin(0, ${2 * F}, WRITE)`, `end(0, ${2 * F}, ${expect}, WRITE) [NEW|SIZE_CHANGED]`,
          `begin(${expect}, ${2 * F - expect}, WRITE)`, `end(${expect}, ${g.bs / 2 - 100}, 0, WRITE)`,
        ]);
        assert.strictEqual(env.fh.size, expect);
        assert.strictEqual(env.fs.reservedBlocks, F / g.bs + 1);
        assert.deepStrictEqual(extentsOf(env.ri), [[0, F / g.bs + 1, 'delalloc']]);
        assert.deepStrictEqual(env.fsys.checkInvariants(), []);
        assert.ok(eq(env.fh.pread(0, 2 * F), data.subarray(0, expect)));
        env.fh.fsync();
        env.fsys.dropCaches();
        assert.strictEqual(env.fs.reservedBlocks, 0);
        assert.ok(eq(env.fh.pread(0, 2 * F), data.subarray(0, expect)));
      } finally {
        ops.restore();
      }
    });

    it(`${geoName(g)}: short write inside the first block keeps exactly one reserved block; none when nothing copies`, () => {
      // faultAt = bs/2: the full folio is rejected and dropped; retry bytes = bs/2 in a 4K folio,
      // accepted. ->iomap_end releases [round_up(bs/2, bs) = bs, 2F) -> 1 block left.
      const env = mountRefs(g.bs, g.folio);
      const F = g.folio;
      const data = pattern(15, 2 * F);
      assert.strictEqual(env.fh.pwrite(0, data, { faultAt: g.bs / 2 }), g.bs / 2);
      assert.strictEqual(env.fs.reservedBlocks, 1);
      assert.deepStrictEqual(extentsOf(env.ri), [[0, 1, 'delalloc']]);
      // faultAt 0 at the end of the file: begin(bs/2, 2F) maps the existing (not NEW) delalloc
      // [0, bs): curLen = bs - bs/2 = bs/2; nothing can be faulted in -> -EFAULT,
      // end(bs/2, bs/2, 0) releases nothing (not F_NEW), the write fails with EFAULT.
      const ops = tapOps(env.fs.iomapOps);
      try {
        expectFsError(() => env.fh.pwrite(g.bs / 2, data, { faultAt: 0 }), 'EFAULT');
        assert.deepStrictEqual(ops.trace(), [`begin(${g.bs / 2}, ${2 * F}, WRITE)`, `end(${g.bs / 2}, ${g.bs / 2}, 0, WRITE)`]);
      } finally {
        ops.restore();
      }
      assert.strictEqual(env.fs.reservedBlocks, 1);
      assert.strictEqual(env.fh.size, g.bs / 2);
      assert.deepStrictEqual(env.fsys.checkInvariants(), []);
    });

    it(`${geoName(g)}: a short write's release keeps the delalloc (and cache) of a page an mmap store dirtied meanwhile`, () => {
      // i_size 8192 (holes). pwrite(0, 8192, faultAt 1000) reserves [0, 8192) NEW. Between its
      // ->iomap_begin and the first folio, an mmap store dirties page 1 (page_mkwrite finds the
      // new delalloc, not NEW). The write accepts 1000 bytes; ->iomap_end releases
      // [round_up(1000, bs), 8192): the scan finds page 1 dirty -> punch only [round_up(1000, bs),
      // 4096) up to it (its blocks are all dirty) -> round_up(1000, bs)/bs + 4096/bs blocks stay
      // reserved (512: 2 + 8, 1024: 1 + 4, 4096: 1 + 1); the stored bytes survive.
      // (§7.3: truncating the cache over the unused range would drop the store.)
      const env = mountRefs(g.bs, g.folio);
      env.fh.truncate(8192);
      const store = pattern(30, 100);
      let fired = 0;
      writeHooks.beforeGetFolio = () => {
        if (fired++) return;
        env.fh.mmapWrite(5000, store, { msync: false });
      };
      const data = pattern(31, 8192);
      try {
        assert.strictEqual(env.fh.pwrite(0, data, { faultAt: 1000 }), 1000);
      } finally {
        writeHooks.beforeGetFolio = undefined;
      }
      assert.strictEqual(env.fs.reservedBlocks, roundUp(1000, g.bs) / g.bs + 4096 / g.bs);
      const expect = new Uint8Array(8192);
      expect.set(data.subarray(0, 1000));
      expect.set(store, 5000);
      assert.ok(eq(env.fh.pread(0, 8192), expect));
      assert.deepStrictEqual(env.fsys.checkInvariants(), []);
      env.fh.fsync();
      env.fsys.dropCaches();
      assert.ok(eq(env.fh.pread(0, 8192), expect));
    });

    it(`${geoName(g)}: STALE re-lookup when writeback converts the delalloc between ->iomap_begin and get_folio`, () => {
      // pwrite(0, F) -> delalloc [0, F/bs). Then pwrite(F - bs, B = 2 bs):
      //  begin(F-bs, 2bs) -> DELALLOC [0, F) (not NEW) -> curLen = bs. The hook runs writeback +
      //  completion: map_blocks allocates (UNWRITTEN), completion converts to WRITTEN; the
      //  sequence number moves -> ->iomap_valid false -> STALE: end(F-bs, bs, 0) [STALE].
      //  begin(F-bs, 2bs) -> MAPPED [0, F): write bs -> end(F-bs, bs, bs).
      //  begin(F, bs) -> hole -> DELALLOC|NEW [F, F+bs): end(F, bs, bs) [NEW|SIZE_CHANGED].
      const env = mountRefs(g.bs, g.folio);
      const F = g.folio;
      const bs = g.bs;
      const A = pattern(16, F);
      const B = pattern(17, 2 * bs);
      env.fh.pwrite(0, A);
      let fired = 0;
      const ops = tapOps(env.fs.iomapOps);
      writeHooks.beforeGetFolio = () => {
        if (fired++) return;
        env.fh.writebackNow();
        env.fsys.queue.drain();
      };
      try {
        assert.strictEqual(env.fh.pwrite(F - bs, B), 2 * bs);
      } finally {
        writeHooks.beforeGetFolio = undefined;
        ops.restore();
      }
      assert.deepStrictEqual(ops.trace(), [
        `begin(${F - bs}, ${2 * bs}, WRITE)`, `end(${F - bs}, ${bs}, 0, WRITE) [STALE]`,
        `begin(${F - bs}, ${2 * bs}, WRITE)`, `end(${F - bs}, ${bs}, ${bs}, WRITE)`,
        `begin(${F}, ${bs}, WRITE)`, `end(${F}, ${bs}, ${bs}, WRITE) [NEW|SIZE_CHANGED]`,
      ]);
      assert.deepStrictEqual(ops.results.map((r) => r.map.type), [IOMAP_DELALLOC, IOMAP_MAPPED, IOMAP_DELALLOC]);
      assert.deepStrictEqual(extentsOf(env.ri), [[0, F / bs, 'written'], [F / bs, 1, 'delalloc']]);
      assert.strictEqual(env.fs.reservedBlocks, 1);
      const expect = new Uint8Array(F + bs);
      expect.set(A);
      expect.set(B, F - bs);
      assert.ok(eq(env.fh.pread(0, F + bs), expect));
      env.fh.fsync();
      env.fsys.dropCaches();
      assert.ok(eq(env.fh.pread(0, F + bs), expect));
      assert.deepStrictEqual(env.fsys.checkInvariants(), []);
    });

    it(`${geoName(g)}: STALE re-lookup when the new reservation is punched before get_folio; no double release`, () => {
      // Empty file, pwrite(0, 2bs): begin reserves [0, 2bs) DELALLOC|NEW. The hook punches it
      // (seq moves) -> STALE: end(0, 2bs, 0) [NEW|STALE] releases [0, 2bs) (already gone),
      // re-begin reserves again: end(0, 2bs, 2bs) [NEW|SIZE_CHANGED]. Exactly 2 blocks reserved.
      const env = mountRefs(g.bs, g.folio);
      const bs = g.bs;
      const data = pattern(18, 2 * bs);
      let fired = 0;
      const ops = tapOps(env.fs.iomapOps);
      writeHooks.beforeGetFolio = (it) => {
        if (fired++) return;
        env.fs.punchDelalloc(it.inode, 0, 2 * bs);
        assert.strictEqual(env.fs.reservedBlocks, 0);
      };
      try {
        assert.strictEqual(env.fh.pwrite(0, data), 2 * bs);
      } finally {
        writeHooks.beforeGetFolio = undefined;
        ops.restore();
      }
      assert.deepStrictEqual(ops.trace(), [
        `begin(0, ${2 * bs}, WRITE)`, `end(0, ${2 * bs}, 0, WRITE) [NEW|STALE]`,
        `begin(0, ${2 * bs}, WRITE)`, `end(0, ${2 * bs}, ${2 * bs}, WRITE) [NEW|SIZE_CHANGED]`,
      ]);
      assert.strictEqual(env.fs.reservedBlocks, 2);
      assert.deepStrictEqual(extentsOf(env.ri), [[0, 2, 'delalloc']]);
      assert.ok(eq(env.fh.pread(0, 2 * bs), data));
      assert.deepStrictEqual(env.fsys.checkInvariants(), []);
    });

    it(`${geoName(g)}: EOF-straddling writes and a write past EOF (the gap reads as zeroes)`, () => {
      const env = mountRefs(g.bs, g.folio);
      const S = g.folio / 2 + 100;
      const a = pattern(19, S);
      env.fh.pwrite(0, a);
      env.fh.fsync();
      env.fsys.dropCaches();
      // Straddle the old EOF: [S - 50, S + 50) -> i_size S + 50.
      const b = pattern(20, 100);
      assert.strictEqual(env.fh.pwrite(S - 50, b), 100);
      assert.strictEqual(env.fh.size, S + 50);
      // Past EOF with a gap of 3 blocks + 7 bytes: the gap is zeroed, i_size = end of the write.
      const gapAt = S + 50 + 3 * g.bs + 7;
      const c = pattern(21, 10);
      env.fh.pwrite(gapAt, c);
      assert.strictEqual(env.fh.size, gapAt + 10);
      const expect = new Uint8Array(gapAt + 10);
      expect.set(a);
      expect.set(b, S - 50);
      expect.set(c, gapAt);
      assert.ok(eq(env.fh.pread(0, gapAt + 10), expect));
      env.fh.fsync();
      env.fsys.dropCaches();
      assert.ok(eq(env.fh.pread(0, gapAt + 10), expect));
      assert.strictEqual(env.fs.reservedBlocks, 0);
      // Allocated exactly the blocks holding data: [0, round_up(S + 50, bs)) and the last write's block(s).
      const blocks = (roundUp(S + 50, g.bs) + roundUp(gapAt + 10, g.bs) - Math.floor(gapAt / g.bs) * g.bs) / g.bs;
      const allocated = env.ri.extents.exts.reduce((n, e) => n + e.len, 0);
      assert.strictEqual(allocated, blocks);
    });
  }
});

describe('iomap_file_unshare (scripted mappings)', () => {
  const SRC = ADDR + 65536; // the old (shared) copy lives here; the iomap is the COW destination
  const cow = (dev: FaultDevice, srcFlags = 0, srcType: number = IOMAP_MAPPED): { map: MapSpec; src: MapSpec } => ({
    map: { offset: 0, length: MiB, type: IOMAP_DELALLOC, flags: IOMAP_F_SHARED },
    src: { offset: 0, length: MiB, type: srcType as 2, addr: SRC, bdev: dev, flags: srcFlags },
  });

  it('pos < 0 or pos >= i_size: returns 0 without a begin; the range is clipped to i_size', () => {
    const { dev } = device();
    const inode = bareInode({ blockSize: 1024, folioSize: 4096, size: 10000 });
    const ops = new ScriptedOps(() => cow(dev));
    assert.strictEqual(iomapFileUnshare(inode, -1, 100, ops), 0);
    assert.strictEqual(iomapFileUnshare(inode, 10000, 100, ops), 0);
    assert.deepStrictEqual(ops.trace(), []);
    // [9000, 9000 + min(1M, 10000 - 9000)) = [9000, 10000)
    assert.strictEqual(iomapFileUnshare(inode, 9000, MiB, ops), 0);
    assert.deepStrictEqual(ops.trace(), ['begin(9000, 1000, WRITE|UNSHARE)', 'end(9000, 1000, 1000, WRITE|UNSHARE) [SHARED]']);
    assert.strictEqual(inode.size, 10000, 'unshare never changes i_size');
  });

  it('SHARED with a MAPPED srcmap: every !uptodate block is READ from the srcmap even when fully covered, then dirtied', () => {
    // [0, 4096) is one folio: UNSHARE disables the full-folio shortcut and the run skip ->
    // one read of the run [0, 4096) from the srcmap address.
    const { dev, content } = device();
    const inode = bareInode({ blockSize: 1024, folioSize: 4096, size: MiB, newFolioFill: POISON });
    const ops = new ScriptedOps(() => cow(dev));
    assert.strictEqual(iomapFileUnshare(inode, 0, 4096, ops), 0);
    assert.deepStrictEqual(dev.ios('read'), [[SRC, 4096]]);
    const f = inode.mapping.folioAt(0)!;
    assert.ok(eq(f.data, content.subarray(65536, 65536 + 4096)));
    assert.strictEqual(f.dirty, true);
    assert.strictEqual(bitsOf(f.ifs!.dirty), '1111');
    // An uptodate folio is not read again, but still dirtied for the COW writeback.
    f.dirty = false;
    f.ifs!.dirty.fill(0);
    iomapFileUnshare(inode, 0, 4096, ops);
    assert.strictEqual(dev.stats.reads, 1);
    assert.strictEqual(f.dirty, true);
  });

  it('not SHARED, or a srcmap that is not MAPPED: skipped whole (no folio, written = length)', () => {
    const { dev } = device();
    const steps: BeginStep[] = [
      { map: mapped(dev) },
      cow(dev, 0, IOMAP_UNWRITTEN),
      { map: { offset: 0, length: MiB, type: IOMAP_MAPPED, addr: ADDR, bdev: dev, flags: IOMAP_F_SHARED } }, // no srcmap
    ];
    for (const step of steps) {
      const inode = bareInode({ blockSize: 1024, folioSize: 4096, size: MiB });
      const ops = new ScriptedOps([step]);
      assert.strictEqual(iomapFileUnshare(inode, 0, 8192, ops), 0);
      assert.strictEqual(ops.ends()[0].written, 8192);
      assert.strictEqual(inode.mapping.nrFolios, 0);
    }
    assert.strictEqual(dev.stats.reads, 0);
  });

  it('6.12 predicate: a DELALLOC srcmap is not unshared (the pre-6.12 one tried and hit -EIO, §7.21)', () => {
    const { dev } = device();
    const inode = bareInode({ blockSize: 1024, folioSize: 4096, size: MiB });
    const ops = new ScriptedOps(() => cow(dev, 0, IOMAP_DELALLOC));
    assert.strictEqual(iomapFileUnshare(inode, 0, 4096, ops), 0);
    assert.deepStrictEqual(ops.trace(), ['begin(0, 4096, WRITE|UNSHARE)', 'end(0, 4096, 4096, WRITE|UNSHARE) [SHARED]']);
    assert.deepStrictEqual(inode.mapping.warnings, []);
    assert.strictEqual(inode.mapping.nrFolios, 0);
  });

  it('UNSHARE on a block that needs zeroing (srcmap NEW) is a WARN and -EIO', () => {
    const { dev } = device();
    const inode = bareInode({ blockSize: 1024, folioSize: 4096, size: MiB });
    const ops = new ScriptedOps(() => cow(dev, IOMAP_F_NEW));
    assert.strictEqual(iomapFileUnshare(inode, 0, 4096, ops), -EIO);
    assert.deepStrictEqual(inode.mapping.warnings, ['unshare needs zeroing']);
    assert.deepStrictEqual(ops.trace(), ['begin(0, 4096, WRITE|UNSHARE)', 'end(0, 4096, 0, WRITE|UNSHARE) [SHARED]']);
  });
});

describe('iomap_write_delalloc_release: keep delalloc over dirty blocks below EOF, punch the rest', () => {
  function recorder(): { punches: Array<[number, number]>; punch: (i: Inode, off: number, len: number) => void } {
    const punches: Array<[number, number]> = [];
    return { punches, punch: (_i, off, len) => { punches.push([off, len]); } };
  }

  it('dirty folio with clean blocks, a clean folio, a gap, a dirty folio without ifs, past EOF', () => {
    // bs 1K folio 4K, i_size 16384, release [0, 20480):
    //  data [0, 8192): folio 0 dirty (block bits 1010) -> punch its clean blocks 1 and 3, punch
    //    start -> 4096; folio 1 clean -> left alone (punch start stays 4096).
    //  no folio in [8192, 12288): not data.
    //  data [12288, 16384): folio 3 dirty -> punch [4096, 12288) up to it, punch start -> 16384.
    //  finally [16384, 20480), everything at/after EOF.
    const inode = bareInode({ blockSize: 1024, folioSize: 4096, size: 16384 });
    const f0 = folioAt(inode, 0, 4096);
    setRangeUptodateAll(f0, inode);
    ifsAlloc(f0, inode.blkbits);
    f0.ifs!.dirty.set([1, 0, 1, 0]);
    f0.dirty = true;
    setRangeUptodateAll(folioAt(inode, 4096, 4096), inode);
    const f3 = folioAt(inode, 12288, 4096);
    f3.uptodate = true;
    f3.dirty = true;
    f3.ifs = null;
    const r = recorder();
    iomapWriteDelallocRelease(inode, 0, 20480, IOMAP_WRITE, zeroedIomap(), r.punch);
    assert.deepStrictEqual(r.punches, [[1024, 1024], [3072, 1024], [4096, 8192], [16384, 4096]]);
  });

  it('the scan stops at EOF: dirty cache past i_size does not keep its delalloc', () => {
    // i_size 6000: the data range is [0, min(8192, 6000)); both folios dirty (all blocks), so
    // the punch start moves to min(6000, folio end) = 6000 and [6000, 20480) is punched.
    const inode = bareInode({ blockSize: 1024, folioSize: 4096, size: 6000 });
    for (const pos of [0, 4096]) {
      const f = folioAt(inode, pos, 4096);
      setRangeUptodateAll(f, inode);
      iomapDirtyFolio(f);
    }
    const r = recorder();
    iomapWriteDelallocRelease(inode, 0, 20480, IOMAP_WRITE, zeroedIomap(), r.punch);
    assert.deepStrictEqual(r.punches, [[6000, 14480]]);
    // Nothing cached at all: one punch of the whole range.
    const empty = bareInode({ blockSize: 1024, folioSize: 4096, size: 6000 });
    const r2 = recorder();
    iomapWriteDelallocRelease(empty, 1024, 8192, IOMAP_WRITE, zeroedIomap(), r2.punch);
    assert.deepStrictEqual(r2.punches, [[1024, 7168]]);
  });

  it('iomap_last_written_block: round_down(pos) for nothing written, else round_up(pos + written)', () => {
    const inode = bareInode({ blockSize: 1024, folioSize: 4096, size: 0 });
    assert.strictEqual(iomapLastWrittenBlock(inode, 1500, 0), 1024);
    assert.strictEqual(iomapLastWrittenBlock(inode, 1500, 1), 2048);
    assert.strictEqual(iomapLastWrittenBlock(inode, 1024, 1024), 2048);
  });
});

function setRangeUptodateAll(f: import('../reference/iomap/folio').Folio, inode: Inode): void {
  ifsAlloc(f, inode.blkbits);
  if (f.ifs) f.ifs.uptodate.fill(1);
  f.uptodate = true;
}
