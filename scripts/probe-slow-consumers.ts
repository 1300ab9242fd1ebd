// The never-reading-clients probe (issues 8 and 19), as a script, not a test: it
// measures RSS, which only means something in a process of its own. For each
// handler kind it starts `ringwire serve` with a handler that answers every frame
// with one reply of --reply bytes (sync onFrame, async onFrame that awaits
// setImmediate, or an onConnection task), opens N clients (default 300) that each
// write --requests empty length:4 frames and never read, and runs one client that
// reads throughout (request, whole reply, again). It samples the server's RSS from
// /proc while the clients hang on, closes them, and prints the server's peak
// (VmHWM) against the bound it printed at start, how many never-readers were
// closed as ERR_SLOW_CONSUMER, and how many replies the reading client got or lost.
// The figures also go to a JSON file.
//   node scripts/probe-slow-consumers.ts [--clients 300] [--reply 1m] [--requests 64] [--kinds sync,async,task]
//     [--seconds 8] [--core wasm|js] [--write-timeout 30s] [--max-queued-total 64m] [--json bench-results/probe-slow-consumers.json]
// Linux only (/proc). Binds 127.0.0.1 only; stops every server it started.

import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    clients: { type: 'string', default: '300' }, reply: { type: 'string', default: '1m' }, requests: { type: 'string', default: '64' },
    kinds: { type: 'string', default: 'sync,async,task' }, seconds: { type: 'string', default: '8' }, core: { type: 'string', default: 'wasm' },
    'write-timeout': { type: 'string', default: '30s' }, 'max-queued-total': { type: 'string' }, json: { type: 'string', default: 'bench-results/probe-slow-consumers.json' },
  },
});
const clients = Number(values.clients);
const seconds = Number(values.seconds);
const requests = Number(values.requests);
const bytes = (s: string) => Number(/^(\d+)/.exec(s)![1]) * ({ k: 1024, m: 1024 ** 2 }[s.slice(-1).toLowerCase()] ?? 1);
const replySize = bytes(values.reply!);
const kinds = values.kinds!.split(',');
const MiB = 1024 * 1024;

const dir = mkdtempSync(path.join(os.tmpdir(), 'ringwire-probe-'));
const handlers: Record<string, string> = {
  sync: 'export function onFrame(_frame, c) { c.send(reply); }',
  async: 'export async function onFrame(_frame, c) { await new Promise(r => setImmediate(r)); c.send(reply); }',
  task: 'export async function onConnection(c) { for await (const _frame of c) c.send(reply); }',
};

/** The server's resident memory now and at its peak (VmHWM), in MiB. */
function rss(pid: number): { rss: number; hwm: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (k: string) => Number(new RegExp(`${k}:\\s+(\\d+)`).exec(status)![1]) / 1024;
  return { rss: kb('VmRSS'), hwm: kb('VmHWM') };
}

/** One client that reads: a request, the whole reply, again, until stopped; counts replies served and connections the server closed. */
function reader(port: number): { stop: () => { served: number; lost: number } } {
  let served = 0;
  let lost = 0;
  let running = true;
  const want = 4 + replySize;
  const run = () => {
    if (!running) return;
    const s = net.connect({ port, host: '127.0.0.1' });
    let got = 0;
    s.on('error', () => {});
    s.on('connect', () => s.write(Buffer.alloc(4)));
    s.on('data', d => {
      got += d.length;
      if (got >= want) {
        served++;
        got -= want;
        if (running) s.write(Buffer.alloc(4));
      }
    });
    s.on('close', () => {
      if (!running) return;
      lost++;
      setTimeout(run, 10);
    });
    stopSocket = () => s.destroy();
  };
  let stopSocket = () => {};
  run();
  return { stop: () => { running = false; stopSocket(); return { served, lost }; } };
}

async function probe(kind: string) {
  const handler = path.join(dir, `${kind}.mjs`);
  writeFileSync(handler, `const reply = Buffer.alloc(${replySize}, 7);\n${handlers[kind]}\n`);
  const args = ['dist/cli.js', 'serve', '--port', '0', '--core', values.core!, '--framing', 'length:4', '--handler', handler,
    '--max-connections', String(Math.max(1024, clients + 16)), '--max-reply', String(replySize), '--write-timeout', values['write-timeout']!];
  if (values['max-queued-total']) args.push('--max-queued-total', values['max-queued-total']);
  const server = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const kill = () => server.kill('SIGKILL');
  process.on('exit', kill);
  const [line] = await once(server.stdout.setEncoding('utf8'), 'data') as [string];
  const port = Number(/:(\d+) /.exec(line)![1]);
  const printed = /memory=(.*? at most \(.*?\))/.exec(line)![1]!;
  const bound = Number(/memory=([\d.]+) MiB at most/.exec(line)![1]);
  let output = line;
  server.stdout.on('data', (d: string) => (output += d));
  server.stderr.setEncoding('utf8').on('data', (d: string) => (output += d));
  const idle = rss(server.pid!);
  const bystander = reader(port);
  const sockets: net.Socket[] = [];
  for (let i = 0; i < clients; i++) {
    const s = net.connect({ port, host: '127.0.0.1' });
    s.on('error', () => {});
    s.pause(); // never reads
    s.write(Buffer.alloc(4 * requests)); // `requests` empty frames, each asking for a reply
    sockets.push(s);
  }
  let peak = idle.rss;
  const end = Date.now() + seconds * 1000;
  while (Date.now() < end) {
    await new Promise(r => setTimeout(r, 50));
    peak = Math.max(peak, rss(server.pid!).rss);
  }
  const read = bystander.stop();
  for (const s of sockets) s.destroy();
  await new Promise(r => setTimeout(r, 1000));
  const after = rss(server.pid!);
  server.kill('SIGTERM');
  await once(server, 'exit');
  process.off('exit', kill);
  // The per-connection log lines are rate-limited: the count is in the summary the server logs as it exits.
  const slow = Number(/closed after .*ERR_SLOW_CONSUMER (\d+)/.exec(output)?.[1] ?? 0);
  const result = {
    kind, core: values.core, clients, replyBytes: replySize, requestsPerClient: requests, seconds, printed, boundMiB: bound,
    idleMiB: +idle.rss.toFixed(1), peakMiB: +Math.max(peak, after.hwm).toFixed(1), afterMiB: +after.rss.toFixed(1),
    underBound: Math.max(peak, after.hwm) <= bound, slowConsumers: slow, readerServed: read.served, readerLost: read.lost,
  };
  console.log(`${kind.padEnd(5)} bound ${bound.toFixed(1)} MiB  RSS idle ${result.idleMiB}  peak ${result.peakMiB}  after ${result.afterMiB} MiB  ${result.underBound ? 'under' : 'OVER'} the bound;  ERR_SLOW_CONSUMER ${slow}/${clients};  reader: ${read.served} replies, ${read.lost} lost`);
  return result;
}

console.log(`node ${process.version}, ${os.cpus().length} CPUs (${os.cpus()[0]?.model}), load ${os.loadavg().map(l => l.toFixed(2)).join(' ')}`);
console.log(`${clients} never-reading clients x ${requests} requests for ${replySize} bytes each, ${seconds} s, core=${values.core}, write-timeout ${values['write-timeout']}`);
const results = [];
for (const kind of kinds) {
  if (!handlers[kind]) throw new Error(`--kinds: ${kind} is not one of ${Object.keys(handlers).join(', ')}`);
  results.push(await probe(kind));
}
console.log(`printed at start: memory=${results[0]?.printed}`);
mkdirSync(path.dirname(values.json!), { recursive: true });
writeFileSync(values.json!, JSON.stringify({ node: process.version, cpus: os.cpus().length, load: os.loadavg(), date: new Date().toISOString(), results }, null, 2));
console.log(`written to ${values.json}`);
