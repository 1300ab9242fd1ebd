// Pipelined async handlers (EndpointOptions.concurrency, delivery-window.ts), over
// real sockets on both cores, both read paths and both write paths: up to N frames
// of one connection out with onFrame at once, replies in frame order whatever order
// the handlers settle in (exact bytes), each frame's view valid until its own
// handler settles, delivery stopping at N, a failure closing after the replies of
// the frames before it, handlerTimeout and the drain with frames in flight; and
// replies of handlers resuming in one event-loop turn written together (the
// server's write syscalls, counted in /proc).
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { setTimeout as wait } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { createServer, type FrameReply, type RingwireError } from '../src/index.ts';
import { syscalls, syscallsSince } from '../src/bench/process-meter.ts';
import { lengthFrame } from './harness.ts';
import { PATHS, collect, connect, errorCodes, sleep, startServer, until } from './net-helpers.ts';

const text = (frame: Uint8Array) => Buffer.from(frame).toString();
const lines = (from: number, to: number, f: (i: number) => string = String) => Array.from({ length: to - from }, (_, k) => `${f(from + k)}\n`).join('');

/**
 * 200 frames in 10 writes 5 ms apart, so later frames arrive while earlier ones are out
 * with handlers; each handler replies a<frame>, b<frame>, <frame>: every reply, in frame
 * order, and no error.
 */
async function expectThreeRepliesEach(server: Parameters<typeof errorCodes>[0], port: number): Promise<void> {
  const codes = errorCodes(server);
  const s = await connect(port);
  const got = collect(s);
  for (let k = 0; k < 10; k++) {
    s.write(lines(k * 20, k * 20 + 20, i => `frame-${i}`));
    await sleep(5);
  }
  const expected = lines(0, 200, i => `aframe-${i}\nbframe-${i}\nframe-${i}`);
  await until(() => got.received() === expected.length, 10_000, 'every reply');
  s.end();
  expect(String(await got.done)).toBe(expected);
  expect(codes).toEqual([]);
}

describe.each(PATHS)('concurrency core=$core zeroCopy=$zeroCopy write=$writePath', ({ core, zeroCopy, writePath }) => {
  const base = { core, zeroCopy, writePath, framing: 'line' as const };

  it('256 frames pipelined to a handler awaiting a 50 ms timer, concurrency 64: all answered, in order, in under 2 s (serially 12.8 s)', async () => {
    const { server, port } = await startServer({
      ...base, concurrency: 64,
      async onFrame(frame, c) {
        await wait(50);
        c.send(frame);
      },
    });
    const s = await connect(port);
    const got = collect(s);
    const sent = lines(0, 256);
    const started = Date.now();
    s.write(sent);
    await until(() => got.received() === sent.length, 10_000, 'every reply');
    expect(Date.now() - started).toBeLessThan(2000);
    s.end();
    expect(String(await got.done)).toBe(sent);
    await server.close();
  });

  it('replies in frame order under random settle order, sends before and after the await in their frame\'s place, each frame read after its await while later frames arrive', async () => {
    let out = 0;
    let most = 0;
    const { server, port } = await startServer({
      ...base, concurrency: 16,
      async onFrame(frame, c) {
        most = Math.max(most, ++out);
        const n = text(frame);
        c.send(Buffer.from(`a${n}`));
        await sleep(Math.floor(Math.random() * 25));
        c.send(Buffer.from(`b${text(frame)}`)); // the view, read after the await: still this frame's bytes
        await Promise.resolve();
        c.send(frame);
        out--;
      },
    });
    await expectThreeRepliesEach(server, port);
    expect(most).toBeGreaterThan(1);
    expect(most).toBeLessThanOrEqual(16);
    await server.close();
  });

  it('reply, onFrame\'s third argument, sends in its frame\'s place after any number of awaits; the connection\'s send() before the first await too', async () => {
    let most = 0;
    let out = 0;
    const { server, port } = await startServer({
      ...base, concurrency: 16,
      async onFrame(frame, c, reply) {
        most = Math.max(most, ++out);
        c.send(Buffer.from(`a${text(frame)}`)); // synchronous: the connection knows which frame it is delivering
        await sleep(Math.floor(Math.random() * 25));
        reply.send(Buffer.from(`b${text(frame)}`));
        await Promise.resolve();
        expect(reply.send(frame)).toBe(true);
        out--;
      },
    });
    await expectThreeRepliesEach(server, port);
    expect(most).toBeGreaterThan(1);
    await server.close();
  });

  it('a handler that declares reply gets no async context: its connection.send() after an await goes out at once, ahead of earlier frames\' replies', async () => {
    const { server, port } = await startServer({
      ...base, concurrency: 4,
      async onFrame(frame, c, reply) {
        await sleep(text(frame) === '0' ? 150 : 10);
        if (text(frame) === '1') c.send(Buffer.from('early'));
        reply.send(frame);
      },
    });
    const s = await connect(port);
    const got = collect(s);
    s.write(lines(0, 3));
    await until(() => got.received() === 'early\n0\n1\n2\n'.length, 5000, 'every reply');
    s.end();
    expect(String(await got.done)).toBe('early\n0\n1\n2\n');
    await server.close();
  });

  it('reply after its frame left the window goes out at once; once the connection closed it sends nothing; a payload that is not bytes throws a TypeError', async () => {
    const late: { reply: FrameReply; frame: string }[] = [];
    const results: boolean[] = [];
    let thrown: unknown;
    const { server, port } = await startServer({
      ...base, concurrency: 4,
      async onFrame(frame, c, reply) {
        if (text(frame) === 'close') {
          await sleep(40);
          for (const l of late) results.push(l.reply.send(Buffer.from(`after-${l.frame}`)));
          c.close();
          return;
        }
        try {
          reply.send('not bytes' as unknown as Uint8Array);
        } catch (err) {
          thrown = err;
        }
        late.push({ reply, frame: text(frame) });
        reply.send(frame);
      },
      onClose() {
        results.push(late[0]!.reply.send(Buffer.from('never'))); // the connection is gone
      },
    });
    const s = await connect(port);
    const got = collect(s);
    s.write('x\ny\n');
    await sleep(20);
    s.write('close\n');
    expect(String(await got.done)).toBe('x\ny\nafter-x\nafter-y\n');
    await until(() => results.length === 3, 5000, 'onClose');
    expect(results).toEqual([true, true, false]);
    expect(thrown).toBeInstanceOf(TypeError);
    await server.close();
  });

  it('concurrency 1: reply is the connection\'s send(), in order', async () => {
    const { server, port } = await startServer({
      ...base,
      async onFrame(frame, _c, reply) {
        await sleep(1);
        reply.send(frame);
      },
    });
    const s = await connect(port);
    const got = collect(s);
    s.end(lines(0, 20));
    expect(String(await got.done)).toBe(lines(0, 20));
    await server.close();
  });

  it('delivery stops at N frames out; the rest wait in the rx ring and go out as handlers settle', async () => {
    const started: string[] = [];
    const release: (() => void)[] = [];
    const { server, port } = await startServer({
      ...base, concurrency: 4,
      async onFrame(frame, c) {
        started.push(text(frame));
        await new Promise<void>(r => release.push(r));
        c.send(frame);
      },
    });
    const s = await connect(port);
    const got = collect(s);
    s.write(lines(0, 20));
    await until(() => started.length === 4, 5000, '4 handlers out');
    await sleep(100);
    expect(started).toEqual(['0', '1', '2', '3']); // not a fifth
    expect(got.received()).toBe(0);
    release[2]!(); // a later one settles first: nothing is sent, nothing more delivered
    await sleep(50);
    expect(got.received()).toBe(0);
    expect(started).toHaveLength(4);
    release[0]!(); // the oldest: its reply goes, one more frame goes out
    await until(() => started.length === 5, 5000, 'a fifth handler');
    await until(() => got.received() === 2, 5000, 'the first reply');
    expect(started).toHaveLength(5);
    for (let k = 0; k < 20; k++) {
      await until(() => release.length > k || started.length === 20, 5000, 'the next handler');
      release[k]?.();
      await sleep(1);
    }
    await until(() => got.received() === lines(0, 20).length, 5000, 'every reply');
    s.end();
    expect(String(await got.done)).toBe(lines(0, 20));
    await server.close();
  });

  it('a rejection of frame k closes the connection after the replies of the frames before k; the replies of later frames are dropped', async () => {
    const closes: (RingwireError | undefined)[] = [];
    const settled: number[] = [];
    const { server, port } = await startServer({
      ...base, concurrency: 8,
      async onFrame(frame, c) {
        const n = Number(text(frame));
        if (n === 5) {
          settled.push(n);
          await sleep(10);
          throw new Error('frame 5 fails');
        }
        await sleep(n < 5 ? 80 : 20); // the frames before it settle after it failed; those after it before
        settled.push(n);
        c.send(frame);
      },
      onClose(_c, err) { closes.push(err); },
    });
    const codes = errorCodes(server);
    const s = await connect(port);
    const got = collect(s);
    s.write(lines(0, 8));
    expect(String(await got.done)).toBe(lines(0, 5));
    expect(codes).toEqual(['ERR_HANDLER']);
    await until(() => settled.length === 8, 5000, 'every handler settled');
    expect(settled).toEqual([5, 6, 7, 0, 1, 2, 3, 4]); // all out at once: 5 failed first, 6 and 7 sent into a closing connection
    await until(() => closes.length === 1, 5000, 'onClose');
    expect(closes[0]?.code).toBe('ERR_HANDLER');
    await server.close();
  });

  it('a synchronous throw of frame k with earlier frames out: the same, after their replies', async () => {
    let out = 0;
    let outAtThrow = -1;
    const { server, port } = await startServer({
      ...base, concurrency: 8,
      onFrame(frame, c) {
        const n = Number(text(frame));
        if (n === 3) {
          outAtThrow = out;
          throw new Error('frame 3 fails');
        }
        out++;
        return sleep(40).then(() => { c.send(frame); });
      },
    });
    const codes = errorCodes(server);
    const s = await connect(port);
    const got = collect(s);
    s.write(lines(0, 6));
    expect(String(await got.done)).toBe(lines(0, 3));
    expect(outAtThrow).toBe(3); // frames 0-2 were out when frame 3 threw
    expect(codes).toEqual(['ERR_HANDLER']);
    await server.close();
  });

  it('a send with no frame of this connection in its context goes out at once, ahead of the replies of frames still out', async () => {
    let pushing: Promise<void> | undefined;
    const { server, port } = await startServer({
      ...base, concurrency: 4,
      async onOpen(c) {
        pushing = new Promise<void>(resolve => setTimeout(() => { c.send(Buffer.from('push')); resolve(); }, 60));
      },
      async onFrame(frame, c) {
        await sleep(150);
        c.send(frame);
      },
    });
    const s = await connect(port);
    const got = collect(s);
    s.write(lines(0, 3));
    await until(() => got.received() === 'push\n0\n1\n2\n'.length, 5000, 'every reply');
    await pushing;
    s.end();
    expect(String(await got.done)).toBe('push\n0\n1\n2\n');
    await server.close();
  });

  it('handlerTimeout with frames out: the oldest unsettled frame\'s deadline closes the connection (ERR_HANDLER_TIMEOUT), the slot quarantined until every handler settles', async () => {
    const hung: (() => void)[] = [];
    const closes: (RingwireError | undefined)[] = [];
    const started: string[] = [];
    const { server, port } = await startServer({
      ...base, concurrency: 4, handlerTimeout: 200,
      async onFrame(frame, c) {
        started.push(text(frame));
        if (text(frame) === 'hang') await new Promise<void>(r => hung.push(r));
        else await sleep(10);
        c.send(frame);
      },
      onClose(_c, err) { closes.push(err); },
    });
    const codes = errorCodes(server);
    const s = await connect(port);
    const got = collect(s);
    s.write('x\nhang\ny\nz\n');
    await once(s, 'close');
    expect(String(await got.done)).toBe('x\n'); // y and z settled, but wait behind the hung frame
    expect(started).toEqual(['x', 'hang', 'y', 'z']);
    expect(codes).toEqual(['ERR_HANDLER_TIMEOUT']);
    await until(() => server.stats().total.quarantined === 1, 2000, 'quarantined');
    expect(closes).toHaveLength(0);
    hung[0]!();
    await until(() => closes.length === 1, 5000, 'onClose once it settled');
    expect(closes[0]?.code).toBe('ERR_HANDLER_TIMEOUT');
    expect(server.stats().total.quarantined).toBe(0);
    await server.close();
  });

  it('the drain answers every frame out before the FIN, and past drainTimeout counts every one of them', async () => {
    let out = 0;
    let most = 0;
    const { server, port } = await startServer({
      ...base, concurrency: 8,
      async onFrame(frame, c) {
        most = Math.max(most, ++out);
        await sleep(100);
        c.send(frame);
        out--;
      },
    });
    const s = await connect(port);
    const got = collect(s);
    s.write(lines(0, 8));
    await sleep(30); // all 8 out with their handlers
    await server.close();
    expect(String(await got.done)).toBe(lines(0, 8));
    expect(most).toBe(8);

    const hung = createServer({
      ...base, concurrency: 8, drainTimeout: 150,
      async onFrame(frame, c) {
        await new Promise(() => {});
        c.send(frame);
      },
    });
    const { port: p2 } = await hung.listen(0, '127.0.0.1');
    const codes = errorCodes(hung);
    const s2 = await connect(p2);
    const got2 = collect(s2);
    s2.write(lines(0, 6));
    await sleep(50);
    await hung.close();
    await got2.done;
    expect(codes).toEqual(['ERR_DRAIN_TIMEOUT']);
    expect(hung.stats().total.drainUnanswered).toBe(6);
  });

  it('concurrency 1 (the default): one frame at a time, as a stateful handler relies on', async () => {
    const store = new Map<string, string>();
    let out = 0;
    let most = 0;
    const { server, port } = await startServer({
      ...base,
      async onFrame(frame, c) {
        most = Math.max(most, ++out);
        const [op, key, value] = text(frame).split(' ');
        await sleep(op === 'SET' ? 20 : 0); // a GET right behind a slow SET must see it
        if (op === 'SET') store.set(key!, value!);
        c.send(Buffer.from(op === 'SET' ? 'OK' : store.get(key!) ?? 'nil'));
        out--;
      },
    });
    const s = await connect(port);
    const got = collect(s);
    s.end('SET a 1\nGET a\nSET a 2\nGET a\n');
    expect(String(await got.done)).toBe('OK\n1\nOK\n2\n');
    expect(most).toBe(1);
    await server.close();
  });
});

describe('concurrency option', () => {
  it('takes a whole number from 1 to 65536, else ERR_BAD_CONFIG naming it', async () => {
    for (const bad of [0, -1, 1.5, 65537, Number.NaN]) {
      // Checked with the other options, when the server is made (endpoint-config.ts).
      expect(() => createServer({ framing: 'line', concurrency: bad, onFrame() {} })).toThrow(expect.objectContaining({ code: 'ERR_BAD_CONFIG', message: expect.stringContaining('concurrency') }));
    }
    const ok = createServer({ framing: 'line', concurrency: 65536, onFrame() {} });
    await ok.listen(0, '127.0.0.1');
    await ok.close();
  });
});

describe('replies of handlers resuming in one turn', () => {
  const closers: (() => void)[] = [];
  afterEach(() => {
    for (const c of closers.splice(0)) c();
  });

  it.each(['timer', 'immediate'])('leave in a handful of writes: 256 frames to `ringwire serve --concurrency 256` whose handler awaits %s (counted in /proc)', async wait => {
    const child = spawn(process.execPath, ['dist/cli.js', 'serve', '--host', '127.0.0.1', '--port', '0', '--framing', 'length:4:be',
      '--handler', `dist/echo-handler-${wait}.js`, '--concurrency', '256'], { stdio: ['ignore', 'pipe', 'ignore'] });
    closers.push(() => child.kill('SIGKILL'));
    let banner = '';
    while (!/listening on \S+:(\d+)/.test(banner)) banner += String((await once(child.stdout!, 'data'))[0]);
    const port = Number(/listening on \S+:(\d+)/.exec(banner)![1]);
    const socket = await connect(port);
    const { received } = collect(socket);
    const bytes = Buffer.concat(Array.from({ length: 256 }, (_, i) => lengthFrame(Buffer.alloc(64, i))));
    await sleep(50);
    const before = syscalls(child.pid!);
    socket.write(bytes);
    await until(() => received() === bytes.length, 10_000, 'every reply');
    const used = syscallsSince(before, syscalls(child.pid!));
    socket.destroy();
    expect(used.writes).toBeGreaterThanOrEqual(1);
    expect(used.writes).toBeLessThanOrEqual(8); // one write per frame would be 256
  });
});
