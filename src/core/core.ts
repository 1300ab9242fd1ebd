// The Core interface, which the network code depends on, and CoreBase: the host
// side of a core's memory that both cores share (typed views over the layout, the
// free spans Node reads into and writes from, stats). What a core *does* (decode,
// echo, encode, slot allocation) is abstract here and written twice: in
// AssemblyScript (wasm-core.ts runs it) and in TypeScript (js-core.ts).
//
// Who moves what (see the slot words in contract/core-contract.ts): the host moves RX_HEAD through
// received() and TX_TAIL through release(); the core moves TX_HEAD, and RX_TAIL
// in echo mode. In handler mode the core lists frames from W_LISTED and the host
// moves RX_TAIL with consume() once its handler is done with them, so a frame's
// bytes stay where they are while an async handler holds it.
// A span handed to Node for reading stays free until received() is called for
// it, because only Node writes the rx ring; a tx range handed to Node for
// writing stays untouched until release(), because the core only appends.
// Rings come from the core's pool and change size (assembly/index.ts says when):
// the rx ring only inside received()/process(), shrink() or takeRx(), so the host
// asks for readSpan() again after each of them (Node does after every read callback;
// the host re-arms the socket after shrink() and after a pause). shrink() gives an
// empty rx ring back entirely (rxSize() 0: the slot reads into a buffer of the host's
// and calls takeRx() before it copies a read in and calls received()); the tx ring only
// while no write references it (empty, or growTx(), which the host calls only
// with nothing in flight), so no write ever reads from a ring given back.
// A relay (forwardTo) cuts frames through: the core forwards a frame's bytes as they
// arrive once its header is validated (assembly/index.ts), so a frame may be in
// progress with none of its bytes in the rx ring: cutThrough() and cutLeft() say
// where it stands, and the host counts those bytes as input of an incomplete frame.
// WebSocket framing (handler mode only): each listed entry is a whole message or a
// control frame, its kind (the opcode) in frameKind(); the core reassembles and
// unmasks messages in place and checks UTF-8 (assembly/websocket.ts), and answers
// nothing itself: the host sends pongs, close frames and messages with
// send(slot, payload, kind), masked with a random key on a client slot
// (websocketClient(), after open()).

import type { CoreConfig } from './config.ts';
import {
  F_ADDR, F_END, F_KIND, F_LEN, FRAME_WORDS, FRAMING_DELIMITER, FRAMING_RAW, FRAMING_WEBSOCKET, H_FRAME_COUNT, LAYOUT_BASE, MODE_ECHO, readHeaderConfig, SCRATCH_BASE, SCRATCH_SIZE,
  SEND_DELIMITER, SEND_FULL, SEND_OK, SEND_TOO_LARGE, SLOT_SIZE, STATS_COUNT,
  W_CUT_DONE, W_CUT_LEFT, W_ERROR_SIZE, W_HOLD, W_LISTED, W_PEER, W_RESERVED, W_RINGS, W_RX_BASE, W_RX_HEAD, W_RX_TAIL, W_SCAN, W_TX_BASE, W_TX_HEAD, W_TX_TAIL,
  W_WS_FLAGS, W_WS_RAW, WS_BINARY, WS_FLAG_CLIENT, WS_FLAG_CLOSED, WS_SLOT_SIZE,
  type HeaderConfig,
} from './layout.ts';
import { JsFraming } from './js-framing.ts';
import { Stats } from './stats.ts';

export type CoreKind = 'wasm' | 'js';

// The words of the contract the network code needs, so that it depends on this
// interface and never on the contract (contract.ts) itself.
export {
  F_ADDR, F_END, F_LEN, FRAME_WORDS, MODE_ECHO, OPEN_NO_MEMORY, OPEN_NO_SLOT, R_BLOCKED, R_DONE, R_MORE, R_NO_MEMORY, S_CONNECTIONS, S_DRAIN_UNANSWERED, S_LOOP_BLOCKED, S_LOOP_LAG,
  S_BYTES_OUT, S_FRAMES_OUT, S_PAUSES, S_QUARANTINED, S_STALLS, SEND_DELIMITER, SEND_FULL, SEND_NO_MEMORY, SEND_OK, SEND_TOO_LARGE, STATS_COUNT,
  FRAMING_WEBSOCKET, WS_BINARY, WS_CLOSE, WS_CONTROL_MAX, WS_PING, WS_PONG, WS_TEXT,
} from './layout.ts';

/** Bytes a fan-out payload record of len bytes takes: its u32 length, its bytes, padding to 4 (see Core.fanout). */
export function fanoutRecordSize(len: number): number {
  return (4 + len + 3) & ~3;
}

/** The payload length of the fan-out record at `at` of `from`. */
export function fanoutRecordLength(from: Uint8Array, at: number): number {
  return (from[at]! | (from[at + 1]! << 8) | (from[at + 2]! << 16) | (from[at + 3]! << 24)) >>> 0;
}

/** Write payload as a fan-out record at `at` of `into` (room for fanoutRecordSize(payload.length) bytes): returns where the next one goes. */
export function putFanoutRecord(into: Uint8Array, at: number, payload: Uint8Array): number {
  const n = payload.length;
  into[at] = n & 0xff;
  into[at + 1] = (n >>> 8) & 0xff;
  into[at + 2] = (n >>> 16) & 0xff;
  into[at + 3] = n >>> 24;
  into.set(payload, at + 4);
  return at + fanoutRecordSize(n);
}

/** readSpan() of a slot with no rx ring. */
const NO_RING = new Uint8Array(0);

/** Random mask keys for frames a WebSocket client sends (RFC 6455 section 5.3), drawn 256 at a time. */
const maskKeys = new Uint32Array(256);
let maskKeysLeft = 0;
function randomMaskKey(): number {
  if (maskKeysLeft === 0) {
    crypto.getRandomValues(maskKeys);
    maskKeysLeft = maskKeys.length;
  }
  return maskKeys[--maskKeysLeft]!;
}

export interface Core {
  readonly kind: CoreKind;
  readonly config: CoreConfig;
  /** The core's whole shared memory. */
  readonly memory: SharedArrayBuffer;
  /** The counters in the stats block, readable from any thread. */
  readonly stats: Stats;
  /** A free slot, with the smallest rx ring, for a new connection; -OPEN_NO_SLOT when all are taken, -OPEN_NO_MEMORY when the pool has no ring for it. */
  open(): number;
  /** Return a slot and its rings; only once no pending write references its tx ring and no handler a frame of its rx ring. */
  close(slot: number): void;
  /**
   * The connection has been idle: an empty tx ring and an empty rx ring go back to the
   * pool, entirely. Returns the bytes given back; when any, the rx ring may be gone
   * (rxSize() 0): its next read goes to a buffer of the host's, then takeRx().
   */
  shrink(slot: number): number;
  /**
   * A slot with no rx ring (shrink() took it) has bytes to read: it takes the smallest
   * rx ring again (a no-op if it has one). R_DONE, or R_NO_MEMORY: the pool has none
   * (close it, ERR_MEMORY_EXHAUSTED; other slots never notice).
   */
  takeRx(slot: number): number;
  /**
   * Make the tx ring large enough for a len-byte payload's frame after what it holds,
   * moving its bytes: only while no write references the ring (every byte handed to
   * the kernel released). SEND_OK, SEND_FULL (larger than the largest ring allows),
   * SEND_NO_MEMORY, or what check() refuses of the length.
   */
  growTx(slot: number, len: number): number;
  /** The slot's rx ring, bytes now (it grows up to config.rxSize; 0: none, shrink() took it). */
  rxSize(slot: number): number;
  /** The slot's tx ring, bytes now (0: none yet). */
  txSize(slot: number): number;
  /** The kernel wrote n bytes into readSpan(slot): decode them. Returns R_* (R_NO_MEMORY: close it, ERR_MEMORY_EXHAUSTED) or -error. */
  received(slot: number, n: number): number;
  /** Decode what is buffered (after release() made room, or after R_MORE). */
  process(slot: number): number;
  /** Handler mode: frames listed by the last received()/process(). */
  frameCount(): number;
  /**
   * Handler mode: frame i of the list, a view of the slot's rx ring (or of the pad
   * after it, when the frame wraps). Its bytes stay valid until consume() passes it;
   * the list itself is per core, overwritten by the next process() of any slot.
   * `list`: a list saveFrames() returned, instead of the core's own.
   */
  frame(i: number, list?: Uint32Array): Uint8Array;
  /** Handler mode: the rx position just after frame i of the list (what consume() takes). */
  frameEnd(i: number, list?: Uint32Array): number;
  /**
   * WebSocket framing: what frame i of the list is, its opcode: WS_TEXT or WS_BINARY (a
   * whole message, reassembled and unmasked; text checked as UTF-8), WS_PING, WS_PONG or
   * WS_CLOSE (its payload: empty, or a u16 big-endian code, checked, and a UTF-8 reason).
   * Nothing is listed after a close. 0 for other framings.
   */
  frameKind(i: number, list?: Uint32Array): number;
  /**
   * WebSocket framing: the slot is a client connection (connect()): frames from its
   * peer must not be masked, and every frame sent on it is masked with a random key.
   * Call right after open(); a slot opens as a server's.
   */
  websocketClient(slot: number): void;
  /** Handler mode: a copy of the list's entries from frame `from` on, FRAME_WORDS words each (address, length, end, kind). */
  saveFrames(from: number): Uint32Array;
  /** Handler mode: the frames up to rx position `end` are done: their bytes may be read over. */
  consume(slot: number, end: number): void;
  /** Handler mode: while held, process() lists nothing (a handler is pending); reads still land. */
  hold(slot: number, held: boolean): void;
  /**
   * After ERR_FRAME_TOO_LARGE from a length field: the payload length it declared (0: not
   * known; websocket: the message's length so far with the frame's). After
   * ERR_WEBSOCKET_PROTOCOL: which rule the frame broke (WS_RULE_*).
   */
  errorSize(slot: number): number;
  /**
   * Echo mode: slot's frames go into peer's tx ring (a relay, which cuts them
   * through: each frame's bytes go as they arrive once its header is validated), or
   * back into its own (peer === slot: the echo, the default after open()). Only one
   * slot may forward into a tx ring, and a slot forwarding into peer must be
   * re-pointed before peer is closed; re-pointing elsewhere abandons a frame in progress.
   */
  forwardTo(slot: number, peer: number): void;
  /**
   * A relay's frame in progress (cut-through): its wire bytes already forwarded,
   * before any still in the rx ring (0: no frame in progress).
   */
  cutThrough(slot: number): number;
  /** The frame in progress's wire bytes still to come (length, varint, fixed framings; 0 for a delimiter: not known). */
  cutLeft(slot: number): number;
  /**
   * Encode payload as one frame into the tx ring. Returns SEND_*: SEND_DELIMITER
   * (delimiter framing: the payload holds the delimiter) whether or not the ring has
   * room, so what waits for room (SEND_FULL) or streams (SEND_TOO_LARGE) can be sent.
   * WebSocket framing: `kind` is the frame's opcode (default WS_BINARY; WS_TEXT,
   * WS_PING, WS_PONG, WS_CLOSE), one unfragmented frame (FIN set), masked on a client
   * slot; a control frame over WS_CONTROL_MAX bytes or another kind is SEND_BAD_LENGTH.
   * The core does not check a text payload's UTF-8. Other framings ignore `kind`.
   */
  send(slot: number, payload: Uint8Array, kind?: number): number;
  /** What send() of this payload would say if the ring had room: SEND_OK, SEND_BAD_LENGTH, SEND_TOO_LARGE or SEND_DELIMITER. */
  check(payload: Uint8Array, kind?: number): number;
  /**
   * A reply larger than the tx ring, streamed: beginFrame writes the prefix for a
   * len-byte payload (SEND_OK, SEND_FULL: no room for it yet, SEND_BAD_LENGTH),
   * putPiece copies as much of the payload as the ring has room for (returns how
   * much), endFrame writes the trailer (SEND_OK or SEND_FULL). Nothing else may be
   * sent on the slot in between.
   */
  beginFrame(slot: number, len: number, kind?: number): number;
  putPiece(slot: number, bytes: Uint8Array): number;
  endFrame(slot: number): number;
  /** The kernel has the next n bytes of the tx ring. */
  release(slot: number, n: number): void;
  /**
   * The largest contiguous free span at the rx head; empty when rxFree() is 0 or there
   * is no rx ring. Ask again after received(), process(), shrink() or takeRx(): the
   * ring may have moved.
   */
  readSpan(slot: number): Uint8Array;
  /**
   * Bytes the rx ring takes now: its free bytes, or 0 while a read filled it and
   * listed frames pin it, until they are consumed and it can grow (pause reading).
   * With no rx ring: minRing, what the ring takeRx() gives takes.
   */
  rxFree(slot: number): number;
  /** Bytes in the rx ring not yet consumed (an incomplete frame, or frames held back). */
  rxBuffered(slot: number): number;
  /**
   * Whole frames in the rx ring the core has not handed on yet: not echoed (echo
   * mode, from the tail) or not listed (handler mode, from the end of the listed
   * frames), up to a framing error if one follows them. Raw framing: 1 while any
   * byte waits (a run, as framesIn counts it); websocket: whole frames after the open
   * message's fragments so far, each fragment one. Changes nothing; it decodes each
   * frame again, so it is for the drain's accounting, never the data path.
   */
  bufferedFrames(slot: number): number;
  /** Bytes in the tx ring not yet released. */
  txPending(slot: number): number;
  /** The contiguous run of tx bytes that starts `skip` bytes after the tx tail. */
  txChunk(slot: number, skip: number): Uint8Array;
  /**
   * Fan-out: the payload records in records[0, len) (each a u32 little-endian length,
   * the payload, padding to 4 bytes: FanoutBatch writes them) encoded once as frames
   * and copied into the tx ring of each slot in slots[0, n), in one call into the
   * core. On return slots[i] holds how many of the frames, from the first, that slot's
   * ring took: all of them, or fewer when it had no room (the pool no larger ring);
   * the host sends the rest (queued or dropped by its slow-consumer policy), so
   * order is kept. Returns how many records were encoded: all, or those before the
   * first that send() would not put in a ring as it is (over the ring, a length or
   * delimiter the framing cannot carry); 0 when the pool has no room for the batch.
   * WebSocket framing: binary server frames (unmasked: not for client slots).
   */
  fanout(records: Uint8Array, len: number, slots: Uint32Array, n: number): number;
  /**
   * The same payload records encoded once as the frames fanout() puts in a ring, into
   * a new buffer of their own (the wire bytes, byte for byte what a ring would hold),
   * for the host to write to many sockets as it is; null when fanout() would not
   * encode every one of them (see above). Nothing of the core changes.
   */
  encodeFanout(records: Uint8Array, len: number): Uint8Array | null;
  /** Give the segment fanout() stages batches in back to the pool (it keeps it between batches). */
  unstage(): void;
  /** Does nothing and returns x: the cost of one call into the core (benchmarks). */
  nop(x: number): number;
}

export abstract class CoreBase implements Core {
  abstract readonly kind: CoreKind;
  readonly memory: SharedArrayBuffer;
  readonly stats: Stats;
  protected readonly u8: Uint8Array;
  protected readonly u32: Uint32Array;
  protected readonly frames: Uint32Array;
  protected readonly slotWords: number;
  /** Per slot, a view of its whole rx ring: what an empty ring reads into, made again when the ring changes. */
  private readonly wholeRx: (Uint8Array | undefined)[] = [];
  /**
   * Per slot, the last view txChunk() made from the ring's start: request/response
   * traffic writes the same length from position 0 again and again (the ring is empty
   * after each reply, so its positions went back to 0), and gets the same view.
   */
  private readonly txFromStart: (Uint8Array | undefined)[] = [];
  /** bufferedFrames()'s decoder, made on first use. */
  private scanner: JsFraming | undefined;
  /** encodeFanout()'s planner (plan() reads no memory), made on first use. */
  private planner: JsFraming | undefined;
  /** The framing as the core's header holds it (written once, at init), read on first use. */
  private header: HeaderConfig | undefined;

  readonly config: CoreConfig;
  /** Where a client slot's WebSocket frames get their mask keys: random (a test may give its own). */
  maskKey: () => number = randomMaskKey;

  constructor(config: CoreConfig, memory: SharedArrayBuffer) {
    this.config = config;
    this.memory = memory;
    this.u8 = new Uint8Array(memory);
    this.u32 = new Uint32Array(memory);
    const r = config.regions;
    this.stats = new Stats(memory, r.stats, STATS_COUNT);
    this.frames = new Uint32Array(memory, r.frames, config.frameCap * FRAME_WORDS);
    this.slotWords = r.slots / 4;
  }

  protected slotWord(slot: number, w: number): number {
    return this.u32[this.slotWords + slot * (SLOT_SIZE / 4) + w]!;
  }

  private setSlotWord(slot: number, w: number, v: number): void {
    this.u32[this.slotWords + slot * (SLOT_SIZE / 4) + w] = v;
  }

  rxSize(slot: number): number {
    const k = this.slotWord(slot, W_RINGS) & 0xff;
    return k === 0 ? 0 : 2 ** k;
  }

  txSize(slot: number): number {
    const k = (this.slotWord(slot, W_RINGS) >>> 8) & 0xff;
    return k === 0 ? 0 : 2 ** k;
  }

  /** Copy bytes into slot's tx ring from tx position pos, wrapping at the ring's end (the caller made room). */
  private copyIntoTx(slot: number, pos: number, bytes: Uint8Array): void {
    const size = this.txSize(slot);
    const base = this.slotWord(slot, W_TX_BASE);
    const at = pos & (size - 1);
    const first = Math.min(bytes.length, size - at);
    this.u8.set(first === bytes.length ? bytes : bytes.subarray(0, first), base + at);
    if (first < bytes.length) this.u8.set(bytes.subarray(first), base);
  }

  abstract open(): number;
  abstract close(slot: number): void;
  abstract takeRx(slot: number): number;
  /** shrink() in the core itself. */
  protected abstract shrinkRings(slot: number): number;
  abstract growTx(slot: number, len: number): number;
  abstract received(slot: number, n: number): number;
  abstract process(slot: number): number;
  abstract nop(x: number): number;
  // `kind` and `key`: a WebSocket frame's opcode and, on a client slot, its mask key (other framings ignore them).
  /** SEND_OK with W_RESERVED set to where the payload goes, or why not. */
  protected abstract reserve(slot: number, len: number, kind: number): number;
  /** Write prefix and trailer around the placed payload and publish the frame: SEND_OK, or SEND_DELIMITER (nothing published). */
  protected abstract commit(slot: number, len: number, kind: number, key: number): number;
  /** send() of len bytes already in this memory at addr: reserve, copy and commit in one call into the core. */
  protected abstract sendFrom(slot: number, addr: number, len: number, kind: number, key: number): number;
  /** What send() would say of a len-byte payload's length: SEND_OK, SEND_BAD_LENGTH or SEND_TOO_LARGE. */
  protected abstract plan(len: number, kind: number): number;
  /** Delimiter framing: SEND_DELIMITER if the len bytes at addr hold the delimiter (`last`: they end the payload), else SEND_OK. */
  protected abstract scan(addr: number, len: number, last: boolean): number;
  /** beginFrame() in the core itself. */
  protected abstract begin(slot: number, len: number, kind: number, key: number): number;
  abstract endFrame(slot: number): number;
  /** n payload bytes were copied at the tx head: publish them. */
  protected abstract putBytes(slot: number, n: number): void;
  /** The staging segment, at least `bytes` (0: give it back): its address, or 0 when the pool has none. */
  protected abstract stage(bytes: number): number;
  /** fanout() of the staged batch: n slot indexes, then len bytes of records. */
  protected abstract fanoutStaged(n: number, len: number): number;

  fanout(records: Uint8Array, len: number, slots: Uint32Array, n: number): number {
    const at = this.stage(n * 4 + len) >>> 0;
    if (at === 0) {
      slots.fill(0, 0, n);
      return 0;
    }
    const w = at >>> 2;
    this.u32.set(n === slots.length ? slots : slots.subarray(0, n), w);
    this.u8.set(len === records.length ? records : records.subarray(0, len), at + n * 4);
    const encoded = this.fanoutStaged(n, len);
    slots.set(this.u32.subarray(w, w + n));
    return encoded;
  }

  unstage(): void {
    this.stage(0);
  }

  private headerConfig(): HeaderConfig {
    return (this.header ??= readHeaderConfig(this.memory));
  }

  /**
   * Written once, here, for both cores, as bufferedFrames() is: the TypeScript twin's
   * encoder (js-framing.ts), which the differential tests hold byte-identical to the
   * core's, run over a buffer of its own, so no core state is touched; the same checks
   * as fanout()'s (plan(), a delimiter inside a payload). One buffer per batch, never
   * reused: writes of it may still be in flight when the next batch is encoded.
   */
  encodeFanout(records: Uint8Array, len: number): Uint8Array | null {
    const config = this.headerConfig();
    const plan = (this.planner ??= new JsFraming(this.u8, this.u32, config));
    // WebSocket: binary server frames, unmasked, as fanout() encodes them.
    if (config.framing === FRAMING_WEBSOCKET) plan.ws.wsEncoding(WS_BINARY, false, 0);
    let total = 0;
    for (let p = 0; len - p >= 4;) {
      const l = fanoutRecordLength(records, p);
      if (l > len - p - 4 || plan.plan(l) !== SEND_OK) return null;
      total += plan.encPrefix + l + plan.encTrailer;
      p += fanoutRecordSize(l);
    }
    const buffer = new ArrayBuffer((total + 3) & ~3); // whole words: the delimiter search reads them
    const u8 = new Uint8Array(buffer);
    const F = new JsFraming(u8, new Uint32Array(buffer), config);
    if (config.framing === FRAMING_WEBSOCKET) F.ws.wsEncoding(WS_BINARY, false, 0);
    for (let p = 0, q = 0; q < total;) {
      const l = fanoutRecordLength(records, p);
      F.plan(l);
      const at = q + F.encPrefix;
      u8.set(records.subarray(p + 4, p + 4 + l), at);
      if (config.framing === FRAMING_DELIMITER && F.delimiterIn(0, 0x7fffffff, at, l, true)) return null;
      F.encode(0, 0x7fffffff, q, l);
      q = at + l + F.encTrailer;
      p += fanoutRecordSize(l);
    }
    return new Uint8Array(buffer, 0, total);
  }

  frameCount(): number {
    return this.u32[LAYOUT_BASE / 4 + H_FRAME_COUNT]!;
  }

  frame(i: number, list: Uint32Array = this.frames): Uint8Array {
    return new Uint8Array(this.memory, list[FRAME_WORDS * i + F_ADDR]!, list[FRAME_WORDS * i + F_LEN]!);
  }

  frameEnd(i: number, list: Uint32Array = this.frames): number {
    return list[FRAME_WORDS * i + F_END]!;
  }

  frameKind(i: number, list: Uint32Array = this.frames): number {
    return this.config.framing === FRAMING_WEBSOCKET ? list[FRAME_WORDS * i + F_KIND]! : 0;
  }

  /** Index in u32 of a slot's websocket word w. */
  private wsWord(slot: number, w: number): number {
    return (this.config.regions.ws + slot * WS_SLOT_SIZE) / 4 + w;
  }

  websocketClient(slot: number): void {
    if (this.config.framing === FRAMING_WEBSOCKET) this.u32[this.wsWord(slot, W_WS_FLAGS)]! |= WS_FLAG_CLIENT;
  }

  /** The mask key for a frame sent on slot: a random one on a WebSocket client slot, else 0 (not used). */
  private keyFor(slot: number): number {
    if (this.config.framing !== FRAMING_WEBSOCKET || (this.u32[this.wsWord(slot, W_WS_FLAGS)]! & WS_FLAG_CLIENT) === 0) return 0;
    return this.maskKey() >>> 0;
  }

  beginFrame(slot: number, len: number, kind: number = WS_BINARY): number {
    return this.begin(slot, len, kind, this.keyFor(slot));
  }

  saveFrames(from: number): Uint32Array {
    return this.frames.slice(FRAME_WORDS * from, FRAME_WORDS * this.frameCount());
  }

  /**
   * Host-side like release(): the host owns RX_TAIL in handler mode. Once every
   * buffered byte is consumed, all positions go back to 0, so the next read lands
   * at the ring's start (the cached whole-ring span, and no frame wraps).
   */
  consume(slot: number, end: number): void {
    if (end !== this.slotWord(slot, W_RX_HEAD)) return this.setSlotWord(slot, W_RX_TAIL, end);
    // Everything consumed (so everything listed: no partial scan is pending either).
    this.setSlotWord(slot, W_RX_HEAD, 0);
    this.setSlotWord(slot, W_LISTED, 0);
    this.setSlotWord(slot, W_SCAN, 0);
    this.setSlotWord(slot, W_RX_TAIL, 0);
  }

  /**
   * The core gives back what an idle slot does not use, and the host its views of
   * them: an idle connection keeps no view of a ring it no longer has.
   */
  shrink(slot: number): number {
    const freed = this.shrinkRings(slot);
    if (this.txSize(slot) === 0) this.txFromStart[slot] = undefined;
    if (this.rxSize(slot) === 0) this.wholeRx[slot] = undefined;
    return freed;
  }

  hold(slot: number, held: boolean): void {
    this.setSlotWord(slot, W_HOLD, held ? 1 : 0);
  }

  /**
   * Written once, here, for both cores: it decodes with the TypeScript twin's
   * framing (js-framing.ts), which the differential tests hold byte-identical to
   * the core's, over this memory; its own decoder, so no core state is touched.
   */
  bufferedFrames(slot: number): number {
    const head = this.slotWord(slot, W_RX_HEAD);
    let pos = this.config.mode === MODE_ECHO ? this.slotWord(slot, W_RX_TAIL) : this.slotWord(slot, W_LISTED);
    if (this.config.framing === FRAMING_WEBSOCKET) {
      // From the next frame of an open message (its fragments so far are not frames any more); none after a close.
      if (this.u32[this.wsWord(slot, W_WS_FLAGS)]! & WS_FLAG_CLOSED) return 0;
      pos = (pos + this.u32[this.wsWord(slot, W_WS_RAW)]!) >>> 0;
    }
    if (head === pos) return 0;
    if (this.config.framing === FRAMING_RAW) return 1;
    const framing = (this.scanner ??= new JsFraming(this.u8, this.u32, this.headerConfig()));
    const base = this.slotWord(slot, W_RX_BASE);
    let n = 0;
    // A relay's frame in progress: its rest comes first (length framings skip it; a delimiter's is searched with what went).
    let done = this.cutThrough(slot);
    const left = this.cutLeft(slot);
    if (left > 0) {
      if (((head - pos) >>> 0) < left) return 0;
      pos = (pos + left) >>> 0;
      n = 1;
      done = 0;
    }
    for (;;) {
      const wire = framing.decode(base, this.rxSize(slot), pos, (head - pos) >>> 0, 0, done);
      if (wire <= 0) return n; // incomplete, or a framing error: not a frame
      n++;
      done = 0;
      pos = (pos + wire) >>> 0;
    }
  }

  errorSize(slot: number): number {
    return this.slotWord(slot, W_ERROR_SIZE);
  }

  forwardTo(slot: number, peer: number): void {
    const to = peer === slot ? 0 : peer + 1;
    if (this.slotWord(slot, W_PEER) === to) return;
    this.setSlotWord(slot, W_PEER, to);
    this.setSlotWord(slot, W_CUT_DONE, 0);
    this.setSlotWord(slot, W_CUT_LEFT, 0);
  }

  // Echo mode keeps the cut-through state in handler-mode words (slotAliases in the contract).
  cutThrough(slot: number): number {
    return this.config.mode === MODE_ECHO ? this.slotWord(slot, W_CUT_DONE) : 0;
  }

  cutLeft(slot: number): number {
    return this.config.mode === MODE_ECHO ? this.slotWord(slot, W_CUT_LEFT) : 0;
  }

  send(slot: number, payload: Uint8Array, kind: number = WS_BINARY): number {
    // Lengths are u32 in the cores; a payload that long could never fit a tx ring.
    if (payload.length > 0xffffffff) return SEND_TOO_LARGE;
    // A payload in this memory (a frame forwarded by its handler): one call into the core.
    const r = payload.buffer === this.memory ? this.sendFrom(slot, payload.byteOffset, payload.length, kind, this.keyFor(slot)) : this.reserve(slot, payload.length, kind);
    // Not in the ring now (it waits for room, or streams through it later): its bytes are checked now, whole.
    if (r === SEND_FULL || r === SEND_TOO_LARGE) return this.check(payload, kind) === SEND_DELIMITER ? SEND_DELIMITER : r;
    if (r !== SEND_OK || payload.buffer === this.memory) return r;
    // The core checks the payload's bytes where they are now, in the ring, before it publishes them.
    this.copyIntoTx(slot, this.slotWord(slot, W_RESERVED), payload);
    return this.commit(slot, payload.length, kind, this.keyFor(slot));
  }

  /**
   * The length first (plan), then, with delimiter framing, the bytes (scan): in place
   * when they are in this memory, else copied through the core's scratch buffer a piece
   * at a time, each piece starting delimLen - 1 bytes before the end of the last, so a
   * delimiter across two pieces is seen whole.
   */
  check(payload: Uint8Array, kind: number = WS_BINARY): number {
    const len = payload.length;
    const r = len > 0xffffffff ? SEND_TOO_LARGE : this.plan(len, kind);
    if ((r !== SEND_OK && r !== SEND_TOO_LARGE) || this.config.framing !== FRAMING_DELIMITER) return r;
    if (payload.buffer === this.memory) return this.scan(payload.byteOffset, len, true) === SEND_OK ? r : SEND_DELIMITER;
    const overlap = this.config.delimiter.length - 1;
    for (let at = 0; ; at += SCRATCH_SIZE - overlap) {
      const n = Math.min(SCRATCH_SIZE, len - at);
      this.u8.set(payload.subarray(at, at + n), SCRATCH_BASE);
      const last = at + n === len;
      if (this.scan(SCRATCH_BASE, n, last) !== SEND_OK) return SEND_DELIMITER;
      if (last) return r;
    }
  }

  putPiece(slot: number, bytes: Uint8Array): number {
    const head = this.slotWord(slot, W_TX_HEAD);
    const n = Math.min(bytes.length, this.txSize(slot) - ((head - this.slotWord(slot, W_TX_TAIL)) >>> 0));
    if (n === 0) return 0;
    this.copyIntoTx(slot, head, n === bytes.length ? bytes : bytes.subarray(0, n));
    this.putBytes(slot, n);
    return n;
  }

  /**
   * The host owns the tx tail, so releasing is host-side bookkeeping, the same
   * for both cores and no call into WASM: once the ring is empty both positions
   * go back to 0, so the next reply is written from the ring's start.
   */
  release(slot: number, n: number): void {
    const at = this.slotWords + slot * (SLOT_SIZE / 4);
    const tail = (this.u32[at + W_TX_TAIL]! + n) >>> 0;
    if (tail === this.u32[at + W_TX_HEAD]) {
      this.u32[at + W_TX_HEAD] = 0;
      this.u32[at + W_TX_TAIL] = 0;
    } else {
      this.u32[at + W_TX_TAIL] = tail;
    }
  }

  rxFree(slot: number): number {
    if (this.rxSize(slot) === 0) return this.config.minRing;
    const tail = this.slotWord(slot, W_RX_TAIL);
    // W_RINGS bit 24: the ring wants to grow and a listed frame pins it (handler mode; see received() in assembly/index.ts).
    if (this.slotWord(slot, W_RINGS) >>> 24 && this.config.mode !== MODE_ECHO && this.slotWord(slot, W_LISTED) !== tail) return 0;
    return this.rxSize(slot) - ((this.slotWord(slot, W_RX_HEAD) - tail) >>> 0);
  }

  readSpan(slot: number): Uint8Array {
    const head = this.slotWord(slot, W_RX_HEAD);
    const size = this.rxSize(slot);
    if (size === 0) return NO_RING;
    const base = this.slotWord(slot, W_RX_BASE);
    if (head === 0 && this.slotWord(slot, W_RX_TAIL) === 0) {
      const whole = this.wholeRx[slot];
      if (whole !== undefined && whole.byteOffset === base && whole.length === size) return whole;
      return (this.wholeRx[slot] = new Uint8Array(this.memory, base, size));
    }
    const free = this.rxFree(slot);
    const at = head & (size - 1);
    return new Uint8Array(this.memory, base + at, Math.min(free, size - at));
  }

  rxBuffered(slot: number): number {
    return (this.slotWord(slot, W_RX_HEAD) - this.slotWord(slot, W_RX_TAIL)) >>> 0;
  }

  txPending(slot: number): number {
    return (this.slotWord(slot, W_TX_HEAD) - this.slotWord(slot, W_TX_TAIL)) >>> 0;
  }

  txChunk(slot: number, skip: number): Uint8Array {
    const size = this.txSize(slot);
    const base = this.slotWord(slot, W_TX_BASE);
    const start = (this.slotWord(slot, W_TX_TAIL) + skip) >>> 0;
    const left = ((this.slotWord(slot, W_TX_HEAD) - start) >>> 0);
    const at = start & (size - 1);
    const n = Math.min(left, size - at);
    if (at !== 0) return new Uint8Array(this.memory, base + at, n);
    const last = this.txFromStart[slot];
    if (last !== undefined && last.length === n && last.byteOffset === base) return last;
    return (this.txFromStart[slot] = new Uint8Array(this.memory, base, n));
  }
}
