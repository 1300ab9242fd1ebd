// Options are resolved once, when a server, endpoint, worker server or client is
// built: an unknown name is ERR_BAD_CONFIG naming it (and the known name it is
// closest to), and every number is taken at its limit and refused one step past,
// with a message naming the option and the range it takes.
import { describe, expect, it } from 'vitest';
import { connect, createEndpoint, createServer, createWorkerServer, MAX_DURATION } from '../src/index.ts';

/** The ERR_BAD_CONFIG message f throws, or 'no error'. */
function refusal(f: () => unknown): string {
  try {
    f();
  } catch (err) {
    expect((err as { code?: string }).code).toBe('ERR_BAD_CONFIG');
    return (err as Error).message;
  }
  return 'no error';
}

/** An endpoint built with these options, refused or not (built ones are closed). */
const endpoint = (options: object) => refusal(() => void createEndpoint(options as never).close());

describe('endpoint options', () => {
  it.each([
    ['idleTimout', 'unknown option idleTimout: did you mean idleTimeout?'],
    ['maxqueued', 'unknown option maxqueued: did you mean maxQueued?'],
    ['max_reply', 'unknown option max_reply: did you mean maxReply?'],
    ['onframe', 'unknown option onframe: did you mean onFrame?'],
    ['timeout', 'unknown option timeout'],
    ['upstream', 'unknown option upstream'], // a server's option, not an endpoint's
  ])('refuses the unknown option %s', (name, message) => {
    expect(endpoint({ [name]: 1 })).toBe(message);
  });

  it('takes an option given as undefined (its default)', () => {
    expect(endpoint({ idleTimeout: undefined, maxQueued: undefined })).toBe('no error');
  });

  const day = 24 * 3_600_000;
  // [option, the limit (taken), one step past it (refused), the message's range]
  it.each([
    ['idleTimeout', MAX_DURATION, MAX_DURATION + 1, 'a number of ms from 1 to 2073600000 (576h) (0: off)'],
    ['frameTimeout', MAX_DURATION, MAX_DURATION + 1, 'a number of ms from 1 to 2073600000 (576h) (0: off)'],
    ['writeTimeout', MAX_DURATION, MAX_DURATION + 1, 'a number of ms from 1 to 2073600000 (576h) (0: off)'],
    ['handlerTimeout', MAX_DURATION, MAX_DURATION + 1, 'a number of ms from 1 to 2073600000 (576h) (0: off)'],
    ['evictAfter', MAX_DURATION, MAX_DURATION + 1, 'a number of ms from 1 to 2073600000 (576h) (0: off)'],
    ['drainTimeout', MAX_DURATION, 25 * day, 'a number of ms from 0 to 2073600000 (576h)'],
    ['drainTimeout', 0, -1, 'a number of ms from 0 to 2073600000 (576h)'],
    ['stallTimeout', 100, 99, 'a number of ms from 100 to 2073600000 (576h) (0: off)'],
    ['stallTimeout', 0, 0.5, 'a number of ms from 100 to 2073600000 (576h) (0: off)'],
    ['minRateWindow', 100, 99, 'a number of ms from 100 to 2073600000 (576h)'],
    ['minRate', 2 ** 30, 2 ** 30 + 1, 'a whole number from 0 to 1073741824 bytes/s'],
    ['maxConnectionsPerIp', 1 << 20, (1 << 20) + 1, 'a whole number from 0 to 1048576'],
    ['maxQueued', 1, 0, 'a whole number from 1 to 4294967296 bytes'],
    ['maxReply', 1, 0, 'a whole number from 1 to 4294967296 bytes'],
    ['maxQueuedTotal', 1, 0, 'a whole number from 1 to 1099511627776 bytes'],
  ] as const)('%s: takes %d, refuses %d', (name, limit, past, range) => {
    expect(endpoint({ [name]: limit })).toBe('no error');
    expect(endpoint({ [name]: past })).toBe(`${name} must be ${range}, got ${past}${name.endsWith('Timeout') || name === 'evictAfter' || name === 'minRateWindow' ? ' ms' : ''}`);
  });

  it.each([NaN, Infinity, '30s', null])('refuses idleTimeout %s: not a number of ms', value => {
    expect(endpoint({ idleTimeout: value })).toMatch(/^idleTimeout must be a number of ms from 1 to 2073600000/);
  });

  it('takes keepAlive from 1 s to 32767 s in whole ms, true or false; refuses what TCP_KEEPIDLE cannot hold', () => {
    for (const ok of [true, false, 1000, 32_767_000]) expect(endpoint({ keepAlive: ok })).toBe('no error');
    for (const bad of [999, 32_767_001, 0]) expect(endpoint({ keepAlive: bad })).toMatch(/^keepAlive must be true, false, or the idle time before the first probe, 1000 ms to 32767000 ms/);
  });

  it('refuses queue limits that cannot hold each other once the rings are known: maxQueuedTotal under maxQueued, maxReply over maxQueued', async () => {
    const at = createServer({ txRing: 1024, maxQueued: 4096, maxQueuedTotal: 4096 });
    await at.start();
    expect(at.memoryBudget().queued).toBe(4096);
    await at.close();
    const past = createServer({ txRing: 1024, maxQueued: 4096, maxQueuedTotal: 4095 });
    await expect(past.start()).rejects.toMatchObject({ code: 'ERR_BAD_CONFIG', message: 'maxQueuedTotal (4095) must be at least maxQueued (4096): one connection\'s queue must fit in the budget of all' });
    await past.close();
    // The default maxQueued is 4 tx rings: a total under it is refused, saying so.
    const byDefault = createServer({ txRing: 1024, maxQueuedTotal: 4095 });
    await expect(byDefault.start()).rejects.toMatchObject({ message: 'maxQueuedTotal (4095) must be at least maxQueued (4096, 4 tx rings of 1024): one connection\'s queue must fit in the budget of all' });
    await byDefault.close();
    const reply = createServer({ maxQueued: 100, maxReply: 101 });
    await expect(reply.start()).rejects.toMatchObject({ message: /^maxReply \(101\) cannot exceed maxQueued \(100\)/ });
    await reply.close();
  });

  it('is frozen once resolved: changing the options object later changes nothing', async () => {
    const options = { framing: 'line', idleTimeout: 60_000 };
    const server = createServer(options);
    options.idleTimeout = -5;
    const { port } = await server.listen(0);
    expect(port).toBeGreaterThan(0);
    await server.close();
  });
});

describe('server, worker server and connect() options', () => {
  it('refuses unknown options of a server, its upstream and a worker server, naming the nearest', () => {
    expect(refusal(() => createServer({ upstrem: { port: 1 } } as never))).toBe('unknown option upstrem: did you mean upstream?');
    expect(refusal(() => createServer({ upstream: { port: 1, conectTimeout: 5 } } as never))).toBe('unknown option upstream.conectTimeout: did you mean upstream.connectTimeout?');
    expect(refusal(() => createWorkerServer({ worker: 2 } as never))).toBe('unknown option worker: did you mean workers?');
    expect(refusal(() => createWorkerServer({ stallRestrat: 1000 } as never))).toBe('unknown option stallRestrat: did you mean stallRestart?');
  });

  it('takes an upstream port from 1 to 65535 and a connect timeout from 1 ms to 576h; refuses one past each', () => {
    for (const port of [1, 65535]) expect(refusal(() => createServer({ upstream: { port, connectTimeout: MAX_DURATION } }))).toBe('no error');
    expect(refusal(() => createServer({ upstream: { port: 0 } }))).toBe('upstream.port must be a whole number from 1 to 65535, got 0');
    expect(refusal(() => createServer({ upstream: { port: 65536 } }))).toBe('upstream.port must be a whole number from 1 to 65535, got 65536');
    expect(refusal(() => createServer({ upstream: { port: 1, connectTimeout: 0 } }))).toBe('upstream.connectTimeout must be a number of ms from 1 to 2073600000 (576h), got 0 ms');
    expect(refusal(() => createServer({ upstream: { port: 1, connectTimeout: MAX_DURATION + 1 } }))).toMatch(/^upstream\.connectTimeout must be/);
    expect(refusal(() => createServer({ upstream: { port: 1, host: '' } }))).toBe('upstream.host must be a host name or an address (0.0.0.0 or :: for every interface), got ""');
    // Its TLS handshake deadline too, at start (it was refused at each client's dial, and never above: 600h taken).
    expect(refusal(() => createServer({ upstream: { port: 1, tls: { handshakeTimeout: MAX_DURATION } } }))).toBe('no error');
    expect(refusal(() => createServer({ upstream: { port: 1, tls: { handshakeTimeout: MAX_DURATION + 1 } } }))).toBe('upstream.tls.handshakeTimeout must be a number of ms from 1 to 2073600000 (576h) (0: off), got 2073600001 ms');
    expect(refusal(() => createServer({ upstream: { port: 1, tls: 'yes' as never } }))).toBe('upstream.tls must be an object of TLS options, got yes');
  });

  it('refuses a relay whose upstream host does not resolve when it starts', async () => {
    const server = createServer({ upstream: { host: 'no.such.host.invalid', port: 80 } });
    await expect(server.listen(0)).rejects.toMatchObject({ code: 'ERR_BAD_CONFIG', message: expect.stringMatching(/^upstream\.host: "no\.such\.host\.invalid" does not resolve \((ENOTFOUND|EAI_AGAIN)\)$/) });
    await server.close();
  });

  it('refuses listen() on host "" (Node would bind every interface)', async () => {
    const server = createServer({});
    await expect(server.listen({ port: 0, host: '' })).rejects.toMatchObject({ code: 'ERR_BAD_CONFIG', message: /^host must be a host name or an address/ });
    await server.close();
  });

  it('takes stallRestart 0 or from 200 ms (two heartbeats), and a restart delay whose min is at most its max', () => {
    const worker = (o: object) => refusal(() => void createWorkerServer({ workers: 1, ...o }).close());
    expect(worker({ stallRestart: 200 })).toBe('no error');
    expect(worker({ stallRestart: 0 })).toBe('no error');
    expect(worker({ stallRestart: 199 })).toBe('stallRestart must be a number of ms from 200 to 2073600000 (576h) (0: off), got 199 ms');
    expect(worker({ idleTimeout: -1 })).toMatch(/^idleTimeout must be/); // the endpoint's rules, in the main thread
    expect(worker({ restartDelay: { min: 10, max: 9 } })).toBe('restartDelay.min (10) must be at most restartDelay.max (9)');
  });

  it('refuses connect() options that are unknown or out of range, before connecting', async () => {
    await expect(connect({ port: 1, conectTimeout: 10 } as never)).rejects.toMatchObject({ code: 'ERR_BAD_CONFIG', message: 'unknown option conectTimeout: did you mean connectTimeout?' });
    await expect(connect({ port: 0 })).rejects.toMatchObject({ message: 'port must be a whole number from 1 to 65535, got 0' });
    await expect(connect({ port: 1, connectTimeout: MAX_DURATION + 1 })).rejects.toMatchObject({ message: /^connectTimeout must be a number of ms from 1 to 2073600000/ });
    await expect(connect({ port: 1, reconnect: { jitter: 1.5 } })).rejects.toMatchObject({ message: 'reconnect.jitter must be a number from 0 to 1, got 1.5' });
    await expect(connect({ port: 1, idleTimout: 5 } as never)).rejects.toMatchObject({ message: 'unknown option idleTimout: did you mean idleTimeout?' });
  });
});
