// The plain Node framed server ringwire's handler mode is measured against, written
// as a careful Node developer would write it, with no ringwire code in it:
//
// - Framing is length:4:be (a 4-byte big-endian payload length, then the payload).
//   Frames are cut from each 'data' chunk by offset, as subarrays: no copy. Node
//   allocates a fresh Buffer for every read, so a frame stays valid for as long as
//   the handler holds it, across awaits too.
// - One pending buffer per connection: the bytes of an incomplete frame wait in a
//   list of chunks that is joined once, when the frame is whole, so a frame that
//   arrives in many pieces costs one copy, not one per piece.
// - send(payload) writes the 4-byte header and the payload; replies are corked per
//   'data' event, so all the replies to one read leave in one writev.
// - 'sync': the handler is called inline. 'async': each frame's call is chained on
//   the connection's promise, so frames of one connection are handled strictly in
//   order, and the cork of a 'data' event is lifted when its last frame settles.
// - Backpressure: when the kernel has not taken a high-water mark's worth of
//   replies, reading pauses until 'drain'. (An async handler's chain is not capped:
//   the bench's load keeps a fixed number of frames in flight.)
// - A frame over maxFrame, or a handler that throws or rejects, closes that
//   connection only, after the replies to the frames before it.
// - Half-close: after the peer's FIN, the replies still pending go out, then ours.

import net from 'node:net';

export interface PlainConnection {
  /** Frame payload (a 4-byte length, then the bytes) and queue it. False: over the high-water mark. */
  send(payload: Uint8Array): boolean;
}

/** As ringwire's onFrame: `reply` sends in this frame's place (plain-pipelined.ts gives its turn; the others, the connection). */
export type PlainHandler = (frame: Buffer, connection: PlainConnection, reply: PlainConnection) => void | Promise<void>;

export interface PlainHandlerOptions {
  onFrame: PlainHandler;
  /** 'sync': call the handler inline; 'async': chain each call on the connection's promise. */
  ordering: 'sync' | 'async';
  /** Largest payload accepted; a longer frame closes the connection. Default 16 MiB. */
  maxFrame?: number;
}

const HEADER = 4;

class FramedConnection implements PlainConnection {
  private readonly socket: net.Socket;
  private readonly options: PlainHandlerOptions;
  private readonly maxFrame: number;
  /** Chunks holding the start of an incomplete frame (the first one from where it starts). */
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  /** Bytes the pending frame needs before it can be cut (its header, then all of it). */
  private need = HEADER;
  /** 'async': settles when every frame given to the handler so far has been handled. */
  private chain: Promise<void> = Promise.resolve();
  /** No more frames are cut or handled; what was replied goes out, then FIN. */
  private failed = false;

  constructor(socket: net.Socket, options: PlainHandlerOptions) {
    this.socket = socket;
    this.options = options;
    this.maxFrame = options.maxFrame ?? 16 * 1024 * 1024;
    socket.on('data', chunk => this.onData(chunk as Buffer));
    socket.on('error', () => {}); // the socket closes; other connections carry on
    socket.on('end', () => this.afterPending(() => socket.end()));
  }

  send(payload: Uint8Array): boolean {
    const header = Buffer.allocUnsafe(HEADER);
    header.writeUInt32BE(payload.length);
    this.socket.write(header);
    return this.socket.write(payload);
  }

  /** Run fn after the frames handed to the handler so far: now ('sync') or at the end of the chain ('async'). */
  private afterPending(fn: () => void): void {
    if (this.options.ordering === 'sync') fn();
    else this.chain = this.chain.then(fn);
  }

  private onData(chunk: Buffer): void {
    if (this.failed) return;
    let buf = chunk;
    if (this.pendingBytes > 0) {
      this.pending.push(chunk);
      this.pendingBytes += chunk.length;
      if (this.pendingBytes < this.need) return;
      buf = Buffer.concat(this.pending, this.pendingBytes);
      this.pending = [];
      this.pendingBytes = 0;
    }
    let at = 0;
    let corked = false;
    for (;;) {
      const length = buf.length - at >= HEADER ? buf.readUInt32BE(at) : -1;
      const end = at + HEADER + length;
      if (length > this.maxFrame) {
        this.afterPending(() => this.fail());
        break;
      }
      if (length < 0 || end > buf.length) {
        // An incomplete frame (or nothing) is left: keep it until `need` bytes are here.
        if (at < buf.length) {
          this.pending.push(at === 0 ? buf : buf.subarray(at));
          this.pendingBytes = buf.length - at;
          this.need = length < 0 ? HEADER : HEADER + length;
        }
        break;
      }
      if (!corked) {
        this.socket.cork();
        corked = true;
      }
      this.deliver(buf.subarray(at + HEADER, end));
      if (this.failed) return; // a sync handler threw: fail() has sent what was replied
      at = end;
    }
    if (corked) this.afterPending(() => this.uncork());
  }

  private deliver(frame: Buffer): void {
    const { onFrame } = this.options;
    if (this.options.ordering === 'async') {
      this.chain = this.chain
        .then(() => (this.failed ? undefined : onFrame(frame, this, this)))
        .catch(() => this.fail());
      return;
    }
    try {
      onFrame(frame, this, this);
    } catch {
      this.fail();
    }
  }

  /** Send what this 'data' event's frames replied; pause reading if the kernel did not take it. */
  private uncork(): void {
    const s = this.socket;
    s.uncork();
    if (s.writableLength >= s.writableHighWaterMark && !s.isPaused()) {
      s.pause();
      s.once('drain', () => s.resume());
    }
  }

  /** A frame over maxFrame or a failed handler: stop, send the replies already given (end() uncorks), FIN, close. */
  private fail(): void {
    if (this.failed) return;
    this.failed = true;
    this.socket.end(() => this.socket.destroy());
  }
}

/** A plain net.Server running onFrame on every length:4:be frame. Call listen() on it. */
export function createPlainHandlerServer(options: PlainHandlerOptions): net.Server {
  return net.createServer({ noDelay: true, allowHalfOpen: true }, socket => {
    new FramedConnection(socket, options);
  });
}
