// Worker threads on real sockets (127.0.0.1), through the built package as users
// import it ('ringwire', 'ringwire/worker'): one port served by several threads
// (reuseport and transfer), stats summed from shared memory, a crashed worker
// replaced while the others keep serving, draining close, the handler module in
// workers and in the main thread, and a server embedded in an application's own worker.
import { afterEach, describe, expect, it } from 'vitest';
import { once } from 'node:events';
import { spawn } from 'node:child_process';
import { Worker } from 'node:worker_threads';
import { attachWorker, canTransferSockets, createWorkerServer, type WorkerServer, type RingwireError, type WorkerExitInfo } from 'ringwire';
import { until } from './net-helpers.ts';
import { LineClient } from './line-client.ts';

const HANDLER = new URL('./fixtures/probe-handler.mjs', import.meta.url).pathname;
const servers: WorkerServer[] = [];
afterEach(async () => { await Promise.all(servers.splice(0).map(s => s.close())); });

async function start(options: Parameters<typeof createWorkerServer>[0]): Promise<{ server: WorkerServer; port: number }> {
  const server = createWorkerServer({ workers: 2, framing: 'line', handler: HANDLER, ...options });
  servers.push(server);
  const { port } = await server.listen(0, '127.0.0.1');
  return { server, port };
}

/** A server with one worker, whose worker has just crashed (asked to by a client). */
async function crashedAlone(options: Parameters<typeof createWorkerServer>[0]): Promise<{ server: WorkerServer; port: number }> {
  const started = await start({ workers: 1, ...options });
  const client = await LineClient.open(started.port);
  const exited = once(started.server, 'workerExit');
  client.socket.write('crash\n');
  await exited;
  return started;
}

/** Which thread serves each client, and the number of clients per thread. */
async function split(clients: LineClient[]): Promise<{ who: string[]; counts: Map<string, number> }> {
  const who = await Promise.all(clients.map(c => c.ask('whoami', '')));
  const counts = new Map<string, number>();
  for (const w of who) counts.set(w, (counts.get(w) ?? 0) + 1);
  return { who, counts };
}

/** Send n distinct lines on every client and check every reply is its own line back. */
async function echoAll(clients: LineClient[], n: number, tag: string): Promise<number> {
  let bytes = 0;
  await Promise.all(clients.map(async (c, i) => {
    const lines = Array.from({ length: n }, (_, k) => `${tag} client ${i} line ${k} ${'x'.repeat((i * 7 + k) % 50)}`);
    c.socket.write(lines.map(l => `${l}\n`).join(''));
    for (const l of lines) expect(await c.next()).toBe(l);
    bytes += lines.reduce((a, l) => a + l.length + 1, 0);
  }));
  return bytes;
}

describe('worker threads: reuseport', () => {
  it('serves one port from 2 threads: both take connections, every byte echoed, stats are the sums', async () => {
    const { server, port } = await start({ balance: 'reuseport' });
    const clients = await Promise.all(Array.from({ length: 40 }, () => LineClient.open(port)));
    const { counts } = await split(clients);
    console.log('reuseport split of 40 connections:', Object.fromEntries(counts));
    expect(counts.size).toBe(2); // the kernel gave both threads connections
    const sent = await echoAll(clients, 25, 'r');
    const s = server.stats();
    expect(s.workers.map(w => w.state)).toEqual(['running', 'running']);
    expect(s.workers.map(w => w.connections).sort()).toEqual([...counts.values()].sort());
    for (const key of ['connections', 'accepted', 'bytesIn', 'bytesOut', 'framesIn', 'framesOut', 'errors'] as const) {
      expect(s.total[key]).toBe(s.workers.reduce((a, w) => a + w[key], 0));
    }
    const whoamiBytes = 40 * 'whoami\n'.length;
    expect(s.total.connections).toBe(40);
    expect(s.total.framesIn).toBe(40 * 26);
    expect(s.total.bytesIn).toBe(sent + whoamiBytes); // exactly what the clients sent
    // The handler module's hooks run in every thread: per-connection data from onOpen,
    // and ids unique across both threads, each naming the thread that owns it.
    expect(await Promise.all(clients.map(c => c.ask('count', '')))).toEqual(clients.map(() => '26'));
    const ids = await Promise.all(clients.map(c => c.ask('id', '')));
    expect(new Set(ids).size).toBe(40);
    const who = await Promise.all(clients.map(c => c.ask('whoami', '')));
    ids.forEach((id, i) => expect(`thread ${id.split('-')[0]}`).toBe(who[i]));
    for (const c of clients) c.socket.destroy();
  });

  it('refuses hooks given as functions with ERR_BAD_CONFIG that points at handler:', () => {
    expect(() => createWorkerServer({ onFrame: () => {} } as never)).toThrow(expect.objectContaining({
      code: 'ERR_BAD_CONFIG',
      message: expect.stringMatching(/onFrame cannot cross into worker threads.*handler: '\.\/my-handler\.mjs'/),
    }));
  });

  it('replaces a worker that throws; the other worker\'s connections keep echoing', async () => {
    const { server, port } = await start({ balance: 'reuseport', restartDelay: { min: 50, max: 1000 } });
    const clients = await Promise.all(Array.from({ length: 24 }, () => LineClient.open(port)));
    const { who, counts } = await split(clients);
    expect(counts.size).toBe(2);
    const victim = who[0]!;
    const doomed = clients.filter((_, i) => who[i] === victim);
    const survivors = clients.filter((_, i) => who[i] !== victim);
    const exits: [RingwireError, WorkerExitInfo][] = [];
    server.on('workerExit', (err: RingwireError, info: WorkerExitInfo) => exits.push([err, info]));
    const restarted = once(server, 'workerStart');
    doomed[0]!.socket.write('crash\n');
    const [started] = await restarted as [{ worker: number; threadId: number }];
    expect(exits).toHaveLength(1);
    const [err, info] = exits[0]!;
    expect(err.code).toBe('ERR_WORKER_EXIT');
    expect(info.error?.message).toBe('crash requested by the test');
    expect(info.connections).toBe(doomed.length);
    expect(`thread ${info.threadId}`).toBe(victim);
    expect(started.worker).toBe(info.worker);
    expect(`thread ${started.threadId}`).not.toBe(victim);
    await until(() => doomed.every(c => c.closed), 5000, 'the dead worker\'s connections to close');
    await echoAll(survivors, 20, 'after'); // the others never noticed
    const s = server.stats();
    expect(s.workers[info.worker]).toMatchObject({ state: 'running', restarts: 1 });
    expect(s.total.errorsByCode.ERR_WORKER_EXIT).toBe(doomed.length);
    expect(s.total.connections).toBe(survivors.length);
    // Nothing counted before the crash is lost: every whoami and crash line is in.
    expect(s.total.framesIn).toBe(24 + 1 + survivors.length * 20);
    // New connections are served (by either thread, the new one included).
    const fresh = await Promise.all(Array.from({ length: 16 }, () => LineClient.open(port)));
    await echoAll(fresh, 5, 'fresh');
    for (const c of [...survivors, ...fresh]) c.socket.destroy();
  });

  it('close() drains every worker: replies already asked for are sent, then connections end', async () => {
    const { server, port } = await start({ balance: 'reuseport' });
    const clients = await Promise.all(Array.from({ length: 10 }, () => LineClient.open(port)));
    expect((await split(clients)).counts.size).toBe(2);
    const lines = clients.map((c, i) => { const l = `last words ${i}`; c.socket.write(`${l}\n`); return l; });
    await until(() => server.stats().total.framesIn === 20, 10_000, 'the last words to reach the workers');
    const ends = clients.map(c => once(c.socket, 'end'));
    await server.close();
    await Promise.all(ends);
    for (const [i, c] of clients.entries()) expect(await c.next()).toBe(lines[i]);
    expect(server.stats().workers.map(w => w.state)).toEqual(['closed', 'closed']);
    await expect(LineClient.open(port)).rejects.toThrow(/ECONNREFUSED/);
  });

  it('close() while a worker waits to be replaced resolves at once and starts no replacement', async () => {
    const { server } = await crashedAlone({ balance: 'reuseport', restartDelay: { min: 5000, max: 5000 } });
    const started = Date.now();
    await server.close();
    expect(Date.now() - started).toBeLessThan(2000);
    expect(server.stats().workers[0]).toMatchObject({ state: 'closed', restarts: 0 });
  });

  it('rejects listen() when the handler module cannot load, leaving no thread behind', async () => {
    const server = createWorkerServer({ workers: 2, framing: 'line', handler: '/nonexistent/handler.mjs' });
    await expect(server.listen(0)).rejects.toMatchObject({ code: 'ERR_BAD_CONFIG' });
    expect(server.stats().workers.map(w => w.state)).toEqual(['closed', 'closed']);
  });
});

describe('worker threads: transfer', () => {
  if (canTransferSockets()) {
    it('hands each connection to the least busy worker: an even split, every byte echoed', async () => {
      const { server, port } = await start({ balance: 'transfer' });
      const clients = await Promise.all(Array.from({ length: 30 }, () => LineClient.open(port)));
      const { counts } = await split(clients);
      console.log('transfer split of 30 connections:', Object.fromEntries(counts));
      expect([...counts.values()]).toEqual([15, 15]);
      await echoAll(clients, 20, 't');
      const s = server.stats();
      expect(s.total.framesIn).toBe(30 * 21);
      expect(s.workers.map(w => w.connections)).toEqual([15, 15]);
      for (const c of clients) c.socket.destroy();
    });

    it('holds new connections while every worker is restarting, then serves them', async () => {
      const { server, port } = await crashedAlone({ balance: 'transfer', restartDelay: { min: 300, max: 300 } });
      expect(server.stats().workers[0]!.state).toBe('restarting');
      const b = await LineClient.open(port); // accepted by this thread while no worker runs
      expect(await b.ask('still here', '')).toBe('still here');
      expect(server.stats().workers[0]).toMatchObject({ state: 'running', restarts: 1, connections: 1 });
      b.socket.destroy();
    });
  } else {
    it(`refuses transfer on Node ${process.versions.node} (needs >= 24.20) with ERR_BAD_CONFIG`, () => {
      expect(() => createWorkerServer({ workers: 2, balance: 'transfer' })).toThrow(/balance transfer needs Node >= 24\.20/);
    });
  }
});

describe('handlers and embedding', () => {
  it('runs the same handler module unchanged in the main thread with --workers 1', async () => {
    const child = spawn(process.execPath, ['dist/cli.js', 'serve', '--port', '0', '--framing', 'line', '--handler', HANDLER], { stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      let out = '';
      for await (const chunk of child.stdout!) {
        out += chunk;
        if (out.includes('\n')) break;
      }
      const port = Number(/127\.0\.0\.1:(\d+)/.exec(out)![1]);
      const c = await LineClient.open(port);
      expect(await c.ask('whoami', '')).toBe('thread 0'); // the main thread
      expect(await c.ask('same handler', '')).toBe('same handler');
      c.socket.destroy();
    } finally {
      child.kill('SIGTERM');
      await once(child, 'exit');
    }
  });

  it('embeds a server in an application\'s own worker: stats read from its memory, drained, the worker lives on', async () => {
    const worker = new Worker(new URL('../examples/net-worker.mjs', import.meta.url));
    try {
      const link = attachWorker(worker);
      const port = await link.ready;
      const c = await LineClient.open(port);
      expect(await c.ask('hello from main', '')).toBe('HELLO FROM MAIN');
      expect(link.stats()).toMatchObject({ connections: 1, framesIn: 1, framesOut: 1, bytesIn: 16 });
      c.socket.destroy();
      await link.close();
      worker.postMessage('ping');
      expect((await once(worker, 'message'))[0]).toBe('pong'); // the application's own work goes on
    } finally {
      await worker.terminate();
    }
  });
});
