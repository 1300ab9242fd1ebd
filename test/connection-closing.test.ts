// How a connection closes, over real sockets, on both cores, both read paths and
// both write paths: each transition of the connection's table that ends it, with
// what the peer sees (every reply owed, then FIN; or a reset) and onClose once:
// the peer's FIN while a handler is pending, close() and destroy() from inside a
// handler (sync and after an await) and from outside while one is pending, a
// relay's half-close (the backend answers after the client's FIN), and the peer
// resetting while replies wait beyond the tx ring.
import net from 'node:net';
import { once } from 'node:events';
import { describe, expect, it } from 'vitest';
import type { RingwireError } from '../src/index.ts';
import { lengthFrame } from './harness.ts';
import { PATHS, collect, connect, errorCodes, roundTrip, sleep, startServer, until } from './net-helpers.ts';

const text = (frame: Uint8Array) => Buffer.from(frame).toString();
const lines = (...l: string[]) => Buffer.from(l.map(x => `${x}\n`).join(''));

describe.each(PATHS)('closing core=$core zeroCopy=$zeroCopy write=$writePath', ({ core, zeroCopy, writePath }) => {
  it('the peer\'s FIN while a handler is pending: its reply and the later frames\' go out, then FIN; onClose once, no error', async () => {
    const closes: (string | undefined)[] = [];
    const { server, port } = await startServer({
      core, zeroCopy, writePath, framing: 'line',
      async onFrame(frame, c) {
        if (text(frame) === 'slow') await sleep(50);
        c.send(frame);
      },
      onClose(_c, err) { closes.push(err?.code); },
    });
    // The FIN arrives with the frames, while 'slow' is held.
    expect(String(await roundTrip(port, lines('a', 'slow', 'b')))).toBe('a\nslow\nb\n');
    await until(() => closes.length === 1, 5000, 'onClose');
    expect(closes).toEqual([undefined]);
    await server.close();
  });

  it('close() inside an async handler after an await: the replies before it, its own, then FIN; nothing after', async () => {
    const handled: string[] = [];
    const { server, port } = await startServer({
      core, zeroCopy, writePath, framing: 'line',
      async onFrame(frame, c) {
        handled.push(text(frame));
        await sleep(5);
        c.send(frame);
        if (text(frame) === 'quit') c.close();
      },
    });
    const s = await connect(port);
    const got = collect(s);
    s.write(lines('a', 'quit', 'never')); // no FIN from the client: the server's close ends it
    expect(String(await got.done)).toBe('a\nquit\n');
    expect(handled).toEqual(['a', 'quit']);
    await server.close();
  });

  it('close() inside a handler with replies queued beyond the tx ring: all of them, then FIN', async () => {
    const { server, port } = await startServer({
      core, zeroCopy, writePath, framing: 'length:2', txRing: 256, maxFrame: 200, maxQueued: 4096,
      onFrame(frame, c) {
        for (let i = 0; i < 20; i++) c.send(Buffer.alloc(100, i)); // 2 fit in the ring, 18 queue
        c.close();
      },
    });
    const s = await connect(port);
    const got = collect(s);
    s.write(lengthFrame(Buffer.from('x'), { size: 2 }));
    const want = Buffer.concat(Array.from({ length: 20 }, (_, i) => lengthFrame(Buffer.alloc(100, i), { size: 2 })));
    expect((await got.done).equals(want)).toBe(true);
    await server.close();
  });

  it('destroy() inside a handler: nothing more is delivered or sent; onClose once', async () => {
    const handled: string[] = [];
    const closes: (string | undefined)[] = [];
    const { server, port } = await startServer({
      core, zeroCopy, writePath, framing: 'line',
      onFrame(frame, c) {
        handled.push(text(frame));
        if (text(frame) === 'kill') {
          c.destroy();
          expect(c.send(Buffer.from('late'))).toBe(false);
          return;
        }
        c.send(frame);
      },
      onClose(_c, err) { closes.push(err?.code); },
    });
    const s = await connect(port);
    const got = collect(s);
    s.write(lines('kill', 'after'));
    await got.done;
    expect(handled).toEqual(['kill']);
    await until(() => closes.length === 1, 5000, 'onClose');
    await sleep(20);
    expect(closes).toEqual([undefined]);
    await server.close();
  });

  it('destroy() while a handler is pending: the socket closes at once, onClose (and the slot) only once the handler settles', async () => {
    let release!: () => void;
    const gate = new Promise<void>(r => (release = r));
    const events: string[] = [];
    const { server, port } = await startServer({
      core, zeroCopy, writePath, framing: 'line', maxConnections: 1,
      async onFrame(frame, c) {
        events.push(`frame ${text(frame)}`);
        await gate;
        events.push(`settled, send ${c.send(frame)}`);
      },
      onClose() { events.push('close'); },
    });
    const s = await connect(port);
    const got = collect(s);
    s.write(lines('held'));
    await until(() => events.length === 1, 5000, 'the frame');
    [...server.connections.values()][0]!.destroy();
    await got.done; // the peer sees the close while the handler still waits
    await sleep(20);
    expect(events).toEqual(['frame held']);
    release();
    await until(() => events.length === 3, 5000, 'onClose');
    expect(events).toEqual(['frame held', 'settled, send false', 'close']);
    const next = lines('next'); // the one slot is free again
    expect(String(await roundTrip(port, next))).toBe('next\n');
    await server.close();
  });

  it('a relay\'s half-close: the client\'s FIN reaches the backend after its frames, and the backend\'s later answer still reaches the client', async () => {
    // A backend that keeps its side open after the client's FIN (allowHalfOpen), answers 30 ms later, then ends.
    const answers = net.createServer({ allowHalfOpen: true }, s => {
      const parts: Buffer[] = [];
      s.on('data', d => parts.push(d));
      s.on('end', () => setTimeout(() => s.end(Buffer.concat([...parts, lengthFrame(Buffer.from('after your FIN'))])), 30));
    });
    answers.listen(0, '127.0.0.1');
    await once(answers, 'listening');
    const backendPort = (answers.address() as net.AddressInfo).port;
    const { server, port } = await startServer({ core, zeroCopy, writePath, framing: 'length:4', upstream: { port: backendPort } });
    const codes = errorCodes(server);
    const sent = Buffer.concat([lengthFrame(Buffer.from('one')), lengthFrame(Buffer.from('two'))]);
    const back = await roundTrip(port, sent);
    expect(back.equals(Buffer.concat([sent, lengthFrame(Buffer.from('after your FIN'))]))).toBe(true);
    expect(codes).toEqual([]);
    await until(() => server.connections.size === 0, 5000, 'both sides closed');
    await server.close();
    await new Promise(r => answers.close(r));
  });

  it('the peer resets while replies wait beyond the tx ring: ERR_SOCKET once, onClose with it, the next client served', async () => {
    const closes: (RingwireError | undefined)[] = [];
    const { server, port } = await startServer({
      core, zeroCopy, writePath, framing: 'length:4', txRing: 65536, maxQueued: 64 << 20,
      onFrame(frame, c) {
        if (frame.length === 1) for (let i = 0; i < 256; i++) c.send(Buffer.alloc(65536, i)); // 16 MiB: most of it queues
        else c.send(frame);
      },
      onClose(_c, err) { closes.push(err); },
    });
    const codes = errorCodes(server);
    const s = await connect(port);
    s.on('error', () => {});
    s.pause(); // reads nothing: the replies wait in the kernel, libuv and the queue
    s.write(lengthFrame(Buffer.from([1])));
    await until(() => server.queuedBytes > 0, 5000, 'replies to queue');
    s.resetAndDestroy();
    await once(s, 'close');
    await until(() => closes.length === 1, 5000, 'onClose');
    expect(closes[0]?.code).toBe('ERR_SOCKET');
    expect(codes).toEqual(['ERR_SOCKET']);
    await until(() => server.queuedBytes === 0, 5000, 'the queue released');
    const frame = lengthFrame(Buffer.from('next'));
    expect((await roundTrip(port, frame)).equals(frame)).toBe(true);
    await server.close();
  });

  it('a clientError listener that throws: the connection is closed all the same, and the throw reaches the caller whole', async () => {
    const seen: string[] = [];
    const { server, port } = await startServer({
      core, zeroCopy, writePath, framing: 'length:2', txRing: 256, maxFrame: 200, maxQueued: 100,
      onFrame(_frame, c) {
        try {
          for (let i = 0; i < 5; i++) c.send(Buffer.alloc(100, i)); // 2 fit in the ring, the 4th is past maxQueued
        } catch (err) {
          seen.push((err as Error).message);
        }
      },
    });
    server.on('clientError', err => {
      throw new Error(`listener bug on ${err.code}`);
    });
    const s = await connect(port);
    const got = collect(s);
    s.write(lengthFrame(Buffer.from('x'), { size: 2 }));
    await until(() => server.connections.size === 0, 3000, 'the connection to close');
    await got.done;
    expect(seen).toEqual(['listener bug on ERR_SLOW_CONSUMER']);
    await server.close();
  });
});
