/**
 * The data of the failure explorer: replay an op log one op at a time and record, after every
 * op, what the reference model holds — the block map (each block classed hole, delalloc,
 * unwritten, written, inline, shared, COW-staged), the folios in the page cache with their
 * per-block uptodate/dirty bits, pending I/O — plus the failure and the bytes around it.
 * The state always comes from replaying the log, never from re-deriving it in the browser.
 */
import { ruleDocUrl } from '../rule-docs';
import type { FileAdapter, FileTarget } from '../../adapters/types';
import { ReferenceAdapter, ReferenceTarget } from '../../adapters/reference';
import { replayLog } from '../fsx/engine';
import { OpLog, bufferFromRecords } from '../fsx/oplog';
import { describeOp } from '../fsx/report';
import type { Failure, Runner } from '../fsx/runner';
import { PAGE_SIZE } from '../../reference/iomap/types';
import { blocksPerFolio } from '../../reference/iomap/folio';
import type { MappingSnapshot } from '../../reference/iomap/fs-ops';

/** Largest number of cells the block map draws; larger files are drawn at a coarser scale. */
export const MAX_CELLS = 2048;
/** Blocks looked at per coarse cell of the block map (cellSamples). */
const CELL_SAMPLES = 16;

export interface FolioView {
  pos: number;
  size: number;
  uptodate: boolean;
  dirty: boolean;
  writeback: boolean;
  /** Per block: 'D' dirty (and uptodate), 'U' uptodate, '.' neither; empty without per-block state. */
  bits: string;
}

export interface StepView {
  /** 1-based op number; 0 is the state before the first op. */
  op: number;
  size: number;
  /** One class letter per cell: h hole, d delalloc, u unwritten, w written, i inline, s shared, c COW staging. */
  cells: string;
  /** File blocks per cell (1 unless the file is too large to draw block by block). */
  scale: number;
  folios: FolioView[];
  pending: string[];
}

export interface ByteWindow {
  /** File offset of the first byte shown. */
  start: number;
  /** The failing offset. */
  offset: number;
  expected: number[];
  actual: number[];
  /** Op number (mod 256) whose data pattern wrote each actual byte, or null for zero/unknown. */
  writerActual: Array<number | null>;
  writerExpected: Array<number | null>;
}

export interface ReportData {
  title: string;
  adapter: string;
  geometry: { blockSize: number; pageSize: number; folioSize?: number };
  seed: number;
  /** fsx-style line per op (op i+1 at index i). */
  ops: string[];
  /** 1-based failing op, or null if the log passed. */
  failingOp: number | null;
  failure: { kind: string; rule: string | null; ruleUrl: string | null; offset: number | null; lines: string[] } | null;
  /** State after op k is steps[k] (steps[0]: before any op). */
  steps: StepView[];
  /** Number of blocks the block map covers (the largest file size seen, in blocks). */
  blocks: number;
  bytes: ByteWindow | null;
  /** Where the state came from: the target itself, or a reference replay beside it. */
  stateFrom: 'target' | 'reference';
  /** The run's coverage map, when one was saved beside the log (drawn as a heat map). */
  coverage?: import('../coverage/recorder').CoverageJson;
}

/** The class of block `blk`; `inline`: the file's data lives in its inode (block 0 shows it). */
function classOf(target: ReferenceTarget, snap: MappingSnapshot | null, inline: boolean, blk: number): string {
  const fs = target.fsys.fs;
  const inode = target.fh.inode;
  if (snap === null) return 'h';
  if (inline) return blk === 0 ? 'i' : 'h';
  const st = snap.block(blk);
  const desc = fs.describeBlock(inode, blk * inode.blockSize);
  if (desc.includes('; cow ')) return 'c';
  switch (st.state) {
    case 'hole': return 'h';
    case 'delalloc': return 'd';
    case 'unwritten': return st.shared ? 's' : 'u';
    default: return st.shared ? 's' : 'w';
  }
}

/**
 * The blocks a coarse cell [first, end) is classified by: all of them up to CELL_SAMPLES, else that
 * many spread evenly (first and last included). A cell of a huge sparse file (fsx -l 2^40) would
 * otherwise cost millions of lookups per step; the map is a picture, the failure lines are exact.
 */
function cellSamples(first: number, end: number): number[] {
  const n = end - first;
  if (n <= CELL_SAMPLES) return Array.from({ length: n }, (_, i) => first + i);
  return Array.from({ length: CELL_SAMPLES }, (_, i) => first + Math.floor((i * (n - 1)) / (CELL_SAMPLES - 1)));
}

/** The model state of a reference target now. */
export function captureState(target: ReferenceTarget, op: number, blocks: number): StepView {
  const inode = target.fh.inode;
  const scale = Math.max(1, Math.ceil(blocks / MAX_CELLS));
  const intro = target.fsys.fs.introspect;
  const snap = intro ? intro.snapshot(inode) : null;
  const inline = snap !== null && target.fsys.fs.describeBlock(inode, 0) === 'inline';
  let cells = '';
  for (let c = 0; c * scale < blocks; c++) {
    // A coarse cell shows the "most interesting" class among its blocks (anything but a hole).
    let cls = 'h';
    for (const b of cellSamples(c * scale, Math.min(blocks, (c + 1) * scale))) {
      const k = classOf(target, snap, inline, b);
      if (k !== 'h') { cls = k; if (k !== 'w') break; }
    }
    cells += cls;
  }
  const folios: FolioView[] = inode.mapping.allFolios().map((f) => {
    let bits = '';
    if (f.ifs) {
      for (let i = 0; i < blocksPerFolio(f, inode.blkbits); i++) bits += f.ifs.dirty[i] ? 'D' : f.ifs.uptodate[i] ? 'U' : '.';
    }
    return { pos: f.pos, size: f.size, uptodate: f.uptodate, dirty: f.dirty, writeback: f.writeback, bits };
  });
  return { op, size: inode.size, cells, scale, folios, pending: target.fsys.queue.pending.map((p) => p.label) };
}

/** The op number (mod 256) the fsx data pattern says wrote byte `i` of `data` (at file offset start+i). */
function writerOf(data: number[], i: number, start: number): number | null {
  const j = (start + i) % 2 === 0 ? i : i - 1;
  if (j < 0 || j >= data.length) return null;
  const v = data[j];
  return v === 0 && data[i] === 0 ? null : v;
}

interface Replay {
  /** The target's bytes around the failing offset, read before the adapter was closed. */
  actual: { start: number; bytes: number[] } | null;
  failure: Failure | null;
  steps: StepView[];
  target: FileTarget | null;
  runner: Runner | null;
  ops: number;
}

/** The largest file size the log reaches (its op records carry the size before each op). */
function maxExtent(log: OpLog): number {
  let m = 0;
  for (const r of log.ops) {
    // complete_io's and crash's `off` pick an I/O or a crash state: not file offsets. A bad-argument
    // op's range is refused (it may sit at the size limit, 2^43 and beyond): the file never gets there.
    if (r.op === 'crash' || r.op === 'complete_io' || r.invalid === true) {
      m = Math.max(m, r.fileSize ?? 0);
      continue;
    }
    m = Math.max(m, r.fileSize ?? 0, r.off + r.len, (r.dst ?? 0) + r.len);
  }
  return m;
}

/**
 * Replay `log` on `adapter`, capturing model state after each op when the target is a reference
 * target. The capture of the failing op happens before the adapter is closed.
 */
function windowStart(offset: number, w: number): number {
  const s = Math.max(0, offset - w);
  return s - (s % 2);
}

function replayCapturing(adapter: FileAdapter, name: string, log: OpLog, blocks: number, w = 32): Replay {
  const out: Replay = { actual: null, failure: null, steps: [], target: null, runner: null, ops: 0 };
  let ref: ReferenceTarget | null = null;
  const wrapped: FileAdapter = {
    name: adapter.name,
    capabilities: adapter.capabilities,
    open: () => {
      const t = adapter.open();
      out.target = t;
      if (t instanceof ReferenceTarget) {
        ref = t;
        out.steps.push(captureState(t, 0, blocks));
      }
      return t;
    },
    close: () => {
      // After the last (or failing) op, before unmount: the state at the end of the log.
      if (ref && out.runner) {
        const done = out.runner.opNum;
        if (out.steps[out.steps.length - 1]?.op !== done) out.steps.push(captureState(ref, done, blocks));
      }
      const off = out.runner?.failure?.offset;
      if (off !== undefined && out.target) {
        const start = windowStart(off, w);
        try {
          out.actual = { start, bytes: Array.from(out.target.pread(start, 2 * w)) };
        } catch {
          out.actual = { start, bytes: [] };
        }
      }
      adapter.close();
    },
  };
  const quiet = { out: () => undefined, err: () => undefined };
  const res = replayLog(wrapped, name, log, { quiet: true, debug: false, logDumpOps: 0 }, quiet, {
    runner: (r) => { out.runner = r; },
    progressEvery: 1,
    progress: (n) => { if (ref) out.steps.push(captureState(ref, n, blocks)); },
  });
  out.failure = res.failure;
  out.ops = res.ops;
  return out;
}

export interface CaptureOptions {
  /** Make the reference adapter used for state (when the target is not one). */
  reference?: () => FileAdapter;
  /** Bytes shown on each side of the failing offset. */
  window?: number;
}

/** Build the report data for `log` replayed on `adapter` (named `name`). */
export function captureReport(adapter: FileAdapter, name: string, log: OpLog, opts: CaptureOptions = {}): ReportData {
  const bs = log.geometry.blockSize;
  const blocks = Math.max(1, Math.ceil(maxExtent(log) / bs));
  const main = replayCapturing(adapter, name, log, blocks, opts.window ?? 32);
  let steps = main.steps;
  let stateFrom: 'target' | 'reference' = 'target';
  if (steps.length === 0) {
    const refAdapter = opts.reference ? opts.reference() : new ReferenceAdapter({ blockSize: bs, folioSize: log.geometry.folioSize });
    steps = replayCapturing(refAdapter, 'reference', log, blocks).steps;
    stateFrom = 'reference';
  }
  const buf = bufferFromRecords(log.ops);
  // Sizes before each op are filled in by the replay's runner into its own buffer; use the log's.
  for (let i = 0; i < log.ops.length; i++) buf.size[i] = log.ops[i].fileSize ?? steps[i]?.size ?? 0;
  const f = main.failure;
  const badoff = f?.offset ?? -1;
  const ops = log.ops.map((_, i) => `${i + 1}(${String((i + 1) % 256).padStart(3)} mod 256): ${describeOp(buf, i, badoff).text}`);
  let bytes: ByteWindow | null = null;
  if (f && f.offset !== undefined && main.runner) {
    const w = opts.window ?? 32;
    const start = main.actual?.start ?? windowStart(f.offset, w);
    const expected = Array.from(main.runner.oracle.read(start, 2 * w));
    const actual = main.actual?.bytes ?? [];
    bytes = {
      start, offset: f.offset, expected, actual,
      writerActual: actual.map((_, i) => writerOf(actual, i, start)),
      writerExpected: expected.map((_, i) => writerOf(expected, i, start)),
    };
  }
  return {
    title: `${name}: ${f ? `${f.kind}${f.rule ? ` ${f.rule}` : ''} at op ${f.op}` : 'passed'}`,
    adapter: name,
    geometry: log.geometry,
    seed: log.seed,
    ops,
    failingOp: f ? f.op : null,
    failure: f ? { kind: f.kind, rule: f.rule ?? null, ruleUrl: f.rule === undefined ? null : ruleDocUrl(f.rule), offset: f.offset ?? null, lines: f.lines } : null,
    steps,
    blocks,
    bytes,
    stateFrom,
  };
}

export { PAGE_SIZE };
