/**
 * The shared part of the device wrappers (CrashDevice, FaultDevice): a BlockDevice in front of
 * another one, whose geometry and open/closed state are the inner device's. The wrappers add
 * what happens to the requests (logging, faults) by implementing the I/O methods.
 */
import type { BlockDevice, WriteOptions } from './types';

export abstract class WrappedDevice implements BlockDevice {
  readonly inner: BlockDevice;
  abstract readonly name: string;

  protected constructor(inner: BlockDevice) {
    this.inner = inner;
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

  abstract read(off: number, buf: Uint8Array): void;
  abstract write(off: number, data: Uint8Array, opts?: WriteOptions): void;
  abstract flush(): void;
  abstract discard(off: number, len: number): void;
  abstract close(): void;
}
