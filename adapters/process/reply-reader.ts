/**
 * The reply side of the exec: transport (docs/protocol.md): a server's stdout split into reply
 * lines and the binary frames that go with them. Used by the calling thread when it reads the
 * server's output itself (transport.ts) and by the process-manager thread otherwise
 * (transport-worker.ts).
 */

/** A reply line (with the binary frame before it) or a broken frame, as the reader hands them on. */
export type ReaderMessage = { t: 'line'; line: string; unterminated?: boolean; bin?: Uint8Array } | { t: 'frame-error'; message: string };

const NL = 0x0a;
const HASH = 0x23;

/**
 * Splits a server's stdout into reply lines and binary frames. A frame is "#N\n" (a decimal
 * length), N raw bytes and a "\n"; it belongs to the reply line that follows it and is handed on
 * with that line. A frame whose header is not "#" and digits, whose length is beyond maxLine, or
 * whose payload is not followed by the newline (a wrong length) is reported once as
 * {t:'frame-error'}; the stream is out of step after that, so nothing more is read.
 */
export class ReplyReader {
  private pending: Buffer = Buffer.alloc(0);
  /** The payload of a frame read, waiting for its reply line. */
  private frame: Buffer | undefined;
  /** Bytes of a frame payload still to come (-1: reading lines). */
  private want = -1;
  private overlong = false;
  private broken = false;

  constructor(private readonly maxLine: number, private readonly post: (m: ReaderMessage) => void) {}

  /**
   * Take the next piece of output. `reused`: the caller reads into this buffer again (the calling
   * thread's read buffer), so what is kept of it past this call is copied.
   */
  push(chunk: Buffer, reused = false): void {
    if (this.broken) return;
    this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    let buf = this.pending;
    let at = 0;
    for (;;) {
      if (this.want >= 0) {
        if (buf.length - at < this.want + 1) break;
        if (buf[at + this.want] !== NL) {
          return this.fail(`the ${this.want}-byte payload of a binary frame is followed by byte 0x${buf[at + this.want].toString(16).padStart(2, '0')}, not a newline (its length is wrong)`);
        }
        // A copy: the chunk it lies in is reused for the lines that follow.
        this.frame = Buffer.from(buf.subarray(at, at + this.want));
        at += this.want + 1;
        this.want = -1;
        continue;
      }
      const nl = buf.indexOf(NL, at);
      if (nl < 0) break;
      if (this.overlong) {
        this.overlong = false;
        at = nl + 1;
        continue;
      }
      if (buf[at] === HASH) {
        const head = buf.toString('latin1', at, nl);
        if (!/^#[0-9]{1,15}$/.test(head)) return this.fail(`binary frame header ${JSON.stringify(head.slice(0, 40))} is not "#" and a decimal length`);
        const n = Number(head.slice(1));
        if (n > this.maxLine) return this.fail(`binary frame of ${n} bytes is longer than ${this.maxLine} bytes`);
        if (this.frame !== undefined) return this.fail('two binary frames before one reply line');
        this.want = n;
        at = nl + 1;
        continue;
      }
      const line = buf.toString('utf8', at, nl);
      at = nl + 1;
      if (this.frame !== undefined) {
        this.post({ t: 'line', line, bin: this.frame });
        this.frame = undefined;
      } else {
        this.post({ t: 'line', line });
      }
    }
    buf = at === 0 ? buf : buf.subarray(at);
    if (this.want < 0 && buf.length > this.maxLine && !this.overlong) {
      this.overlong = true;
      this.post({ t: 'line', line: buf.toString('utf8', 0, 200) + ` ... (a line longer than ${this.maxLine} bytes)` });
      buf = Buffer.alloc(0);
    }
    if (this.overlong) buf = Buffer.alloc(0);
    this.pending = reused && buf.length > 0 && buf.buffer === chunk.buffer ? Buffer.from(buf) : buf;
  }

  /** End of output: an unterminated last line is still handed on. */
  end(): void {
    if (this.broken) return;
    if (this.want >= 0) {
      this.fail(`the output ended inside a binary frame (${this.pending.length} of ${this.want} bytes and its newline)`);
      return;
    }
    if (this.pending.length > 0 && !this.overlong) this.post({ t: 'line', line: this.pending.toString('utf8'), unterminated: true });
    this.pending = Buffer.alloc(0);
  }

  private fail(message: string): void {
    this.broken = true;
    this.pending = Buffer.alloc(0);
    this.post({ t: 'frame-error', message });
  }
}
