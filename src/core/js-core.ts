// The JS core: the same algorithm as assembly/ written in TypeScript over the
// same layout in a SharedArrayBuffer, so that for the same bytes in, both cores
// give the same bytes out, the same errors and the same memory state. It is a
// twin, not a wrapper: nothing here calls the WASM module. Positions are u32
// counters; `>>> 0` keeps them in u32 after every sum or difference.

import type { CoreConfig } from './config.ts';
import { CoreBase } from './core.ts';
import * as L from './layout.ts';

const { W_STATE, W_RX_HEAD, W_RX_TAIL, W_TX_HEAD, W_TX_TAIL, W_SCAN, W_ERROR, W_NEXT_FREE, W_RX_BASE, W_TX_BASE, W_RESERVED, W_LISTED, W_HOLD, FRAME_WORDS } = L;

export class JsCore extends CoreBase {
  readonly kind = 'js' as const;
  private readonly c: CoreConfig;
  private readonly slotBase: number; // u32 index of slot 0
  private readonly h: number; // u32 index of the header
  // What decode() found, like the AssemblyScript module's globals.
  private frameOff = 0;
  private frameLen = 0;
  private scanned = 0;
  private encPrefix = 0;
  private encTrailer = 0;
  private encValue = 0;

  constructor(config: CoreConfig) {
    super(config, new SharedArrayBuffer(config.regions.total));
    this.c = config;
    const r = config.regions;
    this.slotBase = r.slots / 4;
    this.h = L.LAYOUT_BASE / 4;
    const hv = [
      [L.H_MAGIC, L.MAGIC], [L.H_VERSION, L.LAYOUT_VERSION], [L.H_SLOTS, config.slots], [L.H_RX_SIZE, config.rxSize],
      [L.H_TX_SIZE, config.txSize], [L.H_FRAMING, config.framing], [L.H_MODE, config.mode], [L.H_MAX_FRAME, config.maxFrame],
      [L.H_LEN_OFFSET, config.lenOffset], [L.H_LEN_SIZE, config.lenSize], [L.H_LEN_BIG, config.lenBig],
      [L.H_LEN_ADJUST, config.lenAdjust >>> 0], [L.H_LEN_STRIP, config.lenStrip], [L.H_FIXED, config.fixed],
      [L.H_DELIM_LEN, config.delimiter.length], [L.H_STRIP_CR, config.stripCR], [L.H_FRAME_CAP, config.frameCap],
      [L.H_STATS_OFF, r.stats], [L.H_FRAMES_OFF, r.frames], [L.H_RX_PAD, r.rxPad], [L.H_SLOTS_OFF, r.slots],
      [L.H_RINGS_OFF, r.rings], [L.H_TOTAL, r.total], [L.H_FREE_HEAD, config.slots > 0 ? 1 : 0],
    ];
    for (const [w, v] of hv) this.u32[this.h + w!] = v!;
    this.u8.set(config.delimiter, L.LAYOUT_BASE + L.H_DELIM * 4);
    for (let i = 0; i < config.slots; i++) {
      this.set(i, W_NEXT_FREE, i + 1 < config.slots ? i + 2 : 0);
      const at = r.rings + i * (config.rxSize + r.rxPad + config.txSize);
      this.set(i, W_RX_BASE, at);
      this.set(i, W_TX_BASE, at + config.rxSize + r.rxPad);
    }
  }

  private get(slot: number, w: number): number {
    return this.u32[this.slotBase + slot * 16 + w]!;
  }
  private set(slot: number, w: number, v: number): void {
    this.u32[this.slotBase + slot * 16 + w] = v;
  }

  open(): number {
    const head = this.u32[this.h + L.H_FREE_HEAD]!;
    if (head === 0) return -1;
    const slot = head - 1;
    this.u32[this.h + L.H_FREE_HEAD] = this.get(slot, W_NEXT_FREE);
    this.u32[this.h + L.H_OPEN]!++;
    for (let w = W_STATE; w <= W_NEXT_FREE; w++) this.set(slot, w, 0);
    for (let w = W_RESERVED; w <= W_HOLD; w++) this.set(slot, w, 0);
    this.set(slot, W_STATE, 1);
    this.stats.add(L.S_CONNECTIONS, 1);
    this.stats.add(L.S_ACCEPTED, 1);
    return slot;
  }

  close(slot: number): void {
    if (this.get(slot, W_STATE) === 0) return;
    this.set(slot, W_STATE, 0);
    this.set(slot, W_NEXT_FREE, this.u32[this.h + L.H_FREE_HEAD]!);
    this.u32[this.h + L.H_FREE_HEAD] = slot + 1;
    this.u32[this.h + L.H_OPEN]!--;
    this.stats.add(L.S_CONNECTIONS, -1);
  }

  nop(x: number): number {
    return x;
  }

  received(slot: number, n: number): number {
    this.set(slot, W_RX_HEAD, (this.get(slot, W_RX_HEAD) + n) >>> 0);
    if (n) this.stats.add(L.S_BYTES_IN, n);
    return this.process(slot);
  }

  process(slot: number): number {
    const c = this.c;
    this.u32[this.h + L.H_FRAME_COUNT] = 0;
    const echo = c.mode === L.MODE_ECHO;
    if (!echo && this.get(slot, W_HOLD) !== 0) return L.R_DONE;
    const err = this.get(slot, W_ERROR);
    if (err !== 0) return -err;
    const rxBase = this.get(slot, W_RX_BASE), txBase = this.get(slot, W_TX_BASE);
    const rxSize = c.rxSize, txSize = c.txSize;
    const rxHead = this.get(slot, W_RX_HEAD), txTail = this.get(slot, W_TX_TAIL);
    let pos = echo ? this.get(slot, W_RX_TAIL) : this.get(slot, W_LISTED);
    let txHead = this.get(slot, W_TX_HEAD), scan = this.get(slot, W_SCAN);
    let frames = 0, framesIn = 0, bytesOut = 0;
    let result = L.R_DONE;
    while (rxHead !== pos) {
      const avail = (rxHead - pos) >>> 0;
      let wire: number, off = 0, len: number;
      if (c.framing === L.FRAMING_RAW) {
        const room = echo ? txSize - ((txHead - txTail) >>> 0) : rxSize - (pos & (rxSize - 1));
        wire = Math.min(avail, room);
        len = wire;
        if (wire === 0) { result = L.R_BLOCKED; break; }
      } else {
        const r = this.decode(rxBase, rxSize, pos, avail, scan);
        if (r === 0) { scan = this.scanned; break; }
        if (r < 0) {
          this.set(slot, W_ERROR, -r);
          this.stats.error(-r);
          result = r;
          break;
        }
        wire = r; off = this.frameOff; len = this.frameLen;
      }
      if (echo) {
        if (wire > txSize - ((txHead - txTail) >>> 0)) { result = L.R_BLOCKED; break; }
        this.ringToRing(rxBase, rxSize, pos, txBase, txSize, txHead, wire);
        txHead = (txHead + wire) >>> 0;
        bytesOut += wire;
      } else {
        if (frames === c.frameCap) { result = L.R_MORE; break; }
        const start = (pos + off) & (rxSize - 1);
        if (start + len > rxSize) this.u8.copyWithin(rxBase + rxSize, rxBase, rxBase + start + len - rxSize);
        const entry = frames * FRAME_WORDS;
        this.frames[entry] = rxBase + start;
        this.frames[entry + 1] = len;
        this.frames[entry + 2] = (pos + wire) >>> 0;
        frames++;
      }
      pos = (pos + wire) >>> 0;
      scan = 0;
      framesIn++;
    }
    if (echo) {
      if (pos === rxHead) { this.set(slot, W_RX_HEAD, 0); pos = 0; scan = 0; }
      this.set(slot, W_RX_TAIL, pos);
    } else {
      this.set(slot, W_LISTED, pos);
    }
    this.set(slot, W_SCAN, scan);
    this.set(slot, W_TX_HEAD, txHead);
    this.u32[this.h + L.H_FRAME_COUNT] = frames;
    if (framesIn) this.stats.add(L.S_FRAMES_IN, framesIn);
    if (echo && framesIn) {
      this.stats.add(L.S_FRAMES_OUT, framesIn);
      if (bytesOut) this.stats.add(L.S_BYTES_OUT, bytesOut);
    }
    return result;
  }

  protected reserve(slot: number, len: number): number {
    const r = this.plan(len);
    if (r !== L.SEND_OK) return r;
    const txHead = this.get(slot, W_TX_HEAD);
    if (this.encPrefix + len + this.encTrailer > this.c.txSize - ((txHead - this.get(slot, W_TX_TAIL)) >>> 0)) return L.SEND_FULL;
    this.set(slot, W_RESERVED, (txHead + this.encPrefix) >>> 0);
    return L.SEND_OK;
  }

  protected commit(slot: number, len: number): void {
    const txHead = this.get(slot, W_TX_HEAD);
    this.encode(this.get(slot, W_TX_BASE), this.c.txSize - 1, txHead, len);
    const wire = this.encPrefix + len + this.encTrailer;
    this.set(slot, W_TX_HEAD, (txHead + wire) >>> 0);
    this.stats.add(L.S_FRAMES_OUT, 1);
    this.stats.add(L.S_BYTES_OUT, wire);
  }

  check(len: number): number {
    return this.plan(len);
  }

  // ---- a reply larger than the tx ring, streamed (the twin of assembly/index.ts) ----

  beginFrame(slot: number, len: number): number {
    const r = this.plan(len);
    if (r !== L.SEND_OK && r !== L.SEND_TOO_LARGE) return r;
    const txHead = this.get(slot, W_TX_HEAD);
    if (this.encPrefix > this.c.txSize - ((txHead - this.get(slot, W_TX_TAIL)) >>> 0)) return L.SEND_FULL;
    this.encodePrefix(this.get(slot, W_TX_BASE), this.c.txSize - 1, txHead, len);
    this.set(slot, W_TX_HEAD, (txHead + this.encPrefix) >>> 0);
    this.stats.add(L.S_FRAMES_OUT, 1);
    if (this.encPrefix) this.stats.add(L.S_BYTES_OUT, this.encPrefix);
    return L.SEND_OK;
  }

  protected putBytes(slot: number, n: number): void {
    this.set(slot, W_TX_HEAD, (this.get(slot, W_TX_HEAD) + n) >>> 0);
    if (n) this.stats.add(L.S_BYTES_OUT, n);
  }

  endFrame(slot: number): number {
    const txHead = this.get(slot, W_TX_HEAD);
    const n = this.trailerSize();
    if (n > this.c.txSize - ((txHead - this.get(slot, W_TX_TAIL)) >>> 0)) return L.SEND_FULL;
    this.encodeTrailer(this.get(slot, W_TX_BASE), this.c.txSize - 1, txHead);
    this.set(slot, W_TX_HEAD, (txHead + n) >>> 0);
    if (n) this.stats.add(L.S_BYTES_OUT, n);
    return L.SEND_OK;
  }

  // ---- framing (the twin of assembly/framing.ts) ----

  private byte(base: number, mask: number, pos: number): number {
    return this.u8[base + ((pos >>> 0) & mask)]!;
  }

  private ringPut(base: number, mask: number, pos: number, b: number): void {
    this.u8[base + ((pos >>> 0) & mask)] = b;
  }

  private decode(base: number, size: number, tail: number, avail: number, scan: number): number {
    const c = this.c;
    const mask = size - 1;
    if (c.framing === L.FRAMING_LENGTH) {
      const headEnd = c.lenOffset + c.lenSize;
      if (avail < headEnd) return 0;
      let v = 0;
      for (let i = 0; i < c.lenSize; i++) {
        const b = this.byte(base, mask, tail + c.lenOffset + i);
        v += c.lenBig ? b * 2 ** (8 * (c.lenSize - 1 - i)) : b * 2 ** (8 * i);
      }
      // Doubles are exact to 2^53; above 2^33 the frame is too large whatever the rest.
      if (v > 2 ** 33) return -L.E_FRAME_TOO_LARGE;
      const body = v + c.lenAdjust;
      if (body < 0) return -L.E_BAD_LENGTH;
      if (body > c.maxFrame) return -L.E_FRAME_TOO_LARGE;
      const wire = headEnd + body;
      if (c.lenStrip > wire) return -L.E_BAD_LENGTH;
      if (avail < wire) return 0;
      this.frameOff = c.lenStrip;
      this.frameLen = wire - c.lenStrip;
      return wire;
    }
    if (c.framing === L.FRAMING_VARINT) {
      let v = 0;
      let shift = 0;
      for (let i = 0; i < 10 && i < avail; i++) {
        const b = this.byte(base, mask, tail + i);
        const bits = b & 0x7f;
        if (bits !== 0) {
          if (shift >= 32) return -L.E_FRAME_TOO_LARGE;
          v += bits * 2 ** shift;
          if (v > c.maxFrame) return -L.E_FRAME_TOO_LARGE;
        }
        if ((b & 0x80) === 0) {
          const wire = i + 1 + v;
          if (avail < wire) return 0;
          this.frameOff = i + 1;
          this.frameLen = v;
          return wire;
        }
        shift += 7;
      }
      return avail >= 10 ? -L.E_BAD_LENGTH : 0;
    }
    if (c.framing === L.FRAMING_DELIMITER) {
      const d = c.delimiter;
      const dLen = d.length;
      const first = d[0]!;
      const end = Math.min(avail - dLen, c.maxFrame);
      for (let i = scan; i <= end; i++) {
        const at = tail + i;
        if (this.byte(base, mask, at) !== first) continue;
        let k = 1;
        while (k < dLen && this.byte(base, mask, at + k) === d[k]) k++;
        if (k < dLen) continue;
        let len = i;
        if (c.stripCR && len > 0 && this.byte(base, mask, at - 1) === 13) len--;
        this.frameOff = 0;
        this.frameLen = len;
        this.scanned = 0;
        return i + dLen;
      }
      if (avail >= c.maxFrame + dLen) return -L.E_FRAME_TOO_LARGE;
      this.scanned = end + 1 > scan ? end + 1 : scan;
      return 0;
    }
    // fixed
    if (avail < c.fixed) return 0;
    this.frameOff = 0;
    this.frameLen = c.fixed;
    return c.fixed;
  }

  private plan(len: number): number {
    const c = this.c;
    this.encPrefix = 0;
    this.encTrailer = 0;
    if (c.framing === L.FRAMING_LENGTH) {
      const headEnd = c.lenOffset + c.lenSize;
      const wire = c.lenStrip + len;
      const value = wire - headEnd - c.lenAdjust;
      if (wire < headEnd || value < 0) return L.SEND_BAD_LENGTH;
      if (c.lenSize < 8 && value >= 2 ** (c.lenSize * 8)) return L.SEND_BAD_LENGTH;
      this.encPrefix = c.lenStrip;
      this.encValue = value;
    } else if (c.framing === L.FRAMING_VARINT) {
      let n = 1;
      for (let v = len; v >= 0x80; v = Math.floor(v / 128)) n++;
      this.encPrefix = n;
    } else if (c.framing === L.FRAMING_DELIMITER) {
      this.encTrailer = this.trailerSize();
    } else if (c.framing === L.FRAMING_FIXED) {
      if (len !== c.fixed) return L.SEND_BAD_LENGTH;
    }
    if (this.encPrefix + len + this.encTrailer > c.txSize) return L.SEND_TOO_LARGE;
    return L.SEND_OK;
  }

  private encode(base: number, mask: number, pos: number, len: number): void {
    this.encodePrefix(base, mask, pos, len);
    this.encodeTrailer(base, mask, pos + this.encPrefix + len);
  }

  private encodePrefix(base: number, mask: number, pos: number, len: number): void {
    const c = this.c;
    if (c.framing === L.FRAMING_LENGTH) {
      for (let i = 0; i < c.lenStrip; i++) this.ringPut(base, mask, pos + i, 0);
      for (let i = 0; i < c.lenSize; i++) {
        const shift = c.lenBig ? (c.lenSize - 1 - i) * 8 : i * 8;
        this.ringPut(base, mask, pos + c.lenOffset + i, Math.floor(this.encValue / 2 ** shift) & 0xff);
      }
    } else if (c.framing === L.FRAMING_VARINT) {
      let v = len;
      for (let i = 0; i < this.encPrefix; i++) {
        this.ringPut(base, mask, pos + i, i + 1 < this.encPrefix ? (v & 0x7f) | 0x80 : v);
        v = Math.floor(v / 128);
      }
    }
  }

  private trailerSize(): number {
    return this.c.framing === L.FRAMING_DELIMITER ? this.c.delimiter.length : 0;
  }

  private encodeTrailer(base: number, mask: number, pos: number): void {
    const c = this.c;
    if (c.framing === L.FRAMING_DELIMITER) {
      for (let i = 0; i < c.delimiter.length; i++) this.ringPut(base, mask, pos + i, c.delimiter[i]!);
    }
  }

  private ringToRing(srcBase: number, srcSize: number, srcPos: number, dstBase: number, dstSize: number, dstPos: number, n: number): void {
    while (n > 0) {
      const s = srcPos & (srcSize - 1);
      const d = dstPos & (dstSize - 1);
      const k = Math.min(n, srcSize - s, dstSize - d);
      this.u8.copyWithin(dstBase + d, srcBase + s, srcBase + s + k);
      srcPos = (srcPos + k) >>> 0;
      dstPos = (dstPos + k) >>> 0;
      n -= k;
    }
  }
}
