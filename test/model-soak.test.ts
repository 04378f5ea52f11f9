/**
 * Long deterministic random runs of the reference model under the contract monitor: thousands of
 * mixed operations per seed (buffered and mmap writes, truncates, every fallocate mode, clones,
 * dedupes, copies, background writeback and out-of-order completions, evictions, drop caches,
 * remounts), with the byte oracle, the per-folio and reservation invariants after every step.
 * Deep sequences like these find what short fast-check cases rarely reach.
 */
import * as assert from 'assert';
import { ModelHarness, ModelOp, Geometry, rng, sharedMixOp } from './support/model-ops';

export function soakOps(seed: number, n: number): ModelOp[] {
  const r = rng(seed);
  const out: ModelOp[] = [];
  const kinds = ['write', 'write', 'write', 'read', 'truncate', 'mapwrite', 'mapread', 'falloc', 'clone', 'dedupe', 'copy',
    'fsync', 'writeback', 'complete', 'complete', 'evict', 'dropcaches', 'pollute', 'remount', 'dread', 'dwrite', 'seek',
    'seek', 'fiemap'] as const;
  for (let i = 0; i < n; i++) {
    const k = kinds[r(kinds.length)];
    const off = r(160 * 1024);
    const len = 1 + r(24 * 1024);
    const shared = sharedMixOp(k, r, i, off, len);
    if (shared !== null) {
      out.push(shared);
      continue;
    }
    switch (k) {
      case 'dread': out.push({ op: 'dread', off, len }); break;
      case 'dwrite': out.push({ op: 'dwrite', off: r(3) ? off - (off % 512) : off, len: r(3) ? Math.max(512, len - (len % 512)) : len, seed: i }); break;
      case 'seek': out.push({ op: 'seek', off: r(200 * 1024) }); break;
      case 'fiemap': out.push({ op: 'fiemap', off: r(200 * 1024), len }); break;
    }
  }
  return out;
}

const GEOMETRIES: Geometry[] = [
  { blockSize: 512, folioSize: 4096 },
  { blockSize: 1024, folioSize: 16384 },
  { blockSize: 1024, folioSize: 65536, inlineMax: 200 },
  { blockSize: 4096, folioSize: 4096 },
  { blockSize: 4096, folioSize: 65536 },
  { blockSize: 16384, folioSize: 65536 },
];

const OPS = Number(process.env.SOAK_OPS ?? 3000);
const SEEDS = Number(process.env.SOAK_SEEDS ?? 2);

describe(`reference model soak: ${SEEDS} seeds x ${OPS} ops per geometry, contract monitor on`, () => {
  for (const geo of GEOMETRIES) {
    it(`bs=${geo.blockSize} folio=${geo.folioSize}${geo.inlineMax ? ` inline=${geo.inlineMax}` : ''}`, () => {
      for (let seed = 1; seed <= SEEDS; seed++) {
        const h = new ModelHarness(geo);
        for (const o of soakOps(seed * 7919 + geo.blockSize, OPS)) h.apply(o);
        h.checkAll();
        h.apply({ op: 'remount' });
        h.checkAll();
        assert.deepStrictEqual(h.fsys.fs.checkConsistency(), []);
      }
    });
  }
});
