/**
 * One live status line on a terminal (`fsx: 40960/100000 ops, 8123 ops/s, 5s, ETA 7s, 0 failures`):
 * redrawn in place with a carriage return, at most every 200 ms, cleared before any other output
 * (cli/common.ts Lines) and redrawn after it, so nothing is ever interleaved with it. Off when
 * stdout is not a terminal, with --json and with -q. Timing only decides when the line is drawn,
 * never what a run does.
 */

export interface StatusSink {
  stdout(text: string): void;
}

const CLEAR = '\r\x1b[K';
const REDRAW_MS = 200;

export class StatusLine {
  private text = '';
  private shown = false;
  private lastDraw = -Infinity;

  constructor(private readonly sink: StatusSink, readonly enabled: boolean) {}

  /** Set the line; drawn now if the last draw is old enough (or `force`). */
  update(text: string, force = false): void {
    if (!this.enabled) return;
    this.text = text;
    const now = performance.now();
    if (!force && now - this.lastDraw < REDRAW_MS) return;
    this.lastDraw = now;
    this.sink.stdout(CLEAR + this.fit(text));
    this.shown = true;
  }

  /** Remove the line (before other output, and at the end). */
  clear(): void {
    if (!this.shown) return;
    this.sink.stdout(CLEAR);
    this.shown = false;
  }

  /** Draw the last text again (after other output). */
  redraw(): void {
    if (this.enabled && this.text !== '' && !this.shown) {
      this.sink.stdout(CLEAR + this.fit(this.text));
      this.shown = true;
    }
  }

  /** Keep the line within the terminal so the carriage return goes back to its start. */
  private fit(text: string): string {
    const cols = (process.stdout.columns ?? 0) >= 40 ? process.stdout.columns : 100;
    return text.length < cols ? text : text.slice(0, Math.max(10, cols - 2)) + '…';
  }
}

/** `75s` → `1m15s`. */
export function duration(ms: number): string {
  const s = Math.round(ms / 1000);
  return s < 60 ? `${s}s` : s < 3600 ? `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s` : `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

/** `ops done/total, rate, elapsed, ETA` for a run of `total` units started at `t0`. */
export function progressText(label: string, done: number, total: number, unit: string, t0: number, failures: number): string {
  const ms = performance.now() - t0;
  const rate = ms > 0 ? (done * 1000) / ms : 0;
  const eta = rate > 0 && total > done ? `, ETA ${duration(((total - done) / rate) * 1000)}` : '';
  return `${label}: ${done}/${total} ${unit}, ${Math.round(rate)} ${unit}/s, ${duration(ms)}${eta}, ${failures} failure${failures === 1 ? '' : 's'}`;
}
