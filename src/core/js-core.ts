// The JS core: twin of assembly/index.ts, function for function, over the same
// layout in a SharedArrayBuffer, so that for the same bytes in, both cores give
// the same bytes out, the same errors and the same memory image. It is a twin,
// not a wrapper: nothing here calls the WASM module. Like the WASM core it gets
// its configuration only from the header the host wrote (readHeaderConfig() is
// loadConfig()), and it addresses memory in bytes: `s` is a slot's address.
// Positions are u32 counters; `>>> 0` keeps them in u32 after a sum or difference.

import type { CoreConfig } from './config.ts';
import { CoreBase, fanoutRecordSize } from './core.ts';
import { writeHeader } from './header.ts';
import { JsFraming } from './js-framing.ts';
import { JsPool } from './js-pool.ts';
import { ringToRing } from './js-ring.ts';
import {
  DELIM_MAX, F_ADDR, F_END, F_LEN, FRAME_WORDS, FRAMING_DELIMITER, FRAMING_RAW, H_FRAME_COUNT, H_FREE_HEAD, H_MAGIC, H_OPEN, H_STAGE, H_STAGE_LOG, H_VERSION,
  HANDOFF_MIN, HEADER_CONFIG_WORDS, HEADER_SIZE, INIT_BAD_CONFIG, INIT_MEMORY_TOO_SMALL, INIT_NO_HEADER, INIT_OK, LAYOUT_BASE,
  LAYOUT_VERSION, MAGIC, MODE_ECHO, OPEN_NO_MEMORY, OPEN_NO_SLOT, PAGE_SIZE, R_BLOCKED, R_DONE, R_MORE, R_NO_MEMORY, readHeaderConfig, S_ACCEPTED, S_BYTES_IN, S_BYTES_OUT,
  S_CONNECTIONS, S_ERROR_BY_CODE, S_ERRORS, S_FRAMES_IN, S_FRAMES_OUT, S_POOL_EXHAUSTED, SEND_DELIMITER, SEND_FULL, SEND_NO_MEMORY, SEND_OK, SEND_TOO_LARGE, SLOT_SIZE, SLOT_STATE_WORDS,
  FRAMING_WEBSOCKET, W_WS_FLAGS, W_WS_TX_DONE, W_WS_TX_KEY, WS_BINARY, WS_FLAG_CLIENT, WS_SLOT_SIZE,
  STATS_SIZE, RELAY_RING, W_CUT_DONE, W_CUT_LEFT, W_ERROR, W_ERROR_SIZE, W_HOLD, W_LISTED, W_NEXT_FREE, W_PEER, W_RESERVED, W_RINGS, W_RX_BASE, W_RX_HEAD, W_RX_TAIL, W_SCAN, W_STATE,
  W_TX_BASE, W_TX_HEAD, W_TX_TAIL, type HeaderConfig,
} from './layout.ts';

const header = (word: number) => LAYOUT_BASE + word * 4;

export class JsCore extends CoreBase {
  readonly kind = 'js' as const;
  /** The configuration words, read by init() (assembly/config.ts's globals). */
  private C!: HeaderConfig;
  /** The framing module's state (assembly/framing.ts's globals). */
  private F!: JsFraming;
  /** The pool (assembly/pool.ts's globals and functions). */
  private P!: JsPool;
  /** Handler mode: 1 (an rx segment is the ring and its pad); echo: 0. */
  private padLog = 0;
  private rxTopLog = 0;
  private txTopLog = 0;
  /** A relay's largest rings (RELAY_RING, or rxSize/txSize if smaller), log2. */
  private relayRxLog = 0;
  private relayTxLog = 0;

  /** A new core; or one on the memory of `reuse`, a JS core that will not be used again. */
  constructor(config: CoreConfig, reuse?: JsCore) {
    // Whole 64 KiB pages, as the WASM core's memory has.
    const fits = reuse && reuse.memory.byteLength >= config.regions.total;
    const memory = fits ? reuse.memory : new SharedArrayBuffer(Math.ceil(config.regions.total / PAGE_SIZE) * PAGE_SIZE);
    if (fits) new Uint8Array(memory).fill(0, LAYOUT_BASE, reuse.config.regions.total); // no core wrote past its total
    writeHeader(memory, config);
    super(config, memory);
    const r = this.init();
    if (r !== INIT_OK) throw new Error(`JS core refused the header: init() returned ${r} (INIT_* in contract/core-contract.ts)`);
  }

  private load(addr: number): number {
    return this.u32[addr >>> 2]!;
  }
  private store(addr: number, v: number): void {
    this.u32[addr >>> 2] = v;
  }
  private slotAddr(slot: number): number {
    return this.C.slotsOff + slot * SLOT_SIZE;
  }
  /** A slot's websocket words (websocket framing only). */
  private wsAddr(slot: number): number {
    return this.C.wsOff + slot * WS_SLOT_SIZE;
  }
  /** Websocket framing: the frame the next plan() is for (kind, and masked with key on a client slot). */
  private wsFrame(slot: number, kind: number, key: number): void {
    if (this.C.framing === FRAMING_WEBSOCKET) this.F.ws.wsEncoding(kind, (this.load(this.wsAddr(slot) + W_WS_FLAGS * 4) & WS_FLAG_CLIENT) !== 0, key);
  }
  private word(s: number, w: number): number {
    return this.u32[(s >>> 2) + w]!;
  }
  private setWord(s: number, w: number, v: number): void {
    this.u32[(s >>> 2) + w] = v;
  }
  private count(counter: number, n: number): void {
    if (n !== 0) this.stats.add(counter, n);
  }

  // ---- the slot's rings: sizes in W_RINGS (log2, a byte each; 0: no ring) ----

  private rxLog(s: number): number {
    return this.word(s, W_RINGS) & 0xff;
  }
  private txLog(s: number): number {
    return (this.word(s, W_RINGS) >>> 8) & 0xff;
  }
  private wantLog(s: number): number {
    return (this.word(s, W_RINGS) >>> 16) & 0xff;
  }
  private rxWanted(s: number): number {
    return this.word(s, W_RINGS) >>> 24;
  }
  private setRings(s: number, rx: number, tx: number, want: number, rxWant: number): void {
    this.setWord(s, W_RINGS, (rx | (tx << 8) | (want << 16) | (rxWant << 24)) >>> 0);
  }
  private txSizeOf(s: number): number {
    const k = this.txLog(s);
    return k === 0 ? 0 : 2 ** k;
  }
  /** log2 of the smallest ring of at least n bytes, within [minLog, top]. */
  private fitLog(n: number, top: number): number {
    if (n <= 2 ** this.P.minLog) return this.P.minLog;
    const k = 32 - Math.clz32(n - 1);
    return k < top ? k : top;
  }
  private rxMovable(s: number): boolean {
    return this.C.mode === MODE_ECHO || this.word(s, W_LISTED) === this.word(s, W_RX_TAIL);
  }
  private noMemory(): void {
    this.count(S_POOL_EXHAUSTED, 1);
  }

  /** Grow the rx ring to fit `need` bytes, else four times, up to rxSize, its bytes moved to its start (see assembly/index.ts). */
  private growRx(s: number, need: number): boolean {
    const k = this.rxLog(s);
    const to = need > 2 ** k ? this.fitLog(need, this.rxTopLog) : Math.min(k + 2, this.rxTopLog);
    const seg = this.P.take(to + this.padLog);
    if (seg === 0) return false;
    const old = this.word(s, W_RX_BASE), tail = this.word(s, W_RX_TAIL), n = (this.word(s, W_RX_HEAD) - tail) >>> 0;
    ringToRing(this.u8, old, 2 ** k, tail, seg, 2 ** to, 0, n);
    this.P.give(old, k + this.padLog);
    this.setWord(s, W_RX_BASE, seg);
    this.setWord(s, W_RX_TAIL, 0);
    if (this.C.mode !== MODE_ECHO) this.setWord(s, W_LISTED, 0); // in echo mode a relay keeps W_CUT_DONE there (slotAliases)
    this.setWord(s, W_RX_HEAD, n);
    this.setRings(s, to, this.txLog(s), this.wantLog(s), 0);
    return true;
  }

  /** Echo: hand a frame's rx segment to the empty tx ring of t instead of copying it (see assembly/index.ts). */
  private handOff(s: number, t: number, pos: number, wire: number, rxHead: number): boolean {
    const k = this.rxLog(s);
    if (k > this.txTopLog) return false;
    const rest = (rxHead - pos - wire) >>> 0;
    const to = this.fitLog(rest, this.rxTopLog);
    const seg = this.P.take(to);
    if (seg === 0) return false;
    const old = this.word(s, W_RX_BASE);
    ringToRing(this.u8, old, 2 ** k, (pos + wire) >>> 0, seg, 2 ** to, 0, rest);
    if (this.txLog(t) !== 0) this.P.give(this.word(t, W_TX_BASE), this.txLog(t));
    this.setWord(t, W_TX_BASE, old);
    this.setWord(t, W_TX_TAIL, pos);
    this.setRings(t, this.rxLog(t), k, 0, this.rxWanted(t));
    this.setWord(s, W_RX_BASE, seg);
    this.setWord(s, W_RX_TAIL, 0);
    this.setWord(s, W_RX_HEAD, rest);
    this.setRings(s, to, this.txLog(s), this.wantLog(s), 0);
    return true;
  }

  /** Is the tx ring empty while an earlier send found it too small? Then it grows now (assembly/index.ts txWantsGrowth). */
  private txWantsGrowth(t: number, head: number): boolean {
    return head === this.word(t, W_TX_TAIL) && this.wantLog(t) > this.txLog(t);
  }

  private makeTxRoom(t: number, head: number, need: number, top: number): boolean {
    const k = this.txLog(t);
    const fit = this.fitLog(need, this.txTopLog);
    if (head !== this.word(t, W_TX_TAIL)) {
      // For the bytes it holds and these, up to `top` (a relay's cap), or as large as these alone need.
      const want = this.fitLog(((head - this.word(t, W_TX_TAIL)) >>> 0) + need, fit > top ? fit : top);
      if (want > this.wantLog(t)) this.setRings(t, this.rxLog(t), k, want, this.rxWanted(t));
      return true;
    }
    let want = this.wantLog(t) > fit ? this.wantLog(t) : fit;
    if (want <= k) return true;
    // Empty: the old ring goes back first, so that it can merge into the new one.
    if (k !== 0) this.P.give(this.word(t, W_TX_BASE), k);
    let seg = this.P.take(want);
    // No segment for the size noted earlier, but the ring it had fits this frame: keep that size.
    if (seg === 0 && fit <= k) { want = k; seg = this.P.take(k); }
    this.setWord(t, W_TX_BASE, seg);
    this.setRings(t, this.rxLog(t), seg === 0 ? 0 : want, 0, this.rxWanted(t));
    return seg !== 0;
  }

  /**
   * Read the configuration the host wrote in the header, zero the state words, the
   * stats and the pool, and put every slot on the free list. Returns INIT_OK, or why
   * not. Nothing from an earlier init() on the same memory survives it (a fresh
   * JsFraming is resetFraming(), a fresh JsPool resetPool()).
   */
  init(): number {
    if (this.load(header(H_MAGIC)) !== MAGIC || this.load(header(H_VERSION)) !== LAYOUT_VERSION) return INIT_NO_HEADER;
    const C = (this.C = readHeaderConfig(this.memory));
    if (C.total > this.memory.byteLength) return INIT_MEMORY_TOO_SMALL;
    if (C.delimLen > DELIM_MAX) return INIT_BAD_CONFIG;
    if ((C.framing === FRAMING_WEBSOCKET) !== (C.wsOff !== 0) || (C.framing === FRAMING_WEBSOCKET && C.mode === MODE_ECHO)) return INIT_BAD_CONFIG;
    this.F = new JsFraming(this.u8, this.u32, C);
    this.padLog = C.mode === MODE_ECHO ? 0 : 1;
    this.rxTopLog = 31 - Math.clz32(C.rxSize);
    this.txTopLog = 31 - Math.clz32(C.txSize);
    const relayLog = 31 - Math.clz32(RELAY_RING);
    this.relayRxLog = Math.min(this.rxTopLog, relayLog);
    this.relayTxLog = Math.min(this.txTopLog, relayLog);
    const top = Math.max(this.rxTopLog + this.padLog, this.txTopLog);
    const pow2 = (n: number) => n > 0 && (n & (n - 1)) === 0;
    if (!pow2(C.minRing) || C.minRing < 16 || C.minRing > C.rxSize || C.minRing > C.txSize) return INIT_BAD_CONFIG;
    if (C.arenaSize % 2 ** top !== 0 || C.arenaOff % 4096 !== 0) return INIT_BAD_CONFIG;
    this.u8.fill(0, header(HEADER_CONFIG_WORDS), LAYOUT_BASE + HEADER_SIZE);
    this.u8.fill(0, C.statsOff, C.statsOff + STATS_SIZE);
    this.P = new JsPool(this.u8, this.u32, C, this.stats, top);
    this.store(header(H_FREE_HEAD), C.slots > 0 ? 1 : 0);
    for (let i = 0; i < C.slots; i++) {
      const s = this.slotAddr(i);
      this.u8.fill(0, s, s + SLOT_SIZE);
      this.setWord(s, W_NEXT_FREE, i + 1 < C.slots ? i + 2 : 0);
    }
    return INIT_OK;
  }

  open(): number {
    const head = this.load(header(H_FREE_HEAD));
    if (head === 0) return -OPEN_NO_SLOT;
    const rx = this.P.take(this.P.minLog + this.padLog);
    if (rx === 0) {
      this.noMemory();
      return -OPEN_NO_MEMORY;
    }
    const slot = head - 1;
    const s = this.slotAddr(slot);
    this.store(header(H_FREE_HEAD), this.word(s, W_NEXT_FREE));
    this.store(header(H_OPEN), this.load(header(H_OPEN)) + 1);
    for (let w = 0; w < SLOT_STATE_WORDS; w++) this.setWord(s, w, 0);
    if (this.C.framing === FRAMING_WEBSOCKET) this.u8.fill(0, this.wsAddr(slot), this.wsAddr(slot) + WS_SLOT_SIZE);
    this.setWord(s, W_STATE, 1);
    this.setWord(s, W_RX_BASE, rx);
    this.setRings(s, this.P.minLog, 0, 0, 0);
    this.count(S_CONNECTIONS, 1);
    this.count(S_ACCEPTED, 1);
    return slot;
  }

  close(slot: number): void {
    const s = this.slotAddr(slot);
    if (this.word(s, W_STATE) === 0) return;
    if (this.rxLog(s) !== 0) this.P.give(this.word(s, W_RX_BASE), this.rxLog(s) + this.padLog);
    if (this.txLog(s) !== 0) this.P.give(this.word(s, W_TX_BASE), this.txLog(s));
    this.setWord(s, W_STATE, 0);
    this.setWord(s, W_NEXT_FREE, this.load(header(H_FREE_HEAD)));
    this.store(header(H_FREE_HEAD), slot + 1);
    this.store(header(H_OPEN), this.load(header(H_OPEN)) - 1);
    this.stats.add(S_CONNECTIONS, -1);
  }

  protected shrinkRings(slot: number): number {
    const s = this.slotAddr(slot);
    if (this.word(s, W_STATE) === 0) return 0;
    const P = this.P;
    let freed = 0;
    let rx = this.rxLog(s), tx = this.txLog(s);
    if (rx !== 0 && this.word(s, W_RX_HEAD) === this.word(s, W_RX_TAIL)) {
      // Empty: its positions are back at 0 (see assembly/index.ts).
      P.give(this.word(s, W_RX_BASE), rx + this.padLog);
      this.setWord(s, W_RX_BASE, 0);
      freed += 2 ** (rx + this.padLog);
      rx = 0;
    }
    if (tx !== 0 && this.word(s, W_TX_HEAD) === this.word(s, W_TX_TAIL)) {
      P.give(this.word(s, W_TX_BASE), tx);
      this.setWord(s, W_TX_BASE, 0);
      freed += 2 ** tx;
      tx = 0;
    }
    this.setRings(s, rx, tx, 0, 0);
    return freed;
  }

  takeRx(slot: number): number {
    const s = this.slotAddr(slot);
    if (this.rxLog(s) !== 0) return R_DONE;
    const rx = this.P.take(this.P.minLog + this.padLog);
    if (rx === 0) {
      this.noMemory();
      return R_NO_MEMORY;
    }
    this.setWord(s, W_RX_BASE, rx);
    this.setRings(s, this.P.minLog, this.txLog(s), this.wantLog(s), 0);
    return R_DONE;
  }

  received(slot: number, n: number): number {
    const s = this.slotAddr(slot);
    const head = (this.word(s, W_RX_HEAD) + n) >>> 0;
    this.setWord(s, W_RX_HEAD, head);
    this.count(S_BYTES_IN, n);
    if (this.rxWanted(s) !== 0 && this.rxMovable(s) && this.rxLog(s) < this.rxTopLog) this.growRx(s, 0);
    const k = this.rxLog(s);
    const filled = n !== 0 && ((this.word(s, W_RX_HEAD) - this.word(s, W_RX_TAIL)) >>> 0) === 2 ** k;
    const r = this.process(slot);
    // A relay's ring grows for throughput only up to RELAY_RING: it forwards frames as they arrive.
    const top = this.word(s, W_PEER) !== 0 ? this.relayRxLog : this.rxTopLog;
    if (filled && (r === R_DONE || r === R_BLOCKED) && this.rxLog(s) === k && k < top) {
      if (!this.rxMovable(s)) this.setRings(s, k, this.txLog(s), this.wantLog(s), 1);
      else this.growRx(s, 0);
    }
    return r;
  }

  process(slot: number): number {
    const C = this.C;
    const F = this.F;
    const s = this.slotAddr(slot);
    this.store(header(H_FRAME_COUNT), 0);
    const echo = C.mode === MODE_ECHO;
    if (!echo && this.word(s, W_HOLD) !== 0) return R_DONE;
    const err = this.word(s, W_ERROR);
    if (err !== 0) return -err;
    // No rx ring (idle, shrink()): nothing buffered to decode.
    if (this.rxLog(s) === 0) return R_DONE;
    if (C.framing === FRAMING_WEBSOCKET) {
      const W = F.ws;
      let r = W.wsProcess(s, this.wsAddr(slot));
      if (r < 0) this.failed(s, -r, W.wsErrorSize);
      this.store(header(H_FRAME_COUNT), W.wsListed);
      this.count(S_FRAMES_IN, W.wsListed);
      if (r === R_DONE && !this.growForFrame(s, W.wsNeed)) {
        r = R_NO_MEMORY;
        this.noMemory();
      }
      return r;
    }
    // Echo forwards each whole frame to a tx ring: its own slot's, or its peer's (a relay,
    // which cuts frames through: see assembly/index.ts; done and left are W_CUT_DONE and W_CUT_LEFT).
    const peer = this.word(s, W_PEER);
    const t = peer === 0 ? s : this.slotAddr(peer - 1);
    const relay = echo && peer !== 0;
    const txTop = relay ? this.relayTxLog : this.txTopLog;
    let done = relay ? this.word(s, W_CUT_DONE) : 0, left = relay ? this.word(s, W_CUT_LEFT) : 0;
    let rxBase = this.word(s, W_RX_BASE);
    let rxSize = 2 ** this.rxLog(s);
    let txBase = this.word(t, W_TX_BASE), txSize = this.txSizeOf(t);
    let rxHead = this.word(s, W_RX_HEAD), txTail = this.word(t, W_TX_TAIL);
    // Where decoding starts: the tail in echo mode, the end of the listed frames in handler mode.
    let pos = echo ? this.word(s, W_RX_TAIL) : this.word(s, W_LISTED);
    let txHead = this.word(t, W_TX_HEAD), scan = this.word(s, W_SCAN);
    let frames = 0, framesIn = 0, bytesOut = 0, need = 0;
    let result = R_DONE;
    while (rxHead !== pos) {
      const avail = (rxHead - pos) >>> 0;
      let wire = 0, off = 0, len = 0;
      // A relay's piece of a frame (cut-through): it may go in parts, as the tx ring has room.
      let piece = false;
      // Length framings: the piece's frame's wire bytes from pos to its end (delimiter: 0).
      let rest = 0;
      if (C.framing === FRAMING_RAW) {
        // A raw frame is whatever has arrived: as much as the tx ring takes (echo),
        // or the contiguous run up to the ring's end (handler: never a copy).
        let room = echo ? txSize - ((txHead - txTail) >>> 0) : rxSize - (pos & (rxSize - 1));
        if (echo && (avail > room || this.txWantsGrowth(t, txHead))) {
          if (!this.makeTxRoom(t, txHead, avail, txTop)) { result = R_NO_MEMORY; break; }
          txBase = this.word(t, W_TX_BASE); txSize = this.txSizeOf(t);
          room = txSize - ((txHead - txTail) >>> 0);
        }
        wire = avail < room ? avail : room;
        len = wire;
        if (wire === 0) { result = R_BLOCKED; break; }
      } else if (left !== 0) {
        // The rest of a length-framed frame in progress: what of it has arrived.
        rest = left;
        wire = avail < rest ? avail : rest;
        len = wire;
        piece = true;
      } else {
        const r = F.decode(rxBase, rxSize, pos, avail, scan, done);
        if (r === 0) {
          scan = F.scanned;
          if (!relay) { need = F.frameWire; break; }
          // A relay cuts the frame through: all of it that came, once its header is
          // validated; for a delimiter, the bytes searched without finding it.
          if (C.framing === FRAMING_DELIMITER) wire = scan;
          else { rest = F.frameWire; wire = rest === 0 ? 0 : avail; }
          if (wire === 0) break;
          len = wire;
          piece = true;
        } else if (r < 0) {
          this.failed(s, -r, F.tooLarge);
          F.tooLarge = 0;
          result = r;
          break;
        } else {
          wire = r; off = F.frameOff; len = F.frameLen;
        }
      }
      if (echo && !piece && wire >= HANDOFF_MIN && ((rxHead - pos - wire) >>> 0) < wire && txHead === txTail && this.handOff(s, t, pos, wire, rxHead)) {
        // The frame left with its segment; decoding goes on in the new rx ring, from its start.
        rxBase = this.word(s, W_RX_BASE); rxSize = 2 ** this.rxLog(s); rxHead = this.word(s, W_RX_HEAD);
        txBase = this.word(t, W_TX_BASE); txSize = this.txSizeOf(t); txTail = pos;
        txHead = (pos + wire) >>> 0;
        bytesOut += wire;
        pos = 0;
        scan = 0;
        framesIn++;
        continue;
      }
      if (echo) {
        if (wire > txSize - ((txHead - txTail) >>> 0) || this.txWantsGrowth(t, txHead)) {
          if (!this.makeTxRoom(t, txHead, wire, txTop)) { result = R_NO_MEMORY; break; }
          txBase = this.word(t, W_TX_BASE); txSize = this.txSizeOf(t);
          const room = txSize - ((txHead - txTail) >>> 0);
          if (wire > room) {
            if (!piece || room === 0) { result = R_BLOCKED; break; }
            wire = room;
          }
        }
        ringToRing(this.u8, rxBase, rxSize, pos, txBase, txSize, txHead, wire);
        txHead = (txHead + wire) >>> 0;
        bytesOut += wire;
      } else {
        if (frames === C.frameCap) { result = R_MORE; break; }
        const start = (pos + off) & (rxSize - 1);
        // A frame that wraps the ring's end: its wrapped part, from the ring's start,
        // goes to the pad right after the ring, and the frame reads as one run.
        if (start + len > rxSize) this.u8.copyWithin(rxBase + rxSize, rxBase, rxBase + start + len - rxSize);
        const entry = C.framesOff + frames * FRAME_WORDS * 4;
        this.store(entry + F_ADDR * 4, rxBase + start);
        this.store(entry + F_LEN * 4, len);
        this.store(entry + F_END * 4, (pos + wire) >>> 0);
        frames++;
      }
      pos = (pos + wire) >>> 0;
      if (piece) {
        done += wire;
        if (rest === 0) { scan -= wire; continue; } // delimiter: the scan goes on from the new pos
        left = rest - wire;
        if (left !== 0) continue;
      }
      // A frame is done (whole, or its last piece).
      done = 0;
      scan = 0;
      framesIn++;
    }
    if (echo) {
      if (pos === rxHead) { this.setWord(s, W_RX_HEAD, 0); pos = 0; scan = 0; }
      this.setWord(s, W_RX_TAIL, pos);
      if (relay) { this.setWord(s, W_CUT_DONE, done); this.setWord(s, W_CUT_LEFT, left); }
    } else {
      this.setWord(s, W_LISTED, pos);
    }
    this.setWord(s, W_SCAN, scan);
    this.setWord(t, W_TX_HEAD, txHead);
    this.store(header(H_FRAME_COUNT), frames);
    this.count(S_FRAMES_IN, framesIn);
    if (echo) {
      this.count(S_FRAMES_OUT, framesIn);
      this.count(S_BYTES_OUT, bytesOut);
    }
    if (result === R_DONE && !this.growForFrame(s, need)) result = R_NO_MEMORY;
    if (result === R_NO_MEMORY) this.noMemory();
    return result;
  }

  /** The slot's first error: number n (sticky), with its size or rule for the message, counted. */
  private failed(s: number, n: number, size: number): void {
    this.setWord(s, W_ERROR, n);
    this.setWord(s, W_ERROR_SIZE, size);
    this.count(S_ERRORS, 1);
    this.count(S_ERROR_BY_CODE + n, 1);
  }

  /** A ring full of one incomplete frame must grow; one whose header says it needs more grows now (see assembly/index.ts). */
  private growForFrame(s: number, need: number): boolean {
    const rxSize = 2 ** this.rxLog(s);
    if (rxSize >= this.C.rxSize || !this.rxMovable(s)) return true;
    const full = ((this.word(s, W_RX_HEAD) - this.word(s, W_RX_TAIL)) >>> 0) === rxSize;
    return !((full || need > rxSize) && !this.growRx(s, need) && full);
  }

  protected reserve(slot: number, len: number, kind: number): number {
    this.wsFrame(slot, kind, 0);
    const r = this.F.plan(len);
    if (r !== SEND_OK) return r;
    const s = this.slotAddr(slot);
    const txHead = this.word(s, W_TX_HEAD);
    const wire = this.F.encPrefix + len + this.F.encTrailer;
    if (wire > this.txSizeOf(s) - ((txHead - this.word(s, W_TX_TAIL)) >>> 0) || this.txWantsGrowth(s, txHead)) {
      if (!this.makeTxRoom(s, txHead, wire, this.txTopLog)) {
        this.noMemory();
        return SEND_NO_MEMORY;
      }
      if (wire > this.txSizeOf(s) - ((txHead - this.word(s, W_TX_TAIL)) >>> 0)) return SEND_FULL;
    }
    this.setWord(s, W_RESERVED, (txHead + this.F.encPrefix) >>> 0);
    return SEND_OK;
  }

  protected commit(slot: number, len: number, kind: number, key: number): number {
    const s = this.slotAddr(slot);
    if (this.C.framing === FRAMING_WEBSOCKET) {
      this.wsFrame(slot, kind, key);
      this.F.plan(len);
    }
    const txHead = this.word(s, W_TX_HEAD);
    const mask = this.txSizeOf(s) - 1;
    if (this.C.framing === FRAMING_DELIMITER && this.F.delimiterIn(this.word(s, W_TX_BASE), mask, this.word(s, W_RESERVED), len, true)) return SEND_DELIMITER;
    this.F.encode(this.word(s, W_TX_BASE), mask, txHead, len);
    const wire = this.F.encPrefix + len + this.F.encTrailer;
    this.setWord(s, W_TX_HEAD, (txHead + wire) >>> 0);
    this.count(S_FRAMES_OUT, 1);
    this.count(S_BYTES_OUT, wire);
    return SEND_OK;
  }

  protected sendFrom(slot: number, addr: number, len: number, kind: number, key: number): number {
    const r = this.reserve(slot, len, kind);
    if (r !== SEND_OK) return r;
    const s = this.slotAddr(slot);
    const base = this.word(s, W_TX_BASE), size = this.txSizeOf(s);
    const at = this.word(s, W_RESERVED) & (size - 1);
    const first = Math.min(len, size - at);
    this.u8.copyWithin(base + at, addr, addr + first);
    if (first < len) this.u8.copyWithin(base, addr + first, addr + len);
    return this.commit(slot, len, kind, key);
  }

  /** See assembly/index.ts. */
  growTx(slot: number, len: number): number {
    this.wsFrame(slot, WS_BINARY, 0);
    const r = this.F.plan(len);
    if (r !== SEND_OK) return r;
    const s = this.slotAddr(slot);
    const head = this.word(s, W_TX_HEAD), tail = this.word(s, W_TX_TAIL);
    const used = (head - tail) >>> 0;
    const need = used + this.F.encPrefix + len + this.F.encTrailer;
    const k = this.txLog(s);
    const want = this.fitLog(need, this.txTopLog);
    if (want > k) {
      const seg = this.P.take(want);
      if (seg === 0) {
        this.noMemory();
        return SEND_NO_MEMORY;
      }
      if (k !== 0) {
        ringToRing(this.u8, this.word(s, W_TX_BASE), 2 ** k, tail, seg, 2 ** want, tail, used);
        this.P.give(this.word(s, W_TX_BASE), k);
      }
      this.setWord(s, W_TX_BASE, seg);
      this.setRings(s, this.rxLog(s), want, 0, this.rxWanted(s));
    }
    return need <= this.txSizeOf(s) ? SEND_OK : SEND_FULL;
  }

  /** What send() of a len-byte payload would say of its length, without writing: SEND_OK, SEND_BAD_LENGTH or SEND_TOO_LARGE. */
  protected plan(len: number, kind: number): number {
    // Of no slot: sized as a server's frame, unmasked.
    if (this.C.framing === FRAMING_WEBSOCKET) this.F.ws.wsEncoding(kind, false, 0);
    return this.F.plan(len);
  }

  /** Delimiter framing: SEND_DELIMITER if the len bytes at addr hold the delimiter, else SEND_OK (see assembly/index.ts). */
  protected scan(addr: number, len: number, last: boolean): number {
    if (this.C.framing !== FRAMING_DELIMITER) return SEND_OK;
    return this.F.delimiterIn(addr, 0x7fffffff, 0, len, last) ? SEND_DELIMITER : SEND_OK;
  }

  // ---- a reply larger than the tx ring, streamed through it in pieces ----
  // beginFrame writes the prefix, the host writes payload pieces at the tx head as
  // room appears and publishes each with putBytes, and endFrame writes the trailer.

  /** Write the prefix of a frame for a len-byte payload: SEND_OK, SEND_FULL, SEND_BAD_LENGTH or SEND_NO_MEMORY (see assembly/index.ts). */
  protected begin(slot: number, len: number, kind: number, key: number): number {
    this.wsFrame(slot, kind, key);
    const r = this.F.plan(len);
    if (r !== SEND_OK && r !== SEND_TOO_LARGE) return r;
    const s = this.slotAddr(slot);
    const txHead = this.word(s, W_TX_HEAD);
    if (!this.makeTxRoom(s, txHead, this.C.txSize, this.txTopLog)) {
      this.noMemory();
      return SEND_NO_MEMORY;
    }
    if (this.F.encPrefix > this.txSizeOf(s) - ((txHead - this.word(s, W_TX_TAIL)) >>> 0)) return SEND_FULL;
    this.F.encodePrefix(this.word(s, W_TX_BASE), this.txSizeOf(s) - 1, txHead, len);
    this.setWord(s, W_TX_HEAD, (txHead + this.F.encPrefix) >>> 0);
    if (this.C.framing === FRAMING_WEBSOCKET) {
      // The pieces putBytes() publishes are masked with this key (a client slot's), from payload offset 0.
      this.setWord(this.wsAddr(slot), W_WS_TX_KEY, key >>> 0);
      this.setWord(this.wsAddr(slot), W_WS_TX_DONE, 0);
    }
    this.count(S_FRAMES_OUT, 1);
    this.count(S_BYTES_OUT, this.F.encPrefix);
    return SEND_OK;
  }

  /** The host wrote n payload bytes at the tx head (within the free room): publish them. */
  protected putBytes(slot: number, n: number): void {
    const s = this.slotAddr(slot);
    if (this.C.framing === FRAMING_WEBSOCKET) {
      const w = this.wsAddr(slot), done = this.word(w, W_WS_TX_DONE);
      this.wsFrame(slot, WS_BINARY, this.word(w, W_WS_TX_KEY));
      this.F.ws.wsMaskPayload(this.word(s, W_TX_BASE), this.txSizeOf(s), this.word(s, W_TX_HEAD), n, done);
      this.setWord(w, W_WS_TX_DONE, (done + n) >>> 0);
    }
    this.setWord(s, W_TX_HEAD, (this.word(s, W_TX_HEAD) + n) >>> 0);
    this.count(S_BYTES_OUT, n);
  }

  /** Write the trailer of a streamed frame: SEND_OK, or SEND_FULL until there is room for it. */
  endFrame(slot: number): number {
    const s = this.slotAddr(slot);
    const txHead = this.word(s, W_TX_HEAD);
    const n = this.F.trailerSize();
    if (n > this.txSizeOf(s) - ((txHead - this.word(s, W_TX_TAIL)) >>> 0)) return SEND_FULL;
    this.F.encodeTrailer(this.word(s, W_TX_BASE), this.txSizeOf(s) - 1, txHead);
    this.setWord(s, W_TX_HEAD, (txHead + n) >>> 0);
    this.count(S_BYTES_OUT, n);
    return SEND_OK;
  }

  // ---- fan-out: a batch of frames encoded once and copied into many tx rings (see assembly/index.ts) ----

  protected stage(bytes: number): number {
    let at = this.load(header(H_STAGE));
    const k = this.load(header(H_STAGE_LOG));
    if (at !== 0 && bytes !== 0 && bytes <= 2 ** k) return at;
    if (at !== 0) this.P.give(at, k);
    this.store(header(H_STAGE), 0);
    this.store(header(H_STAGE_LOG), 0);
    if (bytes === 0 || bytes > 2 ** this.P.topLog) return 0;
    const want = this.fitLog(bytes, this.P.topLog);
    at = this.P.take(want);
    if (at === 0) return 0;
    this.store(header(H_STAGE), at);
    this.store(header(H_STAGE_LOG), want);
    return at;
  }

  protected fanoutStaged(n: number, len: number): number {
    const F = this.F;
    const list = this.load(header(H_STAGE));
    if (list === 0) return 0;
    // WebSocket: binary server frames, unmasked (fan-out is a server's).
    if (this.C.framing === FRAMING_WEBSOCKET) F.ws.wsEncoding(WS_BINARY, false, 0);
    const first = list + n * 4, end = first + len;
    const top = 2 ** this.P.topLog;
    let frames = 0, total = 0;
    for (let p = first; end - p >= 4;) {
      const l = this.load(p);
      if (l > end - p - 4 || F.plan(l) !== SEND_OK) break;
      if (this.C.framing === FRAMING_DELIMITER && F.delimiterIn(p + 4, 0x7fffffff, 0, l, true)) break;
      const wire = F.encPrefix + l + F.encTrailer;
      if (wire > top - total) break;
      total += wire;
      frames++;
      p += fanoutRecordSize(l);
    }
    const k = frames === 0 ? 0 : this.fitLog(total, this.P.topLog);
    const enc = frames === 0 ? 0 : this.P.take(k);
    if (enc === 0) {
      this.u32.fill(0, list >>> 2, (list >>> 2) + n);
      return 0;
    }
    for (let i = 0, p = first, q = 0; i < frames; i++) {
      const l = this.load(p);
      F.plan(l);
      this.u8.copyWithin(enc + q + F.encPrefix, p + 4, p + 4 + l);
      F.encode(enc, 0x7fffffff, q, l);
      q += F.encPrefix + l + F.encTrailer;
      p += fanoutRecordSize(l);
    }
    let framesOut = 0, bytesOut = 0;
    for (let i = 0; i < n; i++) {
      const slot = this.load(list + i * 4);
      let took = 0, bytes = 0;
      const t = this.slotAddr(slot);
      if (slot < this.C.slots && this.word(t, W_STATE) !== 0) {
        const head = this.word(t, W_TX_HEAD);
        if (total > this.txSizeOf(t) - ((head - this.word(t, W_TX_TAIL)) >>> 0) || this.txWantsGrowth(t, head)) this.makeTxRoom(t, head, total, this.txTopLog);
        const room = this.txSizeOf(t) - ((head - this.word(t, W_TX_TAIL)) >>> 0);
        if (total <= room) {
          took = frames;
          bytes = total;
        } else {
          for (let p = first; took < frames; took++) {
            const l = this.load(p);
            F.plan(l);
            const wire = F.encPrefix + l + F.encTrailer;
            if (wire > room - bytes) break;
            bytes += wire;
            p += fanoutRecordSize(l);
          }
        }
        if (bytes !== 0) {
          ringToRing(this.u8, enc, 2 ** k, 0, this.word(t, W_TX_BASE), this.txSizeOf(t), head, bytes);
          this.setWord(t, W_TX_HEAD, (head + bytes) >>> 0);
        }
      }
      this.store(list + i * 4, took);
      framesOut += took;
      bytesOut += bytes;
    }
    this.P.give(enc, k);
    this.count(S_FRAMES_OUT, framesOut);
    this.count(S_BYTES_OUT, bytesOut);
    return frames;
  }

  nop(x: number): number {
    return x;
  }
}

