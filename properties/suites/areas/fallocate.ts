/**
 * fallocate modes (file-ops §3, §14.4–14.10, §14.28).
 */
import * as fc from 'fast-check';
import { FsError } from '../../../reference/errno';
import { property, SuiteDef } from '../types';
import { GEO_DEFAULT, GEO_SUBFOLIO, defaultSpan, playStep, workloadProperty } from '../common';
import { extentAt, fiemapNoSync, fmtExtents, fullBlocks, lastOp } from '../checks';
import { hasNeed, Step, stepsArb } from '../steps';
import type { Workload } from '../workload';

const hex = (n: number): string => '0x' + n.toString(16);

/**
 * file-ops §14.5: right after PUNCH_HOLE no block fully inside the range is data for SEEK_DATA or
 * in FIEMAP. §14.6: after ZERO_RANGE every full block inside EOF is in FIEMAP.
 */
function punchAndZeroState(w: Workload): void {
  const op = lastOp(w);
  if (op === null || op.skipped) return;
  const bs = w.bs;
  if (op.name === 'punch_hole') {
    const [b0, b1] = fullBlocks(op.off, op.len, bs);
    const end = Math.min(b1, Math.floor(w.size / bs));
    if (end <= b0) return;
    if (hasNeed(w, 'fiemap')) {
      const ext = fiemapNoSync(w, b0 * bs, (end - b0) * bs);
      for (let b = b0; b < end; b++) {
        w.check(extentAt(ext, b * bs) === undefined, 'fiemap', 'fileops-14.5', () => [
          `after punch_hole ${hex(op.off)}+${hex(op.len)} (op ${op.n}): block at ${hex(b * bs)} is still in FIEMAP`, ...fmtExtents(ext)], b * bs);
      }
    }
    if (hasNeed(w, 'seek')) {
      let d = -1;
      w.step(`SEEK_DATA(${hex(b0 * bs)}) after the punch`, () => {
        try { d = w.target.seekData!(b0 * bs); } catch (e) { if (!(e instanceof FsError && e.code === 'ENXIO')) throw e; }
      });
      w.notes.pop();
      w.check(d < 0 || d >= end * bs, 'seek', 'fileops-14.5', () => [`after punch_hole ${hex(op.off)}+${hex(op.len)} (op ${op.n}): SEEK_DATA(${hex(b0 * bs)}) = ${hex(d)}, inside the punched blocks`], d);
    }
  }
  if (op.name === 'zero_range' && hasNeed(w, 'fiemap')) {
    const [b0, b1] = fullBlocks(op.off, Math.min(op.len, Math.max(0, w.size - op.off)), bs);
    if (b1 <= b0) return;
    const ext = fiemapNoSync(w, b0 * bs, (b1 - b0) * bs);
    for (let b = b0; b < b1; b++) {
      w.check(extentAt(ext, b * bs) !== undefined, 'fiemap', 'fileops-14.6', () => [
        `after zero_range ${hex(op.off)}+${hex(op.len)} (op ${op.n}): block at ${hex(b * bs)} is a hole`, ...fmtExtents(ext)], b * bs);
    }
  }
}

/** A fallocate that must fail with `code` and change nothing. */
function expectFail(w: Workload, code: string, mode: number, off: number, len: number, why: string): void {
  const size = w.size;
  let got = 'success';
  w.step(`fallocate(0x${mode.toString(16)}, ${hex(off)}, ${hex(len)}): ${why} (${code} expected)`, () => {
    try {
      w.target.fallocate!(mode, off, len);
    } catch (e) {
      if (!(e instanceof FsError)) throw e;
      got = e.code;
    }
  });
  w.check(got === code, 'op-error', 'fileops-14.28', () => [`fallocate(0x${mode.toString(16)}, ${hex(off)}, ${hex(len)}) with size ${hex(size)} (${why}): ${got}, expected ${code}`]);
}

export const fallocate: SuiteDef = {
  name: 'fallocate',
  area: 'fallocate modes: allocate, KEEP_SIZE, punch, zero, collapse, insert, unshare',
  sections: 'file-ops §3, §14.1, §14.4–14.10, §14.28',
  needs: ['falloc:0x0'],
  properties: [
    workloadProperty({
      name: 'modes',
      section: 'file-ops §3.2, §14.5–14.10',
      describe: 'every mode has its byte and size effect (punch and zero read zero, collapse/insert shift, allocation and KEEP_SIZE are content-neutral); punched blocks leave SEEK and FIEMAP, zeroed ones stay allocated',
      weights: { falloc: 2, fallocKeep: 2, punch: 3, zero: 2, zeroKeep: 2, collapse: 3, insert: 3, unshare: 1, write: 4, read: 2, truncate: 1, cycle: 1, mapread: 1 },
      maxSteps: 30,
      geometries: [GEO_DEFAULT, GEO_SUBFOLIO],
      check: (w) => punchAndZeroState(w),
    }),
    property<{ steps: Step[]; probes: number[] }>({
      name: 'errno-rules',
      section: 'file-ops §3.1, §14.4, §14.28',
      describe: 'len ≤ 0 → EINVAL; unaligned or EOF-reaching collapse → EINVAL; insert at or past EOF → EINVAL; nothing changes',
      arb: () => fc.record({ steps: stepsArb({ write: 4, falloc: 1, truncate: 1 }, 8), probes: fc.array(fc.nat(), { minLength: 1, maxLength: 6 }) }),
      run: (ctx, input) => {
        const w = ctx.open();
        const span = defaultSpan(w);
        for (const s of input.steps) playStep(w, s, span);
        const bs = w.bs;
        for (const p of input.probes) {
          const size = w.size;
          const off = (p % 16) * bs;
          expectFail(w, 'EINVAL', 0, off, 0, 'zero length');
          if (w.caps.fallocModes.includes(0x08)) {
            if (bs > 1) expectFail(w, 'EINVAL', 0x08, off + 1 + (p % (bs - 1)), bs, 'unaligned collapse');
            const n = Math.ceil(size / bs);
            const o2 = n > 0 ? ((p >>> 4) % n) * bs : 0;
            expectFail(w, 'EINVAL', 0x08, o2, Math.ceil((size - o2 + 1) / bs) * bs, 'collapse reaching EOF');
          }
          if (w.caps.fallocModes.includes(0x20)) expectFail(w, 'EINVAL', 0x20, Math.ceil(size / bs) * bs + ((p >>> 8) % 3) * bs, bs, 'insert at or past EOF');
        }
        w.quiesce();
      },
    }),
  ],
};
