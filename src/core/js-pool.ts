// Twin of assembly/pool.ts: the ring pool, a buddy allocator whose whole state
// lives in the core's shared memory (heads, map, bump: see assembly/pool.ts), so
// that for the same calls both cores leave the same bytes. Addresses are byte
// addresses in the memory; the same invariants hold: a segment is either on
// exactly one free list with its map byte set, or in use with map byte 0.

import { H_POOL_BUMP, LAYOUT_BASE, POOL_CLASSES, S_POOL_BYTES, S_POOL_SEGMENTS, type HeaderConfig } from './layout.ts';
import type { Stats } from './stats.ts';

export class JsPool {
  /** log2 of minRing, and of the largest segment. */
  readonly minLog: number;
  readonly topLog: number;
  private readonly u8: Uint8Array;
  private readonly u32: Uint32Array;
  private readonly C: HeaderConfig;
  private readonly stats: Stats;
  private readonly mapOff: number;

  /** init(): the pool is empty and untouched; the largest segment is 2^top bytes (resetPool). */
  constructor(u8: Uint8Array, u32: Uint32Array, C: HeaderConfig, stats: Stats, top: number) {
    this.u8 = u8;
    this.u32 = u32;
    this.C = C;
    this.stats = stats;
    this.minLog = 31 - Math.clz32(C.minRing);
    this.topLog = top;
    this.mapOff = C.poolOff + POOL_CLASSES * 4;
    u8.fill(0, C.poolOff, this.mapOff + (C.arenaSize >>> this.minLog));
  }

  private load(addr: number): number {
    return this.u32[addr >>> 2]!;
  }
  private store(addr: number, v: number): void {
    this.u32[addr >>> 2] = v;
  }
  private headAt(k: number): number {
    return this.C.poolOff + k * 4;
  }
  private mapAt(b: number): number {
    return this.mapOff + ((b - this.C.arenaOff) >>> this.minLog);
  }

  private push(b: number, k: number): void {
    const first = this.load(this.headAt(k));
    this.store(b, first);
    this.store(b + 4, 0);
    if (first !== 0) this.store(first + 4, b);
    this.store(this.headAt(k), b);
    this.u8[this.mapAt(b)] = k + 1;
  }

  private unlink(b: number, k: number): void {
    const next = this.load(b), prev = this.load(b + 4);
    if (prev !== 0) this.store(prev, next);
    else this.store(this.headAt(k), next);
    if (next !== 0) this.store(next + 4, prev);
    this.u8[this.mapAt(b)] = 0;
  }

  /** A segment of 2^k bytes (minLog <= k <= topLog): its address, or 0 when the pool has none. */
  take(k: number): number {
    let j = k;
    while (j <= this.topLog && this.load(this.headAt(j)) === 0) j++;
    let b: number;
    if (j <= this.topLog) {
      b = this.load(this.headAt(j));
      this.unlink(b, j);
    } else {
      const bumpAt = LAYOUT_BASE + H_POOL_BUMP * 4;
      const bump = this.load(bumpAt);
      if (bump >= this.C.arenaSize) return 0;
      this.store(bumpAt, bump + 2 ** this.topLog);
      b = this.C.arenaOff + bump;
      j = this.topLog;
    }
    while (j > k) {
      j--;
      this.push(b + 2 ** j, j);
    }
    this.stats.add(S_POOL_BYTES, 2 ** k);
    this.stats.add(S_POOL_SEGMENTS + k, 1);
    return b;
  }

  /** Give back the segment of 2^k bytes at b, which take(k) returned. */
  give(b: number, k: number): void {
    this.stats.add(S_POOL_BYTES, -(2 ** k));
    this.stats.add(S_POOL_SEGMENTS + k, -1);
    while (k < this.topLog) {
      const buddy = this.C.arenaOff + (((b - this.C.arenaOff) ^ 2 ** k) >>> 0);
      if (this.u8[this.mapAt(buddy)] !== k + 1) break;
      this.unlink(buddy, k);
      if (buddy < b) b = buddy;
      k++;
    }
    this.push(b, k);
  }
}
