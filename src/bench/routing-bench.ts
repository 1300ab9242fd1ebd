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
//    minutes). Every subscriber's bytes are compared with what was published; the
//    server's CPU per delivery and the client's share of a core say who set the pace.
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
import { Mailbox } from '../net/mailbox.ts'; // the mailbox itself is measured: an internal, not in the package's API
import { Asks } from '../net/asks.ts'; // router.ask's machinery, measured without sockets
import { PARENT, Switchboard } from '../net/switchboard.ts';
import { cpuSince, cpuTime } from './process-meter.ts';
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
  /** Messages the publisher sends in each fan-out run; undefined: fanoutMessagesFor() per cell. */
  fanoutMessages?: number;
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
  /** Messages published in each run of the cell. */
  messages: number;
  /** Deliveries (messages × subscribers) per second. */
  deliveriesPerSecond: Spread;
  /** Against the reference in the same cell, plain-batched. */
  vsBatched: number;
  /** The server's CPU time (user + system, all its threads) per delivery, ns (NaN where /proc cannot say). */
  cpuPerDelivery: Spread;
  /** Against the reference's in the same cell. */
  cpuVsBatched: number;
  /** The share of one core the client (this process: publisher and every subscriber) used, median: near 1, it set the pace. */
  clientBusy: number;
}

/** One fan-out run's figures. */
export interface FanoutRun {
  /** Deliveries per second. */
  rate: number;
  /** Server CPU per delivery, ns. */
  cpu: number;
  /** Client CPU time over wall time. */
  clientBusy: number;
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
/** And a run of it delivers at most this many (it writes ~30× slower: a run of the others' size takes minutes). */
const PER_MESSAGE_DELIVERIES = 2_000_000;

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

/** Bytes a fan-out run delivers by default (messages × size × subscribers): about a second here, where JIT warm-up and TCP's ramp no longer dominate. */
const RUN_BYTES = 640_000_000;

/** Messages per run of a cell: as given, or RUN_BYTES' worth (10,000 at 1,000 subscribers of 64 B), 200 to 10,000. */
export function fanoutMessagesFor(given: number | undefined, subscribers: number, size: number): number {
  return given ?? Math.max(200, Math.min(10_000, Math.round(RUN_BYTES / (subscribers * size))));
}

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

/** One fan-out run, or throws when any subscriber's bytes are not what was published. */
async function fanout(contender: FanoutContender, subscribers: number, lines: Buffer[], stream: Buffer): Promise<FanoutRun> {
  const { child, port } = await startFanoutServer(contender, subscribers);
  try {
    return await driveFanout(contender, port, child.pid!, subscribers, lines, stream);
  } finally {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = once(child, 'exit');
      process.kill(child.pid!, 'SIGKILL');
      await exited;
    }
  }
}

/** What one subscriber read takes at most (its socket's onread buffer: one for all, the callbacks run one at a time). */
const SUBSCRIBER_READ = 256 * 1024;

/**
 * The fan-out client against a server on 127.0.0.1:port that speaks the suite's
 * SUB/PUB lines (scripts/fanout-ab.ts drives other builds with it): subscribers
 * connect, then one publisher sends `lines`; deliveries per second from the first
 * line sent until every subscriber has every byte, the CPU the server (process
 * `pid`) used per delivery and this client's share of a core over that time. Throws
 * when one is missing or wrong.
 *
 * Each subscriber's bytes are compared with `stream` (the lines in order) as they
 * arrive, every byte, and read with `onread` into one buffer of SUBSCRIBER_READ
 * bytes: no Buffer per read and no stream machinery. The client is one thread
 * reading every subscriber's copy, and receiving costs the kernel more than sending
 * does; read through 'data' events and checked with a CRC-32 it needed 3–6× the
 * CPU per delivery of the servers it measured, and every server ran at its speed
 * (docs/workers.md).
 */
export async function driveFanout(label: string, port: number, pid: number, subscribers: number, lines: Buffer[], stream: Buffer): Promise<FanoutRun> {
  const sockets: net.Socket[] = [];
  const buffer = Buffer.allocUnsafe(SUBSCRIBER_READ);
  const total = stream.length;
  try {
    let complete = 0;
    let bad = 0;
    let allDone!: () => void;
    const finished = new Promise<void>(resolve => (allDone = resolve));
    const subscriber = async (): Promise<net.Socket> => {
      let skip = 3; // "OK\n"
      let got = 0;
      let right = true;
      let subscribed!: () => void;
      const ok = new Promise<void>(resolve => (subscribed = resolve));
      const callback = (n: number, b: Buffer): boolean => {
        let at = 0;
        if (skip > 0) {
          at = Math.min(skip, n);
          skip -= at;
          if (skip === 0) subscribed();
          if (at === n) return true;
        }
        const len = n - at;
        if (right && (got + len > total || stream.compare(b, at, n, got, got + len) !== 0)) right = false;
        got += len;
        if (got >= total && got - len < total) {
          if (!right || got !== total) bad++;
          if (++complete === subscribers) allDone();
        }
        return true;
      };
      const s = net.connect({ port, host: '127.0.0.1', onread: { buffer, callback } } as net.NetConnectOpts);
      await once(s, 'connect');
      s.write('SUB\n');
      await ok;
      return s;
    };
    for (let i = 0; i < subscribers; i += 100) {
      sockets.push(...await Promise.all(Array.from({ length: Math.min(100, subscribers - i) }, subscriber)));
    }
    const pub = net.connect({ port, host: '127.0.0.1', noDelay: true });
    sockets.push(pub);
    await once(pub, 'connect');
    pub.write('PUB\n');
    await once(pub, 'data');
    const t0 = performance.now();
    const cpu0 = cpuTime(pid);
    const client0 = process.cpuUsage();
    for (const l of lines) if (!pub.write(l)) await once(pub, 'drain');
    const limit = RUN_TIMEOUT + (1000 * subscribers * lines.length) / DELIVERIES_PER_TIMEOUT_SECOND;
    const timeout = setTimeout(allDone, limit);
    await finished;
    clearTimeout(timeout);
    const seconds = (performance.now() - t0) / 1000;
    const cpu = cpuSince(cpu0, cpuTime(pid));
    const client = process.cpuUsage(client0);
    if (complete < subscribers) throw new Error(`${label}: ${subscribers - complete} of ${subscribers} subscribers did not get every message within ${Math.round(limit / 1000)} s`);
    if (bad > 0) throw new Error(`${label}: ${bad} of ${subscribers} subscribers received bytes other than those published`);
    const deliveries = subscribers * lines.length;
    return { rate: deliveries / seconds, cpu: ((cpu.user + cpu.system) / deliveries) * 1e9, clientBusy: (client.user + client.system) / 1e6 / seconds };
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
      const messages = fanoutMessagesFor(o.fanoutMessages, subscribers, size);
      const lines = Array.from({ length: messages }, (_, k) => fanoutLine(k, size));
      const stream = Buffer.concat(lines);
      const perMessage = Math.min(messages, Math.ceil(PER_MESSAGE_DELIVERIES / subscribers));
      const messagesOf = (c: FanoutContender) => (c === 'plain-per-message' ? perMessage : messages);
      const perMessageStream = stream.subarray(0, perMessage * size);
      const contenders = fanoutContenders(subscribers);
      const runs = new Map<FanoutContender, FanoutRun[]>(contenders.map(c => [c, []]));
      for (let round = 0; round < o.rounds; round++) {
        for (const c of contenders) {
          o.onProgress?.(`routing: fan-out round ${round + 1}/${o.rounds}: ${c}, ${subscribers} subscribers, ${size} B`);
          try {
            runs.get(c)!.push(c === 'plain-per-message'
              ? await fanout(c, subscribers, lines.slice(0, perMessage), perMessageStream)
              : await fanout(c, subscribers, lines, stream));
          } catch (err) {
            failures.push((err as Error).message);
          }
        }
      }
      const reference = runs.get('plain-batched')!;
      const base = reference.length ? spread(reference.map(r => r.rate)).median : NaN;
      const baseCpu = reference.length ? spread(reference.map(r => r.cpu)).median : NaN;
      for (const c of contenders.filter(c => runs.get(c)!.length > 0)) {
        const got = runs.get(c)!;
        const rate = spread(got.map(r => r.rate));
        const cpu = spread(got.map(r => r.cpu));
        fanoutRows.push({
          subscribers, messageBytes: size, messages: messagesOf(c), contender: c, deliveriesPerSecond: rate, vsBatched: rate.median / base,
          cpuPerDelivery: cpu, cpuVsBatched: cpu.median / baseCpu, clientBusy: spread(got.map(r => r.clientBusy)).median,
        });
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
