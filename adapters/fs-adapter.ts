/**
 * FsAdapter: how a filesystem's ops table plugs in. A filesystem developer provides mkfs and
 * mount on a BlockDevice; mount returns an FsInstance (reference/iomap/fs-ops.ts): the iomap ops
 * tables in the API generation the adapter declares (`api`; docs/adapters.md shows both) —
 * 6.12: iomapOps begin/end, writebackOps mapBlocks/prepareIoend/discardFolio, folio ops hung off
 * each mapping; current: iomapOps, writeOps, wbOps writebackRange/writebackSubmit, readOps —
 * plus dioEndIo, the space operations and the metadata commit the kernel leaves to each
 * filesystem. The harness runs the reference generic layer over it with the contract monitor in
 * between (adapters/reference.ts).
 */
import type { BlockDevice } from '../reference/device/types';
import type { FsInstance } from '../reference/iomap/fs-ops';
import { defaultApi, IomapApi } from '../reference/iomap/types';
import { Refs } from '../reference/fs/refs';
import { FsError, EINVAL } from '../reference/errno';

export type { FsInstance, FsCapabilities, FsIntrospection, MappingSnapshot, BlockState } from '../reference/iomap/fs-ops';

export interface FsMkfsOptions {
  blockSize: number;
  /** Inline data limit, for filesystems that support it (ignored otherwise). */
  inlineMax?: number;
}

/** What the harness asks of a mount. */
export interface FsMountOptions {
  /** The API generation to run the ops tables in (one of FsAdapter.api). */
  api?: IomapApi;
}

export interface FsAdapter {
  readonly name: string;
  /** One line for `list adapters`. */
  readonly describe: string;
  /**
   * The iomap API generation(s) the ops tables are written for (docs/model.md "API
   * generations"); the first is the default. Absent: '6.12'. The FsInstance a mount returns
   * must say the same in its `api`.
   */
  readonly api?: IomapApi | readonly IomapApi[];
  mkfs(dev: BlockDevice, opts: FsMkfsOptions): void;
  mount(dev: BlockDevice, opts?: FsMountOptions): FsInstance;
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
  api: ['6.12', 'current'],
  mount: (dev, opts) => Refs.mount(dev, { api: opts?.api }),
  crashSafe: true,
};

/** The generations an adapter's ops tables are written for, default first. */
export function adapterApis(fsa: FsAdapter): readonly IomapApi[] {
  const a = fsa.api ?? '6.12';
  return typeof a === 'string' ? [a] : a;
}

/**
 * The generation to run `fsa` in: the one asked for (it must be among the adapter's), else
 * $IOMAP_HARNESS_API where the adapter has it, else the adapter's default. A mismatch is bad input (EINVAL, one line).
 */
export function resolveApi(fsa: FsAdapter, wanted: IomapApi | undefined): IomapApi {
  const have = adapterApis(fsa);
  if (wanted === undefined) {
    // IOMAP_HARNESS_API moves the default of adapters that have that generation; one written
    // for a single generation keeps it.
    const d = defaultApi();
    return have.includes(d) ? d : have[0];
  }
  if (!have.includes(wanted)) throw new FsError(EINVAL, `api: ${fsa.name} has ops tables for ${have.join(', ')} only, not ${wanted}`);
  return wanted;
}
