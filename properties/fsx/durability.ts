/**
 * The oracle of the fsx `crash` op: which contents of the test file a power cut may leave
 * (file-ops §12 and §14.25). fsx's byte oracle knows one answer per byte; after a crash there are
 * several, so this tracker keeps the file's versions since the last acknowledgement and judges the
 * file found after the crash the way the crash envelope does (properties/oracle/crash.ts, the same
 * rules and the same report text):
 *  - what fsync/fdatasync acknowledged reads back exactly (and msync'd mmap stores, their bytes);
 *  - every other byte reads as it was in some version since then (old or new, never garbage);
 *  - the size is one the file had, or lags behind an extension (on-disk sizes move with written
 *    back data, as in xfs and ext4).
 *
 * Cost follows the bytes changed since the acknowledgement, never the file size:
 *  - the acknowledged contents (the base) are not copied: the oracle tells the tracker before it
 *    changes a range (SparseBytes.beforeChange), and the tracker keeps the bytes it is about to
 *    lose, once per byte (copy-on-write of the base, at byte-range granularity);
 *  - a version is the range the op changed (SparseBytes.takeChanges) as stored pieces (ranges
 *    that read zero are not copied) plus the new size; a piece is not copied when it is recorded
 *    either: its bytes are the oracle's until the oracle is about to change them, and only then
 *    (beforeChange) is the part about to change copied. A version an fsync makes durable before
 *    anything overwrites it costs no copy at all (a collapse or insert near the start of a large
 *    file records its whole tail: that copy is made only where a later op changes the tail);
 *  - a crash is judged only over the CHANGED set (every range touched since the base, plus direct
 *    writes in flight), rounded out to 512-byte units: outside it every version holds the same
 *    bytes, so each byte there is allowed exactly when it equals the newest version's, which is a
 *    compare against the oracle. The versions are built 16 KiB at a time over the changed set only.
 * So an fsync is O(1), and offsets are plain numbers up to 2^53-1 (no array the size of the file).
 *
 * Which bytes of the found file are read: all of them when it is at most FULL_CHECK_BYTES long
 * (the fsx default -l 256k always is), else only the changed set. Beyond that size the bytes no
 * op changed since the last fsync are not read back at the crash; they are still the oracle's, so
 * the next read of them checks them as every read does.
 *
 * Versions are dropped at every fsync/fdatasync (they are durable from there on) and after each
 * crash (what survived is the new start). More than MAX_VERSIONS between two acknowledgements, or
 * more than MAX_KEPT_BYTES of kept bytes (a collapse or insert near the start of a huge sparse file
 * changes all of its tail, and a run of them without an fsync would keep a copy of the tail each),
 * are not kept: crash ops are then skipped, with a printed reason, until the next fsync.
 */

import type { SparseBytes } from '../oracle/bytes';
import { RangeSet } from '../../reference/ranges';
import { upperBound } from '../../reference/sorted';
import type { CrashViolation, CrashViolationKind } from '../oracle/crash';

/** Versions kept between two acknowledgements. */
export const MAX_VERSIONS = 1024;

/** Bytes of saved and recorded pieces kept between two acknowledgements (memory bound). */
export const MAX_KEPT_BYTES = 64 << 20;

/** Found files up to this size are read back whole at a crash; larger ones over the changed set. */
export const FULL_CHECK_BYTES = 1 << 20;

const FILE = 'the file';
/** The crash envelope's comparison unit (CrashEnvelope: 512-byte units, then byte by byte). */
const UNIT = 512;
/** Versions are built over this many bytes of the changed set at a time (a multiple of UNIT). */
const SEGMENT = 16384;
/** Bad runs reported per crash (CrashEnvelope's default maxRuns). */
const MAX_RUNS = 4;
/** Largest version the failure report builds whole to search for where stray bytes came from. */
const EXPLAIN_SEARCH_BYTES = 1 << 28;

interface Piece {
  off: number;
  data: Uint8Array;
}

/** A piece of a version: `len` bytes at `off`, copied (`data`) or still the oracle's (null). */
interface VersionPiece {
  off: number;
  len: number;
  data: Uint8Array | null;
}

/** Bytes [lo, hi) as they were: `pieces` over zeroes. */
interface Span {
  lo: number;
  hi: number;
  pieces: VersionPiece[];
}

/** One version: the op that made it, its size, and the bytes of the range it changed. */
interface Delta {
  label: string;
  size: number;
  /** The changed range (clipped to size); null for a size-only version. */
  span: Span | null;
  /** msync(MS_SYNC) returned: these bytes (with the size that holds them) are durable. */
  ack?: { off: number; len: number };
}

/** Bytes of an asynchronous direct write still in flight when the power went. */
export interface InFlightWrite {
  off: number;
  data: Uint8Array;
}

/** What was read back after a crash: the size and some byte ranges of the file. */
export interface FoundFile {
  size: number;
  pieces: Piece[];
}

/** A version as the envelope sees it (window index 0 is the base). */
interface VersionInfo {
  desc: string;
  size: number;
}

/** Per metadata-version candidate j: bad byte count and the first runs (CrashEnvelope.badRuns). */
class RunState {
  bad = 0;
  runs: Array<[number, number]> = [];
  private runStart = -1;
  constructor(readonly j: number, readonly limit: number[]) {}
  mark(o: number, isBad: boolean): void {
    if (isBad) {
      this.bad++;
      if (this.runStart < 0) this.runStart = o;
    } else if (this.runStart >= 0) {
      if (this.runs.length < MAX_RUNS) this.runs.push([this.runStart, o - this.runStart]);
      this.runStart = -1;
    }
  }
}

/**
 * An op since the acknowledgement whose change must survive a power cut all or nothing
 * (write_atomic, exchange_range): the byte ranges it changed, as the acknowledged base had them
 * and as the op left them.
 */
export interface AtomicChange {
  label: string;
  parts: Array<{ off: number; old: Uint8Array; neu: Uint8Array }>;
}

/** Compared at a time when the oracle takes what a crash left. */
const TAKE_UNIT = 4096;

/**
 * Store `p` in the oracle where it differs, TAKE_UNIT bytes at a time: bytes a crash left as they
 * were are not rewritten, so they do not count as changed (SparseBytes.changeLog: the next
 * incremental remount check reads what changed, not all that the crash check read).
 */
function writeDifferences(o: SparseBytes, p: Piece): void {
  const end = p.data.length;
  for (let s = 0; s < end;) {
    let e = Math.min(end, s + TAKE_UNIT);
    if (o.compare(p.off + s, p.data, s, e) === null) {
      s = e;
      continue;
    }
    while (e < end && o.compare(p.off + e, p.data, e, Math.min(end, e + TAKE_UNIT)) !== null) e = Math.min(end, e + TAKE_UNIT);
    o.write(p.off + s, p.data, s, e);
    s = e;
  }
}

export class DurabilityTracker {
  /** The file the versions are versions of (attached at the first record or acknowledgement). */
  private oracle: SparseBytes | null = null;
  /** Size of the acknowledged contents (the base). */
  private baseSize = 0;
  /** Which op acknowledged the base (null: it is what a crash left, or the empty new file). */
  private baseAck: string | null = null;
  /** Every range changed since the base: outside it the base is the oracle's current bytes. */
  private readonly changed = new RangeSet();
  /**
   * Where some version may hold a non-zero byte that another does not: the extents of every
   * stored piece (saved or recorded). Elsewhere in `changed` every version reads zero there (a
   * size change over zeroes), so those bytes are judged like unchanged ones.
   */
  private readonly differs = new RangeSet();
  /** The base's bytes over `changed`, saved just before the oracle changed them. */
  private saved: Span[] = [];
  private deltas: Delta[] = [];
  /** More versions than MAX_VERSIONS since the last acknowledgement: the envelope is incomplete. */
  private overflowed = false;
  /** Why the envelope is incomplete (for the skip line), '' while it is complete. */
  private overflowWhy = '';
  /** Bytes of the pieces in `saved` and `deltas` (MAX_KEPT_BYTES). */
  private keptBytes = 0;
  /** Largest size any kept version has. */
  private maxSize = 0;
  private readonly onChange = (lo: number, hi: number): void => this.beforeChange(lo, hi);
  /** Version rows of the last crash check, reused by the next (see rows()). */
  private pool: Buffer[] = [];
  /** The version pieces whose bytes are still the oracle's (data null), with the span holding each. */
  private uncopied: Array<{ span: Span; piece: VersionPiece }> = [];
  /** All-or-nothing changes since the base that no later op touched (checkAtomic judges them). */
  private atomic: AtomicChange[] = [];

  constructor(oracle?: SparseBytes) {
    if (oracle !== undefined) this.attach(oracle);
  }

  /** Whether a crash can be judged now (false after too many versions without an fsync). */
  get complete(): boolean {
    return !this.overflowed;
  }

  /** Why a crash cannot be judged now ('' when it can): for the line that skips it. */
  get incompleteReason(): string {
    return this.overflowWhy;
  }

  get versions(): number {
    return this.deltas.length;
  }

  /**
   * Listen to `oracle`. A tracker made without one starts from the empty file (base size 0): the
   * changes the oracle reports at the first record are taken as made over zeroes.
   */
  private attach(oracle: SparseBytes): void {
    if (this.oracle === oracle) return;
    if (this.oracle !== null) throw new Error('DurabilityTracker: one tracker follows one oracle');
    this.oracle = oracle;
    oracle.beforeChange = this.onChange;
  }

  /**
   * The oracle is about to change [lo, hi): copy what versions still leave to the oracle there,
   * and keep the base's bytes there, the first time only.
   */
  private beforeChange(lo: number, hi: number): void {
    if (this.overflowed) return;
    const o = this.oracle!;
    if (this.uncopied.length > 0) this.copyUncopied(lo, hi);
    for (const [a, b] of this.changed.add(lo, hi)) {
      // Bytes at or past the current size are zero (SparseBytes' invariant): nothing to copy.
      const pieces = this.keep(copyStored(o, a, Math.min(b, o.size)));
      if (this.overflowed) return;
      this.saved.push({ lo: a, hi: b, pieces });
    }
  }

  /**
   * Copy the parts inside [lo, hi) of the version pieces that are still the oracle's (they are
   * about to change); a piece is split where the range cuts it, its parts outside stay uncopied.
   */
  private copyUncopied(lo: number, hi: number): void {
    const all = this.uncopied;
    let i = 0;
    while (i < all.length && (all[i].piece.off >= hi || all[i].piece.off + all[i].piece.len <= lo)) i++;
    if (i === all.length) return; // most changes meet no uncopied piece: no new list
    const o = this.oracle!;
    const keep = all.slice(0, i);
    for (; i < all.length; i++) {
      const u = all[i];
      const p = u.piece;
      const end = p.off + p.len;
      if (end <= lo || p.off >= hi) {
        keep.push(u);
        continue;
      }
      const a = Math.max(lo, p.off);
      const b = Math.min(hi, end);
      const data = new Uint8Array(b - a);
      o.readInto(a, b - a, data);
      const parts: VersionPiece[] = [];
      if (p.off < a) parts.push({ off: p.off, len: a - p.off, data: null });
      parts.push({ off: a, len: b - a, data });
      if (b < end) parts.push({ off: b, len: end - b, data: null });
      const list = u.span.pieces;
      list.splice(list.indexOf(p), 1, ...parts);
      for (const q of parts) if (q.data === null) keep.push({ span: u.span, piece: q });
    }
    this.uncopied = keep;
  }

  /** Note where stored pieces lie (see `differs`). */
  private keep(pieces: VersionPiece[]): VersionPiece[] {
    for (const p of pieces) {
      this.differs.add(p.off, p.off + p.len);
      this.keptBytes += p.len;
    }
    if (this.keptBytes > MAX_KEPT_BYTES) this.overflow(`more than ${MAX_KEPT_BYTES >> 20} MiB of changed bytes kept since the last fsync`);
    return pieces;
  }

  /** Stop keeping versions until the next acknowledgement (the envelope is incomplete). */
  private overflow(why: string): void {
    this.overflowed = true;
    this.overflowWhy = why;
    this.deltas = [];
    this.saved = [];
    this.uncopied = [];
    this.keptBytes = 0;
  }

  /**
   * After an op (or a step inside one) changed the oracle: record the new version. `label`
   * names the op in reports; `ack` marks an msync'd range.
   */
  record(label: string, oracle: SparseBytes, ack?: { off: number; len: number }): void {
    if (this.oracle !== oracle) {
      this.attach(oracle);
      // Changes made before the tracker listened were made over the empty base: zeroes.
      const ch = oracle.takeChanges();
      if (ch !== null) for (const [a, b] of this.changed.add(ch.lo, ch.hi)) this.saved.push({ lo: a, hi: b, pieces: [] });
      if (ch === null && ack === undefined) return;
      this.deltaFrom(label, oracle, ch, ack);
      return;
    }
    if (ack === undefined && !oracle.hasChanges()) return;
    this.deltaFrom(label, oracle, oracle.takeChanges(), ack);
  }

  private deltaFrom(label: string, oracle: SparseBytes, ch: { lo: number; hi: number } | null, ack: { off: number; len: number } | undefined): void {
    if (this.overflowed) return;
    if (this.deltas.length >= MAX_VERSIONS) {
      this.overflow(`more than ${MAX_VERSIONS} file versions since the last fsync`);
      return;
    }
    // A later change over an all-or-nothing one leaves nothing whole to judge: forget it.
    if (ch !== null && this.atomic.length > 0) {
      this.atomic = this.atomic.filter((g) => !g.parts.some((p) => p.off < ch.hi && ch.lo < p.off + p.neu.length));
    }
    const size = oracle.size;
    const lo = ch === null ? 0 : Math.min(ch.lo, size);
    const hi = ch === null ? 0 : Math.min(ch.hi, size);
    const d: Delta = { label, size, span: hi > lo ? this.uncopiedSpan(oracle, lo, hi) : null };
    if (this.overflowed) return;
    if (ack !== undefined) d.ack = ack;
    this.deltas.push(d);
    if (size > this.maxSize) this.maxSize = size;
  }

  /** The oracle's [lo, hi) as a version span whose pieces are not copied yet (copyUncopied copies them). */
  private uncopiedSpan(oracle: SparseBytes, lo: number, hi: number): Span {
    const pieces: VersionPiece[] = [];
    for (const [a, b] of oracle.storedRanges(lo, hi)) pieces.push({ off: a, len: b - a, data: null });
    const span: Span = { lo, hi, pieces: this.keep(pieces) };
    if (!this.overflowed) for (const piece of pieces) this.uncopied.push({ span, piece });
    return span;
  }

  /**
   * A version the op passes through before its end (INSERT_RANGE raises the size before it
   * shifts, as xfs and refs do): the previous contents at a new size.
   */
  recordSize(label: string, size: number): void {
    if (this.overflowed) return;
    this.deltas.push({ label, size, span: null });
    if (size > this.maxSize) this.maxSize = size;
  }

  /** fsync/fdatasync returned 0: the file as the oracle has it is durable. O(1): nothing is copied. */
  acknowledge(oracle: SparseBytes, label = 'fsync'): void {
    this.attach(oracle);
    oracle.takeChanges();
    this.restart(oracle.size);
    this.baseAck = label;
  }

  /**
   * Whether [lo, hi) still holds the acknowledged bytes (no op changed it since the base): an
   * all-or-nothing change there has one exact "before" to be judged against.
   */
  unchangedSinceBase(lo: number, hi: number): boolean {
    return !this.overflowed && !this.changed.meets(lo, hi);
  }

  /** After record(): the op's change (over ranges unchanged since the base) must land whole or not at all. */
  addAtomic(change: AtomicChange): void {
    if (!this.overflowed) this.atomic.push(change);
  }

  /**
   * A store through the mapping over [lo, hi): page_mkwrite dirties its whole folio, and writing
   * that folio back rewrites every block of it with ordinary, tearable writes — the blocks of an
   * all-or-nothing change in the same folio too, whose own REQ_ATOMIC write may still sit in the
   * device cache. A power cut may then find it torn, legally: stop judging every such change
   * in the folios the store meets. Folios are naturally aligned, so with `span` the largest folio
   * the target may use, those lie inside [lo, hi) rounded out to multiples of `span`.
   */
  forgetAtomicNear(lo: number, hi: number, span: number): void {
    if (this.atomic.length === 0) return;
    const fLo = lo - (lo % span);
    const fHi = Math.ceil(hi / span) * span;
    this.atomic = this.atomic.filter((g) => !g.parts.some((p) => p.off < fHi && fLo < p.off + p.neu.length));
  }

  /**
   * The all-or-nothing changes the found file breaks: each must read wholly as before it or
   * wholly as after it over the part of its ranges inside the found size (file-ops §14.29). A
   * change under a direct write still in flight is not judged (its bytes may be either).
   */
  checkAtomic(found: FoundFile, inflight: readonly InFlightWrite[]): string[] {
    const out: string[] = [];
    for (const g of this.atomic) {
      if (g.parts.some((p) => inflight.some((f) => f.off < p.off + p.neu.length && p.off < f.off + f.data.length))) continue;
      // The first byte read back (part by part) that differs from the old bytes, and from the new.
      let firstOld = -1;
      let firstNew = -1;
      for (const p of g.parts) {
        const end = Math.min(p.off + p.neu.length, found.size);
        if (firstOld < 0) firstOld = firstFoundDifference(found, p.off, end, p.old);
        if (firstNew < 0) firstNew = firstFoundDifference(found, p.off, end, p.neu);
      }
      if (firstOld >= 0 && firstNew >= 0) {
        const where = g.parts.map((p) => `[${hex(p.off)}, +${hex(p.neu.length)})`).join(' and ');
        out.push(`torn all-or-nothing change: ${g.label} over ${where} is neither wholly old nor wholly new ` +
          `(the old bytes differ first at ${hex(firstOld)}, the new ones at ${hex(firstNew)})`);
      }
    }
    return out;
  }

  /** Start over from the oracle's current contents, of `size` bytes (after a crash). */
  restart(size: number): void {
    this.atomic = [];
    this.baseSize = size;
    this.baseAck = null;
    this.deltas = [];
    this.saved = [];
    this.uncopied = [];
    this.changed.clear();
    this.differs.clear();
    this.overflowed = false;
    this.overflowWhy = '';
    this.keptBytes = 0;
    this.maxSize = size;
  }

  /** The largest size a surviving file may have (with writes in flight). */
  largestSize(inflight: readonly InFlightWrite[]): number {
    let m = this.maxSize;
    for (const f of inflight) m = Math.max(m, f.off + f.data.length);
    return m;
  }

  /**
   * The byte ranges of a found file of `size` bytes to read back: the whole file up to
   * FULL_CHECK_BYTES, else the changed set (with the writes in flight) in whole 512-byte units.
   */
  rangesToRead(size: number, inflight: readonly InFlightWrite[]): Array<[number, number]> {
    if (size <= FULL_CHECK_BYTES) return size > 0 ? [[0, size]] : [];
    return this.judgedRanges(size, inflight).map(([a, b]) => [a, b - a]);
  }

  /**
   * After a crash the file read back as `found` and was judged allowed: it is the file from now
   * on (the oracle takes its bytes and size) and the new start of the versions.
   */
  survived(found: FoundFile): void {
    const o = this.oracle!;
    o.beforeChange = null;
    for (const p of found.pieces) writeDifferences(o, p);
    o.truncate(found.size);
    o.takeChanges();
    o.beforeChange = this.onChange;
    this.restart(found.size);
  }

  /**
   * Judge the file found after the crash (`got`: its bytes, length = size; or the ranges
   * rangesToRead named). Writes in flight may have landed or not: they form one more version on
   * top of the last. `failedWrites`: file ranges whose write-back failed with an error (fsx
   * fault_write); there the device still holds what was last written to those blocks, which may
   * be bytes a later truncate cut off (the zeroing of the EOF block was the write that failed), so
   * any version's bytes are allowed there, whatever sizes came after. Returns the envelope's
   * violations (empty: allowed).
   */
  check(got: Uint8Array | FoundFile, inflight: readonly InFlightWrite[], _latest?: SparseBytes, failedWrites: ReadonlyArray<{ off: number; len: number }> = []): CrashViolation[] {
    const found: FoundFile = got instanceof Uint8Array ? { size: got.length, pieces: got.length > 0 ? [{ off: 0, data: got }] : [] } : got;
    const o = this.oracle;
    // The newest version is always allowed (it satisfies every acknowledgement), and it is what
    // a crash leaves when everything landed.
    if (o !== null && found.size === o.size && found.pieces.every((p) => o.compare(p.off, p.data) === null)) return [];
    return new CrashJudge(this, found, inflight, failedWrites).run();
  }

  /* ---- What the judge reads --------------------------------------------------------------- */

  /** @internal The window's versions: base, one per delta, then the writes in flight. */
  versionInfo(inflight: readonly InFlightWrite[]): VersionInfo[] {
    const out: VersionInfo[] = [{ desc: this.baseAck === null ? 'initial' : `after ${this.baseAck}`, size: this.baseSize }];
    for (const d of this.deltas) out.push({ desc: `after ${d.label}`, size: d.size });
    if (inflight.length > 0) out.push({ desc: 'after direct writes in flight', size: this.deltas.length > 0 ? this.deltas[this.deltas.length - 1].size : this.baseSize });
    return out;
  }

  /** @internal msync'd ranges as the envelope's range acknowledgements (window-relative version). */
  rangeAcks(): Array<{ v: number; off: number; end: number; label: string }> {
    const out: Array<{ v: number; off: number; end: number; label: string }> = [];
    this.deltas.forEach((d, i) => {
      if (d.ack !== undefined && d.ack.len > 0) out.push({ v: i + 1, off: d.ack.off, end: d.ack.off + d.ack.len, label: d.label });
    });
    return out;
  }

  /** @internal The newest contents. */
  get latest(): SparseBytes {
    return this.oracle!;
  }

  /** @internal Whether the base was acknowledged, and by which op. */
  get ackLabel(): string | null {
    return this.baseAck;
  }

  /** @internal [lo, hi) ranges where versions may differ, in whole units, clipped to `size`. */
  judgedRanges(size: number, inflight: readonly InFlightWrite[]): Array<[number, number]> {
    const raw: Array<[number, number]> = [];
    const { los, his } = this.differs;
    for (let i = 0; i < los.length; i++) raw.push([los[i], his[i]]);
    for (const f of inflight) raw.push([f.off, f.off + f.data.length]);
    raw.sort((a, b) => a[0] - b[0]);
    const out: Array<[number, number]> = [];
    for (const [lo, hi] of raw) {
      const a = Math.floor(lo / UNIT) * UNIT;
      const b = Math.min(size, Math.ceil(hi / UNIT) * UNIT);
      if (a >= b) continue;
      const last = out[out.length - 1];
      if (last !== undefined && a <= last[1]) last[1] = Math.max(last[1], b);
      else out.push([a, b]);
    }
    return out;
  }

  /**
   * @internal Every version's bytes over [a, b): rows[k] (window index k). Built from the oracle
   * (the newest contents), the saved base bytes and the deltas; the writes in flight last.
   */
  buildVersions(a: number, b: number, inflight: readonly InFlightWrite[], rows: Uint8Array[]): void {
    const n = b - a;
    let prev = rows[0].subarray(0, n);
    this.baseInto(prev, a, b);
    let size = this.baseSize;
    for (let i = 0; i < this.deltas.length; i++) {
      const row = rows[i + 1].subarray(0, n);
      row.set(prev);
      this.applyDelta(row, a, b, this.deltas[i]);
      prev = row;
      size = this.deltas[i].size;
    }
    if (inflight.length > 0) {
      const row = rows[this.deltas.length + 1].subarray(0, n);
      row.set(prev);
      landInflight(row, a, b, size, inflight);
    }
  }

  /** @internal Version k's bytes over [a, b) (zero past its size), built in one buffer. */
  versionRange(k: number, a: number, b: number, inflight: readonly InFlightWrite[]): Uint8Array {
    const row = new Uint8Array(b - a);
    this.baseInto(row, a, b);
    let size = this.baseSize;
    for (let i = 0; i < Math.min(k, this.deltas.length); i++) {
      size = this.deltas[i].size;
      this.applyDelta(row, a, b, this.deltas[i]);
    }
    if (k > this.deltas.length) landInflight(row, a, b, size, inflight);
    return row;
  }

  /** @internal Version k whole (for the failure report's search), or null when too large. */
  wholeVersion(k: number, inflight: readonly InFlightWrite[]): Uint8Array | null {
    const size = this.versionInfo(inflight)[k].size;
    return size > EXPLAIN_SEARCH_BYTES ? null : this.versionRange(k, 0, size, inflight);
  }

  /** @internal The base's bytes over [a, b): the oracle's, where nothing changed; the saved ones elsewhere. */
  baseInto(row: Uint8Array, a: number, b: number): void {
    if (this.oracle === null) row.fill(0);
    else this.oracle.readInto(a, b - a, row);
    for (const s of this.saved) overlay(row, a, b, s, this.oracle);
    zeroFrom(row, a, b, this.baseSize);
  }

  /** The version after d, from the one before it (in place): cut or zero-extended to d.size, then d's bytes. */
  private applyDelta(row: Uint8Array, a: number, b: number, d: Delta): void {
    zeroFrom(row, a, b, d.size);
    if (d.span !== null) overlay(row, a, b, d.span, this.oracle);
  }

  /** @internal Rows available for buildVersions over `len` bytes (kept between crashes; Buffers: compared in place). */
  rows(count: number, len: number): Buffer[] {
    if (this.pool.length < count || (this.pool[0]?.length ?? 0) < len) {
      const n = Math.max(len, this.pool[0]?.length ?? 0);
      while (this.pool.length < count) this.pool.push(Buffer.alloc(n));
      for (let i = 0; i < this.pool.length; i++) if (this.pool[i].length < n) this.pool[i] = Buffer.alloc(n);
    }
    return this.pool;
  }
}

/** The writes in flight land on the version of `size` bytes in row (bytes [a, b)). */
function landInflight(row: Uint8Array, a: number, b: number, size: number, inflight: readonly InFlightWrite[]): void {
  for (const f of inflight) {
    const lo = Math.max(a, f.off);
    const hi = Math.min(b, f.off + f.data.length, size);
    if (lo < hi) row.set(f.data.subarray(lo - f.off, hi - f.off), lo - a);
  }
}

/**
 * Copies of the oracle's stored bytes in [lo, hi), one piece per run of stored chunks (bytes
 * outside them read zero): one allocation per run, not per chunk (4 KiB chunks above -l 16m).
 */
function copyStored(o: SparseBytes, lo: number, hi: number): VersionPiece[] {
  const out: VersionPiece[] = [];
  for (const [a, b] of o.storedRanges(lo, hi)) {
    const data = new Uint8Array(b - a);
    o.readInto(a, b - a, data);
    out.push({ off: a, len: b - a, data });
  }
  return out;
}

/** Set row (bytes [a, b) of a version) to span's bytes where they meet: pieces over zeroes. */
function overlay(row: Uint8Array, a: number, b: number, s: Span, oracle: SparseBytes | null): void {
  const lo = Math.max(a, s.lo);
  const hi = Math.min(b, s.hi);
  if (lo >= hi) return;
  row.fill(0, lo - a, hi - a);
  for (const p of s.pieces) {
    const pl = Math.max(lo, p.off);
    const ph = Math.min(hi, p.off + p.len);
    if (pl >= ph) continue;
    // A piece not copied yet holds what the oracle holds now (copyUncopied runs before any change).
    if (p.data === null) oracle!.readInto(pl, ph - pl, row.subarray(pl - a, ph - a));
    else row.set(p.data.subarray(pl - p.off, ph - p.off), pl - a);
  }
}

/** Bytes at or past `size` read zero. */
function zeroFrom(row: Uint8Array, a: number, b: number, size: number): void {
  if (size < b) row.fill(0, Math.max(0, size - a), b - a);
}

/** The byte of the found file at `x`, or null when it was not read back. */
/**
 * The first offset in [lo, hi) where the found file's bytes (where it was read: its pieces are
 * ascending and disjoint) differ from `want` (whose byte 0 is at lo), or -1. Bulk compares per
 * piece; a byte loop runs only in the piece that differs.
 */
function firstFoundDifference(found: FoundFile, lo: number, hi: number, want: Uint8Array): number {
  for (const p of found.pieces) {
    const end = p.off + p.data.length;
    if (end <= lo) continue;
    if (p.off >= hi) break;
    const a = Math.max(lo, p.off);
    const b = Math.min(hi, end);
    const got = Buffer.from(p.data.buffer, p.data.byteOffset + (a - p.off), b - a);
    if (got.compare(want, a - lo, b - lo) === 0) continue;
    for (let x = a; x < b; x++) if (p.data[x - p.off] !== want[x - lo]) return x;
  }
  return -1;
}

/** The end offsets of ascending, disjoint pieces (null when they are not). */
function orderedPieceEnds(pieces: readonly Piece[]): number[] | null {
  const ends: number[] = [];
  let prev = -Infinity;
  for (const p of pieces) {
    if (p.off < prev) return null;
    prev = p.off + p.data.length;
    ends.push(prev);
  }
  return ends;
}

function hex(x: number): string {
  return '0x' + x.toString(16);
}

function hexByte(x: number): string {
  return `0x${x.toString(16).padStart(2, '0')}`;
}

function bytesEqual(x: Uint8Array, y: Uint8Array): boolean {
  return Buffer.from(x.buffer, x.byteOffset, x.length).equals(Buffer.from(y.buffer, y.byteOffset, y.length));
}

function isZero(x: Uint8Array): boolean {
  for (let i = 0; i < x.length; i++) if (x[i] !== 0) return false;
  return true;
}

/**
 * One crash judgement: CrashEnvelope.check for one file whose every op completed, evaluated over
 * the changed set only (see the file comment). Same verdicts and report text as the envelope.
 */
class CrashJudge {
  private readonly info: VersionInfo[];
  private readonly acks: Array<{ v: number; off: number; end: number; label: string }>;
  private readonly size: number;
  /** Window index of the acknowledging version (-1: none; the envelope's ackOp is op #0). */
  private readonly acked: boolean;
  /**
   * Where each found piece ends, when the pieces are ascending and disjoint (as readFound makes
   * them), for a binary search; null: look through them all. A sparse file is read back in many
   * pieces, and a scan of all of them per segment and per gap made judging quadratic in them.
   */
  private readonly pieceEnds: number[] | null;

  constructor(
    private readonly tr: DurabilityTracker,
    private readonly found: FoundFile,
    private readonly inflight: readonly InFlightWrite[],
    private readonly failedWrites: ReadonlyArray<{ off: number; len: number }> = [],
  ) {
    this.info = tr.versionInfo(inflight);
    this.acks = tr.rangeAcks();
    this.size = found.size;
    this.acked = tr.ackLabel !== null;
    this.pieceEnds = orderedPieceEnds(found.pieces);
  }

  /** Index of the first found piece that may overlap [a, ...) (all of them in order when unordered). */
  private firstPieceFrom(a: number): number {
    return this.pieceEnds === null ? 0 : upperBound(this.pieceEnds, a);
  }

  private describe(k: number): string {
    const v = this.info[k];
    return `${v.desc} (size ${v.size})`;
  }

  private vdesc(): string {
    return this.info.map((_, k) => this.describe(k)).join(', ');
  }

  private ackNote(): string {
    return this.acked ? ` (op #0 ${this.tr.ackLabel} acknowledged version ${this.describe(0)})` : '';
  }

  private rangeNote(): string {
    if (this.acks.length === 0) return '';
    const last = this.acks[this.acks.length - 1];
    return ` (op #${this.opIndex(last.v)} ${last.label} acknowledged its bytes)`;
  }

  /** The envelope's op index of window version v ≥ 1 (op #0 is the acknowledging fsync, if any). */
  private opIndex(v: number): number {
    return this.acked ? v : v - 1;
  }

  private violation(kind: CrashViolationKind, message: string, offset?: number, length?: number): CrashViolation {
    const point = this.info.length - 1 + (this.acked ? 1 : 0);
    const v: { kind: CrashViolationKind; file: string; point: number; message: string; offset?: number; length?: number } = { kind, file: FILE, point, message };
    if (offset !== undefined) {
      v.offset = offset;
      v.length = length;
    }
    return v;
  }

  run(): CrashViolation[] {
    const win = this.info;
    const size = this.size;
    // Candidate metadata versions: exact size first, then (prefix rule) versions whose growth
    // since the window start could have been logged only up to `size`.
    const js: number[] = [];
    let lo = Infinity;
    const ranges: string[] = [];
    for (let i = 0; i < win.length; i++) {
      lo = Math.min(lo, win[i].size);
      if (win[i].size === size) js.unshift(i);
      else if (size >= lo && size < win[i].size) js.push(i);
      ranges.push(lo === win[i].size ? `${win[i].size}` : `${lo}..${win[i].size}`);
    }
    // Acknowledged byte ranges need the size that holds them (unless a later version is smaller).
    for (const r of this.acks) {
      let need = r.end;
      for (let k = r.v; k < win.length; k++) need = Math.min(need, win[k].size);
      if (size < need) {
        return [this.violation('size', `${FILE}: size ${size} after the crash, but bytes up to ${need} were acknowledged${this.rangeNote().replace(')', `, versions ${this.vdesc()})`)}`)];
      }
    }
    if (js.length === 0) {
      const sizes = [...new Set(ranges)].join(', ');
      return [this.violation('size', `${FILE}: size ${size} after the crash; allowed sizes: ${sizes} (versions ${this.vdesc()})${this.ackNote()}`)];
    }
    const candidates = (which: number[]): RunState[] => which.map((j) => new RunState(j, win.map((_, k) => {
      if (k >= j) return size;
      let m = size;
      for (let t = k + 1; t <= j; t++) m = Math.min(m, win[t].size);
      return m;
    })));
    // The first candidate (the newest version of the found size) explains the file after nearly
    // every power cut of a correct target (all of 664 at -l 2^50, seed 1, 100,000 ops): judged
    // alone first, the others (4 on average) are judged, all together as before, only when it
    // does not. Any candidate with no bad byte allows the file, so the verdict is the same.
    if (js.length > 1) {
      const [first] = candidates([js[0]]);
      this.judge([first]);
      first.mark(size, false);
      if (first.bad === 0) return [];
    }
    const states = candidates(js);
    this.judge(states);
    for (const s of states) s.mark(size, false);
    let best: RunState | null = null;
    for (const s of states) {
      if (s.bad === 0) return [];
      if (best === null || s.bad < best.bad) best = s;
    }
    return this.report(best!);
  }

  /** Mark every byte of the found file, for every candidate, in offset order. */
  private judge(states: RunState[]): void {
    const judged = this.tr.judgedRanges(this.size, this.inflight);
    let longest = 0;
    for (const [a, b] of judged) longest = Math.max(longest, b - a);
    const rows = this.tr.rows(this.info.length, Math.min(SEGMENT, longest));
    const matchK = new Int8Array(this.info.length);
    let pos = 0;
    for (const [a, b] of judged) {
      this.stable(states, pos, a);
      for (let s = a; s < b; s += SEGMENT) this.changedUnits(states, s, Math.min(b, s + SEGMENT), rows, matchK);
      pos = b;
    }
    this.stable(states, pos, this.size);
  }

  /** Found bytes of [a, b) (within one read piece), or null where nothing was read. */
  private foundAt(a: number, b: number): { data: Uint8Array; at: number } | null {
    const pieces = this.found.pieces;
    for (let i = this.firstPieceFrom(a); i < pieces.length; i++) {
      const p = pieces[i];
      if (p.off <= a && b <= p.off + p.data.length) return { data: p.data, at: p.off };
      if (this.pieceEnds !== null && p.off > a) break;
    }
    return null;
  }

  /**
   * [a, b) outside the changed set: every version holds the oracle's bytes there, so a unit is
   * allowed when it equals them and otherwise each differing byte is bad. Not read: not judged.
   */
  private stable(states: RunState[], a: number, b: number): void {
    if (a >= b) return;
    const o = this.tr.latest;
    let read = false;
    const pieces = this.found.pieces;
    for (let i = this.firstPieceFrom(a); i < pieces.length; i++) {
      const p = pieces[i];
      if (this.pieceEnds !== null && p.off >= b) break;
      const lo = Math.max(a, p.off);
      const hi = Math.min(b, p.off + p.data.length);
      if (lo >= hi) continue;
      read = true;
      let pos = lo;
      while (pos < hi) {
        const m = o.compare(pos, p.data, pos - p.off, hi - p.off);
        if (m === null) {
          for (const s of states) s.mark(pos, false);
          break;
        }
        const u = Math.floor(m.offset / UNIT) * UNIT;
        if (u > pos) for (const s of states) s.mark(pos, false);
        const ue = Math.min(this.size, u + UNIT);
        for (let x = u; x < ue; x++) {
          const bad = p.data[x - p.off] !== o.byteAt(x);
          for (const s of states) s.mark(x, bad);
        }
        pos = ue;
      }
    }
    // Not read back (a large file, see rangesToRead): left to later reads, like every byte no op touched.
    if (!read) for (const s of states) s.mark(a, false);
  }

  /** Whether unit [u, e) meets a range whose write-back failed (check's failedWrites). */
  private inFailedWrite(u: number, e: number): boolean {
    for (const r of this.failedWrites) if (r.off < e && u < r.off + r.len) return true;
    return false;
  }

  /** The oldest window version that may explain byte x (range acknowledgements raise it). */
  private minVersionAt(x: number): number {
    let m = 0;
    for (const r of this.acks) if (x >= r.off && x < r.end && r.v > m) m = r.v;
    return m;
  }

  /**
   * Units of [a, b) inside the changed set: CrashEnvelope.badRuns. A unit that equals the newest
   * version is allowed for every candidate (that version is never older than the metadata one,
   * nor than an acknowledgement, and reaches the found size), which is a compare against the
   * oracle; the versions are built only for a segment where some unit does not.
   */
  private changedUnits(states: RunState[], a: number, b: number, rows: Buffer[], matchK: Int8Array): void {
    const win = this.info;
    const got = this.foundAt(a, b);
    if (got === null) throw new Error(`durability: bytes [${a}, ${b}) of the found file were not read`);
    const o = this.tr.latest;
    const newestIsOracle = this.inflight.length === 0;
    let built = false;
    let baseBuilt = false;
    // The whole segment equal to the newest version (the usual case: nothing was lost) is allowed
    // for every candidate: one compare instead of one per unit (marking its first unit good is
    // what marking every unit good does: it closes a bad run there, the rest change nothing).
    const end = Math.min(b, this.size);
    if (newestIsOracle && a < end && o.compare(a, got.data.subarray(a - got.at, end - got.at)) === null) {
      for (const s of states) s.mark(a, false);
      return;
    }
    for (let u = a; u < b; u += UNIT) {
      const e = Math.min(this.size, u + UNIT);
      if (u >= e) break;
      const gu = got.data.subarray(u - got.at, e - got.at);
      if (newestIsOracle && o.compare(u, gu) === null) {
        for (const s of states) s.mark(u, false);
        continue;
      }
      let unitFloor = 0;
      for (const r of this.acks) if (r.off < e && u < r.end) unitFloor = Math.max(unitFloor, r.v);
      // Over a failed write-back no later size limits a version's bytes (see check).
      const unlimited = this.inFailedWrite(u, e);
      // Next likeliest: the base (everything since the fsync lost). Built alone, it is cheap.
      if (!built && unitFloor === 0) {
        if (!baseBuilt) {
          this.tr.baseInto(rows[0].subarray(0, b - a), a, b);
          baseBuilt = true;
        }
        if (rows[0].compare(gu, 0, gu.length, u - a, e - a) === 0 && (unlimited || states.every((s) => s.limit[0] >= e))) {
          for (const s of states) s.mark(u, false);
          continue;
        }
      }
      if (!built) {
        this.tr.buildVersions(a, b, this.inflight, rows);
        built = true;
      }
      matchK.fill(-1);
      for (const s of states) {
        // Whether some allowed version explains the whole unit: the order of the tries does not
        // matter, so the newest and the base (the likeliest) go first.
        let ok = false;
        for (let t = 0; t < win.length - unitFloor && !ok; t++) {
          const k = t === 0 ? win.length - 1 : t === 1 ? unitFloor : win.length - t;
          if (k < unitFloor || (t > 1 && k === unitFloor) || (!unlimited && s.limit[k] < e)) continue;
          if (matchK[k] < 0) matchK[k] = rows[k].compare(gu, 0, gu.length, u - a, e - a) === 0 ? 1 : 0;
          ok = matchK[k] === 1;
        }
        if (ok) {
          s.mark(u, false);
          continue;
        }
        for (let x = u; x < e; x++) {
          const val = gu[x - u];
          const lowest = unitFloor === 0 ? 0 : this.minVersionAt(x);
          let good = false;
          for (let k = lowest; k < win.length && !good; k++) good = (unlimited || x < s.limit[k]) && rows[k][x - a] === val;
          s.mark(x, !good);
        }
      }
    }
  }

  /** The envelope's messages for the runs of the best candidate. */
  private report(b: RunState): CrashViolation[] {
    const win = this.info;
    const out: CrashViolation[] = [];
    for (const [off, len] of b.runs) {
      const allowed = new Set<number>();
      const floor = this.minVersionAt(off);
      for (let k = floor; k < win.length; k++) allowed.add(this.tr.versionRange(k, off, off + 1, this.inflight)[0]);
      const acked = allowed.size === 1 && ((this.acked && off < win[0].size) || floor > 0);
      const kind: CrashViolationKind = acked ? 'lost-durable-data' : 'bad-bytes';
      const g = this.foundAt(off, off + 1)!;
      const run = g.data.subarray(off - g.at, Math.min(g.data.length, off - g.at + Math.min(len, 64)));
      const what = this.explain(run, off);
      const expect = [...allowed].slice(0, 6).map(hexByte).join('|');
      out.push(this.violation(kind,
        `${FILE}: bytes [${off}, +${len}) read ${hexByte(run[0])}... (${what}); ` +
        `allowed at ${off}: ${expect} from versions ${this.vdesc()} with metadata as of ${this.describe(b.j)}` +
        `${acked ? (floor > 0 ? this.rangeNote() : this.ackNote()) : ''}`, off, len));
    }
    return out;
  }

  /**
   * CrashEnvelope.explain over this file's history: the initial version, the acknowledging one
   * (same bytes as the base), the window's versions.
   */
  private explain(run: Uint8Array, off: number): string {
    if (isZero(run)) return 'zeroes';
    const probe = run.subarray(0, Math.min(run.length, 32));
    // The envelope's history: [initial, ack?] + deltas + in flight; initial and ack are the base.
    const history: Array<{ k: number; desc: string }> = [];
    if (this.acked) history.push({ k: 0, desc: `initial (size ${this.info[0].size})` });
    this.info.forEach((_, k) => history.push({ k, desc: this.describe(k) }));
    for (const h of history) {
      const size = this.info[h.k].size;
      if (off + probe.length > size) continue;
      if (bytesEqual(this.tr.versionRange(h.k, off, off + probe.length, this.inflight), probe)) return `the data of this file ${h.desc}, outside the allowed versions`;
    }
    if (probe.length >= 8) {
      const needle = Buffer.from(probe.buffer, probe.byteOffset, probe.length);
      for (const h of history) {
        const whole = this.tr.wholeVersion(h.k, this.inflight);
        if (whole === null) continue;
        const at = Buffer.from(whole.buffer, whole.byteOffset, whole.length).indexOf(needle);
        if (at >= 0) return `the data of this file at offset ${at} ${h.desc}`;
      }
    }
    return 'bytes the program never wrote (garbage)';
  }
}
