/**
 * Protocols 1 and 2 (docs/protocol.md): the handshake and the typed, validating view of replies
 * that both clients (fs-client.ts, file-client.ts) use. Version 2 is the fs level's ops table in
 * the current iomap API generation (writeback_range / writeback_submit, ioend flags); version 1
 * the 6.12 one. The file level is the same in both.
 *
 * Every value a server sends is checked before the harness uses it: a wrong type, a negative
 * length, an offset beyond 2^53, an address that is not a number, an unknown errno name, bad
 * base64 — each is a TargetError (exit 3) naming the request it answered.
 */
import { errnoFromName, FsError } from '../../reference/errno';
import { ProtocolError } from './errors';
import { ProcessTransport, Reply } from './transport';
import type { IomapApi } from '../../reference/iomap/types';

/** The version the hello request is sent as (what a version-1 server checks). */
export const PROTOCOL_VERSION = 1;
/** Every version the harness speaks, offered in the hello as `params.protocols`. */
export const PROTOCOL_VERSIONS: readonly number[] = [1, 2];

/** The iomap API generation an fs-level server speaking `protocol` has its ops table in. */
export function apiOfProtocol(protocol: number): IomapApi {
  return protocol >= 2 ? 'current' : '6.12';
}
/** (u64)-1 as sent on the wire: IOMAP_NULL_ADDR. */
export const U64_MAX = '18446744073709551615';
const TWO53 = 2 ** 53;
const U64_MAX_BIG = 2n ** 64n - 1n;
const BASE64_RE = /^[A-Za-z0-9+/]*={0,2}$/;

export type Level = 'fs' | 'file';

/**
 * Optional protocol features the harness offers in its hello (`params.features`); the server
 * answers with the ones it uses (`result.features`, a subset). Negotiated this way rather than by
 * the protocol version, so they combine with every version a server speaks (docs/protocol.md,
 * "Features"):
 *
 * - `size`   replies to file-level operations carry the file size after the operation (`size`),
 *            so the harness does not ask for it after every op;
 * - `binary` bulk data travels as length-prefixed binary frames instead of base64 in the JSON;
 * - `reset`  the `reset` request returns the server to its state right after the hello, so one
 *            server serves many property runs (`check`);
 * - `sv`     (fs level) every reply carries `sv`, a counter of the server's mapping state, so the
 *            monitor reuses a snapshot while the counter stays the same;
 * - `devio`  (fs level) the server's own device writes and flushes travel in its replies
 *            (`devio`) instead of going to the image file, so the harness owns every write to the
 *            device and can cut the power under the server (docs/protocol.md 5.5).
 */
export const FEATURES = ['size', 'binary', 'reset', 'sv', 'devio', 'seq', 'snap'] as const;
export type Feature = (typeof FEATURES)[number];

/** What the server said in its hello reply. */
export interface Hello {
  protocol: number;
  name: string;
  level: Level;
  capabilities: Fields;
  geometry: Fields;
  /** The optional features the server took up (a subset of FEATURES). */
  features: ReadonlySet<Feature>;
  /** The raw reply (for reports). */
  raw: Record<string, unknown>;
}

/** A reply's result, or the errno of an error reply (positive, from reference/errno.ts). */
export type Outcome = { ok: true; result: Fields } | { ok: false; errno: number; message: string };

/**
 * Typed access to one JSON object of a reply. Every accessor validates and throws the transport's
 * TargetError ("bad-value") on a value out of range; `where` names the object ("iomap", "result").
 */
export class Fields {
  /** `where` names the object in messages ("result.iomap"). */
  constructor(readonly obj: Record<string, unknown>, readonly where: string, private readonly t: ProcessTransport) {}

  private bad(name: string, why: string): never {
    throw this.t.badValue(`${this.where}.${name} ${why}`);
  }

  has(name: string): boolean {
    return this.obj[name] !== undefined && this.obj[name] !== null;
  }

  raw(name: string): unknown {
    return this.obj[name];
  }

  /** An integer in [lo, hi] (default: [0, 2^53 - 1]). */
  int(name: string, lo = 0, hi = Number.MAX_SAFE_INTEGER): number {
    const v = this.obj[name];
    if (typeof v !== 'number' || !Number.isInteger(v)) this.bad(name, v === undefined ? 'is missing' : `must be an integer, got ${JSON.stringify(v)}`);
    if (v < lo || v > hi) this.bad(name, `${v} is out of range [${lo}, ${hi}]`);
    return v;
  }

  optInt(name: string, dflt: number, lo = 0, hi = Number.MAX_SAFE_INTEGER): number {
    return this.has(name) ? this.int(name, lo, hi) : dflt;
  }

  /**
   * A u64 sent as an integer or a decimal string. (u64)-1 decodes to -1 (the model's
   * IOMAP_NULL_ADDR); any other value must be below 2^53 (the model's offsets are exact numbers).
   */
  u64(name: string): number {
    const v = this.obj[name];
    if (typeof v === 'number') {
      if (!Number.isSafeInteger(v) || v < 0) this.bad(name, `must be a u64 (an integer in [0, 2^53) or a decimal string), got ${JSON.stringify(v)}`);
      return v;
    }
    if (typeof v !== 'string' || !/^[0-9]{1,20}$/.test(v)) this.bad(name, v === undefined ? 'is missing' : `must be a u64 (an integer or a decimal string), got ${JSON.stringify(v)}`);
    const big = BigInt(v);
    if (big > U64_MAX_BIG) this.bad(name, `${v} does not fit in 64 bits`);
    if (big === U64_MAX_BIG) return -1;
    if (big >= BigInt(TWO53)) this.bad(name, `${v} is beyond 2^53, which the model cannot address`);
    return Number(big);
  }

  /** A length: a u64 (integer or decimal string); values of 2^53 and more are clamped to `cap`. */
  length(name: string, cap: number): number {
    const v = this.obj[name];
    if (typeof v === 'string' && /^[0-9]{1,20}$/.test(v) && BigInt(v) >= BigInt(TWO53) && BigInt(v) <= U64_MAX_BIG) return cap;
    const n = this.u64(name);
    if (n < 0) return cap;
    return Math.min(n, cap);
  }

  bool(name: string): boolean {
    const v = this.obj[name];
    if (typeof v !== 'boolean') this.bad(name, v === undefined ? 'is missing' : `must be true or false, got ${JSON.stringify(v)}`);
    return v;
  }

  optBool(name: string, dflt: boolean): boolean {
    return this.has(name) ? this.bool(name) : dflt;
  }

  str(name: string): string {
    const v = this.obj[name];
    if (typeof v !== 'string') this.bad(name, v === undefined ? 'is missing' : `must be a string, got ${JSON.stringify(v)}`);
    return v;
  }

  /** Bytes: a binary frame's payload (put here by Rpc.outcome), or base64. */
  bytes(name: string): Uint8Array {
    const v = this.obj[name];
    if (v instanceof Uint8Array) return v;
    const s = this.str(name);
    if (s.length % 4 !== 0 || !BASE64_RE.test(s)) this.bad(name, 'is not valid base64');
    const b = Buffer.from(s, 'base64');
    return new Uint8Array(b.buffer, b.byteOffset, b.length);
  }

  /** An errno name, or null/absent for success: returns 0 or a negative errno. */
  status(name: string): number {
    const v = this.obj[name];
    if (v === undefined || v === null || v === 0) return 0;
    if (typeof v !== 'string') this.bad(name, `must be null or an errno name, got ${JSON.stringify(v)}`);
    const e = errnoFromName(v);
    if (e === undefined) this.bad(name, `unknown errno ${JSON.stringify(v)}`);
    return -e;
  }

  obj_(name: string): Fields {
    const v = this.obj[name];
    if (typeof v !== 'object' || v === null || Array.isArray(v)) this.bad(name, v === undefined ? 'is missing' : 'must be an object');
    return new Fields(v as Record<string, unknown>, `${this.where}.${name}`, this.t);
  }

  optObj(name: string): Fields | null {
    return this.has(name) ? this.obj_(name) : null;
  }

  /** An array of objects. */
  objects(name: string): Fields[] {
    const v = this.obj[name];
    if (!Array.isArray(v)) this.bad(name, v === undefined ? 'is missing' : 'must be an array');
    return v.map((x, i) => {
      if (typeof x !== 'object' || x === null || Array.isArray(x)) this.bad(`${name}[${i}]`, 'must be an object');
      return new Fields(x as Record<string, unknown>, `${this.where}.${name}[${i}]`, this.t);
    });
  }

  /** An array of integers in [lo, hi]. */
  ints(name: string, lo = 0, hi = Number.MAX_SAFE_INTEGER): number[] {
    const v = this.obj[name];
    if (!Array.isArray(v)) this.bad(name, v === undefined ? 'is missing' : 'must be an array');
    for (const x of v) if (typeof x !== 'number' || !Number.isInteger(x) || x < lo || x > hi) this.bad(name, `holds ${JSON.stringify(x)}, not an integer in [${lo}, ${hi}]`);
    return v as number[];
  }

  strings(name: string): string[] {
    const v = this.obj[name];
    if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) this.bad(name, v === undefined ? 'is missing' : 'must be an array of strings');
    return v as string[];
  }
}

/** Encode a model value (-1 = (u64)-1) as sent on the wire. */
export function encodeU64(v: number): number | string {
  return v === -1 ? U64_MAX : v;
}

export function encodeBytes(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.length).toString('base64');
}

/** The calls both clients make: replies turned into Fields or errnos, with every value checked. */
export class Rpc {
  /**
   * The state counter the last reply carried (feature "sv": a number or string), or undefined
   * when it carried none (an error reply, a server without the feature).
   */
  lastSv: number | string | undefined = undefined;
  /**
   * Feature "seq": each inode's mapping sequence number as the last reply about it said (a reply
   * to a request naming `ino`). A reply without one, an error reply, or any request that names no
   * inode (which may change several: mount, commit, remap_blocks...) forgets it (forgets all).
   */
  readonly seqs = new Map<number, number>();
  /** Feature "snap": called with a snapshot a reply about inode `ino` carried (result.snapshot). */
  onSnapshot: ((ino: number, snapshot: Fields) => void) | null = null;
  /** Whether replies are read for `seq` (the hello agreed on it). */
  tracksSeq = false;

  constructor(readonly t: ProcessTransport) {}

  /** What a reply to `params` says of its inode's sequence number and snapshot (features "seq", "snap"). */
  private track(params: unknown, o: Outcome): void {
    if (!this.tracksSeq && this.onSnapshot === null) return;
    const ino = (params as { ino?: unknown } | undefined)?.ino;
    if (typeof ino !== 'number') {
      this.seqs.clear();
      return;
    }
    if (!o.ok) {
      this.seqs.delete(ino);
      return;
    }
    const seq = o.result.raw('seq');
    if (this.tracksSeq && typeof seq === 'number' && Number.isSafeInteger(seq)) this.seqs.set(ino, seq);
    else this.seqs.delete(ino);
    if (this.onSnapshot !== null && o.result.has('snapshot')) this.onSnapshot(ino, o.result.obj_('snapshot'));
  }

  /** Decode a reply into a result or a (known) errno; a binary frame becomes the result's `data`. */
  outcome(r: Reply): Outcome {
    const sv = (r.result as { sv?: unknown } | null | undefined)?.sv;
    this.lastSv = typeof sv === 'number' || typeof sv === 'string' ? sv : undefined;
    if (r.error !== undefined) {
      const e = r.error;
      if (typeof e !== 'object' || e === null || Array.isArray(e)) throw this.t.badValue('error must be an object {"errno": NAME, "message": TEXT}');
      const f = new Fields(e as Record<string, unknown>, 'error', this.t);
      const name = f.str('errno');
      const errno = errnoFromName(name);
      if (errno === undefined) throw this.t.badValue(`error.errno ${JSON.stringify(name)} is not an errno name the harness knows`);
      const message = typeof (e as { message?: unknown }).message === 'string' ? (e as { message: string }).message : name;
      return { ok: false, errno, message };
    }
    const res = r.result;
    if (res === null || res === undefined) return { ok: true, result: new Fields(r.bin === undefined ? {} : { data: r.bin }, 'result', this.t) };
    if (typeof res !== 'object' || Array.isArray(res)) throw this.t.badValue(`result must be an object, got ${JSON.stringify(res).slice(0, 60)}`);
    const obj = res as Record<string, unknown>;
    if (r.bin !== undefined) {
      if (obj.data !== undefined) throw this.t.badValue('a reply with a binary frame must not also have result.data');
      obj.data = r.bin;
    }
    return { ok: true, result: new Fields(obj, 'result', this.t) };
  }

  /** A call whose error replies the caller handles (kernel-style -errno returns). */
  try(method: string, params?: unknown): Outcome {
    const o = this.outcome(this.t.call(method, params));
    this.track(params, o);
    return o;
  }

  /**
   * A call with bulk data: a binary frame when the hello agreed on them, else base64 in
   * `params.data`. Errors as must().
   */
  mustWithData(method: string, params: Record<string, unknown>, data: Uint8Array): Fields {
    const r = this.t.binary ? this.t.call(method, params, undefined, data) : this.t.call(method, { ...params, data: encodeBytes(data) });
    const o = this.outcome(r);
    this.track(params, o);
    return this.checked(method, o);
  }

  /** A call whose error reply becomes an FsError (public-edge style). */
  must(method: string, params?: unknown): Fields {
    return this.checked(method, this.try(method, params));
  }

  private checked(method: string, o: Outcome): Fields {
    if (!o.ok) throw new FsError(o.errno, `${this.t.label}: ${method}: ${o.message}`);
    return o.result;
  }
}

/**
 * Say hello: {"id":0,"method":"hello","protocol":1,"level":L,"params":{...}}. A version or level
 * mismatch, or an error reply, is a ProtocolError (exit 2); a malformed reply is a TargetError.
 * The transport is left open either way (the caller closes it).
 */
/**
 * The hello. `api`, when the user asked for an iomap API generation, goes to the server
 * (`params.api`) and must be what its answer's version means: 2 is the current generation, 1 the
 * 6.12 one (a server with both tables picks by `params.api`).
 */
export function handshake(t: ProcessTransport, level: Level | 'any', params: Record<string, unknown>, api?: IomapApi): Hello {
  const rpc = new Rpc(t);
  const p: Record<string, unknown> = { ...params, features: [...FEATURES], protocols: [...PROTOCOL_VERSIONS] };
  if (api !== undefined) p.api = api;
  const r = t.call('hello', p, { protocol: PROTOCOL_VERSION, level });
  if (r.error !== undefined) {
    const o = rpc.outcome(r);
    const msg = o.ok ? '' : o.message;
    throw new ProtocolError(`${t.label}: the server refused the handshake (harness protocol ${PROTOCOL_VERSION}, level ${level}): ${msg}`);
  }
  const o = rpc.outcome(r);
  if (!o.ok) throw new Error('unreachable');
  const f = o.result;
  const v = f.raw('protocol');
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) throw t.badValue(`hello: result.protocol must be an integer, got ${JSON.stringify(v)}`);
  const lv = f.str('level');
  if (lv !== 'fs' && lv !== 'file') throw t.badValue(`hello: result.level must be "fs" or "file", got ${JSON.stringify(lv)}`);
  // Version 2 is the fs level's current-API ops table; the file level has only version 1.
  const speaks = lv === 'fs' ? PROTOCOL_VERSIONS : [PROTOCOL_VERSION];
  if (!speaks.includes(v)) {
    throw new ProtocolError(`${t.label}: protocol version mismatch: the server speaks protocol ${v}, this harness speaks protocol ${speaks.join(' and ')}${lv === 'file' ? ' at the file level' : ''}`);
  }
  if (level !== 'any' && lv !== level) throw new ProtocolError(`${t.label}: the server is a ${lv}-level server, the harness asked for the ${level} level`);
  if (lv === 'fs' && api !== undefined && apiOfProtocol(v) !== api) {
    throw new ProtocolError(`${t.label}: the harness asked for the ${api} iomap API, but the server answered protocol ${v}, its ops table in the ${apiOfProtocol(v)} API (protocol ${api === 'current' ? 2 : 1} is the ${api} one)`);
  }
  const features = new Set<Feature>();
  if (f.has('features')) {
    for (const x of f.strings('features')) {
      if (!(FEATURES as readonly string[]).includes(x)) throw t.badValue(`hello: result.features lists ${JSON.stringify(x)}, which the harness did not offer (it offered ${FEATURES.join(', ')})`);
      features.add(x as Feature);
    }
  }
  // Frames may come from the next reply on.
  t.binary = features.has('binary');
  return {
    protocol: v,
    features,
    name: f.str('name'),
    level: lv,
    capabilities: f.obj_('capabilities'),
    geometry: f.obj_('geometry'),
    raw: f.obj,
  };
}
