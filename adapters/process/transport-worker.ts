/**
 * The process-manager thread (see transport.ts): one per harness process, shared by every server
 * it runs. For each server it is asked to start, it spawns the command, writes the request lines
 * the main thread posts on that server's MessagePort to the child's stdin, splits the child's
 * stdout into lines and hands each one back on the same port, then bumps that server's counter in
 * a SharedArrayBuffer and notifies it: the main thread sleeps in Atomics.wait on the counter.
 *
 * To the main thread, on the server's port:  {t:'spawned', pid, stdinFd} {t:'line', line, bin?} {t:'error', code, message}
 *                                            {t:'frame-error', message}
 *                                            {t:'exit', code, signal, stderr}
 * From the main thread, on the server's port: {t:'send', line, bin?} {t:'end'} {t:'kill'}
 *   ('send' only when the child's stdin descriptor is unknown: the main thread writes it itself)
 * From the main thread, on parentPort:        {t:'spawn', command, args, cwd, env, port, signal, inheritStderr, maxLine}
 * Start-up:                                   'started' is written to workerData.ready (index 0 := 1) first thing.
 *
 * The child runs in its own process group, so 'kill' also reaches whatever it started. Its exit
 * is reported after its stdout has been read to the end (or 250 ms after the exit itself, when a
 * grandchild keeps the pipe open), so a reply written just before exiting is never lost.
 */
import { parentPort, workerData, MessagePort } from 'worker_threads';

// Tell the main thread this thread runs, before loading anything else.
const ready = new Int32Array((workerData as { ready: SharedArrayBuffer }).ready);
Atomics.store(ready, 0, 1);
Atomics.notify(ready, 0);

const { spawn } = require('child_process') as typeof import('child_process');

interface SpawnRequest {
  command: string;
  args: string[];
  cwd?: string;
  env?: Record<string, string>;
  port: MessagePort;
  signal: SharedArrayBuffer;
  inheritStderr: boolean;
  maxLine: number;
}

const STDERR_TAIL = 4096;
const NEWLINE = Buffer.from('\n');
const NL = 0x0a;
const HASH = 0x23;

/**
 * Splits a server's stdout into reply lines and binary frames. A frame is "#N\n" (a decimal
 * length), N raw bytes and a "\n"; it belongs to the reply line that follows it and is handed on
 * with that line. A frame whose header is not "#" and digits, whose length is beyond maxLine, or
 * whose payload is not followed by the newline (a wrong length) is reported once as
 * {t:'frame-error'}; the stream is out of step after that, so nothing more is read.
 */
class ReplyReader {
  private pending: Buffer = Buffer.alloc(0);
  /** The payload of a frame read, waiting for its reply line. */
  private frame: Buffer | undefined;
  /** Bytes of a frame payload still to come (-1: reading lines). */
  private want = -1;
  private overlong = false;
  private broken = false;

  constructor(private readonly maxLine: number, private readonly post: (m: Record<string, unknown>) => void) {}

  push(chunk: Buffer): void {
    if (this.broken) return;
    this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    let buf = this.pending;
    let at = 0;
    for (;;) {
      if (this.want >= 0) {
        if (buf.length - at < this.want + 1) break;
        if (buf[at + this.want] !== NL) {
          return this.fail(`the ${this.want}-byte payload of a binary frame is followed by byte 0x${buf[at + this.want].toString(16).padStart(2, '0')}, not a newline (its length is wrong)`);
        }
        // A copy: the chunk it lies in is reused for the lines that follow.
        this.frame = Buffer.from(buf.subarray(at, at + this.want));
        at += this.want + 1;
        this.want = -1;
        continue;
      }
      const nl = buf.indexOf(NL, at);
      if (nl < 0) break;
      if (this.overlong) {
        this.overlong = false;
        at = nl + 1;
        continue;
      }
      if (buf[at] === HASH) {
        const head = buf.toString('latin1', at, nl);
        if (!/^#[0-9]{1,15}$/.test(head)) return this.fail(`binary frame header ${JSON.stringify(head.slice(0, 40))} is not "#" and a decimal length`);
        const n = Number(head.slice(1));
        if (n > this.maxLine) return this.fail(`binary frame of ${n} bytes is longer than ${this.maxLine} bytes`);
        if (this.frame !== undefined) return this.fail('two binary frames before one reply line');
        this.want = n;
        at = nl + 1;
        continue;
      }
      const line = buf.toString('utf8', at, nl);
      at = nl + 1;
      if (this.frame !== undefined) {
        this.post({ t: 'line', line, bin: this.frame });
        this.frame = undefined;
      } else {
        this.post({ t: 'line', line });
      }
    }
    buf = at === 0 ? buf : buf.subarray(at);
    if (this.want < 0 && buf.length > this.maxLine && !this.overlong) {
      this.overlong = true;
      this.post({ t: 'line', line: buf.toString('utf8', 0, 200) + ` ... (a line longer than ${this.maxLine} bytes)` });
      buf = Buffer.alloc(0);
    }
    if (this.overlong) buf = Buffer.alloc(0);
    this.pending = buf;
  }

  /** End of output: an unterminated last line is still handed on. */
  end(): void {
    if (this.broken) return;
    if (this.want >= 0) {
      this.fail(`the output ended inside a binary frame (${this.pending.length} of ${this.want} bytes and its newline)`);
      return;
    }
    if (this.pending.length > 0 && !this.overlong) this.post({ t: 'line', line: this.pending.toString('utf8'), unterminated: true });
    this.pending = Buffer.alloc(0);
  }

  private fail(message: string): void {
    this.broken = true;
    this.pending = Buffer.alloc(0);
    this.post({ t: 'frame-error', message });
  }
}

function serve(req: SpawnRequest): void {
  const counter = new Int32Array(req.signal);
  const port = req.port;
  const post = (m: Record<string, unknown>): void => {
    port.postMessage(m);
    Atomics.add(counter, 0, 1);
    Atomics.notify(counter, 0);
  };
  let stderrTail = '';
  let exited: { code: number | null; signal: string | null } | null = null;
  let reported = false;
  let stdoutDone = false;

  const child = spawn(req.command, req.args, {
    cwd: req.cwd,
    env: req.env ?? process.env,
    stdio: ['pipe', 'pipe', 'pipe'],
    detached: true,
  });

  const reportExit = (): void => {
    if (reported || exited === null) return;
    reported = true;
    post({ t: 'exit', code: exited.code, signal: exited.signal, stderr: stderrTail });
  };

  child.on('error', (e: NodeJS.ErrnoException) => {
    // Spawn failures (ENOENT, EACCES) arrive here with no 'exit'; later errors (kill of a dead
    // process) are harmless.
    if (child.pid === undefined) {
      post({ t: 'error', code: e.code ?? 'EIO', message: e.message });
      exited = { code: null, signal: null };
      reportExit();
    }
  });
  // The main thread writes requests to the child's stdin itself when it can (one thread hop less
  // per request): it gets the pipe's descriptor, and hands this thread only what would block.
  child.on('spawn', () => post({ t: 'spawned', pid: child.pid, stdinFd: (child.stdin as unknown as { _handle?: { fd?: number } })._handle?.fd ?? -1 }));
  child.on('exit', (code, signal) => {
    exited = { code, signal };
    if (stdoutDone) reportExit();
    else setTimeout(reportExit, 250);
  });

  const reader = new ReplyReader(req.maxLine, post);
  child.stdout.on('data', (chunk: Buffer) => reader.push(chunk));
  child.stdout.on('end', () => {
    reader.end();
    stdoutDone = true;
    reportExit();
  });
  child.stderr.on('data', (chunk: Buffer) => {
    if (req.inheritStderr) process.stderr.write(chunk);
    stderrTail = (stderrTail + chunk.toString('utf8')).slice(-STDERR_TAIL);
  });
  // A server that exits without reading its input makes writes fail with EPIPE: the exit report
  // tells the main thread what happened, so the write error itself is dropped.
  child.stdin.on('error', () => undefined);

  const killGroup = (): void => {
    if (exited !== null || child.pid === undefined) return;
    try {
      process.kill(-child.pid, 'SIGKILL');
    } catch {
      child.kill('SIGKILL');
    }
  };

  // The main thread closes its end when it is done with the server: nothing may outlive that.
  port.on('close', killGroup);
  port.on('message', (m: { t: string; line?: string; bin?: Uint8Array }) => {
    switch (m.t) {
      case 'send':
        if (exited === null) {
          // A binary frame goes first: "#N\n", N bytes, "\n" (docs/protocol.md, binary frames).
          if (m.bin !== undefined) child.stdin.write(Buffer.concat([Buffer.from(`#${m.bin.length}\n`), m.bin, NEWLINE]));
          child.stdin.write(m.line!);
        }
        break;
      case 'end':
        child.stdin.end();
        break;
      case 'kill':
        killGroup();
        break;
    }
  });
}

parentPort!.on('message', (m: SpawnRequest & { t: string }) => {
  if (m.t === 'spawn') serve(m);
});
