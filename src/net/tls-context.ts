// TLS for an endpoint: what wraps a socket in TLS at connection start, checks the
// handshake's outcome, and describes a secure connection to its handlers.
//
// Server side: one secure context per endpoint (so per thread), built once at
// start() from the options (cert, key, ca… are handed to tls.createSecureContext
// as they are). Each accepted socket is wrapped, before its first read, in a
// server-side tls.TLSSocket over the same TCP handle, with pauseOnConnect so no
// decrypted byte moves until the connection opens. The connection opens (onOpen)
// only once the handshake is done and, with requestCert, the client's certificate
// has been checked as tls.Server checks it (a standalone TLSSocket does not: see
// peerVerifyError). Decrypted bytes go into the rx ring through the onread target
// the endpoint installs once the handshake is done (socket-adoption.ts readInto():
// Node copies each decrypted record into the span), or, behind a PROXY header or on
// a Node without the fields it needs, take the copying path ('data' chunks copied
// into the ring). docs/tls.md says what this costs and what a zero-copy read would need.
//
// Client side: tls.connect with the same options (servername from the host unless
// it is an address), paused until it opens, so the first reply cannot reach the
// handler before onOpen.
//
// The handshake deadline is not here: the endpoint's sweep checks it, like every
// other deadline (endpoint.ts). Errors before the connection opens are ERR_TLS, and
// so is a record that fails after it (onRecordFailure: the connection closes at once).

import type net from 'node:net';
import tls from 'node:tls';
import { configError, E_TLS, ringwireError, type RingwireError } from '../core/errors.ts';
import type { Destination } from './unix-socket.ts';

/** A server's TLS: anything tls.createServer takes (cert, key, ca, requestCert, ALPNProtocols, ciphers…), and the handshake deadline. */
export interface TlsServerOptions extends tls.TlsOptions {
  /** Close a connection whose handshake has not finished after this many ms with ERR_TLS (E_TLS_TIMEOUT). Default 10000; 0 = never. */
  handshakeTimeout?: number;
}

/** A client's TLS: anything tls.connect takes but where to connect (ca, cert, key, servername, rejectUnauthorized, ALPNProtocols…), and the handshake deadline. */
export interface TlsClientOptions extends Omit<tls.ConnectionOptions, 'host' | 'port' | 'path' | 'socket' | 'onread' | 'timeout'> {
  /** As for the server; the TCP connect has its own connectTimeout. Default 10000; 0 = never. */
  handshakeTimeout?: number;
}

/** What a handler sees of a secure connection (connection.tls), read once the handshake is done. */
export interface TlsInfo {
  /** The negotiated protocol version: 'TLSv1.3', 'TLSv1.2'… */
  readonly protocol: string | null;
  /** The negotiated cipher's standard name, e.g. TLS_AES_256_GCM_SHA384. */
  readonly cipher: string;
  /** The ALPN protocol both sides chose, or false. */
  readonly alpnProtocol: string | false | null;
  /** The name the client asked for (SNI), if any. */
  readonly servername: string | false | null;
  /** The peer's certificate was verified against the CAs (always false for a server without requestCert). */
  readonly authorized: boolean;
  /** Why it was not, when a certificate was asked for or checked. */
  readonly authorizationError: string | null;
  /** The TLS socket itself: getPeerX509Certificate(), exportKeyingMaterial()… */
  readonly socket: tls.TLSSocket;
}

/** Ten seconds: a handshake takes a round trip or two; Node's own 120 s lets idle half-handshakes hold slots for long. */
export const DEFAULT_HANDSHAKE_TIMEOUT = 10_000;

type Verifiable = tls.TLSSocket & { ssl?: { verifyError?: () => Error | null } };

export class TlsContext {
  readonly handshakeTimeout: number;
  private readonly context: tls.SecureContext;
  private readonly options: TlsServerOptions;

  constructor(options: TlsServerOptions) {
    const { handshakeTimeout = DEFAULT_HANDSHAKE_TIMEOUT, ...tlsOptions } = options; // checked with the other options (checkTls)
    if (!tlsOptions.pfx && (!tlsOptions.cert || !tlsOptions.key) && !tlsOptions.SNICallback && !tlsOptions.pskCallback) {
      throw configError('tls needs a certificate and its key: give tls.cert and tls.key (PEM), or tls.pfx');
    }
    try {
      this.context = tls.createSecureContext(tlsOptions);
    } catch (err) {
      throw configError(`tls: ${(err as Error).message}`);
    }
    this.handshakeTimeout = handshakeTimeout;
    this.options = tlsOptions;
  }

  /** Wrap an accepted socket that has not started reading: the handshake starts on the next tick. */
  wrap(raw: net.Socket): tls.TLSSocket {
    const o = this.options;
    return new tls.TLSSocket(raw, {
      isServer: true,
      secureContext: this.context,
      requestCert: o.requestCert ?? false,
      rejectUnauthorized: o.rejectUnauthorized ?? true,
      ALPNProtocols: o.ALPNProtocols,
      ALPNCallback: o.ALPNCallback,
      SNICallback: o.SNICallback,
      pskCallback: o.pskCallback,
      pskIdentityHint: o.pskIdentityHint,
      enableTrace: o.enableTrace,
      pauseOnConnect: true,
    } as tls.TLSSocketOptions);
  }

  /**
   * The server side's handshake is done: check the client's certificate as
   * tls.Server does (its 'secure' listener, which a standalone TLSSocket lacks):
   * with requestCert, record why it is not trusted in authorizationError, and
   * return the reason to refuse it when rejectUnauthorized (the default) holds.
   */
  refusal(socket: tls.TLSSocket): string | null {
    const o = this.options;
    if (!o.requestCert) return null;
    const verify = (socket as Verifiable).ssl?.verifyError;
    let reason: string | null;
    if (typeof verify !== 'function') reason = 'this Node offers no way to verify client certificates outside tls.Server';
    else {
      const err = verify.call((socket as Verifiable).ssl) as (Error & { code?: string }) | null;
      // No error but no certificate: TLS 1.3 resumption without one; tls.Server refuses it too.
      reason = err ? (err.code ?? err.message) : socket.getPeerX509Certificate() ? null : 'UNABLE_TO_GET_ISSUER_CERT';
    }
    const writable = socket as { authorized: boolean; authorizationError: string | Error | null };
    writable.authorized = reason === null;
    writable.authorizationError = reason;
    return reason !== null && (o.rejectUnauthorized ?? true) ? reason : null;
  }
}

/** Connect out with TLS (over TCP or a Unix socket): the socket is paused until the connection opens (start() resumes it). */
export function connectTls(to: Destination, options: TlsClientOptions, socket: net.NetConnectOpts): tls.TLSSocket {
  const { handshakeTimeout, ...tlsOptions } = options;
  const s = tls.connect({ ...socket, ...tlsOptions, ...to } as tls.ConnectionOptions);
  s.pause();
  return s;
}

/** The client's handshake deadline, in ms (0: none); checked with the other options (option-rules.ts checkTls). */
export function clientHandshakeTimeout(options: TlsClientOptions): number {
  return options.handshakeTimeout ?? DEFAULT_HANDSHAKE_TIMEOUT;
}

/** A socket error before the connection opened, as ERR_TLS (the handshake, the certificate, or a peer that is not TLS). */
export function tlsError(err: Error): RingwireError {
  // OpenSSL's errors carry a short `reason` ('wrong version number'); their message is a long multi-line dump.
  const { code, reason } = err as Error & { code?: string; reason?: string };
  const what = reason ?? err.message.trim();
  return ringwireError(E_TLS, `TLS handshake failed: ${what}${code && !what.includes(code) ? ` (${code})` : ''}`, err);
}

/**
 * After the handshake, a record that fails OpenSSL's checks (a bad MAC, a record
 * too long) gets an alert, but Node's server-side TLSSocket made outside tls.Server
 * reports it only through its internal '_tlsError' event and stays open (only
 * tls.Server and tls.connect release control, which adds an 'error' event, and even
 * that does not close the socket). So the endpoint hears of it here, on both sides,
 * and closes the connection at once with ERR_TLS. '_tlsError' is emitted before any
 * 'error', so this is the one report. test/tls.test.ts corrupts a record on every
 * Node the matrix runs: a Node that renamed the event would fail it there.
 */
export function onRecordFailure(socket: tls.TLSSocket, fail: (err: RingwireError) => void): void {
  socket.on('_tlsError', function onTlsError(err: Error) {
    // TLSSocket passes every 'error' through '_tlsError', its TCP socket's too: a reset
    // ('write ECONNRESET', with a syscall) is the socket's failure, reported by its
    // 'error' event as ERR_SOCKET; OpenSSL's carry none.
    if (typeof (err as NodeJS.ErrnoException).syscall === 'string') return;
    socket.off('_tlsError', onTlsError);
    const { code, reason } = err as Error & { code?: string; reason?: string };
    const what = reason ?? err.message.trim();
    fail(ringwireError(E_TLS, `TLS record refused after the handshake: ${what}${code && !what.includes(code) ? ` (${code})` : ''}`, err));
  });
}

/** A snapshot of the handshake's outcome for connection.tls. */
export function tlsInfo(socket: tls.TLSSocket): TlsInfo {
  const why = socket.authorizationError as unknown; // a code string in practice, typed as an Error
  return {
    protocol: socket.getProtocol(),
    cipher: socket.getCipher()?.standardName ?? '',
    alpnProtocol: socket.alpnProtocol,
    servername: (socket as { servername?: string | false | null }).servername ?? null,
    authorized: socket.authorized,
    authorizationError: why == null ? null : why instanceof Error ? why.message : String(why),
    socket,
  };
}
