/**
 * Read errors under blocks smaller than the folio (iomap-contract §6 per-block uptodate; file-ops
 * §14.26): a folio whose blocks are partly uptodate (a dirty partial write into a cold folio)
 * meets a device that fails the reads of some of its other blocks. The failed read returns EIO,
 * SIGBUS or a short count, never wrong bytes; the blocks that failed stay not uptodate, so the
 * next read (the fault gone) reads them again and gets the file's bytes; writeback after it
 * writes only what the program wrote (never the folio's stale memory over a failed block).
 *
 * Every step is an fsx op (the device fault is the fault_read op, op log v4), so a counterexample
 * replays with `iomap-harness replay` on any target that has device faults.
 */
import * as fc from 'fast-check';
import { FAULT_READ_EVICT, FAULT_READ_MMAP } from '../../fsx/ops';
import { property, SuiteDef } from '../types';
import { GEO_DEFAULT, GEO_SUBFOLIO } from '../common';
import { hasNeed } from '../steps';

interface Input {
  geo: number;
  /** File length in blocks. */
  blocks: number;
  /** Writes after the cache went cold: [first block, blocks, byte offset in the block, bytes cut at the end]. */
  dirty: Array<[number, number, number, number]>;
  /** The faulted range: first block, blocks, and byte trims at both ends. */
  fail: [number, number, number, number];
  evict: boolean;
  mmap: boolean;
}

export const readErrors: SuiteDef = {
  name: 'read-errors',
  area: 'device read errors under partly uptodate folios (blocks smaller than the folio)',
  sections: 'iomap-contract §6 (per-block uptodate); file-ops §14.26',
  needs: ['deviceFaults'],
  properties: [
    property<Input>({
      name: 'partial-folio-read-error',
      section: 'iomap-contract §6; file-ops §14.26',
      describe: 'a read that meets device errors in a partly uptodate folio returns EIO or the right bytes; the failed blocks are read again later and writeback never stores stale memory',
      needs: ['deviceFaults'],
      arb: () => fc.record({
        geo: fc.constantFrom(0, 0, 1),
        blocks: fc.integer({ min: 2, max: 48 }),
        dirty: fc.array(fc.tuple(fc.nat(63), fc.integer({ min: 1, max: 4 }), fc.nat(4095), fc.nat(4095)), { minLength: 0, maxLength: 4 }),
        fail: fc.tuple(fc.nat(63), fc.integer({ min: 1, max: 16 }), fc.nat(4095), fc.nat(4095)),
        evict: fc.boolean(),
        mmap: fc.boolean(),
      }),
      run: (ctx, input) => {
        // Geometry 0: 1 KiB blocks in 16 KiB folios (the per-block case); 1: the default.
        const w = ctx.open([GEO_SUBFOLIO, GEO_DEFAULT][input.geo]);
        const bs = w.bs;
        const len = input.blocks * bs;
        // The data on the media, then a cold cache (close, drop clean caches, reopen).
        w.op('write', 0, len);
        w.op('fsync', 0, 0, { closeOpen: true });
        // Partial writes into cold folios: some blocks become uptodate and dirty, the rest not.
        for (const [b0, n, head, tail] of input.dirty) {
          const first = b0 % input.blocks;
          const off = first * bs + (head % bs);
          const end = Math.min(len, (first + n) * bs - (tail % bs));
          if (end > off) w.op('write', off, end - off);
        }
        const [f0, fn, fhead, ftail] = input.fail;
        const first = f0 % input.blocks;
        const off = first * bs + (fhead % bs);
        const end = Math.min(len, (first + fn) * bs - (ftail % bs));
        if (end <= off) return;
        const mmap = input.mmap && hasNeed(w, 'mmap');
        w.op('fault_read', off, end - off, { dst: (input.evict ? FAULT_READ_EVICT : 0) | (mmap ? FAULT_READ_MMAP : 0) });
        // The fault is gone: every byte reads right (failed blocks are read again, not served stale).
        w.op('read', 0, len);
        // Writeback writes what the program wrote; after a cold reopen the media must agree.
        w.op('fsync', 0, 0, { closeOpen: true });
        w.op('read', 0, len);
        w.quiesce();
      },
    }),
  ],
};
