// Twin of assembly/websocket.ts: WebSocket frames decoded from a connection's rx
// ring into messages and control frames, and the header of a frame sent. The
// AssemblyScript module's globals are this class's fields; see that file for the
// order of the checks and how a fragmented message sits in the ring.

import {
  E_FRAME_TOO_LARGE, E_WEBSOCKET_PROTOCOL, E_WEBSOCKET_UTF8, F_ADDR, F_END, F_KIND, F_LEN, FRAME_WORDS, R_DONE, R_MORE, SCRATCH_BASE,
  W_LISTED, W_RINGS, W_RX_BASE, W_RX_HEAD, W_WS_CHECKED, W_WS_FLAGS, W_WS_MSG, W_WS_RAW, WS_BINARY, WS_CLOSE, WS_CONTROL_MAX, WS_FLAG_CLIENT,
  WS_FLAG_CLOSED, WS_MESSAGE_SHIFT, WS_PING, WS_PONG, WS_RULE_CLOSE_CODE, WS_RULE_CLOSE_LENGTH, WS_RULE_CONTROL_FRAGMENTED, WS_RULE_CONTROL_LENGTH,
  WS_RULE_LENGTH, WS_RULE_MASKED, WS_RULE_MESSAGE_OPEN, WS_RULE_NO_MESSAGE, WS_RULE_OPCODE, WS_RULE_RESERVED_BITS, WS_RULE_UNMASKED, WS_TEXT,
  WS_UTF8_SHIFT, type HeaderConfig,
} from './layout.ts';
import { keyAt, maskRing } from './js-mask.ts';
import { ringByte, ringMoveUp, ringPut, ringToRing } from './js-ring.ts';
import { UTF8_REJECT, utf8Run } from './js-utf8.ts';
import { closeCodeValid } from './websocket-close.ts';

export class JsWebsocket {
  /** What the last wsProcess() found: entries it listed; the bytes from W_LISTED the ring must hold for the frame in progress; an error's rule or message length. */
  wsListed = 0;
  wsNeed = 0;
  wsErrorSize = 0;
  /** The frame the next plan()/encode() is for. */
  private encKind = WS_BINARY;
  private encMasked = false;
  private encKey = 0;

  private readonly u8: Uint8Array;
  private readonly u32: Uint32Array;
  private readonly c: HeaderConfig;

  constructor(u8: Uint8Array, u32: Uint32Array, c: HeaderConfig) {
    this.u8 = u8;
    this.u32 = u32;
    this.c = c;
  }

  private readKey(base: number, mask: number, at: number): number {
    const u8 = this.u8;
    return (ringByte(u8, base, mask, at) | (ringByte(u8, base, mask, at + 1) << 8) | (ringByte(u8, base, mask, at + 2) << 16) | (ringByte(u8, base, mask, at + 3) << 24)) >>> 0;
  }

  private utf8Ring(base: number, size: number, pos: number, n: number, state: number): number {
    const at = pos & (size - 1);
    const first = Math.min(n, size - at);
    state = utf8Run(this.u8, base + at, first, state);
    if (first < n && state !== UTF8_REJECT) state = utf8Run(this.u8, base, n - first, state);
    return state;
  }

  private list(base: number, size: number, at: number, n: number, end: number, kind: number): void {
    const start = at & (size - 1);
    if (start + n > size) this.u8.copyWithin(base + size, base, base + start + n - size);
    const entry = (this.c.framesOff >>> 2) + this.wsListed * FRAME_WORDS;
    this.u32[entry + F_ADDR] = base + start;
    this.u32[entry + F_LEN] = n;
    this.u32[entry + F_END] = end >>> 0;
    this.u32[entry + F_KIND] = kind;
    this.wsListed++;
  }

  /** See assembly/websocket.ts: s is the slot's address, w its websocket words' address. */
  wsProcess(s: number, w: number): number {
    const u8 = this.u8, u32 = this.u32, C = this.c;
    this.wsListed = 0;
    this.wsNeed = 0;
    this.wsErrorSize = 0;
    const ws = w >>> 2, sw = s >>> 2;
    let flags = u32[ws + W_WS_FLAGS]!;
    if ((flags & WS_FLAG_CLOSED) !== 0) return R_DONE;
    const base = u32[sw + W_RX_BASE]!;
    const size = 2 ** (u32[sw + W_RINGS]! & 0xff);
    const mask = size - 1;
    const head = u32[sw + W_RX_HEAD]!;
    const client = (flags & WS_FLAG_CLIENT) !== 0;
    let t = u32[sw + W_LISTED]!;
    let raw = u32[ws + W_WS_RAW]!, msg = u32[ws + W_WS_MSG]!, checked = u32[ws + W_WS_CHECKED]!;
    let result = R_DONE;
    for (;;) {
      const pos = (t + raw) >>> 0;
      const avail = (head - pos) >>> 0;
      if (avail < 2) break;
      if (this.wsListed === C.frameCap) { result = R_MORE; break; }
      const b0 = ringByte(u8, base, mask, pos), b1 = ringByte(u8, base, mask, pos + 1);
      const op = b0 & 0x0f, fin = (b0 & 0x80) !== 0, masked = (b1 & 0x80) !== 0, len7 = b1 & 0x7f;
      const open = (flags >>> WS_MESSAGE_SHIFT) & 0xf;
      const control = op >= 8;
      let rule = 0;
      if ((b0 & 0x70) !== 0) rule = WS_RULE_RESERVED_BITS;
      else if ((op > WS_BINARY && op < WS_CLOSE) || op > WS_PONG) rule = WS_RULE_OPCODE;
      else if (control && !fin) rule = WS_RULE_CONTROL_FRAGMENTED;
      else if (control && len7 > WS_CONTROL_MAX) rule = WS_RULE_CONTROL_LENGTH;
      else if (masked === client) rule = client ? WS_RULE_MASKED : WS_RULE_UNMASKED;
      else if (op === 0 && open === 0) rule = WS_RULE_NO_MESSAGE;
      else if (!control && op !== 0 && open !== 0) rule = WS_RULE_MESSAGE_OPEN;
      if (rule !== 0) { this.wsErrorSize = rule; result = -E_WEBSOCKET_PROTOCOL; break; }
      const ext = len7 === 126 ? 2 : len7 === 127 ? 8 : 0;
      if (avail < 2 + ext) break;
      // The core's u64 length: its top four bytes (hi, of which the top bit is refused) and the rest.
      let hi = 0, len = len7;
      if (ext === 2) len = (ringByte(u8, base, mask, pos + 2) << 8) | ringByte(u8, base, mask, pos + 3);
      else if (ext === 8) {
        for (let i = 0; i < 4; i++) hi = ((hi << 8) | ringByte(u8, base, mask, pos + 2 + i)) >>> 0;
        len = 0;
        for (let i = 4; i < 8; i++) len = ((len << 8) | ringByte(u8, base, mask, pos + 2 + i)) >>> 0;
      }
      if (hi >= 0x80000000) { this.wsErrorSize = WS_RULE_LENGTH; result = -E_WEBSOCKET_PROTOCOL; break; }
      if (!control && msg + hi * 2 ** 32 + len > C.maxFrame) {
        const total = msg + hi * 2 ** 32 + len;
        this.wsErrorSize = total > 0xffffffff ? 0xffffffff : total;
        result = -E_FRAME_TOO_LARGE;
        break;
      }
      const n = len;
      const hdr = 2 + ext + (masked ? 4 : 0);
      const wire = hdr + n;
      if (raw + wire > C.rxSize) { result = -E_FRAME_TOO_LARGE; break; }
      const text = op === WS_TEXT || (op === 0 && open === WS_TEXT);
      let utf8 = (flags >>> WS_UTF8_SHIFT) & 0xff;
      const payload = (pos + hdr) >>> 0;
      // The payload that came and was not yet: unmasked in place, and text checked (fail fast).
      const have = avail <= hdr ? 0 : avail - hdr < n ? avail - hdr : n;
      if (have > checked) {
        if (masked) maskRing(u8, base, size, payload + checked, have - checked, keyAt(this.readKey(base, mask, pos + hdr - 4), checked));
        if (text) {
          utf8 = this.utf8Ring(base, size, payload + checked, have - checked, utf8);
          if (utf8 === UTF8_REJECT) { result = -E_WEBSOCKET_UTF8; break; }
          flags = ((flags & ~(0xff << WS_UTF8_SHIFT)) | (utf8 << WS_UTF8_SHIFT)) >>> 0;
        }
        checked = have;
      }
      if (avail < wire) {
        this.wsNeed = raw + wire;
        break;
      }
      // A message may not end inside a character.
      if (text && fin && utf8 !== 0) { result = -E_WEBSOCKET_UTF8; break; }
      if (text && fin) flags = (flags & ~(0xff << WS_UTF8_SHIFT)) >>> 0;
      checked = 0;
      if (op === WS_CLOSE && n > 0) {
        if (n === 1) { this.wsErrorSize = WS_RULE_CLOSE_LENGTH; result = -E_WEBSOCKET_PROTOCOL; break; }
        if (!closeCodeValid((ringByte(u8, base, mask, payload) << 8) | ringByte(u8, base, mask, payload + 1))) {
          this.wsErrorSize = WS_RULE_CLOSE_CODE;
          result = -E_WEBSOCKET_PROTOCOL;
          break;
        }
        if (this.utf8Ring(base, size, payload + 2, n - 2, 0) !== 0) { result = -E_WEBSOCKET_UTF8; break; }
      }
      if (control) {
        if (open === 0) {
          this.list(base, size, payload, n, pos + wire, op);
          t = (pos + wire) >>> 0;
        } else {
          ringToRing(u8, base, size, payload, SCRATCH_BASE, 0x80000000, 0, n);
          ringMoveUp(u8, base, size, t, t + wire, msg);
          ringToRing(u8, SCRATCH_BASE, 0x80000000, 0, base, size, t + hdr, n);
          this.list(base, size, t + hdr, n, t + wire, op);
          t = (t + wire) >>> 0;
        }
        if (op === WS_CLOSE) { flags = (flags | WS_FLAG_CLOSED) >>> 0; break; }
        continue;
      }
      if (open === 0 && fin) {
        this.list(base, size, payload, n, pos + wire, op);
        t = (pos + wire) >>> 0;
        continue;
      }
      if (n !== 0) ringToRing(u8, base, size, payload, base, size, t + msg, n);
      msg += n;
      raw += wire;
      if (open === 0) flags = (flags | (op << WS_MESSAGE_SHIFT)) >>> 0;
      if (fin) {
        this.list(base, size, t, msg, t + raw, open);
        t = (t + raw) >>> 0;
        raw = 0;
        msg = 0;
        flags = (flags & ~(0xf << WS_MESSAGE_SHIFT)) >>> 0;
      }
    }
    u32[sw + W_LISTED] = t;
    u32[ws + W_WS_FLAGS] = flags;
    u32[ws + W_WS_RAW] = raw;
    u32[ws + W_WS_MSG] = msg;
    u32[ws + W_WS_CHECKED] = checked;
    return result;
  }

  /** The wire length of the frame at pos if all of it is buffered (avail bytes from pos), else 0; no check (Core.bufferedFrames). */
  wholeFrame(base: number, mask: number, pos: number, avail: number): number {
    if (avail < 2) return 0;
    const b1 = ringByte(this.u8, base, mask, pos + 1);
    const len7 = b1 & 0x7f, ext = len7 === 126 ? 2 : len7 === 127 ? 8 : 0;
    if (avail < 2 + ext) return 0;
    let len = len7;
    if (ext !== 0) {
      len = 0;
      for (let i = 0; i < ext; i++) len = len * 256 + ringByte(this.u8, base, mask, pos + 2 + i);
    }
    const wire = 2 + ext + (b1 & 0x80 ? 4 : 0) + len;
    return avail >= wire ? wire : 0;
  }

  // ---- encoding: one unfragmented frame (FIN) per send ----

  wsEncoding(kind: number, masked: boolean, key: number): void {
    this.encKind = kind;
    this.encMasked = masked;
    this.encKey = key >>> 0;
  }

  wsHeaderSize(len: number): number {
    const kind = this.encKind;
    const control = kind === WS_CLOSE || kind === WS_PING || kind === WS_PONG;
    if (!control && kind !== WS_TEXT && kind !== WS_BINARY) return 0;
    if (control && len > WS_CONTROL_MAX) return 0;
    return (len < 126 ? 2 : len < 65536 ? 4 : 10) + (this.encMasked ? 4 : 0);
  }

  wsEncodeHeader(base: number, mask: number, pos: number, len: number): void {
    const u8 = this.u8;
    ringPut(u8, base, mask, pos, 0x80 | this.encKind);
    const m = this.encMasked ? 0x80 : 0;
    let at = pos + 2;
    if (len < 126) {
      ringPut(u8, base, mask, pos + 1, m | len);
    } else if (len < 65536) {
      ringPut(u8, base, mask, pos + 1, m | 126);
      ringPut(u8, base, mask, pos + 2, len >>> 8);
      ringPut(u8, base, mask, pos + 3, len & 0xff);
      at = pos + 4;
    } else {
      ringPut(u8, base, mask, pos + 1, m | 127);
      for (let i = 0; i < 4; i++) ringPut(u8, base, mask, pos + 2 + i, 0);
      for (let i = 0; i < 4; i++) ringPut(u8, base, mask, pos + 6 + i, (len >>> ((3 - i) * 8)) & 0xff);
      at = pos + 10;
    }
    if (this.encMasked) for (let i = 0; i < 4; i++) ringPut(u8, base, mask, at + i, (this.encKey >>> (i * 8)) & 0xff);
  }

  wsMaskPayload(base: number, size: number, pos: number, n: number, done: number): void {
    if (this.encMasked) maskRing(this.u8, base, size, pos, n, keyAt(this.encKey, done));
  }
}
