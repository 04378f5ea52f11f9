/**
 * Every property suite fails on a target with a relevant defect: the bug-zoo mutants of
 * properties/suites/catches.ts (the `primary` entries in every run; all of them with
 * SUITES_FULL=1), and small broken adapters made here for the areas the zoo has no mutant for
 * (unshare, swap-file activation, DAX). A counterexample that the op log alone reproduces is
 * replayed through `iomap-harness replay` without fast-check, with the same failure.
 */
import { strict as assert } from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { ReferenceAdapter, ReferenceTarget } from '../adapters/reference';
import type { AdapterOptions } from '../adapters/registry';
import type { FileTarget } from '../adapters/types';
import { IOMAP_F_SHARED, IOMAP_UNSHARE, IomapOps } from '../reference/iomap/types';
import { FsAdapter, refsFsAdapter } from '../adapters/fs-adapter';
import type { FileHandle } from '../reference/file';
import { CATCHES, NOT_CAUGHT } from '../properties/suites/catches';
import { registryEnv, runSuite, SUITES, suiteByName } from '../properties/suites/index';
import type { SuiteEnv } from '../properties/suites/types';
import type { PropertyResult } from '../properties/suites/harness';
import { listMutants } from '../adapters/registry';
import { inProcess as cli } from './support/bin';

const FULL = process.env.SUITES_FULL === '1';

function runOne(suite: string, property: string, env: SuiteEnv, dir: string, runs = 300, sweep = false): PropertyResult {
  const r = runSuite(suiteByName(suite)!, env, { runs, seed: 1, saveDir: dir, maxShrinks: 100, only: [property], sweep });
  assert.equal(r.skipped, undefined, `${suite} skipped: ${r.skipped}`);
  assert.equal(r.properties.length, 1);
  return r.properties[0];
}

/** A reference adapter whose targets get one extra defect (for areas the zoo has no mutant for). */
class DefectAdapter extends ReferenceAdapter {
  constructor(opts: ReferenceOptionsLike, private readonly wrap: (t: ReferenceTarget) => void) {
    super(opts);
  }
  open(): FileTarget {
    const t = super.open() as ReferenceTarget;
    this.wrap(t);
    return t;
  }
}
type ReferenceOptionsLike = ConstructorParameters<typeof ReferenceAdapter>[0];

function defectEnv(name: string, make: (o: AdapterOptions) => ReferenceAdapter): SuiteEnv {
  return { spec: name, opts: {}, create: (o) => make(o) };
}

/** Patch every FileHandle the target will use (the handle changes on close/open). */
function patchHandles(t: ReferenceTarget, patch: (fh: FileHandle) => void): void {
  let fh = t.fh;
  patch(fh);
  Object.defineProperty(t, 'fh', {
    get: () => fh,
    set: (v: FileHandle) => { fh = v; patch(v); },
    configurable: true,
  });
}

describe('property suites fail on targets with relevant defects', () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'suites-defects-'));
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  for (const c of CATCHES) {
    if (!FULL && c.primary !== true) continue;
    it(`${c.suite}/${c.property} catches mutant:${c.mutant} (${c.kind}${c.rule ? ` ${c.rule}` : ''})`, async () => {
      const p = runOne(c.suite, c.property, registryEnv(`mutant:${c.mutant}`), tmp, 300, c.sweep === true);
      assert.ok(p.failed, `${c.suite}/${c.property} passed ${p.runs} runs on mutant:${c.mutant}`);
      assert.equal(p.failure!.kind, c.kind, p.failure!.lines.join('\n'));
      if (c.rule !== undefined && p.failure!.kind === 'contract') assert.equal(p.failure!.rule, c.rule, p.failure!.lines.join('\n'));
      // Printed for replay: fast-check's seed and path; the op log is saved.
      assert.equal(typeof p.seed, 'number');
      assert.match(p.path ?? '', /^\d+(:\d+)*$/);
      assert.ok(p.log !== undefined && fs.existsSync(p.log), 'counterexample op log saved');
      if (c.replays) {
        assert.ok(p.replay?.same, `the op log alone should reproduce it: ${JSON.stringify(p.replay)}`);
        const r = await cli(['replay', p.log!, '--json', '-q']);
        assert.equal(r.code, 1, r.err);
        const summary = JSON.parse(r.out.trim().split('\n').pop()!) as { cases: Array<{ ok: boolean; outcome: string }> };
        assert.equal(summary.cases[0].ok, true, r.out.slice(-2000));
        assert.equal(summary.cases[0].outcome, p.failure!.kind);
      } else {
        // The claim holds both ways: a counterexample that does replay is listed as replaying.
        assert.ok(!p.replay?.same, `the op log alone reproduces it now: set replays: true in catches.ts (${JSON.stringify(p.replay)})`);
      }
    });
  }

  it('unshare catches a filesystem whose ->iomap_begin hides F_SHARED from UNSHARE (iomap-contract §5.5)', () => {
    // The unshare then copies nothing and the range stays reflinked (file-ops §14.13).
    const hiding: FsAdapter = {
      ...refsFsAdapter,
      name: 'refs-unshare-hides-shared',
      mount: (dev) => {
        const inst = refsFsAdapter.mount(dev);
        const real = inst.iomapOps;
        const ops: IomapOps = {
          begin: (inode, pos, len, flags, iomap, srcmap) => {
            const r = real.begin(inode, pos, len, flags, iomap, srcmap);
            if (flags & IOMAP_UNSHARE) iomap.flags &= ~IOMAP_F_SHARED;
            return r;
          },
          end: real.end === undefined ? undefined : (inode, pos, len, written, flags, iomap) => real.end!(inode, pos, len, written, flags, iomap),
        };
        (inst as { iomapOps: IomapOps }).iomapOps = ops;
        return inst;
      },
    };
    const env = defectEnv('reference+unshare-hides-shared', (o) => new ReferenceAdapter({ ...o, fs: hiding } as ReferenceOptionsLike));
    const p = runOne('unshare', 'unshare-content-neutral', env, tmp);
    assert.ok(p.failed, 'caught');
    assert.ok(p.failure!.rule === 'fileops-14.13' || p.failure!.kind === 'contract', p.failure!.lines.join('\n'));
  });

  it('swapfile catches a swapon that counts the swap header page as swap space (iomap-contract §5.12)', () => {
    const env = defectEnv('reference+swap-header-counted', (o) => new DefectAdapter({ ...o } as ReferenceOptionsLike,
      (t) => patchHandles(t, (fh) => {
        const real = fh.swapActivate.bind(fh);
        fh.swapActivate = (max?: number) => {
          const r = real(max);
          r.sis.pages = r.sis.max;
          return r;
        };
      })));
    const p = runOne('swapfile', 'activation', env, tmp);
    assert.ok(p.failed, 'caught');
    assert.equal(p.failure!.rule, 'iomap-contract-§5.12', p.failure!.lines.join('\n'));
  });

  for (const [defect, property] of [['no-new-flag', 'hole-pages'], ['no-zero-on-alloc', 'rw-and-faults'], ['truncate-no-zero', 'rw-and-faults']] as const) {
    it(`dax catches a DAX filesystem with defect ${defect} (iomap-contract §5.8), and its op log replays on the DAX target`, async () => {
      const p = runOne('dax', property, registryEnv('reference', { daxDefect: defect }), tmp, 400);
      assert.ok(p.failed, `dax/${property} passed ${p.runs} runs with ${defect}`);
      assert.ok(['bad-data', 'eof-page'].includes(p.failure!.kind), p.failure!.lines.join('\n'));
      // The log names the DAX target module; replay loads it by path (here without the defect:
      // the same ops pass on a correct DAX filesystem).
      const log = JSON.parse(fs.readFileSync(p.log!, 'utf8')) as { adapter: string };
      assert.match(log.adapter, /dax-target\.js$/);
      const r = await cli(['replay', p.log!, '--json', '-q']);
      const summary = JSON.parse(r.out.trim().split('\n').pop()!) as { cases: Array<{ outcome: string }> };
      assert.equal(summary.cases[0].outcome, 'pass', r.out.slice(-1500) + r.err);
    });
  }

  // The envelopes a kernel filesystem needs (adapters/types.ts) loosen a check; what is left of it
  // must still fail on a target that is wrong inside the envelope.
  function envelopeEnv(name: string, caps: Partial<ReferenceAdapter['capabilities']>, wrap: (t: ReferenceTarget, dioAlign: number) => void): SuiteEnv {
    return defectEnv(name, (o) => {
      const a: ReferenceAdapter = new DefectAdapter(o as ReferenceOptionsLike, (t) => wrap(t, a.capabilities.dioAlign));
      (a as { capabilities: ReferenceAdapter['capabilities'] }).capabilities = { ...a.capabilities, ...caps };
      return a;
    });
  }

  it('the envelopes alone do not fail a correct target (controls for the three tests below)', () => {
    const all = { dioMisalignedReadMaySucceed: true, dioMisalignedWriteBuffered: true, reflinkSkipsUnwritten: true };
    for (const [suite, prop] of [['direct-io', 'return-codes'], ['reflink', 'clone-shares']]) {
      const p = runOne(suite, prop, envelopeEnv('reference+envelopes', all, () => {}), tmp, 100);
      assert.ok(!p.failed, `${suite}/${prop}: ${p.failure?.lines.join('\n')}`);
    }
  });

  it('direct-io/return-codes with misaligned reads allowed to succeed still catches one that returns wrong bytes', () => {
    const env = envelopeEnv('reference+misaligned-dio-read-garbage', { dioMisalignedReadMaySucceed: true }, (t, al) => {
      const real = t.directRead!.bind(t);
      t.directRead = (off, len) => {
        if (off % al === 0) return real(off, len);
        const b = Uint8Array.from(t.pread(off, len));
        if (b.length > 0) b[0] ^= 0xa5;
        return b;
      };
    });
    const p = runOne('direct-io', 'return-codes', env, tmp);
    assert.ok(p.failed, 'caught');
    assert.equal(p.failure!.kind, 'bad-data', p.failure!.lines.join('\n'));
  });

  it('direct-io/return-codes with misaligned writes allowed to go buffered still catches one that is lost', () => {
    const env = envelopeEnv('reference+misaligned-dio-write-lost', { dioMisalignedWriteBuffered: true }, (t, al) => {
      const real = t.directWrite!.bind(t);
      t.directWrite = (off, data) => ((off | data.length) % al === 0 ? real(off, data) : data.length);
    });
    const p = runOne('direct-io', 'return-codes', env, tmp);
    assert.ok(p.failed, 'caught');
  });

  it('reflink/clone-shares with unwritten source blocks allowed to stay unshared still catches a clone that copies written blocks', () => {
    const env = envelopeEnv('reference+clone-copies', { reflinkSkipsUnwritten: true }, (t) => {
      t.cloneRange = (src, len, dst) => {
        const data = t.pread(src, len);
        if (data.length > 0) t.pwrite(dst, data);
      };
    });
    const p = runOne('reflink', 'clone-shares', env, tmp);
    assert.ok(p.failed, 'caught');
    assert.equal(p.failure!.kind, 'fiemap', p.failure!.lines.join('\n'));
  });

  it('every suite has at least one defect it is shown to catch', () => {
    const covered = new Set(CATCHES.filter((c) => c.primary === true).map((c) => c.suite));
    for (const s of ['unshare', 'swapfile', 'dax']) covered.add(s);
    for (const s of SUITES) assert.ok(covered.has(s.name), `no defect test for suite ${s.name}`);
  });

  it('the catches table names real mutants, suites and properties; the rest are listed as not caught, with why', () => {
    const mutants = new Set(listMutants().map((m) => m.name.slice('mutant:'.length)));
    for (const c of CATCHES) {
      assert.ok(mutants.has(c.mutant), `unknown mutant ${c.mutant}`);
      const s = suiteByName(c.suite);
      assert.ok(s !== undefined && s.properties.some((p) => p.name === c.property), `${c.suite}/${c.property}`);
    }
    for (const m of mutants) assert.ok(CATCHES.some((c) => c.mutant === m) || NOT_CAUGHT[m] !== undefined, `mutant ${m} neither caught nor explained`);
  });
});
