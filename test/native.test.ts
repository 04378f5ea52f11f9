/**
 * The native addon (native/): its loader, its build script's failure path, and every function
 * against the kernel filesystems this machine has (tmpfs, ext4, xfs, btrfs on loop devices; each
 * skipped with its reason printed when it cannot be made here).
 */
import * as assert from 'assert';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import {
  FALLOC_FL_COLLAPSE_RANGE, FALLOC_FL_INSERT_RANGE, FALLOC_FL_KEEP_SIZE, FALLOC_FL_PUNCH_HOLE,
  FALLOC_FL_UNSHARE_RANGE, FALLOC_FL_ZERO_RANGE, FIEMAP_EXTENT_LAST, FIEMAP_EXTENT_SHARED, FIEMAP_FLAG_SYNC,
  FIEMAP_MAX_OFFSET, FILE_DEDUPE_RANGE_DIFFERS, FILE_DEDUPE_RANGE_SAME, loadNative, type NativeAddon,
} from '../reference/device/native';
import { createLoopDevice, loopSkipReason, mountScratchFs, scratchFsSkipReason, type ScratchFs, type ScratchFsType } from './support/loop';
import { expectCode, pattern, skipWith } from './support/expect';

const KiB = 1024;
const MiB = 1024 * KiB;
const ROOT = path.resolve(__dirname, '..', '..');
const ENOTTY = 25;
const ENAMETOOLONG = 36;

function nodeEval(code: string, env: Record<string, string>): { status: number | null; stdout: string } {
  const base = { ...process.env };
  delete base.IOMAP_NATIVE;
  delete base.IOMAP_NATIVE_PATH;
  const r = spawnSync(process.execPath, ['-e', code], { cwd: ROOT, encoding: 'utf8', env: { ...base, ...env }, timeout: 30000 });
  return { status: r.status, stdout: (r.stdout ?? '').trim() };
}

const isPow2 = (n: number) => Number.isInteger(n) && n > 0 && (n & (n - 1)) === 0;

// ---- loader and build script --------------------------------------------------------------------

describe('native addon: loader and build script', function () {
  const loaderJs = path.join(ROOT, 'dist', 'reference', 'device', 'native.js');

  it('IOMAP_NATIVE=0 makes the loader report the addon unavailable, with the reason', function () {
    const r = nodeEval(`const n=require(${JSON.stringify(loaderJs)}).loadNative();console.log(JSON.stringify({a:n.addon===null,r:n.reason}))`,
      { IOMAP_NATIVE: '0' });
    assert.strictEqual(r.status, 0);
    assert.deepStrictEqual(JSON.parse(r.stdout), { a: true, r: 'disabled by IOMAP_NATIVE=0' });
  });

  it('a file that is not an addon gives null and a "cannot load" reason instead of throwing', function () {
    const bogus = path.join(os.tmpdir(), `iomap-not-an-addon-${process.pid}.node`);
    fs.writeFileSync(bogus, 'not an ELF file');
    try {
      const r = nodeEval(`const n=require(${JSON.stringify(loaderJs)}).loadNative();console.log(JSON.stringify({a:n.addon===null,r:n.reason}))`,
        { IOMAP_NATIVE_PATH: bogus });
      assert.strictEqual(r.status, 0);
      const o = JSON.parse(r.stdout) as { a: boolean; r: string };
      assert.strictEqual(o.a, true);
      assert.match(o.r, /^cannot load /);
    } finally {
      fs.rmSync(bogus, { force: true });
    }
  });

  it('the install script prints one line and exits 0 when the addon cannot be had', function () {
    const r = spawnSync(process.execPath, [path.join(ROOT, 'native', 'build.js')], {
      cwd: ROOT, encoding: 'utf8', env: { ...process.env, IOMAP_NATIVE: '0' }, timeout: 30000,
    });
    assert.strictEqual(r.status, 0);
    const lines = r.stdout.trim().split('\n');
    assert.strictEqual(lines.length, 1, r.stdout);
    assert.match(lines[0], /native addon unavailable \(IOMAP_NATIVE=0\)/);
    assert.strictEqual(r.stderr, '');
  });
});

// ---- functions that need no particular filesystem --------------------------------------------------

describe('native addon: functions', function () {
  let n: NativeAddon;
  let dir: string;
  before(function () {
    const l = loadNative();
    if (!l.addon) skipWith(this, `native addon unavailable: ${l.reason}`);
    n = l.addon;
  });
  beforeEach(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), 'iomap-native-')); });
  afterEach(() => { if (dir) fs.rmSync(dir, { recursive: true, force: true }); });

  it('exports every function', function () {
    for (const f of ['alignedAlloc', 'blkGetSize64', 'blkSszGet', 'fallocate', 'seekData', 'seekHole', 'fiemap',
      'ficloneRange', 'fideduperange', 'copyFileRange', 'statxDioAlign']) {
      assert.strictEqual(typeof (n as unknown as Record<string, unknown>)[f], 'function', f);
    }
  });

  it('alignedAlloc returns zeroed memory that O_DIRECT accepts where a plain Buffer view is refused', function () {
    const ab = n.alignedAlloc(64 * KiB, 4096);
    assert.ok(ab instanceof ArrayBuffer);
    assert.strictEqual(ab.byteLength, 64 * KiB);
    assert.ok(Buffer.from(ab).equals(Buffer.alloc(64 * KiB)));
    // /tmp here is a disk filesystem that enforces O_DIRECT alignment; tmpfs would accept anything.
    const f = path.join(dir, 'dio');
    fs.writeFileSync(f, pattern(64 * KiB, 1));
    let fd: number;
    try {
      fd = fs.openSync(f, fs.constants.O_RDWR | fs.constants.O_DIRECT);
    } catch (e) {
      skipWith(this, `${os.tmpdir()} refuses O_DIRECT: ${(e as Error).message}`);
    }
    try {
      const aligned = Buffer.from(ab);
      assert.strictEqual(fs.readSync(fd, aligned, 0, 8192, 4096), 8192);
      assert.ok(aligned.subarray(0, 8192).equals(pattern(64 * KiB, 1).subarray(4096, 4096 + 8192)));
      assert.throws(() => fs.readSync(fd, Buffer.from(ab, 1, 8192), 0, 8192, 4096), /EINVAL/, 'misaligned memory');
    } finally {
      fs.closeSync(fd);
    }
  });

  it('alignedAlloc rejects bad sizes and alignments with EINVAL', function () {
    for (const [size, align] of [[0, 4096], [-1, 4096], [NaN, 4096], [1.5, 4096], [4096, 3], [4096, 0], [4096, 2],
      [4096, 2 * MiB], [2 ** 31 + 1, 4096], ['4096', 4096]] as Array<[number, number]>) {
      expectCode(() => n.alignedAlloc(size, align), 'EINVAL', `alignedAlloc(${size}, ${align})`);
    }
    expectCode(() => (n.alignedAlloc as unknown as (a: number) => unknown)(4096), 'EINVAL', 'missing argument');
  });

  it('every fd-taking function rejects bad fds: EINVAL for non-fds, EBADF for a closed one', function () {
    const calls: Array<[string, (fd: number) => unknown]> = [
      ['blkGetSize64', (fd) => n.blkGetSize64(fd)],
      ['blkSszGet', (fd) => n.blkSszGet(fd)],
      ['fallocate', (fd) => n.fallocate(fd, 0, 0, 4096)],
      ['seekData', (fd) => n.seekData(fd, 0)],
      ['seekHole', (fd) => n.seekHole(fd, 0)],
      ['fiemap', (fd) => n.fiemap(fd, 0, 4096, 0)],
      ['ficloneRange(dst)', (fd) => n.ficloneRange(0, 0, 4096, fd, 0)],
      ['fideduperange(src)', (fd) => n.fideduperange(fd, 0, 4096, 0, 0)],
      ['copyFileRange', (fd) => n.copyFileRange(fd, 0, fd, 0, 4096)],
    ];
    const closed = fs.openSync(path.join(dir, 'c'), 'w');
    fs.closeSync(closed);
    for (const [name, call] of calls) {
      for (const bad of [-1, 1.5, NaN, '3', null, 2 ** 31]) expectCode(() => call(bad as number), 'EINVAL', `${name}(${String(bad)})`);
      expectCode(() => call(closed), 'EBADF', `${name}(closed fd)`);
    }
  });

  it('offsets and lengths must be non-negative integers (number or bigint)', function () {
    const f = path.join(dir, 'f');
    fs.writeFileSync(f, pattern(8192, 1));
    const fd = fs.openSync(f, 'r+');
    try {
      for (const bad of [-1, 0.5, NaN, Infinity, '0', null, undefined, -1n, 2n ** 64n]) {
        expectCode(() => n.seekData(fd, bad as number), 'EINVAL', `seekData offset ${String(bad)}`);
        expectCode(() => n.fallocate(fd, 0, 0, bad as number), 'EINVAL', `fallocate length ${String(bad)}`);
      }
      assert.strictEqual(n.seekData(fd, 0n), 0);
      expectCode(() => n.fallocate(fd, -1, 0, 4096), 'EINVAL', 'negative mode');
    } finally {
      fs.closeSync(fd);
    }
  });

  it('blkGetSize64/blkSszGet on a regular file fail with ENOTTY', function () {
    const fd = fs.openSync(path.join(dir, 'f'), 'w+');
    try {
      expectCode(() => n.blkGetSize64(fd), ENOTTY, 'blkGetSize64 on a file');
      expectCode(() => n.blkSszGet(fd), ENOTTY, 'blkSszGet on a file');
    } finally {
      fs.closeSync(fd);
    }
  });

  it('blkGetSize64/blkSszGet on loop block devices (512 and 4096-byte sectors)', function () {
    const reason = loopSkipReason();
    if (reason) skipWith(this, reason);
    for (const ss of [512, 4096]) {
      const loop = createLoopDevice(8 * MiB + 4096, { sectorSize: ss });
      try {
        const fd = fs.openSync(loop.path, 'r');
        try {
          assert.strictEqual(n.blkGetSize64(fd), 8 * MiB + 4096);
          assert.strictEqual(n.blkSszGet(fd), ss);
        } finally {
          fs.closeSync(fd);
        }
      } finally {
        loop.release();
      }
    }
  });

  it('statxDioAlign validates its path and answers null or a pair of powers of two', function () {
    expectCode(() => n.statxDioAlign(path.join(dir, 'missing')), 'ENOENT');
    expectCode(() => n.statxDioAlign(''), 'ENOENT');
    expectCode(() => n.statxDioAlign(5 as never), 'EINVAL');
    expectCode(() => n.statxDioAlign('a\0b'), 'EINVAL');
    expectCode(() => n.statxDioAlign('x'.repeat(5000)), ENAMETOOLONG, 'a path longer than PATH_MAX');
    const f = path.join(dir, 'f');
    fs.writeFileSync(f, 'x');
    const a = n.statxDioAlign(f);
    if (a !== null) {
      assert.ok(isPow2(a.memAlign) && isPow2(a.offsetAlign), JSON.stringify(a));
    }
  });
});

// ---- per-filesystem behaviour ------------------------------------------------------------------

interface Support {
  zeroRange: boolean; collapse: boolean; insert: boolean; unshare: boolean; fiemap: boolean; reflink: boolean;
  dioAlign: boolean;
}

/** What each kernel filesystem supports (spec/platform.md), which the addon must pass through. */
const SUPPORT: Record<ScratchFsType, Support> = {
  tmpfs: { zeroRange: false, collapse: false, insert: false, unshare: false, fiemap: false, reflink: false, dioAlign: false },
  ext4: { zeroRange: true, collapse: true, insert: true, unshare: false, fiemap: true, reflink: false, dioAlign: true },
  xfs: { zeroRange: true, collapse: true, insert: true, unshare: true, fiemap: true, reflink: true, dioAlign: true },
  btrfs: { zeroRange: true, collapse: false, insert: false, unshare: false, fiemap: true, reflink: true, dioAlign: false },
};

for (const type of ['tmpfs', 'ext4', 'xfs', 'btrfs'] as ScratchFsType[]) {
  describe(`native addon on ${type}`, function () {
    this.timeout(120000);
    const sup = SUPPORT[type];
    let n: NativeAddon;
    let scratch: ScratchFs | null = null;
    let seq = 0;
    const fds: number[] = [];

    /** A new file on the scratch fs: fd, path. */
    function file(content?: Buffer, size?: number): { fd: number; p: string } {
      const p = path.join(scratch!.dir, `f${++seq}`);
      const fd = fs.openSync(p, 'w+');
      fds.push(fd);
      if (size !== undefined) fs.ftruncateSync(fd, size);
      if (content) fs.writeSync(fd, content, 0, content.length, 0);
      return { fd, p };
    }
    function readAt(fd: number, off: number, len: number): Buffer {
      const b = Buffer.alloc(len);
      assert.strictEqual(fs.readSync(fd, b, 0, len, off), len);
      return b;
    }

    before(function () {
      const l = loadNative();
      if (!l.addon) skipWith(this, `native addon unavailable: ${l.reason}`);
      n = l.addon;
      const reason = scratchFsSkipReason(type);
      if (reason) skipWith(this, reason);
      scratch = mountScratchFs(type, { size: 512 * MiB });
    });
    afterEach(() => {
      while (fds.length) fs.closeSync(fds.pop()!);
    });
    after(() => {
      while (fds.length) fs.closeSync(fds.pop()!);
      scratch?.release();
      scratch = null;
    });

    it('seekData/seekHole find data and holes, and ENXIO at or past EOF', function () {
      const { fd } = file(undefined, 4 * MiB);
      fs.writeSync(fd, pattern(64 * KiB, 1), 0, 64 * KiB, MiB);
      fs.fsyncSync(fd);
      assert.strictEqual(n.seekData(fd, 0), MiB);
      assert.strictEqual(n.seekHole(fd, 0), 0);
      assert.strictEqual(n.seekHole(fd, MiB), MiB + 64 * KiB);
      assert.strictEqual(n.seekData(fd, MiB + 4096), MiB + 4096);
      assert.strictEqual(n.seekHole(fd, 3 * MiB), 3 * MiB);
      expectCode(() => n.seekData(fd, 2 * MiB), 'ENXIO', 'no data after 2 MiB');
      expectCode(() => n.seekData(fd, 4 * MiB), 'ENXIO', 'data at EOF');
      expectCode(() => n.seekHole(fd, 4 * MiB), 'ENXIO', 'hole at EOF');
      expectCode(() => n.seekHole(fd, 2n ** 62n), 'ENXIO', 'hole far past EOF (bigint)');
    });

    it('fallocate: allocate, KEEP_SIZE, PUNCH_HOLE|KEEP_SIZE, and EOPNOTSUPP for punch without KEEP_SIZE', function () {
      const { fd } = file(pattern(MiB, 2), MiB);
      n.fallocate(fd, 0, MiB, MiB);
      assert.strictEqual(fs.fstatSync(fd).size, 2 * MiB, 'mode 0 extends');
      n.fallocate(fd, FALLOC_FL_KEEP_SIZE, 2 * MiB, MiB);
      assert.strictEqual(fs.fstatSync(fd).size, 2 * MiB, 'KEEP_SIZE does not');
      fs.fsyncSync(fd);
      const before = fs.fstatSync(fd).blocks;
      n.fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 256 * KiB, 512 * KiB);
      assert.ok(readAt(fd, 256 * KiB, 512 * KiB).equals(Buffer.alloc(512 * KiB)), 'punched range reads zero');
      assert.ok(readAt(fd, 0, 256 * KiB).equals(pattern(MiB, 2).subarray(0, 256 * KiB)), 'head kept');
      assert.ok(fs.fstatSync(fd).blocks < before, 'blocks freed');
      assert.strictEqual(fs.fstatSync(fd).size, 2 * MiB);
      expectCode(() => n.fallocate(fd, FALLOC_FL_PUNCH_HOLE, 0, 4096), 'EOPNOTSUPP', 'punch without KEEP_SIZE');
      expectCode(() => n.fallocate(fd, 0, 0, 0), 'EINVAL', 'zero length');
    });

    it(`fallocate modes match the platform table (zero ${sup.zeroRange}, collapse ${sup.collapse}, insert ${sup.insert}, unshare ${sup.unshare})`, function () {
      const modes: Array<[string, number, boolean]> = [
        ['ZERO_RANGE', FALLOC_FL_ZERO_RANGE, sup.zeroRange],
        ['COLLAPSE_RANGE', FALLOC_FL_COLLAPSE_RANGE, sup.collapse],
        ['INSERT_RANGE', FALLOC_FL_INSERT_RANGE, sup.insert],
        ['UNSHARE_RANGE', FALLOC_FL_UNSHARE_RANGE, sup.unshare],
      ];
      for (const [name, mode, ok] of modes) {
        const data = pattern(2 * MiB, 3);
        const { fd } = file(data);
        fs.fsyncSync(fd);
        if (!ok) {
          expectCode(() => n.fallocate(fd, mode, 64 * KiB, 64 * KiB), 'EOPNOTSUPP', name);
          continue;
        }
        n.fallocate(fd, mode, 64 * KiB, 64 * KiB);
        const size = fs.fstatSync(fd).size;
        if (name === 'ZERO_RANGE') {
          assert.ok(readAt(fd, 64 * KiB, 64 * KiB).equals(Buffer.alloc(64 * KiB)));
          assert.strictEqual(size, 2 * MiB);
        } else if (name === 'COLLAPSE_RANGE') {
          assert.strictEqual(size, 2 * MiB - 64 * KiB);
          assert.ok(readAt(fd, 64 * KiB, 64 * KiB).equals(data.subarray(128 * KiB, 192 * KiB)));
        } else if (name === 'INSERT_RANGE') {
          assert.strictEqual(size, 2 * MiB + 64 * KiB);
          assert.ok(readAt(fd, 64 * KiB, 64 * KiB).equals(Buffer.alloc(64 * KiB)));
          assert.ok(readAt(fd, 128 * KiB, 64 * KiB).equals(data.subarray(64 * KiB, 128 * KiB)));
        } else {
          assert.ok(readAt(fd, 0, 2 * MiB).equals(data));
        }
      }
    });

    it(`fiemap ${sup.fiemap ? 'reports each extent, in batches beyond 256' : 'is EOPNOTSUPP'}`, function () {
      const { fd } = file(undefined, 4 * MiB);
      for (const off of [0, MiB, 2 * MiB]) fs.writeSync(fd, pattern(64 * KiB, off), 0, 64 * KiB, off);
      if (!sup.fiemap) {
        expectCode(() => n.fiemap(fd, 0, FIEMAP_MAX_OFFSET, FIEMAP_FLAG_SYNC), 'EOPNOTSUPP');
        return;
      }
      const ext = n.fiemap(fd, 0, FIEMAP_MAX_OFFSET, FIEMAP_FLAG_SYNC);
      assert.deepStrictEqual(ext.map((e) => [e.logical, e.length]), [[0, 64 * KiB], [MiB, 64 * KiB], [2 * MiB, 64 * KiB]],
        JSON.stringify(ext));
      assert.ok(ext.every((e) => typeof e.physical === 'number' && e.physical > 0));
      assert.ok((ext[2].flags & FIEMAP_EXTENT_LAST) !== 0, 'last extent flagged LAST');
      const one = n.fiemap(fd, MiB, 4096, 0);
      assert.deepStrictEqual(one.map((e) => e.logical), [MiB], 'a sub-range returns only what overlaps');
      assert.deepStrictEqual(n.fiemap(fd, 3 * MiB, MiB, 0), [], 'a hole has no extents');

      // More extents than one ioctl batch holds (256): 300 4 KiB blocks, each followed by a hole.
      const many = file(undefined, 300 * 8 * KiB).fd;
      for (let i = 0; i < 300; i++) fs.writeSync(many, pattern(4 * KiB, i + 1), 0, 4 * KiB, i * 8 * KiB);
      const all = n.fiemap(many, 0, FIEMAP_MAX_OFFSET, FIEMAP_FLAG_SYNC);
      assert.strictEqual(all.length, 300);
      all.forEach((e, i) => {
        assert.strictEqual(e.logical, i * 8 * KiB);
        assert.strictEqual(e.length, 4 * KiB);
      });
    });

    it(`ficloneRange ${sup.reflink ? 'shares extents (FIEMAP shows SHARED)' : 'is EOPNOTSUPP'}`, function () {
      const data = pattern(128 * KiB, 4);
      const src = file(data);
      fs.fsyncSync(src.fd);
      const dst = file();
      if (!sup.reflink) {
        expectCode(() => n.ficloneRange(src.fd, 0, 128 * KiB, dst.fd, 0), 'EOPNOTSUPP');
        return;
      }
      n.ficloneRange(src.fd, 0, 128 * KiB, dst.fd, 0);
      assert.ok(readAt(dst.fd, 0, 128 * KiB).equals(data));
      const ext = n.fiemap(dst.fd, 0, FIEMAP_MAX_OFFSET, FIEMAP_FLAG_SYNC);
      assert.ok(ext.length > 0 && ext.every((e) => (e.flags & FIEMAP_EXTENT_SHARED) !== 0), JSON.stringify(ext));
      n.ficloneRange(src.fd, 64 * KiB, 64 * KiB, dst.fd, 256 * KiB);
      assert.strictEqual(fs.fstatSync(dst.fd).size, 320 * KiB);
      assert.ok(readAt(dst.fd, 256 * KiB, 64 * KiB).equals(data.subarray(64 * KiB)));
      expectCode(() => n.ficloneRange(src.fd, 1, 4096, dst.fd, 0), 'EINVAL', 'unaligned source offset');
      const other = path.join(os.tmpdir(), `iomap-xdev-${process.pid}`);
      const ofd = fs.openSync(other, 'w+');
      try {
        expectCode(() => n.ficloneRange(src.fd, 0, 4096, ofd, 0), 'EXDEV', 'across filesystems');
      } finally {
        fs.closeSync(ofd);
        fs.rmSync(other, { force: true });
      }
    });

    it(`fideduperange ${sup.reflink ? 'dedupes equal data and reports DIFFERS for unequal' : 'is EOPNOTSUPP'}`, function () {
      const data = pattern(128 * KiB, 5);
      const a = file(data);
      const b = file(data);
      const c = file(pattern(128 * KiB, 6));
      fs.fsyncSync(a.fd); fs.fsyncSync(b.fd); fs.fsyncSync(c.fd);
      if (!sup.reflink) {
        expectCode(() => n.fideduperange(a.fd, 0, 128 * KiB, b.fd, 0), 'EOPNOTSUPP');
        return;
      }
      const same = n.fideduperange(a.fd, 0, 128 * KiB, b.fd, 0);
      assert.deepStrictEqual(same, { bytesDeduped: 128 * KiB, status: FILE_DEDUPE_RANGE_SAME });
      const ext = n.fiemap(b.fd, 0, FIEMAP_MAX_OFFSET, 0);
      assert.ok(ext.every((e) => (e.flags & FIEMAP_EXTENT_SHARED) !== 0), 'deduped extents are shared');
      const diff = n.fideduperange(a.fd, 0, 128 * KiB, c.fd, 0);
      assert.deepStrictEqual(diff, { bytesDeduped: 0, status: FILE_DEDUPE_RANGE_DIFFERS });
    });

    it('copyFileRange copies with explicit offsets and returns 0 at source EOF', function () {
      const data = pattern(96 * KiB, 7);
      const src = file(data);
      const dst = file();
      let done = 0;
      while (done < 64 * KiB) {
        const r = n.copyFileRange(src.fd, 16 * KiB + done, dst.fd, 4096 + done, 64 * KiB - done);
        assert.ok(r > 0);
        done += r;
      }
      assert.ok(readAt(dst.fd, 4096, 64 * KiB).equals(data.subarray(16 * KiB, 80 * KiB)));
      assert.ok(readAt(dst.fd, 0, 4096).equals(Buffer.alloc(4096)));
      assert.strictEqual(n.copyFileRange(src.fd, 96 * KiB, dst.fd, 0, 4096), 0);
      assert.strictEqual(n.copyFileRange(src.fd, 10 * MiB, dst.fd, 0, 4096), 0);
    });

    it(`statxDioAlign ${sup.dioAlign ? 'reports the O_DIRECT alignment' : 'answers null or an alignment'}`, function () {
      const { p } = file(pattern(4096, 1));
      const a = n.statxDioAlign(p);
      if (sup.dioAlign) assert.ok(a !== null, `${type} reports STATX_DIOALIGN`);
      if (a !== null) {
        assert.ok(isPow2(a.memAlign) && isPow2(a.offsetAlign), JSON.stringify(a));
        assert.ok(a.offsetAlign <= 4096);
      }
    });
  });
}
