// Fan-out batches (src/net/fanout-batch.ts): publishes of one topic that a worker's
// mailbox hands on in a row go into every subscriber's tx ring in one core call
// (Core.fanout); a ring that takes only the first frames of a batch has the rest
// queued as one run (through send(), one by one, when a frame is over the batch's
// limit), under the slow-consumer rule. Over real sockets, 2 workers, both cores
// and both write paths: every subscriber gets every frame once, in order, when tx
// rings are much smaller than a batch, when frames over the limit come among small
// ones, when one subscriber stops reading in the middle of the bursts, and when the
// mailbox fills mid-burst.
import { afterEach, describe, expect, it } from 'vitest';
import { closeOpened, open, start } from './actors-harness.ts';

afterEach(closeOpened);

const upTo = (n: number) => Array.from({ length: n }, (_, k) => k);

/** The k of each "<tag> <k> …" line, in arrival order. */
const ks = (lines: string[]) => lines.map(l => Number(l.split(' ')[1]));

describe.each([
  ['wasm', 'direct'],
  ['js', 'stream'],
] as const)('fan-out batches, core=%s, writePath=%s', (core, writePath) => {
  it('tx rings far smaller than a batch: each ring takes what fits, the rest queues behind it, in order; a subscriber that pauses mid-burst gets everything once it reads', async () => {
    // A burst of 300 frames of 200 bytes is ~60 KB per subscriber per worker batch; the tx ring holds 4 KiB.
    const { port } = await start(core, { writePath, maxFrame: 1024, txRing: 4096, maxQueued: 1 << 20 });
    const subs = await open(port, 24);
    expect(new Set(subs.map(s => s.thread)).size).toBe(2);
    await Promise.all(subs.map(s => s.client.ask('join room')));
    const [pub] = await open(port, 1);
    const slow = subs[11]!;
    expect(await pub!.client.ask('pub room 300 A 200', 'pub done')).toMatch(/^pub done/);
    slow.client.socket.pause(); // in the middle of the bursts: what it does not read waits in its ring and queue
    expect(await pub!.client.ask('pub room 300 B 200', 'pub done')).toMatch(/^pub done/);
    const readers = subs.filter(s => s !== slow);
    await Promise.all(readers.map(s => s.client.until(() => s.client.with('B ').length >= 300, 20_000)));
    slow.client.socket.resume();
    await slow.client.until(() => slow.client.with('B ').length >= 300, 20_000);
    for (const s of subs) {
      expect(ks(s.client.with('A '))).toEqual(upTo(300));
      expect(ks(s.client.with('B '))).toEqual(upTo(300));
      expect(s.client.with('B ').every(l => l.length === 200)).toBe(true);
    }
  });

  it('frames over the batch limit among small ones (the limit: a quarter of a 4 KiB tx ring): every subscriber gets each once, in order, byte for byte', async () => {
    const { port } = await start(core, { writePath, maxFrame: 4000, txRing: 4096, maxQueued: 1 << 20 });
    const subs = await open(port, 8);
    await Promise.all(subs.map(s => s.client.ask('join room')));
    const [pub] = await open(port, 1);
    // One write: the three commands are read together, so their publishes share batches.
    pub!.client.socket.write('pub room 20 S 100\npub room 3 L 3000\npub room 20 T 100\n');
    await pub!.client.until(() => pub!.client.with('pub done').length === 3, 20_000);
    await Promise.all(subs.map(s => s.client.until(() => s.client.with('T ').length >= 20, 20_000)));
    const expected = [...upTo(20).map(k => `S ${k} `.padEnd(100, 'x')), ...upTo(3).map(k => `L ${k} `.padEnd(3000, 'x')), ...upTo(20).map(k => `T ${k} `.padEnd(100, 'x'))];
    for (const s of subs) expect(s.client.lines.filter(l => /^[SLT] /.test(l))).toEqual(expected);
  });

  it('a mailbox that fills mid-burst: the publisher waits on \'full\', and every subscriber still gets each frame once, in order', async () => {
    const { port } = await start(core, { writePath, mailbox: 4096 });
    const subs = await open(port, 16);
    await Promise.all(subs.map(s => s.client.ask('join room')));
    const [pub] = await open(port, 1);
    // 400 frames of 100 bytes: far more than a 4 KiB mailbox holds, so publish() says 'full' mid-burst.
    const done = await pub!.client.ask('pub room 400 F 100', 'pub done');
    expect(Number(/full=(\d+)/.exec(done)![1])).toBeGreaterThan(0);
    await Promise.all(subs.map(s => s.client.until(() => s.client.with('F ').length >= 400, 20_000)));
    for (const s of subs) expect(ks(s.client.with('F '))).toEqual(upTo(400));
  });
});
