// A fan-out batch: the frames published to one topic that this thread's mailbox
// hands on in a row, delivered to the topic's local subscribers together: the
// core encodes them once and copies them into every ready subscriber's tx ring in
// one call (Core.fanout), and each subscriber is written once for the batch.
//
// Invariants:
//   - Order per subscriber: a subscriber gets the batch's frames in publish order,
//     after everything sent to it before. One that cannot take them straight into
//     its ring (replies queued beyond it, its output closing, a handler's window
//     holding its replies) gets them one by one through Connection.send, as does
//     a subscriber whose ring took only the first frames: the rest follow through
//     send(), so they queue behind those, or the subscriber is dropped, by its
//     slow-consumer policy (maxQueued, the endpoint's budget), as for any reply.
//   - Frames the framing cannot carry were refused before they were added (the
//     router's kReplyRefusal); frames the core would not put in a ring as they are
//     (larger than the ring, streamed) go through send() for every subscriber.
//   - Memory: the records buffer and the slot list grow to the largest batch and
//     are kept (no allocation per frame or per batch in steady state).
//   - Size: a batch is at most LIMIT bytes of records, a quarter of the largest tx
//     ring (a batch that outgrows the rings would queue copies of most of its
//     frames for every subscriber), and half the core's largest segment (the core
//     stages it there).

import { fanoutRecordSize, putFanoutRecord, type Core } from '../core/core.ts';
import type { Connection } from './connection.ts';
import { kFannedOut, kFanoutReady, kSlot } from './internals.ts';

/** Bytes of records a batch holds before it is delivered (and the mailbox's batch goes on). */
const LIMIT = 16 * 1024;

export class FanoutBatch {
  /** The topic of the frames in the batch ('' with none). */
  topic = '';
  /** Frames in the batch. */
  count = 0;
  private len = 0;
  private records = new Uint8Array(4096);
  private slots = new Uint32Array(64);
  private ready: Connection[] = [];
  private readonly limit: number;

  constructor(core: Pick<Core, 'config'>) {
    this.limit = Math.min(LIMIT, core.config.txSize / 4, core.config.maxSegment / 2);
  }

  /** Would a frame of `length` bytes take the batch past its limit? (An empty batch takes any frame.) */
  full(length: number): boolean {
    return this.count > 0 && this.len + fanoutRecordSize(length) > this.limit;
  }

  add(topic: string, payload: Uint8Array): void {
    this.topic = topic;
    const need = this.len + fanoutRecordSize(payload.length);
    if (need > this.records.length) {
      const grown = new Uint8Array(Math.max(need, this.records.length * 2));
      grown.set(this.records.subarray(0, this.len));
      this.records = grown;
    }
    this.len = putFanoutRecord(this.records, this.len, payload);
    this.count++;
  }

  /**
   * Deliver the batch to subs and empty it. `send` is the router's one-frame
   * delivery (Connection.send, counted); `took` counts frames the core put in rings.
   */
  deliver(core: Core, subs: ReadonlySet<Connection> | undefined, send: (c: Connection, payload: Uint8Array) => void, took: (frames: number) => void): void {
    if (subs && subs.size > 0 && this.count > 0) {
      if (this.slots.length < subs.size) this.slots = new Uint32Array(Math.max(subs.size, this.slots.length * 2));
      const slots = this.slots, ready = this.ready;
      let n = 0;
      for (const c of subs) {
        if (c[kFanoutReady]()) {
          slots[n] = c[kSlot];
          ready[n++] = c;
        } else {
          this.sendFrom(0, c, send);
        }
      }
      if (n > 0) {
        core.fanout(this.records, this.len, slots, n);
        let frames = 0;
        for (let i = 0; i < n; i++) {
          const c = ready[i]!;
          const k = slots[i]!;
          if (k > 0) c[kFannedOut]();
          frames += k;
          // What its ring did not take (or the core did not encode) follows through send(), in order.
          if (k < this.count) this.sendFrom(k, c, send);
        }
        took(frames);
        ready.fill(undefined as never, 0, n);
      }
    }
    this.topic = '';
    this.count = 0;
    this.len = 0;
  }

  /** Frames from index `first` on, to c through send(). */
  private sendFrom(first: number, c: Connection, send: (c: Connection, payload: Uint8Array) => void): void {
    const r = this.records;
    for (let i = 0, at = 0; at < this.len; i++) {
      const n = r[at]! | (r[at + 1]! << 8) | (r[at + 2]! << 16) | (r[at + 3]! << 24);
      if (i >= first) send(c, r.subarray(at + 4, at + 4 + n));
      at += fanoutRecordSize(n);
    }
  }
}
