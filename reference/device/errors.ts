/**
 * Turning foreign exceptions (Node fs errors, native addon errors, anything else) into FsError,
 * so no TypeError/RangeError/SystemError ever escapes a device or the native wrapper.
 */
import { constants as osConstants } from 'os';
import { EINVAL, EIO, FsError, errnoFromName } from '../errno';

const ERRNO_BY_NAME = osConstants.errno as Record<string, number>;

/** The errno number for a Node/libuv/addon error code name, or undefined. */
export function errnoForCode(code: unknown): number | undefined {
  if (typeof code !== 'string') return undefined;
  if (code === 'ENOTSUP') return errnoFromName('EOPNOTSUPP');
  if (code === 'EWOULDBLOCK') return errnoFromName('EAGAIN');
  const known = errnoFromName(code);
  if (known !== undefined) return known;
  const n = ERRNO_BY_NAME[code];
  return typeof n === 'number' && n > 0 ? n : undefined;
}

/**
 * An FsError for `e`. Errors carrying an errno code keep it (exactly: an errno this project does not
 * name still keeps its number); Node's argument errors (ERR_*) become EINVAL; anything else becomes
 * `fallback` (EIO by default). An FsError passes through unchanged.
 */
export function toFsError(e: unknown, what: string, fallback: number = EIO): FsError {
  if (e instanceof FsError) return e;
  const err = e as { code?: unknown; message?: unknown } | null;
  const code = err && typeof err === 'object' ? err.code : undefined;
  const msg = err && typeof err === 'object' && typeof err.message === 'string' ? err.message : String(e);
  const n = errnoForCode(code);
  if (n !== undefined) return new FsError(n, `${what}: ${msg}`);
  if (typeof code === 'string' && code.startsWith('ERR_')) return new FsError(EINVAL, `${what}: ${msg}`);
  return new FsError(fallback, `${what}: ${typeof code === 'string' ? code + ': ' : ''}${msg}`);
}
