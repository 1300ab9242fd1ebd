// A WebSocket connection's own state and rules above its frames (RFC 6455 sections
// 5.5 and 7), made when its endpoint expects an upgrade (websocket framing only: a
// connection of another framing has none, and pays one null field). Before the
// upgrade it holds the endpoint's settings, then the request and the subprotocol;
// once upgraded (`upgraded`) it answers what the peer sends. The core
// decodes, unmasks and checks every frame and lists control frames beside whole
// messages (Core.frameKind); this part answers them, and owns the close handshake:
//
//   peer's ping          a pong with its payload, at once (also after our close frame:
//                        only data frames may not follow it; not after the peer's close)
//   peer's pong          nothing (an answer to ping(), or unsolicited: both allowed)
//   peer's close         recorded (peerCode, peerReason), answered with a close that
//                        echoes its code unless ours is out already, then our FIN
//   close(code, reason)  our close frame after every reply already sent (in the
//                        current frame's place while a handler's window holds it),
//                        then the peer's is awaited (messages that come meanwhile are
//                        dropped) for closeTimeout (the endpoint's), then our FIN
//   an error, the drain  our close frame with the error's code (websocketCloseCode:
//                        1002, 1007, 1009, 1011) or 1001, then our FIN at once
//                        (failing the connection, 7.1.7: nothing more is awaited)
// Invariants: at most one close frame goes out (closeSent: no send() is taken once
// close() was called), and after it no data frame (Writer.takesData()); nothing is
// awaited from a peer that already sent its FIN.

import { WS_CLOSE, WS_PING, WS_PONG } from '../core/core.ts';
import { closePayload, readClose } from '../core/websocket-close.ts';
import { kCloseFrame } from './internals.ts';
import type { UpgradeSettings } from './upgrade-stage.ts';
import type { UpgradeRequest } from './websocket-handshake.ts';
import type { Writer } from './writer.ts';

/** What the session asks of its connection. */
export interface SessionOwner {
  /** Close gracefully now (our FIN once every reply is out). */
  close(): void;
  /** Our close frame after every reply already sent: in the current frame's place while a handler's window holds its replies, else now. */
  [kCloseFrame](payload: Uint8Array): void;
}

export class WebSocketSession {
  /** The endpoint's settings for the upgrade (its limit and deadline; a client's target). */
  readonly settings: UpgradeSettings;
  /** A server's connection: the request it opened with, once read (before onUpgrade). */
  request: UpgradeRequest | undefined;
  /** The subprotocol the handshake chose, if any. */
  protocol: string | undefined;
  /** The handshake is done (the 101 written or read): frames flow, and this session answers them. */
  upgraded = false;
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

  constructor(settings: UpgradeSettings, owner: SessionOwner, out: Writer) {
    this.settings = settings;
    this.owner = owner;
    this.out = out;
  }

  /** A control frame from the peer: answered here. */
  control(kind: number, payload: Uint8Array): void {
    if (kind === WS_PING) {
      // Answered until the peer's close came (RFC 6455 5.5.2; 5.5.1 forbids only data frames after ours).
      if (this.peerCode === undefined) this.out.put(payload, WS_PONG);
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
    if (!this.upgraded || this.peerCode !== undefined || this.waitOver) return false;
    if (this.closeSent) return true;
    this.closeSent = true;
    this.owner[kCloseFrame](closePayload(code, reason));
    this.waitTimer = setTimeout(() => {
      this.waitOver = true;
      this.owner.close();
    }, this.settings.closeTimeout);
    this.waitTimer.unref();
    return true;
  }

  /**
   * The connection closes without waiting (an error, the drain, a close after the
   * wait): our close frame if none went out yet and the peer can still read it.
   * `code`: the error's (websocketCloseCode), 1001 for the drain, 1000 otherwise.
   */
  ending(code: number, peerEnded: boolean): void {
    clearTimeout(this.waitTimer);
    if (this.upgraded && !this.closeSent && !peerEnded) this.send(closePayload(code));
  }

  /** The connection is gone (destroyed, a socket error, closed): nothing more is awaited. */
  dispose(): void {
    clearTimeout(this.waitTimer);
  }

  /** Our close frame now, even after an error closed the connection (Writer.put's `closing`). */
  private send(payload: Uint8Array): void {
    this.closeSent = true;
    this.out.put(payload, WS_CLOSE, true);
  }
}
