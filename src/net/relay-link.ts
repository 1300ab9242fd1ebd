// A connection's relay link: who fills its tx ring and who takes its frames.
// Alone, that is the connection itself (the echo); in a relay (pair()), its
// partner, symmetrically: each side's frames go into the other's tx ring, in the
// core (echo mode, Core.forwardTo), or through forward() and the onForward hook
// (handler mode). A side whose input ended has its partner end its output (FIN
// after what it forwarded; its reading goes on); a side that closes unpairs: its
// partner is re-pointed at itself and closed after its frames.
//
// Invariants: `peer` is symmetric (a.peer === b exactly when b.peer === a) and is
// the connection itself when unpaired; the core forwards a slot's frames only to
// its peer's slot, and is re-pointed before a closed slot can be reused.

import type { Core } from '../core/core.ts';
import { E_HANDLER, E_SOCKET, ringwireError, type RingwireError } from '../core/errors.ts';
import type { Connection } from './connection.ts';
import { isPromise, kindOf } from './handler.ts';
import { kFail, kHandler, kSlot } from './internals.ts';

/**
 * What onForward answered for a frame on its way to `to`: nothing or true
 * forwards it, false drops it, bytes replace it. Anything else throws (ERR_HANDLER
 * once it reaches run() or the rejection): a filter that returned the wrong kind
 * of value must not leak the frame it meant to mask.
 */
function forwarded(frame: Uint8Array, to: Connection, out: unknown): void {
  if (out === false) return;
  if (out === undefined || out === true) return void to.send(frame);
  if (out instanceof Uint8Array) return void to.send(out);
  throw new TypeError(`onForward returned ${kindOf(out)}: return nothing or true (forward the frame), false (drop it) or bytes (replace it)`);
}

export class RelayLink {
  /**
   * The connection whose tx ring takes this one's frames, and whose frames come
   * into this one's tx ring: the connection itself (the echo) or, in a relay, its
   * partner. Symmetric, so one field says both directions.
   */
  peer: Connection;
  /** The partner's link, while paired. */
  private other: RelayLink | null = null;
  private readonly c: Connection;
  private readonly core: Core;
  /** Handler mode: frames go through forward(), not the core's forwarding. */
  private readonly takesFrames: boolean;

  constructor(c: Connection, core: Core, takesFrames: boolean) {
    this.c = c;
    this.peer = c;
    this.core = core;
    this.takesFrames = takesFrames;
  }

  /**
   * A relay: each side's whole frames go into the other's tx ring, in the core, in
   * one call per read (Core.forwardTo), with backpressure both ways. When one side
   * closes, the other closes after the frames it still has to send.
   */
  pair(other: RelayLink): void {
    this.peer = other.c;
    other.peer = this.c;
    this.other = other;
    other.other = this;
    if (this.takesFrames) return; // onForward: frames come to forward(), not to the core's forwarding
    this.core.forwardTo(this.c[kSlot], other.c[kSlot]);
    this.core.forwardTo(other.c[kSlot], this.c[kSlot]);
  }

  /**
   * A relay with onForward (handler mode): one frame on its way to the partner,
   * which the hook may let pass, drop or replace; copied once, into the partner's
   * tx ring. A frame that queues beyond that ring stops this side's delivery
   * (Delivery.delivers()) until the partner's queue is in its ring: backpressure, as in the core.
   * The hook may answer with a promise: it is awaited like onFrame's (this side's
   * next frame waits, the frame's view stays valid until it settles), and a
   * rejection is ERR_HANDLER. Returns what delivery awaits, if anything.
   */
  forward(frame: Uint8Array): void | PromiseLike<void> {
    const to = this.peer;
    if (to === this.c) return; // the partner is gone: this side is closing
    const out = this.c[kHandler].onForward!(frame, this.c, to);
    if (isPromise(out)) return (out as PromiseLike<unknown>).then(r => forwarded(frame, to, r));
    forwarded(frame, to, out);
  }

  /**
   * A hook failed on this side (ERR_HANDLER: a throw, a rejection, an answer
   * onForward does not understand): the relay's hooks serve the pair, so its
   * partner closes with ERR_HANDLER too, reported and counted as its own, after
   * what it already has to send, rather than normally once this side is gone.
   */
  failed(err: RingwireError): void {
    const o = this.other;
    if (o !== null) o.c[kFail](ringwireError(E_HANDLER, `its relay partner's handler failed: ${err.message}`, err));
  }

  /**
   * Closing side of a relay (its slot is going back): the partner stops forwarding
   * here (before this slot is reused) and closes after its frames; `error` closed
   * this side, which had `connected` or not.
   */
  unpair(connected: boolean, error: RingwireError | undefined): void {
    const o = this.other;
    if (o === null) return;
    const p = o.c;
    this.peer = this.c;
    o.peer = p;
    this.other = o.other = null;
    if (!this.takesFrames) {
      this.core.forwardTo(p[kSlot], p[kSlot]);
      this.core.forwardTo(this.c[kSlot], this.c[kSlot]);
    }
    if (!connected && error) {
      // The other side never connected: the partner learns why.
      p[kFail](ringwireError(E_SOCKET, `its relay partner could not connect: ${error.message}`));
    } else {
      p.close();
    }
  }
}
