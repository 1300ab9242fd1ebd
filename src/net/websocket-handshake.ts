// The WebSocket opening handshake (RFC 6455 section 4): an HTTP/1.1 request that
// asks to upgrade, and the answer to it, both sides, as bytes and text only: no
// socket here (upgrade-stage.ts feeds it and the connection writes what it renders).
//
//   HeadReader      collects one HTTP head (request or response) up to the blank
//                   line, at most `limit` bytes, from reads of any size; the bytes
//                   after it are the peer's first frames.
//   parseRequest    the server's checks (4.2.1): GET, HTTP/1.1 or later, Host,
//                   Upgrade: websocket, Connection: upgrade, Sec-WebSocket-Version 13
//                   (else 426 naming the version), a Sec-WebSocket-Key of 16 bytes in
//                   base64; each failure is an HttpRefusal with the status to answer.
//   acceptResponse / refusalResponse   the 101, or a plain HTTP error that closes.
//   clientRequest / checkResponse      the client's side (4.1).
// Invariants: a head is ASCII lines ending in CRLF; obsolete line folding, a bare LF,
// a NUL or a header without a colon is refused (400), never guessed at; names are
// matched case-insensitively and kept lower-cased; repeated headers are joined with
// ", " (RFC 9110 5.3), except those that must appear once (Host, the key, the version).

import { createHash, randomBytes } from 'node:crypto';

/** The GUID RFC 6455 section 1.3 appends to the key. */
const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
/** The one protocol version RFC 6455 defines. */
const WEBSOCKET_VERSION = '13';

/** The request a client sent to open a WebSocket, as onUpgrade sees it. */
export interface UpgradeRequest {
  /** The request target as sent: path and query ('/chat?room=1'). */
  readonly url: string;
  /** The target's path ('/chat'). */
  readonly path: string;
  /** The query after '?', without it ('' when none). */
  readonly query: string;
  /** Every header, names lower-cased, repeated ones joined with ', '. */
  readonly headers: Readonly<Record<string, string>>;
  /** Sec-WebSocket-Protocol: the subprotocols the client offers, in its order of preference. */
  readonly protocols: readonly string[];
  /** The Origin header (browsers send it), if any. */
  readonly origin: string | undefined;
}

/**
 * What onUpgrade answers: nothing or true (accept, no subprotocol), false (refuse
 * with 403), or an object: `status` 400-599 refuses with that status (and `body`,
 * `headers`); otherwise it accepts, with `protocol` (one the client offered) and
 * extra `headers` in the 101.
 */
export type UpgradeAnswer = void | boolean | {
  status?: number;
  protocol?: string;
  headers?: Readonly<Record<string, string>>;
  body?: string;
};

/** A request that cannot be upgraded: the HTTP status to answer with, and why. */
export class HttpRefusal extends Error {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  constructor(status: number, message: string, headers: Readonly<Record<string, string>> = {}) {
    super(message);
    this.status = status;
    this.headers = headers;
  }
}

const CRLFCRLF = [13, 10, 13, 10];

/**
 * One HTTP head, collected from reads of any size: push() copies bytes up to the
 * blank line that ends it and returns how many of them were its (the rest follow
 * it), or -1 while it needs more. Past `limit` bytes it throws a 431 refusal.
 */
export class HeadReader {
  private buf: Uint8Array;
  private length = 0;
  /** How many bytes of "\r\n\r\n" the head ends with so far. */
  private matched = 0;
  private readonly limit: number;

  constructor(limit: number) {
    this.limit = limit;
    this.buf = new Uint8Array(Math.min(limit, 1024));
  }

  /** Bytes of the head taken so far. */
  get received(): number {
    return this.length;
  }

  /**
   * Take bytes of the head: how many of them it took once it is whole (the rest
   * are frames), else -1. A LF not after a CR is a 400 as it comes: the head
   * would never end in CRLFCRLF, and the peer would wait for the deadline.
   */
  push(bytes: Uint8Array): number {
    for (let i = 0; i < bytes.length; i++) {
      const b = bytes[i]!;
      if (b === 10 && (this.length === 0 || this.buf[this.length - 1] !== 13)) throw new HttpRefusal(400, 'a bare LF in the head (lines end in CRLF)');
      this.matched = b === CRLFCRLF[this.matched] ? this.matched + 1 : b === 13 ? 1 : 0;
      if (this.length === this.limit) throw new HttpRefusal(431, `the request head is longer than ${this.limit} bytes`);
      if (this.length === this.buf.length) {
        const grown = new Uint8Array(Math.min(this.limit, this.buf.length * 2));
        grown.set(this.buf);
        this.buf = grown;
      }
      this.buf[this.length++] = b;
      if (this.matched === 4) return i + 1;
    }
    return -1;
  }

  /** The head's lines (latin1), without the blank line that ended it; a bare LF or a NUL is a 400. */
  lines(): string[] {
    const text = Buffer.from(this.buf.buffer, this.buf.byteOffset, this.length - 4).toString('latin1');
    const lines = text.split('\r\n');
    if (lines.some(l => l.includes('\n') || l.includes('\r') || l.includes('\0'))) throw new HttpRefusal(400, 'a bare CR or LF, or a NUL, in the head');
    return lines;
  }
}

/** A token (RFC 9110 5.6.2): what header names, methods and subprotocols are made of. */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/** The header lines of a head, names lower-cased; repeated ones joined, those in `once` refused when repeated. */
function parseHeaders(lines: string[], once: readonly string[]): Record<string, string> {
  const headers: Record<string, string> = Object.create(null);
  for (const line of lines) {
    if (line.startsWith(' ') || line.startsWith('\t')) throw new HttpRefusal(400, 'obsolete line folding in a header');
    const colon = line.indexOf(':');
    const name = line.slice(0, colon).toLowerCase();
    if (colon <= 0 || !TOKEN.test(name)) throw new HttpRefusal(400, `not a header line: ${JSON.stringify(line.slice(0, 64))}`);
    const value = line.slice(colon + 1).trim();
    if (headers[name] === undefined) headers[name] = value;
    else if (once.includes(name)) throw new HttpRefusal(400, `${name} given more than once`);
    else headers[name] += `, ${value}`;
  }
  return headers;
}

/** The comma-separated elements of a header's value, trimmed, empty ones dropped. */
function list(value: string | undefined): string[] {
  return value === undefined ? [] : value.split(',').map(s => s.trim()).filter(s => s !== '');
}

const hasToken = (value: string | undefined, token: string): boolean => list(value).some(t => t.toLowerCase() === token);

/** A Sec-WebSocket-Key: base64 of 16 bytes (22 characters and "=="). */
const KEY = /^[+/0-9A-Za-z]{21}[AQgw]==$/;

/** The key's answer: base64(sha1(key + GUID)) (RFC 6455 4.2.2). */
export function acceptKey(key: string): string {
  return createHash('sha1').update(key + GUID).digest('base64');
}

/** The 426 a request gets without Upgrade: websocket or with another version: it names the one spoken here. */
const upgradeRequired = (message: string): HttpRefusal =>
  new HttpRefusal(426, message, { Upgrade: 'websocket', 'Sec-WebSocket-Version': WEBSOCKET_VERSION });

/** A request head (its lines) checked as RFC 6455 4.2.1 asks: the request and its key, or an HttpRefusal. */
export function parseRequest(lines: string[]): { request: UpgradeRequest; key: string } {
  const m = /^([!#$%&'*+\-.^_`|~0-9A-Za-z]+) (\S+) HTTP\/(\d)\.(\d)$/.exec(lines[0]!);
  if (!m) throw new HttpRefusal(400, `not an HTTP request line: ${JSON.stringify(lines[0]!.slice(0, 64))}`);
  const [, method, url, major, minor] = m as unknown as [string, string, string, string, string];
  if (Number(major) < 1 || (major === '1' && minor === '0')) throw new HttpRefusal(505, `HTTP/${major}.${minor}: a WebSocket needs HTTP/1.1`);
  if (method !== 'GET') throw new HttpRefusal(405, `method ${method}: a WebSocket opens with GET`, { Allow: 'GET' });
  if (!url.startsWith('/')) throw new HttpRefusal(400, `request target ${JSON.stringify(url.slice(0, 64))}: an origin-form path was expected`);
  const headers = parseHeaders(lines.slice(1), ['host', 'sec-websocket-key', 'sec-websocket-version']);
  if (headers.host === undefined) throw new HttpRefusal(400, 'no Host header');
  if (!hasToken(headers.upgrade, 'websocket')) throw upgradeRequired('not a WebSocket upgrade (no Upgrade: websocket)');
  if (!hasToken(headers.connection, 'upgrade')) throw new HttpRefusal(400, 'Connection does not include upgrade');
  if (headers['sec-websocket-version'] !== WEBSOCKET_VERSION) {
    throw upgradeRequired(`Sec-WebSocket-Version ${headers['sec-websocket-version'] ?? 'missing'}: only ${WEBSOCKET_VERSION} is spoken here`);
  }
  const key = headers['sec-websocket-key'];
  if (key === undefined || !KEY.test(key)) throw new HttpRefusal(400, 'Sec-WebSocket-Key is missing or not 16 bytes in base64');
  const protocols = list(headers['sec-websocket-protocol']);
  if (protocols.some(p => !TOKEN.test(p))) throw new HttpRefusal(400, 'a subprotocol in Sec-WebSocket-Protocol is not a token');
  const q = url.indexOf('?');
  const request: UpgradeRequest = {
    url,
    path: q < 0 ? url : url.slice(0, q),
    query: q < 0 ? '' : url.slice(q + 1),
    headers,
    protocols,
    origin: headers.origin,
  };
  return { request, key };
}

/** What onUpgrade's answer means: accept (with a subprotocol and headers) or refuse (a status); a TypeError for an answer that means nothing. */
export function readAnswer(answer: UpgradeAnswer, request: UpgradeRequest): { refuse: HttpRefusal } | { protocol: string | undefined; headers: Readonly<Record<string, string>> } {
  if (answer === undefined || answer === true) return { protocol: undefined, headers: {} };
  if (answer === false) return { refuse: new HttpRefusal(403, 'refused by onUpgrade') };
  if (typeof answer !== 'object' || answer === null) throw new TypeError(`onUpgrade must answer nothing, a boolean or an object, got ${String(answer)}`);
  const headers = answer.headers ?? {};
  checkHeaders(headers);
  const { status, protocol } = answer;
  if (status !== undefined && status !== 101) {
    if (!Number.isInteger(status) || status < 400 || status > 599) throw new TypeError(`onUpgrade's status must be 101 or 400-599, got ${String(status)}`);
    if (protocol !== undefined) throw new TypeError('onUpgrade refused (a status) and chose a subprotocol');
    const body = answer.body;
    if (body !== undefined && typeof body !== 'string') throw new TypeError('onUpgrade\'s body must be a string');
    return { refuse: new HttpRefusal(status, body ?? `refused by onUpgrade with ${status}`, headers) };
  }
  if (protocol !== undefined && !request.protocols.includes(protocol)) {
    throw new TypeError(`onUpgrade chose subprotocol ${JSON.stringify(protocol)}, which the client did not offer (${request.protocols.join(', ') || 'none'})`);
  }
  return { protocol, headers };
}

/** Extra headers must be tokens with values that cannot end the line: else a TypeError (a programming error of the hook). */
function checkHeaders(headers: Readonly<Record<string, string>>): void {
  if (typeof headers !== 'object' || headers === null) throw new TypeError('headers must be an object of strings');
  for (const [name, value] of Object.entries(headers)) {
    if (!TOKEN.test(name) || typeof value !== 'string' || /[\r\n\0]/.test(value)) throw new TypeError(`not a valid header: ${JSON.stringify(name)}: ${JSON.stringify(value)}`);
  }
}

function renderHeaders(headers: Readonly<Record<string, string>>): string {
  let out = '';
  for (const [name, value] of Object.entries(headers)) out += `${name}: ${value}\r\n`;
  return out;
}

/** The 101 that opens the WebSocket. */
export function acceptResponse(key: string, protocol: string | undefined, headers: Readonly<Record<string, string>>): Buffer {
  return Buffer.from('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n'
    + `Sec-WebSocket-Accept: ${acceptKey(key)}\r\n${protocol !== undefined ? `Sec-WebSocket-Protocol: ${protocol}\r\n` : ''}${renderHeaders(headers)}\r\n`, 'latin1');
}

const REASONS: Readonly<Record<number, string>> = {
  400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found', 405: 'Method Not Allowed', 408: 'Request Timeout',
  426: 'Upgrade Required', 429: 'Too Many Requests', 431: 'Request Header Fields Too Large', 500: 'Internal Server Error',
  503: 'Service Unavailable', 505: 'HTTP Version Not Supported',
};

/** A plain HTTP error that ends the connection: the status, the refusal's headers, its message as the body. */
export function refusalResponse(refusal: HttpRefusal): Buffer {
  const body = Buffer.from(`${refusal.message}\n`, 'utf8');
  return Buffer.concat([Buffer.from(`HTTP/1.1 ${refusal.status} ${REASONS[refusal.status] ?? 'Error'}\r\nConnection: close\r\n`
    + `Content-Type: text/plain; charset=utf-8\r\nContent-Length: ${body.length}\r\n${renderHeaders(refusal.headers)}\r\n`, 'latin1'), body]);
}

// ---- the client's side (4.1) ----

/** What a client asks for: the target and its subprotocols, and any headers of its own. */
export interface UpgradeTarget {
  /** The request target, path and query. Default '/'. */
  path?: string;
  /** Host header. Default: the host and port connected to. */
  host?: string;
  /** Subprotocols offered, in order of preference. */
  protocols?: readonly string[];
  /** Origin header (a browser's; a server may check it). */
  origin?: string;
  /** More headers (Authorization, Cookie…). */
  headers?: Readonly<Record<string, string>>;
}

/** Check a client's target (a config error is the caller's to raise): a message, or null when it is usable. */
export function targetProblem(t: UpgradeTarget): string | null {
  if (t.path !== undefined && (typeof t.path !== 'string' || !t.path.startsWith('/') || /[\s\0]/.test(t.path))) return `websocket.path must start with / and hold no spaces, got ${JSON.stringify(t.path)}`;
  if (t.protocols !== undefined && (!Array.isArray(t.protocols) || t.protocols.some(p => typeof p !== 'string' || !TOKEN.test(p)))) return 'websocket.protocols must be an array of tokens';
  for (const v of [t.host, t.origin]) if (v !== undefined && (typeof v !== 'string' || /[\r\n\0]/.test(v))) return 'websocket.host and websocket.origin must be strings without line breaks';
  try {
    checkHeaders(t.headers ?? {});
  } catch (err) {
    return `websocket.headers: ${(err as Error).message}`;
  }
  return null;
}

/** The client's request and the key its answer must prove it read. */
export function clientRequest(t: UpgradeTarget & { host: string }): { bytes: Buffer; key: string } {
  const key = randomBytes(16).toString('base64');
  const protocols = t.protocols?.length ? `Sec-WebSocket-Protocol: ${t.protocols.join(', ')}\r\n` : '';
  const origin = t.origin !== undefined ? `Origin: ${t.origin}\r\n` : '';
  const text = `GET ${t.path ?? '/'} HTTP/1.1\r\nHost: ${t.host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n`
    + `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: ${WEBSOCKET_VERSION}\r\n${protocols}${origin}${renderHeaders(t.headers ?? {})}\r\n`;
  return { bytes: Buffer.from(text, 'latin1'), key };
}

/** The server's answer (its head's lines) checked as RFC 6455 4.1 asks: the subprotocol it chose, or an Error saying why the client must fail. */
export function checkResponse(lines: string[], key: string, offered: readonly string[]): { protocol: string | undefined; headers: Record<string, string> } {
  const m = /^HTTP\/1\.\d (\d{3})(?: (.*))?$/.exec(lines[0]!);
  if (!m) throw new Error(`not an HTTP response: ${JSON.stringify(lines[0]!.slice(0, 64))}`);
  if (m[1] !== '101') throw new Error(`the server answered ${m[1]}${m[2] ? ` ${m[2]}` : ''}, not 101 Switching Protocols`);
  const headers = parseHeaders(lines.slice(1), ['sec-websocket-accept', 'sec-websocket-protocol']);
  if (!hasToken(headers.upgrade, 'websocket')) throw new Error('the 101 has no Upgrade: websocket');
  if (!hasToken(headers.connection, 'upgrade')) throw new Error('the 101 has no Connection: upgrade');
  if (headers['sec-websocket-accept'] !== acceptKey(key)) throw new Error('Sec-WebSocket-Accept does not answer our key');
  if (headers['sec-websocket-extensions'] !== undefined) throw new Error('the server chose an extension, and none was offered');
  const protocol = headers['sec-websocket-protocol'];
  if (protocol !== undefined && !offered.includes(protocol)) throw new Error(`the server chose subprotocol ${JSON.stringify(protocol)}, which was not offered`);
  return { protocol, headers };
}
