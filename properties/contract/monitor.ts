/**
 * The contract monitor: wraps a filesystem's ops tables and checks every callback the reference
 * generic layer makes (the arguments the core passes and the answers the filesystem gives)
 * against the named rules of rules.ts. A violation stops the operation by throwing a
 * ContractViolation that names the rule, the callback, its arguments, the mapping returned and
 * the file operation that led there.
 */
import {
  FolioOps, Inode, Iomap, IomapIterLike, IomapOps, IomapReadOps, IomapWritebackOps, IomapWriteOps, IOMAP_DAX, IOMAP_DELALLOC, IOMAP_DIRECT, IOMAP_F_CORE_MASK,
  IOMAP_F_DIRTY, IOMAP_F_NEW, IOMAP_REPORT, IOMAP_F_SHARED, IOMAP_F_STALE, IOMAP_FAULT, IOMAP_HOLE, IOMAP_INLINE, IOMAP_MAPPED, IOMAP_NOWAIT,
  IOMAP_NULL_ADDR, IOMAP_OVERWRITE_ONLY, IOMAP_UNSHARE, IOMAP_UNWRITTEN, IOMAP_WRITE, IOMAP_ZERO,
  PAGE_SIZE, WritebackOps, WritepageCtx, flagNames, opFlagNames, roundDown, roundUp, typeName, zeroedIomap,
} from '../../reference/iomap/types';
import { Folio, blockIsDirty } from '../../reference/iomap/folio';
import { Ioend, addToIoendHook } from '../../reference/iomap/ioend';
import { blockRuns } from '../../reference/iomap/fs-ops';
import type { BlockState, FsInstance, MappingSnapshot } from '../../reference/iomap/fs-ops';
import { EAGAIN } from '../../reference/errno';
import { PER_BLOCK_LIMIT, RULES, ruleById } from './rules';
import { describeChanges, MapChangeLog } from './map-changes';
import { installFsMonitor, RuleCounts, ruleSlot } from '../../adapters/fs-monitor';

export class ContractViolation extends Error {
  readonly rule: string;
  readonly callback: string;
  readonly args: Record<string, unknown>;
  readonly mapping: string | null;
  readonly op: string;
  constructor(rule: string, detail: string, callback: string, args: Record<string, unknown>, mapping: Iomap | null, op: string) {
    const r = ruleById(rule);
    const m = mapping ? describeIomap(mapping) : null;
    const fmt = (k: string, v: unknown) => (k === 'flags' && typeof v === 'number' ? opFlagNames(v) : String(v));
    super(`contract violation ${rule} ${r?.name ?? ''}: ${detail}\n  callback: ${callback}(${Object.entries(args).map(([k, v]) => `${k}=${fmt(k, v)}`).join(', ')})` +
      `${m ? `\n  mapping:  ${m}` : ''}\n  during:   ${op || '(no file operation)'}`);
    this.name = 'ContractViolation';
    this.rule = rule;
    this.callback = callback;
    this.args = args;
    this.mapping = m;
    this.op = op;
  }
}

export function describeIomap(m: Iomap): string {
  const addr = m.addr === IOMAP_NULL_ADDR ? 'NULL' : String(m.addr);
  return `{type ${typeName(m.type)}, offset ${m.offset}, length ${m.length}, addr ${addr}, flags ${flagNames(m.flags)}}`;
}

export interface MonitorOptions {
  /** Logical sector size of the device (direct I/O alignment). */
  lbs: number;
  /** The file operation in progress, for reports. */
  currentOp?: () => string;
  /** Where to count rule evaluations (shared across remounts by the adapter); default new counts. */
  evaluated?: RuleCounts;
}

/**
 * A successful ->iomap_begin awaiting its ->iomap_end. Records are reused (ContractMonitor.spare):
 * one is taken at every begin and given back at its end, so a callback pair allocates nothing.
 */
interface PendingBegin {
  inode: Inode;
  pos: number;
  len: number;
  flags: number;
  /** Copy of what ->iomap_begin returned (copyIomapInto). */
  readonly copy: Iomap;
  /** Mapping state right after ->iomap_begin (what ->iomap_valid must compare against). */
  afterBegin: MappingSnapshot | null;
  /** The monitor's map-change sequence number at ->iomap_begin (MapChangeLog). */
  changeSeq: number;
}

/**
 * The arguments a violation report names: an object built by the callback, or null for the
 * running hot callback's (->iomap_begin, ->iomap_end, ->iomap_valid, ->map_blocks), which notes
 * them in fields instead (ContractMonitor.noteCall) so that a passing call allocates nothing.
 */
type Args = Record<string, unknown> | null;

/** Which hot callback noted its arguments last (ContractMonitor.callArgs). */
const enum Call { Begin, End, Valid, MapBlocks }

/** R47: the last answer of an iteration, while its answers are one mergeable block after another. */
interface BlockRun {
  end: number;
  type: number;
  flags: number;
  /** Device address right after the last answer (MAPPED/UNWRITTEN continue there). */
  addrEnd: number;
  /** One-block answers in a row so far, each continuing the previous. */
  n: number;
}

/**
 * Blocks a check walks one by one, at most, in a snapshot that cannot say where its runs end
 * (no MappingSnapshot.nextChange); with run information the state checks walk runs, whatever
 * their length, so their cost follows the extents, not the file size.
 */
export const BLOCKWISE_LIMIT = 4096;

/**
 * Each rule's counter slot in RuleCounts, in the order of RULES (checked below, at load): the
 * checks count through a number known at the call, not a string looked up per evaluation.
 */
enum Slot { R01, R02, R03, R04, R05, R06, R07, R08, R09, R10, R11, R12, R13, R14, R15, R16, R17, R18, R19, R20, R21, R22, R23, R24, R25, R26, R27, R28, R29, R30, R31, R32, R33, R34, R35, R36, R37, R38, R39, R40, R41, R42, R43, R44, R45, R46, R47, C01, C02, C03, C04, C05, C06, C07 }
for (const [i, r] of RULES.entries()) {
  if (Slot[i] !== r.id || ruleSlot(r.id) !== i) throw new Error(`contract monitor: rule ${r.id} is not slot ${i} (Slot must list RULES in order)`);
}

/** The slot of a rule chosen at run time (R17/R18, R24/R26). */
function slotOf(rule: string): Slot {
  return Slot[rule as keyof typeof Slot];
}

/** The mapping type that describes a block in each state truthfully (R41). */
const TYPE_OF_STATE: Readonly<Record<BlockState['state'], number>> = { hole: IOMAP_HOLE, delalloc: IOMAP_DELALLOC, written: IOMAP_MAPPED, unwritten: IOMAP_UNWRITTEN };

/** The end of a walk of [first, last): all of it with run information, else BLOCKWISE_LIMIT blocks. */
function walkEnd(snap: MappingSnapshot, first: number, last: number): number {
  return snap.nextChange !== undefined ? last : Math.min(last, first + BLOCKWISE_LIMIT);
}

/**
 * The end (at most `last`) of the run of `snap` that block lo starts: up to there the state is
 * one and the device blocks follow each other (MappingSnapshot.nextChange; lo + 1 without it).
 * The walks below step with it in plain loops: a callback per walk would be a closure per call.
 */
function runEnd(snap: MappingSnapshot, lo: number, last: number): number {
  return snap.nextChange !== undefined ? Math.min(last, Math.max(lo + 1, snap.nextChange(lo))) : lo + 1;
}

/**
 * The end of the piece from block lo in which neither snapshot's state changes (each continues
 * its block lo): a comparison of state and device block that holds at lo holds over the piece.
 */
function jointRunEnd(a: MappingSnapshot, b: MappingSnapshot, lo: number, last: number): number {
  return Math.min(runEnd(a, lo, last), runEnd(b, lo, last));
}

/** Blocks from b (1..n) that answer `shared` as block b does (MappingSnapshot.sharedRun, else 1). */
function sharedRun(snap: MappingSnapshot, b: number, n: number): number {
  return snap.sharedRun !== undefined ? Math.min(n, Math.max(1, snap.sharedRun(b, n))) : 1;
}

/**
 * The first of the filesystem's fields of the iomap (offset, length, addr, type, bdev,
 * inlineData, private, validityCookie) that differs between a and b (Object.is), else undefined.
 * Field by field by name, not a loop over a key list: this runs at every ->iomap_end and
 * ->iomap_valid, and keyed property loads there cost more than the checks.
 */
/** Field by field (no spread: the monitor copies the mapping at every ->iomap_begin). */
function copyIomapInto(dst: Iomap, src: Iomap): void {
  dst.offset = src.offset;
  dst.length = src.length;
  dst.addr = src.addr;
  dst.type = src.type;
  dst.flags = src.flags;
  dst.bdev = src.bdev;
  dst.inlineData = src.inlineData;
  dst.private = src.private;
  dst.folioOps = src.folioOps;
  dst.validityCookie = src.validityCookie;
}

/** What a spare PendingBegin's copy is reset to (so it holds no inline data or private pointer). */
const NO_IOMAP: Readonly<Iomap> = zeroedIomap();

/** Spare PendingBegin records kept (begins nest a few deep at most). */
const SPARE_PENDING = 8;

function changedFsField(a: Iomap, b: Iomap): keyof Iomap | undefined {
  if (!Object.is(a.offset, b.offset)) return 'offset';
  if (!Object.is(a.length, b.length)) return 'length';
  if (!Object.is(a.addr, b.addr)) return 'addr';
  if (!Object.is(a.type, b.type)) return 'type';
  if (a.bdev !== b.bdev) return 'bdev';
  if (a.inlineData !== b.inlineData) return 'inlineData';
  if (!Object.is(a.private, b.private)) return 'private';
  if (!Object.is(a.validityCookie, b.validityCookie)) return 'validityCookie';
  return undefined;
}

export class ContractMonitor {
  readonly fs: FsInstance;
  readonly wrapped: FsInstance;
  private readonly opts: MonitorOptions;
  private readonly pending = new Map<Iomap, PendingBegin>();
  /** PendingBegin records whose ->iomap_end came, for the next begins. */
  private readonly spare: PendingBegin[] = [];
  private readonly wrappedFolioOps = new Map<FolioOps, FolioOps>();
  private readonly folioRefs = new Map<Folio, number>();
  /** Number of times each rule was evaluated: its precondition arose (state coverage counts these). */
  readonly evaluated: RuleCounts;
  private readonly ioends = new Set<Ioend>();
  /** R47 per iteration, keyed by the iterator's iomap (one object per iomap_iter loop). */
  private readonly blockRuns = new WeakMap<Iomap, BlockRun>();
  /** What changed each file's extent map, as the monitor saw it (not the filesystem's cookie). */
  readonly mapChanges = new MapChangeLog();
  /** The API generation the filesystem's ops tables are written for. */
  readonly api: 'current' | '6.12';
  /* The arguments of the hot callback whose checks run now (noteCall). */
  private call = Call.Begin;
  private callIno = 0;
  private callPos = 0;
  private callLen = 0;
  private callWritten = 0;
  private callFlags = 0;

  constructor(fs: FsInstance, opts: MonitorOptions) {
    this.fs = fs;
    this.opts = opts;
    this.evaluated = opts.evaluated ?? new RuleCounts();
    this.api = fs.api ?? '6.12';
    const iomapOps = this.wrapIomapOps(fs.iomapOps);
    const dioEndIo = fs.dioEndIo ? this.wrapDioEndIo(fs) : undefined;
    const overrides: Record<string | symbol, unknown> = { iomapOps, ...this.spaceOpRecorders(fs) };
    if (fs.writebackOps) overrides.writebackOps = this.wrapWritebackOps(fs.writebackOps);
    if (fs.wbOps) overrides.wbOps = this.wrapWbOps(fs.wbOps);
    if (fs.writeOps) overrides.writeOps = this.wrapWriteOps(fs.writeOps);
    if (fs.readOps) overrides.readOps = this.wrapReadOps(fs.readOps);
    if (dioEndIo) overrides.dioEndIo = dioEndIo;
    // The atomic-write fallback table is checked like the main one.
    if (fs.atomicCowOps !== undefined) overrides.atomicCowOps = this.wrapIomapOps(fs.atomicCowOps);
    if (fs.exchangeBlocks !== undefined) {
      overrides.exchangeBlocks = (inode: Inode, lblk1: number, lblk2: number, n: number): void => {
        fs.exchangeBlocks!(inode, lblk1, lblk2, n);
        this.mapChanges.record(inode.ino, 'exchange', lblk1, lblk1 + n);
        this.mapChanges.record(inode.ino, 'exchange', lblk2, lblk2 + n);
      };
    }
    // Methods are bound once per function (not at every access: the core reads them per call).
    const bound = new WeakMap<object, unknown>();
    this.wrapped = new Proxy(fs, {
      get(target, prop) {
        if (prop in overrides) return overrides[prop];
        const v = Reflect.get(target, prop, target);
        if (typeof v !== 'function') return v;
        let b = bound.get(v);
        if (b === undefined) {
          b = v.bind(target);
          bound.set(v, b);
        }
        return b;
      },
      set(target, prop, value) {
        return Reflect.set(target, prop, value, target);
      },
    });
  }

  /**
   * The space operations the generic layer asks a filesystem for, each recorded as a map change
   * of the blocks it names (collapse, insert and truncation move or free everything after them).
   */
  private spaceOpRecorders(fs: FsInstance): Record<string, unknown> {
    const log = this.mapChanges;
    const to = Infinity;
    return {
      punchBlocks: (inode: Inode, lblk: number, n: number) => { fs.punchBlocks(inode, lblk, n); log.record(inode.ino, 'punch', lblk, lblk + n); },
      collapseBlocks: (inode: Inode, lblk: number, n: number) => { fs.collapseBlocks(inode, lblk, n); log.record(inode.ino, 'collapse', lblk, to); },
      insertBlocks: (inode: Inode, lblk: number, n: number) => { fs.insertBlocks(inode, lblk, n); log.record(inode.ino, 'insert', lblk, to); },
      allocRange: (inode: Inode, lblk: number, n: number) => { const r = fs.allocRange(inode, lblk, n); log.record(inode.ino, 'allocation', lblk, lblk + n); return r; },
      unshareUnwritten: (inode: Inode, lblk: number, n: number) => { const r = fs.unshareUnwritten(inode, lblk, n); log.record(inode.ino, 'unshare', lblk, lblk + n); return r; },
      remapBlocks: (src: Inode, srcLblk: number, dst: Inode, dstLblk: number, n: number) => {
        fs.remapBlocks(src, srcLblk, dst, dstLblk, n);
        log.record(dst.ino, 'remap', dstLblk, dstLblk + n);
      },
      truncateBlocks: (inode: Inode, newsize: number) => {
        fs.truncateBlocks(inode, newsize);
        log.record(inode.ino, 'truncation', Math.ceil(newsize / inode.blockSize), to);
      },
    };
  }

  private get op(): string {
    return this.opts.currentOp?.() ?? '';
  }

  /**
   * Count one evaluation of the rule in `slot`. Every check is written `if (this.tally(Slot.R),
   * !(ok)) this.violation('R', detail, ...)`: the detail text and any extra argument object are
   * built only when the rule is broken (no closure or object per passing check on the hot path).
   */
  private tally(slot: Slot): void {
    this.evaluated.bump(slot, 1);
  }

  /** Count `n` evaluations of the rule in `slot` at once (a run of n blocks checked as one). */
  private tallyN(slot: Slot, n: number): void {
    this.evaluated.bump(slot, n);
  }

  private violation(rule: string, detail: string, callback: string, args: Args, m: Iomap | null): never {
    // A rule judged against a cached snapshot may be the cache's fault: let it say so first.
    this.fs.introspect?.confirm?.();
    throw new ContractViolation(rule, detail, callback, args ?? this.callArgs(), m, this.op);
  }

  /**
   * Note the arguments of the hot callback whose checks run next (checks pass `null` for them;
   * ->iomap_valid's cookie goes in `flags`). Noted after the filesystem's own call returns: a
   * callback nested in it notes its own.
   */
  private noteCall(call: Call, ino: number, pos: number, len: number, written: number, flags: number): void {
    this.call = call;
    this.callIno = ino;
    this.callPos = pos;
    this.callLen = len;
    this.callWritten = written;
    this.callFlags = flags;
  }

  /** The noted callback's arguments as its report shows them (the object it used to build per call). */
  private callArgs(): Record<string, unknown> {
    const ino = this.callIno;
    switch (this.call) {
      case Call.Begin: return { ino, pos: this.callPos, length: this.callLen, flags: this.callFlags };
      case Call.End: return { ino, pos: this.callPos, length: this.callLen, written: this.callWritten, flags: this.callFlags };
      case Call.Valid: return { ino, cookie: this.callFlags };
      case Call.MapBlocks: return { ino, offset: this.callPos, len: this.callLen };
    }
  }

  private snap(inode: Inode): MappingSnapshot | null {
    return this.fs.introspect ? this.fs.introspect.snapshot(inode) : null;
  }

  /* ------------------------------------------------------------------------------------- */
  /* ->iomap_begin / ->iomap_end                                                           */
  /* ------------------------------------------------------------------------------------- */

  private wrapIomapOps(raw: IomapOps): IomapOps {
    const ops: IomapOps = {
      begin: (inode, pos, length, flags, iomap, srcmap) => this.begin(raw, inode, pos, length, flags, iomap, srcmap),
    };
    if (raw.end) ops.end = (inode, pos, length, written, flags, iomap) => this.end(raw, inode, pos, length, written, flags, iomap);
    return ops;
  }

  private begin(raw: IomapOps, inode: Inode, pos: number, len: number, flags: number, m: Iomap, src: Iomap): number {
    const cb = '->iomap_begin';
    const before = this.snap(inode);
    const ret = raw.begin(inode, pos, len, flags, m, src);
    const after = before ? this.snap(inode) : null;
    this.noteCall(Call.Begin, inode.ino, pos, len, 0, flags);
    const args = null;
    const readOnly = !(flags & (IOMAP_WRITE)) && !(flags & IOMAP_ZERO);
    if (ret < 0) {
      if (before && after) {
        if (this.tally(Slot.R21), !(before.version('all') === after.version('all'))) this.violation('R21', `begin failed with ${ret} but changed the mapping state (${before.fingerprint('all')} -> ${after.fingerprint('all')})`, cb, { ...this.callArgs(), ret }, null);
      }
      // An -EAGAIN-style refusal satisfies R17 (OVERWRITE_ONLY) or, for NOWAIT alone, R18: count
      // it under the rule it answers (NOWAIT-only refusals used to be counted as R17).
      const rule = flags & IOMAP_OVERWRITE_ONLY ? 'R17' : flags & IOMAP_NOWAIT ? 'R18' : null;
      if (rule) this.tally(slotOf(rule));
      return ret;
    }
    if (this.api === 'current') {
      if (this.tally(Slot.C06), !(m.folioOps === null)) this.violation('C06', 'a current-generation ->iomap_begin set iomap.folio_ops: the core ignores it (pass the hooks as iomap_write_ops)', cb, args, m);
    } else if (m.folioOps) m.folioOps = this.wrapFolioOps(m.folioOps);
    this.checkShape(inode, pos, len, flags, m, cb, args);
    if (src.type !== IOMAP_HOLE) this.checkSrcmap(inode, pos, flags, m, src, cb, args);
    this.checkPerRequest(inode, pos, len, flags, m, cb, args);
    if (before && after) this.checkAgainstState(inode, pos, len, flags, m, before, after, readOnly, cb, args);
    this.checkPerBlock(inode, pos, len, m, src, cb, args);
    this.pending.set(m, this.pendingRecord(inode, pos, len, flags, m, after));
    return ret;
  }

  /** A PendingBegin for this begin: a spare one refilled, else a new one. */
  private pendingRecord(inode: Inode, pos: number, len: number, flags: number, m: Iomap, after: MappingSnapshot | null): PendingBegin {
    const p = this.spare.pop() ?? { inode, pos, len, flags, copy: zeroedIomap(), afterBegin: after, changeSeq: 0 };
    p.inode = inode;
    p.pos = pos;
    p.len = len;
    p.flags = flags;
    copyIomapInto(p.copy, m);
    p.afterBegin = after;
    p.changeSeq = this.mapChanges.now;
    return p;
  }

  /** Give a PendingBegin back once its end is checked (nothing else holds it). */
  private releasePending(p: PendingBegin): void {
    p.afterBegin = null;
    copyIomapInto(p.copy, NO_IOMAP);
    if (this.spare.length < SPARE_PENDING) this.spare.push(p);
  }

  private checkShape(inode: Inode, pos: number, len: number, flags: number, m: Iomap, cb: string, args: Args): void {
    const end = m.offset + m.length;
    const bs = inode.blockSize;
    if (this.tally(Slot.R02), !(m.length > 0)) this.violation('R02', `mapping length ${m.length}`, cb, args, m);
    if (len > 0) if (this.tally(Slot.R01), !(m.offset <= pos && pos < end)) this.violation('R01', `mapping [${m.offset}, ${end}) does not contain pos ${pos}`, cb, args, m);
    if (this.tally(Slot.R03), !((m.flags & IOMAP_F_CORE_MASK) === 0)) this.violation('R03', `core-owned flags set: ${flagNames(m.flags & IOMAP_F_CORE_MASK)}`, cb, args, m);
    if (this.tally(Slot.R04), !(Number.isInteger(m.type) && m.type >= 0 && m.type <= 4)) this.violation('R04', `type ${m.type}`, cb, args, m);
    const nullAddr = m.type === IOMAP_HOLE || m.type === IOMAP_DELALLOC || m.type === IOMAP_INLINE;
    if (this.tally(Slot.R05), !(nullAddr ? m.addr === IOMAP_NULL_ADDR : (m.addr !== IOMAP_NULL_ADDR && m.addr >= 0 && m.bdev !== null))) this.violation('R05', nullAddr ? `${typeName(m.type)} with addr ${m.addr}` : `${typeName(m.type)} with addr ${m.addr} bdev ${m.bdev ? 'set' : 'null'}`, cb, args, m);
    if (m.type === IOMAP_MAPPED || m.type === IOMAP_UNWRITTEN) {
      if (this.tally(Slot.R06), !((m.addr - m.offset) % 512 === 0)) this.violation('R06', `addr - offset = ${m.addr - m.offset} is not sector aligned`, cb, args, m);
      if ((flags & IOMAP_DIRECT) && pos % this.opts.lbs === 0) {
        const a = m.addr + (pos - m.offset);
        if (this.tally(Slot.R06), !(a % this.opts.lbs === 0)) this.violation('R06', `device address ${a} of pos ${pos} is not ${this.opts.lbs}-byte aligned`, cb, args, m);
      }
    }
    if (m.type !== IOMAP_INLINE && !(flags & IOMAP_DIRECT)) {
      if (this.tally(Slot.R07), !(m.offset % bs === 0 && end % bs === 0)) this.violation('R07', `mapping [${m.offset}, ${end}) not aligned to the ${bs}-byte block`, cb, args, m);
    }
    if ((flags & IOMAP_DIRECT) && pos % this.opts.lbs === 0 && len % this.opts.lbs === 0 && m.type !== IOMAP_INLINE) {
      const segEnd = Math.min(end, pos + len);
      if (this.tally(Slot.R08), !(segEnd % this.opts.lbs === 0)) this.violation('R08', `direct I/O segment ends at ${segEnd}, not ${this.opts.lbs}-byte aligned`, cb, args, m);
    }
    if (m.type === IOMAP_INLINE) {
      const ok = m.inlineData !== null && m.length <= PAGE_SIZE && inode.size - m.offset <= m.length &&
        (!(flags & IOMAP_WRITE) || m.offset === 0);
      if (this.tally(Slot.R09), !(ok)) this.violation('R09', `inline data ${m.inlineData ? m.inlineData.length : 'null'}, length ${m.length}, i_size ${inode.size}, offset ${m.offset}`, cb, args, m);
    }
  }

  /**
   * R47: an ops table that answers a long request one block at a time, each answer continuing
   * the last (same type and flags, the next offset, the next device address), makes the generic
   * layer iterate per block where one mapping would do: zeroing a 2^40-byte gap past EOF takes
   * 2^28 calls. PER_BLOCK_LIMIT such answers in a row within one iteration are a violation.
   */
  private checkPerBlock(inode: Inode, pos: number, len: number, m: Iomap, src: Iomap, cb: string, args: Args): void {
    let run = this.blockRuns.get(m);
    const goesOn = pos + len > m.offset + m.length && src.type === IOMAP_HOLE;
    if (!goesOn || m.length !== inode.blockSize) {
      if (run !== undefined) run.n = 0;
      // The precondition (an answer shorter than the request) arose and passed.
      if (goesOn) this.tally(Slot.R47);
      return;
    }
    const addressed = m.type === IOMAP_MAPPED || m.type === IOMAP_UNWRITTEN;
    const continues = run !== undefined && run.n > 0 && run.end === m.offset && run.type === m.type && run.flags === m.flags &&
      (!addressed || run.addrEnd === m.addr);
    if (run === undefined) {
      run = { end: 0, type: 0, flags: 0, addrEnd: 0, n: 0 };
      this.blockRuns.set(m, run);
    }
    run.n = continues ? run.n + 1 : 1;
    run.end = m.offset + m.length;
    run.type = m.type;
    run.flags = m.flags;
    run.addrEnd = m.addr + m.length;
    if (this.tally(Slot.R47), !(run.n < PER_BLOCK_LIMIT)) this.violation('R47', `${run.n} one-block ${typeName(m.type)} answers in a row, each continuing the last, for a request that goes on to ${pos + len}: one mapping would do`, cb, args, m);
  }

  private checkSrcmap(inode: Inode, pos: number, flags: number, m: Iomap, s: Iomap, cb: string, args: Args): void {
    const bs = inode.blockSize;
    const end = s.offset + s.length;
    const typeOk = s.type === IOMAP_MAPPED || s.type === IOMAP_UNWRITTEN || s.type === IOMAP_DELALLOC || s.type === IOMAP_INLINE;
    const nullAddr = s.type !== IOMAP_MAPPED && s.type !== IOMAP_UNWRITTEN;
    const ok = typeOk && s.length > 0 && s.offset <= pos && pos < end &&
      (s.type === IOMAP_INLINE || (s.offset % bs === 0 && end % bs === 0)) &&
      (nullAddr ? s.addr === IOMAP_NULL_ADDR : s.addr !== IOMAP_NULL_ADDR && s.bdev !== null);
    if (this.tally(Slot.R10), !(ok)) this.violation('R10', `srcmap ${describeIomap(s)} for pos ${pos}`, cb, args, m);
    void flags;
  }

  private checkPerRequest(inode: Inode, pos: number, len: number, flags: number, m: Iomap, cb: string, args: Args): void {
    if (flags & IOMAP_WRITE) {
      if (this.tally(Slot.R11), !(m.type !== IOMAP_HOLE || (flags & IOMAP_UNSHARE) !== 0)) this.violation('R11', 'HOLE returned for a write', cb, args, m);
    }
    if ((flags & (IOMAP_WRITE | IOMAP_DIRECT)) === (IOMAP_WRITE | IOMAP_DIRECT)) {
      if (this.tally(Slot.R12), !(m.type === IOMAP_MAPPED || m.type === IOMAP_UNWRITTEN || m.type === IOMAP_INLINE)) this.violation('R12', `${typeName(m.type)} returned for a direct write`, cb, args, m);
    }
    if ((flags & (IOMAP_WRITE | IOMAP_DAX)) === (IOMAP_WRITE | IOMAP_DAX)) {
      if (this.tally(Slot.R13), !(m.type === IOMAP_MAPPED || (m.flags & IOMAP_F_SHARED) !== 0)) this.violation('R13', `${typeName(m.type)} returned for a DAX write`, cb, args, m);
    }
    if ((flags & IOMAP_ZERO) && m.offset >= inode.size) {
      if (this.tally(Slot.R15), !(m.type === IOMAP_HOLE || m.type === IOMAP_UNWRITTEN)) this.violation('R15', `${typeName(m.type)} beyond EOF ${inode.size} for zeroing`, cb, args, m);
    }
    if (flags & IOMAP_OVERWRITE_ONLY) {
      const bs = inode.blockSize;
      const covers = m.offset <= pos && m.offset + m.length >= pos + len;
      const typeOk = m.type === IOMAP_MAPPED || (m.type === IOMAP_UNWRITTEN && pos % bs === 0 && len % bs === 0);
      if (this.tally(Slot.R17), !(covers && typeOk && !(m.flags & (IOMAP_F_NEW | IOMAP_F_SHARED)))) this.violation('R17', 'OVERWRITE_ONLY answered with something other than one plain overwrite mapping (should be -EAGAIN)', cb, args, m);
    }
    if ((flags & IOMAP_NOWAIT) && (flags & IOMAP_DIRECT)) {
      if (this.tally(Slot.R18), !(m.offset <= pos && m.offset + m.length >= pos + len)) this.violation('R18', 'NOWAIT direct I/O mapping does not cover the whole request', cb, args, m);
    }
    // R40 had no check. The monitor cannot tell swapon's REPORT lookups from FIEMAP's or seek's
    // (and the core itself rejects wrong types, SHARED and foreign devices with -EINVAL), but
    // F_DIRTY on a REPORT mapping once the metadata is committed is a lie that makes swapon,
    // which fsyncs first, refuse the file.
    const metadataDirty = this.fs.introspect?.metadataDirty;
    if ((flags & IOMAP_REPORT) && metadataDirty) {
      if (this.tally(Slot.R40), !(!(m.flags & IOMAP_F_DIRTY) || metadataDirty(inode))) this.violation('R40', 'REPORT mapping carries IOMAP_F_DIRTY although the inode metadata is committed (swapon refuses the file)', cb, args, m);
    }
  }

  /** Rules that compare the answer with the filesystem's own state before and after begin. */
  private checkAgainstState(inode: Inode, pos: number, len: number, flags: number, m: Iomap, before: MappingSnapshot,
    after: MappingSnapshot, readOnly: boolean, cb: string, args: Args): void {
    const bs = inode.blockSize;
    if (readOnly || (flags & IOMAP_ZERO)) {
      if (this.tally(Slot.R14), !(before.version('data') === after.version('data'))) this.violation('R14', `a read-only lookup changed the mapping: ${before.fingerprint('data')} -> ${after.fingerprint('data')}`, cb, args, m);
    }
    if (flags & (IOMAP_OVERWRITE_ONLY | IOMAP_NOWAIT)) {
      const rule = flags & IOMAP_OVERWRITE_ONLY ? 'R17' : 'R18';
      if (this.tally(slotOf(rule)), !(before.version('all') === after.version('all'))) this.violation(rule, `allocation under ${opFlagNames(flags & (IOMAP_OVERWRITE_ONLY | IOMAP_NOWAIT))}`, cb, args, m);
    }
    // R39 had no check: a direct write whose ->iomap_begin just changed the mapping state
    // (allocation, COW staging) has metadata that cannot be durable yet, so it must say F_DIRTY
    // (else an O_DSYNC write may go out FUA and skip the log force).
    if ((flags & (IOMAP_WRITE | IOMAP_DIRECT)) === (IOMAP_WRITE | IOMAP_DIRECT)) {
      if (this.tally(Slot.R39), !((m.flags & IOMAP_F_DIRTY) !== 0 || before.version('all') === after.version('all'))) this.violation('R39', `direct write mapping allocated by this ->iomap_begin (${before.fingerprint('all')} -> ${after.fingerprint('all')}) lacks IOMAP_F_DIRTY`, cb, args, m);
    }
    if ((m.flags & IOMAP_F_NEW) && m.type !== IOMAP_INLINE) {
      // Extent by extent: the first block of the first run that was not a hole is the culprit.
      if (!(m.flags & IOMAP_F_SHARED)) {
        const last = Math.ceil((m.offset + m.length) / bs);
        for (let lo = Math.floor(m.offset / bs); lo < last; lo = runEnd(before, lo, last)) {
          const st = before.block(lo);
          if (st.state !== 'hole') {
            if (this.tally(Slot.R16), !(false)) this.violation('R16', `F_NEW mapping covers block ${lo}, which was ${st.state} before this begin`, cb, args, m);
          }
        }
      }
      this.tally(Slot.R16);
    }
    if (readOnly && !(flags & IOMAP_DAX) && m.type !== IOMAP_INLINE) this.checkTruthful(inode, pos, len, m, after, cb, args);
  }

  /**
   * R41–R43: a read or REPORT mapping describes the filesystem's own state truthfully. Run by
   * run (MappingSnapshot.nextChange): within a run the state is one and the device blocks
   * follow each other as the mapping's addresses do, so a run agrees with the mapping wherever
   * it agrees at its first block; only SHARED may change inside a run (sharedRun). The first
   * block that disagrees is the one a block-by-block walk would name.
   */
  private checkTruthful(inode: Inode, pos: number, len: number, m: Iomap, st: MappingSnapshot, cb: string, args: Args): void {
    const bs = inode.blockSize;
    const start = Math.floor(Math.max(m.offset, roundDown(pos, bs)) / bs);
    const endByte = Math.min(m.offset + m.length, pos + Math.max(len, 1));
    const addressed = m.type === IOMAP_MAPPED || m.type === IOMAP_UNWRITTEN;
    const flagShared = (m.flags & IOMAP_F_SHARED) !== 0;
    const last = walkEnd(st, start, Math.ceil(endByte / bs));
    for (let lo = start, hi = 0; lo < last; lo = hi) {
      hi = runEnd(st, lo, last);
      const s = st.block(lo);
      this.checkTruthfulAt(lo, s, m, bs, cb, args);
      // Blocks with a device address may differ in SHARED inside the run: walk its shared runs.
      if (addressed && s.pblk !== undefined) {
        for (let b = lo + sharedRun(st, lo, hi - lo); b < hi; b += sharedRun(st, b, hi - b)) {
          const t = st.block(b);
          if (!!t.shared !== flagShared) this.checkTruthfulAt(b, t, m, bs, cb, args);
        }
      }
      this.tallyN(Slot.R41, hi - lo);
    }
    this.tally(Slot.R42);
    this.tally(Slot.R43);
  }

  /** R41–R43 at block b of state s (throws on the first rule b breaks). */
  private checkTruthfulAt(b: number, s: BlockState, m: Iomap, bs: number, cb: string, args: Args): void {
    const want = TYPE_OF_STATE[s.state];
    if (m.type === IOMAP_MAPPED && s.state === 'delalloc') {
      if (this.tally(Slot.R42), !(false)) this.violation('R42', `block ${b} is delalloc but reported MAPPED`, cb, args, m);
    }
    if (m.type === IOMAP_UNWRITTEN && s.state === 'written') {
      if (this.tally(Slot.R43), !(false)) this.violation('R43', `block ${b} is written but reported UNWRITTEN`, cb, args, m);
    }
    const addrOk = m.type !== IOMAP_MAPPED && m.type !== IOMAP_UNWRITTEN ? true :
      s.pblk !== undefined && m.addr + (b * bs - m.offset) === s.pblk * bs;
    const sharedOk = m.type !== IOMAP_MAPPED && m.type !== IOMAP_UNWRITTEN ? true : !!s.shared === ((m.flags & IOMAP_F_SHARED) !== 0);
    if (!(want === m.type && addrOk && sharedOk)) {
      this.tally(Slot.R41);
      this.violation('R41', `block ${b} is ${s.state}${s.pblk !== undefined ? ` @${s.pblk}` : ''}${s.shared ? ' shared' : ''} but the mapping says ${typeName(m.type)}`, cb, args, m);
    }
  }

  private end(raw: IomapOps, inode: Inode, pos: number, length: number, written: number, flags: number, m: Iomap): number {
    const cb = '->iomap_end';
    this.noteCall(Call.End, inode.ino, pos, length, written, flags);
    const args = null;
    const p = this.pending.get(m);
    if (this.tally(Slot.R21), !(p !== undefined && p.flags === flags && p.inode === inode)) this.violation('R21', p ? `flags ${opFlagNames(flags)} differ from begin's ${opFlagNames(p.flags)}` : 'end without a matching begin', cb, args, m);
    this.pending.delete(m);
    const changedField = p ? changedFsField(p.copy, m) : undefined;
    if (this.tally(Slot.R31), !(changedField === undefined)) this.violation('R31', `iomap.${String(changedField)} changed between begin and end`, cb, args, m);
    if (this.tally(Slot.R31), !((m.flags & ~IOMAP_F_CORE_MASK) === (p!.copy.flags & ~IOMAP_F_CORE_MASK))) this.violation('R31', 'filesystem-set flags changed between begin and end', cb, args, m);
    this.releasePending(p!);
    const mEnd = m.offset + m.length;
    if (this.tally(Slot.R22), !(m.offset <= pos && pos + length <= mEnd && written >= 0 && written <= length)) this.violation('R22', `pos ${pos} length ${length} written ${written} against mapping [${m.offset}, ${mEnd})`, cb, args, m);
    const release = m.type === IOMAP_DELALLOC && (m.flags & IOMAP_F_NEW) && written < length && (flags & (IOMAP_WRITE | IOMAP_ZERO)) && !(flags & IOMAP_FAULT);
    // R25 had no check ("the reservation invariant after each operation" is not the monitor's and
    // throws no ContractViolation): compare the data fork across the releasing ->iomap_end.
    const beforeEnd = release ? this.snap(inode) : null;
    const ret = raw.end!(inode, pos, length, written, flags, m);
    this.noteCall(Call.End, inode.ino, pos, length, written, flags);
    if (this.tally(Slot.R23), !(!(ret < 0 && written > 0))) this.violation('R23', `->iomap_end returned ${ret} after ${written} bytes of progress`, cb, { ...this.callArgs(), ret }, m);
    if (release) {
      if (beforeEnd) this.checkPunchOnlyDelalloc(inode, m, beforeEnd, cb, args);
      this.checkDelallocReleased(inode, pos, length, written, m, cb, args);
    }
    return ret;
  }

  /** R25: the delalloc release punched only delalloc: no other data-fork block of the mapping changed. */
  private checkPunchOnlyDelalloc(inode: Inode, m: Iomap, before: MappingSnapshot, cb: string, args: Args): void {
    const after = this.snap(inode)!;
    const bs = inode.blockSize;
    const first = Math.floor(m.offset / bs);
    let bad = -1;
    // Run by run of both states: state and device block agree over a run where they agree at its
    // start. The same snapshot object twice is the same frozen state: nothing to walk.
    const last = before === after ? first : walkEnd(before, first, Math.ceil((m.offset + m.length) / bs));
    for (let lo = first; lo < last && bad < 0; lo = jointRunEnd(before, after, lo, last)) {
      const was = before.block(lo);
      if (was.state === 'delalloc') continue;
      const now = after.block(lo);
      if (now.state !== was.state || now.pblk !== was.pblk) bad = lo;
    }
    if (this.tally(Slot.R25), !(bad < 0)) this.violation('R25', `the delalloc release changed block ${bad}: ${before.block(bad).state} -> ${after.block(bad).state}`, cb, args, m);
  }

  /**
   * R24: after a short write into new delalloc, clean blocks of the unused part hold no
   * reservation. For a STALE mapping the same obligation is R26 (it had no check of its own).
   */
  private checkDelallocReleased(inode: Inode, pos: number, length: number, written: number, m: Iomap, cb: string, args: Args): void {
    const st = this.snap(inode);
    if (!st) return;
    const rule = m.flags & IOMAP_F_STALE ? 'R26' : 'R24';
    const what = rule === 'R26' ? 'a STALE mapping' : 'a short write';
    const bs = inode.blockSize;
    const start = written ? roundUp(pos + written, bs) : roundDown(pos, bs);
    const end = roundUp(pos + length, bs);
    // A COW mapping's reservation lives in the COW fork: nothing of the data fork to judge.
    if (!(m.flags & IOMAP_F_SHARED)) {
      const eofBlock = Math.ceil(inode.size / bs);
      // Only the delalloc runs can break the rule; the first offending block in ascending order
      // is the first clean one below EOF or the first one at/after EOF.
      blockRuns(st, start / bs, end / bs, (lo, hi, s) => {
        if (s.state !== 'delalloc') return false;
        const clean = this.firstCleanBlock(inode, lo, Math.min(hi, eofBlock));
        if (clean >= 0) if (this.tally(slotOf(rule)), !(false)) this.violation(rule, `clean block ${clean} still holds a delalloc reservation after ${what}`, cb, args, m);
        if (hi > eofBlock) if (this.tally(slotOf(rule)), !(false)) this.violation(rule, `delalloc block ${Math.max(lo, eofBlock)} at/after EOF left after ${what}`, cb, args, m);
        return false;
      });
    }
    this.tally(slotOf(rule));
  }

  /** The first block of [lo, hi) not dirty in the page cache, or -1: folio by folio, a missing folio at once. */
  private firstCleanBlock(inode: Inode, lo: number, hi: number): number {
    const bs = inode.blockSize;
    for (let b = lo; b < hi;) {
      const folio = inode.mapping.folioAt(b * bs);
      if (!folio || !folio.dirty) return b;
      const last = Math.min(hi, Math.max(b + 1, Math.ceil((folio.pos + folio.size) / bs)));
      for (; b < last; b++) if (!blockIsDirty(folio, (b * bs - folio.pos) / bs)) return b;
    }
    return -1;
  }

  /* ------------------------------------------------------------------------------------- */
  /* folio hooks                                                                           */
  /* ------------------------------------------------------------------------------------- */

  private wrapFolioOps(raw: FolioOps | IomapWriteOps): FolioOps {
    const have = this.wrappedFolioOps.get(raw);
    if (have) return have;
    const w: FolioOps = {};
    if (raw.getFolio) w.getFolio = (it, pos, len) => this.getFolio(raw, it, pos, len);
    if (raw.putFolio) w.putFolio = (inode, pos, copied, folio) => this.putFolio(raw, inode, pos, copied, folio);
    if (raw.iomapValid) w.iomapValid = (inode, iomap) => this.iomapValid(raw, inode, iomap);
    this.wrappedFolioOps.set(raw, w);
    this.wrappedFolioOps.set(w, w);
    return w;
  }

  private getFolio(raw: FolioOps, it: IomapIterLike, pos: number, len: number): Folio | number {
    const f = raw.getFolio!(it, pos, len);
    const args = { ino: it.inode.ino, pos, len };
    if (typeof f === 'number') {
      if (this.tally(Slot.R28), !(f < 0)) this.violation('R28', `->get_folio returned ${f}`, '->get_folio', args, it.iomap);
      return f;
    }
    if (this.tally(Slot.R28), !(f.mapping === it.inode.mapping && f.contains(pos) && f.locked)) this.violation('R28', `folio ${f.pos}+${f.size} ${f.locked ? 'locked' : 'unlocked'} ${f.mapping === it.inode.mapping ? '' : 'of another mapping '}for pos ${pos}`, '->get_folio', args, it.iomap);
    // Balance is only countable when the filesystem also has ->put_folio: without it the core's
    // default put (unlock, drop) runs unseen and every get would count as never put (R29).
    if (raw.putFolio) this.folioRefs.set(f, (this.folioRefs.get(f) ?? 0) + 1);
    return f;
  }

  private putFolio(raw: FolioOps, inode: Inode, pos: number, copied: number, folio: Folio): void {
    const n = this.folioRefs.get(folio) ?? 0;
    // Gets are only counted through ->get_folio: a filesystem with ->put_folio but no ->get_folio
    // gets its folios from the core's default lookup, which is not a "put without a get".
    if (raw.getFolio) if (this.tally(Slot.R29), !(n > 0)) this.violation('R29', `folio ${folio.pos} put without a get`, '->put_folio', { ino: inode.ino, pos, copied }, null);
    raw.putFolio!(inode, pos, copied, folio);
    if (n <= 1) this.folioRefs.delete(folio);
    else this.folioRefs.set(folio, n - 1);
    if (this.tally(Slot.R29), !(!folio.locked)) this.violation('R29', `folio ${folio.pos} still locked after ->put_folio`, '->put_folio', { ino: inode.ino, pos, copied }, null);
  }

  private iomapValid(raw: FolioOps, inode: Inode, iomap: Iomap): boolean {
    const valid = raw.iomapValid!(inode, iomap);
    const p = this.pending.get(iomap);
    this.noteCall(Call.Valid, inode.ino, 0, 0, 0, iomap.validityCookie);
    const args = null;
    if (p) {
      const changedField = changedFsField(p.copy, iomap);
      if (this.tally(Slot.R31), !(changedField === undefined)) this.violation('R31', `iomap.${String(changedField)} changed before ->iomap_valid`, '->iomap_valid', args, iomap);
    }
    if (p?.afterBegin && this.fs.introspect) {
      const now = this.fs.introspect.snapshot(inode);
      const changed = now.version('all') !== p.afterBegin.version('all');
      if (this.tally(Slot.R30), !(!(changed && valid))) this.violation('R30', `mapping state changed since begin (${p.afterBegin!.fingerprint('all')} -> ${now.fingerprint('all')}) but ->iomap_valid said true`, '->iomap_valid', args, iomap);
      if (valid) this.checkBlocksUnchanged(inode, iomap, p, now, args);
      if (this.tally(Slot.R30), !(!(!changed && !valid))) this.violation('R30', 'mapping state unchanged since begin but ->iomap_valid said false (livelock)', '->iomap_valid', args, iomap);
    }
    return valid;
  }

  /**
   * R30 without trusting the filesystem's cookie or version counter: a write about to go on with
   * this mapping must find every block of its range in the mapping as it was right after
   * ->iomap_begin (same state, same address). A block that changed — writeback converted or
   * allocated it, a punch freed it, a direct write completed into it — means the mapping is stale
   * whatever the cookie says; the monitor's record names what changed it.
   */
  private checkBlocksUnchanged(inode: Inode, iomap: Iomap, p: PendingBegin, now: MappingSnapshot, args: Args): void {
    if (iomap.type === IOMAP_INLINE) return;
    const bs = inode.blockSize;
    const lo = Math.floor(Math.max(iomap.offset, p.pos) / bs);
    const then = p.afterBegin!;
    // Run by run of both states (a difference at a run's first block is the first one in it).
    // The same snapshot object is the same frozen state (the filesystem hands its last one out
    // again while nothing it shows changed): no block can differ.
    const last = then === now ? lo : walkEnd(then, lo, Math.ceil(Math.min(iomap.offset + iomap.length, p.pos + p.len) / bs));
    for (let b = lo; b < last; b = jointRunEnd(then, now, b, last)) {
      const was = then.block(b);
      const is = now.block(b);
      if (was.state === is.state && was.pblk === is.pblk) continue;
      const seen = describeChanges(this.mapChanges.since(inode.ino, p.changeSeq, b, b + 1));
      const at = (s: BlockState) => `${s.state}${s.pblk !== undefined ? ` @${s.pblk}` : ''}`;
      this.violation('R30', `block ${b} changed since ->iomap_begin (${at(was)} -> ${at(is)}; the monitor saw: ${seen}) but ->iomap_valid said true, and the write went on with the stale mapping`, '->iomap_valid', args, iomap);
    }
    this.tally(Slot.R30);
  }

  /* ------------------------------------------------------------------------------------- */
  /* writeback ops                                                                         */
  /* ------------------------------------------------------------------------------------- */

  private wrapWritebackOps(raw: WritebackOps): WritebackOps {
    const w: WritebackOps = {
      mapBlocks: (wpc, inode, offset, len) => this.mapBlocks(raw, wpc, inode, offset, len),
      prepareIoend: (ioend, status) => this.prepareIoend(raw, ioend, status),
    };
    if (raw.discardFolio) w.discardFolio = (folio, pos) => this.discardFolio(raw, folio, pos);
    return w;
  }

  private mapBlocks(raw: WritebackOps, wpc: WritepageCtx, inode: Inode, offset: number, len: number): number {
    const cb = '->map_blocks';
    const ret = raw.mapBlocks(wpc, inode, offset, len);
    // Writeback may allocate (a whole delalloc extent) or start a COW here: a possible change of
    // the dirty run's blocks and of the mapping it got.
    const mb = wpc.iomap;
    const bsz = inode.blockSize;
    const lo = ret < 0 ? offset : Math.min(offset, mb.offset);
    const hi = ret < 0 ? offset + len : Math.max(offset + len, mb.offset + mb.length);
    this.mapChanges.record(inode.ino, 'writeback mapping', Math.floor(lo / bsz), Math.ceil(hi / bsz));
    if (ret < 0) return ret;
    this.noteCall(Call.MapBlocks, inode.ino, offset, len, 0, 0);
    this.checkWritebackMapping(wpc, inode, offset, len, cb, null);
    return ret;
  }

  /** R32–R34: the writeback mapping (from ->map_blocks or ->writeback_range) for a dirty run. */
  private checkWritebackMapping(wpc: WritepageCtx, inode: Inode, offset: number, len: number, cb: string, args: Args): void {
    const m = wpc.iomap;
    const bs = inode.blockSize;
    const end = m.offset + m.length;
    if (this.tally(Slot.R32), !(m.length > 0 && m.offset <= offset && offset < end && m.offset % bs === 0 && end % bs === 0 &&
      (m.type === IOMAP_MAPPED || m.type === IOMAP_UNWRITTEN || m.type === IOMAP_HOLE))) this.violation('R32', `writeback mapping for offset ${offset}`, cb, args, m);
    if (m.type === IOMAP_HOLE) {
      const mapEnd = Math.min(end, offset + len, inode.size);
      const folio = inode.mapping.folioAt(offset);
      if (folio && mapEnd > offset) {
        const from = offset - folio.pos;
        const to = Math.min(mapEnd, folio.end) - folio.pos;
        const nonZero = folio.data.subarray(from, to).some((b) => b !== 0);
        if (this.tally(Slot.R33), !(!nonZero)) this.violation('R33', `HOLE for dirty data [${offset}, ${mapEnd}) below EOF: the data would be dropped`, cb, args, m);
      }
    }
    if (this.fs.introspect && !(m.flags & IOMAP_F_SHARED) && m.type !== IOMAP_HOLE) {
      const st = this.fs.introspect.snapshot(inode);
      const b = Math.floor(offset / bs);
      const s = st.block(b);
      const want = m.type === IOMAP_MAPPED ? 'written' : 'unwritten';
      const pblkOk = s.pblk !== undefined && m.addr + (b * bs - m.offset) === s.pblk * bs;
      if (this.tally(Slot.R34), !(s.state === want && pblkOk)) this.violation('R34', `block ${b} is ${s.state}${s.pblk !== undefined ? ` @${s.pblk}` : ''} but the writeback mapping says ${typeName(m.type)} @${(m.addr + (b * bs - m.offset)) / bs}`, cb, args, m);
    }
  }

  private prepareIoend(raw: WritebackOps, ioend: Ioend, status: number): number {
    const ret = raw.prepareIoend ? raw.prepareIoend(ioend, status) : status;
    this.ioends.add(ioend);
    const endIo = ioend.endIo;
    if (endIo !== null) ioend.endIo = this.recordingEndIo(endIo);
    return ret;
  }

  /** The filesystem's completion (unwritten conversion, COW remap) changes the ioend's blocks. */
  private recordingEndIo(endIo: (io: Ioend) => void): (io: Ioend) => void {
    return (io) => {
      const bs = io.inode.blockSize;
      this.mapChanges.record(io.inode.ino, `writeback completion (ioend #${io.id})`, Math.floor(io.offset / bs), Math.ceil((io.offset + io.size) / bs));
      endIo(io);
    };
  }

  /* ------------------------------------------------------------------------------------- */
  /* current generation: iomap_writeback_ops, iomap_write_ops, iomap_read_ops              */
  /* ------------------------------------------------------------------------------------- */

  private wrapWbOps(raw: IomapWritebackOps): IomapWritebackOps {
    return {
      writebackRange: (wpc, folio, pos, len, endPos) => this.writebackRange(raw, wpc, folio, pos, len, endPos),
      writebackSubmit: (wpc, error) => this.writebackSubmit(raw, wpc, error),
    };
  }

  /**
   * ->writeback_range: C01 (answer 1..len or -errno), R32–R34 on the mapping it left in wpc,
   * C02 (every non-HOLE byte it reports went into an ioend), C03 (an error leaves no delalloc
   * reservation under the rest of the folio, which writeback now marks clean).
   */
  private writebackRange(raw: IomapWritebackOps, wpc: WritepageCtx, folio: Folio, pos: number, len: number, endPos: number): number {
    const cb = '->writeback_range';
    const inode = wpc.inode ?? folio.mapping!.host;
    const args = { ino: inode.ino, pos, len, endPos };
    let queued = 0;
    let queuedFrom = -1;
    const prevHook = addToIoendHook.queued;
    addToIoendHook.queued = (_w, p, l) => {
      if (queuedFrom < 0) queuedFrom = p;
      if (p === queuedFrom + queued) queued += l;
    };
    let ret: number;
    try {
      ret = raw.writebackRange(wpc, folio, pos, len, endPos);
    } finally {
      addToIoendHook.queued = prevHook;
    }
    const bsz = inode.blockSize;
    const mb = wpc.iomap;
    const lo = ret < 0 || mb.length === 0 ? pos : Math.min(pos, mb.offset);
    const hi = ret < 0 || mb.length === 0 ? pos + len : Math.max(pos + len, mb.offset + mb.length);
    this.mapChanges.record(inode.ino, 'writeback mapping', Math.floor(lo / bsz), Math.ceil(hi / bsz));
    if (this.tally(Slot.C01), !(ret < 0 || (ret > 0 && ret <= len && Number.isInteger(ret)))) this.violation('C01', `->writeback_range answered ${ret} for a run of ${len} bytes (want 1..${len} or a negative errno)`, cb, args, wpc.iomap);
    if (ret < 0) {
      this.checkErrorReleases(inode, folio, pos, cb, args);
      return ret;
    }
    this.checkWritebackMapping(wpc, inode, pos, ret, cb, args);
    if (wpc.iomap.type !== IOMAP_HOLE) {
      const whole = queuedFrom === pos && queued >= ret;
      if (this.tally(Slot.C02), !whole) this.violation('C02', `->writeback_range reported ${ret} bytes at ${pos} of a ${typeName(wpc.iomap.type)} mapping handled but queued ${queuedFrom < 0 ? 'none' : `${queued} from ${queuedFrom}`} (iomap_add_to_ioend): the data is marked clean and never written`, cb, args, wpc.iomap);
    }
    return ret;
  }

  /** C03: after a failed ->writeback_range no clean block from pos to the folio's end keeps a delalloc reservation. */
  private checkErrorReleases(inode: Inode, folio: Folio, pos: number, cb: string, args: Args): void {
    if (!this.fs.introspect) return;
    const st = this.fs.introspect.snapshot(inode);
    const bs = inode.blockSize;
    blockRuns(st, Math.floor(pos / bs), Math.ceil(folio.end / bs), (lo, hi, s) => {
      if (s.state === 'delalloc') {
        this.tally(Slot.C03);
        this.violation('C03', `block ${lo} still holds a delalloc reservation after ->writeback_range failed: the folio is marked clean over it`, cb, args, null);
      }
      this.tallyN(Slot.C03, hi - lo);
    });
  }

  /**
   * ->writeback_submit: the ioend it is handed joins R36's census (its completion handler, set
   * at any time, is recorded as a map change); C04 it was sent or failed by the time the call
   * returns; C05 an error passed in is not turned into success.
   */
  private writebackSubmit(raw: IomapWritebackOps, wpc: WritepageCtx, error: number): number {
    const io = wpc.ioend;
    const args = { ioend: io?.id ?? null, error };
    if (io) {
      this.ioends.add(io);
      this.interceptEndIo(io);
    }
    const ret = raw.writebackSubmit(wpc, error);
    if (io) {
      if (this.tally(Slot.C04), !(io.submitted || io.finished)) this.violation('C04', `ioend #${io.id} [${io.offset}, +${io.size}) was neither sent nor failed by ->writeback_submit (call iomap_ioend_writeback_submit): its folios stay under writeback`, '->writeback_submit', args, null);
    }
    if (error) {
      if (this.tally(Slot.C05), !(ret < 0)) this.violation('C05', `->writeback_submit was handed error ${error} and answered ${ret}: the failure is lost`, '->writeback_submit', { ...args, ret }, null);
    }
    return ret;
  }

  /** Record the completion handler the filesystem installs on `io`, whenever it does. */
  private interceptEndIo(io: Ioend): void {
    let handler = io.endIo === null ? null : this.recordingEndIo(io.endIo);
    Object.defineProperty(io, 'endIo', {
      configurable: true,
      enumerable: true,
      get: () => handler,
      set: (h: ((x: Ioend) => void) | null) => { handler = h === null ? null : this.recordingEndIo(h); },
    });
  }

  private wrapWriteOps(raw: IomapWriteOps): IomapWriteOps {
    const w: IomapWriteOps = { ...this.wrapFolioOps(raw) };
    if (raw.readFolioRange) {
      w.readFolioRange = (it, folio, pos, len) => this.readRange('->read_folio_range', (f, p, l) => raw.readFolioRange!(it, f, p, l), it, folio, pos, len);
    }
    return w;
  }

  private wrapReadOps(raw: IomapReadOps): IomapReadOps {
    const w: IomapReadOps = {
      readFolioRange: (it, folio, pos, len) => this.readRange('->read_folio_range (read ops)', (f, p, l) => raw.readFolioRange(it, f, p, l), it, folio, pos, len),
    };
    if (raw.submitRead) w.submitRead = (it) => raw.submitRead!(it);
    return w;
  }

  /**
   * C07: a ->read_folio_range answers 0 or a negative errno and writes only inside the folio
   * range it was asked for (bytes outside may be dirty user data or other reads' results).
   */
  private readRange(cb: string, call: (folio: Folio, pos: number, len: number) => number, it: IomapIterLike, folio: Folio, pos: number, len: number): number {
    const from = folio.offsetIn(pos);
    const before = folio.data.slice();
    const ret = call(folio, pos, len);
    const args = { ino: it.inode.ino, pos, len, ret };
    if (this.tally(Slot.C07), !(ret <= 0 && Number.isInteger(ret))) this.violation('C07', `${cb} answered ${ret} (want 0 or a negative errno)`, cb, args, it.iomap);
    const d = folio.data;
    let outside = -1;
    for (let i = 0; i < d.length && outside < 0; i++) if ((i < from || i >= from + len) && d[i] !== before[i]) outside = i;
    if (this.tally(Slot.C07), !(outside < 0)) this.violation('C07', `${cb} for folio bytes [${from}, ${from + len}) changed byte ${outside} outside the range`, cb, args, it.iomap);
    return ret;
  }

  private discardFolio(raw: WritebackOps, folio: Folio, pos: number): void {
    raw.discardFolio!(folio, pos);
    if (this.tally(Slot.R35), !(!folio.dirty)) this.violation('R35', `folio ${folio.pos} redirtied by ->discard_folio`, '->discard_folio', { pos }, null);
  }

  /** R36: call when no I/O is pending: every submitted ioend was finished exactly once. */
  checkQuiescent(): void {
    for (const io of this.ioends) {
      if (io.inode.mapping.queue.pending.length) return;
      if (this.tally(Slot.R36), !(io.finished)) this.violation('R36', `ioend #${io.id} [${io.offset}, +${io.size}) was never finished`, '->prepare_ioend', { ioend: io.id }, null);
    }
    this.ioends.clear();
    for (const [f, n] of this.folioRefs) {
      if (this.tally(Slot.R29), !(n === 0)) this.violation('R29', `folio ${f.pos} got ${n} more times than it was put`, '->put_folio', {}, null);
    }
  }

  /* ------------------------------------------------------------------------------------- */
  /* DIO end_io                                                                            */
  /* ------------------------------------------------------------------------------------- */

  private wrapDioEndIo(fs: FsInstance) {
    return (inode: Inode, offset: number, size: number, error: number, dioFlags: number): number => {
      const ret = fs.dioEndIo!(inode, offset, size, error, dioFlags);
      this.mapChanges.record(inode.ino, 'direct-write completion', Math.floor(offset / inode.blockSize), Math.ceil((offset + size) / inode.blockSize));
      // IOMAP_DIO_UNWRITTEN (1): a completed write into unwritten extents must have converted them.
      if (ret === 0 && size > 0 && (dioFlags & 1) && fs.introspect) {
        const st = fs.introspect.snapshot(inode);
        const bs = inode.blockSize;
        blockRuns(st, Math.floor(offset / bs), Math.ceil((offset + size) / bs), (lo, _hi, s) => {
          if (s.state === 'unwritten') {
            if (this.tally(Slot.R38), !(false)) this.violation('R38', `block ${lo} still UNWRITTEN after ->end_io of a completed direct write`, '->end_io', { offset, size, error, dioFlags }, null);
          }
        });
        this.tally(Slot.R38);
      }
      return ret;
    };
  }
}

export { EAGAIN, IOMAP_F_STALE };

// Every monitored mount (adapters/reference.ts mountWithMonitor) wraps its filesystem in this monitor.
installFsMonitor((fs, opts) => new ContractMonitor(fs, opts));
