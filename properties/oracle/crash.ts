/**
 * The crash envelope oracle: given what a program did (per file: its bytes and size after every
 * op, and which ops acknowledged which files as durable), decide whether the files found after a
 * crash are allowed. It knows nothing of blocks, extents, caches or devices.
 *
 * Vocabulary. Each file name has a history of VERSIONS: the initial one (absent, unless given by
 * initial()), then one per change made by an op (set() / remove()). An op occupies the device-log
 * positions [start, end] (CrashDevice.position before and after it). For a crash at point p:
 *  - the op has STARTED if start < p, or it completed (end ≤ p): ops that did no I/O at all at p
 *    may or may not have run;
 *  - an acknowledgement (fsync/fdatasync/sync/O_SYNC write/msync) COUNTS if its op completed,
 *    end ≤ p;
 *  - the WINDOW of a file is its versions from the one current at its last counted
 *    acknowledgement (or the initial version) to the one current after the last started op.
 *
 * Byte-range acknowledgements (an O_DSYNC write) raise the oldest allowed version for those
 * bytes only, and require the size that holds them.
 *
 * A post-crash file is allowed iff some version j in the window (the metadata version) exists
 * and has the file's size, or, with the default 'prefix' size rule, a larger size while the found
 * size is at least the smallest size any version had from the window start to j (on-disk sizes
 * that advance only with written-back data: xfs, ext4, refs); and every byte at offset o < size
 * equals val_k(o) for some version k in the window that is COMPATIBLE with j, where
 *  - val_k(o) is version k's byte, or 0 when o ≥ size_k (bytes beyond EOF read as zeroes when the
 *    file is extended again; an absent version has size 0);
 *  - k is compatible with j at o when k ≥ j (data newer than the metadata: in-place overwrites
 *    reach the media before the metadata commit), or k < j and o < size_t for every t in (k, j]
 *    (data older than the metadata survives only if no version between them cut it off: a
 *    truncate below o, an unlink, must not let the old bytes reappear once the file grows again).
 * Consequences:
 *  (a) bytes and size acknowledged as durable and not changed since read back exactly (the
 *      window has one version there);
 *  (b) every other byte is old or new, never garbage, never another file's data, never data
 *      truncated or deleted away (stale data exposure);
 *  (c) the size is one the file had in the window (or lags an extension of it), and the bytes
 *      agree with it.
 * Whether the filesystem mounts and passes its own checks (d) is the caller's part.
 *
 * Fast path: bytes are compared in 512-byte units with Buffer.compare against whole versions;
 * only a unit that no single compatible version explains is examined byte by byte. With
 * `atomicUnit` set (e.g. the sector size), the non-zero bytes of each unit must all come from one
 * version (a sector never mixes the data of two versions); zeroes are still judged per byte.
 */

import { CrashRng } from '../../reference/device/crash';

/* ------------------------------------------------------------------------------------------ */
/* Traceable data                                                                             */
/* ------------------------------------------------------------------------------------------ */

const PERIOD = 65536;
/** Odd step: op n's data is the table shifted by n * STEP, so ops get distinct windows of it. */
const STEP = 40503;

/**
 * Data that names its writer: byte o written by op n is T[(o + n * STEP) mod 2^16], where T is a
 * seeded table of non-zero random bytes. Zero therefore always means "never written here (or
 * zeroed)", and any 16-byte run identifies the op and offset that produced it (up to copies).
 * Generating data is two bulk copies per 64 KiB.
 */
export class TraceablePattern {
  readonly seed: number;
  /** The table twice over, so any window of up to PERIOD bytes is contiguous. */
  private readonly table: Uint8Array;

  constructor(seed: number) {
    this.seed = seed;
    const rng = new CrashRng(seed ^ 0x7a11ab1e);
    const t = rng.fill(new Uint8Array(PERIOD));
    for (let i = 0; i < PERIOD; i++) if (t[i] === 0) t[i] = 1 + (i % 255);
    this.table = new Uint8Array(2 * PERIOD);
    this.table.set(t, 0);
    this.table.set(t, PERIOD);
  }

  /** The bytes op `op` writes at file offset `off`. */
  data(op: number, off: number, len: number): Uint8Array {
    const out = new Uint8Array(len);
    let pos = 0;
    while (pos < len) {
      const phase = (((off + pos) % PERIOD) + ((op * STEP) % PERIOD)) % PERIOD;
      const n = Math.min(PERIOD, len - pos);
      out.set(this.table.subarray(phase, phase + n), pos);
      pos += n;
    }
    return out;
  }

  /** Which op wrote `run` at file offset `off`, if it was written there directly (not moved). */
  opAt(run: Uint8Array, off: number): number | null {
    if (run.length < 8) return null;
    const at = Buffer.from(this.table.buffer, 0, this.table.length).indexOf(Buffer.from(run.buffer, run.byteOffset, run.length));
    if (at < 0) return null;
    // at = (off + op*STEP) mod PERIOD  =>  op = (at - off) * STEP^-1 mod PERIOD
    const d = (((at - off) % PERIOD) + PERIOD) % PERIOD;
    return Number((BigInt(d) * STEP_INV) % BigInt(PERIOD));
  }
}

/** STEP^-1 mod 2^16 (STEP is odd). */
const STEP_INV = (() => {
  let x = 1n;
  const s = BigInt(STEP);
  const m = BigInt(PERIOD);
  for (let i = 0; i < 5; i++) x = (x * (2n - s * x)) % m;
  return ((x % m) + m) % m;
})();

/* ------------------------------------------------------------------------------------------ */
/* History                                                                                    */
/* ------------------------------------------------------------------------------------------ */

export interface FileVersion {
  /** The op that produced it (-1: the initial version). */
  readonly op: number;
  readonly exists: boolean;
  readonly size: number;
  /** Exactly `size` bytes (beyond size everything reads 0). */
  readonly data: Uint8Array;
}

export interface OpSpan {
  readonly index: number;
  readonly desc: string;
  /** Device-log position when the op began. */
  readonly start: number;
  /** Device-log position when it returned (-1 while running). */
  end: number;
  /** Files this op acknowledged as durable ('all' for sync()). */
  durable: Set<string> | 'all';
  /** Byte ranges this op acknowledged as durable (an O_DSYNC/O_SYNC write covers only its own bytes). */
  ranges: Array<{ name: string; off: number; len: number }>;
  /**
   * Byte ranges this op changes all or nothing (an RWF_ATOMIC write, file-ops §14.29): after a
   * crash each reads wholly as before the op or wholly as after it.
   */
  atomic?: Array<{ name: string; off: number; len: number; guard: number }>;
  /**
   * Writing back what this op changed rewrites whole aligned units of this size around it (a
   * store through the mapping dirties its whole folio; a buffered write dirties only the blocks
   * it wrote, so it sets nothing here).
   */
  rewrites?: number;
}

/** A range acknowledgement as seen from a window: version index (window-relative) and bytes. */
interface RangeAck {
  v: number;
  off: number;
  end: number;
  op: number;
}

export type CrashViolationKind = 'missing-file' | 'unexpected-file' | 'size' | 'lost-durable-data' | 'bad-bytes' | 'torn-atomic';

export interface CrashViolation {
  readonly kind: CrashViolationKind;
  readonly file: string;
  /** The crash point the envelope was computed for. */
  readonly point: number;
  readonly message: string;
  readonly offset?: number;
  readonly length?: number;
}

export interface CheckOptions {
  /**
   * 'prefix' (default): the size may also lag behind an extension, as on-disk sizes do when they
   * only advance with written-back data (xfs di_size, ext4 i_disksize, refs): with metadata
   * version j, any size from the smallest size since the window start up to size_j.
   * 'exact': the size must be one the file had.
   */
  sizes?: 'prefix' | 'exact';
  /**
   * Stricter: within every unit of this many bytes (e.g. the sector size), the non-zero bytes
   * must all come from one version (a sector never mixes the data of two versions); zero bytes
   * are still judged one by one.
   */
  atomicUnit?: number;
  /** Stop after this many bad runs per file (default 4). */
  maxRuns?: number;
}

const UNIT = 512;
const ZERO = Buffer.alloc(PERIOD);

function buf(u: Uint8Array, a = 0, b = u.length): Buffer {
  return Buffer.from(u.buffer, u.byteOffset + a, b - a);
}

function isZeroRange(u: Uint8Array, a: number, b: number): boolean {
  for (let p = a; p < b; p += PERIOD) {
    const n = Math.min(PERIOD, b - p);
    if (buf(u, p, p + n).compare(ZERO, 0, n) !== 0) return false;
  }
  return true;
}

/** Does `img[a, b)` equal version v's bytes (zeroes past its size) there? */
function matches(img: Uint8Array, v: FileVersion, a: number, b: number): boolean {
  const m = Math.min(b, Math.max(a, v.size));
  if (m > a && buf(img, a, m).compare(buf(v.data, a, m)) !== 0) return false;
  return m >= b || isZeroRange(img, m, b);
}

/** Version v's bytes [0, n) (zeroes past its size), for comparisons that run past its size. */
function versionBytes(v: FileVersion, n: number): Uint8Array {
  if (v.size >= n) return v.data;
  const out = new Uint8Array(n);
  out.set(v.data);
  return out;
}

function valAt(v: FileVersion, o: number): number {
  return o < v.size ? v.data[o] : 0;
}

/** The oldest window version that may explain byte o (range acknowledgements raise it). */
function minVersionAt(acks: readonly RangeAck[], o: number): number {
  let m = 0;
  for (const r of acks) if (o >= r.off && o < r.end && r.v > m) m = r.v;
  return m;
}

export class CrashEnvelope {
  readonly ops: OpSpan[] = [];
  /** When set, explain() also names the op whose pattern a stray run matches. */
  pattern: TraceablePattern | null = null;
  /** Name versions by their op's description (fsx's op numbers) instead of the envelope's index. */
  versionsByDesc = false;
  private readonly files = new Map<string, FileVersion[]>();
  private current: OpSpan | null = null;

  /** Files present before op 0, durable (e.g. created and synced before the log started). */
  initial(name: string, data: Uint8Array): void {
    if (this.ops.length) throw new Error('CrashEnvelope.initial: only before the first op');
    this.files.set(name, [{ op: -1, exists: true, size: data.length, data: new Uint8Array(data) }]);
  }

  /** Begin an op at device-log position `position`; returns its index. */
  begin(desc: string, position: number): number {
    if (this.current) throw new Error(`CrashEnvelope.begin: op #${this.current.index} is still running`);
    const op: OpSpan = { index: this.ops.length, desc, start: position, end: -1, durable: new Set(), ranges: [] };
    this.ops.push(op);
    this.current = op;
    return op.index;
  }

  private running(what: string): OpSpan {
    if (!this.current) throw new Error(`CrashEnvelope.${what}: no op is running`);
    return this.current;
  }

  /** The file's contents are now `data` (size = data.length). Several calls in one op record intermediate states. */
  set(name: string, data: Uint8Array): void {
    const op = this.running('set');
    this.history(name).push({ op: op.index, exists: true, size: data.length, data: new Uint8Array(data) });
  }

  /** The file no longer exists. */
  remove(name: string): void {
    const op = this.running('remove');
    this.history(name).push({ op: op.index, exists: false, size: 0, data: new Uint8Array(0) });
  }

  /** The running op acknowledged these files (or all files) as durable when it returned. */
  acknowledge(names: readonly string[] | 'all'): void {
    const op = this.running('acknowledge');
    if (names === 'all') op.durable = 'all';
    else if (op.durable !== 'all') for (const n of names) op.durable.add(n);
  }

  /**
   * The running op acknowledged bytes [off, off+len) of `name` as durable (with their size, as
   * O_DSYNC does for the data it wrote), not the rest of the file.
   */
  acknowledgeRange(name: string, off: number, len: number): void {
    const op = this.running('acknowledgeRange');
    if (len > 0) op.ranges.push({ name, off, len });
  }

  /**
   * The running op changes bytes [off, off+len) of `name` all or nothing (RWF_ATOMIC): besides
   * the per-byte rule, a crash must find the range wholly as before the op or wholly as after it
   * (over the part inside the size found), whether the op had started, returned or been
   * acknowledged at the crash point. `guard` (e.g. the folio size): a later op that changes
   * anything in the range rounded out to it ends the promise, since writing back its page cache
   * rewrites the same blocks with ordinary, tearable writes.
   */
  atomic(name: string, off: number, len: number, guard = 1): void {
    const op = this.running('atomic');
    if (len > 0) (op.atomic ??= []).push({ name, off, len, guard: Math.max(1, guard) });
  }

  /**
   * Writeback of the running op's changes rewrites whole aligned `unit`s around them (an mmap
   * store: iomap marks the whole folio dirty). An all-or-nothing range within such a unit stops
   * being judged from this op on.
   */
  rewritesWhole(unit: number): void {
    const op = this.running('rewritesWhole');
    op.rewrites = Math.max(op.rewrites ?? 1, unit);
  }

  /** The op returned at device-log position `position`. */
  end(position: number): void {
    const op = this.running('end');
    if (position < op.start) throw new Error(`CrashEnvelope.end: position ${position} before the op's start ${op.start}`);
    op.end = position;
    this.current = null;
  }

  /** Every file name ever seen. */
  names(): string[] {
    return [...this.files.keys()].sort();
  }

  /** A file's whole history (initial version first). */
  history(name: string): FileVersion[] {
    let h = this.files.get(name);
    if (!h) {
      h = [{ op: -1, exists: false, size: 0, data: new Uint8Array(0) }];
      this.files.set(name, h);
    }
    return h;
  }

  /** The current (latest) version of a file. */
  latest(name: string): FileVersion {
    const h = this.history(name);
    return h[h.length - 1];
  }

  /* ---- Windows ---------------------------------------------------------------------------- */

  private started(op: OpSpan, p: number): boolean {
    return op.start < p || (op.end >= 0 && op.end <= p);
  }

  private completed(op: OpSpan, p: number): boolean {
    return op.end >= 0 && op.end <= p;
  }

  /** Index of the last version with op ≤ i. */
  private versionAfter(h: readonly FileVersion[], i: number): number {
    let v = 0;
    while (v + 1 < h.length && h[v + 1].op <= i) v++;
    return v;
  }

  /**
   * The window of `name` at point p: version indices [from, to], and the op whose
   * acknowledgement fixed `from` (-1: none, the initial version).
   */
  window(name: string, p: number): { from: number; to: number; ackOp: number; ranges: RangeAck[] } {
    const h = this.history(name);
    let lastStarted = -1;
    let ackOp = -1;
    const rangeOps: OpSpan[] = [];
    for (const op of this.ops) {
      if (this.started(op, p)) lastStarted = op.index;
      if (!this.completed(op, p)) continue;
      if (op.durable === 'all' || op.durable.has(name)) ackOp = op.index;
      if (op.ranges.some((r) => r.name === name)) rangeOps.push(op);
    }
    const from = ackOp < 0 ? 0 : this.versionAfter(h, ackOp);
    const to = Math.max(from, this.versionAfter(h, lastStarted));
    const ranges: RangeAck[] = [];
    for (const op of rangeOps) {
      const v = this.versionAfter(h, op.index);
      if (v <= from) continue; // a whole-file acknowledgement at or after it covers it
      for (const r of op.ranges) if (r.name === name) ranges.push({ v: v - from, off: r.off, end: r.off + r.len, op: op.index });
    }
    return { from, to, ackOp, ranges };
  }

  /** The ops running or last completed at point p (for reports). */
  opsAt(p: number): { lastCompleted: number; running: number } {
    let lastCompleted = -1;
    let running = -1;
    for (const op of this.ops) {
      if (this.completed(op, p)) lastCompleted = op.index;
      else if (op.start < p) running = op.index;
    }
    return { lastCompleted, running };
  }

  /* ---- Checking --------------------------------------------------------------------------- */

  /**
   * Check the files found after a crash at point p: `image` maps every file name present to its
   * contents (length = size). Returns the violations (empty: allowed).
   */
  check(image: ReadonlyMap<string, Uint8Array>, p: number, opts: CheckOptions = {}): CrashViolation[] {
    const out: CrashViolation[] = [];
    for (const name of image.keys()) {
      if (!this.files.has(name)) {
        out.push({ kind: 'unexpected-file', file: name, point: p, message: `${name}: exists after the crash but the program never created it` });
      }
    }
    for (const name of this.names()) out.push(...this.checkFile(name, image.get(name) ?? null, p, opts));
    return out;
  }

  /**
   * Check an image that can arise at any point in [from, to] (a crash state is reachable from
   * its earliest point to its group's last point): it must be allowed at each of them. Only
   * points where some window changes are evaluated.
   */
  checkSpan(image: ReadonlyMap<string, Uint8Array>, from: number, to: number, opts: CheckOptions = {}): CrashViolation[] {
    const names = this.names();
    let lastKey = '';
    for (let p = from; p <= to; p++) {
      const key = names.map((n) => {
        const w = this.window(n, p);
        return `${w.from}-${w.to}-${w.ranges.length}`;
      }).join(',');
      if (key === lastKey) continue;
      lastKey = key;
      const v = this.check(image, p, opts);
      if (v.length) return v;
    }
    return [];
  }

  private checkFile(name: string, got: Uint8Array | null, p: number, opts: CheckOptions): CrashViolation[] {
    const h = this.history(name);
    const w = this.window(name, p);
    const win = h.slice(w.from, w.to + 1);
    const ackNote = w.ackOp >= 0 ? ` (op #${w.ackOp} ${this.ops[w.ackOp].desc} acknowledged version ${this.describeVersion(h[w.from])})` : '';
    const vdesc = win.map((v) => this.describeVersion(v)).join(', ');
    const rangeFloor = w.ranges.reduce((m, r) => Math.max(m, r.v), 0);
    const rangeNote = w.ranges.length ? ` (op #${w.ranges[w.ranges.length - 1].op} ${this.ops[w.ranges[w.ranges.length - 1].op].desc} acknowledged its bytes)` : '';
    if (got === null) {
      if (win.some((v, k) => !v.exists && k >= rangeFloor)) return [];
      if (win.some((v) => !v.exists)) {
        return [{ kind: 'missing-file', file: name, point: p, message: `${name}: missing after the crash, but an acknowledged write needs it${rangeNote}` }];
      }
      return [{ kind: 'missing-file', file: name, point: p, message: `${name}: missing after the crash, but it existed in every allowed version: ${vdesc}${ackNote}` }];
    }
    const size = got.length;
    // Candidate metadata versions: exact size first, then (prefix rule) versions whose growth
    // since the window start could have been logged only up to `size`.
    const js: number[] = [];
    const exact = (opts.sizes ?? 'prefix') === 'exact';
    let lo = Infinity;
    const ranges: string[] = [];
    for (let i = 0; i < win.length; i++) {
      lo = Math.min(lo, win[i].size);
      if (!win[i].exists) continue;
      if (win[i].size === size) js.unshift(i);
      else if (!exact && size >= lo && size < win[i].size) js.push(i);
      ranges.push(exact || lo === win[i].size ? `${win[i].size}` : `${lo}..${win[i].size}`);
    }
    // Acknowledged byte ranges need the size that holds them (unless a later version is smaller).
    for (const r of w.ranges) {
      let need = r.end;
      for (let k = r.v; k < win.length; k++) need = Math.min(need, win[k].size);
      if (size < need) {
        return [{ kind: 'size', file: name, point: p, message: `${name}: size ${size} after the crash, but bytes up to ${need} were acknowledged${rangeNote.replace(')', `, versions ${vdesc})`)}` }];
      }
    }
    if (js.length === 0) {
      if (!win.some((v) => v.exists)) {
        return [{ kind: 'unexpected-file', file: name, point: p, message: `${name}: exists (size ${size}) after the crash, but it did not exist in any allowed version${ackNote}` }];
      }
      const sizes = [...new Set(ranges)].join(', ');
      return [{ kind: 'size', file: name, point: p, message: `${name}: size ${size} after the crash; allowed sizes: ${sizes} (versions ${vdesc})${ackNote}` }];
    }
    let best: { bad: number; runs: Array<[number, number]>; j: number } | null = null;
    for (const j of js) {
      const r = this.badRuns(win, j, got, opts, w.ranges);
      if (r.bad === 0) return this.tornAtomic(name, got, p, w.from, w.to);
      if (!best || r.bad < best.bad) best = { ...r, j };
    }
    const b = best!;
    const out: CrashViolation[] = [];
    for (const [off, len] of b.runs) {
      const allowed = new Set<number>();
      const floor = minVersionAt(w.ranges, off);
      for (let k = floor; k < win.length; k++) allowed.add(valAt(win[k], off));
      const acked = allowed.size === 1 && ((w.ackOp >= 0 && off < h[w.from].size) || floor > 0);
      const kind: CrashViolationKind = acked ? 'lost-durable-data' : 'bad-bytes';
      const what = this.explain(name, got.subarray(off, off + Math.min(len, 64)), off);
      const expect = [...allowed].slice(0, 6).map((x) => `0x${x.toString(16).padStart(2, '0')}`).join('|');
      out.push({
        kind, file: name, point: p, offset: off, length: len,
        message: `${name}: bytes [${off}, +${len}) read 0x${got[off].toString(16).padStart(2, '0')}... (${what}); ` +
          `allowed at ${off}: ${expect} from versions ${vdesc} with metadata as of ${this.describeVersion(win[b.j])}` +
          `${acked ? (floor > 0 ? rangeNote : ackNote) : ''}`,
      });
    }
    return out;
  }

  /**
   * Whether the later version `later` leaves the all-or-nothing range r as `after` has it, over
   * the span whose writeback would rewrite r's blocks: r rounded out to its guard (the block), or
   * to the unit the later op's writeback rewrites whole (rewritesWhole: an mmap store's folio).
   * A change there means a later ordinary, tearable write may hold r's blocks.
   */
  private unchangedAround(r: { off: number; len: number; guard: number }, after: FileVersion, later: FileVersion): boolean {
    const unit = Math.max(r.guard, later.op >= 0 ? this.ops[later.op].rewrites ?? 1 : 1);
    const lo = r.off - (r.off % unit);
    const hi = Math.ceil((r.off + r.len) / unit) * unit;
    return buf(versionBytes(later, hi), lo, hi).compare(buf(versionBytes(after, hi), lo, hi)) === 0;
  }

  /**
   * The all-or-nothing ranges (atomic()) of ops that started by point p whose change is inside
   * the window [from, to] of `name`, that `got` shows torn: neither wholly the version before the
   * op nor wholly the one after it, over the part of the range inside the size found. A range is
   * judged only where "before" and "after" are each one value: no other version in the window
   * differs from them there (another change of the same bytes, acknowledged or not, leaves the
   * per-byte rule to judge them).
   */
  private tornAtomic(name: string, got: Uint8Array, p: number, from: number, to: number): CrashViolation[] {
    const h = this.history(name);
    const out: CrashViolation[] = [];
    for (const op of this.ops) {
      if (op.atomic === undefined || !this.started(op, p)) continue;
      const vNew = this.versionAfter(h, op.index);
      const vOld = this.versionAfter(h, op.index - 1);
      if (vNew === vOld || vOld < from || vNew > to) continue; // changed nothing here, or acknowledged
      for (const r of op.atomic) {
        if (r.name !== name) continue;
        const a = r.off;
        const b = Math.min(r.off + r.len, got.length);
        if (b <= a) continue;
        const bytes = (v: FileVersion, lo = a, hi = b): Buffer => buf(versionBytes(v, hi), lo, hi);
        const before = bytes(h[vOld]);
        const after = bytes(h[vNew]);
        let unique = true;
        for (let k = from; k <= to && unique; k++) {
          if (k === vOld || k === vNew) continue;
          if (k < vOld) unique = bytes(h[k]).compare(before) === 0;
          else if (k > vNew) unique = this.unchangedAround(r, h[vNew], h[k]);
        }
        if (!unique) continue;
        const found = buf(got, a, b);
        if (found.compare(before) === 0 || found.compare(after) === 0) continue;
        out.push({
          kind: 'torn-atomic', file: name, point: p, offset: a, length: b - a,
          message: `${name}: op #${op.index} ${op.desc} changes [${r.off}, +${r.len}) all or nothing, but after the crash ` +
            `[${a}, ${b}) is neither wholly as before it (${this.describeVersion(h[vOld])}) nor wholly as after it (${this.describeVersion(h[vNew])})`,
        });
      }
    }
    return out;
  }

  /** Bad byte runs of `got` against metadata version win[j]. */
  private badRuns(win: readonly FileVersion[], j: number, got: Uint8Array, opts: CheckOptions, acks: readonly RangeAck[]): { bad: number; runs: Array<[number, number]> } {
    const size = got.length;
    // limit[k]: k may explain offsets < limit[k].
    const limit = win.map((v, k) => {
      if (k >= j) return size;
      let m = size;
      for (let t = k + 1; t <= j; t++) m = Math.min(m, win[t].size);
      return m;
    });
    const unit = opts.atomicUnit ?? UNIT;
    const strict = opts.atomicUnit !== undefined;
    const maxRuns = opts.maxRuns ?? 4;
    const runs: Array<[number, number]> = [];
    let bad = 0;
    let runStart = -1;
    const mark = (o: number, isBad: boolean): void => {
      if (isBad) {
        bad++;
        if (runStart < 0) runStart = o;
      } else if (runStart >= 0) {
        if (runs.length < maxRuns) runs.push([runStart, o - runStart]);
        runStart = -1;
      }
    };
    for (let a = 0; a < size; a += unit) {
      const e = Math.min(size, a + unit);
      // Bytes inside an acknowledged range must come from its version or a later one.
      let unitFloor = 0;
      for (const r of acks) if (r.off < e && a < r.end) unitFloor = Math.max(unitFloor, r.v);
      let ok = false;
      for (let k = unitFloor; k < win.length && !ok; k++) ok = limit[k] >= e && matches(got, win[k], a, e);
      if (ok) {
        mark(a, false);
        continue;
      }
      const perByte = (o: number, x: number): boolean => {
        const lowest = unitFloor === 0 ? 0 : minVersionAt(acks, o);
        for (let k = lowest; k < win.length; k++) if (o < limit[k] && valAt(win[k], o) === x) return true;
        return false;
      };
      if (strict) {
        // Non-zero bytes of the unit must all come from one version; zeroes are judged per byte
        // (holes, unwritten extents and EOF zeroing legitimately read as zero in any unit).
        let bestK = -1;
        let bestBad = Infinity;
        for (let k = 0; k < win.length && bestBad > 0; k++) {
          let nbad = 0;
          for (let o = a; o < e; o++) {
            const x = got[o];
            if (x === 0 ? !perByte(o, 0) : !(o < limit[k] && k >= minVersionAt(acks, o) && valAt(win[k], o) === x)) nbad++;
          }
          if (nbad < bestBad) {
            bestBad = nbad;
            bestK = k;
          }
        }
        for (let o = a; o < e; o++) {
          const x = got[o];
          mark(o, x === 0 ? !perByte(o, 0) : !(o < limit[bestK] && bestK >= minVersionAt(acks, o) && valAt(win[bestK], o) === x));
        }
        continue;
      }
      for (let o = a; o < e; o++) mark(o, !perByte(o, got[o]));
    }
    mark(size, false);
    return { bad, runs };
  }

  describeVersion(v: FileVersion): string {
    const who = v.op < 0 ? 'initial' : this.versionsByDesc ? `after ${this.ops[v.op].desc}` : `after op #${v.op}`;
    return v.exists ? `${who} (size ${v.size})` : `${who} (absent)`;
  }

  /** Where could these bytes have come from? Searches every version of every file. */
  explain(name: string, run: Uint8Array, off: number): string {
    if (isZeroRange(run, 0, run.length)) return 'zeroes';
    const probe = run.subarray(0, Math.min(run.length, 32));
    const needle = buf(probe);
    // Same offset first, this file first.
    const order = [name, ...this.names().filter((n) => n !== name)];
    for (const f of order) {
      for (const v of this.history(f)) {
        if (off + probe.length <= v.size && buf(v.data, off, off + probe.length).equals(needle)) {
          const who = f === name ? 'this file' : `another file, ${f}`;
          return `the data of ${who} ${this.describeVersion(v)}${f === name ? ', outside the allowed versions' : ''}`;
        }
      }
    }
    if (probe.length >= 8) {
      for (const f of order) {
        for (const v of this.history(f)) {
          const at = buf(v.data).indexOf(needle);
          if (at >= 0) return `the data of ${f === name ? 'this file' : `another file, ${f}`} at offset ${at} ${this.describeVersion(v)}`;
        }
      }
    }
    const op = this.pattern ? this.pattern.opAt(probe, off) : null;
    if (op !== null && op < this.ops.length) return `op #${op}'s data pattern for this offset, though no version holds it here (op #${op}: ${this.ops[op].desc})`;
    return 'bytes the program never wrote (garbage)';
  }
}
