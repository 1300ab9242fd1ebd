// State that lives on one thread, asked for from any: router.ask() across worker
// threads on real sockets (127.0.0.1) and both cores, through the built package.
// Round trips to the owner of a key from both workers and from the main thread,
// an owner whose thread is terminated (ERR_OWNER_GONE, not a hang), the timeout
// at its limit, onAsk failures, the single-thread case (no mailbox), and the
// README's kv-store on `ringwire serve --workers 2` (the CLI in a child process).
import { afterEach, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { createServer, type RingwireError } from 'ringwire';
import { closeOpened, open, opened, start } from './actors-harness.ts';
import { LineClient } from './line-client.ts';
import { until } from './net-helpers.ts';
import type { Switchboard } from '../src/net/switchboard.ts'; // internal: the mailbox counters
// @ts-expect-error: a plain JavaScript fixture without types
import * as actors from './fixtures/actors-handler.mjs';

afterEach(closeOpened);

/** One client on each of the 2 workers, as [on thread index 0, on thread index 1]. */
async function onEach(port: number): Promise<Awaited<ReturnType<typeof open>>> {
  const byIndex = new Map<number, Awaited<ReturnType<typeof open>>[number]>();
  for (let round = 0; round < 40 && byIndex.size < 2; round++) {
    for (const c of await open(port, 2)) {
      const here = Number(/here (\d+)/.exec(await c.client.ask('owner x'))![1]);
      if (!byIndex.has(here)) byIndex.set(here, c);
    }
  }
  if (byIndex.size < 2) throw new Error('the kernel never gave both workers a connection');
  return [byIndex.get(0)!, byIndex.get(1)!];
}

/** A key owned by thread `index` of `threads`, as the client's router says. */
async function keyOwnedBy(c: LineClient, index: number): Promise<string> {
  for (let k = 0; k < 100; k++) {
    if ((await c.ask(`owner key${k}`)).startsWith(`owner ${index} of`)) return `key${k}`;
  }
  throw new Error(`no key of thread ${index}`);
}

describe.each(['wasm', 'js'] as const)('router.ask across worker threads, core=%s', core => {
  it('asks from each worker reach the owner of the key, on the same thread or the other; the main thread asks too', async () => {
    const { server, port } = await start(core);
    const [zero, one] = await onEach(port);
    const k0 = await keyOwnedBy(zero!.client, 0);
    const k1 = await keyOwnedBy(zero!.client, 1);
    // Every thread (and the main thread) agrees on the owner.
    expect(await one!.client.ask(`owner ${k0}`)).toBe('owner 0 of 2 here 1');
    expect(server.owner(k0)).toBe(0);
    expect(server.owner(k1)).toBe(1);
    expect(await zero!.client.ask(`ask ${k1} 5000 echo hi`)).toBe('ask hi from 0 at 1'); // across
    expect(await zero!.client.ask(`ask ${k0} 5000 echo hi`)).toBe('ask hi from 0 at 0'); // its own: a direct call
    expect(await one!.client.ask(`ask #0 5000 echo there`)).toBe('ask there from 1 at 0'); // by thread index
    expect(Buffer.from(await server.ask(k1, Buffer.from('echo main'))).toString()).toBe('main from -1 at 1');
    // A counter on its owner: 200 increments from both workers and the main thread, each counted once.
    const counts = await Promise.all([
      ...Array.from({ length: 50 }, () => zero!.client.ask(`ask ${k1} 5000 count c`)),
      ...Array.from({ length: 50 }, () => one!.client.ask(`ask ${k1} 5000 count c`)),
      ...Array.from({ length: 100 }, () => server.ask(k1, Buffer.from('count c')).then(b => `ask ${Buffer.from(b).toString()}`)),
    ]);
    expect(counts.map(c => Number(c.slice(4))).sort((a, b) => a - b)).toEqual(Array.from({ length: 200 }, (_, i) => i + 1));
    expect(await one!.client.ask(`ask #1 5000 echo self`)).toBe('ask self from 1 at 1');
  });

  it('a throwing onAsk is the asker\'s ERR_ASK_FAILED; a thread index out of range is a RangeError', async () => {
    const { server, port } = await start(core);
    const [zero] = await onEach(port);
    expect(await zero!.client.ask('ask #1 5000 throw broken')).toBe('ask ERR_ASK_FAILED onAsk failed: broken');
    expect(await zero!.client.ask('ask #0 5000 throw local')).toBe('ask ERR_ASK_FAILED onAsk failed: local');
    await expect(server.ask(2, Buffer.from('echo x'))).rejects.toThrow(/no thread 2: threads are 0 to 1/);
  });

  it('the timeout at its limit: an answer after 300 ms fails a 200 ms ask with ERR_ASK_TIMEOUT, and reaches a 1000 ms ask', async () => {
    const { server, port } = await start(core);
    const [zero] = await onEach(port);
    let t = performance.now();
    expect(await zero!.client.ask('ask #1 200 sleep 300')).toBe('ask ERR_ASK_TIMEOUT no answer from thread 1 within 200 ms: raise { timeout }, or look at what keeps that thread busy');
    expect(performance.now() - t).toBeGreaterThanOrEqual(195);
    expect(await zero!.client.ask('ask #1 1000 sleep 300')).toBe('ask slept 300 at 1');
    t = performance.now();
    const err = await server.ask(0, Buffer.from('sleep 300'), { timeout: 200 }).catch((e: RingwireError) => e);
    expect((err as RingwireError).code).toBe('ERR_ASK_TIMEOUT');
    expect(performance.now() - t).toBeGreaterThanOrEqual(195);
    expect(Buffer.from(await server.ask(0, Buffer.from('sleep 300'), { timeout: 1000 })).toString()).toBe('slept 300 at 0');
    // The late answers were dropped where they arrived (the asker no longer waited), once each.
    await until(() => server.switchboard.parent!.counters().dropped === 1, 2000, 'the late answer to the main thread');
  });

  it('an owner whose thread is terminated: its askers get ERR_OWNER_GONE at once, not at their timeout', async () => {
    const { server, port } = await start(core, { stallTimeout: 100, stallRestart: 300, restartDelay: { min: 2000, max: 2000 } });
    const exits: number[] = [];
    server.on('workerExit', (_err, info) => exits.push(info.worker));
    const [zero] = await onEach(port);
    const t = performance.now();
    const fromWorker = zero!.client.ask('ask #1 20000 block 20000'); // thread 1 blocks in onAsk: the watchdog terminates it
    await sleep(100); // it blocks now (terminated after 300 ms of it): this ask waits in its mailbox
    const fromMain = server.ask(1, Buffer.from('echo never'), { timeout: 20_000 }).catch((e: RingwireError) => e);
    expect(await fromWorker).toMatch(/^ask ERR_OWNER_GONE thread 1, the owner, is not serving/);
    expect(((await fromMain) as RingwireError).code).toBe('ERR_OWNER_GONE');
    expect(performance.now() - t).toBeLessThan(10_000);
    expect(exits).toEqual([1]);
    // While it restarts, an ask to it fails at once.
    expect(await zero!.client.ask('ask #1 20000 echo x')).toMatch(/^ask ERR_OWNER_GONE/);
  }, 30_000);
});

describe.each(['wasm', 'js'] as const)('router.ask in a single-thread server, core=%s', core => {
  it('the owner of every key is this thread: onAsk is called directly, no mailbox record', async () => {
    const server = createServer({ framing: 'line', core, onFrame: actors.onFrame, onAsk: actors.onAsk });
    opened.servers.push(server);
    const { port } = await server.listen(0);
    const [c] = await open(port, 1);
    expect(await c!.client.ask('owner anything')).toBe('owner 0 of 1 here 0');
    expect(await c!.client.ask('ask k 5000 echo one')).toBe('ask one from 0 at 0');
    expect(await c!.client.ask(`ask k 5000 count z-${core}`)).toBe('ask 1');
    expect(await c!.client.ask('ask k 200 sleep 300')).toMatch(/^ask ERR_ASK_TIMEOUT onAsk on this thread did not settle within 200 ms/);
    expect(Buffer.from(await server.router.ask('k', Buffer.from(`count z-${core}`))).toString()).toBe('2');
    const board = (server.router as unknown as { board: Switchboard }).board; // internal: its one mailbox
    const counters = board.counters()[0]!;
    expect(counters.delivered + counters.waiting).toBe(0);
  });
});

describe('examples/kv-store.mjs on `ringwire serve --workers 2` (the CLI)', () => {
  let child: ChildProcess | undefined;
  afterEach(() => { child?.kill('SIGKILL'); });

  it('after SET b 2 on one connection, 50 fresh connections all read 2', async () => {
    child = spawn(process.execPath, ['dist/cli.js', 'serve', '--port', '0', '--workers', '2', '--framing', 'line', '--handler', 'examples/kv-store.mjs'], { stdio: ['ignore', 'pipe', 'pipe'] });
    const [line] = await once(child.stdout!.setEncoding('utf8'), 'data') as [string];
    const port = Number(/:(\d+) /.exec(line)![1]);
    const first = await LineClient.open(port);
    opened.sockets.push(first.socket);
    expect(await first.ask('SET b 2', '')).toBe('OK');
    const answers = await Promise.all(Array.from({ length: 50 }, async () => {
      const c = await LineClient.open(port);
      opened.sockets.push(c.socket);
      return c.ask('GET b', '');
    }));
    expect(answers).toEqual(Array.from({ length: 50 }, () => '2'));
    expect(await first.ask('GET nothing', '')).toBe('(nil)');
  }, 30_000);
});
