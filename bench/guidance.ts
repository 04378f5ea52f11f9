/**
 * The gain of coverage-guided generation over the bug zoo: for every mutant, fsx with default
 * settings on seeds 1..S (at most --ops ops each), unguided (`--no-guide`) and guided: how many
 * seeds caught it, median ops and CPU seconds to the failure, median shrunk size of the failing
 * logs (each shrunk with at most --shrink-replays replays). Prints markdown rows for
 * docs/benchmarks.md and docs/bug-zoo.md.
 *
 *   node dist/bench/guidance.js [--seeds 3] [--ops 15000] [--shrink-replays 400] [--only a,b] [--guided-only]
 *
 * --guided-only skips the unguided runs (their ops do not depend on the guide's tuning).
 */
import { MUTANTS } from '../adapters/mutants/catalog';
import { loadAdapter } from '../adapters/registry';
import { runFsx } from '../properties/fsx/engine';
import { defaultOptions } from '../properties/fsx/generator';
import { adapterOptionsOf } from '../properties/fsx/oplog';
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

function measure(name: string, guide: boolean, seeds: number, maxOps: number, shrinkReplays: number): Figures {
  const f: Figures = { caught: 0, ops: [], cpu: [], shrunk: [] };
  const spec = `mutant:${name}`;
  for (let seed = 1; seed <= seeds; seed++) {
    const c0 = cpuSeconds();
    const r = runFsx(loadAdapter(spec), spec, { ...defaultOptions(), numOps: maxOps, seed, quiet: true, guide }, quiet);
    const cpu = cpuSeconds() - c0;
    if (r.failure === null) continue;
    f.caught++;
    f.ops.push(r.ops);
    f.cpu.push(cpu);
    const log = r.log();
    const s = shrinkLog(log, { makeAdapter: () => loadAdapter(spec, adapterOptionsOf(log)), name: spec, trustExpected: true, maxReplays: shrinkReplays });
    if (s.failed) f.shrunk.push(s.outputOps);
  }
  return f;
}

function cell(f: Figures, seeds: number): string {
  if (f.caught === 0) return `0/${seeds}`;
  return `${f.caught}/${seeds}: ${median(f.ops)} ops, ${median(f.cpu)!.toFixed(2)} s, shrunk ${median(f.shrunk) ?? '-'}`;
}

function main(): void {
  const seeds = Number(arg('seeds', '3'));
  const maxOps = Number(arg('ops', '15000'));
  const shrinkReplays = Number(arg('shrink-replays', '400'));
  const only = arg('only', '') === '' ? null : new Set(arg('only', '').split(','));
  const all: Record<'off' | 'on', Figures> = { off: { caught: 0, ops: [], cpu: [], shrunk: [] }, on: { caught: 0, ops: [], cpu: [], shrunk: [] } };
  process.stdout.write(`| mutant | unguided (--no-guide) | guided (default) |\n|---|---|---|\n`);
  for (const m of MUTANTS) {
    if (only !== null && !only.has(m.name)) continue;
    const off = process.argv.includes('--guided-only') ? { caught: 0, ops: [], cpu: [], shrunk: [] } : measure(m.name, false, seeds, maxOps, shrinkReplays);
    const on = measure(m.name, true, seeds, maxOps, shrinkReplays);
    for (const [k, f] of [['off', off], ['on', on]] as const) {
      all[k].caught += f.caught;
      all[k].ops.push(...f.ops);
      all[k].cpu.push(...f.cpu);
      all[k].shrunk.push(...f.shrunk);
    }
    process.stdout.write(`| \`${m.name}\` | ${cell(off, seeds)} | ${cell(on, seeds)} |\n`);
  }
  const total = (f: Figures) => `${f.caught} detections; median ${median(f.ops)} ops, ${median(f.cpu)?.toFixed(2)} CPU s; median shrunk ${median(f.shrunk)} ops; total CPU ${f.cpu.reduce((a, b) => a + b, 0).toFixed(1)} s in caught runs`;
  process.stdout.write(`\nunguided: ${total(all.off)}\nguided: ${total(all.on)}\n`);
}

main();
