// A connection's replies that did not fit in its tx ring yet: copies, in send()
// order, moved into the ring as the kernel takes bytes. A reply larger than the
// whole ring (up to maxReply) is streamed through it from here: its prefix, its
// payload in pieces as room appears, its trailer.
//
// The rest of a fan-out batch that a subscriber's ring could not take
// (fanout-batch.ts) waits here as one item, a run of fan-out records
// (Core.fanout's format), not as a copy per frame: the run is a view of one copy
// of the batch that every such subscriber of the batch shares (read only), and
// it moves into the ring by Core.fanout for this one slot, as many whole frames
// at a time as fit. (Every frame of a run is one the core's fan-out encodes.)
//
// Invariants: `bytes` is the sum of the payloads from `head` on (what the
// connection charges to its budget); nothing leaves out of order; a reply is
// dropped from here only once the ring holds all of it (or by clear()). A copy's memory
// goes back the moment it leaves (freeCopy, queue-budget.ts), not at V8's next collection;
// a run's shared copy, when the last subscriber's run has left (V8 collects it).

import { fanoutRecordLength, fanoutRecordSize, SEND_FULL, SEND_NO_MEMORY, SEND_OK, type Core } from '../core/core.ts';
import { freeCopy } from './queue-budget.ts';
import { waitingBytes, waitingKind, waiting, type Waiting } from './message-kind.ts';

/** Fan-out records [at, end) of a batch's shared copy, waiting for one connection's ring. */
class RecordRun {
  readonly records: Uint8Array;
  at: number;
  readonly end: number;
  constructor(records: Uint8Array, at: number, end: number) {
    this.records = records;
    this.at = at;
    this.end = end;
  }
}

/** The run moved into a ring one slot at a time (Core.fanout's slot list): reused. */
const oneSlot = new Uint32Array(1);

export class TxQueue {
  /** Payload bytes waiting here. */
  bytes = 0;
  private items: (Waiting | RecordRun)[] = [];
  private head = 0;
  /** The first reply is larger than the tx ring and this much of it is streamed (-1: not started). */
  private streamed = -1;
  /** The tx ring had to grow for the next reply and the core's pool had no ring for it (SEND_NO_MEMORY): it stays queued, the connection must close. */
  noMemory = false;

  /** Take a copy of a reply (the caller's buffer may be reused), of this kind (websocket framing: WS_*). */
  push(copy: Uint8Array, kind: number): void {
    this.items.push(waiting(copy, kind));
    this.bytes += copy.length;
  }

  /** Queue fan-out records [at, end) of `records` (never written to again: subscribers share it), `payload` bytes of payloads. */
  pushRun(records: Uint8Array, at: number, end: number, payload: number): void {
    this.items.push(new RecordRun(records, at, end));
    this.bytes += payload;
  }

  /** Move replies into the slot's tx ring while they fit; returns the payload bytes that left the queue. */
  moveInto(core: Core, slot: number): number {
    let moved = 0;
    while (this.head < this.items.length) {
      const item = this.items[this.head]!;
      if (item instanceof RecordRun) {
        moved += this.moveRun(core, slot, item);
        if (item.at < item.end) return this.took(moved);
        this.items[this.head++] = undefined as never;
        continue;
      }
      const next = waitingBytes(item);
      const kind = waitingKind(item);
      if (this.streamed < 0) {
        const r = core.send(slot, next, kind);
        if (r === SEND_FULL) return this.took(moved);
        if (r !== SEND_OK) {
          // SEND_TOO_LARGE (send() let only streamable ones in): the prefix first.
          const begun = r === SEND_NO_MEMORY ? r : core.beginFrame(slot, next.length, kind);
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

  /**
   * As many whole frames of the run as the slot's ring takes, in one call into the
   * core; the payload bytes that left. (The pool short of a staging segment, so the
   * core took none: its first frame goes through send(), so the run never stalls;
   * no ring for it either: noMemory, as for a reply.)
   */
  private moveRun(core: Core, slot: number, run: RecordRun): number {
    const r = run.records;
    oneSlot[0] = slot;
    core.fanout(run.at === 0 && run.end === r.length ? r : r.subarray(run.at, run.end), run.end - run.at, oneSlot, 1);
    let frames = oneSlot[0]!;
    if (frames === 0) {
      const n = fanoutRecordLength(r, run.at);
      const sent = core.send(slot, r.subarray(run.at + 4, run.at + 4 + n));
      if (sent === SEND_OK) frames = 1;
      this.noMemory = sent === SEND_NO_MEMORY;
    }
    let moved = 0;
    for (; frames > 0; frames--) {
      const n = fanoutRecordLength(r, run.at);
      moved += n;
      run.at += fanoutRecordSize(n);
    }
    return moved;
  }

  /** Drop everything; returns the payload bytes dropped. */
  clear(): number {
    const dropped = this.bytes;
    for (let i = this.head; i < this.items.length; i++) {
      const item = this.items[i]!;
      if (!(item instanceof RecordRun)) freeCopy(waitingBytes(item));
    }
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

