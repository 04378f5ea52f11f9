/**
 * What the long-running commands print besides their results: skip lines counted and summarized
 * (listed with -v), and where failures are saved by default.
 */

import * as fs from 'fs';
import * as path from 'path';
import type { Output } from '../properties/fsx/runner';
import { UsageError } from './common';

/**
 * fsx's own chatter, made readable: it skips an op it cannot run as drawn (a read past EOF,
 * complete_io with nothing pending), and those lines are normal and numerous, so they are counted
 * by reason and summarized at the end (-v lists them); its "does not support X, disabling!" lines
 * become one line naming every op turned off; a target crash line goes to stderr.
 */
export class Skips {
  private readonly counts = new Map<string, number>();
  private readonly disabled: string[] = [];
  private disabledAdapter = '';
  total = 0;

  constructor(readonly verbose: boolean) {}

  /** `o` with the lines above sorted out. */
  wrap(o: Output): Output {
    return { out: (l) => this.route(false, l, o), err: (l) => this.route(true, l, o), flush: () => o.flush?.() };
  }

  /** Where one line of fsx output goes (counted, collected, stderr or as it came). */
  route(err: boolean, l: string, o: Output): void {
    if (!err && l.startsWith('skipping ')) {
      this.add(l);
      if (this.verbose) o.out(l);
      return;
    }
    if (!err && l.startsWith('target crashed in ')) {
      o.err(l);
      return;
    }
    const off = err ? /^.*?: adapter (.+?) (?:does not support (.+)|returned EOPNOTSUPP), disabling!$/.exec(l) : null;
    if (off !== null) {
      this.disabledAdapter = off[1];
      const what = off[2] ?? l.split(':')[0];
      if (!this.disabled.includes(what)) this.disabled.push(what);
      return;
    }
    (err ? o.err : o.out)(l);
  }

  add(line: string): void {
    const why = line.slice('skipping '.length);
    this.counts.set(why, (this.counts.get(why) ?? 0) + 1);
    this.total++;
  }

  /** The ops turned off because the adapter lacks them, as one line (for stderr), or null. */
  disabledLine(): string | null {
    if (this.disabled.length === 0) return null;
    return `adapter ${this.disabledAdapter} does not support ${this.disabled.join(', ')}: those ops are off (fsx's "disabling")`;
  }

  /** One line: how many skips, the most common reasons first. Empty when nothing was skipped. */
  summary(): string[] {
    if (this.total === 0) return [];
    const top = [...this.counts].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
    const shown = top.slice(0, 6).map(([why, n]) => `${n} ${why}`).join('; ');
    const more = top.length > 6 ? `; ${top.length - 6} other reason${top.length === 7 ? '' : 's'}` : '';
    return [`Skipped ${this.total} op${this.total === 1 ? '' : 's'} that cannot run as drawn (normal for fsx; ${this.verbose ? 'listed above' : '-v lists them'}): ${shown}${more}`];
  }
}

/** Where failures go when --save is not given: a folder in the current directory, made when needed. */
export const DEFAULT_SAVE_DIR = 'iomap-harness-failures';

export function defaultSaveDir(): string {
  return path.resolve(DEFAULT_SAVE_DIR);
}

/**
 * mkdir -p, one level at a time: Node 20's mkdirSync(..., {recursive: true}) spins forever on some
 * paths (e.g. under /proc), and a bad --save must cost one line, not a hang.
 */
export function mkdirs(dir: string): void {
  const missing: string[] = [];
  for (let d = dir; !fs.existsSync(d); d = path.dirname(d)) {
    missing.push(d);
    if (path.dirname(d) === d) break;
  }
  for (const d of missing.reverse()) {
    try {
      fs.mkdirSync(d);
    } catch (e) {
      if ((e as { code?: string }).code !== 'EEXIST') throw e; // another run made it meanwhile
    }
  }
}

/**
 * Make sure `dir` exists and files can be created in it (a probe file is written and removed: an
 * access() check passes for root on /proc, where every write then fails). A problem is one line.
 */
export function prepareSaveDir(flagName: string, dir: string): string {
  const abs = path.resolve(dir);
  try {
    mkdirs(abs);
    if (!fs.statSync(abs).isDirectory()) throw new UsageError(`${flagName} ${dir}: not a directory`);
    const probe = path.join(abs, `.iomap-harness-probe-${process.pid}`);
    fs.writeFileSync(probe, '');
    fs.unlinkSync(probe);
  } catch (e) {
    if (e instanceof UsageError) throw e;
    throw new UsageError(`${flagName} ${dir}: cannot create or write to it: ${(e as { code?: string }).code ?? String(e)}`);
  }
  return abs;
}

/** The save folder, made now (a failure is about to be saved in it). */
export function ensureDir(dir: string): string {
  mkdirs(dir);
  return dir;
}
