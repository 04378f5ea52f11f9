/**
 * The seam between the reference generic layer and a filesystem's ops table where a checker can
 * sit: the harness's contract monitor installs itself here, and every
 * reference-style adapter mounts its filesystem through it. The adapters only know this
 * interface, so the layers point one way (properties -> adapters), yet the monitor is on by
 * default wherever the harness runs.
 */
import type { FsInstance } from '../reference/iomap/fs-ops';

/** A checker wrapped around a mounted filesystem's ops tables. */
export interface FsMonitor {
  /** The filesystem as the generic layer must see it (every callback goes through the checker). */
  readonly wrapped: FsInstance;
  /** Checks that need a quiet moment (every ioend finished, folio references balanced). */
  checkQuiescent(): void;
  /** How often each rule was evaluated. */
  readonly evaluated: Map<string, number>;
}

export interface FsMonitorOptions {
  /** Logical sector size of the device (direct I/O alignment). */
  lbs: number;
  /** The file operation in progress, for reports. */
  currentOp?: () => string;
  /** Count rule evaluations here (shared across mounts) instead of in counts of the monitor's own. */
  evaluated?: RuleCounts;
}

export type FsMonitorFactory = (fs: FsInstance, opts: FsMonitorOptions) => FsMonitor;

let installed: FsMonitorFactory | null = null;

/** Install the checker every later mount wraps the filesystem in (the contract monitor does, on load). */
export function installFsMonitor(factory: FsMonitorFactory): void {
  installed = factory;
}

/**
 * Install `load` (which loads the checker's module, whose load installs it) as the checker, unless
 * one is installed already: the module then loads at the first monitored mount, and a run that
 * mounts nothing (a target without the generic layer) never loads it.
 */
export function installFsMonitorLoader(load: () => void): void {
  if (installed !== null) return;
  const lazy: FsMonitorFactory = (fs, opts) => {
    load();
    if (installed === lazy) throw new Error('the contract monitor module did not install itself');
    return fsMonitorFactory()(fs, opts);
  };
  installed = lazy;
}

/** The installed checker; asking for a monitored mount before one is installed is a harness bug. */
export function fsMonitorFactory(): FsMonitorFactory {
  if (installed === null) {
    throw new Error('no contract monitor is installed: load the harness contract monitor module before mounting with monitor: true');
  }
  return installed;
}

/** Rule ids in the order they were first given a slot (ruleSlot): one numbering for every RuleCounts. */
const slotIds: string[] = [];
const slotOf = new Map<string, number>();

/** The counter slot of rule `id` in every RuleCounts (a checker asks once per rule, at load). */
export function ruleSlot(id: string): number {
  let s = slotOf.get(id);
  if (s === undefined) {
    s = slotIds.length;
    slotIds.push(id);
    slotOf.set(id, s);
  }
  return s;
}

/**
 * How often each rule was evaluated: a Map from rule id to count whose counting goes through
 * slots (ruleSlot): bump() adds to a typed array, and the Map's own entries catch up when they
 * are read (get, has, size, iteration). A string-keyed Map update per evaluation cost more than
 * most of the checks it counted. A key appears at its first bump, so the Map's order stays the
 * order in which rules were first evaluated.
 */
export class RuleCounts extends Map<string, number> {
  private pending = new Float64Array(64);
  /** Slots bumped since the entries last caught up (a slot may appear twice). */
  private readonly touched: number[] = [];

  /** Count `n` evaluations of the rule in `slot`. */
  bump(slot: number, n: number): void {
    if (slot >= this.pending.length) {
      const grown = new Float64Array(Math.max(slot + 1, this.pending.length * 2));
      grown.set(this.pending);
      this.pending = grown;
    }
    if (this.pending[slot] === 0) {
      this.touched.push(slot);
      const id = slotIds[slot];
      if (!super.has(id)) super.set(id, 0);
    }
    this.pending[slot] += n;
  }

  /** Move the pending counts into the Map's entries. */
  private catchUp(): void {
    const t = this.touched;
    if (t.length === 0) return;
    for (const slot of t) {
      const n = this.pending[slot];
      if (n === 0) continue;
      const id = slotIds[slot];
      super.set(id, (super.get(id) ?? 0) + n);
      this.pending[slot] = 0;
    }
    t.length = 0;
  }

  override get(id: string): number | undefined { this.catchUp(); return super.get(id); }
  override has(id: string): boolean { this.catchUp(); return super.has(id); }
  override set(id: string, n: number): this { this.catchUp(); return super.set(id, n); }
  override delete(id: string): boolean { this.catchUp(); return super.delete(id); }
  override clear(): void { this.catchUp(); super.clear(); }
  override get size(): number { this.catchUp(); return super.size; }
  override forEach(fn: (value: number, key: string, map: Map<string, number>) => void, thisArg?: unknown): void { this.catchUp(); super.forEach(fn, thisArg); }
  override entries(): IterableIterator<[string, number]> { this.catchUp(); return super.entries(); }
  override keys(): IterableIterator<string> { this.catchUp(); return super.keys(); }
  override values(): IterableIterator<number> { this.catchUp(); return super.values(); }
  override [Symbol.iterator](): IterableIterator<[string, number]> { this.catchUp(); return super[Symbol.iterator](); }
  /** Serialize as the counts themselves (rule id -> evaluations), never the pending slots: two
   *  monitors that counted the same evaluations must print the same, however often they caught up. */
  toJSON(): Record<string, number> { this.catchUp(); return Object.fromEntries(super.entries()); }
}
