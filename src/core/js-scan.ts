// Twin of assembly/scan.ts: finding a byte in a contiguous run of a core's
// memory. Where the core compares 16 bytes at once with WASM SIMD, the twin
// compares 4 with integer arithmetic on u32 words (SWAR): x ^ (b in every byte)
// has a zero byte exactly where the word holds b, and (x - 0x01010101) & ~x &
// 0x80808080 is nonzero exactly when x has a zero byte. Like the core, it takes
// wide steps while nothing matches (two words), then finds the byte one at a
// time within the step that matched.
// Measured against Uint8Array.prototype.indexOf on a view of the run (which
// allocates the view) and a plain loop: docs/core.md.

/** Address of the first byte equal to b in [from, to), or `to` if there is none. */
export function findByte(u8: Uint8Array, u32: Uint32Array, from: number, to: number, b: number): number {
  let p = from;
  // Up to a 4-byte boundary one byte at a time: words are read at aligned indexes.
  while (p < to && (p & 3) !== 0) {
    if (u8[p] === b) return p;
    p++;
  }
  const every = Math.imul(b, 0x01010101);
  for (; p + 8 <= to; p += 8) {
    const x = u32[p >>> 2]! ^ every;
    const y = u32[(p >>> 2) + 1]! ^ every;
    if ((((x - 0x01010101) & ~x) | ((y - 0x01010101) & ~y)) & 0x80808080) break;
  }
  for (; p < to; p++) if (u8[p] === b) return p;
  return to;
}
