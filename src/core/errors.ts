// Errors with stable codes. The cores report integers (layout.ts E_*); the host
// reports its own failures with the numbers below. One table maps each number to
// its code and message, and each failure has its own subclass so callers can
// branch on `err.code` or `instanceof`, never on messages. The numbers index the
// per-code error counters in the stats block, so they never change meaning.

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

interface Entry {
  code: ErrorCode;
  message: string;
  type: new (number: number, message: string, options?: { cause?: unknown }) => RingwireError;
}

/** Every stable error code. */
export type ErrorCode =
  | 'ERR_RINGWIRE' | 'ERR_FRAME_TOO_LARGE' | 'ERR_BAD_LENGTH' | 'ERR_TOO_MANY_CONNECTIONS' | 'ERR_IDLE_TIMEOUT'
  | 'ERR_TRUNCATED_FRAME' | 'ERR_REPLY_TOO_LARGE' | 'ERR_HANDLER' | 'ERR_SOCKET' | 'ERR_BAD_CONFIG' | 'ERR_WORKER_EXIT'
  | 'ERR_SLOW_CONSUMER' | 'ERR_FRAME_TIMEOUT' | 'ERR_TOO_SLOW' | 'ERR_NO_DESCRIPTORS';

/** Index = the error number. 1 and 2 come from the cores, the rest from the host. */
export const ERROR_TABLE: readonly Entry[] = [
  { code: 'ERR_RINGWIRE', message: 'unknown ringwire error', type: RingwireError },
  { code: 'ERR_FRAME_TOO_LARGE', message: 'frame longer than the maximum frame length', type: FrameTooLargeError },
  { code: 'ERR_BAD_LENGTH', message: 'length prefix cannot describe a valid frame', type: BadLengthError },
  { code: 'ERR_TOO_MANY_CONNECTIONS', message: 'connection refused: max connections reached', type: TooManyConnectionsError },
  { code: 'ERR_IDLE_TIMEOUT', message: 'connection idle for longer than the idle timeout', type: IdleTimeoutError },
  { code: 'ERR_TRUNCATED_FRAME', message: 'peer closed the connection in the middle of a frame', type: TruncatedFrameError },
  { code: 'ERR_REPLY_TOO_LARGE', message: 'reply cannot be encoded: larger than the tx ring or invalid for the framing', type: ReplyTooLargeError },
  { code: 'ERR_HANDLER', message: 'the handler threw or its promise rejected', type: HandlerError },
  { code: 'ERR_SOCKET', message: 'socket error', type: SocketError },
  { code: 'ERR_BAD_CONFIG', message: 'invalid configuration', type: ConfigError },
  { code: 'ERR_WORKER_EXIT', message: 'the worker thread serving the connection exited', type: WorkerExitError },
  { code: 'ERR_SLOW_CONSUMER', message: 'the peer does not take its replies: queue over its cap or no write progress', type: SlowConsumerError },
  { code: 'ERR_FRAME_TIMEOUT', message: 'a frame did not complete within the frame timeout', type: FrameTimeoutError },
  { code: 'ERR_TOO_SLOW', message: 'the peer sent an incomplete frame slower than the minimum rate', type: TooSlowError },
  { code: 'ERR_TOO_MANY_CONNECTIONS', message: 'connection refused: max connections per IP address reached', type: TooManyConnectionsPerIpError },
  { code: 'ERR_NO_DESCRIPTORS', message: 'accept failed: no file descriptors left (EMFILE/ENFILE)', type: NoDescriptorsError },
];

/** Errors numbered up to this one are found and counted by the cores; the host counts the rest. */
export const E_LAST_CORE_ERROR = 2;
export const E_TOO_MANY_CONNECTIONS = 3;
export const E_IDLE_TIMEOUT = 4;
export const E_TRUNCATED_FRAME = 5;
export const E_REPLY_TOO_LARGE = 6;
export const E_HANDLER = 7;
export const E_SOCKET = 8;
export const E_BAD_CONFIG = 9;
export const E_WORKER_EXIT = 10;
export const E_SLOW_CONSUMER = 11;
export const E_FRAME_TIMEOUT = 12;
export const E_TOO_SLOW = 13;
/** Counted apart from E_TOO_MANY_CONNECTIONS (stats: refusedPerIp), reported with the same code. */
export const E_TOO_MANY_PER_IP = 14;
export const E_NO_DESCRIPTORS = 15;

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
