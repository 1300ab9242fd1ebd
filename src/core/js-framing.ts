// Twin of assembly/framing.ts: the same decoders and encoder with the same names,
// read side by side. The AssemblyScript module's globals (its configuration, and
// what decode() and plan() found) are this class's fields; see that file for
// what decode() answers and what maxFrame bounds.
//
// Integers: positions and lengths are u32 as in the core (`>>> 0` after a sum);
// where the core holds a u64 or i64, the twin holds the value in two u32 halves
// while it is unbounded (a length field) and in a plain number once it is known
// to be below 2^34, where doubles are exact.

import {
  E_BAD_LENGTH, E_FRAME_TOO_LARGE, FRAMING_DELIMITER, FRAMING_FIXED, FRAMING_LENGTH, FRAMING_VARINT, FRAMING_WEBSOCKET,
  SEND_BAD_LENGTH, SEND_OK, SEND_TOO_LARGE, type HeaderConfig,
} from './layout.ts';
import { ringByte, ringPut } from './js-ring.ts';
import { findByte } from './js-scan.ts';
import { JsWebsocket } from './js-websocket.ts';

/** The longest LEB128 prefix: ten bytes carry 64 bits. */
const VARINT_MAX = 10;

export class JsFraming {
  /** Where the payload of the frame decode() found starts (from tail), and its length. */
  frameOff = 0;
  frameLen = 0;
  /** ERR_FRAME_TOO_LARGE from a length field: the payload length it declared (clamped to u32); 0 otherwise. */
  tooLarge = 0;
  /** Delimiter framing, when incomplete: bytes from tail already searched (W_SCAN). */
  scanned = 0;
  /** When decode() answers 0 with the header validated (length, varint, fixed): the frame's wire length; 0 otherwise. */
  frameWire = 0;
  /** The bytes an encoded frame puts before and after a payload of len bytes. */
  encPrefix = 0;
  encTrailer = 0;
  /** Below 2^32 whenever encode() runs (the payload fits the tx ring, at most 2^30). */
  private encValue = 0;

  /** The websocket module (assembly/websocket.ts's globals and functions). */
  readonly ws: JsWebsocket;

  private readonly u8: Uint8Array;
  private readonly u32: Uint32Array;
  private readonly c: HeaderConfig;

  constructor(u8: Uint8Array, u32: Uint32Array, c: HeaderConfig) {
    this.u8 = u8;
    this.u32 = u32;
    this.c = c;
    this.ws = new JsWebsocket(u8, u32, c);
  }

  decode(base: number, size: number, tail: number, avail: number, scan: number, done: number): number {
    const mask = size - 1;
    const framing = this.c.framing;
    this.frameWire = 0;
    if (framing === FRAMING_LENGTH) return this.decodeLength(base, mask, tail, avail);
    if (framing === FRAMING_VARINT) return this.decodeVarint(base, mask, tail, avail);
    if (framing === FRAMING_DELIMITER) return this.decodeDelimiter(base, mask, tail, avail, scan, done);
    if (framing === FRAMING_FIXED) return this.decodeFixed(avail);
    // The core decodes websocket frames in wsProcess(); here only for Core.bufferedFrames: a frame's length, unchecked.
    if (framing === FRAMING_WEBSOCKET) return this.ws.wholeFrame(base, mask, tail, avail);
    return 0; // raw never reaches decode()
  }

  private decodeLength(base: number, mask: number, tail: number, avail: number): number {
    const { lenOffset, lenSize, lenBig, lenAdjust, lenStrip, maxFrame } = this.c;
    const headEnd = lenOffset + lenSize;
    if (avail < headEnd) return 0;
    // The core's u64 v, as hi * 2^32 + lo.
    let hi = 0;
    let lo = 0;
    for (let i = 0; i < lenSize; i++) {
      const b = ringByte(this.u8, base, mask, tail + lenOffset + i);
      if (lenBig) {
        hi = ((hi << 8) | (lo >>> 24)) >>> 0;
        lo = ((lo << 8) | b) >>> 0;
      } else if (i < 4) lo = (lo | (b << (i * 8))) >>> 0;
      else hi = (hi | (b << ((i - 4) * 8))) >>> 0;
    }
    // Above 2^33 no adjustment (within +-2^30) brings it under maxFrame (under 2^30).
    if (hi > 2 || (hi === 2 && lo !== 0)) { this.tooLarge = 0xffffffff; return -E_FRAME_TOO_LARGE; }
    const body = hi * 2 ** 32 + lo + lenAdjust;
    if (body < 0) return -E_BAD_LENGTH;
    if (body > maxFrame) { this.tooLarge = Math.min(body, 0xffffffff); return -E_FRAME_TOO_LARGE; }
    const wire = headEnd + body;
    if (lenStrip > wire) return -E_BAD_LENGTH;
    if (avail < wire) { this.frameWire = wire; return 0; }
    this.frameOff = lenStrip;
    this.frameLen = wire - lenStrip;
    return wire;
  }

  private decodeVarint(base: number, mask: number, tail: number, avail: number): number {
    const maxFrame = this.c.maxFrame;
    let v = 0;
    let shift = 0;
    for (let i = 0; i < VARINT_MAX && i < avail; i++) {
      const b = ringByte(this.u8, base, mask, tail + i);
      const bits = b & 0x7f;
      if (bits !== 0) {
        // Test before shifting, so that v stays within maxFrame and nothing overflows.
        if (shift >= 32 || bits > maxFrame >>> shift) return -E_FRAME_TOO_LARGE;
        v = (v | (bits << shift)) >>> 0;
        if (v > maxFrame) return -E_FRAME_TOO_LARGE;
      }
      if ((b & 0x80) === 0) {
        const wire = i + 1 + v;
        if (avail < wire) { this.frameWire = wire; return 0; }
        this.frameOff = i + 1;
        this.frameLen = v;
        return wire;
      }
      shift += 7;
    }
    // Ten bytes, every one with the continuation bit: longer than any u64 LEB128.
    if (avail >= VARINT_MAX) return -E_BAD_LENGTH;
    return 0;
  }

  private decodeDelimiter(base: number, mask: number, tail: number, avail: number, scan: number, done: number): number {
    const { delimLen, maxFrame, stripCR } = this.c;
    // A delimiter may start at i (from tail) for i + delimLen <= avail and done + i <= maxFrame.
    let last = avail - delimLen;
    if (last > maxFrame - done) last = maxFrame - done;
    const i = this.findDelimiter(base, mask, tail, scan, last);
    if (i <= last) {
      let len = i;
      if (stripCR && len > 0 && ringByte(this.u8, base, mask, tail + len - 1) === 13) len--;
      this.frameOff = 0;
      this.frameLen = len;
      this.scanned = 0;
      return i + delimLen;
    }
    if (done + avail >= maxFrame + delimLen) return -E_FRAME_TOO_LARGE;
    // Positions up to `last` are searched; the next call starts after them.
    this.scanned = last + 1 > scan ? last + 1 : scan;
    return 0;
  }

  /** The first i in [from, last] where the delimiter starts at ring position tail + i; last + 1 if none. */
  private findDelimiter(base: number, mask: number, tail: number, from: number, last: number): number {
    const first = this.c.delim[0]!;
    let i = from;
    while (i <= last) {
      // Candidates i..last lie in at most two runs of the ring: up to its end, then from its start.
      const at = (tail + i) & mask;
      let run = mask + 1 - at;
      if (run > last - i + 1) run = last - i + 1;
      const found = findByte(this.u8, this.u32, base + at, base + at + run, first) - (base + at);
      i += found;
      if (found === run) continue;
      if (this.matchesFrom(base, mask, tail + i)) return i;
      i++;
    }
    return i;
  }

  /**
   * Delimiter framing, for send(): would the len payload bytes at ring position pos
   * not come back as one frame once the delimiter follows them? See assembly/framing.ts.
   */
  delimiterIn(base: number, mask: number, pos: number, len: number, last: boolean): boolean {
    const { delim, delimLen, stripCR } = this.c;
    const lastStart = len - delimLen;
    if (lastStart >= 0 && this.findDelimiter(base, mask, pos, 0, lastStart) <= lastStart) return true;
    if (!last) return false;
    if (stripCR && len > 0 && ringByte(this.u8, base, mask, pos + len - 1) === 13) return true;
    // A start k bytes before the end (0 < k < delimLen): the payload's last k bytes are the
    // delimiter's first k, and the delimiter's first delimLen - k bytes are its last delimLen - k.
    for (let k = 1; k < delimLen; k++) {
      if (k > len) break;
      let match = true;
      for (let j = 0; j < k && match; j++) match = ringByte(this.u8, base, mask, pos + len - k + j) === delim[j];
      for (let j = k; j < delimLen && match; j++) match = delim[j] === delim[j - k];
      if (match) return true;
    }
    return false;
  }

  /** Do the delimiter's bytes after its first stand at rx position pos + 1 on? */
  private matchesFrom(base: number, mask: number, pos: number): boolean {
    const { delim, delimLen } = this.c;
    for (let k = 1; k < delimLen; k++) {
      if (ringByte(this.u8, base, mask, pos + k) !== delim[k]) return false;
    }
    return true;
  }

  private decodeFixed(avail: number): number {
    const fixed = this.c.fixed;
    if (avail < fixed) { this.frameWire = fixed; return 0; }
    this.frameOff = 0;
    this.frameLen = fixed;
    return fixed;
  }

  // ---- encoding (send) ----

  /** Plan the encoding of a len-byte payload: SEND_OK with encPrefix/encTrailer set, or why not. */
  plan(len: number): number {
    const { framing, lenOffset, lenSize, lenAdjust, lenStrip, fixed, txSize } = this.c;
    this.encPrefix = 0;
    this.encTrailer = 0;
    if (framing === FRAMING_LENGTH) {
      const headEnd = lenOffset + lenSize;
      // The core's i64s: within +-2^33 here, exact as numbers.
      const wire = lenStrip + len;
      const value = wire - headEnd - lenAdjust;
      if (wire < headEnd || value < 0) return SEND_BAD_LENGTH;
      if (lenSize < 8 && value >= 2 ** (lenSize * 8)) return SEND_BAD_LENGTH;
      this.encPrefix = lenStrip;
      this.encValue = value;
    } else if (framing === FRAMING_VARINT) {
      let n = 1;
      let v = len;
      while (v >= 0x80) { v >>>= 7; n++; }
      this.encPrefix = n;
    } else if (framing === FRAMING_DELIMITER) {
      this.encTrailer = this.trailerSize();
    } else if (framing === FRAMING_FIXED) {
      if (len !== fixed) return SEND_BAD_LENGTH;
    } else if (framing === FRAMING_WEBSOCKET) {
      this.encPrefix = this.ws.wsHeaderSize(len);
      if (this.encPrefix === 0) return SEND_BAD_LENGTH;
    }
    if (this.encPrefix + len + this.encTrailer > txSize) return SEND_TOO_LARGE;
    return SEND_OK;
  }

  /** Write the planned prefix and trailer around a payload of len bytes at pos in the tx ring. */
  encode(base: number, mask: number, pos: number, len: number): void {
    this.encodePrefix(base, mask, pos, len);
    if (this.c.framing === FRAMING_WEBSOCKET) this.ws.wsMaskPayload(base, mask + 1, pos + this.encPrefix, len, 0);
    this.encodeTrailer(base, mask, pos + this.encPrefix + len);
  }

  /** Write the planned prefix of a len-byte payload at pos (length field, varint; nothing for the others). */
  encodePrefix(base: number, mask: number, pos: number, len: number): void {
    const { framing, lenOffset, lenSize, lenBig, lenStrip } = this.c;
    const u8 = this.u8;
    if (framing === FRAMING_LENGTH) {
      for (let i = 0; i < lenStrip; i++) ringPut(u8, base, mask, pos + i, 0);
      for (let i = 0; i < lenSize; i++) {
        const shift = lenBig ? (lenSize - 1 - i) * 8 : i * 8;
        // encValue < 2^32: the bytes from the fifth on of an 8-byte field are 0.
        ringPut(u8, base, mask, pos + lenOffset + i, shift < 32 ? (this.encValue >>> shift) & 0xff : 0);
      }
    } else if (framing === FRAMING_VARINT) {
      let v = len;
      for (let i = 0; i < this.encPrefix; i++) {
        ringPut(u8, base, mask, pos + i, i + 1 < this.encPrefix ? (v & 0x7f) | 0x80 : v);
        v >>>= 7;
      }
    } else if (framing === FRAMING_WEBSOCKET) {
      this.ws.wsEncodeHeader(base, mask, pos, len);
    }
    // raw, fixed and delimiter frames have no prefix
  }

  /** The bytes a frame puts after its payload: the delimiter, or nothing. */
  trailerSize(): number {
    return this.c.framing === FRAMING_DELIMITER ? this.c.delimLen : 0;
  }

  /** Write the trailer (the delimiter, for delimiter framing) at pos. */
  encodeTrailer(base: number, mask: number, pos: number): void {
    const { framing, delim, delimLen } = this.c;
    if (framing === FRAMING_DELIMITER) {
      for (let i = 0; i < delimLen; i++) ringPut(this.u8, base, mask, pos + i, delim[i]!);
    }
  }
}
