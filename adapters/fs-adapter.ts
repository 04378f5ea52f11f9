/**
 * FsAdapter: how a filesystem's ops table plugs in. A filesystem developer provides mkfs and
 * mount on a BlockDevice; mount returns an FsInstance (reference/iomap/fs-ops.ts): the iomap ops
 * tables (iomapOps begin/end, writebackOps mapBlocks/prepareIoend/discardFolio, folio ops hung
 * off each mapping, dioEndIo) plus the space operations and metadata commit the kernel leaves
 * to each filesystem. The harness runs the reference generic layer over it with the contract
 * monitor in between (adapters/reference.ts).
 */
import type { BlockDevice } from '../reference/device/types';
import type { FsInstance } from '../reference/iomap/fs-ops';
import { Refs } from '../reference/fs/refs';

export type { FsInstance, FsCapabilities, FsIntrospection, MappingSnapshot, BlockState } from '../reference/iomap/fs-ops';

export interface FsMkfsOptions {
  blockSize: number;
  /** Inline data limit, for filesystems that support it (ignored otherwise). */
  inlineMax?: number;
}

export interface FsAdapter {
  readonly name: string;
  /** One line for `list adapters`. */
  readonly describe: string;
  mkfs(dev: BlockDevice, opts: FsMkfsOptions): void;
  mount(dev: BlockDevice): FsInstance;
  /**
   * What the file level can offer on top of this filesystem (before anything is mounted):
   * fallocate modes, reflink (clone/dedupe), direct I/O. Omitted: everything refs offers.
   */
  fileCapabilities?: { fallocModes?: number[]; reflink?: boolean; directIO?: boolean; inline?: boolean };
  /**
   * The filesystem claims to survive power cuts (its metadata is journalled or ordered on the
   * device): the reference adapter then runs it over a CrashDevice and fsx's `crash` op cuts the
   * power (docs/fsx.md "Power cuts"). Omitted: no power cuts.
   */
  crashSafe?: boolean;
}

/** refs, the reference filesystem. */
export const refsFsAdapter: FsAdapter = {
  name: 'refs',
  describe: 'the reference filesystem: delalloc, unwritten, inline, reflink/COW, on-device metadata',
  mkfs: (dev, opts) => Refs.mkfs(dev, { blockSize: opts.blockSize, inlineMax: opts.inlineMax }),
  mount: (dev) => Refs.mount(dev),
  crashSafe: true,
};
