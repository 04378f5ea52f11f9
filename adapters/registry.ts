/**
 * Adapter registry: how a spec string becomes a FileAdapter.
 *
 *   NAME          a registered built-in (`naive`; `reference` once its module registers itself)
 *   mutant:NAME   an adapter registered as a mutant (the bug zoo)
 *   ./x.js, /p/x.js, anything with a slash or ending in .js/.cjs
 *                 a CommonJS module exporting `createAdapter(opts): FileAdapter`
 *   exec:CMD ARGS an out-of-process target speaking JSON lines on stdin/stdout (adapters/process,
 *                 docs/protocol.md): a file-level server, or an fs-level one under the reference layer
 *   host:PATH     a real kernel filesystem: a test file in directory PATH, which must lie inside a
 *                 scratch directory (IOMAP_HARNESS_SCRATCH or opts.scratch); see adapters/host
 *   scratch:TYPE[:PARENT]
 *                 a host filesystem of TYPE the harness makes (loop device, mkfs, mount) per setup
 *                 in a fresh directory under PARENT, so the setup sweep varies its block size
 *
 * Built-in modules: besides `naive` (imported here), the registry loads `./reference` and
 * `./mutants` (files or index files in this directory) the first time a name is looked up or listed.
 * Such a module either calls registerAdapter() itself, or exports `createAdapter(opts)` or
 * `create<Name>Adapter(opts)` (e.g. createReferenceAdapter), which is then registered under the
 * module's name (with the module's `describe` export, if any). A module that does not exist is
 * simply absent; one that fails to load is reported when its name is asked for.
 *
 * Every problem with a spec or an adapter module is an AdapterSpecError: one line, exit code 2.
 */

import * as fs from 'fs';
import * as path from 'path';
import type { FileAdapter } from './types';
import { createNaiveAdapter } from './naive';

/** Geometry and knobs passed to an adapter factory; adapters ignore what they do not use. */
export interface AdapterOptions {
  blockSize?: number;
  folioSize?: number;
  pageSize?: number;
  sectorSize?: number;
  [key: string]: unknown;
}

export interface AdapterFactory {
  /** One line for `list adapters`. */
  describe: string;
  create(opts: AdapterOptions): FileAdapter;
}

export interface RegisterOptions {
  /** Reachable only as `mutant:NAME`, listed by listMutants(). */
  mutant?: boolean;
  /** Runs entirely in memory (the benchmark runs every such adapter). */
  inMemory?: boolean;
}

export interface AdapterInfo {
  name: string;
  describe: string;
  kind: 'builtin' | 'mutant';
  inMemory: boolean;
}

/** A bad adapter spec or adapter module (usage/input error). */
export class AdapterSpecError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AdapterSpecError';
  }
}

interface Entry {
  factory: AdapterFactory;
  info: AdapterInfo;
}

const builtins = new Map<string, Entry>();
const mutants = new Map<string, Entry>();
/** Built-in modules that exist but failed to load: name → error message. */
const loadErrors = new Map<string, string>();
/** Built-in modules loaded on demand, with the description used when the module gives none. */
const BUILTIN_MODULES: Record<string, { describe: string; inMemory: boolean; factoryModule: boolean }> = {
  reference: { describe: 'refs (the reference filesystem) on a sparse in-memory device, through the reference iomap generic layer', inMemory: true, factoryModule: true },
  mutants: { describe: 'the bug zoo', inMemory: true, factoryModule: false },
};
let builtinsLoaded = false;

const NAME_RE = /^[a-z][a-z0-9_.-]*$/;

export function registerAdapter(name: string, factory: AdapterFactory, opts: RegisterOptions = {}): void {
  if (!NAME_RE.test(name)) throw new Error(`registerAdapter: bad name ${JSON.stringify(name)} (lower case letters, digits, _ . -)`);
  if (typeof factory?.create !== 'function' || typeof factory.describe !== 'string') {
    throw new Error(`registerAdapter(${name}): factory needs describe (string) and create(opts)`);
  }
  const table = opts.mutant === true ? mutants : builtins;
  if (table.has(name)) throw new Error(`registerAdapter: ${opts.mutant === true ? 'mutant:' : ''}${name} is already registered`);
  table.set(name, {
    factory,
    info: { name: opts.mutant === true ? `mutant:${name}` : name, describe: factory.describe, kind: opts.mutant === true ? 'mutant' : 'builtin', inMemory: opts.inMemory === true },
  });
}

function loadBuiltinModules(): void {
  if (builtinsLoaded) return;
  builtinsLoaded = true;
  for (const [m, meta] of Object.entries(BUILTIN_MODULES)) {
    const file = path.join(__dirname, m);
    let mod: Record<string, unknown>;
    try {
      mod = require(file) as Record<string, unknown>;
    } catch (e) {
      const code = (e as { code?: string }).code;
      const msg = e instanceof Error ? e.message : String(e);
      const missing = code === 'MODULE_NOT_FOUND' && msg.includes(`'${file}'`);
      if (!missing) loadErrors.set(m, msg.split('\n')[0]);
      continue;
    }
    if (!meta.factoryModule || builtins.has(m)) continue;
    const exportName = `create${m[0].toUpperCase()}${m.slice(1)}Adapter`;
    const factory = typeof mod.createAdapter === 'function' ? mod.createAdapter : mod[exportName];
    if (typeof factory !== 'function') {
      loadErrors.set(m, `adapters/${m} neither registers itself nor exports createAdapter or ${exportName}`);
      continue;
    }
    registerAdapter(m, {
      describe: typeof mod.describe === 'string' ? mod.describe : meta.describe,
      create: (o) => (factory as (x: AdapterOptions) => FileAdapter)(o),
    }, { inMemory: meta.inMemory });
  }
}

/** Registered non-mutant adapters, sorted by name. */
export function listAdapters(): AdapterInfo[] {
  loadBuiltinModules();
  return [...builtins.values()].map((e) => ({ ...e.info })).sort((a, b) => a.name.localeCompare(b.name));
}

/** Registered mutants (names as `mutant:NAME`), sorted. */
export function listMutants(): AdapterInfo[] {
  loadBuiltinModules();
  return [...mutants.values()].map((e) => ({ ...e.info })).sort((a, b) => a.name.localeCompare(b.name));
}

export function hasAdapter(name: string): boolean {
  loadBuiltinModules();
  return builtins.has(name);
}

function checkAdapter(a: unknown, where: string): FileAdapter {
  const bad = (why: string): never => {
    throw new AdapterSpecError(`${where}: not a FileAdapter (${why})`);
  };
  if (typeof a !== 'object' || a === null) bad('got ' + (a === null ? 'null' : typeof a));
  const x = a as Record<string, unknown>;
  if (typeof x.name !== 'string') bad('name must be a string');
  if (typeof x.open !== 'function' || typeof x.close !== 'function') bad('open() and close() are required');
  const c = x.capabilities as Record<string, unknown> | undefined;
  if (typeof c !== 'object' || c === null) bad('capabilities missing');
  const cc = c as Record<string, unknown>;
  for (const k of ['blockSize', 'pageSize', 'maxFileSize', 'dioAlign']) {
    if (typeof cc[k] !== 'number' || !Number.isInteger(cc[k]) || (cc[k] as number) < 1) bad(`capabilities.${k} must be a positive integer`);
  }
  for (const k of ['mmap', 'clone', 'dedupe', 'copyRange', 'directIO', 'seek', 'fiemap', 'remount']) {
    if (typeof cc[k] !== 'boolean') bad(`capabilities.${k} must be a boolean`);
  }
  if (!Array.isArray(cc.fallocModes) || !cc.fallocModes.every((m) => Number.isInteger(m) && m >= 0)) bad('capabilities.fallocModes must be an array of mode numbers');
  return a as FileAdapter;
}

function create(entry: Entry, spec: string, opts: AdapterOptions): FileAdapter {
  let a: unknown;
  try {
    a = entry.factory.create(opts);
  } catch (e) {
    throw new AdapterSpecError(`adapter ${spec}: cannot create it: ${e instanceof Error ? e.message : String(e)}`);
  }
  return checkAdapter(a, `adapter ${spec}`);
}

/** Spec prefixes that name an adapter kind, not a module path (a path may follow them). */
const KIND_PREFIX_RE = /^(exec|host|scratch|diff|mutant):/;

export function isModuleSpec(spec: string): boolean {
  if (KIND_PREFIX_RE.test(spec)) return false;
  return spec.includes('/') || spec.includes('\\') || /\.(c?js|mjs)$/.test(spec);
}

function loadModule(spec: string, opts: AdapterOptions): FileAdapter {
  const file = path.resolve(spec);
  if (/\.mjs$/.test(file)) throw new AdapterSpecError(`adapter module ${spec}: ES modules (.mjs) are not supported; export createAdapter from a CommonJS module`);
  let st: fs.Stats;
  try {
    st = fs.statSync(file);
  } catch {
    throw new AdapterSpecError(`adapter module ${spec}: file not found (${file})`);
  }
  if (!st.isFile()) throw new AdapterSpecError(`adapter module ${spec}: not a regular file`);
  let mod: unknown;
  try {
    mod = require(file);
  } catch (e) {
    throw new AdapterSpecError(`adapter module ${spec}: failed to load: ${(e instanceof Error ? e.message : String(e)).split('\n')[0]}`);
  }
  const factory = (mod as { createAdapter?: unknown } | null)?.createAdapter;
  if (typeof factory !== 'function') throw new AdapterSpecError(`adapter module ${spec}: does not export createAdapter(opts)`);
  let a: unknown;
  try {
    a = (factory as (o: AdapterOptions) => unknown)(opts);
  } catch (e) {
    throw new AdapterSpecError(`adapter module ${spec}: createAdapter failed: ${e instanceof Error ? e.message : String(e)}`);
  }
  const checked = checkAdapter(a, `adapter module ${spec}`);
  // A call that never returns would hang the harness: guard the module's calls as exec:'s are.
  const { defaultTimeout } = require('./process/transport') as typeof import('./process/transport');
  const { guardModuleAdapter } = require('./watchdog') as typeof import('./watchdog');
  return guardModuleAdapter(checked, spec, defaultTimeout());
}

/** Resolve an adapter spec (see the file comment) and create the adapter. */
export function loadAdapter(spec: string, opts: AdapterOptions = {}): FileAdapter {
  if (typeof spec !== 'string' || spec === '') throw new AdapterSpecError('empty adapter spec');
  if (spec.startsWith('exec:')) {
    // Loaded on demand: adapters/process. Handshake problems are AdapterSpecErrors (exit 2); a
    // server that crashes or hangs is a TargetError (exit 3).
    const proc = require('./process') as typeof import('./process');
    return proc.loadExecAdapter(spec.slice('exec:'.length), opts);
  }
  if (spec.startsWith('diff:')) {
    // The differential target: a host filesystem against the reference with its personality.
    const { personality, ...rest } = opts as AdapterOptions & { personality?: string };
    const inner = loadAdapter(spec.slice('diff:'.length), rest);
    const diff = require('./diff') as typeof import('./diff');
    const pers = require('../reference/fs/personality') as typeof import('../reference/fs/personality');
    if (personality !== undefined && !pers.isPersonalityName(personality)) {
      inner.close();
      throw new AdapterSpecError(`personality ${JSON.stringify(personality)}: expected one of ${pers.PERSONALITY_NAMES.join(', ')}`);
    }
    try {
      return new diff.DiffAdapter(inner, { personality, folioSize: rest.folioSize as number | undefined });
    } catch (e) {
      inner.close();
      throw e;
    }
  }
  if (spec.startsWith('host:')) {
    // Loaded on demand: adapters/host (factory createHostAdapter; errors become one-line AdapterSpecErrors).
    const host = require('./host') as typeof import('./host');
    const dir = spec.slice('host:'.length);
    const info: AdapterInfo = { name: spec, describe: host.describe, kind: 'builtin', inMemory: false };
    return create({ factory: { describe: host.describe, create: (o) => host.createHostAdapter({ ...o, path: dir }) }, info }, spec, opts);
  }
  if (spec.startsWith('scratch:')) {
    // A host filesystem the harness makes per setup (adapters/host/scratch-adapter.ts): root only.
    const sa = require('./host/scratch-adapter') as typeof import('./host/scratch-adapter');
    const info: AdapterInfo = { name: spec, describe: sa.describe, kind: 'builtin', inMemory: false };
    return create({ factory: { describe: sa.describe, create: (o) => sa.createScratchHostAdapter(spec.slice('scratch:'.length), o) }, info }, spec, opts);
  }
  if (spec.startsWith('mutant:')) {
    loadBuiltinModules();
    const name = spec.slice('mutant:'.length);
    const e = mutants.get(name);
    if (e === undefined) {
      const known = [...mutants.keys()];
      const why = loadErrors.has('mutants') ? `; the mutants module failed to load: ${loadErrors.get('mutants')}` : '';
      throw new AdapterSpecError(`unknown mutant ${JSON.stringify(name)} (${known.length === 0 ? 'no mutants are registered' : 'known: ' + known.join(', ')})${why}`);
    }
    return create(e, spec, opts);
  }
  if (isModuleSpec(spec)) return loadModule(spec, opts);
  // `naive` is registered already: a run on it does not load the reference model and the bug zoo.
  if (!builtins.has(spec)) loadBuiltinModules();
  const e = builtins.get(spec);
  if (e === undefined) {
    const why = loadErrors.has(spec) ? `; its module failed to load: ${loadErrors.get(spec)}` : '';
    throw new AdapterSpecError(
      `unknown adapter ${JSON.stringify(spec)} (known: ${[...builtins.keys()].sort().join(', ')}; or mutant:NAME, or a path to a module such as ./my-fs.js)${why}`,
    );
  }
  return create(e, spec, opts);
}

registerAdapter('naive', {
  describe: 'plain in-memory byte array: every fallocate mode, clone/dedupe/copy, mmap, O_DIRECT, whole file reported as data',
  create: (o) => createNaiveAdapter({ blockSize: o.blockSize, pageSize: o.pageSize }),
}, { inMemory: true });
