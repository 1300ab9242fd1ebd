// The bytes a benchmark sends: a tape of distinct frames, all `frameBytes` long on
// the wire, encoded for the scenario's framing. Every contender echoes each frame
// exactly as it arrived, so the bytes a connection receives must equal the tape
// from where it started, and a lost, extra or reordered byte shows up as a
// mismatch. Frames differ from each other (payload bytes shifted by the frame's
// index), so swapping two frames is caught too.
// The tape is stored twice over, so any run of up to `count` frames starting at
// any frame is one contiguous view: the generator writes views of it, never copies.
// WebSocket (framing 'websocket') is the one framing whose echo is not the bytes
// sent: the tape holds masked client frames, each with its own random mask key,
// and `reply` the unmasked server frames of the same payloads; `frameBytes` is then
// the payload's size (the message), not the wire's.

import { randomBytes } from 'node:crypto';
import { configError, parseFraming, resolveConfig } from '../index.ts';
import { clientFrame, serverFrame } from './websocket-wire.ts';

/** `count` frames of one size, then the same frames again. */
export interface Tape {
  /** Wire bytes per frame. */
  readonly frameBytes: number;
  /** The frames, twice over. */
  readonly bytes: Buffer;
  /** count * frameBytes: where the second copy starts. */
  readonly length: number;
}

export interface FrameTape extends Tape {
  /** Distinct frames on the tape. */
  readonly count: number;
  /** What an echo server sends back for these frames: the tape itself, except for WebSocket. */
  readonly reply: Tape;
}

function twice(frames: Buffer[]): Tape {
  const frameBytes = frames[0]!.length;
  return { frameBytes, bytes: Buffer.concat([...frames, ...frames]), length: frameBytes * frames.length };
}

/**
 * A tape of `count` WebSocket messages of `payload` bytes: binary client frames, each
 * masked with a key of its own (random, drawn once per tape: a connection's keys
 * repeat every `count` messages), and the server frames an echo answers with.
 */
function websocketTape(payload: number, count: number): FrameTape {
  const payloads = Array.from({ length: count }, (_, i) => Buffer.from(Array.from({ length: payload }, (_, j) => (i + j) & 0xff)));
  const keys = randomBytes(4 * count);
  const sent = twice(payloads.map((p, i) => clientFrame(p, keys.subarray(4 * i, 4 * i + 4))));
  return { ...sent, count, reply: twice(payloads.map(serverFrame)) };
}

function varintLength(n: number): number {
  let len = 1;
  while (n >= 0x80) { n = Math.floor(n / 0x80); len++; }
  return len;
}

/**
 * A tape of `count` frames of `frameBytes` wire bytes each for a framing spec as
 * `ringwire serve --framing` takes it. For raw, frames are shaped as length:4:be
 * (any bytes would do); for websocket, `frameBytes` is each message's payload.
 * Throws ERR_BAD_CONFIG when no frame of that size exists.
 */
export function frameTape(framing: string, frameBytes: number, count: number): FrameTape {
  if (framing === 'websocket') return websocketTape(frameBytes, count);
  const spec = framing === 'raw' ? 'length:4:be' : framing;
  const kind = parseFraming(spec).kind;
  const c = resolveConfig({ framing: spec, maxFrame: Math.max(frameBytes, 1) });
  const S = frameBytes;
  const bad = (why: string) => configError(`no ${S}-byte frame for framing ${framing}: ${why}`);
  // Payload bytes: every value except the delimiter's bytes and \r, so that no
  // payload can look like the end of a frame.
  const banned = new Set<number>(kind === 'delimiter' ? [...c.delimiter, 0x0d] : []);
  const alphabet = Array.from({ length: 256 }, (_, i) => i).filter(b => !banned.has(b));
  const frame = (i: number): Buffer => {
    const f = Buffer.alloc(S);
    for (let j = 0; j < S; j++) f[j] = alphabet[(i + j) % alphabet.length]!;
    if (kind === 'length') {
      const body = S - c.lenOffset - c.lenSize;
      const value = body - c.lenAdjust;
      if (body < 0 || value < 0 || value >= 2 ** (8 * Math.min(c.lenSize, 6))) throw bad('the length field cannot say it');
      for (let k = 0; k < c.lenSize; k++) {
        const byte = Math.floor(value / 2 ** (8 * k)) & 0xff;
        f[c.lenOffset + (c.lenBig ? c.lenSize - 1 - k : k)] = byte;
      }
    } else if (kind === 'varint') {
      let payload = S - 1;
      while (payload > 0 && payload + varintLength(payload) > S) payload--;
      if (payload + varintLength(payload) !== S) throw bad('no payload length plus its varint adds up to it');
      let v = payload;
      let at = 0;
      do {
        f[at++] = (v & 0x7f) | (v >= 0x80 ? 0x80 : 0);
        v = Math.floor(v / 0x80);
      } while (v > 0);
    } else if (kind === 'fixed') {
      if (c.fixed !== S) throw bad(`fixed frames are ${c.fixed} bytes`);
    } else {
      if (S < c.delimiter.length) throw bad('shorter than the delimiter');
      f.set(c.delimiter, S - c.delimiter.length);
    }
    return f;
  };
  const tape = twice(Array.from({ length: count }, (_, i) => frame(i)));
  return { ...tape, count, reply: tape };
}
