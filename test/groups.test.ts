// Groups across worker threads, on real sockets (127.0.0.1) and both cores,
// through the built package: join, leave and leaving on close; publish from a
// handler on each worker and from the main thread reaches every subscriber once,
// in order per publisher (one mailbox message per worker, not per subscriber);
// a subscriber that never reads is closed with ERR_SLOW_CONSUMER at its bound
// while the others receive everything.
import { afterEach, describe, expect, it } from 'vitest';
import net from 'node:net';
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import type { RingwireError, ConnectionInfo } from 'ringwire';
import { LineClient } from './line-client.ts';
import { closeOpened, open, opened, start } from './actors-harness.ts';
import { until } from './net-helpers.ts';

afterEach(closeOpened);

/** Messages "<tag> <k> …" received, by tag, in arrival order. */
function byPublisher(lines: string[]): Map<string, number[]> {
  const m = new Map<string, number[]>();
  for (const line of lines) {
    const [tag, k] = line.split(' ');
    if (!m.has(tag!)) m.set(tag!, []);
    m.get(tag!)!.push(Number(k));
  }
  return m;
}

const upTo = (n: number) => Array.from({ length: n }, (_, k) => k);

describe.each(['wasm', 'js'] as const)('groups across worker threads, core=%s', core => {
  it('hundreds of subscribers on 2 workers, publishers on each and the main thread: every message once, in order per publisher', async () => {
    const { server, port } = await start(core);
    const subs = await open(port, 400);
    const threads = new Set(subs.map(s => s.thread));
    expect(threads.size).toBe(2);
    for (const t of threads) expect(subs.filter(s => s.thread === t).length).toBeGreaterThan(100);
    expect(new Set(await Promise.all(subs.map(s => s.client.ask('join room'))))).toEqual(new Set(['joined room']));
    // One publisher (not a subscriber) on each worker.
    let pubs = await open(port, 2);
    while (pubs[0]!.thread === pubs[1]!.thread) pubs = [pubs[0]!, ...(await open(port, 1))];
    const n = 100;
    const done = pubs.map((p, i) => p.client.ask(`pub room ${n} P${i} 40`));
    for (let k = 0; k < 20; k++) {
      while (server.publish('room', Buffer.from(`M ${k}`)) === 'full') await sleep(1);
    }
    for (const d of await Promise.all(done)) expect(d).toMatch(/^pub done full=\d+$/);
    const total = 2 * n + 20;
    await Promise.all(subs.map(s => s.client.until(() => s.client.with('P').length + s.client.with('M').length >= total, 15_000)));
    await sleep(100); // and nothing more: no duplicates
    for (const s of subs) {
      const got = byPublisher([...s.client.with('P'), ...s.client.with('M')]);
      expect(got.get('P0')).toEqual(upTo(n));
      expect(got.get('P1')).toEqual(upTo(n));
      expect(got.get('M')).toEqual(upTo(20));
    }
    // Publishers got none (they did not join). Each message counted once in each worker's mailbox, not per subscriber:
    for (const p of pubs) expect(p.client.with('P')).toEqual([]);
    const delivered = server.switchboard.counters().reduce((a, m) => a + m.delivered, 0);
    expect(delivered).toBe((2 * n + 20) * 2); // each message once in each worker's mailbox (a batch record counts its messages)
  });

  it('a publish goes only to the workers with subscribers of its topic (and to none once they left)', async () => {
    const { server, port } = await start(core);
    let members = await open(port, 2);
    while (members[0]!.thread === members[1]!.thread) members = [members[0]!, ...(await open(port, 1))];
    const [here, there] = members;
    expect(await here!.client.ask('join only-here')).toBe('joined only-here');
    const place = (thread: string) => server.stats().workers.findIndex(w => String(w.threadId) === thread);
    const before = server.switchboard.counters().map(m => m.delivered);
    for (let k = 0; k < 10; k++) expect(server.publish('only-here', Buffer.from(`H ${k}`))).toBe('sent');
    await here!.client.until(() => here!.client.with('H').length === 10);
    const records = server.switchboard.counters().map((m, i) => m.delivered - before[i]!);
    expect(records[place(here!.thread)]).toBe(10);
    expect(records[place(there!.thread)]).toBe(0); // no subscriber there: no record
    expect(there!.client.with('H')).toEqual([]);
    expect(await here!.client.ask('leave only-here', 'left')).toBe('left only-here');
    const after = server.switchboard.counters().map(m => m.delivered);
    expect(server.publish('only-here', Buffer.from('H 10'))).toBe('sent');
    await sleep(100);
    expect(server.switchboard.counters().map(m => m.delivered)).toEqual(after);
  });

  it('leave stops the messages; a closed subscriber leaves every topic', async () => {
    const { port } = await start(core, { workers: 1 });
    const [a, b, c] = await open(port, 3);
    for (const s of [a!, b!]) {
      expect(await s.client.ask('join t1')).toBe('joined t1');
      expect(await s.client.ask('join t2')).toBe('joined t2');
    }
    expect(await c!.client.ask('subs t1')).toBe('subs 2 local=2');
    expect(await a!.client.ask('leave t1', 'left')).toBe('left t1');
    expect(await c!.client.ask('pub t1 1 X 0')).toBe('pub done full=0');
    await b!.client.next('X 0');
    expect(await a!.client.ask('pub t2 1 Y 0')).toBe('pub done full=0');
    await a!.client.next('Y 0');
    expect(a!.client.with('X')).toEqual([]);
    b!.client.socket.destroy();
    await sleep(100);
    expect(await c!.client.ask('subs t1')).toBe('subs 0 local=0');
    expect(await c!.client.ask('subs t2')).toBe('subs 1 local=1');
  });

  it('a subscriber that never reads is closed with ERR_SLOW_CONSUMER at its bound; the others get every message', async () => {
    const { server, port } = await start(core, { maxFrame: 4096, txRing: 16384, maxQueued: 1 << 20 });
    const errors: [RingwireError, ConnectionInfo][] = [];
    server.on('clientError', (err, c) => errors.push([err, c]));
    const subs = await open(port, 8);
    // The slow one: joins, then stops reading (its kernel buffers fill, then its tx ring, then its queue).
    const slow = net.connect({ port, host: '127.0.0.1' });
    opened.sockets.push(slow);
    await once(slow, 'connect');
    const slowClient = new LineClient(slow);
    const slowId = (await slowClient.ask('id')).slice(3);
    expect(await slowClient.ask('join room')).toBe('joined room');
    slow.pause();
    await Promise.all(subs.map(s => s.client.ask('join room')));
    const [pub] = await open(port, 1);
    // 8 MB to every subscriber: more than the kernel buffers a peer that does not read
    // (up to 4 MiB of send buffer here), its tx ring and its queue. Published in rounds of
    // 500 KB, each once every reader has the last: a reader lags by one round at most,
    // within its bound however loaded the machine (published in one burst, readers on a
    // machine at a load average of 10 lagged past 8 MiB), while the one that never reads
    // keeps falling behind.
    const rounds = 16;
    const n = 500;
    const size = 1000;
    for (let r = 0; r < rounds; r++) {
      expect(await pub!.client.ask(`pub room ${n} Q${r} ${size}`, 'pub done')).toMatch(/^pub done/);
      await Promise.all(subs.map(s => s.client.until(() => s.client.with(`Q${r} `).length >= n, 20_000)));
    }
    for (const s of subs) {
      for (let r = 0; r < rounds; r++) {
        const got = s.client.with(`Q${r} `);
        expect(got.map(l => Number(l.split(' ')[1]))).toEqual(upTo(n));
        expect(got.every(l => l.length === size)).toBe(true);
      }
    }
    await until(() => errors.length > 0, 5000, 'the slow subscriber to be closed');
    const slowErrors = errors.filter(([, c]) => c.id === slowId).map(([e]) => e.code);
    expect(slowErrors).toEqual(['ERR_SLOW_CONSUMER']);
    expect(errors[0]![0].message).toMatch(/more than maxQueued/); // its queue hit the bound (not the write timeout)
    expect(errors.filter(([, c]) => c.id !== slowId)).toEqual([]);
  });
});
