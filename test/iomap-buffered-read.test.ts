/**
 * Buffered read (contract §5.1 + Errata §5.1, 6.12 form): iomap_adjust_read_range, read_folio
 * and readahead over every mapping type, EOF handling, device read errors, inline data; then
 * the same through the file API (pread -> EIO, short reads, mmap SIGBUS).
 */
import * as assert from 'assert';
import { adjustReadRange, iomapReadFolio, iomapReadahead } from '../reference/iomap/buffered-io';
import { Folio, ifsAlloc, isPartiallyUptodate } from '../reference/iomap/folio';
import {
  IOMAP_DELALLOC, IOMAP_F_NEW, IOMAP_HOLE, IOMAP_INLINE, IOMAP_MAPPED, IOMAP_UNWRITTEN, roundUp,
} from '../reference/iomap/types';
import { MemoryDevice } from '../reference/device/memory';
import { FaultDevice } from '../reference/device/fault';
import { IomapFs } from '../reference/file';
import type { RefsInode } from '../reference/fs/refs';
import {
  ALL_GEOS, MapSpec, ScriptedOps, allBytes, bareInode, expectFsError, folioAt, geoName, pattern, tableMapper,
} from './support/scripted-ops';

const POISON = 0xaa;
/** Device byte address of file offset 0 in the scripted MAPPED extents. */
const ADDR = 1 << 20;
const DEVSIZE = 8 << 20;

/** A device whose bytes at [ADDR, ADDR + 2 MiB) hold pattern(7). */
function patternedDevice(): { dev: FaultDevice; content: Uint8Array } {
  const mem = new MemoryDevice({ size: DEVSIZE });
  const content = pattern(7, 2 << 20);
  mem.write(ADDR, content);
  return { dev: new FaultDevice(mem), content };
}

function mapped(dev: FaultDevice, offset: number, length: number, flags = 0): MapSpec {
  return { offset, length, type: IOMAP_MAPPED, addr: ADDR + offset, bdev: dev, flags };
}

function setUptodateBits(f: Folio, blkbits: number, pattern01: string, marker?: number): void {
  ifsAlloc(f, blkbits);
  const bs = 1 << blkbits;
  for (let i = 0; i < pattern01.length; i++) {
    if (pattern01[i] !== '1') continue;
    f.ifs!.uptodate[i] = 1;
    if (marker !== undefined) f.data.fill(marker, i * bs, (i + 1) * bs);
  }
}

describe('iomap_adjust_read_range', () => {
  const setup = (size: number, at = 0) => {
    const inode = bareInode({ blockSize: 1024, folioSize: 4096, size });
    return { inode, f: folioAt(inode, at, 4096) };
  };

  it('without ifs: the request clipped to the folio', () => {
    const { inode, f } = setup(1 << 20);
    assert.deepStrictEqual(adjustReadRange(inode, f, 0, 4096), [0, 0, 4096]);
    // from 1000: plen = min(4096 - 1000, 100000) = 3096
    assert.deepStrictEqual(adjustReadRange(inode, f, 1000, 100000), [1000, 1000, 3096]);
  });

  it('skips leading uptodate blocks, stops before the next uptodate block', () => {
    const { inode, f } = setup(1 << 20);
    setUptodateBits(f, inode.blkbits, '1100');
    // two leading blocks skipped: pos 2048, plen 4096 - 2048 = 2048
    assert.deepStrictEqual(adjustReadRange(inode, f, 0, 4096), [2048, 2048, 2048]);
    f.ifs!.uptodate.set([0, 0, 1, 0]);
    // block 2 uptodate: plen = 4096 - (3 - 2 + 1) * 1024 = 2048
    assert.deepStrictEqual(adjustReadRange(inode, f, 0, 4096), [0, 0, 2048]);
    f.ifs!.uptodate.set([1, 0, 1, 1]);
    // skip block 0 (pos 1024, plen 3072), stop at block 2: plen = 3072 - 2 * 1024 = 1024
    assert.deepStrictEqual(adjustReadRange(inode, f, 0, 4096), [1024, 1024, 1024]);
    f.ifs!.uptodate.set([1, 0, 0, 0]);
    // unaligned pos 500 inside uptodate block 0: step = 1024 - 500 = 524 -> pos 1024, plen 3596 - 524 = 3072
    assert.deepStrictEqual(adjustReadRange(inode, f, 500, 3596), [1024, 1024, 3072]);
    f.ifs!.uptodate.set([1, 1, 1, 1]);
    assert.strictEqual(adjustReadRange(inode, f, 0, 4096)[2], 0, 'all uptodate: nothing to do');
  });

  it('splits at the block containing EOF so blocks wholly past EOF are handled apart', () => {
    // i_size 2500: EOF block = (2500 - 1) >> 10 = 2; blocks 0..3 requested -> drop block 3: plen 3072.
    let s = setup(2500);
    assert.deepStrictEqual(adjustReadRange(s.inode, s.f, 0, 4096), [0, 0, 3072]);
    // The rest, [3072, 4096), starts past EOF: no split (orig pos > i_size).
    assert.deepStrictEqual(adjustReadRange(s.inode, s.f, 3072, 1024), [3072, 3072, 1024]);
    // i_size 2048 (block aligned): EOF block = 2047 >> 10 = 1 -> plen = 4096 - 2 * 1024 = 2048.
    s = setup(2048);
    assert.deepStrictEqual(adjustReadRange(s.inode, s.f, 0, 4096), [0, 0, 2048]);
    // A folio starting exactly at EOF (4096): offset_in_folio(4095) >> 10 = 3 = last -> no split.
    s = setup(4096, 4096);
    assert.deepStrictEqual(adjustReadRange(s.inode, s.f, 4096, 4096), [4096, 0, 4096]);
  });

  for (const g of ALL_GEOS) {
    it(`${geoName(g)}: EOF at 5000 -> the first run ends at ${g.folio > 5000 ? 'round_up(5000, bs)' : 'the folio end'}`, () => {
      const inode = bareInode({ blockSize: g.bs, folioSize: g.folio, size: 5000 });
      const f = folioAt(inode, 0, g.folio);
      // 5000 < folio: plen = round_up(5000, bs) (512/1024: 5120, 4096: 8192); else the folio (4096).
      const expect = g.folio > 5000 ? roundUp(5000, g.bs) : g.folio;
      assert.deepStrictEqual(adjustReadRange(inode, f, 0, g.folio), [0, 0, expect]);
    });
  }
});

describe('iomap_read_folio over scripted mappings', () => {
  for (const g of ALL_GEOS) {
    it(`${geoName(g)}: a MAPPED folio is one begin/end and one device read of the whole folio`, () => {
      const { dev, content } = patternedDevice();
      const inode = bareInode({ blockSize: g.bs, folioSize: g.folio, size: 1 << 20, newFolioFill: POISON });
      const f = folioAt(inode, g.folio, g.folio); // the second folio: file offset = folio size
      const ops = new ScriptedOps(tableMapper([mapped(dev, 0, 1 << 20)]));
      assert.strictEqual(iomapReadFolio(f, ops), 0);
      assert.deepStrictEqual(ops.trace(), [`begin(${g.folio}, ${g.folio}, 0)`, `end(${g.folio}, ${g.folio}, ${g.folio}, 0)`]);
      assert.deepStrictEqual(dev.ios('read'), [[ADDR + g.folio, g.folio]]);
      assert.ok(Buffer.from(f.data).equals(Buffer.from(content.subarray(g.folio, 2 * g.folio))));
      assert.strictEqual(f.uptodate, true);
      const n = g.folio / g.bs;
      if (n > 1) {
        assert.ok(f.ifs, 'read creates the ifs when >1 block per folio');
        assert.ok(allBytes(f.ifs.uptodate, 1));
        assert.strictEqual(f.ifs.readBytesPending, 0);
      } else {
        assert.strictEqual(f.ifs, null);
      }
    });

    it(`${geoName(g)}: EOF-straddling folio reads round_up(i_size, bs) and zero-fills the rest without I/O`, () => {
      const { dev, content } = patternedDevice();
      // i_size = folio/2 + 100: the device read covers [0, round_up(size, bs)); the EOF block is
      // read whole (its bytes past EOF come from the disk); later blocks are zeroed.
      const size = g.folio / 2 + 100;
      const readLen = roundUp(size, g.bs);
      const inode = bareInode({ blockSize: g.bs, folioSize: g.folio, size, newFolioFill: POISON });
      const f = folioAt(inode, 0, g.folio);
      const ops = new ScriptedOps(tableMapper([mapped(dev, 0, 1 << 20)]));
      iomapReadFolio(f, ops);
      assert.deepStrictEqual(ops.trace(), [`begin(0, ${g.folio}, 0)`, `end(0, ${g.folio}, ${g.folio}, 0)`]);
      assert.deepStrictEqual(dev.ios('read'), [[ADDR, readLen]]);
      assert.ok(Buffer.from(f.data.subarray(0, readLen)).equals(Buffer.from(content.subarray(0, readLen))));
      assert.ok(allBytes(f.data.subarray(readLen), 0), 'blocks past EOF are zero-filled');
      assert.strictEqual(f.uptodate, true);
    });
  }

  for (const [name, spec] of [
    ['HOLE', { type: IOMAP_HOLE }], ['UNWRITTEN', { type: IOMAP_UNWRITTEN, addr: ADDR }],
    ['DELALLOC', { type: IOMAP_DELALLOC }], ['MAPPED|NEW', { type: IOMAP_MAPPED, addr: ADDR, flags: IOMAP_F_NEW }],
  ] as const) {
    it(`${name} reads as zeroes with no device I/O and leaves an uptodate folio (bs=1024 folio=16K)`, () => {
      const { dev } = patternedDevice();
      const inode = bareInode({ blockSize: 1024, folioSize: 16384, size: 1 << 20, newFolioFill: POISON });
      const f = folioAt(inode, 0, 16384);
      const ops = new ScriptedOps([{ map: { offset: 0, length: 1 << 20, bdev: dev, ...spec } as MapSpec }]);
      iomapReadFolio(f, ops);
      assert.ok(allBytes(f.data, 0), 'poison replaced by zeroes');
      assert.strictEqual(f.uptodate, true);
      assert.ok(allBytes(f.ifs!.uptodate, 1));
      assert.strictEqual(dev.stats.reads, 0);
      const mf = 'flags' in spec ? ' [NEW]' : '';
      assert.deepStrictEqual(ops.trace(), ['begin(0, 16384, 0)', `end(0, 16384, 16384, 0)${mf}`]);
    });
  }

  it('several mappings in one folio: one begin/end per mapping, only MAPPED bytes hit the device', () => {
    // bs 1024, folio 4K: [0, 2048) MAPPED, [2048, 3072) UNWRITTEN, [3072, ...) HOLE.
    const { dev, content } = patternedDevice();
    const inode = bareInode({ blockSize: 1024, folioSize: 4096, size: 1 << 20, newFolioFill: POISON });
    const f = folioAt(inode, 0, 4096);
    const ops = new ScriptedOps(tableMapper([
      mapped(dev, 0, 2048), { offset: 2048, length: 1024, type: IOMAP_UNWRITTEN, addr: ADDR + 2048, bdev: dev },
    ]));
    iomapReadFolio(f, ops);
    assert.deepStrictEqual(ops.trace(), [
      'begin(0, 4096, 0)', 'end(0, 2048, 2048, 0)',
      'begin(2048, 2048, 0)', 'end(2048, 1024, 1024, 0)',
      'begin(3072, 1024, 0)', 'end(3072, 1024, 1024, 0)',
    ]);
    assert.deepStrictEqual(dev.ios('read'), [[ADDR, 2048]]);
    assert.ok(Buffer.from(f.data.subarray(0, 2048)).equals(Buffer.from(content.subarray(0, 2048))));
    assert.ok(allBytes(f.data.subarray(2048), 0));
    assert.strictEqual(f.uptodate, true);
  });

  it('already-uptodate blocks are neither read nor overwritten (6.12: one begin per mapping)', () => {
    // bits 0010: runs [0, 2048) and [3072, 4096) are read, block 2 keeps its 0x77 bytes.
    const { dev, content } = patternedDevice();
    const inode = bareInode({ blockSize: 1024, folioSize: 4096, size: 1 << 20, newFolioFill: POISON });
    const f = folioAt(inode, 0, 4096);
    setUptodateBits(f, inode.blkbits, '0010', 0x77);
    const ops = new ScriptedOps(tableMapper([mapped(dev, 0, 1 << 20)]));
    iomapReadFolio(f, ops);
    assert.deepStrictEqual(dev.ios('read'), [[ADDR, 2048], [ADDR + 3072, 1024]]);
    assert.deepStrictEqual(ops.trace(), ['begin(0, 4096, 0)', 'end(0, 4096, 4096, 0)']);
    assert.ok(allBytes(f.data.subarray(2048, 3072), 0x77));
    assert.ok(Buffer.from(f.data.subarray(3072)).equals(Buffer.from(content.subarray(3072, 4096))));
    assert.strictEqual(f.uptodate, true);
  });

  it('a device read error leaves the failed range not uptodate (and nothing else changes)', () => {
    const { dev } = patternedDevice();
    const inode = bareInode({ blockSize: 1024, folioSize: 4096, size: 1 << 20, newFolioFill: POISON });
    const f = folioAt(inode, 0, 4096);
    dev.failReads(ADDR + 1024, 1); // block 1; the whole folio is one read -> it all fails
    iomapReadFolio(f, new ScriptedOps(tableMapper([mapped(dev, 0, 1 << 20)])));
    assert.strictEqual(dev.stats.failedReads, 1);
    assert.strictEqual(f.uptodate, false);
    assert.ok(allBytes(f.ifs!.uptodate, 0));
    assert.strictEqual(f.ifs!.readBytesPending, 0);
    assert.strictEqual(f.error, true);

    // Two separate runs (block 2 already uptodate): only the failing run [3072, 4096) stays !uptodate.
    const g = folioAt(inode, 8192, 4096);
    setUptodateBits(g, inode.blkbits, '0010', 0x77);
    dev.clearFaults();
    dev.failReads(ADDR + 8192 + 3072, 1024);
    iomapReadFolio(g, new ScriptedOps(tableMapper([mapped(dev, 0, 1 << 20)])));
    assert.strictEqual(Array.from(g.ifs!.uptodate).join(''), '1110');
    assert.strictEqual(g.uptodate, false);
    assert.strictEqual(isPartiallyUptodate(g, 0, 3072, inode.blkbits), true);
    assert.strictEqual(isPartiallyUptodate(g, 0, 3073, inode.blkbits), false);

    // One block per folio: the folio flag stays clear.
    const one = bareInode({ blockSize: 4096, folioSize: 4096, size: 1 << 20 });
    const h = folioAt(one, 0, 4096);
    dev.clearFaults();
    dev.failReads(ADDR, 4096);
    iomapReadFolio(h, new ScriptedOps(tableMapper([mapped(dev, 0, 1 << 20)])));
    assert.strictEqual(h.uptodate, false);
    assert.strictEqual(h.ifs, null);
  });

  it('INLINE: copies i_size - offset bytes, zeroes to the folio end, stops the iteration', () => {
    const inode = bareInode({ blockSize: 1024, folioSize: 4096, size: 100, newFolioFill: POISON });
    const f = folioAt(inode, 0, 4096);
    const inline = new Uint8Array(1024);
    inline.set(pattern(3, 100));
    const ops = new ScriptedOps([{ map: { offset: 0, length: 1024, type: IOMAP_INLINE, inlineData: inline } }]);
    iomapReadFolio(f, ops);
    // The inline body returns 0: end(0, min(4096, 1024) = 1024, 0) and no further begin.
    assert.deepStrictEqual(ops.trace(), ['begin(0, 4096, 0)', 'end(0, 1024, 0, 0)']);
    assert.ok(Buffer.from(f.data.subarray(0, 100)).equals(Buffer.from(pattern(3, 100))));
    assert.ok(allBytes(f.data.subarray(100), 0));
    assert.strictEqual(f.uptodate, true);
    assert.strictEqual(f.ifs, null, 'inline at folio offset 0 needs no ifs');
  });

  it('INLINE tail after a MAPPED head: ifs created, folio uptodate once both parts are in', () => {
    // [0, 2048) MAPPED, INLINE at 2048, i_size 2148: the inline body copies 100 bytes at 2048.
    const { dev, content } = patternedDevice();
    const inode = bareInode({ blockSize: 1024, folioSize: 4096, size: 2148, newFolioFill: POISON });
    const f = folioAt(inode, 0, 4096);
    const inline = pattern(5, 1024);
    const ops = new ScriptedOps(tableMapper([
      mapped(dev, 0, 2048), { offset: 2048, length: 1024, type: IOMAP_INLINE, inlineData: inline },
    ]));
    iomapReadFolio(f, ops);
    assert.deepStrictEqual(ops.trace(), [
      'begin(0, 4096, 0)', 'end(0, 2048, 2048, 0)', 'begin(2048, 2048, 0)', 'end(2048, 1024, 0, 0)',
    ]);
    assert.ok(Buffer.from(f.data.subarray(0, 2048)).equals(Buffer.from(content.subarray(0, 2048))));
    assert.ok(Buffer.from(f.data.subarray(2048, 2148)).equals(Buffer.from(inline.subarray(0, 100))));
    assert.ok(allBytes(f.data.subarray(2148), 0));
    assert.strictEqual(f.uptodate, true);
  });

  it('INLINE larger than its mapping: WARN, -EIO from the iteration, folio not uptodate', () => {
    const inode = bareInode({ blockSize: 1024, folioSize: 4096, size: 2000 });
    const f = folioAt(inode, 0, 4096);
    const ops = new ScriptedOps([{ map: { offset: 0, length: 1024, type: IOMAP_INLINE, inlineData: new Uint8Array(1024) } }]);
    assert.strictEqual(iomapReadFolio(f, ops), 0, 'read_folio always returns 0');
    assert.strictEqual(f.uptodate, false);
    assert.deepStrictEqual(inode.mapping.warnings, ['inline data size 2000 > iomap length 1024']);
  });
});

describe('iomap_readahead over scripted mappings', () => {
  for (const g of ALL_GEOS) {
    it(`${geoName(g)}: three folios, one mapping -> one begin/end for the whole window; EOF mid-way zero-fills`, () => {
      const { dev, content } = patternedDevice();
      // i_size = 1.5 folios + 100: bytes read = round_up(size, bs); folio 3 is zeroed entirely.
      const size = g.folio + g.folio / 2 + 100;
      const inode = bareInode({ blockSize: g.bs, folioSize: g.folio, size, newFolioFill: POISON });
      const folios = [0, 1, 2].map((i) => folioAt(inode, i * g.folio, g.folio));
      const ops = new ScriptedOps(tableMapper([mapped(dev, 0, 1 << 20)]));
      iomapReadahead(folios, ops);
      const win = 3 * g.folio;
      assert.deepStrictEqual(ops.trace(), [`begin(0, ${win}, 0)`, `end(0, ${win}, ${win}, 0)`]);
      const readLen = roundUp(size, g.bs);
      assert.strictEqual(dev.stats.readBytes, readLen);
      const all = Buffer.concat(folios.map((f) => Buffer.from(f.data)));
      assert.ok(all.subarray(0, readLen).equals(Buffer.from(content.subarray(0, readLen))));
      assert.ok(allBytes(all.subarray(readLen), 0));
      for (const f of folios) assert.strictEqual(f.uptodate, true);
    });
  }

  it('read errors are swallowed: the failing folio simply stays !uptodate', () => {
    const { dev } = patternedDevice();
    const inode = bareInode({ blockSize: 4096, folioSize: 4096, size: 1 << 20 });
    const folios = [0, 1, 2].map((i) => folioAt(inode, i * 4096, 4096));
    dev.failReads(ADDR + 4096, 4096);
    iomapReadahead(folios, new ScriptedOps(tableMapper([mapped(dev, 0, 1 << 20)])));
    assert.deepStrictEqual(folios.map((f) => f.uptodate), [true, false, true]);
  });
});

describe('buffered read through the file API (refs on a FaultDevice)', () => {
  function setup(bs: number, folio: number) {
    const dev = new FaultDevice(new MemoryDevice({ size: 64 << 20 }));
    IomapFs.mkfs(dev, { blockSize: bs, inlineMax: 0 });
    const fsys = IomapFs.mount(dev, { maxFolioSize: folio });
    const fh = fsys.open('f', { create: true });
    const data = pattern(11, 3 * folio);
    assert.strictEqual(fh.pwrite(0, data), data.length);
    fh.fsync();
    fsys.dropCaches();
    const ri = fh.inode.fsPrivate as RefsInode;
    /** Device byte address of file offset `pos` (refs allocated it contiguously or not). */
    const addrOf = (pos: number) => {
      const { ext } = ri.extents.lookup(Math.floor(pos / bs));
      assert.ok(ext && ext.state === 'written');
      return (ext.pblk + Math.floor(pos / bs) - ext.lblk) * bs + (pos % bs);
    };
    return { dev, fsys, fh, data, addrOf };
  }

  for (const g of ALL_GEOS) {
    it(`${geoName(g)}: a device read error -> pread EIO, a short read after good bytes, SIGBUS for mmap; retried once healed`, () => {
      const { dev, fh, data, addrOf } = setup(g.bs, g.folio);
      dev.failReads(addrOf(g.folio), 1); // a block of the second folio
      // pread inside the first folio is unaffected.
      assert.ok(Buffer.from(fh.pread(0, 100)).equals(Buffer.from(data.subarray(0, 100))));
      expectFsError(() => fh.pread(g.folio + 10, 100), 'EIO', 'pread of the bad folio');
      // A read spanning a good and a bad folio returns the good part (short read).
      const short = fh.pread(0, 2 * g.folio);
      assert.strictEqual(short.length, g.folio);
      assert.ok(Buffer.from(short).equals(Buffer.from(data.subarray(0, g.folio))));
      // mmap of the bad page: SIGBUS.
      expectFsError(() => fh.mmapRead(g.folio, 1), 'SIGBUS', 'mmap read of the bad folio');
      // Nothing was cached as uptodate: after the device heals the same read succeeds.
      const failed = dev.stats.failedReads;
      assert.ok(failed >= 3, `each attempt went to the device (${failed})`);
      dev.enabled = false;
      assert.ok(Buffer.from(fh.pread(g.folio, g.folio)).equals(Buffer.from(data.subarray(g.folio, 2 * g.folio))));
      assert.strictEqual(dev.stats.failedReads, failed);
    });
  }
});
