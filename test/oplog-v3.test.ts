/**
 * Op log version 3 (docs/corpus.md): the model-level attributes `faultAt` (a buffered write whose
 * user buffer faults part-way), `reserveBlocks` (a write or store with capped delalloc
 * reservations) and `checkShared` (FIEMAP SHARED after a clone/dedupe). The parser accepts them
 * where they mean something and refuses every misuse with one line naming the place; .fsxops
 * carries them as `#@` lines with an exact round trip; a suite's short writes replay to the same
 * bytes; targets without fault injection refuse such logs.
 */
import { strict as assert } from 'assert';
import { createNaiveAdapter } from '../adapters/naive';
import { loadAdapter } from '../adapters/registry';
import { replayLog } from '../properties/fsx/engine';
import { fromFsxops, OpLog, OPLOG_VERSION, OpRecord, parseOpLog, serializeOpLog, toFsxops } from '../properties/fsx/oplog';
import type { Runner } from '../properties/fsx/runner';
import { registryEnv } from '../properties/suites/harness';
import { play, Span } from '../properties/suites/steps';
import { Workload } from '../properties/suites/workload';
import { FIEMAP_EXTENT_SHARED } from '../reference/uapi-fiemap';
import { withTarget } from './support/broken-adapters';

const quiet = { out: () => undefined, err: () => undefined };
const ro = { quiet: true, debug: false, logDumpOps: 0 };

function logText(ops: unknown[], version = 3): string {
  return JSON.stringify({ format: 'iomap-harness-oplog', version, adapter: 'reference', geometry: { blockSize: 1024, pageSize: 4096, folioSize: 16384 }, seed: 7, ops });
}

const SAMPLE: OpRecord[] = [
  { op: 'write', off: 0, len: 9000, fileSize: 0 },
  { op: 'write', off: 100, len: 5000, fileSize: 9000, faultAt: 1500 },
  { op: 'mapwrite', off: 300, len: 2000, fileSize: 9000, noMsync: true, reserveBlocks: 1 },
  { op: 'write', off: 12000, len: 3000, fileSize: 9000, reserveBlocks: 0 },
  { op: 'clone_range', off: 0, len: 4096, dst: 16384, fileSize: 15000, checkShared: true },
  { op: 'dedupe_range', off: 0, len: 4096, dst: 16384, fileSize: 20480, checkShared: true },
  { op: 'read', off: 0, len: 20480, fileSize: 20480 },
];

describe('op log v3 attributes', () => {
  it('parses faultAt, reserveBlocks and checkShared where they apply', () => {
    const log = parseOpLog(logText(SAMPLE), 'v3.json');
    assert.deepEqual(log.ops, SAMPLE);
    assert.equal(log.version, OPLOG_VERSION); // loaded logs are upgraded in memory to the version this build writes
  });

  const bad: Array<[string, unknown, RegExp]> = [
    ['faultAt on a version 2 log', { op: 'write', off: 0, len: 10, faultAt: 3, v: 2 }, /^x\.json: ops\[0\]\.faultAt: needs op log version 3 \(this log says version 2\)$/],
    ['faultAt not a number', { op: 'write', off: 0, len: 10, faultAt: '3' }, /^x\.json: ops\[0\]\.faultAt: expected an integer in \[0, 9\], got "3"$/],
    ['faultAt not an integer', { op: 'write', off: 0, len: 10, faultAt: 2.5 }, /^x\.json: ops\[0\]\.faultAt: expected an integer in \[0, 9\], got 2\.5$/],
    ['faultAt at the end of the write', { op: 'write', off: 0, len: 10, faultAt: 10 }, /^x\.json: ops\[0\]\.faultAt: expected an integer in \[0, 9\], got 10$/],
    ['faultAt negative', { op: 'write', off: 0, len: 10, faultAt: -1 }, /^x\.json: ops\[0\]\.faultAt: expected an integer in \[0, 9\], got -1$/],
    ['faultAt on a zero-length write', { op: 'write', off: 0, len: 0, faultAt: 0 }, /^x\.json: ops\[0\]\.faultAt: needs a write of at least 1 byte$/],
    ['faultAt on an O_DIRECT write', { op: 'write_direct', off: 0, len: 512, faultAt: 3 }, /^x\.json: ops\[0\]\.faultAt: not valid for write_direct \(only for a buffered write or a mapwrite\)$/],
    ['reserveBlocks on a read', { op: 'read', off: 0, len: 10, reserveBlocks: 1 }, /^x\.json: ops\[0\]\.reserveBlocks: not valid for read \(only for write and mapwrite\)$/],
    ['reserveBlocks too large', { op: 'mapwrite', off: 0, len: 10, reserveBlocks: 2 ** 31 }, /^x\.json: ops\[0\]\.reserveBlocks: expected an integer in \[0, 1073741824\], got 2147483648$/],
    ['reserveBlocks a boolean', { op: 'mapwrite', off: 0, len: 10, reserveBlocks: true }, /^x\.json: ops\[0\]\.reserveBlocks: expected an integer in \[0, 1073741824\], got true$/],
    ['faultAt with reserveBlocks', { op: 'write', off: 0, len: 10, faultAt: 2, reserveBlocks: 1 }, /^x\.json: ops\[0\]\.reserveBlocks: cannot be combined with faultAt on one op$/],
    ['checkShared on a copy', { op: 'copy_range', off: 0, len: 10, dst: 4096, checkShared: true }, /^x\.json: ops\[0\]\.checkShared: not valid for copy_range \(only for clone_range and dedupe_range\)$/],
    ['checkShared not a boolean', { op: 'clone_range', off: 0, len: 4096, dst: 4096, checkShared: 1 }, /^x\.json: ops\[0\]\.checkShared: expected true or false, got 1$/],
  ];
  for (const [what, op, re] of bad) {
    it(`refuses ${what} with one line`, () => {
      const { v, ...rec } = op as { v?: number };
      assert.throws(() => parseOpLog(logText([rec], v ?? 3), 'x.json'), (e: Error) => e.name === 'OpLogError' && re.test(e.message) && !e.message.includes('\n'));
    });
  }

  it('round-trips through .fsxops exactly (#@faultat, #@reserve, #@shared)', () => {
    const log = parseOpLog(logText(SAMPLE), 'v3.json');
    const text = toFsxops(log);
    assert.match(text, /^#@faultat 0x5dc\nwrite 0x64 0x1388 0x2328$/m);
    assert.match(text, /^#@nomsync\n#@reserve 0x1\nmapwrite 0x12c 0x7d0 0x2328$/m);
    assert.match(text, /^#@shared\nclone_range 0x0 0x1000 0x4000 0x3a98$/m);
    const back = fromFsxops(text, 'v3.fsxops');
    assert.equal(serializeOpLog(back), serializeOpLog(log));
  });

  it('refuses misplaced or malformed #@ attribute lines, naming the line', () => {
    const cases: Array<[string, RegExp]> = [
      ['#@faultat\nwrite 0x0 0x10 0x0\n', /^f\.fsxops: line 1: #@faultat takes one number$/],
      ['#@faultat zz\nwrite 0x0 0x10 0x0\n', /^f\.fsxops: line 1: #@faultat: bad number "zz"$/],
      ['#@shared 0x1\nclone_range 0x0 0x1000 0x1000 0x2000\n', /^f\.fsxops: line 1: #@shared takes no arguments$/],
      ['#@reserve 0x1\n#@reserve 0x2\nwrite 0x0 0x10 0x0\n', /^f\.fsxops: line 2: #@reserve twice \(the one on line 1 applies to no op\)$/],
      ['#@faultat 0x20\nwrite 0x0 0x10 0x0\n', /^f\.fsxops: line 2\.faultAt: expected an integer in \[0, 15\], got 32$/],
      ['#@shared\nread 0x0 0x10 0x0\n', /^f\.fsxops: line 2\.checkShared: not valid for read/],
      ['write 0x0 0x10 0x0\n#@faultat 0x2\n', /^f\.fsxops: line 2: the faultAt line at the end of the file applies to no op$/],
    ];
    for (const [text, re] of cases) assert.throws(() => fromFsxops(text, 'f.fsxops'), (e: Error) => re.test(e.message), text);
  });

  it("a suite's short writes (also racing a second writer) replay on reference to the same bytes", () => {
    const w = new Workload(registryEnv('reference'), { blockSize: 1024, folioSize: 16384 }, {}, 3);
    const span: Span = { maxFile: 1 << 16, maxOp: 1 << 14 };
    try {
      for (const [k, a, b, c] of [['write', 0, 30000, 1], ['shortWrite', 5000, 9000, 0x35], ['raceShortWrite', 777, 6000, 0x12345], ['shortWrite', 29000, 3000, 0x1010], ['mapwriteNoSync', 100, 200, 5]] as const) {
        play(w, { k, a, b, c }, span);
      }
      assert.equal(w.failure, null);
      const log: OpLog = { ...w.log('test'), expected: { outcome: 'pass' } };
      assert.ok(log.ops.filter((o) => o.faultAt !== undefined).length >= 2, JSON.stringify(log.ops));
      const suiteBytes = Buffer.from(w.target.pread(0, w.size));
      log.ops.push({ op: 'read', off: 0, len: w.size });
      let runner: Runner | null = null;
      const r = replayLog(loadAdapter('reference', { blockSize: 1024, folioSize: 16384 }), 'reference', parseOpLog(serializeOpLog(log), 'x.json'), ro, quiet, { runner: (x) => { runner = x; } });
      assert.equal(r.failure, null, r.report.join('\n'));
      // The replay's final read checked the target against its oracle; the oracle is the suite's file.
      assert.ok(suiteBytes.equals(runner!.oracle.read(0, suiteBytes.length)));
      assert.ok(suiteBytes.length > 0 && suiteBytes.length < 30000 + 9000);
    } finally {
      w.close();
    }
  });

  it('a target without fault injection refuses a faultAt/reserveBlocks log; a correct clone passes its checkShared', () => {
    const log = parseOpLog(logText([{ op: 'write', off: 0, len: 100 }, { op: 'mapwrite', off: 0, len: 10, reserveBlocks: 0 }]), 'x.json');
    assert.throws(() => replayLog(createNaiveAdapter(), 'naive', log, ro, quiet), /^AdapterSpecError: adapter naive cannot replay op 2 \(mapwrite with reserveBlocks\)/);
    const shared = parseOpLog(logText([{ op: 'write', off: 0, len: 8192 }, { op: 'clone_range', off: 0, len: 4096, dst: 4096, checkShared: true }]), 'y.json');
    assert.equal(replayLog(loadAdapter('reference'), 'reference', shared, ro, quiet).failure, null);
  });

  it('checkShared walks the FIEMAP answers piece by piece and names the first unshared block of a long clone far into the file', () => {
    const far = 2 ** 40;
    const dst = far + 2 ** 20;
    const blocks = 300;
    const text = JSON.stringify({
      format: 'iomap-harness-oplog', version: 3, adapter: 'reference', geometry: { blockSize: 1024, pageSize: 4096, folioSize: 16384 }, seed: 7,
      options: { maxlen: 2 ** 41 },
      ops: [{ op: 'write', off: far, len: blocks * 1024 }, { op: 'fsync', off: 0, len: 0 }, { op: 'clone_range', off: far, len: blocks * 1024, dst, checkShared: true }],
    });
    const log = parseOpLog(text, 'far.json');
    assert.equal(replayLog(loadAdapter('reference'), 'reference', log, ro, quiet).failure, null, 'a correct clone passes');
    // FIEMAP that forgets SHARED from 256 KiB into the destination on (one extent split in two;
    // a block boundary whatever the block size the checks use).
    const cut = dst + 256 * 1024;
    const lying = withTarget(loadAdapter('reference'), 'lying-fiemap', (t) => ({
      fiemap: (off: number, len: number, flags: number) => t.fiemap!(off, len, flags).flatMap((e) => {
        const end = e.logical + e.length;
        if (end <= cut) return [e];
        const unshared = (lo: number) => ({ ...e, logical: lo, physical: e.physical + (lo - e.logical), length: end - lo, flags: e.flags & ~FIEMAP_EXTENT_SHARED });
        return e.logical >= cut ? [unshared(e.logical)] : [{ ...e, length: cut - e.logical }, unshared(cut)];
      }),
    }));
    const r = replayLog(lying, 'lying-fiemap', log, ro, quiet);
    assert.equal(r.failure?.kind, 'fiemap', r.report.join('\n'));
    assert.equal(r.failure?.offset, cut, r.report.join('\n'));
  });
});
