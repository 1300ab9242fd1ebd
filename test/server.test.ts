// The echo server over real sockets on 127.0.0.1, for both cores and both read
// paths (zero-copy adoption and the copying fallback): exact bytes, backpressure,
// bad input, connection limits and draining.
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { lengthFrame } from './harness.ts';
import { PATHS, PATH_PAIRS, collect, connect, errorCodes, roundTrip, sleep, startServer, until, untilReadingStops } from './net-helpers.ts';
import { kSlot } from '../src/net/internals.ts';


describe.each(PATHS)('server core=$core zeroCopy=$zeroCopy write=$writePath', ({ core, zeroCopy, writePath }) => {
  it('echoes raw bytes exactly', async () => {
    const { server, port } = await startServer({ core, zeroCopy, writePath });
    const data = randomBytes(200_000);
    expect((await roundTrip(port, data)).equals(data)).toBe(true);
    await server.close();
  });

  it('closes only the connection with an oversize frame, after answering the frames before it', async () => {
    const { server, port } = await startServer({ core, zeroCopy, writePath, framing: 'length:2', maxFrame: 100 });
    const codes = errorCodes(server);
    const bystander = await connect(port);
    const seen = collect(bystander);
    bystander.write(lengthFrame(Buffer.from('before'), { size: 2 }));
    await until(() => seen.received() === 8, 5000, 'bystander echo');

    const good = Buffer.concat([lengthFrame(Buffer.alloc(100, 1), { size: 2 }), lengthFrame(Buffer.from('x'), { size: 2 })]);
    const bad = lengthFrame(Buffer.alloc(101, 2), { size: 2 });
    const offender = await connect(port);
    const answer = collect(offender);
    offender.write(Buffer.concat([good, bad]));
    expect((await answer.done).equals(good)).toBe(true);
    expect(codes).toEqual(['ERR_FRAME_TOO_LARGE']);

    bystander.write(lengthFrame(Buffer.from('after'), { size: 2 }));
    await until(() => seen.received() === 15, 5000, 'bystander echo after');
    bystander.end();
    expect((await seen.done).equals(Buffer.concat([lengthFrame(Buffer.from('before'), { size: 2 }), lengthFrame(Buffer.from('after'), { size: 2 })]))).toBe(true);
    const s = server.stats().total;
    expect(s.errorsByCode).toEqual({ ERR_FRAME_TOO_LARGE: 1 });
    await server.close();
  });

  it('says how large a frame was and which limit it broke: ERR_FRAME_TOO_LARGE names its size, maxFrame and the framing', async () => {
    const { server, port } = await startServer({ core, zeroCopy, writePath, framing: 'length:2', maxFrame: 100 });
    const messages: string[] = [];
    server.on('clientError', e => messages.push(e.message));
    await roundTrip(port, lengthFrame(Buffer.alloc(101), { size: 2 }));
    expect(messages).toEqual(['a frame of 101 bytes, over maxFrame (100 bytes of payload, framing length:2:be): raise --max-frame or fix the peer']);
    await server.close();
  });

  it('rejects a length that cannot be valid with ERR_BAD_LENGTH', async () => {
    const { server, port } = await startServer({ core, zeroCopy, writePath, framing: 'length:2:adjust=-2' });
    const codes = errorCodes(server);
    const ok = lengthFrame(Buffer.from('ok'), { size: 2, adjust: -2 });
    expect((await roundTrip(port, Buffer.concat([ok, Buffer.from([0, 1, 7])]))).equals(ok)).toBe(true);
    expect(codes).toEqual(['ERR_BAD_LENGTH']);
    await server.close();
  });

  it('refuses a connection over the limit, counts it, and keeps the others', async () => {
    const { server, port } = await startServer({ core, zeroCopy, writePath, maxConnections: 2 });
    const codes = errorCodes(server);
    const a = await connect(port);
    const b = await connect(port);
    await until(() => server.connections.size === 2, 5000, 'two connections');
    const c = await connect(port);
    const refused = collect(c);
    expect((await refused.done).length).toBe(0);
    expect(codes).toEqual(['ERR_TOO_MANY_CONNECTIONS']);
    expect(server.stats().total.errorsByCode).toEqual({ ERR_TOO_MANY_CONNECTIONS: 1 });
    for (const s of [a, b]) {
      const r = collect(s);
      s.end('still here');
      expect(String(await r.done)).toBe('still here');
    }
    // A slot freed by a closed connection is usable again.
    expect(String(await roundTrip(port, Buffer.from('again')))).toBe('again');
    await server.close();
  });

  it('reports a frame cut short by the peer with ERR_TRUNCATED_FRAME', async () => {
    const { server, port } = await startServer({ core, zeroCopy, writePath, framing: 'line' });
    const codes = errorCodes(server);
    expect(String(await roundTrip(port, Buffer.from('whole\nhalf')))).toBe('whole\n');
    expect(codes).toEqual(['ERR_TRUNCATED_FRAME']);
    await server.close();
  });

  it('closes an idle connection with ERR_IDLE_TIMEOUT', async () => {
    const { server, port } = await startServer({ core, zeroCopy, writePath, idleTimeout: 100 });
    const codes = errorCodes(server);
    const s = await connect(port);
    const r = collect(s);
    s.write('ping');
    expect(String(await r.done)).toBe('ping');
    expect(codes).toEqual(['ERR_IDLE_TIMEOUT']);
    await server.close();
  });

  it('close() stops accepting, drains queued replies, then resolves', async () => {
    const { server, port } = await startServer({ core, zeroCopy, writePath, txRing: 65536 });
    const data = randomBytes(4 * 1024 * 1024);
    const s = await connect(port);
    s.pause();
    s.write(data);
    await until(() => server.stats().total.bytesIn > 0, 5000, 'server to read');
    const closed = server.close();
    let resolved = false;
    void closed.then(() => (resolved = true));
    await sleep(100);
    expect(resolved).toBe(false); // the client has not read its replies yet
    await expect(connect(port)).rejects.toThrow(); // no longer accepting
    const r = collect(s);
    s.resume();
    const echoed = await r.done;
    await closed;
    // Everything the server accepted was answered, in order; what it never read was not.
    expect(echoed.length).toBe(server.stats().total.bytesIn);
    expect(echoed.equals(data.subarray(0, echoed.length))).toBe(true);
  });
});

// At scale, on the four cells of PATH_PAIRS (every pair of core, read and write path):
// the code of each path runs on all eight cells above.
describe.each(PATH_PAIRS)('server at scale core=$core zeroCopy=$zeroCopy write=$writePath', ({ core, zeroCopy, writePath }) => {
  it('serves 300 concurrent connections with pipelined length frames, every byte compared', async () => {
    const { server, port } = await startServer({ core, zeroCopy, writePath, framing: 'length:4:be', maxFrame: 4096 });
    const runs = Array.from({ length: 300 }, async (_, i) => {
      const frames = Array.from({ length: 40 }, (_, j) => lengthFrame(randomBytes((i * 31 + j * 17) % 2000)));
      const wire = Buffer.concat(frames);
      return { wire, echoed: await roundTrip(port, wire) };
    });
    for (const { wire, echoed } of await Promise.all(runs)) expect(echoed.equals(wire)).toBe(true);
    const s = server.stats().total;
    expect(s.framesIn).toBe(300 * 40);
    expect(s.framesOut).toBe(300 * 40);
    expect(s.accepted).toBe(300);
    expect(s.errors).toBe(0);
    await server.close();
  });

  it('sends a 16 MiB reply to a client that stops reading, within bounded memory', async () => {
    const txRing = 65536, rxRing = 65536;
    const { server, port } = await startServer({ core, zeroCopy, writePath, rxRing, txRing });
    const data = randomBytes(16 * 1024 * 1024);
    const socket = await connect(port);
    socket.pause(); // the client does not read
    const sent = new Promise<void>(resolve => socket.write(data, () => resolve()));
    // The server fills its tx ring and the kernel buffers, then stops reading.
    const last = await untilReadingStops(server);
    const stalled = server.stats().total;
    expect(stalled.bytesIn).toBe(last);
    expect(stalled.bytesIn).toBeLessThan(data.length);
    expect(stalled.backpressurePauses).toBeGreaterThan(0);
    const conn = [...server.connections.values()][0]!;
    expect(conn.socket.writableLength).toBeLessThanOrEqual(txRing);
    expect(server.core.txPending(conn[kSlot])).toBeLessThanOrEqual(txRing);
    // The client reads again: every byte arrives, in order.
    const parts: Buffer[] = [];
    let got = 0;
    socket.on('data', d => { parts.push(d); got += d.length; });
    socket.resume();
    await sent;
    await until(() => got >= data.length, 20_000, '16 MiB echoed');
    expect(Buffer.concat(parts).equals(data)).toBe(true);
    socket.destroy();
    await server.close();
  });
});

describe('server handler mode', () => {
  it.each(['wasm', 'js'] as const)('runs onFrame with views and sends replies through the tx ring (%s)', async core => {
    const { server, port } = await startServer({
      core,
      framing: 'line',
      onFrame: (frame, connection) => {
        connection.send(Buffer.from(Buffer.from(frame).toString().toUpperCase()));
      },
    });
    const lines = Array.from({ length: 2000 }, (_, i) => `line ${i} ${'x'.repeat(i % 50)}`);
    const echoed = await roundTrip(port, Buffer.from(lines.map(l => `${l}\n`).join('')));
    expect(String(echoed)).toBe(lines.map(l => `${l.toUpperCase()}\n`).join(''));
    await server.close();
  });

  it('keeps replies in order when a handler outruns a small tx ring', async () => {
    let refused = 0;
    const { server, port } = await startServer({
      framing: 'length:2',
      maxFrame: 200,
      rxRing: 1024,
      txRing: 256,
      onFrame: (frame, c) => {
        for (let i = 0; i < 3; i++) if (!c.send(frame)) refused++; // three replies per frame
      },
    });
    const frames = Array.from({ length: 300 }, (_, i) => Buffer.alloc(i % 200, i));
    const echoed = await roundTrip(port, Buffer.concat(frames.map(f => lengthFrame(f, { size: 2 }))));
    expect(echoed.equals(Buffer.concat(frames.flatMap(f => [f, f, f].map(x => lengthFrame(x, { size: 2 })))))).toBe(true);
    expect(refused).toBeGreaterThan(0); // replies had to wait beyond the tx ring
    await server.close();
  });

  it('closes the connection with ERR_HANDLER when onFrame throws', async () => {
    const { server, port } = await startServer({
      framing: 'line',
      onFrame: (frame, c) => {
        if (String(Buffer.from(frame)) === 'boom') throw new Error('boom');
        c.send(frame);
      },
    });
    const codes = errorCodes(server);
    expect(String(await roundTrip(port, Buffer.from('a\nboom\nb\n')))).toBe('a\n');
    expect(codes).toEqual(['ERR_HANDLER']);
    await server.close();
  });
});

describe('server lifecycle', () => {
  it('closes when its AbortSignal aborts, emitting close', async () => {
    const controller = new AbortController();
    const { server, port } = await startServer({ signal: controller.signal });
    expect(String(await roundTrip(port, Buffer.from('up')))).toBe('up');
    const closed = new Promise(resolve => server.once('close', () => resolve(undefined)));
    controller.abort();
    await closed;
    await expect(connect(port)).rejects.toThrow();
  });

  it('refuses invalid options with ERR_BAD_CONFIG before binding', async () => {
    const server = (await import('../src/index.ts')).createServer({ framing: 'length:4', maxFrame: 100_000, rxRing: 65536 });
    await expect(server.listen(0)).rejects.toMatchObject({ code: 'ERR_BAD_CONFIG' });
  });
});
