// The ringwire core: per-connection rings in shared memory, one call per read.
// src/core/js-core.ts is its twin, function for function.
//
// The host writes the configuration header (src/core/header.ts) and calls init(),
// which reads it. Then, per read, the host calls received(slot, n) after the
// kernel wrote n bytes at the rx head; the core decodes every whole frame and
// either echoes it into the tx ring (MODE_ECHO) or lists it for the host's
// handler (MODE_HANDLER: the frames stay in the rx ring, RX_TAIL is the host's
// to move once it is done with them, and a held slot lists nothing; see W_LISTED
// in contract/core-contract.ts). It stops at the first frame whose echo does not
// fit (R_BLOCKED: the host pauses reading and calls process() again once it
// freed room by moving the tx tail), when the frame list is full (R_MORE), or at
// an invalid frame (the negated error number, sticky per slot).
// The core never allocates: everything lives at the header's offsets.

import * as C from "./config";
import {
  LAYOUT_BASE, LAYOUT_VERSION, MAGIC, HEADER_SIZE, HEADER_CONFIG_WORDS, STATS_SIZE, SLOT_SIZE,
  SLOT_STATE_WORDS, DELIM_MAX, H_MAGIC, H_VERSION, H_FRAME_COUNT, H_FREE_HEAD, H_OPEN,
  S_CONNECTIONS, S_ACCEPTED, S_BYTES_IN, S_BYTES_OUT, S_FRAMES_IN, S_FRAMES_OUT, S_ERRORS, S_ERROR_BY_CODE,
  W_STATE, W_RX_HEAD, W_RX_TAIL, W_TX_HEAD, W_TX_TAIL, W_SCAN, W_ERROR, W_ERROR_SIZE, W_NEXT_FREE,
  W_RX_BASE, W_TX_BASE, W_RESERVED, W_LISTED, W_HOLD, W_PEER, F_ADDR, F_LEN, F_END, FRAME_WORDS,
  FRAMING_RAW, FRAMING_DELIMITER, MODE_ECHO, R_DONE, R_BLOCKED, R_MORE, SEND_OK, SEND_FULL, SEND_TOO_LARGE, SEND_DELIMITER, SCRATCH_BASE,
  INIT_OK, INIT_NO_HEADER, INIT_MEMORY_TOO_SMALL, INIT_STATIC_DATA, INIT_BAD_CONFIG,
} from "./contract";
import {
  decode, frameOff, frameLen, tooLarge, scanned, plan, encode, encodePrefix, encodeTrailer, trailerSize, encPrefix, encTrailer,
  resetFraming, delimiterIn,
} from "./framing";
import { ringToRing } from "./ring";

// Every contract constant is exported so the contract test can hold the host's copy to it.
export * from "./contract";

@inline function header(word: u32): usize { return LAYOUT_BASE + word * 4; }
@inline function slotAddr(slot: u32): u32 { return C.slotsOff + slot * SLOT_SIZE; }
@inline function word(s: u32, w: u32): u32 { return load<u32>(s + w * 4); }
@inline function setWord(s: u32, w: u32, v: u32): void { store<u32>(s + w * 4, v); }
@inline function count(counter: u32, n: u32): void {
  if (n != 0) atomic.add<i64>(C.statsOff + counter * 8, <i64>n);
}

/**
 * Read the configuration the host wrote in the header, zero the state words and
 * the stats, and put every slot on the free list. Returns INIT_OK, or why not.
 * Nothing from an earlier init() on the same memory survives it (the host
 * clears the rings when it reuses a memory).
 */
export function init(): i32 {
  if (load<u32>(header(H_MAGIC)) != MAGIC || load<u32>(header(H_VERSION)) != LAYOUT_VERSION) return INIT_NO_HEADER;
  C.loadConfig();
  resetFraming();
  if (<u64>C.total > (<u64>memory.size() << 16)) return INIT_MEMORY_TOO_SMALL;
  if (__heap_base > SCRATCH_BASE) return INIT_STATIC_DATA;
  if (C.delimLen > DELIM_MAX) return INIT_BAD_CONFIG;
  memory.fill(header(HEADER_CONFIG_WORDS), 0, HEADER_SIZE - HEADER_CONFIG_WORDS * 4);
  memory.fill(C.statsOff, 0, STATS_SIZE);
  store<u32>(header(H_FREE_HEAD), C.slots > 0 ? 1 : 0);
  const perSlot = C.rxSize + C.rxPad + C.txSize;
  for (let i: u32 = 0; i < C.slots; i++) {
    const s = slotAddr(i);
    memory.fill(s, 0, SLOT_SIZE);
    setWord(s, W_NEXT_FREE, i + 1 < C.slots ? i + 2 : 0);
    setWord(s, W_RX_BASE, C.ringsOff + i * perSlot);
    setWord(s, W_TX_BASE, C.ringsOff + i * perSlot + C.rxSize + C.rxPad);
  }
  return INIT_OK;
}

/** Take a free slot for a new connection: its index, or -1 when every slot is in use. */
export function open(): i32 {
  const head = load<u32>(header(H_FREE_HEAD));
  if (head == 0) return -1;
  const slot = head - 1;
  const s = slotAddr(slot);
  store<u32>(header(H_FREE_HEAD), word(s, W_NEXT_FREE));
  store<u32>(header(H_OPEN), load<u32>(header(H_OPEN)) + 1);
  for (let w: u32 = 0; w < SLOT_STATE_WORDS; w++) setWord(s, w, 0);
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
  // Echo forwards each whole frame to a tx ring: its own slot's, or its peer's (a relay).
  const peer = word(s, W_PEER);
  const t = peer == 0 ? s : slotAddr(peer - 1);
  const rxBase = word(s, W_RX_BASE), txBase = word(t, W_TX_BASE);
  const rxSize = C.rxSize, txSize = C.txSize;
  const rxHead = word(s, W_RX_HEAD), txTail = word(t, W_TX_TAIL);
  // Where decoding starts: the tail in echo mode, the end of the listed frames in handler mode.
  let pos = echo ? word(s, W_RX_TAIL) : word(s, W_LISTED);
  let txHead = word(t, W_TX_HEAD), scan = word(s, W_SCAN);
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
        setWord(s, W_ERROR_SIZE, tooLarge);
        tooLarge = 0;
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
      store<u32>(entry + F_ADDR * 4, rxBase + start);
      store<u32>(entry + F_LEN * 4, len);
      store<u32>(entry + F_END * 4, pos + wire);
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
  setWord(t, W_TX_HEAD, txHead);
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

/**
 * send() of a payload already in this memory at addr (a frame view of an rx ring,
 * forwarded by a handler): reserve, copy and commit in one call instead of two
 * calls around a copy by the host. Returns SEND_*.
 */
export function sendFrom(slot: u32, addr: u32, len: u32): i32 {
  const r = reserve(slot, len);
  if (r != SEND_OK) return r;
  const s = slotAddr(slot);
  const base = word(s, W_TX_BASE);
  const at = word(s, W_RESERVED) & (C.txSize - 1);
  const first = len < C.txSize - at ? len : C.txSize - at;
  memory.copy(base + at, addr, first);
  if (first < len) memory.copy(base, addr + first, len - first);
  return commit(slot, len);
}

/**
 * Frame the payload placed after reserve(): write prefix and trailer, publish it:
 * SEND_OK, or SEND_DELIMITER (delimiter framing: the payload holds the delimiter),
 * and then nothing is published: the tx head stays where it was.
 */
export function commit(slot: u32, len: u32): i32 {
  const s = slotAddr(slot);
  const txHead = word(s, W_TX_HEAD);
  if (C.framing == FRAMING_DELIMITER && delimiterIn(word(s, W_TX_BASE), C.txSize - 1, word(s, W_RESERVED), len, true)) return SEND_DELIMITER;
  encode(word(s, W_TX_BASE), C.txSize - 1, txHead, len);
  const wire = encPrefix + len + encTrailer;
  setWord(s, W_TX_HEAD, txHead + wire);
  count(S_FRAMES_OUT, 1);
  count(S_BYTES_OUT, wire);
  return SEND_OK;
}

/** What send() of a len-byte payload would say of its length, without writing: SEND_OK, SEND_BAD_LENGTH or SEND_TOO_LARGE. */
export function check(len: u32): i32 {
  return plan(len);
}

/**
 * Delimiter framing: SEND_DELIMITER if the len bytes at addr (in this memory: a
 * frame's payload, or a piece of one at SCRATCH_BASE) hold the delimiter, else
 * SEND_OK; `last`: they end the payload (see delimiterIn). Other framings: SEND_OK.
 */
export function scan(addr: u32, len: u32, last: bool): i32 {
  if (C.framing != FRAMING_DELIMITER) return SEND_OK;
  // A linear run as a ring that never wraps: any mask above its end will do.
  return delimiterIn(addr, 0x7fffffff, 0, len, last) ? SEND_DELIMITER : SEND_OK;
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
