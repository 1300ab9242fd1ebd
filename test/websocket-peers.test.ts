// WebSocket peers nobody here wrote, against ringwire on both cores (and every pair
// of read and write paths): the `ws` package's client (a dev dependency) and Python's
// websockets (Debian's python3-websockets, which npm test's peers step installs):
// text and binary echoed as what they are, messages the clients fragment, ping and
// pong, close codes both ways, and messages that break the RFC or the limits closed
// with the RFC's code (1007, 1009) while another client carries on. Then
// examples/ws-chat.mjs as `ringwire serve --workers 2` runs it, with ws clients on
// both workers. Headless Chromium is npm run test:browser (test/browser/).
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { promisify } from 'node:util';
import { once } from 'node:events';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { makeTestCertificates, type TestCertificates } from '../src/bench/tls-certificates.ts';
import { connect as connectClient, type RingwireError, type ServerOptions } from '../src/index.ts';
import { PATH_PAIRS, startServer, until } from './net-helpers.ts';

/** An echo that keeps each message's kind, closes on "close me" with 4001, and records the peer's close. */
function echoServer(path: (typeof PATH_PAIRS)[number], extra: ServerOptions = {}) {
  const closes: ({ code: number; reason: string } | undefined)[] = [];
  const errors: RingwireError[] = [];
  const started = startServer({
    framing: 'websocket', maxFrame: 1024, ...path, ...extra,
    onFrame(m, c, _r, text) {
      if (text && Buffer.from(m).toString() === 'close me') return c.close(4001, 'as asked');
      c.send(m, { text });
    },
    onClose: c => void closes.push(c.peerClose),
  });
  return started.then(({ server, port }) => {
    server.on('clientError', e => errors.push(e));
    return { server, port, closes, errors };
  });
}

function open(port: number, path = '/'): Promise<WebSocket> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}${path}`, { perMessageDeflate: false });
  return new Promise((resolve, reject) => ws.once('open', () => resolve(ws)).once('error', reject));
}

/** The next message a ws client gets: its text (or bytes) and whether it was binary. */
function next(ws: WebSocket): Promise<[string | number[], boolean]> {
  return new Promise(resolve => ws.once('message', (d: Buffer, binary) => resolve([binary ? [...d] : d.toString(), binary])));
}

const closed = (ws: WebSocket): Promise<[number, string]> => new Promise(resolve => ws.once('close', (code, reason) => resolve([code, reason.toString()])));

/** Python's websockets client (Debian's /usr/bin/python3) running one case of test/fixtures/ws_peer.py (in its own process: the server runs in this one). */
async function python(port: number, which: string): Promise<Record<string, unknown>> {
  const { stdout } = await promisify(execFile)('/usr/bin/python3', ['test/fixtures/ws_peer.py', `ws://127.0.0.1:${port}/`, which], { encoding: 'utf8', timeout: 20_000 });
  return JSON.parse(stdout);
}

describe.each(PATH_PAIRS)('WebSocket peers (core=$core zeroCopy=$zeroCopy write=$writePath)', path => {
  it('the ws client: text and binary echoed as what they are, its fragments joined, ping answered, its close code seen', async () => {
    const { server, port, closes } = await echoServer(path);
    const ws = await open(port);
    ws.send('héllo');
    expect(await next(ws)).toEqual(['héllo', false]);
    ws.send(Buffer.of(0, 1, 255));
    expect(await next(ws)).toEqual([[0, 1, 255], true]);
    ws.send('frag', { fin: false });
    ws.send('men', { fin: false });
    ws.send('ted', { fin: true });
    expect(await next(ws)).toEqual(['fragmented', false]);
    const pong = new Promise<string>(resolve => ws.once('pong', d => resolve(d.toString())));
    ws.ping('are you there');
    expect(await pong).toBe('are you there');
    const end = closed(ws);
    ws.close(4000, 'bye');
    expect(await end).toEqual([4000, '']); // our answer echoes the code
    await until(() => closes.length === 1);
    expect(closes).toEqual([{ code: 4000, reason: 'bye' }]);
    await server.close();
  });

  it('the ws client hears the server\'s close code; bad UTF-8 closes with 1007 and a message over maxFrame with 1009, while another client carries on', async () => {
    const { server, port, errors } = await echoServer(path);
    const other = await open(port);
    const asked = await open(port);
    const end = closed(asked);
    asked.send('close me');
    expect(await end).toEqual([4001, 'as asked']);
    const badText = await open(port);
    const badEnd = closed(badText);
    badText.send(Buffer.of(0x61, 0xc3, 0x28), { binary: false });
    expect((await badEnd)[0]).toBe(1007);
    const big = await open(port);
    const bigEnd = closed(big);
    big.send(Buffer.alloc(1025));
    expect((await bigEnd)[0]).toBe(1009);
    other.send('still here');
    expect(await next(other)).toEqual(['still here', false]);
    expect(errors.map(e => e.code)).toEqual(['ERR_WEBSOCKET_UTF8', 'ERR_FRAME_TOO_LARGE']);
    other.close();
    await server.close();
  });

  it('Python\'s websockets: text, binary and fragmented messages echoed, its ping answered, its close code seen; 1009 past maxFrame; our 4001 heard', async () => {
    const { server, port, closes } = await echoServer(path);
    expect(await python(port, 'echo')).toEqual({ echoes: ['héllo', [0, 1, 255], 'fragmented', [1, 2], 'pong'], close_code: 4000 });
    await until(() => closes.length === 1);
    expect(closes).toEqual([{ code: 4000, reason: 'bye' }]);
    expect(await python(port, 'too-large')).toEqual({ close_code: 1009 });
    expect(await python(port, 'close-me')).toEqual({ close_code: 4001 });
    await server.close();
  });
});

describe.each(['wasm', 'js'] as const)('WebSocket over TLS (wss), core=%s', core => {
  let certs: TestCertificates;
  beforeAll(() => {
    certs = makeTestCertificates();
  });
  afterAll(() => certs.remove());

  it('the ws client over wss:// and connect({ tls, websocket }): the upgrade after the TLS handshake, messages both ways', async () => {
    const { server, port } = await startServer({ framing: 'websocket', core, tls: { ...certs.server }, onFrame: (m, c, _r, text) => void c.send(m, { text }) });
    const ws = new WebSocket(`wss://localhost:${port}/`, { ca: certs.ca, perMessageDeflate: false });
    await once(ws, 'open');
    ws.send('over tls');
    expect(await next(ws)).toEqual(['over tls', false]);
    ws.close(1000);
    await closed(ws);
    const got: string[] = [];
    const client = await connectClient({
      framing: 'websocket', core, port, tls: { ca: certs.ca, servername: 'localhost' },
      onFrame: (m, _c, _r, text) => void got.push(`${text} ${Buffer.from(m).toString()}`),
    });
    await client.ready;
    client.send(Buffer.from('both ways'), { text: true });
    await until(() => got.length === 1);
    expect(got).toEqual(['true both ways']);
    await client.close();
    await server.close();
  });
});

describe('examples/ws-chat under ringwire serve --workers 2', () => {
  let child: ChildProcess | undefined;
  afterEach(() => {
    child?.kill('SIGKILL'); // only the server this file started
  });

  it('ws clients on both workers hear each other once each; a path other than /chat gets a 404', async () => {
    child = spawn(process.execPath, ['dist/cli.js', 'serve', '--port', '0', '--workers', '2', '--framing', 'websocket', '--handler', 'examples/ws-chat.mjs'], { stdio: ['ignore', 'pipe', 'inherit'] });
    const [line] = (await once(child.stdout!.setEncoding('utf8'), 'data')) as [string];
    const port = Number(/:(\d+) /.exec(line)![1]);
    const refused = new WebSocket(`ws://127.0.0.1:${port}/elsewhere`);
    const status = await new Promise(resolve => refused.once('unexpected-response', (_req, res) => resolve(res.statusCode)));
    expect(status).toBe(404);
    const members = await Promise.all(Array.from({ length: 12 }, async (_, i) => {
      // Listening before 'open': the welcome may come in the same read as the 101.
      const ws = new WebSocket(`ws://127.0.0.1:${port}/chat`, { perMessageDeflate: false });
      const heard: string[] = [];
      let id = '';
      ws.on('message', (d: Buffer) => {
        const m = JSON.parse(d.toString());
        if (m.info?.startsWith('welcome ')) id = m.info.split(' ')[1].replace(':', '');
        else if (m.from) heard.push(`${m.from}: ${m.text}`);
      });
      await once(ws, 'open');
      ws.send(JSON.stringify({ nick: `m${i}` }));
      ws.send(JSON.stringify({ join: 'lobby' }));
      await until(() => heard.includes(`m${i}: * m${i} joined`), 10_000, 'its own join');
      return { ws, heard, id: () => id };
    }));
    expect(new Set(members.map(m => m.id().split('-')[0])).size).toBe(2);
    members.forEach((m, i) => m.ws.send(JSON.stringify({ say: `hello from m${i}` })));
    const said = members.map((_, i) => `m${i}: hello from m${i}`);
    await until(() => members.every(m => said.every(s => m.heard.includes(s))), 15_000, 'every message at every member');
    for (const m of members) expect(m.heard.filter(h => h.includes(': hello from'))).toHaveLength(12);
    for (const m of members) m.ws.close();
  });
});
