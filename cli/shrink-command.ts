/**
 * `iomap-harness shrink LOG [--adapter A] [--out FILE] [--json]`: shrink a failing op log to a
 * minimal one with the same failure signature (properties/fsx/shrink.ts, docs/corpus.md), replaying
 * every candidate from scratch on a fresh adapter. The result is written as FILE (JSON) and the
 * same ops as .fsxops next to it; default FILE: LOG's name with `.min.json` in LOG's directory.
 * Exit 1 when the shrunk log fails (the normal case), 3 when the failure is a crash or hang, 0
 * when LOG passes on the adapter (nothing to shrink), 2 for usage or input errors.
 */

import * as fs from 'fs';
import * as path from 'path';
import type { FileAdapter } from '../adapters/types';
import type { OpLog } from '../properties/fsx/oplog';
import { serializeOpLog, toFsxops } from '../properties/fsx/oplog';
import { shrinkLog, ShrinkResult } from '../properties/fsx/shrink';
import { CliIO, EXIT_CRASH, EXIT_FAILURE, EXIT_PASS, Lines, parseNumber, UsageError } from './common';
import { CommandSpec, FlagTable, Parsed } from './command-line';
import { absoluteAdapterFlag, ADAPTER_FLAGS, defaultAdapter, geometryFlags, openAdapter, SETUP_FLAGS } from './fsx-command';
import { logAdapterOptions, readLog } from './replay-command';
import { caseAdapter, isCaseFile, readCase, shrinkCaseFile } from './case-files';

const SHRINK_FLAGS = {
  ...ADAPTER_FLAGS,
  adapter: { ...ADAPTER_FLAGS.adapter, default: "the log's, else reference" },
  bs: { ...ADAPTER_FLAGS.bs, default: "the log's" },
  folio: { ...ADAPTER_FLAGS.folio, default: "the log's" },
  ...SETUP_FLAGS,
  out: { type: 'string', value: 'FILE', default: 'LOG.min.json beside LOG', help: 'where the shrunk log is written (and its .fsxops twin)' },
  'max-replays': { type: 'string', value: 'N', default: 'no limit', help: 'stop after N replays and keep the smallest failing log so far' },
  seed: { type: 'string', short: 'S', value: 'S', default: "the log's", help: 'data-pattern seed for a .fsxops log' },
  maxlen: { type: 'string', short: 'l', value: 'N', default: "the log's", help: 'largest file size for a .fsxops log' },
  quiet: { type: 'boolean', short: 'q', help: 'no progress lines' },
  json: { type: 'boolean', help: 'the last stdout line is a JSON summary' },
} as const satisfies FlagTable;

/** The default output path: LOG's name with `.min.json`, in LOG's directory. */
export function defaultShrinkOut(logPath: string): string {
  const dir = path.dirname(logPath);
  const base = path.basename(logPath).replace(/(\.min)?\.(json|fsxops)$/i, '');
  return path.join(dir, `${base}.min.json`);
}

/** The .fsxops twin of a JSON output path. */
export function fsxopsPath(jsonPath: string): string {
  return jsonPath.replace(/\.json$/i, '') + '.fsxops';
}

/** Check before shrinking that OUT can be written (its directory exists and is writable). */
export function checkOut(out: string, command: string): string {
  const abs = path.resolve(out);
  const dir = path.dirname(abs);
  let st: fs.Stats;
  try {
    st = fs.statSync(dir);
  } catch {
    throw new UsageError(`${command}: --out ${out}: directory ${dir} does not exist`);
  }
  if (!st.isDirectory()) throw new UsageError(`${command}: --out ${out}: ${dir} is not a directory`);
  try {
    fs.accessSync(dir, fs.constants.W_OK);
  } catch {
    throw new UsageError(`${command}: --out ${out}: cannot write to ${dir}`);
  }
  if (fs.existsSync(abs) && fs.statSync(abs).isDirectory()) throw new UsageError(`${command}: --out ${out}: is a directory`);
  return abs;
}

/** Write a shrunk log (JSON + .fsxops). */
export function writeShrunk(out: string, log: OpLog): void {
  fs.writeFileSync(out, serializeOpLog(log));
  fs.writeFileSync(fsxopsPath(out), toFsxops(log));
}

/** The description a shrunk log carries. */
export function shrunkDescription(from: string, r: ShrinkResult, was: string | undefined): string {
  return `shrunk by iomap-harness shrink from ${path.basename(from)} (${r.inputOps} ops to ${r.outputOps}; signature ${r.signature})`
    + (was !== undefined && was !== '' ? `; was: ${was}` : '');
}

export function shrinkCommand(p: Parsed, io: CliIO): number {
  const { values: v, positionals } = p;
  absoluteAdapterFlag(v);
  if (positionals.length !== 1) throw new UsageError(`shrink: give exactly one op log (LOG), got ${positionals.length}`);
  const file = positionals[0];
  const json = v.json === true;
  const quiet = v.quiet === true;
  const seed = v.seed === undefined ? undefined : parseNumber('-S', v.seed as string, 0, 0xffffffff);
  const maxlen = v.maxlen === undefined ? undefined : parseNumber('-l', v.maxlen as string, 1);
  const maxReplays = v['max-replays'] === undefined ? undefined : parseNumber('--max-replays', v['max-replays'] as string, 1, 1e9);
  const geo = geometryFlags(v);
  if (isCaseFile(file)) return shrinkCase(file, v.adapter as string | undefined, v.out as string | undefined, json, io);
  const log = readLog(file, seed, maxlen, 'shrink');
  const out = checkOut((v.out as string | undefined) ?? defaultShrinkOut(file), 'shrink');
  const spec = (v.adapter as string | undefined) ?? (log.adapter !== '' ? log.adapter : defaultAdapter());
  const opts = logAdapterOptions(log, geo, spec);
  // The first adapter is made here, so a bad spec is a usage error before any work.
  let first: FileAdapter | null = openAdapter(spec, opts);
  const makeAdapter = (): FileAdapter => {
    const a = first ?? openAdapter(spec, opts);
    first = null;
    return a;
  };
  const lines = new Lines(io);
  const sameAdapter = spec === log.adapter && geo.blockSize === undefined && geo.folioSize === undefined;
  if (!quiet) lines.out(`shrinking ${file}: ${log.ops.length} ops on ${spec}, seed ${log.seed}`);
  const r = shrinkLog(log, {
    makeAdapter,
    name: spec,
    trustExpected: sameAdapter,
    maxReplays,
    progress: quiet ? undefined : (l) => lines.out(`shrink: ${l}`),
  });
  const opsPerSec = r.elapsedMs > 0 ? Math.round((r.replayedOps * 1000) / r.elapsedMs) : 0;
  const summary: Record<string, unknown> = {
    command: 'shrink', adapter: spec, seed: log.seed, ops: r.replayedOps, failures: r.failed ? 1 : 0,
    opsPerSec, elapsedMs: Math.round(r.elapsedMs), inputOps: r.inputOps, outputOps: r.outputOps, out: null,
    replays: r.replays,
  };
  let code = EXIT_PASS;
  if (!r.failed) {
    lines.err(`shrink: ${file} passes on ${spec}: nothing to shrink`);
  } else {
    const f = r.final.failure!;
    const shrunk: OpLog = { ...r.log, description: shrunkDescription(file, r, log.description) };
    writeShrunk(out, shrunk);
    for (const l of r.final.report) lines.out(l);
    lines.out(`Shrunk ${r.inputOps} ops to ${r.outputOps} in ${Math.round(r.elapsedMs)} ms (${r.replays} replays, ${r.replayedOps} ops replayed)`
      + `${r.budgetExhausted ? ', budget exhausted' : ''}; saved to "${out}"; replay with: iomap-harness replay ${out}`);
    summary.out = out;
    summary.signature = r.signature;
    const fj: Record<string, unknown> = { kind: f.kind };
    if (f.rule !== undefined) fj.rule = f.rule;
    if (f.offset !== undefined) fj.offset = f.offset;
    fj.op = f.op;
    fj.log = out;
    summary.failure = fj;
    code = f.kind === 'crash' || f.kind === 'hang' ? EXIT_CRASH : EXIT_FAILURE;
  }
  if (json) lines.out(JSON.stringify(summary));
  lines.flush();
  return code;
}

/**
 * A crash or fault case: shrink its workload again on the adapter it fails on (the crash or
 * fault harness's shrinker) and write the case to OUT.
 */
function shrinkCase(file: string, adapter: string | undefined, outArg: string | undefined, json: boolean, io: CliIO): number {
  const c = readCase(file, 'shrink');
  const spec = caseAdapter(c, adapter, file, 'shrink');
  if (spec !== c.expected.failsOn[0]?.adapter) throw new UsageError(`shrink: ${file}: a case shrinks on the adapter it was recorded failing on (${c.expected.failsOn[0]?.adapter ?? 'none'})`);
  const out = checkOut(outArg ?? defaultShrinkOut(file), 'shrink');
  const lines = new Lines(io);
  const r = shrinkCaseFile(c, out);
  lines.out(`Shrunk the ${c.kind} case ${file} from ${r.before} ops to ${r.after} on ${spec}; saved to "${out}"; replay with: iomap-harness replay ${out}`);
  if (json) lines.out(JSON.stringify({ command: 'shrink', adapter: spec, inputOps: r.before, outputOps: r.after, out, failures: 1 }));
  lines.flush();
  return EXIT_FAILURE;
}

export const SHRINK_COMMAND: CommandSpec = {
  name: 'shrink',
  args: ['LOG'],
  summary: 'shrink a failing op log (or crash/fault case) to a minimal one with the same failure',
  flags: SHRINK_FLAGS,
  examples: [
    'shrink iomap-harness-failures/fsx-reference-s1-op42.json     # writes ...op42.min.json',
    'shrink bug.json --adapter ./my-adapter.js --out bug.min.json',
  ],
  run: shrinkCommand,
};
