/**
 * `iomap-harness/adapter`: what a file-level adapter module needs (docs/adapters.md).
 *
 *   const { FsError, EINVAL } = require('iomap-harness/adapter');
 *   exports.createAdapter = (opts) => ({ name, capabilities, open() {...}, close() {...} });
 */
export type {
  Capabilities, CrashOutcome, FaultSteps, FiemapExtent, FileAdapter, FileTarget, InterleavingSteps, TargetSetup,
} from '../adapters/types';
export {
  FALLOC_FL_COLLAPSE_RANGE, FALLOC_FL_INSERT_RANGE, FALLOC_FL_KEEP_SIZE, FALLOC_FL_PUNCH_HOLE, FALLOC_FL_UNSHARE_RANGE,
  FALLOC_FL_ZERO_RANGE,
} from '../adapters/types';
export type { AdapterOptions } from '../adapters/registry';
export * from '../reference/errno';
export * from '../reference/uapi-fiemap';
export { createNaiveAdapter, NaiveAdapter } from '../adapters/naive';
export type { NaiveOptions } from '../adapters/naive';
