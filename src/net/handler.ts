// The application's side of the contract: the hooks an endpoint calls, with the
// same names wherever a handler is given (createServer options, a handler
// module's exports, serveInWorker). Every hook is optional; without onFrame,
// onConnection and onForward the echo (or a relay's forwarding) runs inside the core.
//
// The rules the hooks can rely on (enforced in connection.ts and its parts: delivery.ts, writer.ts, relay-link.ts):
//   - onOpen first, onClose last and exactly once, for every connection that opened.
//   - Frames of one connection arrive strictly in order; the next one only after
//     the previous onFrame returned, or after its promise settled. With the
//     endpoint's `concurrency` N > 1, up to N of onFrame's promises may be pending
//     at once (delivery-window.ts); replies still leave in frame order: onFrame's
//     third argument, `reply`, sends in its frame's place from anywhere; a
//     connection.send() made in a frame's handler goes in that frame's place
//     before its first await, and after it too unless onFrame declares `reply`
//     (then no async context is kept for it); one made outside any frame of the
//     connection goes out at once.
//   - A frame is a view of the connection's rx ring: valid until onFrame returns
//     or its promise settles (its own, whatever the frames after it do). Keep it
//     longer with frame.slice().
//   - A throw or rejection of frame k closes the connection after the replies of
//     the frames before k; replies of frames after k are dropped.
//   - Every hook may return a promise. onOpen's, onFrame's and onForward's are
//     awaited: the connection's next frame waits until it settles. A throw or a rejection of
//     any hook closes that connection only, with ERR_HANDLER (onClose's: the
//     connection is gone, the error is reported and counted); on a relay, that
//     connection and its partner, each with ERR_HANDLER (relay-link.ts).
//   - onStart and onStop are the thread's, not a connection's (lifecycle.ts): onStart
//     once per thread before it accepts (its throw fails the start with
//     ERR_BAD_CONFIG), onStop once per thread after its drain, within drainTimeout.
//   - onForward answers nothing or true (forward), false (drop) or bytes
//     (replace), or a promise of one; anything else is ERR_HANDLER, never a
//     silent forward.

import type { RingwireError } from '../core/errors.ts';
import type { Connection } from './connection.ts';
import type { FrameReply } from './delivery-window.ts';
import type { AskContext } from './asks.ts';
import type { LifecycleContext } from './lifecycle.ts';
import type { UpgradeAnswer, UpgradeRequest } from './websocket-handshake.ts';

export interface Handler<Data = any> {
  /**
   * A connection opened: set connection.data here. A returned promise is awaited
   * like onFrame's: the connection's frames wait for it (the echo does not); its
   * rejection closes the connection with ERR_HANDLER.
   */
  onOpen?(connection: Connection<Data>): void | PromiseLike<void>;
  /**
   * One whole frame. Return a promise to hold the connection's next frame until it
   * settles (with concurrency N: its N-th next). `reply.send()` sends in this frame's
   * place from anywhere (with concurrency 1 it is the connection's send()). Declaring
   * `reply` says the handler sends through it after its awaits, so with concurrency
   * N > 1 no async context is kept per frame for connection.send() (docs/embedding.md).
   * websocket framing: the frame is a whole message (its fragments joined, unmasked),
   * and `text` says whether it is a text message (UTF-8, checked by the core) or a
   * binary one; control frames never come here (docs/websocket.md).
   */
  onFrame?(frame: Uint8Array, connection: Connection<Data>, reply: FrameReply, text?: boolean): void | PromiseLike<void>;
  /**
   * websocket framing, a server: a client asks to open a WebSocket (its request is
   * valid, RFC 6455 4.2.1). Answer nothing or true to accept, false to refuse (403),
   * { status, body?, headers? } to refuse with that status (400-599), or
   * { protocol?, headers? } to accept with a subprotocol the client offered and
   * extra headers; or a promise of one, awaited (reading waits) within upgradeTimeout.
   * A throw, a rejection or any other answer is ERR_HANDLER (the client gets a 500).
   * Before onOpen: the connection is not open yet (send() waits for the 101).
   */
  onUpgrade?(request: UpgradeRequest, connection: Connection<Data>): UpgradeAnswer | PromiseLike<UpgradeAnswer>;
  /** send() returned false earlier and everything queued is now in the tx ring: send more. */
  onDrain?(connection: Connection<Data>): void | PromiseLike<void>;
  /** The connection closed (error: what closed it, if anything did). Exactly once per onOpen. A rejection is reported (ERR_HANDLER). */
  onClose?(connection: Connection<Data>, error?: RingwireError): void | PromiseLike<void>;
  /**
   * A task per connection, instead of onFrame: `for await (const frame of connection)`.
   * Each frame is valid until the loop asks for the next one; a loop that stops
   * pulling pauses reading. When the task returns, the connection is closed
   * (gracefully); when it throws, it is closed with ERR_HANDLER.
   */
  onConnection?(connection: Connection<Data>): void | PromiseLike<void>;
  /**
   * A relay's inspecting hook (with upstream, instead of onFrame): each whole frame
   * on its way from one side to the other. Return nothing (or true) to forward
   * it as it is, false to drop it, or other bytes to forward instead; or a promise
   * of one of these, awaited in order like onFrame's. Any other value, a throw or
   * a rejection closes `from` and its partner, each with ERR_HANDLER. The frame is
   * a view, valid until the hook returns or its promise settles; forwarding copies
   * it once, into `to`'s tx ring. Without it, frames are forwarded inside the core
   * (Core.forwardTo), cut through as their bytes arrive: a hook needs whole frames.
   */
  onForward?(frame: Uint8Array, from: Connection<Data>, to: Connection<Data>): ForwardResult | PromiseLike<ForwardResult>;
  /**
   * An ask (router.ask) for a key this thread owns, from any thread of the server:
   * answer bytes, or a promise of them. The request is valid until the hook returns
   * or its promise settles. A throw or a rejection is the asker's ERR_ASK_FAILED.
   */
  onAsk?(request: Uint8Array, context: AskContext): Uint8Array | PromiseLike<Uint8Array>;
  /**
   * Once per thread, before it accepts its first connection: open what the
   * thread's handlers share (a database, a channel), from context.options. A
   * throw or a rejection fails listen() (and ringwire serve) with ERR_BAD_CONFIG
   * naming the module and the thread.
   */
  onStart?(context: LifecycleContext): void | PromiseLike<void>;
  /**
   * Once per thread, after its drain (every connection closed): close what
   * onStart opened. Given drainTimeout ms; one that overruns them is reported
   * (ERR_DRAIN_TIMEOUT) and no longer awaited (a worker thread is terminated).
   */
  onStop?(context: LifecycleContext): void | PromiseLike<void>;
}

/** What onForward answers: forward (nothing, true), drop (false), or replace (bytes). */
export type ForwardResult = boolean | Uint8Array | void;

/** The hooks an endpoint or a client takes: a connection's events, and the answers to the thread's asks. */
export const CONNECTION_HOOKS = ['onOpen', 'onUpgrade', 'onFrame', 'onDrain', 'onClose', 'onConnection', 'onForward', 'onAsk'] as const;
/** The hook names a handler module may export: the connection's, and the thread's (onStart, onStop: a server's). */
export const HOOKS = [...CONNECTION_HOOKS, 'onStart', 'onStop'] as const;

/** The connection hooks of a handler, without the thread's: an endpoint's and a client's options. */
export type ConnectionHooks<Data = any> = Omit<Handler<Data>, 'onStart' | 'onStop'>;

/** Does this handler take frames (handler mode), or does the core echo them? */
export function takesFrames(handler: Handler): boolean {
  return typeof handler.onFrame === 'function' || typeof handler.onConnection === 'function' || typeof handler.onForward === 'function';
}

/** Did a hook answer with a promise (anything with a then())? */
export const isPromise = (r: unknown): r is PromiseLike<void> => typeof (r as PromiseLike<void> | undefined)?.then === 'function';

/** A value's kind for a message: its class for an object, else its type. */
export function kindOf(value: unknown): string {
  if (value === null) return 'null';
  return typeof value === 'object' ? (value as object).constructor?.name ?? 'an object' : typeof value;
}
