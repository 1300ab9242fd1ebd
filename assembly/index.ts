// The ringwire core: per-connection rings in shared memory, one call per read.
//
// The host calls received(slot, n) after the kernel wrote n bytes at the rx head;
// the core decodes every whole frame and either echoes it into the tx ring
// (MODE_ECHO) or lists it for the host's handler (MODE_HANDLER: the frames stay
// in the rx ring, RX_TAIL is the host's to move once it is done with them, and a
// held slot lists nothing; see W_LISTED in layout.ts). It stops at the
// first frame whose reply does not fit (R_BLOCKED: the host pauses reading and
// calls process() again once the host freed room by moving the tx tail), when the frame list is full
// (R_MORE), or at an invalid frame (the negated error code, sticky per slot).
// The core never allocates: everything lives at fixed offsets (layout.ts).

import * as C from "./config";
import {
  LAYOUT_BASE, LAYOUT_VERSION, MAGIC, HEADER_SIZE, STATS_SIZE, SLOT_SIZE, DELIM_MAX,
  H_MAGIC, H_VERSION, H_SLOTS, H_RX_SIZE, H_TX_SIZE, H_FRAMING, H_MODE, H_MAX_FRAME,
  H_LEN_OFFSET, H_LEN_SIZE, H_LEN_BIG, H_LEN_ADJUST, H_LEN_STRIP, H_FIXED, H_DELIM_LEN,
  H_STRIP_CR, H_DELIM, H_FRAME_CAP, H_FRAME_COUNT, H_STATS_OFF, H_FRAMES_OFF,
  H_RX_PAD, H_SLOTS_OFF, H_RINGS_OFF, H_TOTAL, H_FREE_HEAD, H_OPEN,
  S_CONNECTIONS, S_ACCEPTED, S_BYTES_IN, S_BYTES_OUT, S_FRAMES_IN, S_FRAMES_OUT,
  S_ERRORS, S_ERROR_BY_CODE,
  W_STATE, W_RX_HEAD, W_RX_TAIL, W_TX_HEAD, W_TX_TAIL, W_SCAN, W_ERROR, W_NEXT_FREE,
  W_RX_BASE, W_TX_BASE, W_RESERVED, W_LISTED, W_HOLD, FRAME_WORDS,
  FRAMING_RAW, MODE_ECHO, R_DONE, R_BLOCKED, R_MORE, SEND_OK, SEND_FULL, SEND_TOO_LARGE,
  align64, layoutSize, statsOffset,
} from "./layout";
import { decode, frameOff, frameLen, scanned, plan, encode, encodePrefix, encodeTrailer, trailerSize, encPrefix, encTrailer } from "./framing";
import { ringToRing } from "./ring";

// Every layout constant is exported so the contract test can hold the mirror to it.
export * from "./layout";

@inline function header(word: u32): usize { return LAYOUT_BASE + word * 4; }
@inline function slotAddr(slot: u32): u32 { return C.slotsOff + slot * SLOT_SIZE; }
@inline function word(s: u32, w: u32): u32 { return load<u32>(s + w * 4); }
@inline function setWord(s: u32, w: u32, v: u32): void { store<u32>(s + w * 4, v); }
@inline function count(counter: u32, n: u32): void {
  if (n != 0) atomic.add<i64>(C.statsOff + counter * 8, <i64>n);
}

/**
 * Lay out the memory and store the configuration. Returns the total bytes used,
 * or 0 when the memory is too small (the host sizes it with layoutSize()).
 */
export function init(
  nSlots: u32, rx: u32, tx: u32, kind: u32, m: u32, max: u32,
  offset: u32, size: u32, big: u32, adjust: i32, strip: u32, fixed: u32,
  dLen: u32, cr: u32, d0: u32, d1: u32, d2: u32, d3: u32, cap: u32, pad: u32,
): f64 {
  // pad: bytes after each rx ring for wrapped frames (handler mode; the host sizes
  // it to the longest frame on the wire, a multiple of 64).
  const total = layoutSize(nSlots, rx, tx, pad, cap);
  if (total > <f64>(<u64>memory.size() << 16) || __heap_base > LAYOUT_BASE || dLen > DELIM_MAX) return 0;
  const stats = statsOffset();
  const frames = stats + STATS_SIZE;
  const slotTable = frames + align64(cap * FRAME_WORDS * 4);
  const rings = slotTable + nSlots * SLOT_SIZE;
  memory.fill(LAYOUT_BASE, 0, HEADER_SIZE + STATS_SIZE);
  store<u32>(header(H_MAGIC), MAGIC);
  store<u32>(header(H_VERSION), LAYOUT_VERSION);
  store<u32>(header(H_SLOTS), nSlots);
  store<u32>(header(H_RX_SIZE), rx);
  store<u32>(header(H_TX_SIZE), tx);
  store<u32>(header(H_FRAMING), kind);
  store<u32>(header(H_MODE), m);
  store<u32>(header(H_MAX_FRAME), max);
  store<u32>(header(H_LEN_OFFSET), offset);
  store<u32>(header(H_LEN_SIZE), size);
  store<u32>(header(H_LEN_BIG), big);
  store<i32>(header(H_LEN_ADJUST), adjust);
  store<u32>(header(H_LEN_STRIP), strip);
  store<u32>(header(H_FIXED), fixed);
  store<u32>(header(H_DELIM_LEN), dLen);
  store<u32>(header(H_STRIP_CR), cr);
  store<u32>(header(H_DELIM), d0);
  store<u32>(header(H_DELIM + 1), d1);
  store<u32>(header(H_DELIM + 2), d2);
  store<u32>(header(H_DELIM + 3), d3);
  store<u32>(header(H_FRAME_CAP), cap);
  store<u32>(header(H_STATS_OFF), stats);
  store<u32>(header(H_FRAMES_OFF), frames);
  store<u32>(header(H_RX_PAD), pad);
  store<u32>(header(H_SLOTS_OFF), slotTable);
  store<u32>(header(H_RINGS_OFF), rings);
  store<u32>(header(H_TOTAL), <u32>total);
  store<u32>(header(H_FREE_HEAD), nSlots > 0 ? 1 : 0);
  C.configure(nSlots, rx, tx, kind, m, max, offset, size, big != 0, adjust, strip, fixed,
    dLen, cr != 0, <u32>header(H_DELIM), cap, stats, frames, pad, slotTable, rings);
  for (let i: u32 = 0; i < nSlots; i++) {
    const s = slotAddr(i);
    memory.fill(s, 0, SLOT_SIZE);
    setWord(s, W_NEXT_FREE, i + 1 < nSlots ? i + 2 : 0);
    setWord(s, W_RX_BASE, rings + i * (rx + pad + tx));
    setWord(s, W_TX_BASE, rings + i * (rx + pad + tx) + rx + pad);
  }
  return total;
}

/** Take a free slot for a new connection: its index, or -1 when every slot is in use. */
export function open(): i32 {
  const head = load<u32>(header(H_FREE_HEAD));
  if (head == 0) return -1;
  const slot = head - 1;
  const s = slotAddr(slot);
  store<u32>(header(H_FREE_HEAD), word(s, W_NEXT_FREE));
  store<u32>(header(H_OPEN), load<u32>(header(H_OPEN)) + 1);
  for (let w = W_STATE; w <= W_NEXT_FREE; w++) setWord(s, w, 0);
  for (let w = W_RESERVED; w <= W_HOLD; w++) setWord(s, w, 0);
  setWord(s, W_STATE, 1);
  count(S_CONNECTIONS, 1);
  count(S_ACCEPTED, 1);
  return <i32>slot;
}

/** Give a slot back. The host calls it only once no write still references the rings. */
export function close(slot: u32): void {
  const s = slotAddr(slot);
  if (word(s, W_STATE) == 0) return;
  setWord(s, W_STATE, 0);
  setWord(s, W_NEXT_FREE, load<u32>(header(H_FREE_HEAD)));
  store<u32>(header(H_FREE_HEAD), slot + 1);
  store<u32>(header(H_OPEN), load<u32>(header(H_OPEN)) - 1);
  atomic.sub<i64>(C.statsOff + S_CONNECTIONS * 8, 1);
}

/** The kernel wrote n bytes at the rx head: account for them and process. */
export function received(slot: u32, n: u32): i32 {
  const s = slotAddr(slot);
  setWord(s, W_RX_HEAD, word(s, W_RX_HEAD) + n);
  count(S_BYTES_IN, n);
  return process(slot);
}

/** Decode every whole frame buffered in the rx ring; see the header comment. */
export function process(slot: u32): i32 {
  const s = slotAddr(slot);
  store<u32>(header(H_FRAME_COUNT), 0);
  const echo = C.mode == MODE_ECHO;
  if (!echo && word(s, W_HOLD) != 0) return R_DONE;
  const err = word(s, W_ERROR);
  if (err != 0) return -(<i32>err);
  const rxBase = word(s, W_RX_BASE), txBase = word(s, W_TX_BASE);
  const rxSize = C.rxSize, txSize = C.txSize;
  const rxHead = word(s, W_RX_HEAD), txTail = word(s, W_TX_TAIL);
  // Where decoding starts: the tail in echo mode, the end of the listed frames in handler mode.
  let pos = echo ? word(s, W_RX_TAIL) : word(s, W_LISTED);
  let txHead = word(s, W_TX_HEAD), scan = word(s, W_SCAN);
  let frames: u32 = 0, framesIn: u32 = 0, bytesOut: u32 = 0;
  let result = R_DONE;
  while (rxHead != pos) {
    const avail = rxHead - pos;
    let wire: u32, off: u32 = 0, len: u32;
    if (C.framing == FRAMING_RAW) {
      // A raw frame is whatever has arrived: as much as the tx ring takes (echo),
      // or the contiguous run up to the ring's end (handler: never a copy).
      const room = echo ? txSize - (txHead - txTail) : rxSize - (pos & (rxSize - 1));
      wire = avail < room ? avail : room;
      len = wire;
      if (wire == 0) { result = R_BLOCKED; break; }
    } else {
      const r = decode(rxBase, rxSize, pos, avail, scan);
      if (r == 0) { scan = scanned; break; }
      if (r < 0) {
        setWord(s, W_ERROR, <u32>(-r));
        count(S_ERRORS, 1);
        count(S_ERROR_BY_CODE + <u32>(-r), 1);
        result = r;
        break;
      }
      wire = <u32>r; off = frameOff; len = frameLen;
    }
    if (echo) {
      if (wire > txSize - (txHead - txTail)) { result = R_BLOCKED; break; }
      ringToRing(rxBase, rxSize, pos, txBase, txSize, txHead, wire);
      txHead += wire;
      bytesOut += wire;
    } else {
      if (frames == C.frameCap) { result = R_MORE; break; }
      const start = (pos + off) & (rxSize - 1);
      // A frame that wraps the ring's end: its wrapped part, from the ring's start,
      // goes to the pad right after the ring, and the frame reads as one run.
      if (start + len > rxSize) memory.copy(rxBase + rxSize, rxBase, start + len - rxSize);
      const entry = C.framesOff + frames * FRAME_WORDS * 4;
      store<u32>(entry, rxBase + start);
      store<u32>(entry + 4, len);
      store<u32>(entry + 8, pos + wire);
      frames++;
    }
    pos += wire;
    scan = 0;
    framesIn++;
  }
  if (echo) {
    if (pos == rxHead) { setWord(s, W_RX_HEAD, 0); pos = 0; scan = 0; }
    setWord(s, W_RX_TAIL, pos);
  } else {
    setWord(s, W_LISTED, pos);
  }
  setWord(s, W_SCAN, scan);
  setWord(s, W_TX_HEAD, txHead);
  store<u32>(header(H_FRAME_COUNT), frames);
  count(S_FRAMES_IN, framesIn);
  if (echo) {
    count(S_FRAMES_OUT, framesIn);
    count(S_BYTES_OUT, bytesOut);
  }
  return result;
}

/**
 * Make room in the tx ring for a frame with a len-byte payload. On SEND_OK the
 * host copies the payload to the tx position in W_RESERVED, then calls commit().
 */
export function reserve(slot: u32, len: u32): i32 {
  const r = plan(len);
  if (r != SEND_OK) return r;
  const s = slotAddr(slot);
  const txHead = word(s, W_TX_HEAD);
  if (encPrefix + len + encTrailer > C.txSize - (txHead - word(s, W_TX_TAIL))) return SEND_FULL;
  setWord(s, W_RESERVED, txHead + encPrefix);
  return SEND_OK;
}

/** Frame the payload placed after reserve(): write prefix and trailer, publish it. */
export function commit(slot: u32, len: u32): void {
  const s = slotAddr(slot);
  const txHead = word(s, W_TX_HEAD);
  encode(word(s, W_TX_BASE), C.txSize - 1, txHead, len);
  const wire = encPrefix + len + encTrailer;
  setWord(s, W_TX_HEAD, txHead + wire);
  count(S_FRAMES_OUT, 1);
  count(S_BYTES_OUT, wire);
}

/** What send() of a len-byte payload would say, without writing: SEND_OK, SEND_BAD_LENGTH or SEND_TOO_LARGE. */
export function check(len: u32): i32 {
  return plan(len);
}

// ---- a reply larger than the tx ring, streamed through it in pieces ----
// beginFrame writes the prefix, the host writes payload pieces at the tx head as
// room appears and publishes each with putBytes, and endFrame writes the trailer.

/** Write the prefix of a frame for a len-byte payload: SEND_OK, SEND_FULL (no room for it yet), or SEND_BAD_LENGTH. */
export function beginFrame(slot: u32, len: u32): i32 {
  const r = plan(len);
  if (r != SEND_OK && r != SEND_TOO_LARGE) return r;
  const s = slotAddr(slot);
  const txHead = word(s, W_TX_HEAD);
  if (encPrefix > C.txSize - (txHead - word(s, W_TX_TAIL))) return SEND_FULL;
  encodePrefix(word(s, W_TX_BASE), C.txSize - 1, txHead, len);
  setWord(s, W_TX_HEAD, txHead + encPrefix);
  count(S_FRAMES_OUT, 1);
  count(S_BYTES_OUT, encPrefix);
  return SEND_OK;
}

/** The host wrote n payload bytes at the tx head (within the free room): publish them. */
export function putBytes(slot: u32, n: u32): void {
  const s = slotAddr(slot);
  setWord(s, W_TX_HEAD, word(s, W_TX_HEAD) + n);
  count(S_BYTES_OUT, n);
}

/** Write the trailer of a streamed frame: SEND_OK, or SEND_FULL until there is room for it. */
export function endFrame(slot: u32): i32 {
  const s = slotAddr(slot);
  const txHead = word(s, W_TX_HEAD);
  const n = trailerSize();
  if (n > C.txSize - (txHead - word(s, W_TX_TAIL))) return SEND_FULL;
  encodeTrailer(word(s, W_TX_BASE), C.txSize - 1, txHead);
  setWord(s, W_TX_HEAD, txHead + n);
  count(S_BYTES_OUT, n);
  return SEND_OK;
}

/** Does nothing and returns x: what one call across the JS–WASM boundary costs, for the benchmarks. */
export function nop(x: i32): i32 {
  return x;
}
