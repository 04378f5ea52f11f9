/**
 * Direct I/O (iomap-contract §5.7, §7.8, §7.20; file-ops §11, §14.24).
 */
import * as fc from 'fast-check';
import { FsError } from '../../../reference/errno';
import { property, SuiteDef } from '../types';
import { GEO_DEFAULT, GEO_SUBFOLIO, defaultSpan, playStep, workloadProperty } from '../common';
import { Step, stepsArb } from '../steps';
import type { Workload } from '../workload';

const hex = (n: number): string => '0x' + n.toString(16);

/** An O_DIRECT call that must fail with `code` and change nothing (pure: it fails up front). */
function expectErrno(w: Workload, code: string, what: string, fn: () => unknown): void {
  let got = 'success';
  const size = w.size;
  w.step(`${what} (${code} expected)`, () => {
    try {
      fn();
    } catch (e) {
      if (!(e instanceof FsError)) throw e;
      got = e.code;
    }
  });
  w.check(got === code, 'op-error', 'fileops-14.24', () => [`${what} with size ${hex(size)}: ${got === 'success' ? 'succeeded' : got}, expected ${code}`]);
}

/**
 * A misaligned O_DIRECT read on a target that may serve it (kernel filesystems: zero-filled holes
 * and unwritten ranges, btrfs's buffered fallback): EINVAL, or exactly the oracle's bytes.
 */
function misalignedRead(w: Workload, off: number, len: number): void {
  let got: Uint8Array = new Uint8Array(0);
  let served = false;
  w.step(`O_DIRECT read at misaligned ${hex(off)} (EINVAL or a buffered read)`, () => {
    try {
      got = w.target.directRead!(off, len);
      served = true;
    } catch (e) {
      if (!(e instanceof FsError) || e.code !== 'EINVAL') throw e;
    }
  });
  if (!served) return;
  const want = Math.max(0, Math.min(len, w.size - off));
  w.check(got.length === want && w.oracle.compare(off, got) === null, 'bad-data', 'fileops-14.24',
    () => [`misaligned O_DIRECT read at ${hex(off)} served buffered returned ${got.length} bytes that differ from the ${want} expected`], off);
}

/**
 * A misaligned O_DIRECT write on a target that may serve it buffered (btrfs): EINVAL with nothing
 * changed, or a buffered write, logged as the write it was so the oracle and the op log follow it.
 */
function misalignedWrite(w: Workload, off: number, len: number): void {
  w.logged('write', off, len, `an O_DIRECT write of misaligned length ${hex(len)} (EINVAL or a buffered write)`, (_n, data) => {
    let got: number;
    try {
      got = w.target.directWrite!(off, data);
    } catch (e) {
      if (e instanceof FsError && e.code === 'EINVAL') return -1;
      throw e;
    }
    w.oracle.write(off, data, 0, got);
    return got;
  });
}

export const directIo: SuiteDef = {
  name: 'direct-io',
  area: 'O_DIRECT reads and writes',
  sections: 'iomap-contract §5.7, §7.8, §7.20; file-ops §11, §14.24',
  needs: ['directIO'],
  properties: [
    workloadProperty({
      name: 'cache-coherence',
      section: 'iomap-contract §5.7 (flush and invalidate before, invalidate after), §7.20; file-ops §14.24',
      describe: 'buffered and mmap reads after a direct write, and direct reads after buffered or mmap writes, all see the newest data (also with asynchronous direct writes completing in any order)',
      weights: { dwrite: 4, dread: 3, read: 3, write: 3, mapread: 2, mapwrite: 1, mapwriteNoSync: 1, falloc: 1, punch: 1, truncate: 1, cycle: 1, asyncDio: 2, writeback: 1, complete: 1 },
      maxSteps: 30,
      geometries: [GEO_DEFAULT, GEO_SUBFOLIO],
    }),
    workloadProperty({
      name: 'sub-block-zeroing',
      section: 'iomap-contract §5.7 (sub-block zeroing of new and unwritten blocks, EOF tail), §7.8',
      describe: 'sector-aligned direct writes into holes, unwritten extents and past EOF leave the rest of each block reading zero',
      weights: { dwrite: 5, falloc: 2, fallocKeep: 1, truncate: 1, read: 2, dread: 2, cycle: 1, punch: 1, asyncDio: 1 },
      maxSteps: 25,
      geometries: [GEO_DEFAULT, { blockSize: 16384, folioSize: 65536 }],
    }),
    property<{ steps: Step[]; probes: number[] }>({
      name: 'return-codes',
      section: 'iomap-contract §5.7 (setup); file-ops §11, §14.24',
      describe: 'misaligned offset or length: EINVAL with nothing changed; a direct read at or past EOF returns 0 bytes',
      arb: () => fc.record({ steps: stepsArb({ write: 3, dwrite: 2, truncate: 1 }, 8), probes: fc.array(fc.nat(), { minLength: 1, maxLength: 6 }) }),
      run: (ctx, input) => {
        const w = ctx.open();
        const span = defaultSpan(w);
        const al = w.caps.dioAlign;
        for (const s of input.steps) playStep(w, s, span);
        for (const p of input.probes) {
          const size = w.size;
          const off = (p % 64) * al;
          if (al > 1) {
            const bad = off + 1 + (p % (al - 1));
            // A direct read at or past EOF answers 0 bytes before any alignment check (iomap_dio_rw
            // returns early; ext4, xfs and btrfs on this machine agree), so only probe inside EOF.
            if (bad < size) {
              if (w.caps.dioMisalignedReadMaySucceed === true) misalignedRead(w, bad, al);
              else expectErrno(w, 'EINVAL', `O_DIRECT read at misaligned ${hex(bad)}`, () => w.target.directRead!(bad, al));
            }
            if (w.caps.dioMisalignedWriteBuffered === true) misalignedWrite(w, off, al + 1);
            else expectErrno(w, 'EINVAL', `O_DIRECT write of misaligned length ${hex(al + 1)}`, () => w.target.directWrite!(off, new Uint8Array(al + 1).fill(0x5a)));
          }
          const eof = w.size; // a buffered misaligned write may have moved it
          const past = Math.ceil(eof / al) * al + ((p >>> 8) % 4) * al;
          let got = -1;
          w.step(`O_DIRECT read at ${hex(past)} (at or past EOF ${hex(eof)})`, () => { got = w.target.directRead!(past, al).length; });
          w.notes.pop();
          w.check(got === 0, 'short-read', 'fileops-14.24', () => [`O_DIRECT read at ${hex(past)} with size ${hex(eof)} returned ${got} bytes, expected 0`]);
        }
        w.quiesce();
      },
    }),
  ],
};
