// Log lines that cannot flood: per cause (an error code, "stall"…), at most
// `burst` lines per `window` ms are written; the rest are counted, and when the
// window ends one summary says how many of that cause were suppressed. A client
// that opens thousands of bad connections costs a few lines per window, not one
// line each. One timer per cause while it has something to report, unref'd.
// It writes nothing itself: the caller says how to write a line and a summary
// (logger.ts does, in the chosen format).

/** Says that `suppressed` lines of a cause were dropped in the last `window` ms. */
export type SuppressedSummary = (suppressed: number, window: number) => void;

export class LogLimiter {
  private readonly causes = new Map<string, { written: number; suppressed: number; timer: NodeJS.Timeout; summary: SuppressedSummary }>();

  private readonly burst: number;
  private readonly window: number;

  constructor(burst = 5, window = 10_000) {
    this.burst = burst;
    this.window = window;
  }

  /** Run `write` unless `cause` has used its burst in this window; `summary` reports what was suppressed when the window ends. */
  line(cause: string, write: () => void, summary: SuppressedSummary): void {
    let c = this.causes.get(cause);
    if (!c) {
      const timer = setTimeout(() => this.flush(cause), this.window);
      timer.unref();
      c = { written: 0, suppressed: 0, timer, summary };
      this.causes.set(cause, c);
    }
    if (c.written < this.burst) {
      c.written++;
      write();
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
    if (c.suppressed > 0) c.summary(c.suppressed, this.window);
  }
}
