/**
 * The step vocabulary of the suites, and a state-aware generator for it.
 *
 * A generated step is a kind plus three raw numbers. The numbers are resolved against the live
 * state when the step runs (the oracle's file size, the block/page/DIO alignment, what is
 * pending), so every step is valid where it lands: reads stay inside EOF, collapse ranges end
 * before EOF, clone ranges do not overlap, completions pick an I/O that is pending. No step is
 * generated only to be thrown away by a failed precondition (fast-check #250/#424), and
 * shrinking the raw numbers towards 0 shrinks offsets and lengths.
 *
 * A kind whose precondition cannot hold in the current state falls back to a write, which always
 * can (so the step still does something useful).
 */
import * as fc from 'fast-check';
import { PAGE_SIZE } from '../../reference/iomap/types';
import type { Workload } from './workload';

export const STEP_KINDS = [
  // fsx ops
  'read', 'write', 'mapread', 'mapwrite', 'truncate', 'falloc', 'fallocKeep', 'unshare', 'punch', 'zero', 'zeroKeep',
  'collapse', 'insert', 'clone', 'dedupe', 'dedupeSame', 'copy', 'fsync', 'fdatasync', 'dread', 'dwrite', 'seekData',
  'seekHole', 'fiemap', 'cycle',
  // interleaving steps (FileTarget.interleave)
  'writeback', 'complete', 'drain', 'evict', 'raceWrite', 'raceWriteback', 'racePunch', 'asyncDio',
  // a store through the mapping left dirty (no msync); junk stored past EOF without msync;
  // a short write (model-level), also with a second writer in its begin/get_folio window
  'mapwriteNoSync', 'pollute', 'shortWrite', 'raceShortWrite',
  // a power cut (FileTarget.crash; fsx's crash op); buffered and O_DIRECT writes with O_DSYNC
  'crash', 'dsyncWrite', 'dsyncDwrite',
  // a clean unmount + mount (FileTarget.remount; fsx's remount op); a call with arguments a
  // correct target must refuse (fsx's invalid ops: errno and nothing changed)
  'remount', 'invalid',
  // the newer I/O (fsx's write_atomic, read_dontcache, write_dontcache, exchange_range), and
  // calls of the atomic write and the exchange a correct target must refuse (EINVAL, nothing changed)
  'atomicWrite', 'readDontcache', 'writeDontcache', 'exchange', 'invalidAtomic', 'invalidExchange',
] as const;

export type StepKind = (typeof STEP_KINDS)[number];

export interface Step {
  k: StepKind;
  a: number;
  b: number;
  c: number;
}

/** Which kinds need what (for filtering by the target). */
const KIND_NEEDS: Partial<Record<StepKind, string>> = {
  mapread: 'mmap', mapwrite: 'mmap', falloc: 'falloc:0x0', fallocKeep: 'falloc:0x1', unshare: 'falloc:0x40',
  punch: 'falloc:0x3', zero: 'falloc:0x10', zeroKeep: 'falloc:0x11', collapse: 'falloc:0x8', insert: 'falloc:0x20',
  clone: 'clone', dedupe: 'dedupe', dedupeSame: 'dedupe', copy: 'copyRange', dread: 'directIO', dwrite: 'directIO',
  seekData: 'seek', seekHole: 'seek', fiemap: 'fiemap', writeback: 'interleave', complete: 'interleave',
  drain: 'interleave', evict: 'interleave', raceWrite: 'interleave', raceWriteback: 'interleave', racePunch: 'interleave',
  asyncDio: 'asyncDio', shortWrite: 'faults', raceShortWrite: 'faults', mapwriteNoSync: 'mmap', pollute: 'mmap',
  crash: 'crash', dsyncDwrite: 'directIO', remount: 'remount',
  atomicWrite: 'atomic', invalidAtomic: 'atomic', readDontcache: 'dontcache', writeDontcache: 'dontcache',
  exchange: 'exchange', invalidExchange: 'exchange',
};

export function kindNeed(k: StepKind): string | undefined {
  return KIND_NEEDS[k];
}

export type Weights = Partial<Record<StepKind, number>>;

/** Sizes a workload works in. */
export interface Span {
  /** Largest file offset used (writes, truncates, clone destinations stay below it). */
  maxFile: number;
  /** Largest single op length. */
  maxOp: number;
}

/** An arbitrary step from weighted kinds. */
export function stepArb(weights: Weights): fc.Arbitrary<Step> {
  const kinds = (Object.entries(weights) as [StepKind, number][]).filter(([, w]) => w > 0);
  if (kinds.length === 0) throw new Error('stepArb: no kinds');
  const kind = fc.oneof(...kinds.map(([k, w]) => ({ arbitrary: fc.constant(k), weight: w })));
  return fc.record({ k: kind, a: fc.nat(), b: fc.nat(), c: fc.nat() });
}

/** A list of steps (shrinkable: fewer steps, smaller numbers). */
export function stepsArb(weights: Weights, maxLength: number, minLength = 1): fc.Arbitrary<Step[]> {
  return fc.array(stepArb(weights), { minLength, maxLength, size: 'max' });
}

export function fmtStep(s: Step): string {
  return `${s.k}(${s.a},${s.b},${s.c})`;
}

/** Drop kinds the workload's target cannot do. */
export function supportedWeights(w: Workload, weights: Weights): Weights {
  const out: Weights = {};
  for (const [k, v] of Object.entries(weights) as [StepKind, number][]) if (supports(w, k)) out[k] = v;
  return out;
}

export function supports(w: Workload, k: StepKind): boolean {
  const need = KIND_NEEDS[k];
  if (need === undefined) return true;
  return hasNeed(w, need);
}

/** Does the workload's target meet a need (see types.ts Need)? */
export function hasNeed(w: Workload, need: string): boolean {
  const caps = w.caps;
  const t = w.target;
  switch (need) {
    case 'mmap': return caps.mmap && typeof t.mapread === 'function' && typeof t.mapwrite === 'function';
    case 'directIO': return caps.directIO && typeof t.directRead === 'function' && typeof t.directWrite === 'function';
    case 'seek': return caps.seek && typeof t.seekData === 'function' && typeof t.seekHole === 'function';
    case 'fiemap': return caps.fiemap && typeof t.fiemap === 'function';
    case 'clone': return caps.clone && typeof t.cloneRange === 'function';
    case 'dedupe': return caps.dedupe && typeof t.dedupeRange === 'function';
    case 'copyRange': return caps.copyRange && typeof t.copyRange === 'function';
    case 'interleave': return t.interleave !== undefined;
    case 'asyncDio': return typeof t.interleave?.directWriteAsync === 'function' && caps.directIO;
    case 'model': return w.ref !== null;
    case 'crash': return typeof t.crash === 'function';
    case 'remount': return caps.remount && typeof t.remount === 'function';
    // As fsx's generator decides whether the newer ops are on (properties/fsx/generator.ts).
    case 'atomic': return caps.atomicWrite !== undefined && caps.directIO && typeof t.atomicWrite === 'function';
    case 'dontcache': return caps.dontcache === true && typeof t.readDontcache === 'function' && typeof t.writeDontcache === 'function';
    case 'exchange': return caps.exchangeRange === true && typeof t.exchangeRange === 'function';
    case 'deviceFaults': return t.deviceFaults !== undefined;
    case 'faults': return t.faults !== undefined;
    case 'introspect': return w.ref !== null && w.ref.fsys.fs.introspect !== undefined;
    case 'geometry': return true;
    default:
      if (need.startsWith('falloc:')) return typeof t.fallocate === 'function' && caps.fallocModes.includes(Number(need.slice(7)));
      return false;
  }
}

// ---- resolution ----------------------------------------------------------------------------------

const alignDown = (x: number, a: number): number => x - (x % a);

/**
 * An offset below `limit` from raw number r, with an alignment chosen by `mode`: byte, block,
 * page or "just before a block boundary" (sub-block edges are where iomap's per-block logic lives).
 */
function offsetIn(r: number, limit: number, mode: number, bs: number): number {
  if (limit <= 0) return 0;
  const x = r % limit;
  switch (mode % 4) {
    case 0: return x;
    case 1: return alignDown(x, bs);
    case 2: return alignDown(x, PAGE_SIZE);
    default: {
      const b = alignDown(x, bs);
      const back = 1 + (r % 7);
      return b >= back ? b - back : b;
    }
  }
}

/** A length in [1, max] from raw r; mode picks small, block-multiple or any. */
function lengthIn(r: number, max: number, mode: number, bs: number): number {
  if (max <= 0) return 0;
  switch (mode % 3) {
    case 0: return 1 + (r % Math.min(max, 2 * bs));
    case 1: return Math.min(max, bs * (1 + (r % Math.max(1, Math.floor(max / bs)))));
    default: return 1 + (r % max);
  }
}

/** Play one step on the workload (resolving its numbers against the current state). */
export function play(w: Workload, s: Step, span: Span): void {
  const bs = w.bs;
  const size = w.size;
  const { maxFile, maxOp } = span;
  const mode = s.c;
  const write = () => {
    const off = offsetIn(s.a, maxFile, mode, bs);
    w.op('write', off, lengthIn(s.b, Math.min(maxOp, maxFile - off), mode >> 2, bs));
  };
  switch (s.k) {
    case 'read':
    case 'mapread': {
      if (size === 0) return write();
      const off = offsetIn(s.a, size, mode, bs);
      return w.op(s.k, off, lengthIn(s.b, Math.min(maxOp, size - off), mode >> 2, bs));
    }
    case 'write':
      return write();
    case 'mapwrite': {
      const off = offsetIn(s.a, maxFile, mode, bs);
      return w.op('mapwrite', off, lengthIn(s.b, Math.min(maxOp, maxFile - off), mode >> 2, bs));
    }
    case 'truncate':
      return w.op('truncate', 0, offsetIn(s.a, maxFile + 1, mode, bs));
    case 'falloc':
    case 'fallocKeep':
    case 'unshare':
    case 'zero':
    case 'zeroKeep': {
      const off = offsetIn(s.a, maxFile, mode, bs);
      const len = lengthIn(s.b, Math.min(maxOp, maxFile - off), mode >> 2, bs);
      const keepSize = s.k === 'fallocKeep' || s.k === 'zeroKeep' || (s.k === 'unshare' && (s.c & 16) !== 0);
      return w.op(s.k === 'zero' || s.k === 'zeroKeep' ? 'zero_range' : 'fallocate', off, len, { keepSize, unshare: s.k === 'unshare' });
    }
    case 'punch': {
      if (size === 0) return write();
      const off = offsetIn(s.a, size, mode, bs);
      return w.op('punch_hole', off, lengthIn(s.b, Math.min(maxOp, size - off), mode >> 2, bs));
    }
    case 'collapse': {
      const nb = Math.floor((size - 1) / bs);
      if (size === 0 || nb < 1) return write();
      const ob = s.a % nb;
      const lb = 1 + (s.b % Math.min(nb - ob, Math.max(1, Math.floor(maxOp / bs))));
      return w.op('collapse_range', ob * bs, lb * bs);
    }
    case 'insert': {
      const nb = Math.ceil(size / bs);
      const room = Math.floor((maxFile - size) / bs);
      if (size === 0 || room < 1) return write();
      const lb = 1 + (s.b % Math.min(room, Math.max(1, Math.floor(maxOp / bs))));
      return w.op('insert_range', (s.a % nb) * bs, lb * bs);
    }
    case 'clone': {
      if (size === 0) return write();
      const nb = Math.ceil(size / bs);
      const off = (s.a % nb) * bs;
      let len = Math.min(size - off, bs * (1 + (s.b % Math.max(1, Math.floor(maxOp / bs)))));
      const dstBlocks = Math.floor(maxFile / bs);
      let dst = (s.c % dstBlocks) * bs;
      const span = Math.ceil(len / bs) * bs;
      if (dst < off + span && off < dst + span) dst = off + span; // no overlap: move the destination past the source
      if (dst + len > maxFile) return write();
      // A partial source EOF block may only land at or past the destination's EOF (file-ops §4).
      if (len % bs !== 0 && dst + len < size) len -= len % bs;
      if (len === 0) return write();
      return w.op('clone_range', off, len, { dst });
    }
    case 'dedupe':
    case 'dedupeSame': {
      const r = apartBlocks(size, bs, s, maxOp);
      if (r === null) return write();
      if (s.k === 'dedupeSame' && w.caps.copyRange) w.op('copy_range', r.off, r.len, { dst: r.dst });
      return w.op('dedupe_range', r.off, r.len, { dst: r.dst });
    }
    case 'copy': {
      if (size === 0) return write();
      const off = offsetIn(s.a, size, mode, bs);
      const len = lengthIn(s.b, Math.min(maxOp, size - off), mode >> 2, bs);
      let dst = offsetIn(s.c >> 3, maxFile, s.c, bs);
      if (dst < off + len && off < dst + len) dst = off + len;
      if (dst + len > maxFile) return write();
      return w.op('copy_range', off, len, { dst });
    }
    case 'fsync':
    case 'fdatasync':
      return w.op(s.k, 0, 0);
    case 'cycle':
      return w.op('fsync', 0, 0, { closeOpen: true });
    case 'dread': {
      if (size === 0) return write();
      const al = w.caps.dioAlign;
      const off = alignDown(s.a % size, al);
      const len = al * (1 + (s.b % Math.max(1, Math.floor(maxOp / al))));
      return w.op('read_direct', off, len);
    }
    case 'dwrite': {
      const al = w.caps.dioAlign;
      const off = alignDown(offsetIn(s.a, maxFile, mode, bs), al);
      const len = Math.max(al, alignDown(lengthIn(s.b, Math.min(maxOp, maxFile - off), mode >> 2, bs), al));
      if (off + len > maxFile) return write();
      return w.op('write_direct', off, len);
    }
    case 'seekData':
    case 'seekHole':
      return w.op(s.k === 'seekData' ? 'seek_data' : 'seek_hole', offsetIn(s.a, size + bs, mode, bs), 0);
    case 'fiemap': {
      if (size === 0) return write();
      const off = offsetIn(s.a, size, mode, bs);
      return w.op('fiemap', off, 1 + (s.b % (size - off)));
    }
    case 'writeback':
      return w.writeback();
    case 'complete':
      if (w.pending() === 0) return w.writeback();
      return w.complete(s.a);
    case 'drain':
      return w.drain([s.a, s.b, s.c, s.a >> 8, s.b >> 8, s.c >> 8]);
    case 'evict':
      if (size === 0) return write();
      return w.evict(s.a % size);
    case 'raceWrite':
    case 'raceWriteback':
    case 'racePunch':
    case 'raceShortWrite':
      if (!supports(w, 'raceWrite')) return play(w, { ...s, k: 'write' }, span);
      return race(w, s, span);
    case 'asyncDio':
      return asyncDio(w, s, span);
    case 'shortWrite':
      return shortWrite(w, s, span);
    case 'mapwriteNoSync':
      return mapwriteNoSync(w, s, span);
    case 'pollute':
      return pollute(w, s, span);
    case 'dsyncWrite': {
      const off = offsetIn(s.a, maxFile, mode, bs);
      return w.op('write', off, lengthIn(s.b, Math.min(maxOp, maxFile - off), mode >> 2, bs), { dsync: true });
    }
    case 'dsyncDwrite': {
      const al = w.caps.dioAlign;
      const off = alignDown(offsetIn(s.a, maxFile, mode, bs), al);
      const len = Math.max(al, alignDown(lengthIn(s.b, Math.min(maxOp, maxFile - off), mode >> 2, bs), al));
      if (off + len > maxFile) return write();
      return w.op('write_direct', off, len, { dsync: true });
    }
    case 'crash':
      // The selector picks the crash state (which cached writes land, whole or torn).
      return w.op('crash', (s.a ^ (s.b << 11) ^ (s.c << 23)) >>> 0, 0);
    case 'remount':
      return w.op('remount', 0, 0);
    case 'invalid':
      return invalid(w, s, span);
    case 'atomicWrite':
      return atomicWrite(w, s, span);
    case 'readDontcache': {
      if (size === 0) return write();
      const off = offsetIn(s.a, size, mode, bs);
      return w.op('read_dontcache', off, lengthIn(s.b, Math.min(maxOp, size - off), mode >> 2, bs));
    }
    case 'writeDontcache': {
      const off = offsetIn(s.a, maxFile, mode, bs);
      return w.op('write_dontcache', off, lengthIn(s.b, Math.min(maxOp, maxFile - off), mode >> 2, bs));
    }
    case 'exchange':
      return exchange(w, s, span);
    case 'invalidAtomic':
      return invalidAtomic(w, s, span);
    case 'invalidExchange':
      return invalidExchange(w, s, span);
    default:
      throw new Error(`play: unknown step kind ${String((s as Step).k)}`);
  }
}

/** Bytes past s_maxbytes the size-limit cases reach (an op log must still hold the numbers). */
const LIMIT_ROOM = 8192;
const MAX_LOG_OFFSET = Number.MAX_SAFE_INTEGER;

/**
 * A call with arguments a correct target must refuse (fsx's `invalid` ops; the runner wants the
 * errno of docs/fsx.md "Bad arguments" and checks that nothing changed), among the ops the target
 * has: collapse not aligned or reaching EOF, insert at or past EOF, clone with an unaligned tail
 * inside the file, dedupe with unaligned offsets, misaligned O_DIRECT, writes and truncates past
 * s_maxbytes. Without any of them (or an empty file where one is needed), a write.
 */
function invalid(w: Workload, s: Step, span: Span): void {
  const size = w.size;
  const bs = w.bs;
  const up = (x: number) => Math.ceil(x / bs) * bs;
  const al = w.caps.dioAlign;
  const lim = w.caps.maxFileSize + LIMIT_ROOM <= MAX_LOG_OFFSET ? w.caps.maxFileSize : 0;
  const kinds: Array<() => void> = [];
  const bad = { invalid: true };
  if (size > 0 && hasNeed(w, 'falloc:0x8')) {
    kinds.push(() => {
      const off = alignDown(s.a % size, bs);
      if ((s.b & 1) === 0 && bs > 1) return w.op('collapse_range', off + 1 + (s.b % (bs - 1)), bs, bad);
      return w.op('collapse_range', off, up(size - off), bad);
    });
  }
  if (hasNeed(w, 'falloc:0x20')) kinds.push(() => w.op('insert_range', up(size) + bs * (s.a % 3), bs * (1 + (s.b % 4)), bad));
  if (size > 2 * bs + 2 && bs > 1 && hasNeed(w, 'clone')) {
    kinds.push(() => {
      const off = alignDown(s.a % (size - 2 * bs - 1), bs);
      const len = bs + 1 + (s.b % Math.min(bs - 1, size - off - bs - 1));
      const dst = alignDown((s.c >>> 3) % span.maxFile, bs);
      return w.op('clone_range', off, len, { dst, invalid: true });
    });
  }
  if (size > bs && bs > 1 && hasNeed(w, 'dedupe')) {
    kinds.push(() => w.op('dedupe_range', alignDown(s.a % (size - bs), bs) + 1 + (s.b % (bs - 1)), bs, { dst: alignDown((s.c >>> 3) % size, bs), invalid: true }));
  }
  if (al > 1 && hasNeed(w, 'directIO')) {
    if (size > al) kinds.push(() => w.op('read_direct', alignDown(s.a % (size - al), al) + 1 + (s.b % (al - 1)), al, bad));
    kinds.push(() => w.op('write_direct', alignDown(s.a % span.maxFile, al), al + 1 + (s.b % (al - 1)), bad));
  }
  if (lim > 0) {
    kinds.push(() => w.op('write', lim + (s.a % (LIMIT_ROOM / 2)), 1 + (s.b % (LIMIT_ROOM / 2)), bad));
    kinds.push(() => w.op('truncate', 0, lim + 1 + (s.a % (LIMIT_ROOM - 1)), bad));
  }
  if (kinds.length === 0) return play(w, { ...s, k: 'write' }, span);
  kinds[s.c % kinds.length]();
}

/** The atomic write lengths the target takes: every power of two in its statx unit range. */
function atomicLengths(w: Workload): number[] {
  const u = w.caps.atomicWrite!;
  const out: number[] = [];
  for (let n = 1; n <= u.unitMax; n *= 2) if (n >= u.unitMin) out.push(n);
  return out;
}

/**
 * An RWF_ATOMIC write (fsx's write_atomic): a power-of-two length from the unit range at a
 * multiple of it. Placed inside EOF (where a sparse file mixes written blocks and holes: the
 * mappings that send it down the copy-on-write fallback, and whose remap a power cut must not
 * split), on the block holding EOF (extending the file), or anywhere.
 */
function atomicWrite(w: Workload, s: Step, span: Span): void {
  const lens = atomicLengths(w).filter((n) => n <= span.maxFile);
  if (lens.length === 0) return play(w, { ...s, k: 'write' }, span);
  const size = w.size;
  const fit = lens.filter((n) => n <= size);
  let len = lens[s.b % lens.length];
  let off: number;
  if (s.c % 3 === 0 && fit.length > 0) {
    len = fit[s.b % fit.length];
    off = alignDown(s.a % (size - len + 1), len);
  } else if (s.c % 3 === 1 && size > 0) {
    off = alignDown(Math.max(0, size - 1 - (s.a % len)), len);
  } else {
    off = alignDown(s.a % span.maxFile, len);
  }
  if (off + len > span.maxFile) off = alignDown(span.maxFile - len, len);
  w.op('write_atomic', off, len);
}

/**
 * Two ranges of whole blocks inside EOF that do not overlap, of equal length (dedupe's and
 * exchange's arguments, as fsx's generate_dest_range), or null when the file is too small.
 */
function apartBlocks(size: number, bs: number, s: Step, maxOp: number): { off: number; len: number; dst: number } | null {
  const nb = Math.floor(size / bs);
  if (nb < 2) return null;
  const lenB = 1 + (s.b % Math.max(1, Math.min(Math.floor(nb / 2), Math.floor(maxOp / bs))));
  const off = (s.a % (nb - lenB + 1)) * bs;
  let dst = (s.c % (nb - lenB + 1)) * bs;
  const len = lenB * bs;
  if (dst < off + len && off < dst + len) dst = off + len <= (nb - lenB) * bs ? off + len : off >= len ? off - len : -1;
  return dst < 0 ? null : { off, len, dst };
}

/** exchange_range within the file: whole blocks inside EOF, the two ranges apart (as fsx's). */
function exchange(w: Workload, s: Step, span: Span): void {
  const r = apartBlocks(w.size, w.bs, s, span.maxOp);
  if (r === null) return play(w, { ...s, k: 'write' }, span);
  w.op('exchange_range', r.off, r.len, { dst: r.dst });
}

/**
 * An RWF_ATOMIC write a correct target refuses with EINVAL (file-ops §14.29): a length that is
 * no power of two, above the unit range or below it, or a valid length at an offset that is not
 * a multiple of it.
 */
function invalidAtomic(w: Workload, s: Step, span: Span): void {
  const u = w.caps.atomicWrite!;
  const lens = atomicLengths(w);
  const bad = { invalid: true };
  const at = (len: number): number => alignDown(s.a % Math.max(1, span.maxFile), Math.max(1, len));
  const forms: Array<() => void> = [];
  // Not a power of two, above the unit range, below it.
  forms.push(() => w.op('write_atomic', at(u.unitMin), 3 * u.unitMin, bad));
  forms.push(() => w.op('write_atomic', at(2 * u.unitMax), 2 * u.unitMax, bad));
  if (u.unitMin > 1) forms.push(() => w.op('write_atomic', at(u.unitMin), u.unitMin >> 1, bad));
  // A valid length, misaligned by a sector or by a smaller power of two.
  const len = lens[s.b % lens.length];
  const shift = len > w.caps.dioAlign ? w.caps.dioAlign << (s.c % Math.max(1, Math.log2(len / w.caps.dioAlign))) : Math.max(1, len >> 1);
  if (shift % len !== 0) forms.push(() => w.op('write_atomic', at(len) + shift, len, bad));
  forms[s.c % forms.length]();
}

/**
 * An exchange_range a correct target refuses with EINVAL (file-ops §14.31): offsets or a length
 * not block aligned (ending inside EOF, where no EOF rule could apply), a range past EOF, or
 * overlapping ranges. An empty file gets a write instead.
 */
function invalidExchange(w: Workload, s: Step, span: Span): void {
  const bs = w.bs;
  const size = w.size;
  const nb = Math.floor(size / bs);
  const bad = { invalid: true };
  const forms: Array<() => void> = [];
  if (nb >= 4 && bs > 1) {
    // A misaligned source offset, or a misaligned length; both ranges inside EOF and apart.
    forms.push(() => w.op('exchange_range', bs + 1 + (s.a % (bs - 1)), bs, { dst: 3 * bs, ...bad }));
    forms.push(() => w.op('exchange_range', 0, bs + 1 + (s.a % (bs - 1)), { dst: 2 * bs, ...bad }));
  }
  if (nb >= 2) {
    const len = bs * (1 + (s.b % Math.floor(nb / 2)));
    // The destination at or past the block holding EOF: it reaches past EOF.
    forms.push(() => w.op('exchange_range', 0, len, { dst: Math.ceil(size / bs) * bs + bs * (s.c % 3), ...bad }));
    // Overlapping: the destination a block after the source.
    if (len > bs && len + bs <= nb * bs) forms.push(() => w.op('exchange_range', 0, len, { dst: bs, ...bad }));
  }
  if (forms.length === 0) return play(w, { ...s, k: 'write' }, span);
  forms[s.c % forms.length]();
}

/**
 * A buffered write inside EOF with something run in its ->iomap_begin/get_folio window (op log
 * v2 race ops, run by the fsx runner inside the next write): a second writer in the same blocks,
 * writeback + completion of everything + reclaim of a later folio of the range, or a punch. With
 * raceShortWrite the outer write is short (model-level; see Workload.race).
 */
function race(w: Workload, s: Step, span: Span): void {
  const size = w.size;
  const bs = w.bs;
  if (size < 2) return play(w, { ...s, k: 'write' }, span);
  const off = offsetIn(s.a, size - 1, s.c, bs);
  const len = 1 + (s.b % Math.min(size - off, span.maxOp, 65536));
  const end = off + len;
  if (s.k === 'raceWrite' || s.k === 'raceShortWrite') {
    const ioff = Math.max(0, Math.min(size - 1, alignDown(off, bs) + (s.c >> 4) % (2 * bs) - (bs >> 1)));
    const ilen = Math.min(1 + ((s.c >> 10) % (2 * bs)), size - ioff, 65536);
    // With raceShortWrite the outer write is short (its user buffer faults part-way): contract
    // §7.3's scenario, logged as a write with faultAt (op log v3).
    if (s.k === 'raceShortWrite' && w.target.faults !== undefined && len > 1) {
      return w.racePair({ name: 'race_write', off: ioff, len: ilen }, off, len, { faultAt: 1 + ((s.c >> 20) % (len - 1)) });
    }
    w.op('race_write', ioff, ilen);
    return w.op('write', off, len);
  }
  if (s.k === 'racePunch') {
    const poff = alignDown(off + ((s.c >> 4) % len), bs);
    const plen = Math.min(bs * (1 + ((s.c >> 10) % 4)), size - poff);
    if (plen <= 0) return play(w, { ...s, k: 'write' }, span);
    w.op('race_punch', poff, plen);
    return w.op('write', off, len);
  }
  // Writeback converts the mapping under the writer, then reclaim evicts a later folio of the range.
  const evictAt = Math.min(end - 1, off + Math.floor((((s.c >> 4) % 1000) / 1000) * len));
  w.op('race_writeback', evictAt, 0);
  w.op('write', off, len);
}

/**
 * Up to three asynchronous O_DIRECT writes of whole blocks inside EOF, in different blocks
 * (write_direct_async: the runner lets reads see old or new bytes until every I/O completed),
 * maybe a buffered read racing them (whose folios the post-write invalidation must drop), then
 * completion in a generated order. Whole blocks, because interleave.directWriteAsync reports no
 * result: a sub-block write over shared blocks is short (0 bytes), which the synchronous path
 * completes with a buffered write and the asynchronous one cannot.
 */
function asyncDio(w: Workload, s: Step, span: Span): void {
  const size = w.size;
  const bs = w.bs;
  const nb = Math.floor(size / bs);
  if (nb < 1 || bs % w.caps.dioAlign !== 0) return play(w, { ...s, k: 'dwrite' }, span);
  const count = 1 + (s.c % 3);
  const used = new Set<number>();
  const done: Array<[number, number]> = [];
  for (let j = 0; j < count; j++) {
    const blk = ((s.a >>> (j * 7)) + j * 31) % nb;
    const n = Math.min(1 + ((s.b >>> (j * 3)) % 2), nb - blk);
    if ([...Array(n).keys()].some((k) => used.has(blk + k))) continue;
    for (let k = 0; k < n; k++) used.add(blk + k);
    w.op('write_direct_async', blk * bs, n * bs);
    done.push([blk * bs, n * bs]);
  }
  const r = done[(s.c >>> 8) % Math.max(1, done.length)];
  if (r !== undefined && ((s.c >>> 4) & 1) === 1) w.op('read', r[0], r[1]);
  w.drain([s.b, s.c, s.a]);
}

/**
 * A buffered write whose user buffer faults part-way (a write with faultAt, op log v3; the runner
 * applies it through FileTarget.faults), so the write is short and ->iomap_end must release the
 * unused delalloc (contract §5.2, rule 24).
 */
function shortWrite(w: Workload, s: Step, span: Span): void {
  if (w.target.faults === undefined) return play(w, { ...s, k: 'write' }, span);
  const bs = w.bs;
  // One in four starts just below EOF and runs past it (the delalloc release scan's EOF cap, §7.5).
  const atEof = ((s.c >>> 12) & 3) === 0 && w.size > 0;
  const off = atEof ? Math.max(0, w.size - 1 - (s.a % (2 * bs))) : offsetIn(s.a, span.maxFile, s.c, bs);
  const len = Math.max(2, atEof ? bs * (1 + (s.b % 4)) + (s.b % bs) : lengthIn(s.b, Math.min(span.maxOp, span.maxFile - off), s.c >> 2, bs));
  w.op('write', off, len, { faultAt: 1 + ((s.c >> 4) % (len - 1)) });
}

/** A store through the mapping without msync: the dirty pages stay in the cache (mapwrite noMsync). */
function mapwriteNoSync(w: Workload, s: Step, span: Span): void {
  const bs = w.bs;
  // One in four touches the EOF folio from inside EOF (page_mkwrite dirties the whole folio, the
  // blocks past EOF included).
  const atEof = ((s.c >>> 12) & 3) === 0 && w.size > 0;
  const off = atEof ? Math.max(0, w.size - 1 - (s.a % bs)) : offsetIn(s.a, span.maxFile, s.c, bs);
  const len = atEof ? 1 + (s.b % (w.size - off)) : lengthIn(s.b, Math.min(span.maxOp, span.maxFile - off), s.c >> 2, bs);
  w.op('mapwrite', off, len, { noMsync: true });
}

/**
 * fsx -e without the msync, on one op: junk stored through the mapping past EOF in the EOF page,
 * left dirty in the cache, right before a size-raising op (truncate up, a write past EOF, or an
 * extending zero_range). The op must not expose it (file-ops §14.22): zero_range and truncate up
 * must not skip it over unwritten extents (§5.4, §7.11), writeback must zero it (§5.6 step 1).
 * Not for properties with mmap reads: Linux lets mmap readers see such junk past EOF until
 * writeback or a truncate down zeroes it.
 */
function pollute(w: Workload, s: Step, span: Span): void {
  const size = w.size;
  const bs = w.bs;
  if (size === 0 || size % PAGE_SIZE === 0 || size >= span.maxFile) return play(w, { ...s, k: 'write' }, span);
  const room = span.maxFile - size - 1;
  if (room < 1) return play(w, { ...s, k: 'write' }, span);
  // A start strictly past EOF (the runner pollutes before ops that begin past EOF or resize).
  const start = size + 1 + (s.a % Math.min(room, 4 * bs));
  const len = Math.max(1, Math.min(1 + (s.b % (2 * bs)), span.maxFile - start));
  const x = { pollute: true, noMsync: true };
  switch (s.c % 3) {
    case 0: return w.op('truncate', 0, start + len, x);
    case 1: return w.op('write', start, len, x);
    default:
      if (!hasNeed(w, 'falloc:0x10')) return w.op('truncate', 0, start + len, x);
      return w.op('zero_range', start, len, x);
  }
}

/** Append a logged read of the whole file (in pieces of at most 1 MiB): the final data check. */
export function verifyAll(w: Workload): void {
  const size = w.size;
  for (let off = 0; off < size; off += 1 << 20) w.op('read', off, Math.min(1 << 20, size - off));
}
