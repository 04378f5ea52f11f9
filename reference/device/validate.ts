/**
 * Request validation shared by every BlockDevice backend, so all of them reject bad input the
 * same way, with the same errno, before touching any state:
 *
 *   closed device                                   -> EBADF   (checked first, like a closed fd)
 *   offset/length not a number, NaN, +-Infinity,
 *   not an integer, negative, not sector-aligned    -> EINVAL
 *   buffer not a Uint8Array (Buffer is one)         -> EINVAL
 *   options not an object, `fua` not a boolean     -> EINVAL
 *   range (aligned, valid) that ends past `size`    -> ENOSPC
 *
 * A zero-length request at any aligned offset <= size is valid and does nothing.
 */
import { EBADF, EINVAL, ENOSPC, FsError } from '../errno';
import type { WriteOptions } from './types';

/** Sector sizes a device may have: powers of two from 512 to 64 KiB. */
export const MIN_SECTOR_SIZE = 512;
export const MAX_SECTOR_SIZE = 65536;

export interface Geometry {
  readonly name: string;
  readonly size: number;
  readonly sectorSize: number;
  readonly closed: boolean;
}

function describe(v: unknown): string {
  if (typeof v === 'number') return String(v);
  if (typeof v === 'bigint') return `${v}n (bigint)`;
  if (typeof v === 'string') return `"${v.length > 20 ? v.slice(0, 20) + '...' : v}" (string)`;
  if (v === null) return 'null';
  if (v === undefined) return 'undefined';
  if (typeof v === 'object') return (v as object).constructor?.name ?? 'object';
  return typeof v;
}

/** EBADF if the device is closed. */
export function checkOpen(dev: Geometry, op: string): void {
  if (dev.closed) throw new FsError(EBADF, `${dev.name}: ${op} on a closed device`);
}

/** A non-negative integer that is a multiple of `sectorSize`, else EINVAL. */
export function checkAligned(dev: Geometry, op: string, what: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isInteger(v)) {
    throw new FsError(EINVAL, `${dev.name}: ${op}: ${what} must be an integer number, got ${describe(v)}`);
  }
  if (v < 0) throw new FsError(EINVAL, `${dev.name}: ${op}: ${what} ${v} is negative`);
  if (v % dev.sectorSize !== 0) {
    throw new FsError(EINVAL, `${dev.name}: ${op}: ${what} ${v} is not a multiple of the sector size ${dev.sectorSize}`);
  }
  return v;
}

/** [off, off+len) must lie within the device, else ENOSPC. Arguments already checked aligned. */
export function checkRange(dev: Geometry, op: string, off: number, len: number): void {
  if (off > dev.size || len > dev.size - off) {
    throw new FsError(ENOSPC, `${dev.name}: ${op}: range [${off}, ${off + len}) is past the end of the device (size ${dev.size})`);
  }
}

export function checkBuffer(dev: Geometry, op: string, buf: unknown): Uint8Array {
  if (!(buf instanceof Uint8Array)) {
    throw new FsError(EINVAL, `${dev.name}: ${op}: buffer must be a Uint8Array, got ${describe(buf)}`);
  }
  return buf;
}

/** Everything a read(off, buf) needs checked; returns nothing, throws FsError. */
export function validateRead(dev: Geometry, off: unknown, buf: unknown): asserts off is number {
  checkOpen(dev, 'read');
  const b = checkBuffer(dev, 'read', buf);
  const o = checkAligned(dev, 'read', 'offset', off);
  checkAligned(dev, 'read', 'length', b.length);
  checkRange(dev, 'read', o, b.length);
}

/** Everything a write(off, data, opts) needs checked. Returns whether the write is FUA. */
export function validateWrite(dev: Geometry, off: unknown, data: unknown, opts: unknown): boolean {
  checkOpen(dev, 'write');
  const b = checkBuffer(dev, 'write', data);
  const o = checkAligned(dev, 'write', 'offset', off);
  checkAligned(dev, 'write', 'length', b.length);
  const fua = checkWriteOptions(dev, opts);
  checkRange(dev, 'write', o, b.length);
  return fua;
}

export function checkWriteOptions(dev: Geometry, opts: unknown): boolean {
  if (opts === undefined) return false;
  if (opts === null || typeof opts !== 'object' || Array.isArray(opts)) {
    throw new FsError(EINVAL, `${dev.name}: write: options must be an object like {fua: true}, got ${describe(opts)}`);
  }
  const fua = (opts as WriteOptions).fua;
  if (fua !== undefined && typeof fua !== 'boolean') {
    throw new FsError(EINVAL, `${dev.name}: write: options.fua must be a boolean, got ${describe(fua)}`);
  }
  const atomic = (opts as WriteOptions).atomic;
  if (atomic !== undefined && typeof atomic !== 'boolean') {
    throw new FsError(EINVAL, `${dev.name}: write: options.atomic must be a boolean, got ${describe(atomic)}`);
  }
  return fua === true;
}

export function validateDiscard(dev: Geometry, off: unknown, len: unknown): void {
  checkOpen(dev, 'discard');
  const o = checkAligned(dev, 'discard', 'offset', off);
  const l = checkAligned(dev, 'discard', 'length', len);
  checkRange(dev, 'discard', o, l);
}

/** Geometry given to a constructor: sector size a power of two in [512, 64K]; size aligned. */
export function validateGeometry(who: string, size: unknown, sectorSize: unknown): { size: number; sectorSize: number } {
  if (typeof sectorSize !== 'number' || !Number.isInteger(sectorSize) || sectorSize < MIN_SECTOR_SIZE ||
      sectorSize > MAX_SECTOR_SIZE || (sectorSize & (sectorSize - 1)) !== 0) {
    throw new FsError(EINVAL, `${who}: sectorSize must be a power of two from ${MIN_SECTOR_SIZE} to ${MAX_SECTOR_SIZE}, got ${describe(sectorSize)}`);
  }
  if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) {
    throw new FsError(EINVAL, `${who}: size must be a non-negative safe integer, got ${describe(size)}`);
  }
  if (size % sectorSize !== 0) {
    throw new FsError(EINVAL, `${who}: size ${size} is not a multiple of the sector size ${sectorSize}`);
  }
  return { size, sectorSize };
}
