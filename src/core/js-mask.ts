// Twin of assembly/mask.ts: WebSocket masking (RFC 6455 section 5.3), payload byte
// j XORed with byte j % 4 of the key, held as a u32 read little-endian; a run that
// starts at payload offset `phase` uses the key rotated right by 8 * phase. The
// core masks 16 bytes a step with SIMD; the twin one byte at a time, the same bytes out.

/** The key for a run that starts at payload offset `phase` (only phase % 4 matters). */
export function keyAt(key: number, phase: number): number {
  const r = (phase & 3) * 8;
  return r === 0 ? key >>> 0 : ((key >>> r) | (key << (32 - r))) >>> 0;
}

/** XOR the n bytes at addr of u8 with the key, phase already applied (keyAt). */
export function maskRun(u8: Uint8Array, addr: number, n: number, key: number): void {
  for (let j = 0; j < n; j++) u8[addr + j]! ^= (key >>> ((j & 3) * 8)) & 0xff;
}

/** XOR n bytes of ring (base, size) from position pos with the key, phase 0 at pos. */
export function maskRing(u8: Uint8Array, base: number, size: number, pos: number, n: number, key: number): void {
  const at = pos & (size - 1);
  const first = Math.min(n, size - at);
  maskRun(u8, base + at, first, key);
  if (first < n) maskRun(u8, base, n - first, keyAt(key, first));
}
