/**
 * The campaign acceptance runs (issue 19; docs/campaigns.md), slow because they start the shards
 * as separate processes the way the engines do: a 4-shard Kubernetes plan run with
 * JOB_COMPLETION_INDEX set on a target with two distinct bugs, one shard killed inside a unit and
 * restarted, merged, and compared unit by unit and byte by byte with one unsharded run; the merged folder moved and its index
 * opened in headless Chromium; the Slurm and GitHub plans run locally the same way.
 */
import { strict as assert } from 'assert';
import { ChildProcess, spawn, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { parse as parseYaml, parseAllDocuments } from 'yaml';
import { parseCampaign } from '../../properties/campaign/config';
import { mergeShards, MergeResult } from '../../properties/campaign/merge';
import { runShard } from '../../properties/campaign/shard';
import { BIN, inProcess as cli } from '../support/bin';
import { CAMPAIGN, distinct, filesOf, stable, unitsUnder, writeCampaign } from '../support/campaign';

const CHROMIUM = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => fs.existsSync(p));

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Start a shard as the Job's pod would: the container's command, paths mapped to `root`. */
function startPod(script: string, index: number, root: string, stderr: Map<ChildProcess, string>): ChildProcess {
  const local = script.replace(/iomap-harness campaign/g, `${JSON.stringify(process.execPath)} ${JSON.stringify(BIN)} campaign`)
    .replace('/campaign/campaign.json', path.join(root, 'campaign', 'campaign.json'))
    .replace(/\/results\//g, `${path.join(root, 'results')}/`);
  // RUN_ID is what the downward API gives the pod: the Job's uid, the same for a retried pod.
  const p = spawn('sh', ['-c', local], { env: { ...process.env, JOB_COMPLETION_INDEX: String(index), RUN_ID: 'job-uid-1' }, stdio: ['ignore', 'ignore', 'pipe'], detached: true });
  p.stderr!.on('data', (d) => { stderr.set(p, (stderr.get(p) ?? '') + String(d)); });
  return p;
}

const exited = (p: ChildProcess): Promise<number | null> => new Promise((res) => {
  if (p.exitCode !== null || p.signalCode !== null) res(p.exitCode);
  else p.on('exit', (code) => res(code));
});

/** A unit of the shard that has begun (its failure folder holds a file) and has no result yet, or undefined. */
function unitInProgress(shardDir: string): string | undefined {
  let ids: string[] = [];
  try {
    ids = fs.readdirSync(path.join(shardDir, 'failures'));
  } catch {
    return undefined;
  }
  return ids.find((id) => fs.existsSync(path.join(shardDir, 'units', `${id}.json`)) === false
    && fs.readdirSync(path.join(shardDir, 'failures', id)).length > 0);
}

/**
 * Kill the pod while it is inside a unit, not between two: poll until a unit has begun and not
 * finished, freeze the process group (SIGSTOP), look again — frozen, the answer cannot change —
 * and SIGKILL it if the unit is still unfinished, else let it go on and poll again. Returns the
 * unit it was killed in.
 */
async function killInsideAUnit(pod: ChildProcess, shardDir: string): Promise<string> {
  for (let t = 0; t < 60000 && pod.exitCode === null; t++) {
    if (unitInProgress(shardDir) !== undefined) {
      process.kill(-pod.pid!, 'SIGSTOP');
      const id = unitInProgress(shardDir);
      if (id !== undefined) {
        process.kill(-pod.pid!, 'SIGKILL');
        await exited(pod);
        return id;
      }
      process.kill(-pod.pid!, 'SIGCONT');
    }
    await sleep(5);
  }
  throw new Error('the shard finished before it could be caught inside a unit');
}

describe('campaigns (long): shards as processes, as the engines run them', () => {
  let tmp: string;
  before(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'iomap-campaign-long-'));
  });
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('4 shards from the Kubernetes plan, one killed inside a unit and restarted, merge to the unsharded run\'s distinct failures', async function () {
    this.timeout(600000);
    const root = path.join(tmp, 'accept');
    fs.mkdirSync(path.join(root, 'campaign'), { recursive: true });
    // The target has two distinct bugs: map_blocks answers HOLE for delalloc (R33) and page_mkwrite
    // raises SIGBUS on the valid last page (fileops-14.23), both bug-zoo bugs switched on at once.
    const twoBugs = path.join(root, 'two-bugs.js');
    const mutants = JSON.stringify(path.resolve(__dirname, '..', '..', 'adapters', 'mutants'));
    fs.writeFileSync(twoBugs, [
      `const { createMutant } = require(${mutants});`,
      `const { MUTANTS } = require(${JSON.stringify(path.resolve(__dirname, '..', '..', 'adapters', 'mutants', 'catalog'))});`,
      "const hole = MUTANTS.find((m) => m.name === 'map-blocks-hole');",
      "const mkwrite = MUTANTS.find((m) => m.name === 'mkwrite-eof-off-by-one');",
      "exports.createAdapter = (o) => createMutant({ ...hole, name: 'two-bugs', core: mkwrite.core }, o);",
    ].join('\n'));
    const campaign = { ...CAMPAIGN, targets: ['reference', { adapter: twoBugs, name: 'two-bugs' }] };
    const file = writeCampaign(root, campaign);
    const planned = await cli(['campaign', 'plan', file, '--engine', 'k8s', '--shards', '4', '--out', path.join(root, 'plan')]);
    assert.equal(planned.code, 0, planned.err);
    const [cm, job] = parseAllDocuments(fs.readFileSync(path.join(root, 'plan', 'nightly-job.yaml'), 'utf8')).map((d) => d.toJSON());
    fs.writeFileSync(path.join(root, 'campaign', 'campaign.json'), cm.data['campaign.json']);
    const script: string = job.spec.template.spec.containers[0].command[2];
    const n: number = job.spec.completions;
    assert.equal(n, 4);

    // Shard index 1 (shard 2 of 4) is killed inside a unit, then started again.
    const stderr = new Map<ChildProcess, string>();
    const pods = Array.from({ length: n }, (_, i) => startPod(script, i, root, stderr));
    const killedDir = path.join(root, 'results', 'nightly', 'shard-2-of-4');
    const killedIn = await killInsideAUnit(pods[1], killedDir);
    console.log(`      shard 2/4 killed inside unit ${killedIn} (${fs.readdirSync(path.join(killedDir, 'failures', killedIn)).join(', ')} written, no result)`);
    assert.ok(fs.readdirSync(path.join(killedDir, 'failures', killedIn)).length > 0, 'the unit had begun');
    assert.ok(!fs.existsSync(path.join(killedDir, 'units', `${killedIn}.json`)), 'the unit had not finished');
    assert.equal(JSON.parse(fs.readFileSync(path.join(killedDir, 'shard.json'), 'utf8')).complete, false, 'the shard was killed before it finished');

    // A merge now names the killed shard as incomplete and still merges what it finished.
    const others = [0, 2, 3];
    const codes = await Promise.all(others.map((i) => exited(pods[i])));
    codes.forEach((code, i) => assert.equal(code, 0, `a pod that found failures still succeeds (the merge gives the verdict): ${stderr.get(pods[others[i]])}`));
    const partial = mergeShards([path.join(root, 'results')], path.join(root, 'partial'), []);
    assert.deepEqual(partial.shards.incomplete, [2]);

    const again = startPod(script, 1, root, stderr);
    assert.equal(await exited(again), 0, stderr.get(again));

    // One unsharded run of the same seeds.
    const c = parseCampaign(JSON.stringify(campaign), file);
    runShard(c, JSON.stringify(campaign), { k: 1, n: 1 }, path.join(root, 'whole'));

    // The restarted shard's results are the uninterrupted run's: every unit (timing aside), and
    // every file of its failure folders (saved logs, shrunk logs, explorer pages, coverage maps).
    const sharded = unitsUnder(path.join(root, 'results'));
    const whole = unitsUnder(path.join(root, 'whole'));
    assert.equal(sharded.size, whole.size);
    for (const [id, r] of whole) assert.deepEqual(stable(sharded.get(id)!), stable(r), id);
    const restarted = filesOf(path.join(killedDir, 'failures'));
    const uninterrupted = filesOf(path.join(root, 'whole', 'shard-1-of-1', 'failures'));
    assert.ok([...restarted.keys()].some((f) => f.startsWith(killedIn + path.sep)), `the unit killed (${killedIn}) was run again`);
    for (const [f, bytes] of restarted) assert.ok(uninterrupted.get(f)?.equals(bytes), `${f} differs from the unsharded run's`);
    assert.ok(!fs.readdirSync(path.join(killedDir, 'units')).some((x) => !x.endsWith('.json')), 'no temporary result file is left');

    // A duplicated shard folder (a retried upload) is counted once.
    fs.cpSync(path.join(root, 'results', 'nightly', 'shard-3-of-4'), path.join(root, 'copy', 'shard-3-of-4'), { recursive: true });
    const r = await cli(['campaign', 'merge', path.join(root, 'results'), path.join(root, 'copy'), '--out', path.join(root, 'merged'), '--json']);
    assert.equal(r.code, 1, r.err);
    const summary = JSON.parse(r.out.trim().split('\n').pop()!);
    assert.deepEqual(summary.shards.missing, []);
    assert.deepEqual(summary.shards.incomplete, []);
    assert.equal(summary.shards.duplicateFolders.length, 1);
    const merged = JSON.parse(fs.readFileSync(path.join(root, 'merged', 'merged.json'), 'utf8')) as MergeResult;
    assert.equal(merged.units.merged, merged.units.expected);

    const wholeMerged = mergeShards([path.join(root, 'whole')], path.join(root, 'whole-merged'), []);
    assert.deepEqual(distinct(merged), distinct(wholeMerged));
    assert.deepEqual([...new Set(merged.failures.map((f) => f.target))], ['two-bugs'], distinct(merged).join('\n'));
    assert.deepEqual([...new Set(merged.failures.map((f) => f.signature.rule))].sort(), ['R33', 'fileops-14.23'], 'both bugs, each its own distinct failure');
    assert.equal(merged.totals.ops, wholeMerged.totals.ops);
    // The coverage union is the unsharded run's too (each fsx unit saved its map).
    assert.ok('classes' in merged.coverage && merged.coverage.classes.length >= 1 && merged.coverage.classes.every((k) => k.units > 0 && (k.reached ?? 1) > 0), JSON.stringify(merged.coverage));
    assert.deepEqual(merged.coverage, wholeMerged.coverage);
    for (const f of merged.failures) assert.ok(f.shrunk && f.reproducer !== undefined && f.report !== undefined, f.key);
    const junit = fs.readFileSync(path.join(root, 'merged', 'junit.xml'), 'utf8');
    assert.equal((junit.match(/<failure /g) ?? []).length, merged.failures.length);

    // The merged folder moves as one: its index still links every reproducer and explorer page.
    const moved = path.join(tmp, 'archive', 'nightly-merged');
    fs.mkdirSync(path.dirname(moved));
    fs.renameSync(path.join(root, 'merged'), moved);
    await openIndex(moved, merged);
  });

  it('Kubernetes with an object store: pods on emptyDirs, one killed and replaced by a fresh pod, a retry resumes from the store, the merge Job merges from it', async function () {
    this.timeout(600000);
    const root = path.join(tmp, 'store');
    fs.mkdirSync(root, { recursive: true });
    // An rsync-like SRC DST command over file:// URLs (what aws s3 sync does for s3://).
    const sync = path.join(root, 'sync.sh');
    fs.writeFileSync(sync, '#!/bin/sh\nsrc=${1#file://}; dst=${2#file://}\n[ -d "$src" ] || exit 1\nmkdir -p "$dst" && cp -R "$src"/. "$dst"/\n', { mode: 0o755 });
    const store = path.join(root, 'bucket', 'nightly');
    const c = { ...CAMPAIGN, check: undefined, engines: { k8s: { objectStore: { url: `file://${store}`, sync, everySeconds: 10 } } } };
    const file = writeCampaign(root, c);
    assert.equal((await cli(['campaign', 'plan', file, '--engine', 'k8s', '--shards', '2', '--out', path.join(root, 'plan')])).code, 0);
    const docs = (f: string) => parseAllDocuments(fs.readFileSync(path.join(root, 'plan', f), 'utf8')).map((d) => d.toJSON());
    const [cm, job] = docs('nightly-job.yaml');
    const [mergeJob] = docs('nightly-merge.yaml');
    fs.mkdirSync(path.join(root, 'campaign'));
    fs.writeFileSync(path.join(root, 'campaign', 'campaign.json'), cm.data['campaign.json']);

    /** A pod: its own emptyDir (/results) and /tmp, the campaign ConfigMap, the Job's uid as RUN_ID. */
    let pods = 0;
    const stdout = new Map<ChildProcess, string>();
    const stderr = new Map<ChildProcess, string>();
    const pod = (script: string, index: number): { p: ChildProcess; dir: string } => {
      const dir = path.join(root, `pod-${++pods}`);
      fs.mkdirSync(path.join(dir, 'tmp'), { recursive: true });
      const local = script.replace(/iomap-harness campaign/g, `${JSON.stringify(process.execPath)} ${JSON.stringify(BIN)} campaign`)
        .replace(/\/campaign\/campaign\.json/g, path.join(root, 'campaign', 'campaign.json'))
        .replace(/\/results\//g, `${dir}/results/`).replace(/\/tmp\/(snap|stop|sleep\.pid)/g, `${dir}/tmp/$1`);
      const p = spawn('sh', ['-c', local], { env: { ...process.env, JOB_COMPLETION_INDEX: String(index), RUN_ID: 'job-uid-7' }, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
      p.stdout!.on('data', (d) => { stdout.set(p, (stdout.get(p) ?? '') + String(d)); });
      p.stderr!.on('data', (d) => { stderr.set(p, (stderr.get(p) ?? '') + String(d)); });
      return { p, dir };
    };
    const shardScript: string = job.spec.template.spec.containers[0].command[2];
    const first = pod(shardScript, 0);
    const second = pod(shardScript, 1);
    await killInsideAUnit(second.p, path.join(second.dir, 'results', 'nightly', 'shard-2-of-2'));
    // The Job starts a new pod: a fresh emptyDir, the same RUN_ID.
    const replaced = pod(shardScript, 1);
    assert.equal(await exited(replaced.p), 0, stderr.get(replaced.p));
    assert.equal(await exited(first.p), 0, stderr.get(first.p));
    const run2 = /shard 2\/2 of nightly: (\d+) units \((\d+) run now\)/;
    const total = Number(run2.exec(stdout.get(replaced.p) ?? '')![1]);
    // A pod lost after its last upload: the retry copies the shard back and runs nothing.
    const retry = pod(shardScript, 1);
    assert.equal(await exited(retry.p), 0, stderr.get(retry.p));
    assert.deepEqual(run2.exec(stdout.get(retry.p) ?? '')!.slice(1).map(Number), [total, 0], stdout.get(retry.p));

    const merger = pod(mergeJob.spec.template.spec.containers[0].command[2], 0);
    assert.equal(await exited(merger.p), 0, stderr.get(merger.p));
    const merged = JSON.parse(fs.readFileSync(`${store}-merged/merged.json`, 'utf8')) as MergeResult;
    assert.equal(merged.shards.run, 'job-uid-7');
    assert.deepEqual(merged.shards.missing, []);
    assert.equal(merged.units.merged, merged.units.expected);

    const whole = path.join(root, 'whole');
    runShard(parseCampaign(JSON.stringify(c), file), JSON.stringify(c), { k: 1, n: 1 }, whole);
    assert.deepEqual(distinct(merged), distinct(mergeShards([whole], path.join(root, 'whole-merged'), [])));
    const sharded = unitsUnder(path.join(store, 'job-uid-7'));
    for (const [id, r] of unitsUnder(whole)) assert.deepEqual(stable(sharded.get(id)!), stable(r), id);
    assert.ok(merged.failures.length >= 2, distinct(merged).join('\n'));
  });

  it('the Slurm and GitHub plans run locally too: array tasks with SLURM_ARRAY_TASK_ID, matrix values as --shard', async function () {
    this.timeout(300000);
    const root = path.join(tmp, 'engines');
    fs.mkdirSync(root, { recursive: true });
    const small = { name: 'small', targets: ['mutant:map-blocks-hole'], fsx: { ops: 50, seeds: { count: 3 } }, engines: { slurm: { results: path.join(root, 'slurm-results') } } };
    const file = writeCampaign(root, small);
    const local = (script: string) => script.replace(/npx iomap-harness/g, `${JSON.stringify(process.execPath)} ${JSON.stringify(BIN)}`);
    assert.equal((await cli(['campaign', 'plan', file, '--engine', 'slurm', '--shards', '2', '--out', path.join(root, 'plan')])).code, 0);
    const sbatch = local(fs.readFileSync(path.join(root, 'plan', 'small-shards.sbatch'), 'utf8'));
    for (const i of [0, 1]) {
      const r = spawnSync('bash', ['-c', sbatch], { env: { ...process.env, SLURM_ARRAY_TASK_ID: String(i), SLURM_ARRAY_JOB_ID: '4242' }, encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
    }
    const merge = spawnSync('bash', ['-c', local(fs.readFileSync(path.join(root, 'plan', 'small-merge.sbatch'), 'utf8'))], { encoding: 'utf8' });
    assert.equal(merge.status, 1, merge.stderr);
    const fromSlurm = JSON.parse(fs.readFileSync(path.join(root, 'slurm-results', 'merged', 'merged.json'), 'utf8')) as MergeResult;
    assert.deepEqual(fromSlurm.shards.missing, []);
    assert.equal(fromSlurm.shards.run, '4242');

    assert.equal((await cli(['campaign', 'plan', file, '--engine', 'github', '--shards', '2', '--out', path.join(root, 'plan')])).code, 0);
    const wf = parseYaml(fs.readFileSync(path.join(root, 'plan', 'iomap-harness-small.yml'), 'utf8')) as { jobs: Record<string, { strategy?: { matrix: { shard: number[] } }; steps: { run?: string }[] }> };
    const step = wf.jobs.shard.steps.find((x) => x.run?.includes('campaign run'))!.run!;
    fs.mkdirSync(path.join(root, 'gh'));
    for (const k of wf.jobs.shard.strategy!.matrix.shard) {
      const r = spawnSync('bash', ['-c', local(step).replace(/\$\{\{ matrix\.shard \}\}/g, String(k)).replace(/\$\{\{ github\.run_id \}\}/g, '987')], { cwd: path.join(root, 'gh'), encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
    }
    const mstep = wf.jobs.merge.steps.find((x) => x.run?.includes('campaign merge'))!.run!;
    assert.equal(spawnSync('bash', ['-c', local(mstep)], { cwd: path.join(root, 'gh'), encoding: 'utf8' }).status, 1);
    const fromGithub = JSON.parse(fs.readFileSync(path.join(root, 'gh', 'campaign-merged', 'merged.json'), 'utf8')) as MergeResult;
    assert.deepEqual(distinct(fromGithub), distinct(fromSlurm));
    assert.ok(fromGithub.failures.length >= 1);
  });
});

/**
 * Open a merged folder's index.html: every link is relative and names a file in the folder; in
 * headless Chromium (when there is one) each distinct failure's explorer page opens from the
 * index, renders without a script error and marks the failing op.
 */
async function openIndex(dir: string, m: MergeResult): Promise<void> {
  const html = fs.readFileSync(path.join(dir, 'index.html'), 'utf8');
  assert.doesNotMatch(html, /<script|<link|src=|https?:/, 'the index is self-contained');
  const hrefs = [...html.matchAll(/href="([^"]*)"/g)].map((x) => x[1].replace(/&amp;/g, '&'));
  for (const f of m.failures) assert.ok(hrefs.includes(f.report!) && hrefs.includes(f.reproducer!), f.key);
  for (const h of hrefs) {
    assert.ok(!path.isAbsolute(h) && !/^[a-z]+:/i.test(h) && !h.split('/').includes('..'), `a link out of the folder: ${h}`);
    assert.ok(fs.statSync(path.join(dir, h)).isFile(), h);
  }
  if (!CHROMIUM) {
    console.log('      browser part skipped: no chromium binary (apt-get install chromium; .ci/run installs it)');
    return;
  }
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { chromium } = require('playwright-core') as typeof import('playwright-core');
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'],
  });
  try {
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    const requests: string[] = [];
    page.on('request', (q) => requests.push(q.url()));
    for (const f of m.failures) {
      await page.goto('file://' + path.join(dir, 'index.html'));
      await page.click(`tr[id="${f.key}"] a[href$=".html"]`);
      await page.waitForSelector('body[data-ready="1"]');
      assert.equal(decodeURIComponent(new URL(page.url()).pathname), path.join(dir, f.report!), f.key);
      assert.ok(await page.$('#ops li.fail'), `${f.key}: the explorer page marks the failing op`);
    }
    assert.deepEqual(errors, []);
    assert.deepEqual(requests.filter((u) => !u.startsWith('file://')), [], 'nothing is fetched from the network');
  } finally {
    await browser.close();
  }
}
