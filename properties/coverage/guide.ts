/**
 * Coverage-guided generation: after an unguided warm-up (GUIDE_WARMUP of the round's ops), the fsx
 * generator asks the guide, every GUIDE_PERIOD ops, which
 * reachable cells the run has not reached yet, and draws one op in GUIDE_ODDS toward one of them:
 * an op that still misses cells (weighted by how many, at most GUIDE_CAP), then one of its missing
 * cells. For a target under the generic layer the cell is a state cell, and a recipe
 * (properties/fsx/recipe.ts) prepares the op's block into the cell's mapping class and folio state
 * before the op; for a file-level target it is a file cell, and the op's range is aimed at the
 * cell's EOF relation. A cell aimed at GUIDE_TRIES times without being reached is left alone for
 * the rest of the run (a cell this run's setup cannot reach would otherwise soak up guided ops for
 * ever). Everything it reads is the run's own coverage map, which the ops so far determine, so the
 * op sequence is still a function of the seed (and the op log holds the ops: replay and shrinking
 * never consult the guide).
 */
import { OP_COUNT } from '../fsx/ops';
import { hasPosition, N_EOF, PER_OP } from './cells';
import { fileCellsByConstruction, ReachableSet } from './reachable';
import type { CoverageRecorder } from './recorder';

/**
 * Share of a round's ops (the whole run without the setup sweep) generated unguided before guidance
 * starts. Bugs the plain op mix hits early in a fresh file are found in these ops exactly as
 * without guidance (the generator draws nothing for the guide before it starts, so this part of
 * the op sequence is the unguided one); guidance then spends the rest of the round on the states
 * the run has not reached. Measured over the bug zoo (docs/bug-zoo.md, "The default campaign,
 * guided and unguided"): guiding from the first op caught fewer seed runs than no guidance. With
 * the setup sweep a geometry class's first round is not guided at all (workers.ts, the `unguided`
 * run hook): guiding its second half still lost detections the plain op mix made there.
 */
export const GUIDE_WARMUP = 0.5;
/** Ops between two looks at the coverage map. */
export const GUIDE_PERIOD = 256;
/** One op in GUIDE_ODDS is a guided one, while some reachable cell is unreached. */
export const GUIDE_ODDS = 8;
/** Largest weight an op gets in the guided draw (however many cells it misses). */
export const GUIDE_CAP = 4;
/** Times a cell is aimed at without being reached before the run gives up on it. */
export const GUIDE_TRIES = 4;

export class Guide {
  /** Op codes of the guided draw, each repeated by its weight (empty: nothing to aim at). */
  pick: Uint8Array = new Uint8Array(0);
  /** Per op: bit e set when a cell with EOF relation e is still to be aimed at. */
  readonly eofMask = new Uint8Array(OP_COUNT);
  /**
   * Per op: the cells still to be aimed at, as offsets within the op's row (state cells: cells.ts
   * layout, EOF relation = offset % 3; file cells: the EOF relation).
   */
  readonly missing: number[][] = Array.from({ length: OP_COUNT }, () => []);
  /** The guide aims at state cells (the target reports generic-layer states), not file cells. */
  readonly deep: boolean;
  /** The run's largest folio (bytes): recipes prepare the folio around a block, not only the block. */
  readonly folioSize: number;
  private readonly counts: Uint32Array;
  private readonly want: Uint8Array;
  private readonly per: number;
  /** Per cell: how often it was aimed at. */
  private readonly tries: Uint8Array;

  /**
   * `deep`: the target reports generic-layer states, and `reach` has the class's state cells: aim
   * at those; otherwise at the file cells (op × EOF relation), which any target shows.
   */
  constructor(rec: CoverageRecorder, reach: ReachableSet | null, deep: boolean) {
    const states = deep && reach !== null;
    this.deep = states;
    this.folioSize = rec.geometry.folioSize;
    this.counts = states ? rec.states : rec.fileOps;
    this.want = states ? reach.states : reach?.fileOps ?? fileCellsByConstruction();
    this.per = states ? PER_OP : N_EOF;
    this.tries = new Uint8Array(this.want.length);
  }

  /** The generator aims op `op` at cell `k` of its row (counted against GUIDE_TRIES). */
  aimed(op: number, k: number): void {
    const i = op * this.per + k;
    if (this.tries[i] < 255) this.tries[i]++;
  }

  /** Recompute the guided draw from the coverage map; ops with weight 0 in `weights` never come up. */
  refresh(weights: readonly number[]): void {
    const per = this.per;
    const w = new Uint8Array(OP_COUNT);
    let total = 0;
    for (let op = 0; op < OP_COUNT; op++) {
      this.eofMask[op] = 0;
      const cells = this.missing[op];
      cells.length = 0;
      if (weights[op] === 0) continue;
      for (let k = 0; k < per; k++) {
        const i = op * per + k;
        if (this.want[i] === 1 && this.counts[i] === 0 && this.tries[i] < GUIDE_TRIES) {
          cells.push(k);
          if (hasPosition(op)) this.eofMask[op] |= 1 << (k % N_EOF);
        }
      }
      w[op] = Math.min(cells.length, GUIDE_CAP);
      total += w[op];
    }
    if (total !== this.pick.length) this.pick = new Uint8Array(total);
    let j = 0;
    for (let op = 0; op < OP_COUNT; op++) for (let r = 0; r < w[op]; r++) this.pick[j++] = op;
  }
}
