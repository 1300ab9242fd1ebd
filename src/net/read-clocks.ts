// A connection's deadline clocks, kept as timestamps (performance.now()) and read
// by the endpoint's one sweep, never a timer per socket. `lastActive` is the last
// read or write progress (idle timeout); `waitStart` is when the connection began
// waiting for the rest of an incomplete frame (0: it is not waiting), and
// `windowStart`/`windowBytes` measure the rate at which that frame's bytes arrive
// (frame timeout, minimum rate, eviction order).
//
// Invariant: the frame clocks run only while the connection waits on its peer
// (Connection.awaitingInput); the sweep stops them (waitStart = 0) otherwise, and a
// read that completes a frame restarts them.

export class ReadClocks {
  lastActive = performance.now();
  waitStart = 0;
  windowStart = 0;
  windowBytes = 0;
  /** rx bytes buffered after the last read, to see whether a read completed frames. */
  private rxSeen = 0;

  /**
   * n bytes arrived and were decoded, and rx bytes of an incomplete frame are left
   * in the ring: if this read consumed anything, that frame began in this read, so
   * its wait and its rate window start now.
   */
  note(n: number, rx: number): void {
    const now = performance.now();
    this.lastActive = now;
    if (rx === 0) this.waitStart = 0;
    else if (this.waitStart === 0 || rx < this.rxSeen + n) this.restart(now, rx);
    else this.windowBytes += n;
    this.rxSeen = rx;
  }

  /** The wait for an incomplete frame (of `buffered` bytes so far) starts now. */
  restart(now: number, buffered: number): void {
    this.waitStart = buffered > 0 ? now : 0;
    this.windowStart = now;
    this.windowBytes = buffered;
    this.rxSeen = buffered;
  }
}
