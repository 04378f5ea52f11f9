/**
 * The compact coverage table `--coverage` prints at the end of a run: per op, the reachable
 * state cells reached in each mapping class, then the interleaving steps, the contract rules whose
 * precondition never arose, and the first cells never reached (all of them are in the JSON).
 */
import { MAP_CLASS_NAMES } from '../../adapters/types';
import { OP_COUNT, OPS } from '../fsx/ops';
import { N_EOF, N_FOLIO, N_MAP, PER_OP } from './cells';
import type { ReachableSet } from './reachable';
import type { CoverageRecorder, CoverageSummary } from './recorder';
import { STEPS } from './recorder';
import { RULES } from '../contract/rules';

const CELL_W = 10;

/** Lines of the table for `rec`, judged against `reach` (null: no reference data for its class). */
export function formatCoverage(rec: CoverageRecorder, reach: ReachableSet | null, s: CoverageSummary | undefined): string[] {
  const g = rec.geometry;
  const lines: string[] = [];
  const level = rec.deep ? 'generic layer' : 'file API only (the target does not expose the generic layer)';
  lines.push(`State coverage: ${rec.ops} ops, ${level}, geometry class ${rec.geometryClass} (block ${g.blockSize}, page ${g.pageSize}, folio ${g.folioSize})`);
  if (s === undefined) lines.push('  no reference data for this geometry class: cells reached are listed in the JSON, without a percentage');
  else lines.push(`  ${s.table === 'states' ? 'state' : 'file'} cells reached: ${s.reached} of ${s.reachable} the reference reaches (${s.percent}%)${s.beyond.length ? `; ${s.beyond.length} beyond the reference data` : ''}`);
  if (rec.deep) lines.push(...stateRows(rec, reach));
  const steps = STEPS.map((n, i) => `${n} ${rec.steps[i]}`).join(', ');
  lines.push(`  interleaving steps: ${steps}`);
  const ruleIds = Object.keys(rec.rules);
  if (ruleIds.length > 0) {
    const checkable = RULES.filter((r) => r.status !== 'unchecked');
    const never = checkable.filter((r) => (rec.rules[r.id] ?? 0) === 0).map((r) => r.id);
    lines.push(`  contract rules whose precondition arose: ${checkable.length - never.length} of ${checkable.length}${never.length ? ` (never: ${never.join(' ')})` : ''}`);
  }
  if (s !== undefined && s.never.length > 0) {
    lines.push(`  never reached (${s.never.length}): ${s.never.slice(0, 12).join(', ')}${s.never.length > 12 ? ', ...' : ''}`);
  }
  return lines;
}

/** One row per op that ran or could: reached[/reachable] per mapping class. */
function stateRows(rec: CoverageRecorder, reach: ReachableSet | null): string[] {
  const head = '  ' + 'op'.padEnd(20) + MAP_CLASS_NAMES.map((m) => m.padStart(CELL_W)).join('');
  const rows = [head];
  for (let op = 0; op < OP_COUNT; op++) {
    if (!rec.enabled[op]) continue;
    let row = '  ' + OPS[op].name.padEnd(20);
    for (let m = 0; m < N_MAP; m++) {
      let got = 0;
      let can = 0;
      for (let k = 0; k < N_FOLIO * N_EOF; k++) {
        const i = op * PER_OP + m * N_FOLIO * N_EOF + k;
        if (rec.states[i] > 0) got++;
        if (reach !== null && reach.states[i] === 1) can++;
      }
      const cell = reach === null ? String(got) : can === 0 && got === 0 ? '-' : `${got}/${can}`;
      row += cell.padStart(CELL_W);
    }
    rows.push(row);
  }
  return rows;
}
