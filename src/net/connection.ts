// One TCP connection bound to one core slot: bytes go kernel -> rx ring -> core
// -> tx ring -> kernel, and this class moves them at the edges.
//
// Read: with zero-copy, libuv reads straight into the slot's rx ring (onread with
// a function buffer) and each read is one core call. On the copying fallback,
// 'data' chunks are copied into the same ring. Handler mode: the frames the core
// listed are handed to onFrame as views, valid until the handler returns.
//
// Write: views of the tx ring are written as they are; Node keeps a reference,
// not a copy, so the ring's bytes are released only once the kernel has them:
// `inflight - socket.writableLength` bytes, checked right after write() and in
// the write callback.
//
// Backpressure: when the core reports a full tx ring (or a handler's reply had to
// wait in `overflow`), reading pauses; each completed write resumes decoding of
// what is buffered, and reading once everything fits. Nothing is dropped or
// reordered, and the connection's memory stays within its two rings (plus, in
// handler mode, replies to at most one batch of frames in `overflow`).
//
// Lifecycle: open -> draining (peer ended or server closing: no new input, finish
// what is buffered) -> closing (FIN sent after the last reply; input discarded
// until the peer closes or LINGER_MS passes, so our replies are not lost to a
// reset) -> closed (the slot is returned to the core).

import type net from 'node:net';
import type { Core } from '../core/core.ts';
import {
  E_HANDLER, E_IDLE_TIMEOUT, E_REPLY_TOO_LARGE, E_SOCKET, E_TRUNCATED_FRAME, RingwireError, ringwireError,
} from '../core/errors.ts';
import { R_BLOCKED, R_MORE, S_PAUSES, SEND_FULL, SEND_OK } from '../core/layout.ts';
import { adopt, rearm } from './socket-adoption.ts';

export type FrameHandler = (frame: Uint8Array, connection: Connection) => void;

export interface ConnectionInfo {
  readonly id: number;
  readonly remoteAddress: string | undefined;
  readonly remotePort: number | undefined;
}

/** What a connection needs from its server. */
export interface ConnectionHost {
  readonly core: Core;
  readonly onFrame: FrameHandler | undefined;
  readonly idleTimeout: number;
  clientError(err: RingwireError, connection: ConnectionInfo): void;
  closed(connection: Connection): void;
}

/** How long a closing connection keeps reading (and discarding) before it is destroyed. */
export const LINGER_MS = 2000;
/** Where a closing connection's input goes. Never read. */
const discard = new Uint8Array(65536);

type State = 'open' | 'draining' | 'closing' | 'closed';

export class Connection implements ConnectionInfo {
  readonly id: number;
  readonly socket: net.Socket;
  readonly remoteAddress: string | undefined;
  readonly remotePort: number | undefined;
  private readonly core: Core;
  private state: State = 'open';
  /** Waiting for tx room (backpressure): reading is paused until it clears. */
  private blocked = false;
  private peerEnded = false;
  private inSettle = false;
  /** tx bytes handed to Node and not yet released to the core. */
  private inflight = 0;
  /** Handler replies that did not fit in the tx ring yet, in order. */
  private overflow: Uint8Array[] = [];
  /** Copying path: the part of a 'data' chunk the rx ring could not take yet. */
  private leftover: Uint8Array | null = null;
  private lingerTimer: NodeJS.Timeout | undefined;
  private readonly onWritten = (err?: Error | null) => this.written(err);

  private readonly host: ConnectionHost;
  private readonly zeroCopy: boolean;

  constructor(host: ConnectionHost, slot: number, raw: net.Socket, server: net.Server, zeroCopy: boolean) {
    this.host = host;
    this.zeroCopy = zeroCopy;
    this.core = host.core;
    this.id = slot;
    this.remoteAddress = raw.remoteAddress;
    this.remotePort = raw.remotePort;
    if (zeroCopy) {
      this.socket = adopt(raw, server, {
        buffer: () => (this.state === 'open' ? this.core.readSpan(slot) : discard),
        callback: n => this.onRead(n),
      });
    } else {
      this.socket = raw;
      raw.on('data', chunk => this.copyIn(chunk));
      raw.resume();
    }
    const s = this.socket;
    s.on('end', () => this.onEnd());
    s.on('error', err => this.onSocketError(err));
    s.on('close', () => this.onClose());
    if (host.idleTimeout > 0) {
      s.setTimeout(host.idleTimeout, () => this.fail(ringwireError(E_IDLE_TIMEOUT, `no bytes for ${host.idleTimeout} ms`)));
    }
  }

  /**
   * Encode payload as one frame and queue it. Returns false when the tx ring was
   * full: the reply is kept (copied) and sent in order, and reading pauses until
   * it is out. Throws ERR_REPLY_TOO_LARGE if the framing cannot carry it.
   * After the connection closed, returns false and sends nothing.
   */
  send(payload: Uint8Array): boolean {
    if (this.state === 'closing' || this.state === 'closed') return false;
    if (this.overflow.length === 0) {
      const r = this.core.send(this.id, payload);
      if (r === SEND_OK) {
        if (!this.inSettle) this.flush();
        return true;
      }
      if (r !== SEND_FULL) throw ringwireError(E_REPLY_TOO_LARGE, `cannot send a ${payload.length}-byte reply with ${this.core.config.framingText} framing and a ${this.core.config.txSize}-byte tx ring`);
    }
    this.overflow.push(payload.slice());
    if (!this.inSettle) this.block();
    return false;
  }

  /** Finish gracefully: stop reading, answer what is buffered, flush, then close. */
  close(): void {
    if (this.state !== 'open') return;
    this.state = 'draining';
    this.socket.pause();
    this.maybeFinish();
  }

  /** Close now, dropping whatever is queued. */
  destroy(): void {
    this.socket.destroy();
  }

  // ---- input ----

  private onRead(n: number): boolean {
    if (this.state !== 'open') return true; // closing: discarded
    if (this.settle(this.core.received(this.id, n))) this.block();
    return !this.blocked;
  }

  private copyIn(chunk: Uint8Array): void {
    let at = 0;
    while (at < chunk.length && this.state === 'open' && !this.blocked) {
      const span = this.core.readSpan(this.id);
      const n = Math.min(span.length, chunk.length - at);
      span.set(chunk.subarray(at, at + n));
      at += n;
      if (this.settle(this.core.received(this.id, n))) this.block();
    }
    if (at < chunk.length && this.state === 'open') {
      this.leftover = chunk.subarray(at);
      this.block();
    }
  }

  /**
   * Act on a core result: deliver listed frames, continue full batches, write
   * what the tx ring holds, fail on an error. Returns true when the connection
   * must wait for tx room.
   */
  private settle(status: number): boolean {
    const onFrame = this.host.onFrame;
    let failure: RingwireError | undefined;
    this.inSettle = true;
    try {
      for (;;) {
        if (onFrame) {
          const count = this.core.frameCount();
          for (let i = 0; i < count; i++) onFrame(this.core.frame(i), this);
          if (count > 0) this.core.consume(this.id, this.core.frameEnd(count - 1));
        }
        if (status !== R_MORE || this.overflow.length > 0) break;
        status = this.core.process(this.id);
      }
    } catch (err) {
      failure = err instanceof RingwireError ? err : ringwireError(E_HANDLER, `onFrame threw: ${String(err)}`, err);
    } finally {
      this.inSettle = false;
    }
    // Replies to the frames before a failure still go out, ahead of the FIN.
    this.flush();
    if (status < 0) failure ??= ringwireError(-status);
    if (failure) {
      this.fail(failure);
      return false;
    }
    return status === R_BLOCKED || status === R_MORE || this.overflow.length > 0;
  }

  /** Backpressure: stop reading until the tx ring has room (counted once per stop). */
  private block(): void {
    if (this.blocked || this.state === 'closing' || this.state === 'closed') return;
    this.blocked = true;
    this.core.stats.add(S_PAUSES, 1);
    this.socket.pause();
  }

  /** The tx ring has more room: send waiting replies, decode held frames, read again. */
  private unblock(): void {
    while (this.overflow.length > 0) {
      const r = this.core.send(this.id, this.overflow[0]!);
      if (r === SEND_FULL) return this.flush();
      this.overflow.shift();
      if (r !== SEND_OK) return this.fail(ringwireError(E_REPLY_TOO_LARGE));
    }
    if (this.settle(this.core.process(this.id))) return;
    if (this.state !== 'open' && this.state !== 'draining') return;
    this.blocked = false;
    if (this.leftover) {
      const rest = this.leftover;
      this.leftover = null;
      this.copyIn(rest);
      if (this.blocked) return;
    }
    if (this.state === 'draining') return this.maybeFinish();
    this.resumeReading(this.core.readSpan(this.id));
  }

  private resumeReading(span: Uint8Array): void {
    if (this.zeroCopy) rearm(this.socket, span);
    this.socket.resume();
  }

  private onEnd(): void {
    this.peerEnded = true;
    if (this.state === 'closing') {
      this.socket.destroy();
      return;
    }
    if (this.state === 'open') this.state = 'draining';
    this.maybeFinish();
  }

  /** Draining: once nothing buffered can produce a reply, send FIN after the last one. */
  private maybeFinish(): void {
    if (this.state !== 'draining' || this.blocked) return;
    if (this.peerEnded && this.core.rxBuffered(this.id) > 0) {
      const n = this.core.rxBuffered(this.id);
      return this.fail(ringwireError(E_TRUNCATED_FRAME, `peer closed with ${n} bytes of an incomplete frame`));
    }
    this.finish();
  }

  // ---- output ----

  private flush(): void {
    const pending = this.core.txPending(this.id) - this.inflight;
    if (pending <= 0 || this.socket.destroyed || !this.socket.writable) return;
    const first = this.core.txChunk(this.id, this.inflight);
    if (first.length < pending) {
      // The pending bytes wrap the ring: two views, one writev.
      this.socket.cork();
      this.socket.write(first, this.onWritten);
      this.socket.write(this.core.txChunk(this.id, this.inflight + first.length), this.onWritten);
      this.socket.uncork();
    } else {
      this.socket.write(first, this.onWritten);
    }
    this.inflight += pending;
    this.releaseWritten();
  }

  /** Give the core back the tx bytes the kernel has taken. */
  private releaseWritten(): void {
    const done = this.inflight - this.socket.writableLength;
    if (done > 0) {
      this.core.release(this.id, done);
      this.inflight -= done;
    }
  }

  private written(err?: Error | null): void {
    if (err || this.state === 'closed') return;
    this.releaseWritten();
    if (this.blocked) this.unblock();
  }

  // ---- errors and closing ----

  /** Report err, answer nothing more, close after what is already queued. */
  private fail(err: RingwireError): void {
    if (this.state === 'closing' || this.state === 'closed') return;
    this.host.clientError(err, this);
    this.overflow = [];
    this.leftover = null;
    this.finish();
  }

  /** FIN after the queued replies; discard input until the peer closes or LINGER_MS passes. */
  private finish(): void {
    if (this.state === 'closing' || this.state === 'closed') return;
    this.state = 'closing';
    this.blocked = false;
    this.socket.end();
    this.lingerTimer = setTimeout(() => this.socket.destroy(), LINGER_MS);
    this.lingerTimer.unref();
    if (!this.peerEnded) this.resumeReading(discard);
  }

  private onSocketError(err: Error): void {
    if (this.state === 'closed') return;
    const code = (err as NodeJS.ErrnoException).code ?? 'unknown';
    this.host.clientError(ringwireError(E_SOCKET, `socket error ${code}: ${err.message}`, err), this);
  }

  private onClose(): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    clearTimeout(this.lingerTimer);
    this.core.close(this.id);
    this.host.closed(this);
  }
}
