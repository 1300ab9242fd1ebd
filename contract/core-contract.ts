// The contract between the AssemblyScript core (assembly/) and the host
// (src/core/), declared once: the memory layout, the configuration header, the
// stats counters, the slot words, the frame list, and every result and error code.
//
// `npm run build` renders this table (contract/render.ts, run by
// scripts/generate-contract.ts) into three files that nobody edits by hand:
//   assembly/contract.ts   the constants, for the core
//   assembly/config.ts     the core's configuration globals and loadConfig(), which
//                          init() calls to read the header the host wrote
//   src/core/contract.ts   the same constants, the HeaderConfig type and field table
// test/contract.test.ts checks that the three files are what this table renders
// and that build/core.wasm exports the same values.
//
// Numbers are positions: a header word, stats counter, slot word or code is
// numbered by where it stands in its list. Adding one is adding a line; moving or
// removing one changes the layout: bump LAYOUT_VERSION.

export type FieldType = 'u32' | 'i32' | 'bool' | 'bytes';

/** A named word or code; its number is its position in its list. */
export interface Entry {
  name: string;
  doc: string;
}

/** A configuration word of the header: written by the host, read by both cores at init(). */
export interface ConfigField extends Entry {
  /** The name of the field in HeaderConfig (TypeScript) and in assembly/config.ts. */
  field: string;
  type: FieldType;
  /** Words taken (bytes fields only): the field holds words * 4 bytes. */
  words?: number;
}

/** A stats counter: one i64, or `count` consecutive ones. */
export interface Counter extends Entry {
  count?: number;
}

export interface ErrorEntry extends Entry {
  /** The stable code users branch on. */
  code: string;
  /** Who finds it: the cores (process() results, W_ERROR) or the host. */
  by: 'core' | 'host';
}

/** Plain numbers: sizes and markers. */
export const constants: (Entry & { value: number })[] = [
  { name: 'LAYOUT_BASE', value: 4096, doc: 'where the header starts; AssemblyScript static data lives below it (init checks)' },
  { name: 'LAYOUT_VERSION', value: 10, doc: 'bumped whenever a word moves or changes meaning' },
  { name: 'MAGIC', value: 0x31525752, doc: '"RWR1" little-endian: the host wrote a header' },
  { name: 'HEADER_SIZE', value: 256, doc: 'bytes reserved for the header (config words, then state words)' },
  { name: 'SLOT_SIZE', value: 64, doc: 'bytes per slot: one cache line' },
  { name: 'SCRATCH_BASE', value: 3072, doc: 'check() copies a payload that is not in the core\'s memory here, SCRATCH_SIZE bytes at a time, to scan it: below LAYOUT_BASE, above the module\'s static data (init checks)' },
  { name: 'SCRATCH_SIZE', value: 1024, doc: 'bytes at SCRATCH_BASE' },
  { name: 'HANDOFF_MIN', value: 1048576, doc: 'echo mode: a frame of at least this many bytes, followed in the rx ring by fewer bytes than its own, that finds its tx ring empty is handed over with its segment (the segment becomes the tx ring) instead of copied: a copy into pages never touched before costs tens of µs a page on a VM' },
  { name: 'POOL_CLASSES', value: 32, doc: 'free-list heads in the pool table, one per log2 of a segment size (only minRing to the largest segment are used)' },
  { name: 'RELAY_RING', value: 65536, doc: 'a relay\'s rings (echo mode, W_PEER set) grow for throughput up to this, or to rxSize/txSize if smaller, never to the frame: its frames are cut through (W_CUT_DONE)' },
  { name: 'OPEN_NO_SLOT', value: 1, doc: 'open() returns it negated: every slot is in use' },
  { name: 'OPEN_NO_MEMORY', value: 2, doc: 'open() returns it negated: the pool cannot supply the smallest rx ring (ERR_MEMORY_EXHAUSTED; takeRx() says R_NO_MEMORY)' },
  ...websocketConstants(),
];

/**
 * The header's configuration words, in order from LAYOUT_BASE. The host fills
 * them from one table (src/core/header.ts), region offsets included: the region
 * formula lives once, in src/core/layout.ts, and the cores read its results.
 */
export const headerConfig: ConfigField[] = [
  { name: 'H_MAGIC', field: 'magic', type: 'u32', doc: 'MAGIC once the host wrote the header' },
  { name: 'H_VERSION', field: 'version', type: 'u32', doc: 'LAYOUT_VERSION the host was built with' },
  { name: 'H_SLOTS', field: 'slots', type: 'u32', doc: 'connection slots' },
  { name: 'H_RX_SIZE', field: 'rxSize', type: 'u32', doc: 'the largest rx ring a slot grows to, bytes, a power of two' },
  { name: 'H_TX_SIZE', field: 'txSize', type: 'u32', doc: 'the largest tx ring a slot grows to, bytes, a power of two' },
  { name: 'H_MIN_RING', field: 'minRing', type: 'u32', doc: 'the smallest ring and pool segment, bytes, a power of two (at least 16)' },
  { name: 'H_FRAMING', field: 'framing', type: 'u32', doc: 'FRAMING_*' },
  { name: 'H_MODE', field: 'mode', type: 'u32', doc: 'MODE_*' },
  { name: 'H_MAX_FRAME', field: 'maxFrame', type: 'u32', doc: 'largest payload (see assembly/framing.ts for what counts)' },
  { name: 'H_LEN_OFFSET', field: 'lenOffset', type: 'u32', doc: 'length framing: bytes before the length field' },
  { name: 'H_LEN_SIZE', field: 'lenSize', type: 'u32', doc: 'length framing: field width, 1 2 3 4 or 8' },
  { name: 'H_LEN_BIG', field: 'lenBig', type: 'bool', doc: 'length framing: big-endian field' },
  { name: 'H_LEN_ADJUST', field: 'lenAdjust', type: 'i32', doc: 'length framing: added to the field to get the bytes after it' },
  { name: 'H_LEN_STRIP', field: 'lenStrip', type: 'u32', doc: 'length framing: bytes dropped from the front of each frame' },
  { name: 'H_FIXED', field: 'fixed', type: 'u32', doc: 'fixed framing: frame length' },
  { name: 'H_DELIM_LEN', field: 'delimLen', type: 'u32', doc: 'delimiter framing: delimiter bytes, 1 to DELIM_MAX' },
  { name: 'H_STRIP_CR', field: 'stripCR', type: 'bool', doc: 'delimiter framing: drop a \\r before the delimiter' },
  { name: 'H_DELIM', field: 'delim', type: 'bytes', words: 4, doc: 'delimiter framing: the delimiter bytes' },
  { name: 'H_FRAME_CAP', field: 'frameCap', type: 'u32', doc: 'handler mode: entries in the frame list' },
  { name: 'H_STATS_OFF', field: 'statsOff', type: 'u32', doc: 'where the stats block starts' },
  { name: 'H_FRAMES_OFF', field: 'framesOff', type: 'u32', doc: 'where the frame list starts' },
  { name: 'H_SLOTS_OFF', field: 'slotsOff', type: 'u32', doc: 'where the slot table starts' },
  { name: 'H_POOL_OFF', field: 'poolOff', type: 'u32', doc: 'where the pool table starts: POOL_CLASSES free-list heads, then one byte per minRing of the arena' },
  { name: 'H_ARENA_OFF', field: 'arenaOff', type: 'u32', doc: 'where the pool\'s segments start (4096-aligned)' },
  { name: 'H_ARENA_SIZE', field: 'arenaSize', type: 'u32', doc: 'bytes of segments: a whole number of the largest segment (maxMemory, rounded down)' },
  { name: 'H_TOTAL', field: 'total', type: 'u32', doc: 'bytes of memory the layout needs from address 0' },
  { name: 'H_WS_OFF', field: 'wsOff', type: 'u32', doc: 'websocket framing: where the websocket slot words start, WS_SLOT_SIZE bytes a slot (0: another framing)' },
];

/** The header's state words, after the config words: the core's, zeroed by init(). */
export const headerState: Entry[] = [
  { name: 'H_FRAME_COUNT', doc: 'handler mode: entries the last process() listed' },
  { name: 'H_FREE_HEAD', doc: 'first free slot + 1 (0: none free)' },
  { name: 'H_OPEN', doc: 'slots in use' },
  { name: 'H_POOL_BUMP', doc: 'arena bytes ever split into segments: the rest is untouched, whole largest segments taken from here when no free list can serve' },
  { name: 'H_STAGE', doc: 'fan-out: address of the pool segment the host stages a batch in (stage(); 0: none)' },
  { name: 'H_STAGE_LOG', doc: 'fan-out: log2 of that segment\'s size (0: none)' },
];

/**
 * The stats block: i64 counters any thread reads with Atomics (src/core/stats.ts).
 * One writer thread per block: the thread that owns the core.
 */
export const stats: Counter[] = [
  { name: 'S_CONNECTIONS', doc: 'open now (a gauge: close() subtracts)' },
  { name: 'S_ACCEPTED', doc: 'slots ever opened' },
  { name: 'S_BYTES_IN', doc: 'bytes received' },
  { name: 'S_BYTES_OUT', doc: 'bytes put in tx rings (echoed or sent)' },
  { name: 'S_FRAMES_IN', doc: 'frames decoded (raw: runs of bytes)' },
  { name: 'S_FRAMES_OUT', doc: 'frames put in tx rings' },
  { name: 'S_PAUSES', doc: 'times the host paused reading for backpressure' },
  { name: 'S_ERRORS', doc: 'errors, all codes' },
  { name: 'S_ERROR_BY_CODE', count: 64, doc: 'errors by number (the errors list below)' },
  // Layout 5, for metrics: why connections closed, and the thread's event-loop lag.
  // The host writes these (the endpoint and its heartbeat, on the core's thread).
  { name: 'S_CLOSED_PEER', doc: 'connections closed normally after the peer ended them (its FIN, no frame cut short)' },
  { name: 'S_CLOSED_LOCAL', doc: 'connections closed normally by this side: close() or destroy() from the application, an onConnection task that returned, a relay partner that closed' },
  { name: 'S_CLOSED_DRAIN', doc: 'connections closed normally by the server draining (close(), SIGTERM)' },
  { name: 'S_CLOSED_BY_ERROR', count: 64, doc: 'connections closed by an error, by its number (refused connections never opened: not here)' },
  { name: 'S_LOOP_LAG', doc: 'a gauge: how late this thread\'s last heartbeat tick ran, in microseconds (its event-loop lag)' },
  { name: 'S_LOOP_BLOCKED', doc: 'microseconds the heartbeat ticks ran late, summed: time the event loop was blocked' },
  { name: 'S_STALLS', doc: 'stalls: the event loop blocked longer than stallTimeout, counted once each' },
  // Layout 6: frames the drain left unanswered, and slots held for a handler that has not settled (handlerTimeout).
  { name: 'S_DRAIN_UNANSWERED', doc: 'frames read but not answered when the drain timed out (their connections were reset: ERR_DRAIN_TIMEOUT)' },
  { name: 'S_QUARANTINED', doc: 'a gauge: slots whose socket is closed but whose handler still holds a frame view (freed when it settles)' },
  // Layout 7: the ring pool (the cores write these).
  { name: 'S_POOL_BYTES', doc: 'a gauge: bytes of the pool\'s arena in rings now' },
  { name: 'S_POOL_SEGMENTS', count: 32, doc: 'gauges: rings now taken from the pool, by log2 of their segment size' },
  { name: 'S_POOL_EXHAUSTED', doc: 'times the pool could not supply a ring (a connection opening, reading after idling, or growing: ERR_MEMORY_EXHAUSTED)' },
];

/**
 * Slot words (u32, from the slot's address). Positions are free-running u32
 * counters: used = head - tail (mod 2^32); the offset in a ring is pos & (size - 1).
 *   rx: the host moves RX_HEAD (received); the core moves RX_TAIL in echo mode,
 *       the host in handler mode (consume, once its handler is done).
 *   tx: the core moves TX_HEAD (echo, commit); the host moves TX_TAIL (release)
 *       once the kernel has the bytes.
 * An emptied ring's positions go back to 0, so reads and writes start at its start.
 * Rings are segments of the pool (assembly/pool.ts): W_RX_BASE/W_TX_BASE and the
 * sizes in W_RINGS change when a ring grows or shrinks (see assembly/index.ts for when).
 * An idle slot may hold no ring at all (layout 9: shrink() gives an empty rx ring
 * back entirely; takeRx() takes the smallest one again before the next read).
 */
export const slotState: Entry[] = [
  { name: 'W_STATE', doc: '0 free, 1 open' },
  { name: 'W_RX_HEAD', doc: 'end of the bytes received' },
  { name: 'W_RX_TAIL', doc: 'start of the bytes not yet consumed' },
  { name: 'W_TX_HEAD', doc: 'end of the bytes to send' },
  { name: 'W_TX_TAIL', doc: 'start of the bytes the kernel does not have yet' },
  { name: 'W_SCAN', doc: 'delimiter framing: bytes past the frame start already searched' },
  { name: 'W_ERROR', doc: 'the first error number seen; sticky' },
  { name: 'W_NEXT_FREE', doc: 'free list link: next free slot + 1, 0 = end' },
  { name: 'W_RESERVED', doc: 'send(): the tx position where the reserved payload starts' },
  { name: 'W_LISTED', doc: 'handler mode: end of the frames listed so far (process() lists from here); echo mode: W_CUT_DONE (slotAliases)' },
  { name: 'W_HOLD', doc: 'handler mode: nonzero while a handler is pending; process() lists nothing; echo mode: W_CUT_LEFT (slotAliases)' },
  { name: 'W_ERROR_SIZE', doc: 'ERR_FRAME_TOO_LARGE in length framing: the payload length it declared (clamped to u32; 0: not known), for the message' },
  { name: 'W_PEER', doc: 'echo mode: the slot + 1 whose tx ring takes this slot\'s frames (0: its own, the echo)' },
  { name: 'W_RX_BASE', doc: 'address of the rx ring\'s segment (handler mode: the ring, then as many bytes of pad where a wrapped frame continues; 0: none, the slot is idle)' },
  { name: 'W_TX_BASE', doc: 'address of the tx ring\'s segment (0: none yet)' },
  { name: 'W_RINGS', doc: 'log2 of the ring sizes, a byte each: rx (bits 0-7, 0: none), tx (8-15, 0: none), and the tx size a blocked send asked for (16-23), taken once the tx ring is empty; bit 24: a read filled the rx ring while a listed frame pinned it, so it grows at the next read that finds it free to move' },
];

/**
 * Second names for handler-mode slot words, which echo mode does not use: a relay
 * (echo mode with W_PEER set) keeps its cut-through state in them. A frame whose
 * header is validated (length framings: the length, checked against maxFrame) is
 * forwarded as its bytes arrive, and for a delimiter, so are the bytes scanned
 * without finding it (counted toward maxFrame); a relay never holds a frame whole.
 */
export const slotAliases: (Entry & { of: string })[] = [
  { name: 'W_CUT_DONE', of: 'W_LISTED', doc: 'echo mode, a relay: wire bytes of the frame in progress already forwarded (0: no frame in progress)' },
  { name: 'W_CUT_LEFT', of: 'W_HOLD', doc: 'echo mode, a relay: length, varint and fixed framings: wire bytes of the frame in progress still to come (delimiter: 0, not known)' },
];

/** Slot words set once by init() and kept by open(): after the state words. */
export const slotFixed: Entry[] = [];

/** Words of one frame list entry (handler mode). */
export const frameEntry: Entry[] = [
  { name: 'F_ADDR', doc: 'address of the payload: in the rx ring, or running on into its pad' },
  { name: 'F_LEN', doc: 'payload bytes' },
  { name: 'F_END', doc: 'rx position just after the frame: what consume() takes' },
  { name: 'F_KIND', doc: 'websocket framing: what the entry is, its opcode (WS_TEXT, WS_BINARY: a whole message; WS_PING, WS_PONG, WS_CLOSE); 0 for other framings' },
];

/** Codes, numbered from 0 in each group; `type` is how AssemblyScript holds them. */
export const codes: Record<string, { type: 'u32' | 'i32'; entries: Entry[] }> = {
  framing: { type: 'u32', entries: [
    { name: 'FRAMING_RAW', doc: 'bytes as they arrive' },
    { name: 'FRAMING_LENGTH', doc: 'a length field' },
    { name: 'FRAMING_VARINT', doc: 'an unsigned LEB128 prefix' },
    { name: 'FRAMING_DELIMITER', doc: 'ended by delimiter bytes' },
    { name: 'FRAMING_FIXED', doc: 'every frame the same length' },
    { name: 'FRAMING_WEBSOCKET', doc: 'RFC 6455 frames, messages reassembled (handler mode only; see the websocket words below)' },
  ] },
  mode: { type: 'u32', entries: [
    { name: 'MODE_ECHO', doc: 'the core echoes every frame into the tx ring' },
    { name: 'MODE_HANDLER', doc: 'the core lists frames for the host\'s handler' },
  ] },
  process: { type: 'i32', entries: [
    { name: 'R_DONE', doc: 'every whole frame handled (negative results are error numbers)' },
    { name: 'R_BLOCKED', doc: 'the tx ring cannot take the next echo: release, then process() again' },
    { name: 'R_MORE', doc: 'the frame list is full: deliver it, then process() again' },
    { name: 'R_NO_MEMORY', doc: 'the pool cannot supply the ring this slot needs to go on, or takeRx() the rx ring of an idle slot that read (ERR_MEMORY_EXHAUSTED): close it' },
  ] },
  send: { type: 'i32', entries: [
    { name: 'SEND_OK', doc: 'reserved (reserve) or sent (send)' },
    { name: 'SEND_FULL', doc: 'no room in the tx ring now: try again after it drains' },
    { name: 'SEND_BAD_LENGTH', doc: 'the payload cannot be encoded with this framing' },
    { name: 'SEND_TOO_LARGE', doc: 'the encoded frame is larger than the whole tx ring' },
    { name: 'SEND_DELIMITER', doc: 'delimiter framing: the payload holds the delimiter (or, stripping \\r, ends in \\r): the peer would not read it back as one frame' },
    { name: 'SEND_NO_MEMORY', doc: 'the tx ring must grow for this frame and the pool cannot supply it (ERR_MEMORY_EXHAUSTED)' },
  ] },
  init: { type: 'i32', entries: [
    { name: 'INIT_OK', doc: 'the core is ready' },
    { name: 'INIT_NO_HEADER', doc: 'no header with this MAGIC and LAYOUT_VERSION' },
    { name: 'INIT_MEMORY_TOO_SMALL', doc: 'the header\'s total is larger than the memory' },
    { name: 'INIT_STATIC_DATA', doc: 'the module\'s static data reaches LAYOUT_BASE' },
    { name: 'INIT_BAD_CONFIG', doc: 'a header value the core cannot work with' },
  ] },
};

/**
 * Error numbers: the index is the number, which W_ERROR holds, process() returns
 * negated, and S_ERROR_BY_CODE counts by. Numbers never change meaning. Two
 * numbers may share a code (counted apart, reported alike).
 */
export const errors: ErrorEntry[] = [
  { name: 'E_RINGWIRE', code: 'ERR_RINGWIRE', by: 'host', doc: 'unknown' },
  { name: 'E_FRAME_TOO_LARGE', code: 'ERR_FRAME_TOO_LARGE', by: 'core', doc: 'a frame over maxFrame' },
  { name: 'E_BAD_LENGTH', code: 'ERR_BAD_LENGTH', by: 'core', doc: 'a length prefix no valid frame has' },
  { name: 'E_TOO_MANY_CONNECTIONS', code: 'ERR_TOO_MANY_CONNECTIONS', by: 'host', doc: 'every slot in use' },
  { name: 'E_IDLE_TIMEOUT', code: 'ERR_IDLE_TIMEOUT', by: 'host', doc: 'idle for too long' },
  { name: 'E_TRUNCATED_FRAME', code: 'ERR_TRUNCATED_FRAME', by: 'host', doc: 'the peer ended in the middle of a frame' },
  { name: 'E_REPLY_TOO_LARGE', code: 'ERR_REPLY_TOO_LARGE', by: 'host', doc: 'a reply that cannot be encoded' },
  { name: 'E_HANDLER', code: 'ERR_HANDLER', by: 'host', doc: 'the frame handler threw' },
  { name: 'E_SOCKET', code: 'ERR_SOCKET', by: 'host', doc: 'socket error' },
  { name: 'E_BAD_CONFIG', code: 'ERR_BAD_CONFIG', by: 'host', doc: 'invalid configuration' },
  { name: 'E_WORKER_EXIT', code: 'ERR_WORKER_EXIT', by: 'host', doc: 'the worker thread serving the connection exited' },
  { name: 'E_SLOW_CONSUMER', code: 'ERR_SLOW_CONSUMER', by: 'host', doc: 'the peer does not take its replies' },
  { name: 'E_FRAME_TIMEOUT', code: 'ERR_FRAME_TIMEOUT', by: 'host', doc: 'a frame did not complete within the frame timeout' },
  { name: 'E_TOO_SLOW', code: 'ERR_TOO_SLOW', by: 'host', doc: 'an incomplete frame arriving slower than the minimum rate' },
  { name: 'E_TOO_MANY_PER_IP', code: 'ERR_TOO_MANY_CONNECTIONS', by: 'host', doc: 'refused by the per-address cap (its own counter, the same code)' },
  { name: 'E_NO_DESCRIPTORS', code: 'ERR_NO_DESCRIPTORS', by: 'host', doc: 'an accept failed for lack of file descriptors' },
  { name: 'E_TLS', code: 'ERR_TLS', by: 'host', doc: 'the TLS handshake or the TLS layer failed' },
  { name: 'E_TLS_TIMEOUT', code: 'ERR_TLS', by: 'host', doc: 'the TLS handshake did not finish within the handshake timeout (its own counter, the same code)' },
  { name: 'E_PROXY_HEADER', code: 'ERR_PROXY_HEADER', by: 'host', doc: 'a PROXY protocol header missing, garbled, oversized or not allowed' },
  { name: 'E_PROXY_TIMEOUT', code: 'ERR_PROXY_HEADER', by: 'host', doc: 'no whole PROXY protocol header within the header timeout (its own counter, the same code)' },
  { name: 'E_EVICTED', code: 'ERR_EVICTED', by: 'host', doc: 'closed at the connection limit to give its slot to a new connection: its incomplete frame arrived slowest, below the minimum rate' },
  { name: 'E_DRAIN_TIMEOUT', code: 'ERR_DRAIN_TIMEOUT', by: 'host', doc: 'the drain timed out with frames of the connection read but unanswered, or replies not yet delivered: it was reset' },
  { name: 'E_DELIMITER_IN_PAYLOAD', code: 'ERR_DELIMITER_IN_PAYLOAD', by: 'host', doc: 'send() of a payload its delimiter framing cannot carry as one frame (SEND_DELIMITER)' },
  { name: 'E_HANDLER_TIMEOUT', code: 'ERR_HANDLER_TIMEOUT', by: 'host', doc: 'a handler\'s promise did not settle within the handler timeout' },
  { name: 'E_ASK_TIMEOUT', code: 'ERR_ASK_TIMEOUT', by: 'host', doc: 'router.ask() got no answer within its timeout' },
  { name: 'E_OWNER_GONE', code: 'ERR_OWNER_GONE', by: 'host', doc: 'router.ask() to a thread that is not serving, or that ended before it answered' },
  { name: 'E_ASK_FAILED', code: 'ERR_ASK_FAILED', by: 'host', doc: 'the owner\'s onAsk threw, rejected, answered no bytes, or is missing' },
  { name: 'E_MAILBOX_TIMEOUT', code: 'ERR_MAILBOX_TIMEOUT', by: 'host', doc: 'publishAsync() or sendToAsync() found no room in a mailbox within its timeout' },
  { name: 'E_MEMORY_EXHAUSTED', code: 'ERR_MEMORY_EXHAUSTED', by: 'host', doc: 'the ring pool (maxMemory) could not supply a connection\'s ring: opening (refused), reading again after idling or growing for a frame (closed); the cores say R_NO_MEMORY, SEND_NO_MEMORY or OPEN_NO_MEMORY' },
  { name: 'E_WEBSOCKET_PROTOCOL', code: 'ERR_WEBSOCKET_PROTOCOL', by: 'core', doc: 'a WebSocket frame that breaks RFC 6455 (close code 1002); errorSize() says which rule (WS_RULE_*)' },
  { name: 'E_WEBSOCKET_UTF8', code: 'ERR_WEBSOCKET_UTF8', by: 'core', doc: 'a WebSocket text message or close reason that is not UTF-8 (close code 1007), found at its first bad byte' },
  { name: 'E_UPGRADE', code: 'ERR_UPGRADE', by: 'host', doc: 'websocket framing: not a valid WebSocket upgrade request (answered with a plain HTTP error: 400, 405, 426, 431, 505), refused by onUpgrade, or (a client) a server\'s answer that is not a valid 101' },
  { name: 'E_UPGRADE_TIMEOUT', code: 'ERR_UPGRADE', by: 'host', doc: 'websocket framing: no whole upgrade (request, onUpgrade\'s answer, or a client\'s 101) within upgradeTimeout (its own counter, the same code)' },
];

// ---- WebSocket framing (RFC 6455 section 5), kept together here ----
// FRAMING_WEBSOCKET decodes frames in handler mode only: each entry the core lists
// is a whole message (WS_TEXT or WS_BINARY, its fragments reassembled into one
// contiguous view, unmasked in place) or a control frame (WS_PING, WS_PONG,
// WS_CLOSE), its kind in F_KIND. The core answers nothing itself: the host sends
// pongs and close frames with send(slot, payload, kind). Per slot the core keeps
// the words below, at H_WS_OFF + slot * WS_SLOT_SIZE (a region the layout has only
// with this framing), cleared by open(). assembly/websocket.ts says how a
// fragmented message and the control frames between its fragments sit in the ring.

/** Numbers of the WebSocket framing (the opcodes are the RFC's). */
function websocketConstants(): (Entry & { value: number })[] {
  return [
    { name: 'WS_SLOT_SIZE', value: 32, doc: 'bytes of websocket words per slot (the W_WS_* words)' },
    { name: 'WS_HEADER_MAX', value: 14, doc: 'the longest frame header: 2 bytes, 8 of extended length, 4 of mask key' },
    { name: 'WS_CONTROL_MAX', value: 125, doc: 'the longest control frame payload (ping, pong, close)' },
    { name: 'WS_CONTINUATION', value: 0, doc: 'opcode: a continuation frame (never an entry\'s kind)' },
    { name: 'WS_TEXT', value: 1, doc: 'opcode: a text message (UTF-8, checked by the core)' },
    { name: 'WS_BINARY', value: 2, doc: 'opcode: a binary message' },
    { name: 'WS_CLOSE', value: 8, doc: 'opcode: close (payload: nothing, or a u16 big-endian code and a UTF-8 reason, both checked by the core)' },
    { name: 'WS_PING', value: 9, doc: 'opcode: ping' },
    { name: 'WS_PONG', value: 10, doc: 'opcode: pong' },
    { name: 'WS_FLAG_CLIENT', value: 1, doc: 'W_WS_FLAGS: the slot is a client connection (the host sets it after open()): frames from the peer must not be masked, frames sent are masked' },
    { name: 'WS_FLAG_CLOSED', value: 2, doc: 'W_WS_FLAGS: a close frame was listed: the core lists nothing after it' },
    { name: 'WS_MESSAGE_SHIFT', value: 4, doc: 'W_WS_FLAGS: bits 4-7, the open message\'s opcode (0: none open)' },
    { name: 'WS_UTF8_SHIFT', value: 8, doc: 'W_WS_FLAGS: bits 8-15, the UTF-8 decoder\'s state after the text bytes checked so far (0: between characters)' },
  ];
}

/**
 * The websocket words of a slot (u32 index from H_WS_OFF + slot * WS_SLOT_SIZE).
 * Positions are relative to W_LISTED, where an open message starts: the ring from
 * there holds the message's payload so far (W_WS_MSG bytes, compacted), dead bytes
 * (the headers it took), then the next frame's header at W_LISTED + W_WS_RAW.
 */
export const websocketSlot: Entry[] = [
  { name: 'W_WS_FLAGS', doc: 'WS_FLAG_* bits, the open message\'s opcode and the UTF-8 state (see WS_*_SHIFT)' },
  { name: 'W_WS_RAW', doc: 'an open message: wire bytes from W_LISTED to the next frame\'s header (0: none open)' },
  { name: 'W_WS_MSG', doc: 'an open message: its payload bytes so far, compacted at W_LISTED' },
  { name: 'W_WS_CHECKED', doc: 'payload bytes of the frame in progress (incomplete) already unmasked in place and, for text, checked as UTF-8' },
  { name: 'W_WS_TX_KEY', doc: 'a frame streamed by beginFrame() on a client slot: its mask key' },
  { name: 'W_WS_TX_DONE', doc: 'that frame: payload bytes masked so far (putBytes)' },
];

/** What ERR_WEBSOCKET_PROTOCOL broke: errorSize() of the slot (W_ERROR_SIZE). */
export const websocketRules: Entry[] = [
  { name: 'WS_RULE_NONE', doc: 'not known' },
  { name: 'WS_RULE_UNMASKED', doc: 'a frame from a client without a mask' },
  { name: 'WS_RULE_MASKED', doc: 'a frame from a server with a mask' },
  { name: 'WS_RULE_RESERVED_BITS', doc: 'RSV1, RSV2 or RSV3 set: no extension was negotiated' },
  { name: 'WS_RULE_OPCODE', doc: 'a reserved opcode (3-7, 11-15)' },
  { name: 'WS_RULE_CONTROL_LENGTH', doc: 'a control frame with more than 125 bytes of payload' },
  { name: 'WS_RULE_CONTROL_FRAGMENTED', doc: 'a control frame without FIN' },
  { name: 'WS_RULE_NO_MESSAGE', doc: 'a continuation frame with no message open' },
  { name: 'WS_RULE_MESSAGE_OPEN', doc: 'a text or binary frame while a fragmented message is open' },
  { name: 'WS_RULE_LENGTH', doc: 'a 64-bit length with its top bit set' },
  { name: 'WS_RULE_CLOSE_LENGTH', doc: 'a close frame with one byte of payload' },
  { name: 'WS_RULE_CLOSE_CODE', doc: 'a close code no endpoint may send (below 1000, 1004-1006, 1015, 1016-2999, 5000 up)' },
];
