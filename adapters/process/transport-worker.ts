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
const fs = require('fs') as typeof import('fs');
const { ReplyReader } = require('./reply-reader') as typeof import('./reply-reader');

interface SpawnRequest {
  command: string;
  args: string[];
  cwd?: string;
  env?: Record<string, string>;
  port: MessagePort;
  signal: SharedArrayBuffer;
  inheritStderr: boolean;
  maxLine: number;
  /**
   * The calling thread reads the replies itself (transport.ts, "direct replies"): the write end
   * of its reply pipe (the child's stdout; this thread owns it and closes it when the child
   * exits, so the reader sees the end of file), the read end (closed by this thread only, when
   * the port closes, so the watchdog below never writes to a reused descriptor), and the shared
   * deadline of the read in progress (Date.now() milliseconds, 0: none).
   */
  direct?: { wr: number; rd: number; watch: SharedArrayBuffer };
}

const STDERR_TAIL = 4096;
const NEWLINE = Buffer.from('\n');

/**
 * The watchdog of direct replies: a read by the calling thread blocks in the kernel, so a server
 * that does not answer by the call's deadline is killed here (its process group), and one byte is
 * written into the reply pipe to wake the reader, which then reports the hang.
 */
const WATCH_MS = 50;
const watched = new Set<() => void>();
let watchTimer: NodeJS.Timeout | null = null;

function watch(check: () => void): void {
  watched.add(check);
  if (watchTimer === null) watchTimer = setInterval(() => watched.forEach((c) => c()), WATCH_MS);
}

function unwatch(check: () => void): void {
  watched.delete(check);
  if (watched.size === 0 && watchTimer !== null) {
    clearInterval(watchTimer);
    watchTimer = null;
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

  const direct = req.direct;
  const child = spawn(req.command, req.args, {
    cwd: req.cwd,
    env: req.env ?? process.env,
    stdio: ['pipe', direct !== undefined ? direct.wr : 'pipe', 'pipe'],
    detached: true,
    // stdin and stderr are pipes; stdout is one too unless it is the direct-reply pipe (then null).
  }) as import('child_process').ChildProcessWithoutNullStreams;
  let wr = direct?.wr ?? -1;
  const closeWr = (): void => {
    if (wr < 0) return;
    fs.closeSync(wr);
    wr = -1;
  };

  const reportExit = (): void => {
    if (reported || exited === null) return;
    reported = true;
    post({ t: 'exit', code: exited.code, signal: exited.signal, stderr: stderrTail });
  };

  child.on('error', (e: NodeJS.ErrnoException) => {
    // Spawn failures (ENOENT, EACCES) arrive here with no 'exit'; later errors (kill of a dead
    // process) are harmless.
    if (child.pid === undefined) {
      closeWr();
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
    // Direct replies: the reader sees the end of file once nothing else holds the pipe.
    closeWr();
    if (stdoutDone) reportExit();
    else setTimeout(reportExit, 250);
  });

  if (direct === undefined) {
    const reader = new ReplyReader(req.maxLine, post);
    child.stdout.on('data', (chunk: Buffer) => reader.push(chunk));
    child.stdout.on('end', () => {
      reader.end();
      stdoutDone = true;
      reportExit();
    });
  } else {
    stdoutDone = true;
  }
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

  let check: (() => void) | null = null;
  if (direct !== undefined) {
    const deadline = new Float64Array(direct.watch);
    check = (): void => {
      const d = deadline[0];
      if (d === 0 || Date.now() < d) return;
      deadline[0] = 0;
      killGroup();
      try {
        // Wake the blocked reader (it sees its deadline passed): through the read end's own
        // descriptor, open until the port closes, whether or not the child still holds the pipe.
        const w = fs.openSync(`/proc/self/fd/${direct.rd}`, fs.constants.O_WRONLY | fs.constants.O_NONBLOCK);
        fs.writeSync(w, NEWLINE);
        fs.closeSync(w);
      } catch {
        // The pipe is gone or full: the reader is awake already.
      }
    };
    watch(check);
  }

  // The main thread closes its end when it is done with the server: nothing may outlive that.
  port.on('close', () => {
    killGroup();
    if (direct !== undefined) {
      unwatch(check!);
      closeWr();
      fs.closeSync(direct.rd);
    }
  });
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
