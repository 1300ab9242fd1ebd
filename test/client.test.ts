// Framed clients over real sockets on 127.0.0.1, both cores and both read paths:
// connect() against ringwire's own server and a plain net server, reconnecting
// after the server restarts (backoff observed, held frames delivered first and in
// order, the hold queue at its cap and one frame past it), hooks per underlying
// connection, and a failed connection reported without hooks.
import { once } from 'node:events';
import { afterEach, describe, expect, it } from 'vitest';
import { connect, createEndpoint, MAX_DURATION, type RingwireClient } from '../src/index.ts';
import { CORES } from './harness.ts';
import { PATHS, plainServer, sleep, startServer, until } from './net-helpers.ts';


const clients: RingwireClient[] = [];
afterEach(async () => { await Promise.all(clients.splice(0).map(c => c.close())); });

const plainEcho = (port = 0) => plainServer(undefined, port);

describe.each(PATHS)('connect() core=$core zeroCopy=$zeroCopy write=$writePath', ({ core, zeroCopy, writePath }) => {
  it('exchanges frames with a ringwire server and with a plain Node server, byte for byte', async () => {
    const { server, port } = await startServer({ core, zeroCopy, writePath, framing: 'length:4' });
    const plain = await plainEcho();
    for (const target of [port, plain.port]) {
      const got: string[] = [];
      const client = await connect({ core, zeroCopy, writePath, framing: 'length:4', port: target, onFrame: f => void got.push(Buffer.from(f).toString()) });
      clients.push(client);
      const c = await client.ready;
      expect(c.remotePort).toBe(target);
      // Zero-copy: the socket reads into the rx ring through onread, Node's public API for client sockets.
      expect(c.socket.listenerCount('data')).toBe(zeroCopy ? 0 : 1);
      const sent = Array.from({ length: 500 }, (_, i) => `frame ${i} ${'x'.repeat(i % 300)}`);
      for (const s of sent) client.send(Buffer.from(s));
      await until(() => got.length === sent.length, 10_000, 'every frame back');
      expect(got).toEqual(sent);
      await client.close();
    }
    await plain.stop();
    await server.close();
  });

  it('reconnects with backoff after the server restarts, sending what was held first, in order', async () => {
    let plain = await plainEcho();
    const port = plain.port;
    const got: string[] = [];
    const events: string[] = [];
    const retries: number[] = [];
    const client = await connect({
      core, zeroCopy, writePath, framing: 'line', port,
      reconnect: { initialDelay: 20, maxDelay: 80, factor: 2, jitter: 0 },
      onOpen: c => { events.push('open'); c.send(Buffer.from('hello')); },
      onFrame: f => void got.push(Buffer.from(f).toString()),
      onClose: () => void events.push('close'),
    });
    clients.push(client);
    client.on('retry', r => retries.push(r.delay));
    await client.ready;
    expect(client.send(Buffer.from('one'))).toBe(true);
    await until(() => got.length === 2, 5000, 'first echo');
    await plain.stop();
    await until(() => retries.length >= 4, 5000, 'retries while the server is down');
    expect(retries.slice(0, 4)).toEqual([20, 40, 80, 80]); // doubling, capped
    // Down: frames are held.
    for (const s of ['two', 'three', 'four']) expect(client.send(Buffer.from(s))).toBe(true);
    plain = await plainEcho(port);
    await until(() => got.length === 6, 5000, 'held frames delivered after the reconnect');
    expect(got).toEqual(['hello', 'one', 'two', 'three', 'four', 'hello']); // held frames before what onOpen sends
    expect(events).toEqual(['open', 'close', 'open']); // hooks per underlying connection
    // A successful connection resets the backoff.
    await plain.stop();
    const before = retries.length;
    await until(() => retries.length > before, 5000, 'a retry after the second connection');
    expect(retries[before]).toBe(20);
    await client.close();
    await plain.stop();
  });

  it('holds frames up to maxQueuedWhileDown while disconnected and refuses one past it', async () => {
    const plain = await plainEcho();
    const port = plain.port;
    await plain.stop();
    const client = await connect({
      core, zeroCopy, writePath, framing: 'line', port, reconnect: { initialDelay: 10_000 }, maxQueuedWhileDown: 9,
      onFrame: () => {},
    });
    clients.push(client);
    expect([client.send(Buffer.from('abc')), client.send(Buffer.from('def')), client.send(Buffer.from('ghi'))]).toEqual([true, true, true]);
    expect(client.send(Buffer.from('j'))).toBe(false);
    expect(client.dropped).toBe(1);
    await client.close();
  });

  it('refuses a frame its framing cannot carry while disconnected, as a connection would: at the limit held, one past dropped and counted', async () => {
    const plain = await plainEcho();
    const port = plain.port;
    await plain.stop();
    const client = await connect({ core, zeroCopy, writePath, framing: 'length:1', port, reconnect: { initialDelay: 10_000 }, onFrame: () => {} });
    clients.push(client);
    expect(client.send(Buffer.alloc(255))).toBe(true); // the largest a 1-byte length carries
    expect(client.send(Buffer.alloc(256))).toBe(false); // run time: never a throw
    expect(client.dropped).toBe(1);
    expect(() => client.send('text' as never)).toThrow(TypeError); // not bytes: a programming error
    await client.close();
  });

  it('refuses, while disconnected, a frame holding its delimiter, as a connection would', async () => {
    const plain = await plainEcho();
    const port = plain.port;
    await plain.stop();
    const endpoint = createEndpoint({ core, zeroCopy, writePath, framing: 'line', maxConnections: 1, onFrame: () => {} });
    await endpoint.start();
    const errors: string[] = [];
    endpoint.on('clientError', err => void errors.push(err.code));
    const client = endpoint.connect({ port, reconnect: { initialDelay: 10_000 } });
    clients.push(client);
    expect(client.send(Buffer.from('a\rb'))).toBe(true);
    expect(client.send(Buffer.from('a\nb'))).toBe(false); // run time: never a throw
    expect(client.dropped).toBe(1);
    expect(errors).toContain('ERR_DELIMITER_IN_PAYLOAD');
    await client.close();
    await endpoint.close();
  });

  it('reports a connection that never opened: ready rejects, end fires, no hooks run', async () => {
    const plain = await plainEcho();
    const port = plain.port;
    await plain.stop();
    const hooks: string[] = [];
    const client = await connect({ core, zeroCopy, writePath, framing: 'line', port, onOpen: () => void hooks.push('open'), onFrame: () => {}, onClose: () => void hooks.push('close') });
    const ended = once(client, 'end');
    await expect(client.ready).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    expect((await ended)[0]).toMatchObject({ code: 'ECONNREFUSED' });
    await sleep(20);
    expect(hooks).toEqual([]);
    expect(client.send(Buffer.from('x'))).toBe(false);
  });
});

describe('a client whose socket cannot be made', () => {
  // maxConnections is 1 (connect()'s default): a slot kept by a failed attempt would make every later one ERR_TOO_MANY_CONNECTIONS.
  const failures = async (options: Partial<Parameters<typeof connect>[0]>) => {
    const errors: (Error | undefined)[] = [];
    const client = await connect({ framing: 'line', port: 1, reconnect: { initialDelay: 5, maxDelay: 5, jitter: 0, maxAttempts: 3 }, onFrame: () => {}, ...options });
    client.on('retry', r => void errors.push(r.error));
    const [last] = await once(client, 'end') as [Error];
    return [...errors, last]; // the first attempt failed inside connect(), before 'retry' had a listener
  };

  it.each(CORES)('core=%s: a TLS key that does not load is ERR_TLS on every attempt, never a slot leaked to ERR_TOO_MANY_CONNECTIONS', async core => {
    const errors = await failures({ core, tls: { key: 'not a key', cert: 'not a certificate' } });
    expect(errors).toHaveLength(3);
    for (const err of errors) expect(err).toMatchObject({ code: 'ERR_TLS', message: expect.stringMatching(/^cannot connect to 127\.0\.0\.1:1: /) });
  });

  it.each(CORES)('core=%s: a port out of range is refused by connect() before any attempt (options are checked once: options.test.ts)', async core => {
    await expect(failures({ core, port: 70_000 })).rejects.toMatchObject({ code: 'ERR_BAD_CONFIG', message: 'port must be a whole number from 1 to 65535, got 70000' });
  });

  it.each(CORES)('core=%s: a TLS handshake timeout it cannot honour is refused by connect() before any attempt (once: by every attempt, 600h taken)', async core => {
    for (const [handshakeTimeout, got] of [[-1, '-1 ms'], [MAX_DURATION + 1, '2073600001 ms']] as const) {
      await expect(failures({ core, tls: { handshakeTimeout } })).rejects.toMatchObject({
        code: 'ERR_BAD_CONFIG', message: `tls.handshakeTimeout must be a number of ms from 1 to 2073600000 (576h) (0: off), got ${got}`,
      });
    }
  });
});

describe('a client on a server\'s endpoint', () => {
  it('shares the server\'s core: both sides of a loopback connection on one endpoint', async () => {
    const { server, port } = await startServer({ framing: 'line', onFrame: (f, c) => void c.send(Buffer.from(`echo:${Buffer.from(f)}`)) });
    const got: string[] = [];
    const client = server.connect({ port, onFrame: f => void got.push(Buffer.from(f).toString()) });
    await client.ready;
    client.send(Buffer.from('hello'));
    await until(() => got.length === 1, 5000, 'reply');
    expect(got).toEqual(['echo:hello']);
    expect(server.connections.size).toBe(2); // the client and the accepted side, one core
    await client.close();
    await server.close();
  });
});

