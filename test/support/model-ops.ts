/**
 * A small random-op driver for the reference model used by the property tests: applies an op to
 * a mounted refs file and to a plain byte array, and checks reads, sizes, mmap tails and the
 * model invariants after every step.
 */
import { IomapFs, FileHandle } from '../../reference/file';
import { MemoryDevice } from '../../reference/device/memory';
import { FsError } from '../../reference/errno';
import { mountWithMonitor } from '../../adapters/reference';
import { refsFsAdapter } from '../../adapters/fs-adapter';
import type { ContractMonitor } from '../../properties/contract/monitor';

export type ModelOp =
  | { op: 'write'; off: number; len: number; seed: number; faultAt?: number }
  | { op: 'read'; off: number; len: number }
  | { op: 'truncate'; size: number }
  | { op: 'mapwrite'; off: number; len: number; seed: number; msync: boolean }
  | { op: 'mapread'; off: number; len: number }
  | { op: 'fsync' }
  | { op: 'dropcaches' }
  | { op: 'remount' }
  | { op: 'writeback' }
  | { op: 'complete'; which: number }
  | { op: 'evict'; pos: number }
  | { op: 'pollute'; seed: number }
  | { op: 'falloc'; mode: number; off: number; len: number }
  | { op: 'clone'; src: number; len: number; dst: number }
  | { op: 'dedupe'; src: number; len: number; dst: number }
  | { op: 'copy'; src: number; len: number; dst: number };

export interface Geometry {
  blockSize: number;
  folioSize: number;
  inlineMax?: number;
}

import type { BlockDevice } from '../../reference/device/types';

export function pattern(seed: number, len: number): Uint8Array {
  const out = new Uint8Array(len);
  let x = (seed * 2654435761) >>> 0 || 1;
  for (let i = 0; i < len; i++) {
    x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
    out[i] = (x & 0xff) | 1;
  }
  return out;
}

export class ModelHarness {
  dev: BlockDevice;
  fsys: IomapFs;
  fh: FileHandle;
  good = new Uint8Array(0);
  size = 0;
  readonly geo: Geometry;
  log: string[] = [];
  monitor!: ContractMonitor;
  /**
   * Garbage was stored past EOF in the EOF page through mmap (fsx -e). Linux lets mmap readers
   * keep seeing it past the (possibly new) EOF until writeback zeroes the EOF folio or a
   * truncate down zeroes it; [old size, new size) of any extension must read zero regardless.
   */
  polluted = false;

  constructor(geo: Geometry, dev?: BlockDevice) {
    this.geo = geo;
    this.dev = dev ?? new MemoryDevice({ size: 1 << 30 });
    IomapFs.mkfs(this.dev, { blockSize: geo.blockSize, inlineMax: geo.inlineMax });
    this.fsys = this.mountFs();
    this.fh = this.fsys.open('f', { create: true });
  }

  /** Mount refs through the reference generic layer with the contract monitor on every callback. */
  private mountFs(): IomapFs {
    const { fsys, monitor } = mountWithMonitor(refsFsAdapter, this.dev, this.geo.folioSize, true);
    this.monitor = monitor!;
    return fsys;
  }

  private setSize(n: number): void {
    if (n > this.good.length) {
      const g = new Uint8Array(Math.max(n, this.good.length * 2));
      g.set(this.good);
      this.good = g;
    }
    if (n < this.size) this.good.fill(0, n, this.size);
    this.size = n;
  }

  private fail(msg: string): never {
    throw new Error(`${msg}\n  after: ${this.log.slice(-12).join('\n         ')}`);
  }

  apply(o: ModelOp): void {
    this.log.push(JSON.stringify(o));
    switch (o.op) {
      case 'write': {
        const data = pattern(o.seed, o.len);
        if (o.faultAt === 0) {
          // Not one byte of the user buffer can be faulted in: the write fails with EFAULT.
          this.expectError('EFAULT', () => this.fh.pwrite(o.off, data, { faultAt: 0 }));
          if (o.off > this.size) this.setSize(o.off); // the EOF gap was zeroed and i_size is unchanged
          this.size = Math.min(this.size, this.fh.size);
          break;
        }
        const n = this.fh.pwrite(o.off, data, o.faultAt !== undefined ? { faultAt: o.faultAt } : {});
        const expectMax = o.faultAt !== undefined ? Math.min(o.len, o.faultAt) : o.len;
        if (o.faultAt === undefined && n !== o.len) this.fail(`short write ${n} != ${o.len}`);
        if (n > expectMax) this.fail(`write returned ${n} > ${expectMax}`);
        if (o.off > this.size) this.setSize(o.off);
        this.setSize(Math.max(this.size, o.off + n));
        this.good.set(data.subarray(0, n), o.off);
        break;
      }
      case 'read': {
        const got = this.fh.pread(o.off, o.len);
        const exp = this.good.subarray(Math.min(o.off, this.size), Math.min(o.off + o.len, this.size));
        this.compare(o.off, got, exp, 'read');
        break;
      }
      case 'truncate':
        this.fh.truncate(o.size);
        // Truncating down zeroes the new EOF folio past EOF; growing only zeroes [old, new).
        if (o.size < this.size) this.polluted = false;
        this.setSize(o.size);
        break;
      case 'mapwrite': {
        if (this.size === 0) return;
        const off = o.off % this.size;
        const len = Math.min(o.len, this.size - off);
        if (len === 0) return;
        const data = pattern(o.seed, len);
        this.fh.mmapWrite(off, data, { msync: o.msync });
        this.good.set(data, off);
        break;
      }
      case 'mapread': {
        if (this.size === 0) {
          this.expectSigbus(() => this.fh.mmapRead(0, 1));
          return;
        }
        const off = o.off % this.size;
        const lastPageEnd = Math.ceil(this.size / 4096) * 4096;
        const len = Math.min(o.len, lastPageEnd - off);
        const got = this.fh.mmapRead(off, len);
        const inFile = Math.max(0, Math.min(len, this.size - off));
        this.compare(off, got.subarray(0, inFile), this.good.subarray(off, off + inFile), 'mapread');
        // Bytes past EOF in the last page must read as zero (fsx check_eofpage) unless a mmap
        // store put them there since the last size change; the property only maps within EOF.
        if (!this.polluted) {
          for (let i = inFile; i < len; i++) if (got[i] !== 0) this.fail(`mapread: non-zero byte past EOF at ${off + i}`);
        }
        if (off + len >= lastPageEnd) this.expectSigbus(() => this.fh.mmapRead(lastPageEnd, 1));
        break;
      }
      case 'fsync': this.fh.fsync(); this.polluted = false; break; // writeback zeroes the EOF folio past EOF
      case 'dropcaches': this.fh.close(); this.fsys.dropCaches(); this.fh = this.fsys.open('f'); this.polluted = false; break;
      case 'remount':
        this.polluted = false;
        this.fh.close();
        this.fsys.unmount();
        this.fsys = this.mountFs();
        this.fh = this.fsys.open('f');
        break;
      case 'writeback': this.fh.writebackNow(); break;
      case 'complete': {
        const q = this.fsys.queue;
        if (q.pending.length) q.completeAt(o.which % q.pending.length);
        break;
      }
      case 'evict': if (this.size) this.fh.evict(o.pos % this.size); break;
      case 'falloc': this.falloc(o.mode, o.off, o.len); break;
      case 'clone': this.clone(o.src, o.len, o.dst); break;
      case 'dedupe': this.dedupe(o.src, o.len, o.dst); break;
      case 'copy': {
        const src = this.size ? o.src % this.size : 0;
        const len = Math.min(o.len, this.size - src);
        if (len > 0 && src < o.dst + len && o.dst < src + len) {
          this.expectError('EINVAL', () => this.fh.copyRange(src, o.len, o.dst));
          break;
        }
        const n = this.fh.copyRange(src, o.len, o.dst);
        if (n !== len) this.fail(`copy_file_range returned ${n}, expected ${len}`);
        if (n > 0) {
          const data = this.good.slice(src, src + n);
          if (o.dst > this.size) this.setSize(o.dst);
          this.setSize(Math.max(this.size, o.dst + n));
          this.good.set(data, o.dst);
        }
        break;
      }
      case 'pollute': {
        const pageEnd = Math.ceil(this.size / 4096) * 4096;
        if (this.size === 0 || pageEnd === this.size) break;
        this.fh.mmapWrite(this.size, pattern(o.seed, pageEnd - this.size), { msync: false });
        this.polluted = true;
        break;
      }
    }
    if (this.fh.size !== this.size) this.fail(`size ${this.fh.size} != expected ${this.size}`);
    this.monitor.checkQuiescent();
    const inv = this.fsys.checkInvariants();
    if (inv.length) this.fail(`invariants: ${inv.join('; ')}`);
  }

  private get bs(): number {
    return this.geo.blockSize;
  }

  /** fallocate with the expected outcome worked out from file-ops §3 (xfs semantics). */
  private falloc(mode: number, off: number, len: number): void {
    const bs = this.bs;
    const keep = (mode & 1) !== 0;
    const end = off + len;
    switch (mode & ~1) {
      case 0:
        this.fh.fallocate(mode, off, len);
        if (!keep && end > this.size) this.setSize(end);
        return;
      case 0x02:
        this.fh.fallocate(0x03, off, len);
        if (off < this.size) this.good.fill(0, off, Math.min(end, this.size));
        return;
      case 0x10:
        this.fh.fallocate(mode, off, len);
        if (!keep && end > this.size) this.setSize(end);
        if (off < this.size) this.good.fill(0, off, Math.min(end, this.size));
        return;
      case 0x08: {
        const o2 = off - (off % bs);
        const l2 = Math.max(bs, len - (len % bs));
        if (o2 + l2 >= this.size) {
          this.expectError('EINVAL', () => this.fh.fallocate(0x08, o2, l2));
          return;
        }
        this.fh.fallocate(0x08, o2, l2);
        const tail = this.good.slice(o2 + l2, this.size);
        this.good.set(tail, o2);
        this.setSize(this.size - l2);
        return;
      }
      case 0x20: {
        const o2 = off - (off % bs);
        const l2 = Math.max(bs, len - (len % bs));
        if (o2 >= this.size) {
          this.expectError('EINVAL', () => this.fh.fallocate(0x20, o2, l2));
          return;
        }
        this.fh.fallocate(0x20, o2, l2);
        const old = this.size;
        const tail = this.good.slice(o2, old);
        this.setSize(old + l2);
        this.good.set(tail, o2 + l2);
        this.good.fill(0, o2, o2 + l2);
        return;
      }
      case 0x40:
        this.fh.fallocate(mode, off, len);
        if (!keep && end > this.size) this.setSize(end);
        return;
    }
  }

  /** FICLONERANGE within the file with arguments made mostly valid; validity per file-ops §4. */
  private clone(srcArg: number, lenArg: number, dstArg: number): void {
    const bs = this.bs;
    if (this.size === 0) {
      this.expectError('EINVAL', () => this.fh.cloneRange(0, bs, 0));
      return;
    }
    const src = (srcArg % Math.ceil(this.size / bs)) * bs;
    let len = Math.max(1, Math.ceil(lenArg / bs)) * bs;
    if (src + len > this.size) len = this.size - src; // ends exactly at the source EOF
    const dst = dstArg - (dstArg % bs);
    const nblk = Math.ceil(len / bs);
    const overlap = src < dst + nblk * bs && dst < src + nblk * bs;
    const partialInside = len % bs !== 0 && dst + len < this.size;
    if (overlap || partialInside) {
      const before = this.fh.pread(0, this.size);
      this.expectError('EINVAL', () => this.fh.cloneRange(src, len, dst));
      this.compare(0, this.fh.pread(0, this.size), before, 'failed clone changed the file');
      return;
    }
    this.fh.cloneRange(src, len, dst);
    const data = this.good.slice(src, src + len);
    if (dst > this.size) this.setSize(dst);
    this.setSize(Math.max(this.size, dst + len));
    this.good.set(data, dst);
  }

  private dedupe(srcArg: number, lenArg: number, dstArg: number): void {
    const bs = this.bs;
    const nb = Math.floor(this.size / bs);
    if (nb < 2) return;
    const src = (srcArg % nb) * bs;
    const dst = (dstArg % nb) * bs;
    let len = Math.min(Math.max(1, Math.ceil(lenArg / bs)) * bs, this.size - Math.max(src, dst));
    len -= len % bs;
    if (len <= 0) return;
    if (src < dst + len && dst < src + len) {
      this.expectError('EINVAL', () => this.fh.dedupeRange(src, len, dst));
      return;
    }
    const same = Buffer.compare(this.good.subarray(src, src + len), this.good.subarray(dst, dst + len)) === 0;
    const n = this.fh.dedupeRange(src, len, dst);
    if (n !== (same ? len : 0)) this.fail(`dedupe returned ${n}, expected ${same ? len : 0}`);
  }

  private expectSigbus(fn: () => unknown): void {
    this.expectError('SIGBUS', fn);
  }

  private expectError(code: string, fn: () => unknown): void {
    try {
      fn();
    } catch (e) {
      if (e instanceof FsError && e.code === code) return;
      throw e;
    }
    this.fail(`expected ${code}`);
  }

  compare(off: number, got: Uint8Array, exp: Uint8Array, what: string): void {
    if (got.length !== exp.length) this.fail(`${what} at ${off}: length ${got.length} != ${exp.length}`);
    if (Buffer.compare(got, exp) !== 0) {
      let i = 0;
      while (got[i] === exp[i]) i++;
      this.fail(`${what} mismatch at ${off + i}: got ${got[i]} expected ${exp[i]} (${this.fh.describe(off + i)})`);
    }
  }

  /** Full-file check, through pread. */
  checkAll(): void {
    this.compare(0, this.fh.pread(0, this.size), this.good.subarray(0, this.size), 'full read');
  }
}
