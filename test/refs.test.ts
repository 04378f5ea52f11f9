/**
 * refs, the reference filesystem: on-device metadata round trips, corrupt or foreign
 * superblocks and slots, delalloc accounting (F_NEW only on blocks a begin reserved), ENOSPC
 * partial reservations, inline data and unstuffing, the validity cookie.
 */
import * as assert from 'assert';
import * as zlib from 'zlib';
import { MemoryDevice } from '../reference/device/memory';
import { IomapFs } from '../reference/file';
import { Refs, RefsInode } from '../reference/fs/refs';
import { Allocator } from '../reference/fs/alloc';
import { readSlot, readSuperblock, writeSlot, writeSuperblock } from '../reference/fs/meta';
import { IOMAP_INLINE, IOMAP_MAPPED, zeroedIomap, IOMAP_WRITE } from '../reference/iomap/types';
import { expectFsError, extentsOf, mountRefs, pattern, tapOps } from './support/scripted-ops';

function eq(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.from(a).equals(Buffer.from(b));
}

function expectMountError(dev: MemoryDevice, code: string): void {
  expectFsError(() => Refs.mount(dev), code, 'Refs.mount');
  expectFsError(() => IomapFs.mount(dev), code, 'IomapFs.mount');
}

describe('refs: mkfs / mount / unmount', () => {
  it('mount rebuilds refcounts and the free list run by run: blocks shared two and three ways, free runs between', () => {
    const dev = new MemoryDevice({ size: 64 << 20 });
    const bs = 1024;
    IomapFs.mkfs(dev, { blockSize: bs, inlineMax: 0 });
    const fsys = IomapFs.mount(dev, { maxFolioSize: 16384 });
    const f = fsys.open('f', { create: true });
    f.pwrite(0, pattern(1, 8 * bs));
    f.fsync();
    f.cloneRange(2 * bs, 4 * bs, 20 * bs); // blocks 2-5 shared twice
    f.cloneRange(3 * bs, 2 * bs, 40 * bs); // blocks 3-4 three times
    f.pwrite(60 * bs, pattern(2, 3 * bs));
    fsys.unmount();
    const live = Refs.mount(dev);
    const again = Refs.mount(dev);
    const blocksOf = (fs: Refs) => ({ refcount: [...fs.refcount].sort((a, b) => a[0] - b[0]), free: fs.alloc.free.map((x) => [...x]), freeBlocks: fs.alloc.freeBlocks });
    const b = blocksOf(live);
    assert.deepStrictEqual(blocksOf(again), b);
    const first = live.inode(live.lookup('f')!).extents.lookup(0).ext!.pblk;
    assert.deepStrictEqual(b.refcount, [[first + 2, 2], [first + 3, 3], [first + 4, 3], [first + 5, 2]]);
    assert.deepStrictEqual(live.checkConsistency(), []);
  });

  for (const bs of [512, 1024, 4096]) {
    it(`bs=${bs}: a round trip preserves names, sizes, extents (with physical blocks) and inline data`, () => {
      const dev = new MemoryDevice({ size: 64 << 20 });
      IomapFs.mkfs(dev, { blockSize: bs, inlineMax: 100 });
      let fsys = IomapFs.mount(dev, { maxFolioSize: 16384 });
      const files: Record<string, Uint8Array> = {};
      const small = fsys.open('small', { create: true });
      files.small = pattern(1, 50);
      small.pwrite(0, files.small);
      const multi = fsys.open('multi', { create: true });
      multi.pwrite(10 * bs, pattern(2, 2 * bs));
      multi.pwrite(0, pattern(3, 3 * bs));
      files.multi = new Uint8Array(12 * bs);
      files.multi.set(pattern(3, 3 * bs));
      files.multi.set(pattern(2, 2 * bs), 10 * bs);
      const sparse = fsys.open('sparse', { create: true });
      sparse.truncate(1 << 20);
      sparse.pwrite(500 * 1024, pattern(4, bs));
      files.sparse = new Uint8Array(1 << 20);
      files.sparse.set(pattern(4, bs), 500 * 1024);
      const trunc = fsys.open('trunc', { create: true });
      trunc.pwrite(0, pattern(5, 5 * bs));
      trunc.truncate(2 * bs + 7);
      files.trunc = pattern(5, 5 * bs).slice(0, 2 * bs + 7);
      fsys.open('empty', { create: true });
      files.empty = new Uint8Array(0);
      fsys.unmount();
      assert.strictEqual(fsys.mounted, false);

      // Snapshot the state the unmount committed.
      const before = Refs.mount(dev);
      const snap = (fs: Refs) => [...fs.names].sort().map(([n, ino]) => {
        const ri = fs.inode(ino);
        return {
          n, size: ri.diskSize, exts: ri.extents.exts.map((e) => [e.lblk, e.len, e.pblk, e.state]),
          inline: ri.inline ? Buffer.from(ri.inline.subarray(0, ri.diskSize)).toString('hex') : null,
        };
      });
      const s1 = snap(before);
      assert.deepStrictEqual(s1.map((x) => x.n), ['empty', 'multi', 'small', 'sparse', 'trunc']);
      assert.deepStrictEqual(s1.map((x) => x.size), [0, 12 * bs, 50, 1 << 20, 2 * bs + 7]);
      assert.strictEqual(s1.find((x) => x.n === 'small')!.inline, Buffer.from(files.small).toString('hex'));
      assert.deepStrictEqual(s1.find((x) => x.n === 'small')!.exts, []);
      // multi: blocks [0, 3) and [10, 12), all written; sparse: one block at 500K; trunc: [0, 3).
      const stateOf = (n: string) => s1.find((x) => x.n === n)!.exts.map(([l, len, , st]) => [l, len, st]);
      assert.deepStrictEqual(stateOf('multi'), [[0, 3, 'written'], [10, 2, 'written']]);
      assert.deepStrictEqual(stateOf('sparse'), [[(500 * 1024) / bs, 1, 'written']]);
      assert.deepStrictEqual(stateOf('trunc'), [[0, 3, 'written']]);
      assert.deepStrictEqual(before.checkConsistency(), []);

      // Mount again (twice, to show mount itself changes nothing) and compare everything.
      fsys = IomapFs.mount(dev, { maxFolioSize: 16384 });
      assert.deepStrictEqual(snap(fsys.fs as Refs), s1);
      for (const [n, data] of Object.entries(files)) {
        const fh = fsys.open(n);
        assert.strictEqual(fh.size, data.length, n);
        assert.ok(eq(fh.pread(0, data.length + 10), data), n);
      }
      assert.strictEqual((fsys.fs as Refs).reservedBlocks, 0);
      assert.strictEqual((fsys.fs as Refs).freeBlocks, before.freeBlocks);
    });
  }

  it('mkfs rejects bad geometry: EINVAL for block sizes and inlineMax, ENOSPC for a tiny device', () => {
    const dev = new MemoryDevice({ size: 64 << 20 });
    for (const bs of [256, 1000, 131072, NaN, 1.5]) expectFsError(() => IomapFs.mkfs(dev, { blockSize: bs }), 'EINVAL', `bs ${bs}`);
    expectFsError(() => IomapFs.mkfs(new MemoryDevice({ size: 64 << 20, sectorSize: 4096 }), { blockSize: 1024 }), 'EINVAL', 'bs < sector');
    expectFsError(() => IomapFs.mkfs(dev, { blockSize: 1024, inlineMax: 2048 }), 'EINVAL', 'inlineMax > bs');
    expectFsError(() => IomapFs.mkfs(dev, { blockSize: 1024, inlineMax: -1 }), 'EINVAL', 'inlineMax < 0');
    expectFsError(() => IomapFs.mkfs(new MemoryDevice({ size: 64 * 1024 }), { blockSize: 4096 }), 'ENOSPC', 'tiny device');
  });

  describe('bad superblock / metadata', () => {
    function fresh(bs = 1024): { dev: MemoryDevice } {
      const dev = new MemoryDevice({ size: 64 << 20 });
      IomapFs.mkfs(dev, { blockSize: bs });
      return { dev };
    }

    it('no superblock (zeroed) -> EINVAL; a flipped byte in it -> EUCLEAN (checksum)', () => {
      const { dev } = fresh();
      const sector = new Uint8Array(512);
      dev.read(0, sector);
      const flipped = sector.slice();
      flipped[12] ^= 0x01; // inside the JSON body (8-byte header)
      dev.write(0, flipped);
      expectMountError(dev, 'EUCLEAN');
      dev.write(0, new Uint8Array(512));
      expectMountError(dev, 'EINVAL');
    });

    it('a checksummed superblock with a foreign magic -> EINVAL', () => {
      const { dev } = fresh();
      const sb = readSuperblock(dev);
      writeSuperblock(dev, { ...sb, magic: 'ext4' });
      expectMountError(dev, 'EINVAL');
    });

    it('a device smaller than the superblock says -> EINVAL', () => {
      const { dev } = fresh();
      const sb = readSuperblock(dev);
      const small = new MemoryDevice({ size: 32 << 20 });
      const meta = new Uint8Array(sb.dataStart * sb.blockSize);
      dev.read(0, meta);
      small.write(0, meta);
      expectMountError(small, 'EINVAL');
    });

    /** A device whose file 'f' holds pattern(1, 5000), committed as generation 2 (in slot 1). */
    function generation2() {
      const { dev } = fresh();
      const fh = IomapFs.mount(dev).open('f', { create: true });
      fh.pwrite(0, pattern(1, 5000));
      fh.fsync();
      return { dev, fh, sb: readSuperblock(dev) };
    }

    /** A mount of dev finds generation2()'s file. */
    function mountsGeneration2(dev: MemoryDevice): void {
      const back = IomapFs.mount(dev).open('f');
      assert.strictEqual(back.size, 5000, 'the generation-2 image');
      assert.ok(eq(back.pread(0, 5000), pattern(1, 5000)));
    }

    it('both metadata slots corrupt -> EUCLEAN; one corrupt -> the other (older) commit is used', () => {
      const { dev, fh } = generation2();
      fh.pwrite(5000, pattern(2, 3000));
      fh.fsync(); // generation 3 -> slot 0
      const sb = readSuperblock(dev);
      assert.strictEqual(readSlot(dev, sb, 0)!.generation, 3);
      assert.strictEqual(readSlot(dev, sb, 1)!.generation, 2);
      const slot0 = (1 + 0 * sb.slotBlocks) * sb.blockSize;
      const slot1 = (1 + 1 * sb.slotBlocks) * sb.blockSize;
      const hdr = new Uint8Array(sb.blockSize);
      dev.read(slot0, hdr);
      hdr[20] ^= 0xff; // body byte: CRC mismatch
      dev.write(slot0, hdr);
      assert.strictEqual(readSlot(dev, sb, 0), null);
      mountsGeneration2(dev);
      dev.write(slot1, new Uint8Array(sb.blockSize));
      expectMountError(dev, 'EUCLEAN');
    });

    it('the newer slot with a sound checksum but a body that does not parse -> the older commit is used', () => {
      const { dev, sb } = generation2();
      // Slot 0 gets generation 9 over a body that is not JSON, with a checksum that holds.
      const body = Buffer.from('{"generation":9,');
      const raw = Buffer.alloc(sb.blockSize);
      raw.writeUInt32LE(0x52534c54, 0);
      raw.writeUInt32LE(9, 4);
      raw.writeUInt32LE(body.length, 8);
      raw.writeUInt32LE((zlib as unknown as { crc32(b: Uint8Array): number }).crc32(body) >>> 0, 12);
      body.copy(raw, 16);
      dev.write((1 + 0 * sb.slotBlocks) * sb.blockSize, raw);
      assert.strictEqual(readSlot(dev, sb, 0), null);
      mountsGeneration2(dev);
    });

    it('an extent outside the data area -> EUCLEAN', () => {
      const { dev } = fresh();
      const fsys = IomapFs.mount(dev);
      const fh = fsys.open('f', { create: true });
      fh.pwrite(0, pattern(1, 4096));
      fh.fsync();
      const sb = readSuperblock(dev);
      const img = readSlot(dev, sb, 1)!; // generation 2
      img.inodes[0].extents[0][2] = 1; // physical block 1: inside the metadata slots
      writeSlot(dev, sb, 0, { ...img, generation: img.generation + 1 });
      expectMountError(dev, 'EUCLEAN');
    });
  });
});

describe('refs: delalloc accounting and F_NEW', () => {
  for (const bs of [512, 1024, 4096]) {
    it(`bs=${bs}: reservations follow writes, overlapping writes, truncate, fsync and unlink exactly`, () => {
      const env = mountRefs(bs, 16384);
      const free0 = env.fs.freeBlocks;
      env.fh.pwrite(5 * bs, pattern(1, bs)); // [5, 6)
      env.fh.pwrite(0, pattern(2, 3 * bs)); // [0, 3)
      assert.strictEqual(env.fs.reservedBlocks, 4);
      assert.deepStrictEqual(extentsOf(env.ri), [[0, 3, 'delalloc'], [5, 1, 'delalloc']]);
      assert.strictEqual(env.fs.freeBlocks, free0 - 4, 'reservations count against free space');
      // Overlapping [2bs, 7bs): existing delalloc is returned as it is; only holes get new
      // reservations, each limited by the next extent, and only those carry F_NEW.
      const ops = tapOps(env.fs.iomapOps);
      try {
        env.fh.pwrite(2 * bs, pattern(3, 5 * bs));
      } finally {
        ops.restore();
      }
      assert.deepStrictEqual(ops.trace(), [
        `begin(${2 * bs}, ${5 * bs}, WRITE)`, `end(${2 * bs}, ${bs}, ${bs}, WRITE)`,
        `begin(${3 * bs}, ${4 * bs}, WRITE)`, `end(${3 * bs}, ${2 * bs}, ${2 * bs}, WRITE) [NEW]`,
        `begin(${5 * bs}, ${2 * bs}, WRITE)`, `end(${5 * bs}, ${bs}, ${bs}, WRITE)`,
        `begin(${6 * bs}, ${bs}, WRITE)`, `end(${6 * bs}, ${bs}, ${bs}, WRITE) [NEW|SIZE_CHANGED]`,
      ]);
      // The mappings' extents: [0, 3bs), the new [3bs, 5bs), [0, 6bs) after merging, new [6bs, 7bs).
      assert.deepStrictEqual(ops.results.map((r) => [r.map.offset / bs, r.map.length / bs]), [[0, 3], [3, 2], [0, 6], [6, 1]]);
      assert.strictEqual(env.fs.reservedBlocks, 7);
      assert.deepStrictEqual(extentsOf(env.ri), [[0, 7, 'delalloc']]);
      assert.deepStrictEqual(env.fsys.checkInvariants(), []);
      // truncate to 4bs + 10: blocks from ceil((4bs + 10)/bs) = 5 are released.
      env.fh.truncate(4 * bs + 10);
      // truncate_page zeroed the tail of block 4 and truncate wrote that block back before the
      // size change (xfs_setattr_size), so the folio holding it is allocated now; what stays
      // delalloc is exactly the rest, and the five blocks [0, 5) are all still mapped.
      const exts = extentsOf(env.ri);
      assert.strictEqual(exts.reduce((n, e) => n + (e[1] as number), 0), 5);
      assert.strictEqual(env.fs.reservedBlocks, env.ri.extents.count('delalloc'));
      assert.notStrictEqual(env.ri.extents.lookup(4).ext!.state, 'delalloc', 'the EOF block was written back');
      assert.deepStrictEqual(env.fsys.checkInvariants(), []);
      env.fh.fsync();
      assert.strictEqual(env.fs.reservedBlocks, 0);
      assert.ok(env.ri.extents.exts.every((e) => e.state === 'written'));
      assert.strictEqual(env.ri.extents.count('written'), 5);
      assert.strictEqual(env.fs.freeBlocks, free0 - 5);
      env.fh.close();
      env.fsys.unlink('f');
      assert.strictEqual(env.fs.freeBlocks, free0);
      assert.deepStrictEqual(env.fs.checkConsistency(), []);
    });

    it(`bs=${bs}: a partial reservation (ENOSPC limit) writes what was reserved and fails the next begin`, () => {
      const env = mountRefs(bs, 16384);
      env.fs.faults.reserveLimit = 2;
      const ops = tapOps(env.fs.iomapOps);
      let n: number;
      try {
        n = env.fh.pwrite(0, pattern(4, 3 * bs));
      } finally {
        ops.restore();
      }
      // begin reserves min(3, 2) = 2 blocks -> [0, 2bs) NEW; the rest: begin fails -ENOSPC (no end).
      assert.strictEqual(n, 2 * bs);
      assert.deepStrictEqual(ops.trace(), [
        `begin(0, ${3 * bs}, WRITE)`, `end(0, ${2 * bs}, ${2 * bs}, WRITE) [NEW|SIZE_CHANGED]`, `begin(${2 * bs}, ${bs}, WRITE)`,
      ]);
      assert.strictEqual(env.fs.reservedBlocks, 2);
      expectFsError(() => env.fh.pwrite(2 * bs, pattern(5, 10)), 'ENOSPC');
      assert.strictEqual(env.fh.size, 2 * bs);
      assert.deepStrictEqual(env.fsys.checkInvariants(), []);
    });
  }
});

describe('refs: the shared run a mapping reports', () => {
  it('is the run around the block whose blocks all answer like it (isShared, or mustCopy for a write), with the table walked instead of the blocks', () => {
    const dev = new MemoryDevice({ size: 64 << 20 });
    IomapFs.mkfs(dev, { blockSize: 1024 });
    const fs = Refs.mount(dev) as unknown as {
      refcount: Map<number, number>; unsharedSinceCommit: Set<number>; isShared(b: number): boolean; mustCopy(b: number): boolean;
      copyRun(p: number, lo: number, hi: number, w: boolean): { a: number; z: number };
    };
    let x = 7;
    const rnd = (n: number): number => { x = (Math.imul(x, 1103515245) + 12345) >>> 0; return x % n; };
    for (let round = 0; round < 300; round++) {
      fs.refcount.clear();
      fs.unsharedSinceCommit.clear();
      for (let k = rnd(6); k > 0; k--) fs.refcount.set(1000 + rnd(200), 1 + rnd(3));
      for (let k = rnd(4); k > 0; k--) fs.unsharedSinceCommit.add(1000 + rnd(200));
      const lo = 1000 + rnd(100);
      const hi = lo + 1 + rnd(round % 2 ? 150 : 4);
      const p = lo + rnd(hi - lo);
      for (const w of [false, true]) {
        const f = (b: number) => (w ? fs.mustCopy(b) : fs.isShared(b));
        let a = p;
        let z = p + 1;
        while (a > lo && f(a - 1) === f(p)) a--;
        while (z < hi && f(z) === f(p)) z++;
        const run = fs.copyRun(p, lo, hi, w);
        assert.deepStrictEqual([run.a, run.z], [a, z], `round ${round} write ${w}`);
      }
    }
  });
});

describe('refs: releasing blocks', () => {
  it('drops one reference per block and frees the single-owner runs, as the block-by-block walk did, with the table walked for long ranges', () => {
    const dev = new MemoryDevice({ size: 64 << 20 });
    IomapFs.mkfs(dev, { blockSize: 1024 });
    const fs = Refs.mount(dev);
    const unshared = (fs as unknown as { unsharedSinceCommit: Set<number> }).unsharedSinceCommit;
    let x = 5;
    const rnd = (n: number): number => { x = (Math.imul(x, 1103515245) + 12345) >>> 0; return x % n; };
    for (let round = 0; round < 200; round++) {
      fs.refcount.clear();
      unshared.clear();
      fs.alloc.busy.length = 0;
      fs.alloc.busyBlocks = 0;
      for (let k = rnd(8); k > 0; k--) fs.refcount.set(2000 + rnd(100), 1 + rnd(4));
      const pblk = 2000 + rnd(60);
      const len = round % 2 ? rnd(80) : rnd(4);
      // The block-by-block definition.
      const want = new Map(fs.refcount);
      const wantUnshared = new Set<number>();
      const wantBusy: Array<[number, number]> = [];
      let run = -1;
      for (let b = pblk; b <= pblk + len; b++) {
        let free = false;
        if (b < pblk + len) {
          const c = want.get(b) ?? 1;
          if (c > 2) want.set(b, c - 1);
          else if (c === 2) { want.delete(b); wantUnshared.add(b); } else free = true;
        }
        if (free && run < 0) run = b;
        if (!free && run >= 0) { wantBusy.push([run, b - run]); run = -1; }
      }
      fs.releaseBlocks(pblk, len);
      assert.deepStrictEqual([[...fs.refcount].sort(), [...unshared].sort(), fs.alloc.busy], [[...want].sort(), [...wantUnshared].sort(), wantBusy], `round ${round}`);
    }
  });
});

describe('refs: consistency check span by span', () => {
  /** The per-block definition the span check must agree with. */
  function byBlock(fs: Refs): string[] {
    const out: string[] = [];
    const refs = new Map<number, number>();
    for (const ri of fs.inodes.values()) {
      for (const e of [...ri.extents.exts, ...ri.cow.exts]) if (e.state !== 'delalloc') for (let b = e.pblk; b < e.pblk + e.len; b++) refs.set(b, (refs.get(b) ?? 0) + 1);
    }
    for (const [b, n] of refs) {
      if (fs.alloc.isFree(b)) out.push(`block ${b} is referenced ${n} times and on the free list`);
      if (fs.alloc.isBusy(b)) out.push(`block ${b} is referenced ${n} times and busy (freed, awaiting commit)`);
      if ((fs.refcount.get(b) ?? 1) !== n) out.push(`block ${b}: refcount ${fs.refcount.get(b) ?? 1} but ${n} references`);
    }
    for (const [b, c] of fs.refcount) if (!refs.has(b)) out.push(`block ${b}: refcount ${c} with no references`);
    return out;
  }

  it('reports exactly what the block-by-block check reports, on shared files with random corruptions', () => {
    let x = 11;
    const rnd = (n: number): number => { x = (Math.imul(x, 1103515245) + 12345) >>> 0; return x % n; };
    let broken = 0;
    for (let round = 0; round < 40; round++) {
      const dev = new MemoryDevice({ size: 64 << 20 });
      IomapFs.mkfs(dev, { blockSize: 1024, inlineMax: 0 });
      const fsys = IomapFs.mount(dev, { maxFolioSize: 16384 });
      const f = fsys.open('f', { create: true });
      for (let k = 0; k < 6; k++) f.pwrite(rnd(64) * 1024, pattern(k + 1, (1 + rnd(8)) * 1024));
      f.fsync();
      for (let k = 0; k < 3; k++) f.cloneRange(rnd(16) * 1024, (1 + rnd(6)) * 1024, (80 + rnd(40)) * 1024);
      f.fsync();
      const fs = fsys.refs;
      const blocks = [...fs.inodes.values()].flatMap((ri) => ri.extents.exts.filter((e) => e.state !== 'delalloc'));
      const e = blocks[rnd(blocks.length)];
      const b = e.pblk + rnd(e.len);
      switch (rnd(5)) {
        case 0: fs.refcount.set(b, 1 + rnd(4)); break;
        case 1: fs.alloc.release(b, 1); break;
        case 2: fs.alloc.busy.push([b, 1]); break;
        case 3: fs.refcount.set(e.pblk + e.len + 5000, 2); break;
        default: break;
      }
      const got = fs.checkConsistency();
      assert.deepStrictEqual(got, byBlock(fs), `round ${round}`);
      if (got.length) broken++;
    }
    assert.ok(broken >= 10, `only ${broken} corrupted states were found broken`);
  });
});

describe('refs: inline data', () => {
  it('small writes stay INLINE (no blocks, no reservation) and survive a remount', () => {
    const env = mountRefs(1024, 16384, { inlineMax: 200 });
    const ops = tapOps(env.fs.iomapOps);
    const a = pattern(1, 100);
    try {
      env.fh.pwrite(0, a);
    } finally {
      ops.restore();
    }
    assert.deepStrictEqual(ops.trace(), ['begin(0, 100, WRITE)', 'end(0, 100, 100, WRITE) [SIZE_CHANGED]']);
    assert.strictEqual(ops.results[0].map.type, IOMAP_INLINE);
    assert.ok(env.ri.inline && eq(env.ri.inline.subarray(0, 100), a));
    assert.deepStrictEqual(extentsOf(env.ri), []);
    assert.strictEqual(env.fs.reservedBlocks, 0);
    env.fh.fsync();
    env.fsys.unmount();
    const fsys = IomapFs.mount(env.dev, { maxFolioSize: 16384 });
    const fh = fsys.open('f');
    const ri = fh.inode.fsPrivate as RefsInode;
    assert.ok(ri.inline);
    assert.strictEqual(fh.size, 100);
    assert.ok(eq(fh.pread(0, 1000), a));
  });

  it('an fallocate inside an inline file unstuffs it and the size survives a remount (fsx, ext4 personality, 3 ops)', () => {
    const env = mountRefs(1024, 16384, { inlineMax: 200 });
    const a = pattern(1, 1);
    env.fh.pwrite(0, a);
    env.fh.fallocate(0, 0, 1); // no size change: unstuffed, the byte now in a written block
    assert.strictEqual(env.ri.inline, null);
    env.fsys.unmount();
    const fsys = IomapFs.mount(env.dev, { maxFolioSize: 16384 });
    const fh = fsys.open('f');
    assert.strictEqual(fh.size, 1, 'the size an inline file committed as its in-core size');
    assert.ok(eq(fh.pread(0, 10), a));
  });

  it('growing past inlineMax unstuffs into a written block, keeping the data', () => {
    const env = mountRefs(1024, 16384, { inlineMax: 200 });
    const a = pattern(1, 100);
    env.fh.pwrite(0, a);
    const b = pattern(2, 100);
    const ops = tapOps(env.fs.iomapOps);
    try {
      env.fh.pwrite(150, b); // 250 > 200
    } finally {
      ops.restore();
    }
    // The EOF gap [100, 150) is zeroed first (an inline HOLE past EOF: skipped), then the write
    // unstuffs and maps the new block.
    assert.deepStrictEqual(ops.trace(), [
      'begin(100, 50, ZERO)', 'end(100, 50, 50, ZERO)',
      'begin(150, 100, WRITE)', 'end(150, 100, 100, WRITE) [SIZE_CHANGED]',
    ]);
    assert.strictEqual(ops.results[1].map.type, IOMAP_MAPPED);
    assert.strictEqual(env.ri.inline, null);
    assert.deepStrictEqual(extentsOf(env.ri), [[0, 1, 'written']]);
    const expect = new Uint8Array(250);
    expect.set(a);
    expect.set(b, 150);
    assert.ok(eq(env.fh.pread(0, 250), expect));
    env.fh.fsync();
    env.fsys.dropCaches();
    assert.ok(eq(env.fh.pread(0, 250), expect));
  });

  it('a write fault or a truncate past inlineMax unstuffs too', () => {
    const env = mountRefs(1024, 16384, { inlineMax: 200 });
    env.fh.pwrite(0, pattern(1, 50));
    env.fh.mmapWrite(10, pattern(2, 5), { msync: false });
    assert.strictEqual(env.ri.inline, null);
    assert.deepStrictEqual(extentsOf(env.ri), [[0, 1, 'written']]);
    const g = env.fsys.open('g', { create: true });
    g.pwrite(0, pattern(3, 50));
    const rg = g.inode.fsPrivate as RefsInode;
    assert.ok(rg.inline);
    g.truncate(5000);
    assert.strictEqual(rg.inline, null);
    assert.strictEqual(g.size, 5000);
    assert.ok(eq(g.pread(0, 50), pattern(3, 50)));
    assert.ok(g.pread(50, 4950).every((x) => x === 0));
  });
});

describe('refs: the validity cookie', () => {
  it('->iomap_begin stamps the sequence; any extent change makes ->iomap_valid false', () => {
    const env = mountRefs(1024, 16384);
    const m = zeroedIomap();
    assert.strictEqual(env.fs.iomapOps.begin(env.inode, 0, 1024, IOMAP_WRITE, m, zeroedIomap()), 0);
    assert.strictEqual(m.validityCookie, env.ri.seq);
    // The hook hangs off the mapping's folio_ops in 6.12, off iomap_write_ops in the current API.
    const hooks = env.fs.api === 'current' ? env.fs.writeOps : m.folioOps!;
    assert.strictEqual(hooks.iomapValid!(env.inode, m), true);
    env.fs.punchDelalloc(env.inode, 0, 1024);
    assert.strictEqual(hooks.iomapValid!(env.inode, m), false);
  });
});

describe('refs: mapping snapshots', () => {
  it('hands out the same snapshot while nothing it shows changed, a new one after any change, and old ones stay frozen', () => {
    const env = mountRefs(1024, 16384);
    const intro = env.fs.introspect!;
    const s0 = intro.snapshot(env.inode);
    assert.strictEqual(intro.snapshot(env.inode), s0, 'unchanged: the same (immutable) snapshot');
    env.fh.pwrite(0, pattern(1, 3072)); // delalloc: the data fork changes
    const s1 = intro.snapshot(env.inode);
    assert.notStrictEqual(s1, s0);
    assert.strictEqual(s0.block(1).state, 'hole', 'the old snapshot still shows the old state');
    assert.strictEqual(s1.block(1).state, 'delalloc');
    env.fh.fsync(); // writeback allocates: delalloc -> written
    const s2 = intro.snapshot(env.inode);
    assert.notStrictEqual(s2, s1);
    assert.strictEqual(s1.block(1).state, 'delalloc');
    assert.strictEqual(s2.block(1).state, 'written');
    assert.notStrictEqual(s2.version('all'), s1.version('all'));
    // A change of the COW fork alone (a clone makes the blocks shared, a write stages COW).
    env.fh.cloneRange(0, 1024, 4096);
    const s3 = intro.snapshot(env.inode);
    assert.notStrictEqual(s3, s2);
    env.fh.pwrite(0, pattern(2, 512));
    const s4 = intro.snapshot(env.inode);
    assert.notStrictEqual(s4, s3);
    assert.strictEqual(intro.snapshot(env.inode), s4);
    assert.deepStrictEqual(env.fsys.checkInvariants(), []);
  });
});

describe('refs: the block allocator', () => {
  it('allocates, claims and releases as a block-by-block model says (first fit from the goal, wrapping)', () => {
    const N = 400;
    const a = new Allocator(100, N);
    const used = new Uint8Array(100 + N); // 1: in use
    let x = 11;
    const rnd = (n: number): number => { x = (Math.imul(x, 1103515245) + 12345) >>> 0; return x % n; };
    /** The model's free runs [start, len], ascending. */
    const runs = (): Array<[number, number]> => {
      const out: Array<[number, number]> = [];
      for (let b = 100; b < 100 + N; b++) {
        if (used[b]) continue;
        const last = out[out.length - 1];
        if (last && last[0] + last[1] === b) last[1]++;
        else out.push([b, 1]);
      }
      return out;
    };
    for (let step = 0; step < 3000; step++) {
      const op = rnd(3);
      if (op === 0) {
        const want = 1 + rnd(20);
        const goal = rnd(100 + N + 50);
        const free = runs();
        // First fit: the first free run ending after the goal (else the first), from the goal on.
        const r = free.find(([s, l]) => s + l > goal) ?? free[0];
        const got = a.alloc(want, goal);
        if (r === undefined) { assert.strictEqual(got, null); continue; }
        const start = Math.max(r[0], goal < r[0] + r[1] ? goal : r[0]);
        assert.deepStrictEqual(got, [start, Math.min(want, r[0] + r[1] - start)], `step ${step}`);
        for (let b = got![0]; b < got![0] + got![1]; b++) used[b] = 1;
      } else if (op === 1) {
        const start = 100 + rnd(N);
        const n = 1 + rnd(Math.min(10, 100 + N - start));
        let ok = true;
        for (let b = start; b < start + n; b++) if (used[b]) ok = false;
        assert.strictEqual(a.claim(start, n), ok, `step ${step} claim`);
        if (ok) for (let b = start; b < start + n; b++) used[b] = 1;
      } else {
        const start = 100 + rnd(N);
        let n = 0;
        while (start + n < 100 + N && used[start + n] && n < 10) n++;
        if (n === 0) continue;
        a.release(start, n);
        for (let b = start; b < start + n; b++) used[b] = 0;
      }
      assert.deepStrictEqual(a.free, runs(), `step ${step}: free list`);
      assert.strictEqual(a.freeBlocks, runs().reduce((s, r) => s + r[1], 0));
    }
  });
});
