// A connection's delivery window: the frames out with handlers at once (up to
// `concurrency`), oldest first, each with its place in the output reserved
// before its handler ran. The connection consumes its rx ring only up to the
// oldest frame whose handler has not settled, so every frame's view stays valid
// until its own handler settles.
//
// Replies leave in frame order whatever order the handlers settle in: the oldest
// frame (the head) sends straight into the tx ring; a later frame's reply is copied
// into its place here and sent when every earlier frame has settled
// (takeReplies()). A reply finds its frame in one of three ways:
//   - reply.send(): the entry itself is the handle onFrame gets as its third
//     argument (FrameReply), so it knows its frame wherever it is called from;
//   - connection.send() while the handler runs synchronously: the connection
//     knows which frame it is delivering;
//   - connection.send() after an await: through `frameContext`, an
//     AsyncLocalStorage entered around the handler of a frame that starts behind
//     others, only when concurrency > 1 and onFrame does not declare `reply` (a
//     handler that does sends through it, so needs no context).
// A send with no frame of this connection (a timer, another connection's handler),
// or from a frame that is the head or already left the window, goes out at once.
//
// Invariants: entries are in frame order; the head is never settled once
// takeHead() returned (settled heads leave at once); `bytes` is the sum of the
// copies held here (charged to the endpoint's queue budget by the connection).
// Cost: with concurrency 1 an entry per async frame, no copy, no context; with
// concurrency > 1 an entry per frame, a copy per reply sent before its turn, and,
// for a handler without `reply`, an AsyncLocalStorage.run per frame that starts
// behind another (the run copies the context map: in a profile of 256 frames in
// flight, 13-15% of the server's CPU, the largest cost of the window).

import { AsyncLocalStorage } from 'node:async_hooks';
import type { RingwireError } from '../core/errors.ts';
import { kReply } from './internals.ts';
import { waitingBytes, sendKind, waiting, type SendOptions, type Waiting } from './message-kind.ts';

/** A frame's own reply handle: onFrame's third argument. */
export interface FrameReply {
  /**
   * Send a reply in this frame's place: after the replies of every earlier frame,
   * before those of every later one, wherever it is called from (after any
   * number of awaits). The same contract as Connection.send(): false when it had
   * to wait beyond the tx ring or the connection is closing; a run-time failure
   * closes the connection, only a payload that is not bytes throws. websocket
   * framing: { text: true } sends a text message.
   */
  send(payload: Uint8Array, options?: SendOptions): boolean;
}

/** What a window's entries send through: the connection, which knows whether the frame's turn has come. */
export interface ReplyPath {
  [kReply](e: InFlight, payload: Uint8Array, kind: number): boolean;
}

/** One frame out with its handler (end -1: onOpen's promise, which holds every frame behind it); its reply handle. */
export class InFlight implements FrameReply {
  readonly window: DeliveryWindow;
  /** The rx position just after the frame (what consume() takes once it leaves). */
  readonly end: number;
  /** When its handler started (performance.now()), for handlerTimeout. */
  readonly since: number;
  settled = false;
  /** It left the window (takeHead). */
  left = false;
  failure: RingwireError | undefined = undefined;
  /** Replies sent while earlier frames were out, in order, with their kinds (null: none, or it is the head). */
  replies: Waiting[] | null = null;

  constructor(window: DeliveryWindow, end: number, since: number) {
    this.window = window;
    this.end = end;
    this.since = since;
  }

  send(payload: Uint8Array, options?: SendOptions): boolean {
    return this.window.reply[kReply](this, payload, sendKind(options));
  }
}

/** The frame whose handler is running (concurrency > 1, a handler without `reply`): what send() attributes a reply to after an await. */
export const frameContext = new AsyncLocalStorage<InFlight>();

export class DeliveryWindow {
  readonly concurrency: number;
  /** Copied replies held for their turn (bytes). */
  bytes = 0;
  /** A frame failed (its handler threw or rejected): nothing more is delivered. */
  failed = false;
  /** Where the entries' reply.send() goes (the connection's). */
  readonly reply: ReplyPath;
  private readonly entries: InFlight[] = [];
  private first = 0;

  constructor(concurrency: number, reply: ReplyPath) {
    this.concurrency = concurrency;
    this.reply = reply;
  }

  /** Frames out (settled or not) that have not left the window. */
  get size(): number {
    return this.entries.length - this.first;
  }

  get head(): InFlight | undefined {
    return this.entries[this.first];
  }

  /** May another frame go out now? Not at `concurrency`, behind onOpen's promise, or after a failure. */
  get accepts(): boolean {
    const n = this.entries.length - this.first;
    return n < this.concurrency && !this.failed && (n === 0 || this.entries[this.first]!.end >= 0);
  }

  /** Frames whose handlers have not been answered yet (onOpen's is not a frame): for the drain. */
  get frames(): number {
    let n = 0;
    for (let i = this.first; i < this.entries.length; i++) if (this.entries[i]!.end >= 0) n++;
    return n;
  }

  /** Reserve the next place in the output for a frame ending at rx position `end`, whose handler starts at `now` (performance.now()). */
  add(end: number, now: number): InFlight {
    const e = new InFlight(this, end, now);
    this.entries.push(e);
    return e;
  }

  /** Is a send in this context to wait for its turn (an entry of this window behind the head)? */
  holds(e: InFlight | undefined): e is InFlight {
    return e !== undefined && e.window === this && !e.left && e !== this.entries[this.first];
  }

  /** Keep a copy of a reply, of this kind, in its frame's place. */
  keep(e: InFlight, payload: Uint8Array, kind: number): void {
    (e.replies ??= []).push(waiting(new Uint8Array(payload), kind));
    this.bytes += payload.length;
  }

  /** The head leaves (it settled): returns it; the new head's held replies are the caller's to send (takeReplies). */
  takeHead(): InFlight {
    const e = this.entries[this.first++]!;
    e.left = true;
    if (this.first === this.entries.length) {
      this.entries.length = 0;
      this.first = 0;
    } else if (this.first > 64) {
      this.entries.splice(0, this.first);
      this.first = 0;
    }
    return e;
  }

  /** The head's held replies, now its turn has come (it sends straight from now on). */
  takeReplies(e: InFlight): Waiting[] | null {
    const r = e.replies;
    e.replies = null;
    if (r) for (const p of r) this.bytes -= waitingBytes(p).length;
    return r;
  }

  /** Drop every held reply (the connection is closing or closed); returns the bytes dropped. */
  dropReplies(): number {
    for (let i = this.first; i < this.entries.length; i++) this.entries[i]!.replies = null;
    const b = this.bytes;
    this.bytes = 0;
    return b;
  }
}
