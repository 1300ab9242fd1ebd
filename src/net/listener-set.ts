// The listening sockets of one thread on one port, each guarded against
// descriptor shortages (accept-guard.ts).
//
// Why more than one: libuv accepts one connection per wake-up of a listening
// socket (Node 24's libuv 1.52: one accept4 per epoll_pwait, measured with
// strace), and a thread busy with thousands of connections wakes up after
// handling up to 1024 ready sockets per epoll_pwait (and up to 48 such batches
// in a row). At 5,000 busy connections that was about 20 accepts a second: the
// listen queue stayed full, SYNs were dropped, and new clients waited seconds
// behind it. With `count` sockets sharing the port (SO_REUSEPORT; the kernel
// spreads new connections over them by address hash), each wake-up accepts up
// to `count`, and the kernel's queue is `count` × backlog deep.
//
// SO_REUSEPORT would also let another server of the same user join the port
// unnoticed (a second `ringwire serve` on a busy port must fail with EADDRINUSE,
// not share it). So unless the caller asked for a shared port (reusePort: worker
// threads), the port is first bound by a plain socket, which fails if anyone
// listens there and picks the port for port 0, then closed, and the set binds
// that port: any later server without SO_REUSEPORT gets EADDRINUSE as before.
//
// On a Unix socket path (unix-socket.ts) the set is one socket: SO_REUSEPORT does
// not spread Unix connections over several sockets.
//
// Invariants: every socket listens on the same address and port (the first
// binds it: port 0 picks one); closing the set stops every guard first, so no
// socket listens again after close().

import net, { type AddressInfo } from 'node:net';
import { configError, type RingwireError } from '../core/errors.ts';
import { portSharing } from './port-sharing.ts';
import { descriptorFree, guardAccepts, PROBE_PERIOD, type AcceptGuard } from './accept-guard.ts';
import { listenOnPath } from './unix-socket.ts';

export interface ListenerReport {
  connection(raw: net.Socket): void;
  /** An accept failed for lack of descriptors (ERR_NO_DESCRIPTORS); that socket pauses. */
  shortage(err: RingwireError): void;
  /** Any other error of a listening socket after listen() resolved. */
  other(err: Error): void;
}

export interface ListenerSetOptions {
  port: number;
  host: string;
  /** A Unix socket path instead of host and port (count must be 1, reusePort false). */
  path?: string;
  backlog: number;
  /** Sockets on the port (listenerCount() resolves and checks it); more than 1 needs SO_REUSEPORT. */
  count: number;
  /** SO_REUSEPORT on every socket (other threads or processes may join the port). */
  reusePort: boolean;
}

/** Listening sockets per thread: docs/limits-and-errors.md ("Accepting under load") has the measurements. */
export const DEFAULT_LISTENERS = 16;

/** The sockets a thread listens with: `requested`, or DEFAULT_LISTENERS where ports can be shared (else 1); ERR_BAD_CONFIG if it cannot be. */
export function listenerCount(requested: number | undefined): number {
  const count = requested ?? (portSharing() ? DEFAULT_LISTENERS : 1);
  if (!Number.isInteger(count) || count < 1 || count > 1024) throw configError(`listeners must be 1 to 1024, got ${count}`);
  if (count > 1 && !portSharing()) throw configError(`listeners: ${count} sockets on one port need SO_REUSEPORT (Linux, Node >= 22.12); give 1`);
  return count;
}

export class ListenerSet {
  readonly servers: net.Server[] = [];
  private readonly guards: AcceptGuard[] = [];
  private bound: net.ListenOptions | undefined;
  private readonly serverOptions: net.ServerOpts;
  private readonly report: ListenerReport;
  /** One probe for a free descriptor for all the sockets (accept-guard.ts): a shortage pauses each, reported once. */
  private probe: NodeJS.Timeout | undefined;

  /** The first socket exists at once (a listener for sockets the endpoint adopts before listen()). */
  constructor(serverOptions: net.ServerOpts, report: ListenerReport) {
    this.serverOptions = serverOptions;
    this.report = report;
    this.add();
  }

  private startProbe(): void {
    this.probe = setInterval(() => {
      const err = this.guards.some(g => !g.paused) ? descriptorFree() : null;
      if (!err) return;
      let reported = false;
      for (const g of this.guards) if (g.short(err, !reported)) reported = true;
    }, PROBE_PERIOD);
    this.probe.unref();
  }

  private add(): net.Server {
    const server = net.createServer(this.serverOptions, raw => this.report.connection(raw));
    this.servers.push(server);
    this.guards.push(guardAccepts(server, () => this.bound, { shortage: this.report.shortage, other: this.report.other }));
    return server;
  }

  /** Listen with every socket; rejects with the first socket's error (EADDRINUSE…), closing any that listened. */
  async listen(o: ListenerSetOptions): Promise<void> {
    if (o.path !== undefined) return this.listenOnPath(o.path, o.backlog);
    let options: net.ListenOptions = { port: o.port, host: o.host, backlog: o.backlog, reusePort: o.reusePort || o.count > 1 };
    if (o.count > 1 && !o.reusePort) options.port = await exclusivePort(o.port, o.host);
    try {
      for (let i = 0; i < o.count; i++) {
        const server = this.servers[i] ?? this.add();
        await new Promise<void>((resolve, reject) => {
          server.once('error', reject);
          server.listen(options, () => {
            server.off('error', reject);
            resolve();
          });
        });
        // The others join the port the first one bound; a guard listens again there after a shortage.
        if (i === 0) this.bound = options = { ...options, port: (server.address() as AddressInfo).port };
      }
      this.startProbe();
    } catch (err) {
      this.bound = undefined;
      await this.close();
      throw err;
    }
  }

  private async listenOnPath(path: string, backlog: number): Promise<void> {
    await listenOnPath(this.servers[0]!, path, backlog);
    this.bound = { path, backlog };
    this.startProbe();
  }

  get listening(): boolean {
    return this.servers.some(s => s.listening);
  }

  /** The bound address (of a socket listening now: one may be paused by its guard); a Unix socket's path. */
  address(): AddressInfo | string | null {
    const server = this.servers.find(s => s.listening);
    return server ? server.address() : null;
  }

  /** Stop listening; resolves once every socket is closed (connections are the endpoint's). */
  close(): Promise<void> {
    clearInterval(this.probe);
    for (const g of this.guards) g.stop();
    return Promise.all(this.servers.map(s => new Promise<void>(resolve => (s.listening ? s.close(() => resolve()) : resolve())))).then(() => {});
  }
}

/** Bind host:port with a plain socket (no SO_REUSEPORT) and let it go: the port, or the error (EADDRINUSE…) a server would get. */
async function exclusivePort(port: number, host: string): Promise<number> {
  const probe = net.createServer();
  await new Promise<void>((resolve, reject) => {
    probe.once('error', reject);
    probe.listen({ port, host, backlog: 1 }, () => resolve());
  });
  const bound = (probe.address() as AddressInfo).port;
  await new Promise(resolve => probe.close(resolve));
  return bound;
}
