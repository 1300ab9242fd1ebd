// Drives a core the way the host does, without sockets: copy bytes into the span
// readSpan() offers, call received(), take the listed frames and consume them,
// take what the tx ring holds, release it. In handler mode it can also act like
// an async handler: hold the slot, let the next read land, and only then copy
// the frames and consume them, so a core that moved listed bytes is caught; and
// it can shrink the rings between reads, as the host's sweep does: a slot left
// with no rx ring takes one (takeRx) before its next read is copied in, as the
// host does with a read that landed in its buffer for idle connections.
// Also an oracle encoder written independently of both cores.
import { createCore } from '../src/core/create.ts';
import type { Core, CoreKind } from '../src/core/core.ts';
import type { CoreOptions } from '../src/core/config.ts';
import { R_BLOCKED, R_MORE, R_NO_MEMORY } from '../src/core/layout.ts';

export const CORES: CoreKind[] = ['wasm', 'js'];

export interface Outcome {
  /** Every byte the core put in the tx ring, in order. */
  out: Buffer;
  /** Handler mode: every frame listed, copied when the "handler" finished with it. */
  frames: Buffer[];
  /** The first error number (0 = none). */
  error: number;
  /** The core said R_NO_MEMORY: the pool could not supply a ring the slot needed (feeding stopped). */
  noMemory: boolean;
  /** Bytes shrink() gave back to the pool. */
  shrunk: number;
  /** Reads that found no rx ring (shrink() gave it back) and took one again (takeRx). */
  retaken: number;
  /** How many times the core reported a full tx ring. */
  blocked: number;
  /** Reads after which a relay had forwarded part of a frame still incomplete (Core.cutThrough). */
  cuts: number;
  /** Bytes handed to the core (feeding stops at an error). */
  delivered: number;
  /** Where decoding stopped in the stream: delivered minus what the rx ring still holds (and a relay forwarded of the frame in progress). */
  stopAt: number;
}

export interface FeedOptions {
  /** Release at most this many tx bytes at a time (default: everything). */
  releaseStep?: number;
  /** Leave the tx ring full until the core blocks (test backpressure). */
  lazyRelease?: boolean;
  /**
   * Handler mode: for each listing in turn (cycling), whether the handler is
   * "async": the slot is held and the next read lands before the frames are
   * copied and consumed.
   */
  defer?: boolean[];
  /** For each read in turn (cycling), whether to call shrink() after it, as an idle sweep would. */
  shrink?: boolean[];
  /** Called after each shrink() that left the slot with no rx ring (e.g. other connections take the pool meanwhile). */
  afterShrink?: () => void;
  /** Echo mode, a relay: the slot whose tx ring takes the frames (Core.forwardTo, which cuts them through); `out` is read from it. */
  to?: number;
}

export function feed(core: Core, slot: number, chunks: Uint8Array[], opts: FeedOptions = {}): Outcome {
  const out: Buffer[] = [];
  const frames: Buffer[] = [];
  let error = 0;
  let noMemory = false;
  let blocked = 0;
  let cuts = 0;
  let reads = 0;
  let shrunk = 0;
  let retaken = 0;
  let delivered = 0;
  let listings = 0;
  /** Frames an "async handler" still holds: views into the rx ring (or its pad). */
  let pending: { views: Uint8Array[]; end: number } | undefined;
  const to = opts.to ?? slot;
  if (to !== slot) core.forwardTo(slot, to);
  const drain = () => {
    while (core.txPending(to) > 0) {
      const chunk = core.txChunk(to, 0);
      const n = Math.min(chunk.length, opts.releaseStep ?? Infinity);
      out.push(Buffer.from(chunk.subarray(0, n)));
      core.release(to, n);
    }
  };
  const settle = (status: number) => {
    for (;;) {
      const count = core.frameCount();
      if (count > 0) {
        const views = Array.from({ length: count }, (_, i) => core.frame(i));
        const end = core.frameEnd(count - 1);
        const defer = opts.defer?.length ? opts.defer[listings++ % opts.defer.length] : false;
        if (defer && status >= 0) {
          pending = { views, end };
          core.hold(slot, true);
          return; // process() again once the handler is done (finish)
        }
        for (const v of views) frames.push(Buffer.from(v));
        core.consume(slot, end);
      }
      if (status < 0) { error = -status; return; }
      if (status === R_NO_MEMORY) { noMemory = true; return; }
      if (status === R_BLOCKED) { blocked++; drain(); status = core.process(slot); continue; }
      if (status === R_MORE) { status = core.process(slot); continue; }
      if (!opts.lazyRelease) drain();
      return;
    }
  };
  /** The async handler is done: copy what it held, consume it, let the core list again. */
  const finish = () => {
    if (!pending) return;
    for (const v of pending.views) frames.push(Buffer.from(v));
    core.consume(slot, pending.end);
    core.hold(slot, false);
    pending = undefined;
    settle(core.process(slot));
  };
  /** Let every handler finish, those the last finish() listed included. */
  const finishAll = () => {
    while (pending) finish();
  };
  for (const chunk of chunks) {
    let at = 0;
    while (at < chunk.length && !error && !noMemory) {
      if (core.rxSize(slot) === 0) {
        // Idle with no rx ring: the read is in the host's buffer; the slot takes the smallest ring for it.
        retaken++;
        if (core.takeRx(slot) === R_NO_MEMORY) { noMemory = true; break; }
      }
      let span = core.readSpan(slot);
      if (span.length === 0) { finishAll(); drain(); settle(core.process(slot)); finishAll(); span = core.readSpan(slot); }
      if (noMemory || error) break;
      if (span.length === 0) throw new Error('rx ring full and nothing decodable');
      const n = Math.min(span.length, chunk.length - at);
      span.set(chunk.subarray(at, at + n));
      at += n;
      delivered += n;
      const held = pending !== undefined;
      const status = core.received(slot, n);
      if (held) {
        if (core.frameCount() !== 0) throw new Error('a held slot listed frames');
        if (status === R_NO_MEMORY) noMemory = true;
        else finish();
      } else settle(status);
      if (core.cutThrough(slot) > 0) cuts++;
      if (opts.shrink?.length && opts.shrink[reads++ % opts.shrink.length]) {
        shrunk += core.shrink(slot);
        if (core.rxSize(slot) === 0) opts.afterShrink?.();
      }
    }
    if (error || noMemory) break;
  }
  if (!noMemory) finishAll();
  drain();
  return { out: Buffer.concat(out), frames, error, noMemory, shrunk, retaken, blocked, cuts, delivered, stopAt: delivered - core.rxBuffered(slot) - core.cutThrough(slot) };
}

export async function coreWith(kind: CoreKind, options: CoreOptions): Promise<Core> {
  return createCore(kind, { maxConnections: 4, ...options });
}

/** Run the same bytes through a fresh slot of a fresh core. */
export async function run(kind: CoreKind, options: CoreOptions, chunks: Uint8Array[], opts?: FeedOptions): Promise<Outcome> {
  const core = await coreWith(kind, options);
  return feed(core, core.open(), chunks, opts);
}

/** Split bytes at the given offsets. */
export function splitAt(bytes: Uint8Array, ...cuts: number[]): Uint8Array[] {
  const parts: Uint8Array[] = [];
  let prev = 0;
  for (const c of [...cuts, bytes.length]) {
    parts.push(bytes.subarray(prev, c));
    prev = c;
  }
  return parts;
}

// ---- the oracle: frames on the wire, written from the spec, not from a core ----

export function lengthFrame(payload: Uint8Array, o: { size?: number; endian?: 'be' | 'le'; offset?: number; adjust?: number; prefix?: Uint8Array } = {}): Buffer {
  const size = o.size ?? 4;
  const value = payload.length - (o.adjust ?? 0);
  const field = Buffer.alloc(size);
  for (let i = 0; i < size; i++) {
    const byte = Math.floor(value / 2 ** (8 * i)) & 0xff;
    field[(o.endian ?? 'be') === 'be' ? size - 1 - i : i] = byte;
  }
  return Buffer.concat([o.prefix ?? Buffer.alloc(o.offset ?? 0), field, payload]);
}

export function varintFrame(payload: Uint8Array): Buffer {
  const prefix: number[] = [];
  let v = payload.length;
  do {
    prefix.push((v & 0x7f) | (v >= 0x80 ? 0x80 : 0));
    v = Math.floor(v / 128);
  } while (v > 0);
  return Buffer.concat([Buffer.from(prefix), payload]);
}

export const bytes = (s: string) => Buffer.from(s, 'latin1');
