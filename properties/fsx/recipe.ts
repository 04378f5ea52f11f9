/**
 * Recipes of coverage-guided generation (docs/fsx.md "Coverage-guided generation"): to reach a
 * state cell the run has not reached — op × mapping class × folio state × EOF relation — it is not
 * enough to draw the op and aim its range at the EOF relation; the block under the range must also
 * have the mapping class and its folio the state. A recipe is a few ordinary fsx ops that prepare
 * one block (the "focus" block, placed before, across or past EOF as the cell wants) and its folio,
 * pushed before the guided op, whose position is then drawn inside a window on that block.
 *
 * The preparation follows what a correct iomap filesystem does (refs, XFS): a punched block is a
 * hole; a buffered write into a hole is delalloc; fsync makes it mapped; fallocate over a hole is
 * unwritten; a clone shares both ends; fsync + evict drops the folio; a read brings it back
 * uptodate; a write makes it dirty; the writeback step puts it under writeback. Every op is an
 * ordinary one with valid arguments for the size the generator expects — the runner still skips
 * whatever does not apply to the real file — so the log replays and shrinks like any other, and
 * a recipe that misses its cell (a target that allocates differently) costs a few ops only.
 */
import {
  EOF_BEFORE, EOF_STRADDLING, FOLIO_ABSENT, FOLIO_DIRTY, FOLIO_PARTIAL, FOLIO_UPTODATE, FOLIO_WRITEBACK,
  MAP_DELALLOC, MAP_HOLE, MAP_MAPPED, MAP_SHARED, MAP_UNWRITTEN,
} from '../../adapters/types';
import { N_EOF, N_FOLIO } from '../coverage/cells';
import type { Prng } from './generator';
import {
  FL_KEEP_SIZE, OP_CLONE_RANGE, OP_COPY_RANGE, OP_EVICT, OP_FALLOCATE, OP_FSYNC, OP_MAPWRITE, OP_PUNCH_HOLE, OP_READ,
  OP_WRITE, OP_WRITEBACK, OP_ZERO_RANGE, OpBuffer,
} from './ops';

/** Most ops a recipe pushes before its guided op (the generator keeps room for them under -N). */
export const RECIPE_MAX_OPS = 6;

/** What a recipe needs from the generator. */
export interface RecipeContext {
  readonly rng: Prng;
  readonly bs: number;
  readonly folioSize: number;
  readonly maxlen: number;
  /** FALLOC_FL_KEEP_SIZE may be used (the target has it). */
  readonly keepSize: boolean;
  /** The generator's weights: a recipe uses only ops that are on. */
  readonly weights: readonly number[];
}

/** The window the guided op's position is drawn in, and the file size the recipe leaves. */
export interface Prepared {
  size: number;
  lo: number;
  hi: number;
}

/** A state cell's offset within its op's row (cells.ts) as [map, folio, eof]. */
export function cellParts(k: number): [number, number, number] {
  return [Math.floor(k / (N_FOLIO * N_EOF)), Math.floor(k / N_EOF) % N_FOLIO, k % N_EOF];
}

/** Ops that make a buffered write over their range: delalloc appears under them from a hole. */
const WRITERS: ReadonlySet<number> = new Set([OP_WRITE, OP_MAPWRITE, OP_COPY_RANGE, OP_ZERO_RANGE]);

class Recipe {
  size: number;
  /** The focus block [s, s + bs). */
  s = 0;

  constructor(private readonly c: RecipeContext, private readonly buf: OpBuffer, size: number) {
    this.size = size;
  }

  private on(code: number): boolean {
    return this.c.weights[code] > 0;
  }

  private push(code: number, off: number, len: number, dst = 0, flags = 0): void {
    if (this.on(code) && len > 0) this.buf.push(code, off, len, dst, flags);
  }

  /** The part of the focus block inside EOF: [s, end) (empty past EOF). */
  private insideEnd(): number {
    return Math.min(this.s + this.c.bs, this.size);
  }

  /** A buffered write of some bytes of [a, b) (inside EOF, so the size stays). */
  private writeIn(a: number, b: number): void {
    if (b <= a) return;
    const rng = this.c.rng;
    const off = a + rng.below(b - a);
    this.push(OP_WRITE, off, 1 + rng.below(b - off));
  }

  private fsync(): void {
    if (this.on(OP_FSYNC)) this.buf.push(OP_FSYNC, 0, 0, 0, 0);
  }

  /** Drop the folio at the focus block (refused while it is dirty or under writeback). */
  private evict(): void {
    if (this.on(OP_EVICT)) this.buf.push(OP_EVICT, this.s, 0, 0, 0);
  }

  /** Place the focus block for EOF relation `eof`; false when the file has no such block. */
  place(eof: number): boolean {
    const bs = this.c.bs;
    const size = this.size;
    if (eof === EOF_BEFORE) {
      const full = Math.floor(size / bs);
      if (full === 0) return false;
      this.s = bs * this.c.rng.below(full);
    } else if (eof === EOF_STRADDLING) {
      if (size === 0) return false;
      this.s = size - 1 - ((size - 1) % bs);
    } else {
      this.s = size - (size % bs);
    }
    return this.s + bs <= this.c.maxlen;
  }

  /** Give the focus block mapping class `m` (best effort; `op` is the guided op). */
  map(m: number, op: number, eof: number): void {
    const bs = this.c.bs;
    const s = this.s;
    const end = this.insideEnd();
    switch (m) {
      case MAP_HOLE:
        if (s < this.size) this.push(OP_PUNCH_HOLE, s, bs);
        break;
      case MAP_DELALLOC:
        if (s < this.size) this.push(OP_PUNCH_HOLE, s, bs);
        // A write over a hole is given delalloc by the write itself, half the time let it.
        if (!WRITERS.has(op) || this.c.rng.below(2) === 0) this.writeIn(s, end);
        break;
      case MAP_MAPPED:
        this.writeIn(s, end);
        this.fsync();
        break;
      case MAP_UNWRITTEN:
        if (s < this.size) this.push(OP_PUNCH_HOLE, s, bs);
        if (this.c.keepSize) this.push(OP_FALLOCATE, s, bs, 0, FL_KEEP_SIZE);
        else if (s + bs <= this.size) this.push(OP_FALLOCATE, s, bs);
        break;
      case MAP_SHARED:
        this.share(eof);
        break;
      default:
        break;
    }
  }

  /**
   * Share the focus block: a whole block inside EOF is cloned to another place; the EOF block is
   * cloned (its tail ends at EOF, so it may be unaligned) to a block past EOF, which then is the
   * EOF block, shared with the old one — the focus moves there and the size grows.
   */
  private share(eof: number): void {
    const c = this.c;
    const bs = c.bs;
    const s = this.s;
    if (s >= this.size || !this.on(OP_CLONE_RANGE)) return;
    this.writeIn(s, this.insideEnd());
    if (eof === EOF_BEFORE) {
      const full = Math.floor(this.size / bs);
      let d = bs * c.rng.below(full);
      if (d === s) d = full * bs + bs * c.rng.below(2);
      if (d + bs > c.maxlen) return;
      this.push(OP_CLONE_RANGE, s, bs, d);
      this.size = Math.max(this.size, d + bs);
      return;
    }
    const len = this.size - s;
    const d = this.size - (this.size % bs) + bs * (1 + c.rng.below(2));
    if (d + bs > c.maxlen) return;
    this.push(OP_CLONE_RANGE, s, len, d);
    this.size = d + len;
    this.s = d;
  }

  /** Give the folio around the focus block state `f` (best effort). */
  folio(f: number, m: number): void {
    const c = this.c;
    const bs = c.bs;
    const s = this.s;
    const end = this.insideEnd();
    const fs = s - (s % Math.max(c.folioSize, bs));
    const fe = Math.min(fs + Math.max(c.folioSize, bs), this.size);
    switch (f) {
      case FOLIO_ABSENT:
        this.fsync();
        this.evict();
        break;
      case FOLIO_UPTODATE:
        this.fsync();
        this.evict();
        this.push(OP_READ, fs, Math.max(0, fe - fs));
        break;
      case FOLIO_PARTIAL:
        // A write of another block of a dropped folio caches the folio with only that block uptodate.
        this.fsync();
        this.evict();
        this.writeOther(fs, fe, end);
        break;
      case FOLIO_DIRTY:
        this.writeOther(fs, fe, m === MAP_HOLE || m === MAP_SHARED ? -1 : end);
        break;
      case FOLIO_WRITEBACK:
        this.writeOther(fs, fe, m === MAP_HOLE ? -1 : end);
        if (this.on(OP_WRITEBACK)) this.buf.push(OP_WRITEBACK, 0, 0, 0, 0);
        break;
      default:
        break;
    }
  }

  /**
   * Write into a block of the folio [fs, fe) other than the focus block; with none, into the focus
   * block's part inside EOF up to `end` (-1: not the focus block).
   */
  private writeOther(fs: number, fe: number, end: number): void {
    const bs = this.c.bs;
    const blocks = Math.floor((fe - fs) / bs);
    if (blocks > 1) {
      let b = fs + bs * this.c.rng.below(blocks);
      if (b === this.s) b = b + bs < fe ? b + bs : fs;
      if (b !== this.s) return this.writeIn(b, Math.min(b + bs, this.size));
    }
    if (end > this.s) this.writeIn(this.s, end);
  }

  /** The guided op's position window for EOF relation `eof` on the (possibly moved) focus block. */
  window(eof: number): Prepared {
    const bs = this.c.bs;
    const s = this.s;
    if (eof === EOF_BEFORE) return { size: this.size, lo: s, hi: s + bs };
    if (eof === EOF_STRADDLING) return { size: this.size, lo: s, hi: Math.max(s + 1, Math.min(s + bs, this.size)) };
    const lo = Math.max(s, this.size);
    return { size: this.size, lo, hi: Math.max(lo + 1, s + bs) };
  }
}

/**
 * Push the ops that prepare state cell `k` (an offset in op `op`'s row) on a file of `size` bytes;
 * returns where the guided op should start and the size expected after, or null when the file has
 * no block to prepare (the op is then only aimed at the EOF relation).
 */
export function prepareCell(c: RecipeContext, buf: OpBuffer, op: number, k: number, size: number): Prepared | null {
  const [m, f, eof] = cellParts(k);
  const r = new Recipe(c, buf, size);
  if (!r.place(eof)) return null;
  r.map(m, op, eof);
  r.folio(f, m);
  return r.window(eof);
}
