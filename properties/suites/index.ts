/**
 * The suite registry: every property suite, by name (docs/suites.md lists them with the spec
 * sections they check and the bug-zoo mutants each one catches).
 */
import type { SuiteDef } from './types';
import { bufferedIo } from './areas/buffered-io';
import { shortWrites } from './areas/short-writes';
import { mmap } from './areas/mmap';
import { zeroRange } from './areas/zero-range';
import { unshare } from './areas/unshare';
import { writeback } from './areas/writeback';
import { writebackErrors } from './areas/writeback-errors';
import { readErrors } from './areas/read-errors';
import { directIo } from './areas/direct-io';
import { dax } from './areas/dax';
import { seek } from './areas/seek';
import { fiemap } from './areas/fiemap';
import { swapfile } from './areas/swapfile';
import { fallocate } from './areas/fallocate';
import { reflink } from './areas/reflink';
import { contract } from './areas/contract';
import { geometry } from './areas/geometry';
import { stateful } from './areas/stateful';
import { crash } from './areas/crash';
import { remount } from './areas/remount';
import { badArguments } from './areas/bad-arguments';
import { atomicWrites, exchangeRange, uncachedIo } from './areas/newer-io';

export const SUITES: readonly SuiteDef[] = [
  bufferedIo, shortWrites, mmap, zeroRange, unshare, writeback, writebackErrors, readErrors, directIo, dax, seek, fiemap, swapfile,
  fallocate, reflink, contract, geometry, stateful, crash, remount, badArguments, atomicWrites, uncachedIo, exchangeRange,
];

export function suiteByName(name: string): SuiteDef | undefined {
  return SUITES.find((s) => s.name === name);
}

export type { SuiteDef } from './types';
export { runSuite, runProperty, registryEnv } from './harness';
export type { SuiteResult, PropertyResult, RunOptions } from './harness';

/** The capabilities a suite and its properties need, for the one-line listing ('' when none). */
function needsText(s: SuiteDef): string {
  const parts: string[] = [];
  if (s.needs !== undefined && s.needs.length > 0) parts.push(s.needs.join(', '));
  for (const p of s.properties) {
    const extra = (p.needs ?? []).filter((n) => !(s.needs ?? []).includes(n));
    if (extra.length > 0) parts.push(`${p.name}: ${extra.join(', ')}`);
  }
  return parts.length > 0 ? ` [needs ${parts.join('; ')}]` : '';
}

/** What `iomap-harness list suites` shows: each suite with its area, sections, needs and properties. */
export function listSuites(): Record<string, unknown>[] {
  return SUITES.map((s) => ({
    name: s.name,
    describe: `${s.area} (${s.sections})${needsText(s)}`,
    area: s.area,
    sections: s.sections,
    needs: s.needs ?? [],
    properties: s.properties.map((p) => ({ name: p.name, section: p.section, describe: p.describe, needs: p.needs ?? [] })),
  }));
}
