// A fan-out batch: the frames published to one topic that this thread's mailbox
// hands on in a row, delivered to the topic's local subscribers together, each
// subscriber written once for the batch. The frames are encoded once into a copy
// of their own (Core.encodeFanout) that every subscriber whose writer can take it
// as it is gets a view of (Writer.putShared: nothing of its own waits to be
// written, the direct write path): the kernel copies the bytes once per socket, no
// ring does, as with a server that writes one Buffer to every socket. The others
// get them copied into their tx rings in one core call (Core.fanout).
//
// Invariants:
//   - Order per subscriber: a subscriber gets the batch's frames in publish order,
//     after everything sent to it before. One that cannot take them straight into
//     its ring (replies queued beyond it), or whose ring took only the first
//     frames, has the rest queued behind as one item (Connection[kFanoutRun]: a
//     run of this batch's records in one copy of the batch that all such
//     subscribers share, moved into its ring by the core as it drains), or is
//     dropped, by its slow-consumer policy (maxQueued, the endpoint's budget), as
//     for any reply. One whose handler's window holds its replies, or any
//     subscriber of a batch with a frame over the batch's limit, gets them one
//     by one through Connection.send.
//   - Frames the framing cannot carry were refused before they were added (the
//     router's kReplyRefusal); frames the core would not put in a ring as they are
//     (larger than the ring, streamed) go through send() for every subscriber.
//   - Memory: the records buffer and the slot list grow to the largest batch and
//     are kept (no allocation per frame); the encoded copy is one buffer per batch
//     (writes of it may be in flight long after), and a batch that some subscriber
//     queues is copied once more (the runs' shared copy).
//   - Size: a batch is at most LIMIT bytes of records, a quarter of the largest tx
//     ring (a batch that outgrows the rings would queue copies of most of its
//     frames for every subscriber), and half the core's largest segment (the core
//     stages it there).

import { fanoutRecordLength, fanoutRecordSize, putFanoutRecord, S_BYTES_OUT, S_FRAMES_OUT, type Core } from '../core/core.ts';
import type { Connection } from './connection.ts';
import { kFannedOut, kFanoutReady, kFanoutRun, kFanoutShare, kFanoutShares, kSlot } from './internals.ts';

/** Where the router's delivery goes: one frame through send(), frames the core put in rings, frames queued as a run. */
export interface FanoutSink {
  send(c: Connection, payload: Uint8Array): void;
  took(frames: number): void;
  queued(frames: number): void;
}

/** Bytes of records a batch holds before it is delivered (and the mailbox's batch goes on). */
const LIMIT = 16 * 1024;

export class FanoutBatch {
  /** The topic of the frames in the batch ('' with none). */
  topic = '';
  /** Frames in the batch. */
  count = 0;
  private len = 0;
  private records = new Uint8Array(4096);
  /** Where each frame's record starts, and the payload bytes before it (entry `count`: the ends). */
  private starts = new Uint32Array(256);
  private payloads = new Float64Array(256);
  /** The largest payload in the batch: over the limit, the core may not encode it (no runs then). */
  private largest = 0;
  /** The records, copied once for the subscribers that queue a run of them (made on first need). */
  private shared: Uint8Array | null = null;
  private slots = new Uint32Array(64);
  private ready: Connection[] = [];
  private readonly limit: number;

  constructor(core: Pick<Core, 'config'>) {
    this.limit = Math.min(LIMIT, core.config.txSize / 4, core.config.maxSegment / 2);
  }

  /** Bytes of records in the batch (each frame's payload and 4): about what each subscriber gets. */
  get bytes(): number {
    return this.len;
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
    if (this.count + 1 >= this.starts.length) {
      const starts = new Uint32Array(this.starts.length * 2);
      starts.set(this.starts);
      this.starts = starts;
      const payloads = new Float64Array(this.payloads.length * 2);
      payloads.set(this.payloads);
      this.payloads = payloads;
    }
    this.len = putFanoutRecord(this.records, this.len, payload);
    this.count++;
    this.starts[this.count] = this.len;
    this.payloads[this.count] = this.payloads[this.count - 1]! + payload.length;
    if (payload.length > this.largest) this.largest = payload.length;
  }

  /** Deliver the batch to subs through `sink` (the router's, which counts) and empty it. */
  deliver(core: Core, subs: ReadonlySet<Connection> | undefined, sink: FanoutSink): void {
    if (subs && subs.size > 0 && this.count > 0) {
      if (this.slots.length < subs.size) this.slots = new Uint32Array(Math.max(subs.size, this.slots.length * 2));
      const slots = this.slots, ready = this.ready;
      const payload = this.payloads[this.count]!;
      let n = 0, sent = 0, queued = 0;
      /** The batch's frames encoded once, when a subscriber first can take them so (null: not every frame can be). */
      let wire: Uint8Array | null | undefined;
      for (const c of subs) {
        if (!c[kFanoutReady]()) {
          this.rest(0, c, sink);
        } else if (wire !== null && c[kFanoutShares]() && (wire ??= core.encodeFanout(this.records, this.len)) !== null) {
          const r = c[kFanoutShare](wire, payload);
          if (r === 'sent') sent++;
          else if (r === 'queued') queued++;
        } else {
          slots[n] = c[kSlot];
          ready[n++] = c;
        }
      }
      if (sent + queued > 0) {
        // Counted as the core counts what it puts in rings.
        core.stats.add(S_FRAMES_OUT, (sent + queued) * this.count);
        core.stats.add(S_BYTES_OUT, (sent + queued) * wire!.length);
        if (sent > 0) sink.took(sent * this.count);
        if (queued > 0) sink.queued(queued * this.count); // waiting on their peers, as a queued run: the mailbox's batch ends
      }
      if (n > 0) {
        core.fanout(this.records, this.len, slots, n);
        let frames = 0;
        for (let i = 0; i < n; i++) {
          const c = ready[i]!;
          const k = slots[i]!;
          if (k > 0) c[kFannedOut]();
          frames += k;
          // What its ring did not take (or the core did not encode) follows, in order.
          if (k < this.count) this.rest(k, c, sink);
        }
        sink.took(frames);
        ready.fill(undefined as never, 0, n);
      }
    }
    this.topic = '';
    this.count = 0;
    this.len = 0;
    this.largest = 0;
    this.shared = null;
  }

  /** Frames from index `first` on, to c: queued as one run where it can take one, else through send(), one by one. */
  private rest(first: number, c: Connection, sink: FanoutSink): void {
    if (this.largest <= this.limit) {
      const shared = (this.shared ??= this.records.slice(0, this.len));
      const queued = c[kFanoutRun](shared, this.starts[first]!, this.len, this.payloads[this.count]! - this.payloads[first]!);
      if (queued !== null) {
        if (queued) sink.queued(this.count - first);
        return;
      }
    }
    const r = this.records;
    for (let i = first; i < this.count; i++) {
      const at = this.starts[i]!;
      sink.send(c, r.subarray(at + 4, at + 4 + fanoutRecordLength(r, at)));
    }
  }
}
