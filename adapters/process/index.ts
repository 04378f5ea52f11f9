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
import type { Capabilities, FileAdapter, FileTarget, SetupSupport } from '../types';
import type { AdapterOptions } from '../registry';
import { AdapterSpecError } from '../registry';
import { ReferenceAdapter } from '../reference';
import { FileDevice } from '../../reference/device/file';
import { MemoryDevice } from '../../reference/device/memory';
import type { BlockDevice } from '../../reference/device/types';
import { ProcessFileAdapter } from './file-client';
import { ProcessFsAdapter } from './fs-client';
import { handshake } from './protocol';
import { ProcessTransport } from './transport';

export { TargetError, ProtocolError } from './errors';
export { ProcessTransport } from './transport';
export { ProcessFsAdapter } from './fs-client';
export { ProcessFileAdapter } from './file-client';
export { PROTOCOL_VERSION } from './protocol';

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
}

/**
 * An fs-level server under the reference generic layer: ReferenceAdapter over the process's ops
 * table, with capabilities narrowed to what the server declared, and a close() that also ends the
 * server and removes the device image.
 */
export class ProcessFsFileAdapter implements FileAdapter {
  readonly name: string;
  readonly capabilities: Capabilities;
  readonly inner: ReferenceAdapter;
  readonly fsAdapter: ProcessFsAdapter;
  /** The device geometry the harness owns: block sizes the server formats with, folio sizes of the generic layer. */
  readonly setups: SetupSupport;
  readonly device: BlockDevice;
  /** The device image file the server opens (in the scratch directory). */
  readonly image: string;
  private scratch: string | null;

  constructor(fsa: ProcessFsAdapter, device: BlockDevice, scratch: string | null, name: string, o: ExecOptions = {}) {
    this.fsAdapter = fsa;
    this.device = device;
    this.scratch = scratch;
    this.image = scratch !== null ? path.join(scratch, 'device.img') : '';
    this.name = name;
    this.inner = new ReferenceAdapter({ fs: fsa, device, blockSize: fsa.blockSize, folioSize: o.folioSize, monitor: o.monitor ?? true, crash: fsa.devio });
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
    try {
      // A dead server cannot be unmounted: just let go of the in-core state.
      if (this.fsAdapter.alive) this.inner.close();
      else this.inner.fsys = null;
    } finally {
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
    const hello = handshake(t, 'any', { harness: 'iomap-harness', blockSize: bs, pageSize: 4096, scratch });
    if (hello.level === 'file') return new ProcessFileAdapter(t, hello, name, scratch);
    const image = path.join(scratch, 'device.img');
    const fsa = new ProcessFsAdapter(t, hello, { introspect: opts.introspect, image });
    // With "devio" the harness owns every device write (a MemoryDevice under a CrashDevice, copied to
    // the image file for the server to mount): power cuts. Without it the server writes the file.
    const device = fsa.devio ? new MemoryDevice({ size: opts.deviceSize ?? 2 ** 30, sectorSize: 512, name: image })
      : FileDevice.open(image, { create: { size: opts.deviceSize ?? 2 ** 30 } });
    return new ProcessFsFileAdapter(fsa, device, scratch, name, opts);
  } catch (e) {
    t?.close(false);
    fs.rmSync(scratch, { recursive: true, force: true });
    throw e;
  }
}
