/**
 * One BlockDevice conformance suite, run against every backend:
 *   MemoryDevice (512 and 4096-byte sectors), FileDevice over a regular file (buffered and
 *   O_DIRECT), FileDevice over a real loop block device (512 and 4096-byte logical sectors,
 *   buffered and O_DIRECT; needs root). A backend that cannot run here is skipped with its reason
 *   printed. Then backend-specific tests (sparseness and snapshots, file/loop geometry, error mapping).
 */
import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { EINVAL, EIO, EOPNOTSUPP, FsError } from '../reference/errno';
import type { BlockDevice } from '../reference/device/types';
import { CHUNK_SIZE, MemoryDevice, MemorySnapshot } from '../reference/device/memory';
import { FileDevice, devMajorMinor } from '../reference/device/file';
import { loadNative, setNativeForTesting } from '../reference/device/native';
import { errnoForCode, toFsError } from '../reference/device/errors';
import { createLoopDevice, loopSkipReason, scratchFsSkipReason, withLoopDevice, withScratchFs } from './support/loop';
import { expectCode, pattern, skipWith } from './support/expect';

const MiB = 1024 * 1024;
const SIZE = 4 * MiB;

// ---- helpers ------------------------------------------------------------------------------------

function readBack(dev: BlockDevice, off: number, len: number): Buffer {
  const b = Buffer.alloc(len, 0xee);
  dev.read(off, b);
  return b;
}

function isAllZero(b: Uint8Array): boolean {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).equals(Buffer.alloc(b.byteLength));
}

// ---- backends -----------------------------------------------------------------------------------

interface Harness {
  dev: BlockDevice;
  /** Close and open the same storage again (absent for memory). */
  reopen?: () => BlockDevice;
  cleanup(): void;
}

interface Backend {
  label: string;
  sectorSize: number;
  skip(): string | null;
  open(size: number): Harness;
}

function closeAll(devs: BlockDevice[]): void {
  for (const d of devs) if (!d.closed) d.close();
}

function memoryBackend(sectorSize: number): Backend {
  return {
    label: `MemoryDevice (sector ${sectorSize})`,
    sectorSize,
    skip: () => null,
    open: (size) => ({ dev: new MemoryDevice({ size, sectorSize }), cleanup: () => undefined }),
  };
}

function directSkip(): string | null {
  const n = loadNative();
  return n.addon ? null : `O_DIRECT needs the native addon: ${n.reason}`;
}

function fileBackend(sectorSize: number, direct: boolean): Backend {
  return {
    label: `FileDevice on a regular file (sector ${sectorSize}${direct ? ', O_DIRECT' : ''})`,
    sectorSize,
    skip: () => (direct ? directSkip() : null),
    open(size) {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'iomap-dev-'));
      const file = path.join(dir, 'dev.img');
      const devs: BlockDevice[] = [];
      try {
        devs.push(FileDevice.open(file, { create: { size }, sectorSize, direct }));
      } catch (e) {
        fs.rmSync(dir, { recursive: true, force: true });
        throw e;
      }
      const h: Harness = {
        dev: devs[0],
        reopen() {
          closeAll(devs);
          const d = FileDevice.open(file, { sectorSize, direct });
          devs.push(d);
          return d;
        },
        cleanup() {
          try { closeAll(devs); } finally { fs.rmSync(dir, { recursive: true, force: true }); }
        },
      };
      return h;
    },
  };
}

function loopBackend(sectorSize: number, direct: boolean): Backend {
  return {
    label: `FileDevice on a loop block device (losetup --sector-size ${sectorSize}${direct ? ', O_DIRECT' : ''})`,
    sectorSize,
    skip: () => loopSkipReason() ?? (direct ? directSkip() : null),
    open(size) {
      const loop = createLoopDevice(size, { sectorSize });
      const devs: BlockDevice[] = [];
      try {
        devs.push(FileDevice.open(loop.path, { direct }));
      } catch (e) {
        loop.release();
        throw e;
      }
      return {
        dev: devs[0],
        reopen() {
          closeAll(devs);
          const d = FileDevice.open(loop.path, { direct });
          devs.push(d);
          return d;
        },
        cleanup() {
          try { closeAll(devs); } finally { loop.release(); }
        },
      };
    },
  };
}

const BACKENDS: Backend[] = [
  memoryBackend(512),
  memoryBackend(4096),
  fileBackend(512, false),
  fileBackend(4096, false),
  fileBackend(512, true),
  fileBackend(4096, true),
  loopBackend(512, false),
  loopBackend(512, true),
  loopBackend(4096, false),
  loopBackend(4096, true),
];

// ---- the shared conformance suite ---------------------------------------------------------------

/** Values that are not acceptable offsets/lengths for any device, each with the errno expected. */
function badNumbers(ss: number, size: number): Array<[string, unknown, string]> {
  return [
    ['misaligned (1)', 1, 'EINVAL'],
    ['misaligned (half a sector)', ss / 2, 'EINVAL'],
    ['misaligned (sector + 1)', ss + 1, 'EINVAL'],
    ['negative', -ss, 'EINVAL'],
    ['NaN', NaN, 'EINVAL'],
    ['Infinity', Infinity, 'EINVAL'],
    ['-Infinity', -Infinity, 'EINVAL'],
    ['non-integer', ss + 0.5, 'EINVAL'],
    ['string', String(ss), 'EINVAL'],
    ['bigint', BigInt(ss), 'EINVAL'],
    ['undefined', undefined, 'EINVAL'],
    ['null', null, 'EINVAL'],
    ['object', { valueOf: () => ss }, 'EINVAL'],
    ['past the end', size + ss, 'ENOSPC'],
    ['far past the end (2^52)', 2 ** 52, 'ENOSPC'],
    ['2^60 (not a safe integer)', 2 ** 60, 'ENOSPC'],
  ];
}

const BAD_BUFFERS: Array<[string, unknown]> = [
  ['plain array', [0, 0, 0, 0]],
  ['ArrayBuffer', new ArrayBuffer(4096)],
  ['DataView', new DataView(new ArrayBuffer(4096))],
  ['Uint16Array', new Uint16Array(2048)],
  ['Int8Array', new Int8Array(4096)],
  ['Uint8ClampedArray', new Uint8ClampedArray(4096)],
  ['string', 'x'.repeat(4096)],
  ['null', null],
  ['undefined', undefined],
  ['number', 4096],
];

for (const be of BACKENDS) {
  describe(`device conformance: ${be.label}`, function () {
    const ss = be.sectorSize;
    let h: Harness;
    let dev: BlockDevice;

    before(function () {
      const reason = be.skip();
      if (reason) skipWith(this, reason);
    });
    beforeEach(function () {
      h = be.open(SIZE);
      dev = h.dev;
    });
    afterEach(function () {
      h?.cleanup();
    });

    it('reports its geometry', function () {
      assert.strictEqual(dev.size, SIZE);
      assert.strictEqual(dev.sectorSize, ss);
      assert.strictEqual(typeof dev.name, 'string');
      assert.ok(dev.name.length > 0);
      assert.strictEqual(typeof dev.dax, 'boolean');
      assert.strictEqual(dev.closed, false);
    });

    it('reads zeroes everywhere before anything is written', function () {
      assert.ok(isAllZero(readBack(dev, 0, SIZE)));
    });

    it('round-trips writes at the start, across a chunk boundary, and at the last sector', function () {
      const cases: Array<[number, number]> = [
        [0, ss], [ss, 3 * ss], [CHUNK_SIZE - ss, 2 * ss], [CHUNK_SIZE * 3 - 2 * ss, CHUNK_SIZE + 4 * ss], [SIZE - ss, ss],
      ];
      cases.forEach(([off, len], i) => dev.write(off, pattern(len, i + 1)));
      cases.forEach(([off, len], i) => assert.ok(readBack(dev, off, len).equals(pattern(len, i + 1)), `at ${off}+${len}`));
    });

    it('round-trips a large write that is bigger than a bounce buffer (1 MiB + 2 sectors)', function () {
      const len = MiB + 2 * ss;
      const data = pattern(len, 77);
      dev.write(ss, data);
      assert.ok(readBack(dev, ss, len).equals(data));
      assert.ok(isAllZero(readBack(dev, 0, ss)));
      assert.ok(isAllZero(readBack(dev, ss + len, ss)));
    });

    it('keeps unwritten areas between writes zero', function () {
      dev.write(0, pattern(ss, 1));
      dev.write(4 * ss, pattern(ss, 2));
      dev.write(SIZE - ss, pattern(ss, 3));
      const all = readBack(dev, 0, SIZE);
      assert.ok(isAllZero(all.subarray(ss, 4 * ss)));
      assert.ok(isAllZero(all.subarray(5 * ss, SIZE - ss)));
      assert.ok(all.subarray(4 * ss, 5 * ss).equals(pattern(ss, 2)));
    });

    it('overwrites exactly the sectors written', function () {
      dev.write(0, pattern(8 * ss, 10));
      dev.write(2 * ss, pattern(3 * ss, 11));
      const got = readBack(dev, 0, 8 * ss);
      const want = pattern(8 * ss, 10);
      pattern(3 * ss, 11).copy(want, 2 * ss);
      assert.ok(got.equals(want));
    });

    it('accepts views with odd byte offsets (alignment is the device\'s problem, not the caller\'s)', function () {
      const backing = new Uint8Array(4 * ss + 3);
      const src = backing.subarray(3, 3 + 4 * ss);
      src.set(pattern(4 * ss, 5));
      dev.write(ss, src);
      const dstBacking = new Uint8Array(4 * ss + 7);
      const dst = dstBacking.subarray(7, 7 + 4 * ss);
      dev.read(ss, dst);
      assert.ok(Buffer.from(dst).equals(pattern(4 * ss, 5)));
      assert.strictEqual(dstBacking[0], 0, 'bytes before the view untouched');
      // A plain Uint8Array (not a Buffer) works too.
      const plain = new Uint8Array(ss);
      dev.read(ss, plain);
      assert.ok(Buffer.from(plain).equals(pattern(4 * ss, 5).subarray(0, ss)));
    });

    it('does not change the caller\'s buffer on write', function () {
      const data = pattern(2 * ss, 6);
      const copy = Buffer.from(data);
      dev.write(0, data, { fua: true });
      assert.ok(data.equals(copy));
    });

    it('treats zero-length requests at any aligned offset up to the size as no-ops', function () {
      dev.write(0, pattern(ss, 1));
      for (const off of [0, ss, SIZE - ss, SIZE]) {
        dev.read(off, new Uint8Array(0));
        dev.write(off, new Uint8Array(0));
        dev.write(off, new Uint8Array(0), { fua: true });
        dev.discard(off, 0);
      }
      assert.ok(readBack(dev, 0, ss).equals(pattern(ss, 1)));
    });

    it('supports FUA writes and flush', function () {
      dev.write(0, pattern(ss, 1), { fua: true });
      dev.write(ss, pattern(ss, 2), { fua: false });
      dev.write(2 * ss, pattern(ss, 3), {});
      dev.flush();
      dev.flush();
      assert.ok(readBack(dev, 0, 3 * ss).equals(Buffer.concat([pattern(ss, 1), pattern(ss, 2), pattern(ss, 3)])));
    });

    it('keeps flushed and FUA data across close and reopen (persistent backends)', function () {
      if (!h.reopen) skipWith(this, `${be.label} is volatile: nothing to reopen`);
      dev.write(0, pattern(2 * ss, 1), { fua: true });
      dev.write(CHUNK_SIZE, pattern(ss, 2));
      dev.flush();
      const again = h.reopen();
      assert.strictEqual(again.size, SIZE);
      assert.strictEqual(again.sectorSize, ss);
      assert.ok(readBack(again, 0, 2 * ss).equals(pattern(2 * ss, 1)));
      assert.ok(readBack(again, CHUNK_SIZE, ss).equals(pattern(ss, 2)));
    });

    it('discard makes the range read as zeroes and leaves the rest alone', function () {
      const len = 3 * CHUNK_SIZE;
      dev.write(0, pattern(len, 9));
      // partial chunk head, two whole chunks... and a partial tail
      const dOff = CHUNK_SIZE - 2 * ss;
      const dLen = CHUNK_SIZE + 4 * ss;
      dev.discard(dOff, dLen);
      const got = readBack(dev, 0, len);
      const want = pattern(len, 9);
      want.fill(0, dOff, dOff + dLen);
      assert.ok(got.equals(want));
      dev.discard(0, SIZE);
      assert.ok(isAllZero(readBack(dev, 0, SIZE)));
      // still writable afterwards
      dev.write(ss, pattern(ss, 4));
      assert.ok(readBack(dev, ss, ss).equals(pattern(ss, 4)));
    });

    it('rejects bad offsets for read, write and discard with the exact errno', function () {
      for (const [what, v, code] of badNumbers(ss, SIZE)) {
        expectCode(() => dev.read(v as number, new Uint8Array(ss)), code, `read offset ${what}`);
        expectCode(() => dev.write(v as number, new Uint8Array(ss)), code, `write offset ${what}`);
        expectCode(() => dev.discard(v as number, ss), code, `discard offset ${what}`);
      }
    });

    it('rejects bad lengths with the exact errno', function () {
      for (const [what, v, code] of badNumbers(ss, SIZE)) {
        expectCode(() => dev.discard(0, v as number), code, `discard length ${what}`);
      }
      for (const len of [1, ss / 2, ss + 1, ss - 1, 3 * ss + 100]) {
        expectCode(() => dev.read(0, new Uint8Array(len)), 'EINVAL', `read length ${len}`);
        expectCode(() => dev.write(0, new Uint8Array(len)), 'EINVAL', `write length ${len}`);
      }
    });

    it('rejects ranges that end past the device with ENOSPC and writes nothing', function () {
      expectCode(() => dev.read(SIZE - ss, new Uint8Array(2 * ss)), 'ENOSPC', 'read straddling the end');
      expectCode(() => dev.write(SIZE - ss, pattern(2 * ss, 1)), 'ENOSPC', 'write straddling the end');
      expectCode(() => dev.write(SIZE - ss, pattern(2 * ss, 1), { fua: true }), 'ENOSPC', 'FUA write straddling the end');
      expectCode(() => dev.discard(SIZE - ss, 2 * ss), 'ENOSPC', 'discard straddling the end');
      expectCode(() => dev.read(SIZE, new Uint8Array(ss)), 'ENOSPC', 'read at the end');
      expectCode(() => dev.write(SIZE, new Uint8Array(ss)), 'ENOSPC', 'write at the end');
      expectCode(() => dev.discard(SIZE + ss, 0), 'ENOSPC', 'empty discard past the end');
      expectCode(() => dev.read(SIZE + ss, new Uint8Array(0)), 'ENOSPC', 'empty read past the end');
      assert.ok(isAllZero(readBack(dev, SIZE - ss, ss)), 'no partial write happened');
    });

    it('rejects a buffer that is not a Uint8Array with EINVAL', function () {
      for (const [what, b] of BAD_BUFFERS) {
        expectCode(() => dev.read(0, b as Uint8Array), 'EINVAL', `read into ${what}`);
        expectCode(() => dev.write(0, b as Uint8Array), 'EINVAL', `write from ${what}`);
      }
      assert.ok(isAllZero(readBack(dev, 0, 2 * ss)));
    });

    it('rejects bad write options with EINVAL', function () {
      for (const o of [null, 'fua', 1, true, [], { fua: 'yes' }, { fua: 1 }, { fua: null }]) {
        expectCode(() => dev.write(0, pattern(ss, 1), o as never), 'EINVAL', `options ${JSON.stringify(o)}`);
      }
      assert.ok(isAllZero(readBack(dev, 0, ss)), 'a rejected write wrote nothing');
    });

    it('still works normally after rejecting bad input', function () {
      expectCode(() => dev.write(1, pattern(ss, 1)), 'EINVAL');
      expectCode(() => dev.read(SIZE, new Uint8Array(ss)), 'ENOSPC');
      dev.write(0, pattern(ss, 8));
      assert.ok(readBack(dev, 0, ss).equals(pattern(ss, 8)));
    });

    it('fails every call with EBADF after close (even with bad arguments), and close twice is EBADF', function () {
      dev.write(0, pattern(ss, 1));
      dev.close();
      assert.strictEqual(dev.closed, true);
      expectCode(() => dev.read(0, new Uint8Array(ss)), 'EBADF', 'read');
      expectCode(() => dev.read(1, 'nope' as never), 'EBADF', 'read with bad args');
      expectCode(() => dev.write(0, new Uint8Array(ss)), 'EBADF', 'write');
      expectCode(() => dev.write(0, new Uint8Array(ss), { fua: true }), 'EBADF', 'FUA write');
      expectCode(() => dev.write(NaN, null as never, 'x' as never), 'EBADF', 'write with bad args');
      expectCode(() => dev.flush(), 'EBADF', 'flush');
      expectCode(() => dev.discard(0, ss), 'EBADF', 'discard');
      expectCode(() => dev.discard(-1, NaN), 'EBADF', 'discard with bad args');
      expectCode(() => dev.close(), 'EBADF', 'second close');
      assert.strictEqual(dev.size, SIZE, 'geometry still readable after close');
    });
  });
}

// ---- MemoryDevice specifics ---------------------------------------------------------------------

describe('MemoryDevice', function () {
  const TiB = 2 ** 40;

  it('is sparse: a 1 TiB device with two sectors written far apart holds at most two chunks', function () {
    const d = new MemoryDevice({ size: TiB });
    assert.strictEqual(d.allocatedBytes(), 0);
    d.write(0, pattern(512, 1));
    d.write(TiB - 512, pattern(512, 2));
    assert.ok(d.allocatedBytes() <= 2 * CHUNK_SIZE, `allocated ${d.allocatedBytes()}`);
    assert.ok(readBack(d, TiB - 512, 512).equals(pattern(512, 2)));
    assert.ok(isAllZero(readBack(d, TiB / 2, MiB)));
    assert.ok(d.allocatedBytes() <= 2 * CHUNK_SIZE, 'reads allocate nothing');
  });

  it('does not allocate for all-zero writes, frees whole zeroed chunks, and discard frees memory', function () {
    const d = new MemoryDevice({ size: 64 * MiB, sectorSize: 4096 });
    d.write(0, Buffer.alloc(8 * MiB));
    assert.strictEqual(d.allocatedBytes(), 0);
    d.write(0, pattern(3 * CHUNK_SIZE, 1));
    assert.strictEqual(d.allocatedBytes(), 3 * CHUNK_SIZE);
    d.write(CHUNK_SIZE, Buffer.alloc(CHUNK_SIZE));
    assert.strictEqual(d.allocatedBytes(), 2 * CHUNK_SIZE);
    d.write(0, Buffer.alloc(4096)); // partial zero write keeps the chunk
    assert.strictEqual(d.allocatedBytes(), 2 * CHUNK_SIZE);
    assert.ok(isAllZero(readBack(d, 0, 4096)));
    d.discard(0, 4096); // partial discard zeroes, keeps
    assert.strictEqual(d.allocatedBytes(), 2 * CHUNK_SIZE);
    d.discard(0, 64 * MiB);
    assert.strictEqual(d.allocatedBytes(), 0);
    assert.ok(isAllZero(readBack(d, 0, 3 * CHUNK_SIZE)));
  });

  it('defaults to 512-byte sectors and DAX, and takes dax/name options', function () {
    const d = new MemoryDevice({ size: MiB });
    assert.strictEqual(d.sectorSize, 512);
    assert.strictEqual(d.dax, true);
    assert.strictEqual(d.name, 'memory');
    const e = new MemoryDevice({ size: MiB, dax: false, name: 'scratch' });
    assert.strictEqual(e.dax, false);
    assert.strictEqual(e.name, 'scratch');
    const z = new MemoryDevice({ size: 0 });
    expectCode(() => z.read(0, new Uint8Array(512)), 'ENOSPC');
    z.read(0, new Uint8Array(0));
  });

  it('rejects bad geometry with EINVAL', function () {
    const bad: unknown[] = [
      undefined, null, 42, {}, { size: -512 }, { size: 1000 }, { size: NaN }, { size: 2 ** 60 }, { size: '1M' },
      { size: MiB, sectorSize: 1000 }, { size: MiB, sectorSize: 256 }, { size: MiB, sectorSize: 131072 },
      { size: MiB, sectorSize: 512.5 }, { size: 4096 + 512, sectorSize: 4096 }, { size: MiB, dax: 'yes' },
      { size: MiB, name: 7 },
    ];
    for (const o of bad) expectCode(() => new MemoryDevice(o as never), 'EINVAL', JSON.stringify(o));
  });

  it('snapshot/restore: cheap, copy-on-write, restorable many times', function () {
    const d = new MemoryDevice({ size: 16 * MiB });
    d.write(0, pattern(2 * CHUNK_SIZE, 1));
    const s = d.snapshot();
    assert.ok(s instanceof MemorySnapshot);
    assert.strictEqual(s.allocatedBytes(), 2 * CHUNK_SIZE);
    d.write(512, pattern(512, 2)); // copy-on-write of a shared chunk
    d.discard(CHUNK_SIZE, 512); // partial discard of a shared chunk
    d.write(8 * MiB, pattern(512, 3)); // a new chunk
    d.discard(0, 0);
    assert.ok(readBack(d, 512, 512).equals(pattern(512, 2)));
    d.restore(s);
    assert.ok(readBack(d, 0, 2 * CHUNK_SIZE).equals(pattern(2 * CHUNK_SIZE, 1)));
    assert.ok(isAllZero(readBack(d, 8 * MiB, 512)));
    d.write(0, pattern(CHUNK_SIZE, 4)); // whole-chunk overwrite after restore: still COW
    d.restore(s);
    assert.ok(readBack(d, 0, 2 * CHUNK_SIZE).equals(pattern(2 * CHUNK_SIZE, 1)));
    const s2 = d.snapshot();
    d.discard(0, 16 * MiB);
    assert.strictEqual(d.allocatedBytes(), 0);
    d.restore(s2);
    assert.ok(readBack(d, 0, 2 * CHUNK_SIZE).equals(pattern(2 * CHUNK_SIZE, 1)));
  });

  it('snapshot/restore reject misuse', function () {
    const d = new MemoryDevice({ size: MiB });
    const other = new MemoryDevice({ size: 2 * MiB });
    expectCode(() => d.restore(other.snapshot()), 'EINVAL', 'size mismatch');
    expectCode(() => d.restore(new MemoryDevice({ size: MiB, sectorSize: 4096 }).snapshot()), 'EINVAL', 'sector mismatch');
    expectCode(() => d.restore({} as never), 'EINVAL', 'not a snapshot');
    const s = d.snapshot();
    d.close();
    expectCode(() => d.snapshot(), 'EBADF');
    expectCode(() => d.restore(s), 'EBADF');
    expectCode(() => d.allocatedBytes(), 'EBADF');
  });
});

// ---- FileDevice specifics -----------------------------------------------------------------------

describe('FileDevice', function () {
  let dir: string;
  beforeEach(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), 'iomap-fdev-')); });
  afterEach(() => {
    setNativeForTesting(undefined);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('opens an existing file with its size rounded down to whole sectors', function () {
    const f = path.join(dir, 'x.img');
    fs.writeFileSync(f, pattern(3 * 4096 + 100, 1));
    const d = FileDevice.open(f, { sectorSize: 4096 });
    try {
      assert.strictEqual(d.size, 3 * 4096);
      assert.strictEqual(d.isBlockDevice, false);
      assert.strictEqual(d.dax, false);
      assert.strictEqual(d.name, `file:${f}`);
      assert.ok(readBack(d, 0, 3 * 4096).equals(pattern(3 * 4096 + 100, 1).subarray(0, 3 * 4096)));
    } finally {
      d.close();
    }
    const e = FileDevice.open(f);
    assert.strictEqual(e.sectorSize, 512);
    assert.strictEqual(e.size, 3 * 4096);
    e.close();
  });

  it('create resets an existing file to the requested size of zeroes', function () {
    const f = path.join(dir, 'x.img');
    fs.writeFileSync(f, pattern(8192, 1));
    const d = FileDevice.open(f, { create: { size: MiB } });
    assert.strictEqual(d.size, MiB);
    assert.ok(isAllZero(readBack(d, 0, 8192)));
    d.close();
    assert.strictEqual(fs.statSync(f).size, MiB);
  });

  it('rejects bad open arguments with the exact errno', function () {
    const f = path.join(dir, 'x.img');
    fs.writeFileSync(f, Buffer.alloc(4096));
    expectCode(() => FileDevice.open('' as string), 'EINVAL', 'empty path');
    expectCode(() => FileDevice.open(42 as never), 'EINVAL', 'number path');
    expectCode(() => FileDevice.open('a\0b'), 'EINVAL', 'NUL in path');
    expectCode(() => FileDevice.open(path.join(dir, 'missing.img')), 'ENOENT', 'missing file');
    expectCode(() => FileDevice.open(path.join(dir, 'no', 'such', 'dir.img'), { create: { size: 4096 } }), 'ENOENT', 'create in missing dir');
    expectCode(() => FileDevice.open(dir), 'EISDIR', 'a directory');
    expectCode(() => FileDevice.open('/dev/null'), 'EINVAL', 'a character device');
    expectCode(() => FileDevice.open(f, null as never), 'EINVAL', 'null options');
    expectCode(() => FileDevice.open(f, { sectorSize: 1000 }), 'EINVAL', 'sector size 1000');
    expectCode(() => FileDevice.open(f, { sectorSize: 256 }), 'EINVAL', 'sector size 256');
    expectCode(() => FileDevice.open(f, { direct: 'yes' as never }), 'EINVAL', 'direct not boolean');
    expectCode(() => FileDevice.open(f, { name: 5 as never }), 'EINVAL', 'name not string');
    expectCode(() => FileDevice.open(f, { create: { size: 1000 } }), 'EINVAL', 'create size not sector multiple');
    expectCode(() => FileDevice.open(f, { create: { size: -4096 } }), 'EINVAL', 'negative create size');
    expectCode(() => FileDevice.open(f, { create: 4096 as never }), 'EINVAL', 'create not an object');
    expectCode(() => FileDevice.open(f, { create: { size: 4096 }, sectorSize: 8192 }), 'EINVAL', 'create size smaller than the sector size');
    assert.strictEqual(fs.statSync(f).size, 4096, 'failed opens did not truncate the file');
  });

  it('without the native addon: direct: true is EOPNOTSUPP saying why; buffered I/O and discard still work', function () {
    setNativeForTesting(null, 'pretend build failure');
    const f = path.join(dir, 'x.img');
    const e = expectCode(() => FileDevice.open(f, { create: { size: MiB }, direct: true }), 'EOPNOTSUPP');
    assert.match(e.message, /native addon/);
    assert.match(e.message, /pretend build failure/);
    assert.ok(!fs.existsSync(f), 'nothing was created');
    const d = FileDevice.open(f, { create: { size: MiB } });
    d.write(0, pattern(8192, 1));
    d.discard(0, 4096);
    assert.ok(isAllZero(readBack(d, 0, 4096)));
    assert.ok(readBack(d, 4096, 4096).equals(pattern(8192, 1).subarray(4096)));
    d.close();
  });

  it('discard punches a hole in a regular file when the addon is there', function () {
    if (!loadNative().addon) skipWith(this, `native addon unavailable: ${loadNative().reason}`);
    const f = path.join(dir, 'x.img');
    const d = FileDevice.open(f, { create: { size: 4 * MiB } });
    d.write(0, pattern(4 * MiB, 1));
    d.flush();
    const before = fs.statSync(f).blocks;
    d.discard(MiB, 2 * MiB);
    const after = fs.statSync(f).blocks;
    assert.ok(after < before, `blocks ${before} -> ${after}`);
    assert.strictEqual(fs.statSync(f).size, 4 * MiB, 'KEEP_SIZE');
    assert.ok(isAllZero(readBack(d, MiB, 2 * MiB)));
    d.close();
  });

  it('maps a file that shrank underneath it to EIO on read', function () {
    const f = path.join(dir, 'x.img');
    const d = FileDevice.open(f, { create: { size: MiB } });
    fs.truncateSync(f, 4096);
    const e = expectCode(() => d.read(8192, new Uint8Array(4096)), 'EIO');
    assert.match(e.message, /shorter/);
    d.close();
  });

  it('maps a full filesystem to ENOSPC on write (tmpfs of 1 MiB under a 4 MiB device)', async function () {
    const reason = scratchFsSkipReason('tmpfs');
    if (reason) skipWith(this, reason);
    const r = await withScratchFs('tmpfs', (mnt) => {
      const d = FileDevice.open(path.join(mnt, 'dev.img'), { create: { size: 4 * MiB } });
      try {
        expectCode(() => d.write(0, pattern(2 * MiB, 1)), 'ENOSPC', 'write beyond the filesystem\'s space');
        d.write(0, pattern(4096, 2)); // what fits still works
        assert.ok(readBack(d, 0, 4096).equals(pattern(4096, 2)));
      } finally {
        d.close();
      }
    }, { size: MiB });
    assert.strictEqual(r.skipped, null);
  });

  it('O_DIRECT on a real ext4 file: unaligned caller buffers work through the bounce buffer', async function () {
    const reason = scratchFsSkipReason('ext4') ?? directSkip();
    if (reason) skipWith(this, reason);
    const r = await withScratchFs('ext4', (mnt) => {
      const f = path.join(mnt, 'dev.img');
      const d = FileDevice.open(f, { create: { size: 4 * MiB }, direct: true });
      try {
        assert.strictEqual(d.direct, true);
        const backing = new Uint8Array(2 * MiB + 1);
        const src = backing.subarray(1);
        src.set(pattern(2 * MiB, 3));
        d.write(d.sectorSize, src, { fua: true });
        assert.ok(readBack(d, d.sectorSize, 2 * MiB).equals(pattern(2 * MiB, 3)));
        // The same I/O straight from Node with an unaligned Buffer is what O_DIRECT refuses.
        const fd = fs.openSync(f, fs.constants.O_RDWR | fs.constants.O_DIRECT);
        try {
          assert.throws(() => fs.readSync(fd, Buffer.alloc(4096 + 1).subarray(1), 0, 4096, 0), /EINVAL/);
        } finally {
          fs.closeSync(fd);
        }
      } finally {
        d.close();
      }
    }, { size: 64 * MiB });
    assert.strictEqual(r.skipped, null);
  });
});

// ---- FileDevice on real block devices: geometry ---------------------------------------------------

describe('FileDevice on a loop block device', function () {
  before(function () {
    const reason = loopSkipReason();
    if (reason) skipWith(this, reason);
  });
  afterEach(() => setNativeForTesting(undefined));

  it('finds size and logical sector size (4096) from the device, with and without the addon', async function () {
    const size = 8 * MiB + 4096;
    const r = await withLoopDevice(size, (dev) => {
      const st = fs.statSync(dev, { bigint: true });
      const { major, minor } = devMajorMinor(st.rdev);
      assert.ok(fs.existsSync(`/sys/dev/block/${major}:${minor}/size`), 'MAJ:MIN derived from rdev is in sysfs');
      const d = FileDevice.open(dev);
      assert.strictEqual(d.size, size);
      assert.strictEqual(d.sectorSize, 4096);
      assert.strictEqual(d.isBlockDevice, true);
      assert.strictEqual(d.name, `loop:${dev}`);
      d.write(0, pattern(4096, 1));
      expectCode(() => d.write(512, pattern(512, 1)), 'EINVAL', '512-byte write on a 4096-sector device');
      d.close();
      setNativeForTesting(null, 'sysfs fallback test');
      const e = FileDevice.open(dev);
      assert.strictEqual(e.size, size, 'sysfs size x 512');
      assert.strictEqual(e.sectorSize, 4096, 'sysfs logical_block_size');
      assert.ok(readBack(e, 0, 4096).equals(pattern(4096, 1)));
      e.write(8192, pattern(4096, 2));
      e.discard(0, 4096); // zero-writing fallback
      assert.ok(isAllZero(readBack(e, 0, 4096)));
      assert.ok(readBack(e, 8192, 4096).equals(pattern(4096, 2)));
      expectCode(() => FileDevice.open(dev, { direct: true }), 'EOPNOTSUPP', 'direct without addon');
      e.close();
      setNativeForTesting(undefined);
      return true;
    }, { sectorSize: 4096 });
    assert.deepStrictEqual(r, { skipped: null, value: true });
  });

  it('refuses a sector size smaller than the device\'s, and create on a block device', async function () {
    const r = await withLoopDevice(MiB, (dev) => {
      expectCode(() => FileDevice.open(dev, { sectorSize: 512 }), 'EINVAL', 'sector 512 on a 4096 device');
      expectCode(() => FileDevice.open(dev, { create: { size: MiB } }), 'EINVAL', 'create on a block device');
      const d = FileDevice.open(dev, { sectorSize: 8192 });
      assert.strictEqual(d.sectorSize, 8192);
      d.close();
    }, { sectorSize: 4096 });
    assert.strictEqual(r.skipped, null);
  });

  it('works over a loop device whose driver itself uses direct I/O (--direct-io=on)', async function () {
    const r = await withLoopDevice(2 * MiB, (dev) => {
      const direct = loadNative().addon !== null;
      const d = FileDevice.open(dev, { direct });
      d.write(0, pattern(MiB, 5), { fua: true });
      d.discard(4096, 4096);
      const want = pattern(MiB, 5);
      want.fill(0, 4096, 8192);
      assert.ok(readBack(d, 0, MiB).equals(want));
      d.close();
    }, { directIo: true });
    assert.strictEqual(r.skipped, null);
  });

  it('withLoopDevice detaches and deletes even when fn throws', async function () {
    let seen = '';
    await assert.rejects(withLoopDevice(MiB, (dev) => {
      seen = dev;
      throw new Error('boom');
    }), /boom/);
    assert.match(seen, /^\/dev\/loop\d+$/);
    const list = fs.readFileSync('/proc/mounts', 'utf8');
    assert.ok(!list.includes('iomap-loop-'), 'nothing mounted');
    const backing = `/sys/block/${path.basename(seen)}/loop/backing_file`;
    const still = fs.existsSync(backing) ? fs.readFileSync(backing, 'utf8') : '';
    assert.ok(!still.includes('iomap-loop-'), `${seen} still attached to ${still}`);
  });
});

// ---- error mapping -----------------------------------------------------------------------------

describe('device error mapping', function () {
  it('maps Node/addon error codes to FsError with the right errno', function () {
    const mk = (code: string) => Object.assign(new Error(`${code}: x`), { code });
    assert.strictEqual(toFsError(mk('EIO'), 'op').code, 'EIO');
    assert.strictEqual(toFsError(mk('ENOSPC'), 'op').code, 'ENOSPC');
    assert.strictEqual(toFsError(mk('ENOTSUP'), 'op').code, 'EOPNOTSUPP');
    assert.strictEqual(toFsError(mk('EWOULDBLOCK'), 'op').code, 'EAGAIN');
    assert.strictEqual(toFsError(mk('ENOTDIR'), 'op').errno, 20, 'an errno without a name here keeps its number');
    assert.strictEqual(toFsError(mk('ERR_OUT_OF_RANGE'), 'op').code, 'EINVAL');
    assert.strictEqual(toFsError(new TypeError('x'), 'op').errno, EIO);
    assert.strictEqual(toFsError('a string', 'op', EINVAL).errno, EINVAL);
    assert.strictEqual(toFsError(null, 'op').errno, EIO);
    const fe = new FsError(EOPNOTSUPP, 'kept');
    assert.strictEqual(toFsError(fe, 'op'), fe);
    assert.strictEqual(errnoForCode(undefined), undefined);
    assert.strictEqual(errnoForCode('ENOTANERRNO'), undefined);
  });
});
