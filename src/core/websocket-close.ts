// What a WebSocket close carries (RFC 6455 sections 5.5.1 and 7.4): the codes a
// close frame may carry, the close code each error that ends a connection maps to,
// and a close frame's payload built and read. The cores check a peer's close frame (its length, code and UTF-8 reason)
// before they list it, so readClose() needs no checks of its own.

import {
  E_FRAME_TOO_LARGE, E_WEBSOCKET_PROTOCOL, E_WEBSOCKET_UTF8, WS_RULE_CLOSE_CODE, WS_RULE_CLOSE_LENGTH, WS_RULE_CONTROL_FRAGMENTED, WS_RULE_CONTROL_LENGTH,
  WS_RULE_LENGTH, WS_RULE_MASKED, WS_RULE_MESSAGE_OPEN, WS_RULE_NO_MESSAGE, WS_RULE_OPCODE, WS_RULE_RESERVED_BITS, WS_RULE_UNMASKED,
} from './layout.ts';

/** 1000: a normal close. */
export const CLOSE_NORMAL = 1000;
/** 1001: the endpoint goes away (a server draining). */
export const CLOSE_GOING_AWAY = 1001;
/** 1002: a protocol error (ERR_WEBSOCKET_PROTOCOL). */
const CLOSE_PROTOCOL_ERROR = 1002;
/** 1005: no code in the close frame (never sent; what readClose() reports for an empty payload). */
const CLOSE_NO_STATUS = 1005;
/** 1007: a text message or reason that is not UTF-8 (ERR_WEBSOCKET_UTF8). */
const CLOSE_INVALID_DATA = 1007;
/** 1009: a message over maxFrame (ERR_FRAME_TOO_LARGE). */
const CLOSE_TOO_BIG = 1009;
/** 1011: the server failed otherwise (a handler that threw, and every other error). */
const CLOSE_INTERNAL_ERROR = 1011;

/**
 * May a close frame carry this code (RFC 6455 7.4.1, 7.4.2)? 1000-1003, 1007-1014
 * (1004 is reserved; 1005 and 1006 are never sent) and 3000-4999 (registered and
 * private). One rule both ways: what close() sends and what the TypeScript core
 * takes from a peer (assembly/websocket.ts holds its twin: assembly/ imports only
 * assembly/); the ws package allows the same.
 */
export function closeCodeValid(code: number): boolean {
  return Number.isInteger(code) && ((code >= 1000 && code <= 1014 && (code < 1004 || code > 1006)) || (code >= 3000 && code <= 4999));
}

/** The close code for the error number that ends a connection. */
export function websocketCloseCode(errorNumber: number): number {
  if (errorNumber === E_WEBSOCKET_PROTOCOL) return CLOSE_PROTOCOL_ERROR;
  if (errorNumber === E_WEBSOCKET_UTF8) return CLOSE_INVALID_DATA;
  if (errorNumber === E_FRAME_TOO_LARGE) return CLOSE_TOO_BIG;
  return CLOSE_INTERNAL_ERROR;
}

/** A close frame's payload: the code, big-endian, then the reason in UTF-8 (at most 123 bytes: a control frame holds 125). */
export function closePayload(code: number, reason = ''): Uint8Array {
  const text = Buffer.from(reason, 'utf8');
  if (text.length > 123) throw new RangeError(`a close reason holds at most 123 bytes of UTF-8, got ${text.length}`);
  const out = new Uint8Array(2 + text.length);
  out[0] = code >>> 8;
  out[1] = code & 0xff;
  out.set(text, 2);
  return out;
}

/** A close frame's code and reason, as the core listed it (an empty payload: 1005, no reason). */
export function readClose(payload: Uint8Array): { code: number; reason: string } {
  if (payload.length < 2) return { code: CLOSE_NO_STATUS, reason: '' };
  return { code: (payload[0]! << 8) | payload[1]!, reason: Buffer.from(payload.buffer, payload.byteOffset + 2, payload.length - 2).toString('utf8') };
}

/** What a frame refused with ERR_WEBSOCKET_PROTOCOL did, by its rule (Core.errorSize()). */
const RULES: Record<number, string> = {
  [WS_RULE_UNMASKED]: 'a frame from the client without a mask',
  [WS_RULE_MASKED]: 'a frame from the server with a mask',
  [WS_RULE_RESERVED_BITS]: 'a frame with RSV1, RSV2 or RSV3 set (no extension was negotiated)',
  [WS_RULE_OPCODE]: 'a frame with a reserved opcode',
  [WS_RULE_CONTROL_LENGTH]: 'a control frame of more than 125 bytes',
  [WS_RULE_CONTROL_FRAGMENTED]: 'a fragmented control frame',
  [WS_RULE_NO_MESSAGE]: 'a continuation frame with no message open',
  [WS_RULE_MESSAGE_OPEN]: 'a text or binary frame while a fragmented message was open',
  [WS_RULE_LENGTH]: 'a 64-bit length with its top bit set',
  [WS_RULE_CLOSE_LENGTH]: 'a close frame with one byte of payload',
  [WS_RULE_CLOSE_CODE]: 'a close frame with a code no endpoint may send',
};

/** The message of ERR_WEBSOCKET_PROTOCOL for the rule the frame broke. */
export function websocketRuleText(rule: number): string {
  return `${RULES[rule] ?? 'a frame that breaks RFC 6455'} (close code 1002)`;
}
