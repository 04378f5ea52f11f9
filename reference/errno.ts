/**
 * Errno values (x86-64 Linux numbering) and the typed error every public entry point throws.
 *
 * Inside the iomap model, functions return negative errno numbers exactly as the kernel does
 * (so the model reads like fs/iomap). At the public edges (devices, the file API, adapters) a
 * failure is raised as an FsError carrying the errno name, so a caller can `switch (e.code)`.
 */

export const EPERM = 1;
export const ENOENT = 2;
export const EINTR = 4;
export const EIO = 5;
export const ENXIO = 6;
export const EBADF = 9;
export const EAGAIN = 11;
export const ENOMEM = 12;
export const EACCES = 13;
export const EFAULT = 14;
export const EBUSY = 16;
export const EEXIST = 17;
export const EXDEV = 18;
export const ENODEV = 19;
export const EISDIR = 21;
export const EINVAL = 22;
export const ETXTBSY = 26;
export const EFBIG = 27;
export const ENOSPC = 28;
export const ESPIPE = 29;
export const EROFS = 30;
export const ERANGE = 34;
export const EBADE = 52;
export const EBADR = 53;
export const EOVERFLOW = 75;
export const EUCLEAN = 117;
export const EOPNOTSUPP = 95;
export const EDQUOT = 122;
export const ENOPROTOOPT = 92;
/** Kernel-internal codes (never seen by user space, but part of the iomap contract). */
export const ENOTBLK = 15;
export const EIOCBQUEUED = 529;
/** Not an errno: a memory access that the kernel answers with SIGBUS (mmap beyond EOF, failed mkwrite). */
export const SIGBUS = 1007;

const NAMES: Record<number, string> = {
  [EPERM]: 'EPERM', [ENOENT]: 'ENOENT', [EINTR]: 'EINTR', [EIO]: 'EIO', [ENXIO]: 'ENXIO',
  [EBADF]: 'EBADF', [EAGAIN]: 'EAGAIN', [ENOMEM]: 'ENOMEM', [EACCES]: 'EACCES', [EFAULT]: 'EFAULT',
  [EBUSY]: 'EBUSY', [EEXIST]: 'EEXIST', [EXDEV]: 'EXDEV', [ENODEV]: 'ENODEV', [EISDIR]: 'EISDIR',
  [EINVAL]: 'EINVAL', [ETXTBSY]: 'ETXTBSY', [EFBIG]: 'EFBIG', [ENOSPC]: 'ENOSPC', [ESPIPE]: 'ESPIPE',
  [EROFS]: 'EROFS', [ERANGE]: 'ERANGE', [EBADE]: 'EBADE', [EBADR]: 'EBADR', [EOVERFLOW]: 'EOVERFLOW',
  [EUCLEAN]: 'EUCLEAN', [EOPNOTSUPP]: 'EOPNOTSUPP', [EDQUOT]: 'EDQUOT', [ENOPROTOOPT]: 'ENOPROTOOPT', [ENOTBLK]: 'ENOTBLK',
  [EIOCBQUEUED]: 'EIOCBQUEUED', [SIGBUS]: 'SIGBUS',
};

export type ErrnoName = string;

export function errnoName(errno: number): ErrnoName {
  const n = NAMES[Math.abs(errno)];
  return n ?? `E#${Math.abs(errno)}`;
}

export function errnoFromName(name: string): number | undefined {
  for (const [k, v] of Object.entries(NAMES)) if (v === name) return Number(k);
  return undefined;
}

/** IOMAP_HARNESS_STACKS=1 keeps stack traces on FsError (debugging the harness itself). */
const KEEP_STACKS = process.env.IOMAP_HARNESS_STACKS === '1';

/** The one error type the public API throws. `errno` is positive; `code` is its name. */
export class FsError extends Error {
  readonly errno: number;
  readonly code: ErrnoName;
  constructor(errno: number, message: string) {
    const e = Math.abs(errno);
    // Errno results are answers, not bugs: the fuzzer meets thousands of them per second and the
    // message names the operation, so skip the costly stack capture unless asked for.
    const limit = Error.stackTraceLimit;
    if (!KEEP_STACKS) Error.stackTraceLimit = 0;
    super(`${errnoName(e)}: ${message}`);
    Error.stackTraceLimit = limit;
    this.name = 'FsError';
    this.errno = e;
    this.code = errnoName(e);
  }
}

/** Throw an FsError if `ret` is a negative errno, else return it (kernel-style return to API edge). */
export function check(ret: number, what: string): number {
  if (ret < 0) throw new FsError(-ret, what);
  return ret;
}

export function isFsError(e: unknown, code?: ErrnoName): e is FsError {
  return e instanceof FsError && (code === undefined || e.code === code);
}
