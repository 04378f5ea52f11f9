/**
 * Loaded into the mocha process before any test (.mocharc.json "require").
 *
 * Under nyc (`npm test`), every child process a test starts is instrumented too: nyc hooks spawn
 * (process-on-spawn) and puts its preload in NODE_OPTIONS, so each `iomap-harness` child, fsx
 * worker and campaign shard compiles every module it loads with coverage counters and writes a
 * report at exit. That made the CLI tests ten times dearer in CPU than the work they check (a
 * `fsx --help` child: 0.75 s plain, 6-14 s instrumented) and pushed CI past its limit. Coverage is
 * measured on the harness code the tests run in this process, which is all of it; children run
 * plain unless IOMAP_HARNESS_CHILD_COVERAGE=1 asks for them to be counted as well.
 *
 * This relies on nyc 15's internals (the process-on-spawn singleton and the node-preload entry in
 * NODE_OPTIONS), pinned in package.json; without nyc it does nothing.
 */

const SPAWN_HOOKS = Symbol.for('process-on-spawn@*:singletonId');

interface SpawnHookState { listeners: unknown[] }

function stopChildCoverage(): void {
  const state = (globalThis as unknown as Record<symbol, SpawnHookState | undefined>)[SPAWN_HOOKS];
  if (state === undefined || process.env.IOMAP_HARNESS_CHILD_COVERAGE === '1') return;
  state.listeners.length = 0;
  const opts = (process.env.NODE_OPTIONS ?? '').replace(/--require\s+\S*node-preload\.js/g, '').trim();
  if (opts === '') delete process.env.NODE_OPTIONS;
  else process.env.NODE_OPTIONS = opts;
  for (const k of Object.keys(process.env)) if (k.startsWith('NODE_PRELOAD_') || k.startsWith('NYC_')) delete process.env[k];
}

stopChildCoverage();
