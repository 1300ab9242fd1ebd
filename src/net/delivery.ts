// A connection's delivery (handler mode): its frames, in order, to onFrame (or an
// onConnection task's stream, or a relay's onForward), and what happens as their
// handlers return and their promises settle.
//
// The core lists frames without consuming them; frames go to the handler in
// order, and the connection consumes each one (core.consume) once its handler
// returned or its promise settled and every frame before it has: the delivery
// window (delivery-window.ts) holds the frames out, up to `concurrency` of
// onFrame's (1 by default), and keeps their replies in frame order. Delivery
// stops at a full window (the slot is held: reads land in the ring, nothing is
// listed), at a reply that had to queue beyond the tx ring where this side's
// frames go (backpressure, frame by frame), or at close(); what the core had
// listed after that frame is kept in `saved` (their places in this slot's own
// ring, so they stay valid) and delivered first when the cause clears
// (continue()). While a connection delivers a batch, no other core call may list
// frames (the list is one per core): Endpoint.delivering guards that.
//
// Invariants: the core holds this slot's frames (core.hold) exactly while `held`;
// `saved` is non-null only while held; the rx ring is consumed only up to the
// oldest frame out; a failed frame closes the connection only after the replies of
// the frames before it. Reading, closing and the slot stay the connection's: this
// class asks it through the symbols of internals.ts.

import { FRAME_WORDS, R_MORE, R_NO_MEMORY, S_QUARANTINED, WS_BINARY, WS_TEXT, type Core } from '../core/core.ts';
import { E_BAD_LENGTH, E_FRAME_TOO_LARGE, E_SLOW_CONSUMER, E_WEBSOCKET_PROTOCOL, handlerError, ringwireError, type RingwireError } from '../core/errors.ts';
import { websocketRuleText } from '../core/websocket-close.ts';
import { poolExhausted } from './pool-exhausted.ts';
import { over } from './connection-state.ts';
import type { Connection, ConnectionHost } from './connection.ts';
import { DeliveryWindow, frameContext, type FrameReply, type InFlight } from './delivery-window.ts';
import { FrameStream } from './frame-stream.ts';
import { isPromise, type Handler } from './handler.ts';
import {
  kCloseSlot, kConsume, kDelivering, kEnter, kFail, kFinWhenFlushed, kForward, kLeave, kLife, kLimits, kPeer, kQueue, kSession, kSettle, kSlot, kSocketClosed,
  kTakesFrames, kTxBlocked, kUpdateReading, kWhenDrained,
} from './internals.ts';
import { waitingBytes, waitingKind, type Waiting } from './message-kind.ts';
import type { Writer } from './writer.ts';

/** Frames a connection could not deliver yet, in order, and what the core said after listing them. */
export interface Saved {
  /** The core's list entries from the first undelivered frame on (Core.saveFrames). */
  list: Uint32Array;
  /** Index of the next frame to deliver. */
  next: number;
  status: number;
}

/** What a connection hands each frame to: onFrame (with the frame's reply handle; websocket framing: and whether it is a text message), or its task's stream, or its relay link's forward(). */
export type FrameTaker = (frame: Uint8Array, c: Connection, reply: FrameReply, text?: boolean) => void | PromiseLike<void>;

export class Delivery {
  /** The frames out with handlers (and onOpen's promise), oldest first: made when the first goes out (an echo makes none). */
  private w: DeliveryWindow | null = null;
  private readonly concurrency: number;
  /** Since when (performance.now()) the oldest of them has been out; 0: none is. The endpoint's sweep closes the connection past handlerTimeout. */
  since = 0;
  /** The core was held since this slot's frames were last listed: frames may wait in the rx ring unlisted (continue()). */
  private unlisted = false;
  /** The core is told to hold this slot's frames (it lists none: they are saved, or delivery waits). */
  private held = false;
  saved: Saved | null = null;
  stream: FrameStream | null = null;
  /** Who takes each frame; set once, by the constructor. */
  onFrame: FrameTaker | undefined;
  /**
   * Sends after an await are attributed to their frame through frameContext: concurrency > 1
   * and an onFrame that does not declare `reply` (one that does sends through it). Set with onFrame.
   */
  contextual = false;
  /** The frame whose handler runs right now (concurrency > 1): a send() it makes synchronously goes in its place. */
  private calling: InFlight | undefined;
  private readonly c: Connection;
  private readonly host: ConnectionHost;
  private readonly core: Core;
  private readonly slot: number;
  private readonly out: Writer;

  constructor(c: Connection, host: ConnectionHost, concurrency: number, out: Writer, handler: Handler) {
    this.c = c;
    this.host = host;
    this.core = host.core;
    this.slot = c[kSlot];
    this.concurrency = concurrency;
    this.out = out;
    if (handler.onFrame) {
      this.onFrame = handler.onFrame; // bound to the handler once, in endpointConfig
      // One that declares `reply` replies through it after its awaits: no async context per frame (delivery-window.ts).
      this.contextual = concurrency > 1 && handler.onFrame.length < 3;
    } else if (handler.onConnection) this.onFrame = Delivery.toStream;
    else if (handler.onForward) this.onFrame = Delivery.toRelay;
  }

  // Takers shared by every connection (no closure each): run() calls this.onFrame, so `this` is the delivery.
  private static toStream(this: Delivery, frame: Uint8Array): Promise<void> {
    return this.frames().offer(frame);
  }
  private static toRelay(this: Delivery, frame: Uint8Array): void | PromiseLike<void> {
    return this.c[kForward](frame);
  }

  get window(): DeliveryWindow {
    return (this.w ??= new DeliveryWindow(this.concurrency, this.c));
  }

  /** Frames out with handlers, without making the window: for the drain's count. */
  get framesOut(): number {
    return this.w === null ? 0 : this.w.frames;
  }

  /** Drop every reply held for its turn (closing); returns the bytes dropped. */
  dropReplies(): number {
    return this.w === null ? 0 : this.w.dropReplies();
  }

  /** The frames of this connection, for a task per connection (onConnection). */
  frames(): FrameStream {
    return (this.stream ??= new FrameStream());
  }

  /**
   * The frame a connection.send() made now is a reply of, while others are out: the one whose
   * handler runs, or (after an await) the one in the async context; undefined: none (it goes out at once).
   */
  sender(): InFlight | undefined {
    const w = this.w;
    if (w === null || w.size < 2 || w.concurrency === 1) return undefined;
    return this.calling ?? (this.contextual ? frameContext.getStore() : undefined);
  }

  /** A reply of a frame whose earlier frames are still out: copied into its place (delivery-window.ts), charged like the queue. */
  keep(at: InFlight, payload: Uint8Array, kind: number): boolean {
    this.window.keep(at, payload, kind);
    const withinBudget = this.host[kQueue](payload.length, this.c);
    const queued = this.out.queued + this.window.bytes;
    if (queued > this.host[kLimits].maxQueued || !withinBudget) {
      const why = withinBudget ? `more than maxQueued (${this.host[kLimits].maxQueued} bytes)` : 'over the server\'s budget for queued replies';
      this.c[kFail](ringwireError(E_SLOW_CONSUMER, `${queued} bytes of replies queued beyond the tx ring or held for their turn, ${why}`), true);
      return false;
    }
    return true;
  }

  /** A frame's turn came: the replies it sent while earlier frames were out, in order. */
  private sendHeld(replies: Waiting[], send: boolean): void {
    let bytes = 0;
    for (const p of replies) bytes += waitingBytes(p).length;
    this.host[kQueue](-bytes);
    if (send) for (const p of replies) this.out.put(waitingBytes(p), waitingKind(p));
  }

  /**
   * Deliver frames in order: the core's list (saved === null) or what was saved
   * of an earlier one, then act on `status`, the core's word after listing them.
   */
  run(saved: Saved | null, status: number): void {
    const core = this.core;
    const c = this.c;
    if (!saved && this.held) return c[kUpdateReading](); // held: the core listed nothing
    const n = saved ? saved.list.length / FRAME_WORDS : core.frameCount();
    let i = saved ? saved.next : 0;
    const list = saved?.list; // undefined: the core's own list
    let done = -1;
    let failure: RingwireError | undefined;
    const w = this.window;
    const now = performance.now(); // one clock read per batch: its handlers all start now, for handlerTimeout
    const ws = c[kSession]; // websocket framing: messages go to the handler, control frames to the session
    let text: boolean | undefined;
    this.host[kEnter](c);
    try {
      while (i < n && this.delivers()) {
        const frame = core.frame(i, list);
        const end = core.frameEnd(i, list);
        if (ws !== null) {
          const kind = core.frameKind(i, list);
          if ((kind !== WS_TEXT && kind !== WS_BINARY) || ws.closeSent) {
            // A control frame (answered now), or a message after our close frame (dropped): done at once, in its place.
            i++;
            if (kind !== WS_TEXT && kind !== WS_BINARY) ws.control(kind, frame);
            if (w.size === 0) done = end;
            else w.add(end, now).settled = true;
            continue;
          }
          text = kind === WS_TEXT;
        }
        i++;
        if (w.concurrency === 1) {
          // One frame out at a time: every send is in order, so the connection is the frame's reply handle.
          const r = this.onFrame!(frame, c, c, text);
          if (isPromise(r)) this.await(r, w.add(end, now));
          else done = end;
          continue;
        }
        // Its place in the output is reserved before its handler runs, and the entry is its reply
        // handle. Sends through the connection are attributed to it while it runs (calling), and
        // after its awaits through frameContext, for a handler without `reply`. The oldest frame out
        // needs no context: it stays the head until it settles, and the head sends straight (any
        // frame of this connection in the context it inherits left before it).
        const current = (this.calling = w.add(end, now));
        const r = !this.contextual || w.size === 1 ? this.onFrame!(frame, c, current, text) : frameContext.run(current, this.onFrame!, frame, c, current, text);
        this.calling = undefined;
        if (isPromise(r)) this.await(r, current);
        else if (current === w.head) done = w.takeHead().end; // nothing earlier is out: done, as at concurrency 1
        else current.settled = true; // done; it leaves (its frame consumed) once the frames before it have
      }
    } catch (err) {
      failure = handlerError(err);
      const current = this.calling;
      this.calling = undefined;
      if (current !== undefined) {
        if (current === w.head) {
          w.takeHead();
        } else {
          // Frames before it are still out: the connection closes once they are answered (settled()).
          current.settled = true;
          current.failure = failure;
          w.failed = true;
          failure = undefined;
        }
      }
    } finally {
      this.host[kLeave]();
    }
    if (done >= 0) c[kConsume](done);
    if (failure) return c[kFail](failure);
    if (over(c[kLife])) return c[kFinWhenFlushed]();
    if (i < n || !w.accepts || this.c[kPeer].queuedBytes > 0) {
      // Stopped early: keep the rest for later (list entries: their bytes stay in this slot's ring).
      if (saved) saved.next = i;
      else saved = { list: core.saveFrames(i), next: 0, status };
      this.saved = saved;
      this.hold(true);
      c[kUpdateReading]();
      return;
    }
    // Replies the handlers sent are written as the read callback returns, or once per turn of
    // the event loop (send() -> flushLater): a batch, or the async replies of one turn, is one write.
    this.saved = null;
    if (saved) this.hold(false);
    if (status < 0) return c[kFail](this.framingError(-status)); // close() writes the replies before the FIN
    if (status === R_NO_MEMORY) return c[kFail](poolExhausted(this.core, 'to go on with its input'));
    // After a saved batch, bytes may have arrived while the slot was held.
    if (status === R_MORE || saved) {
      this.unlisted = false;
      return this.run(null, core.process(this.slot));
    }
    this.listed();
  }

  /** Every frame the core could list was delivered: read on, or close once draining is done. */
  private listed(): void {
    this.c[kUpdateReading]();
    if (this.c[kLife] === 'draining') this.c[kWhenDrained]();
  }

  /** An error the core found in the input, with the limit or framing it broke. */
  framingError(n: number): RingwireError {
    const { maxFrame, framingText } = this.core.config;
    if (n === E_FRAME_TOO_LARGE) {
      const size = this.core.errorSize(this.slot);
      const what = size === 0 ? 'a frame longer than maxFrame' : size === 0xffffffff ? 'a frame of 4 GiB or more, over maxFrame' : `a frame of ${size} bytes, over maxFrame`;
      return ringwireError(n, `${what} (${maxFrame} bytes of payload, framing ${framingText}): raise --max-frame or fix the peer`);
    }
    if (n === E_BAD_LENGTH) return ringwireError(n, `a length prefix that cannot describe a valid frame for framing ${framingText}`);
    if (n === E_WEBSOCKET_PROTOCOL) return ringwireError(n, websocketRuleText(this.core.errorSize(this.slot)));
    return ringwireError(n);
  }

  /**
   * May the next frame be delivered now? Not while the replies it would make wait
   * beyond a tx ring: this connection's own, or in a relay with onForward its
   * partner's, where its frames go (its own queue is then the partner's frames,
   * and holding its input for it would stall both ways).
   */
  private delivers(): boolean {
    const life = this.c[kLife];
    return (life === 'open' || life === 'draining') && this.window.accepts && this.c[kPeer].queuedBytes === 0;
  }

  /** A handler's promise is out, or onOpen's (the window's entries). */
  get pending(): boolean {
    return this.w !== null && this.w.size > 0;
  }

  /** Tell the core to hold this slot's frames (list none), or to list them again. */
  hold(held: boolean): void {
    this.held = held;
    if (held) this.unlisted = true;
    this.core.hold(this.slot, held);
  }

  /** A handler's promise (e: its frame's place in the window; end -1: onOpen's, the core holds the slot's frames meanwhile). */
  await(p: PromiseLike<void>, e: InFlight): void {
    this.since = this.window.head!.since;
    p.then(() => this.settled(e, undefined), err => this.settled(e, handlerError(err)));
  }

  /**
   * A handler's promise settled. Its frame leaves the window once every frame
   * before it has: then the replies the frames after it kept are sent in turn,
   * the rx ring is consumed up to the oldest frame still out, and delivery goes
   * on. A failure closes the connection after the replies of the frames before
   * it; the frames after it send nothing more (their replies are dropped).
   */
  private settled(e: InFlight, failure: RingwireError | undefined): void {
    const w = this.window;
    const c = this.c;
    e.settled = true;
    e.failure = failure;
    if (e !== w.head) {
      if (failure) w.failed = true; // nothing more is delivered; it acts once its turn comes
      return;
    }
    let end = -1;
    let opened = false;
    for (;;) {
      const h = w.takeHead();
      if (h.end < 0) opened = true;
      else end = h.end;
      failure ??= h.failure;
      const next = w.head;
      if (next === undefined) break;
      const replies = w.takeReplies(next);
      if (replies) this.sendHeld(replies, !failure); // after a failure, dropped
      if (!next.settled) break;
    }
    this.since = w.head?.since ?? 0;
    const life = c[kLife];
    if (life === 'quarantined') {
      if (w.size > 0) return;
      this.core.stats.add(S_QUARANTINED, -1);
      return c[kCloseSlot]('settle');
    }
    if (life === 'closed' || c.socket.destroyed) return c[kSocketClosed]();
    if (opened) this.hold(false);
    if (end >= 0) c[kConsume](end);
    if (failure) return c[kFail](failure);
    this.continue();
  }

  /** Deliver what was held back, unless another connection is mid-batch (then just after it). */
  continue(): void {
    const c = this.c;
    if (this.host[kDelivering]) return queueMicrotask(() => this.continue());
    if (over(c[kLife])) return c[kFinWhenFlushed]();
    if (!this.window.accepts || this.c[kPeer].queuedBytes > 0) return;
    const saved = this.saved;
    if (saved) this.run(saved, saved.status);
    else if (this.window.concurrency > 1 && !this.unlisted) this.listed(); // a settle with nothing new to list: no core call
    else if (this.host[kTakesFrames] || c[kTxBlocked]) c[kSettle](this.core.process(this.slot));
    else c[kUpdateReading]();
  }
}
