// A ringwire server: an Endpoint (core, connections, hooks, limits, stats) fed by
// listening sockets (listener-set.ts: several on one port where the platform
// shares ports, so a busy thread accepts several connections per wake-up).
// listen() rejects with the listener's error (EADDRINUSE, EACCES, ENOTFOUND for a
// bad host…) instead of emitting it, and a later error of a listening socket is
// emitted as 'error' only when someone listens for it, so nothing crashes the
// process on an unhandled 'error'. An accept that fails for lack of descriptors
// (EMFILE/ENFILE) pauses that listener briefly instead (accept-guard.ts): counted
// as ERR_NO_DESCRIPTORS.
// On a Unix socket (listen({ path })): one listening socket, its file removed on
// close and a stale one replaced (unix-socket.ts); the peer has no address, so
// maxConnectionsPerIp does not apply to it (until a PROXY header names a client),
// and with proxyProtocol it is trusted to send the header whatever proxyTrusted
// says: the socket file's permissions decide who may connect.

import { lookup } from 'node:dns/promises';
import net, { type AddressInfo } from 'node:net';
import { configError, type RingwireError } from '../core/errors.ts';
import type { Connection } from './connection.ts';
import { Endpoint, type CoreFactory, type EndpointOptions } from './endpoint.ts';
import { DEFAULT_DRAIN_TIMEOUT, ENDPOINT_RULES, endpointConfig } from './endpoint-config.ts';
import { API_NAMES, checkKnown, checkOptions, checkTls, duration, OTHER, whole, type OptionNames, type Rule } from './option-rules.ts';
import { ListenerSet, listenerCount } from './listener-set.ts';
import { Cluster, clusterOptions, type ClusterOptions } from './cluster.ts';
import type { ServerStats, StatsRenderer } from './server-stats.ts';
import { Switchboard } from './switchboard.ts';
import type { Core } from '../core/core.ts';
import type { TlsClientOptions } from './tls-context.ts';
import { kClientError, kDial, kFail, kIdentified, kPair } from './internals.ts';
import { destination, type Destination } from './unix-socket.ts';
import { cloneHandlerOptions, HANDLER_MODULE, runStart, runStop, START_HANDLER, THREAD_PLACE, type LifecycleContext, type ThreadPlace } from './lifecycle.ts';
import type { Handler } from './handler.ts';

export interface ServerOptions<Data = any> extends EndpointOptions<Data> {
  /**
   * A relay: each accepted client gets its own connection to this upstream, on the
   * same core, and frames go both ways, validated at the edge (max frame,
   * bad lengths: the bad side closes with its error, its partner after the
   * bytes already on their way), with backpressure each way. Each pair takes two
   * slots. Without onForward, frames are forwarded inside the core
   * (Core.forwardTo), copied once, each as its bytes arrive once its header is
   * valid (cut-through: docs/relay.md); with it, each whole frame passes through
   * the hook, which may drop or replace it, and is copied once into the other
   * side's tx ring.
   */
  upstream?: UpstreamOptions;
  /**
   * Carry publish() to every ringwire host of a cluster through Redis pub/sub
   * (cluster.ts): a URL (redis://HOST:PORT) or its options. Needs the optional
   * dependency @redis/client. listen() fails with ERR_BAD_CONFIG if Redis cannot be reached.
   */
  cluster?: string | ClusterOptions;
  /**
   * Configuration for the handler: given to onStart (context.options) on every
   * thread, as a structured clone (so it must be plain data: ERR_BAD_CONFIG otherwise).
   */
  handlerOptions?: unknown;
  /** Once per thread, before it accepts (handler.ts, lifecycle.ts). */
  onStart?: Handler['onStart'];
  /** Once per thread, after its drain, within drainTimeout (handler.ts, lifecycle.ts). */
  onStop?: Handler['onStop'];
}

/** A relay's upstream: host and port (TCP), or path (a Unix socket). */
export interface UpstreamOptions {
  /** Default 127.0.0.1. It must resolve when the relay starts (listen() rejects with ERR_BAD_CONFIG if it does not). */
  host?: string;
  port?: number;
  /** A Unix socket path, instead of host and port. */
  path?: string;
  /** Give up a connection to the upstream after this many ms (the client's connection closes with ERR_SOCKET). Default 10000. */
  connectTimeout?: number;
  tls?: TlsClientOptions;
}

export const DEFAULT_UPSTREAM_CONNECT_TIMEOUT = 10_000;

const UPSTREAM_RULES = {
  host: OTHER, port: whole(1, 65535), path: OTHER, connectTimeout: duration(1), tls: OTHER,
} as const satisfies { readonly [K in keyof Required<UpstreamOptions>]: Rule };

/**
 * Check a server's options (ERR_BAD_CONFIG naming the first one that cannot be
 * honoured): the endpoint's (endpoint-config.ts), the relay's upstream, the
 * cluster. The constructor runs it; the command line too, naming its flags.
 */
export function checkServerOptions(options: ServerOptions, names: OptionNames = API_NAMES): { endpoint: EndpointOptions; cluster: ClusterOptions | undefined } {
  checkKnown(options, [...Object.keys(ENDPOINT_RULES), 'upstream', 'cluster', 'handlerOptions', 'onStart', 'onStop'], '', names);
  const { upstream, cluster, handlerOptions, onStart, onStop, ...endpoint } = options;
  for (const [name, hook] of [['onStart', onStart], ['onStop', onStop]] as const) {
    if (hook !== undefined && typeof hook !== 'function') throw configError(`${name} must be a function, got ${typeof hook}`);
  }
  endpointConfig(endpoint, names);
  if (upstream && (options.onFrame || options.onConnection)) throw configError('a relay forwards frames itself: give it no onFrame or onConnection (onForward inspects them on their way)');
  if (!upstream && options.onForward) throw configError('onForward inspects a relay\'s frames: give upstream too (ringwire relay --upstream)');
  if (upstream !== undefined) {
    checkOptions(upstream, UPSTREAM_RULES, 'upstream.', names);
    checkTls('upstream.tls', upstream.tls, names);
    if (upstream.host !== undefined) checkHost('upstream.host', upstream.host, names);
    destination(upstream, 'upstream'); // port (TCP) or path (a Unix socket), not both
  }
  return { endpoint, cluster: cluster === undefined ? undefined : clusterOptions(cluster) };
}

/** The relay's upstream host resolves (a name that does not is a mistake to report at start, not at each client). */
export async function checkUpstreamHost(host: string, names: OptionNames = API_NAMES): Promise<void> {
  if (net.isIP(host) !== 0) return;
  try {
    await lookup(host);
  } catch (err) {
    throw configError(`${names.name('upstream.host')}: "${host}" does not resolve (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
}

/** A host to bind or to connect to: a name or an address, never '' (Node would take it as every interface). */
export function checkHost(option: string, host: unknown, names: OptionNames = API_NAMES): void {
  if (typeof host !== 'string' || host.trim() === '') {
    throw configError(`${names.name(option)} must be a host name or an address (0.0.0.0 or :: for every interface), got ${typeof host === 'string' ? `"${host}"` : String(host)}`);
  }
}

export interface ListenOptions {
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
  /**
   * Listen on this Unix socket path instead of a TCP port (give no port, host,
   * reusePort or listeners). A socket file left by a process that was killed is
   * removed and bound again; one another server listens on is EADDRINUSE. The file
   * is removed on close.
   */
  path?: string;
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
  private readonly upstream: { to: Destination; connectTimeout: number; tls: TlsClientOptions | undefined } | undefined;
  private readonly clusterOptions: ClusterOptions | undefined;
  private joining: Promise<void> | undefined;
  private resolving: Promise<void> | undefined;
  private stopping: Promise<void> | undefined;
  /** This host in its cluster (once started), if it has one. */
  cluster: Cluster | null = null;
  /** The thread's life (lifecycle.ts): its hooks, options and place; `started` once onStart has run. */
  private readonly life: { onStart?: Handler['onStart']; onStop?: Handler['onStop']; options: unknown; module: string | undefined; drainTimeout: number };
  private started: Promise<void> | undefined;
  private lifeContext: LifecycleContext<this> | undefined;
  /** Which thread of how many this server is: serveInWorker sets it; a server alone is thread 0 of 1. */
  [THREAD_PLACE]: ThreadPlace = { thread: 0, threads: 1 };

  constructor(options: ServerOptions<Data>, makeCore: CoreFactory, renderMetrics?: StatsRenderer) {
    const { endpoint, cluster } = checkServerOptions(options);
    super(endpoint, makeCore, renderMetrics);
    const { upstream } = options;
    if (upstream) this.upstream = { to: destination(upstream, 'upstream'), connectTimeout: upstream.connectTimeout ?? DEFAULT_UPSTREAM_CONNECT_TIMEOUT, tls: upstream.tls };
    this.clusterOptions = cluster;
    this.listenerSet = new ListenerSet({ pauseOnConnect: true, allowHalfOpen: true }, {
      connection: raw => this.serve(raw),
      shortage: err => this[kClientError](err, { id: null, remoteAddress: undefined, remotePort: undefined }),
      other: err => {
        if (this.listenerCount('error') > 0) this.emit('error', err);
      },
    });
    this.listener = this.listenerSet.servers[0]!;
    const module = (options as { [HANDLER_MODULE]?: string })[HANDLER_MODULE];
    this.life = { onStart: options.onStart, onStop: options.onStop, options: cloneHandlerOptions(options.handlerOptions), module, drainTimeout: options.drainTimeout ?? DEFAULT_DRAIN_TIMEOUT };
  }

  /** Build the core (once) and listen. Resolves with the bound address (a Unix socket's path); rejects with the error if it cannot. */
  listen(options: ListenOptions & { path: string }): Promise<string>;
  listen(portOrOptions?: number | (ListenOptions & { path?: undefined }), host?: string): Promise<AddressInfo>;
  async listen(portOrOptions: number | ListenOptions = {}, host?: string): Promise<AddressInfo | string> {
    const o: ListenOptions = typeof portOrOptions === 'number' ? { port: portOrOptions, host } : portOrOptions;
    if (o.host !== undefined) checkHost('host', o.host);
    const path = unixPath(o);
    await this.start();
    if (this.closing) throw configError('listen() after close(): create a new server to listen again');
    if (this.listenerSet.listening) throw configError('the server is already listening');
    await this[START_HANDLER]();
    const count = path === undefined ? listenerCount(o.listeners) : 1;
    await this.listenerSet.listen({ port: o.port ?? 0, host: o.host ?? '127.0.0.1', path, backlog: o.backlog ?? 511, reusePort: o.reusePort ?? false, count });
    this.emit('listening');
    return this.address()!;
  }

  /** Build the core (once) and, with a cluster, connect to Redis (rejects with ERR_BAD_CONFIG if it cannot). */
  override async start(): Promise<Core> {
    const core = await super.start();
    const to = this.upstream?.to;
    if (to && 'host' in to) await (this.resolving ??= checkUpstreamHost(to.host));
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

  /**
   * Run onStart once (listen() does, before the first accept; serveInWorker once
   * the thread's mailbox is attached, so onStart may publish). Rejects with
   * ERR_BAD_CONFIG naming the module and the thread.
   */
  [START_HANDLER](): Promise<void> {
    const { onStart } = this.life;
    return (this.started ??= onStart ? runStart(onStart, this.context(), this.life.module) : Promise.resolve());
  }

  override close(): Promise<void> {
    return (this.stopping ??= super.close().then(() => this.stopHandler()).then(() => this.cluster?.close()));
  }

  /** After the drain: onStop, on a thread whose onStart ran and succeeded, within drainTimeout. */
  private async stopHandler(): Promise<void> {
    const { onStop, module, drainTimeout } = this.life;
    if (!onStop || !this.started || !(await this.started.then(() => true, () => false))) return;
    const error = await runStop(onStop, this.context(), module, drainTimeout);
    if (!error) return;
    const place = this[THREAD_PLACE];
    if (this.listenerCount('stopError') > 0) this.emit('stopError', error, { thread: place.thread, threads: place.threads });
    else process.emitWarning(error.message, { code: error.code });
  }

  /** One context per thread, for onStart and onStop alike (the place is known by the time onStart runs). */
  private context(): LifecycleContext<this> {
    return (this.lifeContext ??= { options: this.life.options, ...this[THREAD_PLACE], server: this });
  }

  override stats(): ServerStats {
    const s = super.stats();
    if (this.cluster) s.cluster = this.cluster.stats();
    return s;
  }

  /** The bound address, a Unix socket's path, or null when not listening. */
  address(): AddressInfo | string | null {
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
    const up = this.upstream;
    if (!up) return true;
    try {
      client[kPair](this[kDial](up.to, this.handler, up.connectTimeout, up.tls));
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

/** listen()'s Unix socket path, checked against the TCP options it excludes; undefined for TCP. */
function unixPath(o: ListenOptions): string | undefined {
  if (o.path === undefined) return undefined;
  if (typeof o.path !== 'string' || o.path === '') throw configError(`path must be a Unix socket path, got ${JSON.stringify(o.path)}`);
  const tcp = (['port', 'host', 'reusePort', 'listeners'] as const).filter(k => o[k] !== undefined);
  if (tcp.length > 0) throw configError(`listen on a Unix socket path or a TCP port, not both: give path without ${tcp.join(', ')}`);
  return o.path;
}
