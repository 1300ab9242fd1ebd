// The never-reading-clients probe of issue 8, as a script (not a test: it measures
// RSS, which only means something in a process of its own). It starts
// `ringwire serve` with a handler that answers every frame with 16 KiB, opens N
// clients (default 200) that each write 64 KiB of empty length:4 frames (16,384
// frames, so 256 MiB of replies asked for per client) and never read, samples the
// server's RSS from /proc while they hang on, closes them, and prints the server's
// peak and final RSS against the worst case it printed at start.
//   node scripts/probe-slow-consumers.ts [--clients 200] [--seconds 8] [--core wasm|js] [--write-timeout 30s]
// Linux only (/proc). Binds 127.0.0.1 only; stops the server it started.

import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync, writeFileSync, mkdtempSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';

const { values } = parseArgs({ options: { clients: { type: 'string', default: '200' }, seconds: { type: 'string', default: '8' }, core: { type: 'string', default: 'wasm' }, 'write-timeout': { type: 'string', default: '30s' } } });
const clients = Number(values.clients);
const seconds = Number(values.seconds);

const dir = mkdtempSync(path.join(os.tmpdir(), 'ringwire-probe-'));
const handler = path.join(dir, 'answer-16k.mjs');
writeFileSync(handler, 'const reply = Buffer.alloc(16384, 7);\nexport function onFrame(_frame, c) { c.send(reply); }\n');

const server = spawn(process.execPath, ['dist/cli.js', 'serve', '--port', '0', '--core', values.core!, '--framing', 'length:4', '--handler', handler, '--max-connections', String(Math.max(1024, clients)), '--write-timeout', values['write-timeout']!], { stdio: ['ignore', 'pipe', 'pipe'] });
const kill = () => server.kill('SIGKILL');
process.on('exit', kill);
const [line] = await once(server.stdout.setEncoding('utf8'), 'data') as [string];
const port = Number(/:(\d+) /.exec(line)![1]);
const budget = /memory=([\d.]+) MiB at most/.exec(line)![1];
let slow = 0;
server.stderr.setEncoding('utf8').on('data', (d: string) => { slow += d.split('ERR_SLOW_CONSUMER').length - 1; });

const rss = () => {
  const status = readFileSync(`/proc/${server.pid}/status`, 'utf8');
  const kb = (k: string) => Number(new RegExp(`${k}:\\s+(\\d+)`).exec(status)![1]) / 1024;
  return { rss: kb('VmRSS'), hwm: kb('VmHWM') };
};
const idle = rss();
const sockets: net.Socket[] = [];
for (let i = 0; i < clients; i++) {
  const s = net.connect({ port, host: '127.0.0.1' });
  s.on('error', () => {});
  s.pause(); // never reads
  s.write(Buffer.alloc(65536));
  sockets.push(s);
}
let peak = idle.rss;
const end = Date.now() + seconds * 1000;
while (Date.now() < end) {
  await new Promise(r => setTimeout(r, 100));
  peak = Math.max(peak, rss().rss);
}
for (const s of sockets) s.destroy();
await new Promise(r => setTimeout(r, 1000));
const after = rss();
console.log(`clients=${clients} core=${values.core} write-timeout=${values['write-timeout']} budget printed at start: ${budget} MiB (rings reserved + queued replies at most)`);
console.log(`server RSS idle ${idle.rss.toFixed(1)} MiB, peak ${peak.toFixed(1)} MiB (VmHWM ${after.hwm.toFixed(1)} MiB), after the clients left ${after.rss.toFixed(1)} MiB`);
console.log(`connections closed as ERR_SLOW_CONSUMER: ${slow} of ${clients}`);
server.kill('SIGTERM');
await once(server, 'exit');
