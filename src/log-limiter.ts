// Log lines that cannot flood: per cause (an error code, "stall"…), at most
// `burst` lines per `window` ms are written; the rest are counted, and when the
// window ends one line says how many of that cause were suppressed. A client
// that opens thousands of bad connections costs a few lines per window, not one
// line each. One timer per cause while it has something to report, unref'd.

export class LogLimiter {
  private readonly causes = new Map<string, { written: number; suppressed: number; timer: NodeJS.Timeout }>();

  private readonly write: (line: string) => void;
  private readonly burst: number;
  private readonly window: number;

  constructor(write: (line: string) => void, burst = 5, window = 10_000) {
    this.write = write;
    this.burst = burst;
    this.window = window;
  }

  /** Write `text` unless `cause` has used its burst in this window. */
  line(cause: string, text: string): void {
    let c = this.causes.get(cause);
    if (!c) {
      const timer = setTimeout(() => this.flush(cause), this.window);
      timer.unref();
      c = { written: 0, suppressed: 0, timer };
      this.causes.set(cause, c);
    }
    if (c.written < this.burst) {
      c.written++;
      this.write(text);
    } else {
      c.suppressed++;
    }
  }

  /** Report what was suppressed now (before exit), and forget every window. */
  flushAll(): void {
    for (const cause of [...this.causes.keys()]) this.flush(cause);
  }

  private flush(cause: string): void {
    const c = this.causes.get(cause);
    if (!c) return;
    clearTimeout(c.timer);
    this.causes.delete(cause);
    if (c.suppressed > 0) this.write(`ringwire: ${c.suppressed} more ${cause} line(s) suppressed in the last ${this.window / 1000}s`);
  }
}
