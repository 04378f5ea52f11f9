/**
 * Writeback and ioend merging (iomap-contract §5.6; file-ops §14.3, §14.20, §14.22).
 *
 * Completion merging (iomap_ioend_try_merge) may join ioends only when they are file- and
 * device-contiguous with equal UNWRITTEN and SHARED status and an equal outcome. It is checked at
 * the model level on the reference's own ioend functions, and observably: a merge of an UNWRITTEN
 * ioend into a MAPPED one leaves the extent unwritten, so the data reads back as zeroes once the
 * cache is dropped.
 */
import * as fc from 'fast-check';
import { Ioend, iomapIoendTryMerge, iomapSortIoends } from '../../../reference/iomap/ioend';
import { IOMAP_F_SHARED, IOMAP_MAPPED, IOMAP_UNWRITTEN, SECTOR_SIZE, zeroedIomap } from '../../../reference/iomap/types';
import { property, SuiteDef } from '../types';
import { GEO_DEFAULT, GEO_SUBFOLIO, GEO_SMALLFOLIO, workloadProperty } from '../common';

interface IoendSpec {
  /** Blocks of file gap before this ioend (0: contiguous with the previous one). */
  fileGap: number;
  /** Sectors of device gap before it (0: contiguous). */
  devGap: number;
  blocks: number;
  unwritten: boolean;
  shared: boolean;
  failed: boolean;
}

const ioendSpec = fc.record({
  fileGap: fc.oneof({ arbitrary: fc.constant(0), weight: 4 }, { arbitrary: fc.nat(3), weight: 1 }),
  devGap: fc.oneof({ arbitrary: fc.constant(0), weight: 4 }, { arbitrary: fc.nat(16), weight: 1 }),
  blocks: fc.integer({ min: 1, max: 8 }),
  unwritten: fc.boolean(),
  shared: fc.oneof({ arbitrary: fc.constant(false), weight: 3 }, { arbitrary: fc.constant(true), weight: 1 }),
  failed: fc.oneof({ arbitrary: fc.constant(false), weight: 4 }, { arbitrary: fc.constant(true), weight: 1 }),
});

/** The merge rule as the contract states it (§5.6), independent of the model's code. */
function mayMerge(a: { offset: number; size: number; sector: number; unwritten: boolean; shared: boolean; status: number },
  b: { offset: number; sector: number; unwritten: boolean; shared: boolean; status: number }): boolean {
  return a.status === b.status && a.unwritten === b.unwritten && a.shared === b.shared
    && a.offset + a.size === b.offset && a.sector + a.size / SECTOR_SIZE === b.sector;
}

const describeSpec = (x: { offset: number; size: number; sector: number; unwritten: boolean; shared: boolean; status: number }): string =>
  `[${x.offset}, +${x.size}) sector ${x.sector} ${x.unwritten ? 'UNWRITTEN' : 'MAPPED'}${x.shared ? '|SHARED' : ''} status ${x.status}`;

export const writeback: SuiteDef = {
  name: 'writeback',
  area: 'writeback, ioend building and completion merging',
  sections: 'iomap-contract §5.6; file-ops §14.3, §14.20, §14.22',
  properties: [
    property<{ specs: IoendSpec[]; order: number[] }>({
      name: 'ioend-merge-rule',
      section: 'iomap-contract §5.6 (iomap_ioend_try_merge)',
      describe: 'sorted completion merging joins exactly the file- and device-contiguous ioends with equal UNWRITTEN/SHARED status and equal outcome',
      needs: ['model'],
      arb: () => fc.record({ specs: fc.array(ioendSpec, { minLength: 2, maxLength: 10 }), order: fc.array(fc.nat(), { maxLength: 10 }) }),
      run: (ctx, input) => {
        // The workload switches the target's core bugs on (the bug zoo does that at open()).
        const w = ctx.open();
        const inode = w.ref!.fh.inode;
        const bs = inode.blockSize;
        let pos = 0;
        let sector = 2048;
        const list: Ioend[] = [];
        const desc = new Map<Ioend, { offset: number; size: number; sector: number; unwritten: boolean; shared: boolean; status: number }>();
        for (const s of input.specs) {
          pos += s.fileGap * bs;
          sector += s.devGap;
          const map = zeroedIomap();
          map.type = s.unwritten ? IOMAP_UNWRITTEN : IOMAP_MAPPED;
          map.flags = s.shared ? IOMAP_F_SHARED : 0;
          map.offset = pos;
          map.length = s.blocks * bs;
          map.addr = sector * SECTOR_SIZE;
          const io = new Ioend(inode, map, pos);
          io.size = s.blocks * bs;
          io.status = s.failed ? -5 : 0;
          desc.set(io, { offset: pos, size: io.size, sector, unwritten: s.unwritten, shared: s.shared, status: io.status });
          list.push(io);
          pos += io.size;
          sector += io.size / SECTOR_SIZE;
        }
        // Completion order is arbitrary; the filesystem sorts first (as refs and xfs do).
        for (let i = 0; i < input.order.length && list.length > 1; i++) {
          const j = input.order[i] % list.length;
          list.push(list.splice(j, 1)[0]);
        }
        iomapSortIoends(list);
        const lines: string[] = [];
        while (list.length > 0) {
          const head = list.shift()!;
          iomapIoendTryMerge(head, list);
          const chain = [head, ...head.chain];
          let acc = { ...desc.get(head)! };
          for (let k = 1; k < chain.length; k++) {
            const b = desc.get(chain[k])!;
            if (!mayMerge(acc, b)) lines.push(`merged ${describeSpec(b)} into ${describeSpec(acc)}`);
            acc = { ...acc, size: acc.size + b.size };
          }
          if (list.length > 0 && mayMerge(acc, desc.get(list[0])!)) lines.push(`did not merge ${describeSpec(desc.get(list[0])!)} into ${describeSpec(acc)}`);
          head.chain = [];
        }
        if (lines.length > 0) {
          w.description = `ioends (file offset, size, sector, type, status): ${[...desc.values()].map(describeSpec).join('; ')}`;
          w.fail('contract', 'iomap-contract-§5.6', ['iomap_ioend_try_merge broke the merge rule (contiguous in file and device, equal UNWRITTEN/SHARED, equal outcome):', ...lines]);
        }
      },
    }),
    workloadProperty({
      name: 'unwritten-conversion',
      section: 'iomap-contract §5.6 (ioends, completion, unwritten conversion); file-ops §14.3, §14.20',
      describe: 'data written back over preallocated, written and reflinked extents reads back after the cache is dropped, whatever order completions run in',
      weights: { falloc: 2, fallocKeep: 2, write: 4, fsync: 2, writeback: 3, complete: 3, drain: 1, cycle: 3, read: 2, fiemap: 1, truncate: 1, dwrite: 1, clone: 1 },
      maxSteps: 30,
      geometries: [GEO_DEFAULT, GEO_SUBFOLIO, GEO_SMALLFOLIO],
    }),
    workloadProperty({
      name: 'eof-folio-zeroing',
      section: 'iomap-contract §5.6 step 1 (EOF folio zeroed on every writeback); file-ops §14.22',
      describe: 'junk stored through mmap past EOF never reaches the file: after writeback and a later extension the bytes read zero',
      needs: ['mmap'],
      weights: { mapwrite: 3, write: 2, truncate: 3, fsync: 2, writeback: 2, complete: 2, cycle: 2, mapread: 2, read: 1 },
      maxSteps: 25,
      geometries: [GEO_DEFAULT, GEO_SUBFOLIO],
      wo: { polluteEof: true },
    }),
  ],
};
