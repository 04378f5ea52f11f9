/**
 * A user buffer as an iov_iter: the source of a write or the destination of a read. It can be
 * made partly unfaultable (`faultAt`): bytes from that index on cannot be copied, which is how
 * the model produces the short copies of contract §5.2 (and the delalloc release path of rule 24)
 * deterministically.
 */
export class IovIter {
  readonly buf: Uint8Array;
  /** Bytes consumed so far. */
  off = 0;
  /** Index of the first byte that faults (Infinity: none). */
  readonly faultAt: number;

  constructor(buf: Uint8Array, faultAt = Infinity) {
    this.buf = buf;
    this.faultAt = faultAt;
  }

  get count(): number {
    return this.buf.length - this.off;
  }

  /** fault_in_iov_iter_readable(): bytes of the next `bytes` that could NOT be faulted in. */
  faultInReadable(bytes: number): number {
    const ok = Math.max(0, Math.min(bytes, this.faultAt - this.off));
    return bytes - ok;
  }

  /** copy_folio_from_iter_atomic(): copy up to `bytes` into dst at dstOff; stops at a fault. */
  copyFrom(dst: Uint8Array, dstOff: number, bytes: number): number {
    const n = Math.max(0, Math.min(bytes, this.faultAt - this.off, this.count));
    if (n > 0) dst.set(this.buf.subarray(this.off, this.off + n), dstOff);
    this.off += n;
    return n;
  }

  /** copy_to_iter(): copy `bytes` from src into the user buffer; stops at a fault. */
  copyTo(src: Uint8Array, bytes: number): number {
    const n = Math.max(0, Math.min(bytes, this.faultAt - this.off, this.count));
    if (n > 0) this.buf.set(src.subarray(0, n), this.off);
    this.off += n;
    return n;
  }

  /** iov_iter_zero(). */
  zero(bytes: number): number {
    const n = Math.max(0, Math.min(bytes, this.faultAt - this.off, this.count));
    if (n > 0) this.buf.fill(0, this.off, this.off + n);
    this.off += n;
    return n;
  }

  advance(n: number): void {
    this.off += n;
  }

  revert(n: number): void {
    this.off -= n;
  }
}
