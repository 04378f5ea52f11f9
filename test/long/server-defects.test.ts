/**
 * What each durability defect of the example Python servers loses at a clean remount, told apart
 * by short replayed logs (slow: a server process per replay, about 15 s in all). The default
 * campaign catching each defect is shown in test/fsx-remount.test.ts (file level) and
 * test/process-durability.test.ts (fs level); docs/protocol.md has the table.
 */
import { strict as assert } from 'assert';
import { loadAdapter } from '../../adapters/registry';
import type { FileAdapter } from '../../adapters/types';
import { replayLog, RunResult } from '../../properties/fsx/engine';
import { OpLog, validateOpLog } from '../../properties/fsx/oplog';
import type { Output } from '../../properties/fsx/runner';
import { skipWithoutPython } from '../support/python';

const QUIET: Output = { out: () => undefined, err: () => undefined };
const fileSpec = (defect?: string) => `exec:python3 examples/file-server.py${defect ? ` --defect ${defect}` : ''}`;
const fsSpec = (defect?: string) => `exec:python3 examples/fs-server.py --no-features${defect ? ` --defect ${defect}` : ''}`;

function replay(adapter: FileAdapter, log: OpLog): RunResult {
  return replayLog(adapter, adapter.name, log, { quiet: true, debug: false, logDumpOps: 100 }, QUIET);
}

describe('the Python servers\' durability defects, told apart by what a remount loses', function () {
  this.timeout(180000);
  before(skipWithoutPython);

  it('fsync-noop loses synced data at remount where remount-loses-unsynced keeps it: write, fsync, remount', () => {
    const log = validateOpLog({
      format: 'iomap-harness-oplog', version: 4, adapter: '', geometry: { blockSize: 4096, pageSize: 4096 }, seed: 1,
      ops: [{ op: 'write', off: 0, len: 5000 }, { op: 'fsync', off: 0, len: 0 }, { op: 'remount', off: 0, len: 0 }],
    }, 'fsync-noop.json');
    assert.equal(replay(loadAdapter(fileSpec('remount-loses-unsynced'), {}), log).failure, null);
    assert.equal(replay(loadAdapter(fileSpec(), {}), log).failure, null);
    const r = replay(loadAdapter(fileSpec('fsync-noop'), {}), log);
    assert.equal(r.failure?.kind, 'durability');
    assert.equal(r.failure?.op, 3);
  });

  it('at remount, mount-older-slot loses only unsynced data and commit-noop synced data too (replayed logs)', () => {
    const log = (ops: { op: string; off: number; len: number }[]) => validateOpLog({
      format: 'iomap-harness-oplog', version: 4, adapter: '', geometry: { blockSize: 4096, pageSize: 4096 }, seed: 1, ops,
    }, 'remount.json');
    const synced = log([{ op: 'write', off: 0, len: 5000 }, { op: 'fsync', off: 0, len: 0 }, { op: 'remount', off: 0, len: 0 }]);
    // The unsynced write allocates and extends (an overwrite in place would change no metadata).
    const unsynced = log([{ op: 'write', off: 0, len: 5000 }, { op: 'fsync', off: 0, len: 0 }, { op: 'write', off: 8192, len: 1000 }, { op: 'remount', off: 0, len: 0 }]);
    const replayFs = (defect: string | undefined, l: ReturnType<typeof log>) => {
      const a = loadAdapter(fsSpec(defect), {});
      return replay(a, l);
    };
    assert.equal(replayFs(undefined, unsynced).failure, null, 'the correct server keeps everything');
    assert.equal(replayFs('mount-older-slot', synced).failure, null, 'mount-older-slot keeps what fsync committed');
    assert.equal(replayFs('mount-older-slot', unsynced).failure?.kind, 'durability', 'mount-older-slot loses the unsynced write');
    const noop = replayFs('commit-noop', synced);
    assert.equal(noop.failure?.kind, 'durability', 'commit-noop loses the synced write');
    assert.equal(noop.failure?.op, 3);
  });
});
