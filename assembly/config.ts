// GENERATED from contract/core-contract.ts by scripts/generate-contract.ts (npm run build): do not edit.
// The core's configuration: the header words the host wrote, read once by
// loadConfig() (init() calls it) into globals for the hot path, never written
// after. A bytes field is held as the address of its bytes in the header.

import { LAYOUT_BASE, H_MAGIC, H_VERSION, H_SLOTS, H_RX_SIZE, H_TX_SIZE, H_MIN_RING, H_FRAMING, H_MODE, H_MAX_FRAME, H_LEN_OFFSET, H_LEN_SIZE, H_LEN_BIG, H_LEN_ADJUST, H_LEN_STRIP, H_FIXED, H_DELIM_LEN, H_STRIP_CR, H_DELIM, H_FRAME_CAP, H_STATS_OFF, H_FRAMES_OFF, H_SLOTS_OFF, H_POOL_OFF, H_ARENA_OFF, H_ARENA_SIZE, H_TOTAL, H_WS_OFF } from "./contract";

/** MAGIC once the host wrote the header */
export let magic: u32 = 0;
/** LAYOUT_VERSION the host was built with */
export let version: u32 = 0;
/** connection slots */
export let slots: u32 = 0;
/** the largest rx ring a slot grows to, bytes, a power of two */
export let rxSize: u32 = 0;
/** the largest tx ring a slot grows to, bytes, a power of two */
export let txSize: u32 = 0;
/** the smallest ring and pool segment, bytes, a power of two (at least 16) */
export let minRing: u32 = 0;
/** FRAMING_* */
export let framing: u32 = 0;
/** MODE_* */
export let mode: u32 = 0;
/** largest payload (see assembly/framing.ts for what counts) */
export let maxFrame: u32 = 0;
/** length framing: bytes before the length field */
export let lenOffset: u32 = 0;
/** length framing: field width, 1 2 3 4 or 8 */
export let lenSize: u32 = 0;
/** length framing: big-endian field */
export let lenBig: bool = false;
/** length framing: added to the field to get the bytes after it */
export let lenAdjust: i32 = 0;
/** length framing: bytes dropped from the front of each frame */
export let lenStrip: u32 = 0;
/** fixed framing: frame length */
export let fixed: u32 = 0;
/** delimiter framing: delimiter bytes, 1 to DELIM_MAX */
export let delimLen: u32 = 0;
/** delimiter framing: drop a \r before the delimiter */
export let stripCR: bool = false;
/** delimiter framing: the delimiter bytes (their address) */
export let delim: u32 = 0;
/** handler mode: entries in the frame list */
export let frameCap: u32 = 0;
/** where the stats block starts */
export let statsOff: u32 = 0;
/** where the frame list starts */
export let framesOff: u32 = 0;
/** where the slot table starts */
export let slotsOff: u32 = 0;
/** where the pool table starts: POOL_CLASSES free-list heads, then one byte per minRing of the arena */
export let poolOff: u32 = 0;
/** where the pool's segments start (4096-aligned) */
export let arenaOff: u32 = 0;
/** bytes of segments: a whole number of the largest segment (maxMemory, rounded down) */
export let arenaSize: u32 = 0;
/** bytes of memory the layout needs from address 0 */
export let total: u32 = 0;
/** websocket framing: where the websocket slot words start, WS_SLOT_SIZE bytes a slot (0: another framing) */
export let wsOff: u32 = 0;

/** Read every configuration word of the header into the globals above. */
export function loadConfig(): void {
  magic = load<u32>(LAYOUT_BASE + H_MAGIC * 4);
  version = load<u32>(LAYOUT_BASE + H_VERSION * 4);
  slots = load<u32>(LAYOUT_BASE + H_SLOTS * 4);
  rxSize = load<u32>(LAYOUT_BASE + H_RX_SIZE * 4);
  txSize = load<u32>(LAYOUT_BASE + H_TX_SIZE * 4);
  minRing = load<u32>(LAYOUT_BASE + H_MIN_RING * 4);
  framing = load<u32>(LAYOUT_BASE + H_FRAMING * 4);
  mode = load<u32>(LAYOUT_BASE + H_MODE * 4);
  maxFrame = load<u32>(LAYOUT_BASE + H_MAX_FRAME * 4);
  lenOffset = load<u32>(LAYOUT_BASE + H_LEN_OFFSET * 4);
  lenSize = load<u32>(LAYOUT_BASE + H_LEN_SIZE * 4);
  lenBig = load<u32>(LAYOUT_BASE + H_LEN_BIG * 4) != 0;
  lenAdjust = load<i32>(LAYOUT_BASE + H_LEN_ADJUST * 4);
  lenStrip = load<u32>(LAYOUT_BASE + H_LEN_STRIP * 4);
  fixed = load<u32>(LAYOUT_BASE + H_FIXED * 4);
  delimLen = load<u32>(LAYOUT_BASE + H_DELIM_LEN * 4);
  stripCR = load<u32>(LAYOUT_BASE + H_STRIP_CR * 4) != 0;
  delim = LAYOUT_BASE + H_DELIM * 4;
  frameCap = load<u32>(LAYOUT_BASE + H_FRAME_CAP * 4);
  statsOff = load<u32>(LAYOUT_BASE + H_STATS_OFF * 4);
  framesOff = load<u32>(LAYOUT_BASE + H_FRAMES_OFF * 4);
  slotsOff = load<u32>(LAYOUT_BASE + H_SLOTS_OFF * 4);
  poolOff = load<u32>(LAYOUT_BASE + H_POOL_OFF * 4);
  arenaOff = load<u32>(LAYOUT_BASE + H_ARENA_OFF * 4);
  arenaSize = load<u32>(LAYOUT_BASE + H_ARENA_SIZE * 4);
  total = load<u32>(LAYOUT_BASE + H_TOTAL * 4);
  wsOff = load<u32>(LAYOUT_BASE + H_WS_OFF * 4);
}
