// The relay over real sockets, on both cores and both read paths: clients in
// front of a plain Node backend through `upstream`, whole frames forwarded inside
// the core (Core.forwardTo), every byte verified with hundreds of pipelined
// connections, a bad frame from either side, a slow backend (backpressure reaches
// the client: the relay stops reading), and a backend that refuses or dies; an
// onForward hook that drops or replaces frames both ways, with the same backpressure.
import net from 'node:net';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { CORES, lengthFrame } from './harness.ts';
import { PATHS, PATH_PAIRS, collect, connect, errorCodes, plainServer, roundTrip, startServer, until, untilReadingStops } from './net-helpers.ts';


const backend = (serve?: (s: net.Socket) => void) => plainServer(serve);

describe.each(PATHS)('relay core=$core zeroCopy=$zeroCopy write=$writePath', ({ core, zeroCopy, writePath }) => {
  it('at the connection limit, a newcomer evicts a trickling client together with its upstream: both slots are its own', async () => {
    const echo = await backend();
    // 4 slots: two pairs. Deadlines off: only eviction frees slots here.
    const { server, port } = await startServer({ core, zeroCopy, framing: 'length:4', maxConnections: 4, evictAfter: 300, frameTimeout: 0, minRate: 0, upstream: { port: echo.port } });
    const codes = errorCodes(server);
    const first = lengthFrame(randomBytes(64));
    const steady = await connect(port); // between frames: never evicted
    const steadyBack = collect(steady);
    steady.write(first);
    await until(() => steadyBack.received() === first.length, 5000, 'the steady client\'s echo');
    const slow = await connect(port);
    slow.on('error', () => {});
    const slowClosed = once(slow, 'close');
    slow.write(Buffer.from([0, 0])); // half a length prefix, then nothing
    await until(() => server.stats().total.connections === 4, 5000, 'both pairs connected');
    await new Promise(r => setTimeout(r, 350));
    const frame = lengthFrame(randomBytes(100));
    expect((await roundTrip(port, frame)).equals(frame)).toBe(true); // served through its own upstream
    expect(codes).toEqual(['ERR_EVICTED']);
    await slowClosed;
    steady.end(first);
    expect((await steadyBack.done).equals(Buffer.concat([first, first]))).toBe(true);
    await server.close();
    await echo.stop();
  });

  it('closes a client that sends a bad frame with its error, and its upstream after the frames before it', async () => {
    const received: Buffer[] = [];
    const sink = await backend(s => s.on('data', d => received.push(d)));
    const { server, port } = await startServer({ core, zeroCopy, writePath, framing: 'length:2', maxFrame: 100, upstream: { port: sink.port } });
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
    const { server, port } = await startServer({ core, zeroCopy, writePath, framing: 'length:2', maxFrame: 100, upstream: { port: liar.port } });
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
    const { server, port } = await startServer({ core, zeroCopy, writePath, framing: 'length:4', rxRing: 65536, txRing: 65536, upstream: { port: stalled.port } });
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

  it('onForward sees every frame both ways: drops those it says, replaces others, the rest arrive exactly and in order', async () => {
    const seen: Buffer[] = [];
    const echo = await backend(s => { s.on('data', d => seen.push(d)); s.pipe(s); });
    const has = (frame: Uint8Array, byte: string) => frame.includes(byte.charCodeAt(0));
    const { server, port } = await startServer({
      core, zeroCopy, framing: 'length:4', maxFrame: 4096, upstream: { port: echo.port },
      onForward(frame, from) {
        const up = from.remotePort !== echo.port; // from the client, towards the backend
        if (up && has(frame, 'X')) return false;
        if (!up && has(frame, 'Y')) return false;
        if (up && has(frame, 'Z')) return Buffer.from('replaced');
        return undefined;
      },
    });
    const payloads = (i: number) => Array.from({ length: 40 }, (_, j) => {
      const body = randomBytes((i * 31 + j * 97) % 2000).map(b => (b === 88 || b === 89 || b === 90 ? 0 : b)); // no stray X, Y, Z
      return Buffer.concat([body, Buffer.from(['', 'X', 'Y', 'Z'][(i + j) % 4]!)]);
    });
    const runs = Array.from({ length: 50 }, async (_, i) => {
      const sent = payloads(i);
      return { sent, back: await roundTrip(port, Buffer.concat(sent.map(p => lengthFrame(p)))) };
    });
    let upstream = 0;
    for (const { sent, back } of await Promise.all(runs)) {
      const towards = sent.filter(p => !has(p, 'X')).map(p => (has(p, 'Z') ? Buffer.from('replaced') : p));
      upstream += Buffer.concat(towards.map(p => lengthFrame(p))).length;
      const expected = towards.filter(p => !has(p, 'Y'));
      expect(back.equals(Buffer.concat(expected.map(p => lengthFrame(p))))).toBe(true);
    }
    expect(Buffer.concat(seen).length).toBe(upstream); // the backend saw the Y frames, not the X ones
    expect(server.stats().total.errors).toBe(0);
    await server.close();
    await echo.stop();
  });

  it('onForward: a replacement holding the delimiter is refused with ERR_DELIMITER_IN_PAYLOAD, never split in two upstream', async () => {
    const seen: Buffer[] = [];
    const echo = await backend(s => { s.on('data', d => seen.push(d)); s.pipe(s); });
    const { server, port } = await startServer({
      core, zeroCopy, writePath, framing: 'line', upstream: { port: echo.port },
      // Towards the backend, '+' becomes a newline: a frame that would arrive as two.
      onForward: (frame, from) => (from.remotePort !== echo.port ? Buffer.from(Buffer.from(frame).toString().replaceAll('+', '\n')) : undefined),
    });
    const codes = errorCodes(server);
    const back = await roundTrip(port, Buffer.from('one\ntwo\nthree+four\nfive\n'));
    await until(() => echo.sockets.size === 0, 5000, 'the upstream connection closed');
    expect(String(Buffer.concat(seen))).toBe('one\ntwo\n'); // the frames before it, then FIN: not 'three' and 'four' as two frames
    expect('one\ntwo\n'.startsWith(String(back))).toBe(true); // what of their echo came back before the client closed
    expect(codes).toEqual(['ERR_DELIMITER_IN_PAYLOAD']);
    await server.close();
    await echo.stop();
  });

  it('onForward keeps the backpressure: a backend that does not read stops the client\'s reading, then everything arrives', async () => {
    let resume!: () => void;
    const stalled = await backend(s => {
      s.pause();
      resume = () => { s.resume(); s.pipe(s); };
    });
    let frames = 0;
    const { server, port } = await startServer({
      core, zeroCopy, framing: 'length:4', rxRing: 65536, txRing: 65536, upstream: { port: stalled.port }, onForward: () => void frames++,
    });
    const wire = Buffer.concat(Array.from({ length: 1024 }, () => lengthFrame(randomBytes(16000))));
    const client = await connect(port);
    const got = collect(client);
    client.end(wire);
    const read = await untilReadingStops(server);
    expect(read).toBeLessThan(wire.length);
    expect(server.stats().total.errors).toBe(0); // held back, not queued until ERR_SLOW_CONSUMER
    resume();
    expect((await got.done).equals(wire)).toBe(true);
    expect(frames).toBe(2048);
    await server.close();
    await stalled.stop();
  });

  it('closes a client with ERR_SOCKET when the upstream refuses, and when it dies mid-stream', async () => {
    // A port nothing listens on, on 127.0.0.2: the relay itself listens on 127.0.0.1, so the kernel
    // handing it the same port number cannot make it its own upstream (a loop to ERR_TOO_MANY_CONNECTIONS).
    const gone = net.createServer().listen(0, '127.0.0.2');
    await once(gone, 'listening');
    const deadPort = (gone.address() as net.AddressInfo).port;
    await new Promise(resolve => gone.close(resolve));
    const { server, port } = await startServer({ core, zeroCopy, writePath, framing: 'line', upstream: { host: '127.0.0.2', port: deadPort } });
    const codes = errorCodes(server);
    const client = await connect(port);
    const got = collect(client);
    client.write('anyone?\n');
    expect((await got.done).length).toBe(0);
    expect(codes).toContain('ERR_SOCKET');
    await server.close();

    const dying = await backend(s => s.once('data', d => { s.write(d); setTimeout(() => s.destroy(), 20); }));
    const relay = await startServer({ core, zeroCopy, writePath, framing: 'line', upstream: { port: dying.port } });
    const c2 = await connect(relay.port);
    const got2 = collect(c2);
    c2.write('first\n');
    expect(String(await got2.done)).toBe('first\n'); // what arrived before the backend died, then the close
    await relay.server.close();
    await dying.stop();
  });
});

// At scale, on the four cells of PATH_PAIRS (every pair of core, read and write path):
// the code of each path runs on all eight cells above.
describe.each(PATH_PAIRS)('relay at scale core=$core zeroCopy=$zeroCopy write=$writePath', ({ core, zeroCopy, writePath }) => {
  it('relays 200 pipelined connections to a backend and back, every byte verified, each pair closing after the other side', async () => {
    const echo = await backend();
    const { server, port } = await startServer({ core, zeroCopy, writePath, framing: 'length:4', maxFrame: 4096, upstream: { port: echo.port } });
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
});

describe.each(CORES)('relay core=%s, an upstream socket that cannot be made', core => {
  it('closes each client with the real cause (ERR_TLS), never leaking the upstream\'s slot to ERR_TOO_MANY_CONNECTIONS', async () => {
    // Two slots: one client and its upstream. A leaked upstream slot would refuse the second client.
    const { server, port } = await startServer({ core, framing: 'line', maxConnections: 2, evictAfter: 0, upstream: { port: 1, tls: { key: 'not a key', cert: 'not a certificate' } } });
    const codes = errorCodes(server);
    for (let i = 0; i < 3; i++) {
      const client = await connect(port);
      const got = collect(client);
      client.write('anyone?\n');
      expect((await got.done).length).toBe(0);
      client.destroy();
      await until(() => server.stats().total.connections === 0, 5000, 'both slots free again');
    }
    expect(codes).toEqual(Array(6).fill('ERR_TLS')); // per client: the upstream attempt, then the client it closes
    expect(server.stats().total.connections).toBe(0);
    expect(server.stats().total.closedBy.ERR_TLS).toBe(6); // each client, and the upstream slot given back
    await server.close();
  });
});

describe('ringwire relay --handler', () => {
  it('refuses onForward without upstream, and onFrame on a relay, with ERR_BAD_CONFIG', async () => {
    const { createServer } = await import('ringwire');
    expect(() => createServer({ onForward: () => undefined })).toThrow(expect.objectContaining({ code: 'ERR_BAD_CONFIG', message: expect.stringMatching(/give upstream/) }));
    expect(() => createServer({ upstream: { port: 1 }, onFrame: () => undefined })).toThrow(expect.objectContaining({ code: 'ERR_BAD_CONFIG' }));
  });

  it('examples/relay-filter.mjs on 2 workers: password lines dropped, tokens masked, the rest as sent', async () => {
    const echo = await backend();
    const args = ['dist/cli.js', 'relay', '--port', '0', '--workers', '2', '--framing', 'line', '--upstream', `127.0.0.1:${echo.port}`, '--handler', 'examples/relay-filter.mjs'];
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    try {
      const [line] = await once(child.stdout.setEncoding('utf8'), 'data') as [string];
      const port = Number(/:(\d+) /.exec(line)![1]);
      const answers = await Promise.all(Array.from({ length: 6 }, () => roundTrip(port, Buffer.from('hello\npassword=1\nGET token=abc now\nbye\n'))));
      for (const a of answers) expect(String(a)).toBe('hello\nGET token=*** now\nbye\n');
      child.kill('SIGTERM');
      expect((await once(child, 'exit'))[0]).toBe(0);
    } finally {
      child.kill('SIGKILL');
      await echo.stop();
    }
  });
});
