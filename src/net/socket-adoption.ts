// One of the two places that reach into Node internals (direct-write.ts, the
// write side, is the other). Node offers `onread` (read
// straight into a buffer we choose) only for sockets it creates for net.connect;
// `net.createServer({ onread })` is silently ignored. So an accepted socket,
// paused on connect, gives up its libuv handle to a new net.Socket built with
// `onread`. Two private fields are involved:
//   - `socket._handle`, whose `useUserBuffer()` installs the buffer libuv reads into:
//     feature-detected (canAdopt); without it the server falls back to the copying
//     path ('data' events) with a warning;
//   - `socket._server`/`socket.server`, which server.close() needs to count the
//     adopted socket as a connection: not detected, only read (a missing `_server`
//     is replaced by the server the endpoint knows) and written; a Node that stopped
//     counting connections through it would leave close() waiting, which the
//     server suites' close() calls would show.
// A second internal use: after reading was paused, Node still holds the buffer it
// was given after the last read, which may be stale or empty, so resuming installs
// a fresh span with useUserBuffer() (rearm), the method canAdopt() detected.
// A third, read-only: whether a socket is a Unix-domain one (its handle is a Pipe),
// which has no address for the PROXY trust check (endpoint.ts); no public API says.
// Adoption and rearm work the same on a Pipe handle as on a TCP one (both are libuv
// streams): test/unix-socket.test.ts reads through both paths.
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
  /** The span libuv reads into next. Never empty. Node calls it with no `this`: once as the socket is made, then right after each callback. */
  buffer: () => Uint8Array;
  /** n bytes arrived in the last span; return false to pause reading. `this` is the socket. */
  callback: (this: net.Socket, n: number, buf: Uint8Array) => boolean;
}

/** Can this accepted (and paused) socket be adopted? */
export function canAdopt(raw: net.Socket): boolean {
  const handle = (raw as unknown as SocketInternals)._handle;
  return !!handle && typeof handle.useUserBuffer === 'function';
}

/** Is this socket a Unix-domain socket? (Its handle's class is Node's Pipe, not TCP.) */
export function isUnixSocket(socket: net.Socket): boolean {
  const handle = (socket as unknown as SocketInternals)._handle as object | null;
  return handle?.constructor?.name === 'Pipe';
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
