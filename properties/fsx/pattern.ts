/**
 * fsx's data pattern (gendata): the byte written at file offset `o` by op number `n` is
 *   n % 256                     when o is even,
 *   (n + original[o]) % 256     when o is odd,
 * so any stale byte found later names the op (mod 256) that wrote it: the even byte of each pair
 * holds the op number. `original` is a seeded random buffer. fsx sizes it to the largest file; we
 * make it periodic (PATTERN_PERIOD bytes) so any offset up to 2^53 works.
 *
 * Generating a write computes just the bytes asked for from the op-0 pattern, four bytes per step
 * (no per-byte loop, no table per op number: 256 cached periods were 32 MiB of every run's peak
 * memory), into one of a few rotating scratch buffers; asking again for the same bytes returns the
 * same view without recomputing (the runner asks once for the target and once for the oracle).
 */

import { Prng } from './generator';

export const PATTERN_PERIOD = 65536;
/** Scratch areas a Pattern rotates through (see data()). */
const SCRATCHES = 4;

export class Pattern {
  readonly seed: number;
  private readonly original: Uint8Array;
  /** The pattern of op 0 (even bytes 0, odd bytes original), as 32-bit words. */
  private readonly base: Uint32Array;
  /** Rotating scratch areas, so a result stays valid across the next SCRATCHES - 1 calls. */
  private readonly scratch: Uint32Array[] = [];
  private next = 0;
  /** The arguments and result of the last call (asked again for the same bytes: the same view). */
  private lastN = -1;
  private lastOff = -1;
  private lastLen = -1;
  private last: Buffer = Buffer.alloc(0);

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

  /**
   * The bytes op `n` writes at [off, off+len). The result is a view into scratch memory, valid
   * until SCRATCHES - 1 more calls for other bytes: callers that keep it longer copy it (the
   * target and the oracle both copy what they are given).
   */
  data(n: number, off: number, len: number): Buffer {
    if (n === this.lastN && off === this.lastOff && len === this.lastLen) return this.last;
    const start = off % PATTERN_PERIOD;
    const shift = start & 3;
    const words = (shift + len + 3) >>> 2;
    const out = this.scratchOf(words);
    this.fill(out, n & 255, start >>> 2, words);
    this.lastN = n;
    this.lastOff = off;
    this.lastLen = len;
    this.last = Buffer.from(out.buffer, shift, len);
    return this.last;
  }

  /** The next scratch area in the ring, grown to hold `words` 32-bit words. */
  private scratchOf(words: number): Uint32Array {
    const i = this.next;
    this.next = (i + 1) % SCRATCHES;
    let s = this.scratch[i];
    if (s === undefined || s.length < words) {
      s = new Uint32Array(Math.max(words, 1024));
      this.scratch[i] = s;
    }
    return s;
  }

  /**
   * Op k's pattern words from word `w0` of the period on, `words` of them (wrapping at the
   * period's end): add k to every byte of the op-0 pattern, four bytes per step, without carries
   * between bytes.
   */
  private fill(out: Uint32Array, k: number, w0: number, words: number): void {
    const base = this.base;
    const kk = Math.imul(k, 0x01010101);
    const kLow = kk & 0x7f7f7f7f;
    const mask = PATTERN_PERIOD / 4 - 1;
    for (let j = 0; j < words; j++) {
      const x = base[(w0 + j) & mask];
      out[j] = ((x & 0x7f7f7f7f) + kLow) ^ ((x ^ kk) & 0x80808080);
    }
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
