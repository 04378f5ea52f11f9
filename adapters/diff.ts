/**
 * Differential target (`diff:host:DIR`): every operation runs on a host kernel filesystem and on
 * the reference (refs with the matching personality and block size), and after every operation
 * that can change the file the two are compared: the results (return values and errnos), the size,
 * the mapping block by block (FIEMAP class: hole, delalloc, unwritten, written, shared) and what
 * SEEK_DATA/SEEK_HOLE say, and every few ops the bytes. The host's answers are what the fuzzer's
 * own oracle checks; the reference's are compared with them. A difference outside the envelope
 * (below) throws a Divergence, which the fsx runner reports as a failure of kind `divergence` with
 * the rule naming what differed, so fsx saves, shrinks and replays it like any other failure.
 *
 * The envelope, each entry a behaviour any correct kernel may show (docs/host.md, "diff"):
 * - the host wrote a block back earlier than the model: the kernel flusher and memory pressure
 *   write dirty data back whenever they like, so a block the model still holds as delalloc may be
 *   unwritten or written on the host, and one the model holds dirty over an unwritten extent may
 *   be written;
 * - SEEK over unwritten extents depends on what readahead left in the page cache, which differs
 *   between the kernel and the model, so a block that is unwritten on either side may be data or
 *   hole to SEEK;
 * - flushes write whole folios, and the kernel and the model size folios differently, so a block
 *   next to a flushed range may be written on one side and still dirty over unwritten on the other;
 * - XFS speculative preallocation (xfs personality): blocks the host preallocated past EOF and a
 *   later size extension brought inside EOF may be unwritten where the model has a hole, and the
 *   delalloc extents they join convert differently at writeback, so a block dirty in the model's
 *   cache may be unwritten there and still delalloc on the host; and such a block, unwritten on
 *   the host and a hole in the model, goes on being the host's only: zeroing over it dirties it and
 *   writeback writes it (written zeroes on the host, still a hole in the model), a clone shares it;
 *   it is followed through shifts and remaps (SpeculativeBlocks); and since it is a mapping of its
 *   own on the host, a write's folios stop at it there, so a flush may write back a larger folio on
 *   the reference than on the host (foliosHoldingSpeculative); and as an extent it keeps the host's
 *   reflink inode flag through a truncate that leaves the reference none (followHostReflinkFlag);
 * - a misaligned O_DIRECT write both sides refused (ext4) may have landed different blocks, since
 *   the mappings before the misaligned one land and ext4's extents follow its allocator: a block
 *   old on one side and new on the other (written on both) is handed over to the reference; and
 *   the misaligned mapping's allocation ends where ext4's allocator ends it (mballoc's inode
 *   preallocation), so the host may have allocated only a prefix of the blocks the reference did:
 *   the blocks the host left a hole after its (non-empty) allocation are punched on the reference;
 * - copy-on-write progress: a flush finishes the copy-on-write of whole folios, and a COW write's
 *   folios follow its mappings, whose ends follow the physical extents (the allocator) and the
 *   cache history, neither of which the model copies; and the kernel flusher may finish any pending
 *   copy-on-write at any time. So a block whose copy-on-write the reference has pending (a shared
 *   block holding dirty data, or another owner of its physical block) may be written on the host,
 *   and a block that was pending at the last comparison (renumbered by shifts since) may still be shared on the host after the
 *   reference wrote it back (until the two agree again), and so may another host owner of such a lagging block's physical block. And a folio outlives the write that sized
 *   it: a reference folio that spans an extent boundary the host has and the reference lacks (the
 *   host's write stopped its folio there) may be written back whole by a later flush on the
 *   reference, where the host's folio past the boundary stays dirty (delalloc) (foliosAcrossHostExtents;
 *   xfs only: ext4's buffered writes do not size folios by the mapping); likewise a reference folio
 *   that ends or starts at an extent boundary the reference has and the host lacks, since the host's
 *   folio there spans it (foliosAtReferenceEdges). `cowProgress: false` turns this off;
 * - FIEMAP extent boundaries and the LAST flag are not compared (only per-block classes are).
 * Whenever a block is let through by an envelope entry rather than equal, the whole file's bytes
 * are compared at once, so a mapping difference never hides a content difference. The diff's own
 * reads go through RWF_DONTCACHE on both sides, so they leave the page caches as they were (look).
 */
import type { Capabilities, FiemapExtent, FileAdapter, FileTarget, KernelEvidence, TargetSetup } from './types';
import { ReferenceAdapter, ReferenceTarget } from './reference';
import { FsError } from '../reference/errno';
import { blockIsDirty, type Folio } from '../reference/iomap/folio';
import type { AddressSpace } from '../reference/iomap/pagecache';
import { FIEMAP_EXTENT_DELALLOC, FIEMAP_EXTENT_SHARED, FIEMAP_EXTENT_UNWRITTEN } from '../reference/uapi-fiemap';
import type { PersonalityName } from '../reference/fs/personality';
import { runCommand } from './host/commands';
import { FALLOC_FL_COLLAPSE_RANGE, FALLOC_FL_INSERT_RANGE, FALLOC_FL_KEEP_SIZE, FALLOC_FL_PUNCH_HOLE, FALLOC_FL_UNSHARE_RANGE } from '../reference/file';
import { Refs, refsOf } from '../reference/fs/refs';

/** What differed between host and reference (the failure's rule). */
export type DivergenceRule = 'diff-result' | 'diff-size' | 'diff-bytes' | 'diff-mapping' | 'diff-seek';

/** Host and reference disagree outside the envelope. Recognised by the fsx runner by its name. */
export class Divergence extends Error {
  readonly rule: DivergenceRule;
  /** The errno of the side that failed (the host's when both did), for the failure's signature. */
  readonly errno?: string;
  constructor(rule: DivergenceRule, lines: string[], errno?: string) {
    super(lines.join('\n'));
    this.name = 'Divergence';
    this.rule = rule;
    if (errno !== undefined) this.errno = errno;
  }
}

/** A block's FIEMAP class. */
export type BlockClass = 'hole' | 'delalloc' | 'unwritten' | 'written' | 'shared';

/** Per-block classes of [0, nblocks) from FIEMAP extents (blocks no extent covers are holes). */
export function blockClasses(ext: readonly FiemapExtent[], bs: number, nblocks: number): BlockClass[] {
  const out: BlockClass[] = new Array(nblocks).fill('hole');
  for (const e of ext) {
    const cls: BlockClass = e.flags & FIEMAP_EXTENT_DELALLOC ? 'delalloc' : e.flags & FIEMAP_EXTENT_UNWRITTEN ? 'unwritten'
      : e.flags & FIEMAP_EXTENT_SHARED ? 'shared' : 'written';
    const a = Math.max(0, Math.floor(e.logical / bs));
    const b = Math.min(nblocks, Math.ceil((e.logical + e.length) / bs));
    for (let i = a; i < b; i++) out[i] = cls;
  }
  return out;
}

/** Per-block SEEK answer over [0, size): true where SEEK_DATA/SEEK_HOLE put data. */
export function seekDataBlocks(t: Pick<FileTarget, 'seekData' | 'seekHole'>, size: number, bs: number): boolean[] {
  const n = Math.ceil(size / bs);
  const out: boolean[] = new Array(n).fill(false);
  let pos = 0;
  while (pos < size) {
    let d: number;
    try {
      d = t.seekData!(pos);
    } catch (e) {
      if (e instanceof FsError && e.code === 'ENXIO') break;
      throw e;
    }
    // Linux may answer SEEK_DATA with i_size instead of ENXIO: over an unwritten extent iomap asks
    // the page cache (mapping_seek_hole_data), which clamps what it found past the range to the
    // range's end. A cached, partly uptodate folio over the last unwritten block does that (ext4
    // 1k, seed 61, op 41,002, 3 ops: SEEK_DATA(148480) = 149504 = EOF, then SEEK_HOLE there ENXIO).
    if (d >= size) break;
    const h = t.seekHole!(d);
    for (let b = Math.floor(d / bs); b < Math.min(n, Math.ceil(h / bs)); b++) out[b] = true;
    pos = h;
  }
  return out;
}

/**
 * Whether reference class `r` and host class `h` of one block agree within the envelope;
 * `refDirty`: the block is dirty in the reference's page cache.
 */
export function classesAgree(r: BlockClass, h: BlockClass, refDirty: boolean, speculative = false): boolean {
  if (r === h) return true;
  // XFS speculative preallocation: writeback turned post-EOF delalloc into unwritten blocks the
  // model never asked for, which a later size extension brought inside EOF (what later becomes of
  // such a block: SpeculativeBlocks).
  if (speculative && r === 'hole' && h === 'unwritten') return true;
  // XFS speculative preallocation again: post-EOF delalloc that later writes brought inside EOF
  // joins delalloc extents the model keeps apart (or splits ones it joins), and writeback converts
  // the whole in-core delalloc extent holding the block it writes (xfs_bmapi_convert_delalloc), so
  // the model may have allocated (unwritten, data still dirty in its cache) a block the host still
  // holds as delalloc. Only for dirty blocks: nothing was written there on either side.
  if (speculative && r === 'unwritten' && h === 'delalloc') return refDirty;
  // The host wrote back earlier (flusher, memory pressure): allocation happened there first.
  if (r === 'delalloc') return h === 'unwritten' || h === 'written';
  if (r === 'unwritten' && h === 'written') return refDirty;
  // Folio granularity: the model's flush took a larger folio than the kernel's.
  if (r === 'written' && h === 'unwritten') return true;
  return false;
}

/**
 * Blocks that XFS speculative preallocation gave the host and the reference never had: let through
 * once as a hole on the reference and an unwritten block on the host (classesAgree), a block stays
 * one while the two disagree, and follows the file's blocks through shifts and remaps. The host's
 * block is allocated, so what the reference does over its hole the host does over an unwritten
 * block: a later partial-block zeroing dirties it, and writeback then writes the host's block
 * (written, zeroes) where the reference, with nothing to write over a hole, keeps the hole (xfs 1k,
 * seed 21, op 23,809, 7 ops: `corpus/host/xfs-1k-speculative-prealloc-clone-diff.json`); a
 * clone of that block shares it on the host and punches the destination on the reference. So such
 * a block may be written or shared on the host while the reference has a hole there, the bytes
 * being compared whenever this is used.
 */
export class SpeculativeBlocks {
  private blocks = new Set<number>();

  has(b: number): boolean { return this.blocks.has(b); }
  all(): IterableIterator<number> { return this.blocks.values(); }
  get size(): number { return this.blocks.size; }

  /**
   * Whether host class `h` and reference class `r` of block `b` are speculative preallocation:
   * hole vs unwritten (a new such block, remembered) or, for a remembered block, hole vs written
   * or shared.
   */
  admit(b: number, r: BlockClass, h: BlockClass): boolean {
    if (r === 'unwritten') {
      // A remembered block the reference has allocated since (a fallocate over its hole) while
      // the host's block holds what it wrote there (zeroes) or shares it: both read the same, and
      // the bytes are compared (xfs 1k, seed 49, op 56,418, 5 ops).
      return (h === 'written' || h === 'shared') && this.blocks.has(b);
    }
    if (r !== 'hole') return false;
    if (h === 'unwritten') {
      this.blocks.add(b);
      return true;
    }
    return (h === 'written' || h === 'shared') && this.blocks.has(b);
  }

  /**
   * Block `b` is unwritten on the host under data the reference holds as dirty delalloc, and it lay
   * past EOF before the op (`firstPastEof`: the first block wholly past the size then): the host had
   * the block allocated before the write, which in a run where the reference has no such block is
   * a speculative one the file grew over (an insert range grows the size before xfs_prepare_shift
   * frees what lies past the new EOF, so post-EOF preallocation between the old and new sizes is
   * shifted out and kept: xfs 4k, seed 45, op 52,883, 7 ops: block 54, past EOF after the insert,
   * brought inside it by a write). Remember it, so that the folios it splits on the host are seen
   * (foliosHoldingSpeculative). Inside the old EOF such a block is no speculative preallocation.
   */
  allocatedUnderDelalloc(b: number, r: BlockClass, h: BlockClass, firstPastEof: number): void {
    if (r === 'delalloc' && h === 'unwritten' && b >= firstPastEof) this.blocks.add(b);
  }

  /** Remember block `b` (a set of blocks that follows the file through shifts and remaps). */
  add(b: number): void { this.blocks.add(b); }

  /** Block `b` agrees on both sides now, or lies past EOF (truncated away): forget it. */
  forget(b: number): void { this.blocks.delete(b); }

  /** Forget every block from `n` on (past EOF). */
  forgetFrom(n: number): void {
    for (const b of this.blocks) if (b >= n) this.blocks.delete(b);
  }

  /** INSERT_RANGE of `len` blocks at block `at`: blocks from `at` on move up by `len`. */
  insert(at: number, len: number): void { this.blocks = insertBlocks(this.blocks, at, len); }

  /** COLLAPSE_RANGE of `len` blocks at block `at`: those blocks go, the ones after move down. */
  collapse(at: number, len: number): void { this.blocks = collapseBlocks(this.blocks, at, len); }

  /**
   * A remap (clone, dedupe, copy) of `len` blocks from block `src` to block `dst`: a destination
   * block whose source is speculative shares (host) or copies what the reference has as a hole.
   */
  remap(src: number, len: number, dst: number): void {
    const from = [...this.blocks].filter((b) => b >= src && b < src + len);
    for (let b = dst; b < dst + len; b++) this.blocks.delete(b);
    for (const b of from) this.blocks.add(b - src + dst);
  }
}

/** Block numbers after an INSERT_RANGE of `len` blocks at block `at` (those from `at` on move up). */
export function insertBlocks(blocks: ReadonlySet<number>, at: number, len: number): Set<number> {
  return new Set([...blocks].map((b) => (b >= at ? b + len : b)));
}

/** Block numbers after a COLLAPSE_RANGE of `len` blocks at block `at` (those go, later ones move down). */
export function collapseBlocks(blocks: ReadonlySet<number>, at: number, len: number): Set<number> {
  const out = new Set<number>();
  for (const b of blocks) {
    if (b < at) out.add(b);
    else if (b >= at + len) out.add(b - len);
  }
  return out;
}

/**
 * Blocks whose copy-on-write the reference has pending: shared blocks holding dirty data, and every
 * shared block on the same physical block as one (the other owners, which stop being shared once
 * the copy is written back). The diff runs on one file, so every owner is in `ext`.
 */
export function cowPendingBlocks(ext: readonly FiemapExtent[], classes: readonly BlockClass[], bs: number,
  dirty: (b: number) => boolean): Set<number> {
  const phys = sharedPhysical(ext, classes, bs);
  const staged = new Set<number>();
  for (const [b, p] of phys) if (dirty(b)) staged.add(p);
  const out = new Set<number>();
  for (const [b, p] of phys) if (staged.has(p)) out.add(b);
  return out;
}

/** The physical byte address of every shared block (the FIEMAP class array's 'shared' ones). */
export function sharedPhysical(ext: readonly FiemapExtent[], classes: readonly BlockClass[], bs: number): Map<number, number> {
  const phys = new Map<number, number>();
  for (const e of ext) {
    if ((e.flags & FIEMAP_EXTENT_SHARED) === 0) continue;
    const a = Math.max(0, Math.floor(e.logical / bs));
    const z = Math.min(classes.length, Math.ceil((e.logical + e.length) / bs));
    for (let b = a; b < z; b++) if (classes[b] === 'shared') phys.set(b, e.physical + b * bs - e.logical);
  }
  return phys;
}

/**
 * Whether a shared/written difference of one block is copy-on-write progress (the envelope):
 * written on the host where the reference has the copy pending now (the host wrote it back
 * earlier), or shared on the host where the reference had it pending at the last comparison or
 * let it through then (the reference's flush took a larger folio).
 */
export function cowProgressAgrees(r: BlockClass, h: BlockClass, pendingNow: boolean, pendingBefore: boolean): boolean {
  if (r === 'shared' && h === 'written') return pendingNow;
  if (r === 'written' && h === 'shared') return pendingBefore;
  return false;
}

type Outcome<T> = { ok: true; v: T } | { ok: false; e: unknown };

function attempt<T>(fn: () => T): Outcome<T> {
  try {
    return { ok: true, v: fn() };
  } catch (e) {
    return { ok: false, e };
  }
}

function errName(e: unknown): string {
  return e instanceof FsError ? e.code : e instanceof Error ? `${e.name}: ${e.message}` : String(e);
}

const sameBytes = (a: Uint8Array, b: Uint8Array): boolean => Buffer.compare(a, b) === 0;

/**
 * Where a refused misaligned O_DIRECT write's bytes `got` (inside EOF, from `off`; `old`: before
 * it) show new data that iomap could not have landed: a block's part that is new (and not old)
 * after one that is old (and not new), or in the block holding the write's last byte (the
 * misaligned mapping, which never lands). A block that is unwritten afterwards proves nothing: its
 * mapping may have landed, but a refused write leaves it unconverted, so it reads as before (ext4
 * 1k, seed 501, op 10,274, 7 ops: block 0 allocated unwritten and landed, block 1 landed over a
 * written block on the reference, where the host's block 1 joined block 2's extent and so the
 * misaligned mapping). Returns that part's range, or null. Parts that are neither old nor new are
 * left to the byte comparison.
 */
function notLandedPrefix(got: Uint8Array, old: Uint8Array, data: Uint8Array, off: number, bs: number,
  unwritten: (block: number) => boolean): [number, number] | null {
  const lastBlock = Math.floor((off + data.length - 1) / bs);
  let stopped = false;
  for (let a = off; a < off + got.length;) {
    const b = Math.min(off + got.length, (Math.floor(a / bs) + 1) * bs);
    const g = got.subarray(a - off, b - off);
    const isOld = sameBytes(g, old.subarray(a - off, b - off));
    const isNew = sameBytes(g, data.subarray(a - off, b - off));
    if (isNew && !isOld && (stopped || Math.floor(a / bs) === lastBlock)) return [a, b];
    if (isOld && !isNew && !unwritten(Math.floor(a / bs))) stopped = true;
    a = b;
  }
  return null;
}

/** How often (in state-changing ops) the whole file's bytes are compared. */
const BYTES_EVERY = 8;

export class DiffTarget implements FileTarget {
  private changes = 0;
  /** Blocks whose copy-on-write the reference had pending at the last comparison. */
  private cowPendingBefore = new Set<number>();
  /** Blocks the reference wrote back (COW finished) that the host still shares. */
  private cowLag = new Set<number>();
  /**
   * Blocks the reference wrote back where the host's folio, split by a speculative block, stayed
   * dirty (delalloc on the host): let through until the two agree again (foliosHoldingSpeculative).
   */
  private readonly splitLag = new SpeculativeBlocks();
  /** Blocks XFS speculative preallocation gave the host only (null: not followed). */
  private readonly spec: SpeculativeBlocks | null;
  /** Blocks of the reference's cached folios that held a speculative block before the current op. */
  private specFolios = new Set<number>();
  /** Whether the reference failed the last op run on both (kernelEvidence()). */
  private refFailed = false;
  /** Reference folios seen spanning an extent boundary the host has and the reference lacks. */
  private readonly acrossHost = new WeakSet<Folio>();
  /** Blocks of such folios before the current op. */
  private acrossFolios = new Set<number>();
  /** Follow what a refused misaligned O_DIRECT write allocated (ext4; reconcileRefusedAllocation). */
  private readonly refusedDioAllocation: boolean;
  /** The size at the last comparison, and so before the current op (the file starts empty). */
  private lastSize = 0;
  /** The size before the current op. */
  private sizeBefore = 0;
  /** The host's external page cache drops seen so far (null: not followed, or not readable). */
  private cacheDrops: number | null;
  private dropsFollowed = 0;
  /** Ops run on both sides (both()), and the one before which the last drop was followed. */
  private opsRun = 0;
  private lastDropAt = 0;
  constructor(private readonly ref: ReferenceTarget, private readonly host: FileTarget, private readonly bs: number,
    /** The host preallocates past EOF on its own (XFS): hole vs unwritten is in the envelope. */
    private readonly speculative: boolean,
    /** A refused misaligned O_DIRECT write may land its earlier mappings (ext4: dioMisalignedWritePartial). */
    private readonly partialDio = false,
    /** Copy-on-write progress is in the envelope (cowProgressAgrees). */
    private readonly cowProgress = true,
    /** Follow speculatively preallocated blocks through later ops (SpeculativeBlocks). */
    speculativeLineage = true,
    /** Both sides can read with RWF_DONTCACHE (the diff's own reads then leave the caches alone). */
    private readonly dontcache = false,
    /** A refused misaligned O_DIRECT write may have allocated a prefix of what the reference did (reconcileRefusedAllocation). */
    refusedDioAllocation = true,
    /** Drop the reference's clean cache when someone else drops the host's (followCacheDrops). */
    followCacheDrops = true) {
    this.refusedDioAllocation = partialDio && refusedDioAllocation;
    this.spec = speculative && speculativeLineage ? new SpeculativeBlocks() : null;
    this.cacheDrops = followCacheDrops ? host.externalCacheDrops?.() ?? null : null;
  }

  /** How many of the host's external page cache drops the reference followed. */
  get cacheDropsFollowed(): number {
    return this.dropsFollowed;
  }

  /**
   * Another process's `echo 1|3 > /proc/sys/vm/drop_caches` (the host adapter's closeOpen in any
   * other harness run on the machine does it) drops every clean folio of the host file at a moment
   * the run does not choose; a later write there then makes new folios sized by its own mapping
   * where the reference reuses its larger cached one, and a flush writes back different blocks
   * (xfs 1k, seed 1303, op 45,224: a clean folio over pages 4-5 went on the host only, a write whose
   * mapping at block 16 was a one-block hole made page 4 a folio of its own there, and an insert's
   * flush from block 21 wrote block 16 back on the reference only; reproduced by dropping the host
   * file's clean cache after op 45,222). After each host op, before the reference runs it, the
   * drops counted since the last look are followed: the reference drops its clean cache too
   * (IomapFs.dropCaches). A drop inside the host op is taken to have come before it; one in the
   * microseconds between the host op and the look is followed though the host op did not see it.
   */
  private followCacheDrops(): void {
    this.opsRun++;
    if (this.cacheDrops === null) return;
    const n = this.host.externalCacheDrops?.() ?? null;
    if (n !== null && n > this.cacheDrops) {
      this.ref.fsys.dropCaches();
      this.dropsFollowed++;
      this.lastDropAt = this.opsRun;
    }
    if (n !== null) this.cacheDrops = n;
  }

  /**
   * For a divergence report: whether other processes dropped the page cache during the run. A drop
   * inside a host op may have come after the op looked at the cache, which following cannot undo,
   * so a divergence soon after one may be the machine's doing: replaying the log tells.
   */
  private dropNote(): string[] {
    if (this.dropsFollowed === 0) return [];
    const ago = this.opsRun - this.lastDropAt;
    return [`  note: other processes dropped the page cache ${this.dropsFollowed} times during this run (followed on the reference), the last ${ago === 0 ? 'during this op' : `${ago} ops before this one`}; a drop inside a host op cannot be followed exactly: replay the log to see whether the divergence stays`];
  }

  /**
   * The diff's own reads (the byte comparisons, the bytes around a refused O_DIRECT write) must
   * not change what they judge. A pread caches every page it reads: later writes then land in
   * those single cached pages instead of the folios an unprimed run makes (so flushes write back
   * other blocks), and a cached EOF block changes what ext4's failed-write cleanup leaves in the
   * cache. An RWF_DONTCACHE read drops the folios it brought in and leaves those that were there,
   * on the host (filemap_end_dropbehind_read) as in the model, so both sides read that way when
   * the host can (Linux 6.14+); otherwise both pread, and the adapter's notes say so.
   */
  private look(t: FileTarget, off: number, len: number): Uint8Array {
    return this.dontcache ? t.readDontcache!(off, len) : t.pread(off, len);
  }

  /**
   * Run `what` on both: the same outcome (equal values, or the same errno) returns the host's; a
   * different one is a divergence. A reference exception that is not an FsError (a contract
   * violation, a model crash) is the model's failure and propagates as it is.
   */
  private both<T>(what: string, onRef: (t: FileTarget) => T, eq: (a: T, b: T) => boolean = (a, b) => a === b): T {
    // The host first: a page cache drop by another process before or during its op is then seen
    // (followCacheDrops) before the reference runs the same op.
    const h = attempt(() => onRef(this.host));
    this.followCacheDrops();
    const r = attempt(() => onRef(this.ref));
    if (!r.ok && !(r.e instanceof FsError)) throw r.e;
    this.refFailed = !r.ok;
    if (r.ok && h.ok) {
      if (!eq(r.v, h.v)) throw new Divergence('diff-result', [`${what}: the reference returned ${show(r.v)}, the host ${show(h.v)}`]);
      return h.v;
    }
    if (!r.ok && !h.ok && h.e instanceof FsError && (r.e as FsError).code === h.e.code) throw h.e;
    const failed = !h.ok ? h.e : !r.ok ? r.e : undefined;
    throw new Divergence('diff-result', [`${what}: the reference ${r.ok ? `returned ${show(r.v)}` : `failed with ${errName(r.e)}`}, the host ${h.ok ? `returned ${show(h.v)}` : `failed with ${errName(h.e)}`}`],
      failed instanceof FsError ? failed.code : undefined);
  }

  /**
   * Run a state-changing op on both, then compare the two files; `moved` tells what the op did to
   * block numbers (shifts, remaps) before the comparison.
   */
  private change<T>(what: string, fn: (t: FileTarget) => T, eq?: (a: T, b: T) => boolean, moved?: (v: T) => void, unshare = false): T {
    this.sizeBefore = this.lastSize;
    this.specFolios = this.foliosHoldingSpeculative();
    this.acrossFolios = this.foliosAcrossHostExtents();
    const reflinked = this.refReflinked();
    const v = this.both(what, fn, eq);
    moved?.(v);
    this.compare(what);
    if (reflinked && !this.refReflinked()) this.followHostReflinkFlag(unshare);
    return v;
  }

  /** The reference file's reflink inode flag (false where the filesystem is not refs). */
  private refReflinked(): boolean {
    return this.ref.fsys.fs instanceof Refs && refsOf(this.ref.fh.inode).reflinked;
  }

  /**
   * Envelope (speculative preallocation): XFS drops the reflink inode flag when a truncate leaves
   * neither fork an extent (xfs_itruncate_clear_reflink_flags; also a collapse or insert that
   * frees past EOF) and when an unshare leaves nothing shared (xfs_reflink_clear_inode_flag). A
   * speculative block the envelope let through is an extent the host has where the reference has a
   * hole, so where the reference just dropped its flag, the host kept its own if such a block is
   * left inside EOF (shared, for an unshare). The reference gets its flag back, so that the next
   * unaligned O_DIRECT write falls back to a buffered one on both sides
   * (xfs_file_dio_write_unaligned; xfs 4k, seed 401, op 38,598, 7 ops: block 1, unwritten before
   * a clone from speculative blocks, stayed so on the host only, and a truncate to 2 blocks left
   * the host that extent and the reference none).
   */
  private followHostReflinkFlag(unshare: boolean): void {
    if (this.spec === null || this.spec.size === 0) return;
    const bs = this.bs;
    const size = this.host.size();
    const n = Math.ceil(size / bs);
    const hc = blockClasses(this.host.fiemap!(0, size, 0), bs, n);
    const kept = [...this.spec.all()].some((b) => b < n && (unshare ? hc[b] === 'shared' : hc[b] !== 'hole'));
    if (kept) refsOf(this.ref.fh.inode).reflinked = true;
  }

  /**
   * The blocks of every reference folio that holds a speculative block. On the host a speculative
   * (unwritten) block is a mapping of its own, and a buffered write sizes its folios by what is left
   * of the mapping (fgf_set_order), so its folios stop where a speculative block starts or ends;
   * the reference, with a hole there, may put the same range in one larger folio. A flush then
   * writes back that whole folio on the reference and only the host's smaller folios inside the
   * range: a block the reference wrote back may still be delalloc (dirty) on the host (xfs 1k, seed
   * 43, op 4,296, 6 ops: blocks 160-163 speculative on the host, 164 a 1-block delalloc mapping;
   * the reference's folio 160-167 was written whole by a zero range's flush of 152-163).
   */
  private foliosHoldingSpeculative(): Set<number> {
    const out = new Set<number>();
    if (this.spec === null || this.spec.size === 0) return out;
    const mapping = this.ref.fh.inode.mapping;
    for (const b of this.spec.all()) {
      const f = mapping.folioAt(b * this.bs);
      if (f === undefined || out.has(b)) continue;
      for (let x = Math.floor(f.pos / this.bs); x < Math.ceil(f.end / this.bs); x++) out.add(x);
    }
    return out;
  }

  /** The blocks of every cached reference folio marked by markFoliosAcrossHostExtents. */
  private foliosAcrossHostExtents(): Set<number> {
    const out = new Set<number>();
    if (!this.cowProgress) return out;
    const mapping = this.ref.fh.inode.mapping;
    for (let i = 0; i < mapping.nrFolios; i++) {
      const f = mapping.folioByRank(i);
      if (!this.acrossHost.has(f)) continue;
      for (let x = Math.floor(f.pos / this.bs); x < Math.ceil(f.end / this.bs); x++) out.add(x);
    }
    return out;
  }

  /**
   * Mark the cached reference folios that span an extent boundary of the host's FIEMAP that the
   * reference's lacks (another physical extent starts there on the host, or a hole does). A
   * buffered write sizes each folio by what is left of its mapping (fgf_set_order), and over
   * allocated blocks (a copy-on-write of shared ones) the mapping ends where the physical extent
   * does, so the host's folios stop at that boundary and the reference's, with one extent there,
   * need not. The mark stays with the folio (a later write fills the same folio): a flush may then
   * write back the whole reference folio where the host's folio past the boundary stays dirty
   * (xfs 4k, seed 101, op 91,286, 8 ops: a copy_file_range made the reference's folio 20-21 over
   * one extent, the host's 20 and 21 over two; after a truncate and an extending write a dedupe's
   * flush of 13-20 wrote block 21 on the reference only).
   */
  private markFoliosAcrossHostExtents(hext: readonly FiemapExtent[], rext: readonly FiemapExtent[]): void {
    // Only where buffered writes go through iomap (xfs): ext4's write_begin sizes its folios by
    // the write's length, not by the mapping, so its folios do not stop at its extents' edges.
    if (!this.cowProgress || !this.speculative) return;
    const refEdges = extentEdges(rext);
    const hostEdges = extentEdges(hext);
    const mapping = this.ref.fh.inode.mapping;
    for (const e of hostEdges) {
      if (refEdges.has(e)) continue;
      const f = mapping.folioAt(e);
      if (f !== undefined && f.pos < e) this.acrossHost.add(f);
    }
    this.markFoliosAtReferenceEdges(mapping, refEdges, hostEdges);
  }

  /**
   * The mirror image (foliosAtReferenceEdges): an extent boundary the reference has and the host
   * lacks stopped the reference's folios there, where the host's write may have made one folio
   * across it. The two caches then go different ways: a flush that unmaps the far side drops the
   * host's whole folio (xfs_flush_unmap_range) and keeps the reference's folio on this side, and
   * a later write makes smaller folios there on the host, so a flush may write back a block with
   * its neighbour on the reference while it stays delalloc on the host (xfs 4k, seed 1103, op
   * 61,009, 11 ops: the reference's extents split at block 10 where the host's did not, a write
   * made the reference folios 8-9 and 10-11 and the host one folio 8-11; a punch of block 10
   * dropped 8-11 on the host, a write of 3-9 made the host folios 8 and 9, and a dedupe's flush of
   * 3-8 wrote block 9 on the reference only). Marked: the reference folios that end or start at
   * such a boundary; their blocks are then let through as foliosAcrossHostExtents' are.
   */
  private markFoliosAtReferenceEdges(mapping: AddressSpace, refEdges: ReadonlySet<number>, hostEdges: ReadonlySet<number>): void {
    for (const e of refEdges) {
      if (hostEdges.has(e) || e === 0) continue;
      const before = mapping.folioAt(e - 1);
      if (before !== undefined && before.end === e) this.acrossHost.add(before);
      const after = mapping.folioAt(e);
      if (after !== undefined && after.pos === e) this.acrossHost.add(after);
    }
  }

  /** What a shift moved: speculative blocks follow their data. */
  private shifted(mode: number, off: number, len: number): void {
    if (off % this.bs !== 0 || len % this.bs !== 0) return;
    // The lagging blocks move with their data whether speculative lineage is followed or not.
    for (const set of this.spec === null ? [this.splitLag] : [this.spec, this.splitLag]) {
      if (mode === FALLOC_FL_INSERT_RANGE) set.insert(off / this.bs, len / this.bs);
      if (mode === FALLOC_FL_COLLAPSE_RANGE) set.collapse(off / this.bs, len / this.bs);
    }
    // So do the blocks whose copy-on-write was pending at the last comparison (or lags on the
    // host): a collapse's flush below its range finishes a folio's copy on the reference, and the
    // other owner that stops being shared with it is numbered after the shift (xfs 4k, seed 302).
    const move = mode === FALLOC_FL_INSERT_RANGE ? insertBlocks : mode === FALLOC_FL_COLLAPSE_RANGE ? collapseBlocks : null;
    if (move !== null) {
      this.cowPendingBefore = move(this.cowPendingBefore, off / this.bs, len / this.bs);
      this.cowLag = move(this.cowLag, off / this.bs, len / this.bs);
    }
  }

  /** What a remap of `len` bytes moved (clone, dedupe, copy): speculative blocks follow too. */
  private remapped(srcOff: number, len: number, dstOff: number): void {
    const bs = this.bs;
    if (this.spec === null || len <= 0 || srcOff % bs !== dstOff % bs) return;
    const src = Math.floor(srcOff / bs);
    this.spec.remap(src, Math.ceil((srcOff + len) / bs) - src, Math.floor(dstOff / bs));
  }

  /** Size, mapping and SEEK after `what`; the bytes every BYTES_EVERY changes. */
  compare(what: string): void {
    const size = this.host.size();
    const rsize = this.ref.size();
    if (size !== rsize) throw new Divergence('diff-size', [`after ${what}: size ${size} on the host, ${rsize} on the reference`]);
    this.lastSize = size;
    this.compareMapping(what, size);
    if (++this.changes % BYTES_EVERY === 0) this.compareBytes(what, size);
  }

  private refBlockDirty(b: number): boolean {
    const mapping = this.ref.fh.inode.mapping;
    const f = mapping.folioAt(b * this.bs);
    return f !== undefined && f.dirty && blockIsDirty(f, Math.floor((b * this.bs - f.pos) / this.bs));
  }

  private compareMapping(what: string, size: number): void {
    const bs = this.bs;
    const n = Math.ceil(size / bs);
    this.spec?.forgetFrom(n);
    this.splitLag.forgetFrom(n);
    if (size === 0 || !this.host.fiemap || !this.host.seekData) return;
    const rext = this.ref.fiemap(0, size, 0);
    const hext = this.host.fiemap(0, size, 0);
    const rc = blockClasses(rext, bs, n);
    const hc = blockClasses(hext, bs, n);
    this.markFoliosAcrossHostExtents(hext, rext);
    const pending = this.cowProgress ? cowPendingBlocks(rext, rc, bs, (b) => this.refBlockDirty(b)) : new Set<number>();
    // Another owner, on the host, of a block whose copy-on-write lags there (cowLag) is shared on
    // the host as long as that copy is pending, though the reference (done with it) may have made
    // it the last owner of its own block (xfs 4k, seed 1001, op 231,657, 8 ops: the host's block 4
    // still shares block 48's physical block after two clones renumbered the owners).
    const hostPhys = this.cowProgress && this.cowLag.size > 0 ? sharedPhysical(hext, hc, bs) : new Map<number, number>();
    const lagPhys = new Set<number>();
    for (const x of this.cowLag) {
      const p = hostPhys.get(x);
      if (p !== undefined) lagPhys.add(p);
    }
    const sharesLagging = (b: number): boolean => rc[b] === 'written' && hc[b] === 'shared' && lagPhys.has(hostPhys.get(b) ?? -1);
    let envelope = false;
    for (let b = 0; b < n; b++) {
      if (rc[b] === hc[b]) {
        this.cowLag.delete(b);
        this.splitLag.forget(b);
        this.spec?.forget(b);
        continue;
      }
      envelope = true;
      if (cowProgressAgrees(rc[b], hc[b], pending.has(b), this.cowPendingBefore.has(b) || this.cowLag.has(b) || sharesLagging(b))) {
        if (hc[b] === 'shared') this.cowLag.add(b);
        continue;
      }
      if (this.spec?.admit(b, rc[b], hc[b])) continue;
      this.spec?.allocatedUnderDelalloc(b, rc[b], hc[b], Math.ceil(this.sizeBefore / bs));
      // Speculative blocks split the host's folios (foliosHoldingSpeculative): the reference's
      // larger folio was written back where the host's smaller one beside it stays dirty.
      // The host's extents split the host's folios (foliosAcrossHostExtents): likewise. Either way
      // the block stays so until the host writes it back too (or both change it): splitLag.
      if (hc[b] === 'delalloc' && (rc[b] === 'written' || rc[b] === 'unwritten') && (this.specFolios.has(b) || this.acrossFolios.has(b) || this.splitLag.has(b))) {
        this.splitLag.add(b);
        continue;
      }
      if (!classesAgree(rc[b], hc[b], this.refBlockDirty(b), this.speculative)) {
        throw new Divergence('diff-mapping', [`after ${what}: block ${b} (byte ${b * bs}) is ${hc[b]} on the host, ${rc[b]} on the reference`,
          `  host:      ${runs(hc)}`, `  reference: ${runs(rc)}`, `  ${triage(rc[b], hc[b])}`, ...this.dropNote()]);
      }
    }
    const rs = seekDataBlocks(this.ref, size, bs);
    const hs = seekDataBlocks(this.host, size, bs);
    for (let b = 0; b < n; b++) {
      if (rs[b] === hs[b] || rc[b] === 'unwritten' || hc[b] === 'unwritten' || this.spec?.has(b)) continue;
      throw new Divergence('diff-seek', [`after ${what}: SEEK says block ${b} (byte ${b * bs}) is ${hs[b] ? 'data' : 'a hole'} on the host, ${rs[b] ? 'data' : 'a hole'} on the reference`,
        `  classes host ${hc[b]}, reference ${rc[b]}`]);
    }
    this.cowPendingBefore = pending;
    if (envelope) this.compareBytes(`${what} (mapping within the envelope)`, size);
  }

  compareBytes(what: string, size: number): void {
    const h = this.look(this.host, 0, size);
    const r = this.look(this.ref, 0, size);
    if (sameBytes(h, r)) return;
    let i = 0;
    while (i < Math.min(h.length, r.length) && h[i] === r[i]) i++;
    throw new Divergence('diff-bytes', [`after ${what}: the files differ from byte ${i} (host ${hex(h[i])}, reference ${hex(r[i])}; lengths ${h.length}/${r.length})`, ...this.dropNote()]);
  }

  size(): number { return this.both('stat', (t) => t.size()); }
  pread(off: number, len: number): Uint8Array { return this.both(`pread(${off}, ${len})`, (t) => t.pread(off, len), sameBytes); }
  pwrite(off: number, data: Uint8Array): number { return this.change(`pwrite(${off}, ${data.length})`, (t) => t.pwrite(off, data)); }
  truncate(size: number): void { this.change(`truncate(${size})`, (t) => t.truncate(size)); }
  fsync(): void { this.change('fsync', (t) => t.fsync()); }
  fdatasync(): void { this.change('fdatasync', (t) => t.fdatasync()); }
  mapread(off: number, len: number): Uint8Array { return this.both(`mapread(${off}, ${len})`, (t) => t.mapread!(off, len), sameBytes); }
  mapwrite(off: number, data: Uint8Array, opts?: { msync?: boolean }): void { this.change(`mapwrite(${off}, ${data.length})`, (t) => t.mapwrite!(off, data, opts)); }
  fallocate(mode: number, off: number, len: number): void {
    this.change(`fallocate(0x${mode.toString(16)}, ${off}, ${len})`, (t) => t.fallocate!(mode, off, len), undefined, () => this.shifted(mode, off, len),
      (mode & FALLOC_FL_UNSHARE_RANGE) !== 0);
  }
  cloneRange(srcOff: number, len: number, dstOff: number): void {
    this.change(`clone(${srcOff}, ${len}, ${dstOff})`, (t) => t.cloneRange!(srcOff, len, dstOff), undefined, () => this.remapped(srcOff, len, dstOff));
  }
  dedupeRange(srcOff: number, len: number, dstOff: number): number {
    // The count is the length asked for (Linux's bytes_deduped), not what was remapped: whole
    // blocks, unless both ranges end at EOF.
    const size = this.ref.size();
    const asked = Math.min(len, 1 << 30);
    const remappedLen = asked % this.bs !== 0 && !(srcOff + asked === size && dstOff + asked === size) ? asked - (asked % this.bs) : asked;
    return this.change(`dedupe(${srcOff}, ${len}, ${dstOff})`, (t) => t.dedupeRange!(srcOff, len, dstOff), undefined, (n) => this.remapped(srcOff, n > 0 ? remappedLen : 0, dstOff));
  }
  copyRange(srcOff: number, len: number, dstOff: number): number {
    return this.change(`copy_file_range(${srcOff}, ${len}, ${dstOff})`, (t) => t.copyRange!(srcOff, len, dstOff), undefined, (n) => this.remapped(srcOff, n, dstOff));
  }
  /**
   * The host's kernel evidence for the last op (FileTarget.kernelEvidence), with whether the
   * reference failed that op too: a family known signature explains a host failure only where the
   * reference succeeded.
   */
  kernelEvidence(): KernelEvidence | null {
    const e = this.host.kernelEvidence?.() ?? null;
    return e === null ? null : { ...e, referenceFailed: this.refFailed };
  }

  directRead(off: number, len: number): Uint8Array { return this.both(`O_DIRECT pread(${off}, ${len})`, (t) => t.directRead!(off, len), sameBytes); }
  directWrite(off: number, data: Uint8Array): number {
    const what = `O_DIRECT pwrite(${off}, ${data.length})`;
    if (!this.partialDio) return this.change(what, (t) => t.directWrite!(off, data));
    const before = this.rangeBytes(off, data.length);
    const classesBefore = this.refusedDioAllocation ? this.rangeClasses(off, data.length) : null;
    try {
      return this.change(what, (t) => t.directWrite!(off, data));
    } catch (e) {
      if (e instanceof FsError && e.code === 'EINVAL') {
        this.reconcileRefusedWrite(what, off, data, before);
        if (classesBefore !== null) this.reconcileRefusedAllocation(what, off, data.length, classesBefore);
      }
      throw e;
    }
  }

  /** Both sides' block classes of the blocks [off, off+len) touches inside EOF (first: its first block). */
  private rangeClasses(off: number, len: number): { first: number; host: BlockClass[]; ref: BlockClass[] } {
    const bs = this.bs;
    const first = Math.floor(off / bs);
    const end = Math.min(Math.ceil((off + len) / bs), Math.ceil(this.host.size() / bs));
    if (end <= first) return { first, host: [], ref: [] };
    const cls = (t: FileTarget): BlockClass[] => blockClasses(t.fiemap!(0, end * bs, 0), bs, end).slice(first);
    return { first, host: cls(this.host), ref: cls(this.ref) };
  }

  /**
   * Envelope: the blocks a refused misaligned O_DIRECT write (ext4) allocated. ext4's
   * ->iomap_begin allocates the misaligned mapping (unwritten) before iomap refuses it, and how
   * many blocks that mapping gets is its allocator's answer: ext4_mb_use_inode_pa ends an
   * allocation at the end of the inode's preallocation (ext4 4k, seed 63, op 45,691, 6 ops: a
   * 32-block preallocation from block 0's writeback ended at block 31, so of blocks 31-32 the host
   * allocated 31 only, where the model's allocator gave both). So the host may have allocated a
   * prefix of what the reference did: blocks that were holes on both sides, a hole on the host
   * and unwritten on the reference after the refusal, with the host's range unchanged from the
   * first of them to the write's end (iomap makes no mapping after the refused one). Those blocks
   * are punched on the reference (they hold no data: the write flushed and invalidated its range
   * first), so the two agree again; anything else is left to the next comparison.
   */
  private reconcileRefusedAllocation(what: string, off: number, len: number, before: { first: number; host: BlockClass[]; ref: BlockClass[] }): void {
    const now = this.rangeClasses(off, len);
    const n = Math.min(now.host.length, before.host.length);
    const onlyRef = (i: number): boolean => now.ref[i] === 'unwritten' && now.host[i] === 'hole'
      && before.host[i] === 'hole' && before.ref[i] === 'hole';
    let s = 0;
    while (s < n && !onlyRef(s)) s++;
    if (s === n) return;
    for (let i = s; i < n; i++) {
      if (now.host[i] !== before.host[i]) {
        const b = before.first;
        throw new Divergence('diff-mapping', [`after ${what} (refused on both): the host allocated block ${b + i} (${before.host[i]} before, ${now.host[i]} now) after leaving block ${b + s} a hole the reference allocated: not a prefix of the write's blocks`]);
      }
    }
    // A prefix is not empty: the host allocated the block just before (ext4's ->iomap_begin
    // allocates at least the misaligned mapping's first block before iomap refuses it). Else the
    // next comparison reports the difference.
    if (s === 0 || before.host[s - 1] !== 'hole' || now.host[s - 1] === 'hole') return;
    const bs = this.bs;
    for (let i = s; i < n;) {
      if (!onlyRef(i)) { i++; continue; }
      let j = i;
      while (j < n && onlyRef(j)) j++;
      this.ref.fallocate(FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (before.first + i) * bs, (j - i) * bs);
      i = j;
    }
  }

  /** Both sides' bytes of [off, off+len) inside EOF. */
  private rangeBytes(off: number, len: number): { host: Uint8Array; ref: Uint8Array } {
    const end = Math.min(off + len, this.host.size());
    const n = Math.max(0, end - off);
    return { host: n > 0 ? this.look(this.host, off, n) : new Uint8Array(0), ref: n > 0 ? this.look(this.ref, off, n) : new Uint8Array(0) };
  }

  /**
   * Envelope: a misaligned O_DIRECT write that both refused (ext4, no up-front check) landed the
   * mappings before its misaligned one, and the mappings are ext4's extents, whose split depends
   * on where its allocator put the blocks (a block allocated next to its neighbour's physical
   * block joins its extent, so the whole write is one misaligned mapping and nothing lands): the
   * model's allocator is not ext4's, so the two may land different blocks (diff, ext4 4k seed 12,
   * 4 ops). Each block's part of the range must be old or new on each side, and written on both;
   * what landed on each side is a prefix of the range (iomap stops at the first misaligned
   * mapping: the write's inner mapping boundaries are block aligned, so that is the last one,
   * and the block holding the write's last byte never lands); where they differ, the reference is
   * given the host's bytes (an aligned direct write over its written block, or a buffered one for
   * the EOF block), so the runs stay comparable.
   */
  private reconcileRefusedWrite(what: string, off: number, data: Uint8Array, before: { host: Uint8Array; ref: Uint8Array }): void {
    const now = this.rangeBytes(off, data.length);
    const size = this.host.size();
    if (size !== this.ref.size() || now.host.length !== before.host.length) {
      // A refused write moved a size. Nothing compares after a refused op (both() throws before
      // change() compares), and a later change could hide it: compare now.
      this.compare(`${what} (refused on both)`);
      this.compareBytes(`${what} (refused on both)`, size);
      return;
    }
    if (sameBytes(now.host, now.ref)) return;
    const bs = this.bs;
    const n = Math.ceil(size / bs);
    const hc = blockClasses(this.host.fiemap!(0, size, 0), bs, n);
    const rc = blockClasses(this.ref.fiemap(0, size, 0), bs, n);
    for (const [side, got, old, cls] of [['host', now.host, before.host, hc], ['reference', now.ref, before.ref, rc]] as const) {
      const bad = notLandedPrefix(got, old, data, off, bs, (b) => cls[b] === 'unwritten');
      if (bad !== null) throw new Divergence('diff-bytes', [`after ${what} (refused on both): the ${side} landed bytes [${bad[0]}, ${bad[1]}), not a prefix of the write short of its last block`]);
    }
    for (let a = off; a < off + now.host.length;) {
      const b = Math.min(off + now.host.length, (Math.floor(a / bs) + 1) * bs);
      const [i, j] = [a - off, b - off];
      const h = now.host.subarray(i, j);
      const r = now.ref.subarray(i, j);
      if (!sameBytes(h, r)) {
        const blk = Math.floor(a / bs);
        const isOld = (x: Uint8Array, old: Uint8Array): boolean => sameBytes(x, old.subarray(i, j));
        const isNew = (x: Uint8Array): boolean => sameBytes(x, data.subarray(i, j));
        const ok = sameBytes(before.host.subarray(i, j), before.ref.subarray(i, j)) && hc[blk] === 'written' && rc[blk] === 'written'
          && (isOld(h, before.host) || isNew(h)) && (isOld(r, before.ref) || isNew(r));
        if (!ok) {
          throw new Divergence('diff-bytes', [`after ${what} (refused on both): bytes [${a}, ${b}) of block ${blk} differ (host ${hc[blk]}, reference ${rc[blk]}), and not as old on one side and new on the other`]);
        }
        const sector = this.ref.fh.fsys.dev.sectorSize;
        if (a % sector === 0 && b % sector === 0) this.ref.directWrite(a, Uint8Array.from(h));
        else this.ref.pwrite(a, Uint8Array.from(h));
      }
      a = b;
    }
  }
  seekData(off: number): number { return this.host.seekData!(off); }
  seekHole(off: number): number { return this.host.seekHole!(off); }
  fiemap(off: number, len: number, flags: number): FiemapExtent[] {
    const ext = this.host.fiemap!(off, len, flags);
    this.ref.fiemap(off, len, flags); // FLAG_SYNC writes back: keep the reference in step
    return ext;
  }
  closeOpen(): void { this.change('close, drop caches, reopen', (t) => t.closeOpen()); }
}

const PROGRESS: readonly BlockClass[] = ['delalloc', 'unwritten', 'written'];

/**
 * The first guess at what a mapping divergence is (docs/host.md, "Triage"): both classes on the
 * writeback path (delalloc, unwritten, written) means the two wrote back different blocks, a
 * timing or folio-size question (an envelope too narrow, or a writeback policy to copy); anything
 * else means they disagree on what the file is (a model bug, or a policy the personality lacks).
 */
export function triage(r: BlockClass, h: BlockClass): string {
  if (PROGRESS.includes(r) && PROGRESS.includes(h)) return 'triage: writeback progress differs (envelope too narrow, or a writeback policy the personality lacks)';
  return 'triage: the two disagree on what the block is (model bug, or a policy the personality lacks; host behaviour if the host is wrong)';
}

function show(v: unknown): string {
  if (v instanceof Uint8Array) return `${v.length} bytes`;
  return v === undefined ? 'nothing' : String(v);
}

function hex(b: number | undefined): string {
  return b === undefined ? 'none' : `0x${b.toString(16).padStart(2, '0')}`;
}

/**
 * The byte offsets where a FIEMAP extent list starts or ends a record: where the mapping changes
 * extent (another physical extent, a hole, or other flags).
 */
export function extentEdges(ext: readonly FiemapExtent[]): Set<number> {
  const out = new Set<number>();
  for (const e of ext) {
    out.add(e.logical);
    out.add(e.logical + e.length);
  }
  return out;
}

/** "0-3 written, 4 hole, 5-9 delalloc": a class array as runs. */
function runs(c: readonly BlockClass[]): string {
  const out: string[] = [];
  let i = 0;
  while (i < c.length) {
    let j = i;
    while (j + 1 < c.length && c[j + 1] === c[i]) j++;
    out.push(`${i === j ? i : `${i}-${j}`} ${c[i]}`);
    i = j + 1;
  }
  return out.join(', ');
}

/** The capabilities both targets have (the host's, narrowed by the reference's). */
function commonCapabilities(h: Capabilities, r: Capabilities): Capabilities {
  return {
    ...h,
    fallocModes: h.fallocModes.filter((m) => r.fallocModes.includes(m)),
    clone: h.clone && r.clone, dedupe: h.dedupe && r.dedupe, copyRange: h.copyRange && r.copyRange,
    directIO: h.directIO && r.directIO, mmap: h.mmap && r.mmap, seek: h.seek && r.seek, fiemap: h.fiemap && r.fiemap,
    remount: false,
  };
}

export interface DiffOptions {
  personality?: PersonalityName;
  folioSize?: number;
  /** Copy-on-write progress in the envelope (default true; docs/host.md): false for a strict diff. */
  cowProgress?: boolean;
  /**
   * Follow blocks XFS speculative preallocation gave the host through later zeroing, shifts and
   * remaps (SpeculativeBlocks; default true, xfs personality only): false for the older, narrower
   * entry (hole vs unwritten only).
   */
  speculativeLineage?: boolean;
  /**
   * The diff's own reads go through RWF_DONTCACHE on both sides (default: when the host has it),
   * so they leave both page caches as they were; false: plain preads, which cache what they read.
   */
  dontcacheReads?: boolean;
  /**
   * A refused misaligned O_DIRECT write (ext4) may have allocated, on the host, a prefix of the
   * blocks it allocated on the reference, since ext4's allocator ends the mapping (default true;
   * DiffTarget.reconcileRefusedAllocation): false for a strict diff.
   */
  refusedDioAllocation?: boolean;
  /**
   * When another process drops the machine's clean page cache (drop_caches), drop the reference's
   * clean cache too before the next op (default true; DiffTarget.followCacheDrops): false to
   * leave the reference's cache alone.
   */
  followCacheDrops?: boolean;
}

/** `diff:SPEC`: the host adapter `host` against the reference with `personality` and the host's block size. */
export class DiffAdapter implements FileAdapter {
  readonly name: string;
  readonly capabilities: Capabilities;
  readonly setup: TargetSetup;
  private readonly ref: ReferenceAdapter;
  private readonly cowProgress: boolean;
  private readonly speculativeLineage: boolean;
  private readonly dontcache: boolean;
  private readonly refusedDioAllocation: boolean;
  private readonly followCacheDrops: boolean;
  /** What the adapter did to the host to make it comparable. */
  readonly notes: string[] = [];

  constructor(private readonly host: FileAdapter, o: DiffOptions = {}) {
    this.name = `diff:${host.name}`;
    this.cowProgress = o.cowProgress ?? true;
    this.speculativeLineage = o.speculativeLineage ?? true;
    this.dontcache = o.dontcacheReads ?? host.capabilities.dontcache === true;
    this.refusedDioAllocation = o.refusedDioAllocation ?? true;
    this.followCacheDrops = o.followCacheDrops ?? true;
    const bs = host.capabilities.blockSize;
    // Without a personality, the host filesystem's own (a host adapter says which it is).
    const info = (host as { info?: { fsType?: string; dir?: string } }).info;
    const fsType = info?.fsType;
    if (fsType === 'xfs' && info?.dir !== undefined) this.cowExtentOneBlock(info.dir, bs);
    const pers = o.personality ?? (fsType === 'xfs' || fsType === 'ext4' ? fsType : undefined);
    // No inline data (neither xfs nor ext4 inlines by default) and no power cuts (the host cannot).
    // ext4 here caches regular files in single pages (seen on 6.18.44: with 4k folios the model
    // matches it op for op, with large ones flushes write neighbouring blocks the host keeps dirty).
    // xfs caches in folios up to MAX_PAGECACHE_ORDER (2 MiB with 4 KiB pages), and a buffered
    // write asks for the order of its length (fgf_set_order): with the model's default 64 KiB cap
    // a 32 KiB write at a 64 KiB boundary + 1 KiB made two folios where xfs made one, and a later
    // flush of its first block wrote back different blocks (xfs 4k, seed 11, op 2,809, 4 ops).
    const folioSize = o.folioSize ?? (pers === 'ext4' ? 4096 : pers === 'xfs' ? 2 * 1024 * 1024 : undefined);
    this.ref = new ReferenceAdapter({
      blockSize: bs, folioSize, inlineMax: 0, crash: false, sectorSize: host.capabilities.dioAlign,
      personality: pers,
    });
    this.setup = this.ref.setup;
    this.capabilities = commonCapabilities(host.capabilities, this.ref.capabilities);
  }

  /**
   * XFS stages copy-on-write in `cowextsize` chunks (32 blocks by default), and SEEK_DATA reports
   * cached blocks under that staging as data even where the data fork has a hole. The model stages
   * exactly what is written, so the test directory's hint (inherited by the test file) is set to
   * one block. Best effort: without xfs_io the difference shows up as a diff-seek divergence.
   */
  private cowExtentOneBlock(dir: string, bs: number): void {
    const r = runCommand('xfs_io', ['-c', `cowextsize ${bs}`, dir]);
    this.notes.push(r.ok ? `xfs: cowextsize of ${dir} set to ${bs} (one block)` : `xfs: could not set cowextsize of ${dir}: ${r.err}`);
  }

  open(): FileTarget {
    const ref = this.ref.open() as ReferenceTarget;
    const host = this.host.open();
    // Readahead sizes folios by a window the kernel adapts to the read history (page_cache_sync_ra,
    // page_cache_async_ra); the model does not copy that heuristic. Random-read advice on both
    // sides makes every read miss fill exactly the pages asked for, in minimum-order folios, so
    // both caches hold the same folios and a flush writes back the same blocks.
    if (host.randomReads) {
      host.randomReads();
      ref.randomReads();
    } else if (!this.notes.some((n) => n.startsWith('readahead'))) {
      this.notes.push('readahead: the host target cannot take POSIX_FADV_RANDOM; folio sizes after reads may differ (diff-mapping next to flushed ranges)');
    }
    if (!this.dontcache && !this.notes.some((n) => n.startsWith('own reads'))) {
      this.notes.push('own reads: the host has no RWF_DONTCACHE reads; the byte comparisons cache what they read, on both sides');
    }
    const t = new DiffTarget(ref, host, this.capabilities.blockSize, this.setup.personality === 'xfs', this.capabilities.dioMisalignedWritePartial === true, this.cowProgress,
      this.speculativeLineage, this.dontcache, this.refusedDioAllocation, this.followCacheDrops);
    t.compare('open');
    return t;
  }

  close(): void {
    try {
      this.host.close();
    } finally {
      this.ref.close();
    }
  }
}
