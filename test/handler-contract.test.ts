// The handler contract over real sockets, on both cores and both read paths:
// closing from a handler, reusing a reply buffer, async handlers (order, frame
// lifetime, rejection, backpressure), a task per connection, the hooks' order,
// and bounded sends (ERR_SLOW_CONSUMER at the cap and one byte past it).
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { Connection } from '../src/index.ts';
import { lengthFrame } from './harness.ts';
import { PATHS, collect, connect, errorCodes, roundTrip, sleep, startServer, until, untilReadingStops } from './net-helpers.ts';


const text = (frame: Uint8Array) => Buffer.from(frame).toString();
const lines = (...l: string[]) => Buffer.from(l.map(x => `${x}\n`).join(''));

describe.each(PATHS)('handler contract core=$core zeroCopy=$zeroCopy write=$writePath', ({ core, zeroCopy, writePath }) => {
  it('close() inside onFrame sends every reply of the batch, then FIN', async () => {
    const { server, port } = await startServer({
      core, zeroCopy, writePath, framing: 'line',
      onFrame(frame, c) {
        const cmd = text(frame);
        c.send(Buffer.from(cmd === 'QUIT' ? 'BYE' : 'OK'));
        if (cmd === 'QUIT') c.close();
      },
    });
    // One write: A, B and QUIT arrive in one read, so their replies are one batch.
    expect(String(await roundTrip(port, lines('A', 'B', 'QUIT', 'NEVER')))).toBe('OK\nOK\nBYE\n');
    await server.close();
  });

  it('calls onFrame as a method of the handler, as its other hooks, at concurrency 1 and above', async () => {
    for (const concurrency of [1, 4]) {
      // Hooks see the same `this` (the server's handler, whose other hooks are its methods), never an internal object.
      const seen: unknown[] = [];
      const { server, port } = await startServer({
        core, zeroCopy, writePath, framing: 'line', concurrency,
        onOpen() { seen.push(this); },
        onFrame(frame, c) {
          c.send(Buffer.from(`${this === seen[0] && typeof (this as { onFrame?: unknown }).onFrame === 'function'}:${text(frame)}`));
        },
      });
      expect(String(await roundTrip(port, lines('A', 'B')))).toBe('true:A\ntrue:B\n');
      await server.close();
    }
  });

  it('sends what a reused reply buffer held at each send(), also while replies queue', async () => {
    const reply = Buffer.alloc(4);
    const { server, port } = await startServer({
      core, zeroCopy, writePath, framing: 'length:2', txRing: 64, maxFrame: 8,
      onFrame(frame, c) {
        // A tx ring of 64 bytes takes 10 replies; the rest of the batch queues.
        for (let i = 0; i < 40; i++) {
          reply.writeUInt32BE(frame[0]! * 1000 + i);
          c.send(reply);
        }
      },
    });
    const echoed = await roundTrip(port, Buffer.concat([0, 1, 2].map(n => lengthFrame(Buffer.from([n]), { size: 2 }))));
    const want = [0, 1, 2].flatMap(n => Array.from({ length: 40 }, (_, i) => {
      const b = Buffer.alloc(4);
      b.writeUInt32BE(n * 1000 + i);
      return lengthFrame(b, { size: 2 });
    }));
    expect(echoed.equals(Buffer.concat(want))).toBe(true);
    await server.close();
  });

  it('keeps each frame of an async handler intact after an await, and its replies in order', async () => {
    const { server, port } = await startServer({
      core, zeroCopy, writePath, framing: 'line', rxRing: 64, maxFrame: 32,
      async onFrame(frame, c) {
        await sleep(Math.random() * 5);
        c.send(frame); // the view, read after the await
      },
    });
    const s = await connect(port);
    const got = collect(s);
    // The second line arrives while the first one's handler waits: it must not
    // overwrite the first frame's bytes (a 64-byte ring wraps quickly).
    const sent = Array.from({ length: 60 }, (_, i) => `${i}:${randomBytes(6).toString('hex')}`);
    for (const l of sent) {
      s.write(`${l}\n`);
      await sleep(Math.random() < 0.3 ? 1 : 0);
    }
    s.end();
    expect(String(await got.done)).toBe(sent.map(l => `${l}\n`).join(''));
    await server.close();
  });

  it('answers an async key-value store in order, whatever each command waits', async () => {
    const store = new Map<string, string>();
    const { server, port } = await startServer({
      core, zeroCopy, writePath, framing: 'line',
      async onFrame(frame, c) {
        const [cmd, key = '', value = ''] = text(frame).split(' ');
        await sleep(cmd === 'AGET' ? 20 : Math.random() * 3);
        if (cmd === 'SET') { store.set(key, value); c.send(Buffer.from('OK')); }
        else c.send(Buffer.from(store.get(key) ?? '(nil)'));
      },
    });
    const answer = await roundTrip(port, lines('SET x 1', 'AGET x', 'GET nokey', 'SET x 2', 'GET x'));
    expect(String(answer)).toBe('OK\n1\n(nil)\nOK\n2\n');
    await server.close();
  });

  it('closes only the connection whose async handler rejects, after its earlier replies', async () => {
    const { server, port } = await startServer({
      core, zeroCopy, writePath, framing: 'line',
      async onFrame(frame, c) {
        await sleep(1);
        if (text(frame) === 'boom') throw new Error('boom');
        c.send(frame);
      },
    });
    const codes = errorCodes(server);
    const bystander = await connect(port);
    const seen = collect(bystander);
    bystander.write('before\n');
    expect(String(await roundTrip(port, lines('a', 'b', 'boom', 'c')))).toBe('a\nb\n');
    expect(codes).toEqual(['ERR_HANDLER']);
    bystander.end('after\n');
    expect(String(await seen.done)).toBe('before\nafter\n');
    expect(server.stats().total.errorsByCode).toEqual({ ERR_HANDLER: 1 });
    await server.close();
  });

  it('pauses reading while an async handler holds a frame: a 16 MiB stream stays within the rings', async () => {
    const rxRing = 65536;
    let open!: () => void;
    const gate = new Promise<void>(resolve => (open = resolve));
    let handled = 0;
    const { server, port } = await startServer({
      core, zeroCopy, writePath, framing: 'length:4', rxRing, maxFrame: 16384,
      async onFrame(frame, c) {
        if (handled++ === 0) await gate;
        c.send(frame);
      },
    });
    const frames = Array.from({ length: 1024 }, (_, i) => lengthFrame(randomBytes(16380 - (i % 7))));
    const wire = Buffer.concat(frames);
    const s = await connect(port);
    const got = collect(s);
    s.end(wire);
    // While the first frame is held, the server reads until its rx ring is full, then stops.
    const last = await untilReadingStops(server);
    expect(last).toBeLessThanOrEqual(rxRing);
    expect(server.stats().total.framesOut).toBe(0);
    open();
    expect((await got.done).equals(wire)).toBe(true);
    await server.close();
  });

  it('runs a task per connection: for await over its frames, in order, with backpressure', async () => {
    const { server, port } = await startServer({
      core, zeroCopy, writePath, framing: 'line',
      async onConnection(c) {
        let n = 0;
        for await (const frame of c) {
          if (n++ % 7 === 0) await sleep(1);
          c.send(Buffer.from(`${n}:${text(frame)}`));
        }
      },
    });
    const sent = Array.from({ length: 200 }, (_, i) => `line ${i}`);
    const answer = await roundTrip(port, lines(...sent));
    expect(String(answer)).toBe(sent.map((l, i) => `${i + 1}:${l}\n`).join(''));
    await server.close();
  });

  it('closes a task\'s connection when the task returns, after its replies', async () => {
    const { server, port } = await startServer({
      core, zeroCopy, writePath, framing: 'line',
      async onConnection(c) {
        for await (const frame of c) {
          c.send(frame);
          if (text(frame) === 'bye') return;
        }
      },
    });
    expect(String(await roundTrip(port, lines('hi', 'bye', 'unread')))).toBe('hi\nbye\n');
    await server.close();
  });

  it('calls onOpen, onFrame, onClose in order and onClose exactly once, with the error that closed it', async () => {
    const events: string[] = [];
    const { server, port } = await startServer<{ n: number }>({
      core, zeroCopy, writePath, framing: 'line', maxFrame: 8,
      onOpen(c) { c.data = { n: 0 }; events.push(`open ${c.id}`); },
      onFrame(frame, c) { c.data.n++; c.send(frame); },
      onClose(c, err) { events.push(`close ${c.id} ${c.data.n} ${err?.code ?? 'none'}`); },
    });
    const ids: string[] = [];
    server.on('connection', c => ids.push(c.id));
    await roundTrip(port, lines('a', 'b'));                      // normal close
    await roundTrip(port, lines('a', 'way too long'));           // a framing error
    const reset = await connect(port);                            // peer reset
    reset.write('x\n');
    await until(() => events.length === 5, 5000, 'third open');
    reset.resetAndDestroy();
    await until(() => events.length === 6, 5000, 'the reset connection to close');
    const held = await connect(port);                             // server close
    await until(() => events.length === 7, 5000, 'fourth open');
    await server.close();
    held.destroy();
    expect(new Set(ids).size).toBe(4);
    expect(events).toEqual([
      `open ${ids[0]}`, `close ${ids[0]} 2 none`,
      `open ${ids[1]}`, `close ${ids[1]} 1 ERR_FRAME_TOO_LARGE`,
      `open ${ids[2]}`, expect.stringMatching(new RegExp(`^close ${ids[2]} 1 (ERR_SOCKET|none)$`)),
      `open ${ids[3]}`, `close ${ids[3]} 0 none`,
    ]);
  });

  it('awaits an async onOpen before the first frame, however soon the frames arrive', async () => {
    const { server, port } = await startServer<string>({
      core, zeroCopy, writePath, framing: 'line',
      async onOpen(c) {
        await sleep(30); // an async lookup (a session, a database row)
        c.data = 'ready';
      },
      onFrame(frame, c) { c.send(Buffer.from(`${c.data}:${text(frame)}`)); },
    });
    // The frames are written at once with the FIN: they arrive while onOpen waits.
    expect(String(await roundTrip(port, lines('a', 'b')))).toBe('ready:a\nready:b\n');
    await server.close();
  });

  it('a hook\'s rejection is ERR_HANDLER: onOpen\'s closes its connection, onDrain\'s too, onClose\'s is reported', async () => {
    let opens = 0;
    const { server, port } = await startServer({
      core, zeroCopy, writePath, framing: 'line', txRing: 64, maxFrame: 32,
      async onOpen() {
        const first = opens++ === 0;
        await sleep(1);
        if (first) throw new Error('open refused');
      },
      onFrame(frame, c) {
        for (let i = 0; i < 10; i++) c.send(frame); // beyond a 64-byte ring: onDrain follows
      },
      async onDrain() {
        throw new Error('drain failed');
      },
      async onClose() {
        throw new Error('close failed');
      },
    });
    const errors: string[] = [];
    server.on('clientError', err => errors.push(`${err.code}: ${err.message}`));
    const refused = await connect(port);
    await collect(refused).done;
    await until(() => errors.length === 2, 5000, 'the first connection\'s errors');
    const drained = await connect(port);
    const got = collect(drained);
    drained.write('0123456789\n');
    await got.done;
    await until(() => errors.length === 4, 5000, 'the second connection\'s errors');
    expect(errors).toEqual([
      'ERR_HANDLER: the handler failed: open refused', 'ERR_HANDLER: the handler failed: close failed',
      'ERR_HANDLER: the handler failed: drain failed', 'ERR_HANDLER: the handler failed: close failed',
    ]);
    await server.close();
  });

  it('streams a reply larger than the tx ring up to maxReply, and refuses one byte more with ERR_REPLY_TOO_LARGE', async () => {
    const maxReply = 1 << 20;
    const big = randomBytes(maxReply);
    const { server, port } = await startServer({
      core, zeroCopy, writePath, framing: 'length:4', txRing: 65536, maxReply, maxQueued: 2 * maxReply,
      onFrame(frame, c) {
        const n = frame.length ? frame[0]! : 0;
        c.send(Buffer.from('before'));
        c.send(n === 1 ? Buffer.concat([big, Buffer.from([1])]) : big);
        c.send(Buffer.from('after'));
      },
    });
    const codes = errorCodes(server);
    const atMax = await roundTrip(port, Buffer.concat([lengthFrame(Buffer.from([0])), lengthFrame(Buffer.from([0]))]));
    const one = [lengthFrame(Buffer.from('before')), lengthFrame(big), lengthFrame(Buffer.from('after'))];
    expect(atMax.equals(Buffer.concat([...one, ...one]))).toBe(true);
    expect(codes).toEqual([]);
    const past = await roundTrip(port, lengthFrame(Buffer.from([1])));
    expect(past.equals(lengthFrame(Buffer.from('before')))).toBe(true);
    expect(codes).toEqual(['ERR_REPLY_TOO_LARGE']);
    await server.close();
  });

  // Per framing: replies it carries as one frame (up to what is just short of a refusal: part of the delimiter,
  // a '\r' where it is kept) and replies it refuses (the delimiter inside, or running on into the trailer).
  it.each([
    ['line', '\n', ['ab', 'a\rb', 'ab\r', 'x'.repeat(300_000)], ['a\nb', '\n', `${'x'.repeat(300_000)}\ny`]],
    ['line:cr', '\n', ['a\rb', '\rab'], ['ab\r', 'a\r\nb']],
    ['delimiter:\\r\\n', '\r\n', ['a\r', '\nb', 'a\n\r'], ['a\r\nb']],
    ['delimiter:aba', 'aba', ['xa', 'ba', 'abba'], ['xab', 'xabay']],
  ])('framing %s: a reply holding the delimiter is refused with ERR_DELIMITER_IN_PAYLOAD, the replies before it arrive whole', async (framing, delim, good, bad) => {
    const replies = [...good, ...bad];
    const { server, port } = await startServer({
      core, zeroCopy, writePath, framing, maxReply: 1 << 20, maxQueued: 1 << 21,
      onFrame: (frame, c) => void c.send(Buffer.from(replies[Number(text(frame))]!, 'latin1')),
    });
    const codes = errorCodes(server);
    const wire = (...l: string[]) => Buffer.from(l.map(x => `${x}${delim}`).join(''), 'latin1');
    const accepted = wire(...good);
    for (let b = 0; b < bad.length; b++) {
      // Every good reply, then a bad one, then one more that never comes: the connection closed at the bad one.
      const asked = wire(...good.map((_, i) => String(i)), String(good.length + b), '0');
      const got = await roundTrip(port, asked);
      expect(got.equals(accepted), `${framing}: ${JSON.stringify(bad[b]!.slice(0, 20))}`).toBe(true);
    }
    expect(codes).toEqual(bad.map(() => 'ERR_DELIMITER_IN_PAYLOAD'));
    expect(server.stats().total.errorsByCode).toEqual({ ERR_DELIMITER_IN_PAYLOAD: bad.length });
    await server.close();
  });

  it('queues up to maxQueued bytes beyond the tx ring, and closes with ERR_SLOW_CONSUMER one byte past it', async () => {
    // tx ring 256: two 100-byte replies (102 on the wire) fit, the rest queue (counted as payload bytes).
    const replies = (c: Connection, n: number) => {
      const results = Array.from({ length: n }, (_, i) => c.send(Buffer.alloc(100, i)));
      return results;
    };
    const results: boolean[][] = [];
    const { server, port } = await startServer({
      core, zeroCopy, writePath, framing: 'length:2', txRing: 256, maxFrame: 200, maxQueued: 300,
      onFrame(frame, c) { results.push(replies(c, frame[0]!)); },
    });
    const codes = errorCodes(server);
    const atCap = await roundTrip(port, lengthFrame(Buffer.from([5]), { size: 2 })); // 2 in the ring + 300 queued
    expect(atCap.equals(Buffer.concat(Array.from({ length: 5 }, (_, i) => lengthFrame(Buffer.alloc(100, i), { size: 2 }))))).toBe(true);
    expect(results[0]).toEqual([true, true, false, false, false]);
    expect(codes).toEqual([]);
    const past = await connect(port);
    const got = collect(past);
    past.write(lengthFrame(Buffer.from([6]), { size: 2 }));        // 2 + 400: over by one reply
    await got.done;
    expect(results[1]).toEqual([true, true, false, false, false, false]);
    expect(codes).toEqual(['ERR_SLOW_CONSUMER']);
    await until(() => server.queuedBytes === 0, 5000, 'the queue to be released');
    await server.close();
  });
});

describe('bounded sends', () => {
  it.each(['wasm', 'js'] as const)('closes a client that never reads with ERR_SLOW_CONSUMER, within the budget (%s)', async core => {
    const reply = Buffer.alloc(16384, 7);
    const maxQueuedTotal = 4 * 1024 * 1024;
    let peak = 0;
    const { server, port } = await startServer({
      core, framing: 'length:4', maxQueuedTotal, writeTimeout: 500,
      onFrame(_frame, c) {
        c.send(reply);
        peak = Math.max(peak, server.queuedBytes);
      },
    });
    const codes = errorCodes(server);
    const budget = server.memoryBudget();
    expect(budget.queued).toBeLessThanOrEqual(maxQueuedTotal);
    // 40 clients each write 64 KiB of empty frames (16384 of them) and never read: 256 MiB of replies asked for.
    const clients = await Promise.all(Array.from({ length: 40 }, async () => {
      const s = await connect(port);
      s.pause();
      s.write(Buffer.alloc(65536));
      return s;
    }));
    await until(() => codes.length === clients.length, 20_000, 'every client closed as a slow consumer');
    expect(new Set(codes)).toEqual(new Set(['ERR_SLOW_CONSUMER']));
    expect(peak).toBeLessThanOrEqual(maxQueuedTotal);
    await until(() => server.queuedBytes === 0, 5000, 'queues released');
    for (const s of clients) s.destroy();
    // A client that reads is served as usual afterwards.
    expect((await roundTrip(port, lengthFrame(Buffer.from('ok')))).equals(lengthFrame(reply))).toBe(true);
    await server.close();
  });

  it('hands a burst of sends outside a handler to the kernel instead of queueing them (no ERR_SLOW_CONSUMER)', async () => {
    let refused = -1;
    const { server, port } = await startServer({
      framing: 'length:4:be',
      onOpen(c) {
        setImmediate(() => {
          refused = 0;
          // 500 KB in one tick: twice maxQueued (4 × the 64 KiB tx ring) if it all had to queue.
          for (let i = 0; i < 500; i++) if (!c.send(Buffer.alloc(1000, i))) refused++;
        });
      },
    });
    const codes = errorCodes(server);
    const s = await connect(port);
    const got = collect(s);
    await until(() => got.received() >= 500 * 1004, 10_000, 'the burst');
    expect(codes).toEqual([]);
    expect(refused).toBe(0);
    s.destroy();
    await server.close();
  });

  it('fires onDrain once replies that waited are in the tx ring', async () => {
    const drained: string[] = [];
    const { server, port } = await startServer({
      framing: 'length:2', txRing: 256, maxFrame: 200,
      onFrame(_frame, c) {
        let ok = true;
        for (let i = 0; i < 5 && ok; i++) ok = c.send(Buffer.alloc(100, i));
        expect(ok).toBe(false);
      },
      onDrain(c) {
        drained.push(c.id);
        c.send(Buffer.from('drained'));
      },
    });
    const echoed = await roundTrip(port, lengthFrame(Buffer.from([1]), { size: 2 }));
    expect(drained.length).toBe(1);
    expect(echoed.subarray(-9).equals(lengthFrame(Buffer.from('drained'), { size: 2 }))).toBe(true);
    await server.close();
  });
});

describe('draining', () => {
  it('server.close() waits for a pending async handler, sends its reply, then closes', async () => {
    let open!: () => void;
    const gate = new Promise<void>(resolve => (open = resolve));
    const { server, port } = await startServer({
      framing: 'line',
      async onFrame(frame, c) {
        await gate;
        c.send(frame);
      },
    });
    const s = await connect(port);
    const got = collect(s);
    s.write('late\n');
    await until(() => server.stats().total.framesIn === 1, 5000, 'the frame to be held');
    let closed = false;
    const closing = server.close().then(() => (closed = true));
    await sleep(50);
    expect(closed).toBe(false);
    open();
    await closing;
    expect(String(await got.done)).toBe('late\n');
  });

  it('a handler that calls server.close() still answers the rest of its batch', async () => {
    const { server, port } = await startServer({
      framing: 'line',
      onFrame(frame, c) {
        c.send(frame);
        if (text(frame) === 'shutdown') void server.close();
      },
    });
    expect(String(await roundTrip(port, lines('a', 'shutdown', 'b', 'c')))).toBe('a\nshutdown\nb\nc\n');
    await server.close();
  });

  it('destroys what is still pending after drainTimeout, and resolves', async () => {
    const { server, port } = await startServer({ framing: 'line', drainTimeout: 100, onFrame: () => new Promise<void>(() => {}) });
    const s = await connect(port);
    const got = collect(s);
    s.write('never answered\n');
    await until(() => server.stats().total.framesIn === 1, 5000, 'the frame to be held');
    await server.close();
    expect((await got.done).length).toBe(0);
  });
});

describe('typed API', () => {
  it('type-checks events and error codes (tsc runs over this file in npm test)', async () => {
    const { createServer } = await import('../src/index.ts');
    const server = createServer({ framing: 'line', onFrame: (f, c) => void c.send(f) });
    server.on('clientError', (err, c) => {
      const code: 'ERR_FRAME_TOO_LARGE' | 'ERR_SLOW_CONSUMER' | string = err.code;
      void code;
      void c.id;
    });
    // @ts-expect-error: a misspelt event name does not type-check
    server.on('clientErorr', () => {});
    // @ts-expect-error: not one of the codes
    const bad: import('../src/index.ts').ErrorCode = 'ERR_NOPE';
    void bad;
    await server.close();
  });
});

describe('server start-up errors', () => {
  it('rejects listen() on a busy port with EADDRINUSE instead of crashing', async () => {
    const { server: first, port } = await startServer({});
    const { createServer } = await import('../src/index.ts');
    const second = createServer({});
    const emitted: Error[] = [];
    second.on('error', e => emitted.push(e));
    await expect(second.listen(port)).rejects.toMatchObject({ code: 'EADDRINUSE' });
    expect(emitted).toEqual([]); // rejected, not also emitted
    await second.close();
    await first.close();
  });

  it('rejects listen() on a host that does not resolve', async () => {
    const { createServer } = await import('../src/index.ts');
    const server = createServer({});
    await expect(server.listen({ port: 0, host: 'no-such-host.invalid' })).rejects.toMatchObject({ code: expect.stringMatching(/^(ENOTFOUND|EAI_AGAIN)$/) });
    await server.close();
  });

  it('gives its errors a code: listen() after close(), stats() before start', async () => {
    const { createServer } = await import('../src/index.ts');
    const server = createServer({});
    expect(() => server.stats()).toThrow(expect.objectContaining({ code: 'ERR_BAD_CONFIG' }));
    await server.close();
    await expect(server.listen(0)).rejects.toMatchObject({ code: 'ERR_BAD_CONFIG' });
  });
});

