// Real TCP clients for the integration tests: 127.0.0.1 only, every wait bounded.
import net from 'node:net';
import { once } from 'node:events';
import { randomBytes } from 'node:crypto';
import { lengthFrame } from './harness.ts';
import { createServer, type RingwireError, type RingwireServer, type ServerOptions } from '../src/index.ts';

/**
 * Both cores, each on both read paths (zero-copy adoption and the copying fallback)
 * and both write paths (through the socket's handle, and socket.write): what the
 * socket suites run on.
 */
export const PATHS = (['wasm', 'js'] as const).flatMap(core => [true, false].flatMap(zeroCopy =>
  (['direct', 'stream'] as const).map(writePath => ({ core, zeroCopy, writePath }))));

/**
 * Four of PATHS that hold every pair of values of core, read path and write path
 * (wasm with zero-copy reads and direct writes, wasm copying with stream writes, js
 * zero-copy with stream writes, js copying with direct writes): for a suite's tests
 * at scale (hundreds of connections, MiBs of bytes), whose per-path code the suite's
 * other tests run on all eight.
 */
export const PATH_PAIRS = PATHS.filter(p => (p.core === 'wasm') === (p.zeroCopy === (p.writePath === 'direct')));

/** A plain Node server on 127.0.0.1 (default: echo, FIN after the peer's FIN), its sockets, and a stop() that closes them all. */
export async function plainServer(serve: (s: net.Socket) => void = s => s.pipe(s), port = 0): Promise<{ port: number; sockets: Set<net.Socket>; stop: () => Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer(s => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => {});
    serve(s);
  });
  server.listen(port, '127.0.0.1');
  await once(server, 'listening');
  return {
    port: (server.address() as net.AddressInfo).port,
    sockets,
    stop: async () => {
      for (const s of sockets) s.destroy();
      await new Promise(r => server.close(r));
    },
  };
}

export async function startServer<Data = any>(options: ServerOptions<Data>): Promise<{ server: RingwireServer<Data>; port: number }> {
  const server = createServer<Data>(options);
  const { port } = await server.listen(0, '127.0.0.1');
  return { server, port };
}

export async function connect(port: number): Promise<net.Socket> {
  const socket = net.connect({ port, host: '127.0.0.1', noDelay: true });
  await once(socket, 'connect');
  return socket;
}

/** The codes of every clientError the server emits from now on, in order. */
export function errorCodes(server: RingwireServer): string[] {
  const codes: string[] = [];
  server.on('clientError', (e: RingwireError) => codes.push(e.code));
  return codes;
}

/** Collect what a socket receives until it ends or closes; resolves with all bytes. */
export function collect(socket: net.Socket): { done: Promise<Buffer>; received: () => number } {
  const parts: Buffer[] = [];
  let n = 0;
  socket.on('data', d => {
    parts.push(d);
    n += d.length;
  });
  const done = new Promise<Buffer>(resolve => {
    socket.once('close', () => resolve(Buffer.concat(parts)));
    socket.on('error', () => {});
  });
  return { done, received: () => n };
}

/** Wait until cond() holds (it may be async), polling; fail after ms. */
export async function until(cond: () => boolean | Promise<boolean>, ms = 10_000, what = 'condition'): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise(r => setTimeout(r, 5));
  }
}

/** Send bytes, half-close, and return everything echoed before the server closed. */
export async function roundTrip(port: number, bytes: Uint8Array): Promise<Buffer> {
  const socket = await connect(port);
  const { done } = collect(socket);
  socket.end(bytes);
  return done;
}

export const sleep = (ms: number) => new Promise(r => setTimeout(r, ms));

/** How a client's connection ended: every byte received, and whether by a FIN ('end') or an error (its code). */
export function ending(socket: net.Socket): Promise<{ data: string; fin: boolean; error: string | undefined }> {
  let data = '';
  let fin = false;
  let error: string | undefined;
  socket.on('data', d => (data += String(d)));
  socket.once('end', () => (fin = true));
  socket.on('error', (e: NodeJS.ErrnoException) => (error ??= e.code));
  return new Promise(resolve => socket.once('close', () => resolve({ data, fin, error })));
}

/** Wait until the server has written nothing more for 300 ms: a never-reading peer's kernel buffers are full. */
export async function untilWritesStop(bytesOut: () => number): Promise<void> {
  let last = -1;
  await until(async () => {
    const now = bytesOut();
    const steady = now === last;
    last = now;
    if (!steady) await sleep(300);
    return steady;
  }, 20_000, 'the server to stop writing to the peers that do not read');
}

/** Wait until the server's bytesIn stops growing (it paused reading); resolves with it, checked again after 100 ms. */
export async function untilReadingStops(server: RingwireServer): Promise<number> {
  let last = -1;
  await until(() => {
    const now = server.stats().total.bytesIn;
    const steady = now === last && now > 0;
    last = now;
    return steady;
  }, 10_000, 'the server to stop reading');
  await sleep(100);
  if (server.stats().total.bytesIn !== last) throw new Error('the server read again after it had stopped');
  return last;
}

/**
 * A connection (framing length:4:be) that echoes a fresh random frame (of `size` bytes;
 * else 1 to 300) every 20 ms and checks every byte, after writing `first` (a PROXY header,
 * say); stop() returns how many round trips it made, and rejects if an echo ever differed.
 */
export function bystander(port: number, first?: Uint8Array, size?: number): { stop: () => Promise<number> } {
  let trips = 0;
  let running = true;
  const done = (async () => {
    const s = await connect(port);
    s.on('error', () => {});
    if (first) s.write(first);
    while (running) {
      const frame = lengthFrame(randomBytes(size ?? 1 + (trips % 300)));
      s.write(frame);
      let got = Buffer.alloc(0);
      while (got.length < frame.length) {
        const [d] = (await once(s, 'data')) as [Buffer];
        got = Buffer.concat([got, d]);
      }
      if (!got.equals(frame)) throw new Error(`the bystander's echo ${trips} differed from its frame`);
      trips++;
      await sleep(20);
    }
    s.destroy();
    return trips;
  })();
  return { stop: async () => { running = false; return done; } };
}

/** Count the calls to socket.write() from now on (the stream path's writes; the direct path writes below it): read the count. */
export function countStreamWrites(socket: net.Socket): () => number {
  let n = 0;
  const write = socket.write;
  socket.write = function (this: net.Socket, ...args: Parameters<typeof write>) {
    n++;
    return write.apply(this, args);
  } as typeof write;
  return () => n;
}
