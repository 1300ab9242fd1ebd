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
//   WS             websocket framing only: per-connection websocket state, WS_SLOT_SIZE bytes each
//   POOL           the ring pool's table: POOL_CLASSES free-list heads (u32), then
//                  one byte per minRing of the arena (assembly/pool.ts)
//   ARENA          the pool's segments, 4096-aligned: rings come from here on demand
//
// A ring is a segment of the arena, a power of two from minRing up to the largest
// ring (rxSize, txSize). In handler mode an rx ring's segment is twice the ring: the
// second half is its pad, where a listed frame that wraps the ring's end gets its
// wrapped part copied, so every listed frame is one contiguous view that lives
// beside its own connection and stays valid until the host consumes it.
// Every region starts on a 64-byte boundary. The memory is sized once, from
// `total`, and never grows: the arena is the bound on rings (maxMemory).

import { FRAME_WORDS, HEADER_SIZE, LAYOUT_BASE, POOL_CLASSES, SLOT_SIZE, STATS_SIZE, WS_SLOT_SIZE } from './contract.ts';

export * from './contract.ts';

export const align64 = (n: number): number => Math.ceil(n / 64) * 64;

/** A WebAssembly page: both cores' memories are whole pages. */
export const PAGE_SIZE = 65536;

/** Where each region starts, for a core with these limits. */
export interface Regions {
  stats: number;
  frames: number;
  slots: number;
  /** The websocket words of the slots (websocket framing; else 0). */
  ws: number;
  /** The pool's table: free-list heads, then the map of free segments. */
  pool: number;
  arena: number;
  /** Bytes of segments in the arena. */
  arenaSize: number;
  /** Bytes of memory needed from address 0. */
  total: number;
}

/** The one formula for the regions (see the diagram above). */
export function regionsFor(slots: number, frameCap: number, minRing: number, arenaSize: number, websocket = false): Regions {
  const stats = LAYOUT_BASE + HEADER_SIZE;
  const frames = stats + align64(STATS_SIZE);
  const slotTable = frames + align64(frameCap * FRAME_WORDS * 4);
  const wsTable = slotTable + slots * SLOT_SIZE;
  const pool = wsTable + (websocket ? align64(slots * WS_SLOT_SIZE) : 0);
  const arena = Math.ceil((pool + POOL_CLASSES * 4 + arenaSize / minRing) / 4096) * 4096;
  return { stats, frames, slots: slotTable, ws: websocket ? wsTable : 0, pool, arena, arenaSize, total: arena + arenaSize };
}
