// A connection's replies that did not fit in its tx ring yet: copies, in send()
// order, moved into the ring as the kernel takes bytes. A reply larger than the
// whole ring (up to maxReply) is streamed through it from here: its prefix, its
// payload in pieces as room appears, its trailer.
//
// Invariants: `bytes` is the sum of the payloads from `head` on (what the
// connection charges to its budget); nothing leaves out of order; a reply is
// dropped from here only once the ring holds all of it (or by clear()). A copy's memory
// goes back the moment it leaves (freeCopy, queue-budget.ts), not at V8's next collection.

import { SEND_FULL, SEND_NO_MEMORY, SEND_OK, type Core } from '../core/core.ts';
import { freeCopy } from './queue-budget.ts';

export class TxQueue {
  /** Payload bytes waiting here. */
  bytes = 0;
  private items: Uint8Array[] = [];
  private head = 0;
  /** The first reply is larger than the tx ring and this much of it is streamed (-1: not started). */
  private streamed = -1;
  /** The tx ring had to grow for the next reply and the core's pool had no ring for it (SEND_NO_MEMORY): it stays queued, the connection must close. */
  noMemory = false;

  /** Take a copy of a reply (the caller's buffer may be reused). */
  push(copy: Uint8Array): void {
    this.items.push(copy);
    this.bytes += copy.length;
  }

  /** Move replies into the slot's tx ring while they fit; returns the payload bytes that left the queue. */
  moveInto(core: Core, slot: number): number {
    let moved = 0;
    while (this.head < this.items.length) {
      const next = this.items[this.head]!;
      if (this.streamed < 0) {
        const r = core.send(slot, next);
        if (r === SEND_FULL) return this.took(moved);
        if (r !== SEND_OK) {
          // SEND_TOO_LARGE (send() let only streamable ones in): the prefix first.
          const begun = r === SEND_NO_MEMORY ? r : core.beginFrame(slot, next.length);
          this.noMemory = begun === SEND_NO_MEMORY;
          if (begun !== SEND_OK) return this.took(moved);
          this.streamed = 0;
        }
      }
      if (this.streamed >= 0) {
        this.streamed += core.putPiece(slot, next.subarray(this.streamed));
        if (this.streamed < next.length || core.endFrame(slot) !== SEND_OK) return this.took(moved);
        this.streamed = -1;
      }
      this.items[this.head++] = undefined as never;
      moved += next.length;
      freeCopy(next); // after its last use: detached, its length is 0
    }
    this.items = [];
    this.head = 0;
    return this.took(moved);
  }

  /** Drop everything; returns the payload bytes dropped. */
  clear(): number {
    const dropped = this.bytes;
    for (let i = this.head; i < this.items.length; i++) freeCopy(this.items[i]!);
    this.items = [];
    this.head = 0;
    this.bytes = 0;
    this.streamed = -1;
    return dropped;
  }

  private took(moved: number): number {
    this.bytes -= moved;
    return moved;
  }
}
