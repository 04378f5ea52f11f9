/**
 * `iomap-harness replay PATH... [--adapter A] [--json]`: apply saved op logs (JSON or .fsxops;
 * a folder means every log and case under it).
 * Every file is read and validated before anything runs (a bad one: one line, exit 2). Each log
 * runs on a fresh adapter: --adapter, else the adapter recorded in the log, else the default; the
 * geometry is the log's (--bs/--folio override it). Exit 1 when any log fails its checks, 3 when a
 * target crashed; each case reports whether the outcome matched the log's `expected`. Crash and
 * fault case files (corpus/crash, corpus/fault) replay the same way (cli/case-files.ts).
 */

import * as fs from 'fs';
import type { AdapterOptions } from '../adapters/registry';
import { replayLog, RunResult } from '../properties/fsx/engine';
import { adapterOptionsOf, OpLog, OpLogError, parseOpLog } from '../properties/fsx/oplog';
import { CliIO, EXIT_CRASH, EXIT_FAILURE, EXIT_PASS, Lines, parseNumber, UsageError } from './common';
import { CommandSpec, FlagTable, Parsed } from './command-line';
import { absoluteAdapterFlag, ADAPTER_FLAGS, defaultAdapter, geometryFlags, openAdapter, SETUP_FLAGS } from './fsx-command';
import { caseAdapter, isCaseFile, readCase, replayCaseFile } from './case-files';
import { corpusFiles } from './list-command';
import { isFamilyFile } from '../properties/signatures';
import type { SavedCase } from '../properties/oracle/fault-cases';

const REPLAY_FLAGS = {
  ...ADAPTER_FLAGS,
  adapter: { ...ADAPTER_FLAGS.adapter, default: "the log's, else reference" },
  bs: { ...ADAPTER_FLAGS.bs, default: "the log's" },
  folio: { ...ADAPTER_FLAGS.folio, default: "the log's" },
  ...SETUP_FLAGS,
  seed: { type: 'string', short: 'S', value: 'S', default: "the log's", help: 'data-pattern seed for a .fsxops log (JSON logs record theirs)' },
  maxlen: { type: 'string', short: 'l', value: 'N', default: "the log's", help: 'largest file size for a .fsxops log' },
  debug: { type: 'boolean', short: 'd', help: 'print every operation' },
  'as-recorded': {
    type: 'boolean',
    help: 'exit 0 when every case ends as its log records (a regression corpus, where some cases record failures), 1 when any does not; without it the exit code says whether a failure was found',
  },
  quiet: { type: 'boolean', short: 'q', help: 'only the verdict lines' },
  json: { type: 'boolean', help: 'the last stdout line is a JSON summary' },
} as const satisfies FlagTable;

/** Read and validate an op log (JSON or .fsxops); any problem is one UsageError line. */
export function readLog(file: string, seed: number | undefined, maxlen: number | undefined, command = 'replay'): OpLog {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    const code = (e as { code?: string }).code;
    throw new UsageError(`${command}: ${file}: ${code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory' : `cannot read it (${code ?? String(e)})`}`);
  }
  try {
    return parseOpLog(text, file, { seed, options: maxlen === undefined ? undefined : { maxlen } });
  } catch (e) {
    if (e instanceof OpLogError) throw new UsageError(`${command}: ${e.message}`);
    throw e;
  }
}

/** Adapter options for replaying `log`: its geometry and setup, --bs/--folio/--poison/--eof-prealloc overriding them. */
export function logAdapterOptions(log: OpLog, geo: AdapterOptions, spec?: string): AdapterOptions {
  const o: AdapterOptions = { ...adapterOptionsOf(log), ...geo };
  // A diff log's personality is the reference side's: replayed on the host side alone, it has no
  // meaning there (an explicit --personality still goes through and is refused as usual).
  if (spec !== undefined && geo.personality === undefined && !/^(reference|mutant:|diff:)/.test(spec)) delete o.personality;
  return o;
}

/** A folder to replay whole (every op log and case under it). */
function isDirectory(p: string): boolean {
  try {
    return fs.statSync(p).isDirectory();
  } catch {
    return false;
  }
}

function outcomeOf(r: RunResult): string {
  return r.failure === null ? 'pass' : r.failure.kind;
}

export function replayCommand(p: Parsed, io: CliIO): number {
  const { values: v, positionals } = p;
  absoluteAdapterFlag(v);
  if (positionals.length === 0) throw new UsageError('replay: give at least one op log (PATH...)');
  const json = v.json === true;
  const quiet = v.quiet === true;
  const seed = v.seed === undefined ? undefined : parseNumber('-S', v.seed as string, 0, 0xffffffff);
  const maxlen = v.maxlen === undefined ? undefined : parseNumber('-l', v.maxlen as string, 1);
  const geo = geometryFlags(v);
  // Everything is read and validated before anything runs.
  // A folder's family known signatures (corpus/known/*.family.json) hold no ops to replay.
  const files = positionals.flatMap((p) => (isDirectory(p) ? corpusFiles(p).filter((f) => !isFamilyFile(f)) : [p]));
  if (files.length === 0) throw new UsageError(`replay: no op logs or cases in ${positionals.join(' ')}`);
  const inputs = files.map((p) => (isCaseFile(p)
    ? { path: p, log: null, kase: readCase(p, 'replay') as SavedCase | null }
    : { path: p, log: readLog(p, seed, maxlen) as OpLog | null, kase: null }));
  for (const i of inputs) if (i.kase) caseAdapter(i.kase, v.adapter as string | undefined, i.path, 'replay');
  const lines = new Lines(io);
  const cases: Record<string, unknown>[] = [];
  let firstFailure: Record<string, unknown> | undefined;
  let ops = 0;
  let elapsed = 0;
  let failures = 0;
  let crashed = false;
  let unexpectedCrash = false;
  let skipped = 0;
  const adapters = new Set<string>();
  // One input: its full report. Many (a corpus folder): one verdict line each, and the report
  // only of a case that did not end as its log records.
  const many = inputs.length > 1;
  for (const { path: file, log: l, kase } of inputs) {
    if (kase !== null) {
      const spec = caseAdapter(kase, v.adapter as string | undefined, file, 'replay');
      adapters.add(spec);
      const r = replayCaseFile(file, kase, spec, quiet || many, lines);
      if (r.outcome !== 'pass') {
        failures++;
        firstFailure ??= { kind: r.outcome, log: file };
      }
      if (!many || !r.ok) for (const x of r.report) lines.out(x);
      const got = r.outcome === 'pass' ? 'passed' : `failed (${r.outcome})`;
      lines.out(verdict(r.ok, file, got, r.expected === null ? null : r.expected === 'pass' ? 'pass' : `failed (${r.expected})`));
      cases.push({ path: file, expected: r.expected ?? 'unrecorded', outcome: r.outcome, ok: r.ok });
      continue;
    }
    const log = l!;
    const spec = (v.adapter as string | undefined) ?? (log.adapter !== '' ? log.adapter : defaultAdapter());
    let adapter;
    try {
      adapter = openAdapter(spec, logAdapterOptions(log, geo, spec));
    } catch (e) {
      // In a folder, a log recorded on an adapter this machine cannot open (a host: filesystem
      // with no scratch here) is a skip with its reason; named on its own it is an input error.
      if (!(e instanceof UsageError) || !many || v.adapter !== undefined) throw e;
      lines.out(`- ${file}: skipped: ${e.message}`);
      cases.push({ path: file, expected: log.expected?.outcome === 'fail' ? log.expected.kind : 'pass', outcome: 'skipped', ok: true, skipped: e.message });
      skipped++;
      continue;
    }
    adapters.add(spec);
    const caps = adapter.capabilities;
    if (caps.blockSize !== log.geometry.blockSize || caps.pageSize !== log.geometry.pageSize) {
      lines.err(`replay: ${file}: recorded with block/page size ${log.geometry.blockSize}/${log.geometry.pageSize}, ${spec} uses ${caps.blockSize}/${caps.pageSize}; aligned ops may be refused`);
    }
    if (!quiet && !many) lines.out(`replaying ${file}: ${log.ops.length} ops on ${spec}, seed ${log.seed}`);
    const r = replayLog(adapter, spec, log, { quiet: quiet || many, debug: v.debug === true, logDumpOps: 100 }, lines);
    ops += r.ops;
    elapsed += r.elapsedMs;
    const expected = log.expected === undefined || log.expected.outcome === 'pass' ? 'pass' : log.expected.kind;
    const outcome = outcomeOf(r);
    const expectedOp = log.expected?.outcome === 'fail' ? log.expected.op : undefined;
    const expectedErrno = log.expected?.outcome === 'fail' ? log.expected.errno : undefined;
    const ok = expected === outcome && (expectedOp === undefined || expectedOp === r.failure?.op)
      && (expectedErrno === undefined || expectedErrno === r.failure?.errno);
    const c: Record<string, unknown> = { path: file, expected, outcome, ok };
    if (r.failure !== null) {
      c.op = r.failure.op;
      failures++;
      if (r.failure.kind === 'crash' || r.failure.kind === 'hang') {
        crashed = true;
        if (!ok) unexpectedCrash = true;
      }
      if (!many || !ok) for (const x of r.report) (x.startsWith("target crashed in ") ? lines.err : lines.out)(x);
      if (firstFailure === undefined) {
        firstFailure = { kind: r.failure.kind };
        if (r.failure.rule !== undefined) firstFailure.rule = r.failure.rule;
        if (r.failure.offset !== undefined) firstFailure.offset = r.failure.offset;
        firstFailure.op = r.failure.op;
        firstFailure.log = file;
      }
    }
    const got = outcome === 'pass' ? `passed (all ${r.ops} operations completed A-OK!)` : `${outcome} at op ${r.failure?.op}`;
    lines.out(verdict(ok, file, got, expected === 'pass' ? 'pass' : `${expected}${expectedOp !== undefined ? ` at op ${expectedOp}` : ''}`));
    cases.push(c);
  }
  const ran = cases.filter((c) => c.skipped === undefined);
  const asExpected = ran.filter((c) => c.ok === true).length;
  const asRecorded = v['as-recorded'] === true;
  if (!json || !quiet) lines.out(replaySummary(ran.length, asExpected, failures, asRecorded) + (skipped > 0 ? `; ${skipped} skipped (listed above with the reason)` : ''));
  if (json) {
    const summary: Record<string, unknown> = {
      command: 'replay', adapter: adapters.size === 1 ? [...adapters][0] : 'each log\'s own', adapters: [...adapters], ops, failures, asExpected,
      opsPerSec: elapsed > 0 ? Math.round((ops * 1000) / elapsed) : 0, elapsedMs: Math.round(elapsed), cases,
    };
    if (firstFailure !== undefined) summary.failure = firstFailure;
    lines.out(JSON.stringify(summary));
  }
  lines.flush();
  if (asRecorded) return unexpectedCrash ? EXIT_CRASH : asExpected < ran.length ? EXIT_FAILURE : EXIT_PASS;
  return crashed ? EXIT_CRASH : failures > 0 ? EXIT_FAILURE : EXIT_PASS;
}

/** `✓ FILE: got, as recorded` or `✗ FILE: got, but the log records EXPECTED`. */
function verdict(ok: boolean, file: string, got: string, expected: string | null): string {
  if (expected === null) return `- ${file}: ${got} (the case records nothing for this adapter)`;
  if (ok) return `✓ ${file}: ${got}, as recorded`;
  // A recorded failure that no longer happens: the usual news after a fix.
  const fixed = expected !== 'pass' && got.startsWith('passed') ? ' (fixed, or run on another adapter)' : '';
  return `✗ ${file}: ${got}, but the log records ${expected}${fixed}`;
}

/** The closing line: how many cases ended as recorded, and what the exit code says. */
function replaySummary(n: number, asExpected: number, failures: number, asRecorded: boolean): string {
  const cases = `${n} case${n === 1 ? '' : 's'} replayed: ${asExpected} as recorded${asExpected < n ? `, ${n - asExpected} NOT as recorded` : ''}`
    + ` (${failures} failed, ${n - failures} passed)`;
  if (asRecorded) return `${cases}; exit ${asExpected < n ? 1 : 0} (--as-recorded: 0 when every case ends as its log records)`;
  return `${cases}; exit ${failures > 0 ? 1 : 0} (${failures > 0 ? 'failures were found' : 'no failure'}; --as-recorded exits 0 when every case ends as recorded; docs/exit-codes.md)`;
}

export const REPLAY_COMMAND: CommandSpec = {
  name: 'replay',
  args: ['PATH...'],
  summary: 'run saved op logs (JSON or .fsxops) or crash/fault cases; a folder means every one under it',
  flags: REPLAY_FLAGS,
  examples: [
    'replay iomap-harness-failures/fsx-reference-s1-op42.json',
    'replay corpus --as-recorded                  # every corpus case; exit 0 when each ends as recorded',
    'replay bug.fsxops --adapter ./my-adapter.js -S 7',
  ],
  run: replayCommand,
};
