/**
 * The worker thread that owns one server process (see transport.ts). It spawns the command, writes
 * the request lines the main thread posts to the child's stdin, splits the child's stdout into
 * lines and hands each one to the main thread through a MessagePort, then bumps a counter in a
 * SharedArrayBuffer and notifies it: the main thread sleeps in Atomics.wait on that counter.
 *
 * Messages to the main thread (port):  {t:'spawned', pid} {t:'line', line} {t:'error', code, message}
 *                                      {t:'exit', code, signal, stderr}
 * Messages from the main thread:       {t:'send', line} {t:'end'} {t:'kill'}
 *
 * The child runs in its own process group, so 'kill' also reaches whatever it started. Its exit
 * is reported after its stdout has been read to the end (or 250 ms after the exit itself, when a
 * grandchild keeps the pipe open), so a reply written just before exiting is never lost.
 */
import { parentPort, workerData, MessagePort } from 'worker_threads';
import { spawn } from 'child_process';
import { StringDecoder } from 'string_decoder';

interface WorkerInput {
  command: string;
  args: string[];
  cwd?: string;
  env?: Record<string, string>;
  signal: SharedArrayBuffer;
  port: MessagePort;
  /** Copy the child's stderr to ours as it comes. */
  inheritStderr: boolean;
  /** Longest accepted stdout line in bytes (longer: reported as one malformed line). */
  maxLine: number;
}

const input = workerData as WorkerInput;
const counter = new Int32Array(input.signal);
const port = input.port;

function post(m: Record<string, unknown>): void {
  port.postMessage(m);
  Atomics.add(counter, 0, 1);
  Atomics.notify(counter, 0);
}

const STDERR_TAIL = 4096;
let stderrTail = '';
let exited: { code: number | null; signal: string | null } | null = null;
let reported = false;
let stdoutDone = false;

post({ t: 'started' });
const child = spawn(input.command, input.args, {
  cwd: input.cwd,
  env: input.env ?? process.env,
  stdio: ['pipe', 'pipe', 'pipe'],
  detached: true,
});

function reportExit(): void {
  if (reported || exited === null) return;
  reported = true;
  post({ t: 'exit', code: exited.code, signal: exited.signal, stderr: stderrTail });
}

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
  else setTimeout(reportExit, 250).unref();
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
  if (text.length > input.maxLine && !overlong) {
    overlong = true;
    post({ t: 'line', line: text.slice(0, 200) + ` ... (a line longer than ${input.maxLine} bytes)` });
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
  if (input.inheritStderr) process.stderr.write(chunk);
  stderrTail = (stderrTail + chunk.toString('utf8')).slice(-STDERR_TAIL);
});

// A server that exits without reading its input makes writes fail with EPIPE: the exit report
// tells the main thread what happened, so the write error itself is dropped.
child.stdin.on('error', () => undefined);

function killGroup(): void {
  if (exited !== null || child.pid === undefined) return;
  try {
    process.kill(-child.pid, 'SIGKILL');
  } catch {
    child.kill('SIGKILL');
  }
}

parentPort!.on('message', (m: { t: string; line?: string }) => {
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
