// Replays hostile clients against `ringwire serve` (dist/cli.js) and prints, for
// each case, whether legitimate clients were served and how fast (first reply,
// p50/p99), and the server's peak RSS and CPU. Not part of npm test: each case
// runs for seconds. 127.0.0.1 only (127.0.0.2 is the hostile source address);
// every process it starts is stopped by its PID.
//
//   node scripts/hostile.ts [case ...]      cases: accept slowloris slowloris-per-ip silent-holders fd-exhaustion stall
//   node scripts/hostile.ts accept --workers 2 --balance transfer --busy 5000
//
// The hostile side and the legitimate clients run in child processes of this
// script (`--role …`), so a busy load generator does not delay the probes' clocks.

import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { cpuTime, peakRss } from '../src/bench/process-meter.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const cli = process.env.RINGWIRE_CLI ?? path.join(root, 'dist/cli.js'); // RINGWIRE_CLI: measure another build
const self = fileURLToPath(import.meta.url);
const sleep = (ms: number) => new Promise(r => setTimeout(r, ms));
const started: ChildProcess[] = [];

// ---------- roles run in child processes ----------

/**
 * `count` connections that each echo `size` bytes back and forth until killed.
 * Prints one JSON line once every one has had its first echo (or after 60 s): how
 * many, and how long the server took to serve them all while the first ones were
 * already busy (a client's connect completes in the kernel's queue, before the
 * server accepts it, so only an echo says it is served).
 */
async function busy(port: number, count: number, size: number, from: string): Promise<void> {
  const payload = Buffer.alloc(size, 7);
  payload.writeUInt32BE(size - 4, 0); // one length-prefixed frame
  let served = 0;
  const t0 = performance.now();
  for (let i = 0; i < count; i++) {
    const s = net.connect({ port, host: '127.0.0.1', localAddress: from });
    s.on('error', () => {});
    s.on('connect', () => s.write(payload));
    let got = 0;
    let first = true;
    s.on('data', d => {
      if (first) { first = false; served++; }
      got += d.length;
      if (got >= size) { got -= size; s.write(payload); }
    });
    if (i % 200 === 199) await sleep(20); // do not overflow the listen queue while opening
  }
  while (served < count && performance.now() - t0 < 60_000) await sleep(50);
  process.stdout.write(`${JSON.stringify({ served, ms: Math.round(performance.now() - t0) })}\n`);
  await new Promise(() => {});
}

/** `count` connections sending one byte per `every` ms of a length-prefixed frame that never completes. */
async function slowloris(port: number, count: number, every: number, from: string, reconnect: boolean): Promise<void> {
  const one = (): void => {
    const s = net.connect({ port, host: '127.0.0.1', localAddress: from });
    s.on('error', () => {});
    let timer: NodeJS.Timeout | undefined;
    s.on('connect', () => {
      s.write(Buffer.from([0, 0, 0x10, 0])); // a 4096-byte frame announced
      timer = setInterval(() => s.write(Buffer.from([1])), every);
    });
    s.on('close', () => {
      clearInterval(timer);
      if (reconnect) setTimeout(one, 10);
    });
  };
  for (let i = 0; i < count; i++) {
    one();
    if (i % 100 === 99) await sleep(10);
  }
  await new Promise(() => {});
}

/** `count` connections that connect and hold, sending nothing. */
async function hold(port: number, count: number, from: string): Promise<void> {
  for (let i = 0; i < count; i++) {
    const s = net.connect({ port, host: '127.0.0.1', localAddress: from });
    s.on('error', () => {});
    if (i % 200 === 199) await sleep(5);
  }
  await new Promise(() => {});
}

/**
 * Legitimate clients: every `every` ms a new connection sends one length-prefixed
 * frame and waits for its echo. Prints one JSON line: served, failed, first-reply ms.
 */
async function probe(port: number, count: number, every: number, timeout: number, framing: string): Promise<void> {
  const frame = framing === 'raw' ? Buffer.from('hello') : Buffer.concat([Buffer.from([0, 0, 0, 5]), Buffer.from('hello')]);
  const results = await Promise.all(Array.from({ length: count }, async (_, i) => {
    await sleep(i * every);
    const t0 = performance.now();
    return new Promise<number>(resolve => {
      const s = net.connect({ port, host: '127.0.0.1' });
      const timer = setTimeout(() => { s.destroy(); resolve(-1); }, timeout);
      let got = 0;
      s.on('connect', () => s.write(frame));
      s.on('data', d => {
        got += d.length;
        if (got >= frame.length) { clearTimeout(timer); s.destroy(); resolve(performance.now() - t0); }
      });
      s.on('error', () => { clearTimeout(timer); resolve(-1); });
      s.on('close', () => { clearTimeout(timer); resolve(-1); });
    });
  }));
  const ok = results.filter(r => r >= 0).sort((a, b) => a - b);
  const pct = (p: number) => (ok.length ? ok[Math.min(ok.length - 1, Math.floor(p * ok.length))]! : NaN);
  process.stdout.write(`${JSON.stringify({ served: ok.length, failed: count - ok.length, p50: pct(0.5), p99: pct(0.99), max: ok.at(-1) ?? NaN })}\n`);
  process.exit(0);
}

// ---------- the runner ----------

function child(args: string[], env: Record<string, string> = {}): ChildProcess {
  const p = spawn(process.execPath, [self, ...args], { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, ...env } });
  started.push(p);
  return p;
}

async function line(p: ChildProcess): Promise<Record<string, number>> {
  let buf = '';
  for await (const chunk of p.stdout!) {
    buf += chunk;
    const nl = buf.indexOf('\n');
    if (nl >= 0) return JSON.parse(buf.slice(0, nl)) as Record<string, number>;
  }
  throw new Error('child ended without a result');
}

interface Server { proc: ChildProcess; pid: number; port: number; log: string[] }

/** Start `ringwire serve` (through sh when a ulimit is wanted), wait for its listening line. */
async function serve(args: string[], ulimit?: number): Promise<Server> {
  const argv = [cli, 'serve', '--port', '0', ...args];
  const proc = ulimit
    ? spawn('sh', ['-c', `ulimit -n ${ulimit} && exec "$0" "$@"`, process.execPath, ...argv], { stdio: ['ignore', 'pipe', 'pipe'] })
    : spawn(process.execPath, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
  started.push(proc);
  const log: string[] = [];
  proc.stderr!.on('data', d => log.push(...String(d).split('\n').filter(Boolean)));
  let out = '';
  for await (const chunk of proc.stdout!) {
    out += chunk;
    if (/listening on .*:\d+ /.test(out)) break;
  }
  proc.stdout!.resume();
  const port = Number(/listening on .*:(\d+) /.exec(out)?.[1]);
  if (!port) throw new Error(`ringwire serve did not start: ${log.join('\n')}`);
  return { proc, pid: proc.pid!, port, log };
}

/** CPU seconds (user + system) a process, or one thread of it (/proc/<tid>), has used so far. */
function cpuSeconds(pid: number): number {
  const c = cpuTime(pid);
  return c.user + c.system;
}

/** The busiest thread's share of one CPU over `ms`. */
async function busiestThread(pid: number, ms: number): Promise<number> {
  const read = () => new Map(fs.readdirSync(`/proc/${pid}/task`).map(t => [t, cpuSeconds(Number(t))]));
  const a = read();
  await sleep(ms);
  const b = read();
  let max = 0;
  for (const [t, v] of b) max = Math.max(max, v - (a.get(t) ?? v));
  return max / (ms / 1000);
}

function stop(p: ChildProcess): void {
  if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
}

interface Row { case: string; server: string; legit: string; p50: string; p99: string; rss: string; cpu: string; note: string }
const rows: Row[] = [];

async function measure(name: string, serverArgs: string[], hostile: (s: Server) => Promise<ChildProcess[]>, o: { ulimit?: number; warm?: number; probes?: number; every?: number; framing?: string; after?: (s: Server) => Promise<string> } = {}): Promise<void> {
  const s = await serve(serverArgs, o.ulimit);
  try {
    const cpu0 = cpuSeconds(s.pid);
    const t0 = performance.now();
    const attackers = await hostile(s);
    await sleep(o.warm ?? 2000);
    const r = await line(child(['--role', 'probe', '--port', String(s.port), '--count', String(o.probes ?? 50), '--every', String(o.every ?? 100), '--timeout', '10000', '--framing', o.framing ?? 'length']));
    const secs = (performance.now() - t0) / 1000;
    const cpu = (cpuSeconds(s.pid) - cpu0) / secs;
    const note = o.after ? await o.after(s) : '';
    for (const a of attackers) stop(a);
    rows.push({
      case: name, server: serverArgs.join(' '), legit: `${r.served}/${r.served! + r.failed!}`,
      p50: r.p50 == null ? 'none served' : `${r.p50.toFixed(1)} ms`, p99: r.p99 == null ? 'none served' : `${r.p99.toFixed(1)} ms`, rss: `${(peakRss(s.pid) / 2 ** 20).toFixed(0)} MiB`, cpu: `${cpu.toFixed(2)} cores`, note,
    });
    console.error(`${name}: ${JSON.stringify(rows.at(-1))}`);
  } finally {
    stop(s.proc);
  }
}

async function runner(argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: {
    workers: { type: 'string' }, balance: { type: 'string' }, busy: { type: 'string', default: '5000' },
  } });
  const cases = positionals.length ? positionals : ['accept', 'slowloris', 'slowloris-per-ip', 'silent-holders', 'fd-exhaustion', 'stall'];
  const small = ['--rx-ring', '4k', '--tx-ring', '4k', '--max-frame', '1k'];
  const threads = values.workers ? ['--workers', values.workers, ...(values.balance ? ['--balance', values.balance] : [])] : [];
  for (const c of cases) {
    if (c === 'accept') {
      const busyCount = Number(values.busy);
      let flood = '';
      await measure(`accept, ${busyCount} busy connections`, ['--max-connections', '8192', '--framing', 'length', ...small, ...threads], async s => {
        const gens = [0, 1].map(() => child(['--role', 'busy', '--port', String(s.port), '--count', String(busyCount / 2), '--size', '64']));
        const done = [];
        for (const g of gens) done.push(await line(g));
        flood = `${done.reduce((n, d) => n + d.served!, 0)} busy served after ${(Math.max(...done.map(d => d.ms!)) / 1000).toFixed(1)} s; load ${fs.readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')}`;
        return gens;
      }, { probes: 30, every: 200, after: async () => flood });
    } else if (c === 'slowloris' || c === 'slowloris-per-ip') {
      const perIp = c === 'slowloris-per-ip' ? ['--max-connections-per-ip', '64'] : [];
      await measure(`${c}: 512 reconnecting, 1 byte/s`, ['--max-connections', '512', '--framing', 'length', ...perIp, ...threads], async s => [
        child(['--role', 'slowloris', '--port', String(s.port), '--count', '512', '--every', '1000', '--from', '127.0.0.2', '--reconnect']),
      ], { warm: 15_000, probes: 100, every: 100 });
    } else if (c === 'silent-holders') {
      const w = values.workers ?? '2';
      await measure(`silent-holders: ulimit -n 256, 1000 connections that send nothing, workers ${w}`, ['--max-connections', '64', '--framing', 'length', '--workers', w], async s => [
        child(['--role', 'hold', '--port', String(s.port), '--count', '1000', '--from', '127.0.0.2']),
      ], { ulimit: 256, warm: 3000, after: async s => {
        const busiest = await busiestThread(s.pid, 2000);
        return `busiest thread ${(busiest * 100).toFixed(1)}% afterwards; log: ${s.log.filter(l => /TOO_MANY|suppressed/.test(l)).slice(0, 2).join(' | ')}`;
      } });
    } else if (c === 'fd-exhaustion') {
      // Descriptors taken from under a running server: its soft limit lowered to 20 above what it holds (prlimit).
      const w = values.workers ?? '2';
      await measure(`fd-exhaustion: limit lowered to 20 free descriptors, 1000 held connections, workers ${w}`, ['--max-connections', '400', '--framing', 'length', '--workers', w], async s => {
        execFileSync('prlimit', ['--pid', String(s.pid), `--nofile=${fs.readdirSync(`/proc/${s.pid}/fd`).length + 20}:`]);
        return [child(['--role', 'hold', '--port', String(s.port), '--count', '1000', '--from', '127.0.0.2'])];
      }, { warm: 3000, after: async s => {
        const busiest = await busiestThread(s.pid, 2000);
        const logged = s.log.filter(l => /NO_DESCRIPTORS/.test(l));
        return `busiest thread ${(busiest * 100).toFixed(1)}% afterwards; ${logged.length} ERR_NO_DESCRIPTORS log lines, the first: ${logged[0] ?? 'none'}`;
      } });
    } else if (c === 'stall') {
      const fixture = path.join(root, 'test/fixtures/stall-handler.mjs');
      await measure('stall: a handler blocks its thread 3 s on every "stall" frame', ['--framing', 'length', '--handler', fixture, '--workers', values.workers ?? '2', '--stall-timeout', '500ms', '--stall-restart', '2s'], async s => {
        const sock = net.connect({ port: s.port, host: '127.0.0.1', localAddress: '127.0.0.2' });
        sock.on('error', () => {});
        await once(sock, 'connect');
        const stallFrame = Buffer.concat([Buffer.from([0, 0, 0, 5]), Buffer.from('stall')]);
        const timer = setInterval(() => sock.write(stallFrame), 3000);
        sock.write(stallFrame);
        sock.on('close', () => clearInterval(timer));
        return [];
      }, { warm: 500, after: async s => s.log.filter(l => /stall|WORKER_EXIT/.test(l)).slice(0, 3).join(' | ') });
    } else {
      throw new Error(`unknown case ${c}`);
    }
  }
  console.log(`\nringwire hostile-client replay, Node ${process.versions.node}, ${new Date().toISOString()}\n`);
  console.log('| case | server options | legit served | first reply p50 | p99 | server peak RSS | server CPU | note |');
  console.log('|---|---|---:|---:|---:|---:|---:|---|');
  for (const r of rows) console.log(`| ${r.case} | \`${r.server}\` | ${r.legit} | ${r.p50} | ${r.p99} | ${r.rss} | ${r.cpu} | ${r.note} |`);
}

const { values: role } = parseArgs({ args: process.argv.slice(2), strict: false, options: {
  role: { type: 'string' }, port: { type: 'string' }, count: { type: 'string' }, size: { type: 'string' }, every: { type: 'string' },
  from: { type: 'string' }, timeout: { type: 'string' }, framing: { type: 'string' }, reconnect: { type: 'boolean' },
} });
const n = (v: unknown, d = 0) => (v === undefined ? d : Number(v));
process.on('exit', () => started.forEach(stop));
process.on('SIGINT', () => process.exit(130));
if (role.role === 'busy') await busy(n(role.port), n(role.count), n(role.size, 64), String(role.from ?? '127.0.0.1'));
else if (role.role === 'slowloris') await slowloris(n(role.port), n(role.count), n(role.every, 1000), String(role.from ?? '127.0.0.2'), !!role.reconnect);
else if (role.role === 'hold') await hold(n(role.port), n(role.count), String(role.from ?? '127.0.0.2'));
else if (role.role === 'probe') await probe(n(role.port), n(role.count), n(role.every), n(role.timeout, 10_000), String(role.framing ?? 'length'));
else await runner(process.argv.slice(2).filter(a => !a.startsWith('--role')));
process.exit(0);
