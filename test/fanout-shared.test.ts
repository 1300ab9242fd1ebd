// A fan-out batch's one encoded copy written straight to its subscribers' sockets
// (fanout-batch.ts, Writer.putShared: the direct write path; socket.write's path
// copies into the tx rings, and runs the same tests). In-process servers on
// 127.0.0.1, both cores, both write paths, frames published from the test through
// a subscriber's router: every reader gets every frame once, in order, byte for
// byte, while one subscriber never reads (closed with ERR_SLOW_CONSUMER one byte
// past maxQueued, not at it), while one resets in the middle of the bursts, and
// while one pauses through many batches and garbage collections (the copies its
// pending writes read from stay alive and untouched).
import type net from 'node:net';
import { describe, expect, it } from 'vitest';
import type { Connection } from '../src/index.ts';
import { collect, connect, errorCodes, sleep, startServer, until, untilWritesStop } from './net-helpers.ts';
import { TURN_BYTES } from '../src/net/router.ts';

const WRITES = (['wasm', 'js'] as const).flatMap(core => (['direct', 'stream'] as const).map(writePath => ({ core, writePath })));

/** Frame k's payload: its number, then `size` bytes in all of a letter that changes with k (no newline: line framing). */
function payload(k: number, size: number): Buffer {
  const head = `${k} `;
  return Buffer.concat([Buffer.from(head), Buffer.alloc(Math.max(0, size - head.length), 97 + (k % 26))]);
}

/** A line server whose connections join "room" on their first frame and answer "in". */
async function roomServer(options: { core: 'wasm' | 'js'; writePath: 'direct' | 'stream'; maxQueued?: number }) {
  const subscribers: Connection[] = [];
  const { server, port } = await startServer({
    ...options, framing: 'line', maxFrame: 16384, txRing: 65536,
    onFrame(_frame, c) {
      c.router.join(c, 'room');
      subscribers.push(c);
      c.send(Buffer.from('in'));
    },
  });
  /** n subscribers, each past its "in\n" (their sockets, and what each received after it). */
  const join = async (n: number) => Promise.all(Array.from({ length: n }, async () => {
    const s = await connect(port);
    s.on('error', () => {});
    const got = collect(s);
    s.write('join\n');
    await until(() => got.received() >= 3, 10_000, 'the join');
    return { socket: s, got };
  }));
  return { server, subscribers, join };
}

/** Everything a subscriber received after its "in\n". */
const after = async (got: ReturnType<typeof collect>) => (await got.done).subarray(3);

describe.each(WRITES)('fan-out, the shared copy ($core core, $writePath writes)', ({ core, writePath }) => {
  it('a subscriber that never reads: at maxQueued it stays, one byte past it is closed with ERR_SLOW_CONSUMER; the readers get every frame once, in order, byte for byte', async () => {
    const maxQueued = 65536;
    const { server, subscribers, join } = await roomServer({ core, writePath, maxQueued });
    const codes = errorCodes(server);
    const [slowSide] = await join(1);
    slowSide!.socket.pause();
    const readers = await join(4);
    const slow = subscribers[0]!;
    const sent: Buffer[] = [];
    /** Publish one frame and wait until it is delivered: the readers have it. */
    const publish = async (size: number) => {
      const p = payload(sent.length, size);
      sent.push(p);
      expect(slow.router.publish('room', p)).toBe('sent');
      const total = sent.reduce((n, b) => n + b.length + 1, 0);
      await until(() => readers.every(r => r.got.received() >= 3 + total), 10_000, 'the readers to get the frame');
    };
    // Until the slow one's bytes wait on it (some counted as queued) and its kernel buffers take no more.
    while (slow.queuedBytes === 0) await publish(8000);
    await untilWritesStop(() => server.stats().total.bytesOut);
    // Up to maxQueued exactly, in frames within a batch's limit (16 KiB of records).
    while (maxQueued - slow.queuedBytes > 8000) await publish(8000);
    const before = slow.queuedBytes;
    await publish(maxQueued - before);
    expect(slow.queuedBytes).toBe(maxQueued);
    expect(codes).toEqual([]);
    await publish(1);
    await until(() => codes.length > 0, 10_000, 'the slow subscriber to be closed');
    expect(codes).toEqual(['ERR_SLOW_CONSUMER']);
    const expected = Buffer.concat(sent.flatMap(p => [p, Buffer.from('\n')]));
    for (const r of readers) r.socket.end();
    slowSide!.socket.destroy();
    for (const r of readers) expect((await after(r.got)).equals(expected)).toBe(true);
    await server.close();
  });

  it('a subscriber that resets in the middle of the bursts: the others get every frame once, in order, byte for byte', async () => {
    const { server, subscribers, join } = await roomServer({ core, writePath });
    const codes = errorCodes(server);
    const subs = await join(8);
    const resetting = subs[3]!;
    const sent: Buffer[] = [];
    const publisher = subscribers[0]!;
    for (let burst = 0; burst < 20; burst++) {
      for (let i = 0; i < 50; i++) {
        const p = payload(sent.length, 100 + ((burst * 50 + i) % 7) * 300);
        sent.push(p);
        expect(publisher.router.publish('room', p)).toBe('sent');
      }
      if (burst === 10) (resetting.socket as net.Socket).resetAndDestroy();
      await sleep(1);
    }
    const total = sent.reduce((n, b) => n + b.length + 1, 0);
    const readers = subs.filter(s => s !== resetting);
    await until(() => readers.every(r => r.got.received() >= 3 + total), 20_000, 'the readers to get every frame');
    await until(() => publisher.router.localSubscribers('room') === 7, 10_000, 'the reset subscriber to leave');
    expect(codes).toEqual(['ERR_SOCKET']); // its reset, reported once; no one else is closed
    const expected = Buffer.concat(sent.flatMap(p => [p, Buffer.from('\n')]));
    for (const r of readers) r.socket.end();
    for (const r of readers) expect((await after(r.got)).equals(expected)).toBe(true);
    await server.close();
  });

  it('a subscriber that pauses through many batches and garbage collections gets every byte as published once it reads', async () => {
    const { server, subscribers, join } = await roomServer({ core, writePath, maxQueued: 64 << 20 });
    const [paused, reader] = await join(2);
    paused!.socket.pause();
    const sent: Buffer[] = [];
    const publisher = subscribers[1]!;
    // 800 batches of about 12 KB, each of frames of its own (numbers and letters): ~9.6 MB, beyond
    // what the kernel buffers for a peer that does not read (up to 4 MiB here), so writes of many batches wait.
    for (let batch = 0; batch < 800; batch++) {
      for (let i = 0; i < 12; i++) {
        const p = payload(sent.length, 1000);
        sent.push(p);
        expect(publisher.router.publish('room', p)).toBe('sent');
      }
      await sleep(0);
      if (batch % 50 === 0) {
        // Garbage to collect: a copy no one but a pending write held would be freed and its memory reused.
        let keep = 0;
        for (let j = 0; j < 64; j++) keep += new Uint8Array(new ArrayBuffer(1 << 20)).fill(j)[7]!;
        expect(keep).toBeGreaterThan(0);
      }
    }
    const total = sent.reduce((n, b) => n + b.length + 1, 0);
    await until(() => reader!.got.received() >= 3 + total, 20_000, 'the reader to get every frame');
    expect(Math.max(...subscribers.map(c => c.queuedBytes))).toBeGreaterThan(0); // the paused one's writes wait
    paused!.socket.resume();
    await until(() => paused!.got.received() >= 3 + total, 20_000, 'the paused one to get every frame');
    const expected = Buffer.concat(sent.flatMap(p => [p, Buffer.from('\n')]));
    paused!.socket.end();
    reader!.socket.end();
    expect((await after(paused!.got)).equals(expected)).toBe(true);
    expect((await after(reader!.got)).equals(expected)).toBe(true);
    await server.close();
  });
});

// A burst to many subscribers is handed on a turn of the event loop at a time
// (router.ts, TURN_BYTES): the shared copy's views, which a subscriber with no
// write pending takes without limit, made one batch of everything the mailbox held.
describe.each([
  ['wasm', 'direct'],
  ['js', 'stream'],
] as const)('a burst to many subscribers (%s core, %s writes)', (core, writePath) => {
  it('is handed on over several turns of the event loop, at most TURN_BYTES and a publish record to each subscriber a turn; every subscriber gets every byte, in order', async () => {
    const S = 160;
    const frames = Array.from({ length: 900 }, (_, k) => payload(k, 999)); // 1,000 bytes a line
    const expected = Buffer.concat(frames.flatMap(p => [p, Buffer.from('\n')]));
    const subscribers: Connection[] = [];
    const { server, port } = await startServer({
      core, writePath, framing: 'line', maxFrame: 16384, maxQueued: 4 << 20,
      onFrame(_frame, c) {
        c.router.join(c, 'room');
        subscribers.push(c);
        c.send(Buffer.from('in'));
      },
    });
    // Each subscriber compares what it reads after its "in\n" with `expected` as it comes (160 × 0.9 MB kept would be a lot).
    const readers = await Promise.all(Array.from({ length: S }, async () => {
      const s = await connect(port);
      const r = { socket: s, got: -3, right: true };
      s.on('data', (d: Buffer) => {
        const at = Math.max(0, -r.got);
        if (at < d.length && expected.compare(d, at, d.length, Math.max(0, r.got), r.got + d.length) !== 0) r.right = false;
        r.got += d.length;
      });
      s.write('join\n');
      await until(() => r.got >= 0, 10_000, 'the join');
      return r;
    }));
    const handed: number[] = [];
    let sampling = true;
    const sample = () => {
      handed.push(server.stats().total.bytesOut);
      if (sampling) setImmediate(sample);
    };
    sample();
    for (const p of frames) expect(subscribers[0]!.router.publish('room', p)).toBe('sent');
    await until(() => readers.every(r => r.got >= expected.length), 20_000, 'every subscriber to get every frame');
    sampling = false;
    const turns = handed.slice(1).map((n, i) => n - handed[i]!).filter(n => n > 0);
    // 144 MB in all: more than one turn of at most 64 MiB, each past it by at most one 32 KiB record (mailbox.ts's
    // BATCH_BODY) to each subscriber, and what the stream path's rings (64 KiB) take from their queues meanwhile.
    expect(turns.length).toBeGreaterThanOrEqual(2);
    expect(Math.max(...turns)).toBeLessThanOrEqual(TURN_BYTES + S * (32 + 64) * 1024);
    for (const r of readers) expect([r.got, r.right]).toEqual([expected.length, true]);
    for (const r of readers) r.socket.destroy();
    await server.close();
  });
});
