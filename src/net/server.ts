// A ringwire server: an Endpoint (core, connections, hooks, limits, stats) fed by
// listening sockets (listener-set.ts: several on one port where the platform
// shares ports, so a busy thread accepts several connections per wake-up).
// listen() rejects with the listener's error (EADDRINUSE, EACCES, ENOTFOUND for a
// bad host…) instead of emitting it, and a later error of a listening socket is
// emitted as 'error' only when someone listens for it, so nothing crashes the
// process on an unhandled 'error'. An accept that fails for lack of descriptors
// (EMFILE/ENFILE) pauses that listener briefly instead (accept-guard.ts): counted
// as ERR_NO_DESCRIPTORS.

import type { AddressInfo } from 'node:net';
import { configError, type RingwireError } from '../core/errors.ts';
import type { Connection } from './connection.ts';
import { Endpoint, type CoreFactory, type EndpointOptions } from './endpoint.ts';
import { ListenerSet, listenerCount } from './listener-set.ts';
import { Cluster, clusterOptions, type ClusterOptions } from './cluster.ts';
import type { ServerStats } from './server-stats.ts';
import { Switchboard } from './switchboard.ts';
import type { Core } from '../core/core.ts';
import type { TlsClientOptions } from './tls-context.ts';
import { kClientError, kDial, kFail, kIdentified, kPair } from './internals.ts';

export interface ServerOptions<Data = any> extends EndpointOptions<Data> {
  /**
   * A relay: each accepted client gets its own connection to this upstream, on the
   * same core, and whole frames go both ways, validated at the edge (max frame,
   * bad lengths: the bad side closes with its error, its partner after its
   * in-flight frames), with backpressure each way. Each pair takes two slots.
   * Without onForward, frames are forwarded inside the core (Core.forwardTo),
   * copied once; with it, each frame passes through the hook, which may drop or
   * replace it, and is copied once into the other side's tx ring.
   */
  upstream?: { host?: string; port: number; connectTimeout?: number; tls?: TlsClientOptions };
  /**
   * Carry publish() to every ringwire host of a cluster through Redis pub/sub
   * (cluster.ts): a URL (redis://HOST:PORT) or its options. Needs the optional
   * dependency @redis/client. listen() fails with ERR_BAD_CONFIG if Redis cannot be reached.
   */
  cluster?: string | ClusterOptions;
}

export interface ListenOptions {
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
  /** The kernel's queue of connections not yet accepted, per listening socket. Default 511. */
  backlog?: number;
  /** SO_REUSEPORT: other threads or processes may listen on the port too. */
  reusePort?: boolean;
  /**
   * Listening sockets this thread opens on the port (SO_REUSEPORT): libuv accepts one
   * connection per wake-up of each, so more let a busy thread take new clients sooner.
   * Default DEFAULT_LISTENERS where ports can be shared (Linux, Node >= 22.12), else 1.
   */
  listeners?: number;
}

export { DEFAULT_LISTENERS } from './listener-set.ts';

export class RingwireServer<Data = any> extends Endpoint<Data> {
  private readonly listenerSet: ListenerSet;
  private readonly upstreamOptions: ServerOptions['upstream'];
  private readonly clusterOptions: ClusterOptions | undefined;
  private joining: Promise<void> | undefined;
  private stopping: Promise<void> | undefined;
  /** This host in its cluster (once started), if it has one. */
  cluster: Cluster | null = null;

  constructor(options: ServerOptions<Data>, makeCore: CoreFactory) {
    const { upstream, cluster, ...endpointOptions } = options;
    if (upstream && (options.onFrame || options.onConnection)) throw configError('a relay forwards frames itself: give it no onFrame or onConnection (onForward inspects them on their way)');
    if (!upstream && options.onForward) throw configError('onForward inspects a relay\'s frames: give upstream too (ringwire relay --upstream)');
    super(endpointOptions, makeCore);
    this.upstreamOptions = upstream;
    this.clusterOptions = cluster === undefined ? undefined : clusterOptions(cluster);
    this.listenerSet = new ListenerSet({ pauseOnConnect: true, allowHalfOpen: true }, {
      connection: raw => this.serve(raw),
      shortage: err => this[kClientError](err, { id: null, remoteAddress: undefined, remotePort: undefined }),
      other: err => {
        if (this.listenerCount('error') > 0) this.emit('error', err);
      },
    });
    this.listener = this.listenerSet.servers[0]!;
  }

  /** Build the core (once) and listen. Resolves with the bound address; rejects with the error if it cannot. */
  async listen(portOrOptions: number | ListenOptions = {}, host?: string): Promise<AddressInfo> {
    const o: ListenOptions = typeof portOrOptions === 'number' ? { port: portOrOptions, host } : portOrOptions;
    await this.start();
    if (this.closing) throw configError('listen() after close(): create a new server to listen again');
    if (this.listenerSet.listening) throw configError('the server is already listening');
    await this.listenerSet.listen({ port: o.port ?? 0, host: o.host ?? '127.0.0.1', backlog: o.backlog ?? 511, reusePort: o.reusePort ?? false, count: listenerCount(o.listeners) });
    this.emit('listening');
    return this.address()!;
  }

  /** Build the core (once) and, with a cluster, connect to Redis (rejects with ERR_BAD_CONFIG if it cannot). */
  override async start(): Promise<Core> {
    const core = await super.start();
    if (this.clusterOptions) await (this.joining ??= this.joinCluster(core, this.clusterOptions));
    return core;
  }

  /** This thread is the host's one place: its publishes go to Redis through the outbox, and its topics are subscribed there. */
  private async joinCluster(core: Core, options: ClusterOptions): Promise<void> {
    const board = Switchboard.create({ places: 1, slots: core.config.slots, outbox: true });
    const cluster = new Cluster(options, board);
    await cluster.start();
    this.router.attach(board, 0);
    this.router.watchTopics((topic, active) => cluster.topic(0, topic, active));
    this.cluster = cluster;
  }

  override close(): Promise<void> {
    return (this.stopping ??= super.close().then(() => this.cluster?.close()));
  }

  override stats(): ServerStats {
    const s = super.stats();
    if (this.cluster) s.cluster = this.cluster.stats();
    return s;
  }

  address(): AddressInfo | null {
    return this.listenerSet.address();
  }

  /**
   * A relay dials each client's upstream once the client is known (at once, or
   * after its PROXY header: a balancer's health check or a bad header costs no
   * upstream connection). Dialled on this endpoint, its slot is known now, so the
   * two are paired before the client's first frame.
   */
  override [kIdentified](client: Connection): boolean {
    if (!super[kIdentified](client)) return false;
    const up = this.upstreamOptions;
    if (!up) return true;
    try {
      client[kPair](this[kDial](up.host ?? '127.0.0.1', up.port, this.handler, up.connectTimeout ?? 10_000, up.tls));
    } catch (err) {
      client[kFail](err as RingwireError);
      return false;
    }
    return true;
  }

  protected override stopAccepting(): Promise<void> {
    return this.listenerSet.close();
  }
}
