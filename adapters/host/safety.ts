/**
 * Safety rules of the host adapter (docs/host.md "Safety"):
 *
 *  1. It works only inside a directory the user designated as scratch, like xfstests' TEST_DIR /
 *     SCRATCH_MNT: the `scratch` option (one path or a list) or the environment variable
 *     IOMAP_HARNESS_SCRATCH (paths separated by ':'). Every path is resolved with realpath (symlinks
 *     followed) before the containment check, so a symlink inside scratch that points outside is
 *     refused. The file-system root `/` is never accepted as a scratch root.
 *  2. It creates its own files only, each with a unique name and O_CREAT|O_EXCL|O_NOFOLLOW (so it
 *     never opens, truncates or follows something that already exists), and remembers their
 *     device and inode.
 *  3. It removes only those files, and only while the name still refers to the same inode; a file
 *     that was replaced (or moved) is left alone. Directories are never created or removed.
 */

import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';

export const SCRATCH_ENV = 'IOMAP_HARNESS_SCRATCH';
/** Prefix of every file the host adapter creates. */
export const OWN_PREFIX = '.iomap-harness-';

/** A refusal for safety reasons (not inside scratch, no scratch designated, ...). One line. */
export class HostSafetyError extends Error {
  readonly code = 'EHOSTSAFETY';
  constructor(message: string) {
    super(message);
    this.name = 'HostSafetyError';
  }
}

const HOW = `designate a scratch directory with ${SCRATCH_ENV}=/dir (several: /a:/b) or the adapter option scratch, `
  + 'or make a throw-away filesystem with `iomap-harness scratch create xfs` (root)';

function errCode(e: unknown): string {
  return (e as { code?: string }).code ?? String(e);
}

/** The scratch roots (realpaths) from the option or, when it is absent, the environment. */
export function scratchRoots(option?: string | string[] | unknown, env: NodeJS.ProcessEnv = process.env): string[] {
  let raw: string[];
  let from: string;
  if (option !== undefined && option !== null) {
    if (typeof option === 'string') raw = [option];
    else if (Array.isArray(option) && option.every((x) => typeof x === 'string')) raw = option as string[];
    else throw new HostSafetyError('option scratch must be a path or a list of paths');
    from = 'option scratch';
  } else {
    raw = (env[SCRATCH_ENV] ?? '').split(path.delimiter);
    from = SCRATCH_ENV;
  }
  raw = raw.filter((r) => r !== '');
  if (raw.length === 0) throw new HostSafetyError(`no scratch directory is designated: ${HOW}`);
  return raw.map((r) => {
    let real: string;
    try {
      real = fs.realpathSync(path.resolve(r));
    } catch (e) {
      throw new HostSafetyError(`${from}: scratch directory ${r} does not exist or cannot be resolved (${errCode(e)})`);
    }
    if (!fs.statSync(real).isDirectory()) throw new HostSafetyError(`${from}: scratch path ${r} is not a directory`);
    if (real === path.parse(real).root) throw new HostSafetyError(`${from}: refusing ${r} as a scratch directory (it is the file-system root)`);
    return real;
  });
}

/** True when `p` (a realpath) is `root` or below it. */
export function isInside(p: string, root: string): boolean {
  const rel = path.relative(root, p);
  return rel === '' || (!rel.startsWith('..' + path.sep) && rel !== '..' && !path.isAbsolute(rel));
}

/**
 * Resolve the directory the user named (realpath), check it is a directory inside one of `roots`,
 * and return its realpath. Throws HostSafetyError otherwise.
 */
export function resolveScratchDir(dir: string, roots: string[]): string {
  if (typeof dir !== 'string' || dir === '') throw new HostSafetyError('host: needs a directory, as host:/path/to/scratch/dir');
  let real: string;
  try {
    real = fs.realpathSync(path.resolve(dir));
  } catch (e) {
    throw new HostSafetyError(`host:${dir}: no such directory (${errCode(e)})`);
  }
  let st: fs.Stats;
  try {
    st = fs.statSync(real);
  } catch (e) {
    throw new HostSafetyError(`host:${dir}: cannot stat ${real} (${errCode(e)})`);
  }
  if (!st.isDirectory()) throw new HostSafetyError(`host:${dir}: not a directory (name the directory to create the test file in)`);
  if (!roots.some((r) => isInside(real, r))) {
    const shown = real === path.resolve(dir) ? real : `${real} (${dir} resolves there)`;
    throw new HostSafetyError(`host:${dir}: refusing ${shown}: it is not inside a scratch directory (${roots.join(', ')}); ${HOW}`);
  }
  return real;
}

/** A file the host adapter created itself: path plus the identity it had when created. */
export class OwnedFile {
  private constructor(readonly path: string, readonly dev: number, readonly ino: number) {}

  /**
   * Create a uniquely named file in `dir` (a checked realpath) with O_CREAT|O_EXCL|O_NOFOLLOW and
   * return it with its open fd (O_RDWR). Re-checks after creation that `dir` still resolves to
   * itself and that the name is the inode we opened (else removes nothing, closes, throws).
   */
  static create(dir: string, tag: string): { file: OwnedFile; fd: number } {
    const flags = fs.constants.O_RDWR | fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_NOFOLLOW;
    for (let attempt = 0; ; attempt++) {
      const name = `${OWN_PREFIX}${tag}-${process.pid}-${crypto.randomBytes(6).toString('hex')}`;
      const p = path.join(dir, name);
      let fd: number;
      try {
        fd = fs.openSync(p, flags, 0o600);
      } catch (e) {
        if (errCode(e) === 'EEXIST' && attempt < 16) continue;
        throw Object.assign(new Error(`cannot create ${p}: ${errCode(e)}`), { code: errCode(e) });
      }
      const st = fs.fstatSync(fd);
      const file = new OwnedFile(p, st.dev, st.ino);
      let again: string | null = null;
      try {
        again = fs.realpathSync(dir);
      } catch {
        again = null;
      }
      if (again !== dir || !file.isStillOurs()) {
        fs.closeSync(fd);
        throw new HostSafetyError(`${dir} changed while creating ${name} (a directory or symlink was swapped); not using it`);
      }
      return { file, fd };
    }
  }

  /** The name still refers to the regular file we created (same device and inode). */
  isStillOurs(): boolean {
    try {
      const st = fs.lstatSync(this.path);
      return st.isFile() && st.dev === this.dev && st.ino === this.ino;
    } catch {
      return false;
    }
  }

  /** fd refers to the file we created. */
  matchesFd(fd: number): boolean {
    const st = fs.fstatSync(fd);
    return st.dev === this.dev && st.ino === this.ino;
  }

  /**
   * Unlink the file if the name still refers to our inode. Returns null when removed (or already
   * gone), else why it was left alone.
   */
  remove(): string | null {
    let st: fs.Stats;
    try {
      st = fs.lstatSync(this.path);
    } catch (e) {
      return errCode(e) === 'ENOENT' ? null : `left ${this.path} alone: cannot stat it (${errCode(e)})`;
    }
    if (!st.isFile() || st.dev !== this.dev || st.ino !== this.ino) {
      return `left ${this.path} alone: it is no longer the file this adapter created`;
    }
    try {
      fs.unlinkSync(this.path);
      return null;
    } catch (e) {
      return errCode(e) === 'ENOENT' ? null : `could not remove ${this.path}: ${errCode(e)}`;
    }
  }
}
