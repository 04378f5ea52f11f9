/**
 * include/linux/iomap.h, as a model: mapping types, mapping flags, operation flags, the iomap
 * structure, and the ops tables a filesystem provides. Values follow the 6.6–6.14 baseline
 * ("era A"); bit numbers are the kernel's so that traces and protocol messages can be compared
 * with real kernels. The ops tables of the current API generation (IomapWriteOps,
 * IomapWritebackOps, IomapReadOps, the IOMAP_IOEND_* flags) sit beside the 6.12 ones; an inode's
 * `api` says which generation its filesystem is written for (docs/model.md "API generations").
 *
 * Offsets and lengths are JavaScript numbers: the model declares its largest file offset
 * (MAX_LFS_FILESIZE below) as 2^53 − 2^16 so every byte offset it handles is exact.
 */
import type { Folio } from './folio';
import type { AddressSpace } from './pagecache';
import type { Ioend } from './ioend';
import type { BlockDevice } from '../device/types';

export const PAGE_SHIFT = 12;
export const PAGE_SIZE = 1 << PAGE_SHIFT;
export const SECTOR_SHIFT = 9;
export const SECTOR_SIZE = 1 << SECTOR_SHIFT;
/** The model's s_maxbytes: the largest block-aligned (up to 64 KiB) offset below 2^53. */
export const MAX_LFS_FILESIZE = 2 ** 53 - 2 ** 16;

/* §1.2 mapping types (ABI-stable values). */
export const IOMAP_HOLE = 0;
export const IOMAP_DELALLOC = 1;
export const IOMAP_MAPPED = 2;
export const IOMAP_UNWRITTEN = 3;
export const IOMAP_INLINE = 4;
export type IomapType = 0 | 1 | 2 | 3 | 4;
export const IOMAP_TYPE_NAMES = ['HOLE', 'DELALLOC', 'MAPPED', 'UNWRITTEN', 'INLINE'] as const;

/* §1.3 flags set by the filesystem. */
export const IOMAP_F_NEW = 1 << 0;
export const IOMAP_F_DIRTY = 1 << 1;
export const IOMAP_F_SHARED = 1 << 2;
export const IOMAP_F_MERGED = 1 << 3;
export const IOMAP_F_BUFFER_HEAD = 1 << 4;
export const IOMAP_F_XATTR = 1 << 5;
export const IOMAP_F_BOUNDARY = 1 << 6;
/* §1.3 flags set by the core (≤6.14 numbering). */
export const IOMAP_F_SIZE_CHANGED = 1 << 8;
export const IOMAP_F_STALE = 1 << 9;
/**
 * Set by the filesystem on a direct write mapping for an IOMAP_ATOMIC write it can do in one
 * REQ_ATOMIC bio (6.15+; the model's bit, since it keeps the ≤6.14 numbering of the core bits):
 * the mapping must then cover the whole write.
 */
export const IOMAP_F_ATOMIC_BIO = 1 << 10;
/** First filesystem-private bit. */
export const IOMAP_F_PRIVATE = 1 << 12;
/** Bits only the core may set (rule 3). */
export const IOMAP_F_CORE_MASK = IOMAP_F_SIZE_CHANGED | IOMAP_F_STALE;

/* §2 operation flags passed to ->iomap_begin / ->iomap_end. */
export const IOMAP_WRITE = 1 << 0;
export const IOMAP_ZERO = 1 << 1;
export const IOMAP_REPORT = 1 << 2;
export const IOMAP_FAULT = 1 << 3;
export const IOMAP_DIRECT = 1 << 4;
export const IOMAP_NOWAIT = 1 << 5;
export const IOMAP_OVERWRITE_ONLY = 1 << 6;
export const IOMAP_UNSHARE = 1 << 7;
export const IOMAP_DAX = 1 << 8;
/** An RWF_ATOMIC direct write (6.11+): all or nothing; see IOMAP_F_ATOMIC_BIO. */
export const IOMAP_ATOMIC = 1 << 9;
/** An RWF_DONTCACHE buffered write (6.14+): new folios are dropped once written back. */
export const IOMAP_DONTCACHE = 1 << 10;

/** (u64)-1: the address of mappings that have no device location. */
export const IOMAP_NULL_ADDR = -1;

/**
 * The iomap API generation a filesystem's ops tables are written for: '6.12' (the 6.6–6.14
 * baseline: bodies return bytes processed, folio_ops hang off each mapping, writeback through
 * map_blocks/prepare_ioend/discard_folio, ioends carry io_type) or 'current' (6.15+ iteration by
 * iomap_iter_advance, 6.17+ iomap_write_ops and writeback_range/writeback_submit, IOMAP_IOEND_*
 * flags, 6.19+ read ops).
 */
export type IomapApi = '6.12' | 'current';
export const IOMAP_APIS: readonly IomapApi[] = ['6.12', 'current'];

export function isIomapApi(x: unknown): x is IomapApi {
  return x === '6.12' || x === 'current';
}

/** The environment variable that picks the generation used where none is asked for. */
export const API_ENV = 'IOMAP_HARNESS_API';

/**
 * The generation a filesystem with ops tables for both runs in when nobody asked for one:
 * $IOMAP_HARNESS_API ('6.12' or 'current'; docs/model.md "API generations"), else the 6.12
 * baseline. It lets the whole test suite, and every command without --api, run on the current
 * generation. A value that names no generation is bad input.
 */
export function defaultApi(): IomapApi {
  const v = process.env[API_ENV];
  if (v === undefined || v === '') return '6.12';
  if (!isIomapApi(v)) throw new Error(`${API_ENV}=${v}: not an API generation (${IOMAP_APIS.join(' or ')})`);
  return v;
}

/** The inode as the generic layer sees it (the VFS glue owns it; the filesystem hangs state off `fsPrivate`). */
export interface Inode {
  readonly ino: number;
  /** In-core i_size. */
  size: number;
  readonly blkbits: number;
  readonly blockSize: number;
  readonly mapping: AddressSpace;
  /** Filesystem-private state (refs: its extent maps and counters). */
  fsPrivate: unknown;
  /** S_SWAPFILE: an active swap file (swapon to swapoff): its blocks must not change. */
  swapfile?: boolean;
  /** The API generation of the filesystem the inode belongs to (absent: '6.12'). */
  api?: IomapApi;
}

/** struct iomap. The core zeroes it before each ->iomap_begin; the filesystem fills it in. */
export interface Iomap {
  offset: number;
  length: number;
  addr: number;
  type: IomapType;
  flags: number;
  /** Block device for MAPPED/UNWRITTEN I/O (rule 5). */
  bdev: BlockDevice | null;
  /** INLINE: memory holding the bytes; file position p lives at inlineData[p - offset]. */
  inlineData: Uint8Array | null;
  /** Filesystem-private pointer; handed back unchanged to ->iomap_end. */
  private: unknown;
  folioOps: FolioOps | null;
  validityCookie: number;
}

export function zeroedIomap(): Iomap {
  return {
    offset: 0, length: 0, addr: 0, type: IOMAP_HOLE, flags: 0, bdev: null,
    inlineData: null, private: null, folioOps: null, validityCookie: 0,
  };
}

export function resetIomap(m: Iomap): void {
  m.offset = 0; m.length = 0; m.addr = 0; m.type = IOMAP_HOLE; m.flags = 0; m.bdev = null;
  m.inlineData = null; m.private = null; m.folioOps = null; m.validityCookie = 0;
}

export function copyIomap(m: Iomap): Iomap {
  return { ...m };
}

export function iomapEnd(m: Iomap): number {
  return m.offset + m.length;
}

/** iomap_sector(): the 512-byte sector that holds file position `pos`. */
export function iomapSector(m: Iomap, pos: number): number {
  return Math.floor((m.addr + (pos - m.offset)) / SECTOR_SIZE);
}

/** struct iomap_ops: what a filesystem provides to map file ranges. Return 0 or a negative errno. */
export interface IomapOps {
  begin(inode: Inode, pos: number, length: number, flags: number, iomap: Iomap, srcmap: Iomap): number;
  end?(inode: Inode, pos: number, length: number, written: number, flags: number, iomap: Iomap): number;
}

/** struct iomap_folio_ops (≤6.16 hangs off the iomap): page cache write hooks. */
export interface FolioOps {
  /** Return a locked folio containing pos, or a negative errno. */
  getFolio?(iter: IomapIterLike, pos: number, len: number): Folio | number;
  putFolio?(inode: Inode, pos: number, copied: number, folio: Folio): void;
  /** False if the mapping in `iomap` may have changed since ->iomap_begin produced it. */
  iomapValid?(inode: Inode, iomap: Iomap): boolean;
}

/**
 * struct iomap_write_ops (current generation, 6.17+): the buffered-write hooks, passed to
 * iomap_file_buffered_write / iomap_zero_range / iomap_truncate_page / iomap_file_unshare by the
 * filesystem instead of hanging off each mapping (struct iomap lost its folio_ops).
 */
export interface IomapWriteOps extends FolioOps {
  /**
   * Read [pos, pos + len) of the folio before a partial write (6.17+, for filesystems without a
   * block device, e.g. FUSE). Fill the folio's bytes and return 0, or a negative errno. Absent:
   * the core reads from the source mapping's device.
   */
  readFolioRange?(it: IomapIterLike, folio: Folio, pos: number, len: number): number;
}

/**
 * struct iomap_read_ops (current generation, 6.19+): how buffered reads fetch the mapped bytes.
 * Absent: the core's bio read ops (read from the mapping's block device).
 */
export interface IomapReadOps {
  /**
   * Read file range [pos, pos + len) of the current mapping (it.iomap) into `folio`: fill the
   * bytes and return 0, or a negative errno (the range then stays not uptodate and the read
   * stops). The model completes the range (iomap_finish_folio_read) right after the call.
   */
  readFolioRange(it: IomapIterLike, folio: Folio, pos: number, len: number): number;
  /** Submit what readFolioRange queued (optional). */
  submitRead?(it: IomapIterLike): void;
}

/** The view of struct iomap_iter that hooks may read. */
export interface IomapIterLike {
  readonly inode: Inode;
  readonly pos: number;
  readonly len: number;
  readonly flags: number;
  readonly iomap: Iomap;
  readonly srcmap: Iomap;
}

/* ioend flags (current generation, io_flags; replace io_type and the copied IOMAP_F_* flags). */
/** A shared (COW) extent: completion remaps it. */
export const IOMAP_IOEND_SHARED = 1 << 0;
/** An unwritten extent: completion converts it. */
export const IOMAP_IOEND_UNWRITTEN = 1 << 1;
/** Never merge into the previous ioend (the mapping carried IOMAP_F_BOUNDARY at its start). */
export const IOMAP_IOEND_BOUNDARY = 1 << 2;
/** Direct I/O. */
export const IOMAP_IOEND_DIRECT = 1 << 3;
/** Flags that must be equal for two ioends to be merged (BOUNDARY stops a merge one way). */
export const IOMAP_IOEND_NOMERGE_FLAGS = IOMAP_IOEND_SHARED | IOMAP_IOEND_UNWRITTEN | IOMAP_IOEND_DIRECT;

export function ioendFlagNames(f: number): string {
  const table: Array<[number, string]> = [
    [IOMAP_IOEND_SHARED, 'SHARED'], [IOMAP_IOEND_UNWRITTEN, 'UNWRITTEN'], [IOMAP_IOEND_BOUNDARY, 'BOUNDARY'],
    [IOMAP_IOEND_DIRECT, 'DIRECT'],
  ];
  const names = table.filter(([b]) => f & b).map(([, n]) => n);
  const rest = f & ~table.reduce((a, [b]) => a | b, 0);
  if (rest) names.push(`0x${rest.toString(16)}`);
  return names.join('|') || '0';
}

/**
 * struct iomap_writepage_ctx. `iomap` is the cached writeback mapping map_blocks (6.12) or
 * writeback_range (current) maintains; `ioend` is the ioend being built (wb_ctx in current).
 */
export interface WritepageCtx {
  iomap: Iomap;
  ioend: Ioend | null;
  /** 6.12 ops (null for a current-generation context). */
  ops: WritebackOps | null;
  /** current ops (null for a 6.12 context). */
  wbOps: IomapWritebackOps | null;
  /** current: the inode and the writeback control the context was set up for. */
  inode: Inode | null;
  wbc: WritebackControl | null;
  /** Folios added to the current ioend chain (IOEND_BATCH_SIZE cap). */
  nrFolios: number;
  /** Filesystem-private (e.g. a cached validity sequence). */
  private: unknown;
}

/** struct iomap_writeback_ops, W2 form (6.8–6.14): map_blocks gets the dirty run length. */
export interface WritebackOps {
  mapBlocks(wpc: WritepageCtx, inode: Inode, offset: number, len: number): number;
  prepareIoend?(ioend: Ioend, status: number): number;
  discardFolio?(folio: Folio, pos: number): void;
}

/**
 * struct iomap_writeback_ops, current form (6.17+). Both are required.
 */
export interface IomapWritebackOps {
  /**
   * Map (into wpc.iomap, reusing it if still valid) and queue for writeback the dirty range
   * [pos, pos + len) of `folio`, normally by iomapAddToIoend(); endPos is where the data ends
   * (i_size inside the EOF folio). Return the bytes handled from pos (1..len: the core calls
   * again for the rest) or a negative errno; on an error, drop what the failed range reserved
   * (what ->discard_folio did in 6.12).
   */
  writebackRange(wpc: WritepageCtx, folio: Folio, pos: number, len: number, endPos: number): number;
  /**
   * Submit the ioend built in wpc.ioend (set its completion handler first, if any), normally by
   * iomapIoendWritebackSubmit(); a non-zero `error` fails it. Returns 0 or the error.
   */
  writebackSubmit(wpc: WritepageCtx, error: number): number;
}

/** Writeback control (the subset iomap reads). */
export interface WritebackControl {
  syncMode: 'none' | 'all';
  rangeStart: number;
  /** Inclusive end, as in the kernel. */
  rangeEnd: number;
}

export function typeName(t: number): string {
  return IOMAP_TYPE_NAMES[t] ?? `TYPE#${t}`;
}

export function flagNames(f: number): string {
  const names: string[] = [];
  const table: Array<[number, string]> = [
    [IOMAP_F_NEW, 'NEW'], [IOMAP_F_DIRTY, 'DIRTY'], [IOMAP_F_SHARED, 'SHARED'], [IOMAP_F_MERGED, 'MERGED'],
    [IOMAP_F_BUFFER_HEAD, 'BUFFER_HEAD'], [IOMAP_F_XATTR, 'XATTR'], [IOMAP_F_BOUNDARY, 'BOUNDARY'],
    [IOMAP_F_SIZE_CHANGED, 'SIZE_CHANGED'], [IOMAP_F_STALE, 'STALE'], [IOMAP_F_ATOMIC_BIO, 'ATOMIC_BIO'],
  ];
  for (const [bit, n] of table) if (f & bit) names.push(n);
  const rest = f & ~table.reduce((a, [b]) => a | b, 0);
  if (rest) names.push(`0x${rest.toString(16)}`);
  return names.join('|') || '0';
}

export function opFlagNames(f: number): string {
  const table: Array<[number, string]> = [
    [IOMAP_WRITE, 'WRITE'], [IOMAP_ZERO, 'ZERO'], [IOMAP_REPORT, 'REPORT'], [IOMAP_FAULT, 'FAULT'],
    [IOMAP_DIRECT, 'DIRECT'], [IOMAP_NOWAIT, 'NOWAIT'], [IOMAP_OVERWRITE_ONLY, 'OVERWRITE_ONLY'],
    [IOMAP_UNSHARE, 'UNSHARE'], [IOMAP_DAX, 'DAX'], [IOMAP_ATOMIC, 'ATOMIC'], [IOMAP_DONTCACHE, 'DONTCACHE'],
  ];
  const names = table.filter(([b]) => f & b).map(([, n]) => n);
  return names.join('|') || '0';
}

export function roundUp(x: number, a: number): number {
  return Math.ceil(x / a) * a;
}

export function roundDown(x: number, a: number): number {
  return Math.floor(x / a) * a;
}
