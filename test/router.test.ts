// The router (src/net/router.ts) hands mailbox records to connections; what a
// user's clientError listener throws while it does so is passed on whole (it
// reaches the process as an uncaught exception), never swallowed with the
// ERR_REPLY_TOO_LARGE the router drops on purpose. Run in a child process, where
// an uncaught exception is the thing observed, on both cores.
import { describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const FIXTURE = new URL('./fixtures/router-listener-throw.mjs', import.meta.url).pathname;

describe.each(['wasm', 'js'] as const)('router, core=%s', core => {
  it('a clientError listener that throws during a mailbox delivery: its error reaches the process whole', async () => {
    const { stdout } = await promisify(execFile)(process.execPath, [FIXTURE, core], { timeout: 20_000 });
    expect(stdout.trim()).toBe('passed on: the clientError listener threw on ERR_SLOW_CONSUMER');
  });
});
