// The memory layout of one core, host side: the contract's constants (generated
// into contract.ts from contract/core-contract.ts, re-exported here so the host
// has one place to import them from) and the one formula for where each region
// starts. The host writes the formula's results into the header (header.ts);
// both cores read them there at init() and never compute a region themselves.
//
//   0 ............ LAYOUT_BASE   AssemblyScript static data (never touched by us)
//   HEADER         configuration words, then the core's state words
//   STATS          i64 counters, updated atomically (STATS_SIZE bytes)
//   FRAMES         frame list: FRAME_WORDS u32 words per entry, frameCap entries
//   SLOTS          per-connection state, SLOT_SIZE bytes each
//   RINGS          per connection: rx ring, rx pad, tx ring (ring sizes are powers of two)
//
// The rx pad (handler mode only: at least the longest frame, else 0) sits right
// after its rx ring: a listed frame that wraps the ring's end gets its wrapped
// part copied there, so every listed frame is one contiguous view that lives
// beside its own connection and stays valid until the host consumes it.
// Every region starts on a 64-byte boundary. The memory is sized once, from
// `total`, and never grows.

import { FRAME_WORDS, HEADER_SIZE, LAYOUT_BASE, SLOT_SIZE, STATS_SIZE } from './contract.ts';

export * from './contract.ts';

export const align64 = (n: number): number => Math.ceil(n / 64) * 64;

/** A WebAssembly page: both cores' memories are whole pages. */
export const PAGE_SIZE = 65536;

/** Where each region starts, for a core with these limits. */
export interface Regions {
  stats: number;
  frames: number;
  /** Bytes after each rx ring for frames that wrap it (handler mode), a multiple of 64. */
  rxPad: number;
  slots: number;
  rings: number;
  /** Bytes of memory needed from address 0. */
  total: number;
}

/** The one formula for the regions (see the diagram above). */
export function regionsFor(slots: number, rx: number, tx: number, rxPad: number, frameCap: number): Regions {
  const stats = LAYOUT_BASE + HEADER_SIZE;
  const frames = stats + align64(STATS_SIZE);
  const slotTable = frames + align64(frameCap * FRAME_WORDS * 4);
  const rings = slotTable + slots * SLOT_SIZE;
  return { stats, frames, rxPad, slots: slotTable, rings, total: rings + slots * (rx + rxPad + tx) };
}
