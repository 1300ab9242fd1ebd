// The load generator: `connections` TCP (or TLS) connections to one echo server, each
// keeping `depth` frames in flight (depth 1 is request/response; a larger depth
// pipelines). Each time whole frames come back, as many new frames go out.
// Every received byte is compared with the tape (memcmp over views, no per-byte
// loop unless a mismatch needs counting), and each frame's round trip, from the
// write that sent it to the read that completed its echo, goes in a histogram.
// A run with any mismatch, short read or error is a failed run, not a number.
// Framing 'websocket': each connection first upgrades (websocket-wire.ts checks the
// 101 and its Sec-WebSocket-Accept), then sends masked binary client frames and
// expects their payloads back in unmasked server frames (the tape's `reply`), byte
// for byte; `frameBytes` is then the message's payload, and what `bytes` counts.
// Lifecycle: start() connects and starts the load (warm-up), measure() zeroes the
// counters, stop() stops sending, waits for every frame in flight to come back
// (or a timeout: those frames count as short reads) and returns the results.

import net from 'node:net';
import tls from 'node:tls';
import { once } from 'node:events';
import { performance } from 'node:perf_hooks';
import { frameTape, type FrameTape } from './frame-tape.ts';
import { Histogram, type HistogramData } from './histogram.ts';
import { upgrade } from './websocket-wire.ts';

export interface LoadOptions {
  host: string;
  port: number;
  connections: number;
  frameBytes: number;
  depth: number;
  /** The server's framing, as `ringwire serve --framing` takes it ('websocket': upgrade, then masked frames). */
  framing: string;
  /** How long stop() waits for frames in flight. Default 5000 ms. */
  drainTimeout?: number;
  /** Connect with TLS, trusting this CA (PEM); the handshake is done before the load starts. */
  tls?: { ca: string };
}

export interface LoadResult {
  /** Frames whose echo completed while measuring. */
  frames: number;
  bytes: number;
  /** Seconds between measure() and stop(). */
  seconds: number;
  latency: HistogramData;
  /** Echoed bytes that differ from what was sent. */
  mismatches: number;
  /** Frames sent and never echoed back whole. */
  shortReads: number;
  /** Connections that failed or closed while the load ran. */
  errors: number;
  /** The first few error messages, for the report. */
  errorMessages: string[];
}

class Flow {
  sent = 0; // bytes written, as a position on the tape (mod tape.length)
  received = 0; // bytes read, as a position on the reply tape
  inflight = 0; // frames written and not yet echoed whole
  partial = 0; // bytes of the next frame already received
  // Send times of the frames in flight, oldest first: a ring of `depth` entries.
  readonly times: Float64Array;
  timeHead = 0;
  failed = false; // counted once, however many ways it failed (error, then close)
  readonly socket: net.Socket;
  constructor(socket: net.Socket, depth: number) {
    this.socket = socket;
    this.times = new Float64Array(depth);
  }
}

export class LoadGenerator {
  private readonly tape: FrameTape;
  private readonly flows: Flow[] = [];
  private running = false;
  private measuring = false;
  private started = 0;
  private frames = 0;
  private mismatches = 0;
  private errors = 0;
  private readonly errorMessages: string[] = [];
  private latency = new Histogram();
  private whenIdle: (() => void) | undefined;
  /** Set once stop() closes the connections itself: later closes are ours, not failures. */
  private finished = false;
  readonly options: LoadOptions;

  constructor(options: LoadOptions) {
    this.options = options;
    // Enough distinct frames that a whole depth's worth is one contiguous view
    // (WebSocket: 256, so that a connection's mask keys repeat every 256 messages).
    this.tape = frameTape(options.framing, options.frameBytes, Math.max(options.framing === 'websocket' ? 256 : 64, options.depth));
  }

  /** Connect every connection and put `depth` frames in flight on each. */
  async start(): Promise<void> {
    const { connections, host, port } = this.options;
    for (let i = 0; i < connections; i += 64) { // batches stay well inside the listen backlog
      const batch = Array.from({ length: Math.min(64, connections - i) }, () => this.connect(host, port));
      this.flows.push(...await Promise.all(batch));
    }
    this.running = true;
    for (const f of this.flows) this.send(f, this.options.depth);
  }

  /** Zero the counters: what follows is the measured interval. */
  measure(): void {
    this.frames = 0;
    this.latency = new Histogram();
    this.measuring = true;
    this.started = performance.now();
  }

  async stop(): Promise<LoadResult> {
    const seconds = (performance.now() - this.started) / 1000;
    const frames = this.frames;
    const latency = this.latency.toJSON();
    this.measuring = false;
    this.running = false;
    if (this.inflight() > 0) {
      const idle = new Promise<void>(resolve => { this.whenIdle = resolve; });
      const timeout = new Promise(resolve => setTimeout(resolve, this.options.drainTimeout ?? 5000).unref());
      await Promise.race([idle, timeout]);
    }
    const shortReads = this.inflight();
    this.finished = true;
    for (const f of this.flows) f.socket.destroy();
    return {
      frames,
      bytes: frames * this.options.frameBytes,
      seconds,
      latency,
      mismatches: this.mismatches,
      shortReads,
      errors: this.errors,
      errorMessages: this.errorMessages,
    };
  }

  private inflight(): number {
    let n = 0;
    for (const f of this.flows) n += f.inflight;
    return n;
  }

  private async connect(host: string, port: number): Promise<Flow> {
    const ca = this.options.tls?.ca;
    const socket: net.Socket = ca === undefined ? net.connect({ host, port, noDelay: true }) : tls.connect({ host, port, ca, noDelay: true } as tls.ConnectionOptions);
    const flow = new Flow(socket, this.options.depth);
    socket.on('error', err => this.fail(flow, err.message));
    // The server must never close a connection of a load: any close before stop() is a failure.
    socket.on('close', () => {
      if (!this.finished) this.fail(flow, `server closed the connection (${flow.inflight} frames in flight)`);
    });
    await once(socket, ca === undefined ? 'connect' : 'secureConnect');
    // Nothing was sent yet, so any byte after the 101 is one the server made up (onData fails it).
    const early = this.options.framing === 'websocket' ? await upgrade(socket, host, port) : null;
    socket.on('data', (d: Buffer) => this.onData(flow, d));
    if (early?.length) this.onData(flow, early);
    return flow;
  }

  private fail(flow: Flow, message: string): void {
    if (flow.failed) return;
    flow.failed = true;
    this.errors++;
    if (this.errorMessages.length < 5) this.errorMessages.push(message);
    flow.inflight = 0; // nothing more will come on this connection
    this.checkIdle();
  }

  private send(f: Flow, n: number): void {
    const now = performance.now();
    const depth = this.options.depth;
    for (let i = 0; i < n; i++) f.times[(f.timeHead + f.inflight + i) % depth] = now;
    f.inflight += n;
    const S = this.tape.frameBytes;
    f.socket.write(this.tape.bytes.subarray(f.sent, f.sent + n * S));
    f.sent = (f.sent + n * S) % this.tape.length;
  }

  private onData(f: Flow, d: Buffer): void {
    const tape = this.tape.reply;
    for (let off = 0; off < d.length;) {
      const n = Math.min(d.length - off, tape.length);
      if (d.compare(tape.bytes, f.received, f.received + n, off, off + n) !== 0) {
        for (let i = 0; i < n; i++) if (d[off + i] !== tape.bytes[f.received + i]) this.mismatches++;
      }
      f.received = (f.received + n) % tape.length;
      off += n;
    }
    const S = tape.frameBytes;
    f.partial += d.length;
    const whole = Math.floor(f.partial / S);
    if (whole === 0) return;
    f.partial -= whole * S;
    if (whole > f.inflight) { // more came back than was sent
      this.fail(f, `received ${whole} frames with ${f.inflight} in flight`);
      return;
    }
    const depth = this.options.depth;
    if (this.measuring) {
      const now = performance.now();
      for (let i = 0; i < whole; i++) this.latency.record((now - f.times[(f.timeHead + i) % depth]!) * 1e6);
      this.frames += whole;
    }
    f.timeHead = (f.timeHead + whole) % depth;
    f.inflight -= whole;
    if (this.running) this.send(f, whole);
    else this.checkIdle();
  }

  private checkIdle(): void {
    if (this.whenIdle && this.inflight() === 0) this.whenIdle();
  }
}
