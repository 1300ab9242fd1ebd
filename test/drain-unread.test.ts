// The drain and bytes the server has not read yet (issue 19, "a drain that answers
// everything, or says so"): a request that reached the server's kernel buffer
// before close() but that the server had not read when the drain stopped reading
// must be answered, or its connection reset and counted, never given a clean FIN
// with no answer. Deterministic over real sockets: the handler of another
// connection writes the request from the client's side (it is in the server's
// kernel buffer at once) and then calls close(), before the event loop can read it.
//
// A GAP on main, documented (docs/limits-and-errors.md, the drain: "never: ... bytes
// still in the kernel's buffers") but at odds with the drain's own promise that no
// client can take a clean close for a complete answer: Connection[kDrain]
// (src/net/connection.ts) stops reading at once, so the request is never read and
// the client gets a clean FIN with nothing; ringwire serve exits 0 saying nothing.
// `it.fails` keeps the suite green and fails as soon as the gap is closed: then make
// it `it`. At scale: scripts/acceptance/drain.mjs (see its header).
import type net from 'node:net';
import { describe, expect, it } from 'vitest';
import { PATHS, connect, ending, startServer, until } from './net-helpers.ts';

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
});
