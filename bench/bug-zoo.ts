/**
 * The bug zoo report (issue #8): for every mutant, does fsx with default settings catch it, in
 * how many ops and how many seconds (median over the seeds); does `check` catch it and with which
 * suite; how long is the shrunk case. Writes docs/bug-zoo.md (generated, not by hand) and the
 * minimized case of each caught mutant to corpus/bug-zoo/NAME.json (verified to fail on the
 * mutant and pass on reference): fsx's failing log, or for a mutant only `check` catches, the
 * first suite counterexample that replays alone (the catalog's expected suite first; op log v3
 * carries the suites' short writes, capped reservations and SHARED checks), shrunk at the log's
 * geometry. Crash and fault mutants are measured by their own harness; their cases live in
 * corpus/crash and corpus/fault and are read from there. `--only a,b` restricts the run to those
 * mutants (their cases are written; docs/bug-zoo.md is not).
 *
 *   node dist/bench/bug-zoo.js [--seeds 5] [--ops 200000] [--runs 20] [--only a,b] [--no-write]
 */
import * as fs from 'fs';
import * as path from 'path';
import { MUTANTS, MutantSpec } from '../adapters/mutants/catalog';
import { loadAdapter } from '../adapters/registry';
import { runSeed, SeedTask } from '../properties/fsx/workers';
import { replayLog } from '../properties/fsx/engine';
import { defaultOptions } from '../properties/fsx/generator';
import { adapterOptionsOf, OpLog, parseOpLog, serializeOpLog } from '../properties/fsx/oplog';
import { SUITES, registryEnv, runSuite } from '../properties/suites';
import { shrinkLog } from '../properties/fsx/shrink';

const ROOT = path.join(__dirname, '..', '..');
const quiet = { out: () => undefined, err: () => undefined };

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && process.argv[i + 1] ? process.argv[i + 1] : def;
}

/**
 * The section of docs/bug-zoo.md between the guidance markers, kept as it is: its figures come
 * from bench/guidance.ts (guided against unguided fsx), which this script does not run.
 */
function guidanceSection(): string {
  const file = path.join(ROOT, 'docs', 'bug-zoo.md');
  const old = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '';
  const a = old.indexOf('<!-- guidance -->');
  const b = old.indexOf('<!-- /guidance -->');
  return a >= 0 && b > a ? `\n${old.slice(a, b + '<!-- /guidance -->'.length)}\n` : '';
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.floor((s.length - 1) / 2)] : NaN;
}

interface FsxFigures { caught: number; seeds: number; opsMedian: number | null; secondsMedian: number | null; firstLog: OpLog | null; kind: string | null }

/** Plain `iomap-harness fsx` on the mutant (the setup sweep, EOF pollution and short copies on), seeds 1..seeds. */
function fsxFigures(m: MutantSpec, seeds: number, maxOps: number): FsxFigures {
  const ops: number[] = [];
  const secs: number[] = [];
  let firstLog: OpLog | null = null;
  let kind: string | null = null;
  const dir = fs.mkdtempSync(path.join(require('os').tmpdir(), 'bug-zoo-fsx-'));
  try {
    const task: SeedTask = {
      spec: `mutant:${m.name}`, adapterOptions: {}, options: { ...defaultOptions(), numOps: maxOps, quiet: true, polluteEof: 'auto', shortCopies: true },
      saveDir: dir, shrink: false, sweep: {},
    };
    for (let seed = 1; seed <= seeds; seed++) {
      const t0 = performance.now();
      const r = runSeed(task, seed, quiet);
      const t = (performance.now() - t0) / 1000;
      const f = r.summary.failure as { opsToDetect?: number; op: number; kind: string; rule?: string; log: string } | undefined;
      if (f !== undefined) {
        ops.push(f.opsToDetect ?? f.op);
        secs.push(t);
        if (!firstLog) { firstLog = parseOpLog(fs.readFileSync(f.log, 'utf8'), f.log); kind = `${f.kind}${f.rule ? ` ${f.rule}` : ''}`; }
      }
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  return { caught: ops.length, seeds, opsMedian: ops.length ? median(ops) : null, secondsMedian: secs.length ? median(secs) : null, firstLog, kind };
}

/** The counterexample op log of the first suite that catches `m` (for mutants fsx misses). */
function suiteCounterexample(m: MutantSpec, suiteName: string, runs: number): OpLog | null {
  const suite = SUITES.find((x) => x.name === suiteName);
  if (!suite) return null;
  const dir = fs.mkdtempSync(path.join(require('os').tmpdir(), 'bug-zoo-'));
  try {
    const r = runSuite(suite, registryEnv(`mutant:${m.name}`), { runs, seed: 1, saveDir: dir, verifyReplay: true, sweep: true });
    for (const p of r.properties) {
      if (!p.failed || !p.log || !p.replay?.same) continue;
      return parseOpLog(fs.readFileSync(p.log, 'utf8'), p.log);
    }
    return null;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * The first suite counterexample that replays alone, trying the mutant's expected catcher first
 * (`check:SUITE` in the catalog), then the other suites that caught it.
 */
function firstReplayingCounterexample(m: MutantSpec, suites: string[], runs: number): OpLog | null {
  const expected = m.catches.startsWith('check:') ? m.catches.slice(6) : '';
  const order = suites.includes(expected) ? [expected, ...suites.filter((x) => x !== expected)] : suites;
  for (const name of order) {
    const log = suiteCounterexample(m, name, runs);
    if (log !== null) return log;
  }
  return null;
}

function checkFigures(m: MutantSpec, runs: number): { suites: string[]; seconds: number } {
  const t0 = performance.now();
  const caughtBy: string[] = [];
  for (const suite of SUITES) {
    const r = runSuite(suite, registryEnv(`mutant:${m.name}`), { runs, seed: 1, saveDir: null, verifyReplay: false });
    if (r.failures > 0) caughtBy.push(suite.name);
  }
  return { suites: caughtBy, seconds: (performance.now() - t0) / 1000 };
}

type Shrinker = (adapter: () => ReturnType<typeof loadAdapter>, name: string, log: OpLog) => OpLog;

function loadShrinker(): Shrinker {
  return (adapter, name, log) => shrinkLog(log, { makeAdapter: adapter, name, trustExpected: true, maxReplays: 4000 }).log;
}

/** The adapter `spec` with the log's geometry and setup (suite cases use sub-folio blocks; a mutant's poison and prealloc). */
function adapterFor(spec: string, log: OpLog): ReturnType<typeof loadAdapter> {
  return loadAdapter(spec, adapterOptionsOf(log));
}

function outcome(spec: string, log: OpLog): string {
  const r = replayLog(adapterFor(spec, log), spec, log, { quiet: true, debug: false, logDumpOps: 0 }, quiet);
  return r.failure ? `${r.failure.kind}${r.failure.rule ? ` ${r.failure.rule}` : ''}` : 'pass';
}

interface CaseFile { name: string; caughtBy: string; shrunk: number | null }

function crashCases(): Map<string, CaseFile> {
  const out = new Map<string, CaseFile>();
  for (const dir of ['crash', 'fault']) {
    const d = path.join(ROOT, 'corpus', dir);
    if (!fs.existsSync(d)) continue;
    for (const f of fs.readdirSync(d).filter((x) => x.endsWith('.json'))) {
      try {
        const c = JSON.parse(fs.readFileSync(path.join(d, f), 'utf8')) as { workload?: { ops?: unknown[] }; expected?: { failsOn?: Array<{ adapter: string }> } };
        for (const fo of c.expected?.failsOn ?? []) {
          const name = fo.adapter.replace(/^mutant:/, '');
          if (!out.has(name)) out.set(name, { name, caughtBy: `${dir} harness (corpus/${dir}/${f})`, shrunk: c.workload?.ops?.length ?? null });
        }
      } catch { /* not a case file */ }
    }
  }
  return out;
}

function main(): void {
  const seeds = Number(arg('seeds', '5'));
  const maxOps = Number(arg('ops', '200000'));
  const runs = Number(arg('runs', '20'));
  const only = arg('only', '').split(',').filter(Boolean);
  const write = !process.argv.includes('--no-write');
  const shrink = loadShrinker();
  const crash = crashCases();
  const rows: string[] = [];
  const json: Record<string, unknown>[] = [];
  for (const m of MUTANTS) {
    if (only.length && !only.includes(m.name)) continue;
    const f = fsxFigures(m, seeds, maxOps);
    const c = checkFigures(m, runs);
    let shrunk: number | null = null;
    let corpusNote = '';
    // fsx's failing log, else the op log of the first suite that catches it (replayable alone).
    const found = f.firstLog ?? firstReplayingCounterexample(m, c.suites, runs);
    if (found) {
      let log = found;
      try { log = shrink(() => adapterFor(`mutant:${m.name}`, found), `mutant:${m.name}`, found); } catch { log = found; }
      // The folio size the mutant needs, so that `reference` replays the case on the same geometry.
      if (log.geometry.folioSize === undefined && m.geometry?.folioSize !== undefined) log.geometry.folioSize = m.geometry.folioSize;
      shrunk = log.ops.length;
      const onMutant = outcome(`mutant:${m.name}`, log);
      const onRef = outcome('reference', log);
      if (onMutant !== 'pass' && onRef === 'pass' && write) {
        log.description = `bug zoo: mutant:${m.name} (${m.section}) — ${m.description}; fails on the mutant with ${onMutant}, passes on reference`;
        log.adapter = `mutant:${m.name}`;
        fs.writeFileSync(path.join(ROOT, 'corpus', 'bug-zoo', `${m.name}.json`), serializeOpLog(log));
        corpusNote = `corpus/bug-zoo/${m.name}.json`;
      } else if (onRef !== 'pass') {
        corpusNote = `not saved: fails on reference too (${onRef})`;
      }
    }
    const cc = crash.get(m.name);
    const fsxCell = f.caught ? `yes, ${f.caught}/${f.seeds} seeds: median ${f.opsMedian} ops, ${f.secondsMedian!.toFixed(2)} s (${f.kind})` : `not caught in ${maxOps} ops × ${seeds} seeds`;
    const checkCell = c.suites.length ? `yes: ${c.suites.join(', ')}` : 'no';
    const shrunkCell = shrunk !== null ? `${shrunk} ops${corpusNote ? ` — ${corpusNote}` : ''}` : cc ? `${cc.shrunk} ops — ${cc.caughtBy}` : '—';
    rows.push(`| \`${m.name}\` | ${m.section} | ${m.description} | ${m.catches} | ${fsxCell} | ${checkCell} | ${cc ? cc.caughtBy : ''} | ${shrunkCell} |`);
    json.push({ name: m.name, fsx: f.caught, fsxOps: f.opsMedian, fsxSeconds: f.secondsMedian, check: c.suites, crash: cc?.caughtBy ?? null, shrunk: shrunk ?? cc?.shrunk ?? null });
    process.stdout.write(`${m.name}: fsx ${f.caught}/${seeds} check ${c.suites.join(',') || '-'} shrunk ${shrunk ?? cc?.shrunk ?? '-'}\n`);
  }
  const doc = `# The bug zoo

Generated by \`node dist/bench/bug-zoo.js --seeds ${seeds} --ops ${maxOps} --runs ${runs}\` on ${new Date().toISOString().slice(0, 10)} (do not edit by hand).

Each mutant is one historical iomap bug (the iomap contract's list of known bugs) or a rule violation
real filesystems shipped, switched on in refs or in the reference core (\`--adapter mutant:NAME\`;
\`iomap-harness list mutants --json\`). Columns: whether \`iomap-harness fsx\` with default settings
catches it (seeds 1..${seeds}, at most ${maxOps} ops each; median ops and seconds to the failure over the
seeds that caught it), which \`check\` suites catch it (${runs} runs per property), whether the crash or
fault harness catches it (its case file), and the length of the shrunk case kept in \`corpus/\`
(every case there fails on its mutant and passes on \`reference\`, and \`npm test\` replays it).
A mutant nobody catches stays in the table as not caught.
The default settings include the setup sweep (docs/fsx.md): a mutant that needs a setup to show
(\`read-eof-off-by-one\`: sub-page blocks, a poisoned device and post-EOF preallocation;
\`dio-zero-one-page\`: blocks larger than a page) is found in the round that draws it, and its
case records the setup, so \`reference\` replays it with the same device and blocks
(docs/adapters.md, "The reference adapter's setup"). Ops to detect count from the start of the run.

| mutant | section | bug | expected catcher | fsx (default settings) | check | crash / fault | shrunk case |
|---|---|---|---|---|---|---|---|
${rows.join('\n')}
${guidanceSection()}`;
  if (write && !only.length) fs.writeFileSync(path.join(ROOT, 'docs', 'bug-zoo.md'), doc);
  process.stdout.write(JSON.stringify({ command: 'bug-zoo', mutants: json }) + '\n');
}

main();
