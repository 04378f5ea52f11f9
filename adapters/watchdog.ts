/**
 * A watchdog for in-process module adapters (`--adapter ./my-fs.js`), with the timeout semantics
 * of exec: servers: a call that does not return within the per-call timeout (10 s, or
 * IOMAP_HARNESS_EXEC_TIMEOUT_MS) ends the run with one line on stderr and exit code 3 (target hung).
 *
 * A hung call is JavaScript stuck on the main thread, which nothing on that thread can interrupt.
 * So a small worker thread watches a shared counter that every wrapped call bumps on entry and
 * exit; when a call stays open past the deadline, the worker asks the main thread, through an
 * inspector session (the debugger protocol interrupts running JavaScript), to run exitHung(),
 * which writes the line and exits with 3.
 *
 * In an fsx -j worker thread the same counters live in a buffer the parent made (workerData
 * WATCHDOG_KEY), and the parent watches them (watchWorkers): a hung call there is ended by
 * terminating the worker (Worker.terminate() stops running JavaScript), and the campaign fails
 * with one line naming the call, the worker and its seed: exit 3.
 */

import * as fs from 'fs';
import { isMainThread, Worker, workerData } from 'worker_threads';
import type { FileAdapter, FileTarget } from './types';

/** FileTarget methods that call into the user's code. */
const TARGET_METHODS = [
  'size', 'pread', 'pwrite', 'pwriteFaulting', 'truncate', 'fsync', 'fdatasync', 'mapread', 'mapwrite', 'fallocate',
  'cloneRange', 'dedupeRange', 'copyRange', 'dsyncWrite', 'directRead', 'directWrite', 'seekData', 'seekHole', 'fiemap',
  'closeOpen', 'remount', 'crash', 'directWriteAsync', 'mapwriteFaulting', 'atomicWrite', 'readDontcache', 'writeDontcache',
  'exchangeRange', 'cachedPages', 'randomReads', 'readInto',
] as const;

const HOOK = '__iomapHarnessWatchdogExit';
/** workerData key of the counters an fsx -j worker's parent watches. */
export const WATCHDOG_KEY = 'iomapHarnessWatchdog';
/** The calls, by the code stored in state[2]: open(), close(), then TARGET_METHODS. */
const CALLS = ['open()', 'close()', ...TARGET_METHODS.map((m) => `FileTarget.${m}()`)];

/** The guarded side: which call is open, and (main thread) the function the watcher makes it run. */
class Watchdog {
  /** [0] bumped on every call entry and exit; [1] 1 while a call is open; [2] the call's code (CALLS). */
  private readonly state: Int32Array;
  private current = '';

  /** `shared`: counters a parent watches (fsx -j worker); else a watcher thread of our own. */
  constructor(readonly timeoutMs: number, shared?: SharedArrayBuffer) {
    if (shared !== undefined) {
      this.state = new Int32Array(shared);
      return;
    }
    this.state = new Int32Array(new SharedArrayBuffer(12));
    (globalThis as Record<string, unknown>)[HOOK] = () => this.exitHung();
    const w = new Worker(WATCHER, { eval: true, workerData: { state: this.state, timeoutMs, hook: HOOK } });
    w.unref();
    w.on('error', () => undefined); // a watchdog that cannot start must not end the run
  }

  enter(what: string, code: number): void {
    this.current = what;
    this.state[0]++;
    this.state[2] = code;
    Atomics.store(this.state, 1, 1);
  }

  leave(): void {
    this.state[0]++;
    Atomics.store(this.state, 1, 0);
  }

  private exitHung(): void {
    fs.writeSync(2, `iomap-harness: ${this.current} did not return within ${this.timeoutMs} ms: the target hung `
      + '(the limit is IOMAP_HARNESS_EXEC_TIMEOUT_MS, as for exec: servers)\n');
    // Node prints a line of its own at exit while an inspector session is attached; it would be a
    // second line on stderr.
    fs.closeSync(2);
    process.exit(3);
  }
}

/** The worker: polls a few times per timeout; a call open and unchanged for the whole timeout is a hang. */
const WATCHER = `
const { workerData } = require('worker_threads');
const inspector = require('inspector');
const { state, timeoutMs, hook } = workerData;
let seen = -1;
let since = Date.now();
setInterval(() => {
  const seq = Atomics.load(state, 0);
  const open = Atomics.load(state, 1) === 1;
  const now = Date.now();
  if (seq !== seen || !open) { seen = seq; since = now; return; }
  if (now - since < timeoutMs) return;
  // Connected only now: an attached session makes Node print a line of its own at process.exit().
  const session = new inspector.Session();
  session.connectToMainThread();
  session.post('Runtime.evaluate', { expression: hook + '()' });
}, Math.max(10, Math.min(1000, Math.floor(timeoutMs / 4))));
`;

let shared: Watchdog | null | undefined;

/** The thread's watchdog (made on first use), or null where it cannot run. */
function watchdog(timeoutMs: number): Watchdog | null {
  if (shared !== undefined) return shared;
  if (!isMainThread) {
    // An fsx -j worker: its parent watches the counters it handed over (none: not guarded).
    const buf = (workerData as Record<string, unknown> | null)?.[WATCHDOG_KEY];
    shared = buf instanceof SharedArrayBuffer ? new Watchdog(timeoutMs, buf) : null;
    return shared;
  }
  let inspectorOk = true;
  try {
    require('inspector');
  } catch {
    inspectorOk = false;
  }
  shared = inspectorOk ? new Watchdog(timeoutMs) : null;
  return shared;
}

/** Counters for a worker thread's watchdog (pass as workerData[WATCHDOG_KEY]). */
export function workerWatchdogState(): SharedArrayBuffer {
  return new SharedArrayBuffer(12);
}

/**
 * Watch worker threads' counters from their parent: every poll, a call that has been open and
 * unchanged for `timeoutMs` is a hang; `onHang` gets the worker's index and the call's name
 * ("FileTarget.pwrite()"). Returns the function that stops watching.
 */
export function watchWorkers(states: readonly SharedArrayBuffer[], timeoutMs: number, onHang: (index: number, call: string) => void): () => void {
  const views = states.map((b) => new Int32Array(b));
  const seen = views.map(() => -1);
  const since = views.map(() => Date.now());
  const timer = setInterval(() => {
    const now = Date.now();
    for (let i = 0; i < views.length; i++) {
      const seq = Atomics.load(views[i], 0);
      if (seq !== seen[i] || Atomics.load(views[i], 1) !== 1) {
        seen[i] = seq;
        since[i] = now;
      } else if (now - since[i] >= timeoutMs) {
        clearInterval(timer);
        onHang(i, CALLS[Atomics.load(views[i], 2)] ?? 'a call');
        return;
      }
    }
  }, Math.max(10, Math.min(1000, Math.floor(timeoutMs / 4))));
  timer.unref();
  return () => clearInterval(timer);
}

function guarded<T extends unknown[], R>(w: Watchdog, what: string, code: number, f: (...a: T) => R): (...a: T) => R {
  return (...a: T): R => {
    w.enter(what, code);
    try {
      return f(...a);
    } finally {
      w.leave();
    }
  };
}

/** Every function-valued property of `t`, own or inherited (short of Object.prototype). */
function methodNames(t: object): Set<string> {
  const names = new Set<string>();
  for (let o: object | null = t; o !== null && o !== Object.prototype; o = Object.getPrototypeOf(o) as object | null) {
    for (const k of Object.getOwnPropertyNames(o)) if (k !== 'constructor') names.add(k);
  }
  return names;
}

/**
 * `t` with every method that calls into the adapter's code guarded. Every other method is bound to
 * `t` too: the guard inherits from `t`, so an unbound method would run with the guard as `this`,
 * and a field it assigns (a grown buffer, a new length) would land on the guard, unseen by the
 * guarded methods (a module adapter's exchange_range once lost its data that way).
 */
function guardTarget(w: Watchdog, name: string, t: FileTarget): FileTarget {
  const g = Object.create(t) as Record<string, unknown>;
  const src = t as unknown as Record<string, unknown>;
  const codes = new Map<string, number>(TARGET_METHODS.map((k, i) => [k, i + 2]));
  for (const k of methodNames(t)) {
    const f = src[k];
    if (typeof f !== 'function') continue;
    const bound = (f as (...a: unknown[]) => unknown).bind(t);
    const code = codes.get(k);
    // Defined, not assigned: `t` may offer a method through a getter (naive's readInto), and
    // assigning over an inherited getter throws.
    Object.defineProperty(g, k, {
      value: code === undefined ? bound : guarded(w, `adapter module ${name}: FileTarget.${k}()`, code, bound), writable: true, enumerable: true, configurable: true,
    });
  }
  return g as unknown as FileTarget;
}

/**
 * `a` with a watchdog on open(), close() and every target call. `timeoutMs` as exec:'s. Where the
 * watchdog cannot run (no inspector; a worker thread nobody watches), `a` unchanged.
 */
export function guardModuleAdapter(a: FileAdapter, name: string, timeoutMs: number): FileAdapter {
  const w = watchdog(timeoutMs);
  if (w === null) return a;
  const g = Object.create(a) as FileAdapter;
  const open = a.open.bind(a);
  g.open = guarded(w, `adapter module ${name}: open()`, 0, () => guardTarget(w, name, open()));
  g.close = guarded(w, `adapter module ${name}: close()`, 1, a.close.bind(a));
  return g;
}
