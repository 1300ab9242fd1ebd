// The WebSocket oracle: what a stream of client (or server) frames must decode to,
// written from RFC 6455 section 5 and docs/framing.md's websocket section, sharing
// nothing with the cores: it reads the whole stream at once (no ring, no
// compaction), unmasks into fresh buffers, and checks UTF-8 with the WHATWG
// decoder (TextDecoder, fatal, streaming), which fails at the first byte no valid
// text can continue with, as the cores must. Also an encoder of frames, for tests.
import { E_FRAME_TOO_LARGE, E_WEBSOCKET_PROTOCOL, E_WEBSOCKET_UTF8 } from '../src/core/layout.ts';
import {
  WS_RULE_CLOSE_CODE, WS_RULE_CLOSE_LENGTH, WS_RULE_CONTROL_FRAGMENTED, WS_RULE_CONTROL_LENGTH, WS_RULE_LENGTH, WS_RULE_MASKED,
  WS_RULE_MESSAGE_OPEN, WS_RULE_NO_MESSAGE, WS_RULE_OPCODE, WS_RULE_RESERVED_BITS, WS_RULE_UNMASKED,
} from '../src/core/layout.ts';

export interface WsItem {
  /** The opcode: 1 text, 2 binary (whole messages), 8 close, 9 ping, 10 pong. */
  kind: number;
  payload: Buffer;
}

export interface WsExpected {
  items: WsItem[];
  /** The error number (0: none; the rest is incomplete, or nothing, or after a close). */
  error: number;
  /** ERR_WEBSOCKET_PROTOCOL: the rule (WS_RULE_*). */
  rule: number;
}

export interface WsFrameSpec {
  op: number;
  payload?: Uint8Array | string;
  fin?: boolean;
  /** RSV1-3 as bits 4-6 of the first byte (0x40, 0x20, 0x10). */
  rsv?: number;
  /** The mask key (4 bytes), or null: unmasked. Default a fixed key. */
  key?: Uint8Array | null;
  /** Write the length in 16 or 64 bits even when it is shorter (non-minimal, allowed). */
  width?: 7 | 16 | 64;
  /** Write this as the length instead (a lie: for top-bit and too-large cases). */
  declared?: bigint;
}

export const KEY = Uint8Array.of(0x37, 0xfa, 0x21, 0x3d);

/** One frame's bytes, as the RFC lays them out. */
export function wsFrame(f: WsFrameSpec): Buffer {
  const payload = typeof f.payload === 'string' ? Buffer.from(f.payload) : Buffer.from(f.payload ?? new Uint8Array(0));
  const key = f.key === undefined ? KEY : f.key;
  const len = f.declared ?? BigInt(payload.length);
  const width = f.width ?? (len < 126n ? 7 : len < 65536n ? 16 : 64);
  const head = [((f.fin ?? true) ? 0x80 : 0) | (f.rsv ?? 0) | f.op];
  const m = key ? 0x80 : 0;
  if (width === 7) head.push(m | Number(len));
  else if (width === 16) head.push(m | 126, Number(len >> 8n) & 0xff, Number(len) & 0xff);
  else {
    head.push(m | 127);
    for (let i = 7; i >= 0; i--) head.push(Number((len >> BigInt(i * 8)) & 0xffn));
  }
  const body = Buffer.from(payload);
  if (key) for (let i = 0; i < body.length; i++) body[i]! ^= key[i % 4]!;
  return Buffer.concat([Buffer.from(head), key ? Buffer.from(key) : Buffer.alloc(0), body]);
}

export interface WsLimits {
  maxFrame: number;
  /** The largest rx ring: a message's frames, headers included, must fit it. */
  rxSize: number;
  /** The decoding side is a client: frames must come unmasked. */
  client?: boolean;
}

const validClose = (code: number) => (code >= 1000 && code <= 1014 && ![1004, 1005, 1006].includes(code)) || (code >= 3000 && code <= 4999);

/** What `stream` decodes to (see the file header). */
export function wsDecode(stream: Buffer, limits: WsLimits): WsExpected {
  const items: WsItem[] = [];
  let at = 0;
  let open = 0; // the open message's opcode
  let parts: Buffer[] = [];
  let raw = 0; // wire bytes its frames took
  const fail = (error: number, rule = 0): WsExpected => ({ items, error, rule });
  const done = (): WsExpected => ({ items, error: 0, rule: 0 });
  for (;;) {
    const rest = stream.subarray(at);
    if (rest.length < 2) return done();
    const fin = (rest[0]! & 0x80) !== 0, rsv = rest[0]! & 0x70, op = rest[0]! & 0x0f;
    const masked = (rest[1]! & 0x80) !== 0, len7 = rest[1]! & 0x7f;
    const control = op >= 8;
    if (rsv) return fail(E_WEBSOCKET_PROTOCOL, WS_RULE_RESERVED_BITS);
    if (![0, 1, 2, 8, 9, 10].includes(op)) return fail(E_WEBSOCKET_PROTOCOL, WS_RULE_OPCODE);
    if (control && !fin) return fail(E_WEBSOCKET_PROTOCOL, WS_RULE_CONTROL_FRAGMENTED);
    if (control && len7 > 125) return fail(E_WEBSOCKET_PROTOCOL, WS_RULE_CONTROL_LENGTH);
    if (masked === !!limits.client) return fail(E_WEBSOCKET_PROTOCOL, limits.client ? WS_RULE_MASKED : WS_RULE_UNMASKED);
    if (op === 0 && !open) return fail(E_WEBSOCKET_PROTOCOL, WS_RULE_NO_MESSAGE);
    if ((op === 1 || op === 2) && open) return fail(E_WEBSOCKET_PROTOCOL, WS_RULE_MESSAGE_OPEN);
    const ext = len7 === 126 ? 2 : len7 === 127 ? 8 : 0;
    if (rest.length < 2 + ext) return done();
    const len = ext === 0 ? BigInt(len7) : ext === 2 ? BigInt(rest.readUInt16BE(2)) : rest.readBigUInt64BE(2);
    if (len >= 1n << 63n) return fail(E_WEBSOCKET_PROTOCOL, WS_RULE_LENGTH);
    const sofar = parts.reduce((n, p) => n + p.length, 0);
    if (!control && BigInt(sofar) + len > BigInt(limits.maxFrame)) return fail(E_FRAME_TOO_LARGE);
    const n = Number(len);
    const hdr = 2 + ext + (masked ? 4 : 0);
    if (raw + hdr + n > limits.rxSize) return fail(E_FRAME_TOO_LARGE);
    const key = masked ? rest.subarray(2 + ext, 2 + ext + 4) : null;
    const have = Math.max(0, Math.min(n, rest.length - hdr));
    const body = Buffer.from(rest.subarray(hdr, hdr + have));
    if (key) for (let i = 0; i < body.length; i++) body[i]! ^= key[i % 4]!;
    const isText = op === 1 || (op === 0 && open === 1);
    if (isText) {
      // The message's bytes that came so far must be able to start valid text (and a final frame end it).
      const probe = new TextDecoder('utf-8', { fatal: true });
      try {
        for (const p of parts) probe.decode(p, { stream: true });
        probe.decode(body, { stream: true });
        if (have === n && fin) probe.decode();
      } catch {
        return fail(E_WEBSOCKET_UTF8);
      }
    }
    if (have < n || rest.length < hdr) return done();
    at += hdr + n;
    if (op === 8 && n > 0) {
      if (n === 1) return fail(E_WEBSOCKET_PROTOCOL, WS_RULE_CLOSE_LENGTH);
      if (!validClose(body.readUInt16BE(0))) return fail(E_WEBSOCKET_PROTOCOL, WS_RULE_CLOSE_CODE);
      try {
        new TextDecoder('utf-8', { fatal: true }).decode(body.subarray(2));
      } catch {
        return fail(E_WEBSOCKET_UTF8);
      }
    }
    if (control) {
      items.push({ kind: op, payload: body });
      if (op === 8) return done(); // nothing after a close
      continue;
    }
    if (!open) open = op;
    parts.push(body);
    raw += hdr + n;
    if (fin) {
      items.push({ kind: open, payload: Buffer.concat(parts) });
      open = 0;
      parts = [];
      raw = 0;
    }
  }
}
