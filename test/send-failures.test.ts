// send() at run time never throws: a reply over maxReply, one the framing cannot
// carry, a closed connection or a full budget closes that connection with its code
// (a clientError, counted) and send() returns false; only a payload that is not
// bytes throws (a TypeError). Sent from outside any handler (a .then, a timer),
// where a throw would have reached no one and killed the process. Over real
// sockets, on both cores, both read paths and both write paths.
import { describe, expect, it } from 'vitest';
import { lengthFrame } from './harness.ts';
import { PATHS, collect, connect, errorCodes, roundTrip, startServer, until } from './net-helpers.ts';

const text = (frame: Uint8Array) => Buffer.from(frame).toString();

describe.each(PATHS)('send() failures core=$core zeroCopy=$zeroCopy write=$writePath', ({ core, zeroCopy, writePath }) => {
  it('a 600 KB reply from a .then outside any handler closes that connection with ERR_REPLY_TOO_LARGE; the others carry on', async () => {
    const results: boolean[] = [];
    const { server, port } = await startServer({
      core, zeroCopy, writePath, framing: 'line', txRing: 65536, maxReply: 262144,
      onFrame(frame, c) {
        c.send(frame);
        if (text(frame) === 'big') void Promise.resolve().then(() => results.push(c.send(Buffer.alloc(600_000, 1))));
      },
    });
    const codes = errorCodes(server);
    const other = await connect(port);
    const otherGot = collect(other);
    other.write('before\n');
    expect(String(await roundTrip(port, Buffer.from('big\n')))).toBe('big\n'); // its earlier reply, then the close
    expect(results).toEqual([false]);
    expect(codes).toEqual(['ERR_REPLY_TOO_LARGE']);
    expect(server.stats().total.errorsByCode).toEqual({ ERR_REPLY_TOO_LARGE: 1 });
    other.end('after\n');
    expect(String(await otherGot.done)).toBe('before\nafter\n');
    await server.close();
  });

  it('outside a handler: a reply of maxReply bytes goes out whole; one byte more closes the connection', async () => {
    const maxReply = 100_000;
    const { server, port } = await startServer({
      core, zeroCopy, writePath, framing: 'length:4', txRing: 65536, maxReply, maxQueued: 2 * maxReply,
      onFrame(frame, c) {
        setImmediate(() => {
          c.send(Buffer.alloc(maxReply + frame[0]!, 7));
          c.send(Buffer.from('after'));
        });
      },
    });
    const codes = errorCodes(server);
    const s = await connect(port);
    const got = collect(s);
    s.write(lengthFrame(Buffer.from([0])));
    const whole = Buffer.concat([lengthFrame(Buffer.alloc(maxReply, 7)), lengthFrame(Buffer.from('after'))]);
    await until(() => got.received() === whole.length, 5000, 'the reply at maxReply');
    s.write(lengthFrame(Buffer.from([1])));
    expect((await got.done).equals(whole)).toBe(true); // nothing of the one past, nor what followed it
    expect(codes).toEqual(['ERR_REPLY_TOO_LARGE']);
    await server.close();
  });

  it('outside a handler: the largest length the framing carries goes out, one more closes with ERR_REPLY_TOO_LARGE', async () => {
    const { server, port } = await startServer({
      core, zeroCopy, writePath, framing: 'length:1', txRing: 4096, maxFrame: 255,
      onFrame(frame, c) {
        setTimeout(() => c.send(Buffer.alloc(255 + frame[0]!, 3)), 1);
      },
    });
    const codes = errorCodes(server);
    const s = await connect(port);
    const got = collect(s);
    s.write(lengthFrame(Buffer.from([0]), { size: 1 }));
    await until(() => got.received() === 256, 5000, 'the 255-byte reply');
    s.write(lengthFrame(Buffer.from([1]), { size: 1 }));
    expect((await got.done).equals(lengthFrame(Buffer.alloc(255, 3), { size: 1 }))).toBe(true);
    expect(codes).toEqual(['ERR_REPLY_TOO_LARGE']);
    await server.close();
  });

  it('to a connection that closed: false, nothing thrown, nothing counted', async () => {
    let later!: () => boolean;
    const { server, port } = await startServer({
      core, zeroCopy, writePath, framing: 'line',
      onFrame(frame, c) {
        c.send(frame);
        later = () => c.send(Buffer.from('too late'));
      },
    });
    const codes = errorCodes(server);
    expect(String(await roundTrip(port, Buffer.from('hi\n')))).toBe('hi\n');
    await until(() => server.connections.size === 0, 5000, 'the close');
    expect(later()).toBe(false);
    expect(codes).toEqual([]);
    await server.close();
  });

  it('a payload that is not bytes throws a TypeError (a programming error), and the connection goes on', async () => {
    const thrown: string[] = [];
    const { server, port } = await startServer({
      core, zeroCopy, writePath, framing: 'line',
      onFrame(frame, c) {
        for (const bad of ['text', new ArrayBuffer(4), 42, undefined, null, [1, 2]]) {
          try {
            c.send(bad as never);
          } catch (err) {
            thrown.push(`${(err as Error).constructor.name}: ${(err as Error).message}`);
          }
        }
        c.send(frame);
      },
    });
    const codes = errorCodes(server);
    expect(String(await roundTrip(port, Buffer.from('a\nb\n')))).toBe('a\nb\n');
    expect(thrown).toHaveLength(12);
    expect(thrown.slice(0, 6)).toEqual([
      'TypeError: send() takes bytes (a Uint8Array or Buffer), got string',
      'TypeError: send() takes bytes (a Uint8Array or Buffer), got ArrayBuffer',
      'TypeError: send() takes bytes (a Uint8Array or Buffer), got number',
      'TypeError: send() takes bytes (a Uint8Array or Buffer), got undefined',
      'TypeError: send() takes bytes (a Uint8Array or Buffer), got null',
      'TypeError: send() takes bytes (a Uint8Array or Buffer), got Array',
    ]);
    expect(codes).toEqual([]);
    await server.close();
  });
});
