/**
 * `npm run bench`: fsx throughput, compared, as ops per CPU-second (other load on a shared machine
 * distorts CPU time much less than wall time). Each measurement is a child process — the CLI's
 * `fsx -q --json` — and its CPU is what the child and everything it waited for used (an exec:
 * server included), read from /proc/self/stat's cutime/cstime around the run. Rows, interleaved
 * run by run (so a load change hits every row alike), median of --runs:
 *
 *   naive                  the engine alone (an in-memory file, no model)
 *   reference              refs under the reference generic layer, default mix, every check on
 *                          (contract monitor, invariants, power cuts with the durability judge)
 *   reference crash=0      the same with --weight crash=0 (no power cuts)
 *   exec:fs-server.py      the fs-level example server over the exec: protocol (--exec-ops ops)
 *   fsx.c                  with FSX_BINARY=/path/to/fsx (your own build of xfstests' ltp/fsx.c,
 *                          never shipped here): fsx.c on a file in /dev/shm (tmpfs), same -N and
 *                          seed; then each row's CPU per op is also given as a ratio to fsx.c's
 *
 *   node dist/bench/run.js [-N OPS] [--exec-ops OPS] [--runs R] [-X] [ROW...]
 *   node dist/bench/run.js --memory [-N OPS]     peak RSS of reference, default mix, at -l 256k,
 *                                                256m, 2^40, 2^50 and the largest file (2^53 - 2^16)
 *
 * -X adds fsx's full-file check after every op. The last stdout line is JSON
 * ({"command":"bench",...}). Timings are not asserted anywhere; docs/benchmarks.md records
 * figures with the command that made them. Linux only (/proc).
 */

import { spawnSync } from 'child_process';
import { readFileSync, mkdtempSync, rmSync } from 'fs';
import * as os from 'os';
import * as path from 'path';
import { SEMI_SPACE_FLAG, SINGLE_THREADED } from '../cli/relaunch';

interface Row {
  name: string;
  /** argv after `node` (or the binary for fsx.c). */
  cmd: (ops: number) => { file: string; args: string[] };
  execOps?: boolean;
}

const ROOT = path.join(__dirname, '..', '..');
const CLI = path.join(ROOT, 'bin', 'iomap-harness.js');
const RSS_HOOK = path.join(__dirname, 'rss-hook.js');

interface Config {
  ops: number;
  execOps: number;
  runs: number;
  checkFile: boolean;
  memory: boolean;
  rows: string[];
}

function parse(argv: string[]): Config {
  const c: Config = { ops: 100000, execOps: 5000, runs: 3, checkFile: false, memory: false, rows: [] };
  const num = (i: number, flag: string): number => {
    const v = Number(argv[i]);
    if (!Number.isSafeInteger(v) || v <= 0) throw new Error(`bench: ${flag} needs a positive integer, got ${argv[i]}`);
    return v;
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '-X') c.checkFile = true;
    else if (a === '--memory') c.memory = true;
    else if (a === '-N') c.ops = num(++i, '-N');
    else if (a === '--exec-ops') c.execOps = num(++i, '--exec-ops');
    else if (a === '--runs') c.runs = num(++i, '--runs');
    else if (a.startsWith('-')) throw new Error(`bench: unknown option ${a} (use -N OPS, --exec-ops OPS, --runs R, -X, --memory, row names)`);
    else c.rows.push(a);
  }
  return c;
}

/** CPU seconds used by the waited-for children of this process so far (/proc/self/stat). */
function childCpu(): number {
  const stat = readFileSync('/proc/self/stat', 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // Fields 16 and 17 of stat(5) (cutime, cstime); f[0] is field 3.
  return (Number(f[13]) + Number(f[14])) / ticksPerSecond;
}

const ticksPerSecond = (() => {
  const r = spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' });
  const n = Number(r.stdout?.trim());
  return Number.isInteger(n) && n > 0 ? n : 100;
})();

/**
 * The CLI is started as its program form starts it (the sh line of bin/iomap-harness.js, which an
 * installed `iomap-harness` runs): Node with the relaunch flags at once, so the row measures one
 * process, not a launcher Node beside it (`node bin/iomap-harness.js` relaunches: about 0.1 CPU-s
 * more per run, docs/benchmarks.md session 9).
 */
function fsxRow(name: string, extra: string[], execOps = false): Row {
  const node = [SEMI_SPACE_FLAG, SINGLE_THREADED, '--require', RSS_HOOK, CLI];
  return { name, execOps, cmd: (ops) => ({ file: process.execPath, args: [...node, 'fsx', '-N', String(ops), '-S', '1', '-q', '--json', ...extra] }) };
}

function rows(cfg: Config, scratch: string): Row[] {
  const x = cfg.checkFile ? ['-X'] : [];
  const all: Row[] = [
    fsxRow('naive', ['--adapter', 'naive', ...x]),
    fsxRow('reference', x),
    fsxRow('reference crash=0', ['--weight', 'crash=0', ...x]),
    fsxRow('exec:fs-server.py', ['--adapter', `exec:python3 ${path.join(ROOT, 'examples', 'fs-server.py')}`, ...x], true),
  ];
  const fsxc = process.env.FSX_BINARY;
  if (fsxc) {
    all.push({
      name: 'fsx.c',
      cmd: (ops) => ({ file: fsxc, args: ['-N', String(ops), '-S', '1', '-q', ...(cfg.checkFile ? [] : []), path.join(scratch, 'fsx.file')] }),
    });
  }
  if (cfg.rows.length === 0) return all;
  const chosen = all.filter((r) => cfg.rows.includes(r.name));
  const unknown = cfg.rows.filter((n) => !all.some((r) => r.name === n));
  if (unknown.length) throw new Error(`bench: unknown row ${unknown[0]} (rows: ${all.map((r) => JSON.stringify(r.name)).join(', ')})`);
  return chosen;
}

interface Sample {
  ops: number;
  cpu: number;
  wall: number;
  maxRssKiB: number | null;
  /** The launcher's own peak (bin/iomap-harness.js relaunches fsx in a child: cli/relaunch.ts), or null. */
  launcherRssKiB: number | null;
  failed: string | null;
}

function measure(row: Row, ops: number): Sample {
  const { file, args } = row.cmd(ops);
  const c0 = childCpu();
  const t0 = process.hrtime.bigint();
  const r = spawnSync(file, args, { encoding: 'utf8', maxBuffer: 1 << 28 });
  const wall = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu = childCpu() - c0;
  // One line per process: the fsx process and, when the CLI relaunched itself, its launcher.
  const peaks = [...(r.stderr ?? '').matchAll(/BENCH_MAXRSS_KIB (\d+)/g)].map((m) => Number(m[1])).sort((a, b) => b - a);
  let failed: string | null = null;
  let done = ops;
  if (row.name === 'fsx.c') {
    if (r.status !== 0) failed = `exit ${r.status}: ${(r.stdout ?? '').split('\n').slice(-3).join(' ')}`;
  } else {
    const last = (r.stdout ?? '').trim().split('\n').pop() ?? '';
    try {
      const j = JSON.parse(last) as { ops: number; failures: number };
      done = j.ops;
      if (j.failures > 0 || r.status !== 0) failed = `exit ${r.status}: ${last}`;
    } catch {
      failed = `exit ${r.status}: ${(r.stderr ?? '').trim().split('\n').pop()}`;
    }
  }
  return { ops: done, cpu, wall, maxRssKiB: peaks[0] ?? null, launcherRssKiB: peaks.length > 1 ? peaks[peaks.length - 1] : null, failed };
}

const fmt = (x: number): string => Math.round(x).toLocaleString('en-US');
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

function throughput(cfg: Config): number {
  const scratch = mkdtempSync(path.join(process.env.FSX_SCRATCH ?? '/dev/shm', 'iomap-bench-'));
  try {
    const rs = rows(cfg, scratch);
    console.log(`fsx benchmark: seed 1, default op mix, every per-op check${cfg.checkFile ? ' + -X' : ''}; ${cfg.ops} ops (exec: rows ${cfg.execOps}); median of ${cfg.runs} interleaved runs; Node ${process.version}, ${os.cpus().length} CPUs, load ${os.loadavg()[0].toFixed(1)}`);
    const samples = new Map<string, Sample[]>(rs.map((r) => [r.name, []]));
    for (let k = 0; k < cfg.runs; k++) {
      for (const r of rs) samples.get(r.name)!.push(measure(r, r.execOps ? cfg.execOps : cfg.ops));
    }
    const perCpu = (s: Sample) => (s.cpu > 0 ? s.ops / s.cpu : 0);
    const fsxc = samples.get('fsx.c');
    const fsxcCpuPerOp = fsxc ? median(fsxc.map((s) => s.cpu / s.ops)) : null;
    console.log(`${'row'.padEnd(20)} ${'ops/cpu-s'.padStart(10)} ${'ops/s'.padStart(9)} ${'peak RSS'.padStart(9)}${fsxcCpuPerOp ? '  CPU vs fsx.c' : ''}   runs (ops/cpu-s)`);
    const results: Record<string, unknown>[] = [];
    let failed = false;
    for (const r of rs) {
      const ss = samples.get(r.name)!;
      for (const s of ss) if (s.failed) { failed = true; console.log(`${r.name}: ${s.failed}`); }
      const cpuRate = median(ss.map(perCpu));
      const wallRate = median(ss.map((s) => s.ops / s.wall));
      const rss = ss.every((s) => s.maxRssKiB !== null) ? Math.max(...ss.map((s) => s.maxRssKiB!)) : null;
      const ratio = fsxcCpuPerOp ? median(ss.map((s) => s.cpu / s.ops)) / fsxcCpuPerOp : null;
      console.log(`${r.name.padEnd(20)} ${fmt(cpuRate).padStart(10)} ${fmt(wallRate).padStart(9)} ${(rss === null ? '-' : `${fmt(rss / 1024)} MiB`).padStart(9)}${ratio !== null ? `  ${ratio.toFixed(2).padStart(11)}x` : ''}   ${ss.map((s) => fmt(perCpu(s))).join(', ')}`);
      results.push({ row: r.name, ops: ss[0].ops, opsPerCpuSec: Math.round(cpuRate), opsPerSec: Math.round(wallRate), maxRssKiB: rss, cpuRatioToFsxC: ratio, runs: ss.map((s) => Math.round(perCpu(s))) });
    }
    if (!fsxc) console.log('(set FSX_BINARY=/path/to/fsx, your own build of xfstests ltp/fsx.c, to add fsx.c on tmpfs and the CPU ratio)');
    console.log(JSON.stringify({ command: 'bench', ops: cfg.ops, execOps: cfg.execOps, seed: 1, checkFile: cfg.checkFile, results }));
    return failed ? 1 : 0;
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

/** Peak RSS of the reference adapter, default mix, at several -l. */
function memory(cfg: Config): number {
  const ops = cfg.ops === 100000 && !process.argv.includes('-N') ? 2000 : cfg.ops;
  // 2^50 against 256k: issue 17's cost ratio (CPU per op should not follow the file size).
  const sizes: Array<[string, number]> = [['256k', 256 * 1024], ['256m', 256 * 2 ** 20], ['2^40', 2 ** 40], ['2^50', 2 ** 50], ['2^53-2^16', 2 ** 53 - 2 ** 16]];
  console.log(`memory benchmark: reference, default mix, seed 1, ${ops} ops; peak RSS of the fsx process (Node ${process.version})`);
  const results: Record<string, unknown>[] = [];
  let failed = false;
  for (const [label, l] of sizes) {
    const row = fsxRow(`-l ${label}`, ['-l', String(l)]);
    const s = measure(row, ops);
    if (s.failed) failed = true;
    const launcher = s.launcherRssKiB === null ? '' : `  (launcher ${fmt(s.launcherRssKiB / 1024)} MiB)`;
    console.log(`-l ${label.padEnd(10)} ${(s.maxRssKiB === null ? '-' : `${fmt(s.maxRssKiB / 1024)} MiB`).padStart(9)}  ${fmt(s.ops / s.cpu).padStart(8)} ops/cpu-s${launcher}${s.failed ? `  ${s.failed}` : ''}`);
    results.push({ maxlen: l, ops: s.ops, maxRssKiB: s.maxRssKiB, launcherRssKiB: s.launcherRssKiB, opsPerCpuSec: Math.round(s.ops / s.cpu), failed: s.failed });
  }
  console.log(JSON.stringify({ command: 'bench-memory', ops, seed: 1, results }));
  return failed ? 1 : 0;
}

function main(): number {
  let cfg: Config;
  try {
    cfg = parse(process.argv.slice(2));
    return cfg.memory ? memory(cfg) : throughput(cfg);
  } catch (e) {
    process.stderr.write(`${(e as Error).message}\n`);
    return 2;
  }
}

process.exitCode = main();
