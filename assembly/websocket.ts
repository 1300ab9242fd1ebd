// WebSocket frames (RFC 6455 section 5) in the rx and tx rings: the decoder that
// turns a connection's bytes into messages and control frames for the handler, and
// the encoder of the frames the host sends. Handler mode only (config.ts refuses
// echo). src/core/js-websocket.ts is its twin, function for function.
//
// Decoding (wsProcess, called by process()): every frame is checked in this order:
// reserved bits, opcode, a control frame's FIN and length, the mask (a server's
// peer must mask, a client's must not), continuation or a new message against the
// open one, the 64-bit length's top bit, then maxFrame against the whole message
// (1009: as soon as the header says so), then, for text, UTF-8 (1007). Each read's
// payload bytes are unmasked in place as they come (mask.ts, SIMD; W_WS_CHECKED
// says how far) and text checked with them, so a bad byte fails at once, before
// the rest of its frame arrives. A whole frame then:
//   - a control frame, or a whole message in one frame, is listed where it is;
//   - a fragment's payload is moved down to follow the open message's bytes so far,
//     which sit compacted at W_LISTED; the final one lists the whole message there,
//     one contiguous view, its end the end of its last frame;
//   - a control frame between fragments is listed before the message, where the
//     message began: the message's bytes so far move up by the control frame's
//     wire length and its payload goes in front, where its header was (a rotation:
//     at most maxFrame bytes moved per control frame, and the entry's end is past
//     every end listed before, even when its payload is empty).
// So the ring from W_LISTED reads: [message so far: W_WS_MSG][dead: the headers of its
// fragments][next frame at W_LISTED + W_WS_RAW]. Every listed entry lies before
// W_LISTED and nothing the decoder moves later is before it: a view the host holds
// stays valid until consume() passes its end, as with every framing. After a close
// frame nothing more is listed (WS_FLAG_CLOSED). A message whose frames, headers
// included, cannot fit the largest rx ring is ERR_FRAME_TOO_LARGE too: it could
// never be reassembled.

import * as C from "./config";
import {
  W_RX_BASE, W_RX_HEAD, W_LISTED, W_RINGS, W_WS_FLAGS, W_WS_RAW, W_WS_MSG, W_WS_CHECKED,
  F_ADDR, F_LEN, F_END, F_KIND, FRAME_WORDS, R_DONE, R_MORE, SCRATCH_BASE,
  E_FRAME_TOO_LARGE, E_WEBSOCKET_PROTOCOL, E_WEBSOCKET_UTF8, WS_TEXT, WS_BINARY, WS_CLOSE, WS_PING, WS_PONG,
  WS_CONTROL_MAX, WS_FLAG_CLIENT, WS_FLAG_CLOSED, WS_MESSAGE_SHIFT, WS_UTF8_SHIFT,
  WS_RULE_UNMASKED, WS_RULE_MASKED, WS_RULE_RESERVED_BITS, WS_RULE_OPCODE, WS_RULE_CONTROL_LENGTH,
  WS_RULE_CONTROL_FRAGMENTED, WS_RULE_NO_MESSAGE, WS_RULE_MESSAGE_OPEN, WS_RULE_LENGTH, WS_RULE_CLOSE_LENGTH, WS_RULE_CLOSE_CODE,
} from "./contract";
import { ringByte, ringPut, ringToRing, ringMoveUp } from "./ring";
import { keyAt, maskRing } from "./mask";
import { utf8Run, UTF8_REJECT } from "./utf8";

/** What the last wsProcess() found: entries it listed; the bytes from W_LISTED the ring must hold for the frame in progress; an error's rule (WS_RULE_*) or message length. */
export let wsListed: u32 = 0;
export let wsNeed: u32 = 0;
export let wsErrorSize: u32 = 0;

/** Forget what earlier calls found (init()). */
export function resetWebsocket(): void {
  wsListed = 0;
  wsNeed = 0;
  wsErrorSize = 0;
  encKind = WS_BINARY;
  encMasked = false;
  encKey = 0;
}

@inline function wsWord(w: u32, i: u32): u32 { return load<u32>(w + i * 4); }
@inline function setWsWord(w: u32, i: u32, v: u32): void { store<u32>(w + i * 4, v); }

/** The 4-byte mask key at ring position at, as a u32 read little-endian. */
function readKey(base: u32, mask: u32, at: u32): u32 {
  return ringByte(base, mask, at) | (ringByte(base, mask, at + 1) << 8) | (ringByte(base, mask, at + 2) << 16) | (ringByte(base, mask, at + 3) << 24);
}

/** UTF-8 state after n bytes of ring (base, size) from pos (two runs at most). */
function utf8Ring(base: u32, size: u32, pos: u32, n: u32, state: u32): u32 {
  const at = pos & (size - 1);
  const first = n < size - at ? n : size - at;
  state = utf8Run(base + at, first, state);
  if (first < n && state != UTF8_REJECT) state = utf8Run(base, n - first, state);
  return state;
}

/** Codes a close frame may carry (RFC 6455 section 7.4; 1004-1006 and 1015 are never sent): src/core/websocket-close.ts's closeCodeValid, the TypeScript side's one rule. */
function closeCodeValid(code: u32): bool {
  return (code >= 1000 && code <= 1014 && (code < 1004 || code > 1006)) || (code >= 3000 && code <= 4999);
}

/** List an entry: n bytes from ring position at (a wrapped one continues in the pad), ending the frame(s) at end. */
function list(base: u32, size: u32, at: u32, n: u32, end: u32, kind: u32): void {
  const start = at & (size - 1);
  if (start + n > size) memory.copy(base + size, base, start + n - size);
  const entry = C.framesOff + wsListed * FRAME_WORDS * 4;
  store<u32>(entry + F_ADDR * 4, base + start);
  store<u32>(entry + F_LEN * 4, n);
  store<u32>(entry + F_END * 4, end);
  store<u32>(entry + F_KIND * 4, kind);
  wsListed++;
}

/**
 * Decode the slot's frames from W_LISTED (s: its slot words, w: its websocket
 * words), listing what is whole: R_DONE, R_MORE (the list is full), or a negated
 * error number (wsErrorSize says more). The caller counts and records an error.
 */
export function wsProcess(s: u32, w: u32): i32 {
  wsListed = 0;
  wsNeed = 0;
  wsErrorSize = 0;
  let flags = wsWord(w, W_WS_FLAGS);
  if ((flags & WS_FLAG_CLOSED) != 0) return R_DONE;
  const base = load<u32>(s + W_RX_BASE * 4);
  const size = <u32>1 << (load<u32>(s + W_RINGS * 4) & 0xff);
  const mask = size - 1;
  const head = load<u32>(s + W_RX_HEAD * 4);
  const client = (flags & WS_FLAG_CLIENT) != 0;
  let t = load<u32>(s + W_LISTED * 4);
  let raw = wsWord(w, W_WS_RAW), msg = wsWord(w, W_WS_MSG), checked = wsWord(w, W_WS_CHECKED);
  let result: i32 = R_DONE;
  for (;;) {
    const pos = t + raw;
    const avail = head - pos;
    if (avail < 2) break;
    if (wsListed == C.frameCap) { result = R_MORE; break; }
    const b0 = ringByte(base, mask, pos), b1 = ringByte(base, mask, pos + 1);
    const op = b0 & 0x0f, fin = (b0 & 0x80) != 0, masked = (b1 & 0x80) != 0, len7 = b1 & 0x7f;
    const open = (flags >> WS_MESSAGE_SHIFT) & 0xf;
    const control = op >= 8;
    let rule: u32 = 0;
    if ((b0 & 0x70) != 0) rule = WS_RULE_RESERVED_BITS;
    else if ((op > WS_BINARY && op < WS_CLOSE) || op > WS_PONG) rule = WS_RULE_OPCODE;
    else if (control && !fin) rule = WS_RULE_CONTROL_FRAGMENTED;
    else if (control && len7 > WS_CONTROL_MAX) rule = WS_RULE_CONTROL_LENGTH;
    else if (masked == client) rule = client ? WS_RULE_MASKED : WS_RULE_UNMASKED;
    else if (op == 0 && open == 0) rule = WS_RULE_NO_MESSAGE;
    else if (!control && op != 0 && open != 0) rule = WS_RULE_MESSAGE_OPEN;
    if (rule != 0) { wsErrorSize = rule; result = -(<i32>E_WEBSOCKET_PROTOCOL); break; }
    const ext: u32 = len7 == 126 ? 2 : len7 == 127 ? 8 : 0;
    if (avail < 2 + ext) break;
    let len: u64 = len7;
    if (ext != 0) {
      len = 0;
      for (let i: u32 = 0; i < ext; i++) len = (len << 8) | <u64>ringByte(base, mask, pos + 2 + i);
    }
    if ((len >> 63) != 0) { wsErrorSize = WS_RULE_LENGTH; result = -(<i32>E_WEBSOCKET_PROTOCOL); break; }
    // The whole message over maxFrame (a control frame is at most 125 bytes, whatever maxFrame).
    if (!control && <u64>msg + len > <u64>C.maxFrame) {
      const total = <u64>msg + len;
      wsErrorSize = total > 0xffffffff ? 0xffffffff : <u32>total;
      result = -(<i32>E_FRAME_TOO_LARGE);
      break;
    }
    const n = <u32>len;
    const hdr: u32 = 2 + ext + (masked ? 4 : 0);
    const wire = hdr + n;
    // Its frames, headers included, past the largest ring: it could never be reassembled.
    if (<u64>raw + <u64>wire > <u64>C.rxSize) { result = -(<i32>E_FRAME_TOO_LARGE); break; }
    const text = op == WS_TEXT || (op == 0 && open == WS_TEXT);
    let utf8 = (flags >> WS_UTF8_SHIFT) & 0xff;
    const payload = pos + hdr;
    // The payload that came and was not yet: unmasked in place, and text checked (fail fast:
    // a bad byte fails before the rest of its frame arrives). Nothing lists these bytes yet.
    const have: u32 = avail <= hdr ? 0 : avail - hdr < n ? avail - hdr : n;
    if (have > checked) {
      if (masked) maskRing(base, size, payload + checked, have - checked, keyAt(readKey(base, mask, pos + hdr - 4), checked));
      if (text) {
        utf8 = utf8Ring(base, size, payload + checked, have - checked, utf8);
        if (utf8 == UTF8_REJECT) { result = -(<i32>E_WEBSOCKET_UTF8); break; }
        flags = (flags & ~(<u32>0xff << WS_UTF8_SHIFT)) | (utf8 << WS_UTF8_SHIFT);
      }
      checked = have;
    }
    if (avail < wire) {
      wsNeed = raw + wire;
      break;
    }
    // A message may not end inside a character.
    if (text && fin && utf8 != 0) { result = -(<i32>E_WEBSOCKET_UTF8); break; }
    if (text && fin) flags &= ~(<u32>0xff << WS_UTF8_SHIFT);
    checked = 0;
    if (op == WS_CLOSE && n > 0) {
      if (n == 1) { wsErrorSize = WS_RULE_CLOSE_LENGTH; result = -(<i32>E_WEBSOCKET_PROTOCOL); break; }
      if (!closeCodeValid((ringByte(base, mask, payload) << 8) | ringByte(base, mask, payload + 1))) {
        wsErrorSize = WS_RULE_CLOSE_CODE;
        result = -(<i32>E_WEBSOCKET_PROTOCOL);
        break;
      }
      if (utf8Ring(base, size, payload + 2, n - 2, 0) != 0) { result = -(<i32>E_WEBSOCKET_UTF8); break; }
    }
    if (control) {
      if (open == 0) {
        list(base, size, payload, n, pos + wire, op);
        t = pos + wire;
      } else {
        // Between fragments: listed where the message began, which moves up past it (by its wire bytes,
        // so its end is past every end listed before, even with no payload).
        ringToRing(base, size, payload, SCRATCH_BASE, 0x80000000, 0, n);
        ringMoveUp(base, size, t, t + wire, msg);
        ringToRing(SCRATCH_BASE, 0x80000000, 0, base, size, t + hdr, n);
        list(base, size, t + hdr, n, t + wire, op);
        t += wire;
      }
      if (op == WS_CLOSE) { flags |= WS_FLAG_CLOSED; break; }
      continue;
    }
    if (open == 0 && fin) {
      list(base, size, payload, n, pos + wire, op);
      t = pos + wire;
      continue;
    }
    // A fragment: its payload joins the message's so far, compacted at t.
    if (n != 0) ringToRing(base, size, payload, base, size, t + msg, n);
    msg += n;
    raw += wire;
    if (open == 0) flags |= op << WS_MESSAGE_SHIFT;
    if (fin) {
      list(base, size, t, msg, t + raw, open);
      t += raw;
      raw = 0;
      msg = 0;
      flags &= ~(<u32>0xf << WS_MESSAGE_SHIFT);
    }
  }
  store<u32>(s + W_LISTED * 4, t);
  setWsWord(w, W_WS_FLAGS, flags);
  setWsWord(w, W_WS_RAW, raw);
  setWsWord(w, W_WS_MSG, msg);
  setWsWord(w, W_WS_CHECKED, checked);
  return result;
}

// ---- encoding: one unfragmented frame (FIN) per send ----

/** The frame the next plan()/encode() is for: its opcode, whether it is masked (a client slot's) and with which key. */
let encKind: u32 = WS_BINARY;
let encMasked = false;
let encKey: u32 = 0;

export function wsEncoding(kind: u32, masked: bool, key: u32): void {
  encKind = kind;
  encMasked = masked;
  encKey = key;
}

/** The header of a len-byte frame of the kind set: its bytes, or 0 when no frame can carry it (SEND_BAD_LENGTH). */
export function wsHeaderSize(len: u32): u32 {
  const control = encKind == WS_CLOSE || encKind == WS_PING || encKind == WS_PONG;
  if (!control && encKind != WS_TEXT && encKind != WS_BINARY) return 0;
  if (control && len > WS_CONTROL_MAX) return 0;
  return (len < 126 ? 2 : len < 65536 ? 4 : 10) + (encMasked ? 4 : 0);
}

/** Write the header (wsHeaderSize(len) bytes) of a len-byte frame at pos in ring (base, mask). */
export function wsEncodeHeader(base: u32, mask: u32, pos: u32, len: u32): void {
  ringPut(base, mask, pos, 0x80 | encKind);
  const m: u32 = encMasked ? 0x80 : 0;
  let at = pos + 2;
  if (len < 126) {
    ringPut(base, mask, pos + 1, m | len);
  } else if (len < 65536) {
    ringPut(base, mask, pos + 1, m | 126);
    ringPut(base, mask, pos + 2, len >> 8);
    ringPut(base, mask, pos + 3, len & 0xff);
    at = pos + 4;
  } else {
    ringPut(base, mask, pos + 1, m | 127);
    for (let i: u32 = 0; i < 4; i++) ringPut(base, mask, pos + 2 + i, 0);
    for (let i: u32 = 0; i < 4; i++) ringPut(base, mask, pos + 6 + i, (len >> ((3 - i) * 8)) & 0xff);
    at = pos + 10;
  }
  if (encMasked) {
    for (let i: u32 = 0; i < 4; i++) ringPut(base, mask, at + i, (encKey >> (i * 8)) & 0xff);
  }
}

/** Mask n payload bytes at pos of ring (base, size), `done` bytes of the payload before them (a client slot's frame; else nothing). */
export function wsMaskPayload(base: u32, size: u32, pos: u32, n: u32, done: u32): void {
  if (encMasked) maskRing(base, size, pos, n, keyAt(encKey, done));
}
