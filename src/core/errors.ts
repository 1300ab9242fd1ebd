// Errors with stable codes. Every error has a number, declared once with its
// code in contract/core-contract.ts (E_*, ERROR_CODES): the cores report theirs
// as integers, the host uses the rest, and the numbers index the per-code
// counters in the stats block, so they never change meaning. Here each code gets
// its message and its own subclass, so callers can branch on `err.code` or
// `instanceof`, never on messages.

import { E_BAD_CONFIG, E_HANDLER, ERROR_CODES, ERROR_NAMES, type ErrorCode, type ErrorName } from './layout.ts';

export class RingwireError extends Error {
  /** Stable code, e.g. ERR_FRAME_TOO_LARGE. */
  readonly code: ErrorCode;
  /** The number counted in stats.errorsByCode. */
  readonly number: number;
  constructor(number: number, message: string, options?: { cause?: unknown }) {
    const entry = ERROR_TABLE[number] ?? ERROR_TABLE[0]!;
    super(message || entry.message, options);
    this.name = new.target.name;
    this.code = entry.code;
    this.number = number;
  }
}

export class FrameTooLargeError extends RingwireError {}
export class BadLengthError extends RingwireError {}
export class TooManyConnectionsError extends RingwireError {}
export class IdleTimeoutError extends RingwireError {}
export class TruncatedFrameError extends RingwireError {}
export class ReplyTooLargeError extends RingwireError {}
export class HandlerError extends RingwireError {}
export class SocketError extends RingwireError {}
export class ConfigError extends RingwireError {}
export class WorkerExitError extends RingwireError {}
export class SlowConsumerError extends RingwireError {}
export class FrameTimeoutError extends RingwireError {}
export class TooSlowError extends RingwireError {}
/** Refused by the per-address cap: the same code as every refusal for too many connections, its own counter (refusedPerIp). */
export class TooManyConnectionsPerIpError extends TooManyConnectionsError {}
export class NoDescriptorsError extends RingwireError {}
export class TlsError extends RingwireError {}
/** The TLS handshake timed out: the same code as every TLS failure, its own counter. */
export class TlsTimeoutError extends TlsError {}
export class ProxyHeaderError extends RingwireError {}
/** No whole PROXY header in time: the same code as every bad header, its own counter. */
export class ProxyHeaderTimeoutError extends ProxyHeaderError {}
export class EvictedError extends RingwireError {}
export class DrainTimeoutError extends RingwireError {}
export class DelimiterInPayloadError extends RingwireError {}
export class HandlerTimeoutError extends RingwireError {}
export class AskTimeoutError extends RingwireError {}
export class OwnerGoneError extends RingwireError {}
export class AskFailedError extends RingwireError {}
export class MailboxTimeoutError extends RingwireError {}
export class MemoryExhaustedError extends RingwireError {}
/** A WebSocket frame that breaks RFC 6455: the connection closes with 1002. */
export class WebSocketProtocolError extends RingwireError {}
/** A WebSocket text message or close reason that is not UTF-8: the connection closes with 1007. */
export class WebSocketUtf8Error extends RingwireError {}
export class UpgradeError extends RingwireError {}
/** No whole WebSocket upgrade in time: the same code as every failed upgrade, its own counter. */
export class UpgradeTimeoutError extends UpgradeError {}

interface Entry {
  code: ErrorCode;
  message: string;
  type: new (number: number, message: string, options?: { cause?: unknown }) => RingwireError;
}

/** Each error number's message and class, by its name in the contract. */
const BY_NAME: Record<ErrorName, Omit<Entry, 'code'>> = {
  E_RINGWIRE: { message: 'unknown ringwire error', type: RingwireError },
  E_FRAME_TOO_LARGE: { message: 'frame longer than the maximum frame length', type: FrameTooLargeError },
  E_BAD_LENGTH: { message: 'length prefix cannot describe a valid frame', type: BadLengthError },
  E_TOO_MANY_CONNECTIONS: { message: 'connection refused: max connections reached', type: TooManyConnectionsError },
  E_IDLE_TIMEOUT: { message: 'connection idle for longer than the idle timeout', type: IdleTimeoutError },
  E_TRUNCATED_FRAME: { message: 'peer closed the connection in the middle of a frame', type: TruncatedFrameError },
  E_REPLY_TOO_LARGE: { message: 'reply cannot be sent: larger than maxReply, or a length the framing cannot carry', type: ReplyTooLargeError },
  E_HANDLER: { message: 'the handler threw or its promise rejected', type: HandlerError },
  E_SOCKET: { message: 'socket error', type: SocketError },
  E_BAD_CONFIG: { message: 'invalid configuration', type: ConfigError },
  E_WORKER_EXIT: { message: 'the worker thread serving the connection exited', type: WorkerExitError },
  E_SLOW_CONSUMER: { message: 'the peer does not take its replies: queue over its cap or no write progress', type: SlowConsumerError },
  E_FRAME_TIMEOUT: { message: 'a frame did not complete within the frame timeout', type: FrameTimeoutError },
  E_TOO_SLOW: { message: 'the peer sent an incomplete frame slower than the minimum rate', type: TooSlowError },
  E_TOO_MANY_PER_IP: { message: 'connection refused: max connections per IP address reached', type: TooManyConnectionsPerIpError },
  E_NO_DESCRIPTORS: { message: 'accept failed: no file descriptors left (EMFILE/ENFILE)', type: NoDescriptorsError },
  E_TLS: { message: 'TLS handshake failed', type: TlsError },
  E_TLS_TIMEOUT: { message: 'TLS handshake did not finish within the handshake timeout', type: TlsTimeoutError },
  E_PROXY_HEADER: { message: 'bad PROXY protocol header', type: ProxyHeaderError },
  E_PROXY_TIMEOUT: { message: 'no PROXY protocol header within the header timeout', type: ProxyHeaderTimeoutError },
  E_EVICTED: { message: 'closed to give its slot to a new connection: its incomplete frame arrived slowest', type: EvictedError },
  E_DRAIN_TIMEOUT: { message: 'the drain timed out with frames read but unanswered (or replies undelivered): the connection was reset; raise drainTimeout', type: DrainTimeoutError },
  E_DELIMITER_IN_PAYLOAD: { message: 'payload holds the framing\'s delimiter: the peer would read it as more than one frame', type: DelimiterInPayloadError },
  E_HANDLER_TIMEOUT: { message: 'a handler did not settle within the handler timeout', type: HandlerTimeoutError },
  E_ASK_TIMEOUT: { message: 'no answer within the ask\'s timeout: raise { timeout }, or look at what keeps the owner thread busy', type: AskTimeoutError },
  E_OWNER_GONE: { message: 'the thread that owns the key is not serving (it exited, or is restarting): its state is gone with it', type: OwnerGoneError },
  E_ASK_FAILED: { message: 'the owner\'s onAsk failed: it threw, rejected, answered no bytes, or its handler exports no onAsk', type: AskFailedError },
  E_MAILBOX_TIMEOUT: { message: 'no room in the mailbox within the timeout: the receiving thread does not keep up; raise { timeout } or the mailbox size', type: MailboxTimeoutError },
  E_MEMORY_EXHAUSTED: { message: 'the ring pool has no room for this connection\'s ring: raise maxMemory (--max-memory), or lower maxFrame or the rings', type: MemoryExhaustedError },
  E_WEBSOCKET_PROTOCOL: { message: 'a WebSocket frame that breaks RFC 6455 (close code 1002)', type: WebSocketProtocolError },
  E_WEBSOCKET_UTF8: { message: 'a WebSocket text message or close reason that is not valid UTF-8 (close code 1007)', type: WebSocketUtf8Error },
  E_UPGRADE: { message: 'not a valid WebSocket upgrade, or refused by onUpgrade', type: UpgradeError },
  E_UPGRADE_TIMEOUT: { message: 'no whole WebSocket upgrade within the upgrade timeout', type: UpgradeTimeoutError },
};

/** Index = the error number (the contract's order). */
export const ERROR_TABLE: readonly Entry[] = ERROR_NAMES.map((name, n) => ({ code: ERROR_CODES[n]!, ...BY_NAME[name] }));

/** Every stable error code. */
export type { ErrorCode };

export {
  E_FRAME_TOO_LARGE, E_BAD_LENGTH, ERROR_BY_CORE, E_TOO_MANY_CONNECTIONS, E_IDLE_TIMEOUT, E_TRUNCATED_FRAME, E_REPLY_TOO_LARGE, E_HANDLER,
  E_SOCKET, E_BAD_CONFIG, E_WORKER_EXIT, E_SLOW_CONSUMER, E_FRAME_TIMEOUT, E_TOO_SLOW, E_TOO_MANY_PER_IP,
  E_NO_DESCRIPTORS, E_PROXY_HEADER, E_PROXY_TIMEOUT, E_EVICTED, E_TLS, E_TLS_TIMEOUT, E_DRAIN_TIMEOUT, E_DELIMITER_IN_PAYLOAD, E_HANDLER_TIMEOUT,
  E_ASK_TIMEOUT, E_OWNER_GONE, E_ASK_FAILED, E_MAILBOX_TIMEOUT, E_MEMORY_EXHAUSTED, E_WEBSOCKET_PROTOCOL, E_WEBSOCKET_UTF8, E_UPGRADE, E_UPGRADE_TIMEOUT,
} from './layout.ts';

/** The error object for error number n, with an optional more specific message. */
export function ringwireError(n: number, message = '', cause?: unknown): RingwireError {
  const entry = ERROR_TABLE[n] ?? ERROR_TABLE[0]!;
  return new entry.type(n, message, cause === undefined ? undefined : { cause });
}

/** A failure of a handler (a throw or a rejection), as ERR_HANDLER unless it already is a RingwireError. */
export function handlerError(err: unknown): RingwireError {
  if (err instanceof RingwireError) return err;
  return ringwireError(E_HANDLER, `the handler failed: ${err instanceof Error ? err.message : String(err)}`, err);
}

export function configError(message: string): RingwireError {
  return ringwireError(E_BAD_CONFIG, message);
}
