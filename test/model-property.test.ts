import * as fc from 'fast-check';
import { ModelHarness, ModelOp, Geometry } from './support/model-ops';

const MAXLEN = 96 * 1024;

function opArb(withSpace: boolean): fc.Arbitrary<ModelOp> {
  const off = fc.nat({ max: MAXLEN });
  const len = fc.integer({ min: 1, max: 20000 });
  return fc.oneof(
    { weight: 6, arbitrary: fc.record({ op: fc.constant('write' as const), off, len, seed: fc.nat() }) },
    { weight: 1, arbitrary: fc.record({ op: fc.constant('write' as const), off, len, seed: fc.nat(), faultAt: fc.nat({ max: 20000 }) }) },
    { weight: 4, arbitrary: fc.record({ op: fc.constant('read' as const), off, len }) },
    { weight: 2, arbitrary: fc.record({ op: fc.constant('truncate' as const), size: fc.nat({ max: MAXLEN }) }) },
    { weight: 2, arbitrary: fc.record({ op: fc.constant('mapwrite' as const), off, len, seed: fc.nat(), msync: fc.boolean() }) },
    { weight: 2, arbitrary: fc.record({ op: fc.constant('mapread' as const), off, len }) },
    { weight: 1, arbitrary: fc.constant({ op: 'fsync' as const }) },
    { weight: 1, arbitrary: fc.constant({ op: 'dropcaches' as const }) },
    { weight: 1, arbitrary: fc.constant({ op: 'remount' as const }) },
    { weight: 2, arbitrary: fc.constant({ op: 'writeback' as const }) },
    { weight: 2, arbitrary: fc.record({ op: fc.constant('complete' as const), which: fc.nat() }) },
    { weight: 1, arbitrary: fc.record({ op: fc.constant('evict' as const), pos: fc.nat() }) },
    { weight: 2, arbitrary: fc.record({ op: fc.constant('pollute' as const), seed: fc.nat() }) },
    ...(withSpace ? [
      { weight: 3, arbitrary: fc.record({ op: fc.constant('falloc' as const), mode: fc.constantFrom(0, 1, 2, 0x10, 0x11, 0x08, 0x20, 0x40, 0x41), off, len }) },
      { weight: 2, arbitrary: fc.record({ op: fc.constant('clone' as const), src: fc.nat(), len, dst: off }) },
      { weight: 1, arbitrary: fc.record({ op: fc.constant('dedupe' as const), src: fc.nat(), len, dst: fc.nat() }) },
      { weight: 1, arbitrary: fc.record({ op: fc.constant('copy' as const), src: fc.nat(), len, dst: off }) },
    ] : []),
  );
}

const GEOMETRIES: Geometry[] = [
  { blockSize: 512, folioSize: 4096 },
  { blockSize: 1024, folioSize: 16384 },
  { blockSize: 4096, folioSize: 4096 },
  { blockSize: 4096, folioSize: 65536 },
  { blockSize: 1024, folioSize: 65536, inlineMax: 200 },
  { blockSize: 16384, folioSize: 65536 },
];

describe('reference model: random buffered/mmap/truncate/fsync/remount sequences match a byte array', () => {
  for (const geo of GEOMETRIES) {
    it(`bs=${geo.blockSize} folio=${geo.folioSize}${geo.inlineMax ? ` inline=${geo.inlineMax}` : ''}`, () => {
      fc.assert(fc.property(fc.array(opArb(false), { minLength: 1, maxLength: Number(process.env.PROP_LEN ?? 60) }), (ops) => {
        const h = new ModelHarness(geo);
        for (const o of ops) h.apply(o);
        h.checkAll();
        h.apply({ op: 'remount' });
        h.checkAll();
      }), { numRuns: Number(process.env.PROP_RUNS ?? 150), seed: 42 + geo.blockSize + geo.folioSize });
    });
  }
});

describe('reference model: the same sequences with fallocate modes, clone/dedupe/copy and COW', () => {
  for (const geo of GEOMETRIES) {
    it(`bs=${geo.blockSize} folio=${geo.folioSize}${geo.inlineMax ? ` inline=${geo.inlineMax}` : ''}`, () => {
      fc.assert(fc.property(fc.array(opArb(true), { minLength: 1, maxLength: Number(process.env.PROP_LEN ?? 60) }), (ops) => {
        const h = new ModelHarness(geo);
        for (const o of ops) h.apply(o);
        h.checkAll();
        h.apply({ op: 'remount' });
        h.checkAll();
        const bad = h.fsys.fs.checkConsistency();
        if (bad.length) throw new Error(`refs consistency: ${bad.join('; ')}`);
      }), { numRuns: Number(process.env.PROP_RUNS ?? 150), seed: 7 + geo.blockSize + geo.folioSize });
    });
  }
});
