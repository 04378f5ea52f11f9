import { strict as assert } from 'assert';
import { ALL_FALLOC_MODES, createNaiveAdapter, FALLOC_FL_WRITE_ZEROES } from '../adapters/naive';
import {
  FALLOC_FL_COLLAPSE_RANGE as COLLAPSE, FALLOC_FL_INSERT_RANGE as INSERT, FALLOC_FL_KEEP_SIZE as KEEP,
  FALLOC_FL_PUNCH_HOLE as PUNCH, FALLOC_FL_UNSHARE_RANGE as UNSHARE, FALLOC_FL_ZERO_RANGE as ZERO, FileTarget,
} from '../adapters/types';
import { AdapterSpecError, listAdapters, loadAdapter } from '../adapters/registry';
import type { FsError } from '../reference/errno';
import { spawnSync } from 'child_process';
import * as path from 'path';

function file(opts: Parameters<typeof createNaiveAdapter>[0] = {}): FileTarget {
  return createNaiveAdapter(opts).open();
}

function errno(f: () => unknown, code: string): void {
  assert.throws(f, (e: { code?: string; message?: string }) => {
    assert.equal(e.code, code, e.message);
    return true;
  });
}

const pat = (n: number, v = 0xab) => new Uint8Array(n).fill(v);

describe('naive adapter: file-ops semantics', () => {
  it('reads return min(n, size-off) bytes; holes and extensions read zero', () => {
    const t = file();
    assert.equal(t.pwrite(5000, pat(10)), 10);
    assert.equal(t.size(), 5010);
    assert.deepEqual(t.pread(4998, 20), Uint8Array.from([0, 0, ...pat(10), ...new Array(0)]));
    assert.equal(t.pread(5010, 5).length, 0);
    assert.equal(t.pwrite(9999, new Uint8Array(0)), 0);
    assert.equal(t.size(), 5010, 'a zero-length write changes nothing');
    t.truncate(6000);
    assert.deepEqual(t.pread(5005, 10), Uint8Array.from([...pat(5), 0, 0, 0, 0, 0]));
    t.truncate(5003);
    t.truncate(5010);
    assert.deepEqual(t.pread(5000, 10), Uint8Array.from([...pat(3), 0, 0, 0, 0, 0, 0, 0]), 'truncate down forgets the tail');
    errno(() => t.pread(-1, 1), 'EINVAL');
    errno(() => t.truncate(-1), 'EINVAL');
    const small = file({ maxFileSize: 8192 });
    errno(() => small.truncate(8193), 'EFBIG');
    errno(() => small.pwrite(8192, pat(1)), 'EFBIG');
    assert.equal(small.pwrite(8190, pat(10)), 2, 'a write is shortened at s_maxbytes');
  });

  it('fallocate: generic validation order and EOPNOTSUPP mode rules (6.12+)', () => {
    const t = file();
    t.pwrite(0, pat(8192));
    errno(() => t.fallocate!(0, 0, 0), 'EINVAL');
    errno(() => t.fallocate!(0, -1, 10), 'EINVAL');
    errno(() => t.fallocate!(0x100, 0, 10), 'EOPNOTSUPP'); // unknown bit
    errno(() => t.fallocate!(0x04, 0, 10), 'EOPNOTSUPP'); // NO_HIDE_STALE
    errno(() => t.fallocate!(PUNCH, 0, 10), 'EOPNOTSUPP'); // punch without keep_size
    errno(() => t.fallocate!(PUNCH | ZERO | KEEP, 0, 10), 'EOPNOTSUPP');
    errno(() => t.fallocate!(COLLAPSE | KEEP, 0, 4096), 'EOPNOTSUPP');
    errno(() => t.fallocate!(INSERT | KEEP, 0, 4096), 'EOPNOTSUPP');
    errno(() => t.fallocate!(0, 0, 0), 'EINVAL'); // len ≤ 0 beats a bad mode
    errno(() => t.fallocate!(0x100, 0, 0), 'EINVAL');
    const small = file({ maxFileSize: 1 << 20 });
    errno(() => small.fallocate!(PUNCH | KEEP, 1 << 20, 1), 'EFBIG'); // every mode, even punch
    for (const m of ALL_FALLOC_MODES) {
      const f = file();
      f.pwrite(0, pat(3 * 4096));
      assert.doesNotThrow(() => f.fallocate!(m, 0, 4096), `mode ${m}`);
    }
    assert.equal(t.size(), 8192);
    assert.deepEqual(t.pread(0, 8192), pat(8192), 'failed calls changed nothing');
  });

  it('fallocate: sizes and contents per mode', () => {
    const t = file();
    t.pwrite(0, pat(10000));
    t.fallocate!(KEEP, 9000, 5000);
    assert.equal(t.size(), 10000);
    t.fallocate!(0, 9000, 5000);
    assert.equal(t.size(), 14000);
    assert.deepEqual(t.pread(9998, 4), Uint8Array.from([0xab, 0xab, 0, 0]));
    t.fallocate!(UNSHARE | KEEP, 0, 20000);
    assert.equal(t.size(), 14000);
    t.fallocate!(PUNCH | KEEP, 100, 50000);
    assert.equal(t.size(), 14000, 'punch never changes the size');
    assert.deepEqual(t.pread(98, 4), Uint8Array.from([0xab, 0xab, 0, 0]));
    t.pwrite(0, pat(14000, 1));
    t.fallocate!(ZERO | KEEP, 13000, 5000);
    assert.equal(t.size(), 14000);
    t.fallocate!(ZERO, 13000, 5000);
    assert.equal(t.size(), 18000);
    assert.deepEqual(t.pread(12999, 2), Uint8Array.from([1, 0]));
    t.fallocate!(FALLOC_FL_WRITE_ZEROES, 0, 10);
    assert.equal(t.pread(0, 11)[10], 1);
  });

  it('collapse/insert: alignment, EOF rules and data movement', () => {
    const t = file({ blockSize: 4096 });
    const data = new Uint8Array(5 * 4096).map((_, i) => (i * 7) & 255);
    t.pwrite(0, data);
    errno(() => t.fallocate!(COLLAPSE, 100, 4096), 'EINVAL');
    errno(() => t.fallocate!(COLLAPSE, 4096, 100), 'EINVAL');
    errno(() => t.fallocate!(COLLAPSE, 4096, 4 * 4096), 'EINVAL'); // ends at EOF
    errno(() => t.fallocate!(INSERT, 5 * 4096, 4096), 'EINVAL'); // at EOF
    errno(() => file({ maxFileSize: 6 * 4096 }).fallocate!(INSERT, 0, 8192), 'EINVAL'); // empty file: offset ≥ size
    const small = file({ maxFileSize: 6 * 4096 });
    small.pwrite(0, data);
    errno(() => small.fallocate!(INSERT, 0, 8192), 'EFBIG'); // size + len > s_maxbytes, checked before EOF
    t.fallocate!(INSERT, 4096, 8192);
    assert.equal(t.size(), 7 * 4096);
    assert.deepEqual(t.pread(0, 4096), data.subarray(0, 4096));
    assert.ok(t.pread(4096, 8192).every((b) => b === 0));
    assert.deepEqual(t.pread(3 * 4096, 4 * 4096), data.subarray(4096));
    t.fallocate!(COLLAPSE, 4096, 8192);
    assert.equal(t.size(), 5 * 4096);
    assert.deepEqual(t.pread(0, 5 * 4096), data, 'insert then collapse of the same range is the identity');
    t.truncate(3 * 4096 + 5);
    t.fallocate!(COLLAPSE, 0, 4096);
    assert.deepEqual(t.pread(0, 2 * 4096 + 5), data.subarray(4096, 3 * 4096 + 5));
    t.truncate(6 * 4096);
    assert.ok(t.pread(2 * 4096 + 5, 10).every((b) => b === 0), 'the collapsed tail does not come back');
  });

  it('clone/dedupe/copy within the file follow the remap rules', () => {
    const t = file({ blockSize: 4096 });
    const data = new Uint8Array(4 * 4096 + 100).map((_, i) => ((i * 13) ^ (i >> 12)) & 255);
    t.pwrite(0, data);
    errno(() => t.cloneRange!(100, 4096, 8192), 'EINVAL'); // unaligned source
    errno(() => t.cloneRange!(0, 4096, 2048), 'EINVAL'); // unaligned dest / overlap
    errno(() => t.cloneRange!(0, 8192, 4096), 'EINVAL'); // overlap
    errno(() => t.cloneRange!(8192, 3 * 4096, 0), 'EINVAL'); // past source EOF
    errno(() => t.cloneRange!(0, 100, 8192), 'EINVAL'); // unaligned length not at EOF
    errno(() => t.cloneRange!(4 * 4096, 100, 0), 'EINVAL'); // partial EOF block into the middle
    t.cloneRange!(4 * 4096, 0, 6 * 4096); // len 0 = to EOF, lands past EOF
    assert.equal(t.size(), 6 * 4096 + 100);
    assert.deepEqual(t.pread(6 * 4096, 100), data.subarray(4 * 4096));
    t.cloneRange!(t.size(), 0, 0); // len 0 at EOF: nothing
    t.cloneRange!(0, 4096, 8192);
    assert.deepEqual(t.pread(8192, 4096), data.subarray(0, 4096));
    assert.equal(t.dedupeRange!(0, 4096, 8192), 4096);
    assert.equal(t.dedupeRange!(0, 4096, 4096), 0, 'differing ranges: nothing deduped');
    // Rounded down to whole blocks for the comparison and the remap, but Linux reports the length
    // asked for (vfs_dedupe_file_range: bytes_deduped = len).
    assert.equal(t.dedupeRange!(0, 4196, 8192), 4196, 'an unaligned length not at EOF is rounded down, and reported whole');
    assert.equal(t.dedupeRange!(0, 0, 4096), 0);
    errno(() => t.dedupeRange!(0, 4096, 2048), 'EINVAL');
    errno(() => t.dedupeRange!(0, 8192, 4096), 'EINVAL'); // overlap
    errno(() => t.dedupeRange!(0, 4096, t.size()), 'EINVAL'); // dest past EOF
    errno(() => t.dedupeRange!(t.size() - 10, 4096, 0), 'EINVAL'); // source past EOF
    assert.equal(t.copyRange!(10, 50, 20000), 50);
    assert.deepEqual(t.pread(20000, 50), data.subarray(10, 60));
    assert.equal(t.copyRange!(t.size() - 10, 100, 0), 10, 'cut at the source EOF');
    assert.equal(t.copyRange!(t.size(), 100, 0), 0);
    errno(() => t.copyRange!(0, 100, 50), 'EINVAL'); // overlap
    errno(() => file({ maxFileSize: 4096 }).copyRange!(0, 1, 4096), 'EFBIG');
  });

  it('mmap: page granularity, SIGBUS past the EOF page, stores past EOF are dropped', () => {
    const t = file();
    t.pwrite(0, pat(5000));
    assert.equal(t.mapread!(4096, 4096).length, 4096);
    assert.ok(t.mapread!(5000, 3192).every((b) => b === 0), 'zeroes past EOF in the EOF page');
    errno(() => t.mapread!(8191, 2), 'SIGBUS');
    errno(() => t.mapwrite!(8192, pat(1)), 'SIGBUS');
    errno(() => t.mapread!(0, 0), 'EINVAL');
    t.mapwrite!(4990, pat(20, 7));
    assert.equal(t.size(), 5000, 'mmap stores never change the size');
    t.truncate(6000);
    assert.deepEqual(t.pread(4995, 10), Uint8Array.from([7, 7, 7, 7, 7, 0, 0, 0, 0, 0]));
  });

  it('O_DIRECT: sector alignment, reads at/after EOF return 0 bytes, reads crossing EOF are short', () => {
    const t = file({ dioAlign: 512 });
    t.pwrite(0, pat(1000));
    assert.equal(t.directRead!(2048, 3).length, 0, 'past EOF: 0 bytes before the alignment check');
    assert.equal(t.directRead!(512, 1024).length, 488);
    errno(() => t.directRead!(100, 512), 'EINVAL');
    errno(() => t.directWrite!(512, pat(100)), 'EINVAL');
    assert.equal(t.directWrite!(1024, pat(512)), 512);
    assert.equal(t.size(), 1536);
  });

  it('readInto answers every read kind exactly as its method: count, bytes (zeroes past the storage) and errno', () => {
    const t = file({ dioAlign: 512 });
    t.pwrite(1000, Uint8Array.from({ length: 7000 }, (_, i) => (i * 7 + 1) & 255));
    t.truncate(20000); // past the storage: reads zero
    const method = {
      pread: (o: number, l: number) => t.pread(o, l), direct: (o: number, l: number) => t.directRead!(o, l),
      mmap: (o: number, l: number) => t.mapread!(o, l), dontcache: (o: number, l: number) => t.readDontcache!(o, l),
    };
    const outcome = (f: () => Uint8Array | number): string => {
      try {
        const r = f();
        return typeof r === 'number' ? `${r}` : `${r.length}`;
      } catch (e) {
        return (e as FsError).code;
      }
    };
    for (const how of ['pread', 'direct', 'mmap', 'dontcache'] as const) {
      for (const [off, len] of [[0, 512], [512, 8192], [999, 3], [7680, 16384], [19968, 512], [20000, 512], [100, 512], [24576, 4096], [-1, 10]]) {
        const want = outcome(() => method[how](off, len));
        const dst = new Uint8Array(len).fill(0xee);
        assert.equal(outcome(() => t.readInto!(how, off, dst)), want, `${how}(${off}, ${len})`);
        if (!/^\d+$/.test(want)) continue;
        const n = Number(want);
        assert.deepEqual(dst.subarray(0, n), method[how](off, len), `${how}(${off}, ${len}) bytes`);
      }
    }
  });

  it('offers readInto only while its read methods are its own (a patched pread is what the runner must call)', () => {
    for (const m of ['pread', 'directRead', 'mapread', 'readDontcache'] as const) {
      const t = file();
      assert.equal(typeof t.readInto, 'function');
      const orig = t[m]!.bind(t);
      (t as unknown as Record<string, unknown>)[m] = (o: number, l: number) => orig(o, l);
      assert.equal(t.readInto, undefined, `${m} replaced`);
    }
  });

  it('SEEK_DATA/SEEK_HOLE report the whole file as data; FIEMAP one extent', () => {
    const t = file({ blockSize: 4096 });
    errno(() => t.seekData!(0), 'ENXIO');
    t.pwrite(10000, pat(1));
    assert.equal(t.seekData!(5), 5);
    assert.equal(t.seekHole!(5), 10001);
    errno(() => t.seekHole!(10001), 'ENXIO');
    errno(() => t.seekData!(-1), 'ENXIO');
    assert.deepEqual(t.fiemap!(5000, 100, 1), [{ logical: 4096, physical: 4096, length: 4096, flags: 0 }]);
    assert.deepEqual(t.fiemap!(0, 1 << 30, 0), [{ logical: 0, physical: 0, length: 12288, flags: 1 }]);
    assert.deepEqual(t.fiemap!(20000, 10, 0), []);
    errno(() => t.fiemap!(0, 0, 0), 'EINVAL');
    errno(() => t.fiemap!(0, 10, 2), 'EBADR');
  });

  it('a closed file answers EBADF; memory beyond the capacity is ENOSPC', () => {
    const a = createNaiveAdapter({ capacity: 8192 });
    const t = a.open();
    errno(() => t.pwrite(8192, pat(1)), 'ENOSPC');
    t.truncate(1 << 30); // size alone costs nothing
    a.close();
    errno(() => t.size(), 'EBADF');
    assert.throws(() => createNaiveAdapter({ blockSize: 3000 }), /block size must be a power of two/);
  });
});

describe('adapter registry', () => {
  it('lists and loads built-ins; mutant:, exec: and module paths give one-line errors', () => {
    assert.ok(listAdapters().some((a) => a.name === 'naive' && a.inMemory));
    assert.equal(loadAdapter('naive', { blockSize: 1024 }).capabilities.blockSize, 1024);
    const bad: [string, RegExp][] = [
      ['nope', /^unknown adapter "nope" \(known: .*naive/],
      ['mutant:off-by-one', /^unknown mutant "off-by-one"/],
      ['exec:./no-such-server --json', /exec:\.\/no-such-server/],
      ['host:/mnt/x', /^adapter host:\/mnt\/x: /],
      ['./does-not-exist.js', /^adapter module \.\/does-not-exist\.js: file not found/],
      [__filename, /does not export createAdapter\(opts\)$/],
      ['', /^empty adapter spec$/],
    ];
    for (const [spec, re] of bad) {
      assert.throws(() => loadAdapter(spec), (e: Error) => e instanceof AdapterSpecError && re.test(e.message) && !e.message.includes('\n'), spec);
    }
    assert.throws(() => loadAdapter('naive', { blockSize: 3 }), /adapter naive: cannot create it: EINVAL: naive: block size/);
  });
});

describe('naive runs start light', () => {
  it('fsx --adapter naive loads neither the reference model, the contract monitor, the other commands nor fast-check', () => {
    // In a fresh process: the start-up of a short run is mostly loading modules (docs/benchmarks.md).
    const main = JSON.stringify(path.join(__dirname, '..', 'cli', 'main.js'));
    const script = `require(${main}).main(['fsx', '--adapter', 'naive', '-N', '50', '-q'], { stdout() {}, stderr() {}, isTTY: false })`
      + '.then((code) => console.log(JSON.stringify({ code, modules: Object.keys(require.cache) })))';
    const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const { code, modules } = JSON.parse(r.stdout) as { code: number; modules: string[] };
    assert.equal(code, 0);
    assert.ok(modules.some((m) => m.endsWith(path.join('adapters', 'naive.js'))), 'the naive adapter itself');
    for (const heavy of [['adapters', 'reference.js'], ['properties', 'contract', 'monitor.js'], ['cli', 'campaign-command.js'], ['properties', 'suites', 'index.js'], ['fast-check']]) {
      assert.ok(!modules.some((m) => m.includes(path.join(...heavy))), `${path.join(...heavy)} was loaded`);
    }
  });
});
