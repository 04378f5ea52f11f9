/**
 * How long `campaign merge` takes on a large night: SHARDS shard folders holding FAILURES saved
 * failures in all (docs/benchmarks.md "Campaign merge").
 *
 *   node dist/bench/campaign-merge.js [--shards 100] [--failures 1000] [--units 5000] [--distinct 40]
 *
 * The shard folders are made the way `campaign run` makes them, from one real shard: its unit
 * results are cloned (ids and indices renumbered) and each failing unit gets its own copy of a
 * real reproducer (op log, .fsxops, explorer page) and every unit its own copy of a real state
 * coverage map, so the merge reads and copies what it would after a real campaign. Failures cycle through DISTINCT signatures. Only the merge is timed
 * (reading every unit, grouping, copying one reproducer per distinct failure, writing merged.json,
 * junit.xml and index.html); the last stdout line is JSON.
 */

import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { campaignId, parseCampaign } from '../properties/campaign/config';
import { mergeShards } from '../properties/campaign/merge';
import { indexHtml, mergedJson, mergedJunit } from '../properties/campaign/merge-report';
import { runShard, SHARD_FORMAT, ShardInfo, UnitResult } from '../properties/campaign/shard';
import { intArg } from './int-arg';

function main(): void {
  const argv = process.argv.slice(2);
  const shards = intArg('campaign-merge', argv, 'shards', 100);
  const failures = intArg('campaign-merge', argv, 'failures', 1000);
  const units = intArg('campaign-merge', argv, 'units', 5000);
  const distinct = intArg('campaign-merge', argv, 'distinct', 40);
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'iomap-campaign-bench-'));
  try {
    // One real shard gives a passing unit and a failing one with its reproducer files.
    const text = JSON.stringify({ name: 'bench', targets: ['mutant:map-blocks-hole', 'reference'], fsx: { ops: 100, seeds: { count: 2 } } });
    const c = parseCampaign(text, path.join(tmp, 'campaign.json'));
    const seedRun = runShard(c, text, { k: 1, n: 1 }, path.join(tmp, 'seed'));
    const failing = seedRun.results.find((r) => r.failures.length > 0);
    const passing = seedRun.results.find((r) => r.failures.length === 0);
    if (failing === undefined || passing === undefined) throw new Error('campaign-merge bench: the seed shard did not give a failing and a passing unit');
    const f0 = failing.failures[0];
    const files = [f0.reproducer!, f0.reproducer!.replace(/\.json$/, '.fsxops'), f0.report!].map((p) => fs.readFileSync(path.join(seedRun.dir, p)));
    // Every fsx unit saves its state coverage map; the merge unions them.
    const coverageOf = (r: UnitResult) => (r.coverage === undefined ? undefined : fs.readFileSync(path.join(seedRun.dir, r.coverage)));
    const maps = { fail: coverageOf(failing), pass: coverageOf(passing) };

    const root = path.join(tmp, 'results');
    const id = campaignId(c);
    const failEvery = units / failures;
    let made = 0;
    for (let k = 1; k <= shards; k++) {
      const dir = path.join(root, `shard-${k}-of-${shards}`);
      fs.mkdirSync(path.join(dir, 'units'), { recursive: true });
      let count = 0;
      for (let index = k - 1; index < units; index += shards) {
        const fails = Math.floor((index + 1) / failEvery) > Math.floor(index / failEvery);
        const uid = `fsx-t0-bench-u0-s${index + 1}`;
        const r: UnitResult = { ...(fails ? failing : passing), id: uid, index, seed: index + 1, failures: [] };
        const map = fails ? maps.fail : maps.pass;
        if (map !== undefined) {
          r.coverage = path.join('failures', uid, `fsx-bench-s${index + 1}.coverage.json`);
          fs.mkdirSync(path.join(dir, 'failures', uid), { recursive: true });
          fs.writeFileSync(path.join(dir, r.coverage), map);
        } else delete r.coverage;
        if (fails) {
          const sub = path.join('failures', uid);
          fs.mkdirSync(path.join(dir, sub), { recursive: true });
          const names = ['min.json', 'min.fsxops', 'min.html'].map((x) => path.join(sub, `fsx-bench-s${index + 1}.${x}`));
          names.forEach((n, i) => fs.writeFileSync(path.join(dir, n), files[i]));
          const sig = made % distinct;
          const signature = { ...f0.signature, shape: `${f0.signature.shape} ${'write '.repeat(sig)}`.trim() };
          r.failures = [{ ...f0, signature, sigId: `sig-bench${String(sig).padStart(4, '0')}`, reproducer: names[0], report: names[2], log: names[0] }];
          made++;
        }
        fs.writeFileSync(path.join(dir, 'units', `${uid}.json`), JSON.stringify(r, null, 1) + '\n');
        count++;
      }
      const info: ShardInfo = {
        format: SHARD_FORMAT, version: 1, campaign: c.name, campaignId: id, shard: { k, n: shards }, complete: true, units: count,
        expectedUnits: count, campaignUnits: units, budgetSeconds: null, coverage: 'bench', harness: 'bench',
      };
      fs.writeFileSync(path.join(dir, 'shard.json'), JSON.stringify(info, null, 2) + '\n');
    }

    const out = path.join(tmp, 'merged');
    fs.mkdirSync(out);
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    const m = mergeShards([root], out, []);
    fs.writeFileSync(path.join(out, 'merged.json'), mergedJson(m));
    fs.writeFileSync(path.join(out, 'junit.xml'), mergedJunit(m));
    fs.writeFileSync(path.join(out, 'index.html'), indexHtml(m));
    const ms = performance.now() - t0;
    const cpu = process.cpuUsage(cpu0);
    console.log(`merged ${shards} shard folders, ${m.units.merged} units (${'classes' in m.coverage ? m.coverage.classes.reduce((n, k) => n + k.units, 0) : 0} coverage maps), ${m.totals.failures} saved failures into ${m.totals.distinct} distinct in ${(ms / 1000).toFixed(2)} s (CPU ${((cpu.user + cpu.system) / 1e6).toFixed(2)} s)`);
    console.log(JSON.stringify({ command: 'bench campaign-merge', shards, units: m.units.merged, failures: m.totals.failures, distinct: m.totals.distinct, ms: Math.round(ms), cpuMs: Math.round((cpu.user + cpu.system) / 1000) }));
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

main();
