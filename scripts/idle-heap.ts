// Measures the JavaScript heap an idle connection keeps, and what it is made of:
// a server in its own process (--expose-gc) holding N connections, each having
// echoed one 64 B frame (every byte compared) and then idle past the sweep that
// gives rings back (ringIdleTimeout); `process.memoryUsage().heapUsed` after two full
// collections before the first connection and with N idle, ÷ N. With --snapshot,
// a heap snapshot before and after, and the classes whose count or size grew by
// N's order, per connection (count, self bytes). Contenders alternate round by
// round: ringwire (this checkout's src/, or --ringwire-src another's) and a plain
// node:net echo (socket.on('data', d => socket.write(d))).
//
//   npx node scripts/idle-heap.ts                          2,000 connections, 2 rounds, both contenders
//   npx node scripts/idle-heap.ts --connections 5000 --rounds 3 --snapshot
//   npx node scripts/idle-heap.ts --ringwire-src /work/main/src --label main   (another checkout as a third contender)
//
// Bounded: the server and client processes it starts are killed by PID when a round
// ends (or after --timeout); loopback only (127.0.0.1, port 0).

import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import v8 from 'node:v8';

const self = fileURLToPath(import.meta.url);
const root = path.resolve(path.dirname(self), '..');
const FRAME = 64;
const IDLE_MS = 2500; // well past ringIdleTimeout (100 ms by default): rings given back
const started: ChildProcess[] = [];
const sleep = (ms: number) => new Promise(r => setTimeout(r, ms));
const stop = (p: ChildProcess) => { if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL'); };

// ---------- the server role: listens, then answers 'measure' lines on stdin ----------

async function server(kind: string, src: string, connections: number): Promise<void> {
  let port: number;
  if (kind === 'net') {
    const s = net.createServer({ noDelay: true }, socket => {
      socket.on('data', d => socket.write(d));
      socket.on('error', () => {});
    });
    s.listen(0, '127.0.0.1');
    await once(s, 'listening');
    port = (s.address() as net.AddressInfo).port;
  } else {
    const { createServer } = await import(pathToFileURL(path.join(src, 'index.ts')).href);
    const s = createServer({ framing: 'length:4', maxConnections: connections + 100 });
    ({ port } = await s.listen(0, '127.0.0.1'));
  }
  process.stdout.write(`port ${port}\n`);
  let n = 0;
  for await (const line of (await import('node:readline')).createInterface({ input: process.stdin })) {
    const gc = (globalThis as { gc?: () => void }).gc!;
    gc();
    gc();
    let snapshot = '';
    if (line.startsWith('snapshot')) snapshot = v8.writeHeapSnapshot(path.join(os.tmpdir(), `idle-heap-${process.pid}-${n++}.heapsnapshot`));
    process.stdout.write(`${JSON.stringify({ heapUsed: process.memoryUsage().heapUsed, snapshot })}\n`);
  }
}

// ---------- the client role: N connections, one echo each, then held idle ----------

async function client(port: number, count: number): Promise<void> {
  let ok = 0;
  let pending = 0;
  let wake: (() => void) | undefined;
  const held: net.Socket[] = [];
  for (let i = 0; i < count; i++) {
    while (pending >= 128) await new Promise<void>(r => { wake = r; });
    pending++;
    const frame = Buffer.alloc(FRAME, i & 0xff);
    frame.writeUInt32BE(FRAME - 4, 0);
    frame.write(`#${i}`, 4, 'latin1');
    const s = net.connect({ port, host: '127.0.0.1', noDelay: true });
    held.push(s);
    let got = Buffer.alloc(0);
    let done = false;
    const finish = (good: boolean) => { if (!done) { done = true; pending--; if (good) ok++; wake?.(); } };
    s.on('connect', () => s.write(frame));
    s.on('data', d => { got = Buffer.concat([got, d]); if (got.length >= FRAME) finish(got.equals(frame)); });
    s.on('error', () => finish(false));
    s.on('close', () => finish(false));
  }
  while (pending > 0) await new Promise<void>(r => { wake = r; });
  process.stdout.write(`${JSON.stringify({ ok })}\n`);
  await new Promise(() => {});
}

// ---------- snapshots: what grew, per class ----------

type Classes = Map<string, { count: number; size: number }>;

/** Count and self size per (node type, name) of a heap snapshot. */
function classes(file: string): Classes {
  const snap = JSON.parse(fs.readFileSync(file, 'utf8')) as { snapshot: { meta: { node_fields: string[]; node_types: [string[]] } }; nodes: number[]; strings: string[] };
  const f = snap.snapshot.meta.node_fields;
  const types = snap.snapshot.meta.node_types[0];
  const [iType, iName, iSize, width] = [f.indexOf('type'), f.indexOf('name'), f.indexOf('self_size'), f.length];
  const out: Classes = new Map();
  for (let i = 0; i < snap.nodes.length; i += width) {
    const type = types[snap.nodes[i + iType]!]!;
    let name = type === 'string' || type === 'concatenated string' || type === 'sliced string' ? '' : snap.strings[snap.nodes[i + iName]!]!;
    if (type === 'closure') name = `${name}()`;
    if (name.length > 60) name = `${name.slice(0, 57)}...`;
    const key = `${type}:${name}`;
    const e = out.get(key) ?? { count: 0, size: 0 };
    e.count++;
    e.size += snap.nodes[i + iSize]!;
    out.set(key, e);
  }
  fs.rmSync(file);
  return out;
}

function grown(before: Classes, after: Classes, n: number): string[] {
  const rows: [string, number, number][] = [];
  for (const [k, a] of after) {
    const b = before.get(k) ?? { count: 0, size: 0 };
    const dc = (a.count - b.count) / n;
    const ds = (a.size - b.size) / n;
    if (Math.abs(ds) >= 4 || Math.abs(dc) >= 0.5) rows.push([k, dc, ds]);
  }
  rows.sort((x, y) => y[2] - x[2]);
  const total = rows.reduce((s, r) => s + r[2], 0);
  return [...rows.map(([k, c, s]) => `    ${s.toFixed(0).padStart(6)} B  ${c.toFixed(2).padStart(5)}x  ${k}`), `    ${total.toFixed(0).padStart(6)} B  in these rows`];
}

// ---------- the runner ----------

function lines(p: ChildProcess): () => Promise<string> {
  let buf = '';
  const waiting: ((l: string) => void)[] = [];
  const ready: string[] = [];
  p.stdout!.on('data', d => {
    buf += d;
    for (let i; (i = buf.indexOf('\n')) >= 0;) {
      const l = buf.slice(0, i);
      buf = buf.slice(i + 1);
      const w = waiting.shift();
      if (w) w(l); else ready.push(l);
    }
  });
  return () => ready.length ? Promise.resolve(ready.shift()!) : new Promise(r => waiting.push(r));
}

async function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let t: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([p, new Promise<never>((_, rej) => { t = setTimeout(() => rej(new Error(`${what}: no answer within ${ms} ms`)), ms); })]);
  } finally {
    clearTimeout(t);
  }
}

async function measure(kind: string, src: string, n: number, snapshot: boolean, timeout: number): Promise<{ perConnection: number; rows: string[] }> {
  const srv = spawn(process.execPath, ['--expose-gc', self, '--role', 'server', '--kind', kind, '--src', src, '--connections', String(n)], { stdio: ['pipe', 'pipe', 'inherit'] });
  started.push(srv);
  const lineOrExit = lines(srv);
  // A server that exits (a stale build, a bad option) fails the round at once, not at the timeout.
  const exited = new Promise<never>((_, reject) => srv.once('exit', code => reject(new Error(`${kind} server exited (${code})`))));
  exited.catch(() => {});
  const next = () => Promise.race([lineOrExit(), exited]);
  let cli: ChildProcess | undefined;
  try {
    const port = Number((await within(next(), timeout, 'server start')).split(' ')[1]);
    await sleep(500);
    const ask = async () => { srv.stdin!.write(snapshot ? 'snapshot\n' : 'measure\n'); return JSON.parse(await within(next(), timeout, 'measure')) as { heapUsed: number; snapshot: string }; };
    const before = await ask();
    cli = spawn(process.execPath, [self, '--role', 'client', '--port', String(port), '--connections', String(n)], { stdio: ['ignore', 'pipe', 'inherit'] });
    started.push(cli);
    const { ok } = JSON.parse(await within(lines(cli)(), timeout, 'clients')) as { ok: number };
    if (ok !== n) throw new Error(`${kind}: ${ok} of ${n} echoed`);
    await sleep(IDLE_MS);
    const after = await ask();
    const rows = snapshot ? grown(classes(before.snapshot), classes(after.snapshot), n) : [];
    return { perConnection: (after.heapUsed - before.heapUsed) / n, rows };
  } finally {
    stop(srv);
    if (cli) stop(cli);
  }
}

async function runner(): Promise<void> {
  const { values } = parseArgs({ options: {
    connections: { type: 'string', default: '2000' }, rounds: { type: 'string', default: '2' }, snapshot: { type: 'boolean', default: false },
    'ringwire-src': { type: 'string' }, label: { type: 'string', default: 'other' }, timeout: { type: 'string', default: '60000' },
  } });
  const n = Number(values.connections);
  const contenders = [{ name: 'ringwire', kind: 'ringwire', src: path.join(root, 'src') }];
  if (values['ringwire-src']) contenders.push({ name: values.label, kind: 'ringwire', src: path.resolve(values['ringwire-src']) });
  contenders.push({ name: 'node:net', kind: 'net', src: '' });
  console.log(`JS heap per idle connection: ${n} connections, ${values.rounds} round(s), Node ${process.version}, load ${os.loadavg().map(l => l.toFixed(2)).join(' ')}`);
  const results = new Map<string, number[]>();
  for (let round = 0; round < Number(values.rounds); round++) {
    for (const c of contenders) {
      const r = await measure(c.kind, c.src, n, values.snapshot, Number(values.timeout));
      (results.get(c.name) ?? results.set(c.name, []).get(c.name)!).push(r.perConnection);
      console.log(`  round ${round + 1} ${c.name}: ${r.perConnection.toFixed(0)} B per connection`);
      for (const l of r.rows) console.log(l);
    }
  }
  for (const [name, xs] of results) console.log(`${name.padEnd(10)} ${xs.map(x => x.toFixed(0)).join(', ')} B per connection`);
}

const { values: role } = parseArgs({ strict: false, options: { role: { type: 'string' }, kind: { type: 'string' }, src: { type: 'string' }, port: { type: 'string' }, connections: { type: 'string' } } });
process.on('exit', () => started.forEach(stop));
if (role.role === 'server') await server(String(role.kind), String(role.src), Number(role.connections));
else if (role.role === 'client') await client(Number(role.port), Number(role.connections));
else await runner();
