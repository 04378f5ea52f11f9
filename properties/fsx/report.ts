/**
 * The fsx failure report: the failure's own lines (READ BAD DATA table, Size error, Mapped Read:
 * non-zero data past EOF, an op error, ...) followed by fsx's LOG DUMP of the last ops, one line per
 * op in fsx's format (`123( 123 mod 256): WRITE    0x1000 thru 0x1fff\t(0x1000 bytes) EXTEND`), with
 * fsx's overlap markers (***RRRR***, ***WWWW, ******PPPP, JJJJ**JJJJ, ...) on the ops that touched the
 * bad offset, SKIPPED and CLOSE/OPEN lines.
 *
 * The report is a pure function of the op records and the failure: replaying a saved log produces
 * the same text, byte for byte. Numbers are printed in full (fsx truncates them to 32 bits).
 */

import { ruleDoc } from '../rule-docs';
import {
  FL_CHECK_SHARED, FL_CLOSE_OPEN, FL_DSYNC, FL_FAULT_AT, FL_KEEP_SIZE, FL_NO_MSYNC, FL_POLLUTE, FL_RESERVE, FL_SKIPPED, FL_UNSHARE, OP_ZERO_RANGE,
  OP_COMPLETE_IO, OP_CRASH, OP_FAULT_READ, OP_FAULT_WRITE, FAULT_READ_EVICT, FAULT_READ_MMAP, FAULT_WRITE_ACTIONS, OP_EVICT, OP_FALLOCATE,
  OP_FDATASYNC, FL_INVALID, OP_REMOUNT, OP_READ_DONTCACHE, OP_WRITE_DONTCACHE, OP_WRITE_ATOMIC,
  OP_FSYNC, OP_MAPWRITE, OP_RACE_PUNCH, OP_RACE_WRITE, OP_RACE_WRITEBACK, OP_READ, OP_READ_DIRECT, OP_MAPREAD,
  OP_SEEK_DATA, OP_SEEK_HOLE, OP_TRUNCATE, OP_WRITE, OP_WRITE_DIRECT, OP_WRITE_DIRECT_ASYNC, OP_WRITEBACK,
  OPS, OpBuffer,
} from './ops';
import type { Failure } from './runner';

const hex = (n: number): string => '0x' + n.toString(16);

/** One LOG DUMP line (without the CLOSE/OPEN continuation) and whether op i touched `badoff`. */
export function describeOp(buf: OpBuffer, i: number, badoff: number): { text: string; overlap: boolean } {
  const code = buf.code[i];
  const info = OPS[code];
  const off = buf.off[i];
  const len = buf.len[i];
  const size = buf.size[i];
  let overlap = badoff >= off && badoff < off + len;
  if ((buf.flags[i] & FL_SKIPPED) !== 0) return { text: 'SKIPPED (no operation)', overlap };
  const range = `${info.label} ${hex(off)} thru ${hex(off + len - 1)}\t(${hex(len)} bytes)`;
  const mark = (m: string) => `\t******${m}`;
  switch (code) {
    case OP_READ:
    case OP_MAPREAD:
    case OP_READ_DIRECT:
    case OP_READ_DONTCACHE:
      return { text: range + (code === OP_READ_DONTCACHE ? ' DONTCACHE' : '') + (overlap ? `\t***${info.marker}***` : ''), overlap };
    case OP_WRITE:
    case OP_WRITE_DIRECT:
    case OP_WRITE_DIRECT_ASYNC:
    case OP_WRITE_DONTCACHE:
    case OP_WRITE_ATOMIC:
    case OP_RACE_WRITE: {
      let t = range;
      if (off > size) t += ' HOLE';
      else if (off + len > size) t += ' EXTEND';
      overlap = (badoff >= off || badoff >= size) && badoff < off + len;
      if (code === OP_RACE_WRITE) t += ' (inside the next write)';
      if (code === OP_WRITE_ATOMIC) t += ' ATOMIC';
      if (code === OP_WRITE_DONTCACHE) t += ' DONTCACHE';
      return { text: t + (overlap ? `\t***${info.marker}` : ''), overlap };
    }
    case OP_MAPWRITE:
      return { text: range + ((buf.flags[i] & FL_NO_MSYNC) !== 0 ? ' NOMSYNC' : '') + (overlap ? mark(info.marker) : ''), overlap };
    case OP_RACE_PUNCH:
      return { text: range + ' (inside the next write)' + (overlap ? mark(info.marker) : ''), overlap };
    case OP_WRITEBACK:
      return { text: info.label, overlap: false };
    case OP_CRASH:
      return { text: `${info.label} power cut, crash state selector ${hex(off)}`, overlap: false };
    case OP_FAULT_READ: {
      const how = buf.dst[i];
      const t = `${range} device read error${(how & FAULT_READ_EVICT) !== 0 ? ', cache evicted first' : ''}${(how & FAULT_READ_MMAP) !== 0 ? ', read through mmap' : ''}`;
      return { text: t + (overlap ? `\t***${info.marker}***` : ''), overlap };
    }
    case OP_FAULT_WRITE:
      return { text: `${range} device write ${FAULT_WRITE_ACTIONS[buf.dst[i]] ?? '?'} under writeback, then fsync x2 and read back` + (overlap ? mark(info.marker) : ''), overlap };
    case OP_COMPLETE_IO:
      return { text: `${info.label} pending I/O #${off} (mod pending)`, overlap: false };
    case OP_EVICT:
      return { text: `${info.label} folio at ${hex(off)}`, overlap: false };
    case OP_RACE_WRITEBACK:
      return { text: `${info.label} writeback, complete all, evict folio at ${hex(off)} (inside the next write)`, overlap: false };
    case OP_TRUNCATE: {
      const down = len < size;
      overlap = badoff >= (down ? len : size) && badoff < (down ? size : len);
      return { text: `TRUNCATE ${down ? 'DOWN' : 'UP'}\tfrom ${hex(size)} to ${hex(len)}` + (overlap ? mark('WWWW') : ''), overlap };
    }
    case OP_FALLOCATE: {
      let t = `${info.label} ${hex(off)} thru ${hex(off + len)}\t(${hex(len)} bytes) `;
      if (off + len <= size) t += 'INTERIOR';
      else if ((buf.flags[i] & FL_KEEP_SIZE) !== 0) t += 'PAST_EOF';
      else t += 'EXTENDING';
      return { text: t + (overlap ? mark(info.marker) : ''), overlap };
    }
    case OP_FSYNC:
    case OP_FDATASYNC:
      return { text: info.label, overlap: false };
    case OP_REMOUNT:
      return { text: `${info.label} clean unmount and mount`, overlap: false };
    case OP_SEEK_DATA:
    case OP_SEEK_HOLE:
      return { text: `${info.label} ${hex(off)}`, overlap: false };
    default:
      break;
  }
  if (info.twoRange) {
    const dst = buf.dst[i];
    const overlap2 = badoff >= dst && badoff < dst + len;
    const m = info.marker;
    let t = `${range} to ${hex(dst)} thru ${hex(dst + len - 1)}`;
    if (overlap && overlap2) t += `\t${m}**${m}`;
    else if (overlap) t += `\t${m}******`;
    else if (overlap2) t += `\t******${m}`;
    return { text: t, overlap: overlap || overlap2 };
  }
  return { text: range + (overlap && info.marker !== '' ? mark(info.marker) : ''), overlap: overlap && info.marker !== '' };
}

/**
 * The arguments fsx's own format leaves out but a report must show: KEEP_SIZE on zero_range,
 * UNSHARE on fallocate (with KEEP_SIZE), EOF pollution before the op, an O_DSYNC write, and the
 * op log v3 attributes (a short copy, a reservation limit, the SHARED check).
 */
function attributes(buf: OpBuffer, i: number): string {
  const f = buf.flags[i];
  if ((f & FL_SKIPPED) !== 0) return '';
  const code = buf.code[i];
  const a: string[] = [];
  if (code === OP_ZERO_RANGE && (f & FL_KEEP_SIZE) !== 0) a.push('KEEP_SIZE');
  if (code === OP_FALLOCATE && (f & FL_UNSHARE) !== 0) a.push((f & FL_KEEP_SIZE) !== 0 ? 'UNSHARE|KEEP_SIZE' : 'UNSHARE');
  else if (code === OP_FALLOCATE && (f & FL_KEEP_SIZE) !== 0 && buf.off[i] + buf.len[i] <= buf.size[i]) a.push('KEEP_SIZE');
  if ((f & FL_POLLUTE) !== 0) a.push('EOF page polluted first');
  if ((f & FL_DSYNC) !== 0) a.push('O_DSYNC');
  if ((f & FL_FAULT_AT) !== 0) a.push(`user buffer faults at byte ${hex(buf.dst[i])}`);
  if ((f & FL_RESERVE) !== 0) a.push(`at most ${buf.dst[i]} more blocks reservable`);
  if ((f & FL_CHECK_SHARED) !== 0) a.push('FIEMAP must show SHARED');
  return a.length === 0 ? '' : ` [${a.join(', ')}]`;
}

/** fsx's logdump: `count` ops of `buf`, the last `maxOps` of them shown. */
export function logDump(buf: OpBuffer, count: number, badoff: number, maxOps: number, polluteEof = false): string[] {
  const lines = [`LOG DUMP (${count} total operations):`];
  if (polluteEof) lines.push('(-e 1: before every size-changing op, junk was stored through mmap past EOF to the end of the EOF page; the op had to zero it)');
  const first = Math.max(0, count - maxOps);
  if (first > 0) lines.push(`(ops 1-${first} not shown; the saved op log has every op)`);
  for (let i = first; i < count; i++) {
    const n = i + 1;
    const { text } = describeOp(buf, i, badoff);
    const invalid = (buf.flags[i] & (FL_INVALID | FL_SKIPPED)) === FL_INVALID ? ' (bad arguments: must be refused)' : '';
    lines.push(`${n}(${String(n % 256).padStart(3)} mod 256): ${text}${attributes(buf, i)}${invalid}`);
    if ((buf.flags[i] & FL_CLOSE_OPEN) !== 0) lines.push('\t\tCLOSE/OPEN');
  }
  return lines;
}

/** The whole failure report: the failure's lines, then the LOG DUMP up to the failing op. */
export function formatReport(failure: Failure, buf: OpBuffer, maxOps: number, polluteEof = false): string[] {
  const badoff = failure.offset ?? -1;
  const rule = failure.rule !== undefined ? [`Rule broken: ${failure.rule} (${ruleDoc(failure.rule)}; iomap-harness explain ${failure.rule.replace('§', '')})`] : [];
  return [...failure.lines, ...rule, ...logDump(buf, failure.op, badoff, maxOps, polluteEof)];
}
