/**
 * Coverage-guided generation: the fsx generator asks the guide, every GUIDE_PERIOD ops, which
 * ops still have reachable cells the run has not reached, and draws one op in GUIDE_ODDS from
 * those (weighted by how many cells each still misses, at most GUIDE_CAP), aiming its range at an
 * EOF relation one of those cells needs. An op whose missing cells did not shrink over a period
 * in which it was aimed at has its weight halved (a cell this run's setup cannot reach would
 * otherwise soak up guided ops for ever); progress restores it. Everything it reads is the run's own coverage map, which
 * the ops so far determine, so the op sequence is still a function of the seed (and the op log
 * holds the ops: replay and shrinking never consult the guide).
 */
import { OP_COUNT } from '../fsx/ops';
import { hasPosition, N_EOF, PER_OP } from './cells';
import { fileCellsByConstruction, ReachableSet } from './reachable';
import type { CoverageRecorder } from './recorder';

/** Ops between two looks at the coverage map. */
export const GUIDE_PERIOD = 256;
/** One op in GUIDE_ODDS is a guided one, while some reachable cell is unreached. */
export const GUIDE_ODDS = 8;
/** Largest weight an op gets in the guided draw (however many cells it misses). */
export const GUIDE_CAP = 4;

export class Guide {
  /** Op codes of the guided draw, each repeated by its weight (empty: nothing to aim at). */
  pick: Uint8Array = new Uint8Array(0);
  /** Per op: bit e set when a cell with EOF relation e is still unreached. */
  readonly eofMask = new Uint8Array(OP_COUNT);
  /**
   * Per op: the state cells (offsets within the op's row, cells.ts) still unreached, for a recipe
   * that prepares a range into one of them (properties/fsx/recipe.ts). Empty for file-level targets.
   */
  readonly missing: number[][] = Array.from({ length: OP_COUNT }, () => []);
  /** The guide aims at state cells (the target reports generic-layer states), not file cells. */
  readonly deep: boolean;
  /** The run's largest folio (bytes): recipes prepare the folio around a block, not only the block. */
  readonly folioSize: number;
  /** Missing cells per op at the last refresh, and how many periods in a row it made no progress. */
  private readonly lastMissing = new Uint32Array(OP_COUNT).fill(0xffffffff);
  private readonly stalls = new Uint8Array(OP_COUNT);
  private readonly counts: Uint32Array;
  private readonly want: Uint8Array;
  private readonly per: number;

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
  }

  /** The weight op had in the guided draw since the last refresh. */
  private pickWeight(op: number): number {
    return this.weights[op];
  }

  private readonly weights = new Uint8Array(OP_COUNT);

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
      let missing = 0;
      for (let k = 0; k < per; k++) {
        const i = op * per + k;
        if (this.want[i] === 1 && this.counts[i] === 0) {
          missing++;
          if (this.deep) cells.push(k);
          if (hasPosition(op)) this.eofMask[op] |= 1 << (k % N_EOF);
        }
      }
      const aimed = this.pickWeight(op) > 0;
      if (missing < this.lastMissing[op]) this.stalls[op] = 0;
      else if (aimed && this.stalls[op] < 8) this.stalls[op]++;
      this.lastMissing[op] = missing;
      w[op] = Math.min(missing, GUIDE_CAP) >> this.stalls[op];
      total += w[op];
    }
    this.weights.set(w);
    if (total !== this.pick.length) this.pick = new Uint8Array(total);
    let j = 0;
    for (let op = 0; op < OP_COUNT; op++) for (let r = 0; r < w[op]; r++) this.pick[j++] = op;
  }
}
