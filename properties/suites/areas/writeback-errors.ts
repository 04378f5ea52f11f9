/**
 * Writeback errors (iomap-contract §5.6 completion errors, §7.12; file-ops §12, §14.26).
 * Model-level: the reference target runs on a FaultDevice (reference/device/fault.ts) that fails
 * writes to chosen blocks; the folio must end clean and fsync must report the error exactly once
 * per open file (errseq).
 */
import * as fc from 'fast-check';
import { ReferenceAdapter } from '../../../adapters/reference';
import type { AdapterOptions } from '../../../adapters/registry';
import { FaultDevice } from '../../../reference/device/fault';
import { MemoryDevice } from '../../../reference/device/memory';
import { FsError } from '../../../reference/errno';
import type { FileHandle } from '../../../reference/file';
import { property, SuiteDef, SuiteEnv } from '../types';
import { GEO_DEFAULT, GEO_SUBFOLIO } from '../common';
import { extentAt, fiemapNoSync } from '../checks';
import type { Workload } from '../workload';

const hex = (n: number): string => '0x' + n.toString(16);

/**
 * The environment's adapter on a FaultDevice. ReferenceOptions.device is honoured at the first
 * open(); the registry does not pass it through for mutants, so it is set on the adapter's options
 * here (any ReferenceAdapter, bug-zoo mutants included).
 */
export function faultEnv(env: SuiteEnv, dev: FaultDevice): SuiteEnv {
  return {
    spec: env.spec,
    opts: env.opts,
    create: (o: AdapterOptions) => {
      const a = env.create(o);
      if (!(a instanceof ReferenceAdapter)) throw new Error(`${env.spec} is not a reference adapter: cannot put it on a fault device`);
      (a as unknown as { opts: { device?: unknown } }).opts.device = dev;
      return a;
    },
  };
}

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
  needs: ['model'],
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
        const dev = new FaultDevice(new MemoryDevice({ size: 1 << 30 }));
        const w = ctx.open([GEO_DEFAULT, GEO_SUBFOLIO][input.geo], {}, faultEnv(ctx.env, dev));
        const ref = w.ref!;
        const bs = w.bs;
        const len = input.blocks * bs;
        // Allocate and make durable, so the blocks have device addresses.
        w.op('write', 0, len);
        w.op('fsync', 0, 0);
        const ext = fiemapNoSync(w, 0, len);
        const bad = [...new Set(input.fail.map((f) => f % input.blocks))].sort((a, b) => a - b);
        for (const b of bad) {
          const e = extentAt(ext, b * bs);
          w.check(e !== undefined, 'fiemap', 'fileops-14.20', () => [`block ${b} written and fsynced but not in FIEMAP`]);
          const phys = e!.physical + (b * bs - e!.logical);
          w.step(`device writes to block ${b} (device ${hex(phys)}) fail with EIO from now on`, () => dev.failWrites(phys, bs));
        }
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
        dev.clearFaults();
        w.quiesce();
      },
    }),
  ],
};
