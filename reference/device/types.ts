/**
 * The block device interface every backend implements (memory, file/block device, crash and
 * fault wrappers). Synchronous on purpose: the model is single-threaded and deterministic, and
 * asynchrony that matters (writeback completion, DIO completion) is modelled above this layer
 * as explicit steps.
 *
 * Byte addressing, sector granularity: every offset and length must be a non-negative integer
 * multiple of `sectorSize` and lie within [0, size). Violations throw FsError(EINVAL) (bad
 * alignment/values) or FsError(ENOSPC) (past the end); a media failure throws FsError(EIO).
 */
export interface WriteOptions {
  /** Force Unit Access: durable when the call returns, regardless of the volatile cache. */
  fua?: boolean;
  /**
   * REQ_ATOMIC: the write reaches the media whole or not at all, even when the power is cut with
   * it still in the volatile cache (it is never torn). Devices that have no cache ignore it.
   */
  atomic?: boolean;
}

export interface BlockDevice {
  /** Human-readable identity (e.g. "memory", "file:/path", "loop:/dev/loop3"). */
  readonly name: string;
  /** Logical sector size in bytes (512 or 4096): the I/O alignment unit. */
  readonly sectorSize: number;
  /** Device size in bytes (a multiple of sectorSize). */
  readonly size: number;
  /** True when the device can be accessed directly by address (DAX). */
  readonly dax: boolean;
  /** Read `buf.length` bytes at byte offset `off` into `buf`. */
  read(off: number, buf: Uint8Array): void;
  /** Write `data` at byte offset `off`. */
  write(off: number, data: Uint8Array, opts?: WriteOptions): void;
  /** Make every completed write durable (cache flush / fdatasync). */
  flush(): void;
  /** Discard (trim) a range; later reads of it return zeroes on devices that guarantee that. */
  discard(off: number, len: number): void;
  /** Release resources; every later call throws FsError(EBADF). */
  close(): void;
  readonly closed: boolean;
}
