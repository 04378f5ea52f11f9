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
  const files = positionals.flatMap((p) => (isDirectory(p) ? corpusFiles(p) : [p]));
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
  let adapterShown = v.adapter as string | undefined;
  for (const { path: file, log: l, kase } of inputs) {
    if (kase !== null) {
      const spec = caseAdapter(kase, v.adapter as string | undefined, file, 'replay');
      adapterShown ??= spec;
      const r = replayCaseFile(file, kase, spec, quiet, lines);
      if (r.outcome !== 'pass') {
        failures++;
        firstFailure ??= { kind: r.outcome, log: file };
      }
      cases.push({ path: file, expected: r.expected ?? 'unrecorded', outcome: r.outcome, ok: r.ok });
      continue;
    }
    const log = l!;
    const spec = (v.adapter as string | undefined) ?? (log.adapter !== '' ? log.adapter : defaultAdapter());
    adapterShown ??= spec;
    const adapter = openAdapter(spec, logAdapterOptions(log, geo, spec));
    const caps = adapter.capabilities;
    if (caps.blockSize !== log.geometry.blockSize || caps.pageSize !== log.geometry.pageSize) {
      lines.err(`replay: ${file}: recorded with block/page size ${log.geometry.blockSize}/${log.geometry.pageSize}, ${spec} uses ${caps.blockSize}/${caps.pageSize}; aligned ops may be refused`);
    }
    if (!quiet) lines.out(`replaying ${file}: ${log.ops.length} ops on ${spec}, seed ${log.seed}`);
    const r = replayLog(adapter, spec, log, { quiet, debug: v.debug === true, logDumpOps: 100 }, lines);
    ops += r.ops;
    elapsed += r.elapsedMs;
    const expected = log.expected === undefined || log.expected.outcome === 'pass' ? 'pass' : log.expected.kind;
    const outcome = outcomeOf(r);
    const expectedOp = log.expected?.outcome === 'fail' ? log.expected.op : undefined;
    const ok = expected === outcome && (expectedOp === undefined || expectedOp === r.failure?.op);
    const c: Record<string, unknown> = { path: file, expected, outcome, ok };
    if (r.failure !== null) {
      c.op = r.failure.op;
      failures++;
      if (r.failure.kind === 'crash' || r.failure.kind === 'hang') crashed = true;
      for (const l of r.report) lines.out(l);
      if (firstFailure === undefined) {
        firstFailure = { kind: r.failure.kind };
        if (r.failure.rule !== undefined) firstFailure.rule = r.failure.rule;
        if (r.failure.offset !== undefined) firstFailure.offset = r.failure.offset;
        firstFailure.op = r.failure.op;
        firstFailure.log = file;
      }
    }
    lines.out(`${file}: ${outcome === 'pass' ? `all ${r.ops} operations completed A-OK!` : `${outcome} at op ${r.failure?.op}`}`
      + (ok ? '' : ` (expected ${expected}${expectedOp !== undefined ? ` at op ${expectedOp}` : ''})`));
    cases.push(c);
  }
  if (json) {
    const summary: Record<string, unknown> = {
      command: 'replay', adapter: adapterShown, ops, failures,
      opsPerSec: elapsed > 0 ? Math.round((ops * 1000) / elapsed) : 0, elapsedMs: Math.round(elapsed), cases,
    };
    if (firstFailure !== undefined) summary.failure = firstFailure;
    lines.out(JSON.stringify(summary));
  }
  lines.flush();
  return crashed ? EXIT_CRASH : failures > 0 ? EXIT_FAILURE : EXIT_PASS;
}

export const REPLAY_COMMAND: CommandSpec = {
  name: 'replay',
  args: ['PATH...'],
  summary: 'run saved op logs (JSON or .fsxops) or crash/fault cases; a folder means every one under it',
  flags: REPLAY_FLAGS,
  examples: [
    'replay iomap-harness-failures/fsx-reference-s1-op42.json',
    'replay corpus                                # every corpus case, each checked against its expected outcome',
    'replay bug.fsxops --adapter ./my-adapter.js -S 7',
  ],
  run: replayCommand,
};
