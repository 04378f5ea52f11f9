/**
 * `iomap-harness`: the command line as a function, and the two adapter entry points.
 *
 *   const { main } = require('iomap-harness');
 *   const code = await main(['fsx', '--adapter', './my-adapter.js', '-N', '20000']);
 *
 * Entry points (package.json "exports"): `iomap-harness/adapter` (FileAdapter types, FsError and
 * errno names, FIEMAP flags, the naive adapter), `iomap-harness/reference` (ReferenceAdapter to run
 * an ops table under the reference generic layer, refs, the iomap types).
 */
export { main } from '../cli/main';
export type { CliIO } from '../cli/common';
export * as adapter from './adapter';
export * as reference from './reference';
