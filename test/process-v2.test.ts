/**
 * Protocol version 2 (docs/protocol.md): an fs-level server's ops table in the current iomap API
 * generation — writeback_range / writeback_submit, ioends with IOMAP_IOEND_* flags, iomap_valid
 * passed by the caller. examples/fs-server.py speaks both versions: 2 when the harness asks for
 * the current API (--api current), 1 otherwise; --protocol 1 is a server written before 2.
 */
import { strict as assert } from 'assert';
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { loadExecAdapter, ProcessFsFileAdapter } from '../adapters/process';
import { ProtocolError } from '../adapters/process/errors';
import { runFsx } from '../properties/fsx/engine';
import { defaultOptions } from '../properties/fsx/generator';
import '../properties/contract/monitor';
import { defaultApi } from '../reference/iomap/types';

const ROOT = path.join(__dirname, '..', '..');
const FS_SERVER = path.join(ROOT, 'examples', 'fs-server.py');
const quiet = { out: () => undefined, err: () => undefined };

function havePython(): boolean {
  try {
    execFileSync('python3', ['-c', 'import json'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

describe('process protocol 2: the current iomap API over the wire (examples/fs-server.py)', function () {
  this.timeout(300_000);
  let tmp = '';
  before(function () {
    if (!havePython()) {
      console.log('      skipped: python3 is not available (the example server needs it)');
      this.skip();
    }
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'iomap-harness-v2-'));
  });
  after(() => {
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  const open = (cmd: string, api?: string) =>
    loadExecAdapter(cmd, { scratch: tmp, blockSize: 4096, deviceSize: 128 * 2 ** 20, ...(api ? { api } : {}) }) as ProcessFsFileAdapter;

  it('asked for the current API, pyfs answers protocol 2 and passes fsx under the monitor; the op log records it', () => {
    const a = open(`python3 ${FS_SERVER}`, 'current');
    assert.ok(a instanceof ProcessFsFileAdapter);
    assert.equal(a.fsAdapter.hello.protocol, 2);
    assert.equal(a.fsAdapter.api, 'current');
    assert.deepEqual(a.setup, { api: 'current' });
    assert.ok(a.fsAdapter.ops.has('writeback_submit') && !a.fsAdapter.ops.has('prepare_ioend'));
    const r = runFsx(a, a.name, { ...defaultOptions(), quiet: true, seed: 5, numOps: 600 }, quiet);
    assert.equal(r.failure, null, r.report.join('\n'));
    assert.equal(r.log().setup?.api, 'current');
    const mon = a.inner.monitor!;
    for (const rule of ['C01', 'C02', 'C04', 'C06', 'R32', 'R34']) {
      assert.ok((mon.evaluated.get(rule) ?? 0) > 0, `rule ${rule} was checked over protocol 2`);
    }
    a.close();
  });

  it('without --api it still speaks protocol 1 (the 6.12 ops table), unchanged', () => {
    const a = open(`python3 ${FS_SERVER}`);
    assert.equal(a.fsAdapter.hello.protocol, 1);
    assert.equal(a.fsAdapter.api, '6.12');
    // (recorded when IOMAP_HARNESS_API moved the default away from 6.12)
    assert.deepEqual(a.setup, defaultApi() === '6.12' ? {} : { api: '6.12' });
    assert.ok(a.fsAdapter.ops.has('prepare_ioend') && !a.fsAdapter.ops.has('writeback_submit'));
    const r = runFsx(a, a.name, { ...defaultOptions(), quiet: true, seed: 5, numOps: 300 }, quiet);
    assert.equal(r.failure, null, r.report.join('\n'));
    a.close();
  });

  it('a protocol-1 server asked for the current API is a one-line exit-2 error', () => {
    assert.throws(() => open(`python3 ${FS_SERVER} --protocol 1`, 'current'), (e: unknown) =>
      e instanceof ProtocolError && /asked for the current iomap API, but the server answered protocol 1/.test(e.message) && !e.message.includes('\n'));
  });

  it('a protocol-2 completion that never converts unwritten blocks is caught (pyfs --defect submit-no-endio)', () => {
    const run = (cmd: string) => {
      const a = open(cmd, 'current');
      return runFsx(a, a.name, { ...defaultOptions(), quiet: true, seed: 5, numOps: 600 }, quiet);
    };
    const bad = run(`python3 ${FS_SERVER} --defect submit-no-endio`);
    assert.ok(bad.failure !== null, 'the defect went unnoticed');
    const good = run(`python3 ${FS_SERVER}`);
    assert.equal(good.failure, null, good.report.join('\n'));
  });

  it('a server that serves reads itself (read_folio_range, iomap_read_ops) passes fsx, checked by C07; one that serves the wrong block is caught', () => {
    const a = open(`python3 ${FS_SERVER} --serve-reads`, 'current');
    assert.ok(a.fsAdapter.ops.has('read_folio_range'));
    const r = runFsx(a, a.name, { ...defaultOptions(), quiet: true, seed: 3, numOps: 150 }, quiet);
    assert.equal(r.failure, null, r.report.join('\n'));
    assert.ok((a.inner.monitor!.evaluated.get('C07') ?? 0) > 0, 'no read went through the server');
    a.close();
    const b = open(`python3 ${FS_SERVER} --serve-reads --defect read-next-block`, 'current');
    const bad = runFsx(b, b.name, { ...defaultOptions(), quiet: true, seed: 3, numOps: 60 }, quiet);
    // Wrong bytes read back: at once, or (kind durability) after fsx's clean remount drops the cache.
    assert.ok(['bad-data', 'durability'].includes(bad.failure?.kind ?? ''), bad.report.join('\n'));
    assert.ok(bad.report.some((l) => l.includes('READ BAD DATA')), bad.report.join('\n'));
    b.close();
    // Protocol 1 has no read ops: pyfs does not list the method there.
    const c = open(`python3 ${FS_SERVER} --serve-reads`);
    assert.ok(!c.fsAdapter.ops.has('read_folio_range'));
    c.close();
  });
});
