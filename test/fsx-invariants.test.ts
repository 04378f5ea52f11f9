/**
 * The fsx runner asks a target that states its own invariants (reference targets: per-folio
 * state, delalloc reservations, kernel WARNs) after every op: a reservation leak reads back fine,
 * so only this check sees it.
 */
import * as assert from 'assert';
import { ReferenceAdapter, ReferenceTarget } from '../adapters/reference';
import { runFsx } from '../properties/fsx/engine';
import { defaultOptions } from '../properties/fsx/generator';
import { FULL_INVARIANTS_EVERY } from '../properties/fsx/runner';
import { refsOf } from '../reference/fs/refs';
import type { Extent } from '../reference/fs/extents';
import type { Folio } from '../reference/iomap/folio';
import type { Inode } from '../reference/iomap/types';

const quiet = { out: () => undefined, err: () => undefined };

describe('fsx runner: target invariants after every op', () => {
  it('a broken invariant stops the run with kind "invariant" at that op', () => {
    class Leaky extends ReferenceAdapter {
      open() {
        const t = super.open() as ReferenceTarget;
        let ops = 0;
        const orig = t.invariants.bind(t);
        t.invariants = () => (++ops >= 40 ? ['reservedBlocks 3 != delalloc blocks 2'] : orig());
        return t;
      }
    }
    const r = runFsx(new Leaky(), 'leaky', { ...defaultOptions(), numOps: 1000, seed: 1, quiet: true }, quiet);
    assert.ok(r.failure, 'the invariant violation was not reported');
    assert.strictEqual(r.failure!.kind, 'invariant');
    assert.ok(r.failure!.op >= 40 && r.failure!.op < 60, `failed at op ${r.failure!.op}`); // armed race ops do not run the check
    assert.ok(r.failure!.lines.some((l) => /reservedBlocks/.test(l)));
  });

  it('reference passes with the invariant check on', () => {
    const r = runFsx(new ReferenceAdapter(), 'reference', { ...defaultOptions(), numOps: 3000, seed: 5, quiet: true }, quiet);
    assert.strictEqual(r.failure, null, r.report.join('\n'));
  });
});

/*
 * Between full checks (every FULL_INVARIANTS_EVERY ops and at the end) the runner asks for the
 * invariants over what changed since the last check only (IomapFs.checkTouchedInvariants). What
 * changed is recorded where folio state changes (Folio's accessors, the ifs range helpers, the
 * page cache index), where extents change (ExtentMap) and at EOF moves.
 */
describe('fsx runner: invariants over what changed, everything every FULL_INVARIANTS_EVERY ops', () => {
  /** The byte range checkTouchedInvariants will look at for an inode (what it reads, before it forgets). */
  function touchedBytes(inode: Inode): [number, number] {
    const ri = refsOf(inode);
    const bs = inode.blockSize;
    const m = inode.mapping;
    let lo = Math.min(m.touchedLo, ri.extents.touchedLo * bs, ri.cow.touchedLo * bs);
    let hi = Math.max(m.touchedHi, ri.extents.touchedHi * bs, ri.cow.touchedHi * bs);
    if ((ri.inline !== null) !== ri.inlineAtCheck || m.sizeAtCheck < 0) return [0, Infinity];
    if (m.sizeAtCheck !== inode.size) {
      lo = Math.min(lo, Math.floor(Math.min(m.sizeAtCheck, inode.size) / bs) * bs);
      hi = Math.max(hi, Math.ceil(Math.max(m.sizeAtCheck, inode.size) / bs) * bs);
    }
    return [lo, hi];
  }

  /** Everything the invariants read of a folio: its flags, counters, bits, and which dirty blocks over holes hold data. */
  function folioState(inode: Inode, f: Folio): string {
    const ifs = f.ifs;
    const bits = ifs ? `${ifs.uptodate.join('')}/${ifs.dirty.join('')}/${ifs.readBytesPending}/${ifs.writeBytesPending}` : '-';
    const bs = inode.blockSize;
    let holes = '';
    if (f.dirty) {
      for (let i = 0; i < f.size / bs; i++) {
        if (refsOf(inode).extents.extentAt(f.pos / bs + i)) continue;
        holes += f.data.subarray(i * bs, (i + 1) * bs).some((x) => x !== 0) ? '1' : '0';
      }
    }
    return `${f.size} ${+f.uptodate}${+f.dirty}${+f.writeback}${+f.locked} ${f.refs} ${bits} ${holes}`;
  }

  /** Bounding block range where two extent lists map differently (state or physical block), or null. */
  function changedBlocks(a: readonly Extent[], b: readonly Extent[]): [number, number] | null {
    const at = (x: readonly Extent[], blk: number): string => {
      const e = x.find((y) => y.lblk <= blk && blk < y.lblk + y.len);
      return e ? `${e.state}:${e.pblk < 0 ? -1 : e.pblk + blk - e.lblk}` : 'hole';
    };
    const edges = [...new Set([...a, ...b].flatMap((e) => [e.lblk, e.lblk + e.len]))].sort((x, y) => x - y);
    let lo = Infinity;
    let hi = -Infinity;
    for (let k = 0; k + 1 < edges.length; k++) {
      if (at(a, edges[k]) === at(b, edges[k])) continue;
      lo = Math.min(lo, edges[k]);
      hi = Math.max(hi, edges[k + 1]);
    }
    return lo < hi ? [lo, hi] : null;
  }

  it('every folio and extent that changed between two checks lies where the next check looks', () => {
    const misses: string[] = [];
    let checked = 0;
    class Audited extends ReferenceAdapter {
      open() {
        const t = super.open() as ReferenceTarget;
        const orig = t.invariants.bind(t);
        let prev = new Map<Inode, { folios: Map<number, string>; exts: readonly Extent[]; cow: readonly Extent[] }>();
        t.invariants = (touched = false) => {
          const now = new Map<Inode, { folios: Map<number, string>; exts: readonly Extent[]; cow: readonly Extent[] }>();
          for (const inode of t.fsys.inodes()) {
            const folios = new Map<number, string>();
            for (const f of inode.mapping.allFolios()) folios.set(f.pos, folioState(inode, f));
            const ri = refsOf(inode);
            now.set(inode, { folios, exts: ri.extents.exts.slice(), cow: ri.cow.exts.slice() });
            const was = prev.get(inode);
            if (!touched || was === undefined) continue;
            checked++;
            const [lo, hi] = touchedBytes(inode);
            const inside = (a: number, b: number) => lo <= a && b <= hi;
            for (const [pos, st] of folios) {
              const size = Number(st.split(' ')[0]);
              if (was.folios.get(pos) !== st && !inside(pos, pos + size)) misses.push(`folio at ${pos} changed outside [${lo}, ${hi}): ${was.folios.get(pos)} -> ${st}`);
            }
            for (const [pos, st] of was.folios) {
              if (!folios.has(pos) && !inside(pos, pos + Number(st.split(' ')[0]))) misses.push(`folio at ${pos} left the cache outside [${lo}, ${hi})`);
            }
            for (const [a, b] of [[was.exts, ri.extents.exts], [was.cow, ri.cow.exts]] as const) {
              const c = changedBlocks(a, b);
              if (c && !inside(c[0] * inode.blockSize, c[1] * inode.blockSize)) misses.push(`extents over blocks [${c[0]}, ${c[1]}) changed outside [${lo}, ${hi})`);
            }
          }
          prev = now;
          return orig(touched);
        };
        return t;
      }
    }
    for (const seed of [1, 2, 3]) {
      const r = runFsx(new Audited(), 'audited', { ...defaultOptions(), numOps: 1500, seed, quiet: true }, quiet);
      assert.strictEqual(r.failure, null, r.report.join('\n'));
    }
    assert.ok(checked > 3000, `only ${checked} checks looked at what changed`);
    assert.deepStrictEqual(misses.slice(0, 5), []);
  });

  /**
   * A run whose target corrupts a folio's per-block state behind the model's back (a bit flipped
   * in place: nothing records it) at the first check from the `from`-th on that finds a folio
   * `where` accepts. Returns the run, the folio, and the checks made up to the corruption and in all.
   */
  function corruptingRun(from: number, where: (inode: Inode, f: Folio) => boolean) {
    let hit: Folio | null = null;
    let checks = 0;
    let corruptedAt = 0;
    let lastFull = false;
    class Corrupting extends ReferenceAdapter {
      open() {
        const t = super.open() as ReferenceTarget;
        const orig = t.invariants.bind(t);
        t.invariants = (touched = false) => {
          if (++checks >= from && hit === null && touched) {
            const inode = t.fh.inode;
            hit = inode.mapping.allFolios().find((f) => f.uptodate && f.ifs !== null && !f.dirty && !f.writeback && where(inode, f)) ?? null;
            if (hit) {
              hit.ifs!.uptodate[0] = 0;
              corruptedAt = checks;
            }
          }
          lastFull = !touched;
          return orig(touched);
        };
        return t;
      }
    }
    const r = runFsx(new Corrupting(), 'corrupting', { ...defaultOptions(), numOps: 1000, seed: 7, quiet: true }, quiet);
    const f = hit as Folio | null;
    assert.ok(f, 'no folio with per-block state to corrupt');
    assert.ok(r.failure, 'the corruption was not caught');
    assert.strictEqual(r.failure!.kind, 'invariant');
    assert.ok(r.failure!.lines.some((l) => l.includes(`folio ${f!.index}+${f!.nrPages} uptodate true but bits 0`)), r.failure!.lines.join('\n'));
    return { r, corruptedAt, checks, lastFull };
  }

  it('a corruption in a folio the op touched is caught at that op', () => {
    const { corruptedAt, checks, lastFull } = corruptingRun(150, (inode, f) => {
      const [lo, hi] = touchedBytes(inode);
      return lo <= f.pos && f.end <= hi;
    });
    assert.strictEqual(checks, corruptedAt, `caught ${checks - corruptedAt} check(s) later`);
    assert.strictEqual(lastFull, false, 'caught by a full check');
  });

  it('a corruption in a folio no op touched is caught by the next full check', () => {
    // Seed 7: nothing touches the folio between the corruption and the next full check (the first
    // op checked from op 200 on).
    const { r, corruptedAt, checks, lastFull } = corruptingRun(180, (inode, f) => {
      const [lo, hi] = touchedBytes(inode);
      return f.end <= lo || f.pos >= hi;
    });
    assert.ok(checks > corruptedAt, 'caught at once: the folio was looked at');
    assert.ok(lastFull, 'caught by a check over what changed: an op touched the folio');
    assert.ok(r.failure!.op >= FULL_INVARIANTS_EVERY * 2 && r.failure!.op < FULL_INVARIANTS_EVERY * 2 + 5, `caught at op ${r.failure!.op}`);
  });
});
