/**
 * Filesystem personalities (reference/fs/personality.ts): each knob shown both ways, on refs over
 * a memory device, through the file API.
 */
import * as assert from 'assert';
import { MemoryDevice } from '../reference/device/memory';
import { FALLOC_FL_KEEP_SIZE, FALLOC_FL_PUNCH_HOLE, FALLOC_FL_ZERO_RANGE, FileHandle, IomapFs } from '../reference/file';
import { Personality, PersonalityName, personality } from '../reference/fs/personality';
import { filemapWriteAndWaitRange } from '../reference/iomap/writeback';
import { FIEMAP_EXTENT_DELALLOC, FIEMAP_EXTENT_SHARED, FIEMAP_EXTENT_UNWRITTEN } from '../reference/uapi-fiemap';
import { ReferenceAdapter } from '../adapters/reference';
import { replayLog } from '../properties/fsx/engine';
import { OPLOG_FORMAT, OPLOG_VERSION, OpRecord } from '../properties/fsx/oplog';

const BS = 4096;

/** An xfs-personality refs with 1 KiB blocks and single-page folios, `knobs` changed. */
function mountXfs1k(knobs: Partial<Personality>): { fsys: IomapFs; f: FileHandle } {
  const dev = new MemoryDevice({ size: 64 << 20 });
  IomapFs.mkfs(dev, { blockSize: 1024 });
  const fsys = IomapFs.mount(dev, { maxFolioSize: 4096 });
  fsys.refs.personality = { ...personality('xfs'), ...knobs };
  return { fsys, f: fsys.open('f', { create: true }) };
}

function mount(name: PersonalityName): { fsys: IomapFs; f: FileHandle; writes: () => number } {
  const dev = new MemoryDevice({ size: 64 << 20 });
  let n = 0;
  const write = dev.write.bind(dev);
  dev.write = (off, data, opts) => { n++; write(off, data, opts); };
  IomapFs.mkfs(dev, { blockSize: BS });
  const fsys = IomapFs.mount(dev, { maxFolioSize: BS });
  fsys.refs.personality = personality(name);
  const f = fsys.open('f', { create: true });
  return { fsys, f, writes: () => n };
}

/** FIEMAP class of block b: delalloc, unwritten, written or hole. */
function classOf(f: FileHandle, b: number): string {
  const e = f.fiemap(b * BS, BS, 0).find((x) => x.logical <= b * BS && b * BS < x.logical + x.length);
  if (!e) return 'hole';
  if (e.flags & FIEMAP_EXTENT_DELALLOC) return 'delalloc';
  if (e.flags & FIEMAP_EXTENT_UNWRITTEN) return 'unwritten';
  return 'written';
}

describe('personalities', () => {
  it('generic keeps the behaviour refs had before personalities (xfs-like, no prealloc)', () => {
    const g = personality('generic');
    assert.deepStrictEqual([g.flushBeforePunchZero, g.writeBackAfterTruncateZero, g.convertWholeDelalloc, g.bmapZeroOnReflink, g.eofPrealloc],
      [true, 'eof-block', true, false, 0]);
    assert.strictEqual(g.reflinkSkipsUnwritten, false);
    assert.strictEqual(g.dioFallbackOnReflinkedInode, false);
    assert.deepStrictEqual([g.dioReadAlignUpFront, g.dioWriteAlignUpFront, g.dioMappingAlignOnly], [true, true, false]);
  });

  for (const mode of [FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, FALLOC_FL_ZERO_RANGE]) {
    const what = mode === FALLOC_FL_ZERO_RANGE ? 'zero range' : 'punch hole';
    it(`flushBeforePunchZero: xfs writes dirty delalloc back before ${what}, ext4 only drops the range`, () => {
      for (const name of ['xfs', 'ext4'] as const) {
        const { fsys, f, writes } = mount(name);
        f.pwrite(0, new Uint8Array(3 * BS).fill(9));
        const before = writes();
        f.fallocate(mode, BS, BS);
        const flushed = writes() > before;
        assert.strictEqual(flushed, name === 'xfs', `${name}: wrote back ${writes() - before} times`);
        // xfs wrote back block 1 only, but allocated the whole delalloc extent doing it: blocks 0
        // and 2 are allocated, unwritten, still dirty in the cache. ext4 allocated nothing.
        assert.strictEqual(classOf(f, 0), name === 'xfs' ? 'unwritten' : 'delalloc', `${name} block 0`);
        assert.strictEqual(classOf(f, 2), name === 'xfs' ? 'unwritten' : 'delalloc', `${name} block 2`);
        assert.strictEqual(classOf(f, 1), mode === FALLOC_FL_ZERO_RANGE ? 'unwritten' : 'hole', `${name} block 1`);
        const got = f.pread(0, 3 * BS);
        assert.ok(got.subarray(0, BS).every((b) => b === 9) && got.subarray(BS, 2 * BS).every((b) => b === 0) && got.subarray(2 * BS).every((b) => b === 9), name);
        assert.deepStrictEqual(fsys.checkInvariants(), [], name);
        fsys.syncAndDropCaches();
        const cold = f.pread(0, 3 * BS);
        assert.deepStrictEqual(cold, got, `${name}: the same bytes from the media`);
      }
    });
  }

  /*
   * ext4 drops a punched or zeroed range from its cache through buffer heads: a block the range
   * covers whole inside a partly covered folio loses its dirty state (block_invalidate_folio), so
   * an fsync writes nothing there (diff, ext4 1k seeds 111 and 112, 3 ops each; checked with
   * fallocate, fsync and filefrag -v on Linux 6.18.44).
   */
  it('flushBeforePunchZero false (ext4), blocks smaller than a page: a block the range covers whole is clean afterwards', () => {
    const ext4k1 = (): { fsys: IomapFs; f: FileHandle } => {
      const dev = new MemoryDevice({ size: 64 << 20 });
      IomapFs.mkfs(dev, { blockSize: 1024, inlineMax: 0 });
      const fsys = IomapFs.mount(dev, { maxFolioSize: 4096 });
      fsys.refs.personality = personality('ext4');
      return { fsys, f: fsys.open('f', { create: true }) };
    };
    const cls = (f: FileHandle, b: number): string => {
      const e = f.fiemap(b * 1024, 1024, 0).find((x) => x.logical <= b * 1024 && b * 1024 < x.logical + x.length);
      return !e ? 'hole' : e.flags & FIEMAP_EXTENT_DELALLOC ? 'delalloc' : e.flags & FIEMAP_EXTENT_UNWRITTEN ? 'unwritten' : 'written';
    };
    // Zero range over block 0 whole: unwritten and clean, so the fsync leaves it unwritten.
    const z = ext4k1();
    z.f.pwrite(0, new Uint8Array(1).fill(1));
    assert.strictEqual(z.f.inode.mapping.folioAt(0)?.dirty, true, 'the write left block 0 dirty');
    z.f.fallocate(FALLOC_FL_ZERO_RANGE, 0, 1024);
    assert.strictEqual(z.f.inode.mapping.folioAt(0)?.dirty, false, 'zero range: the folio has nothing dirty left');
    z.f.fsync();
    assert.strictEqual(cls(z.f, 0), 'unwritten');
    assert.deepStrictEqual(z.f.directRead(0, 1), new Uint8Array(1), 'a misaligned O_DIRECT read of the unwritten block is zero-filled');
    // Punch of block 1 whole, blocks 0 and 2 dirty beside it: the fsync writes 0 and 2, leaves 1 a hole.
    const p = ext4k1();
    p.f.pwrite(0, new Uint8Array(3 * 1024).fill(2));
    p.f.fallocate(FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 1024, 1024);
    p.f.fsync();
    assert.deepStrictEqual([0, 1, 2].map((b) => cls(p.f, b)), ['written', 'hole', 'written']);
    assert.deepStrictEqual(p.fsys.checkInvariants(), []);
  });

  it('fallocExtendsWithoutZeroing: an extending zero range or allocation leaves the block it allocated unwritten clean in a dirty EOF folio (ext4); through truncate up it is dirtied and written (diff, ext4 1k seed 113)', () => {
    const ext4k1 = (knob: boolean): { fsys: IomapFs; f: FileHandle } => {
      const dev = new MemoryDevice({ size: 64 << 20 });
      IomapFs.mkfs(dev, { blockSize: 1024, inlineMax: 0 });
      const fsys = IomapFs.mount(dev, { maxFolioSize: 4096 });
      // Off: a truncate up whose iomap_zero_range zeroes dirty folios over unwritten blocks in
      // place, whole (zeroDirtyUnwrittenInCache true; ext4's own zeroing touches dirty blocks only).
      fsys.refs.personality = { ...personality('ext4'), fallocExtendsWithoutZeroing: knob, ...(knob ? {} : { zeroDirtyUnwrittenInCache: true }) };
      return { fsys, f: fsys.open('f', { create: true }) };
    };
    const cls = (f: FileHandle, b: number): string => {
      const e = f.fiemap(b * 1024, 1024, 0).find((x) => x.logical <= b * 1024 && b * 1024 < x.logical + x.length);
      return !e ? 'hole' : e.flags & FIEMAP_EXTENT_DELALLOC ? 'delalloc' : e.flags & FIEMAP_EXTENT_UNWRITTEN ? 'unwritten' : 'written';
    };
    // As on ext4 1k (6.18.44, python and filefrag -v): EOF at 1546 in block 1, block 1 dirty in
    // the folio over blocks 0-3; a 1-byte zero range at block 2 extends the file to 2049, then an
    // allocation of block 3 extends it to 3073; each fsync leaves the new block unwritten.
    const run = (knob: boolean): string[] => {
      const { fsys, f } = ext4k1(knob);
      f.pwrite(0, new Uint8Array(1546).fill(7));
      f.fsync();
      f.pwrite(1530, new Uint8Array(10).fill(8));
      f.fallocate(FALLOC_FL_ZERO_RANGE, 2048, 1);
      f.fsync();
      const afterZero = cls(f, 2);
      f.pwrite(2039, new Uint8Array(10).fill(9));
      f.fallocate(0, 3072, 1);
      f.fsync();
      assert.strictEqual(f.size, 3073);
      assert.deepStrictEqual(f.pread(1546, 3073 - 1546).filter((x) => x !== 0).length, 10, 'past the old EOFs only the second write\'s bytes are not zero');
      assert.deepStrictEqual(fsys.checkInvariants(), []);
      return [afterZero, cls(f, 3)];
    };
    assert.deepStrictEqual(run(true), ['unwritten', 'unwritten'], 'ext4: the size is set, nothing zeroed into the new blocks');
    assert.deepStrictEqual(run(false), ['written', 'written'], 'truncate up: its zeroing dirties the new block in the dirty EOF folio');
    // INSERT_RANGE (ext4_insert_range adds len to i_size): as on ext4 1k, blocks 0-3 preallocated
    // KEEP_SIZE, 1500 bytes written, an insert of one block at 0: the old block 2 (past EOF in
    // the dirty EOF page) stays unwritten, now block 3 (python and filefrag -v on 6.18.44).
    const insert = (knob: boolean): string => {
      const { fsys, f } = ext4k1(knob);
      f.fallocate(FALLOC_FL_KEEP_SIZE, 0, 4096);
      f.pwrite(0, new Uint8Array(1500).fill(5));
      f.fallocate(0x20, 0, 1024);
      f.fsync();
      assert.strictEqual(f.size, 2524);
      assert.deepStrictEqual(fsys.checkInvariants(), []);
      return [0, 1, 2, 3, 4].map((b) => cls(f, b)).join(' ');
    };
    assert.strictEqual(insert(true), 'hole written written unwritten unwritten');
    // The old EOF block's tail is zeroed only when that block is dirty: an unwritten EOF block
    // in a page dirty elsewhere stays clean (ext4 1k, python and filefrag -v: block 1 unwritten).
    {
      const { f } = ext4k1(true);
      f.fallocate(0, 0, 1500);
      f.pwrite(0, new Uint8Array(100).fill(5));
      f.fallocate(0, 3072, 1);
      f.fsync();
      assert.strictEqual([0, 1, 2, 3].map((b) => cls(f, b)).join(' '), 'written unwritten hole unwritten');
    }
    assert.strictEqual(insert(false), 'hole written written written unwritten', 'the truncate-up zeroing dirtied old block 2');
  });

  it('invalidateDiscardsBlocks: a truncate down leaves the blocks past the new EOF in a large EOF folio clean (ext4 buffer heads), so a later extension does not write them; iomap keeps them dirty (ext4 4k)', () => {
    const run = (knob: boolean): string => {
      const dev = new MemoryDevice({ size: 64 << 20 });
      IomapFs.mkfs(dev, { blockSize: BS, inlineMax: 0 });
      const fsys = IomapFs.mount(dev, {});
      fsys.refs.personality = { ...personality('ext4'), invalidateDiscardsBlocks: knob };
      const f = fsys.open('f', { create: true });
      // As on ext4 4k (6.18.44, python and filefrag -v): one 16 KiB write (a 4-page folio), a
      // truncate to 10000, a 1-byte zero range at block 3 (extending), an fsync: 3 stays unwritten.
      f.pwrite(0, new Uint8Array(4 * BS).fill(7));
      assert.strictEqual(f.inode.mapping.folioAt(0)?.size, 4 * BS, 'one folio over blocks 0-3');
      f.truncate(10000);
      f.fallocate(FALLOC_FL_ZERO_RANGE, 3 * BS, 1);
      f.fsync();
      assert.deepStrictEqual(f.pread(10000, 3 * BS + 1 - 10000).filter((x) => x !== 0).length, 0, 'zeroes past the truncated EOF');
      assert.deepStrictEqual(fsys.checkInvariants(), []);
      return classOf(f, 3);
    };
    assert.strictEqual(run(true), 'unwritten', 'ext4: discarded at the truncate');
    assert.strictEqual(run(false), 'written', 'iomap: still dirty, and inside EOF after the extension');
  });

  it('punchZeroesEdgesOnly: a zero range over a folio written whole leaves the blocks it covers whole clean (ext4 zeroes partial blocks only); zeroing the whole range dirties them again (diff, ext4 1k seed 501, 3 ops)', () => {
    const run = (knob: boolean, over: Partial<Personality> = {}, sync = true): string[] => {
      const dev = new MemoryDevice({ size: 64 << 20 });
      IomapFs.mkfs(dev, { blockSize: 1024, inlineMax: 0 });
      const fsys = IomapFs.mount(dev, { maxFolioSize: 4096 });
      fsys.refs.personality = { ...personality('ext4'), punchZeroesEdgesOnly: knob, ...over };
      const f = fsys.open('f', { create: true });
      // As on ext4 1k (6.18.44, python and filefrag -v): blocks 1-4 unwritten after the fsync.
      f.pwrite(0, new Uint8Array(4096).fill(7)); // one page, no per-block state yet
      f.fallocate(FALLOC_FL_ZERO_RANGE, 512, 4096);
      if (sync) f.fsync();
      assert.deepStrictEqual(Array.from(f.pread(0, 4608)).filter((x) => x !== 0).length, 512, 'only bytes 0-511 keep data');
      assert.deepStrictEqual(fsys.checkInvariants(), []);
      return [0, 1, 2, 3, 4].map((b) => {
        const e = f.fiemap(b * 1024, 1024, 0).find((x) => x.logical <= b * 1024 && b * 1024 < x.logical + x.length);
        return !e ? 'hole' : e.flags & FIEMAP_EXTENT_UNWRITTEN ? 'unwritten' : 'written';
      });
    };
    assert.deepStrictEqual(run(true), ['written', 'unwritten', 'unwritten', 'unwritten', 'unwritten']);
    // Zeroing the whole range reaches the punched holes 1-3; under iomap's 6.12 zeroing (a flush
    // of dirty cache over holes) that writes block 0 back at once, where the edges alone do not.
    const flushing = { zeroDirtyUnwrittenInCache: false } as const;
    assert.deepStrictEqual(run(true, flushing, false), ['unwritten', 'unwritten', 'unwritten', 'unwritten', 'unwritten'], 'edges only: block 0 still dirty');
    assert.deepStrictEqual(run(false, flushing, false), ['written', 'unwritten', 'unwritten', 'unwritten', 'unwritten'], 'the whole range: flushed');
  });

  it("zeroDirtyUnwrittenInCache 'always' (ext4): zeroing over holes and unwritten blocks touches only blocks that are dirty themselves, so a zero range's tail edge leaves a clean unwritten block clean in a folio dirty elsewhere (diff, ext4 1k seed 501, 4 ops)", () => {
    const dev = new MemoryDevice({ size: 64 << 20 });
    IomapFs.mkfs(dev, { blockSize: 1024, inlineMax: 0 });
    const fsys = IomapFs.mount(dev, { maxFolioSize: 4096 });
    fsys.refs.personality = personality('ext4');
    const f = fsys.open('f', { create: true });
    // As on ext4 1k (6.18.44, python and filefrag -v): block 1 unwritten after the fsync.
    f.truncate(2048);
    f.pwrite(0, new Uint8Array(1));
    f.fallocate(FALLOC_FL_ZERO_RANGE, 40, 985);
    f.fsync();
    const e = f.fiemap(1024, 1024, 0)[0];
    assert.ok(e !== undefined && (e.flags & FIEMAP_EXTENT_UNWRITTEN) !== 0, 'block 1 unwritten');
    assert.deepStrictEqual(fsys.checkInvariants(), []);
  });

  it('writeBackAfterTruncateZero: generic writes the zeroed EOF block back; xfs writes [on-disk size, new size) only; ext4 nothing', () => {
    // A synced file truncated down inside its on-disk size: generic writes the EOF block, xfs and ext4 leave it dirty.
    for (const name of ['generic', 'xfs', 'ext4'] as const) {
      const { fsys, f } = mount(name);
      f.pwrite(0, new Uint8Array(2 * BS).fill(4));
      f.fsync();
      f.truncate(BS + 100);
      const eof = f.inode.mapping.folioAt(BS);
      assert.ok(eof, `${name}: the zeroed EOF folio is cached`);
      assert.strictEqual(eof.dirty, name !== 'generic', `${name}: EOF folio dirty=${eof.dirty}`);
      fsys.syncAndDropCaches();
      assert.ok(f.pread(BS, 100).every((b) => b === 4));
      assert.strictEqual(f.size, BS + 100);
    }
    // Never synced (on-disk size 0): xfs writes back everything below the new size, ext4 nothing.
    for (const name of ['xfs', 'ext4'] as const) {
      const { f } = mount(name);
      f.pwrite(0, new Uint8Array(3 * BS).fill(4));
      f.truncate(BS + 100);
      assert.strictEqual(f.inode.mapping.folioAt(0)!.dirty, name === 'ext4', `${name}: block 0`);
      assert.strictEqual(f.inode.mapping.folioAt(BS)!.dirty, name === 'ext4', `${name}: the EOF block`);
    }
  });

  it('zeroDirtyUnwrittenInCache: zeroing over dirty unwritten blocks writes them back first (generic) or zeroes the cache in place (xfs, ext4)', () => {
    for (const name of ['generic', 'xfs', 'ext4'] as const) {
      const { fsys, f } = mount(name);
      f.fallocate(0, 0, 4 * BS);
      f.fsync();
      f.pwrite(BS, new Uint8Array(2 * BS).fill(5)); // dirty over unwritten
      f.truncate(BS + 100); // zeroes the tail of block 1, inside the on-disk size
      assert.strictEqual(classOf(f, 1), name === 'generic' ? 'written' : 'unwritten', name);
      assert.ok(f.pread(BS, 100).every((b) => b === 5), name);
      f.truncate(2 * BS);
      assert.ok(f.pread(BS + 100, BS - 100).every((b) => b === 0), name);
      assert.deepStrictEqual(fsys.checkInvariants(), [], name);
    }
  });

  it('convertWholeDelalloc: writeback of one block allocates the whole delalloc extent (xfs) or just that block (ext4)', () => {
    for (const name of ['xfs', 'ext4'] as const) {
      const { fsys, f } = mount(name);
      f.pwrite(0, new Uint8Array(8 * BS).fill(1));
      assert.strictEqual(filemapWriteAndWaitRange(f.inode.mapping, 0, BS - 1), 0);
      fsys.queue.drain();
      assert.strictEqual(classOf(f, 0), 'written', name);
      for (const b of [1, 7]) assert.strictEqual(classOf(f, b), name === 'xfs' ? 'unwritten' : 'delalloc', `${name} block ${b}`);
      assert.strictEqual(fsys.refs.reservedBlocks, name === 'xfs' ? 0 : 7, name);
      assert.deepStrictEqual(fsys.checkInvariants(), [], name);
    }
  });

  it('reflinkSkipsUnwritten: cloning an unwritten source block leaves a hole on xfs, shares it on generic', () => {
    for (const name of ['xfs', 'generic'] as const) {
      const { fsys, f } = mount(name);
      f.pwrite(0, new Uint8Array(BS).fill(3));
      f.fallocate(FALLOC_FL_KEEP_SIZE, BS, BS);
      f.truncate(2 * BS);
      f.fsync();
      f.pwrite(4 * BS, new Uint8Array(2 * BS).fill(8));
      f.fsync();
      f.cloneRange(0, 2 * BS, 4 * BS);
      assert.strictEqual(classOf(f, 4), 'written', `${name}: the written source block is shared`);
      assert.strictEqual(classOf(f, 5), name === 'xfs' ? 'hole' : 'unwritten', `${name}: block 5 after cloning an unwritten block`);
      assert.ok(f.pread(5 * BS, BS).every((b) => b === 0), name);
      assert.deepStrictEqual(fsys.checkInvariants(), [], name);
    }
  });

  it('dioFallbackOnReflinkedInode: an unaligned O_DIRECT write to a reflinked file stays buffered and dirty on xfs, goes to disk on generic (the blocks written are not shared)', () => {
    for (const name of ['xfs', 'generic'] as const) {
      const { fsys, f } = mount(name);
      f.pwrite(0, new Uint8Array(2 * BS).fill(3));
      f.fsync();
      f.cloneRange(0, BS, 4 * BS);
      f.fsync(); // block 8 is not shared, but the file is reflinked
      f.directWrite(8 * BS + 512, new Uint8Array(1024).fill(6));
      assert.strictEqual(classOf(f, 8), name === 'xfs' ? 'delalloc' : 'written', name);
      assert.deepStrictEqual(Array.from(f.pread(8 * BS + 512, 2)), [6, 6], name);
      assert.deepStrictEqual(fsys.checkInvariants(), [], name);
    }
  });

  it('dioFallbackOnReflinkedInode: the reflink flag survives a remount (XFS_DIFLAG2_REFLINK is on disk), so an unaligned O_DIRECT write after it still goes through the cache', () => {
    const dev = new MemoryDevice({ size: 64 << 20 });
    IomapFs.mkfs(dev, { blockSize: BS });
    const first = IomapFs.mount(dev, { maxFolioSize: BS });
    first.refs.personality = personality('xfs');
    const f0 = first.open('f', { create: true });
    f0.pwrite(0, new Uint8Array(2 * BS).fill(3));
    f0.fsync();
    f0.cloneRange(0, BS, 4 * BS);
    f0.fsync();
    first.unmount();
    const fsys = IomapFs.mount(dev, { maxFolioSize: BS });
    fsys.refs.personality = personality('xfs');
    const f = fsys.open('f');
    assert.strictEqual(fsys.refs.isReflinked(f.inode), true, 'the flag was read back');
    f.directWrite(8 * BS + 512, new Uint8Array(1024).fill(6));
    assert.strictEqual(classOf(f, 8), 'delalloc', 'buffered, as before the remount');
    assert.strictEqual(f.bmap(0), 0, 'FIBMAP of the file with shared blocks: 0');
    assert.deepStrictEqual(fsys.checkInvariants(), []);
  });

  it('shiftFreesPostEofBlocks: collapse frees the blocks past EOF first on xfs, shifts them on generic (diff, xfs 4k, 4 ops)', () => {
    for (const name of ['xfs', 'generic'] as const) {
      const { fsys, f } = mount(name);
      f.truncate(3 * BS);
      f.fallocate(FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE, 0, 4 * BS); // block 3 lies past EOF
      f.fallocate(0x08, 0, 2 * BS); // collapse: old blocks 2, 3 become 0, 1
      f.fallocate(FALLOC_FL_ZERO_RANGE, 2 * BS, 1);
      assert.strictEqual(classOf(f, 1), name === 'xfs' ? 'hole' : 'unwritten', name);
      assert.deepStrictEqual(fsys.checkInvariants(), [], name);
    }
  });

  it('shiftFlushesUnitBefore: collapse writes back from one block before the offset on xfs (xfs_prepare_shift), from the offset on generic (diff, xfs 4k, 4 ops)', () => {
    for (const name of ['xfs', 'generic'] as const) {
      const { fsys, f } = mount(name);
      f.pwrite(0, new Uint8Array(4 * BS).fill(3));
      f.fallocate(0x08, 2 * BS, BS); // collapse block 2
      // Block 1 was written back on xfs; on generic only blocks 2-3 were, which allocated the
      // whole delalloc extent and left block 1 unwritten and dirty.
      assert.strictEqual(classOf(f, 1), name === 'xfs' ? 'written' : 'unwritten', name);
      assert.deepStrictEqual(fsys.checkInvariants(), [], name);
    }
  });

  it('unshareOnlyReflinked: UNSHARE_RANGE on a never-reflinked file only allocates on xfs (xfs_reflink_unshare returns at once), writes the range back on generic (diff, xfs 4k, 2 ops)', () => {
    for (const name of ['xfs', 'generic'] as const) {
      const { fsys, f, writes } = mount(name);
      f.pwrite(0, new Uint8Array(2 * BS).fill(3));
      const before = writes();
      f.fallocate(0x40, 0, BS);
      assert.strictEqual(writes() > before, name === 'generic', `${name}: wrote back`);
      assert.strictEqual(classOf(f, 0), name === 'xfs' ? 'unwritten' : 'written', name);
      assert.deepStrictEqual(fsys.checkInvariants(), [], name);
    }
  });

  it('xfs: an unshare that leaves nothing shared clears the reflink flag, unless the inode has dirty pages (xfs_reflink_try_clear_inode_flag; diff, xfs 4k, 5 ops)', () => {
    for (const dirtyFirst of [false, true]) {
      const { fsys, f, writes } = mount('xfs');
      f.fallocate(0, 0, BS);
      if (dirtyFirst) f.pwrite(8 * BS, new Uint8Array(1).fill(1)); // a dirty page elsewhere: I_DIRTY_PAGES
      f.cloneRange(0, BS, BS); // an unwritten source: nothing shared, but the flag is set
      assert.strictEqual(fsys.refs.isReflinked(f.inode), true);
      f.fallocate(0x40, 0, 1);
      assert.strictEqual(fsys.refs.isReflinked(f.inode), dirtyFirst, `dirty pages first: ${dirtyFirst}`);
      // The next unshare on a flagless file only allocates: nothing is written back.
      f.pwrite(4 * BS, new Uint8Array(BS).fill(2));
      const before = writes();
      f.fallocate(0x40, 4 * BS, BS);
      assert.strictEqual(writes() > before, dirtyFirst, `dirty pages first: ${dirtyFirst}`);
      assert.deepStrictEqual(fsys.checkInvariants(), []);
    }
  });

  it('xfs: truncate writes back from i_disk_size, which a direct write past dirty data moved (xfs_setfilesize is not ordered; diff, xfs 4k, 3 ops)', () => {
    for (const name of ['xfs', 'generic'] as const) {
      const { f } = mount(name);
      f.pwrite(0, new Uint8Array(BS).fill(1)); // block 0 dirty delalloc (a whole block: no inline data)
      f.directWrite(BS, new Uint8Array(BS).fill(2)); // on-disk size now 2 blocks
      f.truncate(1);
      assert.strictEqual(classOf(f, 0), name === 'xfs' ? 'delalloc' : 'written', name);
    }
  });

  it("zeroDirtyUnwrittenInCache 'within-eof': xfs zeroes dirty cache over unwritten blocks in place only inside the EOF block; past it the flush decides (diff, xfs 1k, 2 ops)", () => {
    for (const how of ['within-eof', true] as const) {
      const { fsys, f } = mountXfs1k({ zeroDirtyUnwrittenInCache: how });
      f.pwrite(1024, new Uint8Array(4096).fill(1)); // blocks 1-4, EOF 5120 (block aligned), page 1 dirty
      f.fallocate(0, 2048, 4096); // blocks 2-5 unwritten, then the size grows over block 5
      // Zeroing block 5 (past EOF, in dirty page 1) flushed page 1 on xfs; i_disk_size moved to
      // 5120 with it, so the truncate's write-back did not reach page 0 (block 1 still delalloc).
      const cls = (b: number) => { const e = f.fiemap(b * 1024, 1024, 0)[0]; return e === undefined ? 'hole' : e.flags & FIEMAP_EXTENT_DELALLOC ? 'delalloc' : e.flags & FIEMAP_EXTENT_UNWRITTEN ? 'unwritten' : 'written'; };
      assert.deepStrictEqual([1, 2, 4].map(cls), how === 'within-eof' ? ['delalloc', 'unwritten', 'written'] : ['written', 'written', 'written'], String(how));
      assert.deepStrictEqual(fsys.checkInvariants(), [], String(how));
    }
  });

  /*
   * Found by diff on xfs 1k (seed 42, op 20,706, 6 ops): a zero range over the tail of written block
   * 44 and the head of unwritten block 45 (one page) zeroes 44 through the cache, which dirties the
   * page, but leaves 45 alone: on Linux 6.18.44 block 45 is still unwritten after an fsync (checked
   * with xfs_io: pwrite 0 45056, falloc 45056 1024, truncate 47104, fsync, fzero 45057 1024, fsync,
   * bmap). The model took every dirty folio for the batch, so it dirtied 45 too and wrote it.
   */
  it("zeroDirtyUnwrittenInCache 'within-eof': only blocks that are dirty themselves are zeroed in place; a page dirtied by the same zeroing does not make its unwritten blocks dirty (diff, xfs 1k, 6 ops)", () => {
    for (const how of ['within-eof', true] as const) {
      const { fsys, f } = mountXfs1k({ zeroDirtyUnwrittenInCache: how });
      f.pwrite(0, new Uint8Array(45 * 1024).fill(1));
      f.fallocate(0, 45 * 1024, 1024);
      f.truncate(46 * 1024);
      f.fsync();
      f.fallocate(FALLOC_FL_ZERO_RANGE, 44 * 1024 + 1, 1024);
      f.fsync();
      const e = f.fiemap(45 * 1024, 1024, 0)[0];
      assert.strictEqual(e.flags & FIEMAP_EXTENT_UNWRITTEN ? 'unwritten' : 'written', how === 'within-eof' ? 'unwritten' : 'written', String(how));
      const got = f.pread(44 * 1024, 2048);
      assert.ok(got.subarray(0, 1).every((b) => b === 1) && got.subarray(1).every((b) => b === 0), String(how));
      assert.deepStrictEqual(fsys.checkInvariants(), [], String(how));
    }
  });

  /*
   * Found by diff on xfs 1k (seed 44, op 104,428, 4 ops): xfs_prepare_shift calls xfs_free_eofblocks
   * only when xfs_can_free_eofblocks finds a post-EOF extent or a delalloc reservation; with none,
   * nothing is truncated and the reflink flag a clone of a hole set stays, so the next unaligned
   * O_DIRECT write falls back to a buffered one (checked with xfs_io on 6.18.44: 0-1 delalloc). The
   * model truncated (and cleared the flag) on every shift.
   */
  it('shiftFreesPostEofBlocks: only when there is something past EOF or delalloc to free; otherwise the reflink flag stays (diff, xfs 1k, 4 ops)', () => {
    const { fsys, f } = mountXfs1k({});
    f.pwrite(1024, new Uint8Array(1).fill(1));
    f.cloneRange(0, 1024, 1024); // a hole onto block 1: nothing shared, the flag set
    f.fallocate(0x20, 0, 1024); // INSERT_RANGE: nothing past EOF, nothing delalloc
    f.directWrite(512, new Uint8Array(1024).fill(2)); // unaligned: a buffered write on a reflinked inode
    const e = f.fiemap(0, 2048, 0)[0];
    assert.ok(e !== undefined && (e.flags & FIEMAP_EXTENT_DELALLOC) !== 0, 'blocks 0-1 delalloc: the write fell back to the page cache');
    assert.deepStrictEqual(fsys.checkInvariants(), []);
  });

  // xfs_falloc_insert_range sets the new size before xfs_prepare_shift frees past EOF (checked with
  // xfs_io on 6.18.44 xfs 4k: pwrite 0 8192, fsync, falloc -k 8192 8192, finsert 0 8192, truncate
  // 24576 leaves blocks 4-5 unwritten). The model freed past the old size first.
  it('shiftFreesPostEofBlocks: an insert range frees only past the new EOF, so blocks between the old and new size are shifted out past EOF (xfs)', () => {
    const { f } = mount('xfs');
    f.pwrite(0, new Uint8Array(2 * BS).fill(1));
    f.fsync();
    f.fallocate(FALLOC_FL_KEEP_SIZE, 2 * BS, 2 * BS); // blocks 2-3 unwritten past EOF
    f.fallocate(0x20, 0, 2 * BS); // INSERT_RANGE: the size becomes 4 blocks first, then the shift
    f.truncate(6 * BS);
    assert.deepStrictEqual([0, 1, 2, 3, 4, 5].map((b) => classOf(f, b)), ['hole', 'hole', 'written', 'written', 'unwritten', 'unwritten']);
  });

  /*
   * Found by diff on xfs 1k (seed 201, op 9,498, 5 ops): every fallocate that allocates sets the
   * persistent-preallocation inode flag (xfs_alloc_file_space), and then xfs_can_free_eofblocks
   * answers no unless the inode has delalloc, and xfs_free_eofblocks punches only delalloc: an insert
   * shifts the blocks past EOF along (xfs_io on 6.18.44, xfs 1k: fzero -k 724 64813, fzero 0 1,
   * finsert 0 3072 leaves blocks 3-67 unwritten past EOF; with a delalloc block inside EOF as well).
   * Blocks past EOF without the flag (speculative preallocation) are freed first, as before.
   */
  it('shiftFreesPostEofBlocks: an insert keeps the blocks past EOF of a file fallocate preallocated (XFS_DIFLAG_PREALLOC), frees speculative ones (diff, xfs 1k, 5 ops)', () => {
    for (const falloc of [false, true]) {
      const { fsys, f } = mountXfs1k({});
      fsys.refs.eofPreallocBlocks = 64; // speculative preallocation up to block 64 at writeback
      if (falloc) f.fallocate(FALLOC_FL_KEEP_SIZE, 0, 64 * 1024); // blocks 0-63, the flag set
      f.pwrite(0, new Uint8Array(10 * 1024).fill(1));
      f.fsync(); // blocks 10-63 past EOF: written (speculative) or unwritten (fallocate)
      f.pwrite(5 * 1024, new Uint8Array(1).fill(2)); // dirty inside EOF, no delalloc
      f.fallocate(0x20, 0, 3072); // INSERT_RANGE: block b moves to b + 3
      const e = f.fiemap(20 * 1024, 1024, 0)[0]; // block 20 was block 17, past EOF
      assert.strictEqual(e === undefined ? 'hole' : e.flags & FIEMAP_EXTENT_UNWRITTEN ? 'unwritten' : 'other', falloc ? 'unwritten' : 'hole', `fallocate ${falloc}`);
      assert.deepStrictEqual(fsys.checkInvariants(), [], `fallocate ${falloc}`);
    }
  });

  // XFS_DIFLAG_PREALLOC is an on-disk inode flag (di_flags): a remount keeps it, so an insert after
  // the remount still keeps the fallocated blocks past EOF.
  it('shiftFreesPostEofBlocks: the persistent-preallocation flag survives a remount (an on-disk inode flag)', () => {
    const dev = new MemoryDevice({ size: 64 << 20 });
    IomapFs.mkfs(dev, { blockSize: 1024 });
    const first = IomapFs.mount(dev, { maxFolioSize: 4096 });
    first.refs.personality = personality('xfs');
    const f0 = first.open('f', { create: true });
    f0.fallocate(FALLOC_FL_KEEP_SIZE, 0, 64 * 1024); // blocks 0-63, the flag set
    f0.pwrite(0, new Uint8Array(10 * 1024).fill(1));
    f0.fsync();
    first.unmount();
    const fsys = IomapFs.mount(dev, { maxFolioSize: 4096 });
    fsys.refs.personality = personality('xfs');
    const f = fsys.open('f');
    f.fallocate(0x20, 0, 3072); // INSERT_RANGE: block b moves to b + 3
    const e = f.fiemap(20 * 1024, 1024, 0)[0]; // block 20 was block 17, past EOF
    assert.ok(e !== undefined && (e.flags & FIEMAP_EXTENT_UNWRITTEN) !== 0, 'block 20 still preallocated (unwritten) after the remount');
    assert.deepStrictEqual(fsys.checkInvariants(), []);
  });

  // Found by diff on xfs 1k (seed 46, op 5,670, 3 ops); ext4 does the same (checked with xfs_io on
  // 6.18.44 ext4 1k: falloc -k 0 1, truncate 0, pwrite 1024 1 leaves block 0 a hole; truncate 1 keeps it).
  it('truncateSameSizeFrees: a truncate to the current size frees a KEEP_SIZE preallocation past EOF on xfs and ext4, not on generic (diff, xfs 1k, 3 ops)', () => {
    for (const name of ['generic', 'xfs', 'ext4'] as const) {
      const { f } = mount(name);
      f.fallocate(FALLOC_FL_KEEP_SIZE, 0, 1);
      f.truncate(0);
      f.pwrite(BS, new Uint8Array(1).fill(1));
      assert.strictEqual(classOf(f, 0), name === 'generic' ? 'unwritten' : 'hole', name);
    }
  });

  // Found by diff on xfs 4k (seed 45, op 53,050, shrunk to 2 ops); the shortened counts and the
  // fall-backs were checked against 6.18.44 xfs 4k with the diff (write 20000 + copy 0+10000 to
  // 40960; a source tail at EOF landing inside the destination; unaligned offsets; overlapping blocks).
  it('copyRangeRemapsFirst: xfs shares block-aligned copy_file_range ranges (short count to whole blocks), copying only what the remap refuses; generic and ext4 always copy', () => {
    const shared = (f: FileHandle, b: number) => f.fiemap(b * BS, BS, 0).some((e) => (e.flags & FIEMAP_EXTENT_SHARED) !== 0);
    for (const name of ['generic', 'xfs', 'ext4'] as const) {
      const { f } = mount(name);
      f.pwrite(0, new Uint8Array(5 * BS).fill(7));
      f.fsync();
      const remaps = name === 'xfs';
      // Aligned offsets, a length of 2 blocks + 100 bytes not ending at EOF: the remap shortens it to 2 blocks.
      assert.strictEqual(f.copyRange(0, 2 * BS + 100, 8 * BS), remaps ? 2 * BS : 2 * BS + 100, name);
      assert.deepStrictEqual([shared(f, 8), shared(f, 9), classOf(f, 8)], remaps ? [true, true, 'written'] : [false, false, 'delalloc'], name);
      // What is left (100 bytes, aligned, inside EOF) shortens to nothing: copied through the cache.
      assert.strictEqual(f.copyRange(2 * BS, 100, 10 * BS), 100, name);
      assert.strictEqual(classOf(f, 10), 'delalloc', name);
      // Unaligned offsets: the remap fails with EINVAL and the copy goes through the cache.
      assert.strictEqual(f.copyRange(100, BS, 12 * BS + 100), BS, name);
      assert.deepStrictEqual([shared(f, 12), classOf(f, 12)], [false, 'delalloc'], name);
      // The source's partial EOF block, past the destination's EOF: remapped whole, the full count.
      f.fsync();
      const size = f.size;
      assert.strictEqual(f.copyRange(10 * BS, size - 10 * BS, 16 * BS), size - 10 * BS, name);
      assert.deepStrictEqual([shared(f, 16), f.size], [remaps, 16 * BS + size - 10 * BS], name);
      assert.deepStrictEqual(Array.from(f.pread(8 * BS, 2 * BS + 100)), Array.from(new Uint8Array(2 * BS + 100).fill(7)), name);
    }
  });

  // fsx.c's do_copy_range loops until the whole length is copied and fails only on 0 ("no
  // progress"); the harness's copy_range op does the same, so xfs's short answers pass.
  it('copyRangeRemapsFirst: fsx\'s copy_range op takes the short count of a remap and copies the rest (xfs: 8192, then 100 bytes)', () => {
    const a = new ReferenceAdapter({ personality: 'xfs' });
    const counts: number[] = [];
    const open = a.open.bind(a);
    a.open = () => {
      const t = open();
      const copy = t.copyRange!.bind(t);
      t.copyRange = (src, len, dst) => { const n = copy(src, len, dst); counts.push(n); return n; };
      return t;
    };
    const quiet = { out: () => undefined, err: () => undefined };
    const ops: OpRecord[] = [{ op: 'write', off: 0, len: 5 * BS }, { op: 'copy_range', off: 0, len: 2 * BS + 100, dst: 8 * BS }, { op: 'read', off: 0, len: 10 * BS + 100 }];
    const r = replayLog(a, 'reference', {
      format: OPLOG_FORMAT, version: OPLOG_VERSION, adapter: 'reference', geometry: { blockSize: BS, pageSize: 4096 }, setup: { personality: 'xfs' }, seed: 1, ops,
    }, { quiet: true, debug: false, logDumpOps: 0 }, quiet);
    assert.strictEqual(r.failure, null, r.report.join('\n'));
    assert.deepStrictEqual(counts, [2 * BS, 100]);
  });

  // Found by diff on xfs 1k (seed 47, op 77,016, shrunk to 4 ops); xfs_io on 6.18.44 xfs 1k:
  // pwrite 194560 15368, fzero 209408 2048 leaves block 204 written and 205 unwritten, fsync or not.
  it('punchWritesBackEofPage: a zero range reaching EOF writes the EOF page back (xfs_free_file_space), so the size extension after it zeroes nothing into the old EOF block (diff, xfs 1k, 4 ops)', () => {
    for (const on of [true, false]) {
      const { f } = mountXfs1k({ punchWritesBackEofPage: on });
      f.pwrite(194560, new Uint8Array(15368).fill(3)); // blocks 190-205, EOF 8 bytes into 205
      f.fallocate(FALLOC_FL_ZERO_RANGE, 209408, 2048); // tail of 204, all of 205, head of 206
      const cls = (b: number) => {
        const e = f.fiemap(b * 1024, 1024, 0).find((x) => x.logical <= b * 1024 && b * 1024 < x.logical + x.length);
        return !e ? 'hole' : e.flags & FIEMAP_EXTENT_DELALLOC ? 'delalloc' : e.flags & FIEMAP_EXTENT_UNWRITTEN ? 'unwritten' : 'written';
      };
      assert.deepStrictEqual([cls(204), cls(205), cls(206)], on ? ['written', 'unwritten', 'unwritten'] : ['written', 'written', 'unwritten'], `knob ${on}`);
      assert.deepStrictEqual(Array.from(f.pread(209400, 16)), [3, 3, 3, 3, 3, 3, 3, 3, 0, 0, 0, 0, 0, 0, 0, 0]);
    }
  });

  it('zeroPartialBlockInCache: xfs zeroes a partial EOF block in dirty cache in place, even over a hole; without it the flush writes the folio around it back (diff, xfs 1k, 3 ops)', () => {
    for (const inCache of [true, false]) {
      const dev = new MemoryDevice({ size: 64 << 20 });
      IomapFs.mkfs(dev, { blockSize: 1024 });
      const fsys = IomapFs.mount(dev, { maxFolioSize: 2 << 20 });
      fsys.refs.personality = { ...personality('xfs'), zeroPartialBlockInCache: inCache };
      const f = fsys.open('f', { create: true });
      f.fallocate(FALLOC_FL_ZERO_RANGE, 0x7800, 1); // size 0x7801, on disk too
      f.pwrite(0x400, new Uint8Array(0x6e00).fill(3)); // blocks 1-28 delalloc; page 7 (blocks 28-31) dirty
      f.truncate(0x7401); // zeroes [0x7401, 0x7800) of block 29, a hole inside dirty page 7
      // Linux 6.18.44, xfs 1k: xfs_io -f -c "fzero 0x7800 1" -c "pwrite -q 0x400 0x6e00" -c "truncate 0x7401"
      // -c "bmap -e -p -v" shows blocks 1-28 still delalloc: nothing was written back.
      const cls = (b: number) => { const e = f.fiemap(b * 1024, 1024, 0)[0]; return e === undefined ? 'hole' : e.flags & FIEMAP_EXTENT_DELALLOC ? 'delalloc' : e.flags & FIEMAP_EXTENT_UNWRITTEN ? 'unwritten' : 'written'; };
      assert.deepStrictEqual([1, 28, 29].map(cls), inCache ? ['delalloc', 'delalloc', 'hole'] : ['unwritten', 'written', 'hole'], String(inCache));
      assert.ok(f.pread(0x7000, 0x401).subarray(0, 0x200).every((b) => b === 3), String(inCache));
      assert.strictEqual(f.pread(0x7400, 1)[0], 0, String(inCache));
      assert.deepStrictEqual(fsys.checkInvariants(), [], String(inCache));
    }
  });

  // Found by diff on xfs 1k (seed 203, op 87,695, 5 ops), the same cause as the punchWritesBackEofPage case:
  // Linux 6.18.44 xfs 1k: xfs_io -f -c "pwrite -q 0 5632" -c fsync -c "fzero 4104 2048" -c "bmap -e -p -v"
  // shows blocks 0-4 written and 5-6 unwritten.
  it('punchWritesBackEofPage: a zero range reaching EOF over a synced EOF block leaves it unwritten after the size extension (diff, xfs 1k, 5 ops)', () => {
    const { fsys, f } = mountXfs1k({});
    f.pwrite(0, new Uint8Array(5632).fill(7)); // blocks 0-5, EOF inside block 5 (page 1: blocks 4-7)
    f.fsync();
    // Block 4's tail is zeroed in the cache, block 5 punched and preallocated unwritten, the EOF page
    // written back (xfs_free_file_space): the extension to 6152 then finds nothing dirty to zero.
    f.fallocate(FALLOC_FL_ZERO_RANGE, 4104, 2048);
    const at = (b: number) => { const e = f.fiemap(b * 1024, 1024, 0)[0]; return e === undefined ? 'hole' : e.flags & FIEMAP_EXTENT_UNWRITTEN ? 'unwritten' : e.flags & FIEMAP_EXTENT_DELALLOC ? 'delalloc' : 'written'; };
    assert.deepStrictEqual([4, 5, 6].map(at), ['written', 'unwritten', 'unwritten']);
    assert.strictEqual(f.size, 6152);
    assert.ok(f.pread(4104, 2048).every((b) => b === 0));
    assert.deepStrictEqual(fsys.checkInvariants(), []);
  });

  /** A 4 KiB-block filesystem with folios up to 2 MiB (xfs's), `name`'s personality. */
  function mountLargeFolios(name: PersonalityName): { fsys: IomapFs; f: FileHandle } {
    const dev = new MemoryDevice({ size: 64 << 20 });
    IomapFs.mkfs(dev, { blockSize: BS });
    const fsys = IomapFs.mount(dev, { maxFolioSize: 2 << 20 });
    fsys.refs.personality = personality(name);
    return { fsys, f: fsys.open('f', { create: true }) };
  }

  // Found by diff on xfs 4k (seed 104, op 33,422, 4 ops); Linux 6.18.44 xfs 4k: xfs_io -f -c "pwrite -q -b 1m 0 8192"
  // -c "truncate 4096" -c "truncate 8192" -c "mmap -r 0 8192" -c mincore shows page 1 not cached (1 page); with
  // "pwrite, fsync, pwrite" first (the disk size covers the new size) or "truncate 4000", 2 pages.
  it('writeBackAfterTruncateZero disk-size-range: a block-aligned truncate down the disk lags behind writes back [disk size, new size) first (xfs_setattr_size); generic does not', () => {
    for (const name of ['xfs', 'generic'] as const) {
      const { fsys, f } = mountLargeFolios(name);
      f.pwrite(0, new Uint8Array(2 * BS).fill(3)); // one 8 KiB folio, nothing on disk
      f.truncate(BS);
      assert.strictEqual(classOf(f, 0), name === 'xfs' ? 'written' : 'delalloc', name);
      assert.strictEqual(f.inode.mapping.folioAt(BS), undefined, `${name}: page 1 dropped`);
      assert.deepStrictEqual(fsys.checkInvariants(), [], name);
    }
    const { f } = mountLargeFolios('xfs');
    f.pwrite(0, new Uint8Array(2 * BS).fill(3));
    f.fsync();
    f.pwrite(0, new Uint8Array(2 * BS).fill(4)); // dirty again, with per-block state from the writeback; the disk size covers 4096
    f.truncate(BS);
    assert.ok(f.inode.mapping.folioAt(BS) !== undefined, 'xfs, disk size covers: the dirty folio stays whole');
  });

  it('dioFallbackOnReflinkedInode: the fallback comes before any zeroing past EOF, so only the buffered write zeroes, and the EOF block it dirties stays dirty (diff, xfs 4k seed 416, 8 ops)', () => {
    const { fsys, f } = mountLargeFolios('xfs');
    f.truncate(3 * BS);
    f.cloneRange(BS, BS, 2 * BS); // a hole onto a hole: nothing shared, the reflink flag set
    f.pwrite(0, new Uint8Array(2 * BS).fill(1)); // one 8 KiB folio over blocks 0-1
    f.truncate(512); // its zeroing gives the folio per-block state, so it stays whole
    f.fsync(); // block 0 written and clean, size 512; the flag stays (an extent is left)
    f.directWrite(2 * BS, new Uint8Array(512).fill(2)); // unaligned and extending: buffered, zeroing [512, 8192)
    const eof = f.inode.mapping.folioAt(0);
    assert.ok(eof !== undefined && eof.dirty, 'the EOF block zeroed past 512 is dirty (a second zeroing would have found it dirty and flushed it)');
    assert.strictEqual(classOf(f, 2), 'delalloc');
    assert.deepStrictEqual(Array.from(f.pread(510, 4)), [1, 1, 0, 0]);
    assert.deepStrictEqual(fsys.checkInvariants(), []);
  });

  // Found by diff on xfs 4k (seed 412, op 31,152, 4 ops); Linux 6.18.44 xfs 4k, python (pwrite, ftruncate, FIEMAP
  // without sync): truncate 4096, pwrite 0 8192, truncate 4096, pwrite 8192 1 leaves block 0 delalloc (page 1
  // went with the truncate, so the extending write's zeroing flush from 4096 found no dirty folio); with a
  // 100-byte pwrite at 5000 before the truncate (the folio gets per-block state), block 0 is written.
  it('truncate splits a dirty large folio that has no per-block state (written whole), dropping its pages past EOF; one with state (or ext4 buffer heads) stays whole', () => {
    const run = (name: PersonalityName, partial: boolean): { page1: boolean; block0: string } => {
      const { fsys, f } = mountLargeFolios(name);
      f.truncate(BS); // the disk size covers the truncate below: nothing is written back by it
      f.pwrite(0, new Uint8Array(2 * BS).fill(3)); // one 8 KiB folio written whole: no ifs
      if (partial) f.pwrite(5000, new Uint8Array(100).fill(4)); // a partial write gives it one
      f.truncate(BS);
      const page1 = f.inode.mapping.folioAt(BS) !== undefined;
      f.pwrite(2 * BS, new Uint8Array(1).fill(5)); // its zeroing from 4096 flushes a dirty folio there
      assert.deepStrictEqual(fsys.checkInvariants(), [], name);
      assert.ok(f.pread(0, BS).every((b) => b === 3), `${name}: block 0 keeps its data`);
      return { page1, block0: classOf(f, 0) };
    };
    for (const name of ['xfs', 'generic'] as const) {
      assert.deepStrictEqual(run(name, false), { page1: false, block0: 'delalloc' }, `${name}, written whole`);
      assert.deepStrictEqual(run(name, true), { page1: true, block0: 'written' }, `${name}, partial write`);
    }
    assert.strictEqual(run('ext4', false).page1, true, 'ext4: buffer heads keep a dirty folio whole');
  });

  // Found by diff on xfs 4k (seed 104, op 33,422, 5 ops): xfs_reflink_remap_prep flushes and unmaps from the old
  // EOF (rounded down to the page) when the clone lands past it, so the clean folio over the EOF block splits.
  // Linux 6.18.44 xfs 4k, ftrace (iomap_release_folio, mm_filemap_delete_from_page_cache): after pwrite 0 16384,
  // fsync, truncate 10000, fsync, a clone of block 0 to 20480 drops the clean 16 KiB folio 0-3 whole.
  it('clone past EOF: the flush and unmap start at the old EOF, so the cached folio holding it goes (xfs_reflink_remap_prep); whole on xfs, from that page on generic', () => {
    for (const name of ['xfs', 'generic'] as const) {
      const { fsys, f } = mountLargeFolios(name);
      f.pwrite(0, new Uint8Array(4 * BS).fill(3)); // one 16 KiB folio
      f.fsync();
      f.truncate(10000);
      f.fsync();
      f.cloneRange(0, BS, 5 * BS);
      const pages = [0, 1, 2, 3].filter((p) => f.inode.mapping.folioAt(p * BS) !== undefined);
      assert.deepStrictEqual(pages, name === 'generic' ? [0, 1] : [], `${name}: pages cached after the clone`);
      assert.ok(f.pread(0, 10000).every((b) => b === 3), name);
      assert.deepStrictEqual(fsys.checkInvariants(), [], name);
    }
  });

  // Linux 6.18.44 xfs 4k, ftrace: after pwrite 0 32768 (one folio), fsync, a punch, zero range, collapse or insert
  // of one block inside it, or a clone or dedupe onto one block of it, releases and removes the whole folio (no
  // partial iomap_invalidate_folio); a truncate to 8192 splits it instead (pages 2-3 removed). diff, xfs 4k seed 1103.
  it('flushUnmapDropsWholeFolios: the drop after xfs_flush_unmap_range takes a clean large folio whole (xfs); generic splits it and keeps the pages outside the range', () => {
    const cached = (name: PersonalityName, op: (f: FileHandle) => void): number[] => {
      const { fsys, f } = mountLargeFolios(name);
      f.pwrite(0, new Uint8Array(8 * BS).fill(3));
      f.fsync();
      op(f);
      const pages = [...Array(8).keys()].filter((p) => f.inode.mapping.folioAt(p * BS) !== undefined);
      assert.deepStrictEqual(fsys.checkInvariants(), [], name);
      assert.ok(f.pread(0, 2 * BS).every((b) => b === 3), `${name}: the bytes outside the range read back`);
      return pages;
    };
    const punch = (f: FileHandle) => f.fallocate(FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 3 * BS, BS);
    const clone = (f: FileHandle) => f.cloneRange(6 * BS, BS, 3 * BS);
    for (const op of [punch, clone]) {
      assert.deepStrictEqual(cached('xfs', op), [], 'xfs: the folio goes whole');
      assert.deepStrictEqual(cached('generic', op), [0, 1, 2, 4, 5, 6, 7], 'generic: split, only page 3 goes');
    }
    assert.deepStrictEqual(cached('xfs', (f) => f.truncate(2 * BS)), [0, 1], 'xfs: a truncate still splits');
  });

  it('xfs: a truncate that leaves no extent clears the reflink flag (xfs_itruncate_clear_reflink_flags; diff, xfs 1k, 5 ops)', () => {
    const { fsys, f } = mount('xfs');
    f.pwrite(0, new Uint8Array(2 * BS).fill(1));
    f.cloneRange(BS, BS, 0);
    f.truncate(BS);
    assert.strictEqual(fsys.refs.isReflinked(f.inode), true, 'extents left');
    f.truncate(0);
    assert.strictEqual(fsys.refs.isReflinked(f.inode), false, 'nothing left');
  });

  it('collapseTruncates: an xfs collapse ends with a truncate to the new size, which drops the reflink flag with no extent left and zeroes (copy-on-write) a shared EOF block; without it neither (diff, xfs 4k seed 706, 7 ops)', () => {
    for (const collapseTruncates of [true, false]) {
      const { fsys, f } = mount('xfs');
      fsys.refs.personality = { ...personality('xfs'), collapseTruncates };
      f.pwrite(0, new Uint8Array(BS).fill(1));
      f.cloneRange(0, BS, BS); // blocks 0-1 shared, the reflink flag set
      f.truncate(5 * BS + 512);
      f.fallocate(0x08, 0, 5 * BS); // COLLAPSE_RANGE: no extent left, size 512
      assert.strictEqual(fsys.refs.isReflinked(f.inode), !collapseTruncates, `collapseTruncates ${collapseTruncates}: the flag`);
      f.directWrite(BS, new Uint8Array(512).fill(2)); // unaligned: direct only without the flag
      assert.strictEqual(classOf(f, 1), collapseTruncates ? 'written' : 'delalloc', `collapseTruncates ${collapseTruncates}: block 1`);
      assert.deepStrictEqual(fsys.checkInvariants(), []);
    }
    for (const collapseTruncates of [true, false]) {
      const { fsys, f } = mount('xfs');
      fsys.refs.personality = { ...personality('xfs'), collapseTruncates };
      f.pwrite(0, new Uint8Array(BS + 100).fill(1));
      f.fsync();
      f.cloneRange(BS, 100, 3 * BS); // the source's EOF block onto block 3: size 12388, block 3 shared
      f.fallocate(0x08, 2 * BS, BS); // size 8292: the shared block is the EOF block 2, its tail past EOF
      f.fsync();
      const shared = (f.fiemap(2 * BS, BS, 0)[0]?.flags ?? 0) & FIEMAP_EXTENT_SHARED;
      assert.strictEqual(shared === 0, collapseTruncates, `collapseTruncates ${collapseTruncates}: the EOF block ${shared ? 'still shared' : 'copied'}`);
      assert.deepStrictEqual(Array.from(f.pread(2 * BS, 100)), new Array(100).fill(1));
      assert.deepStrictEqual(fsys.checkInvariants(), []);
    }
  });

  // diff, ext4 4k seed 1601, op 154,265, 5 ops (corpus/host/ext4-4k-fallocate-raises-disk-size-diff.json).
  it('fallocExtendsWithoutZeroing: an ext4 fallocate without KEEP_SIZE raises the on-disk size to its end, inside i_size too (ext4_update_inode_size); xfs leaves it', () => {
    for (const name of ['ext4', 'xfs'] as const) {
      const { fsys, f } = mount(name);
      f.fallocate(FALLOC_FL_KEEP_SIZE, 0, 2 * BS);
      f.pwrite(0, new Uint8Array(1).fill(9)); // into an unwritten block: dirty cache, on-disk size 0
      assert.equal(fsys.refs.diskSize(f.inode), 0, `${name}: nothing written back yet`);
      f.fallocate(0, 0, 1);
      assert.equal(fsys.refs.diskSize(f.inode), name === 'ext4' ? 1 : 0, name);
      assert.deepStrictEqual(fsys.checkInvariants(), [], name);
    }
  });

  it('maxBytes: ext4 refuses a write at (2^32 - 1) blocks with EFBIG (ext4_max_size), xfs allows far more (diff, ext4 4k, 1 op)', () => {
    for (const name of ['ext4', 'xfs'] as const) {
      const { f } = mount(name);
      const limit = (2 ** 32 - 1) * BS;
      // (Only ext4 is written to there: the xfs model would walk the page cache up to that offset.)
      if (name === 'ext4') assert.strictEqual(outcome(() => f.pwrite(limit + 100, new Uint8Array(10))), 'EFBIG', name);
      else assert.ok(f.fsys.maxFileSize > limit, name);
      assert.strictEqual(new ReferenceAdapter({ personality: name, blockSize: BS }).capabilities.maxFileSize, name === 'ext4' ? limit : 2 ** 53 - 2 ** 16, name);
    }
  });

  it('writeBackAfterTruncateZero: xfs writes back [i_disk_size, newsize) when the on-disk size lags, even for a truncate to the same size; generic does not (diff, xfs 1k, 4 ops)', () => {
    for (const name of ['xfs', 'generic'] as const) {
      const dev = new MemoryDevice({ size: 64 << 20 });
      IomapFs.mkfs(dev, { blockSize: 1024 });
      const fsys = IomapFs.mount(dev, { maxFolioSize: 2 << 20 });
      fsys.refs.personality = personality(name);
      const f = fsys.open('f', { create: true });
      f.pwrite(2048, new Uint8Array(2048).fill(1));
      f.cloneRange(0, 4096, 5120); // blocks 2-3 shared with 7-8; the on-disk size is now 9216
      f.pwrite(0, new Uint8Array(10240).fill(2)); // copy-on-write pending over 7-8, size 10240
      f.truncate(10240);
      // xfs wrote back [9216, 10240): page 2, so block 8's copy-on-write finished and block 3 is no longer shared.
      const shared = (b: number) => f.fiemap(b * 1024, 1024, 0).some((e) => (e.flags & FIEMAP_EXTENT_SHARED) !== 0);
      assert.deepStrictEqual([shared(2), shared(3)], [true, name === 'generic'], name);
      assert.deepStrictEqual(fsys.checkInvariants(), [], name);
    }
  });

  it('bmapZeroOnReflink: FIBMAP of a reflinked file answers 0 on xfs, the block on ext4/generic', () => {
    for (const name of ['xfs', 'ext4', 'generic'] as const) {
      const { f } = mount(name);
      f.pwrite(0, new Uint8Array(2 * BS).fill(3));
      f.fsync();
      assert.ok(f.bmap(0) > 0, `${name}: a plain file maps`);
      f.cloneRange(0, BS, 4 * BS);
      assert.strictEqual(f.bmap(1) === 0, name === 'xfs', `${name}: bmap(1) = ${f.bmap(1)} after a clone`);
    }
  });

  /** Try `fn`; the errno name it failed with, or 'ok'. */
  function outcome(fn: () => unknown): string {
    try {
      fn();
      return 'ok';
    } catch (e) {
      return (e as { code?: string }).code ?? String(e);
    }
  }

  it('dioWriteAlignUpFront: a misaligned O_DIRECT write fails before anything on generic/xfs; on ext4 only its misaligned mapping fails, after the earlier ones landed', () => {
    for (const name of ['generic', 'xfs', 'ext4'] as const) {
      const { fsys, f } = mount(name);
      f.pwrite(0, new Uint8Array(2 * BS).fill(1));
      f.fsync();
      f.truncate(8 * BS); // blocks 2..7: a hole, a second mapping
      // Aligned offset, 3 blocks + 100 bytes: the first mapping (blocks 0-1) is aligned.
      assert.strictEqual(outcome(() => f.directWrite(0, new Uint8Array(3 * BS + 100).fill(2))), 'EINVAL', name);
      const landed = f.pread(0, 2 * BS).every((b) => b === 2);
      assert.strictEqual(landed, name === 'ext4', `${name}: the aligned first mapping landed`);
      assert.ok(f.pread(2 * BS, BS).every((b) => b === 0), `${name}: nothing past the first mapping`);
      assert.strictEqual(f.size, 8 * BS, name);
      assert.deepStrictEqual(fsys.checkInvariants(), [], name);
    }
  });

  it('dioWriteAlignUpFront: a misaligned extending O_DIRECT write on ext4 lands inside EOF, keeps the size and frees what it allocated past EOF', () => {
    for (const name of ['generic', 'ext4'] as const) {
      const { fsys, f } = mount(name);
      f.pwrite(0, new Uint8Array(2 * BS).fill(1));
      f.fsync();
      assert.strictEqual(outcome(() => f.directWrite(0, new Uint8Array(5 * BS + 100).fill(2))), 'EINVAL', name);
      assert.strictEqual(f.pread(0, 1)[0], name === 'ext4' ? 2 : 1, name);
      assert.strictEqual(f.size, 2 * BS, name);
      assert.deepStrictEqual(f.fiemap(2 * BS, 16 * BS, 0), [], `${name}: no blocks past EOF`);
      assert.deepStrictEqual(fsys.checkInvariants(), [], name);
    }
  });

  // Seen on Linux 6.18 ext4 (4k and 1k blocks, loop device): fallocate 0+(7B+2), insert 0+B, the
  // EOF block written and synced, then an O_DIRECT write B+(8B+1) → EINVAL. Block 8 got the
  // write's bytes below EOF, and on disk right afterwards zeroes from EOF to the end of the block
  // (ext4_truncate_failed_write → ext4_block_truncate_page), with the page not cached.
  it('dioWriteAlignUpFront: after a failed extending O_DIRECT write, ext4 zeroes the EOF block past EOF on disk (ext4_truncate_failed_write)', () => {
    const { fsys, f } = mount('ext4');
    f.fallocate(0, 0, 7 * BS + 2);
    f.fallocate(0x20 /* INSERT_RANGE */, 0, BS);
    f.pwrite(8 * BS, new Uint8Array(2).fill(0x11));
    f.fsync();
    fsys.dropCaches();
    const size = 8 * BS + 2;
    assert.strictEqual(outcome(() => f.directWrite(BS, new Uint8Array(8 * BS + 1).fill(0x33))), 'EINVAL');
    assert.strictEqual(f.size, size);
    assert.strictEqual(f.cachedPages(8 * BS, BS)[0], 0, 'the EOF page is not cached');
    assert.deepStrictEqual([...f.pread(8 * BS, 2)], [0x33, 0x33], 'the written EOF block got the bytes below EOF');
    const eof = f.fiemap(8 * BS, BS, 0)[0];
    assert.strictEqual(classOf(f, 8), 'written');
    const disk = new Uint8Array(BS);
    fsys.dev.read(eof.physical + (8 * BS - eof.logical), disk);
    assert.deepStrictEqual([disk[0], disk[1]], [0x33, 0x33]);
    assert.ok(disk.subarray(2).every((b) => b === 0), 'on disk, the EOF block is zero past EOF');
    assert.deepStrictEqual(fsys.checkInvariants(), []);
  });

  // Also seen there: with the EOF page cached (written block) it stays cached, clean, the zeroes on
  // disk; a delalloc EOF block stays delalloc (diff, ext4 4k seed 12, 3 ops: write 0+1, O_DIRECT
  // write 4096+1 refused, write 0+1: the host kept block 0 delalloc).
  it('dioWriteAlignUpFront: after a failed extending O_DIRECT write past the EOF page, ext4 keeps a cached EOF page cached and a delalloc EOF block delalloc', () => {
    const cached = mount('ext4'); // (files past one block: small ones are inline in refs)
    cached.f.pwrite(0, new Uint8Array(BS + 2).fill(0x11));
    cached.f.fsync();
    const e = cached.f.fiemap(BS, BS, 0)[0];
    const at = e.physical + (BS - e.logical);
    cached.fsys.dev.write(at, new Uint8Array(BS).fill(0x77)); // junk past EOF on disk
    cached.fsys.dropCaches();
    assert.deepStrictEqual([...cached.f.pread(BS, 2)], [0x77, 0x77]);
    assert.strictEqual(outcome(() => cached.f.directWrite(3 * BS, new Uint8Array(1))), 'EINVAL');
    assert.strictEqual(cached.f.cachedPages(BS, BS)[0], 1, 'still cached');
    const disk = new Uint8Array(BS);
    cached.fsys.dev.read(at, disk);
    assert.ok(disk.subarray(0, 2).every((b) => b === 0x77) && disk.subarray(2).every((b) => b === 0), 'zeroed past EOF on disk');
    cached.fsys.dropCaches();
    assert.strictEqual(cached.f.cachedPages(BS, BS)[0], 0, 'and clean');

    const delalloc = mount('ext4');
    delalloc.f.pwrite(0, new Uint8Array(BS + 1).fill(1));
    assert.strictEqual(outcome(() => delalloc.f.directWrite(2 * BS, new Uint8Array(1))), 'EINVAL');
    assert.strictEqual(classOf(delalloc.f, 1), 'delalloc');
    assert.deepStrictEqual(delalloc.fsys.checkInvariants(), []);
  });

  // ext4_extending_io also counts a write ending past i_disksize (diff, ext4 4k seed 13, op 154,062,
  // 4 ops): after a delalloc write the refused O_DIRECT write inside EOF truncated to i_size on the
  // host, freeing the unwritten block a zero range had allocated past EOF.
  it('dioWriteAlignUpFront: a failed O_DIRECT write ending past the on-disk size frees the blocks past EOF on ext4', () => {
    const { fsys, f } = mount('ext4');
    f.pwrite(0, new Uint8Array(BS + 1).fill(1)); // delalloc: nothing on disk yet
    f.fallocate(FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE, 2 * BS, 1);
    assert.strictEqual(classOf(f, 2), 'unwritten');
    assert.strictEqual(outcome(() => f.directWrite(0, new Uint8Array(1))), 'EINVAL');
    assert.strictEqual(classOf(f, 2), 'hole');
    assert.strictEqual(f.size, BS + 1);
    assert.deepStrictEqual(fsys.checkInvariants(), []);
  });

  // fsx --personality ext4 -N 8000 -S 3 (bs 512), op 4,215, shrunk to 4 ops: junk stored through
  // mmap past EOF, then a refused extending O_DIRECT write wrote the EOF block (its page flushed
  // first, so the block was written), and an mmap read showed the write's bytes past EOF.
  it('ext4: a refused extending O_DIRECT write leaves zeroes past EOF in the EOF page (fsx, bs 512, 4 ops)', () => {
    const a = new ReferenceAdapter({ personality: 'ext4', blockSize: 512 });
    const quiet = { out: () => undefined, err: () => undefined };
    const ops: OpRecord[] = [
      { op: 'fallocate', off: 0, len: 3586 }, { op: 'insert_range', off: 0, len: 512 },
      { op: 'write_direct', off: 512, len: 4097, invalid: true }, { op: 'mapwrite', off: 0, len: 1 },
    ];
    const r = replayLog(a, 'reference', {
      format: OPLOG_FORMAT, version: OPLOG_VERSION, adapter: 'reference', geometry: { blockSize: 512, pageSize: 4096, folioSize: 4096 }, seed: 3, ops,
      setup: { personality: 'ext4' }, options: { polluteEof: true },
    }, { quiet: true, debug: false, logDumpOps: 0 }, quiet);
    assert.strictEqual(r.failure, null, r.report.join('\n'));
  });

  it('dioReadAlignUpFront: a misaligned O_DIRECT read of a hole is EINVAL on generic, zeroes on xfs and ext4; over written blocks EINVAL everywhere', () => {
    for (const name of ['generic', 'xfs', 'ext4'] as const) {
      const { f } = mount(name);
      f.pwrite(4 * BS, new Uint8Array(BS).fill(5));
      f.fsync();
      f.truncate(8 * BS);
      const hole = outcome(() => assert.ok(f.directRead(100, 1000).every((b) => b === 0)));
      assert.strictEqual(hole, name === 'generic' ? 'EINVAL' : 'ok', name);
      assert.strictEqual(outcome(() => f.directRead(4 * BS + 100, 1000)), 'EINVAL', name);
    }
  });

  it('dioMappingAlignOnly: an aligned mapping of a misaligned read succeeds in 6.18 (xfs, ext4), fails in 6.12 (the whole count checked)', () => {
    for (const only of [true, false]) {
      const { fsys, f } = mount('xfs');
      fsys.refs.personality = { ...personality('xfs'), dioMappingAlignOnly: only };
      f.pwrite(0, new Uint8Array(2 * BS).fill(5));
      f.fsync();
      f.truncate(8 * BS);
      // Blocks 0-1 written (aligned mapping), the misaligned tail in the hole after them.
      const r = outcome(() => {
        const d = f.directRead(0, 2 * BS + 100);
        assert.strictEqual(d.length, 2 * BS + 100);
        assert.ok(d.subarray(0, 2 * BS).every((b) => b === 5) && d.subarray(2 * BS).every((b) => b === 0));
      });
      assert.strictEqual(r, only ? 'ok' : 'EINVAL', `mappingAlignOnly ${only}`);
    }
  });

  /*
   * Found by diff on xfs 1k (seed 41, op 42,881, 9 ops): 6.18 checks the user memory per bio in the
   * block layer (bio_split_io_at), and only for a bio that spans pages. A read that zero-fills a
   * misaligned number of hole bytes first then reads the written block from a misaligned address:
   * inside one page that succeeds, across a page boundary it is EINVAL unless the address is
   * sector aligned. The same five reads on Linux 6.18.44 (xfs and ext4, 4k blocks, loop devices;
   * the host adapter reads into a page-aligned buffer, as the model does): ok, EINVAL, ok, ok, EINVAL.
   * 6.12 (bdev_iter_is_aligned) refuses every misaligned address and remaining count up front.
   */
  it('dioMappingAlignOnly: 6.18 judges the user memory per bio, and only a bio that spans pages; 6.12 the whole address and count up front', () => {
    const cases: [number, number][] = [[1, 1024], [1, 4096], [512, 4096], [100, 3584], [100, 4096]];
    for (const only of [true, false]) {
      const got = cases.map(([hole, data]) => {
        const { fsys, f } = mount('xfs');
        fsys.refs.personality = { ...personality('xfs'), dioMappingAlignOnly: only };
        f.pwrite(BS, new Uint8Array(2 * BS).fill(5));
        f.fsync();
        return outcome(() => {
          const d = f.directRead(BS - hole, hole + data);
          assert.strictEqual(d.length, hole + data);
          assert.ok(d.subarray(0, hole).every((b) => b === 0) && d.subarray(hole).every((b) => b === 5));
        });
      });
      assert.deepStrictEqual(got, only ? ['ok', 'EINVAL', 'ok', 'ok', 'EINVAL'] : ['EINVAL', 'EINVAL', 'ok', 'EINVAL', 'EINVAL'], `mappingAlignOnly ${only}`);
    }
  });

  // Found by fsx remounts under the ext4 personality (seed 1, op 5,774, shrunk to 3 ops): a zero
  // range reaching EOF dropped the dirty data whose writeback would have raised the on-disk size,
  // so a clean remount came back with size 0 (ext4_update_disksize_before_punch).
  it('ext4: a zero range over dirty data up to EOF keeps the size across a remount', () => {
    const a = new ReferenceAdapter({ personality: 'ext4' });
    const quiet = { out: () => undefined, err: () => undefined };
    const ops: OpRecord[] = [{ op: 'write', off: 18520, len: 6056 }, { op: 'zero_range', off: 1054, len: 23522 }, { op: 'remount', off: 0, len: 0 }];
    const r = replayLog(a, 'reference', {
      format: OPLOG_FORMAT, version: OPLOG_VERSION, adapter: 'reference', geometry: { blockSize: 4096, pageSize: 4096 }, seed: 1, ops,
    }, { quiet: true, debug: false, logDumpOps: 0 }, quiet);
    assert.strictEqual(r.failure, null, r.report.join('\n'));
  });

  // Found by fsx under the ext4 personality (no write-back after truncate zeroing, so nothing
  // write-protected the mapping any more): stores through pages that were past EOF when the folio
  // was last page_mkwritten, or whose blocks truncate had just freed, dirtied holes (R33).
  const MMAP_CASES: OpRecord[][] = [[{"op": "write", "off": 0, "len": 8192}, {"op": "mapwrite", "off": 0, "len": 1, "noMsync": true}, {"op": "truncate", "off": 0, "len": 4096}, {"op": "mapwrite", "off": 0, "len": 8192}], [{"op": "write", "off": 0, "len": 8192}, {"op": "truncate", "off": 0, "len": 512}, {"op": "fallocate", "off": 8192, "len": 1, "noMsync": true, "pollute": true}, {"op": "mapwrite", "off": 0, "len": 8192}], [{"op": "write", "off": 0, "len": 24576}, {"op": "truncate", "off": 0, "len": 16896}, {"op": "copy_range", "off": 0, "len": 1, "dst": 24576, "noMsync": true, "pollute": true}, {"op": "mapwrite", "off": 0, "len": 24576}]];
  MMAP_CASES.forEach((ops, i) => {
    it(`ext4: mmap stores after truncate and extension page_mkwrite again (fsx case ${i + 1})`, () => {
      const a = new ReferenceAdapter({ personality: 'ext4' });
      const quiet = { out: () => undefined, err: () => undefined };
      const r = replayLog(a, 'reference', {
        format: OPLOG_FORMAT, version: OPLOG_VERSION, adapter: 'reference', geometry: { blockSize: 4096, pageSize: 4096 }, seed: 11, ops,
      }, { quiet: true, debug: false, logDumpOps: 0 }, quiet);
      assert.strictEqual(r.failure, null, r.report.join('\n'));
    });
  });
});
