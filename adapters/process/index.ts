/**
 * `exec:CMD ARGS`: an out-of-process target speaking protocol 1 (docs/protocol.md) on its
 * stdin/stdout. The server's hello decides the level:
 *
 * - "file": its FileTarget ops are the target (file-client.ts);
 * - "fs":   its ops table is mounted under the reference generic layer and the contract monitor
 *           (ReferenceAdapter with `fs:` the ProcessFsAdapter of fs-client.ts), on a block device
 *           image file the harness creates in a scratch directory.
 *
 * The command line is split like a simple shell would: blanks separate words, '...' keeps
 * everything literally, "..." keeps blanks and takes \" \\ escapes, a backslash outside quotes
 * escapes the next character. No variables, globs or redirections; the command is run directly
 * (PATH lookup as execvp does), from the current directory.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import type { Capabilities, FileAdapter, FileTarget, SetupSupport, TargetSetup } from '../types';
import type { AdapterOptions } from '../registry';
import { AdapterSpecError } from '../registry';
import { ReferenceAdapter } from '../reference';
import { FileDevice } from '../../reference/device/file';
import { MemoryDevice } from '../../reference/device/memory';
import type { BlockDevice } from '../../reference/device/types';
import { ProcessFileAdapter } from './file-client';
import { ProcessFsAdapter } from './fs-client';
import { handshake } from './protocol';
import { isIomapApi } from '../../reference/iomap/types';
import { ProcessTransport } from './transport';

export { TargetError, ProtocolError } from './errors';
export { ProcessTransport } from './transport';
export { ProcessFsAdapter } from './fs-client';
export { ProcessFileAdapter } from './file-client';
export { PROTOCOL_VERSION, PROTOCOL_VERSIONS } from './protocol';

export const describe = 'an out-of-process target speaking JSON lines on stdin/stdout (fs or file level; docs/protocol.md)';

/** Split a command line (see the file comment). Throws AdapterSpecError for an unbalanced quote. */
export function splitCommandLine(line: string): string[] {
  const out: string[] = [];
  let cur = '';
  let inWord = false;
  let i = 0;
  const bad = (why: string): never => {
    throw new AdapterSpecError(`exec:${line}: ${why}`);
  };
  while (i < line.length) {
    const c = line[i];
    if (c === ' ' || c === '\t' || c === '\n') {
      if (inWord) out.push(cur);
      cur = '';
      inWord = false;
      i++;
    } else if (c === "'") {
      const j = line.indexOf("'", i + 1);
      if (j < 0) bad('unbalanced single quote');
      cur += line.slice(i + 1, j);
      inWord = true;
      i = j + 1;
    } else if (c === '"') {
      i++;
      for (;;) {
        if (i >= line.length) bad('unbalanced double quote');
        const d = line[i];
        if (d === '"') break;
        if (d === '\\' && (line[i + 1] === '"' || line[i + 1] === '\\')) {
          cur += line[i + 1];
          i += 2;
        } else {
          cur += d;
          i++;
        }
      }
      inWord = true;
      i++;
    } else if (c === '\\') {
      if (i + 1 >= line.length) bad('a backslash at the end');
      cur += line[i + 1];
      inWord = true;
      i += 2;
    } else {
      cur += c;
      inWord = true;
      i++;
    }
  }
  if (inWord) out.push(cur);
  return out;
}

export interface ExecOptions extends AdapterOptions {
  /** Per-call timeout in ms (default 10 s or IOMAP_HARNESS_EXEC_TIMEOUT_MS). */
  timeoutMs?: number;
  /** Parent of the scratch directory (default os.tmpdir()). */
  scratch?: string;
  /** fs level: size of the device image file (sparse; default 1 GiB). */
  deviceSize?: number;
  /** fs level: run the contract monitor (default true) and ask for snapshots (default true). */
  monitor?: boolean;
  introspect?: boolean;
  /** Reuse servers that take up "reset" (check); not an option of the server itself. */
  pool?: ServerPool;
}

/**
 * An fs-level server under the reference generic layer: ReferenceAdapter over the process's ops
 * table, with capabilities narrowed to what the server declared, and a close() that also ends the
 * server and removes the device image.
 */
/**
 * Servers kept for reuse (feature "reset"): `check` runs a property many times (every fast-check
 * run and shrink step is a fresh adapter); with a pool, closing such an adapter hands its live
 * server back instead of ending it, and the next adapter made with the same command line and
 * options takes it after a `reset` request. A server that did not take up "reset", or that failed,
 * is ended as before. closeAll() ends the idle ones (the caller's end of a property).
 */
export class ServerPool {
  private readonly idle = new Map<string, Array<() => FileAdapter>>();
  /** Servers started and servers reused (for figures and tests). */
  started = 0;
  reused = 0;
  private readonly closers = new Map<() => FileAdapter, () => void>();

  /** Hand back a live server: `revive` resets it and makes the next adapter, `end` ends it. */
  give(key: string, revive: () => FileAdapter, end: () => void): void {
    const list = this.idle.get(key) ?? [];
    list.push(revive);
    this.idle.set(key, list);
    this.closers.set(revive, end);
    // A few setups at most are alive at once: the oldest idle server beyond that is ended.
    if (this.closers.size > MAX_IDLE) this.endOne(this.closers.keys().next().value as () => FileAdapter);
  }

  /** An adapter on a reset idle server for `key`, or null. */
  take(key: string): FileAdapter | null {
    const list = this.idle.get(key);
    const revive = list?.pop();
    if (revive === undefined) return null;
    this.closers.delete(revive);
    this.reused++;
    return revive();
  }

  private endOne(revive: () => FileAdapter): void {
    const end = this.closers.get(revive)!;
    this.closers.delete(revive);
    for (const list of this.idle.values()) {
      const i = list.indexOf(revive);
      if (i >= 0) list.splice(i, 1);
    }
    end();
  }

  /** End every idle server. */
  closeAll(): void {
    for (const r of [...this.closers.keys()]) this.endOne(r);
    this.idle.clear();
  }
}

const MAX_IDLE = 4;

/** The pool key of a command line with its options (values that reach the server or the device). */
function poolKey(cmdline: string, o: ExecOptions): string {
  const keys = Object.keys(o).filter((k) => k !== 'pool').sort();
  return JSON.stringify([cmdline, keys.map((k) => [k, (o as Record<string, unknown>)[k]])]);
}

/** Reset a pooled server (request `reset`); false when it refused or failed (it is ended then). */
function resetServer(t: ProcessTransport): boolean {
  const r = t.alive ? t.call('reset') : null;
  if (r !== null && r.error === undefined) return true;
  t.close();
  return false;
}

export class ProcessFsFileAdapter implements FileAdapter {
  readonly name: string;
  readonly capabilities: Capabilities;
  readonly inner: ReferenceAdapter;
  readonly fsAdapter: ProcessFsAdapter;
  /** The device geometry the harness owns: block sizes the server formats with, folio sizes of the generic layer. */
  readonly setups: SetupSupport;
  /** The iomap API generation the server's ops table is in, when not 6.12 (its protocol version; op logs record it). */
  get setup(): TargetSetup {
    return this.inner.setup;
  }
  readonly device: BlockDevice;
  /** The device image file the server opens (in the scratch directory). */
  readonly image: string;
  private scratch: string | null;
  /** Where close() hands the live server back (a pool), instead of ending it. */
  recycle: ((fsa: ProcessFsAdapter, scratch: string) => void) | null = null;
  private closed = false;

  constructor(fsa: ProcessFsAdapter, device: BlockDevice, scratch: string | null, name: string, o: ExecOptions = {}) {
    this.fsAdapter = fsa;
    this.device = device;
    this.scratch = scratch;
    this.image = scratch !== null ? path.join(scratch, 'device.img') : '';
    this.name = name;
    this.inner = new ReferenceAdapter({ fs: fsa, device, blockSize: fsa.blockSize, folioSize: o.folioSize, monitor: o.monitor ?? true, crash: fsa.devio, api: fsa.api });
    const d = fsa.declared;
    const ic = this.inner.capabilities;
    const rs = this.inner.setups;
    this.setups = { blockSizes: rs.blockSizes, folioSizes: rs.folioSizes };
    this.capabilities = {
      ...ic,
      maxFileSize: Math.min(ic.maxFileSize, d.maxFileSize),
      fallocModes: ic.fallocModes.filter((m) => d.fallocModes.includes(m)),
      directIO: ic.directIO && d.directIO,
      clone: d.reflink && fsa.ops.has('remap_blocks'),
      dedupe: d.reflink && fsa.ops.has('remap_blocks'),
    };
  }

  open(): FileTarget {
    return this.inner.open();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    try {
      // A dead server cannot be unmounted: just let go of the in-core state.
      if (this.fsAdapter.alive) this.inner.close();
      else this.inner.fsys = null;
    } catch (e) {
      this.recycle = null;
      throw e;
    } finally {
      if (this.recycle !== null && this.fsAdapter.alive && this.scratch !== null) {
        if (!this.device.closed) this.device.close();
        const scratch = this.scratch;
        this.scratch = null;
        this.recycle(this.fsAdapter, scratch);
        return;
      }
      this.fsAdapter.close();
      if (!this.device.closed) this.device.close();
      if (this.scratch !== null) fs.rmSync(this.scratch, { recursive: true, force: true });
      this.scratch = null;
    }
  }
}

/** Resolve `exec:CMDLINE` (CMDLINE without the prefix) into a FileAdapter. */
export function loadExecAdapter(cmdline: string, opts: ExecOptions = {}): FileAdapter {
  const argv = splitCommandLine(cmdline);
  if (argv.length === 0) throw new AdapterSpecError('exec: needs a command, e.g. exec:python3 examples/fs-server.py');
  const name = `exec:${cmdline}`;
  const pool = opts.pool;
  if (pool === undefined) return startExecAdapter(argv, name, opts);
  const key = poolKey(cmdline, opts);
  const again = pool.take(key);
  if (again !== null) return again;
  pool.started++;
  return pooled(startExecAdapter(argv, name, opts), pool, key, name, opts);
}

/** An adapter whose close() hands a live server that takes up "reset" back to `pool`. */
function pooled(a: FileAdapter, pool: ServerPool, key: string, name: string, opts: ExecOptions): FileAdapter {
  if (a instanceof ProcessFileAdapter) {
    if (!a.hello.features.has('reset')) return a;
    a.recycle = (t, hello, scratch) => pool.give(key, () => {
      if (!resetServer(t)) return loadExecAdapter(name.slice('exec:'.length), opts);
      const next = new ProcessFileAdapter(t, hello, name, scratch);
      next.afterReset = true;
      return pooled(next, pool, key, name, opts);
    }, () => {
      t.close();
      fs.rmSync(scratch, { recursive: true, force: true });
    });
    return a;
  }
  if (a instanceof ProcessFsFileAdapter && a.fsAdapter.hello.features.has('reset')) {
    a.recycle = (fsa, scratch) => pool.give(key, () => {
      if (!resetServer(fsa.transport)) return loadExecAdapter(name.slice('exec:'.length), opts);
      return pooled(new ProcessFsFileAdapter(fsa, freshDevice(fsa, scratch, opts), scratch, name, opts), pool, key, name, opts);
    }, () => {
      fsa.close();
      fs.rmSync(scratch, { recursive: true, force: true });
    });
  }
  return a;
}

/**
 * A new, empty device for the server: a (sparse) image file in the scratch directory; with feature
 * "devio" the harness's own MemoryDevice (run under a CrashDevice: power cuts), which the server's
 * adapter copies into the image file before every mkfs and mount.
 */
function freshDevice(fsa: ProcessFsAdapter, scratch: string, opts: ExecOptions): BlockDevice {
  const img = path.join(scratch, 'device.img');
  fs.rmSync(img, { force: true });
  const size = opts.deviceSize ?? 2 ** 30;
  if (fsa.devio) return new MemoryDevice({ size, sectorSize: 512, name: img });
  return FileDevice.open(img, { create: { size } });
}

function startExecAdapter(argv: string[], name: string, opts: ExecOptions): FileAdapter {
  const parent = opts.scratch ?? os.tmpdir();
  let scratch: string;
  try {
    scratch = fs.mkdtempSync(path.join(parent, 'iomap-harness-exec-'));
  } catch (e) {
    throw new AdapterSpecError(`${name}: cannot create a scratch directory in ${parent}: ${(e as { code?: string }).code ?? String(e)}`);
  }
  let t: ProcessTransport | null = null;
  try {
    t = new ProcessTransport(argv[0], argv.slice(1), { timeoutMs: opts.timeoutMs, label: `adapter ${name}` });
    const bs = opts.blockSize ?? 4096;
    const api = opts.api;
    if (api !== undefined && !isIomapApi(api)) throw new AdapterSpecError(`${name}: api ${JSON.stringify(api)}: expected 6.12 or current`);
    const hello = handshake(t, 'any', { harness: 'iomap-harness', blockSize: bs, pageSize: 4096, scratch }, api);
    if (hello.level === 'file') return new ProcessFileAdapter(t, hello, name, scratch);
    const fsa = new ProcessFsAdapter(t, hello, { introspect: opts.introspect, image: path.join(scratch, 'device.img') });
    return new ProcessFsFileAdapter(fsa, freshDevice(fsa, scratch, opts), scratch, name, opts);
  } catch (e) {
    t?.close(false);
    fs.rmSync(scratch, { recursive: true, force: true });
    throw e;
  }
}
