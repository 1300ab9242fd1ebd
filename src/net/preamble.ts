// What a connection reads before framing begins, in this order: a PROXY protocol
// header from a load balancer, then (when the endpoint has TLS) the TLS handshake
// over the same TCP handle, then (websocket framing) the HTTP upgrade
// (upgrade-stage.ts). Each is a stage in front of the core that removes itself once
// done (Netty's pipeline): while a connection has one, its reads go there and the
// core never sees a header byte.
//
// Invariants: a stage's `since` is its deadline's clock for the endpoint's sweep (0
// until the socket is connected) and `timeout` its limit (0: none); a header that is
// garbled or too long throws ERR_PROXY_HEADER from take(); the bytes that followed
// the header in the same read are handed back, to be framed as usual (or to TLS, or
// to the upgrade).

import type net from 'node:net';
import type { TLSSocket } from 'node:tls';
import { E_PROXY_HEADER, E_PROXY_TIMEOUT, ringwireError, type RingwireError } from '../core/errors.ts';
import { ProxyHeaderParser, type ProxyHeader, type ProxyProtocol } from './proxy-header.ts';
import type { UpgradeClientStage, UpgradeStage } from './upgrade-stage.ts';

/** The stage a connection is in before framing, if any. */
export type Stage = ProxyStage | UpgradeStage | UpgradeClientStage;

export class ProxyStage {
  /** Waiting for the header since this time (clock(): performance.now() in whole ms); 0: the socket is not connected yet. */
  since = 0;
  /** proxyTimeout (0: none). */
  readonly timeout: number;
  private readonly parser: ProxyHeaderParser;

  constructor(accepts: ProxyProtocol, timeout: number) {
    this.parser = new ProxyHeaderParser(accepts);
    this.timeout = timeout;
  }

  /** Header bytes received so far (a balancer's health check resets before the first one). */
  get received(): number {
    return this.parser.received;
  }

  /**
   * The next bytes read: the header and what followed it once it is whole, null
   * while it is not. Throws the ERR_PROXY_HEADER that closes the connection.
   */
  take(bytes: Uint8Array): { header: ProxyHeader; rest: Uint8Array } | null {
    const used = this.parser.push(bytes);
    return used < 0 ? null : { header: this.parser.header!, rest: bytes.subarray(used) };
  }

  /** The deadline passed: nothing to answer (a balancer speaks no HTTP), the error that closes. */
  expired(ms: number): { response: null; error: RingwireError } {
    return { response: null, error: ringwireError(E_PROXY_TIMEOUT, `no whole PROXY header ${Math.round(ms)} ms after the connection (proxyTimeout ${this.timeout} ms)`) };
  }

  /** The peer ended mid-header: ERR_PROXY_HEADER; before any byte it is a balancer's health check, not an error. */
  cutShort(): RingwireError | null {
    return this.received === 0 ? null : ringwireError(E_PROXY_HEADER, `bad PROXY protocol header: the peer closed after ${this.received} bytes of it`);
  }
}

/**
 * TLS after the header: the raw socket (copying path) stops feeding the connection
 * (the caller took its listeners off), gets back what followed the header (a
 * TLSSocket built over a socket with buffered bytes hands them to OpenSSL first),
 * and is wrapped. `rest` is copied: it may be a view of a buffer Node reuses.
 */
export function wrapAfterHeader(raw: net.Socket, rest: Uint8Array, wrap: (raw: net.Socket) => TLSSocket): TLSSocket {
  raw.pause();
  if (rest.length > 0) raw.unshift(Buffer.from(rest));
  return wrap(raw);
}
