// The relay's onForward hook is handled like onFrame, over real sockets on both
// cores, read paths and write paths: every kind of answer, sync and async (a
// promise awaited in order, the frame's view valid until it settles): nothing or
// true forwards, false drops, bytes replace; a string, an ArrayBuffer, a number,
// an object, a throw or a rejection closes that client and its upstream with
// ERR_HANDLER (never a silent forward), and other clients carry on.
import { describe, expect, it } from 'vitest';
import { PATHS, collect, connect, errorCodes, plainServer, roundTrip, sleep, startServer, until } from './net-helpers.ts';

const text = (frame: Uint8Array) => Buffer.from(frame).toString();
const later = <T>(value: T) => sleep(Math.random() * 5).then(() => value);

/** What the hook answers for a frame naming it. */
const ANSWERS: Record<string, () => unknown> = {
  undefined: () => undefined,
  true: () => true,
  false: () => false,
  bytes: () => Buffer.from('REPLACED'),
  'a-undefined': () => later(undefined),
  'a-true': () => later(true),
  'a-false': () => later(false),
  'a-bytes': () => later(Buffer.from('A-REPLACED')),
  string: () => 'oops',
  arraybuffer: () => new ArrayBuffer(3),
  number: () => 7,
  object: () => ({ replace: 'x' }),
  'a-string': () => later('oops'),
  throw: () => { throw new Error('no'); },
  reject: () => later(null).then(() => { throw new Error('no'); }),
};

async function relay(core: 'wasm' | 'js', zeroCopy: boolean, writePath: 'direct' | 'stream') {
  const upstreamSeen: Buffer[] = [];
  const echo = await plainServer(s => { s.on('data', d => upstreamSeen.push(d)); s.pipe(s); });
  /** How each side closed, client or upstream: the error's code, or 'normal'. */
  const closes: string[] = [];
  const { server, port } = await startServer({
    core, zeroCopy, writePath, framing: 'line', upstream: { port: echo.port },
    onForward(frame, from) {
      // The backend's answers pass, but for 'back-*': its answer is what the hook answers for.
      const backend = from.remotePort === echo.port;
      const name = text(frame);
      if (backend !== name.startsWith('back-')) return undefined;
      const answer = ANSWERS[backend ? name.slice(5) : name];
      return (answer ? answer() : undefined) as never;
    },
    onClose: (_c, err) => void closes.push(err?.code ?? 'normal'),
  });
  return { server, port, echo, closes, upstream: () => String(Buffer.concat(upstreamSeen)) };
}

describe.each(PATHS)('onForward core=$core zeroCopy=$zeroCopy write=$writePath', ({ core, zeroCopy, writePath }) => {
  it('forwards on nothing or true, drops on false, replaces with bytes: sync and async, in order', async () => {
    const { server, port, echo, upstream } = await relay(core, zeroCopy, writePath);
    const codes = errorCodes(server);
    const sent = ['x1', 'undefined', 'true', 'false', 'bytes', 'a-undefined', 'a-true', 'a-false', 'a-bytes', 'x2'];
    const want = 'x1\nundefined\ntrue\nREPLACED\na-undefined\na-true\nA-REPLACED\nx2\n';
    expect(String(await roundTrip(port, Buffer.from(sent.map(l => `${l}\n`).join(''))))).toBe(want);
    expect(upstream()).toBe(want);
    expect(codes).toEqual([]);
    await server.close();
    await echo.stop();
  });

  it.each(['string', 'arraybuffer', 'number', 'object', 'a-string', 'throw', 'reject'])('an answer it does not understand (%s) closes the client and its upstream with ERR_HANDLER', async kind => {
    const { server, port, echo, closes, upstream } = await relay(core, zeroCopy, writePath);
    const errors: string[] = [];
    server.on('clientError', err => errors.push(`${err.code}: ${err.message}`));
    const s = await connect(port);
    const got = collect(s);
    s.write('ok\n');
    await until(() => got.received() === 3, 5000, 'the first answer');
    s.write(`${kind}\nnever\n`);
    expect(String(await got.done)).toBe('ok\n');
    await until(() => server.connections.size === 0, 5000, 'the client and its upstream closed');
    expect(upstream()).toBe('ok\n'); // the frame it did not understand never left
    // Both sides closed with ERR_HANDLER, each reported and counted: the client for its hook, its upstream for its partner's.
    const why = kind === 'throw' || kind === 'reject' ? 'the handler failed: no' : `the handler failed: onForward returned \\w+: return nothing or true`;
    expect(errors).toHaveLength(2);
    expect(errors[0]).toMatch(new RegExp(`^ERR_HANDLER: ${why}`));
    expect(errors[1]).toMatch(new RegExp(`^ERR_HANDLER: its relay partner's handler failed: ${why}`));
    expect(closes).toEqual(['ERR_HANDLER', 'ERR_HANDLER']);
    expect(server.stats().total.errorsByCode).toEqual({ ERR_HANDLER: 2 });
    expect(String(await roundTrip(port, Buffer.from('next\n')))).toBe('next\n'); // the relay carries on
    await server.close();
    await echo.stop();
  });

  it.each(['number', 'throw', 'reject'])('the same on the way back (%s): a backend answer it does not understand closes the upstream and its client with ERR_HANDLER', async kind => {
    const { server, port, echo, closes, upstream } = await relay(core, zeroCopy, writePath);
    const codes = errorCodes(server);
    const s = await connect(port);
    const got = collect(s);
    s.write('ok\n');
    await until(() => got.received() === 3, 5000, 'the first answer');
    s.write(`back-${kind}\n`);
    expect(String(await got.done)).toBe('ok\n'); // the answer it did not understand never reached the client
    await until(() => server.connections.size === 0, 5000, 'the upstream and its client closed');
    expect(upstream()).toBe(`ok\nback-${kind}\n`);
    expect(codes).toEqual(['ERR_HANDLER', 'ERR_HANDLER']);
    expect(closes).toEqual(['ERR_HANDLER', 'ERR_HANDLER']);
    expect(server.stats().total.errorsByCode).toEqual({ ERR_HANDLER: 2 });
    await server.close();
    await echo.stop();
  });
});
