// Frame decoding and encoding for every framing, over a connection's rings.
// src/core/js-framing.ts is its twin, function for function.
//
// decode() looks at the avail bytes from rx position `tail` and answers one of:
//   > 0  a whole frame is buffered: its wire length; frameOff/frameLen say where
//        its payload starts (relative to tail) and how long it is
//     0  incomplete: not an error, wait for more bytes
//   < 0  the negated error number: the stream cannot be valid from here on
// When it answers 0 for a frame whose header it validated (length, varint, fixed),
// frameWire is that frame's wire length: a relay forwards its bytes as they arrive
// (cut-through, assembly/index.ts). `done`: bytes of the frame at tail already
// forwarded that way (delimiter framing; they count toward maxFrame), else 0.
// It never allocates and never moves a position; the caller consumes.
//
// Limits (the README's framing table): maxFrame bounds the payload, that is the
// bytes after the length field (length framing, after adjustment), after the
// varint prefix, or before the delimiter (a stripped '\r' counts). An error is
// reported as soon as the bytes buffered prove it, whatever follows.

import {
  lenOffset, lenSize, lenBig, lenAdjust, lenStrip, maxFrame, fixed,
  delimLen, delim, stripCR, framing, txSize,
} from "./config";
import {
  FRAMING_LENGTH, FRAMING_VARINT, FRAMING_DELIMITER, FRAMING_FIXED, FRAMING_WEBSOCKET,
  E_FRAME_TOO_LARGE, E_BAD_LENGTH, SEND_OK, SEND_BAD_LENGTH, SEND_TOO_LARGE,
} from "./contract";
import { ringByte, ringPut } from "./ring";
import { findByte } from "./scan";
import { wsHeaderSize, wsEncodeHeader, wsMaskPayload } from "./websocket";

/** Where the payload of the frame decode() found starts (from tail), and its length. */
export let frameOff: u32 = 0;
export let frameLen: u32 = 0;
/** ERR_FRAME_TOO_LARGE from a length field: the payload length it declared (clamped to u32); 0 otherwise. */
export let tooLarge: u32 = 0;
/** Delimiter framing, when incomplete: bytes from tail already searched (W_SCAN). */
export let scanned: u32 = 0;
/** When decode() answers 0 with the header validated (length, varint, fixed): the frame's wire length; 0 otherwise. */
export let frameWire: u32 = 0;

/** Forget what earlier calls found; init() calls it, so a memory re-initialised keeps nothing. */
export function resetFraming(): void {
  frameOff = 0;
  frameLen = 0;
  tooLarge = 0;
  scanned = 0;
  frameWire = 0;
  encPrefix = 0;
  encTrailer = 0;
  encValue = 0;
}

/** The longest LEB128 prefix: ten bytes carry 64 bits. */
const VARINT_MAX: u32 = 10;

export function decode(base: u32, size: u32, tail: u32, avail: u32, scan: u32, done: u32): i32 {
  const mask = size - 1;
  frameWire = 0;
  if (framing == FRAMING_LENGTH) return decodeLength(base, mask, tail, avail);
  if (framing == FRAMING_VARINT) return decodeVarint(base, mask, tail, avail);
  if (framing == FRAMING_DELIMITER) return decodeDelimiter(base, mask, tail, avail, scan, done);
  if (framing == FRAMING_FIXED) return decodeFixed(avail);
  return 0; // raw never reaches decode()
}

function decodeLength(base: u32, mask: u32, tail: u32, avail: u32): i32 {
  const headEnd = lenOffset + lenSize;
  if (avail < headEnd) return 0;
  let v: u64 = 0;
  for (let i: u32 = 0; i < lenSize; i++) {
    const b = <u64>ringByte(base, mask, tail + lenOffset + i);
    if (lenBig) v = (v << 8) | b;
    else v |= b << (<u64>i * 8);
  }
  // Above 2^33 no adjustment (within +-2^30) brings it under maxFrame (under 2^30).
  if (v > (<u64>1 << 33)) { tooLarge = 0xffffffff; return -(<i32>E_FRAME_TOO_LARGE); }
  const body = <i64>v + <i64>lenAdjust;
  if (body < 0) return -(<i32>E_BAD_LENGTH);
  if (body > <i64>maxFrame) { tooLarge = body > 0xffffffff ? 0xffffffff : <u32>body; return -(<i32>E_FRAME_TOO_LARGE); }
  const wire = headEnd + <u32>body;
  if (lenStrip > wire) return -(<i32>E_BAD_LENGTH);
  if (avail < wire) { frameWire = wire; return 0; }
  frameOff = lenStrip;
  frameLen = wire - lenStrip;
  return <i32>wire;
}

function decodeVarint(base: u32, mask: u32, tail: u32, avail: u32): i32 {
  let v: u32 = 0;
  let shift: u32 = 0;
  for (let i: u32 = 0; i < VARINT_MAX && i < avail; i++) {
    const b = ringByte(base, mask, tail + i);
    const bits = b & 0x7f;
    if (bits != 0) {
      // Test before shifting, so that v stays within maxFrame and nothing overflows.
      if (shift >= 32 || bits > (maxFrame >> shift)) return -(<i32>E_FRAME_TOO_LARGE);
      v |= bits << shift;
      if (v > maxFrame) return -(<i32>E_FRAME_TOO_LARGE);
    }
    if ((b & 0x80) == 0) {
      const wire = i + 1 + v;
      if (avail < wire) { frameWire = wire; return 0; }
      frameOff = i + 1;
      frameLen = v;
      return <i32>wire;
    }
    shift += 7;
  }
  // Ten bytes, every one with the continuation bit: longer than any u64 LEB128.
  if (avail >= VARINT_MAX) return -(<i32>E_BAD_LENGTH);
  return 0;
}

function decodeDelimiter(base: u32, mask: u32, tail: u32, avail: u32, scan: u32, done: u32): i32 {
  // A delimiter may start at i (from tail) for i + delimLen <= avail and done + i <= maxFrame.
  let last = <i32>avail - <i32>delimLen;
  if (last > <i32>(maxFrame - done)) last = <i32>(maxFrame - done);
  const i = findDelimiter(base, mask, tail, <i32>scan, last);
  if (i <= last) {
    let len = <u32>i;
    if (stripCR && len > 0 && ringByte(base, mask, tail + len - 1) == 13) len--;
    frameOff = 0;
    frameLen = len;
    scanned = 0;
    return i + <i32>delimLen;
  }
  if (<u64>done + avail >= <u64>maxFrame + delimLen) return -(<i32>E_FRAME_TOO_LARGE);
  // Positions up to `last` are searched; the next call starts after them.
  scanned = last + 1 > <i32>scan ? <u32>(last + 1) : scan;
  return 0;
}

/** The first i in [from, last] where the delimiter starts at ring position tail + i; last + 1 if none. */
function findDelimiter(base: u32, mask: u32, tail: u32, from: i32, last: i32): i32 {
  const first = <u32>load<u8>(delim);
  let i = from;
  while (i <= last) {
    // Candidates i..last lie in at most two runs of the ring: up to its end, then from its start.
    const at = (tail + <u32>i) & mask;
    let run = mask + 1 - at;
    if (run > <u32>(last - i + 1)) run = <u32>(last - i + 1);
    const found = <u32>(findByte(base + at, base + at + run, first) - (base + at));
    i += <i32>found;
    if (found == run) continue;
    if (matchesFrom(base, mask, tail + <u32>i)) return i;
    i++;
  }
  return i;
}

/**
 * Delimiter framing, for send(): would the len payload bytes at ring position pos
 * (a linear run is a ring whose mask is larger than it) not come back as one frame
 * once the delimiter follows them? True when the delimiter starts inside them: wholly
 * inside (a start up to len - delimLen) or, when `last` says the payload ends here,
 * running on into the trailer (a suffix of the payload that is a prefix of the
 * delimiter, the rest of which the delimiter continues); or when, stripping '\r',
 * they end in '\r' (the peer would drop it). A payload checked in pieces passes
 * last = false for all but its last piece, each piece starting delimLen - 1 bytes
 * before the end of the previous one.
 */
export function delimiterIn(base: u32, mask: u32, pos: u32, len: u32, last: bool): bool {
  const lastStart = <i32>len - <i32>delimLen;
  if (lastStart >= 0 && findDelimiter(base, mask, pos, 0, lastStart) <= lastStart) return true;
  if (!last) return false;
  if (stripCR && len > 0 && ringByte(base, mask, pos + len - 1) == 13) return true;
  // A start k bytes before the end (0 < k < delimLen): the payload's last k bytes are the
  // delimiter's first k, and the delimiter's first delimLen - k bytes are its last delimLen - k.
  for (let k: u32 = 1; k < delimLen; k++) {
    if (k > len) break;
    let match = true;
    for (let j: u32 = 0; j < k && match; j++) match = ringByte(base, mask, pos + len - k + j) == <u32>load<u8>(delim + j);
    for (let j: u32 = k; j < delimLen && match; j++) match = <u32>load<u8>(delim + j) == <u32>load<u8>(delim + j - k);
    if (match) return true;
  }
  return false;
}

/** Do the delimiter's bytes after its first stand at rx position pos + 1 on? */
function matchesFrom(base: u32, mask: u32, pos: u32): bool {
  for (let k: u32 = 1; k < delimLen; k++) {
    if (ringByte(base, mask, pos + k) != <u32>load<u8>(delim + k)) return false;
  }
  return true;
}

function decodeFixed(avail: u32): i32 {
  if (avail < fixed) { frameWire = fixed; return 0; }
  frameOff = 0;
  frameLen = fixed;
  return <i32>fixed;
}

// ---- encoding (send) ----

/** The bytes an encoded frame puts before and after a payload of len bytes. */
export let encPrefix: u32 = 0;
export let encTrailer: u32 = 0;
let encValue: u64 = 0;

/** Plan the encoding of a len-byte payload: SEND_OK with encPrefix/encTrailer set, or why not. */
export function plan(len: u32): i32 {
  encPrefix = 0;
  encTrailer = 0;
  if (framing == FRAMING_LENGTH) {
    const headEnd = lenOffset + lenSize;
    const wire = <i64>lenStrip + <i64>len;
    const value = wire - <i64>headEnd - <i64>lenAdjust;
    if (wire < <i64>headEnd || value < 0) return SEND_BAD_LENGTH;
    if (lenSize < 8 && value >= (<i64>1 << (<i64>lenSize * 8))) return SEND_BAD_LENGTH;
    encPrefix = lenStrip;
    encValue = <u64>value;
  } else if (framing == FRAMING_VARINT) {
    let n: u32 = 1;
    let v = len;
    while (v >= 0x80) { v >>= 7; n++; }
    encPrefix = n;
  } else if (framing == FRAMING_DELIMITER) {
    encTrailer = trailerSize();
  } else if (framing == FRAMING_FIXED) {
    if (len != fixed) return SEND_BAD_LENGTH;
  } else if (framing == FRAMING_WEBSOCKET) {
    // The kind and mask of the frame were set first (wsEncoding).
    encPrefix = wsHeaderSize(len);
    if (encPrefix == 0) return SEND_BAD_LENGTH;
  }
  if (<u64>encPrefix + <u64>len + <u64>encTrailer > <u64>txSize) return SEND_TOO_LARGE;
  return SEND_OK;
}

/** Write the planned prefix and trailer around a payload of len bytes at pos in the tx ring. */
export function encode(base: u32, mask: u32, pos: u32, len: u32): void {
  encodePrefix(base, mask, pos, len);
  if (framing == FRAMING_WEBSOCKET) wsMaskPayload(base, mask + 1, pos + encPrefix, len, 0);
  encodeTrailer(base, mask, pos + encPrefix + len);
}

/** Write the planned prefix of a len-byte payload at pos (length field, varint; nothing for the others). */
export function encodePrefix(base: u32, mask: u32, pos: u32, len: u32): void {
  if (framing == FRAMING_LENGTH) {
    for (let i: u32 = 0; i < lenStrip; i++) ringPut(base, mask, pos + i, 0);
    for (let i: u32 = 0; i < lenSize; i++) {
      const shift = lenBig ? (lenSize - 1 - i) * 8 : i * 8;
      ringPut(base, mask, pos + lenOffset + i, <u32>((encValue >> <u64>shift) & 0xff));
    }
  } else if (framing == FRAMING_VARINT) {
    let v = len;
    for (let i: u32 = 0; i < encPrefix; i++) {
      ringPut(base, mask, pos + i, i + 1 < encPrefix ? (v & 0x7f) | 0x80 : v);
      v >>= 7;
    }
  } else if (framing == FRAMING_WEBSOCKET) {
    wsEncodeHeader(base, mask, pos, len);
  }
  // raw, fixed and delimiter frames have no prefix
}

/** The bytes a frame puts after its payload: the delimiter, or nothing. */
export function trailerSize(): u32 {
  return framing == FRAMING_DELIMITER ? delimLen : 0;
}

/** Write the trailer (the delimiter, for delimiter framing) at pos. */
export function encodeTrailer(base: u32, mask: u32, pos: u32): void {
  if (framing == FRAMING_DELIMITER) {
    for (let i: u32 = 0; i < delimLen; i++) ringPut(base, mask, pos + i, <u32>load<u8>(delim + i));
  }
}
