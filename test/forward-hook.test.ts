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
  const { server, port } = await startServer({
    core, zeroCopy, writePath, framing: 'line', upstream: { port: echo.port },
    onForward(frame, from) {
      if (from.remotePort === echo.port) return undefined; // the backend's answers pass
      const answer = ANSWERS[text(frame)];
      return (answer ? answer() : undefined) as never;
    },
  });
  return { server, port, echo, upstream: () => String(Buffer.concat(upstreamSeen)) };
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
    const { server, port, echo, upstream } = await relay(core, zeroCopy, writePath);
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
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(kind === 'throw' || kind === 'reject' ? /^ERR_HANDLER: the handler failed: no$/ : /^ERR_HANDLER: the handler failed: onForward returned \w+: return nothing or true/);
    expect(String(await roundTrip(port, Buffer.from('next\n')))).toBe('next\n'); // the relay carries on
    await server.close();
    await echo.stop();
  });
});
