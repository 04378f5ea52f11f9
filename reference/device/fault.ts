/**
 * FaultDevice: a BlockDevice wrapper that injects faults on demand, counts what passes through
 * and logs every fault it injects (dm-flakey / dm-error / dm-delay in one, deterministic).
 *
 *   const dev = new FaultDevice(new MemoryDevice({ size }), { seed: 7 });
 *   dev.failWrites(off, len);        // writes overlapping [off, off+len) throw FsError(EIO)
 *   dev.failReads(off, len);         // reads likewise
 *   dev.addFault({ kind: 'write', action: 'error', after: 10, count: 1 });   // the 11th write fails
 *   dev.addFault({ kind: 'read', probability: 0.05, off, len });              // seeded 5% of reads
 *   dev.addFault({ kind: 'write', action: 'drop', probability: 0.1 });        // acknowledged, never stored
 *   dev.addFault({ kind: 'read', action: 'corrupt' });                        // one byte flipped per read
 *   dev.addFault({ kind: 'write', action: 'hold' });  dev.release();          // latency steps
 *   dev.enabled = false;             // switch every rule off (and on again) at run time
 *   dev.clearFaults();               // forget the rules
 *   dev.stats.readBytes, dev.log     // counters and a list of the I/Os seen
 *   dev.injected                     // every fault injected, oldest first
 *
 * Rules. A rule matches requests of its kind ('read' or 'write') overlapping its byte range
 * (default: the whole device). Of the matching requests the first `after` pass untouched; after
 * that the rule fires on each one with `probability` (default 1, drawn from the rule's own PRNG),
 * at most `count` times. Rules are tried in the order they were added; the first that fires
 * decides the request, and rules after it do not see (or count) that request. While `enabled`
 * is false no rule fires or counts. Zero-length requests never fault.
 *
 * Actions:
 *  - 'error' (default): the request throws FsError(errno, default EIO) and does nothing: a failed
 *    read leaves the caller's buffer untouched, a failed write does not reach the inner device
 *    (no torn writes).
 *  - 'drop' (writes): the write is acknowledged and never stored (dm-flakey drop_writes).
 *  - 'corrupt': one byte of the request is XORed with a non-zero mask (dm-flakey
 *    corrupt_bio_byte): for a read, in the caller's buffer after a correct read; for a write, in
 *    the data stored (the caller's buffer is not changed). `byte` picks the index in the request
 *    (a request too short for it is not corrupted), else a seeded random byte of the part of the
 *    request inside the rule's range; `xor` picks the mask, else a seeded random one.
 *  - 'torn' (writes): a seeded head of whole sectors (fewer than all; none for a one-sector
 *    write) is stored and the write acknowledged: a write torn by a failing device.
 *  - 'hold' (writes): the write is acknowledged and held pending; `release()` lands it on the
 *    inner device later, in any order the caller chooses, `dropHeld()` loses it. Reads see the
 *    inner device (a held write has not landed) unless `readsSeeHeld`; a flush first releases
 *    every held write in issue order unless `holdAcrossFlush` (a device that lies about flushes).
 *    Held writes still pending at close() are lost.
 *
 * Determinism: every random choice comes from a rule's PRNG (FaultRng, seeded from `seed` in the
 * spec, else from the device seed and the rule id), so the same requests give the same faults.
 *
 * Arguments are validated exactly like every other backend (validate.ts) BEFORE a fault is
 * considered, so bad input still yields EINVAL/ENOSPC/EBADF, never an injected fault.
 */
import { EINVAL, EIO, FsError, errnoName } from '../errno';
import type { BlockDevice, WriteOptions } from './types';
import { validateDiscard, validateRead, validateWrite, checkOpen } from './validate';
import { WrappedDevice } from './wrapper';

export type IoKind = 'read' | 'write';
export type FaultAction = 'error' | 'drop' | 'corrupt' | 'hold' | 'torn';

/** A rule as given to addFault() (JSON-serialisable: fault schedules are saved with test cases). */
export interface FaultSpec {
  kind: IoKind;
  /** Default 'error'. 'drop' and 'hold' apply to writes only. */
  action?: FaultAction;
  /** Byte range the rule covers (default: the whole device). */
  off?: number;
  len?: number;
  /** Matching requests that pass before the rule may fire (default 0). */
  after?: number;
  /** Fire at most this many times (default: no limit). */
  count?: number;
  /** Chance of firing on each eligible request, in [0, 1] (default 1). */
  probability?: number;
  /** 'error': the errno thrown (default EIO). */
  errno?: number;
  /** 'corrupt': the index in the request of the byte to change (default: random in the range). */
  byte?: number;
  /** 'corrupt': the XOR mask, 1..255 (default: random non-zero). */
  xor?: number;
  /** The rule's PRNG seed (default: from the device seed and the rule id). */
  seed?: number;
  /** Free text shown in the fault log. */
  label?: string;
  /**
   * In-process only (not saved with a case): the rule matches only requests for which this
   * returns true (besides overlapping its byte range). The fsx fault ops use it to reach exactly
   * the device blocks that back a range of the test file, at the moment of the I/O.
   */
  match?: (off: number, len: number) => boolean;
}

/** One rule of the device (a FaultSpec with its defaults filled in and its counters). */
export interface FaultRule {
  readonly id: number;
  readonly kind: IoKind;
  readonly action: FaultAction;
  readonly off: number;
  readonly len: number;
  readonly after: number;
  readonly count: number;
  readonly probability: number;
  readonly errno: number;
  readonly byte?: number;
  readonly xor?: number;
  readonly seed: number;
  readonly label?: string;
  readonly match?: (off: number, len: number) => boolean;
  /** Matching requests seen (while enabled, not taken by an earlier rule). */
  matched: number;
  /** Times it fired. */
  fired: number;
}

/** One request as seen by the wrapper (after validation). */
export interface IoRecord {
  readonly kind: IoKind | 'flush' | 'discard' | 'release';
  readonly off: number;
  readonly len: number;
  /** The request threw an injected error. */
  readonly failed: boolean;
  /** The fault injected into this request, if any. */
  readonly fault?: FaultAction;
  /** The request's number in the device's request sequence (never reset). */
  readonly seq?: number;
}

/** One injected fault. */
export interface InjectedFault {
  /** Request sequence number (IoRecord.seq). */
  readonly seq: number;
  readonly rule: number;
  readonly action: FaultAction;
  readonly kind: IoKind;
  readonly off: number;
  readonly len: number;
  /** 'error': the errno thrown. */
  readonly errno?: number;
  /** 'corrupt': the device byte changed, its correct value and the value returned/stored. */
  readonly at?: number;
  readonly from?: number;
  readonly to?: number;
  /** 'hold': the held write's id. */
  readonly held?: number;
  /** 'torn': bytes of the write's head that were stored (whole sectors, fewer than all). */
  readonly stored?: number;
  readonly label?: string;
}

export interface FaultStats {
  reads: number;
  writes: number;
  readBytes: number;
  writeBytes: number;
  failedReads: number;
  failedWrites: number;
  flushes: number;
  discards: number;
}

/** Injected faults by action, and held writes released. */
export interface FaultCounts {
  errors: number;
  drops: number;
  corruptions: number;
  holds: number;
  releases: number;
}

/** A write acknowledged but not yet landed ('hold'). */
export interface HeldWrite {
  readonly id: number;
  readonly seq: number;
  readonly off: number;
  readonly data: Uint8Array;
  readonly fua: boolean;
}

export interface FaultDeviceOptions {
  name?: string;
  /** Seed of the rules' PRNGs (default 1). */
  seed?: number;
  /** Reads see held writes (a coherent cache in front of the media). Default false. */
  readsSeeHeld?: boolean;
  /** A flush leaves held writes pending (a lying device). Default false: flush releases them. */
  holdAcrossFlush?: boolean;
  /**
   * Keep the request log (`log`) and every injected fault (`injected`). Default true; a long
   * fuzz run (fsx over millions of requests) turns it off and reads `counts` instead.
   */
  keepLog?: boolean;
}

function zeroStats(): FaultStats {
  return { reads: 0, writes: 0, readBytes: 0, writeBytes: 0, failedReads: 0, failedWrites: 0, flushes: 0, discards: 0 };
}

function zeroCounts(): FaultCounts {
  return { errors: 0, drops: 0, corruptions: 0, holds: 0, releases: 0 };
}

/**
 * A small deterministic PRNG (mulberry32): 32-bit state, full period, good enough to pick which
 * requests fail. No Math.random anywhere in the fault model.
 */
export class FaultRng {
  private s: number;
  constructor(seed: number) {
    this.s = (seed >>> 0) ^ 0x9e3779b9;
  }

  next32(): number {
    this.s = (this.s + 0x6d2b79f5) >>> 0;
    let t = this.s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }

  /** A float in [0, 1). */
  float(): number {
    return this.next32() / 4294967296;
  }

  /** An integer in [0, n) (n ≥ 1). */
  below(n: number): number {
    return Math.floor(this.float() * n);
  }
}

const ACTIONS: readonly FaultAction[] = ['error', 'drop', 'corrupt', 'hold', 'torn'];

function mixSeed(seed: number, id: number): number {
  let h = (seed ^ Math.imul(id + 1, 0x85ebca6b)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x7feb352d) >>> 0;
  return (h ^ (h >>> 15)) >>> 0;
}

export class FaultDevice extends WrappedDevice {
  readonly name: string;
  /** Master switch: when false no rule fires or counts (requests are still counted in stats). */
  enabled = true;
  readonly rules: FaultRule[] = [];
  stats: FaultStats = zeroStats();
  /** Every request since the last resetStats(), oldest first. */
  log: IoRecord[] = [];
  /** Every fault injected since the last resetStats(), oldest first. */
  injected: InjectedFault[] = [];
  counts: FaultCounts = zeroCounts();
  /** Writes acknowledged and not landed yet ('hold'), in issue order. */
  readonly held: HeldWrite[] = [];
  readonly seed: number;
  readsSeeHeld: boolean;
  holdAcrossFlush: boolean;
  readonly keepLog: boolean;
  /** Called for every injected fault, when it is injected (before an error is thrown). */
  onFault: ((f: InjectedFault) => void) | null = null;
  /**
   * Called for every write and discard request as it arrives, whatever a fault then does to it
   * (the reference adapter's MediaWatch: which device bytes may have changed).
   */
  onWrite: ((off: number, len: number) => void) | null = null;
  private nextRule = 0;
  private nextHeld = 0;
  private seq = 0;
  private readonly rngs = new Map<number, FaultRng>();

  constructor(inner: BlockDevice, nameOrOpts?: string | FaultDeviceOptions) {
    const opts: FaultDeviceOptions = typeof nameOrOpts === 'string' ? { name: nameOrOpts } : (nameOrOpts ?? {});
    if (opts === null || typeof opts !== 'object') throw new FsError(EINVAL, 'FaultDevice: options must be an object');
    if (opts.seed !== undefined && (typeof opts.seed !== 'number' || !Number.isInteger(opts.seed))) {
      throw new FsError(EINVAL, `FaultDevice: seed must be an integer, got ${String(opts.seed)}`);
    }
    super(inner);
    this.name = opts.name ?? `fault(${inner.name})`;
    this.seed = (opts.seed ?? 1) >>> 0;
    this.readsSeeHeld = opts.readsSeeHeld ?? false;
    this.holdAcrossFlush = opts.holdAcrossFlush ?? false;
    this.keepLog = opts.keepLog ?? true;
  }

  private logRequest(r: IoRecord): void {
    if (this.keepLog) this.log.push(r);
  }

  /** Fail reads overlapping [off, off+len). Returns this for chaining. */
  failReads(off: number, len: number): this {
    this.addFault({ kind: 'read', off, len });
    return this;
  }

  /** Fail writes overlapping [off, off+len). */
  failWrites(off: number, len: number): this {
    this.addFault({ kind: 'write', off, len });
    return this;
  }

  /** Add a rule (see the file comment); returns it (its counters update as it fires). */
  addFault(spec: FaultSpec): FaultRule {
    const bad = (what: string): never => {
      throw new FsError(EINVAL, `${this.name}: fault rule: ${what}`);
    };
    if (spec === null || typeof spec !== 'object') bad('must be an object');
    const nonNeg = (v: unknown, what: string): number => {
      if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) {
        bad(`${what} must be a non-negative integer, got ${String(v)}`);
      }
      return v as number;
    };
    if (spec.kind !== 'read' && spec.kind !== 'write') bad(`kind must be 'read' or 'write', got ${String(spec.kind)}`);
    const action = spec.action ?? 'error';
    if (!ACTIONS.includes(action)) bad(`unknown action ${String(action)}`);
    if ((action === 'drop' || action === 'hold' || action === 'torn') && spec.kind !== 'write') bad(`'${action}' applies to writes only`);
    if (spec.match !== undefined && typeof spec.match !== 'function') bad('match must be a function');
    const off = spec.off === undefined ? 0 : nonNeg(spec.off, 'off');
    const len = spec.len === undefined ? Number.MAX_SAFE_INTEGER - off : nonNeg(spec.len, 'len');
    const after = spec.after === undefined ? 0 : nonNeg(spec.after, 'after');
    const count = spec.count === undefined ? Number.MAX_SAFE_INTEGER : nonNeg(spec.count, 'count');
    const p = spec.probability ?? 1;
    if (typeof p !== 'number' || !(p >= 0 && p <= 1)) bad(`probability must be in [0, 1], got ${String(p)}`);
    const errno = spec.errno ?? EIO;
    if (typeof errno !== 'number' || !Number.isInteger(errno) || errno <= 0) bad(`errno must be a positive integer, got ${String(errno)}`);
    if (spec.byte !== undefined) nonNeg(spec.byte, 'byte');
    if (spec.xor !== undefined && (typeof spec.xor !== 'number' || !Number.isInteger(spec.xor) || spec.xor < 1 || spec.xor > 255)) {
      bad(`xor must be an integer in [1, 255], got ${String(spec.xor)}`);
    }
    if (spec.seed !== undefined && (typeof spec.seed !== 'number' || !Number.isInteger(spec.seed))) bad(`seed must be an integer`);
    if (spec.label !== undefined && typeof spec.label !== 'string') bad('label must be a string');
    const id = this.nextRule++;
    const rule: FaultRule = {
      id, kind: spec.kind, action, off, len, after, count, probability: p, errno,
      seed: spec.seed === undefined ? mixSeed(this.seed, id) : spec.seed >>> 0,
      matched: 0, fired: 0,
      ...(spec.byte !== undefined ? { byte: spec.byte } : {}),
      ...(spec.xor !== undefined ? { xor: spec.xor } : {}),
      ...(spec.label !== undefined ? { label: spec.label } : {}),
      ...(spec.match !== undefined ? { match: spec.match } : {}),
    };
    this.rules.push(rule);
    this.rngs.set(id, new FaultRng(rule.seed));
    return rule;
  }

  /** Remove one rule (by id or object); true if it was there. */
  removeFault(rule: number | FaultRule): boolean {
    const id = typeof rule === 'number' ? rule : rule.id;
    const i = this.rules.findIndex((r) => r.id === id);
    if (i < 0) return false;
    this.rules.splice(i, 1);
    this.rngs.delete(id);
    return true;
  }

  clearFaults(): void {
    this.rules.length = 0;
    this.rngs.clear();
  }

  resetStats(): void {
    this.stats = zeroStats();
    this.log = [];
    this.injected = [];
    this.counts = zeroCounts();
  }

  /** The requests of one kind in the log, as [off, len] pairs (handy in assertions). */
  ios(kind: IoKind): Array<[number, number]> {
    return this.log.filter((r) => r.kind === kind).map((r) => [r.off, r.len]);
  }

  /** "write [4096, +512) dropped (rule 2)": one line per injected fault, for reports. */
  describeFault(f: InjectedFault): string {
    const where = `${f.kind} [${f.off}, +${f.len})`;
    const rule = `rule ${f.rule}${f.label ? ` "${f.label}"` : ''}`;
    switch (f.action) {
      case 'error': return `#${f.seq} ${where} failed with ${errnoName(f.errno ?? EIO)} (${rule})`;
      case 'drop': return `#${f.seq} ${where} dropped (${rule})`;
      case 'corrupt':
        return `#${f.seq} ${where} corrupted: byte ${f.at} 0x${(f.from ?? 0).toString(16)} -> 0x${(f.to ?? 0).toString(16)} (${rule})`;
      case 'hold': return `#${f.seq} ${where} held as #${f.held} (${rule})`;
      case 'torn': return `#${f.seq} ${where} torn: only the first ${f.stored ?? 0} bytes stored (${rule})`;
    }
  }

  /** The rule that fires on this request, if any (updates the counters). */
  private decide(kind: IoKind, off: number, len: number): FaultRule | null {
    if (!this.enabled || len === 0) return null;
    for (const r of this.rules) {
      if (r.kind !== kind || !(off < r.off + r.len && r.off < off + len)) continue;
      if (r.match !== undefined && !r.match(off, len)) continue;
      r.matched++;
      if (r.matched <= r.after || r.fired >= r.count) continue;
      if (r.action === 'corrupt' && r.byte !== undefined && r.byte >= len) continue;
      if (r.probability < 1 && !(this.rngs.get(r.id)!.float() < r.probability)) continue;
      r.fired++;
      return r;
    }
    return null;
  }

  private record(f: InjectedFault): void {
    if (this.keepLog) this.injected.push(f);
    switch (f.action) {
      case 'error': this.counts.errors++; break;
      case 'drop': this.counts.drops++; break;
      case 'corrupt': this.counts.corruptions++; break;
      case 'hold': this.counts.holds++; break;
      case 'torn': this.counts.drops++; break;
    }
    if (this.onFault) this.onFault(f);
  }

  /** Pick the byte to corrupt (index in the request) and the mask. */
  private corruption(r: FaultRule, off: number, len: number): { i: number; xor: number } {
    const rng = this.rngs.get(r.id)!;
    let i: number;
    if (r.byte !== undefined) {
      i = r.byte;
    } else {
      const a = Math.max(off, r.off);
      const b = Math.min(off + len, r.off + r.len);
      i = a - off + rng.below(b - a);
    }
    const xor = r.xor ?? 1 + rng.below(255);
    return { i, xor };
  }

  private base(r: FaultRule, seq: number, off: number, len: number): InjectedFault {
    return { seq, rule: r.id, action: r.action, kind: r.kind, off, len, ...(r.label !== undefined ? { label: r.label } : {}) };
  }

  read(off: number, buf: Uint8Array): void {
    validateRead(this, off, buf);
    const seq = this.seq++;
    const r = this.decide('read', off, buf.length);
    this.stats.reads++;
    if (r && r.action === 'error') {
      this.logRequest({ kind: 'read', off, len: buf.length, failed: true, fault: 'error', seq });
      this.stats.failedReads++;
      this.record({ ...this.base(r, seq, off, buf.length), errno: r.errno });
      throw new FsError(r.errno, `${this.name}: injected read error at [${off}, ${off + buf.length})`);
    }
    this.logRequest({ kind: 'read', off, len: buf.length, failed: false, seq, ...(r ? { fault: r.action } : {}) });
    this.stats.readBytes += buf.length;
    this.inner.read(off, buf);
    if (this.readsSeeHeld) {
      for (const h of this.held) overlay(buf, off, h.off, h.data);
    }
    if (r && r.action === 'corrupt') {
      const { i, xor } = this.corruption(r, off, buf.length);
      const from = buf[i];
      buf[i] = from ^ xor;
      this.record({ ...this.base(r, seq, off, buf.length), at: off + i, from, to: buf[i] });
    }
  }

  write(off: number, data: Uint8Array, opts?: WriteOptions): void {
    const fua = validateWrite(this, off, data, opts);
    if (this.onWrite !== null) this.onWrite(off, data.length);
    const seq = this.seq++;
    const r = this.decide('write', off, data.length);
    this.stats.writes++;
    const rec = (failed: boolean): void => {
      this.logRequest({ kind: 'write', off, len: data.length, failed, seq, ...(r ? { fault: r.action } : {}) });
    };
    if (!r) {
      rec(false);
      this.stats.writeBytes += data.length;
      this.inner.write(off, data, opts);
      return;
    }
    const f = this.base(r, seq, off, data.length);
    switch (r.action) {
      case 'error':
        rec(true);
        this.stats.failedWrites++;
        this.record({ ...f, errno: r.errno });
        throw new FsError(r.errno, `${this.name}: injected write error at [${off}, ${off + data.length})`);
      case 'drop':
        rec(false);
        this.stats.writeBytes += data.length;
        this.record(f);
        return;
      case 'corrupt': {
        rec(false);
        this.stats.writeBytes += data.length;
        const { i, xor } = this.corruption(r, off, data.length);
        const copy = new Uint8Array(data);
        const from = copy[i];
        copy[i] = from ^ xor;
        this.record({ ...f, at: off + i, from, to: copy[i] });
        this.inner.write(off, copy, opts);
        return;
      }
      case 'torn': {
        // A power-loss style partial write: a seeded head of whole sectors lands, the rest not.
        rec(false);
        this.stats.writeBytes += data.length;
        const sectors = data.length / this.sectorSize;
        // A REQ_ATOMIC write cannot tear: it is lost whole instead.
        const stored = sectors > 1 && opts?.atomic !== true ? (1 + this.rngs.get(r.id)!.below(sectors - 1)) * this.sectorSize : 0;
        this.record({ ...f, stored });
        if (stored > 0) this.inner.write(off, data.subarray(0, stored), opts);
        return;
      }
      case 'hold': {
        rec(false);
        this.stats.writeBytes += data.length;
        const id = this.nextHeld++;
        this.held.push({ id, seq, off, data: new Uint8Array(data), fua });
        this.record({ ...f, held: id });
        return;
      }
    }
  }

  /**
   * Land one held write on the inner device (default: the oldest; else by id) and return it.
   * A held FUA write is written with FUA.
   */
  release(id?: number): HeldWrite {
    checkOpen(this, 'release');
    const i = id === undefined ? 0 : this.held.findIndex((h) => h.id === id);
    if (i < 0 || i >= this.held.length) throw new FsError(EINVAL, `${this.name}: no held write ${id === undefined ? '' : `#${id}`}`.trimEnd());
    const [h] = this.held.splice(i, 1);
    this.logRequest({ kind: 'release', off: h.off, len: h.data.length, failed: false, seq: this.seq++ });
    this.counts.releases++;
    this.inner.write(h.off, h.data, h.fua ? { fua: true } : undefined);
    return h;
  }

  /** Land every held write, in issue order; returns how many. */
  releaseAll(): number {
    const n = this.held.length;
    while (this.held.length) this.release();
    return n;
  }

  /** Lose one held write (default: the oldest) or, with 'all', every one; returns how many. */
  dropHeld(id?: number | 'all'): number {
    if (id === 'all') {
      const n = this.held.length;
      this.held.length = 0;
      return n;
    }
    const i = id === undefined ? 0 : this.held.findIndex((h) => h.id === id);
    if (i < 0 || i >= this.held.length) return 0;
    this.held.splice(i, 1);
    return 1;
  }

  flush(): void {
    checkOpen(this, 'flush');
    if (!this.holdAcrossFlush) this.releaseAll();
    this.stats.flushes++;
    this.logRequest({ kind: 'flush', off: 0, len: 0, failed: false, seq: this.seq++ });
    this.inner.flush();
  }

  discard(off: number, len: number): void {
    validateDiscard(this, off, len);
    if (this.onWrite !== null) this.onWrite(off, len);
    this.stats.discards++;
    this.logRequest({ kind: 'discard', off, len, failed: false, seq: this.seq++ });
    this.inner.discard(off, len);
  }

  close(): void {
    checkOpen(this, 'close');
    this.held.length = 0;
    this.inner.close();
  }
}

/** Copy the part of `data` (at device offset `at`) that falls inside buf (at device offset off). */
function overlay(buf: Uint8Array, off: number, at: number, data: Uint8Array): void {
  const a = Math.max(off, at);
  const b = Math.min(off + buf.length, at + data.length);
  if (a < b) buf.set(data.subarray(a - at, b - at), a - off);
}
