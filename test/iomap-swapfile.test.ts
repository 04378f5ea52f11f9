/**
 * fs/iomap/swapfile.c (contract §5.12, rule 40; file-ops §9): iomap_swapfile_activate over the fake
 * extent-map filesystem and scripted ops. PAGE_SIZE is 4096; the fake allocator starts at 1 MiB =
 * device page 256.
 */
import * as assert from 'assert';
import { SwapInfo, iomapSwapfileActivate, newSwapInfo } from '../reference/iomap/swapfile';
import { IOMAP_MAPPED, IOMAP_REPORT } from '../reference/iomap/types';
import { MemoryDevice } from '../reference/device/memory';
import { EINVAL, EIO, FsError } from '../reference/errno';
import { FALLOC_FL_COLLAPSE_RANGE, FALLOC_FL_KEEP_SIZE, FALLOC_FL_PUNCH_HOLE, FileHandle, IomapFs } from '../reference/file';
import { FakeFs, FakeFile } from './support/fake-fs';
import { ScriptedOps } from './support/scripted-ops';

const MiB = 1 << 20;
const P = 4096;

function mk(bs: number, size: number, o: { maxMapBlocks?: number } = {}): FakeFile {
  return new FakeFs({ blockSize: bs }).file({ size, ...o });
}

function activate(f: FakeFile, o: { max?: number; bdev?: SwapInfo['bdev']; fsync?: () => number; ops?: ScriptedOps } = {}) {
  const sis = newSwapInfo(o.bdev === undefined ? f.fs.dev : o.bdev, o.max ?? 1 << 30);
  const span = { v: -1 };
  const r = iomapSwapfileActivate(sis, f.inode, span, o.ops ?? f.ops, o.fsync ?? (() => f.fsync()));
  return { r, sis, span: span.v };
}

describe('iomap swapfile activation: accepted files', () => {
  for (const bs of [512, 1024, 4096]) {
    it(`bs=${bs}: one contiguous 64 KiB file is one extent of 16 pages, the header page excluded from the span`, () => {
      // 64 KiB at 1 MiB: pages [256, 272). lowest reported = 257 (offset 0 holds the header),
      // highest = 271 -> span 15; max = 16, pages = 15.
      const f = mk(bs, 65536, { maxMapBlocks: 4096 / bs });
      f.set(0, 65536 / bs, 'mapped', { addr: MiB });
      const { r, sis, span } = activate(f);
      assert.strictEqual(r, 1);
      assert.deepStrictEqual(sis.extents, [{ startPage: 0, nrPages: 16, startBlock: 256 }]);
      assert.strictEqual(span, 15);
      assert.strictEqual(sis.max, 16);
      assert.strictEqual(sis.pages, 15);
      assert.strictEqual(sis.highestBit, 15);
      // Many mappings (one page each), all merged by physical contiguity: 16 REPORT begins.
      assert.strictEqual(f.begins().length, 16);
      assert.ok(f.begins().every((b) => b.flags === IOMAP_REPORT));
    });
  }

  it('unwritten (fallocated) extents are fine', () => {
    const f = mk(4096, 8 * P);
    f.set(0, 8, 'unwritten', { addr: MiB });
    const { r, sis } = activate(f);
    assert.strictEqual(r, 1);
    assert.strictEqual(sis.max, 8);
  });

  it('physically discontiguous extents become several swap extents; the span covers both', () => {
    // File pages 0-3 at device pages 256-259, pages 4-5 at 1000-1001.
    // lowest = 257, highest = 1001 -> span 745; 6 pages, 2 extents.
    const f = mk(4096, 6 * P);
    f.set(0, 4, 'mapped', { addr: 256 * P });
    f.set(4, 2, 'mapped', { addr: 1000 * P });
    const { r, sis, span } = activate(f);
    assert.strictEqual(r, 2);
    assert.deepStrictEqual(sis.extents, [
      { startPage: 0, nrPages: 4, startBlock: 256 },
      { startPage: 4, nrPages: 2, startBlock: 1000 },
    ]);
    assert.strictEqual(span, 745);
    assert.strictEqual(sis.pages, 5);
  });

  it('extents are trimmed to whole pages: round the start up and the end down', () => {
    // bs 1024, 16 KiB at 1 MiB + 1024: accumulated [1049600, 1066000): first page ceil = 257,
    // next page floor(1065984 / 4096) = 260 -> 3 pages [257, 260). lowest 258 (header), highest 259.
    const f = mk(1024, 16384);
    f.set(0, 16, 'mapped', { addr: MiB + 1024 });
    const { r, sis, span } = activate(f);
    assert.strictEqual(r, 1);
    assert.deepStrictEqual(sis.extents, [{ startPage: 0, nrPages: 3, startBlock: 257 }]);
    assert.strictEqual(span, 2);
    assert.strictEqual(sis.max, 3);
  });

  it('only [0, ALIGN_DOWN(i_size, PAGE_SIZE)) is walked: a hole in the partial last page is ignored', () => {
    // size 3·4096 + 100; block 3 (the partial page) is a hole: never looked at.
    const f = mk(4096, 3 * P + 100);
    f.set(0, 3, 'mapped', { addr: MiB });
    const { r, sis } = activate(f);
    assert.strictEqual(r, 1);
    assert.strictEqual(sis.max, 3);
    assert.strictEqual(f.begins()[0].length, 3 * P);
  });

  it('a file shorter than a page: the iterator still calls begin(0, 0) and that mapping is accumulated', () => {
    // len = ALIGN_DOWN(3000, 4096) = 0, but iomap_iter calls ->iomap_begin once with length 0;
    // its mapping [0, 4096) is validated and accumulated (processed = min(0, ...) = 0 stops the
    // walk) -> 1 page, pages = 0. Over a hole the same lookup rejects the file.
    const f = mk(4096, 3000);
    f.set(0, 1, 'mapped', { addr: MiB });
    const { r, sis } = activate(f);
    assert.strictEqual(r, 1);
    assert.strictEqual(sis.max, 1);
    assert.strictEqual(sis.pages, 0);
    assert.deepStrictEqual(f.trace(), ['begin(0, 0, REPORT)', 'end(0, 0, 0, REPORT)']);
    const g = mk(4096, 3000);
    assert.strictEqual(activate(g).r, -EINVAL);
  });

  it('sis->max caps the pages taken; extents past the cap are dropped (highest still counts the first whole extent)', () => {
    // max 3: extent 1 has 4 pages -> 3 taken; highest = 259 (next_ppage - 1 of the untrimmed
    // extent); extent 2 skipped (nr_pages >= max). lowest 257 -> span 3.
    const f = mk(4096, 6 * P);
    f.set(0, 4, 'mapped', { addr: 256 * P });
    f.set(4, 2, 'mapped', { addr: 1000 * P });
    const { r, sis, span } = activate(f, { max: 3 });
    assert.strictEqual(r, 1);
    assert.deepStrictEqual(sis.extents, [{ startPage: 0, nrPages: 3, startBlock: 256 }]);
    assert.strictEqual(sis.max, 3);
    assert.strictEqual(span, 3);
  });

  it('add_swap_extent merges extents that are page-contiguous although not byte-contiguous', () => {
    // bs 512, size 16384 (32 blocks). Blocks 0-8 at 1 MiB: [1048576, 1053184) -> pages
    // [256, floor(1053184/4096) = 257) = 1 page. Blocks 9-31 at 1 MiB + 4096 = 1052672 (not
    // 1053184, so a new accumulation): [1052672, 1064448) -> pages [257, 259) = 2 pages, whose
    // first page 257 continues the previous swap extent's disk pages -> merged: one extent of 3.
    const f = mk(512, 16384);
    f.set(0, 9, 'mapped', { addr: MiB });
    f.set(9, 23, 'mapped', { addr: MiB + 4096 });
    const { r, sis, span } = activate(f);
    assert.strictEqual(r, 1);
    assert.deepStrictEqual(sis.extents, [{ startPage: 0, nrPages: 3, startBlock: 256 }]);
    assert.strictEqual(sis.max, 3);
    // lowest 257 (header page 256 excluded), highest 258 -> span 2.
    assert.strictEqual(span, 2);
  });

  it('rule 40: a mapping that starts before pos is accumulated whole (overlap counted twice)', () => {
    // File 12288 bytes. Mapping 1 [0, 8192) at 1 MiB; mapping 2 answers pos 8192 with
    // [4096, 12288) at 1 MiB + 8192: physically contiguous with mapping 1 -> accumulated length
    // 8192 + 8192 = 16384 -> 4 pages for a 3-page file.
    const f = mk(4096, 12288);
    const dev = f.fs.dev;
    const ops = new ScriptedOps([
      { map: { offset: 0, length: 8192, type: IOMAP_MAPPED, addr: MiB, bdev: dev } },
      { map: { offset: 4096, length: 8192, type: IOMAP_MAPPED, addr: MiB + 8192, bdev: dev } },
    ]);
    const { r, sis } = activate(f, { ops });
    assert.strictEqual(r, 1);
    assert.strictEqual(sis.max, 4);
    assert.deepStrictEqual(ops.trace(), [
      'begin(0, 12288, REPORT)', 'end(0, 8192, 8192, REPORT)', 'begin(8192, 4096, REPORT)', 'end(8192, 4096, 4096, REPORT)',
    ]);
  });

  it('fsync runs first; it commits F_DIRTY metadata and allocates delalloc', () => {
    const f = mk(4096, 4 * P);
    f.set(0, 2, 'mapped', { dirty: true });
    f.set(2, 2, 'delalloc');
    f.cache(2 * P, 2 * P, { dirty: true });
    const order: string[] = [];
    f.beginHook = () => { order.push('begin'); return undefined; };
    const { r } = activate(f, { fsync: () => { order.push('fsync'); return f.fsync(); } });
    assert.strictEqual(r > 0, true);
    assert.strictEqual(order[0], 'fsync');
    assert.strictEqual(order.filter((x) => x === 'fsync').length, 1);
  });
});

describe('iomap swapfile activation: rejections (-EINVAL)', () => {
  const noSync = (): number => 0;
  const cases: Array<[string, (f: FakeFile) => void, string]> = [
    ['a hole', (f) => { f.set(0, 2, 'mapped'); f.set(3, 1, 'mapped'); }, 'has unallocated extents'],
    ['delalloc that survived the fsync', (f) => { f.set(0, 2, 'mapped'); f.set(2, 2, 'delalloc'); }, 'has unallocated extents'],
    ['uncommitted metadata (F_DIRTY)', (f) => f.set(0, 4, 'mapped', { dirty: true }), 'is not committed'],
    ['shared extents', (f) => f.set(0, 4, 'mapped', { shared: true }), 'has shared extents'],
  ];
  for (const [what, build, msg] of cases) {
    it(`${what}: "${msg}"`, () => {
      const f = mk(4096, 4 * P);
      build(f);
      const { r, sis } = activate(f, { fsync: noSync });
      assert.strictEqual(r, -EINVAL);
      assert.deepStrictEqual(sis.log, [`swapon: file ${msg}`]);
      assert.strictEqual(sis.max, 1 << 30, 'sis untouched');
      assert.deepStrictEqual(sis.extents, []);
    });
  }

  it('inline data: "is inline"', () => {
    const f = new FakeFs({ blockSize: 4096 }).file({ size: 3 * P, inline: new Uint8Array(3 * P) });
    const { r, sis } = activate(f);
    assert.strictEqual(r, -EINVAL);
    assert.deepStrictEqual(sis.log, ['swapon: file is inline']);
  });

  it('a mapping on another device: "outside the main device"', () => {
    const f = mk(4096, 4 * P);
    f.set(0, 4, 'mapped');
    const { r, sis } = activate(f, { bdev: new MemoryDevice({ size: MiB }) });
    assert.strictEqual(r, -EINVAL);
    assert.deepStrictEqual(sis.log, ['swapon: file outside the main device']);
  });

  it('not a single whole page: every extent is scattered sub-page blocks', () => {
    // bs 1024, 8 blocks each 8 KiB apart at unaligned addresses 1 MiB + 1024 + k·8192: each
    // accumulated extent [a, a + 1024) holds no whole page.
    const f = mk(1024, 8192);
    for (let k = 0; k < 8; k++) f.set(k, 1, 'mapped', { addr: MiB + 1024 + k * 8192 });
    const { r, sis } = activate(f);
    assert.strictEqual(r, -EINVAL);
    assert.deepStrictEqual(sis.log, ['swapon: Cannot find a single usable page in file.']);
  });

  it('an fsync error is returned before any lookup', () => {
    const f = mk(4096, 4 * P);
    f.set(0, 4, 'mapped');
    f.fsyncError = -EIO;
    assert.strictEqual(activate(f).r, -EIO);
    assert.deepStrictEqual(f.trace(), []);
  });

  it('a begin error is returned', () => {
    const f = mk(4096, 4 * P);
    f.set(0, 4, 'mapped');
    f.beginHook = () => -EIO;
    assert.strictEqual(activate(f).r, -EIO);
  });

  it('the first rejection wins even after good extents were collected (nothing is added)', () => {
    const f = mk(4096, 4 * P, { maxMapBlocks: 1 });
    f.set(0, 3, 'mapped');
    f.set(3, 1, 'mapped', { shared: true });
    const { r, sis } = activate(f, { fsync: noSync });
    assert.strictEqual(r, -EINVAL);
    assert.deepStrictEqual(sis.extents, []);
    assert.strictEqual(f.begins().length, 4);
  });
});

describe('swapon / swapoff through the file API (S_SWAPFILE)', () => {
  function swapFile(): { fsys: IomapFs; f: FileHandle; g: FileHandle } {
    const dev = new MemoryDevice({ size: 64 * MiB });
    IomapFs.mkfs(dev, { blockSize: 4096 });
    const fsys = IomapFs.mount(dev);
    const f = fsys.open('swap', { create: true });
    f.pwrite(0, new Uint8Array(16 * P).fill(5));
    const g = fsys.open('other', { create: true });
    g.pwrite(0, new Uint8Array(4 * P).fill(6));
    return { fsys, f, g };
  }
  const code = (fn: () => unknown): string => {
    try { fn(); } catch (e) { if (e instanceof FsError) return e.code; throw e; }
    return 'ok';
  };

  it('while active: writes, fallocate, shrinking truncate, remaps and unlink are refused; reads, seeks and FIEMAP work', () => {
    const { fsys, f, g } = swapFile();
    f.swapActivate();
    assert.strictEqual(code(() => f.pwrite(0, new Uint8Array(1))), 'ETXTBSY');
    assert.strictEqual(code(() => f.directWrite(0, new Uint8Array(P))), 'ETXTBSY');
    assert.strictEqual(code(() => f.truncate(P)), 'ETXTBSY');
    assert.strictEqual(code(() => f.fallocate(FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, P)), 'ETXTBSY');
    assert.strictEqual(code(() => f.fallocate(FALLOC_FL_COLLAPSE_RANGE, 0, P)), 'ETXTBSY');
    assert.strictEqual(code(() => f.cloneRange(0, P, 8 * P)), 'ETXTBSY');
    assert.strictEqual(code(() => g.cloneFrom(f, 0, P, 0)), 'ETXTBSY', 'an active swap file cannot be a remap source either');
    assert.strictEqual(code(() => f.copyRange(0, P, 20 * P)), 'ETXTBSY');
    assert.strictEqual(code(() => fsys.unlink('swap')), 'EPERM');
    assert.strictEqual(code(() => f.swapActivate()), 'EBUSY', 'a second swapon of an active swap file');
    assert.ok(f.pread(0, P).every((b) => b === 5));
    assert.strictEqual(f.seekHole(0), 16 * P);
    assert.strictEqual(f.fiemap(0, 16 * P).length >= 1, true);
    assert.strictEqual(code(() => f.truncate(32 * P)), 'ok', 'growing is not refused (inode_newsize_ok checks shrinking only)');
  });

  it('swapoff: the file is writable again, its extents may move, and a second swapon works', () => {
    const { fsys, f } = swapFile();
    const first = f.swapActivate();
    f.swapOff();
    f.pwrite(0, new Uint8Array(P).fill(7));
    f.fallocate(FALLOC_FL_COLLAPSE_RANGE, P, P);
    assert.strictEqual(f.size, 15 * P);
    f.cloneRange(0, P, 15 * P);
    assert.strictEqual(f.fiemap(15 * P, P)[0].flags & 0x2000, 0x2000, 'the clone shares the block');
    f.fallocate(0x40, 15 * P, P); // unshare, so swapon accepts it again
    const second = f.swapActivate();
    assert.ok(second.sis.pages > 0 && first.sis.pages > 0);
    f.swapOff();
    fsys.unlink('swap');
  });

  it('swapoff of a file that is not an active swap file is EINVAL, also after swapoff', () => {
    const { f } = swapFile();
    assert.strictEqual(code(() => f.swapOff()), 'EINVAL');
    f.swapActivate();
    f.swapOff();
    assert.strictEqual(code(() => f.swapOff()), 'EINVAL');
  });

  it('a failed swapon leaves the file writable', () => {
    const { f } = swapFile();
    f.pwrite(20 * P, new Uint8Array(10)); // past a hole
    assert.strictEqual(code(() => f.swapActivate()), 'EINVAL');
    assert.strictEqual(code(() => f.pwrite(0, new Uint8Array(1))), 'ok');
  });
});
