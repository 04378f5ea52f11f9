/**
 * The process-manager thread (see transport.ts): one per harness process, shared by every server
 * it runs. For each server it is asked to start, it spawns the command, writes the request lines
 * the main thread posts on that server's MessagePort to the child's stdin, splits the child's
 * stdout into lines and hands each one back on the same port, then bumps that server's counter in
 * a SharedArrayBuffer and notifies it: the main thread sleeps in Atomics.wait on the counter.
 *
 * To the main thread, on the server's port:  {t:'spawned', pid} {t:'line', line} {t:'error', code, message}
 *                                            {t:'exit', code, signal, stderr}
 * From the main thread, on the server's port: {t:'send', line} {t:'end'} {t:'kill'}
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
const { StringDecoder } = require('string_decoder') as typeof import('string_decoder');

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
  child.on('spawn', () => post({ t: 'spawned', pid: child.pid }));
  child.on('exit', (code, signal) => {
    exited = { code, signal };
    if (stdoutDone) reportExit();
    else setTimeout(reportExit, 250);
  });

  const decoder = new StringDecoder('utf8');
  let partial = '';
  let overlong = false;
  child.stdout.on('data', (chunk: Buffer) => {
    let text = partial + decoder.write(chunk);
    let nl: number;
    while ((nl = text.indexOf('\n')) >= 0) {
      const line = text.slice(0, nl);
      text = text.slice(nl + 1);
      if (overlong) {
        overlong = false;
        continue;
      }
      post({ t: 'line', line });
    }
    if (text.length > req.maxLine && !overlong) {
      overlong = true;
      post({ t: 'line', line: text.slice(0, 200) + ` ... (a line longer than ${req.maxLine} bytes)` });
    }
    partial = overlong ? '' : text;
  });
  child.stdout.on('end', () => {
    const rest = partial + decoder.end();
    if (rest.length && !overlong) post({ t: 'line', line: rest, unterminated: true });
    partial = '';
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
  port.on('message', (m: { t: string; line?: string }) => {
    switch (m.t) {
      case 'send':
        if (exited === null) child.stdin.write(m.line!);
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
