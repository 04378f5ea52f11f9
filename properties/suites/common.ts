/**
 * The common shape of most properties: a random, state-aware workload of steps on a fresh target
 * (optionally at one of several geometries), checked by the fsx runner after every op and by the
 * property's own checks, ending with a full read back and (on the model) the quiescent-point
 * contract checks.
 */
import * as fc from 'fast-check';
import type { AdapterOptions } from '../../adapters/registry';
import { PropertyDef, Need, property, PropContext, WorkloadOptions } from './types';
import { play, Span, Step, stepsArb, supports, verifyAll, Weights } from './steps';
import type { Workload } from './workload';

export interface WorkloadPropertyOptions {
  name: string;
  section: string;
  describe: string;
  needs?: Need[];
  weight?: number;
  weights: Weights;
  maxSteps: number;
  minSteps?: number;
  /** Sizes, given the workload (its block size). */
  span?: (w: Workload) => Span;
  /** Geometries to pick from (adapter options); the first is the default. */
  geometries?: AdapterOptions[];
  wo?: WorkloadOptions;
  /** Before the steps (e.g. a setup). */
  setup?: (w: Workload, input: WorkloadInput) => void;
  /** After each step: extra checks. */
  check?: (w: Workload, s: Step) => void;
  /** After all steps, before the final read back. */
  finish?: (w: Workload) => void;
  /** Skip the final full read (the property reads what it needs). */
  noVerify?: boolean;
}

export interface WorkloadInput {
  geo: number;
  steps: Step[];
}

export function defaultSpan(w: Workload): Span {
  const bs = w.bs;
  const folio = w.geometry.folioSize ?? 65536;
  const unit = Math.max(bs, folio, 4096);
  return { maxFile: Math.min(Math.max(4 * unit, 16 * bs), 1 << 22), maxOp: Math.min(Math.max(unit, 4 * bs), 1 << 20) };
}

/** Play a step, or (when the target cannot do its kind) a write instead. */
export function playStep(w: Workload, s: Step, span: Span): void {
  play(w, supports(w, s.k) ? s : { ...s, k: 'write' }, span);
}

/** Common geometry sets. */
export const GEO_DEFAULT: AdapterOptions = {};
export const GEO_SUBFOLIO: AdapterOptions = { blockSize: 1024, folioSize: 16384 };
export const GEO_SMALLFOLIO: AdapterOptions = { blockSize: 4096, folioSize: 4096 };

export function workloadProperty(o: WorkloadPropertyOptions): PropertyDef<never> {
  const geos = o.geometries ?? [GEO_DEFAULT];
  return property<WorkloadInput>({
    name: o.name,
    section: o.section,
    describe: o.describe,
    needs: o.needs,
    weight: o.weight,
    arb: () => fc.record({ geo: fc.nat(geos.length - 1), steps: stepsArb(o.weights, o.maxSteps, o.minSteps ?? 1) }),
    run: (ctx: PropContext, input: WorkloadInput) => {
      const w = ctx.open(geos[input.geo] ?? GEO_DEFAULT, o.wo);
      const span = (o.span ?? defaultSpan)(w);
      o.setup?.(w, input);
      for (const s of input.steps) {
        playStep(w, s, span);
        o.check?.(w, s);
      }
      o.finish?.(w);
      w.drain();
      if (!o.noVerify) verifyAll(w);
      w.quiesce();
    },
  });
}
