/**
 * The first hour of a new user (issue 16), through the real binary (bin/iomap-harness.js as a child
 * process): per-command help, suggestions, one-line refusals of misleading input. Each test names
 * the old behaviour it fails on.
 */
import { strict as assert } from 'assert';
import { spawnSync, SpawnSyncOptions } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { main } from '../cli/main';

const ROOT = path.resolve(__dirname, '..', '..');
const BIN = path.join(ROOT, 'bin', 'iomap-harness.js');

export interface BinRun {
  code: number;
  out: string;
  err: string;
}

/** Run the binary; `cwd` defaults to a fresh temp dir so nothing lands in the checkout. */
export function bin(args: string[], opts: SpawnSyncOptions = {}): BinRun {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 120_000, ...opts });
  return { code: r.status ?? -1, out: String(r.stdout), err: String(r.stderr) };
}

/** Exit 2, nothing on stdout, exactly one line on stderr matching `re`, no stack trace. */
export function oneLineUsage(r: BinRun, re: RegExp, what: string): void {
  assert.equal(r.code, 2, `${what}: exit ${r.code}\n${r.err}${r.out}`);
  assert.equal(r.out, '', `${what}: stdout`);
  const lines = r.err.split('\n').filter((l) => l !== '');
  assert.equal(lines.length, 1, `${what}: ${r.err}`);
  assert.doesNotMatch(r.err, /\n\s+at /, `${what}: stack trace`);
  assert.match(lines[0], re, what);
}

/** The same through main() in this process (sweeps over many flags; the binary is slow to start on a loaded machine). */
export async function inProcess(args: string[]): Promise<BinRun> {
  let out = '';
  let err = '';
  const code = await main(args, { stdout: (t) => { out += t; }, stderr: (t) => { err += t; }, isTTY: false });
  return { code, out, err };
}

const COMMANDS = ['fsx', 'check', 'replay', 'shrink', 'report', 'list', 'scratch'];

describe('first hour: help and suggestions (issue 16 point 1)', () => {
  for (const c of COMMANDS) {
    it(`${c} --help and -h print every flag with its meaning, and examples (was: "unknown option --help", exit 2)`, () => {
      for (const h of ['--help', '-h']) {
        const r = bin([c, h]);
        assert.equal(r.code, 0, `${c} ${h}: ${r.err}`);
        assert.match(r.out, new RegExp(`^Usage: iomap-harness ${c} `));
        assert.match(r.out, /\nOptions:\n/);
        assert.match(r.out, /\nExamples:\n {2}iomap-harness /);
        // Every option line has a description, not just a flag name.
        const opts = r.out.slice(r.out.indexOf('Options:'), r.out.indexOf('Examples:')).split('\n').filter((l) => /^ {2}-/.test(l));
        assert.ok(opts.length >= 2, r.out);
        for (const l of opts) assert.match(l, /^ {2}(-\w, )?--[\w-]+( <[^>]+>)? {2,}\S/, `${c}: ${l}`);
      }
    });
  }

  it('fsx --help says what each fsx letter does and its default', () => {
    const r = bin(['fsx', '--help']);
    assert.match(r.out, /-N, --num-ops <N> +number of operations to run \(default: 100000\)/);
    assert.match(r.out, /-R, --no-mapread +mapped reads become plain reads/);
    assert.match(r.out, /-o, --maxoplen <N> +largest length of one operation/);
    assert.match(bin(['help', 'fsx']).out, /--num-ops/);
  });

  it('the top-level help lists every command with what it does, and how to get a command\'s help', () => {
    const r = bin(['--help']);
    assert.equal(r.code, 0);
    for (const c of COMMANDS) assert.match(r.out, new RegExp(`\\n {2}${c} +\\S`), c);
    assert.match(r.out, /iomap-harness fsx --help/);
  });

  it('an unknown flag or command suggests the closest one and lists every command (was: 5 of 7 listed, no suggestion)', () => {
    oneLineUsage(bin(['fsx', '--num-op', '5']), /^iomap-harness: fsx: unknown option --num-op \(did you mean --num-ops\?\); see iomap-harness fsx --help$/, '--num-op');
    oneLineUsage(bin(['check', '--suites', 'seek']), /did you mean --suite\?/, '--suites');
    oneLineUsage(bin(['fsx', '-Q']), /unknown option -Q \(did you mean -q, --quiet\?\)/, '-Q');
    const r = bin(['fzx']);
    oneLineUsage(r, /^iomap-harness: unknown command "fzx" \(did you mean fsx\?\)/, 'fzx');
    for (const c of COMMANDS) assert.match(r.err, new RegExp(`\\b${c}\\b`), c);
  });
});

describe('first hour: misleading input is one clear line, exit 2 (issue 16 point 8)', () => {
  let tmp: string;
  before(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'iomap-fh-input-'));
  });
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('a negative number names the flag and the value (was: "option -N needs a value")', async () => {
    oneLineUsage(bin(['fsx', '-N', '-5'], { cwd: tmp }), /^iomap-harness: -N: -5 is negative/, 'fsx -N -5');
    for (const f of ['-S', '-l', '-o', '-r', '-w', '-t', '-c', '-p', '-b', '-j']) {
      oneLineUsage(await inProcess(['fsx', f, '-5']), new RegExp(`^iomap-harness: ${f}: -5 is negative`), `fsx ${f} -5`);
    }
    oneLineUsage(await inProcess(['check', '--runs', '-5']), /--runs: -5 is negative/, 'check --runs -5');
  });

  it('a flag that needs a value, followed by another flag, says so (was: "argument is ambiguous")', () => {
    oneLineUsage(bin(['fsx', '-N', '-q'], { cwd: tmp }), /^iomap-harness: fsx: option --num-ops needs a value \(got the flag -q\)$/, '-N -q');
    oneLineUsage(bin(['scratch', 'create', 'tmpfs', '--size', '--json'], { cwd: tmp }), /option --size needs a value/, '--size --json');
    oneLineUsage(bin(['scratch', 'create', 'tmpfs', '--size', '-5'], { cwd: tmp }), /--size: -5 is not a positive size|--size: .*-5/, '--size -5');
  });

  it('-o 0 is refused (was: every op ran at length 0 and the run "passed")', () => {
    oneLineUsage(bin(['fsx', '-o', '0'], { cwd: tmp }), /^iomap-harness: -o: 0 is out of range \[1, /, '-o 0');
  });
});

/** Run the binary under script(1), so its stdout is a terminal. */
function onTTY(args: string[], cwd: string): string | null {
  if (spawnSync('script', ['--version'], { encoding: 'utf8' }).status !== 0) return null;
  const cmd = [process.execPath, BIN, ...args].map((a) => `'${a}'`).join(' ');
  const r = spawnSync('script', ['-qec', cmd, '/dev/null'], { encoding: 'utf8', cwd, timeout: 300_000, env: { ...process.env, COLUMNS: '160' } });
  return String(r.stdout);
}

const CLEAR = '\r\x1b[K';

/** Every status-line draw (text after a CLEAR) is a status text alone: nothing glued to it. */
function assertNotInterleaved(out: string, status: RegExp): string[] {
  const draws = out.split(CLEAR).slice(1).map((seg) => seg.split(/\r?\n/)[0]).filter((s) => s !== '');
  for (const d of out.split(CLEAR).slice(1)) {
    const firstLine = d.split(/\r?\n/)[0];
    if (status.test(firstLine)) assert.ok(!/\n/.test(d), `status line followed by output without a clear: ${JSON.stringify(d.slice(0, 200))}`);
  }
  return draws.filter((d) => status.test(d));
}

describe('first hour: output (issue 16 points 2 and 10)', function () {
  let tmp: string;
  before(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'iomap-fh-out-'));
  });
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('fsx counts skip lines and summarizes them; -v lists them; -q prints neither (was: thousands of "skipping" lines)', () => {
    const r = bin(['fsx', '-N', '2000'], { cwd: tmp });
    assert.equal(r.code, 0, r.err);
    assert.doesNotMatch(r.out, /^skipping /m);
    assert.match(r.out, /^Skipped (\d+) ops that cannot run as drawn \(normal for fsx; -v lists them\): \d+ complete_io: no pending I\/O/m);
    const n = Number(/^Skipped (\d+) ops/m.exec(r.out)?.[1]);
    const v = bin(['fsx', '-N', '2000', '-v'], { cwd: tmp });
    assert.equal(v.out.split('\n').filter((l) => l.startsWith('skipping ')).length, n, 'every counted skip is listed with -v');
    const q = bin(['fsx', '-N', '2000', '-q'], { cwd: tmp });
    assert.doesNotMatch(q.out, /skipping|Skipped/);
    assert.match(q.out, /All 2000 operations completed A-OK!/);
  });

  it('on a terminal fsx keeps one live status line (ops, ops/s, elapsed, ETA, failures), never glued to other output', function () {
    const out = onTTY(['fsx', '-N', '3000'], tmp);
    if (out === null) this.skip();
    const draws = assertNotInterleaved(out, /^fsx seed 1: /);
    assert.ok(draws.length >= 1, JSON.stringify(out.slice(0, 400)));
    assert.match(draws[0], /^fsx seed 1: \d+\/3000 ops, \d+ ops\/s, \d+s(, ETA \S+)?, 0 failures$/);
    assert.match(out, /All 3000 operations completed A-OK!/);
    assert.ok(!/ops\/s[^\r\n]*All /.test(out), 'progress glued to the result');
  });

  it('on a terminal check shows the suite and property being run, and prints each suite as it finishes (was: nothing until the end)', function () {
    const out = onTTY(['check', '--suite', 'seek,fiemap', '--runs', '3'], tmp);
    if (out === null) this.skip();
    const draws = assertNotInterleaved(out, /^check: suite /);
    assert.ok(draws.some((d) => /^check: suite 1\/2 seek, property 1\/\d+ \S+, \d+s, 0 failing$/.test(d)), draws.join('\n'));
    assert.ok(draws.some((d) => /^check: suite 2\/2 fiemap, /.test(d)), draws.join('\n'));
    // The seek row is printed before the fiemap suite's first status.
    assert.ok(out.indexOf('\nseek ') < out.indexOf('check: suite 2/2'), out);
  });

  it('a failure is saved in ./iomap-harness-failures and the folder printed (was: an iomap-harness-* folder in the temp dir)', () => {
    // The run gets a temp directory of its own, so that other processes on the machine cannot
    // make (or hide) a leftover iomap-harness-* folder in what this test looks at.
    const ownTmp = fs.mkdtempSync(path.join(tmp, 'tmpdir-'));
    const env = { ...process.env, TMPDIR: ownTmp };
    const r = bin(['fsx', '--adapter', 'mutant:fiemap-no-last', '-N', '3000', '-q'], { cwd: tmp, env });
    assert.equal(r.code, 1, r.err);
    const dir = path.join(fs.realpathSync(tmp), 'iomap-harness-failures');
    assert.match(r.out, new RegExp(`^Log of operations saved to "${dir}/fsx-mutant_fiemap-no-last-s1-op\\d+\\.json"`, 'm'));
    assert.ok(r.out.trimEnd().endsWith(`Failures are saved in ${dir}`), r.out.slice(-300));
    assert.ok(fs.readdirSync(dir).some((n) => n.endsWith('.json')));
    assert.deepEqual(fs.readdirSync(ownTmp).filter((n) => n.startsWith('iomap-harness-')), []);
    const c = bin(['check', '--adapter', 'mutant:fiemap-no-last', '--suite', 'fiemap', '--runs', '20', '-q', '--no-shrink'], { cwd: tmp });
    assert.equal(c.code, 1, c.err);
    assert.match(c.out, new RegExp(`Counterexamples are saved in ${dir}`));
  });

  it('--save to a folder that cannot hold files is one line before the run (was: exit 3, a stack trace, the failure lost)', () => {
    oneLineUsage(bin(['fsx', '--save', '/proc', '-N', '10'], { cwd: tmp }), /^iomap-harness: --save \/proc: cannot create or write to it: /, '--save /proc');
  });
});

/** A module adapter file: naive with `patch` applied to each opened target. */
function naiveModule(dir: string, name: string, patch: string): string {
  const naive = JSON.stringify(path.join(ROOT, 'dist', 'adapters', 'naive'));
  fs.writeFileSync(path.join(dir, name), [
    `const { createNaiveAdapter } = require(${naive});`,
    'exports.createAdapter = (o) => {',
    '  const a = createNaiveAdapter(o);',
    '  const open = a.open.bind(a);',
    `  a.open = () => { const t = open(); ${patch}; return t; };`,
    '  return a;',
    '};',
  ].join('\n'));
  return name;
}

describe('first hour: module adapters (issue 16 points 5 and 9)', function () {
  let tmp: string;
  before(() => {
    tmp = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'iomap-fh-mod-')));
    fs.mkdirSync(path.join(tmp, 'elsewhere'));
  });
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('a module given by a relative path is recorded absolute, and the saved log replays from another directory (was: "file not found")', () => {
    naiveModule(tmp, 'flaky.js', "const r = t.pread.bind(t); let n = 0; t.pread = (...a) => { const b = r(...a); if (++n === 25 && b.length > 0) b[0] ^= 1; return b; }");
    const r = bin(['fsx', '--adapter', './flaky.js', '-N', '3000', '-q', '--json'], { cwd: tmp });
    assert.equal(r.code, 1, r.err);
    const log = (JSON.parse(r.out.trim().split('\n').pop() as string) as { failure: { log: string } }).failure.log;
    const saved = JSON.parse(fs.readFileSync(log, 'utf8')) as { adapter: string; description: string };
    assert.equal(saved.adapter, path.join(tmp, 'flaky.js'));
    assert.match(saved.description, /adapter module given as \.\/flaky\.js in /);
    const again = bin(['replay', log], { cwd: path.join(tmp, 'elsewhere') });
    assert.equal(again.code, 1, again.err);
    assert.match(again.out, /READ BAD DATA/);
  });

  it('a module adapter that hangs ends the run: exit 3, one line on stderr, within the exec: timeout (was: the harness hung)', () => {
    naiveModule(tmp, 'hangs.js', "const w = t.pwrite.bind(t); let n = 0; t.pwrite = (...a) => { if (++n === 10) for (;;) {} return w(...a); }");
    const t0 = Date.now();
    const r = bin(['fsx', '--adapter', './hangs.js', '-N', '1000'], { cwd: tmp, env: { ...process.env, IOMAP_HARNESS_EXEC_TIMEOUT_MS: '1000' } });
    assert.equal(r.code, 3, `${r.err}${r.out.slice(-500)}`);
    const errLines = r.err.split('\n').filter((l) => l !== '');
    assert.equal(errLines.length, 1, r.err);
    assert.match(errLines[0], /^iomap-harness: adapter module .*hangs\.js: FileTarget\.\w+\(\) did not return within 1000 ms: the target hung/);
    assert.ok(Date.now() - t0 < 60_000);
  });

  it('a module adapter that throws: the crash line once, on stderr (was: on stdout, after "disabling" lines)', () => {
    naiveModule(tmp, 'throws.js', "t.pwrite = () => { throw new TypeError('boom'); }; delete t.fallocate; delete t.cloneRange");
    const r = bin(['fsx', '--adapter', './throws.js', '-N', '200'], { cwd: tmp });
    assert.equal(r.code, 3, r.err);
    assert.equal(r.err.split('\n').filter((l) => /target crashed in write: TypeError: boom/.test(l)).length, 1, r.err);
    assert.doesNotMatch(r.out, /target crashed/);
    assert.ok(r.err.split('\n').filter((l) => /disabling|does not support/.test(l)).length <= 1, r.err);
  });
});
