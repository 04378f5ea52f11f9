/**
 * The first hour's documents run as written (issue 16 point 3 and the acceptance): every code
 * block of docs/adapters.md's tutorial, and the README's walkthrough, in an empty folder outside
 * the checkout. Slow (a few fuzz runs each): part of `npm run test:long`.
 */
import { strict as assert } from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { ROOT, runDocBlocks } from '../support/bin';

describe('first hour: docs/adapters.md is a tutorial that works as written (issue 16 point 3)', function () {
  this.timeout(900_000); // several fuzz runs and a TypeScript build, on a loaded machine
  it('every code block of the tutorial runs, in an empty folder outside the checkout (was: "Cannot find module iomap-harness/dist/...")', () => {
    const doc = fs.readFileSync(path.join(ROOT, 'docs', 'adapters.md'), 'utf8');
    const tutorial = doc.slice(0, doc.indexOf('<!-- tutorial:end'));
    assert.ok(tutorial.length > 1000);
    assert.doesNotMatch(doc, /iomap-harness\/dist\//);
    const cwd = fs.mkdtempSync(path.join(os.tmpdir(), 'iomap-fh-tutorial-'));
    try {
      const ran = runDocBlocks(tutorial, cwd);
      assert.ok(ran.some((r) => r.cmd.startsWith('iomap-harness init-adapter file')));
      assert.ok(ran.filter((r) => /^iomap-harness fsx /m.test(r.cmd)).every((r) => /All \d+ operations completed A-OK!/.test(r.out)), ran.map((r) => r.out).join('\n'));
      assert.ok(fs.existsSync(path.join(cwd, 'my-adapter', 'dist', 'adapter.js')), 'the TypeScript skeleton compiled');
    } finally {
      fs.rmSync(cwd, { recursive: true, force: true });
    }
  });
});

describe('first hour: the README walkthrough runs as written (issue 16 acceptance)', function () {
  this.timeout(900_000);
  it('install done: fuzz the reference, plug in the skeleton, find its bug, shrink, replay, report, fix', () => {
    const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
    const block = readme.slice(readme.indexOf('<!-- first-hour:begin -->'), readme.indexOf('<!-- first-hour:end -->'));
    assert.ok(block.length > 200, 'the walkthrough is in the README');
    const cwd = fs.mkdtempSync(path.join(os.tmpdir(), 'iomap-fh-readme-'));
    try {
      const [r] = runDocBlocks(block, cwd);
      assert.match(r.out, /All 10000 operations completed A-OK!/);
      assert.match(r.out, /READ BAD DATA|Size error/);
      assert.match(r.out, /fsx exit code 1/);
      assert.match(r.out, /shrink exit code 1/);
      assert.match(r.out, /^✓ bug\.min\.json: .* at op \d+, as recorded$/m);
      assert.match(r.out, /report written to .*bug\.min\.html/);
      assert.ok(fs.existsSync(path.join(cwd, 'bug.min.html')));
      const min = JSON.parse(fs.readFileSync(path.join(cwd, 'bug.min.json'), 'utf8')) as { ops: unknown[] };
      assert.ok(min.ops.length <= 10, `shrunk to ${min.ops.length} ops`);
      // After the fix the last replay passed (set -e: it exited 0).
      assert.match(r.out, /^1 case replayed: 0 as recorded, 1 NOT as recorded \(0 failed, 1 passed\); exit 0 /m);
    } finally {
      fs.rmSync(cwd, { recursive: true, force: true });
    }
  });
});

