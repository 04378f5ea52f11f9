/**
 * The gain of coverage-guided generation over the bug zoo: for every mutant, plain `iomap-harness
 * fsx` (the fsx command's default options, the setup sweep in rounds of 10,000 ops) on seeds F..F+S-1
 * (at most --ops ops each), unguided (`--no-guide`) and guided: how many seeds caught it, median ops
 * and CPU seconds to the failure, median shrunk size of the failing logs (each shrunk with at most
 * --shrink-replays replays; 0: no shrinking). Prints markdown rows for docs/benchmarks.md and
 * docs/bug-zoo.md. `--no-sweep` runs one setup (the adapter's defaults), as the first measurements did.
 *
 *   node dist/bench/guidance.js [--seeds 3] [--first-seed 1] [--ops 20000] [--shrink-replays 0] [--only a,b] [--guided-only|--unguided-only] [--no-sweep]
 *
 * --guided-only skips the unguided runs (their ops do not depend on the guide's tuning);
 * --unguided-only the guided ones.
 */
import { MUTANTS } from '../adapters/mutants/catalog';
import { loadAdapter } from '../adapters/registry';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { fsxOptionsFrom } from '../cli/fsx-command';
import { runSeed, SeedTask } from '../properties/fsx/workers';
import { adapterOptionsOf, OpLog, parseOpLog } from '../properties/fsx/oplog';
import { shrinkLog } from '../properties/fsx/shrink';

const quiet = { out: () => undefined, err: () => undefined };

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && process.argv[i + 1] ? process.argv[i + 1] : def;
}

function median(xs: number[]): number | null {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.floor((s.length - 1) / 2)] : null;
}

interface Figures { caught: number; ops: number[]; cpu: number[]; shrunk: number[] }

function cpuSeconds(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

function measure(name: string, guide: boolean, first: number, seeds: number, maxOps: number, shrinkReplays: number): Figures {
  const f: Figures = { caught: 0, ops: [], cpu: [], shrunk: [] };
  const spec = `mutant:${name}`;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'guidance-'));
  const task: SeedTask = {
    spec, adapterOptions: {}, options: { ...fsxOptionsFrom({}), numOps: maxOps, quiet: true, guide }, saveDir: dir, shrink: false,
    ...(process.argv.includes('--no-sweep') ? {} : { sweep: {} }),
  };
  try {
    for (let seed = first; seed < first + seeds; seed++) {
      const c0 = cpuSeconds();
      const r = runSeed(task, seed, quiet);
      const cpu = cpuSeconds() - c0;
      const fail = r.summary.failure as { opsToDetect?: number; op: number; log: string } | undefined;
      if (fail === undefined) continue;
      f.caught++;
      f.ops.push(fail.opsToDetect ?? fail.op);
      f.cpu.push(cpu);
      if (shrinkReplays === 0) continue;
      const log: OpLog = parseOpLog(fs.readFileSync(fail.log, 'utf8'), fail.log);
      const s = shrinkLog(log, { makeAdapter: () => loadAdapter(spec, adapterOptionsOf(log)), name: spec, trustExpected: true, maxReplays: shrinkReplays });
      if (s.failed) f.shrunk.push(s.outputOps);
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  return f;
}

function cell(f: Figures, seeds: number): string {
  if (f.caught === 0) return `0/${seeds}`;
  return `${f.caught}/${seeds}: ${median(f.ops)} ops, ${median(f.cpu)!.toFixed(2)} s${f.shrunk.length ? `, shrunk ${median(f.shrunk)}` : ''}`;
}

function main(): void {
  const seeds = Number(arg('seeds', '3'));
  const first = Number(arg('first-seed', '1'));
  const maxOps = Number(arg('ops', '20000'));
  const shrinkReplays = Number(arg('shrink-replays', '0'));
  const only = arg('only', '') === '' ? null : new Set(arg('only', '').split(','));
  const all: Record<'off' | 'on', Figures> = { off: { caught: 0, ops: [], cpu: [], shrunk: [] }, on: { caught: 0, ops: [], cpu: [], shrunk: [] } };
  process.stdout.write(`| mutant | expected catcher | unguided (--no-guide) | guided (default) |\n|---|---|---|---|\n`);
  for (const m of MUTANTS) {
    if (only !== null && !only.has(m.name)) continue;
    const off = process.argv.includes('--guided-only') ? { caught: 0, ops: [], cpu: [], shrunk: [] } : measure(m.name, false, first, seeds, maxOps, shrinkReplays);
    const on = process.argv.includes('--unguided-only') ? { caught: 0, ops: [], cpu: [], shrunk: [] } : measure(m.name, true, first, seeds, maxOps, shrinkReplays);
    for (const [k, f] of [['off', off], ['on', on]] as const) {
      all[k].caught += f.caught;
      all[k].ops.push(...f.ops);
      all[k].cpu.push(...f.cpu);
      all[k].shrunk.push(...f.shrunk);
    }
    process.stdout.write(`| \`${m.name}\` | ${m.catches} | ${cell(off, seeds)} | ${cell(on, seeds)} |\n`);
    // Per seed run (stderr): the ops to each detection, for comparing schedules run by run.
    process.stderr.write(`${JSON.stringify({ mutant: m.name, unguided: off.ops, guided: on.ops })}\n`);
  }
  const total = (f: Figures) => `${f.caught} detections; median ${median(f.ops)} ops, ${median(f.cpu)?.toFixed(2)} CPU s; median shrunk ${median(f.shrunk)} ops; total CPU ${f.cpu.reduce((a, b) => a + b, 0).toFixed(1)} s in caught runs`;
  process.stdout.write(`\nunguided: ${total(all.off)}\nguided: ${total(all.on)}\n`);
}

main();
