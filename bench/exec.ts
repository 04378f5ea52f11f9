/**
 * `node dist/bench/exec.js`: the exec: example servers under fsx — requests per op, ops per
 * CPU-second (the harness and the server together) and wall ops/s — and `check --runs R` on the
 * file-level example, for docs/benchmarks.md ("Out-of-process targets").
 *
 *   node dist/bench/exec.js [-N OPS] [--runs R] [--check-runs R] [--compare DIR]
 *
 * Each measurement is a child process (this script with --child), so its CPU is read from
 * /proc/self/stat's cutime/cstime around it and includes the server's. --compare DIR also measures
 * the build in DIR (another checkout with its dist/ built, and this script copied into its
 * dist/bench/), interleaved run by run with this one: before/after figures taken under the same
 * load. The child counts the requests on the server's transport (ProcessTransport.calls).
 */
import { spawnSync } from 'child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'fs';
import * as os from 'os';
import * as path from 'path';

const HERE_ROOT = path.join(__dirname, '..', '..');

interface Child {
  ops: number;
  requests: number;
  /** CPU seconds of the server process and of the harness process (the rest of `cpu`: start-up, Node's exit). */
  serverCpu?: number;
  harnessCpu?: number;
  failure: string | null;
}

/** In the child: run fsx on one example server and print {ops, requests, failure}. */
function child(server: string, ops: number): void {
  /* eslint-disable @typescript-eslint/no-var-requires */
  const { loadExecAdapter } = require('../adapters/process') as typeof import('../adapters/process');
  const { runFsx } = require('../properties/fsx/engine') as typeof import('../properties/fsx/engine');
  const { defaultOptions } = require('../properties/fsx/generator') as typeof import('../properties/fsx/generator');
  const scratch = mkdtempSync(path.join(os.tmpdir(), 'iomap-bench-exec-'));
  const a = loadExecAdapter(`python3 ${path.join(HERE_ROOT, 'examples', server)}`, { scratch }) as unknown as {
    name: string; transport?: { calls: number }; fsAdapter?: { transport: { calls: number } }; close(): void;
  };
  const t = a.transport ?? a.fsAdapter!.transport;
  const quiet = { out: () => undefined, err: () => undefined };
  const r = runFsx(a as never, a.name, { ...defaultOptions(), seed: 1, numOps: ops, quiet: true }, quiet);
  const requests = t.calls;
  a.close();
  // runFsx closed the adapter: the server has been reaped, so its CPU is in our children's.
  const serverCpu = childCpu();
  const own = process.cpuUsage();
  rmSync(scratch, { recursive: true, force: true });
  process.stdout.write(JSON.stringify({ ops: r.ops, requests, serverCpu, harnessCpu: (own.user + own.system) / 1e6, failure: r.failure === null ? null : r.report.slice(0, 3).join(' | ') }) + '\n');
}

const ticksPerSecond = (() => {
  const r = spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' });
  const n = Number(r.stdout?.trim());
  return Number.isInteger(n) && n > 0 ? n : 100;
})();

function childCpu(): number {
  const stat = readFileSync('/proc/self/stat', 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[13]) + Number(f[14])) / ticksPerSecond;
}

interface Sample extends Child {
  cpu: number;
  wall: number;
}

function timed(file: string, args: string[]): { cpu: number; wall: number; stdout: string; status: number | null; stderr: string } {
  const c0 = childCpu();
  const t0 = process.hrtime.bigint();
  const r = spawnSync(file, args, { encoding: 'utf8', maxBuffer: 1 << 26 });
  return { wall: Number(process.hrtime.bigint() - t0) / 1e9, cpu: childCpu() - c0, stdout: r.stdout ?? '', status: r.status, stderr: r.stderr ?? '' };
}

function measure(root: string, server: string, ops: number): Sample {
  const r = timed(process.execPath, [path.join(root, 'dist', 'bench', 'exec.js'), '--child', server, String(ops)]);
  const last = r.stdout.trim().split('\n').pop() ?? '';
  try {
    return { ...(JSON.parse(last) as Child), cpu: r.cpu, wall: r.wall };
  } catch {
    return { ops: 0, requests: 0, failure: `exit ${r.status}: ${r.stderr.trim().split('\n').pop()}`, cpu: r.cpu, wall: r.wall };
  }
}

function measureCheck(root: string, runs: number): { cpu: number; wall: number; code: number | null } {
  const save = mkdtempSync(path.join(os.tmpdir(), 'iomap-bench-check-'));
  try {
    const r = timed(process.execPath, [path.join(root, 'bin', 'iomap-harness.js'), 'check', '--adapter', `exec:python3 ${path.join(root, 'examples', 'file-server.py')}`, '--runs', String(runs), '--save', save, '-q']);
    return { cpu: r.cpu, wall: r.wall, code: r.status };
  } finally {
    rmSync(save, { recursive: true, force: true });
  }
}

const fmt = (x: number): string => Math.round(x).toLocaleString('en-US');
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

function main(argv: string[]): number {
  if (argv[0] === '--child') {
    child(argv[1], Number(argv[2]));
    return 0;
  }
  let ops = 2000;
  let runs = 3;
  let checkRuns = 0;
  let compare: string | null = null;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '-N') ops = Number(argv[++i]);
    else if (a === '--runs') runs = Number(argv[++i]);
    else if (a === '--check-runs') checkRuns = Number(argv[++i]);
    else if (a === '--compare') compare = path.resolve(argv[++i]);
    else {
      process.stderr.write(`bench/exec: unknown argument ${a} (use -N OPS, --runs R, --check-runs R, --compare DIR)\n`);
      return 2;
    }
  }
  if (compare !== null && !existsSync(path.join(compare, 'dist', 'bench', 'exec.js'))) {
    process.stderr.write(`bench/exec: ${compare}/dist/bench/exec.js is missing (copy dist/bench/exec.js there)\n`);
    return 2;
  }
  const builds: Array<[string, string]> = compare === null ? [['this build', HERE_ROOT]] : [['before', compare], ['after', HERE_ROOT]];
  const servers = ['file-server.py', 'fs-server.py'];
  console.log(`exec: benchmark: fsx seed 1, default mix, ${ops} ops; median of ${runs} interleaved runs; Node ${process.version}, ${os.cpus().length} CPUs, load ${os.loadavg()[0].toFixed(1)}`);
  const samples = new Map<string, Sample[]>();
  for (let k = 0; k < runs; k++) {
    for (const s of servers) {
      for (const [b, root] of builds) {
        const key = `${s} ${b}`;
        if (!samples.has(key)) samples.set(key, []);
        samples.get(key)!.push(measure(root, s, ops));
      }
    }
  }
  let failed = false;
  const results: Record<string, unknown>[] = [];
  for (const [key, ss] of samples) {
    for (const s of ss) if (s.failure) { failed = true; console.log(`${key}: ${s.failure}`); }
    const perCpu = median(ss.map((s) => s.ops / s.cpu));
    const perWall = median(ss.map((s) => s.ops / s.wall));
    const rpo = ss[0].requests / Math.max(1, ss[0].ops);
    const share = (k: 'serverCpu' | 'harnessCpu') => median(ss.map((s) => (s[k] ?? 0) / s.cpu));
    console.log(`${key.padEnd(28)} ${rpo.toFixed(2).padStart(6)} req/op ${fmt(perCpu).padStart(7)} ops/cpu-s ${fmt(perWall).padStart(7)} ops/s  CPU: server ${(100 * share('serverCpu')).toFixed(0)}%, harness ${(100 * share('harnessCpu')).toFixed(0)}%   runs ${ss.map((s) => fmt(s.ops / s.cpu)).join(', ')}`);
    results.push({ row: key, requestsPerOp: Number(rpo.toFixed(3)), opsPerCpuSec: Math.round(perCpu), opsPerSec: Math.round(perWall) });
  }
  if (checkRuns > 0) {
    for (const [b, root] of builds) {
      const c = measureCheck(root, checkRuns);
      console.log(`check --runs ${checkRuns} file-server.py ${b}: ${c.wall.toFixed(1)} s wall, ${c.cpu.toFixed(1)} CPU-s, exit ${c.code}`);
      results.push({ row: `check --runs ${checkRuns} ${b}`, wallSec: Number(c.wall.toFixed(1)), cpuSec: Number(c.cpu.toFixed(1)), exit: c.code });
    }
  }
  console.log(JSON.stringify({ command: 'bench-exec', ops, runs, results }));
  return failed ? 1 : 0;
}

process.exitCode = main(process.argv.slice(2));
