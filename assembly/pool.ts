// The ring pool: segments of the arena, powers of two from minRing up to the
// largest ring's segment, handed out and taken back by a buddy allocator whose
// whole state lives in the shared memory (so both cores, with the same calls,
// leave the same bytes). src/core/js-pool.ts is its twin, function for function.
//
//   heads   POOL_CLASSES u32 words at poolOff: the first free segment of 2^k bytes
//           (its address; 0: none). A free segment holds its list links in its
//           first 8 bytes: the next free segment of its size, then the previous.
//   map     one byte per minRing of the arena, after the heads: k + 1 where a free
//           segment of 2^k bytes starts, else 0 (in use, inside one, or untouched).
//   bump    H_POOL_BUMP: arena bytes ever split. Past it the arena is untouched;
//           take() carves a largest segment from there only when no free list can
//           serve, so pages no ring ever used are never written (nor resident).
//
// take(k) serves the smallest free segment of 2^k bytes or more, halving it (the
// upper halves go on their lists); give(b, k) merges a segment with its buddy (the
// other half of the segment they were split from: offset XOR size) while that
// buddy is free and whole, then lists the result. Lists are LIFO. A segment is
// either on exactly one list with its map byte set, or in use with map byte 0.
// Segments never overlap, so every ring is its own bytes until given back.

import * as C from "./config";
import { LAYOUT_BASE, POOL_CLASSES, H_POOL_BUMP, S_POOL_BYTES, S_POOL_SEGMENTS } from "./contract";

/** log2 of minRing, and of the largest segment (set by resetPool). */
export let minLog: u32 = 0;
export let topLog: u32 = 0;

@inline function headAt(k: u32): u32 { return C.poolOff + k * 4; }
@inline function mapAt(b: u32): u32 { return C.poolOff + POOL_CLASSES * 4 + ((b - C.arenaOff) >> minLog); }
@inline function bumpAt(): u32 { return LAYOUT_BASE + H_POOL_BUMP * 4; }

/** init(): the pool is empty and untouched; the largest segment is 2^top bytes. */
export function resetPool(top: u32): void {
  minLog = ctz(C.minRing);
  topLog = top;
  memory.fill(C.poolOff, 0, POOL_CLASSES * 4 + (C.arenaSize >> minLog));
}

function push(b: u32, k: u32): void {
  const first = load<u32>(headAt(k));
  store<u32>(b, first);
  store<u32>(b + 4, 0);
  if (first != 0) store<u32>(first + 4, b);
  store<u32>(headAt(k), b);
  store<u8>(mapAt(b), <u8>(k + 1));
}

function unlink(b: u32, k: u32): void {
  const next = load<u32>(b), prev = load<u32>(b + 4);
  if (prev != 0) store<u32>(prev, next);
  else store<u32>(headAt(k), next);
  if (next != 0) store<u32>(next + 4, prev);
  store<u8>(mapAt(b), 0);
}

/** A segment of 2^k bytes (minLog <= k <= topLog): its address, or 0 when the pool has none. */
export function take(k: u32): u32 {
  let j = k;
  while (j <= topLog && load<u32>(headAt(j)) == 0) j++;
  let b: u32;
  if (j <= topLog) {
    b = load<u32>(headAt(j));
    unlink(b, j);
  } else {
    const bump = load<u32>(bumpAt());
    if (bump >= C.arenaSize) return 0;
    store<u32>(bumpAt(), bump + (<u32>1 << topLog));
    b = C.arenaOff + bump;
    j = topLog;
  }
  while (j > k) {
    j--;
    push(b + (<u32>1 << j), j);
  }
  atomic.add<i64>(C.statsOff + S_POOL_BYTES * 8, <i64>1 << k);
  atomic.add<i64>(C.statsOff + (S_POOL_SEGMENTS + k) * 8, 1);
  return b;
}

/** Give back the segment of 2^k bytes at b, which take(k) returned. */
export function give(b: u32, k: u32): void {
  atomic.sub<i64>(C.statsOff + S_POOL_BYTES * 8, <i64>1 << k);
  atomic.sub<i64>(C.statsOff + (S_POOL_SEGMENTS + k) * 8, 1);
  while (k < topLog) {
    const buddy = C.arenaOff + ((b - C.arenaOff) ^ (<u32>1 << k));
    if (<u32>load<u8>(mapAt(buddy)) != k + 1) break;
    unlink(buddy, k);
    if (buddy < b) b = buddy;
    k++;
  }
  push(b, k);
}
