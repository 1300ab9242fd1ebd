// What kind of frame a payload goes out as. Every framing but websocket has one
// kind; a WebSocket frame has an opcode (the core's WS_* kinds: binary, the
// default, text, ping, pong, close). A reply of another kind than binary keeps its
// kind beside it while it waits, in the tx queue or in its frame's place in the
// delivery window, as a Kinded; a plain payload waits as itself, so the other
// framings (and binary messages) pay nothing for it.

import { WS_BINARY, WS_TEXT } from '../core/core.ts';

/** What send() takes besides the bytes. */
export interface SendOptions {
  /** websocket framing: send a text message (the payload must be UTF-8; it is not checked) rather than a binary one. Other framings ignore it. */
  text?: boolean;
}

/** A waiting payload of another kind than the default (WS_BINARY). */
class Kinded {
  readonly bytes: Uint8Array;
  readonly kind: number;
  constructor(bytes: Uint8Array, kind: number) {
    this.bytes = bytes;
    this.kind = kind;
  }
}

/** A payload as it waits: itself, or with its kind. */
export type Waiting = Uint8Array | Kinded;

/** Wrap a copy to wait with its kind (only when it is not the default). */
export const waiting = (copy: Uint8Array, kind: number): Waiting => (kind === WS_BINARY ? copy : new Kinded(copy, kind));

/** The bytes of a waiting payload. */
export const waitingBytes = (w: Waiting): Uint8Array => (w instanceof Kinded ? w.bytes : w);

/** Its kind. */
export const waitingKind = (w: Waiting): number => (w instanceof Kinded ? w.kind : WS_BINARY);

/** The kind send() options ask for. */
export const sendKind = (options: SendOptions | undefined): number => (options?.text === true ? WS_TEXT : WS_BINARY);
