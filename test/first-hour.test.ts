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
