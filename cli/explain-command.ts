/**
 * `iomap-harness explain RULE [--json]`: what a rule a report cited says, read from the docs this
 * package ships (docs/contract.md for the monitor's rules R01.. and C01.., docs/rules.md for
 * fileops-14.N and iomap-contract-§N). A report's "Rule broken: R33 (docs/contract.md#R33)" names
 * a path inside the package, which is not where a user's shell is; this prints the text itself.
 */

import * as fs from 'fs';
import * as path from 'path';
import { ruleDoc } from '../properties/rule-docs';
import { CliIO, EXIT_PASS, UsageError } from './common';
import { CommandSpec, flag, FlagTable, Parsed } from './command-line';

const EXPLAIN_FLAGS = { json: { type: 'boolean', help: 'the last stdout line is a JSON object {rule, doc, text}' } } as const satisfies FlagTable;

/** The package's docs folder (docs/ beside dist/). */
function docsDir(): string {
  return path.resolve(__dirname, '..', '..', 'docs');
}

/** `§` is optional on the command line (shells and keyboards): iomap-contract-5.2 is iomap-contract-§5.2. */
function normalRule(arg: string): string {
  const m = /^iomap-contract-§?(.+)$/i.exec(arg);
  if (m !== null) return `iomap-contract-§${m[1]}`;
  return /^[rc]\d+$/i.test(arg) ? arg.toUpperCase() : arg;
}

/** Every anchor id a doc defines (`<a id="...">`). */
function anchorsOf(text: string): string[] {
  return [...text.matchAll(/<a id="([^"]+)"><\/a>/g)].map((m) => m[1]);
}

/**
 * The text of `anchor` in `text`: a table row (the monitor's rules) plus the notes below the table
 * that mention the rule, or a section from its anchor up to the next anchor or heading of a level
 * at or above its own.
 */
export function sectionOf(text: string, anchor: string): string | null {
  const lines = text.split('\n');
  const tag = `<a id="${anchor}"></a>`;
  const at = lines.findIndex((l) => l.includes(tag));
  if (at < 0) return null;
  if (lines[at].trimStart().startsWith('|')) return tableRow(lines, at, anchor);
  let level = 0;
  const out: string[] = [];
  for (let i = lines[at].trim() === tag ? at + 1 : at; i < lines.length; i++) {
    const l = lines[i];
    const h = /^(#+) /.exec(l);
    if (out.length > 0 && (/<a id="/.test(l) || (h !== null && level > 0 && h[1].length <= level))) break;
    if (h !== null && level === 0) level = h[1].length;
    out.push(l.replace(tag, ''));
  }
  return out.join('\n').trim();
}

function tableRow(lines: string[], at: number, rule: string): string {
  const cells = lines[at].split('|').map((c) => c.trim()).filter((c) => c !== '');
  const [, name, status, ...what] = cells;
  const mentions = new RegExp(`\\b${rule}\\b`);
  const notes: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    if (i === at || !mentions.test(lines[i]) || lines[i].trimStart().startsWith('|')) continue;
    notes.push(paragraphAt(lines, i));
  }
  const head = `${rule} ${name.replace(/`/g, '')} (${status})\n${what.join(' | ')}`;
  return notes.length > 0 ? `${head}\n\n${[...new Set(notes)].join('\n')}` : head;
}

/** The bullet or paragraph line `i` belongs to, from its start to the next bullet, blank line or heading. */
function paragraphAt(lines: string[], i: number): string {
  const starts = (l: string): boolean => /^\s*([-*]|\d+\.) /.test(l) || /^#/.test(l) || l.trim() === '' || l.trimStart().startsWith('|');
  let a = i;
  while (a > 0 && !starts(lines[a]) && !(lines[a - 1].trim() === '' || /^#/.test(lines[a - 1]) || lines[a - 1].trimStart().startsWith('|'))) a--;
  let b = i + 1;
  while (b < lines.length && !starts(lines[b])) b++;
  return lines.slice(a, b).map((l) => l.trim()).join('\n');
}

/** The known rule closest to `arg` by edit distance, for the error line. */
function closest(arg: string, known: string[]): string | undefined {
  const d = (a: string, b: string): number => {
    const row = Array.from({ length: b.length + 1 }, (_, j) => j);
    for (let i = 1; i <= a.length; i++) {
      let prev = row[0];
      row[0] = i;
      for (let j = 1; j <= b.length; j++) {
        const cur = row[j];
        row[j] = Math.min(row[j] + 1, row[j - 1] + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
        prev = cur;
      }
    }
    return row[b.length];
  };
  let best: string | undefined;
  let bestD = Infinity;
  for (const k of known) {
    const dk = d(arg.toLowerCase(), k.toLowerCase());
    if (dk < bestD) { best = k; bestD = dk; }
  }
  return bestD <= Math.max(2, Math.floor(arg.length / 3)) ? best : undefined;
}

export interface Explained { rule: string; doc: string; text: string }

/** What `rule` says, from the package's docs; a UsageError naming the closest rule when unknown. */
export function explainRule(arg: string, dir = docsDir()): Explained {
  const rule = normalRule(arg);
  const [file, anchor] = ruleDoc(rule).split('#');
  const read = (f: string): string => {
    try {
      return fs.readFileSync(path.join(dir, '..', f), 'utf8');
    } catch {
      throw new UsageError(`explain: cannot read ${f} in this package (${dir})`);
    }
  };
  const text = sectionOf(read(file), anchor);
  if (text !== null) return { rule, doc: `${file}#${anchor}`, text };
  const known = [...anchorsOf(read('docs/contract.md')), ...anchorsOf(read('docs/rules.md')).map((a) => a.replace(/^iomap-contract-/, 'iomap-contract-§'))];
  const near = closest(rule, known);
  throw new UsageError(`explain: unknown rule ${arg}${near !== undefined ? ` (did you mean ${near}?)` : ''}; iomap-harness list rules lists the monitor's rules`);
}

export const EXPLAIN_COMMAND: CommandSpec = {
  name: 'explain',
  args: ['RULE'],
  summary: 'print what a rule a report cited says (R33, C02, fileops-14.3, iomap-contract-§5.2)',
  details: 'Reads the docs this package ships: docs/contract.md for the contract monitor\'s rules, docs/rules.md for the file-level rules and the sections of the iomap contract.',
  flags: EXPLAIN_FLAGS,
  examples: ['explain R33', 'explain fileops-14.4', 'explain iomap-contract-5.2'],
  run(p: Parsed, io: CliIO): number {
    if (p.positionals.length !== 1) throw new UsageError('explain: give one rule, e.g. iomap-harness explain R33');
    const e = explainRule(p.positionals[0]);
    io.stdout(`${e.text}\n\n(${e.doc} in ${path.resolve(docsDir(), '..')})\n`);
    if (flag(p.values, 'json')) io.stdout(`${JSON.stringify({ command: 'explain', ...e })}\n`);
    return EXIT_PASS;
  },
};
