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
import { inProcess as cli } from './support/bin';

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
});
