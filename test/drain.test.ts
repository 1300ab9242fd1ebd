// The drain (src/net/drain.ts) over real sockets: every frame read is answered and
// what handlers in flight send reaches every connection before its FIN; past
// drainTimeout, what is unanswered is counted (ERR_DRAIN_TIMEOUT, drainUnanswered)
// and its connection reset. In process on both cores and every read and write
// path, then as a user runs it: `ringwire serve` in a child process, SIGTERM, the
// exit code, with one thread and with --workers 2.
import { once } from 'node:events';
import { spawn, type ChildProcess } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import type { RingwireError } from '../src/index.ts';
// @ts-expect-error: a plain JavaScript fixture without types
import * as drainHandler from './fixtures/drain-handler.mjs';
import { LineClient } from './line-client.ts';
import { PATHS, connect, ending, startServer, until, untilReadingStops } from './net-helpers.ts';

const HANDLER = 'test/fixtures/drain-handler.mjs';

describe.each(PATHS)('the drain core=$core zeroCopy=$zeroCopy write=$writePath', ({ core, zeroCopy, writePath }) => {
  const paths = { core, zeroCopy, writePath } as const;

  it('answers every frame read, each handler settling, then sends a clean FIN', async () => {
    const { server, port } = await startServer({ ...paths, framing: 'line', drainTimeout: 5000, onFrame: drainHandler.onFrame });
    const s = await connect(port);
    const end = ending(s);
    s.write('slow 100 a\nslow 100 b\nslow 100 c\n');
    await until(() => server.stats().total.framesIn >= 1, 5000, 'the first frame to be read');
    await server.close();
    expect(await end).toEqual({ data: 'done a\ndone b\ndone c\n', fin: true, error: undefined });
    expect(server.stats().total).toMatchObject({ drainUnanswered: 0, errors: 0 });
  });

  it('past drainTimeout, resets a connection with frames unanswered and counts them: in flight, listed and only read', async () => {
    const { server, port } = await startServer({ ...paths, framing: 'line', drainTimeout: 200, onFrame: () => new Promise<void>(() => {}) });
    const errors: RingwireError[] = [];
    server.on('clientError', e => errors.push(e));
    const s = await connect(port);
    const end = ending(s);
    s.write('a\nb\n'); // a: its handler never settles; b: listed with it (or read after it), never delivered
    await until(() => server.stats().total.framesIn >= 1, 5000, 'the first frame to be read');
    s.write('c\n'); // read while a holds the slot: in the ring, not listed
    await until(() => server.stats().total.bytesIn === 6, 5000, 'every byte to be read');
    await server.close();
    expect(await end).toEqual({ data: '', fin: false, error: 'ECONNRESET' });
    const total = server.stats().total;
    expect(total.drainUnanswered).toBe(3);
    expect(total.errorsByCode).toEqual({ ERR_DRAIN_TIMEOUT: 1 });
    expect(errors.map(e => e.code)).toEqual(['ERR_DRAIN_TIMEOUT']);
    expect(errors[0]!.message).toContain('3 frame(s) read and not answered');
    expect(server.metrics()).toContain('ringwire_drain_unanswered_frames_total{worker="0"} 3');
  });

  it('echo mode, past drainTimeout: the whole frames a full tx ring kept from the echo are counted, and the peer that never read is reset', async () => {
    const { server, port } = await startServer({ ...paths, framing: 'fixed:1000', rxRing: 4096, txRing: 4096, drainTimeout: 200 });
    const s = await connect(port);
    const end = ending(s);
    s.pause(); // never reads: the kernel's buffers fill, then the tx ring, then the echo stops
    const mib = Buffer.alloc(1 << 20, 7);
    for (let i = 0; i < 24; i++) s.write(mib);
    await untilReadingStops(server);
    const read = server.stats().total;
    const unanswered = Math.floor(read.bytesIn / 1000) - read.framesIn; // whole frames read, less those echoed
    expect(unanswered).toBeGreaterThan(0);
    await server.close();
    s.resume();
    expect(await end).toMatchObject({ fin: false, error: 'ECONNRESET' });
    expect(server.stats().total).toMatchObject({ drainUnanswered: unanswered, errorsByCode: { ERR_DRAIN_TIMEOUT: 1 } });
  });

  it('a peer that does not read its answered replies holds no other FIN, and is reset at the timeout', async () => {
    const big = Buffer.alloc(1 << 20, 1);
    const { server, port } = await startServer({
      // The other's FIN leaves as soon as the drain releases, a few event-loop turns
      // after close(); the timeout (which ends the close, and this test) is far past that.
      ...paths, framing: 'line', drainTimeout: 800, maxQueued: 16 << 20, maxReply: 1 << 20,
      onFrame: (frame, c) => {
        if (String(Buffer.from(frame)) === 'big') for (let i = 0; i < 12; i++) c.send(big); // answered: queued for a peer that does not read
        else c.send(frame);
      },
    });
    const slow = await connect(port);
    const slowEnd = ending(slow);
    slow.pause();
    slow.write('big\n');
    await until(() => server.queuedBytes > 0, 5000, 'replies to queue');
    const other = await connect(port);
    const otherEnd = ending(other);
    other.write('hi\n');
    await until(() => server.stats().total.framesIn === 2, 5000, 'the second frame to be read');
    let closed = false;
    const closing = server.close().then(() => (closed = true));
    expect(await otherEnd).toEqual({ data: 'hi\n', fin: true, error: undefined });
    expect(closed).toBe(false); // its FIN did not wait for the timeout, which ends the close
    await closing;
    slow.resume();
    expect(await slowEnd).toMatchObject({ fin: false, error: 'ECONNRESET' });
    expect(server.stats().total).toMatchObject({ drainUnanswered: 0, errorsByCode: { ERR_DRAIN_TIMEOUT: 1 } });
  });

  it('delivers what handlers in flight publish and send to idle connections before their FIN', async () => {
    const { server, port } = await startServer({ ...paths, framing: 'line', drainTimeout: 5000, onFrame: drainHandler.onFrame });
    const subscriber = await LineClient.open(port);
    const idle = await LineClient.open(port);
    await subscriber.ask('sub news', 'joined');
    const id = (await idle.ask('id')).split(' ')[1]!;
    const subscriberEnd = ending(subscriber.socket);
    const idleEnd = ending(idle.socket);
    const publisher = await LineClient.open(port);
    const teller = await LineClient.open(port);
    publisher.write('pub news 200 3');
    teller.write(`tell ${id} 200 hello`);
    await publisher.next('pub ');
    await until(() => server.stats().total.framesIn === 4, 5000, 'both frames to be read');
    await server.close();
    expect(await subscriberEnd).toMatchObject({ data: 'news 0\nnews 1\nnews 2\n', fin: true, error: undefined });
    expect(await idleEnd).toMatchObject({ data: 'hello\n', fin: true, error: undefined });
    expect(publisher.lines).toEqual([expect.stringMatching(/^pub \d+$/), 'pub done']);
    expect(teller.lines).toEqual(['told sent']);
    expect(server.stats().total).toMatchObject({ drainUnanswered: 0, errors: 0 });
  });
});

/** `ringwire serve` in a child process; killed after the test even when an assertion failed. */
const running = new Set<ChildProcess>();
afterEach(() => {
  for (const child of running) child.kill('SIGKILL');
});

async function serve(args: string[]): Promise<{ child: ChildProcess; port: number; output: () => string; exit: Promise<number> }> {
  const child = spawn(process.execPath, ['dist/cli.js', 'serve', '--port', '0', '--framing', 'line', '--handler', HANDLER, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  running.add(child);
  let out = '';
  child.stdout!.on('data', d => (out += String(d)));
  child.stderr!.on('data', d => (out += String(d)));
  const exit = once(child, 'exit').then(([code]) => {
    running.delete(child);
    return code as number;
  });
  await until(() => /listening on 127\.0\.0\.1:\d+/.test(out), 15_000, 'the listening line');
  return { child, port: Number(/listening on 127\.0\.0\.1:(\d+)/.exec(out)![1]), output: () => out, exit };
}

// Each core and each thread count once (the drain itself runs on both cores and every
// path above; here it is the command line's SIGTERM, exit code and threads).
describe.each([
  { core: 'wasm', workers: '1' },
  { core: 'js', workers: '2' },
])('ringwire serve drains on SIGTERM core=$core workers=$workers', ({ core, workers }) => {
  const options = ['--core', core, '--workers', workers];

  it('within --drain-timeout: every frame answered, a clean FIN, exit code 0', async () => {
    const { child, port, exit } = await serve([...options, '--drain-timeout', '10s']);
    const s = await connect(port);
    const end = ending(s);
    const first = once(s, 'data');
    s.write('slow 0 warm\n');
    await first; // the connection is served
    s.write('slow 300 a\nslow 300 b\n');
    await new Promise(r => setTimeout(r, 100)); // both read, a's handler waiting
    child.kill('SIGTERM');
    expect(await end).toEqual({ data: 'done warm\ndone a\ndone b\n', fin: true, error: undefined });
    expect(await exit).toBe(0);
  });

  it('past --drain-timeout: the client sees a reset, the log names the count, exit code 1', async () => {
    const { child, port, output, exit } = await serve([...options, '--drain-timeout', '300ms']);
    const s = await connect(port);
    const end = ending(s);
    const first = once(s, 'data');
    s.write('slow 0 warm\n');
    await first;
    s.write('slow 60000 a\nslow 0 b\nslow 0 c\n');
    await new Promise(r => setTimeout(r, 100));
    child.kill('SIGTERM');
    expect(await end).toEqual({ data: 'done warm\n', fin: false, error: 'ECONNRESET' });
    expect(await exit).toBe(1);
    expect(output()).toMatch(/drain timed out: 3 frame\(s\) read and not answered; 1 connection\(s\) reset \(ERR_DRAIN_TIMEOUT\)/);
  });

  it('publishes from handlers in flight reach every subscriber, on every thread, before its FIN', async () => {
    const { child, port, exit } = await serve([...options, '--drain-timeout', '10s']);
    // Subscribers first; with --workers 2 each new connection goes to the thread with fewest, so they spread.
    const subscribers = [await LineClient.open(port), await LineClient.open(port)];
    const threads = new Set<string>();
    for (const s of subscribers) threads.add((await s.ask('sub news', 'joined')).split(' ')[2]!);
    const publisher = await LineClient.open(port);
    const endings = subscribers.map(s => ending(s.socket));
    publisher.write('pub news 300 50');
    threads.add((await publisher.next('pub ')).split(' ')[1]!);
    if (workers === '2') expect(threads.size).toBe(2); // a publish crosses threads
    child.kill('SIGTERM');
    const news = Array.from({ length: 50 }, (_, k) => `news ${k}\n`).join('');
    for (const e of endings) expect(await e).toEqual({ data: news, fin: true, error: undefined });
    await until(() => publisher.closed, 10_000, 'the publisher to be closed');
    expect(publisher.lines.at(-1)).toBe('pub done');
    expect(await exit).toBe(0);
  });
});
