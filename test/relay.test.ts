// The relay over real sockets, on both cores and both read paths: clients in
// front of a plain Node backend through `upstream`, whole frames forwarded inside
// the core (Core.forwardTo), every byte verified with hundreds of pipelined
// connections, a bad frame from either side, a slow backend (backpressure reaches
// the client: the relay stops reading), and a backend that refuses or dies.
import type net from 'node:net';
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { lengthFrame } from './harness.ts';
import { PATHS, collect, connect, errorCodes, plainServer, roundTrip, startServer, until, untilReadingStops } from './net-helpers.ts';


const backend = (serve?: (s: net.Socket) => void) => plainServer(serve);

describe.each(PATHS)('relay core=$core zeroCopy=$zeroCopy', ({ core, zeroCopy }) => {
  it('relays 200 pipelined connections to a backend and back, every byte verified, each pair closing after the other side', async () => {
    const echo = await backend();
    const { server, port } = await startServer({ core, zeroCopy, framing: 'length:4', maxFrame: 4096, upstream: { port: echo.port } });
    const runs = Array.from({ length: 200 }, async (_, i) => {
      const wire = Buffer.concat(Array.from({ length: 30 }, (_, j) => lengthFrame(randomBytes((i * 37 + j * 101) % 3000))));
      return { wire, back: await roundTrip(port, wire) };
    });
    for (const { wire, back } of await Promise.all(runs)) expect(back.equals(wire)).toBe(true);
    const s = server.stats().total;
    expect(s.accepted).toBe(400); // each client and its upstream connection
    expect(s.errors).toBe(0);
    await until(() => server.connections.size === 0, 5000, 'every pair closed');
    await server.close();
    await echo.stop();
  });

  it('closes a client that sends a bad frame with its error, and its upstream after the frames before it', async () => {
    const received: Buffer[] = [];
    const sink = await backend(s => s.on('data', d => received.push(d)));
    const { server, port } = await startServer({ core, zeroCopy, framing: 'length:2', maxFrame: 100, upstream: { port: sink.port } });
    const codes = errorCodes(server);
    const good = Buffer.concat([lengthFrame(Buffer.alloc(100, 1), { size: 2 }), lengthFrame(Buffer.from('x'), { size: 2 })]);
    const bad = lengthFrame(Buffer.alloc(101, 2), { size: 2 });
    await roundTrip(port, Buffer.concat([good, bad]));
    expect(codes).toEqual(['ERR_FRAME_TOO_LARGE']);
    await until(() => Buffer.concat(received).length === good.length, 5000, 'the good frames upstream');
    expect(Buffer.concat(received).equals(good)).toBe(true);
    await until(() => sink.sockets.size === 0, 5000, 'the upstream connection closed');
    await server.close();
    await sink.stop();
  });

  it('closes the upstream side that sends a bad frame, and the client after the frames before it', async () => {
    const good = lengthFrame(Buffer.from('hello'), { size: 2 });
    const liar = await backend(s => { s.write(Buffer.concat([good, lengthFrame(Buffer.alloc(101), { size: 2 })])); });
    const { server, port } = await startServer({ core, zeroCopy, framing: 'length:2', maxFrame: 100, upstream: { port: liar.port } });
    const codes = errorCodes(server);
    const client = await connect(port);
    const got = collect(client);
    expect((await got.done).equals(good)).toBe(true);
    expect(codes).toEqual(['ERR_FRAME_TOO_LARGE']);
    await server.close();
    await liar.stop();
  });

  it('stops reading from a client while the backend does not read (backpressure), then delivers everything', async () => {
    let resume!: () => void;
    const stalled = await backend(s => {
      s.pause();
      resume = () => { s.resume(); s.pipe(s); };
    });
    const { server, port } = await startServer({ core, zeroCopy, framing: 'length:4', rxRing: 65536, txRing: 65536, upstream: { port: stalled.port } });
    const wire = Buffer.concat(Array.from({ length: 1024 }, () => lengthFrame(randomBytes(16000))));
    const client = await connect(port);
    const got = collect(client);
    client.end(wire);
    const read = await untilReadingStops(server);
    expect(read).toBeLessThan(wire.length); // held back: kernel buffers and two rings, not 16 MiB in memory
    resume();
    expect((await got.done).equals(wire)).toBe(true);
    await server.close();
    await stalled.stop();
  });

  it('closes a client with ERR_SOCKET when the upstream refuses, and when it dies mid-stream', async () => {
    const gone = await backend();
    const deadPort = gone.port;
    await gone.stop();
    const { server, port } = await startServer({ core, zeroCopy, framing: 'line', upstream: { port: deadPort } });
    const codes = errorCodes(server);
    const client = await connect(port);
    const got = collect(client);
    client.write('anyone?\n');
    expect((await got.done).length).toBe(0);
    expect(codes).toContain('ERR_SOCKET');
    await server.close();

    const dying = await backend(s => s.once('data', d => { s.write(d); setTimeout(() => s.destroy(), 20); }));
    const relay = await startServer({ core, zeroCopy, framing: 'line', upstream: { port: dying.port } });
    const c2 = await connect(relay.port);
    const got2 = collect(c2);
    c2.write('first\n');
    expect(String(await got2.done)).toBe('first\n'); // what arrived before the backend died, then the close
    await relay.server.close();
    await dying.stop();
  });
});
