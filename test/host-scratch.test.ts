/**
 * `iomap-harness scratch create|destroy` (cli/scratch.ts over adapters/host/scratch.ts) and the host
 * benchmark (bench/host.ts): real loop devices and mounts as root, each filesystem skipped with its
 * reason where it cannot be made; the refusals (bad input, not root, foreign paths, tampered state);
 * destroy removing exactly what create made; no mount or loop device left behind.
 */
import * as assert from 'assert';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { scratchCommand } from '../cli/scratch';
import { createHostAdapter } from '../adapters/host';
import { loopBackingFile, readMounts, scratchUnavailable, STATE_FILE, type ScratchType } from '../adapters/host/scratch';
import { benchHost } from '../bench/host';
import { skipWith } from './support/expect';

const ROOT = path.resolve(__dirname, '..', '..');

interface Captured { code: number; out: string; err: string }

async function run(argv: string[]): Promise<Captured> {
  let out = '';
  let err = '';
  const code = await scratchCommand(argv, { stdout: (t) => { out += t; }, stderr: (t) => { err += t; } });
  return { code, out, err };
}

function oneLineUsage(r: Captured, re: RegExp): void {
  assert.strictEqual(r.code, 2, `exit code (stderr: ${r.err})`);
  assert.strictEqual(r.out, '', 'nothing on stdout');
  const lines = r.err.trimEnd().split('\n');
  assert.strictEqual(lines.length, 1, `one line: ${r.err}`);
  assert.match(lines[0], /^iomap-harness: scratch: /);
  assert.match(lines[0], re);
}

const MAGIC: Record<ScratchType, number> = { xfs: 0x58465342, ext4: 0xef53, btrfs: 0x9123683e, tmpfs: 0x01021994 };

describe('scratch command', function () {
  let parent: string;
  /** Everything created here, for the final leftover check. */
  const created: { mount: string; device: string | null; container: string }[] = [];

  before(function () {
    parent = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'iomap-scratch-test-')));
  });

  after(async function () {
    // Safety net: destroy whatever a failed test left, then remove the parent (empty by then).
    for (const c of created) {
      if (fs.existsSync(path.join(c.container, STATE_FILE))) await scratchCommand(['destroy', c.mount], { stdout: () => {}, stderr: () => {} });
    }
    fs.rmSync(parent, { recursive: true, force: true });
  });

  describe('input errors (one line, exit 2, nothing made)', function () {
    const cases: [string[], RegExp][] = [
      [[], /needs an action/],
      [['create'], /needs a filesystem type/],
      [['create', 'zfs'], /unknown filesystem type "zfs"/],
      [['frobnicate'], /unknown action "frobnicate"/],
      [['create', 'xfs', '--size'], /--size/],
      [['create', 'xfs', '--size', 'lots'], /--size: expected a size/],
      [['create', 'xfs', '--size', '0'], /not a positive size/],
      [['create', 'xfs', '--bs', '3000'], /--bs: 3000 is not a power of two/],
      [['create', 'xfs', '--bs', '128k'], /not a power of two in \[512, 65536\]/],
      [['create', 'xfs', '--wat'], /unknown option --wat/],
      [['create', 'xfs', 'extra'], /unexpected argument "extra"/],
      [['destroy'], /destroy needs the path/],
      [['destroy', '/x', '--size', '1g'], /destroy takes only PATH/],
    ];
    for (const [argv, re] of cases) {
      it(`scratch ${argv.join(' ') || '(nothing)'}`, async function () {
        const before = fs.readdirSync(parent);
        oneLineUsage(await run([...argv, ...(argv[0] === 'create' ? ['--dir', parent] : [])]), re);
        assert.deepStrictEqual(fs.readdirSync(parent), before);
      });
    }

    it('--help prints the usage and exits 0', async function () {
      const r = await run(['--help']);
      assert.strictEqual(r.code, 0);
      assert.match(r.out, /create TYPE \(xfs, ext4, btrfs, tmpfs\)/);
      assert.match(r.out, /--size <S> +create: image size/);
    });

    it('mkfs-level refusals: xfs below 300m, tmpfs with a block size', async function () {
      if (process.getuid?.() !== 0) skipWith(this, 'needs root to get past the root check');
      oneLineUsage(await run(['create', 'xfs', '--size', '10m', '--dir', parent]), /xfs needs a size of at least/);
      oneLineUsage(await run(['create', 'tmpfs', '--bs', '1024', '--dir', parent]), /tmpfs has no block size option/);
      assert.deepStrictEqual(fs.readdirSync(parent), []);
    });
  });

  describe('refusals', function () {
    it('without root: exit 2 and a line saying how to provide a scratch directory instead', function () {
      if (process.getuid?.() !== 0) skipWith(this, 'the test drops privileges from root to uid 65534; not running as root');
      const js = path.join(ROOT, 'dist', 'cli', 'scratch.js');
      const code = `require(${JSON.stringify(js)}).scratchCommand(process.argv.slice(1)).then((c) => { process.exitCode = c; });`;
      for (const argv of [['create', 'xfs'], ['destroy', '/tmp']]) {
        // A clean environment: under nyc the child would inherit its coverage hooks (NODE_OPTIONS,
        // NYC_*) and, as uid 65534 in /, fail writing coverage files, which is not what is tested.
        const env: NodeJS.ProcessEnv = {};
        for (const [k, v] of Object.entries(process.env)) if (!/^(NODE_OPTIONS|NYC_|SPAWN_WRAP|NODE_V8_COVERAGE)/.test(k)) env[k] = v;
        // nyc also injects NODE_OPTIONS at spawn time (process-on-spawn), so drop it in the child.
        const r = spawnSync('/usr/bin/env', ['-u', 'NODE_OPTIONS', process.execPath, '-e', code, ...argv],
          { encoding: 'utf8', uid: 65534, gid: 65534, timeout: 30000, cwd: '/', env });
        if (r.error) skipWith(this, `cannot run node as uid 65534: ${r.error.message}`);
        if (r.status !== 2 && /EACCES|Cannot find module/.test(r.stderr)) skipWith(this, `uid 65534 cannot read ${js}`);
        assert.strictEqual(r.status, 2, r.stderr);
        assert.strictEqual(r.stdout, '');
        assert.strictEqual(r.stderr.trimEnd().split('\n').length, 1, r.stderr);
        assert.match(r.stderr, /needs root.*IOMAP_HARNESS_SCRATCH=\/path\/to\/dir .*--adapter host:\/path\/to\/dir/);
      }
    });

    it('destroy refuses paths create did not make, and tampered state files, touching nothing', async function () {
      if (process.getuid?.() !== 0) skipWith(this, 'destroy needs root');
      const foreign = path.join(parent, 'foreign');
      fs.mkdirSync(path.join(foreign, 'mnt'), { recursive: true });
      fs.writeFileSync(path.join(foreign, 'disk.img'), 'precious');
      oneLineUsage(await run(['destroy', path.join(foreign, 'mnt')]), /was not made by iomap-harness scratch create/);
      oneLineUsage(await run(['destroy', path.join(parent, 'missing')]), /no such file or directory/);
      fs.writeFileSync(path.join(foreign, STATE_FILE), '{not json');
      oneLineUsage(await run(['destroy', path.join(foreign, 'mnt')]), /not a readable scratch state file/);
      const forged = {
        tool: 'iomap-harness scratch', version: 1, type: 'xfs', container: '/', mount: '/mnt', image: '/etc/passwd',
        device: '/dev/loop0', size: 1, blockSize: null, complete: true, createdAt: '', pid: 1,
      };
      fs.writeFileSync(path.join(foreign, STATE_FILE), JSON.stringify(forged));
      oneLineUsage(await run(['destroy', path.join(foreign, 'mnt')]), /records container "\/" but lies in/);
      fs.writeFileSync(path.join(foreign, STATE_FILE), JSON.stringify({ ...forged, container: foreign, mount: path.join(foreign, 'mnt'), image: '/etc/passwd' }));
      oneLineUsage(await run(['destroy', foreign]), /unexpected image path/);
      assert.strictEqual(fs.readFileSync(path.join(foreign, 'disk.img'), 'utf8'), 'precious');
      assert.ok(fs.existsSync('/etc/passwd'));
      fs.rmSync(foreign, { recursive: true });
    });
  });

  for (const type of ['xfs', 'ext4', 'btrfs', 'tmpfs'] as ScratchType[]) {
    it(`create ${type} --json, use it through the host adapter, destroy it: nothing left`, async function () {
      const why = scratchUnavailable(type);
      if (why) skipWith(this, why);
      const r = await run(['create', type, '--json', '--dir', parent]);
      assert.strictEqual(r.code, 0, r.err);
      assert.strictEqual(r.out.trimEnd().split('\n').length, 1);
      const j = JSON.parse(r.out) as { command: string; action: string; type: string; mount: string; device: string | null; image: string | null };
      const container = path.dirname(j.mount);
      created.push({ mount: j.mount, device: j.device, container });
      assert.strictEqual(j.command, 'scratch');
      assert.strictEqual(j.action, 'create');
      assert.strictEqual(j.type, type);
      assert.strictEqual(path.dirname(container), parent);
      assert.ok(fs.existsSync(path.join(container, STATE_FILE)), 'state file next to the image');
      const m = readMounts().find((x) => x.target === j.mount);
      assert.ok(m !== undefined, 'mounted');
      assert.strictEqual(m.fstype, type);
      assert.strictEqual(Number(fs.statfsSync(j.mount).type) >>> 0, MAGIC[type]);
      if (type === 'tmpfs') {
        assert.strictEqual(j.device, null);
        assert.strictEqual(j.image, null);
      } else {
        assert.match(j.device ?? '', /^\/dev\/loop\d+$/);
        assert.strictEqual(j.image, path.join(container, 'disk.img'));
        assert.strictEqual(loopBackingFile(j.device as string), j.image);
      }
      const a = createHostAdapter({ path: j.mount, scratch: j.mount });
      try {
        assert.strictEqual(a.info.fsType, type);
        const t = a.open();
        assert.strictEqual(t.pwrite(0, Buffer.alloc(4096, 1)), 4096);
        t.fsync();
      } finally {
        a.close();
      }
      const d = await run(['destroy', j.mount, '--json']);
      assert.strictEqual(d.code, 0, d.err);
      const dj = JSON.parse(d.out) as { done: string[]; leftAlone: string[] };
      assert.deepStrictEqual(dj.leftAlone, []);
      assert.ok(dj.done.includes(`umount ${j.mount}`));
      if (j.device) assert.ok(dj.done.includes(`losetup -d ${j.device}`));
      assert.ok(!readMounts().some((x) => x.target === j.mount), 'unmounted');
      if (j.device) assert.notStrictEqual(loopBackingFile(j.device), j.image, 'detached');
      assert.ok(!fs.existsSync(container), 'container removed');
      oneLineUsage(await run(['destroy', j.mount]), /no such file or directory/);
    });
  }

  it('create prints just the mount path; --bs reaches mkfs (ext4 -b 1024 → 1 KiB blocks, s_maxbytes (2^32-1)·1024)', async function () {
    const why = scratchUnavailable('ext4');
    if (why) skipWith(this, why);
    const r = await run(['create', 'ext4', '--size', '64m', '--bs', '1024', '--dir', parent]);
    assert.strictEqual(r.code, 0, r.err);
    const mount = r.out.trimEnd();
    assert.strictEqual(r.out, `${mount}\n`, 'stdout is the mount path alone');
    assert.match(r.err, /use it with --adapter host:.*scratch destroy/);
    created.push({ mount, device: null, container: path.dirname(mount) });
    try {
      const a = createHostAdapter({ path: mount, scratch: mount });
      try {
        assert.strictEqual(a.capabilities.blockSize, 1024);
        assert.strictEqual(a.capabilities.maxFileSize, 4398046510080);
      } finally {
        a.close();
      }
    } finally {
      const d = await run(['destroy', mount]);
      assert.strictEqual(d.code, 0, d.err);
      assert.strictEqual(d.out, `removed ${mount}\n`);
    }
  });

  it('destroy leaves foreign files in the container alone (rmdir, never rm -rf)', async function () {
    const why = scratchUnavailable('tmpfs');
    if (why) skipWith(this, why);
    const r = await run(['create', 'tmpfs', '--size', '16m', '--json', '--dir', parent]);
    assert.strictEqual(r.code, 0, r.err);
    const { mount } = JSON.parse(r.out) as { mount: string };
    const container = path.dirname(mount);
    created.push({ mount, device: null, container });
    const foreign = path.join(container, 'notes.txt');
    fs.writeFileSync(foreign, 'mine');
    const d = await run(['destroy', mount, '--json']);
    assert.strictEqual(d.code, 0, d.err);
    const dj = JSON.parse(d.out) as { leftAlone: string[] };
    assert.deepStrictEqual(dj.leftAlone, [`${container}: not empty`]);
    assert.strictEqual(fs.readFileSync(foreign, 'utf8'), 'mine');
    assert.ok(!readMounts().some((x) => x.target === mount));
    fs.rmSync(container, { recursive: true });
  });

  it('a create that fails half-way (mount refuses ext4 with 64 KiB blocks) undoes every step', async function () {
    const why = scratchUnavailable('ext4');
    if (why) skipWith(this, why);
    const before = readMounts().length;
    const r = await run(['create', 'ext4', '--bs', '65536', '--dir', parent, '--json']);
    if (r.code === 0) {
      const { mount } = JSON.parse(r.out) as { mount: string };
      await run(['destroy', mount]);
      skipWith(this, 'this kernel mounts ext4 with 64 KiB blocks; no failing step to test');
    }
    oneLineUsage(r, /mount -t ext4 .* failed/);
    assert.deepStrictEqual(fs.readdirSync(parent), [], 'container, image and state file removed');
    assert.strictEqual(readMounts().length, before);
    const l = spawnSync('losetup', ['-a'], { encoding: 'utf8' });
    assert.ok(!(l.stdout ?? '').includes(parent), `loop device left: ${l.stdout}`);
  });

  it('leaves no mount and no loop device behind', function () {
    const l = spawnSync('losetup', ['-a'], { encoding: 'utf8' });
    assert.ok(!(l.stdout ?? '').includes(parent), `loop device left: ${l.stdout}`);
    assert.ok(!readMounts().some((m) => m.target.startsWith(parent)), 'mount left');
    for (const c of created) assert.ok(!fs.existsSync(c.container), `${c.container} left`);
  });
});

describe('bench/host', function () {
  it('benchHost(tmpfs) runs the op loop on a scratch filesystem with no mismatches', function () {
    const r = benchHost('tmpfs', 3000);
    if (r.skipped !== undefined) skipWith(this, r.skipped);
    assert.strictEqual(r.ops, 3000);
    assert.strictEqual(r.mismatches, 0);
    assert.ok(r.opsPerSec > 0);
    assert.ok(r.mix.read > 0 && r.mix.write > 0 && r.mix.truncate > 0 && r.mix.punch > 0, JSON.stringify(r.mix));
    assert.strictEqual(r.mix.zero, undefined, 'tmpfs has no ZERO_RANGE');
  });

  it('benchHost in an existing directory needs no root and leaves nothing there', function () {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'iomap-bench-host-'));
    try {
      const r = benchHost('ext4', 2000, { dir, seed: 3 });
      assert.strictEqual(r.mismatches, 0);
      assert.strictEqual(r.ops, 2000);
      assert.deepStrictEqual(fs.readdirSync(dir), []);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
