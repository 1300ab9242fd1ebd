// WebSocket masking (RFC 6455 section 5.3): payload byte j is XORed with byte
// j % 4 of the frame's 4-byte key. Unmasking is the same operation. The key is
// held as a u32 read little-endian, so its first byte is its low byte; a run that
// starts at payload offset `phase` uses the key rotated right by 8 * phase.
// Runs are contiguous (a ring's wrap splits a payload into two runs). 16 bytes a
// step with WASM SIMD, then 4, then 1. src/core/js-mask.ts is its twin: the same
// bytes out with a plain loop.

/** The key for a run that starts at payload offset `phase` (only phase % 4 matters). */
@inline export function keyAt(key: u32, phase: u32): u32 {
  return rotr<u32>(key, (phase & 3) * 8);
}

/** XOR the n bytes at addr with the key, phase already applied (keyAt). */
export function maskRun(addr: usize, n: u32, key: u32): void {
  let p = addr;
  const end = addr + n;
  if (n >= 16) {
    const k = i32x4.splat(<i32>key);
    while (end - p >= 16) {
      v128.store(p, v128.xor(v128.load(p), k));
      p += 16;
    }
  }
  while (end - p >= 4) {
    store<u32>(p, load<u32>(p) ^ key);
    p += 4;
  }
  let k = key;
  while (p < end) {
    store<u8>(p, load<u8>(p) ^ <u8>k);
    k >>= 8;
    p++;
  }
}

/** XOR n bytes of ring (base, size) from position pos with the key, phase 0 at pos. */
export function maskRing(base: u32, size: u32, pos: u32, n: u32, key: u32): void {
  const at = pos & (size - 1);
  const first = n < size - at ? n : size - at;
  maskRun(base + at, first, key);
  if (first < n) maskRun(base, n - first, keyAt(key, first));
}
