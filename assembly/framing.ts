// Frame decoding and encoding for every framing, over a connection's rings.
//
// decode() looks at the bytes between rxTail and rxHead and answers one of:
//   > 0  a whole frame is buffered: its wire length; frameOff/frameLen say where
//        its payload starts (relative to rxTail) and how long it is
//     0  incomplete: not an error, wait for more bytes
//   < 0  the negated error code: the stream cannot be valid from here on
// It never allocates and never moves a position; the caller consumes.
//
// Limits (documented in the README): maxFrame bounds the payload, that is the
// bytes after the length field (length framing, after adjustment), after the
// varint prefix, or before the delimiter (a stripped '\r' counts).

import {
  lenOffset, lenSize, lenBig, lenAdjust, lenStrip, maxFrame, fixedSize,
  delimLen, delimAddr, stripCR, framing, txSize,
} from "./config";
import {
  FRAMING_LENGTH, FRAMING_VARINT, FRAMING_DELIMITER, FRAMING_FIXED,
  E_FRAME_TOO_LARGE, E_BAD_LENGTH, SEND_OK, SEND_BAD_LENGTH, SEND_TOO_LARGE,
} from "./layout";
import { ringByte, ringPut } from "./ring";

export let frameOff: u32 = 0;
export let frameLen: u32 = 0;
/** Delimiter framing: how far the search got (relative to rxTail) when incomplete. */
export let scanned: u32 = 0;

export function decode(base: u32, size: u32, tail: u32, avail: u32, scan: u32): i32 {
  if (framing == FRAMING_LENGTH) return decodeLength(base, size - 1, tail, avail);
  if (framing == FRAMING_VARINT) return decodeVarint(base, size - 1, tail, avail);
  if (framing == FRAMING_DELIMITER) return decodeDelimiter(base, size - 1, tail, avail, scan);
  // FRAMING_FIXED (raw never reaches decode)
  if (avail < fixedSize) return 0;
  frameOff = 0;
  frameLen = fixedSize;
  return <i32>fixedSize;
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
  // Above 2^33 no adjustment (an i32) can bring it under a u32 maxFrame.
  if (v > (<u64>1 << 33)) return -(<i32>E_FRAME_TOO_LARGE);
  const body = <i64>v + <i64>lenAdjust;
  if (body < 0) return -(<i32>E_BAD_LENGTH);
  if (body > <i64>maxFrame) return -(<i32>E_FRAME_TOO_LARGE);
  const wire = <u32>headEnd + <u32>body;
  if (lenStrip > wire) return -(<i32>E_BAD_LENGTH);
  if (avail < wire) return 0;
  frameOff = lenStrip;
  frameLen = wire - lenStrip;
  return <i32>wire;
}

function decodeVarint(base: u32, mask: u32, tail: u32, avail: u32): i32 {
  let v: u64 = 0;
  let shift: u32 = 0;
  for (let i: u32 = 0; i < 10 && i < avail; i++) {
    const b = ringByte(base, mask, tail + i);
    const bits = <u64>(b & 0x7f);
    if (bits != 0) {
      if (shift >= 32) return -(<i32>E_FRAME_TOO_LARGE);
      v |= bits << shift;
      if (v > <u64>maxFrame) return -(<i32>E_FRAME_TOO_LARGE);
    }
    if ((b & 0x80) == 0) {
      const wire = i + 1 + <u32>v;
      if (avail < wire) return 0;
      frameOff = i + 1;
      frameLen = <u32>v;
      return <i32>wire;
    }
    shift += 7;
  }
  // Ten bytes, every one with the continuation bit: longer than any u64 LEB128.
  if (avail >= 10) return -(<i32>E_BAD_LENGTH);
  return 0;
}

function decodeDelimiter(base: u32, mask: u32, tail: u32, avail: u32, scan: u32): i32 {
  const first = <u32>load<u8>(delimAddr);
  // Delimiter starts at i are possible for i + delimLen <= avail and i <= maxFrame.
  let end: i64 = <i64>avail - <i64>delimLen;
  if (end > <i64>maxFrame) end = <i64>maxFrame;
  for (let i = <i64>scan; i <= end; i++) {
    const at = tail + <u32>i;
    if (ringByte(base, mask, at) != first) continue;
    let k: u32 = 1;
    while (k < delimLen && ringByte(base, mask, at + k) == <u32>load<u8>(delimAddr + k)) k++;
    if (k < delimLen) continue;
    let len = <u32>i;
    if (stripCR && len > 0 && ringByte(base, mask, at - 1) == 13) len--;
    frameOff = 0;
    frameLen = len;
    scanned = 0;
    return <i32>(<u32>i + delimLen);
  }
  if (<u64>avail >= <u64>maxFrame + <u64>delimLen) return -(<i32>E_FRAME_TOO_LARGE);
  scanned = end + 1 > <i64>scan ? <u32>(end + 1) : scan;
  return 0;
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
    if (len != fixedSize) return SEND_BAD_LENGTH;
  }
  if (<u64>encPrefix + <u64>len + <u64>encTrailer > <u64>txSize) return SEND_TOO_LARGE;
  return SEND_OK;
}

/** Write the planned prefix and trailer around a payload of len bytes at pos in the tx ring. */
export function encode(base: u32, mask: u32, pos: u32, len: u32): void {
  encodePrefix(base, mask, pos, len);
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
  }
  // raw and fixed: the payload is the whole frame
}

/** The bytes a frame puts after its payload: the delimiter, or nothing. */
export function trailerSize(): u32 {
  return framing == FRAMING_DELIMITER ? delimLen : 0;
}

/** Write the trailer (the delimiter, for delimiter framing) at pos. */
export function encodeTrailer(base: u32, mask: u32, pos: u32): void {
  if (framing == FRAMING_DELIMITER) {
    for (let i: u32 = 0; i < delimLen; i++) ringPut(base, mask, pos + i, <u32>load<u8>(delimAddr + i));
  }
}
