/**
 * `iomap-harness report LOG [--adapter A] [--out FILE.html] [--json]`: replay an op log and write
 * the failure explorer, one self-contained HTML file (docs/report.md). The adapter defaults to the
 * one recorded in the log, else `reference`; the state shown comes from the reference model
 * (the target itself when it is one, a reference replay beside it otherwise).
 */
import * as fs from 'fs';
import * as path from 'path';
import { captureReport } from '../properties/report/capture';
import { renderReport } from '../properties/report/html';
import { renderCoveragePage } from '../properties/report/heatmap';
import { COVERAGE_FORMAT, CoverageFormatError, CoverageJson, CoverageRecorder } from '../properties/coverage/recorder';
import { OpLogError, parseOpLog } from '../properties/fsx/oplog';
import { CliIO, EXIT_PASS, UsageError } from './common';
import { CommandSpec, FlagTable, Parsed } from './command-line';
import { checkOut } from './shrink-command';
import { absoluteAdapterFlag, ADAPTER_FLAGS, defaultAdapter, geometryFlags, openAdapter } from './fsx-command';

const REPORT_FLAGS = {
  ...ADAPTER_FLAGS,
  adapter: { ...ADAPTER_FLAGS.adapter, default: "the log's, else reference" },
  bs: { ...ADAPTER_FLAGS.bs, default: "the log's" },
  folio: { ...ADAPTER_FLAGS.folio, default: "the log's" },
  out: { type: 'string', short: 'o', value: 'FILE|DIR', default: './LOG-NAME.html', help: 'where the page is written (a folder: LOG-NAME.html in it)' },
  json: { type: 'boolean', help: 'the last stdout line is a JSON summary' },
} as const satisfies FlagTable;

/** Write the explorer for `logFile` to `outFile`; returns the path written. */
export function writeReport(logFile: string, outFile: string, adapterSpec?: string): string {
  let text: string;
  try {
    text = fs.readFileSync(logFile, 'utf8');
  } catch (e) {
    throw new UsageError(`report: ${logFile}: ${(e as { code?: string }).code === 'ENOENT' ? 'no such file' : 'cannot read it'}`);
  }
  const cov = coverageIn(text, logFile);
  if (cov !== null) {
    fs.writeFileSync(outFile, renderCoveragePage(cov));
    return outFile;
  }
  let log;
  try {
    log = parseOpLog(text, logFile);
  } catch (e) {
    if (e instanceof OpLogError) throw new UsageError(`report: ${e.message}`);
    throw e;
  }
  const spec = adapterSpec ?? (log.adapter || defaultAdapter());
  const adapter = openAdapter(spec, { blockSize: log.geometry.blockSize, folioSize: log.geometry.folioSize });
  const data = captureReport(adapter, spec, log);
  const beside = besideCoverage(logFile);
  if (beside !== null) data.coverage = beside;
  fs.writeFileSync(outFile, renderReport(data));
  return outFile;
}

/**
 * Where the page goes: --out FILE, or into --out DIR when that is a folder, else the current
 * directory (never next to the log: that may be the package's corpus/). Checked before the replay.
 */
export function reportOut(logFile: string, out: string | undefined): string {
  const name = path.basename(logFile).replace(/\.(json|fsxops)$/, '') + '.html';
  let target = out ?? name;
  if (out !== undefined && fs.existsSync(out) && fs.statSync(out).isDirectory()) target = path.join(out, name);
  return checkOut(target, 'report');
}

/** The text as a coverage map (`--coverage` JSON), null when it is something else (an op log). */
function coverageIn(text: string, file: string): CoverageJson | null {
  let j: unknown;
  try {
    j = JSON.parse(text);
  } catch {
    return null;
  }
  if ((j as { format?: unknown } | null)?.format !== COVERAGE_FORMAT) return null;
  try {
    CoverageRecorder.fromJSON(j);
  } catch (e) {
    if (e instanceof CoverageFormatError) throw new UsageError(`report: ${file}: ${e.message}`);
    throw e;
  }
  return j as CoverageJson;
}

/** The coverage map fsx --coverage saved beside a failing log (fsx-A-sS-opN.json -> fsx-A-sS.coverage.json). */
function besideCoverage(logFile: string): CoverageJson | null {
  const m = /^(.*)-op\d+(\.min)?\.json$/.exec(logFile);
  if (m === null || !fs.existsSync(`${m[1]}.coverage.json`)) return null;
  return coverageIn(fs.readFileSync(`${m[1]}.coverage.json`, 'utf8'), `${m[1]}.coverage.json`);
}

export function reportCommand(p: Parsed, io: CliIO): number {
  const { values, positionals } = p;
  absoluteAdapterFlag(values);
  if (positionals.length !== 1) throw new UsageError('report: give exactly one op log (report LOG [--adapter A] [--out FILE.html])');
  const logFile = positionals[0];
  geometryFlags(values as never);
  const out = reportOut(logFile, values.out as string | undefined);
  const written = writeReport(logFile, out, values.adapter as string | undefined);
  io.stdout(`report written to ${written} (open it in a browser)\n`);
  if (values.json) io.stdout(JSON.stringify({ command: 'report', log: logFile, out: written }) + '\n');
  return EXIT_PASS;
}

export const REPORT_COMMAND: CommandSpec = {
  name: 'report',
  args: ['LOG'],
  summary: 'write the failure explorer: one self-contained HTML page stepping through an op log',
  flags: REPORT_FLAGS,
  examples: [
    'report iomap-harness-failures/fsx-reference-s1-op42.json',
    'report bug.min.json --out /tmp/bug.html',
  ],
  run: reportCommand,
};
