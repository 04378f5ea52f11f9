/**
 * The ext4 personality's documented kernel data loss (corpus/known/ext4-6.18-mmap-eof-page-data-loss.json):
 * fsx on the reference with --personality ext4 meets it (seed 3, round 2, op 4,817) and, by default,
 * reports it as a known hit and goes on; with --no-default-known the same run fails with R33.
 * Long: 20,000 reference ops twice (about 10 CPU-s each).
 */
import { strict as assert } from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { inProcess as cli } from '../support/bin';

describe('fsx --personality ext4 on the reference: the documented ext4 data loss is a known hit by default (long)', () => {
  let tmp: string;
  before(() => { tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ext4-known-')); });
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('by default: exit 0, one known hit naming the corpus entry, the remaining ops run on the next seed', async function () {
    this.timeout(600_000);
    const r = await cli(['fsx', '-N', '20000', '-S', '3', '--personality', 'ext4', '-q', '--save', path.join(tmp, 'a'), '--json']);
    assert.equal(r.code, 0, r.out);
    const hits = r.json.knownHits as { seed: number; known: string }[];
    assert.equal(hits.length, 1, r.out);
    assert.equal(path.basename(hits[0].known), 'ext4-6.18-mmap-eof-page-data-loss.json');
    assert.equal(r.json.ops, 20000);
    assert.match(r.out, /Known signature .*drops data stored through mmap.*going on with seed 4/);
  });

  it('--no-default-known: the same run fails with R33 (a contract failure)', async function () {
    this.timeout(600_000);
    const r = await cli(['fsx', '-N', '20000', '-S', '3', '--personality', 'ext4', '-q', '--no-default-known', '--save', path.join(tmp, 'b'), '--json']);
    assert.equal(r.code, 1, r.out);
    const f = r.json.failure as { kind: string; rule: string };
    assert.deepEqual([f.kind, f.rule], ['contract', 'R33']);
    assert.equal(r.json.knownHits, undefined);
  });
});
