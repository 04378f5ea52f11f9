/**
 * The model invariants the fsx runner asks for after every op (IomapFs.checkInvariants: the §6
 * per-folio state, the §8b delalloc reservations) work run by run, not block by block. Each
 * check must still fire on the state it guards (a corrupted bit, a leaked or missing
 * reservation), and say exactly what the block-by-block definition below says, on random states
 * with random corruptions.
 */
import * as assert from 'assert';
import { MemoryDevice } from '../reference/device/memory';
import { IomapFs, checkFolioInvariants } from '../reference/file';
import { refsOf } from '../reference/fs/refs';
import type { Refs } from '../reference/fs/refs';
import { blockIsDirty } from '../reference/iomap/folio';
import type { Inode } from '../reference/iomap/types';
import { CrashRng } from '../reference/device/crash';

const BS = 1024;

function mounted(maxFolioSize = 16384) {
  const dev = new MemoryDevice({ size: 64 << 20 });
  IomapFs.mkfs(dev, { blockSize: BS, inlineMax: 0 });
  const fsys = IomapFs.mount(dev, { maxFolioSize });
  const f = fsys.open('f', { create: true });
  return { fsys, f, fs: fsys.refs, ri: refsOf(f.inode) };
}

/** The reservation invariants block by block: the definition the run-based check must match. */
function reservationsByBlock(fs: Refs, inode: Inode): string[] {
  const out: string[] = [];
  let total = 0;
  for (const r of fs.inodes.values()) total += r.extents.count('delalloc') + r.cow.count('delalloc');
  if (total !== fs.reservedBlocks) out.push(`reservedBlocks ${fs.reservedBlocks} != delalloc blocks ${total}`);
  const ri = refsOf(inode);
  const bs = fs.blockSize;
  const eofBlk = Math.ceil(inode.size / bs);
  const dirtyAt = (b: number): boolean => {
    const folio = inode.mapping.folioAt(b * bs);
    return !!folio && folio.dirty && blockIsDirty(folio, (b * bs - folio.pos) / bs);
  };
  for (const e of [...ri.extents.exts, ...ri.cow.exts]) {
    if (e.state !== 'delalloc') continue;
    for (let b = e.lblk; b < e.lblk + e.len; b++) {
      if (b >= eofBlk) { out.push(`delalloc block ${b} at/after EOF block ${eofBlk}`); break; }
      if (!dirtyAt(b)) { out.push(`delalloc block ${b} is not dirty in the page cache (leaked reservation)`); break; }
    }
  }
  for (const folio of inode.mapping.allFolios()) {
    for (let i = 0; i < folio.size / bs; i++) {
      const b = folio.pos / bs + i;
      if (b >= eofBlk) break;
      if (!blockIsDirty(folio, i) || !folio.dirty) continue;
      if (ri.extents.lookup(b).ext || ri.inline) continue;
      if (folio.data.subarray(i * bs, (i + 1) * bs).some((x) => x !== 0)) out.push(`dirty block ${b} below EOF has no reservation`);
    }
  }
  return out;
}

/** The per-block folio invariants block by block (the folio-level ones are not per block). */
function folioBlocksByBlock(inode: Inode): string[] {
  const out: string[] = [];
  for (const f of inode.mapping.allFolios()) {
    if (!f.ifs) continue;
    const { dirty, uptodate } = f.ifs;
    for (let i = 0; i < dirty.length; i++) {
      if (dirty[i] && !uptodate[i]) { out.push(`folio ${f.index}+${f.nrPages} block ${i} dirty but not uptodate`); break; }
    }
    const eofBlk = Math.ceil((inode.size - f.pos) / inode.blockSize);
    for (let i = 0; i < Math.min(eofBlk, dirty.length); i++) {
      if (dirty[i] && !f.dirty && !f.writeback) { out.push(`folio ${f.index}+${f.nrPages} block ${i} dirty bit set on a clean folio`); break; }
    }
  }
  return out;
}

describe('model invariants, run by run', () => {
  it('a delalloc block whose dirty bit was lost is a leaked reservation', () => {
    const { fsys, f } = mounted();
    f.pwrite(100, new Uint8Array(6 * BS).fill(7)); // blocks 0-6, folios of 4 blocks with per-block state
    assert.deepStrictEqual(fsys.checkInvariants(), []);
    f.inode.mapping.folioAt(0)!.ifs!.dirty[2] = 0;
    assert.deepStrictEqual(fsys.checkInvariants(), [`ino ${f.inode.ino}: delalloc block 2 is not dirty in the page cache (leaked reservation)`]);
  });

  it('a delalloc extent past EOF, and the fs-wide count that no longer matches', () => {
    const { fsys, f, ri } = mounted();
    f.pwrite(0, new Uint8Array(2 * BS).fill(7));
    ri.extents.set(40, 3, 'delalloc', -1);
    const v = fsys.checkInvariants();
    assert.ok(v.includes(`ino ${f.inode.ino}: reservedBlocks 2 != delalloc blocks 5`), v.join('\n'));
    assert.ok(v.includes(`ino ${f.inode.ino}: delalloc block 40 at/after EOF block 2`), v.join('\n'));
  });

  it('a dirty block below EOF with no reservation is reported unless it holds only zeroes', () => {
    const { fsys, f, ri } = mounted();
    f.pwrite(0, new Uint8Array(4 * BS).fill(7));
    ri.extents.remove(1, 2);
    fsys.refs.reservedBlocks -= 2;
    f.inode.mapping.folioAt(0)!.data.fill(0, 2 * BS, 3 * BS);
    assert.deepStrictEqual(fsys.checkInvariants(), [`ino ${f.inode.ino}: dirty block 1 below EOF has no reservation`]);
  });

  it('a dirty block that is not uptodate, and a dirty bit on a clean folio', () => {
    const { fsys, f } = mounted();
    f.pwrite(100, new Uint8Array(6 * BS).fill(7));
    const folio = f.inode.mapping.folioAt(0)!;
    folio.ifs!.uptodate[2] = 0;
    const v = fsys.checkInvariants();
    assert.ok(v.some((l) => /folio 0\+1 block 2 dirty but not uptodate/.test(l)), v.join('\n'));
    assert.ok(v.some((l) => /folio 0\+1 uptodate true but bits 1101/.test(l)), v.join('\n'));
    folio.ifs!.uptodate[2] = 1;
    f.fsync();
    assert.deepStrictEqual(fsys.checkInvariants(), []);
    folio.ifs!.dirty[1] = 1;
    assert.deepStrictEqual(fsys.checkInvariants(), [`ino ${f.inode.ino}: folio 0+1 block 1 dirty bit set on a clean folio`]);
  });

  it('says what the block-by-block definition says, on random states with random corruptions', () => {
    for (let seed = 1; seed <= 60; seed++) {
      const rng = new CrashRng(seed);
      const { f, fs, ri } = mounted(rng.chance(0.5) ? 16384 : 4096);
      const maxLen = 96 * BS;
      for (let k = 0; k < 12; k++) {
        const off = rng.below(maxLen);
        const len = 1 + rng.below(12 * BS);
        const r = rng.below(6);
        if (r <= 2) f.pwrite(off, new Uint8Array(len).fill(1 + rng.below(255)));
        else if (r === 3) f.truncate(rng.below(maxLen));
        else if (r === 4) f.fsync();
        else if (f.size > 0) f.pread(rng.below(f.size), len);
      }
      const corrupt = rng.below(5);
      const folios = f.inode.mapping.allFolios();
      const folio = folios.length ? rng.pick(folios) : undefined;
      if (corrupt === 0 && folio?.ifs) folio.ifs.dirty[rng.below(folio.ifs.dirty.length)] ^= 1;
      if (corrupt === 1 && folio?.ifs) folio.ifs.uptodate[rng.below(folio.ifs.uptodate.length)] ^= 1;
      if (corrupt === 2) ri.extents.remove(rng.below(96), 1 + rng.below(8));
      if (corrupt === 3) ri.extents.set(rng.below(120), 1 + rng.below(8), 'delalloc', -1);
      if (corrupt === 4 && folio) folio.dirty = !folio.dirty;
      assert.deepStrictEqual(fs.checkReservations(f.inode), reservationsByBlock(fs, f.inode), `seed ${seed}`);
      assert.deepStrictEqual(checkFolioInvariants(f.inode).filter((l) => / block \d+ /.test(l)), folioBlocksByBlock(f.inode), `seed ${seed}`);
    }
  });
});
