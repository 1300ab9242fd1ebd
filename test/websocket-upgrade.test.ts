// The WebSocket upgrade as a preamble stage, over real sockets on 127.0.0.1, on
// both cores and every read and write path: the exact 101, what onUpgrade sees and
// how it answers (sync, async, refusing, throwing), each refusal as exact HTTP
// followed by a FIN and ERR_UPGRADE, the head's size limit at the limit and one byte
// past it, the deadline (408), a request split into single bytes, the PROXY header
// before it, and ringwire's own client against its server and against servers that
// answer wrongly. The rules as text are in websocket-handshake.test.ts; messages and
// real peers in websocket-messages.test.ts and websocket-peers.test.ts.

import net from 'node:net';
import { once } from 'node:events';
import { describe, expect, it } from 'vitest';
import { connect as connectClient, UpgradeTimeoutError, type Connection, type RingwireError, type ServerOptions } from '../src/index.ts';
import { acceptKey } from '../src/net/websocket-handshake.ts';
import { connect, ending, PATHS, plainServer, sleep, startServer, until } from './net-helpers.ts';

const KEY = 'dGhlIHNhbXBsZSBub25jZQ==';
const ACCEPT = 's3pPLMBiTxaQ9kYGzzhZRbK+xOo=';
const head = (lines: string[]) => `${[...lines, '', ''].join('\r\n')}`;
const GOOD = ['GET /chat?room=1 HTTP/1.1', 'Host: server.example.com', 'Upgrade: websocket', 'Connection: Upgrade',
  `Sec-WebSocket-Key: ${KEY}`, 'Origin: http://example.com', 'Sec-WebSocket-Protocol: chat, superchat', 'Sec-WebSocket-Version: 13'];

/** Until `n` bytes came (or the socket closed): what came. */
function receive(socket: net.Socket): { text: () => string; until: (s: string) => Promise<void> } {
  let text = '';
  socket.on('data', d => (text += d.toString('latin1')));
  return { text: () => text, until: s => until(() => text.includes(s), 10_000, JSON.stringify(s)) };
}

/** The plain HTTP refusal a server writes for this status and message. */
function refusal(status: string, message: string, extra = ''): string {
  const body = `${message}\n`;
  return `HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\n${extra}\r\n${body}`;
}

async function server(path: (typeof PATHS)[number], options: ServerOptions = {}) {
  const errors: RingwireError[] = [];
  const { server: s, port } = await startServer({ framing: 'websocket', onFrame() {}, ...path, ...options });
  s.on('clientError', e => errors.push(e));
  return { s, port, errors };
}

describe.each(PATHS)('the WebSocket upgrade (core=$core zeroCopy=$zeroCopy write=$writePath)', path => {
  it('answers the RFC\'s example request with the exact 101, after onUpgrade saw it and before onOpen', async () => {
    const seen: string[] = [];
    let conn: Connection | undefined;
    const { s, port } = await server(path, {
      onUpgrade(request, c) {
        seen.push(`upgrade ${request.url} ${request.path} ${request.query} ${request.protocols.join('|')} ${request.origin} ${request.headers.host} ${c.remoteAddress}`);
        return { protocol: 'superchat', headers: { 'X-Room': '1' } };
      },
      onOpen(c) {
        conn = c;
        seen.push(`open ${c.protocol} ${c.request?.path}`);
      },
    });
    const socket = await connect(port);
    const got = receive(socket);
    socket.write(head(GOOD));
    await got.until('\r\n\r\n');
    expect(got.text()).toBe(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${ACCEPT}\r\n`
      + 'Sec-WebSocket-Protocol: superchat\r\nX-Room: 1\r\n\r\n');
    await until(() => conn !== undefined);
    expect(seen).toEqual(['upgrade /chat?room=1 /chat room=1 chat|superchat http://example.com server.example.com 127.0.0.1', 'open superchat /chat']);
    socket.destroy();
    await s.close();
  });

  it('takes a request that arrives one byte at a time', async () => {
    const { s, port } = await server(path);
    const socket = await connect(port);
    const got = receive(socket);
    for (const b of Buffer.from(head(GOOD))) {
      socket.write(Buffer.of(b));
      await sleep(0);
    }
    await got.until('\r\n\r\n');
    expect(got.text()).toContain(`Sec-WebSocket-Accept: ${ACCEPT}\r\n`);
    socket.destroy();
    await s.close();
  });

  it.each([
    { name: 'a plain HTTP GET', lines: ['GET / HTTP/1.1', 'Host: x'], status: '426 Upgrade Required', message: 'not a WebSocket upgrade (no Upgrade: websocket)', extra: 'Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n' },
    { name: 'version 8', lines: GOOD.map(l => l.replace('Version: 13', 'Version: 8')), status: '426 Upgrade Required', message: 'Sec-WebSocket-Version 8: only 13 is spoken here', extra: 'Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n' },
    { name: 'a POST', lines: ['POST /chat HTTP/1.1', ...GOOD.slice(1)], status: '405 Method Not Allowed', message: 'method POST: a WebSocket opens with GET', extra: 'Allow: GET\r\n' },
    { name: 'a short key', lines: GOOD.map(l => l.replace(KEY, 'AAAA')), status: '400 Bad Request', message: 'Sec-WebSocket-Key is missing or not 16 bytes in base64', extra: '' },
  ])('refuses $name with a plain $status, then FIN, closed with ERR_UPGRADE, onOpen never run', async ({ lines, status, message, extra }) => {
    let opened = false;
    const { s, port, errors } = await server(path, { onOpen: () => void (opened = true) });
    const socket = await connect(port);
    const end = ending(socket);
    socket.write(head(lines));
    const { data, fin } = await end;
    expect(data).toBe(refusal(status, message, extra));
    expect(fin).toBe(true);
    expect(errors.map(e => [e.code, e.message])).toEqual([['ERR_UPGRADE', `WebSocket upgrade answered ${status.slice(0, 3)}: ${message}`]]);
    expect(opened).toBe(false);
    await s.close();
  });

  it('takes a head of exactly maxUpgradeBytes and answers one byte longer with 431', async () => {
    const { s, port, errors } = await server(path, { maxUpgradeBytes: 512 });
    const base = head([...GOOD, 'X-Pad: ']).length;
    const padded = (n: number) => head([...GOOD, `X-Pad: ${'p'.repeat(n - base)}`]);
    expect(padded(512)).toHaveLength(512);
    const ok = await connect(port);
    const okGot = receive(ok);
    ok.write(padded(512));
    await okGot.until('\r\n\r\n');
    expect(okGot.text()).toMatch(/^HTTP\/1\.1 101 /);
    ok.destroy();
    const over = await connect(port);
    const end = ending(over);
    over.write(padded(513));
    const { data, fin } = await end;
    expect(data).toBe(refusal('431 Request Header Fields Too Large', 'the request head is longer than 512 bytes'));
    expect(fin).toBe(true);
    expect(errors.map(e => e.code)).toEqual(['ERR_UPGRADE']);
    await s.close();
  });

  it('answers 408 and closes with ERR_UPGRADE (its timeout counter) when the request is not whole within upgradeTimeout', async () => {
    const { s, port, errors } = await server(path, { upgradeTimeout: 150 });
    const socket = await connect(port);
    const end = ending(socket);
    socket.write(head(GOOD).slice(0, 40));
    const { data, fin } = await end;
    expect(data).toMatch(/^HTTP\/1\.1 408 Request Timeout\r\n[^]*no whole WebSocket upgrade \d+ ms after the connection \(upgradeTimeout 150 ms\)\n$/);
    expect(fin).toBe(true);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toBeInstanceOf(UpgradeTimeoutError);
    expect(errors[0]!.code).toBe('ERR_UPGRADE');
    expect(s.stats().total.errorsByCode.ERR_UPGRADE).toBe(1);
    expect(s.stats().total.upgradeTimeouts).toBe(1);
    await s.close();
  });

  it.each([
    { name: 'false', answer: () => false, status: '403 Forbidden', message: 'refused by onUpgrade', extra: '', code: 'ERR_UPGRADE' },
    { name: 'an async status with headers', answer: async () => ({ status: 401, body: 'who?', headers: { 'WWW-Authenticate': 'Bearer' } }), status: '401 Unauthorized', message: 'who?', extra: 'WWW-Authenticate: Bearer\r\n', code: 'ERR_UPGRADE' },
    { name: 'a throw', answer: () => { throw new Error('boom'); }, status: '500 Internal Server Error', message: 'the server failed to decide on the upgrade', extra: '', code: 'ERR_HANDLER' },
    { name: 'a rejection', answer: () => Promise.reject(new Error('boom')), status: '500 Internal Server Error', message: 'the server failed to decide on the upgrade', extra: '', code: 'ERR_HANDLER' },
    { name: 'a subprotocol not offered', answer: () => ({ protocol: 'nope' }), status: '500 Internal Server Error', message: 'the server failed to decide on the upgrade', extra: '', code: 'ERR_HANDLER' },
  ])('onUpgrade answering $name: a plain $status, FIN, $code', async ({ answer, status, message, extra, code }) => {
    const { s, port, errors } = await server(path, { onUpgrade: answer as ServerOptions['onUpgrade'] });
    const socket = await connect(port);
    const end = ending(socket);
    socket.write(head(GOOD));
    const { data, fin } = await end;
    expect(data).toBe(refusal(status, message, extra));
    expect(fin).toBe(true);
    expect(errors.map(e => e.code)).toEqual([code]);
    await s.close();
  });

  it('a send() inside onUpgrade is false, and nothing follows a refusal\'s HTTP answer', async () => {
    let sent: boolean | undefined;
    const { s, port, errors } = await server(path, { onUpgrade: (_r, c) => { sent = c.send(Buffer.from('leak')); return false; } });
    const socket = await connect(port);
    const end = ending(socket);
    socket.write(head(GOOD));
    const { data, fin } = await end;
    expect(data).toBe(refusal('403 Forbidden', 'refused by onUpgrade'));
    expect([sent, fin, errors.map(e => e.code)]).toEqual([false, true, ['ERR_UPGRADE']]);
    await s.close();
  });

  it('answers a head with a bare LF with 400 as the LF comes, not at the deadline', async () => {
    const { s, port, errors } = await server(path, { upgradeTimeout: 30_000 });
    const socket = await connect(port);
    const end = ending(socket);
    socket.write(`${GOOD.join('\n')}\n\n`);
    const { data, fin } = await end;
    expect(data).toBe(refusal('400 Bad Request', 'a bare LF in the head (lines end in CRLF)'));
    expect([fin, errors.map(e => e.code)]).toEqual([true, ['ERR_UPGRADE']]);
    await s.close();
  });

  it('an async onUpgrade holds reading until it answers; a client that sent nothing and left is no error', async () => {
    let release!: () => void;
    const { s, port, errors } = await server(path, { onUpgrade: () => new Promise<void>(r => (release = r)) });
    const quiet = await connect(port);
    quiet.end();
    const socket = await connect(port);
    const got = receive(socket);
    socket.write(head(GOOD));
    await until(() => release !== undefined);
    await sleep(50);
    expect(got.text()).toBe('');
    release();
    await got.until('\r\n\r\n');
    expect(got.text()).toMatch(/^HTTP\/1\.1 101 Switching Protocols\r\n/);
    socket.destroy();
    await s.close();
    expect(errors).toEqual([]);
  });
});

describe('the upgrade behind a load balancer, and ringwire\'s own client', () => {
  it('reads a PROXY header, then the upgrade: onUpgrade sees the client the header names', async () => {
    let who: string | undefined;
    const { server: s, port } = await startServer({
      framing: 'websocket', proxyProtocol: 'v1', onFrame() {},
      onUpgrade: (_r, c) => void (who = `${c.remoteAddress}:${c.remotePort}`),
    });
    const socket = await connect(port);
    const got = receive(socket);
    socket.write(`PROXY TCP4 10.1.2.3 10.0.0.1 4000 443\r\n${head(GOOD)}`);
    await got.until('\r\n\r\n');
    expect(got.text()).toContain(`Sec-WebSocket-Accept: ${ACCEPT}`);
    expect(who).toBe('10.1.2.3:4000');
    socket.destroy();
    await s.close();
  });

  it.each(['wasm', 'js'] as const)('connect({ websocket }) sends a valid request and opens on the 101 with the chosen subprotocol (core=%s)', async core => {
    let request: { path: string; protocols: readonly string[]; origin: string | undefined; cookie: string | undefined } | undefined;
    const { server: s, port } = await startServer({
      framing: 'websocket', core, onFrame: (m, conn, _r, text) => void conn.send(m, { text }),
      onUpgrade: r => {
        request = { path: r.path, protocols: r.protocols, origin: r.origin, cookie: r.headers.cookie };
        return { protocol: 'b' };
      },
    });
    const got: string[] = [];
    const client = await connectClient({
      framing: 'websocket', core, port, websocket: { path: '/x', protocols: ['a', 'b'], origin: 'o', headers: { Cookie: 'c=1' } },
      onFrame: (m, _c, _r, text) => void got.push(`${text ? 'text' : 'binary'} ${Buffer.from(m).toString()}`),
    });
    const c = await client.ready;
    expect(c.protocol).toBe('b');
    expect(request).toEqual({ path: '/x', protocols: ['a', 'b'], origin: 'o', cookie: 'c=1' });
    // Its frames are masked (the server refuses unmasked ones with 1002) and carry their kind.
    client.send(Buffer.from('hi'), { text: true });
    client.send(Buffer.from('there'));
    await until(() => got.length === 2);
    expect(got).toEqual(['text hi', 'binary there']);
    await client.close();
    await s.close();
  });

  it.each([
    { name: 'a 403', answer: (_k: string) => refusal('403 Forbidden', 'no'), message: 'WebSocket handshake failed: the server answered 403 Forbidden, not 101 Switching Protocols' },
    { name: 'a wrong accept value', answer: () => `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${ACCEPT}\r\n\r\n`, message: 'WebSocket handshake failed: Sec-WebSocket-Accept does not answer our key' },
    { name: 'nothing (the server closes)', answer: null, message: 'the server closed after 0 bytes of its answer to the upgrade' },
  ])('a client whose server answers $name ends with ERR_UPGRADE, never opened', async ({ answer, message }) => {
    const peer = await plainServer(sock => {
      let text = '';
      sock.on('data', d => {
        text += d.toString('latin1');
        if (!text.includes('\r\n\r\n')) return;
        const key = /Sec-WebSocket-Key: (\S+)/.exec(text)![1]!;
        if (answer === null) sock.end();
        else sock.write(answer(key));
      });
    });
    let opened = false;
    const client = await connectClient({ framing: 'websocket', port: peer.port, onFrame() {}, onOpen: () => void (opened = true) });
    const [err] = (await once(client, 'end')) as [RingwireError];
    expect(opened).toBe(false);
    expect([err.code, err.message]).toEqual(['ERR_UPGRADE', message]);
    await expect(client.ready).rejects.toBe(err);
    await peer.stop();
    expect(acceptKey(KEY)).toBe(ACCEPT);
  });
});
