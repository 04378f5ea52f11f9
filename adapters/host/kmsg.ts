/**
 * The kernel log (/dev/kmsg) as evidence for a failed op: the host adapter notes the log's last
 * sequence number just before an O_DIRECT read, and reads what was logged after it only when the
 * read fails with EIO. A record naming the test file and saying "Direct I/O collision with
 * buffered writes!" is the kernel's own report that the read met a delalloc mapping
 * (fs/iomap/direct-io.c, iomap_dio_iter, case IOMAP_DELALLOC: it warns and returns -EIO); the
 * family known signature of corpus/known (docs/corpus.md "Family signatures") accepts exactly that.
 *
 * Nothing is read per op but before an O_DIRECT read: one non-blocking read() that finds nothing
 * new (EAGAIN) in the usual case. /dev/kmsg hands each open file every record once, in order, with
 * its sequence number, so "after the mark" means "logged during the op" (give or take what other
 * processes logged at the same moment: the record must name our file, whose name is unique).
 */
import * as fs from 'fs';
import * as path from 'path';
import type { FiemapExtent, KernelEvidence } from '../types';
import { FIEMAP_EXTENT_DELALLOC } from '../../reference/uapi-fiemap';

/** One /dev/kmsg record: its level (0 emerg .. 7 debug), sequence number, first text line and time. */
export interface KmsgRecord {
  level: number;
  seq: number;
  text: string;
  /** When it was logged: microseconds since boot (the printk clock); absent when the field is not a number. */
  usec?: number;
}

/** Where records come from: the next one, or null when there is none now (tests pass a fake). */
export interface KmsgSource {
  next(): string | null;
}

/** The text iomap_dio_iter logs when an O_DIRECT read or write meets a delalloc mapping. */
export const DIO_COLLISION = 'Direct I/O collision with buffered writes!';
const COLLISION_RE = /^Direct I\/O collision with buffered writes! File: (.*) Comm: (.*)$/;

/** Parse "PRIO,SEQ,USEC,FLAGS[,...];TEXT\n[ KEY=VALUE\n...]" (Documentation/ABI/testing/dev-kmsg). */
export function parseKmsgRecord(raw: string): KmsgRecord | null {
  const semi = raw.indexOf(';');
  if (semi < 0) return null;
  const f = raw.slice(0, semi).split(',');
  const prio = Number(f[0]);
  const seq = Number(f[1]);
  if (!Number.isInteger(prio) || !Number.isInteger(seq)) return null;
  const nl = raw.indexOf('\n', semi);
  const rec: KmsgRecord = { level: prio & 7, seq, text: raw.slice(semi + 1, nl < 0 ? raw.length : nl) };
  const usec = Number(f[2]);
  if (f[2] !== undefined && f[2] !== '' && Number.isSafeInteger(usec)) rec.usec = usec;
  return rec;
}

/**
 * pr_warn_ratelimited's limit (DEFAULT_RATELIMIT_BURST messages per DEFAULT_RATELIMIT_INTERVAL,
 * per call site, machine-wide): the collision warning is suppressed only after this many of them
 * were logged within the interval.
 */
export const RATELIMIT_BURST = 10;
export const RATELIMIT_INTERVAL_USEC = 5_000_000;

/** CLOCK_MONOTONIC in microseconds (the printk clock counts from boot too; see rateLimitedAt). */
export function monotonicUsec(): number {
  return Number(process.hrtime.bigint() / 1000n);
}

/** The real /dev/kmsg, opened non-blocking; null with the reason when it cannot be read. */
export function openKmsg(file = '/dev/kmsg'): { source: KmsgSource | null; reason: string | null } {
  let fd: number;
  try {
    fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
  } catch (e) {
    return { source: null, reason: `${file}: ${(e as { code?: string }).code ?? String(e)}` };
  }
  const buf = Buffer.allocUnsafe(8192);
  const source: KmsgSource = {
    next(): string | null {
      for (;;) {
        try {
          const n = fs.readSync(fd, buf, 0, buf.length, null);
          return buf.toString('utf8', 0, n);
        } catch (e) {
          const code = (e as { code?: string }).code;
          if (code === 'EAGAIN') return null;
          // EPIPE: records this reader had not read yet were overwritten; the next read goes on
          // from the oldest one left. Dating stays sound: sequence numbers only grow.
          if (code === 'EPIPE') continue;
          throw e;
        }
      }
    },
  };
  // Read once now: a kernel that refuses reads (EPERM under dmesg_restrict) is found at start.
  try {
    source.next();
  } catch (e) {
    fs.closeSync(fd);
    return { source: null, reason: `${file}: ${(e as { code?: string }).code ?? String(e)}` };
  }
  return { source, reason: null };
}

let shared: { log: KmsgLog | null; reason: string | null } | undefined;

/**
 * The process's one reader of /dev/kmsg, opened at the first call (every host adapter of the
 * process uses it: a shrink makes hundreds of adapters, and each open reader would start at the
 * oldest record). Null with the reason when it cannot be read.
 */
export function sharedKmsg(): { log: KmsgLog | null; reason: string | null } {
  if (shared === undefined) {
    const { source, reason } = openKmsg();
    shared = { log: source === null ? null : new KmsgLog(source), reason };
  }
  return shared;
}

/** The kernel log as seen by one reader: mark() before an op, since() after it fails. */
export class KmsgLog {
  private last = -1;
  /** The last RATELIMIT_BURST collision warnings seen (any file, any process): sequence number and time. */
  private readonly collisions: { seq: number; usec: number }[] = [];

  constructor(private readonly src: KmsgSource, private readonly now: () => number = monotonicUsec) {}

  /** Read up to now; the last sequence number seen (-1: none yet). */
  mark(): number {
    this.drain(-1, null);
    return this.last;
  }

  /** The records logged after sequence number `since`. */
  since(since: number): KmsgRecord[] {
    const out: KmsgRecord[] = [];
    this.drain(since, out);
    return out;
  }

  /**
   * Positive evidence that the kernel can have suppressed a collision warning now: the last
   * RATELIMIT_BURST collision warnings on the machine (read up to now) were all logged within the
   * last RATELIMIT_INTERVAL_USEC. The limiter lets that many through per interval, an interval
   * starting at the first warning after the previous one ended, so while fewer were logged in the
   * interval before a read, the read's own warning would have been logged. Null when it cannot
   * have been suppressed; else what the log shows. The records carry the printk clock (time since
   * boot, local_clock); it is compared with CLOCK_MONOTONIC, which also counts from boot (they
   * part only by suspended time and clock-source drift, milliseconds on this machine).
   */
  rateLimitedNow(): string | null {
    this.drain(-1, null);
    if (this.collisions.length < RATELIMIT_BURST) return null;
    const now = this.now();
    const oldest = this.collisions[0];
    if (oldest.usec <= now - RATELIMIT_INTERVAL_USEC) return null;
    const newest = this.collisions[this.collisions.length - 1];
    return `the warning was rate-limited: ${this.collisions.length} collision warnings in the last ${RATELIMIT_INTERVAL_USEC / 1e6} s (kmsg #${oldest.seq}-#${newest.seq})`;
  }

  /** Read every record there is now, noting the last sequence number; keep those after `after` in `out`. */
  private drain(after: number, out: KmsgRecord[] | null): void {
    for (let r = this.src.next(); r !== null; r = this.src.next()) {
      const rec = parseKmsgRecord(r);
      if (rec === null) continue;
      this.last = rec.seq;
      if (rec.usec !== undefined && COLLISION_RE.test(rec.text)) {
        this.collisions.push({ seq: rec.seq, usec: rec.usec });
        if (this.collisions.length > RATELIMIT_BURST) this.collisions.shift();
      }
      if (out !== null && rec.seq > after) out.push(rec);
    }
  }
}

/**
 * The evidence that an O_DIRECT read of `file` met a delalloc mapping: a record after `since`
 * with the kernel's collision warning naming `file` (the warning prints up to the last four path
 * components; the last one is the test file's unique name). Null when there is none.
 */
export function dioCollisionEvidence(records: readonly KmsgRecord[], since: number, file: string, fsType: string,
  op: { off: number; len: number; errno: string }): KernelEvidence | null {
  const base = path.basename(file);
  for (const r of records) {
    if (r.seq <= since) continue;
    const m = COLLISION_RE.exec(r.text);
    if (m === null) continue;
    const shown = m[1];
    if (shown.slice(shown.lastIndexOf('/') + 1) !== base) continue;
    return { report: 'iomap-dio-delalloc', source: 'kmsg', fs: fsType, op: 'read_direct', off: op.off, len: op.len, errno: op.errno, line: r.text, seq: r.seq, since };
  }
  return null;
}

/** The most one read(2) transfers (MAX_RW_COUNT: INT_MAX rounded down to the page). */
export const MAX_RW_COUNT = 0x7ffff000;

/**
 * The same evidence when the warning is missing (the rate limiter's, shown by `why`, or no
 * readable kernel log): the file's extents as FIEMAP reports them right after the failed read,
 * without FIEMAP_FLAG_SYNC so nothing is flushed. XFS answers FIEMAP and an O_DIRECT read through
 * the same ->iomap_begin (xfs_read_iomap_ops), so a delalloc extent overlapping the range the read
 * covered is the mapping iomap_dio_iter turned into the EIO: the read flushed its range before
 * mapping it, and nothing of this single-threaded run adds delalloc between the read and the probe
 * (writeback only removes it, which makes the probe miss, never match wrongly). The range is what
 * the kernel read: at most MAX_RW_COUNT bytes (rw_verify_area caps the count). Null when no such extent.
 */
export function delallocEvidence(extents: readonly FiemapExtent[], fsType: string, op: { off: number; len: number; errno: string }, why = 'no kernel log'): KernelEvidence | null {
  const end = op.off + Math.min(op.len, MAX_RW_COUNT);
  const d = extents.find((e) => (e.flags & FIEMAP_EXTENT_DELALLOC) !== 0 && e.logical < end && e.logical + e.length > op.off);
  if (d === undefined) return null;
  return {
    report: 'iomap-dio-delalloc', source: 'fiemap', fs: fsType, op: 'read_direct', off: op.off, len: op.len, errno: op.errno,
    line: `FIEMAP after the read: delalloc extent [${d.logical}, ${d.logical + d.length}) in the read's range (flags 0x${d.flags.toString(16)}; ${why})`, seq: -1, since: -1,
  };
}
