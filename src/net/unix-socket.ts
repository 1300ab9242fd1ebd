// Unix-domain sockets: where a connection goes (a TCP host and port, or a socket
// path), and listening on a path.
//
// The socket file: libuv removes it when the listening socket closes, but a
// process that was killed leaves it behind, and bind(2) then fails with
// EADDRINUSE although nobody listens. So a path that is taken is probed with a
// connect: refused (ECONNREFUSED: a stale file) is removed and bound again; a
// connect that succeeds means another server listens there, and that is an
// EADDRINUSE whose message says so. A path that exists but is not a socket is
// never removed. Two servers claiming the same stale file at the same instant may
// both remove it; the loser of bind(2) fails with EADDRINUSE as usual.
// Linux's abstract sockets (a path that starts with "\0") have no file: nothing
// to remove, nothing stale.

import net from 'node:net';
import { lstatSync, unlinkSync } from 'node:fs';
import { configError } from '../core/errors.ts';

/** Where a connection is dialled: a TCP host and port, or a Unix socket path. */
export type Destination = { host: string; port: number } | { path: string };

/** The destination options name: port (and host, default 127.0.0.1) or path, never both; `what` names them in errors. */
export function destination(o: { host?: string; port?: number; path?: string }, what: string): Destination {
  if (o.path !== undefined) {
    if (typeof o.path !== 'string' || o.path === '') throw configError(`${what}.path must be a Unix socket path, got ${JSON.stringify(o.path)}`);
    if (o.port !== undefined || o.host !== undefined) throw configError(`${what}: give path (a Unix socket) or host and port (TCP), not both`);
    return { path: o.path };
  }
  if (o.port === undefined) throw configError(`${what}: give port (TCP, with host) or path (a Unix socket)`);
  return { host: o.host ?? '127.0.0.1', port: o.port };
}

/** "host:port" (an IPv6 host in brackets) or "unix:PATH", for messages. */
export function describeDestination(to: Destination): string {
  if ('path' in to) return `unix:${to.path}`;
  return `${net.isIPv6(to.host) ? `[${to.host}]` : to.host}:${to.port}`;
}

/** Listen on a Unix socket path, removing a stale socket file first; rejects with EADDRINUSE if a server listens there. */
export async function listenOnPath(server: net.Server, path: string, backlog: number): Promise<void> {
  try {
    return await listenOnce(server, path, backlog);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE' || path.startsWith('\0')) throw err;
  }
  const kind = fileKind(path);
  if (kind === 'other') throw inUse(path, `${path} exists and is not a socket: remove it or choose another path`);
  if (kind === 'socket') {
    if (await someoneListens(path)) throw inUse(path, `another server is listening on the Unix socket ${path}`);
    unlinkSync(path); // a stale file: the server that made it is gone
  }
  return listenOnce(server, path, backlog);
}

function listenOnce(server: net.Server, path: string, backlog: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ path, backlog }, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

/** What is at path now ('none': it went away since bind(2) failed). */
function fileKind(path: string): 'socket' | 'other' | 'none' {
  try {
    return lstatSync(path).isSocket() ? 'socket' : 'other';
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 'none';
    throw err;
  }
}

/** Does a server listen on path? ECONNREFUSED (nobody listens on that file) is no, EAGAIN (its backlog is full) yes; any other failure is passed on. */
function someoneListens(path: string): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const probe = net.connect({ path });
    probe.once('connect', () => {
      probe.destroy();
      resolve(true);
    });
    probe.once('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ECONNREFUSED') resolve(false);
      else if (err.code === 'EAGAIN') resolve(true);
      else reject(err);
    });
  });
}

function inUse(path: string, message: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`listen EADDRINUSE: ${message}`), { code: 'EADDRINUSE', errno: -98, syscall: 'listen', address: path });
}
