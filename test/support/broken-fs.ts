/**
 * Deliberately broken filesystems for the contract monitor's tests: derive an FsInstance from a
 * real one (refs) with one or more callbacks replaced by a buggy version, everything else
 * delegated to the real instance (methods bound to it, so its own state stays consistent and
 * the buggy callback can call the original).
 *
 *   const broken = breakFs(refs, (fs) => ({
 *     end: (orig, inode, pos, length, written, flags, iomap) => { orig(...); return written ? -EIO : 0; },
 *   }));
 *
 * Each hook gets the original callback first. The folio hooks (get_folio / put_folio /
 * iomap_valid) hang off every mapping ->iomap_begin returns (iomap.folioOps, the <=6.16 form):
 * when any of them is broken, breakFs replaces the mapping's folio ops with a stable object made
 * of the broken hooks and the filesystem's own ones. `orig` of getFolio/putFolio is a correct
 * implementation (the filesystem under test may have none).
 *
 * brokenFsAdapter() wraps an FsAdapter the same way, for mountWithMonitor().
 */
import type { FsAdapter } from '../../adapters/fs-adapter';
import type { FsInstance, FsIntrospection, MappingSnapshot } from '../../reference/iomap/fs-ops';
import type { Folio } from '../../reference/iomap/folio';
import type { Ioend } from '../../reference/iomap/ioend';
import {
  FolioOps, Inode, Iomap, IomapIterLike, IomapOps, IomapWritebackOps, IomapWriteOps, IOMAP_HOLE, PAGE_SIZE, SECTOR_SIZE,
  WritebackOps, WritepageCtx, iomapSector,
} from '../../reference/iomap/types';

type Begin = IomapOps['begin'];
type End = NonNullable<IomapOps['end']>;
type MapBlocks = WritebackOps['mapBlocks'];
type PrepareIoend = (ioend: Ioend, status: number) => number;
type DiscardFolio = (folio: Folio, pos: number) => void;
type IomapValid = (inode: Inode, iomap: Iomap) => boolean;
type GetFolio = (it: IomapIterLike, pos: number, len: number) => Folio | number;
type PutFolio = (inode: Inode, pos: number, copied: number, folio: Folio) => void;
type DioEndIo = (inode: Inode, offset: number, size: number, error: number, dioFlags: number) => number;
type Snapshot = (inode: Inode) => MappingSnapshot;
type WritebackRange = IomapWritebackOps['writebackRange'];
type WritebackSubmit = IomapWritebackOps['writebackSubmit'];
type ReadFolioRange = NonNullable<IomapWriteOps['readFolioRange']>;

/** The buggy callbacks. Each receives the original (correct) callback as `orig`. */
export interface Breakage {
  begin?(orig: Begin, inode: Inode, pos: number, len: number, flags: number, iomap: Iomap, srcmap: Iomap): number;
  end?(orig: End, inode: Inode, pos: number, length: number, written: number, flags: number, iomap: Iomap): number;
  mapBlocks?(orig: MapBlocks, wpc: WritepageCtx, inode: Inode, offset: number, len: number): number;
  prepareIoend?(orig: PrepareIoend, ioend: Ioend, status: number): number;
  discardFolio?(orig: DiscardFolio, folio: Folio, pos: number): void;
  iomapValid?(orig: IomapValid, inode: Inode, iomap: Iomap): boolean;
  getFolio?(orig: GetFolio, it: IomapIterLike, pos: number, len: number): Folio | number;
  putFolio?(orig: PutFolio, inode: Inode, pos: number, copied: number, folio: Folio): void;
  dioEndIo?(orig: DioEndIo, inode: Inode, offset: number, size: number, error: number, dioFlags: number): number;
  /* current generation (iomap_writeback_ops, iomap_write_ops) */
  writebackRange?(orig: WritebackRange, wpc: WritepageCtx, folio: Folio, pos: number, len: number, endPos: number): number;
  writebackSubmit?(orig: WritebackSubmit, wpc: WritepageCtx, error: number): number;
  /** `orig` is a correct ->read_folio_range (correctReadFolioRange) when the filesystem has none. */
  readFolioRange?(orig: ReadFolioRange, it: IomapIterLike, folio: Folio, pos: number, len: number): number;
  /** The iomap_read_ops ->read_folio_range (buffered reads); `orig` is the filesystem's (refs: the bio read ops). */
  readOpsRange?(orig: ReadFolioRange, it: IomapIterLike, folio: Folio, pos: number, len: number): number;
  /** Lie in the introspection the monitor uses (what the filesystem says its state is). */
  snapshot?(orig: Snapshot, inode: Inode): MappingSnapshot;
  /** Hide the introspection altogether (the monitor then skips every state-based check). */
  noIntrospection?: boolean;
}

/**
 * A correct ->get_folio: the folio containing pos (allocated if absent), writeback waited for,
 * locked. The core takes the reference itself (reference/iomap/buffered-io.ts getFolio).
 */
export function correctGetFolio(it: IomapIterLike, pos: number, len: number): Folio {
  const mapping = it.inode.mapping;
  const index = Math.floor(pos / PAGE_SIZE);
  const folio = mapping.lookup(index) ?? mapping.allocFolio(index, len);
  mapping.queue.waitFolio(folio);
  folio.locked = true;
  return folio;
}

/** A correct ->put_folio: unlock (the core drops the reference). */
export function correctPutFolio(_inode: Inode, _pos: number, _copied: number, folio: Folio): void {
  folio.locked = false;
}

/**
 * A correct ->read_folio_range (iomap_write_ops): read the range from the source mapping's device
 * into the folio, nothing else.
 */
export function correctReadFolioRange(it: IomapIterLike, folio: Folio, pos: number, len: number): number {
  const src = it.srcmap.type !== IOMAP_HOLE ? it.srcmap : it.iomap;
  if (!src.bdev) return -5;
  const poff = folio.offsetIn(pos);
  src.bdev.read(iomapSector(src, pos) * SECTOR_SIZE, folio.data.subarray(poff, poff + len));
  return 0;
}

/**
 * Derive a broken FsInstance from `fs`. `breakage` may be a function of `fs` (to reach the real
 * instance's state from inside a hook).
 */
export function breakFs(fs: FsInstance, breakage: Breakage | ((fs: FsInstance) => Breakage)): FsInstance {
  const b = typeof breakage === 'function' ? breakage(fs) : breakage;
  const overrides: Record<string | symbol, unknown> = {};

  const rawIomap = fs.iomapOps;
  const folioHooks = b.getFolio || b.putFolio || b.iomapValid;
  const brokenFolioOps = new Map<FolioOps | null, FolioOps>();
  const folioOpsFor = (raw: FolioOps | null): FolioOps => {
    let w = brokenFolioOps.get(raw);
    if (w) return w;
    w = {};
    const origValid = raw?.iomapValid?.bind(raw);
    if (b.iomapValid) {
      const bv = b.iomapValid;
      const orig: IomapValid = origValid ?? (() => true);
      w.iomapValid = (inode, iomap) => bv(orig, inode, iomap);
    } else if (origValid) {
      w.iomapValid = origValid;
    }
    const origGet: GetFolio = raw?.getFolio?.bind(raw) ?? correctGetFolio;
    const origPut: PutFolio = raw?.putFolio?.bind(raw) ?? correctPutFolio;
    if (b.getFolio) {
      const bg = b.getFolio;
      w.getFolio = (it, pos, len) => bg(origGet, it, pos, len);
    } else if (raw?.getFolio) {
      w.getFolio = origGet;
    }
    if (b.putFolio) {
      const bp = b.putFolio;
      w.putFolio = (inode, pos, copied, folio) => bp(origPut, inode, pos, copied, folio);
    } else if (raw?.putFolio) {
      w.putFolio = origPut;
    }
    brokenFolioOps.set(raw, w);
    return w;
  };
  if (b.begin || b.end || folioHooks) {
    const origBegin: Begin = rawIomap.begin.bind(rawIomap);
    const origEnd: End | undefined = rawIomap.end?.bind(rawIomap);
    const ops: IomapOps = {
      begin: (inode, pos, len, flags, iomap, srcmap) => {
        const ret = b.begin ? b.begin(origBegin, inode, pos, len, flags, iomap, srcmap) : origBegin(inode, pos, len, flags, iomap, srcmap);
        if (ret >= 0 && folioHooks) iomap.folioOps = folioOpsFor(iomap.folioOps);
        return ret;
      },
    };
    if (origEnd || b.end) {
      const e: End = origEnd ?? (() => 0);
      ops.end = b.end ? (inode, pos, length, written, flags, iomap) => b.end!(e, inode, pos, length, written, flags, iomap) : e;
    }
    overrides.iomapOps = ops;
  }

  if (b.mapBlocks || b.prepareIoend || b.discardFolio) {
    const raw = fs.writebackOps!;
    const origMap: MapBlocks = raw.mapBlocks.bind(raw);
    const origPrep: PrepareIoend = raw.prepareIoend ? raw.prepareIoend.bind(raw) : (_io, st) => st;
    const origDiscard: DiscardFolio = raw.discardFolio ? raw.discardFolio.bind(raw) : () => undefined;
    const w: WritebackOps = {
      mapBlocks: b.mapBlocks ? (wpc, inode, offset, len) => b.mapBlocks!(origMap, wpc, inode, offset, len) : origMap,
    };
    if (b.prepareIoend) w.prepareIoend = (io, st) => b.prepareIoend!(origPrep, io, st);
    else if (raw.prepareIoend) w.prepareIoend = origPrep;
    if (b.discardFolio) w.discardFolio = (folio, pos) => b.discardFolio!(origDiscard, folio, pos);
    else if (raw.discardFolio) w.discardFolio = origDiscard;
    overrides.writebackOps = w;
  }

  if (b.writebackRange || b.writebackSubmit) {
    const raw = fs.wbOps!;
    const origRange: WritebackRange = raw.writebackRange.bind(raw);
    const origSubmit: WritebackSubmit = raw.writebackSubmit.bind(raw);
    overrides.wbOps = {
      writebackRange: b.writebackRange ? (wpc, folio, pos, len, endPos) => b.writebackRange!(origRange, wpc, folio, pos, len, endPos) : origRange,
      writebackSubmit: b.writebackSubmit ? (wpc, error) => b.writebackSubmit!(origSubmit, wpc, error) : origSubmit,
    } satisfies IomapWritebackOps;
  }

  if (b.readFolioRange) {
    const raw = fs.writeOps ?? {};
    const orig: ReadFolioRange = raw.readFolioRange?.bind(raw) ?? correctReadFolioRange;
    overrides.writeOps = { ...raw, readFolioRange: (it, folio, pos, len) => b.readFolioRange!(orig, it, folio, pos, len) } satisfies IomapWriteOps;
  }

  if (b.readOpsRange) {
    const raw = fs.readOps;
    const orig: ReadFolioRange = raw !== undefined ? raw.readFolioRange.bind(raw) : correctReadFolioRange;
    overrides.readOps = { ...raw, readFolioRange: (it: IomapIterLike, folio: Folio, pos: number, len: number) => b.readOpsRange!(orig, it, folio, pos, len) };
  }

  if (b.dioEndIo) {
    const orig: DioEndIo = fs.dioEndIo ? fs.dioEndIo.bind(fs) : (_i, _o, _s, error) => error;
    overrides.dioEndIo = (inode: Inode, offset: number, size: number, error: number, dioFlags: number) =>
      b.dioEndIo!(orig, inode, offset, size, error, dioFlags);
  }

  if (b.noIntrospection) {
    overrides.introspect = undefined;
  } else if (b.snapshot && fs.introspect) {
    const raw = fs.introspect;
    const orig: Snapshot = raw.snapshot.bind(raw);
    const intro: FsIntrospection = { snapshot: (inode) => b.snapshot!(orig, inode) };
    if (raw.metadataDirty) intro.metadataDirty = raw.metadataDirty.bind(raw);
    overrides.introspect = intro;
  }

  return new Proxy(fs, {
    get(target, prop) {
      if (prop in overrides) return overrides[prop];
      const v = Reflect.get(target, prop, target);
      return typeof v === 'function' ? v.bind(target) : v;
    },
    // IomapFs installs sizeOf on the instance it mounts: it must land on the real one.
    set(target, prop, value) {
      return Reflect.set(target, prop, value, target);
    },
    has(target, prop) {
      if (prop in overrides) return overrides[prop] !== undefined;
      return Reflect.has(target, prop);
    },
  });
}

/** An FsAdapter whose mount() returns breakFs(base.mount(dev), breakage); `inner` is the last real instance. */
export function brokenFsAdapter(base: FsAdapter, breakage: Breakage | ((fs: FsInstance) => Breakage)): FsAdapter & { inner: FsInstance | null } {
  const a = {
    name: `${base.name}+broken`,
    describe: `${base.name} with deliberately broken callbacks`,
    inner: null as FsInstance | null,
    mkfs: base.mkfs.bind(base),
    mount(dev: Parameters<FsAdapter['mount']>[0]): FsInstance {
      a.inner = base.mount(dev);
      return breakFs(a.inner, breakage);
    },
  };
  return a;
}
