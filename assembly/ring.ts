// Byte moves in and between power-of-two rings. A ring is (base, size); a position
// is a free-running u32 whose offset in the ring is pos & (size - 1). Every move
// splits at most at one wrap per side, so it is at most three memory.copy calls.

@inline export function ringByte(base: u32, mask: u32, pos: u32): u32 {
  return <u32>load<u8>(base + (pos & mask));
}

/** Copy n bytes from ring (srcBase, srcSize) at srcPos to ring (dstBase, dstSize) at dstPos. */
export function ringToRing(srcBase: u32, srcSize: u32, srcPos: u32, dstBase: u32, dstSize: u32, dstPos: u32, n: u32): void {
  while (n > 0) {
    const s = srcPos & (srcSize - 1);
    const d = dstPos & (dstSize - 1);
    let k = n;
    if (srcSize - s < k) k = srcSize - s;
    if (dstSize - d < k) k = dstSize - d;
    memory.copy(dstBase + d, srcBase + s, k);
    srcPos += k;
    dstPos += k;
    n -= k;
  }
}

/** Write byte b into ring (base, mask) at pos. */
@inline export function ringPut(base: u32, mask: u32, pos: u32, b: u32): void {
  store<u8>(base + (pos & mask), <u8>b);
}

/**
 * Move n bytes of ring (base, size) from position `from` up to `to` (to > from, the
 * two ranges may overlap): chunks from the end down, so no byte is overwritten
 * before it is read. (A move down is ringToRing, whose chunks go up.)
 */
export function ringMoveUp(base: u32, size: u32, from: u32, to: u32, n: u32): void {
  const mask = size - 1;
  while (n > 0) {
    // Bytes before each range's end that lie in one run of the ring.
    const se = ((from + n - 1) & mask) + 1;
    const de = ((to + n - 1) & mask) + 1;
    let k = n;
    if (se < k) k = se;
    if (de < k) k = de;
    memory.copy(base + de - k, base + se - k, k);
    n -= k;
  }
}
