/**
 * The monitor's own record of what changed a file's extent map, kept without asking the
 * filesystem's validity cookie or version counter: each space operation the generic layer asks
 * for (punch, collapse, insert, allocation, remap, unshare, truncation), each writeback mapping and
 * completion, and each direct-write completion is an event with a global sequence number and the
 * block range it may have changed. ->iomap_valid is then judged against the blocks themselves
 * (monitor.ts: a block of the writer's range whose state or address differs from what it was right
 * after ->iomap_begin), and these events explain in the report what changed it.
 *
 * Cheap on purpose: a bounded list of small objects per inode (reused once full), nothing on the
 * data path.
 */

/** One change (or possible change) of an inode's extent map, in blocks [lo, hi). */
export interface MapChange {
  seq: number;
  what: string;
  lo: number;
  hi: number;
}

/** Events kept per inode (older ones only matter to a write still using a mapping from before them). */
const KEEP = 16;

export class MapChangeLog {
  private seq = 0;
  private readonly byIno = new Map<number, MapChange[]>();

  /** The current sequence number: events after it are newer than a mapping taken now. */
  get now(): number {
    return this.seq;
  }

  record(ino: number, what: string, lo: number, hi: number): void {
    let list = this.byIno.get(ino);
    if (list === undefined) {
      list = [];
      this.byIno.set(ino, list);
    }
    if (list.length < KEEP) {
      list.push({ seq: ++this.seq, what, lo, hi });
      return;
    }
    // The oldest event makes room, and its object carries the new one (no object per event).
    const e = list.shift()!;
    e.seq = ++this.seq;
    e.what = what;
    e.lo = lo;
    e.hi = hi;
    list.push(e);
  }

  /** Events on `ino` after sequence `since` that may have changed blocks [lo, hi). */
  since(ino: number, since: number, lo: number, hi: number): MapChange[] {
    const list = this.byIno.get(ino);
    if (list === undefined) return [];
    return list.filter((e) => e.seq > since && e.lo < hi && lo < e.hi);
  }
}

export function describeChanges(events: readonly MapChange[]): string {
  if (events.length === 0) return 'no space operation, writeback or direct-write completion the monitor saw';
  // The same event repeated (writeback maps a run folio by folio) is said once, with a count.
  const parts: string[] = [];
  let last = '';
  let n = 0;
  const flush = () => { if (n > 0) parts.push(n > 1 ? `${last} ×${n}` : last); };
  for (const e of events) {
    const text = `${e.what} [block ${e.lo}, ${e.hi === Infinity ? 'EOF' : e.hi})`;
    if (text === last) {
      n++;
      continue;
    }
    flush();
    last = text;
    n = 1;
  }
  flush();
  return parts.join('; ');
}
