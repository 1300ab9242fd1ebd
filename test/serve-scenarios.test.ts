// "Done when" scenarios of issues 19 and 21 as a user runs them: `ringwire serve` in
// a child process, real sockets on 127.0.0.1, both cores. Each pins what the
// in-process suites cannot see on their own: that the process carries on (an async
// onForward that rejects once crashed the whole relay), the memory it printed at
// start while a reading client is served beside never-reading ones, and a worker
// server's exit once onStop has run with work still in flight at SIGTERM.
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { killStarted, startCli, type CliProcess } from './cli-process.ts';
import { CORES } from './harness.ts';
import { LineClient } from './line-client.ts';
import { connect, plainServer, sleep, until } from './net-helpers.ts';

afterEach(killStarted);

/** `ringwire serve` with these options, once it has printed its listening line. */
async function serve(args: string[]): Promise<CliProcess & { port: number; exit: Promise<number | null> }> {
  const cli = startCli(['serve', '--port', '0', '--framing', 'line', ...args]);
  const exit = once(cli.child, 'exit').then(([code]) => code as number | null);
  await until(() => /listening on 127\.0\.0\.1:\d+/.test(cli.out()), 15_000, 'the listening line');
  return { ...cli, port: Number(/listening on 127\.0\.0\.1:(\d+)/.exec(cli.out())![1]), exit };
}

describe.each(CORES)('ringwire serve --upstream with an async onForward core=%s', core => {
  it('one that rejects closes only its client and that client\'s upstream (ERR_HANDLER); one that resolves false drops the frame; the process and the other client carry on', async () => {
    let seen = '';
    const upstream = await plainServer(s => { s.on('data', d => (seen += String(d))); s.pipe(s); });
    const relay = await serve(['--core', core, '--upstream', `127.0.0.1:${upstream.port}`, '--handler', 'test/fixtures/forward-handler.mjs']);
    const other = await LineClient.open(relay.port);
    expect(await other.ask('o1')).toBe('o1');
    const client = await LineClient.open(relay.port);
    client.write('c1');
    client.write('drop me');
    client.write('c2');
    await client.until(() => client.lines.length === 2, 5000, 'the frames around the dropped one');
    expect(client.lines).toEqual(['c1', 'c2']);
    expect(upstream.sockets.size).toBe(2);
    client.write('reject me');
    client.write('never');
    await until(() => client.closed, 5000, 'the client whose onForward rejected to be closed');
    await until(() => upstream.sockets.size === 1, 5000, 'its upstream connection to be closed');
    expect(await other.ask('o2')).toBe('o2'); // the same connection, through its own upstream
    expect(client.lines).toEqual(['c1', 'c2']);
    expect(seen).toBe('o1\nc1\nc2\no2\n'); // nothing dropped or after the rejection left the relay
    expect(relay.err().match(/ERR_HANDLER: the handler failed: rejected on purpose/g)).toHaveLength(1);
    other.socket.end();
    relay.child.kill('SIGTERM');
    expect(await relay.exit).toBe(0);
    await upstream.stop();
  });
});

/** The process's resident memory at its peak (VmHWM), in MiB. */
const peakRss = (pid: number) => Number(/^VmHWM:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024;
const written = (pid: number) => Number(/wchar: (\d+)/.exec(readFileSync(`/proc/${pid}/io`, 'utf8'))![1]);

/**
 * Wait until the never-readers' kernel buffers are full: over 300 ms the server
 * wrote nothing but the answers to two pings. The pings prove its event loop ran in
 * that time: on a loaded machine a server that is not scheduled writes nothing either,
 * and its never-readers, still filling, are not stalled yet (the documented first
 * moments of a flood, when a reader crossing the budget is still the one closed).
 */
async function untilFloodSettles(pid: number, port: number): Promise<void> {
  const ping = await LineClient.open(port);
  const end = Date.now() + 30_000;
  for (;;) {
    const before = written(pid);
    await ping.ask('ping');
    await sleep(300);
    await ping.ask('ping');
    if (written(pid) - before === 2 * 'ping\n'.length) break;
    if (Date.now() > end) throw new Error('the server kept writing to clients that do not read for 30 s');
  }
  ping.socket.destroy();
}

describe.each(CORES)('ringwire serve with 64 never-reading clients holding the queue budget core=%s', core => {
  it('a client that reads gets every one of its 20 replies of 1 MiB, and the peak RSS stays under the memory printed at start', async () => {
    // 16 MiB of budget for 128 slots: the 64 clients ask for 64 MiB each.
    const server = await serve(['--core', core, '--handler', 'test/fixtures/scenario-handler.mjs', '--max-connections', '128', '--max-reply', '1m', '--max-queued-total', '16m']);
    const bound = Number(/memory=([\d.]+) MiB at most/.exec(server.out())![1]);
    const idle = Array.from({ length: 64 }, () => {
      const s = net.connect({ port: server.port, host: '127.0.0.1' });
      s.on('error', () => {});
      s.pause();
      s.write('mib a\n'.repeat(64));
      return s;
    });
    await untilFloodSettles(server.child.pid!, server.port);
    const reader = await connect(server.port);
    let closed = false;
    reader.once('close', () => (closed = true));
    let buffered = Buffer.alloc(0);
    reader.on('data', (d: Buffer) => (buffered = Buffer.concat([buffered, d])));
    const whole = (1 << 20) + 1;
    let served = 0;
    for (let i = 0; i < 20 && !closed; i++) {
      const letter = 'bc'[i % 2]!; // not the never-readers' a: a stale or misplaced reply shows
      reader.write(`mib ${letter}\n`);
      await until(() => buffered.length >= whole || closed, 15_000, `reply ${i}`);
      if (buffered.length < whole) break;
      if (buffered.subarray(0, whole).equals(Buffer.from(`${letter.repeat(1 << 20)}\n`))) served++;
      buffered = buffered.subarray(whole);
    }
    const peak = peakRss(server.child.pid!);
    expect({ served, closed }).toEqual({ served: 20, closed: false });
    expect(peak).toBeLessThanOrEqual(bound);
    expect(server.err()).toMatch(/ERR_SLOW_CONSUMER/); // the holders were closed, not the reader
    reader.destroy();
    for (const s of idle) s.destroy();
  }, 60_000);
});

describe.each(CORES)('ringwire serve --workers 2 with onStart, onStop and --handler-options core=%s', core => {
  it('every thread sees the options; SIGTERM with work in flight answers it all, then exits 0 in under 1 s once onStop closed the channels', async () => {
    const server = await serve(['--core', core, '--workers', '2', '--handler', 'test/fixtures/scenario-handler.mjs', '--handler-options', '{"tag":"x"}']);
    const clients = await Promise.all(Array.from({ length: 10 }, () => LineClient.open(server.port)));
    const seen = await Promise.all(clients.map(c => c.ask('whoami', '')));
    expect([...new Set(seen)].sort()).toEqual(['0/2 x', '1/2 x']);
    const fins = clients.map(c => new Promise<number>(resolve => c.socket.once('end', () => resolve(Date.now()))));
    for (const c of clients) c.write('slow 300');
    await sleep(50);
    server.child.kill('SIGTERM');
    const lastFin = Math.max(...await Promise.all(fins));
    const code = await server.exit;
    expect(Date.now() - lastFin).toBeLessThan(1000); // no fixed wait, no worker kept alive by its channel
    expect(code).toBe(0);
    for (const c of clients) expect(c.lines.at(-1)).toBe('done');
  });
});
