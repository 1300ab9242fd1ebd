// The relay's memory while one large frame passes: `ringwire relay` in its own
// process, in front of a plain Node echo (in this process), one client sending one
// frame of --frame bytes (length:4) and reading it back, checked byte for byte. It
// prints the relay's RSS before the frame, its peak (VmHWM) and what the frame added,
// per core, and writes the numbers as JSON. Loopback only; the relay is stopped at
// the end (SIGTERM, then SIGKILL after 5 s); the whole run is bounded by --timeout.
//   node scripts/relay-rss.ts [--frame 64m] [--max-frame 64m] [--cores wasm,js] [--cli dist/cli.js] [--json FILE]
import net from 'node:net';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { parseBytes } from '../src/units.ts';

const { values } = parseArgs({
  options: {
    frame: { type: 'string', default: '64m' },
    'max-frame': { type: 'string', default: '64m' },
    cores: { type: 'string', default: 'wasm,js' },
    cli: { type: 'string', default: 'dist/cli.js' },
    json: { type: 'string' },
    timeout: { type: 'string', default: '120' },
  },
});
const size = parseBytes('--frame', values.frame);
const deadline = setTimeout(() => { console.error('relay-rss: timed out'); process.exit(1); }, Number(values.timeout) * 1000);

const echo = net.createServer(s => { s.on('error', () => {}); s.pipe(s); });
echo.listen(0, '127.0.0.1');
await once(echo, 'listening');
const echoPort = (echo.address() as net.AddressInfo).port;

const kib = (pid: number, field: string) => Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) * 1024;
const MiB = (n: number) => (n / 2 ** 20).toFixed(1);

/** Send `bytes`, half-close, resolve with everything that came back. */
async function roundTrip(port: number, bytes: Buffer): Promise<Buffer> {
  const s = net.connect({ port, host: '127.0.0.1' });
  await once(s, 'connect');
  const parts: Buffer[] = [];
  s.on('data', d => parts.push(d));
  s.end(bytes);
  await once(s, 'close');
  return Buffer.concat(parts);
}

const frame = Buffer.concat([Buffer.alloc(4), randomBytes(size)]);
frame.writeUInt32BE(size, 0);
const results = [];
for (const core of values.cores.split(',')) {
  const relay = spawn(process.execPath, [values.cli, 'relay', '--port', '0', '--core', core, '--framing', 'length:4', '--max-frame', values['max-frame'], '--upstream', `127.0.0.1:${echoPort}`], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  relay.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
  while (!/listening on [^ ]*:\d+/.test(out)) await new Promise(r => setTimeout(r, 20));
  const port = Number(/listening on [^ ]*:(\d+)/.exec(out)![1]);
  await roundTrip(port, Buffer.from([0, 0, 0, 4, 1, 2, 3, 4])); // one connection's setup in the baseline
  const before = kib(relay.pid!, 'VmRSS');
  const t0 = performance.now();
  const back = await roundTrip(port, frame);
  const ms = performance.now() - t0;
  const peak = kib(relay.pid!, 'VmHWM');
  if (!back.equals(frame)) throw new Error(`${core}: the frame came back different (${back.length} bytes)`);
  relay.kill('SIGTERM');
  const killer = setTimeout(() => relay.kill('SIGKILL'), 5000);
  await once(relay, 'exit');
  clearTimeout(killer);
  results.push({ core, frame: size, maxFrame: values['max-frame'], rssBefore: before, rssPeak: peak, added: peak - before, ms: Math.round(ms) });
  console.log(`${core}: a ${MiB(size)} MiB frame there and back in ${Math.round(ms)} ms; relay RSS ${MiB(before)} MiB before, peak ${MiB(peak)} MiB: +${MiB(peak - before)} MiB`);
}
if (values.json) writeFileSync(values.json, JSON.stringify({ node: process.version, cli: values.cli, results }, null, 2));
echo.close();
clearTimeout(deadline);
