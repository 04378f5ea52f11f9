/**
 * `iomap-harness check` and `iomap-harness list suites`: the JSON summary contract, the result
 * table, JUnit output, counterexample op logs, exit codes and usage errors; and the mocha
 * reporter's MOCHA_JUNIT option.
 */
import { strict as assert } from 'assert';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { SUITES } from '../properties/suites/index';
import { inProcess as cli } from './support/bin';

interface SuiteSummary {
  name: string;
  runs: number;
  failures: number;
  skipped?: boolean;
  reason?: string;
  properties: Array<{ name: string; failures: number; failure?: { kind: string; log?: string; seed?: number; path?: string } }>;
}

describe('iomap-harness check', () => {
  let tmp: string;
  before(() => { tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'iomap-check-test-')); });
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('check --adapter reference --json passes every suite; the last line is the summary', async () => {
    const junit = path.join(tmp, 'check.xml');
    const r = await cli(['check', '--adapter', 'reference', '--runs', '2', '--json', '--junit', junit]);
    assert.equal(r.code, 0, r.out.slice(-3000) + r.err);
    const s = r.json;
    assert.equal(s.command, 'check');
    assert.equal(s.adapter, 'reference');
    assert.equal(s.seed, 1);
    assert.equal(s.failures, 0);
    const suites = s.suites as SuiteSummary[];
    assert.deepEqual(suites.map((x) => x.name), SUITES.map((x) => x.name));
    for (const x of suites) {
      assert.equal(x.failures, 0, x.name);
      assert.equal(x.skipped, undefined, `${x.name}: ${x.reason}`);
      assert.ok(x.runs >= 1, x.name);
    }
    // The table precedes the summary line.
    assert.ok(r.lines.some((l) => /^suite\s+runs\s+failures\s+time\s+result$/.test(l)));
    assert.ok(r.lines.some((l) => /^buffered-io\s+\d+\s+0\s+\S+\s+ok/.test(l)));
    const xml = fs.readFileSync(junit, 'utf8');
    assert.match(xml, /<testsuites name="iomap-harness check --adapter reference" tests="\d+" failures="0"/);
    assert.equal((xml.match(/<testsuite /g) ?? []).length, SUITES.length);
  });

  it('naive: model-level suites are listed as skipped with the reason, the rest pass', async () => {
    const r = await cli(['check', '--adapter', 'naive', '--suite', 'short-writes,buffered-io', '--suite', 'stateful', '--runs', '2', '--json']);
    assert.equal(r.code, 0, r.out.slice(-2000) + r.err);
    const suites = r.json.suites as SuiteSummary[];
    assert.deepEqual(suites.map((x) => x.name), ['short-writes', 'buffered-io', 'stateful']);
    assert.equal(suites[0].skipped, true);
    assert.match(suites[0].reason!, /reference model/);
    assert.equal(suites[1].skipped, undefined);
    assert.match(suites[2].reason!, /interleave/);
    assert.ok(r.lines.some((l) => /^short-writes\s+0\s+0\s+\S+\s+skipped: needs the reference model/.test(l)));
  });

  it('a failure: exit 1, seed and path printed, the counterexample saved as an op log that replay reproduces', async () => {
    const save = path.join(tmp, 'cx');
    const r = await cli(['check', '--adapter', 'mutant:collapse-short-by-one', '--suite', 'fallocate', '--property', 'modes', '--runs', '200', '--save', save, '--json']);
    assert.equal(r.code, 1, r.err);
    const s = r.json;
    const f = s.failure as { suite: string; property: string; kind: string; op: number; log: string; seed: number; path: string };
    assert.equal(f.suite, 'fallocate');
    assert.equal(f.property, 'modes');
    assert.equal(f.kind, 'bad-data');
    assert.ok(f.log.startsWith(save) && fs.existsSync(f.log));
    assert.ok(r.lines.some((l) => /fast-check: seed 1, path "\d+(:\d+)*"/.test(l)), r.out.slice(0, 3000));
    assert.ok(r.lines.some((l) => l.includes(`iomap-harness replay ${f.log}`)));
    const log = JSON.parse(fs.readFileSync(f.log, 'utf8')) as { format: string; adapter: string; ops: unknown[]; expected: { outcome: string; kind: string; op: number } };
    assert.equal(log.format, 'iomap-harness-oplog');
    assert.equal(log.adapter, 'mutant:collapse-short-by-one');
    assert.deepEqual([log.expected.outcome, log.expected.kind, log.expected.op], ['fail', 'bad-data', f.op]);
    const rep = await cli(['replay', f.log, '--json', '-q']);
    assert.equal(rep.code, 1);
    const cases = rep.json.cases as Array<{ ok: boolean; outcome: string }>;
    assert.deepEqual([cases[0].ok, cases[0].outcome], [true, 'bad-data']);
    // The log alone reproduces it, so it was also shrunk: a shorter log with the same failure.
    const min = (s.failure as { minLog?: string }).minLog;
    assert.ok(min !== undefined && min.endsWith('.min.json') && fs.existsSync(min), JSON.stringify(s.failure));
    const minLog = JSON.parse(fs.readFileSync(min, 'utf8')) as { ops: unknown[] };
    assert.ok(minLog.ops.length <= log.ops.length && minLog.ops.length >= 1);
    const repMin = await cli(['replay', min, '--json', '-q']);
    const minCases = repMin.json.cases as Array<{ ok: boolean; outcome: string }>;
    assert.deepEqual([minCases[0].ok, minCases[0].outcome], [true, 'bad-data']);
  });

  it('is deterministic from --seed', async () => {
    const run = () => cli(['check', '--adapter', 'mutant:seek-ignores-pagecache', '--suite', 'seek', '--property', 'walk-sound', '--runs', '100', '--seed', '3', '--save', path.join(tmp, 'det'), '--json']);
    const a = (await run()).json.failure as Record<string, unknown>;
    const b = (await run()).json.failure as Record<string, unknown>;
    assert.deepEqual(a, b);
  });

  it('usage errors: one line, exit 2', async () => {
    const bad: Array<[string[], RegExp]> = [
      [['check', '--suite', 'nope'], /unknown suite "nope"/],
      [['check', '--property', 'nope'], /unknown property "nope"/],
      [['check', '--runs', '0'], /--runs: 0 is out of range/],
      [['check', '--seed', 'x'], /--seed: expected a number/],
      [['check', '--adapter', 'no-such-adapter'], /unknown adapter "no-such-adapter"/],
      [['check', '--frobnicate'], /unknown option --frobnicate/],
      [['check', '--junit', path.join(tmp, 'no', 'such', 'dir', 'x.xml')], /--junit .*does not exist/],
      [['check', 'extra'], /unexpected argument/],
    ];
    for (const [args, re] of bad) {
      const r = await cli(args);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.out}${r.err}`);
      assert.match(r.err, re);
      assert.equal(r.err.trim().split('\n').length, 1, r.err);
    }
  });
});

describe('iomap-harness list suites', () => {
  it('lists every suite with its area, sections, needs and properties (--json)', async () => {
    const r = await cli(['list', 'suites', '--json']);
    assert.equal(r.code, 0, r.err);
    const items = r.json.suites as Array<{ name: string; area: string; sections: string; needs: string[]; properties: Array<{ name: string; section: string }> }>;
    for (const a of ['buffered-io', 'short-writes', 'mmap', 'zero-range', 'unshare', 'writeback', 'writeback-errors', 'direct-io', 'dax', 'seek',
      'fiemap', 'swapfile', 'fallocate', 'reflink', 'contract', 'geometry', 'stateful']) {
      const s = items.find((x) => x.name === a);
      assert.ok(s !== undefined, `list suites lacks ${a}`);
      assert.ok(s.properties.length > 0 && s.properties.every((p) => p.section.length > 0));
    }
    const t = await cli(['list', 'suites']);
    assert.ok(t.lines.some((l) => /^buffered-io\s+buffered read and write/.test(l)), t.out);
  });
});

describe('mocha reporter: MOCHA_JUNIT', () => {
  it('writes a JUnit XML report of the run besides the spec output', function () {
    this.timeout(60000);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mocha-junit-'));
    try {
      const spec = path.join(dir, 'sample.test.js');
      fs.writeFileSync(spec, [
        "const assert = require('assert');",
        "describe('outer', () => {",
        "  it('passes', () => {});",
        "  it('fails <badly>', () => { assert.equal(1, 2); });",
        "  it.skip('is pending', () => {});",
        '});',
      ].join('\n'));
      const xml = path.join(dir, 'out.xml');
      const mocha = require.resolve('mocha/bin/mocha.js');
      const reporter = path.resolve(__dirname, 'support', 'reporter.js');
      const r = spawnSync(process.execPath, [mocha, '--no-config', '--reporter', reporter, spec], {
        env: { ...process.env, MOCHA_JUNIT: xml }, encoding: 'utf8',
      });
      assert.equal(r.status, 1, r.stdout + r.stderr);
      assert.match(r.stdout, /tests: 1 passed, 1 failed, 1 skipped\n$/);
      const x = fs.readFileSync(xml, 'utf8');
      assert.match(x, /<testsuites name="mocha" tests="3" failures="1" errors="0" skipped="1"/);
      assert.match(x, /<testcase classname="outer" name="fails &lt;badly&gt;" time="[\d.]+">\n {6}<failure message="[^"]*" type="AssertionError">/);
      assert.match(x, /<testcase classname="outer" name="is pending" time="0.000">\n {6}<skipped message="pending"\/>/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
