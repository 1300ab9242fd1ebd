// Twin of assembly/ring.ts: byte moves in and between power-of-two rings in a
// core's memory. A ring is (base, size); a position is a free-running u32 whose
// offset in the ring is pos & (size - 1). Every move splits at most at one wrap
// per side, so it is at most three copies.

export function ringByte(u8: Uint8Array, base: number, mask: number, pos: number): number {
  return u8[base + (pos & mask)]!;
}

/** Copy n bytes from ring (srcBase, srcSize) at srcPos to ring (dstBase, dstSize) at dstPos. */
export function ringToRing(u8: Uint8Array, srcBase: number, srcSize: number, srcPos: number, dstBase: number, dstSize: number, dstPos: number, n: number): void {
  while (n > 0) {
    const s = srcPos & (srcSize - 1);
    const d = dstPos & (dstSize - 1);
    let k = n;
    if (srcSize - s < k) k = srcSize - s;
    if (dstSize - d < k) k = dstSize - d;
    u8.copyWithin(dstBase + d, srcBase + s, srcBase + s + k);
    srcPos = (srcPos + k) >>> 0;
    dstPos = (dstPos + k) >>> 0;
    n -= k;
  }
}

/** Write byte b into ring (base, mask) at pos. */
export function ringPut(u8: Uint8Array, base: number, mask: number, pos: number, b: number): void {
  u8[base + (pos & mask)] = b;
}

/** Move n bytes of ring (base, size) from position `from` up to `to` (to > from, may overlap): chunks from the end down (see assembly/ring.ts). */
export function ringMoveUp(u8: Uint8Array, base: number, size: number, from: number, to: number, n: number): void {
  const mask = size - 1;
  while (n > 0) {
    const se = ((from + n - 1) & mask) + 1;
    const de = ((to + n - 1) & mask) + 1;
    const k = Math.min(n, se, de);
    u8.copyWithin(base + de - k, base + se - k, base + se);
    n -= k;
  }
}
