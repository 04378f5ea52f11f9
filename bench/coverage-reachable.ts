/**
 * Regenerate the denominator of state coverage (properties/coverage/reachable-data.ts): run fsx
 * on the reference over every geometry class the setup sweep can produce, with the op mix of
 * plain `iomap-harness fsx` (faults, short copies, remounts, bad arguments, EOF pollution), and
 * keep per class the union of the cells reached. Each class gets --ops ops (--main-ops for
 * page-multi, the class plain fsx starts in), in runs of --run-ops that cycle through the class's
 * setups and alternate guided and unguided generation. The seeds (from --first-seed, 1000) are not
 * the ones users start from (1..): the acceptance run (`fsx -N 200000 --coverage`, seed 1) is
 * judged against data it did not contribute to. Deterministic: the same flags give the same file.
 *
 *   node dist/bench/coverage-reachable.js [--main-ops 120000] [--ops 60000] [--run-ops 20000] [--only CLASS,...] [--union]
 *
 * `--only` keeps the other classes' data as it is; `--union` adds to the committed data.
 */
import * as fs from 'fs';
import * as path from 'path';
import { loadAdapter } from '../adapters/registry';
import { runFsx } from '../properties/fsx/engine';
import { fsxOptionsFrom } from '../cli/fsx-command';
import { CoverageRecorder } from '../properties/coverage/recorder';
import { geometryClass } from '../properties/coverage/cells';
import { encodeReached, ReachableClassData } from '../properties/coverage/reachable';
import { REACHABLE_DATA } from '../properties/coverage/reachable-data';

const ROOT = path.join(__dirname, '..', '..');
const quiet = { out: () => undefined, err: () => undefined };

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && process.argv[i + 1] ? process.argv[i + 1] : def;
}

interface Setup { blockSize: number; folioSize: number; eofPrealloc?: number; poison?: number }

/** Every setup the sweep draws (sweep.ts: block 512/1k/4k/16k, folio >= block, prealloc 16k/64k, poison). */
function sweepSetups(): Setup[] {
  const out: Setup[] = [];
  for (const blockSize of [512, 1024, 4096, 16384]) {
    for (const folioSize of [4096, 16384, 65536, 2 << 20]) {
      if (folioSize < blockSize) continue;
      for (const eofPrealloc of [undefined, 16384, 65536]) {
        if (eofPrealloc !== undefined && eofPrealloc < blockSize) continue;
        out.push({ blockSize, folioSize, ...(eofPrealloc !== undefined ? { eofPrealloc } : {}) });
      }
    }
  }
  return out;
}

function classOf(s: Setup): string {
  return geometryClass(s.blockSize, 4096, s.folioSize, s.eofPrealloc !== undefined);
}

function main(): void {
  const mainOps = Number(arg('main-ops', '120000'));
  const ops = Number(arg('ops', '60000'));
  const runOps = Number(arg('run-ops', '20000'));
  const only = arg('only', '') === '' ? null : new Set(arg('only', '').split(','));
  const firstSeed = Number(arg('first-seed', '1000'));
  const union = process.argv.includes('--union');
  const byClass = new Map<string, Setup[]>();
  for (const s of sweepSetups()) {
    const cls = classOf(s);
    if (only !== null && !only.has(cls)) continue;
    byClass.set(cls, [...(byClass.get(cls) ?? []), s]);
  }
  const merged = new Map<string, CoverageRecorder>();
  for (const [cls, setups] of byClass) {
    const total = cls === 'page-multi' ? mainOps : ops;
    for (let k = 0; k * runOps < total; k++) {
      // Setups in turn; every other run poisoned (stale device data under unwritten blocks).
      const s: Setup = { ...setups[k % setups.length], ...(k % 2 === 1 ? { poison: 7 + k } : {}) };
      const seed = firstSeed + k;
      const guide = k % 2 === 0;
      const o = { ...fsxOptionsFrom({}), numOps: Math.min(runOps, total - k * runOps), seed, quiet: true, guide, coverage: true };
      const r = runFsx(loadAdapter('reference', { ...s }), 'reference', o, quiet, { folioSize: s.folioSize });
      if (r.failure !== null) throw new Error(`reference failed (${JSON.stringify(s)}, seed ${seed}): ${r.failure.lines.join(' / ')}`);
      const cov = r.coverage!;
      const m = merged.get(cls);
      if (m === undefined) merged.set(cls, cov);
      else m.merge(cov);
      process.stderr.write(`${cls} ${JSON.stringify(s)} seed ${seed}${guide ? ' guided' : ''}: ${r.ops} ops\n`);
    }
  }
  const classes: Record<string, ReachableClassData> = { ...(REACHABLE_DATA.classes as Record<string, ReachableClassData>) };
  for (const [cls, rec] of merged) {
    const old = classes[cls];
    const now = encodeReached(rec);
    classes[cls] = union && old !== undefined ? unionOf(old, now) : now;
  }
  const sorted = Object.fromEntries(Object.keys(classes).sort().map((k) => [k, classes[k]]));
  const run = `node dist/bench/coverage-reachable.js --main-ops ${mainOps} --ops ${ops} --run-ops ${runOps}${firstSeed !== 1000 ? ` --first-seed ${firstSeed}` : ''}${only ? ` --only ${[...only].join(',')}` : ''}${union ? ' --union' : ''}`;
  const command = union && REACHABLE_DATA.command ? `${REACHABLE_DATA.command}; then ${run}` : run;
  const text = `/** Generated by bench/coverage-reachable.ts (do not edit by hand); see reachable.ts. */\n` +
    `export const REACHABLE_DATA = ${JSON.stringify({ command, classes: sorted }, null, 2).replace(/"([a-zA-Z_]+)":/g, '$1:').replace(/"/g, "'")};\n`;
  fs.writeFileSync(path.join(ROOT, 'properties', 'coverage', 'reachable-data.ts'), text);
  for (const [cls, rec] of merged) {
    let n = 0;
    for (const c of rec.states) if (c > 0) n++;
    process.stdout.write(`${cls}: ${n} state cells in ${rec.ops} ops\n`);
  }
}

/** The cells of either data set (codes are merged op by op, sorted for a stable file). */
function unionOf(a: ReachableClassData, b: ReachableClassData): ReachableClassData {
  const out: ReachableClassData = { states: {}, fileOps: {} };
  for (const key of ['states', 'fileOps'] as const) {
    const sep = key === 'states' ? ' ' : '';
    for (const op of new Set([...Object.keys(a[key]), ...Object.keys(b[key])])) {
      const cells = new Set([...(a[key][op] ?? '').split(sep), ...(b[key][op] ?? '').split(sep)].filter((x) => x !== ''));
      out[key][op] = [...cells].sort().join(sep);
    }
  }
  return out;
}

main();
