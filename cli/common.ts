/**
 * Shared CLI pieces: the I/O seam (tests pass their own), usage errors (one line, exit 2),
 * fsx-style numbers. Flag parsing is cli/command-line.ts.
 */

import { StatusLine } from './status-line';

export const EXIT_PASS = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;
export const EXIT_CRASH = 3;

/** Where the CLI writes. `isTTY` turns progress output on. */
export interface CliIO {
  stdout(text: string): void;
  stderr(text: string): void;
  isTTY: boolean;
}

export function processIO(): CliIO {
  return {
    stdout: (t) => void process.stdout.write(t),
    stderr: (t) => void process.stderr.write(t),
    isTTY: process.stdout.isTTY === true,
  };
}

/** Bad command line or input: reported as one line, exit code 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/**
 * Line output with batching: engine lines are collected and written in blocks (a write per line
 * would cost more than an fsx op). stderr lines flush stdout first, so the two stay in order.
 */
export class Lines {
  private pending: string[] = [];
  /** The live status line, cleared before and redrawn after every block of output. */
  status: StatusLine | null = null;
  constructor(private readonly io: CliIO) {}

  out = (line: string): void => {
    this.pending.push(line);
    if (this.pending.length >= 512) this.flush();
  };

  err = (line: string): void => {
    this.flush();
    this.status?.clear();
    this.io.stderr(line + '\n');
    this.status?.redraw();
  };

  flush(): void {
    if (this.pending.length === 0) return;
    const text = this.pending.join('\n') + '\n';
    this.pending = [];
    this.status?.clear();
    this.io.stdout(text);
    this.status?.redraw();
  }
}

const SUFFIX: Record<string, number> = { k: 1024, m: 1024 ** 2, g: 1024 ** 3, b: 512 };

/**
 * An fsx-style number: decimal or 0x hex, optionally followed by k, m, g (binary units) or b
 * (512-byte blocks), as fsx's getnum accepts. Must be an integer in [lo, hi].
 */
export function parseNumber(flag: string, text: string, lo = 0, hi = Number.MAX_SAFE_INTEGER): number {
  if (/^-(0[xX][0-9a-fA-F]+|[0-9]+)[kKmMgGbB]?$/.test(text)) throw new UsageError(`${flag}: ${text} is negative; expected a number in [${lo}, ${hi}]`);
  const m = /^(0[xX][0-9a-fA-F]+|[0-9]+)([kKmMgGbB]?)$/.exec(text);
  if (m === null) throw new UsageError(`${flag}: expected a number (decimal or 0x hex, optional k/m/g suffix), got ${JSON.stringify(text)}`);
  const base = m[1].startsWith('0x') || m[1].startsWith('0X') ? parseInt(m[1].slice(2), 16) : parseInt(m[1], 10);
  const v = base * (m[2] === '' ? 1 : SUFFIX[m[2].toLowerCase()]);
  if (!Number.isSafeInteger(v) || v < lo || v > hi) throw new UsageError(`${flag}: ${text} is out of range [${lo}, ${hi}]`);
  return v;
}

/** A positive power of two within [lo, hi] (block and folio sizes). */
export function parsePow2(flag: string, text: string, lo: number, hi: number): number {
  const v = parseNumber(flag, text, lo, hi);
  if ((v & (v - 1)) !== 0) throw new UsageError(`${flag}: ${text} is not a power of two`);
  return v;
}
