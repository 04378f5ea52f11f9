/**
 * The op-log shrinker: delta debugging on an fsx op log (docs/corpus.md "Shrinking").
 *
 * Every candidate is a list of op records replayed from scratch on a fresh adapter, stopping at
 * its first failure; it "reproduces" when that failure has the same signature as the original
 * (signatureOf). A reproducing candidate is cut after its failing op. The phases, in order:
 *
 *  1. the never-run tail goes (ops after the failing op);
 *  2. a failure found only at close (unmount) looks for the shortest failing prefix (bisection);
 *  3. the shortest failing suffix is looked for by galloping (the last 1, 2, 4, ... ops), which
 *     finds a short reproducer of a late failure at a cost of about twice its length, without
 *     replaying the whole log again and again;
 *  4. chunks are removed back to front with halving chunk sizes (ddmin without restarting from
 *     the front after a success), then single ops until nothing more can go;
 *  5. arguments shrink, op by op from the last: op kinds to their plain twins (race_write ->
 *     write, mapwrite -> write, write_direct_async -> write_direct, ...), flags off, offsets
 *     toward 0 and toward aligned values, lengths toward 1 (bisection), destinations likewise;
 *     then phase 4 again, until nothing changes.
 *
 * The data of an op is fsx's pattern for its op number and the log's seed: a log carries no other
 * choice of data, so there is no data to simplify (renumbering ops changes it, which is fine: the
 * signature does not depend on bytes). Everything is deterministic: the same log, adapter and
 * budget give the same result, byte for byte.
 */

import type { FileAdapter } from '../../adapters/types';
import { AdapterSpecError } from '../../adapters/registry';
import { replayBuffer, RunResult, TargetError } from './engine';
import { bufferFromRecords, type OpLog } from './oplog';
import {
  FL_CHECK_SHARED, FL_CLOSE_OPEN, FL_DSYNC, FL_FAULT_AT, FL_KEEP_SIZE, FL_NO_MSYNC, FL_RESERVE, FL_POLLUTE, FL_SKIPPED, FL_UNSHARE, OP_CLONE_RANGE,
  OP_COMPLETE_IO, OP_CRASH, OP_REMOUNT,
  OP_COPY_RANGE, OP_EVICT, OP_FALLOCATE, OP_FDATASYNC, OP_FSYNC, OP_MAPREAD, OP_MAPWRITE, OP_PUNCH_HOLE,
  OP_RACE_PUNCH, OP_RACE_WRITE, OP_RACE_WRITEBACK, OP_READ, OP_READ_DIRECT, OP_SEEK_DATA, OP_SEEK_HOLE,
  OP_TRUNCATE, OP_WRITE, OP_WRITE_DIRECT, OP_WRITE_DIRECT_ASYNC, OP_WRITEBACK, OP_ZERO_RANGE, OpBuffer,
  OPS, POLLUTING_OPS,
} from './ops';
import type { Failure } from './runner';

/** One op of a candidate (immutable: candidates share them). */
export interface ShrinkOp {
  readonly code: number;
  readonly flags: number;
  readonly off: number;
  readonly len: number;
  readonly dst: number;
  /** One of the log's -b simulated ops (oracle only); they stay a prefix of every candidate. */
  readonly sim: boolean;
}

export interface ShrinkOptions {
  /** A fresh adapter for every replay (created with the log's geometry). */
  makeAdapter: () => FileAdapter;
  /** Adapter spec: recorded in the output log and used as fsx's fname. */
  name: string;
  /**
   * Take the log's `expected` failure as the signature and its op as the end, without replaying
   * the whole log first. Only for a log recorded on this adapter; never for op-error, crash or
   * hang (their signature needs the errno or the message, which `expected` does not keep).
   */
  trustExpected?: boolean;
  /** Most replays to spend (deterministic budget); the best candidate so far is the result. */
  maxReplays?: number;
  /** Most ops to replay in total (deterministic budget). */
  maxReplayedOps?: number;
  /** Phase and progress lines. */
  progress?: (line: string) => void;
}

export interface ShrinkResult {
  /** False when the input log passes on the adapter (nothing to shrink). */
  failed: boolean;
  /** The minimal log (expected = its failure), or the input when it passes. */
  log: OpLog;
  /** The final replay of the minimal log (its report is the one to print). */
  final: RunResult;
  /** The signature kept. */
  signature: string;
  inputOps: number;
  outputOps: number;
  replays: number;
  replayedOps: number;
  elapsedMs: number;
  /** A budget ran out before the end (the result is still a reproducer, maybe not minimal). */
  budgetExhausted: boolean;
}

/**
 * The failure signature a shrink keeps (docs/corpus.md): the failure kind, the rule ID, and for
 * op-error the errno, and for a divergence where a side failed that side's errno (else a diff
 * shrink of a host's EIO wanders onto any other disagreement under the same rule); for crash and hang the exception's class and message with every number
 * replaced by '#'. Offsets, op numbers, op names and bytes are not part of it.
 */
export function signatureOf(f: Pick<Failure, 'kind' | 'rule' | 'errno' | 'lines'>): string {
  const parts: string[] = [f.kind, f.rule ?? ''];
  if (f.kind === 'op-error' || (f.kind === 'divergence' && f.errno !== undefined)) parts.push(f.errno ?? '');
  if (f.kind === 'crash' || f.kind === 'hang') {
    const line = f.lines.find((l) => /^target (crashed|hung) in /.test(l)) ?? '';
    const what = line.replace(/^target (crashed|hung) in [a-z_]+: /, '').replace(/0x[0-9a-f]+|\d+/gi, '#');
    parts.push(what);
  }
  return parts.join('|');
}

const FLAG_NAMES: [number, string][] = [
  [FL_CLOSE_OPEN, 'closeOpen'], [FL_POLLUTE, 'pollute'], [FL_NO_MSYNC, 'noMsync'], [FL_KEEP_SIZE, 'keepSize'], [FL_UNSHARE, 'unshare'],
  [FL_FAULT_AT, 'faultAt'], [FL_RESERVE, 'reserveBlocks'], [FL_CHECK_SHARED, 'checkShared'], [FL_DSYNC, 'dsync'],
];

/** A faulting write whose fault lies at or past its (shrunk) end: the format refuses it. */
function badFaultAt(o: ShrinkOp): boolean {
  return (o.flags & FL_FAULT_AT) !== 0 && o.dst >= o.len;
}

/** Plainer op kinds to try in place of an op (same arguments). */
const PLAINER: Record<number, number[]> = {
  [OP_RACE_WRITE]: [OP_WRITE],
  [OP_RACE_PUNCH]: [OP_PUNCH_HOLE],
  [OP_RACE_WRITEBACK]: [OP_WRITEBACK],
  [OP_WRITE_DIRECT_ASYNC]: [OP_WRITE_DIRECT, OP_WRITE],
  [OP_WRITE_DIRECT]: [OP_WRITE],
  [OP_MAPWRITE]: [OP_WRITE],
  [OP_MAPREAD]: [OP_READ],
  [OP_READ_DIRECT]: [OP_READ],
  [OP_FDATASYNC]: [OP_FSYNC],
  [OP_COPY_RANGE]: [OP_CLONE_RANGE],
};

/** Alignments offsets and lengths are tried at (after 0 / 1). */
function alignments(bs: number, ps: number): number[] {
  return [...new Set([ps, bs, 4096, 512].filter((a) => a > 1))].sort((a, b) => b - a);
}

class BudgetExhausted extends Error {}

/** Shrink a failing op log (validated). */
export function shrinkLog(input: OpLog, so: ShrinkOptions): ShrinkResult {
  const t0 = performance.now();
  const maxReplays = so.maxReplays ?? 20000;
  const maxReplayedOps = so.maxReplayedOps ?? 50_000_000;
  const say = so.progress ?? (() => undefined);
  const silent = { out: () => undefined, err: () => undefined };
  const meta: OpLog = { ...input, ops: [] };
  const opts = { quiet: true, debug: false, logDumpOps: 0 };
  let replays = 0;
  let replayedOps = 0;
  /** Candidates whose target failed outside the ops (creation, open, close). */
  let targetErrors = 0;
  let exhausted = false;
  let bs = input.geometry.blockSize;
  const ps = input.geometry.pageSize;

  const toBuffer = (ops: readonly ShrinkOp[]): OpBuffer => {
    const buf = new OpBuffer(Math.max(16, ops.length));
    for (const o of ops) buf.push(o.code, o.off, o.len, o.dst, o.flags);
    return buf;
  };
  /** The log settings for a candidate: -b covers exactly its simulated ops. */
  const metaFor = (ops: readonly ShrinkOp[]): OpLog => {
    let sim = 0;
    while (sim < ops.length && ops[sim].sim) sim++;
    if ((input.options?.simulatedOps ?? 0) === 0 && sim === 0) return meta;
    return { ...meta, options: { ...meta.options, simulatedOps: sim } };
  };
  const replay = (ops: readonly ShrinkOp[]): RunResult => {
    if (replays >= maxReplays || replayedOps >= maxReplayedOps) throw new BudgetExhausted();
    replays++;
    const adapter = so.makeAdapter();
    bs = adapter.capabilities.blockSize;
    const r = replayBuffer(adapter, so.name, metaFor(ops), toBuffer(ops), ops.length, opts, silent);
    replayedOps += r.ops;
    return r;
  };

  // Through the packed form, so every flag and v3 attribute (faultAt, reserveBlocks, checkShared,
  // dsync; the values ride in dst) comes along.
  const packed = bufferFromRecords(input.ops);
  const all: ShrinkOp[] = input.ops.map((_, i) => ({
    code: packed.code[i], flags: packed.flags[i], off: packed.off[i], len: packed.len[i], dst: packed.dst[i], sim: false,
  }));
  for (let i = 0; i < Math.min(all.length, input.options?.simulatedOps ?? 0); i++) all[i] = { ...all[i], sim: true };

  // ---- the signature and the end ------------------------------------------------------------
  let signature: string;
  let cur: ShrinkOp[];
  let atClose = false;
  const exp = input.expected;
  const trusted = so.trustExpected === true && exp !== undefined && exp.outcome === 'fail'
    && exp.kind !== 'op-error' && exp.kind !== 'crash' && exp.kind !== 'hang';
  if (trusted && exp.outcome === 'fail') {
    signature = signatureOf({ kind: exp.kind, rule: exp.rule, errno: exp.errno, lines: [] });
    cur = all.slice(0, exp.op);
    say(`signature ${signature} (from the log's expected failure at op ${exp.op}; not replayed first)`);
  } else {
    const r = replay(all);
    if (r.failure === null) {
      return {
        failed: false, log: input, final: r, signature: '', inputOps: input.ops.length, outputOps: input.ops.length,
        replays, replayedOps, elapsedMs: performance.now() - t0, budgetExhausted: false,
      };
    }
    signature = signatureOf(r.failure);
    atClose = r.failure.lines[0]?.startsWith('at close') === true;
    cur = all.slice(0, r.failure.op);
    say(`signature ${signature} (op ${r.failure.op} of ${all.length})`);
  }
  if (cur.length < all.length) say(`dropped the ${all.length - cur.length} ops after the failure`);

  /**
   * Replay a candidate: its failing prefix when it reproduces the signature, else null. A target
   * that cannot be created, opened or closed for this candidate (TargetError, AdapterSpecError)
   * is a property of the candidate, not of the shrink: it does not reproduce, and the shrink goes on.
   */
  const test = (cand: ShrinkOp[]): ShrinkOp[] | null => {
    if (cand.length === 0 || cand.some(badFaultAt)) return null;
    let r: RunResult;
    try {
      r = replay(cand);
    } catch (e) {
      if (!(e instanceof TargetError || e instanceof AdapterSpecError)) throw e;
      targetErrors++;
      if (targetErrors <= 3) say(`a candidate of ${cand.length} ops: ${e.message.split('\n')[0]} (taken as not reproducing)`);
      return null;
    }
    if (r.failure === null || signatureOf(r.failure) !== signature) return null;
    return cand.length > r.failure.op ? cand.slice(0, r.failure.op) : cand;
  };

  try {
    // ---- a failure at close: the shortest failing prefix ------------------------------------
    if (atClose) {
      let lo = 0;
      let hi = cur.length;
      while (hi - lo > 1) {
        const mid = (lo + hi) >>> 1;
        const got = test(cur.slice(0, mid));
        if (got !== null) hi = got.length;
        else lo = mid;
      }
      if (hi < cur.length) {
        cur = cur.slice(0, hi);
        say(`shortest failing prefix: ${cur.length} ops`);
      }
    }

    // ---- the shortest failing suffix, by galloping ------------------------------------------
    for (let l = 1; l < cur.length; l *= 2) {
      const got = test(cur.slice(cur.length - l));
      if (got !== null) {
        cur = got;
        say(`a suffix of ${l} ops reproduces it`);
        break;
      }
    }

    // ---- ddmin and argument shrinking until nothing changes ---------------------------------
    for (let round = 1; ; round++) {
      const before = cur.length;
      cur = removeChunks(cur, test, say);
      const changed = shrinkArgs(cur, test, bs, ps);
      cur = changed.ops;
      say(`round ${round}: ${cur.length} ops${changed.any ? ', arguments shrunk' : ''}`);
      if (!changed.any && cur.length === before) break;
    }
  } catch (e) {
    if (!(e instanceof BudgetExhausted)) throw e;
    exhausted = true;
    say(`budget exhausted after ${replays} replays (${replayedOps} ops): the result may not be minimal`);
  }

  // ---- the result: one more replay for the report and the log --------------------------------
  const adapter = so.makeAdapter();
  const final = replayBuffer(adapter, so.name, metaFor(cur), toBuffer(cur), cur.length, { quiet: true, debug: false, logDumpOps: 100 }, silent);
  replays++;
  replayedOps += final.ops;
  if (final.failure === null || signatureOf(final.failure) !== signature) {
    // Only possible when the trusted `expected` was wrong (nothing reproduced it): start over
    // from a replay of the whole log.
    if (!trusted) throw new Error(`shrink: internal error: the result does not reproduce ${signature}`);
    say(`the log's expected failure does not reproduce on ${so.name}: starting over from a replay of the whole log`);
    const again = shrinkLog(input, { ...so, trustExpected: false });
    return { ...again, replays: again.replays + replays, replayedOps: again.replayedOps + replayedOps, elapsedMs: performance.now() - t0 };
  }
  const log = final.log();
  return {
    failed: true, log, final, signature, inputOps: input.ops.length, outputOps: log.ops.length,
    replays, replayedOps, elapsedMs: performance.now() - t0, budgetExhausted: exhausted,
  };
}

/**
 * ddmin, back to front: remove chunks of halving size, starting at the end of the list, keeping
 * every removal that still reproduces (no restart from the front); then single ops again until a
 * pass removes nothing.
 */
function removeChunks(start: ShrinkOp[], test: (c: ShrinkOp[]) => ShrinkOp[] | null, say: (l: string) => void): ShrinkOp[] {
  let cur = start;
  let chunk = Math.max(1, cur.length >>> 1);
  for (;;) {
    let removed = false;
    for (let end = cur.length; end > 0;) {
      const from = Math.max(0, end - chunk);
      const got = test(cur.slice(0, from).concat(cur.slice(end)));
      if (got !== null) {
        cur = got;
        removed = true;
        end = Math.min(from, cur.length);
      } else {
        end = from;
      }
    }
    if (chunk > 1) {
      if (removed) say(`chunks of ${chunk}: ${cur.length} ops left`);
      chunk = Math.max(1, chunk >>> 1);
    } else if (!removed) {
      return cur;
    }
  }
}

/**
 * Argument shrinking, op by op from the last: plainer op kinds, flags off, then offsets, lengths
 * and destinations (0 or 1, aligned values, then the smallest reproducing value by bisection).
 */
function shrinkArgs(start: ShrinkOp[], test: (c: ShrinkOp[]) => ShrinkOp[] | null, bs: number, ps: number): { ops: ShrinkOp[]; any: boolean } {
  let cur = start;
  let any = false;
  const with_ = (i: number, o: ShrinkOp): ShrinkOp[] => {
    const c = cur.slice();
    c[i] = o;
    return c;
  };
  /** Try op i replaced by `o`; keep it when it reproduces. */
  const attempt = (i: number, o: ShrinkOp): boolean => {
    const got = test(with_(i, o));
    if (got === null) return false;
    cur = got;
    any = true;
    return true;
  };
  const aligns = alignments(bs, ps);
  // -b's simulated ops run for real instead (the log no longer needs -b).
  if (cur.some((o) => o.sim)) {
    const got = test(cur.map((o) => (o.sim ? { ...o, sim: false } : o)));
    if (got !== null) {
      cur = got;
      any = true;
    }
  }
  // The whole log moved toward offset 0 by a multiple of a large alignment (keeps every op's
  // alignment and the distances between ops): one candidate per alignment.
  for (const a of [1 << 20, 1 << 16, ...aligns]) {
    const low = lowestOffset(cur);
    const delta = low - (low % a);
    if (delta > 0) {
      const got = test(cur.map((o) => translate(o, delta)));
      if (got !== null) {
        cur = got;
        any = true;
      }
    }
  }
  for (let i = cur.length - 1; i >= 0; i--) {
    if (i >= cur.length) continue;
    // Plainer kinds (first one that reproduces).
    for (const code of PLAINER[cur[i].code] ?? []) {
      const o = cur[i];
      const plain = code === OP_WRITEBACK ? { ...o, code, off: 0, len: 0 } : { ...o, code };
      if (attempt(i, { ...plain, flags: plainFlags(o.flags, code) })) break;
    }
    if (i >= cur.length) continue;
    // Flags off, one at a time.
    for (const [bit] of FLAG_NAMES) {
      if (i < cur.length && (cur[i].flags & bit) !== 0) attempt(i, { ...cur[i], flags: cur[i].flags & ~bit });
    }
    // Numbers.
    for (const [field, low] of fieldsOf(cur[i]?.code ?? -1, cur[i]?.flags ?? 0)) {
      if (i >= cur.length) break;
      shrinkNumber(i, field, low);
    }
  }
  return { ops: cur, any };

  function shrinkNumber(i: number, field: 'off' | 'len' | 'dst', low: number): void {
    const v = cur[i][field];
    if (v <= low) return;
    // The simplest value, then aligned values below the current one.
    if (attempt(i, { ...cur[i], [field]: low })) return;
    for (const a of aligns) {
      if (i >= cur.length) return;
      const x = cur[i][field];
      const down = x - (x % a);
      if (down > low && down < x) attempt(i, { ...cur[i], [field]: down });
    }
    if (i >= cur.length) return;
    // Bisection for the smallest reproducing value in (low, current]: assumes monotony, which
    // is the common case (a longer write still covers the byte that matters). It steps in units
    // of the value's alignment (largest power of two dividing it, at most the block size), so
    // aligned ops (O_DIRECT, collapse, clone) stay aligned.
    const x = cur[i][field];
    let g = 1;
    while (g < bs && x % (2 * g) === 0) g *= 2;
    let lo = Math.floor(low / g);
    let hi = Math.floor(x / g);
    while (hi - lo > 1 && i < cur.length) {
      const mid = lo + Math.floor((hi - lo) / 2);
      if (attempt(i, { ...cur[i], [field]: mid * g })) hi = mid;
      else lo = mid;
    }
  }
}

/** Whether an op's `off` is a file offset (complete_io's is a pick; fsync's and writeback's are 0). */
function hasOffset(code: number): boolean {
  return code !== OP_FSYNC && code !== OP_FDATASYNC && code !== OP_WRITEBACK && code !== OP_COMPLETE_IO && code !== OP_TRUNCATE && code !== OP_CRASH && code !== OP_REMOUNT;
}

/** The lowest file offset any op names (offsets, destinations, truncate sizes). */
function lowestOffset(ops: readonly ShrinkOp[]): number {
  let low = Number.MAX_SAFE_INTEGER;
  for (const o of ops) {
    if (hasOffset(o.code)) low = Math.min(low, o.off);
    if (OPS[o.code].twoRange) low = Math.min(low, o.dst);
    if (o.code === OP_TRUNCATE) low = Math.min(low, o.len);
  }
  return low === Number.MAX_SAFE_INTEGER ? 0 : low;
}

/** An op moved `delta` bytes toward offset 0. */
function translate(o: ShrinkOp, delta: number): ShrinkOp {
  if (o.code === OP_TRUNCATE) return { ...o, len: o.len - delta };
  if (!hasOffset(o.code)) return o;
  return OPS[o.code].twoRange ? { ...o, off: o.off - delta, dst: o.dst - delta } : { ...o, off: o.off - delta };
}

/** Flags an op keeps when it becomes `code` (the JSON format refuses the others). */
function plainFlags(flags: number, code: number): number {
  let f = flags & (FL_CLOSE_OPEN | FL_SKIPPED);
  if (POLLUTING_OPS.has(code)) f |= flags & (FL_NO_MSYNC | FL_POLLUTE);
  if (code === OP_FALLOCATE) f |= flags & (FL_KEEP_SIZE | FL_UNSHARE);
  if (code === OP_ZERO_RANGE) f |= flags & FL_KEEP_SIZE;
  if (code === OP_WRITE || code === OP_MAPWRITE) f |= flags & (FL_RESERVE | FL_FAULT_AT);
  if (code === OP_WRITE || code === OP_WRITE_DIRECT) f |= flags & FL_DSYNC;
  return f;
}

/** The numeric fields worth shrinking for an op kind, with the smallest value for each. */
function fieldsOf(code: number, flags: number): [('off' | 'len' | 'dst'), number][] {
  if (code < 0) return [];
  // A v3 attribute rides in dst: the fault byte and the reservation headroom shrink toward 0 too.
  if ((flags & (FL_FAULT_AT | FL_RESERVE)) !== 0 && !OPS[code].twoRange) return [['off', 0], ['len', 1], ['dst', 0]];
  switch (code) {
    case OP_FSYNC:
    case OP_FDATASYNC:
    case OP_WRITEBACK:
    case OP_REMOUNT:
      return [];
    case OP_TRUNCATE:
      return [['len', 0]];
    case OP_COMPLETE_IO:
    case OP_CRASH:
    case OP_EVICT:
    case OP_RACE_WRITEBACK:
    case OP_SEEK_DATA:
    case OP_SEEK_HOLE:
      return [['off', 0]];
    default:
      // Length 0 would skip the op, which removing it already tried.
      return OPS[code].twoRange ? [['off', 0], ['len', 1], ['dst', 0]] : [['off', 0], ['len', 1]];
  }
}
