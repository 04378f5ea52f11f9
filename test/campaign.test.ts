/**
 * Campaigns (docs/campaigns.md): the campaign file's validation, sharding, signatures and known
 * signatures, the engine plans (validated against the engines' published schemas), and the
 * acceptance run: a 4-shard Kubernetes plan run locally as 4 processes with JOB_COMPLETION_INDEX
 * set, one shard killed and restarted, merged, and compared with one unsharded run.
 */
import { strict as assert } from 'assert';
import { ChildProcess, spawn, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { parse as parseYaml, parseAllDocuments } from 'yaml';
import { main } from '../cli/main';
import { Campaign, campaignId, parseCampaign } from '../properties/campaign/config';
import { mergeShards, MergeResult } from '../properties/campaign/merge';
import { planFor } from '../properties/campaign/plan';
import { runShard, UnitResult } from '../properties/campaign/shard';
import { shardUnits, unitCount } from '../properties/campaign/units';
import { toYaml } from '../properties/campaign/yaml';
import { serializeOpLog } from '../properties/fsx/oplog';
import { loadKnownSignatures } from '../properties/signatures';

// The engines' schemas, from the npm registry (offline at test time): kubernetes-models ships the
// Kubernetes API's published OpenAPI schema compiled into validators; @action-validator/core
// checks a workflow against SchemaStore's published github-workflow JSON schema.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { Job } = require('kubernetes-models/batch/v1/Job') as { Job: new (d: unknown) => { validate(): void } };
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { ConfigMap } = require('kubernetes-models/v1/ConfigMap') as { ConfigMap: new (d: unknown) => { validate(): void } };
// eslint-disable-next-line @typescript-eslint/no-require-imports
const actionValidator = require('@action-validator/core') as { validateWorkflow(src: string): { errors: unknown[] } };

const BIN = path.resolve(__dirname, '..', '..', 'bin', 'iomap-harness.js');

/** Two mutant targets (three distinct failures between them: R33, and two shapes of the mkwrite SIGBUS) and the reference. */
const CAMPAIGN = {
  name: 'nightly',
  targets: ['reference', 'mutant:map-blocks-hole', { adapter: 'mutant:mkwrite-eof-off-by-one', name: 'mkwrite' }],
  fsx: { ops: 200, seeds: { first: 1, count: 6 } },
  check: { suites: ['seek'], runs: 3 },
};

async function cli(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await main(args, { stdout: (t) => { out += t; }, stderr: (t) => { err += t; }, isTTY: false });
  return { code, out, err };
}

function writeCampaign(dir: string, c: unknown, name = 'campaign.json'): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, JSON.stringify(c, null, 2) + '\n');
  return file;
}

/** The distinct-failure set of a merge, without what depends on the split (shard names). */
function distinct(m: MergeResult): string[] {
  return m.failures.map((f) => `${f.target} ${f.sigId} ${f.signature.kind}|${f.signature.rule}|${f.signature.shape} x${f.count} first ${f.first.unit}`).sort();
}

/** A unit result without its timing (what must be the same when a unit runs again). */
function stable(r: UnitResult): unknown {
  const { cpuMs: _c, elapsedMs: _e, ...rest } = r;
  return rest;
}

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
      assert.match(r.err, /^iomap-harness: campaign merge: --shard is not an option of merge \(it takes --out, --campaign, --known, --quiet, --json\)\n$/);
      const s = await cli(['campaign', 'launch', 'x.json']);
      assert.equal(s.code, 2);
      assert.match(s.err, /campaign: expected run, plan or merge, got "launch"/);
    });

    it('the shard index comes from the engine variable, 0-based, and is checked', async () => {
      const f = writeCampaign(tmp, { targets: ['reference'], fsx: { ops: 5, seeds: { count: 1 } } }, 'idx.json');
      const out = path.join(tmp, 'idx-out');
      const run = (env: Record<string, string>, extra: string[] = []) => spawnSync(process.execPath, [BIN, 'campaign', 'run', f, '--shards', '3', '--out', out, '-q', ...extra], { env: { ...process.env, JOB_COMPLETION_INDEX: '', SLURM_ARRAY_TASK_ID: '', ...env }, encoding: 'utf8' });
      let r = run({});
      assert.equal(r.status, 2);
      assert.match(r.stderr, /no shard index: JOB_COMPLETION_INDEX or SLURM_ARRAY_TASK_ID is not set/);
      r = run({ JOB_COMPLETION_INDEX: '3' });
      assert.equal(r.status, 2);
      assert.match(r.stderr, /JOB_COMPLETION_INDEX=3: expected a shard index in \[0, 2\]/);
      r = run({ JOB_COMPLETION_INDEX: '0', SLURM_ARRAY_TASK_ID: '1' });
      assert.equal(r.status, 2);
      assert.match(r.stderr, /both JOB_COMPLETION_INDEX and SLURM_ARRAY_TASK_ID are set/);
      r = run({ SLURM_ARRAY_TASK_ID: '2' });
      assert.equal(r.status, 0, r.stderr);
      assert.ok(fs.existsSync(path.join(out, 'shard-3-of-3', 'shard.json')));
      r = run({ SLURM_ARRAY_TASK_ID: '1', JOB_COMPLETION_INDEX: '0' }, ['--engine', 'slurm']);
      assert.equal(r.status, 0, r.stderr);
      assert.ok(fs.existsSync(path.join(out, 'shard-2-of-3', 'shard.json')));
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
    let c: Campaign;
    let text: string;
    before(() => {
      text = JSON.stringify(CAMPAIGN, null, 2);
      c = parseCampaign(text, path.join(tmp, 'campaign.json'));
    });

    it('the YAML writer round-trips through a YAML parser', () => {
      const v = { a: 'on', 'on': { b: [1, 'two', { c: 'x\ny\n', d: [] }, [true, null], 'sh\n  if [ "$x" -gt 1 ]; then\n    exit 1\nfi\n'] }, e: {}, f: ' lead\nx', g: 'no newline\nat end' };
      assert.deepEqual(parseYaml(toYaml(v)), v);
    });

    it('Kubernetes: an Indexed Job that validates against the batch/v1 Job schema; a broken one does not', () => {
      const p = planFor('k8s', { campaign: c, text, file: 'campaign.json', shards: 4 });
      const docs = parseAllDocuments(p.files[0].text).map((d) => d.toJSON() as Record<string, unknown>);
      assert.deepEqual(docs, p.files[0].documents, 'the YAML written is the manifest validated');
      const [cm, job] = docs as [Record<string, unknown>, { spec: Record<string, unknown> & { template: { spec: { containers: { command: string[] }[] } } } }];
      new ConfigMap(cm).validate();
      new Job(job).validate();
      assert.equal(job.spec.completionMode, 'Indexed');
      assert.equal(job.spec.completions, 4);
      assert.match(job.spec.template.spec.containers[0].command.join(' '), /campaign run \/campaign\/campaign\.json --shards 4 --engine k8s/);
      // The schema really checks: a wrong type and a missing required field are refused.
      assert.throws(() => new Job({ ...job, spec: { ...job.spec, completions: 'four' } }).validate(), /completions/);
      const noImage = JSON.parse(JSON.stringify(job));
      delete noImage.spec.template.spec.containers[0].name;
      assert.throws(() => new Job(noImage).validate(), /name/);
    });

    it('GitHub Actions: a matrix workflow that validates against the workflow schema; a broken one does not', () => {
      const p = planFor('github', { campaign: c, text, file: 'ci/campaign.json', shards: 4 });
      const y = p.files[0].text;
      assert.deepEqual(parseYaml(y), p.files[0].documents![0]);
      assert.deepEqual(actionValidator.validateWorkflow(y).errors, []);
      const wf = parseYaml(y) as { jobs: { shard: { strategy: { matrix: { shard: number[] } } } } };
      assert.deepEqual(wf.jobs.shard.strategy.matrix.shard, [1, 2, 3, 4]);
      assert.match(y, /campaign run ci\/campaign\.json --shard \$\{\{ matrix\.shard \}\}\/4/);
      assert.notDeepEqual(actionValidator.validateWorkflow(y.replace(/runs-on/g, 'run-on')).errors, []);
      assert.notDeepEqual(actionValidator.validateWorkflow(y.replace('strategy:', 'stratgy:')).errors, []);
    });

    it('Slurm: a job array over the shard indices, and a merge job', () => {
      const p = planFor('slurm', { campaign: c, text, file: '/shared/campaign.json', shards: 4 });
      assert.equal(p.files.length, 2);
      assert.match(p.files[0].text, /^#SBATCH --array=0-3$/m);
      assert.match(p.files[0].text, /campaign run \/shared\/campaign\.json --shards 4 --engine slurm/);
      assert.match(p.files[1].text, /campaign merge /);
      const r = spawnSync('bash', ['-n', '-c', p.files[0].text]);
      assert.equal(r.status, 0, String(r.stderr));
    });
  });

  describe('run, kill, resume, merge', () => {
    /** Start a shard as the Job's pod would: the container's command, paths mapped to tmp. */
    function startPod(script: string, index: number, root: string): ChildProcess {
      const local = script.replace(/iomap-harness campaign/g, `${JSON.stringify(process.execPath)} ${JSON.stringify(BIN)} campaign`)
        .replace('/campaign/campaign.json', path.join(root, 'campaign', 'campaign.json'))
        .replace(/\/results\//g, `${path.join(root, 'results')}/`);
      const p = spawn('sh', ['-c', local], { env: { ...process.env, JOB_COMPLETION_INDEX: String(index) }, stdio: ['ignore', 'ignore', 'pipe'], detached: true });
      p.stderr!.on('data', (d) => { stderrOf.set(p, (stderrOf.get(p) ?? '') + String(d)); });
      return p;
    }
    const stderrOf = new Map<ChildProcess, string>();
    const exited = (p: ChildProcess): Promise<number | null> => new Promise((res) => {
      if (p.exitCode !== null || p.signalCode !== null) res(p.exitCode);
      else p.on('exit', (code) => res(code));
    });

    it('4 shards from the Kubernetes plan, one killed and restarted, merge to the unsharded run\'s distinct failures', async function () {
      this.timeout(300000);
      const root = path.join(tmp, 'accept');
      fs.mkdirSync(path.join(root, 'campaign'), { recursive: true });
      const file = writeCampaign(root, CAMPAIGN);
      const planned = await cli(['campaign', 'plan', file, '--engine', 'k8s', '--shards', '4', '--out', path.join(root, 'plan')]);
      assert.equal(planned.code, 0, planned.err);
      const [cm, job] = parseAllDocuments(fs.readFileSync(path.join(root, 'plan', 'nightly-job.yaml'), 'utf8')).map((d) => d.toJSON());
      fs.writeFileSync(path.join(root, 'campaign', 'campaign.json'), cm.data['campaign.json']);
      const script: string = job.spec.template.spec.containers[0].command[2];
      const n: number = job.spec.completions;

      // Shard index 1 is killed once it has finished a unit, then started again.
      const pods = Array.from({ length: n }, (_, i) => startPod(script, i, root));
      const units = path.join(root, 'results', 'nightly', 'shard-2-of-4', 'units');
      for (let t = 0; t < 6000; t++) {
        if (fs.existsSync(units) && fs.readdirSync(units).some((x) => x.endsWith('.json'))) break;
        await new Promise((r) => setTimeout(r, 10));
      }
      process.kill(-pods[1].pid!, 'SIGKILL');
      await exited(pods[1]);
      const killedInfo = JSON.parse(fs.readFileSync(path.join(units, '..', 'shard.json'), 'utf8'));
      assert.equal(killedInfo.complete, false, 'the shard was killed before it finished');
      const before = fs.readdirSync(units).filter((x) => x.endsWith('.json')).length;
      assert.ok(before >= 1);

      // A merge now names the killed shard as incomplete and still merges what it finished.
      const codes = await Promise.all([0, 2, 3].map((i) => exited(pods[i])));
      codes.forEach((code, i) => assert.equal(code, 0, `a pod that found failures still succeeds (the merge gives the verdict): ${stderrOf.get(pods[[0, 2, 3][i]])}`));
      const partial = mergeShards([path.join(root, 'results')], path.join(root, 'partial'), []);
      assert.deepEqual(partial.shards.incomplete, [2]);

      const again = startPod(script, 1, root);
      assert.equal(await exited(again), 0);

      // A duplicated shard folder (a retried upload) and a missing one are both named.
      fs.cpSync(path.join(root, 'results', 'nightly', 'shard-3-of-4'), path.join(root, 'copy', 'shard-3-of-4'), { recursive: true });
      const r = await cli(['campaign', 'merge', path.join(root, 'results'), path.join(root, 'copy'), '--out', path.join(root, 'merged'), '--json']);
      assert.equal(r.code, 1, r.err);
      const summary = JSON.parse(r.out.trim().split('\n').pop()!);
      assert.deepEqual(summary.shards.missing, []);
      assert.deepEqual(summary.shards.incomplete, []);
      assert.equal(summary.shards.duplicateFolders.length, 1);
      const merged = JSON.parse(fs.readFileSync(path.join(root, 'merged', 'merged.json'), 'utf8')) as MergeResult;
      assert.equal(merged.units.merged, merged.units.expected);

      // One unsharded run of the same seeds.
      const c = parseCampaign(JSON.stringify(CAMPAIGN), file);
      runShard(c, JSON.stringify(CAMPAIGN), { k: 1, n: 1 }, path.join(root, 'whole'));
      const whole = mergeShards([path.join(root, 'whole')], path.join(root, 'whole-merged'), []);
      assert.deepEqual(distinct(merged), distinct(whole));
      const mutants = new Set(merged.failures.map((f) => f.target));
      assert.ok(mutants.has('mutant:map-blocks-hole') && mutants.has('mkwrite') && !mutants.has('reference'), [...mutants].join(', '));
      assert.ok(merged.failures.length >= 3, distinct(merged).join('\n'));
      assert.equal(merged.totals.ops, whole.totals.ops);
      // The coverage union is the unsharded run's too (each fsx unit saved its map).
      assert.ok('classes' in merged.coverage && merged.coverage.classes.length >= 1 && merged.coverage.classes.every((k) => k.units > 0 && (k.reached ?? 1) > 0), JSON.stringify(merged.coverage));
      assert.deepEqual(merged.coverage, whole.coverage);
      assert.ok(fs.existsSync(path.join(root, 'merged', (merged.coverage as { classes: { map: string }[] }).classes[0].map)));

      // Every distinct failure has a shrunk reproducer and an explorer page, linked from the index.
      const html = fs.readFileSync(path.join(root, 'merged', 'index.html'), 'utf8');
      for (const f of merged.failures) {
        assert.ok(f.shrunk && f.reproducer !== undefined && f.report !== undefined, f.key);
        assert.ok(fs.existsSync(path.join(root, 'merged', f.reproducer)), f.reproducer);
        assert.ok(html.includes(`href="${f.report!}"`), f.report);
      }
      assert.doesNotMatch(html, /<script|https?:/);
      const junit = fs.readFileSync(path.join(root, 'merged', 'junit.xml'), 'utf8');
      assert.equal((junit.match(/<failure /g) ?? []).length, merged.failures.length);

      // Missing shards are named.
      fs.rmSync(path.join(root, 'copy'), { recursive: true });
      fs.renameSync(path.join(root, 'results', 'nightly', 'shard-4-of-4'), path.join(root, 'shard-4-away'));
      const m3 = await cli(['campaign', 'merge', path.join(root, 'results'), '--out', path.join(root, 'merged3')]);
      assert.match(m3.out, /^missing shards: 4 \(of 4\)$/m);
    });

    it('the Slurm and GitHub plans run locally too: array tasks with SLURM_ARRAY_TASK_ID, matrix values as --shard', async function () {
      this.timeout(120000);
      const root = path.join(tmp, 'engines');
      fs.mkdirSync(root, { recursive: true });
      const small = { name: 'small', targets: ['mutant:map-blocks-hole'], fsx: { ops: 50, seeds: { count: 3 } }, engines: { slurm: { results: path.join(root, 'slurm-results') } } };
      const file = writeCampaign(root, small);
      const local = (script: string) => script.replace(/npx iomap-harness/g, `${JSON.stringify(process.execPath)} ${JSON.stringify(BIN)}`);
      assert.equal((await cli(['campaign', 'plan', file, '--engine', 'slurm', '--shards', '2', '--out', path.join(root, 'plan')])).code, 0);
      const sbatch = local(fs.readFileSync(path.join(root, 'plan', 'small-shards.sbatch'), 'utf8'));
      for (const i of [0, 1]) {
        const r = spawnSync('bash', ['-c', sbatch], { env: { ...process.env, SLURM_ARRAY_TASK_ID: String(i) }, encoding: 'utf8' });
        assert.equal(r.status, 0, r.stderr);
      }
      const merge = spawnSync('bash', ['-c', local(fs.readFileSync(path.join(root, 'plan', 'small-merge.sbatch'), 'utf8'))], { encoding: 'utf8' });
      assert.equal(merge.status, 1, merge.stderr);
      const fromSlurm = JSON.parse(fs.readFileSync(path.join(root, 'slurm-results', 'merged', 'merged.json'), 'utf8')) as MergeResult;
      assert.deepEqual(fromSlurm.shards.missing, []);

      assert.equal((await cli(['campaign', 'plan', file, '--engine', 'github', '--shards', '2', '--out', path.join(root, 'plan')])).code, 0);
      const wf = parseYaml(fs.readFileSync(path.join(root, 'plan', 'iomap-harness-small.yml'), 'utf8')) as { jobs: Record<string, { strategy?: { matrix: { shard: number[] } }; steps: { run?: string }[] }> };
      const step = wf.jobs.shard.steps.find((x) => x.run?.includes('campaign run'))!.run!;
      fs.mkdirSync(path.join(root, 'gh'));
      for (const k of wf.jobs.shard.strategy!.matrix.shard) {
        const r = spawnSync('bash', ['-c', local(step).replace(/\$\{\{ matrix\.shard \}\}/g, String(k))], { cwd: path.join(root, 'gh'), encoding: 'utf8' });
        assert.equal(r.status, 0, r.stderr);
      }
      const mstep = wf.jobs.merge.steps.find((x) => x.run?.includes('campaign merge'))!.run!;
      assert.equal(spawnSync('bash', ['-c', local(mstep)], { cwd: path.join(root, 'gh'), encoding: 'utf8' }).status, 1);
      const fromGithub = JSON.parse(fs.readFileSync(path.join(root, 'gh', 'campaign-merged', 'merged.json'), 'utf8')) as MergeResult;
      assert.deepEqual(distinct(fromGithub), distinct(fromSlurm));
      assert.ok(fromGithub.failures.length >= 1);
    });

    it('a unit run again writes the same result; a shard run again runs nothing', () => {
      const c = parseCampaign(JSON.stringify(CAMPAIGN), path.join(tmp, 'campaign.json'));
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
