/**
 * The files `iomap-harness init-adapter` writes (cli/init-adapter.ts). Each is complete and
 * passes the harness as written (test/first-hour.test.ts runs them); the comments say what to
 * replace.
 */

export const FILE_JS = `'use strict';
/**
 * A file-level adapter for iomap-harness (docs/adapters.md, "A whole file implementation").
 *
 * The harness calls createAdapter(opts) once per run; open() gives it the one test file it works
 * on, and it checks every answer of the FileTarget against its oracle. This skeleton keeps the file
 * in memory so that it passes as written: replace the bodies marked YOUR CODE with calls into your
 * implementation. Errors are FsErrors with errno names (new FsError(EINVAL, 'why')).
 *
 * Run it:  iomap-harness fsx --adapter ./adapter.js -N 20000      (or: node test.js)
 */
const { FsError, EFBIG } = require('iomap-harness/adapter');

// The README's first-hour walkthrough sets this to false to watch the harness catch the bug.
const ZERO_ON_TRUNCATE = true;

const MAX_FILE_SIZE = 1 << 30;

/** YOUR CODE: the file. Here: bytes in memory; everything past \`length\` reads as zero. */
class MyFile {
  constructor() {
    this.bytes = new Uint8Array(0);
    this.length = 0;
  }

  /** Room for \`size\` bytes (new room is zero). */
  reserve(size) {
    if (size > MAX_FILE_SIZE) throw new FsError(EFBIG, \`size \${size} past the maximum \${MAX_FILE_SIZE}\`);
    if (size <= this.bytes.length) return;
    const grown = new Uint8Array(Math.max(size, this.bytes.length * 2));
    grown.set(this.bytes.subarray(0, this.length));
    this.bytes = grown;
  }
}

function createAdapter(opts = {}) {
  const blockSize = opts.blockSize ?? 4096;
  /** What the target can do; the harness turns off every operation left out. */
  const capabilities = {
    blockSize, pageSize: 4096, maxFileSize: MAX_FILE_SIZE,
    mmap: false, fallocModes: [], clone: false, dedupe: false, copyRange: false,
    directIO: false, dioAlign: 512, seek: false, fiemap: false, remount: false,
  };
  let file = null;
  return {
    name: 'my-file',
    capabilities,
    open() {
      file = new MyFile();
      return {
        size: () => file.length,
        pread(off, len) {
          // A read stops at EOF: exactly min(len, size - off) bytes.
          if (off >= file.length) return new Uint8Array(0);
          return file.bytes.slice(off, Math.min(off + len, file.length));
        },
        pwrite(off, data) {
          file.reserve(off + data.length);
          file.bytes.set(data, off);
          file.length = Math.max(file.length, off + data.length);
          return data.length;
        },
        truncate(size) {
          file.reserve(size);
          // Bytes cut off must not come back when the file grows again.
          if (ZERO_ON_TRUNCATE && size < file.length) file.bytes.fill(0, size, file.length);
          file.length = size;
        },
        fsync() {},
        fdatasync() {},
        /** Close and reopen the file, dropping caches (the state must survive). */
        closeOpen() {},
      };
    },
    close() {
      file = null;
    },
  };
}

exports.createAdapter = createAdapter;
`;

export const FILE_TS = `/**
 * The TypeScript twin of adapter.js (a file-level adapter; docs/adapters.md). Build with
 * \`tsc -p .\` (writes dist/adapter.js) and run: iomap-harness fsx --adapter ./dist/adapter.js
 */
import { EFBIG, FsError } from 'iomap-harness/adapter';
import type { AdapterOptions, Capabilities, FileAdapter, FileTarget } from 'iomap-harness/adapter';

const ZERO_ON_TRUNCATE = true;
const MAX_FILE_SIZE = 1 << 30;

/** YOUR CODE: the file. Here: bytes in memory; everything past \`length\` reads as zero. */
class MyFile {
  bytes = new Uint8Array(0);
  length = 0;

  reserve(size: number): void {
    if (size > MAX_FILE_SIZE) throw new FsError(EFBIG, \`size \${size} past the maximum \${MAX_FILE_SIZE}\`);
    if (size <= this.bytes.length) return;
    const grown = new Uint8Array(Math.max(size, this.bytes.length * 2));
    grown.set(this.bytes.subarray(0, this.length));
    this.bytes = grown;
  }
}

function target(file: MyFile): FileTarget {
  return {
    size: () => file.length,
    pread(off: number, len: number): Uint8Array {
      if (off >= file.length) return new Uint8Array(0);
      return file.bytes.slice(off, Math.min(off + len, file.length));
    },
    pwrite(off: number, data: Uint8Array): number {
      file.reserve(off + data.length);
      file.bytes.set(data, off);
      file.length = Math.max(file.length, off + data.length);
      return data.length;
    },
    truncate(size: number): void {
      file.reserve(size);
      if (ZERO_ON_TRUNCATE && size < file.length) file.bytes.fill(0, size, file.length);
      file.length = size;
    },
    fsync(): void {},
    fdatasync(): void {},
    closeOpen(): void {},
  };
}

export function createAdapter(opts: AdapterOptions = {}): FileAdapter {
  const capabilities: Capabilities = {
    blockSize: opts.blockSize ?? 4096, pageSize: 4096, maxFileSize: MAX_FILE_SIZE,
    mmap: false, fallocModes: [], clone: false, dedupe: false, copyRange: false,
    directIO: false, dioAlign: 512, seek: false, fiemap: false, remount: false,
  };
  return {
    name: 'my-file',
    capabilities,
    open: () => target(new MyFile()),
    close: () => undefined,
  };
}
`;

export const FS_JS = `'use strict';
/**
 * A filesystem ops table (an FsAdapter) for iomap-harness (docs/adapters.md, "An ops table").
 *
 * The harness runs its model of Linux's iomap generic layer (page cache, buffered and direct I/O,
 * writeback, mmap, SEEK, FIEMAP) over your filesystem and checks every callback against the
 * contract rules as it happens. This skeleton starts as refs, the harness's reference filesystem,
 * with ->iomap_begin and ->iomap_end routed through functions of yours: replace them (and then
 * the other members of the FsInstance, docs/adapters.md lists them) with your filesystem's.
 *
 * Run it:  iomap-harness fsx --adapter ./adapter.js -N 20000      (or: node test.js)
 */
const { ReferenceAdapter, refsFsAdapter } = require('iomap-harness/reference');

const myFs = {
  name: 'my-fs',
  describe: 'my filesystem (starts as refs; replace its callbacks one by one)',
  /** Format the block device. */
  mkfs(dev, opts) {
    refsFsAdapter.mkfs(dev, opts);
  },
  /** Mount it: return the FsInstance the generic layer calls into. */
  mount(dev) {
    const fs = refsFsAdapter.mount(dev);
    const ops = fs.iomapOps;
    const begin = ops.begin.bind(ops);
    const end = ops.end === undefined ? undefined : ops.end.bind(ops);
    /**
     * YOUR CODE: ->iomap_begin. Describe how [pos, pos + length) maps for the operation in
     * \`flags\` (IOMAP_WRITE, IOMAP_ZERO, IOMAP_REPORT, ...): fill iomap.type (IOMAP_HOLE,
     * IOMAP_DELALLOC, IOMAP_MAPPED, IOMAP_UNWRITTEN, IOMAP_INLINE), offset, length, addr, flags;
     * return 0 or a negative errno.
     */
    ops.begin = (inode, pos, length, flags, iomap, srcmap) => begin(inode, pos, length, flags, iomap, srcmap);
    /** YOUR CODE: ->iomap_end: give back what a short write did not use; 0 or a negative errno. */
    if (end !== undefined) ops.end = (inode, pos, length, written, flags, iomap) => end(inode, pos, length, written, flags, iomap);
    return fs;
  },
};

exports.createAdapter = (opts = {}) => new ReferenceAdapter({ fs: myFs, blockSize: opts.blockSize ?? 4096, folioSize: opts.folioSize });
`;

export const FS_TS = `/**
 * The TypeScript twin of adapter.js (an FsAdapter under the reference iomap layer;
 * docs/adapters.md). Build with \`tsc -p .\` and run: iomap-harness fsx --adapter ./dist/adapter.js
 */
import { ReferenceAdapter, refsFsAdapter } from 'iomap-harness/reference';
import type { BlockDevice, FsAdapter, FsInstance, FsMkfsOptions, Inode, Iomap } from 'iomap-harness/reference';
import type { AdapterOptions, FileAdapter } from 'iomap-harness/adapter';

const myFs: FsAdapter = {
  name: 'my-fs',
  describe: 'my filesystem (starts as refs; replace its callbacks one by one)',
  mkfs(dev: BlockDevice, opts: FsMkfsOptions): void {
    refsFsAdapter.mkfs(dev, opts);
  },
  mount(dev: BlockDevice): FsInstance {
    const fs = refsFsAdapter.mount(dev);
    const ops = fs.iomapOps;
    const begin = ops.begin.bind(ops);
    /** YOUR CODE: ->iomap_begin (see adapter.js). */
    ops.begin = (inode: Inode, pos: number, length: number, flags: number, iomap: Iomap, srcmap: Iomap): number =>
      begin(inode, pos, length, flags, iomap, srcmap);
    return fs;
  },
};

export function createAdapter(opts: AdapterOptions = {}): FileAdapter {
  return new ReferenceAdapter({ fs: myFs, blockSize: opts.blockSize ?? 4096, folioSize: opts.folioSize });
}
`;

export const TEST_JS = `'use strict';
// Runs the harness on this adapter: node test.js (exit 0 when every check passed; codes in
// the harness's docs/exit-codes.md). Failures are saved in ./iomap-harness-failures.
const path = require('path');
const { main } = require('iomap-harness');

(async () => {
  const adapter = path.join(__dirname, 'adapter.js');
  let code = await main(['fsx', '--adapter', adapter, '-N', '20000', '-q']);
  if (code === 0) code = await main(['check', '--adapter', adapter, '--suite', 'buffered-io,fallocate,seek', '--runs', '10', '-q']);
  console.log(code === 0 ? 'adapter passed' : \`adapter failed (exit code \${code})\`);
  process.exitCode = code;
})();
`;
