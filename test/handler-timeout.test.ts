// Handler deadlines, over real sockets on both cores, read paths and write paths:
// a handler whose promise does not settle within handlerTimeout closes its
// connection with ERR_HANDLER_TIMEOUT and its socket at once (the client sees the
// close while the promise still hangs); the slot stays quarantined until the
// handler settles, then onClose runs with that error. One that settles in time is
// answered; handlerTimeout 0 never fires. The idle timeout closes the socket even
// while a handler is pending (no CLOSE_WAIT).
import { once } from 'node:events';
import { readdirSync } from 'node:fs';
import type net from 'node:net';
import { describe, expect, it } from 'vitest';
import type { RingwireError } from '../src/index.ts';
import { PATHS, collect, connect, errorCodes, roundTrip, sleep, startServer, until } from './net-helpers.ts';

const text = (frame: Uint8Array) => Buffer.from(frame).toString();

// The paths side by side (each test its own server; they are mostly waiting for their deadlines, whose bounds are loose).
describe.concurrent.each(PATHS)('handlerTimeout core=$core zeroCopy=$zeroCopy write=$writePath', ({ core, zeroCopy, writePath }) => {
  it('a handler that does not settle in time: ERR_HANDLER_TIMEOUT, the socket closed at once, the slot back once it settles', async () => {
    const hung: (() => void)[] = [];
    const closes: (RingwireError | undefined)[] = [];
    const { server, port } = await startServer({
      core, zeroCopy, writePath, framing: 'line', handlerTimeout: 200, maxConnections: 2,
      async onFrame(frame, c) {
        if (text(frame) === 'hang') await new Promise<void>(resolve => hung.push(resolve));
        else await sleep(20); // well within the deadline
        c.send(frame);
      },
      onClose(_c, err) { closes.push(err); },
    });
    const codes = errorCodes(server);
    expect(String(await roundTrip(port, Buffer.from('quick\n')))).toBe('quick\n');
    const s = await connect(port);
    const got = collect(s);
    const started = Date.now();
    s.write('hang\n');
    await once(s, 'close'); // no FIN from the client: the server closed it
    expect(Date.now() - started).toBeLessThan(3000);
    expect(String(await got.done)).toBe('');
    expect(codes).toEqual(['ERR_HANDLER_TIMEOUT']);
    expect(server.stats().total.errorsByCode).toEqual({ ERR_HANDLER_TIMEOUT: 1 });
    expect(closes).toHaveLength(1); // the quick one's: the hung one's slot is quarantined
    await until(() => server.stats().total.quarantined === 1, 2000, 'the slot counted as quarantined'); // once the server saw its socket close
    expect(server.metrics()).toMatch(/^ringwire_connections_quarantined\{worker="0"\} 1$/m);
    expect(hung).toHaveLength(1);
    hung[0]!();
    await until(() => closes.length === 2, 5000, 'onClose after the handler settled');
    expect(closes[1]?.code).toBe('ERR_HANDLER_TIMEOUT');
    expect(server.stats().total.quarantined).toBe(0);
    expect(String(await roundTrip(port, Buffer.from('quick\n')))).toBe('quick\n');
    await server.close();
  });

  it('handlerTimeout 0: a handler may take as long as it likes', async () => {
    const { server, port } = await startServer({
      core, zeroCopy, writePath, framing: 'line', handlerTimeout: 0, idleTimeout: 0,
      async onFrame(frame, c) {
        await sleep(400);
        c.send(frame);
      },
    });
    const codes = errorCodes(server);
    expect(String(await roundTrip(port, Buffer.from('slow\n')))).toBe('slow\n');
    expect(codes).toEqual([]);
    await server.close();
  });

  it('the idle timeout closes the socket while a handler is pending (no CLOSE_WAIT), with ERR_IDLE_TIMEOUT', async () => {
    let release!: () => void;
    const { server, port } = await startServer({
      core, zeroCopy, writePath, framing: 'line', handlerTimeout: 0, idleTimeout: 200,
      async onFrame(frame, c) {
        await new Promise<void>(resolve => (release = resolve));
        c.send(frame);
      },
    });
    const codes = errorCodes(server);
    const s = await connect(port);
    const got = collect(s);
    s.end('hang\n'); // the client's FIN: the server would sit in CLOSE_WAIT
    await got.done;
    expect(codes).toEqual(['ERR_IDLE_TIMEOUT']);
    release();
    await until(() => server.connections.size === 0, 5000, 'the slot back');
    await server.close();
  });
});

describe.each(['wasm', 'js'] as const)('hung handlers at scale (%s core)', core => {
  const descriptors = () => readdirSync('/proc/self/fd').length;

  it('200 connections whose handler never settles, handlerTimeout 1 s, 220 slots: all closed within 3 s, descriptors back, 20 new clients served', async () => {
    const hung: (() => void)[] = [];
    const { server, port } = await startServer({
      core, framing: 'line', handlerTimeout: 1000, maxConnections: 220,
      async onFrame(frame, c) {
        if (text(frame) === 'hang') await new Promise<void>(resolve => hung.push(resolve));
        c.send(frame);
      },
    });
    const codes = errorCodes(server);
    const baseline = descriptors();
    const clients: net.Socket[] = [];
    for (let i = 0; i < 200; i++) clients.push(await connect(port));
    const closed = clients.map(s => {
      s.on('error', () => {});
      return once(s, 'close');
    });
    const started = Date.now();
    for (const s of clients) s.write('hang\n');
    await until(() => hung.length === 200, 5000, 'every handler to hang');
    await Promise.all(closed);
    expect(Date.now() - started).toBeLessThan(3000);
    expect(codes.filter(c => c === 'ERR_HANDLER_TIMEOUT')).toHaveLength(200);
    await until(() => descriptors() <= baseline, 3000, 'the descriptors back to their baseline');
    // The promises still hang (200 slots quarantined, counted): 20 new clients are served.
    await until(() => server.stats().total.quarantined === 200, 2000, '200 slots counted as quarantined');
    const answers = await Promise.all(Array.from({ length: 20 }, (_, i) => roundTrip(port, Buffer.from(`n${i}\n`))));
    expect(answers.map(String)).toEqual(Array.from({ length: 20 }, (_, i) => `n${i}\n`));
    for (const release of hung) release();
    await until(() => server.connections.size === 0, 5000, 'every quarantined slot back');
    await server.close();
  }, 20_000);
});

describe.each(['wasm', 'js'] as const)('quarantined slots beyond maxConnections (%s core)', core => {
  // maxConnections caps live connections (sockets); the core has as many slots again for quarantined ones.
  it('N hung handlers at maxConnections N: N new clients served while they hang, one more refused; past the slots the refusal names the quarantine', async () => {
    const N = 4;
    const hung: (() => void)[] = [];
    const { server, port } = await startServer({
      core, framing: 'line', handlerTimeout: 200, maxConnections: N, evictAfter: 0,
      async onFrame(frame, c) {
        if (text(frame) === 'hang') await new Promise<void>(resolve => hung.push(resolve));
        c.send(frame);
      },
    });
    const refusals: RingwireError[] = [];
    server.on('clientError', (e: RingwireError) => {
      if (e.code === 'ERR_TOO_MANY_CONNECTIONS') refusals.push(e);
    });
    const quarantined = () => server.stats().total.quarantined;
    /** n clients each answered once (their tx ring taken), then each sends a frame its handler never settles; resolves once the server closed them all. */
    const hang = async (n: number) => {
      const clients = await Promise.all(Array.from({ length: n }, () => connect(port)));
      await Promise.all(clients.map(async s => {
        s.on('error', () => {});
        s.write('quick\n');
        expect(String((await once(s, 'data'))[0])).toBe('quick\n');
        s.write('hang\n');
        await once(s, 'close'); // no FIN from the client: ERR_HANDLER_TIMEOUT closed it
      }));
    };
    /** A client the server refuses at once (closed before it is answered). */
    const refused = async () => {
      const s = await connect(port);
      const got = collect(s);
      s.write('late\n');
      expect(String(await got.done)).toBe('');
    };

    await hang(N);
    await until(() => quarantined() === N, 2000, `${N} slots quarantined`);
    // A quarantined connection keeps only the rx ring its handler's frame is in: its tx ring is back in the pool.
    const { rxSize, minRing } = server.core.config;
    expect(rxSize).toBeGreaterThan(minRing);
    expect(server.stats().total.pool.bytes).toBe(N * 2 * minRing); // handler mode: each rx ring with its pad

    // N new clients at once, all served while the N handlers still hang.
    const fresh = await Promise.all(Array.from({ length: N }, () => connect(port)));
    const replies = await Promise.all(fresh.map(async (s, i) => {
      s.write(`n${i}\n`);
      return String((await once(s, 'data'))[0]);
    }));
    expect(replies).toEqual(Array.from({ length: N }, (_, i) => `n${i}\n`));
    // One past maxConnections live: refused, saying so.
    await refused();
    expect(refusals).toHaveLength(1);
    expect(refusals[0]!.message).toMatch(new RegExp(`${N} connection\\(s\\) open already \\(maxConnections ${N}\\)`));

    // The live ones leave; N more hang: every slot (2N) is now quarantined, and a newcomer is refused naming that.
    for (const s of fresh) s.end();
    await until(() => server.stats().total.connections === N, 2000, 'the fresh clients gone');
    await hang(N);
    await until(() => quarantined() === 2 * N, 2000, `${2 * N} slots quarantined`);
    expect(server.stats().total.connections).toBe(2 * N);
    expect(server.metrics()).toMatch(new RegExp(`^ringwire_connections_quarantined\\{worker="0"\\} ${2 * N}$`, 'm'));
    await refused();
    expect(refusals).toHaveLength(2);
    expect(refusals[1]!.message).toMatch(new RegExp(`0 of ${N} connections are open, but all ${2 * N} slots are held: ${2 * N} by connections closed while their handler has not settled`));

    for (const release of hung) release();
    await until(() => server.connections.size === 0 && quarantined() === 0, 5000, 'every quarantined slot back');
    expect(String(await roundTrip(port, Buffer.from('after\n')))).toBe('after\n');
    await server.close();
  }, 20_000);
});
