// Publishing that waits, and subscribers counted across threads, on real sockets
// (127.0.0.1), 2 worker threads and both cores, through the built package:
// publishAsync and sendToAsync under a full mailbox (no 'full', everything
// delivered in order), their timeout (ERR_MAILBOX_TIMEOUT, and what timed out
// never arrives), and subscribers(topic) of a room spread over both workers.
import { afterEach, describe, expect, it } from 'vitest';
import { setTimeout as sleep } from 'node:timers/promises';
import type { RingwireError } from 'ringwire';
import { closeOpened, open, start } from './actors-harness.ts';

afterEach(closeOpened);

type Client = Awaited<ReturnType<typeof open>>[number];

/** Clients until both threads have one: [a, b] on different workers. */
async function onBoth(port: number): Promise<[Client, Client]> {
  const all: Client[] = [];
  for (let round = 0; round < 40; round++) {
    all.push(...await open(port, 2));
    const other = all.find(c => c.thread !== all[0]!.thread);
    if (other) return [all[0]!, other];
  }
  throw new Error('the kernel never gave both workers a connection');
}

const upTo = (n: number) => Array.from({ length: n }, (_, k) => k);
const pad = Buffer.alloc(500, 'p').toString();

describe.each(['wasm', 'js'] as const)('publishAsync and sendToAsync, core=%s', core => {
  it('under a full mailbox: no \'full\', every message delivered once, in order, from the main thread and from a worker', async () => {
    const { server, port } = await start(core, { mailbox: 4096 });
    const [publisher, sub] = await onBoth(port);
    expect(await sub.client.ask('join room')).toBe('joined room');
    expect(await sub.client.ask('busy 400')).toBe('busy'); // its thread's event loop blocks: its mailbox (4 KiB) fills
    // 50 from the main thread at once: only a handful fit, the rest wait for room, in order.
    const results = await Promise.all(upTo(50).map(k => server.publishAsync('room', Buffer.from(`M ${k} ${pad}`))));
    expect(results).toEqual(upTo(50).map(() => 'sent'));
    // 50 from a handler on the other worker, all at once too.
    expect(await sub.client.ask('busy 300')).toBe('busy');
    expect(await publisher.client.ask('pubw room 50 W 500', 'pubw')).toBe('pubw sent=50');
    await sub.client.until(() => sub.client.with('M ').length === 50 && sub.client.with('W ').length === 50, 15_000);
    await sleep(100); // and nothing more
    expect(sub.client.with('M ').map(l => Number(l.split(' ')[1]))).toEqual(upTo(50));
    expect(sub.client.with('W ').map(l => Number(l.split(' ')[1]))).toEqual(upTo(50));
    expect(server.switchboard.counters().reduce((s, m) => s + m.full, 0)).toBeGreaterThan(0); // they did wait
  });

  it('sendToAsync waits for room the same way; a closed connection is \'closed\'', async () => {
    const { server, port } = await start(core, { mailbox: 4096 });
    const [sender, target] = await onBoth(port);
    expect(await target.client.ask('busy 400')).toBe('busy');
    const results = await Promise.all(upTo(40).map(k => server.sendToAsync(target.id, Buffer.from(`S ${k} ${pad}`))));
    expect(results).toEqual(upTo(40).map(() => 'sent'));
    expect(await target.client.ask('busy 300')).toBe('busy');
    expect(await sender.client.ask(`sendw ${target.id} 40 T`)).toBe('sendw sent');
    await target.client.until(() => target.client.with('S ').length === 40 && target.client.with('T ').length === 40, 15_000);
    expect(target.client.with('S ').map(l => Number(l.split(' ')[1]))).toEqual(upTo(40));
    expect(target.client.with('T ').map(l => Number(l.split(' ')[1]))).toEqual(upTo(40));
    target.client.socket.destroy();
    await sleep(100);
    expect(await server.sendToAsync(target.id, Buffer.from('gone'))).toBe('closed');
  });

  it('the timeout at its limit: what finds no room within it is rejected with ERR_MAILBOX_TIMEOUT and never arrives', async () => {
    const { server, port } = await start(core, { mailbox: 4096 });
    const [, sub] = await onBoth(port);
    expect(await sub.client.ask('join room')).toBe('joined room');
    expect(await sub.client.ask('busy 1000')).toBe('busy');
    await sleep(50);
    const t = performance.now();
    const results = await Promise.all(upTo(30).map(k => server.publishAsync('room', Buffer.from(`M ${k} ${pad}`), { timeout: 200 }).catch((e: RingwireError) => e.code)));
    expect(performance.now() - t).toBeGreaterThanOrEqual(195);
    const sent = results.filter(r => r === 'sent').length;
    expect(sent).toBeGreaterThan(0);
    expect(sent).toBeLessThanOrEqual(8); // 4 KiB holds a handful of 500-byte records
    expect(results).toEqual([...Array(sent).fill('sent'), ...Array(30 - sent).fill('ERR_MAILBOX_TIMEOUT')]);
    // Room again once it has taken them: the next one waits no more, and the timed-out ones never come.
    expect(await server.publishAsync('room', Buffer.from('M after'), { timeout: 5000 })).toBe('sent');
    await sub.client.next('M after', 10_000);
    expect(sub.client.with('M ').slice(0, -1).map(l => Number(l.split(' ')[1]))).toEqual(upTo(sent));
  });
});

describe.each(['wasm', 'js'] as const)('subscribers(topic) across worker threads, core=%s', core => {
  it('a room of 2 on two threads counts 2 on each thread and on the main thread; leaving and closing count down', async () => {
    const { server, port } = await start(core);
    const [a, b] = await onBoth(port);
    for (const s of [a, b]) expect(await s.client.ask('join room')).toBe('joined room');
    expect(await a.client.ask('subs room')).toBe('subs 2 local=1');
    expect(await b.client.ask('subs room')).toBe('subs 2 local=1');
    expect(server.subscribers('room')).toBe(2);
    expect(server.subscribers('other')).toBe(0);
    expect(await a.client.ask('join room')).toBe('joined room'); // already there: no change
    expect(server.subscribers('room')).toBe(2);
    expect(await a.client.ask('leave room', 'left')).toBe('left room');
    expect(await b.client.ask('subs room')).toBe('subs 1 local=1');
    b.client.socket.destroy();
    await sleep(100);
    expect(await a.client.ask('subs room')).toBe('subs 0 local=0');
    expect(server.subscribers('room')).toBe(0);
  });
});
