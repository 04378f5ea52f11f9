/**
 * `campaign plan`: what each job engine needs to run a campaign's N shards, and nothing of a
 * scheduler of our own (docs/campaigns.md "Engines"). Every plan runs the same command per shard,
 * `iomap-harness campaign run FILE --shards N --out RESULTS`, and lets the engine say which shard
 * it is: Kubernetes through JOB_COMPLETION_INDEX (an Indexed Job), Slurm through
 * SLURM_ARRAY_TASK_ID (a job array), GitHub Actions through a matrix value passed as --shard K/N.
 *
 * A shard that finds failures exits 1; the plans treat that as success of the job (the verdict is
 * the merge's), and retry only what is not a result (2 bad input, 3 a crashed target, a killed
 * pod or node) — a retried shard resumes where it stopped.
 */

import type { Campaign } from './config';
import { toYaml, Yaml } from './yaml';

export type Engine = 'k8s' | 'github' | 'slurm';
export const ENGINES: readonly Engine[] = ['k8s', 'github', 'slurm'];

/** The environment variable each engine sets to the 0-based index of a task (none for GitHub: matrix values). */
export const INDEX_VARIABLES: Readonly<Record<'k8s' | 'slurm', string>> = { k8s: 'JOB_COMPLETION_INDEX', slurm: 'SLURM_ARRAY_TASK_ID' };

/**
 * Where each plan takes its run id from (campaign run --run-id): one value for every task of one
 * night's job, kept when the engine retries a task. Kubernetes: the Job's uid, which the Job
 * controller puts on its pods as the label controller-uid (the downward API hands it to the
 * container as RUN_ID); Slurm: the array's job id; GitHub: the workflow run's id.
 */
export const RUN_ID_SOURCES = { k8s: 'RUN_ID', slurm: 'SLURM_ARRAY_JOB_ID', github: '${{ github.run_id }}' } as const;

export interface PlanFile {
  /** File name (relative to the plan's output folder). */
  name: string;
  text: string;
}

export interface Plan {
  files: PlanFile[];
  /** What to do next, for the terminal. */
  next: string[];
}

export interface PlanInput {
  campaign: Campaign;
  /** The campaign file's text (Kubernetes ships it in a ConfigMap). */
  text: string;
  /** The campaign file as the engine's machines see it (GitHub: path in the repository; Slurm: on the shared filesystem). */
  file: string;
  shards: number;
}

/** `sh` that runs a shard and succeeds for 0 (pass) and 1 (failures found, recorded). */
function shardScript(cmd: string): string {
  return `${cmd}\ncode=$?\nif [ "$code" -gt 1 ]; then exit "$code"; fi\n`;
}

/**
 * The pod's script with results in an object store: the shard lives on an emptyDir; what this run
 * uploaded before (a retried pod) is copied back first, a snapshot is uploaded every few minutes
 * and at the end. The snapshot copies units/ before failures/: a unit's result is written after
 * its files, so a result in the snapshot always has its files there too.
 */
function objectStoreScript(c: Campaign, shards: number, cmd: string): string {
  const o = c.engines.k8s.objectStore!;
  return [
    `shard=shard-$((JOB_COMPLETION_INDEX + 1))-of-${shards}`,
    `dir=/results/${c.name}/$shard`,
    `store="${o.url}/$${RUN_ID_SOURCES.k8s}/$shard"`,
    'mkdir -p "$dir"',
    '# A retried pod resumes what its run uploaded; nothing there (the first attempt) is no error.',
    `${o.sync} "$store" "$dir" || echo "nothing to resume from $store"`,
    'upload() {',
    '  rm -rf /tmp/snap && mkdir -p /tmp/snap',
    '  cp -R "$dir/units" /tmp/snap/ 2>/dev/null; cp -R "$dir/failures" /tmp/snap/ 2>/dev/null',
    '  cp "$dir"/*.json "$dir"/*.xml /tmp/snap/ 2>/dev/null',
    `  ${o.sync} /tmp/snap "$store"`,
    '}',
    '# Uploads every few minutes; the last one waits for one in progress, so none lands after it.',
    'rm -f /tmp/stop',
    `( while [ ! -e /tmp/stop ]; do sleep ${o.everySeconds} & echo $! > /tmp/sleep.pid; wait $!; [ -e /tmp/stop ] || upload; done ) &`,
    'uploader=$!',
    cmd,
    'code=$?',
    'touch /tmp/stop; kill "$(cat /tmp/sleep.pid 2>/dev/null)" 2>/dev/null; wait "$uploader"',
    'upload || exit 3',
    'if [ "$code" -gt 1 ]; then exit "$code"; fi',
    '',
  ].join('\n');
}

function k8sPlan(p: PlanInput): Plan {
  const c = p.campaign;
  const k = c.engines.k8s;
  const store = k.objectStore;
  const labels = { 'app.kubernetes.io/name': 'iomap-harness', 'iomap-harness/campaign': c.name };
  const meta = (name: string) => ({ name, ...(k.namespace !== undefined ? { namespace: k.namespace } : {}), labels });
  const configMap: Record<string, Yaml> = {
    apiVersion: 'v1', kind: 'ConfigMap', metadata: meta(`${c.name}-campaign`), data: { 'campaign.json': p.text.endsWith('\n') ? p.text : p.text + '\n' },
  };
  const cmd = `iomap-harness campaign run /campaign/campaign.json --shards ${p.shards} --engine k8s --run-id "$${RUN_ID_SOURCES.k8s}" --out /results/${c.name}`;
  const resultsVolume: Record<string, Yaml> = store === undefined ? { name: 'results', persistentVolumeClaim: { claimName: k.resultsClaim } } : { name: 'results', emptyDir: {} };
  const mergeCmd = `iomap-harness campaign merge /results/${c.name} --campaign /campaign/campaign.json --out /results/${c.name}-merged`;
  // From a store: every run's shards are copied down (the merge takes the newest run), the merge goes back up beside them.
  const mergeScript = store === undefined ? shardScript(mergeCmd)
    : `${store.sync} "${store.url}" /results/${c.name} || exit 3\n${mergeCmd}\ncode=$?\n${store.sync} /results/${c.name}-merged "${store.url}-merged" || exit 3\nif [ "$code" -gt 1 ]; then exit "$code"; fi\n`;
  const job: Record<string, Yaml> = {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: meta(c.name),
    spec: {
      completionMode: 'Indexed',
      completions: p.shards,
      parallelism: Math.min(p.shards, k.parallelism ?? p.shards),
      // A pod lost with its node, or killed, is retried: the shard resumes from the volume.
      backoffLimit: Math.max(6, 2 * p.shards),
      template: {
        metadata: { labels },
        spec: {
          restartPolicy: 'Never',
          containers: [{
            name: 'shard',
            image: k.image,
            command: ['sh', '-c', store === undefined ? shardScript(cmd) : objectStoreScript(c, p.shards, cmd)],
            env: [{ name: RUN_ID_SOURCES.k8s, valueFrom: { fieldRef: { fieldPath: "metadata.labels['controller-uid']" } } }],
            resources: { requests: { cpu: k.cpu, memory: k.memory }, limits: { cpu: k.cpu, memory: k.memory } },
            volumeMounts: [{ name: 'campaign', mountPath: '/campaign', readOnly: true }, { name: 'results', mountPath: '/results' }],
          }],
          volumes: [{ name: 'campaign', configMap: { name: `${c.name}-campaign` } }, resultsVolume],
        },
      },
    },
  };
  // The merge: a one-pod Job on the same volume (or the same store), applied once the shards' Job is over.
  const mergeJob: Record<string, Yaml> = {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: meta(`${c.name}-merge`),
    spec: {
      backoffLimit: 2,
      template: {
        metadata: { labels },
        spec: {
          restartPolicy: 'Never',
          containers: [{
            name: 'merge',
            image: k.image,
            command: ['sh', '-c', mergeScript],
            resources: { requests: { cpu: '1', memory: k.memory }, limits: { cpu: '1', memory: k.memory } },
            volumeMounts: [{ name: 'campaign', mountPath: '/campaign', readOnly: true }, { name: 'results', mountPath: '/results' }],
          }],
          volumes: [{ name: 'campaign', configMap: { name: `${c.name}-campaign` } }, resultsVolume],
        },
      },
    },
  };
  const name = `${c.name}-job.yaml`;
  const mergeName = `${c.name}-merge.yaml`;
  return {
    files: [{ name, text: `${toYaml(configMap)}---\n${toYaml(job)}` }, { name: mergeName, text: toYaml(mergeJob) }],
    next: [
      `kubectl apply -f ${name}   # ${p.shards} pods, shard index from JOB_COMPLETION_INDEX; results ${store === undefined ? `on PVC ${k.resultsClaim} under ${c.name}/` : `in ${store.url}/RUN_ID/`}`,
      `kubectl wait --for=condition=complete --timeout=24h job/${c.name}; kubectl apply -f ${mergeName}   # merged into ${store === undefined ? `${c.name}-merged/ on the same volume` : `${store.url}-merged`}`,
    ],
  };
}

function githubPlan(p: PlanInput): Plan {
  const c = p.campaign;
  const g = c.engines.github;
  const setup: Yaml[] = [
    { uses: 'actions/checkout@v4' },
    { uses: 'actions/setup-node@v4', with: { 'node-version': g.nodeVersion, cache: 'npm' } },
    { run: 'npm ci' },
  ];
  const shards = Array.from({ length: p.shards }, (_, i) => i + 1);
  const workflow: Record<string, Yaml> = {
    name: `iomap-harness campaign ${c.name}`,
    on: { schedule: [{ cron: '0 2 * * *' }], workflow_dispatch: {} },
    jobs: {
      shard: {
        name: `shard \${{ matrix.shard }}/${p.shards}`,
        'runs-on': g.runsOn,
        'timeout-minutes': g.timeoutMinutes,
        strategy: { 'fail-fast': false, ...(g.maxParallel !== undefined ? { 'max-parallel': g.maxParallel } : {}), matrix: { shard: shards } },
        steps: [
          ...setup,
          { name: 'run the shard', shell: 'bash', run: shardScript(`set +e\nnpx iomap-harness campaign run ${p.file} --shard \${{ matrix.shard }}/${p.shards} --run-id ${RUN_ID_SOURCES.github} --out campaign-results`) },
          // A re-run of a failed shard job uploads its shard again, in place of the first attempt's.
          { uses: 'actions/upload-artifact@v4', if: 'always()', with: { name: `${c.name}-shard-\${{ matrix.shard }}`, path: 'campaign-results', 'if-no-files-found': 'warn', overwrite: true } },
        ],
      },
      merge: {
        needs: 'shard',
        if: 'always()',
        'runs-on': g.runsOn,
        steps: [
          ...setup,
          { uses: 'actions/download-artifact@v4', with: { pattern: `${c.name}-shard-*`, path: 'campaign-results', 'merge-multiple': true } },
          { name: 'merge and triage', run: `npx iomap-harness campaign merge campaign-results --campaign ${p.file} --out campaign-merged` },
          { uses: 'actions/upload-artifact@v4', if: 'always()', with: { name: `${c.name}-merged`, path: 'campaign-merged' } },
        ],
      },
    },
  };
  const name = `iomap-harness-${c.name}.yml`;
  return {
    files: [{ name, text: toYaml(workflow) }],
    next: [`copy ${name} to .github/workflows/ in the repository that holds ${p.file}: it runs nightly at 02:00 UTC and on demand (workflow_dispatch)`],
  };
}

function slurmPlan(p: PlanInput): Plan {
  const c = p.campaign;
  const s = c.engines.slurm;
  const head = (job: string, extra: string[]) => [
    '#!/bin/bash',
    `#SBATCH --job-name=${job}`,
    ...extra,
    `#SBATCH --cpus-per-task=${s.cpusPerTask}`,
    `#SBATCH --mem=${s.mem}`,
    `#SBATCH --time=${s.time}`,
    ...(s.partition !== undefined ? [`#SBATCH --partition=${s.partition}`] : []),
  ];
  const shardsFile = `${c.name}-shards.sbatch`;
  const mergeFile = `${c.name}-merge.sbatch`;
  const shards = [
    ...head(`iomap-${c.name}`, [`#SBATCH --array=0-${p.shards - 1}`, '#SBATCH --requeue', `#SBATCH --output=${s.results}/slurm-%A_%a.out`]),
    '# One array task per shard; the shard index comes from SLURM_ARRAY_TASK_ID (0-based).',
    '# A requeued task resumes its shard from the results folder.',
    `mkdir -p ${s.results}`,
    '# The run id (the array job id, kept by a requeue) tells a requeued task from a new night:',
    '# a shard folder of an earlier night is cleared, not resumed.',
    shardScript(`npx iomap-harness campaign run ${p.file} --shards ${p.shards} --engine slurm --run-id "$${RUN_ID_SOURCES.slurm}" --out ${s.results}`),
  ].join('\n');
  const merge = [
    ...head(`iomap-${c.name}-merge`, [`#SBATCH --output=${s.results}/slurm-merge-%j.out`]),
    `npx iomap-harness campaign merge ${s.results} --campaign ${p.file} --out ${s.results}/merged`,
    '',
  ].join('\n');
  return {
    files: [{ name: shardsFile, text: shards }, { name: mergeFile, text: merge }],
    next: [
      `jid=$(sbatch --parsable ${shardsFile})`,
      `sbatch --dependency=afterany:$jid ${mergeFile}`,
    ],
  };
}

export function planFor(engine: Engine, p: PlanInput): Plan {
  if (engine === 'k8s') return k8sPlan(p);
  if (engine === 'github') return githubPlan(p);
  return slurmPlan(p);
}
