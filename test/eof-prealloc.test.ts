/**
 * Issue #8 (bug zoo, contract §7.14): the device can hold old data where nothing was written
 * (MemoryDevice `poison`), refs can keep speculative post-EOF preallocation as WRITTEN blocks
 * holding that data (`eofPrealloc`, XFS allocsize=), and op logs carry both (`setup`) so a case
 * replays on `reference` the way it ran on its mutant. Every check here has a case where it fails.
 */
import { defaultApi } from '../reference/iomap/types';
import { strict as assert } from 'assert';
import { DEFAULT_POISON_SEED, MemoryDevice, poisonPattern } from '../reference/device/memory';
import { CrashDevice } from '../reference/device/crash';
import { ReferenceAdapter, ReferenceTarget } from '../adapters/reference';
import { loadAdapter } from '../adapters/registry';
import { Refs } from '../reference/fs/refs';
import { modelBugs } from '../reference/bugs';
import { FIEMAP_FLAG_SYNC } from '../reference/iomap/fiemap';
import { OpLog, parseOpLog, serializeOpLog, toFsxops, adapterOptionsOf } from '../properties/fsx/oplog';
import { main } from '../cli/main';

const KIB = 1024;
const SEED = 1234;

function allZero(b: Uint8Array): boolean {
  return b.every((x) => x === 0);
}

describe('MemoryDevice poison (old disk contents)', () => {
  it('never-written sectors read the seeded pattern; written ones read back; discard reads zero', () => {
    const dev = new MemoryDevice({ size: 1 << 30, poison: SEED });
    const pat = poisonPattern(SEED);
    assert.ok(!pat.includes(0), 'the pattern has no zero byte');
    const got = new Uint8Array(4096);
    dev.read(3 * 65536 + 512, got);
    assert.deepEqual(got, pat.subarray(512, 512 + 4096));
    assert.equal(dev.allocatedBytes(), 0, 'reading materialises nothing');
    dev.write(1024, new Uint8Array(512).fill(7));
    const around = new Uint8Array(2048);
    dev.read(512, around);
    assert.deepEqual(around.subarray(0, 512), pat.subarray(512, 1024), 'old bytes before the write stay');
    assert.ok(around.subarray(512, 1024).every((x) => x === 7));
    assert.deepEqual(around.subarray(1024), pat.subarray(1536, 2560), 'old bytes after the write stay');
    dev.write(65536, new Uint8Array(65536));
    const z = new Uint8Array(65536);
    dev.read(65536, z);
    assert.ok(allZero(z), 'zeroes written over a whole chunk read zero (the chunk is not dropped back to poison)');
    dev.discard(5 * 65536, 65536 + 4096);
    const d = new Uint8Array(65536 + 4096);
    dev.read(5 * 65536, d);
    assert.ok(allZero(d), 'discarded ranges read zero, as documented');
  });

  it('is deterministic from the seed, and the crash harness pattern is the default seed', () => {
    const a = new Uint8Array(8192);
    const b = new Uint8Array(8192);
    new MemoryDevice({ size: 1 << 20, poison: 9 }).read(8192, a);
    new MemoryDevice({ size: 1 << 20, poison: 9 }).read(8192, b);
    assert.deepEqual(a, b);
    new MemoryDevice({ size: 1 << 20, poison: 10 }).read(8192, b);
    assert.notDeepEqual(a, b, 'another seed, other old data');
    new MemoryDevice({ size: 1 << 20 }).read(8192, b);
    assert.ok(allZero(b), 'no poison: zeroes, as before');
    assert.equal(poisonPattern(DEFAULT_POISON_SEED), poisonPattern(0x0bad0bad));
  });

  it('refuses a bad seed, and a snapshot of another poison', () => {
    assert.throws(() => new MemoryDevice({ size: 1 << 20, poison: -1 }), /poison must be an integer seed/);
    assert.throws(() => new MemoryDevice({ size: 1 << 20, poison: 1.5 }), /poison must be an integer seed/);
    const snap = new MemoryDevice({ size: 1 << 20, poison: 1 }).snapshot();
    assert.throws(() => new MemoryDevice({ size: 1 << 20, poison: 2 }).restore(snap), /snapshot poison 1 does not match the device's 2/);
    new MemoryDevice({ size: 1 << 20, poison: 1 }).restore(snap);
  });

  it('crash images of a poisoned device read the same old data where nothing was written', () => {
    const cd = new CrashDevice(new MemoryDevice({ size: 1 << 20, poison: SEED }));
    cd.write(0, new Uint8Array(512).fill(1));
    const img = cd.image({ point: cd.position, writes: [] });
    const got = new Uint8Array(512);
    img.read(4096, got);
    assert.deepEqual(got, poisonPattern(SEED).subarray(4096, 4608));
  });
});

/** refs with 1 KiB blocks under 16 KiB folios, 64 KiB post-EOF preallocation, a poisoned device. */
function preallocTarget(): { a: ReferenceAdapter; t: ReferenceTarget; refs: Refs } {
  const a = new ReferenceAdapter({ blockSize: KIB, folioSize: 16 * KIB, poison: SEED, eofPrealloc: 64 * KIB });
  const t = a.open() as ReferenceTarget;
  assert.ok(t.fsys.fs instanceof Refs);
  return { a, t, refs: t.fsys.fs };
}

/** FIEMAP extents (after SYNC) reaching past the EOF block: the preallocation (maybe merged with data). */
function postEofExtents(t: ReferenceTarget): Array<{ logical: number; length: number; flags: number }> {
  const eofEnd = Math.ceil(t.size() / KIB) * KIB;
  return t.fiemap(0, 1 << 30, FIEMAP_FLAG_SYNC).filter((e) => e.logical + e.length > eofEnd);
}

describe('refs eofPrealloc (speculative post-EOF preallocation)', () => {
  afterEach(() => { modelBugs.readEofOffByOne = false; });

  it('writeback allocates WRITTEN blocks past EOF holding stale data; reads and mapreads past EOF stay zero', () => {
    const { a, t, refs } = preallocTarget();
    try {
      t.pwrite(0, new Uint8Array(5 * KIB).fill(0x11)); // EOF block-aligned, inside the first folio
      t.fsync();
      const post = postEofExtents(t);
      assert.ok(post.length === 1 && post[0].logical <= 5 * KIB && post[0].logical + post[0].length === 64 * KIB, `post-EOF extents: ${JSON.stringify(post)}`);
      assert.equal(post[0].flags & 0x800 /* UNWRITTEN */, 0, 'WRITTEN, not unwritten');
      // Device bytes under the first post-EOF block: the stale pattern (refs never wrote them).
      const ext = refs.inodes.get(t.fh.inode.ino)!.extents.lookup(5).ext!;
      assert.equal(ext.state, 'written');
      const disk = new Uint8Array(KIB);
      refs.dev.read(ext.pblk * KIB + (5 - ext.lblk) * KIB, disk);
      assert.ok(!allZero(disk), 'the block after EOF holds old data on the device');
      t.closeOpen(); // drop the cache: the EOF folio is read again from the device
      const page = t.mapread(4 * KIB, 4 * KIB);
      assert.ok(page.subarray(0, KIB).every((x) => x === 0x11));
      assert.ok(allZero(page.subarray(KIB)), 'mapread past EOF in the EOF page reads zero');
      assert.deepEqual(t.invariants(), []);
      assert.deepEqual(refs.checkConsistency(), []);
    } finally {
      a.close();
    }
  });

  it('the mutant (EOF block from i_size) reads the stale block after EOF: the case that fails', () => {
    const { a, t } = preallocTarget();
    try {
      t.pwrite(0, new Uint8Array(5 * KIB).fill(0x11));
      t.fsync();
      t.closeOpen();
      modelBugs.readEofOffByOne = true;
      const page = t.mapread(4 * KIB, 4 * KIB);
      assert.ok(!allZero(page.subarray(KIB, 2 * KIB)), 'the off-by-one read the post-EOF block from disk');
    } finally {
      modelBugs.readEofOffByOne = false;
      a.close();
    }
  });

  it('truncate up, an extending write and a clone past EOF expose zeroes, not the stale blocks', () => {
    const { a, t, refs } = preallocTarget();
    try {
      t.pwrite(0, new Uint8Array(5 * KIB).fill(0x22));
      t.fsync();
      assert.ok(postEofExtents(t).length > 0);
      t.truncate(9 * KIB + 100);
      t.closeOpen();
      assert.ok(allZero(t.pread(5 * KIB, 4 * KIB + 100)), 'truncate up: zeroes');
      assert.ok(allZero(t.directRead(5 * KIB, 4 * KIB)), 'truncate up, O_DIRECT: zeroes');
      t.fsync(); // write back: a new EOF block and preallocation past it
      t.pwrite(20 * KIB, new Uint8Array(KIB).fill(0x33));
      t.fsync();
      t.closeOpen();
      assert.ok(allZero(t.pread(9 * KIB + 100, 20 * KIB - (9 * KIB + 100))), 'extending write gap: zeroes');
      t.fsync();
      const eof = t.size();
      t.cloneRange(0, 4 * KIB, eof + 8 * KIB - (eof % KIB));
      t.closeOpen();
      assert.ok(allZero(t.pread(eof, 8 * KIB - (eof % KIB))), 'clone past EOF: the gap reads zero');
      t.truncate(3 * KIB);
      t.fsync();
      t.closeOpen();
      assert.ok(allZero(t.mapread(3 * KIB, KIB)), 'truncate down: the page past EOF reads zero');
      assert.deepEqual(t.invariants(), []);
      assert.deepEqual(refs.checkConsistency(), []);
    } finally {
      a.close();
    }
  });

  it('zeroing past EOF over WRITTEN blocks is what rule 15 forbids: without prepareZeroPastEof the monitor says so', () => {
    for (const stub of [false, true]) {
      const { a, t, refs } = preallocTarget();
      try {
        t.pwrite(0, new Uint8Array(5 * KIB).fill(0x44));
        t.fsync();
        t.fallocate(0x03 /* PUNCH_HOLE|KEEP_SIZE */, 4 * KIB, KIB); // the preallocation now starts its own extent at EOF
        if (stub) (refs as { prepareZeroPastEof: unknown }).prepareZeroPastEof = () => 0;
        if (stub) {
          assert.throws(() => t.truncate(12 * KIB), /R15 zero-beyond-eof: MAPPED beyond EOF/);
        } else {
          t.truncate(12 * KIB);
          t.closeOpen();
          assert.ok(allZero(t.pread(4 * KIB, 8 * KIB)));
        }
      } finally {
        a.close();
      }
    }
  });

  it('writeback racing an extending write never preallocates over the write\'s zeroed gap (the sweep\'s shrunk cases)', async () => {
    // Before RefsInode.preallocFloor, a race_punch/race_writeback inside an extending write made
    // writeback allocate WRITTEN stale blocks between the old EOF and the write, which the new size
    // then exposed: each of these logs failed with bad-data on reference.
    const fs = await import('fs');
    const path = await import('path');
    const { replayLog } = await import('../properties/fsx/engine');
    const quiet = { out: () => undefined, err: () => undefined };
    const dir = path.join(__dirname, '..', '..', 'test', 'fixtures', 'prealloc-race');
    const files = fs.readdirSync(dir).filter((n) => n.endsWith('.json'));
    assert.equal(files.length, 3);
    for (const n of files) {
      const log = parseOpLog(fs.readFileSync(path.join(dir, n), 'utf8'), n);
      assert.ok(log.setup?.eofPrealloc !== undefined, `${n} runs with post-EOF preallocation`);
      const r = replayLog(loadAdapter('reference', adapterOptionsOf(log)), 'reference', log, { quiet: true, debug: false, logDumpOps: 20 }, quiet);
      assert.equal(r.failure, null, `${n}:\n${r.report.join('\n')}`);
    }
  });

  it('is off by default, and refused where it means nothing', () => {
    const a = new ReferenceAdapter({ blockSize: KIB, folioSize: 16 * KIB });
    const t = a.open() as ReferenceTarget;
    try {
      t.pwrite(0, new Uint8Array(5 * KIB).fill(1));
      t.fsync();
      assert.deepEqual(postEofExtents(t), []);
      assert.equal(a.setup.eofPrealloc, undefined);
    } finally {
      a.close();
    }
    assert.throws(() => new ReferenceAdapter({ blockSize: 4096, eofPrealloc: 1024 }), /eofPrealloc: expected a power of two in \[block size 4096/);
    assert.throws(() => new ReferenceAdapter({ poison: 2 ** 32 }), /poison: expected a seed/);
  });
});

describe('op log setup', () => {
  const base = (): OpLog => ({
    format: 'iomap-harness-oplog', version: 4, adapter: 'mutant:read-eof-off-by-one',
    geometry: { blockSize: KIB, pageSize: 4096, folioSize: 16 * KIB }, setup: { poison: SEED, eofPrealloc: 64 * KIB }, seed: 1,
    ops: [{ op: 'write', off: 0, len: 5 * KIB }],
  });

  it('round-trips through JSON and .fsxops, and becomes adapter options', () => {
    const log = base();
    assert.deepEqual(parseOpLog(serializeOpLog(log), 'x.json').setup, log.setup);
    assert.deepEqual(parseOpLog(toFsxops(log), 'x.fsxops').setup, log.setup);
    assert.deepEqual(adapterOptionsOf(log), { blockSize: KIB, folioSize: 16 * KIB, poison: SEED, eofPrealloc: 64 * KIB });
  });

  it('is validated strictly', () => {
    const text = (setup: unknown) => serializeOpLog({ ...base(), setup } as OpLog);
    assert.throws(() => parseOpLog(text({ poison: 1, colour: 2 }), 'x.json'), /: x.json: setup: unknown field "colour" \(allowed: poison, eofPrealloc, inlineMax, personality, api\)$/);
    assert.throws(() => parseOpLog(text({ eofPrealloc: 512 }), 'x.json'), /x.json: setup.eofPrealloc: expected an integer in \[1024, 1073741824\], got 512/);
    assert.throws(() => parseOpLog(text({ poison: -1 }), 'x.json'), /x.json: setup.poison: expected an integer in \[0, 4294967295\]/);
    assert.throws(() => parseOpLog(text([]), 'x.json'), /x.json: setup: expected an object, got an array/);
    assert.throws(() => parseOpLog(text({ personality: 'btrfs' }), 'x.json'), /x.json: setup.personality: expected xfs or ext4, got "btrfs"/);
    assert.deepEqual(parseOpLog(text({ personality: 'xfs' }), 'x.json').setup, { personality: 'xfs' });
  });

  it('fsx records the setup a mutant ran with, so its case fails on the mutant and passes on reference with it', async () => {
    const { runFsx, replayLog } = await import('../properties/fsx/engine');
    const { defaultOptions } = await import('../properties/fsx/generator');
    const quiet = { out: () => undefined, err: () => undefined };
    // The setup its catalog entry names (the sweep draws such setups; here it is given).
    const setup = { blockSize: KIB, folioSize: 16 * KIB, poison: DEFAULT_POISON_SEED, eofPrealloc: 64 * KIB };
    const r = runFsx(loadAdapter('mutant:read-eof-off-by-one', setup), 'm', { ...defaultOptions(), numOps: 200000, seed: 4, quiet: true, guide: false }, quiet, { folioSize: 16 * KIB });
    assert.equal(r.failure?.kind, 'eof-page');
    const log = r.log();
    // (and the API generation, when IOMAP_HARNESS_API moved it from the 6.12 baseline)
    const api = defaultApi() === '6.12' ? {} : { api: defaultApi() };
    assert.deepEqual(log.setup, { poison: DEFAULT_POISON_SEED, eofPrealloc: 64 * KIB, ...api });
    const ro = { quiet: true, debug: false, logDumpOps: 0 };
    assert.equal(replayLog(loadAdapter('reference', adapterOptionsOf(log)), 'reference', log, ro, quiet).failure, null);
    assert.equal(replayLog(loadAdapter('mutant:read-eof-off-by-one', adapterOptionsOf(log)), 'm', log, ro, quiet).failure?.kind, 'eof-page');
  });

  it('the CLI refuses setup flags on adapters without a setup', async () => {
    let err = '';
    const code = await main(['fsx', '--adapter', 'naive', '--poison', '5', '-N', '5', '-q'], { stdout: () => undefined, stderr: (s) => { err += s; }, isTTY: false });
    assert.equal(code, 2);
    assert.match(err, /--poison \(or a log's setup.poison\): adapter naive has no such setup/);
  });
});
