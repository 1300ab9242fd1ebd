// A ringwire server: a net.Server whose accepted sockets each get a slot in one
// core (one core per event-loop thread) and run through a Connection.
//
// Events: 'listening', 'connection' (Connection), 'clientError' (RingwireError,
// ConnectionInfo) for anything that closes one connection, 'error' for the
// listening socket, 'close' once every connection has drained.
// Limits: a connection over maxConnections is refused with
// ERR_TOO_MANY_CONNECTIONS: reported, counted, closed, and no other connection
// notices. close() stops accepting, lets every connection answer what it has
// buffered and flush, and destroys what is left after drainTimeout.

import { EventEmitter, once } from 'node:events';
import net, { type AddressInfo } from 'node:net';
import type { CoreOptions } from '../core/config.ts';
import type { Core, CoreKind } from '../core/core.ts';
import { E_LAST_CORE_ERROR, E_TOO_MANY_CONNECTIONS, ringwireError, type RingwireError } from '../core/errors.ts';
import type { StatsSnapshot } from '../core/stats.ts';
import { Connection, type ConnectionHost, type ConnectionInfo, type FrameHandler } from './connection.ts';
import { canAdopt } from './socket-adoption.ts';

export interface ServerOptions extends Omit<CoreOptions, 'mode'> {
  /** A core to use, or how to build one when listen() is called. Default 'wasm'. */
  core?: CoreKind | Core;
  /** Your frame handler. Without one, the echo processor runs inside the core. */
  onFrame?: FrameHandler;
  /** Close a connection with ERR_IDLE_TIMEOUT after this many ms without traffic. 0 = never (default). */
  idleTimeout?: number;
  /** Read straight into the rings (true, default) or copy 'data' chunks into them (false). */
  zeroCopy?: boolean;
  /** close(): ms to wait for connections to drain before destroying them. Default 10000. */
  drainTimeout?: number;
  /** Aborting closes the server, as close() does. */
  signal?: AbortSignal;
}

export interface ListenOptions {
  port?: number;
  host?: string;
  backlog?: number;
  reusePort?: boolean;
}

/** Builds a core from options; the server takes it as a parameter so net/ never names a concrete core. */
export type CoreFactory = (kind: CoreKind, options: CoreOptions) => Promise<Core>;

let warnedCopy = false;

export class RingwireServer extends EventEmitter implements ConnectionHost {
  readonly connections = new Set<Connection>();
  readonly onFrame: FrameHandler | undefined;
  readonly idleTimeout: number;
  private coreInstance: Core | undefined;
  private readonly net: net.Server;
  private zeroCopy: boolean;
  private closing: Promise<void> | undefined;
  /** Set while close() waits for the last connection. */
  private drained: (() => void) | undefined;

  private readonly options: ServerOptions;
  private readonly makeCore: CoreFactory;

  constructor(options: ServerOptions, makeCore: CoreFactory) {
    super();
    this.options = options;
    this.makeCore = makeCore;
    this.onFrame = options.onFrame;
    this.idleTimeout = options.idleTimeout ?? 0;
    this.zeroCopy = options.zeroCopy ?? true;
    if (typeof options.core === 'object') this.coreInstance = options.core;
    this.net = net.createServer({ pauseOnConnect: true, allowHalfOpen: true, noDelay: true }, raw => this.accept(raw));
    this.net.on('error', err => this.emit('error', err));
    if (options.signal) {
      if (options.signal.aborted) queueMicrotask(() => void this.close());
      else options.signal.addEventListener('abort', () => void this.close(), { once: true });
    }
  }

  get core(): Core {
    if (!this.coreInstance) throw new Error('the core is built by listen(): call it first');
    return this.coreInstance;
  }

  /** Build the core (once). listen() does it; call it alone to serve sockets given with serve(). */
  async start(): Promise<Core> {
    if (!this.coreInstance) {
      const { core, onFrame, idleTimeout, zeroCopy, drainTimeout, signal, ...coreOptions } = this.options;
      this.coreInstance = await this.makeCore((core as CoreKind | undefined) ?? 'wasm', { ...coreOptions, mode: this.onFrame ? 'handler' : 'echo' });
    }
    return this.coreInstance;
  }

  /** Build the core (once) and listen. Resolves with the bound address. */
  async listen(portOrOptions: number | ListenOptions = {}, host?: string): Promise<AddressInfo> {
    const o: ListenOptions = typeof portOrOptions === 'number' ? { port: portOrOptions, host } : portOrOptions;
    await this.start();
    if (this.closing) throw new Error('server is closed');
    this.net.listen({ port: o.port ?? 0, host: o.host ?? '127.0.0.1', backlog: o.backlog ?? 511, reusePort: o.reusePort });
    await once(this.net, 'listening');
    this.emit('listening');
    return this.address()!;
  }

  address(): AddressInfo | null {
    return this.net.address() as AddressInfo | null;
  }

  stats(): StatsSnapshot {
    return this.core.stats.snapshot();
  }

  /** Stop accepting, drain every connection, resolve once all are closed. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      const closed = new Promise<void>(resolve => (this.net.listening ? this.net.close(() => resolve()) : resolve()));
      for (const c of this.connections) c.close();
      const timer = setTimeout(() => {
        for (const c of this.connections) c.destroy();
      }, this.options.drainTimeout ?? 10_000);
      await closed;
      if (this.connections.size > 0) await new Promise<void>(resolve => (this.drained = resolve));
      clearTimeout(timer);
      this.emit('close');
    })();
    return this.closing;
  }

  /**
   * Serve a connection accepted elsewhere: a socket that has not started reading,
   * such as one transferred from another thread. start() must have resolved.
   */
  serve(socket: net.Socket): void {
    socket.setNoDelay(true);
    this.accept(socket);
  }

  private accept(raw: net.Socket): void {
    if (this.closing) {
      raw.destroy();
      return;
    }
    const slot = this.core.open();
    if (slot < 0) {
      const err = ringwireError(E_TOO_MANY_CONNECTIONS, `connection from ${raw.remoteAddress}:${raw.remotePort} refused: all ${this.core.config.slots} connection slots are in use`);
      this.clientError(err, { id: -1, remoteAddress: raw.remoteAddress, remotePort: raw.remotePort });
      raw.destroy();
      return;
    }
    if (this.zeroCopy && !canAdopt(raw)) {
      this.zeroCopy = false;
      if (!warnedCopy) {
        warnedCopy = true;
        process.emitWarning('this Node cannot read accepted sockets into WASM memory; ringwire falls back to copying', { code: 'RINGWIRE_COPY_FALLBACK' });
      }
    }
    const connection = new Connection(this, slot, raw, this.net, this.zeroCopy);
    this.connections.add(connection);
    this.emit('connection', connection);
  }

  /** ConnectionHost: count and report an error that closes one connection. */
  clientError(err: RingwireError, connection: ConnectionInfo): void {
    // The cores count the framing errors they find; the host counts its own.
    if (err.number > E_LAST_CORE_ERROR) this.core.stats.error(err.number);
    if (this.listenerCount('clientError') > 0) this.emit('clientError', err, connection);
  }

  /** ConnectionHost: a connection has closed and returned its slot. */
  closed(connection: Connection): void {
    this.connections.delete(connection);
    if (this.connections.size === 0) this.drained?.();
  }
}
