// The second use of Node internals (src/net/direct-write.ts): on the Node running
// this suite, an accepted TCP socket can be written through its handle, a write
// reports whether the kernel took it at once or later, a failed write maps to the
// errno socket.write would have raised, and a connection writes through the path
// it was given. The socket suites (server, handler contract, client, relay) run
// on both write paths; these are the cases specific to the direct one.
import net from 'node:net';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import {
  canWriteDirect, chooseWritePath, DirectWriter, probeDirectWrite, TESTED_MAJORS, WRITE_DONE, WRITE_PATHS, WRITE_PENDING, writeError,
} from '../src/net/direct-write.ts';
import { kWritePath } from '../src/net/internals.ts';
import { lengthFrame } from './harness.ts';
import { collect, connect, countStreamWrites, errorCodes, sleep, startServer, until } from './net-helpers.ts';

/** An accepted socket (paused on connect, as ringwire accepts, when asked) and the client connected to it. */
async function pair(pauseOnConnect = false): Promise<{ accepted: net.Socket; client: net.Socket; stop: () => Promise<void> }> {
  const server = net.createServer({ pauseOnConnect });
  const accepted = new Promise<net.Socket>(resolve => server.once('connection', resolve));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const client = await connect((server.address() as net.AddressInfo).port);
  const socket = await accepted;
  socket.on('error', () => {});
  client.on('error', () => {});
  return { accepted: socket, client, stop: () => new Promise<void>(r => server.close(() => r())) };
}

describe(`direct writes on Node ${process.version}`, () => {
  it('probes a real write: one done at once, one that completes later, its completion and every byte checked: it passes here', async () => {
    expect(await probeDirectWrite()).toBeNull();
  });

  it.each([
    [1, /^a 21-byte write to an idle connection returned 1, not done at once$/],
    [0, /^no write went pending in 128 MiB to a peer that does not read$/],
  ])('fails the probe, saying why, on a Node whose async-write flag always reads %i', async (flag, why) => {
    // What a Node that kept the names but changed the flag would look like: the writer reads a flag that never changes.
    const lying = () => {
      const w = new DirectWriter();
      (w as unknown as { state: Int32Array }).state = new Int32Array(256).fill(flag);
      return w;
    };
    expect(await probeDirectWrite(lying)).toMatch(why);
  });

  it('fails the probe, saying why, on a Node whose handle no longer takes these arguments (the write throws)', async () => {
    const throwing = () => {
      const w = new DirectWriter();
      w.write = () => { throw new TypeError('writeBuffer: the first argument must be a WriteWrap'); };
      return w;
    };
    expect(await probeDirectWrite(throwing)).toBe('it threw: writeBuffer: the first argument must be a WriteWrap');
  });

  it('defaults to the direct path only on the majors the suites run on; elsewhere socket.write, with one warning', async () => {
    const warnings: Error[] = [];
    const onWarning = (w: Error) => void warnings.push(w);
    process.on('warning', onWarning);
    expect(await chooseWritePath(undefined)).toBe('direct');
    expect(await chooseWritePath(undefined, 'v25.2.0')).toBe('stream');
    expect(await chooseWritePath(undefined, 'v27.0.0')).toBe('stream');
    expect(await chooseWritePath('direct', 'v25.2.0')).toBe('direct'); // asked for by name: the probe still decides
    expect(await chooseWritePath('stream')).toBe('stream');
    await sleep(10); // warnings are emitted on the next tick
    process.off('warning', onWarning);
    expect(warnings.map(w => [(w as NodeJS.ErrnoException).code, w.message])).toEqual([
      ['RINGWIRE_STREAM_WRITE_FALLBACK', expect.stringContaining('tested on Node 22, 24, 26, not v25.2.0')],
    ]);
    const { server } = await startServer({ framing: 'line' });
    expect(server[kWritePath]).toBe(TESTED_MAJORS.includes(Number(process.versions.node.split('.')[0])) ? 'direct' : 'stream');
    await server.close();
  });

  it('writes with socket.write when the probe fails, on a tested major and when direct is asked for by name', async () => {
    // What start() does on a Node whose direct write misbehaves (the probe's own checks are the tests above).
    const failing = async () => 'a 21-byte write to an idle connection returned 1, not done at once';
    expect(await chooseWritePath(undefined, 'v24.0.0', failing)).toBe('stream');
    expect(await chooseWritePath('direct', 'v24.0.0', failing)).toBe('stream');
    expect(await chooseWritePath(undefined, 'v24.0.0', async () => null)).toBe('direct');
  });

  it('names as tested the majors the suites run on: the pinned Node and those of scripts/node-matrix.sh', () => {
    const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { devDependencies: Record<string, string> };
    const pinned = Number(/^\^?(\d+)\./.exec(pkg.devDependencies.node!)![1]);
    const matrix = /for version in ([^;]+);/.exec(readFileSync('scripts/node-matrix.sh', 'utf8'))![1]!.trim().split(/\s+/).map(v => Number(v.split('.')[0]));
    expect([...TESTED_MAJORS].sort()).toEqual([pinned, ...matrix].sort());
  });

  it('detects a writable TCP handle, and refuses a socket without one', async () => {
    const { accepted, client, stop } = await pair();
    expect(canWriteDirect(accepted)).toBe(true);
    expect(canWriteDirect(new net.Socket())).toBe(false);
    accepted.destroy();
    client.destroy();
    await stop();
  });

  it('reports a write the kernel took at once, and one that completes later with its byte count, in order', async () => {
    const { accepted, client, stop } = await pair();
    const completions: [number, number][] = [];
    const owner = { directWritten: (status: number, bytes: number) => void completions.push([status, bytes]) };
    const writer = new DirectWriter();
    const got = collect(client);
    client.pause();
    expect(writer.write(accepted, owner, Buffer.from('first '))).toBe(WRITE_DONE);
    // More than the loopback socket buffers hold while the client does not read: the rest waits in libuv.
    const big = Buffer.alloc(32 << 20, 7);
    expect(writer.write(accepted, owner, big)).toBe(WRITE_PENDING);
    expect(writer.write2(accepted, owner, Buffer.from('a'), Buffer.from('bc'))).toBe(WRITE_PENDING);
    await sleep(50);
    expect(completions).toEqual([]);
    client.resume();
    await until(() => completions.length === 2, 10_000, 'both completions');
    expect(completions).toEqual([[0, big.length], [0, 3]]);
    accepted.end();
    const bytes = await got.done;
    expect(bytes.length).toBe(6 + big.length + 3);
    expect(bytes.subarray(-3).toString()).toBe('abc');
    await stop();
  });

  it('one writer for every connection: each pending write\'s completion goes to the connection that wrote it, whatever others wrote since', async () => {
    const a = await pair();
    const b = await pair();
    const done: Record<string, [number, number][]> = { a: [], b: [] };
    const ownerA = { directWritten: (status: number, bytes: number) => void done.a!.push([status, bytes]) };
    const ownerB = { directWritten: (status: number, bytes: number) => void done.b!.push([status, bytes]) };
    const writer = new DirectWriter();
    const gotA = collect(a.client);
    const gotB = collect(b.client);
    a.client.pause();
    const big = Buffer.alloc(32 << 20, 5);
    expect(writer.write(a.accepted, ownerA, big)).toBe(WRITE_PENDING); // takes the spare; the next write makes another
    expect(writer.write(b.accepted, ownerB, Buffer.from('b1 '))).toBe(WRITE_DONE);
    expect(writer.write(a.accepted, ownerA, Buffer.from('a2'))).toBe(WRITE_PENDING); // behind the big one
    expect(writer.write2(b.accepted, ownerB, Buffer.from('b'), Buffer.from('2'))).toBe(WRITE_DONE);
    a.client.resume();
    await until(() => done.a!.length === 2, 10_000, 'both of a\'s completions');
    await sleep(20);
    expect(done).toEqual({ a: [[0, big.length], [0, 2]], b: [] });
    a.accepted.end();
    b.accepted.end();
    const bytesA = await gotA.done;
    expect(bytesA.length).toBe(big.length + 2);
    expect(bytesA.subarray(-2).toString()).toBe('a2');
    expect((await gotB.done).toString()).toBe('b1 b2');
    await a.stop();
    await b.stop();
  });

  it('returns the errno of a write to a peer that reset the connection', async () => {
    // Accepted paused, as ringwire accepts: nothing reads the socket, so the reset is met by the write itself
    // (a socket that read would see it first and be destroyed, and a write would only find no handle).
    const { accepted: socket, client, stop } = await pair(true);
    const writer = new DirectWriter();
    const owner = { directWritten: () => {} };
    expect(writer.write(socket, owner, Buffer.from('before'))).toBe(WRITE_DONE);
    client.resetAndDestroy();
    await sleep(50); // the RST reaches the accepted socket's side
    const r = writer.write(socket, owner, Buffer.from('after the reset'));
    expect(socket.destroyed).toBe(false); // the handle is still there: r is the kernel's answer, not a missing handle's
    expect(writeError(r)).toMatchObject({ code: expect.stringMatching(/^(EPIPE|ECONNRESET)$/), errno: r, syscall: 'write' });
    socket.destroy();
    await stop();
  });

  it.each(WRITE_PATHS)('writePath=%s writes replies through the path it names', async writePath => {
    const { server, port } = await startServer({ writePath, framing: 'length:4' });
    const s = await connect(port);
    const r = collect(s);
    s.write(lengthFrame(Buffer.from('x')));
    await until(() => server.connections.size === 1, 5000, 'the connection');
    const socket = [...server.connections.values()][0]!.socket;
    const streamWrites = countStreamWrites(socket);
    await until(() => r.received() === 5, 5000, 'the first echo');
    s.end(lengthFrame(Buffer.from('yz')));
    expect((await r.done).equals(Buffer.concat([lengthFrame(Buffer.from('x')), lengthFrame(Buffer.from('yz'))]))).toBe(true);
    expect(streamWrites() > 0).toBe(writePath === 'stream');
    await server.close();
  });

  it.each(WRITE_PATHS)('writePath=%s: a reply waiting in libuv when the connection closes is delivered whole, then FIN', async writePath => {
    // Bytes that differ along the reply: a ring region reused too early would show.
    const reply = randomBytes(8 << 20);
    const { server, port } = await startServer({
      writePath, framing: 'length:4', maxReply: reply.length, maxQueued: reply.length,
      onFrame(_f, c) {
        c.send(reply);
        c.close();
      },
    });
    const s = await connect(port);
    s.pause();
    const r = collect(s);
    s.write(lengthFrame(Buffer.from('go')));
    await sleep(200);
    s.resume();
    const bytes = await r.done;
    expect(bytes.length).toBe(reply.length + 4);
    expect(bytes.subarray(4).equals(reply)).toBe(true);
    await server.close();
  });

  it.each(WRITE_PATHS)('writePath=%s: a peer that resets while replies wait is one ERR_SOCKET, counted, and others go on', async writePath => {
    const reply = Buffer.alloc(1 << 20, 5);
    const { server, port } = await startServer({
      writePath, framing: 'length:4', maxReply: reply.length, maxQueued: 4 * reply.length,
      onFrame(f, c) {
        c.send(f.length === 1 ? f : reply);
      },
    });
    const codes = errorCodes(server);
    const bad = await connect(port);
    bad.on('error', () => {});
    bad.pause();
    bad.write(Buffer.concat([lengthFrame(Buffer.from('go')), lengthFrame(Buffer.from('go'))]));
    await until(() => server.stats().total.bytesOut > 0, 5000, 'replies on their way');
    bad.resetAndDestroy();
    await until(() => server.connections.size === 0, 5000, 'the reset connection to close');
    expect(codes).toEqual(['ERR_SOCKET']);
    expect(server.stats().total.errors).toBe(1);
    const good = await connect(port);
    const r = collect(good);
    good.end(lengthFrame(Buffer.from('k')));
    expect((await r.done).equals(lengthFrame(Buffer.from('k')))).toBe(true);
    await server.close();
  });
});
