// `ringwire bench --suite routing`: connections as actors, measured.
//
// 1. Fan-out over real sockets: 1 publisher, S subscribers (default 1,000 and
//    10,000), M messages of each size (default 64 B and 1 KiB, line framing):
//    deliveries per second until every subscriber has every byte, for `ringwire
//    serve` with 1, 2 and N workers (N: the machine's parallelism, when above 2;
//    fanout-handler.ts: publish() per frame, delivered by the core's fan-out)
//    against the reference, a plain Node server that batches by hand (one write
//    per subscriber per 'data' chunk), and the same server writing each message to
//    each subscriber socket (up to 1,000 subscribers: beyond, one run takes
//    minutes). Every subscriber's bytes are checked (length and CRC-32 of the
//    whole stream).
// 2. Cross-thread delivery of 64-byte messages from this thread to a worker
//    thread: ringwire's mailbox (what sendTo and publish post into, consumed as
//    Router.pump does: take, sleep, Atomics.waitAsync) against
//    MessagePort.postMessage and BroadcastChannel carrying the same bytes, each
//    message checked by the consumer (thread-consumer.ts). Throughput: the
//    producer sends N as fast as it can (a full mailbox: yield a turn, retry);
//    latency: ping-pong, one message in flight, one-way = round trip / 2.
// 3. Request/response across threads: router.ask's machinery (asks.ts over the
//    switchboard's mailboxes: the request into the owner's, the answer into the
//    asker's) against MessagePort.postMessage with a reply matched by id, the
//    usual way to ask a worker. 64-byte requests, echoed, every answer checked.
//    Rate: ASK_WINDOW requests in flight; round trip: one in flight.
//
// Rounds alternate contenders (A B C A B C …); figures are medians with min–max.
// Servers are processes of their own on 127.0.0.1, killed by PID when done.

import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import net from 'node:net';
import os from 'node:os';
import { setImmediate as turn } from 'node:timers/promises';
import { Worker } from 'node:worker_threads';
import { crc32 } from 'node:zlib';
import { Mailbox } from '../net/mailbox.ts'; // the mailbox itself is measured: an internal, not in the package's API
import { Asks } from '../net/asks.ts'; // router.ask's machinery, measured without sockets
import { PARENT, Switchboard } from '../net/switchboard.ts';
import { listeningServer } from './runner.ts';
import { spread, type Spread } from './summary.ts';
import { entry } from './contenders.ts';
import { fillMessage, MESSAGE_BYTES, wrong } from './thread-consumer.ts';

export interface RoutingOptions {
  rounds: number;
  /** Fan-out subscriber counts, one cell each. */
  subscribers: number[];
  /** Fan-out message sizes in bytes (the newline included), one cell each. */
  messageSizes: number[];
  /** Messages the publisher sends in each fan-out run. */
  fanoutMessages: number;
  /** Messages per cross-thread throughput run. */
  threadMessages: number;
  /** Ping-pongs per cross-thread latency run. */
  pings: number;
  onProgress?: (what: string) => void;
}


export interface FanoutRow {
  subscribers: number;
  messageBytes: number;
  contender: FanoutContender;
  /** Deliveries (messages × subscribers) per second. */
  deliveriesPerSecond: Spread;
  /** Against the reference in the same cell, plain-batched. */
  vsBatched: number;
}

export interface ThreadRow {
  transport: ThreadTransport;
  messagesPerSecond: Spread;
  /** One-way latency, µs. */
  p50: number;
  p99: number;
}

export interface AskRow {
  transport: AskTransport;
  /** Answered requests per second, ASK_WINDOW in flight. */
  answersPerSecond: Spread;
  /** Round trip with one request in flight, µs. */
  p50: number;
  p99: number;
}

export interface RoutingResult {
  settings: Omit<RoutingOptions, 'onProgress'> & { messageBytes: number };
  /** os.loadavg() (1, 5, 15 min) before and after: the machine is shared. */
  load: { before: number[]; after: number[] };
  fanout: FanoutRow[];
  threads: ThreadRow[];
  asks: AskRow[];
  /** Runs that did not verify (their figures are left out). */
  failures: string[];
}

export const FANOUT_CONTENDERS = ['plain-batched', 'plain-per-message', 'ringwire-1-worker', 'ringwire-2-workers', 'ringwire-N-workers'] as const;
export type FanoutContender = (typeof FANOUT_CONTENDERS)[number];
/** The plain per-message server only up to this many subscribers (beyond, a run takes minutes). */
const PER_MESSAGE_MAX = 1000;

/** The contenders of a cell: the N-worker server only where the machine has more than 2 CPUs. */
function fanoutContenders(subscribers: number): FanoutContender[] {
  return FANOUT_CONTENDERS.filter(c => (c !== 'plain-per-message' || subscribers <= PER_MESSAGE_MAX) && (c !== 'ringwire-N-workers' || os.availableParallelism() > 2));
}
export const THREAD_TRANSPORTS = ['ringwire-mailbox', 'MessagePort', 'BroadcastChannel'] as const;
export type ThreadTransport = (typeof THREAD_TRANSPORTS)[number];
export const ASK_TRANSPORTS = ['ringwire-ask', 'postMessage-reply'] as const;
export type AskTransport = (typeof ASK_TRANSPORTS)[number];
/** Requests in flight in a rate run. */
export const ASK_WINDOW = 64;

/** A fan-out run may take this long, plus 1 s per 20,000 deliveries (the plain server writes ~100,000/s here). */
const RUN_TIMEOUT = 30_000;
const DELIVERIES_PER_TIMEOUT_SECOND = 20_000;

// ---- fan-out ----

/** Message k of a fan-out run: `size` bytes with its newline. */
export function fanoutLine(k: number, size: number): Buffer {
  return Buffer.from(`${String(k).padStart(8, '0')} ${'x'.repeat(size - 10)}\n`);
}

function startFanoutServer(contender: FanoutContender, subscribers: number): Promise<{ child: ChildProcess; port: number }> {
  return listeningServer(contender, contender.startsWith('plain')
    ? [entry('plain-fanout'), ...(contender === 'plain-per-message' ? ['--per-message'] : [])]
    : [
      entry('cli'), 'serve', '--port', '0', '--framing', 'line', '--handler', entry('fanout-handler'),
      '--workers', contender === 'ringwire-1-worker' ? '1' : contender === 'ringwire-2-workers' ? '2' : String(os.availableParallelism()),
      '--max-connections', String(subscribers + 64),
    ]);
}

/** One fan-out run: deliveries per second, or throws when any subscriber's bytes are not what was published. */
async function fanout(contender: FanoutContender, subscribers: number, lines: Buffer[], expected: { bytes: number; crc: number }): Promise<number> {
  const { child, port } = await startFanoutServer(contender, subscribers);
  try {
    return await driveFanout(contender, port, subscribers, lines, expected);
  } finally {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = once(child, 'exit');
      process.kill(child.pid!, 'SIGKILL');
      await exited;
    }
  }
}

/**
 * The fan-out client against a server on 127.0.0.1:port that speaks the suite's
 * SUB/PUB lines (scripts/fanout-ab.ts drives other builds with it): subscribers
 * connect, then one publisher sends `lines`; deliveries per second from the first
 * line sent (`published`, if given, is called then) until every subscriber has every
 * byte. Throws when one is missing or wrong.
 */
export async function driveFanout(label: string, port: number, subscribers: number, lines: Buffer[], expected: { bytes: number; crc: number }, published?: () => void): Promise<number> {
  const sockets: net.Socket[] = [];
  try {
    let complete = 0;
    let bad = 0;
    let allDone!: () => void;
    const finished = new Promise<void>(resolve => (allDone = resolve));
    for (let i = 0; i < subscribers; i += 100) {
      sockets.push(...await Promise.all(Array.from({ length: Math.min(100, subscribers - i) }, async () => {
        const s = net.connect({ port, host: '127.0.0.1' });
        await once(s, 'connect');
        s.write('SUB\n');
        let skip = 3; // "OK\n"
        let got = 0;
        let crc = 0;
        await new Promise<void>(resolve => {
          s.on('data', (d: Buffer) => {
            if (skip > 0) {
              const n = Math.min(skip, d.length);
              skip -= n;
              d = d.subarray(n);
              if (skip === 0) resolve();
              if (d.length === 0) return;
            }
            got += d.length;
            crc = crc32(d, crc);
            if (got >= expected.bytes && got - d.length < expected.bytes) {
              if (got !== expected.bytes || crc !== expected.crc) bad++;
              if (++complete === subscribers) allDone();
            }
          });
        });
        return s;
      })));
    }
    const pub = net.connect({ port, host: '127.0.0.1', noDelay: true });
    sockets.push(pub);
    await once(pub, 'connect');
    pub.write('PUB\n');
    await once(pub, 'data');
    const t0 = performance.now();
    published?.();
    for (const l of lines) if (!pub.write(l)) await once(pub, 'drain');
    const limit = RUN_TIMEOUT + (1000 * subscribers * lines.length) / DELIVERIES_PER_TIMEOUT_SECOND;
    const timeout = setTimeout(allDone, limit);
    await finished;
    clearTimeout(timeout);
    const seconds = (performance.now() - t0) / 1000;
    if (complete < subscribers) throw new Error(`${label}: ${subscribers - complete} of ${subscribers} subscribers did not get every message within ${Math.round(limit / 1000)} s`);
    if (bad > 0) throw new Error(`${label}: ${bad} of ${subscribers} subscribers received bytes other than those published`);
    return (subscribers * lines.length) / seconds;
  } finally {
    for (const s of sockets) s.destroy();
  }
}

// ---- cross-thread ----

function consumer(workerData: object, transferList: unknown[] = []): Worker {
  return new Worker(entry('thread-consumer'), { workerData, transferList: transferList as never });
}

/** The consumer's verdict: its count, or the first wrong message. */
async function verdict(finished: Promise<unknown[]>, transport: ThreadTransport): Promise<void> {
  const [m] = await finished as [{ got?: number; error?: string }];
  if (m.error) throw new Error(`${transport}: ${m.error}`);
}

/** Throughput (flood: [total ms]) or one-way latencies in ms (ping). */
async function threadRun(transport: ThreadTransport, mode: 'flood' | 'ping', n: number): Promise<number[]> {
  const message = new Uint8Array(MESSAGE_BYTES);
  const times: number[] = [];
  let w: Worker;
  let send: (m: Uint8Array) => boolean;
  let answered: () => Promise<void>;
  let close = () => {};
  if (transport === 'ringwire-mailbox') {
    const inbox = Mailbox.create(1 << 20);
    const outbox = mode === 'ping' ? Mailbox.create(1 << 16) : undefined;
    w = consumer({ kind: 'mailbox', n, mode, inbox: inbox.buffer, outbox: outbox?.buffer });
    send = m => inbox.post(5, 0, 0, 0, m);
    answered = () => new Promise<void>(resolve => {
      const look = () => {
        if (outbox!.take(1, () => {}) === 1) return resolve();
        const wake = outbox!.sleep();
        if (wake) void wake.then(look);
        else look();
      };
      look();
    });
  } else if (transport === 'MessagePort') {
    const { port1, port2 } = new MessageChannel();
    w = consumer({ kind: 'port', n, mode, port: port2 }, [port2]);
    send = m => (port1.postMessage(m), true);
    answered = () => once(port1 as never, 'message').then(() => {});
    close = () => port1.close();
  } else {
    const out = new BroadcastChannel('ringwire-bench-in');
    const back = new BroadcastChannel('ringwire-bench-out');
    w = consumer({ kind: 'broadcast', n, mode });
    await once(w, 'message'); // its channels are open
    let waiting: (() => void) | undefined;
    back.onmessage = () => waiting?.();
    send = m => (out.postMessage(m), true);
    answered = () => new Promise<void>(resolve => (waiting = resolve));
    close = () => { out.close(); back.close(); };
  }
  const finished = once(w, 'message');
  const keep = setInterval(() => {}, 1 << 30); // the mailbox's waitAsync does not keep the loop alive
  try {
    await new Promise(r => setTimeout(r, 100)); // the consumer is asleep
    const t0 = performance.now();
    for (let i = 0; i < n; i++) {
      fillMessage(message, i);
      if (mode === 'flood') {
        while (!send(message)) await turn();
        continue;
      }
      const s = performance.now();
      const back = answered();
      send(message);
      await back;
      times.push((performance.now() - s) / 2);
    }
    await verdict(finished, transport);
    if (mode === 'flood') times.push(performance.now() - t0);
    return times;
  } finally {
    clearInterval(keep);
    close();
    await w.terminate();
  }
}

/** Request/response: [total ms] for n requests ASK_WINDOW at a time (rate), or n round trips in ms, one at a time (ping). */
async function askRun(transport: AskTransport, mode: 'rate' | 'ping', n: number): Promise<number[]> {
  let w: Worker;
  let call: (m: Uint8Array) => Promise<Uint8Array>;
  let close = () => {};
  if (transport === 'ringwire-ask') {
    const board = Switchboard.create({ places: 1, slots: 1, parent: true });
    w = consumer({ kind: 'ask', board: board.init });
    while (board.threadAt(0) === 0) await new Promise(r => setTimeout(r, 5)); // it serves place 0
    const asks = new Asks(board, PARENT, () => undefined);
    call = m => asks.ask(0, m, 10_000);
  } else {
    const { port1, port2 } = new MessageChannel();
    w = consumer({ kind: 'reply', port: port2 }, [port2]);
    const waiting = new Map<number, (m: Uint8Array) => void>();
    let nextId = 0;
    port1.on('message', (a: { id: number; m: Uint8Array }) => {
      const resolve = waiting.get(a.id)!;
      waiting.delete(a.id);
      resolve(a.m);
    });
    call = m => new Promise(resolve => {
      const id = nextId++;
      waiting.set(id, resolve);
      port1.postMessage({ id, m });
    });
    close = () => port1.close();
  }
  try {
    await new Promise(r => setTimeout(r, 100)); // the other thread is ready and asleep
    const times: number[] = [];
    let next = 0;
    const one = async () => {
      const m = new Uint8Array(MESSAGE_BYTES);
      while (next < n) {
        const i = next++;
        const s = performance.now();
        const a = await call(fillMessage(m, i));
        if (mode === 'ping') times.push(performance.now() - s);
        if (wrong(a, i)) throw new Error(`${transport}: answer ${i} was not the bytes sent`);
      }
    };
    const t0 = performance.now();
    await Promise.all(Array.from({ length: mode === 'rate' ? ASK_WINDOW : 1 }, one));
    return mode === 'rate' ? [performance.now() - t0] : times;
  } finally {
    close();
    await w.terminate();
  }
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]!;
}

// ---- the suite ----

export async function runRoutingBench(o: RoutingOptions): Promise<RoutingResult> {
  const before = os.loadavg();
  const failures: string[] = [];
  const fanoutRows: FanoutRow[] = [];
  for (const subscribers of o.subscribers) {
    for (const size of o.messageSizes) {
      const lines = Array.from({ length: o.fanoutMessages }, (_, k) => fanoutLine(k, size));
      const stream = Buffer.concat(lines);
      const expected = { bytes: stream.length, crc: crc32(stream) };
      const contenders = fanoutContenders(subscribers);
      const rates = new Map<FanoutContender, number[]>(contenders.map(c => [c, []]));
      for (let round = 0; round < o.rounds; round++) {
        for (const c of contenders) {
          o.onProgress?.(`routing: fan-out round ${round + 1}/${o.rounds}: ${c}, ${subscribers} subscribers, ${size} B`);
          try {
            rates.get(c)!.push(await fanout(c, subscribers, lines, expected));
          } catch (err) {
            failures.push((err as Error).message);
          }
        }
      }
      const reference = rates.get('plain-batched')!;
      const base = reference.length ? spread(reference).median : NaN;
      for (const c of contenders.filter(c => rates.get(c)!.length > 0)) {
        const s = spread(rates.get(c)!);
        fanoutRows.push({ subscribers, messageBytes: size, contender: c, deliveriesPerSecond: s, vsBatched: s.median / base });
      }
    }
  }

  // Each transport's rate (messages through `run(t, rateMode, n)`) and one-at-a-time round trips, rounds alternating transports.
  const measure = async <T extends string, M extends string>(transports: readonly T[], what: string, rateMode: M, run: (t: T, mode: M | 'ping', n: number) => Promise<number[]>) => {
    const got = new Map<T, { rates: number[]; lat: number[] }>(transports.map(t => [t, { rates: [], lat: [] }]));
    for (let round = 0; round < o.rounds; round++) {
      for (const t of transports) {
        o.onProgress?.(`routing: ${what} round ${round + 1}/${o.rounds}: ${t}`);
        try {
          const [ms] = await run(t, rateMode, o.threadMessages);
          got.get(t)!.rates.push(o.threadMessages / (ms! / 1000));
          got.get(t)!.lat.push(...await run(t, 'ping', Math.ceil(o.pings / o.rounds)));
        } catch (err) {
          failures.push((err as Error).message);
        }
      }
    }
    return transports.filter(t => got.get(t)!.rates.length > 0).map(t => {
      const { rates, lat } = got.get(t)!;
      const sorted = lat.sort((x, y) => x - y);
      return { transport: t, rate: spread(rates), p50: percentile(sorted, 0.5) * 1000, p99: percentile(sorted, 0.99) * 1000 };
    });
  };
  const threadRows = (await measure(THREAD_TRANSPORTS, 'cross-thread', 'flood', threadRun))
    .map(({ rate, ...r }) => ({ ...r, messagesPerSecond: rate }));
  const askRows = (await measure(ASK_TRANSPORTS, 'request/response', 'rate', askRun))
    .map(({ rate, ...r }) => ({ ...r, answersPerSecond: rate }));
  const { onProgress, ...settings } = o;
  return { settings: { ...settings, messageBytes: MESSAGE_BYTES }, load: { before, after: os.loadavg() }, fanout: fanoutRows, threads: threadRows, asks: askRows, failures };
}
