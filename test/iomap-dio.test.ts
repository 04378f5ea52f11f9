/**
 * fs/iomap/direct-io.c (contract §5.7 + Errata §5.7): iomap_dio_rw driven by the fake extent-map
 * filesystem (test/support/fake-fs.ts) and by scripted ops tables. Every expected value is worked
 * out by hand in the comment next to it. The fake allocator hands out device space from 1 MiB
 * (1048576) upwards, so "block k of the first allocation" lives at 1048576 + k·bs.
 */
import * as assert from 'assert';
import {
  BIO_MAX_VECS, DioBio, IOCB_DSYNC, IOCB_NOWAIT, IOCB_SYNC, IOMAP_DIO_COW, IOMAP_DIO_FORCE_WAIT,
  IOMAP_DIO_OVERWRITE_ONLY, IOMAP_DIO_PARTIAL, IOMAP_DIO_UNWRITTEN, IOMAP_DIO_WRITE, Kiocb, __iomapDioRw, dioConfig,
  dioIter, iomapDioBioEndIo, iomapDioComplete, iomapDioRw, setBdevLimits,
} from '../reference/iomap/direct-io';
import {
  IOMAP_DELALLOC, IOMAP_DIRECT, IOMAP_F_NEW, IOMAP_F_SHARED, IOMAP_HOLE, IOMAP_MAPPED,
  IOMAP_NOWAIT, IOMAP_OVERWRITE_ONLY, IOMAP_UNWRITTEN, IOMAP_WRITE, PAGE_SIZE,
} from '../reference/iomap/types';
import { IovIter } from '../reference/iomap/uio';
import { MemoryDevice } from '../reference/device/memory';
import { FaultDevice } from '../reference/device/fault';
import {
  EAGAIN, EFAULT, EINVAL, EIO, EIOCBQUEUED, ENOSPC, ENOTBLK,
} from '../reference/errno';
import { FakeFileOptions, FakeFs, FakeFile, RecordingDevice } from './support/fake-fs';
import { ScriptedOps, pattern, allBytes } from './support/scripted-ops';

const MiB = 1 << 20;

interface Setup {
  fs: FakeFs;
  f: FakeFile;
  rec: RecordingDevice;
  fault: FaultDevice;
}

function setup(bs: number, o: FakeFileOptions & { sector?: number; folio?: number } = {}): Setup {
  const fault = new FaultDevice(new MemoryDevice({ size: 64 * MiB, sectorSize: o.sector ?? 512 }));
  const rec = new RecordingDevice(fault);
  const fs = new FakeFs({ blockSize: bs, dev: rec, folioSize: o.folio });
  const f = fs.file(o);
  return { fs, f, rec, fault };
}

interface IoOpts {
  flags?: number;
  dioFlags?: number;
  doneBefore?: number;
  faultAt?: number;
  addr?: number;
  complete?: (iocb: Kiocb, res: number) => void;
  fsync?: Kiocb['fsync'];
  ops?: ScriptedOps;
}

function dioRead(f: FakeFile, pos: number, len: number, o: IoOpts = {}) {
  const buf = new Uint8Array(len).fill(0xaa);
  const iov = new IovIter(buf, o.faultAt);
  const iocb: Kiocb = { pos, flags: o.flags ?? 0, complete: o.complete, fsync: o.fsync };
  const r = iomapDioRw(iocb, dioIter(iov, 'read', o.addr ?? 0), f.inode, o.ops ?? f.ops, f.dops, o.dioFlags ?? 0, undefined, o.doneBefore ?? 0);
  return { r, buf, iov, iocb };
}

function dioWrite(f: FakeFile, pos: number, data: Uint8Array, o: IoOpts = {}) {
  const iov = new IovIter(data, o.faultAt);
  const iocb: Kiocb = { pos, flags: o.flags ?? 0, complete: o.complete, fsync: o.fsync };
  const r = iomapDioRw(iocb, dioIter(iov, 'write', o.addr ?? 0), f.inode, o.ops ?? f.ops, f.dops, o.dioFlags ?? 0, undefined, o.doneBefore ?? 0);
  return { r, iov, iocb };
}

/** Device writes relative to a base address: [off, len, fua]. */
function writesFrom(rec: RecordingDevice, base: number): Array<[number, number, boolean]> {
  return rec.writes().map(([o, l, fua]) => [o - base, l, fua]);
}

describe('iomap direct I/O: setup checks (§5.7)', () => {
  it('len 0 returns 0 with no ->iomap_begin, for reads and writes', () => {
    const { f } = setup(4096, { size: 8192 });
    f.set(0, 2, 'mapped');
    assert.strictEqual(dioRead(f, 0, 0).r, 0);
    assert.strictEqual(dioWrite(f, 4096, new Uint8Array(0)).r, 0);
    assert.deepStrictEqual(f.trace(), []);
  });

  it('reads at or after the i_size snapshot return 0 before any alignment check or begin', () => {
    // size 5000: pos 5000 (== size) and pos 5003 len 3 (misaligned, would be EINVAL) both give 0.
    const { f } = setup(4096, { size: 5000 });
    f.set(0, 2, 'mapped');
    assert.strictEqual(dioRead(f, 5000, 4096).r, 0);
    assert.strictEqual(dioRead(f, 5003, 3).r, 0);
    assert.strictEqual(dioRead(f, 5000, 4096, { doneBefore: 100 }).r, 0, 'done_before is not added to 0');
    assert.deepStrictEqual(f.trace(), []);
  });

  it('OVERWRITE_ONLY: -EAGAIN before any begin when pos >= i_size or pos+len > i_size, else the flag reaches begin', () => {
    const { f } = setup(4096, { size: 8192 });
    f.set(0, 2, 'mapped');
    // pos 8192 >= size 8192.
    assert.strictEqual(dioWrite(f, 8192, new Uint8Array(4096), { dioFlags: IOMAP_DIO_OVERWRITE_ONLY }).r, -EAGAIN);
    // 4096 + 8192 = 12288 > 8192.
    assert.strictEqual(dioWrite(f, 4096, new Uint8Array(8192), { dioFlags: IOMAP_DIO_OVERWRITE_ONLY }).r, -EAGAIN);
    assert.deepStrictEqual(f.trace(), []);
    // [0, 8192) is inside: begin sees WRITE|DIRECT|OVERWRITE_ONLY; the fake maps both blocks as one MAPPED extent.
    assert.strictEqual(dioWrite(f, 0, pattern(1, 8192), { dioFlags: IOMAP_DIO_OVERWRITE_ONLY }).r, 8192);
    assert.strictEqual(f.begins()[0].flags, IOMAP_WRITE | IOMAP_DIRECT | IOMAP_OVERWRITE_ONLY);
    // The filesystem's own -EAGAIN (an unaligned write into UNWRITTEN would need zeroing) is the result.
    const g = setup(4096, { size: 8192 }).f;
    g.set(0, 2, 'unwritten');
    assert.strictEqual(dioWrite(g, 512, new Uint8Array(512), { dioFlags: IOMAP_DIO_OVERWRITE_ONLY }).r, -EAGAIN);
    assert.deepStrictEqual(g.trace(), ['begin(512, 512, WRITE|DIRECT|OVERWRITE_ONLY)']);
  });

  it('reads flush dirty page cache first (delalloc written back, then read from disk); NOWAIT gives -EAGAIN instead', () => {
    const { f } = setup(4096, { size: 8192 });
    f.set(0, 2, 'delalloc');
    const data = pattern(7, 8192);
    f.cache(0, 8192, { dirty: true, data });
    // NOWAIT: filemap_range_needs_writeback() is true -> -EAGAIN, no begin, still dirty.
    assert.strictEqual(dioRead(f, 0, 8192, { flags: IOCB_NOWAIT }).r, -EAGAIN);
    assert.deepStrictEqual(f.trace(), []);
    assert.strictEqual(f.inode.mapping.folioAt(0)!.dirty, true);
    // Blocking: writeback allocates the delalloc blocks (map_blocks) and writes them; the read sees the data.
    const { r, buf } = dioRead(f, 0, 8192);
    assert.strictEqual(r, 8192);
    assert.deepStrictEqual(buf, data);
    assert.strictEqual(f.blocks.get(0)!.kind, 'mapped');
    assert.strictEqual(f.inode.mapping.folioAt(0)!.dirty, false);
  });

  it('NOWAIT read with only clean cache proceeds and passes IOMAP_NOWAIT to begin', () => {
    const { f } = setup(4096, { size: 4096 });
    f.set(0, 1, 'mapped');
    f.writeDevice(0, pattern(3, 4096));
    f.cache(0, 4096);
    const { r, buf } = dioRead(f, 0, 4096, { flags: IOCB_NOWAIT });
    assert.strictEqual(r, 4096);
    assert.deepStrictEqual(buf, pattern(3, 4096));
    assert.strictEqual(f.begins()[0].flags, IOMAP_DIRECT | IOMAP_NOWAIT);
  });

  it('writes invalidate cached folios in the range before the I/O; NOWAIT with any cached folio is -EAGAIN', () => {
    const { f } = setup(4096, { size: 16384, folio: 16384 });
    f.set(0, 4, 'mapped');
    f.cache(0, 16384); // one clean 16 KiB folio over [0, 16384)
    assert.strictEqual(f.inode.mapping.nrFolios, 1);
    // NOWAIT: filemap_range_has_page() over [4096, 8191] finds the folio -> -EAGAIN, nothing begun.
    assert.strictEqual(dioWrite(f, 4096, pattern(1, 4096), { flags: IOCB_NOWAIT }).r, -EAGAIN);
    assert.deepStrictEqual(f.trace(), []);
    assert.strictEqual(f.inode.mapping.nrFolios, 1);
    // Blocking: the whole large folio overlapping page 1 is invalidated, then the write goes out.
    assert.strictEqual(dioWrite(f, 4096, pattern(1, 4096)).r, 4096);
    assert.strictEqual(f.inode.mapping.nrFolios, 0);
    assert.deepStrictEqual(f.readDisk(4096, 4096), pattern(1, 4096));
  });

  it('a dirty folio that writeback cannot clean makes the write return -ENOTBLK with nothing done', () => {
    const { f, rec } = setup(4096, { size: 8192 });
    f.set(0, 2, 'mapped');
    f.cache(0, 4096, { dirty: true, data: pattern(2, 4096) });
    f.inode.mapping.writepages = null; // no ->writepages: the flush leaves the folio dirty
    rec.log.length = 0;
    // invalidate_inode_pages2_range() fails (-EBUSY) -> -ENOTBLK (fall back to buffered).
    assert.strictEqual(dioWrite(f, 0, pattern(1, 8192)).r, -ENOTBLK);
    assert.deepStrictEqual(f.trace(), []);
    assert.deepStrictEqual(rec.writes(), []);
  });

  it('a flush error before a write is also -ENOTBLK; before a read it is returned as is', () => {
    const { f } = setup(4096, { size: 8192 });
    f.set(0, 2, 'mapped');
    f.cache(0, 4096, { dirty: true, data: pattern(2, 4096) });
    f.inode.mapping.writepages = () => -EIO;
    assert.strictEqual(dioWrite(f, 0, pattern(1, 4096)).r, -ENOTBLK);
    assert.strictEqual(dioRead(f, 0, 4096).r, -EIO);
    assert.deepStrictEqual(f.trace(), []);
  });

  it('reads are clipped to the i_size snapshot even if i_size grows during the I/O; the iov is wound back', () => {
    // size 6000, read 8192 at 0 over two mapped blocks: 8192 bytes are read from disk, the result
    // is 6000 - 0 = 6000 and the iov is reverted by 8192 - 6000 = 2192 to offset 6000.
    const { f } = setup(4096, { size: 6000 });
    f.set(0, 2, 'mapped');
    f.writeDevice(0, pattern(4, 8192));
    f.beginHook = () => { f.inode.size = 8192; return undefined; };
    const { r, buf, iov } = dioRead(f, 0, 8192);
    assert.strictEqual(r, 6000);
    assert.strictEqual(iov.off, 6000);
    assert.deepStrictEqual(buf.subarray(0, 6000), pattern(4, 8192).subarray(0, 6000));
  });
});

describe('iomap direct I/O: mapping types', () => {
  it('HOLE read zero-fills the user buffer; no device I/O', () => {
    const { f, rec } = setup(4096, { size: 8192 });
    const { r, buf } = dioRead(f, 0, 8192);
    assert.strictEqual(r, 8192);
    assert.ok(allBytes(buf, 0));
    assert.deepStrictEqual(rec.log, []);
  });

  it('HOLE read into an unfaultable buffer is -EFAULT', () => {
    const { f } = setup(4096, { size: 8192 });
    assert.strictEqual(dioRead(f, 0, 8192, { faultAt: 0 }).r, -EFAULT);
  });

  it('HOLE for a write is a WARN and -EIO', () => {
    const { f } = setup(4096, { size: 8192, allocOnWrite: 'none' });
    assert.strictEqual(dioWrite(f, 0, pattern(1, 4096)).r, -EIO);
    assert.ok(f.inode.mapping.warnings.some((w) => w.includes('HOLE')));
  });

  it('UNWRITTEN read is a hole (zeroes, no device read) even if the device holds data', () => {
    const { f, rec } = setup(4096, { size: 4096 });
    f.set(0, 1, 'unwritten');
    f.writeDevice(0, pattern(9, 4096));
    rec.log.length = 0;
    const { r, buf } = dioRead(f, 0, 4096);
    assert.strictEqual(r, 4096);
    assert.ok(allBytes(buf, 0));
    assert.deepStrictEqual(rec.log, []);
  });

  it('UNWRITTEN write: end_io gets IOMAP_DIO_UNWRITTEN and converts; the data reads back', () => {
    const { f } = setup(4096, { size: 8192 });
    f.set(0, 2, 'unwritten');
    assert.strictEqual(dioWrite(f, 0, pattern(5, 8192)).r, 8192);
    assert.strictEqual(f.endIos.length, 1);
    assert.strictEqual(f.endIos[0].flags & (IOMAP_DIO_UNWRITTEN | IOMAP_DIO_COW), IOMAP_DIO_UNWRITTEN);
    assert.strictEqual(f.endIos[0].flags & IOMAP_DIO_WRITE, IOMAP_DIO_WRITE);
    assert.strictEqual(f.blocks.get(1)!.kind, 'mapped');
    assert.deepStrictEqual(dioRead(f, 0, 8192).buf, pattern(5, 8192));
  });

  it('DELALLOC (a page_mkwrite race) is -EIO with the "collision with buffered writes" warning', () => {
    const { f } = setup(4096, { size: 4096, allocOnWrite: 'none' });
    f.set(0, 1, 'delalloc');
    assert.strictEqual(dioRead(f, 0, 4096).r, -EIO);
    assert.ok(f.inode.mapping.warnings.some((w) => w.includes('collision with buffered writes')));
  });

  it('INLINE read copies the inline bytes; the result is clipped at i_size', () => {
    // Inline area of 1024 bytes holding 700 bytes of data (size 700). A 512-aligned read of 1024
    // copies iomap_length = 1024 bytes; completion clips to 700 - 0 = 700.
    const inline = new Uint8Array(1024);
    inline.set(pattern(6, 700));
    const { f } = setup(4096, { size: 700, inline });
    const { r, buf } = dioRead(f, 0, 1024);
    assert.strictEqual(r, 700);
    assert.deepStrictEqual(buf.subarray(0, 700), pattern(6, 700));
  });

  it('INLINE write past EOF zero-fills the gap, raises i_size and dirties the inode', () => {
    // size 100, write 200 bytes at 300: bytes [100, 300) are zeroed, i_size = 300 + 200 = 500.
    const inline = new Uint8Array(1024).fill(0xee);
    const { f } = setup(4096, { size: 100, inline });
    f.endIoReturn = 0; // an ->end_io that does not touch i_size: the core raised it
    const { r } = dioWrite(f, 300, pattern(8, 200));
    assert.strictEqual(r, 200);
    assert.strictEqual(f.inode.size, 500);
    assert.ok(allBytes(inline.subarray(100, 300), 0));
    assert.deepStrictEqual(inline.subarray(300, 500), pattern(8, 200));
    assert.strictEqual(inline[500], 0xee, 'bytes past the write are untouched');
    assert.strictEqual(f.inode.mapping.inodeDirty, true);
  });

  it('INLINE crossing a page is a WARN and -EIO', () => {
    const inline = new Uint8Array(8192);
    const { f } = setup(4096, { size: 100, inline });
    assert.strictEqual(dioRead(f, 0, 512).r, -EIO);
    assert.ok(f.inode.mapping.warnings.some((w) => w.includes('invalid inline')));
  });
});

describe('iomap direct I/O: alignment (-EINVAL)', () => {
  it('pos and length must be multiples of the logical block size, not of the fs block size', () => {
    // bs 4096 on a 512-byte-sector device: [512, +512) is fine; pos 100 or len 100 is -EINVAL.
    const { f } = setup(4096, { size: 8192 });
    f.set(0, 2, 'mapped');
    assert.strictEqual(dioRead(f, 512, 512).r, 512);
    assert.strictEqual(dioRead(f, 100, 512).r, -EINVAL);
    assert.strictEqual(dioRead(f, 512, 100).r, -EINVAL);
    // On a 4096-sector device [512, +512) is misaligned.
    const g = setup(4096, { size: 8192, sector: 4096 }).f;
    g.set(0, 2, 'mapped');
    assert.strictEqual(dioRead(g, 512, 512).r, -EINVAL);
    assert.strictEqual(dioRead(g, 4096, 4096).r, 4096);
  });

  it('user buffer address must meet the DMA alignment (512 by default, 4 after setBdevLimits)', () => {
    const { f, rec } = setup(4096, { size: 4096 });
    f.set(0, 1, 'mapped');
    assert.strictEqual(dioRead(f, 0, 4096, { addr: 4 }).r, -EINVAL);
    setBdevLimits(rec, { dmaAlignment: 4 });
    assert.strictEqual(dioRead(f, 0, 4096, { addr: 4 }).r, 4096);
    assert.strictEqual(dioRead(f, 0, 4096, { addr: 2 }).r, -EINVAL);
  });

  it('a mapping that ends off the lbs grid fails with -EINVAL after earlier bios were already submitted', () => {
    // Mapping 1 [0, 4096) MAPPED at 1 MiB: one 4096-byte bio goes out. Mapping 2 [4096, 4796):
    // curLen = min(4096, 4796 - 4096) = 700, 700 % 512 != 0 -> -EINVAL; the call returns -EINVAL
    // but block 0 was written.
    const { f, rec } = setup(4096, { size: 8192 });
    const ops = new ScriptedOps([
      { map: { offset: 0, length: 4096, type: IOMAP_MAPPED, addr: MiB, bdev: rec } },
      { map: { offset: 4096, length: 700, type: IOMAP_MAPPED, addr: MiB + 4096, bdev: rec } },
    ]);
    const { r } = dioWrite(f, 0, pattern(3, 8192), { ops });
    assert.strictEqual(r, -EINVAL);
    assert.deepStrictEqual(writesFrom(rec, MiB), [[0, 4096, false]]);
    assert.deepStrictEqual(ops.trace(), [
      'begin(0, 8192, WRITE|DIRECT)', 'end(0, 4096, 4096, WRITE|DIRECT)',
      'begin(4096, 4096, WRITE|DIRECT)', 'end(4096, 700, 0, WRITE|DIRECT)',
    ]);
  });

  it('the remaining iov count must be lbs-aligned at every mapping (bdev_iter_is_aligned)', () => {
    // 4196 bytes at 0 with one-block mappings: the first mapping [0, 4096) is itself aligned, but
    // the remaining count 4196 % 512 != 0 -> -EINVAL before any bio.
    const { f, rec } = setup(4096, { size: 8192, maxMapBlocks: 1 });
    f.set(0, 2, 'mapped');
    rec.log.length = 0;
    assert.strictEqual(dioWrite(f, 0, pattern(1, 4196)).r, -EINVAL);
    assert.deepStrictEqual(rec.log, []);
    assert.strictEqual(f.begins().length, 1);
  });
});

describe('iomap direct I/O: sub-block zeroing', () => {
  for (const bs of [1024, 4096]) {
    it(`bs=${bs}: write [bs/2 - 512, +512) into a new block zeroes head and tail`, () => {
      // pos = bs/2 - 512 (512-aligned), len 512. Head zero [0, pos), data [pos, pos+512), tail
      // zero [pos+512, bs). bs=1024: pos 0 -> no head, tail [512, 1024). bs=4096: pos 1536,
      // head [0, 1536), tail [2048, 4096).
      const { f, rec, fs } = setup(bs, { size: 0 });
      const base = fs.nextAlloc;
      rec.inner.write(base, new Uint8Array(bs).fill(0xee)); // stale garbage where the block will land
      rec.log.length = 0;
      const pos = bs / 2 - 512;
      const { r } = dioWrite(f, pos, pattern(2, 512));
      assert.strictEqual(r, 512);
      const expect: Array<[number, number, boolean]> = [];
      if (pos) expect.push([0, pos, false]);
      expect.push([pos, 512, false]);
      expect.push([pos + 512, bs - pos - 512, false]);
      assert.deepStrictEqual(writesFrom(rec, base), expect);
      const blk = f.rawBlock(0);
      assert.ok(allBytes(blk.subarray(0, pos), 0));
      assert.deepStrictEqual(blk.subarray(pos, pos + 512), pattern(2, 512));
      assert.ok(allBytes(blk.subarray(pos + 512), 0));
      assert.strictEqual(f.inode.size, pos + 512, 'end_io raised i_size');
    });
  }

  it('UNWRITTEN destination (not new) is zeroed around the write too', () => {
    // bs 4096, unwritten block 0, write [1024, +1024): head [0,1024), tail [2048, 4096).
    const { f, rec } = setup(4096, { size: 4096 });
    const base = f.set(0, 1, 'unwritten');
    rec.inner.write(base, new Uint8Array(4096).fill(0xee));
    rec.log.length = 0;
    assert.strictEqual(dioWrite(f, 1024, pattern(2, 1024)).r, 1024);
    assert.deepStrictEqual(writesFrom(rec, base), [[0, 1024, false], [1024, 1024, false], [2048, 2048, false]]);
    assert.deepStrictEqual(f.readDisk(0, 4096).subarray(0, 1024), new Uint8Array(1024));
  });

  it('MAPPED overwrite inside i_size: no zeroing, neighbouring bytes survive', () => {
    const { f, rec } = setup(4096, { size: 4096 });
    const base = f.set(0, 1, 'mapped');
    f.writeDevice(0, new Uint8Array(4096).fill(0x11));
    rec.log.length = 0;
    assert.strictEqual(dioWrite(f, 1024, pattern(2, 1024)).r, 1024);
    assert.deepStrictEqual(writesFrom(rec, base), [[1024, 1024, false]]);
    assert.ok(allBytes(f.readDisk(0, 1024), 0x11));
    assert.ok(allBytes(f.readDisk(2048, 2048), 0x11));
  });

  it('MAPPED write ending at/after i_size zeroes only the tail of its last block', () => {
    // size 2560, write [1536, 2560): end 2560 >= size 2560 -> tail zero [2560, 4096); no head.
    const { f, rec } = setup(4096, { size: 2560 });
    const base = f.set(0, 1, 'mapped');
    f.writeDevice(0, new Uint8Array(4096).fill(0x11));
    rec.log.length = 0;
    assert.strictEqual(dioWrite(f, 1536, pattern(2, 1024)).r, 1024);
    assert.deepStrictEqual(writesFrom(rec, base), [[1536, 1024, false], [2560, 1536, false]]);
  });

  it('the EOF test uses the LIVE i_size, not the snapshot', () => {
    // Snapshot size 10000; the filesystem shrinks i_size to 2560 inside begin. The write ends at
    // 2560 >= live 2560 -> tail zeroing [2560, 4096) although 2560 < snapshot 10000.
    const { f, rec } = setup(4096, { size: 10000 });
    const base = f.set(0, 3, 'mapped');
    f.beginHook = () => { f.inode.size = 2560; return undefined; };
    rec.log.length = 0;
    assert.strictEqual(dioWrite(f, 1536, pattern(2, 1024)).r, 1024);
    assert.deepStrictEqual(writesFrom(rec, base), [[1536, 1024, false], [2560, 1536, false]]);
  });

  it('bs=512: every 512-aligned write covers whole blocks, no zeroing bios', () => {
    const { f, rec } = setup(512, { size: 0 });
    assert.strictEqual(dioWrite(f, 512, pattern(2, 1024)).r, 1024);
    assert.strictEqual(rec.writes().length, 1);
  });

  it('bs=1024 on a 512 device: a sub-block write at 512 zeroes [0, 512) only (the write ends on the block end)', () => {
    const { f, rec, fs } = setup(1024, { size: 0 });
    const base = fs.nextAlloc;
    assert.strictEqual(dioWrite(f, 512, pattern(2, 512)).r, 512);
    assert.deepStrictEqual(writesFrom(rec, base), [[0, 512, false], [512, 512, false]]);
  });

  it('6.12 quirk: a READ over a MAPPED mapping carrying F_NEW issues zeroing write bios (switchable)', () => {
    // Read [1024, 2048) of a 4096 block marked F_NEW: zero bios [0, 1024) and [2048, 4096).
    for (const quirk of [true, false]) {
      const { f, rec } = setup(4096, { size: 4096 });
      const ops = new ScriptedOps([{ map: { offset: 0, length: 4096, type: IOMAP_MAPPED, addr: MiB, flags: IOMAP_F_NEW, bdev: rec } }]);
      dioConfig.zeroNewOnRead = quirk;
      try {
        assert.strictEqual(dioRead(f, 1024, 1024, { ops }).r, 1024);
      } finally {
        dioConfig.zeroNewOnRead = true;
      }
      assert.deepStrictEqual(writesFrom(rec, MiB), quirk ? [[0, 1024, false], [2048, 2048, false]] : []);
    }
  });
});

describe('iomap direct I/O: flags, FUA and sync', () => {
  it('F_SHARED: the write goes to the COW blocks, end_io gets IOMAP_DIO_COW and remaps', () => {
    const { f } = setup(4096, { size: 8192 });
    const old = f.set(0, 2, 'mapped', { shared: true });
    f.writeDevice(0, new Uint8Array(8192).fill(0x22));
    assert.strictEqual(dioWrite(f, 0, pattern(3, 8192)).r, 8192);
    assert.strictEqual(f.endIos[0].flags & IOMAP_DIO_COW, IOMAP_DIO_COW);
    assert.strictEqual(f.ends()[0].map.flags & IOMAP_F_SHARED, IOMAP_F_SHARED);
    assert.notStrictEqual(f.blocks.get(0)!.addr, old, 'remapped to the COW destination');
    assert.deepStrictEqual(f.readDisk(0, 8192), pattern(3, 8192));
    // The old shared blocks still hold the old data.
    const buf = new Uint8Array(8192);
    f.fs.dev.read(old, buf);
    assert.ok(allBytes(buf, 0x22));
  });

  const fsyncLog: Array<[number, number, boolean]> = [];
  const fsync = (s: number, e: number, d: boolean): number => { fsyncLog.push([s, e, d]); return 0; };

  it('O_DSYNC pure overwrite (MAPPED, not NEW/SHARED/DIRTY) goes out FUA and skips the sync', () => {
    const { f, rec } = setup(4096, { size: 8192 });
    const base = f.set(0, 2, 'mapped');
    fsyncLog.length = 0;
    rec.log.length = 0;
    assert.strictEqual(dioWrite(f, 0, pattern(1, 8192), { flags: IOCB_DSYNC, fsync }).r, 8192);
    assert.deepStrictEqual(writesFrom(rec, base), [[0, 8192, true]]);
    assert.deepStrictEqual(fsyncLog, []);
  });

  it('O_SYNC (DSYNC|SYNC) never uses FUA and syncs everything (datasync = false)', () => {
    const { f, rec } = setup(4096, { size: 8192 });
    const base = f.set(0, 2, 'mapped');
    fsyncLog.length = 0;
    rec.log.length = 0;
    const { r, iocb } = dioWrite(f, 4096, pattern(1, 4096), { flags: IOCB_DSYNC | IOCB_SYNC, fsync });
    assert.strictEqual(r, 4096);
    assert.deepStrictEqual(writesFrom(rec, base), [[4096, 4096, false]]);
    // generic_write_sync(iocb, 4096) after ki_pos = 8192: range [8192 - 4096, 8191].
    assert.deepStrictEqual(fsyncLog, [[4096, 8191, false]]);
    assert.strictEqual(iocb.pos, 8192);
  });

  it('O_DSYNC into new, dirty-metadata or unwritten blocks is not FUA and syncs (datasync)', () => {
    for (const kind of ['new', 'dirty', 'unwritten'] as const) {
      const { f, rec } = setup(4096, { size: 8192 });
      if (kind === 'dirty') f.set(0, 2, 'mapped', { dirty: true });
      if (kind === 'unwritten') f.set(0, 2, 'unwritten');
      fsyncLog.length = 0;
      rec.log.length = 0;
      assert.strictEqual(dioWrite(f, 0, pattern(1, 8192), { flags: IOCB_DSYNC, fsync }).r, 8192, kind);
      assert.ok(rec.writes().every(([, , fua]) => !fua), `${kind}: no FUA`);
      assert.deepStrictEqual(fsyncLog, [[0, 8191, true]], kind);
    }
  });

  it('FUA needs a FUA-capable device or one without a volatile cache', () => {
    const cases: Array<[{ fua: boolean; writeCache: boolean }, boolean]> = [
      [{ fua: false, writeCache: true }, false],
      [{ fua: false, writeCache: false }, true],
      [{ fua: true, writeCache: true }, true],
    ];
    for (const [lim, fua] of cases) {
      const { f, rec } = setup(4096, { size: 4096 });
      f.set(0, 1, 'mapped');
      setBdevLimits(rec, lim);
      fsyncLog.length = 0;
      rec.log.length = 0;
      dioWrite(f, 0, pattern(1, 4096), { flags: IOCB_DSYNC, fsync });
      assert.strictEqual(rec.writes()[0][2], fua, JSON.stringify(lim));
      assert.strictEqual(fsyncLog.length, fua ? 0 : 1, JSON.stringify(lim));
    }
  });

  it('one non-FUA data bio (a later new block) cancels write-through for the whole dio: sync still runs', () => {
    // Block 0 mapped (FUA-able), block 1 a hole -> allocated F_NEW. Bios: [0,4096) FUA, [4096, 8192) not.
    const { f, rec } = setup(4096, { size: 8192 });
    const base = f.set(0, 1, 'mapped');
    fsyncLog.length = 0;
    rec.log.length = 0;
    assert.strictEqual(dioWrite(f, 0, pattern(1, 8192), { flags: IOCB_DSYNC, fsync }).r, 8192);
    assert.deepStrictEqual(rec.writes().map(([, , fua]) => fua), [true, false]);
    assert.strictEqual(rec.writes()[0][0], base);
    assert.deepStrictEqual(fsyncLog, [[0, 8191, true]]);
  });

  it('a failing sync replaces the byte count, but ki_pos has already moved', () => {
    const { f } = setup(4096, { size: 4096 });
    f.set(0, 1, 'mapped', { dirty: true });
    const { r, iocb } = dioWrite(f, 0, pattern(1, 4096), { flags: IOCB_DSYNC, fsync: () => -EIO, doneBefore: 4096 });
    assert.strictEqual(r, -EIO, 'and done_before is not added to the error');
    assert.strictEqual(iocb.pos, 4096);
  });

  it('done_before is added to a positive result only; ki_pos moves by this call\'s bytes', () => {
    const { f } = setup(4096, { size: 8192 });
    f.set(0, 2, 'mapped');
    const { r, iocb } = dioWrite(f, 4096, pattern(1, 4096), { doneBefore: 4096 });
    assert.strictEqual(r, 8192);
    assert.strictEqual(iocb.pos, 8192);
  });
});

describe('iomap direct I/O: errors and partial results', () => {
  it('-EFAULT part way: PARTIAL turns it into a short success (plus done_before), without PARTIAL it is -EFAULT', () => {
    // 16384-byte write over one mapped extent [0, 16384); the buffer faults from byte 8192 (page
    // 2). Bio 1 pins 8192 bytes; the next pin fails -> processed 8192; the next mapping's first
    // pin fails at once -> -EFAULT. PARTIAL: 8192 (+ done_before 100 = 8292). Without: -EFAULT.
    for (const partial of [true, false]) {
      const { f } = setup(4096, { size: 16384 });
      f.set(0, 4, 'mapped');
      const { r, iocb } = dioWrite(f, 0, pattern(1, 16384), {
        faultAt: 8192, dioFlags: partial ? IOMAP_DIO_PARTIAL : 0, doneBefore: 100,
      });
      assert.strictEqual(r, partial ? 8292 : -EFAULT);
      assert.strictEqual(iocb.pos, partial ? 8192 : 0);
      assert.deepStrictEqual(f.readDisk(0, 8192), pattern(1, 16384).subarray(0, 8192), 'first half hit the disk either way');
    }
  });

  it('user pages are pinned whole: a fault in the middle of a page makes that whole page unpinnable', () => {
    // 8192-byte write from user address 0, buffer faulting at byte 6000 (inside page 1): only
    // page 0 pins -> bio [0, 4096), then -EFAULT; PARTIAL -> 4096 (not 6000 rounded to 5632).
    const { f } = setup(4096, { size: 8192 });
    f.set(0, 2, 'mapped');
    assert.strictEqual(dioWrite(f, 0, pattern(1, 8192), { faultAt: 6000, dioFlags: IOMAP_DIO_PARTIAL }).r, 4096);
  });

  it('pinning failure still zeroes the tail of a new block, and that success hides the -EFAULT', () => {
    // bs 4096, block 0 a hole inside i_size 4096, write [0, 4096) from user address 2048 with the
    // buffer faulting at offset 2048 (address 4096 = page 1): 2048 bytes pin. Mapping 1 (new
    // block, F_NEW): bio [0, 2048), the next pin fails, zero_tail [2048, 4096) succeeds and
    // replaces ret -> processed 2048. Mapping 2 [2048, 4096) of the now allocated block (not new,
    // 2048 < i_size 4096 so no tail zeroing): the pin fails -> -EFAULT is the result.
    const { f, rec, fs } = setup(4096, { size: 4096 });
    const base = fs.nextAlloc;
    const { r } = dioWrite(f, 0, pattern(1, 4096), { faultAt: 2048, addr: 2048 });
    assert.strictEqual(r, -EFAULT);
    assert.deepStrictEqual(writesFrom(rec, base), [[0, 2048, false], [2048, 2048, false]]);
    // The same write with i_size 0: mapping 2 also ends at/after the live i_size (0), so its tail
    // is zeroed again, that zeroing's success hides the second -EFAULT too, and the call returns
    // 2048 (a short write) without IOMAP_DIO_PARTIAL.
    const g = setup(4096, { size: 0 });
    const gbase = g.fs.nextAlloc;
    assert.strictEqual(dioWrite(g.f, 0, pattern(1, 4096), { faultAt: 2048, addr: 2048 }).r, 2048);
    assert.deepStrictEqual(writesFrom(g.rec, gbase), [[0, 2048, false], [2048, 2048, false], [2048, 2048, false]]);
    assert.strictEqual(g.f.inode.size, 2048, 'end_io sized the file to the bytes written');
  });

  it('-ENOTBLK from a later begin: short success of what was done; an async kiocb is waited for', () => {
    const { f } = setup(4096, { size: 8192, maxMapBlocks: 1 });
    f.set(0, 2, 'mapped');
    f.beginHook = (pos) => (pos === 4096 ? -ENOTBLK : undefined);
    const completed: number[] = [];
    const { r } = dioWrite(f, 0, pattern(1, 8192), { complete: (_i, res) => completed.push(res) });
    assert.strictEqual(r, 4096);
    assert.deepStrictEqual(completed, [], 'completed inline, ki_complete not used');
    assert.strictEqual(f.inode.mapping.queue.pending.length, 0);
  });

  it('-ENOTBLK from the first begin returns 0 (nothing done, caller falls back)', () => {
    const { f } = setup(4096, { size: 8192 });
    f.beginHook = () => -ENOTBLK;
    assert.strictEqual(dioWrite(f, 0, pattern(1, 4096)).r, 0);
  });

  it('-ENOTBLK from ->iomap_end of a mapping that did nothing: short success', () => {
    // Mapping 2 ends exactly at pos 4096 (rule 1 violation): curLen 0, the body does nothing,
    // ->iomap_end(4096, 0, 0) returns -ENOTBLK -> the call reports the 4096 bytes of mapping 1.
    const { f, rec } = setup(4096, { size: 8192 });
    const ops = new ScriptedOps([
      { map: { offset: 0, length: 4096, type: IOMAP_MAPPED, addr: MiB, bdev: rec } },
      { map: { offset: 0, length: 4096, type: IOMAP_MAPPED, addr: MiB, bdev: rec } },
    ]);
    ops.endReturns = [0, -ENOTBLK];
    assert.strictEqual(dioWrite(f, 0, pattern(1, 8192), { ops }).r, 4096);
    assert.deepStrictEqual(ops.trace().slice(2), ['begin(4096, 4096, WRITE|DIRECT)', 'end(4096, 0, 0, WRITE|DIRECT)']);
  });

  it('an ->iomap_end error after progress is dropped', () => {
    const { f } = setup(4096, { size: 8192 });
    f.set(0, 2, 'mapped');
    f.endHook = () => -ENOSPC;
    assert.strictEqual(dioWrite(f, 0, pattern(1, 8192)).r, 8192);
  });

  it('NOWAIT -EAGAIN after bios were submitted: the whole call is -EAGAIN although data reached the disk', () => {
    // Block 0 mapped, block 1 a hole. nowaitWholeRange off so the first mapping is accepted; the
    // second needs allocation -> -EAGAIN (first error wins).
    const { f } = setup(4096, { size: 8192, nowaitWholeRange: false });
    f.set(0, 1, 'mapped');
    assert.strictEqual(dioWrite(f, 0, pattern(1, 8192), { flags: IOCB_NOWAIT }).r, -EAGAIN);
    assert.deepStrictEqual(f.readDisk(0, 4096), pattern(1, 8192).subarray(0, 4096));
    assert.strictEqual(f.endIos[0].error, -EAGAIN);
  });

  it('NOWAIT with a filesystem that cannot map the whole range in one go fails early with -EAGAIN', () => {
    const { f, rec } = setup(4096, { size: 8192, maxMapBlocks: 1 });
    f.set(0, 2, 'mapped');
    rec.log.length = 0;
    assert.strictEqual(dioWrite(f, 0, pattern(1, 8192), { flags: IOCB_NOWAIT }).r, -EAGAIN);
    assert.deepStrictEqual(rec.writes(), []);
  });

  it('a begin error after progress is the result (bytes are lost)', () => {
    const { f } = setup(4096, { size: 8192, maxMapBlocks: 1 });
    f.set(0, 2, 'mapped');
    f.beginHook = (pos) => (pos === 4096 ? -ENOSPC : undefined);
    assert.strictEqual(dioWrite(f, 0, pattern(1, 8192)).r, -ENOSPC);
  });

  it('a device error is -EIO; ->end_io returning 0 turns it into the byte count', () => {
    for (const override of [null, 0]) {
      const { f, fault } = setup(4096, { size: 8192 });
      const base = f.set(0, 2, 'mapped');
      fault.failWrites(base + 4096, 512);
      f.endIoReturn = override;
      const { r } = dioWrite(f, 0, pattern(1, 8192));
      assert.strictEqual(r, override === null ? -EIO : 8192);
      assert.strictEqual(f.endIos[0].error, -EIO);
      assert.strictEqual(f.endIos[0].size, 8192);
    }
  });

  it('an error result never includes done_before', () => {
    const { f, fault } = setup(4096, { size: 4096 });
    const base = f.set(0, 1, 'mapped');
    fault.failWrites(base, 512);
    assert.strictEqual(dioWrite(f, 0, pattern(1, 4096), { doneBefore: 8192 }).r, -EIO);
  });

  it('no post-write invalidation when the dio failed: a folio cached during the I/O stays', () => {
    const { f, fault } = setup(4096, { size: 4096 });
    const base = f.set(0, 1, 'mapped');
    fault.failWrites(base, 512);
    assert.strictEqual(dioWrite(f, 0, pattern(1, 4096), { complete: () => undefined }).r, -EIOCBQUEUED);
    f.cache(0, 4096);
    f.inode.mapping.queue.drain();
    assert.strictEqual(f.inode.mapping.nrFolios, 1);
  });

  it('->end_io can also fail a successful dio', () => {
    const { f } = setup(4096, { size: 4096 });
    f.set(0, 1, 'mapped');
    f.endIoReturn = -ENOSPC;
    assert.strictEqual(dioWrite(f, 0, pattern(1, 4096)).r, -ENOSPC);
  });

  it('a device read error is -EIO', () => {
    const { f, fault } = setup(4096, { size: 4096 });
    const base = f.set(0, 1, 'mapped');
    fault.failReads(base, 4096);
    assert.strictEqual(dioRead(f, 0, 4096).r, -EIO);
  });
});

describe('iomap direct I/O: asynchronous completion', () => {
  it('async write returns -EIOCBQUEUED; bios complete in any order; end_io and ki_complete run at the last one', () => {
    // 3 mapped blocks as 3 mappings (maxMapBlocks 1) -> 3 bios.
    const { f } = setup(4096, { size: 12288, maxMapBlocks: 1 });
    f.set(0, 3, 'mapped');
    const results: number[] = [];
    const { r, iocb } = dioWrite(f, 0, pattern(4, 12288), { complete: (_i, res) => results.push(res) });
    assert.strictEqual(r, -EIOCBQUEUED);
    const q = f.inode.mapping.queue;
    assert.strictEqual(q.pending.length, 3);
    assert.deepStrictEqual(f.readDisk(0, 4096), new Uint8Array(4096), 'nothing on disk yet');
    q.completeAt(2);
    q.completeAt(0);
    assert.deepStrictEqual(f.endIos, []);
    assert.deepStrictEqual(results, []);
    q.completeAt(0);
    assert.strictEqual(f.endIos.length, 1);
    assert.deepStrictEqual(results, [12288]);
    assert.strictEqual(iocb.pos, 12288);
    assert.deepStrictEqual(f.readDisk(0, 12288), pattern(4, 12288));
  });

  it('async read: the user buffer is filled only when the bios complete', () => {
    const { f } = setup(4096, { size: 8192 });
    f.set(0, 2, 'mapped');
    f.writeDevice(0, pattern(5, 8192));
    const results: number[] = [];
    const { r, buf } = dioRead(f, 0, 8192, { complete: (_i, res) => results.push(res) });
    assert.strictEqual(r, -EIOCBQUEUED);
    assert.ok(allBytes(buf, 0xaa));
    f.inode.mapping.queue.drain();
    assert.deepStrictEqual(buf, pattern(5, 8192));
    assert.deepStrictEqual(results, [8192]);
  });

  it('FORCE_WAIT makes an async kiocb synchronous', () => {
    const { f } = setup(4096, { size: 8192 });
    f.set(0, 2, 'mapped');
    const results: number[] = [];
    const { r } = dioWrite(f, 0, pattern(5, 8192), { dioFlags: IOMAP_DIO_FORCE_WAIT, complete: (_i, res) => results.push(res) });
    assert.strictEqual(r, 8192);
    assert.deepStrictEqual(results, []);
  });

  it('async with every bio already completed during submission completes inline', () => {
    // ->submit_io completes each bio at once (status 0 after doing the transfer itself).
    const { f } = setup(4096, { size: 8192 });
    f.set(0, 2, 'mapped');
    const seen: DioBio[] = [];
    f.dops.submitIo = (_it, bio) => {
      seen.push(bio);
      bio.bdev.write(bio.sector * 512, bio.data!);
      iomapDioBioEndIo(bio);
    };
    const results: number[] = [];
    const { r } = dioWrite(f, 0, pattern(6, 8192), { complete: (_i, res) => results.push(res) });
    assert.strictEqual(r, 8192);
    assert.deepStrictEqual(results, []);
    assert.strictEqual(seen.length, 1);
    assert.deepStrictEqual(f.readDisk(0, 8192), pattern(6, 8192));
  });

  it('a bio failing during submission stops the rest: the next mapping submits nothing', () => {
    // ->submit_io fails the first bio at once (dio->error = -EIO); the second mapping's loop sees
    // dio->error before building a bio and reports 0 -> the iteration ends; end_io sees -EIO.
    const { f } = setup(4096, { size: 8192, maxMapBlocks: 1 });
    f.set(0, 2, 'mapped');
    let k = 0;
    f.dops.submitIo = (_it, bio) => {
      k++;
      bio.status = -EIO;
      iomapDioBioEndIo(bio);
    };
    assert.strictEqual(dioWrite(f, 0, pattern(1, 8192)).r, -EIO);
    assert.strictEqual(k, 1);
    assert.deepStrictEqual(f.endIos.map((e) => [e.size, e.error]), [[4096, -EIO]]);
  });

  it('first error wins across completions: the first bio to complete with an error decides', () => {
    // Two bios held by ->submit_io; bio 2 completes first with -ENOSPC, then bio 1 with -EIO.
    const { f } = setup(4096, { size: 8192, maxMapBlocks: 1 });
    f.set(0, 2, 'mapped');
    const held: DioBio[] = [];
    f.dops.submitIo = (_it, bio) => { held.push(bio); };
    const results: number[] = [];
    assert.strictEqual(dioWrite(f, 0, pattern(1, 8192), { complete: (_i, res) => results.push(res) }).r, -EIOCBQUEUED);
    assert.strictEqual(held.length, 2);
    held[1].status = -ENOSPC;
    iomapDioBioEndIo(held[1]);
    held[0].status = -EIO;
    iomapDioBioEndIo(held[0]);
    assert.deepStrictEqual(results, [-ENOSPC]);
    assert.strictEqual(f.endIos[0].error, -ENOSPC);
  });

  it('a ->submit_io that loses a bio hangs a synchronous dio (detected, rule 37)', () => {
    const { f } = setup(4096, { size: 4096 });
    f.set(0, 1, 'mapped');
    f.dops.submitIo = () => undefined;
    assert.throws(() => dioWrite(f, 0, pattern(1, 4096)), /hangs/);
  });

  it('post-write invalidation runs after end_io; a folio that cannot be invalidated records -EIO in wb_err only', () => {
    const { f } = setup(4096, { size: 8192 });
    f.set(0, 2, 'mapped');
    const results: number[] = [];
    const { r } = dioWrite(f, 0, pattern(1, 8192), { complete: (_i, res) => results.push(res) });
    assert.strictEqual(r, -EIOCBQUEUED);
    // Between submission and completion, someone caches and dirties page 1 (mmap store, say).
    f.cache(4096, 4096, { dirty: true, data: pattern(9, 4096) });
    let foliosAtEndIo = -1;
    const endIo = f.dops.endIo!;
    f.dops.endIo = (iocb, size, error, flags) => {
      foliosAtEndIo = f.inode.mapping.nrFolios;
      return endIo(iocb, size, error, flags);
    };
    const seq = f.inode.mapping.wbErr.seq;
    f.inode.mapping.writepages = null;
    f.inode.mapping.queue.drain();
    assert.strictEqual(foliosAtEndIo, 1, 'the folio was still cached when end_io ran');
    assert.deepStrictEqual(results, [8192], 'the write still succeeds');
    assert.strictEqual(f.inode.mapping.wbErr.seq, seq + 1);
    assert.strictEqual(f.inode.mapping.wbErr.errno, EIO);
    assert.ok(f.inode.mapping.warnings.some((w) => w.includes('invalidation failed')));
  });

  it('post-write invalidation removes clean folios cached during the I/O', () => {
    const { f } = setup(4096, { size: 8192 });
    f.set(0, 2, 'mapped');
    dioWrite(f, 0, pattern(1, 8192), { complete: () => undefined });
    f.cache(0, 4096);
    f.inode.mapping.queue.drain();
    assert.strictEqual(f.inode.mapping.nrFolios, 0);
  });

  it('__iomap_dio_rw + iomap_dio_complete: the caller completes the dio itself', () => {
    const { f } = setup(4096, { size: 4096 });
    f.set(0, 1, 'mapped');
    const iocb: Kiocb = { pos: 0, flags: 0 };
    const dio = __iomapDioRw(iocb, dioIter(new IovIter(pattern(2, 4096)), 'write'), f.inode, f.ops, f.dops);
    assert.ok(typeof dio !== 'number');
    assert.deepStrictEqual(f.endIos, [], 'end_io runs only in iomap_dio_complete');
    assert.strictEqual(iomapDioComplete(dio), 4096);
    assert.strictEqual(f.endIos.length, 1);
  });
});

describe('iomap direct I/O: geometries', () => {
  for (const bs of [512, 1024, 4096]) {
    for (const folio of [4096, 16384, 65536]) {
      it(`bs=${bs} folio=${folio / 1024}K: write/read round trip over mixed extents, cache invalidated`, () => {
        // File of 64 KiB: blocks of the first 16 KiB mapped, next 16 KiB unwritten, then a hole
        // (allocated by the write), 4 blocks per mapping. A clean cached folio at 0 is dropped by
        // the write; the data reads back through DIO and from disk.
        const size = 65536;
        const { f, rec } = setup(bs, { size, folio, maxMapBlocks: 4 });
        const per = 16384 / bs;
        f.set(0, per, 'mapped');
        f.set(per, per, 'unwritten');
        f.cache(0, Math.min(folio, 16384));
        const data = pattern(bs + folio, size);
        const w = dioWrite(f, 0, data);
        assert.strictEqual(w.r, size);
        assert.strictEqual(f.inode.mapping.nrFolios, 0);
        assert.deepStrictEqual(f.readDisk(0, size), data);
        // Mappings of at most 4 blocks: 65536 / (4·bs) begins.
        assert.strictEqual(f.begins().length, size / (4 * bs));
        // One bio per mapping (each is far below BIO_MAX_VECS pages).
        assert.strictEqual(rec.writes().length, size / (4 * bs));
        assert.ok(4 * bs <= BIO_MAX_VECS * PAGE_SIZE);
        const rd = dioRead(f, 0, size);
        assert.strictEqual(rd.r, size);
        assert.deepStrictEqual(rd.buf, data);
      });
    }
  }

  it('large I/O is split into bios of BIO_MAX_VECS pages (1 MiB from a page-aligned buffer, less from an unaligned one)', () => {
    // 2 MiB + 4096 from user address 0: bios of 1048576, 1048576, 4096.
    // From user address 512: the first bio spans 256 pages starting mid-page: 256·4096 - 512 = 1048064.
    const { f, rec } = setup(4096, { size: 4 * MiB });
    f.set(0, 1024, 'mapped');
    const len = 2 * MiB + 4096;
    assert.strictEqual(dioWrite(f, 0, pattern(1, len)).r, len);
    assert.deepStrictEqual(rec.writes().map(([, l]) => l), [1048576, 1048576, 4096]);
    rec.log.length = 0;
    assert.strictEqual(dioWrite(f, 0, pattern(1, len), { addr: 512 }).r, len);
    assert.deepStrictEqual(rec.writes().map(([, l]) => l), [1048064, 1048576, len - 1048064 - 1048576]);
  });

  it('scripted: each mapping type maps to the documented per-mapping behaviour in one read', () => {
    // [0,4096) HOLE, [4096,8192) UNWRITTEN, [8192,12288) MAPPED (device holds 0x33), then
    // [12288, 16384) DELALLOC: -EIO, although 12288 bytes were handled (first error wins).
    const { f, rec } = setup(4096, { size: 16384 });
    rec.inner.write(MiB, new Uint8Array(4096).fill(0x33));
    const ops = new ScriptedOps([
      { map: { offset: 0, length: 4096, type: IOMAP_HOLE } },
      { map: { offset: 4096, length: 4096, type: IOMAP_UNWRITTEN, addr: MiB, bdev: rec } },
      { map: { offset: 8192, length: 4096, type: IOMAP_MAPPED, addr: MiB, bdev: rec } },
      { map: { offset: 12288, length: 4096, type: IOMAP_DELALLOC } },
    ]);
    const { r, buf } = dioRead(f, 0, 16384, { ops });
    assert.strictEqual(r, -EIO);
    assert.ok(allBytes(buf.subarray(0, 8192), 0));
    assert.ok(allBytes(buf.subarray(8192, 12288), 0x33));
    assert.ok(allBytes(buf.subarray(12288), 0xaa));
  });
});
