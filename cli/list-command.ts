/**
 * `iomap-harness list [adapters|mutants|rules|suites|corpus] [--json]`. With --json the last stdout
 * line is {"command":"list","adapters":[{"name":..,...}]} (or "mutants", "rules", "suites", "corpus").
 */

import * as fs from 'fs';
import * as path from 'path';
import { listAdapters, listMutants } from '../adapters/registry';
import { OpLogError, parseOpLog } from '../properties/fsx/oplog';
import { listSuites } from '../properties/suites/index';
import { RULES } from '../properties/contract/rules';
import { MUTANTS } from '../adapters/mutants/catalog';
import { CliIO, EXIT_PASS, Lines, UsageError } from './common';
import { CommandSpec, FlagTable, Parsed } from './command-line';
import { isCaseFile } from './case-files';
import { corpusDir, filesUnder } from '../properties/corpus-files';
import { describeSignature, parseCase } from '../properties/oracle/fault-cases';
import { familyObject, parseFamily } from '../properties/signatures';

const LIST_FLAGS = { json: { type: 'boolean', help: 'the last stdout line is a JSON object listing them' } } as const satisfies FlagTable;

/** The corpus directory of this package (corpus/ beside dist/). */
export { corpusDir };

/** Every op log (.json, .fsxops) and crash/fault case (.json) under `dir`, sorted. */
export function corpusFiles(dir: string): string[] {
  return filesUnder(dir, /\.(fsxops|json)$/);
}

/** Corpus entries: every op log and crash/fault case under corpus/, with what it expects. */
export function listCorpus(dir = corpusDir()): Record<string, unknown>[] {
  return corpusFiles(dir).map((file) => {
    const name = path.relative(dir, file);
    if (isCaseFile(file)) return caseItem(file, name);
    const text = fs.readFileSync(file, 'utf8');
    const fam = familyObject(text);
    if (fam !== null) return familyItem(fam, name);
    try {
      const log = parseOpLog(text, name);
      const exp = log.expected === undefined || log.expected.outcome === 'pass' ? 'pass' : log.expected.kind;
      const item: Record<string, unknown> = { name, adapter: log.adapter, ops: log.ops.length, expected: exp };
      if (log.description !== undefined) item.description = log.description;
      return item;
    } catch (e) {
      return { name, error: e instanceof OpLogError ? e.message : String(e) };
    }
  });
}

/** A family known signature as a corpus entry (docs/corpus.md "Family signatures"): no ops, matched by kernel evidence. */
function familyItem(v: Record<string, unknown>, name: string): Record<string, unknown> {
  try {
    const { spec, note } = parseFamily(v, name);
    return { name, family: spec.family, adapter: `host (${spec.fs})`, ops: 0, expected: `${spec.op} ${spec.errno} with the kernel report ${spec.report}`, description: note };
  } catch (e) {
    return { name, error: e instanceof Error ? e.message : String(e) };
  }
}

/** A crash or fault case as a corpus entry: the adapter it fails on and its recorded signature. */
function caseItem(file: string, name: string): Record<string, unknown> {
  try {
    const c = parseCase(fs.readFileSync(file, 'utf8'), name);
    const f = c.expected.failsOn[0];
    const item: Record<string, unknown> = {
      name, adapter: f?.adapter ?? 'reference', ops: c.workload.ops.length, expected: f ? describeSignature(f.signature) : 'pass', kind: c.kind,
    };
    if (c.description !== undefined) item.description = c.description;
    return item;
  } catch (e) {
    return { name, error: e instanceof Error ? e.message : String(e) };
  }
}

export function listCommand(p: Parsed, io: CliIO): number {
  const { values, positionals } = p;
  if (positionals.length > 1) throw new UsageError(`list: one kind at a time, got ${positionals.join(' ')}`);
  const what = positionals[0] ?? 'adapters';
  let items: Record<string, unknown>[];
  switch (what) {
    case 'adapters':
      items = listAdapters().map((a) => ({ name: a.name, describe: a.describe, inMemory: a.inMemory }));
      break;
    case 'mutants': {
      // The catalog adds the spec section, the bug, and the check expected to catch it.
      const spec = new Map(MUTANTS.map((m) => [`mutant:${m.name}`, m]));
      items = listMutants().map((a) => {
        const m = spec.get(a.name) ?? spec.get(`mutant:${a.name}`);
        if (m === undefined) return { name: a.name, describe: a.describe };
        return { name: a.name, section: m.section, description: m.description, catches: m.catches, ...(m.commit !== undefined ? { commit: m.commit } : {}), describe: a.describe };
      });
      break;
    }
    case 'corpus':
      items = listCorpus();
      break;
    case 'suites':
      items = listSuites();
      break;
    case 'rules':
      items = RULES.map((r) => ({ name: `${r.id} ${r.name}`, id: r.id, rule: r.name, status: r.status, describe: `[${r.status}] ${r.description}` }));
      break;
    default:
      throw new UsageError(`list: unknown kind ${JSON.stringify(what)} (adapters, mutants, rules, suites, corpus)`);
  }
  const lines = new Lines(io);
  if (values.json === true) {
    lines.out(JSON.stringify({ command: 'list', [what]: items }));
  } else {
    if (items.length === 0) lines.out(`(no ${what})`);
    const width = Math.max(0, ...items.map((i) => String(i.name).length));
    for (const i of items) {
      const rest = 'describe' in i ? i.describe : 'error' in i ? `error: ${i.error}` : `${i.ops} ops on ${i.adapter || '(any)'}, expects ${i.expected}`;
      lines.out(`${String(i.name).padEnd(width)}  ${rest}`);
    }
  }
  lines.flush();
  return EXIT_PASS;
}

export const LIST_COMMAND: CommandSpec = {
  name: 'list',
  args: ['KIND'],
  summary: 'list adapters, mutants, rules, suites or corpus cases',
  details: 'KIND is one of adapters (default), mutants, rules, suites, corpus.',
  flags: LIST_FLAGS,
  examples: ['list', 'list mutants', 'list suites --json'],
  run: listCommand,
};
