/**
 * fs/iomap/fiemap.c (contract §5.10, §5.11; file-ops §8, §9): iomap_fiemap with fiemap_prep and
 * fiemap_fill_next_extent, and iomap_bmap, over the fake extent-map filesystem and scripted ops,
 * plus fiemap-tester-style checks on random D/H/P block maps.
 */
import * as assert from 'assert';
import {
  FIEMAP_EXTENT_DATA_INLINE, FIEMAP_EXTENT_DELALLOC, FIEMAP_EXTENT_LAST, FIEMAP_EXTENT_MERGED,
  FIEMAP_EXTENT_NOT_ALIGNED, FIEMAP_EXTENT_SHARED, FIEMAP_EXTENT_UNKNOWN, FIEMAP_EXTENT_UNWRITTEN, FIEMAP_FLAG_CACHE,
  FIEMAP_FLAG_SYNC, FIEMAP_FLAG_XATTR, FIEMAP_MAX_OFFSET, FiemapExtent, fiemapInfo, iomapBmap, iomapFiemap,
} from '../reference/iomap/fiemap';
import { IOMAP_DELALLOC, IOMAP_F_MERGED, IOMAP_F_SHARED, IOMAP_HOLE, IOMAP_MAPPED, IOMAP_REPORT, MAX_LFS_FILESIZE } from '../reference/iomap/types';
import { EBADR, EFAULT, EFBIG, EINVAL, EIO, ENOENT } from '../reference/errno';
import { FakeFs, FakeFile, rng } from './support/fake-fs';
import { ScriptedOps } from './support/scripted-ops';

const MiB = 1 << 20;

function mk(bs: number, size: number): FakeFile {
  return new FakeFs({ blockSize: bs }).file({ size });
}

function fiemap(f: FakeFile, start: number, len: number, flags = 0, max = 64, ops = f.ops) {
  const fi = fiemapInfo(flags, max);
  const r = iomapFiemap(f.inode, fi, start, len, ops);
  return { r, fi, ext: fi.extents.map((e) => [e.logical, e.physical, e.length, e.flags]) };
}

describe('iomap fiemap: fiemap_prep', () => {
  it('len 0 is -EINVAL, start at/after s_maxbytes is -EFBIG, no begin', () => {
    const f = mk(4096, 8192);
    assert.strictEqual(fiemap(f, 0, 0).r, -EINVAL);
    assert.strictEqual(fiemap(f, MAX_LFS_FILESIZE, 1).r, -EFBIG);
    assert.deepStrictEqual(f.trace(), []);
  });

  it('any flag but SYNC is -EBADR and fi_flags is overwritten with exactly the offending bits', () => {
    const f = mk(4096, 8192);
    f.set(0, 2, 'mapped');
    let x = fiemap(f, 0, 8192, FIEMAP_FLAG_XATTR);
    assert.strictEqual(x.r, -EBADR);
    assert.strictEqual(x.fi.flags, FIEMAP_FLAG_XATTR);
    // SYNC|XATTR|CACHE|0x100: offending = XATTR|CACHE|0x100 = 0x106.
    x = fiemap(f, 0, 8192, FIEMAP_FLAG_SYNC | FIEMAP_FLAG_XATTR | FIEMAP_FLAG_CACHE | 0x100);
    assert.strictEqual(x.r, -EBADR);
    assert.strictEqual(x.fi.flags, 0x106);
    assert.deepStrictEqual(f.trace(), []);
    x = fiemap(f, 0, 8192, FIEMAP_FLAG_SYNC);
    assert.strictEqual(x.r, 0);
    assert.strictEqual(x.fi.flags, FIEMAP_FLAG_SYNC);
  });

  it('a length beyond s_maxbytes is trimmed: FIEMAP_MAX_OFFSET maps to the end', () => {
    const f = mk(4096, 8192);
    f.set(0, 2, 'mapped');
    const x = fiemap(f, 4096, FIEMAP_MAX_OFFSET);
    assert.strictEqual(x.r, 0);
    // len = s_maxbytes - 4096: the first begin asks for exactly that.
    assert.strictEqual(f.begins()[0].length, MAX_LFS_FILESIZE - 4096);
    assert.strictEqual(f.begins()[0].flags, IOMAP_REPORT);
  });

  it('SYNC writes back delalloc first: the extent is then allocated, without SYNC it is DELALLOC|UNKNOWN at 0', () => {
    const f = mk(4096, 8192);
    f.set(0, 2, 'delalloc');
    f.cache(0, 8192, { dirty: true });
    let x = fiemap(f, 0, 8192);
    assert.deepStrictEqual(x.ext, [[0, 0, 8192, FIEMAP_EXTENT_DELALLOC | FIEMAP_EXTENT_UNKNOWN | FIEMAP_EXTENT_LAST]]);
    x = fiemap(f, 0, 8192, FIEMAP_FLAG_SYNC);
    assert.deepStrictEqual(x.ext, [[0, f.blocks.get(0)!.addr, 8192, FIEMAP_EXTENT_LAST]]);
    assert.ok(f.blocks.get(0)!.addr >= MiB);
  });

  it('a SYNC flush error is returned', () => {
    const f = mk(4096, 8192);
    f.set(0, 2, 'delalloc');
    f.cache(0, 8192, { dirty: true });
    f.inode.mapping.writepages = () => -EIO;
    assert.strictEqual(fiemap(f, 0, 8192, FIEMAP_FLAG_SYNC).r, -EIO);
  });
});

describe('iomap fiemap: extents', () => {
  it('type and flag translation, holes skipped, LAST on the last, one step late', () => {
    // [0,4K) MAPPED at 1M, [4K,8K) hole, [8K,12K) UNWRITTEN|SHARED at 2M, [12K,16K) DELALLOC,
    // [16K, 20K) MAPPED|MERGED at 3M, then INLINE [20K, +700).
    const inline = new Uint8Array(1024);
    const ops = new ScriptedOps([
      { map: { offset: 0, length: 4096, type: IOMAP_MAPPED, addr: MiB } },
      { map: { offset: 4096, length: 4096, type: IOMAP_HOLE } },
      { map: { offset: 8192, length: 4096, type: 3, addr: 2 * MiB, flags: IOMAP_F_SHARED } },
      { map: { offset: 12288, length: 4096, type: IOMAP_DELALLOC } },
      { map: { offset: 16384, length: 4096, type: IOMAP_MAPPED, addr: 3 * MiB, flags: IOMAP_F_MERGED } },
      { map: { offset: 20480, length: 700, type: 4, inlineData: inline } },
    ]);
    const f = mk(4096, 21180);
    const x = fiemap(f, 0, 21180, 0, 64, ops);
    assert.strictEqual(x.r, 0);
    assert.deepStrictEqual(x.ext, [
      [0, MiB, 4096, 0],
      [8192, 2 * MiB, 4096, FIEMAP_EXTENT_UNWRITTEN | FIEMAP_EXTENT_SHARED],
      [12288, 0, 4096, FIEMAP_EXTENT_DELALLOC | FIEMAP_EXTENT_UNKNOWN],
      [16384, 3 * MiB, 4096, FIEMAP_EXTENT_MERGED],
      [20480, 0, 700, FIEMAP_EXTENT_DATA_INLINE | FIEMAP_EXTENT_NOT_ALIGNED | FIEMAP_EXTENT_LAST],
    ]);
    assert.strictEqual(x.fi.mapped, 5);
  });

  it('mappings are reported verbatim, not trimmed to the request', () => {
    // fiemap(8192, 4096) over one mapping [0, 16384): reported as logical 0, length 16384.
    const ops = new ScriptedOps([{ map: { offset: 0, length: 16384, type: IOMAP_MAPPED, addr: MiB } }]);
    const f = mk(4096, 16384);
    assert.deepStrictEqual(fiemap(f, 8192, 4096, 0, 64, ops).ext, [[0, MiB, 16384, FIEMAP_EXTENT_LAST]]);
    assert.deepStrictEqual(ops.trace(), ['begin(8192, 4096, REPORT)', 'end(8192, 4096, 4096, REPORT)']);
  });

  it('LAST marks the last extent of the REQUESTED range, even when more data follows', () => {
    const f = mk(4096, 16384);
    const a = f.set(0, 1, 'mapped');
    f.set(2, 1, 'mapped');
    assert.deepStrictEqual(fiemap(f, 0, 4096).ext, [[0, a, 4096, FIEMAP_EXTENT_LAST]]);
  });

  it('a full extent array stops the walk; the last stored extent has no LAST', () => {
    // Extents A [0,4K), B [8K,12K), C [16K,20K), D [24K, 28K) with holes between; max 2.
    // Begins: A, hole, B, hole, C -- storing B (C's one-step-late emission) fills the array, so
    // the walk stops there and D is never looked up. The pending C then finds the array full.
    const f = mk(4096, 28672);
    const a = f.set(0, 1, 'mapped');
    const b = f.set(2, 1, 'mapped');
    f.set(4, 1, 'mapped');
    f.set(6, 1, 'mapped');
    const x = fiemap(f, 0, 28672, 0, 2);
    assert.strictEqual(x.r, 0);
    assert.deepStrictEqual(x.ext, [[0, a, 4096, 0], [8192, b, 4096, 0]]);
    assert.strictEqual(x.fi.mapped, 2);
    assert.strictEqual(f.begins().length, 5);
  });

  it('count-only mode (fm_extent_count 0) counts every extent and copies nothing', () => {
    const f = mk(4096, 20480);
    f.set(0, 1, 'mapped');
    f.set(2, 1, 'unwritten');
    f.set(4, 1, 'mapped');
    const x = fiemap(f, 0, 20480, 0, 0);
    assert.strictEqual(x.r, 0);
    assert.strictEqual(x.fi.mapped, 3);
    assert.deepStrictEqual(x.ext, []);
  });

  it('-ENOENT from begin ends the walk successfully (the pending extent still gets LAST)', () => {
    const f = mk(4096, 16384);
    const a = f.set(0, 1, 'mapped');
    f.beginHook = (pos) => (pos >= 4096 ? -ENOENT : undefined);
    const x = fiemap(f, 0, 16384);
    assert.strictEqual(x.r, 0);
    assert.deepStrictEqual(x.ext, [[0, a, 4096, FIEMAP_EXTENT_LAST]]);
    const g = mk(4096, 16384);
    g.beginHook = () => -ENOENT;
    const y = fiemap(g, 0, 16384);
    assert.strictEqual(y.r, 0);
    assert.deepStrictEqual(y.ext, []);
  });

  it('other begin errors: returned when nothing is pending, swallowed (kernel ordering) when an extent is', () => {
    const g = mk(4096, 16384);
    g.beginHook = () => -EIO;
    assert.strictEqual(fiemap(g, 0, 16384).r, -EIO);
    const f = mk(4096, 16384);
    const a = f.set(0, 1, 'mapped');
    f.beginHook = (pos) => (pos >= 4096 ? -EIO : undefined);
    const x = fiemap(f, 0, 16384);
    assert.strictEqual(x.r, 0);
    assert.deepStrictEqual(x.ext, [[0, a, 4096, FIEMAP_EXTENT_LAST]]);
  });

  it('a fault copying an extent out is -EFAULT', () => {
    const f = mk(4096, 16384);
    f.set(0, 1, 'mapped');
    f.set(2, 1, 'mapped');
    const fi = fiemapInfo(0, 8);
    fi.faultAtExtent = 1;
    assert.strictEqual(iomapFiemap(f.inode, fi, 0, 16384, f.ops), -EFAULT);
    assert.strictEqual(fi.extents.length, 1);
  });
});

describe('iomap fiemap: fiemap-tester style random block maps', () => {
  for (const bs of [512, 1024, 4096]) {
    for (const sync of [false, true]) {
      it(`bs=${bs}${sync ? ' SYNC' : ''}: 40 seeds of random D/H/P maps (+ delalloc W), exact extents and tester invariants`, () => {
        for (let seed = 1; seed <= 40; seed++) {
          const r = rng(seed * 131 + bs + (sync ? 7 : 0));
          const nblk = 16 + Math.floor(r() * 48);
          const map: string[] = [];
          for (let b = 0; b < nblk; b++) map.push('DHPW'[Math.floor(r() * 4)]);
          const f = mk(bs, nblk * bs);
          // Physical allocation: runs of D (or P) are contiguous unless the PRNG breaks them.
          let next = 16 * MiB; // away from the fake allocator (1 MiB up), used by SYNC writeback
          for (let b = 0; b < nblk; b++) {
            const c = map[b];
            if (c === 'H') continue;
            if (c === 'W') {
              f.set(b, 1, 'delalloc');
              f.cache(b * bs, bs, { dirty: true });
              continue;
            }
            if (r() < 0.25) next += bs * (1 + Math.floor(r() * 4));
            f.set(b, 1, c === 'D' ? 'mapped' : 'unwritten', { addr: next });
            next += bs;
          }
          // fm_extent_count = 0 first, then exactly that many.
          const count = fiemap(f, 0, nblk * bs, sync ? FIEMAP_FLAG_SYNC : 0, 0).fi.mapped;
          const x = fiemap(f, 0, nblk * bs, sync ? FIEMAP_FLAG_SYNC : 0, count);
          assert.strictEqual(x.r, 0);
          const ext: FiemapExtent[] = x.fi.extents;
          assert.strictEqual(ext.length, count, `seed ${seed}: count-only run agrees`);
          // Expected: maximal runs of one kind whose physical addresses continue each other (the
          // fake also keeps blocks with uncommitted metadata, i.e. just allocated by writeback,
          // apart from committed ones).
          const expect: Array<[number, number, number, number]> = [];
          for (let b = 0; b < nblk;) {
            const blk = f.blocks.get(b);
            if (!blk) { b++; continue; }
            let e = b + 1;
            while (e < nblk) {
              const nb = f.blocks.get(e);
              if (!nb || nb.kind !== blk.kind || !!nb.dirty !== !!blk.dirty) break;
              if (blk.kind !== 'delalloc' && nb.addr !== blk.addr + (e - b) * bs) break;
              e++;
            }
            const flags = blk.kind === 'unwritten' ? FIEMAP_EXTENT_UNWRITTEN
              : blk.kind === 'delalloc' ? FIEMAP_EXTENT_DELALLOC | FIEMAP_EXTENT_UNKNOWN : 0;
            expect.push([b * bs, blk.kind === 'delalloc' ? 0 : blk.addr, (e - b) * bs, flags]);
            b = e;
          }
          if (expect.length) expect[expect.length - 1][3] |= FIEMAP_EXTENT_LAST;
          assert.deepStrictEqual(x.ext, expect, `seed ${seed} map ${map.join('')}`);
          // fiemap-tester checks, independently of the expected list.
          for (let i = 0; i < ext.length; i++) {
            const e = ext[i];
            if (i) assert.ok(e.logical >= ext[i - 1].logical + ext[i - 1].length, 'sorted, no overlap');
            assert.strictEqual(!!(e.flags & FIEMAP_EXTENT_LAST), i === ext.length - 1, 'LAST only on the last');
            if (e.flags & FIEMAP_EXTENT_DELALLOC) assert.ok(e.flags & FIEMAP_EXTENT_UNKNOWN, 'DELALLOC implies UNKNOWN');
            const unaligned = e.physical % bs !== 0 || e.length % bs !== 0 || e.logical % bs !== 0;
            assert.strictEqual(!!(e.flags & FIEMAP_EXTENT_NOT_ALIGNED), unaligned, 'NOT_ALIGNED iff unaligned');
          }
          const find = (b: number): FiemapExtent | undefined => ext.find((e) => e.logical <= b * bs && b * bs < e.logical + e.length);
          for (let b = 0; b < nblk; b++) {
            const e = find(b);
            const c = map[b];
            if (c === 'H') assert.strictEqual(e, undefined, `seed ${seed}: hole block ${b} in no extent`);
            if (c === 'D') assert.ok(e && !(e.flags & (FIEMAP_EXTENT_UNWRITTEN | FIEMAP_EXTENT_DELALLOC)), `seed ${seed}: data block ${b}`);
            if (c === 'P') assert.ok(e && e.flags & FIEMAP_EXTENT_UNWRITTEN, `seed ${seed}: prealloc block ${b} UNWRITTEN`);
            if (c === 'W') {
              assert.ok(e, `seed ${seed}: written block ${b} in an extent`);
              assert.strictEqual(!!(e.flags & FIEMAP_EXTENT_DELALLOC), !sync, `seed ${seed}: block ${b} DELALLOC iff not SYNC`);
            }
          }
        }
      });
    }
  }
});

describe('iomap bmap', () => {
  for (const bs of [512, 1024, 4096]) {
    it(`bs=${bs}: MAPPED gives (addr + pos - offset) / bs, every other type gives 0`, () => {
      // Blocks 0-3 mapped at 1 MiB: bmap(2) = (1048576 + 2·bs) / bs = 1048576/bs + 2.
      const f = mk(bs, 16 * bs);
      f.set(0, 4, 'mapped', { addr: MiB });
      f.set(4, 1, 'unwritten');
      f.set(5, 1, 'delalloc');
      assert.strictEqual(iomapBmap(f.inode, 2, f.ops), MiB / bs + 2);
      assert.strictEqual(iomapBmap(f.inode, 4, f.ops), 0);
      assert.strictEqual(iomapBmap(f.inode, 5, f.ops), 0);
      assert.strictEqual(iomapBmap(f.inode, 9, f.ops), 0);
      // One REPORT lookup of [bno·bs, +bs) per call.
      assert.deepStrictEqual(f.trace().slice(0, 2), [`begin(${2 * bs}, ${bs}, REPORT)`, `end(${2 * bs}, ${bs}, 0, REPORT)`]);
    });
  }

  it('flushes first (delalloc gets a block), 0 on flush failure, on begin errors and on end errors', () => {
    const f = mk(4096, 8192);
    f.set(0, 2, 'delalloc');
    f.cache(0, 8192, { dirty: true });
    const bn = iomapBmap(f.inode, 1, f.ops);
    assert.strictEqual(bn, f.blocks.get(1)!.addr / 4096);
    assert.ok(bn > 0);
    const g = mk(4096, 8192);
    g.set(0, 2, 'mapped');
    g.cache(0, 4096, { dirty: true });
    g.inode.mapping.writepages = () => -EIO;
    assert.strictEqual(iomapBmap(g.inode, 0, g.ops), 0);
    const h = mk(4096, 8192);
    h.set(0, 2, 'mapped');
    h.beginHook = () => -EIO;
    assert.strictEqual(iomapBmap(h.inode, 0, h.ops), 0);
    // The body leaves processed at 0, so an ->iomap_end error is the iterator's result -> 0.
    const k = mk(4096, 8192);
    k.set(0, 2, 'mapped');
    k.endHook = () => -EIO;
    assert.strictEqual(iomapBmap(k.inode, 0, k.ops), 0);
  });

  it('an address that is not block aligned is truncated through the sector arithmetic', () => {
    // addr 1 MiB + 1536 for bs 4096: sector (1048576 + 1536) / 512 = 2051, >> 3 = 256.
    const f = mk(4096, 8192);
    const ops = new ScriptedOps([{ map: { offset: 0, length: 8192, type: IOMAP_MAPPED, addr: MiB + 1536 } }]);
    assert.strictEqual(iomapBmap(f.inode, 0, ops), 256);
  });
});
