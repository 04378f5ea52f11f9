/**
 * The rule table of docs/contract.md, generated from properties/contract/rules.ts.
 * test/contract-rules.test.ts checks that the document carries exactly this table;
 * `node dist/test/support/contract-doc.js --write` (after `npx tsc -p tsconfig.json`) rewrites it
 * in place between the markers, and without --write prints it.
 */
import * as fs from 'fs';
import * as path from 'path';
import { RULES, Rule } from '../../properties/contract/rules';

export const DOC_PATH = 'docs/contract.md';
export const TABLE_BEGIN = '<!-- rule-table:begin (generated from properties/contract/rules.ts) -->';
export const TABLE_END = '<!-- rule-table:end -->';

function cell(s: string): string {
  return s.replace(/\|/g, '\\|');
}

export function renderRuleTable(rules: Rule[]): string {
  const lines = ['| id | name | status | what is checked |', '|---|---|---|---|'];
  // The anchor lets a report link straight to its rule's row (properties/rule-docs.ts).
  for (const r of rules) lines.push(`| <a id="${r.id}"></a>${r.id} | \`${r.name}\` | ${r.status} | ${cell(r.description)} |`);
  const count = (s: string) => rules.filter((r) => r.status === s).length;
  lines.push('', `${rules.length} rules: ${count('checked')} checked, ${count('partial')} partial, ${count('unchecked')} unchecked.`);
  return lines.join('\n');
}

/** Replace the table between the markers of `doc`. */
export function withTable(doc: string, rules: Rule[]): string {
  const a = doc.indexOf(TABLE_BEGIN);
  const b = doc.indexOf(TABLE_END);
  if (a < 0 || b < a) throw new Error(`${DOC_PATH}: markers not found`);
  return `${doc.slice(0, a + TABLE_BEGIN.length)}\n${renderRuleTable(rules)}\n${doc.slice(b)}`;
}

if (require.main === module) {
  if (process.argv.includes('--write')) {
    const file = path.join(__dirname, '..', '..', '..', DOC_PATH);
    fs.writeFileSync(file, withTable(fs.readFileSync(file, 'utf8'), RULES));
    process.stdout.write(`${DOC_PATH}: rule table rewritten\n`);
  } else {
    process.stdout.write(`${renderRuleTable(RULES)}\n`);
  }
}
