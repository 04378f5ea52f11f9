/**
 * The target failed as a whole (it crashed, hung, or could not open): the CLI exits 3. Adapters
 * throw it (or a subclass) for failures that are not filesystem semantics, e.g. an out-of-process
 * server that died or timed out; `kind: 'hang'` marks a timeout. Thrown during an op it becomes a
 * `crash` or `hang` failure of that op (with the op log saved); outside an op it ends the run.
 * It lives with the adapters because they throw it; the harnesses above only catch it.
 */
export class TargetError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TargetError';
  }
}

/**
 * The harness cannot run a property or an op on this target because the target lacks a
 * capability the harness needs (model-level fault injection, a fault device, a snapshot, a
 * fallocate mode it did not declare). Not a defect of the target: reported as a skip with `reason`.
 */
export class HarnessLimit extends Error {
  /** The capability that is missing (names as `list suites` shows them). */
  readonly capability: string;
  constructor(capability: string, reason: string) {
    super(reason);
    this.name = 'HarnessLimit';
    this.capability = capability;
  }
}
