/**
 * The host adapter (adapters/host): safety refusals, the no-addon fallback, and every operation
 * against real tmpfs/ext4/xfs/btrfs filesystems on loop devices, with expected results from
 * file-ops.md (section numbers in the test names) and the filesystem's profile where filesystems
 * legitimately differ. Ends by checking that no mount or loop device of ours is left behind.
 *
 * Each filesystem is skipped, with the reason printed, where it cannot be made (not root, no mkfs).
 */
import * as assert from 'assert';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { createHostAdapter, HostAdapter, HostSafetyError, HostTarget } from '../adapters/host';
import {
  BTRFS_SUPER_MAGIC, EXT4_SUPER_MAGIC, fallocSupport, PROBE_FALLOC_MODES, PROFILES, TMPFS_MAGIC, XFS_SUPER_MAGIC,
  FALLOC_FL_WRITE_ZEROES, profileForMagic,
} from '../adapters/host/profiles';
import { OWN_PREFIX, SCRATCH_ENV } from '../adapters/host/safety';
import { AdapterSpecError, loadAdapter } from '../adapters/registry';
import {
  FALLOC_FL_COLLAPSE_RANGE, FALLOC_FL_INSERT_RANGE, FALLOC_FL_KEEP_SIZE, FALLOC_FL_PUNCH_HOLE, FALLOC_FL_UNSHARE_RANGE,
  FALLOC_FL_ZERO_RANGE, type FiemapExtent,
} from '../adapters/types';
import { setNativeForTesting } from '../reference/device/native';
import { SparseBytes } from '../properties/oracle/bytes';
import { runFsx } from '../properties/fsx/engine';
import { registryEnv, runSuite, SUITES } from '../properties/suites';
import { classicWeights, defaultOptions } from '../properties/fsx/generator';
import { mountScratchFs, scratchFsSkipReason, type ScratchFs, type ScratchFsType } from './support/loop';
import { expectCode, pattern, skipWith } from './support/expect';

const KiB = 1024;
const MiB = 1024 * KiB;
const ROOT = path.resolve(__dirname, '..', '..');
const FIEMAP_FLAG_SYNC = 0x1;
const FIEMAP_EXTENT_UNWRITTEN = 0x800;
const FIEMAP_EXTENT_SHARED = 0x2000;
const FIEMAP_EXTENT_DELALLOC = 0x4;
const FIEMAP_EXTENT_NOT_ALIGNED = 0x100;
const FIEMAP_EXTENT_LAST = 0x1;

function expectRefusal(fn: () => unknown, re: RegExp): HostSafetyError {
  let thrown: unknown;
  try {
    fn();
  } catch (e) {
    thrown = e;
  }
  assert.ok(thrown instanceof HostSafetyError, `expected a HostSafetyError, got ${String(thrown)}`);
  assert.match(thrown.message, re);
  assert.ok(!thrown.message.includes('\n'), 'refusals are one line');
  return thrown;
}

const isZero = (b: Uint8Array) => b.every((v) => v === 0);

/** Directories and images made by this file (for the final leftover check). */
const made: { dirs: string[]; devices: string[] } = { dirs: [], devices: [] };

// ---- safety ---------------------------------------------------------------------------------------

describe('host adapter: safety', function () {
  let base: string;
  let scratch: string;
  let outside: string;
  const savedEnv = process.env[SCRATCH_ENV];

  beforeEach(function () {
    base = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'iomap-host-safety-')));
    scratch = path.join(base, 'scratch');
    outside = path.join(base, 'outside');
    fs.mkdirSync(scratch);
    fs.mkdirSync(outside);
    delete process.env[SCRATCH_ENV];
  });

  afterEach(function () {
    if (savedEnv === undefined) delete process.env[SCRATCH_ENV];
    else process.env[SCRATCH_ENV] = savedEnv;
    fs.rmSync(base, { recursive: true, force: true });
  });

  it('refuses when no scratch directory is designated, and says how to designate one', function () {
    expectRefusal(() => createHostAdapter({ path: scratch }), /no scratch directory is designated.*IOMAP_HARNESS_SCRATCH.*scratch create/);
  });

  it('refuses a directory outside every scratch root (option and environment)', function () {
    expectRefusal(() => createHostAdapter({ path: outside, scratch }), /not inside a scratch directory/);
    process.env[SCRATCH_ENV] = path.join(base, 'missing');
    expectRefusal(() => createHostAdapter({ path: outside }), /scratch directory .*missing does not exist/);
    process.env[SCRATCH_ENV] = `${scratch}${path.delimiter}${path.join(base, 'scratch')}`;
    expectRefusal(() => createHostAdapter({ path: outside }), /not inside a scratch directory/);
    assert.deepStrictEqual(fs.readdirSync(outside), [], 'nothing was created outside');
  });

  it('refuses a symlink inside scratch that leads outside, and ../ escapes (realpath before the check)', function () {
    fs.symlinkSync(outside, path.join(scratch, 'escape'));
    expectRefusal(() => createHostAdapter({ path: path.join(scratch, 'escape'), scratch }), /resolves there/);
    expectRefusal(() => createHostAdapter({ path: path.join(scratch, '..', 'outside'), scratch }), /not inside a scratch directory/);
    // A scratch root that is itself a symlink is resolved too: the real directory is what counts.
    fs.symlinkSync(scratch, path.join(base, 'link-to-scratch'));
    const a = createHostAdapter({ path: scratch, scratch: path.join(base, 'link-to-scratch') });
    a.close();
    assert.deepStrictEqual(fs.readdirSync(outside), []);
  });

  it('refuses "/" as a scratch root, a file as PATH, and a missing PATH', function () {
    expectRefusal(() => createHostAdapter({ path: scratch, scratch: '/' }), /file-system root/);
    fs.writeFileSync(path.join(scratch, 'plain'), 'x');
    expectRefusal(() => createHostAdapter({ path: path.join(scratch, 'plain'), scratch }), /not a directory/);
    expectRefusal(() => createHostAdapter({ path: path.join(scratch, 'missing'), scratch }), /no such directory/);
    expectRefusal(() => createHostAdapter({ path: '', scratch }), /needs a directory/);
  });

  it('accepts a subdirectory of a scratch root from IOMAP_HARNESS_SCRATCH', function () {
    const sub = path.join(scratch, 'a', 'b');
    fs.mkdirSync(sub, { recursive: true });
    process.env[SCRATCH_ENV] = scratch;
    const a = createHostAdapter({ path: sub });
    try {
      const t = a.open();
      assert.strictEqual(path.dirname((t as HostTarget).path), sub);
    } finally {
      a.close();
    }
    assert.deepStrictEqual(fs.readdirSync(sub), []);
  });

  it('creates only its own uniquely named files (O_EXCL) and deletes only those, never foreign files', function () {
    const foreign = path.join(scratch, 'precious.dat');
    fs.writeFileSync(foreign, 'keep me');
    const lookalike = path.join(scratch, `${OWN_PREFIX}fsx-1-000000000000`);
    fs.writeFileSync(lookalike, 'not yours');
    const a = createHostAdapter({ path: scratch, scratch });
    const b = createHostAdapter({ path: scratch, scratch });
    const ta = a.open() as HostTarget;
    const tb = b.open() as HostTarget;
    assert.notStrictEqual(ta.path, tb.path);
    ta.pwrite(0, Buffer.from('a'));
    a.open(); // second open truncates our own file, nothing else
    assert.strictEqual(fs.statSync(ta.path).size, 0);
    a.close();
    a.close(); // idempotent
    b.close();
    assert.deepStrictEqual(fs.readdirSync(scratch).sort(), [path.basename(lookalike), 'precious.dat'].sort());
    assert.strictEqual(fs.readFileSync(foreign, 'utf8'), 'keep me');
    assert.strictEqual(fs.readFileSync(lookalike, 'utf8'), 'not yours');
  });

  it('leaves the test file alone when someone replaced it, and refuses to truncate it on reopen', function () {
    const a = createHostAdapter({ path: scratch, scratch });
    const t = a.open() as HostTarget;
    const p = t.path;
    fs.writeFileSync(path.join(scratch, 'other'), 'someone else');
    fs.renameSync(path.join(scratch, 'other'), p); // same name, different inode
    expectRefusal(() => a.open(), /no longer the test file/);
    a.close();
    assert.strictEqual(fs.readFileSync(p, 'utf8'), 'someone else');
    assert.ok(a.cleanupNotes.some((n) => n.includes('left') && n.includes(p)), a.cleanupNotes.join('; '));
  });

  it('closeOpen notices a replaced file instead of using it', function () {
    const a = createHostAdapter({ path: scratch, scratch, dropCaches: 'never' });
    try {
      const t = a.open() as HostTarget;
      t.pwrite(0, Buffer.from('mine'));
      const p = t.path;
      fs.writeFileSync(path.join(scratch, 'other'), 'theirs');
      fs.renameSync(path.join(scratch, 'other'), p);
      expectCode(() => t.closeOpen(), 'EIO', 'closeOpen on a replaced file');
      expectCode(() => t.pread(0, 4), 'EBADF', 'after the failed reopen');
      assert.strictEqual(fs.readFileSync(p, 'utf8'), 'theirs');
    } finally {
      a.close();
    }
  });

  it('removes its file at process exit when the caller forgot close()', function () {
    const js = path.join(ROOT, 'dist', 'adapters', 'host', 'index.js');
    const r = spawnSync(process.execPath, ['-e',
      `const h=require(${JSON.stringify(js)});const a=h.createHostAdapter({path:${JSON.stringify(scratch)},scratch:${JSON.stringify(scratch)}});`
      + 'const t=a.open();t.pwrite(0,Buffer.from("x"));console.log(t.path);'], { encoding: 'utf8', timeout: 30000 });
    assert.strictEqual(r.status, 0, r.stderr);
    assert.match(r.stdout.trim(), /\.iomap-harness-fsx-/);
    assert.deepStrictEqual(fs.readdirSync(scratch), []);
  });

  it('the registry resolves host:PATH, and its refusals are one-line AdapterSpecErrors', function () {
    let err: unknown;
    try {
      loadAdapter(`host:${outside}`, { scratch });
    } catch (e) {
      err = e;
    }
    assert.ok(err instanceof AdapterSpecError, String(err));
    assert.match(err.message, /^adapter host:.*not inside a scratch directory/);
    assert.ok(!err.message.includes('\n'));
    const a = loadAdapter(`host:${scratch}`, { scratch });
    try {
      assert.ok(a instanceof HostAdapter);
      const t = a.open();
      assert.strictEqual(t.pwrite(0, Buffer.from('hello')), 5);
      assert.strictEqual(Buffer.from(t.pread(0, 10)).toString(), 'hello');
    } finally {
      a.close();
    }
    assert.throws(() => loadAdapter(`host:${scratch}`, { scratch, blockSize: 512 }), /block size 512 was asked for.*fixed at mkfs time/);
    assert.deepStrictEqual(fs.readdirSync(scratch), []);
  });

  it('without the native addon: pread/pwrite/truncate/fsync work and the rest is off with the reason', function () {
    setNativeForTesting(null, 'pretend it failed to build');
    let a: HostAdapter | null = null;
    try {
      a = createHostAdapter({ path: scratch, scratch });
      const c = a.capabilities;
      assert.deepStrictEqual(c.fallocModes, []);
      for (const k of ['clone', 'dedupe', 'copyRange', 'directIO', 'seek', 'fiemap', 'mmap', 'remount'] as const) assert.strictEqual(c[k], false, k);
      for (const k of ['clone', 'dedupe', 'copyRange', 'directIO', 'seek', 'fiemap']) {
        assert.match(a.info.disabled[k], /pretend it failed to build/, k);
      }
      assert.strictEqual(a.info.native.loaded, false);
      assert.ok(a.describeCapabilities().some((l) => /fallocate PUNCH_HOLE\|KEEP_SIZE is off: .*pretend it failed to build/.test(l)));
      const t = a.open();
      assert.strictEqual(t.pwrite(4096, Buffer.alloc(100, 7)), 100);
      t.truncate(8192);
      t.fsync();
      t.fdatasync();
      t.closeOpen();
      assert.strictEqual(t.size(), 8192);
      assert.ok(isZero(t.pread(0, 4096)));
      assert.ok(Buffer.from(t.pread(4096, 100)).equals(Buffer.alloc(100, 7)));
      expectCode(() => t.fallocate!(0, 0, 4096), 'EOPNOTSUPP', 'fallocate without the addon');
      expectCode(() => t.seekData!(0), 'EOPNOTSUPP', 'SEEK_DATA without the addon');
      expectCode(() => t.directRead!(0, 4096), 'EOPNOTSUPP', 'O_DIRECT without the addon');
      assert.strictEqual(typeof (t as unknown as { mapread?: unknown }).mapread, 'undefined', 'no mmap emulation');
    } finally {
      setNativeForTesting(undefined);
      a?.close();
    }
  });
});

// ---- profiles -------------------------------------------------------------------------------------

describe('host adapter: profiles', function () {
  it('statfs magics map to their profiles; unknown magic → generic', function () {
    assert.strictEqual(profileForMagic(XFS_SUPER_MAGIC).type, 'xfs');
    assert.strictEqual(profileForMagic(EXT4_SUPER_MAGIC).type, 'ext4');
    assert.strictEqual(profileForMagic(BTRFS_SUPER_MAGIC).type, 'btrfs');
    assert.strictEqual(profileForMagic(TMPFS_MAGIC).type, 'tmpfs');
    assert.strictEqual(profileForMagic(0x6969).type, 'generic');
  });

  it('s_maxbytes per §0: ext4 (2^32-1)·B, the others 2^63-1', function () {
    assert.strictEqual(PROFILES.ext4.maxBytes(4096), 17592186040320n);
    assert.strictEqual(PROFILES.ext4.maxBytes(1024), 4398046510080n);
    for (const t of ['xfs', 'btrfs', 'tmpfs'] as const) assert.strictEqual(PROFILES[t].maxBytes(4096), (1n << 63n) - 1n);
  });

  it('the fallocate envelopes follow the §13 table', function () {
    const table: Record<string, Record<string, string>> = {
      tmpfs: { zero: 'no', collapse: 'no', unshare: 'no' },
      ext4: { zero: 'yes', collapse: 'yes', unshare: 'no' },
      xfs: { zero: 'yes', collapse: 'yes', unshare: 'maybe' },
      btrfs: { zero: 'yes', collapse: 'no', unshare: 'no' },
    };
    for (const [t, row] of Object.entries(table)) {
      const p = PROFILES[t as 'xfs'];
      assert.strictEqual(fallocSupport(p, FALLOC_FL_ZERO_RANGE), row.zero, `${t} zero`);
      assert.strictEqual(fallocSupport(p, FALLOC_FL_COLLAPSE_RANGE), row.collapse, `${t} collapse`);
      assert.strictEqual(fallocSupport(p, FALLOC_FL_INSERT_RANGE), row.collapse, `${t} insert`);
      assert.strictEqual(fallocSupport(p, FALLOC_FL_UNSHARE_RANGE), row.unshare, `${t} unshare`);
      for (const m of [0, FALLOC_FL_KEEP_SIZE, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE]) assert.strictEqual(fallocSupport(p, m), 'yes');
      assert.strictEqual(fallocSupport(p, FALLOC_FL_PUNCH_HOLE), 'no', 'PUNCH without KEEP_SIZE never passes the mode check');
    }
  });
});

// ---- real filesystems -----------------------------------------------------------------------------

/** What file-ops.md §13 says for default mkfs options on Linux 6.12–6.18. */
const TABLE: Record<ScratchFsType, { clone: boolean; fiemap: boolean; magic: number; dioAlign: number; maxFileSize: number }> = {
  tmpfs: { clone: false, fiemap: false, magic: TMPFS_MAGIC, dioAlign: 1, maxFileSize: Number.MAX_SAFE_INTEGER },
  ext4: { clone: false, fiemap: true, magic: EXT4_SUPER_MAGIC, dioAlign: 512, maxFileSize: 17592186040320 },
  xfs: { clone: true, fiemap: true, magic: XFS_SUPER_MAGIC, dioAlign: 512, maxFileSize: Number.MAX_SAFE_INTEGER },
  btrfs: { clone: true, fiemap: true, magic: BTRFS_SUPER_MAGIC, dioAlign: 4096, maxFileSize: Number.MAX_SAFE_INTEGER },
};

for (const type of ['tmpfs', 'ext4', 'xfs', 'btrfs'] as ScratchFsType[]) {
  describe(`host adapter on ${type}`, function () {
    let scratch: ScratchFs | null = null;
    let adapter: HostAdapter;
    let t: HostTarget;
    const B = 4096;
    const has = (mode: number) => adapter.capabilities.fallocModes.includes(mode);

    before(function () {
      const skip = scratchFsSkipReason(type);
      if (skip) skipWith(this, skip);
      scratch = mountScratchFs(type, { size: 512 * MiB });
      made.dirs.push(scratch.dir);
      if (scratch.device) made.devices.push(scratch.device);
      adapter = createHostAdapter({ path: scratch.dir, scratch: scratch.dir });
    });

    beforeEach(function () {
      if (scratch === null) this.skip();
      t = adapter.open() as HostTarget;
    });

    after(function () {
      if (scratch === null) return;
      adapter.close();
      const left = fs.readdirSync(scratch.dir).filter((n) => n.startsWith(OWN_PREFIX));
      scratch.release();
      assert.deepStrictEqual(left, [], 'the adapter removed its files');
    });

    it(`detects ${type} by statfs magic and probes capabilities inside the profile's envelope (§13)`, function () {
      const c = adapter.capabilities;
      const row = TABLE[type];
      assert.strictEqual(adapter.info.fsType, type);
      assert.strictEqual(adapter.info.magic, row.magic);
      assert.strictEqual(c.blockSize, B);
      assert.strictEqual(c.maxFileSize, row.maxFileSize);
      const p = PROFILES[type];
      for (const m of PROBE_FALLOC_MODES) {
        const s = fallocSupport(p, m);
        if (s === 'yes') assert.ok(c.fallocModes.includes(m), `${type} must support fallocate mode 0x${m.toString(16)}`);
        if (s === 'no') {
          assert.ok(!c.fallocModes.includes(m), `${type} must not support fallocate mode 0x${m.toString(16)}`);
          assert.ok(Object.entries(adapter.info.disabled).some(([k, v]) => k.startsWith('fallocate') && /EOPNOTSUPP/.test(v)));
        }
      }
      assert.strictEqual(c.clone, row.clone, 'clone');
      assert.strictEqual(c.dedupe, row.clone, 'dedupe (same support as clone on these filesystems)');
      assert.strictEqual(c.fiemap, row.fiemap, 'fiemap');
      assert.strictEqual(c.copyRange, true);
      assert.strictEqual(c.seek, true);
      assert.strictEqual(c.directIO, true);
      assert.strictEqual(c.dioAlign, row.dioAlign);
      // The O_DIRECT and reflink envelopes the suites honour (see adapters/types.ts).
      assert.strictEqual(c.dioMisalignedReadMaySucceed, true, 'iomap zero-fills misaligned reads of holes');
      assert.strictEqual(c.dioMisalignedWriteBuffered, type === 'btrfs', 'only btrfs serves misaligned O_DIRECT writes buffered');
      assert.strictEqual(c.reflinkSkipsUnwritten, type === 'xfs', 'only xfs leaves unwritten source blocks unshared');
      assert.strictEqual(c.mmap, false);
      assert.strictEqual(c.remount, false);
      assert.match(adapter.info.disabled.mmap, /not emulated/);
      assert.deepStrictEqual(adapter.info.notes, [], 'probe answers outside the envelope');
      assert.strictEqual(adapter.info.dropCaches, true, 'running as root: closeOpen drops caches');
    });

    it('pread/pwrite: read length law, gaps read zero, zero-length writes change nothing (§1, §14.2–3)', function () {
      const d = pattern(100, 1);
      assert.strictEqual(t.pwrite(10000, d), 100);
      assert.strictEqual(t.size(), 10100);
      const all = t.pread(0, 20000);
      assert.strictEqual(all.length, 10100);
      assert.ok(isZero(all.subarray(0, 10000)));
      assert.ok(Buffer.from(all.subarray(10000)).equals(d));
      assert.strictEqual(t.pread(10100, 10).length, 0, 'at EOF');
      assert.strictEqual(t.pread(1 << 30, 10).length, 0, 'past EOF');
      assert.strictEqual(t.pread(0, 0).length, 0);
      assert.strictEqual(t.pwrite(1e12, new Uint8Array(0)), 0);
      assert.strictEqual(t.size(), 10100, 'a zero-length write never changes size');
      expectCode(() => t.pread(-1, 10), 'EINVAL', 'negative offset (Node would read at the fd position)');
      expectCode(() => t.pwrite(-1, d), 'EINVAL', 'negative offset');
      expectCode(() => t.pread(0, -1), 'EINVAL', 'negative length');
      assert.strictEqual(t.size(), 10100);
    });

    it('writes at s_maxbytes: EFBIG at it, a short write just below it (§1.7)', function () {
      if (type !== 'ext4') skipWith(this, `s_maxbytes of ${type} is 2^63-1, beyond the harness's 2^53 offsets`);
      const max = adapter.capabilities.maxFileSize;
      expectCode(() => t.pwrite(max, Buffer.alloc(10, 1)), 'EFBIG', 'write at s_maxbytes');
      assert.strictEqual(t.pwrite(max - 10, Buffer.alloc(100, 1)), 10);
      assert.strictEqual(t.size(), max);
      expectCode(() => t.truncate(max + 1), 'EFBIG', 'truncate beyond s_maxbytes');
    });

    it('truncate: down discards, up reads zero, also from disk after close/drop caches/reopen (§2, §14.22)', function () {
      t.pwrite(0, Buffer.alloc(10000, 0xaa));
      t.truncate(5000);
      assert.strictEqual(t.size(), 5000);
      t.fsync();
      t.truncate(12000);
      assert.strictEqual(t.size(), 12000);
      assert.ok(Buffer.from(t.pread(0, 5000)).equals(Buffer.alloc(5000, 0xaa)));
      assert.ok(isZero(t.pread(5000, 7000)), 'the re-extended range reads zero');
      t.closeOpen();
      assert.strictEqual(t.size(), 12000);
      assert.ok(isZero(t.pread(5000, 7000)), 'and from disk');
      expectCode(() => t.truncate(-1), 'EINVAL', 'negative size (Node would truncate to 0)');
      assert.strictEqual(t.size(), 12000);
    });

    it('fallocate 0 and KEEP_SIZE: allocation only, content-neutral; KEEP_SIZE is invisible (§3.2, §14.9–10)', function () {
      t.fallocate!(0, 0, 8192);
      assert.strictEqual(t.size(), 8192);
      assert.ok(isZero(t.pread(0, 8192)));
      const d = pattern(8192, 2);
      t.pwrite(0, d);
      t.fallocate!(0, 0, 16384);
      assert.strictEqual(t.size(), 16384);
      assert.ok(Buffer.from(t.pread(0, 8192)).equals(d), 'mode 0 never changes bytes');
      t.fallocate!(FALLOC_FL_KEEP_SIZE, 16384, 65536);
      assert.strictEqual(t.size(), 16384, 'KEEP_SIZE keeps the size');
      expectCode(() => t.seekData!(16384), 'ENXIO', 'KEEP_SIZE blocks are beyond EOF');
      for (const x of [0, 8192, 12288]) {
        const h = t.seekHole!(x);
        assert.ok(h >= x && h <= 16384, `SEEK_HOLE(${x}) = ${h} stays within EOF (unwritten blocks may be holes or data)`);
      }
      t.truncate(32768);
      assert.ok(isZero(t.pread(16384, 16384)), 'preallocated blocks exposed by an extension read zero');
    });

    it('fallocate: mode-check and argument errors come before anything else (§3.1, §14.28)', function () {
      t.pwrite(0, Buffer.alloc(8192, 1));
      expectCode(() => t.fallocate!(FALLOC_FL_PUNCH_HOLE, 0, 4096), 'EOPNOTSUPP', 'PUNCH without KEEP_SIZE');
      expectCode(() => t.fallocate!(0x04, 0, 4096), 'EOPNOTSUPP', 'NO_HIDE_STALE');
      expectCode(() => t.fallocate!(FALLOC_FL_PUNCH_HOLE | FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE, 0, 4096), 'EOPNOTSUPP', 'two mode bits');
      expectCode(() => t.fallocate!(FALLOC_FL_COLLAPSE_RANGE | FALLOC_FL_KEEP_SIZE, 0, 4096), 'EOPNOTSUPP', 'KEEP_SIZE with COLLAPSE');
      expectCode(() => t.fallocate!(0, 0, 0), 'EINVAL', 'len 0');
      expectCode(() => t.fallocate!(0, -1, 4096), 'EINVAL', 'negative offset');
      assert.strictEqual(t.size(), 8192);
      assert.ok(Buffer.from(t.pread(0, 8192)).equals(Buffer.alloc(8192, 1)), 'failed calls are pure (§14.4)');
    });

    it('fallocate PUNCH_HOLE|KEEP_SIZE: range reads zero, size kept, whole blocks become holes (§14.5)', function () {
      const d = pattern(16384, 3);
      t.pwrite(0, d);
      t.fallocate!(FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 4196, 8192);
      assert.strictEqual(t.size(), 16384);
      const got = Buffer.from(t.pread(0, 16384));
      assert.ok(got.subarray(0, 4196).equals(d.subarray(0, 4196)));
      assert.ok(isZero(got.subarray(4196, 12388)));
      assert.ok(got.subarray(12388).equals(d.subarray(12388)));
      assert.strictEqual(t.seekHole!(0), 8192, 'the only whole block inside the punch is a hole; data before it is data');
      assert.strictEqual(t.seekData!(8192), 12288);
      t.fallocate!(FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 12288, 1 << 20);
      assert.strictEqual(t.size(), 16384, 'a punch past EOF keeps the size');
      assert.ok(isZero(t.pread(12288, 4096)));
    });

    it(`fallocate ZERO_RANGE ${PROFILES[type].falloc[FALLOC_FL_ZERO_RANGE] === 'no' ? 'answers EOPNOTSUPP' : 'zeroes and extends per KEEP_SIZE (§14.6)'}`, function () {
      const d = pattern(16384, 4);
      t.pwrite(0, d);
      if (!has(FALLOC_FL_ZERO_RANGE)) {
        expectCode(() => t.fallocate!(FALLOC_FL_ZERO_RANGE, 0, 4096), 'EOPNOTSUPP', 'ZERO_RANGE');
        assert.ok(Buffer.from(t.pread(0, 16384)).equals(d));
        return;
      }
      t.fallocate!(FALLOC_FL_ZERO_RANGE, 1000, 5000);
      const got = Buffer.from(t.pread(0, 16384));
      assert.ok(got.subarray(0, 1000).equals(d.subarray(0, 1000)));
      assert.ok(isZero(got.subarray(1000, 6000)));
      assert.ok(got.subarray(6000).equals(d.subarray(6000)));
      t.fallocate!(FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE, 16384, 8192);
      assert.strictEqual(t.size(), 16384);
      t.fallocate!(FALLOC_FL_ZERO_RANGE, 16384, 8192);
      assert.strictEqual(t.size(), 24576);
      assert.ok(isZero(t.pread(16384, 8192)));
      if (adapter.capabilities.fiemap) {
        t.fallocate!(FALLOC_FL_ZERO_RANGE, 4096, 8192);
        const ext = t.fiemap!(4096, 8192, FIEMAP_FLAG_SYNC);
        assert.ok(covered(ext, 4096, 12288), `ZERO_RANGE never leaves a hole in a full block: ${JSON.stringify(ext)}`);
      }
    });

    it(`fallocate COLLAPSE/INSERT ${has0(type, FALLOC_FL_COLLAPSE_RANGE) ? 'shift bytes, need alignment and an in-EOF range (§14.7–8)' : 'answer EOPNOTSUPP'}`, function () {
      const blocks = [0x11, 0x22, 0x33, 0x44].map((v) => Buffer.alloc(B, v));
      t.pwrite(0, Buffer.concat(blocks));
      if (!has(FALLOC_FL_COLLAPSE_RANGE)) {
        expectCode(() => t.fallocate!(FALLOC_FL_COLLAPSE_RANGE, B, B), 'EOPNOTSUPP', 'COLLAPSE');
        expectCode(() => t.fallocate!(FALLOC_FL_INSERT_RANGE, B, B), 'EOPNOTSUPP', 'INSERT');
        assert.strictEqual(t.size(), 4 * B);
        return;
      }
      expectCode(() => t.fallocate!(FALLOC_FL_COLLAPSE_RANGE, 100, B), 'EINVAL', 'unaligned collapse');
      expectCode(() => t.fallocate!(FALLOC_FL_COLLAPSE_RANGE, B, 3 * B), 'EINVAL', 'collapse reaching EOF');
      expectCode(() => t.fallocate!(FALLOC_FL_INSERT_RANGE, B, 100), 'EINVAL', 'unaligned insert');
      expectCode(() => t.fallocate!(FALLOC_FL_INSERT_RANGE, 4 * B, B), 'EINVAL', 'insert at EOF');
      assert.strictEqual(t.size(), 4 * B, 'failed calls change nothing');
      t.fallocate!(FALLOC_FL_COLLAPSE_RANGE, B, B);
      assert.strictEqual(t.size(), 3 * B);
      assert.ok(Buffer.from(t.pread(0, 3 * B)).equals(Buffer.concat([blocks[0], blocks[2], blocks[3]])));
      t.fallocate!(FALLOC_FL_INSERT_RANGE, B, B);
      assert.strictEqual(t.size(), 4 * B);
      assert.ok(Buffer.from(t.pread(0, 4 * B)).equals(Buffer.concat([blocks[0], Buffer.alloc(B), blocks[2], blocks[3]])));
      t.fallocate!(FALLOC_FL_INSERT_RANGE, 2 * B, 2 * B);
      t.fallocate!(FALLOC_FL_COLLAPSE_RANGE, 2 * B, 2 * B);
      assert.ok(Buffer.from(t.pread(0, 4 * B)).equals(Buffer.concat([blocks[0], Buffer.alloc(B), blocks[2], blocks[3]])), 'INSERT then COLLAPSE is the identity');
    });

    it('fallocate modes the probe turned off answer EOPNOTSUPP from the kernel', function () {
      t.pwrite(0, Buffer.alloc(4 * B, 5));
      for (const m of PROBE_FALLOC_MODES) {
        if (has(m)) continue;
        expectCode(() => t.fallocate!(m, 0, B), 'EOPNOTSUPP', `mode 0x${m.toString(16)}`);
      }
      assert.ok(Buffer.from(t.pread(0, 4 * B)).equals(Buffer.alloc(4 * B, 5)));
      void FALLOC_FL_WRITE_ZEROES;
    });

    it('SEEK_DATA/SEEK_HOLE: bounds, ENXIO at EOF, holes between data, negative offsets per profile (§7, §14.16–18)', function () {
      expectCode(() => t.seekData!(0), 'ENXIO', 'empty file');
      expectCode(() => t.seekHole!(0), 'ENXIO', 'empty file');
      const d = pattern(B, 5);
      t.pwrite(0, d);
      t.pwrite(MiB, d);
      t.fsync();
      const size = MiB + B;
      assert.strictEqual(t.seekData!(0), 0);
      const h = t.seekHole!(0);
      assert.ok(h >= B && h <= MiB && h % B === 0, `SEEK_HOLE(0) = ${h}`);
      const nd = t.seekData!(B);
      assert.ok(nd >= B && nd <= MiB && nd % B === 0, `SEEK_DATA(B) = ${nd}`);
      assert.strictEqual(t.seekData!(MiB + 100), MiB + 100);
      assert.strictEqual(t.seekHole!(MiB), size, 'the implicit hole at EOF');
      expectCode(() => t.seekData!(size), 'ENXIO', 'at EOF');
      expectCode(() => t.seekHole!(size + 1), 'ENXIO', 'past EOF');
      if (PROFILES[type].negativeSeek === 'ENXIO') expectCode(() => t.seekData!(-1), 'ENXIO', 'negative offset');
      else assert.strictEqual(t.seekData!(-1), 0, 'btrfs clamps a negative offset to 0');
    });

    it(`FIEMAP ${TABLE[type].fiemap ? 'after SYNC: sorted, aligned, covers written data, no DELALLOC (§8, §14.19–20)' : 'answers EOPNOTSUPP'}`, function () {
      t.pwrite(0, pattern(3 * B, 6));
      t.pwrite(MiB, pattern(B, 7));
      if (!adapter.capabilities.fiemap) {
        expectCode(() => t.fiemap!(0, 2 * MiB, FIEMAP_FLAG_SYNC), 'EOPNOTSUPP', 'FIEMAP');
        return;
      }
      const ext = t.fiemap!(0, 2 * MiB, FIEMAP_FLAG_SYNC);
      let prevEnd = -1;
      ext.forEach((e, k) => {
        assert.ok(e.length > 0 && e.logical >= prevEnd, `extent ${k} order/overlap: ${JSON.stringify(ext)}`);
        prevEnd = e.logical + e.length;
        if ((e.flags & FIEMAP_EXTENT_NOT_ALIGNED) === 0) assert.ok(e.logical % B === 0 && e.length % B === 0 && e.physical % B === 0);
        assert.strictEqual(e.flags & FIEMAP_EXTENT_DELALLOC, 0, 'no DELALLOC after SYNC');
        if ((e.flags & FIEMAP_EXTENT_LAST) !== 0) assert.strictEqual(k, ext.length - 1);
      });
      assert.ok(covered(ext, 0, 3 * B, true) && covered(ext, MiB, MiB + B, true), `written data is mapped: ${JSON.stringify(ext)}`);
      for (const e of ext) {
        if ((e.flags & FIEMAP_EXTENT_UNWRITTEN) === 0 && e.logical < MiB) {
          assert.ok(e.logical + e.length <= 3 * B || e.logical >= MiB, `a written extent over the hole: ${JSON.stringify(e)}`);
        }
      }
      expectCode(() => t.fiemap!(0, 0, 0), 'EINVAL', 'fm_length 0');
      expectCode(() => t.fiemap!(0, MiB, 0x80), 'EBADR', 'unknown request flag');
    });

    it(`FICLONERANGE ${TABLE[type].clone ? 'shares blocks (SHARED in FIEMAP), COW keeps the source (§4, §14.11–13)' : 'answers EOPNOTSUPP'}`, function () {
      const d = pattern(2 * B, 8);
      t.pwrite(0, d);
      if (!adapter.capabilities.clone) {
        expectCode(() => t.cloneRange!(0, 2 * B, 4 * B), 'EOPNOTSUPP', 'clone');
        return;
      }
      t.fsync();
      t.cloneRange!(0, 2 * B, 4 * B);
      assert.strictEqual(t.size(), 6 * B);
      assert.ok(Buffer.from(t.pread(4 * B, 2 * B)).equals(d));
      assert.ok(isZero(t.pread(2 * B, 2 * B)), 'the gap before the destination reads zero');
      const ext = t.fiemap!(0, 6 * B, FIEMAP_FLAG_SYNC);
      const src = ext.filter((e) => e.logical < 2 * B);
      const dst = ext.filter((e) => e.logical >= 4 * B);
      assert.ok(src.length > 0 && dst.length > 0 && [...src, ...dst].every((e) => (e.flags & FIEMAP_EXTENT_SHARED) !== 0), JSON.stringify(ext));
      assert.strictEqual(src[0].physical, dst[0].physical, 'shared blocks have the same physical address');
      expectCode(() => t.cloneRange!(100, B, 8 * B), 'EINVAL', 'unaligned source');
      expectCode(() => t.cloneRange!(0, 2 * B, B), 'EINVAL', 'overlapping ranges in one file');
      expectCode(() => t.cloneRange!(4 * B, 4 * B, 12 * B), 'EINVAL', 'source past EOF');
      t.pwrite(4 * B, Buffer.alloc(100, 0xee));
      assert.ok(Buffer.from(t.pread(0, 2 * B)).equals(d), 'a write to the clone leaves the source alone (COW)');
      if (has(FALLOC_FL_UNSHARE_RANGE)) {
        t.fallocate!(FALLOC_FL_UNSHARE_RANGE, 0, 2 * B);
        const after = t.fiemap!(0, 2 * B, FIEMAP_FLAG_SYNC);
        assert.ok(after.every((e) => (e.flags & FIEMAP_EXTENT_SHARED) === 0), `UNSHARE leaves no SHARED extent: ${JSON.stringify(after)}`);
        assert.ok(Buffer.from(t.pread(0, 2 * B)).equals(d), 'UNSHARE is content-neutral');
      }
    });

    it(`FIDEDUPERANGE ${TABLE[type].clone ? 'dedupes equal data, reports 0 for different data (§5, §14.14)' : 'answers EOPNOTSUPP'}`, function () {
      const d = pattern(B, 9);
      t.pwrite(0, d);
      t.pwrite(2 * B, d);
      t.pwrite(4 * B, pattern(B, 10));
      if (!adapter.capabilities.dedupe) {
        expectCode(() => t.dedupeRange!(0, B, 2 * B), 'EOPNOTSUPP', 'dedupe');
        return;
      }
      assert.strictEqual(t.dedupeRange!(0, B, 2 * B), B);
      assert.strictEqual(t.dedupeRange!(0, B, 4 * B), 0, 'different data: DIFFERS');
      assert.ok(Buffer.from(t.pread(4 * B, B)).equals(pattern(B, 10)), 'DIFFERS changes nothing');
      assert.ok(Buffer.from(t.pread(2 * B, B)).equals(d));
      const ext = t.fiemap!(2 * B, B, FIEMAP_FLAG_SYNC);
      assert.ok(ext.length > 0 && ext.every((e) => (e.flags & FIEMAP_EXTENT_SHARED) !== 0), `SAME shares: ${JSON.stringify(ext)}`);
      expectCode(() => t.dedupeRange!(0, B, 8 * B), 'EINVAL', 'destination past EOF');
    });

    it('copy_file_range: copies (maybe in pieces), 0 at source EOF, EINVAL for overlap (§6, §14.15)', function () {
      const d = pattern(10000, 11);
      t.pwrite(0, d);
      let done = 0;
      while (done < 5000) {
        const n = t.copyRange!(done, 5000 - done, 20000 + done);
        assert.ok(n > 0 && n <= 5000 - done, `copied ${n}`);
        done += n;
      }
      assert.strictEqual(t.size(), 25000);
      assert.ok(Buffer.from(t.pread(20000, 5000)).equals(d.subarray(0, 5000)));
      assert.ok(isZero(t.pread(10000, 10000)));
      assert.strictEqual(t.copyRange!(25000, 100, 30000), 0, 'at source EOF');
      expectCode(() => t.copyRange!(0, 5000, 1000), 'EINVAL', 'overlap in one file');
    });

    it(`O_DIRECT (${PROFILES[type].dioRule}): coherent with buffered I/O, EOF rules, alignment (§11, §14.24)`, function () {
      const d = pattern(64 * KiB, 12);
      t.pwrite(0, d);
      assert.ok(Buffer.from(t.directRead!(0, 64 * KiB)).equals(d), 'a DIO read sees buffered writes');
      const w = Buffer.alloc(8192, 0x77);
      assert.strictEqual(t.directWrite!(4096, w), 8192);
      assert.ok(Buffer.from(t.pread(4096, 8192)).equals(w), 'a buffered read sees DIO writes');
      t.truncate(10000);
      assert.strictEqual(t.directRead!(8192, 4096).length, 10000 - 8192, 'a DIO read crossing EOF returns size - pos');
      assert.strictEqual(t.directRead!(12288, 4096).length, 0, 'at/after EOF: 0');
      assert.strictEqual(t.directRead!(10001, 7).length, 0, 'after EOF even misaligned: 0');
      const before = Buffer.from(t.pread(0, 10000));
      if (PROFILES[type].dioRule === 'logical-sector') {
        expectCode(() => t.directWrite!(100, Buffer.alloc(512, 1)), 'EINVAL', 'misaligned offset');
        expectCode(() => t.directWrite!(512, Buffer.alloc(100, 1)), 'EINVAL', 'misaligned length');
        expectCode(() => t.directRead!(100, 512), 'EINVAL', 'misaligned read');
        assert.ok(Buffer.from(t.pread(0, 10000)).equals(before), 'no side effects');
        assert.strictEqual(t.size(), 10000);
        assert.strictEqual(t.directWrite!(512, Buffer.alloc(512, 2)), 512, '512-byte (logical sector) alignment suffices');
      } else {
        // btrfs falls back to buffered I/O; tmpfs has no alignment rules at all.
        assert.strictEqual(t.directWrite!(100, Buffer.alloc(100, 1)), 100);
        assert.ok(Buffer.from(t.pread(100, 100)).equals(Buffer.alloc(100, 1)));
        assert.strictEqual(t.directRead!(100, 100).length, 100);
      }
    });

    it('closeOpen (close, drop caches, reopen) keeps size and bytes; fsync/fdatasync succeed (§12)', function () {
      const d = pattern(50000, 13);
      t.pwrite(3, d);
      t.fdatasync();
      t.pwrite(100000, d.subarray(0, 10));
      t.fsync();
      t.closeOpen();
      assert.strictEqual(t.size(), 100010);
      assert.ok(Buffer.from(t.pread(3, 50000)).equals(d));
      assert.ok(Buffer.from(t.pread(100000, 10)).equals(d.subarray(0, 10)));
    });

    it('corruption from outside mid-run is seen by the next read and the oracle comparison notices it', function () {
      const oracle = new SparseBytes();
      const d = pattern(32 * KiB, 14);
      t.pwrite(0, d);
      oracle.write(0, d);
      assert.strictEqual(oracle.compare(0, t.pread(0, oracle.size)), null, 'in sync before the corruption');
      const fd = fs.openSync(t.path, 'r+');
      try {
        fs.writeSync(fd, Buffer.alloc(20, 0xee), 0, 20, 5000);
      } finally {
        fs.closeSync(fd);
      }
      const got = t.pread(0, oracle.size);
      const mm = oracle.compare(0, got);
      assert.ok(mm !== null, 'the comparison notices the corruption');
      assert.strictEqual(mm.offset, d[5000] === 0xee ? 5001 : 5000);
      assert.strictEqual(mm.actual, 0xee);
      assert.strictEqual(mm.expected, d[mm.offset]);
      assert.ok(Buffer.from(got.subarray(5000, 5020)).equals(Buffer.alloc(20, 0xee)), 'reads return the corrupted bytes');
      if (adapter.capabilities.directIO) {
        assert.notStrictEqual(oracle.compare(0, t.directRead!(0, 32 * KiB)), null, 'so does an O_DIRECT read');
      }
      t.closeOpen();
      assert.notStrictEqual(oracle.compare(0, t.pread(0, oracle.size)), null, 'and a read after close/drop caches/reopen');
    });

    it('the fsx engine runs through the registry (host:PATH) without failures', function () {
      const spec = `host:${scratch!.dir}`;
      const a = loadAdapter(spec, { scratch: scratch!.dir });
      const o = defaultOptions();
      // The classic op mix: the stream this seed was checked clean with. With fsx's newer ops the
      // seed-7 stream meets two host findings: on xfs the Direct I/O collision EIO after an atomic
      // write (corpus/known/xfs-6.18-dio-collision-after-atomic-write.json), and on ext4 a
      // misaligned O_DIRECT write refused with EINVAL that still changed the file (2 ops, open).
      o.weights = classicWeights();
      // The acceptance: 100,000 fsx ops on every scratch filesystem in CI (HOST_FSX_OPS to change).
      o.numOps = Number(process.env.HOST_FSX_OPS ?? 100000);
      o.seed = 7;
      this.timeout(600000);
      const lines: string[] = [];
      const t0 = Date.now();
      const r = runFsx(a, spec, o, { out: (l) => lines.push(l), err: (l) => lines.push(l) });
      assert.strictEqual(r.failure, null, r.report.join('\n'));
      assert.strictEqual(r.ops, o.numOps);
      console.log(`      fsx: ${o.numOps} ops in ${Date.now() - t0} ms`);
      assert.ok(lines.some((l) => /does not support mapped reads, disabling/.test(l)), 'mmap ops are turned off, as fsx does');
      const mine = path.basename(t.path);
      assert.deepStrictEqual(fs.readdirSync(scratch!.dir).filter((n) => n.startsWith(OWN_PREFIX) && n !== mine), [], 'runFsx closed the adapter');
    });

    it('the file-level property suites pass (iomap-harness check), suites it cannot run skipped with a reason', function () {
      this.timeout(600000);
      const spec = `host:${scratch!.dir}`;
      const env = registryEnv(spec, { scratch: scratch!.dir });
      const ran: string[] = [];
      const failed: string[] = [];
      for (const suite of SUITES) {
        const r = runSuite(suite, env, { runs: Number(process.env.HOST_SUITE_RUNS ?? 25), seed: 5, saveDir: null, verifyReplay: false });
        if (r.skipped !== undefined) {
          assert.ok(r.skipped.length > 0, `${suite.name} says why it is skipped`);
          continue;
        }
        ran.push(suite.name);
        for (const p of r.properties) {
          if (p.failed) failed.push(`${suite.name}/${p.name}: ${p.failure?.kind} ${p.failure?.rule ?? ''} ${(p.failure?.lines ?? []).join(' | ')}`);
        }
      }
      console.log(`      suites run on ${type}: ${ran.join(', ')}`);
      assert.deepStrictEqual(failed, [], 'no property fails on a kernel filesystem (zero false positives)');
      for (const s of ['buffered-io', 'direct-io', 'seek', 'fallocate']) assert.ok(ran.includes(s), `${s} ran on ${type}`);
      if (TABLE[type].clone) assert.ok(ran.includes('reflink'), `reflink ran on ${type}`);
      const mine = path.basename(t.path);
      assert.deepStrictEqual(fs.readdirSync(scratch!.dir).filter((n) => n.startsWith(OWN_PREFIX) && n !== mine), [], 'the suites removed their files');
    });

    it('the fsx engine reports READ BAD DATA when the file is corrupted from outside mid-run', function () {
      const dir = scratch!.dir;
      const spec = `host:${dir}`;
      const a = loadAdapter(spec, { scratch: dir });
      const o = defaultOptions();
      o.numOps = 3000;
      o.seed = 11;
      o.quiet = true;
      o.checkFile = true; // fsx -X: read the whole file back after every op
      const mine = path.basename(t.path);
      let corruptedAt = -1;
      const corrupt = (done: number) => {
        if (done < 300) return;
        const name = fs.readdirSync(dir).find((n) => n.startsWith(`${OWN_PREFIX}fsx-`) && n !== mine);
        if (name === undefined) return;
        const p = path.join(dir, name);
        const size = fs.statSync(p).size;
        if (size < 64) return;
        const fd = fs.openSync(p, 'r+');
        try {
          fs.writeSync(fd, Buffer.alloc(16, 0xee), 0, 16, Math.floor(size / 2));
        } finally {
          fs.closeSync(fd);
        }
        if (corruptedAt < 0) corruptedAt = done;
      };
      const r = runFsx(a, spec, o, { out: () => {}, err: () => {} }, { progress: corrupt, progressEvery: 50 });
      assert.ok(corruptedAt > 0, 'the file was corrupted');
      assert.ok(r.failure !== null, 'the run noticed');
      assert.strictEqual(r.failure.kind, 'bad-data', r.report.join('\n'));
      assert.ok(r.failure.op > corruptedAt, `failure at op ${r.failure.op}, corruption after op ${corruptedAt}`);
      assert.ok(r.report.some((l) => l.startsWith('READ BAD DATA')), r.report.join('\n'));
      assert.deepStrictEqual(fs.readdirSync(dir).filter((n) => n.startsWith(OWN_PREFIX) && n !== mine), []);
    });
  });
}

/** Whether the extents cover [a, b) completely (written ones only when `written`). */
function covered(ext: FiemapExtent[], a: number, b: number, written = false): boolean {
  let pos = a;
  for (const e of ext) {
    if (written && (e.flags & FIEMAP_EXTENT_UNWRITTEN) !== 0) continue;
    if (e.logical <= pos && e.logical + e.length > pos) pos = e.logical + e.length;
    if (pos >= b) return true;
  }
  return pos >= b;
}

function has0(type: ScratchFsType, mode: number): boolean {
  return fallocSupport(PROFILES[type], mode) !== 'no';
}

// ---- cleanup --------------------------------------------------------------------------------------

describe('host adapter: cleanup', function () {
  it('leaves no mount and no loop device behind (/proc/mounts, losetup -a)', function () {
    const mounts = fs.readFileSync('/proc/mounts', 'utf8');
    for (const d of made.dirs) assert.ok(!mounts.includes(d), `${d} is still mounted`);
    const r = spawnSync('losetup', ['-a'], { encoding: 'utf8' });
    if (r.error) {
      if (made.devices.length > 0) assert.fail(`losetup -a failed: ${r.error.message}`);
      return;
    }
    for (const dev of made.devices) {
      const line = (r.stdout ?? '').split('\n').find((l) => l.startsWith(`${dev}:`) && /iomap-loop-/.test(l));
      assert.strictEqual(line, undefined, `loop device still attached: ${line}`);
    }
    for (const d of made.dirs) assert.ok(!fs.existsSync(d), `${d} still exists`);
  });
});
