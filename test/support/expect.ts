/**
 * Small helpers the device, native and host tests share: a skip that prints its reason (a test
 * never skips silently), an assertion that a call fails with a given errno, and seeded bytes.
 */
import * as assert from 'assert';
import { FsError } from '../../reference/errno';

/** Skip the running test, printing why (mocha's skip alone says nothing). */
export function skipWith(ctx: Mocha.Context, reason: string): never {
  console.log(`      skipped: ${reason}`);
  ctx.skip();
}

/** `fn` must throw an FsError with this errno name (e.g. 'EINVAL') or number. */
export function expectCode(fn: () => unknown, code: string | number, what = ''): FsError {
  let thrown: unknown;
  try {
    fn();
  } catch (e) {
    thrown = e;
  }
  if (thrown === undefined) assert.fail(`${what}: expected FsError ${code}, nothing was thrown`);
  assert.ok(thrown instanceof FsError, `${what}: expected FsError ${code}, got ${String(thrown)}`);
  if (typeof code === 'number') assert.strictEqual(thrown.errno, code, `${what}: ${thrown.message}`);
  else assert.strictEqual(thrown.code, code, `${what}: ${thrown.message}`);
  return thrown;
}

/** Deterministic bytes (xorshift32), different for each seed. */
export function pattern(len: number, seed: number): Buffer {
  const b = Buffer.alloc(len);
  let x = (seed * 2654435761) >>> 0 || 1;
  for (let i = 0; i < len; i++) {
    x ^= x << 13; x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5; x >>>= 0;
    b[i] = x & 0xff;
  }
  return b;
}
