// TLS over real sockets on 127.0.0.1, both cores and both write paths (the TLSWrap
// handle below the Writable, and socket.write, its fallback; the direct path is
// checked to be taken), a client that never reads held at maxQueued and one byte past
// it, a reset and a close while a write waits on the client: echo against Node's tls.connect
// and against `openssl s_client` (Debian's openssl, a peer that is not Node) with
// exact bytes; a client that does not trust the server, a server that refuses a
// client certificate its CA did not sign, a plain-TCP client, and handshakes that
// never finish (nothing sent, half a ClientHello): each ERR_TLS, counted, and only
// that connection closed while a bystander keeps echoing exact bytes; TLS with two
// worker threads in both balance modes; connect({ tls }) with reconnect; behind a
// load balancer, a PROXY header read before the handshake (v1, v2, byte by byte, in one
// write with the ClientHello, through real HAProxy with send-proxy-v2).
// Certificates are made at run time with openssl (src/bench/tls-certificates.ts).
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import net from 'node:net';
import { Duplex } from 'node:stream';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canTransferSockets, connect, createServer, type Balance, type Connection, type RingwireError, type TlsInfo } from '../src/index.ts';
// Worker threads run the built package (dist/), as users import it: a worker's entry must load on every Node (22.12 has no TypeScript).
import { createWorkerServer } from 'ringwire';
import { WRITE_PATHS } from '../src/net/direct-write.ts';
import { hasOpenssl, makeTestCertificates, type TestCertificates } from '../src/bench/tls-certificates.ts';
import { countStreamWrites, errorCodes, sleep, startServer, until, untilWritesStop } from './net-helpers.ts';
import { Haproxy, freePort, missing as missingHaproxy } from '../scripts/haproxy-deployment.ts';

// Never a silent skip: without openssl these tests fail, saying what to install (npm test installs it: scripts/test-peers.ts).
if (!hasOpenssl()) throw new Error('openssl is not installed: the TLS tests need it (apt-get install openssl; npm test installs it: scripts/test-peers.ts)');

let certs: TestCertificates;
beforeAll(() => { certs = makeTestCertificates(); });
afterAll(() => certs.remove());

const CORES = ['wasm', 'js'] as const;
/** Every TLS behaviour on both cores and both write paths: through the TLS handle (direct), and through the TLSSocket's Writable (stream, the fallback). */
const CORES_AND_PATHS = CORES.flatMap(core => WRITE_PATHS.map(writePath => ({ core, writePath })));

/** A TLS client that trusts the test CA, connected and past its handshake. */
async function tlsClient(port: number, options: tls.ConnectionOptions = {}): Promise<tls.TLSSocket> {
  const socket = tls.connect({ host: '127.0.0.1', port, ca: certs.ca, ...options });
  await once(socket, 'secureConnect');
  return socket;
}

/** Read from a socket until `n` bytes arrived (or it closed); resolves with them. */
function readBytes(socket: net.Socket, n: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    let got = 0;
    const onData = (d: Buffer) => {
      parts.push(d);
      got += d.length;
      if (got >= n) done();
    };
    const done = () => {
      socket.off('data', onData);
      socket.off('close', done);
      socket.off('error', reject);
      resolve(Buffer.concat(parts));
    };
    socket.on('data', onData);
    socket.once('close', done);
    socket.once('error', reject);
  });
}

/** Write text, expect exactly it back, then end and wait for the close. */
async function echoesText(socket: net.Socket, text: string): Promise<void> {
  const back = readBytes(socket, text.length);
  socket.write(text);
  expect((await back).toString()).toBe(text);
  socket.end();
  await new Promise(resolve => socket.once('close', resolve));
}

/** A patterned payload, so a byte in the wrong place shows. */
function pattern(n: number, seed: number): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + seed + (i >> 8)) & 255;
  return b;
}

const frameWith = {
  'length:4': (p: Buffer) => Buffer.concat([Buffer.from([p.length >>> 24, (p.length >>> 16) & 255, (p.length >>> 8) & 255, p.length & 255]), p]),
  varint: (p: Buffer) => {
    const prefix: number[] = [];
    let n = p.length;
    do {
      prefix.push((n & 0x7f) | (n > 0x7f ? 0x80 : 0));
      n >>>= 7;
    } while (n > 0);
    return Buffer.concat([Buffer.from(prefix), p]);
  },
  line: (p: Buffer) => Buffer.concat([p, Buffer.from('\n')]),
};

/**
 * A TLS client whose encrypted bytes can be held back and then sent in one TCP
 * write (hold(), release()), over a transport of ours: the server then decrypts
 * many records from one read, in one turn of its event loop. records() counts the
 * TLS records that came from the server (its writes: one SSL_write of up to 16 KiB
 * is one record) since the last call.
 */
async function coalescingClient(port: number): Promise<{ client: tls.TLSSocket; hold: () => void; release: () => void; records: () => number }> {
  const raw = net.connect(port, '127.0.0.1');
  await once(raw, 'connect');
  let held: Buffer[] | null = null;
  const transport = new Duplex({
    write(chunk: Buffer, _encoding, done) {
      if (held) held.push(chunk);
      else raw.write(chunk);
      done();
    },
    read() {},
    final(done) {
      raw.end();
      done();
    },
  });
  // Record headers are 5 bytes (type, version, 2-byte length); `skip` is what is left of the current record.
  let records = 0;
  let skip = 0;
  let header = Buffer.alloc(0);
  raw.on('data', (d: Buffer) => {
    for (let at = 0; at < d.length;) {
      if (skip > 0) {
        const n = Math.min(skip, d.length - at);
        skip -= n;
        at += n;
        continue;
      }
      const n = Math.min(5 - header.length, d.length - at);
      header = Buffer.concat([header, d.subarray(at, at + n)]);
      at += n;
      if (header.length === 5) {
        records++;
        skip = header.readUInt16BE(3);
        header = Buffer.alloc(0);
      }
    }
    transport.push(d);
  });
  raw.on('end', () => transport.push(null));
  raw.on('close', () => transport.destroy());
  const client = tls.connect({ socket: transport, ca: certs.ca, servername: 'localhost' });
  await once(client, 'secureConnect');
  return {
    client,
    hold: () => { held = []; },
    release: () => {
      raw.write(Buffer.concat(held!));
      held = null;
    },
    records: () => {
      const n = records;
      records = 0;
      return n;
    },
  };
}

describe.each(CORES_AND_PATHS)('TLS core=$core, $writePath writes', ({ core, writePath }) => {
  it('echoes exact bytes to tls.connect in several framings, frames pipelined, 1 MiB in all, and onOpen sees the handshake', async () => {
    for (const framing of ['length:4', 'varint', 'line'] as const) {
      const seen: TlsInfo[] = [];
      const { server, port } = await startServer({
        core, writePath, framing, maxFrame: 64 * 1024,
        tls: { ...certs.server, ALPNProtocols: ['ringwire/1'] },
        onOpen: c => void seen.push(c.tls!),
        onFrame: (f, c) => void c.send(f),
      });
      const client = await tlsClient(port, { ALPNProtocols: ['ringwire/1'] });
      // Frames of many sizes (no newline inside for the line framing), written in a few large pipelined writes.
      const frames: Buffer[] = [];
      for (let total = 0, i = 0; total < 1 << 20; i++) {
        const p = pattern(1 + ((i * 7919) % 40_000), i);
        if (framing === 'line') p.forEach((v, j) => { if (v === 10) p[j] = 11; });
        frames.push(frameWith[framing](p));
        total += p.length;
      }
      const wire = Buffer.concat(frames);
      const back = readBytes(client, wire.length);
      for (let at = 0; at < wire.length; at += 300_000) client.write(wire.subarray(at, at + 300_000));
      expect((await back).equals(wire)).toBe(true);
      expect(seen).toHaveLength(1);
      expect(seen[0]).toMatchObject({ protocol: 'TLSv1.3', alpnProtocol: 'ringwire/1', authorized: false });
      expect(seen[0]!.cipher).toMatch(/^TLS_/);
      client.end();
      await once(client, 'close');
      await server.close();
      expect(server.stats().total.errors).toBe(0);
    }
  });

  it('answers the frames of many TLS records read at once in frame order, exact bytes, echo and handler alike (their replies leave together)', async () => {
    for (const mode of ['echo', 'handler'] as const) {
      const { server, port } = await startServer({
        core, writePath, framing: 'length:4', maxFrame: 64 * 1024, tls: { ...certs.server },
        ...(mode === 'handler' ? { onFrame: (f: Uint8Array, c: Connection) => void c.send(f) } : {}),
      });
      const { client, hold, release } = await coalescingClient(port);
      // 400 frames, each its own TLS record (one write at a time), small ones and some larger than a record,
      // all reaching the server in one TCP write: it decrypts them in one turn, and more than its tx ring holds.
      const frames = Array.from({ length: 400 }, (_, i) => frameWith['length:4'](pattern(i % 50 === 0 ? 20_000 : 1 + ((i * 37) % 200), i)));
      const wire = Buffer.concat(frames);
      const back = readBytes(client, wire.length);
      hold();
      for (const f of frames) await new Promise(resolve => client.write(f, resolve));
      release();
      expect((await back).equals(wire)).toBe(true);
      client.end();
      await once(client, 'close');
      await server.close();
      expect(server.stats().total.errors).toBe(0);
    }
  });

  it('answers the TLS records of one TCP read with one TLS write, echo and handler alike, in order, and the peer\'s next batch stays whole', async () => {
    for (const mode of ['echo', 'handler'] as const) {
      const { server, port } = await startServer({
        core, writePath, framing: 'length:4', tls: { ...certs.server },
        ...(mode === 'handler' ? { onFrame: (f: Uint8Array, c: Connection) => void c.send(f) } : {}),
      });
      const { client, hold, release, records } = await coalescingClient(port);
      const batch = (round: number, part: number) => Buffer.concat(Array.from({ length: 7 }, (_, i) => frameWith['length:4'](pattern(60, round * 100 + part * 16 + i))));
      // After the handshake the server sends its session tickets: one round trip first, then count.
      const ping = frameWith['length:4'](pattern(10, 0));
      const pong = readBytes(client, ping.length);
      client.write(ping);
      expect((await pong).equals(ping)).toBe(true);
      await sleep(50);
      records();
      for (let round = 0; round < 5; round++) {
        // Two records (two writes of 7 frames, 896 bytes in all: within the smallest tx ring) in one TCP write:
        // one read, two decrypted records, one read callback each.
        const first = batch(round, 0), second = batch(round, 1);
        const back = readBytes(client, first.length + second.length);
        hold();
        await new Promise(resolve => client.write(first, resolve));
        await new Promise(resolve => client.write(second, resolve));
        release();
        expect((await back).equals(Buffer.concat([first, second]))).toBe(true);
        // Each reply before the fix left in two writes: the first record's at once, the second's when that write completed.
        expect(records(), `round ${round}, ${mode}: TLS records from the server`).toBe(1);
      }
      client.end();
      await once(client, 'close');
      await server.close();
      expect(server.stats().total.errors).toBe(0);
    }
  });

  it('drains over TLS: server.close() during a read of many records answers every frame read, exact bytes, then a clean FIN, echo and handler alike', async () => {
    for (const mode of ['echo', 'handler'] as const) {
      let closing: Promise<void> | undefined;
      const { server, port } = await startServer({
        core, writePath, framing: 'length:4', maxFrame: 64 * 1024, drainTimeout: 5000, tls: { ...certs.server },
        // The handler starts the drain from inside the first batch: the rest of the read is still answered.
        ...(mode === 'handler' ? { onFrame: (f: Uint8Array, c: Connection) => { c.send(f); closing ??= server.close(); } } : {}),
      });
      const clients = await Promise.all([0, 1, 2].map(() => coalescingClient(port)));
      const sent = clients.map((_, k) => Buffer.concat(Array.from({ length: 200 }, (_, i) => frameWith['length:4'](pattern(i % 40 === 0 ? 20_000 : 1 + ((i * 53) % 300), k * 1000 + i)))));
      const results = clients.map(({ client }) => new Promise<{ data: Buffer; fin: boolean }>(resolve => {
        const parts: Buffer[] = [];
        let fin = false;
        client.on('data', d => parts.push(d));
        client.on('end', () => { fin = true; });
        client.on('error', () => {});
        client.on('close', () => resolve({ data: Buffer.concat(parts), fin }));
      }));
      for (const [k, { client, hold, release }] of clients.entries()) {
        hold();
        for (let at = 0; at < sent[k]!.length; at += 8192) await new Promise(resolve => client.write(sent[k]!.subarray(at, at + 8192), resolve));
        release();
      }
      if (mode === 'echo') {
        await until(() => server.stats().total.framesIn >= 1, 5000, 'the first frame to be read');
        closing = server.close();
      }
      await closing;
      let answered = 0;
      for (const [k, r] of (await Promise.all(results)).entries()) {
        expect(r.fin, `${mode}, client ${k}: a FIN`).toBe(true);
        // What was answered is a prefix of what was sent, in whole frames.
        expect(r.data.equals(sent[k]!.subarray(0, r.data.length)), `${mode}, client ${k}: exact bytes`).toBe(true);
        let at = 0;
        while (at < r.data.length) at += 4 + r.data.readUInt32BE(at), answered++;
        expect(at, `${mode}, client ${k}: whole frames`).toBe(r.data.length);
      }
      // And every frame the server read was answered.
      expect(server.stats().total).toMatchObject({ framesIn: answered, drainUnanswered: 0, errors: 0 });
    }
  });

  it('closing from inside a handler over TLS sends every reply given before it, exact bytes, then FIN; the frames after it in the same read go unanswered', async () => {
    const close = frameWith['length:4'](Buffer.from('close'));
    const { server, port } = await startServer({
      core, writePath, framing: 'length:4', maxFrame: 64 * 1024, tls: { ...certs.server },
      onFrame(f, c) {
        // Three replies per frame: more than the first tx ring holds, so some wait in the queue for the writes.
        for (let i = 0; i < 3; i++) c.send(f);
        if (Buffer.from(f).toString() === 'close') c.close();
      },
    });
    const { client, hold, release } = await coalescingClient(port);
    const before = Array.from({ length: 100 }, (_, i) => frameWith['length:4'](pattern(1 + ((i * 97) % 5000), i)));
    const after = Array.from({ length: 20 }, (_, i) => frameWith['length:4'](pattern(100, 500 + i)));
    const expected = Buffer.concat([...before, close].flatMap(f => [f, f, f]));
    const parts: Buffer[] = [];
    let fin = false;
    client.on('data', d => parts.push(d));
    client.on('end', () => { fin = true; });
    const closed = once(client, 'close');
    hold();
    for (const f of [...before, close, ...after]) await new Promise(resolve => client.write(f, resolve));
    release();
    await closed;
    expect(fin).toBe(true);
    expect(Buffer.concat(parts).equals(expected)).toBe(true);
    await server.close();
    expect(server.stats().total.errors).toBe(0);
  });

  it('keeps in order what TLS decrypts while the rx ring is full (a handler holds its frames), and answers all of it once they settle', async () => {
    let open!: () => void;
    const gate = new Promise<void>(resolve => (open = resolve));
    const { server, port } = await startServer({
      core, writePath, framing: 'length:4', maxFrame: 1024, rxRing: 4096, tls: { ...certs.server },
      async onFrame(f, c) {
        await gate;
        c.send(f);
      },
    });
    const { client, hold, release } = await coalescingClient(port);
    // 300 records of up to 1 KiB in one TCP write: Node decrypts them all in one go, far more than the 4 KiB ring holds.
    const frames = Array.from({ length: 300 }, (_, i) => frameWith['length:4'](pattern(1 + ((i * 211) % 1000), i)));
    const wire = Buffer.concat(frames);
    const back = readBytes(client, wire.length);
    hold();
    for (const f of frames) await new Promise(resolve => client.write(f, resolve));
    release();
    await until(() => server.stats().total.backpressurePauses > 0, 5000, 'the server to pause: its ring is full');
    await sleep(50);
    open();
    expect((await back).equals(wire)).toBe(true);
    client.end();
    await once(client, 'close');
    await server.close();
    expect(server.stats().total.errors).toBe(0);
  });

  it('a TLS client that never reads is closed with ERR_SLOW_CONSUMER (writeTimeout; a handler\'s replies also at maxQueued), and a bystander echoes on', async () => {
    for (const mode of ['echo', 'handler'] as const) {
      // The handler answers each frame 20 times (a broadcast, say): its replies outgrow what reading less can hold back.
      const amplify = (f: Uint8Array, c: Connection) => { for (let i = 0; i < 20; i++) c.send(f); };
      const { server, port } = await startServer({
        core, writePath, framing: 'length:4', maxFrame: 64 * 1024, tls: { ...certs.server },
        writeTimeout: 300, ...(mode === 'handler' ? { maxQueued: 256 * 1024, onFrame: amplify } : {}),
      });
      const errors: RingwireError[] = [];
      server.on('clientError', e => errors.push(e));
      const bystander = await tlsClient(port);
      const stalled = await tlsClient(port);
      stalled.on('error', () => {});
      stalled.pause();
      // ~16 MB: more than the kernel's socket buffers on both sides absorb, so the server's writes stop moving.
      const frame = frameWith['length:4'](pattern(16_000, 1));
      for (let i = 0; i < 1000; i++) stalled.write(frame);
      await until(() => errors.length > 0, 10_000, `the ${mode} to give up on the client that never reads`);
      expect(errors.map(e => e.code)).toEqual(['ERR_SLOW_CONSUMER']);
      // Whichever comes first for the handler: no progress for writeTimeout, or its queue over maxQueued.
      expect(errors[0]!.message).toMatch(mode === 'echo' ? /no write progress for \d+ ms \(writeTimeout 300 ms\)/ : /writeTimeout 300 ms|more than maxQueued/);
      const copies = mode === 'echo' ? 1 : 20;
      const back = readBytes(bystander, frame.length * copies);
      bystander.write(frame);
      expect((await back).equals(Buffer.concat(Array(copies).fill(frame)))).toBe(true);
      bystander.end();
      stalled.destroy();
      await server.close();
    }
  });

  it('gives a client that stops reading exact bytes once it reads again (tx ring views written to TLS are never overwritten early)', async () => {
    const { server, port } = await startServer({ core, writePath, framing: 'length:4', maxFrame: 64 * 1024, tls: { ...certs.server }, onFrame: (f, c) => void c.send(f) });
    const client = await tlsClient(port);
    client.pause();
    // ~15 MB: more than the kernel's socket buffers on both sides can absorb (loopback autotunes them to several MB), so the server must pause.
    const wire = Buffer.concat(Array.from({ length: 1000 }, (_, i) => frameWith['length:4'](pattern(1 + ((i * 7919) % 30_000), i))));
    client.write(wire);
    await until(() => server.stats().total.backpressurePauses > 0, 5000, 'the server to pause: its replies wait for the client');
    await sleep(100);
    const back = readBytes(client, wire.length);
    client.resume();
    expect((await back).equals(wire)).toBe(true);
    client.end();
    await server.close();
    expect(server.stats().total.errors).toBe(0);
  });

  it('writes replies through the path it names: the TLS handle itself (direct: never the TLSSocket\'s write), or the TLSSocket\'s write (stream)', async () => {
    const { server, port } = await startServer({ core, writePath, framing: 'length:4', maxFrame: 64 * 1024, tls: { ...certs.server } });
    const client = await tlsClient(port);
    const first = frameWith['length:4'](Buffer.from('x'));
    const back1 = readBytes(client, first.length);
    client.write(first);
    expect((await back1).equals(first)).toBe(true);
    const socket = [...server.connections.values()][0]!.socket as tls.TLSSocket;
    expect(socket.encrypted).toBe(true);
    // Count the calls on both layers: the Writable's write, and the TLSWrap handle's writes under it (which both paths reach).
    const streamWrites = countStreamWrites(socket);
    let handleWrites = 0;
    const handle = (socket as unknown as { _handle: Record<'writeBuffer' | 'writev', (...a: unknown[]) => number> })._handle;
    expect(handle.constructor.name).toBe('TLSWrap');
    for (const name of ['writeBuffer', 'writev'] as const) {
      const original = handle[name];
      handle[name] = function (this: unknown, ...a: unknown[]) {
        handleWrites++;
        return original.apply(this, a);
      };
    }
    const wire = Buffer.concat(Array.from({ length: 60 }, (_, i) => frameWith['length:4'](pattern(1 + i * 500, i))));
    const back = readBytes(client, wire.length);
    client.write(wire);
    expect((await back).equals(wire)).toBe(true);
    expect(handleWrites).toBeGreaterThan(0);
    expect({ streamWrites: streamWrites() > 0 }).toEqual({ streamWrites: writePath === 'stream' });
    client.end();
    await server.close();
  });

  it('a TLS client that never reads: sends queue behind its stalled write up to maxQueued and it stays; one byte past closes it with ERR_SLOW_CONSUMER', async () => {
    const { server, port } = await startServer({ core, writePath, framing: 'length:4', maxFrame: 64 * 1024, maxQueued: 16_000, writeTimeout: 60_000, tls: { ...certs.server } });
    const codes = errorCodes(server);
    const atCap = await tlsClient(port);
    const past = await tlsClient(port);
    past.on('error', () => {});
    atCap.pause();
    past.pause();
    // ~16 MB each: more than the kernel's socket buffers on both sides absorb, so a write of the server's stalls
    // (its records wait in the kernel), the echoes fill the tx ring and the server stops reading.
    const wire = Buffer.concat(Array.from({ length: 1000 }, (_, i) => frameWith['length:4'](pattern(16_000, i))));
    atCap.write(wire);
    past.write(wire);
    await untilWritesStop(() => server.stats().total.bytesOut);
    const connectionOf = (client: tls.TLSSocket) => [...server.connections.values()].find(c => c.remotePort === client.localPort)!;
    // 8,000 bytes do not fit in what the echoes left of the tx ring: each send queues.
    const extra = pattern(8000, 77);
    expect([connectionOf(atCap).send(extra), connectionOf(atCap).send(extra)]).toEqual([false, false]); // 16,000 queued: at maxQueued
    expect([connectionOf(past).send(extra), connectionOf(past).send(extra), connectionOf(past).send(Buffer.from([1]))]).toEqual([false, false, false]);
    await until(() => codes.length > 0, 5000, 'the connection one byte past maxQueued to close');
    await sleep(100);
    expect(codes).toEqual(['ERR_SLOW_CONSUMER']);
    expect(server.connections.size).toBe(1);
    // The one at the limit gets every echo and both sends once it reads, exact bytes: the sends after the echoes
    // of the frames read before it stalled, before those of the frames still unread.
    const back = readBytes(atCap, wire.length + 2 * (4 + extra.length));
    atCap.resume();
    const got = await back;
    const at = got.indexOf(frameWith['length:4'](extra));
    expect(at % (4 + 16_000)).toBe(0);
    expect(got.subarray(at, at + 2 * (4 + extra.length)).equals(Buffer.concat([frameWith['length:4'](extra), frameWith['length:4'](extra)]))).toBe(true);
    expect(Buffer.concat([got.subarray(0, at), got.subarray(at + 2 * (4 + extra.length))]).equals(wire)).toBe(true);
    atCap.end();
    past.destroy();
    await server.close();
    expect(server.queuedBytes).toBe(0);
  });

  it('a client that resets while a TLS write of the server\'s waits on it closes that connection alone (ERR_SOCKET), and a bystander echoes on', async () => {
    const { server, port } = await startServer({ core, writePath, framing: 'length:4', maxFrame: 64 * 1024, writeTimeout: 60_000, tls: { ...certs.server } });
    const errors: RingwireError[] = [];
    server.on('clientError', e => errors.push(e));
    const bystander = await tlsClient(port);
    const raw = net.connect(port, '127.0.0.1');
    await once(raw, 'connect');
    const client = tls.connect({ socket: raw, ca: certs.ca, servername: 'localhost' });
    await once(client, 'secureConnect');
    client.on('error', () => {});
    raw.on('error', () => {});
    client.pause();
    client.write(Buffer.concat(Array.from({ length: 1000 }, (_, i) => frameWith['length:4'](pattern(16_000, i)))));
    await untilWritesStop(() => server.stats().total.bytesOut);
    raw.resetAndDestroy();
    await until(() => errors.length > 0 && server.connections.size === 1, 5000, 'the reset connection to close');
    expect(errors.map(e => [e.code, e.message])).toEqual([['ERR_SOCKET', expect.stringMatching(/ECONNRESET|EPIPE/)]]);
    const frame = frameWith['length:4'](pattern(20_000, 5));
    const back = readBytes(bystander, frame.length);
    bystander.write(frame);
    expect((await back).equals(frame)).toBe(true);
    bystander.end();
    await server.close();
    expect(server.queuedBytes).toBe(0);
  });

  it('closing from inside a handler while a TLS write waits on the client sends every reply before the FIN, exact bytes, and a clean close', async () => {
    const chunk = 60_000;
    const { server, port } = await startServer({
      core, writePath, framing: 'length:4', maxFrame: 64 * 1024, maxQueued: 32 << 20, writeTimeout: 60_000, tls: { ...certs.server },
      onFrame(f, c) {
        // 16 MB of replies, then close: more than the kernel's buffers take while the client does not read, so the
        // close comes with replies queued and a write stalled, and the FIN must wait for all of them.
        for (let i = 0; i < 270; i++) c.send(pattern(chunk, i + f[0]!));
        c.close();
      },
    });
    const client = await tlsClient(port);
    client.pause();
    const parts: Buffer[] = [];
    let fin = false;
    client.on('data', d => parts.push(d));
    client.on('end', () => { fin = true; });
    const closed = once(client, 'close');
    client.write(frameWith['length:4'](Buffer.from([3])));
    await untilWritesStop(() => server.stats().total.bytesOut);
    client.resume();
    await closed;
    expect(fin).toBe(true);
    const expected = Buffer.concat(Array.from({ length: 270 }, (_, i) => frameWith['length:4'](pattern(chunk, i + 3))));
    expect(Buffer.concat(parts).equals(expected)).toBe(true);
    await server.close();
    expect(server.stats().total.errors).toBe(0);
  });

  it('echoes exact bytes to openssl s_client', async () => {
    const { server, port } = await startServer({ core, writePath, framing: 'line', tls: { ...certs.server } });
    const lines = Array.from({ length: 200 }, (_, i) => `line ${i} ${'abc'.repeat(i % 50)}`);
    const input = `${lines.join('\n')}\n`;
    // -quiet: no session dump, and reading goes on after stdin ends; the server's graceful close ends it.
    const child = spawn('openssl', ['s_client', '-connect', `127.0.0.1:${port}`, '-CAfile', `${certs.dir}/ca.crt`, '-verify_return_error', '-quiet'],
      { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', d => { out += d; });
    child.stderr.on('data', d => { err += d; });
    child.stdin.end(input);
    const exited = once(child, 'exit');
    await until(() => out.length >= input.length || child.exitCode !== null, 10_000, 'the echo through s_client');
    expect(out, err).toBe(input);
    await server.close();
    expect((await exited)[0]).toBe(0);
    expect(server.stats().total.errors).toBe(0);
    // openssl verified the chain (-verify_return_error would have failed the handshake otherwise).
    expect(execFileSync('openssl', ['verify', '-CAfile', `${certs.dir}/ca.crt`, `${certs.dir}/server.crt`]).toString()).toContain('OK');
  });

  it('refuses bad handshakes with ERR_TLS, times out silent and half-sent ones at the limit, and a bystander echoes throughout', async () => {
    const LIMIT = 400;
    const errors: RingwireError[] = [];
    let opened = 0;
    const { server, port } = await startServer({
      core, writePath, framing: 'line', tls: { ...certs.server, handshakeTimeout: LIMIT },
      onOpen: () => void opened++, onFrame: (f, c) => void c.send(f),
    });
    server.on('clientError', e => errors.push(e));
    const bystander = await tlsClient(port);
    let round = 0;
    let echoing = true;
    const echoes = (async () => {
      while (echoing) {
        const line = `bystander ${round++} ${'z'.repeat(round % 100)}\n`;
        const back = readBytes(bystander, line.length);
        bystander.write(line);
        expect((await back).toString()).toBe(line);
        await sleep(5);
      }
    })();

    // A plain-TCP client: its bytes are not a TLS record.
    const plain = net.connect(port, '127.0.0.1');
    plain.on('error', () => {});
    plain.write('GET / HTTP/1.0\r\n\r\n');
    await once(plain, 'close');
    await until(() => errors.length === 1, 5000, 'ERR_TLS for the plain client');
    expect(errors[0]).toMatchObject({ code: 'ERR_TLS', number: 16 });
    expect(errors[0]!.message).toMatch(/wrong version number|ERR_SSL/i);

    // A client that does not trust the server's CA refuses it; the server counts the alert.
    const untrusting = tls.connect({ host: '127.0.0.1', port });
    const [refusal] = await once(untrusting, 'error');
    expect((refusal as NodeJS.ErrnoException).code).toBe('UNABLE_TO_VERIFY_LEAF_SIGNATURE');
    await until(() => errors.length === 2, 5000, 'ERR_TLS for the client that refused the certificate');
    expect(errors[1]).toMatchObject({ code: 'ERR_TLS' });

    // Under the limit: a client silent for half of it, then a whole handshake, opens and echoes.
    const late = net.connect(port, '127.0.0.1');
    await once(late, 'connect');
    await sleep(LIMIT / 2);
    const lateTls = tls.connect({ socket: late, ca: certs.ca, servername: 'localhost' });
    await once(lateTls, 'secureConnect');
    const lateBack = readBytes(lateTls, 5);
    lateTls.write('late\n');
    expect((await lateBack).toString()).toBe('late\n');
    lateTls.end();
    expect(opened).toBe(2);

    // Silent, and half a ClientHello: both closed with E_TLS_TIMEOUT, not before the limit, within a sweep period after it.
    const hello = await clientHelloBytes();
    const started = performance.now();
    const silent = net.connect(port, '127.0.0.1');
    const half = net.connect(port, '127.0.0.1');
    half.write(hello.subarray(0, hello.length >> 1));
    for (const s of [silent, half]) s.on('error', () => {});
    await Promise.all([once(silent, 'close'), once(half, 'close')]);
    const took = performance.now() - started;
    expect(took).toBeGreaterThanOrEqual(LIMIT - 5);
    expect(took).toBeLessThan(LIMIT + 1500);
    expect(errors.slice(2).map(e => [e.code, e.number, e.name])).toEqual([['ERR_TLS', 17, 'TlsTimeoutError'], ['ERR_TLS', 17, 'TlsTimeoutError']]);

    echoing = false;
    await echoes;
    expect(round).toBeGreaterThan(5);
    expect(opened).toBe(2); // the bystander and the late one: no hook ran for a failed handshake
    const t = server.stats().total;
    expect(t.errorsByCode).toEqual({ ERR_TLS: 4 });
    expect(t.tlsTimeouts).toBe(2);
    expect(t.closedBy.ERR_TLS).toBe(4); // closed by that error, as the metrics report them
    expect(t.connections).toBe(1);
    bystander.end();
    await server.close();
  });

  it('closes a connection at once with ERR_TLS, counted, when a record fails after the handshake, and a bystander echoes on', async () => {
    const { server, port } = await startServer({ core, writePath, framing: 'line', tls: certs.server, idleTimeout: 60_000, onFrame: (f, c) => void c.send(f) });
    const errors: RingwireError[] = [];
    server.on('clientError', e => errors.push(e));
    const bystander = await tlsClient(port);
    const echo = async (socket: net.Socket, text: string) => {
      const back = readBytes(socket, text.length);
      socket.write(text);
      expect((await back).toString()).toBe(text);
    };
    const rounds = async (n: number) => { for (let i = 0; i < n; i++) await echo(bystander, `round ${i}\n`); };
    await rounds(3);
    for (let i = 0; i < 3; i++) {
      // A real TLS client over a raw socket we keep: past the handshake, a record of garbage goes out on the raw socket.
      const raw = net.connect(port, '127.0.0.1');
      await once(raw, 'connect');
      const client = tls.connect({ socket: raw, ca: certs.ca, servername: 'localhost' });
      client.on('error', () => {});
      await once(client, 'secureConnect');
      await echo(client, 'fine\n');
      const closed = once(raw, 'close');
      const started = performance.now();
      raw.write(Buffer.concat([Buffer.from([0x17, 0x03, 0x03, 0x00, 0x40]), Buffer.alloc(0x40, 0xa5)])); // application data, bad MAC
      await closed;
      expect(performance.now() - started).toBeLessThan(5000); // at once, not at the idle timeout (60 s)
      await rounds(2);
    }
    await until(() => server.connections.size === 1, 5000, 'the corrupt connections gone');
    expect(errors.map(e => e.code)).toEqual(['ERR_TLS', 'ERR_TLS', 'ERR_TLS']);
    expect(errors[0]!.message).toMatch(/^TLS record refused after the handshake: /);
    const t = server.stats().total;
    expect(t.errorsByCode).toEqual({ ERR_TLS: 3 });
    expect(t.closedBy.ERR_TLS).toBe(3);
    expect(t.connections).toBe(1);
    bystander.end();
    await server.close();
  });

  it('with requestCert, opens for a client certificate signed by the CA and refuses one that is not', async () => {
    const errors: RingwireError[] = [];
    const peers: string[] = [];
    const { server, port } = await startServer({
      core, writePath, framing: 'line', tls: { ...certs.server, ca: certs.ca, requestCert: true },
      onOpen: c => void peers.push(`${c.tls!.authorized} ${c.tls!.socket.getPeerX509Certificate()?.subject}`),
      onFrame: (f, c) => void c.send(f),
    });
    server.on('clientError', e => errors.push(e));
    const good = await tlsClient(port, certs.client);
    const back = readBytes(good, 6);
    good.write('hello\n');
    expect((await back).toString()).toBe('hello\n');
    expect(peers).toEqual(['true CN=ringwire test client']);

    for (const options of [certs.rogueClient, {}]) {
      // TLS 1.3: the client's handshake is done before the server has checked its certificate; the server
      // then closes (a certificate of another CA), or OpenSSL alerts (none at all). Nothing is echoed.
      const bad = tls.connect({ host: '127.0.0.1', port, ca: certs.ca, ...options });
      const received: Buffer[] = [];
      bad.on('data', d => void received.push(d));
      bad.on('error', () => {});
      bad.write('let me in\n');
      await new Promise(resolve => bad.once('close', resolve)); // once() would reject on the client's 'error'
      expect(received).toEqual([]);
    }
    await until(() => errors.length === 2, 5000, 'two refusals');
    expect(errors.map(e => e.code)).toEqual(['ERR_TLS', 'ERR_TLS']);
    expect(errors[0]!.message).toMatch(/client certificate refused: UNABLE_TO_VERIFY_LEAF_SIGNATURE|unknown ca|certificate/i);
    expect(peers).toHaveLength(1);
    good.end();
    await server.close();
  });

  it('connect({ tls }) closes at once with ERR_TLS when the server corrupts a record after the handshake', async () => {
    const bad = Buffer.concat([Buffer.from([0x17, 0x03, 0x03, 0x00, 0x40]), Buffer.alloc(0x40, 0x5a)]);
    const context = tls.createSecureContext(certs.server);
    const raws: net.Socket[] = [];
    const plain = net.createServer(raw => {
      raws.push(raw);
      raw.on('error', () => {});
      const t = new tls.TLSSocket(raw, { isServer: true, secureContext: context });
      t.on('error', () => {});
      t.once('data', () => raw.write(bad)); // the client's first frame, then a record that fails its MAC
    });
    plain.listen(0, '127.0.0.1');
    await once(plain, 'listening');
    const closes: (string | undefined)[] = [];
    const client = await connect({
      core, writePath, framing: 'line', port: (plain.address() as net.AddressInfo).port, tls: { ca: certs.ca, servername: 'localhost' },
      onFrame: () => {}, onClose: (_c, err) => void closes.push(err?.code),
    });
    const c = await client.ready;
    c.send(Buffer.from('hello'));
    const ended = once(client, 'end');
    await until(() => closes.length === 1, 5000, 'the client connection closed');
    expect(closes).toEqual(['ERR_TLS']);
    await ended;
    for (const raw of raws) raw.destroy();
    await new Promise(resolve => plain.close(resolve));
  });

  it('connect({ tls }) exchanges frames with a TLS server, reconnects over TLS, and refuses an untrusted server with ERR_TLS', async () => {
    let { server, port } = await startServer<unknown>({ core, writePath, framing: 'length:4', tls: { ...certs.server } });
    const got: string[] = [];
    const opens: (string | null)[] = [];
    const client = await connect({
      core, writePath, framing: 'length:4', port, tls: { ca: certs.ca }, reconnect: { initialDelay: 20, maxDelay: 50, jitter: 0 },
      onOpen: (c: Connection) => void opens.push(c.tls!.protocol), onFrame: f => void got.push(Buffer.from(f).toString()),
    });
    await client.ready;
    for (let i = 0; i < 100; i++) client.send(Buffer.from(`frame ${i}`));
    await until(() => got.length === 100, 5000, 'the echo');
    expect(got).toEqual(Array.from({ length: 100 }, (_, i) => `frame ${i}`));
    // The server restarts on the same port: the client reconnects, over TLS again, and its held frames go first.
    await server.close();
    await until(() => client.connection === null, 5000, 'the client to see the close');
    expect(client.send(Buffer.from('held'))).toBe(true);
    server = createServer({ core, writePath, framing: 'length:4', tls: { ...certs.server } });
    await server.listen(port);
    await until(() => got.length === 101, 5000, 'the held frame after reconnecting');
    expect(got[100]).toBe('held');
    expect(opens).toEqual(['TLSv1.3', 'TLSv1.3']);
    await client.close();
    await server.close();

    // An untrusted server (no ca given: the system's CAs): the handshake fails, as ERR_TLS, and no hook runs.
    const { server: other, port: otherPort } = await startServer({ core, writePath, framing: 'length:4', tls: { ...certs.server } });
    let ran = false;
    const refused = await connect({ core, writePath, framing: 'length:4', port: otherPort, tls: {}, onOpen: () => void (ran = true), onFrame: () => {} });
    const [endError] = await once(refused, 'end');
    expect(endError).toMatchObject({ code: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' });
    expect(ran).toBe(false);
    await other.close();
  });
});

describe.each(CORES_AND_PATHS)('TLS behind a load balancer: a PROXY header, then the TLS handshake (core=$core, $writePath writes)', ({ core, writePath }) => {
  // A v2 header for 198.51.100.7:40000 -> 203.0.113.1:443, and the v1 line for the same.
  const v2 = Buffer.concat([Buffer.from('0d0a0d0a000d0a515549540a', 'hex'), Buffer.from([0x21, 0x11, 0, 12]),
    Buffer.from([198, 51, 100, 7, 203, 0, 113, 1, 40000 >> 8, 40000 & 255, 443 >> 8, 443 & 255])]);
  const v1 = Buffer.from('PROXY TCP4 198.51.100.7 203.0.113.1 40000 443\r\n');

  it.each([['v2', v2], ['v1', v1]] as const)('%s: the header is read from the raw bytes, TLS after it, exact bytes echoed, onOpen sees both', async (_name, header) => {
    const seen: string[] = [];
    const errors: RingwireError[] = [];
    const { server, port } = await startServer({
      core, writePath, framing: 'line', proxyProtocol: 'any', tls: { ...certs.server, handshakeTimeout: 2000 },
      onOpen: c => void seen.push(`${c.remoteAddress}:${c.remotePort} via ${c.socketRemoteAddress} ${c.tls?.protocol}`),
      onFrame: (f, c) => void c.send(f),
    });
    server.on('clientError', e => errors.push(e));
    for (const split of [false, true]) {
      const raw = net.connect(port, '127.0.0.1');
      await once(raw, 'connect');
      if (split) for (const byte of header) { raw.write(Buffer.from([byte])); await sleep(1); } // byte by byte across reads
      else raw.write(header);
      const client = tls.connect({ socket: raw, ca: certs.ca, servername: 'localhost' });
      await once(client, 'secureConnect');
      const text = Array.from({ length: 100 }, (_, i) => `behind the balancer ${i}\n`).join('');
      const back = readBytes(client, text.length);
      client.write(text);
      expect((await back).toString()).toBe(text);
      client.end();
      await new Promise(resolve => client.once('close', resolve));
    }
    expect(seen).toEqual(['198.51.100.7:40000 via 127.0.0.1 TLSv1.3', '198.51.100.7:40000 via 127.0.0.1 TLSv1.3']);
    // A TLS client that sends no header: its ClientHello is a bad header, ERR_PROXY_HEADER, before any TLS.
    const bare = tls.connect({ host: '127.0.0.1', port, ca: certs.ca });
    bare.on('error', () => {});
    await new Promise(resolve => bare.once('close', resolve));
    await until(() => errors.length === 1, 5000, 'ERR_PROXY_HEADER');
    expect(errors[0]!.code).toBe('ERR_PROXY_HEADER');
    await server.close();
    expect(server.stats().total.errorsByCode).toEqual({ ERR_PROXY_HEADER: 1 });
  });

  it('a header and the ClientHello in one write, as a balancer forwards them: what follows the header goes to TLS', async () => {
    const { server, port } = await startServer({ core, writePath, framing: 'line', proxyProtocol: 'v2', tls: { ...certs.server } });
    const sockets = new Set<net.Socket>();
    const balancer = net.createServer(inbound => {
      const out = net.connect(port, '127.0.0.1');
      for (const s of [inbound, out]) { sockets.add(s); s.on('error', () => {}); }
      inbound.once('data', hello => {
        out.write(Buffer.concat([v2, hello])); // header + ClientHello: one write
        inbound.pipe(out).pipe(inbound);
      });
    });
    balancer.listen(0, '127.0.0.1');
    await once(balancer, 'listening');
    const client = await tlsClient((balancer.address() as net.AddressInfo).port, { servername: 'localhost' });
    const back = readBytes(client, 12);
    client.write('one write!\n\n');
    expect((await back).toString()).toBe('one write!\n\n');
    client.on('error', () => {});
    client.end();
    await new Promise(resolve => client.once('close', resolve));
    for (const s of sockets) s.destroy();
    balancer.close();
    await server.close();
    expect(server.stats().total.errors).toBe(0);
  });

  it('through real HAProxy (TCP mode, send-proxy-v2): TLS passes through, the handler sees the client HAProxy saw and the TLS session', async () => {
    const why = missingHaproxy();
    if (why) throw new Error(`this test needs HAProxy (npm test installs it: scripts/test-peers.ts): ${why}`);
    const seen: string[] = [];
    const { server, port } = await startServer({
      core, writePath, framing: 'line', proxyProtocol: 'v2', proxyTrusted: ['127.0.0.1/32'], tls: { ...certs.server },
      onOpen: c => void seen.push(`${c.remoteAddress} via ${c.socketRemoteAddress} ${c.tls?.protocol}`), onFrame: (f, c) => void c.send(f),
    });
    const haproxy = await Haproxy.start({ port: await freePort(), proxy: 'v2', check: false, servers: [{ name: 'host1', host: '127.0.0.1', port }] });
    try {
      const client = tls.connect({ host: '127.0.0.1', port: haproxy.port, localAddress: '127.0.0.3', ca: certs.ca, servername: 'localhost' } as tls.ConnectionOptions);
      await once(client, 'secureConnect');
      const text = Array.from({ length: 200 }, (_, i) => `through haproxy ${i}\n`).join('');
      const back = readBytes(client, text.length);
      client.write(text);
      expect((await back).toString()).toBe(text);
      client.end();
      await new Promise(resolve => client.once('close', resolve));
      expect(seen).toEqual(['127.0.0.3 via 127.0.0.1 TLSv1.3']);
      expect(server.stats().total.errors).toBe(0);
    } finally {
      await haproxy.stop();
      await server.close();
    }
  });

  it('a header followed by no handshake is closed with E_TLS_TIMEOUT, counted from the end of the header', async () => {
    const errors: RingwireError[] = [];
    const { server, port } = await startServer({ core, writePath, framing: 'line', proxyProtocol: 'v2', tls: { ...certs.server, handshakeTimeout: 300 } });
    server.on('clientError', e => errors.push(e));
    const raw = net.connect(port, '127.0.0.1');
    raw.on('error', () => {});
    await once(raw, 'connect');
    raw.write(v2);
    const started = performance.now();
    await new Promise(resolve => raw.once('close', resolve));
    expect(performance.now() - started).toBeGreaterThanOrEqual(295);
    expect(errors.map(e => e.name)).toEqual(['TlsTimeoutError']);
    await server.close();
  });
});

describe('TLS with two worker threads', () => {
  const modes: Balance[] = ['reuseport', ...(canTransferSockets() ? ['transfer' as const] : [])];
  it.each(modes)('balance %s: every connection is wrapped in its worker and echoes exact bytes', async balance => {
    const server = createWorkerServer({ workers: 2, balance, framing: 'line', tls: { ...certs.server, handshakeTimeout: 2000 } });
    const { port } = await server.listen(0);
    const clients = await Promise.all(Array.from({ length: 8 }, () => tlsClient(port)));
    await Promise.all(clients.map(async (c, i) => {
      const text = Array.from({ length: 50 }, (_, j) => `client ${i} line ${j}\n`).join('');
      const back = readBytes(c, text.length);
      c.write(text);
      expect((await back).toString()).toBe(text);
    }));
    const plain = net.connect(port, '127.0.0.1');
    plain.on('error', () => {});
    plain.write('not tls\n');
    await once(plain, 'close');
    await until(() => server.stats().total.errorsByCode.ERR_TLS === 1, 5000, 'ERR_TLS counted in a worker');
    const per = server.stats().workers.map(w => w.accepted);
    expect(per.reduce((a, b) => a + b)).toBe(9);
    for (const c of clients) c.end();
    await server.close();
  });

  it('refuses TLS callbacks, which cannot be copied into a thread, with ERR_BAD_CONFIG', () => {
    expect(() => createWorkerServer({ workers: 2, tls: { ...certs.server, SNICallback: () => {} } })).toThrow(expect.objectContaining({
      code: 'ERR_BAD_CONFIG', message: expect.stringMatching(/tls\.SNICallback is a function, which cannot cross into worker threads/),
    }));
  });
});

describe('TLS from the command line and to a relay\'s upstream', () => {
  it('ringwire serve --tls-cert --tls-key --workers 2 echoes exact bytes over TLS; bad TLS options exit 2', async () => {
    const child = spawn(process.execPath, ['dist/cli.js', 'serve', '--port', '0', '--framing', 'line', '--workers', '2',
      '--tls-cert', `${certs.dir}/server.crt`, '--tls-key', `${certs.dir}/server.key`, '--tls-handshake-timeout', '2s'], { stdio: ['ignore', 'pipe', 'pipe'] });
    try {
      const [line] = (await once(child.stdout, 'data')) as [Buffer];
      expect(line.toString()).toMatch(/ tls /);
      const port = Number(/:(\d+) /.exec(line.toString())![1]);
      await echoesText(await tlsClient(port), 'over the command line\n'.repeat(100));
    } finally {
      child.kill('SIGKILL');
    }
    const cli = (args: string[]) => spawnSync(process.execPath, ['dist/cli.js', 'serve', '--port', '0', ...args], { encoding: 'utf8', timeout: 10_000 });
    for (const [args, message] of [
      [['--tls-cert', `${certs.dir}/server.crt`], /give --tls-cert <file> and --tls-key <file>/],
      [['--tls-cert', `${certs.dir}/nope.crt`, '--tls-key', `${certs.dir}/server.key`], /--tls-cert: cannot read .*nope\.crt: ENOENT/],
      [['--tls-cert', `${certs.dir}/server.crt`, '--tls-key', `${certs.dir}/client.key`], /tls: .*key values mismatch/],
      [['--tls-cert', `${certs.dir}/server.crt`, '--tls-key', `${certs.dir}/server.key`, '--tls-ca', `${certs.dir}/ca.crt`], /give --tls-request-cert too/],
    ] as const) {
      const r = cli([...args]);
      expect(r.status, r.stderr).toBe(2);
      expect(r.stderr).toMatch(message);
      expect(r.stderr).toContain('ERR_BAD_CONFIG');
    }
  });

  it('ringwire relay --upstream-ca relays exact bytes to a TLS upstream', async () => {
    const { server: upstream, port: upstreamPort } = await startServer({ framing: 'line', tls: { ...certs.server } });
    const child = spawn(process.execPath, ['dist/cli.js', 'relay', '--port', '0', '--framing', 'line',
      '--upstream', `127.0.0.1:${upstreamPort}`, '--upstream-ca', `${certs.dir}/ca.crt`], { stdio: ['ignore', 'pipe', 'pipe'] });
    try {
      const [line] = (await once(child.stdout, 'data')) as [Buffer];
      expect(line.toString()).toContain('(tls)');
      const port = Number(/:(\d+) /.exec(line.toString())![1]);
      await echoesText(net.connect(port, '127.0.0.1'), 'through the relay\n'.repeat(50));
    } finally {
      child.kill('SIGKILL');
    }
    await upstream.close();
    expect(upstream.stats().total.accepted).toBe(1);
  });

  it.each(CORES)('a relay (core=%s) to a TLS upstream, and the TLS server, give an idle connection\'s rings back and relay and echo its next frames byte for byte', async core => {
    // Frames of 60 B and 10 KiB: a read after idling lands in the thread's 1 KiB idle
    // buffer (a TLS record is decrypted into it a span at a time) and is copied into
    // the smallest rx ring, taken again; what follows goes straight into the ring.
    const common = { core, framing: 'length:4', maxFrame: 64 * 1024 } as const;
    const { server: upstream, port: upstreamPort } = await startServer({ ...common, tls: { ...certs.server } });
    const { server: relay, port } = await startServer({ ...common, upstream: { port: upstreamPort, tls: { ca: certs.ca } } });
    const client = net.connect(port, '127.0.0.1');
    const idle = () => relay.stats().total.pool.bytes === 0 && upstream.stats().total.pool.bytes === 0;
    for (const size of [60, 60, 10_000]) {
      const wire = Buffer.concat([frameWith['length:4'](pattern(size, size)), frameWith['length:4'](pattern(7, size))]);
      const back = readBytes(client, wire.length);
      client.write(wire);
      expect((await back).equals(wire)).toBe(true);
      await until(idle, 10_000, 'the relay\'s and the TLS server\'s rings given back');
      expect(relay.stats().total.pool.segments).toEqual({});
    }
    client.end();
    await relay.close();
    await upstream.close();
    expect(relay.stats().total.errors + upstream.stats().total.errors).toBe(0);
  });

  it.each(CORES)('a relay (core=%s) forwards exact frames to a TLS upstream and back', async core => {
    const common = { core, framing: 'length:4', maxFrame: 64 * 1024 } as const;
    const { server: upstream, port: upstreamPort } = await startServer({ ...common, tls: { ...certs.server } });
    const { server: relay, port } = await startServer({ ...common, upstream: { port: upstreamPort, tls: { ca: certs.ca } } });
    const client = net.connect(port, '127.0.0.1');
    const wire = Buffer.concat(Array.from({ length: 300 }, (_, i) => frameWith['length:4'](pattern(1 + i * 97, i))));
    const back = readBytes(client, wire.length);
    client.write(wire);
    expect((await back).equals(wire)).toBe(true);
    client.end();
    await relay.close();
    await upstream.close();
    expect(relay.stats().total.errors + upstream.stats().total.errors).toBe(0);
  });
});

/** The bytes of a real ClientHello (Node's), captured by a plain server. */
async function clientHelloBytes(): Promise<Buffer> {
  const catcher = net.createServer();
  catcher.listen(0, '127.0.0.1');
  await once(catcher, 'listening');
  const port = (catcher.address() as net.AddressInfo).port;
  const accepted = once(catcher, 'connection');
  const client = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false });
  client.on('error', () => {});
  const [socket] = (await accepted) as [net.Socket];
  const [hello] = (await once(socket, 'data')) as [Buffer];
  client.destroy();
  socket.destroy();
  catcher.close();
  return hello;
}
