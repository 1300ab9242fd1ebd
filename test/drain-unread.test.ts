// The drain and bytes the server has not read yet (issue 19, "a drain that answers
// everything, or says so"): a request that reached the server's kernel buffer
// before close() but that the server had not read when the drain stopped reading
// must be answered, or its connection reset and counted, never given a clean FIN
// with no answer. Deterministic over real sockets: the handler of another
// connection writes the request from the client's side (it is in the server's
// kernel buffer at once) and then calls close(), before the event loop can read it.
//
// Before its FIN a draining connection reads once more what the kernel holds and
// answers it (Connection's lastReads(), src/net/connection.ts; drain.ts's header); a
// client that never stops sending is cut off at drainTimeout, reset and counted.
// At scale: scripts/acceptance/drain.mjs (see its header).
import type net from 'node:net';
import { describe, expect, it } from 'vitest';
import { PATHS, connect, ending, errorCodes, startServer, until } from './net-helpers.ts';

describe.each(PATHS)('the drain and bytes not read yet core=$core zeroCopy=$zeroCopy write=$writePath', ({ core, zeroCopy, writePath }) => {
  it('a request in the kernel buffer when close() starts is answered, or its connection reset and counted: never a clean FIN with nothing', async () => {
    let waiting: net.Socket | undefined;
    const { server, port } = await startServer({
      core, zeroCopy, writePath, framing: 'line', drainTimeout: 2000,
      onFrame(frame, c) {
        if (String(Buffer.from(frame)) === 'close') {
          waiting!.write('late\n'); // in the server's kernel buffer now: net.Socket writes at once when it can
          void server.close();
        }
        c.send(frame);
      },
    });
    const closer = await connect(port);
    closer.on('error', () => {});
    waiting = await connect(port);
    const ended = ending(waiting);
    waiting.write('first\n');
    await until(() => server.stats().total.framesOut === 1, 5000, 'the first answer'); // accepted, reading
    closer.write('close\n');
    const end = await ended;
    // Either answered (its reply, then a clean FIN) or reset and counted: no third way.
    expect([{ data: 'first\nlate\n', fin: true, error: undefined }, { data: 'first\n', fin: false, error: 'ECONNRESET' }]).toContainEqual(end);
    if (end.error) expect(server.stats().total.errors).toBe(1);
    closer.destroy();
  });

  it('a client that never stops sending holds the drain no longer than drainTimeout', async () => {
    const { server, port } = await startServer({ core, zeroCopy, writePath, framing: 'line', drainTimeout: 300, onFrame: (frame, c) => void c.send(frame) });
    const codes = errorCodes(server);
    const busy = await connect(port);
    const ended = ending(busy);
    busy.on('data', () => busy.write('again\nagain\n')); // more in flight at every answer: the kernel always holds some
    busy.write('first\n');
    await until(() => server.stats().total.framesOut >= 10, 5000, 'ten answers');
    await server.close(); // resolves by the timeout: the loop above never ends on its own
    // Most often reset and counted (a request in flight, or one the timeout's last read
    // found); a read that found nothing between two requests lets its FIN go first.
    const end = await ended;
    if (end.error) expect(codes).toEqual(['ERR_DRAIN_TIMEOUT']);
    else expect(end.fin).toBe(true);
  });
});
