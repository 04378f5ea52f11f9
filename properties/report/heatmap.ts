/**
 * The coverage heat map of the failure explorer (and the page `iomap-harness report
 * X.coverage.json` writes): one row per fsx op, one column per mapping class × folio state × EOF
 * relation, each cell shaded by how often the run reached it (log scale). Cells the reference
 * reaches but the run never did are outlined red; cells the reference never reaches are hatched
 * grey. Plain HTML and CSS, drawn at build time: no script needed to read it.
 */
import { EOF_RELATION_NAMES, FOLIO_STATE_NAMES, MAP_CLASS_NAMES } from '../../adapters/types';
import { OP_COUNT, OPS } from '../fsx/ops';
import { N_EOF, N_FOLIO, N_MAP, PER_OP } from '../coverage/cells';
import { reachableFor, summarize } from '../coverage/reachable';
import { CoverageRecorder } from '../coverage/recorder';
import type { CoverageJson } from '../coverage/recorder';
import { STEPS } from '../coverage/recorder';

export const HEATMAP_CSS = `
.heat{border-collapse:collapse;font:10px ui-monospace,monospace}
.heat td,.heat th{border:0;padding:0}
.heat th{font-weight:normal;padding:0 4px;text-align:right;white-space:nowrap}
.heat th.grp{text-align:center;border-left:2px solid #fff;padding:2px 0}
.heat td.c{width:7px;height:12px;border-right:1px solid #fff}
.heat td.g{border-left:2px solid #fff}
.heat td.n{outline:1px solid #d32f2f;outline-offset:-1px;background:#fff}
.heat td.x{background:repeating-linear-gradient(45deg,#eee,#eee 2px,#ddd 2px,#ddd 4px)}
.covsum{font-size:14px;margin:6px 0}
`;

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** Blue scale by log10(count): 1 light, 10^5 dark. */
function shade(n: number): string {
  const t = Math.min(1, Math.log10(n + 1) / 5);
  const l = Math.round(88 - 58 * t);
  return `hsl(210,80%,${l}%)`;
}

/** The heat map section (summary line, table, never-reached list) for a coverage map. */
export function heatMapHtml(j: CoverageJson): string {
  const rec = CoverageRecorder.fromJSON(j);
  const reach = reachableFor(rec.geometryClass);
  const s = j.summary ?? summarize(rec, reach);
  const parts: string[] = [];
  const head = s === undefined ? `no reference data for geometry class ${esc(rec.geometryClass)}: no percentage`
    : `${s.reached} of ${s.reachable} ${s.table === 'states' ? 'state' : 'file'} cells the reference reaches (${s.percent}%), geometry class ${esc(rec.geometryClass)}, ${rec.ops} ops`;
  parts.push(`<div class="covsum" id="covsum">State coverage: ${head}</div>`);
  if (rec.deep) parts.push(stateTable(rec, reach?.states ?? null));
  else parts.push('<p class="muted">The target does not expose the generic layer: only the file-level cells (op × EOF relation) were recorded.</p>');
  parts.push(`<p class="muted">Interleaving steps: ${STEPS.map((n, i) => `${n} ${rec.steps[i]}`).join(', ')}</p>`);
  const rules = Object.entries(rec.rules);
  if (rules.length) parts.push(`<p class="muted">Contract rule preconditions: ${rules.sort().map(([k, v]) => `${k} ${v}`).join(', ')}</p>`);
  if (s !== undefined && s.never.length) {
    parts.push(`<h2>Never reached (${s.never.length})</h2><pre id="never">${esc(s.never.join('\n'))}</pre>`);
  }
  return parts.join('\n');
}

function stateTable(rec: CoverageRecorder, want: Uint8Array | null): string {
  const rows: string[] = [];
  let h1 = '<tr><th></th>';
  for (let m = 0; m < N_MAP; m++) h1 += `<th class="grp" colspan="${N_FOLIO * N_EOF}">${MAP_CLASS_NAMES[m]}</th>`;
  rows.push(h1 + '</tr>');
  for (let op = 0; op < OP_COUNT; op++) {
    if (!rec.enabled[op]) continue;
    let tr = `<tr><th>${esc(OPS[op].name)}</th>`;
    for (let k = 0; k < PER_OP; k++) {
      const i = op * PER_OP + k;
      const n = rec.states[i];
      const m = Math.floor(k / (N_FOLIO * N_EOF));
      const f = Math.floor(k / N_EOF) % N_FOLIO;
      const e = k % N_EOF;
      const title = `${OPS[op].name} / ${MAP_CLASS_NAMES[m]} / ${FOLIO_STATE_NAMES[f]} / ${EOF_RELATION_NAMES[e]}: ${n}`;
      const cls = ['c'];
      if (k % (N_FOLIO * N_EOF) === 0) cls.push('g');
      let style = '';
      if (n > 0) style = ` style="background:${shade(n)}"`;
      else if (want !== null && want[i] === 1) cls.push('n');
      else if (want !== null) cls.push('x');
      tr += `<td class="${cls.join(' ')}" title="${esc(title)}"${style}></td>`;
    }
    rows.push(tr + '</tr>');
  }
  const legend = `<p class="muted">Columns: mapping class, then folio state (${FOLIO_STATE_NAMES.join(', ')}) × EOF relation (${EOF_RELATION_NAMES.join(', ')}). Blue: reached (darker = more often); red outline: the reference reaches it, this run never did; hatched: the reference never reaches it.</p>`;
  return `<table class="heat" id="heatmap">${rows.join('\n')}</table>${legend}`;
}

/** A page of its own for a coverage map (`iomap-harness report X.coverage.json`). */
export function renderCoveragePage(j: CoverageJson): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>iomap-harness coverage — ${esc(j.adapter)} seed ${j.seed ?? ''}</title>
<style>body{font:13px/1.4 system-ui,sans-serif;margin:16px;color:#222}.muted{color:#777}h2{font-size:14px}${HEATMAP_CSS}</style></head>
<body>
<h1 style="font-size:16px">iomap-harness state coverage — adapter ${esc(j.adapter)}${j.seed !== undefined ? ` · seed ${j.seed}` : ''} · block ${j.geometry.blockSize} · folio ${j.geometry.folioSize}</h1>
${heatMapHtml(j)}
</body></html>
`;
}
