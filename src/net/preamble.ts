// What a connection reads before framing begins: a PROXY protocol header from a
// load balancer, then (when the endpoint has TLS) the TLS handshake over the same
// TCP handle. A stage in front of the core that removes itself once done (Netty's
// pipeline): while a connection has one, its reads go here and the core never sees
// a header byte.
//
// Invariants: `since` is the header deadline's clock for the endpoint's sweep (0
// until the socket is connected); a header that is garbled or too long throws
// ERR_PROXY_HEADER from take(); the bytes that followed the header in the same read
// are handed back, to be framed as usual (or to TLS).

import type net from 'node:net';
import type { TLSSocket } from 'node:tls';
import { ProxyHeaderParser, type ProxyHeader, type ProxyProtocol } from './proxy-header.ts';

export class Preamble {
  /** Waiting for the header since this time (performance.now()); 0: the socket is not connected yet. */
  since = 0;
  private readonly parser: ProxyHeaderParser;

  constructor(accepts: ProxyProtocol) {
    this.parser = new ProxyHeaderParser(accepts);
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
