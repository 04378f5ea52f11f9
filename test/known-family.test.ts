/**
 * Family known signatures (corpus/known/*.family.json, docs/corpus.md "Family signatures"): a
 * failure is a known hit of a family when the target captured the kernel's own report of the op
 * that failed. Unit tests with a fake kernel log; an fsx run past a family hit without a shrink;
 * genuine divergences that must stay failures; and on a real scratch xfs, one of the exact-shape
 * DIO-collision cases classified by the family alone.
 */
import { strict as assert } from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { DiffAdapter } from '../adapters/diff';
import { createHostAdapter } from '../adapters/host';
import { delallocEvidence, dioCollisionEvidence, KmsgLog, KmsgSource, MAX_RW_COUNT, parseKmsgRecord, RATELIMIT_BURST } from '../adapters/host/kmsg';
import { ReferenceAdapter } from '../adapters/reference';
import type { FileAdapter, FileTarget, KernelEvidence } from '../adapters/types';
import { explainingFamily, knownFrom, runKernel, runPastKnown } from '../cli/known';
import { main } from '../cli/main';
import { replayLog } from '../properties/fsx/engine';
import { defaultOptions, FsxOptions } from '../properties/fsx/generator';
import { parseOpLog } from '../properties/fsx/oplog';
import { corpusDir } from '../properties/corpus-files';
import type { Failure, Output } from '../properties/fsx/runner';
import { failureSignature, familiesOf, familyExplains, kernelSeries, knownIndex, KnownSignature, KnownSignatureError, loadKnownSignatures, lookupKnown, seenOnKernel } from '../properties/signatures';
import { EIO, EINVAL, FsError } from '../reference/errno';
import { skipWith } from './support/expect';
import { withScratchFs } from './support/loop';

const FAMILY_FILE = path.join(corpusDir(), 'known', 'xfs-6.18-dio-collision.family.json');
const FILE = '/tmp/x/mnt/.iomap-harness-fsx-42-0123456789ab';
const warning = (file: string): string => `Direct I/O collision with buffered writes! File: ${file} Comm: node`;

/** A fake /dev/kmsg: records appended with push(), each read once. */
class FakeKmsg implements KmsgSource {
  private seq = 100;
  private queue: string[] = [];
  push(text: string, level = 4, usec = 123456): number {
    this.seq++;
    this.queue.push(`${level},${this.seq},${usec},-;${text}\n`);
    return this.seq;
  }
  next(): string | null {
    return this.queue.shift() ?? null;
  }
}

const quiet = { out: (): void => undefined, err: (): void => undefined };

function family() {
  return familiesOf(knownFrom([path.dirname(FAMILY_FILE)])!)[0].family!;
}

function evidenceFor(off: number, len: number, over: Partial<KernelEvidence> = {}): KernelEvidence {
  return { report: 'iomap-dio-delalloc', source: 'kmsg', fs: 'xfs', op: 'read_direct', off, len, errno: 'EIO', line: warning('/.iomap-harness-fsx-1-aa'), seq: 11, since: 10, ...over };
}

/** The host target's private evidence probe and the calls it makes, as the tests stub them. */
type EvidenceProbe = {
  fiemap: FileTarget['fiemap'];
  writebackErrorPending: () => boolean;
  collisionEvidence: (off: number, len: number, since: number) => KernelEvidence | null;
};

describe('family known signatures: kernel evidence', () => {
  it('a /dev/kmsg record parses into level, sequence number and text', () => {
    assert.deepEqual(parseKmsgRecord('4,352,231361797,-;Direct I/O collision with buffered writes! File: /t Comm: python3\n SUBSYSTEM=x\n'),
      { level: 4, seq: 352, text: 'Direct I/O collision with buffered writes! File: /t Comm: python3', usec: 231361797 });
    assert.equal(parseKmsgRecord('no separator'), null);
  });

  it('the warning naming the test file, logged after the mark, is evidence; absent, earlier or for another file it is not', () => {
    const k = new FakeKmsg();
    const log = new KmsgLog(k);
    k.push('XFS (loop2): Ending clean mount', 6);
    k.push(warning(`/${path.basename(FILE)}`)); // an earlier op's warning: before the mark
    const since = log.mark();
    assert.equal(since, 102);
    const op = { off: 0, len: 4096, errno: 'EIO' };
    assert.equal(dioCollisionEvidence(log.since(since), since, FILE, 'xfs', op), null, 'nothing logged during the op');
    k.push('loop: Write error at byte offset 0, length 4096.', 3);
    k.push(warning('/.iomap-harness-fsx-43-ffffffffffff')); // another process's file
    assert.equal(dioCollisionEvidence(log.since(since), since, FILE, 'xfs', op), null, 'another file or another message');
    const at = k.push(warning(`/${path.basename(FILE)}`));
    const e = dioCollisionEvidence(log.since(since), since, FILE, 'xfs', op);
    assert.ok(e !== null);
    assert.deepEqual([e.seq, e.since, e.report, e.fs, e.op, e.off, e.len], [at, since, 'iomap-dio-delalloc', 'xfs', 'read_direct', 0, 4096]);
    // The same record offered with a mark at or after it is dated before the op.
    assert.equal(dioCollisionEvidence([{ level: 4, seq: at, text: warning(`/${path.basename(FILE)}`) }], at, FILE, 'xfs', op), null);
  });

  /*
   * pr_warn_ratelimited lets 10 warnings through per 5 s interval, machine-wide: a missing warning
   * is explained by the limiter only when the log holds 10 collision warnings (any file) from the
   * 5 s before now. Times are the records' (microseconds since boot) against a fake clock.
   */
  it('the rate limiter can have taken the warning only when the last 10 collision warnings fall within the last 5 s', () => {
    const S = 1_000_000;
    let now = 100 * S;
    const k = new FakeKmsg();
    const log = new KmsgLog(k, () => now);
    const other = warning('/.iomap-harness-fsx-9-ffffffffffff');
    for (let i = 0; i < RATELIMIT_BURST - 1; i++) k.push(other, 4, 96 * S + i * 1000);
    k.push('some other warning', 4, 97 * S);
    assert.equal(log.rateLimitedNow(), null, '9 collision warnings: the 10th would have been logged');
    k.push(other, 4, 97 * S);
    assert.match(log.rateLimitedNow() ?? '', /^the warning was rate-limited: 10 collision warnings in the last 5 s \(kmsg #101-#111\)$/);
    now = 101 * S + 1;
    assert.equal(log.rateLimitedNow(), null, 'the oldest of the 10 is more than 5 s old: a new interval began');
    k.push(other, 4, 100 * S);
    assert.match(log.rateLimitedNow() ?? '', /kmsg #102-#112/, 'the last 10 again within 5 s');
    const untimed = new FakeKmsg();
    const log2 = new KmsgLog({ next: () => { const r = untimed.next(); return r === null ? null : r.replace(/,\d+,-;/, ',,-;'); } }, () => 0);
    for (let i = 0; i < 12; i++) untimed.push(other);
    assert.equal(log2.rateLimitedNow(), null, 'records without a time prove nothing');
  });

  it('without the warning, FIEMAP right after the read is evidence only with a delalloc extent inside the read range', () => {
    const op = { off: 8192, len: 8192, errno: 'EIO' };
    const ext = (logical: number, length: number, flags: number) => ({ logical, physical: 0, length, flags });
    assert.equal(delallocEvidence([ext(0, 65536, 0x1)], 'xfs', op), null, 'written extents only');
    assert.equal(delallocEvidence([ext(16384, 4096, 0x7)], 'xfs', op), null, 'delalloc just past the range');
    assert.equal(delallocEvidence([ext(0, 8192, 0x6)], 'xfs', op), null, 'delalloc just before it');
    assert.equal(delallocEvidence([ext(0, 8192, 0x800), ext(12288, 4096, 0x800)], 'xfs', op), null, 'unwritten is not delalloc');
    const e = delallocEvidence([ext(0, 8192, 0), ext(12288, 57344, 0x7)], 'xfs', op);
    assert.ok(e !== null);
    assert.equal(e.source, 'fiemap');
    assert.match(e.line, /delalloc extent \[12288, 69632\)/);
    assert.equal(familyExplains(family(), { kind: 'op-error', op: 2, errno: 'EIO', evidence: e }, { op: 'read_direct', off: 8192, len: 8192 }), true);
    // The kernel reads at most MAX_RW_COUNT bytes (rw_verify_area): delalloc past that is not the read's.
    const huge = { off: 0, len: 2 ** 32, errno: 'EIO' };
    assert.equal(delallocEvidence([ext(MAX_RW_COUNT, 4096, 0x6)], 'xfs', huge), null, 'delalloc just past what the read covered');
    const inside = delallocEvidence([ext(MAX_RW_COUNT - 4096, 4096, 0x6)], 'xfs', huge, 'the warning was rate-limited: …');
    assert.ok(inside !== null && inside.len === 2 ** 32, 'the last page it read; the evidence keeps the op\'s length');
    assert.match(inside.line, /the warning was rate-limited/);
  });

  it('the family explains an O_DIRECT read EIO with its evidence, and nothing else', () => {
    const spec = family();
    const rec = { op: 'read_direct', off: 8192, len: 4096 };
    const f = (over: Partial<Failure> = {}): Failure => ({ kind: 'divergence', rule: 'diff-result', op: 3, errno: 'EIO', lines: [], evidence: evidenceFor(8192, 4096), ...over });
    assert.equal(familyExplains(spec, f(), rec), true, 'diff: the host EIO against the reference bytes');
    assert.equal(familyExplains(spec, f({ kind: 'op-error', rule: undefined }), rec), true, 'fsx on the host: an op error');
    assert.equal(familyExplains(spec, f({ evidence: undefined }), rec), false, 'no kernel report');
    assert.equal(familyExplains(spec, f(), { ...rec, op: 'read' }), false, 'not an O_DIRECT read');
    assert.equal(familyExplains(spec, f({ errno: 'EINVAL', evidence: evidenceFor(8192, 4096, { errno: 'EINVAL' }) }), rec), false, 'another errno');
    assert.equal(familyExplains(spec, f({ errno: 'EINVAL' }), rec), false, 'the failure says EINVAL');
    assert.equal(familyExplains(spec, f({ evidence: evidenceFor(8192, 4096, { referenceFailed: true }) }), rec), false, 'the reference failed it too');
    assert.equal(familyExplains(spec, f({ evidence: evidenceFor(0, 4096) }), rec), false, 'evidence of another read');
    assert.equal(familyExplains(spec, f({ evidence: evidenceFor(8192, 4096, { seq: 10 }) }), rec), false, 'dated before the op');
    assert.equal(familyExplains(spec, f({ evidence: evidenceFor(8192, 4096, { fs: 'ext4' }) }), rec), false, 'another filesystem');
    assert.equal(familyExplains(spec, f({ errno: undefined }), rec), false, 'a diff-result on bytes (no errno)');
    assert.equal(familyExplains(spec, f({ rule: 'diff-bytes' }), rec), false, 'a byte divergence');
    assert.equal(familyExplains(spec, f({ kind: 'bad-data', rule: 'fileops-14.3' }), rec), false, 'bad data');
  });
});

describe('family known signatures: the host target dates its evidence to the read that failed', () => {
  let dir: string;
  before(() => { dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'known-family-host-'))); });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('an O_DIRECT read that fails before it reaches the kernel leaves no evidence of an earlier read', () => {
    const a = createHostAdapter({ path: dir, scratch: dir });
    try {
      const t = a.open();
      // As after an earlier read at the same range failed with the kernel's report (diff: both
      // sides failed it, so the run went on); the next read of that range fails in the adapter.
      const stale = evidenceFor(0, 4096);
      const held = t as unknown as { evidence: KernelEvidence | null };
      held.evidence = stale;
      assert.equal(t.kernelEvidence!(), stale, 'the white-box setup took');
      assert.throws(() => t.directRead!(-1, 4096), (e: unknown) => e instanceof FsError && e.code === 'EINVAL');
      assert.equal(t.kernelEvidence!(), null, 'a bad argument: no kernel report');
      held.evidence = stale;
      a.close();
      assert.throws(() => t.directRead!(0, 4096), (e: unknown) => e instanceof FsError);
      assert.equal(t.kernelEvidence!(), null, 'a closed target: no kernel report');
    } finally {
      a.close();
    }
  });
});

describe('family known signatures: the FIEMAP probe on the host target', () => {
  let dir: string;
  before(() => { dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'known-family-probe-'))); });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  /*
   * The read's flush answers EIO for a failed writeback without mapping anything: then a delalloc
   * extent in the range is not why the read failed. The target's FIEMAP and writeback-error check
   * are stubbed (no device here fails its writeback); test 'on a real xfs' below runs the probe
   * on a real collision, where the check finds no error.
   */
  it('a delalloc extent over the range is evidence only when no writeback error was pending', () => {
    const a = createHostAdapter({ path: dir, scratch: dir, kernelLog: false });
    try {
      const t = a.open();
      let pending = false;
      const probe = t as unknown as EvidenceProbe;
      probe.fiemap = () => [{ logical: 4096, length: 8192, physical: 0, flags: 0x4 | 0x1 }]; // DELALLOC | LAST
      probe.writebackErrorPending = () => pending;
      const e = probe.collisionEvidence(0, 8192, -1);
      assert.ok(e !== null && e.source === 'fiemap', 'a delalloc extent and no writeback error: evidence');
      pending = true;
      assert.equal(probe.collisionEvidence(0, 8192, -1), null, 'a pending writeback error: the EIO may be its');
    } finally {
      a.close();
    }
  });

  /*
   * With a readable kernel log, the warning's absence speaks against a collision: the probe counts
   * only when the log shows the rate limiter spent (a fake log and clock here). Without a log the
   * probe is all there is (kernelLog: false above). The probe asks FIEMAP for what the read covered.
   */
  it('with a readable kernel log, a delalloc extent is evidence only when the log shows the warning rate-limited', () => {
    const a = createHostAdapter({ path: dir, scratch: dir, kernelLog: false });
    try {
      const t = a.open();
      const k = new FakeKmsg();
      const now = 50_000_000;
      (a as unknown as { kmsg: KmsgLog }).kmsg = new KmsgLog(k, () => now);
      const asked: [number, number][] = [];
      const probe = t as unknown as EvidenceProbe;
      probe.fiemap = (off, len) => { asked.push([off, len]); return [{ logical: 4096, length: 8192, physical: 0, flags: 0x4 | 0x1 }]; };
      probe.writebackErrorPending = () => false;
      assert.equal(probe.collisionEvidence(0, 8192, 100), null, 'no warning and no sign of the limiter: not a collision');
      for (let i = 0; i < RATELIMIT_BURST; i++) k.push(warning('/.iomap-harness-fsx-7-000000000000'), 4, now - 1_000_000);
      const e = probe.collisionEvidence(0, 2 ** 32, 100);
      assert.ok(e !== null && e.source === 'fiemap', 'the limiter spent: the probe counts');
      assert.match(e.line, /rate-limited: 10 collision warnings/);
      assert.deepEqual(asked.at(-1), [0, MAX_RW_COUNT], 'FIEMAP over what the kernel read, not the 4 GiB asked');
    } finally {
      a.close();
    }
  });

  it('no writeback error is pending on a file whose writes went well', () => {
    const a = createHostAdapter({ path: dir, scratch: dir, kernelLog: false });
    try {
      const t = a.open();
      t.pwrite(0, new Uint8Array(8192).fill(5));
      assert.equal((t as unknown as { writebackErrorPending: () => boolean }).writebackErrorPending(), false);
    } finally {
      a.close();
    }
  });
});

describe('family known signatures: files', () => {
  let tmp: string;
  before(() => { tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'known-family-')); });
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  const good = (): Record<string, unknown> => JSON.parse(fs.readFileSync(FAMILY_FILE, 'utf8')) as Record<string, unknown>;
  function dirWith(name: string, v: Record<string, unknown>): string {
    const d = fs.mkdtempSync(path.join(tmp, name + '-'));
    fs.writeFileSync(path.join(d, 'f.family.json'), JSON.stringify(v));
    return d;
  }

  it('every known signature of the project records the kernel it was seen on (6.18)', () => {
    const all = loadKnownSignatures([path.dirname(FAMILY_FILE)]);
    assert.ok(all.length > 20);
    for (const k of all) assert.deepEqual(k.kernels?.map(kernelSeries), ['6.18'], k.file);
  });

  it('an exact-shape known log matches on its kernel series only; without kernels on any; the reference is not a kernel', () => {
    const ops = [{ op: 'write', off: 0, len: 10 }, { op: 'read_direct', off: 0, len: 4096 }] as never;
    const sig = failureSignature('op-error', undefined, { ops }, 'EIO');
    const k = (file: string, kernels?: string[]): KnownSignature => ({ signature: sig, file, note: '', ...(kernels === undefined ? {} : { kernels }) });
    const on618 = k('a.json', ['6.18.44']);
    assert.equal(seenOnKernel(on618, '6.18.2-arch1'), true);
    assert.equal(seenOnKernel(on618, '6.19.0'), false);
    assert.equal(seenOnKernel(on618, '6.1.18'), false, 'series, not a prefix');
    assert.equal(seenOnKernel(on618, null), true, 'a run on the reference');
    assert.equal(seenOnKernel(k('old.json'), '7.0.1'), true, 'a log without kernels: not recorded, any');
    assert.equal(runKernel('reference'), null, 'fsx on the reference checks no kernel');
    assert.equal(runKernel('diff:host:/mnt/x'), os.release(), 'diff on a host: this machine\'s kernel');
    // The same signature in two files seen on two series: one index entry for both.
    const both = lookupKnown(knownIndex([on618, k('b.json', ['6.19.1'])]), sig)!;
    assert.deepEqual([both.file, both.kernels], ['a.json', ['6.18.44', '6.19.1']]);
    assert.equal(lookupKnown(knownIndex([on618, k('c.json')]), sig)!.kernels, undefined, 'one of them on any kernel: any');
    // Read from a file; a bad release is refused in one line.
    const d = fs.mkdtempSync(path.join(tmp, 'kernels-'));
    const logText = (kernels: unknown) => JSON.stringify({ format: 'iomap-harness-oplog', version: 5, adapter: 'host:x', geometry: { blockSize: 4096, pageSize: 4096 }, seed: 1, kernels, ops: [{ op: 'read_direct', off: 0, len: 4096 }], expected: { outcome: 'fail', kind: 'op-error', op: 1, errno: 'EIO' } });
    fs.writeFileSync(path.join(d, 'k.json'), logText(['6.18.44-fc-v1272']));
    assert.deepEqual(loadKnownSignatures([d])[0].kernels, ['6.18.44-fc-v1272']);
    fs.writeFileSync(path.join(d, 'k.json'), logText(['next']));
    assert.throws(() => loadKnownSignatures([d]), (e: unknown) => e instanceof KnownSignatureError && /kernels\[0\]: "next" is not a kernel release/.test(e.message));
  });

  it('corpus/known has the xfs DIO-collision family with its kernel function', () => {
    const k = loadKnownSignatures([path.dirname(FAMILY_FILE)]).filter((x) => x.family !== undefined);
    assert.equal(k.length, 1);
    assert.equal(k[0].family!.family, 'xfs-6.18-dio-collision');
    assert.match(k[0].family!.kernelFunction, /iomap_dio_iter/);
    assert.match(k[0].note, /Direct I\/O collision/);
  });

  const cases: [string, (v: Record<string, unknown>) => void, RegExp][] = [
    ['kind', (v) => { v.kind = 'shape'; }, /family signature kind "shape"/],
    ['report', (v) => { v.report = 'dio-stale-pagecache'; }, /kernel report "dio-stale-pagecache" is not one the harness captures/],
    ['op', (v) => { v.op = 'read'; }, /explains read_direct failing with EIO, not read with EIO/],
    ['missing', (v) => { delete v.fs; }, /needs "fs"/],
    ['extra', (v) => { v.shape = 'write read_direct'; }, /unknown field "shape"/],
    ['version', (v) => { v.version = 2; }, /version 2/],
    ['kernels', (v) => { delete v.kernels; }, /needs "kernels": the kernel releases it was seen on/],
    ['kernel release', (v) => { v.kernels = ['linux-6.18']; }, /needs "kernels"/],
  ];
  for (const [what, mutate, re] of cases) {
    it(`a malformed family signature (${what}) is refused in one line, and --known exits 2`, async () => {
      const v = good();
      mutate(v);
      const d = dirWith(what, v);
      assert.throws(() => loadKnownSignatures([d]), (e: unknown) => e instanceof KnownSignatureError && re.test(e.message) && !e.message.includes('\n'));
      const err: string[] = [];
      const code = await main(['fsx', '--known', d, '-N', '10'], { stdout: () => undefined, stderr: (l: string) => err.push(l), isTTY: false });
      assert.equal(code, 2);
      assert.match(err.join('\n'), re);
    });
  }
});

/**
 * A reference adapter whose target answers the `at`-th O_DIRECT read as the host does on the XFS
 * bug: the fake kernel log gets the warning, the read fails with EIO (or, `mode` 'bytes', returns
 * wrong bytes; 'einval', fails with EINVAL), and kernelEvidence() reports it as the host adapter does.
 */
function bugAdapter(at: number, mode: 'eio' | 'bytes' | 'einval'): FileAdapter {
  const a = new ReferenceAdapter({ blockSize: 4096 });
  const open = a.open.bind(a);
  a.open = (): FileTarget => {
    const t = open();
    const k = new FakeKmsg();
    const log = new KmsgLog(k);
    const read = t.directRead!.bind(t);
    let n = 0;
    let evidence: KernelEvidence | null = null;
    return Object.assign(t, {
      directRead(off: number, len: number): Uint8Array {
        evidence = null;
        const since = log.mark();
        if (++n !== at) return read(off, len);
        k.push(warning(FILE));
        evidence = dioCollisionEvidence(log.since(since), since, FILE, 'xfs', { off, len, errno: mode === 'einval' ? 'EINVAL' : 'EIO' });
        if (mode === 'eio') throw new FsError(EIO, `O_DIRECT pread(${off}, ${len}): EIO`);
        if (mode === 'einval') throw new FsError(EINVAL, `O_DIRECT pread(${off}, ${len}): EINVAL`);
        const data = read(off, len);
        if (data.length > 0) data[0] ^= 0xff;
        return data;
      },
      kernelEvidence: (): KernelEvidence | null => evidence,
    });
  };
  return a;
}

describe('family known signatures: fsx goes on past a family hit without a shrink', () => {
  let tmp: string;
  before(() => { tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'known-family-run-')); });
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  function run(mode: 'eio' | 'bytes' | 'einval', name: string, kernel?: string, io: Output = quiet) {
    const options: FsxOptions = { ...defaultOptions(), numOps: 400, seed: 7, quiet: true };
    const save = path.join(tmp, name);
    fs.mkdirSync(save);
    const task = { spec: 'reference', adapterOptions: { blockSize: 4096 }, options, saveDir: save, shrink: true };
    const known = knownFrom([path.dirname(FAMILY_FILE)])!;
    return { ...runPastKnown(task, known, io, { first: bugAdapter(3, mode) }, kernel), save };
  }

  /*
   * The family was seen on 6.18 (its "kernels"). The same kernel report on a host of another series
   * is a new failure that names the file: the bug may be fixed there and this another one, or it
   * is still there, which a filesystem developer wants to know rather than skip.
   */
  it('a family hit on a host of the family\'s kernel series is a known hit; on another series it is a new failure naming the family', () => {
    const same = run('eio', 'k618', '6.18.44-fc-v1272');
    assert.equal(same.hits.length, 1);
    assert.equal(same.out.summary.failures, 0);
    const said: string[] = [];
    const other = run('eio', 'k619', '6.19.3', { out: (l: string): void => { said.push(l); }, err: (): void => undefined });
    assert.deepEqual(other.hits, []);
    assert.equal(other.out.summary.failures, 1);
    assert.deepEqual(other.out.summary.failure?.knownOnOtherKernel, { known: FAMILY_FILE, kernels: ['6.18.44'], kernel: '6.19.3' });
    assert.ok(said.some((l) => /^Known signature \(.*xfs-6\.18-dio-collision\.family\.json\) matches this failure but was seen on kernel 6\.18\.44 only; this host runs 6\.19\.3: reported as a new failure/.test(l)), said.join('\n'));
    assert.equal(other.out.summary.failure?.kind, 'op-error');
  });

  it('an O_DIRECT read EIO with the kernel report is a family hit; the run takes all its ops; nothing is shrunk', () => {
    const { out, hits, save } = run('eio', 'eio');
    assert.equal(hits.length, 1);
    assert.equal(hits[0].family, 'xfs-6.18-dio-collision');
    assert.match(hits[0].evidence ?? '', /^kmsg #\d+: Direct I\/O collision with buffered writes! File: /);
    assert.equal(hits[0].seed, 7);
    assert.equal(out.summary.failures, 0);
    assert.equal(out.summary.ops, 400, 'the next seed ran the ops left');
    assert.deepEqual(fs.readdirSync(save).filter((f) => f.includes('.min.')), [], 'no shrunk log');
  });

  it('wrong bytes from the same read, with the same kernel report, stay a failure (bad data)', () => {
    const { out, hits } = run('bytes', 'bytes');
    assert.deepEqual(hits, []);
    assert.equal(out.summary.failures, 1);
    assert.equal(out.summary.failure?.kind, 'bad-data');
  });

  it('an EINVAL from the same read stays a failure', () => {
    const { out, hits } = run('einval', 'einval');
    assert.deepEqual(hits, []);
    assert.equal(out.summary.failure?.errno, 'EINVAL');
  });
});

describe('family known signatures on a real xfs (diff:host)', () => {
  /** The exact-shape case replayed: always the EIO on 6.18.44 (docs/host.md). */
  const CASE = path.join(corpusDir(), 'known', 'xfs-6.18-dio-collision-zero-past-eof-diff.json');

  /**
   * Replay `log` through diff on the scratch xfs at `dir`; the kernel rate-limits its warning
   * machine-wide (10 per 5 s), so a replay whose warning another process's burst suppressed is
   * tried again after the window.
   */
  function replayOnXfs(dir: string, text: string, swallow: boolean, kernelLog = true): Failure | null {
    for (let attempt = 0; ; attempt++) {
      const host = createHostAdapter({ path: dir, scratch: dir, kernelLog });
      if (swallow) {
        // A broken host that answers the failing read with zeroes instead of its EIO: the
        // reference then disagrees on bytes, while the kernel still logged its report of the read.
        const open = host.open.bind(host);
        host.open = (): FileTarget => {
          const t = open();
          const read = t.directRead!.bind(t);
          return Object.assign(t, {
            directRead(off: number, len: number): Uint8Array {
              try {
                return read(off, len);
              } catch (e) {
                if (!(e instanceof FsError) || e.code !== 'EIO') throw e;
                return new Uint8Array(Math.max(0, Math.min(len, t.size() - off)));
              }
            },
          });
        };
      }
      const diff = new DiffAdapter(host, { personality: 'xfs' });
      const log = parseOpLog(text, CASE);
      try {
        const r = replayLog(diff, 'diff:host', { ...log, expected: undefined }, { quiet: true, debug: false, logDumpOps: 10 }, quiet);
        if (r.failure?.evidence !== undefined || attempt === 2) return r.failure;
      } finally {
        diff.close();
      }
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 5500);
    }
  }

  it('an exact-shape DIO-collision case, its exact-shape files removed, is a known hit of the family by the kernel warning or, without the log, by FIEMAP; zeroes instead of the EIO are not', async function () {
    this.timeout(120_000);
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'known-family-xfs-'));
    try {
      // The known folder holds the family only: no exact-shape DIO-collision log.
      fs.copyFileSync(FAMILY_FILE, path.join(tmp, path.basename(FAMILY_FILE)));
      const known = knownFrom([tmp])!;
      const text = fs.readFileSync(CASE, 'utf8');
      const out = await withScratchFs('xfs', (dir) => {
        if (!fs.existsSync('/dev/kmsg')) return { skip: 'no /dev/kmsg' };
        const host = createHostAdapter({ path: dir, scratch: dir });
        const noLog = host.info.notes.find((n) => n.startsWith('kernel log unreadable'));
        host.close();
        if (noLog !== undefined) return { skip: noLog };
        return { eio: replayOnXfs(dir, text, false), zeroes: replayOnXfs(dir, text, true), probed: replayOnXfs(dir, text, false, false) };
      }, { size: 320 << 20 });
      if (out.skipped !== null) skipWith(this, out.skipped);
      if ('skip' in out.value) skipWith(this, String(out.value.skip));
      const { eio, zeroes, probed } = out.value as { eio: Failure | null; zeroes: Failure | null; probed: Failure | null };
      const log = parseOpLog(text, CASE);
      assert.ok(eio !== null, 'the replay fails on 6.18 xfs');
      assert.deepEqual([eio.kind, eio.rule, eio.errno, eio.op], ['divergence', 'diff-result', 'EIO', 4]);
      assert.ok(eio.evidence !== undefined, 'the host captured the kernel report');
      assert.equal(eio.evidence.source, 'kmsg');
      assert.match(eio.evidence.line, /^Direct I\/O collision with buffered writes! File: \S*\.iomap-harness-fsx-/);
      assert.equal(eio.evidence.referenceFailed, false);
      assert.equal(lookupKnown(known, failureSignature(eio.kind, eio.rule, log, eio.errno)), undefined, 'no exact shape in the folder');
      assert.equal(explainingFamily(known)(eio, log), 'xfs-6.18-dio-collision');
      // The broken host: a byte divergence at the same read, with the kernel's report of it.
      assert.ok(zeroes !== null);
      assert.deepEqual([zeroes.kind, zeroes.rule, zeroes.errno, zeroes.op], ['divergence', 'diff-result', undefined, 4]);
      assert.ok(zeroes.evidence !== undefined, 'the kernel report is there');
      assert.equal(explainingFamily(known)(zeroes, log), null, 'a byte divergence is never a family hit');
      // Without the kernel log (as when the warning is rate-limited): FIEMAP shows the delalloc extent.
      assert.ok(probed !== null && probed.evidence !== undefined);
      assert.equal(probed.evidence.source, 'fiemap');
      assert.match(probed.evidence.line, /delalloc extent/);
      assert.equal(explainingFamily(known)(probed, log), 'xfs-6.18-dio-collision');
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  });
});
