/**
 * `iomap-harness scratch`: throw-away kernel filesystems for the host adapter.
 *
 *   iomap-harness scratch create xfs|ext4|btrfs|tmpfs [--size S] [--bs B] [--dir PARENT] [--json]
 *   iomap-harness scratch destroy PATH [--json]
 *
 * create makes a sparse image, attaches it to a loop device, runs mkfs, mounts it (tmpfs: mounts a
 * tmpfs of --size) and prints the mount path (with --json one JSON line: command, action, type,
 * mount, device, image, size, blockSize). Use the path as the scratch directory:
 *   M=$(iomap-harness scratch create xfs); IOMAP_HARNESS_SCRATCH=$M iomap-harness fsx --adapter host:$M
 * destroy PATH (the mount path create printed) undoes only what create made, as recorded in the
 * small state file next to the image (adapters/host/scratch.ts).
 *
 * Exit codes: 0 done; 2 bad input, not root, or a step failed (one line on stderr).
 */

import { UsageError } from './common';
import { CommandSpec, FlagTable, Parsed, runProgram } from './command-line';
import * as fs from 'fs';
import * as os from 'os';
import { createScratch, destroyScratch, isRoot, NO_ROOT_HINT, SCRATCH_TYPES, ScratchError, scratchesOfType, type ScratchType } from '../adapters/host/scratch';

/** `scratch destroy TYPE`: the one scratch filesystem of TYPE under PARENT (default the temp dir). */
function onlyScratchOf(type: ScratchType, parent: string | undefined): string {
  const found = scratchesOfType(type, parent ?? os.tmpdir());
  if (found.length === 1) return found[0];
  if (found.length === 0) throw new Usage(`no ${type} scratch filesystem made by scratch create in ${parent ?? os.tmpdir()}; give the path it printed`);
  throw new Usage(`${found.length} ${type} scratch filesystems exist (${found.join(', ')}); give the path of the one to remove`);
}

/** Where the command writes; the CLI's CliIO fits. */
export interface ScratchIO {
  stdout(text: string): void;
  stderr(text: string): void;
}

const EXIT_OK = 0;
const EXIT_USAGE = 2;

class Usage extends Error {}

const UNITS: Record<string, number> = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 };

/** "512m", "1g", "0x1000", "4096" → bytes. */
export function parseSize(flag: string, text: string): number {
  if (/^-\d/.test(text.trim())) throw new Usage(`${flag}: ${text} is not a positive size`);
  const m = /^(0x[0-9a-f]+|[0-9]+)([kmgt]?)(i?b)?$/i.exec(text.trim());
  if (m === null) throw new Usage(`${flag}: expected a size such as 512m, 1g or 4096, got ${JSON.stringify(text)}`);
  const base = m[1].toLowerCase().startsWith('0x') ? parseInt(m[1].slice(2), 16) : parseInt(m[1], 10);
  const v = base * UNITS[m[2].toLowerCase()];
  if (!Number.isSafeInteger(v) || v <= 0) throw new Usage(`${flag}: ${text} is not a positive size`);
  return v;
}

const SCRATCH_FLAGS = {
  size: { type: 'string', value: 'S', default: '512m (tmpfs: 512m)', help: 'create: image size, e.g. 512m, 1g or 4096' },
  bs: { type: 'string', value: 'B', default: "mkfs's", help: 'create: filesystem block size (a power of two, 512..65536)' },
  dir: { type: 'string', value: 'PARENT', default: 'the system temp directory', help: 'create: where the container directory is made' },
  json: { type: 'boolean', help: 'print one JSON line (mount, device, image, ...) instead of the path' },
} as const satisfies FlagTable;

export const SCRATCH_COMMAND: CommandSpec = {
  name: 'scratch',
  args: ['create|destroy', 'TYPE|PATH'],
  summary: 'make and remove throw-away kernel filesystems for host: adapters (root)',
  details: 'create TYPE (xfs, ext4, btrfs, tmpfs) prints the mount path; a filesystem made this way is a designated '
    + 'scratch area for --adapter host:PATH. destroy PATH (or TYPE, when exactly one of that type exists) undoes '
    + 'only what create made.',
  flags: SCRATCH_FLAGS,
  examples: [
    'scratch create xfs --size 1g',
    'fsx --adapter host:$(iomap-harness scratch create xfs)',
    'scratch destroy xfs',
  ],
  run: (p, io) => scratchRun(p, io),
};

/** Run `scratch ARGS` on its own (tests, scripts); returns the exit code. */
export async function scratchCommand(argv: string[], io: ScratchIO = {
  stdout: (t) => void process.stdout.write(t),
  stderr: (t) => void process.stderr.write(t),
}): Promise<number> {
  try {
    return await runProgram([SCRATCH_COMMAND], ['scratch', ...argv], { ...io, isTTY: false });
  } catch (e) {
    if (e instanceof UsageError) {
      io.stderr(`iomap-harness: ${e.message}\n`);
      return EXIT_USAGE;
    }
    throw e;
  }
}

async function scratchRun(p: Parsed, io: ScratchIO): Promise<number> {
  try {
    const { values: v, positionals: pos } = p as { values: Record<string, string | undefined>; positionals: string[] };
    const [action, arg, ...extra] = pos;
    if (action === undefined) throw new Usage('needs an action: create TYPE or destroy PATH');
    if (extra.length > 0) throw new Usage(`unexpected argument ${JSON.stringify(extra[0])}`);
    const json = (v.json as unknown) === true;
    if (action === 'create') {
      if (arg === undefined) throw new Usage(`create needs a filesystem type (${SCRATCH_TYPES.join(', ')})`);
      if (!SCRATCH_TYPES.includes(arg as ScratchType)) throw new Usage(`unknown filesystem type ${JSON.stringify(arg)} (${SCRATCH_TYPES.join(', ')})`);
      const size = v.size === undefined ? undefined : parseSize('--size', v.size);
      let bs: number | undefined;
      if (v.bs !== undefined) {
        bs = parseSize('--bs', v.bs);
        if (bs < 512 || bs > 65536 || (bs & (bs - 1)) !== 0) throw new Usage(`--bs: ${v.bs} is not a power of two in [512, 65536]`);
      }
      if (!isRoot()) throw new Usage(`scratch create needs root (losetup, mkfs, mount); ${NO_ROOT_HINT}`);
      const s = createScratch(arg as ScratchType, { size, blockSize: bs, parent: v.dir });
      if (json) {
        io.stdout(JSON.stringify({
          command: 'scratch', action: 'create', type: s.type, mount: s.mount, device: s.device, image: s.image, size: s.size, blockSize: s.blockSize,
        }) + '\n');
      } else {
        io.stdout(s.mount + '\n');
        io.stderr(`scratch: ${s.type}${s.device ? ` on ${s.device}` : ''} mounted at ${s.mount}; `
          + `use it with --adapter host:${s.mount} (a scratch filesystem made here is designated as scratch); remove it with: iomap-harness scratch destroy ${s.mount}\n`);
      }
      return EXIT_OK;
    }
    if (action === 'destroy') {
      if (arg === undefined) throw new Usage('destroy needs the path that scratch create printed (or its type, when only one of that type exists)');
      if (v.size !== undefined || v.bs !== undefined) throw new Usage('destroy takes only PATH (or TYPE [--dir PARENT]) and --json');
      if (v.dir !== undefined && !SCRATCH_TYPES.includes(arg as ScratchType)) throw new Usage('destroy takes only PATH (or TYPE [--dir PARENT]) and --json');
      const target = SCRATCH_TYPES.includes(arg as ScratchType) && !fs.existsSync(arg) ? onlyScratchOf(arg as ScratchType, v.dir) : arg;
      if (!isRoot()) throw new Usage(`scratch destroy needs root (umount, losetup -d); ${NO_ROOT_HINT}`);
      const r = destroyScratch(target);
      if (json) {
        io.stdout(JSON.stringify({
          command: 'scratch', action: 'destroy', type: r.state.type, mount: r.state.mount, device: r.state.device, image: r.state.image,
          done: r.done, leftAlone: r.leftAlone,
        }) + '\n');
      } else {
        io.stdout(`removed ${r.state.mount}\n`);
        for (const l of r.leftAlone) io.stderr(`scratch: left alone: ${l}\n`);
      }
      return EXIT_OK;
    }
    throw new Usage(`unknown action ${JSON.stringify(action)} (create or destroy)`);
  } catch (e) {
    if (e instanceof Usage || e instanceof ScratchError) {
      throw new UsageError(`scratch: ${e.message}`);
    }
    throw e;
  }
}
