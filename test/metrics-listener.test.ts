// The --metrics listener cannot hurt the data port: its connections are capped
// (one past the cap is closed as it arrives, while the data port serves), a
// silent connection is closed at the header timeout, concurrent scrapes share one
// render, and its descriptors are counted in the budget, so a flood of silent
// scrapers under a descriptor limit leaves every data slot usable.
import { spawn, type ChildProcess } from 'node:child_process';
import type http from 'node:http';
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createServer, MetricsRegistry, serveMetrics } from '../src/index.ts';
import { collect, connect, roundTrip, sleep, until } from './net-helpers.ts';
import { checkMetrics } from './prometheus.ts';

const stops: (() => unknown)[] = [];
afterEach(async () => {
  for (const stop of stops.splice(0).reverse()) await stop();
});

/** An echo server and, on another port, its metrics listener with these options; renders counts the registry's reads. */
async function withMetrics(options: Parameters<typeof serveMetrics>[3]) {
  const server = createServer({ framing: 'line' });
  const { port } = await server.listen(0);
  stops.push(() => server.close());
  let renders = 0;
  const registry = new MetricsRegistry({ stats: () => (renders++, server.stats()) });
  const listener = await serveMetrics(registry, 0, '127.0.0.1', options);
  stops.push(() => new Promise<void>(resolve => {
    listener.closeAllConnections();
    listener.close(() => resolve());
  }));
  return { port, listener, metricsPort: (listener.address() as net.AddressInfo).port, renders: () => renders };
}

/** One scrape on a connection of its own, as raw HTTP/1.1 with Connection: close: the whole response, or '' when closed unanswered. */
async function scrape(port: number): Promise<string> {
  const socket = net.connect({ port, host: '127.0.0.1' });
  const { done } = collect(socket);
  socket.on('connect', () => socket.write('GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n'));
  return String(await done);
}

/** A connection that sends nothing; `closed` resolves when the listener closes it. */
async function silent(port: number): Promise<{ socket: net.Socket; closed: Promise<number> }> {
  const socket = await connect(port);
  const opened = performance.now();
  return { socket, closed: collect(socket).done.then(() => performance.now() - opened) };
}

const connections = (server: http.Server) => new Promise<number>((resolve, reject) => server.getConnections((err, n) => (err ? reject(err) : resolve(n))));

describe('the metrics listener', () => {
  it('takes connections up to its cap and closes one past it as it arrives, while the data port serves', async () => {
    const { port, listener, metricsPort } = await withMetrics({ maxConnections: 4 });
    const held = await Promise.all(Array.from({ length: 3 }, () => silent(metricsPort)));
    stops.push(() => held.forEach(h => h.socket.destroy()));
    await until(async () => (await connections(listener)) === 3, 5000, 'three silent connections');
    // The fourth, at the cap: a scrape answered.
    expect(await scrape(metricsPort)).toMatch(/^HTTP\/1\.1 200 OK\r\n[^]*\r\n\r\n# HELP ringwire_connections_active /);
    const fourth = await silent(metricsPort);
    stops.push(() => fourth.socket.destroy());
    await until(async () => (await connections(listener)) === 4, 5000, 'four connections');
    // One past: closed unanswered, at once; the data port does not notice.
    expect(await scrape(metricsPort)).toBe('');
    const past = await silent(metricsPort);
    expect(await Promise.race([past.closed.then(() => 'closed'), sleep(2000).then(() => 'open')])).toBe('closed');
    expect(String(await roundTrip(port, Buffer.from('data\n')))).toBe('data\n');
    // A place freed: scrapes are answered again.
    fourth.socket.destroy();
    await until(async () => (await connections(listener)) === 3, 5000, 'the fourth to go');
    expect(await scrape(metricsPort)).toMatch(/^HTTP\/1\.1 200 OK/);
  });

  it('closes a connection that sends no request within the header timeout (once: about 90 s)', async () => {
    const { metricsPort } = await withMetrics({ headersTimeout: 500 });
    const quiet = await silent(metricsPort);
    const trickle = await silent(metricsPort); // a request begun and never finished
    trickle.socket.write('GET /metrics HTTP/1.1\r\n');
    const timer = setInterval(() => trickle.socket.write('X-Slow: 1\r\n'), 100);
    stops.push(() => clearInterval(timer));
    const [a, b] = await Promise.all([quiet.closed, trickle.closed].map(p => Promise.race([p, sleep(5000).then(() => Infinity)])));
    expect(a).toBeGreaterThanOrEqual(400);
    expect(a).toBeLessThan(5000);
    expect(b).toBeGreaterThanOrEqual(400);
    expect(b).toBeLessThan(5000);
  });

  it('answers concurrent scrapes with one render, and renders again once reuseFor has passed', async () => {
    const { metricsPort, renders } = await withMetrics({ reuseFor: 300 });
    const bodies = await Promise.all(Array.from({ length: 8 }, () => scrape(metricsPort)));
    expect(renders()).toBe(1);
    const body = bodies[0]!.split('\r\n\r\n')[1]!;
    expect(checkMetrics(body)).toEqual({ status: 0, output: '' });
    for (const b of bodies) expect(b.split('\r\n\r\n')[1]).toBe(body);
    await sleep(400);
    await scrape(metricsPort);
    expect(renders()).toBe(2);
  });

  it('refuses options it cannot honour', async () => {
    const registry = new MetricsRegistry({ stats: () => { throw new Error('not read'); } });
    await expect(serveMetrics(registry, 0, '127.0.0.1', { maxConnections: 0 })).rejects.toMatchObject({ code: 'ERR_BAD_CONFIG', message: 'metrics.maxConnections must be a whole number from 1 to 1024, got 0' });
    await expect(serveMetrics(registry, 0, '127.0.0.1', { headersTimeout: 60_001 })).rejects.toMatchObject({ message: /^metrics\.headersTimeout must be a number of ms from 100 to 60000/ });
    await expect(serveMetrics(registry, 0, '127.0.0.1', { maxConection: 1 } as never)).rejects.toMatchObject({ message: 'unknown option metrics.maxConection: did you mean metrics.maxConnections?' });
  });
});

describe('ringwire serve --metrics under a descriptor limit of 64', () => {
  let child: ChildProcess | undefined;
  afterEach(() => child?.kill('SIGKILL'));

  it('counts the listener in the budget: 200 silent scrapers leave every data slot serving (once: ERR_NO_DESCRIPTORS)', async () => {
    child = spawn('sh', ['-c', `ulimit -n 64 && exec "${process.execPath}" dist/cli.js serve --port 0 --framing line --metrics 0`], { stdio: ['ignore', 'pipe', 'pipe'] });
    const io = { out: '', err: '' };
    child.stdout!.setEncoding('utf8').on('data', (d: string) => (io.out += d));
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (io.err += d));
    const line = /ringwire listening on 127\.0\.0\.1:(\d+) .* metrics=http:\/\/127\.0\.0\.1:(\d+)\/metrics/;
    await until(() => line.test(io.out), 10_000, `the listening line (stderr: ${io.err})`);
    const [, port, metricsPort] = line.exec(io.out)!.map(Number);
    const slots = Number(/serving (\d+) connections per thread instead/.exec(io.err)?.[1]);
    expect(slots).toBeGreaterThan(0);
    const flood = Array.from({ length: 200 }, () => {
      const s = net.connect({ port: metricsPort!, host: '127.0.0.1' });
      s.on('error', () => {});
      return s;
    });
    stops.push(() => flood.forEach(s => s.destroy()));
    await sleep(500);
    // Every slot the server said it serves takes a client, all at once, each echoed.
    const clients = await Promise.all(Array.from({ length: slots }, () => connect(port!)));
    const echoes = clients.map((c, i) => {
      let got = '';
      c.setEncoding('utf8').on('data', (d: string) => (got += d));
      c.on('error', () => {});
      c.write(`client ${i}\n`);
      return until(() => got === `client ${i}\n`, 10_000, `client ${i}'s echo`);
    });
    await Promise.all(echoes);
    clients.forEach(c => c.destroy());
    expect(io.err).not.toMatch(/ERR_NO_DESCRIPTORS/);
  });
});
