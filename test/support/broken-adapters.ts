/**
 * Wrappers that inject one defect into any FileAdapter, to prove each fuzzer check catches what it
 * is meant to catch (a check nobody has seen fail is not yet a check). Each wrapper counts calls to
 * one target method and misbehaves on call number `at` (1-based); `clock` (e.g. () => runner.opNum)
 * lets the test learn which op that call belonged to.
 *
 *  dropWrite            pwrite #at stores nothing (the size is still updated): lost data
 *  corruptRead          pread #at returns one byte flipped
 *  corruptReadInto      readInto #at (of one kind) flips the first byte it read
 *  wrongSizeAfterTruncate  truncate #at leaves the file one byte longer than asked
 *  pollutedMapread      mapread #at (counting only reads reaching past EOF) shows junk past EOF
 *  unsupportedFallocate every fallocate answers EOPNOTSUPP although capabilities claim support
 *  crashingTarget       call #at of a method throws a TypeError (not an FsError)
 *  withTarget           any other one-off defect: replace target methods (given the real target)
 */

import type { FileAdapter, FileTarget, ReadKind } from '../../adapters/types';
import { EOPNOTSUPP, FsError } from '../../reference/errno';

export interface DefectOptions {
  /** Which call (1-based) of the wrapped method misbehaves. */
  at: number;
  /** Returns the current op number when the defect fires (recorded in `defect.firedAtOp`). */
  clock?: () => number;
}

export interface Defect {
  readonly name: string;
  fired: boolean;
  firedAtOp?: number;
  /** File offset the defect affected (corrupted byte, junk byte), when there is one. */
  offset?: number;
}

export interface BrokenAdapter extends FileAdapter {
  readonly defect: Defect;
}

/** Methods a target's readInto stands for (docs/adapters.md): a wrapper that replaces one drops readInto. */
const READ_METHODS = ['pread', 'directRead', 'mapread', 'readDontcache'] as const;

type Override = (t: FileTarget, defect: Defect, fire: (offset?: number) => void) => Partial<FileTarget>;

/**
 * `t` with `extra` in place of some of its members. Every other member of `t` passes through,
 * own or inherited (a class's methods), present now or added to FileTarget later: methods bound
 * to `t`, other members (interleave, deviceFaults...) read from `t` when asked. One exception:
 * when `extra` replaces a read method and not readInto, readInto is left out, because the runner
 * prefers it to the read methods and a broken pread would never be called; so is changedOnMedia
 * (unless `extra` gives it), because what the wrapped target's media hold no longer says what its
 * reads return, and the runner's remount check would skip the bytes a broken read gets wrong.
 */
export function wrapTarget(t: FileTarget, extra: Partial<FileTarget>): FileTarget {
  const w: Record<string, unknown> = {};
  const src = t as unknown as Record<string, unknown>;
  const replaced = new Set(Object.keys(extra));
  if (READ_METHODS.some((k) => replaced.has(k))) {
    if (!replaced.has('readInto')) replaced.add('readInto');
    if (!replaced.has('changedOnMedia')) replaced.add('changedOnMedia');
  }
  for (let o: object | null = t; o !== null && o !== Object.prototype; o = Object.getPrototypeOf(o)) {
    for (const k of Object.getOwnPropertyNames(o)) {
      if (k === 'constructor' || replaced.has(k) || Object.prototype.hasOwnProperty.call(w, k)) continue;
      const d = Object.getOwnPropertyDescriptor(o, k)!;
      if (typeof d.value === 'function') w[k] = (d.value as (...a: unknown[]) => unknown).bind(t);
      else Object.defineProperty(w, k, { get: () => src[k], enumerable: true });
    }
  }
  return Object.assign(w, extra) as unknown as FileTarget;
}

function broken(inner: FileAdapter, name: string, opts: DefectOptions, override: Override): BrokenAdapter {
  const defect: Defect = { name, fired: false };
  const fire = (offset?: number) => {
    defect.fired = true;
    if (opts.clock !== undefined) defect.firedAtOp = opts.clock();
    if (offset !== undefined) defect.offset = offset;
  };
  return {
    name: `${inner.name}+${name}`,
    capabilities: inner.capabilities,
    defect,
    open: () => {
      const t = inner.open();
      return wrapTarget(t, override(t, defect, fire));
    },
    close: () => inner.close(),
  };
}

export function dropWrite(inner: FileAdapter, opts: DefectOptions): BrokenAdapter {
  let calls = 0;
  return broken(inner, 'drop-write', opts, (t, _d, fire) => ({
    pwrite(off: number, data: Uint8Array): number {
      if (++calls !== opts.at) return t.pwrite(off, data);
      fire();
      if (off + data.length > t.size()) t.truncate(off + data.length);
      return data.length;
    },
  }));
}

export function corruptRead(inner: FileAdapter, opts: DefectOptions): BrokenAdapter {
  let calls = 0;
  return broken(inner, 'corrupt-read', opts, (t, _d, fire) => ({
    pread(off: number, len: number): Uint8Array {
      const data = t.pread(off, len);
      if (++calls !== opts.at || data.length === 0) return data;
      const out = Uint8Array.from(data);
      const i = out.length >> 1;
      out[i] ^= 0xff;
      fire(off + i);
      return out;
    },
  }));
}

export function corruptReadInto(inner: FileAdapter, how: ReadKind, opts: DefectOptions): BrokenAdapter {
  let calls = 0;
  return broken(inner, `corrupt-read-into-${how}`, opts, (t, _d, fire) => ({
    readInto(kind: ReadKind, off: number, dst: Uint8Array): number {
      const got = t.readInto!(kind, off, dst);
      if (kind !== how || got === 0 || ++calls !== opts.at) return got;
      dst[0] ^= 0xff;
      fire(off);
      return got;
    },
  }));
}

export function wrongSizeAfterTruncate(inner: FileAdapter, opts: DefectOptions): BrokenAdapter {
  let calls = 0;
  return broken(inner, 'wrong-size-after-truncate', opts, (t, _d, fire) => ({
    truncate(size: number): void {
      if (++calls !== opts.at) return t.truncate(size);
      fire(size);
      t.truncate(size + 1);
    },
  }));
}

export function pollutedMapread(inner: FileAdapter, opts: DefectOptions): BrokenAdapter {
  let calls = 0;
  return broken(inner, 'polluted-mapread', opts, (t, _d, fire) => ({
    mapread(off: number, len: number): Uint8Array {
      const data = (t.mapread as (o: number, l: number) => Uint8Array).call(t, off, len);
      const size = t.size();
      if (off + len <= size || ++calls !== opts.at) return data;
      const out = Uint8Array.from(data);
      out[size - off] = 0xa5;
      fire(size);
      return out;
    },
  }));
}

export function unsupportedFallocate(inner: FileAdapter): BrokenAdapter {
  return broken(inner, 'unsupported-fallocate', { at: 1 }, (_t, _d, fire) => ({
    fallocate(): void {
      fire();
      throw new FsError(EOPNOTSUPP, 'fallocate: not supported here after all');
    },
  }));
}

export function crashingTarget(inner: FileAdapter, method: keyof FileTarget & string, opts: DefectOptions): BrokenAdapter {
  let calls = 0;
  return broken(inner, `crash-in-${method}`, opts, (t, _d, fire) => {
    const f = (t as unknown as Record<string, (...a: unknown[]) => unknown>)[method].bind(t);
    return {
      [method]: (...args: unknown[]) => {
        if (++calls === opts.at) {
          fire();
          throw new TypeError(`simulated crash in ${method}`);
        }
        return f(...args);
      },
    } as Partial<FileTarget>;
  });
}

/** A one-off defect: `override(t)` returns replacement methods for the real target `t`. */
export function withTarget(inner: FileAdapter, name: string, override: (t: FileTarget) => Partial<FileTarget>): BrokenAdapter {
  return broken(inner, name, { at: 0 }, (t) => override(t));
}
