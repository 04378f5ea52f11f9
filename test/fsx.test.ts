import { strict as assert } from 'assert';
import { createNaiveAdapter } from '../adapters/naive';
import { loadAdapter } from '../adapters/registry';
import type { FileAdapter } from '../adapters/types';
import { EINVAL, FsError } from '../reference/errno';
import { replayLog, RunHooks, RunResult, runFsx, TargetError } from '../properties/fsx/engine';
import { defaultOptions, FsxOptions, Prng } from '../properties/fsx/generator';
import { fromFsxops, OpLog, parseOpLog, serializeOpLog, toFsxops } from '../properties/fsx/oplog';
import { OP_CLONE_RANGE, OP_FALLOCATE, OPS } from '../properties/fsx/ops';
import type { Output, Runner } from '../properties/fsx/runner';
import {
  BrokenAdapter, corruptRead, corruptReadInto, crashingTarget, dropWrite, pollutedMapread, unsupportedFallocate, withTarget, wrongSizeAfterTruncate,
} from './support/broken-adapters';
import type { FiemapExtent, FileTarget } from '../adapters/types';
import { ENXIO, SIGBUS } from '../reference/errno';

/** Captures engine output. */
function capture(): Output & { outLines: string[]; errLines: string[] } {
  const outLines: string[] = [];
  const errLines: string[] = [];
  return { outLines, errLines, out: (l) => outLines.push(l), err: (l) => errLines.push(l) };
}

function opts(over: Partial<FsxOptions> = {}): FsxOptions {
  return { ...defaultOptions(), quiet: true, ...over };
}

/**
 * The op mix without remounts and bad-argument ops: for defects counted by calls (the Nth pread or
 * pwrite), which a remount's read-back or a refused call would otherwise meet first.
 */
function classic(over: Partial<FsxOptions> = {}): FsxOptions {
  const o = opts(over);
  const weights = o.weights.slice();
  weights[OPS.findIndex((x) => x.name === 'remount')] = 0;
  return { ...o, weights, invalidArgs: false };
}

/** Run fsx on a (possibly broken) adapter whose defect clock reads the runner's op number. */
function run(make: (clock: () => number) => FileAdapter, o: Partial<FsxOptions>): { r: RunResult; adapter: FileAdapter } {
  let runner: Runner | undefined;
  const clock = () => (runner as Runner).opNum;
  const adapter = make(clock);
  const hooks: RunHooks = { runner: (x) => { runner = x; } };
  return { r: runFsx(adapter, adapter.name, classic(o), capture(), hooks), adapter };
}

function replay(adapter: FileAdapter, log: OpLog): RunResult {
  return replayLog(adapter, adapter.name, log, { quiet: true, debug: false, logDumpOps: 100 }, capture());
}

describe('fsx engine on the naive adapter', () => {
  for (const seed of [1, 2, 3, 4]) {
    it(`passes 20,000 ops with seed ${seed}`, () => {
      const r = runFsx(createNaiveAdapter(), 'naive', opts({ seed, numOps: 20000 }), capture());
      assert.equal(r.failure, null, r.report.join('\n'));
      assert.equal(r.ops, 20000);
    });
  }

  const variants: [string, Partial<FsxOptions>, Parameters<typeof createNaiveAdapter>[0]][] = [
    ['-X full-file checks, 1 KiB blocks', { checkFile: true, numOps: 3000 }, { blockSize: 1024 }],
    ['64 KiB blocks (bs > page)', { numOps: 10000 }, { blockSize: 65536 }],
    ['-Z O_DIRECT with -r/-w 512, -c 10 close/open', { direct: true, readbdy: 512, writebdy: 512, closeprob: 10, numOps: 10000 }, {}],
    ['-t 4096 -o 4096 -l 64k -O', { truncbdy: 4096, maxoplen: 4096, maxlen: 65536, randomOpLen: false, numOps: 10000 }, {}],
    ['-b 5000 (simulate the first ops)', { simulatedOps: 4999, numOps: 8000 }, {}],
    ['-l 16 MiB -o 1 MiB', { maxlen: 16 << 20, maxoplen: 1 << 20, numOps: 3000 }, {}],
  ];
  for (const [name, o, n] of variants) {
    it(`passes with ${name}`, () => {
      const r = runFsx(createNaiveAdapter(n), 'naive', opts(o), capture());
      assert.equal(r.failure, null, r.report.join('\n'));
    });
  }

  it('is deterministic per seed and differs between seeds', () => {
    const a = runFsx(createNaiveAdapter(), 'naive', opts({ numOps: 2000 }), capture()).log();
    const b = runFsx(createNaiveAdapter(), 'naive', opts({ numOps: 2000 }), capture()).log();
    const c = runFsx(createNaiveAdapter(), 'naive', opts({ numOps: 2000, seed: 2 }), capture()).log();
    assert.deepEqual(a, b);
    assert.notDeepEqual(a.ops, c.ops);
  });

  it('generates every op kind with the default weights and the documented flags', () => {
    const log = runFsx(createNaiveAdapter(), 'naive', opts({ numOps: 20000, closeprob: 20 }), capture()).log();
    const seen = new Set(log.ops.map((o) => o.op));
    // Interleaving steps need FileTarget.interleave, crash needs FileTarget.crash and the fault
    // ops FileTarget.deviceFaults, which naive has not (test/fsx-interleave.test.ts,
    // test/fsx-crash.test.ts, test/fsx-faults.test.ts).
    const absent = ['crash', 'fault_read', 'fault_write'];
    for (const info of OPS) if (!info.interleave && !absent.includes(info.name)) assert.ok(seen.has(info.name), `never generated ${info.name}`);
    for (const name of absent) assert.ok(!seen.has(name), `${name} generated for a target that cannot do it`);
    for (const info of OPS) if (info.interleave) assert.ok(!seen.has(info.name), `generated ${info.name} without interleave`);
    assert.ok(log.ops.some((o) => o.keepSize === true && o.op === 'fallocate'));
    assert.ok(log.ops.some((o) => o.keepSize === true && o.op === 'zero_range'));
    assert.ok(log.ops.some((o) => o.unshare === true));
    assert.ok(log.ops.some((o) => o.closeOpen === true));
    assert.ok(log.ops.some((o) => o.skip === true));
  });

  it('aligns offsets to -r/-w/-t and block-aligns collapse/insert/clone/dedupe', () => {
    const bs = 2048;
    const log = runFsx(createNaiveAdapter({ blockSize: bs }), 'naive', opts({ numOps: 5000, readbdy: 512, writebdy: 1024, truncbdy: 4096 }), capture()).log();
    for (const o of log.ops) {
      if (o.invalid === true) continue; // bad arguments on purpose (docs/fsx.md "Bad arguments")
      if (o.op === 'read' || o.op === 'mapread') assert.equal(o.off % 512, 0, JSON.stringify(o));
      if (o.op === 'write' || o.op === 'mapwrite') assert.equal(o.off % 1024, 0, JSON.stringify(o));
      if (o.op === 'truncate') assert.equal(o.len % 4096, 0, JSON.stringify(o));
      if (['collapse_range', 'insert_range', 'clone_range', 'dedupe_range'].includes(o.op)) {
        assert.equal(o.off % bs, 0, JSON.stringify(o));
        // A dedupe from every fourth block keeps an unaligned tail (the kernel rounds it down).
        if (o.op !== 'dedupe_range' || (o.off / bs) % 4 !== 0) assert.equal(o.len % bs, 0, JSON.stringify(o));
        if (o.dst !== undefined) assert.equal(o.dst % bs, 0, JSON.stringify(o));
      }
      if (o.dst !== undefined && o.len > 0) assert.ok(Math.abs(o.dst - o.off) >= o.len, `overlapping two-range op ${JSON.stringify(o)}`);
      if (o.op !== 'read_direct' && o.op !== 'truncate' && o.op !== 'seek_data' && o.op !== 'seek_hole' && o.op !== 'fiemap') {
        assert.ok(o.off + o.len <= 256 * 1024 && (o.dst ?? 0) + o.len <= 256 * 1024, `past -l: ${JSON.stringify(o)}`);
      }
    }
  });

  it('turns off ops the adapter lacks, printing fsx-style "disabling" lines', () => {
    const inner = createNaiveAdapter();
    const caps = { ...inner.capabilities, clone: false, mmap: false, fallocModes: [0] };
    const adapter: FileAdapter = { name: 'lesser', capabilities: caps, open: () => inner.open(), close: () => inner.close() };
    const io = capture();
    const r = runFsx(adapter, 'lesser', { ...opts({ numOps: 3000 }), quiet: false }, io);
    assert.equal(r.failure, null, r.report.join('\n'));
    for (const what of ['clone range', 'mapped reads', 'mapped writes', 'punch hole', 'FALLOC_FL_KEEP_SIZE']) {
      assert.ok(io.errLines.some((l) => l.includes(what) && l.endsWith('disabling!')), `no disabling line for ${what}: ${io.errLines.join(' | ')}`);
    }
    const ops = new Set(r.log().ops.map((o) => o.op));
    for (const off of ['clone_range', 'mapread', 'mapwrite', 'punch_hole', 'zero_range']) assert.ok(!ops.has(off), `${off} still generated`);
  });

  it('turns an op off when the target answers EOPNOTSUPP, and replays identically', () => {
    const io = capture();
    const adapter = unsupportedFallocate(createNaiveAdapter());
    const r = runFsx(adapter, adapter.name, { ...opts({ numOps: 3000 }), quiet: false }, io);
    assert.equal(r.failure, null, r.report.join('\n'));
    assert.ok(io.errLines.some((l) => l.startsWith('fallocate:') && l.includes('EOPNOTSUPP, disabling!')));
    const log = r.log();
    const falloc = log.ops.filter((o) => o.op === 'fallocate');
    assert.equal(falloc.filter((o) => o.skip !== true).length, 0);
    assert.ok(falloc.length >= 1 && falloc.length < 10, `fallocate kept being generated: ${falloc.length}`);
    assert.equal(replay(unsupportedFallocate(createNaiveAdapter()), log).failure, null);
  });

  it('replay skips the ops an adapter cannot do, with the disabling line', () => {
    const log = runFsx(createNaiveAdapter(), 'naive', opts({ numOps: 3000 }), capture()).log();
    const inner = createNaiveAdapter();
    const lesser: FileAdapter = { name: 'lesser', capabilities: { ...inner.capabilities, clone: false, fallocModes: [0] }, open: () => inner.open(), close: () => inner.close() };
    const io = capture();
    const r = replayLog(lesser, 'lesser', log, { quiet: false, debug: false, logDumpOps: 100 }, io);
    assert.equal(r.failure, null, r.report.join('\n'));
    for (const what of ['clone range', 'punch hole', 'FALLOC_FL_KEEP_SIZE']) {
      assert.equal(io.errLines.filter((l) => l === `main: adapter lesser does not support ${what}, disabling!` || l.includes(`${what}, disabling!`)).length, 1, io.errLines.join(' | '));
    }
    const after = r.log().ops;
    assert.ok(after.filter((o) => o.op === 'clone_range').every((o) => o.skip === true));
    assert.ok(after.filter((o) => o.op === 'fallocate' && o.keepSize === true).every((o) => o.skip === true));
  });

  it('rejects -Z on an adapter without direct I/O and -l beyond the maximum file size', () => {
    const inner = createNaiveAdapter({ maxFileSize: 1 << 20 });
    const noDio: FileAdapter = { name: 'x', capabilities: { ...inner.capabilities, directIO: false }, open: () => inner.open(), close: () => inner.close() };
    assert.throws(() => runFsx(noDio, 'x', opts({ direct: true }), capture()), /-Z: adapter x does not support direct I\/O/);
    assert.throws(() => runFsx(createNaiveAdapter({ maxFileSize: 1 << 20 }), 'naive', opts({ maxlen: 1 << 21 }), capture()), /-l 2097152 is larger/);
    assert.throws(() => runFsx(createNaiveAdapter(), 'naive', opts({ weights: OPS.map(() => 0) }), capture()), /every op is disabled/);
  });
});

describe('fsx catches broken adapters', () => {
  interface Case {
    name: string;
    make: (clock: () => number) => BrokenAdapter;
    o: Partial<FsxOptions>;
    kind: string;
    text: RegExp;
  }
  const cases: Case[] = [
    { name: 'a dropped write (-X)', make: (clock) => dropWrite(createNaiveAdapter(), { at: 40, clock }), o: { checkFile: true, numOps: 5000 }, kind: 'bad-data', text: /^READ BAD DATA: offset = 0x[0-9a-f]+, size = 0x[0-9a-f]+, fname = naive\+drop-write$/m },
    { name: 'a corrupted byte on read', make: (clock) => corruptRead(createNaiveAdapter(), { at: 25, clock }), o: { numOps: 5000 }, kind: 'bad-data', text: /^operation# \(mod 256\) for the bad data (may be \d+|unknown, check HOLE and EXTEND ops)$/m },
    // The 3rd mmap read is a mapwrite's EOF-page check (a flipped byte there is eof-page): the 5th is a mapread.
    ...(['pread', 'mmap', 'direct', 'dontcache'] as const).map((how): Case => ({
      name: `a corrupted byte read into the runner's buffer (readInto ${how})`, make: (clock) => corruptReadInto(createNaiveAdapter(), how, { at: how === 'mmap' ? 5 : 3, clock }),
      o: { numOps: 5000 }, kind: 'bad-data', text: /^operation# \(mod 256\) for the bad data (may be \d+|unknown, check HOLE and EXTEND ops)$/m,
    })),
    { name: 'a wrong size after truncate', make: (clock) => wrongSizeAfterTruncate(createNaiveAdapter(), { at: 30, clock }), o: { numOps: 5000 }, kind: 'size', text: /^Size error: expected 0x[0-9a-f]+ stat 0x[0-9a-f]+$/m },
    { name: 'non-zero bytes past EOF in mapread', make: (clock) => pollutedMapread(createNaiveAdapter(), { at: 10, clock }), o: { numOps: 5000 }, kind: 'eof-page', text: /^Mapped (Read|Write): non-zero data past EOF \(0x[0-9a-f]+\) page offset 0x[0-9a-f]+ is 0xa5[0-9a-f]{2}$/m },
    {
      name: 'a whole-file FIEMAP without LAST',
      make: (clock) => {
        let calls = 0;
        const a = withTarget(createNaiveAdapter(), 'no-last', (t) => ({
          fiemap(off: number, len: number, flags: number): FiemapExtent[] {
            const ext = t.fiemap!(off, len, flags);
            if (off + len < 2 * 256 * 1024 || ext.length === 0 || ++calls !== 3) return ext;
            (a.defect as { fired: boolean; firedAtOp?: number }).fired = true;
            a.defect.firedAtOp = clock();
            return ext.map((e) => ({ ...e, flags: e.flags & ~1 }));
          },
        }));
        return a;
      },
      o: { numOps: 5000 }, kind: 'fiemap', text: /^FIEMAP\(0x[0-9a-f]+, 0x[0-9a-f]+, SYNC\) with size 0x[0-9a-f]+: a query to the end of the file: its final extent 0 lacks LAST$/m,
    },
  ];

  for (const c of cases) {
    it(`reports ${c.name} as ${c.kind} at the op where it happened; replay reproduces the report`, () => {
      const { r, adapter } = run(c.make, c.o);
      const defect = (adapter as BrokenAdapter).defect;
      assert.ok(defect.fired, 'the defect never fired');
      assert.ok(r.failure !== null, 'not caught');
      assert.equal(r.failure.kind, c.kind, r.report.join('\n'));
      assert.equal(r.failure.op, defect.firedAtOp);
      if (c.kind !== 'size' && defect.offset !== undefined) assert.equal(r.failure.offset, defect.offset);
      assert.match(r.report.join('\n'), c.text);
      assert.match(r.report.join('\n'), new RegExp(`^LOG DUMP \\(${r.failure.op} total operations\\):$`, 'm'));
      // The saved log (through its JSON text) replays to the same report, twice.
      const log = parseOpLog(serializeOpLog(r.log()), 'saved.json');
      assert.deepEqual(log.expected, { outcome: 'fail', kind: c.kind, op: r.failure.op, ...(r.failure.offset !== undefined ? { offset: r.failure.offset } : {}), rule: r.failure.rule });
      const again = replay(c.make(() => 0), log);
      const third = replay(c.make(() => 0), log);
      assert.deepEqual(again.report, r.report);
      assert.deepEqual(third.report, r.report);
      // ... and so does its .fsxops export.
      assert.deepEqual(replay(c.make(() => 0), fromFsxops(toFsxops(log), 'saved.fsxops')).report, r.report);
    });
  }

  it('marks the op that wrote the bad bytes in the LOG DUMP (dropped write, no -X)', () => {
    // Without -X a lost write is only seen if a read reaches it before it is overwritten.
    let caught = 0;
    for (const at of [5, 10, 20, 35, 40, 65, 80]) {
      const { r, adapter } = run((clock) => dropWrite(createNaiveAdapter(), { at, clock }), { numOps: 5000 });
      const fired = (adapter as BrokenAdapter).defect.firedAtOp as number;
      if (r.failure === null) continue;
      caught++;
      assert.ok(r.failure.op >= fired);
      if (r.failure.kind !== 'bad-data') continue;
      const line = r.report.find((l) => l.startsWith(`${fired}(`));
      if (line?.endsWith('***WWWW') !== true) continue; // the bad byte came from another (copied) range
      assert.match(line, /^\d+\(\s*\d+ mod 256\): WRITE {4}0x[0-9a-f]+ thru 0x[0-9a-f]+\t\(0x[0-9a-f]+ bytes\)( HOLE| EXTEND)?\t\*\*\*WWWW$/);
      const last = r.report[r.report.length - 1];
      assert.match(last, new RegExp(`^${r.failure.op}\\(\\s*\\d+ mod 256\\): .*(\\*\\*\\*RRRR\\*\\*\\*|\\*\\*\\*\\*)`));
      return;
    }
    assert.fail(`no dropped write was reported with its write marked (${caught} caught)`);
  });

  it('reports an exception that is not an FsError as a crash', () => {
    const { r, adapter } = run((clock) => crashingTarget(createNaiveAdapter(), 'fallocate', { at: 3, clock }), { numOps: 3000 });
    assert.ok(r.failure !== null);
    assert.equal(r.failure.kind, 'crash');
    assert.equal(r.failure.op, (adapter as BrokenAdapter).defect.firedAtOp);
    assert.match(r.report[1], /^target crashed in (fallocate|punch_hole|zero_range|collapse_range|insert_range): TypeError: simulated crash in fallocate$/);
    assert.ok(r.failure.stack?.includes('simulated crash'));
  });

  it('reports a TargetError of kind hang (an out-of-process timeout) as a hang', () => {
    let n = 0;
    const adapter = withTarget(createNaiveAdapter(), 'hangs', (t) => ({
      pwrite: (off, d) => {
        if (++n === 7) throw Object.assign(new TargetError('adapter x: no reply within 10 ms (last request: #9 pwrite)'), { kind: 'hang' });
        return t.pwrite(off, d);
      },
    }));
    const r = runFsx(adapter, 'hangs', opts({ numOps: 3000 }), capture());
    assert.ok(r.failure !== null);
    assert.equal(r.failure.kind, 'hang');
    assert.match(r.report[1], /^target hung in write: adapter x: no reply within 10 ms/);
    assert.throws(() => runFsx({ ...createNaiveAdapter(), name: 'y', open: () => { throw new Error('no device'); } } as FileAdapter, 'y', opts(), capture()),
      (e: Error) => e instanceof TargetError && e.message === 'adapter y: open() failed: Error: no device');
  });

  it('reports a contract monitor violation as a contract failure with its rule; at close it is charged to the last op', () => {
    const violation = (rule: string) => Object.assign(new Error(`contract violation ${rule} demo: bad mapping\n  callback: ->iomap_begin(pos=0)`), { name: 'ContractViolation', rule });
    let n = 0;
    const during = withTarget(createNaiveAdapter(), 'monitored', (t) => ({
      fsync: () => {
        if (++n === 3) throw violation('R12');
        t.fsync();
      },
    }));
    const r = runFsx(during, 'monitored', opts({ numOps: 3000 }), capture());
    assert.ok(r.failure !== null);
    assert.equal(r.failure.kind, 'contract');
    assert.equal(r.failure.rule, 'R12');
    assert.equal(r.report[1], 'contract violation R12 demo: bad mapping');
    assert.equal(r.report[2], '  callback: ->iomap_begin(pos=0)');
    const inner = createNaiveAdapter();
    const atClose: FileAdapter = { name: 'c', capabilities: inner.capabilities, open: () => inner.open(), close: () => { throw violation('R33'); } };
    const c = runFsx(atClose, 'c', opts({ numOps: 500 }), capture());
    assert.deepEqual([c.failure?.kind, c.failure?.rule, c.failure?.op], ['contract', 'R33', 500]);
    assert.equal(c.report[0], 'at close (unmount) after op 500:');
    // A close that fails after the run already failed does not hide that failure.
    // (The corrupted 5th read is a plain read or a remount's read-back, depending on the op stream:
    // bad-data or durability; either way the same as without the failing close.)
    const alone = runFsx(corruptRead(createNaiveAdapter(), { at: 5 }), 'b', opts({ numOps: 3000 }), capture()).failure;
    assert.ok(alone !== null && ['bad-data', 'durability'].includes(alone.kind), alone?.kind);
    const both: FileAdapter = { ...corruptRead(createNaiveAdapter(), { at: 5 }), close: () => { throw new TypeError('close blew up'); } };
    const b = runFsx(both, 'b', opts({ numOps: 3000 }), capture()).failure;
    assert.deepEqual([b?.kind, b?.op], [alone.kind, alone.op]);
  });

  it('reports a readInto that claims more bytes than the buffer holds as a target crash', () => {
    const adapter = withTarget(createNaiveAdapter(), 'long-read-into', (t) => ({
      readInto: (how, off, dst) => t.readInto!(how, off, dst) + 1,
    }));
    const r = runFsx(adapter, adapter.name, opts({ numOps: 3000 }), capture());
    assert.equal(r.failure?.kind, 'crash', r.report.join('\n'));
    assert.match(r.report.join('\n'), /readInto\((pread|mmap|direct|dontcache), \d+, a \d+-byte buffer\) returned \d+/);
  });

  it('reports an unexpected errno as op-error with the errno name', () => {
    const inner = createNaiveAdapter();
    const adapter: FileAdapter = {
      name: 'einval-clone', capabilities: inner.capabilities, close: () => inner.close(),
      open: () => {
        const t = inner.open();
        t.cloneRange = () => { throw new FsError(EINVAL, 'clone refused'); };
        return t;
      },
    };
    const r = runFsx(adapter, 'einval-clone', opts({ numOps: 5000 }), capture());
    assert.ok(r.failure !== null);
    assert.equal(r.failure.kind, 'op-error');
    assert.equal(r.failure.errno, 'EINVAL');
    assert.equal(r.log().ops[r.failure.op - 1].op, OPS[OP_CLONE_RANGE].name);
    assert.match(r.report[1], /^do_clone_range: EINVAL: clone refused$/);
  });
});

describe('each check fails when its bug is present', () => {
  const naive = () => createNaiveAdapter();
  const checks: [string, (t: FileTarget) => Partial<FileTarget>, string, RegExp, Partial<FsxOptions>?][] = [
    ['SEEK_HOLE claims a hole over data', (t) => ({ seekHole: (off) => { t.seekHole!(off); return off; } }), 'fileops-14.17',
      /^SEEK_HOLE\(0x[0-9a-f]+\) returned 0x[0-9a-f]+ with size 0x[0-9a-f]+: but 0x[0-9a-f]+ \(inside that hole\) reads non-zero$/],
    ['SEEK_DATA answers ENXIO over data', (t) => ({ seekData: (off) => { t.seekData!(off); throw new FsError(ENXIO, 'no data'); } }), 'fileops-14.17',
      /^SEEK_DATA\(0x[0-9a-f]+\) returned ENXIO with size 0x[0-9a-f]+: but 0x[0-9a-f]+ reads non-zero$/],
    ['SEEK_DATA past EOF answers an offset', (t) => ({ seekData: (off) => (off >= t.size() ? off : t.seekData!(off)) }), 'fileops-14.16',
      /: expected ENXIO at or past EOF$/],
    ['SEEK_HOLE returns an unaligned hole', (t) => ({ seekHole: (off) => { const h = t.seekHole!(off); return h > off + 1 ? off + 1 : h; } }), 'fileops-14.18',
      /: not a multiple of the block size 0x1000$/],
    ['FIEMAP leaves data unmapped', () => ({ fiemap: () => [] }), 'fileops-14.20', /reads non-zero but no extent maps it$/],
    ['FIEMAP marks data UNWRITTEN', (t) => ({ fiemap: (o, l, f) => t.fiemap!(o, l, f).map((e: FiemapExtent) => ({ ...e, flags: e.flags | 0x800 })) }), 'fileops-14.20',
      /reads non-zero but its extent is UNWRITTEN$/],
    ['FIEMAP sets LAST on an early extent', (t) => ({ fiemap: (o, l, f) => { const x = t.fiemap!(o, l, f); return x.length === 0 ? x : [{ ...x[0], length: 4096, flags: 1 }, { ...x[0], logical: x[0].logical + 4096, physical: x[0].physical + 4096, length: 4096 }]; } }), 'fileops-14.19',
      /LAST on extent 0, not the final one$/],
    ['FIEMAP returns an unaligned extent', (t) => ({ fiemap: (o, l, f) => t.fiemap!(o, l, f).map((e: FiemapExtent) => ({ ...e, length: e.length - 1 })) }), 'fileops-14.19',
      /is not block aligned and not NOT_ALIGNED$/],
    ['dedupe claims differing ranges are equal', () => ({ dedupeRange: (_s, len) => len }), 'fileops-14.14',
      /^do_dedupe_range: ranges differ, expected 0x0 bytes deduped, got 0x[0-9a-f]+$/],
    ['copy_file_range makes no progress', () => ({ copyRange: () => 0 }), 'fileops-14.15', /^do_copy_range: no progress made$/],
    ['pread returns a short count', (t) => ({ pread: (o, l) => t.pread(o, l).subarray(0, Math.max(0, l - 1)) }), 'fileops-14.2',
      /^short read: 0x[0-9a-f]+ bytes instead of 0x[0-9a-f]+$/],
    ['an O_DIRECT read crossing EOF returns whole sectors', (t) => ({ directRead: (o, l) => { const d = t.directRead!(o, l); return d.length < l ? new Uint8Array(l) : d; } }), 'fileops-14.24',
      /^short read: /],
    ['a mapped read inside the file raises SIGBUS', () => ({ mapread: () => { throw new FsError(SIGBUS, 'bus error'); } }), 'fileops-14.23',
      /^do_mapread: SIGBUS: bus error$/, { weights: OPS.map((o) => (o.name === 'mapread' || o.name === 'write' ? 1 : 0)) }],
  ];
  for (const [name, override, rule, text, o] of checks) {
    it(name, () => {
      const r = runFsx(withTarget(naive(), 'defect', override), 'defect', classic({ numOps: 20000, ...o }), capture());
      assert.ok(r.failure !== null, 'not caught');
      assert.equal(r.failure.rule, rule, r.report.join('\n'));
      assert.ok(r.report.some((l) => text.test(l)), r.report.slice(0, 6).join('\n'));
    });
  }
});

describe('dedupe counts as Linux reports them (fileops-14.14)', () => {
  /*
   * vfs_dedupe_file_range sets bytes_deduped to the length asked for (capped at 1 GiB) whenever the
   * remap did not fail, even when generic_remap_checks cut it down to whole blocks, or to nothing
   * (then nothing is compared). The counts below are xfs_io's on Linux 6.18.44, xfs 4k:
   * "truncate 8192", "dedupe f 0 4096 1" -> 1/1; after "pwrite 0 1" again 1/1; "truncate 12289",
   * "dedupe f 0 4096 4100" -> "Extents did not match"; after "pwrite 4096 1", 4100/4100.
   */
  for (const name of ['reference', 'naive']) {
    it(`${name}: the length asked for, however far it was cut down; 0 when the compared blocks differ`, () => {
      const adapter = name === 'naive' ? createNaiveAdapter({ blockSize: 4096 }) : loadAdapter('reference');
      const t = adapter.open();
      try {
        t.truncate(8192);
        assert.equal(t.dedupeRange!(0, 1, 4096), 1, 'cut down to nothing, equal bytes');
        t.pwrite(0, Uint8Array.of(0xcd));
        assert.equal(t.dedupeRange!(0, 1, 4096), 1, 'cut down to nothing: not compared, so differing bytes do not matter');
        assert.equal(t.pread(4096, 1)[0], 0, 'and nothing changed');
        t.truncate(12289);
        assert.equal(t.dedupeRange!(0, 4100, 4096), 0, 'cut down to block 0 against block 1, which differ');
        t.pwrite(4096, Uint8Array.of(0xcd));
        assert.equal(t.dedupeRange!(0, 4100, 4096), 4100, 'cut down to one equal block, reported whole');
        assert.equal(t.dedupeRange!(0, 0, 4096), 0, 'a zero length reports 0');
      } finally {
        adapter.close();
      }
    });
  }

  it('fsx with its defaults reaches cut-down dedupes and fails a target that reports the cut-down length', () => {
    const inner = loadAdapter('reference');
    const adapter: FileAdapter = {
      name: 'dedupe-reports-remapped', capabilities: inner.capabilities, close: () => inner.close(),
      open: () => {
        const t = inner.open();
        const dedupe = t.dedupeRange!.bind(t);
        t.dedupeRange = (src, len, dst) => {
          const r = dedupe(src, len, dst);
          const bs = inner.capabilities.blockSize;
          const size = t.size();
          return r === 0 || len % bs === 0 || (src + len === size && dst + len === size) ? r : len - (len % bs);
        };
        return t;
      },
    };
    const r = runFsx(adapter, adapter.name, { ...defaultOptions(), numOps: 20000, seed: 1, quiet: true }, capture());
    assert.ok(r.failure, 'a failure');
    assert.equal(r.failure!.kind, 'dedupe');
    assert.equal(runFsx(loadAdapter('reference'), 'reference', { ...defaultOptions(), numOps: 20000, seed: 1, quiet: true }, capture()).failure, null);
  });
});

describe('EOF pollution (-e 1)', () => {
  /** A target whose size-raising truncate forgets to zero what mmap stored past the old EOF. */
  const leaky = () => withTarget(createNaiveAdapter(), 'leaky-eof', (t) => {
    let junk: { off: number; data: Uint8Array } | null = null;
    return {
      mapwrite: (off, d) => {
        const size = t.size();
        if (off + d.length > size) junk = { off: Math.max(off, size), data: Uint8Array.from(d.subarray(Math.max(0, size - off))) };
        t.mapwrite!(off, d);
      },
      truncate: (len) => {
        const old = t.size();
        t.truncate(len);
        if (junk !== null && len > old && junk.off === old) t.pwrite(junk.off, junk.data.subarray(0, Math.min(junk.data.length, len - junk.off)));
        junk = null;
      },
    };
  });

  it('passes on naive and on the reference adapter', () => {
    for (const [name, n] of [['naive', 10000], ['reference', 1500]] as const) {
      const r = runFsx(loadAdapter(name), name, opts({ numOps: n, polluteEof: true, closeprob: 20 }), capture());
      assert.equal(r.failure, null, r.report.join('\n'));
    }
  });

  it('exposes a truncate that does not zero what was stored past EOF (and only with -e)', () => {
    const r = runFsx(leaky(), 'leaky', opts({ numOps: 20000, polluteEof: true, checkFile: true }), capture());
    assert.ok(r.failure !== null, 'not caught');
    assert.equal(r.failure.kind, 'bad-data');
    assert.equal(r.log().options?.polluteEof, true);
    const again = replayLog(leaky(), 'leaky', parseOpLog(serializeOpLog(r.log()), 'x'), { quiet: true, debug: false, logDumpOps: 100 }, capture());
    assert.deepEqual(again.report, r.report);
    assert.equal(runFsx(leaky(), 'leaky', opts({ numOps: r.failure.op + 500, checkFile: true }), capture()).failure, null);
  });

  it('needs mmap stores', () => {
    const inner = createNaiveAdapter();
    const noMmap: FileAdapter = { name: 'x', capabilities: { ...inner.capabilities, mmap: false }, open: () => inner.open(), close: () => inner.close() };
    assert.throws(() => runFsx(noMmap, 'x', opts({ polluteEof: true }), capture()), /-e: adapter x has no mmap stores/);
  });
});

describe('.fsxops import/export', () => {
  it('round-trips a run log with every op kind and flag', () => {
    const { r } = run((clock) => corruptRead(createNaiveAdapter(), { at: 400, clock }), { numOps: 20000, closeprob: 30, direct: false });
    const log = r.log();
    assert.ok(log.ops.some((o) => o.op === 'read_direct') && log.ops.some((o) => o.op === 'fiemap'));
    const text = toFsxops(log);
    assert.deepEqual(fromFsxops(text, 'x.fsxops'), log);
    assert.deepEqual(parseOpLog(text, 'x.fsxops'), log);
    // fsx's own ops are plain lines; ours are "#@" lines fsx skips as comments.
    assert.match(text, /^write 0x[0-9a-f]+ 0x[0-9a-f]+ 0x[0-9a-f]+$/m);
    assert.match(text, /^#@ seek_data 0x[0-9a-f]+ 0x0 0x[0-9a-f]+/m);
    assert.match(text, /^#@direct\n(read|write) 0x/m);
    assert.match(text, / \*$/m);
    assert.match(text, /^skip /m);
  });

  it('imports an fsx-written file (comments, skip, flags, 4-argument two-range ops) and replays it', () => {
    const text = [
      '# written by fsx',
      'write 0x0 0x3000 0x0',
      'skip read 0x0 0x0 0x3000',
      'fallocate 0x1000 0x4000 0x3000 keep_size close_open',
      'fallocate 0x5000 0x1000 0x3000 unshare',
      'clone_range 0x0 0x1000 0x4000 0x6000 *',
      'copy_range 0x10 0x100 0x2000 0x6000',
      'dedupe_range 0x0 0x1000 0x4000 0x6000',
      '\tpunch_hole 0x100 0x200 0x6000',
      'zero_range 0x5000 0x2000 0x6000 keep_size',
      'collapse_range 0x1000 0x1000 0x6000',
      'insert_range 0x0 0x1000 0x5000',
      'truncate 0x0 0x2345 0x6000',
      'mapwrite 0x2000 0x800 0x2345',
      'mapread 0x0 0x2800 0x2800',
      'read 0x0 0x2800 0x2800',
      'fsync 0x0 0x0 0x2800',
      '',
    ].join('\n');
    const log = fromFsxops(text, 'fsx.fsxops');
    assert.equal(log.ops.length, 16);
    assert.deepEqual(log.ops[2], { op: 'fallocate', off: 0x1000, len: 0x4000, fileSize: 0x3000, keepSize: true, closeOpen: true });
    assert.deepEqual(log.ops[4], { op: 'clone_range', off: 0, len: 0x1000, dst: 0x4000, fileSize: 0x6000 });
    assert.deepEqual(log.ops[11], { op: 'truncate', off: 0, len: 0x2345, fileSize: 0x6000 });
    const r = replay(createNaiveAdapter(), log);
    assert.equal(r.failure, null, r.report.join('\n'));
    assert.equal(r.ops, 16);
  });

  it('rejects bad .fsxops lines with one line naming the line', () => {
    const bad: [string, RegExp][] = [
      ['bogus 0x0 0x0 0x0', /^f: line 1: unknown op "bogus"$/],
      ['write 0x0 0x10', /^f: line 1: write needs 3 arguments, got 2$/],
      ['write 0x0 0xzz 0x0', /^f: line 1: bad number "0xzz" \(argument 2 of write\)$/],
      ['write 0x0 0x10 0x0 frobnicate', /^f: line 1: unknown flag "frobnicate"/],
      ['read 0x0 0x10 0x0 keep_size', /^f: line 1: keep_size is not valid for read$/],
      ['fallocate 0x0 0x10 0x0 keep_size keep_size', /^f: line 1: keep_size given twice$/],
      ['write 0x20000000000000 0x1 0x0', /^f: line 1: argument 1 of write \(0x20000000000000\) is past the limit 2\^53-1/],
      ['exchange_range 0x0 0x1000 0x3000', /^f: line 1: exchange_range needs 4 arguments, got 3$/],
      ['#@direct\nfsync 0x0 0x0 0x0', /^f: line 2: #@direct \(line 1\) must be followed by a read or write, got fsync$/],
      ['#@meta {"seed":', /^f: line 1: #@meta: not valid JSON/],
      ['#@meta {"colour":1}', /^f: line 1: #@meta: unknown field "colour"/],
    ];
    for (const [text, re] of bad) {
      assert.throws(() => fromFsxops(text, 'f'), (e: Error) => re.test(e.message) && !e.message.includes('\n'), `${text} -> ?`);
    }
  });

  it('keeps the fsx op names of the log format stable', () => {
    assert.deepEqual(OPS.filter((o) => o.fsx).map((o) => o.name), [
      'read', 'write', 'mapread', 'mapwrite', 'truncate', 'fallocate', 'punch_hole', 'zero_range', 'collapse_range',
      'insert_range', 'clone_range', 'dedupe_range', 'copy_range', 'fsync',
      // xfstests' newer ops (op log version 5), with fsx's names.
      'read_dontcache', 'write_dontcache', 'write_atomic', 'exchange_range',
    ]);
    assert.equal(OPS[OP_FALLOCATE].name, 'fallocate');
  });
});

describe('fsx PRNG', () => {
  it('is deterministic, seed-dependent and stays in range', () => {
    const a = new Prng(1);
    const b = new Prng(1);
    const c = new Prng(2);
    const xs = Array.from({ length: 100 }, () => a.next32());
    assert.deepEqual(xs, Array.from({ length: 100 }, () => b.next32()));
    assert.notDeepEqual(xs, Array.from({ length: 100 }, () => c.next32()));
    const r = new Prng(9);
    for (const n of [1, 7, 2 ** 32, 2 ** 40 + 3, 2 ** 53]) {
      for (let i = 0; i < 200; i++) {
        const v = r.below(n);
        assert.ok(Number.isInteger(v) && v >= 0 && v < n, `${v} not in [0, ${n})`);
      }
    }
    assert.equal(r.below(0), 0);
  });
});
