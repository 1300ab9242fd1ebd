// The plain Node server the pipelined suite measures ringwire against: a
// connection's frames handled concurrently, replies in frame order, written as a
// careful Node developer would, with no ringwire code in it.
//
// - Framing is length:4:be, cut as in plain-handler.ts: frames are subarrays of the
//   'data' chunks, no copy (Node allocates a fresh Buffer per read, so a frame stays
//   valid across its handler's awaits); the chunks of an incomplete frame are
//   joined once, when it is whole.
// - Each frame's handler starts as soon as the frame is whole, whatever the earlier
//   frames' handlers are doing. Before it runs, the frame takes its turn at the tail
//   of the connection's queue (a linked list, oldest first). The head's replies are
//   written as they are sent; a later frame's replies wait in its turn until every
//   earlier turn has settled. So replies leave in frame order whatever order the
//   handlers settle in. Invariant: every turn in the queue is 'running', 'settled'
//   or 'failed'; the head is popped (and becomes 'written') once it is not running.
// - Writing: the first reply of an event-loop turn corks the socket and schedules
//   the uncork with setImmediate, so the replies that become ready before the loop
//   next reaches its check phase (the frames of a read, every handler whose timer or
//   immediate fired) leave in one writev.
// - Backpressure: at most maxInFlight turns (default 1024) are queued; past that,
//   frames stay buffered uncut and reading pauses, until turns are written. Reading
//   also pauses while the kernel has not taken a high-water mark's worth of
//   replies, until 'drain'.
// - A frame over maxFrame, or a handler that throws or rejects, closes that
//   connection only, after the replies of every frame before it; no frame after it
//   is cut, and what later frames' handlers send is dropped.
// - Half-close: after the peer's FIN, the frames already read are answered, then FIN.

import net from 'node:net';
import type { PlainConnection, PlainHandler } from './plain-handler.ts';

export interface PipelinedOptions {
  onFrame: PlainHandler;
  /** Frames of one connection with a place in its output at once (handlers running, or replies waiting). Default 1024. */
  maxInFlight?: number;
  /** Largest payload accepted; a longer frame closes the connection. Default 16 MiB. */
  maxFrame?: number;
}

const HEADER = 4;

type TurnState = 'running' | 'settled' | 'failed' | 'written';

/** One frame's place in its connection's output, and the connection its handler is given. */
class Turn implements PlainConnection {
  state: TurnState = 'running';
  next: Turn | null = null;
  /** Replies sent before this turn reached the head, in order. */
  held: Uint8Array[] | null = null;
  private readonly connection: PipelinedConnection;

  constructor(connection: PipelinedConnection) {
    this.connection = connection;
  }

  send(payload: Uint8Array): boolean {
    return this.connection.reply(this, payload);
  }
}

class PipelinedConnection {
  private readonly socket: net.Socket;
  private readonly onFrame: PlainHandler;
  private readonly maxFrame: number;
  private readonly maxInFlight: number;
  /** open: frames are cut; stopping: a frame failed, the ones before it are answered; closed: FIN sent, nothing more written. */
  private state: 'open' | 'stopping' | 'closed' = 'open';
  /** Chunks holding the bytes not cut yet (the first one from where they start). */
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  /** Bytes needed before the next frame can be cut (its header, then all of it). */
  private need = HEADER;
  private head: Turn | null = null;
  private tail: Turn | null = null;
  private inFlight = 0;
  /** In cut(): a handler settling synchronously must not start a nested cut. */
  private cutting = false;
  /** The socket is corked and an uncork is scheduled. */
  private corked = false;
  /** Reading waits for 'drain'. */
  private draining = false;
  private peerEnded = false;

  constructor(socket: net.Socket, options: PipelinedOptions) {
    this.socket = socket;
    this.onFrame = options.onFrame;
    this.maxFrame = options.maxFrame ?? 16 * 1024 * 1024;
    this.maxInFlight = options.maxInFlight ?? 1024;
    socket.on('data', chunk => this.onData(chunk as Buffer));
    socket.on('error', () => {}); // the socket closes; other connections carry on
    socket.on('end', () => {
      this.peerEnded = true;
      this.maybeEnd();
    });
  }

  /** A handler's send(): written now if its turn is the head (or past), else held in its turn. */
  reply(turn: Turn, payload: Uint8Array): boolean {
    if (this.state === 'closed') return false;
    const header = Buffer.allocUnsafe(HEADER);
    header.writeUInt32BE(payload.length);
    if (turn === this.head || turn.state === 'written') {
      this.write(header);
      this.write(payload);
    } else {
      (turn.held ??= []).push(header, payload);
    }
    return !this.draining;
  }

  private onData(chunk: Buffer): void {
    if (this.state !== 'open') return;
    this.pending.push(chunk);
    this.pendingBytes += chunk.length;
    if (this.pendingBytes >= this.need) this.cut();
  }

  /** Start the handler of each whole frame buffered, until maxInFlight turns are queued. */
  private cut(): void {
    const buf = this.pending.length === 1 ? this.pending[0]! : Buffer.concat(this.pending, this.pendingBytes);
    let at = 0;
    this.cutting = true;
    while (this.state === 'open' && this.inFlight < this.maxInFlight && buf.length - at >= HEADER) {
      const length = buf.readUInt32BE(at);
      if (length > this.maxFrame) {
        this.fail(this.enqueue());
        break;
      }
      const end = at + HEADER + length;
      if (end > buf.length) break;
      this.start(buf.subarray(at + HEADER, end));
      at = end;
    }
    this.cutting = false;
    const rest = buf.length - at;
    this.pending = rest === 0 ? [] : [at === 0 ? buf : buf.subarray(at)];
    this.pendingBytes = rest;
    this.need = rest < HEADER ? HEADER : HEADER + buf.readUInt32BE(at);
    this.afterProgress();
  }

  private enqueue(): Turn {
    const turn = new Turn(this);
    if (this.tail) this.tail.next = turn;
    else this.head = turn;
    this.tail = turn;
    this.inFlight++;
    return turn;
  }

  private start(frame: Buffer): void {
    const turn = this.enqueue();
    let result: void | Promise<void>;
    try {
      result = this.onFrame(frame, turn, turn);
    } catch {
      this.fail(turn); // the handler threw: its connection closes, in order
      return;
    }
    if (result instanceof Promise) result.then(() => this.settle(turn), () => this.fail(turn));
    else this.settle(turn);
  }

  private settle(turn: Turn): void {
    turn.state = 'settled';
    if (turn === this.head) this.advance();
  }

  private fail(turn: Turn): void {
    turn.state = 'failed';
    if (this.state === 'open') this.state = 'stopping';
    if (turn === this.head) this.advance();
  }

  /** Pop the settled turns at the head, writing the replies the next head holds; close at a failed one. */
  private advance(): void {
    if (this.state === 'closed') return; // turns after a failure settle after the close
    let head = this.head;
    while (head && head.state !== 'running') {
      if (head.state === 'failed') {
        this.close();
        return;
      }
      head.state = 'written';
      head = head.next;
      this.inFlight--;
      if (head?.held) {
        for (const r of head.held) this.write(r);
        head.held = null;
      }
    }
    this.head = head;
    if (!head) this.tail = null;
    if (!this.cutting) this.afterProgress();
  }

  /** After frames were cut or turns written: cut what now fits, pause or resume reading, FIN if all is answered. */
  private afterProgress(): void {
    if (this.state === 'open' && this.inFlight < this.maxInFlight && this.pendingBytes >= this.need) {
      this.cut(); // ends in afterProgress()
      return;
    }
    this.updateReading();
    this.maybeEnd();
  }

  private updateReading(): void {
    if (this.state === 'closed') return;
    const pause = this.draining || this.inFlight >= this.maxInFlight || this.state !== 'open';
    if (pause && !this.socket.isPaused()) this.socket.pause();
    else if (!pause && this.socket.isPaused()) this.socket.resume();
  }

  private write(bytes: Uint8Array): void {
    if (!this.corked) {
      this.corked = true;
      this.socket.cork();
      setImmediate(this.flush);
    }
    this.socket.write(bytes);
  }

  /** The end of the turn's writing: every reply since the cork leaves in one writev; pause if the kernel did not take it. */
  private readonly flush = (): void => {
    this.corked = false;
    const s = this.socket;
    s.uncork();
    if (!this.draining && !s.destroyed && s.writableLength >= s.writableHighWaterMark) {
      this.draining = true;
      this.updateReading();
      s.once('drain', () => {
        this.draining = false;
        this.updateReading();
      });
    }
  };

  private maybeEnd(): void {
    if (this.peerEnded && this.state === 'open' && this.head === null && this.pendingBytes < this.need) this.close();
  }

  /** FIN after what was written (end() uncorks), then close; later replies are dropped. */
  private close(): void {
    this.state = 'closed';
    this.head = this.tail = null;
    this.inFlight = 0;
    this.socket.end(() => this.socket.destroy());
  }
}

/** A plain net.Server running onFrame on every length:4:be frame, a connection's frames concurrently. Call listen() on it. */
export function createPipelinedServer(options: PipelinedOptions): net.Server {
  return net.createServer({ noDelay: true, allowHalfOpen: true }, socket => {
    new PipelinedConnection(socket, options);
  });
}
