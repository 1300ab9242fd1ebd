// The drain and connections whose handler overran handlerTimeout (issue 19): their
// sockets are gone and they were counted as ERR_HANDLER_TIMEOUT, so the drain counts
// none of their frames as unanswered (docs/limits-and-errors.md: "never: frames of a
// connection the application or an error closed itself") and `ringwire serve` exits
// 0 when everything else was answered. Before, 200 hung handlers at SIGTERM were
// logged as "200 frame(s) read and not answered" and the exit code was 1.
import { once } from 'node:events';
import { describe, expect, it } from 'vitest';
import { startCli } from './cli-process.ts';
import { CORES } from './harness.ts';
import { LineClient } from './line-client.ts';
import { PATHS, startServer, until } from './net-helpers.ts';

// The paths side by side (each its own server; the test is mostly waiting for handlerTimeout and the drain).
describe.concurrent.each(PATHS)('the drain with a handler past handlerTimeout core=$core zeroCopy=$zeroCopy write=$writePath', ({ core, zeroCopy, writePath }) => {
  it('counts none of its frames, and still answers the others before their FIN', async () => {
    const hung: (() => void)[] = [];
    let releaseSlow: () => void = () => {};
    // drainTimeout bounds the test (close() waits for it while the hung handler holds
    // its quarantined slot); the slow frame is released by the test 50 ms into the
    // drain, so its answer needs only a small part of the timeout.
    const { server, port } = await startServer({
      core, zeroCopy, writePath, framing: 'line', handlerTimeout: 400, drainTimeout: 500,
      async onFrame(frame, c) {
        const line = String(Buffer.from(frame));
        if (line === 'hang') await new Promise<void>(resolve => hung.push(resolve));
        else if (line === 'slow') await new Promise<void>(resolve => (releaseSlow = resolve));
        c.send(frame);
      },
    });
    const stuck = await LineClient.open(port);
    stuck.write('hang');
    await until(() => stuck.closed, 5000, 'ERR_HANDLER_TIMEOUT to close the hung connection');
    const other = await LineClient.open(port);
    other.write('slow');
    await until(() => server.stats().total.framesIn === 2, 5000, 'the slow frame to be read');
    const closing = server.close();
    setTimeout(() => releaseSlow(), 50); // answered during the drain, before its FIN
    await closing;
    await until(() => other.closed, 5000, 'the other connection\'s FIN');
    expect(other.lines).toEqual(['slow']);
    expect(server.stats().total).toMatchObject({ drainUnanswered: 0, errorsByCode: { ERR_HANDLER_TIMEOUT: 1 } });
    expect(server.stats().total.errorsByCode.ERR_DRAIN_TIMEOUT ?? 0).toBe(0);
    for (const release of hung) release();
  });
});

describe.each(CORES)('ringwire serve with hung handlers at SIGTERM core=%s', core => {
  it('exits 0 and logs no drain timeout when the only frames left were closed by ERR_HANDLER_TIMEOUT', async () => {
    const cli = startCli(['serve', '--port', '0', '--core', core, '--framing', 'line', '--handler', 'test/fixtures/scenario-handler.mjs', '--handler-timeout', '300ms', '--drain-timeout', '500ms']);
    await until(() => /listening on 127\.0\.0\.1:\d+/.test(cli.out()), 15_000, 'the listening line');
    const port = Number(/listening on 127\.0\.0\.1:(\d+)/.exec(cli.out())![1]);
    const clients = await Promise.all(Array.from({ length: 20 }, () => LineClient.open(port)));
    for (const c of clients) c.write('hang');
    await until(() => clients.every(c => c.closed), 5000, 'every hung connection closed');
    cli.child.kill('SIGTERM');
    const [code] = await once(cli.child, 'exit');
    expect(cli.out() + cli.err()).not.toMatch(/drain timed out/);
    expect(code).toBe(0);
  });
});
