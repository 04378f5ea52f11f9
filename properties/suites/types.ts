/**
 * Property suites (docs/suites.md): fast-check properties grouped by area, each naming the spec
 * section it checks. A suite declares what it needs from a target (capabilities, interleaving
 * steps, the reference model's introspection); a target lacking one is reported as skipped with
 * the reason. Properties run workloads (workload.ts) whose file operations are fsx op records, so
 * every counterexample is saved as an op log that `iomap-harness replay` runs without fast-check.
 */
import type * as fc from 'fast-check';
import type { AdapterOptions } from '../../adapters/registry';
import type { FileAdapter } from '../../adapters/types';
import type { FailureKind } from '../fsx/runner';
import type { Workload } from './workload';

/**
 * What a suite or property needs from the target:
 *  - a capability flag (mmap, directIO, seek, fiemap, clone, dedupe, copyRange) or
 *    `falloc:0xNN` (a fallocate mode in capabilities.fallocModes);
 *  - `interleave`: FileTarget.interleave (writeback now, completions, evict, begin/get_folio window);
 *  - `asyncDio`: interleave.directWriteAsync;
 *  - `model`: the reference model itself (a ReferenceTarget: its FileHandle, refs counters, invariants);
 *  - `geometry`: the adapter honours a requested block and folio size;
 *  - `crash`: FileTarget.crash (power cuts: the reference adapter over a CrashDevice);
 *  - `introspect`: the filesystem under the reference model can describe its block mapping
 *    (FsInstance.introspect; an exec: fs-level server offers it with the `snapshot` request);
 *  - `faults`: FileTarget.faults (model-level fault injection: short user copies, capped reservations);
 *  - `remount`: capabilities.remount and FileTarget.remount (a clean unmount and mount);
 *  - `atomic`, `dontcache`, `exchange`: the newer I/O (Capabilities.atomicWrite + directIO,
 *    .dontcache, .exchangeRange, and the FileTarget methods), as fsx decides it;
 *  - `deviceFaults`: FileTarget.deviceFaults (the harness owns the device under the file and can
 *    tell its blocks: reference, mutant:, module:, exec: fs-level servers that offer snapshots).
 */
export type Need =
  | 'mmap' | 'directIO' | 'seek' | 'fiemap' | 'clone' | 'dedupe' | 'copyRange'
  | 'interleave' | 'asyncDio' | 'model' | 'geometry' | 'crash' | 'faults' | 'deviceFaults' | 'introspect' | 'remount'
  | 'atomic' | 'dontcache' | 'exchange'
  | `falloc:${string}`;

/** Where a suite runs: the adapter spec and how adapters are made. */
export interface SuiteEnv {
  /** Adapter spec as given (recorded in op logs; replay loads it). */
  spec: string;
  /** Options from the command line (--bs/--folio); they override a property's own geometry. */
  opts: AdapterOptions;
  /** Make a fresh adapter (default: loadAdapter(spec, opts)). Tests pass broken adapters here. */
  create(opts: AdapterOptions): FileAdapter;
  /** End what create() keeps alive between adapters (pooled exec: servers); called after each property. */
  release?(): void;
  /** End everything the environment keeps alive (the end of a check). */
  close?(): void;
  /** Server processes started and reused so far (exec: with a pool), for the summary. */
  servers?(): { started: number; reused: number } | null;
  /** check --coverage: every workload adds its states to the map of its geometry class. */
  coverage?: import('../coverage/set').CoverageSet;
}

/** A failure found by a property, in the terms op logs and JSON summaries use. */
export interface SuiteFailure {
  kind: FailureKind;
  /** Spec rule: "fileops-14.N", a contract rule ID ("R30"), "iomap-contract-§5.6", "model-invariants". */
  rule?: string;
  /** 1-based number of the last op in the log when the failure was seen (≥ 1 when the log has ops). */
  op: number;
  offset?: number;
  lines: string[];
}

/** Per-run context handed to a property. */
export interface PropContext {
  readonly env: SuiteEnv;
  /**
   * Open a fresh workload (adapter + target + fsx runner) with extra adapter options, on the
   * suite's environment or on `env` (a property that needs its own target, e.g. a fault device).
   */
  open(opts?: AdapterOptions, wo?: WorkloadOptions, env?: SuiteEnv): Workload;
}

export interface WorkloadOptions {
  /** fsx -X: read the whole file back after every op (recorded in the log). */
  checkFile?: boolean;
  /** fsx -e 1: junk past EOF in the EOF page before size changes (recorded in the log). */
  polluteEof?: boolean;
  /** Check the model invariants (folio state, reservations, WARNs) after every step (model targets). */
  invariants?: boolean;
  /** Clone/dedupe ops carry checkShared: FIEMAP must report the remapped blocks SHARED (op log v3). */
  checkShared?: boolean;
}

export interface PropertyDef<T = unknown> {
  /** Short name, unique in the suite. */
  name: string;
  /** The spec sections it checks (iomap-contract §N, file-ops §N / §14.N). */
  section: string;
  describe: string;
  needs?: Need[];
  /** Runs per --runs unit (e.g. 0.5 for expensive properties); default 1. */
  weight?: number;
  arb(env: SuiteEnv): fc.Arbitrary<T>;
  /** Apply one input. Failures are recorded on the workload(s) opened through ctx. */
  run(ctx: PropContext, input: T): void;
}

export interface SuiteDef {
  name: string;
  /** One line: the area. */
  area: string;
  /** Spec sections covered (the union of its properties'). */
  sections: string;
  needs?: Need[];
  properties: PropertyDef<never>[];
}

/** Helper so a suite can list properties of different input types. */
export function property<T>(p: PropertyDef<T>): PropertyDef<never> {
  return p as unknown as PropertyDef<never>;
}
