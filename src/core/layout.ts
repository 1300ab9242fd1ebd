// The TypeScript mirror of assembly/layout.ts: the same constants and the same
// size formula. test/contract.test.ts checks every constant the WASM module
// exports against this file, and every core checks the header it finds after
// init() against regionsFor(). Change the two files together.

export const LAYOUT_BASE = 4096;
export const LAYOUT_VERSION = 2;
export const MAGIC = 0x31525752;

export const H_MAGIC = 0;
export const H_VERSION = 1;
export const H_SLOTS = 2;
export const H_RX_SIZE = 3;
export const H_TX_SIZE = 4;
export const H_FRAMING = 5;
export const H_MODE = 6;
export const H_MAX_FRAME = 7;
export const H_LEN_OFFSET = 8;
export const H_LEN_SIZE = 9;
export const H_LEN_BIG = 10;
export const H_LEN_ADJUST = 11;
export const H_LEN_STRIP = 12;
export const H_FIXED = 13;
export const H_DELIM_LEN = 14;
export const H_STRIP_CR = 15;
export const H_DELIM = 16;
export const H_FRAME_CAP = 20;
export const H_FRAME_COUNT = 21;
export const H_STATS_OFF = 22;
export const H_FRAMES_OFF = 23;
export const H_RX_PAD = 24;
export const H_SLOTS_OFF = 25;
export const H_RINGS_OFF = 26;
export const H_TOTAL = 27;
export const H_FREE_HEAD = 28;
export const H_OPEN = 29;
export const HEADER_SIZE = 128;
export const DELIM_MAX = 16;

export const S_CONNECTIONS = 0;
export const S_ACCEPTED = 1;
export const S_BYTES_IN = 2;
export const S_BYTES_OUT = 3;
export const S_FRAMES_IN = 4;
export const S_FRAMES_OUT = 5;
export const S_PAUSES = 6;
export const S_ERRORS = 7;
export const S_ERROR_BY_CODE = 8;
export const STATS_COUNT = 24;
export const STATS_SIZE = 192;

export const W_STATE = 0;
export const W_RX_HEAD = 1;
export const W_RX_TAIL = 2;
export const W_TX_HEAD = 3;
export const W_TX_TAIL = 4;
export const W_SCAN = 5;
export const W_ERROR = 6;
export const W_NEXT_FREE = 7;
export const W_RX_BASE = 8;
export const W_TX_BASE = 9;
export const W_RESERVED = 10;
export const W_LISTED = 11;
export const W_HOLD = 12;
export const SLOT_SIZE = 64;

export const FRAMING_RAW = 0;
export const FRAMING_LENGTH = 1;
export const FRAMING_VARINT = 2;
export const FRAMING_DELIMITER = 3;
export const FRAMING_FIXED = 4;
export const MODE_ECHO = 0;
export const MODE_HANDLER = 1;

export const E_FRAME_TOO_LARGE = 1;
export const E_BAD_LENGTH = 2;

export const FRAME_WORDS = 3;

export const R_DONE = 0;
export const R_BLOCKED = 1;
export const R_MORE = 2;

export const SEND_OK = 0;
export const SEND_FULL = 1;
export const SEND_BAD_LENGTH = 2;
export const SEND_TOO_LARGE = 3;

export const align64 = (n: number): number => Math.ceil(n / 64) * 64;

/** Where each region starts, for a core with these limits. */
export interface Regions {
  stats: number;
  frames: number;
  /** Bytes after each rx ring for frames that wrap it (handler mode), a multiple of 64. */
  rxPad: number;
  slots: number;
  rings: number;
  total: number;
}

export function regionsFor(slots: number, rx: number, tx: number, rxPad: number, frameCap: number): Regions {
  const stats = LAYOUT_BASE + HEADER_SIZE;
  const frames = stats + STATS_SIZE;
  const slotTable = frames + align64(frameCap * FRAME_WORDS * 4);
  const rings = slotTable + slots * SLOT_SIZE;
  return { stats, frames, rxPad, slots: slotTable, rings, total: rings + slots * (rx + rxPad + tx) };
}
