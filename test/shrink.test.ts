/**
 * The op-log shrinker (properties/fsx/shrink.ts) and `iomap-harness shrink`: a deliberately
 * corrupted target is found by fsx, shrunk to the minimal op count, saved to a corpus directory
 * and replayed; the result is deterministic; the signature is kept; -b logs, mutants and a
 * 100,000-op log.
 */
import { strict as assert } from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { createNaiveAdapter } from '../adapters/naive';
import { loadAdapter } from '../adapters/registry';
import type { FileAdapter } from '../adapters/types';
import { replayLog, runFsx } from '../properties/fsx/engine';
import { classicWeights, defaultOptions, FsxOptions } from '../properties/fsx/generator';
import { OpLog, OPLOG_VERSION, parseOpLog, serializeOpLog } from '../properties/fsx/oplog';
import { OPS } from '../properties/fsx/ops';
import { shrinkLog, ShrinkOptions, signatureOf } from '../properties/fsx/shrink';
import { dropWrite, withTarget } from './support/broken-adapters';
import { inProcess as cli } from './support/bin';

const quiet = { out: () => undefined, err: () => undefined };

/**
 * fsx with the unguided generator (--no-guide), without remounts and bad-argument ops: the seeds
 * and op counts below are that sequence's, and the defects here count pwrite calls, which a
 * refused bad-argument write or a remount's read-back would otherwise meet first.
 */
function fsx(adapter: FileAdapter, o: Partial<FsxOptions>) {
  const base = defaultOptions();
  // The classic op mix (without fsx's newer ops): the seeds below were picked in its stream.
  const weights = classicWeights().map((w, code) => (OPS[code].name === 'remount' ? 0 : w));
  return runFsx(adapter, adapter.name, { ...base, quiet: true, guide: false, invalidArgs: false, weights, ...o }, quiet);
}

function shrink(log: OpLog, make: () => FileAdapter, more: Partial<ShrinkOptions> = {}) {
  return shrinkLog(log, { makeAdapter: make, name: log.adapter, trustExpected: true, ...more });
}

/** naive whose `at`-th pwrite call stores nothing (test/support/broken-adapters.ts dropWrite). */
const dropping = (at: number) => () => dropWrite(createNaiveAdapter(), { at });

/** naive that drops every pwrite of exactly `len` bytes at `off` (a defect tied to one op's arguments). */
function dropAt(off: number, len: number): () => FileAdapter {
  return () => withTarget(createNaiveAdapter(), 'drop-at', (t) => ({
    pwrite(o: number, d: Uint8Array): number {
      if (o !== off || d.length !== len) return t.pwrite(o, d);
      if (o + d.length > t.size()) t.truncate(o + d.length);
      return d.length;
    },
  }));
}

describe('shrinker', () => {
  let tmp: string;
  before(() => { tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'iomap-shrink-test-')); });
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  for (const at of [1, 3]) {
    it(`a target that drops its pwrite #${at}: found, shrunk to ${at + 1} ops (the minimum), saved to a corpus, replayed`, () => {
      const make = dropping(at);
      const r = fsx(make(), { numOps: 20000, seed: 5 });
      assert.ok(r.failure !== null, 'fsx did not find the dropped write');
      assert.equal(r.failure.kind, 'bad-data');
      const log = { ...r.log(), adapter: 'drop-write' };
      const s = shrink(log, make);
      assert.ok(s.failed);
      // The dropped write needs `at` pwrites, and one read to see it: nothing shorter can fail.
      assert.equal(s.outputOps, at + 1, serializeOpLog(s.log));
      assert.equal(s.log.ops.filter((o) => o.op === 'write').length, at);
      assert.equal(s.signature, 'bad-data|fileops-14.3');
      assert.deepEqual(s.log.expected, { outcome: 'fail', kind: 'bad-data', op: at + 1, offset: s.final.failure!.offset, rule: 'fileops-14.3' });
      // Saved to a corpus directory, read back and replayed: the same failure at the same op.
      const corpus = path.join(tmp, `corpus-${at}`);
      fs.mkdirSync(corpus);
      const file = path.join(corpus, 'dropped-write.json');
      fs.writeFileSync(file, serializeOpLog({ ...s.log, description: 'a pwrite that stores nothing' }));
      const back = parseOpLog(fs.readFileSync(file, 'utf8'), file);
      const again = replayLog(make(), 'drop-write', back, { quiet: true, debug: false, logDumpOps: 100 }, quiet);
      assert.equal(again.failure?.kind, 'bad-data');
      assert.equal(again.failure?.op, at + 1);
      assert.deepEqual(again.report, s.final.report, 'replay prints the same report');
      // On a correct target the minimal log passes.
      assert.equal(replayLog(createNaiveAdapter(), 'naive', back, { quiet: true, debug: false, logDumpOps: 100 }, quiet).failure, null);
    });
  }

  it('is deterministic: the same log shrinks to the same bytes, trusted or not', () => {
    const make = dropping(2);
    const log = { ...fsx(make(), { numOps: 20000, seed: 9 }).log(), adapter: 'drop-write' };
    const a = shrink(log, make);
    const b = shrink(log, make);
    const c = shrink(log, make, { trustExpected: false });
    assert.equal(serializeOpLog(a.log), serializeOpLog(b.log));
    assert.equal(a.replays, b.replays);
    assert.equal(serializeOpLog(c.log), serializeOpLog(a.log));
  });

  it('keeps the signature: kind and rule (and errno, crash message); a different failure is not a reproduction', () => {
    assert.equal(signatureOf({ kind: 'contract', rule: 'R30', lines: [] }), 'contract|R30');
    assert.equal(signatureOf({ kind: 'op-error', errno: 'EIO', lines: [] }), 'op-error||EIO');
    // A diff divergence where the host failed keeps its errno: a shrink of a host's EIO on an
    // O_DIRECT read must not end on a result mismatch of the same rule (xfs 4k seed 301 did: a
    // 51,858-op DIO-collision EIO shrank to a 2-op dedupe count before this).
    assert.equal(signatureOf({ kind: 'divergence', rule: 'diff-result', errno: 'EIO', lines: [] }), 'divergence|diff-result|EIO');
    assert.equal(signatureOf({ kind: 'divergence', rule: 'diff-result', lines: [] }), 'divergence|diff-result');
    assert.equal(
      signatureOf({ kind: 'crash', lines: ['write: 0x0 to 0x10', 'target crashed in write: TypeError: bad index 4096 at 0x1f'] }),
      'crash||TypeError: bad index # at #',
    );
    // Two defects: a dropped write (bad-data) and a truncate that leaves the file a byte long (size).
    // A shrink of the size failure never ends on bad-data, and vice versa.
    const make = () => withTarget(createNaiveAdapter(), 'two-bugs', (t) => ({
      truncate(n: number): void { t.truncate(n === 12345 ? n + 1 : n); },
      pwrite(o: number, d: Uint8Array): number { return d.length === 777 ? (o + d.length > t.size() && t.truncate(o + d.length), d.length) : t.pwrite(o, d); },
    }));
    const log: OpLog = {
      format: 'iomap-harness-oplog', version: OPLOG_VERSION, adapter: 'two-bugs', geometry: { blockSize: 4096, pageSize: 4096 }, seed: 1,
      ops: [
        { op: 'write', off: 0, len: 777 },
        { op: 'write', off: 5000, len: 100 },
        { op: 'read', off: 0, len: 700 },
        { op: 'truncate', off: 0, len: 12345 },
      ],
    };
    const s = shrinkLog(log, { makeAdapter: make, name: 'two-bugs' });
    assert.equal(s.signature, 'bad-data|fileops-14.3');
    assert.deepEqual(s.log.ops.map((o) => o.op), ['write', 'read']);
    const sizeOnly = shrinkLog({ ...log, ops: [log.ops[1], log.ops[3]] }, { makeAdapter: make, name: 'two-bugs' });
    assert.equal(sizeOnly.signature, 'size|fileops-14.1');
    assert.deepEqual(sizeOnly.log.ops.map((o) => o.op), ['truncate']);
    assert.equal(sizeOnly.log.ops[0].len, 12345, 'the truncate size is what triggers the defect');
  });

  it('shrinks a -b log (simulated ops) and a mutant failure to a few ops', () => {
    const m = () => loadAdapter('mutant:insert-short-by-one');
    const r = fsx(m(), { numOps: 100000, simulatedOps: 4999 });
    assert.ok(r.failure !== null && r.failure.op > 5000);
    const s = shrink(r.log(), m);
    assert.ok(s.outputOps <= 4, serializeOpLog(s.log));
    assert.ok(s.log.ops.some((o) => o.op === 'insert_range'));
    assert.equal(s.log.options?.simulatedOps ?? 0, 0, 'the minimal log needs no simulated prefix');
    const again = replayLog(m(), 'mutant:insert-short-by-one', s.log, { quiet: true, debug: false, logDumpOps: 100 }, quiet);
    assert.equal(again.failure?.kind, s.final.failure?.kind);
  });

  it('mkwrite-eof-off-by-one: the shrunk case keeps its ops valid, so it passes on reference', () => {
    // The shrinker tries length 1 first; a 1-byte collapse is EINVAL on a correct target, while the
    // mutant's SIGBUS in the EOF pollution before it hid that. The runner now skips such ops.
    const r = fsx(loadAdapter('mutant:mkwrite-eof-off-by-one'), { numOps: 1000, seed: 1 });
    assert.ok(r.failure, 'fsx catches the mutant');
    const s = shrink(r.log(), () => loadAdapter('mutant:mkwrite-eof-off-by-one'));
    assert.equal(s.signature, 'op-error|fileops-14.23|SIGBUS');
    const onRef = replayLog(loadAdapter('reference'), 'reference', s.log, { quiet: true, debug: false, logDumpOps: 0 }, quiet);
    assert.equal(onRef.failure, null, onRef.report.join('\n'));
  });

  it('the runner skips ops no correct target accepts (unaligned collapse/insert/clone/O_DIRECT, overlapping clone)', () => {
    const ops = [
      { op: 'write', off: 0, len: 20000 },
      { op: 'collapse_range', off: 0, len: 1 },
      { op: 'insert_range', off: 512, len: 4096 },
      { op: 'clone_range', off: 0, len: 4096, dst: 2048 },
      { op: 'clone_range', off: 0, len: 100, dst: 8192 },
      { op: 'clone_range', off: 0, len: 8192, dst: 4096 },
      { op: 'read_direct', off: 0, len: 100 },
      { op: 'write_direct', off: 1, len: 512 },
    ];
    const log = parseOpLog(JSON.stringify({ format: 'iomap-harness-oplog', version: 2, adapter: 'reference', geometry: { blockSize: 4096, pageSize: 4096 }, seed: 1, ops }), 'x.json');
    const r = replayLog(loadAdapter('reference'), 'reference', log, { quiet: true, debug: false, logDumpOps: 0 }, quiet);
    assert.equal(r.failure, null, r.report.join('\n'));
    assert.deepEqual(r.log().ops.map((o) => o.skip === true), [false, true, true, true, true, true, true, true]);
  });

  it('a 100,000-op log that fails at its end shrinks to 2 ops well inside 10 s', function () {
    this.timeout(300000);
    // The defect is tied to one write of the run (its exact offset and length), near op 100,000.
    const make = dropAt(204828, 57316);
    const r = fsx(make(), { numOps: 200000, seed: 1 });
    assert.ok(r.failure !== null && r.ops >= 100000, `failure at op ${r.failure?.op}`);
    const log = { ...r.log(), adapter: 'drop-at' };
    const t0 = performance.now();
    const s = shrink(log, make);
    const ms = performance.now() - t0;
    assert.equal(s.outputOps, 2, serializeOpLog(s.log));
    assert.deepEqual(s.log.ops.map((o) => o.op), ['write', 'read']);
    assert.deepEqual([s.log.ops[0].off, s.log.ops[0].len], [204828, 57316]);
    // Not a timing assertion for a loaded CI machine: docs/benchmarks.md has the figures.
    assert.ok(ms < 60000, `${Math.round(ms)} ms`);
    console.log(`      (${r.ops} ops -> ${s.outputOps} in ${Math.round(ms)} ms, ${s.replays} replays, ${s.replayedOps} ops replayed)`);
  });

  describe('iomap-harness shrink', () => {
    let log: string;
    before(() => {
      const mod = path.join(tmp, 'drop3.js');
      const req = (p: string) => JSON.stringify(path.resolve(__dirname, '..', p));
      fs.writeFileSync(mod, [
        `const { createNaiveAdapter } = require(${req('adapters/naive')});`,
        `const b = require(${req('test/support/broken-adapters')});`,
        'exports.createAdapter = (o) => b.dropWrite(createNaiveAdapter(o), { at: 3 });',
      ].join('\n'));
      const r = fsx(dropWrite(createNaiveAdapter(), { at: 3 }), { numOps: 20000, seed: 5 });
      log = path.join(tmp, 'run.json');
      fs.writeFileSync(log, serializeOpLog({ ...r.log(), adapter: mod }));
    });

    it('writes LOG.min.json (+ .fsxops) by default, prints the report and the JSON summary, exits 1', async () => {
      const r = await cli(['shrink', log, '--json', '-q']);
      assert.equal(r.code, 1, r.err);
      const j = r.json;
      assert.deepEqual(Object.keys(j), ['command', 'adapter', 'seed', 'ops', 'failures', 'opsPerSec', 'elapsedMs', 'inputOps', 'outputOps', 'out', 'replays', 'signature', 'failure']);
      assert.equal(j.command, 'shrink');
      assert.equal(j.outputOps, 4);
      assert.equal(j.out, path.join(tmp, 'run.min.json'));
      assert.ok(fs.existsSync(path.join(tmp, 'run.min.fsxops')));
      assert.deepEqual(j.failure, { kind: 'bad-data', rule: 'fileops-14.3', offset: (j.failure as { offset: number }).offset, op: 4, log: j.out });
      assert.match(r.out, /^READ BAD DATA: /m);
      assert.match(r.out, /^LOG DUMP \(4 total operations\):$/m);
      const min = parseOpLog(fs.readFileSync(j.out as string, 'utf8'), 'min');
      assert.match(min.description ?? '', /^shrunk by iomap-harness shrink from run\.json \(\d+ ops to 4; signature bad-data\|fileops-14\.3\)$/);
      const rep = await cli(['replay', j.out as string, '--json']);
      assert.equal(rep.code, 1);
      assert.deepEqual(rep.json.cases, [{ path: j.out, expected: 'bad-data', outcome: 'bad-data', ok: true, op: 4 }]);
    });

    it('--out FILE; the same output twice; a log that passes exits 0; a bad --out exits 2', async () => {
      const a = await cli(['shrink', log, '--out', path.join(tmp, 'a.json'), '-q']);
      const b = await cli(['shrink', log, '--out', path.join(tmp, 'b.json'), '-q']);
      assert.equal(a.code, 1);
      assert.equal(fs.readFileSync(path.join(tmp, 'a.json'), 'utf8').replace('a.json', ''), fs.readFileSync(path.join(tmp, 'b.json'), 'utf8').replace('b.json', ''));
      assert.equal(a.out.replace(/in \d+ ms/, ''), b.out.replace(/in \d+ ms/, '').replace(/b\.json/g, 'a.json'));
      const pass = await cli(['shrink', log, '--adapter', 'naive', '--out', path.join(tmp, 'p.json'), '--json']);
      assert.equal(pass.code, 0, pass.err);
      assert.equal(pass.json.failures, 0);
      assert.equal(pass.json.out, null);
      assert.match(pass.err, /passes on naive: nothing to shrink/);
      assert.ok(!fs.existsSync(path.join(tmp, 'p.json')));
      const bad = await cli(['shrink', log, '--out', path.join(tmp, 'no', 'such', 'dir', 'x.json')]);
      assert.equal(bad.code, 2);
      assert.match(bad.err, /^iomap-harness: shrink: --out .*: directory .* does not exist\n$/);
    });

    it('fsx --shrink saves the minimal log next to the failing one', async () => {
      const save = path.join(tmp, 'fsx-shrink');
      // Seed 5: plain fsx reads the dropped write's bytes before anything overwrites them (on
      // seeds 2, 3 and 6 they are overwritten first, and nothing can tell the write was lost).
      const r = await cli(['fsx', '--adapter', path.join(tmp, 'drop3.js'), '-N', '20000', '-S', '5', '-q', '--shrink', '--save', save, '--json']);
      assert.equal(r.code, 1, r.err);
      const f = r.json.failure as Record<string, unknown>;
      const sh = f.shrunk as Record<string, unknown>;
      assert.equal(sh.ops, 4);
      assert.equal(sh.log, (f.log as string).replace(/\.json$/, '.min.json'));
      assert.ok(fs.existsSync(sh.log as string) && fs.existsSync((sh.log as string).replace(/\.json$/, '.fsxops')));
      assert.match(r.out, /^Shrunk to 4 ops in \d+ ms \(\d+ replays\); saved to /m);
    });
  });
});
