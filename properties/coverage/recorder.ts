/**
 * The coverage map of one run: counters in typed arrays (no allocation per observation), fed by
 * the target's generic-layer tracepoints (StateObserver.mapping, charged to the fsx op running)
 * and by the fsx runner (file cells, FIEMAP extent classes, interleaving steps). Serialised as
 * JSON beside the op log (`--coverage`); merged across runs for the reachable data.
 */
import { EOF_RELATION_NAMES, FOLIO_STATE_NAMES, MAP_CLASS_NAMES, StateObserver } from '../../adapters/types';
import { OP_COUNT, opByName, OPS } from '../fsx/ops';
import {
  EXTENT_CELLS, EXTENT_CLASS_NAMES, N_EOF, N_FOLIO, N_MAP, PER_OP, STATE_CELLS, stateIndex, stateName,
} from './cells';

export const COVERAGE_FORMAT = 'iomap-harness-coverage';
export const COVERAGE_VERSION = 1;

/** Interleaving steps counted by the runner (how often each ran, not only whether). */
export const STEPS = [
  'writeback', 'complete-in-order', 'complete-out-of-order', 'evict', 'evict-refused', 'race-write-in-window', 'race-punch-in-window',
  'race-writeback-in-window', 'race-after-write', 'async-direct-write', 'async-direct-write-waited', 'crash',
] as const;
export type StepName = typeof STEPS[number];
const STEP_INDEX = new Map<string, number>(STEPS.map((s, i) => [s, i]));

export interface CoverageGeometry {
  blockSize: number;
  pageSize: number;
  folioSize: number;
}

/** The JSON form (`*.coverage.json`): only the cells reached are listed, by name. */
export interface CoverageJson {
  format: typeof COVERAGE_FORMAT;
  version: number;
  adapter: string;
  seed?: number;
  ops: number;
  geometry: CoverageGeometry;
  geometryClass: string;
  /** "generic-layer": states were observed through the generic layer; "file": only what the file API shows. */
  level: 'generic-layer' | 'file';
  /** Ops the run could generate (the denominator counts these only). */
  enabledOps: string[];
  states: Record<string, number>;
  fileOps: Record<string, number>;
  extents: Record<string, number>;
  steps: Record<string, number>;
  rules: Record<string, number>;
  /** Against the reference's reachable cells of this geometry class (absent: no data for the class). */
  summary?: CoverageSummary;
}

export interface CoverageSummary {
  /** Which table the percentage is over: the state cells, or (file-level targets) the file cells. */
  table: 'states' | 'fileOps';
  reachable: number;
  reached: number;
  percent: number;
  /** Reachable cells this run never reached, by name. */
  never: string[];
  /** Cells reached that the reachable data does not list (the data is then out of date). */
  beyond: string[];
}

export class CoverageRecorder implements StateObserver {
  /** The fsx op mapping observations are charged to (set by the runner before each op). */
  op = 0;
  readonly states = new Uint32Array(STATE_CELLS);
  readonly fileOps = new Uint32Array(OP_COUNT * N_EOF);
  readonly extents = new Uint32Array(EXTENT_CELLS);
  readonly steps = new Uint32Array(STEPS.length);
  /** A target reported generic-layer states (else only file cells exist). */
  deep = false;
  rules: Record<string, number> = {};
  ops = 0;
  enabled: boolean[] = new Array<boolean>(OP_COUNT).fill(true);

  constructor(readonly adapter: string, readonly geometry: CoverageGeometry, readonly geometryClass: string, readonly seed?: number) {}

  mapping(mapClass: number, folioState: number, eofRelation: number): void {
    this.states[stateIndex(this.op, mapClass, folioState, eofRelation)]++;
    this.deep = true;
  }

  fileOp(code: number, eof: number): void {
    this.fileOps[code * N_EOF + eof]++;
  }

  extent(cls: number, eof: number): void {
    this.extents[cls * N_EOF + eof]++;
  }

  step(name: StepName): void {
    this.steps[STEP_INDEX.get(name)!]++;
  }

  /** Add another run's counts (same cell layout). */
  merge(o: CoverageRecorder): void {
    for (let i = 0; i < STATE_CELLS; i++) this.states[i] += o.states[i];
    for (let i = 0; i < this.fileOps.length; i++) this.fileOps[i] += o.fileOps[i];
    for (let i = 0; i < EXTENT_CELLS; i++) this.extents[i] += o.extents[i];
    for (let i = 0; i < STEPS.length; i++) this.steps[i] += o.steps[i];
    for (const [k, v] of Object.entries(o.rules)) this.rules[k] = (this.rules[k] ?? 0) + v;
    this.deep ||= o.deep;
    this.ops += o.ops;
    for (let i = 0; i < OP_COUNT; i++) this.enabled[i] ||= o.enabled[i];
  }

  toJSON(summary?: CoverageSummary): CoverageJson {
    const states: Record<string, number> = {};
    for (let i = 0; i < STATE_CELLS; i++) if (this.states[i] > 0) states[stateName(i)] = this.states[i];
    const fileOps: Record<string, number> = {};
    for (let i = 0; i < this.fileOps.length; i++) if (this.fileOps[i] > 0) fileOps[`${OPS[Math.floor(i / N_EOF)].name}/${EOF_RELATION_NAMES[i % N_EOF]}`] = this.fileOps[i];
    const extents: Record<string, number> = {};
    for (let i = 0; i < EXTENT_CELLS; i++) if (this.extents[i] > 0) extents[`${EXTENT_CLASS_NAMES[Math.floor(i / N_EOF)]}/${EOF_RELATION_NAMES[i % N_EOF]}`] = this.extents[i];
    const steps: Record<string, number> = {};
    STEPS.forEach((s, i) => { steps[s] = this.steps[i]; });
    const j: CoverageJson = {
      format: COVERAGE_FORMAT, version: COVERAGE_VERSION, adapter: this.adapter, ops: this.ops, geometry: this.geometry,
      geometryClass: this.geometryClass, level: this.deep ? 'generic-layer' : 'file',
      enabledOps: OPS.filter((o) => this.enabled[o.code]).map((o) => o.name), states, fileOps, extents, steps, rules: { ...this.rules },
    };
    if (this.seed !== undefined) j.seed = this.seed;
    if (summary !== undefined) j.summary = summary;
    return j;
  }

  /** Rebuild a recorder from its JSON (unknown names are a CoverageFormatError). */
  static fromJSON(j: unknown): CoverageRecorder {
    const bad = (why: string): never => { throw new CoverageFormatError(why); };
    if (typeof j !== 'object' || j === null) return bad('not a JSON object');
    const o = j as Partial<CoverageJson>;
    if (o.format !== COVERAGE_FORMAT) return bad(`format is ${JSON.stringify(o.format)}, expected "${COVERAGE_FORMAT}"`);
    if (o.version !== COVERAGE_VERSION) return bad(`version ${String(o.version)} is not supported (expected ${COVERAGE_VERSION})`);
    const g = o.geometry;
    if (g === undefined || !Number.isInteger(g.blockSize) || !Number.isInteger(g.pageSize) || !Number.isInteger(g.folioSize)) return bad('geometry must have integer blockSize, pageSize, folioSize');
    const r = new CoverageRecorder(String(o.adapter ?? ''), { blockSize: g.blockSize, pageSize: g.pageSize, folioSize: g.folioSize }, String(o.geometryClass ?? ''), o.seed);
    r.ops = Number(o.ops ?? 0);
    r.deep = o.level === 'generic-layer';
    if (Array.isArray(o.enabledOps)) {
      r.enabled.fill(false);
      for (const n of o.enabledOps) r.enabled[opOf(n, bad)] = true;
    }
    const count = (v: unknown, what: string): number => (Number.isInteger(v) && (v as number) >= 0 ? v as number : bad(`${what}: count ${String(v)}`));
    const names = cellNames();
    for (const [k, v] of Object.entries(o.states ?? {})) {
      // The names toJSON writes are looked up at once (a campaign merge reads thousands of maps);
      // anything else takes the slow path, which knows other spellings and names what is wrong.
      const at = names.states.get(k);
      if (at !== undefined) {
        r.states[at] = count(v, k);
        continue;
      }
      const [op, m, f, e] = k.split('/');
      const idx = [MAP_CLASS_NAMES.indexOf(m as never), FOLIO_STATE_NAMES.indexOf(f as never), EOF_RELATION_NAMES.indexOf(e as never)];
      if (idx.some((x) => x < 0)) bad(`unknown state cell ${JSON.stringify(k)}`);
      r.states[stateIndex(opOf(op, bad), idx[0], idx[1], idx[2])] = count(v, k);
    }
    for (const [k, v] of Object.entries(o.fileOps ?? {})) {
      const at = names.fileOps.get(k);
      if (at !== undefined) {
        r.fileOps[at] = count(v, k);
        continue;
      }
      const [op, e] = k.split('/');
      const ei = EOF_RELATION_NAMES.indexOf(e as never);
      if (ei < 0) bad(`unknown file cell ${JSON.stringify(k)}`);
      r.fileOps[opOf(op, bad) * N_EOF + ei] = count(v, k);
    }
    for (const [k, v] of Object.entries(o.extents ?? {})) {
      const [c, e] = k.split('/');
      const ci = EXTENT_CLASS_NAMES.indexOf(c as never);
      const ei = EOF_RELATION_NAMES.indexOf(e as never);
      if (ci < 0 || ei < 0) bad(`unknown extent cell ${JSON.stringify(k)}`);
      r.extents[ci * N_EOF + ei] = count(v, k);
    }
    for (const [k, v] of Object.entries(o.steps ?? {})) {
      const i = STEP_INDEX.get(k);
      if (i === undefined) bad(`unknown step ${JSON.stringify(k)}`);
      r.steps[i!] = count(v, k);
    }
    for (const [k, v] of Object.entries(o.rules ?? {})) r.rules[k] = count(v, k);
    return r;
  }
}

/** Cell name to index, as toJSON names the cells (built once). */
let names: { states: Map<string, number>; fileOps: Map<string, number> } | undefined;

function cellNames(): { states: Map<string, number>; fileOps: Map<string, number> } {
  if (names === undefined) {
    const states = new Map<string, number>();
    for (let i = 0; i < STATE_CELLS; i++) states.set(stateName(i), i);
    const fileOps = new Map<string, number>();
    for (const o of OPS) for (let e = 0; e < N_EOF; e++) fileOps.set(`${o.name}/${EOF_RELATION_NAMES[e]}`, o.code * N_EOF + e);
    names = { states, fileOps };
  }
  return names;
}

function opOf(name: string, bad: (why: string) => never): number {
  const info = opByName(name);
  return info === undefined ? bad(`unknown op ${JSON.stringify(name)}`) : info.code;
}

export class CoverageFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CoverageFormatError';
  }
}

export { N_MAP, N_FOLIO, N_EOF, PER_OP };
