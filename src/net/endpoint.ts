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
//     maxQueuedTotal in all: the worst-case memory is memoryBudget(), fixed at start;
//   - output that makes no progress for writeTimeout ends its connection
//     (one coarse sweep per endpoint, not a timer per socket);
//   - ids are unique for the life of the process, across worker threads.

import { EventEmitter } from 'node:events';
import net from 'node:net';
import { threadId } from 'node:worker_threads';
import type { CoreConfig, CoreOptions } from '../core/config.ts';
import { MODE_ECHO, type Core, type CoreKind } from '../core/core.ts';
import {
  configError, E_LAST_CORE_ERROR, E_SLOW_CONSUMER, E_TOO_MANY_CONNECTIONS, handlerError, ringwireError, type RingwireError,
} from '../core/errors.ts';
import { RingwireClient, type ConnectOptions, type Dialer } from './client.ts';
import { Connection, type ConnectionHost, type ConnectionInfo, type ConnectionLimits } from './connection.ts';
import { HOOKS, takesFrames, type Handler } from './handler.ts';
import type { ServerStats, ThreadState } from './server-stats.ts';
import { adopt, canAdopt, type ReadTarget } from './socket-adoption.ts';

export interface EndpointOptions<Data = any> extends Omit<CoreOptions, 'mode'>, Handler<Data> {
  /** A core to use, or how to build one at start(). Default 'wasm'. */
  core?: CoreKind | Core;
  /** Close a connection with ERR_IDLE_TIMEOUT after this many ms without traffic. 0 = never (default). */
  idleTimeout?: number;
  /** Close a connection with ERR_SLOW_CONSUMER when its output makes no progress for this many ms. Default 30000; 0 = never. */
  writeTimeout?: number;
  /** Bytes of replies one connection may queue beyond its tx ring. Default 4 × the tx ring, or maxReply if larger. */
  maxQueued?: number;
  /** The largest reply send() takes; one larger than the tx ring is streamed through it. Default 4 × the tx ring. */
  maxReply?: number;
  /** Bytes of replies all connections together may queue beyond their tx rings. Default 64 MiB. */
  maxQueuedTotal?: number;
  /** Read straight into the rings (true, default) or copy 'data' chunks into them (false). */
  zeroCopy?: boolean;
  /** TCP_NODELAY on every connection. Default true. */
  noDelay?: boolean;
  /** TCP keepalive on every connection: false (default), true, or the idle ms before the first probe. */
  keepAlive?: boolean | number;
  /** close(): ms to wait for connections to drain (and pending handlers to settle) before destroying them. Default 10000. */
  drainTimeout?: number;
  /** Aborting closes the endpoint, as close() does. */
  signal?: AbortSignal;
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
}

/** The worst-case memory of an endpoint, fixed at start. */
export interface MemoryBudget {
  /** The core's shared memory: header, stats, frame list, slots and every ring. */
  rings: number;
  /** Replies queued beyond the tx rings, at most: min(slots × maxQueued, maxQueuedTotal). */
  queued: number;
  total: number;
}

export const DEFAULT_WRITE_TIMEOUT = 30_000;
export const DEFAULT_MAX_QUEUED_TOTAL = 64 * 1024 * 1024;

/** Each defaults to 4 tx rings, kept consistent with the other when only one is given (maxReply <= maxQueued). */
export function queueLimits(config: CoreConfig, maxQueued?: number, maxReply?: number): { maxQueued: number; maxReply: number } {
  const four = 4 * config.txSize;
  const queued = maxQueued ?? Math.max(four, maxReply ?? four);
  return { maxQueued: queued, maxReply: maxReply ?? Math.min(four, queued) };
}

/** The worst-case memory of an endpoint with this core configuration and these queue limits. */
export function memoryBudget(config: CoreConfig, maxQueued?: number, maxQueuedTotal = DEFAULT_MAX_QUEUED_TOTAL, maxReply?: number): MemoryBudget {
  const rings = config.regions.total;
  const queued = Math.min(config.slots * queueLimits(config, maxQueued, maxReply).maxQueued, maxQueuedTotal);
  return { rings, queued, total: rings + queued };
}

let nextId = 0;
let warnedCopy = false;

export class Endpoint<Data = any> extends EventEmitter<EndpointEvents> implements ConnectionHost, Dialer {
  /** Open connections by id. */
  readonly connections = new Map<string, Connection<Data>>();
  readonly handler: Handler<Data>;
  readonly takesFrames: boolean;
  delivering: Connection | null = null;
  protected closing: Promise<void> | undefined;
  /** The net.Server whose sockets these are, if any: adopted sockets count as its connections. */
  protected listener: net.Server | null = null;
  private coreInstance: Core | undefined;
  private limitsResolved: ConnectionLimits | undefined;
  private readonly dirty = new Set<Connection>();
  private queuedTotal = 0;
  private maxQueuedTotal: number;
  private sweeper: NodeJS.Timeout | undefined;
  private drained: (() => void) | undefined;
  private readonly options: EndpointOptions<Data>;
  private readonly makeCore: CoreFactory;

  constructor(options: EndpointOptions<Data>, makeCore: CoreFactory) {
    super();
    this.options = options;
    this.makeCore = makeCore;
    const handler: Handler<Data> = {};
    for (const name of HOOKS) {
      const hook = options[name];
      if (hook === undefined) continue;
      if (typeof hook !== 'function') throw configError(`${name} must be a function, got ${typeof hook}`);
      (handler as Record<string, unknown>)[name] = hook;
    }
    if (handler.onFrame && handler.onConnection) throw configError('give onFrame or onConnection, not both: a connection\'s frames go to one of them');
    this.handler = handler;
    this.takesFrames = takesFrames(handler);
    this.maxQueuedTotal = options.maxQueuedTotal ?? DEFAULT_MAX_QUEUED_TOTAL;
    if (typeof options.core === 'object') this.coreInstance = options.core;
    if (options.signal) {
      if (options.signal.aborted) queueMicrotask(() => void this.close());
      else options.signal.addEventListener('abort', () => void this.close(), { once: true });
    }
  }

  get core(): Core {
    if (!this.coreInstance) throw configError('the core is built by start() or listen(): call one of them first');
    return this.coreInstance;
  }

  get limits(): ConnectionLimits {
    if (!this.limitsResolved) throw configError('the endpoint is not started: call start() or listen() first');
    return this.limitsResolved;
  }

  /** Build the core (once) and resolve the limits. listen() does it; call it alone to serve sockets given with serve(). */
  async start(): Promise<Core> {
    if (!this.coreInstance) {
      const {
        core, idleTimeout, writeTimeout, maxQueued, maxReply, maxQueuedTotal, zeroCopy, noDelay, keepAlive, drainTimeout, signal,
        onOpen, onFrame, onDrain, onClose, onConnection, ...coreOptions
      } = this.options;
      this.coreInstance = await this.makeCore((core as CoreKind | undefined) ?? 'wasm', { ...coreOptions, mode: this.takesFrames ? 'handler' : 'echo' });
    }
    if (!this.limitsResolved) {
      const o = this.options;
      const { maxQueued, maxReply } = queueLimits(this.coreInstance.config, o.maxQueued, o.maxReply);
      for (const [name, v] of [['idleTimeout', o.idleTimeout ?? 0], ['writeTimeout', o.writeTimeout ?? 0], ['maxQueued', maxQueued], ['maxReply', maxReply], ['maxQueuedTotal', this.maxQueuedTotal]] as const) {
        if (!Number.isFinite(v) || v < 0) throw configError(`${name} must be a number of at least 0, got ${v}`);
      }
      // A reply being streamed waits in the queue: the queue must be able to hold the largest one.
      if (maxReply > maxQueued) throw configError(`maxReply (${maxReply}) cannot exceed maxQueued (${maxQueued}): a reply larger than the tx ring is queued while it streams`);
      if (this.coreInstance.config.mode === MODE_ECHO && this.takesFrames) throw configError('this core runs the echo (mode echo): a handler needs a core built with mode \'handler\'');
      this.limitsResolved = { idleTimeout: o.idleTimeout ?? 0, maxQueued, maxReply };
    }
    return this.coreInstance;
  }

  /** Bytes of replies queued beyond the tx rings right now, over every connection. */
  get queuedBytes(): number {
    return this.queuedTotal;
  }

  /** The worst-case memory of this endpoint (after start()). */
  memoryBudget(): MemoryBudget {
    return memoryBudget(this.core.config, this.limits.maxQueued, this.maxQueuedTotal);
  }

  /** Statistics in the shape every ringwire server uses: totals and one entry per thread. */
  stats(): ServerStats {
    const own = this.core.stats.snapshot();
    const state: ThreadState = this.closing ? (this.connections.size > 0 ? 'closing' : 'closed') : 'running';
    return { total: own, workers: [{ ...own, worker: 0, threadId, state, restarts: 0 }] };
  }

  /**
   * Serve a connected socket: one that has not started reading (accepted with
   * pauseOnConnect, or transferred from another thread). start() must have
   * resolved. Returns its Connection, or null when it was refused (the endpoint
   * is closing, or every slot is taken: ERR_TOO_MANY_CONNECTIONS).
   */
  serve(raw: net.Socket): Connection<Data> | null {
    if (this.closing) {
      raw.destroy();
      return null;
    }
    const core = this.core;
    const slot = core.open();
    if (slot < 0) {
      const err = ringwireError(E_TOO_MANY_CONNECTIONS, `connection from ${raw.remoteAddress}:${raw.remotePort} refused: all ${core.config.slots} connection slots are in use`);
      this.clientError(err, { id: null, remoteAddress: raw.remoteAddress, remotePort: raw.remotePort });
      raw.destroy();
      return null;
    }
    raw.setNoDelay(this.options.noDelay ?? true);
    const keepAlive = this.options.keepAlive ?? false;
    if (keepAlive !== false) raw.setKeepAlive(true, keepAlive === true ? 0 : keepAlive);
    let zeroCopy = this.options.zeroCopy ?? true;
    if (zeroCopy && !canAdopt(raw)) {
      zeroCopy = false;
      if (!warnedCopy) {
        warnedCopy = true;
        process.emitWarning('this Node cannot read accepted sockets into WASM memory; ringwire falls back to copying', { code: 'RINGWIRE_COPY_FALLBACK' });
      }
    }
    const listener = this.listener;
    const source = (target: ReadTarget | null) => (target ? adopt(raw, listener, target) : raw);
    const connection = new Connection<Data>(this, slot, `${threadId}-${++nextId}`, this.handler, source, zeroCopy);
    this.connections.set(connection.id, connection);
    if (!this.sweeper) this.startSweep();
    connection.start();
    if (this.connections.has(connection.id)) this.emit('connection', connection);
    return connection;
  }

  /**
   * Connect out: a framed client on this endpoint's core (its framing, limits and
   * budgets), with its own hooks (default: this endpoint's). start() must have
   * resolved. See client.ts for reconnect and sending while disconnected.
   */
  connect<D = Data>(options: ConnectOptions<D>): RingwireClient<D> {
    if (this.closing) throw configError('connect() after close()');
    const own = HOOKS.some(name => options[name] !== undefined);
    const hooks: ConnectOptions<D> = own ? options : { ...(this.handler as unknown as Handler<D>), ...options };
    if (takesFrames(hooks) !== this.takesFrames) {
      throw configError(this.takesFrames ? 'this endpoint hands frames to handlers: give the client onFrame or onConnection' : 'this endpoint echoes in its core: a client with onFrame needs an endpoint built with a handler');
    }
    return new RingwireClient<D>(this, hooks);
  }

  /** Dialer: one connection attempt; the Connection opens (start()) once its socket connects. Throws ERR_TOO_MANY_CONNECTIONS without a free slot. */
  dial(host: string, port: number, handler: Handler, connectTimeout: number): Connection {
    const core = this.core;
    const slot = core.open();
    if (slot < 0) {
      const err = ringwireError(E_TOO_MANY_CONNECTIONS, `cannot connect to ${host}:${port}: all ${core.config.slots} connection slots are in use`);
      this.clientError(err, { id: null, remoteAddress: host, remotePort: port });
      throw err;
    }
    const zeroCopy = this.options.zeroCopy ?? true; // client sockets take onread through Node's public API
    const keepAlive = this.options.keepAlive ?? false;
    const source = (target: ReadTarget | null) => net.connect({
      host, port, allowHalfOpen: true, noDelay: this.options.noDelay ?? true,
      keepAlive: keepAlive !== false, keepAliveInitialDelay: typeof keepAlive === 'number' ? keepAlive : 0,
      ...(target ? { onread: target } : {}),
    } as net.NetConnectOpts);
    const connection = new Connection(this, slot, `${threadId}-${++nextId}`, handler, source, zeroCopy);
    const socket = connection.socket;
    const timer = setTimeout(() => socket.destroy(Object.assign(new Error(`connect to ${host}:${port} timed out after ${connectTimeout} ms`), { code: 'ETIMEDOUT' })), connectTimeout);
    socket.once('close', () => clearTimeout(timer));
    socket.once('connect', () => {
      clearTimeout(timer);
      this.connections.set(connection.id, connection as Connection<Data>);
      if (!this.sweeper) this.startSweep();
      connection.start();
      if (this.connections.has(connection.id)) this.emit('connection', connection);
    });
    return connection;
  }

  get maxQueued(): number {
    return this.limits.maxQueued;
  }

  get maxReply(): number {
    return this.limits.maxReply;
  }

  check(length: number): number {
    return this.core.check(length);
  }

  /**
   * Stop taking connections, drain every one (answer what each has buffered,
   * wait for pending handlers, flush, FIN), resolve once all are closed, or
   * drainTimeout after the call, when what is left is destroyed.
   */
  close(): Promise<void> {
    this.closing ??= (async () => {
      const stopped = this.stopAccepting();
      for (const c of this.connections.values()) c.drain();
      let timer: NodeJS.Timeout | undefined;
      const timedOut = new Promise<void>(resolve => {
        timer = setTimeout(() => {
          for (const c of this.connections.values()) c.destroy();
          resolve();
        }, this.options.drainTimeout ?? 10_000);
      });
      const allClosed = this.connections.size === 0 ? Promise.resolve() : new Promise<void>(resolve => (this.drained = resolve));
      await stopped;
      await Promise.race([allClosed, timedOut]);
      clearTimeout(timer);
      clearInterval(this.sweeper);
      this.sweeper = undefined;
      this.emit('close');
    })();
    return this.closing;
  }

  /** Stop accepting new sockets (a server closes its listener here). */
  protected stopAccepting(): Promise<void> {
    return Promise.resolve();
  }

  // ---- ConnectionHost ----

  enter(connection: Connection): void {
    this.delivering = connection;
  }

  leave(): void {
    this.delivering = null;
    if (this.dirty.size === 0) return;
    for (const c of this.dirty) c.flush();
    this.dirty.clear();
  }

  flushLater(connection: Connection): void {
    this.dirty.add(connection);
  }

  queue(delta: number): boolean {
    this.queuedTotal += delta;
    return this.queuedTotal <= this.maxQueuedTotal;
  }

  /** Count and report an error that closes (or refuses) one connection. */
  clientError(err: RingwireError, connection: ConnectionInfo): void {
    // The cores count the framing errors they find; the host counts its own.
    if (err.number > E_LAST_CORE_ERROR) this.core.stats.error(err.number);
    if (this.listenerCount('clientError') > 0) this.emit('clientError', err, connection);
  }

  closed(connection: Connection, error: RingwireError | undefined): void {
    this.connections.delete(connection.id);
    this.dirty.delete(connection);
    if (!connection.opened) return; // an outbound attempt that never connected: no hooks ran, none run now
    try {
      connection.handler.onClose?.(connection, error);
    } catch (err) {
      // The connection is gone; the failure is still reported and counted.
      this.clientError(handlerError(err), connection);
    }
    if (this.connections.size === 0) {
      clearInterval(this.sweeper);
      this.sweeper = undefined;
      this.drained?.();
    }
  }

  /** One coarse timer per endpoint for the write timeout, running only while connections exist. */
  private startSweep(): void {
    const limit = this.options.writeTimeout ?? DEFAULT_WRITE_TIMEOUT;
    if (limit <= 0) return;
    this.sweeper = setInterval(() => {
      const now = performance.now();
      for (const c of this.connections.values()) {
        if (c.writing && now - c.lastProgress > limit) {
          c.fail(ringwireError(E_SLOW_CONSUMER, `no write progress for ${Math.round(now - c.lastProgress)} ms (writeTimeout ${limit} ms)`), true);
        }
      }
    }, Math.max(10, Math.min(1000, limit / 4)));
    this.sweeper.unref();
  }
}
