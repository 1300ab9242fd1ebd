// Re-checks, on the Node that runs it, the facts docs/node-facts.md builds on:
// each check is a small experiment over loopback (127.0.0.1, port 0) or in a child
// process, bounded in time. Prints one JSON object: { node, facts: { name: result } }.
// Plain JavaScript, so that every Node from 20 on runs it as is.
//   node scripts/node-facts.mjs                 one Node
//   bash scripts/node-facts.sh                  Node 20, 22.12, 24 and 26, as a Markdown table
import { execFileSync, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';

const timeout = (ms, what) => new Promise((_, reject) => setTimeout(() => reject(new Error(`timeout: ${what}`)), ms).unref());
const listen = async (server, options = { port: 0, host: '127.0.0.1' }) => {
  server.listen(options);
  await Promise.race([once(server, 'listening'), timeout(2000, 'listen')]);
  return server.address().port;
};
const sleep = ms => new Promise(r => setTimeout(r, ms));

/** onread on a client socket: the callback gets the bytes, no 'data' event fires. */
async function onreadClient() {
  const server = net.createServer(s => s.end('hello'));
  const port = await listen(server);
  let got = '';
  let data = false;
  const buf = new Uint8Array(new SharedArrayBuffer(64));
  const socket = net.connect({ port, host: '127.0.0.1', onread: { buffer: buf, callback: (n, b) => { got += Buffer.from(b.subarray(0, n)).toString(); } } });
  socket.on('data', () => { data = true; });
  await Promise.race([once(socket, 'end'), timeout(2000, 'end')]);
  socket.destroy();
  server.close();
  return got === 'hello' && !data ? 'works, no data events' : `no (got "${got}", data events ${data})`;
}

/** net.createServer({ onread }): is the option used for accepted sockets? */
async function onreadServer() {
  let called = false;
  let data = false;
  const server = net.createServer({ onread: { buffer: Buffer.alloc(64), callback: () => { called = true; } } }, s => {
    s.on('data', () => { data = true; });
  });
  const port = await listen(server);
  const c = net.connect(port, '127.0.0.1', () => c.end('x'));
  await Promise.race([once(c, 'close'), timeout(2000, 'close')]);
  await sleep(20);
  server.close();
  return called ? 'used' : data ? 'ignored (data events)' : 'ignored';
}

/** The adoption ringwire does: paused accept, move _handle into a socket created with onread. */
async function adoption() {
  let got = '';
  const server = net.createServer({ pauseOnConnect: true }, raw => {
    const handle = raw._handle;
    if (!handle || typeof handle.useUserBuffer !== 'function') { got = 'no _handle.useUserBuffer'; raw.destroy(); return; }
    raw._handle = null;
    const s = new net.Socket({ handle, readable: true, writable: true, onread: { buffer: Buffer.alloc(64), callback: (n, b) => { got += b.subarray(0, n).toString(); } } });
    s.server = s._server = server;
    s.on('end', () => s.end());
    s.resume();
  });
  const port = await listen(server);
  const c = net.connect(port, '127.0.0.1', () => c.end('adopted'));
  c.resume();
  await Promise.race([once(c, 'close'), timeout(2000, 'client close')]);
  const closed = new Promise(r => server.close(r));
  const done = await Promise.race([closed.then(() => true), sleep(1000).then(() => false)]);
  return got === 'adopted' && done ? 'works, close() completes' : `no (${got || 'nothing read'}, close ${done ? 'completes' : 'hangs'})`;
}

/** Node writes a view by reference: bytes not yet in the kernel are read from the view later. */
async function writeReference() {
  const size = 16 << 20;
  let peer;
  const server = net.createServer(s => { peer = s; s.pause(); });
  const port = await listen(server);
  const c = net.connect(port, '127.0.0.1');
  await Promise.race([once(c, 'connect'), timeout(2000, 'connect')]);
  const small = new Uint8Array(new SharedArrayBuffer(8)).fill(1);
  c.write(small);
  const immediate = c.writableLength === 0;
  const view = new Uint8Array(new SharedArrayBuffer(size)).fill(1);
  c.write(view);
  const queued = c.writableLength > 0;
  view.fill(2); // overwrite before the peer reads
  c.end();
  while (!peer) await sleep(5);
  const chunks = [];
  peer.on('data', d => chunks.push(d));
  peer.resume();
  await Promise.race([once(peer, 'end'), timeout(5000, 'peer end')]);
  const all = Buffer.concat(chunks);
  server.close();
  const twos = all.subarray(8).filter(b => b === 2).length;
  return `${twos > 0 ? `by reference: ${(twos / 2 ** 20).toFixed(1)} of 16 MiB arrived overwritten` : 'copied'}${queued ? '' : ' (nothing queued)'}; `
    + `small write: writableLength ${immediate ? '0' : '> 0'}`;
}

/** Two threads listening on one port, with and without reusePort. */
async function reusePort() {
  const inWorker = (code, data) => new Promise(resolve => {
    const w = new Worker(code, { eval: true, workerData: data });
    w.once('message', resolve);
    w.once('error', e => resolve(`error ${e.message}`));
  });
  const code = `
    const net = require('node:net'); const { parentPort, workerData } = require('node:worker_threads');
    const s = net.createServer();
    s.once('error', e => { parentPort.postMessage(e.code); process.exit(0); });
    s.listen({ port: workerData.port, host: '127.0.0.1', reusePort: workerData.reusePort }, () => { parentPort.postMessage('listens'); s.close(); });`;
  const result = {};
  for (const reuse of [false, true]) {
    const server = net.createServer();
    const port = await listen(server, { port: 0, host: '127.0.0.1', reusePort: reuse });
    result[reuse] = await inWorker(code, { port, reusePort: reuse });
    server.close();
  }
  return `plain: ${result.false}; reusePort: ${result.true}`;
}

/** An accepted socket in postMessage's transfer list. */
async function transfer() {
  const w = new Worker(`require('node:worker_threads').parentPort.on('message', m => { m.socket.end('from worker'); })`, { eval: true });
  let verdict;
  const server = net.createServer({ pauseOnConnect: true }, s => {
    try {
      w.postMessage({ socket: s }, [s]);
      verdict = 'yes';
    } catch (e) {
      verdict = `no (${e.name})`;
      s.destroy();
    }
  });
  const port = await listen(server);
  const c = net.connect(port, '127.0.0.1');
  let got = '';
  c.on('data', d => { got += d; });
  c.on('error', () => {});
  await Promise.race([once(c, 'close'), timeout(3000, 'close')]).catch(() => c.destroy());
  server.close();
  await w.terminate();
  return verdict === 'yes' && got === 'from worker' ? 'yes' : verdict ?? 'no connection';
}

/** Does Node raise its RLIMIT_NOFILE soft limit to the hard one? */
function nofile() {
  const r = spawnSync('/bin/sh', ['-c', `ulimit -Sn 256 && exec "${process.execPath}" -e "process.stdout.write(require('fs').readFileSync('/proc/self/limits','utf8'))"`], { encoding: 'utf8', timeout: 5000 });
  const m = /Max open files\s+(\d+|unlimited)\s+(\d+|unlimited)/.exec(r.stdout ?? '');
  if (!m) return `unknown (${r.stderr?.trim() || 'no /proc/self/limits'})`;
  return m[1] === '256' ? `soft limit kept (256, hard ${m[2]})` : `soft raised to hard (256 → ${m[1]})`;
}

function execve() {
  return typeof process.execve === 'function' ? 'yes' : 'no';
}

/** --cpu-prof with a worker thread: how many profiles? */
function cpuProfPerThread() {
  const dir = mkdtempSync(join(tmpdir(), 'node-facts-prof-'));
  try {
    execFileSync(process.execPath, ['--cpu-prof', `--cpu-prof-dir=${dir}`, '-e', `new (require('node:worker_threads').Worker)('setTimeout(() => {}, 50)', { eval: true })`], { timeout: 10_000 });
    return `${readdirSync(dir).length} profiles (main + worker)`;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * A WASM function that spins for a while, in a module with and without a name
 * section, profiled with --cpu-prof: does V8 name it?
 */
function wasmNames() {
  const code = [0x0a, 0x12, 0x01, 0x10, 0x00, 0x03, 0x40, 0x20, 0x00, 0x41, 0x01, 0x6b, 0x22, 0x00, 0x0d, 0x00, 0x0b, 0x20, 0x00, 0x0b];
  const base = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, 0x01, 0x06, 0x01, 0x60, 0x01, 0x7f, 0x01, 0x7f, 0x03, 0x02, 0x01, 0x00,
    0x07, 0x08, 0x01, 0x04, ...Buffer.from('spin'), 0x00, 0x00, ...code];
  const names = [0x00, 0x11, 0x04, ...Buffer.from('name'), 0x01, 0x0a, 0x01, 0x00, 0x07, ...Buffer.from('my_spin')];
  const seen = {};
  for (const [label, bytes] of [['without', base], ['with', [...base, ...names]]]) {
    const dir = mkdtempSync(join(tmpdir(), 'node-facts-wasm-'));
    try {
      const script = `const m = new WebAssembly.Module(Uint8Array.from(${JSON.stringify(bytes)}));
        const { spin } = new WebAssembly.Instance(m).exports; const end = Date.now() + 150; while (Date.now() < end) spin(1e6);`;
      execFileSync(process.execPath, ['--cpu-prof', `--cpu-prof-dir=${dir}`, '-e', script], { timeout: 10_000 });
      const profile = JSON.parse(readFileSync(join(dir, readdirSync(dir)[0]), 'utf8'));
      seen[label] = [...new Set(profile.nodes.filter(n => n.callFrame.url.startsWith('wasm://')).map(n => n.callFrame.functionName))].join(', ') || 'not sampled';
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  return `no name section: ${seen.without}; with one: ${seen.with}`;
}

/**
 * What src/net/direct-write.ts uses: a WriteWrap from process.binding('stream_wrap'),
 * handle.writeBuffer(req, view) and writev(req, views, true), streamBaseState saying
 * whether the write finished in the call; a request reused across writes that
 * finished; the pending one's oncomplete after the call; FIN (end()) after it.
 */
async function directWrite() {
  let b;
  try {
    b = process.binding('stream_wrap');
  } catch (err) {
    return `no (process.binding: ${err.message})`;
  }
  const { WriteWrap, streamBaseState, kLastWriteWasAsync } = b;
  if (typeof WriteWrap !== 'function' || !(streamBaseState instanceof Int32Array) || typeof kLastWriteWasAsync !== 'number') return 'no (stream_wrap lacks WriteWrap or streamBaseState)';
  const big = Buffer.alloc(8 << 20, 7);
  let syncDone = 0;
  let completed = 0;
  let inCall = false;
  let completedInCall = false;
  const server = net.createServer(s => {
    const h = s._handle;
    const req = () => Object.assign(new WriteWrap(), { oncomplete() { completed++; if (inCall) completedInCall = true; } });
    let spare = req();
    const write = (f) => { inCall = true; const err = f(spare); inCall = false; if (err) throw new Error(`write error ${err}`); if (streamBaseState[kLastWriteWasAsync]) spare = req(); else syncDone++; };
    for (let i = 0; i < 100; i++) write(r => h.writeBuffer(r, Buffer.from('x')));
    write(r => h.writeBuffer(r, big));
    write(r => h.writev(r, [Buffer.from('a'), Buffer.from('b')], true));
    s.end();
  });
  const port = await listen(server);
  const c = net.connect(port, '127.0.0.1');
  let n = 0;
  c.on('data', d => { n += d.length; });
  await Promise.race([once(c, 'end'), timeout(5000, 'end')]);
  c.destroy();
  server.close();
  const whole = n === 100 + big.length + 2;
  return whole && syncDone >= 100 && completed === 2 && !completedInCall
    ? 'works: small writes finish in the call (one request reused), large ones complete later, FIN after them'
    : `no (received ${n} of ${100 + big.length + 2}, ${syncDone} finished in the call, ${completed} completions${completedInCall ? ', one inside the call' : ''})`;
}

/** Does a pending Atomics.waitAsync keep the event loop alive? */
function waitAsyncAlive() {
  const r = spawnSync(process.execPath, ['-e', `const i = new Int32Array(new SharedArrayBuffer(4));
    const w = Atomics.waitAsync(i, 0, 0, 200); if (w.async) w.value.then(v => console.log('resolved ' + v));`], { encoding: 'utf8', timeout: 5000 });
  return r.stdout.includes('resolved') ? 'yes' : 'no (exits first)';
}

const checks = {
  'onread on a client socket': onreadClient,
  'net.createServer({ onread })': onreadServer,
  'adopting an accepted socket with onread': adoption,
  'write() of a view to a peer that does not read': writeReference,
  'writing through the handle (WriteWrap, writeBuffer, writev)': directWrite,
  'two threads listen on one port': reusePort,
  'transfer an accepted socket to a worker': transfer,
  'RLIMIT_NOFILE at start (shell soft limit 256)': nofile,
  'process.execve': execve,
  '--cpu-prof with a worker thread': cpuProfPerThread,
  'WASM function names in --cpu-prof profiles': wasmNames,
  'a pending Atomics.waitAsync keeps the process alive': waitAsyncAlive,
};

const facts = {};
for (const [name, check] of Object.entries(checks)) {
  try {
    facts[name] = await check();
  } catch (err) {
    facts[name] = `error: ${err.message}`;
  }
}
console.log(JSON.stringify({ node: process.versions.node, facts }));
process.exit(0);
