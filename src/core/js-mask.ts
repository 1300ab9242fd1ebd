// Twin of assembly/mask.ts: WebSocket masking (RFC 6455 section 5.3), payload byte
// j XORed with byte j % 4 of the key, held as a u32 read little-endian; a run that
// starts at payload offset `phase` uses the key rotated right by 8 * phase. The
// core masks 16 bytes a step with SIMD; the twin a 4-byte word at a time (bytes up to
// the buffer's next word boundary, and the last few, one at a time), the same bytes out.
// Little-endian, as WebAssembly is: a word's first byte is its low byte.

/** The key for a run that starts at payload offset `phase` (only phase % 4 matters). */
export function keyAt(key: number, phase: number): number {
  const r = (phase & 3) * 8;
  return r === 0 ? key >>> 0 : ((key >>> r) | (key << (32 - r))) >>> 0;
}

/** Word views of the buffers masked, made once per buffer (a memory that grows gets a new one). */
let words: Uint32Array<ArrayBufferLike> = new Uint32Array(0);
let wordsOf: ArrayBufferLike = words.buffer;

/** XOR the n bytes at addr of u8 with the key, phase already applied (keyAt). */
export function maskRun(u8: Uint8Array, addr: number, n: number, key: number): void {
  const at = u8.byteOffset + addr;
  let j = 0;
  if (n >= 16) {
    for (const head = (4 - (at & 3)) & 3; j < head; j++) u8[addr + j]! ^= (key >>> ((j & 3) * 8)) & 0xff;
    if (wordsOf !== u8.buffer) {
      wordsOf = u8.buffer;
      words = new Uint32Array(wordsOf, 0, wordsOf.byteLength >>> 2);
    }
    const k = keyAt(key, j), first = (at + j) >>> 2, count = (n - j) >>> 2;
    for (let w = first; w < first + count; w++) words[w]! ^= k;
    j += count * 4;
  }
  for (; j < n; j++) u8[addr + j]! ^= (key >>> ((j & 3) * 8)) & 0xff;
}

/** XOR n bytes of ring (base, size) from position pos with the key, phase 0 at pos. */
export function maskRing(u8: Uint8Array, base: number, size: number, pos: number, n: number, key: number): void {
  const at = pos & (size - 1);
  const first = Math.min(n, size - at);
  maskRun(u8, base + at, first, key);
  if (first < n) maskRun(u8, base, n - first, keyAt(key, first));
}
