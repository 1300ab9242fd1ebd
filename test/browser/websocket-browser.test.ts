// A real browser as the WebSocket peer (npm run test:browser: headless Chromium,
// Debian's package, driven over the DevTools protocol by browser/chromium.ts): on
// both cores it opens a WebSocket to ringwire, sends text and binary and reads their
// echoes as what they are, closes with a code the server sees, and hears the
// server's close code; then examples/ws-chat.html, the page the example ships,
// chats with `ws` clients through `ringwire serve --framing websocket --handler
// examples/ws-chat.mjs --workers 2`, its messages crossing both workers.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { createServer, type Connection } from '../../src/index.ts';
import { until } from '../net-helpers.ts';
import { Browser } from './chromium.ts';

let browser: Browser;
beforeAll(async () => {
  browser = await Browser.launch();
});
afterAll(async () => {
  await browser?.close();
});

describe.each(['wasm', 'js'] as const)('Chromium as the peer (core=%s)', core => {
  it('echoes text and binary as what they are; closes with the code each side gave', async () => {
    let peerClose: { code: number; reason: string } | undefined;
    let last: Connection | undefined;
    const server = createServer({
      framing: 'websocket', core, maxFrame: 131072,
      onOpen: c => void (last = c),
      onFrame(m, c, _r, text) {
        if (text && Buffer.from(m).toString() === 'close me') return c.close(4001, 'as asked');
        c.send(m, { text });
      },
      onClose: c => void (peerClose ??= c.peerClose),
    });
    const { port } = await server.listen(0, '127.0.0.1');
    const page = await browser.open(pathToFileURL(path.resolve('test/browser/blank.html')).href);
    const result = await page.evaluate<{ echoes: string[]; code: number; reason: string }>(`new Promise((resolve, reject) => {
      const ws = new WebSocket('ws://127.0.0.1:${port}/');
      ws.binaryType = 'arraybuffer';
      const echoes = [];
      const big = 'x'.repeat(100000);
      ws.onopen = () => { ws.send('héllo ✓'); ws.send(new Uint8Array([0, 1, 255])); ws.send(big); };
      ws.onmessage = e => {
        echoes.push(typeof e.data === 'string' ? (e.data === big ? 'text big' : 'text ' + e.data) : 'binary ' + Array.from(new Uint8Array(e.data)).join(','));
        if (echoes.length === 3) ws.close(4000, 'bye');
      };
      ws.onerror = () => reject(new Error('websocket error'));
      ws.onclose = e => resolve({ echoes, code: e.code, reason: e.reason });
    })`);
    expect(result).toEqual({ echoes: ['text héllo ✓', 'binary 0,1,255', 'text big'], code: 4000, reason: '' });
    await until(() => peerClose !== undefined);
    expect(peerClose).toEqual({ code: 4000, reason: 'bye' });
    const closed = await page.evaluate<{ code: number; reason: string }>(`new Promise(resolve => {
      const ws = new WebSocket('ws://127.0.0.1:${port}/');
      ws.onopen = () => ws.send('close me');
      ws.onclose = e => resolve({ code: e.code, reason: e.reason });
    })`);
    expect(closed).toEqual({ code: 4001, reason: 'as asked' });
    expect(last?.peerClose?.code).toBe(4001); // the browser answered our close with its code
    await server.close();
  });
});

describe('examples/ws-chat across two workers, from the page it ships and ws clients', () => {
  let child: ChildProcess | undefined;
  afterAll(() => {
    child?.kill('SIGKILL'); // only the server this file started
  });

  it('the page and 16 ws clients share a room: each hears the others, on both workers', async () => {
    child = spawn(process.execPath, ['dist/cli.js', 'serve', '--port', '0', '--workers', '2', '--framing', 'websocket', '--handler', 'examples/ws-chat.mjs'], { stdio: ['ignore', 'pipe', 'inherit'] });
    const [line] = (await once(child.stdout!.setEncoding('utf8'), 'data')) as [string];
    expect(line).toMatch(/^ringwire listening on 127\.0\.0\.1:\d+ .*framing=websocket.* workers=2/);
    const port = Number(/:(\d+) /.exec(line)![1]);

    const decoder = new TextDecoder();
    const clients = await Promise.all(Array.from({ length: 16 }, (_, i) => new Promise<{ ws: WebSocket; id: string; heard: string[] }>((resolve, reject) => {
      const ws = new WebSocket(`ws://127.0.0.1:${port}/chat`);
      const heard: string[] = [];
      ws.on('message', (data, isBinary) => {
        const m = JSON.parse(decoder.decode(data as Buffer));
        if (m.info?.startsWith('welcome ')) {
          ws.send(JSON.stringify({ nick: `node${i}` }));
          ws.send(JSON.stringify({ join: 'lobby' }));
          resolve({ ws, id: m.info.split(' ')[1].replace(':', ''), heard });
        } else if (m.from) {
          expect(isBinary).toBe(true); // a room's messages are published: binary
          heard.push(`${m.from}: ${m.text}`);
        }
      });
      ws.once('error', reject);
    })));
    expect(new Set(clients.map(c => c.id.split('-')[0])).size).toBe(2); // members on both workers
    // Each in the room: it heard its own join.
    await until(() => clients.every((c, i) => c.heard.includes(`node${i}: * node${i} joined`)), 15_000, 'the joins');

    const page = await browser.open(`${pathToFileURL(path.resolve('examples/ws-chat.html'))}?port=${port}&name=browser`);
    await page.evaluate(`new Promise(r => (chat.readyState === 1 ? r() : chat.addEventListener('open', r)))`);
    await until(async () => clients.every(c => c.heard.includes('browser: * browser joined')), 15_000, 'the browser\'s join');
    await page.evaluate(`(document.getElementById('text').value = 'hello from chromium', document.getElementById('form').requestSubmit())`);
    clients.forEach((c, i) => c.ws.send(JSON.stringify({ say: `hello from node${i}` })));
    await until(() => clients.every(c => c.heard.includes('browser: hello from chromium')), 15_000, 'the browser\'s message at every client');
    const expected = clients.map((_, i) => `node${i}: hello from node${i}`);
    await until(async () => {
      const log = await page.evaluate<string[]>(`[...document.querySelectorAll('#log p')].map(p => p.textContent)`);
      return expected.every(e => log.includes(e));
    }, 15_000, 'every client\'s message in the page');
    for (const c of clients) expect(c.heard.filter(h => h.startsWith('node') && h.includes(': hello from node')).sort()).toEqual([...expected].sort());
    for (const c of clients) c.ws.close();
    const status = await page.evaluate<string>(`(chat.close(1000), new Promise(r => chat.addEventListener('close', () => r(document.getElementById('status').textContent))))`);
    expect(status).toBe('closed (1000)');
  });
});
