// A WebSocket connection's rules above its frames (RFC 6455 sections 5.5 and 7),
// made when the upgrade opens the connection (websocket framing only). The core
// decodes, unmasks and checks every frame and lists control frames beside whole
// messages (Core.frameKind); this part answers them, and owns the close handshake:
//
//   peer's ping          a pong with its payload, at once (not while we are closing)
//   peer's pong          nothing (an answer to ping(), or unsolicited: both allowed)
//   peer's close         recorded (peerCode, peerReason), answered with a close that
//                        echoes its code unless ours is out already, then our FIN
//   close(code, reason)  our close frame, then the peer's is awaited (messages that
//                        come meanwhile are dropped) for CLOSE_WAIT_MS, then our FIN
//   an error, the drain  our close frame with the error's code (1002, 1007, 1009,
//                        1011) or 1001, then our FIN at once (failing the connection,
//                        7.1.7: nothing more is awaited)
// Invariants: at most one close frame goes out (closeSent), and after it no data
// frame; nothing is awaited from a peer that already sent its FIN.

import { E_FRAME_TOO_LARGE, E_WEBSOCKET_PROTOCOL, E_WEBSOCKET_UTF8, type RingwireError } from '../core/errors.ts';
import { WS_CLOSE, WS_CONTROL_MAX, WS_PING, WS_PONG } from '../core/core.ts';
import type { Writer } from './writer.ts';

/** How long close(code, reason) waits for the peer's close frame before our FIN. */
export const CLOSE_WAIT_MS = 5000;

/** Close codes an application may send (RFC 6455 7.4.1, 7.4.2): 1000, 1001, 1003, 1007-1011, and 3000-4999 (registered and private). */
export function sendableCode(code: number): boolean {
  return Number.isInteger(code) && (code === 1000 || code === 1001 || code === 1003 || (code >= 1007 && code <= 1011) || (code >= 3000 && code <= 4999));
}

/** The close code for an error that closes a WebSocket: the RFC's for the core's frame errors, else 1011 (an unexpected condition). */
export function closeCodeFor(err: RingwireError): number {
  if (err.number === E_WEBSOCKET_PROTOCOL) return 1002;
  if (err.number === E_WEBSOCKET_UTF8) return 1007;
  if (err.number === E_FRAME_TOO_LARGE) return 1009;
  return 1011;
}

const utf8 = new TextEncoder();
const decoder = new TextDecoder('utf-8');

/** A close frame's payload: the code (u16 big-endian) and the reason in UTF-8, at most WS_CONTROL_MAX bytes (a TypeError past it). */
export function closePayload(code: number, reason = ''): Uint8Array {
  const text = utf8.encode(reason);
  if (2 + text.length > WS_CONTROL_MAX) throw new TypeError(`a close reason takes at most ${WS_CONTROL_MAX - 2} bytes of UTF-8, got ${text.length}`);
  const p = new Uint8Array(2 + text.length);
  p[0] = code >>> 8;
  p[1] = code & 0xff;
  p.set(text, 2);
  return p;
}

/** The peer's close frame, as the core checked it: its code (1005: it named none) and reason. */
export function readClose(payload: Uint8Array): { code: number; reason: string } {
  if (payload.length < 2) return { code: 1005, reason: '' };
  return { code: (payload[0]! << 8) | payload[1]!, reason: decoder.decode(payload.subarray(2)) };
}

/** What the session asks of its connection. */
export interface SessionOwner {
  /** Close gracefully now (our FIN once every reply is out). */
  close(): void;
}

export class WebSocketSession {
  /** Our close frame is out: no data frame follows it, and messages from the peer are dropped. */
  closeSent = false;
  /** The peer's close frame: its code (1005: none named), undefined until it comes. */
  peerCode: number | undefined;
  /** The peer's close reason ('' when none). */
  peerReason = '';
  private waitTimer: NodeJS.Timeout | undefined;
  private waitOver = false;
  private readonly owner: SessionOwner;
  private readonly out: Writer;

  constructor(owner: SessionOwner, out: Writer) {
    this.owner = owner;
    this.out = out;
  }

  /** A control frame from the peer: answered here. */
  control(kind: number, payload: Uint8Array): void {
    if (kind === WS_PING) {
      if (!this.closeSent) this.out.put(payload, WS_PONG);
    } else if (kind === WS_CLOSE && this.peerCode === undefined) {
      const { code, reason } = readClose(payload);
      this.peerCode = code;
      this.peerReason = reason;
      // An echo of its code (1005 names no code: an empty close answers it).
      if (!this.closeSent) this.send(code === 1005 ? new Uint8Array(0) : closePayload(code));
      clearTimeout(this.waitTimer);
      this.owner.close();
    }
  }

  /**
   * close(code, reason) on the open connection: our close frame (once), then wait
   * for the peer's. True while waiting; false when the connection should close now
   * (the peer's close came, or the wait is over).
   */
  closing(code: number, reason: string | undefined): boolean {
    if (this.peerCode !== undefined || this.waitOver) return false;
    if (this.closeSent) return true;
    this.send(closePayload(code, reason));
    this.waitTimer = setTimeout(() => {
      this.waitOver = true;
      this.owner.close();
    }, CLOSE_WAIT_MS);
    this.waitTimer.unref();
    return true;
  }

  /**
   * The connection closes without waiting (an error, the drain, a close after the
   * wait): our close frame if none went out yet and the peer can still read it.
   * `code`: the error's (closeCodeFor), 1001 for the drain, 1000 otherwise.
   */
  ending(code: number, peerEnded: boolean): void {
    clearTimeout(this.waitTimer);
    if (!this.closeSent && !peerEnded) this.send(closePayload(code));
  }

  /** Our close frame, even after an error closed the connection (Writer.put's `closing`). */
  private send(payload: Uint8Array): void {
    this.closeSent = true;
    this.out.put(payload, WS_CLOSE, true);
  }
}
