// The one use of Node internals: on the Node running this suite, accepted sockets
// can be adopted (so the zero-copy path is what the other tests exercised), an
// adopted socket reads through onread (no 'data' events, no Buffer per read),
// and the detection says no where the internals are missing.
import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { canAdopt } from '../src/net/socket-adoption.ts';
import { collect, connect, startServer, until } from './net-helpers.ts';

describe(`socket adoption on Node ${process.version}`, () => {
  it('detects an adoptable accepted socket, and refuses one without a handle', async () => {
    const server = net.createServer({ pauseOnConnect: true });
    const accepted = new Promise<net.Socket>(resolve => server.once('connection', resolve));
    server.listen(0, '127.0.0.1');
    await new Promise(r => server.once('listening', r));
    const client = await connect((server.address() as net.AddressInfo).port);
    const raw = await accepted;
    expect(canAdopt(raw)).toBe(true);
    expect(canAdopt(new net.Socket())).toBe(false);
    raw.destroy();
    client.destroy();
    await new Promise(r => server.close(r));
  });

  it.each([true, false])('zeroCopy=%s reads through the path it names', async zeroCopy => {
    const { server, port } = await startServer({ zeroCopy });
    const s = await connect(port);
    const r = collect(s);
    s.write('x');
    await until(() => server.connections.size === 1, 5000, 'the connection');
    const conn = [...server.connections.values()][0]!;
    // Zero-copy: the kernel writes into the rx ring via onread, so no 'data' listener exists.
    expect(conn.socket.listenerCount('data')).toBe(zeroCopy ? 0 : 1);
    s.end();
    expect(String(await r.done)).toBe('x');
    await server.close();
  });
});
