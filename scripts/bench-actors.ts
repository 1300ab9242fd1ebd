// Measures connections-as-actors (a program, not a test; prints tables):
//
// 1. Cross-thread delivery of 64-byte messages from one worker thread to another:
//    ringwire's mailbox (the same take/sleep/waitAsync loop as Router.pump)
//    against MessagePort.postMessage and BroadcastChannel carrying the same bytes.
//    Throughput: a producer sends N as fast as it can (the mailbox says 'full':
//    the producer yields a turn and retries); latency: ping-pong, one message in
//    flight, one-way = round trip / 2.
// 2. Fan-out over real sockets: 1 publisher, S subscribers (default 1,000), M
//    messages of 64 bytes on the wire: deliveries per second until every
//    subscriber has every byte, for `ringwire serve` with 1 and 2 workers
//    (bench/fanout-handler.mjs: publish() per frame) and a plain Node server
//    that writes each message to each subscriber socket, and the same server
//    batched (one write per subscriber per 'data' chunk of the publisher).
//
//   npm run build && node scripts/bench-actors.ts [--messages 200000] [--subscribers 1000] [--fanout-messages 5000]
// Binds 127.0.0.1 only; stops the servers it started (by their PIDs).

import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import net from 'node:net';
import os from 'node:os';
import { parseArgs } from 'node:util';
import { Worker } from 'node:worker_threads';

const { values } = parseArgs({ options: {
  messages: { type: 'string', default: '200000' },
  pings: { type: 'string', default: '20000' },
  subscribers: { type: 'string', default: '1000' },
  'fanout-messages': { type: 'string', default: '5000' },
  only: { type: 'string' },
} });
const DIST = new URL('../dist/index.js', import.meta.url).href;
const N = Number(values.messages);
const PINGS = Number(values.pings);

// ---- 1. cross-thread delivery ----

/** Worker code: the consumer side of each transport, in a thread of its own. */
const CONSUMER = `
import { parentPort, workerData } from 'node:worker_threads';
import { setImmediate as turn } from 'node:timers/promises';
import { Mailbox } from ${JSON.stringify(DIST)};
const { kind, n, inbox, outbox, mode } = workerData;
const keep = setInterval(() => {}, 1 << 30); // waitAsync does not keep the loop alive
let got = 0;
const done = () => { clearInterval(keep); parentPort.postMessage({ got }); };
if (kind === 'mailbox') {
  const mb = new Mailbox(inbox);
  const back = outbox && new Mailbox(outbox);
  const one = new Uint8Array(64);
  const pump = () => {
    for (;;) {
      const k = mb.take(4096, (_k, _a, _b, _c, body) => { got++; if (back) while (!back.post(5, 0, 0, 0, body)); });
      if (got >= n) return done();
      if (k >= 4096) return void setImmediate(pump);
      const w = mb.sleep();
      if (w) return void w.then(pump);
    }
  };
  pump();
} else if (kind === 'port') {
  const port = workerData.port;
  port.on('message', m => { got++; if (mode === 'ping') port.postMessage(m); if (got >= n) { port.close(); done(); } });
} else {
  const ch = new BroadcastChannel('bench-in');
  const back = new BroadcastChannel('bench-out');
  ch.onmessage = e => { got++; if (mode === 'ping') back.postMessage(e.data); if (got >= n) { ch.close(); back.close(); done(); } };
  parentPort.postMessage('ready');
}
`;

interface Transport { name: string; rate: number; p50: number; p99: number }

async function mailboxRun(mode: 'flood' | 'ping', n: number): Promise<number[]> {
  const { Mailbox } = await import(DIST) as typeof import('../src/index.ts');
  const inbox = Mailbox.create(1 << 20);
  const outbox = mode === 'ping' ? Mailbox.create(1 << 16) : undefined;
  const w = new Worker(CONSUMER, { eval: true, workerData: { kind: 'mailbox', n, inbox: inbox.buffer, outbox: outbox?.buffer, mode } });
  const finished = once(w, 'message');
  const payload = new Uint8Array(64).fill(7);
  const keep = setInterval(() => {}, 1 << 30);
  const times: number[] = [];
  await new Promise(r => setTimeout(r, 100)); // the consumer is asleep
  const t0 = performance.now();
  if (mode === 'flood') {
    for (let i = 0; i < n; i++) while (!inbox.post(5, i, 0, 0, payload)) await new Promise(r => setImmediate(r));
    await finished;
    times.push(performance.now() - t0);
  } else {
    for (let i = 0; i < n; i++) {
      const s = performance.now();
      inbox.post(5, i, 0, 0, payload);
      await new Promise<void>(resolve => {
        const look = () => {
          if (outbox!.take(1, () => {}) === 1) return resolve();
          const wake = outbox!.sleep();
          if (wake) void wake.then(look);
          else look();
        };
        look();
      });
      times.push((performance.now() - s) / 2);
    }
    await finished;
  }
  clearInterval(keep);
  await w.terminate();
  return times;
}

async function portRun(mode: 'flood' | 'ping', n: number): Promise<number[]> {
  const { port1, port2 } = new MessageChannel();
  const w = new Worker(CONSUMER, { eval: true, workerData: { kind: 'port', n, port: port2, mode }, transferList: [port2] });
  const finished = once(w, 'message');
  const payload = new Uint8Array(64).fill(7);
  await new Promise(r => setTimeout(r, 100));
  const times: number[] = [];
  const t0 = performance.now();
  if (mode === 'flood') {
    for (let i = 0; i < n; i++) port1.postMessage(payload);
    await finished;
    times.push(performance.now() - t0);
  } else {
    for (let i = 0; i < n; i++) {
      const s = performance.now();
      port1.postMessage(payload);
      await once(port1, 'message');
      times.push((performance.now() - s) / 2);
    }
    await finished;
  }
  port1.close();
  await w.terminate();
  return times;
}

async function broadcastRun(mode: 'flood' | 'ping', n: number): Promise<number[]> {
  const out = new BroadcastChannel('bench-in');
  const back = new BroadcastChannel('bench-out');
  const w = new Worker(CONSUMER, { eval: true, workerData: { kind: 'broadcast', n, mode } });
  await once(w, 'message'); // ready
  const finished = once(w, 'message');
  const payload = new Uint8Array(64).fill(7);
  const times: number[] = [];
  let waiting: (() => void) | undefined;
  back.onmessage = () => waiting?.();
  const t0 = performance.now();
  if (mode === 'flood') {
    for (let i = 0; i < n; i++) out.postMessage(payload);
    await finished;
    times.push(performance.now() - t0);
  } else {
    for (let i = 0; i < n; i++) {
      const s = performance.now();
      const got = new Promise<void>(r => (waiting = r));
      out.postMessage(payload);
      await got;
      times.push((performance.now() - s) / 2);
    }
    await finished;
  }
  out.close();
  back.close();
  await w.terminate();
  return times;
}

function pct(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]!;
}

async function crossThread(): Promise<Transport[]> {
  const out: Transport[] = [];
  for (const [name, run] of [['ringwire mailbox', mailboxRun], ['MessagePort.postMessage', portRun], ['BroadcastChannel', broadcastRun]] as const) {
    const rates: number[] = [];
    for (let round = 0; round < 3; round++) rates.push(N / ((await run('flood', N))[0]! / 1000));
    const lat = (await run('ping', PINGS)).sort((a, b) => a - b);
    out.push({ name, rate: rates.sort((a, b) => a - b)[1]!, p50: pct(lat, 0.5) * 1000, p99: pct(lat, 0.99) * 1000 });
  }
  return out;
}

// ---- 2. fan-out over sockets ----

const PLAIN_FANOUT = `
import net from 'node:net';
const subs = new Set();
const server = net.createServer({ noDelay: true }, s => {
  s.setNoDelay(true);
  let role = null, rest = '';
  s.on('data', d => {
    if (role === null) {
      const text = d.toString('latin1'); const nl = text.indexOf('\\n');
      role = text.slice(0, nl);
      if (role === 'SUB') { subs.add(s); s.on('close', () => subs.delete(s)); s.write('OK\\n'); return; }
      s.write('OK\\n'); d = d.subarray(nl + 1); if (d.length === 0) return;
    }
    if (role !== 'PUB') return;
    // Whole lines only; one write of this chunk's whole lines to each subscriber.
    let buf = rest ? Buffer.concat([rest, d]) : d;
    const end = buf.lastIndexOf(10) + 1;
    rest = end < buf.length ? Buffer.from(buf.subarray(end)) : '';
    if (end === 0) return;
    const lines = buf.subarray(0, end);
    if (process.env.PER_MESSAGE) {
      // The plain way: each message written to each subscriber socket.
      for (let at = 0; at < end;) { const nl = lines.indexOf(10, at) + 1; const m = lines.subarray(at, nl); for (const sub of subs) sub.write(m); at = nl; }
    } else for (const sub of subs) sub.write(lines);
  });
  s.on('error', () => {});
});
server.listen(0, '127.0.0.1', () => console.log('listening on 127.0.0.1:' + server.address().port + ' '));
`;

type Contender = 'ringwire-1' | 'ringwire-2' | 'plain' | 'plain-chunk';

async function startServer(kind: Contender, subscribers: number): Promise<{ child: ChildProcess; port: number }> {
  const handler = new URL('../bench/fanout-handler.mjs', import.meta.url).pathname;
  const cli = new URL('../dist/cli.js', import.meta.url).pathname;
  const child = kind.startsWith('plain')
    ? spawn(process.execPath, ['--input-type=module', '-e', PLAIN_FANOUT], { stdio: ['ignore', 'pipe', 'ignore'], env: { ...process.env, ...(kind === 'plain' ? { PER_MESSAGE: '1' } : {}) } })
    : spawn(process.execPath, [cli, 'serve', '--port', '0', '--framing', 'line', '--handler', handler, '--workers', kind === 'ringwire-1' ? '1' : '2', '--max-connections', String(subscribers + 64)], { stdio: ['ignore', 'pipe', 'ignore'] });
  const [line] = await once(child.stdout!.setEncoding('utf8'), 'data') as [string];
  return { child, port: Number(/:(\d+) /.exec(line)![1]) };
}

async function fanOut(kind: Contender, subscribers: number, messages: number): Promise<{ rate: number; seconds: number }> {
  const { child, port } = await startServer(kind, subscribers);
  try {
    const lineBytes = 64;
    const expected = messages * lineBytes;
    let complete = 0;
    let allDone: () => void;
    const finished = new Promise<void>(r => (allDone = r));
    const subs: net.Socket[] = [];
    for (let i = 0; i < subscribers; i += 100) {
      subs.push(...await Promise.all(Array.from({ length: Math.min(100, subscribers - i) }, async () => {
        const s = net.connect({ port, host: '127.0.0.1' });
        await once(s, 'connect');
        s.write('SUB\n');
        let got = -3; // "OK\n"
        await new Promise<void>(resolve => {
          s.on('data', d => {
            if (got < 0) { got += d.length; if (got >= 0) resolve(); return; }
            got += d.length;
            if (got >= expected && got - d.length < expected && ++complete === subscribers) allDone();
          });
        });
        return s;
      })));
    }
    const pub = net.connect({ port, host: '127.0.0.1', noDelay: true });
    await once(pub, 'connect');
    pub.write('PUB\n');
    await once(pub, 'data');
    const lines: Buffer[] = [];
    for (let k = 0; k < messages; k++) lines.push(Buffer.from(`${String(k).padStart(8, '0')} ${'x'.repeat(lineBytes - 10)}\n`));
    const t0 = performance.now();
    for (const l of lines) if (!pub.write(l)) await once(pub, 'drain');
    const timeout = setTimeout(() => allDone(), 60_000);
    await finished;
    clearTimeout(timeout);
    const seconds = (performance.now() - t0) / 1000;
    if (complete < subscribers) throw new Error(`${kind}: only ${complete} of ${subscribers} subscribers got every message`);
    for (const s of [...subs, pub]) s.destroy();
    return { rate: subscribers * messages / seconds, seconds };
  } finally {
    child.kill('SIGTERM');
    await once(child, 'exit');
  }
}

// ---- report ----

console.log(`Node ${process.version}, ${os.cpus()[0]?.model} x ${os.availableParallelism()}, ${os.type()} ${os.release()}`);
if (!values.only || values.only === 'threads') {
  const rows = await crossThread();
  console.log(`\ncross-thread delivery, 64 B messages, one thread -> a worker thread (${N} for throughput, median of 3; ${PINGS} ping-pongs for latency)`);
  console.log('| transport | messages/s | one-way latency p50 | p99 |\n|---|---:|---:|---:|');
  for (const r of rows) console.log(`| ${r.name} | ${Math.round(r.rate).toLocaleString('en')} | ${r.p50.toFixed(1)} µs | ${r.p99.toFixed(1)} µs |`);
}
if (!values.only || values.only === 'fanout') {
  const S = Number(values.subscribers);
  const M = Number(values['fanout-messages']);
  console.log(`\nfan-out: 1 publisher -> ${S} subscribers, ${M} messages of 64 B (line framing), deliveries/s (median of 3)`);
  console.log('| server | deliveries/s | seconds |\n|---|---:|---:|');
  const names: Record<Contender, string> = {
    plain: 'plain Node: each message written to each subscriber socket',
    'plain-chunk': 'plain Node, batched: one write per subscriber per \'data\' chunk',
    'ringwire-1': 'ringwire, 1 worker (publish per frame)',
    'ringwire-2': 'ringwire, 2 workers (publish per frame)',
  };
  for (const kind of ['plain', 'plain-chunk', 'ringwire-1', 'ringwire-2'] as const) {
    const runs: { rate: number; seconds: number }[] = [];
    for (let round = 0; round < 3; round++) runs.push(await fanOut(kind, S, M));
    const mid = runs.sort((a, b) => a.rate - b.rate)[1]!;
    console.log(`| ${names[kind]} | ${Math.round(mid.rate).toLocaleString('en')} | ${mid.seconds.toFixed(2)} |`);
  }
}
