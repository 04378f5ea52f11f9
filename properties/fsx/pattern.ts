/**
 * fsx's data pattern (gendata): the byte written at file offset `o` by op number `n` is
 *   n % 256                     when o is even,
 *   (n + original[o]) % 256     when o is odd,
 * so any stale byte found later names the op (mod 256) that wrote it: the even byte of each pair
 * holds the op number. `original` is a seeded random buffer. fsx sizes it to the largest file; we
 * make it periodic (PATTERN_PERIOD bytes) so any offset up to 2^53 works.
 *
 * Generating a write adds n to every byte of op 0's pattern (no carries between bytes) into one
 * scratch area: no per-byte loop and no per-op allocation. Where WebAssembly SIMD is available
 * (Node >= 16) sixteen bytes at a time (i8x16.add, a tiny module written out below), else four at a
 * time in JavaScript; both give the same bytes. There is no per-(n mod 256) cache: 256 periods are
 * 32 MiB, and first-touching that much memory costs more than filling each write
 * (docs/benchmarks.md).
 */

import { Prng } from './generator';

export const PATTERN_PERIOD = 65536;

/**
 * The scratch area's layout (bytes): op 0's pattern twice over at [0, 2P), so any window of up to a
 * period starting inside the period is contiguous; what data() builds at OUT and beyond.
 */
const OUT = 2 * PATTERN_PERIOD;
const WASM_PAGE = 65536;
const LITTLE_ENDIAN = new Uint8Array(Uint32Array.of(1).buffer)[0] === 1;

/**
 * The SIMD filler, as WebAssembly text:
 *   (module
 *     (memory (export "mem") 4)
 *     (func (export "fill") (param $dst i32) (param $src i32) (param $n i32) (param $k i32)
 *       (local $v v128) (local $i i32)
 *       (local.set $v (i8x16.splat (local.get $k)))
 *       (block (loop
 *         (br_if 1 (i32.ge_u (local.get $i) (local.get $n)))
 *         (v128.store (i32.add (local.get $dst) (local.get $i))
 *           (i8x16.add (v128.load (i32.add (local.get $src) (local.get $i))) (local.get $v)))
 *         (local.set $i (i32.add (local.get $i) (i32.const 16)))
 *         (br 0)))))
 * i8x16.add wraps each byte on its own: exactly "add n mod 256 to every byte". $n is a multiple of 16.
 */
const FILL_WASM = new Uint8Array([
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // "\0asm", version 1
  0x01, 0x08, 0x01, 0x60, 0x04, 0x7f, 0x7f, 0x7f, 0x7f, 0x00, // type section: (i32 i32 i32 i32) -> ()
  0x03, 0x02, 0x01, 0x00, // function section: one function of type 0
  0x05, 0x03, 0x01, 0x00, 0x04, // memory section: 4 pages at least, no maximum
  0x07, 0x0e, 0x02, 0x03, 0x6d, 0x65, 0x6d, 0x02, 0x00, 0x04, 0x66, 0x69, 0x6c, 0x6c, 0x00, 0x00, // exports "mem", "fill"
  0x0a, 0x3a, 0x01, 0x38, // code section: one body of 56 bytes
  0x02, 0x01, 0x7b, 0x01, 0x7f, // locals: $v v128, $i i32
  0x20, 0x03, 0xfd, 0x0f, 0x21, 0x04, // $v = i8x16.splat($k)
  0x02, 0x40, 0x03, 0x40, // block, loop
  0x20, 0x05, 0x20, 0x02, 0x4f, 0x0d, 0x01, // br_if 1 ($i >= $n)
  0x20, 0x00, 0x20, 0x05, 0x6a, // $dst + $i
  0x20, 0x01, 0x20, 0x05, 0x6a, 0xfd, 0x00, 0x00, 0x00, // v128.load ($src + $i)
  0x20, 0x04, 0xfd, 0x6e, // i8x16.add $v
  0xfd, 0x0b, 0x00, 0x00, // v128.store
  0x20, 0x05, 0x41, 0x10, 0x6a, 0x21, 0x05, // $i += 16
  0x0c, 0x00, 0x0b, 0x0b, 0x0b, // br 0, end loop, end block, end function
]);

interface SimdFill {
  mem: { readonly buffer: ArrayBuffer; grow(pages: number): number };
  fill(dst: number, src: number, n: number, k: number): void;
}

/** The part of the WebAssembly global used here (the project's lib settings do not declare it). */
declare const WebAssembly: {
  validate(bytes: Uint8Array): boolean;
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: unknown };
};

/** An instance of the SIMD filler, or null where this engine has no WebAssembly SIMD. */
function simdFill(): SimdFill | null {
  try {
    if (typeof WebAssembly !== 'object' || !WebAssembly.validate(FILL_WASM)) return null;
    return new WebAssembly.Instance(new WebAssembly.Module(FILL_WASM), {}).exports as unknown as SimdFill;
  } catch {
    return null;
  }
}

export class Pattern {
  readonly seed: number;
  private readonly original: Uint8Array;
  /** The SIMD filler (its memory is the scratch area), or null: the JavaScript filler. */
  private readonly simd: SimdFill | null;
  /** The scratch area (the SIMD filler's memory, or an ArrayBuffer), as bytes and as words. */
  private bytes: Buffer;
  private words: Int32Array;

  private constructor(seed: number, useSimd: boolean) {
    this.seed = seed;
    const rng = new Prng(seed ^ 0x5eed0f5a);
    // Each 32-bit draw is four bytes, lowest first: on a little-endian machine (every one Node
    // runs on in practice) that is the word itself.
    const drawn = new Uint32Array(PATTERN_PERIOD / 4);
    for (let i = 0; i < drawn.length; i++) drawn[i] = rng.next32();
    if (LITTLE_ENDIAN) {
      this.original = new Uint8Array(drawn.buffer);
    } else {
      this.original = new Uint8Array(PATTERN_PERIOD);
      for (let i = 0; i < PATTERN_PERIOD; i++) this.original[i] = (drawn[i >> 2] >>> (8 * (i & 3))) & 255;
    }
    this.simd = useSimd ? simdFill() : null;
    const area = this.simd !== null ? this.simd.mem.buffer : new ArrayBuffer(OUT + PATTERN_PERIOD);
    this.bytes = Buffer.from(area);
    this.words = new Int32Array(area);
    // Op 0's pattern (even bytes 0, odd bytes original), twice over.
    if (LITTLE_ENDIAN) for (let i = 0; i < drawn.length; i++) this.words[i] = drawn[i] & 0xff00ff00;
    else for (let j = 1; j < PATTERN_PERIOD; j += 2) this.bytes[j] = this.original[j];
    this.bytes.copy(this.bytes, PATTERN_PERIOD, 0, PATTERN_PERIOD);
  }

  private static recent: Pattern[] = [];

  /** The pattern for a seed (the two most recent ones are kept: building them is not free). */
  static forSeed(seed: number): Pattern {
    for (const p of Pattern.recent) if (p.seed === seed) return p;
    const p = new Pattern(seed, true);
    Pattern.recent.unshift(p);
    if (Pattern.recent.length > 2) Pattern.recent.pop();
    return p;
  }

  /** A pattern that fills in JavaScript even where SIMD is available (tests compare the two). */
  static withoutSimd(seed: number): Pattern {
    return new Pattern(seed, false);
  }

  /** Whether data() fills with WebAssembly SIMD. */
  get usesSimd(): boolean {
    return this.simd !== null;
  }

  /** Make the scratch area hold `out` bytes at OUT. */
  private reserve(out: number): void {
    const need = OUT + out;
    if (need <= this.bytes.length) return;
    if (this.simd !== null) {
      this.simd.mem.grow(Math.ceil((need - this.bytes.length) / WASM_PAGE));
      this.bytes = Buffer.from(this.simd.mem.buffer);
      this.words = new Int32Array(this.simd.mem.buffer);
    } else {
      const area = new ArrayBuffer(need);
      new Uint8Array(area).set(this.bytes.subarray(0, OUT));
      this.bytes = Buffer.from(area);
      this.words = new Int32Array(area);
    }
  }

  /** n bytes (a multiple of 16) of op k's pattern from period offset src (< P) to OUT + at. */
  private fill(k: number, src: number, n: number, at: number): void {
    if (this.simd !== null) return this.simd.fill(OUT + at, src, n, k);
    const w = this.words;
    const kk = Math.imul(k, 0x01010101);
    const kLow = kk & 0x7f7f7f7f;
    const from = src >> 2;
    const to = (OUT + at) >> 2;
    for (let j = 0; j < n >> 2; j++) {
      const x = w[from + j];
      // Add k to each byte of x without carries between bytes: the low 7 bits add, the top bit xors.
      w[to + j] = ((x & 0x7f7f7f7f) + kLow) ^ ((x ^ kk) & 0x80808080);
    }
  }

  /**
   * The bytes op `n` writes at [off, off+len). The result is a view into memory the next call
   * overwrites (or detaches): callers copy it (the target and the oracle both do) or use it before
   * asking again.
   */
  data(n: number, off: number, len: number): Buffer {
    const head = off % 16;
    const total = Math.ceil((head + len) / 16) * 16;
    this.reserve(total);
    // Byte j of the area at OUT is period offset (src + j) mod P: one period-long piece at a time.
    const src = (off - head) % PATTERN_PERIOD;
    for (let at = 0; at < total; at += PATTERN_PERIOD) this.fill(n & 255, src, Math.min(PATTERN_PERIOD, total - at), at);
    return this.bytes.subarray(OUT + head, OUT + head + len);
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
