/**
 * The setup sweep: the setup a run's target is created with, drawn from a matrix when the user
 * pins nothing (docs/fsx.md "The setup sweep"). iomap bugs live in particular setups — blocks
 * smaller than the page with post-EOF blocks on disk, blocks larger than the page, folios much
 * larger than blocks, stale device contents under never-written blocks, inline data — and a
 * default campaign that always runs 4 KiB blocks under 64 KiB folios never sees them.
 *
 * The matrix: block size 512 / 1 KiB / 4 KiB / 16 KiB (16 KiB: block > page), largest folio 4 KiB /
 * 16 KiB / 64 KiB / 2 MiB (never below the block size), post-EOF preallocation on or off, a
 * poisoned device on or off, inline data on or off. Each knob is drawn only where the adapter
 * declares it (FileAdapter.setups), and a knob the user pinned keeps the pinned value. The draw is
 * a function of the seed alone (its own PRNG stream: the op sequence of a seed does not change),
 * and the op log records the result (`geometry`, `setup`), so a replay is exact.
 *
 * fsx draws one setup per seed (each seed of a campaign its own); `check` draws one per property
 * run through setupArbitrary(), so fast-check shrinks the setup of a counterexample too.
 */

import type * as FastCheck from 'fast-check';
import type { AdapterOptions } from '../../adapters/registry';
import type { SetupSupport } from '../../adapters/types';
import { geometryClass } from '../coverage/cells';
import { Prng } from './generator';

/** What the user pinned: a value, or `null` for a knob pinned off. Absent: swept. */
export interface SweepPins {
  blockSize?: number;
  folioSize?: number;
  poison?: number | null;
  eofPrealloc?: number | null;
  /** false: inline data pinned off; true: pinned to the filesystem's default. */
  inline?: boolean;
}

/** Post-EOF preallocation sizes drawn (XFS's allocsize= range), never below the block size. */
const PREALLOC_SIZES = [16384, 65536];
/** Mixed into the seed so the setup's stream differs from the op generator's. */
const SWEEP_STREAM = 0x5e7a9b1d;

/** Adapter options for knobs the user pinned (before the sweep adds the rest). */
export function pinnedOptions(p: SweepPins): AdapterOptions {
  const o: AdapterOptions = {};
  if (p.blockSize !== undefined) o.blockSize = p.blockSize;
  if (p.folioSize !== undefined) o.folioSize = p.folioSize;
  if (typeof p.poison === 'number') o.poison = p.poison;
  if (typeof p.eofPrealloc === 'number') o.eofPrealloc = p.eofPrealloc;
  if (p.inline === false) o.inlineMax = 0;
  return o;
}

/** The choices of one draw, as indices or coin flips (a PRNG or fast-check supplies them). */
export interface SetupChoice {
  block: number;
  folio: number;
  prealloc: number;
  poison: number;
  inline: number;
}

/**
 * The adapter options a choice means on an adapter with `support`, the pins applied. Each index
 * is taken modulo its list, so any choice is valid (fast-check shrinks toward 0: the first block
 * size, the smallest folio that fits, every extra off).
 */
export function setupFor(c: SetupChoice, support: SetupSupport | undefined, pins: SweepPins): AdapterOptions {
  const o = pinnedOptions(pins);
  const s = support ?? {};
  const bss = s.blockSizes ?? [];
  if (pins.blockSize === undefined && bss.length > 0) o.blockSize = bss[c.block % bss.length];
  const bs = (o.blockSize as number | undefined) ?? 4096;
  const folios = (s.folioSizes ?? []).filter((f) => f >= bs);
  if (pins.folioSize === undefined && folios.length > 0) o.folioSize = folios[c.folio % folios.length];
  if (pins.eofPrealloc === undefined && s.eofPrealloc === true && c.prealloc > 0) {
    o.eofPrealloc = Math.max(bs, PREALLOC_SIZES[(c.prealloc - 1) % PREALLOC_SIZES.length]);
  }
  if (pins.poison === undefined && s.poison === true && c.poison > 0) o.poison = c.poison >>> 0;
  if (pins.inline === undefined && s.inline === true && c.inline > 0) o.inlineMax = 0;
  return o;
}

/**
 * Ops per setup round. A run longer than this changes its setup every round (a fresh target and
 * file each time), so one default run (100,000 ops) visits ten setups instead of one.
 */
export const SETUP_ROUND_OPS = 10000;

/** The rounds of a run of `numOps` ops: each round's op count (one round when it is short). */
export function roundSizes(numOps: number, roundOps = SETUP_ROUND_OPS): number[] {
  const out: number[] = [];
  for (let left = numOps; left > 0 || out.length === 0; left -= roundOps) out.push(Math.min(left, roundOps));
  return out;
}

/**
 * The op seed of round k of seed `seed`: the seed itself for round 0 (a short run is the classic
 * run of that seed), a hash of both after. A round's op log carries this seed, so it replays alone.
 */
export function roundSeed(seed: number, k: number): number {
  if (k === 0) return seed;
  let z = (seed ^ Math.imul(k, 0x9e3779b9)) >>> 0;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return ((z ^ (z >>> 16)) >>> 0) || 1;
}

/**
 * fsx: the setup of round `k` of seed `seed` (deterministic; a PRNG stream of its own, so the op
 * sequence of the seed does not change). The block size cycles through the four sizes every four
 * rounds (from a seeded start), and post-EOF preallocation and the poisoned device through their
 * four combinations, shifted by one every four rounds: each block of four rounds (1-4, 5-8, ...)
 * sees every block size and every combination, and sixteen rounds see every pair of them. Folio size and inline data are
 * drawn per round.
 */
export function drawSetup(seed: number, support: SetupSupport | undefined, pins: SweepPins, k = 0): AdapterOptions {
  const start = new Prng((seed ^ SWEEP_STREAM) >>> 0);
  const bs0 = start.below(4);
  const flags0 = start.below(4);
  const rng = new Prng((roundSeed(seed, k) ^ SWEEP_STREAM) >>> 0);
  const flags = (flags0 + k + (k >>> 2)) % 4;
  // Cycle through the sizes the target declares: with three (scratch:xfs), `% 4` then `% 3` in
  // setupFor would give the first size every other round. Four, two or one: the same as `% 4`.
  const nbs = support?.blockSizes?.length ?? 0;
  const c: SetupChoice = {
    block: (bs0 + k) % (nbs > 0 ? nbs : 4),
    folio: rng.below(4),
    prealloc: (flags & 1) !== 0 ? 1 + rng.below(PREALLOC_SIZES.length) : 0,
    // A poison seed of its own (never 0, which means "off" in a choice).
    poison: (flags & 2) !== 0 ? 1 + rng.below(0xfffffffe) : 0,
    inline: rng.below(2),
  };
  return setupFor(c, support, pins);
}

/**
 * Rounds 1-8 of a seed explore: each is drawSetup()'s setup, so the first 80,000 ops of a run see
 * every block size twice and every preallocation x poison combination twice. Later rounds deepen:
 * each revisits a geometry class an exploring round drew (SweepSchedule), because a class needs
 * about 30,000-40,000 ops to reach what the reference reaches in it, and 20 rounds spread over
 * 8 classes give most of them 10,000 or 20,000 (docs/fsx.md "Rounds").
 */
export const EXPLORE_ROUNDS = 8;

/**
 * A class whose last round added fewer than this share of its reachable cells is saturated: it is
 * revisited only once every class drawn is (a class the reference reaches further in other setups
 * would otherwise take every later round).
 */
const SATURATED_GAIN = 0.005;

/** What a class's coverage map says after a round: reachable cells reached so far, of how many. */
export interface ClassReach {
  reached: number;
  reachable: number;
}

/** The page size the sweep's matrix is stated against (the 4 KiB page of the model and refs). */
const SWEEP_PAGE = 4096;

/** The geometry class (coverage/cells.ts) a swept setup runs at, as the runner will name it. */
export function setupClass(o: AdapterOptions): string {
  const bs = (o.blockSize as number | undefined) ?? SWEEP_PAGE;
  return geometryClass(bs, SWEEP_PAGE, (o.folioSize as number | undefined) ?? SWEEP_PAGE, o.eofPrealloc !== undefined);
}

interface ClassVisits {
  cls: string;
  rounds: number;
  /** Reach after its latest round and the cells that round added (undefined: no map). */
  reach?: ClassReach;
  gained?: number;
}

/**
 * The setup of every round of one seed: rounds below EXPLORE_ROUNDS are drawSetup()'s; each later
 * round revisits one of the classes they drew, with the rest of its setup (block size within the
 * class, folio size keeping blocks per folio, preallocation size, poison, inline data) drawn anew.
 * The class revisited is the one furthest from what the reference reaches in it (lowest share of
 * its reachable cells reached), skipping saturated ones; without a coverage map (`--no-guide`
 * without `--coverage`) or reachable data for a class, the one with the fewest rounds. Every
 * choice is a function of the seed and of the run's coverage maps, which the ops so far determine
 * on a deterministic target, so a seed gives the same rounds every time; a round's op log records
 * its setup, so it replays alone.
 */
export class SweepSchedule {
  private readonly classes: ClassVisits[] = [];
  private readonly roundClass: string[] = [];

  constructor(private readonly seed: number, private readonly support: SetupSupport | undefined, private readonly pins: SweepPins) {}

  /** The setup of round `k` (0-based; rounds are asked for in order). */
  setup(k: number): AdapterOptions {
    const o = k < EXPLORE_ROUNDS || this.classes.length === 0 ? drawSetup(this.seed, this.support, this.pins, k) : this.revisit(k, this.pick().cls);
    this.roundClass[k] = setupClass(o);
    return o;
  }

  /** Round `k` is done; `reach` is its class's coverage now (undefined without a map or data). */
  done(k: number, reach: ClassReach | undefined): void {
    const cls = this.roundClass[k];
    let c = this.classes.find((x) => x.cls === cls);
    if (c === undefined) {
      if (k >= EXPLORE_ROUNDS) throw new Error(`sweep: round ${k + 1} ran ${cls}, a class no exploring round drew`);
      c = { cls, rounds: 0 };
      this.classes.push(c);
    }
    c.rounds++;
    if (reach !== undefined) {
      c.gained = reach.reached - (c.reach?.reached ?? 0);
      c.reach = reach;
    } else {
      c.reach = undefined;
      c.gained = undefined;
    }
  }

  /** Whether an earlier round of the seed ran at round `k`'s class (after setup(k)). */
  revisits(k: number): boolean {
    return this.roundClass.slice(0, k).includes(this.roundClass[k]);
  }

  /** The geometry class of round `k` (after setup(k)). */
  classOf(k: number): string {
    return this.roundClass[k];
  }

  /** The class the next deepening round revisits (see the class comment). */
  private pick(): ClassVisits {
    const fewest = (xs: ClassVisits[]) => xs.reduce((a, b) => (b.rounds < a.rounds ? b : a));
    if (this.classes.some((c) => c.reach === undefined || c.reach.reachable === 0)) return fewest(this.classes);
    const live = this.classes.filter((c) => (c.gained ?? 0) >= Math.max(1, SATURATED_GAIN * c.reach!.reachable));
    const pool = live.length > 0 ? live : this.classes;
    const share = (c: ClassVisits) => c.reach!.reached / c.reach!.reachable;
    return pool.reduce((a, b) => (share(b) < share(a) || (share(b) === share(a) && b.rounds < a.rounds) ? b : a));
  }

  /**
   * Round `k`'s setup inside class `cls`: the setups of the matrix (pins applied) that run at that
   * class, one drawn from round k's own stream; poisoning follows drawSetup()'s rotation.
   */
  private revisit(k: number, cls: string): AdapterOptions {
    const rng = new Prng((roundSeed(this.seed, k) ^ SWEEP_STREAM) >>> 0);
    const prealloc = cls.endsWith('+prealloc') ? 1 + rng.below(PREALLOC_SIZES.length) : 0;
    const fits: Array<{ block: number; folio: number; o: AdapterOptions }> = [];
    for (let block = 0; block < 4; block++) {
      for (let folio = 0; folio < 4; folio++) {
        const o = setupFor({ block, folio, prealloc, poison: 0, inline: 0 }, this.support, this.pins);
        if (setupClass(o) === cls && !fits.some((f) => f.o.blockSize === o.blockSize && f.o.folioSize === o.folioSize)) fits.push({ block, folio, o });
      }
    }
    if (fits.length === 0) throw new Error(`sweep: no setup of the matrix runs at ${cls}`);
    const { block, folio } = fits[rng.below(fits.length)];
    const start = new Prng((this.seed ^ SWEEP_STREAM) >>> 0);
    start.below(4);
    const flags = (start.below(4) + k + (k >>> 2)) % 4;
    const poison = (flags & 2) !== 0 ? 1 + rng.below(0xfffffffe) : 0;
    const o = setupFor({ block, folio, prealloc, poison, inline: rng.below(2) }, this.support, this.pins);
    return o;
  }
}

/** check: the same matrix as a fast-check arbitrary (shrinks toward the plainest setup). */
export function setupArbitrary(support: SetupSupport | undefined, pins: SweepPins): FastCheck.Arbitrary<AdapterOptions> {
  // Loaded here: fsx runs never need fast-check, and loading it was a sixth of their start-up.
  const fc = require('fast-check') as typeof FastCheck;
  return fc.record({
    block: fc.nat(3),
    folio: fc.nat(3),
    prealloc: fc.nat(PREALLOC_SIZES.length),
    poison: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 0x7fffffff })),
    inline: fc.nat(1),
  }).map((c) => setupFor(c, support, pins));
}

/** Whether the sweep can vary anything on an adapter declaring `support`. */
export function sweeps(support: SetupSupport | undefined): boolean {
  const s = support ?? {};
  return (s.blockSizes?.length ?? 0) > 1 || (s.folioSizes?.length ?? 0) > 1 || s.eofPrealloc === true || s.poison === true || s.inline === true;
}

/** One line naming a setup (progress output, reports). */
export function describeSetup(o: AdapterOptions): string {
  const parts: string[] = [];
  if (o.blockSize !== undefined) parts.push(`bs ${String(o.blockSize)}`);
  if (o.folioSize !== undefined) parts.push(`folio ${String(o.folioSize)}`);
  if (o.eofPrealloc !== undefined) parts.push(`eof-prealloc ${String(o.eofPrealloc)}`);
  if (o.poison !== undefined) parts.push(`poison ${String(o.poison)}`);
  if (o.inlineMax === 0) parts.push('inline off');
  return parts.length === 0 ? 'the adapter\'s defaults' : parts.join(', ');
}
