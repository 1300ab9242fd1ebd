// The command line's logs as an operator reads them: `ringwire serve --log json`
// with two workers, provoked into a refusal, bad frames (more than the rate
// limit lets through), a stall and a worker crash, scraped on --metrics, then
// stopped with SIGTERM; every line it printed must be a pino-shaped JSON object.
// And --log silent prints nothing at all.
import { spawnSync } from 'node:child_process';
import { once } from 'node:events';
import net from 'node:net';
import { hostname } from 'node:os';
import { afterEach, describe, expect, it } from 'vitest';
import { killStarted, startCli, type CliProcess } from './cli-process.ts';
import { collect, connect, roundTrip, until } from './net-helpers.ts';
import { checkMetrics, read, scrape, sum } from './prometheus.ts';

afterEach(killStarted);

const serve = (args: string[]): CliProcess => startCli(['serve', ...args]);

interface Line { level: number; time: number; pid: number; hostname: string; name: string; msg: string; [field: string]: unknown }

/** Every complete line of out, parsed: one that is not JSON fails the test here. */
const lines = (out: string): Line[] => out.split('\n').filter(l => l !== '').map(l => JSON.parse(l) as Line);

/** One line from a client that stays open; resolves with the reply line. */
async function ask(socket: net.Socket, text: string): Promise<string> {
  socket.setEncoding('utf8');
  const reply = once(socket, 'data') as Promise<[string]>;
  socket.write(`${text}\n`);
  return (await reply)[0];
}

describe('ringwire serve --log json', () => {
  it('writes start, refusals, rate-limited errors, a stall, a worker exit and the stop as pino-shaped JSON lines on stdout', async () => {
    const started = Date.now();
    const { child, out, err } = serve([
      '--port', '0', '--workers', '2', '--log', 'json', '--framing', 'line', '--max-frame', '64',
      '--handler', 'test/fixtures/probe-handler.mjs', '--stall-timeout', '200ms', '--max-connections-per-ip', '2', '--metrics', '0',
    ]);
    const seen = async (what: string, test: (l: Line) => boolean): Promise<Line> => {
      await until(() => lines(out()).some(test), 10_000, `${what} (stdout: ${out()} stderr: ${err()})`);
      return lines(out()).find(test)!;
    };
    const start = await seen('the listening line', l => l.msg.startsWith('listening on'));
    expect(start).toMatchObject({ level: 30, address: '127.0.0.1', workers: 2, framing: 'line', options: { 'max-frame': '64', log: 'json' } });
    expect(start.memory).toMatchObject({ maxConnections: 1024, slots: 2048, perWorker: true }); // as many slots again for quarantined connections
    const port = start.port as number;
    const url = start.metrics as string;
    // The per-address cap counts a connection until the server has closed it, which may be after the client saw it close.
    const allClosed = async () => {
      const end = Date.now() + 10_000;
      while (sum(read((await scrape(url)).body), 'ringwire_connections_active') > 0) {
        if (Date.now() > end) throw new Error('connections still open after 10 s');
        await new Promise(r => setTimeout(r, 10));
      }
    };

    // A refusal: a third connection from one address, over --max-connections-per-ip 2.
    const a = await connect(port);
    const b = await connect(port);
    expect(await ask(a, 'id')).toMatch(/\S/);
    expect(await ask(b, 'id')).toMatch(/\S/);
    await collect(await connect(port)).done;
    const refusal = await seen('the refusal', l => l.code === 'ERR_TOO_MANY_CONNECTIONS');
    expect(refusal).toMatchObject({ level: 40, refused: true, connection: null, remoteAddress: '127.0.0.1' });
    expect(refusal.remotePort).toEqual(expect.any(Number));
    a.destroy();
    b.destroy();
    await allClosed();

    // Bad frames, one connection each: 8 of one cause, of which the limiter writes 5.
    for (let i = 0; i < 8; i++) {
      expect(String(await roundTrip(port, Buffer.from(`${'x'.repeat(100)}\n`)))).toBe('');
      await allClosed();
    }
    await until(() => lines(out()).filter(l => l.code === 'ERR_FRAME_TOO_LARGE').length === 5, 10_000, 'five ERR_FRAME_TOO_LARGE lines');

    // A stall: a handler blocks its worker's event loop for 600 ms (--stall-timeout 200ms).
    const c = await connect(port);
    expect(await ask(c, 'block')).toBe('block\n');
    const stall = await seen('the stall', l => l.msg.startsWith('stall:'));
    expect(stall).toMatchObject({ level: 40, worker: expect.any(Number), threadId: expect.any(Number) });
    expect(stall.ms).toBeGreaterThan(200);

    // A worker crash: its connection is lost, the worker is replaced.
    c.write('crash\n');
    const exit = await seen('the worker exit', l => l.code === 'ERR_WORKER_EXIT');
    expect(exit).toMatchObject({ level: 50, worker: expect.any(Number), connections: 1, error: 'crash requested by the test' });
    await seen('the replacement', l => l.msg.includes('started again'));

    // The same story in the metrics, read from the workers' shared memory.
    const scraped = await scrape(url);
    expect(checkMetrics(scraped.body)).toEqual({ status: 0, output: '' });
    const m = read(scraped.body);
    expect(sum(m, 'ringwire_errors_total', { code: 'ERR_FRAME_TOO_LARGE' })).toBe(8);
    expect(sum(m, 'ringwire_errors_total', { code: 'ERR_TOO_MANY_CONNECTIONS' })).toBe(1);
    expect(sum(m, 'ringwire_connections_closed_total', { reason: 'ERR_WORKER_EXIT' })).toBe(1);
    expect(sum(m, 'ringwire_event_loop_stalls_total')).toBeGreaterThanOrEqual(1);
    expect(sum(m, 'ringwire_worker_restarts_total')).toBe(1);

    child.kill('SIGTERM');
    const [code] = await once(child, 'exit');
    expect(code).toBe(0);
    expect(err()).toBe('');
    const all = lines(out());
    // The limiter's summary, written at the stop: what it held back, as a field.
    expect(all.find(l => l.cause === 'ERR_FRAME_TOO_LARGE')).toMatchObject({ level: 40, suppressed: 3, window: 10_000 });
    expect(all.filter(l => l.code === 'ERR_FRAME_TOO_LARGE')).toHaveLength(5);
    expect(all.find(l => l.msg.startsWith('SIGTERM: draining'))).toMatchObject({ level: 30, signal: 'SIGTERM' });
    expect(all.at(-1)).toMatchObject({ level: 30, accepted: expect.any(Number), errorsByCode: { ERR_FRAME_TOO_LARGE: 8 } });
    for (const l of all) {
      expect([10, 20, 30, 40, 50, 60]).toContain(l.level);
      expect(l.time).toBeGreaterThanOrEqual(started);
      expect(l.time).toBeLessThanOrEqual(Date.now());
      expect(l).toMatchObject({ pid: child.pid, hostname: hostname(), name: 'ringwire', msg: expect.any(String) });
    }
  });
});

describe('ringwire serve --log silent and --log-level', () => {
  /** A free port in this suite's range (44000-44999): with --log silent nothing says which port 0 picked. */
  async function freePort(): Promise<number> {
    for (let i = 0; i < 50; i++) {
      const port = 44000 + Math.floor(Math.random() * 1000);
      const probe = net.createServer();
      const ok = await new Promise<boolean>(resolve => {
        probe.once('error', () => resolve(false));
        probe.listen(port, '127.0.0.1', () => resolve(true));
      });
      if (ok) {
        await new Promise(r => probe.close(r));
        return port;
      }
    }
    throw new Error('no free port in 44000-44999');
  }

  /** Nothing says the server listens: try the port until it answers. Sends 'ok' and a line over --max-frame 8. */
  async function okThenBad(port: number): Promise<string> {
    const end = Date.now() + 10_000;
    for (;;) {
      try {
        return String(await roundTrip(port, Buffer.from('ok\nmuch too long\n')));
      } catch (e) {
        if (Date.now() > end) throw e;
        await new Promise(r => setTimeout(r, 50));
      }
    }
  }

  it('--log silent prints nothing: not the start, not a bad frame, not the stop, not a failed start', async () => {
    const port = await freePort();
    const { child, out, err } = serve(['--port', String(port), '--log', 'silent', '--framing', 'line', '--max-frame', '8']);
    expect(await okThenBad(port)).toBe('ok\n'); // served, then closed for ERR_FRAME_TOO_LARGE
    child.kill('SIGTERM');
    expect((await once(child, 'exit'))[0]).toBe(0);
    expect(out()).toBe('');
    expect(err()).toBe('');
    const busy = spawnSync(process.execPath, ['dist/cli.js', 'serve', '--port', String(port), '--log', 'silent', '--framing', 'nonsense'], { encoding: 'utf8', timeout: 10_000 });
    expect(busy.status).toBe(2);
    expect(busy.stdout + busy.stderr).toBe('');
  });

  it('--log-level warn leaves out the info lines (start, stop); a failed start is one fatal line; a bad --log or --log-level is refused', async () => {
    const port = await freePort();
    const { child, out, err } = serve(['--port', String(port), '--log', 'json', '--log-level', 'warn', '--framing', 'line', '--max-frame', '8']);
    expect(await okThenBad(port)).toBe('ok\n');
    await until(() => out().includes('\n'), 10_000, 'the warn line');
    child.kill('SIGTERM');
    expect((await once(child, 'exit'))[0]).toBe(0);
    expect(err()).toBe('');
    expect(lines(out())).toEqual([expect.objectContaining({ level: 40, code: 'ERR_FRAME_TOO_LARGE', remoteAddress: '127.0.0.1' })]);
    const failed = spawnSync(process.execPath, ['dist/cli.js', 'serve', '--port', '0', '--log', 'json', '--framing', 'nonsense'], { encoding: 'utf8', timeout: 10_000 });
    expect(failed.status).toBe(2);
    expect(failed.stderr).toBe('');
    expect(lines(failed.stdout)).toEqual([expect.objectContaining({ level: 60, code: 'ERR_BAD_CONFIG', msg: expect.stringContaining('nonsense') })]);
    for (const [args, message] of [
      [['--log', 'xml'], '--log must be json, pretty, silent, got "xml"'],
      [['--log-level', 'loud'], '--log-level must be trace, debug, info, warn, error, fatal, got "loud"'],
    ] as const) {
      const r = spawnSync(process.execPath, ['dist/cli.js', 'serve', '--port', '0', ...args], { encoding: 'utf8', timeout: 10_000 });
      expect(r.status).toBe(2);
      expect(r.stderr).toBe(`ringwire: ${message} (ERR_BAD_CONFIG)\n`);
    }
  });
});
