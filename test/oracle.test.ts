import { strict as assert } from 'assert';
import fc from 'fast-check';
import { DENSE_FILE_LIMIT, MAX_OFFSET, SparseBytes, oracleChunkSize } from '../properties/oracle/bytes';
import { RangeSet } from '../reference/ranges';
import { opOfBadByte, Pattern, PATTERN_PERIOD } from '../properties/fsx/pattern';

/** The obvious dense model the sparse oracle must agree with. */
class Dense {
  bytes = new Uint8Array(0);
  size = 0;
  private grow(n: number): void {
    if (n <= this.bytes.length) return;
    const b = new Uint8Array(n);
    b.set(this.bytes);
    this.bytes = b;
  }
  write(off: number, d: Uint8Array): void {
    if (d.length === 0) return; // pwrite of 0 bytes changes nothing
    this.grow(off + d.length);
    this.bytes.set(d, off);
    this.size = Math.max(this.size, off + d.length);
  }
  truncate(n: number): void {
    this.grow(n);
    if (n < this.size) this.bytes.fill(0, n, this.size);
    this.size = n;
  }
  zero(off: number, len: number): void {
    this.grow(off + len);
    this.bytes.fill(0, off, off + len);
  }
  collapse(off: number, len: number): void {
    this.bytes.copyWithin(off, off + len, this.size);
    this.bytes.fill(0, this.size - len, this.size);
    this.size -= len;
  }
  insert(off: number, len: number): void {
    this.grow(this.size + len);
    this.bytes.copyWithin(off + len, off, this.size);
    this.bytes.fill(0, off, off + len);
    this.size += len;
  }
  copyWithin(src: number, len: number, dst: number): void {
    if (len === 0) return;
    this.grow(Math.max(src, dst) + len);
    this.bytes.copyWithin(dst, src, src + len);
    this.size = Math.max(this.size, dst + len);
  }
  view(off: number, len: number): Uint8Array {
    this.grow(off + len);
    return this.bytes.subarray(off, off + len);
  }
}

type Op =
  | { k: 'write'; off: number; data: Uint8Array }
  | { k: 'truncate'; n: number }
  | { k: 'zero' | 'punch' | 'zeroRange' | 'zeroRangeKeep' | 'collapse' | 'insert'; off: number; len: number }
  | { k: 'copy'; src: number; len: number; dst: number }
  | { k: 'extend'; n: number };

const SPAN = 700;
const range = (k: 'zero' | 'punch' | 'zeroRange' | 'zeroRangeKeep' | 'collapse' | 'insert') =>
  ({ arbitrary: fc.record({ k: fc.constant(k), off: fc.nat(SPAN), len: fc.nat(300) }), weight: 2 });
const opArb: fc.Arbitrary<Op> = fc.oneof(
  { arbitrary: fc.record({ k: fc.constant('write' as const), off: fc.nat(SPAN), data: fc.uint8Array({ minLength: 0, maxLength: 200, min: 1 }) }), weight: 6 },
  { arbitrary: fc.record({ k: fc.constant('truncate' as const), n: fc.nat(SPAN) }), weight: 1 },
  range('zero'), range('punch'), range('zeroRange'), range('zeroRangeKeep'), range('collapse'), range('insert'),
  { arbitrary: fc.record({ k: fc.constant('copy' as const), src: fc.nat(SPAN), len: fc.nat(300), dst: fc.nat(SPAN) }), weight: 2 },
  { arbitrary: fc.record({ k: fc.constant('extend' as const), n: fc.nat(SPAN) }), weight: 1 },
);

function apply(o: Op, s: SparseBytes, d: Dense): void {
  switch (o.k) {
    case 'write': s.write(o.off, o.data); d.write(o.off, o.data); break;
    case 'truncate': s.truncate(o.n); d.truncate(o.n); break;
    case 'extend': s.extend(o.n); if (o.n > d.size) d.truncate(o.n); break;
    case 'zero': s.zero(o.off, o.len); d.zero(o.off, o.len); break;
    case 'punch':
      s.punch(o.off, o.len);
      if (o.off < d.size) d.zero(o.off, Math.min(o.len, d.size - o.off));
      break;
    case 'zeroRange':
    case 'zeroRangeKeep': {
      const keep = o.k === 'zeroRangeKeep';
      s.zeroRange(o.off, o.len, keep);
      if (o.off < d.size) d.zero(o.off, Math.min(o.len, d.size - o.off));
      if (!keep && o.off + o.len > d.size) d.truncate(o.off + o.len);
      break;
    }
    case 'collapse':
      if (o.off + o.len > d.size) return;
      s.collapse(o.off, o.len);
      d.collapse(o.off, o.len);
      break;
    case 'insert':
      if (o.off > d.size) return;
      s.insert(o.off, o.len);
      d.insert(o.off, o.len);
      break;
    case 'copy': s.copyWithin(o.src, o.len, o.dst); d.copyWithin(o.src, o.len, o.dst); break;
  }
}

function same(s: SparseBytes, d: Dense, ctx: string): void {
  assert.equal(s.size, d.size, `size after ${ctx}`);
  const n = d.size + 64; // and the bytes past EOF read zero
  const mm = s.compare(0, d.view(0, n));
  assert.equal(mm, null, `content after ${ctx}: ${JSON.stringify(mm)}`);
}

describe('sparse byte oracle', () => {
  for (const [chunk, inPlaceMoves] of [[16, true], [16, false], [64, true], [64, false], [4096, true]] as const) {
    it(`agrees with a dense byte array on random op sequences (chunk ${chunk}, ${inPlaceMoves ? 'in-place' : 'sparse'} moves)`, () => {
      fc.assert(fc.property(fc.array(opArb, { maxLength: 40 }), (ops) => {
        const s = new SparseBytes(chunk, { inPlaceMoves });
        const d = new Dense();
        ops.forEach((o, i) => {
          apply(o, s, d);
          same(s, d, `op ${i} ${o.k}`);
        });
        // Queries agree too.
        for (let off = 0; off < d.size; off += 37) {
          const len = Math.min(90, d.size - off);
          const fnz = s.firstNonZero(off, len);
          const v = d.view(off, len);
          const expect = v.findIndex((b) => b !== 0);
          assert.equal(fnz, expect < 0 ? -1 : off + expect);
          assert.equal(s.isZero(off, len), expect < 0);
          const other = (off * 7) % Math.max(1, d.size - len + 1);
          assert.equal(s.equalRanges(off, other, len), Buffer.compare(Buffer.from(d.view(off, len)), Buffer.from(d.view(other, len))) === 0);
        }
      }), { numRuns: 500 });
    });
  }

  it('reports the first mismatch with offset, index and both bytes', () => {
    const s = new SparseBytes(16);
    s.write(10, Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20]));
    const actual = s.read(8, 24);
    assert.equal(s.compare(8, actual), null);
    actual[15] ^= 0xff; // file offset 23, across the chunk boundary at 16
    actual[20] = 99;
    assert.deepEqual(s.compare(8, actual), { offset: 23, index: 15, expected: 14, actual: 14 ^ 0xff });
    // With a start index, the offset names the file position of actual[start].
    assert.deepEqual(s.compare(24, actual, 16), { offset: 28, index: 20, expected: 19, actual: 99 });
    // Past EOF the oracle holds zeroes.
    assert.deepEqual(s.compare(40, Uint8Array.from([0, 0, 7])), { offset: 42, index: 2, expected: 0, actual: 7 });
  });

  it('keeps memory proportional to the data written, at offsets up to 2^53-1', () => {
    const s = new SparseBytes();
    const far = 2 ** 52 + 12345;
    s.write(far, Buffer.from('hello'));
    s.write(7, Buffer.from('x'));
    assert.equal(s.size, far + 5);
    assert.equal(s.chunkCount(), 2);
    assert.equal(s.read(far - 1, 7).toString('latin1'), '\0hello\0');
    s.truncate(MAX_OFFSET);
    assert.equal(s.size, MAX_OFFSET);
    assert.equal(s.chunkCount(), 2);
    assert.ok(s.isZero(far + 5, MAX_OFFSET - far - 5));
    assert.equal(s.firstNonZero(8, MAX_OFFSET - 8), far);
    // Insert and collapse across a huge sparse tail move only the chunks that exist.
    s.truncate(far + 5);
    s.insert(4096, 2 ** 40);
    assert.equal(s.read(far + 2 ** 40, 5).toString(), 'hello');
    assert.equal(s.byteAt(7), 'x'.charCodeAt(0));
    s.collapse(4096, 2 ** 40);
    assert.equal(s.read(far, 5).toString(), 'hello');
    assert.equal(s.size, far + 5);
    s.copyWithin(far, 5, 2 ** 51);
    assert.equal(s.read(2 ** 51, 5).toString(), 'hello');
    assert.ok(s.chunkCount() <= 4, `chunks: ${s.chunkCount()}`);
    s.punch(0, MAX_OFFSET);
    assert.equal(s.chunkCount(), 0);
    assert.equal(s.size, far + 5);
  });

  it('names the stored ranges of far chunks alike whether it probes them one by one or searches them all, as chunks come and go', () => {
    // Chunks of 16 bytes: index 4096 and up live in the map of far chunks (offset 65536 and up).
    const far = 4096 * 16;
    const s = new SparseBytes(16);
    const written = new Set<number>();
    let x = 7;
    for (let i = 0; i < 300; i++) {
      x = (x * 1103515245 + 12345) % 2 ** 31;
      const off = far + (x % 4000);
      s.write(off, Uint8Array.of(1 + (i % 250)));
      written.add(Math.floor(off / 16));
    }
    // Short ranges (fewer indices than far chunks) are probed; long ones search the sorted indices,
    // which must follow chunks that come (20 writes to new chunks) and go (20 chunks zeroed whole)
    // after a search.
    const queries = [[far, far + 64], [far + 100, far + 420], [far, far + 4000], [0, far + 8000], [far + 1000, far + 1017]];
    const check = (): void => queries.forEach(([lo, hi]) => checkRange(lo, hi));
    check();
    for (let i = 0; i < 40; i++) {
      x = (x * 1103515245 + 12345) % 2 ** 31;
      if (i < 20) {
        const idx = Math.floor((far + 4000 + (x % 3000)) / 16);
        s.write(idx * 16 + 3, Uint8Array.of(9));
        written.add(idx);
      } else {
        const idx = [...written][x % written.size];
        s.zero(idx * 16, 16);
        written.delete(idx);
      }
      if (i % 5 === 4) check();
    }
    function checkRange(lo: number, hi: number): void {
      const want: Array<[number, number]> = [];
      for (let idx = Math.floor(lo / 16); idx <= Math.floor((hi - 1) / 16); idx++) {
        if (!written.has(idx)) continue;
        const a = Math.max(lo, idx * 16);
        const b = Math.min(hi, idx * 16 + 16);
        const last = want[want.length - 1];
        if (last !== undefined && last[1] === a) last[1] = b;
        else want.push([a, b]);
      }
      assert.deepEqual(s.storedRanges(lo, hi), want, `storedRanges(${lo}, ${hi})`);
      const pieces = s.copyPieces(lo, hi);
      assert.deepEqual(pieces.map((p) => p.off), want.flatMap(([a, b]) => {
        const offs: number[] = [];
        for (let o = a; o < b; o = Math.floor(o / 16) * 16 + 16) offs.push(o);
        return offs;
      }), `copyPieces(${lo}, ${hi})`);
      for (const p of pieces) assert.deepEqual(Buffer.from(p.data), Buffer.from(s.read(p.off, p.data.length)));
    }
  });

  it('chunk size: 64 KiB for files up to 16 MiB, 4 KiB above (memory follows the bytes written)', () => {
    assert.equal(oracleChunkSize(256 * 1024), 65536);
    assert.equal(oracleChunkSize(DENSE_FILE_LIMIT), 65536);
    assert.equal(oracleChunkSize(DENSE_FILE_LIMIT + 1), 4096);
    const s = new SparseBytes(oracleChunkSize(2 ** 50));
    for (let i = 0; i < 100; i++) s.write(i * 2 ** 40, Uint8Array.of(i + 1));
    assert.equal(s.memoryBytes, 100 * 4096, 'one 4 KiB chunk per scattered byte');
  });

  it('refuses ranges past 2^53-1', () => {
    const s = new SparseBytes();
    assert.throws(() => s.write(MAX_OFFSET, Uint8Array.of(1)), /SparseBytes\.write: range off=9007199254740991 len=1 outside \[0, 2\^53-1\]/);
    assert.throws(() => s.truncate(-1), RangeError);
    assert.throws(() => s.zero(0.5, 1), RangeError);
    s.truncate(100);
    assert.throws(() => s.collapse(50, 60), /range ends past EOF/);
    assert.throws(() => s.insert(101, 1), /offset past EOF/);
    assert.throws(() => new SparseBytes(100), /power of two/);
  });
});

describe('fsx data pattern', () => {
  it('matches fsx gendata: even bytes hold the op number, odd bytes op + original', () => {
    const p = Pattern.forSeed(5);
    for (const n of [1, 2, 255, 256, 257, 1000]) {
      for (const off of [0, 1, 4095, PATTERN_PERIOD - 3, PATTERN_PERIOD, 3 * PATTERN_PERIOD + 17, 2 ** 45 + 1]) {
        for (const len of [1, 2, 100, PATTERN_PERIOD, PATTERN_PERIOD + 5, 3 * PATTERN_PERIOD]) {
          const d = Buffer.from(p.data(n, off, len));
          assert.equal(d.length, len);
          for (const i of [0, 1, len >> 1, len - 1].filter((x) => x < len)) assert.equal(d[i], p.byteAt(n, off + i), `n=${n} off=${off} len=${len} i=${i}`);
          for (let i = 0; i < Math.min(len, 64); i++) {
            if ((off + i) % 2 === 0) assert.equal(d[i], n & 255);
          }
          assert.equal(opOfBadByte(d, 0, off), d[off % 2 === 1 ? 1 : 0] ?? 0);
        }
      }
    }
    // Every byte, at unaligned starts, across the period's end and over several periods, with
    // the SIMD filler (Node has WebAssembly SIMD: a malformed module must not fall back silently)
    // and with the JavaScript one.
    assert.ok(p.usesSimd, 'the WebAssembly SIMD filler did not load');
    const js = Pattern.withoutSimd(5);
    assert.ok(!js.usesSimd);
    // n mod 256 at or above 128 (the top bit of each byte's sum) and an n past 255.
    for (const [q, n] of [[p, 135], [p, 300], [js, 135], [js, 300]] as const) {
      for (const off of [0, 3, 4094, PATTERN_PERIOD - 5, 5 * PATTERN_PERIOD + 2, 2 ** 50 - 1]) {
        for (const len of [1, 3, 4, 5, 4099, PATTERN_PERIOD + 7, 2 * PATTERN_PERIOD]) {
          const d = q.data(n, off, len);
          assert.equal(d.length, len);
          for (let i = 0; i < len; i++) if (d[i] !== p.byteAt(n, off + i)) assert.fail(`simd ${q.usesSimd} n=${n} off=${off} len=${len}: byte ${i} is ${d[i]}, want ${p.byteAt(n, off + i)}`);
        }
      }
    }
    // The bytes themselves, as every earlier build made them (saved op logs replay against them).
    assert.deepEqual([1, 3, 5, 7, 65533, 65535, 4097, 12345].map((o) => p.byteAt(0, o)), [154, 20, 219, 160, 129, 168, 12, 165]);
    assert.deepEqual([...p.data(9, 65530, 12)], [9, 175, 9, 138, 9, 177, 9, 163, 9, 29, 9, 228]);
    // Periodic, and seed-dependent.
    assert.deepEqual(Buffer.from(p.data(3, 1, 50)), Buffer.from(p.data(3, 1 + PATTERN_PERIOD, 50)));
    assert.notDeepEqual(Buffer.from(p.data(3, 1, 50)), Buffer.from(Pattern.forSeed(6).data(3, 1, 50)));
  });
});

/**
 * Where each byte of the file came from since the change logs were cleared: its position then,
 * -1 when an op wrote, zeroed or exposed it since, -2 for the zeroes between the old EOF and a
 * write or copy past it (the oracle logs what those ops name, as before moves were logged).
 */
function trackOrigins(o: Op, src: number[], size: number): void {
  const fresh = (n: number, v = -1): number[] => new Array<number>(n).fill(v);
  const grow = (n: number): void => { if (n > src.length) src.push(...fresh(n - src.length)); };
  const gapTo = (n: number): void => { if (n > src.length) src.push(...fresh(n - src.length, -2)); };
  const mark = (lo: number, hi: number): void => { for (let i = lo; i < Math.min(hi, src.length); i++) src[i] = -1; };
  switch (o.k) {
    case 'write': if (o.data.length > 0) { gapTo(o.off); grow(o.off + o.data.length); mark(o.off, o.off + o.data.length); } break;
    case 'truncate': if (o.n < src.length) src.length = o.n; else grow(o.n); break;
    case 'extend': grow(o.n); break;
    case 'zero': case 'punch': mark(o.off, o.off + o.len); break;
    case 'zeroRange': case 'zeroRangeKeep': mark(o.off, o.off + o.len); if (o.k === 'zeroRange') grow(o.off + o.len); break;
    case 'collapse': if (o.off + o.len <= size) src.splice(o.off, o.len); break;
    case 'insert': if (o.off <= size) src.splice(o.off, 0, ...fresh(o.len)); break;
    case 'copy': if (o.len > 0) { gapTo(o.dst); grow(o.dst + o.len); mark(o.dst, o.dst + o.len); } break;
  }
}

describe('change logs of the sparse byte oracle (incremental remount checks)', () => {
  it('RangeSet.meets agrees with a scan of every range', () => {
    fc.assert(fc.property(fc.array(fc.tuple(fc.nat(500), fc.nat(40))), fc.array(fc.tuple(fc.nat(560), fc.nat(30)), { maxLength: 30 }), (adds, probes) => {
      const set = new RangeSet();
      for (const [lo, n] of adds) set.include(lo, lo + n);
      for (const [lo, n] of probes) {
        let scan = false;
        for (let k = 0; k < set.count; k++) if (set.los[k] < lo + n && lo < set.his[k]) scan = true;
        assert.equal(set.meets(lo, lo + n), scan, `meets(${lo}, ${lo + n}) of ${JSON.stringify([set.los, set.his])}`);
      }
    }), { numRuns: 300 });
  });

  it('with a moveLog, every byte changed since the logs were cleared is in the changeLog and every byte moved is in one of the two', () => {
    fc.assert(fc.property(fc.array(opArb, { maxLength: 12 }), fc.array(opArb, { maxLength: 25 }), fc.constantFrom(16, 64), (before, after, chunk) => {
      const s = new SparseBytes(chunk);
      const d = new Dense();
      for (const o of before) apply(o, s, d);
      const changed = new RangeSet();
      const moved = new RangeSet();
      s.changeLog = changed;
      s.moveLog = moved;
      const src = Array.from({ length: d.size }, (_, i) => i);
      after.forEach((o, n) => {
        const size = d.size;
        apply(o, s, d);
        trackOrigins(o, src, size);
        assert.equal(src.length, d.size, `origins after op ${n} ${o.k}`);
        for (let i = 0; i < d.size; i++) {
          const why = `byte ${i} (from ${src[i]}) after op ${n} ${JSON.stringify(o)}: changed ${JSON.stringify([changed.los, changed.his])} moved ${JSON.stringify([moved.los, moved.his])}`;
          if (src[i] === -1) assert.ok(changed.meets(i, i + 1), `changed ${why}`);
          else if (src[i] >= 0 && src[i] !== i) assert.ok(changed.meets(i, i + 1) || moved.meets(i, i + 1), `moved ${why}`);
        }
      });
      same(s, d, 'the ops');
    }), { numRuns: 400 });
  });
});
