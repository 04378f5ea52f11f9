/**
 * `iomap-harness/reference`: plugging in a filesystem's ops table (an FsAdapter) under the
 * reference iomap generic layer, and the reference filesystem refs itself (docs/adapters.md).
 *
 *   const { ReferenceAdapter, refsFsAdapter } = require('iomap-harness/reference');
 *   exports.createAdapter = (opts) => new ReferenceAdapter({ fs: myFs, blockSize: opts.blockSize });
 */
export { createReferenceAdapter, ReferenceAdapter } from '../adapters/reference';
export type { ReferenceOptions } from '../adapters/reference';
export { refsFsAdapter } from '../adapters/fs-adapter';
export type {
  BlockState, FsAdapter, FsCapabilities, FsInstance, FsIntrospection, FsMkfsOptions, MappingSnapshot,
} from '../adapters/fs-adapter';
export type { BlockDevice } from '../reference/device/types';
export * from '../reference/iomap/types';
export { Ioend, iomapFinishIoends } from '../reference/iomap/ioend';
export { iomapLastWrittenBlock, iomapWriteDelallocRelease } from '../reference/iomap/buffered-io';
export { mountWithMonitor } from '../adapters/reference';
export { ProcessFsAdapter } from '../adapters/process';
export { MemoryDevice } from '../reference/device/memory';
export { FileDevice } from '../reference/device/file';
export { IomapFs, FileHandle } from '../reference/file';
