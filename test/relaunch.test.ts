/**
 * bin/iomap-harness.js relaunches the commands that run a target in a child Node with a small
 * young generation (cli/relaunch.ts): the child has the flag, the launcher ends as the child ended
 * (exit code or signal), signals reach the child, and nothing is left running.
 */
import { strict as assert } from 'assert';
import { spawn, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { childCommand, COMPILER_FLAGS, compilerFlags, relaunchFlags, SEMI_SPACE_FLAG, SINGLE_THREADED, wantsRelaunch } from '../cli/relaunch';

const BIN = path.resolve(__dirname, '..', '..', 'bin', 'iomap-harness.js');

describe('relaunch with a small young generation (cli/relaunch.ts)', () => {
  let tmp: string;
  let probe: string;
  before(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'iomap-relaunch-test-'));
    // Preloaded into every Node process: its pid and flags, at start.
    probe = path.join(tmp, 'probe.js');
    fs.writeFileSync(probe, "process.stderr.write('NODE_PROCESS ' + process.pid + ' ' + JSON.stringify(process.execArgv.slice(2)) + '\\n');\n");
  });
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  /** The flags of every Node process of one CLI run, from the probe's lines. */
  const flagsOf = (stderr: string): string[][] => [...stderr.matchAll(/^NODE_PROCESS \d+ (.*)$/gm)].map((m) => JSON.parse(m[1]) as string[]);

  /** A launcher running a long fsx, once its child runs (the child's probe line): both, to signal the launcher only. */
  async function longRun(): Promise<{ c: ReturnType<typeof spawn>; childPid: number }> {
    const c = spawn(process.execPath, ['--require', probe, BIN, 'fsx', '--adapter', 'naive', '-N', '100000000', '-q'], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    c.stderr!.on('data', (d: Buffer) => {
      err += d.toString();
    });
    while (flagsOf(err).length < 2) await new Promise((r) => setTimeout(r, 50));
    return { c, childPid: Number(err.split('\n').find((l) => l.includes(SEMI_SPACE_FLAG))!.split(' ')[1]) };
  }

  it('chooses the commands that run a target, unless Node flags or the environment say otherwise', () => {
    assert.equal(wantsRelaunch(['fsx', '-N', '10'], [], {}), true);
    for (const c of ['diff', 'check', 'replay', 'shrink', 'campaign']) assert.equal(wantsRelaunch([c], [], {}), true, c);
    for (const c of ['list', 'explain', 'report', 'init-adapter', 'scratch', 'help']) assert.equal(wantsRelaunch([c], [], {}), false, c);
    assert.equal(wantsRelaunch([], [], {}), false);
    assert.equal(wantsRelaunch(['fsx', '--help'], [], {}), false);
    assert.equal(wantsRelaunch(['fsx'], [SEMI_SPACE_FLAG, SINGLE_THREADED], {}), false, 'the child itself');
    assert.equal(wantsRelaunch(['fsx'], ['--inspect-brk'], {}), false);
    assert.equal(wantsRelaunch(['fsx'], [], { NODE_OPTIONS: '--max-semi-space-size=8 --no-single-threaded' }), false);
    assert.equal(wantsRelaunch(['fsx'], [], { IOMAP_HARNESS_RELAUNCH: '0' }), false);
  });

  it('runs V8 without helper threads unless the user chose its threading', () => {
    assert.deepEqual(relaunchFlags(['fsx', '-N', '100', '-j', '2'], [], {}), [SEMI_SPACE_FLAG, SINGLE_THREADED]);
    assert.deepEqual(relaunchFlags(['fsx', '-N', '100'], [], {}), [SEMI_SPACE_FLAG, SINGLE_THREADED], 'one worker: this thread');
    assert.deepEqual(relaunchFlags(['check'], [], {}), [SEMI_SPACE_FLAG, SINGLE_THREADED]);
    assert.deepEqual(relaunchFlags(['fsx', '-j', '2'], ['--single-threaded-gc'], {}), [SEMI_SPACE_FLAG], 'the user chose V8 threading');
    assert.deepEqual(relaunchFlags(['fsx'], [], { NODE_OPTIONS: '--no-single-threaded' }), [SEMI_SPACE_FLAG], 'helper threads asked for');
    assert.deepEqual(relaunchFlags(['fsx'], [SEMI_SPACE_FLAG], {}), [SINGLE_THREADED], 'only what is missing');
  });

  it('tunes V8\'s compiler for the commands that run a target, unless the user set the flag or V8 is unknown', () => {
    assert.deepEqual(compilerFlags(['fsx', '-N', '10'], [], {}, '11.3.244.8-node.33'), [...COMPILER_FLAGS]);
    assert.deepEqual(compilerFlags(['check'], [], {}, '12.4.254.21-node.33'), [...COMPILER_FLAGS]);
    assert.deepEqual(compilerFlags(['list'], [], {}, '11.3.244.8'), [], 'a command that runs no target');
    assert.deepEqual(compilerFlags([], [], {}, '11.3.244.8'), []);
    assert.deepEqual(compilerFlags(['fsx'], ['--interrupt-budget=1000'], {}, '11.3.244.8'), [COMPILER_FLAGS[1]], 'the user\'s budget stays');
    assert.deepEqual(compilerFlags(['fsx'], [], { NODE_OPTIONS: '--max_inlined_bytecode_size_cumulative=50' }, '11.3.244.8'), [COMPILER_FLAGS[0]]);
    assert.deepEqual(compilerFlags(['fsx'], [], {}, '9.4.146.26'), [], 'a V8 these flags were not measured on');
    assert.deepEqual(compilerFlags(['fsx'], [], {}, '14.0.1'), []);
  });

  it('runs fsx in a child with the flag; stdout and the exit code are the child\'s', () => {
    const r = spawnSync(process.execPath, ['--require', probe, BIN, 'fsx', '--adapter', 'naive', '-N', '200', '-q', '--json'], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(flagsOf(r.stderr), [[], [SEMI_SPACE_FLAG, SINGLE_THREADED]], 'the launcher, then its child with the flags');
    assert.equal(JSON.parse(r.stdout.trim().split('\n').pop()!).ops, 200);
    // A bad flag (exit 2, one line) through the launcher: test/cli.test.ts 'runs as a child process'.
    const crash = spawnSync(process.execPath, [BIN, 'fsx', '--adapter', `exec:${process.execPath} -e process.exit(1)`, '-N', '10', '-q'], { encoding: 'utf8' });
    assert.equal(crash.status, 3, crash.stderr);
  });

  it('run as a program (npm\'s bin link), sh starts Node with the flag at once: one process, no launcher', () => {
    const bare = path.join(tmp, 'bare-probe.js');
    fs.writeFileSync(bare, "process.stderr.write('NODE_PROCESS ' + process.pid + ' ' + JSON.stringify(process.execArgv) + '\\n');\n");
    const env = { ...process.env, NODE_OPTIONS: `--require ${bare}`, PATH: `${path.dirname(process.execPath)}:${process.env.PATH ?? ''}` };
    const r = spawnSync(BIN, ['fsx', '--adapter', 'naive', '-N', '200', '-q', '--json'], { encoding: 'utf8', env });
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(flagsOf(r.stderr), [[SEMI_SPACE_FLAG, SINGLE_THREADED]], 'one Node process, started with the flags');
    assert.equal(JSON.parse(r.stdout.trim().split('\n').pop()!).ops, 200);
    assert.ok(fs.readFileSync(BIN, 'utf8').split('\n')[1].includes(`${SEMI_SPACE_FLAG} ${SINGLE_THREADED}`), 'the sh line and the relaunch flags agree');
    assert.equal(relaunchFlags(['fsx', '-j', '2'], [SEMI_SPACE_FLAG, SINGLE_THREADED], {}), null, 'so the program form needs no relaunch');
  });

  it('passes SIGTERM on: the child ends, the launcher is killed by the same signal', async () => {
    const { c, childPid } = await longRun();
    c.kill('SIGTERM');
    const [code, signal] = await new Promise<[number | null, string | null]>((r) => c.on('exit', (a, b) => r([a, b])));
    assert.deepEqual([code, signal], [null, 'SIGTERM']);
    assert.throws(() => process.kill(childPid, 0), /ESRCH/, 'the child is gone');
  });

  it('starts the child through setpriv --pdeathsig where Linux has it, else node directly', () => {
    assert.deepEqual(childCommand('/n', ['a', 'b'], (p) => p === '/usr/bin/setpriv', 'linux'), ['/usr/bin/setpriv', ['--pdeathsig', 'TERM', '--', '/n', 'a', 'b']]);
    assert.deepEqual(childCommand('/n', ['a'], () => false, 'linux'), ['/n', ['a']]);
    assert.deepEqual(childCommand('/n', ['a'], () => true, 'darwin'), ['/n', ['a']]);
  });

  it('a launcher killed with SIGKILL (which it cannot pass on) takes its child with it', async function () {
    if (childCommand('node', [])[0] === 'node') {
      process.stderr.write('      skipped: no setpriv on this system (the child would outlive a SIGKILLed launcher)\n');
      this.skip();
    }
    const { c, childPid } = await longRun();
    c.kill('SIGKILL');
    await new Promise((r) => c.on('exit', r));
    // Gone, or a zombie its new parent has not reaped yet: either way it no longer runs.
    const running = (): boolean => {
      try {
        return !/^\d+ \(.*\) Z/.test(fs.readFileSync(`/proc/${childPid}/stat`, 'utf8'));
      } catch {
        return false;
      }
    };
    for (let i = 0; i < 40 && running(); i++) await new Promise((r) => setTimeout(r, 50));
    const alive = running();
    if (alive) process.kill(childPid, 'SIGKILL');
    assert.equal(alive, false, 'the child still runs after its launcher was killed');
  });
});
