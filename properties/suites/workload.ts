/**
 * A workload: one fresh adapter and target, the fsx runner (properties/fsx/runner.ts) with its
 * byte oracle, and an op buffer that becomes the op log of the run.
 *
 * Three kinds of steps:
 *  - op():     an fsx op, applied and checked by the fsx runner exactly as `replay` will apply it —
 *              file operations and, with op log version 2, the interleaving steps too (writeback,
 *              complete_io, evict, race_write/race_punch/race_writeback before a write,
 *              write_direct_async, unsynced mmap stores and EOF pollution);
 *  - logged(): a step the suite applies itself but that the log records as its data-equivalent
 *              fsx op (a short write as a write of the bytes it accepted), with a note;
 *  - step():   a step outside the op log (device faults, extra open files, model checks), with a
 *              note saying where it happened.
 * The op number k of the log writes fsx's data pattern k, so replay writes the same bytes.
 *
 * The first failure stops the workload (StopWorkload unwinds the property body). Everything runs
 * synchronously; close() always releases the adapter (the bug zoo switches core bugs off there).
 */
import type { AdapterOptions } from '../../adapters/registry';
import { ReferenceTarget } from '../../adapters/reference';
import type { Capabilities, FileAdapter, FileTarget } from '../../adapters/types';
import { FsError } from '../../reference/errno';
import { writeHooks } from '../../reference/iomap/buffered-io';
import type { SparseBytes } from '../oracle/bytes';
import { Geometry, LogOptions, OpLog, OPLOG_FORMAT, OPLOG_VERSION, recordsFromBuffer, setupOf } from '../fsx/oplog';
import {
  FL_CHECK_SHARED, FL_CLOSE_OPEN, FL_DSYNC, FL_FAULT_AT, FL_INVALID, FL_KEEP_SIZE, FL_NO_MSYNC, FL_POLLUTE, FL_RESERVE, FL_SKIPPED, FL_UNSHARE,
  OP_CLONE_RANGE, OP_DEDUPE_RANGE, opByName, OPS, OpBuffer,
} from '../fsx/ops';
import { Pattern } from '../fsx/pattern';
import { contractViolation, FailureKind, Runner, TargetError } from '../fsx/runner';
import type { SuiteEnv, SuiteFailure, WorkloadOptions } from './types';

/** Thrown to unwind a property body once the workload has recorded its failure. */
export class StopWorkload extends Error {
  constructor() {
    super('workload stopped at its first failure');
    this.name = 'StopWorkload';
  }
}

export interface OpExtra {
  dst?: number;
  keepSize?: boolean;
  unshare?: boolean;
  closeOpen?: boolean;
  /** mmap stores of the op (and its EOF pollution) are not msynced (op log v2). */
  noMsync?: boolean;
  /** Store junk past EOF in the EOF page first if the op changes the size (op log v2). */
  pollute?: boolean;
  /** write: the user buffer faults at this byte, a short copy (op log v3; model targets). */
  faultAt?: number;
  /** write/mapwrite: at most this many more delalloc blocks may be reserved (op log v3; model targets). */
  reserveBlocks?: number;
  /** write/write_direct on an O_DSYNC file description: durable when it returns (op log v3). */
  dsync?: boolean;
  /** Arguments a correct target must refuse: the runner wants the errno and checks nothing changed (op log v4). */
  invalid?: boolean;
}

const hex = (n: number): string => '0x' + n.toString(16);
const QUIET = { out: (): void => undefined, err: (): void => undefined };

/** Classify an exception thrown by the target outside the fsx runner. */
export function failureOf(e: unknown, what: string): Omit<SuiteFailure, 'op'> {
  const cv = contractViolation(e);
  if (cv !== null) return { kind: 'contract', rule: cv.rule, lines: [`${what}:`, ...cv.lines] };
  if (e instanceof FsError) {
    const rule = e.code === 'SIGBUS' ? 'fileops-14.23' : undefined;
    return { kind: 'op-error', rule, lines: [`${what}: unexpected ${e.message}`] };
  }
  if (e instanceof TargetError && (e as { kind?: unknown }).kind === 'hang') return { kind: 'hang', lines: [`${what}: target hung: ${e.message}`] };
  const err = e instanceof Error ? e : new Error(String(e));
  return { kind: 'crash', lines: [`${what}: target crashed: ${err.name}: ${err.message}`] };
}

export class Workload {
  readonly env: SuiteEnv;
  readonly adapter: FileAdapter;
  readonly target: FileTarget;
  readonly caps: Capabilities;
  readonly runner: Runner;
  readonly buf = new OpBuffer(64);
  readonly pattern: Pattern;
  readonly seed: number;
  readonly geometry: Geometry;
  readonly options: LogOptions = {};
  readonly checkInvariants: boolean;
  /** Clone and dedupe ops carry checkShared (op log v3): the runner checks FIEMAP SHARED after them. */
  readonly checkShared: boolean;
  /** The reference model behind the target, when there is one (model-level checks). */
  readonly ref: ReferenceTarget | null;
  failure: SuiteFailure | null = null;
  /** What happened outside the op log, in order ("after op 3: writeback started"). */
  readonly notes: string[] = [];
  /** Extra words for the saved log's description. */
  description = '';
  closed = false;

  constructor(env: SuiteEnv, opts: AdapterOptions, wo: WorkloadOptions = {}, seed = 1) {
    this.env = env;
    this.seed = seed;
    this.adapter = env.create({ ...opts, ...env.opts });
    this.caps = this.adapter.capabilities;
    try {
      this.target = this.adapter.open();
    } catch (e) {
      this.closeQuietly();
      throw e;
    }
    this.ref = this.target instanceof ReferenceTarget ? this.target : null;
    const folio = (this.adapter as { folioSize?: unknown }).folioSize;
    this.geometry = { blockSize: this.caps.blockSize, pageSize: this.caps.pageSize };
    const fs = typeof folio === 'number' ? folio : (env.opts.folioSize ?? opts.folioSize);
    if (typeof fs === 'number') this.geometry.folioSize = fs;
    if (wo.checkFile) this.options.checkFile = true;
    if (wo.polluteEof) this.options.polluteEof = true;
    this.checkInvariants = (wo.invariants ?? true) && this.ref !== null;
    this.checkShared = wo.checkShared === true && this.caps.fiemap && typeof this.target.fiemap === 'function';
    this.pattern = Pattern.forSeed(seed);
    this.runner = new Runner(this.target, this.caps, this.pattern, {
      name: env.spec, maxlen: Number.MAX_SAFE_INTEGER, checkFile: wo.checkFile === true, sizeChecks: true,
      simulatedOps: 0, polluteEof: wo.polluteEof === true, quiet: true, debug: false, progressInterval: 0,
      // Crash steps need the file's versions since the last fsync (a small cost per op).
      trackDurability: typeof this.target.crash === 'function',
    }, QUIET);
    if (env.coverage !== undefined) {
      const rec = env.coverage.recorderFor(this.caps, this.geometry.folioSize, this.adapter.setup?.eofPrealloc !== undefined);
      this.runner.coverage = rec;
      this.target.observeStates?.(rec);
    }
  }

  get oracle(): SparseBytes {
    return this.runner.oracle;
  }

  /** The oracle's file size. */
  get size(): number {
    return this.runner.oracle.size;
  }

  /** Ops in the log so far. */
  get ops(): number {
    return this.buf.count;
  }

  get bs(): number {
    return this.caps.blockSize;
  }

  /** Record a failure and stop. */
  fail(kind: FailureKind, rule: string | undefined, lines: string[], offset?: number): never {
    if (this.failure === null) {
      this.failure = { kind, op: this.buf.count, lines };
      if (rule !== undefined) this.failure.rule = rule;
      if (offset !== undefined) this.failure.offset = offset;
    }
    throw new StopWorkload();
  }

  /**
   * Fail, witnessed by an fsx op: the op (a pure one: seek_data, seek_hole) is applied through the
   * runner and logged, so a replay of the log meets it. If the runner sees the failure too, its
   * report is the failure; otherwise this one is, charged to the witness op.
   */
  witness(name: string, off: number, kind: FailureKind, rule: string, lines: string[], offset?: number): never {
    const i = this.push(name, off, 0);
    if (!this.runner.apply(this.buf, i)) {
      const f = this.runner.failure!;
      this.failure = { kind: f.kind, op: f.op, lines: [...f.lines, ...lines.map((l) => `(suite) ${l}`)] };
      if (f.rule !== undefined) this.failure.rule = f.rule;
      if (f.offset !== undefined) this.failure.offset = f.offset;
      throw new StopWorkload();
    }
    return this.fail(kind, rule, lines, offset);
  }

  /** An extra check (not an fsx one): fails the workload when `ok` is false. */
  check(ok: boolean, kind: FailureKind, rule: string, lines: () => string[], offset?: number): void {
    if (!ok) this.fail(kind, rule, lines(), offset);
  }

  private push(name: string, off: number, len: number, x: OpExtra = {}): number {
    const info = opByName(name);
    if (info === undefined) throw new Error(`workload: unknown op ${name}`);
    const shared = this.checkShared && (info.code === OP_CLONE_RANGE || info.code === OP_DEDUPE_RANGE);
    const flags = (x.keepSize ? FL_KEEP_SIZE : 0) | (x.unshare ? FL_UNSHARE : 0) | (x.closeOpen ? FL_CLOSE_OPEN : 0)
      | (x.noMsync ? FL_NO_MSYNC : 0) | (x.pollute ? FL_POLLUTE : 0) | (x.faultAt !== undefined ? FL_FAULT_AT : 0)
      | (x.reserveBlocks !== undefined ? FL_RESERVE : 0) | (shared ? FL_CHECK_SHARED : 0) | (x.dsync ? FL_DSYNC : 0) | (x.invalid ? FL_INVALID : 0);
    // The v3 attributes ride in the dst column (write and mapwrite have no destination).
    const i = this.buf.push(info.code, off, len, x.dst ?? x.faultAt ?? x.reserveBlocks ?? 0, flags);
    this.buf.size[i] = this.size;
    return i;
  }

  /** Apply an fsx op through the runner (logged). */
  op(name: string, off: number, len: number, x: OpExtra = {}): void {
    const i = this.push(name, off, len, x);
    this.apply(i);
  }

  /**
   * A race op and the buffered write it runs inside, pushed together before either is applied: the
   * runner arms a race op only when its write is already in the buffer, as in a replay of the log.
   */
  racePair(race: { name: string; off: number; len: number }, off: number, len: number, x: OpExtra = {}): void {
    const i = this.push(race.name, race.off, race.len);
    this.push('write', off, len, x);
    this.apply(i);
    this.buf.size[i + 1] = this.size;
    this.apply(i + 1);
  }

  private apply(i: number): void {
    const ok = this.runner.apply(this.buf, i);
    if (!ok) {
      const f = this.runner.failure!;
      this.failure = { kind: f.kind, op: f.op, lines: f.lines };
      if (f.rule !== undefined) this.failure.rule = f.rule;
      if (f.offset !== undefined) this.failure.offset = f.offset;
      throw new StopWorkload();
    }
    this.after(`op ${i + 1} (${OPS[this.buf.code[i]].name})`);
  }

  /**
   * A step the suite applies itself, logged as the fsx op `name` (its data-equivalent). `fn` gets
   * the op number and the pattern bytes for [off, off+len) (a copy) and returns the length the log
   * should record (-1: mark the op skipped). The oracle is the caller's to update.
   */
  logged(name: string, off: number, len: number, note: string, fn: (n: number, data: Uint8Array) => number): void {
    const i = this.push(name, off, len);
    const n = i + 1;
    const data = Uint8Array.from(this.pattern.data(n, off, len));
    let rec: number;
    try {
      rec = fn(n, data);
    } catch (e) {
      if (e instanceof StopWorkload) throw e;
      const f = failureOf(e, `${note} (logged as op ${n} ${name} ${hex(off)} ${hex(len)})`);
      this.fail(f.kind, f.rule, f.lines, f.offset);
    }
    if (rec < 0) this.buf.flags[i] |= FL_SKIPPED;
    else this.buf.len[i] = rec;
    this.notes.push(`op ${n} (${name}) was ${note}`);
    this.sizeCheck(`after ${note}`);
    this.after(`op ${n} (${note})`);
  }

  /** A step outside the op log. Exceptions from the target become failures. */
  step(note: string, fn: () => void): void {
    this.notes.push(`after op ${this.buf.count}: ${note}`);
    try {
      fn();
    } catch (e) {
      if (e instanceof StopWorkload) throw e;
      const f = failureOf(e, note);
      this.fail(f.kind, f.rule, f.lines, f.offset);
    }
    this.sizeCheck(`after ${note}`);
    this.after(note);
  }

  /** The target's size must match the oracle (file-ops §14.1). */
  sizeCheck(when: string): void {
    let s: number;
    try {
      s = this.target.size();
    } catch (e) {
      const f = failureOf(e, 'stat');
      this.fail(f.kind, f.rule, f.lines);
    }
    if (s !== this.size) this.fail('size', 'fileops-14.1', [`Size error ${when}: expected ${hex(this.size)} stat ${hex(s)}`]);
  }

  /** Model invariants after every step (reference targets). */
  private after(what: string): void {
    if (!this.checkInvariants || this.ref === null) return;
    const inv = this.ref.invariants();
    if (inv.length === 0) return;
    const resv = inv.some((v) => /reserv|delalloc/.test(v));
    // Kind `invariant`, as the fsx runner reports the same breakage when the log is replayed.
    this.fail('invariant', resv ? 'iomap-contract-§8b' : 'iomap-contract-§6', [`model invariants broken after ${what}:`, ...inv.map((v) => `  ${v}`)]);
  }

  // ---- interleaving steps (FileTarget.interleave), as op log v2 ops ---------------------------

  /** Number of pending I/Os (0 without interleaving steps). */
  pending(): number {
    return this.target.interleave?.pendingIo() ?? 0;
  }

  /** Start background writeback (WB_SYNC_NONE) without waiting. */
  writeback(): void {
    if (this.target.interleave === undefined) return;
    this.op('writeback', 0, 0);
  }

  /** Complete pending I/O number `pick % pending` (nothing when none is pending). */
  complete(pick: number): void {
    if (this.pending() === 0) return;
    this.op('complete_io', pick, 0);
  }

  /** Complete everything pending, choosing each next completion from `picks` (then oldest first). */
  drain(picks: readonly number[] = []): void {
    for (let j = 0; this.pending() > 0; j++) {
      if (j >= 1 << 16) this.fail('hang', undefined, [`pending I/O does not drain: ${this.pending()} left after ${j} completions`]);
      this.op('complete_io', picks[j] ?? 0, 0);
    }
  }

  /** Reclaim the clean folio holding `pos`. */
  evict(pos: number): void {
    if (this.target.interleave === undefined) return;
    this.op('evict', pos, 0);
  }

  // ---- end of the run ----------------------------------------------------------------------------

  /** Complete all I/O and run the monitor's quiescent-point checks (reference targets). */
  quiesce(): void {
    this.drain();
    if (this.ref === null) return;
    const ref = this.ref;
    this.step('quiescent-point contract checks (every ioend finished, folio refs balanced)', () => ref.quiesce());
  }

  /** Release the adapter. A contract violation found at unmount is a failure of the last op. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    try {
      if (this.runner.coverage !== null) this.env.coverage?.finish(this.runner.coverage, this.target, this.buf.count);
      this.adapter.close();
    } catch (e) {
      if (this.failure !== null) return;
      const f = failureOf(e, `close (unmount) after op ${this.buf.count}`);
      this.failure = { ...f, op: this.buf.count };
    } finally {
      if (this.ref !== null) writeHooks.beforeGetFolio = undefined;
    }
  }

  private closeQuietly(): void {
    try {
      this.adapter.close();
    } catch {
      // the open error is the one to report
    }
  }

  /** The op log of what ran (expected is set by the caller). */
  log(description: string): OpLog {
    const log: OpLog = {
      format: OPLOG_FORMAT,
      version: OPLOG_VERSION,
      adapter: this.env.spec,
      geometry: { ...this.geometry },
      seed: this.seed,
      ops: recordsFromBuffer(this.buf, this.buf.count),
    };
    const setup = setupOf(this.adapter);
    if (setup) log.setup = setup;
    if (Object.keys(this.options).length > 0) log.options = { ...this.options };
    log.description = description;
    return log;
  }
}
