import { strict as assert } from 'assert';
import { spawn, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { serializeOpLog } from '../properties/fsx/oplog';
import { CliRun, inProcess as cli } from './support/bin';

const DIST = path.resolve(__dirname, '..');
const BIN = path.resolve(DIST, '..', 'bin', 'iomap-harness.js');

/** The deterministic report part of an output: from the failure's first line to the LOG DUMP end. */
function report(r: CliRun): string[] {
  const start = r.lines.findIndex((l) => /^(READ BAD DATA|Size error|Mapped|short read|target crashed|[a-z_]+: 0x)/.test(l));
  const end = r.lines.findIndex((l, i) => i > start && /^(Log of operations saved|.*: (bad-data|size|crash|eof-page) at op)/.test(l));
  assert.ok(start >= 0 && end > start, r.out.slice(0, 2000));
  return r.lines.slice(start, end);
}

describe('iomap-harness CLI', () => {
  let tmp: string;
  before(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'iomap-cli-test-'));
    const req = (p: string) => JSON.stringify(path.join(DIST, p));
    fs.writeFileSync(path.join(tmp, 'broken.js'), [
      `const { createNaiveAdapter } = require(${req('adapters/naive')});`,
      `const b = require(${req('test/support/broken-adapters')});`,
      'exports.createAdapter = (o) => b.corruptRead(createNaiveAdapter(o), { at: 30 });',
    ].join('\n'));
    fs.writeFileSync(path.join(tmp, 'crashing.js'), [
      `const { createNaiveAdapter } = require(${req('adapters/naive')});`,
      `const b = require(${req('test/support/broken-adapters')});`,
      "exports.createAdapter = (o) => b.crashingTarget(createNaiveAdapter(o), 'truncate', { at: 5 });",
    ].join('\n'));
    fs.writeFileSync(path.join(tmp, 'no-factory.js'), 'exports.x = 1;\n');
  });
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('fsx passes on naive; --json puts the summary on the last line; no progress when not a TTY', async () => {
    const r = await cli(['fsx', '--adapter', 'naive', '-N', '3000', '-q', '--json']);
    assert.equal(r.code, 0, r.err);
    assert.equal(r.err, '');
    const j = r.json;
    // `setup`: the block size the sweep drew for naive (docs/fsx.md, "The setup sweep").
    assert.deepEqual(Object.keys(j), ['command', 'adapter', 'seed', 'ops', 'failures', 'opsPerSec', 'elapsedMs', 'setup']);
    assert.equal(j.command, 'fsx');
    assert.equal(j.adapter, 'naive');
    assert.equal(j.seed, 1);
    assert.equal(j.ops, 3000);
    assert.equal(j.failures, 0);
    assert.ok(typeof j.opsPerSec === 'number' && typeof j.elapsedMs === 'number');
    assert.ok(!r.out.includes('\r'));
    assert.ok(r.lines.includes('All 3000 operations completed A-OK!'));
  });

  it('fsx takes fsx flags, number suffixes and --weight', async () => {
    const r = await cli(['fsx', '--adapter', 'naive', '-N', '0x800', '-S', '7', '-l', '128k', '-o', '8k', '-r', '512', '-w', '512', '-t', '4096',
      '-c', '20', '-R', '-W', '-F', '-H', '-z', '-C', '-I', '-J', '-B', '-E', '-K', '-u', '-X', '-q', '--weight', 'fiemap=3', '--bs', '1024', '--json']);
    assert.equal(r.code, 0, r.err + r.out);
    assert.equal(r.json.ops, 2048);
    assert.equal(r.json.seed, 7);
    const d = await cli(['fsx', '--adapter', 'naive', '-N', '40', '-d', '-Z']);
    assert.equal(d.code, 0, d.err);
    assert.ok(d.lines.some((l) => /^\d+ (read_direct|write_direct|truncate|trunc|fsync|fiemap|seek_data|seek_hole|clone_range|copy_range|dedupe_range|fallocate|mapread|mapwrite|zero_range|punch_hole|collapse_range|insert_range|fdatasync)\b/.test(l)), d.out);
    const s0 = await cli(['fsx', '--adapter', 'naive', '-N', '10', '-S', '0', '-q', '--json']);
    assert.match(s0.lines[0], /^Seed set to \d+$/);
    assert.notEqual(s0.json.seed, 0);
  });

  it('fsx with no --adapter uses the reference adapter', async () => {
    const r = await cli(['fsx', '-N', '200', '-q', '--json']);
    assert.equal(r.code, 0, r.err + r.out);
    assert.equal(r.json.adapter, 'reference');
  });

  it('a failure exits 1, saves the log (JSON + .fsxops) and replay reproduces the identical report', async () => {
    const mod = path.join(tmp, 'broken.js');
    const save = path.join(tmp, 'saved');
    // No remounts and no bad-argument calls: the 30th read would otherwise be one of their
    // whole-file read-backs (a durability or errno failure).
    const r = await cli(['fsx', '--adapter', mod, '-N', '5000', '-q', '--json', '--save', save, '--weight', 'remount=0', '--no-invalid']);
    assert.equal(r.code, 1, r.err);
    const j = r.json;
    assert.equal(j.failures, 1);
    const f = j.failure as Record<string, unknown>;
    assert.deepEqual(Object.keys(f), ['kind', 'rule', 'offset', 'op', 'log']);
    assert.equal(f.kind, 'bad-data');
    assert.equal(f.rule, 'fileops-14.3');
    const log = f.log as string;
    assert.equal(path.dirname(log), save);
    assert.ok(fs.existsSync(log) && fs.existsSync(log.replace(/\.json$/, '.fsxops')));
    assert.ok(r.lines.includes(`Log of operations saved to "${log}"; replay with: iomap-harness replay ${log}`));
    const rep = report(r);
    assert.match(rep[0], /^READ BAD DATA: offset = 0x[0-9a-f]+, size = 0x[0-9a-f]+, fname = /);
    assert.ok(rep.includes(`LOG DUMP (${f.op} total operations):`));

    const a = await cli(['replay', log, '--json']);
    assert.equal(a.code, 1, a.err);
    assert.deepEqual(report(a), rep);
    const ja = a.json;
    assert.deepEqual(ja.cases, [{ path: log, expected: 'bad-data', outcome: 'bad-data', ok: true, op: f.op }]);
    assert.deepEqual(ja.failure, { ...f, log });
    const b = await cli(['replay', log, '-q']);
    const c = await cli(['replay', log, '-q']);
    assert.equal(b.out, c.out, 'replay twice: byte-for-byte the same output');
    const x = await cli(['replay', log.replace(/\.json$/, '.fsxops'), '--json']);
    assert.equal(x.code, 1, x.err);
    assert.deepEqual(report(x), rep);
    // On a correct adapter the same log passes (exit 0) but no longer matches its expectation.
    const n = await cli(['replay', log, '--adapter', 'naive', '--json']);
    assert.equal(n.code, 0, n.err);
    assert.deepEqual((n.json.cases as unknown[])[0], { path: log, expected: 'bad-data', outcome: 'pass', ok: false });
  });

  it('a target crash exits 3 and still saves the log', async () => {
    const r = await cli(['fsx', '--adapter', path.join(tmp, 'crashing.js'), '-N', '2000', '-q', '--json', '--save', path.join(tmp, 'crash')]);
    assert.equal(r.code, 3, r.err);
    const f = r.json.failure as Record<string, unknown>;
    assert.equal(f.kind, 'crash');
    assert.ok(fs.existsSync(f.log as string));
    assert.ok(r.err.split("\n").some((l) => /^target crashed in (truncate|mapwrite): TypeError: simulated crash in truncate$/.test(l)), r.err);
  });

  it('bad input exits 2 with exactly one line on stderr', async () => {
    const good = JSON.parse(fs.readFileSync(fs.readdirSync(path.join(tmp, 'saved')).map((x) => path.join(tmp, 'saved', x)).find((p) => p.endsWith('.json')) as string, 'utf8'));
    const write = (name: string, text: string) => {
      const p = path.join(tmp, name);
      fs.writeFileSync(p, text);
      return p;
    };
    const full = serializeOpLog(good);
    const files = {
      malformed: write('malformed.json', '{"format": "iomap-harness-oplog", "version": 1,, }'),
      truncated: write('truncated.json', full.slice(0, Math.floor(full.length / 2))),
      version: write('version.json', JSON.stringify({ ...good, version: 6 })),
      format: write('format.json', JSON.stringify({ ...good, format: 'fsx' })),
      past: write('past.json', JSON.stringify({ ...good, ops: [{ op: 'write', off: 2 ** 60, len: 1 }] })),
      pastSum: write('past-sum.json', JSON.stringify({ ...good, ops: [{ op: 'write', off: 2 ** 53 - 2, len: 4 }] })),
      unknownOp: write('unknown-op.json', JSON.stringify({ ...good, ops: [{ op: 'frob', off: 0, len: 1 }] })),
      field: write('field.json', JSON.stringify({ ...good, ops: [{ op: 'read', off: 0, len: 1, colour: 'red' }] })),
      noDst: write('no-dst.json', JSON.stringify({ ...good, ops: [{ op: 'clone_range', off: 0, len: 4096 }] })),
      empty: write('empty.json', ''),
      faulting: write('faulting.json', JSON.stringify({ ...good, adapter: 'naive', version: 3, expected: undefined, ops: [{ op: 'write', off: 0, len: 100, faultAt: 10 }] })),
      fsxops: write('bad.fsxops', 'write 0x0 0x10 0x0\nfrobnicate 0x0 0x0 0x0\n'),
    };
    const cases: [string[], RegExp][] = [
      [['fsx', '--bogus'], /^iomap-harness: fsx: unknown option --bogus/],
      [['fsx', '-Q'], /^iomap-harness: fsx: unknown option -Q/],
      [['fsx', '-N', 'abc'], /^iomap-harness: -N: expected a number .*got "abc"$/],
      [['fsx', '-N', '-5'], /^iomap-harness: /],
      [['fsx', '-N'], /^iomap-harness: fsx: option -N, --num-ops needs a value$|^iomap-harness: fsx: option .* needs a value$/],
      [['fsx', '-S', '99999999999'], /^iomap-harness: -S: 99999999999 is out of range/],
      [['fsx', '--adapter', 'nope'], /^iomap-harness: unknown adapter "nope"/],
      [['fsx', '--adapter', 'exec:./no-such-server'], /^iomap-harness: (adapter )?exec:\.\/no-such-server/],
      [['fsx', '--adapter', 'mutant:none'], /^iomap-harness: unknown mutant "none"/],
      [['fsx', '--adapter', path.join(tmp, 'no-factory.js')], /does not export createAdapter\(opts\)$/],
      [['fsx', '--bs', '3000'], /^iomap-harness: --bs: 3000 is not a power of two$/],
      [['fsx', '--adapter', 'naive', '-l', '0'], /^iomap-harness: -l: 0 is out of range/],
      [['fsx', '--adapter', 'naive', '--weight', 'frob=1'], /^iomap-harness: --weight: unknown op "frob"/],
      [['fsx', '--adapter', 'naive', '--save', '/proc/self/nope'], /^iomap-harness: --save \/proc\/self\/nope: cannot create or write to it/],
      [['fsx', 'fname'], /^iomap-harness: fsx: unexpected argument "fname"$/],
      [['replay'], /^iomap-harness: replay: give at least one op log/],
      [['replay', path.join(tmp, 'missing.json')], /^iomap-harness: replay: .*missing\.json: no such file$/],
      [['replay', files.malformed], /^iomap-harness: replay: .*malformed\.json: not valid JSON \(truncated or malformed\): /],
      [['replay', files.truncated], /^iomap-harness: replay: .*truncated\.json: not valid JSON \(truncated or malformed\): /],
      [['replay', files.version], /^iomap-harness: replay: .*version\.json: version: unsupported op log version 6 \(this build reads versions 1, 2, 3, 4 and 5\)$/],
      [['replay', files.format], /^iomap-harness: replay: .*format\.json: format: expected "iomap-harness-oplog", got "fsx"$/],
      [['replay', files.past], /^iomap-harness: replay: .*past\.json: ops\[0\]\.off: 11529215046068\d+ is past the limit 2\^53-1 \(9007199254740991\)$/],
      [['replay', files.pastSum], /^iomap-harness: replay: .*past-sum\.json: ops\[0\]: off\+len = 9007199254740994 is past the limit/],
      [['replay', files.unknownOp], /ops\[0\]\.op: unknown op "frob"/],
      [['replay', files.field], /ops\[0\]: unknown field "colour"/],
      [['replay', files.noDst], /ops\[0\]: clone_range needs "dst"$/],
      [['replay', files.empty], /empty\.json: empty file/],
      [['replay', files.fsxops], /bad\.fsxops: line 2: unknown op "frobnicate"$/],
      [['replay', fs.mkdtempSync(path.join(tmp, 'nothing-'))], /no op logs or cases in /],
      [['frobnicate'], /^iomap-harness: unknown command "frobnicate"/],
      [['replay', files.faulting], /^iomap-harness: adapter naive cannot replay op 1 \(write with faultAt\): it needs model-level fault injection/],
      [['shrink', 'x'], /^iomap-harness: shrink: x: no such file$/],
      [['shrink'], /^iomap-harness: shrink: give exactly one op log \(LOG\), got 0$/],
      [['shrink', files.version], /^iomap-harness: shrink: .*version\.json: version: unsupported op log version 6/],
      [['fsx', '--shard', '1/2'], /^iomap-harness: --shard needs --seeds M/],
      [['fsx', '--shard', '3/2', '--seeds', '4'], /^iomap-harness: --shard 3\/2: need 1 <= K <= N/],
      [['fsx', '-j', '0'], /^iomap-harness: -j: 0 is out of range/],
      [['list', 'nope'], /^iomap-harness: list: unknown kind "nope"/],
    ];
    for (const [args, re] of cases) {
      const r = await cli(args);
      assert.equal(r.code, 2, `${args.join(' ')} -> ${r.code}: ${r.err}${r.out}`);
      assert.equal(r.out, '', args.join(' '));
      const errLines = r.err.split('\n').filter((l) => l !== '');
      assert.equal(errLines.length, 1, `${args.join(' ')}: ${r.err}`);
      assert.match(errLines[0], re, args.join(' '));
    }
    const none = await cli([]);
    assert.equal(none.code, 2);
    assert.match(none.err, /^usage: iomap-harness COMMAND/);
  });

  it('list adapters / corpus, and --help', async () => {
    const r = await cli(['list', 'adapters', '--json']);
    assert.equal(r.code, 0);
    const j = r.json;
    assert.equal(j.command, 'list');
    const names = (j.adapters as { name: string }[]).map((a) => a.name);
    assert.ok(names.includes('naive') && names.includes('reference'), names.join(','));
    const h = await cli(['list']);
    assert.ok(h.lines.some((l) => /^naive\s+plain in-memory/.test(l)));
    const c = await cli(['list', 'corpus', '--json']);
    assert.equal(c.code, 0);
    assert.ok(Array.isArray(c.json.corpus));
    const help = await cli(['--help']);
    assert.equal(help.code, 0);
    assert.match(help.out, /^usage: iomap-harness COMMAND/);
  });

  it('replays and shrinks crash and fault case files like op logs; bad ones exit 2 with one line', async () => {
    const corpus = path.resolve(DIST, '..', 'corpus');
    const fault = path.join(corpus, 'fault', 'writeback-error-lost.json');
    const crash = path.join(corpus, 'crash', 'metadata-before-data.json');
    // On the adapter it was recorded failing on (the default), then on reference.
    let r = await cli(['replay', fault, '-q', '--json']);
    assert.equal(r.code, 1, r.err);
    assert.match(r.out, /failed \(fault:errseq-missed:f0\)/);
    assert.deepEqual((r.json.cases as Array<Record<string, unknown>>)[0].ok, true);
    r = await cli(['replay', crash, '--adapter', 'reference', '-q']);
    assert.equal(r.code, 0, r.out);
    r = await cli(['replay', crash, '-q']);
    assert.equal(r.code, 1);
    assert.match(r.out, /failed \(crash:bad-bytes:f0\)/);
    // Cases run on refs in-process only.
    r = await cli(['replay', crash, '--adapter', 'naive']);
    assert.equal(r.code, 2);
    assert.equal(r.err.trim().split('\n').length, 1);
    assert.match(r.err, /runs on refs in-process/);
    // A damaged case: one line, exit 2, nothing run.
    const bad = path.join(tmp, 'bad-case.json');
    fs.writeFileSync(bad, fs.readFileSync(fault, 'utf8').replace('"kind": "fault"', '"kind": "flood"').replace('"kind":"fault"', '"kind":"flood"'));
    r = await cli(['replay', bad]);
    assert.equal(r.code, 2, r.out);
    assert.equal(r.err.trim().split('\n').length, 1);
    // shrink writes the case again (already minimal: as many ops), still failing the same way.
    const out = path.join(tmp, 'crash.min.json');
    r = await cli(['shrink', crash, '--out', out, '--json']);
    assert.equal(r.code, 1, r.err);
    const again = await cli(['replay', out, '-q']);
    assert.equal(again.code, 1);
    assert.match(again.out, /crash:bad-bytes:f0/);
    // A folder replays every log and case under it; each bug-zoo/crash/fault case fails as recorded.
    r = await cli(['replay', corpus, '-q', '--json']);
    const all = r.json.cases as Array<{ path: string; ok: boolean }>;
    assert.ok(all.length >= 25 && all.every((c) => c.ok), JSON.stringify(all.filter((c) => !c.ok)));
    assert.equal((await cli(['replay', fs.mkdtempSync(path.join(tmp, 'empty-'))])).code, 2);
    // list corpus names them with what they expect.
    r = await cli(['list', 'corpus', '--json']);
    const names = (JSON.parse(r.lines[r.lines.length - 1]).corpus as Array<{ name: string; expected: string }>).filter((i) => /^(crash|fault)\//.test(i.name));
    assert.ok(names.length >= 5 && names.every((i) => /^(crash|fault):/.test(i.expected)), JSON.stringify(names));
  });

  it('shows progress only on a TTY and never with --json', async () => {
    const t = await cli(['fsx', '--adapter', 'naive', '-N', '20000', '-q'], true);
    assert.equal(t.code, 0);
    const j = await cli(['fsx', '--adapter', 'naive', '-N', '20000', '-q', '--json'], true);
    assert.ok(!j.out.includes('\r'));
  });

  /*
   * A long run under a time limit (`timeout 2400 iomap-harness diff ... -p 10000`) is killed with
   * SIGTERM: the -p lines it printed are all that says how far it got, so each is written out at
   * once (before, they waited in the CLI's 512-line batch and a killed run printed nothing).
   */
  it('-p progress lines are written at once: a run killed by SIGTERM has printed how far it got', async function () {
    this.timeout(60_000);
    const child = spawn(process.execPath, [BIN, 'fsx', '--adapter', 'naive', '-N', '100000000', '--no-sweep', '-p', '50000', '-q', '--json'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    const seen = await new Promise<boolean>((resolve) => {
      const giveUp = setTimeout(() => resolve(false), 30_000);
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        if (/^[0-9]+ [a-z]/m.test(out)) {
          clearTimeout(giveUp);
          resolve(true);
        }
      });
      child.on('exit', () => { clearTimeout(giveUp); resolve(/^[0-9]+ [a-z]/m.test(out)); });
    });
    const code = await new Promise<number | null>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) resolve(child.exitCode);
      else {
        child.on('exit', (c) => resolve(c));
        child.kill('SIGTERM');
      }
    });
    assert.ok(seen, `no progress line before the run ended or was killed (stdout: ${JSON.stringify(out.slice(0, 500))})`);
    assert.notEqual(code, 0, 'killed, not finished');
  });

  /*
   * The setup sweep runs rounds of 10,000 ops, each numbered from 1 (its log replays alone); -p
   * counts from the run's start, so an interval longer than a round still prints, and each line
   * says where the run is (before, -p 15000 never printed: no round reaches op 15,000).
   */
  it('-p longer than a sweep round prints at the run\'s op counts, each line naming its run op', async () => {
    const r = await cli(['fsx', '--adapter', 'naive', '-N', '30000', '-S', '1', '-p', '15000', '-q'], true);
    assert.equal(r.code, 0, r.err);
    const lines = r.out.split('\n').filter((l) => /^[0-9]+ [a-z]/.test(l));
    assert.deepEqual(lines.map((l) => l.replace(/^([0-9]+) .*\(op ([0-9]+) of the run\)$/, '$1/$2')), ['5000/15000', '10000/30000']);
  });

  it('runs as a child process of bin/iomap-harness.js', () => {
    const ok = spawnSync(process.execPath, [BIN, 'fsx', '--adapter', 'naive', '-N', '2000', '-q', '--json'], { encoding: 'utf8' });
    assert.equal(ok.status, 0, ok.stderr);
    const lines = ok.stdout.trim().split('\n');
    const j = JSON.parse(lines[lines.length - 1]);
    assert.equal(j.ops, 2000);
    assert.equal(j.failures, 0);
    const bad = spawnSync(process.execPath, [BIN, 'fsx', '-N', 'abc'], { encoding: 'utf8' });
    assert.equal(bad.status, 2);
    assert.equal(bad.stdout, '');
    assert.equal(bad.stderr.trim().split('\n').length, 1);
    const fail = spawnSync(process.execPath, [BIN, 'fsx', '--adapter', path.join(tmp, 'broken.js'), '-N', '5000', '-q', '--save', path.join(tmp, 'child')], { encoding: 'utf8' });
    assert.equal(fail.status, 1, fail.stderr);
    assert.match(fail.stdout, /^Log of operations saved to ".*child\/fsx-.*\.json"; replay with: iomap-harness replay /m);
  });
});
