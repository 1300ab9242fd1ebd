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
// The core never allocates from a heap: everything lives at the header's offsets.
//
// Rings come from the pool (pool.ts) and follow the traffic:
//   - open() gives a slot the smallest rx ring (Node holds a span of it to read
//     into from the start) and no tx ring: a connection that never replies never
//     takes one; the first reply takes the ring it needs.
//   - rx grows (four times, up to rxSize) when a read filled it, or when it is
//     full of an incomplete frame; straight to the size a frame needs once its
//     header says (length, varint, fixed), so a large frame's bytes are moved once,
//     while they are few, and the kernel writes the rest into the new ring a read
//     at a time: a move of many MiB into pages never touched stalls the thread. It
//     moves only while no listed frame is unconsumed (W_LISTED == W_RX_TAIL: echo
//     mode lists nothing), so a frame view a handler holds stays valid until
//     consumed. Its live bytes move to the new ring's start (positions rebased:
//     tail 0), so a frame that fits the ring never wraps.
//   - echo: a frame of HANDOFF_MIN bytes or more, followed by fewer bytes than its
//     own, that finds the tx ring it goes to empty is not copied: its segment becomes
//     that tx ring and the rx side takes a new one for the bytes after the frame
//     (handOff), a smaller move than the frame's.
//   - tx grows only while no write references it: empty (TX_HEAD == TX_TAIL: the
//     kernel has every byte), to fit the frame at hand or the size a send that found
//     it full asked for (W_RINGS; the next frame written to the empty ring takes it,
//     even one the small ring would hold); or through growTx(), which the host calls only
//     while nothing it handed to the kernel is unreleased. Up to txSize.
//   - shrink() (the host, for a connection idle for a while) gives back an empty
//     tx ring and an empty rx ring, entirely: an idle slot holds no ring (rx size 0,
//     W_RX_BASE 0). The host reads its next bytes into a buffer of its own and calls
//     takeRx() before it copies them in: the smallest rx ring again, or R_NO_MEMORY.
//     With no rx ring, process() has nothing to decode and received() is never called.
//   - When the pool cannot supply a ring the slot needs to go on: R_NO_MEMORY,
//     SEND_NO_MEMORY, or open() = -OPEN_NO_MEMORY; other slots never notice.
//
// A relay (echo mode, W_PEER: the frames go to another slot's tx ring) cuts frames
// through: once a frame's header is validated (length framings: its length, checked
// against maxFrame before any byte goes) its bytes are forwarded as they arrive, as
// much as the tx ring has room for, and for a delimiter the bytes scanned without
// finding it (never the last delimLen - 1, where it may begin; they count toward
// maxFrame, so ERR_FRAME_TOO_LARGE can come after up to maxFrame bytes of the frame
// went). W_CUT_DONE and W_CUT_LEFT say where the frame in progress stands. Whole
// frames go as before. So a relay's rings never hold a frame whole: they grow for
// throughput up to RELAY_RING only (or for a whole frame's tx, which fits its rx).
//
// WebSocket framing (handler mode only): process() hands the slot to wsProcess()
// (websocket.ts), which decodes, unmasks, reassembles and lists messages and control
// frames, keeping its own words per slot at C.wsOff; the rx ring grows for the frame
// in progress as for the other framings (its need counted from W_LISTED, where an
// open message starts). A send names its frame's kind, and a client slot's is masked
// with the key the host drew.

import * as C from "./config";
import {
  LAYOUT_BASE, LAYOUT_VERSION, MAGIC, HEADER_SIZE, HEADER_CONFIG_WORDS, STATS_SIZE, SLOT_SIZE,
  SLOT_STATE_WORDS, DELIM_MAX, H_MAGIC, H_VERSION, H_FRAME_COUNT, H_FREE_HEAD, H_OPEN,
  S_CONNECTIONS, S_ACCEPTED, S_BYTES_IN, S_BYTES_OUT, S_FRAMES_IN, S_FRAMES_OUT, S_ERRORS, S_ERROR_BY_CODE,
  W_STATE, W_RX_HEAD, W_RX_TAIL, W_TX_HEAD, W_TX_TAIL, W_SCAN, W_ERROR, W_ERROR_SIZE, W_NEXT_FREE,
  W_RX_BASE, W_TX_BASE, W_RINGS, W_RESERVED, W_LISTED, W_HOLD, W_PEER, W_CUT_DONE, W_CUT_LEFT, RELAY_RING, F_ADDR, F_LEN, F_END, FRAME_WORDS,
  FRAMING_RAW, FRAMING_DELIMITER, MODE_ECHO, R_DONE, R_BLOCKED, R_MORE, R_NO_MEMORY, SEND_OK, SEND_FULL, SEND_TOO_LARGE, SEND_DELIMITER,
  SEND_NO_MEMORY, SCRATCH_BASE, HANDOFF_MIN, OPEN_NO_SLOT, OPEN_NO_MEMORY, S_POOL_EXHAUSTED, H_STAGE, H_STAGE_LOG,
  INIT_OK, INIT_NO_HEADER, INIT_MEMORY_TOO_SMALL, INIT_STATIC_DATA, INIT_BAD_CONFIG,
  FRAMING_WEBSOCKET, WS_SLOT_SIZE, WS_BINARY, W_WS_FLAGS, W_WS_TX_KEY, W_WS_TX_DONE, WS_FLAG_CLIENT,
} from "./contract";
import {
  decode, frameOff, frameLen, frameWire, tooLarge, scanned, plan, encode, encodePrefix, encodeTrailer, trailerSize, encPrefix, encTrailer,
  resetFraming, delimiterIn,
} from "./framing";
import { ringToRing } from "./ring";
import { wsProcess, wsListed, wsNeed, wsErrorSize, wsEncoding, wsMaskPayload, resetWebsocket } from "./websocket";
import { minLog, topLog, resetPool, take, give } from "./pool";

// Every contract constant is exported so the contract test can hold the host's copy to it.
export * from "./contract";

@inline function header(word: u32): usize { return LAYOUT_BASE + word * 4; }
@inline function slotAddr(slot: u32): u32 { return C.slotsOff + slot * SLOT_SIZE; }
/** A slot's websocket words (websocket framing only). */
@inline function wsAddr(slot: u32): u32 { return C.wsOff + slot * WS_SLOT_SIZE; }
/** Websocket framing: the frame the next plan() is for (kind, and masked with key on a client slot). */
@inline function wsFrame(slot: u32, kind: u32, key: u32): void {
  if (C.framing == FRAMING_WEBSOCKET) wsEncoding(kind, (load<u32>(wsAddr(slot) + W_WS_FLAGS * 4) & WS_FLAG_CLIENT) != 0, key);
}
@inline function word(s: u32, w: u32): u32 { return load<u32>(s + w * 4); }
@inline function setWord(s: u32, w: u32, v: u32): void { store<u32>(s + w * 4, v); }
@inline function count(counter: u32, n: u32): void {
  if (n != 0) atomic.add<i64>(C.statsOff + counter * 8, <i64>n);
}

// ---- the slot's rings: sizes in W_RINGS (log2, a byte each; 0: no ring) ----

/** Handler mode: 1 (an rx segment is twice its ring: the ring, then its pad); echo: 0. */
let padLog: u32 = 0;
let rxTopLog: u32 = 0;
let txTopLog: u32 = 0;
/** A relay's largest rings (RELAY_RING, or rxSize/txSize if smaller), log2. */
let relayRxLog: u32 = 0;
let relayTxLog: u32 = 0;

@inline function rxLog(s: u32): u32 { return word(s, W_RINGS) & 0xff; }
@inline function txLog(s: u32): u32 { return (word(s, W_RINGS) >> 8) & 0xff; }
@inline function wantLog(s: u32): u32 { return (word(s, W_RINGS) >> 16) & 0xff; }
@inline function rxWanted(s: u32): u32 { return word(s, W_RINGS) >> 24; }
@inline function setRings(s: u32, rx: u32, tx: u32, want: u32, rxWant: u32): void { setWord(s, W_RINGS, rx | (tx << 8) | (want << 16) | (rxWant << 24)); }
@inline function sizeOf(log: u32): u32 { return log == 0 ? 0 : <u32>1 << log; }
@inline function rxSizeOf(s: u32): u32 { return sizeOf(rxLog(s)); }
@inline function txSizeOf(s: u32): u32 { return sizeOf(txLog(s)); }
/** log2 of the smallest ring of at least n bytes, within [minLog, top]. */
function fitLog(n: u32, top: u32): u32 {
  if (n <= (<u32>1 << minLog)) return minLog;
  const k: u32 = 32 - <u32>clz(n - 1);
  return k < top ? k : top;
}
/** Can the rx ring move? Not while a listed frame is unconsumed (a handler holds a view of it). */
@inline function rxMovable(s: u32): bool {
  return C.mode == MODE_ECHO || word(s, W_LISTED) == word(s, W_RX_TAIL);
}
@inline function noMemory(): void { count(S_POOL_EXHAUSTED, 1); }

/**
 * Grow the rx ring to fit `need` bytes (a frame whose header said so), else four
 * times (a burst reaches the largest ring in a few reads), up to rxSize, moving its
 * live bytes to the new ring's start: false when the pool has no segment for it.
 */
function growRx(s: u32, need: u32): bool {
  const k = rxLog(s);
  const to = need > (<u32>1 << k) ? fitLog(need, rxTopLog) : k + 2 < rxTopLog ? k + 2 : rxTopLog;
  const seg = take(to + padLog);
  if (seg == 0) return false;
  const old = word(s, W_RX_BASE), tail = word(s, W_RX_TAIL), n = word(s, W_RX_HEAD) - tail;
  ringToRing(old, <u32>1 << k, tail, seg, <u32>1 << to, 0, n);
  give(old, k + padLog);
  setWord(s, W_RX_BASE, seg);
  // Movable: nothing listed is unconsumed (W_LISTED == W_RX_TAIL), so no position the host holds changes meaning.
  setWord(s, W_RX_TAIL, 0);
  // W_LISTED is a handler-mode word; in echo mode a relay keeps W_CUT_DONE in it (the contract's slotAliases).
  if (C.mode != MODE_ECHO) setWord(s, W_LISTED, 0);
  setWord(s, W_RX_HEAD, n);
  setRings(s, to, txLog(s), wantLog(s), 0);
  return true;
}

/**
 * Echo: a large frame at rx position pos (wire bytes, followed by fewer) goes to
 * the tx ring of t (s itself, or its peer), which is empty. Hand the rx segment
 * over instead of copying: it becomes t's tx ring (tail pos, head pos + wire: the
 * same bytes at the same offsets), s takes a ring for the bytes after the frame,
 * moved to its start, and t's old tx ring goes back. False (nothing changed) when
 * the segment is larger than a tx ring may be or the pool has no ring for the rest.
 */
function handOff(s: u32, t: u32, pos: u32, wire: u32, rxHead: u32): bool {
  const k = rxLog(s);
  if (k > txTopLog) return false;
  const rest = rxHead - pos - wire;
  const to = fitLog(rest, rxTopLog);
  const seg = take(to);
  if (seg == 0) return false;
  const old = word(s, W_RX_BASE);
  ringToRing(old, <u32>1 << k, pos + wire, seg, <u32>1 << to, 0, rest);
  if (txLog(t) != 0) give(word(t, W_TX_BASE), txLog(t));
  setWord(t, W_TX_BASE, old);
  setWord(t, W_TX_TAIL, pos);
  setRings(t, rxLog(t), k, 0, rxWanted(t));
  setWord(s, W_RX_BASE, seg);
  setWord(s, W_RX_TAIL, 0);
  setWord(s, W_RX_HEAD, rest);
  setRings(s, to, txLog(s), wantLog(s), 0);
  return true;
}

/**
 * The tx ring of slot t, whose head is `head` (process() keeps it in a local until it
 * is done), must take `need` more bytes (growing up to log2 `top`, or to what `need`
 * alone takes: a relay's cap never blocks a frame). Empty (no write references it),
 * it is replaced by one that fits them and what an earlier send asked for; not empty,
 * the size it would need is noted for when it is. False: the pool has no segment.
 * The caller reloads the ring (base, size) after it.
 */
function makeTxRoom(t: u32, head: u32, need: u32, top: u32): bool {
  const k = txLog(t);
  const fit = fitLog(need, txTopLog);
  if (head != word(t, W_TX_TAIL)) {
    // For the bytes it holds and these, up to `top` (a relay's cap), or as large as these alone need.
    const want = fitLog(head - word(t, W_TX_TAIL) + need, fit > top ? fit : top);
    if (want > wantLog(t)) setRings(t, rxLog(t), k, want, rxWanted(t));
    return true;
  }
  let want = wantLog(t) > fit ? wantLog(t) : fit;
  if (want <= k) return true;
  // Empty: the old ring goes back first, so that it can merge into the new one.
  if (k != 0) give(word(t, W_TX_BASE), k);
  let seg = take(want);
  // No segment for the size noted earlier, but the ring it had fits this frame: keep that size.
  if (seg == 0 && fit <= k) { want = k; seg = take(k); }
  setWord(t, W_TX_BASE, seg);
  setRings(t, rxLog(t), seg == 0 ? 0 : want, 0, rxWanted(t));
  return seg != 0;
}

/**
 * Is the tx ring empty while an earlier send found it too small (makeTxRoom noted the
 * size it needed)? Then it grows now, before a frame goes in: a frame that fits the
 * small ring would otherwise keep it small, and every turn would leave in several writes.
 */
@inline function txWantsGrowth(t: u32, head: u32): bool {
  return head == word(t, W_TX_TAIL) && wantLog(t) > txLog(t);
}

/**
 * Read the configuration the host wrote in the header, zero the state words, the
 * stats and the pool, and put every slot on the free list. Returns INIT_OK, or why
 * not. Nothing from an earlier init() on the same memory survives it (the host
 * clears the memory when it reuses one).
 */
export function init(): i32 {
  if (load<u32>(header(H_MAGIC)) != MAGIC || load<u32>(header(H_VERSION)) != LAYOUT_VERSION) return INIT_NO_HEADER;
  C.loadConfig();
  resetFraming();
  resetWebsocket();
  if (<u64>C.total > (<u64>memory.size() << 16)) return INIT_MEMORY_TOO_SMALL;
  if (__heap_base > SCRATCH_BASE) return INIT_STATIC_DATA;
  if (C.delimLen > DELIM_MAX) return INIT_BAD_CONFIG;
  if ((C.framing == FRAMING_WEBSOCKET) != (C.wsOff != 0) || (C.framing == FRAMING_WEBSOCKET && C.mode == MODE_ECHO)) return INIT_BAD_CONFIG;
  padLog = C.mode == MODE_ECHO ? 0 : 1;
  rxTopLog = ctz(C.rxSize);
  txTopLog = ctz(C.txSize);
  const relayLog = <u32>ctz(RELAY_RING);
  relayRxLog = rxTopLog < relayLog ? rxTopLog : relayLog;
  relayTxLog = txTopLog < relayLog ? txTopLog : relayLog;
  const top = rxTopLog + padLog > txTopLog ? rxTopLog + padLog : txTopLog;
  if (popcnt(C.minRing) != 1 || C.minRing < 16 || C.minRing > C.rxSize || C.minRing > C.txSize) return INIT_BAD_CONFIG;
  if ((C.arenaSize & ((<u32>1 << top) - 1)) != 0 || (C.arenaOff & 4095) != 0) return INIT_BAD_CONFIG;
  memory.fill(header(HEADER_CONFIG_WORDS), 0, HEADER_SIZE - HEADER_CONFIG_WORDS * 4);
  memory.fill(C.statsOff, 0, STATS_SIZE);
  resetPool(top);
  store<u32>(header(H_FREE_HEAD), C.slots > 0 ? 1 : 0);
  for (let i: u32 = 0; i < C.slots; i++) {
    const s = slotAddr(i);
    memory.fill(s, 0, SLOT_SIZE);
    setWord(s, W_NEXT_FREE, i + 1 < C.slots ? i + 2 : 0);
  }
  return INIT_OK;
}

/**
 * Take a free slot, with the smallest rx ring, for a new connection: its index,
 * -OPEN_NO_SLOT or -OPEN_NO_MEMORY. A new connection has a ring from the start (Node
 * reads into it with no copy, and a full pool refuses it before it opens); only an
 * idle one reads without one (see shrink()).
 */
export function open(): i32 {
  const head = load<u32>(header(H_FREE_HEAD));
  if (head == 0) return -(<i32>OPEN_NO_SLOT);
  const rx = take(minLog + padLog);
  if (rx == 0) { noMemory(); return -(<i32>OPEN_NO_MEMORY); }
  const slot = head - 1;
  const s = slotAddr(slot);
  store<u32>(header(H_FREE_HEAD), word(s, W_NEXT_FREE));
  store<u32>(header(H_OPEN), load<u32>(header(H_OPEN)) + 1);
  for (let w: u32 = 0; w < SLOT_STATE_WORDS; w++) setWord(s, w, 0);
  if (C.framing == FRAMING_WEBSOCKET) memory.fill(wsAddr(slot), 0, WS_SLOT_SIZE);
  setWord(s, W_STATE, 1);
  setWord(s, W_RX_BASE, rx);
  setRings(s, minLog, 0, 0, 0);
  count(S_CONNECTIONS, 1);
  count(S_ACCEPTED, 1);
  return <i32>slot;
}

/** Give a slot and its rings back. The host calls it only once no write or frame view still references the rings. */
export function close(slot: u32): void {
  const s = slotAddr(slot);
  if (word(s, W_STATE) == 0) return;
  if (rxLog(s) != 0) give(word(s, W_RX_BASE), rxLog(s) + padLog);
  if (txLog(s) != 0) give(word(s, W_TX_BASE), txLog(s));
  setWord(s, W_STATE, 0);
  setWord(s, W_NEXT_FREE, load<u32>(header(H_FREE_HEAD)));
  store<u32>(header(H_FREE_HEAD), slot + 1);
  store<u32>(header(H_OPEN), load<u32>(header(H_OPEN)) - 1);
  atomic.sub<i64>(C.statsOff + S_CONNECTIONS * 8, 1);
}

/**
 * The connection has been idle: give back an empty tx ring and an empty rx ring,
 * both entirely (the host reads the next bytes into a buffer of its own, then calls
 * takeRx()). Returns the bytes given back to the pool.
 */
export function shrink(slot: u32): u32 {
  const s = slotAddr(slot);
  if (word(s, W_STATE) == 0) return 0;
  let freed: u32 = 0;
  let rx = rxLog(s), tx = txLog(s);
  if (rx != 0 && word(s, W_RX_HEAD) == word(s, W_RX_TAIL)) {
    // Empty, so nothing is listed or scanned either, and its positions are back at 0
    // (process() and consume() see to that): the ring takeRx() gives starts as a new slot's.
    give(word(s, W_RX_BASE), rx + padLog);
    setWord(s, W_RX_BASE, 0);
    freed += <u32>1 << (rx + padLog);
    rx = 0;
  }
  if (tx != 0 && word(s, W_TX_HEAD) == word(s, W_TX_TAIL)) {
    give(word(s, W_TX_BASE), tx);
    setWord(s, W_TX_BASE, 0);
    freed += <u32>1 << tx;
    tx = 0;
  }
  setRings(s, rx, tx, 0, 0);
  return freed;
}

/**
 * A slot that shrink() left with no rx ring has bytes to read (the host holds
 * them): it takes the smallest rx ring again. R_DONE (it has one now, or had one),
 * or R_NO_MEMORY: the pool has none (ERR_MEMORY_EXHAUSTED for this connection only).
 */
export function takeRx(slot: u32): i32 {
  const s = slotAddr(slot);
  if (rxLog(s) != 0) return R_DONE;
  const rx = take(minLog + padLog);
  if (rx == 0) { noMemory(); return R_NO_MEMORY; }
  setWord(s, W_RX_BASE, rx);
  setRings(s, minLog, txLog(s), wantLog(s), 0);
  return R_DONE;
}

/**
 * The kernel wrote n bytes at the rx head: account for them and process. A read
 * that filled the ring grows it (growRx) once its frames are handed on: the peer
 * sends more than it holds. Pinned by a listed frame, the ring grows at
 * the first read that finds it free to move, before it decodes (a pipelined
 * handler lists every read's frames at once). Short of pool, it stays as it is.
 */
export function received(slot: u32, n: u32): i32 {
  const s = slotAddr(slot);
  const head = word(s, W_RX_HEAD) + n;
  setWord(s, W_RX_HEAD, head);
  count(S_BYTES_IN, n);
  if (rxWanted(s) != 0 && rxMovable(s) && rxLog(s) < rxTopLog) growRx(s, 0);
  const k = rxLog(s);
  const filled = n != 0 && word(s, W_RX_HEAD) - word(s, W_RX_TAIL) == <u32>1 << k;
  const r = process(slot);
  // A relay's ring grows for throughput only up to RELAY_RING: it forwards frames as they arrive.
  const top = word(s, W_PEER) != 0 ? relayRxLog : rxTopLog;
  if (filled && (r == R_DONE || r == R_BLOCKED) && rxLog(s) == k && k < top) {
    if (!rxMovable(s)) setRings(s, k, txLog(s), wantLog(s), 1);
    else growRx(s, 0);
  }
  return r;
}

/** Decode every whole frame buffered in the rx ring; see the header comment. */
export function process(slot: u32): i32 {
  const s = slotAddr(slot);
  store<u32>(header(H_FRAME_COUNT), 0);
  const echo = C.mode == MODE_ECHO;
  if (!echo && word(s, W_HOLD) != 0) return R_DONE;
  const err = word(s, W_ERROR);
  if (err != 0) return -(<i32>err);
  // No rx ring (idle, shrink()): nothing buffered to decode; a relay's frame in progress waits in W_CUT_*.
  if (rxLog(s) == 0) return R_DONE;
  if (C.framing == FRAMING_WEBSOCKET) {
    let r = wsProcess(s, wsAddr(slot));
    if (r < 0) failed(s, -r, wsErrorSize);
    store<u32>(header(H_FRAME_COUNT), wsListed);
    count(S_FRAMES_IN, wsListed);
    if (r == R_DONE && !growForFrame(s, wsNeed)) { r = R_NO_MEMORY; noMemory(); }
    return r;
  }
  // Echo forwards each whole frame to a tx ring: its own slot's, or its peer's (a relay,
  // which cuts frames through: see the header; done and left are W_CUT_DONE and W_CUT_LEFT).
  const peer = word(s, W_PEER);
  const t = peer == 0 ? s : slotAddr(peer - 1);
  const relay = echo && peer != 0;
  const txTop = relay ? relayTxLog : txTopLog;
  let done: u32 = relay ? word(s, W_CUT_DONE) : 0, left: u32 = relay ? word(s, W_CUT_LEFT) : 0;
  let rxBase = word(s, W_RX_BASE);
  let rxSize = rxSizeOf(s);
  let txBase = word(t, W_TX_BASE), txSize = txSizeOf(t);
  let rxHead = word(s, W_RX_HEAD), txTail = word(t, W_TX_TAIL);
  // Where decoding starts: the tail in echo mode, the end of the listed frames in handler mode.
  let pos = echo ? word(s, W_RX_TAIL) : word(s, W_LISTED);
  let txHead = word(t, W_TX_HEAD), scan = word(s, W_SCAN);
  let frames: u32 = 0, framesIn: u32 = 0, bytesOut: u32 = 0, need: u32 = 0;
  let result = R_DONE;
  while (rxHead != pos) {
    const avail = rxHead - pos;
    let wire: u32 = 0, off: u32 = 0, len: u32 = 0;
    // A relay's piece of a frame (cut-through): it may go in parts, as the tx ring has room.
    let piece = false;
    // Length framings: the piece's frame's wire bytes from pos to its end (delimiter: 0).
    let rest: u32 = 0;
    if (C.framing == FRAMING_RAW) {
      // A raw frame is whatever has arrived: as much as the tx ring takes (echo),
      // or the contiguous run up to the ring's end (handler: never a copy).
      let room = echo ? txSize - (txHead - txTail) : rxSize - (pos & (rxSize - 1));
      if (echo && (avail > room || txWantsGrowth(t, txHead))) {
        if (!makeTxRoom(t, txHead, avail, txTop)) { result = R_NO_MEMORY; break; }
        txBase = word(t, W_TX_BASE); txSize = txSizeOf(t);
        room = txSize - (txHead - txTail);
      }
      wire = avail < room ? avail : room;
      len = wire;
      if (wire == 0) { result = R_BLOCKED; break; }
    } else if (left != 0) {
      // The rest of a length-framed frame in progress: what of it has arrived.
      rest = left;
      wire = avail < rest ? avail : rest;
      len = wire;
      piece = true;
    } else {
      const r = decode(rxBase, rxSize, pos, avail, scan, done);
      if (r == 0) {
        scan = scanned;
        if (!relay) { need = frameWire; break; }
        // A relay cuts the frame through: all of it that came, once its header is
        // validated; for a delimiter, the bytes searched without finding it.
        if (C.framing == FRAMING_DELIMITER) wire = scan;
        else { rest = frameWire; wire = rest == 0 ? 0 : avail; }
        if (wire == 0) break;
        len = wire;
        piece = true;
      } else if (r < 0) {
        failed(s, <u32>(-r), tooLarge);
        tooLarge = 0;
        result = r;
        break;
      } else {
        wire = <u32>r; off = frameOff; len = frameLen;
      }
    }
    if (echo && !piece && wire >= HANDOFF_MIN && rxHead - pos - wire < wire && txHead == txTail && handOff(s, t, pos, wire, rxHead)) {
      // The frame left with its segment; decoding goes on in the new rx ring, from its start.
      rxBase = word(s, W_RX_BASE); rxSize = rxSizeOf(s); rxHead = word(s, W_RX_HEAD);
      txBase = word(t, W_TX_BASE); txSize = txSizeOf(t); txTail = pos;
      txHead = pos + wire;
      bytesOut += wire;
      pos = 0;
      scan = 0;
      framesIn++;
      continue;
    }
    if (echo) {
      if (wire > txSize - (txHead - txTail) || txWantsGrowth(t, txHead)) {
        if (!makeTxRoom(t, txHead, wire, txTop)) { result = R_NO_MEMORY; break; }
        txBase = word(t, W_TX_BASE); txSize = txSizeOf(t);
        const room = txSize - (txHead - txTail);
        if (wire > room) {
          if (!piece || room == 0) { result = R_BLOCKED; break; }
          wire = room;
        }
      }
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
    if (piece) {
      done += wire;
      if (rest == 0) { scan -= wire; continue; } // delimiter: the scan goes on from the new pos
      left = rest - wire;
      if (left != 0) continue;
    }
    // A frame is done (whole, or its last piece).
    done = 0;
    scan = 0;
    framesIn++;
  }
  if (echo) {
    if (pos == rxHead) { setWord(s, W_RX_HEAD, 0); pos = 0; scan = 0; }
    setWord(s, W_RX_TAIL, pos);
    if (relay) { setWord(s, W_CUT_DONE, done); setWord(s, W_CUT_LEFT, left); }
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
  if (result == R_DONE && !growForFrame(s, need)) result = R_NO_MEMORY;
  if (result == R_NO_MEMORY) noMemory();
  return result;
}

/** The slot's first error: number n (sticky), with its size or rule for the message, counted. */
function failed(s: u32, n: u32, size: u32): void {
  setWord(s, W_ERROR, n);
  setWord(s, W_ERROR_SIZE, size);
  count(S_ERRORS, 1);
  count(S_ERROR_BY_CODE + n, 1);
}

/**
 * After process() decoded all it could: a ring full of one incomplete frame must grow
 * for the connection to go on; one whose header says it needs `need` bytes grows now,
 * to that size (short of pool, it waits until the ring is full to count as exhausted:
 * a ring may come back meanwhile). False: it is full and the pool has nothing larger.
 */
function growForFrame(s: u32, need: u32): bool {
  const rxSize = rxSizeOf(s);
  if (rxSize >= C.rxSize || !rxMovable(s)) return true;
  const full = word(s, W_RX_HEAD) - word(s, W_RX_TAIL) == rxSize;
  return !((full || need > rxSize) && !growRx(s, need) && full);
}

/**
 * Make room in the tx ring for a frame with a len-byte payload. On SEND_OK the
 * host copies the payload to the tx position in W_RESERVED, then calls commit().
 */
export function reserve(slot: u32, len: u32, kind: u32): i32 {
  wsFrame(slot, kind, 0);
  const r = plan(len);
  if (r != SEND_OK) return r;
  const s = slotAddr(slot);
  const txHead = word(s, W_TX_HEAD);
  const wire = encPrefix + len + encTrailer;
  if (wire > txSizeOf(s) - (txHead - word(s, W_TX_TAIL)) || txWantsGrowth(s, txHead)) {
    if (!makeTxRoom(s, txHead, wire, txTopLog)) { noMemory(); return SEND_NO_MEMORY; }
    if (wire > txSizeOf(s) - (txHead - word(s, W_TX_TAIL))) return SEND_FULL;
  }
  setWord(s, W_RESERVED, txHead + encPrefix);
  return SEND_OK;
}

/**
 * send() of a payload already in this memory at addr (a frame view of an rx ring,
 * forwarded by a handler): reserve, copy and commit in one call instead of two
 * calls around a copy by the host. Returns SEND_*.
 */
export function sendFrom(slot: u32, addr: u32, len: u32, kind: u32, key: u32): i32 {
  const r = reserve(slot, len, kind);
  if (r != SEND_OK) return r;
  const s = slotAddr(slot);
  const base = word(s, W_TX_BASE), size = txSizeOf(s);
  const at = word(s, W_RESERVED) & (size - 1);
  const first = len < size - at ? len : size - at;
  memory.copy(base + at, addr, first);
  if (first < len) memory.copy(base, addr + first, len - first);
  return commit(slot, len, kind, key);
}

/**
 * Frame the payload placed after reserve(): write prefix and trailer, publish it:
 * SEND_OK, or SEND_DELIMITER (delimiter framing: the payload holds the delimiter),
 * and then nothing is published: the tx head stays where it was.
 */
export function commit(slot: u32, len: u32, kind: u32, key: u32): i32 {
  const s = slotAddr(slot);
  if (C.framing == FRAMING_WEBSOCKET) { wsFrame(slot, kind, key); plan(len); }
  const txHead = word(s, W_TX_HEAD);
  const mask = txSizeOf(s) - 1;
  if (C.framing == FRAMING_DELIMITER && delimiterIn(word(s, W_TX_BASE), mask, word(s, W_RESERVED), len, true)) return SEND_DELIMITER;
  encode(word(s, W_TX_BASE), mask, txHead, len);
  const wire = encPrefix + len + encTrailer;
  setWord(s, W_TX_HEAD, txHead + wire);
  count(S_FRAMES_OUT, 1);
  count(S_BYTES_OUT, wire);
  return SEND_OK;
}

/**
 * Make the tx ring large enough for a len-byte payload's frame after the bytes it
 * holds, moving them to the same positions in a larger ring (up to txSize). The
 * host calls it only while no write references the ring (every byte handed to the
 * kernel released): replies of one turn that outgrow a small ring then still leave
 * in one write. SEND_OK (the frame fits now), SEND_FULL (not even the largest ring
 * takes it after those bytes), SEND_NO_MEMORY, or what plan() refuses.
 */
export function growTx(slot: u32, len: u32): i32 {
  wsFrame(slot, WS_BINARY, 0);
  const r = plan(len);
  if (r != SEND_OK) return r;
  const s = slotAddr(slot);
  const head = word(s, W_TX_HEAD), tail = word(s, W_TX_TAIL);
  const need = head - tail + encPrefix + len + encTrailer;
  const k = txLog(s);
  const want = fitLog(need, txTopLog);
  if (want > k) {
    const seg = take(want);
    if (seg == 0) { noMemory(); return SEND_NO_MEMORY; }
    if (k != 0) {
      ringToRing(word(s, W_TX_BASE), <u32>1 << k, tail, seg, <u32>1 << want, tail, head - tail);
      give(word(s, W_TX_BASE), k);
    }
    setWord(s, W_TX_BASE, seg);
    setRings(s, rxLog(s), want, 0, rxWanted(s));
  }
  return need <= txSizeOf(s) ? SEND_OK : SEND_FULL;
}

/** What send() of a len-byte payload would say of its length, without writing: SEND_OK, SEND_BAD_LENGTH or SEND_TOO_LARGE. */
export function check(len: u32, kind: u32): i32 {
  // Of no slot: sized as a server's frame, unmasked.
  if (C.framing == FRAMING_WEBSOCKET) wsEncoding(kind, false, 0);
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

/**
 * Write the prefix of a frame for a len-byte payload: SEND_OK, SEND_FULL (no room
 * for it yet), SEND_BAD_LENGTH, or SEND_NO_MEMORY. A frame streamed through the
 * ring is larger than it: the ring grows to its largest first (while empty).
 */
export function beginFrame(slot: u32, len: u32, kind: u32, key: u32): i32 {
  wsFrame(slot, kind, key);
  const r = plan(len);
  if (r != SEND_OK && r != SEND_TOO_LARGE) return r;
  const s = slotAddr(slot);
  const txHead = word(s, W_TX_HEAD);
  if (!makeTxRoom(s, txHead, C.txSize, txTopLog)) { noMemory(); return SEND_NO_MEMORY; }
  if (encPrefix > txSizeOf(s) - (txHead - word(s, W_TX_TAIL))) return SEND_FULL;
  encodePrefix(word(s, W_TX_BASE), txSizeOf(s) - 1, txHead, len);
  setWord(s, W_TX_HEAD, txHead + encPrefix);
  if (C.framing == FRAMING_WEBSOCKET) {
    // The pieces putBytes() publishes are masked with this key (a client slot's), from payload offset 0.
    setWord(wsAddr(slot), W_WS_TX_KEY, key);
    setWord(wsAddr(slot), W_WS_TX_DONE, 0);
  }
  count(S_FRAMES_OUT, 1);
  count(S_BYTES_OUT, encPrefix);
  return SEND_OK;
}

/** The host wrote n payload bytes at the tx head (within the free room): publish them. */
export function putBytes(slot: u32, n: u32): void {
  const s = slotAddr(slot);
  if (C.framing == FRAMING_WEBSOCKET) {
    const w = wsAddr(slot), done = word(w, W_WS_TX_DONE);
    wsFrame(slot, WS_BINARY, word(w, W_WS_TX_KEY));
    wsMaskPayload(word(s, W_TX_BASE), txSizeOf(s), word(s, W_TX_HEAD), n, done);
    setWord(w, W_WS_TX_DONE, done + n);
  }
  setWord(s, W_TX_HEAD, word(s, W_TX_HEAD) + n);
  count(S_BYTES_OUT, n);
}

/** Write the trailer of a streamed frame: SEND_OK, or SEND_FULL until there is room for it. */
export function endFrame(slot: u32): i32 {
  const s = slotAddr(slot);
  const txHead = word(s, W_TX_HEAD);
  const n = trailerSize();
  if (n > txSizeOf(s) - (txHead - word(s, W_TX_TAIL))) return SEND_FULL;
  encodeTrailer(word(s, W_TX_BASE), txSizeOf(s) - 1, txHead);
  setWord(s, W_TX_HEAD, txHead + n);
  count(S_BYTES_OUT, n);
  return SEND_OK;
}

// ---- fan-out: a batch of frames encoded once and copied into many tx rings ----
// The host stages the batch in a pool segment (stage()): n u32 slot indexes, then
// the payload records (u32 length, the payload, padding to 4 bytes). fanout()
// encodes the records once into a segment of its own, copies the encoded bytes
// into each slot's tx ring (one or two memory.copy calls per slot when the ring
// has room), and gives that segment back. A slot's ring takes whole frames from
// the first, in order, as many as fit after what it holds (an empty ring grows to
// fit the batch first, as for a send); fanout() writes in the slot's list entry
// how many it took, and the host queues the rest, or drops the slot, by its
// slow-consumer policy, so frames never leave out of order.

/** Bytes a payload record of len bytes takes in the stage: its length word, its bytes, padding to 4. */
@inline function recordSize(len: u32): u32 { return (4 + len + 3) & ~3; }

/**
 * The staging segment, of at least `bytes` (taken from the pool, kept for the next
 * batches until one needs more; what it held is not kept when it is replaced): its
 * address, or 0 when the pool has none that large. stage(0) gives it back.
 */
export function stage(bytes: u32): u32 {
  let at = load<u32>(header(H_STAGE));
  const k = load<u32>(header(H_STAGE_LOG));
  if (at != 0 && bytes != 0 && bytes <= (<u32>1 << k)) return at;
  if (at != 0) give(at, k);
  store<u32>(header(H_STAGE), 0);
  store<u32>(header(H_STAGE_LOG), 0);
  if (bytes == 0 || bytes > (<u32>1 << topLog)) return 0;
  const want = fitLog(bytes, topLog);
  at = take(want);
  if (at == 0) return 0;
  store<u32>(header(H_STAGE), at);
  store<u32>(header(H_STAGE_LOG), want);
  return at;
}

/**
 * The staged batch (n slot indexes, then len bytes of payload records) into the
 * slots' tx rings, see above. Returns how many records it encoded: all of them, or
 * those before the first that send() would not put in a ring as it is (SEND_* other
 * than SEND_OK, a delimiter in the payload) or that would take the encoded batch
 * past the largest segment; 0 with nothing staged or no segment for the encoding
 * (then every entry is 0: the host sends them one by one).
 */
export function fanout(n: u32, len: u32): i32 {
  const list = load<u32>(header(H_STAGE));
  if (list == 0) return 0;
  // WebSocket: binary server frames, unmasked (fan-out is a server's).
  if (C.framing == FRAMING_WEBSOCKET) wsEncoding(WS_BINARY, false, 0);
  const first = list + n * 4, end = first + len;
  // The frames to encode, and the bytes they take encoded.
  let frames: u32 = 0, total: u32 = 0;
  for (let p = first; end - p >= 4;) {
    const l = load<u32>(p);
    if (l > end - p - 4 || plan(l) != SEND_OK) break;
    if (C.framing == FRAMING_DELIMITER && delimiterIn(p + 4, 0x7fffffff, 0, l, true)) break;
    const wire = encPrefix + l + encTrailer;
    if (wire > (<u32>1 << topLog) - total) break;
    total += wire;
    frames++;
    p += recordSize(l);
  }
  const k = frames == 0 ? 0 : fitLog(total, topLog);
  const enc = frames == 0 ? 0 : take(k);
  if (enc == 0) {
    for (let i: u32 = 0; i < n; i++) store<u32>(list + i * 4, 0);
    return 0;
  }
  // Encoded once: each payload after its prefix, then the prefix and trailer around it.
  for (let i: u32 = 0, p = first, q: u32 = 0; i < frames; i++) {
    const l = load<u32>(p);
    plan(l);
    memory.copy(enc + q + encPrefix, p + 4, l);
    encode(enc, 0x7fffffff, q, l);
    q += encPrefix + l + encTrailer;
    p += recordSize(l);
  }
  let framesOut: u32 = 0, bytesOut: u32 = 0;
  for (let i: u32 = 0; i < n; i++) {
    const slot = load<u32>(list + i * 4);
    let took: u32 = 0, bytes: u32 = 0;
    const t = slotAddr(slot);
    if (slot < C.slots && word(t, W_STATE) != 0) {
      const head = word(t, W_TX_HEAD);
      // Short of pool, the ring stays as it is (or none): the host's send() of the rest says SEND_NO_MEMORY.
      if (total > txSizeOf(t) - (head - word(t, W_TX_TAIL)) || txWantsGrowth(t, head)) makeTxRoom(t, head, total, txTopLog);
      const room = txSizeOf(t) - (head - word(t, W_TX_TAIL));
      if (total <= room) {
        took = frames;
        bytes = total;
      } else {
        for (let p = first; took < frames; took++) {
          const l = load<u32>(p);
          plan(l);
          const wire = encPrefix + l + encTrailer;
          if (wire > room - bytes) break;
          bytes += wire;
          p += recordSize(l);
        }
      }
      if (bytes != 0) {
        ringToRing(enc, <u32>1 << k, 0, word(t, W_TX_BASE), txSizeOf(t), head, bytes);
        setWord(t, W_TX_HEAD, head + bytes);
      }
    }
    store<u32>(list + i * 4, took);
    framesOut += took;
    bytesOut += bytes;
  }
  give(enc, k);
  count(S_FRAMES_OUT, framesOut);
  count(S_BYTES_OUT, bytesOut);
  return <i32>frames;
}

/** Does nothing and returns x: what one call across the JS–WASM boundary costs, for the benchmarks. */
export function nop(x: i32): i32 {
  return x;
}
