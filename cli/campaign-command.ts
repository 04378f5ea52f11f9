/**
 * `iomap-harness campaign run|plan|merge` (docs/campaigns.md):
 *
 *   campaign run FILE [--shard K/N | --shards N [--engine k8s|slurm]] [--out ROOT] [--run-id ID] [-q] [--json]
 *       run one shard of the campaign into ROOT/shard-K-of-N (resuming what is there); with
 *       --shards N the shard index comes from the engine's variable (JOB_COMPLETION_INDEX,
 *       SLURM_ARRAY_TASK_ID; 0-based); --run-id: a folder of another run is cleared, not resumed.
 *       Exit 0 no failure, 1 failures found (recorded), 2 bad input.
 *   campaign plan FILE --engine k8s|github|slurm --shards N [--out DIR]
 *       write the engine's manifests (Indexed Job, matrix workflow, job array).
 *   campaign merge DIR... [--out DIR] [--campaign FILE] [--known DIR]... [--run-id ID] [--previous FILE] [--json]
 *       merge shard folders (of the newest run, or --run-id): totals, distinct failures and since
 *       when each is found (from the previous merge), merged.json, junit.xml, index.html.
 *       Exit 0 no new distinct failure, 1 new ones, 2 bad input.
 */

import * as fs from 'fs';
import * as path from 'path';
import { Campaign, CampaignError, campaignId, parseCampaign } from '../properties/campaign/config';
import { findShardFolders, MergeError, MergeResult, mergeShards, readShards, withHistory } from '../properties/campaign/merge';
import { indexHtml, MERGE_FORMAT, mergedJson, mergedJunit, summaryLines } from '../properties/campaign/merge-report';
import { Engine, ENGINES, INDEX_VARIABLES, planFor } from '../properties/campaign/plan';
import { runShard, setupProblem, UnitResult } from '../properties/campaign/shard';
import type { Shard } from '../properties/campaign/units';
import { isModuleSpec } from '../adapters/registry';
import { KnownSignature, KnownSignatureError, loadKnownSignatures } from '../properties/signatures';
import { CliIO, EXIT_FAILURE, EXIT_PASS, parseNumber, UsageError } from './common';
import { CommandSpec, FlagTable, Parsed, Values } from './command-line';
import { prepareSaveDir } from './output';

const CAMPAIGN_FLAGS = {
  shard: { type: 'string', value: 'K/N', help: 'run: run shard K of N (GitHub Actions passes its matrix value here)' },
  shards: { type: 'string', value: 'N', help: 'run: N shards, this one\'s 0-based index from JOB_COMPLETION_INDEX (Kubernetes) or SLURM_ARRAY_TASK_ID (Slurm); plan: how many shards' },
  engine: { type: 'string', value: 'E', help: 'plan: k8s, github or slurm; run: which engine\'s index variable to read (k8s or slurm) when both could be set' },
  out: { type: 'string', value: 'DIR', default: 'run: campaign-results (the shard writes DIR/shard-K-of-N); plan: campaign-plan; merge: campaign-merged', help: 'where results, manifests or the merge go' },
  campaign: { type: 'string', value: 'FILE', help: 'merge: the campaign file, for its known-signature folders' },
  known: { type: 'string', multiple: true, value: 'DIR', help: 'merge: a known-signature folder (op logs with an expected failure and a description); repeatable' },
  'run-id': { type: 'string', value: 'ID', help: 'run: the engine\'s id of this night\'s job (a retry keeps it): a shard folder of another run is cleared, not resumed; merge: merge the shard folders of this run (default: the newest run)' },
  previous: { type: 'string', value: 'FILE', help: 'merge: the previous merge\'s merged.json, for since when each failure is found and which are gone (default: the merged.json already in --out)' },
  quiet: { type: 'boolean', short: 'q', help: 'run: no line per unit; merge: no summary' },
  json: { type: 'boolean', help: 'the last stdout line is a JSON summary' },
} as const satisfies FlagTable;

/** Which subcommand each flag belongs to (one flag table for the three, as commander sees one command). */
const FLAGS_OF: Record<string, readonly string[]> = {
  run: ['shard', 'shards', 'engine', 'out', 'run-id', 'quiet', 'json'],
  plan: ['engine', 'shards', 'out'],
  merge: ['out', 'campaign', 'known', 'run-id', 'previous', 'quiet', 'json'],
};

export const CAMPAIGN_COMMAND: CommandSpec = {
  name: 'campaign',
  args: ['run|plan|merge', 'FILE|DIR...'],
  summary: 'campaigns beyond one machine: run a shard, plan a job for Kubernetes/GitHub/Slurm, merge and triage',
  details: 'run FILE runs one shard of a campaign file into DIR/shard-K-of-N and resumes a shard that was stopped; '
    + 'plan FILE writes a Kubernetes Indexed Job, a GitHub Actions matrix workflow or a Slurm job array; '
    + 'merge DIR... merges shard folders: totals, distinct failures by signature, merged.json, junit.xml, index.html '
    + '(docs/campaigns.md). Exit codes: run 1 when a unit failed, merge 1 when a new distinct failure was found.',
  flags: CAMPAIGN_FLAGS,
  examples: [
    'campaign run nightly.json --shard 2/8 --out results',
    'campaign plan nightly.json --engine k8s --shards 16',
    'campaign merge results --campaign nightly.json --out merged',
  ],
  run: (p, io) => campaignCommand(p, io),
};

function readCampaign(file: string | undefined): { campaign: Campaign; text: string; file: string } {
  if (file === undefined) throw new UsageError('campaign: give the campaign file (campaign run|plan FILE ...)');
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new UsageError(`campaign: ${file}: ${(e as { code?: string }).code === 'ENOENT' ? 'no such file' : 'cannot read it'}`);
  }
  try {
    return { campaign: parseCampaign(text, file), text, file };
  } catch (e) {
    if (e instanceof CampaignError) throw new UsageError(e.message);
    throw e;
  }
}

function parseShardText(text: string): Shard {
  const m = /^(\d+)\/(\d+)$/.exec(text);
  if (m === null) throw new UsageError(`campaign run: --shard: expected K/N (e.g. 2/4), got ${JSON.stringify(text)}`);
  const k = Number(m[1]);
  const n = Number(m[2]);
  if (!(n >= 1 && n <= 100000 && k >= 1 && k <= n)) throw new UsageError(`campaign run: --shard ${text}: need 1 <= K <= N <= 100000`);
  return { k, n };
}

/** The shard from --shard K/N, or --shards N and the engine's index variable. */
export function shardFromEnv(shardFlag: string | undefined, shardsFlag: string | undefined, engine: string | undefined, env: NodeJS.ProcessEnv): Shard {
  if (shardFlag !== undefined) {
    if (shardsFlag !== undefined) throw new UsageError('campaign run: give --shard K/N or --shards N, not both');
    return parseShardText(shardFlag);
  }
  if (shardsFlag === undefined) return { k: 1, n: 1 };
  const n = parseNumber('--shards', shardsFlag, 1, 100000);
  if (engine !== undefined && engine !== 'k8s' && engine !== 'slurm') {
    throw new UsageError(`campaign run: --engine ${engine}: the shard index is read from k8s (JOB_COMPLETION_INDEX) or slurm (SLURM_ARRAY_TASK_ID); GitHub passes --shard K/N`);
  }
  const vars = engine !== undefined ? [INDEX_VARIABLES[engine]] : Object.values(INDEX_VARIABLES);
  const set = vars.filter((v) => env[v] !== undefined && env[v] !== '');
  if (set.length === 0) throw new UsageError(`campaign run: --shards ${n}: no shard index: ${vars.join(' or ')} is not set (or pass --shard K/N)`);
  if (set.length > 1) throw new UsageError(`campaign run: both ${set.join(' and ')} are set: say which engine with --engine k8s|slurm`);
  const text = env[set[0]]!;
  if (!/^\d+$/.test(text) || Number(text) >= n) throw new UsageError(`campaign run: ${set[0]}=${text}: expected a shard index in [0, ${n - 1}]`);
  return { k: Number(text) + 1, n };
}

/** A built-in adapter (reference, naive, mutant:NAME): it exists on every machine the harness runs on. */
function isBuiltinSpec(spec: string): boolean {
  return !isModuleSpec(spec) && !/^(exec|host|scratch|diff):/.test(spec);
}

/**
 * Every target opens with its own options before anything runs: a bad spec costs one line, exit 2.
 * (A setup a target cannot take skips that target's units under it, with the reason.) `plan`
 * checks the built-in targets only: a module, a server or a host folder may exist only on the
 * engine's machines, and each shard checks those when it starts.
 */
function checkTargets(c: Campaign, builtinOnly = false): void {
  for (const t of c.targets) {
    if (builtinOnly && !isBuiltinSpec(t.adapter)) continue;
    const why = setupProblem(t.adapter, t.options);
    if (why !== null) throw new UsageError(`campaign: target ${t.name}: ${why.replace(/^the target refuses this setup: /, '')}`);
  }
}

/** An output folder, made now (race-free: the shards of a campaign make the same root at once). */
function prepareDir(flag: string, dir: string): string {
  return prepareSaveDir(`campaign: ${flag}`, dir);
}

function harnessVersion(): string {
  try {
    const pkg = JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', 'package.json'), 'utf8')) as { version?: string };
    return `iomap-harness ${pkg.version ?? '?'}`;
  } catch {
    return 'iomap-harness';
  }
}

/** --run-id: a short name (an engine's job id or uid); empty is an error (an engine variable that was not set). */
function runIdOf(sub: string, v: Values): string | undefined {
  const id = v['run-id'] as string | undefined;
  if (id !== undefined && !/^[A-Za-z0-9._-]{1,100}$/.test(id)) {
    throw new UsageError(`campaign ${sub}: --run-id: expected letters, digits, ".", "_", "-" (at most 100), got ${JSON.stringify(id)}${id === '' ? ' (is the engine variable that gives it set?)' : ''}`);
  }
  return id;
}

function runCmd(v: Values, positionals: string[], io: CliIO, env: NodeJS.ProcessEnv): number {
  if (positionals.length !== 1) throw new UsageError('campaign run: give exactly one campaign file');
  const { campaign, text } = readCampaign(positionals[0]);
  const runId = runIdOf('run', v);
  const shard = shardFromEnv(v.shard as string | undefined, v.shards as string | undefined, v.engine as string | undefined, env);
  const root = prepareDir('--out', (v.out as string | undefined) ?? 'campaign-results');
  checkTargets(campaign);
  const quiet = v.quiet === true || v.json === true;
  const line = (r: UnitResult, resumed: boolean): void => {
    if (quiet) return;
    const what = r.engine === 'fsx' ? `fsx seed ${r.seed}` : `check ${r.suite} seed ${r.seed}`;
    const verdict = r.failures.length > 0 ? `FAILED: ${r.failures.map((f) => `${f.kind}${f.rule ? ` ${f.rule}` : ''} [${f.sigId}]`).join(', ')}`
      : r.status === 'skip' ? `skipped: ${r.skipped}` : 'ok';
    io.stdout(`[${r.id}] ${r.target} setup ${r.setupIndex} ${what}: ${verdict}${resumed ? ' (finished earlier)' : ''}\n`);
  };
  let run;
  try {
    const cleared = (old: string | undefined): void => {
      if (!quiet) io.stdout(`shard ${shard.k}/${shard.n}: the folder held ${old === undefined ? 'a run without a run id' : `run ${old}`}: cleared, starting run ${runId}\n`);
    };
    run = runShard(campaign, text, shard, root, { unitDone: line, cleared }, harnessVersion(), runId);
  } catch (e) {
    if (e instanceof CampaignError) throw new UsageError(e.message);
    throw e;
  }
  const failed = run.results.filter((r) => r.failures.length > 0).length;
  const ops = run.results.reduce((n, r) => n + r.ops, 0);
  if (!quiet) io.stdout(`shard ${shard.k}/${shard.n} of ${campaign.name}: ${run.results.length} units (${run.ran} run now), ${ops} fsx ops, ${failed} with failures; results in ${run.dir}\n`);
  if (v.json === true) {
    io.stdout(JSON.stringify({ command: 'campaign run', campaign: campaign.name, shard: `${shard.k}/${shard.n}`, dir: run.dir, units: run.results.length, ran: run.ran, ops, failedUnits: failed, complete: run.info.complete }) + '\n');
  }
  return failed > 0 ? EXIT_FAILURE : EXIT_PASS;
}

function planCmd(v: Values, positionals: string[], io: CliIO): number {
  if (positionals.length !== 1) throw new UsageError('campaign plan: give exactly one campaign file');
  const { campaign, text, file } = readCampaign(positionals[0]);
  const engine = v.engine as string | undefined;
  if (engine === undefined || !ENGINES.includes(engine as Engine)) throw new UsageError(`campaign plan: --engine: expected one of ${ENGINES.join(', ')}, got ${JSON.stringify(engine ?? '')}`);
  if (v.shards === undefined) throw new UsageError('campaign plan: --shards N is required');
  const shards = parseNumber('--shards', v.shards as string, 1, 100000);
  // A typo in a target costs a second here, not a night of failed pods.
  checkTargets(campaign, true);
  const out = prepareDir('--out', (v.out as string | undefined) ?? 'campaign-plan');
  // GitHub runs from the repository root (the path as given); Slurm from a shared filesystem (absolute).
  const where = engine === 'slurm' ? path.resolve(file) : file.split(path.sep).join('/');
  const plan = planFor(engine as Engine, { campaign, text, file: where, shards });
  for (const f of plan.files) {
    fs.writeFileSync(path.join(out, f.name), f.text);
    io.stdout(`wrote ${path.join(out, f.name)}\n`);
  }
  for (const l of plan.next) io.stdout(`  ${l}\n`);
  return EXIT_PASS;
}

/** A merge's merged.json, or undefined (no such file, or not a merge's). */
function readMerge(file: string): MergeResult | undefined {
  try {
    const j = JSON.parse(fs.readFileSync(file, 'utf8')) as MergeResult & { format?: unknown };
    return j.format === MERGE_FORMAT && Array.isArray(j.failures) ? j : undefined;
  } catch {
    return undefined;
  }
}

/** The merge this one follows: --previous FILE, else the merged.json a merge left in --out. */
function previousMerge(v: Values, out: string): MergeResult | undefined {
  const given = v.previous as string | undefined;
  if (given === undefined) return readMerge(path.join(out, 'merged.json'));
  const m = readMerge(given);
  if (m === undefined) throw new UsageError(`campaign merge: --previous ${given}: not a merged.json of campaign merge`);
  return m;
}

/**
 * A merge folder used again (a nightly merge into the same place) starts empty of the last
 * merge's reproducers and maps, so the index never sits beside a failure that is not in it. Only
 * a folder a merge wrote (its merged.json says so) is touched, and only what a merge writes.
 */
function clearEarlierMerge(out: string): void {
  let format: unknown;
  try {
    format = (JSON.parse(fs.readFileSync(path.join(out, 'merged.json'), 'utf8')) as { format?: unknown }).format;
  } catch {
    return;
  }
  if (format !== MERGE_FORMAT) return;
  for (const name of ['failures', 'coverage', 'merged.json', 'junit.xml', 'index.html']) fs.rmSync(path.join(out, name), { recursive: true, force: true });
}

function mergeCmd(v: Values, positionals: string[], io: CliIO): number {
  if (positionals.length === 0) throw new UsageError('campaign merge: give one or more results folders (shard folders or folders holding them)');
  const knownDirs = ((v.known as string[] | undefined) ?? []).map((d) => path.resolve(d));
  const given = v.campaign === undefined ? undefined : readCampaign(v.campaign as string).campaign;
  if (given !== undefined) knownDirs.push(...given.known);
  let known: KnownSignature[];
  try {
    known = loadKnownSignatures(knownDirs);
  } catch (e) {
    if (e instanceof KnownSignatureError) throw new UsageError(`campaign merge: ${e.message}`);
    throw e;
  }
  const runId = runIdOf('merge', v);
  const out = prepareDir('--out', (v.out as string | undefined) ?? 'campaign-merged');
  let m;
  try {
    const shards = readShards(findShardFolders(positionals));
    if (given !== undefined && campaignId(given) !== shards[0].info.campaignId) {
      throw new MergeError(`--campaign ${v.campaign as string} is campaign ${given.name} (${campaignId(given)}), but the shards are of ${shards[0].info.campaign} (${shards[0].info.campaignId})`);
    }
    const previous = previousMerge(v, out);
    if (previous !== undefined && previous.campaignId !== shards[0].info.campaignId) {
      throw new MergeError(`the previous merge is of campaign ${previous.campaign} (${previous.campaignId}), not ${shards[0].info.campaign}`);
    }
    clearEarlierMerge(out);
    // The day is the merge's (not a decision inside a run): what `since` counts in.
    m = withHistory(mergeShards(positionals, out, known, runId), previous, new Date().toISOString().slice(0, 10));
  } catch (e) {
    if (e instanceof MergeError) throw new UsageError(`campaign merge: ${e.message}`);
    throw e;
  }
  fs.writeFileSync(path.join(out, 'merged.json'), mergedJson(m));
  fs.writeFileSync(path.join(out, 'junit.xml'), mergedJunit(m));
  fs.writeFileSync(path.join(out, 'index.html'), indexHtml(m));
  if (v.quiet !== true && v.json !== true) {
    io.stdout(summaryLines(m).join('\n') + '\n');
    io.stdout(`merged into ${out}: merged.json, junit.xml, index.html\n`);
  }
  if (v.json === true) {
    io.stdout(JSON.stringify({
      command: 'campaign merge', campaign: m.campaign, out, shards: m.shards, units: m.units.merged,
      distinct: m.totals.distinct, new: m.totals.new, known: m.totals.known,
    }) + '\n');
  }
  return m.totals.new > 0 ? EXIT_FAILURE : EXIT_PASS;
}

export function campaignCommand(p: Parsed, io: CliIO, env: NodeJS.ProcessEnv = process.env): number {
  const [sub, ...rest] = p.positionals;
  const allowed = FLAGS_OF[sub ?? ''];
  if (allowed === undefined) throw new UsageError(`campaign: expected run, plan or merge, got ${JSON.stringify(sub ?? '')} (iomap-harness campaign --help)`);
  for (const k of Object.keys(p.values)) if (!allowed.includes(k)) throw new UsageError(`campaign ${sub}: --${k} is not an option of ${sub} (it takes ${allowed.map((x) => `--${x}`).join(', ')})`);
  if (sub === 'run') return runCmd(p.values, rest, io, env);
  if (sub === 'plan') return planCmd(p.values, rest, io);
  return mergeCmd(p.values, rest, io);
}
