// The acceptance runs of issues 19 and 21 ("Done when", each bullet as the issue
// words it): a real `ringwire serve` process (dist/cli.js: `npm run build` first),
// real sockets on 127.0.0.1, every wait bounded, one JSON line of results each.
// Run from the repository root with `npx node scripts/acceptance/<name>.mjs [core] ...`:
//   handler-timeout  200 never-settling handlers, --handler-timeout 1s --max-connections 220: /proc/<pid>/fd, 20 new clients
//   concurrency      256 frames to a 50 ms-timer handler; add `--concurrency 64`
//   forward          an async onForward that rejects / resolves false, beside 10 bystanders (add `--workers 2`)
//   big-reply        600 KB sent from a .then outside the handler (add `--write stream`)
//   drain            SIGTERM with 50 x 400 frames in flight: [core] [drain-timeout] [conns] [per] [serve args]; PRE=ms before SIGTERM
//   drain-publish    publishes from handlers in flight at SIGTERM reach every subscriber (add `--workers 2`)
//   kv-store         `npm start -- --workers 2 ... examples/kv-store.mjs`: SET b 2, 50 fresh GETs
//   lifecycle        --workers 2, onStart/onStop with a BroadcastChannel, --handler-options, SIGTERM with work in flight
//   issue-20-cli     issue 20's command-line values, each refused: exit 2, one line (uses ROOT only)
//   big-frame        issue 22: a 64 MiB length:4:be echo beside 1,000 connections echoing 64 B frames: [core] [others] [MiB] [gapMs]
// The memory bullet (64 never-readers beside a reader, RSS against the printed bound)
// is scripts/probe-slow-consumers.ts --clients 64.
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import net from 'node:net';
import { once } from 'node:events';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const sleep = ms => new Promise(r => setTimeout(r, ms));

export async function serve(args, { env, killAfterMs = 120_000 } = {}) {
  const child = spawn(process.execPath, [path.join(ROOT, 'dist/cli.js'), 'serve', '--port', '0', ...args], { stdio: ['ignore', 'pipe', 'pipe'], cwd: ROOT, env: { ...process.env, ...env } });
  let out = '', err = '';
  child.stdout.setEncoding('utf8').on('data', d => (out += d));
  child.stderr.setEncoding('utf8').on('data', d => (err += d));
  const killer = setTimeout(() => child.kill('SIGKILL'), killAfterMs);
  child.once('exit', () => clearTimeout(killer));
  const exited = new Promise(resolve => child.once('exit', (code, signal) => resolve({ code, signal, at: Date.now() })));
  const end = Date.now() + 20_000;
  let port;
  while (!(port = /listening on [^ ]*?:(\d+)/.exec(out + err)?.[1])) {
    if (Date.now() > end) { child.kill('SIGKILL'); throw new Error(`no listening line: ${out} ${err}`); }
    await sleep(20);
  }
  return { child, port: Number(port), pid: child.pid, out: () => out, err: () => err, exited };
}

export const fds = pid => readdirSync(`/proc/${pid}/fd`).length;
export const rssKiB = pid => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]);
export const hwmKiB = pid => Number(/VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]);

export async function connect(port) {
  const s = net.connect({ port, host: '127.0.0.1', noDelay: true });
  s.on('error', () => {});
  await once(s, 'connect');
  return s;
}

/** Everything a socket receives until it closes, and how it closed (reset or FIN). */
/** A client that keeps what it read as text, when its end came (fin, endAt), its first error's code, and a promise of its close. */
export async function client(port) {
  const s = await connect(port);
  const st = { s, got: '', fin: false, endAt: 0, error: undefined };
  s.setEncoding('utf8');
  s.on('data', d => (st.got += d));
  s.on('end', () => { st.fin = true; st.endAt = Date.now(); });
  s.on('error', e => (st.error ??= e.code));
  st.closed = new Promise(r => s.once('close', r));
  return st;
}

export function collect(s) {
  const parts = [];
  let error;
  s.on('data', d => parts.push(d));
  s.on('error', e => (error = e));
  let ended = false;
  s.on('end', () => (ended = true));
  const done = new Promise(resolve => s.once('close', () => resolve({ bytes: Buffer.concat(parts), error: error?.code, fin: ended })));
  return { done, bytes: () => Buffer.concat(parts) };
}

export async function roundTrip(port, text) {
  const s = await connect(port);
  const c = collect(s);
  s.end(text);
  return String((await c.done).bytes);
}

export async function until(cond, ms, what) {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out: ${what}`);
    await sleep(10);
  }
}

export async function metrics(port) {
  const s = await connect(port);
  const c = collect(s);
  s.end(`GET /metrics HTTP/1.0\r\nHost: x\r\n\r\n`);
  return String((await c.done).bytes);
}

export async function freePort() {
  const srv = net.createServer().listen(0, '127.0.0.1');
  await once(srv, 'listening');
  const { port } = srv.address();
  await new Promise(r => srv.close(r));
  return port;
}

/** The sum over threads of a Prometheus counter with this code label. */
export const metricSum = (m, name, code) => [...m.matchAll(new RegExp(`^${name}\\{[^}]*code="${code}"[^}]*\\} (\\d+)`, 'gm'))].reduce((a, x) => a + Number(x[1]), 0);
