// One TCP connection bound to one core slot: bytes go kernel -> rx ring -> core
// -> (handler) -> tx ring -> kernel, and this class moves them at the edges and
// keeps the handler contract of handler.ts.
//
// Read: with zero-copy, libuv reads straight into the slot's rx ring (onread with
// a function buffer) and each read is one core call; on the copying path (TLS
// too), 'data' chunks are copied into the same ring. Reading pauses whenever the rx ring is
// full (frames held by a handler, or an incomplete frame behind them) or, in echo
// mode, the tx ring is (R_BLOCKED), and resumes as room appears.
//
// Deliver (handler mode): the core lists frames without consuming them; frames
// go to the handler in order, and the host consumes each one (core.consume) once
// its handler returned or its promise settled and every frame before it has: the
// delivery window (delivery-window.ts) holds the frames out, up to `concurrency`
// of onFrame's (1 by default), and keeps their replies in frame order. Delivery
// stops at a full window (the slot is held: reads land in the ring, nothing is
// listed), at a reply that had to queue beyond the tx ring (backpressure, frame
// by frame), or at close(); what the core had listed after that frame is kept in
// `saved` (their places in this slot's own ring, so they stay valid) and delivered first
// when the cause clears. While a connection delivers a batch, no other core call
// may list frames (the list is one per core): Endpoint.delivering guards that.
//
// Write: views of the tx ring are written as they are, once for all the replies
// a connection got in a read callback (as it returns) or else once per turn of the event loop
// (Endpoint.flushLater); Node keeps a reference, not a copy, so the ring's bytes are released only once the kernel has them,
// or, for TLS, which encrypts (copies) what reaches its handle, once write()
// returns (flush()). Two write paths: 'direct' (direct-write.ts) writes through
// the socket's handle and releases what each write carried when it finishes, at
// once or in its completion; 'stream' uses socket.write and releases `inflight -
// socket.writableLength` (TLS sockets always take it). Either way, what a finished
// write allows next (the queue moves, onDrain, a blocked echo goes on, FIN) runs in
// written(), never inside flush() itself. A reply that does not fit in the tx ring
// is copied into the tx queue (tx-queue.ts; send() returns false; onDrain fires once
// the queue has moved into the ring); a reply larger than the whole ring (up to
// maxReply) is streamed through it from the queue. The queue is capped per connection (maxQueued) and in
// total (the endpoint's budget): past either, ERR_SLOW_CONSUMER destroys the
// connection; so does no write progress for writeTimeout (the endpoint's sweep).
//
// Deadlines: the endpoint's one sweep reads the timestamps in `clocks`
// (read-clocks.ts); the frame clocks run only while `awaitingInput`: open, bytes of
// an incomplete frame in the rx ring, and nothing of ours in the way (no handler
// holding frames, no saved batch, no output blocked or in flight).
//
// Relay (pair()): each side's frames go into the other's tx ring, in the core (echo
// mode), or through forward() and the onForward hook (handler mode); `peer` is who
// fills this tx ring and who takes this side's frames (itself for the echo). A side
// whose input ended has its partner end its output (FIN after what it forwarded;
// its reading goes on); a side that closes re-points its partner and closes it
// after its frames.
//
// Preamble (preamble.ts): before framing, reads go to the PROXY header stage and
// not to the core; once the header is whole the stage removes itself, the
// addresses it names become remoteAddress/remotePort (the socket's stay in
// socketRemoteAddress/socketRemotePort), onOpen runs, and the bytes that followed
// the header in the same read are moved to the start of the rx span (zero-copy) or
// copied in: the core never sees a header byte. With TLS after the header
// (tlsAfterHeader), the raw socket is wrapped instead (the one time `socket`
// changes) and the endpoint calls secured() after the handshake.
//
// States (connection-state.ts, the table; this class changes state only through
// to() and toOutput(), which refuse a step the table does not have):
//   life    opening -> [preamble] -> open -> draining -> closing -> closed (while the
//           server drains, a connection that has answered everything waits in
//           draining for its FIN until drain.ts releases it: host[kHoldFin])
//           (any live state -> closing on close/destroy; -> closed on the socket's
//           close, or -> quarantined while a handler still holds a frame of the
//           slot, -> closed when it settles)
//   output  open -> ending -> fin-sent -> done (abort: -> done)
// Closing, in one vocabulary: onFin() (the peer's FIN: draining), whenDrained()
// (nothing buffered can make a frame: idle -> closing, or a relay side ends its
// partner's output), shut() (close: FIN owed), finWhenFlushed() (our FIN after the
// last reply, no handler pending), finished()/afterFin() (our FIN is out: close
// once the peer closed too or LINGER_MS later, so a reset cannot eat our replies),
// onSocketClose()/closeSlot() (the slot goes back, onClose runs).

import type net from 'node:net';
import type { TLSSocket } from 'node:tls';
import { FRAME_WORDS, R_BLOCKED, R_MORE, S_PAUSES, S_QUARANTINED, SEND_DELIMITER, SEND_FULL, SEND_OK, SEND_TOO_LARGE, type Core } from '../core/core.ts';
import {
  E_BAD_LENGTH, E_DELIMITER_IN_PAYLOAD, E_FRAME_TOO_LARGE, E_PROXY_HEADER, E_REPLY_TOO_LARGE, E_SLOW_CONSUMER, E_SOCKET, E_TRUNCATED_FRAME, handlerError, ringwireError,
  type RingwireError,
} from '../core/errors.ts';
import type { NormalClose } from '../core/stats.ts';
import { DirectWriter, WRITE_DONE, canWriteDirect, writeError, type WritePath } from './direct-write.ts';
import { DeliveryWindow, frameContext, type FrameReply, type InFlight } from './delivery-window.ts';
import { FrameStream } from './frame-stream.ts';
import type { Handler } from './handler.ts';
import { badStep, LIFE, OUTPUT, type Life, type LifeEvent, type Output, type OutputEvent, type StateView } from './connection-state.ts';
import { Preamble, wrapAfterHeader } from './preamble.ts';
import type { ProxyHeader, ProxyProtocol } from './proxy-header.ts';
import { ReadClocks } from './read-clocks.ts';
import { TxQueue } from './tx-queue.ts';
import type { Router } from './router.ts';
import { rearm, type ReadTarget } from './socket-adoption.ts';
import {
  kAwaitingInput, kClientError, kClocks, kClosed, kConnectionOpened, kDelivering, kDrain, kEarlyError, kEnter, kEnterRead, kEvict, kExpectHeader,
  kFail, kFlush, kFlushLater, kFlushQueued, kHandler, kHandlerSince, kHeaderSince, kHoldFin, kIdentified, kInbound, kLastProgress, kLeave, kLeaveRead,
  kLimits, kOpened, kPair, kQueue, kReset, kRestartWait, kSecured, kSlot, kStart, kState, kTakesFrames, kTlsAfterHeader, kUnanswered, kWritePath,
  kWriting,
} from './internals.ts';
import { tlsInfo, type TlsInfo } from './tls-context.ts';

/** What identifies a connection in events, also one that was refused before it opened. */
export interface ConnectionInfo {
  /** Unique for the life of the process, across worker threads; null for a refused connection. */
  readonly id: string | null;
  readonly remoteAddress: string | undefined;
  readonly remotePort: number | undefined;
}

/**
 * How a connection gets its socket: with a read target (zero-copy: the socket
 * reads into the rings through it), or null (the copying path: 'data' events).
 */
export type SocketSource = (target: ReadTarget | null) => net.Socket;

/** What a connection needs from its endpoint. */
export interface ConnectionHost {
  readonly core: Core;
  /** Frames go to a handler (handler mode) rather than being echoed by the core. */
  readonly [kTakesFrames]: boolean;
  /** How connections write (direct-write.ts); 'direct' falls back to 'stream' where the socket cannot. */
  readonly [kWritePath]: WritePath;
  readonly [kLimits]: ConnectionLimits;
  /** sendTo, publish, join and leave for this thread (router.ts). */
  readonly router: Router;
  /** The connection delivering a batch right now, if any (see the header comment). */
  readonly [kDelivering]: Connection | null;
  /** onOpen ran and the connection is still registered: announce it. */
  [kConnectionOpened](connection: Connection): void;
  /**
   * An accepted connection knows its client (at start, or once its PROXY header
   * named it): may it open? false: refused, and the host has failed it (e.g.
   * maxConnectionsPerIp counted on the header's client, or a relay without a slot
   * for its upstream).
   */
  [kIdentified](connection: Connection): boolean;
  /** A batch starts: no other connection may make the core list frames until leave(). */
  [kEnter](connection: Connection): void;
  /** The batch is over. */
  [kLeave](): void;
  /** A send: flush this connection once the read callback returns, else once per turn of the event loop (one write per batch, or per turn of async replies). */
  [kFlushLater](connection: Connection): void;
  /** A read callback starts: what flushLater() collects in it is written at leaveRead(), not in a tick. */
  [kEnterRead](): void;
  [kLeaveRead](): void;
  /**
   * Bytes queued beyond the tx ring changed by delta (queued by `from`, when it adds).
   * Over the budget, stalled holders are closed first (queue-budget.ts); false when
   * `from` itself must pay.
   */
  [kQueue](delta: number, from?: Connection): boolean;
  [kClientError](err: RingwireError, connection: ConnectionInfo): void;
  /** The connection closed: by `error`, or else normally for `reason`. */
  [kClosed](connection: Connection, error: RingwireError | undefined, reason: NormalClose): void;
  /**
   * The drain (drain.ts): this draining connection has answered every frame it read;
   * may it send its FIN now? false while the endpoint holds every FIN until no
   * connection of the server has a frame in flight (it calls [kDrain]() again then).
   */
  [kHoldFin](connection: Connection): boolean;
}

export interface ConnectionLimits {
  /** Bytes a connection may queue beyond its tx ring before ERR_SLOW_CONSUMER. */
  maxQueued: number;
  /** The largest reply; one larger than the tx ring is streamed through it. */
  maxReply: number;
  /** onFrame's frames of one connection out with handlers at once (delivery-window.ts). */
  concurrency: number;
}

/** How long a closing connection keeps reading (and discarding) before it is destroyed. */
export const LINGER_MS = 2000;
/** Where a closing connection's input goes. Never read. */
const discard = new Uint8Array(65536);

/** States that take input: reads go to the preamble or the core. */
const reads = (s: Life): boolean => s === 'open' || s === 'preamble' || s === 'opening';
/** States past close(): nothing more is delivered. */
const over = (s: Life): boolean => s === 'closing' || s === 'quarantined' || s === 'closed';

/** Frames a connection could not deliver yet, in order, and what the core said after listing them. */
interface Saved {
  /** The core's list entries from the first undelivered frame on (Core.saveFrames). */
  list: Uint32Array;
  /** Index of the next frame to deliver. */
  next: number;
  status: number;
}

/**
 * What onForward answered for a frame on its way to `to`: nothing or true
 * forwards it, false drops it, bytes replace it. Anything else throws (ERR_HANDLER
 * once it reaches run() or the rejection): a filter that returned the wrong kind
 * of value must not leak the frame it meant to mask.
 */
function forwarded(frame: Uint8Array, to: Connection, out: unknown): void {
  if (out === false) return;
  if (out === undefined || out === true) return void to.send(frame);
  if (out instanceof Uint8Array) return void to.send(out);
  throw new TypeError(`onForward returned ${kindOf(out)}: return nothing or true (forward the frame), false (drop it) or bytes (replace it)`);
}

/** The TypeError for a payload that is not bytes (the one programming error send() throws for). */
export function notBytes(where: string, payload: unknown): TypeError {
  return new TypeError(`${where} takes bytes (a Uint8Array or Buffer), got ${kindOf(payload)}`);
}

/** A value's kind for a message: its class for an object, else its type. */
function kindOf(value: unknown): string {
  if (value === null) return 'null';
  return typeof value === 'object' ? (value as object).constructor?.name ?? 'an object' : typeof value;
}

const isPromise = (r: unknown): r is PromiseLike<void> => typeof (r as PromiseLike<void> | undefined)?.then === 'function';

/**
 * What check()/send() said of a reply of `length` bytes, as an error: null when it
 * may be sent (it fits, waits for room, or is larger than the tx ring but within
 * maxReply: streamed through it), else ERR_DELIMITER_IN_PAYLOAD (SEND_DELIMITER) or
 * ERR_REPLY_TOO_LARGE saying why.
 */
export function replyRefusal(r: number, length: number, config: { framingText: string; txSize: number }, maxReply: number): RingwireError | null {
  if (r === SEND_OK || r === SEND_FULL || (r === SEND_TOO_LARGE && length <= maxReply)) return null;
  if (r === SEND_DELIMITER) {
    return ringwireError(E_DELIMITER_IN_PAYLOAD, `cannot send a ${length}-byte payload as one frame of framing ${config.framingText}: it holds the delimiter`
      + `${config.framingText.endsWith(':cr') ? ' (or ends in \\r, which the peer drops)' : ''}, so the peer would read more than one frame: escape or encode it`);
  }
  const why = r === SEND_TOO_LARGE ? `over maxReply (${maxReply} bytes)` : `not a length ${config.framingText} framing can carry`;
  return ringwireError(E_REPLY_TOO_LARGE, `cannot send a ${length}-byte reply: ${why} (tx ring ${config.txSize} bytes)`);
}

export class Connection<Data = any> implements ConnectionInfo {
  readonly id: string;
  /** The core slot: this connection's rings and state in the shared memory. */
  readonly [kSlot]: number;
  /** Replaced once, by startTls(), when TLS begins after a PROXY header (the same TCP handle, wrapped). */
  socket: net.Socket;
  /**
   * Set by the endpoint when TLS follows a PROXY header (the header precedes the
   * ClientHello on the wire): wraps the raw socket once the header is read.
   */
  [kTlsAfterHeader]: ((raw: net.Socket) => TLSSocket) | undefined;
  /**
   * The peer and our side, known once the connection is open: the socket's, or,
   * behind a load balancer speaking the PROXY protocol, the client and the
   * address it connected to as the header names them (LOCAL, UNKNOWN: the socket's).
   */
  remoteAddress: string | undefined;
  remotePort: number | undefined;
  localAddress: string | undefined;
  localPort: number | undefined;
  /** The socket's own peer (behind a load balancer: the balancer), whatever a PROXY header said. */
  socketRemoteAddress: string | undefined;
  socketRemotePort: number | undefined;
  /** The PROXY protocol header this connection began with (with its TLVs), if the server expects one. */
  proxyHeader: ProxyHeader | undefined;
  /** onOpen was called (onClose will be). */
  [kOpened] = false;
  /** Accepted by a server (serve()), not dialled: a relay pairs it with an upstream; eviction picks among these. */
  [kInbound] = false;
  /** The hooks this connection calls: its endpoint's, or those given to connect(). */
  readonly [kHandler]: Handler<Data>;
  /** The application's own per-connection state. */
  data: Data = undefined as Data;
  /** A TLS connection's protocol, cipher, ALPN, peer verification and socket (tls-context.ts); null without TLS. */
  tls: TlsInfo | null = null;
  /** How a socket error is reported before the connection opens (its endpoint sets it during a TLS handshake: ERR_TLS). */
  [kEarlyError]: ((err: Error) => RingwireError) | undefined;

  private readonly host: ConnectionHost;
  private readonly core: Core;
  private readonly zeroCopy: boolean;
  /** The socket copies what write() hands it (TLS): see flush(). */
  private copiesWrites = false;
  /** Where the connection is in its life and its output (connection-state.ts: the only way they change is to()/toOutput()). */
  private state: Life = 'opening';
  private output: Output = 'open';
  /** start() ran: the socket is connected. */
  private connected = false;
  /** The stage before framing (a PROXY header): reads go to it until it is done and removed. */
  private preamble: Preamble | null = null;
  /** The error that closed the connection, for onClose. */
  private error: RingwireError | undefined;
  /** Who began a normal close, first come (counted in stats when no error closed it). */
  private closeReason: NormalClose | undefined;

  // ---- input ----
  /** We paused the socket: rx ring full, tx ring full (echo), or not open. */
  private paused = false;
  /** Echo mode: the core stopped at a reply the tx ring could not take. */
  private txBlocked = false;
  private peerEnded = false;
  /** Inside the read callback: Node asks for the next span right after it. */
  private reading = false;
  /** Copying path: the part of a 'data' chunk the rx ring could not take yet. */
  private leftover: Uint8Array | null = null;

  // ---- delivery ----
  /** The frames out with handlers (and onOpen's promise), oldest first. */
  private readonly window: DeliveryWindow;
  /** Since when (performance.now()) the oldest of them has been out; 0: none is. The endpoint's sweep closes the connection past handlerTimeout. */
  [kHandlerSince] = 0;
  /** The core is told to hold this slot's frames (it lists none: they are saved, or delivery waits). */
  private held = false;
  /** The core was held since this slot's frames were last listed: frames may wait in the rx ring unlisted (continue()). */
  private unlisted = false;
  private saved: Saved | null = null;
  private stream: FrameStream | null = null;
  private readonly onFrame: ((frame: Uint8Array, c: Connection<Data>, reply: FrameReply) => void | PromiseLike<void>) | undefined;
  /**
   * Sends after an await are attributed to their frame through frameContext: concurrency > 1
   * and an onFrame that does not declare `reply` (one that does sends through it).
   */
  private readonly contextual: boolean;
  /** The frame whose handler runs right now (concurrency > 1): a send() it makes synchronously goes in its place. */
  private calling: InFlight | undefined;

  // ---- output ----
  /** tx bytes handed to Node and not yet released to the core. */
  private inflight = 0;
  /** The direct write path, once the socket is connected and can take it (null: socket.write). */
  private writer: DirectWriter | null = null;
  /** A direct write finished at once and written() is owed in a tick (as socket.write's callback would be). */
  private afterWriteOwed = false;
  /** In the endpoint's list of connections to flush (flushLater). */
  [kFlushQueued] = false;
  /** When the output last moved (the endpoint's write-timeout sweep reads it). */
  [kLastProgress] = 0;

  /** The deadline clocks (read and restarted by the endpoint's sweep). */
  readonly [kClocks] = new ReadClocks();
  /** Replies that did not fit in the tx ring yet. */
  private readonly tx = new TxQueue();
  /** send() returned false: onDrain is owed once the queue is in the ring. */
  private owesDrain = false;
  /**
   * Echo mode: the connection whose tx ring takes this one's frames, and whose
   * frames come into this one's tx ring: itself (the echo) or, in a relay, its
   * partner (pair()). Symmetric, so one field says both directions.
   */
  private peer: Connection = this;
  private lingerTimer: NodeJS.Timeout | undefined;
  private readonly onWritten = (err?: Error | null) => this.written(err);
  private readonly afterDirectWrite = () => {
    this.afterWriteOwed = false;
    this.written();
  };

  constructor(host: ConnectionHost, slot: number, id: string, handler: Handler<Data>, source: SocketSource, zeroCopy: boolean) {
    this.host = host;
    this.core = host.core;
    this[kSlot] = slot;
    this.id = id;
    this[kHandler] = handler;
    this.zeroCopy = zeroCopy;
    // Only onFrame's frames overlap: a task (onConnection) pulls one at a time, and a relay forwards in order.
    this.window = new DeliveryWindow(handler.onFrame ? host[kLimits].concurrency : 1, (e, payload) => this.reply(e, payload));
    this.contextual = this.window.concurrency > 1 && handler.onFrame!.length < 3;
    if (handler.onFrame) this.onFrame = handler.onFrame;
    else if (handler.onConnection) this.onFrame = frame => this.frames().offer(frame);
    else if (handler.onForward) this.onFrame = frame => this.forward(frame);
    if (zeroCopy) {
      this.socket = source({
        buffer: () => (reads(this.state) ? this.core.readSpan(slot) : discard),
        callback: (n, buf) => this.onRead(n, buf),
      });
    } else {
      this.socket = source(null);
    }
    this.listen(this.socket);
  }

  private readonly onData = (chunk: Uint8Array) => this.copyIn(chunk);
  private readonly onEndEvent = () => this.onFin();
  private readonly onErrorEvent = (err: Error) => this.onSocketError(err);
  private readonly onCloseEvent = () => this.onSocketClose();
  private readonly onFinish = () => this.finished();

  private listen(s: net.Socket): void {
    this.copiesWrites = (s as TLSSocket).encrypted === true;
    if (!this.zeroCopy) s.on('data', this.onData);
    s.on('end', this.onEndEvent);
    s.on('error', this.onErrorEvent);
    s.on('close', this.onCloseEvent);
  }

  // ---- the state table (connection-state.ts) ----

  /** One step of the connection's life, as the table has it. */
  private to(next: Life, event: LifeEvent): void {
    if (!LIFE[this.state][event]?.includes(next)) throw badStep('life', this.state, event, next);
    this.state = next;
  }

  /** One step of its output, as the table has it. */
  private toOutput(event: OutputEvent): void {
    const next = OUTPUT[this.output][event];
    if (next === undefined) throw badStep('output', this.output, event, '?');
    this.output = next;
  }

  /** Both states, for the model-based test. */
  get [kState](): StateView {
    return { life: this.state, output: this.output };
  }

  /** Our FIN is out (or nothing more can be written): send() takes nothing more. */
  private get outputClosed(): boolean {
    return this.output === 'fin-sent' || this.output === 'done';
  }

  // ---- opening and the preamble ----

  /** Read a PROXY header (these versions) before framing begins. Before start(). */
  [kExpectHeader](accepts: ProxyProtocol): void {
    this.preamble = new Preamble(accepts);
    this.to('preamble', 'expect-header');
  }

  /** Waiting for a PROXY header since this time (performance.now()); 0: not waiting. For the endpoint's sweep. */
  get [kHeaderSince](): number {
    return this.preamble?.since ?? 0;
  }

  /** The socket is connected: run the open hooks (after the preamble, if one is expected) and start reading. Called once by the endpoint. */
  [kStart](): void {
    this.connected = true;
    const s = this.socket;
    this.remoteAddress = this.socketRemoteAddress = s.remoteAddress;
    this.remotePort = this.socketRemotePort = s.remotePort;
    this.localAddress = s.localAddress;
    this.localPort = s.localPort;
    if ((s as TLSSocket).encrypted) this.tls = tlsInfo(s as TLSSocket);
    if (this.host[kWritePath] === 'direct' && this.inflight === 0 && canWriteDirect(s)) {
      this.writer = new DirectWriter(s, (status, bytes) => this.directWritten(status, bytes));
    }
    if (this.preamble) this.preamble.since = performance.now();
    else if (this.state !== 'opening' || (this[kInbound] && !this.host[kIdentified](this)) || !this.open('start')) return;
    if (!this.zeroCopy) this.socket.resume();
  }

  /** TLS after a PROXY header: the handshake is done; open (hooks) and read. For the endpoint. */
  [kSecured](): void {
    if (this.state !== 'preamble') return; // closed during the handshake
    this.tls = tlsInfo(this.socket as TLSSocket);
    if (this.open('secured')) this.socket.resume();
  }

  /** Open: run onOpen, then start onConnection's task; false if they closed the connection. */
  private open(event: 'start' | 'header' | 'secured'): boolean {
    this.to('open', event);
    this[kOpened] = true;
    try {
      const r = this[kHandler].onOpen?.(this);
      if (isPromise(r)) {
        // Awaited like a frame's handler: frames wait (in handler mode; the echo does not), a rejection is ERR_HANDLER.
        if (this.host[kTakesFrames]) {
          this.hold(true);
          this.await(r, this.window.add(-1, performance.now()));
        } else {
          r.then(undefined, err => this[kFail](handlerError(err)));
        }
      }
    } catch (err) {
      this[kFail](handlerError(err));
    }
    this.host[kConnectionOpened](this);
    const task = this[kHandler].onConnection;
    if (task && this.state === 'open') {
      try {
        const r = task(this);
        if (isPromise(r)) r.then(() => this.close(), err => this[kFail](handlerError(err)));
        else this.close();
      } catch (err) {
        this[kFail](handlerError(err));
      }
    }
    return this.state === 'open';
  }

  /**
   * Bytes that arrived before framing began: the preamble's. Returns the bytes
   * after the header, to be framed, once it is whole and the connection opened;
   * null while the header is incomplete, when it failed, or when TLS follows it.
   */
  private takeHeader(bytes: Uint8Array): Uint8Array | null {
    let got: ReturnType<Preamble['take']>;
    try {
      got = this.preamble!.take(bytes);
    } catch (err) {
      this[kFail](err as RingwireError);
      return null;
    }
    this[kClocks].lastActive = performance.now();
    if (!got) return null;
    this.preamble = null; // done: the stage removes itself
    const h = (this.proxyHeader = got.header);
    if (h.command === 'PROXY' && h.family !== undefined) {
      this.remoteAddress = h.sourceAddress;
      this.remotePort = h.sourcePort;
      this.localAddress = h.destinationAddress;
      this.localPort = h.destinationPort;
    }
    if (!this.host[kIdentified](this)) return null;
    const wrap = this[kTlsAfterHeader];
    if (wrap) {
      // The one time `socket` changes: the raw socket stops feeding this connection and is wrapped; secured() opens it.
      this[kTlsAfterHeader] = undefined;
      const raw = this.socket;
      raw.off('data', this.onData);
      raw.off('end', this.onEndEvent);
      raw.off('error', this.onErrorEvent);
      raw.off('close', this.onCloseEvent);
      this.socket = wrapAfterHeader(raw, got.rest, wrap);
      this.writer = null; // TLS encrypts what it is given: replies go through the TLSSocket (nothing was written before)
      this.listen(this.socket);
      return null;
    }
    if (!this.open('header')) return null;
    return got.rest;
  }

  /** This thread's router: sendTo(id, bytes), publish(topic, bytes), join(connection, topic), leave(connection, topic). */
  get router(): Router {
    return this.host.router;
  }

  /** Bytes queued beyond the tx ring, waiting for the peer to read. */
  get queuedBytes(): number {
    return this.tx.bytes;
  }

  /**
   * Encode payload as one frame and send it after every earlier reply. Returns
   * false when it had to wait beyond the tx ring (it is copied: reuse your
   * buffer): send more after onDrain. Also false, sending nothing, once the
   * connection's FIN is out, it is destroyed or an error closed it, and when this
   * send closed it: a reply over maxReply or one the framing cannot carry
   * (ERR_REPLY_TOO_LARGE), a delimiter framing's delimiter inside it
   * (ERR_DELIMITER_IN_PAYLOAD), each closed after the replies before it, a queue over
   * maxQueued or the endpoint's budget (ERR_SLOW_CONSUMER, destroyed). What
   * happens at run time never throws; only a payload that is not bytes does (a
   * TypeError: a programming error).
   */
  send(payload: Uint8Array): boolean {
    const w = this.window;
    // The frame whose handler runs now, or (after an await) the one in the async context, if any.
    const at = w.size > 1 && w.concurrency > 1 ? this.calling ?? (this.contextual ? frameContext.getStore() : undefined) : undefined;
    return this.reply(at, payload);
  }

  /** A reply of frame `at` (send(), or its own reply.send(): delivery-window.ts): in its place while earlier frames are out, else at once. */
  private reply(at: InFlight | undefined, payload: Uint8Array): boolean {
    if (!(payload instanceof Uint8Array)) throw notBytes('send()', payload);
    if (this.outputClosed || this.state === 'closed' || this.error) return false;
    return this.window.holds(at) ? this.keep(at, payload) : this.put(payload);
  }

  /** A reply of a frame whose earlier frames are still out: copied into its place (delivery-window.ts), charged like the queue. */
  private keep(at: InFlight, payload: Uint8Array): boolean {
    this.window.keep(at, payload);
    const withinBudget = this.host[kQueue](payload.length, this);
    const queued = this.tx.bytes + this.window.bytes;
    if (queued > this.host[kLimits].maxQueued || !withinBudget) {
      const why = withinBudget ? `more than maxQueued (${this.host[kLimits].maxQueued} bytes)` : 'over the server\'s budget for queued replies';
      this[kFail](ringwireError(E_SLOW_CONSUMER, `${queued} bytes of replies queued beyond the tx ring or held for their turn, ${why}`), true);
      return false;
    }
    return true;
  }

  /** A frame's turn came: the replies it sent while earlier frames were out, in order. */
  private sendHeld(replies: Uint8Array[], send: boolean): void {
    let bytes = 0;
    for (const p of replies) bytes += p.length;
    this.host[kQueue](-bytes);
    if (send) for (const p of replies) this.put(p);
  }

  /** send() after every earlier reply, whoever sends it. */
  private put(payload: Uint8Array): boolean {
    if (this.outputClosed || this.state === 'closed' || this.error) return false;
    const wasEmpty = this.tx.bytes === 0;
    let r = wasEmpty ? this.core.send(this[kSlot], payload) : this.core.check(payload);
    if (wasEmpty && r === SEND_FULL && !this.host[kDelivering] && this.inflight < this.core.txPending(this[kSlot])) {
      // Outside a batch the ring may be full only of replies waiting for the end of
      // the tick: hand them to the kernel now and try again before queueing a copy.
      this[kFlush]();
      r = this.core.send(this[kSlot], payload);
    }
    if (wasEmpty && r === SEND_OK) {
      this.host[kFlushLater](this);
      return true;
    }
    if (r !== SEND_OK && r !== SEND_FULL) {
      const refused = replyRefusal(r, payload.length, this.core.config, this.host[kLimits].maxReply);
      if (refused) {
        this[kFail](refused);
        return false;
      }
    }
    // Copied: a Buffer's slice() would be a view of the caller's memory.
    this.tx.push(new Uint8Array(payload));
    const withinBudget = this.host[kQueue](payload.length, this); // the budget closes stalled holders first (queue-budget.ts)
    const queued = this.tx.bytes;
    if (queued > this.host[kLimits].maxQueued || !withinBudget) {
      const why = withinBudget ? `more than maxQueued (${this.host[kLimits].maxQueued} bytes)` : 'over the server\'s budget for queued replies';
      this[kFail](ringwireError(E_SLOW_CONSUMER, `${queued} bytes of replies queued beyond the tx ring, ${why}`), true);
      return false;
    }
    this.owesDrain = true;
    if (wasEmpty && r === SEND_TOO_LARGE) {
      // Larger than the tx ring: start streaming it now.
      this.moveQueue();
      this.host[kFlushLater](this);
    }
    return false;
  }

  /**
   * Finish gracefully, from anywhere (a handler too): no more frames are
   * delivered; every reply already given to send() goes out (after a pending
   * handler settles), then FIN.
   */
  close(): void {
    this.shut('close');
  }

  /** close(), or a draining connection with nothing left to deliver (idle). */
  private shut(event: 'close' | 'idle'): void {
    if (over(this.state)) return;
    this.closeReason ??= 'local';
    this.to('closing', event);
    this.saved = null;
    this.leftover = null;
    this.stream?.end();
    this.updateReading();
    if (this.output === 'open') this.toOutput('end');
    if (this.output === 'ending') return this.finWhenFlushed();
    // A relay's half-closed side: our FIN is out already; wait for the peer's, within LINGER_MS.
    this.discardInput();
    if (this.socket.writableFinished) this.afterFin();
  }

  /** Close now, dropping whatever is queued: nothing more is delivered or sent. */
  destroy(): void {
    this.teardown(false);
  }

  /**
   * destroy(), or with a TCP reset (RST) rather than a FIN, so the peer cannot take
   * the close for a complete answer (the drain's timeout; a TLS socket, whose handle
   * is not TCP's, is destroyed as usual).
   */
  private teardown(reset: boolean): void {
    if (this.state === 'closed' || this.state === 'quarantined') return;
    this.closeReason ??= 'local';
    this.to('closing', 'destroy');
    this.toOutput('abort');
    this.saved = null;
    this.stream?.end();
    this.dropQueue();
    if (reset && !(this.socket as TLSSocket).encrypted) this.socket.resetAndDestroy();
    else this.socket.destroy();
  }

  /**
   * The drain timed out with this connection's frames unanswered (drain.ts): report
   * err, then reset (also when a clientError listener throws, as fail()).
   */
  [kReset](err: RingwireError): void {
    if (this.state === 'closed' || this.state === 'quarantined') return;
    if (this.error) return this.teardown(true);
    this.error = err;
    try {
      this.host[kClientError](err, this);
    } finally {
      this.teardown(true);
    }
  }

  /**
   * Frames read and not answered yet (the drain counts them at its timeout): the one
   * whose handler has not settled, those listed and not delivered yet (saved), and
   * whole frames in the rx ring not listed (read while the slot was held) or, in
   * echo mode, not echoed (the tx ring is full). An incomplete frame is not one.
   */
  get [kUnanswered](): number {
    // Closing (by the application, an error or a reset): what it did not deliver it dropped on purpose.
    const held = this.window.frames; // frames out with handlers (and those settled, waiting for their turn), not onOpen's
    if (over(this.state)) return held;
    const saved = this.saved ? this.saved.list.length / FRAME_WORDS - this.saved.next : 0;
    return held + saved + this.core.bufferedFrames(this[kSlot]);
  }

  /**
   * At the connection limit, for a new connection: report err, close at once, and
   * give the slot back now rather than at the socket's 'close' event. Only for a
   * connection waiting on its peer (awaitingInput): no handler holds a view of its
   * rings, and a destroyed socket reads no more and writes nothing (libuv closes
   * its descriptor at once). A relay's client takes its upstream with it, which
   * has no one left to answer: both slots are free on return (a relay's newcomer
   * needs two).
   */
  [kEvict](err: RingwireError): void {
    const partner = this.peer === this || this.peer.window.size > 0 ? null : this.peer;
    this[kFail](err, true);
    this.onSocketClose();
    if (partner) {
      partner.destroy();
      partner.onSocketClose();
    }
  }

  /**
   * The server is draining: stop reading, answer what is buffered, then close. Called
   * again by the drain once it stops holding FINs (host[kHoldFin]): closes if answered.
   */
  [kDrain](): void {
    if (reads(this.state)) {
      this.closeReason ??= 'drain';
      this.to('draining', 'drain');
      this.updateReading();
    }
    this.whenDrained();
  }

  /** The frames of this connection, for a task per connection (onConnection). */
  [Symbol.asyncIterator](): AsyncIterableIterator<Uint8Array> {
    if (!this[kHandler].onConnection) throw new Error('iterate a connection inside onConnection (with onFrame, frames come to onFrame)');
    return this.frames();
  }

  private frames(): FrameStream {
    return (this.stream ??= new FrameStream());
  }

  // ---- reading ----

  private onRead(n: number, buf: Uint8Array): boolean {
    if (this.state !== 'open') {
      if (!reads(this.state)) return true; // closing: discarded
      if (this.preamble) {
        // Nothing was framed yet, so buf is the rx span the core expects bytes in: what followed the header moves to its start.
        const rest = this.takeHeader(buf.subarray(0, n));
        if (!rest || rest.length === 0) return !this.paused;
        buf.copyWithin(0, n - rest.length, n);
        n = rest.length;
      }
    }
    this.reading = true;
    this.host[kEnterRead]();
    try {
      this.settle(this.core.received(this[kSlot], n));
    } finally {
      this.reading = false;
      this.host[kLeaveRead]();
    }
    this[kClocks].note(n, reads(this.state) ? this.core.rxBuffered(this[kSlot]) : 0);
    return !this.paused;
  }

  /** The wait for an incomplete frame starts now: for the sweep. */
  [kRestartWait](now: number): void {
    this[kClocks].restart(now, reads(this.state) ? this.core.rxBuffered(this[kSlot]) : 0);
  }

  /**
   * Is the connection waiting for the rest of an incomplete frame, and only for the
   * peer? (Not while a handler holds its frames, a batch is saved, or output is
   * blocked or in flight: those are our waits, not the peer's.) For the sweep.
   */
  get [kAwaitingInput](): boolean {
    return this.state === 'open' && !this.pending && this.saved === null && !this.txBlocked && this.tx.bytes === 0
      && this.inflight === 0 && this.leftover === null && this.core.rxBuffered(this[kSlot]) > 0;
  }

  /**
   * The handler is done with the frames up to rx position `end`. When that empties
   * the ring its positions go back to 0; outside a read callback Node still holds
   * the span it was given at the old head, so it gets the new one (zero-copy).
   */
  private consume(end: number): void {
    this.core.consume(this[kSlot], end);
    if (this.zeroCopy && !this.reading && !this.paused && this.core.rxBuffered(this[kSlot]) === 0) {
      rearm(this.socket, this.core.readSpan(this[kSlot]));
    }
  }

  private copyIn(chunk: Uint8Array): void {
    if (this.preamble) {
      const rest = this.takeHeader(chunk);
      if (!rest) return;
      chunk = rest;
    }
    let at = 0;
    this.host[kEnterRead](); // as on the zero-copy path: this chunk's replies are written as it is done
    try {
      while (at < chunk.length && reads(this.state)) {
        const span = this.core.readSpan(this[kSlot]);
        if (span.length === 0) break;
        const n = Math.min(span.length, chunk.length - at);
        span.set(chunk.subarray(at, at + n));
        at += n;
        this.settle(this.core.received(this[kSlot], n));
        this[kClocks].note(n, reads(this.state) ? this.core.rxBuffered(this[kSlot]) : 0);
      }
    } finally {
      this.host[kLeaveRead]();
    }
    if (at < chunk.length && reads(this.state)) {
      this.leftover = chunk.subarray(at);
      this.updateReading();
    }
  }

  /** Pause reading when the rx ring is full, the echo is blocked, or the connection takes no input; resume otherwise. */
  private updateReading(): void {
    const want = reads(this.state) && !this.txBlocked && this.core.rxBuffered(this[kSlot]) < this.core.config.rxSize;
    if (want !== this.paused) return;
    if (!want) {
      this.paused = true;
      if (reads(this.state)) this.core.stats.add(S_PAUSES, 1);
      this.socket.pause();
      return;
    }
    this.paused = false;
    if (this.leftover) {
      const rest = this.leftover;
      this.leftover = null;
      this.copyIn(rest);
      if (this.paused || !reads(this.state)) return;
    }
    if (this.zeroCopy) rearm(this.socket, this.core.readSpan(this[kSlot]));
    this.socket.resume();
  }

  // ---- delivery ----

  /** Act on what a core call said: echo written, or frames listed for the handler. */
  private settle(status: number): void {
    if (this.host[kTakesFrames]) return this.run(null, status);
    this.txBlocked = status === R_BLOCKED;
    this.peer[kFlush]();
    if (status < 0) return this[kFail](this.framingError(-status));
    this.updateReading();
    if (this.state === 'draining') this.whenDrained();
  }

  /**
   * Deliver frames in order: the core's list (saved === null) or what was saved
   * of an earlier one, then act on `status`, the core's word after listing them.
   */
  private run(saved: Saved | null, status: number): void {
    const core = this.core;
    if (!saved && this.held) return this.updateReading(); // held: the core listed nothing
    const n = saved ? saved.list.length / FRAME_WORDS : core.frameCount();
    let i = saved ? saved.next : 0;
    const list = saved?.list; // undefined: the core's own list
    let done = -1;
    let failure: RingwireError | undefined;
    const w = this.window;
    const now = performance.now(); // one clock read per batch: its handlers all start now, for handlerTimeout
    this.host[kEnter](this);
    try {
      while (i < n && this.delivers()) {
        const frame = core.frame(i, list);
        const end = core.frameEnd(i, list);
        i++;
        if (w.concurrency === 1) {
          // One frame out at a time: every send is in order, so the connection is the frame's reply handle.
          const r = this.onFrame!(frame, this, this);
          if (isPromise(r)) this.await(r, w.add(end, now));
          else done = end;
          continue;
        }
        // Its place in the output is reserved before its handler runs, and the entry is its reply
        // handle. Sends through the connection are attributed to it while it runs (calling), and
        // after its awaits through frameContext, for a handler without `reply`. The oldest frame out
        // needs no context: it stays the head until it settles, and the head sends straight (any
        // frame of this connection in the context it inherits left before it).
        const current = (this.calling = w.add(end, now));
        const r = !this.contextual || w.size === 1 ? this.onFrame!(frame, this, current) : frameContext.run(current, this.onFrame!, frame, this, current);
        this.calling = undefined;
        if (isPromise(r)) this.await(r, current);
        else if (current === w.head) done = w.takeHead().end; // nothing earlier is out: done, as at concurrency 1
        else current.settled = true; // done; it leaves (its frame consumed) once the frames before it have
      }
    } catch (err) {
      failure = handlerError(err);
      const current = this.calling;
      this.calling = undefined;
      if (current !== undefined) {
        if (current === w.head) {
          w.takeHead();
        } else {
          // Frames before it are still out: the connection closes once they are answered (settled()).
          current.settled = true;
          current.failure = failure;
          w.failed = true;
          failure = undefined;
        }
      }
    } finally {
      this.host[kLeave]();
    }
    if (done >= 0) this.consume(done);
    if (failure) return this[kFail](failure);
    if (over(this.state)) return this.finWhenFlushed();
    if (i < n || !w.accepts || this.peer.tx.bytes > 0) {
      // Stopped early: keep the rest for later (list entries: their bytes stay in this slot's ring).
      if (saved) saved.next = i;
      else saved = { list: core.saveFrames(i), next: 0, status };
      this.saved = saved;
      this.hold(true);
      this.updateReading();
      return;
    }
    // Replies the handlers sent are written as the read callback returns, or once per turn of
    // the event loop (send() -> flushLater): a batch, or the async replies of one turn, is one write.
    this.saved = null;
    if (saved) this.hold(false);
    if (status < 0) return this[kFail](this.framingError(-status)); // close() writes the replies before the FIN
    // After a saved batch, bytes may have arrived while the slot was held.
    if (status === R_MORE || saved) {
      this.unlisted = false;
      return this.run(null, core.process(this[kSlot]));
    }
    this.listed();
  }

  /** Every frame the core could list was delivered: read on, or close once draining is done. */
  private listed(): void {
    this.updateReading();
    if (this.state === 'draining') this.whenDrained();
  }

  /** An error the core found in the input, with the limit or framing it broke. */
  private framingError(n: number): RingwireError {
    const { maxFrame, framingText } = this.core.config;
    if (n === E_FRAME_TOO_LARGE) {
      const size = this.core.errorSize(this[kSlot]);
      const what = size === 0 ? 'a frame longer than maxFrame' : size === 0xffffffff ? 'a frame of 4 GiB or more, over maxFrame' : `a frame of ${size} bytes, over maxFrame`;
      return ringwireError(n, `${what} (${maxFrame} bytes of payload, framing ${framingText}): raise --max-frame or fix the peer`);
    }
    if (n === E_BAD_LENGTH) return ringwireError(n, `a length prefix that cannot describe a valid frame for framing ${framingText}`);
    return ringwireError(n);
  }

  /**
   * May the next frame be delivered now? Not while the replies it would make wait
   * beyond a tx ring: this connection's own, or in a relay with onForward its
   * partner's, where its frames go (its own queue is then the partner's frames,
   * and holding its input for it would stall both ways).
   */
  private delivers(): boolean {
    return (this.state === 'open' || this.state === 'draining') && this.window.accepts && this.peer.tx.bytes === 0;
  }

  /** A handler's promise is out, or onOpen's (the window's entries). */
  private get pending(): boolean {
    return this.window.size > 0;
  }

  /** Tell the core to hold this slot's frames (list none), or to list them again. */
  private hold(held: boolean): void {
    this.held = held;
    if (held) this.unlisted = true;
    this.core.hold(this[kSlot], held);
  }

  /** A handler's promise (e: its frame's place in the window; end -1: onOpen's, the core holds the slot's frames meanwhile). */
  private await(p: PromiseLike<void>, e: InFlight): void {
    this[kHandlerSince] = this.window.head!.since;
    p.then(() => this.settled(e, undefined), err => this.settled(e, handlerError(err)));
  }

  /**
   * A handler's promise settled. Its frame leaves the window once every frame
   * before it has: then the replies the frames after it kept are sent in turn,
   * the rx ring is consumed up to the oldest frame still out, and delivery goes
   * on. A failure closes the connection after the replies of the frames before
   * it; the frames after it send nothing more (their replies are dropped).
   */
  private settled(e: InFlight, failure: RingwireError | undefined): void {
    const w = this.window;
    e.settled = true;
    e.failure = failure;
    if (e !== w.head) {
      if (failure) w.failed = true; // nothing more is delivered; it acts once its turn comes
      return;
    }
    let end = -1;
    let opened = false;
    for (;;) {
      const h = w.takeHead();
      if (h.end < 0) opened = true;
      else end = h.end;
      failure ??= h.failure;
      const next = w.head;
      if (next === undefined) break;
      const replies = w.takeReplies(next);
      if (replies) this.sendHeld(replies, !failure); // after a failure, dropped
      if (!next.settled) break;
    }
    this[kHandlerSince] = w.head?.since ?? 0;
    if (this.state === 'quarantined') {
      if (w.size > 0) return;
      this.core.stats.add(S_QUARANTINED, -1);
      return this.closeSlot('settle');
    }
    if (this.state === 'closed' || this.socket.destroyed) return this.onSocketClose();
    if (opened) this.hold(false);
    if (end >= 0) this.consume(end);
    if (failure) return this[kFail](failure);
    this.continue();
  }

  /** Deliver what was held back, unless another connection is mid-batch (then just after it). */
  private continue(): void {
    if (this.host[kDelivering]) return queueMicrotask(() => this.continue());
    if (over(this.state)) return this.finWhenFlushed();
    if (!this.window.accepts || this.peer.tx.bytes > 0) return;
    const saved = this.saved;
    if (saved) this.run(saved, saved.status);
    else if (this.window.concurrency > 1 && !this.unlisted) this.listed(); // a settle with nothing new to list: no core call
    else if (this.host[kTakesFrames] || this.txBlocked) this.settle(this.core.process(this[kSlot]));
    else this.updateReading();
  }

  // ---- closing ----

  /** The peer's FIN: no more input; what is buffered is still delivered (draining). */
  private onFin(): void {
    this.peerEnded = true;
    this.closeReason ??= 'peer';
    const preamble = this.preamble;
    if (preamble && preamble.received > 0) {
      return this[kFail](ringwireError(E_PROXY_HEADER, `bad PROXY protocol header: the peer closed after ${preamble.received} bytes of it`));
    }
    if (this.outputClosed) {
      // Both sides are done once our replies and FIN are out ('finish'); not before, or they are lost.
      if (this.socket.writableFinished) this.socket.destroy();
      return;
    }
    if (reads(this.state)) {
      this.to('draining', 'fin');
      this.updateReading();
    }
    this.whenDrained();
  }

  /** Draining: once nothing buffered can produce another frame, close (FIN after the last reply). */
  private whenDrained(): void {
    // Held frames, and whatever arrived while they were held, are delivered first (continue()).
    if (this.state !== 'draining' || this.pending || this.saved || this.txBlocked) return;
    if (this.host[kDelivering] === this) return; // mid-batch (a handler called server.close()): run() comes back here
    // Every frame read is answered. The server's drain may hold the FIN until handlers
    // elsewhere settle (they may still send here), before the queue check: replies
    // waiting for a slow reader are answered, and must not hold every other FIN.
    if (this.host[kHoldFin](this)) return;
    if (this.tx.bytes > 0) return;
    if (this.peerEnded && this.core.rxBuffered(this[kSlot]) > 0) {
      const n = this.core.rxBuffered(this[kSlot]);
      return this[kFail](ringwireError(E_TRUNCATED_FRAME, `peer closed with ${n} bytes of an incomplete frame`));
    }
    if (this.peer !== this && this.peerEnded) {
      // A relay's half-close: every frame this side sent is forwarded; its partner
      // sends FIN after them, and this side keeps taking the partner's frames.
      return this.peer.endOutput();
    }
    this.shut('idle');
  }

  /** A relay's partner has no more input: FIN after what is in this tx ring, and go on reading. */
  private endOutput(): void {
    if (this.output !== 'open' || this.state === 'closed' || this.state === 'quarantined') return;
    this.toOutput('end');
    this.finWhenFlushed();
  }

  /** Our FIN is owed: send it once no handler is pending and the queue is in the ring, after the last reply. */
  private finWhenFlushed(): void {
    if (this.output !== 'ending' || this.pending || this.host[kDelivering] === this) return;
    this.moveQueue();
    this[kFlush]();
    if (this.tx.bytes > 0) return; // the rest goes once the peer reads
    this.toOutput('fin');
    this.socket.end();
    this.socket.once('finish', this.onFinish);
    if (this.state === 'closing') this.discardInput();
  }

  /** Closing with our FIN out: read and discard until the peer's FIN, so unread input cannot turn our close into a reset. */
  private discardInput(): void {
    if (this.peerEnded || this.socket.destroyed) return;
    this.leftover = null;
    if (this.zeroCopy) rearm(this.socket, discard);
    this.socket.resume();
  }

  /** Every reply and our FIN are out ('finish'). */
  private finished(): void {
    if (this.output !== 'fin-sent') return;
    this.toOutput('finish');
    this.afterFin();
  }

  /** Our FIN is out: close once the peer closes too, or LINGER_MS from now. */
  private afterFin(): void {
    if (this.peerEnded) return void this.socket.destroy();
    if (this.state !== 'closing') return; // a relay's half-close: reading goes on until the peer's FIN
    this.lingerTimer = setTimeout(() => this.socket.destroy(), LINGER_MS);
    this.lingerTimer.unref();
  }

  // ---- the relay link ----

  /**
   * A relay: each side's whole frames go into the other's tx ring, in the core, in
   * one call per read (Core.forwardTo), with backpressure both ways. When one side
   * closes, the other closes after the frames it still has to send.
   */
  [kPair](other: Connection): void {
    this.peer = other;
    other.peer = this;
    if (this.host[kTakesFrames]) return; // onForward: frames come to forward(), not to the core's forwarding
    this.core.forwardTo(this[kSlot], other[kSlot]);
    this.core.forwardTo(other[kSlot], this[kSlot]);
  }

  /**
   * A relay with onForward (handler mode): one frame on its way to the partner,
   * which the hook may let pass, drop or replace; copied once, into the partner's
   * tx ring. A frame that queues beyond that ring stops this side's delivery
   * (delivers()) until the partner's queue is in its ring: backpressure, as in the core.
   * The hook may answer with a promise: it is awaited like onFrame's (this side's
   * next frame waits, the frame's view stays valid until it settles), and a
   * rejection is ERR_HANDLER. Returns what run() awaits, if anything.
   */
  private forward(frame: Uint8Array): void | PromiseLike<void> {
    const to = this.peer;
    if (to === this) return; // the partner is gone: this side is closing
    const out = this[kHandler].onForward!(frame, this, to);
    if (isPromise(out)) return (out as PromiseLike<unknown>).then(r => forwarded(frame, to, r));
    forwarded(frame, to, out);
  }

  /** Closing side of a relay: the partner stops forwarding here (before this slot is reused) and closes after its frames. */
  private unpair(): void {
    const p = this.peer;
    if (p === this) return;
    this.peer = this;
    p.peer = p;
    if (!this.host[kTakesFrames]) {
      this.core.forwardTo(p[kSlot], p[kSlot]);
      this.core.forwardTo(this[kSlot], this[kSlot]);
    }
    if (!this.connected && this.error) {
      // The other side never connected: the partner learns why.
      p[kFail](ringwireError(E_SOCKET, `its relay partner could not connect: ${this.error.message}`));
    } else {
      p.close();
    }
  }

  // ---- writing ----

  /** Hand Node every tx byte not yet handed over (one write, or one writev when they wrap). */
  [kFlush](): void {
    const pending = this.core.txPending(this[kSlot]) - this.inflight;
    if (pending <= 0 || this.socket.destroyed || this.outputClosed) return;
    const first = this.core.txChunk(this[kSlot], this.inflight);
    if (this.inflight === 0) this[kLastProgress] = performance.now();
    const writer = this.writer;
    if (writer) {
      const skip = this.inflight;
      this.inflight += pending;
      const r = first.length < pending ? writer.write2(first, this.core.txChunk(this[kSlot], skip + first.length)) : writer.write(first);
      if (r === WRITE_DONE) {
        this.release(pending);
        if (!this.afterWriteOwed && this.owesAfterWrite()) {
          this.afterWriteOwed = true;
          process.nextTick(this.afterDirectWrite);
        }
      } else if (r < 0) {
        this.directWritten(r, 0);
      }
      return;
    }
    // TLS encrypts what write() hands its handle at once (SSL_write, or a copy while the
    // handshake is not done), so those ring bytes are free when write() returns. They
    // reach the handle at once only when nothing waits before them in the stream and
    // the TCP connection is up (a connecting socket keeps a reference until 'connect').
    // Beyond this, one write's bytes at most sit in TLS unaccounted: the next ones wait.
    const copied = this.copiesWrites && !this.socket.connecting && this.socket.writableLength === 0;
    if (first.length < pending) {
      this.socket.cork();
      this.socket.write(first, this.onWritten);
      this.socket.write(this.core.txChunk(this[kSlot], this.inflight + first.length), this.onWritten);
      this.socket.uncork();
    } else {
      this.socket.write(first, this.onWritten);
    }
    this.inflight += pending;
    this.releaseWritten(copied);
  }

  /** Is output waiting on the peer (for the write-timeout sweep)? */
  get [kWriting](): boolean {
    return this.inflight > 0;
  }

  /** Give the core back the tx bytes the kernel (or TLS, which copied them: all of them) has taken (the stream path). */
  private releaseWritten(copied = false): void {
    const done = copied ? this.inflight : this.inflight - this.socket.writableLength;
    if (done > 0) this.release(done);
  }

  /** The kernel has the next n bytes handed over. */
  private release(n: number): void {
    this.core.release(this[kSlot], n);
    this.inflight -= n;
    this[kLastProgress] = this[kClocks].lastActive = performance.now();
  }

  /**
   * After a direct write that finished at once: does anything wait on written()?
   * (The common case, an open connection with nothing queued or blocked, does not,
   * and costs no tick.)
   */
  private owesAfterWrite(): boolean {
    // Each condition written() acts on: the queue, onDrain, a blocked echo or saved batch here or at the partner, the close.
    return this.tx.bytes > 0 || this.owesDrain || this.txBlocked || this.saved !== null || this.peer.txBlocked || this.peer.saved !== null
      || this.state !== 'open' || this.output !== 'open';
  }

  /** A pending direct write finished (or one failed at once: bytes 0). */
  private directWritten(status: number, bytes: number): void {
    if (this.state === 'closed' || this.socket.destroyed) return;
    if (status < 0) {
      // As socket.write does: the socket is destroyed with the error ('error', then
      // 'close': onSocketError maps it to ERR_SOCKET), after the current call stack.
      if (this.output === 'done') return;
      this.toOutput('abort'); // nothing more is written
      const err = writeError(status);
      process.nextTick(() => this.socket.destroy(err));
      return;
    }
    this.release(bytes);
    this.written();
  }

  private written(err?: Error | null): void {
    if (err || this.state === 'closed' || this.socket.destroyed || this.output === 'done') return;
    if (!this.writer) this.releaseWritten();
    this.moveQueue();
    this[kFlush]();
    if (this.tx.bytes === 0 && this.owesDrain) {
      this.owesDrain = false;
      try {
        const r = this[kHandler].onDrain?.(this);
        if (isPromise(r)) r.then(undefined, err => this[kFail](handlerError(err)));
      } catch (e) {
        return this[kFail](handlerError(e));
      }
    }
    // Room in this tx ring: whoever fills it (itself, or its partner in a relay) may go on.
    const feeder = this.peer;
    if (feeder !== this && (feeder.txBlocked || (feeder.saved && this.tx.bytes === 0))) feeder.continue();
    if ((feeder === this && this.txBlocked) || this.saved) this.continue();
    else if (this.state === 'draining') this.whenDrained();
    else this.finWhenFlushed();
  }

  /** Move queued replies into the tx ring while they fit (tx-queue.ts), giving their bytes back to the budget. */
  private moveQueue(): void {
    if (this.tx.bytes === 0) return;
    const moved = this.tx.moveInto(this.core, this[kSlot]);
    if (moved > 0) this.host[kQueue](-moved);
  }

  private dropQueue(): void {
    const dropped = this.tx.clear() + this.window.dropReplies();
    if (dropped > 0) this.host[kQueue](-dropped);
  }

  // ---- errors and the end ----

  /**
   * Report err, deliver nothing more; close after what is queued, or at once
   * (destroy). The close happens even when a clientError listener throws (the
   * error is recorded first, so nothing would close it later); the throw then
   * reaches the caller whole.
   */
  [kFail](err: RingwireError, destroy = false): void {
    if (this.state === 'closed' || this.state === 'quarantined' || this.error) return;
    this.error = err;
    this.preamble = null; // no header is awaited any more (nor timed by the sweep)
    try {
      this.host[kClientError](err, this);
    } finally {
      if (destroy) this.destroy();
      else this.close();
    }
  }

  private onSocketError(err: Error): void {
    if (this.state === 'closed' || this.state === 'quarantined' || this.error) return;
    const code = (err as NodeJS.ErrnoException).code ?? 'unknown';
    // A balancer's health check ends with a reset (HAProxy's do), before any header byte or after a LOCAL header: not an error.
    if (code === 'ECONNRESET' && (this.preamble?.received === 0 || this.proxyHeader?.command === 'LOCAL')) return;
    this.error = this[kEarlyError]?.(err) ?? ringwireError(E_SOCKET, `socket error ${code}: ${err.message}`, err);
    this.host[kClientError](this.error, this);
  }

  /** The socket closed: the slot goes back once no handler holds a frame of it (else it is quarantined until then). */
  private onSocketClose(): void {
    if (this.state === 'closed' || this.state === 'quarantined') return;
    this.stream?.end();
    this.toOutput('abort');
    if (this.pending) {
      // A handler still holds a view of this slot's rx ring: the slot is not reused before it settles.
      this.to('quarantined', 'socket-closed');
      this.core.stats.add(S_QUARANTINED, 1);
      this.dropQueue();
      return;
    }
    this.closeSlot('socket-closed');
  }

  /** The end: the slot goes back to the core, the relay partner is told, onClose runs. */
  private closeSlot(event: 'socket-closed' | 'settle'): void {
    this.to('closed', event);
    clearTimeout(this.lingerTimer);
    this.dropQueue();
    this.saved = null;
    this.unpair();
    this.core.close(this[kSlot]);
    this.host[kClosed](this, this.error, this.closeReason ?? 'peer');
  }
}
