// Framed clients. A RingwireClient keeps one outbound connection of an endpoint
// (same core, limits, budgets, stats and Connection as the server side; client
// sockets read into the rings through Node's public `onread` option, so no
// internals are involved). With `reconnect`, it connects again after every close
// it did not ask for, with capped exponential backoff and jitter, reset by a
// successful connection; frames sent while it is down wait in a bounded queue and
// go out, in order, first thing on the next connection.
//
// Hooks: the client's own (options), each running per underlying connection:
// onOpen and onClose once per connection that opened; an attempt that never
// connected runs neither (it is reported as a 'retry' or 'end' event).
//
// send() while disconnected: true when the frame is held for the next connection,
// false when the hold queue (maxQueuedWhileDown bytes) is full: the newest frame
// is refused and counted in `dropped`, as a full bounded channel refuses; so is a
// frame no connection could carry (Connection.send's rule, replyRefusal()).

import { EventEmitter } from 'node:events';
import { configError, type RingwireError } from '../core/errors.ts';
import { notBytes, type Connection, type ConnectionInfo } from './connection.ts';
import type { ConnectionHooks, Handler } from './handler.ts';
import type { TlsClientOptions } from './tls-context.ts';
import { checkOptions, checkTls, duration, OTHER, whole, type Rule } from './option-rules.ts';
import { kClientError, kDial, kError, kMaxQueued, kOpened, kReply, kReplyRefusal } from './internals.ts';
import { destination, type Destination } from './unix-socket.ts';
import { targetProblem, type UpgradeTarget } from './websocket-handshake.ts';
import { waitingBytes, waitingKind, sendKind, waiting, type SendOptions, type Waiting } from './message-kind.ts';

export interface ReconnectOptions {
  /** ms before the first retry. Default 100. */
  initialDelay?: number;
  /** Cap on the delay. Default 10000. */
  maxDelay?: number;
  /** Each failed attempt multiplies the delay by this. Default 2. */
  factor?: number;
  /** Random spread of each delay, ± this fraction. Default 0.2. */
  jitter?: number;
  /** Attempts in a row before giving up ('end'). Default Infinity. */
  maxAttempts?: number;
}

export interface ConnectOptions<Data = any> extends Omit<ConnectionHooks<Data>, 'onUpgrade'> {
  /** TCP: the port (and host); or give path. */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
  /** A Unix socket path, instead of host and port. */
  path?: string;
  /** Keep a connection up: true for the defaults, or the backoff. Default false: one connection. */
  reconnect?: boolean | ReconnectOptions;
  /** Bytes of frames held while disconnected (with reconnect). Default the endpoint's maxQueued. */
  maxQueuedWhileDown?: number;
  /** Give up a connection attempt after this many ms. Default 10000. */
  connectTimeout?: number;
  /**
   * Connect with TLS: options for Node's tls.connect (ca, cert, key, servername,
   * rejectUnauthorized, ALPNProtocols…) and handshakeTimeout. Every connection,
   * reconnections too, opens once its handshake is done and the server's
   * certificate is verified; a failure is ERR_TLS.
   */
  tls?: TlsClientOptions;
  /**
   * websocket framing: what the upgrade request asks for: path (default '/'),
   * host (default: the host and port connected to), protocols, origin, headers.
   * The connection opens once the server's 101 is checked (ERR_UPGRADE otherwise).
   */
  websocket?: UpgradeTarget;
}

export interface ClientEvents {
  /** A connection opened (after the client's onOpen). */
  open: [connection: Connection];
  /** A connection closed (after onClose); error: what closed it. */
  close: [connection: Connection, error: RingwireError | undefined];
  /** An attempt failed or a connection closed; the next attempt starts after delay ms. */
  retry: [info: { attempt: number; delay: number; error: Error | undefined }];
  /** No more connections: close() was called, attempts ran out, or the one connection (no reconnect) ended. */
  end: [error: Error | undefined];
}

/** What a client needs from its endpoint. */
export interface Dialer {
  /** Start one attempt: the Connection (not yet open) whose socket is connecting; throws when it cannot start one. */
  [kDial](to: Destination, handler: Handler, connectTimeout: number, tls?: TlsClientOptions, websocket?: UpgradeTarget): Connection;
  readonly [kMaxQueued]: number;
  /** ERR_REPLY_TOO_LARGE or ERR_DELIMITER_IN_PAYLOAD for a frame no connection of this endpoint could send (the rule Connection.send applies), else null. */
  [kReplyRefusal](payload: Uint8Array): RingwireError | null;
  /** Count and report an error (the endpoint's 'clientError'). */
  [kClientError](err: RingwireError, connection: ConnectionInfo): void;
}

const DEFAULTS: Required<ReconnectOptions> = { initialDelay: 100, maxDelay: 10_000, factor: 2, jitter: 0.2, maxAttempts: Infinity };

/** What each connect option may be (option-rules.ts): an unknown one, or a number out of range, is ERR_BAD_CONFIG. */
export const CONNECT_RULES = {
  onOpen: OTHER, onFrame: OTHER, onDrain: OTHER, onClose: OTHER, onConnection: OTHER, onForward: OTHER, onAsk: OTHER,
  port: whole(1, 65535),
  host: OTHER,
  path: OTHER,
  reconnect: OTHER,
  maxQueuedWhileDown: whole(0, 2 ** 32, 'bytes'),
  connectTimeout: duration(1),
  tls: OTHER,
  websocket: OTHER,
} as const satisfies { readonly [K in keyof Required<ConnectOptions>]: Rule };

const RECONNECT_RULES = {
  initialDelay: duration(0),
  maxDelay: duration(0),
  factor: { kind: 'real', min: 1, max: 1000 },
  jitter: { kind: 'real', min: 0, max: 1 },
  maxAttempts: { kind: 'int', min: 1, max: Infinity },
} as const satisfies { readonly [K in keyof Required<ReconnectOptions>]: Rule };

/** Check a client's options: ERR_BAD_CONFIG naming the first one unknown or out of range. */
export function checkConnectOptions(options: ConnectOptions): void {
  checkOptions(options, CONNECT_RULES);
  checkTls('tls', options.tls);
  destination(options, 'connect()'); // port (TCP) or path (a Unix socket), not both
  if (options.websocket !== undefined) {
    const problem = typeof options.websocket === 'object' && options.websocket !== null ? targetProblem(options.websocket) : 'websocket must be an object';
    if (problem) throw configError(problem);
  }
  if (typeof options.reconnect === 'object') checkOptions(options.reconnect, RECONNECT_RULES, 'reconnect.');
}

export class RingwireClient<Data = any> extends EventEmitter<ClientEvents> {
  /** The open connection, or null while connecting or disconnected. */
  connection: Connection<Data> | null = null;
  /** Resolves with the first connection that opens; rejects if the client ends before one does. */
  readonly ready: Promise<Connection<Data>>;
  /** Frames refused while disconnected because the hold queue was full. */
  dropped = 0;
  private readonly dialer: Dialer;
  private readonly options: ConnectOptions<Data>;
  private readonly to: Destination;
  private readonly backoff: Required<ReconnectOptions> | null;
  private readonly hooks: Handler<Data>;
  private held: Waiting[] = [];
  private heldBytes = 0;
  private attempt = 0;
  /** No new attempts: close() was called or the client gave up. */
  private ended = false;
  /** 'end' was emitted. */
  private finished = false;
  private timer: NodeJS.Timeout | undefined;
  private current: Connection<Data> | null = null;
  private resolveReady!: (c: Connection<Data>) => void;
  private rejectReady!: (err: Error) => void;
  private readonly done: Promise<void>;
  private markDone!: () => void;

  constructor(dialer: Dialer, options: ConnectOptions<Data>) {
    super();
    checkConnectOptions(options);
    this.dialer = dialer;
    this.options = options;
    this.to = destination(options, 'connect()');
    this.backoff = options.reconnect ? { ...DEFAULTS, ...(options.reconnect === true ? {} : options.reconnect) } : null;
    this.ready = new Promise((resolve, reject) => {
      this.resolveReady = resolve;
      this.rejectReady = reject;
    });
    this.ready.catch(() => {}); // also reported by 'end'
    this.done = new Promise(resolve => (this.markDone = resolve));
    const { onOpen, onClose } = options;
    this.hooks = {
      onFrame: options.onFrame,
      onDrain: options.onDrain,
      onConnection: options.onConnection,
      onOpen: c => {
        this.connection = c;
        this.attempt = 0;
        this.release(c); // held frames first, before anything onOpen sends
        onOpen?.(c);
        this.resolveReady(c);
        this.emit('open', c);
      },
      onClose: (c, err) => {
        this.connection = null;
        onClose?.(c, err);
        this.emit('close', c, err);
      },
    };
    this.dial();
  }

  /**
   * Send one frame. Connected: Connection.send() (false: queued beyond the tx
   * ring, wait for onDrain). Disconnected, with reconnect: true when it is held
   * for the next connection, false when the hold queue is full or no connection
   * could carry the frame (ERR_REPLY_TOO_LARGE, reported as a clientError): the
   * frame is dropped and counted. After the client ended: false. As
   * Connection.send, only a payload that is not bytes throws (a TypeError).
   */
  send(bytes: Uint8Array, options?: SendOptions): boolean {
    if (this.connection) return this.connection.send(bytes, options);
    if (!(bytes instanceof Uint8Array)) throw notBytes('send()', bytes);
    if (this.ended || !this.backoff) return false;
    const refused = this.dialer[kReplyRefusal](bytes);
    if (refused) {
      this.dropped++;
      const to = this.to;
      this.dialer[kClientError](refused, { id: null, remoteAddress: 'host' in to ? to.host : undefined, remotePort: 'port' in to ? to.port : undefined });
      return false;
    }
    const cap = this.options.maxQueuedWhileDown ?? this.dialer[kMaxQueued];
    if (this.heldBytes + bytes.length > cap) {
      this.dropped++;
      return false;
    }
    this.held.push(waiting(Uint8Array.from(bytes), sendKind(options)));
    this.heldBytes += bytes.length;
    return true;
  }

  /** No more connections: close the current one gracefully (its replies go out). Resolves once it has closed. */
  close(): Promise<void> {
    if (!this.ended) {
      clearTimeout(this.timer);
      const c = this.current;
      if (c && !c.socket.destroyed) {
        c.socket.once('close', () => this.end(undefined));
        c.close();
      } else {
        this.end(undefined);
      }
      this.ended = true;
    }
    return this.done;
  }

  private dial(): void {
    let c: Connection<Data>;
    try {
      c = this.dialer[kDial](this.to, this.hooks, this.options.connectTimeout ?? 10_000, this.options.tls, this.options.websocket) as Connection<Data>;
    } catch (err) {
      // No free slot on this endpoint, or a socket that could not be made (dial gave its slot back): a failed attempt like any other.
      if (!this.backoff) return this.end(err as Error);
      return this.retry(err as Error);
    }
    this.current = c;
    let error: Error | undefined;
    c.socket.once('error', err => (error = err));
    c.socket.once('close', () => {
      if (this.current === c) this.current = null;
      if (this.ended) return;
      // What closed an attempt that never opened (a failed WebSocket upgrade, ERR_UPGRADE), when no socket error did.
      if (!c[kOpened]) error ??= c[kError];
      if (!this.backoff) return this.end(error);
      this.retry(error);
    });
  }

  private retry(error: Error | undefined): void {
    const b = this.backoff!;
    this.attempt++;
    if (this.attempt > b.maxAttempts) return this.end(error ?? new Error(`gave up after ${b.maxAttempts} attempts`));
    const base = Math.min(b.maxDelay, b.initialDelay * b.factor ** (this.attempt - 1));
    const delay = Math.round(base * (1 - b.jitter + 2 * b.jitter * Math.random()));
    this.emit('retry', { attempt: this.attempt, delay, error });
    this.timer = setTimeout(() => this.dial(), delay);
  }

  /** The next connection is open: what was held goes first, in order. */
  private release(c: Connection<Data>): void {
    const held = this.held;
    this.held = [];
    this.heldBytes = 0;
    for (const w of held) c[kReply](undefined, waitingBytes(w), waitingKind(w)); // send() with its kind, no options object each
  }

  private end(error: Error | undefined): void {
    if (this.finished) return;
    this.finished = true;
    this.ended = true;
    clearTimeout(this.timer);
    this.held = [];
    this.heldBytes = 0;
    this.rejectReady(error ?? new Error('the client ended before it connected'));
    this.emit('end', error);
    this.markDone();
  }
}
