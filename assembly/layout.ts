// The memory layout of one core instance: defined here, once. src/core/layout.ts
// mirrors it and test/contract.test.ts proves the two agree.
//
//   0 ............ LAYOUT_BASE   AssemblyScript static data (never touched by us)
//   HEADER         config and layout offsets, u32 words (HEADER_SIZE bytes)
//   STATS          i64 counters, atomically updated (STATS_SIZE bytes)
//   FRAMES         frame list: (address, length, end position) u32 triples for the host
//   SLOTS          per-connection state, SLOT_SIZE bytes each
//   RINGS          per connection: rx ring, rx pad, tx ring (ring sizes are powers of two)
//
// The rx pad (handler mode only, RX_PAD bytes, at least the longest frame) sits
// right after the rx ring: a listed frame that wraps the ring's end gets its
// wrapped part copied there, so every listed frame is one contiguous view that
// lives beside its own connection and stays valid until the host consumes it.
//
// Every region starts on a 64-byte boundary. The memory is sized once from the
// limits (layoutSize) and never grows.

export const LAYOUT_BASE: u32 = 4096;
export const LAYOUT_VERSION: u32 = 2;
export const MAGIC: u32 = 0x31525752; // "RWR1" little-endian

// Header words (index * 4 from LAYOUT_BASE).
export const H_MAGIC: u32 = 0;
export const H_VERSION: u32 = 1;
export const H_SLOTS: u32 = 2;
export const H_RX_SIZE: u32 = 3;
export const H_TX_SIZE: u32 = 4;
export const H_FRAMING: u32 = 5;
export const H_MODE: u32 = 6;
export const H_MAX_FRAME: u32 = 7;
export const H_LEN_OFFSET: u32 = 8;
export const H_LEN_SIZE: u32 = 9;
export const H_LEN_BIG: u32 = 10;
export const H_LEN_ADJUST: u32 = 11;
export const H_LEN_STRIP: u32 = 12;
export const H_FIXED: u32 = 13;
export const H_DELIM_LEN: u32 = 14;
export const H_STRIP_CR: u32 = 15;
export const H_DELIM: u32 = 16; // 4 words = up to 16 delimiter bytes
export const H_FRAME_CAP: u32 = 20;
export const H_FRAME_COUNT: u32 = 21;
export const H_STATS_OFF: u32 = 22;
export const H_FRAMES_OFF: u32 = 23;
export const H_RX_PAD: u32 = 24; // bytes after each rx ring for wrapped frames (handler mode)
export const H_SLOTS_OFF: u32 = 25;
export const H_RINGS_OFF: u32 = 26;
export const H_TOTAL: u32 = 27;
export const H_FREE_HEAD: u32 = 28;
export const H_OPEN: u32 = 29;
export const HEADER_SIZE: u32 = 128;
export const DELIM_MAX: u32 = 16;

// Stats counters (i64 index * 8 from the stats offset).
export const S_CONNECTIONS: u32 = 0; // open now (gauge)
export const S_ACCEPTED: u32 = 1;
export const S_BYTES_IN: u32 = 2;
export const S_BYTES_OUT: u32 = 3;
export const S_FRAMES_IN: u32 = 4;
export const S_FRAMES_OUT: u32 = 5;
export const S_PAUSES: u32 = 6;
export const S_ERRORS: u32 = 7;
export const S_ERROR_BY_CODE: u32 = 8; // 16 counters, one per error code
export const STATS_COUNT: u32 = 24;
export const STATS_SIZE: u32 = 192;

// Slot words (index * 4 from the slot's offset). Positions are free-running u32
// counters: used = head - tail (mod 2^32), the offset in the ring is pos & mask.
//   rx: the host (Node's read) moves RX_HEAD via received(); in echo mode the core
//       moves RX_TAIL, in handler mode the host does (see W_LISTED).
//   tx: the core moves TX_HEAD (encode); the host moves TX_TAIL (release) once the
//       kernel has the bytes. When a ring empties its positions reset to 0, so the
//       common case reads into and writes from the start of the ring.
export const W_STATE: u32 = 0; // 0 free, 1 open
export const W_RX_HEAD: u32 = 1;
export const W_RX_TAIL: u32 = 2;
export const W_TX_HEAD: u32 = 3;
export const W_TX_TAIL: u32 = 4;
export const W_SCAN: u32 = 5; // delimiter framing: bytes past RX_TAIL already searched
export const W_ERROR: u32 = 6; // first error code seen, sticky
export const W_NEXT_FREE: u32 = 7; // free list link (slot index + 1, 0 = end)
export const W_RX_BASE: u32 = 8; // absolute offset of the rx ring
export const W_TX_BASE: u32 = 9; // absolute offset of the tx ring
export const W_RESERVED: u32 = 10; // send(): where the reserved payload starts (tx position)
// Handler mode: the core lists frames from W_LISTED and never moves RX_TAIL; the
// host moves RX_TAIL (consume) once the handler is done with them, so a frame's
// bytes stay put while an async handler holds it. While W_HOLD is set (a handler
// is pending) process() lists nothing: reads still land in the ring.
export const W_LISTED: u32 = 11;
export const W_HOLD: u32 = 12;
export const SLOT_SIZE: u32 = 64;

// Framing kinds and modes.
export const FRAMING_RAW: u32 = 0;
export const FRAMING_LENGTH: u32 = 1;
export const FRAMING_VARINT: u32 = 2;
export const FRAMING_DELIMITER: u32 = 3;
export const FRAMING_FIXED: u32 = 4;
export const MODE_ECHO: u32 = 0;
export const MODE_HANDLER: u32 = 1;

// Error codes (W_ERROR, process() results as negatives, stats by code).
export const E_FRAME_TOO_LARGE: u32 = 1;
export const E_BAD_LENGTH: u32 = 2;

// Frame list entries: u32 words each (address, length, rx position after the frame).
export const FRAME_WORDS: u32 = 3;

// process() results.
export const R_DONE: i32 = 0; // every whole frame handled
export const R_BLOCKED: i32 = 1; // the tx ring cannot take the next reply
export const R_MORE: i32 = 2; // the frame list is full: deliver it, call process() again

// reserve() results.
export const SEND_OK: i32 = 0;
export const SEND_FULL: i32 = 1; // no room in the tx ring now: try again after it drains
export const SEND_BAD_LENGTH: i32 = 2; // the payload cannot be encoded with this framing
export const SEND_TOO_LARGE: i32 = 3; // the encoded frame is larger than the whole tx ring

@inline export function align64(n: u32): u32 {
  return (n + 63) & ~63;
}

/** Bytes of memory a core needs for these limits, from address 0. */
export function layoutSize(slots: u32, rxSize: u32, txSize: u32, rxPad: u32, frameCap: u32): f64 {
  return <f64>statsOffset() + <f64>STATS_SIZE + <f64>align64(frameCap * FRAME_WORDS * 4) +
    <f64>slots * <f64>SLOT_SIZE + <f64>slots * (<f64>rxSize + <f64>rxPad + <f64>txSize);
}

@inline export function statsOffset(): u32 {
  return LAYOUT_BASE + HEADER_SIZE;
}
