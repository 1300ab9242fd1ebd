// Cut-through in the relay over real sockets, on both cores, both read paths and
// both write paths: a frame's bytes are forwarded as they arrive once its header is
// validated (docs/relay.md), so a 16 MiB frame passes byte for byte while the
// relay's rings stay at RELAY_RING, maxFrame still holds (at the limit, and one past
// it on a length and on a delimiter framing), a stalled upstream stops the client's
// reading with nothing lost, every split of a stream reaches the upstream before its
// frame is whole, and a FIN mid-frame reaches the upstream after what went. With an
// onForward hook nothing changes: the hook still sees whole frames. Last, the relay
// command in its own process: its peak RSS while a 16 MiB frame passes (under half the frame).
import net from 'node:net';
import { readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { startCli, killStarted } from './cli-process.ts';
import { CORES, lengthFrame } from './harness.ts';
import { relayForwards } from './oracle.ts';
import { PATHS, collect, connect, errorCodes, plainServer, sleep, startServer, until, untilReadingStops } from './net-helpers.ts';
import { parseFraming } from '../src/core/config.ts';
import { RELAY_RING } from '../src/core/layout.ts';
import type { RingwireServer } from '../src/index.ts';

const MiB = 1 << 20;

/** The most bytes the server's rings held while it runs (polled every 2 ms); stop() returns it. */
function poolPeak(server: RingwireServer): { stop: () => number } {
  let peak = 0;
  const timer = setInterval(() => (peak = Math.max(peak, server.stats().total.pool.bytes)), 2);
  return { stop: () => (clearInterval(timer), Math.max(peak, server.stats().total.pool.bytes)) };
}

/** A backend that keeps what each connection sent, in order of connection. */
async function sink() {
  const got: Buffer[][] = [];
  const closed: boolean[] = [];
  const backend = await plainServer(s => {
    const i = got.push([]) - 1;
    closed.push(false);
    s.on('data', d => got[i]!.push(d));
    s.on('close', () => (closed[i] = true));
  });
  return { ...backend, bytes: (i = 0) => Buffer.concat(got[i] ?? []), closed: (i = 0) => closed[i] === true };
}

// Two pairs of rings, each at most RELAY_RING, and the smallest ones: far below any frame here.
const RINGS_BOUND = 4 * RELAY_RING + 64 * 1024;

describe.each(PATHS)('relay cut-through core=$core zeroCopy=$zeroCopy write=$writePath', ({ core, zeroCopy, writePath }) => {
  it('relays a 16 MiB frame there and back byte for byte while its rings stay at RELAY_RING', async () => {
    const echo = await plainServer();
    const { server, port } = await startServer({ core, zeroCopy, writePath, framing: 'length:4', maxFrame: 16 * MiB, upstream: { port: echo.port } });
    const peak = poolPeak(server);
    const frame = lengthFrame(randomBytes(16 * MiB));
    const client = await connect(port);
    const got = collect(client);
    client.end(frame);
    expect((await got.done).equals(frame)).toBe(true);
    expect(peak.stop()).toBeLessThan(RINGS_BOUND);
    expect(server.stats().total.errors).toBe(0);
    await server.close();
    await echo.stop();
  });

  it('length framing: a frame at maxFrame passes, one past it is refused from its header with none of its bytes forwarded', async () => {
    const up = await sink();
    const { server, port } = await startServer({ core, zeroCopy, writePath, framing: 'length:4', maxFrame: MiB, upstream: { port: up.port } });
    const codes = errorCodes(server);
    const peak = poolPeak(server);
    const good = lengthFrame(randomBytes(MiB));
    const bad = lengthFrame(randomBytes(MiB + 1));
    const client = await connect(port);
    const got = collect(client);
    client.write(good);
    client.write(bad);
    await got.done;
    await until(() => up.closed(), 5000, 'the upstream connection closed');
    expect(codes).toEqual(['ERR_FRAME_TOO_LARGE']);
    expect(up.bytes().equals(good)).toBe(true);
    expect(peak.stop()).toBeLessThan(RINGS_BOUND);
    await server.close();
    await up.stop();
  });

  it('delimiter framing: a line at maxFrame passes; one past it is refused once its bytes prove it, after at most maxFrame of them went', async () => {
    const max = 256 * 1024;
    const up = await sink();
    const { server, port } = await startServer({ core, zeroCopy, writePath, framing: 'line', maxFrame: max, upstream: { port: up.port } });
    const codes = errorCodes(server);
    const peak = poolPeak(server);
    const good = Buffer.concat([Buffer.alloc(max, 'a'), Buffer.from('\n')]);
    const bad = Buffer.concat([Buffer.alloc(max + 1, 'b'), Buffer.from('\n')]);
    const client = await connect(port);
    const got = collect(client);
    client.write(good);
    client.write(bad);
    await got.done;
    await until(() => up.closed(), 5000, 'the upstream connection closed');
    expect(codes).toEqual(['ERR_FRAME_TOO_LARGE']);
    const sent = up.bytes();
    expect(sent.subarray(0, good.length).equals(good)).toBe(true);
    const cut = sent.subarray(good.length);
    expect(cut.length).toBeLessThanOrEqual(max);
    expect(cut.equals(bad.subarray(0, cut.length))).toBe(true);
    expect(peak.stop()).toBeLessThan(RINGS_BOUND);
    await server.close();
    await up.stop();
  });

  it('a stalled upstream stops the client\'s reading mid-frame (backpressure), then the whole 16 MiB frame arrives', async () => {
    let resume!: () => void;
    const stalled = await plainServer(s => {
      s.pause();
      resume = () => { s.resume(); s.pipe(s); };
    });
    const { server, port } = await startServer({ core, zeroCopy, writePath, framing: 'length:4', maxFrame: 16 * MiB, upstream: { port: stalled.port } });
    const peak = poolPeak(server);
    const frame = lengthFrame(randomBytes(16 * MiB));
    const client = await connect(port);
    const got = collect(client);
    client.end(frame);
    const read = await untilReadingStops(server);
    expect(read).toBeLessThan(frame.length); // held back by the kernel's buffers and two small rings
    resume();
    expect((await got.done).equals(frame)).toBe(true);
    expect(peak.stop()).toBeLessThan(RINGS_BOUND);
    await server.close();
    await stalled.stop();
  });

  it('every split of a stream: what came of a frame reaches the upstream, and comes back, before the rest is sent', async () => {
    const echo = await plainServer();
    const words = ['hello', '', 'a longer frame, to be cut at every byte'].map(w => Buffer.from(w));
    const streams = {
      'length:2': Buffer.concat(words.map(w => lengthFrame(w, { size: 2 }))),
      line: Buffer.concat(words.map(w => Buffer.concat([w, Buffer.from('\n')]))),
    };
    for (const [framing, wire] of Object.entries(streams)) {
      const { server, port } = await startServer({ core, zeroCopy, writePath, framing, maxFrame: 100, upstream: { port: echo.port } });
      await Promise.all(Array.from({ length: wire.length - 1 }, async (_, i) => {
        const first = wire.subarray(0, i + 1);
        // The relay forwards it both ways: to the echo, and what the echo sends back.
        const n = relayForwards(parseFraming(framing), 100, first).least;
        const client = await connect(port);
        const got = collect(client);
        client.write(first);
        await until(() => got.received() >= n, 10_000, `${framing}: ${n} bytes back after the first ${i + 1}`);
        client.end(wire.subarray(i + 1));
        expect((await got.done).equals(wire), `${framing} split at ${i + 1}`).toBe(true);
      }));
      expect(server.stats().total.errors).toBe(0);
      await server.close();
    }
    await echo.stop();
  });

  it('a FIN in the middle of a frame: the client closes with ERR_TRUNCATED_FRAME, its upstream after the bytes that went', async () => {
    const up = await sink();
    const { server, port } = await startServer({ core, zeroCopy, writePath, framing: 'length:4', maxFrame: MiB, upstream: { port: up.port } });
    const messages: string[] = [];
    server.on('clientError', e => messages.push(`${e.code}: ${e.message}`));
    const frame = lengthFrame(randomBytes(100_000));
    const half = frame.subarray(0, 50_000);
    const client = await connect(port);
    const got = collect(client);
    client.end(half);
    await got.done;
    await until(() => up.closed(), 5000, 'the upstream connection closed');
    expect(up.bytes().equals(half)).toBe(true);
    expect(messages).toEqual(['ERR_TRUNCATED_FRAME: peer closed with 50000 bytes of an incomplete frame (the relay had forwarded 50000 of them: its partner closes after them)']);
    await server.close();
    await up.stop();
  });

  it('with onForward the hook still sees whole frames: nothing of a frame goes before it is whole', async () => {
    const up = await sink();
    const seen: Buffer[] = [];
    const { server, port } = await startServer({
      core, zeroCopy, writePath, framing: 'length:4', maxFrame: MiB, upstream: { port: up.port },
      onForward: frame => void seen.push(Buffer.from(frame)),
    });
    const payload = randomBytes(200_000);
    const frame = lengthFrame(payload);
    const client = await connect(port);
    client.write(frame.subarray(0, 100_000));
    await until(() => server.stats().total.bytesIn >= 100_000, 5000, 'the first half read');
    await sleep(50);
    expect(up.bytes().length).toBe(0);
    expect(seen.length).toBe(0);
    client.end(frame.subarray(100_000));
    await until(() => up.bytes().length === frame.length, 5000, 'the whole frame upstream');
    expect(up.bytes().equals(frame)).toBe(true);
    expect(seen.length).toBe(1);
    expect(seen[0]!.equals(payload)).toBe(true);
    await server.close();
    await up.stop();
  });
});

describe.each(CORES)('ringwire relay --max-frame 16m core=%s, in its own process', core => {
  afterEach(killStarted);

  it('relays a 16 MiB frame byte for byte with its peak RSS growing far less than the frame', async () => {
    const echo = await plainServer();
    const cli = startCli(['relay', '--port', '0', '--core', core, '--framing', 'length:4', '--max-frame', '16m', '--upstream', `127.0.0.1:${echo.port}`]);
    await until(() => /listening on [^ ]*:\d+/.test(cli.out()), 20_000, 'the relay listening');
    const port = Number(/listening on [^ ]*:(\d+)/.exec(cli.out())![1]);
    const status = () => readFileSync(`/proc/${cli.child.pid}/status`, 'utf8');
    const kib = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(status())![1]) * 1024;
    // A first small frame, so what Node sets up for a connection is in the baseline.
    const warm = await connect(port);
    const warmBack = collect(warm);
    warm.end(lengthFrame(Buffer.from('warm')));
    await warmBack.done;
    const before = kib('VmRSS');
    const frame = lengthFrame(randomBytes(16 * MiB));
    const client = await connect(port);
    const got = collect(client);
    client.end(frame);
    expect((await got.done).equals(frame)).toBe(true);
    // Without cut-through it grew by five times the frame (the rings grew to hold it); the
    // few MiB it grows by now are the JS heap's young generation, which load can double.
    const grew = kib('VmHWM') - before;
    expect(grew, `peak RSS grew by ${grew} bytes`).toBeLessThan(frame.length / 2);
    cli.child.kill('SIGTERM');
    await echo.stop();
  });
});
