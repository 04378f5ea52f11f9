/**
 * Swap-file activation (iomap-contract §5.12, rule 40; file-ops §9, §14.27). Model-level:
 * FileHandle.swapActivate; the expected outcome is worked out from FIEMAP after the fsync that
 * swapon does first.
 */
import type { SuiteDef } from '../types';
import { FsError } from '../../../reference/errno';
import { PAGE_SIZE } from '../../../reference/iomap/types';
import { GEO_DEFAULT, GEO_SUBFOLIO, workloadProperty } from '../common';
import { FIEMAP_EXTENT_DELALLOC, FIEMAP_EXTENT_SHARED, fiemapNoSync, fmtExtents } from '../checks';
import type { Workload } from '../workload';

const hex = (n: number): string => '0x' + n.toString(16);

function swapon(w: Workload): void {
  const ref = w.ref!;
  const size = w.size;
  const end = size - (size % PAGE_SIZE);
  // swapon(2) refuses a file smaller than a page before iomap is asked (and iomap_iter would still
  // call ->iomap_begin once, with length 0, on an empty range).
  if (end === 0) return;
  w.op('fsync', 0, 0); // swapon fsyncs first; logged so replay does the same
  const ext = fiemapNoSync(w, 0, end);
  // Expected: EINVAL on a hole, delalloc or shared extent in [0, end) or no usable page; else the
  // physically contiguous runs (whole extents, as the kernel accumulates whole mappings), page
  // aligned inside.
  let why = '';
  let pos = 0;
  for (const e of ext) {
    if (e.logical > pos && pos < end) why ||= `hole at ${hex(pos)}`;
    if ((e.flags & FIEMAP_EXTENT_SHARED) !== 0) why ||= `shared extent at ${hex(e.logical)}`;
    if ((e.flags & FIEMAP_EXTENT_DELALLOC) !== 0) why ||= `delalloc extent at ${hex(e.logical)}`;
    pos = Math.max(pos, e.logical + e.length);
  }
  if (pos < end) why ||= `hole at ${hex(pos)}`;
  let pages = 0;
  let acc: { addr: number; len: number } | null = null;
  const flush = () => {
    if (acc === null) return;
    const first = Math.ceil(acc.addr / PAGE_SIZE);
    const next = Math.floor((acc.addr + acc.len) / PAGE_SIZE);
    if (next > first) pages += next - first;
  };
  for (const e of ext) {
    if (acc !== null && acc.addr + acc.len === e.physical) acc.len += e.length;
    else { flush(); acc = { addr: e.physical, len: e.length }; }
  }
  flush();
  if (why === '' && pages === 0) why = 'no usable page';
  let got: { pages: number; max: number; extPages: number } | string = '';
  w.step('swapon (swap-file activation)', () => {
    try {
      const r = ref.fh.swapActivate();
      got = { pages: r.sis.pages, max: r.sis.max, extPages: r.sis.extents.reduce((n, x) => n + x.nrPages, 0) };
      ref.fh.swapOff(); // the rest of the workload writes to the file again
    } catch (e) {
      if (!(e instanceof FsError)) throw e;
      got = e.code;
    }
  });
  const res = got as { pages: number; max: number; extPages: number } | string;
  if (why !== '') {
    w.check(res === 'EINVAL', 'op-error', 'fileops-14.27', () => [`swapon of a file with a ${why} returned ${typeof res === 'string' ? res : 'success'}, expected EINVAL`, ...fmtExtents(ext)]);
    return;
  }
  w.check(typeof res !== 'string', 'op-error', 'fileops-14.27', () => [`swapon of a file with only written/unwritten extents failed with ${String(res)}`, ...fmtExtents(ext)]);
  const r = res as { pages: number; max: number; extPages: number };
  w.check(r.max === pages && r.pages === pages - 1 && r.extPages === pages, 'op-error', 'iomap-contract-§5.12', () => [
    `swapon: ${r.max} usable pages (${r.pages} after the header, ${r.extPages} in swap extents), expected ${pages} from FIEMAP`, ...fmtExtents(ext)]);
}

export const swapfile: SuiteDef = {
  name: 'swapfile',
  area: 'swap-file activation',
  sections: 'iomap-contract §5.12, rule 40; file-ops §9, §14.27',
  needs: ['model', 'fiemap'],
  properties: [
    workloadProperty({
      name: 'activation',
      section: 'iomap-contract §5.12, rule 40; file-ops §14.27',
      describe: 'swapon refuses files with holes or shared extents (EINVAL), accepts written/unwritten ones, and counts the physically contiguous whole pages',
      weights: { write: 4, falloc: 3, punch: 1, truncate: 1, clone: 2, fsync: 1, writeback: 1 },
      maxSteps: 12,
      geometries: [GEO_DEFAULT, GEO_SUBFOLIO],
      finish: (w) => swapon(w),
    }),
  ],
};
