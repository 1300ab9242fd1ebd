// `ringwire bench --suite websocket`, its broadcast: one publisher to S WebSocket
// subscribers (default 1,000), M binary messages of B bytes (default 2,000 of 64 B).
// Contenders, each its own process on 127.0.0.1, rounds alternating (A B C A B C):
//   ringwire-1-worker, ringwire-2-workers  `ringwire serve --framing websocket` with
//       fanout-handler.ts (the routing suite's: SUB joins a topic, a publisher's
//       messages go to publish(), framed once per worker by the core's fan-out);
//   ws  ws's WebSocketServer sending each message to each other client of
//       wss.clients (plain-websocket.ts broadcast): the baseline.
// Every client upgrades (websocket-wire.ts checks the 101), sends its role in a
// masked frame and waits for "OK"; then the publisher sends the messages, masked,
// each with its own key. A subscriber's bytes must be exactly the messages'
// unmasked server frames, in order: checked by length and CRC-32 of the whole
// stream. Figures: deliveries (messages x subscribers) per second from the first
// message sent until every subscriber has every byte, and the server's CPU per
// delivery over the same interval (/proc: all its threads).

import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import net from 'node:net';
import os from 'node:os';
import { crc32 } from 'node:zlib';
import { entry } from './contenders.ts';
import { cpuSince, cpuTime } from './process-meter.ts';
import { fanoutLine } from './routing-bench.ts';
import { listeningServer } from './runner.ts';
import { ratio, spread, type Spread } from './summary.ts';
import { clientFrame, serverFrame, upgrade } from './websocket-wire.ts';

export interface BroadcastOptions {
  rounds: number;
  subscribers: number;
  /** Bytes per message (its payload). */
  messageBytes: number;
  messages: number;
  onProgress?: (what: string) => void;
}

export const BROADCAST_CONTENDERS = ['ringwire-1-worker', 'ringwire-2-workers', 'ws'] as const;
export type BroadcastContender = (typeof BROADCAST_CONTENDERS)[number];

export interface BroadcastRow {
  contender: BroadcastContender;
  /** Deliveries (messages x subscribers) per second. */
  deliveriesPerSecond: Spread;
  /** The server's CPU (user + system, all threads) per delivery, ns. */
  cpuPerDelivery: Spread;
  /** Medians against ws's in the same run. */
  vsWs: number;
  cpuVsWs: number;
}

export interface BroadcastResult {
  settings: Omit<BroadcastOptions, 'onProgress'>;
  /** os.loadavg() (1, 5, 15 min) before and after: the machine is shared. */
  load: { before: number[]; after: number[] };
  rows: BroadcastRow[];
  /** Runs that did not verify or did not finish (their figures are left out). */
  failures: string[];
}

/** A run may take this long, plus 1 s per 20,000 deliveries. */
const RUN_TIMEOUT = 30_000;
const DELIVERIES_PER_TIMEOUT_SECOND = 20_000;
const OK = serverFrame(Buffer.from('OK'));

function startServer(contender: BroadcastContender, subscribers: number): Promise<{ child: ChildProcess; port: number }> {
  const args = contender === 'ws'
    ? [entry('plain-websocket'), 'broadcast', '0']
    : [
      entry('cli'), 'serve', '--host', '127.0.0.1', '--port', '0', '--framing', 'websocket', '--handler', entry('fanout-handler'),
      '--workers', contender === 'ringwire-1-worker' ? '1' : '2', '--max-connections', String(subscribers + 64),
    ];
  return listeningServer(contender, args);
}

/** A client: connected, upgraded, its role sent and "OK" received; then every byte after the OK goes to onData. */
async function join(port: number, role: 'SUB' | 'PUB', onData?: (d: Buffer) => void): Promise<net.Socket> {
  const s = net.connect({ port, host: '127.0.0.1', noDelay: true });
  await once(s, 'connect');
  let got = await upgrade(s, '127.0.0.1', port);
  s.write(clientFrame(Buffer.from(role), randomBytes(4)));
  const closed = once(s, 'close').then(() => { throw new Error(`the server closed a connection that sent ${role}`); });
  while (got.length < OK.length) got = Buffer.concat([got, (await Promise.race([once(s, 'data'), closed]))[0] as Buffer]);
  closed.catch(() => {}); // from now on a close is the run's to judge (a subscriber short of bytes)
  if (!got.subarray(0, OK.length).equals(OK)) throw new Error(`the server answered ${role} with ${got.subarray(0, OK.length).toString('hex')}, not an OK message`);
  if (onData) {
    s.on('data', onData);
    if (got.length > OK.length) onData(got.subarray(OK.length));
  }
  return s;
}

/**
 * One broadcast run against a server on 127.0.0.1:port: deliveries per second and
 * the server's CPU per delivery; throws when a subscriber misses a byte or gets a wrong one.
 */
export async function driveBroadcast(label: string, port: number, pid: number, subscribers: number, messages: Buffer[]): Promise<{ rate: number; cpu: number }> {
  const stream = Buffer.concat(messages.map(serverFrame));
  const expected = { bytes: stream.length, crc: crc32(stream) };
  const sockets: net.Socket[] = [];
  try {
    let complete = 0;
    let bad = 0;
    let allDone!: () => void;
    const finished = new Promise<void>(resolve => (allDone = resolve));
    for (let i = 0; i < subscribers; i += 100) {
      sockets.push(...await Promise.all(Array.from({ length: Math.min(100, subscribers - i) }, () => {
        let got = 0;
        let crc = 0;
        return join(port, 'SUB', d => {
          got += d.length;
          crc = crc32(d, crc);
          if (got >= expected.bytes && got - d.length < expected.bytes) {
            if (got !== expected.bytes || crc !== expected.crc) bad++;
            if (++complete === subscribers) allDone();
          }
        });
      })));
    }
    const pub = await join(port, 'PUB');
    sockets.push(pub);
    // Masked before the clock starts: the publisher's cost is not the server's.
    const frames = messages.map(m => clientFrame(m, randomBytes(4)));
    const cpu0 = cpuTime(pid);
    const t0 = performance.now();
    for (const f of frames) if (!pub.write(f)) await once(pub, 'drain');
    const limit = RUN_TIMEOUT + (1000 * subscribers * messages.length) / DELIVERIES_PER_TIMEOUT_SECOND;
    const timeout = setTimeout(allDone, limit);
    await finished;
    clearTimeout(timeout);
    const seconds = (performance.now() - t0) / 1000;
    const cpu = cpuSince(cpu0, cpuTime(pid));
    if (complete < subscribers) throw new Error(`${label}: ${subscribers - complete} of ${subscribers} subscribers did not get every message within ${Math.round(limit / 1000)} s`);
    if (bad > 0) throw new Error(`${label}: ${bad} of ${subscribers} subscribers received bytes other than the messages published`);
    const deliveries = subscribers * messages.length;
    return { rate: deliveries / seconds, cpu: ((cpu.user + cpu.system) / deliveries) * 1e9 };
  } finally {
    for (const s of sockets) s.destroy();
  }
}

async function broadcast(contender: BroadcastContender, subscribers: number, messages: Buffer[]): Promise<{ rate: number; cpu: number }> {
  const { child, port } = await startServer(contender, subscribers);
  try {
    return await driveBroadcast(contender, port, child.pid!, subscribers, messages);
  } finally {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = once(child, 'exit');
      process.kill(child.pid!, 'SIGKILL');
      await exited;
    }
  }
}

export async function runBroadcastBench(o: BroadcastOptions): Promise<BroadcastResult> {
  const before = os.loadavg();
  const failures: string[] = [];
  const messages = Array.from({ length: o.messages }, (_, k) => fanoutLine(k, o.messageBytes));
  const got = new Map<BroadcastContender, { rate: number; cpu: number }[]>(BROADCAST_CONTENDERS.map(c => [c, []]));
  for (let round = 0; round < o.rounds; round++) {
    for (const c of BROADCAST_CONTENDERS) {
      o.onProgress?.(`websocket: broadcast round ${round + 1}/${o.rounds}: ${c}, ${o.subscribers} subscribers, ${o.messageBytes} B`);
      try {
        got.get(c)!.push(await broadcast(c, o.subscribers, messages));
      } catch (err) {
        failures.push((err as Error).message);
      }
    }
  }
  const ofWs = got.get('ws')!;
  const wsRate = spread(ofWs.map(r => r.rate)).median;
  const wsCpu = spread(ofWs.map(r => r.cpu)).median;
  const rows = BROADCAST_CONTENDERS.filter(c => got.get(c)!.length > 0).map((c): BroadcastRow => {
    const rate = spread(got.get(c)!.map(r => r.rate));
    const cpu = spread(got.get(c)!.map(r => r.cpu));
    return { contender: c, deliveriesPerSecond: rate, cpuPerDelivery: cpu, vsWs: ratio(rate.median, wsRate), cpuVsWs: ratio(cpu.median, wsCpu) };
  });
  const { onProgress, ...settings } = o;
  return { settings, load: { before, after: os.loadavg() }, rows, failures };
}
