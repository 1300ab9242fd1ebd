// Twin of assembly/utf8.ts: UTF-8 validation that can stop anywhere and resume,
// its state between calls one small number (see that file for the states). Where
// the core skips 16 ASCII bytes at a time with SIMD, the twin tests one at a time.

export const UTF8_ACCEPT = 0;
export const UTF8_REJECT = 0xff;

/** The state after byte b in state `state` (UTF8_REJECT: b cannot come here). */
export function utf8Step(state: number, b: number): number {
  if (state === 0) {
    if (b < 0x80) return 0;
    if (b < 0xc2) return UTF8_REJECT;
    if (b < 0xe0) return 1;
    if (b === 0xe0) return 4;
    if (b === 0xed) return 5;
    if (b < 0xf0) return 2;
    if (b === 0xf0) return 6;
    if (b < 0xf4) return 3;
    if (b === 0xf4) return 7;
    return UTF8_REJECT;
  }
  if (state <= 3) return b >= 0x80 && b <= 0xbf ? state - 1 : UTF8_REJECT;
  if (state === 4) return b >= 0xa0 && b <= 0xbf ? 1 : UTF8_REJECT;
  if (state === 5) return b >= 0x80 && b <= 0x9f ? 1 : UTF8_REJECT;
  if (state === 6) return b >= 0x90 && b <= 0xbf ? 2 : UTF8_REJECT;
  return b >= 0x80 && b <= 0x8f ? 2 : UTF8_REJECT; // state 7
}

/** The state after the n bytes at addr of u8, from `state`: UTF8_REJECT at the first bad byte. */
export function utf8Run(u8: Uint8Array, addr: number, n: number, state: number): number {
  for (let p = addr, end = addr + n; p < end; p++) {
    const b = u8[p]!;
    if (state === 0 && b < 0x80) continue;
    state = utf8Step(state, b);
    if (state === UTF8_REJECT) return state;
  }
  return state;
}
