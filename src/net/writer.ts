// A connection's output: its replies from the tx ring to the kernel, the queue
// beyond the ring, and its output state (connection-state.ts's second table:
// open -> ending -> fin-sent -> done), which changes only through to().
//
// Views of the tx ring are written as they are, once for all the replies a
// connection got in a read callback (as it returns) or else once per turn of the
// event loop (Endpoint.flushLater; TLS: once per turn, not inside a read callback
// unless a whole record's worth waits, see flush()); Node keeps a reference, not a copy, so the
// ring's bytes are released only once the kernel has them, or, for TLS, which
// encrypts (copies) what reaches its handle, once write() returns (flush()). Two
// write paths: 'direct' (direct-write.ts) writes through the socket's handle and
// releases what each write carried when it finishes, at once or in its
// completion; 'stream' uses socket.write and releases `inflight -
// socket.writableLength`. A TLS connection on the direct path writes through its
// TLSWrap handle (direct-write.ts): TLS encrypts at once, so the ring
// bytes are released as the write returns, and the write's completion (the
// encrypted bytes are in the kernel) is what lets the next one go: one write in
// flight, kept here rather than by the Writable. Either way, what a
// finished write allows next (the queue moves, onDrain, a blocked echo goes on,
// FIN) runs in written(), never inside flush() itself: the writer moves the
// queue and writes again, and its connection does the rest ([kWrote]).
//
// A fan-out batch's frames may skip the ring (putShared(), the direct path): a
// view of the batch's one encoded copy, shared by its subscribers (fanout-batch.ts),
// is written as it is, as a hand-written server writes one Buffer to every socket,
// so the kernel copies it once and no ring does. Only where nothing of this
// connection's can come between: open, nothing queued beyond the ring and every
// ring byte already handed to the kernel; the views leave at the next flush, ahead
// of the ring's bytes, in one writev, and libuv writes a socket's writes in order,
// so order holds across them and later writes. What a pending write holds of them
// is kept alive by its request (direct-write.ts), and the copy is never written to
// again. Views that come while a write of this connection is pending wait on the
// peer: their payload bytes count as queued (maxQueued and the budget) until the
// write that carries them completes. (socket.write's path releases ring bytes by
// `inflight - writableLength`, which bytes from elsewhere would spoil: it copies
// into the ring as before, as does TLS, which encrypts per socket anyway.)
//
// A reply that does not fit in the tx ring is copied into the tx queue
// (tx-queue.ts; put() returns false; onDrain fires once the queue has moved into
// the ring); a reply larger than the whole ring (up to maxReply) is streamed
// through it from the queue. The queue is capped per connection (maxQueued) and in
// total (the endpoint's budget): past either, ERR_SLOW_CONSUMER destroys the
// connection; so does no write progress for writeTimeout (the endpoint's sweep).
//
// Invariants: `inflight` is the tx bytes handed to Node and not yet released to
// the core (the core's tx tail moves only by release()); nothing is written once
// the output is fin-sent or done, or the socket is destroyed.

import type net from 'node:net';
import type { TLSSocket } from 'node:tls';
import { SEND_DELIMITER, SEND_FULL, SEND_NO_MEMORY, SEND_OK, SEND_TOO_LARGE, WS_BINARY, WS_CLOSE, WS_TEXT, type Core } from '../core/core.ts';
import { E_DELIMITER_IN_PAYLOAD, E_REPLY_TOO_LARGE, E_SLOW_CONSUMER, ringwireError, type RingwireError } from '../core/errors.ts';
import { poolExhausted } from './pool-exhausted.ts';
import { badStep, OUTPUT, type Output, type OutputEvent } from './connection-state.ts';
import type { Connection, ConnectionHost } from './connection.ts';
import { WRITE_DONE, WRITE_PENDING, canWriteDirect, canWriteTlsDirect, directWriter, writeError, type DirectWriteOwner, type DirectWriter } from './direct-write.ts';
import { kActive, kDelivering, kError, kFail, kFlushLater, kHoldsRings, kHost, kInRead, kLastActive, kLife, kLimits, kQueue, kSession, kSlot, kWaitsOnWrite, kWritePath, kWrote } from './internals.ts';
import { clock } from './read-clocks.ts';
import { TxQueue } from './tx-queue.ts';

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

/** The most plaintext one TLS record carries (RFC 8446, 5.1): one SSL_write of more makes several records. */
const TLS_RECORD = 16384;

export class Writer implements DirectWriteOwner {
  /** Where the output is (connection-state.ts: it changes only through to()). */
  output: Output = 'open';
  /** Replies that did not fit in the tx ring yet: made for the first (most connections never queue). */
  private tx: TxQueue | null = null;
  /** Shared fan-out views (putShared()) to write at the next flush, ahead of the ring's unhanded bytes: made for the first (most connections never subscribe). */
  private views: Uint8Array[] | null = null;
  /** Payload bytes of `views` charged as queued (they came while a write was pending). */
  private viewCharge = 0;
  /** Payload bytes of shared views charged as queued and not yet written (views, and pending writes' charges). */
  private sharedQueued = 0;
  /** Direct writes pending in libuv (the kernel did not take all of them at once). */
  private pendingWrites = 0;
  /** websocket framing: our close frame is in the output: no data frame (nor another close) follows it (RFC 6455 5.5.1). */
  private closeOut = false;
  /** put() returned false: onDrain is owed once the queue is in the ring. */
  owesDrain = false;
  /** When the output last moved (the endpoint's write-timeout sweep reads it). */
  lastProgress = 0;
  /** tx bytes handed to Node and not yet released to the core. */
  private inflight = 0;
  /** The thread's direct writer, once the socket is connected and can take it (null: socket.write). */
  private direct: DirectWriter | null = null;
  /** A direct write finished at once and written() is owed in a tick (as socket.write's callback would be). */
  private afterWriteOwed = false;
  /** The socket copies what write() hands it (TLS): see flush(). */
  private copiesWrites = false;
  /** TLS on the direct path: `direct` is taken at the first flush with nothing in the socket's Writable (flush()). */
  private tlsDirect = false;
  private readonly c: Connection;
  /** The stream path's write callback (Node calls it with no `this`): made at the first stream write; the direct path needs none. */
  private onWritten: ((err?: Error | null) => void) | undefined;

  constructor(c: Connection) {
    this.c = c;
  }

  // Read through the connection, not kept: three fields fewer on every connection's writer.
  private get host(): ConnectionHost {
    return this.c[kHost];
  }

  private get core(): Core {
    return this.c[kHost].core;
  }

  private get slot(): number {
    return this.c[kSlot];
  }

  /** One step of the output, as the table has it. */
  to(event: OutputEvent): void {
    const next = OUTPUT[this.output][event];
    if (next === undefined) throw badStep('output', this.output, event, '?');
    this.output = next;
  }

  /** Our FIN is out (or nothing more can be written): nothing more is taken. */
  get closed(): boolean {
    return this.output === 'fin-sent' || this.output === 'done';
  }

  /** The connection's socket is now `s` (at start, and once more when TLS wraps it after a PROXY header): does it copy what write() hands it? */
  attach(s: net.Socket): void {
    this.copiesWrites = (s as TLSSocket).encrypted === true;
  }

  /** The socket is connected: write through its handle if the endpoint chose that and the socket can. */
  start(s: net.Socket): void {
    if (this.host[kWritePath] !== 'direct' || this.inflight !== 0) return;
    if (canWriteDirect(s)) this.direct = directWriter();
    else this.tlsDirect = canWriteTlsDirect(s);
  }

  /** TLS wraps the socket after a PROXY header (attach() follows): replies go through the TLSSocket's handle, or its Writable (nothing was written before). */
  wrapped(s: net.Socket): void {
    this.direct = null;
    this.tlsDirect = this.host[kWritePath] === 'direct' && canWriteTlsDirect(s);
  }

  /** Payload bytes queued beyond the tx ring: replies and fan-out runs waiting for it, shared views waiting on the peer. */
  get queued(): number {
    return this.txQueued + this.sharedQueued;
  }

  /** Payload bytes in the tx queue (what must enter the ring before anything sent later). */
  private get txQueued(): number {
    return this.tx === null ? 0 : this.tx.bytes;
  }

  /** Drop every queued reply and shared view; returns the payload bytes dropped. */
  dropQueue(): number {
    const dropped = (this.tx === null ? 0 : this.tx.clear()) + this.sharedQueued;
    if (this.views !== null) this.views.length = 0;
    this.viewCharge = this.sharedQueued = 0;
    return dropped;
  }

  /** Must our FIN wait? A TLS write pending below the Writable: a shutdown now would be written before its close_notify (direct-write.ts). */
  get holdsFin(): boolean {
    return this.pendingWrites > 0 && this.copiesWrites;
  }

  /** Is output waiting on the peer (for the write-timeout sweep)? With TLS, its one write in flight counts (flush()). */
  get writing(): boolean {
    return this.inflight > 0 || this.pendingWrites > 0 || (this.copiesWrites && this.c.socket.writableLength > 0);
  }

  /**
   * Does the output take a data frame (a reply, a fan-out's) now? Open, no error
   * closed it, and, with websocket framing, upgraded (nothing of the WebSocket's
   * goes out before the 101, nor after a refusal) with our close frame not in the
   * output. The one check of every data path: put(), putRun(), putShared() (through
   * takesInRing()), the connection's send() and ping().
   */
  takesData(): boolean {
    const c = this.c;
    if (this.closed || this.closeOut || c[kLife] === 'closed' || c[kError]) return false;
    const ws = c[kSession];
    return ws === null || ws.upgraded;
  }

  /** Would put() try the tx ring now (it takes data, and nothing is queued for it)? */
  takesInRing(): boolean {
    return this.takesData() && this.txQueued === 0;
  }

  /** Can putShared() take a fan-out's shared views now (see the header)? With takesInRing(). */
  sharesWrites(): boolean {
    // Not TLS: it encrypts per connection anyway, and its writes release ring bytes as they return.
    return this.direct !== null && !this.copiesWrites && this.output === 'open' && this.txQueued === 0 && this.core.txPending(this.slot) === this.inflight;
  }

  /**
   * Frames of a fan-out batch as wire bytes, a view of the batch's one encoded copy
   * (never written again), `payload` payload bytes: written at the next flush, ahead of
   * anything sent after them (only where takesInRing() and sharesWrites() said so).
   * 'sent'; 'queued' while a write is pending (charged as queued); 'refused', as
   * put()'s false, when that makes this a slow consumer.
   */
  putShared(wire: Uint8Array, payload: number): 'sent' | 'queued' | 'refused' {
    (this.views ??= []).push(wire);
    this.host[kFlushLater](this.c);
    if (this.pendingWrites === 0) return 'sent';
    this.viewCharge += payload;
    this.sharedQueued += payload;
    return this.charge(payload) ? 'queued' : 'refused';
  }

  /**
   * send() after every earlier reply, whoever sends it, as a frame of this kind
   * (websocket framing: WS_*; other framings have one). `closing`: the WebSocket
   * close frame that goes out as an error closes the connection (nothing else is
   * taken once an error closed it). A data frame goes only where takesData() says;
   * a control frame (ping, pong, close) also after our close frame (a pong must
   * answer a ping until the peer's close came, RFC 6455 5.5.2), but one close only.
   */
  put(payload: Uint8Array, kind = WS_BINARY, closing = false): boolean {
    const c = this.c;
    if (kind === WS_BINARY || kind === WS_TEXT) {
      if (!this.takesData()) return false;
    } else if (this.closed || c[kLife] === 'closed' || (c[kError] && !closing) || (kind === WS_CLOSE && this.closeOut)) {
      return false;
    }
    if (kind === WS_CLOSE) this.closeOut = true;
    const wasEmpty = this.txQueued === 0;
    let r = wasEmpty ? this.core.send(this.slot, payload, kind) : this.core.check(payload, kind);
    if (wasEmpty && r === SEND_FULL && this.inflight === 0 && this.core.growTx(this.slot, payload.length) === SEND_OK) {
      // No write references the ring: it grows (its bytes move) so that a turn's replies still leave in one write.
      r = this.core.send(this.slot, payload, kind);
    }
    if (wasEmpty && r === SEND_FULL && !this.host[kDelivering] && this.inflight < this.core.txPending(this.slot)) {
      // Outside a batch the ring may be full only of replies waiting for the end of
      // the tick: hand them to the kernel now and try again before queueing a copy.
      this.flush();
      r = this.core.send(this.slot, payload, kind);
    }
    if (wasEmpty && r === SEND_OK) {
      this.host[kFlushLater](c);
      return true;
    }
    if (r !== SEND_OK && r !== SEND_FULL) {
      const refused = r === SEND_NO_MEMORY ? poolExhausted(this.core, 'for a reply') : replyRefusal(r, payload.length, this.core.config, this.host[kLimits].maxReply);
      if (refused) {
        c[kFail](refused);
        return false;
      }
    }
    // Copied: a Buffer's slice() would be a view of the caller's memory.
    const tx = (this.tx ??= new TxQueue());
    tx.push(new Uint8Array(payload), kind);
    if (!this.charge(payload.length)) return false;
    if (wasEmpty && r === SEND_TOO_LARGE) {
      // Larger than the tx ring: start streaming it now.
      this.moveQueue();
      this.host[kFlushLater](c);
    }
    return false;
  }

  /**
   * The rest of a fan-out batch after every earlier reply: fan-out records [at, end)
   * of a copy its subscribers share, `payload` bytes of payloads, every frame one
   * the core's fan-out encodes (fanout-batch.ts). Queued as one item (tx-queue.ts)
   * and moved into the ring as the kernel takes bytes. True when queued; false, as
   * put()'s, when the output takes nothing more or they make this a slow consumer.
   */
  putRun(records: Uint8Array, at: number, end: number, payload: number): boolean {
    const c = this.c;
    if (!this.takesData()) return false;
    const wasEmpty = this.txQueued === 0;
    (this.tx ??= new TxQueue()).pushRun(records, at, end, payload);
    if (!this.charge(payload)) return false;
    if (wasEmpty && this.inflight === 0 && this.core.txPending(this.slot) === 0) {
      // Nothing written will bring written() (the pool had no room to stage the fan-out): move it now.
      this.moveQueue();
      this.host[kFlushLater](c);
    }
    return true;
  }

  /** n more payload bytes were queued: charged to the budget; false when that makes this a slow consumer (closed). */
  private charge(n: number): boolean {
    const c = this.c;
    const withinBudget = this.host[kQueue](n, c); // the budget closes stalled holders first (queue-budget.ts)
    const queued = this.queued;
    if (queued > this.host[kLimits].maxQueued || !withinBudget) {
      const why = withinBudget ? `more than maxQueued (${this.host[kLimits].maxQueued} bytes)` : 'over the server\'s budget for queued replies';
      c[kFail](ringwireError(E_SLOW_CONSUMER, `${queued} bytes of replies queued beyond the tx ring, ${why}`), true);
      return false;
    }
    this.owesDrain = true;
    return true;
  }

  /** Hand Node every tx byte not yet handed over (one write, or one writev when they wrap). */
  flush(): void {
    const socket = this.c.socket;
    const pending = this.core.txPending(this.slot) - this.inflight;
    // Nothing is written before the connection opens (a preamble's bytes, a WebSocket's 101, go first: takesData() refuses a WebSocket's frames until then).
    if ((pending <= 0 && (this.views?.length ?? 0) === 0) || socket.destroyed || this.closed || this.c[kLife] === 'preamble') return;
    // TLS takes one write at a time (Node's TLS layer encrypts a write at once but
    // reports it done, and takes the next, only once the encrypted bytes are in the
    // kernel: in the check phase of this turn at the earliest). Replies made while one is in flight stay in the ring and
    // leave together when it completes (written() flushes): one SSL_write from one
    // view of the ring, where handing each to socket.write would queue a view per
    // reply and have Node concatenate them into a new buffer to encrypt. Through the
    // Writable, once the output ends, everything is handed over (the FIN follows it
    // in the stream); below it, the one write in flight holds, whatever the output
    // (a TLS handle aborts on a second), and so does the FIN (holdsFin).
    if (this.copiesWrites) {
      if (this.pendingWrites > 0) return;
      if (this.output === 'open') {
        if (socket.writableLength > 0) return;
        // Nor inside a read callback, unless a whole TLS record is waiting: the other
        // records of the same TCP read come next, each in its own callback, and their
        // replies leave with these at the end of the turn (Endpoint flushLater()), one
        // write rather than one now and one a turn later. A record's worth gains
        // nothing by waiting (it is a record of its own either way), and written now
        // its write completes in this turn's check phase, not the next turn's: with
        // 16 KiB replies, waiting cost ~20% more CPU per frame (docs/tls.md).
        if (this.host[kInRead] && pending < TLS_RECORD) return this.host[kFlushLater](this.c);
      }
      // Below the Writable only once nothing of its own is in flight (a WebSocket's 101
      // is written through it): from then on nothing is written through it.
      if (this.tlsDirect && socket.writableLength === 0) {
        this.tlsDirect = false;
        this.direct = directWriter();
      }
    }
    const direct = this.direct;
    if (direct !== null && this.views !== null && this.views.length > 0) return this.flushViews(direct, pending);
    const first = this.core.txChunk(this.slot, this.inflight);
    if (this.inflight === 0 && this.pendingWrites === 0) this.lastProgress = clock();
    if (direct) {
      const second = first.length < pending ? this.core.txChunk(this.slot, this.inflight + first.length) : null;
      // TLS encrypts the views inside the call: their ring bytes are free when it returns, and its completion carries none.
      const carried = this.copiesWrites ? 0 : pending;
      this.inflight += pending;
      const r = second ? direct.write2(socket, this, first, second, carried) : direct.write(socket, this, first, carried);
      if (this.copiesWrites && r >= 0) this.release(pending);
      this.afterDirect(r, carried, 0);
      return;
    }
    // TLS encrypts what write() hands its handle at once (SSL_write, or a copy while the
    // handshake is not done), so those ring bytes are free when write() returns. They
    // reach the handle at once only when nothing waits before them in the stream and
    // the TCP connection is up (a connecting socket keeps a reference until 'connect').
    // Beyond this, one write's bytes at most sit in TLS unaccounted: the next ones wait.
    const copied = this.copiesWrites && !socket.connecting && socket.writableLength === 0;
    const onWritten = (this.onWritten ??= err => this.written(err));
    if (first.length < pending) {
      socket.cork();
      socket.write(first, onWritten);
      socket.write(this.core.txChunk(this.slot, this.inflight + first.length), onWritten);
      socket.uncork();
    } else {
      socket.write(first, onWritten);
    }
    this.inflight += pending;
    this.releaseWritten(copied);
  }

  /** The shared views, then the ring's unhanded bytes (pending of them), in one writev; the request keeps the views while it is pending. */
  private flushViews(direct: DirectWriter, pending: number): void {
    const chunks = this.views!;
    if (pending > 0) {
      const first = this.core.txChunk(this.slot, this.inflight);
      chunks.push(first);
      if (first.length < pending) chunks.push(this.core.txChunk(this.slot, this.inflight + first.length));
    }
    const charge = this.viewCharge;
    this.viewCharge = 0;
    if (this.inflight === 0 && this.pendingWrites === 0) this.lastProgress = clock();
    this.inflight += pending;
    const r = direct.writev(this.c.socket, this, chunks, pending, charge);
    if (r === WRITE_PENDING) this.views = null; // the request has them now
    else chunks.length = 0;
    this.afterDirect(r, pending, charge);
  }

  /** What a direct write of `bytes` ring bytes (and `charge` queued bytes) said: done at once, pending, or failed. */
  private afterDirect(r: number, bytes: number, charge: number): void {
    if (r === WRITE_DONE) {
      this.release(bytes);
      this.uncharge(charge);
      if (!this.afterWriteOwed && this.owesAfterWrite()) {
        this.afterWriteOwed = true;
        process.nextTick(Writer.afterDirectWrite, this);
      }
    } else if (r === WRITE_PENDING) {
      this.pendingWrites++;
    } else {
      this.wrote(r, 0, 0);
    }
  }

  /** Shared views' charged bytes are written (or dropped): back to the budget. */
  private uncharge(charge: number): void {
    const n = Math.min(charge, this.sharedQueued); // dropQueue() may have given them back already
    if (n <= 0) return;
    this.sharedQueued -= n;
    this.host[kQueue](-n);
  }

  /** Give the core back the tx bytes the kernel (or TLS, which copied them: all of them) has taken (the stream path). */
  private releaseWritten(copied = false): void {
    const done = copied ? this.inflight : this.inflight - this.c.socket.writableLength;
    if (done > 0) this.release(done);
  }

  /** The kernel has the next n bytes handed over. */
  private release(n: number): void {
    this.core.release(this.slot, n);
    this.inflight -= n;
    this.lastProgress = this.c[kLastActive] = clock();
    if (!this.c[kHoldsRings]) this.host[kActive](this.c);
  }

  /**
   * After a direct write that finished at once: does anything wait on written()?
   * (The common case, an open connection with nothing queued or blocked, does not,
   * and costs no tick.)
   */
  private owesAfterWrite(): boolean {
    // Each condition written() acts on: the queue, onDrain, the close, and what the connection waits on (a blocked echo, a saved batch).
    return this.queued > 0 || this.owesDrain || this.output !== 'open' || this.c[kWaitsOnWrite];
  }

  // Shared by every writer (no closure each).
  private static afterDirectWrite(w: Writer): void {
    w.afterWriteOwed = false;
    w.written();
  }

  /** A pending direct write finished (its completion, from the thread's DirectWriter). */
  directWritten(status: number, bytes: number, charge: number): void {
    this.pendingWrites--;
    this.wrote(status, bytes, charge);
  }

  /** A direct write finished: pending until now, or one that failed at once (bytes 0). */
  private wrote(status: number, bytes: number, charge: number): void {
    const socket = this.c.socket;
    if (this.c[kLife] === 'closed' || socket.destroyed) return;
    if (status < 0) {
      // As socket.write does: the socket is destroyed with the error ('error', then
      // 'close': onSocketError maps it to ERR_SOCKET), after the current call stack.
      if (this.output === 'done') return;
      this.to('abort'); // nothing more is written
      const err = writeError(status);
      process.nextTick(() => socket.destroy(err));
      return;
    }
    // TLS released its ring bytes at the call (flush()); its records are in the kernel now: progress all the same.
    if (this.copiesWrites) this.lastProgress = clock();
    else this.release(bytes);
    this.uncharge(charge);
    this.written();
  }

  private written(err?: Error | null): void {
    if (err || this.c[kLife] === 'closed' || this.c.socket.destroyed || this.output === 'done') return;
    if (!this.direct) this.releaseWritten();
    this.moveQueue();
    this.flush();
    this.c[kWrote]();
  }

  /** Move queued replies into the tx ring while they fit (tx-queue.ts), giving their bytes back to the budget. */
  moveQueue(): void {
    const tx = this.tx;
    if (tx === null || tx.bytes === 0) return;
    const moved = tx.moveInto(this.core, this.slot);
    if (moved > 0) this.host[kQueue](-moved);
    if (tx.noMemory) this.c[kFail](poolExhausted(this.core, 'for a queued reply'), true);
  }
}
