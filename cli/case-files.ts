/**
 * Crash and fault case files (corpus/crash, corpus/fault; format `iomap-harness-case`) for
 * `replay` and `shrink`: the same one command as for op logs. A case runs in-process on refs, so
 * its adapter is `reference` or `mutant:NAME`; without --adapter it runs on the adapter it was
 * recorded failing on (like an op log on its recorded adapter). Exit codes as for op logs: 1 when
 * it fails there, 0 when it passes, 2 for a bad file or adapter.
 */

import * as fs from 'fs';
import {
  CASE_FORMAT, CaseError, describeSignature, parseCase, replayCase, reshrinkCase, SavedCase, serializeCase,
} from '../properties/oracle/fault-cases';
import { Lines, UsageError } from './common';

/** Whether `file` is a case file (by its format field; anything unreadable is left to the op log reader). */
export function isCaseFile(file: string): boolean {
  try {
    return new RegExp(`"format"\\s*:\\s*"${CASE_FORMAT}"`).test(fs.readFileSync(file, 'utf8').slice(0, 4096));
  } catch {
    return false;
  }
}

/** Read and validate a case file; any problem is one UsageError line. */
export function readCase(file: string, command: string): SavedCase {
  try {
    return parseCase(fs.readFileSync(file, 'utf8'), file);
  } catch (e) {
    if (e instanceof CaseError) throw new UsageError(`${command}: ${e.message}`);
    throw e;
  }
}

/** The adapter a case runs on: --adapter, else the one it was recorded failing on, else reference. */
export function caseAdapter(c: SavedCase, given: string | undefined, file: string, command: string): string {
  const spec = given ?? c.expected.failsOn[0]?.adapter ?? 'reference';
  if (spec !== 'reference' && !/^mutant:.+$/.test(spec)) {
    throw new UsageError(`${command}: ${file}: a ${c.kind} case runs on refs in-process: --adapter reference or mutant:NAME, not ${spec}`);
  }
  return spec;
}

/** What the case records for `adapter`: a signature, 'pass', or null (nothing recorded). */
function expectedOn(c: SavedCase, adapter: string): string | null {
  const f = c.expected.failsOn.find((x) => x.adapter === adapter);
  if (f) return describeSignature(f.signature);
  return c.expected.passesOn.includes(adapter) ? 'pass' : null;
}

export interface CaseReplay {
  outcome: string;
  expected: string | null;
  ok: boolean;
  /** The harness's report of the failure (empty when it passed). */
  report: string[];
}

/** Replay a case on `adapter`; the caller prints the report and the verdict. */
export function replayCaseFile(file: string, c: SavedCase, adapter: string, quiet: boolean, lines: Lines): CaseReplay {
  if (!quiet) lines.out(`replaying ${file}: ${c.kind} case, ${c.workload.ops.length} ops on ${adapter}, seed ${c.workload.seed}`);
  let o;
  try {
    o = replayCase(c, adapter);
  } catch (e) {
    if (e instanceof CaseError) throw new UsageError(`replay: ${file}: ${e.message}`);
    throw e;
  }
  const outcome = describeSignature(o.signature);
  const expected = expectedOn(c, adapter);
  const ok = expected === null || expected === outcome;
  return { outcome, expected, ok, report: o.signature !== null || !quiet ? o.report : [] };
}

/** Shrink a case again on the adapter it fails on; writes it to `out`. Returns the ops before and after. */
export function shrinkCaseFile(c: SavedCase, out: string): { before: number; after: number; c: SavedCase } {
  const before = c.workload.ops.length;
  let shrunk: SavedCase;
  try {
    shrunk = reshrinkCase(c);
  } catch (e) {
    if (e instanceof CaseError) throw new UsageError(`shrink: ${e.message}`);
    throw e;
  }
  fs.writeFileSync(out, serializeCase(shrunk));
  return { before, after: shrunk.workload.ops.length, c: shrunk };
}
