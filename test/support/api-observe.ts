/**
 * One fsx run on refs in one iomap API generation, observed op by op: after every top-level call
 * on the file target the observer records the call's result (or error), the file size, every
 * byte, the FIEMAP extents exactly (boundaries and flags), what SEEK_DATA/SEEK_HOLE say block by
 * block, and every mapping the generic layer was handed during the call (->iomap_begin's iomap
 * and srcmap, and the writeback mapping of each dirty run, through reference/iomap/trace.ts).
 * Two runs with the same seed and setup, one per generation, must record the same steps: the
 * generations differ in how the ops tables are called, never in what a filesystem observes.
 *
 * The observer hides observeStates (state coverage would take the trace hooks over), so coverage
 * guidance, when on, works from the file API alone — the same on both sides.
 */
import { createHash } from 'crypto';
import { isDeepStrictEqual } from 'util';
import { ReferenceAdapter, ReferenceOptions } from '../../adapters/reference';
import type { FileAdapter, FileTarget } from '../../adapters/types';
import { runFsx, RunResult } from '../../properties/fsx/engine';
import { defaultOptions, FsxOptions } from '../../properties/fsx/generator';
import { iomapTrace } from '../../reference/iomap/trace';
import { Iomap, IomapApi, flagNames, typeName } from '../../reference/iomap/types';
import { FsError } from '../../reference/errno';
import { seekDataBlocks } from '../../adapters/diff';

export interface ObservedRun {
  api: IomapApi;
  /** One line per top-level target call: what it returned and what the file looked like after. */
  steps: string[];
  /** Mappings recorded over the run (begin and writeback). */
  mappings: number;
  result: RunResult;
}

function describeMap(m: Iomap): string {
  return `${typeName(m.type)}@${m.offset}+${m.length}:${m.addr}:${flagNames(m.flags)}`;
}

function digest(b: Uint8Array): string {
  return createHash('sha1').update(b).digest('hex').slice(0, 16);
}

/** A value as the step line shows it (bytes by digest). */
function show(v: unknown): string {
  if (v instanceof Uint8Array) return `bytes(${v.length}:${digest(v)})`;
  if (v === undefined) return 'undefined';
  return JSON.stringify(v, (_k, x) => (x instanceof Uint8Array ? `bytes(${x.length}:${digest(x)})` : x));
}

// Calls after which the file state is not read back: queries, and completions (their effect shows
// at the next step; a whole-file read between two completions would bring back into the cache the
// pages an uncached write's completion just dropped, which fsx's dontcache check then sees).
const QUERIES = new Set(['ruleCounts', 'size', 'pread', 'mapread', 'directRead', 'seekData', 'seekHole', 'fiemap', 'pendingIo', 'cachedPages', 'interleave.pendingIo', 'interleave.complete']);

// Calls whose answers are the harness's own bookkeeping, not the file's: the contract monitor's
// rule counts differ between generations by design (the current generation adds the C rules for
// its new callbacks), so the step records the call but not its answer.
const NOT_COMPARED = new Set(['ruleCounts']);

class Observer {
  steps: string[] = [];
  mappings = 0;
  private log: string[] = [];
  private depth = 0;

  listen(): void {
    iomapTrace.iterMap = (inode, pos, len, flags, iomap, srcmap) => {
      this.log.push(`b${inode.ino}:${pos}+${len}/${flags} ${describeMap(iomap)} ${srcmap.type === 0 && srcmap.length === 0 ? '-' : describeMap(srcmap)}`);
      this.mappings++;
    };
    iomapTrace.writepageMap = (inode, pos, len, iomap) => {
      this.log.push(`w${inode.ino}:${pos}+${len} ${describeMap(iomap)}`);
      this.mappings++;
    };
  }

  stop(): void {
    iomapTrace.iterMap = null;
    iomapTrace.writepageMap = null;
  }

  /** Run `fn` as the top-level call `name`, then record it with the file's state. */
  call(t: FileTarget, name: string, args: unknown[], fn: () => unknown): unknown {
    if (this.depth > 0) return fn();
    this.depth++;
    let out: unknown;
    let err: unknown = null;
    try {
      out = fn();
    } catch (e) {
      err = e;
    }
    const calls = this.log.join(' ; ');
    this.log = [];
    const result = NOT_COMPARED.has(name) ? '(not compared)' : err === null ? show(out) : `throws ${err instanceof FsError ? err.code : (err as Error).name}: ${(err as Error).message}`;
    const state = QUERIES.has(name) ? '' : ` | ${this.fileState(t)}`;
    this.steps.push(`${name}(${args.map(show).join(', ')}) -> ${result}${state} | maps ${digest(Buffer.from(calls))} ${calls.slice(0, 400)}`);
    this.log = [];
    this.depth--;
    if (err !== null) throw err;
    return out;
  }

  /** Size, bytes, FIEMAP and SEEK, read through the target (the same reads on both sides). */
  private fileState(t: FileTarget): string {
    try {
      const size = t.size();
      const bytes = t.pread(0, size);
      const ext = t.fiemap ? t.fiemap(0, Math.max(size, 1), 0) : [];
      const bs = 512;
      const seek = t.seekData && t.seekHole ? seekDataBlocks(t as Required<Pick<FileTarget, 'seekData' | 'seekHole'>>, size, bs) : [];
      const seekStr = seek.map((x) => (x ? 'd' : '.')).join('');
      return `size ${size} bytes ${digest(bytes)} fiemap ${JSON.stringify(ext)} seek ${digest(Buffer.from(seekStr))}`;
    } catch (e) {
      return `state unreadable: ${(e as Error).message}`;
    }
  }
}

/** Wrap `o`'s functions (and nested step objects) so every top-level call is observed. */
function observed<T extends object>(t: FileTarget, o: T, obs: Observer, prefix: string): T {
  return new Proxy(o, {
    get(target, prop) {
      if (prop === 'observeStates') return undefined;
      const v = Reflect.get(target, prop, target);
      if (typeof v === 'function') {
        const name = `${prefix}${String(prop)}`;
        return (...args: unknown[]) => obs.call(t, name, args, () => v.apply(target, args));
      }
      if ((prop === 'interleave' || prop === 'faults' || prop === 'deviceFaults') && v && typeof v === 'object') {
        return observed(t, v as object, obs, `${String(prop)}.`);
      }
      return v;
    },
  });
}

class ObservingAdapter implements FileAdapter {
  readonly name: string;
  constructor(private readonly inner: ReferenceAdapter, private readonly obs: Observer) {
    this.name = inner.name;
  }
  get capabilities() { return this.inner.capabilities; }
  get setup() { return this.inner.setup; }
  get volume() { return this.inner.volume; }
  open(): FileTarget {
    const t = this.inner.open();
    return observed(t, t, this.obs, '');
  }
  close(): void { this.inner.close(); }
}

/** fsx on refs in generation `api`, observed. */
export function observeFsx(api: IomapApi, ref: ReferenceOptions, fsx: Partial<FsxOptions>): ObservedRun {
  const obs = new Observer();
  const adapter = new ObservingAdapter(new ReferenceAdapter({ ...ref, api }), obs);
  obs.listen();
  try {
    const quiet = { out: () => undefined, err: () => undefined };
    const result = runFsx(adapter, 'reference', { ...defaultOptions(), quiet: true, shortCopies: true, ...fsx }, quiet);
    return { api, steps: obs.steps, mappings: obs.mappings, result };
  } finally {
    obs.stop();
    adapter.close();
  }
}

/** The first step where two observed runs differ, as report lines; null when they agree. */
export function firstDifference(a: ObservedRun, b: ObservedRun): string[] | null {
  const n = Math.max(a.steps.length, b.steps.length);
  for (let i = 0; i < n; i++) {
    if (isDeepStrictEqual(a.steps[i], b.steps[i])) continue;
    return [`step ${i} differs:`, `  ${a.api}: ${a.steps[i] ?? '(run ended)'}`, `  ${b.api}: ${b.steps[i] ?? '(run ended)'}`];
  }
  return null;
}
