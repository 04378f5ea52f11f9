/**
 * What a campaign costs per target: ops per CPU-second of campaign units as `campaign run` runs
 * them (fsx with the campaign defaults: setup sweep, state coverage, shrink on), the figure the
 * cost model in docs/campaigns.md divides an op budget by (docs/benchmarks.md "Campaign cost").
 *
 *   node dist/bench/campaign-cost.js [--ops 20000] [--seeds 3]
 *
 * Three campaigns, one shard each, run in this process one after the other: naive and reference
 * (their units alternate seed by seed, so a change of load hits both), then reference with
 * `"weights": {"crash": 0}` (no power cuts). Per target: fsx ops, the units' CPU time (this
 * process's user + system while each unit ran, V8's helper threads included) and wall time. The
 * last stdout line is JSON.
 */

import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { parseCampaign } from '../properties/campaign/config';
import { runShard, UnitResult } from '../properties/campaign/shard';
import { intArg } from './int-arg';

interface Row {
  target: string;
  units: number;
  failed: number;
  ops: number;
  cpuMs: number;
  elapsedMs: number;
  opsPerCpuSecond: number;
}

function rows(results: UnitResult[], label: (r: UnitResult) => string): Row[] {
  const by = new Map<string, Row>();
  for (const r of results) {
    const k = label(r);
    const row = by.get(k) ?? { target: k, units: 0, failed: 0, ops: 0, cpuMs: 0, elapsedMs: 0, opsPerCpuSecond: 0 };
    row.units++;
    if (r.failures.length > 0) row.failed++;
    row.ops += r.ops;
    row.cpuMs += r.cpuMs;
    row.elapsedMs += r.elapsedMs;
    by.set(k, row);
  }
  for (const row of by.values()) row.opsPerCpuSecond = Math.round(row.ops / (row.cpuMs / 1000));
  return [...by.values()];
}

function main(): void {
  const argv = process.argv.slice(2);
  const ops = intArg('campaign-cost', argv, 'ops', 20000);
  const seeds = intArg('campaign-cost', argv, 'seeds', 3);
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'iomap-campaign-cost-'));
  try {
    const run = (c: object, label: (r: UnitResult) => string): Row[] => {
      const text = JSON.stringify(c);
      const parsed = parseCampaign(text, path.join(tmp, 'campaign.json'));
      return rows(runShard(parsed, text, { k: 1, n: 1 }, path.join(tmp, (c as { name: string }).name)).results, label);
    };
    const fsx = { ops, seeds: { first: 1, count: seeds } };
    const out = [
      ...run({ name: 'cost', targets: ['naive', 'reference'], fsx }, (r) => r.target),
      ...run({ name: 'cost-nocrash', targets: ['reference'], fsx: { ...fsx, weights: { crash: 0 } } }, () => 'reference crash=0'),
    ];
    for (const r of out) {
      console.log(`${r.target.padEnd(18)} ${String(r.units).padStart(2)} units (${r.failed} failed), ${r.ops} ops, CPU ${(r.cpuMs / 1000).toFixed(1)} s, wall ${(r.elapsedMs / 1000).toFixed(1)} s: ${r.opsPerCpuSecond} ops per CPU-second`);
    }
    console.log(JSON.stringify({ command: 'bench campaign-cost', ops, seeds, loadavg: os.loadavg().map((x) => Math.round(x * 10) / 10), rows: out }));
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

main();
