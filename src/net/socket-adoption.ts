// One of the two places that reach into Node internals (direct-write.ts, the
// write side, is the other). Node offers `onread` (read
// straight into a buffer we choose) only for sockets it creates for net.connect;
// `net.createServer({ onread })` is silently ignored. So an accepted socket,
// paused on connect, gives up its libuv handle to a new net.Socket built with
// `onread`. Private fields involved:
//   - `socket._handle` and its `useUserBuffer()`, which installs the buffer libuv
//     reads into: feature-detected by canAdopt(); where it is missing, the endpoint
//     takes the copying path ('data' events) with a warning;
//   - `socket._server`/`socket.server`: read from the accepted socket (null for one
//     transferred from another thread: the server given is used) and written on the
//     adopted one, so server.close() counts it as a connection. Not detected: there is
//     nothing to test before adopting. A Node that stopped counting through them would
//     leave server.close() waiting forever, which every server suite, closing its
//     server, would show on each Node the matrix runs.
// A second use of useUserBuffer(): after reading was paused, Node still holds the
// buffer it was given after the last read, which may be stale or empty, so resuming
// installs a fresh span (rearm).
// Checked on Node 22.12+, 24 and 26 (see docs/node-facts.md); test/adoption.test.ts
// runs both paths on whatever Node runs the suite.

import net from 'node:net';

interface Handle {
  useUserBuffer?: (buf: Uint8Array) => void;
}
interface SocketInternals {
  _handle: Handle | null;
  _server: net.Server | null;
  server: net.Server | null;
}

export interface ReadTarget {
  /** The span libuv reads into next. Never empty. */
  buffer: () => Uint8Array;
  /** n bytes arrived in the last span; return false to pause reading. */
  callback: (n: number, buf: Uint8Array) => boolean;
}

/** Can this accepted (and paused) socket be adopted? */
export function canAdopt(raw: net.Socket): boolean {
  const handle = (raw as unknown as SocketInternals)._handle;
  return !!handle && typeof handle.useUserBuffer === 'function';
}

/** A new socket over raw's handle that reads into target's spans. raw must not be used again. */
export function adopt(raw: net.Socket, server: net.Server | null, target: ReadTarget): net.Socket {
  const internals = raw as unknown as SocketInternals;
  const handle = internals._handle;
  internals._handle = null;
  const socket = new net.Socket({
    handle,
    readable: true,
    writable: true,
    allowHalfOpen: true,
    onread: target,
  } as net.SocketConstructorOpts);
  // The server that accepted it counted it (one of several listening on the port), else the one given.
  const owner = internals._server ?? server;
  const adopted = socket as unknown as SocketInternals;
  adopted._server = owner;
  adopted.server = owner;
  return socket;
}

/** Install the span the next read goes into (before socket.resume()). */
export function rearm(socket: net.Socket, buf: Uint8Array): void {
  (socket as unknown as SocketInternals)._handle?.useUserBuffer?.(buf);
}
