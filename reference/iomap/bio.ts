/**
 * The block layer between submission and completion. Bios (writeback ioends, direct I/O) are
 * submitted into this queue and complete only when a step completes them: immediately when a
 * caller waits (fsync, truncate, stable-page waits), or in any order a fuzzer chooses. This is
 * how the model makes "completion races" explicit and replayable without threads or timers.
 */
import type { Folio } from './folio';
import type { Inode } from './types';

export interface PendingCompletion {
  readonly label: string;
  readonly inode: Inode;
  /** Folios whose writeback bit this completion may end. */
  readonly folios: readonly Folio[];
  complete(): void;
}

export class BioQueue {
  readonly pending: PendingCompletion[] = [];
  completed = 0;

  submit(c: PendingCompletion): void {
    this.pending.push(c);
  }

  /** Complete the i-th pending completion (0 = oldest). */
  completeAt(i: number): void {
    const [c] = this.pending.splice(i, 1);
    if (!c) throw new RangeError(`no pending completion #${i}`);
    this.completed++;
    c.complete();
  }

  /** Complete everything, oldest first. */
  drain(): void {
    while (this.pending.length) this.completeAt(0);
  }

  /** filemap_fdatawait for one inode: complete its pending I/O, oldest first. */
  waitInode(inode: Inode): void {
    for (let i = 0; i < this.pending.length;) {
      if (this.pending[i].inode === inode) this.completeAt(i);
      else i++;
    }
  }

  /** folio_wait_writeback(): complete the I/O that holds this folio under writeback. */
  waitFolio(folio: Folio): void {
    while (folio.writeback) {
      const i = this.pending.findIndex((c) => c.folios.includes(folio));
      if (i < 0) throw new Error(`model bug: folio ${folio.index} under writeback with no pending I/O`);
      this.completeAt(i);
    }
  }

  pendingFor(inode: Inode): number {
    let n = 0;
    for (const c of this.pending) if (c.inode === inode) n++;
    return n;
  }
}
