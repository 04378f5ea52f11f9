/**
 * What `campaign merge` writes: the terminal summary, merged.json, junit.xml (one case per
 * distinct failure: new ones fail, known ones are skipped with their note) and index.html, one
 * self-contained page (inline CSS, no scripts, no network) linking each distinct failure's
 * reproducer and failure-explorer page in the merge folder.
 */

import { xmlEscape } from '../suites/junit';
import { junitXml, JUnitCase } from '../suites/junit';
import type { DistinctFailure, MergeResult } from './merge';

export const MERGE_FORMAT = 'iomap-harness-campaign-merge';

function where(f: DistinctFailure): string {
  const x = f.first;
  const what = x.engine === 'fsx' ? `fsx seed ${x.seed}` : `check ${x.suite}/${x.property ?? '?'} seed ${x.seed}`;
  return `${x.shard}, ${what}`;
}

function setupText(s: object): string {
  const parts = Object.entries(s).map(([k, v]) => `${k}=${v}`);
  return parts.length === 0 ? 'defaults' : parts.join(' ');
}

function coverageText(m: MergeResult): string {
  const c = m.coverage;
  if ('unavailable' in c) return c.unavailable;
  const parts = c.classes.map((k) => `${k.geometryClass} (${k.level}, ${k.units} units): ${k.reached !== undefined ? `${k.reached}/${k.reachable} reachable cells, ${k.percent}%` : 'no reachable data for this class'}`);
  return `union per geometry class: ${parts.join('; ')}${c.unitsWithout > 0 ? `; ${c.unitsWithout} fsx units without a map` : ''}`;
}

function runName(m: MergeResult): string {
  return m.shards.run !== undefined ? `run ${m.shards.run}` : 'the newest run';
}

function sinceText(f: DistinctFailure): string {
  return f.since === undefined ? '' : `since ${f.since.date}${f.since.run !== undefined ? ` (run ${f.since.run})` : ''}`;
}

function secs(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

/** Lines for the terminal. */
export function summaryLines(m: MergeResult): string[] {
  const t = m.totals;
  const out: string[] = [];
  out.push(`campaign ${m.campaign} (${m.campaignId})${m.shards.run !== undefined ? `, run ${m.shards.run}` : ''}: ${m.shards.present.length} of ${m.shards.n} shards, ${m.units.merged}${m.units.expected !== null ? ` of ${m.units.expected}` : ''} units`);
  if (m.shards.missing.length > 0) out.push(`missing shards: ${m.shards.missing.join(', ')} (of ${m.shards.n})`);
  if (m.shards.incomplete.length > 0) out.push(`incomplete shards (killed or still running; their finished units are merged): ${m.shards.incomplete.join(', ')}`);
  if (m.shards.duplicateFolders.length > 0 || m.units.duplicates > 0) out.push(`duplicates ignored: ${m.shards.duplicateFolders.length} shard folders, ${m.units.duplicates} unit results`);
  if (m.shards.otherRunFolders.length > 0) out.push(`not merged: ${m.shards.otherRunFolders.length} shard folders of other runs than ${runName(m)} (${m.shards.otherRunFolders.join(', ')}); --run-id ID merges another`);
  out.push(`totals: ${t.ops} fsx ops, ${t.checkRuns} check runs, ${secs(t.cpuMs)} CPU, ${t.setups.length} setups (${t.setups.map(setupText).join('; ')}), targets ${t.targets.join(', ')}${t.skippedUnits > 0 ? `, ${t.skippedUnits} units skipped` : ''}`);
  out.push(`coverage: ${coverageText(m)}`);
  out.push(`failures: ${t.failures} found, ${t.distinct} distinct (${t.new} new, ${t.known} known)`);
  for (const f of m.failures) {
    out.push(`  ${f.known !== undefined ? 'known' : 'NEW  '} ${f.target}: ${f.signature.kind}${f.signature.rule ? ` ${f.signature.rule}` : ''} x${f.count}, first ${where(f)}${f.since !== undefined ? `, ${sinceText(f)}` : ''} [${f.sigId}]`);
    out.push(`        shape: ${f.signature.shape === '' ? '(no op log)' : f.signature.shape}`);
    if (f.reproducer !== undefined) out.push(`        reproducer (${f.reproducerOps} ops${f.shrunk ? ', shrunk' : ''}): ${f.reproducer}`);
    if (f.known !== undefined) out.push(`        known: ${f.known.file}${f.known.note ? `: ${f.known.note}` : ''}`);
  }
  const h = m.history;
  if (h !== undefined) {
    out.push(`since the previous merge (${h.previous.date ?? 'undated'}${h.previous.run !== undefined ? `, run ${h.previous.run}` : ''}): ${h.appeared.length} distinct failures appeared, ${h.gone.length} gone`);
    for (const g of h.gone) out.push(`  gone  ${g.key}${g.since !== undefined ? ` (found since ${g.since.date})` : ''}: ${g.message}`);
  }
  return out;
}

export function mergedJson(m: MergeResult): string {
  return JSON.stringify({ format: MERGE_FORMAT, version: 1, ...m }, null, 2) + '\n';
}

export function mergedJunit(m: MergeResult): string {
  const cases: JUnitCase[] = m.failures.map((f) => {
    const text = [
      f.message,
      `signature ${f.sigId}: ${f.signature.kind}|${f.signature.rule}|${f.signature.shape}`,
      `found ${f.count} times; first in ${where(f)}, setup ${setupText(f.first.setup)}${f.since !== undefined ? `; ${sinceText(f)}` : ''}`,
      ...(f.reproducer !== undefined ? [`reproducer: ${f.reproducer} (iomap-harness replay ${f.reproducer})`] : []),
      ...(f.report !== undefined ? [`failure explorer: ${f.report}`] : []),
    ].join('\n');
    const c: JUnitCase = { classname: `${m.campaign}.${f.target}`, name: `${f.signature.kind}${f.signature.rule ? ` ${f.signature.rule}` : ''} [${f.sigId}]`, time: 0 };
    if (f.known !== undefined) c.skipped = `known signature ${f.known.file}${f.known.note ? `: ${f.known.note}` : ''}`;
    else c.failure = { message: `${f.message} (x${f.count})`, type: f.signature.kind, text };
    return c;
  });
  const shards: JUnitCase = { classname: `${m.campaign}.shards`, name: `shards (${m.shards.present.length} of ${m.shards.n})`, time: m.totals.elapsedMs / 1000 };
  if (m.shards.missing.length > 0) shards.skipped = `missing shards ${m.shards.missing.join(', ')}`;
  return junitXml(`iomap-harness campaign ${m.campaign}`, [{ name: `campaign ${m.campaign}`, time: m.totals.elapsedMs / 1000, cases: [shards, ...cases], properties: { campaignId: m.campaignId } }]);
}

const esc = xmlEscape;

/** A link to a file in the merge folder (relative paths; the folder moves as one). */
function link(href: string | undefined, text: string): string {
  return href === undefined ? '' : `<a href="${esc(href.split('\\').join('/'))}">${esc(text)}</a>`;
}

export function indexHtml(m: MergeResult): string {
  const t = m.totals;
  const rows = m.failures.map((f) => `<tr class="${f.known !== undefined ? 'known' : 'new'}" id="${esc(f.key)}">
<td>${f.known !== undefined ? 'known' : '<b>new</b>'}</td><td>${esc(f.target)}</td><td>${esc(f.signature.kind)}</td><td>${esc(f.signature.rule)}</td>
<td class="n">${f.count}</td><td>${esc(where(f))}<br><small>${esc(setupText(f.first.setup))}</small>${f.since !== undefined ? `<br><small>${esc(sinceText(f))}</small>` : ''}</td>
<td><code>${esc(f.signature.shape || '(no op log)')}</code><br><small>${esc(f.message)}</small></td>
<td>${link(f.report, 'explorer')} ${link(f.reproducer, `log (${f.reproducerOps ?? '?'} ops)`)}${f.reportError !== undefined ? `<br><small>${esc(f.reportError)}</small>` : ''}${f.known !== undefined ? `<br><small>known: ${esc(f.known.note || f.known.file)}</small>` : ''}</td></tr>`).join('\n');
  const warn = [
    ...(m.shards.missing.length > 0 ? [`Missing shards: ${m.shards.missing.join(', ')} of ${m.shards.n}.`] : []),
    ...(m.shards.incomplete.length > 0 ? [`Incomplete shards: ${m.shards.incomplete.join(', ')}.`] : []),
    ...(m.shards.otherRunFolders.length > 0 ? [`Not merged: ${m.shards.otherRunFolders.length} shard folders of other runs than ${runName(m)}.`] : []),
  ];
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>iomap-harness campaign ${esc(m.campaign)}</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#111;background:#fff}
table{border-collapse:collapse;width:100%}th,td{border:1px solid #ccc;padding:4px 6px;vertical-align:top;text-align:left}
th{background:#eee}.n{text-align:right}tr.new td:first-child{color:#a00}tr.known{color:#666}
code{font:12px monospace;word-break:break-all}.warn{color:#a00}dl{display:grid;grid-template-columns:max-content auto;gap:2px 12px}dt{font-weight:bold}
</style></head><body>
<h1>Campaign ${esc(m.campaign)}</h1>
${warn.map((w) => `<p class="warn">${esc(w)}</p>`).join('\n')}
<dl>
<dt>campaign id</dt><dd>${esc(m.campaignId)}</dd>
<dt>shards</dt><dd>${m.shards.present.length} of ${m.shards.n}${m.shards.run !== undefined ? `, run ${esc(m.shards.run)}` : ''}</dd>
<dt>units</dt><dd>${m.units.merged}${m.units.expected !== null ? ` of ${m.units.expected}` : ''}</dd>
<dt>fsx ops</dt><dd>${t.ops}</dd><dt>check runs</dt><dd>${t.checkRuns}</dd><dt>CPU time</dt><dd>${esc(secs(t.cpuMs))}</dd>
<dt>targets</dt><dd>${esc(t.targets.join(', '))}</dd><dt>setups</dt><dd>${esc(t.setups.map(setupText).join('; '))}</dd>
<dt>coverage</dt><dd>${esc(coverageText(m))}${'classes' in m.coverage ? m.coverage.classes.map((k) => ` ${link(k.map, `map ${k.geometryClass}`)}`).join('') : ''}</dd>
<dt>failures</dt><dd>${t.failures} found, ${t.distinct} distinct: ${t.new} new, ${t.known} known</dd>
${m.history !== undefined ? `<dt>since the previous merge</dt><dd>${esc(m.history.previous.date ?? 'undated')}: ${m.history.appeared.length} appeared, ${m.history.gone.length} gone${m.history.gone.map((g) => `<br><small>${esc(g.key)}: ${esc(g.message)}</small>`).join('')}</dd>` : ''}
</dl>
<h2>Distinct failures</h2>
${m.failures.length === 0 ? '<p>None.</p>' : `<table><tr><th></th><th>target</th><th>kind</th><th>rule</th><th>count</th><th>first found</th><th>shape of the shrunk log</th><th>reproducer</th></tr>\n${rows}\n</table>`}
</body></html>
`;
}
