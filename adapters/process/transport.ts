/**
 * Synchronous JSON-lines calls to a server process.
 *
 * The harness API is synchronous, a child process's pipes are not. One worker thread per harness
 * process (transport-worker.ts, the process manager) owns the children and does the asynchronous
 * I/O. Each server has a MessagePort to the manager and a shared counter: the main thread posts a
 * request line on the port and then sleeps in Atomics.wait on the counter, which the manager bumps
 * after every message it posts back; the main thread takes them with receiveMessageOnPort. Every
 * wait has a deadline, so a hung server costs one timeout, never a hung harness.
 *
 * The manager is started once and must prove that it runs (it sets a shared flag first thing)
 * within a start window; one that does not is abandoned (it has no children yet) and another one
 * started, until the timeout. Servers are only ever started by a manager known to be alive.
 *
 * Direct replies (Linux): the server's stdout is a pipe (a FIFO made for it and unlinked at once)
 * whose read end this thread reads itself, blocking in the kernel until the reply is there: no
 * thread hop and no message per reply (the manager's share of the CPU was as large as the calling
 * thread's). The manager still spawns and reaps the child and reports its exit, and is the
 * watchdog: a read still blocked at the call's deadline gets the server killed and a byte written
 * into the pipe, and this thread reports the hang. IOMAP_HARNESS_EXEC_REPLIES=manager, or no
 * mkfifo, keeps the replies on the manager.
 *
 * Any failure of the server (exit or signal, timeout, a line that is not a JSON object, a reply
 * with another id) is a TargetError naming the last request; the transport is then dead: the child
 * is killed and reaped, and every later call fails at once with the same error.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { MessageChannel, MessagePort, Worker, receiveMessageOnPort } from 'worker_threads';
import { ProtocolError, TargetError, TargetFailure } from './errors';
import { ReaderMessage, ReplyReader } from './reply-reader';

export interface TransportOptions {
  /** Per-call timeout in ms (default 10000, or IOMAP_HARNESS_EXEC_TIMEOUT_MS). */
  timeoutMs?: number;
  cwd?: string;
  env?: Record<string, string>;
  /** Copy the server's stderr to ours (default: IOMAP_HARNESS_EXEC_STDERR=inherit). */
  inheritStderr?: boolean;
  /** Name used in error messages (default: the command line). */
  label?: string;
  /** Longest reply line accepted, in bytes (default 256 MiB). */
  maxLine?: number;
}

export const DEFAULT_TIMEOUT_MS = 10000;

/** The per-call timeout: the option, else IOMAP_HARNESS_EXEC_TIMEOUT_MS, else 10 s. */
export function defaultTimeout(): number {
  const env = process.env.IOMAP_HARNESS_EXEC_TIMEOUT_MS;
  if (env !== undefined && env !== '') {
    const v = Number(env);
    if (!Number.isInteger(v) || v <= 0) throw new ProtocolError(`IOMAP_HARNESS_EXEC_TIMEOUT_MS=${env}: expected a positive number of milliseconds`);
    return v;
  }
  return DEFAULT_TIMEOUT_MS;
}

/** A decoded reply: exactly one of result / error is present. */
export interface Reply {
  id: number;
  result?: unknown;
  error?: unknown;
  /** The binary frame that came before the reply line (the value of its `data`). */
  bin?: Uint8Array;
}

type WorkerMessage =
  | { t: 'spawned'; pid: number; stdinFd: number }
  | ReaderMessage
  | { t: 'error'; code: string; message: string }
  | { t: 'exit'; code: number | null; signal: string | null; stderr: string };

const NEWLINE = Buffer.from('\n');
/** Something to sleep on while a full pipe drains. */
const NAP = new Int32Array(new SharedArrayBuffer(4));

/** How long a new manager thread gets to show that it runs before another is started. */
const MANAGER_START_WINDOW_MS = 2000;
let manager: Worker | null = null;

/** The process-manager thread, started (and checked to run) on first use. */
function processManager(timeoutMs: number, label: string): Worker {
  if (manager !== null) return manager;
  const deadline = performance.now() + timeoutMs;
  for (let attempt = 1; ; attempt++) {
    const ready = new SharedArrayBuffer(4);
    const flag = new Int32Array(ready);
    const w = new Worker(path.join(__dirname, 'transport-worker.js'), { workerData: { ready }, stdout: false, stderr: false, trackUnmanagedFds: false });
    w.unref();
    const window = Math.min(deadline - performance.now(), MANAGER_START_WINDOW_MS);
    if (window > 0) Atomics.wait(flag, 0, 0, window);
    if (Atomics.load(flag, 0) === 1) {
      manager = w;
      w.on('exit', () => {
        if (manager === w) manager = null;
      });
      return w;
    }
    void w.terminate();
    if (performance.now() >= deadline) {
      throw new TargetError('hang', `${label}: the transport's worker thread did not start within ${timeoutMs} ms (${attempt} attempts)`, '');
    }
  }
}

let pipeSeq = 0;

/**
 * A pipe for direct replies: [read end, write end], both blocking, or null (not Linux, no mkfifo,
 * or IOMAP_HARNESS_EXEC_REPLIES=manager). Made as a FIFO in the temporary directory and unlinked
 * before this returns; the read end is opened non-blocking first so that neither open waits.
 */
function replyPipe(): [number, number] | null {
  if (process.platform !== 'linux' || process.env.IOMAP_HARNESS_EXEC_REPLIES === 'manager') return null;
  const fifo = path.join(os.tmpdir(), `iomap-harness-replies-${process.pid}-${pipeSeq++}-${process.hrtime.bigint()}`);
  const made = spawnSync('mkfifo', ['-m', '600', fifo], { stdio: 'ignore' });
  if (made.status !== 0) return null;
  const fds: number[] = [];
  try {
    const { O_RDONLY, O_WRONLY, O_NONBLOCK } = fs.constants;
    fds.push(fs.openSync(fifo, O_RDONLY | O_NONBLOCK));
    const wr = fs.openSync(fifo, O_WRONLY);
    fds.push(wr);
    const rd = fs.openSync(fifo, O_RDONLY);
    fs.closeSync(fds[0]);
    return [rd, wr];
  } catch {
    for (const fd of fds) fs.closeSync(fd);
    return null;
  } finally {
    fs.rmSync(fifo, { force: true });
  }
}

/** The read buffer of direct replies (one per transport). */
const REPLY_READ = 256 * 1024;

/** Live transports, killed if the harness exits without closing them. */
const live = new Set<ProcessTransport>();
let exitHook = false;

function installExitHook(): void {
  if (exitHook) return;
  exitHook = true;
  process.on('exit', () => {
    for (const t of live) t.killNow();
  });
}

/** Shorten a request for an error message: data fields elided, at most ~160 characters. */
export function describeRequest(id: number, method: string, params: unknown, bin?: { readonly length: number }): string {
  let p = '';
  if (params !== undefined) {
    p = JSON.stringify(params, (k, v) => (k === 'data' && typeof v === 'string' ? `<${v.length} base64 chars>` : v));
    if (p.length > 160) p = p.slice(0, 157) + '...';
  }
  const frame = bin === undefined ? '' : ` <a ${bin.length}-byte binary frame>`;
  return `#${id} ${method}${p ? ' ' + p : ''}${frame}`;
}

function lastLine(text: string): string {
  const lines = text.split('\n').map((l) => l.trim()).filter((l) => l.length > 0);
  const l = lines[lines.length - 1] ?? '';
  return l.length > 200 ? l.slice(0, 197) + '...' : l;
}

export class ProcessTransport {
  readonly label: string;
  /** Per-call timeout in ms; may be changed between calls. */
  timeoutMs: number;
  /** The server's process id (known once spawned). */
  pid = 0;
  /** Calls made and their total round-trip time (for the latency figure). */
  calls = 0;
  /**
   * Binary frames were agreed in the hello (feature "binary"): bulk data may travel as frames both
   * ways. Until then a frame from the server is a protocol failure.
   */
  binary = false;
  totalMs = 0;
  private readonly port: MessagePort;
  private readonly counter: Int32Array;
  private nextId = 0;
  /**
   * The last request sent, as its line: described (describeRequest) only when a message needs it
   * (an error), not at every call, where it was a second JSON.stringify with a replacer.
   */
  private sent: { id: number; method: string; line: string; binLength?: number } | null = null;
  private dead: TargetError | null = null;
  private exit: { code: number | null; signal: string | null; stderr: string } | null = null;
  private closed = false;
  /** The child's stdin pipe (non-blocking), written directly from this thread; -1: through the manager. */
  private stdinFd = -1;
  /** Direct replies: the read end of the server's stdout (closed by the manager), or -1. */
  private rd = -1;
  private rbuf: Buffer = Buffer.alloc(0);
  private reader: ReplyReader | null = null;
  private readonly replies: ReaderMessage[] = [];
  private eof = false;
  /** The deadline of a read in progress, for the manager's watchdog (Date.now() ms, 0: none). */
  private readonly watch = new Float64Array(new SharedArrayBuffer(8));

  /**
   * Spawn `command args` and wait until it runs. A command that cannot be started (ENOENT, EACCES)
   * is a ProtocolError (exit 2).
   */
  constructor(command: string, args: string[], opts: TransportOptions = {}) {
    this.label = opts.label ?? [command, ...args].join(' ');
    this.timeoutMs = opts.timeoutMs ?? defaultTimeout();
    if (!Number.isFinite(this.timeoutMs) || this.timeoutMs <= 0) throw new ProtocolError(`${this.label}: timeout ${this.timeoutMs} ms must be positive`);
    const deadline = performance.now() + this.timeoutMs;
    const mgr = processManager(this.timeoutMs, this.label);
    const sab = new SharedArrayBuffer(4);
    this.counter = new Int32Array(sab);
    const { port1, port2 } = new MessageChannel();
    this.port = port1;
    const inheritStderr = opts.inheritStderr ?? process.env.IOMAP_HARNESS_EXEC_STDERR === 'inherit';
    const maxLine = opts.maxLine ?? 256 * 2 ** 20;
    const pipe = replyPipe();
    if (pipe !== null) {
      this.rd = pipe[0];
      this.rbuf = Buffer.allocUnsafe(REPLY_READ);
      this.reader = new ReplyReader(maxLine, (m) => this.replies.push(m));
    }
    mgr.postMessage({
      // cwd and environment as they are now (the manager thread's copies date from its start).
      t: 'spawn', command, args, cwd: opts.cwd ?? process.cwd(), env: opts.env ?? { ...process.env }, port: port2, signal: sab, inheritStderr, maxLine,
      // The manager owns both ends from here on (it closes them).
      ...(pipe !== null ? { direct: { rd: pipe[0], wr: pipe[1], watch: this.watch.buffer } } : {}),
    }, [port2]);
    installExitHook();
    live.add(this);
    for (;;) {
      const m = this.next(deadline);
      if (m === null) {
        this.shutdown();
        throw new TargetError('hang', `${this.label}: the server did not start within ${this.timeoutMs} ms`, '');
      }
      if (m.t === 'spawned') {
        this.pid = m.pid;
        this.stdinFd = m.stdinFd;
        return;
      }
      if (m.t === 'error') {
        this.shutdown();
        throw new ProtocolError(`${this.label}: cannot run ${JSON.stringify(command)}: ${m.code} (${m.message})`);
      }
      if (m.t === 'exit') {
        this.exit = m;
        this.shutdown();
        throw new TargetError('crash', `${this.label}: the server exited at once (${this.exitText()})`, '');
      }
    }
  }

  /** The last request, shortened for an error message ('' before the first). */
  private get lastRequest(): string {
    const s = this.sent;
    if (s === null) return '';
    const params = (JSON.parse(s.line) as { params?: unknown }).params;
    return describeRequest(s.id, s.method, params, s.binLength === undefined ? undefined : { length: s.binLength });
  }

  /** True until the transport failed or was closed. */
  get alive(): boolean {
    return this.dead === null && !this.closed;
  }

  /** The next worker message, or null at the deadline. */
  private next(deadline: number): WorkerMessage | null {
    for (;;) {
      const r = receiveMessageOnPort(this.port);
      if (r !== undefined) return r.message as WorkerMessage;
      const v = Atomics.load(this.counter, 0);
      const again = receiveMessageOnPort(this.port);
      if (again !== undefined) return again.message as WorkerMessage;
      const left = deadline - performance.now();
      if (left <= 0) return null;
      Atomics.wait(this.counter, 0, v, left);
    }
  }

  /** Whether replies are read by this thread (direct replies) rather than the manager. */
  get direct(): boolean {
    return this.rd >= 0;
  }

  /** The next reply line (or frame error), or the exit report, or null at the deadline. */
  private nextReply(deadline: number): WorkerMessage | null {
    if (this.rd < 0) return this.next(deadline);
    for (;;) {
      const q = this.replies.shift();
      if (q !== undefined) return q;
      // After the end of the output only the manager has something to say: the exit report.
      if (this.eof) return this.next(deadline);
      const n = this.readSome(deadline);
      if (n < 0) return null;
      if (n === 0) {
        this.eof = true;
        this.reader!.end();
      } else {
        this.reader!.push(this.rbuf.subarray(0, n), true);
      }
    }
  }

  /** One blocking read of the reply pipe: bytes read (0 at its end), or -1 at the deadline. */
  private readSome(deadline: number): number {
    for (;;) {
      const left = deadline - performance.now();
      if (left <= 0) return -1;
      this.watch[0] = Date.now() + left;
      let n: number;
      try {
        n = fs.readSync(this.rd, this.rbuf, 0, this.rbuf.length, null);
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === 'EINTR' || code === 'EAGAIN') continue;
        n = 0;
      } finally {
        this.watch[0] = 0;
      }
      // Woken by the watchdog (or answered just too late): the call is a hang either way.
      if (performance.now() >= deadline) return -1;
      return n;
    }
  }

  private exitText(): string {
    const e = this.exit;
    if (e === null) return 'unknown status';
    const how = e.signal ? `killed by ${e.signal}` : `exit code ${e.code}`;
    const err = lastLine(e.stderr);
    return err ? `${how}; last stderr line: ${err}` : how;
  }

  /** Mark the transport dead with `kind`, kill and reap the child, and return the error to throw. */
  private fail(kind: TargetFailure, what: string): TargetError {
    const req = this.lastRequest;
    const err = new TargetError(kind, `${this.label}: ${what}${req ? ` (last request: ${req})` : ''}`, req);
    this.dead = err;
    this.shutdown();
    return err;
  }

  /**
   * Send one request and wait for its reply. Throws TargetError for a dead, crashed, hung or
   * misbehaving server; the reply's content is the caller's to validate. `bin` (only once binary
   * frames are agreed) is sent as a frame before the request line: the request's `data`.
   */
  call(method: string, params?: unknown, extra?: Record<string, unknown>, bin?: Uint8Array): Reply {
    if (this.dead) throw new TargetError('dead', `${this.label}: the server is gone after an earlier failure: ${this.dead.message}`, this.dead.request);
    if (this.closed) throw new TargetError('dead', `${this.label}: the transport is closed`, this.lastRequest);
    const id = this.nextId++;
    const msg: Record<string, unknown> = { id, method, ...extra };
    if (params !== undefined) msg.params = params;
    const line = JSON.stringify(msg) + '\n';
    this.sent = { id, method, line, binLength: bin?.length };
    const t0 = performance.now();
    if (bin !== undefined && !this.binary) throw new Error(`${this.label}: a binary frame before the hello agreed on them`);
    this.send(line, t0 + this.timeoutMs, bin);
    const deadline = t0 + this.timeoutMs;
    for (;;) {
      const m = this.nextReply(deadline);
      if (m === null) throw this.fail('hang', `the server did not answer within ${this.timeoutMs} ms`);
      if (m.t === 'exit') {
        this.exit = m;
        throw this.fail('crash', `the server died (${this.exitText()})`);
      }
      if (m.t === 'frame-error') throw this.fail('malformed', `corrupted binary frame: ${m.message}`);
      if (m.t !== 'line') continue;
      if (m.bin !== undefined && !this.binary) throw this.fail('malformed', 'a binary frame, but the hello did not agree on binary frames');
      if (m.line.trim() === '') {
        if (m.bin !== undefined) throw this.fail('malformed', 'a binary frame followed by a blank line, not its reply');
        continue;
      }
      let obj: unknown;
      try {
        obj = JSON.parse(m.line);
      } catch {
        throw this.fail('malformed', `malformed reply line ${JSON.stringify(m.line.length > 120 ? m.line.slice(0, 117) + '...' : m.line)} (not JSON)`);
      }
      if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) {
        throw this.fail('malformed', `malformed reply ${JSON.stringify(m.line.slice(0, 120))} (not a JSON object)`);
      }
      const r = obj as Record<string, unknown>;
      if (r.id !== id) throw this.fail('wrong-id', `reply with id ${JSON.stringify(r.id)} to request #${id}`);
      const hasResult = 'result' in r;
      const hasError = 'error' in r && r.error !== null && r.error !== undefined;
      if (hasResult === hasError) throw this.fail('malformed', `reply #${id} must have exactly one of "result" and "error"`);
      const dt = performance.now() - t0;
      this.calls++;
      this.totalMs += dt;
      if (hasError) return { id, error: r.error };
      return m.bin === undefined ? { id, result: r.result } : { id, result: r.result, bin: m.bin };
    }
  }

  /**
   * Write one request (a binary frame before its line when `bin`) straight into the child's pipe
   * (one thread hop less than through the manager). The pipe is non-blocking: when it is full
   * this thread sleeps a little and writes on, until the call's deadline (then the call is a
   * hang). Only this thread ever writes to the pipe, and the manager closes it only at shutdown,
   * after which nothing is written: the descriptor cannot be another file's by then. A pipe that
   * fails (EPIPE: the child is gone) is left to the exit report.
   */
  private send(line: string, deadline: number, bin?: Uint8Array): void {
    if (this.stdinFd < 0) {
      this.port.postMessage(bin === undefined ? { t: 'send', line } : { t: 'send', line, bin });
      return;
    }
    const bytes = bin === undefined ? Buffer.from(line) : Buffer.concat([Buffer.from(`#${bin.length}\n`), bin, NEWLINE, Buffer.from(line)]);
    let done = 0;
    let nap = 0.02;
    while (done < bytes.length) {
      try {
        done += fs.writeSync(this.stdinFd, bytes, done);
        nap = 0.02;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EAGAIN') return;
        if (performance.now() >= deadline) return; // the wait for the reply reports the hang
        Atomics.wait(NAP, 0, 0, nap);
        nap = Math.min(nap * 2, 5);
      }
    }
  }

  /** Fail the transport from outside (a reply whose values are out of range). */
  badValue(what: string): TargetError {
    return this.fail('bad-value', what);
  }

  /**
   * End the session: send "bye" (when `bye`), close stdin, give the server `graceMs` to exit,
   * then kill its process group; the child is always reaped before this returns. Idempotent.
   */
  close(bye = true, graceMs = 1000): void {
    if (this.closed) return;
    if (bye && this.dead === null) {
      try {
        this.call('bye');
      } catch {
        // A server that fails at goodbye is killed below like any other.
      }
    }
    this.closed = true;
    this.shutdown(graceMs);
  }

  /** Close stdin, wait up to graceMs for the exit, kill, wait for the reaping, let go of the port. */
  private shutdown(graceMs = 0): void {
    live.delete(this);
    if (this.exit === null) {
      this.port.postMessage({ t: 'end' });
      if (graceMs > 0) this.waitExit(graceMs);
      if (this.exit === null) {
        this.port.postMessage({ t: 'kill' });
        this.waitExit(5000);
      }
      if (this.exit === null) this.killNow();
    }
    this.port.close();
  }

  private waitExit(ms: number): void {
    const deadline = performance.now() + ms;
    while (this.exit === null) {
      const m = this.next(deadline);
      if (m === null) return;
      if (m.t === 'exit') this.exit = m;
    }
  }

  /** Last resort (process exit): SIGKILL the server's process group directly. */
  killNow(): void {
    if (this.pid === 0 || this.exit !== null) return;
    try {
      process.kill(-this.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }

  /** Mean round-trip time per call, in microseconds. */
  get meanRoundTripUs(): number {
    return this.calls ? (this.totalMs * 1000) / this.calls : 0;
  }
}
