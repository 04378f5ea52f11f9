/**
 * FaultDevice: a BlockDevice wrapper that fails I/O on demand and counts what passes through.
 *
 *   const dev = new FaultDevice(new MemoryDevice({ size }));
 *   dev.failWrites(off, len);        // writes overlapping [off, off+len) throw FsError(EIO)
 *   dev.failReads(off, len);         // reads likewise
 *   dev.enabled = false;             // switch every rule off (and on again) at run time
 *   dev.clearFaults();               // forget the rules
 *   dev.stats.readBytes, dev.log     // counters and a list of the I/Os seen
 *
 * Arguments are validated exactly like every other backend (validate.ts) BEFORE a fault is
 * considered, so bad input still yields EINVAL/ENOSPC/EBADF, never an injected EIO. A failed
 * request does nothing: a failed read leaves the caller's buffer untouched, a failed write does
 * not reach the inner device (no torn writes here; later fault models can add them).
 */
import { EINVAL, EIO, FsError } from '../errno';
import type { BlockDevice, WriteOptions } from './types';
import { validateDiscard, validateRead, validateWrite, checkOpen } from './validate';

export type IoKind = 'read' | 'write';

/** One fault rule: requests of `kind` overlapping [off, off+len) fail with EIO. */
export interface FaultRule {
  readonly kind: IoKind;
  readonly off: number;
  readonly len: number;
}

/** One request as seen by the wrapper (after validation). */
export interface IoRecord {
  readonly kind: IoKind | 'flush' | 'discard';
  readonly off: number;
  readonly len: number;
  readonly failed: boolean;
}

export interface FaultStats {
  reads: number;
  writes: number;
  readBytes: number;
  writeBytes: number;
  failedReads: number;
  failedWrites: number;
  flushes: number;
  discards: number;
}

function zeroStats(): FaultStats {
  return { reads: 0, writes: 0, readBytes: 0, writeBytes: 0, failedReads: 0, failedWrites: 0, flushes: 0, discards: 0 };
}

export class FaultDevice implements BlockDevice {
  readonly inner: BlockDevice;
  readonly name: string;
  /** Master switch: when false no rule fires (requests are still counted). */
  enabled = true;
  readonly rules: FaultRule[] = [];
  stats: FaultStats = zeroStats();
  /** Every request since the last resetStats(), oldest first. */
  log: IoRecord[] = [];

  constructor(inner: BlockDevice, name?: string) {
    this.inner = inner;
    this.name = name ?? `fault(${inner.name})`;
  }

  get sectorSize(): number {
    return this.inner.sectorSize;
  }

  get size(): number {
    return this.inner.size;
  }

  get dax(): boolean {
    return this.inner.dax;
  }

  get closed(): boolean {
    return this.inner.closed;
  }

  /** Fail reads overlapping [off, off+len). Returns this for chaining. */
  failReads(off: number, len: number): this {
    return this.addRule('read', off, len);
  }

  /** Fail writes overlapping [off, off+len). */
  failWrites(off: number, len: number): this {
    return this.addRule('write', off, len);
  }

  private addRule(kind: IoKind, off: number, len: number): this {
    for (const v of [off, len]) {
      if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) {
        throw new FsError(EINVAL, `${this.name}: fault range must be non-negative integers, got ${String(off)}, ${String(len)}`);
      }
    }
    this.rules.push({ kind, off, len });
    return this;
  }

  clearFaults(): void {
    this.rules.length = 0;
  }

  resetStats(): void {
    this.stats = zeroStats();
    this.log = [];
  }

  /** The requests of one kind in the log, as [off, len] pairs (handy in assertions). */
  ios(kind: IoKind): Array<[number, number]> {
    return this.log.filter((r) => r.kind === kind).map((r) => [r.off, r.len]);
  }

  private hits(kind: IoKind, off: number, len: number): boolean {
    if (!this.enabled || len === 0) return false;
    return this.rules.some((r) => r.kind === kind && off < r.off + r.len && r.off < off + len);
  }

  read(off: number, buf: Uint8Array): void {
    validateRead(this, off, buf);
    const failed = this.hits('read', off, buf.length);
    this.stats.reads++;
    this.log.push({ kind: 'read', off, len: buf.length, failed });
    if (failed) {
      this.stats.failedReads++;
      throw new FsError(EIO, `${this.name}: injected read error at [${off}, ${off + buf.length})`);
    }
    this.stats.readBytes += buf.length;
    this.inner.read(off, buf);
  }

  write(off: number, data: Uint8Array, opts?: WriteOptions): void {
    validateWrite(this, off, data, opts);
    const failed = this.hits('write', off, data.length);
    this.stats.writes++;
    this.log.push({ kind: 'write', off, len: data.length, failed });
    if (failed) {
      this.stats.failedWrites++;
      throw new FsError(EIO, `${this.name}: injected write error at [${off}, ${off + data.length})`);
    }
    this.stats.writeBytes += data.length;
    this.inner.write(off, data, opts);
  }

  flush(): void {
    checkOpen(this, 'flush');
    this.stats.flushes++;
    this.log.push({ kind: 'flush', off: 0, len: 0, failed: false });
    this.inner.flush();
  }

  discard(off: number, len: number): void {
    validateDiscard(this, off, len);
    this.stats.discards++;
    this.log.push({ kind: 'discard', off, len, failed: false });
    this.inner.discard(off, len);
  }

  close(): void {
    checkOpen(this, 'close');
    this.inner.close();
  }
}
