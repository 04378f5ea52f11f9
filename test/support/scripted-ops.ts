/**
 * Scripted and recording ops tables for driving the iomap core directly, with exact expected
 * ->iomap_begin / ->iomap_end / ->map_blocks call sequences, plus a bare inode (page cache, no
 * filesystem) to run them against.
 *
 *   const ops = new ScriptedOps([{ map: { offset: 0, length: 4096, type: IOMAP_MAPPED, addr: 8192, bdev } }]);
 *   iomapReadFolio(folio, ops);
 *   assert.deepStrictEqual(ops.trace(), ['begin(0, 4096, 0)', 'end(0, 4096, 4096, 0)']);
 *
 * A script is either a list (the n-th begin gets the n-th step; an unscripted begin fails the
 * test) or a function of the begin arguments. `tableMapper` turns a static extent table into
 * such a function (gaps are HOLEs). `RecordingOps` wraps another ops table (refs) and records
 * the same trace; `tapOps` does that in place, for callers that read the ops from an object
 * (FileHandle reads `fs.iomapOps` on every call).
 */
import {
  FolioOps, Inode, Iomap, IomapOps, IomapType, IOMAP_HOLE, IOMAP_NULL_ADDR, PAGE_SHIFT, WritebackOps,
  WritepageCtx, flagNames, opFlagNames, typeName,
} from '../../reference/iomap/types';
import { AddressSpace } from '../../reference/iomap/pagecache';
import { BioQueue } from '../../reference/iomap/bio';
import { Folio } from '../../reference/iomap/folio';
import { iomapAops } from '../../reference/iomap/buffered-io';
import { iomapWritepages, newWritepageCtx } from '../../reference/iomap/writeback';
import { Ioend, iomapFinishIoends } from '../../reference/iomap/ioend';
import type { BlockDevice } from '../../reference/device/types';
import { FsError } from '../../reference/errno';

/** What a scripted ->iomap_begin puts into the iomap (unset fields keep the zeroed defaults). */
export interface MapSpec {
  offset: number;
  length: number;
  type: IomapType;
  addr?: number;
  flags?: number;
  bdev?: BlockDevice | null;
  inlineData?: Uint8Array | null;
  folioOps?: FolioOps | null;
  validityCookie?: number;
  private?: unknown;
}

export type BeginStep =
  | { map: MapSpec; src?: MapSpec; /** runs inside begin, after the iomap is filled */ action?: () => void }
  | { error: number };

export type Script = BeginStep[] | ((pos: number, length: number, flags: number, n: number) => BeginStep);

export interface BeginRecord {
  fn: 'begin';
  pos: number;
  length: number;
  flags: number;
  /** The iomap and srcmap as the core handed them in (must be zeroed, §3.1). */
  iomapIn: Iomap;
  srcmapIn: Iomap;
}

export interface EndRecord {
  fn: 'end';
  pos: number;
  length: number;
  written: number;
  flags: number;
  /** The mapping as ->iomap_end saw it (flags include core-set SIZE_CHANGED/STALE). */
  map: Iomap;
}

export type CallRecord = BeginRecord | EndRecord;

function describeAddr(m: Iomap): string {
  return m.addr === IOMAP_NULL_ADDR ? 'NULL' : String(m.addr);
}

/** 'begin(pos, length, FLAGS)' / 'end(pos, length, written, FLAGS) [MAPFLAGS]'. */
export function formatCall(c: CallRecord): string {
  if (c.fn === 'begin') return `begin(${c.pos}, ${c.length}, ${opFlagNames(c.flags)})`;
  const mf = c.map.flags ? ` [${flagNames(c.map.flags)}]` : '';
  return `end(${c.pos}, ${c.length}, ${c.written}, ${opFlagNames(c.flags)})${mf}`;
}

export function formatMap(m: Iomap): string {
  return `${typeName(m.type)} [${m.offset}, +${m.length}) @${describeAddr(m)}${m.flags ? ' ' + flagNames(m.flags) : ''}`;
}

export function fillIomap(m: Iomap, s: MapSpec): void {
  m.offset = s.offset;
  m.length = s.length;
  m.type = s.type;
  m.addr = s.addr ?? (s.type === IOMAP_HOLE || s.type === 1 || s.type === 4 ? IOMAP_NULL_ADDR : 0);
  m.flags = s.flags ?? 0;
  m.bdev = s.bdev ?? null;
  m.inlineData = s.inlineData ?? null;
  m.folioOps = s.folioOps ?? null;
  m.validityCookie = s.validityCookie ?? 0;
  m.private = s.private ?? null;
}

/** Shared recording of begin/end calls. */
export class CallLog {
  readonly calls: CallRecord[] = [];

  recordBegin(pos: number, length: number, flags: number, iomap: Iomap, srcmap: Iomap): void {
    this.calls.push({ fn: 'begin', pos, length, flags, iomapIn: { ...iomap }, srcmapIn: { ...srcmap } });
  }

  recordEnd(pos: number, length: number, written: number, flags: number, iomap: Iomap): void {
    this.calls.push({ fn: 'end', pos, length, written, flags, map: { ...iomap } });
  }

  trace(): string[] {
    return this.calls.map(formatCall);
  }

  begins(): BeginRecord[] {
    return this.calls.filter((c): c is BeginRecord => c.fn === 'begin');
  }

  ends(): EndRecord[] {
    return this.calls.filter((c): c is EndRecord => c.fn === 'end');
  }

  clear(): void {
    this.calls.length = 0;
  }
}

/** A scripted ->iomap_begin/->iomap_end pair that records every call. */
export class ScriptedOps extends CallLog implements IomapOps {
  private n = 0;
  private endN = 0;
  /** Return value of the k-th ->iomap_end (default 0). */
  endReturns: number[] = [];
  /** Runs inside ->iomap_end (after recording), e.g. to check state at that moment. */
  onEnd: ((rec: EndRecord) => void) | null = null;
  private readonly script: Script;

  constructor(script: Script) {
    super();
    this.script = script;
  }

  begin(_inode: Inode, pos: number, length: number, flags: number, iomap: Iomap, srcmap: Iomap): number {
    this.recordBegin(pos, length, flags, iomap, srcmap);
    const step = typeof this.script === 'function' ? this.script(pos, length, flags, this.n) : this.script[this.n];
    this.n++;
    if (!step) throw new Error(`unscripted ->iomap_begin #${this.n} (${pos}, ${length}, ${opFlagNames(flags)})`);
    if ('error' in step) return step.error;
    fillIomap(iomap, step.map);
    if (step.src) fillIomap(srcmap, step.src);
    step.action?.();
    return 0;
  }

  end(_inode: Inode, pos: number, length: number, written: number, flags: number, iomap: Iomap): number {
    this.recordEnd(pos, length, written, flags, iomap);
    this.onEnd?.(this.ends()[this.ends().length - 1]);
    return this.endReturns[this.endN++] ?? 0;
  }
}

/** The same, without an ->iomap_end method at all. */
export class BeginOnlyOps extends CallLog implements IomapOps {
  private readonly inner: ScriptedOps;
  constructor(script: Script) {
    super();
    this.inner = new ScriptedOps(script);
  }

  begin(inode: Inode, pos: number, length: number, flags: number, iomap: Iomap, srcmap: Iomap): number {
    this.recordBegin(pos, length, flags, iomap, srcmap);
    return this.inner.begin(inode, pos, length, flags, iomap, srcmap);
  }
}

/**
 * A static extent table as a begin script: the extent containing pos is returned whole; a gap
 * is a HOLE from pos's gap start to the next extent (or `holeEnd`).
 */
export function tableMapper(exts: MapSpec[], holeEnd = 2 ** 50): (pos: number) => BeginStep {
  const sorted = [...exts].sort((a, b) => a.offset - b.offset);
  return (pos: number) => {
    let gapStart = 0;
    for (const e of sorted) {
      if (pos >= e.offset && pos < e.offset + e.length) return { map: e };
      if (e.offset > pos) return { map: { offset: gapStart, length: e.offset - gapStart, type: IOMAP_HOLE } };
      gapStart = e.offset + e.length;
    }
    return { map: { offset: gapStart, length: holeEnd - gapStart, type: IOMAP_HOLE } };
  };
}

/** Wrap an existing ops table and record its calls (the end record shows the flags it saw). */
export class RecordingOps extends CallLog implements IomapOps {
  readonly inner: IomapOps;
  constructor(inner: IomapOps) {
    super();
    this.inner = inner;
  }

  begin(inode: Inode, pos: number, length: number, flags: number, iomap: Iomap, srcmap: Iomap): number {
    this.recordBegin(pos, length, flags, iomap, srcmap);
    return this.inner.begin(inode, pos, length, flags, iomap, srcmap);
  }

  end(inode: Inode, pos: number, length: number, written: number, flags: number, iomap: Iomap): number {
    this.recordEnd(pos, length, written, flags, iomap);
    return this.inner.end ? this.inner.end(inode, pos, length, written, flags, iomap) : 0;
  }
}

/**
 * Record the calls made through `ops` in place (its begin/end are replaced by recording
 * wrappers until restore()). Also records what each begin returned.
 */
export function tapOps(ops: IomapOps): CallLog & { restore(): void; results: Array<{ ret: number; map: Iomap }> } {
  const log = new CallLog() as CallLog & { restore(): void; results: Array<{ ret: number; map: Iomap }> };
  const begin = ops.begin;
  const end = ops.end;
  log.results = [];
  ops.begin = (inode, pos, length, flags, iomap, srcmap) => {
    log.recordBegin(pos, length, flags, iomap, srcmap);
    const ret = begin.call(ops, inode, pos, length, flags, iomap, srcmap);
    log.results.push({ ret, map: { ...iomap } });
    return ret;
  };
  if (end) {
    ops.end = (inode, pos, length, written, flags, iomap) => {
      log.recordEnd(pos, length, written, flags, iomap);
      return end.call(ops, inode, pos, length, written, flags, iomap);
    };
  }
  log.restore = () => {
    ops.begin = begin;
    ops.end = end;
  };
  return log;
}

/* ------------------------------------------------------------------------------------------ */
/* Writeback                                                                                  */
/* ------------------------------------------------------------------------------------------ */

export interface IoendRecord {
  id: number;
  offset: number;
  size: number;
  sector: number;
  type: number;
  flags: number;
  status: number;
  /** Folio positions in the ioend, in order. */
  folios: number[];
}

export type MapBlocksResult = MapSpec | { error: number };

/**
 * Scripted writeback ops: ->map_blocks answers from a function of (offset, len); every call,
 * every discard_folio and every ioend submission (->prepare_ioend) is recorded.
 */
export class ScriptedWritebackOps implements WritebackOps {
  readonly mapCalls: Array<[number, number]> = [];
  readonly discards: Array<[number, number]> = [];
  readonly ioends: IoendRecord[] = [];
  readonly submitted: Ioend[] = [];
  /** Status ->prepare_ioend returns instead of the one it got (null: pass it through). */
  prepareStatus: number | null = null;
  private readonly mapper: (offset: number, len: number) => MapBlocksResult;

  constructor(mapper: (offset: number, len: number) => MapBlocksResult) {
    this.mapper = mapper;
  }

  mapBlocks(wpc: WritepageCtx, _inode: Inode, offset: number, len: number): number {
    this.mapCalls.push([offset, len]);
    const r = this.mapper(offset, len);
    if ('error' in r) return r.error;
    fillIomap(wpc.iomap, r);
    return 0;
  }

  prepareIoend(ioend: Ioend, status: number): number {
    const st = this.prepareStatus ?? status;
    this.ioends.push({
      id: ioend.id, offset: ioend.offset, size: ioend.size, sector: ioend.sector, type: ioend.type,
      flags: ioend.flags, status: st, folios: ioend.folios.map((f) => f.pos),
    });
    this.submitted.push(ioend);
    return st;
  }

  discardFolio(folio: Folio, pos: number): void {
    this.discards.push([folio.pos, pos]);
  }

  /** ioends as compact tuples [offset, size, sector] for assertions. */
  spans(): Array<[number, number, number]> {
    return this.ioends.map((i) => [i.offset, i.size, i.sector]);
  }
}

/** A writeback mapper over a static extent table (gaps are HOLEs). */
export function wbTableMapper(exts: MapSpec[]): (offset: number) => MapSpec {
  const m = tableMapper(exts);
  return (offset: number) => (m(offset) as { map: MapSpec }).map;
}

/* ------------------------------------------------------------------------------------------ */
/* A bare inode                                                                               */
/* ------------------------------------------------------------------------------------------ */

export interface BareInodeOptions {
  blockSize: number;
  /** Largest folio (mapping_max_folio_size). */
  folioSize: number;
  size?: number;
  /** Fill byte of new folios (a poison value shows bytes nobody initialised). */
  newFolioFill?: number;
  /** Writeback ops to install as ->writepages. */
  wbOps?: WritebackOps;
  queue?: BioQueue;
}

/** An inode with a page cache and iomap's aops but no filesystem behind it. */
export function bareInode(o: BareInodeOptions): Inode {
  const blkbits = Math.log2(o.blockSize);
  const minOrder = Math.max(0, blkbits - PAGE_SHIFT);
  const maxOrder = Math.log2(o.folioSize) - PAGE_SHIFT;
  const mapping = new AddressSpace({ minOrder, maxOrder, newFolioFill: o.newFolioFill ?? 0 }, o.queue ?? new BioQueue());
  const inode: Inode = { ino: 1, size: o.size ?? 0, blkbits, blockSize: o.blockSize, mapping, fsPrivate: null };
  mapping.host = inode;
  mapping.aops = iomapAops;
  if (o.wbOps) {
    const wbOps = o.wbOps;
    mapping.writepages = (wbc) => iomapWritepages(mapping, wbc, newWritepageCtx(wbOps));
  }
  return inode;
}

/** Allocate (or find) a folio of exactly `size` bytes at `pos` (which must be size-aligned). */
export function folioAt(inode: Inode, pos: number, size: number): Folio {
  const existing = inode.mapping.folioAt(pos);
  if (existing) return existing;
  const f = inode.mapping.allocFolio(Math.floor(pos / 4096), size);
  if (f.pos !== pos || f.size !== size) throw new Error(`test setup: wanted folio ${pos}+${size}, got ${f.pos}+${f.size}`);
  return f;
}

/** Standard default ioend completion for scripted writeback (no ->prepare_ioend handler). */
export { iomapFinishIoends };

/** The geometries of the acceptance criteria: bs 512/1024/4096 × folio 4K/16K/64K. */
export interface Geo {
  bs: number;
  folio: number;
}

export const ALL_GEOS: Geo[] = [];
for (const bs of [512, 1024, 4096]) for (const folio of [4096, 16384, 65536]) ALL_GEOS.push({ bs, folio });

export function geoName(g: Geo): string {
  return `bs=${g.bs} folio=${g.folio / 1024}K`;
}

/** Deterministic non-zero bytes. */
export function pattern(seed: number, len: number): Uint8Array {
  const out = new Uint8Array(len);
  let x = (seed * 2654435761) >>> 0 || 1;
  for (let i = 0; i < len; i++) {
    x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
    out[i] = (x & 0xff) | 1;
  }
  return out;
}

export function allBytes(buf: Uint8Array, v: number): boolean {
  for (const b of buf) if (b !== v) return false;
  return true;
}

/** Expect a thrown FsError with this code; returns it. */
export function expectFsError(fn: () => unknown, code: string, what = ''): FsError {
  let thrown: unknown;
  try {
    fn();
  } catch (e) {
    thrown = e;
  }
  if (thrown === undefined) throw new Error(`${what}: expected FsError ${code}, nothing was thrown`);
  if (!(thrown instanceof FsError)) throw new Error(`${what}: expected FsError ${code}, got ${String(thrown)}`);
  if (thrown.code !== code) throw new Error(`${what}: expected FsError ${code}, got ${thrown.code}: ${thrown.message}`);
  return thrown;
}

/* ------------------------------------------------------------------------------------------ */
/* refs through the file API                                                                  */
/* ------------------------------------------------------------------------------------------ */

import { MemoryDevice } from '../../reference/device/memory';
import { FaultDevice } from '../../reference/device/fault';
import { IomapFs, FileHandle } from '../../reference/file';
import { Refs, RefsInode } from '../../reference/fs/refs';

export interface RefsEnv {
  dev: FaultDevice;
  fsys: IomapFs;
  fs: Refs;
  fh: FileHandle;
  ri: RefsInode;
  inode: Inode;
}

/** mkfs + mount refs on a FaultDevice over a 64 MiB MemoryDevice, and create file "f". */
export function mountRefs(bs: number, folio: number, opts: { inlineMax?: number; devSize?: number } = {}): RefsEnv {
  const dev = new FaultDevice(new MemoryDevice({ size: opts.devSize ?? 64 << 20 }));
  IomapFs.mkfs(dev, { blockSize: bs, inlineMax: opts.inlineMax ?? 0 });
  const fsys = IomapFs.mount(dev, { maxFolioSize: folio });
  const fh = fsys.open('f', { create: true });
  if (!(fsys.fs instanceof Refs)) throw new Error('test setup: IomapFs.mount did not mount refs');
  return { dev, fsys, fs: fsys.fs, fh, ri: fh.inode.fsPrivate as RefsInode, inode: fh.inode };
}

/** The extent map of a refs inode as [lblk, len, state] triples (physical blocks left out). */
export function extentsOf(ri: RefsInode): Array<[number, number, string]> {
  return ri.extents.exts.map((e) => [e.lblk, e.len, e.state]);
}
