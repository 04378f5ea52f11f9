/**
 * Replays every op log under corpus/ (docs/corpus.md) on the adapter it names and checks that the
 * outcome is the one it records in `expected` (pass, or the failure kind at the same op).
 */
import { strict as assert } from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { loadAdapter } from '../adapters/registry';
import { corpusDir, listCorpus } from '../cli/list-command';
import { replayLog } from '../properties/fsx/engine';
import { adapterOptionsOf, parseOpLog } from '../properties/fsx/oplog';
import { loadCase, verifyCase } from '../properties/oracle/fault-cases';

const dir = corpusDir();
const entries = listCorpus(dir);

describe(`corpus (${entries.length} op logs and cases in corpus/)`, () => {
  it('every corpus file is a valid op log or case', () => {
    for (const e of entries) assert.equal(e.error, undefined, `${e.name}: ${String(e.error)}`);
  });

  for (const e of entries) {
    if (e.error !== undefined) continue;
    // A family known signature (corpus/known/*.family.json) has no ops to replay: it is matched by
    // the kernel's report (test/known-family.test.ts); listing it without an error is its check here.
    if (e.family !== undefined) continue;
    if (e.kind !== undefined) {
      // A crash or fault case (corpus/crash, corpus/fault): every recorded expectation holds.
      it(`${e.name} (${String(e.kind)} case) fails on ${String(e.adapter)} as recorded (${String(e.expected)}) and passes where it should`, () => {
        assert.deepEqual(verifyCase(loadCase(path.join(dir, String(e.name)))), []);
      });
      continue;
    }
    const hostLog = String(e.name).startsWith('known/') ? 'known host finding' : String(e.name).startsWith('host/') ? 'host diff case' : null;
    if (hostLog !== null && e.adapter === 'reference') {
      // A known host finding recorded on the reference: a real kernel behaviour the reference
      // reproduces on purpose (the monitor sees it), so it must fail there as recorded.
      it(`${e.name} (${hostLog} the reference reproduces) fails on the reference as recorded (${String(e.expected)})`, () => {
        const log = parseOpLog(fs.readFileSync(path.join(dir, String(e.name)), 'utf8'), String(e.name));
        const adapter = loadAdapter('reference', adapterOptionsOf(log));
        const r = replayLog(adapter, 'reference', log, { quiet: true, debug: false, logDumpOps: 100 }, { out: () => undefined, err: () => undefined });
        const exp = log.expected;
        assert.ok(exp !== undefined && exp.outcome === 'fail', 'a known finding records its failure');
        assert.ok(r.failure !== null, 'the replay passed');
        assert.deepEqual([r.failure.kind, r.failure.op, r.failure.rule], [exp.kind, exp.op, exp.rule], r.report.join('\n'));
      });
      continue;
    }
    if (hostLog !== null) {
      // A known host finding (a kernel bug's signature for --known) or a host diff case (replayed
      // against a real filesystem by test/diff.test.ts): its `expected` is what the host did or
      // how the two sides compared; the reference alone, with the log's geometry and setup, must pass it.
      it(`${e.name} (${hostLog}) passes on the reference`, () => {
        const log = parseOpLog(fs.readFileSync(path.join(dir, String(e.name)), 'utf8'), String(e.name));
        const adapter = loadAdapter('reference', { blockSize: log.geometry.blockSize, ...log.setup });
        const r = replayLog(adapter, 'reference', { ...log, expected: undefined }, { quiet: true, debug: false, logDumpOps: 100 }, { out: () => undefined, err: () => undefined });
        assert.equal(r.failure, null, r.report.join('\n'));
      });
      continue;
    }
    it(`${e.name} replays to its expected outcome (${String(e.expected)})`, () => {
      const file = path.join(dir, String(e.name));
      const log = parseOpLog(fs.readFileSync(file, 'utf8'), String(e.name));
      const spec = log.adapter !== '' ? log.adapter : 'reference';
      // The log's geometry and setup, as `iomap-harness replay` passes them (mutants take nothing from their catalog).
      const adapter = loadAdapter(spec, adapterOptionsOf(log));
      const r = replayLog(adapter, spec, log, { quiet: true, debug: false, logDumpOps: 100 }, { out: () => undefined, err: () => undefined });
      const exp = log.expected ?? { outcome: 'pass' as const };
      if (exp.outcome === 'pass') {
        assert.equal(r.failure, null, r.report.join('\n'));
      } else {
        assert.ok(r.failure !== null, `expected ${exp.kind} at op ${exp.op}, but the replay passed`);
        assert.equal(r.failure.kind, exp.kind, r.report.join('\n'));
        assert.equal(r.failure.op, exp.op, r.report.join('\n'));
      }
    });
  }
});
