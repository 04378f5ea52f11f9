/**
 * fsx/diff --known DIR: a failure whose shrunk signature is in a known-signature folder is reported
 * as a known hit and fuzzing goes on with the next seed; a failure that is not known ends the run
 * (exit 1). The known folder is made here from a mutant's shrunk failure.
 */
import { strict as assert } from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { main } from '../cli/main';
import { failureSignature, KnownSignature, KnownSignatureError, knownIndex, loadKnownSignatures, lookupKnown, signatureText } from '../properties/signatures';
import { builtInKnown } from '../cli/known';
import { inProcess as cli, naiveModule } from './support/bin';

/** The classic op mix (without fsx's newer ops): the op counts below were measured in its stream. */
const CLASSIC = ['--weight', 'read_dontcache=0', '--weight', 'write_dontcache=0', '--weight', 'write_atomic=0', '--weight', 'exchange_range=0'];

describe('fsx --known DIR', () => {
  let tmp: string;
  let known: string;
  before(async function () {
    this.timeout(120_000);
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'known-test-'));
    known = path.join(tmp, 'known');
    fs.mkdirSync(known);
    const r = await cli(['fsx', '--adapter', 'mutant:collapse-short-by-one', '-N', '2000', '-q', ...CLASSIC, '--shrink', '--save', path.join(tmp, 'first'), '--json']);
    assert.equal(r.code, 1, r.out);
    const min = (r.json.failure as { shrunk: { log: string } }).shrunk.log;
    fs.copyFileSync(min, path.join(known, 'collapse-short-by-one.json'));
  });
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('a known failure is a known hit and the run goes on past it with the next seed', async function () {
    this.timeout(120_000);
    // (-N 200: seed 1 of today's default op stream catches the mutant at op 138.)
    const r = await cli(['fsx', '--adapter', 'mutant:collapse-short-by-one', '-N', '200', '-q', ...CLASSIC, '--known', known, '--save', path.join(tmp, 'k1'), '--json']);
    const hits = r.json.knownHits as { seed: number; known: string }[];
    assert.ok(hits.length >= 1, r.out);
    assert.equal(hits[0].seed, 1);
    assert.match(r.out, /Known signature .*going on with seed 2/);
    assert.ok((r.json.ops as number) >= 61, 'the ops of every seed are counted');
    // Time and speed are the whole run's too, not the last seed's (was: the continuation seed's only).
    const { ops, elapsedMs, opsPerSec } = r.json as { ops: number; elapsedMs: number; opsPerSec: number };
    if (elapsedMs > 0) assert.equal(opsPerSec, Math.round((ops * 1000) / elapsedMs));
  });

  /*
   * A soak that goes on past known hits numbers each seed's ops from 1; -p counts the run's ops
   * (was: after a hit the next seed printed at its own 50,000th op, not the run's).
   */
  it('-p counts the run\'s ops across the seeds a known hit goes on with', async function () {
    this.timeout(120_000);
    const every = 20;
    const r = await cli(['fsx', '--adapter', 'mutant:collapse-short-by-one', '-N', '200', '-q', ...CLASSIC, '--known', known, '--save', path.join(tmp, 'k4'), '-p', String(every), '--json']);
    const lines = r.out.split('\n');
    const after = lines.findIndex((l) => /going on with seed 2/.test(l));
    assert.ok(after > 0, r.out);
    const runOps = lines.filter((l) => /^[0-9]+ [a-z]/.test(l)).map((l) => Number((/\(op ([0-9]+) of the run\)$/.exec(l) ?? [l, l.split(' ')[0]])[1]));
    assert.ok(runOps.length >= 2, r.out);
    for (const n of runOps) assert.equal(n % every, 0, `a -p line at run op ${n}: ${r.out}`);
    for (let i = 1; i < runOps.length; i++) assert.ok(runOps[i] > runOps[i - 1], `-p lines go forward: ${runOps.join(', ')}`);
    assert.ok(lines.slice(after).some((l) => /\(op [0-9]+ of the run\)$/.test(l)), 'a line after the hit names its run op');
  });

  it('without --known the same run fails at the first failure', async function () {
    this.timeout(120_000);
    const r = await cli(['fsx', '--adapter', 'mutant:collapse-short-by-one', '-N', '200', '-q', ...CLASSIC, '--save', path.join(tmp, 'k2'), '--json']);
    assert.equal(r.code, 1);
    assert.equal(r.json.knownHits, undefined);
  });

  it('a failure that is not known ends the run (exit 1, no hits)', async function () {
    this.timeout(120_000);
    const r = await cli(['fsx', '--adapter', 'mutant:insert-short-by-one', '-N', '3000', '-q', ...CLASSIC, '--known', known, '--save', path.join(tmp, 'k3'), '--json']);
    assert.equal(r.code, 1, r.out);
    assert.deepEqual(r.json.knownHits, []);
    assert.ok(r.json.failure);
  });

  it('a folder that is not one is a usage error', async () => {
    const r = await main(['fsx', '--known', path.join(tmp, 'nope'), '-N', '10'], { stdout: () => undefined, stderr: () => undefined, isTTY: false });
    assert.equal(r, 2);
  });

  describe('the errno is part of an op-error or divergence signature', () => {
    const ops = [{ op: 'write', off: 0, len: 10 }, { op: 'read_direct', off: 0, len: 4096 }] as never;
    const eio = failureSignature('op-error', undefined, { ops }, 'EIO');

    it('a known EIO does not swallow an EINVAL of the same op shape; a known without errno matches any', () => {
      const k = (sig: ReturnType<typeof failureSignature>): KnownSignature => ({ signature: sig, file: 'k.json', note: '' });
      const idx = knownIndex([k(eio)]);
      assert.equal(lookupKnown(idx, failureSignature('op-error', undefined, { ops }, 'EIO'))?.file, 'k.json');
      assert.equal(lookupKnown(idx, failureSignature('op-error', undefined, { ops }, 'EINVAL')), undefined, 'EINVAL is a new failure');
      const old = knownIndex([k(failureSignature('op-error', undefined, { ops }))]);
      assert.equal(lookupKnown(old, failureSignature('op-error', undefined, { ops }, 'EINVAL'))?.file, 'k.json', 'a known log without errno matches as before');
      assert.equal(signatureText(failureSignature('bad-data', 'fileops-14.3', { ops }, 'EIO')), 'bad-data|fileops-14.3|write read_direct', 'other kinds carry no errno');
      assert.equal(signatureText(failureSignature('divergence', 'diff-result', { ops }, 'EIO')), 'divergence|diff-result|write read_direct|EIO');
    });

    it('the known folder of the project names the errno of every kernel finding, or the monitor rule of a contract one', () => {
      const all = loadKnownSignatures([path.join(__dirname, '..', '..', 'corpus', 'known')]);
      for (const k of all) {
        if (k.signature.kind === 'contract') assert.match(k.signature.rule, /^R\d+$/, k.file);
        else assert.equal(k.signature.errno, 'EIO', k.file);
      }
      assert.ok(all.some((k) => k.signature.kind === 'contract'), 'the ext4 R33 finding is there');
    });
  });

  describe('contract signatures: the monitor rule instead of an errno', () => {
    const ops = [{ op: 'write', off: 0, len: 1 }, { op: 'write_atomic', off: 4096, len: 1024, noMsync: true }, { op: 'mapwrite', off: 0, len: 2048 }];
    const logWith = (expected: Record<string, unknown>) => JSON.stringify({
      format: 'iomap-harness-oplog', version: 5, adapter: 'reference', geometry: { blockSize: 1024, pageSize: 4096 }, setup: { personality: 'ext4' }, seed: 1, ops, expected,
    });
    const folder = (name: string, expected: Record<string, unknown>): string => {
      const d = path.join(tmp, name);
      fs.mkdirSync(d);
      fs.writeFileSync(path.join(d, 'k.json'), logWith(expected));
      return d;
    };

    it('a contract known signature must name the monitor rule it breaks', () => {
      assert.throws(() => loadKnownSignatures([folder('c-norule', { outcome: 'fail', kind: 'contract', op: 3 })]), KnownSignatureError);
      assert.throws(() => loadKnownSignatures([folder('c-badrule', { outcome: 'fail', kind: 'contract', op: 3, rule: 'fileops-14.3' })]), /must name the monitor rule/);
    });

    it('it matches a failure of the same shape and rule only, and records the log\'s adapter and personality', () => {
      const known = loadKnownSignatures([folder('c-r33', { outcome: 'fail', kind: 'contract', op: 3, rule: 'R33' })]);
      assert.deepEqual([known[0].adapter, known[0].personality], ['reference', 'ext4']);
      const idx = knownIndex(known);
      const log = { ops } as never;
      assert.ok(lookupKnown(idx, failureSignature('contract', 'R33', log)));
      assert.equal(lookupKnown(idx, failureSignature('contract', 'R34', log)), undefined, 'another rule is a new failure');
      assert.equal(lookupKnown(idx, failureSignature('op-error', undefined, log, 'EIO')), undefined);
      assert.equal(lookupKnown(idx, failureSignature('contract', 'R33', { ops: ops.slice(1) } as never)), undefined, 'another shape');
    });

    it('built in: the reference under the ext4 personality knows the project\'s ext4 finding; generic and xfs know none', () => {
      const ext4 = [...builtInKnown('ext4').values()];
      assert.deepEqual(ext4.map((k) => path.basename(k.file)), ['ext4-6.18-mmap-eof-page-data-loss.json']);
      assert.equal(ext4[0].signature.rule, 'R33');
      assert.equal(builtInKnown(undefined).size, 0);
      assert.equal(builtInKnown('xfs').size, 0, 'the xfs findings are the host\'s, not reproduced by the reference');
    });

    it('fsx reports an op-error\'s errno, --known matches it only with the same errno, replay checks it', async function () {
      this.timeout(120_000);
      // naive whose 3rd truncate fails with the given errno.
      const errnoJs = JSON.stringify(path.join(__dirname, '..', 'reference', 'errno'));
      const mod = (errno: string) => path.join(tmp, naiveModule(tmp, `trunc-${errno}.js`, `const E = require(${errnoJs}); const tr = t.truncate.bind(t); let n = 0; t.truncate = (s) => { if (++n === 3) throw new E.FsError(E.${errno}, 'truncate: ${errno} from the test'); return tr(s); }`));
      const eioRun = await cli(['fsx', '--adapter', mod('EIO'), '-N', '400', '-q', ...CLASSIC, '--shrink', '--save', path.join(tmp, 'e1'), '--json']);
      assert.equal(eioRun.code, 1, eioRun.out);
      const f = eioRun.json.failure as { kind: string; errno?: string; shrunk: { log: string } };
      assert.equal(f.kind, 'op-error', eioRun.out);
      assert.equal(f.errno, 'EIO');
      const dir = path.join(tmp, 'known-eio');
      fs.mkdirSync(dir);
      const log = JSON.parse(fs.readFileSync(f.shrunk.log, 'utf8'));
      log.expected.errno = 'EIO';
      fs.writeFileSync(path.join(dir, 'eio.json'), JSON.stringify(log));
      const hit = await cli(['fsx', '--adapter', mod('EIO'), '-N', '400', '-q', ...CLASSIC, '--known', dir, '--save', path.join(tmp, 'e2'), '--json']);
      assert.ok((hit.json.knownHits as unknown[]).length >= 1, hit.out);
      const miss = await cli(['fsx', '--adapter', mod('EINVAL'), '-N', '400', '-q', ...CLASSIC, '--known', dir, '--save', path.join(tmp, 'e3'), '--json']);
      assert.equal(miss.code, 1, miss.out);
      assert.deepEqual(miss.json.knownHits, [], 'an EINVAL is not the known EIO');
      // replay: a log that records EIO ends as recorded on the EIO module only.
      const rec = path.join(dir, 'eio.json');
      const asRec = await cli(['replay', rec, '--adapter', mod('EIO'), '--as-recorded', '-q']);
      assert.equal(asRec.code, 0, asRec.out);
      const other = await cli(['replay', rec, '--adapter', mod('EINVAL'), '--as-recorded', '-q']);
      assert.equal(other.code, 1, other.out);
    });
  });
});
