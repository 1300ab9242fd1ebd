// What an idle connection keeps (docs/limits-and-errors.md, "What an idle connection
// costs"): no function of its own (its socket's listeners and read target are shared
// by every connection, found through the socket; the stream write path keeps one,
// socket.write's callback) and none of the parts it has not
// used: no delivery in an echo, no relay link unless paired, no queue unless a reply
// waited beyond the tx ring, no view of a ring it gave back (both go back: it holds
// no ring at all); no direct writer or write request of its own (the thread's one),
// no address objects cached on its socket, one 'end' listener (Node's own no-op one
// gave its place). And its addresses stay right for onClose after a reset. Real
// sockets, both cores, both read paths, both write paths; every byte echoed is compared.
import { afterEach, describe, expect, it } from 'vitest';
import type net from 'node:net';
import type { Connection, RingwireServer } from '../src/index.ts';
import { kSlot } from '../src/net/internals.ts';
import { lengthFrame } from './harness.ts';
import { collect, connect, PATHS, startServer, until } from './net-helpers.ts';

const servers: RingwireServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map(s => s.close()));
});

/** Own properties (string and symbol keys) of an object that are functions: closures made for it. */
function ownFunctions(o: object): string[] {
  return Reflect.ownKeys(o).filter(k => typeof (o as Record<PropertyKey, unknown>)[k] === 'function').map(String);
}

describe.each(PATHS)('an idle connection core=$core zeroCopy=$zeroCopy write=$writePath', ({ core, zeroCopy, writePath }) => {
  it('keeps no closure and no part it did not use, and its socket\'s listeners are shared with every other connection', async () => {
    const opened: Connection[] = [];
    const { server, port } = await startServer({ core, zeroCopy, writePath, framing: 'length:4', onOpen: c => void opened.push(c) });
    servers.push(server);
    const sockets: net.Socket[] = [];
    for (let i = 0; i < 3; i++) {
      const socket = await connect(port);
      const frame = lengthFrame(Buffer.from(`connection ${i}`));
      const { received, done } = collect(socket);
      socket.write(frame);
      await until(() => received() === frame.length, 10_000, `echo ${i}`);
      sockets.push(socket);
      void done.then(got => expect(got).toEqual(frame));
    }
    expect(opened.length).toBe(3);
    // Idle past RINGS_IDLE_MS (100 ms): both rings go back to the pool.
    await until(() => server.stats().total.pool.bytes === 0, 5_000, 'the rings given back');
    for (const c of opened) {
      const parts = c as unknown as { dl: unknown; link: unknown; out: { tx: unknown; onWritten: unknown } };
      expect(ownFunctions(c)).toEqual([]);
      // The stream path keeps one, made at its first write: socket.write's callback, which Node calls with no `this`.
      expect(ownFunctions(parts.out)).toEqual(writePath === 'direct' ? [] : ['onWritten']);
      expect(parts.dl).toBeNull(); // an echo delivers no frame to a handler
      expect(parts.link).toBeNull(); // not a relay
      expect(parts.out.tx).toBeNull(); // no reply waited beyond the tx ring
      const views = (c as unknown as { core: { txFromStart: unknown[]; wholeRx: unknown[] } }).core;
      expect(views.txFromStart[c[kSlot]]).toBeUndefined(); // the tx ring went back: no view of it is kept
      expect(views.wholeRx[c[kSlot]]).toBeUndefined(); // nor of the rx ring
    }
    const writers = new Set(opened.map(c => (c as unknown as { out: { direct: unknown } }).out.direct));
    // The direct path: one writer (and its one spare request) for the thread, none of a connection's own.
    expect(writers.size).toBe(1);
    expect([...writers][0] === null).toBe(writePath === 'stream');
    for (const [i, c] of opened.entries()) {
      // Its addresses, read once at open, with nothing Node cached on the socket for them.
      const socket = c.socket as unknown as { _peername?: unknown; _sockname?: unknown };
      expect(socket._peername ?? null).toBeNull();
      expect(socket._sockname ?? null).toBeNull();
      expect([c.remoteAddress, c.remotePort, c.localAddress, c.localPort]).toEqual(['127.0.0.1', sockets[i]!.localPort, '127.0.0.1', port]);
      // One listener for the peer's FIN, the connection's: Node's own (a no-op on a half-open socket) gave its place.
      expect(c.socket.listenerCount('end')).toBe(1);
    }
    for (const event of ['data', 'end', 'error', 'close'] as const) {
      // Node's listeners and the connection's: the same functions on every socket.
      const [first, ...rest] = opened.map(c => c.socket.listeners(event));
      for (const l of rest) expect(l, `'${event}' listeners`).toEqual(first);
    }
    for (const s of sockets) s.end();
  });

  it('still tells onClose its addresses after the peer reset the connection', async () => {
    const closed: [string | undefined, number | undefined, string | undefined, number | undefined][] = [];
    const { server, port } = await startServer({
      core, zeroCopy, writePath, framing: 'length:4',
      onClose: c => void closed.push([c.remoteAddress, c.remotePort, c.localAddress, c.localPort]),
    });
    servers.push(server);
    const socket = await connect(port);
    const frame = lengthFrame(Buffer.from('then a reset'));
    const { received } = collect(socket);
    socket.write(frame);
    await until(() => received() === frame.length, 10_000, 'the echo');
    const localPort = socket.localPort;
    socket.resetAndDestroy();
    await until(() => closed.length === 1, 10_000, 'onClose');
    expect(closed).toEqual([['127.0.0.1', localPort, '127.0.0.1', port]]);
  });
});
