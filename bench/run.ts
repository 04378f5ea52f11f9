/**
 * `npm run bench`: fsx throughput of every registered in-memory adapter — 100,000 ops, seed 1, the
 * default op mix with every per-op check on (read contents, size after each op, EOF page through
 * mmap, dedupe/copy results, SEEK and FIEMAP soundness) — reported as the median of 3 runs.
 *
 *   node dist/bench/run.js [-N OPS] [-X] [ADAPTER...]
 *
 * -X adds fsx's full-file check after every op (cost grows with the file size). Besides wall-clock
 * ops/s it reports ops per CPU-second of this process, which other load on a shared machine distorts
 * much less. The last stdout line is JSON: {"command":"bench","ops":..,"seed":1,"checkFile":..,
 * "results":[{"adapter","opsPerSec","opsPerCpuSec","runs","failures"}]}.
 * Timings are not asserted anywhere; docs/fsx.md records figures with the command that made them.
 */

import { listAdapters, loadAdapter } from '../adapters/registry';
import { runFsx } from '../properties/fsx/engine';
import { defaultOptions } from '../properties/fsx/generator';

const RUNS = 3;

function parse(argv: string[]): { ops: number; checkFile: boolean; adapters: string[] } {
  let ops = 100000;
  let checkFile = false;
  const adapters: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '-X') checkFile = true;
    else if (a === '-N') {
      ops = Number(argv[++i]);
      if (!Number.isSafeInteger(ops) || ops <= 0) throw new Error(`bench: -N needs a positive integer, got ${argv[i]}`);
    } else if (a.startsWith('-')) throw new Error(`bench: unknown option ${a} (use -N OPS, -X, adapter names)`);
    else adapters.push(a);
  }
  return { ops, checkFile, adapters };
}

function main(): number {
  let cfg: ReturnType<typeof parse>;
  try {
    cfg = parse(process.argv.slice(2));
  } catch (e) {
    process.stderr.write(`${(e as Error).message}\n`);
    return 2;
  }
  const names = cfg.adapters.length > 0 ? cfg.adapters : listAdapters().filter((a) => a.inMemory).map((a) => a.name);
  const silent = { out: () => undefined, err: () => undefined };
  console.log(`fsx benchmark: ${cfg.ops} ops, seed 1, default op mix, every per-op check${cfg.checkFile ? ' + -X full-file check' : ''}; median of ${RUNS} runs (Node ${process.version})`);
  console.log(`${'adapter'.padEnd(12)} ${'ops/s'.padStart(9)} ${'ops/cpu-s'.padStart(10)}   runs (ops/s)`);
  const results: Record<string, unknown>[] = [];
  let failed = false;
  for (const name of names) {
    const runs: number[] = [];
    const cpuRuns: number[] = [];
    let failures = 0;
    for (let k = 0; k < RUNS; k++) {
      const cpu0 = process.cpuUsage();
      const r = runFsx(loadAdapter(name), name, { ...defaultOptions(), numOps: cfg.ops, seed: 1, quiet: true, checkFile: cfg.checkFile }, silent);
      if (r.failure !== null) {
        failures++;
        console.log(`${name}: ${r.failure.kind} at op ${r.failure.op} (the figure below covers the ops before it)`);
      }
      const cpu = process.cpuUsage(cpu0);
      runs.push(r.opsPerSec);
      cpuRuns.push(Math.round((r.ops * 1e6) / (cpu.user + cpu.system)));
    }
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(RUNS / 2)];
    const fmt = (x: number) => x.toLocaleString('en-US');
    console.log(`${name.padEnd(12)} ${fmt(median(runs)).padStart(9)} ${fmt(median(cpuRuns)).padStart(10)}   ${runs.map(fmt).join(', ')}`);
    results.push({ adapter: name, opsPerSec: median(runs), opsPerCpuSec: median(cpuRuns), runs, failures });
    if (failures > 0) failed = true;
  }
  console.log(JSON.stringify({ command: 'bench', ops: cfg.ops, seed: 1, checkFile: cfg.checkFile, results }));
  return failed ? 1 : 0;
}

process.exitCode = main();
