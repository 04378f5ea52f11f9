/**
 * `iomap-harness check [--adapter A] [--suite S]... [--runs N] [--seed S] [--json] [--junit FILE]
 *  [--save DIR] [--no-shrink] [--bs B] [--folio F] [-q]`: run the property suites (docs/suites.md) outside
 * mocha. Prints a result table (suite, runs, failures, skipped + reason, time); with --json the
 * last stdout line is {"command":"check",...,"suites":[{"name","runs","failures",...}]}; with
 * --junit FILE also a JUnit XML report. Deterministic from --seed (default 1). Each failing
 * property prints its fast-check seed and path and saves the shrunk counterexample as an op log
 * under --save DIR (default: a new temporary directory), which `iomap-harness replay` runs; when
 * that log alone reproduces the failure it is also shrunk (delta debugging) into NAME.min.json.
 * Exit codes: 0 every property passed (skips allowed), 1 a failure, 2 usage, 3 the target crashed.
 */

import * as fs from 'fs';
import * as path from 'path';
import type { AdapterOptions } from '../adapters/registry';
import { junitXml, JUnitSuite } from '../properties/suites/junit';
import { CoverageSet } from '../properties/coverage/set';
import { reachableFor, summarize } from '../properties/coverage/reachable';
import { formatCoverage } from '../properties/coverage/table';
import { registryEnv, runSuite, SuiteResult, SUITES, suiteByName } from '../properties/suites/index';
import type { SuiteDef } from '../properties/suites/types';
import { CliIO, EXIT_CRASH, EXIT_FAILURE, EXIT_PASS, Lines, parseNumber, UsageError } from './common';
import { CommandSpec, FlagTable, Parsed } from './command-line';
import { defaultSaveDir, ensureDir, prepareSaveDir } from './output';
import { duration, StatusLine } from './status-line';
import { absoluteAdapterFlag, ADAPTER_FLAGS, defaultAdapter, geometryFlags, openAdapter, SETUP_FLAGS } from './fsx-command';

export const CHECK_FLAGS = {
  ...ADAPTER_FLAGS,
  ...SETUP_FLAGS,
  suite: { type: 'string', multiple: true, value: 'S', default: 'every suite', help: 'run only suite S (repeatable or comma-separated; iomap-harness list suites)' },
  property: { type: 'string', multiple: true, value: 'P', default: 'every property', help: 'run only property P of the selected suites (repeatable or comma-separated)' },
  runs: { type: 'string', value: 'N', default: String(50), help: 'fast-check runs per property' },
  seed: { type: 'string', short: 'S', value: 'S', default: '1', help: 'fast-check seed (the same seed gives the same runs)' },
  save: { type: 'string', value: 'DIR', default: './iomap-harness-failures', help: 'where counterexamples are saved as op logs' },
  'no-shrink': { type: 'boolean', help: 'do not delta-debug saved counterexamples into NAME.min.json' },
  junit: { type: 'string', value: 'FILE', help: 'also write a JUnit XML report to FILE' },
  quiet: { type: 'boolean', short: 'q', help: 'no status line and no result table (failures, --json and the exit code only)' },
  json: { type: 'boolean', help: 'the last stdout line is a JSON summary' },
  'no-sweep': { type: 'boolean', help: 'no setup sweep: every property run on the adapter\'s own setup (plus what --bs/--folio/--poison/--eof-prealloc/--inline pin)' },
  coverage: { type: 'boolean', help: 'record state coverage per geometry class: print the tables and save check-*.coverage.json in the save directory' },
} as const satisfies FlagTable;

export const DEFAULT_RUNS = 50;

/** The JUnit file must be writable before anything runs. */
function prepareJunit(file: string): string {
  const abs = path.resolve(file);
  const dir = path.dirname(abs);
  if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) throw new UsageError(`--junit ${file}: directory ${dir} does not exist`);
  if (fs.existsSync(abs) && fs.statSync(abs).isDirectory()) throw new UsageError(`--junit ${file}: is a directory`);
  try {
    fs.accessSync(dir, fs.constants.W_OK);
  } catch {
    throw new UsageError(`--junit ${file}: cannot write to ${dir}`);
  }
  return abs;
}

function fmtMs(ms: number): string {
  return ms < 1000 ? `${Math.round(ms)}ms` : `${(ms / 1000).toFixed(2)}s`;
}

/** check --coverage: per geometry class, the table and check-ADAPTER-CLASS.coverage.json; returns the figures. */
function saveCheckCoverage(set: CoverageSet, dir: string, lines: Lines): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  for (const [cls, rec] of [...set.byClass].sort(([a], [b]) => a.localeCompare(b))) {
    const reach = reachableFor(cls);
    const s = summarize(rec, reach);
    const file = path.join(dir, `check-${rec.adapter.replace(/[^A-Za-z0-9_.-]+/g, '_')}-${cls.replace('+', '_')}.coverage.json`);
    fs.writeFileSync(file, JSON.stringify(rec.toJSON(s), null, 1) + '\n');
    for (const l of formatCoverage(rec, reach, s)) lines.out(l);
    lines.out(`Coverage map saved to "${file}"`);
    out.push({ geometryClass: cls, json: file, ...(s === undefined ? {} : { reached: s.reached, reachable: s.reachable, percent: s.percent }) });
  }
  return out;
}

/** JUnit suites from check results. */
export function checkJunit(results: readonly SuiteResult[], adapter: string, seed: number): JUnitSuite[] {
  return results.map((r) => {
    const cases = r.properties.map((p) => ({
      classname: `${adapter}.${r.name}`,
      name: `${p.name} (${p.section})`,
      time: p.elapsedMs / 1000,
      ...(p.skipped !== undefined ? { skipped: p.skipped } : {}),
      ...(p.failed && p.failure !== undefined ? {
        failure: {
          message: `${p.failure.kind}${p.failure.rule ? ` ${p.failure.rule}` : ''} at op ${p.failure.op}`,
          type: p.failure.kind,
          text: [...p.failure.lines, `fast-check seed ${p.seed}, path "${p.path}"`, ...(p.log ? [`op log: ${p.log}`] : []),
            ...(p.notes ?? []).map((n) => `outside the op log: ${n}`)].join('\n'),
        },
      } : {}),
    }));
    if (r.skipped !== undefined && cases.length === 0) cases.push({ classname: `${adapter}.${r.name}`, name: r.name, time: 0, skipped: r.skipped });
    return { name: r.name, time: r.elapsedMs / 1000, cases, properties: { area: r.area, sections: r.sections, adapter, seed: String(seed) } };
  });
}

/** One row of the result table. */
function suiteRow(r: SuiteResult, width: number): string {
  const status = r.skipped !== undefined ? `skipped: ${r.skipped}`
    : r.failures > 0 ? `FAILED (${r.properties.filter((p) => p.failed).map((p) => p.name).join(', ')})`
      : 'ok' + (r.properties.some((p) => p.skipped) ? ` (skipped: ${r.properties.filter((p) => p.skipped).map((p) => `${p.name}: ${p.skipped}`).join('; ')})` : '');
  return `${r.name.padEnd(width)}  ${String(r.runs).padStart(6)}  ${String(r.failures).padStart(8)}  ${fmtMs(r.elapsedMs).padStart(8)}  ${status}`;
}

export function checkCommand(p: Parsed, io: CliIO): number {
  const v = p.values;
  const json = v.json === true;
  const quiet = v.quiet === true;
  absoluteAdapterFlag(v);
  const spec = (v.adapter as string | undefined) ?? defaultAdapter();
  const runs = v.runs === undefined ? DEFAULT_RUNS : parseNumber('--runs', v.runs as string, 1, 1_000_000);
  const seed = v.seed === undefined ? 1 : parseNumber('--seed', v.seed as string, 0, 0x7fffffff);
  const geo: AdapterOptions = geometryFlags(v);
  const names = (v.suite as string[] | undefined) ?? [];
  const suites: SuiteDef[] = [];
  for (const n of names.flatMap((x) => x.split(',')).filter((x) => x !== '')) {
    const s = suiteByName(n);
    if (s === undefined) throw new UsageError(`check: unknown suite ${JSON.stringify(n)} (known: ${SUITES.map((x) => x.name).join(', ')}; see iomap-harness list suites)`);
    if (!suites.includes(s)) suites.push(s);
  }
  if (suites.length === 0) suites.push(...SUITES);
  const only = v.property === undefined ? undefined : (v.property as string[]).flatMap((x) => x.split(',')).filter((x) => x !== '');
  if (only !== undefined) {
    const known = new Set(suites.flatMap((s) => s.properties.map((p) => p.name)));
    for (const p of only) if (!known.has(p)) throw new UsageError(`check: unknown property ${JSON.stringify(p)} in the selected suites (known: ${[...known].join(', ')})`);
  }
  const junit = v.junit === undefined ? undefined : prepareJunit(v.junit as string);
  const saveDir = v.save === undefined ? defaultSaveDir() : prepareSaveDir('--save', v.save as string);
  // Adapter problems are usage errors (exit 2) before anything runs; open() failures exit 3.
  openAdapter(spec, geo).close();

  const lines = new Lines(io);
  const status = new StatusLine(io, io.isTTY && !json && !quiet);
  lines.status = status;
  // exec: servers that take up "reset" serve the whole check (one per geometry), ended at the end.
  const env = registryEnv(spec, geo, true);
  if (v.coverage === true) env.coverage = new CoverageSet(spec);
  const results: SuiteResult[] = [];
  const t0 = performance.now();
  const width = Math.max(5, ...suites.map((s) => s.name.length));
  if (!quiet) lines.out(`${'suite'.padEnd(width)}  ${'runs'.padStart(6)}  ${'failures'.padStart(8)}  ${'time'.padStart(8)}  result`);
  lines.flush();
  let failing = 0;
  try {
    for (const [si, s] of suites.entries()) {
      const r = runSuite(s, env, {
        runs, seed, only, shrinkLogs: v['no-shrink'] !== true, sweep: v['no-sweep'] !== true,
        saveDir: () => ensureDir(saveDir),
        log: (l) => lines.out(l),
        onProperty: (name, i, n) => status.update(
          `check: suite ${si + 1}/${suites.length} ${s.name}, property ${i + 1}/${n} ${name}, ${duration(performance.now() - t0)}, ${failing} failing`, true),
      });
      results.push(r);
      failing += r.failures;
      // Each suite's row as soon as it is done: a long check shows its progress in its output too.
      if (!quiet) lines.out(suiteRow(r, width));
      if (!quiet && !json) lines.flush();
    }
  } finally {
    env.close?.();
  }
  status.clear();
  lines.status = null;
  const elapsed = performance.now() - t0;

  const failures = results.reduce((n, r) => n + r.failures, 0);
  if (!quiet) {
    const skipped = results.filter((r) => r.skipped !== undefined).length;
    const servers = env.servers?.() ?? null;
    const reuse = servers === null ? '' : `; ${servers.started} server processes, reused ${servers.reused} times`;
    lines.out(`${results.length} suites on ${spec} (seed ${seed}, ${runs} runs per property): ${failures === 0 ? 'all passed' : `${failures} failing properties`}${skipped ? `, ${skipped} skipped` : ''} in ${fmtMs(elapsed)}${reuse}`);
  }
  if (failures > 0) lines.out(`Counterexamples are saved in ${saveDir}`);
  const coverage = env.coverage === undefined ? undefined : saveCheckCoverage(env.coverage, ensureDir(saveDir), lines);
  if (junit !== undefined) fs.writeFileSync(junit, junitXml(`iomap-harness check --adapter ${spec}`, checkJunit(results, spec, seed)));

  const crashed = results.some((r) => r.properties.some((p) => p.failure?.kind === 'crash' || p.failure?.kind === 'hang'));
  if (json) {
    const servers = env.servers?.() ?? null;
    const summary: Record<string, unknown> = {
      command: 'check', adapter: spec, seed, runs, failures, elapsedMs: Math.round(elapsed),
      // exec: servers started and reused (feature "reset"), when the target is one.
      ...(servers !== null ? { servers } : {}),
      suites: results.map((r) => {
        const o: Record<string, unknown> = { name: r.name, runs: r.runs, failures: r.failures, elapsedMs: Math.round(r.elapsedMs) };
        if (r.skipped !== undefined) {
          o.skipped = true;
          o.reason = r.skipped;
        }
        o.properties = r.properties.map((p) => {
          const q: Record<string, unknown> = { name: p.name, section: p.section, runs: p.runs, failures: p.failed ? 1 : 0 };
          if (p.skipped !== undefined) {
            q.skipped = true;
            q.reason = p.skipped;
          }
          if (p.failed && p.failure !== undefined) {
            q.failure = {
              kind: p.failure.kind, rule: p.failure.rule, op: p.failure.op, offset: p.failure.offset, seed: p.seed, path: p.path, log: p.log,
              replay: p.replay, minLog: p.minLog, minOps: p.minOps, ...(p.setup !== undefined ? { setup: p.setup } : {}),
            };
          }
          return q;
        });
        return o;
      }),
    };
    if (coverage !== undefined) summary.coverage = coverage;
    const first = results.flatMap((r) => r.properties.filter((p) => p.failed).map((p) => ({ r, p })))[0];
    if (first !== undefined) {
      const f = first.p.failure!;
      const o: Record<string, unknown> = { suite: first.r.name, property: first.p.name, kind: f.kind };
      if (f.rule !== undefined) o.rule = f.rule;
      if (f.offset !== undefined) o.offset = f.offset;
      o.op = f.op;
      if (first.p.log !== undefined) o.log = first.p.log;
      if (first.p.minLog !== undefined) o.minLog = first.p.minLog;
      o.seed = first.p.seed;
      o.path = first.p.path;
      summary.failure = o;
    }
    if (junit !== undefined) summary.junit = junit;
    lines.out(JSON.stringify(summary));
  }
  lines.flush();
  return crashed ? EXIT_CRASH : failures > 0 ? EXIT_FAILURE : EXIT_PASS;
}

export const CHECK_COMMAND: CommandSpec = {
  name: 'check',
  summary: 'run the property suites (fast-check) against an adapter: one verdict per suite and property',
  details: 'Suites and their properties: iomap-harness list suites, docs/suites.md. A failing property prints its '
    + 'fast-check seed and saves its shrunk counterexample as an op log that replay runs.',
  flags: CHECK_FLAGS,
  examples: [
    'check                                      # every suite on the reference filesystem',
    'check --adapter ./my-adapter.js --suite seek --runs 200',
    'check --adapter mutant:seek-ignores-pagecache --suite seek --json',
    'check --junit results.xml',
  ],
  run: checkCommand,
};
