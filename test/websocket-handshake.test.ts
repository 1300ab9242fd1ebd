// The WebSocket opening handshake's rules (RFC 6455 section 4), as text: the head
// reader's limit and split reads, each check the server makes and the status it
// answers, onUpgrade's answers, and the client's check of a 101. The same rules over
// real sockets and real peers are in websocket-upgrade.test.ts, websocket-messages.test.ts and websocket-peers.test.ts.

import { describe, expect, it } from 'vitest';
import {
  acceptKey, acceptResponse, checkResponse, clientRequest, HeadReader, HttpRefusal, parseRequest, readAnswer, refusalResponse,
} from '../src/net/websocket-handshake.ts';

const KEY = 'dGhlIHNhbXBsZSBub25jZQ==';
const request = (lines: string[]) => Buffer.from([...lines, '', ''].join('\r\n'), 'latin1');
const good = ['GET /chat?room=1 HTTP/1.1', 'Host: server.example.com', 'Upgrade: websocket', 'Connection: Upgrade',
  `Sec-WebSocket-Key: ${KEY}`, 'Origin: http://example.com', 'Sec-WebSocket-Protocol: chat, superchat', 'Sec-WebSocket-Version: 13'];

/** The head's lines; bytes after the head (a refusal's body) are left. */
function read(bytes: Uint8Array, limit = 8192): string[] {
  const r = new HeadReader(limit);
  expect(r.push(bytes)).toBeGreaterThan(0);
  return r.lines();
}

function refusal(lines: string[]): HttpRefusal {
  try {
    parseRequest(read(request(lines)));
  } catch (err) {
    expect(err).toBeInstanceOf(HttpRefusal);
    return err as HttpRefusal;
  }
  throw new Error('accepted');
}

describe('the opening handshake', () => {
  it('answers the RFC\'s own example key with its accept value (section 1.3)', () => {
    expect(acceptKey(KEY)).toBe('s3pPLMBiTxaQ9kYGzzhZRbK+xOo=');
  });

  it('reads the RFC\'s example request: path, query, headers, subprotocols in order, origin', () => {
    const { request: r, key } = parseRequest(read(request(good)));
    expect(key).toBe(KEY);
    expect(r).toMatchObject({ url: '/chat?room=1', path: '/chat', query: 'room=1', protocols: ['chat', 'superchat'], origin: 'http://example.com' });
    expect(r.headers.host).toBe('server.example.com');
  });

  it('finds the end of the head across reads split anywhere, and hands back what follows it', () => {
    const head = request(good);
    const bytes = Buffer.concat([head, Buffer.from([0x81, 0x80])]);
    for (let cut = 1; cut < head.length; cut++) {
      const r = new HeadReader(8192);
      expect(r.push(bytes.subarray(0, cut))).toBe(-1);
      expect(r.push(bytes.subarray(cut))).toBe(head.length - cut);
      expect(r.lines()[0]).toBe(good[0]);
    }
  });

  it('refuses a head longer than the limit with 431, at the first byte past it', () => {
    const r = new HeadReader(256);
    expect(r.push(new Uint8Array(256).fill(0x41))).toBe(-1);
    expect(() => r.push(Uint8Array.of(0x41))).toThrow(expect.objectContaining({ status: 431 }));
  });

  it.each([
    { name: 'a POST', lines: ['POST /chat HTTP/1.1', ...good.slice(1)], status: 405 },
    { name: 'HTTP/1.0', lines: ['GET /chat HTTP/1.0', ...good.slice(1)], status: 505 },
    { name: 'no Host', lines: good.filter(l => !l.startsWith('Host')), status: 400 },
    { name: 'no Upgrade (a plain HTTP request)', lines: good.filter(l => !l.startsWith('Upgrade')), status: 426 },
    { name: 'Upgrade: h2c', lines: good.map(l => (l.startsWith('Upgrade') ? 'Upgrade: h2c' : l)), status: 426 },
    { name: 'Connection: keep-alive', lines: good.map(l => (l.startsWith('Connection') ? 'Connection: keep-alive' : l)), status: 400 },
    { name: 'version 8', lines: good.map(l => (l.startsWith('Sec-WebSocket-Version') ? 'Sec-WebSocket-Version: 8' : l)), status: 426 },
    { name: 'no version', lines: good.filter(l => !l.startsWith('Sec-WebSocket-Version')), status: 426 },
    { name: 'a key of 15 bytes', lines: good.map(l => (l.startsWith('Sec-WebSocket-Key') ? `Sec-WebSocket-Key: ${Buffer.alloc(15).toString('base64')}` : l)), status: 400 },
    { name: 'two keys', lines: [...good, `Sec-WebSocket-Key: ${KEY}`], status: 400 },
    { name: 'no key', lines: good.filter(l => !l.startsWith('Sec-WebSocket-Key')), status: 400 },
    { name: 'an absolute URL', lines: ['GET http://x/chat HTTP/1.1', ...good.slice(1)], status: 400 },
    { name: 'a folded header', lines: [...good, ' folded'], status: 400 },
    { name: 'a line without a colon', lines: [...good, 'nonsense'], status: 400 },
    { name: 'a subprotocol that is not a token', lines: good.map(l => (l.startsWith('Sec-WebSocket-Protocol') ? 'Sec-WebSocket-Protocol: a b' : l)), status: 400 },
  ])('refuses $name with $status', ({ lines, status }) => {
    const r = refusal(lines);
    expect(r.status).toBe(status);
    if (status === 426) expect(r.headers['Sec-WebSocket-Version']).toBe('13');
  });

  it('takes header names and the Upgrade and Connection tokens in any case, Connection among others', () => {
    const lines = good.map(l => l.replace('Upgrade: websocket', 'UPGRADE: WebSocket').replace('Connection: Upgrade', 'connection: keep-alive, upgrade'));
    expect(parseRequest(read(request(lines))).key).toBe(KEY);
  });

  it('refuses a bare LF inside the head', () => {
    const bytes = Buffer.from(`${good.join('\r\n')}\nX: y\r\n\r\n`, 'latin1');
    expect(() => read(bytes)).toThrow(expect.objectContaining({ status: 400 }));
  });

  describe('onUpgrade\'s answer', () => {
    const { request: r } = parseRequest(read(request(good)));
    it.each([[undefined], [true], [{}], [{ status: 101 }]])('%j accepts with no subprotocol', a => {
      expect(readAnswer(a, r)).toEqual({ protocol: undefined, headers: {} });
    });
    it('false refuses with 403; a status with that status, body and headers', () => {
      expect(readAnswer(false, r)).toMatchObject({ refuse: { status: 403 } });
      const d = readAnswer({ status: 401, body: 'who are you', headers: { 'WWW-Authenticate': 'Bearer' } }, r);
      expect(d).toMatchObject({ refuse: { status: 401, message: 'who are you', headers: { 'WWW-Authenticate': 'Bearer' } } });
    });
    it('a subprotocol the client offered, with headers', () => {
      expect(readAnswer({ protocol: 'superchat', headers: { 'X-Room': '1' } }, r)).toEqual({ protocol: 'superchat', headers: { 'X-Room': '1' } });
    });
    it.each([
      [{ protocol: 'other' }], [{ status: 302 }], [{ status: 403, protocol: 'chat' }], [{ headers: { 'X-A': 'a\r\nSet-Cookie: b' } }], [{ headers: { 'a b': 'c' } }], [42], [null],
    ])('%j is a programming error (a TypeError: ERR_HANDLER)', a => {
      expect(() => readAnswer(a as never, r)).toThrow(TypeError);
    });
  });

  it('renders the 101 with the accept value, the subprotocol and extra headers, and a refusal as plain HTTP that closes', () => {
    expect(acceptResponse(KEY, 'chat', { 'X-A': 'b' }).toString('latin1')).toBe('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n'
      + 'Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nSec-WebSocket-Protocol: chat\r\nX-A: b\r\n\r\n');
    const text = refusalResponse(new HttpRefusal(426, 'no', { 'Sec-WebSocket-Version': '13' })).toString('latin1');
    expect(text).toBe('HTTP/1.1 426 Upgrade Required\r\nConnection: close\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 3\r\nSec-WebSocket-Version: 13\r\n\r\nno\n');
  });

  describe('the client\'s side', () => {
    it('sends a request the server\'s checks accept, with a fresh 16-byte key, and checks the 101 that answers it', () => {
      const { bytes, key } = clientRequest({ host: 'h:1', path: '/x', protocols: ['a', 'b'], origin: 'o', headers: { Cookie: 'c=1' } });
      const { request: r, key: seen } = parseRequest(read(bytes));
      expect(seen).toBe(key);
      expect(Buffer.from(key, 'base64')).toHaveLength(16);
      expect(r).toMatchObject({ path: '/x', protocols: ['a', 'b'], origin: 'o', headers: { cookie: 'c=1', host: 'h:1' } });
      const answer = read(acceptResponse(key, 'b', {}));
      expect(checkResponse(answer, key, ['a', 'b']).protocol).toBe('b');
    });

    it.each([
      ['a 403', () => refusalResponse(new HttpRefusal(403, 'no')), /answered 403 Forbidden/],
      ['a wrong accept value', () => acceptResponse(KEY, undefined, {}), /does not answer our key/],
      ['a subprotocol not offered', (k: string) => acceptResponse(k, 'z', {}), /not offered/],
      ['an extension', (k: string) => acceptResponse(k, undefined, { 'Sec-WebSocket-Extensions': 'permessage-deflate' }), /extension/],
    ])('fails on %s', (_name, answer, message) => {
      const { key } = clientRequest({ host: 'h' });
      expect(() => checkResponse(read(answer(key)), key, ['a'])).toThrow(message);
    });
  });
});
