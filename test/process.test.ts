/**
 * Out-of-process targets (adapters/process, docs/protocol.md): the JSON-lines transport, the
 * handshake, every way a server can misbehave (each a one-line TargetError naming the last
 * request, the child killed and reaped), and the two example servers under random operation
 * sequences with a byte-array oracle and the contract monitor on.
 */
import { strict as assert } from 'assert';
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { loadExecAdapter, splitCommandLine, ProcessFsFileAdapter, ServerPool } from '../adapters/process';
import { registryEnv, runSuite, suiteByName } from '../properties/suites/index';
import { TargetError, ProtocolError } from '../adapters/process/errors';
import { ProcessFileAdapter } from '../adapters/process/file-client';
import { ProcessFsAdapter, devicePath } from '../adapters/process/fs-client';
import { ProcessTransport, describeRequest } from '../adapters/process/transport';
import { AdapterSpecError, loadAdapter } from '../adapters/registry';
import { mountWithMonitor } from '../adapters/reference';
import type { FileAdapter } from '../adapters/types';
import { main } from '../cli/main';
import { TargetError as EngineTargetError, runFsx } from '../properties/fsx/engine';
import { defaultOptions, FsxOptions } from '../properties/fsx/generator';
import { OP_CRASH, OP_FAULT_READ, OP_REMOUNT, OP_FAULT_WRITE } from '../properties/fsx/ops';
import { ContractViolation, ContractMonitor } from '../properties/contract/monitor';
import { FileDevice } from '../reference/device/file';
import { MemoryDevice } from '../reference/device/memory';
import { FsError } from '../reference/errno';
import type { FileHandle, IomapFs } from '../reference/file';
import { inProcess as cli } from './support/bin';

const ROOT = path.resolve(__dirname, '..', '..');
const FS_SERVER = path.join(ROOT, 'examples', 'fs-server.py');
const FILE_SERVER = path.join(ROOT, 'examples', 'file-server.py');
const PY = 'python3';

function havePython(): boolean {
  try {
    execFileSync(PY, ['-c', 'import sys; sys.exit(0 if sys.version_info >= (3, 6) else 1)'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/**
 * A server that behaves (minimally) until told to misbehave on one method: argv[1] is a JSON file
 * {"level", "protocol", "hello": {...extra hello fields}, "ops": [...], "on": {METHOD: ACTION},
 * "log": FILE (every request line is appended to it)}.
 * ACTION: {"do": "exit", "code"} | {"do": "signal"} | {"do": "hang", "childPidFile"?} |
 * {"do": "raw", "line"} | {"do": "bytes", "b64"} (raw bytes, $ID in them replaced) | {"do": "wrong-id"} |
 * {"do": "result", "result"} | {"do": "error", "error"}. A binary frame from the harness (feature
 * "binary", when "hello" lists it under "features") is read and becomes params.data (base64).
 */
const BAD_SERVER = String.raw`
import base64, json, os, signal, subprocess, sys, time
cfg = json.load(open(sys.argv[1]))
level = cfg.get("level", "file")
rules = cfg.get("on", {})
def default(m, p):
    if m == "hello":
        caps = {"ops": cfg.get("ops", [])} if level == "fs" else {}
        r = {"protocol": cfg.get("protocol", 1), "name": "bad", "level": level, "capabilities": caps, "geometry": {"blockSize": 4096}}
        r.update(cfg.get("hello", {}))
        return r
    if m in ("mkfs", "mount"): return {"blockSize": 4096}
    if m == "lookup": return {"ino": None}
    if m == "create": return {"ino": 1}
    if m == "load_inode": return {"size": 0}
    if m in ("iomap_begin", "map_blocks"):
        pos = p.get("pos", p.get("offset", 0)) // 4096 * 4096
        return {"iomap": {"offset": pos, "length": 4096, "type": 0, "addr": "18446744073709551615"}}
    if m == "size": return {"size": 0}
    if m == "pread": return {"data": ""}
    if m == "pwrite": return {"written": len(base64.b64decode(p["data"]))}
    if m == "iomap_valid": return {"valid": True}
    return {}
def requests():
    inp = sys.stdin.buffer
    while True:
        raw = inp.readline()
        if not raw:
            return
        if raw.startswith(b"#"):
            data = inp.read(int(raw[1:]))
            inp.read(1)
            raw = inp.readline()
            req = json.loads(raw)
            req.setdefault("params", {})["data"] = base64.b64encode(data).decode()
            yield raw.decode(), req
        elif raw.strip():
            yield raw.decode(), json.loads(raw)
for raw, req in requests():
    rid, m, p = req["id"], req["method"], req.get("params") or {}
    if "log" in cfg:
        with open(cfg["log"], "a") as f:
            f.write(raw if raw.endswith("\n") else raw + "\n")
    if m == "bye":
        print(json.dumps({"id": rid, "result": {}}), flush=True)
        break
    act = rules.get(m)
    out = {"id": rid, "result": default(m, p)}
    if act is not None:
        a = act["do"]
        if a == "exit":
            sys.stderr.write("bad server: exiting on %s\n" % m)
            sys.stderr.flush()
            os._exit(act.get("code", 3))
        if a == "signal":
            os.kill(os.getpid(), signal.SIGKILL)
        if a == "hang":
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            if "childPidFile" in act:
                c = subprocess.Popen(["sleep", "3600"])
                with open(act["childPidFile"], "w") as f:
                    f.write(str(c.pid))
            time.sleep(3600)
        if a == "raw":
            sys.stdout.write(act["line"].replace("$ID", str(rid)) + "\n")
            sys.stdout.flush()
            continue
        if a == "bytes":
            sys.stdout.buffer.write(base64.b64decode(act["b64"]).replace(b"$ID", str(rid).encode()))
            sys.stdout.flush()
            continue
        if a == "wrong-id": out = {"id": rid + 1, "result": default(m, p)}
        if a == "result": out = {"id": rid, "result": act["result"]}
        if a == "error": out = {"id": rid, "error": act["error"]}
    print(json.dumps(out), flush=True)
`;

/** A process is gone (not even a zombie). */
function reaped(pid: number): boolean {
  return pid > 0 && !fs.existsSync(`/proc/${pid}`);
}

/** Processes whose parent is this one (servers are spawned by worker threads of this process). */
function children(): string[] {
  const out: string[] = [];
  for (const d of fs.readdirSync('/proc')) {
    if (!/^[0-9]+$/.test(d)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${d}/stat`, 'utf8');
      const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(rest[1]) !== process.pid) continue;
      // Not ours: a scratch:TYPE adapter used by another test file in this mocha process leaves its
      // reaper running until the process ends (adapters/host/scratch-adapter.ts startReaper).
      if (fs.readFileSync(`/proc/${d}/cmdline`, 'utf8').includes('scratch-reaper')) continue;
      out.push(`${d} ${stat.slice(stat.indexOf('('), stat.lastIndexOf(')') + 1)} ${rest[0]}`);
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

/** A process is gone or a zombie (an orphan's reaping belongs to init). */
function deadOrZombie(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] === 'Z';
  } catch {
    return true;
  }
}

function expectTarget(fn: () => unknown, kind: string, re: RegExp): TargetError {
  try {
    fn();
  } catch (e) {
    if (!(e instanceof TargetError)) throw e;
    assert.equal(e.kind, kind, e.message);
    assert.match(e.message, re);
    assert.ok(!e.message.includes('\n'), `one line: ${e.message}`);
    assert.ok(e instanceof EngineTargetError, 'the CLI maps it to exit code 3');
    assert.ok(!(e instanceof FsError));
    return e;
  }
  assert.fail(`expected a TargetError (${kind})`);
}

function expectProtocol(fn: () => unknown, re: RegExp): ProtocolError {
  try {
    fn();
  } catch (e) {
    if (!(e instanceof ProtocolError)) throw e;
    assert.match(e.message, re);
    assert.ok(e instanceof AdapterSpecError, 'the CLI maps it to exit code 2');
    assert.ok(!e.message.includes('\n'));
    return e;
  }
  assert.fail('expected a ProtocolError');
}

/** A tiny deterministic PRNG (xorshift32). */
class Rng {
  private x: number;
  constructor(seed: number) {
    this.x = (seed * 2654435761) >>> 0 || 1;
  }
  next(): number {
    let x = this.x;
    x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
    this.x = x;
    return x;
  }
  below(n: number): number {
    return this.next() % n;
  }
  bytes(n: number): Uint8Array {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) out[i] = (this.next() & 0xff) | 1;
    return out;
  }
}

function capture(): { out: (l: string) => void; err: (l: string) => void; lines: string[] } {
  const lines: string[] = [];
  return { lines, out: (l) => lines.push(l), err: (l) => lines.push(l) };
}

function fsxOpts(over: Partial<FsxOptions>): FsxOptions {
  return { ...defaultOptions(), quiet: true, ...over };
}

const python = havePython();

(python ? describe : describe.skip)('out-of-process targets (protocol 1)', function () {
  this.timeout(120000);
  let tmp: string;
  let bad: string;
  let seq = 0;

  before(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'iomap-process-test-'));
    bad = path.join(tmp, 'bad-server.py');
    fs.writeFileSync(bad, BAD_SERVER);
  });
  after(() => {
    fs.rmSync(tmp, { recursive: true, force: true });
    assert.deepEqual(children(), [], 'no server process is left behind (running or zombie)');
  });

  /** Closers of what a test opened, run after it whether it passed or not. */
  const cleanup: Array<() => void> = [];
  afterEach(() => {
    while (cleanup.length) {
      try {
        cleanup.pop()!();
      } catch {
        // closing is best effort here; the leftover-process check in after() has the last word
      }
    }
  });
  function closeLater<T extends { close(): void }>(x: T): T {
    cleanup.push(() => x.close());
    return x;
  }

  /** argv of the bad server with this configuration. */
  function badArgs(cfg: Record<string, unknown>): string[] {
    const p = path.join(tmp, `cfg-${++seq}.json`);
    fs.writeFileSync(p, JSON.stringify(cfg));
    return [bad, p];
  }

  function scratch(): string {
    return fs.mkdtempSync(path.join(tmp, 'scratch-'));
  }

  /** A device image file for an fs-level server. */
  function device(size = 256 * 2 ** 20): FileDevice {
    return FileDevice.open(path.join(scratch(), 'device.img'), { create: { size } });
  }

  describe('command lines and requests', () => {
    it('splits exec: command lines like a simple shell', () => {
      assert.deepEqual(splitCommandLine('python3 examples/fs-server.py'), ['python3', 'examples/fs-server.py']);
      assert.deepEqual(splitCommandLine("  a  'b c'  \"d \\\"e\\\" f\" g\\ h ''"), ['a', 'b c', 'd "e" f', 'g h', '']);
      assert.deepEqual(splitCommandLine('x"y z"w'), ['xy zw']);
      assert.deepEqual(splitCommandLine(''), []);
      assert.throws(() => splitCommandLine("a 'b"), (e: Error) => e instanceof AdapterSpecError && /unbalanced single quote/.test(e.message));
      assert.throws(() => splitCommandLine('a "b'), /unbalanced double quote/);
      assert.throws(() => splitCommandLine('a \\'), /backslash at the end/);
      assert.throws(() => loadAdapter('exec:'), /exec: needs a command/);
      assert.throws(() => loadAdapter('exec:   '), /exec: needs a command/);
    });

    it('names requests shortly in errors, with data elided', () => {
      assert.equal(describeRequest(3, 'size', undefined), '#3 size');
      const d = describeRequest(4, 'pwrite', { off: 1, data: 'A'.repeat(1000) });
      assert.equal(d, '#4 pwrite {"off":1,"data":"<1000 base64 chars>"}');
      assert.ok(describeRequest(5, 'x', { s: 'y'.repeat(500) }).length < 180);
    });
  });

  describe('handshake', () => {
    it('refuses another protocol version with an exit-2 error and reaps the server', () => {
      const e = expectProtocol(() => ProcessFileAdapter.start(PY, badArgs({ protocol: 2 }), scratch()),
        /protocol version mismatch: the server speaks protocol 2, this harness speaks protocol 1/);
      assert.ok(e.name === 'ProtocolError');
      const before = fs.readdirSync(tmp).length;
      expectProtocol(() => loadExecAdapter(`${PY} ${badArgs({ protocol: 7 }).join(' ')}`, { scratch: tmp }), /speaks protocol 7/);
      assert.equal(fs.readdirSync(tmp).length, before + 1, 'only the config file is new: the scratch directory was removed');
    });

    it('refuses a server of the other level, a refused hello, and a command that cannot run', () => {
      expectProtocol(() => ProcessFsAdapter.start(PY, [FILE_SERVER], { scratch: scratch() }),
        /is a file-level server, the harness asked for the fs level/);
      expectProtocol(() => ProcessFileAdapter.start(PY, badArgs({ level: 'fs' }), scratch()),
        /is a fs-level server, the harness asked for the file level/);
      expectProtocol(() => ProcessFileAdapter.start(PY, badArgs({ on: { hello: { do: 'error', error: { errno: 'EINVAL', message: 'I speak protocol 9 only' } } } }), scratch()),
        /refused the handshake .*I speak protocol 9 only/);
      expectProtocol(() => new ProcessTransport(path.join(tmp, 'no-such-server'), []), /cannot run .*no-such-server.*ENOENT/);
      expectProtocol(() => loadAdapter(`exec:${path.join(tmp, 'no-such-server')} --flag`), /^adapter exec:.*no-such-server --flag: cannot run/);
    });

    it('a server that dies or answers nonsense at hello is a TargetError', () => {
      const e = expectTarget(() => ProcessFileAdapter.start(PY, badArgs({ on: { hello: { do: 'exit', code: 4 } } }), scratch()),
        'crash', /the server died \(exit code 4; last stderr line: bad server: exiting on hello\) \(last request: #0 hello/);
      assert.equal(e.request.startsWith('#0 hello'), true);
      expectTarget(() => ProcessFileAdapter.start(PY, badArgs({ hello: { name: 42 } }), scratch()), 'bad-value', /result\.name must be a string/);
      expectTarget(() => ProcessFileAdapter.start(PY, badArgs({ hello: { protocol: 'one' } }), scratch()), 'bad-value', /result\.protocol must be an integer/);
      expectTarget(() => ProcessFileAdapter.start(PY, ['-c', 'import sys; sys.exit(5)'], scratch()), 'crash', /exit code 5/);
    });
  });

  describe('a misbehaving file-level server', () => {
    const cases: Array<{ what: string; on: Record<string, unknown>; kind: string; re: RegExp; timeoutMs?: number }> = [
      { what: 'exits', on: { do: 'exit', code: 7 }, kind: 'crash', re: /the server died \(exit code 7; last stderr line: bad server: exiting on pread\) \(last request: #\d+ pread \{"off":0,"len":4\}\)$/ },
      { what: 'is killed by a signal', on: { do: 'signal' }, kind: 'crash', re: /the server died \(killed by SIGKILL\) \(last request: #\d+ pread/ },
      { what: 'hangs', on: { do: 'hang' }, kind: 'hang', re: /the server did not answer within 300 ms \(last request: #\d+ pread/, timeoutMs: 300 },
      { what: 'prints a line that is not JSON', on: { do: 'raw', line: 'debug: reading 4 bytes' }, kind: 'malformed', re: /malformed reply line "debug: reading 4 bytes" \(not JSON\) \(last request: #\d+ pread/ },
      { what: 'prints JSON that is not an object', on: { do: 'raw', line: '[1, 2]' }, kind: 'malformed', re: /not a JSON object/ },
      { what: 'answers another id', on: { do: 'wrong-id' }, kind: 'wrong-id', re: /reply with id (\d+) to request #\d+ \(last request: #\d+ pread/ },
      { what: 'answers a request it was not asked', on: { do: 'raw', line: '{"id": 999, "result": {}}' }, kind: 'wrong-id', re: /reply with id 999/ },
      { what: 'sends neither result nor error', on: { do: 'raw', line: '{"id": $ID}' }, kind: 'malformed', re: /must have exactly one of "result" and "error"/ },
      { what: 'sends both result and error', on: { do: 'raw', line: '{"id": $ID, "result": {}, "error": {"errno": "EIO"}}' }, kind: 'malformed', re: /exactly one of/ },
      { what: 'returns more bytes than asked', on: { do: 'result', result: { data: Buffer.from('0123456789').toString('base64') } }, kind: 'bad-value', re: /result\.data holds 10 bytes, at most 4/ },
      { what: 'returns bad base64', on: { do: 'result', result: { data: '@@@@' } }, kind: 'bad-value', re: /result\.data is not valid base64/ },
      { what: 'returns data that is not a string', on: { do: 'result', result: { data: 17 } }, kind: 'bad-value', re: /result\.data must be a string, got 17/ },
      { what: 'returns an unknown errno', on: { do: 'error', error: { errno: 'EWHATEVER', message: 'x' } }, kind: 'bad-value', re: /error\.errno "EWHATEVER" is not an errno name/ },
      { what: 'returns an error without errno', on: { do: 'error', error: { message: 'x' } }, kind: 'bad-value', re: /error\.errno is missing/ },
      { what: 'returns a result that is not an object', on: { do: 'result', result: 'fine' }, kind: 'bad-value', re: /result must be an object/ },
    ];
    for (const c of cases) {
      it(`${c.what}: TargetError (${c.kind}) naming the request, child reaped, later calls fail at once`, () => {
        const a = closeLater(ProcessFileAdapter.start(PY, badArgs({ on: { pread: c.on } }), scratch()));
        if (c.timeoutMs !== undefined) a.transport.timeoutMs = c.timeoutMs;
        const pid = a.transport.pid;
        const t = a.open();
        assert.equal(t.size(), 0);
        const t0 = performance.now();
        const e = expectTarget(() => t.pread(0, 4), c.kind, c.re);
        assert.ok(performance.now() - t0 < 8000, 'never waits past the timeout and the kill');
        assert.match(e.request, /^#\d+ pread/);
        assert.ok(reaped(pid), `server ${pid} was killed and reaped`);
        const dead = expectTarget(() => t.size(), 'dead', /the server is gone after an earlier failure/);
        assert.equal(dead.request, e.request);
        a.close();
        a.close();
      });
    }

    it('replies are read by the calling thread (direct) by default on Linux; the manager thread still serves them when told', () => {
      const a = closeLater(ProcessFileAdapter.start(PY, [FILE_SERVER], scratch()));
      assert.equal(a.transport.direct, process.platform === 'linux');
      const saved = process.env.IOMAP_HARNESS_EXEC_REPLIES;
      process.env.IOMAP_HARNESS_EXEC_REPLIES = 'manager';
      try {
        const m = closeLater(ProcessFileAdapter.start(PY, [FILE_SERVER], scratch()));
        assert.equal(m.transport.direct, false);
        for (const x of [a, m]) {
          const t = x.open();
          const data = new Rng(3).bytes(300000);
          assert.equal(t.pwrite(5, data), data.length);
          assert.deepEqual(Buffer.from(t.pread(5, data.length)), Buffer.from(data), 'a reply larger than one read of the pipe');
          assert.equal(t.size(), 300005);
        }
        const hung = closeLater(ProcessFileAdapter.start(PY, badArgs({ on: { pread: { do: 'hang' } } }), scratch()));
        hung.transport.timeoutMs = 300;
        expectTarget(() => hung.open().pread(0, 4), 'hang', /did not answer within 300 ms/);
      } finally {
        if (saved === undefined) delete process.env.IOMAP_HARNESS_EXEC_REPLIES;
        else process.env.IOMAP_HARNESS_EXEC_REPLIES = saved;
      }
    });

    it('kills the whole process group of a hung server (its children too)', () => {
      const pidFile = path.join(tmp, 'grandchild.pid');
      const a = closeLater(ProcessFileAdapter.start(PY, badArgs({ on: { pread: { do: 'hang', childPidFile: pidFile } } }), scratch()));
      a.transport.timeoutMs = 500;
      const t = a.open();
      expectTarget(() => t.pread(0, 1), 'hang', /did not answer within 500 ms/);
      assert.ok(reaped(a.transport.pid));
      const g = Number(fs.readFileSync(pidFile, 'utf8'));
      const deadline = Date.now() + 3000;
      while (!deadOrZombie(g) && Date.now() < deadline) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20);
      assert.ok(deadOrZombie(g), `grandchild ${g} was killed`);
      a.close();
    });

    it('a server that ignores bye and stdin EOF is killed at close; a clean one exits by itself', () => {
      const a = ProcessFileAdapter.start(PY, badArgs({ on: { bye: { do: 'hang' } } }), scratch());
      a.transport.timeoutMs = 300;
      const pid = a.transport.pid;
      const t0 = performance.now();
      a.close();
      assert.ok(reaped(pid));
      assert.ok(performance.now() - t0 < 6000);
      const b = ProcessFileAdapter.start(PY, badArgs({}), scratch());
      b.close();
      assert.ok(reaped(b.transport.pid));
    });
  });

  describe('a misbehaving fs-level server', () => {
    const ALL_OPS = ['iomap_end'];
    /** Mount the bad server under the generic layer and write one byte (one ->iomap_begin). */
    function writeThrough(on: Record<string, unknown>, extra: Record<string, unknown> = {}): { fsa: ProcessFsAdapter; run: () => unknown } {
      const fsa = closeLater(ProcessFsAdapter.start(PY, badArgs({ level: 'fs', ops: ALL_OPS, on: { iomap_begin: on }, ...extra }), { timeoutMs: 5000 }));
      const dev = device(64 * 2 ** 20);
      fsa.mkfs(dev, { blockSize: 4096 });
      const { fsys } = mountWithMonitor(fsa, dev, 65536, true);
      const fh = fsys.open('f', { create: true });
      return { fsa, run: () => fh.pwrite(0, new Uint8Array([1])) };
    }
    const mapping = (m: Record<string, unknown>) => ({ do: 'result', result: { iomap: { offset: 0, length: 4096, type: 2, addr: 1 << 20, ...m } } });
    const cases: Array<[string, Record<string, unknown>, RegExp]> = [
      ['a negative length', mapping({ length: -4096 }), /result\.iomap\.length must be a u64 .*got -4096 \(last request: #\d+ iomap_begin \{"ino":1,"isize":0,"pos":0,"length":1,"flags":1\}\)/],
      ['a fractional offset', mapping({ offset: 0.5 }), /result\.iomap\.offset must be a u64/],
      ['a type out of range', mapping({ type: 9 }), /result\.iomap\.type 9 is not a mapping type/],
      ['a type name that does not exist', mapping({ type: 'SPARSE' }), /iomap\.type "SPARSE" is not a mapping type/],
      ['an address that is not a number', mapping({ addr: 'abc' }), /result\.iomap\.addr must be a u64 .*got "abc"/],
      ['an address object', mapping({ addr: { hi: 1 } }), /result\.iomap\.addr must be a u64/],
      ['an address past 64 bits', mapping({ addr: '18446744073709551616' }), /does not fit in 64 bits/],
      ['an address past 2^53', mapping({ addr: '9007199254740993' }), /beyond 2\^53, which the model cannot address/],
      ['flags past 16 bits', mapping({ flags: 0x10000 }), /result\.iomap\.flags 65536 is out of range \[0, 65535\]/],
      ['INLINE without inline data', mapping({ type: 'INLINE' }), /protocol 1 does not carry inline data/],
      ['no iomap at all', { do: 'result', result: {} }, /result\.iomap is missing/],
      ['an unknown errno', { do: 'error', error: { errno: 'ENOTAREALERRNO', message: 'x' } }, /error\.errno "ENOTAREALERRNO"/],
    ];
    for (const [what, on, re] of cases) {
      it(`iomap_begin with ${what}: TargetError naming the request`, () => {
        const { fsa, run } = writeThrough(on);
        const pid = fsa.transport.pid;
        expectTarget(run, 'bad-value', re);
        assert.ok(reaped(pid));
        fsa.close();
      });
    }

    it('values that are well formed but break the contract are the monitor\'s (ContractViolation, not TargetError)', () => {
      const { fsa, run } = writeThrough(mapping({ type: 'HOLE', addr: 0 }));
      assert.throws(run, (e: unknown) => e instanceof ContractViolation && e.rule === 'R05');
      assert.ok(fsa.alive, 'the server is fine; the filesystem it implements is not');
      fsa.close();
      const w = writeThrough(mapping({ type: 'HOLE', addr: '18446744073709551615' }));
      assert.throws(w.run, (e: unknown) => e instanceof ContractViolation && e.rule === 'R11');
      w.fsa.close();
      // (u64)-1 as an address is IOMAP_NULL_ADDR: a MAPPED mapping with it breaks R05.
      const n = writeThrough(mapping({ addr: '18446744073709551615' }));
      assert.throws(n.run, (e: unknown) => e instanceof ContractViolation && e.rule === 'R05');
      n.fsa.close();
    });

    it('round trip: the server\'s mapping comes back verbatim (cookie, private, u64 strings) with the core\'s flags', () => {
      const log = path.join(tmp, `requests-${++seq}.jsonl`);
      const m = { offset: 0, length: '8192', addr: '1048576', type: 'MAPPED', flags: 0, cookie: 'c-17', private: { k: [1, 2], s: 'x' } };
      const { fsa, run } = writeThrough({ do: 'result', result: { iomap: m } }, { log, ops: ['iomap_end', 'iomap_valid'] });
      assert.equal(run(), 1);
      const reqs = fs.readFileSync(log, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
      assert.deepEqual(reqs.map((r) => r.method), ['hello', 'mkfs', 'mount', 'lookup', 'create', 'load_inode', 'iomap_begin', 'iomap_valid', 'iomap_end']);
      assert.deepEqual(reqs.map((r) => r.id), [0, 1, 2, 3, 4, 5, 6, 7, 8]);
      assert.equal(reqs[0].protocol, 1);
      assert.equal(reqs[0].level, 'fs');
      assert.deepEqual(reqs[6].params, { ino: 1, isize: 0, pos: 0, length: 1, flags: 1 });
      assert.deepEqual(reqs[7].params, { ino: 1, isize: 0, iomap: m });
      // iomap_end: the same object, flags now carrying IOMAP_F_SIZE_CHANGED (0x100) from the core.
      assert.deepEqual(reqs[8].params, { ino: 1, isize: 1, pos: 0, length: 1, written: 1, flags: 1, iomap: { ...m, flags: 0x100 } });
      fsa.close();
    });

    it('a short write into new DELALLOC: the harness runs the delalloc release and asks the server to punch the clean tail', () => {
      const log = path.join(tmp, `requests-${++seq}.jsonl`);
      const m = { offset: 0, length: 16384, type: 'DELALLOC', flags: 1 };
      const fsa = closeLater(ProcessFsAdapter.start(PY, badArgs({ level: 'fs', ops: ['punch_delalloc', 'iomap_end'], on: { iomap_begin: { do: 'result', result: { iomap: m } } }, log })));
      const dev = device(64 * 2 ** 20);
      fsa.mkfs(dev, { blockSize: 4096 });
      const { fsys } = mountWithMonitor(fsa, dev, 65536, true);
      const fh = fsys.open('f', { create: true });
      assert.equal(fh.pwrite(0, new Uint8Array(10000).fill(3), { faultAt: 5000 }), 5000);
      const reqs = fs.readFileSync(log, 'utf8').trim().split('\n').map((l) => JSON.parse(l)).filter((r) => r.id > 5);
      // The copy stops at 5000; the core retries the rest, which copies nothing.
      assert.deepEqual(reqs.map((r) => r.method), ['iomap_begin', 'punch_delalloc', 'iomap_end', 'iomap_begin', 'punch_delalloc', 'iomap_end']);
      // Blocks [8192, 12288) were reserved for bytes the write never copied and are clean: punched.
      const m1 = { ...m, flags: 0x101 };
      assert.deepEqual(reqs[1].params, { ino: 1, isize: 5000, offset: 8192, length: 4096, iomap: m1 });
      assert.deepEqual(reqs[2].params, { ino: 1, isize: 5000, pos: 0, length: 10000, written: 5000, flags: 1, iomap: m1 });
      // The retry: nothing written, punch from the end of the dirty data (i_size, not block aligned:
      // the server must round it up, block 1 holds dirty bytes) to the end of the reservation.
      assert.deepEqual(reqs[4].params, { ino: 1, isize: 5000, offset: 5000, length: 7288, iomap: m });
      assert.equal(reqs[5].params.written, 0);
    });

    it('an errno from iomap_begin is the callback\'s -errno (the write fails with it)', () => {
      const { fsa, run } = writeThrough({ do: 'error', error: { errno: 'ENOSPC', message: 'disk full' } });
      assert.throws(run, (e: unknown) => e instanceof FsError && e.code === 'ENOSPC');
      fsa.close();
    });

    it('needs a device backed by a file', () => {
      assert.equal(devicePath(device(1 << 20)).endsWith('device.img'), true);
      const fsa = closeLater(ProcessFsAdapter.start(PY, badArgs({ level: 'fs' })));
      assert.throws(() => fsa.mkfs(new MemoryDevice({ size: 1 << 20 }), { blockSize: 4096 }), /needs a device backed by a file/);
      fsa.close();
    });
  });

  describe('exit codes through the CLI', () => {
    it('2 for a protocol mismatch, 3 for a server that crashes or hangs, 0 for a good one', async () => {
      const save = scratch();
      const v2 = await cli(['fsx', '--adapter', `exec:${PY} ${badArgs({ protocol: 2 }).join(' ')}`, '-N', '5', '-q']);
      assert.equal(v2.code, 2, v2.err);
      assert.match(v2.err, /^iomap-harness: adapter exec:.*protocol version mismatch.*\n$/);
      const crash = await cli(['fsx', '--adapter', `exec:${PY} ${badArgs({ on: { size: { do: 'exit', code: 9 } } }).join(' ')}`, '-N', '5', '-q', '--save', save]);
      assert.equal(crash.code, 3, crash.out + crash.err);
      // The crash line goes to stderr (once); the report with the LOG DUMP stays on stdout.
      assert.match(crash.err, /target crashed in .*TargetError: adapter exec:.*exit code 9.*last request: #\d+ size/);
      process.env.IOMAP_HARNESS_EXEC_TIMEOUT_MS = '1500';
      try {
        const hang = await cli(['fsx', '--adapter', `exec:${PY} ${badArgs({ on: { hello: { do: 'hang' } } }).join(' ')}`, '-N', '5', '-q']);
        assert.equal(hang.code, 3, hang.err);
        assert.match(hang.err, /^iomap-harness: adapter exec:.*did not answer within 1500 ms \(last request: #0 hello.*\n$/);
      } finally {
        delete process.env.IOMAP_HARNESS_EXEC_TIMEOUT_MS;
      }
      process.env.IOMAP_HARNESS_EXEC_TIMEOUT_MS = 'soon';
      try {
        const r = await cli(['fsx', '--adapter', `exec:${PY} ${FILE_SERVER}`, '-N', '5', '-q']);
        assert.equal(r.code, 2);
        assert.match(r.err, /IOMAP_HARNESS_EXEC_TIMEOUT_MS=soon: expected a positive number of milliseconds/);
      } finally {
        delete process.env.IOMAP_HARNESS_EXEC_TIMEOUT_MS;
      }
      const good = await cli(['fsx', '--adapter', `exec:${PY} ${FS_SERVER}`, '-N', '100', '-q', '--json']);
      assert.equal(good.code, 0, good.out + good.err);
      assert.match(good.out, /"adapter":"exec:python3 .*fs-server\.py","seed":1,"ops":100,"failures":0/);
    }).timeout(60000);
  });
  describe('optional protocol features: size in replies, binary frames (file level)', () => {
    /** pyfile with every feature (or, with --no-features, as a server written before them). */
    function pyfile(args: string[] = []): ProcessFileAdapter {
      return closeLater(ProcessFileAdapter.start(PY, [FILE_SERVER, ...args], scratch()));
    }

    it('agrees on features in the hello; an old server (none) works as before', () => {
      assert.deepEqual([...pyfile().hello.features].sort(), ['binary', 'reset', 'size']);
      const old = pyfile(['--no-features']);
      assert.deepEqual([...old.hello.features], []);
      assert.equal(old.transport.binary, false);
      const t = old.open();
      const data = new Rng(3).bytes(70000);
      assert.equal(t.pwrite(5, data), 70000);
      const calls = old.transport.calls;
      assert.equal(t.size(), 70005);
      assert.equal(old.transport.calls, calls + 1, 'without the feature, size() is a request');
      assert.deepEqual(Buffer.from(t.pread(5, 70000)), Buffer.from(data));
    });

    it('size() after an operation costs no request: the reply carried it', () => {
      const a = pyfile();
      const t = a.open();
      const data = new Rng(4).bytes(65536);
      assert.equal(t.pwrite(100, data), 65536);
      const calls = a.transport.calls;
      assert.equal(t.size(), 65636);
      assert.equal(t.size(), 65636);
      t.truncate(1000);
      assert.equal(a.transport.calls, calls + 1, 'truncate only; both sizes came with replies');
      assert.equal(t.size(), 1000);
      assert.throws(() => t.seekData!(5000), (e: unknown) => e instanceof FsError && e.code === 'ENXIO');
      const before = a.transport.calls;
      assert.equal(t.size(), 1000, 'after an error reply (no size in it) size() asks');
      assert.equal(a.transport.calls, before + 1);
    });

    it('bulk data travels as binary frames both ways (every byte value, empty and 1 MiB)', () => {
      const a = pyfile();
      assert.equal(a.transport.binary, true);
      const t = a.open();
      const all = new Uint8Array(256 * 4).map((_, i) => i & 0xff);
      assert.equal(t.pwrite(0, all), all.length);
      assert.deepEqual(Buffer.from(t.pread(0, all.length)), Buffer.from(all));
      assert.equal(t.pwrite(10, new Uint8Array(0)), 0);
      assert.equal(t.pread(5000, 10).length, 0, 'an empty frame (or none) at EOF');
      const big = new Rng(9).bytes(1 << 20);
      assert.equal(t.pwrite(4096, big), big.length);
      assert.deepEqual(Buffer.from(t.pread(4096, big.length)), Buffer.from(big));
      assert.deepEqual(Buffer.from(t.mapread!(0, 4096)).subarray(0, all.length), Buffer.from(all));
    });

    it('a server whose replies lie about the size is caught by fsx (it passes without the feature)', () => {
      const liar = closeLater(loadExecAdapter(`${PY} ${FILE_SERVER} --defect size-lies`, { scratch: tmp }));
      const r = runFsx(liar, liar.name, fsxOpts({ seed: 7, numOps: 300 }), capture());
      assert.ok(r.failure !== null, 'the size in the replies is the one checked');
      assert.equal(r.failure!.kind, 'size', r.report.join('\n'));
      const old = closeLater(loadExecAdapter(`${PY} ${FILE_SERVER} --defect size-lies --no-features`, { scratch: tmp }));
      const r2 = runFsx(old, old.name, fsxOpts({ seed: 7, numOps: 300 }), capture());
      assert.equal(r2.failure, null, r2.report.join('\n'));
    });

    const frameCases: Array<{ what: string; bytes: string; re: RegExp }> = [
      { what: 'a frame shorter than its length', bytes: '#10\nabc\n{"id": $ID, "result": {}}\n', re: /corrupted binary frame: the 10-byte payload of a binary frame is followed by byte 0x[0-9a-f]{2}, not a newline \(its length is wrong\)/ },
      { what: 'a frame longer than its length', bytes: '#2\nabcd\n{"id": $ID, "result": {}}\n', re: /corrupted binary frame: the 2-byte payload .* followed by byte 0x63/ },
      { what: 'a frame header that is not a length', bytes: '#4x\nabcd\n{"id": $ID, "result": {}}\n', re: /corrupted binary frame: binary frame header "#4x" is not "#" and a decimal length/ },
      { what: 'a frame and a data field', bytes: '#2\nab\n{"id": $ID, "result": {"data": "YWI="}}\n', re: /a reply with a binary frame must not also have result\.data/ },
    ];
    for (const c of frameCases) {
      it(`${c.what}: one clear line (a TargetError), the child reaped`, () => {
        const a = closeLater(ProcessFileAdapter.start(PY, badArgs({ hello: { features: ['binary'] }, on: { pread: { do: 'bytes', b64: Buffer.from(c.bytes).toString('base64') } } }), scratch()));
        const t = a.open();
        const e = expectTarget(() => t.pread(0, 4), /data field/.test(c.what) ? 'bad-value' : 'malformed', c.re);
        assert.match(e.message, /\(last request: #\d+ pread/);
        assert.ok(reaped(a.transport.pid) || deadOrZombie(a.transport.pid));
      });
    }

    it('a frame the hello did not agree on is a TargetError; frames from the harness reach a server that agreed', () => {
      const a = closeLater(ProcessFileAdapter.start(PY, badArgs({ on: { pread: { do: 'bytes', b64: Buffer.from('#2\nab\n{"id": $ID, "result": {}}\n').toString('base64') } } }), scratch()));
      expectTarget(() => a.open().pread(0, 4), 'malformed', /a binary frame, but the hello did not agree on binary frames/);
      const log = path.join(tmp, `frames-${++seq}.log`);
      const b = closeLater(ProcessFileAdapter.start(PY, badArgs({ hello: { features: ['binary'] }, log }), scratch()));
      b.open().pwrite(0, Buffer.from('hello'));
      const sent = fs.readFileSync(log, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
      const w = sent.find((r) => r.method === 'pwrite');
      assert.deepEqual(w.params, { off: 0 }, 'no base64 data field in the JSON: the bytes came as a frame');
    });

    it('through the CLI: a corrupted frame in an fsx run is exit 3 with one line on stderr', async () => {
      const args = badArgs({ hello: { features: ['binary'] }, on: { size: { do: 'bytes', b64: Buffer.from('#9\nab\n{"id": $ID, "result": {"size": 0}}\n').toString('base64') } } });
      let err = '';
      const code = await main(['fsx', '--adapter', `exec:${PY} ${args.join(' ')}`, '-N', '5', '-q', '--save', scratch()], { stdout: () => undefined, stderr: (t) => { err += t; }, isTTY: false });
      assert.equal(code, 3, err);
      assert.equal(err.trim().split('\n').length, 1, err);
      assert.match(err, /corrupted binary frame/);
    }).timeout(60000);
  });

  /** fsx on pyfs with `extra` arguments: the result, the requests made, and how many of each method. */
  function fsxOnPyfs(extra: string, o: Partial<FsxOptions>): { r: ReturnType<typeof runFsx>; calls: number; by: Map<string, number> } {
    const a = closeLater(loadExecAdapter(`${PY} ${FS_SERVER}${extra}`, { scratch: tmp, deviceSize: 64 * 2 ** 20 })) as ProcessFsFileAdapter;
    const t = a.fsAdapter.transport;
    const by = new Map<string, number>();
    const call = t.call.bind(t);
    t.call = (method: string, ...rest: unknown[]) => {
      by.set(method, (by.get(method) ?? 0) + 1);
      return (call as (m: string, ...r: unknown[]) => ReturnType<typeof t.call>)(method, ...rest);
    };
    const r = runFsx(a, a.name, fsxOpts(o), capture());
    return { r, calls: t.calls, by };
  }

  describe('optional protocol features at the fs level: the state counter sv', () => {
    // Seed 8: the stale counter's audit (every 16th reuse) catches --defect stale-sv before the
    // monitor trips over the stale snapshot it let it reuse (seeds 5-7 and 10 of today's op
    // stream: a contract failure at op 5-13, which catches the server too, under a misleading rule).
    const fsxOn = (extra: string, over: Partial<FsxOptions> = {}) => fsxOnPyfs(extra, { seed: 8, numOps: 300, ...over });

    it('pyfs takes up sv and reset; snapshots are reused while sv stays (fewer requests, same verdict as an old server)', () => {
      const fsa = closeLater(ProcessFsAdapter.start(PY, [FS_SERVER], { scratch: scratch() }));
      assert.deepEqual([...fsa.hello.features].sort(), ['devio', 'reset', 'seq', 'snap', 'sv']);
      // The same op stream for both: without power cuts, which only the server with "devio" gets.
      const noCrash = { weights: defaultOptions().weights.map((w, code) => (code === OP_CRASH ? 0 : w)) };
      const now = fsxOn('', noCrash);
      assert.equal(now.r.failure, null, now.r.report.join('\n'));
      const old = fsxOn(' --no-features', noCrash);
      assert.equal(old.r.failure, null, old.r.report.join('\n'));
      assert.ok(now.calls < old.calls * 0.7, `requests with sv ${now.calls}, without ${old.calls}`);
    });

    it('a server whose sv stays while its mappings change is caught (one line, a TargetError)', () => {
      // Without "snap": a server that sends its snapshots with its replies leaves nothing stale to catch.
      const { r } = fsxOn(' --features sv,reset,devio --defect stale-sv');
      assert.ok(r.failure !== null);
      assert.equal(r.failure!.kind, 'crash', r.report.join('\n'));
      assert.match(r.report.join('\n'), /the state counter sv stayed \d+, but the mappings of inode \d+ changed .*sv must change whenever a mapping does/);
    });
  });

  describe('optional protocol features: seq and snap (iomap_valid, map_blocks reuse and snapshots without requests)', () => {
    const noCrash = () => ({ weights: defaultOptions().weights.map((w, code) => (code === OP_CRASH ? 0 : w)) });
    const fsxOn = (extra: string, seed: number) => fsxOnPyfs(extra, { seed, numOps: 150, ...noCrash() });
    const n = (by: Map<string, number>, m: string) => by.get(m) ?? 0;

    it('with seq the harness answers iomap_valid and reuses map_blocks; with snap snapshots come in replies; the same stream passes as with sv alone', () => {
      const now = fsxOn('', 3);
      assert.equal(now.r.failure, null, now.r.report.join('\n'));
      const sv = fsxOn(' --features sv,reset,devio', 3);
      assert.equal(sv.r.failure, null, sv.r.report.join('\n'));
      assert.equal(n(now.by, 'iomap_valid'), 0);
      assert.ok(n(sv.by, 'iomap_valid') > 50, `iomap_valid without seq: ${n(sv.by, 'iomap_valid')}`);
      assert.ok(n(now.by, 'map_blocks') < 0.8 * n(sv.by, 'map_blocks'), `map_blocks ${n(now.by, 'map_blocks')} vs ${n(sv.by, 'map_blocks')}`);
      assert.ok(n(now.by, 'snapshot') < 0.8 * n(sv.by, 'snapshot'), `snapshot ${n(now.by, 'snapshot')} vs ${n(sv.by, 'snapshot')}`);
      assert.equal(n(now.by, 'iomap_begin'), n(sv.by, 'iomap_begin'));
    });

    for (const extra of ['', ' --features sv,reset,devio']) {
      it(`a server that forgets to bump its sequence number is caught (R30)${extra === '' ? ' with seq' : ' without seq'}`, () => {
        const { r } = fsxOn(`${extra} --defect stale-seq`, 1);
        assert.equal(r.failure?.kind, 'contract', r.report.join('\n'));
        assert.equal(r.failure?.rule, 'R30');
      });
    }
  });

  describe('optional protocol features: reset (one server per property in check)', () => {
    it('a pooled file-level server is reset and reused: same process, an empty file, none left after closeAll', () => {
      const pool = new ServerPool();
      const a = loadExecAdapter(`${PY} ${FILE_SERVER}`, { scratch: tmp, pool }) as ProcessFileAdapter;
      const pid = a.transport.pid;
      const t = a.open();
      t.pwrite(0, new Uint8Array(5000).fill(1));
      a.close();
      assert.ok(!reaped(pid), 'handed back, not ended');
      const b = loadExecAdapter(`${PY} ${FILE_SERVER}`, { scratch: tmp, pool }) as ProcessFileAdapter;
      assert.equal(b.transport.pid, pid, 'the same server process');
      assert.equal(b.open().size(), 0);
      b.close();
      const other = loadExecAdapter(`${PY} ${FILE_SERVER}`, { scratch: tmp, pool, blockSize: 1024 }) as ProcessFileAdapter;
      assert.notEqual(other.transport.pid, pid, 'other options, another server');
      other.close();
      assert.deepEqual([pool.started, pool.reused], [2, 1]);
      pool.closeAll();
      assert.ok(reaped(other.transport.pid), 'closeAll ends every idle server');
      assert.ok(reaped(pid));
    });

    it('a pooled fs-level server gets a fresh device image and a reset', () => {
      const pool = new ServerPool();
      const a = loadExecAdapter(`${PY} ${FS_SERVER}`, { scratch: tmp, pool, deviceSize: 64 * 2 ** 20 }) as ProcessFsFileAdapter;
      const pid = a.fsAdapter.transport.pid;
      a.open().pwrite(0, new Uint8Array(9000).fill(2));
      a.close();
      const b = loadExecAdapter(`${PY} ${FS_SERVER}`, { scratch: tmp, pool, deviceSize: 64 * 2 ** 20 }) as ProcessFsFileAdapter;
      assert.equal(b.fsAdapter.transport.pid, pid);
      const t = b.open();
      assert.equal(t.size(), 0);
      const r = runFsx(b, b.name, fsxOpts({ seed: 2, numOps: 100 }), capture());
      assert.equal(r.failure, null, r.report.join('\n'));
      pool.closeAll();
      assert.ok(reaped(pid));
    });

    it('a server that does not reset is caught when it is reused (one line, a TargetError)', () => {
      const pool = new ServerPool();
      try {
        const a = loadExecAdapter(`${PY} ${FILE_SERVER} --defect no-reset`, { scratch: tmp, pool });
        a.open().pwrite(0, new Uint8Array(100).fill(3));
        a.close();
        const b = closeLater(loadExecAdapter(`${PY} ${FILE_SERVER} --defect no-reset`, { scratch: tmp, pool }));
        expectTarget(() => b.open(), 'bad-value', /after reset, open left a file of 100 bytes: the server did not reset/);
      } finally {
        pool.closeAll();
      }
    });

    it('check runs a suite on one server per property', () => {
      const env = registryEnv(`exec:${PY} ${FILE_SERVER}`, { scratch: tmp });
      const r = runSuite(suiteByName('remount')!, env, { runs: 6, seed: 1, saveDir: null });
      assert.equal(r.failures, 0, JSON.stringify(r.properties.map((p) => p.failure)));
      const s = env.servers!()!;
      assert.ok(s.reused >= 5 && s.started <= r.properties.length + 1, JSON.stringify(s));
      assert.deepEqual(children(), [], 'the pool is emptied after each property');
    });

    it('check keeps its servers across properties and suites (keepServers), and ends them at close()', () => {
      const env = registryEnv(`exec:${PY} ${FILE_SERVER}`, { scratch: tmp }, true);
      try {
        for (const name of ['remount', 'remount']) {
          const r = runSuite(suiteByName(name)!, env, { runs: 2, seed: 1, saveDir: null });
          assert.equal(r.failures, 0, JSON.stringify(r.properties.map((p) => p.failure)));
        }
        assert.ok(children().length >= 1, 'the servers stay alive between suites');
        // The probe and the property ask for two geometries: two servers for both suites (one
        // per property and probe would be four).
        const s = env.servers!()!;
        assert.ok(s.started <= 2, JSON.stringify(s));
      } finally {
        env.close!();
      }
      assert.deepEqual(children(), [], 'close() ends the kept servers');
    });
  });

  describe('the example file-level server (examples/file-server.py)', () => {
    it('round trip: capabilities, data, sizes, errnos as FsErrors', () => {
      const a = closeLater(ProcessFileAdapter.start(PY, [FILE_SERVER], scratch()));
      assert.equal(a.hello.name, 'pyfile');
      assert.equal(a.capabilities.mmap, true);
      assert.ok(a.capabilities.fallocModes.includes(0));
      const t = a.open();
      const data = new Rng(5).bytes(10000);
      assert.equal(t.pwrite(100, data), 10000);
      assert.equal(t.size(), 10100);
      assert.deepEqual(Buffer.from(t.pread(100, 10000)), Buffer.from(data));
      assert.equal(t.pread(10000, 500).length, 100, 'short read at EOF');
      assert.deepEqual([...t.pread(0, 100)], new Array(100).fill(0));
      t.truncate(5000);
      assert.equal(t.size(), 5000);
      const m = t.mapread!(4096, 4096);
      assert.equal(m.length, 4096);
      assert.deepEqual(Buffer.from(m.subarray(0, 904)), Buffer.from(data.subarray(3996, 4900)));
      assert.ok(m.subarray(904).every((b) => b === 0), 'zeroes past EOF in the EOF page');
      assert.throws(() => t.mapread!(8192, 1), (e: unknown) => e instanceof FsError && e.code === 'SIGBUS');
      assert.throws(() => t.seekData!(6000), (e: unknown) => e instanceof FsError && e.code === 'ENXIO');
      assert.throws(() => t.fallocate!(0x40, 0, 4096), (e: unknown) => e instanceof FsError && e.code === 'EOPNOTSUPP');
      assert.throws(() => t.cloneRange!(0, 4096, 8192), (e: unknown) => e instanceof FsError && e.code === 'EOPNOTSUPP');
      t.fsync();
      t.closeOpen();
      assert.equal(t.size(), 5000);
      a.close();
      assert.ok(reaped(a.transport.pid));
    });

    it('passes 1000 fsx ops through exec: (seed 7)', () => {
      const a = closeLater(loadExecAdapter(`${PY} ${FILE_SERVER}`, { scratch: tmp }));
      assert.ok(a instanceof ProcessFileAdapter);
      const r = runFsx(a, a.name, fsxOpts({ seed: 7, numOps: 1000 }), capture());
      assert.equal(r.failure, null, r.report.join('\n'));
      assert.equal(r.ops, 1000);
    });
  });

  describe('the example fs-level server (examples/fs-server.py) under the generic layer and the monitor', () => {
    it('passes fsx through exec: at 4 KiB blocks (seed 3) and 1 KiB blocks (seed 11)', () => {
      for (const [bs, seed, numOps] of [[4096, 3, 700], [1024, 11, 400]]) {
        const a = closeLater(loadExecAdapter(`${PY} ${FS_SERVER}`, { scratch: tmp, blockSize: bs, deviceSize: 256 * 2 ** 20 })) as FileAdapter;
        assert.ok(a instanceof ProcessFsFileAdapter);
        assert.equal(a.capabilities.blockSize, bs);
        assert.equal(a.capabilities.clone, false, 'pyfs has no reflink');
        assert.equal(a.capabilities.directIO, true);
        const r = runFsx(a, a.name, fsxOpts({ seed, numOps }), capture());
        assert.equal(r.failure, null, r.report.join('\n'));
        const mon = a.inner.monitor!;
        for (const rule of ['R01', 'R02', 'R05', 'R07', 'R12', 'R14', 'R16', 'R30', 'R32', 'R34', 'R41']) {
          assert.ok((mon.evaluated.get(rule) ?? 0) > 0, `rule ${rule} was checked over the protocol`);
        }
        // runFsx closed the adapter: the server is gone and the device image removed.
        assert.ok(reaped(a.fsAdapter.transport.pid));
        assert.ok(!fs.existsSync(path.dirname(a.image)), 'close removes the device image and its scratch directory');
        a.close();
      }
    });

    // pyfs's own fsck walks sorted extents, not blocks: each kind of damage is still named.
    it("pyfs's check_consistency names blocks owned twice, owned blocks on the free list and a wrong count", () => {
      const script = `
import importlib.util, json, sys
spec = importlib.util.spec_from_file_location("pyfs", sys.argv[1]); m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m)
class O: pass
class Free:
    def __init__(s, free): s.free = free
    def blocks(s): return sum(c for _, c in s.free)
def fsck(exts, free, busy=()):
    st = O(); st.data_start = 10; st.total_blocks = 110; st.need_mounted = lambda: None; st.inodes = {}
    for ino, ext in exts.items():
        i = O(); i.ino = ino; i.ext = [list(e) + ["w"] for e in ext]; st.inodes[ino] = i
    st.alloc_map = Free([list(f) for f in free]); st.busy = list(busy)
    return m.PyFs.op_check_consistency(st, {})["problems"]
print(json.dumps([
    fsck({1: [(0, 10, 10)], 2: [(0, 20, 20)]}, [(40, 70)]),
    fsck({1: [(0, 10, 10)], 2: [(0, 10, 15)]}, [(25, 85)]),
    fsck({1: [(0, 10, 10)]}, [(15, 95)], [(12, 3)]),
    fsck({1: [(0, 10, 10)]}, [(20, 80)]),
]))
`;
      const [ok, twice, freeOwned, count] = JSON.parse(execFileSync(PY, ['-c', script, FS_SERVER], { encoding: 'utf8' })) as string[][];
      assert.deepEqual(ok, []);
      assert.deepEqual(twice, ['blocks [15, 20) owned by inodes 1 and 2']);
      assert.deepEqual(freeOwned, ['block 15 is free and owned by inode 1', 'block 12 is free and owned by inode 1', '10 blocks owned + 95 free + 3 busy != 100 data blocks']);
      assert.deepEqual(count, ['10 blocks owned + 80 free + 0 busy != 100 data blocks']);
    });

    it('the harness catches the stale-data bug of reporting fresh blocks MAPPED at iomap_begin (PYFS_BUG)', () => {
      const run = (cmd: string) => {
        const a = closeLater(loadExecAdapter(cmd, { scratch: tmp, deviceSize: 64 * 2 ** 20 }));
        // Enough ops that the default op mix reaches the race (seed 1 found it at op 375 with
        // coverage guidance on; 150 sufficed before it): the fixed server must pass the same stream.
        // Without the device fault ops, which also catch it (a failed write over a block reported
        // MAPPED leaves stale data: a 'fault' failure), but at another op.
        // No fault ops, no remounts, no power cuts and no bad-argument ops: the stale bytes are to be
        // seen by a plain read (a remount's or a power cut's read-back would report them as lost
        // data, a durability failure; the read-back after a refused bad argument as an errno one).
        const weights = defaultOptions().weights.map((w, code) => (code === OP_FAULT_READ || code === OP_FAULT_WRITE || code === OP_REMOUNT || code === OP_CRASH ? 0 : w));
        return runFsx(a, a.name, fsxOpts({ seed: 1, numOps: 1000, weights, invalidArgs: false }), capture());
      };
      const buggy = run(`env PYFS_BUG=mapped-at-begin ${PY} ${FS_SERVER}`);
      assert.ok(buggy.failure !== null, 'the buggy design passed');
      assert.equal(buggy.failure.kind, 'bad-data', buggy.report.join('\n'));
      const fixed = run(`${PY} ${FS_SERVER}`);
      assert.equal(fixed.failure, null, fixed.report.join('\n'));
    });

    it('survives a random driver with writeback/completion interleavings, remounts and a byte-array oracle', () => {
      const fsa = closeLater(ProcessFsAdapter.start(PY, [FS_SERVER], { blockSize: 4096 }));
      const d = new FsDriver(fsa, device(), 4096, 16384, 21);
      d.run(1200);
      assert.ok(d.counts.remount > 0 && d.counts.complete > 0 && d.counts.directWrite > 0 && d.counts.falloc > 0, JSON.stringify(d.counts));
      assert.ok((d.monitor.evaluated.get('R38') ?? 0) > 0, 'dio end_io conversions were checked (R38)');
      assert.ok((d.monitor.evaluated.get('R36') ?? 0) >= 0);
      d.close();
    });

    it('keeps committed files across server processes (on-disk metadata)', () => {
      const dev = device(64 * 2 ** 20);
      const data = new Rng(9).bytes(70000);
      const a = closeLater(ProcessFsAdapter.start(PY, [FS_SERVER]));
      a.mkfs(dev, { blockSize: 2048 });
      let { fsys } = mountWithMonitor(a, dev, 65536, true);
      let fh = fsys.open('keep', { create: true });
      fh.pwrite(3000, data);
      fh.fallocate(0x01, 100000, 8192);
      fh.fsync();
      fsys.unmount();
      a.close();
      const b = closeLater(ProcessFsAdapter.start(PY, [FS_SERVER]));
      ({ fsys } = mountWithMonitor(b, dev, 65536, true));
      assert.equal(fsys.blockSize, 2048, 'the block size comes from the superblock');
      fh = fsys.open('keep');
      assert.equal(fh.size, 73000);
      assert.deepEqual(Buffer.from(fh.pread(3000, 70000)), Buffer.from(data));
      assert.deepEqual(fsys.fs.checkConsistency(), []);
      assert.match(fsys.fs.describeBlock(fh.inode, 100000), /^unwritten \[98304, \+10240\) @\d+$/, 'the KEEP_SIZE preallocation past EOF');
      fsys.unmount();
      b.close();
      dev.close();
    });

    it('answers 2000 calls in a row, each one round trip (mean well below the timeout)', () => {
      const a = closeLater(ProcessFileAdapter.start(PY, badArgs({}), scratch()));
      const t = a.open();
      const calls = a.transport.calls;
      const t0 = performance.now();
      for (let i = 0; i < 2000; i++) t.size();
      const us = ((performance.now() - t0) * 1000) / 2000;
      assert.equal(a.transport.calls - calls, 2000);
      assert.ok(us < 20000, `mean round trip ${us.toFixed(0)} us`);
      a.close();
    });
  });
});

/**
 * A random-operation driver for an fs-level server mounted under the reference generic layer with
 * the contract monitor: buffered and direct I/O, mmap, truncate, fallocate, fsync, background
 * writeback with completions in random order, eviction, drop_caches and remount, each checked
 * against a plain byte array, the model's invariants, the monitor's quiet-time checks and the
 * server's own consistency check.
 */
class FsDriver {
  fsys!: IomapFs;
  fh!: FileHandle;
  monitor!: ContractMonitor;
  good = new Uint8Array(1 << 20);
  size = 0;
  readonly counts: Record<string, number> = {};
  private readonly rng: Rng;
  private readonly log: string[] = [];

  constructor(readonly fsa: ProcessFsAdapter, readonly dev: FileDevice, readonly bs: number, readonly folio: number, seed: number) {
    this.rng = new Rng(seed);
    fsa.mkfs(dev, { blockSize: bs });
    this.mount();
    this.fh = this.fsys.open('f', { create: true });
  }

  private mount(): void {
    const { fsys, monitor } = mountWithMonitor(this.fsa, this.dev, this.folio, true);
    this.fsys = fsys;
    this.monitor = monitor as ContractMonitor;
  }

  private fail(msg: string): never {
    throw new Error(`${msg}\n  after: ${this.log.slice(-10).join('\n         ')}`);
  }

  private setSize(n: number): void {
    if (n < this.size) this.good.fill(0, n, this.size);
    this.size = n;
  }

  private compare(off: number, got: Uint8Array, what: string): void {
    const exp = this.good.subarray(off, off + got.length);
    if (Buffer.compare(got, exp) !== 0) {
      let i = 0;
      while (got[i] === exp[i]) i++;
      this.fail(`${what}: byte ${off + i} is ${got[i]}, expected ${exp[i]} (${this.fh.describe(off + i)})`);
    }
  }

  private expectErr(code: string, fn: () => unknown): void {
    try {
      fn();
    } catch (e) {
      if (e instanceof FsError && e.code === code) return;
      throw e;
    }
    this.fail(`expected ${code}`);
  }

  run(n: number): void {
    const MAX = 400000;
    const r = this.rng;
    for (let i = 0; i < n; i++) {
      const k = r.below(100);
      const off = r.below(MAX);
      const len = 1 + r.below(40000);
      let op: string;
      if (k < 22) {
        op = 'write';
        const data = r.bytes(Math.min(len, MAX - off));
        this.log.push(`write ${off} ${data.length}`);
        if (this.fh.pwrite(off, data) !== data.length) this.fail('short write');
        if (off > this.size) this.setSize(off);
        this.good.set(data, off);
        this.size = Math.max(this.size, off + data.length);
      } else if (k < 36) {
        op = 'read';
        this.log.push(`read ${off} ${len}`);
        const got = this.fh.pread(off, len);
        if (got.length !== Math.max(0, Math.min(len, this.size - off))) this.fail(`read length ${got.length}`);
        this.compare(off, got, 'read');
      } else if (k < 42) {
        op = 'truncate';
        const sz = r.below(MAX);
        this.log.push(`truncate ${sz}`);
        this.fh.truncate(sz);
        this.setSize(sz);
      } else if (k < 48) {
        op = 'directWrite';
        const o = off - (off % 512);
        const l = Math.max(512, len - (len % 512));
        const data = r.bytes(Math.min(l, MAX - o - ((MAX - o) % 512)));
        this.log.push(`directWrite ${o} ${data.length}`);
        if (this.fh.directWrite(o, data) !== data.length) this.fail('short direct write');
        if (o > this.size) this.setSize(o);
        this.good.set(data, o);
        this.size = Math.max(this.size, o + data.length);
      } else if (k < 52) {
        op = 'directRead';
        const o = off - (off % 512);
        const l = Math.max(512, len - (len % 512));
        this.log.push(`directRead ${o} ${l}`);
        const got = this.fh.directRead(o, l);
        this.compare(o, got, 'direct read');
      } else if (k < 58) {
        op = 'mapwrite';
        if (this.size === 0) continue;
        const o = off % this.size;
        const data = r.bytes(Math.min(len, this.size - o));
        this.log.push(`mapwrite ${o} ${data.length}`);
        this.fh.mmapWrite(o, data, { msync: r.below(2) === 0 });
        this.good.set(data, o);
      } else if (k < 62) {
        op = 'mapread';
        if (this.size === 0) {
          this.expectErr('SIGBUS', () => this.fh.mmapRead(0, 1));
          continue;
        }
        const o = off % this.size;
        const l = Math.min(len, this.size - o);
        this.log.push(`mapread ${o} ${l}`);
        this.compare(o, this.fh.mmapRead(o, l), 'mapread');
      } else if (k < 74) {
        op = 'falloc';
        this.falloc([0, 1, 3, 0x10, 0x11, 0x08, 0x20][r.below(7)], off, Math.min(len, MAX - off));
      } else if (k < 78) {
        op = 'fsync';
        this.log.push('fsync');
        this.fh.fsync();
      } else if (k < 84) {
        op = 'writeback';
        this.log.push('writeback');
        this.fh.writebackNow();
      } else if (k < 92) {
        op = 'complete';
        const q = this.fsys.queue;
        if (!q.pending.length) continue;
        const w = r.below(q.pending.length);
        this.log.push(`complete ${w}/${q.pending.length}`);
        q.completeAt(w);
      } else if (k < 95) {
        op = 'evict';
        this.log.push(`evict ${off}`);
        this.fh.evict(off);
      } else if (k < 97) {
        op = 'dropcaches';
        this.log.push('dropcaches');
        this.fh.close();
        this.fsys.dropCaches();
        this.fh = this.fsys.open('f');
      } else {
        op = 'remount';
        this.log.push('remount');
        this.fh.close();
        this.fsys.unmount();
        this.mount();
        this.fh = this.fsys.open('f');
      }
      this.counts[op] = (this.counts[op] ?? 0) + 1;
      if (this.fh.size !== this.size) this.fail(`size ${this.fh.size}, expected ${this.size}`);
      this.monitor.checkQuiescent();
      const inv = this.fsys.checkInvariants();
      if (inv.length) this.fail(`invariants: ${inv.join('; ')}`);
      if (i % 100 === 99) {
        this.compare(0, this.fh.pread(0, this.size), 'full read');
        const bad = this.fsys.fs.checkConsistency();
        if (bad.length) this.fail(`server consistency: ${bad.join('; ')}`);
      }
    }
  }

  /** fallocate with the outcome worked out from file-ops §3 (xfs semantics). */
  private falloc(mode: number, off: number, len: number): void {
    const bs = this.bs;
    const keep = (mode & 1) !== 0;
    const end = off + len;
    this.log.push(`falloc 0x${mode.toString(16)} ${off} ${len}`);
    switch (mode & ~1) {
      case 0:
        this.fh.fallocate(mode, off, len);
        if (!keep && end > this.size) this.setSize(end);
        return;
      case 0x02:
        this.fh.fallocate(mode, off, len);
        if (off < this.size) this.good.fill(0, off, Math.min(end, this.size));
        return;
      case 0x10:
        this.fh.fallocate(mode, off, len);
        if (off < this.size) this.good.fill(0, off, Math.min(end, this.size));
        if (!keep && end > this.size) this.setSize(end);
        return;
      case 0x08: {
        const o = off - (off % bs);
        const l = Math.max(bs, len - (len % bs));
        if (o + l >= this.size) {
          this.expectErr('EINVAL', () => this.fh.fallocate(0x08, o, l));
          return;
        }
        this.fh.fallocate(0x08, o, l);
        this.good.copyWithin(o, o + l, this.size);
        this.setSize(this.size - l);
        return;
      }
      case 0x20: {
        const o = off - (off % bs);
        const l = Math.max(bs, len - (len % bs));
        if (o >= this.size || this.size + l > this.good.length) {
          if (o >= this.size) this.expectErr('EINVAL', () => this.fh.fallocate(0x20, o, l));
          return;
        }
        this.fh.fallocate(0x20, o, l);
        this.good.copyWithin(o + l, o, this.size);
        this.good.fill(0, o, o + l);
        this.size += l;
        return;
      }
    }
  }

  close(): void {
    this.fh.close();
    this.fsys.unmount();
    this.fsa.close();
    this.dev.close();
  }
}
