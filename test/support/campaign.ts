/**
 * What the campaign tests share (test/campaign.test.ts, test/long/campaign.test.ts): the mutant
 * campaign, writing a campaign file, and the comparisons of merges and unit results.
 */
import * as fs from 'fs';
import * as path from 'path';
import type { MergeResult } from '../../properties/campaign/merge';
import type { UnitResult } from '../../properties/campaign/shard';

/** Two mutant targets (three distinct failures between them: R33, and two shapes of the mkwrite SIGBUS) and the reference. */
export const CAMPAIGN = {
  name: 'nightly',
  targets: ['reference', 'mutant:map-blocks-hole', { adapter: 'mutant:mkwrite-eof-off-by-one', name: 'mkwrite' }],
  fsx: { ops: 200, seeds: { first: 1, count: 6 } },
  check: { suites: ['seek'], runs: 3 },
};

export function writeCampaign(dir: string, c: unknown, name = 'campaign.json'): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, JSON.stringify(c, null, 2) + '\n');
  return file;
}

/** The distinct-failure set of a merge, without what depends on the split (shard names). */
export function distinct(m: MergeResult): string[] {
  return m.failures.map((f) => `${f.target} ${f.sigId} ${f.signature.kind}|${f.signature.rule}|${f.signature.shape} x${f.count} first ${f.first.unit}`).sort();
}

/** A unit result without its timing (what must be the same when a unit runs again). */
export function stable(r: UnitResult): unknown {
  const { cpuMs: _c, elapsedMs: _e, ...rest } = r;
  return rest;
}

/** Every unit result under a results folder (its shard folders), by unit id. */
export function unitsUnder(root: string): Map<string, UnitResult> {
  const out = new Map<string, UnitResult>();
  const walk = (d: string): void => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      if (!e.isDirectory()) continue;
      const p = path.join(d, e.name);
      if (e.name === 'units') {
        for (const f of fs.readdirSync(p).filter((x) => x.endsWith('.json'))) {
          const r = JSON.parse(fs.readFileSync(path.join(p, f), 'utf8')) as UnitResult;
          out.set(r.id, r);
        }
      } else walk(p);
    }
  };
  walk(root);
  return out;
}

/** The files of a folder, relative name to bytes (hex digest would hide nothing a diff needs). */
export function filesOf(dir: string): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  const walk = (d: string): void => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else out.set(path.relative(dir, p), fs.readFileSync(p));
    }
  };
  if (fs.existsSync(dir)) walk(dir);
  return out;
}
