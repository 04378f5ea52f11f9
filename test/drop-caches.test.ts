/**
 * echo 3 > drop_caches as the kernel does it: clean, unmapped folios go; dirty ones stay cached
 * with their delalloc reservations and nothing is written back. `syncAndDropCaches()` is the
 * explicit "sync, then drop" a check uses when every byte must come from the media.
 */
import * as assert from 'assert';
import { MemoryDevice } from '../reference/device/memory';
import { IomapFs } from '../reference/file';
import { FIEMAP_EXTENT_DELALLOC, FIEMAP_EXTENT_LAST, FIEMAP_EXTENT_UNKNOWN } from '../reference/uapi-fiemap';

const BS = 4096;

/** A file with one written (fsynced) block at 0 and one dirty delalloc block at 4 blocks in. */
function fileWithDirtyDelalloc() {
  const dev = countingWrites(new MemoryDevice({ size: 64 << 20 }));
  IomapFs.mkfs(dev, { blockSize: BS });
  const fsys = IomapFs.mount(dev, { maxFolioSize: BS });
  const f = fsys.open('f', { create: true });
  f.pwrite(0, new Uint8Array(BS).fill(1));
  f.fsync();
  f.pwrite(4 * BS, new Uint8Array(BS).fill(2));
  return { dev, fsys, f };
}

/** The device with a count of write() calls (any write-back shows up there). */
function countingWrites(dev: MemoryDevice): MemoryDevice & { writes: number } {
  const d = dev as MemoryDevice & { writes: number };
  d.writes = 0;
  const write = d.write.bind(d);
  d.write = (off, data, opts) => { d.writes++; write(off, data, opts); };
  return d;
}

function deviceWrites(dev: MemoryDevice & { writes: number }): number {
  return dev.writes;
}

describe('drop caches (drop_pagecache_sb): never writes back', () => {
  it('dirty delalloc survives: the folio stays dirty, the reservation stays, SEEK and FIEMAP still answer delalloc', () => {
    const { dev, fsys, f } = fileWithDirtyDelalloc();
    const reserved = fsys.refs.reservedBlocks;
    assert.strictEqual(reserved, 1, 'one delalloc block reserved before the drop');
    const writes = deviceWrites(dev);
    fsys.dropCaches();
    assert.strictEqual(deviceWrites(dev), writes, 'drop caches wrote to the device');
    assert.strictEqual(fsys.refs.reservedBlocks, reserved, 'the delalloc reservation was converted or released');
    const dirty = f.inode.mapping.folioAt(4 * BS);
    assert.ok(dirty && dirty.dirty, 'the dirty folio must still be cached and dirty');
    assert.strictEqual(f.inode.mapping.folioAt(0), undefined, 'the clean folio at 0 must be dropped');
    assert.deepStrictEqual(fsys.checkInvariants(), []);
    // SEEK: data at 0 (written) and at 4 blocks (dirty delalloc), a hole between.
    assert.strictEqual(f.seekData(0), 0);
    assert.strictEqual(f.seekHole(0), BS);
    assert.strictEqual(f.seekData(BS), 4 * BS);
    assert.strictEqual(f.seekHole(4 * BS), 5 * BS);
    // FIEMAP without FLAG_SYNC: the second extent is still delalloc (no physical block yet).
    const ext = f.fiemap(0, 5 * BS, 0);
    assert.strictEqual(ext.length, 2, JSON.stringify(ext));
    assert.strictEqual(ext[0].flags & FIEMAP_EXTENT_DELALLOC, 0);
    assert.strictEqual(ext[1].logical, 4 * BS);
    assert.strictEqual(ext[1].flags, FIEMAP_EXTENT_DELALLOC | FIEMAP_EXTENT_UNKNOWN | FIEMAP_EXTENT_LAST);
    // And the bytes read back as written (the clean block comes back from the media).
    assert.ok(f.pread(0, BS).every((b) => b === 1));
    assert.ok(f.pread(4 * BS, BS).every((b) => b === 2));
  });

  it('sync and drop caches writes the delalloc block back first: no reservation, FIEMAP says written', () => {
    const { dev, fsys, f } = fileWithDirtyDelalloc();
    const writes = deviceWrites(dev);
    fsys.syncAndDropCaches();
    assert.ok(deviceWrites(dev) > writes, 'sync and drop must write the dirty block');
    assert.strictEqual(fsys.refs.reservedBlocks, 0);
    assert.strictEqual(f.inode.mapping.nrFolios, 0, 'every folio is clean after the sync, so every one goes');
    const ext = f.fiemap(0, 5 * BS, 0);
    assert.strictEqual(ext[ext.length - 1].flags & FIEMAP_EXTENT_DELALLOC, 0, JSON.stringify(ext));
    assert.ok(f.pread(4 * BS, BS).every((b) => b === 2));
  });

  it('a folio with dirty page table entries stays (it is mapped); a clean one goes', () => {
    const { fsys, f } = fileWithDirtyDelalloc();
    f.fsync();
    f.mmapWrite(0, new Uint8Array(10).fill(3), { msync: false });
    fsys.dropCaches();
    assert.ok(f.inode.mapping.folioAt(0), 'the folio stored to through the mapping stays');
    assert.strictEqual(f.inode.mapping.folioAt(4 * BS), undefined, 'the written-back folio goes');
    assert.deepStrictEqual(Array.from(f.pread(0, 3)), [3, 3, 3]);
  });
});
