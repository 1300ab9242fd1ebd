// Connections as actors across worker threads, on real sockets (127.0.0.1) and
// both cores, through the built package: sendTo from a handler on one worker to
// connections on the other (exactly once, in order per sender), from the main
// thread, ids of closed connections and of threads that are gone, a message
// whose connection closed in flight (dropped and counted, never given to the
// client that took its slot), a full mailbox, and a worker terminated by the
// watchdog while it publishes (the other worker's mailbox goes on delivering).
import { afterEach, describe, expect, it } from 'vitest';
import { setTimeout as sleep } from 'node:timers/promises';
import { createServer, type WorkerExitInfo } from 'ringwire';
import { KIND_SEND } from '../src/net/switchboard.ts'; // internal: a record kind, not in the package's API
import { closeOpened, open, opened, start } from './actors-harness.ts';
import { until } from './net-helpers.ts';
// @ts-expect-error: a plain JavaScript fixture without types
import * as actors from './fixtures/actors-handler.mjs';

afterEach(closeOpened);

/** Clients until both threads have at least `each` of them; returns them split by thread. */
async function onBoth(port: number, each: number): Promise<[Awaited<ReturnType<typeof open>>, Awaited<ReturnType<typeof open>>]> {
  const all: Awaited<ReturnType<typeof open>> = [];
  for (let round = 0; round < 20; round++) {
    all.push(...await open(port, each));
    const threads = [...new Set(all.map(c => c.thread))];
    const a = all.filter(c => c.thread === threads[0]);
    const b = all.filter(c => c.thread === threads[1]);
    if (a.length >= each && b.length >= each) return [a.slice(0, each), b.slice(0, each)];
  }
  throw new Error('the kernel never gave both workers enough connections');
}

describe.each(['wasm', 'js'] as const)('actors across worker threads, core=%s', core => {
  it('every connection sends to every connection on the other worker: each frame arrives exactly once, in order per sender', async () => {
    const { server, port } = await start(core, { mailbox: 1 << 23 });
    const [a, b] = await onBoth(port, 12);
    const n = 100;
    const everyone = [...a, ...b];
    const replies = await Promise.all(everyone.map(async (from, i) => {
      const others = a.includes(from) ? b : a;
      const results: string[] = [];
      for (const to of others) results.push(await from.client.ask(`send ${to.id} ${n} m${i}`));
      return results;
    }));
    for (const r of replies.flat()) expect(r).toBe(`send sent=${n} full=0 closed=0`);
    // Each receives n frames from each of the 12 senders on the other worker.
    await Promise.all(everyone.map(c => c.client.until(() => c.client.with('m').length >= 12 * n, 15_000)));
    await sleep(100); // nothing more arrives: no duplicates
    for (const c of everyone) {
      const got = c.client.with('m');
      expect(got.length).toBe(12 * n);
      const bySender = new Map<string, number[]>();
      for (const line of got) {
        const [tag, k] = line.split(' ');
        if (!bySender.has(tag!)) bySender.set(tag!, []);
        bySender.get(tag!)!.push(Number(k));
      }
      const senders = (a.includes(c) ? b : a).map(s => `m${everyone.indexOf(s)}`);
      expect([...bySender.keys()].sort()).toEqual(senders.sort());
      for (const ks of bySender.values()) expect(ks).toEqual(Array.from({ length: n }, (_, k) => k));
    }
    // Every frame crossed through a mailbox, none was dropped.
    const counters = server.switchboard.counters();
    expect(counters.reduce((s, m) => s + m.delivered, 0)).toBe(2 * 12 * 12 * n);
    expect(counters.reduce((s, m) => s + m.dropped + m.full, 0)).toBe(0);
  });

  it('sends from the main thread, and to a connection of the same worker (through its own mailbox, in order)', async () => {
    const { server, port } = await start(core);
    const [a, b] = await onBoth(port, 2);
    for (let k = 0; k < 50; k++) expect(server.sendTo(b[0]!.id, Buffer.from(`main ${k}`))).toBe('sent');
    expect(await a[0]!.client.ask(`send ${a[1]!.id} 50 local`)).toBe('send sent=50 full=0 closed=0');
    await b[0]!.client.until(() => b[0]!.client.with('main').length === 50);
    await a[1]!.client.until(() => a[1]!.client.with('local').length === 50);
    expect(b[0]!.client.with('main')).toEqual(Array.from({ length: 50 }, (_, k) => `main ${k}`));
    expect(a[1]!.client.with('local')).toEqual(Array.from({ length: 50 }, (_, k) => `local ${k}`));
  });

  it("says 'closed' for a connection that closed, a thread that is gone, and a malformed id", async () => {
    const { server, port } = await start(core);
    const [a, b] = await onBoth(port, 2);
    const gone = b[1]!;
    gone.client.socket.end();
    await gone.client.until(() => gone.client.closed);
    await sleep(50); // the owner has seen the close
    expect(await a[0]!.client.ask(`to ${gone.id} hello`)).toBe('to closed');
    expect(await b[0]!.client.ask(`to ${gone.id} hello`)).toBe('to closed'); // its own thread too
    expect(server.sendTo(gone.id, Buffer.from('hello'))).toBe('closed');
    const [tid, serial, slot] = b[0]!.id.split('-');
    expect(await a[0]!.client.ask(`to 999999-${serial}-${slot} x`)).toBe('to closed'); // no such thread
    expect(await a[0]!.client.ask(`to ${tid}-${Number(serial) + 1000}-${slot} x`)).toBe('to closed'); // a serial never given
    expect(await a[0]!.client.ask('to nonsense x')).toBe('to closed');
    expect(await a[0]!.client.ask(`to ${b[0]!.id} still-here`)).toBe('to sent');
    await b[0]!.client.next('still-here');
    const stats = JSON.parse((await a[0]!.client.ask('stats')).slice(6));
    expect(stats.closed).toBe(4);
  });

  it('drops and counts a message whose connection closed in flight, never giving it to the client that took its slot', async () => {
    const { server, port } = await start(core, { workers: 1 });
    const [old] = await open(port, 1);
    const [tid, serial, slot] = old!.id.split('-').map(Number) as [number, number, number];
    old!.client.socket.end();
    await old!.client.until(() => old!.client.closed);
    await sleep(50);
    const [next] = await open(port, 1);
    expect(next!.id.split('-')[2]).toBe(String(slot)); // the core gave the new connection the same slot
    // A sender checked the old id just before it closed, and its message arrives now:
    // post it as that sender did, past the liveness check.
    const mailbox = server.switchboard.mailboxes[0]!;
    expect(mailbox.post(KIND_SEND, tid, slot, serial, Buffer.from('for-the-old-one'))).toBe(true);
    expect(server.sendTo(next!.id, Buffer.from('for-the-new-one'))).toBe('sent');
    await next!.client.next('for-the-new-one');
    expect(next!.client.with('for-the-old-one')).toEqual([]);
    expect(server.switchboard.counters()[0]!.dropped).toBe(1);
  });

  it("a full mailbox is a result: 'full' while the owner is busy, every frame sent before it delivered in order", async () => {
    const { server, port } = await start(core, { mailbox: 4096 });
    const [, b] = await onBoth(port, 1);
    const target = b[0]!;
    expect(await target.client.ask('busy 400')).toBe('busy'); // its worker's event loop blocks now
    let sent = 0;
    let result;
    const payload = Buffer.alloc(500, 'p');
    while ((result = server.sendTo(target.id, Buffer.concat([Buffer.from(`f ${sent} `), payload]))) === 'sent') sent++;
    expect(result).toBe('full');
    expect(sent).toBeGreaterThan(0);
    expect(sent).toBeLessThanOrEqual(8); // 4 KiB holds a handful of 500-byte records
    await target.client.until(() => target.client.with('f ').length === sent);
    expect(target.client.with('f ').map(l => Number(l.split(' ')[1]))).toEqual(Array.from({ length: sent }, (_, k) => k));
    expect(server.sendTo(target.id, Buffer.from('f after'))).toBe('sent'); // room again once it has taken them
    await target.client.next('f after');
    expect(server.switchboard.counters().reduce((s, m) => s + m.full, 0)).toBe(1);
  });
});

describe.each(['wasm', 'js'] as const)('a worker terminated while it publishes, core=%s', core => {
  it('4 times: the watchdog terminates a worker publishing in a loop; the other worker\'s mailbox then delivers all of 50 new frames', async () => {
    const { server, port } = await start(core, { mailbox: 1 << 20, stallTimeout: 100, stallRestart: 300, restartDelay: { min: 50, max: 50 } });
    const exits: WorkerExitInfo[] = [];
    const messages: string[] = [];
    server.on('workerExit', (err, info) => { exits.push(info); messages.push(err.message); });
    let starts = 0;
    server.on('workerStart', () => starts++);
    for (let round = 0; round < 4; round++) {
      await until(() => starts === round, 10_000, 'the terminated worker\'s replacement'); // both workers serve
      const [[target], [flooder]] = await onBoth(port, 1);
      // A subscriber on the target's worker that never reads (closed at its bound): the publishes go into that worker's mailbox.
      const sink = (await onBoth(port, 1)).flat().find(c => c.thread === target!.thread)!;
      expect(await sink.client.ask('join flood')).toBe('joined flood');
      sink.client.socket.pause();
      // The flooder subscribes too: each publish reserves room in both mailboxes, its own (never emptied
      // while it floods: soon full) among them, so it is often holding a reservation it gives up again.
      expect(await flooder!.client.ask('join flood')).toBe('joined flood');
      expect(await flooder!.client.ask('flood flood')).toBe('flooding');
      await until(() => exits.length > round, 10_000, 'the watchdog to terminate the flooding worker');
      // Its exit was reported to both mailboxes (it posted to both): neither keeps it as a writer. This holds on every
      // kill, wherever it landed; the 50 frames below show a wedge only when a kill lands inside a post (by chance).
      const dead = exits[round]!.threadId;
      expect(server.switchboard.counters().map(m => m.writers.filter(tid => tid === dead))).toEqual([[], []]);
      for (let k = 0; k < 50; k++) {
        let r;
        while ((r = server.sendTo(target!.id, Buffer.from(`M ${round} ${k}`))) === 'full') await sleep(5);
        expect(r).toBe('sent');
      }
      await target!.client.until(() => target!.client.with(`M ${round} `).length === 50, 10_000, `the 50 frames of round ${round}`);
      expect(target!.client.with(`M ${round} `)).toEqual(Array.from({ length: 50 }, (_, k) => `M ${round} ${k}`));
    }
    const left = exits.reduce((n, e) => n + e.postsInterrupted, 0);
    const repaired = server.switchboard.counters().reduce((n, m) => n + m.repaired, 0);
    // V8 stops a terminated thread at a call or a loop's back edge: about one kill in six lands inside a post
    // here (test/mailbox.test.ts makes it likelier); what it left is what the readers repaired.
    console.log(`worker terminated while publishing: in the middle of ${left} post(s) in 4 kills, ${repaired} repaired`);
    expect(repaired).toBeLessThanOrEqual(left);
    if (left > 0) expect(messages.some(m => m.includes('mailbox post(s): what it left unpublished is skipped by their readers'))).toBe(true);
  }, 60_000);
});

describe.each(['wasm', 'js'] as const)('sendTo in a single-thread server, core=%s', core => {
  it('delivers to a connection of the same thread, and says closed after it closes', async () => {
    const server = createServer({
      framing: 'line', core,
      onFrame(frame, c) {
        const [cmd, id, text] = Buffer.from(frame).toString().split(' ');
        if (cmd === 'id') c.send(Buffer.from(`id ${c.id}`));
        else if (cmd === 'to') c.send(Buffer.from(`to ${c.router.sendTo(id!, Buffer.from(text!))}`));
      },
    });
    opened.servers.push(server);
    const { port } = await server.listen(0);
    const [x, y] = await open(port, 2);
    expect(await x!.client.ask(`to ${y!.id} hi`)).toBe('to sent');
    await y!.client.next('hi');
    expect(server.router.sendTo(x!.id, Buffer.from('from-outside'))).toBe('sent');
    await x!.client.next('from-outside');
    y!.client.socket.end();
    await y!.client.until(() => y!.client.closed);
    await sleep(50);
    expect(await x!.client.ask(`to ${y!.id} hi`)).toBe('to closed');
  });

  it('publishes to the subscribers of its own thread (the main thread: threadId 0)', async () => {
    const server = createServer({ framing: 'line', core, onFrame: actors.onFrame });
    opened.servers.push(server);
    const { port } = await server.listen(0);
    const [x, y, z] = await open(port, 3);
    expect(x!.id.split('-')[0]).toBe('0');
    for (const s of [x!, y!]) expect(await s.client.ask('join room', 'joined')).toBe('joined room');
    expect(await z!.client.ask('pub room 3 S 0', 'pub done')).toBe('pub done full=0');
    expect(server.router.publish('room', Buffer.from('S 3'))).toBe('sent');
    for (const s of [x!, y!]) {
      await s.client.until(() => s.client.with('S ').length === 4);
      expect(s.client.with('S ')).toEqual(['S 0 ', 'S 1 ', 'S 2 ', 'S 3']);
    }
    expect(z!.client.with('S ')).toEqual([]);
  });
});
