/**
 * `node dist/bench/workers.js`: fsx -j scaling, as ops per CPU-second, per worker and in total
 * (docs/benchmarks.md, "fsx -j"). For each worker count J it runs J × K seeds of -N ops on J
 * worker threads (runSeedsInWorkers, what `fsx -j J` does; reference adapter, default mix, no
 * setup sweep) and reports:
 *
 *   - total: ops per CPU-second of the whole process (every thread: the workers, V8's helper
 *     threads doing parallel and concurrent garbage collection and compilation, the main thread);
 *   - per worker: ops per CPU-second of each worker's own thread (/proc/thread-self/stat);
 *   - the CPU share of everything but the workers' own threads (mostly V8's GC helpers);
 *   - wall ops/s (meaningful on an idle machine only), and the share of a core each worker's
 *     thread had over the wall time (what the wall figure scales with).
 *
 *   node dist/bench/workers.js [-N OPS] [--seeds-per-worker K] [-j J]...
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { defaultOptions } from '../properties/fsx/generator';
import { runSeedsInWorkers, SeedTask } from '../properties/fsx/workers';

async function main(argv: string[]): Promise<number> {
  let ops = 20000;
  let perWorker = 2;
  const js: number[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '-N') ops = Number(argv[++i]);
    else if (a === '--seeds-per-worker') perWorker = Number(argv[++i]);
    else if (a === '-j') js.push(Number(argv[++i]));
    else {
      process.stderr.write(`bench/workers: unknown argument ${a} (use -N OPS, --seeds-per-worker K, -j J)\n`);
      return 2;
    }
  }
  if (js.length === 0) js.push(1, 2);
  const save = fs.mkdtempSync(path.join(os.tmpdir(), 'iomap-bench-workers-'));
  const task: SeedTask = { spec: 'reference', adapterOptions: {}, options: { ...defaultOptions(), numOps: ops, quiet: true }, saveDir: save, shrink: false };
  console.log(`fsx -j benchmark: reference, default mix, ${ops} ops per seed, ${perWorker} seeds per worker; Node ${process.version}, ${os.cpus().length} CPUs, load ${os.loadavg()[0].toFixed(1)}`);
  const results: Record<string, unknown>[] = [];
  try {
    for (const j of js) {
      const seeds = Array.from({ length: j * perWorker }, (_, i) => i + 1);
      const c0 = process.cpuUsage();
      const t0 = performance.now();
      const out = await runSeedsInWorkers(task, seeds, j);
      const wall = (performance.now() - t0) / 1000;
      const c = process.cpuUsage(c0);
      const cpu = (c.user + c.system) / 1e6;
      const total = out.reduce((n, o) => n + o.summary.ops, 0);
      const threadCpu = out.reduce((n, o) => n + Math.max(0, o.threadCpuMs ?? 0), 0) / 1000;
      const failures = out.reduce((n, o) => n + o.summary.failures, 0);
      const row = {
        workers: j, seeds: seeds.length, ops: total, failures, wallSec: Number(wall.toFixed(1)), cpuSec: Number(cpu.toFixed(1)),
        opsPerCpuSec: Math.round(total / cpu), opsPerWorkerThreadCpuSec: Math.round(total / threadCpu),
        otherThreadsCpuShare: Number((1 - threadCpu / cpu).toFixed(3)), opsPerSec: Math.round(total / wall),
        // How much of a core each worker's thread had over the wall time: below 1 when the
        // machine's other load (or too few cores) took the rest; the wall ops/s scale with it.
        coreShareOfWorker: Number((threadCpu / wall / j).toFixed(2)),
      };
      console.log(`-j ${j}: ${total} ops, ${row.opsPerCpuSec} ops per CPU-second in total, ${row.opsPerWorkerThreadCpuSec} per CPU-second of a worker's own thread, `
        + `${(100 * row.otherThreadsCpuShare).toFixed(0)} % of the CPU outside the workers' threads; ${row.opsPerSec} ops/s wall, `
        + `each worker had ${row.coreShareOfWorker} of a core${failures ? `; ${failures} FAILURES` : ''}`);
      results.push(row);
    }
  } finally {
    fs.rmSync(save, { recursive: true, force: true });
  }
  console.log(JSON.stringify({ command: 'bench-workers', ops, seedsPerWorker: perWorker, results }));
  return 0;
}

main(process.argv.slice(2)).then((c) => { process.exitCode = c; }, (e) => { process.stderr.write(`${String(e)}\n`); process.exitCode = 3; });
