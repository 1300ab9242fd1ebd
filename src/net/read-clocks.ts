// A connection's deadline clocks, kept as timestamps (clock(): performance.now() in whole ms) and read
// by the endpoint's one sweep, never a timer per socket. `lastActive` is the last
// read or write progress (idle timeout); `waitStart` is when the connection began
// waiting for the rest of an incomplete frame (0: it is not waiting), and
// `windowStart`/`windowBytes` measure the rate at which that frame's bytes arrive
// (frame timeout, minimum rate, eviction order). They are fields of the connection
// itself, under the symbols of internals.ts (an object of their own would cost
// every idle connection 64 bytes more); this file owns how they move.
//
// Invariant: the frame clocks run only while the connection waits on its peer
// (Connection.awaitingInput); the sweep stops them (waitStart = 0) otherwise, and a
// read that completes a frame restarts them.

import { kLastActive, kRxSeen, kWaitStart, kWindowBytes, kWindowStart } from './internals.ts';

export interface ReadClocks {
  [kLastActive]: number;
  [kWaitStart]: number;
  [kWindowStart]: number;
  [kWindowBytes]: number;
  /** rx bytes buffered after the last read, to see whether a read completed frames. */
  [kRxSeen]: number;
}

/**
 * The time the clocks keep: performance.now() in whole ms. V8 stores a whole number
 * this small in the field itself (a Smi); a fraction would be a heap number of its own,
 * 16 bytes for every connection and one more allocated at every read. A deadline
 * may so fire up to 1 ms early, inside the sweep's own period (10 ms at least).
 */
export function clock(): number {
  return Math.floor(performance.now());
}

/**
 * n bytes arrived and were decoded, and rx bytes of an incomplete frame are left
 * in the ring: if this read consumed anything, that frame began in this read, so
 * its wait and its rate window start now.
 */
export function noteRead(c: ReadClocks, n: number, rx: number): void {
  const now = clock();
  c[kLastActive] = now;
  if (rx === 0) c[kWaitStart] = 0;
  else if (c[kWaitStart] === 0 || rx < c[kRxSeen] + n) restartWait(c, now, rx);
  else c[kWindowBytes] += n;
  c[kRxSeen] = rx;
}

/** The wait for an incomplete frame (of `buffered` bytes so far) starts now. */
export function restartWait(c: ReadClocks, at: number, buffered: number): void {
  const now = Math.floor(at); // a whole ms, as clock()
  c[kWaitStart] = buffered > 0 ? now : 0;
  c[kWindowStart] = now;
  c[kWindowBytes] = buffered;
  c[kRxSeen] = buffered;
}
