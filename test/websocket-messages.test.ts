// WebSocket messages through handlers, over real sockets on 127.0.0.1, on both
// cores and every read and write path, with frames written byte by byte here (the
// oracle's encoder) and the server's read back exactly: text and binary echoed as
// what they are, a fragmented message with a ping between its fragments, the
// frames that came with the upgrade request (also behind an async onUpgrade),
// ping/pong both ways, the close handshake from either side, and frames that break
// the RFC closing that connection with the RFC's code while another carries on.
// The handshake alone is in websocket-upgrade.test.ts, the core's frame rules in
// websocket.test.ts; peers nobody here wrote (the ws package, Python's websockets,
// Chromium) in websocket-peers.test.ts and test/browser/.

import net from 'node:net';
import { describe, expect, it } from 'vitest';
import type { Connection, RingwireError, ServerOptions } from '../src/index.ts';
import { connect, PATHS, sleep, startServer, until } from './net-helpers.ts';
import { wsFrame } from './websocket-oracle.ts';

const OP = { cont: 0, text: 1, binary: 2, close: 8, ping: 9, pong: 10 } as const;
const REQUEST = 'GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n';

interface ServerFrame {
  fin: boolean;
  op: number;
  masked: boolean;
  payload: Buffer;
}

/** A raw client: the upgrade done, then every frame the server sends parsed (and checked unmasked), and how it ended. */
class RawClient {
  readonly frames: ServerFrame[] = [];
  fin = false;
  closed = false;
  private buf = Buffer.alloc(0);
  private upgraded = false;
  readonly socket: net.Socket;
  constructor(socket: net.Socket) {
    this.socket = socket;
    socket.on('data', d => this.take(d));
    socket.on('end', () => (this.fin = true));
    socket.on('close', () => (this.closed = true));
    socket.on('error', () => {});
  }

  static async open(port: number, after: Uint8Array = new Uint8Array(0)): Promise<RawClient> {
    const c = new RawClient(await connect(port));
    c.socket.write(Buffer.concat([Buffer.from(REQUEST), after]));
    await until(() => c.upgraded || c.closed, 10_000, 'the 101');
    return c;
  }

  private take(d: Buffer): void {
    this.buf = Buffer.concat([this.buf, d]);
    if (!this.upgraded) {
      const end = this.buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      if (!this.buf.subarray(0, 12).equals(Buffer.from('HTTP/1.1 101'))) throw new Error(`not a 101: ${this.buf}`);
      this.upgraded = true;
      this.buf = this.buf.subarray(end + 4);
    }
    for (;;) {
      const b = this.buf;
      if (b.length < 2) return;
      let len = b[1]! & 0x7f;
      let at = 2;
      if (len === 126) {
        if (b.length < 4) return;
        len = b.readUInt16BE(2);
        at = 4;
      } else if (len === 127) {
        if (b.length < 10) return;
        len = Number(b.readBigUInt64BE(2));
        at = 10;
      }
      const masked = (b[1]! & 0x80) !== 0;
      if (b.length < at + len) return;
      this.frames.push({ fin: (b[0]! & 0x80) !== 0, op: b[0]! & 0x0f, masked, payload: Buffer.from(b.subarray(at, at + len)) });
      this.buf = b.subarray(at + len);
    }
  }

  send(...frames: Buffer[]): void {
    this.socket.write(Buffer.concat(frames));
  }

  async next(n: number): Promise<ServerFrame[]> {
    await until(() => this.frames.length >= n, 10_000, `${n} frames`);
    return this.frames.slice(0, n);
  }
}

const close = (code: number, reason = '') => Buffer.concat([Buffer.of(code >> 8, code & 0xff), Buffer.from(reason)]);
const text = (payload: string | Uint8Array, fin = true) => wsFrame({ op: OP.text, payload, fin });
const binary = (payload: Uint8Array) => wsFrame({ op: OP.binary, payload });

/** An echo that keeps each message's kind; what it saw, in order. */
function echo(seen: string[] = []): Pick<ServerOptions, 'onFrame'> {
  return {
    onFrame(m, c, _r, isText) {
      seen.push(`${isText ? 'text' : 'binary'} ${Buffer.from(m).toString('latin1')}`);
      c.send(m, { text: isText });
    },
  };
}

describe.each(PATHS)('WebSocket messages (core=$core zeroCopy=$zeroCopy write=$writePath)', path => {
  const start = (options: ServerOptions) => startServer({ framing: 'websocket', ...path, ...options });

  it('echoes text and binary messages as what they are, unmasked, byte for byte; a fragmented one whole, after the pong of the ping between its fragments', async () => {
    const seen: string[] = [];
    const { server, port } = await start({ ...echo(seen), maxFrame: 100_000 });
    const c = await RawClient.open(port);
    const big = Buffer.alloc(70_000, 0x61); // a 64-bit length each way
    c.send(text('héllo'), binary(Buffer.of(0, 1, 255)), text(big));
    c.send(text('frag', false), wsFrame({ op: OP.ping, payload: 'between' }), wsFrame({ op: OP.cont, payload: 'men', fin: false }), wsFrame({ op: OP.cont, payload: 'ted' }));
    const got = await c.next(5);
    expect(got.map(f => [f.fin, f.op, f.masked, f.payload.toString('latin1')])).toEqual([
      [true, OP.text, false, Buffer.from('héllo').toString('latin1')],
      [true, OP.binary, false, '\x00\x01\xff'],
      [true, OP.text, false, big.toString('latin1')],
      [true, OP.pong, false, 'between'],
      [true, OP.text, false, 'fragmented'],
    ]);
    expect(seen).toEqual([`text ${Buffer.from('héllo').toString('latin1')}`, 'binary \x00\x01\xff', `text ${big.toString('latin1')}`, 'text fragmented']);
    c.socket.destroy();
    await server.close();
  });

  it.each([false, true])('frames sent with the upgrade request are delivered after the 101 (async onUpgrade: %s)', async async_ => {
    const { server, port } = await start({ ...echo(), onUpgrade: () => (async_ ? sleep(20).then(() => true) : true) });
    const c = await RawClient.open(port, Buffer.concat([text('first'), binary(Buffer.of(7))]));
    const got = await c.next(2);
    expect(got.map(f => [f.op, f.payload.toString('latin1')])).toEqual([[OP.text, 'first'], [OP.binary, '\x07']]);
    c.socket.destroy();
    await server.close();
  });

  it('ping() reaches the client; a client\'s close is answered with its code, then FIN; onClose sees the peer\'s code and reason', async () => {
    let closed: { code: number; reason: string } | undefined;
    let conn: Connection | undefined;
    const { server, port } = await start({ onOpen: c => void (conn = c), onFrame() {}, onClose: c => void (closed = c.peerClose) });
    const c = await RawClient.open(port);
    await until(() => conn !== undefined);
    expect(conn!.ping(Buffer.from('are you there'))).toBe(true);
    const [ping] = await c.next(1);
    expect([ping!.op, ping!.payload.toString()]).toEqual([OP.ping, 'are you there']);
    c.send(wsFrame({ op: OP.close, payload: close(4321, 'bye') }));
    const [, answer] = await c.next(2);
    expect([answer!.op, answer!.payload.readUInt16BE(0), answer!.payload.length]).toEqual([OP.close, 4321, 2]);
    await until(() => c.fin && closed !== undefined);
    expect(closed).toEqual({ code: 4321, reason: 'bye' });
    c.socket.destroy();
    await server.close();
  });

  it('close(code, reason) sends its close after the replies before it, drops what comes until the peer\'s close, then FIN; send() after it is false', async () => {
    const seen: string[] = [];
    let sentAfter: boolean | undefined;
    const { server, port } = await start({
      onFrame(m, c) {
        seen.push(Buffer.from(m).toString());
        c.send(Buffer.from('last'), { text: true });
        c.close(4000, 'done');
        sentAfter = c.send(Buffer.from('too late'));
      },
    });
    const c = await RawClient.open(port);
    c.send(text('one'));
    const got = await c.next(2);
    expect(got.map(f => [f.op, f.op === OP.close ? `${f.payload.readUInt16BE(0)} ${f.payload.subarray(2)}` : f.payload.toString()])).toEqual([[OP.text, 'last'], [OP.close, '4000 done']]);
    expect(sentAfter).toBe(false);
    c.send(text('ignored'));
    await sleep(50);
    expect(c.fin).toBe(false); // waiting for our close
    c.send(wsFrame({ op: OP.close, payload: close(4000) }));
    await until(() => c.fin, 10_000, 'the FIN after the peer\'s close');
    expect(seen).toEqual(['one']);
    expect(c.frames).toHaveLength(2);
    c.socket.destroy();
    await server.close();
  });

  it('close() waits closeTimeout for the peer\'s close frame, then sends FIN (onClose: no peerClose)', async () => {
    let closed: { peerClose: unknown } | undefined;
    const { server, port } = await start({ closeTimeout: 100, onFrame(_m, c) { c.close(4000); }, onClose: c => void (closed = { peerClose: c.peerClose }) });
    const c = await RawClient.open(port);
    c.send(text('bye'));
    const [ours] = await c.next(1);
    expect([ours!.op, ours!.payload.readUInt16BE(0), c.fin]).toEqual([OP.close, 4000, false]);
    await until(() => c.fin && closed !== undefined, 10_000, 'the FIN once the wait ran out');
    expect([c.frames.length, closed]).toEqual([1, { peerClose: undefined }]);
    c.socket.destroy();
    await server.close();
  });

  it('after our close frame a pong still answers a ping, and nothing published follows it (RFC 6455 5.5.1, 5.5.2)', async () => {
    const conns: Connection[] = [];
    const { server, port } = await start({
      onOpen(c) { conns.push(c); c.router.join(c, 'room'); },
      onFrame(m, c) { c.router.publish('room', m); },
    });
    const a = await RawClient.open(port);
    await until(() => conns.length === 1);
    conns[0]!.close(4000);
    const [ours] = await a.next(1);
    expect([ours!.op, ours!.payload.readUInt16BE(0)]).toEqual([OP.close, 4000]);
    const b = await RawClient.open(port);
    await until(() => conns.length === 2);
    b.send(text('published'));
    const [own] = await b.next(1); // the same batch reached a, had it taken it
    expect(own!.payload.toString()).toBe('published');
    a.send(wsFrame({ op: OP.ping, payload: 'still there?' }));
    const got = await a.next(2);
    expect(got.map(f => [f.op, f.payload.toString('latin1')])).toEqual([[OP.close, '\x0f\xa0'], [OP.pong, 'still there?']]);
    a.send(wsFrame({ op: OP.close, payload: close(4000) }));
    await until(() => a.fin, 10_000, 'the FIN after the peer\'s close');
    expect(a.frames).toHaveLength(2);
    a.socket.destroy();
    b.socket.destroy();
    await server.close();
  });

  it('with pipelined handlers, close() goes out after every reply already sent, in its frame\'s place', async () => {
    let sentAfter: boolean | undefined;
    const { server, port } = await start({
      concurrency: 4,
      async onFrame(m, c, reply) {
        if (Buffer.from(m).toString() === 'slow') {
          await sleep(30);
          sentAfter = reply.send(Buffer.from('slow-reply'));
          return;
        }
        reply.send(Buffer.from('fast-reply'));
        c.close(4000);
      },
    });
    const c = await RawClient.open(port);
    c.send(text('slow'), text('fast'));
    await until(() => sentAfter !== undefined);
    c.send(wsFrame({ op: OP.close, payload: close(4000) }));
    await until(() => c.fin, 10_000, 'the FIN after the peer\'s close');
    expect(sentAfter).toBe(false); // sent after close(): too late, though in an earlier place
    expect(c.frames.map(f => [f.op, f.payload.toString('latin1')])).toEqual([[OP.binary, 'fast-reply'], [OP.close, '\x0f\xa0']]);
    c.socket.destroy();
    await server.close();
  });

  it('close() takes the codes a peer may send (1012-1014 too) and refuses the others', async () => {
    const { server, port } = await start({ onFrame(m, c) { expect(() => c.close(1004)).toThrow(TypeError); c.close(Number(Buffer.from(m).toString())); } });
    const c = await RawClient.open(port);
    c.send(text('1013'));
    const [got] = await c.next(1);
    expect([got!.op, got!.payload.readUInt16BE(0)]).toEqual([OP.close, 1013]);
    c.socket.destroy();
    await server.close();
  });

  it.each([
    { name: 'an unmasked frame', frame: () => wsFrame({ op: OP.text, payload: 'x', key: null }), code: 1002, error: 'ERR_WEBSOCKET_PROTOCOL' },
    { name: 'a reserved bit', frame: () => wsFrame({ op: OP.text, payload: 'x', rsv: 0x40 }), code: 1002, error: 'ERR_WEBSOCKET_PROTOCOL' },
    { name: 'a reserved opcode', frame: () => wsFrame({ op: 3, payload: 'x' }), code: 1002, error: 'ERR_WEBSOCKET_PROTOCOL' },
    { name: 'a 126-byte ping', frame: () => wsFrame({ op: OP.ping, payload: Buffer.alloc(126) }), code: 1002, error: 'ERR_WEBSOCKET_PROTOCOL' },
    { name: 'a continuation with no message', frame: () => wsFrame({ op: OP.cont, payload: 'x' }), code: 1002, error: 'ERR_WEBSOCKET_PROTOCOL' },
    { name: 'bad UTF-8 in a text message', frame: () => text(Buffer.of(0x61, 0xc3, 0x28)), code: 1007, error: 'ERR_WEBSOCKET_UTF8' },
    { name: 'a message over maxFrame', frame: () => binary(Buffer.alloc(1025)), code: 1009, error: 'ERR_FRAME_TOO_LARGE' },
  ])('$name: the echo before it, then a close with $code and FIN, $error; another connection carries on', async ({ frame, code, error }) => {
    const errors: RingwireError[] = [];
    const { server, port } = await start({ ...echo(), maxFrame: 1024 });
    server.on('clientError', e => errors.push(e));
    const other = await RawClient.open(port);
    const c = await RawClient.open(port);
    c.send(text('before'), frame());
    const got = await c.next(2);
    expect([got[0]!.payload.toString(), got[1]!.op, got[1]!.payload.readUInt16BE(0)]).toEqual(['before', OP.close, code]);
    await until(() => c.fin, 10_000, 'the FIN');
    expect(errors.map(e => e.code)).toEqual([error]);
    other.send(text('still here'));
    const [echoed] = await other.next(1);
    expect(echoed!.payload.toString()).toBe('still here');
    other.socket.destroy();
    c.socket.destroy();
    await server.close();
  });

  it('a handler that throws closes its connection with 1011; the drain closes the others with 1001', async () => {
    const { server, port } = await start({ onFrame(m) { if (Buffer.from(m).toString() === 'boom') throw new Error('boom'); } });
    const a = await RawClient.open(port);
    const b = await RawClient.open(port);
    a.send(text('boom'));
    const [fail] = await a.next(1);
    expect([fail!.op, fail!.payload.readUInt16BE(0)]).toEqual([OP.close, 1011]);
    const closing = server.close();
    const [drain] = await b.next(1);
    expect([drain!.op, drain!.payload.readUInt16BE(0)]).toEqual([OP.close, 1001]);
    b.send(wsFrame({ op: OP.close, payload: close(1001) }));
    await closing;
    await until(() => a.fin && b.fin);
  });
});
