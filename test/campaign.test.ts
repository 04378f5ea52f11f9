/**
 * Campaigns (docs/campaigns.md): the campaign file's validation, sharding, signatures and known
 * signatures, the engine plans (validated against the engines' published schemas), resuming,
 * and merging. The runs with shards as separate processes (the 4-shard acceptance run, one shard
 * killed inside a unit; the Slurm and GitHub plans run locally) are in test/long/campaign.test.ts.
 */
import { strict as assert } from 'assert';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { parse as parseYaml, parseAllDocuments } from 'yaml';
import { shardFromEnv } from '../cli/campaign-command';
import { campaignId, parseCampaign } from '../properties/campaign/config';
import { mergeShards, MergeResult } from '../properties/campaign/merge';
import { runShard } from '../properties/campaign/shard';
import { shardUnits, unitCount } from '../properties/campaign/units';
import { toYaml } from '../properties/campaign/yaml';
import { serializeOpLog } from '../properties/fsx/oplog';
import { loadKnownSignatures } from '../properties/signatures';
import { BIN, inProcess as cli } from './support/bin';
import { CAMPAIGN, stable, writeCampaign } from './support/campaign';

// The engines' schemas, from the npm registry (offline at test time): kubernetes-models ships the
// Kubernetes API's published OpenAPI schema compiled into validators; @action-validator/core
// checks a workflow against SchemaStore's published github-workflow JSON schema.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { Job } = require('kubernetes-models/batch/v1/Job') as { Job: new (d: unknown) => { validate(): void } };
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { ConfigMap } = require('kubernetes-models/v1/ConfigMap') as { ConfigMap: new (d: unknown) => { validate(): void } };
// eslint-disable-next-line @typescript-eslint/no-require-imports
const actionValidator = require('@action-validator/core') as { validateWorkflow(src: string): { errors: unknown[] } };

describe('campaigns', () => {
  let tmp: string;
  before(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'iomap-campaign-test-'));
  });
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  describe('the campaign file', () => {
    const bad: [string, unknown, RegExp][] = [
      ['no targets', { fsx: { seeds: { count: 1 } } }, /targets: expected an array/],
      ['empty targets', { targets: [], fsx: { seeds: { count: 1 } } }, /targets: expected at least 1 entry/],
      ['unknown top-level field', { targets: ['reference'], fsx: { seeds: { count: 1 } }, shard: 3 }, /^c\.json: shard: unknown field/],
      ['bad block size', { targets: [{ adapter: 'reference', options: { blockSize: 1000 } }], fsx: { seeds: { count: 1 } } }, /targets\[0\]\.options\.blockSize: expected a power of two/],
      ['folio below block', { targets: ['reference'], setups: [{ blockSize: 8192, folioSize: 4096 }], fsx: { seeds: { count: 1 } } }, /setups\[0\]\.folioSize: 4096 is smaller than blockSize 8192/],
      ['duplicate target name', { targets: ['reference', 'reference'], fsx: { seeds: { count: 1 } } }, /targets\[1\]\.name: "reference" is used by another target/],
      ['no seeds and no budget', { targets: ['reference'], fsx: { ops: 10 } }, /fsx\.seeds: required unless a budget is given/],
      ['negative ops', { targets: ['reference'], fsx: { ops: -5, seeds: { count: 1 } } }, /fsx\.ops: expected an integer in \[1, /],
      ['unknown op weight', { targets: ['reference'], fsx: { seeds: { count: 1 }, weights: { frobnicate: 1 } } }, /fsx\.weights\.frobnicate: unknown field/],
      ['unknown suite', { targets: ['reference'], check: { suites: ['nope'] } }, /check\.suites\[0\]: unknown suite "nope"/],
      ['neither fsx nor check', { targets: ['reference'] }, /fsx: a campaign needs "fsx", "check" or both/],
      ['budget without fsx', { targets: ['reference'], check: {}, budget: { seconds: 10 } }, /budget: a time budget needs "fsx"/],
      ['bad k8s memory', { targets: ['reference'], fsx: { seeds: { count: 1 } }, engines: { k8s: { memory: 'lots' } } }, /engines\.k8s\.memory: expected a memory quantity/],
      ['unknown personality', { targets: ['reference'], setups: [{ personality: 'zfs' }], fsx: { seeds: { count: 1 } } }, /setups\[0\]\.personality: expected one of generic, xfs, ext4, got "zfs"/],
      ['bad name', { name: 'Nightly Run', targets: ['reference'], fsx: { seeds: { count: 1 } } }, /name: expected a lowercase name/],
    ];
    for (const [what, c, re] of bad) {
      it(`refuses ${what}, naming the field`, () => {
        assert.throws(() => parseCampaign(JSON.stringify(c), '/x/c.json'), (e: Error) => re.test(e.message) && !e.message.includes('\n'));
      });
    }

    it('CLI: a bad campaign is one line on stderr and exit 2; a bad adapter too', async () => {
      const f = writeCampaign(tmp, { targets: ['reference'], fsx: { ops: 0, seeds: { count: 1 } } }, 'bad.json');
      let r = await cli(['campaign', 'run', f, '--out', path.join(tmp, 'bad-out')]);
      assert.equal(r.code, 2);
      assert.match(r.err, /^iomap-harness: bad\.json: fsx\.ops: expected an integer in \[1, \d+\], got 0\n$/);
      const g = writeCampaign(tmp, { targets: ['mutant:no-such-bug'], fsx: { seeds: { count: 1 } } }, 'bad2.json');
      r = await cli(['campaign', 'run', g, '--out', path.join(tmp, 'bad-out')]);
      assert.equal(r.code, 2);
      assert.match(r.err, /^iomap-harness: campaign: target mutant:no-such-bug: .*\n$/);
      r = await cli(['campaign', 'plan', g, '--engine', 'nomad', '--shards', '2']);
      assert.equal(r.code, 2);
      assert.match(r.err, /--engine: expected one of k8s, github, slurm/);
    });

    it('CLI: campaign --help lists the subcommands; a flag of another subcommand is refused', async () => {
      const h = await cli(['campaign', '--help']);
      assert.equal(h.code, 0);
      assert.match(h.out, /run FILE .*plan FILE .*merge DIR/s);
      assert.match(h.out, /JOB_COMPLETION_INDEX/);
      const r = await cli(['campaign', 'merge', tmp, '--shard', '1/2']);
      assert.equal(r.code, 2);
      assert.match(r.err, /^iomap-harness: campaign merge: --shard is not an option of merge \(it takes --out, --campaign, --known, --run-id, --previous, --quiet, --json\)\n$/);
      const s = await cli(['campaign', 'launch', 'x.json']);
      assert.equal(s.code, 2);
      assert.match(s.err, /campaign: expected run, plan or merge, got "launch"/);
    });

    it('the shard index comes from the engine variable, 0-based, and is checked', () => {
      const none = { JOB_COMPLETION_INDEX: '', SLURM_ARRAY_TASK_ID: '' };
      assert.throws(() => shardFromEnv(undefined, '3', undefined, none), /no shard index: JOB_COMPLETION_INDEX or SLURM_ARRAY_TASK_ID is not set/);
      assert.throws(() => shardFromEnv(undefined, '3', undefined, { JOB_COMPLETION_INDEX: '3' }), /JOB_COMPLETION_INDEX=3: expected a shard index in \[0, 2\]/);
      assert.throws(() => shardFromEnv(undefined, '3', undefined, { JOB_COMPLETION_INDEX: '0', SLURM_ARRAY_TASK_ID: '1' }), /both JOB_COMPLETION_INDEX and SLURM_ARRAY_TASK_ID are set/);
      assert.throws(() => shardFromEnv(undefined, '3', 'github', { JOB_COMPLETION_INDEX: '0' }), /GitHub passes --shard K\/N/);
      assert.deepEqual(shardFromEnv(undefined, '3', undefined, { JOB_COMPLETION_INDEX: '0' }), { k: 1, n: 3 });
      assert.deepEqual(shardFromEnv(undefined, '3', 'slurm', { SLURM_ARRAY_TASK_ID: '1', JOB_COMPLETION_INDEX: '0' }), { k: 2, n: 3 });
      assert.deepEqual(shardFromEnv('2/4', undefined, undefined, none), { k: 2, n: 4 });
      // The binary reads the process's own environment.
      const f = writeCampaign(tmp, { targets: ['reference'], fsx: { ops: 5, seeds: { count: 1 }, coverage: false } }, 'idx.json');
      const out = path.join(tmp, 'idx-out');
      const r = spawnSync(process.execPath, [BIN, 'campaign', 'run', f, '--shards', '3', '--out', out, '-q'], { env: { ...process.env, JOB_COMPLETION_INDEX: '', SLURM_ARRAY_TASK_ID: '2' }, encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
      assert.ok(fs.existsSync(path.join(out, 'shard-3-of-3', 'shard.json')));
    });
  });

  describe('units and shards', () => {
    it('the shards of any split partition the campaign\'s units', () => {
      const c = parseCampaign(JSON.stringify({ ...CAMPAIGN, setups: [{}, { blockSize: 1024 }], check: { suites: ['seek', 'fiemap'], seeds: [1, 2] } }), '/x/c.json');
      const total = unitCount(c)!;
      assert.equal(total, 2 * 3 * 2 * 2 + 6 * 3 * 2);
      for (const n of [1, 3, 4, 7, total + 2]) {
        const ids: string[] = [];
        for (let k = 1; k <= n; k++) for (const u of shardUnits(c, { k, n })) ids.push(u.id);
        assert.equal(ids.length, total, `N=${n}`);
        assert.equal(new Set(ids).size, total, `N=${n}: a unit in two shards`);
      }
    });

    it('a campaign id ignores engine settings and where the checkout is, not what runs', () => {
      const a = parseCampaign(JSON.stringify({ ...CAMPAIGN, targets: ['./my-fs.js'] }), '/a/c.json');
      const b = parseCampaign(JSON.stringify({ ...CAMPAIGN, targets: ['./my-fs.js'], engines: { k8s: { image: 'x:1' } } }), '/b/c.json');
      const d = parseCampaign(JSON.stringify({ ...CAMPAIGN, targets: ['./my-fs.js'], fsx: { ...CAMPAIGN.fsx, ops: 201 } }), '/a/c.json');
      assert.equal(a.targets[0].adapter, '/a/my-fs.js');
      assert.equal(campaignId(a), campaignId(b));
      assert.notEqual(campaignId(a), campaignId(d));
    });
  });

  describe('plans', () => {
    /** `campaign plan` for each engine, as a user runs it: the files it writes. */
    const written = new Map<string, Map<string, string>>();
    before(async () => {
      const file = writeCampaign(tmp, CAMPAIGN, 'plan.json');
      for (const engine of ['k8s', 'github', 'slurm']) {
        const out = path.join(tmp, `plan-${engine}`);
        const r = await cli(['campaign', 'plan', file, '--engine', engine, '--shards', '4', '--out', out]);
        assert.equal(r.code, 0, r.err);
        written.set(engine, new Map(fs.readdirSync(out).map((n) => [n, fs.readFileSync(path.join(out, n), 'utf8')])));
      }
    });

    it('the YAML writer round-trips through a YAML parser', () => {
      const v = { a: 'on', 'on': { b: [1, 'two', { c: 'x\ny\n', d: [] }, [true, null], 'sh\n  if [ "$x" -gt 1 ]; then\n    exit 1\nfi\n'] }, e: {}, f: ' lead\nx', g: 'no newline\nat end' };
      assert.deepEqual(parseYaml(toYaml(v)), v);
    });

    it('Kubernetes: the file written holds a ConfigMap and an Indexed Job that validate against their schemas; a broken one does not', () => {
      const files = written.get('k8s')!;
      assert.deepEqual([...files.keys()].sort(), ['nightly-job.yaml', 'nightly-merge.yaml']);
      const docs = parseAllDocuments(files.get('nightly-job.yaml')!).map((d) => d.toJSON() as Record<string, unknown>);
      const [cm, job] = docs as [{ data: Record<string, string> }, { spec: Record<string, unknown> & { template: { spec: { containers: { command: string[] }[] } } } }];
      new ConfigMap(cm).validate();
      new Job(job).validate();
      assert.deepEqual(JSON.parse(cm.data['campaign.json']), CAMPAIGN, 'the ConfigMap carries the campaign file');
      assert.equal(job.spec.completionMode, 'Indexed');
      assert.equal(job.spec.completions, 4);
      assert.match(job.spec.template.spec.containers[0].command.join(' '), /campaign run \/campaign\/campaign\.json --shards 4 --engine k8s --run-id "\$RUN_ID"/);
      assert.deepEqual((job.spec.template.spec.containers[0] as unknown as { env: unknown }).env, [{ name: 'RUN_ID', valueFrom: { fieldRef: { fieldPath: "metadata.labels['controller-uid']" } } }]);
      // The merge Job, applied when the shards' Job is over, on the same volume.
      const [merge] = parseAllDocuments(files.get('nightly-merge.yaml')!).map((d) => d.toJSON() as { spec: { template: { spec: { containers: { command: string[] }[] } } } });
      new Job(merge).validate();
      assert.match(merge.spec.template.spec.containers[0].command[2], /campaign merge \/results\/nightly --campaign \/campaign\/campaign\.json --out \/results\/nightly-merged/);
      // The schema really checks: a wrong type, a missing required field, a bad enum are refused.
      assert.throws(() => new Job({ ...job, spec: { ...job.spec, completions: 'four' } }).validate(), /spec\/completions must be integer/);
      assert.throws(() => new Job({ ...job, spec: { ...job.spec, completionMode: 'indexed' } }).validate(), /completionMode must be equal to one of the allowed values/);
      const noName = JSON.parse(JSON.stringify(job));
      delete noName.spec.template.spec.containers[0].name;
      assert.throws(() => new Job(noName).validate(), /containers\/0 must have required property name/);
      assert.throws(() => new ConfigMap({ ...cm, data: { 'campaign.json': 7 } }).validate(), /must be string/);
    });

    it('GitHub Actions: the workflow written validates against the workflow schema; a broken one does not', () => {
      const files = written.get('github')!;
      assert.deepEqual([...files.keys()], ['iomap-harness-nightly.yml']);
      const y = files.get('iomap-harness-nightly.yml')!;
      assert.deepEqual(actionValidator.validateWorkflow(y).errors, []);
      const wf = parseYaml(y) as { jobs: { shard: { strategy: { matrix: { shard: number[] } } } } };
      assert.deepEqual(wf.jobs.shard.strategy.matrix.shard, [1, 2, 3, 4]);
      assert.match(y, /campaign run \S*plan\.json --shard \$\{\{ matrix\.shard \}\}\/4 --run-id \$\{\{ github\.run_id \}\}/);
      assert.notDeepEqual(actionValidator.validateWorkflow(y.replace(/runs-on/g, 'run-on')).errors, []);
      assert.notDeepEqual(actionValidator.validateWorkflow(y.replace('strategy:', 'stratgy:')).errors, []);
      assert.notDeepEqual(actionValidator.validateWorkflow(y.replace('"on":', '"om":')).errors, []);
    });

    it('Slurm: a job array over the shard indices and a merge job, both valid bash', () => {
      const files = written.get('slurm')!;
      assert.deepEqual([...files.keys()].sort(), ['nightly-merge.sbatch', 'nightly-shards.sbatch']);
      const shards = files.get('nightly-shards.sbatch')!;
      assert.match(shards, /^#SBATCH --array=0-3$/m);
      assert.match(shards, new RegExp(`campaign run ${path.join(tmp, 'plan.json').replace(/[.]/g, '\\.')} --shards 4 --engine slurm --run-id "\\$SLURM_ARRAY_JOB_ID"`));
      assert.match(files.get('nightly-merge.sbatch')!, /campaign merge /);
      for (const text of files.values()) {
        assert.match(text, /^#!\/bin\/bash\n(#SBATCH --[a-z-]+=\S+\n)+/, 'the #SBATCH lines come first, where sbatch reads them');
        const r = spawnSync('bash', ['-n', '-c', text]);
        assert.equal(r.status, 0, String(r.stderr));
      }
    });

    it('Kubernetes with an object store: an emptyDir, the sync script, both Jobs valid; the settings are checked', async () => {
      const withStore = (store: unknown, extra: object = {}) => ({ ...CAMPAIGN, engines: { k8s: { objectStore: store, ...extra } } });
      const bad: [unknown, object, RegExp][] = [
        [{ url: 's3://b/p' }, { resultsClaim: 'x' }, /engines\.k8s\.objectStore: give resultsClaim \(a volume\) or objectStore, not both/],
        [{ url: 'minio://b/p' }, {}, /engines\.k8s\.objectStore\.sync: required for minio: URLs/],
        [{ url: 's3://b/p/' }, {}, /engines\.k8s\.objectStore\.url: expected a URL/],
        [{ url: 's3://b/my p' }, {}, /engines\.k8s\.objectStore\.url: expected a URL/],
        [{ url: 's3://b/p', sync: 'aws s3 sync; rm -rf /' }, {}, /engines\.k8s\.objectStore\.sync: expected a command/],
        [{ url: 's3://b/p', everySeconds: 1 }, {}, /engines\.k8s\.objectStore\.everySeconds: expected an integer in \[10, 86400\]/],
      ];
      for (const [store, extra, re] of bad) assert.throws(() => parseCampaign(JSON.stringify(withStore(store, extra)), '/x/c.json'), re, JSON.stringify(store));
      assert.equal(parseCampaign(JSON.stringify(withStore({ url: 'gs://b/p' })), '/x/c.json').engines.k8s.objectStore!.sync, 'gsutil -m rsync -r');

      const f = writeCampaign(tmp, withStore({ url: 's3://bucket/iomap/nightly', everySeconds: 600 }), 'plan-store.json');
      const out = path.join(tmp, 'plan-store');
      const r = await cli(['campaign', 'plan', f, '--engine', 'k8s', '--shards', '4', '--out', out]);
      assert.equal(r.code, 0, r.err);
      type PodJob = { spec: { template: { spec: { containers: { command: string[] }[]; volumes: Record<string, unknown>[] } } } };
      const [, job] = parseAllDocuments(fs.readFileSync(path.join(out, 'nightly-job.yaml'), 'utf8')).map((d) => d.toJSON() as PodJob);
      const [merge] = parseAllDocuments(fs.readFileSync(path.join(out, 'nightly-merge.yaml'), 'utf8')).map((d) => d.toJSON() as PodJob);
      for (const j of [job, merge]) {
        new Job(j).validate();
        assert.deepEqual(j.spec.template.spec.volumes.find((v) => v.name === 'results'), { name: 'results', emptyDir: {} });
        const script = j.spec.template.spec.containers[0].command[2];
        assert.equal(spawnSync('sh', ['-n', '-c', script]).status, 0, script);
      }
      const script = job.spec.template.spec.containers[0].command[2];
      assert.match(script, /^store="s3:\/\/bucket\/iomap\/nightly\/\$RUN_ID\/\$shard"$/m);
      assert.match(script, /^aws s3 sync "\$store" "\$dir" \|\| /m);
      assert.match(script, /sleep 600/);
      assert.match(script, /^ {2}aws s3 sync \/tmp\/snap "\$store"$/m);
      assert.match(merge.spec.template.spec.containers[0].command[2], /aws s3 sync \/results\/nightly-merged "s3:\/\/bucket\/iomap\/nightly-merged"/);
    });

    it('plan refuses a campaign whose built-in target does not exist (one line, exit 2, nothing written)', async () => {
      const f = writeCampaign(tmp, { ...CAMPAIGN, targets: ['reference', 'mutant:no-such-bug'] }, 'plan-bad.json');
      const out = path.join(tmp, 'plan-bad');
      const r = await cli(['campaign', 'plan', f, '--engine', 'k8s', '--shards', '4', '--out', out]);
      assert.equal(r.code, 2);
      assert.match(r.err, /^iomap-harness: campaign: target mutant:no-such-bug: unknown mutant "no-such-bug" .*\n$/);
      assert.ok(!fs.existsSync(out));
      // A module path need not exist where the plan is made (it is in the engine's image).
      const g = writeCampaign(tmp, { ...CAMPAIGN, targets: ['/opt/myfs/adapter.js'] }, 'plan-module.json');
      assert.equal((await cli(['campaign', 'plan', g, '--engine', 'k8s', '--shards', '2', '--out', path.join(tmp, 'plan-module')])).code, 0);
    });
  });

  describe('docs', () => {
    const ROOT = path.resolve(__dirname, '..', '..');
    const num = (t: string) => Number(t.replace(/,/g, ''));
    /** A markdown section's table rows (cells trimmed), from the heading that starts with `heading` to the next. */
    function tableRows(file: string, heading: string): string[][] {
      const text = fs.readFileSync(path.join(ROOT, 'docs', file), 'utf8');
      const from = text.indexOf(`\n## ${heading}`);
      assert.ok(from >= 0, `${file}: no section ${heading}`);
      const section = text.slice(from + 1).split(/\n## /)[0];
      return section.split('\n').filter((l) => /^\|.*\|$/.test(l) && !/^\|[-| ]+\|$/.test(l)).map((l) => l.slice(1, -1).split('|').map((c) => c.trim()));
    }

    it('the cost model quotes the campaign-cost benchmark: each target\'s ops per CPU-second, the CPU-hours per 10^9 ops, the worked example', () => {
      const bench = new Map(tableRows('benchmarks.md', 'Campaign cost').slice(1).map((r) => [r[0], num(r[4])]));
      const byLabel: [RegExp, string][] = [[/^`naive`/, 'naive'], [/without power cuts/, 'reference crash=0'], [/with power cuts \(the default\)/, 'reference']];
      const model = tableRows('campaigns.md', 'Cost model').slice(1).filter((r) => /^\d/.test(r[1]));
      assert.equal(model.length, byLabel.length);
      for (const [re, target] of byLabel) {
        const row = model.find((r) => re.test(r[0]));
        assert.ok(row !== undefined, `cost model: no row for ${target}`);
        assert.ok(bench.has(target), `benchmarks.md "Campaign cost": no row ${target}`);
        assert.equal(num(row[1]), bench.get(target), `${target}: the cost model's figure is not the benchmark's`);
        assert.equal(row[2], `${(1e9 / bench.get(target)! / 3600).toFixed(1)} CPU-hours`, `${target}: 10^9 ops cost`);
      }
      const text = fs.readFileSync(path.join(ROOT, 'docs', 'campaigns.md'), 'utf8').replace(/\s+/g, ' ');
      const ex = /\(R = ([\d,]+)\) in an 8-hour window \(T = ([\d,]+) s\): N = ceil\(10\^9 \/ \(([\d,]+) × ([\d,]+)\)\) = ceil\(([\d.]+)\) = (\d+) shards; in a 4-hour window, (\d+)\./.exec(text);
      assert.ok(ex !== null, 'the worked example');
      const [r, t] = [num(ex[1]), num(ex[2])];
      assert.equal(r, bench.get('reference'));
      assert.equal(t, 8 * 3600);
      assert.deepEqual([num(ex[3]), num(ex[4])], [r, t]);
      assert.equal(ex[5], (1e9 / (r * t)).toFixed(1));
      assert.equal(Number(ex[6]), Math.ceil(1e9 / (r * t)));
      assert.equal(Number(ex[7]), Math.ceil(1e9 / (r * t / 2)));
    });
  });

  describe('run, kill, resume, merge', () => {
    it('a unit run again writes the same result; a shard run again runs nothing', () => {
      const c = parseCampaign(JSON.stringify({ ...CAMPAIGN, fsx: { ops: 100, seeds: { count: 2 } }, check: undefined }), path.join(tmp, 'campaign.json'));
      const root = path.join(tmp, 'again');
      const first = runShard(c, '{}', { k: 2, n: 3 }, root);
      assert.ok(first.ran > 0);
      const second = runShard(c, '{}', { k: 2, n: 3 }, root);
      assert.equal(second.ran, 0);
      // Lose one failing unit's result (killed after its logs were written, before its result).
      const failing = first.results.find((x) => x.failures.length > 0)!;
      fs.rmSync(path.join(first.dir, 'units', `${failing.id}.json`));
      fs.writeFileSync(path.join(first.dir, 'failures', failing.id, 'half-written.json'), '{');
      const third = runShard(c, '{}', { k: 2, n: 3 }, root);
      assert.equal(third.ran, 1);
      assert.deepEqual(third.results.map(stable), first.results.map(stable));
      assert.ok(!fs.existsSync(path.join(first.dir, 'failures', failing.id, 'half-written.json')));
      // Another campaign's shard in the same folder is refused.
      const other = parseCampaign(JSON.stringify({ ...CAMPAIGN, fsx: { ...CAMPAIGN.fsx, ops: 201 } }), path.join(tmp, 'campaign.json'));
      assert.throws(() => runShard(other, '{}', { k: 2, n: 3 }, root), /holds shard 2\/3 of campaign nightly .* use another --out/);
    });

    it('a run id: a retry of the same run resumes; a folder of an earlier run (last night) is cleared and run afresh', async () => {
      const f = writeCampaign(tmp, { name: 'runs', targets: ['mutant:map-blocks-hole'], fsx: { ops: 50, seeds: { count: 2 }, coverage: false } }, 'runs.json');
      const out = path.join(tmp, 'runs');
      const run = (id: string) => cli(['campaign', 'run', f, '--shard', '1/1', '--out', out, '--run-id', id]);
      let r = await run('night-1');
      assert.equal(r.code, 1, r.err);
      assert.match(r.out, /2 units \(2 run now\)/);
      r = await run('night-1');
      assert.match(r.out, /2 units \(0 run now\)/, 'a retry resumes');
      // Last night's leftovers: a stray file in a unit's failure folder, gone after the clear.
      const dir = path.join(out, 'shard-1-of-1');
      const unit = fs.readdirSync(path.join(dir, 'failures'))[0];
      fs.writeFileSync(path.join(dir, 'failures', unit, 'stale.json'), '{}');
      r = await run('night-2');
      assert.equal(r.code, 1, r.err);
      assert.match(r.out, /^shard 1\/1: the folder held run night-1: cleared, starting run night-2$/m);
      assert.match(r.out, /2 units \(2 run now\)/);
      assert.ok(!fs.existsSync(path.join(dir, 'failures', unit, 'stale.json')));
      assert.equal(JSON.parse(fs.readFileSync(path.join(dir, 'shard.json'), 'utf8')).runId, 'night-2');
      r = await cli(['campaign', 'run', f, '--shard', '1/1', '--out', out, '--run-id', '']);
      assert.equal(r.code, 2);
      assert.match(r.err, /--run-id: expected letters, digits.*got "" \(is the engine variable that gives it set\?\)\n$/);
    });

    it('merge takes the newest run of a reused folder (or --run-id), names the other run\'s folders, and clears its own earlier output', async () => {
      const f = writeCampaign(tmp, { name: 'reuse', targets: ['mutant:map-blocks-hole', 'naive'], fsx: { ops: 50, seeds: { count: 2 }, coverage: false } }, 'reuse.json');
      const out = path.join(tmp, 'reuse');
      const run = (k: number, n: number, id: string) => cli(['campaign', 'run', f, '--shard', `${k}/${n}`, '--out', out, '--run-id', id, '-q']);
      // Last night: 2 shards. Tonight: 3 shards, the third never ran.
      for (const k of [1, 2]) assert.equal((await run(k, 2, 'night-1')).code, k === 1 ? 1 : 0);
      const merged = path.join(tmp, 'reuse-merged');
      let m = await cli(['campaign', 'merge', out, '--out', merged, '--json']);
      assert.equal(m.code, 1, m.err);
      const night1 = fs.readdirSync(path.join(merged, 'failures'));
      assert.equal(night1.length, 1);
      fs.copyFileSync(path.join(merged, 'merged.json'), path.join(tmp, 'reuse-night1.json'));
      fs.mkdirSync(path.join(merged, 'failures', 'naive-sig-of-last-night'));
      await new Promise((res) => setTimeout(res, 20));
      for (const k of [1, 2]) await run(k, 3, 'night-2');
      m = await cli(['campaign', 'merge', out, '--out', merged]);
      assert.equal(m.code, 1, m.err);
      assert.match(m.out, /^campaign reuse \([0-9a-f]+\), run night-2: 2 of 3 shards, 3 of 4 units$/m);
      assert.match(m.out, /^missing shards: 3 \(of 3\)$/m);
      assert.match(m.out, /^not merged: 2 shard folders of other runs than run night-2 \(.*shard-1-of-2, .*shard-2-of-2\); --run-id ID merges another$/m);
      assert.deepEqual(fs.readdirSync(path.join(merged, 'failures')), night1, 'last night\'s reproducers are gone from the reused merge folder');
      assert.match(fs.readFileSync(path.join(merged, 'index.html'), 'utf8'), /Missing shards: 3 of 3\.[\s\S]*Not merged: 2 shard folders of other runs than run night-2\./);
      assert.match(fs.readFileSync(path.join(merged, 'junit.xml'), 'utf8'), /<testcase classname="reuse\.shards" name="shards \(2 of 3\)"[^>]*>\n\s*<skipped message="missing shards 3"\/>/);
      // Since when: the failures night 1 had keep night 1 as their start; the rest start now.
      const n1 = JSON.parse(fs.readFileSync(path.join(tmp, 'reuse-night1.json'), 'utf8')) as MergeResult;
      const n2 = JSON.parse(fs.readFileSync(path.join(merged, 'merged.json'), 'utf8')) as MergeResult;
      assert.ok(n2.failures.length > 0);
      for (const x of n2.failures) assert.equal(x.since?.run, n1.failures.some((y) => y.key === x.key) ? 'night-1' : 'night-2', x.key);
      assert.match(m.out, /^since the previous merge \(\d{4}-\d\d-\d\d, run night-1\): \d+ distinct failures appeared, \d+ gone$/m);
      // A failure of the previous merge that is not found any more is named as gone.
      const prev = { ...n2, failures: [...n2.failures, { ...n2.failures[0], key: 'naive/sig-000000000000', message: 'an old bug', since: { date: '2026-01-01', run: 'night-0' } }] };
      fs.writeFileSync(path.join(tmp, 'reuse-prev.json'), JSON.stringify(prev));
      m = await cli(['campaign', 'merge', out, '--out', path.join(tmp, 'reuse-merged-2'), '--previous', path.join(tmp, 'reuse-prev.json')]);
      assert.match(m.out, /: 0 distinct failures appeared, 1 gone\n {2}gone {2}naive\/sig-000000000000 \(found since 2026-01-01\): an old bug$/m);
      assert.match(m.out, /\[sig-[0-9a-f]+\]/);
      assert.ok(m.out.includes(`since ${n2.failures[0].since!.date} (run ${n2.failures[0].since!.run})`), m.out);
      m = await cli(['campaign', 'merge', out, '--out', path.join(tmp, 'reuse-merged-3'), '--previous', f]);
      assert.equal(m.code, 2);
      assert.match(m.err, /--previous .*reuse\.json: not a merged\.json of campaign merge\n$/);
      m = await cli(['campaign', 'merge', out, '--out', merged, '--run-id', 'night-1', '--json']);
      assert.equal(m.code, 1);
      const j = JSON.parse(m.out.trim().split('\n').pop()!);
      assert.equal(j.shards.run, 'night-1');
      assert.deepEqual(j.shards.missing, []);
      assert.deepEqual(fs.readdirSync(path.join(merged, 'failures')), night1);
      m = await cli(['campaign', 'merge', out, '--out', merged, '--run-id', 'night-3']);
      assert.equal(m.code, 2);
      assert.match(m.err, /no shard folder of run night-3 \(runs found: night-1, night-2\)/);
    });

    it('a time budget: units run until the shard spent it; a restart counts what earlier runs spent', () => {
      const c = parseCampaign(JSON.stringify({ name: 'budget', targets: ['mutant:map-blocks-hole'], fsx: { ops: 50 }, budget: { seconds: 1 } }), path.join(tmp, 'campaign.json'));
      assert.equal(unitCount(c), null);
      const root = path.join(tmp, 'budget');
      const first = runShard(c, '{}', { k: 2, n: 2 }, root);
      const spent = first.results.reduce((t, r) => t + r.elapsedMs, 0);
      assert.ok(first.ran >= 1 && spent >= 1000, `${first.ran} units in ${spent} ms`);
      assert.equal(first.info.complete, true);
      assert.deepEqual(first.results.map((r) => r.seed), first.results.map((_, i) => 2 + 2 * i), 'shard 2/2 runs seeds 2, 4, 6, ...');
      const again = runShard(c, '{}', { k: 2, n: 2 }, root);
      assert.equal(again.ran, 0, 'the budget was already spent');
    });

    it('a setup a target cannot take skips that target\'s units with the reason', () => {
      const c = parseCampaign(JSON.stringify({ name: 'skips', targets: ['reference', 'naive'], setups: [{}, { poison: 7, personality: 'xfs' }], fsx: { ops: 30, seeds: { count: 1 } } }), path.join(tmp, 'campaign.json'));
      const root = path.join(tmp, 'skips');
      const run = runShard(c, '{}', { k: 1, n: 1 }, root);
      const of = (t: string, s: number) => run.results.find((r) => r.target === t && r.setupIndex === s)!;
      assert.equal(of('naive', 1).status, 'skip');
      assert.match(of('naive', 1).skipped!, /the target has no setup poison \(only reference and its mutants do\)/);
      assert.equal(of('naive', 1).ops, 0);
      for (const [t, s] of [['naive', 0], ['reference', 0], ['reference', 1]] as const) assert.equal(of(t, s).status, 'pass', `${t} setup ${s}`);
      const m = mergeShards([root], path.join(root, 'm'), []);
      assert.equal(m.totals.skippedUnits, 1);
      // A unit whose coverage map is lost is counted, not silently dropped from the union.
      fs.rmSync(path.join(run.dir, of('naive', 0).coverage!));
      const m2 = mergeShards([root], path.join(root, 'm2'), []);
      assert.ok('classes' in m.coverage && 'classes' in m2.coverage);
      assert.equal(m2.coverage.unitsWithout, 1);
      assert.equal(m.coverage.unitsWithout, 0);
    });

    it('a unit the harness itself fails on is recorded as a harness-error failure, and the shard goes on', () => {
      const root = path.join(tmp, 'harness-error');
      fs.mkdirSync(root, { recursive: true });
      const mod = path.join(root, 'corrupt.js');
      const dist = path.resolve(__dirname, '..');
      fs.writeFileSync(mod, [
        `const { createNaiveAdapter } = require(${JSON.stringify(path.join(dist, 'adapters', 'naive'))});`,
        `const b = require(${JSON.stringify(path.join(dist, 'test', 'support', 'broken-adapters'))});`,
        'exports.createAdapter = (o) => b.corruptRead(createNaiveAdapter(o), { at: 3 });',
      ].join('\n'));
      const c = parseCampaign(JSON.stringify({ name: 'flaky', targets: [mod, 'naive'], fsx: { ops: 50, seeds: { count: 1 }, coverage: false } }), path.join(root, 'campaign.json'));
      // The failure folder cannot be made (a file where it should be): saving the failing log throws.
      fs.mkdirSync(path.join(root, 'shard-1-of-1'), { recursive: true });
      fs.writeFileSync(path.join(root, 'shard-1-of-1', 'failures'), 'not a folder');
      const run = runShard(c, '{}', { k: 1, n: 1 }, root);
      assert.equal(run.results.length, 2, 'the shard went on to the next unit');
      assert.equal(run.info.complete, true);
      for (const r of run.results) {
        assert.equal(r.failures.length, 1, r.id);
        assert.equal(r.failures[0].kind, 'harness-error');
        assert.match(r.failures[0].message, /ENOTDIR/);
      }
      const m = mergeShards([root], path.join(root, 'm'), []);
      assert.ok(m.failures.length >= 1 && m.failures.every((f) => f.signature.kind === 'harness-error'));
    });

    it('known signatures: a matching failure is reported as known, not new', async () => {
      const root = path.join(tmp, 'known');
      const c = parseCampaign(JSON.stringify({ ...CAMPAIGN, targets: ['mutant:map-blocks-hole'], check: undefined }), path.join(tmp, 'campaign.json'));
      runShard(c, '{}', { k: 1, n: 1 }, root);
      const m = mergeShards([root], path.join(root, 'm1'), []);
      assert.ok(m.failures.length >= 1);
      // File the first one as known: its reproducer with a note.
      const f = m.failures[0];
      const known = path.join(root, 'known-bugs');
      fs.mkdirSync(known);
      const log = JSON.parse(fs.readFileSync(path.join(root, 'm1', f.reproducer!), 'utf8'));
      log.description = 'map_blocks answers HOLE over delalloc: filed as bug 123';
      fs.writeFileSync(path.join(known, 'mbh.json'), serializeOpLog(log));
      const ks = loadKnownSignatures([known]);
      const m2 = mergeShards([root], path.join(root, 'm2'), ks);
      const hit = m2.failures.find((x) => x.key === f.key)!;
      assert.equal(hit.known?.note, 'map_blocks answers HOLE over delalloc: filed as bug 123');
      assert.equal(m2.totals.known, 1);
      // A different shape is not the same bug.
      log.ops = [...log.ops, { op: 'read', off: 0, len: 1 }];
      fs.writeFileSync(path.join(known, 'mbh.json'), serializeOpLog(log));
      const m3 = mergeShards([root], path.join(root, 'm3'), loadKnownSignatures([known]));
      assert.equal(m3.totals.known, 0);
      // A known folder entry without an expected failure is refused.
      delete log.expected;
      fs.writeFileSync(path.join(known, 'mbh.json'), serializeOpLog(log));
      assert.throws(() => loadKnownSignatures([known]), /has no expected failure/);
    });

    it('index.html: one row per distinct failure, ids unique, every link relative and still right when the merged folder moves', async () => {
      const root = path.join(tmp, 'html');
      // Two targets with the same bug: the same signature twice, one distinct failure per target.
      const f = writeCampaign(tmp, { name: 'twice', targets: [{ adapter: 'mutant:map-blocks-hole', name: 'a' }, { adapter: 'mutant:map-blocks-hole', name: 'b' }], fsx: { ops: 50, seeds: { count: 1 }, coverage: false } }, 'twice.json');
      assert.equal((await cli(['campaign', 'run', f, '--shard', '1/1', '--out', path.join(root, 'results'), '-q'])).code, 1);
      const r = await cli(['campaign', 'merge', path.join(root, 'results'), '--out', path.join(root, 'merged'), '--json']);
      assert.equal(r.code, 1, r.err);
      const m = mergeShards([path.join(root, 'results')], path.join(root, 'scratch'), []);
      assert.equal(m.failures.length, 2);
      assert.equal(m.failures[0].sigId, m.failures[1].sigId, 'the same bug on both targets');
      fs.renameSync(path.join(root, 'merged'), path.join(root, 'moved'));
      const html = fs.readFileSync(path.join(root, 'moved', 'index.html'), 'utf8');
      const ids = [...html.matchAll(/<tr [^>]*id="([^"]*)"/g)].map((x) => x[1]);
      assert.deepEqual(ids, m.failures.map((x) => x.key));
      const hrefs = [...html.matchAll(/href="([^"]*)"/g)].map((x) => x[1]);
      assert.equal(hrefs.length, 4, 'an explorer page and a log per distinct failure');
      for (const h of hrefs) {
        assert.ok(!path.isAbsolute(h) && !/^[a-z]+:/i.test(h) && !h.split('/').includes('..'), h);
        assert.ok(fs.statSync(path.join(root, 'moved', h)).isFile(), h);
      }
      assert.doesNotMatch(html, /<script|<link|src=|https?:/);
    });

    it('merge refuses folders of two campaigns and folders with no shard', async () => {
      const a = path.join(tmp, 'again');
      const b = path.join(tmp, 'known');
      let r = await cli(['campaign', 'merge', a, b, '--out', path.join(tmp, 'mm')]);
      assert.equal(r.code, 2);
      assert.match(r.err, /^iomap-harness: campaign merge: .*: shard of campaign nightly \([0-9a-f]+\), but .* merge one campaign at a time\n$/);
      const other = writeCampaign(tmp, { ...CAMPAIGN, name: 'other' }, 'other.json');
      r = await cli(['campaign', 'merge', a, '--campaign', other, '--out', path.join(tmp, 'mm')]);
      assert.equal(r.code, 2);
      assert.match(r.err, /--campaign .*other\.json is campaign other \([0-9a-f]+\), but the shards are of nightly/);
      r = await cli(['campaign', 'merge', path.join(tmp, 'mm'), '--out', path.join(tmp, 'mm2')]);
      assert.equal(r.code, 2);
      assert.match(r.err, /no shard results in it/);
    });
  });
});
