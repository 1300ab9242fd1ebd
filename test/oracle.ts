// The oracle: what a stream of bytes must decode to, written from docs/framing.md's
// framing table and nothing else. It shares no code and no structure with the
// cores: it reads the whole stream at once (no rings, no positions, no resumed
// scans), uses Buffer.indexOf and BigInt, and says, for a stream and a framing:
// the payload of every whole frame, where decoding stops (the start of the
// first invalid frame, or of the incomplete tail), and the error found there.
// An error counts only once the bytes prove it, whatever would follow; a frame
// that could still become valid with more bytes is incomplete, not an error.
import type { Framing } from '../src/core/config.ts';

/** Error numbers, as docs/limits-and-errors.md's error table lists them. */
export const FRAME_TOO_LARGE = 1;
export const BAD_LENGTH = 2;

export interface Expected {
  /** Payloads of the whole frames, in order (raw: the stream, as one). */
  frames: Buffer[];
  /** Where decoding stops: the frames before it are stream[0, stopAt). */
  stopAt: number;
  /** The error number found at stopAt; 0 when the rest is an incomplete frame (or nothing). */
  error: number;
}

/** What `stream` decodes to under `framing` with payloads of at most maxFrame bytes. */
export function decodeStream(framing: Framing, maxFrame: number, stream: Buffer): Expected {
  const frames: Buffer[] = [];
  let at = 0;
  const stop = (error: number): Expected => ({ frames, stopAt: at, error });
  if (framing.kind === 'raw') return { frames: stream.length ? [stream] : [], stopAt: stream.length, error: 0 };
  for (;;) {
    const rest = stream.subarray(at);
    switch (framing.kind) {
      case 'length': {
        const offset = framing.offset ?? 0;
        const size = framing.size ?? 4;
        const strip = framing.strip ?? offset + size;
        if (rest.length < offset + size) return stop(0);
        const field = rest.subarray(offset, offset + size);
        const bytes = (framing.endian ?? 'be') === 'be' ? [...field] : [...field].reverse();
        const value = bytes.reduce((v, b) => v * 256n + BigInt(b), 0n);
        const body = value + BigInt(framing.adjust ?? 0);
        if (body < 0n) return stop(BAD_LENGTH);
        if (body > BigInt(maxFrame)) return stop(FRAME_TOO_LARGE);
        const wire = offset + size + Number(body);
        if (strip > wire) return stop(BAD_LENGTH);
        if (rest.length < wire) return stop(0);
        frames.push(rest.subarray(strip, wire));
        at += wire;
        break;
      }
      case 'varint': {
        // Unsigned LEB128 of at most 10 bytes; a value past maxFrame is an error as
        // soon as the bytes seen so far exceed it (later bytes only add).
        let value = 0n;
        let end = -1;
        for (let i = 0; i < Math.min(10, rest.length); i++) {
          value += BigInt(rest[i]! & 0x7f) << BigInt(7 * i);
          if (value > BigInt(maxFrame)) return stop(FRAME_TOO_LARGE);
          if ((rest[i]! & 0x80) === 0) {
            end = i + 1;
            break;
          }
        }
        if (end < 0) return stop(rest.length >= 10 ? BAD_LENGTH : 0);
        const wire = end + Number(value);
        if (rest.length < wire) return stop(0);
        frames.push(rest.subarray(end, wire));
        at += wire;
        break;
      }
      case 'delimiter': {
        const d = Buffer.from(typeof framing.delimiter === 'string' ? Buffer.from(framing.delimiter) : (framing.delimiter ?? Buffer.from('\n')));
        const i = rest.indexOf(d);
        // The payload is what precedes the first delimiter, a '\r' before it included when counting.
        if (i < 0 || i > maxFrame) return stop(rest.length >= maxFrame + d.length ? FRAME_TOO_LARGE : 0);
        const cr = framing.stripCR && i > 0 && rest[i - 1] === 13;
        frames.push(rest.subarray(0, cr ? i - 1 : i));
        at += i + d.length;
        break;
      }
      case 'fixed': {
        if (rest.length < framing.size) return stop(0);
        frames.push(rest.subarray(0, framing.size));
        at += framing.size;
        break;
      }
      case 'websocket':
        throw new Error('websocket frames decode to messages and control frames: test/websocket-oracle.ts');
    }
  }
}

/**
 * Delimiter framing, for send(): does `payload` come back as one frame, itself, once
 * the delimiter is written after it? The peer's view, from decodeStream itself: a
 * payload that holds the delimiter (or, stripping '\r', ends in '\r') does not.
 */
export function sendsAsOneFrame(framing: Framing & { kind: 'delimiter' }, payload: Buffer): boolean {
  const d = Buffer.from(typeof framing.delimiter === 'string' ? Buffer.from(framing.delimiter) : (framing.delimiter ?? Buffer.from('\n')));
  const wire = Buffer.concat([payload, d]);
  const got = decodeStream(framing, payload.length, wire);
  return got.error === 0 && got.stopAt === wire.length && got.frames.length === 1 && got.frames[0]!.equals(payload);
}

/**
 * What a relay forwards of `stream` once it has all of it (docs/relay.md, cut-through):
 * every whole frame, and of the frame at stopAt, the bytes it may already send. An
 * incomplete frame whose header is complete and valid (length: the length field;
 * varint: its last prefix byte; fixed: no header at all) goes whole; for a delimiter,
 * every byte that cannot be the start of the delimiter (all but the last
 * delimiter length - 1). The bad frame of an error goes not at all, except a
 * delimiter's frame over the limit, found only after up to maxFrame of its bytes
 * went, however the reads split it: a range, from least to most bytes.
 */
export function relayForwards(framing: Framing, maxFrame: number, stream: Buffer): { least: number; most: number } {
  const { stopAt, error } = decodeStream(framing, maxFrame, stream);
  const rest = stream.subarray(stopAt);
  const exactly = (n: number) => ({ least: stopAt + n, most: stopAt + n });
  if (framing.kind === 'raw') return exactly(rest.length);
  if (error !== 0) return framing.kind === 'delimiter' && error === FRAME_TOO_LARGE ? { least: stopAt, most: stopAt + maxFrame } : exactly(0);
  switch (framing.kind) {
    case 'length':
      return exactly(rest.length >= (framing.offset ?? 0) + (framing.size ?? 4) ? rest.length : 0);
    case 'varint':
      return exactly(rest.subarray(0, 10).some(b => (b & 0x80) === 0) ? rest.length : 0);
    case 'delimiter': {
      const d = typeof framing.delimiter === 'string' ? Buffer.from(framing.delimiter) : (framing.delimiter ?? Buffer.from('\n'));
      return exactly(Math.max(0, rest.length - d.length + 1));
    }
    case 'fixed':
      return exactly(rest.length);
    case 'websocket':
      throw new Error('websocket framing has no relay (handler mode only)');
  }
}
