// Measures what an idle connection costs in memory: N connections on one thread,
// each having sent one 64 B frame and received it back (every byte compared), then
// idle; the server's RSS before and with them, and the memory per idle connection,
// for `ringwire serve` against a plain `node:net` echo server holding as many
// sockets (src/bench/plain-echo.ts, mode data). Contenders alternate round by round
// (A B A B …) so a drift of the machine hits both. Prints a table, writes JSON.
//
//   npm run measure:idle                      N = the largest count the descriptor limit allows
//   node scripts/idle-connections.ts --connections 19000 --rounds 2 --clients 4 --settle 10s
//   node scripts/idle-connections.ts --ringwire-args="--max-frame 512 --rx-ring 1k --tx-ring 1k"   (more serve options)
//
// Bounded: every wait has a deadline (a round gives up after --timeout), and every
// process it starts (servers, client processes) is killed by its PID when it ends.
// Loopback only: servers listen on 127.0.0.1, and the clients, in child processes
// (`--role client`), connect from 127.x.y.z source addresses of their own, a fresh
// set each round, so no round waits for the ports another left in TIME_WAIT.
//
// The per-connection figure is (RSS with N idle − RSS before the first connection)
// ÷ N, both read from /proc/<pid>/status once the server has been left idle for
// --settle; "100,000 by the figure" is the RSS before plus 100,000 times it.
// Kernel socket buffers are not in RSS (the kernel's, for every server alike).

import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { mib } from '../src/bench/format.ts';
import { machine } from '../src/bench/machine.ts';
import { renderTable } from '../src/bench/text-table.ts';
import { parseDuration } from '../src/units.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const cli = process.env.RINGWIRE_CLI ?? path.join(root, 'dist/cli.js'); // RINGWIRE_CLI: measure another build
const plainEcho = path.join(root, 'dist/plain-echo.js');
const self = fileURLToPath(import.meta.url);
const sleep = (ms: number) => new Promise(r => setTimeout(r, ms));
const started: ChildProcess[] = [];

const FRAME = 64; // bytes on the wire: a 4-byte big-endian length and 60 bytes of payload
const PROJECTED = 100_000;

// ---------- the client role, run in child processes ----------

/**
 * Opens `count` connections from `from`, at most `window` of them still waiting for
 * their echo at a time (so the listen queue never overflows); each sends one frame
 * whose payload names the connection, and compares the echo byte for byte. Prints
 * one JSON line when every connection has had its echo or failed, then holds the
 * connections open, sending nothing, until it is killed.
 */
async function client(port: number, count: number, from: string, window: number): Promise<void> {
  const t0 = performance.now();
  let ok = 0;
  let failed = 0;
  let pending = 0;
  let wake: (() => void) | undefined;
  const settle = (good: boolean) => {
    pending--;
    if (good) ok++;
    else failed++;
    wake?.();
  };
  for (let i = 0; i < count; i++) {
    while (pending >= window) await new Promise<void>(r => { wake = r; });
    pending++;
    const frame = Buffer.alloc(FRAME, i & 0xff);
    frame.writeUInt32BE(FRAME - 4, 0);
    frame.write(`${from}#${i}`, 4, 'latin1');
    const s = net.connect({ port, host: '127.0.0.1', localAddress: from, noDelay: true });
    let got = Buffer.alloc(0);
    let done = false;
    const finish = (good: boolean) => {
      if (!done) { done = true; settle(good); }
    };
    s.on('connect', () => s.write(frame));
    s.on('data', d => {
      got = Buffer.concat([got, d]);
      if (got.length >= FRAME) finish(got.equals(frame));
    });
    s.on('error', () => finish(false));
    s.on('close', () => finish(false));
  }
  while (pending > 0) await new Promise<void>(r => { wake = r; });
  process.stdout.write(`${JSON.stringify({ ok, failed, ms: Math.round(performance.now() - t0) })}\n`);
  await new Promise(() => {}); // hold them, idle, until killed
}

// ---------- the runner ----------

interface Memory { rss: number; anon: number; file: number; shmem: number; hwm: number }

/** The resident memory of a process, from /proc/<pid>/status (bytes). */
function memory(pid: number): Memory {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN) * 1024;
  return { rss: kb('VmRSS'), anon: kb('RssAnon'), file: kb('RssFile'), shmem: kb('RssShmem'), hwm: kb('VmHWM') };
}

/** The hard limit on open descriptors of this process (what the servers and clients inherit). */
function descriptorHardLimit(): number {
  const m = /^Max open files\s+\d+\s+(\d+|unlimited)/m.exec(fs.readFileSync('/proc/self/limits', 'utf8'));
  return !m || m[1] === 'unlimited' ? Infinity : Number(m[1]);
}

function loadAverage(): string {
  return fs.readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
}

function stop(p: ChildProcess): void {
  if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
}

/** Resolves with the first match of `re` in the stream's text, rejects after `ms`. */
function waitFor(stream: NodeJS.ReadableStream, re: RegExp, ms: number, what: string): Promise<RegExpExecArray> {
  return new Promise((resolve, reject) => {
    let text = '';
    const timer = setTimeout(() => { stream.off('data', onData); reject(new Error(`${what}: nothing matching ${re} within ${ms} ms; got: ${text.slice(-500)}`)); }, ms);
    const onData = (d: Buffer | string) => {
      text += d;
      const m = re.exec(text);
      if (m) { clearTimeout(timer); stream.off('data', onData); resolve(m); }
    };
    stream.on('data', onData);
  });
}

interface Contender { name: string; argv: string[]; what: string }

interface Sample {
  contender: string;
  round: number;
  connections: number;
  echoed: number;
  failed: number;
  connectMs: number;
  before: Memory;
  idle: Memory;
  /** RSS each second while left idle, the last one is idle.rss. */
  series: number[];
  perConnection: number;
  serverLine: string;
  loadAverage: string;
}

async function measureOnce(c: Contender, round: number, index: number, o: { connections: number; clients: number; settleMs: number; timeoutMs: number; window: number }): Promise<Sample> {
  const server = spawn(process.execPath, c.argv, { stdio: ['ignore', 'pipe', 'pipe'] });
  started.push(server);
  const clients: ChildProcess[] = [];
  let stderr = '';
  server.stderr!.on('data', d => { stderr += d; });
  try {
    const listening = await waitFor(server.stdout!, /listening on [\d.]+:(\d+).*\n/, 15_000, `${c.name} did not start (${stderr.trim()})`);
    server.stdout!.resume();
    const port = Number(listening[1]);
    await sleep(o.settleMs);
    const before = memory(server.pid!);
    const deadline = performance.now() + o.timeoutMs;
    const results = await Promise.all(Array.from({ length: o.clients }, async (_, k) => {
      const count = Math.floor(o.connections / o.clients) + (k < o.connections % o.clients ? 1 : 0);
      // A source address of its own per client, round and contender: 127.<round>.<contender>.<10 + k>.
      const from = `127.${1 + round}.${1 + index}.${10 + k}`;
      const p = spawn(process.execPath, [self, '--role', 'client', '--port', String(port), '--count', String(count), '--from', from, '--window', String(o.window)], { stdio: ['ignore', 'pipe', 'inherit'] });
      started.push(p);
      clients.push(p);
      const m = await waitFor(p.stdout!, /^(\{.*\})\n/m, Math.max(1, deadline - performance.now()), `client ${from}`);
      return JSON.parse(m[1]!) as { ok: number; failed: number; ms: number };
    }));
    if (server.exitCode !== null || server.signalCode !== null) throw new Error(`${c.name} exited during the round: ${stderr.trim()}`);
    // Left idle for settleMs, its RSS read every second (kept in the JSON: a collection shows as a step).
    const series: number[] = [];
    for (let t = 0; t < o.settleMs; t += 1000) {
      await sleep(Math.min(1000, o.settleMs - t));
      series.push(memory(server.pid!).rss);
    }
    const idle = memory(server.pid!);
    const echoed = results.reduce((n, r) => n + r.ok, 0);
    return {
      contender: c.name, round, connections: o.connections, echoed, failed: results.reduce((n, r) => n + r.failed, 0),
      connectMs: Math.max(...results.map(r => r.ms)), before, idle, series, perConnection: (idle.rss - before.rss) / echoed,
      serverLine: listening[0].trim(), loadAverage: loadAverage(),
    };
  } finally {
    stop(server); // the server first: its side of each connection takes the TIME_WAIT
    for (const p of clients) stop(p);
  }
}

/** What `ringwire serve --max-connections 100000` says today (it starts, or why not). */
async function tryHundredThousand(extra: string[]): Promise<string> {
  const p = spawn(process.execPath, [cli, 'serve', '--port', '0', '--framing', 'length:4:be', '--max-connections', String(PROJECTED), ...extra], { stdio: ['ignore', 'pipe', 'pipe'] });
  started.push(p);
  let text = '';
  p.stdout!.on('data', d => { text += d; });
  p.stderr!.on('data', d => { text += d; });
  const exited = new Promise<void>(r => p.on('exit', () => r()));
  await Promise.race([exited, waitFor(p.stdout!, /listening on .*\n/, 10_000, 'serve').catch(() => {})]);
  stop(p);
  await exited;
  return text.split('\n').find(l => /listening on|ERR_/.test(l))?.replace(/^ringwire: /, '') ?? text.trim();
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

async function runner(argv: string[]): Promise<void> {
  const { values } = parseArgs({ args: argv, options: {
    connections: { type: 'string' }, rounds: { type: 'string', default: '2' }, clients: { type: 'string', default: '4' },
    settle: { type: 'string', default: '10s' }, timeout: { type: 'string', default: '180s' }, window: { type: 'string', default: '256' },
    'ringwire-args': { type: 'string', default: '' }, out: { type: 'string', default: path.join(root, 'bench-results') }, help: { type: 'boolean', short: 'h' },
  } });
  if (values.help) {
    console.log(fs.readFileSync(self, 'utf8').split('\n').filter(l => l.startsWith('//')).map(l => l.slice(3)).join('\n'));
    return;
  }
  const limit = descriptorHardLimit();
  // The server holds N sockets plus its own descriptors (listening sockets, pipes,
  // the event loop's): 1,000 are left for those.
  const connections = values.connections ? Number(values.connections) : Math.min(19_000, Math.floor((limit - 1000) / 1000) * 1000);
  const rounds = Number(values.rounds);
  const clients = Math.max(Number(values.clients), Math.ceil(connections / (limit - 1000))); // each client process has the same limit
  const settleMs = parseDuration('--settle', values.settle);
  const extra = values['ringwire-args'].split(/\s+/).filter(Boolean);
  const ringwireArgs = ['--framing', 'length:4:be', '--max-connections', String(connections), ...extra];
  const contenders: Contender[] = [
    { name: 'ringwire', argv: [cli, 'serve', '--port', '0', ...ringwireArgs], what: `ringwire serve ${ringwireArgs.join(' ')}` },
    { name: 'node:net', argv: [plainEcho, 'data', '0'], what: "net.createServer, socket.on('data', d => socket.write(d)) (src/bench/plain-echo.ts data)" },
  ];
  const m = machine();
  console.log(`idle connections: ${connections.toLocaleString('en-US')} per server on one thread (descriptor hard limit ${limit}), ${clients} client processes, ${rounds} round(s), settle ${values.settle}`);
  console.log(`Node ${m.node}, ${m.cpuModel} x ${m.cores}, Linux ${m.kernel}, commit ${m.gitCommit?.slice(0, 7) ?? '?'}${m.gitDirty ? ' (dirty)' : ''}, load average ${loadAverage()}`);
  for (const c of contenders) console.log(`  ${c.name}: ${c.what}`);
  const hundredThousand = await tryHundredThousand(extra);
  console.log(`  ringwire serve --max-connections ${[PROJECTED, ...extra].join(' ')}: ${hundredThousand}`);

  const samples: Sample[] = [];
  const loadBefore = loadAverage();
  for (let round = 0; round < rounds; round++) {
    for (const [index, c] of contenders.entries()) {
      const s = await measureOnce(c, round, index, { connections, clients, settleMs, timeoutMs: parseDuration('--timeout', values.timeout), window: Number(values.window) });
      samples.push(s);
      console.log(`  round ${round + 1} ${c.name}: ${s.echoed} echoed, ${s.failed} failed in ${(s.connectMs / 1000).toFixed(1)} s; RSS ${mib(s.before.rss)} -> ${mib(s.idle.rss)} (anon ${mib(s.idle.anon)}, shmem ${mib(s.idle.shmem)}); ${(s.perConnection / 1024).toFixed(2)} KiB per connection; load ${s.loadAverage}`);
      if (c.name === 'ringwire' && round === 0) console.log(`    ${s.serverLine}`);
    }
  }

  const failed = samples.filter(s => s.failed > 0 || s.echoed !== s.connections);
  const per = (name: string) => samples.filter(s => s.contender === name);
  const plainPer = median(per('node:net').map(s => s.perConnection));
  const rows = contenders.map(c => {
    const ss = per(c.name);
    const before = median(ss.map(s => s.before.rss));
    const idle = median(ss.map(s => s.idle.rss));
    const pc = median(ss.map(s => s.perConnection));
    return [
      c.name, connections.toLocaleString('en-US'), mib(before), mib(idle),
      `${(pc / 1024).toFixed(2)} KiB`, `${(Math.min(...ss.map(s => s.perConnection)) / 1024).toFixed(2)}–${(Math.max(...ss.map(s => s.perConnection)) / 1024).toFixed(2)}`,
      `${((before + PROJECTED * pc) / 2 ** 30).toFixed(2)} GiB`, `${(pc / plainPer).toFixed(2)}×`,
    ];
  });
  console.log(`\nmedians of ${rounds} round(s); load average ${loadBefore} before, ${loadAverage()} after\n`);
  console.log(renderTable(['server', 'idle connections', 'RSS before', 'RSS idle', 'per connection', 'min–max KiB', `RSS for ${PROJECTED.toLocaleString('en-US')} by the figure`, '× node:net per connection'], rows, 'markdown'));
  console.log(`\ntargets (issue 22): <= 1 GiB for ${PROJECTED.toLocaleString('en-US')} by the per-connection figure, <= 1.30× node:net per idle connection`);
  if (failed.length) console.log(`\nFAILED: ${failed.map(s => `${s.contender} round ${s.round + 1}: ${s.echoed} of ${s.connections} echoed`).join('; ')}`);

  fs.mkdirSync(values.out, { recursive: true });
  const file = path.join(values.out, `idle-connections-${m.date.replace(/[:.]/g, '-')}.json`);
  fs.writeFileSync(file, `${JSON.stringify({ machine: m, connections, clients, rounds, settleMs, contenders, hundredThousand, loadBefore, loadAfter: loadAverage(), samples }, null, 2)}\n`);
  console.log(`\nwrote ${path.relative(process.cwd(), file)}`);
  if (failed.length) process.exitCode = 1;
}

const { values: role } = parseArgs({ args: process.argv.slice(2), strict: false, options: {
  role: { type: 'string' }, port: { type: 'string' }, count: { type: 'string' }, from: { type: 'string' }, window: { type: 'string' },
} });
process.on('exit', () => started.forEach(stop));
process.on('SIGINT', () => process.exit(130));
process.on('SIGTERM', () => process.exit(143));
if (role.role === 'client') await client(Number(role.port), Number(role.count), String(role.from), Number(role.window ?? 256));
else await runner(process.argv.slice(2));
