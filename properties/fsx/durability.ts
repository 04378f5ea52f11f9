/**
 * The oracle of the fsx `crash` op: which contents of the test file a power cut may leave
 * (file-ops §12 and §14.25). fsx's byte oracle knows one answer per byte; after a crash there are
 * several, so this tracker keeps the file's versions since the last acknowledgement and hands them
 * to the crash envelope (properties/oracle/crash.ts), the same judge the crash harness uses:
 *  - what fsync/fdatasync acknowledged reads back exactly (and msync'd mmap stores, their bytes);
 *  - every other byte reads as it was in some version since then (old or new, never garbage);
 *  - the size is one the file had, or lags behind an extension (on-disk sizes move with written
 *    back data, as in xfs and ext4).
 *
 * Cost: a version is the byte range the op changed (SparseBytes.takeChanges) plus the new size,
 * so recording is proportional to the op's length, not the file's; full versions are built only
 * when a crash is checked. Versions are dropped at every fsync/fdatasync (they are durable from
 * there on) and after each crash (what survived is the new start). More than MAX_VERSIONS between
 * two acknowledgements are not kept: crash ops are then skipped, with a printed reason, until the
 * next fsync.
 */

import type { SparseBytes } from '../oracle/bytes';
import { CrashEnvelope, CrashViolation } from '../oracle/crash';

/** Versions kept between two acknowledgements. */
export const MAX_VERSIONS = 1024;

const FILE = 'the file';

/** One version: the op that made it, its size, and the bytes at [off, off+data.length). */
interface Delta {
  label: string;
  size: number;
  off: number;
  data: Uint8Array;
  /** msync(MS_SYNC) returned: these bytes (with the size that holds them) are durable. */
  ack?: { off: number; len: number };
}

/** Bytes of an asynchronous direct write still in flight when the power went. */
export interface InFlightWrite {
  off: number;
  data: Uint8Array;
}

export class DurabilityTracker {
  /** The acknowledged contents: what a crash must at least keep. */
  private base: Uint8Array;
  /** Which op acknowledged the base (null: it is what a crash left, or the empty new file). */
  private baseAck: string | null = null;
  private deltas: Delta[] = [];
  /** More versions than MAX_VERSIONS since the last acknowledgement: the envelope is incomplete. */
  private overflowed = false;
  /** Largest size any kept version has. */
  private maxSize: number;

  constructor(initial: Uint8Array = new Uint8Array(0)) {
    this.base = initial;
    this.maxSize = initial.length;
  }

  /** Whether a crash can be judged now (false after too many versions without an fsync). */
  get complete(): boolean {
    return !this.overflowed;
  }

  get versions(): number {
    return this.deltas.length;
  }

  /**
   * After an op (or a step inside one) changed the oracle: record the new version. `label`
   * names the op in reports; `ack` marks an msync'd range.
   */
  record(label: string, oracle: SparseBytes, ack?: { off: number; len: number }): void {
    const ch = oracle.takeChanges();
    if (ch === null && ack === undefined) return;
    if (this.overflowed) return;
    if (this.deltas.length >= MAX_VERSIONS) {
      this.overflowed = true;
      this.deltas = [];
      return;
    }
    const size = oracle.size;
    const lo = ch === null ? 0 : Math.min(ch.lo, size);
    const hi = ch === null ? 0 : Math.min(ch.hi, size);
    const d: Delta = { label, size, off: lo, data: copyOf(oracle, lo, hi - lo) };
    if (ack !== undefined) d.ack = ack;
    this.deltas.push(d);
    if (size > this.maxSize) this.maxSize = size;
  }

  /**
   * A version the op passes through before its end (INSERT_RANGE raises the size before it
   * shifts, as xfs and refs do): the previous contents at a new size.
   */
  recordSize(label: string, size: number): void {
    if (this.overflowed) return;
    this.deltas.push({ label, size, off: 0, data: new Uint8Array(0) });
    if (size > this.maxSize) this.maxSize = size;
  }

  /** fsync/fdatasync returned 0: the file as the oracle has it is durable. */
  acknowledge(oracle: SparseBytes, label = 'fsync'): void {
    oracle.takeChanges();
    this.restart(copyOf(oracle, 0, oracle.size));
    this.baseAck = label;
  }

  /** Start over from `contents` (after an acknowledgement, or what survived a crash). */
  restart(contents: Uint8Array): void {
    this.base = contents;
    this.baseAck = null;
    this.deltas = [];
    this.overflowed = false;
    this.maxSize = contents.length;
  }

  /** The largest size a surviving file may have (with writes in flight). */
  largestSize(inflight: readonly InFlightWrite[]): number {
    let m = this.maxSize;
    for (const f of inflight) m = Math.max(m, f.off + f.data.length);
    return m;
  }

  /**
   * Judge the file found after the crash (its bytes, length = size). Writes in flight may have
   * landed or not: they form one more version on top of the last.
   */
  check(got: Uint8Array, inflight: readonly InFlightWrite[], latest?: SparseBytes): CrashViolation[] {
    // The newest version is always allowed (it satisfies every acknowledgement), and it is what
    // a crash leaves when everything landed: no versions need building then.
    if (latest !== undefined && got.length === latest.size && latest.compare(0, got) === null) return [];
    const env = new CrashEnvelope();
    env.versionsByDesc = true;
    env.initial(FILE, this.base);
    let cur = this.base;
    let pos = 0;
    if (this.baseAck !== null) {
      // Say who acknowledged the base, so a lost byte of it is reported as lost durable data.
      env.begin(this.baseAck, pos);
      env.set(FILE, this.base);
      env.acknowledge([FILE]);
      env.end(pos++);
    }
    const add = (label: string, next: Uint8Array, ack?: { off: number; len: number }): void => {
      env.begin(label, pos);
      env.set(FILE, next);
      if (ack !== undefined) env.acknowledgeRange(FILE, ack.off, ack.len);
      env.end(pos);
      pos++;
      cur = next;
    };
    for (const d of this.deltas) add(d.label, applyDelta(cur, d), d.ack);
    if (inflight.length > 0) {
      const next = cur.slice();
      for (const f of inflight) next.set(f.data.subarray(0, Math.max(0, Math.min(f.data.length, next.length - f.off))), f.off);
      add('direct writes in flight', next);
    }
    return env.check(new Map([[FILE, got]]), pos);
  }
}

/** A fresh copy of bytes [off, off+len) of the oracle (one allocation). */
function copyOf(oracle: SparseBytes, off: number, len: number): Uint8Array {
  const out = new Uint8Array(len);
  if (len > 0) oracle.readInto(off, len, out);
  return out;
}

/** The version after `d`: the previous contents cut or zero-extended to d.size, then d's bytes. */
function applyDelta(prev: Uint8Array, d: Delta): Uint8Array {
  const next = new Uint8Array(d.size);
  next.set(prev.subarray(0, Math.min(prev.length, d.size)));
  next.set(d.data, d.off);
  return next;
}
