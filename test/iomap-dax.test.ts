/**
 * fs/dax.c iomap paths (contract §5.8): dax_iomap_rw, dax_iomap_fault (PTE, PMD, fallback, sync
 * and private COW faults), dax_zero_range / dax_truncate_page, dax_file_unshare and
 * dax_dedupe_file_range_compare, over the fake extent-map filesystem on a DAX-capable
 * MemoryDevice. PAGE_SIZE 4096, PMD_SIZE 2 MiB; the fake allocator starts at 1 MiB = page 256.
 */
import * as assert from 'assert';
import {
  PMD_ORDER, PMD_SIZE, VM_FAULT_DONE_COW, VM_FAULT_FALLBACK, VM_FAULT_MAJOR, VM_FAULT_NEEDDSYNC,
  VM_FAULT_NOPAGE, VM_FAULT_OOM, VM_FAULT_SIGBUS, Vma, daxDedupeFileRangeCompare, daxFileUnshare, daxFinishSyncFault,
  daxHooks, daxIomapFault, daxIomapRw, daxState, daxTruncatePage, daxZeroRange, vmFault,
} from '../reference/iomap/dax';
import { IOCB_NOWAIT, Kiocb, dioIter } from '../reference/iomap/direct-io';
import {
  IOMAP_DAX, IOMAP_F_SHARED, IOMAP_FAULT, IOMAP_MAPPED, IOMAP_NOWAIT, IOMAP_UNWRITTEN, IOMAP_WRITE, IOMAP_ZERO, IomapOps,
} from '../reference/iomap/types';
import { IovIter } from '../reference/iomap/uio';
import { MemoryDevice } from '../reference/device/memory';
import { FaultDevice } from '../reference/device/fault';
import { EFAULT, EINTR, EIO, ENOMEM } from '../reference/errno';
import { FakeFileOptions, FakeFs, FakeFile, RecordingDevice } from './support/fake-fs';
import { ScriptedOps, allBytes, pattern } from './support/scripted-ops';

const MiB = 1 << 20;
const P = 4096;

function mk(bs: number, o: FakeFileOptions = {}) {
  const fault = new FaultDevice(new MemoryDevice({ size: 64 * MiB }));
  const rec = new RecordingDevice(fault);
  const fs = new FakeFs({ blockSize: bs, dev: rec });
  return { f: fs.file(o), rec, fault, fs };
}

function rd(f: FakeFile, pos: number, len: number, o: { faultAt?: number; ops?: IomapOps; flags?: number } = {}) {
  const buf = new Uint8Array(len).fill(0xaa);
  const iocb: Kiocb = { pos, flags: o.flags ?? 0 };
  const r = daxIomapRw(iocb, dioIter(new IovIter(buf, o.faultAt), 'read'), f.inode, o.ops ?? f.ops);
  return { r, buf, iocb };
}

function wr(f: FakeFile, pos: number, data: Uint8Array, o: { faultAt?: number; ops?: IomapOps; flags?: number } = {}) {
  const iocb: Kiocb = { pos, flags: o.flags ?? 0 };
  const r = daxIomapRw(iocb, dioIter(new IovIter(data, o.faultAt), 'write'), f.inode, o.ops ?? f.ops);
  return { r, iocb };
}

function devBytes(f: FakeFile, addr: number, len: number): Uint8Array {
  const buf = new Uint8Array(len);
  f.fs.dev.read(addr, buf);
  return buf;
}

describe('dax_iomap_rw', () => {
  it('len 0 is 0 with no begin; flags are DAX, +WRITE for writes, +NOWAIT from the kiocb', () => {
    const { f } = mk(4096, { size: 8192 });
    f.set(0, 2, 'mapped');
    assert.strictEqual(rd(f, 0, 0).r, 0);
    assert.deepStrictEqual(f.trace(), []);
    rd(f, 0, 4096, { flags: IOCB_NOWAIT });
    wr(f, 0, pattern(1, 4096));
    assert.deepStrictEqual(f.begins().map((b) => b.flags), [IOMAP_DAX | IOMAP_NOWAIT, IOMAP_DAX | IOMAP_WRITE]);
  });

  for (const bs of [1024, 4096]) {
    it(`bs=${bs}: byte-granular write and read of MAPPED blocks, across pages and mappings`, () => {
      // Blocks of 16 KiB mapped at 1 MiB in two physically separate halves (two mappings); write
      // 10000 bytes at 1234 and read 12000 back from 1000.
      const { f } = mk(bs, { size: 16384 });
      f.set(0, 8192 / bs, 'mapped', { addr: MiB });
      f.set(8192 / bs, 8192 / bs, 'mapped', { addr: 4 * MiB });
      const data = pattern(bs, 10000);
      const w = wr(f, 1234, data);
      assert.strictEqual(w.r, 10000);
      assert.strictEqual(w.iocb.pos, 11234);
      assert.deepStrictEqual(f.readDisk(1234, 10000), data);
      assert.ok(allBytes(f.readDisk(0, 1234), 0));
      const r = rd(f, 1000, 12000);
      assert.strictEqual(r.r, 12000);
      assert.deepStrictEqual(r.buf.subarray(234, 10234), data);
      assert.strictEqual(f.begins().length, 4);
    });
  }

  it('reads of HOLE and UNWRITTEN zero-fill without touching the device; reads stop at i_size', () => {
    const { f, rec } = mk(4096, { size: 10000 });
    f.set(1, 1, 'unwritten');
    f.set(2, 1, 'mapped');
    f.writeDevice(8192, pattern(3, 4096));
    rec.inner.write(f.blocks.get(1)!.addr, new Uint8Array(4096).fill(0x77));
    rec.log.length = 0;
    // Read 16384 from 0: hole 4096 + unwritten 4096 + mapped up to EOF 10000 - 8192 = 1808.
    const { r, buf } = rd(f, 0, 16384);
    assert.strictEqual(r, 10000);
    assert.ok(allBytes(buf.subarray(0, 8192), 0));
    assert.deepStrictEqual(buf.subarray(8192, 10000), pattern(3, 4096).subarray(0, 1808));
    assert.ok(allBytes(buf.subarray(10000), 0xaa));
    assert.deepStrictEqual(rec.log.map((l) => l.op), ['read'], 'only the mapped block was read');
    assert.strictEqual(rd(f, 10000, 100).r, 0);
  });

  it('a write (or data read) over a type that is neither MAPPED nor SHARED is a WARN and -EIO', () => {
    const { f } = mk(4096, { size: 8192, allocOnWrite: 'none' });
    f.set(1, 1, 'unwritten');
    assert.strictEqual(wr(f, 0, pattern(1, 4096)).r, -EIO);
    assert.strictEqual(wr(f, 4096, pattern(1, 4096)).r, -EIO);
    const g = mk(4096, { size: 8192, allocOnWrite: 'none' }).f;
    g.set(0, 1, 'delalloc');
    assert.strictEqual(rd(g, 0, 4096).r, -EIO);
    assert.ok(f.inode.mapping.warnings.some((w) => w.startsWith('dax_iomap_iter: write')));
  });

  it('a short user copy stops the write; nothing copied is -EFAULT; bytes done win over a later error', () => {
    const { f } = mk(4096, { size: 8192 });
    f.set(0, 2, 'mapped');
    const w = wr(f, 0, pattern(1, 8192), { faultAt: 1500 });
    assert.strictEqual(w.r, 1500);
    assert.strictEqual(w.iocb.pos, 1500);
    assert.deepStrictEqual(f.readDisk(0, 1500), pattern(1, 8192).subarray(0, 1500));
    assert.ok(allBytes(f.readDisk(1500, 100), 0));
    assert.strictEqual(wr(f, 0, pattern(1, 4096), { faultAt: 0 }).r, -EFAULT);
    const g = mk(4096, { size: 8192, maxMapBlocks: 1 }).f;
    g.set(0, 2, 'mapped');
    g.beginHook = (pos) => (pos === 4096 ? -EIO : undefined);
    assert.strictEqual(wr(g, 0, pattern(1, 8192)).r, 4096);
  });

  it('a pending fatal signal is -EINTR', () => {
    const { f } = mk(4096, { size: 8192 });
    f.set(0, 2, 'mapped');
    daxHooks.fatalSignal = true;
    try {
      assert.strictEqual(wr(f, 0, pattern(1, 4096)).r, -EINTR);
    } finally {
      daxHooks.fatalSignal = false;
    }
  });

  it('a media error is -EIO', () => {
    const { f, fault } = mk(4096, { size: 8192 });
    const a = f.set(0, 2, 'mapped');
    fault.failReads(a, 4096);
    assert.strictEqual(rd(f, 0, 4096).r, -EIO);
  });

  it('F_NEW: write into a hole tears down the zero-page mapping and entry of a previous read fault', () => {
    const { f } = mk(4096, { size: 8192 });
    const vma = new Vma(f.inode, { start: 1 << 30, length: 8192 });
    assert.strictEqual(daxIomapFault(vmFault(vma, 1, false), 0, { v: 0 }, null, f.ops), VM_FAULT_NOPAGE);
    assert.deepStrictEqual(vma.ptes.get(1), { pfn: 'zero', write: false, huge: false });
    assert.strictEqual(daxState(f.inode).entries.get(1)!.zero, true);
    assert.strictEqual(wr(f, 4096, pattern(2, 4096)).r, 4096);
    assert.strictEqual(f.ends().at(-1)!.map.flags & 1, 1, 'the write mapping was F_NEW');
    assert.strictEqual(vma.ptes.has(1), false);
    assert.strictEqual(daxState(f.inode).entries.has(1), false);
  });

  it('COW write: unaligned head and tail are copied from the srcmap into the new block', () => {
    // Shared block 0 holds 0x11. Write [1000, 3000): destination page = 0x11 [0,1000), new data
    // [1000, 3000), 0x11 [3000, 4096). The old block keeps 0x11 throughout.
    const { f } = mk(4096, { size: 4096 });
    const old = f.set(0, 1, 'mapped', { shared: true });
    f.writeDevice(0, new Uint8Array(4096).fill(0x11));
    const data = pattern(3, 2000);
    assert.strictEqual(wr(f, 1000, data).r, 2000);
    const blk = f.blocks.get(0)!;
    assert.notStrictEqual(blk.addr, old, '->iomap_end remapped the COW block');
    const page = devBytes(f, blk.addr, 4096);
    assert.ok(allBytes(page.subarray(0, 1000), 0x11));
    assert.deepStrictEqual(page.subarray(1000, 3000), data);
    assert.ok(allBytes(page.subarray(3000), 0x11));
    assert.ok(allBytes(devBytes(f, old, 4096), 0x11));
  });

  it('COW write with an UNWRITTEN srcmap (or no srcmap) zeroes the edges instead of copying', () => {
    // Destination page at 2 MiB is pre-filled with 0xee; write [1000, 3000).
    for (const withSrc of [true, false]) {
      const { f, rec } = mk(4096, { size: 4096 });
      rec.inner.write(2 * MiB, new Uint8Array(4096).fill(0xee));
      rec.inner.write(3 * MiB, new Uint8Array(4096).fill(0x11));
      const ops = new ScriptedOps([{
        map: { offset: 0, length: 4096, type: IOMAP_MAPPED, addr: 2 * MiB, flags: IOMAP_F_SHARED, bdev: rec },
        src: withSrc ? { offset: 0, length: 4096, type: IOMAP_UNWRITTEN, addr: 3 * MiB, bdev: rec } : undefined,
      }]);
      assert.strictEqual(wr(f, 1000, pattern(3, 2000), { ops }).r, 2000);
      const page = devBytes(f, 2 * MiB, 4096);
      assert.ok(allBytes(page.subarray(0, 1000), 0), `head zeroed (srcmap ${withSrc})`);
      assert.ok(allBytes(page.subarray(3000), 0), `tail zeroed (srcmap ${withSrc})`);
    }
  });

  it('COW write clears the dirty marks of the range and drops its DAX entries and mappings', () => {
    const { f } = mk(4096, { size: 8192 });
    f.set(0, 2, 'mapped', { shared: true });
    const vma = new Vma(f.inode, { start: 1 << 30, length: 8192 });
    // A read fault maps page 0 of the (shared) source; mark its entry dirty as if stored to.
    assert.strictEqual(daxIomapFault(vmFault(vma, 0, false), 0, { v: 0 }, null, f.ops), VM_FAULT_NOPAGE);
    daxState(f.inode).entries.get(0)!.dirty = true;
    assert.strictEqual(wr(f, 0, pattern(1, 4096)).r, 4096);
    assert.strictEqual(daxState(f.inode).entries.has(0), false);
    assert.strictEqual(vma.ptes.has(0), false);
  });
});

describe('dax_iomap_fault: PTE', () => {
  function vmaOf(f: FakeFile, o: { shared?: boolean; sync?: boolean } = {}): Vma {
    return new Vma(f.inode, { start: 1 << 30, length: 16 * P, ...o });
  }

  it('beyond EOF is SIGBUS without a begin', () => {
    const { f } = mk(4096, { size: 4096 });
    const vma = vmaOf(f);
    assert.strictEqual(daxIomapFault(vmFault(vma, 1, false), 0, { v: 0 }, null, f.ops), VM_FAULT_SIGBUS);
    assert.deepStrictEqual(f.trace(), []);
  });

  it('read fault on HOLE or UNWRITTEN maps the zero page read-only (no allocation)', () => {
    const { f } = mk(4096, { size: 8192 });
    f.set(1, 1, 'unwritten');
    const vma = vmaOf(f);
    for (const idx of [0, 1]) {
      assert.strictEqual(daxIomapFault(vmFault(vma, idx, false), 0, { v: 0 }, null, f.ops), VM_FAULT_NOPAGE);
      assert.deepStrictEqual(vma.ptes.get(idx), { pfn: 'zero', write: false, huge: false });
    }
    assert.deepStrictEqual(f.trace().filter((t) => t.startsWith('begin')), ['begin(0, 4096, FAULT|DAX)', 'begin(4096, 4096, FAULT|DAX)']);
    assert.strictEqual(f.blocks.has(0), false);
  });

  it('write fault allocating a new block: pfn mapped writable, entry dirty, counted as a major fault', () => {
    const { f } = mk(4096, { size: 8192 });
    const vma = vmaOf(f);
    const r = daxIomapFault(vmFault(vma, 1, true), 0, { v: 0 }, null, f.ops);
    assert.strictEqual(r, VM_FAULT_NOPAGE | VM_FAULT_MAJOR);
    const pfn = f.blocks.get(1)!.addr / P;
    assert.deepStrictEqual(vma.ptes.get(1), { pfn, write: true, huge: false });
    assert.strictEqual(daxState(f.inode).entries.get(1)!.dirty, true);
    assert.strictEqual(daxState(f.inode).majorFaults, 1);
    assert.strictEqual(f.begins()[0].flags, IOMAP_DAX | IOMAP_FAULT | IOMAP_WRITE);
    // A second write fault on the now-mapped block is not major.
    assert.strictEqual(daxIomapFault(vmFault(vma, 1, true), 0, { v: 0 }, null, f.ops), VM_FAULT_NOPAGE);
  });

  it('a write fault after a read fault replaces the zero page, unmapping it from every mapping', () => {
    const { f } = mk(4096, { size: 4096 });
    const vma = vmaOf(f);
    const other = new Vma(f.inode, { start: 2 << 30, length: 4 * P });
    daxIomapFault(vmFault(vma, 0, false), 0, { v: 0 }, null, f.ops);
    daxIomapFault(vmFault(other, 0, false), 0, { v: 0 }, null, f.ops);
    assert.strictEqual(vma.ptes.get(0)!.pfn, 'zero');
    assert.strictEqual(other.ptes.get(0)!.pfn, 'zero');
    daxIomapFault(vmFault(vma, 0, true), 0, { v: 0 }, null, f.ops);
    const e = daxState(f.inode).entries.get(0)!;
    assert.strictEqual(e.zero, false);
    assert.strictEqual(e.pfn, f.blocks.get(0)!.addr / P);
    assert.deepStrictEqual(vma.ptes.get(0), { pfn: e.pfn, write: true, huge: false });
    assert.strictEqual(other.ptes.has(0), false, 'the other mapping of the zero page was zapped');
  });

  it('MAP_SYNC write fault with F_DIRTY: VM_FAULT_NEEDDSYNC, then dax_finish_sync_fault fsyncs and installs', () => {
    const { f } = mk(4096, { size: 8192 });
    f.set(0, 2, 'mapped', { dirty: true });
    const vma = vmaOf(f, { sync: true });
    const pfnp = { v: -1 };
    const vmf = vmFault(vma, 1, true);
    assert.strictEqual(daxIomapFault(vmf, 0, pfnp, null, f.ops), VM_FAULT_NEEDDSYNC);
    assert.strictEqual(pfnp.v, f.blocks.get(1)!.addr / P);
    assert.strictEqual(vma.ptes.has(1), false, 'not installed before the sync');
    assert.strictEqual(daxState(f.inode).entries.get(1)!.dirty, false);
    const syncs: Array<[number, number, boolean]> = [];
    const r = daxFinishSyncFault(vmf, 0, pfnp.v, (s, e, d) => { syncs.push([s, e, d]); return 0; });
    assert.strictEqual(r, VM_FAULT_NOPAGE);
    assert.deepStrictEqual(syncs, [[4096, 8191, true]]);
    assert.deepStrictEqual(vma.ptes.get(1), { pfn: pfnp.v, write: true, huge: false });
    assert.strictEqual(daxState(f.inode).entries.get(1)!.dirty, true);
    // A failing sync is SIGBUS; without F_DIRTY (or without MAP_SYNC) the fault installs at once.
    assert.strictEqual(daxFinishSyncFault(vmFault(vma, 0, true), 0, 1, () => -EIO), VM_FAULT_SIGBUS);
    const g = mk(4096, { size: 8192 }).f;
    g.set(0, 2, 'mapped');
    assert.strictEqual(daxIomapFault(vmFault(vmaOf(g, { sync: true }), 1, true), 0, { v: -1 }, null, g.ops), VM_FAULT_NOPAGE);
  });

  it('private write fault copies into the anonymous page (data, or zeroes for a hole); no WRITE lookup', () => {
    const { f } = mk(4096, { size: 8192 });
    f.set(0, 1, 'mapped');
    f.writeDevice(0, pattern(4, 4096));
    const vma = vmaOf(f, { shared: false });
    const page = new Uint8Array(4096).fill(0xee);
    assert.strictEqual(daxIomapFault(vmFault(vma, 0, true, page), 0, { v: 0 }, null, f.ops), VM_FAULT_DONE_COW);
    assert.deepStrictEqual(page, pattern(4, 4096));
    assert.strictEqual(vma.ptes.get(0)!.pfn, 'anon');
    const hole = new Uint8Array(4096).fill(0xee);
    assert.strictEqual(daxIomapFault(vmFault(vma, 1, true, hole), 0, { v: 0 }, null, f.ops), VM_FAULT_DONE_COW);
    assert.ok(allBytes(hole, 0));
    assert.ok(f.begins().every((b) => !(b.flags & IOMAP_WRITE)));
    assert.strictEqual(f.blocks.has(1), false);
  });

  it('shared (COW) write fault copies the whole page from the srcmap and marks the entry TOWRITE', () => {
    const { f } = mk(4096, { size: 4096 });
    const old = f.set(0, 1, 'mapped', { shared: true });
    f.writeDevice(0, pattern(5, 4096));
    const vma = vmaOf(f);
    assert.strictEqual(daxIomapFault(vmFault(vma, 0, true), 0, { v: 0 }, null, f.ops), VM_FAULT_NOPAGE);
    const pte = vma.ptes.get(0)!;
    assert.notStrictEqual(pte.pfn, old / P);
    assert.deepStrictEqual(devBytes(f, (pte.pfn as number) * P, 4096), pattern(5, 4096));
    assert.strictEqual(daxState(f.inode).entries.get(0)!.towrite, true);
  });

  it('errors: write to a hole the fs will not fill is SIGBUS; a short mapping is -EIO; -ENOMEM is OOM', () => {
    const { f } = mk(4096, { size: 8192, allocOnWrite: 'none' });
    const vma = vmaOf(f);
    assert.strictEqual(daxIomapFault(vmFault(vma, 0, true), 0, { v: 0 }, null, f.ops), VM_FAULT_SIGBUS);
    const errp = { v: 0 };
    const ops = new ScriptedOps([{ map: { offset: 0, length: 2048, type: IOMAP_MAPPED, addr: MiB, bdev: f.fs.dev } }]);
    assert.strictEqual(daxIomapFault(vmFault(vma, 0, false), 0, { v: 0 }, errp, ops), VM_FAULT_SIGBUS);
    assert.strictEqual(errp.v, -EIO);
    assert.deepStrictEqual(ops.trace(), ['begin(0, 4096, FAULT|DAX)', 'end(0, 2048, 0, FAULT|DAX)']);
    const g = mk(4096, { size: 8192 }).f;
    g.beginHook = () => -ENOMEM;
    assert.strictEqual(daxIomapFault(vmFault(vmaOf(g), 0, false), 0, { v: 0 }, errp, g.ops), VM_FAULT_OOM);
    assert.strictEqual(errp.v, -ENOMEM);
  });
});

describe('dax_iomap_fault: PMD', () => {
  const VA = 1 << 30; // PMD aligned user address
  function setupPmd(o: { size?: number; addr?: number; maxMapBlocks?: number } = {}) {
    const { f } = mk(4096, { size: o.size ?? 4 * MiB, maxMapBlocks: o.maxMapBlocks });
    f.set(0, 1024, 'mapped', { addr: o.addr ?? 4 * MiB });
    return f;
  }

  it('a PMD-aligned 2 MiB mapping on PMD-aligned storage is mapped huge', () => {
    const f = setupPmd();
    const vma = new Vma(f.inode, { start: VA, length: 4 * MiB });
    const r = daxIomapFault(vmFault(vma, 513, true), PMD_ORDER, { v: 0 }, null, f.ops);
    assert.strictEqual(r, VM_FAULT_NOPAGE);
    // Pages 512..1023 -> device pages 1024 + 512 + i.
    assert.deepStrictEqual(vma.ptes.get(512), { pfn: 1536, write: true, huge: true });
    assert.deepStrictEqual(vma.ptes.get(1023), { pfn: 2047, write: true, huge: true });
    assert.strictEqual(vma.ptes.size, 512);
    assert.strictEqual(daxState(f.inode).entries.get(512)!.order, PMD_ORDER);
    assert.deepStrictEqual(f.trace().slice(0, 1), [`begin(${2 * MiB}, ${PMD_SIZE}, WRITE|FAULT|DAX)`]);
  });

  it('a PTE fault inside a range already mapped by a PMD returns NOPAGE without a lookup', () => {
    const f = setupPmd();
    const vma = new Vma(f.inode, { start: VA, length: 4 * MiB });
    assert.strictEqual(daxIomapFault(vmFault(vma, 513, false), PMD_ORDER, { v: 0 }, null, f.ops), VM_FAULT_NOPAGE);
    const begins = f.begins().length;
    assert.strictEqual(daxIomapFault(vmFault(vma, 600, false), 0, { v: 0 }, null, f.ops), VM_FAULT_NOPAGE);
    assert.strictEqual(f.begins().length, begins);
    assert.strictEqual(vma.ptes.get(600)!.huge, true);
  });

  const fallbacks: Array<[string, () => { f: FakeFile; vma: Vma; idx: number; write: boolean }]> = [
    ['the file offset and the address have different PMD colours', () => {
      const f = setupPmd();
      return { f, vma: new Vma(f.inode, { start: VA + P, length: 4 * MiB }), idx: 600, write: false };
    }],
    ['a private write (COW is done with PTEs)', () => {
      const f = setupPmd();
      return { f, vma: new Vma(f.inode, { start: VA, length: 4 * MiB, shared: false }), idx: 600, write: true };
    }],
    ['the PMD would extend outside the VMA', () => {
      const f = setupPmd();
      return { f, vma: new Vma(f.inode, { start: VA, length: 3 * MiB }), idx: 600, write: false };
    }],
    ['the PMD would extend past EOF', () => {
      const f = setupPmd({ size: 3 * MiB });
      return { f, vma: new Vma(f.inode, { start: VA, length: 4 * MiB }), idx: 600, write: false };
    }],
    ['the mapping is shorter than a PMD', () => {
      const f = setupPmd({ maxMapBlocks: 256 });
      return { f, vma: new Vma(f.inode, { start: VA, length: 4 * MiB }), idx: 600, write: false };
    }],
    ['the storage is not PMD aligned', () => {
      const f = setupPmd({ addr: 4 * MiB + P });
      return { f, vma: new Vma(f.inode, { start: VA, length: 4 * MiB }), idx: 600, write: false };
    }],
    ['a PTE entry already exists in the range', () => {
      const f = setupPmd();
      const vma = new Vma(f.inode, { start: VA, length: 4 * MiB });
      assert.strictEqual(daxIomapFault(vmFault(vma, 700, false), 0, { v: 0 }, null, f.ops), VM_FAULT_NOPAGE);
      vma.ptes.clear();
      return { f, vma, idx: 600, write: false };
    }],
  ];
  for (const [why, build] of fallbacks) {
    it(`falls back to PTEs when ${why}`, () => {
      const { f, vma, idx, write } = build();
      const before = daxState(f.inode).pmdFallbacks;
      assert.strictEqual(daxIomapFault(vmFault(vma, idx, write), PMD_ORDER, { v: 0 }, null, f.ops), VM_FAULT_FALLBACK);
      assert.strictEqual(daxState(f.inode).pmdFallbacks, before + 1);
      assert.ok([...vma.ptes.values()].every((p) => !p.huge));
    });
  }

  it('at/after EOF is SIGBUS; an unsupported order falls back', () => {
    const f = setupPmd({ size: 2 * MiB });
    const vma = new Vma(f.inode, { start: VA, length: 4 * MiB });
    assert.strictEqual(daxIomapFault(vmFault(vma, 600, false), PMD_ORDER, { v: 0 }, null, f.ops), VM_FAULT_SIGBUS);
    assert.strictEqual(daxIomapFault(vmFault(vma, 10, false), 4, { v: 0 }, null, f.ops), VM_FAULT_FALLBACK);
  });

  it('PMD read fault on a hole maps the huge zero page; a later PTE fault downgrades it', () => {
    const { f } = mk(4096, { size: 4 * MiB });
    const vma = new Vma(f.inode, { start: VA, length: 4 * MiB });
    assert.strictEqual(daxIomapFault(vmFault(vma, 5, false), PMD_ORDER, { v: 0 }, null, f.ops), VM_FAULT_NOPAGE);
    assert.strictEqual(vma.ptes.size, 512);
    assert.ok([...vma.ptes.values()].every((p) => p.pfn === 'zero' && p.huge && !p.write));
    const st = daxState(f.inode);
    assert.strictEqual(st.entries.get(0)!.zero, true);
    assert.strictEqual(st.entries.get(0)!.order, PMD_ORDER);
    // PTE read fault at page 7: the zero PMD entry is dropped and unmapped, a PTE zero entry made.
    assert.strictEqual(daxIomapFault(vmFault(vma, 7, false), 0, { v: 0 }, null, f.ops), VM_FAULT_NOPAGE);
    assert.strictEqual(st.entries.get(0), undefined);
    assert.strictEqual(st.entries.get(7)!.order, 0);
    assert.deepStrictEqual([...vma.ptes.keys()], [7]);
  });

  it('PMD sync fault: NEEDDSYNC, then the PMD is installed by dax_finish_sync_fault', () => {
    const { f } = mk(4096, { size: 4 * MiB });
    f.set(0, 1024, 'mapped', { addr: 4 * MiB, dirty: true });
    const vma = new Vma(f.inode, { start: VA, length: 4 * MiB, sync: true });
    const pfnp = { v: -1 };
    const vmf = vmFault(vma, 3, true);
    assert.strictEqual(daxIomapFault(vmf, PMD_ORDER, pfnp, null, f.ops), VM_FAULT_NEEDDSYNC);
    assert.strictEqual(pfnp.v, 1024);
    assert.strictEqual(vma.ptes.size, 0);
    const syncs: number[][] = [];
    assert.strictEqual(daxFinishSyncFault(vmf, PMD_ORDER, pfnp.v, (s, e) => { syncs.push([s, e]); return 0; }), VM_FAULT_NOPAGE);
    // vfs_fsync_range(pgoff·4096, +PAGE_SIZE << 9): from the faulting page 3.
    assert.deepStrictEqual(syncs, [[3 * P, 3 * P + PMD_SIZE - 1]]);
    assert.strictEqual(vma.ptes.size, 512);
    assert.strictEqual(daxState(f.inode).entries.get(0)!.dirty, true);
  });
});

describe('dax_zero_range, dax_truncate_page, dax_file_unshare', () => {
  it('zero range: MAPPED bytes are zeroed (partial and whole pages), HOLE/UNWRITTEN skipped', () => {
    // 4 blocks: 0,1 mapped (0x55), 2 unwritten, 3 hole. Zero [1000, 16384): mapped bytes
    // [1000, 8192) zeroed (page 0 partially, page 1 whole), [0, 1000) kept.
    const { f, rec } = mk(4096, { size: 16384 });
    f.set(0, 2, 'mapped');
    f.set(2, 1, 'unwritten');
    f.writeDevice(0, new Uint8Array(8192).fill(0x55));
    const uw = f.blocks.get(2)!.addr;
    rec.inner.write(uw, new Uint8Array(4096).fill(0x66));
    const did = { v: false };
    assert.strictEqual(daxZeroRange(f.inode, 1000, 15384, did, f.ops), 0);
    assert.strictEqual(did.v, true);
    const disk = f.readDisk(0, 8192);
    assert.ok(allBytes(disk.subarray(0, 1000), 0x55));
    assert.ok(allBytes(disk.subarray(1000), 0));
    assert.ok(allBytes(devBytes(f, uw, 4096), 0x66), 'unwritten storage untouched');
    assert.ok(f.begins().every((b) => b.flags === (IOMAP_DAX | IOMAP_ZERO)));
    const g = mk(4096, { size: 8192 });
    g.f.set(0, 1, 'unwritten');
    const did2 = { v: false };
    assert.strictEqual(daxZeroRange(g.f.inode, 0, 8192, did2, g.f.ops), 0);
    assert.strictEqual(did2.v, false);
    assert.deepStrictEqual(g.rec.writes(), []);
  });

  it('zeroing a SHARED mapping copies the rest of the page from the source', () => {
    // dst page at 2 MiB (0xee), src at 3 MiB (0x11); zero [1000, 3000) -> dst = 0x11 | 0 | 0x11.
    const { f, rec } = mk(4096, { size: 4096 });
    rec.inner.write(2 * MiB, new Uint8Array(4096).fill(0xee));
    rec.inner.write(3 * MiB, new Uint8Array(4096).fill(0x11));
    const ops = new ScriptedOps([{
      map: { offset: 0, length: 4096, type: IOMAP_MAPPED, addr: 2 * MiB, flags: IOMAP_F_SHARED, bdev: rec },
      src: { offset: 0, length: 4096, type: IOMAP_MAPPED, addr: 3 * MiB, bdev: rec },
    }]);
    assert.strictEqual(daxZeroRange(f.inode, 1000, 2000, null, ops), 0);
    const page = devBytes(f, 2 * MiB, 4096);
    assert.ok(allBytes(page.subarray(0, 1000), 0x11));
    assert.ok(allBytes(page.subarray(1000, 3000), 0));
    assert.ok(allBytes(page.subarray(3000), 0x11));
  });

  it('truncate page: nothing at a block boundary; otherwise zero to the block end', () => {
    for (const bs of [1024, 4096]) {
      const { f } = mk(bs, { size: 16384 });
      f.set(0, 16384 / bs, 'mapped');
      f.writeDevice(0, new Uint8Array(16384).fill(0x55));
      assert.strictEqual(daxTruncatePage(f.inode, 2 * bs, null, f.ops), 0);
      assert.deepStrictEqual(f.trace(), []);
      // pos = 2·bs + 100: zero [2·bs + 100, 3·bs).
      assert.strictEqual(daxTruncatePage(f.inode, 2 * bs + 100, null, f.ops), 0);
      const disk = f.readDisk(0, 16384);
      assert.ok(allBytes(disk.subarray(0, 2 * bs + 100), 0x55));
      assert.ok(allBytes(disk.subarray(2 * bs + 100, 3 * bs), 0));
      assert.ok(allBytes(disk.subarray(3 * bs), 0x55));
    }
  });

  it('unshare copies whole pages around the range from the source; non-shared ranges and pos >= size do nothing', () => {
    const { f, rec } = mk(4096, { size: 8192 });
    rec.inner.write(2 * MiB, new Uint8Array(8192).fill(0xee));
    rec.inner.write(3 * MiB, pattern(9, 8192));
    const ops = new ScriptedOps([{
      map: { offset: 0, length: 8192, type: IOMAP_MAPPED, addr: 2 * MiB, flags: IOMAP_F_SHARED, bdev: rec },
      src: { offset: 0, length: 8192, type: IOMAP_MAPPED, addr: 3 * MiB, bdev: rec },
    }]);
    // [1000, 3000) -> copy page [0, 4096) only.
    assert.strictEqual(daxFileUnshare(f.inode, 1000, 2000, ops), 0);
    assert.deepStrictEqual(devBytes(f, 2 * MiB, 4096), pattern(9, 8192).subarray(0, 4096));
    assert.ok(allBytes(devBytes(f, 2 * MiB + 4096, 4096), 0xee));
    assert.deepStrictEqual(ops.trace()[0], 'begin(1000, 2000, WRITE|UNSHARE|DAX)');
    assert.strictEqual(daxFileUnshare(f.inode, 8192, 100, ops), 0);
    const g = mk(4096, { size: 8192 });
    g.f.set(0, 2, 'mapped');
    g.rec.log.length = 0;
    assert.strictEqual(daxFileUnshare(g.f.inode, 0, 8192, g.f.ops), 0);
    assert.deepStrictEqual(g.rec.writes(), []);
  });
});

describe('dax_dedupe_file_range_compare', () => {
  function two(srcData: Uint8Array, dstData: Uint8Array) {
    const fs = new FakeFs({ blockSize: 4096, dev: new MemoryDevice({ size: 64 * MiB }) });
    const a = fs.file({ size: srcData.length });
    const b = fs.file({ size: dstData.length });
    a.set(0, Math.ceil(srcData.length / 4096), 'mapped');
    b.set(0, Math.ceil(dstData.length / 4096), 'mapped');
    a.writeDevice(0, srcData);
    b.writeDevice(0, dstData);
    // One ops table serving both inodes.
    const ops: IomapOps = {
      begin: (ino, ...rest) => (ino === a.inode ? a : b).begin(ino, ...rest),
      end: (ino, ...rest) => (ino === a.inode ? a : b).end(ino, ...rest),
    };
    return { a, b, ops };
  }

  it("identical ranges: same; the destination's last mapping never gets ->iomap_end (the && short-circuits)", () => {
    const d = pattern(1, 16384);
    const { a, b, ops } = two(d, d.slice());
    const same = { v: false };
    assert.strictEqual(daxDedupeFileRangeCompare(a.inode, 0, b.inode, 0, 16384, same, ops), 0);
    assert.strictEqual(same.v, true);
    // One mapping each ([0, 16384)): src begin+end, dst begin only.
    assert.deepStrictEqual(a.trace(), ['begin(0, 16384, DAX)', 'end(0, 16384, 16384, DAX)']);
    assert.deepStrictEqual(b.trace(), ['begin(0, 16384, DAX)']);
  });

  it('a difference stops the walk: not same, 0 bytes reported to both ->iomap_end calls that happen', () => {
    const d = pattern(1, 16384);
    const e = d.slice();
    e[9000] ^= 1;
    const { a, b, ops } = two(d, e);
    const same = { v: true };
    assert.strictEqual(daxDedupeFileRangeCompare(a.inode, 0, b.inode, 0, 16384, same, ops), 0);
    assert.strictEqual(same.v, false);
    assert.deepStrictEqual(a.trace(), ['begin(0, 16384, DAX)', 'end(0, 16384, 0, DAX)']);
    assert.deepStrictEqual(b.trace(), ['begin(0, 16384, DAX)']);
  });

  it('HOLE vs HOLE is the same, HOLE vs data is not', () => {
    const fs = new FakeFs({ blockSize: 4096 });
    const a = fs.file({ size: 8192 });
    const b = fs.file({ size: 8192 });
    const ops: IomapOps = {
      begin: (ino, ...rest) => (ino === a.inode ? a : b).begin(ino, ...rest),
      end: (ino, ...rest) => (ino === a.inode ? a : b).end(ino, ...rest),
    };
    const same = { v: false };
    assert.strictEqual(daxDedupeFileRangeCompare(a.inode, 0, b.inode, 0, 8192, same, ops), 0);
    assert.strictEqual(same.v, true);
    b.set(1, 1, 'mapped');
    assert.strictEqual(daxDedupeFileRangeCompare(a.inode, 0, b.inode, 0, 8192, same, ops), 0);
    assert.strictEqual(same.v, false);
  });

  it('kernel quirk: bytes are compared from the start of the PAGE holding each position', () => {
    // Comparing [100, 4096) of both files reads 3996 bytes from each PAGE START, i.e. [0, 3996):
    // (a) files equal on [100, 4096) but different at byte 10 -> "not same";
    // (b) files equal on [0, 3996) but different at byte 4000 (inside the range) -> "same".
    const d = pattern(2, 4096);
    const e = d.slice();
    e[10] ^= 1;
    let t = two(d, e);
    const same = { v: true };
    daxDedupeFileRangeCompare(t.a.inode, 100, t.b.inode, 100, 3996, same, t.ops);
    assert.strictEqual(same.v, false);
    const g = d.slice();
    g[4000] ^= 1;
    t = two(d, g);
    daxDedupeFileRangeCompare(t.a.inode, 100, t.b.inode, 100, 3996, same, t.ops);
    assert.strictEqual(same.v, true);
  });
});
