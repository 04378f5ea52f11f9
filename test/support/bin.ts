/**
 * Running the real binary (bin/iomap-harness.js) the way a user does, for the first-hour tests
 * (test/first-hour.test.ts, test/long/first-hour-docs.test.ts).
 */
import { strict as assert } from 'assert';
import { spawnSync, SpawnSyncOptions } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { main } from '../../cli/main';

export const ROOT = path.resolve(__dirname, '..', '..', '..');
export const BIN = path.join(ROOT, 'bin', 'iomap-harness.js');


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

/** A run through main(): its stdout's non-empty lines, and its last line parsed as the JSON summary. */
export interface CliRun extends BinRun {
  lines: string[];
  /** The last stdout line as JSON (`--json` summaries); reading it when that line is not JSON throws, with the output. */
  readonly json: Record<string, unknown>;
}

/**
 * The CLI through main() in this process, as the binary runs it but without a Node start-up per
 * call (sweeps over many flags; the binary is slow to start on a loaded machine). `isTTY` is what
 * the output streams claim to be.
 */
export async function inProcess(args: string[], isTTY = false): Promise<CliRun> {
  let out = '';
  let err = '';
  const code = await main(args, { stdout: (t) => { out += t; }, stderr: (t) => { err += t; }, isTTY });
  const lines = out.split('\n').filter((l) => l !== '');
  return {
    code, out, err, lines,
    get json(): Record<string, unknown> {
      try {
        return JSON.parse(lines[lines.length - 1] ?? '') as Record<string, unknown>;
      } catch {
        throw new Error(`iomap-harness ${args.join(' ')}: the last stdout line is not JSON (exit ${code})\n${out.slice(-2000)}${err.slice(-2000)}`);
      }
    },
  };
}

/** A module adapter file: naive with `patch` applied to each opened target. */
export function naiveModule(dir: string, name: string, patch: string): string {
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

/**
 * Run a document's code blocks in order, as a reader would, in `cwd`: a ```js block whose first
 * line is `// PATH` is written to PATH; a ```sh block runs as one bash script with `set -e` (with
 * `iomap-harness` on the PATH as this checkout's binary, and TypeScript's tsc) and must exit 0.
 * Returns each sh block's output.
 */
export function runDocBlocks(markdown: string, cwd: string): { cmd: string; out: string }[] {
  const shim = fs.mkdtempSync(path.join(os.tmpdir(), 'iomap-fh-bin-'));
  fs.writeFileSync(path.join(shim, 'iomap-harness'), `#!/bin/sh\nexec "${process.execPath}" "${BIN}" "$@"\n`, { mode: 0o755 });
  const env = { ...process.env, PATH: `${shim}:${path.join(ROOT, 'node_modules', '.bin')}:${process.env.PATH ?? ''}` };
  const ran: { cmd: string; out: string }[] = [];
  try {
    for (const m of markdown.matchAll(/^```(sh|js)\n([\s\S]*?)^```$/gm)) {
      const [, lang, body] = m;
      if (lang === 'js') {
        const file = /^\/\/ (\S+)\n/.exec(body)?.[1];
        if (file === undefined) continue;
        fs.mkdirSync(path.dirname(path.join(cwd, file)), { recursive: true });
        fs.writeFileSync(path.join(cwd, file), body);
        continue;
      }
      const r = spawnSync('bash', ['-c', `set -e\n${body}`], { cwd, env, encoding: 'utf8', timeout: 600_000 });
      const out = `${r.stdout}${r.stderr}`;
      assert.equal(r.status, 0, `this block exited ${r.status}:\n${body}\n--- output:\n${out.slice(-4000)}`);
      ran.push({ cmd: body, out });
    }
  } finally {
    fs.rmSync(shim, { recursive: true, force: true });
  }
  return ran;
}

