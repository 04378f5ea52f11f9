/**
 * A campaign as a list of units, the grain of sharding, resuming and merging. A unit is one fsx
 * seed on one target and setup, or one check suite with one fast-check seed on one target and
 * setup. Units are numbered in a fixed order — every check unit first, then fsx units seed by
 * seed — and shard K of N runs the units whose number i has i mod N = K-1. A unit's result
 * depends only on the unit (seeded), never on the shard that ran it, so any split of a campaign
 * finds the same failures as one unsharded run.
 */

import type { Campaign, SetupOptions } from './config';

export interface Unit {
  /** Position in the campaign's order. */
  index: number;
  /** File-safe, unique in the campaign: names the unit's result file and failure folder. */
  id: string;
  engine: 'fsx' | 'check';
  target: number;
  setup: number;
  /** fsx seed, or check's fast-check seed. */
  seed: number;
  suite?: string;
}

export interface Shard {
  /** 1-based. */
  k: number;
  n: number;
}

function safe(s: string): string {
  return s.replace(/[^A-Za-z0-9_.-]+/g, '_');
}

function checkUnitCount(c: Campaign): number {
  return c.check === null ? 0 : c.check.suites.length * c.targets.length * c.setups.length * c.check.seeds.length;
}

/** Units in the campaign, or null when a time budget makes it open-ended. */
export function unitCount(c: Campaign): number | null {
  const fsx = c.fsx === null ? 0 : c.fsx.seedCount === null ? null : c.fsx.seedCount * c.targets.length * c.setups.length;
  return fsx === null ? null : checkUnitCount(c) + fsx;
}

/** The unit at `index` (which must be below unitCount when that is not null). */
export function unitAt(c: Campaign, index: number): Unit {
  const ts = c.targets.length * c.setups.length;
  const nCheck = checkUnitCount(c);
  if (index < nCheck) {
    const check = c.check!;
    let i = index;
    const seedIdx = i % check.seeds.length;
    i = Math.floor(i / check.seeds.length);
    const setup = i % c.setups.length;
    i = Math.floor(i / c.setups.length);
    const target = i % c.targets.length;
    const suite = check.suites[Math.floor(i / c.targets.length)];
    const seed = check.seeds[seedIdx];
    return { index, id: `check-t${target}-${safe(c.targets[target].name)}-u${setup}-${suite}-s${seed}`, engine: 'check', target, setup, seed, suite };
  }
  const j = index - nCheck;
  const seed = (c.fsx!.firstSeed + Math.floor(j / ts)) >>> 0;
  const target = Math.floor((j % ts) / c.setups.length);
  const setup = j % c.setups.length;
  return { index, id: `fsx-t${target}-${safe(c.targets[target].name)}-u${setup}-s${seed}`, engine: 'fsx', target, setup, seed };
}

/** This shard's units, in order (lazily: a budgeted campaign has no end). */
export function* shardUnits(c: Campaign, shard: Shard): Generator<Unit> {
  const total = unitCount(c);
  for (let i = shard.k - 1; total === null || i < total; i += shard.n) yield unitAt(c, i);
}

/** The adapter options of a unit: the target's options, then the setup's on top. */
export function unitOptions(c: Campaign, u: Unit): SetupOptions & Record<string, unknown> {
  return { ...c.targets[u.target].options, ...c.setups[u.setup] };
}
