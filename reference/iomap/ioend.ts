/**
 * Writeback ioends (fs/iomap/ioend.c and the ioend half of 6.12's buffered-io.c): building an
 * ioend from dirty ranges, the "can add" rules, submission through ->prepare_ioend, completion
 * (iomap_finish_ioends), and the completion-batching helpers iomap_sort_ioends /
 * iomap_ioend_try_merge that filesystems use from their own completion work. The current
 * generation's pieces sit beside the 6.12 ones: iomapAddToIoend (called by the filesystem's
 * ->writeback_range), iomapIoendWritebackSubmit (its ->writeback_submit helper), and ioends
 * described by IOMAP_IOEND_* flags.
 */
import {
  Inode, Iomap, IOMAP_F_BOUNDARY, IOMAP_F_SHARED, IOMAP_HOLE, IOMAP_INLINE, IOMAP_IOEND_BOUNDARY, IOMAP_IOEND_NOMERGE_FLAGS,
  IOMAP_IOEND_SHARED, IOMAP_IOEND_UNWRITTEN, IOMAP_UNWRITTEN, SECTOR_SIZE, WritepageCtx, WritebackControl, iomapSector,
} from './types';
import { Folio } from './folio';
import type { PendingCompletion } from './bio';
import type { BlockDevice } from '../device/types';
import { isFsError, EIO } from '../errno';
import { modelBugs } from '../bugs';

/** IOEND_BATCH_SIZE: folios per ioend before a new one is forced. */
export const IOEND_BATCH_SIZE = 4096;
/** BIO_MAX_VECS: segments one bio can hold before a new ioend is needed (6.12). */
export const BIO_MAX_VECS = 256;

export interface IoendSegment {
  folio: Folio;
  poff: number;
  len: number;
}

let ioendSerial = 0;

export class Ioend {
  readonly id = ++ioendSerial;
  readonly inode: Inode;
  /** io_type: the mapping type (MAPPED, UNWRITTEN, ...). */
  readonly type: number;
  /** 6.12 io_flags: a copy of the mapping's IOMAP_F_* flags. */
  readonly flags: number;
  /** current io_flags: IOMAP_IOEND_* (what the filesystem's completion must do). */
  readonly ioFlags: number;
  readonly offset: number;
  size = 0;
  /** Bytes in the bio (size may stop short of it at EOF in the current generation). */
  bioSize = 0;
  /** First 512-byte sector. */
  readonly sector: number;
  readonly bdev: BlockDevice | null;
  readonly segments: IoendSegment[] = [];
  /** bi_status: 0 or a negative errno. */
  status = 0;
  /** Completion handler a filesystem installs from ->prepare_ioend (must finish the ioend). */
  endIo: ((ioend: Ioend) => void) | null = null;
  /** ioends merged into this one by iomapIoendTryMerge. */
  chain: Ioend[] = [];
  private: unknown = null;
  finished = false;
  /** Sent to the device, or failed at submission (the contract monitor's C04). */
  submitted = false;

  constructor(inode: Inode, map: Iomap, pos: number, ioFlags = ioendFlagsOf(map, pos)) {
    this.inode = inode;
    this.type = map.type;
    this.flags = map.flags;
    this.ioFlags = ioFlags;
    this.offset = pos;
    this.sector = iomapSector(map, pos);
    this.bdev = map.bdev;
  }

  /** io_sector + io_size in sectors: where a merged-in ioend must start. */
  get endSector(): number {
    return this.sector + Math.floor(this.size / SECTOR_SIZE);
  }

  /** bio_end_sector(): where the next bytes appended to this bio go on the device. */
  get bioEndSector(): number {
    return this.sector + this.bioSize / SECTOR_SIZE;
  }

  get folios(): Folio[] {
    const out: Folio[] = [];
    for (const s of this.segments) if (out[out.length - 1] !== s.folio) out.push(s.folio);
    for (const c of this.chain) out.push(...c.folios);
    return out;
  }
}

/** The IOMAP_IOEND_* flags an ioend for `map` starting at `pos` gets (iomap_add_to_ioend). */
export function ioendFlagsOf(map: Iomap, pos: number): number {
  let f = 0;
  if (map.type === IOMAP_UNWRITTEN) f |= IOMAP_IOEND_UNWRITTEN;
  if (map.flags & IOMAP_F_SHARED) f |= IOMAP_IOEND_SHARED;
  if (pos === map.offset && (map.flags & IOMAP_F_BOUNDARY)) f |= IOMAP_IOEND_BOUNDARY;
  return f;
}

/** iomap_can_add_to_ioend() (6.12). */
export function canAddToIoend(wpc: WritepageCtx, pos: number): boolean {
  const io = wpc.ioend!;
  if ((wpc.iomap.flags & IOMAP_F_SHARED) !== (io.flags & IOMAP_F_SHARED)) return false;
  if (wpc.iomap.type !== io.type) return false;
  if (pos !== io.offset + io.size) return false;
  if (iomapSector(wpc.iomap, pos) !== io.bioEndSector) return false;
  if (wpc.nrFolios >= IOEND_BATCH_SIZE) return false;
  return true;
}

/** bio_add_folio(): false when the bio is full. */
function bioAddFolio(io: Ioend, folio: Folio, len: number, poff: number): boolean {
  const last = io.segments[io.segments.length - 1];
  if (last && last.folio === folio && last.poff + last.len === poff) {
    last.len += len;
    return true;
  }
  if (io.segments.length >= BIO_MAX_VECS) return false;
  io.segments.push({ folio, poff, len });
  return true;
}

/** iomap_add_to_ioend(). */
export function addToIoend(wpc: WritepageCtx, _wbc: WritebackControl, folio: Folio, inode: Inode, pos: number, len: number): number {
  const poff = folio.offsetIn(pos);
  for (;;) {
    if (!wpc.ioend || !canAddToIoend(wpc, pos)) {
      const err = submitIoend(wpc, 0);
      if (err) return err;
      wpc.ioend = new Ioend(inode, wpc.iomap, pos);
      wpc.nrFolios = 0;
    }
    if (bioAddFolio(wpc.ioend, folio, len, poff)) break;
    // new_ioend:
    const err = submitIoend(wpc, 0);
    if (err) return err;
    wpc.ioend = null;
  }
  if (folio.ifs) folio.ifs.writeBytesPending += len;
  wpc.ioend.size += len;
  wpc.ioend.bioSize += len;
  return 0;
}

/**
 * Send the bio's pages to the device. The model writes at submission and completes later: the
 * pages cannot change in between (writers wait for writeback: stable pages), and a device with a
 * volatile cache decides durability at flush time anyway. Returns 0 or -EIO.
 */
function writeIoendToDevice(io: Ioend): number {
  if (!io.bdev) return -EIO;
  let addr = io.sector * SECTOR_SIZE;
  try {
    for (const s of io.segments) {
      io.bdev.write(addr, s.folio.data.subarray(s.poff, s.poff + s.len));
      addr += s.len;
    }
    return 0;
  } catch (e) {
    if (isFsError(e)) return -EIO;
    throw e;
  }
}

/** bio completion: record the device status and run the completion handler. */
function ioendBioDone(io: Ioend): void {
  if (io.endIo) io.endIo(io);
  else iomapFinishIoends(io, io.status);
}

/**
 * iomap_submit_ioend(): let the filesystem prepare (and maybe fail) the ioend, then either fail
 * the bio at once or send it. Sent bios complete later through the mapping's BioQueue.
 */
export function submitIoend(wpc: WritepageCtx, error: number): number {
  const io = wpc.ioend;
  if (!io) return error;
  if (wpc.ops?.prepareIoend) error = wpc.ops.prepareIoend(io, error);
  return sendIoend(wpc, error);
}

/** Fail the ioend at once or send it to the device; completion runs later from the BioQueue. */
function sendIoend(wpc: WritepageCtx, error: number): number {
  const io = wpc.ioend!;
  wpc.ioend = null;
  io.submitted = true;
  if (error) {
    io.status = error;
    ioendBioDone(io);
    return error;
  }
  const status = writeIoendToDevice(io);
  io.inode.mapping.queue.submit(new IoendCompletion(io, status));
  return 0;
}

/**
 * The block layer's entry for a submitted writeback ioend. Its label is made only when someone
 * reads it (reports, the failure explorer), from what the ioend was at submission.
 */
class IoendCompletion implements PendingCompletion {
  readonly inode: Inode;
  readonly folios: readonly Folio[];
  private readonly offset: number;
  private readonly size: number;
  private readonly unwritten: boolean;

  constructor(private readonly io: Ioend, private readonly status: number) {
    this.inode = io.inode;
    this.folios = io.folios;
    this.offset = io.offset;
    this.size = io.size;
    this.unwritten = io.type === IOMAP_UNWRITTEN;
  }

  get label(): string {
    return `writeback ioend #${this.io.id} [${this.offset}, +${this.size}) ${this.unwritten ? 'unwritten' : 'mapped'}`;
  }

  complete(): void {
    this.io.status = this.status;
    ioendBioDone(this.io);
  }
}

/* ------------------------------------------------------------------------------------------ */
/* current generation: iomap_add_to_ioend / iomap_ioend_writeback_submit                       */
/* ------------------------------------------------------------------------------------------ */

/** iomap_can_add_to_ioend() (current): by ioend flags, BOUNDARY never appends. */
function canAddToIoendCurrent(wpc: WritepageCtx, pos: number, ioFlags: number): boolean {
  const io = wpc.ioend!;
  if (ioFlags & IOMAP_IOEND_BOUNDARY) return false;
  if ((ioFlags & IOMAP_IOEND_NOMERGE_FLAGS) !== (io.ioFlags & IOMAP_IOEND_NOMERGE_FLAGS)) return false;
  if (pos !== io.offset + io.size) return false;
  if (iomapSector(wpc.iomap, pos) !== io.bioEndSector) return false;
  if (wpc.nrFolios >= IOEND_BATCH_SIZE) return false;
  return true;
}

/** Bytes each iomapAddToIoend call queued, for the contract monitor (null: nobody listens). */
export const addToIoendHook: { queued: ((wpc: WritepageCtx, pos: number, len: number) => void) | null } = { queued: null };

/**
 * iomap_add_to_ioend() (current): queue [pos, pos + dirtyLen) of the folio, clamped to the
 * mapping in wpc.iomap, for writeback. Returns the bytes handled (a HOLE is skipped and counts)
 * or a negative errno. The ioend's size stops at endPos (i_size), so completion never records
 * a size past the in-core EOF.
 */
export function iomapAddToIoend(wpc: WritepageCtx, folio: Folio, pos: number, endPos: number, dirtyLen: number): number {
  const map = wpc.iomap;
  const inode = wpc.inode ?? folio.mapping!.host;
  const mapLen = Math.min(dirtyLen, map.offset + map.length - pos);
  if (!folio.ifs && mapLen < dirtyLen) inode.mapping.warnings.push('add_to_ioend: short mapping for a folio without per-block state');
  if (map.type === IOMAP_INLINE) {
    inode.mapping.warnings.push('add_to_ioend: INLINE mapping');
    return -EIO;
  }
  if (map.type === IOMAP_HOLE) return mapLen;
  if (mapLen <= 0) {
    inode.mapping.warnings.push(`add_to_ioend: mapping does not cover ${pos}`);
    return -EIO;
  }
  const ioFlags = ioendFlagsOf(map, pos);
  const poff = folio.offsetIn(pos);
  for (let fresh = !wpc.ioend || !canAddToIoendCurrent(wpc, pos, ioFlags); ; fresh = true) {
    if (fresh) {
      if (wpc.ioend) {
        const err = wpc.wbOps!.writebackSubmit(wpc, 0);
        if (err) return err;
        wpc.ioend = null;
      }
      wpc.ioend = new Ioend(inode, map, pos, ioFlags);
      wpc.nrFolios = 0;
    }
    if (bioAddFolio(wpc.ioend!, folio, mapLen, poff)) break;
  }
  if (folio.ifs) folio.ifs.writeBytesPending += mapLen;
  const io = wpc.ioend!;
  io.size += mapLen;
  io.bioSize += mapLen;
  if (io.offset + io.size > endPos) io.size = Math.max(0, endPos - io.offset);
  addToIoendHook.queued?.(wpc, pos, mapLen);
  return mapLen;
}

/**
 * iomap_ioend_writeback_submit(): the ->writeback_submit of block-based filesystems. A filesystem
 * that needs its own completion sets wpc.ioend.endIo first and then calls this.
 */
export function iomapIoendWritebackSubmit(wpc: WritepageCtx, error: number): number {
  if (!wpc.ioend) return error;
  return sendIoend(wpc, error);
}

/** iomap_finish_folio_write(). */
function finishFolioWrite(inode: Inode, folio: Folio, len: number): void {
  const ifs = folio.ifs;
  const nblocks = folio.size >>> inode.blkbits;
  if (nblocks > 1 && !ifs) inode.mapping.warnings.push(`finish write: folio ${folio.index} lost its ifs`);
  if (ifs && ifs.writeBytesPending <= 0) inode.mapping.warnings.push(`finish write: folio ${folio.index} has no bytes pending`);
  if (!ifs) {
    folio.writeback = false;
    if (!modelBugs.dontcacheNoDropAtWriteback) inode.mapping.endDropbehind(folio);
    return;
  }
  ifs.writeBytesPending -= len;
  if (ifs.writeBytesPending === 0) {
    folio.writeback = false;
    // folio_end_writeback() -> folio_end_dropbehind(): an uncached write's folio leaves the cache.
    if (!modelBugs.dontcacheNoDropAtWriteback) inode.mapping.endDropbehind(folio);
  }
}

/** iomap_finish_ioend() for buffered writeback. */
function finishIoend(io: Ioend, error: number): void {
  if (io.finished) {
    io.inode.mapping.warnings.push(`ioend #${io.id} finished twice`);
    return;
  }
  io.finished = true;
  const err = io.status || error;
  if (err && !modelBugs.writebackErrorNotRecorded) io.inode.mapping.setError(err);
  for (const s of io.segments) finishFolioWrite(io.inode, s.folio, s.len);
}

/** iomap_finish_ioends(): finish an ioend and everything merged into it. */
export function iomapFinishIoends(io: Ioend, error: number): void {
  const chain = io.chain;
  io.chain = [];
  finishIoend(io, error);
  for (const c of chain) finishIoend(c, error);
}

/** iomap_ioend_can_merge() (current): by ioend flags; a BOUNDARY ioend starts a new chain. */
function ioendCanMergeCurrent(a: Ioend, b: Ioend): boolean {
  if (a.status !== b.status) return false;
  if (b.ioFlags & IOMAP_IOEND_BOUNDARY) return false;
  if ((a.ioFlags & IOMAP_IOEND_NOMERGE_FLAGS) !== (b.ioFlags & IOMAP_IOEND_NOMERGE_FLAGS)) return false;
  if (a.offset + a.size !== b.offset) return false;
  if (a.endSector !== b.sector) return false;
  return true;
}

/** iomap_ioend_can_merge() in the inode's generation. */
export function ioendCanMerge(a: Ioend, b: Ioend): boolean {
  return a.inode.api === 'current' ? ioendCanMergeCurrent(a, b) : ioendCanMerge612(a, b);
}

/** iomap_ioend_can_merge() (6.12). */
function ioendCanMerge612(a: Ioend, b: Ioend): boolean {
  if (a.status !== b.status) return false;
  if ((a.flags & IOMAP_F_SHARED) !== (b.flags & IOMAP_F_SHARED)) return false;
  if ((a.type === IOMAP_UNWRITTEN) !== (b.type === IOMAP_UNWRITTEN)) return false;
  if (a.offset + a.size !== b.offset) return false;
  if (a.endSector !== b.sector) return false;
  return true;
}

/** The mutant's merge test: contiguity and outcome only, no UNWRITTEN/SHARED check. */
function ioendCanMergeIgnoringType(a: Ioend, b: Ioend): boolean {
  return a.status === b.status && a.offset + a.size === b.offset && a.endSector === b.sector;
}

/** iomap_sort_ioends(): by file offset. */
export function iomapSortIoends(list: Ioend[]): void {
  list.sort((a, b) => a.offset - b.offset);
}

/** iomap_ioend_try_merge(): absorb the head of `more` while it can merge. */
export function iomapIoendTryMerge(io: Ioend, more: Ioend[]): void {
  while (more.length && (modelBugs.ioendMergeIgnoresType ? ioendCanMergeIgnoringType(io, more[0]) : ioendCanMerge(io, more[0]))) {
    const next = more.shift()!;
    io.chain.push(next, ...next.chain);
    next.chain = [];
    io.size += next.size;
  }
}
