// Past one machine: ringwire hosts carry publish() to each other through a real
// redis-server (Debian's package, started here on 127.0.0.1 and stopped by PID;
// missing, the tests fail loudly). Two `ringwire serve --cluster` processes (one
// per core, 2 workers each) run examples/chat: every member on either host gets
// every message once, in order per sender, and a host whose last member left
// unsubscribes. In-process servers: binary payloads, a host's own publish is not
// delivered twice, the policy while Redis is down (delivered here, dropped for
// the others, counted) and the subscriptions coming back with Redis; `ringwire serve
// --cluster` logging a Redis frozen with SIGSTOP, and its return.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import net from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createClient } from '@redis/client';
import { createServer, type RingwireError, type RingwireServer } from 'ringwire';
import { loadRedisClient } from '../src/net/cluster.ts';
import { LineClient } from './line-client.ts';
import { until } from './net-helpers.ts';
import { startRedis, type RedisServer } from './redis-server.ts';

let redis: RedisServer;
let probe: ReturnType<typeof createClient>;
beforeAll(async () => {
  redis = await startRedis();
  probe = createClient({ url: redis.url });
  probe.on('error', () => {});
  await probe.connect();
});
afterAll(async () => {
  probe?.destroy();
  await redis?.stop();
});

const children = new Set<ChildProcess>();
const clients: LineClient[] = [];
const servers: RingwireServer[] = [];
const sockets: net.Socket[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) c.socket.destroy();
  for (const s of sockets.splice(0)) s.destroy();
  for (const child of children) child.kill('SIGKILL'); // only the servers this file started
  await Promise.all(servers.splice(0).map(s => s.close()));
});

/** Hosts subscribed to a topic, as Redis counts them. */
async function hosts(topic: string): Promise<number> {
  const r = await probe.pubSubNumSub(`ringwire:${topic}`);
  return Number(Object.values(r)[0] ?? 0);
}

async function serveChat(core: 'wasm' | 'js'): Promise<{ child: ChildProcess; port: number }> {
  const args = ['dist/cli.js', 'serve', '--port', '0', '--workers', '2', '--core', core, '--framing', 'line', '--handler', 'examples/chat/handler.mjs', '--cluster', redis.url];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'ignore'] });
  children.add(child);
  child.once('exit', () => children.delete(child));
  const [line] = await once(child.stdout!.setEncoding('utf8'), 'data') as [string];
  expect(line).toMatch(/^ringwire listening on 127\.0\.0\.1:\d+ .* cluster=redis:\/\/127\.0\.0\.1:\d+ workers=2/);
  return { child, port: Number(/:(\d+) /.exec(line)![1]) };
}

describe('cluster: two ringwire processes through a real redis-server', () => {
  it('examples/chat across hosts (wasm and js cores): every message to every member once, in order per sender; leaving unsubscribes', async () => {
    const hostA = await serveChat('wasm');
    const hostB = await serveChat('js');
    const per = 6;
    const a = await Promise.all(Array.from({ length: per }, () => LineClient.open(hostA.port)));
    const b = await Promise.all(Array.from({ length: per }, () => LineClient.open(hostB.port)));
    const members = [...a, ...b];
    clients.push(...members);
    const names = [...a.map((_, i) => `a${i}`), ...b.map((_, i) => `b${i}`)];
    await Promise.all(members.map(c => c.next('welcome')));
    members.forEach((c, i) => c.write(`NICK ${names[i]}`));
    await Promise.all(members.map(c => c.next('you are')));
    for (const c of members) {
      c.write('JOIN lobby');
      await c.next('* '); // its own announcement: it is in the room on its host
    }
    await until(async () => (await hosts('lobby')) === 2, 5000, 'both hosts subscribed to the lobby');
    const n = 20;
    for (const [i, c] of members.entries()) for (let k = 0; k < n; k++) c.write(`hello ${k} from ${names[i]}`);
    const total = members.length * n;
    await Promise.all(members.map(c => c.until(() => c.with('lobby ').length >= total, 15_000)));
    await new Promise(resolve => setTimeout(resolve, 200)); // anything delivered twice would arrive by now
    for (const c of members) {
      const got = c.with('lobby ');
      expect(got.length).toBe(total);
      for (const name of names) {
        expect(got.filter(l => l.startsWith(`lobby ${name}: `))).toEqual(Array.from({ length: n }, (_, k) => `lobby ${name}: hello ${k} from ${name}`));
      }
    }
    // Everyone on host B leaves: host A hears each of them go, and host B unsubscribes.
    for (const c of b) c.socket.end();
    await Promise.all(a.map(async c => {
      for (let i = 0; i < per; i++) await c.next(`* b${i} left lobby`);
    }));
    await until(async () => (await hosts('lobby')) === 1, 5000, 'host B unsubscribed');
    a[0]!.write('still here');
    await Promise.all(a.map(c => c.next('lobby a0: still here')));
    for (const { child } of [hostA, hostB]) {
      child.kill('SIGTERM');
      expect((await once(child, 'exit'))[0]).toBe(0);
    }
  });
});

describe('cluster: the command line', () => {
  it('ringwire serve --cluster logs a Redis that stops answering without closing (SIGSTOP), and logs it back (once: nothing logged)', async () => {
    const frozen = await startRedis();
    try {
      const child = spawn(process.execPath, ['dist/cli.js', 'serve', '--port', '0', '--cluster', frozen.url], { stdio: ['ignore', 'pipe', 'pipe'] });
      children.add(child);
      child.once('exit', () => children.delete(child));
      let log = '';
      child.stdout!.setEncoding('utf8').on('data', (d: string) => (log += d));
      child.stderr!.setEncoding('utf8').on('data', (d: string) => (log += d));
      await until(() => /^ringwire listening on /m.test(log), 20_000, 'the listening line');
      process.kill(frozen.pid, 'SIGSTOP');
      // The defaults: a PING every 1 s, down when one is not answered within 2 s.
      const lost = `ringwire: cluster: lost Redis (Redis at ${frozen.url} did not answer a PING within 2000 ms): reconnecting; publishes reach this host only until then\n`;
      await until(() => log.includes(lost), 15_000, `the line: ${lost}`);
      process.kill(frozen.pid, 'SIGCONT');
      await until(() => log.includes('ringwire: cluster: Redis is back\n'), 15_000, 'Redis logged back');
      child.kill('SIGTERM');
      expect((await once(child, 'exit'))[0]).toBe(0);
    } finally {
      process.kill(frozen.pid, 'SIGCONT');
      await frozen.stop();
    }
  });
});

/** A single-thread host: line framing, "join T" subscribes, "pub T text" publishes. */
async function host(core: 'wasm' | 'js'): Promise<{ server: RingwireServer; port: number }> {
  const server = createServer({
    core, framing: 'line', cluster: redis.url,
    onFrame(frame, c) {
      const [word, topic = ''] = Buffer.from(frame).toString().split(' ');
      if (word === 'join') {
        c.router.join(c, topic);
        c.send(Buffer.from(`joined ${topic}`));
      }
    },
  });
  servers.push(server);
  const { port } = await server.listen(0);
  return { server, port };
}

/** A raw subscriber: every byte it receives. */
async function subscriber(port: number, topic: string): Promise<{ bytes: () => Buffer }> {
  const socket = net.connect({ port, host: '127.0.0.1' });
  sockets.push(socket);
  const chunks: Buffer[] = [];
  socket.on('data', (d: Buffer) => chunks.push(d));
  await once(socket, 'connect');
  socket.write(`join ${topic}\n`);
  const joined = Buffer.from(`joined ${topic}\n`);
  await until(() => Buffer.concat(chunks).length >= joined.length, 5000, 'joined');
  expect(Buffer.concat(chunks)).toEqual(joined);
  chunks.length = 0;
  return { bytes: () => Buffer.concat(chunks) };
}

describe('cluster: in-process hosts', () => {
  it('binary payloads reach the other host once; the publisher\'s host delivers its own once; Redis down: here only, counted; back: subscribed again', async () => {
    const [A, B] = [await host('wasm'), await host('js')];
    const [subA, subB] = [await subscriber(A.port, 'news'), await subscriber(B.port, 'news')];
    await until(async () => (await hosts('news')) === 2, 5000, 'both hosts subscribed');
    const payload = Buffer.from([0x00, 0xff, 0x80, 0x0d, 0x7f, 0xc3, 0x28, 0x01]);
    expect(A.server.router.publish('news', payload)).toBe('sent');
    const line = Buffer.concat([payload, Buffer.from('\n')]);
    await until(() => subB.bytes().length >= line.length, 5000, 'B received');
    await until(() => A.server.stats().cluster!.own === 1, 5000, 'A saw its own come back');
    expect(subA.bytes()).toEqual(line);
    expect(subB.bytes()).toEqual(line);
    expect(A.server.stats().cluster).toMatchObject({ connected: true, topics: 1, published: 1, own: 1, received: 0, droppedDown: 0 });
    expect(B.server.stats().cluster).toMatchObject({ connected: true, topics: 1, published: 0, own: 0, received: 1 });

    // Redis goes away: a publish still reaches this host's subscribers, not the other host's, and is counted.
    const downA = once(A.server.cluster!, 'down');
    await redis.stop();
    await downA;
    expect(A.server.router.publish('news', Buffer.from('while down'))).toBe('sent');
    await until(() => subA.bytes().length > line.length, 5000, 'A delivered locally');
    expect(subA.bytes().subarray(line.length).toString()).toBe('while down\n');
    await until(() => A.server.stats().cluster!.droppedDown === 1, 5000, 'counted as dropped for the other hosts');
    expect(A.server.metrics()).toMatch(/^ringwire_cluster_dropped_total\{reason="down"\} 1$/m);
    expect(A.server.metrics()).toMatch(/^ringwire_cluster_connected 0$/m);

    // Redis is back (same port): both hosts reconnect and subscribe again; publishes cross again.
    const ups = [once(A.server.cluster!, 'up'), once(B.server.cluster!, 'up')];
    redis = await startRedis(redis.port);
    await Promise.all(ups);
    probe.destroy();
    probe = createClient({ url: redis.url });
    probe.on('error', () => {});
    await probe.connect();
    await until(async () => (await hosts('news')) === 2, 5000, 'subscribed again');
    expect(A.server.router.publish('news', Buffer.from('back'))).toBe('sent');
    await until(() => subB.bytes().length > line.length, 5000, 'B received after the restart');
    expect(subB.bytes().subarray(line.length).toString()).toBe('back\n');
    expect(B.server.stats().cluster!.received).toBe(2);
  });

  it('a Redis that stops answering without closing (SIGSTOP) is down after an unanswered PING, counted, publishes dropped and counted; answering again, up', async () => {
    const frozen = await startRedis();
    try {
      const server = createServer({ framing: 'line', cluster: { url: frozen.url, pingInterval: 100, pingTimeout: 300 }, onFrame() {} });
      servers.push(server);
      await server.listen(0);
      const cluster = server.cluster!;
      const down = once(cluster, 'down');
      process.kill(frozen.pid, 'SIGSTOP');
      const [err] = await down as [Error];
      expect(err.message).toBe(`Redis at ${frozen.url} did not answer a PING within 300 ms`);
      expect(server.stats().cluster).toMatchObject({ connected: false, droppedDown: 0 });
      expect(server.stats().cluster!.errors).toBeGreaterThanOrEqual(1);
      expect(server.metrics()).toMatch(/^ringwire_cluster_connected 0$/m);
      server.router.publish('news', Buffer.from('while frozen'));
      await until(() => server.stats().cluster!.droppedDown === 1, 5000, 'the publish dropped for the other hosts, counted');
      const up = once(cluster, 'up');
      process.kill(frozen.pid, 'SIGCONT');
      await up;
      expect(server.stats().cluster!.connected).toBe(true);
    } finally {
      process.kill(frozen.pid, 'SIGCONT');
      await frozen.stop();
    }
  });

  it('refuses cluster options out of range', () => {
    expect(() => createServer({ cluster: { url: redis.url, pingTimeout: 5 } })).toThrow(expect.objectContaining({ code: 'ERR_BAD_CONFIG', message: 'cluster.pingTimeout must be a number of ms from 10 to 2073600000 (576h), got 5 ms' }));
    expect(() => createServer({ cluster: { url: redis.url, pingIntervall: 100 } as never })).toThrow(expect.objectContaining({ message: 'unknown option cluster.pingIntervall: did you mean cluster.pingInterval?' }));
  });

  it('a bad URL, an unreachable Redis and a missing client library are ERR_BAD_CONFIG with a clear message', async () => {
    expect(() => createServer({ cluster: 'http://127.0.0.1:6379' })).toThrow(expect.objectContaining({ code: 'ERR_BAD_CONFIG' }));
    expect(() => createServer({ cluster: 'not a url' })).toThrow(/redis:\/\/127\.0\.0\.1:6379/);
    const closed = await new Promise<number>(resolve => {
      const s = net.createServer().listen(0, '127.0.0.1', () => {
        const { port } = s.address() as net.AddressInfo;
        s.close(() => resolve(port)); // a port nothing listens on now
      });
    });
    const server = createServer({ cluster: `redis://127.0.0.1:${closed}` });
    servers.push(server);
    const err = await server.listen(0).catch((e: RingwireError) => e);
    expect(err).toMatchObject({ code: 'ERR_BAD_CONFIG', message: expect.stringMatching(/cannot reach the cluster's Redis at redis:\/\/127\.0\.0\.1:\d+/) });
    await expect(loadRedisClient('@redis/not-installed')).rejects.toMatchObject({ code: 'ERR_BAD_CONFIG', message: expect.stringMatching(/npm install @redis\/not-installed/) });
  });
});
