/**
 * Per-filesystem semantics profiles for the host adapter, and the start-up capability probe.
 *
 * Linux filesystems legitimately differ (file-ops.md §3.3, §7, §8, §11, §13, and the "Do NOT assert"
 * list of §14). A profile records, for one filesystem, the *envelope* of answers the kernel may give:
 * which fallocate modes must, may or must not work, how SEEK_DATA/SEEK_HOLE treat unwritten extents,
 * whether FIEMAP merges or trims extents, the allocation unit, EOF zeroing, O_DIRECT alignment rules,
 * s_maxbytes. It is what the tests (and later the fsx checks) compare the host against.
 *
 * The capabilities the fuzzer uses are not taken from the profile but *probed* at start-up, as fsx
 * does (test_fallocate/test_clone_range/...): every fallocate mode, clone, dedupe, copy_file_range,
 * SEEK_DATA, FIEMAP and O_DIRECT is tried on a scratch file of our own; what answers EOPNOTSUPP /
 * ENOTTY (or, for dedupe, EINVAL) is turned off, with the reason recorded. A probe answer outside the
 * profile's envelope is recorded as a note (e.g. ext4 WRITE_ZEROES needs a device that supports
 * REQ_OP_WRITE_ZEROES; xfs formatted with reflink=0 has no clone).
 *
 * The filesystem is recognised by its statfs magic (fs.statfsSync(path).type).
 */

import * as fs from 'fs';
import { RWF_DONTCACHE, XFS_EXCHANGE_RANGE_DRY_RUN, type NativeAddon } from '../../reference/device/native';
import { FsError } from '../../reference/errno';
import { toFsError } from '../../reference/device/errors';
import {
  FALLOC_FL_COLLAPSE_RANGE, FALLOC_FL_INSERT_RANGE, FALLOC_FL_KEEP_SIZE, FALLOC_FL_PUNCH_HOLE,
  FALLOC_FL_UNSHARE_RANGE, FALLOC_FL_ZERO_RANGE,
} from '../types';

/** FALLOC_FL_WRITE_ZEROES (Linux 6.17). */
export const FALLOC_FL_WRITE_ZEROES = 0x80;

/** statfs f_type values (include/uapi/linux/magic.h). */
export const EXT4_SUPER_MAGIC = 0xef53;
export const XFS_SUPER_MAGIC = 0x58465342;
export const BTRFS_SUPER_MAGIC = 0x9123683e;
export const TMPFS_MAGIC = 0x01021994;

export type HostFsType = 'xfs' | 'ext4' | 'btrfs' | 'tmpfs' | 'generic';

/** Every fallocate mode value that passes the generic (6.12+) mode check, in probe order. */
export const PROBE_FALLOC_MODES: readonly number[] = [
  0, FALLOC_FL_KEEP_SIZE, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, FALLOC_FL_ZERO_RANGE,
  FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE, FALLOC_FL_UNSHARE_RANGE, FALLOC_FL_UNSHARE_RANGE | FALLOC_FL_KEEP_SIZE,
  FALLOC_FL_INSERT_RANGE, FALLOC_FL_COLLAPSE_RANGE, FALLOC_FL_WRITE_ZEROES,
];

/** Human name of a fallocate mode value ("PUNCH_HOLE|KEEP_SIZE", "0"). */
export function fallocModeName(mode: number): string {
  if (mode === 0) return '0 (allocate)';
  const names: [number, string][] = [
    [FALLOC_FL_PUNCH_HOLE, 'PUNCH_HOLE'], [FALLOC_FL_COLLAPSE_RANGE, 'COLLAPSE_RANGE'], [FALLOC_FL_ZERO_RANGE, 'ZERO_RANGE'],
    [FALLOC_FL_INSERT_RANGE, 'INSERT_RANGE'], [FALLOC_FL_UNSHARE_RANGE, 'UNSHARE_RANGE'], [FALLOC_FL_WRITE_ZEROES, 'WRITE_ZEROES'],
    [FALLOC_FL_KEEP_SIZE, 'KEEP_SIZE'],
  ];
  const parts = names.filter(([bit]) => (mode & bit) !== 0).map(([, n]) => n);
  const rest = mode & ~names.reduce((a, [bit]) => a | bit, 0);
  if (rest !== 0) parts.push('0x' + rest.toString(16));
  return parts.join('|');
}

/** 'yes': must work; 'no': must answer EOPNOTSUPP; 'maybe': either (mkfs option or kernel version). */
export type Support = 'yes' | 'no' | 'maybe';

export interface FsProfile {
  type: HostFsType;
  /** statfs magic, null for the generic profile. */
  magic: number | null;
  /** fallocate mode value → support (§3.3, §13). Modes not listed are 'no' (generic: 'maybe'). */
  falloc: Record<number, Support>;
  clone: Support;
  dedupe: Support;
  fiemap: Support;
  /** O_DIRECT open: accepted everywhere listed here (tmpfs since 6.6). */
  directIO: Support;
  /**
   * O_DIRECT alignment rule (§11): 'logical-sector' — offset/length multiples of the device's logical
   * block size (statx STATX_DIOALIGN), EINVAL otherwise; 'fs-sector-else-buffered' — btrfs: I/O not
   * aligned to the fs sector size silently becomes buffered; 'none' — tmpfs: page cache, no rules.
   */
  dioRule: 'logical-sector' | 'fs-sector-else-buffered' | 'none';
  /**
   * A misaligned O_DIRECT write may be refused with EINVAL after a block-aligned prefix of it was
   * written (capability dioMisalignedWritePartial): ext4 has no up-front alignment check, so iomap
   * refuses at the first misaligned mapping, after the earlier mappings' bios went out. xfs checks
   * the whole request in xfs_file_dio_write before any I/O.
   */
  dioPartialRefusal: boolean;
  /**
   * SEEK_DATA/SEEK_HOLE over `unwritten` (preallocated) ranges (§7): 'hole-unless-cached' — iomap
   * (xfs, ext4): a hole unless folios are cached over it; 'hole-unless-delalloc' — btrfs; 'pages' —
   * tmpfs: present pages are data, fallocated-never-written pages are holes. Never assert data there.
   */
  seekUnwritten: 'hole-unless-cached' | 'hole-unless-delalloc' | 'pages' | 'any';
  /** Granularity of interior SEEK boundaries (§7, §14.18). */
  seekGranularity: 'block' | 'page';
  /** lseek(SEEK_DATA/SEEK_HOLE) with a negative offset: ENXIO (xfs, ext4, tmpfs) or clamped to 0 (btrfs). */
  negativeSeek: 'ENXIO' | 'clamp-to-0';
  /** FIEMAP (§8): adjacent extents with equal flags may or may not be merged on every filesystem. */
  fiemapMerging: 'may-merge';
  /** FIEMAP range trimming: xfs/ext4 trim extents to the request at block granularity; btrfs reports whole extents. */
  fiemapTrim: 'block' | 'whole-extent' | 'any';
  /** Request flags besides SYNC that are accepted (others → EBADR). */
  fiemapFlags: number;
  /** Extent flags the filesystem can report for sharing / delayed allocation. */
  fiemapShared: boolean;
  fiemapDelalloc: boolean;
  /** Allocation unit for COLLAPSE/INSERT/clone alignment, given the block size (ext4: cluster = B without bigalloc). */
  allocUnit(blockSize: number): number;
  /** Speculative post-EOF preallocation visible in FIEMAP/st_blocks (xfs). */
  postEofPrealloc: boolean;
  /**
   * EOF zeroing (§2, §14.22): bytes between an old and a new EOF always read zero. The unit the
   * filesystem zeroes on disk when truncating down inside a block: 'block' (xfs, ext4, btrfs), 'page' (tmpfs).
   */
  eofZeroing: 'block' | 'page';
  /** clone/dedupe of an unwritten source extent: 'shared' like any other, or 'unmapped' (xfs: the destination becomes a hole). */
  reflinkUnwritten: 'shared' | 'unmapped';
  /** copy_file_range mechanism (§6): invisible except in FIEMAP. */
  copyRange: 'copy' | 'reflink-if-aligned';
  /** s_maxbytes given the block size; may exceed 2^53 (use maxFileSizeFor for a number). */
  maxBytes(blockSize: number): bigint;
}

const S_MAXBYTES_63 = (1n << 63n) - 1n;
const FIEMAP_FLAG_XATTR = 0x2;
const FIEMAP_FLAG_CACHE = 0x4;

const K = FALLOC_FL_KEEP_SIZE;
const P = FALLOC_FL_PUNCH_HOLE;
const Z = FALLOC_FL_ZERO_RANGE;
const C = FALLOC_FL_COLLAPSE_RANGE;
const I = FALLOC_FL_INSERT_RANGE;
const U = FALLOC_FL_UNSHARE_RANGE;
const W = FALLOC_FL_WRITE_ZEROES;

export const PROFILES: Readonly<Record<HostFsType, FsProfile>> = {
  xfs: {
    type: 'xfs', magic: XFS_SUPER_MAGIC,
    falloc: { 0: 'yes', [K]: 'yes', [P | K]: 'yes', [Z]: 'yes', [Z | K]: 'yes', [C]: 'yes', [I]: 'yes', [U]: 'maybe', [U | K]: 'maybe', [W]: 'no' },
    clone: 'maybe', dedupe: 'maybe', fiemap: 'yes', directIO: 'yes', dioRule: 'logical-sector', dioPartialRefusal: false,
    seekUnwritten: 'hole-unless-cached', seekGranularity: 'block', negativeSeek: 'ENXIO',
    fiemapMerging: 'may-merge', fiemapTrim: 'block', fiemapFlags: FIEMAP_FLAG_XATTR, fiemapShared: true, fiemapDelalloc: true,
    allocUnit: (b) => b, postEofPrealloc: true, eofZeroing: 'block', reflinkUnwritten: 'unmapped', copyRange: 'reflink-if-aligned',
    maxBytes: () => S_MAXBYTES_63,
  },
  ext4: {
    type: 'ext4', magic: EXT4_SUPER_MAGIC,
    // ZERO/COLLAPSE/INSERT need extent-mapped files (the default); WRITE_ZEROES [6.17] needs a device
    // with REQ_OP_WRITE_ZEROES (loop devices on a sparse image usually lack it).
    falloc: { 0: 'yes', [K]: 'yes', [P | K]: 'yes', [Z]: 'yes', [Z | K]: 'yes', [C]: 'yes', [I]: 'yes', [U]: 'no', [U | K]: 'no', [W]: 'maybe' },
    clone: 'no', dedupe: 'no', fiemap: 'yes', directIO: 'yes', dioRule: 'logical-sector', dioPartialRefusal: true,
    seekUnwritten: 'hole-unless-cached', seekGranularity: 'block', negativeSeek: 'ENXIO',
    fiemapMerging: 'may-merge', fiemapTrim: 'block', fiemapFlags: FIEMAP_FLAG_XATTR | FIEMAP_FLAG_CACHE, fiemapShared: false, fiemapDelalloc: true,
    allocUnit: (b) => b, postEofPrealloc: false, eofZeroing: 'block', reflinkUnwritten: 'shared', copyRange: 'copy',
    maxBytes: (b) => (2n ** 32n - 1n) * BigInt(b),
  },
  btrfs: {
    type: 'btrfs', magic: BTRFS_SUPER_MAGIC,
    falloc: { 0: 'yes', [K]: 'yes', [P | K]: 'yes', [Z]: 'yes', [Z | K]: 'yes', [C]: 'no', [I]: 'no', [U]: 'no', [U | K]: 'no', [W]: 'no' },
    clone: 'yes', dedupe: 'yes', fiemap: 'yes', directIO: 'yes', dioRule: 'fs-sector-else-buffered', dioPartialRefusal: false,
    seekUnwritten: 'hole-unless-delalloc', seekGranularity: 'block', negativeSeek: 'clamp-to-0',
    fiemapMerging: 'may-merge', fiemapTrim: 'whole-extent', fiemapFlags: 0, fiemapShared: true, fiemapDelalloc: true,
    allocUnit: (b) => b, postEofPrealloc: false, eofZeroing: 'block', reflinkUnwritten: 'shared', copyRange: 'reflink-if-aligned',
    maxBytes: () => S_MAXBYTES_63,
  },
  tmpfs: {
    type: 'tmpfs', magic: TMPFS_MAGIC,
    falloc: { 0: 'yes', [K]: 'yes', [P | K]: 'yes', [Z]: 'no', [Z | K]: 'no', [C]: 'no', [I]: 'no', [U]: 'no', [U | K]: 'no', [W]: 'no' },
    clone: 'no', dedupe: 'no', fiemap: 'no', directIO: 'yes', dioRule: 'none', dioPartialRefusal: false,
    seekUnwritten: 'pages', seekGranularity: 'page', negativeSeek: 'ENXIO',
    fiemapMerging: 'may-merge', fiemapTrim: 'any', fiemapFlags: 0, fiemapShared: false, fiemapDelalloc: false,
    allocUnit: () => 4096, postEofPrealloc: false, eofZeroing: 'page', reflinkUnwritten: 'shared', copyRange: 'copy',
    maxBytes: () => S_MAXBYTES_63,
  },
  generic: {
    type: 'generic', magic: null,
    falloc: Object.fromEntries(PROBE_FALLOC_MODES.map((m) => [m, 'maybe' as Support])),
    clone: 'maybe', dedupe: 'maybe', fiemap: 'maybe', directIO: 'maybe', dioRule: 'logical-sector', dioPartialRefusal: true,
    seekUnwritten: 'any', seekGranularity: 'block', negativeSeek: 'ENXIO',
    fiemapMerging: 'may-merge', fiemapTrim: 'any', fiemapFlags: 0, fiemapShared: true, fiemapDelalloc: true,
    allocUnit: (b) => b, postEofPrealloc: true, eofZeroing: 'block', reflinkUnwritten: 'unmapped', copyRange: 'reflink-if-aligned',
    // Unknown: do not promise more than ext4's limit with 4 KiB blocks.
    maxBytes: (b) => (2n ** 32n - 1n) * BigInt(b),
  },
};

/** The support a profile declares for a fallocate mode ('no' when unlisted). */
export function fallocSupport(p: FsProfile, mode: number): Support {
  return p.falloc[mode] ?? (p.type === 'generic' ? 'maybe' : 'no');
}

/** s_maxbytes as a number the harness can use (capped at 2^53-1). */
export function maxFileSizeFor(p: FsProfile, blockSize: number): number {
  const m = p.maxBytes(blockSize);
  return m > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(m);
}

/** Profile for a statfs magic (generic when unknown). */
export function profileForMagic(magic: number): FsProfile {
  for (const p of Object.values(PROFILES)) if (p.magic !== null && p.magic === (magic >>> 0)) return p;
  return PROFILES.generic;
}

/** statfs(path).type → profile. */
export function detectProfile(path: string): { profile: FsProfile; magic: number; statfsBlockSize: number } {
  const st = fs.statfsSync(path);
  const magic = Number(st.type) >>> 0;
  return { profile: profileForMagic(magic), magic, statfsBlockSize: Number(st.bsize) };
}

// ---- the start-up probe ---------------------------------------------------------------------------

export interface ProbeResult {
  fallocModes: number[];
  clone: boolean;
  dedupe: boolean;
  copyRange: boolean;
  seek: boolean;
  fiemap: boolean;
  directIO: boolean;
  /** O_DIRECT offset/length alignment to declare (1 = none). */
  dioAlign: number;
  /** O_DIRECT buffer alignment the adapter uses (never below 512). */
  dioMemAlign: number;
  /** A misaligned O_DIRECT write was served (buffered) instead of failing with EINVAL. */
  dioMisalignedWriteBuffered: boolean;
  /** RWF_ATOMIC unit range (statx STATX_WRITE_ATOMIC), when the file takes atomic writes. */
  atomicWrite?: { unitMin: number; unitMax: number };
  /** preadv2 with RWF_DONTCACHE works. */
  dontcache?: boolean;
  /** XFS_IOC_EXCHANGE_RANGE (dry run) works. */
  exchangeRange?: boolean;
  /** Capability (or "fallocate MODE") → why it is off. */
  disabled: Record<string, string>;
  /** Answers outside the profile's envelope, and other remarks. */
  notes: string[];
}

/**
 * The newer I/O (docs/fsx.md "Newer I/O"): atomic writes (statx STATX_WRITE_ATOMIC, on an O_DIRECT
 * capable file), RWF_DONTCACHE (a preadv2 of the first block) and exchange range (a dry run).
 * Each is off with the reason where the addon, the kernel or the filesystem lacks it.
 */
function probeNewio(ctx: ProbeContext, r: ProbeResult): void {
  const a = ctx.addon!;
  const stale = 'the native addon predates it (rebuild: npm ci)';
  if (a.statxAtomic === undefined) r.disabled.atomicWrite = stale;
  else if (!r.directIO) r.disabled.atomicWrite = 'atomic writes are O_DIRECT writes, and O_DIRECT is off';
  else {
    try {
      const u = a.statxAtomic(ctx.path);
      if (u === null) r.disabled.atomicWrite = 'statx reports no atomic write unit (STATX_WRITE_ATOMIC) for the file';
      else r.atomicWrite = { unitMin: u.unitMin, unitMax: u.unitMax };
    } catch (e) {
      r.disabled.atomicWrite = `statx(STATX_WRITE_ATOMIC) answered ${errCode(e)}`;
    }
  }
  if (a.preadv2 === undefined) r.disabled.dontcache = stale;
  else {
    try {
      a.preadv2(ctx.fd, Buffer.alloc(ctx.blockSize), 0, RWF_DONTCACHE);
      r.dontcache = true;
    } catch (e) {
      r.disabled.dontcache = `preadv2(RWF_DONTCACHE) answered ${errCode(e)}`;
    }
  }
  if (a.exchangeRange === undefined) r.disabled.exchangeRange = stale;
  else {
    try {
      a.exchangeRange(ctx.fd, 0, ctx.blockSize, 8 * ctx.blockSize, XFS_EXCHANGE_RANGE_DRY_RUN);
      r.exchangeRange = true;
    } catch (e) {
      r.disabled.exchangeRange = `XFS_IOC_EXCHANGE_RANGE (dry run) answered ${errCode(e)}`;
    }
  }
}

/** errno names that mean "this filesystem does not do that" for a probe. */
const UNSUPPORTED = new Set(['EOPNOTSUPP', 'ENOTTY', 'ENOSYS']);

/** Names for errnos reference/errno.ts does not name (it prints them as E#N). */
const EXTRA_NAMES: Record<number, string> = { 25: 'ENOTTY', 38: 'ENOSYS', 36: 'ENAMETOOLONG' };

/** The errno name of an errno number, including ENOTTY/ENOSYS. */
export function errnoLabel(errno: number): string {
  return EXTRA_NAMES[errno] ?? new FsError(errno, '').code;
}

function errCode(e: unknown): string {
  return errnoLabel(toFsError(e, 'probe').errno);
}

export interface ProbeContext {
  addon: NativeAddon | null;
  /** Why the addon is missing (when it is). */
  addonReason: string | null;
  profile: FsProfile;
  blockSize: number;
  /** Path of a scratch file we created and own (empty or not; it is overwritten). */
  path: string;
  /** Open O_RDWR on `path`. */
  fd: number;
}

/**
 * Try every optional operation on the probe file (which the caller created and will remove) and
 * decide what the adapter offers. Never throws for an unsupported operation; an unexpected errno
 * also turns the operation off, with a note saying so.
 */
export function probeCapabilities(ctx: ProbeContext): ProbeResult {
  const { addon, profile, fd } = ctx;
  const B = ctx.blockSize;
  const r: ProbeResult = {
    fallocModes: [], clone: false, dedupe: false, copyRange: false, seek: false, fiemap: false,
    directIO: false, dioAlign: 1, dioMemAlign: 4096, dioMisalignedWriteBuffered: false, disabled: {}, notes: [],
  };
  const noAddon = `the native addon is not loaded (${ctx.addonReason ?? 'unknown reason'})`;
  if (addon === null) {
    for (const m of PROBE_FALLOC_MODES) r.disabled[`fallocate ${fallocModeName(m)}`] = noAddon;
    for (const k of ['clone', 'dedupe', 'copyRange', 'seek', 'fiemap', 'atomicWrite', 'dontcache', 'exchangeRange']) r.disabled[k] = noAddon;
    r.disabled.directIO = `O_DIRECT needs aligned buffers from the addon: ${noAddon}`;
    return r;
  }
  const pattern = Buffer.alloc(16 * B);
  for (let i = 0; i < pattern.length; i++) pattern[i] = (i * 7 + 1) & 0xff || 1;
  const reset = () => {
    fs.ftruncateSync(fd, 0);
    fs.writeSync(fd, pattern, 0, pattern.length, 0);
  };
  const outside = (what: string, sup: Support, works: boolean, why?: string) => {
    if (sup === 'yes' && !works) r.notes.push(`${what}: the ${profile.type} profile says it works, the kernel said ${why}`);
    if (sup === 'no' && works) r.notes.push(`${what}: the ${profile.type} profile says EOPNOTSUPP, but it works here`);
  };

  // O_DIRECT first, on a file that was never reflinked: xfs reports a larger dio_offset_align (the
  // block size) for COW inodes, as advice; sub-block O_DIRECT still works there (buffered fallback).
  reset();
  probeDirect(ctx, r, pattern);
  outside('O_DIRECT', profile.directIO, r.directIO, r.disabled.directIO);

  reset();
  probeNewio(ctx, r);

  // fallocate: each mode on a fresh 16-block file, on block-aligned ranges inside EOF (COLLAPSE must
  // end before EOF), so an answer other than success/EOPNOTSUPP is a real surprise.
  for (const mode of PROBE_FALLOC_MODES) {
    reset();
    const off = (mode === FALLOC_FL_KEEP_SIZE ? 16 : 4) * B;
    const name = `fallocate ${fallocModeName(mode)}`;
    let works = false;
    let why = '';
    try {
      addon.fallocate(fd, mode, off, B);
      works = true;
    } catch (e) {
      why = errCode(e);
      if (!UNSUPPORTED.has(why)) r.notes.push(`${name}: unexpected ${why} on an aligned probe; turned off`);
      r.disabled[name] = `the kernel answered ${why}`;
    }
    if (works) r.fallocModes.push(mode);
    outside(name, fallocSupport(profile, mode), works, why);
  }

  // clone within the file: block 0 → block 8 (aligned, no overlap, inside EOF).
  reset();
  try {
    addon.ficloneRange(fd, 0, B, fd, 8 * B);
    r.clone = true;
  } catch (e) {
    const c = errCode(e);
    r.disabled.clone = `FICLONERANGE answered ${c}`;
    if (!UNSUPPORTED.has(c) && c !== 'EXDEV' && c !== 'EINVAL') r.notes.push(`clone: unexpected ${c}; turned off`);
  }
  outside('clone', profile.clone, r.clone, r.disabled.clone);

  // dedupe: equal blocks (after reset, block 0 and block 8 differ; write block 0's bytes at 12).
  reset();
  try {
    fs.writeSync(fd, pattern, 0, B, 12 * B);
    const d = addon.fideduperange(fd, 0, B, fd, 12 * B);
    if (d.status === 0 || d.status === 1) {
      r.dedupe = true;
    } else {
      const c = errnoLabel(-d.status);
      r.disabled.dedupe = `FIDEDUPERANGE status ${d.status} (${c})`;
    }
  } catch (e) {
    const c = errCode(e);
    r.disabled.dedupe = `FIDEDUPERANGE answered ${c}`;
    if (!UNSUPPORTED.has(c) && c !== 'EINVAL') r.notes.push(`dedupe: unexpected ${c}; turned off`);
  }
  outside('dedupe', profile.dedupe, r.dedupe, r.disabled.dedupe);

  // copy_file_range within the file.
  reset();
  try {
    const n = addon.copyFileRange(fd, 0, fd, 20 * B, B);
    if (Number(n) > 0) r.copyRange = true;
    else r.disabled.copyRange = 'copy_file_range copied 0 bytes from inside EOF';
  } catch (e) {
    const c = errCode(e);
    r.disabled.copyRange = `copy_file_range answered ${c}`;
    if (!UNSUPPORTED.has(c) && c !== 'EXDEV') r.notes.push(`copy_file_range: unexpected ${c}; turned off`);
  }

  // SEEK_DATA / SEEK_HOLE.
  try {
    addon.seekData(fd, 0);
    addon.seekHole(fd, 0);
    r.seek = true;
  } catch (e) {
    r.disabled.seek = `lseek(SEEK_DATA/SEEK_HOLE) answered ${errCode(e)}`;
  }

  // FIEMAP.
  try {
    addon.fiemap(fd, 0, 16 * B, 0x1);
    r.fiemap = true;
  } catch (e) {
    const c = errCode(e);
    r.disabled.fiemap = `FIEMAP answered ${c}`;
    if (!UNSUPPORTED.has(c)) r.notes.push(`fiemap: unexpected ${c}; turned off`);
  }
  outside('fiemap', profile.fiemap, r.fiemap, r.disabled.fiemap);

  return r;
}

/**
 * Does a misaligned O_DIRECT write fail with EINVAL, or is it served through the page cache
 * (btrfs's fallback)? The suites accept what the probe saw. Reads are not probed: on every kernel
 * filesystem a misaligned read may succeed over holes and unwritten ranges (iomap checks alignment
 * only where it builds bios), so the adapter always declares that.
 */
function probeMisalignedDirect(dfd: number, buf: Buffer, align: number, profile: FsProfile, r: ProbeResult): void {
  try {
    fs.writeSync(dfd, buf, 0, align, 1);
  } catch (e) {
    if (errCode(e) !== 'EINVAL') r.notes.push(`misaligned O_DIRECT write answered ${errCode(e)}, not EINVAL`);
    return;
  }
  r.dioMisalignedWriteBuffered = true;
  if (profile.dioRule === 'logical-sector') r.notes.push('misaligned O_DIRECT writes are served through the page cache instead of EINVAL');
}

function probeDirect(ctx: ProbeContext, r: ProbeResult, pattern: Buffer): void {
  const { addon, profile } = ctx;
  if (addon === null) return;
  let align: { memAlign: number; offsetAlign: number } | null = null;
  try {
    align = addon.statxDioAlign(ctx.path);
  } catch (e) {
    r.notes.push(`statx(STATX_DIOALIGN) answered ${errCode(e)}`);
  }
  // Declared offset/length alignment: what statx says; otherwise by the profile's rule.
  let dioAlign: number;
  if (align !== null && align.offsetAlign > 0) dioAlign = align.offsetAlign;
  else if (profile.dioRule === 'none') dioAlign = 1;
  else if (profile.dioRule === 'fs-sector-else-buffered') dioAlign = ctx.blockSize;
  else dioAlign = 512;
  const memAlign = Math.max(4096, align?.memAlign ?? 0, dioAlign);
  let dfd = -1;
  try {
    dfd = fs.openSync(ctx.path, fs.constants.O_RDWR | fs.constants.O_DIRECT);
  } catch (e) {
    r.disabled.directIO = `open(O_DIRECT) answered ${errCode(e)}`;
    return;
  }
  try {
    const n = Math.max(4096, dioAlign);
    const buf = Buffer.from(addon.alignedAlloc(n, memAlign));
    pattern.copy(buf, 0, 0, Math.min(n, pattern.length));
    const w = fs.writeSync(dfd, buf, 0, n, 0);
    buf.fill(0);
    const got = fs.readSync(dfd, buf, 0, n, 0);
    if (w !== n || got !== n || buf.compare(pattern, 0, Math.min(n, pattern.length), 0, Math.min(n, pattern.length)) !== 0) {
      r.disabled.directIO = `an aligned O_DIRECT write+read of ${n} bytes did not round-trip (wrote ${w}, read ${got})`;
      return;
    }
    r.directIO = true;
    r.dioAlign = dioAlign;
    r.dioMemAlign = memAlign;
    if (dioAlign > 1) probeMisalignedDirect(dfd, buf, dioAlign, profile, r);
    if (align === null && profile.dioRule === 'logical-sector') r.notes.push('statx(STATX_DIOALIGN) not reported; assuming 512-byte O_DIRECT alignment');
  } catch (e) {
    r.disabled.directIO = `an aligned O_DIRECT write+read answered ${errCode(e)}`;
  } finally {
    fs.closeSync(dfd);
  }
}
