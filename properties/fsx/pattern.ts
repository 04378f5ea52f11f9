/**
 * fsx's data pattern (gendata): the byte written at file offset `o` by op number `n` is
 *   n % 256                     when o is even,
 *   (n + original[o]) % 256     when o is odd,
 * so any stale byte found later names the op (mod 256) that wrote it: the even byte of each pair
 * holds the op number. `original` is a seeded random buffer. fsx sizes it to the largest file; we
 * make it periodic (PATTERN_PERIOD bytes) so any offset up to 2^53 works.
 *
 * Generating a write is a subarray of a cached per-(n mod 256) buffer, no per-byte loop: each cache
 * entry is built once (lazily) and is twice the period long, so every window of up to a period
 * starting anywhere in the period is contiguous. Longer writes are assembled from period-sized copies.
 */

import { Prng } from './generator';

export const PATTERN_PERIOD = 65536;

export class Pattern {
  readonly seed: number;
  private readonly original: Uint8Array;
  /** The pattern of op 0 (even bytes 0, odd bytes original), as 32-bit words. */
  private readonly base: Uint32Array;
  private readonly cache: (Buffer | undefined)[] = new Array<Buffer | undefined>(256);
  private scratch: Buffer = Buffer.alloc(0);

  private constructor(seed: number) {
    this.seed = seed;
    const rng = new Prng(seed ^ 0x5eed0f5a);
    this.original = new Uint8Array(PATTERN_PERIOD);
    for (let i = 0; i < PATTERN_PERIOD; i += 4) {
      const r = rng.next32();
      this.original[i] = r & 255;
      this.original[i + 1] = (r >>> 8) & 255;
      this.original[i + 2] = (r >>> 16) & 255;
      this.original[i + 3] = r >>> 24;
    }
    const b0 = new Uint8Array(PATTERN_PERIOD);
    for (let j = 1; j < PATTERN_PERIOD; j += 2) b0[j] = this.original[j];
    this.base = new Uint32Array(b0.buffer);
  }

  private static recent: Pattern[] = [];

  /** The pattern for a seed (the two most recent ones are kept: building them is not free). */
  static forSeed(seed: number): Pattern {
    for (const p of Pattern.recent) if (p.seed === seed) return p;
    const p = new Pattern(seed);
    Pattern.recent.unshift(p);
    if (Pattern.recent.length > 2) Pattern.recent.pop();
    return p;
  }

  private buffer(n: number): Buffer {
    const k = n & 255;
    let b = this.cache[k];
    if (b === undefined) {
      // Add k to every byte of the k=0 pattern, four bytes per step, without carries between bytes.
      const ab = new ArrayBuffer(2 * PATTERN_PERIOD);
      const w = new Uint32Array(ab, 0, PATTERN_PERIOD / 4);
      const base = this.base;
      const kk = Math.imul(k, 0x01010101);
      const kLow = kk & 0x7f7f7f7f;
      for (let j = 0; j < w.length; j++) {
        const x = base[j];
        w[j] = ((x & 0x7f7f7f7f) + kLow) ^ ((x ^ kk) & 0x80808080);
      }
      b = Buffer.from(ab);
      b.copy(b, PATTERN_PERIOD, 0, PATTERN_PERIOD);
      this.cache[k] = b;
    }
    return b;
  }

  /**
   * The bytes op `n` writes at [off, off+len). The result is a view into shared memory, valid until
   * the next call: callers copy it (the target and the oracle both do).
   */
  data(n: number, off: number, len: number): Buffer {
    const b = this.buffer(n);
    const start = off % PATTERN_PERIOD;
    if (len <= PATTERN_PERIOD) return b.subarray(start, start + len);
    if (this.scratch.length < len) this.scratch = Buffer.allocUnsafe(len);
    const out = this.scratch;
    for (let pos = 0; pos < len; pos += PATTERN_PERIOD) b.copy(out, pos, start, start + Math.min(PATTERN_PERIOD, len - pos));
    return out.subarray(0, len);
  }

  /** The byte op `n` writes at offset `off`. */
  byteAt(n: number, off: number): number {
    return (n + (off % 2 === 1 ? this.original[off % PATTERN_PERIOD] : 0)) & 255;
  }
}

/**
 * fsx's guess of which op wrote a bad byte: the even byte of its 2-byte pair holds the op number
 * (mod 256). `data` is what was read, `index` the bad byte in it, `off` its file offset. Returns 0
 * when unknown (fsx then says "check HOLE and EXTEND ops").
 */
export function opOfBadByte(data: Uint8Array, index: number, off: number): number {
  const i = off % 2 === 1 ? index + 1 : index;
  return i < data.length ? data[i] : 0;
}
