/**
 * Op logs: the unit of truth of a run (docs/corpus.md describes the format).
 *
 * JSON, versioned: {format:"iomap-harness-oplog", version:1, adapter, geometry, seed, options?,
 * description?, ops:[{op, off, len, dst?, fileSize?, keepSize?, unshare?, closeOpen?, skip?}],
 * expected?}. Loading validates strictly: wrong format or version, malformed or truncated JSON,
 * unknown fields, bad numbers and offsets past 2^53-1 are rejected with one line naming the place.
 *
 * Also fsx's own `.fsxops` text (ltp/fsx.c logdump/read_op): `[skip] <op> <hex args...> [keep_size]
 * [close_open] [unshare] [*]`, `#` comments. Ops and metadata fsx does not know travel in `#@` lines,
 * which fsx skips as comments: `#@meta {json}`, `#@direct` (the next read/write is O_DIRECT), and
 * `#@ <op line>` for fdatasync/seek_data/seek_hole/fiemap. So an exported file replays in fsx
 * (data-equivalently) and imports back into exactly the same op log.
 */

import { isPersonalityName } from '../../reference/fs/personality';
import { IOMAP_APIS, isIomapApi } from '../../reference/iomap/types';
import { MAX_OFFSET } from '../oracle/bytes';
import {
  FL_CHECK_SHARED, FL_CLOSE_OPEN, FL_DSYNC, FL_FAULT_AT, FL_KEEP_SIZE, FL_RESERVE, OP_CLONE_RANGE, OP_DEDUPE_RANGE, OP_MAPWRITE, FL_NO_MSYNC,
  FL_POLLUTE, FL_SKIPPED, FL_UNSHARE, OP_COMPLETE_IO, OP_CRASH, OP_EVICT, OP_FALLOCATE, OP_FAULT_READ, OP_FAULT_WRITE, FAULT_READ_EVICT,
  FAULT_READ_MMAP, OP_FDATASYNC, OP_MAPREAD, OP_FSYNC, OP_PUNCH_HOLE, OP_RACE_PUNCH, OP_RACE_WRITE, OP_RACE_WRITEBACK, OP_READ, FL_INVALID,
  OP_COLLAPSE_RANGE, OP_INSERT_RANGE, OP_REMOUNT,
  OP_READ_DIRECT, OP_TRUNCATE, OP_WRITE, OP_WRITE_DIRECT, OP_WRITE_DIRECT_ASYNC, OP_WRITEBACK, OP_ZERO_RANGE,
  OP_READ_DONTCACHE, OP_WRITE_DONTCACHE, OP_WRITE_ATOMIC, OP_EXCHANGE_RANGE,
  opByName, OPS, OpBuffer, POLLUTING_OPS,
} from './ops';
import { describeOp } from './report';

/** Ops whose bytes are held in memory, and the most one of them may move (fsx -o's cap). */
const DATA_OPS = new Set<number>([
  OP_READ, OP_WRITE, OP_MAPREAD, OP_MAPWRITE, OP_READ_DIRECT, OP_WRITE_DIRECT, OP_WRITE_DIRECT_ASYNC, OP_RACE_WRITE,
  OP_READ_DONTCACHE, OP_WRITE_DONTCACHE, OP_WRITE_ATOMIC,
]);
const MAX_DATA_LEN = 1 << 30;
import type { TargetSetup } from '../../adapters/types';
import type { AdapterOptions } from '../../adapters/registry';
import { FAILURE_KINDS, FailureKind } from './runner';

export const OPLOG_FORMAT = 'iomap-harness-oplog';
/**
 * The version written. Version 2 added the interleaving ops (writeback, complete_io, evict,
 * race_write, race_punch, race_writeback, write_direct_async) and the `noMsync` flag; version 3
 * the `crash` op; version 4 the device fault ops, the `remount` op and the `invalid` attribute;
 * version 5 fsx's newer ops read_dontcache, write_dontcache, write_atomic and exchange_range.
 * Older logs are read as they are (they cannot contain those).
 */
export const OPLOG_VERSION = 5;
/**
 * Versions this build reads. Version 3 added the `crash` op (a power cut; off = the crash-state
 * selector, below 2^32) and the model-level op attributes `faultAt`, `reserveBlocks` and
 * `checkShared` (docs/corpus.md); older logs cannot contain them.
 */
export const OPLOG_VERSIONS: readonly number[] = [1, 2, 3, 4, 5];
/** Version 5 added xfstests fsx's newer ops: RWF_DONTCACHE reads and writes, RWF_ATOMIC writes, exchange range. */
const NEWIO_VERSION = 5;
const NEWIO_OPS: ReadonlySet<number> = new Set([OP_READ_DONTCACHE, OP_WRITE_DONTCACHE, OP_WRITE_ATOMIC, OP_EXCHANGE_RANGE]);
const CRASH_VERSION = 3;
/** Version 4 added the device fault ops fault_read (evict, mmap) and fault_write (drop, torn). */
const FAULT_VERSION = 4;
/** Version 4 also added the `remount` op and the `invalid` attribute (arguments a correct target must refuse). */
const REMOUNT_VERSION = 4;
/** Ops that may carry `invalid` (the bad-argument forms of the generator and of the newer-I/O suites). */
const INVALID_OPS: ReadonlySet<number> = new Set([
  OP_COLLAPSE_RANGE, OP_INSERT_RANGE, OP_CLONE_RANGE, OP_DEDUPE_RANGE, OP_READ_DIRECT, OP_WRITE_DIRECT, OP_WRITE, OP_TRUNCATE, OP_FALLOCATE,
  OP_WRITE_ATOMIC, OP_EXCHANGE_RANGE,
]);

export interface OpRecord {
  op: string;
  off: number;
  len: number;
  /** Destination offset: clone_range, dedupe_range, copy_range only. */
  dst?: number;
  /** File size before the op (informational, as fsx logs it). */
  fileSize?: number;
  keepSize?: boolean;
  unshare?: boolean;
  closeOpen?: boolean;
  skip?: boolean;
  /** mmap stores of this op (mapwrite's data, -e pollution before it) are not msynced (v2). */
  noMsync?: boolean;
  /** Pollute the EOF page before this op if it changes the size, as -e 1 does for every op (v2). */
  pollute?: boolean;
  /** write/mapwrite: the user buffer faults at this byte, so the copy is short (v3; model targets). */
  faultAt?: number;
  /** write/mapwrite: at most this many more delalloc blocks may be reserved during the op (v3). */
  reserveBlocks?: number;
  /** clone_range/dedupe_range: FIEMAP must then report the remapped blocks SHARED (v3). */
  checkShared?: boolean;
  /** write/write_direct on an O_DSYNC file description: durable when it returns (v3). */
  dsync?: boolean;
  /** The arguments are ones a correct target must refuse: the errno is checked, and that nothing changed (v4). */
  invalid?: boolean;
  /** fault_read: drop the clean cache over the range first; read through mmap (v4). */
  evict?: boolean;
  mmap?: boolean;
  /** fault_write: the device drops the faulted writes, or tears them (default: fails them) (v4). */
  drop?: boolean;
  torn?: boolean;
}

export interface Geometry {
  blockSize: number;
  pageSize: number;
  folioSize?: number;
}

/** Run settings that change what replay does. */
export interface LogOptions {
  /** fsx -l: clone/copy destinations ending past it are skipped. Default: no limit. */
  maxlen?: number;
  /** fsx -X. Default false. */
  checkFile?: boolean;
  /** false for fsx -n. Default true. */
  sizeChecks?: boolean;
  /** fsx -b N records N-1 here. Default 0. */
  simulatedOps?: number;
  /** fsx -e 1 (EOF pollution before size changes). Default false. */
  polluteEof?: boolean;
}

export type Expected =
  | { outcome: 'pass' }
  | { outcome: 'fail'; kind: FailureKind; op: number; offset?: number; rule?: string; errno?: string };

export interface OpLog {
  format: typeof OPLOG_FORMAT;
  /** OPLOG_VERSION when written by this build. */
  version: number;
  /** Adapter spec the log was recorded on ("" when unknown, e.g. imported from fsx). */
  adapter: string;
  geometry: Geometry;
  /** Reference setup the run had (poisoned device, post-EOF preallocation); replay passes it on. */
  setup?: TargetSetup;
  /** Seed of the run; it also seeds the data pattern, so replay needs it. */
  seed: number;
  options?: LogOptions;
  description?: string;
  /**
   * The kernel releases (`uname -r`) a host failure was seen on: a known signature made of this log
   * matches only on a host of the same major.minor series (docs/corpus.md "Kernels").
   */
  kernels?: string[];
  ops: OpRecord[];
  expected?: Expected;
}

/** A bad op log; the message is one line and names the source and the place. */
export class OpLogError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'OpLogError';
  }
}

// ---- validation ---------------------------------------------------------------------------------

type Obj = Record<string, unknown>;

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function describeValue(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v.length > 40 ? v.slice(0, 40) + '...' : v);
  if (Array.isArray(v)) return 'an array';
  if (v === null) return 'null';
  if (typeof v === 'object') return 'an object';
  return String(v);
}

class Checker {
  constructor(private readonly source: string) {}

  fail(where: string, msg: string): never {
    throw new OpLogError(`${this.source}: ${where}: ${msg}`);
  }

  keys(o: Obj, where: string, allowed: readonly string[]): void {
    for (const k of Object.keys(o)) if (!allowed.includes(k)) this.fail(where, `unknown field ${JSON.stringify(k)} (allowed: ${allowed.join(', ')})`);
  }

  offset(v: unknown, where: string): number {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) {
      if (typeof v === 'number' && !Number.isFinite(v)) this.fail(where, `${describeValue(v)} is past the limit 2^53-1 (${MAX_OFFSET})`);
      this.fail(where, `expected a non-negative integer, got ${describeValue(v)}`);
    }
    if (v > MAX_OFFSET) this.fail(where, `${v} is past the limit 2^53-1 (${MAX_OFFSET})`);
    return v;
  }

  int(v: unknown, where: string, lo: number, hi: number): number {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < lo || v > hi) this.fail(where, `expected an integer in [${lo}, ${hi}], got ${describeValue(v)}`);
    return v;
  }

  pow2(v: unknown, where: string, lo: number, hi: number): number {
    const n = this.int(v, where, lo, hi);
    if ((n & (n - 1)) !== 0) this.fail(where, `expected a power of two, got ${n}`);
    return n;
  }

  bool(v: unknown, where: string): boolean {
    if (typeof v !== 'boolean') this.fail(where, `expected true or false, got ${describeValue(v)}`);
    return v;
  }

  str(v: unknown, where: string): string {
    if (typeof v !== 'string') this.fail(where, `expected a string, got ${describeValue(v)}`);
    return v;
  }
}

const TOP_KEYS = ['format', 'version', 'adapter', 'geometry', 'setup', 'seed', 'options', 'description', 'kernels', 'ops', 'expected'] as const;
const OP_KEYS = ['op', 'off', 'len', 'dst', 'fileSize', 'keepSize', 'unshare', 'closeOpen', 'skip', 'noMsync', 'pollute', 'faultAt', 'reserveBlocks', 'checkShared', 'dsync', 'evict', 'mmap', 'drop', 'torn', 'invalid'] as const;
/** The largest reservation headroom a log may give (far more than any op reserves). */
const MAX_RESERVE_BLOCKS = 1 << 30;

function checkGeometry(c: Checker, v: unknown, where: string): Geometry {
  if (!isObj(v)) c.fail(where, `expected an object, got ${describeValue(v)}`);
  c.keys(v, where, ['blockSize', 'pageSize', 'folioSize']);
  const g: Geometry = {
    blockSize: c.pow2(v.blockSize, `${where}.blockSize`, 1, 1 << 30),
    pageSize: c.pow2(v.pageSize, `${where}.pageSize`, 1, 1 << 30),
  };
  if (v.folioSize !== undefined) g.folioSize = c.pow2(v.folioSize, `${where}.folioSize`, 1, 1 << 30);
  return g;
}

function checkSetup(c: Checker, v: unknown, where: string, g: Geometry): TargetSetup {
  if (!isObj(v)) c.fail(where, `expected an object, got ${describeValue(v)}`);
  c.keys(v, where, ['poison', 'eofPrealloc', 'inlineMax', 'personality', 'api']);
  const s: TargetSetup = {};
  if (v.poison !== undefined) s.poison = c.int(v.poison, `${where}.poison`, 0, 0xffffffff);
  if (v.eofPrealloc !== undefined) s.eofPrealloc = c.pow2(v.eofPrealloc, `${where}.eofPrealloc`, g.blockSize, 1 << 30);
  if (v.inlineMax !== undefined) s.inlineMax = c.int(v.inlineMax, `${where}.inlineMax`, 0, g.blockSize);
  if (v.personality !== undefined) {
    if (!isPersonalityName(v.personality) || v.personality === 'generic') c.fail(`${where}.personality`, `expected xfs or ext4, got ${describeValue(v.personality)}`);
    s.personality = v.personality as TargetSetup['personality'];
  }
  if (v.api !== undefined) {
    if (!isIomapApi(v.api)) c.fail(`${where}.api`, `expected ${IOMAP_APIS.join(' or ')}, got ${describeValue(v.api)}`);
    s.api = v.api as TargetSetup['api'];
  }
  return s;
}

/** The setup an adapter reports, as a log records it (undefined when it has none). */
export function setupOf(adapter: { setup?: TargetSetup }): TargetSetup | undefined {
  const s = adapter.setup;
  return s !== undefined && Object.keys(s).length > 0 ? { ...s } : undefined;
}

/** Adapter options that recreate the log's target: its geometry and setup. */
export function adapterOptionsOf(log: OpLog): AdapterOptions {
  const o: AdapterOptions = { blockSize: log.geometry.blockSize, ...log.setup };
  if (log.geometry.folioSize !== undefined) o.folioSize = log.geometry.folioSize;
  return o;
}

function checkOptions(c: Checker, v: unknown, where: string): LogOptions {
  if (!isObj(v)) c.fail(where, `expected an object, got ${describeValue(v)}`);
  c.keys(v, where, ['maxlen', 'checkFile', 'sizeChecks', 'simulatedOps', 'polluteEof']);
  const o: LogOptions = {};
  if (v.maxlen !== undefined) o.maxlen = c.offset(v.maxlen, `${where}.maxlen`);
  if (v.checkFile !== undefined) o.checkFile = c.bool(v.checkFile, `${where}.checkFile`);
  if (v.sizeChecks !== undefined) o.sizeChecks = c.bool(v.sizeChecks, `${where}.sizeChecks`);
  if (v.simulatedOps !== undefined) o.simulatedOps = c.offset(v.simulatedOps, `${where}.simulatedOps`);
  if (v.polluteEof !== undefined) o.polluteEof = c.bool(v.polluteEof, `${where}.polluteEof`);
  return o;
}

function checkExpected(c: Checker, v: unknown, where: string): Expected {
  if (!isObj(v)) c.fail(where, `expected an object, got ${describeValue(v)}`);
  if (v.outcome === 'pass') {
    c.keys(v, where, ['outcome']);
    return { outcome: 'pass' };
  }
  if (v.outcome !== 'fail') c.fail(`${where}.outcome`, `expected "pass" or "fail", got ${describeValue(v.outcome)}`);
  c.keys(v, where, ['outcome', 'kind', 'op', 'offset', 'rule', 'errno']);
  const kind = c.str(v.kind, `${where}.kind`);
  if (!(FAILURE_KINDS as readonly string[]).includes(kind)) c.fail(`${where}.kind`, `unknown failure kind ${JSON.stringify(kind)} (known: ${FAILURE_KINDS.join(', ')})`);
  const e: Expected = { outcome: 'fail', kind: kind as FailureKind, op: c.int(v.op, `${where}.op`, 1, MAX_OFFSET) };
  if (v.offset !== undefined) e.offset = c.offset(v.offset, `${where}.offset`);
  if (v.rule !== undefined) e.rule = c.str(v.rule, `${where}.rule`);
  if (v.errno !== undefined) {
    // The errno a known signature or an expected op-error names (properties/signatures.ts).
    const errno = c.str(v.errno, `${where}.errno`);
    if (!/^(E[A-Z0-9]+|SIGBUS)$/.test(errno)) c.fail(`${where}.errno`, `expected an errno name such as "EIO", got ${describeValue(v.errno)}`);
    e.errno = errno;
  }
  return e;
}

function checkOp(c: Checker, v: unknown, where: string, version: number): OpRecord {
  if (!isObj(v)) c.fail(where, `expected an op object, got ${describeValue(v)}`);
  c.keys(v, where, OP_KEYS);
  const name = c.str(v.op, `${where}.op`);
  const info = opByName(name);
  if (info === undefined) c.fail(`${where}.op`, `unknown op ${JSON.stringify(name)} (known: ${OPS.map((o) => o.name).join(', ')})`);
  const r: OpRecord = { op: name, off: c.offset(v.off, `${where}.off`), len: c.offset(v.len, `${where}.len`) };
  if (r.off + r.len > MAX_OFFSET) c.fail(where, `off+len = ${r.off + r.len} is past the limit 2^53-1 (${MAX_OFFSET})`);
  if (DATA_OPS.has(info.code) && r.len > MAX_DATA_LEN) {
    // The data of one read or write is held in memory; fsx's -o has the same cap.
    c.fail(`${where}.len`, `${r.len} bytes is more than one ${name} can move (at most ${MAX_DATA_LEN}, 1 GiB, as fsx -o)`);
  }
  if (info.interleave && version < 2) c.fail(`${where}.op`, `${name} needs op log version 2 (this log says version ${version})`);
  if (NEWIO_OPS.has(info.code) && version < NEWIO_VERSION) c.fail(`${where}.op`, `${name} needs op log version ${NEWIO_VERSION} (this log says version ${version})`);
  if (info.code === OP_REMOUNT) {
    if (version < REMOUNT_VERSION) c.fail(`${where}.op`, `remount needs op log version ${REMOUNT_VERSION} (this log says version ${version})`);
    if (r.len !== 0) c.fail(`${where}.len`, 'must be 0 for remount');
  }
  if ((info.code === OP_TRUNCATE || info.code === OP_FSYNC || info.code === OP_FDATASYNC || info.code === OP_WRITEBACK || info.code === OP_REMOUNT) && r.off !== 0) {
    c.fail(`${where}.off`, `must be 0 for ${name}${info.code === OP_TRUNCATE ? ' (len is the new size)' : ''}`);
  }
  if (info.code === OP_CRASH) {
    if (version < CRASH_VERSION) c.fail(`${where}.op`, `crash needs op log version ${CRASH_VERSION} (this log says version ${version})`);
    if (r.off > 0xffffffff) c.fail(`${where}.off`, `the crash selector must be below 2^32, got ${r.off}`);
  }
  if ((info.code === OP_WRITEBACK || info.code === OP_COMPLETE_IO || info.code === OP_EVICT || info.code === OP_RACE_WRITEBACK || info.code === OP_CRASH) && r.len !== 0) {
    c.fail(`${where}.len`, `must be 0 for ${name}`);
  }
  if (info.twoRange) {
    if (v.dst === undefined) c.fail(where, `${name} needs "dst"`);
    r.dst = c.offset(v.dst, `${where}.dst`);
    if (r.dst + r.len > MAX_OFFSET) c.fail(where, `dst+len = ${r.dst + r.len} is past the limit 2^53-1 (${MAX_OFFSET})`);
  } else if (v.dst !== undefined) {
    c.fail(`${where}.dst`, `not valid for ${name}`);
  }
  if (v.fileSize !== undefined) r.fileSize = c.offset(v.fileSize, `${where}.fileSize`);
  if (v.keepSize !== undefined) {
    if (info.code !== OP_FALLOCATE && info.code !== OP_ZERO_RANGE) c.fail(`${where}.keepSize`, `not valid for ${name}`);
    r.keepSize = c.bool(v.keepSize, `${where}.keepSize`);
  }
  if (v.unshare !== undefined) {
    if (info.code !== OP_FALLOCATE) c.fail(`${where}.unshare`, `not valid for ${name}`);
    r.unshare = c.bool(v.unshare, `${where}.unshare`);
  }
  if (v.closeOpen !== undefined) r.closeOpen = c.bool(v.closeOpen, `${where}.closeOpen`);
  if (v.skip !== undefined) r.skip = c.bool(v.skip, `${where}.skip`);
  for (const k of ['noMsync', 'pollute'] as const) {
    if (v[k] === undefined) continue;
    if (version < 2) c.fail(`${where}.${k}`, `needs op log version 2 (this log says version ${version})`);
    if (!POLLUTING_OPS.has(info.code)) c.fail(`${where}.${k}`, `not valid for ${name} (only for ops that can change the size or store through mmap)`);
    r[k] = c.bool(v[k], `${where}.${k}`);
  }
  checkV3(c, v, r, info.code, where, version);
  checkV4(c, v, r, info.code, where, version);
  return r;
}

/** The version 4 device fault ops and their attributes. */
function checkV4(c: Checker, v: Obj, r: OpRecord, code: number, where: string, version: number): void {
  const name = r.op;
  if ((code === OP_FAULT_READ || code === OP_FAULT_WRITE) && version < FAULT_VERSION) {
    c.fail(`${where}.op`, `${name} needs op log version ${FAULT_VERSION} (this log says version ${version})`);
  }
  for (const [k, op] of [['evict', OP_FAULT_READ], ['mmap', OP_FAULT_READ], ['drop', OP_FAULT_WRITE], ['torn', OP_FAULT_WRITE]] as const) {
    if (v[k] === undefined) continue;
    if (code !== op) c.fail(`${where}.${k}`, `not valid for ${name} (only for ${OPS[op].name})`);
    r[k] = c.bool(v[k], `${where}.${k}`);
  }
  if (r.drop === true && r.torn === true) c.fail(`${where}.torn`, 'cannot be combined with drop on one op');
}

/** fault_read/fault_write's packed `dst` (FAULT_READ_* bits, FAULT_WRITE_ACTIONS index) from a record. */
function faultDst(r: OpRecord, code: number): number {
  if (code === OP_FAULT_READ) return (r.evict === true ? FAULT_READ_EVICT : 0) | (r.mmap === true ? FAULT_READ_MMAP : 0);
  return r.drop === true ? 1 : r.torn === true ? 2 : 0;
}

/** The version 3 attributes: each on the ops it means something for, with its range. */
function checkV3(c: Checker, v: Obj, r: OpRecord, code: number, where: string, version: number): void {
  const name = r.op;
  for (const k of ['faultAt', 'reserveBlocks', 'checkShared', 'dsync'] as const) {
    if (v[k] !== undefined && version < 3) c.fail(`${where}.${k}`, `needs op log version 3 (this log says version ${version})`);
  }
  if (v.faultAt !== undefined) {
    if (code !== OP_WRITE && code !== OP_MAPWRITE) c.fail(`${where}.faultAt`, `not valid for ${name} (only for a buffered write or a mapwrite)`);
    if (r.len < 1) c.fail(`${where}.faultAt`, 'needs a write of at least 1 byte');
    r.faultAt = c.int(v.faultAt, `${where}.faultAt`, 0, r.len - 1);
  }
  if (v.reserveBlocks !== undefined) {
    if (code !== OP_WRITE && code !== OP_MAPWRITE) c.fail(`${where}.reserveBlocks`, `not valid for ${name} (only for write and mapwrite)`);
    if (r.faultAt !== undefined) c.fail(`${where}.reserveBlocks`, 'cannot be combined with faultAt on one op');
    r.reserveBlocks = c.int(v.reserveBlocks, `${where}.reserveBlocks`, 0, MAX_RESERVE_BLOCKS);
  }
  if (v.checkShared !== undefined) {
    if (code !== OP_CLONE_RANGE && code !== OP_DEDUPE_RANGE) c.fail(`${where}.checkShared`, `not valid for ${name} (only for clone_range and dedupe_range)`);
    r.checkShared = c.bool(v.checkShared, `${where}.checkShared`);
  }
  if (v.dsync !== undefined) {
    if (code !== OP_WRITE && code !== OP_WRITE_DIRECT) c.fail(`${where}.dsync`, `not valid for ${name} (only for write and write_direct)`);
    if (r.faultAt !== undefined || r.reserveBlocks !== undefined) c.fail(`${where}.dsync`, 'cannot be combined with faultAt or reserveBlocks on one op');
    r.dsync = c.bool(v.dsync, `${where}.dsync`);
  }
  if (v.invalid !== undefined) {
    if (version < REMOUNT_VERSION) c.fail(`${where}.invalid`, `needs op log version ${REMOUNT_VERSION} (this log says version ${version})`);
    if (!INVALID_OPS.has(code)) c.fail(`${where}.invalid`, `not valid for ${name} (only for ${[...INVALID_OPS].map((x) => OPS[x].name).join(', ')})`);
    for (const k of ['faultAt', 'reserveBlocks', 'dsync', 'noMsync', 'pollute', 'keepSize', 'unshare'] as const) {
      if (r[k] !== undefined) c.fail(`${where}.invalid`, `cannot be combined with ${k} on one op`);
    }
    r.invalid = c.bool(v.invalid, `${where}.invalid`);
  }
}

/** Validate a parsed JSON value as an op log. */
export function validateOpLog(v: unknown, source: string): OpLog {
  const c: Checker = new Checker(source);
  if (!isObj(v)) c.fail('top level', `expected an op log object, got ${describeValue(v)}`);
  if (v.format !== OPLOG_FORMAT) c.fail('format', `expected ${JSON.stringify(OPLOG_FORMAT)}, got ${describeValue(v.format)}`);
  if (typeof v.version !== 'number' || !OPLOG_VERSIONS.includes(v.version)) {
    c.fail('version', `unsupported op log version ${describeValue(v.version)} (this build reads versions ${OPLOG_VERSIONS.slice(0, -1).join(', ')} and ${OPLOG_VERSIONS[OPLOG_VERSIONS.length - 1]})`);
  }
  const version = v.version;
  c.keys(v, 'top level', TOP_KEYS);
  for (const k of ['adapter', 'geometry', 'seed', 'ops'] as const) if (v[k] === undefined) c.fail('top level', `missing field "${k}"`);
  const log: OpLog = {
    format: OPLOG_FORMAT,
    version: OPLOG_VERSION,
    adapter: c.str(v.adapter, 'adapter'),
    geometry: checkGeometry(c, v.geometry, 'geometry'),
    seed: c.int(v.seed, 'seed', 0, 0xffffffff),
    ops: [],
  };
  if (v.setup !== undefined) log.setup = checkSetup(c, v.setup, 'setup', log.geometry);
  if (v.options !== undefined) log.options = checkOptions(c, v.options, 'options');
  if (v.description !== undefined) log.description = c.str(v.description, 'description');
  if (v.kernels !== undefined) log.kernels = checkKernels(c, v.kernels, 'kernels');
  if (!Array.isArray(v.ops)) c.fail('ops', `expected an array, got ${describeValue(v.ops)}`);
  log.ops = v.ops.map((o, i) => checkOp(c, o, `ops[${i}]`, version));
  if (v.expected !== undefined) {
    log.expected = checkExpected(c, v.expected, 'expected');
    if (log.expected.outcome === 'fail' && log.expected.op > log.ops.length) {
      c.fail('expected.op', `op ${log.expected.op} is past the last op (${log.ops.length})`);
    }
  }
  return log;
}

/** A kernel release as `uname -r` prints it, from its major.minor on ("6.18.44-fc-v1272"). */
export const KERNEL_RELEASE_RE = /^\d+\.\d+(\.|-|$)/;

/** `kernels`: a non-empty array of kernel releases, each starting with major.minor. */
function checkKernels(c: Checker, v: unknown, where: string): string[] {
  if (!Array.isArray(v) || v.length === 0) c.fail(where, `expected a non-empty array of kernel releases ("6.18.44"), got ${describeValue(v)}`);
  return v.map((x, i) => {
    const r = c.str(x, `${where}[${i}]`);
    if (!KERNEL_RELEASE_RE.test(r)) c.fail(`${where}[${i}]`, `${JSON.stringify(r)} is not a kernel release (uname -r: major.minor first, "6.18.44")`);
    return r;
  });
}

/** Parse and validate a JSON op log. */
export function parseJsonLog(text: string, source: string): OpLog {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    const msg = e instanceof Error ? e.message.split('\n')[0] : String(e);
    throw new OpLogError(`${source}: not valid JSON (truncated or malformed): ${msg}`);
  }
  return validateOpLog(v, source);
}

/** Parse an op log, JSON or .fsxops (told apart by the first non-blank character). */
export function parseOpLog(text: string, source: string, fsxDefaults?: FsxopsDefaults): OpLog {
  const t = text.replace(/^\uFEFF/, '').trimStart();
  if (t === '') throw new OpLogError(`${source}: empty file (expected a JSON op log or an .fsxops file)`);
  if (t.startsWith('{') || t.startsWith('[')) return parseJsonLog(t, source);
  return fromFsxops(text, source, fsxDefaults);
}

/** JSON text of a log: header fields, then one op per line (readable, diffable). */
export function serializeOpLog(log: OpLog): string {
  const head: string[] = [];
  for (const k of TOP_KEYS) {
    if (k === 'ops' || k === 'expected') continue;
    const v = (log as unknown as Obj)[k];
    if (v !== undefined) head.push(`  ${JSON.stringify(k)}: ${JSON.stringify(v)}`);
  }
  const ops = log.ops.map((o) => '    ' + JSON.stringify(canonicalOp(o)));
  head.push(ops.length === 0 ? '  "ops": []' : `  "ops": [\n${ops.join(',\n')}\n  ]`);
  if (log.expected !== undefined) head.push(`  "expected": ${JSON.stringify(log.expected)}`);
  return `{\n${head.join(',\n')}\n}\n`;
}

function canonicalOp(o: OpRecord): OpRecord {
  const r: OpRecord = { op: o.op, off: o.off, len: o.len };
  if (o.dst !== undefined) r.dst = o.dst;
  if (o.fileSize !== undefined) r.fileSize = o.fileSize;
  if (o.keepSize !== undefined) r.keepSize = o.keepSize;
  if (o.unshare !== undefined) r.unshare = o.unshare;
  if (o.closeOpen !== undefined) r.closeOpen = o.closeOpen;
  if (o.skip !== undefined) r.skip = o.skip;
  if (o.noMsync !== undefined) r.noMsync = o.noMsync;
  if (o.pollute !== undefined) r.pollute = o.pollute;
  if (o.faultAt !== undefined) r.faultAt = o.faultAt;
  if (o.reserveBlocks !== undefined) r.reserveBlocks = o.reserveBlocks;
  if (o.checkShared !== undefined) r.checkShared = o.checkShared;
  if (o.dsync !== undefined) r.dsync = o.dsync;
  if (o.invalid !== undefined) r.invalid = o.invalid;
  for (const k of ['evict', 'mmap', 'drop', 'torn'] as const) if (o[k] !== undefined) r[k] = o[k];
  return r;
}

// ---- packed buffer <-> records ------------------------------------------------------------------

/** Records for ops [0, count) of a run (flags become booleans; the size before each op is kept). */
export function recordsFromBuffer(buf: OpBuffer, count: number): OpRecord[] {
  const out: OpRecord[] = [];
  for (let i = 0; i < count; i++) {
    const info = OPS[buf.code[i]];
    const f = buf.flags[i];
    const r: OpRecord = { op: info.name, off: buf.off[i], len: buf.len[i] };
    if (info.twoRange) r.dst = buf.dst[i];
    r.fileSize = buf.size[i];
    if ((f & FL_KEEP_SIZE) !== 0) r.keepSize = true;
    if ((f & FL_UNSHARE) !== 0) r.unshare = true;
    if ((f & FL_CLOSE_OPEN) !== 0) r.closeOpen = true;
    if ((f & FL_SKIPPED) !== 0) r.skip = true;
    if ((f & FL_NO_MSYNC) !== 0) r.noMsync = true;
    if ((f & FL_POLLUTE) !== 0) r.pollute = true;
    if ((f & FL_FAULT_AT) !== 0) r.faultAt = buf.dst[i];
    if ((f & FL_RESERVE) !== 0) r.reserveBlocks = buf.dst[i];
    if ((f & FL_CHECK_SHARED) !== 0) r.checkShared = true;
    if ((f & FL_DSYNC) !== 0) r.dsync = true;
    if ((f & FL_INVALID) !== 0) r.invalid = true;
    if (info.code === OP_FAULT_READ) {
      if ((buf.dst[i] & FAULT_READ_EVICT) !== 0) r.evict = true;
      if ((buf.dst[i] & FAULT_READ_MMAP) !== 0) r.mmap = true;
    } else if (info.code === OP_FAULT_WRITE) {
      if (buf.dst[i] === 1) r.drop = true;
      if (buf.dst[i] === 2) r.torn = true;
    }
    out.push(r);
  }
  return out;
}

/** A packed buffer holding a log's ops (for the runner). Records must be validated already. */
export function bufferFromRecords(ops: readonly OpRecord[]): OpBuffer {
  const buf = new OpBuffer(Math.max(16, ops.length));
  for (const r of ops) {
    const info = opByName(r.op);
    if (info === undefined) throw new OpLogError(`unknown op ${JSON.stringify(r.op)}`);
    const flags = (r.keepSize === true ? FL_KEEP_SIZE : 0) | (r.unshare === true ? FL_UNSHARE : 0)
      | (r.closeOpen === true ? FL_CLOSE_OPEN : 0) | (r.skip === true ? FL_SKIPPED : 0) | (r.noMsync === true ? FL_NO_MSYNC : 0)
      | (r.pollute === true ? FL_POLLUTE : 0) | (r.faultAt !== undefined ? FL_FAULT_AT : 0)
      | (r.reserveBlocks !== undefined ? FL_RESERVE : 0) | (r.checkShared === true ? FL_CHECK_SHARED : 0)
      | (r.dsync === true ? FL_DSYNC : 0) | (r.invalid === true ? FL_INVALID : 0);
    const fault = info.code === OP_FAULT_READ || info.code === OP_FAULT_WRITE;
    const i = buf.push(info.code, r.off, r.len, fault ? faultDst(r, info.code) : r.dst ?? r.faultAt ?? r.reserveBlocks ?? 0, flags);
    buf.size[i] = r.fileSize ?? 0;
  }
  return buf;
}

// ---- .fsxops ------------------------------------------------------------------------------------

/** What an .fsxops file without a `#@meta` line is taken to be. */
export interface FsxopsDefaults {
  adapter?: string;
  geometry?: Geometry;
  seed?: number;
  options?: LogOptions;
}

/** fsx ops we know of but do not model: importing them is an error that says so (none left). */
const FSX_UNSUPPORTED = new Set<string>([]);

/** fsx's strtoul(str, &end, 0) for one argument, strict: hex 0x.., octal 0.., decimal. */
function parseFsxNumber(tok: string): number | null {
  let v: number;
  if (/^0[xX][0-9a-fA-F]+$/.test(tok)) v = parseInt(tok.slice(2), 16);
  else if (/^0[0-7]*$/.test(tok)) v = parseInt(tok, 8);
  else if (/^[1-9][0-9]*$/.test(tok)) v = parseInt(tok, 10);
  else return null;
  return v;
}

/**
 * Markers: a `#@NAME` line says something about the op on the next non-comment line. fsx skips
 * them as comments and replays that op as its plain fsx twin, which moves the same bytes.
 */
const MARKERS = {
  '#@direct': 'O_DIRECT: the next read/write is read_direct/write_direct',
  '#@async': 'the next write is write_direct_async',
  '#@race': 'the next write/punch_hole is race_write/race_punch (runs inside the write after it)',
  '#@nomsync': 'the next op leaves its mmap stores unsynced (noMsync)',
  '#@pollute': 'the next op pollutes the EOF page first if it changes the size (pollute)',
} as const;
type Marker = keyof typeof MARKERS;

/** The fsx op a marked op of ours is written as (after its marker lines). */
const MARKED: Record<number, { name: string; markers: Marker[] }> = {
  [OP_READ_DIRECT]: { name: 'read', markers: ['#@direct'] },
  [OP_WRITE_DIRECT]: { name: 'write', markers: ['#@direct'] },
  [OP_WRITE_DIRECT_ASYNC]: { name: 'write', markers: ['#@async'] },
  [OP_RACE_WRITE]: { name: 'write', markers: ['#@race'] },
  [OP_RACE_PUNCH]: { name: 'punch_hole', markers: ['#@race'] },
};

/** Export a log as .fsxops text (replayable by `fsx --replay-ops` for the ops fsx knows). */
export function toFsxops(log: OpLog): string {
  const meta: Obj = { adapter: log.adapter, geometry: log.geometry, seed: log.seed };
  if (log.setup !== undefined) meta.setup = log.setup;
  if (log.options !== undefined) meta.options = log.options;
  if (log.description !== undefined) meta.description = log.description;
  if (log.kernels !== undefined) meta.kernels = log.kernels;
  if (log.expected !== undefined) meta.expected = log.expected;
  const lines = [
    `# iomap-harness op log (${OPLOG_FORMAT} v${OPLOG_VERSION}) in fsx --replay-ops format; "#@" lines are iomap-harness extensions`,
    `#@meta ${JSON.stringify(meta)}`,
  ];
  const badoff = log.expected?.outcome === 'fail' && log.expected.offset !== undefined ? log.expected.offset : -1;
  const buf = bufferFromRecords(log.ops);
  log.ops.forEach((r, i) => {
    const info = opByName(r.op) as (typeof OPS)[number];
    let name = r.op;
    let prefix = '';
    const marked = MARKED[info.code];
    if (marked !== undefined) {
      lines.push(...marked.markers);
      name = marked.name;
    } else if (!info.fsx) {
      prefix = '#@ ';
    }
    if (r.noMsync === true) lines.push('#@nomsync');
    if (r.pollute === true) lines.push('#@pollute');
    lines.push(...attributeLines(r));
    const args = [r.off, r.len];
    if (info.twoRange) args.push(r.dst ?? 0);
    args.push(r.fileSize ?? 0);
    let line = `${prefix}${r.skip === true ? 'skip ' : ''}${name} ${args.map((a) => '0x' + a.toString(16)).join(' ')}`;
    if (r.keepSize === true) line += ' keep_size';
    if (r.closeOpen === true) line += ' close_open';
    if (r.unshare === true) line += ' unshare';
    if (badoff >= 0 && describeOp(buf, i, badoff).overlap) line += ' *';
    lines.push(line);
  });
  return lines.join('\n') + '\n';
}

/**
 * Version 3 attributes as `#@` lines before their op (fsx reads comments; it replays a faulting or
 * reservation-capped write as a whole write, and makes no SHARED check).
 */
const ATTRIBUTE_LINES: ReadonlyArray<{
  line: string; field: 'faultAt' | 'reserveBlocks' | 'checkShared' | 'dsync' | 'evict' | 'mmap' | 'drop' | 'torn' | 'invalid'; takesNumber: boolean;
}> = [
  { line: '#@faultat', field: 'faultAt', takesNumber: true },
  { line: '#@reserve', field: 'reserveBlocks', takesNumber: true },
  { line: '#@shared', field: 'checkShared', takesNumber: false },
  { line: '#@dsync', field: 'dsync', takesNumber: false },
  { line: '#@invalid', field: 'invalid', takesNumber: false },
  // Version 4: the device fault ops' attributes (the ops themselves are `#@ fault_read ...` lines).
  { line: '#@evict', field: 'evict', takesNumber: false },
  { line: '#@mmap', field: 'mmap', takesNumber: false },
  { line: '#@drop', field: 'drop', takesNumber: false },
  { line: '#@torn', field: 'torn', takesNumber: false },
];

function attributeLines(r: OpRecord): string[] {
  const out: string[] = [];
  for (const a of ATTRIBUTE_LINES) {
    const v = r[a.field];
    if (v === undefined || v === false) continue;
    out.push(a.takesNumber ? `${a.line} 0x${(v as number).toString(16)}` : a.line);
  }
  return out;
}

/**
 * An attribute line of an .fsxops file: its field and value into `pending` (checked with the op it
 * applies to). False when the line is not one.
 */
function readAttributeLine(c: Checker, toks: string[], where: string, line: number, pending: Map<string, { value: unknown; line: number }>): boolean {
  const a = ATTRIBUTE_LINES.find((x) => x.line === toks[0]);
  if (a === undefined) return false;
  if (toks.length !== (a.takesNumber ? 2 : 1)) c.fail(where, `${a.line} takes ${a.takesNumber ? 'one number' : 'no arguments'}`);
  if (pending.has(a.field)) c.fail(where, `${a.line} twice (the one on line ${pending.get(a.field)!.line} applies to no op)`);
  let value: unknown = true;
  if (a.takesNumber) {
    value = parseFsxNumber(toks[1]);
    if (value === null) c.fail(where, `${a.line}: bad number ${JSON.stringify(toks[1])}`);
  }
  pending.set(a.field, { value, line });
  return true;
}

/** The op a marked fsx line stands for, or an error message. */
function markedOp(code: number, name: string, marks: ReadonlyMap<Marker, number>): number | string {
  let c = code;
  if (marks.has('#@direct')) {
    if (c !== OP_READ && c !== OP_WRITE) return `#@direct (line ${marks.get('#@direct')}) must be followed by a read or write, got ${name}`;
    c = c === OP_READ ? OP_READ_DIRECT : OP_WRITE_DIRECT;
  }
  if (marks.has('#@async')) {
    if (c !== OP_WRITE) return `#@async (line ${marks.get('#@async')}) must be followed by a write, got ${marks.has('#@direct') ? 'a #@direct one' : name}`;
    c = OP_WRITE_DIRECT_ASYNC;
  }
  if (marks.has('#@race')) {
    if (c !== OP_WRITE && c !== OP_PUNCH_HOLE) return `#@race (line ${marks.get('#@race')}) must be followed by a write or punch_hole, got ${OPS[c].name}`;
    c = c === OP_WRITE ? OP_RACE_WRITE : OP_RACE_PUNCH;
  }
  return c;
}

/** Import .fsxops text (fsx's own files, or ours with `#@` extension lines). */
export function fromFsxops(text: string, source: string, defaults: FsxopsDefaults = {}): OpLog {
  const log: OpLog = {
    format: OPLOG_FORMAT,
    version: OPLOG_VERSION,
    adapter: defaults.adapter ?? '',
    geometry: defaults.geometry ?? { blockSize: 4096, pageSize: 4096 },
    seed: defaults.seed ?? 1,
    ops: [],
  };
  if (defaults.options !== undefined) log.options = defaults.options;
  const c: Checker = new Checker(source);
  /** Markers waiting for their op, with the line they were on. */
  const marks = new Map<Marker, number>();
  /** Attribute lines waiting for their op: field, value, line. */
  const attrs = new Map<string, { value: unknown; line: number }>();
  const lines = text.split('\n');
  for (let ln = 0; ln < lines.length; ln++) {
    const where = `line ${ln + 1}`;
    let toks = lines[ln].replace(/\r$/, '').split(/[ \t]+/).filter((x) => x !== '');
    if (toks.length === 0) continue;
    if (toks[0].startsWith('#')) {
      if (toks[0] === '#@meta') {
        const json = lines[ln].slice(lines[ln].indexOf('#@meta') + 6).trim();
        let m: unknown;
        try {
          m = JSON.parse(json);
        } catch (e) {
          c.fail(where, `#@meta: not valid JSON: ${e instanceof Error ? e.message.split('\n')[0] : String(e)}`);
        }
        if (!isObj(m)) c.fail(where, '#@meta: expected an object');
        c.keys(m, `${where}: #@meta`, ['adapter', 'geometry', 'setup', 'seed', 'options', 'description', 'kernels', 'expected']);
        if (m.adapter !== undefined) log.adapter = c.str(m.adapter, `${where}: #@meta.adapter`);
        if (m.geometry !== undefined) log.geometry = checkGeometry(c, m.geometry, `${where}: #@meta.geometry`);
        if (m.seed !== undefined) log.seed = c.int(m.seed, `${where}: #@meta.seed`, 0, 0xffffffff);
        if (m.setup !== undefined) log.setup = checkSetup(c, m.setup, `${where}: #@meta.setup`, log.geometry);
        if (m.options !== undefined) log.options = checkOptions(c, m.options, `${where}: #@meta.options`);
        if (m.description !== undefined) log.description = c.str(m.description, `${where}: #@meta.description`);
        if (m.kernels !== undefined) log.kernels = checkKernels(c, m.kernels, `${where}: #@meta.kernels`);
        if (m.expected !== undefined) log.expected = checkExpected(c, m.expected, `${where}: #@meta.expected`);
        continue;
      }
      if (readAttributeLine(c, toks, where, ln + 1, attrs)) continue;
      if (Object.prototype.hasOwnProperty.call(MARKERS, toks[0])) {
        const mk = toks[0] as Marker;
        if (toks.length !== 1) c.fail(where, `${mk} takes no arguments`);
        if (marks.has(mk)) c.fail(where, `${mk} twice (the one on line ${marks.get(mk)} applies to no op)`);
        marks.set(mk, ln + 1);
        continue;
      }
      if (toks[0] !== '#@') continue; // an ordinary comment
      toks = toks.slice(1);
      if (toks.length === 0) c.fail(where, '"#@" without an op');
    }
    let skip = false;
    if (toks[0] === 'skip') {
      skip = true;
      toks = toks.slice(1);
      if (toks.length === 0) c.fail(where, '"skip" without an op');
    }
    const name = toks[0];
    if (FSX_UNSUPPORTED.has(name)) c.fail(where, `fsx op ${JSON.stringify(name)} is not supported by iomap-harness`);
    const info = opByName(name);
    if (info === undefined) c.fail(where, `unknown op ${JSON.stringify(name)}`);
    const noMsync = marks.has('#@nomsync');
    const pollute = marks.has('#@pollute');
    marks.delete('#@nomsync');
    marks.delete('#@pollute');
    const code = markedOp(info.code, name, marks);
    if (typeof code === 'string') c.fail(where, code);
    marks.clear();
    const nargs = info.twoRange ? 4 : 3;
    if (toks.length < 1 + nargs) c.fail(where, `${name} needs ${nargs} arguments, got ${toks.length - 1}`);
    const args: number[] = [];
    for (let k = 1; k <= nargs; k++) {
      const v = parseFsxNumber(toks[k]);
      if (v === null) c.fail(where, `bad number ${JSON.stringify(toks[k])} (argument ${k} of ${name})`);
      if (v > MAX_OFFSET) c.fail(where, `argument ${k} of ${name} (${toks[k]}) is past the limit 2^53-1 (${MAX_OFFSET})`);
      args.push(v);
    }
    const raw: Obj = { op: OPS[code].name, off: args[0], len: args[1] };
    if (info.twoRange) raw.dst = args[2];
    raw.fileSize = args[nargs - 1];
    const flagField: Record<string, keyof OpRecord> = { keep_size: 'keepSize', close_open: 'closeOpen', unshare: 'unshare' };
    for (const f of toks.slice(1 + nargs)) {
      if (f === '*') continue;
      const field = flagField[f];
      if (field === undefined) c.fail(where, `unknown flag ${JSON.stringify(f)} (expected keep_size, close_open, unshare or *)`);
      if (raw[field] !== undefined) c.fail(where, `${f} given twice`);
      const ok = f === 'close_open' || info.code === OP_FALLOCATE || (f === 'keep_size' && info.code === OP_ZERO_RANGE);
      if (!ok) c.fail(where, `${f} is not valid for ${OPS[code].name}`);
      raw[field] = true;
    }
    if (skip) raw.skip = true;
    if (noMsync) raw.noMsync = true;
    if (pollute) raw.pollute = true;
    for (const [field, a] of attrs) raw[field] = a.value;
    attrs.clear();
    log.ops.push(checkOp(c, raw, where, OPLOG_VERSION));
  }
  for (const [mk, line] of marks) c.fail(`line ${line}`, `${mk} at the end of the file applies to no op`);
  for (const [field, a] of attrs) c.fail(`line ${a.line}`, `the ${field} line at the end of the file applies to no op`);
  if (log.expected?.outcome === 'fail' && log.expected.op > log.ops.length) {
    c.fail('#@meta.expected.op', `op ${log.expected.op} is past the last op (${log.ops.length})`);
  }
  return log;
}
