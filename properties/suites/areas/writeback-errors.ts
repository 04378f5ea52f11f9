/**
 * Writeback errors (iomap-contract §5.6 completion errors, §7.12; file-ops §12, §14.26).
 * The target's device fails the writes of chosen blocks (FileTarget.deviceFaults: the harness owns
 * the device, on the reference, mutants, module: and exec: fs-level targets); the folio must end
 * clean and fsync must report the error exactly once per open file (errseq).
 */
import * as fc from 'fast-check';
import { FsError } from '../../../reference/errno';
import type { FileHandle } from '../../../reference/file';
import { property, SuiteDef } from '../types';
import { GEO_DEFAULT, GEO_SUBFOLIO } from '../common';
import type { Workload } from '../workload';

interface Input {
  geo: number;
  /** Blocks written first (relative), the blocks whose writeback fails, extra open files. */
  blocks: number;
  fail: number[];
  background: boolean;
  fds: number;
  late: boolean;
}

function fsyncResult(w: Workload, fh: FileHandle, what: string): string {
  let r = 'ok';
  w.step(what, () => {
    try {
      fh.fsync();
    } catch (e) {
      if (!(e instanceof FsError)) throw e;
      r = e.code;
    }
  });
  return r;
}

export const writebackErrors: SuiteDef = {
  name: 'writeback-errors',
  area: 'writeback I/O errors: clean folios, errors reported once by fsync',
  sections: 'iomap-contract §5.6 (completion errors), §7.12; file-ops §12, §14.26',
  needs: ['model', 'deviceFaults'],
  properties: [
    property<Input>({
      name: 'error-reported-once',
      section: 'iomap-contract §5.6, §7.12; file-ops §12, §14.26',
      describe: 'after a failed writeback the folio is clean and the next fsync of every file open before the error returns EIO once, later fsyncs 0; a file opened after it was reported sees 0',
      arb: () => fc.record({
        geo: fc.nat(1), blocks: fc.integer({ min: 1, max: 24 }), fail: fc.array(fc.nat(), { minLength: 1, maxLength: 4 }),
        background: fc.boolean(), fds: fc.integer({ min: 1, max: 3 }), late: fc.boolean(),
      }),
      run: (ctx, input) => {
        const w = ctx.open([GEO_DEFAULT, GEO_SUBFOLIO][input.geo]);
        const ref = w.ref!;
        const faults = w.target.deviceFaults!;
        const bs = w.bs;
        const len = input.blocks * bs;
        // Allocate and make durable, so the blocks have device addresses.
        w.op('write', 0, len);
        w.op('fsync', 0, 0);
        const bad = [...new Set(input.fail.map((f) => f % input.blocks))].sort((a, b) => a - b);
        for (const b of bad) w.step(`device writes to the block under file block ${b} fail with EIO from now on`, () => faults.arm('write', 'error', b * bs, bs));
        const fds: FileHandle[] = [ref.fh];
        for (let i = 1; i < input.fds; i++) w.step(`open another file description (#${i + 1})`, () => { fds.push(ref.fsys.open(ref.fh.name)); });
        // Overwrite everything (the data of the failing blocks will be lost), then write it back.
        w.op('write', 0, len);
        if (input.background) {
          w.writeback();
          w.drain();
        }
        for (const [i, fh] of fds.entries()) {
          const r1 = fsyncResult(w, fh, `fsync on file #${i + 1} (EIO expected)`);
          w.check(r1 === 'EIO', 'op-error', 'fileops-14.26', () => [`fsync on file #${i + 1} after a failed writeback of blocks ${bad.join(',')} returned ${r1}, expected EIO (reported once)`]);
          const r2 = fsyncResult(w, fh, `second fsync on file #${i + 1} (0 expected)`);
          w.check(r2 === 'ok', 'op-error', 'fileops-14.26', () => [`second fsync on file #${i + 1} returned ${r2}: the error must be reported once`]);
          if (input.late && i === 0) {
            const late = ref.fsys.open(ref.fh.name);
            const r3 = fsyncResult(w, late, 'fsync on a file opened after the error was reported (0 expected)');
            w.check(r3 === 'ok', 'op-error', 'fileops-14.26', () => [`a file opened after the error was reported got ${r3} from fsync`]);
          }
        }
        // The failed folios are clean: the data is lost from the cache's point of view (§5.6).
        for (const b of bad) {
          const f = ref.fh.inode.mapping.folioAt(b * bs);
          w.check(f === undefined || f === null || (!f.dirty && !f.writeback), 'contract', 'iomap-contract-§5.6', () => [
            `the folio over failed block ${b} is ${f!.dirty ? 'dirty' : 'under writeback'} after the error was reported (must be clean)`]);
        }
        faults.heal();
        w.quiesce();
      },
    }),
  ],
};
