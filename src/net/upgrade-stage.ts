// The WebSocket handshake as a stage before framing (preamble.ts has the PROXY
// header's): after the PROXY header and TLS, before the first core call. A server's
// stage reads the client's upgrade request; a client's sends its own request and
// reads the server's 101. Either removes itself once done (the connection drops it),
// and the bytes that followed the head in the same read are the first frames.
//
// Invariants: at most `limit` bytes of head are kept (a longer one is a 431 and
// ERR_UPGRADE); `since` is the deadline's clock for the endpoint's sweep (0 until the
// stage starts); `deciding` is true while onUpgrade's promise is out, when the
// connection reads nothing more (the bytes after the request wait, copied, as its
// leftover) until the answer is written.

import { E_UPGRADE, E_UPGRADE_TIMEOUT, ringwireError, type RingwireError } from '../core/errors.ts';
import { checkResponse, clientRequest, HeadReader, HttpRefusal, parseRequest, refusalResponse, type UpgradeRequest, type UpgradeTarget } from './websocket-handshake.ts';

/** What an endpoint tells its connections about the handshake. */
export interface UpgradeSettings {
  /** Bytes the head may take (maxUpgradeBytes). */
  readonly limit: number;
  /** ms from the stage's start to the 101 (upgradeTimeout; 0: none). */
  readonly timeout: number;
  /** ms close(code, reason) waits for the peer's close frame before our FIN (closeTimeout; WebSocketSession). */
  readonly closeTimeout: number;
  /** A client's request: what it asks for (its host filled in). Absent on a server. */
  readonly target?: UpgradeTarget & { host: string };
}

/** The server's stage: the client's request, checked (websocket-handshake.ts). */
export class UpgradeStage {
  /** Waiting since this time (clock(): performance.now() in whole ms); 0: not started. */
  since = 0;
  /** onUpgrade's promise is out: nothing more is read until it settles. */
  deciding = false;
  readonly timeout: number;
  private readonly head: HeadReader;

  constructor(settings: UpgradeSettings) {
    this.head = new HeadReader(settings.limit);
    this.timeout = settings.timeout;
  }

  get received(): number {
    return this.head.received;
  }

  /**
   * The next bytes read: the request, its key and what followed it once the head is
   * whole, null while it is not. Throws an HttpRefusal (answer it, then ERR_UPGRADE).
   */
  take(bytes: Uint8Array): { request: UpgradeRequest; key: string; rest: Uint8Array } | null {
    const used = this.head.push(bytes);
    if (used < 0) return null;
    return { ...parseRequest(this.head.lines()), rest: bytes.subarray(used) };
  }

  /** The deadline passed: the 408 to answer and the error that closes. */
  expired(ms: number): { response: Buffer; error: RingwireError } {
    const message = `no whole WebSocket upgrade ${Math.round(ms)} ms after the connection (upgradeTimeout ${this.timeout} ms)`;
    return { response: refusalResponse(new HttpRefusal(408, message)), error: ringwireError(E_UPGRADE_TIMEOUT, message) };
  }

  /** The peer ended before its request was whole: ERR_UPGRADE, or nothing if it sent no byte (it just went away). */
  cutShort(): RingwireError | null {
    return this.received === 0 ? null : ringwireError(E_UPGRADE, `the peer closed after ${this.received} bytes of its upgrade request`);
  }
}

/** The client's stage: its request (sent at start), then the server's 101, checked. */
export class UpgradeClientStage {
  since = 0;
  readonly timeout: number;
  private readonly head: HeadReader;
  private readonly target: UpgradeTarget & { host: string };
  private key = '';

  constructor(settings: UpgradeSettings) {
    this.head = new HeadReader(settings.limit);
    this.timeout = settings.timeout;
    this.target = settings.target!;
  }

  get received(): number {
    return this.head.received;
  }

  /** The request to send now. */
  request(): Buffer {
    const { bytes, key } = clientRequest(this.target);
    this.key = key;
    return bytes;
  }

  /** The server's answer: the subprotocol it chose and what followed its head, null while incomplete. Throws ERR_UPGRADE. */
  take(bytes: Uint8Array): { protocol: string | undefined; rest: Uint8Array } | null {
    let used: number;
    try {
      used = this.head.push(bytes);
      if (used < 0) return null;
      const { protocol } = checkResponse(this.head.lines(), this.key, this.target.protocols ?? []);
      return { protocol, rest: bytes.subarray(used) };
    } catch (err) {
      throw ringwireError(E_UPGRADE, `WebSocket handshake failed: ${(err as Error).message}`);
    }
  }

  expired(ms: number): { response: null; error: RingwireError } {
    return { response: null, error: ringwireError(E_UPGRADE_TIMEOUT, `no 101 from the server ${Math.round(ms)} ms after connecting (upgradeTimeout ${this.timeout} ms)`) };
  }

  cutShort(): RingwireError {
    return ringwireError(E_UPGRADE, `the server closed after ${this.received} bytes of its answer to the upgrade`);
  }
}
