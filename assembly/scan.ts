// Finding a byte in a contiguous run of memory, 16 bytes per compare with WASM
// SIMD: the delimiter search (framing.ts) calls it on at most two runs per
// frame, the part of the rx ring before its end and the part after the wrap.
// Loads never go past `to`, so a run that ends at the end of memory is safe.

/** Address of the first byte equal to b in [from, to), or `to` if there is none. */
export function findByte(from: usize, to: usize, b: u32): usize {
  let p = from;
  if (to - from >= 16) {
    const want = i8x16.splat(<i8>b);
    // 64 bytes per step while nothing matches: four compares, one branch.
    while (p + 64 <= to) {
      const any = v128.or(
        v128.or(i8x16.eq(v128.load(p), want), i8x16.eq(v128.load(p, 16), want)),
        v128.or(i8x16.eq(v128.load(p, 32), want), i8x16.eq(v128.load(p, 48), want)),
      );
      if (v128.any_true(any)) break;
      p += 64;
    }
    while (p + 16 <= to) {
      const bits = i8x16.bitmask(i8x16.eq(v128.load(p), want));
      if (bits != 0) return p + <usize>ctz(bits);
      p += 16;
    }
    // Fewer than 16 bytes left: one load of the last 16 bytes of the run, with
    // the lanes before p (already searched) masked off.
    if (p < to) {
      const last = to - 16;
      const bits = i8x16.bitmask(i8x16.eq(v128.load(last), want)) & (0xffff << <i32>(p - last));
      return bits != 0 ? last + <usize>ctz(bits) : to;
    }
    return to;
  }
  while (p < to) {
    if (<u32>load<u8>(p) == b) return p;
    p++;
  }
  return to;
}
