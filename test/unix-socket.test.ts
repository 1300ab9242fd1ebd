// Unix-domain sockets, tested like TCP: a server on listen({ path }) echoes exact
// bytes on both cores, both read paths (the accepted Pipe handle adopted, or
// copied) and both write paths (through the Pipe handle, or socket.write), with
// a handler too; connect({ path }) clients; a relay to a Unix-socket upstream. The
// socket file: removed on close, a stale one (its server SIGKILLed) replaced, a
// live one or a non-socket file refused with EADDRINUSE. A Unix peer has no
// address: maxConnectionsPerIp does not apply, a PROXY header is accepted and its
// client counted. Worker threads refuse a path (ERR_BAD_CONFIG). The command line:
// `ringwire serve --unix` echoes through socat (a real non-Node peer), and
// `ringwire relay --upstream unix:PATH` forwards to one.
// Socket files live in a fresh mkdtemp directory per test. Without socat the CLI
// tests fail, saying why: never a silent skip.
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { mkdtempSync, rmSync, existsSync, writeFileSync, readFileSync, lstatSync } from 'node:fs';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { lengthFrame } from './harness.ts';
import { refusal } from './cli-process.ts';
import { PATHS, collect, errorCodes, until } from './net-helpers.ts';
import { makeTestCertificates } from '../src/bench/tls-certificates.ts';
import { canWriteDirect, DirectWriter, WRITE_DONE, WRITE_PENDING } from '../src/net/direct-write.ts';
import { HAPROXY, freePort, missing as missingHaproxy } from '../scripts/haproxy-deployment.ts';
import { connect as connectClient, createServer, createWorkerServer, type Connection, type RingwireError, type ServerOptions } from '../src/index.ts';

const dirs: string[] = [];
const children = new Set<ChildProcess>();
afterEach(() => {
  for (const child of children) child.kill('SIGKILL');
  children.clear();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** A socket path in a fresh directory of its own. */
function socketPath(name = 's.sock'): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'ringwire-unix-'));
  dirs.push(dir);
  return path.join(dir, name);
}

async function unixServer<Data = any>(options: ServerOptions<Data>, file = socketPath()) {
  const server = createServer<Data>(options);
  const bound = await server.listen({ path: file });
  expect(bound).toBe(file);
  return { server, file };
}

async function dial(file: string): Promise<net.Socket> {
  const s = net.connect({ path: file });
  await once(s, 'connect');
  return s;
}

/** Send bytes, half-close, and return all that came back before the server closed. */
async function roundTrip(file: string, bytes: Uint8Array): Promise<Buffer> {
  const s = await dial(file);
  const c = collect(s);
  s.end(bytes);
  return c.done;
}

const frames = (sizes: number[]) => Buffer.concat(sizes.map(n => lengthFrame(randomBytes(n))));

describe.each(PATHS)('Unix socket core=$core zeroCopy=$zeroCopy write=$writePath', ({ core, zeroCopy, writePath }) => {
  it('echoes exact bytes, reading and writing through the paths it names', async () => {
    const { server, file } = await unixServer({ core, zeroCopy, writePath, framing: 'length:4', maxFrame: 1 << 20, maxConnections: 4 });
    const s = await dial(file);
    const r = collect(s);
    const first = lengthFrame(Buffer.from('x'));
    s.write(first);
    await until(() => server.connections.size === 1, 5000, 'the connection');
    const conn = [...server.connections.values()][0]!;
    expect(conn.remoteAddress).toBeUndefined();
    // Zero-copy: libuv reads into the rx ring through onread, so no 'data' listener exists.
    expect(conn.socket.listenerCount('data')).toBe(zeroCopy ? 0 : 1);
    let streamWrites = 0;
    const write = conn.socket.write;
    conn.socket.write = function (this: net.Socket, ...args: Parameters<typeof write>) {
      streamWrites++;
      return write.apply(this, args);
    } as typeof write;
    await until(() => r.received() === first.length, 5000, 'the first echo');
    // Large frames too: replies wait in libuv (pending writes) while the peer reads.
    const rest = frames([0, 1, 1000, 65_536, 300_000, 3, 1 << 20]);
    s.end(rest);
    expect((await r.done).equals(Buffer.concat([first, rest]))).toBe(true);
    expect(streamWrites > 0).toBe(writePath === 'stream');
    expect(server.stats().total.errors).toBe(0);
    await server.close();
  });

  it('runs a handler: onOpen, onFrame replies in order, onClose', async () => {
    const seen: string[] = [];
    const { server, file } = await unixServer({
      core, zeroCopy, writePath, framing: 'line',
      onOpen: (c: Connection) => void seen.push(`open ${String(c.remoteAddress)}`),
      onFrame: (frame, c) => void c.send(Buffer.from(Buffer.from(frame).toString().toUpperCase())),
      onClose: () => void seen.push('close'),
    });
    const back = await roundTrip(file, Buffer.from('one\ntwo\nthree\n'));
    expect(back.toString()).toBe('ONE\nTWO\nTHREE\n');
    await until(() => seen.length === 2, 5000, 'onClose');
    expect(seen).toEqual(['open undefined', 'close']);
    await server.close();
  });

  it('connect({ path }): a framed client over a Unix socket', async () => {
    const { server, file } = await unixServer({ core, zeroCopy, writePath, framing: 'length:4' });
    const got: Buffer[] = [];
    const client = await connectClient({ core, zeroCopy, writePath, framing: 'length:4', path: file, onFrame: f => void got.push(Buffer.from(f)) });
    const c = await client.ready;
    const payloads = [randomBytes(10), randomBytes(0), randomBytes(16_000)];
    for (const p of payloads) c.send(p);
    await until(() => got.length === 3, 5000, 'three echoes');
    expect(got.map(b => b.toString('hex'))).toEqual(payloads.map(b => b.toString('hex')));
    await client.close();
    await server.close();
  });

  it('relays TCP clients to a Unix-socket upstream, whole frames both ways', async () => {
    const { server: upstream, file } = await unixServer({ core, framing: 'length:4', maxFrame: 1 << 18, maxConnections: 4 });
    const relay = createServer({ core, zeroCopy, writePath, framing: 'length:4', maxFrame: 1 << 18, maxConnections: 4, upstream: { path: file } });
    const { port } = await relay.listen(0);
    const wire = frames([5, 0, 4000, 200_000, 1]);
    const s = net.connect({ port, host: '127.0.0.1' });
    await once(s, 'connect');
    const r = collect(s);
    s.end(wire);
    expect((await r.done).equals(wire)).toBe(true);
    expect(relay.stats().total.accepted).toBe(2); // the client and its upstream connection
    expect(upstream.stats().total.accepted).toBe(1);
    await relay.close();
    await upstream.close();
  });
});

describe('the direct write path on a Pipe handle', () => {
  it('detects it, and reports a write the kernel took at once and ones that complete later, in order, with their byte counts', async () => {
    const file = socketPath();
    const server = net.createServer();
    const accepted = new Promise<net.Socket>(resolve => server.once('connection', resolve));
    await new Promise<void>(r => server.listen(file, r));
    const client = await dial(file);
    const socket = await accepted;
    expect(canWriteDirect(socket)).toBe(true);
    const completions: [number, number][] = [];
    const owner = { directWritten: (status: number, bytes: number) => void completions.push([status, bytes]) };
    const writer = new DirectWriter();
    const got = collect(client);
    client.pause();
    expect(writer.write(socket, owner, Buffer.from('first '))).toBe(WRITE_DONE);
    // More than the socket buffers hold while the client does not read: the rest waits in libuv.
    const big = randomBytes(32 << 20);
    expect(writer.write(socket, owner, big)).toBe(WRITE_PENDING);
    expect(writer.write2(socket, owner, Buffer.from('a'), Buffer.from('bc'))).toBe(WRITE_PENDING);
    await new Promise(r => setTimeout(r, 50));
    expect(completions).toEqual([]);
    client.resume();
    await until(() => completions.length === 2, 10_000, 'both completions');
    expect(completions).toEqual([[0, big.length], [0, 3]]);
    socket.end();
    expect((await got.done).equals(Buffer.concat([Buffer.from('first '), big, Buffer.from('abc')]))).toBe(true);
    await new Promise(r => server.close(r));
  });
});

describe.each(['wasm', 'js'] as const)('TLS over a Unix socket, core=%s', core => {
  it('a TLS server on a path and a TLS client with connect({ path, tls }): frames both ways', async () => {
    const certs = makeTestCertificates();
    try {
      const { server, file } = await unixServer({ core, framing: 'length:4', maxConnections: 4, tls: certs.server });
      const got: Buffer[] = [];
      const client = await connectClient({ core, framing: 'length:4', path: file, tls: { ca: certs.ca, servername: 'localhost' }, onFrame: f => void got.push(Buffer.from(f)) });
      const c = await client.ready;
      expect(c.tls?.authorized).toBe(true);
      const payloads = [randomBytes(1), randomBytes(9000)];
      for (const p of payloads) c.send(p);
      await until(() => got.length === 2, 5000, 'two echoes');
      expect(got.map(b => b.toString('hex'))).toEqual(payloads.map(b => b.toString('hex')));
      await client.close();
      await server.close();
    } finally {
      certs.remove();
    }
  });
});

describe('the socket file', () => {
  it('is removed on close', async () => {
    const { server, file } = await unixServer({});
    expect(lstatSync(file).isSocket()).toBe(true);
    await server.close();
    expect(existsSync(file)).toBe(false);
  });

  it('left by a SIGKILLed server (nobody listening) is removed and bound again', async () => {
    const file = socketPath();
    const child = spawn(process.execPath, ['-e', `require('node:net').createServer().listen(process.argv[1], () => console.log('up'))`, file], { stdio: ['ignore', 'pipe', 'inherit'] });
    children.add(child);
    await once(child.stdout!, 'data');
    child.kill('SIGKILL');
    await once(child, 'exit');
    expect(lstatSync(file).isSocket()).toBe(true); // stale: still there, nobody listens
    const { server } = await unixServer({ framing: 'line' }, file);
    expect((await roundTrip(file, Buffer.from('again\n'))).toString()).toBe('again\n');
    await server.close();
  });

  it('another server listens on: EADDRINUSE that says so, and that server goes on', async () => {
    const file = socketPath();
    const live = net.createServer(s => s.pipe(s));
    await new Promise<void>(r => live.listen(file, r));
    const server = createServer({});
    const err = await server.listen({ path: file }).catch((e: NodeJS.ErrnoException) => e);
    expect((err as NodeJS.ErrnoException).code).toBe('EADDRINUSE');
    expect((err as Error).message).toMatch(`another server is listening on the Unix socket ${file}`);
    const s = await dial(file); // the live server still has its file
    const r = collect(s);
    s.end('still mine');
    expect((await r.done).toString()).toBe('still mine');
    await server.close();
    await new Promise(r => live.close(r));
  });

  it('a path that is not a socket is never removed: EADDRINUSE', async () => {
    const file = socketPath('data.txt');
    writeFileSync(file, 'keep me');
    const server = createServer({});
    const err = await server.listen({ path: file }).catch((e: NodeJS.ErrnoException) => e);
    expect((err as NodeJS.ErrnoException).code).toBe('EADDRINUSE');
    expect((err as Error).message).toMatch('exists and is not a socket');
    expect(readFileSync(file, 'utf8')).toBe('keep me');
    await server.close();
  });
});

describe('a Unix peer has no address', () => {
  it('maxConnectionsPerIp does not apply to it', async () => {
    const { server, file } = await unixServer({ framing: 'line', maxConnectionsPerIp: 1 });
    const codes = errorCodes(server);
    const a = await dial(file);
    const b = await dial(file);
    const ra = collect(a);
    const rb = collect(b);
    a.end('a\n');
    b.end('b\n');
    expect((await ra.done).toString()).toBe('a\n');
    expect((await rb.done).toString()).toBe('b\n');
    expect(codes).toEqual([]);
    await server.close();
  });

  it('a refusal at the connection limit names it as a Unix-socket peer', async () => {
    const { server, file } = await unixServer({ maxConnections: 1, evictAfter: 0 });
    const messages: string[] = [];
    server.on('clientError', (e: RingwireError) => void messages.push(`${e.code}: ${e.message}`));
    const first = await dial(file);
    const second = await dial(file);
    second.on('error', () => {});
    await once(second, 'close');
    expect(messages).toEqual(['ERR_TOO_MANY_CONNECTIONS: connection from a Unix-socket peer refused: 1 connection(s) open already (maxConnections 1)']);
    first.destroy();
    await server.close();
  });

  it('a PROXY header over it is accepted (whatever proxyTrusted says), names the client, and that client is counted', async () => {
    const seen: (string | undefined)[] = [];
    const { server, file } = await unixServer({
      framing: 'line', proxyProtocol: 'v1', proxyTrusted: ['10.0.0.0/8'], maxConnectionsPerIp: 1,
      onOpen: (c: Connection) => void seen.push(c.remoteAddress),
      onFrame: (f, c) => void c.send(f),
    });
    const codes = errorCodes(server);
    const header = 'PROXY TCP4 192.0.2.7 192.0.2.1 40000 7000\r\n';
    const first = await dial(file);
    const r1 = collect(first);
    first.write(`${header}hello\n`);
    await until(() => r1.received() === 6, 5000, 'the echo behind the header');
    // The same client again, while the first is open: over maxConnectionsPerIp.
    const second = await dial(file);
    const r2 = collect(second);
    second.write(`${header}again\n`);
    expect((await r2.done).length).toBe(0);
    expect(codes).toEqual(['ERR_TOO_MANY_CONNECTIONS']);
    first.end();
    expect((await r1.done).toString()).toBe('hello\n');
    expect(seen).toEqual(['192.0.2.7']);
    await server.close();
  });
});

describe('behind real HAProxy over a Unix socket', () => {
  it.each(['wasm', 'js'] as const)('send-proxy-v2 to a ringwire server on a path: the handler sees the client HAProxy saw (core=%s)', async core => {
    const why = missingHaproxy();
    if (why) throw new Error(`this test cannot run: ${why}`);
    const seen: (string | undefined)[] = [];
    const { server, file } = await unixServer({ core, framing: 'length:4', maxConnections: 8, proxyProtocol: 'v2', onOpen: (c: Connection) => void seen.push(c.remoteAddress), onFrame: (f, c) => void c.send(f) });
    const port = await freePort();
    const cfg = path.join(path.dirname(file), 'haproxy.cfg');
    writeFileSync(cfg, ['defaults', '  mode tcp', '  timeout connect 2s', '  timeout client 10s', '  timeout server 10s',
      'listen front', `  bind 127.0.0.1:${port}`, `  server app unix@${file} send-proxy-v2`, ''].join('\n'));
    const haproxy = spawn(HAPROXY, ['-db', '-f', cfg], { stdio: ['ignore', 'pipe', 'pipe'] });
    children.add(haproxy);
    let s: net.Socket | undefined;
    await until(async () => {
      s = net.connect({ port, host: '127.0.0.1', localAddress: '127.0.0.3' });
      const ok = await new Promise<boolean>(resolve => { s!.once('connect', () => resolve(true)); s!.once('error', () => resolve(false)); });
      if (!ok) s.destroy();
      return ok;
    }, 10_000, 'haproxy listening');
    const c = collect(s!);
    const wire = frames([1, 500, 12_000]);
    s!.write(wire);
    await until(() => c.received() === wire.length, 10_000, 'the echo through HAProxy');
    s!.end();
    expect((await c.done).equals(wire)).toBe(true);
    expect(seen).toEqual(['127.0.0.3']);
    await server.close();
  });
});

describe('options', () => {
  it('listen: a path or a TCP port, not both', async () => {
    const server = createServer({});
    for (const bad of [{ path: socketPath(), port: 0 }, { path: socketPath(), host: '127.0.0.1' }, { path: socketPath(), listeners: 2 }, { path: '' }]) {
      const err = await server.listen(bad as { path: string }).catch((e: RingwireError) => e);
      expect((err as RingwireError).code).toBe('ERR_BAD_CONFIG');
    }
    await server.close();
  });

  it('connect and upstream: a path or a port, not both, and one of them', async () => {
    const file = socketPath();
    await expect(connectClient({ path: file, port: 7000 })).rejects.toMatchObject({ code: 'ERR_BAD_CONFIG' });
    await expect(connectClient({})).rejects.toMatchObject({ code: 'ERR_BAD_CONFIG' });
    expect(() => createServer({ upstream: { path: file, port: 1 } })).toThrow(/give path \(a Unix socket\) or host and port \(TCP\), not both/);
    expect(() => createServer({ upstream: {} })).toThrow(/give port \(TCP, with host\) or path \(a Unix socket\)/);
  });

  it('worker threads refuse a path: ERR_BAD_CONFIG saying why', async () => {
    const server = createWorkerServer({ workers: 2 });
    const err = await server.listen({ path: socketPath() }).catch((e: RingwireError) => e);
    expect((err as RingwireError).code).toBe('ERR_BAD_CONFIG');
    expect((err as Error).message).toMatch(/Node transfers only TCP sockets to worker threads.*SO_REUSEPORT does not spread Unix-socket connections/);
    await server.close();
  });
});

// ---- the command line ----

const redisMissing = spawnSync('redis-server', ['--version']).error || spawnSync('redis-cli', ['--version']).error
  ? 'redis-server and redis-cli are not installed (apt-get install redis-server; npm test installs it)' : undefined;
const socatMissing = spawnSync('socat', ['-V'], { encoding: 'utf8' }).error ? 'socat is not installed (apt-get install socat; npm test installs it)' : undefined;

/** A CLI process; resolves with it once it printed its listening line (whose text is returned). */
async function cli(args: string[]): Promise<{ child: ChildProcess; line: string }> {
  const child = spawn(process.execPath, ['dist/cli.js', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  let out = '';
  let err = '';
  child.stderr!.on('data', d => (err += d));
  const line = await new Promise<string>((resolve, reject) => {
    child.stdout!.on('data', d => {
      out += d;
      const m = /^ringwire listening on .*$/m.exec(out);
      if (m) resolve(m[0]);
    });
    child.once('exit', code => reject(new Error(`ringwire ${args.join(' ')} exited ${code}: ${err}`)));
  });
  return { child, line };
}

async function stop(child: ChildProcess): Promise<void> {
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  const [code] = (await exited) as [number];
  expect(code).toBe(0);
}

describe('the command line: serve --unix, relay --upstream unix:PATH', () => {
  it('echoes exact bytes to socat, a non-Node peer, and removes its socket file on exit', async () => {
    if (socatMissing) throw new Error(`this test cannot run: ${socatMissing}`);
    const file = socketPath();
    const { child, line } = await cli(['serve', '--unix', file, '--max-connections', '16']);
    expect(line).toMatch(`ringwire listening on unix:${file} `);
    const bytes = randomBytes(300_000);
    const socat = spawnSync('socat', ['-t', '5', '-', `UNIX-CONNECT:${file}`], { input: bytes, timeout: 15_000, maxBuffer: 1 << 21 });
    expect(socat.status).toBe(0);
    expect(Buffer.compare(socat.stdout, bytes)).toBe(0);
    await stop(child);
    expect(existsSync(file)).toBe(false);
  });

  it('ringwire relay --workers 2 --upstream unix:PATH forwards TCP clients to a Unix-socket server', async () => {
    if (socatMissing) throw new Error(`this test cannot run: ${socatMissing}`);
    const file = socketPath();
    const upstream = await cli(['serve', '--unix', file, '--framing', 'line', '--max-connections', '16']);
    // On 2 worker threads: each dials the upstream itself.
    const relay = await cli(['relay', '--port', '0', '--framing', 'line', '--max-connections', '16', '--listeners', '1', '--workers', '2', '--upstream', `unix:${file}`]);
    expect(relay.line).toContain(`upstream=unix:${file}`);
    const port = Number(/127\.0\.0\.1:(\d+)/.exec(relay.line)![1]);
    const text = Array.from({ length: 200 }, (_, i) => `line ${i} ${randomBytes(20).toString('hex')}\n`).join('');
    const socat = spawnSync('socat', ['-t', '5', '-', `TCP:127.0.0.1:${port}`], { input: text, timeout: 15_000, encoding: 'utf8' });
    expect(socat.status).toBe(0);
    expect(socat.stdout).toBe(text);
    await stop(relay.child);
    await stop(upstream.child);
  });

  it('a relay in front of redis-server on a Unix socket carries 100 KB values with --framing raw; line framing cuts them (docs/relay.md)', async () => {
    if (redisMissing) throw new Error(`this test cannot run: ${redisMissing}`);
    const file = socketPath('redis.sock');
    const redis = spawn('redis-server', ['--port', '0', '--unixsocket', file, '--unixsocketperm', '700', '--save', '', '--appendonly', 'no'], { stdio: ['ignore', 'pipe', 'pipe'] });
    children.add(redis);
    await until(() => existsSync(file), 5000, 'redis-server\'s socket');
    const value = randomBytes(75_000).toString('base64'); // 100,000 bytes: RESP bulk strings carry any bytes but CR LF is simplest to compare
    const redisCli = (port: number, args: string[], input?: string) => spawnSync('redis-cli', ['-p', String(port), ...args], { input, encoding: 'utf8', timeout: 10_000, maxBuffer: 1 << 20 });
    const raw = await cli(['relay', '--port', '0', '--framing', 'raw', '--max-connections', '8', '--listeners', '1', '--upstream', `unix:${file}`]);
    const rawPort = Number(/127\.0\.0\.1:(\d+)/.exec(raw.line)![1]);
    expect(redisCli(rawPort, ['-x', 'SET', 'big'], value).stdout).toBe('OK\n');
    expect(redisCli(rawPort, ['GET', 'big']).stdout).toBe(`${value}\n`);
    const line = await cli(['relay', '--port', '0', '--framing', 'line', '--max-connections', '8', '--listeners', '1', '--upstream', `unix:${file}`]);
    const linePort = Number(/127\.0\.0\.1:(\d+)/.exec(line.line)![1]);
    let logged = '';
    line.child.stderr!.on('data', d => (logged += d));
    const cut = redisCli(linePort, ['-x', 'SET', 'big2'], value);
    expect(cut.stdout + cut.stderr).toMatch('Server closed the connection');
    await until(() => logged.includes('ERR_FRAME_TOO_LARGE'), 5000, 'the relay\'s log line');
    await stop(line.child);
    await stop(raw.child);
  });

  it('refuses what does not go with a Unix socket: exit 2, one line', async () => {
    const file = socketPath();
    for (const [args, message] of [
      [['serve', '--unix', file, '--port', '7000'], /--unix listens on a Unix socket instead of a TCP port: leave out --port/],
      [['serve', '--unix', file, '--host', '127.0.0.1'], /leave out --host/],
      [['serve', '--unix', file, '--listeners', '2'], /leave out --listeners/],
      [['serve', '--unix', file, '--workers', '2'], /--unix with --workers 2: worker threads cannot share a Unix socket/],
      [['serve', '--unix', ''], /--unix needs a socket path/],
      [['relay', '--port', '0', '--upstream', 'unix:'], /--upstream unix: needs a socket path/],
    ] as const) {
      const line = await refusal([...args]);
      expect(line).toMatch(message);
      expect(line).toContain('ERR_BAD_CONFIG');
      expect(line.trim().split('\n')).toHaveLength(1);
    }
  });
});
