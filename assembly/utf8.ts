// UTF-8 validation that can stop anywhere and resume: a WebSocket text message
// arrives in fragments, and a fragment in reads, and the core fails it at its
// first bad byte (RFC 6455 section 8.1; Autobahn's "fail fast" cases), so the
// decoder's state between two calls is one small number. src/core/js-utf8.ts is
// its twin.
//
// States: UTF8_ACCEPT (0) between characters; 1-3 expecting that many more
// continuation bytes (80-BF); 4-7 expecting the second byte of a sequence whose
// first byte narrows its range (E0: A0-BF, ED: 80-9F, no surrogates; F0: 90-BF,
// F4: 80-8F, nothing above U+10FFFF), after which 1 or 2 more follow. Overlong
// forms are refused by their first byte (C0, C1, E0 80-9F, F0 80-8F) and F5-FF never
// start one. UTF8_REJECT is sticky for the caller: the stream is not UTF-8.

export const UTF8_ACCEPT: u32 = 0;
export const UTF8_REJECT: u32 = 0xff;

/** The state after byte b in state `state` (UTF8_REJECT: b cannot come here). */
@inline export function utf8Step(state: u32, b: u32): u32 {
  if (state == 0) {
    if (b < 0x80) return 0;
    if (b < 0xc2) return UTF8_REJECT;
    if (b < 0xe0) return 1;
    if (b == 0xe0) return 4;
    if (b == 0xed) return 5;
    if (b < 0xf0) return 2;
    if (b == 0xf0) return 6;
    if (b < 0xf4) return 3;
    if (b == 0xf4) return 7;
    return UTF8_REJECT;
  }
  if (state <= 3) return b >= 0x80 && b <= 0xbf ? state - 1 : UTF8_REJECT;
  if (state == 4) return b >= 0xa0 && b <= 0xbf ? 1 : UTF8_REJECT;
  if (state == 5) return b >= 0x80 && b <= 0x9f ? 1 : UTF8_REJECT;
  if (state == 6) return b >= 0x90 && b <= 0xbf ? 2 : UTF8_REJECT;
  return b >= 0x80 && b <= 0x8f ? 2 : UTF8_REJECT; // state 7
}

/**
 * The state after the n bytes at addr, from `state`: UTF8_REJECT at the first bad
 * byte. Between characters, 16 bytes at a time are skipped while all are ASCII
 * (WASM SIMD: no byte has its top bit).
 */
export function utf8Run(addr: usize, n: u32, state: u32): u32 {
  let p = addr;
  const end = addr + n;
  while (p < end) {
    if (state == 0) {
      while (end - p >= 16 && i8x16.bitmask(v128.load(p)) == 0) p += 16;
      if (p == end) break;
    }
    state = utf8Step(state, <u32>load<u8>(p));
    if (state == UTF8_REJECT) return state;
    p++;
  }
  return state;
}
