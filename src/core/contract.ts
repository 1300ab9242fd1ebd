// GENERATED from contract/core-contract.ts by scripts/generate-contract.ts (npm run build): do not edit.
// The TypeScript side of the core's contract: the same constants as
// assembly/contract.ts, and the header's configuration words as one typed
// object. readHeaderConfig() is the twin of loadConfig() in assembly/config.ts.
// Words are little-endian, as WebAssembly memory is on every host.

// Sizes and markers
/** where the header starts; AssemblyScript static data lives below it (init checks) */
export const LAYOUT_BASE = 4096;
/** bumped whenever a word moves or changes meaning */
export const LAYOUT_VERSION = 10;
/** "RWR1" little-endian: the host wrote a header */
export const MAGIC = 0x31525752;
/** bytes reserved for the header (config words, then state words) */
export const HEADER_SIZE = 256;
/** bytes per slot: one cache line */
export const SLOT_SIZE = 64;
/** check() copies a payload that is not in the core's memory here, SCRATCH_SIZE bytes at a time, to scan it: below LAYOUT_BASE, above the module's static data (init checks) */
export const SCRATCH_BASE = 3072;
/** bytes at SCRATCH_BASE */
export const SCRATCH_SIZE = 1024;
/** echo mode: a frame of at least this many bytes, followed in the rx ring by fewer bytes than its own, that finds its tx ring empty is handed over with its segment (the segment becomes the tx ring) instead of copied: a copy into pages never touched before costs tens of µs a page on a VM */
export const HANDOFF_MIN = 1048576;
/** free-list heads in the pool table, one per log2 of a segment size (only minRing to the largest segment are used) */
export const POOL_CLASSES = 32;
/** a relay's rings (echo mode, W_PEER set) grow for throughput up to this, or to rxSize/txSize if smaller, never to the frame: its frames are cut through (W_CUT_DONE) */
export const RELAY_RING = 65536;
/** open() returns it negated: every slot is in use */
export const OPEN_NO_SLOT = 1;
/** open() returns it negated: the pool cannot supply the smallest rx ring (ERR_MEMORY_EXHAUSTED; takeRx() says R_NO_MEMORY) */
export const OPEN_NO_MEMORY = 2;
/** bytes of websocket words per slot (the W_WS_* words) */
export const WS_SLOT_SIZE = 32;
/** the longest frame header: 2 bytes, 8 of extended length, 4 of mask key */
export const WS_HEADER_MAX = 14;
/** the longest control frame payload (ping, pong, close) */
export const WS_CONTROL_MAX = 125;
/** opcode: a continuation frame (never an entry's kind) */
export const WS_CONTINUATION = 0;
/** opcode: a text message (UTF-8, checked by the core) */
export const WS_TEXT = 1;
/** opcode: a binary message */
export const WS_BINARY = 2;
/** opcode: close (payload: nothing, or a u16 big-endian code and a UTF-8 reason, both checked by the core) */
export const WS_CLOSE = 8;
/** opcode: ping */
export const WS_PING = 9;
/** opcode: pong */
export const WS_PONG = 10;
/** W_WS_FLAGS: the slot is a client connection (the host sets it after open()): frames from the peer must not be masked, frames sent are masked */
export const WS_FLAG_CLIENT = 1;
/** W_WS_FLAGS: a close frame was listed: the core lists nothing after it */
export const WS_FLAG_CLOSED = 2;
/** W_WS_FLAGS: bits 4-7, the open message's opcode (0: none open) */
export const WS_MESSAGE_SHIFT = 4;
/** W_WS_FLAGS: bits 8-15, the UTF-8 decoder's state after the text bytes checked so far (0: between characters) */
export const WS_UTF8_SHIFT = 8;

// Header: configuration words (u32 index from LAYOUT_BASE), written by the host before init()
/** MAGIC once the host wrote the header */
export const H_MAGIC = 0;
/** LAYOUT_VERSION the host was built with */
export const H_VERSION = 1;
/** connection slots */
export const H_SLOTS = 2;
/** the largest rx ring a slot grows to, bytes, a power of two */
export const H_RX_SIZE = 3;
/** the largest tx ring a slot grows to, bytes, a power of two */
export const H_TX_SIZE = 4;
/** the smallest ring and pool segment, bytes, a power of two (at least 16) */
export const H_MIN_RING = 5;
/** FRAMING_* */
export const H_FRAMING = 6;
/** MODE_* */
export const H_MODE = 7;
/** largest payload (see assembly/framing.ts for what counts) */
export const H_MAX_FRAME = 8;
/** length framing: bytes before the length field */
export const H_LEN_OFFSET = 9;
/** length framing: field width, 1 2 3 4 or 8 */
export const H_LEN_SIZE = 10;
/** length framing: big-endian field */
export const H_LEN_BIG = 11;
/** length framing: added to the field to get the bytes after it */
export const H_LEN_ADJUST = 12;
/** length framing: bytes dropped from the front of each frame */
export const H_LEN_STRIP = 13;
/** fixed framing: frame length */
export const H_FIXED = 14;
/** delimiter framing: delimiter bytes, 1 to DELIM_MAX */
export const H_DELIM_LEN = 15;
/** delimiter framing: drop a \r before the delimiter */
export const H_STRIP_CR = 16;
/** delimiter framing: the delimiter bytes */
export const H_DELIM = 17;
/** handler mode: entries in the frame list */
export const H_FRAME_CAP = 21;
/** where the stats block starts */
export const H_STATS_OFF = 22;
/** where the frame list starts */
export const H_FRAMES_OFF = 23;
/** where the slot table starts */
export const H_SLOTS_OFF = 24;
/** where the pool table starts: POOL_CLASSES free-list heads, then one byte per minRing of the arena */
export const H_POOL_OFF = 25;
/** where the pool's segments start (4096-aligned) */
export const H_ARENA_OFF = 26;
/** bytes of segments: a whole number of the largest segment (maxMemory, rounded down) */
export const H_ARENA_SIZE = 27;
/** bytes of memory the layout needs from address 0 */
export const H_TOTAL = 28;
/** websocket framing: where the websocket slot words start, WS_SLOT_SIZE bytes a slot (0: another framing) */
export const H_WS_OFF = 29;
/** words the configuration takes */
export const HEADER_CONFIG_WORDS = 30;
/** bytes H_DELIM holds */
export const DELIM_MAX = 16;

// Header: state words, kept by the core
/** handler mode: entries the last process() listed */
export const H_FRAME_COUNT = 30;
/** first free slot + 1 (0: none free) */
export const H_FREE_HEAD = 31;
/** slots in use */
export const H_OPEN = 32;
/** arena bytes ever split into segments: the rest is untouched, whole largest segments taken from here when no free list can serve */
export const H_POOL_BUMP = 33;
/** fan-out: address of the pool segment the host stages a batch in (stage(); 0: none) */
export const H_STAGE = 34;
/** fan-out: log2 of that segment's size (0: none) */
export const H_STAGE_LOG = 35;

// Stats counters (i64 index from the stats offset)
/** open now (a gauge: close() subtracts) */
export const S_CONNECTIONS = 0;
/** slots ever opened */
export const S_ACCEPTED = 1;
/** bytes received */
export const S_BYTES_IN = 2;
/** bytes put in tx rings (echoed or sent) */
export const S_BYTES_OUT = 3;
/** frames decoded (raw: runs of bytes) */
export const S_FRAMES_IN = 4;
/** frames put in tx rings */
export const S_FRAMES_OUT = 5;
/** times the host paused reading for backpressure */
export const S_PAUSES = 6;
/** errors, all codes */
export const S_ERRORS = 7;
/** errors by number (the errors list below) */
export const S_ERROR_BY_CODE = 8;
/** connections closed normally after the peer ended them (its FIN, no frame cut short) */
export const S_CLOSED_PEER = 72;
/** connections closed normally by this side: close() or destroy() from the application, an onConnection task that returned, a relay partner that closed */
export const S_CLOSED_LOCAL = 73;
/** connections closed normally by the server draining (close(), SIGTERM) */
export const S_CLOSED_DRAIN = 74;
/** connections closed by an error, by its number (refused connections never opened: not here) */
export const S_CLOSED_BY_ERROR = 75;
/** a gauge: how late this thread's last heartbeat tick ran, in microseconds (its event-loop lag) */
export const S_LOOP_LAG = 139;
/** microseconds the heartbeat ticks ran late, summed: time the event loop was blocked */
export const S_LOOP_BLOCKED = 140;
/** stalls: the event loop blocked longer than stallTimeout, counted once each */
export const S_STALLS = 141;
/** frames read but not answered when the drain timed out (their connections were reset: ERR_DRAIN_TIMEOUT) */
export const S_DRAIN_UNANSWERED = 142;
/** a gauge: slots whose socket is closed but whose handler still holds a frame view (freed when it settles) */
export const S_QUARANTINED = 143;
/** a gauge: bytes of the pool's arena in rings now */
export const S_POOL_BYTES = 144;
/** gauges: rings now taken from the pool, by log2 of their segment size */
export const S_POOL_SEGMENTS = 145;
/** times the pool could not supply a ring (a connection opening, reading after idling, or growing: ERR_MEMORY_EXHAUSTED) */
export const S_POOL_EXHAUSTED = 177;
/** i64 counters in the block */
export const STATS_COUNT = 178;
/** bytes of the block */
export const STATS_SIZE = 1424;

// Slot words (u32 index from the slot's address)
/** 0 free, 1 open */
export const W_STATE = 0;
/** end of the bytes received */
export const W_RX_HEAD = 1;
/** start of the bytes not yet consumed */
export const W_RX_TAIL = 2;
/** end of the bytes to send */
export const W_TX_HEAD = 3;
/** start of the bytes the kernel does not have yet */
export const W_TX_TAIL = 4;
/** delimiter framing: bytes past the frame start already searched */
export const W_SCAN = 5;
/** the first error number seen; sticky */
export const W_ERROR = 6;
/** free list link: next free slot + 1, 0 = end */
export const W_NEXT_FREE = 7;
/** send(): the tx position where the reserved payload starts */
export const W_RESERVED = 8;
/** handler mode: end of the frames listed so far (process() lists from here); echo mode: W_CUT_DONE (slotAliases) */
export const W_LISTED = 9;
/** handler mode: nonzero while a handler is pending; process() lists nothing; echo mode: W_CUT_LEFT (slotAliases) */
export const W_HOLD = 10;
/** ERR_FRAME_TOO_LARGE in length framing: the payload length it declared (clamped to u32; 0: not known), for the message */
export const W_ERROR_SIZE = 11;
/** echo mode: the slot + 1 whose tx ring takes this slot's frames (0: its own, the echo) */
export const W_PEER = 12;
/** address of the rx ring's segment (handler mode: the ring, then as many bytes of pad where a wrapped frame continues; 0: none, the slot is idle) */
export const W_RX_BASE = 13;
/** address of the tx ring's segment (0: none yet) */
export const W_TX_BASE = 14;
/** log2 of the ring sizes, a byte each: rx (bits 0-7, 0: none), tx (8-15, 0: none), and the tx size a blocked send asked for (16-23), taken once the tx ring is empty; bit 24: a read filled the rx ring while a listed frame pinned it, so it grows at the next read that finds it free to move */
export const W_RINGS = 15;
/** echo mode, a relay: wire bytes of the frame in progress already forwarded (0: no frame in progress) (the word of W_LISTED) */
export const W_CUT_DONE = 9;
/** echo mode, a relay: length, varint and fixed framings: wire bytes of the frame in progress still to come (delimiter: 0, not known) (the word of W_HOLD) */
export const W_CUT_LEFT = 10;
/** the words open() clears: every word before the fixed ones */
export const SLOT_STATE_WORDS = 16;

// Frame list entries (u32 words each)
/** address of the payload: in the rx ring, or running on into its pad */
export const F_ADDR = 0;
/** payload bytes */
export const F_LEN = 1;
/** rx position just after the frame: what consume() takes */
export const F_END = 2;
/** websocket framing: what the entry is, its opcode (WS_TEXT, WS_BINARY: a whole message; WS_PING, WS_PONG, WS_CLOSE); 0 for other framings */
export const F_KIND = 3;
/** words per entry */
export const FRAME_WORDS = 4;

// Codes: framing
/** bytes as they arrive */
export const FRAMING_RAW = 0;
/** a length field */
export const FRAMING_LENGTH = 1;
/** an unsigned LEB128 prefix */
export const FRAMING_VARINT = 2;
/** ended by delimiter bytes */
export const FRAMING_DELIMITER = 3;
/** every frame the same length */
export const FRAMING_FIXED = 4;
/** RFC 6455 frames, messages reassembled (handler mode only; see the websocket words below) */
export const FRAMING_WEBSOCKET = 5;

// Codes: mode
/** the core echoes every frame into the tx ring */
export const MODE_ECHO = 0;
/** the core lists frames for the host's handler */
export const MODE_HANDLER = 1;

// Codes: process
/** every whole frame handled (negative results are error numbers) */
export const R_DONE = 0;
/** the tx ring cannot take the next echo: release, then process() again */
export const R_BLOCKED = 1;
/** the frame list is full: deliver it, then process() again */
export const R_MORE = 2;
/** the pool cannot supply the ring this slot needs to go on, or takeRx() the rx ring of an idle slot that read (ERR_MEMORY_EXHAUSTED): close it */
export const R_NO_MEMORY = 3;

// Codes: send
/** reserved (reserve) or sent (send) */
export const SEND_OK = 0;
/** no room in the tx ring now: try again after it drains */
export const SEND_FULL = 1;
/** the payload cannot be encoded with this framing */
export const SEND_BAD_LENGTH = 2;
/** the encoded frame is larger than the whole tx ring */
export const SEND_TOO_LARGE = 3;
/** delimiter framing: the payload holds the delimiter (or, stripping \r, ends in \r): the peer would not read it back as one frame */
export const SEND_DELIMITER = 4;
/** the tx ring must grow for this frame and the pool cannot supply it (ERR_MEMORY_EXHAUSTED) */
export const SEND_NO_MEMORY = 5;

// Codes: init
/** the core is ready */
export const INIT_OK = 0;
/** no header with this MAGIC and LAYOUT_VERSION */
export const INIT_NO_HEADER = 1;
/** the header's total is larger than the memory */
export const INIT_MEMORY_TOO_SMALL = 2;
/** the module's static data reaches LAYOUT_BASE */
export const INIT_STATIC_DATA = 3;
/** a header value the core cannot work with */
export const INIT_BAD_CONFIG = 4;

// Error numbers
/** ERR_RINGWIRE: unknown (found by the host) */
export const E_RINGWIRE = 0;
/** ERR_FRAME_TOO_LARGE: a frame over maxFrame (found by the core) */
export const E_FRAME_TOO_LARGE = 1;
/** ERR_BAD_LENGTH: a length prefix no valid frame has (found by the core) */
export const E_BAD_LENGTH = 2;
/** ERR_TOO_MANY_CONNECTIONS: every slot in use (found by the host) */
export const E_TOO_MANY_CONNECTIONS = 3;
/** ERR_IDLE_TIMEOUT: idle for too long (found by the host) */
export const E_IDLE_TIMEOUT = 4;
/** ERR_TRUNCATED_FRAME: the peer ended in the middle of a frame (found by the host) */
export const E_TRUNCATED_FRAME = 5;
/** ERR_REPLY_TOO_LARGE: a reply that cannot be encoded (found by the host) */
export const E_REPLY_TOO_LARGE = 6;
/** ERR_HANDLER: the frame handler threw (found by the host) */
export const E_HANDLER = 7;
/** ERR_SOCKET: socket error (found by the host) */
export const E_SOCKET = 8;
/** ERR_BAD_CONFIG: invalid configuration (found by the host) */
export const E_BAD_CONFIG = 9;
/** ERR_WORKER_EXIT: the worker thread serving the connection exited (found by the host) */
export const E_WORKER_EXIT = 10;
/** ERR_SLOW_CONSUMER: the peer does not take its replies (found by the host) */
export const E_SLOW_CONSUMER = 11;
/** ERR_FRAME_TIMEOUT: a frame did not complete within the frame timeout (found by the host) */
export const E_FRAME_TIMEOUT = 12;
/** ERR_TOO_SLOW: an incomplete frame arriving slower than the minimum rate (found by the host) */
export const E_TOO_SLOW = 13;
/** ERR_TOO_MANY_CONNECTIONS: refused by the per-address cap (its own counter, the same code) (found by the host) */
export const E_TOO_MANY_PER_IP = 14;
/** ERR_NO_DESCRIPTORS: an accept failed for lack of file descriptors (found by the host) */
export const E_NO_DESCRIPTORS = 15;
/** ERR_TLS: the TLS handshake or the TLS layer failed (found by the host) */
export const E_TLS = 16;
/** ERR_TLS: the TLS handshake did not finish within the handshake timeout (its own counter, the same code) (found by the host) */
export const E_TLS_TIMEOUT = 17;
/** ERR_PROXY_HEADER: a PROXY protocol header missing, garbled, oversized or not allowed (found by the host) */
export const E_PROXY_HEADER = 18;
/** ERR_PROXY_HEADER: no whole PROXY protocol header within the header timeout (its own counter, the same code) (found by the host) */
export const E_PROXY_TIMEOUT = 19;
/** ERR_EVICTED: closed at the connection limit to give its slot to a new connection: its incomplete frame arrived slowest, below the minimum rate (found by the host) */
export const E_EVICTED = 20;
/** ERR_DRAIN_TIMEOUT: the drain timed out with frames of the connection read but unanswered, or replies not yet delivered: it was reset (found by the host) */
export const E_DRAIN_TIMEOUT = 21;
/** ERR_DELIMITER_IN_PAYLOAD: send() of a payload its delimiter framing cannot carry as one frame (SEND_DELIMITER) (found by the host) */
export const E_DELIMITER_IN_PAYLOAD = 22;
/** ERR_HANDLER_TIMEOUT: a handler's promise did not settle within the handler timeout (found by the host) */
export const E_HANDLER_TIMEOUT = 23;
/** ERR_ASK_TIMEOUT: router.ask() got no answer within its timeout (found by the host) */
export const E_ASK_TIMEOUT = 24;
/** ERR_OWNER_GONE: router.ask() to a thread that is not serving, or that ended before it answered (found by the host) */
export const E_OWNER_GONE = 25;
/** ERR_ASK_FAILED: the owner's onAsk threw, rejected, answered no bytes, or is missing (found by the host) */
export const E_ASK_FAILED = 26;
/** ERR_MAILBOX_TIMEOUT: publishAsync() or sendToAsync() found no room in a mailbox within its timeout (found by the host) */
export const E_MAILBOX_TIMEOUT = 27;
/** ERR_MEMORY_EXHAUSTED: the ring pool (maxMemory) could not supply a connection's ring: opening (refused), reading again after idling or growing for a frame (closed); the cores say R_NO_MEMORY, SEND_NO_MEMORY or OPEN_NO_MEMORY (found by the host) */
export const E_MEMORY_EXHAUSTED = 28;
/** ERR_WEBSOCKET_PROTOCOL: a WebSocket frame that breaks RFC 6455 (close code 1002); errorSize() says which rule (WS_RULE_*) (found by the core) */
export const E_WEBSOCKET_PROTOCOL = 29;
/** ERR_WEBSOCKET_UTF8: a WebSocket text message or close reason that is not UTF-8 (close code 1007), found at its first bad byte (found by the core) */
export const E_WEBSOCKET_UTF8 = 30;
/** ERR_UPGRADE: websocket framing: not a valid WebSocket upgrade request (answered with a plain HTTP error: 400, 405, 426, 431, 505), refused by onUpgrade, or (a client) a server's answer that is not a valid 101 (found by the host) */
export const E_UPGRADE = 31;
/** ERR_UPGRADE: websocket framing: no whole upgrade (request, onUpgrade's answer, or a client's 101) within upgradeTimeout (its own counter, the same code) (found by the host) */
export const E_UPGRADE_TIMEOUT = 32;

// WebSocket slot words (u32 index from H_WS_OFF + slot * WS_SLOT_SIZE)
/** WS_FLAG_* bits, the open message's opcode and the UTF-8 state (see WS_*_SHIFT) */
export const W_WS_FLAGS = 0;
/** an open message: wire bytes from W_LISTED to the next frame's header (0: none open) */
export const W_WS_RAW = 1;
/** an open message: its payload bytes so far, compacted at W_LISTED */
export const W_WS_MSG = 2;
/** payload bytes of the frame in progress (incomplete) already unmasked in place and, for text, checked as UTF-8 */
export const W_WS_CHECKED = 3;
/** a frame streamed by beginFrame() on a client slot: its mask key */
export const W_WS_TX_KEY = 4;
/** that frame: payload bytes masked so far (putBytes) */
export const W_WS_TX_DONE = 5;
/** websocket words per slot, all cleared by open() */
export const WS_SLOT_WORDS = 6;

// WebSocket rules (errorSize() after ERR_WEBSOCKET_PROTOCOL)
/** not known */
export const WS_RULE_NONE = 0;
/** a frame from a client without a mask */
export const WS_RULE_UNMASKED = 1;
/** a frame from a server with a mask */
export const WS_RULE_MASKED = 2;
/** RSV1, RSV2 or RSV3 set: no extension was negotiated */
export const WS_RULE_RESERVED_BITS = 3;
/** a reserved opcode (3-7, 11-15) */
export const WS_RULE_OPCODE = 4;
/** a control frame with more than 125 bytes of payload */
export const WS_RULE_CONTROL_LENGTH = 5;
/** a control frame without FIN */
export const WS_RULE_CONTROL_FRAGMENTED = 6;
/** a continuation frame with no message open */
export const WS_RULE_NO_MESSAGE = 7;
/** a text or binary frame while a fragmented message is open */
export const WS_RULE_MESSAGE_OPEN = 8;
/** a 64-bit length with its top bit set */
export const WS_RULE_LENGTH = 9;
/** a close frame with one byte of payload */
export const WS_RULE_CLOSE_LENGTH = 10;
/** a close code no endpoint may send (below 1000, 1004-1006, 1015, 1016-2999, 5000 up) */
export const WS_RULE_CLOSE_CODE = 11;

/** Error constants' names by number (the index). */
export const ERROR_NAMES = ['E_RINGWIRE', 'E_FRAME_TOO_LARGE', 'E_BAD_LENGTH', 'E_TOO_MANY_CONNECTIONS', 'E_IDLE_TIMEOUT', 'E_TRUNCATED_FRAME', 'E_REPLY_TOO_LARGE', 'E_HANDLER', 'E_SOCKET', 'E_BAD_CONFIG', 'E_WORKER_EXIT', 'E_SLOW_CONSUMER', 'E_FRAME_TIMEOUT', 'E_TOO_SLOW', 'E_TOO_MANY_PER_IP', 'E_NO_DESCRIPTORS', 'E_TLS', 'E_TLS_TIMEOUT', 'E_PROXY_HEADER', 'E_PROXY_TIMEOUT', 'E_EVICTED', 'E_DRAIN_TIMEOUT', 'E_DELIMITER_IN_PAYLOAD', 'E_HANDLER_TIMEOUT', 'E_ASK_TIMEOUT', 'E_OWNER_GONE', 'E_ASK_FAILED', 'E_MAILBOX_TIMEOUT', 'E_MEMORY_EXHAUSTED', 'E_WEBSOCKET_PROTOCOL', 'E_WEBSOCKET_UTF8', 'E_UPGRADE', 'E_UPGRADE_TIMEOUT'] as const;
export type ErrorName = (typeof ERROR_NAMES)[number];
/** Error codes by number (the index); two numbers may share one. */
export const ERROR_CODES = ['ERR_RINGWIRE', 'ERR_FRAME_TOO_LARGE', 'ERR_BAD_LENGTH', 'ERR_TOO_MANY_CONNECTIONS', 'ERR_IDLE_TIMEOUT', 'ERR_TRUNCATED_FRAME', 'ERR_REPLY_TOO_LARGE', 'ERR_HANDLER', 'ERR_SOCKET', 'ERR_BAD_CONFIG', 'ERR_WORKER_EXIT', 'ERR_SLOW_CONSUMER', 'ERR_FRAME_TIMEOUT', 'ERR_TOO_SLOW', 'ERR_TOO_MANY_CONNECTIONS', 'ERR_NO_DESCRIPTORS', 'ERR_TLS', 'ERR_TLS', 'ERR_PROXY_HEADER', 'ERR_PROXY_HEADER', 'ERR_EVICTED', 'ERR_DRAIN_TIMEOUT', 'ERR_DELIMITER_IN_PAYLOAD', 'ERR_HANDLER_TIMEOUT', 'ERR_ASK_TIMEOUT', 'ERR_OWNER_GONE', 'ERR_ASK_FAILED', 'ERR_MAILBOX_TIMEOUT', 'ERR_MEMORY_EXHAUSTED', 'ERR_WEBSOCKET_PROTOCOL', 'ERR_WEBSOCKET_UTF8', 'ERR_UPGRADE', 'ERR_UPGRADE'] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];
/** Error numbers the cores find (and count themselves), by number (the index); the host counts the rest. */
export const ERROR_BY_CORE: readonly boolean[] = [false, true, true, false, false, false, false, false, false, false, false, false, false, false, false, false, false, false, false, false, false, false, false, false, false, false, false, false, false, true, true, false, false];

/** The header's configuration words, as the host writes them and both cores read them. */
export interface HeaderConfig {
  /** MAGIC once the host wrote the header */
  magic: number;
  /** LAYOUT_VERSION the host was built with */
  version: number;
  /** connection slots */
  slots: number;
  /** the largest rx ring a slot grows to, bytes, a power of two */
  rxSize: number;
  /** the largest tx ring a slot grows to, bytes, a power of two */
  txSize: number;
  /** the smallest ring and pool segment, bytes, a power of two (at least 16) */
  minRing: number;
  /** FRAMING_* */
  framing: number;
  /** MODE_* */
  mode: number;
  /** largest payload (see assembly/framing.ts for what counts) */
  maxFrame: number;
  /** length framing: bytes before the length field */
  lenOffset: number;
  /** length framing: field width, 1 2 3 4 or 8 */
  lenSize: number;
  /** length framing: big-endian field */
  lenBig: boolean;
  /** length framing: added to the field to get the bytes after it */
  lenAdjust: number;
  /** length framing: bytes dropped from the front of each frame */
  lenStrip: number;
  /** fixed framing: frame length */
  fixed: number;
  /** delimiter framing: delimiter bytes, 1 to DELIM_MAX */
  delimLen: number;
  /** delimiter framing: drop a \r before the delimiter */
  stripCR: boolean;
  /** delimiter framing: the delimiter bytes */
  delim: Uint8Array;
  /** handler mode: entries in the frame list */
  frameCap: number;
  /** where the stats block starts */
  statsOff: number;
  /** where the frame list starts */
  framesOff: number;
  /** where the slot table starts */
  slotsOff: number;
  /** where the pool table starts: POOL_CLASSES free-list heads, then one byte per minRing of the arena */
  poolOff: number;
  /** where the pool's segments start (4096-aligned) */
  arenaOff: number;
  /** bytes of segments: a whole number of the largest segment (maxMemory, rounded down) */
  arenaSize: number;
  /** bytes of memory the layout needs from address 0 */
  total: number;
  /** websocket framing: where the websocket slot words start, WS_SLOT_SIZE bytes a slot (0: another framing) */
  wsOff: number;
}

/** Read the configuration words from a core's memory (a bytes field is a view, not a copy). */
export function readHeaderConfig(memory: SharedArrayBuffer): HeaderConfig {
  const u32 = new Uint32Array(memory, LAYOUT_BASE, HEADER_CONFIG_WORDS);
  const i32 = new Int32Array(memory, LAYOUT_BASE, HEADER_CONFIG_WORDS);
  return {
    magic: u32[H_MAGIC]!,
    version: u32[H_VERSION]!,
    slots: u32[H_SLOTS]!,
    rxSize: u32[H_RX_SIZE]!,
    txSize: u32[H_TX_SIZE]!,
    minRing: u32[H_MIN_RING]!,
    framing: u32[H_FRAMING]!,
    mode: u32[H_MODE]!,
    maxFrame: u32[H_MAX_FRAME]!,
    lenOffset: u32[H_LEN_OFFSET]!,
    lenSize: u32[H_LEN_SIZE]!,
    lenBig: u32[H_LEN_BIG] !== 0,
    lenAdjust: i32[H_LEN_ADJUST]!,
    lenStrip: u32[H_LEN_STRIP]!,
    fixed: u32[H_FIXED]!,
    delimLen: u32[H_DELIM_LEN]!,
    stripCR: u32[H_STRIP_CR] !== 0,
    delim: new Uint8Array(memory, LAYOUT_BASE + H_DELIM * 4, 16),
    frameCap: u32[H_FRAME_CAP]!,
    statsOff: u32[H_STATS_OFF]!,
    framesOff: u32[H_FRAMES_OFF]!,
    slotsOff: u32[H_SLOTS_OFF]!,
    poolOff: u32[H_POOL_OFF]!,
    arenaOff: u32[H_ARENA_OFF]!,
    arenaSize: u32[H_ARENA_SIZE]!,
    total: u32[H_TOTAL]!,
    wsOff: u32[H_WS_OFF]!,
  };
}

/** Write the configuration words into a core's memory; a bytes field is zero-padded. */
export function writeHeaderConfig(memory: SharedArrayBuffer, h: HeaderConfig): void {
  const u32 = new Uint32Array(memory, LAYOUT_BASE, HEADER_CONFIG_WORDS);
  const i32 = new Int32Array(memory, LAYOUT_BASE, HEADER_CONFIG_WORDS);
  const u8 = new Uint8Array(memory);
  u32[H_MAGIC] = h.magic;
  u32[H_VERSION] = h.version;
  u32[H_SLOTS] = h.slots;
  u32[H_RX_SIZE] = h.rxSize;
  u32[H_TX_SIZE] = h.txSize;
  u32[H_MIN_RING] = h.minRing;
  u32[H_FRAMING] = h.framing;
  u32[H_MODE] = h.mode;
  u32[H_MAX_FRAME] = h.maxFrame;
  u32[H_LEN_OFFSET] = h.lenOffset;
  u32[H_LEN_SIZE] = h.lenSize;
  u32[H_LEN_BIG] = h.lenBig ? 1 : 0;
  i32[H_LEN_ADJUST] = h.lenAdjust;
  u32[H_LEN_STRIP] = h.lenStrip;
  u32[H_FIXED] = h.fixed;
  u32[H_DELIM_LEN] = h.delimLen;
  u32[H_STRIP_CR] = h.stripCR ? 1 : 0;
  if (h.delim.length > 16) throw new RangeError('delim: at most 16 bytes');
  u8.fill(0, LAYOUT_BASE + H_DELIM * 4, LAYOUT_BASE + H_DELIM * 4 + 16);
  u8.set(h.delim, LAYOUT_BASE + H_DELIM * 4);
  u32[H_FRAME_CAP] = h.frameCap;
  u32[H_STATS_OFF] = h.statsOff;
  u32[H_FRAMES_OFF] = h.framesOff;
  u32[H_SLOTS_OFF] = h.slotsOff;
  u32[H_POOL_OFF] = h.poolOff;
  u32[H_ARENA_OFF] = h.arenaOff;
  u32[H_ARENA_SIZE] = h.arenaSize;
  u32[H_TOTAL] = h.total;
  u32[H_WS_OFF] = h.wsOff;
}
