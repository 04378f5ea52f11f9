/**
 * State coverage of a `check` run: the suites open many targets, at several geometries, so the
 * maps are kept per geometry class and every workload adds to its class's map (its runner's file
 * cells and steps, its target's generic-layer states and contract rule counts).
 */
import type { Capabilities, FileTarget } from '../../adapters/types';
import { geometryClass } from './cells';
import { CoverageRecorder } from './recorder';

export class CoverageSet {
  readonly byClass = new Map<string, CoverageRecorder>();
  constructor(readonly adapter: string, readonly seed?: number) {}

  /** The map for a target of this geometry (created on first use). */
  recorderFor(caps: Capabilities, folioSize: number | undefined, eofPrealloc: boolean): CoverageRecorder {
    const folio = folioSize ?? caps.pageSize;
    const cls = geometryClass(caps.blockSize, caps.pageSize, folio, eofPrealloc);
    let r = this.byClass.get(cls);
    if (r === undefined) {
      r = new CoverageRecorder(this.adapter, { blockSize: caps.blockSize, pageSize: caps.pageSize, folioSize: folio }, cls, this.seed);
      r.enabled.fill(false);
      this.byClass.set(cls, r);
    }
    return r;
  }

  /**
   * A workload is done with `target`: count its ops and rule preconditions; the ops that ran make
   * up the denominator (a suite's workloads choose their ops, no weights say what could run).
   */
  finish(rec: CoverageRecorder, target: FileTarget, ops: number): void {
    target.observeStates?.(null);
    rec.ops += ops;
    const rules = target.ruleCounts?.();
    if (rules !== undefined) for (const [k, v] of rules) rec.rules[k] = (rec.rules[k] ?? 0) + v;
    for (let op = 0; op < rec.enabled.length; op++) {
      for (let e = 0; e < 3; e++) if (rec.fileOps[op * 3 + e] > 0) rec.enabled[op] = true;
    }
  }
}
