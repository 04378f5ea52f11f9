/**
 * The cells of state coverage (docs/fsx.md "State coverage").
 *
 * A state cell is fsx op × mapping class × folio state × EOF relation, counted for every mapping
 * the generic layer hands out while the op runs (adapters/state-trace.ts); a run has one geometry
 * class. A file cell is fsx op × EOF relation of the op's own range, counted by the runner for
 * every target (what the file API shows); an extent cell is FIEMAP extent class × EOF relation.
 * Cells are indexed into flat typed arrays; names ("write/delalloc/absent/past") are for JSON
 * and tables only.
 */
import {
  EOF_BEFORE, EOF_PAST, EOF_RELATION_NAMES, EOF_STRADDLING, FOLIO_STATE_NAMES, MAP_CLASS_NAMES,
} from '../../adapters/types';
import { eofRelation } from '../../adapters/state-trace';
import {
  OP_CLONE_RANGE, OP_COMPLETE_IO, OP_COPY_RANGE, OP_COUNT, OP_CRASH, OP_DEDUPE_RANGE, OP_EVICT, OP_FDATASYNC, OP_FIEMAP, OP_FSYNC,
  OP_SEEK_DATA, OP_SEEK_HOLE, OP_TRUNCATE, OP_WRITEBACK, OPS,
} from '../fsx/ops';

export const N_MAP = MAP_CLASS_NAMES.length;
export const N_FOLIO = FOLIO_STATE_NAMES.length;
export const N_EOF = EOF_RELATION_NAMES.length;
/** State cells per op. */
export const PER_OP = N_MAP * N_FOLIO * N_EOF;
export const STATE_CELLS = OP_COUNT * PER_OP;

export function stateIndex(op: number, map: number, folio: number, eof: number): number {
  return ((op * N_MAP + map) * N_FOLIO + folio) * N_EOF + eof;
}

/** [op, map, folio, eof] of a state cell index. */
export function stateParts(i: number): [number, number, number, number] {
  const eof = i % N_EOF;
  const folio = Math.floor(i / N_EOF) % N_FOLIO;
  const map = Math.floor(i / (N_EOF * N_FOLIO)) % N_MAP;
  return [Math.floor(i / PER_OP), map, folio, eof];
}

/** "write/delalloc/absent/past" */
export function stateName(i: number): string {
  const [op, map, folio, eof] = stateParts(i);
  return `${OPS[op].name}/${MAP_CLASS_NAMES[map]}/${FOLIO_STATE_NAMES[folio]}/${EOF_RELATION_NAMES[eof]}`;
}

/** One letter per class, for the committed reachable data: map h d m u i s, folio a p u d w, EOF b s p. */
export const MAP_LETTERS = 'hdmuis';
export const FOLIO_LETTERS = 'apudw';
export const EOF_LETTERS = 'bsp';

export function stateCode(i: number): string {
  const [, map, folio, eof] = stateParts(i);
  return MAP_LETTERS[map] + FOLIO_LETTERS[folio] + EOF_LETTERS[eof];
}

/** The per-op offset of a three-letter code, or -1. */
export function codeOffset(code: string): number {
  const m = MAP_LETTERS.indexOf(code[0]);
  const f = FOLIO_LETTERS.indexOf(code[1]);
  const e = EOF_LETTERS.indexOf(code[2]);
  if (code.length !== 3 || m < 0 || f < 0 || e < 0) return -1;
  return (m * N_FOLIO + f) * N_EOF + e;
}

/** FIEMAP extent classes (file level): a gap between extents, then by flag. */
export const EXTENT_CLASS_NAMES = ['hole', 'delalloc', 'mapped', 'unwritten', 'inline', 'shared'] as const;
export const EXTENT_CELLS = EXTENT_CLASS_NAMES.length * N_EOF;

/** Ops whose range is not a file position (they act on the whole file or on pending I/O). */
function positionless(code: number): boolean {
  return code === OP_FSYNC || code === OP_FDATASYNC || code === OP_WRITEBACK || code === OP_COMPLETE_IO || code === OP_CRASH;
}

/**
 * The EOF relation of an op's own range against the size before it: the destination for the
 * two-range ops (where the size may change), one byte at `off` for position-only ops (seek, evict,
 * FIEMAP without length), before for ops without a position, and for truncate: down = before,
 * unchanged = straddling, up = past.
 */
export function fileEof(code: number, off: number, len: number, dst: number, size: number): number {
  if (positionless(code)) return EOF_BEFORE;
  if (code === OP_TRUNCATE) return len < size ? EOF_BEFORE : len === size ? EOF_STRADDLING : EOF_PAST;
  const start = code === OP_CLONE_RANGE || code === OP_COPY_RANGE || code === OP_DEDUPE_RANGE ? dst : off;
  const n = code === OP_SEEK_DATA || code === OP_SEEK_HOLE || code === OP_EVICT || (code === OP_FIEMAP && len === 0) ? 1 : Math.max(len, 1);
  return eofRelation(start, start + n, size);
}

/** [pos, end) against `size`: before, straddling or past it (as the generic-layer trace judges it). */
export const eofRelationOf = eofRelation;

/** Whether `code` has a file position at all (only EOF_BEFORE is reachable otherwise). */
export function hasPosition(code: number): boolean {
  return !positionless(code);
}

/**
 * The geometry class of a run: block size against the page (sub-page, page, super-page) and
 * blocks per largest folio (single, multi), plus "+prealloc" with refs' post-EOF preallocation,
 * which makes mapped blocks past EOF reachable. Coverage is judged within a class.
 */
export function geometryClass(blockSize: number, pageSize: number, folioSize: number, eofPrealloc: boolean): string {
  const b = blockSize < pageSize ? 'subpage' : blockSize === pageSize ? 'page' : 'superpage';
  const f = Math.max(folioSize, blockSize, pageSize) / blockSize > 1 ? 'multi' : 'single';
  return `${b}-${f}${eofPrealloc ? '+prealloc' : ''}`;
}

export { EOF_BEFORE, EOF_PAST, EOF_STRADDLING };

/** The extent class of FIEMAP flags (SHARED first: a shared extent is the COW cell). */
export function extentClassOf(flags: number, f: { shared: number; delalloc: number; unwritten: number; inline: number }): number {
  if ((flags & f.shared) !== 0) return 5;
  if ((flags & f.delalloc) !== 0) return 1;
  if ((flags & f.unwritten) !== 0) return 3;
  if ((flags & f.inline) !== 0) return 4;
  return 2;
}
