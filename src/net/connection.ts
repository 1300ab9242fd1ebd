// One TCP connection bound to one core slot: bytes go kernel -> rx ring -> core
// -> (handler) -> tx ring -> kernel. This class owns the socket, reading, the
// preamble, the connection's life (its state table) and closing; its parts own
// the rest, each in its own file:
//   - delivery.ts    handler mode: frames to the handler in order, the delivery
//                    window of frames out, saved batches, held slots;
//   - writer.ts      the tx ring to the kernel (both write paths), the queue beyond
//                    the ring, and the output's state (open -> ending -> fin-sent -> done);
//   - relay-link.ts  who fills this tx ring and takes this side's frames (itself,
//                    or a relay partner), and the onForward hook;
//   - preamble.ts, upgrade-stage.ts, read-clocks.ts: the stages before framing
//                    (the PROXY header, the WebSocket upgrade), the deadline clocks.
// The parts ask the connection what stays its own through the symbols of internals.ts.
// A part is made when it is first needed (the delivery at the first frame for a
// handler, the relay link at pairing, the writer's queue at the first reply that
// waits), and the socket's listeners and read target are functions shared by every
// connection, which find theirs through the socket: an idle echo connection holds
// its writer and no closure; its deadline clocks are fields of its own, its
// addresses are read once at open and nothing is cached for them on the socket,
// and a direct write takes the thread's spare request only while it is pending
// (docs/limits-and-errors.md, what an idle connection costs).
//
// Read: with zero-copy, libuv reads straight into the slot's rx ring (onread with
// a function buffer) and each read is one core call (TLS too: Node decrypts into
// the span, socket-adoption.ts readInto(), and a full ring's overflow waits as
// `leftover`). An idle connection has no rx ring (the sweep gave it back: kShrink)
// and reads into the thread's buffer for idle reads (idleRead()); its first read
// takes the smallest ring (Core.takeRx) and is copied into it, one copy of at most
// minRing bytes per idle period, or closes it with ERR_MEMORY_EXHAUSTED when the
// pool has none (Node asks for the next span right after a read, never just before
// one, so the ring cannot be taken as the bytes arrive). On the copying path (and
// TLS after a PROXY header), 'data' chunks are copied into the same ring (taken
// again first if the connection was idle). Reading pauses whenever the rx ring is
// full (frames held by a handler, or an incomplete frame behind them) or, in echo
// mode, the tx ring is (R_BLOCKED), and resumes as room appears. What a core call
// said goes to delivery (handler mode) or is the echo's ([kSettle]).
//
// Deadlines: the endpoint's one sweep reads the clocks' timestamps
// (read-clocks.ts); the frame clocks run only while `awaitingInput`: open, bytes of
// an incomplete frame in the rx ring, and nothing of ours in the way (no handler
// holding frames, no saved batch, no output blocked or in flight).
//
// Preamble (preamble.ts): before framing, reads go to the PROXY header stage and
// not to the core; once the header is whole the stage removes itself, the
// addresses it names become remoteAddress/remotePort (the socket's stay in
// socketRemoteAddress/socketRemotePort), onOpen runs, and the bytes that followed
// the header in the same read are moved to the start of the rx span (zero-copy) or
// copied in: the core never sees a header byte. With TLS after the header
// (tlsAfterHeader), the raw socket is wrapped instead (the one time `socket`
// changes) and the endpoint calls secured() after the handshake. With websocket
// framing the HTTP upgrade is the last stage (upgrade-stage.ts): a server reads the
// request, asks onUpgrade, writes the 101 (or a plain HTTP refusal and closes with
// ERR_UPGRADE) and only then opens; a client writes its request and opens on the
// 101. onUpgrade's promise pauses reading; the bytes after the request wait as
// `leftover` and are framed once the 101 is written.
//
// States (connection-state.ts, the table; this class changes its life only through
// to(), the writer its output only through Writer.to(), each refusing a step the
// table does not have):
//   life    opening -> [preamble] -> open -> draining -> closing -> closed (while the
//           server drains, a connection that has answered everything waits in
//           draining for its FIN until drain.ts releases it: host[kHoldFin]; before
//           it, a connection the drain stopped reads once more what the kernel holds:
//           lastReads())
//           (any live state -> closing on close/destroy; -> closed on the socket's
//           close, or -> quarantined while a handler still holds a frame of the
//           slot, -> closed when it settles)
//   output  open -> ending -> fin-sent -> done (abort: -> done)
// Closing, in one vocabulary: onFin() (the peer's FIN: draining), whenDrained()
// (nothing buffered can make a frame: idle -> closing, or a relay side ends its
// partner's output), shut() (close: FIN owed), finWhenFlushed() (our FIN after the
// last reply, no handler pending), finished()/afterFin() (our FIN is out: close
// once the peer closed too or LINGER_MS later, so a reset cannot eat our replies),
// socketClosed()/closeSlot() (the slot goes back, the relay link unpairs, onClose runs).

import type net from 'node:net';
import type { TLSSocket } from 'node:tls';
import { FRAME_WORDS, R_BLOCKED, R_DONE, R_NO_MEMORY, S_PAUSES, S_QUARANTINED, WS_CLOSE, WS_CONTROL_MAX, WS_PING, type Core } from '../core/core.ts';
import { E_DRAIN_TIMEOUT, E_HANDLER, E_SOCKET, E_TRUNCATED_FRAME, E_UPGRADE, handlerError, ringwireError, type RingwireError } from '../core/errors.ts';
import type { NormalClose } from '../core/stats.ts';
import { badStep, LIFE, over, reads, type Life, type LifeEvent, type StateView } from './connection-state.ts';
import { Delivery, type Saved } from './delivery.ts';
import type { InFlight } from './delivery-window.ts';
import type { WritePath } from './direct-write.ts';
import { isPromise, kindOf, type Handler } from './handler.ts';
import { poolExhausted } from './pool-exhausted.ts';
import { ProxyStage, wrapAfterHeader, type Stage } from './preamble.ts';
import type { ProxyHeader, ProxyProtocol } from './proxy-header.ts';
import { clock, noteRead, restartWait } from './read-clocks.ts';
import { RelayLink } from './relay-link.ts';
import type { Router } from './router.ts';
import { listenForEnd, ownAddress, peerAddress, rearm, type ReadTarget } from './socket-adoption.ts';
import {
  kActive, kAwaitingInput, kClientError, kCloseSlot, kClosed, kConnectionOpened, kConsume, kDelivering, kDrain, kEarlyError, kEnter, kEnterRead,
  kError, kEvict, kHost, kExpectHeader, kExpectUpgrade, kFail, kFannedOut, kFanoutReady, kFanoutRun, kFanoutShare, kFanoutShares, kFinWhenFlushed, kFlush, kFlushLater, kFlushQueued, kInRead, kHandler, kHandlerSince, kHoldFin, kHoldsRings,
  kIdentified, kInbound, kLastActive, kLastProgress, kLeave, kLeaveRead, kLife, kLimits, kOpened, kPair, kQueue, kReply, kReset, kRestartWait, kRxSeen, kSecured, kSettle, kShrink,
  kSlot, kSocketClosed, kStage, kStageExpired, kStart, kState, kTakesFrames, kTlsAfterHeader, kTxBlocked, kUnanswered, kUpdateReading, kWaitStart, kWaitsOnWrite, kWhenDrained, kWindowBytes, kWindowStart,
  kWritePath, kWriting, kWrote, kPeer, kForward, kNextSpan, kSession, kCloseFrame,
} from './internals.ts';
import { tlsInfo, type TlsInfo } from './tls-context.ts';
import { UpgradeClientStage, UpgradeStage, type UpgradeSettings } from './upgrade-stage.ts';
import { acceptResponse, HttpRefusal, readAnswer, refusalResponse, type UpgradeAnswer, type UpgradeRequest } from './websocket-handshake.ts';
import { Writer } from './writer.ts';
import { sendKind, type SendOptions } from './message-kind.ts';
import { WebSocketSession } from './websocket-session.ts';
import { CLOSE_GOING_AWAY, CLOSE_NORMAL, closeCodeValid, websocketCloseCode } from '../core/websocket-close.ts';

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
  /** The connection delivering a batch right now, if any (delivery.ts: the core lists frames for one at a time). */
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
  /** A send: flush this connection once the read callback returns, else once per turn of the event loop (one write per batch, or per turn of async replies); a TLS connection always at the turn's end. */
  [kFlushLater](connection: Connection): void;
  /** A read callback starts: what flushLater() collects in it is written at leaveRead(), not in a tick (TLS: at the end of the turn). */
  [kEnterRead](): void;
  [kLeaveRead](): void;
  /** Inside a read callback (between enterRead and leaveRead). */
  readonly [kInRead]: boolean;
  /**
   * Bytes queued beyond the tx ring changed by delta (queued by `from`, when it adds).
   * Over the budget, stalled holders are closed first (queue-budget.ts); false when
   * `from` itself must pay.
   */
  [kQueue](delta: number, from?: Connection): boolean;
  /**
   * The connection read or wrote, and may hold rings: the host keeps it among its
   * ring holders until it has been idle long enough to give them back (kShrink).
   * Called only while it is not one already ([kHoldsRings] false).
   */
  [kActive](connection: Connection): void;
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

/** Connection's booleans, bits of its `flags`. */
const OPENED = 1, INBOUND = 2, FLUSH_QUEUED = 4, HOLDS_RINGS = 8, ZERO_COPY = 16, CONNECTED = 32, PAUSED = 64, TX_BLOCKED = 128, PEER_ENDED = 256, READING = 512;

/** How long a closing connection keeps reading (and discarding) before it is destroyed. */
export const LINGER_MS = 2000;
/** Where a closing connection's input goes. Never read. */
const discard = new Uint8Array(65536);
/**
 * Where a read goes when the rx ring is full (readSpan() empty). Only TLS needs it:
 * Node's TLS layer decrypts every record of a TCP read, into the span it was last
 * given, even after the callback paused reading (socket-adoption.ts, readInto()).
 * onRead() copies what lands here out at once, so one buffer serves every connection.
 */
const overflow = new Uint8Array(16384);
/**
 * Where a connection with no rx ring reads (an idle one: see kShrink), one buffer per
 * thread and smallest ring size (the size of the ring its read takes: the read always
 * fits). onRead() copies what lands here into that ring at once, before any other
 * socket can read, so one buffer serves every idle connection (uSockets' way).
 */
const idleReads = new Map<number, Uint8Array>();
function idleRead(minRing: number): Uint8Array {
  let buf = idleReads.get(minRing);
  if (buf === undefined) idleReads.set(minRing, (buf = new Uint8Array(minRing)));
  return buf;
}

// No closure per connection: the socket's listeners and its read target are shared
// functions that find their connection through the socket (an owner symbol, as
// Node's own stream code finds a stream from its handle); Node calls listeners and
// onread's callback with the socket as `this`.
const kConnection = Symbol('connection');
interface Owned {
  [kConnection]: Connection;
}
function ownerOf(socket: net.Socket): Connection {
  return (socket as unknown as Owned)[kConnection];
}

/**
 * The span the next read goes into. onread's `buffer` function is called with no
 * `this` and no argument: once as the socket is made (the constructor sets `next`
 * just before) and right after each read callback, in the same call from Node
 * (the callback sets it as it returns). Taken once: any other call gets `discard`,
 * never another connection's ring.
 */
let next: Uint8Array = discard;
function nextSpan(): Uint8Array {
  const span = next;
  next = discard;
  return span;
}

/** Does a PROXY header name the client (a PROXY command with addresses), rather than leave the socket's (LOCAL, UNKNOWN)? */
function namesClient(h: ProxyHeader): boolean {
  return h.command === 'PROXY' && h.family !== undefined;
}

/** The TypeError for a payload that is not bytes (the one programming error send() throws for). */
export function notBytes(where: string, payload: unknown): TypeError {
  return new TypeError(`${where} takes bytes (a Uint8Array or Buffer), got ${kindOf(payload)}`);
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
  /** The socket's own peer (behind a load balancer: the balancer), whatever a PROXY header said; read once, at start. */
  socketRemoteAddress: string | undefined;
  socketRemotePort: number | undefined;
  /** The socket's own local side, whatever a PROXY header said; read once, at start. */
  socketLocalAddress: string | undefined;
  socketLocalPort: number | undefined;
  /** The PROXY protocol header this connection began with (with its TLVs), if the server expects one. */
  proxyHeader: ProxyHeader | undefined;
  // Booleans, as bits of one field (as Node's stream states keep theirs): ten
  // fields of their own would cost every connection 72 bytes more.
  private flags = 0;
  private flag(bit: number, on: boolean): void {
    this.flags = on ? this.flags | bit : this.flags & ~bit;
  }
  /** onOpen was called (onClose will be). */
  get [kOpened](): boolean { return (this.flags & OPENED) !== 0; }
  set [kOpened](on: boolean) { this.flag(OPENED, on); }
  /** Accepted by a server (serve()), not dialled: a relay pairs it with an upstream; eviction picks among these. */
  get [kInbound](): boolean { return (this.flags & INBOUND) !== 0; }
  set [kInbound](on: boolean) { this.flag(INBOUND, on); }
  /** In the endpoint's list of connections to flush (flushLater). */
  get [kFlushQueued](): boolean { return (this.flags & FLUSH_QUEUED) !== 0; }
  set [kFlushQueued](on: boolean) { this.flag(FLUSH_QUEUED, on); }
  /** Among the endpoint's ring holders (kActive), walked until it gives its rings back. */
  get [kHoldsRings](): boolean { return (this.flags & HOLDS_RINGS) !== 0; }
  set [kHoldsRings](on: boolean) { this.flag(HOLDS_RINGS, on); }
  /** Node reads straight into the rx ring (onread), not into Buffers of its own ('data'). */
  private get zeroCopy(): boolean { return (this.flags & ZERO_COPY) !== 0; }
  /** start() ran: the socket is connected. */
  private get connected(): boolean { return (this.flags & CONNECTED) !== 0; }
  private set connected(on: boolean) { this.flag(CONNECTED, on); }
  /** We paused the socket: rx ring full, tx ring full (echo), or not open. */
  private get paused(): boolean { return (this.flags & PAUSED) !== 0; }
  private set paused(on: boolean) { this.flag(PAUSED, on); }
  /** Echo mode: the core stopped at a reply the tx ring could not take. */
  private get txBlocked(): boolean { return (this.flags & TX_BLOCKED) !== 0; }
  private set txBlocked(on: boolean) { this.flag(TX_BLOCKED, on); }
  /** The peer's FIN came. */
  private get peerEnded(): boolean { return (this.flags & PEER_ENDED) !== 0; }
  private set peerEnded(on: boolean) { this.flag(PEER_ENDED, on); }
  /** Inside the read callback: Node asks for the next span right after it. */
  private get reading(): boolean { return (this.flags & READING) !== 0; }
  private set reading(on: boolean) { this.flag(READING, on); }

  /** The hooks this connection calls: its endpoint's, or those given to connect(). */
  readonly [kHandler]: Handler<Data>;
  /** The application's own per-connection state. */
  data: Data = undefined as Data;
  /** A TLS connection's protocol, cipher, ALPN, peer verification and socket (tls-context.ts); null without TLS. */
  tls: TlsInfo | null = null;
  /** How a socket error is reported before the connection opens (its endpoint sets it during a TLS handshake: ERR_TLS). */
  [kEarlyError]: ((err: Error) => RingwireError) | undefined;

  private readonly host: ConnectionHost;
  /** Where the connection is in its life (connection-state.ts: the only way it changes is to(); its output's state is the writer's). */
  private state: Life = 'opening';
  /** The stage before framing (a PROXY header, the WebSocket upgrade): reads go to it until it is done and removed. */
  private stage: Stage | null = null;
  /** websocket framing: the upgrade (after the other stages), then control frames and the close handshake (websocket-session.ts); null with other framings. */
  private ws: WebSocketSession | null = null;
  /** The error that closed the connection, for onClose. */
  private error: RingwireError | undefined;
  /** Who began a normal close, first come (counted in stats when no error closed it). */
  private closeReason: NormalClose | undefined;

  // ---- input ----
  /** Copying path: the part of a 'data' chunk the rx ring could not take yet. */
  private leftover: Uint8Array | null = null;
  /**
   * The drain's last reads (lastReads()): 'reading' while a pass takes what the kernel
   * already holds; 'clean' once one read nothing; 'none' before, or once new bytes
   * made it start over. At the drain's timeout, 'last': one more pass in which any
   * byte read is reset and counted (lateInput()), then 'final': no more passes.
   */
  private pass: 'none' | 'reading' | 'clean' | 'last' | 'final' = 'none';
  /** Bytes the current pass read. */
  private passBytes = 0;

  /** Frames to the handler, in order (delivery.ts): made at the first use (an idle echo never makes one). */
  private dl: Delivery | null = null;
  /** Output: the tx ring to the kernel, the queue beyond it, our FIN (writer.ts). */
  private readonly out: Writer;
  /** Who fills this tx ring and takes this side's frames: a relay partner (relay-link.ts); null until paired (itself). */
  private link: RelayLink | null = null;
  /** Since when (performance.now()) the oldest frame out with a handler has been out; 0: none is. The endpoint's sweep closes the connection past handlerTimeout. */
  get [kHandlerSince](): number {
    return this.dl === null ? 0 : this.dl.since;
  }
  // The deadline clocks (read-clocks.ts; read and restarted by the endpoint's sweep): fields of the connection, not an object of their own.
  [kLastActive] = clock();
  [kWaitStart] = 0;
  [kWindowStart] = 0;
  [kWindowBytes] = 0;
  [kRxSeen] = 0;
  private lingerTimer: NodeJS.Timeout | undefined;

  /** The endpoint's core (a getter, not a field: one field fewer on every connection). */
  private get core(): Core {
    return this.host.core;
  }

  get [kHost](): ConnectionHost {
    return this.host;
  }

  constructor(host: ConnectionHost, slot: number, id: string, handler: Handler<Data>, source: SocketSource, zeroCopy: boolean) {
    this.host = host;
    this[kSlot] = slot;
    this.id = id;
    this[kHandler] = handler;
    if (zeroCopy) this.flags |= ZERO_COPY;
    this.out = new Writer(this);
    // Only onFrame's frames overlap: a task (onConnection) pulls one at a time, and a relay forwards in order.
    if (zeroCopy) {
      next = this.core.readSpan(slot); // what Node's first call of nextSpan() returns, in the socket's constructor
      this.socket = source(Connection.readTarget);
    } else {
      this.socket = source(null);
    }
    this.listen(this.socket);
  }

  /** One read target for every connection of the thread (Node copies its two functions onto each socket). */
  private static readonly readTarget: ReadTarget = { buffer: nextSpan, callback: Connection.onReadEvent };

  // The socket's listeners and read callback: `this` is the socket.
  private static onDataEvent(this: net.Socket, chunk: Uint8Array): void {
    ownerOf(this).copyIn(chunk);
  }
  private static onEndEvent(this: net.Socket): void {
    ownerOf(this).onFin();
  }
  private static onErrorEvent(this: net.Socket, err: Error): void {
    ownerOf(this).onSocketError(err);
  }
  private static onCloseEvent(this: net.Socket): void {
    ownerOf(this)[kSocketClosed]();
  }
  private static onFinishEvent(this: net.Socket): void {
    ownerOf(this).finished();
  }
  /** onread's callback: the read, then the span the next one goes into (nextSpan(), which Node calls next). */
  private static onReadEvent(this: net.Socket, n: number, buf: Uint8Array): boolean {
    const c = ownerOf(this);
    try {
      return c.onRead(n, buf);
    } finally {
      next = c[kNextSpan]();
    }
  }

  /**
   * The span this connection's next read goes into: its rx ring's free run, the
   * thread's idle buffer when it has no rx ring (idleRead), `overflow` when the ring
   * is full (only TLS reads then: see overflow), or `discard` once it takes no input.
   * For the read target, and for readInto()'s first span (endpoint.ts), which a TLS
   * socket gets once its handshake is done, and for re-arming a socket.
   */
  [kNextSpan](): Uint8Array {
    // While onUpgrade decides, what TLS still decrypts is kept (onRead copies it from overflow), never discarded.
    if (!this.takesInput()) return this.deciding ? overflow : discard;
    const span = this.core.readSpan(this[kSlot]);
    if (span.length > 0) return span;
    return this.core.rxSize(this[kSlot]) === 0 ? idleRead(this.core.config.minRing) : overflow;
  }

  private listen(s: net.Socket): void {
    (s as unknown as Owned)[kConnection] = this;
    this.out.attach(s);
    if (!this.zeroCopy) s.on('data', Connection.onDataEvent);
    listenForEnd(s, Connection.onEndEvent);
    s.on('error', Connection.onErrorEvent);
    s.on('close', Connection.onCloseEvent);
  }

  /** The delivery, made now if it was not yet. */
  private get d(): Delivery {
    // Only onFrame's frames overlap: a task (onConnection) pulls one at a time, and a relay forwards in order.
    const h = this[kHandler];
    return (this.dl ??= new Delivery(this, this.host, h.onFrame ? this.host[kLimits].concurrency : 1, this.out, h));
  }

  /** Handlers hold frames of this connection (or onOpen's promise is out). */
  private get pending(): boolean {
    return this.dl !== null && this.dl.pending;
  }

  /** Frames listed and not delivered yet (delivery.ts). */
  private get saved(): Saved | null {
    return this.dl === null ? null : this.dl.saved;
  }

  // ---- the state table (connection-state.ts) ----

  /** One step of the connection's life, as the table has it. */
  private to(next: Life, event: LifeEvent): void {
    if (!LIFE[this.state][event]?.includes(next)) throw badStep('life', this.state, event, next);
    this.state = next;
  }

  /** Both states, for the model-based test. */
  get [kState](): StateView {
    return { life: this.state, output: this.out.output };
  }

  /** Its life, for its parts. */
  get [kLife](): Life {
    return this.state;
  }

  /** The error that closed it, if one did. */
  get [kError](): RingwireError | undefined {
    return this.error;
  }

  // ---- opening and the preamble ----

  /** Read a PROXY header (these versions, within timeout ms) before framing begins. Before start(). */
  [kExpectHeader](accepts: ProxyProtocol, timeout: number): void {
    this.stage = new ProxyStage(accepts, timeout);
    this.to('preamble', 'expect-header');
  }

  /** websocket framing: the HTTP upgrade comes after the PROXY header and TLS, before framing. Before start(). */
  [kExpectUpgrade](settings: UpgradeSettings): void {
    this.ws = new WebSocketSession(settings, this, this.out);
  }

  /** websocket framing, a server's connection: the upgrade request it opened with (path, headers, subprotocols, origin), set before onUpgrade. */
  get request(): UpgradeRequest | undefined {
    return this.ws?.request;
  }

  /** websocket framing: the subprotocol chosen in the handshake (onUpgrade's, or the server's answer to a client), if any. */
  get protocol(): string | undefined {
    return this.ws?.protocol;
  }

  /** The stage before framing, if any: the endpoint's sweep reads its clock (since, timeout). */
  get [kStage](): Stage | null {
    return this.stage;
  }

  /** The stage's deadline passed, ms after it started: answer (a 408 to an upgrade) and close. For the sweep. */
  [kStageExpired](ms: number): void {
    const { response, error } = this.stage!.expired(ms);
    if (response) this.socket.write(response);
    this[kFail](error);
  }

  /** The socket is connected: run the open hooks (after the preamble, if one is expected) and start reading. Called once by the endpoint. */
  [kStart](): void {
    this.connected = true;
    const s = this.socket;
    const peer = peerAddress(s);
    this.socketRemoteAddress = peer.address;
    this.socketRemotePort = peer.port;
    const own = ownAddress(s);
    this.socketLocalAddress = own.address;
    this.socketLocalPort = own.port;
    if ((s as TLSSocket).encrypted) this.tls = tlsInfo(s as TLSSocket);
    this.out.start(s);
    if (this.stage) this.stage.since = clock();
    else if (this.state !== 'opening' || (this[kInbound] && !this.host[kIdentified](this)) || !this.opened('start')) return;
    if (!this.zeroCopy) this.socket.resume();
    else if (this.tls) this.takeDecrypted();
  }

  /**
   * A TLS connection that reads into the ring (readInto(), socket-adoption.ts):
   * what Node decrypted before the target was installed (a client's first frames
   * right after its handshake) is in the stream's buffer; it is taken as the
   * copying path takes a chunk, then the socket reads (it was made paused).
   */
  private takeDecrypted(): void {
    const s = this.socket;
    const early: Buffer[] = [];
    for (let chunk = s.read() as Buffer | null; chunk !== null; chunk = s.read() as Buffer | null) early.push(chunk);
    if (early.length > 0) this.copyIn(early.length === 1 ? early[0]! : Buffer.concat(early));
    if (!this.paused && reads(this.state)) s.resume();
  }

  /** TLS after a PROXY header: the handshake is done; open (hooks) and read. For the endpoint. */
  [kSecured](): void {
    if (this.state !== 'preamble') return; // closed during the handshake
    this.tls = tlsInfo(this.socket as TLSSocket);
    if (this.opened('secured')) this.socket.resume();
  }

  /**
   * The stages before the upgrade are done: open, or (websocket framing) start the
   * upgrade: a server waits for the request, a client sends its own. False if the
   * connection closed.
   */
  private opened(event: 'start' | 'header' | 'secured'): boolean {
    if (this.ws === null) return this.open(event);
    const u = this.ws.settings;
    this.to('preamble', event);
    const stage = u.target ? new UpgradeClientStage(u) : new UpgradeStage(u);
    stage.since = clock();
    this.stage = stage;
    if (stage instanceof UpgradeClientStage) this.socket.write(stage.request());
    return true;
  }

  /** Open: run onOpen, then start onConnection's task; false if they closed the connection. */
  private open(event: 'start' | 'header' | 'secured' | 'upgraded'): boolean {
    this.to('open', event);
    this[kOpened] = true;
    try {
      const r = this[kHandler].onOpen?.(this);
      if (isPromise(r)) {
        // Awaited like a frame's handler: frames wait (in handler mode; the echo does not), a rejection is ERR_HANDLER.
        if (this.host[kTakesFrames]) {
          this.d.hold(true);
          this.d.await(r, this.d.window.add(-1, performance.now()));
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
   * Bytes that arrived before framing began: the stages'. Returns the bytes after
   * the last one, to be framed, once every stage is done and the connection opened;
   * null while one is incomplete, when it failed, when TLS follows the header, or
   * while onUpgrade decides.
   */
  private takePreamble(bytes: Uint8Array): Uint8Array | null {
    let rest: Uint8Array | null = bytes;
    while (rest !== null && this.stage !== null) rest = this.stage instanceof ProxyStage ? this.takeHeader(this.stage, rest) : this.takeUpgrade(this.stage, rest);
    return rest;
  }

  /** The PROXY header's bytes: what follows it once it is whole (to the upgrade, or framed), else null. */
  private takeHeader(stage: ProxyStage, bytes: Uint8Array): Uint8Array | null {
    let got: ReturnType<ProxyStage['take']>;
    try {
      got = stage.take(bytes);
    } catch (err) {
      this[kFail](err as RingwireError);
      return null;
    }
    this[kLastActive] = clock();
    if (!got) return null;
    this.stage = null; // done: the stage removes itself
    this.proxyHeader = got.header; // its addresses are remoteAddress and localAddress from now on
    if (!this.host[kIdentified](this)) return null;
    const wrap = this[kTlsAfterHeader];
    if (wrap) {
      // The one time `socket` changes: the raw socket stops feeding this connection and is wrapped; secured() opens it.
      this[kTlsAfterHeader] = undefined;
      const raw = this.socket;
      raw.off('data', Connection.onDataEvent);
      raw.off('end', Connection.onEndEvent);
      raw.off('error', Connection.onErrorEvent);
      raw.off('close', Connection.onCloseEvent);
      this.socket = wrapAfterHeader(raw, got.rest, wrap);
      this.out.wrapped(this.socket); // TLS encrypts what it is given: replies go through the TLSSocket (nothing was written before)
      this.listen(this.socket);
      return null;
    }
    if (!this.opened('header')) return null;
    return got.rest;
  }

  /**
   * The upgrade's bytes: a server's request (then onUpgrade decides, and the 101 or
   * a refusal is written), or a client's 101. What follows the head once the
   * connection opened, else null. An async onUpgrade: reading pauses and the bytes
   * after the request wait, copied, as leftover, until its answer is written.
   */
  private takeUpgrade(stage: UpgradeStage | UpgradeClientStage, bytes: Uint8Array): Uint8Array | null {
    if (stage instanceof UpgradeClientStage) {
      let answer: ReturnType<UpgradeClientStage['take']>;
      try {
        answer = stage.take(bytes);
      } catch (err) {
        this[kFail](err as RingwireError, true);
        return null;
      }
      this[kLastActive] = clock();
      if (!answer) return null;
      this.stage = null;
      this.ws!.protocol = answer.protocol;
      return this.upgraded() ? answer.rest : null;
    }
    let got: ReturnType<UpgradeStage['take']>;
    try {
      got = stage.take(bytes);
    } catch (err) {
      this.refuseUpgrade(err as HttpRefusal);
      return null;
    }
    this[kLastActive] = clock();
    if (!got) return null;
    const { request, key, rest } = got;
    this.ws!.request = request;
    let answer: UpgradeAnswer | PromiseLike<UpgradeAnswer>;
    try {
      answer = this[kHandler].onUpgrade?.(request, this);
    } catch (err) {
      this.failUpgrade(handlerError(err));
      return null;
    }
    if (!isPromise(answer)) return this.answerUpgrade(answer as UpgradeAnswer, key) ? rest : null;
    stage.deciding = true;
    if (rest.length > 0) this.leftover = rest.slice(); // a view of a span the next read reuses
    this[kUpdateReading]();
    (answer as PromiseLike<UpgradeAnswer>).then(a => {
      if (this.stage !== stage) return; // closed meanwhile (upgradeTimeout, destroy)
      stage.deciding = false;
      if (this.answerUpgrade(a, key)) this[kUpdateReading]();
    }, err => {
      if (this.stage === stage) this.failUpgrade(handlerError(err));
    });
    return null;
  }

  /** onUpgrade answered: write the 101 and open (true), or refuse with its status. A meaningless answer is ERR_HANDLER. */
  private answerUpgrade(answer: UpgradeAnswer, key: string): boolean {
    let decision: ReturnType<typeof readAnswer>;
    try {
      decision = readAnswer(answer, this.ws!.request!);
    } catch (err) {
      this.failUpgrade(handlerError(err));
      return false;
    }
    if ('refuse' in decision) {
      this.refuseUpgrade(decision.refuse);
      return false;
    }
    this.stage = null; // done: the stage removes itself
    this.ws!.protocol = decision.protocol;
    this.socket.write(acceptResponse(key, decision.protocol, decision.headers));
    return this.upgraded();
  }

  /** The handshake is done (the 101 written or read): open (nothing was sent before it: Writer.takesData()). */
  private upgraded(): boolean {
    this.ws!.upgraded = true;
    return this.open('upgraded');
  }

  /** Not a valid upgrade, or refused: the plain HTTP answer, then close with ERR_UPGRADE. */
  private refuseUpgrade(refusal: HttpRefusal): void {
    this.socket.write(refusalResponse(refusal));
    this[kFail](ringwireError(E_UPGRADE, `WebSocket upgrade answered ${refusal.status}: ${refusal.message}`));
  }

  /** onUpgrade threw, rejected or answered nonsense: a 500, then close with its ERR_HANDLER. */
  private failUpgrade(err: RingwireError): void {
    this.socket.write(refusalResponse(new HttpRefusal(500, 'the server failed to decide on the upgrade')));
    this[kFail](err);
  }

  // The peer and our side, known once the connection is open: the socket's, or,
  // behind a load balancer speaking the PROXY protocol, the client and the
  // address it connected to as the header names them (LOCAL, UNKNOWN: the socket's).

  /** The peer's address (a PROXY header's client, else the socket's peer). */
  get remoteAddress(): string | undefined {
    const h = this.proxyHeader;
    return h !== undefined && namesClient(h) ? h.sourceAddress : this.socketRemoteAddress;
  }

  get remotePort(): number | undefined {
    const h = this.proxyHeader;
    return h !== undefined && namesClient(h) ? h.sourcePort : this.socketRemotePort;
  }

  /** Our side (the address a PROXY header says the client connected to, else the socket's). */
  get localAddress(): string | undefined {
    const h = this.proxyHeader;
    return h !== undefined && namesClient(h) ? h.destinationAddress : this.socketLocalAddress;
  }

  get localPort(): number | undefined {
    const h = this.proxyHeader;
    return h !== undefined && namesClient(h) ? h.destinationPort : this.socketLocalPort;
  }

  /** This thread's router: sendTo(id, bytes), publish(topic, bytes), join(connection, topic), leave(connection, topic). */
  get router(): Router {
    return this.host.router;
  }

  /** Bytes queued beyond the tx ring, waiting for the peer to read. */
  get queuedBytes(): number {
    return this.out.queued;
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
  send(payload: Uint8Array, options?: SendOptions): boolean {
    return this[kReply](this.dl?.sender(), payload, sendKind(options));
  }

  /**
   * Can a fan-out put frames straight into its tx ring now (fanout-batch.ts)? As
   * send() would, in order: it takes replies, none waits beyond the ring, and no
   * handler's window holds its replies back.
   */
  [kFanoutReady](): boolean {
    return !this.held(this.dl?.sender()) && this.out.takesInRing();
  }

  /**
   * The rest of a fan-out batch (Writer.putRun), queued as one item where send() of
   * each frame would queue it behind the replies before: true when queued, false
   * when it takes nothing (as send()), null when a handler's window holds its
   * replies (then send() each, so they keep their place).
   */
  [kFanoutRun](records: Uint8Array, at: number, end: number, payload: number): boolean | null {
    if (!this.out.takesData()) return false;
    if (this.held(this.dl?.sender())) return null;
    return this.out.putRun(records, at, end, payload);
  }

  /** Of a connection [kFanoutReady] holds for: can its writer take a fan-out batch's shared copy as it is (Writer.sharesWrites)? */
  [kFanoutShares](): boolean {
    return this.out.sharesWrites();
  }

  /** A fan-out batch's frames as wire bytes, a view of its one encoded copy, after everything sent before (Writer.putShared): sent, queued (waiting on the peer) or refused (that made it a slow consumer). */
  [kFanoutShare](wire: Uint8Array, payload: number): 'sent' | 'queued' | 'refused' {
    return this.out.putShared(wire, payload);
  }

  /** A fan-out put frames in its tx ring: written with the batch, as a send()'s. */
  [kFannedOut](): void {
    this.host[kFlushLater](this);
  }

  /** A reply of frame `at` (send(), or its own reply.send(): delivery-window.ts): in its place while earlier frames are out, else at once. */
  [kReply](at: InFlight | undefined, payload: Uint8Array, kind: number): boolean {
    if (!(payload instanceof Uint8Array)) throw notBytes('send()', payload);
    // closeSent: close() was called (its frame may still wait in a frame's place: takesData() would not know yet).
    if (this.ws?.closeSent || !this.out.takesData()) return false;
    return this.held(at) ? this.d.keep(at, payload, kind) : this.out.put(payload, kind);
  }

  /** websocket framing: our close frame (close()) after every reply already sent, so in the current frame's place while the window holds it (WebSocketSession). */
  [kCloseFrame](payload: Uint8Array): void {
    const at = this.dl?.sender();
    if (this.held(at)) this.d.keep(at, payload, WS_CLOSE);
    else this.out.put(payload, WS_CLOSE, true);
  }

  /**
   * Does a handler's window hold replies of frame `at` back (earlier frames are
   * still out)? An `at` comes only from a window (Delivery.sender()): without one
   * nothing is made here, so a subscriber that never took a frame stays without parts.
   */
  private held(at: InFlight | undefined): at is InFlight {
    return at !== undefined && this.dl!.window.holds(at);
  }

  /**
   * Finish gracefully, from anywhere (a handler too): no more frames are
   * delivered; every reply already given to send() goes out (after a pending
   * handler settles), then FIN. websocket framing, the close handshake: a close
   * frame with `code` (default 1000; 1000-1003, 1007-1014 or 3000-4999) and
   * `reason` (at most 123 bytes of UTF-8) goes out after those replies, and the
   * peer's close frame is awaited (messages that come meanwhile are dropped) for
   * closeTimeout (the endpoint's, default 5 s) before our FIN. Another code is a TypeError, a longer reason a RangeError.
   */
  close(code = 1000, reason?: string): void {
    const ws = this.ws;
    if (ws !== null && !over(this.state) && !this.error && !this.peerEnded) {
      if (!closeCodeValid(code)) throw new TypeError(`a WebSocket close code must be 1000-1003, 1007-1014 or 3000-4999, got ${String(code)}`);
      if (ws.closing(code, reason)) return;
    }
    this.shut('close');
  }

  /**
   * websocket framing: send a ping (a payload of at most 125 bytes, default none);
   * the peer answers with a pong (the core lists it; nothing else is done with it).
   * As send(): false when it had to wait beyond the tx ring or the connection is
   * closing. Another framing, or a payload over 125 bytes, is a TypeError.
   */
  ping(payload: Uint8Array = new Uint8Array(0)): boolean {
    if (this.ws === null) throw new TypeError('ping() is for websocket framing');
    if (!(payload instanceof Uint8Array)) throw notBytes('ping()', payload);
    if (payload.length > WS_CONTROL_MAX) throw new TypeError(`a ping carries at most ${WS_CONTROL_MAX} bytes, got ${payload.length}`);
    if (this.ws.closeSent || !this.out.takesData()) return false;
    return this.out.put(payload, WS_PING);
  }

  /** websocket framing: the peer's close frame, once it came: its code (1005: it named none) and reason. */
  get peerClose(): { code: number; reason: string } | undefined {
    const ws = this.ws;
    return ws === null || ws.peerCode === undefined ? undefined : { code: ws.peerCode, reason: ws.peerReason };
  }

  /** The connection's WebSocket session (null with other framings): for its delivery. */
  get [kSession](): WebSocketSession | null {
    return this.ws;
  }

  /** close(), or a draining connection with nothing left to deliver (idle). */
  private shut(event: 'close' | 'idle'): void {
    if (over(this.state)) return;
    // websocket framing: our close frame, unless it is out or the peer cannot read it (its FIN came), before the FIN.
    this.ws?.ending(this.error ? websocketCloseCode(this.error.number) : this.closeReason === 'drain' ? CLOSE_GOING_AWAY : CLOSE_NORMAL, this.peerEnded);
    this.closeReason ??= 'local';
    this.to('closing', event);
    if (this.dl !== null) this.dl.saved = null;
    this.leftover = null;
    this.dl?.stream?.end();
    this[kUpdateReading]();
    if (this.out.output === 'open') this.out.to('end');
    if (this.out.output === 'ending') return this[kFinWhenFlushed]();
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
    this.out.to('abort');
    if (this.dl !== null) this.dl.saved = null;
    this.dl?.stream?.end();
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
    const held = this.dl === null ? 0 : this.dl.framesOut; // frames out with handlers (and those settled, waiting for their turn), not onOpen's
    if (over(this.state)) return held;
    const s = this.saved;
    const saved = s ? s.list.length / FRAME_WORDS - s.next : 0;
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
    const peer = this[kPeer];
    const partner = peer === this || peer.pending ? null : peer;
    this[kFail](err, true);
    this[kSocketClosed]();
    if (partner) {
      partner.destroy();
      partner[kSocketClosed]();
    }
  }

  /**
   * The server is draining: stop reading, answer what is buffered, then close. Called
   * again by the drain once it stops holding FINs (host[kHoldFin]): closes if answered.
   */
  [kDrain](last = false): void {
    if (reads(this.state)) {
      this.closeReason ??= 'drain';
      this.to('draining', 'drain');
      this[kUpdateReading]();
    }
    if (last && this.state === 'draining' && this.closedByDrain) {
      // The timeout: no time left to answer. What the kernel holds now is late input
      // (reset and counted) rather than a clean FIN with no answer; one last pass finds it.
      if (this.pass === 'reading') this.pass = 'last'; // its immediates end it
      else if (this.pass !== 'last' && this.pass !== 'final') this.lastReads('last');
      return;
    }
    // Released after holding: no new pass. Frames it read now could publish to subscribers
    // whose FIN is already out; what came during the hold goes unanswered (docs, the drain).
    this[kWhenDrained]();
  }

  /** The server's drain, not the peer's FIN, ends this connection's input (its peer may still be sending). */
  private get closedByDrain(): boolean {
    return this.closeReason === 'drain' && !this.peerEnded;
  }

  /** onUpgrade's promise is out: nothing more is read until its answer is written. */
  private get deciding(): boolean {
    return this.stage instanceof UpgradeStage && this.stage.deciding;
  }

  /** Reads go to the preamble or the core: open (not while onUpgrade decides), or a drain's last pass. */
  private takesInput(): boolean {
    if (this.deciding) return false;
    return reads(this.state) || (this.state === 'draining' && (this.pass === 'reading' || this.pass === 'last'));
  }

  /**
   * The drain, before our FIN: read once more what the kernel already holds (a
   * request the client sent before it saw our FIN), so it is answered rather than
   * met with a clean FIN. Reading resumes for a full turn of the event loop: Node
   * starts reading in a tick, and the poll phase between the two immediates reads
   * each ready socket until EAGAIN (libuv), unless the rx ring fills (then the pass
   * reads again once its frames are answered). endPass() decides.
   */
  private lastReads(pass: 'reading' | 'last' = 'reading'): void {
    this.pass = pass;
    this.passBytes = 0;
    this[kUpdateReading]();
    setImmediate(() => setImmediate(() => this.endPass()));
  }

  /** A pass is over: it read nothing (clean: the FIN may go), or it did (answer that, then read again); the timeout's: FIN. */
  private endPass(): void {
    if (this.pass === 'last') this.pass = 'final';
    else if (this.pass === 'reading') this.pass = this.passBytes > 0 ? 'none' : 'clean';
    else return;
    this[kUpdateReading]();
    this[kWhenDrained]();
  }

  /**
   * Bytes the timeout's last pass found: requests nothing has time left to answer.
   * Reset and count (ERR_DRAIN_TIMEOUT), never a clean close.
   */
  private lateInput(n: number): void {
    this[kReset](ringwireError(E_DRAIN_TIMEOUT, `the drain timed out (drainTimeout) with ${n} bytes of input not read yet: not answered, connection reset`));
  }

  /** The frames of this connection, for a task per connection (onConnection). */
  [Symbol.asyncIterator](): AsyncIterableIterator<Uint8Array> {
    if (!this[kHandler].onConnection) throw new Error('iterate a connection inside onConnection (with onFrame, frames come to onFrame)');
    return this.d.frames();
  }

  // ---- reading ----

  private onRead(n: number, buf: Uint8Array): boolean {
    if (buf === overflow) {
      // Decrypted while the ring was full: kept, after what was kept before, and taken as the copying path takes a chunk.
      // (Copied once: overflow is shared by every connection and written again by the next record.)
      const got = buf.subarray(0, n);
      this.leftover = this.leftover ? Buffer.concat([this.leftover, got]) : got.slice();
      this[kUpdateReading]();
      return false;
    }
    if (this.state !== 'open') {
      if (this.state === 'draining' && this.pass === 'last') return this.lateInput(n), true;
      if (!this.takesInput()) return true; // closing: discarded
      this.passBytes += n;
      if (this.stage) {
        // Nothing was framed yet, so buf is the rx span the core expects bytes in: what followed the header moves to its start.
        const rest = this.takePreamble(buf.subarray(0, n));
        if (!rest || rest.length === 0) return !this.paused;
        buf.copyWithin(0, n - rest.length, n);
        n = rest.length;
      }
    }
    const slot = this[kSlot];
    if (this.core.rxSize(slot) === 0) {
      // Idle: the read is in the thread's buffer (idleRead); into the smallest ring it goes.
      if (!this.takeRx()) return false;
      this.core.readSpan(slot).set(n === buf.length ? buf : buf.subarray(0, n));
    }
    this.reading = true;
    this.host[kEnterRead]();
    try {
      this[kSettle](this.core.received(slot, n));
    } finally {
      this.reading = false;
      this.host[kLeaveRead]();
    }
    noteRead(this, n, reads(this.state) ? this.unfinished : 0);
    if (!this[kHoldsRings]) this.host[kActive](this);
    return !this.paused;
  }

  /** The wait for an incomplete frame starts now: for the sweep. */
  [kRestartWait](now: number): void {
    restartWait(this, now, reads(this.state) ? this.unfinished : 0);
  }

  /**
   * Is the connection waiting for the rest of an incomplete frame, and only for the
   * peer? (Not while a handler holds its frames, a batch is saved, or output is
   * blocked or in flight: those are our waits, not the peer's.) For the sweep.
   */
  get [kAwaitingInput](): boolean {
    return this.state === 'open' && !this.pending && this.saved === null && !this.txBlocked && this.out.queued === 0
      && !this.out.writing && this.leftover === null && this.unfinished > 0;
  }

  /**
   * Input bytes of an incomplete frame: those in the rx ring, and those a relay
   * already forwarded of the frame it is cutting through (Core.cutThrough), so the
   * frame's clocks and a FIN in its middle see the whole frame, not what is left of it.
   */
  private get unfinished(): number {
    const slot = this[kSlot];
    return this.core.rxBuffered(slot) + this.core.cutThrough(slot);
  }

  /**
   * Idle (open, nothing buffered, pending, queued or in flight): the rings go back
   * to the core's pool (shrink(): an empty tx ring and the empty rx ring, entirely).
   * Node still holds a span of the rx ring, so it gets the thread's idle buffer now,
   * outside a read (the next read takes a ring again: onRead); a paused socket gets
   * it when it resumes (updateReading). For the endpoint's ring sweep: true when the
   * connection holds no ring now.
   */
  [kShrink](): boolean {
    const slot = this[kSlot];
    if (this.core.txSize(slot) === 0 && this.core.rxSize(slot) === 0) return true; // nothing to give back
    if (this.state !== 'open' || this.reading || this.pending || this.saved !== null || this.out.queued > 0 || this.out.writing
      || this.leftover !== null || this.core.rxBuffered(slot) > 0 || this.core.txPending(slot) > 0) return false;
    if (this.core.shrink(slot) > 0 && this.zeroCopy && !this.paused) rearm(this.socket, this[kNextSpan]());
    return this.core.txSize(slot) === 0 && this.core.rxSize(slot) === 0;
  }

  /**
   * Bytes came for a connection with no rx ring (idle: shrink() took it): it takes the
   * smallest ring again, or, the pool having none, closes with ERR_MEMORY_EXHAUSTED
   * (false); other connections never notice.
   */
  private takeRx(): boolean {
    if (this.core.takeRx(this[kSlot]) === R_DONE) return true;
    this[kFail](poolExhausted(this.core, 'to read again after idling'));
    return false;
  }

  /**
   * The handler is done with the frames up to rx position `end`. When that empties
   * the ring its positions go back to 0; outside a read callback Node still holds
   * the span it was given at the old head, so it gets the new one (zero-copy).
   */
  [kConsume](end: number): void {
    this.core.consume(this[kSlot], end);
    if (this.zeroCopy && !this.reading && !this.paused && this.core.rxBuffered(this[kSlot]) === 0) {
      rearm(this.socket, this.core.readSpan(this[kSlot]));
    }
  }

  private copyIn(chunk: Uint8Array): void {
    if (this.stage) {
      const rest = this.takePreamble(chunk);
      if (!rest) return;
      chunk = rest;
    }
    if (this.state === 'draining' && this.pass === 'last') return this.lateInput(chunk.length);
    if (this.state === 'draining') this.passBytes += chunk.length;
    let at = 0;
    this.host[kEnterRead](); // as on the zero-copy path: this chunk's replies are written as it is done
    try {
      while (at < chunk.length && this.takesChunk()) {
        if (this.core.rxSize(this[kSlot]) === 0 && !this.takeRx()) return;
        const span = this.core.readSpan(this[kSlot]);
        if (span.length === 0) break;
        const n = Math.min(span.length, chunk.length - at);
        // A whole chunk (the common case) is copied as it is: a subarray would be one more object per chunk for the GC.
        span.set(n === chunk.length ? chunk : chunk.subarray(at, at + n));
        at += n;
        this[kSettle](this.core.received(this[kSlot], n));
        noteRead(this, n, reads(this.state) ? this.unfinished : 0);
        if (!this[kHoldsRings]) this.host[kActive](this);
      }
    } finally {
      this.host[kLeaveRead]();
    }
    if (at < chunk.length && this.takesChunk()) {
      this.leftover = chunk.subarray(at);
      this[kUpdateReading]();
    }
  }

  /** Bytes already taken from the socket are input even once the peer's FIN came (draining): they are decoded too. */
  private takesChunk(): boolean {
    return reads(this.state) || this.state === 'draining';
  }

  /** Pause reading when the rx ring is full, the echo is blocked, or the connection takes no input; resume otherwise. */
  [kUpdateReading](): void {
    if (this.leftover && this.state === 'draining' && this.core.rxFree(this[kSlot]) > 0) {
      // The socket reads no more, but a chunk it gave is still to be decoded (copyIn above).
      const rest = this.leftover;
      this.leftover = null;
      return this.copyIn(rest);
    }
    const want = this.takesInput() && !this.txBlocked && this.core.rxFree(this[kSlot]) > 0;
    if (want !== this.paused) return;
    if (!want) {
      this.paused = true;
      if (reads(this.state) && !this.deciding) this.core.stats.add(S_PAUSES, 1); // backpressure, not onUpgrade deciding
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
    if (this.zeroCopy) rearm(this.socket, this[kNextSpan]());
    this.socket.resume();
  }

  /** Echo mode: the core stopped at a reply the tx ring could not take. For delivery's continue(). */
  get [kTxBlocked](): boolean {
    return this.txBlocked;
  }

  /** Act on what a core call said: echo written, or frames listed for the handler (delivery.ts). */
  [kSettle](status: number): void {
    if (this.host[kTakesFrames]) return this.d.run(null, status);
    this.txBlocked = status === R_BLOCKED;
    this[kPeer][kFlush]();
    if (status < 0) return this[kFail](this.d.framingError(-status));
    if (status === R_NO_MEMORY) return this[kFail](poolExhausted(this.core, 'to go on with its input'));
    this[kUpdateReading]();
    if (this.state === 'draining') this[kWhenDrained]();
  }

  // ---- closing ----

  /** The peer's FIN: no more input; what is buffered is still delivered (draining). */
  private onFin(): void {
    this.peerEnded = true;
    this.closeReason ??= 'peer';
    const cut = this.stage?.cutShort();
    if (cut) return this[kFail](cut);
    if (this.out.closed) {
      // Both sides are done once our replies and FIN are out ('finish'); not before, or they are lost.
      if (this.socket.writableFinished) this.socket.destroy();
      return;
    }
    if (reads(this.state)) {
      this.to('draining', 'fin');
      this[kUpdateReading]();
    }
    this[kWhenDrained]();
  }

  /** Draining: once nothing buffered can produce another frame, close (FIN after the last reply). */
  [kWhenDrained](): void {
    // Held frames, and whatever arrived while they were held, are delivered first (Delivery.continue()).
    // Bytes of a 'data' chunk that did not fit the rx ring yet (copying path) are input still to come.
    if (this.state !== 'draining' || this.pending || this.saved !== null || this.txBlocked || this.leftover !== null) return;
    if (this.host[kDelivering] === this) return; // mid-batch (a handler called server.close()): Delivery.run() comes back here
    // The server drains: what the kernel holds of this peer is read and answered first
    // (lastReads(); not after the peer's FIN: all its input is read then).
    if (this.closedByDrain && this.pass !== 'clean' && this.pass !== 'final') {
      if (this.pass === 'none') this.lastReads();
      return;
    }
    // Every frame read is answered. The server's drain may hold the FIN until handlers
    // elsewhere settle (they may still send here), before the queue check: replies
    // waiting for a slow reader are answered, and must not hold every other FIN.
    if (this.host[kHoldFin](this)) return;
    if (this.out.queued > 0) return;
    if (this.peerEnded && this.unfinished > 0) {
      const sent = this.core.cutThrough(this[kSlot]);
      const also = sent > 0 ? ` (the relay had forwarded ${sent} of them: its partner closes after them)` : '';
      return this[kFail](ringwireError(E_TRUNCATED_FRAME, `peer closed with ${this.unfinished} bytes of an incomplete frame${also}`));
    }
    const peer = this[kPeer];
    if (peer !== this && this.peerEnded) {
      // A relay's half-close: every frame this side sent is forwarded; its partner
      // sends FIN after them, and this side keeps taking the partner's frames.
      return peer.endOutput();
    }
    this.shut('idle');
  }

  /** A relay's partner has no more input: FIN after what is in this tx ring, and go on reading. */
  private endOutput(): void {
    if (this.out.output !== 'open' || this.state === 'closed' || this.state === 'quarantined') return;
    this.out.to('end');
    this[kFinWhenFlushed]();
  }

  /** Our FIN is owed: send it once no handler is pending and the queue is in the ring, after the last reply. */
  [kFinWhenFlushed](): void {
    if (this.out.output !== 'ending' || this.pending || this.host[kDelivering] === this) return;
    this.out.moveQueue();
    this.out.flush();
    if (this.out.queued > 0 || this.out.holdsFin) return; // the rest goes once the peer reads (written() comes back here)
    this.out.to('fin');
    this.socket.end();
    this.socket.once('finish', Connection.onFinishEvent);
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
    if (this.out.output !== 'fin-sent') return;
    this.out.to('finish');
    this.afterFin();
  }

  /** Our FIN is out: close once the peer closes too, or LINGER_MS from now. */
  private afterFin(): void {
    if (this.peerEnded) return void this.socket.destroy();
    if (this.state !== 'closing') return; // a relay's half-close: reading goes on until the peer's FIN
    this.lingerTimer = setTimeout(() => this.socket.destroy(), LINGER_MS);
    this.lingerTimer.unref();
  }

  // ---- the relay link (relay-link.ts) ----

  /** Whose tx ring takes this side's frames, and whose frames come into this one's: itself, or its relay partner. */
  get [kPeer](): Connection {
    return this.link === null ? this : this.link.peer;
  }

  /** A relay with onForward: one frame on its way to the partner (relay-link.ts); nothing while unpaired. */
  [kForward](frame: Uint8Array): void | PromiseLike<void> {
    return this.link?.forward(frame);
  }

  /** A relay: this side and `other` take each other's frames (relay-link.ts). */
  [kPair](other: Connection): void {
    const takesFrames = this.host[kTakesFrames];
    (this.link ??= new RelayLink(this, this.core, takesFrames)).pair(other.link ??= new RelayLink(other, other.core, takesFrames));
  }

  // ---- writing (writer.ts) ----

  /** Hand Node every tx byte not yet handed over. */
  [kFlush](): void {
    this.out.flush();
  }

  /** Is output waiting on the peer (for the write-timeout sweep)? */
  get [kWriting](): boolean {
    return this.out.writing;
  }

  /** When the output last moved (the endpoint's write-timeout sweep reads it). */
  get [kLastProgress](): number {
    return this.out.lastProgress;
  }

  /** After a direct write that finished at once: does the connection wait on written() (a blocked echo or a saved batch here or at the partner, not open)? */
  get [kWaitsOnWrite](): boolean {
    const peer = this[kPeer];
    return this.txBlocked || this.saved !== null || peer.txBlocked || peer.saved !== null || this.state !== 'open';
  }

  /** A write finished and the writer moved its queue: onDrain, and whoever waited for room goes on. */
  [kWrote](): void {
    if (this.out.queued === 0 && this.out.owesDrain) {
      this.out.owesDrain = false;
      try {
        const r = this[kHandler].onDrain?.(this);
        if (isPromise(r)) r.then(undefined, err => this[kFail](handlerError(err)));
      } catch (e) {
        return this[kFail](handlerError(e));
      }
    }
    // Room in this tx ring: whoever fills it (itself, or its partner in a relay) may go on.
    const feeder = this[kPeer];
    if (feeder !== this && (feeder.txBlocked || (feeder.saved !== null && this.out.queued === 0))) feeder.d.continue();
    if ((feeder === this && this.txBlocked) || this.saved !== null) this.d.continue();
    else if (this.state === 'draining') this[kWhenDrained]();
    else this[kFinWhenFlushed]();
  }

  /** Drop every reply not in the tx ring (queued, or held for its turn), giving their bytes back to the budget. */
  private dropQueue(): void {
    const dropped = this.out.dropQueue() + (this.dl?.dropReplies() ?? 0);
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
    this.stage = null; // no header or upgrade is awaited any more (nor timed by the sweep)
    try {
      this.host[kClientError](err, this);
    } finally {
      if (destroy) this.destroy();
      else this.close();
      if (err.number === E_HANDLER) this.link?.failed(err);
    }
  }

  private onSocketError(err: Error): void {
    if (this.state === 'closed' || this.state === 'quarantined' || this.error) return;
    const code = (err as NodeJS.ErrnoException).code ?? 'unknown';
    // A balancer's health check ends with a reset (HAProxy's do), before any header byte or after a LOCAL header: not an error.
    if (code === 'ECONNRESET' && ((this.stage instanceof ProxyStage && this.stage.received === 0) || this.proxyHeader?.command === 'LOCAL')) return;
    this.error = this[kEarlyError]?.(err) ?? ringwireError(E_SOCKET, `socket error ${code}: ${err.message}`, err);
    this.host[kClientError](this.error, this);
  }

  /** The socket closed: the slot goes back once no handler holds a frame of it (else it is quarantined until then). */
  [kSocketClosed](): void {
    if (this.state === 'closed' || this.state === 'quarantined') return;
    this.dl?.stream?.end();
    this.out.to('abort');
    if (this.pending) {
      // A handler still holds a view of this slot's rx ring: the slot is not reused before it settles.
      this.to('quarantined', 'socket-closed');
      this.core.stats.add(S_QUARANTINED, 1);
      this.dropQueue();
      // Nothing is written any more (the output is done, no write is in flight once the socket
      // closed): the tx ring goes back to the pool now; the rx ring stays for the handler's views.
      const slot = this[kSlot];
      this.core.release(slot, this.core.txPending(slot));
      this.core.shrink(slot);
      return;
    }
    this[kCloseSlot]('socket-closed');
  }

  /** The end: the slot goes back to the core, the relay partner is told, onClose runs. */
  [kCloseSlot](event: 'socket-closed' | 'settle'): void {
    this.to('closed', event);
    clearTimeout(this.lingerTimer);
    this.ws?.dispose();
    this.dropQueue();
    if (this.dl !== null) this.dl.saved = null;
    this.link?.unpair(this.connected, this.error);
    this.core.close(this[kSlot]);
    this.host[kClosed](this, this.error, this.closeReason ?? 'peer');
  }
}

