// One endpoint per event-loop thread (uSockets' context is the model): it owns
// the core (rings and frame decoding in shared memory), the registry of
// connections, the application's hooks, the limits and budgets, and the stats.
// Sockets enter it through serve(socket): RingwireServer.listen() feeds it the
// sockets it accepts, a worker thread the sockets transferred to it, and an
// application any socket it accepted itself. The read path (zero-copy adoption
// or the copying fallback) is chosen per socket.
//
// Invariants it enforces for its connections:
//   - at most one connection delivers a batch of frames at a time (`delivering`):
//     the core's frame list is one per core, so a handler that sends to or closes
//     another connection must not make the core list frames for it until the
//     batch is over (Connection.continue() defers to a microtask);
//   - replies queued beyond the tx rings stay under maxQueued per connection and
//     maxQueuedTotal in all (queue-budget.ts: when the total would be crossed, the
//     largest stalled holders are closed, not the connection crossing it): the
//     worst-case memory is memoryBudget(), fixed at start;
//   - every deadline is checked by one coarse sweep per endpoint over the
//     connections' timestamps, never by a timer per socket: no write progress for
//     writeTimeout (ERR_SLOW_CONSUMER), no traffic for idleTimeout, an incomplete
//     frame older than frameTimeout (ERR_FRAME_TIMEOUT) or arriving slower than
//     minRate over a window (ERR_TOO_SLOW). A deadline fires between its limit and
//     the limit plus one sweep period (a quarter of the smallest limit, 10 ms … 1 s);
//     a sweep that comes a period late (the loop was stalled) judges nothing, so the
//     reads the stall held back count first: a deadline may fire a period later then;
//   - with TLS, a connection opens (onOpen, 'connection') only once its handshake is
//     done; until then it holds its slot and is in `handshakes`, where the same sweep
//     closes it with ERR_TLS (E_TLS_TIMEOUT) past its handshake deadline; with a PROXY
//     header too, the header is read first and the handshake (and its deadline) follow;
//   - at most maxConnectionsPerIp connections of one client address at once, counted
//     across every thread of the server in a shared table (address-table.ts); behind
//     a load balancer (proxyProtocol), the address its PROXY header names;
//   - with proxyProtocol, a connection from an address outside proxyTrusted is
//     refused, and every other one starts with a PROXY header, parsed before its
//     first core call and before onOpen, within proxyTimeout (the sweep again);
//   - at most maxConnections live connections (sockets): a newcomer past it is
//     refused with ERR_TOO_MANY_CONNECTIONS. The core has quarantineSlots more
//     slots than that, for connections closed while a handler still holds a frame
//     view of their rx ring (quarantined: no socket, no descriptor, no queue, no tx
//     ring): hung handlers do not lock new clients out until those run out too;
//   - at the connection limit, a newcomer takes the slot of the connection whose
//     incomplete frame arrives slowest, below minRate and past evictAfter (ERR_EVICTED,
//     eviction-order.ts); it is refused only when there is none;
//   - ids are unique for the life of the process, across worker threads.

import { EventEmitter } from 'node:events';
import net from 'node:net';
import type { TLSSocket } from 'node:tls';
import { threadId } from 'node:worker_threads';
import type { CoreConfig, CoreOptions } from '../core/config.ts';
import { FRAMING_WEBSOCKET, MODE_ECHO, OPEN_NO_MEMORY, OPEN_NO_SLOT, S_CONNECTIONS, S_QUARANTINED, type Core, type CoreKind } from '../core/core.ts';
import { poolExhausted } from './pool-exhausted.ts';
import type { NormalClose } from '../core/stats.ts';
import {
  configError, E_EVICTED, E_FRAME_TIMEOUT, E_HANDLER_TIMEOUT, E_IDLE_TIMEOUT, ERROR_BY_CORE, E_PROXY_HEADER, E_SLOW_CONSUMER, E_SOCKET, E_TLS, E_TLS_TIMEOUT,
  E_TOO_MANY_CONNECTIONS, E_TOO_MANY_PER_IP, E_TOO_SLOW, handlerError, ringwireError, type RingwireError,
} from '../core/errors.ts';
import type { AddressRanges } from './address-ranges.ts';
import type { ProxyProtocol } from './proxy-header.ts';
import { AddressTable, addressKey, createAddressTable, REFUSED, UNTRACKED } from './address-table.ts';
import { RingwireClient, type ConnectOptions, type Dialer } from './client.ts';
import { Drain, DRAIN_GATE, type DrainGate } from './drain.ts';
import { Connection, type ConnectionHost, type ConnectionInfo, type ConnectionLimits } from './connection.ts';
import { replyRefusal } from './writer.ts';
import { EvictionOrder } from './eviction-order.ts';
import { QueueBudget } from './queue-budget.ts';
import { Heartbeat, type StallInfo } from './heartbeat.ts';
import { nextConnectionId } from './connection-id.ts';
import { CONNECTION_HOOKS, takesFrames, type ConnectionHooks, type Handler } from './handler.ts';
import { Router } from './router.ts';
import type { ServerStats, StatsRenderer, ThreadState } from './server-stats.ts';
import { canWriteDirect, chooseWritePath, type WritePath } from './direct-write.ts';
import { DEFAULT_MAX_QUEUED_TOTAL, endpointConfig, queueBudget, queueLimits, type EndpointConfig } from './endpoint-config.ts';
import { adopt, canAdopt, canReadInto, isUnixSocket, peerAddress, readInto, type ReadTarget } from './socket-adoption.ts';
import { describeDestination, type Destination } from './unix-socket.ts';
import type { UpgradeSettings } from './upgrade-stage.ts';
import type { UpgradeTarget } from './websocket-handshake.ts';
import { clock } from './read-clocks.ts';
import { clientHandshakeTimeout, connectTls, onRecordFailure, TlsContext, tlsError, type TlsClientOptions, type TlsServerOptions } from './tls-context.ts';
import {
  kActive, kAwaitingInput, kClientError, kClosed, kConnectionOpened, kDelivering, kDial, kDrain, kEarlyError, kEnter, kEnterRead, kEvict,
  kExpectHeader, kExpectUpgrade, kFail, kFlush, kFlushLater, kFlushNow, kFlushQueued, kInRead, kHandler, kHandlerSince, kHoldFin, kHoldsRings, kIdentified, kInbound,
  kLastProgress, kLeave, kLeaveRead, kLimits, kMaxQueued, kOpened, kQueue, kReplyRefusal, kRestartWait, kSecured, kShrink, kStage, kStageExpired, kStart, kTakesFrames,
  kTlsAfterHeader, kWritePath, kWriting, kNextSpan, kLastActive, kWaitStart, kWindowBytes, kWindowStart,
} from './internals.ts';

export interface EndpointOptions<Data = any> extends Omit<CoreOptions, 'mode'>, ConnectionHooks<Data> {
  /** A core to use, or how to build one at start(). Default 'wasm'. */
  core?: CoreKind | Core;
  /** Close a connection with ERR_IDLE_TIMEOUT after this many ms without traffic. Default 300000 (5 min); 0 = never. */
  idleTimeout?: number;
  /**
   * A connection with no traffic for this many ms gives its rings back to the pool;
   * its next read is copied once (at most minRing bytes) into a ring taken again.
   * Default 100; 0 = a connection keeps its rings while it is open.
   */
  ringIdleTimeout?: number;
  /** An incomplete frame must complete within this many ms of its first byte, else ERR_FRAME_TIMEOUT. Default 30000; 0 = never. */
  frameTimeout?: number;
  /** While a frame is incomplete, bytes per second the peer must send, averaged over minRateWindow, else ERR_TOO_SLOW. Default 500; 0 = no minimum. */
  minRate?: number;
  /** The window minRate is averaged over, in ms. Default 10000. */
  minRateWindow?: number;
  /** Connections one client address may hold at once (IPv6: per /64), refused past it with ERR_TOO_MANY_CONNECTIONS. Default 0: no cap. */
  maxConnectionsPerIp?: number;
  /**
   * At the connection limit, a new connection takes the slot of the connection whose
   * incomplete frame arrives slowest, below minRate over the recent window, once that
   * frame has waited at least this many ms (that one is closed with ERR_EVICTED); a
   * connection at or above minRate is never evicted. Default 1000; 0 = never (the newcomer is refused).
   */
  evictAfter?: number;
  /** The shared table maxConnectionsPerIp counts in (createAddressTable); a worker server gives every thread the same one. */
  addressTable?: SharedArrayBuffer;
  /** Report a 'stall' when this thread's event loop was blocked longer than this many ms. Default 1000; 0 = never. */
  stallTimeout?: number;
  /** Where this thread writes its heartbeat for another thread's watchdog (heartbeat.ts); a worker server gives it. */
  heartbeat?: SharedArrayBuffer;
  /** Close a connection with ERR_SLOW_CONSUMER when its output makes no progress for this many ms. Default 30000; 0 = never. */
  writeTimeout?: number;
  /**
   * A handler whose promise (onFrame's, onForward's, or the frame an onConnection
   * task holds) has not settled after this many ms closes its connection with
   * ERR_HANDLER_TIMEOUT: the socket at once, the slot once the promise settles
   * (until then it is quarantined: no other client's bytes go into rings a stale
   * frame view can still read). Default 30000; 0 = never.
   */
  handlerTimeout?: number;
  /**
   * Frames of one connection out with onFrame at once (pipelined async handlers):
   * the next frame is delivered while earlier handlers' promises are pending, up to
   * this many; replies still leave in frame order (docs/embedding.md). Default 1:
   * strictly one frame at a time, which handlers that keep state per connection
   * (a SET, then a GET) rely on. A whole number from 1 to MAX_CONCURRENCY.
   */
  concurrency?: number;
  /** Bytes of replies one connection may queue beyond its tx ring. Default 4 × the tx ring, or maxReply if larger. */
  maxQueued?: number;
  /** The largest reply send() takes; one larger than the tx ring is streamed through it. Default 4 × the tx ring. */
  maxReply?: number;
  /** Bytes of replies all connections together may queue beyond their tx rings. Default 64 MiB. */
  maxQueuedTotal?: number;
  /** Read straight into the rings (true, default) or copy 'data' chunks into them (false). */
  zeroCopy?: boolean;
  /**
   * How replies reach the kernel: 'direct' writes tx ring views through the socket's
   * handle, skipping the Writable stream layer; 'stream' uses socket.write. Default:
   * 'direct' on the Node majors ringwire's suites run on, once a write probe at start()
   * passed; elsewhere 'stream', with a warning. 'direct' by name skips the version check,
   * not the probe (direct-write.ts).
   */
  writePath?: WritePath;
  /** TCP_NODELAY on every connection. Default true. */
  noDelay?: boolean;
  /** TCP keepalive on every connection: false, true (the system's idle time), or the idle ms before the first probe. Default 60000. */
  keepAlive?: boolean | number;
  /**
   * close(): ms for the drain (drain.ts): pending handlers settle, every frame read is
   * answered, then every connection gets its FIN. Past it, a connection with frames
   * unanswered (or replies undelivered) is reset and counted: ERR_DRAIN_TIMEOUT. Default 10000.
   */
  drainTimeout?: number;
  /**
   * Every accepted connection starts with a PROXY protocol header from a load
   * balancer (HAProxy's send-proxy / send-proxy-v2): 'v1', 'v2' or 'any'.
   * remoteAddress/remotePort then name the client behind it. Default: off.
   */
  proxyProtocol?: ProxyProtocol;
  /** The balancers' addresses (CIDRs, IPv4 or IPv6); a connection from anywhere else is refused with ERR_PROXY_HEADER. Default: loopback only. */
  proxyTrusted?: string[];
  /** A whole PROXY header must arrive within this many ms of the connection, else ERR_PROXY_HEADER. Default 3000; 0 = never. */
  proxyTimeout?: number;
  /**
   * websocket framing: the upgrade (the request, onUpgrade's answer; a client: the
   * server's 101) must be done within this many ms of its start (after the PROXY
   * header and TLS), else ERR_UPGRADE (a server answers 408). Default 10000; 0 = never.
   */
  upgradeTimeout?: number;
  /** websocket framing: the longest upgrade request (or a client's 101) head, in bytes; a longer one is answered 431 (ERR_UPGRADE). Default 8192. */
  maxUpgradeBytes?: number;
  /** websocket framing: after close(code, reason), how many ms our close frame waits for the peer's before our FIN. Default 5000. */
  closeTimeout?: number;
  /** Aborting closes the endpoint, as close() does. */
  signal?: AbortSignal;
  /**
   * Serve TLS: options for Node's tls (cert, key, ca, requestCert, ALPNProtocols…),
   * plus handshakeTimeout. Every socket served is wrapped at connection start and
   * opens once its handshake is done; decrypted bytes take the copying read path.
   */
  tls?: TlsServerOptions;
}

/** Builds a core from options; the endpoint takes it as a parameter so net/ never names a concrete core. */
export type CoreFactory = (kind: CoreKind, options: CoreOptions) => Promise<Core>;

export interface EndpointEvents {
  /** A connection opened (after onOpen). */
  connection: [connection: Connection];
  /** Something closed one connection (or refused one: its id is null). */
  clientError: [error: RingwireError, connection: ConnectionInfo];
  listening: [];
  /** Every connection has closed after close(). */
  close: [];
  /** The listening socket failed after listen() resolved. */
  error: [error: Error];
  /** This thread's event loop was blocked for `ms` (more than stallTimeout); reported once it runs again. */
  stall: [info: StallInfo];
  /** A thread's onStop threw (ERR_HANDLER) or overran drainTimeout (ERR_DRAIN_TIMEOUT; a worker thread is then terminated). Without a listener: a process warning. */
  stopError: [error: RingwireError, info: { thread: number; threads: number }];
}

/**
 * The worst-case resident memory of a process serving with an endpoint, fixed at
 * start: what the process held then, plus what the endpoint can add.
 */
export interface MemoryBudget {
  /**
   * The process's resident memory (RSS) when the endpoint started, before any
   * connection: Node, V8, the code loaded, the core compiled, the application's
   * state at that time. 0 from memoryBudget(), which plans without a process.
   */
  baseline: number;
  /** The core's shared memory: header, stats, frame list, slots and every ring. */
  rings: number;
  /**
   * Each connection's own state beyond its rings: maxConnections × CONNECTION_STATE_BYTES
   * (socket, libuv handle, Connection, heap growth) plus the slots beyond them ×
   * QUARANTINED_STATE_BYTES (a quarantined connection has given back its socket,
   * descriptor, queue and tx ring; its slot and rx ring are in `rings`).
   */
  connections: number;
  /** Replies queued beyond the tx rings, at most: min(maxConnections × maxQueued, maxQueuedTotal). */
  queued: number;
  total: number;
}

/**
 * Resident memory one connection costs beyond its rings. Measured with `ringwire
 * serve` on Node 24: 1,024 connections that each echoed a frame added 30.6 KiB
 * each, 8 KiB of it the ring pages they touched (counted in `rings`): ~23 KiB of
 * socket, handle, Connection and heap; counted as 32 KiB for V8's heap growth.
 */
export const CONNECTION_STATE_BYTES = 32 * 1024;

/**
 * Heap a quarantined connection still holds (its Connection and closed socket objects,
 * the handler's pending promise). Measured on Node 24: 1,000 connections quarantined
 * after ERR_HANDLER_TIMEOUT held 5.9 KB of V8 heap each after a GC; counted as 8 KiB.
 */
export const QUARANTINED_STATE_BYTES = 8 * 1024;

export {
  DEFAULT_CONCURRENCY, DEFAULT_EVICT_AFTER, DEFAULT_FRAME_TIMEOUT, DEFAULT_HANDLER_TIMEOUT, DEFAULT_IDLE_TIMEOUT, DEFAULT_KEEPALIVE, DEFAULT_MAX_QUEUED_TOTAL,
  DEFAULT_MIN_RATE, DEFAULT_MIN_RATE_WINDOW, DEFAULT_PROXY_TIMEOUT, DEFAULT_STALL_TIMEOUT, DEFAULT_WRITE_TIMEOUT, MAX_CONCURRENCY, queueLimits,
} from './endpoint-config.ts';

/** The worst-case memory of an endpoint with this core configuration and these queue limits, in a process that held `baseline` bytes at start. */
export function memoryBudget(config: CoreConfig, maxQueued?: number, maxQueuedTotal?: number, maxReply?: number, baseline = 0): MemoryBudget {
  const rings = config.regions.total;
  const connections = config.maxConnections * CONNECTION_STATE_BYTES + (config.slots - config.maxConnections) * QUARANTINED_STATE_BYTES;
  const perConnection = queueLimits(config, maxQueued, maxReply).maxQueued;
  const queued = Math.min(config.maxConnections * perConnection, maxQueuedTotal ?? Math.max(DEFAULT_MAX_QUEUED_TOTAL, perConnection));
  return { baseline, rings, connections, queued, total: baseline + rings + connections + queued };
}

let warnedCopy = false;
let warnedStreamWrite = false;

export class Endpoint<Data = any> extends EventEmitter<EndpointEvents> implements ConnectionHost, Dialer {
  /** Open connections, in the order they opened (a Set: no id string kept as a key for each). */
  readonly connections = new Set<Connection<Data>>();
  readonly handler: Handler<Data>;
  readonly [kTakesFrames]: boolean;
  /** How its connections write: EndpointOptions.writePath as start() decided it (chooseWritePath). */
  get [kWritePath](): WritePath {
    return this.chosenWritePath;
  }
  private chosenWritePath: WritePath = 'stream';
  private choosingWritePath: Promise<WritePath> | undefined;
  /** sendTo, publish, join, leave: this endpoint's connections as actors (router.ts). */
  readonly router: Router = new Router(this);
  [kDelivering]: Connection | null = null;
  protected closing: Promise<void> | undefined;
  /** The net.Server whose sockets these are, if any: adopted sockets count as its connections. */
  protected listener: net.Server | null = null;
  private coreInstance: Core | undefined;
  private limitsResolved: ConnectionLimits | undefined;
  /** The process's resident memory once start() had built the core (MemoryBudget.baseline). */
  private baseline = 0;
  /** Connections with replies to flush at the end of the read callback or of the event loop's turn (Connection.flushQueued marks them). */
  private readonly dirty: Connection[] = [];
  /** TLS connections with replies to flush at the end of the event loop's turn, never of a read callback (see flushLater()). */
  private readonly turnEnd: Connection[] = [];
  private flushScheduled = false;
  /** Inside a read callback (enterRead/leaveRead): its replies are written when it returns, with no tick. */
  private reading = 0;
  /** The end of the event loop's turn (setImmediate): everyone collected. */
  private readonly flushTurn = () => {
    this.flushScheduled = false;
    flushAll(this.dirty);
    flushAll(this.turnEnd);
  };
  /** Replies queued beyond the tx rings, over every connection (maxQueuedTotal): who pays when it runs out. */
  private readonly budget: QueueBudget;
  private sweeper: NodeJS.Timeout | undefined;
  /**
   * Connections that read or wrote since they last gave their rings back ([kActive]):
   * the ring sweep walks only these, so idle connections cost it nothing. Running
   * only while there are some.
   */
  private readonly ringHolders = new Set<Connection>();
  private ringSweeper: NodeJS.Timeout | undefined;
  private deadlines: Deadlines | undefined;
  private addresses: AddressTable | undefined;
  /** proxyProtocol is on: the balancers it trusts. */
  private proxyTrusted: AddressRanges | undefined;
  /** Who gives up its slot for a newcomer at the limit (undefined: evictAfter 0, never). */
  private evictions: EvictionOrder | undefined;
  private tlsContext: TlsContext | undefined;
  /** websocket framing: every connection upgrades before framing (upgrade-stage.ts); undefined with other framings. */
  private upgrade: UpgradeSettings | undefined;
  /** Connections whose TLS handshake is under way: when it started (performance.now()) and its limit in ms (0: none). */
  private readonly handshakes = new Map<Connection<Data>, { start: number; timeout: number }>();
  /** The address-table entry each open connection holds (maxConnectionsPerIp). */
  private readonly addressEntries = new Map<Connection, number>();
  private heartbeat: Heartbeat | undefined;
  private drained: (() => void) | undefined;
  /** The drain under way, once close() is called. */
  private draining: Drain | undefined;
  /** A worker thread's gate (serve-in-worker.ts): FINs wait until every thread of the server is quiet. */
  [DRAIN_GATE]: DrainGate = () => Promise.resolve();
  /** The options, resolved and checked once (endpoint-config.ts). */
  private readonly options: EndpointConfig<Data>;
  /** Renders stats() as text for metrics(): given by the public API (index.ts), so net/ never imports metrics/. */
  private readonly renderMetrics: StatsRenderer | undefined;
  private readonly makeCore: CoreFactory;

  constructor(options: EndpointOptions<Data>, makeCore: CoreFactory, renderMetrics?: StatsRenderer) {
    super();
    const config = endpointConfig(options);
    this.options = config;
    this.makeCore = makeCore;
    this.renderMetrics = renderMetrics;
    this.handler = config.handler;
    this[kTakesFrames] = takesFrames(config.handler);
    this.budget = new QueueBudget(config.maxQueuedTotal ?? DEFAULT_MAX_QUEUED_TOTAL, () => this.connections.values());
    this.proxyTrusted = config.proxyTrusted;
    if (typeof config.core === 'object') this.coreInstance = config.core;
    if (config.signal) {
      if (config.signal.aborted) queueMicrotask(() => void this.close());
      else config.signal.addEventListener('abort', () => void this.close(), { once: true });
    }
  }

  get core(): Core {
    if (!this.coreInstance) throw configError('the core is built by start() or listen(): call one of them first');
    return this.coreInstance;
  }

  get [kLimits](): ConnectionLimits {
    if (!this.limitsResolved) throw configError('the endpoint is not started: call start() or listen() first');
    return this.limitsResolved;
  }

  /** Build the core (once) and resolve the limits. listen() does it; call it alone to serve sockets given with serve(). */
  async start(): Promise<Core> {
    const o = this.options;
    this.coreInstance ??= await this.makeCore(o.core as CoreKind, { ...o.coreOptions, mode: this[kTakesFrames] ? 'handler' : 'echo' });
    // Once per thread it probes a real write (direct-write.ts); the limits below are resolved without awaiting anything.
    this.chosenWritePath = await (this.choosingWritePath ??= chooseWritePath(o.writePath));
    if (!this.limitsResolved) {
      const { maxQueued, maxReply, maxQueuedTotal } = queueBudget(this.coreInstance.config, o);
      this.budget.max = maxQueuedTotal;
      const d: Deadlines = {
        idle: o.idleTimeout, write: o.writeTimeout, handler: o.handlerTimeout, frame: o.frameTimeout, minRate: o.minRate, window: o.minRateWindow,
        header: o.proxyTimeout, handshake: 0, upgrade: 0,
      };
      if (isWebSocket(this.coreInstance)) {
        this.upgrade = { limit: o.maxUpgradeBytes, timeout: o.upgradeTimeout, closeTimeout: o.closeTimeout };
        d.upgrade = o.upgradeTimeout;
      }
      if (o.tls) {
        this.tlsContext = new TlsContext(o.tls);
        d.handshake = this.tlsContext.handshakeTimeout;
      }
      this.deadlines = d;
      if (o.evictAfter > 0) this.evictions = new EvictionOrder(o.evictAfter, d.minRate);
      if (o.maxConnectionsPerIp > 0) this.addresses = new AddressTable(o.addressTable ?? createAddressTable(this.coreInstance.config.slots));
      // Always beating: besides stalls, it measures the event-loop lag that stats() and metrics report.
      this.heartbeat = new Heartbeat(o.heartbeat, o.stallTimeout, info => {
        if (this.listenerCount('stall') > 0) this.emit('stall', info);
      }, this.coreInstance.stats);
      if (this.coreInstance.config.mode === MODE_ECHO && this[kTakesFrames]) throw configError('this core runs the echo (mode echo): a handler needs a core built with mode \'handler\'');
      this.limitsResolved = { maxQueued, maxReply, concurrency: o.concurrency };
      // Measured once the core is built (its code compiled, its header written) and before any
      // connection: RSS from the OS (/proc/self/statm on Linux). The few ring pages written so
      // far are counted twice (here and in `rings`): the bound errs on the safe side.
      this.baseline = process.memoryUsage.rss();
    }
    return this.coreInstance;
  }

  /** Bytes of replies queued beyond the tx rings right now, over every connection. */
  get queuedBytes(): number {
    return this.budget.bytes;
  }

  /** The worst-case resident memory of this process while it serves with this endpoint: the baseline measured at start() plus what the endpoint can add. */
  memoryBudget(): MemoryBudget {
    return memoryBudget(this.core.config, this[kLimits].maxQueued, this.budget.max, this[kLimits].maxReply, this.baseline);
  }

  /** Statistics in the shape every ringwire server uses: totals and one entry per thread. */
  stats(): ServerStats {
    const own = this.core.stats.snapshot();
    const state: ThreadState = this.closing ? (this.connections.size > 0 ? 'closing' : 'closed') : 'running';
    return { total: own, workers: [{ ...own, worker: 0, threadId, state, restarts: 0 }] };
  }

  /**
   * The statistics as Prometheus text (format 0.0.4), read now: see MetricsRegistry
   * to mount them. For an endpoint built by createServer() or createEndpoint().
   */
  metrics(options?: { process?: boolean }): string {
    if (!this.renderMetrics) throw configError('metrics() renders through the public API: build the endpoint with createServer() or createEndpoint()');
    return this.renderMetrics(this, options);
  }

  /**
   * Serve a connected socket: one that has not started reading (accepted with
   * pauseOnConnect, or transferred from another thread). start() must have
   * resolved. Returns its Connection, or null when it was refused (the endpoint
   * is closing, or every slot is taken and none could be evicted: ERR_TOO_MANY_CONNECTIONS).
   */
  serve(raw: net.Socket): Connection<Data> | null {
    if (this.closing) {
      raw.destroy();
      return null;
    }
    const core = this.core;
    // Read from the handle, not through raw.remoteAddress: Node would cache it on the socket, which the copying path keeps.
    const peer = peerAddress(raw);
    const who = { id: null, remoteAddress: peer.address, remotePort: peer.port };
    // A Unix-socket peer has no address: the socket file's permissions decide who connects, so it may send a PROXY header (unix-socket.ts).
    const unix = isUnixSocket(raw);
    if (this.proxyTrusted && !unix && who.remoteAddress === undefined) {
      // Reset before we got to it (a balancer's health check that connects and resets): no peer to trust or refuse.
      raw.destroy();
      return null;
    }
    if (this.proxyTrusted && !unix && !this.proxyTrusted.has(who.remoteAddress)) {
      this[kClientError](ringwireError(E_PROXY_HEADER, `connection from ${who.remoteAddress}:${who.remotePort} refused: only the load balancers in proxyTrusted (${this.proxyTrusted.text}) may connect, with a PROXY header`), who);
      raw.destroy();
      return null;
    }
    let entry = UNTRACKED;
    if (this.addresses && !this.proxyTrusted) {
      // Behind a balancer the client's address is known only from its header: counted then (identified()).
      const cap = this.options.maxConnectionsPerIp;
      entry = this.addresses.acquire(addressKey(who.remoteAddress), cap);
      if (entry === REFUSED) {
        this[kClientError](ringwireError(E_TOO_MANY_PER_IP, `connection from ${who.remoteAddress}:${who.remotePort} refused: ${cap} connection(s) from that address already (maxConnectionsPerIp)`), who);
        raw.destroy();
        return null;
      }
    }
    let slot = this.openSlot();
    if (slot === -OPEN_NO_SLOT) slot = this.evictFor(raw);
    if (slot < 0) {
      this.addresses?.release(entry);
      const err = slot === -OPEN_NO_MEMORY
        ? poolExhausted(core, `from ${peerName(raw)} to open: refused`)
        : this.noSlot(`connection from ${peerName(raw)} refused`);
      this[kClientError](err, who);
      raw.destroy();
      return null;
    }
    raw.setNoDelay(this.options.noDelay);
    const keepAlive = this.keepAliveDelay();
    if (keepAlive !== false) raw.setKeepAlive(true, keepAlive);
    const tls = this.tlsContext;
    // TLS first (no PROXY header before it): the TLSSocket over this socket, which reads decrypted bytes into
    // the rx ring once it opens (readInto(), in whenSecure()) where this Node lets it, else copies its chunks.
    const secure = tls && !this.proxyTrusted ? tls.wrap(raw) : null;
    let zeroCopy = this.options.zeroCopy && (secure ? canReadInto(secure) : !tls);
    if (zeroCopy && !secure && !canAdopt(raw)) {
      zeroCopy = false;
      if (!warnedCopy) {
        warnedCopy = true;
        process.emitWarning('this Node cannot read accepted sockets into WASM memory; ringwire falls back to copying', { code: 'RINGWIRE_COPY_FALLBACK' });
      }
    }
    if (this[kWritePath] === 'direct' && !warnedStreamWrite && !canWriteDirect(raw)) {
      warnedStreamWrite = true;
      process.emitWarning('this Node cannot write to sockets through their handles; ringwire falls back to socket.write', { code: 'RINGWIRE_STREAM_WRITE_FALLBACK' });
    }
    // The one place a connection's socket is chosen: adopted (zero-copy), as accepted (copying), or wrapped in
    // TLS: at once, or, behind a balancer, once the PROXY header that precedes the ClientHello is read (startTls()).
    const listener = this.listener;
    let secureTarget: ReadTarget | null = null;
    const source = (target: ReadTarget | null) => {
      if (!secure) return target ? adopt(raw, listener, target) : raw;
      secureTarget = target;
      return secure;
    };
    const connection = new Connection<Data>(this, slot, nextConnectionId(slot), this.handler, source, zeroCopy);
    if (this.proxyTrusted) connection[kExpectHeader](this.options.proxyProtocol!, this.options.proxyTimeout);
    if (this.upgrade) connection[kExpectUpgrade](this.upgrade);
    connection[kInbound] = true;
    if (entry >= 0) this.addressEntries.set(connection, entry);
    if (!tls) {
      this.register(connection);
    } else if (secure) {
      this.handshake(connection, tls.handshakeTimeout);
      this.whenSecure(connection, tls, secure, () => {
        if (secureTarget) readInto(secure, secureTarget, connection[kNextSpan]()); // before it reads: kStart() takes what was decrypted so far
        this.register(connection);
      });
    } else {
      // Registered now (the PROXY header's deadline is the sweep's); the handshake and its deadline start after the header.
      connection[kTlsAfterHeader] = r => {
        const socket = tls.wrap(r);
        this.handshake(connection, tls.handshakeTimeout);
        this.whenSecure(connection, tls, socket, () => connection[kSecured]());
        return socket;
      };
      this.register(connection);
    }
    return connection;
  }

  /** Once the handshake is done and the client's certificate passes (requestCert), the connection opens with `open`. */
  private whenSecure(connection: Connection<Data>, tls: TlsContext, socket: TLSSocket, open: () => void): void {
    socket.once('secure', () => {
      const refused = tls.refusal(socket);
      if (refused) return connection[kFail](ringwireError(E_TLS, `client certificate refused: ${refused}`), true);
      this.handshakes.delete(connection);
      connection[kEarlyError] = undefined;
      onRecordFailure(socket, err => connection[kFail](err, true));
      open();
    });
  }

  /** Connections with a socket now: the slots held, less the quarantined ones (maxConnections caps these). */
  private live(): number {
    const stats = this.core.stats;
    return stats.get(S_CONNECTIONS) - stats.get(S_QUARANTINED);
  }

  /** A slot for a new connection: -OPEN_NO_SLOT at maxConnections live, or when the quarantined hold every other slot. */
  private openSlot(): number {
    return this.live() < this.core.config.maxConnections ? this.core.open() : -OPEN_NO_SLOT;
  }

  /** Why openSlot() found none: the live connections are at the limit, or hung handlers hold the slots beyond it. */
  private noSlot(what: string): RingwireError {
    const { maxConnections, slots } = this.core.config;
    const live = this.live();
    if (live >= maxConnections) return ringwireError(E_TOO_MANY_CONNECTIONS, `${what}: ${live} connection(s) open already (maxConnections ${maxConnections})`);
    const quarantined = this.core.stats.get(S_QUARANTINED);
    return ringwireError(E_TOO_MANY_CONNECTIONS, `${what}: ${live} of ${maxConnections} connections are open, but all ${slots} slots are held: ${quarantined} by connections closed while their handler has not settled (quarantined; quarantineSlots ${slots - maxConnections})`);
  }

  /** Every slot is taken: evict the connection whose incomplete frame arrives slowest (eviction-order.ts) and take its slot; -1 if none qualifies. */
  private evictFor(raw: net.Socket): number {
    const now = performance.now();
    const evictions = this.evictions;
    const victim = evictions?.pick(this.connections.values(), now);
    if (!victim) return -1;
    const waited = Math.round(now - victim[kWaitStart]);
    const rate = evictions!.rate(victim, now).toFixed(1);
    const minRate = this.deadlines!.minRate;
    victim[kEvict](ringwireError(E_EVICTED, `evicted for a new connection from ${peerName(raw)}: no slot free (maxConnections ${this.core.config.maxConnections}), and this one's incomplete frame arrived slowest, at ${rate} bytes/s${minRate > 0 ? ` (minRate ${minRate})` : ''} after ${waited} ms (evictAfter ${this.options.evictAfter} ms)`));
    return this.openSlot();
  }

  /**
   * A TLS handshake starts: the connection waits in `handshakes` (the sweep closes
   * it past the deadline), and a socket error until it opens is ERR_TLS.
   */
  private handshake(connection: Connection<Data>, timeout: number): void {
    this.handshakes.set(connection, { start: performance.now(), timeout });
    connection[kEarlyError] = tlsError;
    if (!this.sweeper) this.startSweep(timeout);
  }

  /** A connection is connected: track it and start it (it runs its hooks, or waits for its PROXY header). */
  private register(connection: Connection<Data>): void {
    connection[kEarlyError] = undefined;
    this.connections.add(connection);
    this.router.opened(connection);
    if (!this.sweeper) this.startSweep();
    this[kActive](connection); // it opened with an rx ring
    connection[kStart]();
  }

  /** TCP keepalive for every connection: false, or the idle ms before the first probe (0: the system's). */
  private keepAliveDelay(): number | false {
    return this.options.keepAlive;
  }

  /**
   * Connect out: a framed client on this endpoint's core (its framing, limits and
   * budgets), with its own hooks (default: this endpoint's). start() must have
   * resolved. See client.ts for reconnect and sending while disconnected.
   */
  connect<D = Data>(options: ConnectOptions<D>): RingwireClient<D> {
    if (this.closing) throw configError('connect() after close()');
    const own = CONNECTION_HOOKS.some(name => (options as ConnectionHooks<D>)[name] !== undefined);
    const hooks: ConnectOptions<D> = own ? options : { ...(this.handler as unknown as Handler<D>), ...options };
    if (takesFrames(hooks) !== this[kTakesFrames]) {
      throw configError(this[kTakesFrames] ? 'this endpoint hands frames to handlers: give the client onFrame or onConnection' : 'this endpoint echoes in its core: a client with onFrame needs an endpoint built with a handler');
    }
    return new RingwireClient<D>(this, hooks);
  }

  /**
   * Dialer: one connection attempt (TCP or a Unix socket); the Connection opens (start()) once its socket connects. Throws
   * ERR_TOO_MANY_CONNECTIONS without a free slot, ERR_TLS or ERR_SOCKET when its socket cannot be made (its slot given back).
   */
  [kDial](to: Destination, handler: Handler, connectTimeout: number, tls?: TlsClientOptions, websocket?: UpgradeTarget): Connection {
    const core = this.core;
    const where = describeDestination(to);
    if (websocket && !this.upgrade) throw configError('the websocket option asks for an upgrade: the endpoint\'s framing must be websocket');
    const who = { id: null, remoteAddress: 'host' in to ? to.host : undefined, remotePort: 'port' in to ? to.port : undefined };
    const handshakeTimeout = tls ? clientHandshakeTimeout(tls) : 0;
    const slot = this.openSlot();
    if (slot < 0) {
      const err = slot === -OPEN_NO_MEMORY
        ? poolExhausted(core, `to ${where} to open`)
        : this.noSlot(`cannot connect to ${where}`);
      this[kClientError](err, who);
      throw err;
    }
    const zeroCopy = this.options.zeroCopy; // client sockets take onread through Node's public API
    const keepAlive = this.keepAliveDelay();
    const socketOptions = {
      ...to, allowHalfOpen: true, noDelay: this.options.noDelay,
      keepAlive: keepAlive !== false, keepAliveInitialDelay: keepAlive || 0,
    };
    const source = (target: ReadTarget | null) => (tls ? connectTls(to, tls, socketOptions)
      : net.connect({ ...socketOptions, ...(target ? { onread: target } : {}) } as net.NetConnectOpts));
    let connection: Connection;
    try {
      connection = new Connection(this, slot, nextConnectionId(slot), handler, source, zeroCopy && !tls);
    } catch (thrown) {
      // The socket could not even be made (a bad port, a TLS key that does not load): no socket holds the
      // slot, so it goes back now, counted as closed by this error, and every attempt reports its real cause.
      const err = ringwireError(tls ? E_TLS : E_SOCKET, `cannot connect to ${where}: ${thrown instanceof Error ? thrown.message : String(thrown)}`, thrown);
      core.close(slot);
      this[kClientError](err, who);
      core.stats.closed(err.number);
      throw err;
    }
    if (this.upgrade) {
      core.websocketClient(slot); // its frames go out masked, the server's must come unmasked
      // The Host header: the one given, else what was dialled (a Unix socket has none: localhost).
      const host = websocket?.host ?? ('port' in to ? `${to.host?.includes(':') ? `[${to.host}]` : to.host ?? '127.0.0.1'}:${to.port}` : 'localhost');
      connection[kExpectUpgrade]({ ...this.upgrade, target: { ...websocket, host } });
    }
    const socket = connection.socket;
    const timer = setTimeout(() => socket.destroy(Object.assign(new Error(`connect to ${where} timed out after ${connectTimeout} ms`), { code: 'ETIMEDOUT' })), connectTimeout);
    socket.once('close', () => clearTimeout(timer));
    socket.once('connect', () => {
      clearTimeout(timer);
      if (!tls) return this.register(connection as Connection<Data>);
      // Connected: the handshake is next, and its deadline the sweep's; tls.connect has checked the server's certificate by 'secureConnect'.
      this.handshake(connection as Connection<Data>, handshakeTimeout);
      socket.once('secureConnect', () => {
        this.handshakes.delete(connection as Connection<Data>);
        onRecordFailure(socket as TLSSocket, err => connection[kFail](err, true));
        this.register(connection as Connection<Data>);
      });
    });
    return connection;
  }

  get [kMaxQueued](): number {
    return this[kLimits].maxQueued;
  }

  [kReplyRefusal](payload: Uint8Array): RingwireError | null {
    return replyRefusal(this.core.check(payload), payload.length, this.core.config, this[kLimits].maxReply);
  }

  /**
   * Stop taking connections and drain (drain.ts): answer every frame read, let
   * pending handlers settle and what they send be delivered, then FIN every
   * connection; resolve once all are closed, or drainTimeout after the call, when
   * what is still unanswered is reset (ERR_DRAIN_TIMEOUT) and the rest given its FIN.
   */
  close(): Promise<void> {
    this.closing ??= (async () => {
      const stopped = this.stopAccepting();
      for (const c of this.handshakes.keys()) c.destroy(); // not open yet: no hooks ran, none run
      const allClosed = this.connections.size === 0 ? Promise.resolve() : new Promise<void>(resolve => (this.drained = resolve));
      this.draining = new Drain(this);
      const drained = this.draining.run(this.options.drainTimeout, this[DRAIN_GATE], allClosed);
      await stopped;
      await drained;
      clearInterval(this.sweeper);
      this.sweeper = undefined;
      clearInterval(this.ringSweeper);
      this.ringSweeper = undefined;
      this.heartbeat?.stop();
      this.router.detach();
      this.emit('close');
    })();
    return this.closing;
  }

  /** Stop accepting new sockets (a server closes its listener here). */
  protected stopAccepting(): Promise<void> {
    return Promise.resolve();
  }

  // ---- ConnectionHost ----

  [kConnectionOpened](connection: Connection): void {
    if (this.connections.has(connection as Connection<Data>)) this.emit('connection', connection as Connection<Data>);
  }

  /** maxConnectionsPerIp behind a balancer: the client's address is the one the header names (without one, serve() counted it). */
  [kIdentified](connection: Connection): boolean {
    if (!this.addresses || !this.proxyTrusted) return true;
    const cap = this.options.maxConnectionsPerIp;
    const entry = this.addresses.acquire(addressKey(connection.remoteAddress), cap);
    if (entry === REFUSED) {
      connection[kFail](ringwireError(E_TOO_MANY_PER_IP, `connection from ${connection.remoteAddress}:${connection.remotePort} (through ${connection.socketRemoteAddress}) refused: ${cap} connection(s) from that address already (maxConnectionsPerIp)`));
      return false;
    }
    if (entry >= 0) this.addressEntries.set(connection, entry);
    return true;
  }

  [kHoldFin](connection: Connection): boolean {
    return this.draining?.hold(connection) ?? false;
  }

  [kEnter](connection: Connection): void {
    this[kDelivering] = connection;
  }

  [kLeave](): void {
    this[kDelivering] = null;
  }

  /** Write what flushLater() collected now, not at the end of the turn (the router, between its batches). */
  [kFlushNow](): void {
    flushAll(this.dirty);
    // Inside a read a TLS connection's flush puts it back on turnEnd (writer.ts flush()): it waits for the turn's end.
    if (this.reading === 0) flushAll(this.turnEnd);
  }

  /**
   * Replies sent outside a read callback are written once per connection per turn
   * of the event loop, from setImmediate: every handler that resumes in one turn
   * (a timer's callbacks, setImmediate's, I/O completions in the poll phase, and
   * the microtasks after each) has sent by then, so their replies leave in one
   * write. (process.nextTick, used before, runs after each timer and each
   * immediate callback: with handlers awaiting either, one write per reply.)
   * Replies sent inside a read callback (sync handlers) are written as it returns
   * (leaveRead), with no scheduling and no added latency.
   *
   * Except with TLS: Node decrypts every record one TCP read brought, one read
   * callback each, and a TLS socket takes one write at a time (writer.ts flush()),
   * so the first record's replies would leave at once and the others' a turn
   * later, when that write completes: two writes where one would do, and a peer
   * that answers each write it receives splits its next batch in two as well, for
   * good (docs/tls.md). JavaScript cannot see where a TCP read's records end, so a
   * TLS connection's replies wait for the end of the turn (the check phase, right
   * after the poll phase that read them), and one read's replies leave as one
   * write, with those of every other read of that turn (less than a record's worth:
   * a whole record's leaves at once, writer.ts flush()).
   */
  [kFlushLater](connection: Connection): void {
    if (connection[kFlushQueued]) return;
    connection[kFlushQueued] = true;
    const turnEnd = connection.tls !== null;
    (turnEnd ? this.turnEnd : this.dirty).push(connection);
    if (!this.flushScheduled && (turnEnd || this.reading === 0)) {
      this.flushScheduled = true;
      setImmediate(this.flushTurn);
    }
  }

  /** Inside a read callback: a TLS connection's writes wait for the end of the turn (flushLater()). */
  get [kInRead](): boolean {
    return this.reading > 0;
  }

  [kEnterRead](): void {
    this.reading++;
  }

  [kLeaveRead](): void {
    if (--this.reading === 0) flushAll(this.dirty);
  }

  [kQueue](delta: number, from?: Connection): boolean {
    return this.budget.charge(delta, from);
  }

  /** Count and report an error that closes (or refuses) one connection. */
  [kClientError](err: RingwireError, connection: ConnectionInfo): void {
    // The cores count the framing errors they find; the host counts its own.
    if (!ERROR_BY_CORE[err.number]) this.core.stats.error(err.number);
    if (this.listenerCount('clientError') > 0) this.emit('clientError', err, connection);
  }

  [kClosed](connection: Connection, error: RingwireError | undefined, reason: NormalClose): void {
    this.connections.delete(connection as Connection<Data>); // if still in `dirty`, its flush() is a no-op now
    this.ringHolders.delete(connection);
    if (this.handshakes.delete(connection as Connection<Data>)) {
      // A peer that hangs up mid-handshake (or a plain-TCP client that sent nothing) failed it too.
      if (!error && !this.closing) this[kClientError](error = ringwireError(E_TLS, 'the peer closed the connection during the TLS handshake'), connection);
      this.stopSweepIfIdle();
    }
    this.core.stats.closed(error?.number ?? reason); // every slot closed, opened or not: accepted - connections
    const entry = this.addressEntries.get(connection);
    if (entry !== undefined) {
      this.addressEntries.delete(connection);
      this.addresses!.release(entry);
    }
    this.router.closed(connection);
    this.draining?.closed(connection);
    // Never opened (an outbound attempt that never connected, a bad PROXY header): no hooks ran, none run now.
    if (connection[kOpened]) {
      try {
        const r = connection[kHandler].onClose?.(connection, error);
        if (r && typeof r.then === 'function') r.then(undefined, (e: unknown) => this[kClientError](handlerError(e), connection));
      } catch (err) {
        // The connection is gone; the failure is still reported and counted.
        this[kClientError](handlerError(err), connection);
      }
    }
    if (this.connections.size === 0) {
      this.stopSweepIfIdle();
      this.drained?.();
    }
  }

  private stopSweepIfIdle(): void {
    if (this.connections.size > 0 || this.handshakes.size > 0) return;
    clearInterval(this.sweeper);
    this.sweeper = undefined;
  }

  [kActive](connection: Connection): void {
    connection[kHoldsRings] = true; // with ringIdleTimeout 0 it keeps its rings: no list, no sweep
    const idle = this.options.ringIdleTimeout;
    if (idle === 0) return;
    this.ringHolders.add(connection);
    if (this.ringSweeper) return;
    this.ringSweeper = setInterval(this.sweepRings, Math.max(1, idle / 2));
    this.ringSweeper.unref();
  }

  /** Ring holders idle for ringIdleTimeout give their rings back, and leave the list once they hold none. */
  private readonly sweepRings = () => {
    const now = performance.now();
    const idle = this.options.ringIdleTimeout;
    // forEach, not for-of: a timer's loop may run unoptimized, and for-of then makes an object per element.
    this.ringHolders.forEach(c => {
      if (now - c[kLastActive] > idle && c[kShrink]()) {
        c[kHoldsRings] = false;
        this.ringHolders.delete(c);
      }
    });
    if (this.ringHolders.size > 0) return;
    clearInterval(this.ringSweeper);
    this.ringSweeper = undefined;
  };

  /**
   * One coarse timer per endpoint for every deadline, running only while
   * connections exist. Its period is a quarter of the smallest limit (10 ms … 1 s).
   */
  private startSweep(handshake = 0): void {
    const d = this.deadlines!;
    const limits = [d.write, d.idle, d.handler, d.frame, d.minRate > 0 ? d.window : 0, d.header, d.handshake, d.upgrade, handshake].filter(v => v > 0);
    // With no deadline at all it runs once a second and judges nothing (cheaper than deciding per connection whether to start it).
    const period = limits.length ? Math.max(10, Math.min(1000, Math.min(...limits) / 4)) : 1000;
    let last = performance.now(), skipped = false;
    this.sweeper = setInterval(() => {
      // A sweep a period or more late means this thread's loop was stalled (a long synchronous handler, a
      // GC): what peers sent meanwhile is still in the kernel, and the poll phase reads it after the timers.
      // Judging now would blame them for the stall (ERR_TOO_SLOW, an idle or frame timeout): skip one sweep,
      // never two in a row (a loop that is always that slow still gets its deadlines).
      const now = performance.now();
      skipped = !skipped && now - last >= 2 * period;
      last = now;
      if (!skipped) this.sweep(d);
    }, period);
    this.sweeper.unref();
  }

  private sweep(d: Deadlines): void {
    const now = clock(); // whole ms, as the connections' clocks
    for (const [c, h] of this.handshakes) {
      if (h.timeout > 0 && now - h.start > h.timeout) {
        c[kFail](ringwireError(E_TLS_TIMEOUT, `the TLS handshake did not finish in ${Math.round(now - h.start)} ms (handshakeTimeout ${h.timeout} ms)`), true);
      }
    }
    // forEach, not for-of: a timer's loop may run unoptimized, and for-of then makes an object per connection.
    this.connections.forEach(c => this.judge(c, d, now));
  }

  /** One connection's deadlines at `now`. */
  private judge(c: Connection, d: Deadlines, now: number): void {
    const stage = c[kStage];
    if (stage !== null && stage.since > 0 && stage.timeout > 0 && now - stage.since > stage.timeout) {
      // Before framing (nothing is in the rx ring, so only this and the idle timeout can apply).
      c[kStageExpired](now - stage.since);
      return;
    }
    if (d.write > 0 && c[kWriting] && now - c[kLastProgress] > d.write) {
      c[kFail](ringwireError(E_SLOW_CONSUMER, `no write progress for ${Math.round(now - c[kLastProgress])} ms (writeTimeout ${d.write} ms)`), true);
      return;
    }
    const since = c[kHandlerSince];
    if (d.handler > 0 && since > 0 && now - since > d.handler) {
      // Its socket and descriptor go now; its slot once the promise settles (quarantined).
      c[kFail](ringwireError(E_HANDLER_TIMEOUT, `a handler did not settle in ${Math.round(now - since)} ms (handlerTimeout ${d.handler} ms)`), true);
      return;
    }
    if (d.idle > 0 && now - c[kLastActive] > d.idle && !c[kWriting]) {
      // With a handler pending, a graceful close would wait for it: the socket goes now (no CLOSE_WAIT).
      c[kFail](ringwireError(E_IDLE_TIMEOUT, `no traffic for ${Math.round(now - c[kLastActive])} ms (idleTimeout ${d.idle} ms)`), since > 0);
      return;
    }
    if (!c[kAwaitingInput]) {
      c[kWaitStart] = 0; // our wait, not the peer's: the clocks start again when it is the peer's
      return;
    }
    if (c[kWaitStart] === 0) {
      c[kRestartWait](now);
      return;
    }
    if (d.frame > 0 && now - c[kWaitStart] > d.frame) {
      c[kFail](ringwireError(E_FRAME_TIMEOUT, `a frame incomplete for ${Math.round(now - c[kWaitStart])} ms (frameTimeout ${d.frame} ms)`));
    } else if (d.minRate > 0 && now - c[kWindowStart] >= d.window) {
      if (c[kWindowBytes] < d.minRate * d.window / 1000) {
        c[kFail](ringwireError(E_TOO_SLOW, `${c[kWindowBytes]} bytes of an incomplete frame in ${Math.round(now - c[kWindowStart])} ms, under the minimum of ${d.minRate} bytes/s over ${d.window} ms`));
      } else {
        this.evictions?.windowEnded(c, c[kWindowBytes], now - c[kWindowStart], now);
        c[kWindowStart] = now;
        c[kWindowBytes] = 0;
      }
    }
  }
}

/** Who connected, for messages: address:port, or a Unix socket's peer (which has no address). */
function peerName(raw: net.Socket): string {
  return raw.remoteAddress === undefined && isUnixSocket(raw) ? 'a Unix-socket peer' : `${raw.remoteAddress}:${raw.remotePort}`;
}

/** The deadlines an endpoint's sweep checks, in ms (minRate in bytes/s); 0 = off. */
interface Deadlines {
  idle: number;
  write: number;
  handler: number;
  frame: number;
  minRate: number;
  window: number;
  /** proxyTimeout, or 0 without proxyProtocol. */
  header: number;
  /** The server's TLS handshake (a client's comes with its connect options). */
  handshake: number;
  /** upgradeTimeout, or 0 without websocket framing. */
  upgrade: number;
}

/** Does this core speak RFC 6455 frames (websocket framing): its connections upgrade first? */
function isWebSocket(core: Core): boolean {
  return core.config.framing === FRAMING_WEBSOCKET;
}

/** Flush every connection of a flushLater() list, those added while it runs too, and empty it. */
function flushAll(list: Connection[]): void {
  for (let i = 0; i < list.length; i++) {
    const c = list[i]!;
    c[kFlushQueued] = false;
    c[kFlush]();
  }
  list.length = 0;
}
