/**
 * The property suites (properties/suites, docs/suites.md) on the reference adapter with bounded
 * runs, plus the harness itself: capability skips with reasons, determinism from the seed, the
 * suite list, and the JUnit writer.
 */
import { strict as assert } from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { registryEnv, runSuite, SUITES, suiteByName, listSuites } from '../properties/suites/index';
import { junitXml, xmlEscape } from '../properties/suites/junit';
import type { SuiteResult } from '../properties/suites/harness';
import type { AdapterOptions } from '../adapters/registry';

/** Runs per property in CI (the CLI default is 50). */
const RUNS = Number(process.env.SUITE_RUNS ?? 15);

/** The areas issue #6 asks for, by suite name. */
const AREAS = [
  'buffered-io', 'short-writes', 'mmap', 'zero-range', 'unshare', 'writeback', 'writeback-errors', 'direct-io', 'dax',
  'seek', 'fiemap', 'swapfile', 'fallocate', 'reflink', 'contract', 'geometry', 'stateful',
];

function explain(r: SuiteResult): string {
  return r.properties.filter((p) => p.failed).map((p) => [
    `${r.name}/${p.name}: ${p.failure?.kind} ${p.failure?.rule ?? ''} at op ${p.failure?.op} (seed ${p.seed}, path ${p.path}, log ${p.log})`,
    ...(p.failure?.lines ?? []).slice(0, 10), ...(p.notes ?? []).slice(-6),
  ].join('\n')).join('\n');
}

describe(`property suites on reference (${RUNS} runs per property)`, () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'suites-test-'));
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  for (const s of SUITES) {
    it(`${s.name}: ${s.area}`, () => {
      const r = runSuite(s, registryEnv('reference'), { runs: RUNS, seed: 1, saveDir: tmp, maxShrinks: 50 });
      assert.equal(r.skipped, undefined, `suite skipped on reference: ${r.skipped}`);
      for (const p of r.properties) assert.equal(p.skipped, undefined, `${p.name} skipped on reference: ${p.skipped}`);
      assert.equal(r.failures, 0, explain(r));
      assert.ok(r.runs >= r.properties.length, 'every property ran');
    });
  }
});

describe('property suites: the list', () => {
  it('has a suite for every area of issue #6', () => {
    for (const a of AREAS) assert.ok(suiteByName(a) !== undefined, `no suite ${a}`);
    assert.equal(new Set(SUITES.map((s) => s.name)).size, SUITES.length, 'suite names are unique');
  });

  it('every property names the spec section it checks, and names are unique in their suite', () => {
    for (const s of SUITES) {
      assert.ok(s.properties.length > 0, `${s.name} has properties`);
      assert.equal(new Set(s.properties.map((p) => p.name)).size, s.properties.length, `${s.name}: unique property names`);
      for (const p of s.properties) {
        assert.match(p.section, /(iomap-contract|file-ops|ARCHITECTURE)/, `${s.name}/${p.name}: section ${p.section}`);
        assert.ok(p.describe.length > 20, `${s.name}/${p.name} describes what it checks`);
      }
    }
  });

  it('listSuites gives name, area, sections, needs and properties', () => {
    const l = listSuites();
    assert.equal(l.length, SUITES.length);
    const sw = l.find((x) => x.name === 'short-writes')!;
    assert.deepEqual(sw.needs, ['model', 'faults']);
    assert.ok(Array.isArray(sw.properties) && (sw.properties as unknown[]).length >= 1);
  });
});

describe('property suites: capabilities and skips', () => {
  it('naive (no interleaving, no model, no seek/fiemap) skips what it cannot do, with the reason', () => {
    const env = registryEnv('naive');
    const model = runSuite(suiteByName('short-writes')!, env, { runs: 2, seed: 1, saveDir: null });
    assert.match(model.skipped ?? '', /reference model/);
    assert.equal(model.runs, 0);
    const stateful = runSuite(suiteByName('stateful')!, env, { runs: 2, seed: 1, saveDir: null });
    assert.match(stateful.skipped ?? '', /FileTarget\.interleave/);
    const dax = runSuite(suiteByName('dax')!, env, { runs: 2, seed: 1, saveDir: null });
    assert.match(dax.skipped ?? '', /reference model/);
    // What naive can do runs (and passes: it is a plain byte array).
    const buffered = runSuite(suiteByName('buffered-io')!, env, { runs: 3, seed: 1, saveDir: null });
    assert.equal(buffered.skipped, undefined);
    assert.equal(buffered.failures, 0, explain(buffered));
    // A property needing the model inside a suite that does not is skipped on its own.
    const mmap = runSuite(suiteByName('mmap')!, env, { runs: 3, seed: 1, saveDir: null });
    const enospc = mmap.properties.find((p) => p.name === 'mkwrite-enospc')!;
    assert.match(enospc.skipped ?? '', /reference model/);
    assert.equal(mmap.properties.find((p) => p.name === 'stores-and-loads')!.skipped, undefined);
  });

  it('a target without the newer I/O skips the atomic-writes, uncached-io and exchange-range suites, with the reason', () => {
    const plain = registryEnv('naive');
    // naive without RWF_ATOMIC, RWF_DONTCACHE and exchange range (as an older kernel).
    const env = { ...plain, create: (o: AdapterOptions) => {
      const a = plain.create(o);
      const { atomicWrite: _a, dontcache: _d, exchangeRange: _e, ...caps } = a.capabilities;
      return { ...a, name: a.name, capabilities: caps, open: () => a.open(), close: () => a.close() };
    } };
    const why: Record<string, RegExp> = { 'atomic-writes': /RWF_ATOMIC/, 'uncached-io': /RWF_DONTCACHE/, 'exchange-range': /EXCHANGE_RANGE/ };
    for (const [name, re] of Object.entries(why)) {
      const r = runSuite(suiteByName(name)!, env, { runs: 2, seed: 1, saveDir: null });
      assert.match(r.skipped ?? '', re, name);
      assert.equal(r.failures, 0);
      // With them, naive runs the suites (the crash properties skip: naive has no power cuts).
      const on = runSuite(suiteByName(name)!, plain, { runs: 3, seed: 1, saveDir: null });
      assert.equal(on.skipped, undefined, name);
      assert.equal(on.failures, 0, explain(on));
    }
  });

  it('geometry sweeps are skipped when --bs/--folio fix the geometry', () => {
    const r = runSuite(suiteByName('geometry')!, registryEnv('reference', { blockSize: 4096 }), { runs: 2, seed: 1, saveDir: null });
    assert.match(r.skipped ?? '', /honours a requested block and folio size/);
  });
});

describe('property suites: determinism', () => {
  it('the same seed gives the same runs and the same counterexample op log', () => {
    const run = (dir: string) => runSuite(suiteByName('fallocate')!, registryEnv('mutant:collapse-short-by-one'),
      { runs: 100, seed: 7, saveDir: dir, maxShrinks: 30, only: ['modes'] });
    const d1 = fs.mkdtempSync(path.join(os.tmpdir(), 'suites-det-'));
    const d2 = fs.mkdtempSync(path.join(os.tmpdir(), 'suites-det-'));
    try {
      const a = run(d1).properties[0];
      const b = run(d2).properties[0];
      assert.ok(a.failed && b.failed, 'the mutant is caught');
      assert.equal(a.runs, b.runs);
      assert.equal(a.path, b.path);
      assert.equal(fs.readFileSync(a.log!, 'utf8'), fs.readFileSync(b.log!, 'utf8'));
    } finally {
      fs.rmSync(d1, { recursive: true, force: true });
      fs.rmSync(d2, { recursive: true, force: true });
    }
  });
});

describe('JUnit XML writer', () => {
  it('escapes markup and drops characters XML 1.0 cannot carry', () => {
    assert.equal(xmlEscape(`a<b>&"c'\u0001d\u001fe\tf`), 'a&lt;b&gt;&amp;&quot;c&apos;de\tf');
  });

  it('counts tests, failures and skips per suite and overall', () => {
    const xml = junitXml('x', [
      { name: 's1', time: 1.5, cases: [
        { classname: 's1', name: 'ok', time: 0.5 },
        { classname: 's1', name: 'bad <1>', time: 1, failure: { message: 'bad-data at op 3', type: 'bad-data', text: 'READ BAD DATA\n0x10 & more' } },
      ] },
      { name: 's2', time: 0, cases: [{ classname: 's2', name: 'skip', time: 0, skipped: 'needs mmap' }], properties: { area: 'a&b' } },
    ]);
    assert.match(xml, /^<\?xml version="1.0" encoding="UTF-8"\?>\n<testsuites name="x" tests="3" failures="1" errors="0" skipped="1" time="1.500">/);
    assert.match(xml, /<testsuite name="s1" tests="2" failures="1" errors="0" skipped="0" time="1.500">/);
    assert.match(xml, /<testcase classname="s1" name="bad &lt;1&gt;" time="1.000">\n {6}<failure message="bad-data at op 3" type="bad-data">READ BAD DATA\n0x10 &amp; more<\/failure>/);
    assert.match(xml, /<skipped message="needs mmap"\/>/);
    assert.match(xml, /<property name="area" value="a&amp;b"\/>/);
    assert.equal((xml.match(/<testcase /g) ?? []).length, 3);
  });
});
