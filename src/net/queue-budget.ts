// The endpoint's budget for replies queued beyond the tx rings (maxQueuedTotal),
// and who pays when it runs out.
//
// Every byte a connection copies into its queue is charged here and given back when
// it moves into the tx ring or is dropped; the sum never exceeds the budget after a
// charge returns. When a charge would cross it, the holders pay, not the one that
// crossed it: the connections holding the most queued bytes without write progress
// for at least STALLED_MS are closed at once (ERR_SLOW_CONSUMER), largest first, until
// the charge fits. Otherwise a few clients that never read pin the budget until the
// write timeout and every client that reads and needs to queue a reply meanwhile is
// closed instead (64 such clients cost a reading client 150 of 210 replies). The one
// charging pays only when it is itself the largest stalled holder, or when no
// connection is stalled (every holder is being read: a real overload, refused where
// it arises, as before).
//
// "Without write progress": output handed to the kernel (Connection[kWriting]) that the
// kernel has not taken for STALLED_MS. A reading peer's kernel takes bytes at every
// ACK, so on any working link its last progress is at most a round trip old; a
// never-reading peer's stops once its socket buffers are full (~4 MiB on loopback).
// A connection whose queued bytes were not yet handed over is not waiting on its peer
// and is never chosen.
//
// Memory follows the count: a copy's bytes are freed the moment it leaves the queue
// (freeCopy, which detaches its ArrayBuffer) rather than at V8's next garbage
// collection, which let tens of MiB of dead copies pile up past the budget under churn.
//
// Cost: a charge within the budget is one addition; one that crosses it scans the
// connections once (O(n)) and closes at least one stalled holder or refuses the
// charge, so the scans are bounded by the connections they close.

import { E_SLOW_CONSUMER, ringwireError, type RingwireError } from '../core/errors.ts';
import { kFail, kLastProgress, kWriting } from './internals.ts';

/** How long a holder's output must have made no progress before it is closed for the budget. */
export const STALLED_MS = 250;
/** Copies this large or larger are freed at once when they leave the queue; smaller ones are cheap garbage. */
const FREE_AT = 4096;

/** What the budget reads of a connection that holds queued bytes, and how it closes one. */
export interface QueueHolder {
  readonly queuedBytes: number;
  /** Output handed to the kernel and not yet taken. */
  readonly [kWriting]: boolean;
  /** When the output last moved (performance.now()). */
  readonly [kLastProgress]: number;
  [kFail](err: RingwireError, destroy: boolean): void;
}

export class QueueBudget {
  private total = 0;
  /** Set again by the endpoint's start(), once the core (and so the default) is known. */
  max: number;
  private readonly holders: () => Iterable<QueueHolder>;

  /** `holders`: every connection that may hold queued bytes (the endpoint's). */
  constructor(max: number, holders: () => Iterable<QueueHolder>) {
    this.max = max;
    this.holders = holders;
  }

  /** Bytes queued beyond the tx rings right now. */
  get bytes(): number {
    return this.total;
  }

  /**
   * `from` queued `delta` more bytes (negative: its queue gave some back). false when
   * `from` must pay for crossing the budget (it is the largest stalled holder, or no
   * holder is stalled): the caller closes it, which gives its bytes back.
   */
  charge(delta: number, from?: QueueHolder): boolean {
    this.total += delta;
    if (delta <= 0 || this.total <= this.max) return true;
    const now = performance.now();
    const stalled: QueueHolder[] = [];
    for (const h of this.holders()) {
      if (h.queuedBytes > 0 && h[kWriting] && now - h[kLastProgress] >= STALLED_MS) stalled.push(h);
    }
    stalled.sort((a, b) => b.queuedBytes - a.queuedBytes || a[kLastProgress] - b[kLastProgress]);
    for (const h of stalled) {
      if (this.total <= this.max) break;
      if (h === from) return false;
      const held = h.queuedBytes;
      // Closing it gives its queue back (a negative charge) before fail() returns.
      h[kFail](ringwireError(E_SLOW_CONSUMER, `${held} bytes of replies queued and no write progress for ${Math.round(now - h[kLastProgress])} ms when the server's budget for queued replies (maxQueuedTotal ${this.max} bytes) ran out: the largest stalled holder is closed so that clients that read are served`), true);
    }
    return this.total <= this.max;
  }
}

/** A queued copy has left the queue (moved into the tx ring, or dropped): free its memory now, not at the next GC. */
export function freeCopy(copy: Uint8Array): void {
  // The copy owns its ArrayBuffer (Connection.send made it): detaching it frees the bytes at once.
  if (copy.byteLength >= FREE_AT) (copy.buffer as ArrayBuffer & { transfer(length: number): ArrayBuffer }).transfer(0);
}
