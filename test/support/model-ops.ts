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
import '../../properties/contract/monitor';
import { blockIsData } from '../../properties/suites/checks';

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
  | { op: 'copy'; src: number; len: number; dst: number }
  | { op: 'dread'; off: number; len: number }
  | { op: 'dwrite'; off: number; len: number; seed: number }
  | { op: 'seek'; off: number }
  | { op: 'fiemap'; off: number; len: number };

export interface Geometry {
  blockSize: number;
  folioSize: number;
  inlineMax?: number;
  /** The API generation refs runs its ops tables in (default 6.12). */
  api?: IomapApi;
}

import type { BlockDevice } from '../../reference/device/types';
import type { IomapApi } from '../../reference/iomap/types';

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
    const { fsys, monitor } = mountWithMonitor(refsFsAdapter, this.dev, this.geo.folioSize, true, undefined, this.geo.api);
    this.monitor = monitor as ContractMonitor;
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
      case 'dropcaches':
        // drop_caches writes nothing back: a polluted EOF folio is dirty, so it stays (junk and all).
        this.fh.close();
        this.fsys.dropCaches();
        this.fh = this.fsys.open('f');
        this.polluted &&= this.size > 0 && this.fh.inode.mapping.folioAt(this.size - 1) !== undefined;
        break;
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
      case 'dread': {
        const off = o.off - (o.off % 512);
        const len = Math.max(512, o.len - (o.len % 512));
        const got = this.fh.directRead(off, len);
        const exp = this.good.subarray(Math.min(off, this.size), Math.min(off + len, this.size));
        this.compare(off, got, exp, 'direct read');
        break;
      }
      case 'dwrite': {
        const data = pattern(o.seed, o.len);
        if (o.off % 512 || o.len % 512) {
          // O_DIRECT needs logical-sector alignment of offset and length (file-ops §11).
          const sizeBefore = this.fh.size;
          this.expectError('EINVAL', () => this.fh.directWrite(o.off, data));
          if (this.fh.size !== sizeBefore) this.fail('a rejected direct write changed the size');
          break;
        }
        const n = this.fh.directWrite(o.off, data);
        if (n !== o.len) this.fail(`direct write returned ${n}, expected ${o.len}`);
        if (o.off > this.size) this.setSize(o.off);
        this.setSize(Math.max(this.size, o.off + n));
        this.good.set(data, o.off);
        break;
      }
      case 'seek': this.checkSeek(this.size ? o.off % (this.size + 1) : 0); break;
      case 'fiemap': this.checkFiemap(o.off, o.len); break;
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

  /** The independent per-block "data" classification for SEEK (properties/suites/checks.ts). */
  private blockIsData(b: number): boolean {
    return blockIsData(this.fsys.fs, this.fh.inode, b);
  }

  /**
   * SEEK_DATA / SEEK_HOLE at `off` against the classification, as an envelope (file-ops
   * §14.16–17): reporting zeroes as data is allowed (the kernel even reports the end of an
   * uncached unwritten segment as data when later blocks of the same folio are cached), reporting
   * data as a hole is not. So SEEK_DATA lies in [off, first classified data byte], SEEK_HOLE
   * starts a classified hole (or is EOF), and no non-zero byte lies inside a reported hole.
   */
  private checkSeek(off: number): void {
    const size = this.size;
    if (off >= size) {
      this.expectError('ENXIO', () => this.fh.seekData(off));
      this.expectError('ENXIO', () => this.fh.seekHole(off));
      return;
    }
    const bs = this.bs;
    let firstData = Infinity;
    for (let b = Math.floor(off / bs); b * bs < size; b++) if (this.blockIsData(b)) { firstData = Math.max(off, b * bs); break; }
    let d: number | null = null;
    try { d = this.fh.seekData(off); } catch (e) { if (!(e instanceof FsError && e.code === 'ENXIO')) throw e; }
    if (d === null) {
      if (firstData !== Infinity) this.fail(`SEEK_DATA(${off}) = ENXIO but block ${Math.floor(firstData / bs)} holds data`);
    } else if (d < off || d >= size || d > firstData) {
      this.fail(`SEEK_DATA(${off}) = ${d}, outside [${off}, ${Math.min(firstData, size - 1)}]`);
    }
    const h = this.fh.seekHole(off);
    if (h < off || h > size) this.fail(`SEEK_HOLE(${off}) = ${h} outside [${off}, ${size}]`);
    if (h < size && this.blockIsData(Math.floor(h / bs))) this.fail(`SEEK_HOLE(${off}) = ${h} lies in data block ${Math.floor(h / bs)}`);
    let end = size;
    try { end = this.fh.seekData(h); } catch { end = size; }
    if (this.good.subarray(h, Math.min(end, size)).some((x) => x !== 0)) this.fail(`non-zero data inside the reported hole [${h}, ${end})`);
  }

  /** FIEMAP shape (file-ops §14.19) and coverage of every block against the fs's own state. */
  private checkFiemap(offArg: number, lenArg: number): void {
    if (this.size === 0) return;
    const off = offArg % this.size;
    const len = Math.max(1, Math.min(lenArg, this.size - off));
    const ext = this.fh.fiemap(off, len, 0);
    const bs = this.bs;
    const snap = this.fsys.fs.introspect!.snapshot(this.fh.inode);
    const inline = this.fsys.fs.describeBlock(this.fh.inode, 0) === 'inline';
    let prevEnd = -1;
    ext.forEach((e, i) => {
      if (e.length <= 0 || e.logical < prevEnd) this.fail(`FIEMAP extents unsorted/overlapping/empty: ${JSON.stringify(ext)}`);
      prevEnd = e.logical + e.length;
      const last = (e.flags & 1) !== 0;
      if (last !== (i === ext.length - 1)) this.fail(`FIEMAP LAST flag on extent ${i} of ${ext.length}`);
      if ((e.flags & 0x4) && !(e.flags & 0x2)) this.fail('FIEMAP DELALLOC without UNKNOWN');
    });
    if (inline) return;
    for (let b = Math.floor(off / bs); b * bs < off + len; b++) {
      const st = snap.block(b);
      const e = ext.find((x) => b * bs >= x.logical && b * bs < x.logical + x.length);
      if (st.state === 'hole') {
        if (e) this.fail(`FIEMAP reports an extent over hole block ${b}`);
        continue;
      }
      if (!e) { this.fail(`FIEMAP misses ${st.state} block ${b}`); continue; }
      const unwritten = (e.flags & 0x800) !== 0;
      const delalloc = (e.flags & 0x4) !== 0;
      const shared = (e.flags & 0x2000) !== 0;
      if ((st.state === 'unwritten') !== unwritten || (st.state === 'delalloc') !== delalloc) {
        this.fail(`FIEMAP flags 0x${e.flags.toString(16)} for ${st.state} block ${b}`);
      }
      if (st.pblk !== undefined && e.physical + (b * bs - e.logical) !== st.pblk * bs) this.fail(`FIEMAP physical of block ${b} wrong`);
      if (!!st.shared !== shared) this.fail(`FIEMAP SHARED ${shared} for block ${b} (shared ${!!st.shared})`);
    }
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

/** xorshift32: a seeded source of numbers in [0, m) for the tests' random op mixes. */
export function rng(seed: number): (m: number) => number {
  let x = seed >>> 0 || 1;
  return (m) => {
    x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
    return x % m;
  };
}

/**
 * One op of the mix the model soak and the monitor's long run share (kind `k`, drawn with `r`;
 * op `i` names its data), or null for a kind each of them draws its own way (direct I/O, SEEK,
 * FIEMAP, ...). The draws happen in a fixed order, so a seed gives the same ops everywhere.
 */
export function sharedMixOp(k: string, r: (m: number) => number, i: number, off: number, len: number): ModelOp | null {
  switch (k) {
    case 'write': return r(10) ? { op: 'write', off, len, seed: i } : { op: 'write', off, len, seed: i, faultAt: r(len + 1) };
    case 'read': return { op: 'read', off, len };
    case 'truncate': return { op: 'truncate', size: r(180 * 1024) };
    case 'mapwrite': return { op: 'mapwrite', off, len, seed: i, msync: r(4) === 0 };
    case 'mapread': return { op: 'mapread', off, len };
    case 'falloc': return { op: 'falloc', mode: [0, 1, 2, 0x10, 0x11, 0x08, 0x20, 0x40, 0x41][r(9)], off, len };
    case 'clone': return { op: 'clone', src: r(64), len, dst: off };
    case 'dedupe': return { op: 'dedupe', src: r(64), len, dst: r(64) };
    case 'copy': return { op: 'copy', src: r(160 * 1024), len, dst: off };
    case 'fsync': return { op: 'fsync' };
    case 'writeback': return { op: 'writeback' };
    case 'complete': return { op: 'complete', which: r(8) };
    case 'evict': return { op: 'evict', pos: r(160 * 1024) };
    case 'dropcaches': return { op: 'dropcaches' };
    case 'pollute': return { op: 'pollute', seed: i };
    case 'remount': return { op: 'remount' };
    default: return null;
  }
}
