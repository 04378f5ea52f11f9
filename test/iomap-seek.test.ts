/**
 * fs/iomap/seek.c (contract §5.9 + Errata §5.9) over the fake extent-map filesystem, following the
 * cases of xfstests src/seek_sanity_test.c: plain hole/data layouts, unwritten extents whose page
 * cache holds only dirty pages / only written-back pages / both, data-hole-data inside one folio,
 * offsets past 2^32 on sparse files, negative offsets, and random layouts against a per-block
 * oracle for every block size × folio size.
 */
import * as assert from 'assert';
import { iomapSeekData, iomapSeekHole } from '../reference/iomap/seek';
import { IOMAP_REPORT } from '../reference/iomap/types';
import { EIO, ENXIO } from '../reference/errno';
import { FakeFs, FakeFile, rng } from './support/fake-fs';
import { ALL_GEOS, geoName } from './support/scripted-ops';

function mk(bs: number, size: number, folio = 4096): FakeFile {
  return new FakeFs({ blockSize: bs, folioSize: folio }).file({ size });
}

const data = (f: FakeFile, p: number): number => iomapSeekData(f.inode, p, f.ops);
const hole = (f: FakeFile, p: number): number => iomapSeekHole(f.inode, p, f.ops);

/** Run writeback of the whole file and complete it (ioend completion converts unwritten). */
function writeback(f: FakeFile): void {
  f.inode.mapping.writepages!({ syncMode: 'all', rangeStart: 0, rangeEnd: Number.MAX_SAFE_INTEGER });
  f.inode.mapping.queue.waitInode(f.inode);
}

describe('iomap seek: argument checks', () => {
  it('empty file: both are -ENXIO and the filesystem is never asked', () => {
    const f = mk(4096, 0);
    assert.strictEqual(data(f, 0), -ENXIO);
    assert.strictEqual(hole(f, 0), -ENXIO);
    assert.deepStrictEqual(f.trace(), []);
  });

  it('negative offsets and offsets at/after i_size are -ENXIO without a begin', () => {
    const f = mk(4096, 10000);
    f.set(0, 3, 'mapped');
    for (const p of [-1, -4096, -(2 ** 40), 10000, 10001, 2 ** 40]) {
      assert.strictEqual(data(f, p), -ENXIO, `SEEK_DATA ${p}`);
      assert.strictEqual(hole(f, p), -ENXIO, `SEEK_HOLE ${p}`);
    }
    assert.deepStrictEqual(f.trace(), []);
  });

  it('the lookup is REPORT over [pos, i_size)', () => {
    const f = mk(4096, 10000);
    f.set(0, 3, 'mapped');
    assert.strictEqual(hole(f, 100), 10000);
    // One mapping [0, 12288) covers [100, 10000): curLen = 9900, consumed whole, len -> 0.
    assert.deepStrictEqual(f.trace(), ['begin(100, 9900, REPORT)', 'end(100, 9900, 9900, REPORT)']);
    assert.strictEqual(f.begins()[0].flags, IOMAP_REPORT);
  });

  it('a begin error is returned', () => {
    const f = mk(4096, 10000);
    f.beginHook = () => -EIO;
    assert.strictEqual(data(f, 0), -EIO);
    assert.strictEqual(hole(f, 0), -EIO);
  });
});

describe('iomap seek: hole/data layouts (seek_sanity_test 2-6, 19-21)', () => {
  for (const bs of [512, 1024, 4096]) {
    it(`bs=${bs}: tiny file fully written: data at 0, the only hole is i_size`, () => {
      const f = mk(bs, 100);
      f.set(0, 1, 'mapped');
      assert.strictEqual(data(f, 0), 0);
      assert.strictEqual(data(f, 99), 99);
      assert.strictEqual(hole(f, 0), 100);
      assert.strictEqual(hole(f, 99), 100);
      assert.strictEqual(data(f, 100), -ENXIO);
    });

    it(`bs=${bs}: data then hole: hole at 4·bs, no data after it`, () => {
      const f = mk(bs, 16 * bs);
      f.set(0, 4, 'mapped');
      assert.strictEqual(hole(f, 0), 4 * bs);
      assert.strictEqual(data(f, 4 * bs - 1), 4 * bs - 1);
      assert.strictEqual(data(f, 4 * bs), -ENXIO);
      assert.strictEqual(hole(f, 4 * bs + 3), 4 * bs + 3);
    });

    it(`bs=${bs}: hole then data: data at 4·bs, hole at 0 and at i_size`, () => {
      const f = mk(bs, 8 * bs);
      f.set(4, 4, 'mapped');
      assert.strictEqual(data(f, 0), 4 * bs);
      assert.strictEqual(hole(f, 0), 0);
      assert.strictEqual(hole(f, 4 * bs), 8 * bs);
      assert.strictEqual(data(f, 5 * bs + 7), 5 * bs + 7);
    });

    it(`bs=${bs}: hole-data-hole-data with a partial EOF block`, () => {
      // Blocks: H H D D H H D D(partial: size = 7·bs + 10).
      const size = 7 * bs + 10;
      const f = mk(bs, size);
      f.set(2, 2, 'mapped');
      f.set(6, 2, 'mapped');
      assert.strictEqual(data(f, 0), 2 * bs);
      assert.strictEqual(hole(f, 2 * bs), 4 * bs);
      assert.strictEqual(data(f, 4 * bs), 6 * bs);
      assert.strictEqual(hole(f, 6 * bs), size);
      assert.strictEqual(data(f, size - 1), size - 1);
    });

    it(`bs=${bs}: SEEK_HOLE finds a punched hole; SEEK_DATA skips it`, () => {
      const f = mk(bs, 16 * bs);
      f.set(0, 16, 'mapped');
      f.punch(4, 4);
      assert.strictEqual(hole(f, 0), 4 * bs);
      assert.strictEqual(hole(f, 5 * bs), 5 * bs);
      assert.strictEqual(data(f, 4 * bs), 8 * bs);
    });
  }

  it('SEEK_DATA from the middle of a large and of a huge hole', () => {
    // 1 GiB hole then one block; and a 2^40-byte hole then one block.
    for (const at of [2 ** 30, 2 ** 40]) {
      const f = mk(4096, at + 4096);
      f.set(at / 4096, 1, 'mapped');
      assert.strictEqual(data(f, 12345), at);
      assert.strictEqual(data(f, at / 2), at);
      assert.strictEqual(hole(f, at / 2), at / 2);
    }
  });

  it('DELALLOC and INLINE count as data (a 1-byte delalloc file; a 700-byte inline file)', () => {
    const f = mk(4096, 1);
    f.set(0, 1, 'delalloc');
    assert.strictEqual(data(f, 0), 0);
    assert.strictEqual(hole(f, 0), 1);
    const g = new FakeFs({ blockSize: 4096 }).file({ size: 700, inline: new Uint8Array(1024) });
    assert.strictEqual(data(g, 0), 0);
    assert.strictEqual(data(g, 699), 699);
    assert.strictEqual(hole(g, 0), 700);
  });
});

describe('iomap seek: unwritten extents and the page cache (seek_sanity_test 7-14)', () => {
  for (const g of ALL_GEOS) {
    const { bs, folio } = g;
    it(`${geoName(g)}: only dirty pages over an unwritten extent are data`, () => {
      // Unwritten blocks [0, 64); dirty cache over blocks [4, 6).
      const f = mk(bs, 64 * bs, folio);
      f.set(0, 64, 'unwritten');
      f.cache(4 * bs, 2 * bs, { dirty: true, data: new Uint8Array(2 * bs).fill(7) });
      assert.strictEqual(data(f, 0), 4 * bs);
      assert.strictEqual(hole(f, 0), 0);
      assert.strictEqual(hole(f, 4 * bs), 6 * bs);
      assert.strictEqual(hole(f, 5 * bs + 1), 6 * bs);
      assert.strictEqual(data(f, 6 * bs), -ENXIO);
    });

    it(`${geoName(g)}: only written-back pages: the extent was converted, data with or without cache`, () => {
      const f = mk(bs, 64 * bs, folio);
      f.set(0, 64, 'unwritten');
      f.cache(8 * bs, 3 * bs, { dirty: true, data: new Uint8Array(3 * bs).fill(7) });
      writeback(f);
      // Unwritten conversion at ioend completion: blocks [8, 11) are MAPPED now.
      assert.strictEqual(f.blocks.get(8)!.kind, 'mapped');
      assert.strictEqual(f.blocks.get(11)!.kind, 'unwritten');
      assert.strictEqual(data(f, 0), 8 * bs);
      assert.strictEqual(hole(f, 8 * bs), 11 * bs);
      f.inode.mapping.invalidateClean();
      assert.strictEqual(f.inode.mapping.nrFolios, 0);
      assert.strictEqual(data(f, 0), 8 * bs, 'still data after dropping the cache');
    });

    it(`${geoName(g)}: dirty and written-back pages in one unwritten extent`, () => {
      const f = mk(bs, 64 * bs, folio);
      f.set(0, 64, 'unwritten');
      f.cache(20 * bs, 2 * bs, { dirty: true });
      writeback(f); // blocks [20, 22) converted, their folio(s) clean
      f.cache(2 * bs, 2 * bs, { dirty: true });
      assert.strictEqual(data(f, 0), 2 * bs);
      assert.strictEqual(hole(f, 2 * bs), 4 * bs);
      assert.strictEqual(data(f, 4 * bs), 20 * bs);
      assert.strictEqual(hole(f, 20 * bs), 22 * bs);
    });

    it(`${geoName(g)}: data-hole-data inside one folio (per-block uptodate bits)`, () => {
      // Unwritten [0, 16·(folio/bs)); cached blocks 0 and 2 only.
      const f = mk(bs, 4 * folio, folio);
      f.set(0, (4 * folio) / bs, 'unwritten');
      f.cache(0, bs, { dirty: true });
      f.cache(2 * bs, bs, { dirty: true });
      assert.strictEqual(data(f, 0), 0);
      assert.strictEqual(hole(f, 0), bs);
      assert.strictEqual(data(f, bs), 2 * bs);
      assert.strictEqual(hole(f, 2 * bs), 3 * bs);
      // A position inside a qualifying block is returned as is; inside a hole block, the next block start.
      assert.strictEqual(data(f, 2 * bs + 7), 2 * bs + 7);
      assert.strictEqual(data(f, bs + 3), 2 * bs);
      assert.strictEqual(hole(f, bs + 3), bs + 3);
      assert.strictEqual(data(f, 3 * bs), -ENXIO);
    });
  }

  it('more dirty pages than one folio batch, then a hole', () => {
    // 40 dirty 4 KiB folios over unwritten [0, 64 pages).
    const f = mk(4096, 64 * 4096);
    f.set(0, 64, 'unwritten');
    f.cache(0, 40 * 4096, { dirty: true });
    assert.strictEqual(f.inode.mapping.nrFolios, 40);
    assert.strictEqual(hole(f, 0), 40 * 4096);
    assert.strictEqual(data(f, 39 * 4096 + 5), 39 * 4096 + 5);
    assert.strictEqual(data(f, 40 * 4096), -ENXIO);
  });

  it('a small hole after dirty pages, and non-contiguous dirty pages', () => {
    const f = mk(4096, 32 * 4096);
    f.set(0, 32, 'unwritten');
    f.cache(0, 8 * 4096, { dirty: true });
    f.cache(9 * 4096, 7 * 4096, { dirty: true });
    f.cache(20 * 4096, 4096, { dirty: true });
    f.cache(22 * 4096, 4096, { dirty: true });
    assert.strictEqual(hole(f, 0), 8 * 4096);
    assert.strictEqual(data(f, 8 * 4096), 9 * 4096);
    assert.strictEqual(hole(f, 9 * 4096), 16 * 4096);
    assert.strictEqual(data(f, 16 * 4096), 20 * 4096);
    assert.strictEqual(hole(f, 20 * 4096), 21 * 4096);
    assert.strictEqual(data(f, 21 * 4096), 22 * 4096);
    assert.strictEqual(hole(f, 22 * 4096), 23 * 4096);
  });

  it('a written page just past an uncached unwritten extent', () => {
    const f = mk(4096, 8 * 4096);
    f.set(0, 4, 'unwritten');
    f.set(4, 1, 'mapped');
    assert.strictEqual(data(f, 0), 4 * 4096);
    assert.strictEqual(hole(f, 0), 0);
    assert.strictEqual(hole(f, 4 * 4096), 5 * 4096);
  });

  it('clean uptodate folios over an unwritten extent (a read of preallocated space) count as data', () => {
    const f = mk(4096, 8 * 4096, 16384);
    f.set(0, 8, 'unwritten');
    f.cache(0, 16384);
    assert.strictEqual(f.inode.mapping.folioAt(0)!.dirty, false);
    assert.strictEqual(data(f, 0), 0);
    assert.strictEqual(hole(f, 0), 16384);
  });

  it('6.12 quirk: SEEK_DATA over an unwritten extent ending mid-folio reports data at its end when a later block of that folio is uptodate', () => {
    // bs 1024, one 4 KiB folio: blocks 0-1 unwritten (not cached), block 2 a hole, block 3
    // mapped and cached (uptodate). iomap_seek_data(0): UNWRITTEN [0, 2048) ->
    // mapping_seek_hole_data(0, 2048) scans the folio to its end, finds block 3 (3072 < folio end
    // 4096) and clamps the answer to end = 2048, which lies in the hole. (A later -mm fix bounds
    // the scan at end; 6.6-6.14 behave as modelled.) SEEK_HOLE(0) is 0 as expected.
    const f = mk(1024, 4096);
    f.set(0, 2, 'unwritten');
    f.set(3, 1, 'mapped');
    f.cache(3072, 1024);
    assert.strictEqual(f.inode.mapping.nrFolios, 1);
    assert.strictEqual(data(f, 0), 2048);
    assert.strictEqual(data(f, 2048), 3072, 'from the hole itself the mapped block is found');
    assert.strictEqual(hole(f, 0), 0);
  });

  it('reclaim leaves a shadow entry that still counts as data; drop_caches does not', () => {
    const f = mk(4096, 8 * 4096);
    f.set(0, 8, 'unwritten');
    const [fo] = f.cache(3 * 4096, 4096);
    assert.ok(f.inode.mapping.reclaimFolio(fo));
    assert.strictEqual(f.inode.mapping.nrFolios, 0);
    assert.strictEqual(data(f, 0), 3 * 4096);
    assert.strictEqual(hole(f, 3 * 4096), 4 * 4096);
    const g = mk(4096, 8 * 4096);
    g.set(0, 8, 'unwritten');
    g.cache(3 * 4096, 4096);
    g.inode.mapping.invalidateClean();
    assert.strictEqual(data(g, 0), -ENXIO);
    assert.strictEqual(hole(g, 0), 0);
  });
});

describe('iomap seek: large offsets (seek_sanity_test 15-17)', () => {
  it('offsets past 2^32 on an 8 GiB sparse file', () => {
    const f = mk(4096, 8 * 2 ** 30);
    const at = 2 ** 32 + 4096;
    f.set(at / 4096, 1, 'mapped');
    assert.strictEqual(data(f, 0), at);
    assert.strictEqual(data(f, 2 ** 32), at);
    assert.strictEqual(hole(f, at), at + 4096);
    assert.strictEqual(data(f, at + 4096), -ENXIO);
    assert.strictEqual(hole(f, 2 ** 32 - 1), 2 ** 32 - 1);
  });

  it('a huge sparse file: block numbers past 2^32, unwritten with cached pages up there', () => {
    // 2^46-byte file (64 TiB): block 2^44/4096 = 2^32 is mapped; an unwritten extent at 2^45
    // has one cached folio (page index 2^45/4096 = 2^33 > 2^32).
    const size = 2 ** 46;
    const f = mk(4096, size);
    f.set(2 ** 32, 2, 'mapped');
    f.set(2 ** 33, 4, 'unwritten');
    f.cache(2 ** 45 + 2 * 4096, 4096, { dirty: true });
    assert.strictEqual(data(f, 0), 2 ** 44);
    assert.strictEqual(hole(f, 2 ** 44), 2 ** 44 + 8192);
    assert.strictEqual(data(f, 2 ** 44 + 8192), 2 ** 45 + 8192);
    assert.strictEqual(hole(f, 2 ** 45 + 8192), 2 ** 45 + 12288);
    assert.strictEqual(data(f, 2 ** 45 + 12288), -ENXIO);
    assert.strictEqual(hole(f, size - 1), size - 1);
  });
});

describe('iomap seek: random layouts against a per-block oracle', () => {
  type State = 'hole' | 'mapped' | 'delalloc' | 'uw' | 'uw-clean' | 'uw-dirty';
  for (const g of ALL_GEOS) {
    it(`${geoName(g)}: 12 seeds x every block boundary and mid-block offset`, () => {
      for (let seed = 1; seed <= 12; seed++) {
        const r = rng(seed * 977 + g.bs + g.folio);
        const { bs, folio } = g;
        const nblk = Math.max(24, (3 * folio) / bs);
        const size = (nblk - 1) * bs + 1 + Math.floor(r() * (bs - 1));
        const f = mk(bs, size, folio);
        const st: State[] = [];
        const kinds: State[] = ['hole', 'mapped', 'delalloc', 'uw', 'uw-clean', 'uw-dirty'];
        let cur: State = 'hole';
        for (let b = 0; b < nblk; b++) {
          if (b === 0 || r() < 0.3) cur = kinds[Math.floor(r() * kinds.length)];
          st.push(cur);
        }
        for (let b = 0; b < nblk; b++) {
          const s = st[b];
          if (s === 'mapped') f.set(b, 1, 'mapped', { addr: (1 << 20) + b * bs });
          else if (s === 'delalloc') f.set(b, 1, 'delalloc');
          else if (s !== 'hole') f.set(b, 1, 'unwritten', { addr: (1 << 20) + b * bs });
          if (s === 'uw-clean') f.cache(b * bs, bs);
          if (s === 'uw-dirty') f.cache(b * bs, bs, { dirty: true });
        }
        // Per-block oracle. Mappings are maximal runs of one kind (the fake merges neighbours;
        // all unwritten states are one kind). Over an UNWRITTEN run [q, e) data is an uptodate
        // (cached) block, with the 6.12 mapping_seek_hole_data quirk: the folio holding e - 1 is
        // scanned to ITS end, and an uptodate block found past e is reported as data at e.
        const cls = (b: number): string => (st[b].startsWith('uw') ? 'uw' : st[b]);
        const cached = (b: number): boolean => st[b] === 'uw-clean' || st[b] === 'uw-dirty';
        const runEnd = (b: number): number => {
          let r = b + 1;
          while (r < nblk && cls(r) === cls(b)) r++;
          return r;
        };
        const expData = (p: number): number => {
          let q = p;
          for (let b = Math.floor(p / bs); b < nblk;) {
            const r = runEnd(b);
            const e = Math.min(r * bs, size);
            if (cls(b) === 'mapped' || cls(b) === 'delalloc') return q;
            if (cls(b) === 'uw') {
              for (let k = Math.floor(q / bs); k < r; k++) if (cached(k)) return Math.max(q, k * bs);
              const fo = f.inode.mapping.folioAt(e - 1);
              if (fo && fo.end > e) {
                for (let k = Math.ceil(e / bs); k * bs < fo.end && k < nblk; k++) if (cached(k)) return e;
              }
            }
            q = e;
            b = r;
          }
          return -ENXIO;
        };
        const expHole = (p: number): number => {
          let q = p;
          for (let b = Math.floor(p / bs); b < nblk;) {
            const r = runEnd(b);
            if (cls(b) === 'hole') return q;
            if (cls(b) === 'uw') {
              for (let k = Math.floor(q / bs); k < r; k++) if (!cached(k)) return Math.min(size, Math.max(q, k * bs));
            }
            q = Math.min(r * bs, size);
            b = r;
          }
          return size;
        };
        for (let b = 0; b < nblk; b++) {
          for (const p of [b * bs, b * bs + (bs >> 1)]) {
            if (p >= size) continue;
            assert.strictEqual(data(f, p), expData(p), `seed ${seed} SEEK_DATA ${p} layout ${st.join(',')}`);
            assert.strictEqual(hole(f, p), expHole(p), `seed ${seed} SEEK_HOLE ${p} layout ${st.join(',')}`);
          }
        }
      }
    });
  }
});
