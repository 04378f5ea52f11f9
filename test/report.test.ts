/**
 * The failure explorer: the data it embeds for a known failing case (a bug-zoo mutant found by
 * fsx), and an end-to-end check in headless Chromium (Debian's chromium, driven by
 * playwright-core) that steps to the failing op and reads what the page shows. The screenshot is
 * kept as a CI artifact under the temp directory.
 */
import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as vm from 'vm';
import { loadAdapter } from '../adapters/registry';
import { runFsx } from '../properties/fsx/engine';
import { classicWeights, defaultOptions } from '../properties/fsx/generator';
import { serializeOpLog, OpLog } from '../properties/fsx/oplog';
import { shrinkLog } from '../properties/fsx/shrink';
import { captureReport, ReportData } from '../properties/report/capture';
import { renderReport } from '../properties/report/html';
import { writeReport } from '../cli/report-command';

const quiet = { out: () => undefined, err: () => undefined };

/** Run fsx on a mutant until it fails; return the saved log. */
function failingLog(mutant: string, seed: number, extra: Partial<ReturnType<typeof defaultOptions>> = {}): OpLog {
  // The classic op mix (without fsx's newer ops): the seeds here were picked in its stream.
  const o = { ...defaultOptions(), weights: classicWeights(), numOps: 20000, seed, quiet: true, ...extra };
  const r = runFsx(loadAdapter(`mutant:${mutant}`), `mutant:${mutant}`, o, quiet);
  assert.ok(r.failure, `mutant:${mutant} was not caught in ${o.numOps} ops`);
  return r.log();
}

const CHROMIUM = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => fs.existsSync(p));

describe('failure explorer (iomap-harness report)', () => {
  let dir: string;
  let badData: OpLog;
  let contract: OpLog;
  before(function () {
    this.timeout(120000);
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'iomap-report-'));
    badData = failingLog('truncate-no-tail-zero', 1);
    contract = failingLog('map-blocks-hole', 1);
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('embeds the replayed state of every step and the failure for a bad-data case', () => {
    const data: ReportData = captureReport(loadAdapter('mutant:truncate-no-tail-zero'), 'mutant:truncate-no-tail-zero', badData);
    const exp = badData.expected!;
    assert.strictEqual(exp.outcome, 'fail');
    assert.strictEqual(data.failingOp, exp.outcome === 'fail' ? exp.op : -1);
    assert.strictEqual(data.ops.length, badData.ops.length);
    assert.strictEqual(data.stateFrom, 'target');
    // One state before the first op and one after each op up to the failing one.
    assert.deepStrictEqual(data.steps.map((s) => s.op), Array.from({ length: data.failingOp! + 1 }, (_, i) => i));
    const last = data.steps[data.steps.length - 1];
    assert.ok(last.cells.length > 0 && /^[hduwisc]+$/.test(last.cells), last.cells);
    assert.ok(data.failure && data.failure.lines.length > 0);
    assert.ok(data.bytes, 'a byte window around the bad offset');
    const b = data.bytes!;
    assert.ok(b.offset >= b.start && b.offset < b.start + b.expected.length);
    const i = b.offset - b.start;
    assert.notStrictEqual(b.actual[i], b.expected[i], 'the bad byte differs between expected and actual');
    assert.ok(data.ops[data.failingOp! - 1].length > 0);
  });

  it('names the contract rule and the callback for an ops-table failure', () => {
    const data = captureReport(loadAdapter('mutant:map-blocks-hole'), 'mutant:map-blocks-hole', contract);
    assert.ok(data.failure);
    assert.strictEqual(data.failure!.kind, 'contract');
    assert.strictEqual(data.failure!.rule, 'R33');
    // ->map_blocks in the 6.12 generation, ->writeback_range in the current one.
    assert.ok(data.failure!.lines.some((l) => /map_blocks|writeback_range/.test(l)), data.failure!.lines.join('\n'));
  });

  it('renders one self-contained page (no external assets) with the data embedded', () => {
    const html = renderReport(captureReport(loadAdapter('mutant:truncate-no-tail-zero'), 'm', badData));
    assert.ok(html.startsWith('<!doctype html>'));
    assert.ok(!/<(script|link|img)[^>]+(src|href)=/i.test(html), 'no external script, stylesheet or image');
    assert.ok(/<script id="data" type="application\/json">/.test(html));
  });

  it('the page script compiles (checked without a browser: a quote lost in the template once broke every page)', () => {
    const page = renderReport(captureReport(loadAdapter('mutant:truncate-no-tail-zero'), 'mutant:truncate-no-tail-zero', badData));
    const scripts = [...page.matchAll(/<script([^>]*)>([\s\S]*?)<\/script>/g)];
    const code = scripts.filter((m) => !/application\/json/.test(m[1]));
    assert.ok(code.length > 0, 'the page has a script');
    for (const m of code) assert.doesNotThrow(() => new vm.Script(m[2]), 'the page script has a syntax error');
  });

  it('report LOG writes the page; bad input is a usage error', () => {
    const log = path.join(dir, 'case.json');
    fs.writeFileSync(log, serializeOpLog(badData));
    const out = writeReport(log, path.join(dir, 'case.html'));
    assert.ok(fs.statSync(out).size > 1000);
    assert.throws(() => writeReport(path.join(dir, 'missing.json'), path.join(dir, 'x.html')), /no such file/);
    fs.writeFileSync(path.join(dir, 'bad.json'), '{"format":"nope"}');
    assert.throws(() => writeReport(path.join(dir, 'bad.json'), path.join(dir, 'x.html')), /report:/);
  });

  it('end to end in headless Chromium: step to the failing op; it is marked, the bad offset and the rule are shown', async function () {
    this.timeout(120000);
    if (!CHROMIUM) {
      console.log('      skipped: no chromium binary (apt-get install chromium; .ci/run installs it)');
      this.skip();
    }
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    const { chromium } = require('playwright-core') as typeof import('playwright-core');
    const artifacts = path.join(os.tmpdir(), 'iomap-harness-artifacts');
    fs.mkdirSync(artifacts, { recursive: true });
    const badPage = path.join(dir, 'bad.html');
    // The page of a shrunk log, as users open them: stepping with the keyboard through the 1,300
    // ops of the raw run costs one browser round trip per op.
    const mutant = 'mutant:truncate-no-tail-zero';
    const small = shrinkLog(badData, { makeAdapter: () => loadAdapter(mutant), name: mutant, maxReplays: 3000 }).log;
    fs.writeFileSync(badPage, renderReport(captureReport(loadAdapter(mutant), mutant, small)));
    const rulePage = path.join(dir, 'rule.html');
    fs.writeFileSync(rulePage, renderReport(captureReport(loadAdapter('mutant:map-blocks-hole'), 'mutant:map-blocks-hole', contract)));
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'],
    });
    try {
      const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(String(e)));
      await page.goto('file://' + badPage);
      await page.waitForSelector('body[data-ready="1"]');
      // Start at the top and step down with the keyboard to the failing op.
      await page.keyboard.press('Home');
      const failing = Number(await page.getAttribute('#ops li.fail', 'data-op'));
      assert.ok(failing > 0, 'the failing op is marked in the list');
      for (let i = 0; i < failing; i++) await page.keyboard.press('ArrowDown');
      assert.strictEqual(Number(await page.getAttribute('#ops li.sel', 'data-op')), failing);
      assert.ok(await page.$('#ops li.sel.fail'), 'the selected op is the failing one');
      assert.ok(await page.$('#map .cell'), 'the block map is drawn');
      assert.ok(await page.$('#map .cell.w'), 'written blocks are drawn as written');
      assert.ok(await page.$('#badcell'), 'the bad offset is highlighted in the block map');
      assert.ok(await page.$('#diff td.x'), 'differing bytes are highlighted');
      assert.match(await page.textContent('#badrow') ?? '', /op /);
      await page.screenshot({ path: path.join(artifacts, 'report-bad-data.png') });
      // Clicking another op shows that step.
      await page.click('#ops li[data-op="1"]');
      assert.strictEqual(Number(await page.getAttribute('#ops li.sel', 'data-op')), 1);
      await page.goto('file://' + rulePage);
      await page.waitForSelector('body[data-ready="1"]');
      await page.keyboard.press('f');
      assert.match(await page.textContent('#rule') ?? '', /R33/);
      assert.ok(await page.$('#ops li.sel.fail'));
      await page.screenshot({ path: path.join(artifacts, 'report-contract.png') });
      assert.deepStrictEqual(errors, [], 'the page script threw');
      console.log(`      screenshots in ${artifacts}`);
    } finally {
      await browser.close();
    }
  });
});

describe('list rules and list mutants (CLI)', () => {
  it('list rules --json lists every rule of the monitor with its status; list mutants adds section and catcher', async () => {
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    const { main } = require('../cli/main') as typeof import('../cli/main');
    const { RULES } = require('../properties/contract/rules') as typeof import('../properties/contract/rules');
    let out = '';
    const io = { stdout: (s: string) => { out += s; }, stderr: () => undefined, isTTY: false };
    assert.strictEqual(await main(['list', 'rules', '--json'], io as never), 0);
    const rules = JSON.parse(out.trim().split('\n').pop()!).rules as Array<{ id: string; status: string }>;
    assert.strictEqual(rules.length, RULES.length);
    assert.deepStrictEqual(rules.map((r) => r.id), RULES.map((r) => r.id));
    out = '';
    assert.strictEqual(await main(['list', 'mutants', '--json'], io as never), 0);
    const mutants = JSON.parse(out.trim().split('\n').pop()!).mutants as Array<{ name: string; section?: string; catches?: string }>;
    assert.ok(mutants.length >= 20, `${mutants.length} mutants`);
    assert.ok(mutants.every((m) => m.section && m.catches), 'every mutant names its section and catcher');
  });
});
