/**
 * Model-based stateful testing with fc.commands over the FileAdapter (prior-art §2): commands
 * are file operations plus the iomap-level interleaving steps — writeback now, completions in any
 * order, reclaim (evict), asynchronous O_DIRECT writes completing in a generated order, and a
 * second writer (or writeback, or a punch) between ->iomap_begin and get_folio — checked after
 * every command against independent oracles: the sparse byte oracle and the size law.
 *
 * Commands are state-aware: each carries raw numbers that are resolved against the model state
 * when it runs (offsets inside the current size, collapse ranges before EOF, completions among the
 * I/Os actually pending), so check() never rejects a generated command and none is wasted.
 */
import * as fc from 'fast-check';
import { property, SuiteDef } from '../types';
import { GEO_DEFAULT, GEO_SMALLFOLIO, GEO_SUBFOLIO, defaultSpan, playStep } from '../common';
import { lastOp } from '../checks';
import { Step, StepKind, fmtStep, verifyAll } from '../steps';
import type { Workload } from '../workload';

/** The model: what the oracles say the file is, plus what is in flight. */
export interface FileModel {
  size: number;
  pending: number;
  commands: number;
}

const ALPHABET: Array<[StepKind, number]> = [
  ['write', 6], ['read', 3], ['mapwrite', 2], ['mapread', 2], ['truncate', 2], ['punch', 1], ['zero', 1], ['falloc', 1],
  ['collapse', 1], ['insert', 1], ['clone', 1], ['dwrite', 2], ['dread', 1], ['fsync', 1], ['cycle', 1],
  ['writeback', 3], ['complete', 3], ['drain', 1], ['evict', 2], ['asyncDio', 2], ['raceWrite', 2], ['raceWriteback', 2], ['racePunch', 1],
];

class FileCommand implements fc.Command<FileModel, Workload> {
  private resolved = '';
  constructor(readonly step: Step) {}

  check(_m: Readonly<FileModel>): boolean {
    return true; // state-aware: the raw numbers are resolved in whatever state the command meets
  }

  run(m: FileModel, w: Workload): void {
    const before = w.ops;
    const notes = w.notes.length;
    playStep(w, this.step, defaultSpan(w));
    const op = lastOp(w);
    this.resolved = w.ops > before && op !== null ? ` → ${op.name} ${op.off}+${op.len}${op.dst ? ` at ${op.dst}` : ''}` : w.notes.length > notes ? ` → ${w.notes[w.notes.length - 1]}` : '';
    // Independent oracles after every command: the size law, then every byte (a logged read).
    w.sizeCheck(`after command ${m.commands + 1} (${fmtStep(this.step)})`);
    verifyAll(w);
    m.size = w.size;
    m.pending = w.pending();
    m.commands++;
  }

  toString(): string {
    return `${fmtStep(this.step)}${this.resolved}`;
  }
}

const commandArbs = ALPHABET.map(([k, weight]) =>
  fc.record({ a: fc.nat(), b: fc.nat(), c: fc.nat() }).map(({ a, b, c }) => new FileCommand({ k, a, b, c })));
const weighted = ALPHABET.flatMap(([, weight], i) => Array.from({ length: weight }, () => commandArbs[i]));

export const stateful: SuiteDef = {
  name: 'stateful',
  area: 'model-based commands (fc.commands) with iomap interleaving steps',
  sections: 'iomap-contract §5.1–5.7, §7.1; file-ops §14.1–14.3, §14.24',
  needs: ['interleave'],
  properties: [
    property<{ geo: number; cmds: Iterable<fc.Command<FileModel, Workload>> }>({
      name: 'commands',
      section: 'iomap-contract §5.2, §5.6, §5.7, §7.1; file-ops §14.1, §14.3',
      describe: 'sequences of file operations, writeback, completions in any order, reclaim, async direct writes and begin/get_folio races keep every byte and the size equal to the oracles after every command',
      arb: () => fc.record({ geo: fc.nat(2), cmds: fc.commands(weighted, { maxCommands: 30, size: 'max' }) }),
      run: (ctx, input) => {
        const w = ctx.open([GEO_DEFAULT, GEO_SUBFOLIO, GEO_SMALLFOLIO][input.geo]);
        const model: FileModel = { size: 0, pending: 0, commands: 0 };
        fc.modelRun(() => ({ model, real: w }), input.cmds);
        w.drain();
        verifyAll(w);
        w.quiesce();
      },
    }),
  ],
};
