// Prometheus metrics: a known load (connections, frames of known sizes, bad
// frames, connections still open at close) against one thread on each core and
// against two worker threads; /metrics scraped over HTTP, checked by promtool
// (Prometheus' own parser and linter), and its values compared with stats() and
// with the load that was sent.
import { once } from 'node:events';
import type http from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { createServer, MetricsRegistry, serveMetrics, type ServerStats } from '../src/index.ts';
// Worker threads start the built worker entry: through the package, as in test/workers.test.ts (so Node 22.12 runs it too).
import { createWorkerServer } from 'ringwire';
import { renderText } from '../src/metrics/exposition.ts';
import { CORES, lengthFrame } from './harness.ts';
import { collect, connect, roundTrip, until } from './net-helpers.ts';
import { checkMetrics, read, sample, scrape, sum } from './prometheus.ts';

const MAX_FRAME = 100;
const GOOD = 6; // connections that send FRAMES frames each and end
const FRAMES = 8;
const BAD = 3; // connections that send 2 frames, then a length over MAX_FRAME
const HELD = 2; // connections open when the server closes: drained

/** What the load sends, and therefore what the server must have counted. */
interface Expected { opened: number; frames: number; bytesIn: number; bytesOut: number }

/** Runs the load against port; leaves HELD connections open (returned). Every echo is checked byte for byte. */
async function load(port: number): Promise<{ expected: Expected; held: { end: () => Promise<Buffer> }[] }> {
  let frames = 0;
  let bytesIn = 0;
  let bytesOut = 0;
  const good = Array.from({ length: GOOD }, async (_, i) => {
    const sent = Buffer.concat(Array.from({ length: FRAMES }, (_, j) => lengthFrame(Buffer.alloc(1 + ((i * FRAMES + j) % 50), i + j), { size: 2 })));
    frames += FRAMES;
    bytesIn += sent.length;
    bytesOut += sent.length;
    const socket = await connect(port);
    const { done } = collect(socket);
    socket.end(sent);
    expect((await done).equals(sent)).toBe(true);
  });
  const bad = Array.from({ length: BAD }, async () => {
    const answered = Buffer.concat([lengthFrame(Buffer.alloc(10, 1), { size: 2 }), lengthFrame(Buffer.alloc(20, 2), { size: 2 })]);
    const sent = Buffer.concat([answered, Buffer.from([0, MAX_FRAME + 1])]); // one write: one read
    frames += 2;
    bytesIn += sent.length;
    bytesOut += answered.length;
    const socket = await connect(port);
    const { done } = collect(socket);
    socket.write(sent);
    expect((await done).equals(answered)).toBe(true); // the frames before the bad one, then the close
  });
  await Promise.all([...good, ...bad]);
  const held = await Promise.all(Array.from({ length: HELD }, async () => {
    const frame = lengthFrame(Buffer.from('held'), { size: 2 });
    frames += 1;
    bytesIn += frame.length;
    bytesOut += frame.length;
    const socket = await connect(port);
    const { done, received } = collect(socket);
    socket.write(frame);
    await until(() => received() === frame.length, 10_000, 'the held connection\'s echo');
    return { end: () => done };
  }));
  return { expected: { opened: GOOD + BAD + HELD, frames, bytesIn, bytesOut }, held };
}

/** Scrape over HTTP, check with promtool, read the values. */
async function scraped(url: string): Promise<Map<string, number>> {
  const r = await scrape(url);
  expect(r.status).toBe(200);
  expect(r.type).toBe('text/plain; version=0.0.4; charset=utf-8');
  const check = checkMetrics(r.body);
  expect(check.output).toBe('');
  expect(check.status).toBe(0);
  return read(r.body);
}

/** Every per-thread series equals the stats() figure it is read from. */
function expectMatchesStats(m: Map<string, number>, stats: ServerStats): void {
  for (const w of stats.workers) {
    const worker = String(w.worker);
    expect(m.get(sample('ringwire_connections_active', { worker }))).toBe(w.connections);
    expect(m.get(sample('ringwire_connections_opened_total', { worker }))).toBe(w.accepted);
    expect(m.get(sample('ringwire_received_bytes_total', { worker }))).toBe(w.bytesIn);
    expect(m.get(sample('ringwire_sent_bytes_total', { worker }))).toBe(w.bytesOut);
    expect(m.get(sample('ringwire_received_frames_total', { worker }))).toBe(w.framesIn);
    expect(m.get(sample('ringwire_sent_frames_total', { worker }))).toBe(w.framesOut);
    expect(m.get(sample('ringwire_backpressure_pauses_total', { worker }))).toBe(w.backpressurePauses);
    expect(m.get(sample('ringwire_event_loop_stalls_total', { worker }))).toBe(w.stalls);
    expect(m.get(sample('ringwire_worker_up', { worker }))).toBe(w.state === 'running' ? 1 : 0);
    for (const [reason, n] of Object.entries(w.closedBy)) expect(m.get(sample('ringwire_connections_closed_total', { worker, reason })), reason).toBe(n);
    for (const [code, n] of Object.entries(w.errorsByCode)) expect(m.get(sample('ringwire_errors_total', { worker, code })), code).toBe(n);
    expect(sum(m, 'ringwire_errors_total', { worker })).toBe(w.errors);
    // Every connection that opened is open or closed for one reason.
    expect(sum(m, 'ringwire_connections_closed_total', { worker })).toBe(w.accepted - w.connections);
  }
}

/** The totals over every thread equal the load sent. */
function expectMatchesLoad(m: Map<string, number>, e: Expected, closed: { drained: boolean }): void {
  expect(sum(m, 'ringwire_connections_opened_total')).toBe(e.opened);
  expect(sum(m, 'ringwire_connections_active')).toBe(closed.drained ? 0 : HELD);
  expect(sum(m, 'ringwire_received_frames_total')).toBe(e.frames);
  expect(sum(m, 'ringwire_sent_frames_total')).toBe(e.frames);
  expect(sum(m, 'ringwire_received_bytes_total')).toBe(e.bytesIn);
  expect(sum(m, 'ringwire_sent_bytes_total')).toBe(e.bytesOut);
  expect(sum(m, 'ringwire_errors_total', { code: 'ERR_FRAME_TOO_LARGE' })).toBe(BAD);
  expect(sum(m, 'ringwire_errors_total')).toBe(BAD);
  expect(sum(m, 'ringwire_connections_closed_total', { reason: 'ERR_FRAME_TOO_LARGE' })).toBe(BAD);
  expect(sum(m, 'ringwire_connections_closed_total', { reason: 'peer' })).toBe(GOOD);
  expect(sum(m, 'ringwire_connections_closed_total', { reason: 'drain' })).toBe(closed.drained ? HELD : 0);
  expect(sum(m, 'ringwire_connections_closed_total', { reason: 'local' })).toBe(0);
  expect(m.get('process_resident_memory_bytes')).toBeGreaterThan(0);
  expect(m.get('process_cpu_seconds_total')).toBeGreaterThan(0);
  expect(m.get('process_start_time_seconds')).toBeLessThanOrEqual(Date.now() / 1000);
  expect(m.get('process_open_fds')).toBeGreaterThan(0);
}

const stops: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const stop of stops.splice(0).reverse()) await stop();
});

async function metricsUrl(registry: MetricsRegistry): Promise<string> {
  const http = await serveMetrics(registry, 0);
  stops.push(() => new Promise<void>(resolve => { http.closeAllConnections(); http.close(() => resolve()); }));
  return `http://127.0.0.1:${(http.address() as { port: number }).port}/metrics`;
}

/** The server listening, the load run and settled (HELD still open), a first scrape; drain() closes the server and the held connections. */
async function underLoad(server: { listen(port: number): Promise<{ port: number }>; close(): Promise<void>; stats(): ServerStats }) {
  stops.push(() => server.close());
  const { port } = await server.listen(0);
  const url = await metricsUrl(new MetricsRegistry(server));
  const { expected, held } = await load(port);
  await until(() => server.stats().total.connections === HELD, 10_000, 'the load\'s connections to close');
  const drain = async () => {
    const closing = server.close();
    await Promise.all(held.map(h => h.end()));
    await closing;
  };
  return { url, expected, during: await scraped(url), drain };
}

describe.each(CORES)('/metrics of one thread, %s core', core => {
  it('counts the known load exactly as stats() does, closes by reason included', async () => {
    const server = createServer({ core, framing: 'length:2:be', maxFrame: MAX_FRAME });
    const { url, expected, during, drain } = await underLoad(server);
    expectMatchesStats(during, server.stats());
    expectMatchesLoad(during, expected, { drained: false });
    expect(during.has(sample('ringwire_connections_active', { worker: 'main' }))).toBe(false); // one thread: it is worker 0

    await drain();
    const after = await scraped(url);
    expectMatchesStats(after, server.stats());
    expectMatchesLoad(after, expected, { drained: true });
    expect(server.metrics()).toMatch(/^# HELP ringwire_connections_active /); // the same text, for your own server
  });
});

describe.each(CORES)('closes by reason, %s core', core => {
  it('counts a close by the handler as local and a reset as ERR_SOCKET', async () => {
    const server = createServer({
      core, framing: 'line',
      onFrame(frame, c) {
        if (Buffer.from(frame).toString() === 'bye') c.close();
        else c.send(frame);
      },
    });
    stops.push(() => server.close());
    const { port } = await server.listen(0);
    expect(String(await roundTrip(port, Buffer.from('hi\nbye\nnever\n')))).toBe('hi\n');
    const reset = await connect(port);
    expect(await new Promise(resolve => { reset.once('data', resolve); reset.write('ping\n'); })).toBeDefined();
    reset.resetAndDestroy();
    await until(() => server.stats().total.connections === 0, 10_000, 'both to close');
    const m = read(server.metrics());
    expect(m.get(sample('ringwire_connections_closed_total', { worker: '0', reason: 'local' }))).toBe(1);
    expect(m.get(sample('ringwire_connections_closed_total', { worker: '0', reason: 'ERR_SOCKET' }))).toBe(1);
    expect(sum(m, 'ringwire_connections_closed_total')).toBe(2);
    expectMatchesStats(m, server.stats());
  });
});

describe('/metrics of two worker threads', () => {
  it('reads every worker\'s stats block at scrape time: per worker, and in sum the load', async () => {
    const server = createWorkerServer({ workers: 2, framing: 'length:2:be', maxFrame: MAX_FRAME });
    const { expected, during: m, drain } = await underLoad(server);
    expectMatchesStats(m, server.stats());
    expectMatchesLoad(m, expected, { drained: false });
    for (const worker of ['0', '1']) expect(m.get(sample('ringwire_worker_up', { worker }))).toBe(1);
    // The main thread: its own errors (none here) and its event loop, but no connections.
    expect(m.get(sample('ringwire_errors_total', { worker: 'main', code: 'ERR_WORKER_EXIT' }))).toBe(0);
    expect(m.has(sample('ringwire_event_loop_lag_seconds', { worker: 'main' }))).toBe(true);
    expect(m.has(sample('ringwire_connections_active', { worker: 'main' }))).toBe(false);

    await drain();
    expectMatchesLoad(read(server.metrics()), expected, { drained: true });
  });
});

describe('the exposition', () => {
  it('escapes label values and help text so that promtool reads back what was meant', () => {
    const hostile = 'a "quoted" \\ back\\slash\nand a newline';
    const text = renderText([{
      name: 'ringwire_test_total', type: 'counter', help: `help with \\ and\nnewline`,
      samples: [{ labels: { value: hostile }, value: 3 }, { labels: { value: '' }, value: 0.25 }],
    }]);
    expect(checkMetrics(text)).toEqual({ status: 0, output: '' });
    const m = read(text);
    expect(m.get(sample('ringwire_test_total', { value: hostile }))).toBe(3);
    expect(m.get(sample('ringwire_test_total', { value: '' }))).toBe(0.25);
  });

  it('plugs into prom-client\'s registry (a devDependency only): the same families, read at each scrape', async () => {
    const { Registry } = await import('prom-client');
    const server = createServer({ framing: 'line' });
    stops.push(() => server.close());
    const { port } = await server.listen(0);
    const ours = new MetricsRegistry(server, { process: false });
    const register = new Registry();
    // prom-client's types want its own Metric class; its registry reads only name and get().
    for (const m of ours.promClientMetrics()) register.registerMetric(m as never);
    const before = await register.metrics();
    expect(checkMetrics(before)).toEqual({ status: 0, output: '' });
    expect(read(before)).toEqual(read(ours.text()));
    expect(read(before).get(sample('ringwire_received_frames_total', { worker: '0' }))).toBe(0);
    const socket = await connect(port);
    const { done } = collect(socket);
    socket.end('x\n');
    await done;
    await until(() => server.stats().total.connections === 0, 10_000, 'the close');
    const after = read(await register.metrics());
    expect(after.get(sample('ringwire_received_frames_total', { worker: '0' }))).toBe(1);
    expect(after.get(sample('ringwire_connections_closed_total', { worker: '0', reason: 'peer' }))).toBe(1);
    expect([...after.keys()].some(k => k.startsWith('process_'))).toBe(false);
  });

  it('answers HEAD, refuses other methods, and points / to /metrics', async () => {
    const server = createServer({});
    stops.push(() => server.close());
    await server.listen(0);
    const url = await metricsUrl(new MetricsRegistry(server));
    const { request } = await import('node:http');
    const ask = (method: string, path: string) => new Promise<http.IncomingMessage>((resolve, reject) => {
      const req = request(url.replace('/metrics', path), { method }, resolve).on('error', reject);
      req.end();
    });
    const head = await ask('HEAD', '/metrics');
    expect(head.statusCode).toBe(200);
    expect(Number(head.headers['content-length'])).toBeGreaterThan(100);
    head.resume();
    const post = await ask('POST', '/metrics');
    expect(post.statusCode).toBe(405);
    post.resume();
    const root = await ask('GET', '/');
    expect(root.statusCode).toBe(200);
    root.setEncoding('utf8');
    const [body] = await once(root, 'data') as [string];
    expect(body).toContain('/metrics');
    expect((await ask('GET', '/other')).statusCode).toBe(404);
  });
});
