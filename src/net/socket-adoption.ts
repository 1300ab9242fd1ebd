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
// A fourth, TLS: a TLSSocket over an accepted socket is built by Node without
// `onread` (it takes one only when it makes the TCP socket itself), so readInto()
// sets net.Socket's three private onread fields (kBuffer, kBufferCb, kBufferGen,
// found by description; canReadInto() detects them and the TLS handle's
// useUserBuffer) as its constructor would have; rearm() keeps kBuffer, the span
// Node reports to the callback, equal to the one it installs.
// A fifth, read-only: a connection's addresses, read once at open straight from its
// handle (getpeername/getsockname, which TCP handles have and TLSSocket's handle
// proxies), so that Node does not cache them on the socket as two objects
// (`_peername`, `_sockname`) that every idle connection would keep beside the
// strings the connection keeps anyway (peerAddress(), ownAddress(); where the handle lacks
// them, the public getters).
// A sixth: net.Socket puts a listener of its own on 'end' (onReadableStreamEnd),
// which acts only on a socket that does not allow half-open connections; ringwire's
// all do, so listenForEnd() puts the connection's listener in its place rather than
// beside it (two listeners of an event are an array each idle connection keeps).
// Detected by its name and the socket's allowHalfOpen; otherwise both stay.
// Checked on Node 22.12+, 24 and 26 (see docs/node-facts.md); test/adoption.test.ts
// runs both paths on whatever Node runs the suite.

import net from 'node:net';

interface Handle {
  useUserBuffer?: (buf: Uint8Array) => void;
  getpeername?: (out: SocketAddress) => number;
  getsockname?: (out: SocketAddress) => number;
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

/** net.Socket's private fields for `onread` (lib/net.js: kBuffer, kBufferCb, kBufferGen), found by their descriptions. */
interface OnreadFields {
  buffer: symbol;
  callback: symbol;
  generator: symbol;
}

/** The same symbols on every socket (lib/net.js's): looked up once. */
let fieldsFound: OnreadFields | null | undefined;

function onreadFields(socket: net.Socket): OnreadFields | null {
  if (fieldsFound !== undefined) return fieldsFound;
  const own = Object.getOwnPropertySymbols(socket);
  const find = (name: string) => own.find(sym => sym.description === name);
  const buffer = find('kBuffer'), callback = find('kBufferCb'), generator = find('kBufferGen');
  return (fieldsFound = buffer && callback && generator ? { buffer, callback, generator } : null);
}

/**
 * Can `socket` (a TLSSocket over an accepted socket, which Node builds without
 * `onread`) be given a read target after all? Its handle (Node's TLSWrap) must take
 * a user buffer, and net.Socket must keep onread in the fields readInto() sets.
 */
export function canReadInto(socket: net.Socket): boolean {
  return canAdopt(socket) && onreadFields(socket) !== null;
}

/**
 * Give a socket Node made without `onread` the read target it would have had:
 * the fields net.Socket's constructor sets from `onread`, and the first span
 * (`first`: the target's buffer function may hand out a span only once), as its
 * initSocketHandle() installs it. Only after canReadInto(). Node's TLS
 * layer then decrypts into the target's spans (it copies each record out of
 * OpenSSL's buffer into the span it is given, splitting it over smaller ones),
 * and bytes it had already pushed to the stream are the caller's to take
 * (socket.read()). Unlike a TCP read, that copy goes on after the callback
 * returns false, until what one TCP read brought is decrypted: the target must
 * never hand out an empty span (the loop would not advance).
 */
export function readInto(socket: net.Socket, target: ReadTarget, first: Uint8Array): void {
  const f = onreadFields(socket)!;
  const fields = socket as unknown as Record<symbol, unknown>;
  fields[f.generator] = target.buffer;
  fields[f.callback] = target.callback;
  fields[f.buffer] = first;
  rearm(socket, first);
}

/** Install the span the next read goes into (before socket.resume()). */
export function rearm(socket: net.Socket, buf: Uint8Array): void {
  // Node hands the callback the span it recorded last (kBuffer), not the one the handle read into: both change here.
  const f = onreadFields(socket);
  if (f) (socket as unknown as Record<symbol, unknown>)[f.buffer] = buf;
  (socket as unknown as SocketInternals)._handle?.useUserBuffer?.(buf);
}

/** One side of a connected socket (undefined where it has none: a Unix socket, or one already reset). */
export interface SocketAddress {
  address: string | undefined;
  port: number | undefined;
}

/**
 * Address strings seen lately, each kept once: a server's own address is the same
 * for every connection, and so is that of many clients (behind one NAT, a balancer).
 * Bounded: emptied when full.
 */
const seen = new Map<string, string>();
const SEEN_MAX = 256;

function shared(address: string): string {
  const known = seen.get(address);
  if (known !== undefined) return known;
  if (seen.size >= SEEN_MAX) seen.clear();
  seen.set(address, address);
  return address;
}

/** What getpeername/getsockname fill; reused by every call (copy what you keep). */
const side: SocketAddress = { address: undefined, port: undefined };

function read(socket: net.Socket, name: 'getpeername' | 'getsockname'): Readonly<SocketAddress> {
  const handle = (socket as unknown as SocketInternals)._handle;
  side.address = undefined;
  side.port = undefined;
  const get = handle?.[name];
  if (typeof get === 'function' && get.call(handle, side) === 0) {
    if (side.address !== undefined) side.address = shared(side.address);
  } else if (name === 'getpeername') {
    side.address = socket.remoteAddress;
    side.port = socket.remotePort;
  } else {
    side.address = socket.localAddress;
    side.port = socket.localPort;
  }
  return side;
}

/**
 * A connected socket's peer, read from its handle, leaving nothing cached on the
 * socket (where the handle has no getpeername: socket.remoteAddress/remotePort).
 * The object returned is reused by the next call: copy what you keep.
 */
export function peerAddress(socket: net.Socket): Readonly<SocketAddress> {
  return read(socket, 'getpeername');
}

/** The same for the socket's own side (getsockname; else socket.localAddress/localPort). */
export function ownAddress(socket: net.Socket): Readonly<SocketAddress> {
  return read(socket, 'getsockname');
}

/**
 * `listener` on the socket's 'end' (the peer's FIN), in place of Node's own
 * onReadableStreamEnd where that one would do nothing (an allowHalfOpen socket).
 */
export function listenForEnd(socket: net.Socket, listener: (this: net.Socket) => void): void {
  if (socket.allowHalfOpen && socket.listenerCount('end') === 1) {
    const own = socket.listeners('end')[0];
    if (own?.name === 'onReadableStreamEnd') socket.removeListener('end', own as () => void);
  }
  socket.on('end', listener);
}
