// The command line as a user runs it: the built bundle in its own process.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { afterEach, describe, expect, it } from 'vitest';
import { roundTrip } from './net-helpers.ts';
import { lengthFrame } from './harness.ts';

const cli = (args: string[]) => spawnSync(process.execPath, ['dist/cli.js', ...args], { encoding: 'utf8', timeout: 10_000 });

/** `ringwire serve` in a child process; killed after the test even when an assertion failed. */
const running = new Set<ChildProcess>();
function serve(args: string[]) {
  const child = spawn(process.execPath, ['dist/cli.js', 'serve', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  running.add(child);
  child.once('exit', () => running.delete(child));
  return child;
}
afterEach(() => {
  for (const child of running) child.kill('SIGKILL');
});

describe('ringwire CLI', () => {
  it('documents every serve option in --help', () => {
    const r = cli(['serve', '--help']);
    expect(r.status).toBe(0);
    for (const o of ['--host', '--port', '--unix', '--core', '--framing', '--max-connections', '--max-frame', '--rx-ring', '--tx-ring', '--idle-timeout', '--write-timeout', '--handler-timeout', '--concurrency', '--max-queued', '--max-queued-total', '--drain-timeout', '--backlog', '--keepalive', '--no-nodelay', '--copy', '--handler', '--workers', '--balance', '--stats-interval', '--metrics', '--log', '--log-level',
      '--tls-cert', '--tls-key', '--tls-ca', '--tls-request-cert', '--tls-handshake-timeout', '--upstream-tls', '--upstream-ca']) {
      expect(r.stdout).toContain(o);
    }
  });

  it('exits 2 with the error code on bad options', () => {
    const r = cli(['serve', '--framing', 'length:5']);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('ERR_BAD_CONFIG');
    expect(cli(['serve', '--core', 'gpu']).status).toBe(2);
    expect(cli(['frobnicate']).status).toBe(2);
    for (const [args, message] of [
      [['--workers', '0'], /--workers must be a whole number of at least 1/],
      [['--max-connections', '1k'], /--max-connections must be a whole number of at least 1, got "1k"/], // a count, not a size
      [['--workers', '2', '--balance', 'roundrobin'], /balance must be reuseport or transfer/],
      [['--balance', 'reuseport'], /--balance shares the port between worker threads/],
      [['--handler', 'no-such-handler.mjs'], /cannot import handler module no-such-handler\.mjs/],
      [['--stats-interval', 'often'], /--stats-interval must be a duration/],
      [['--idle-timeout', '30'], /--idle-timeout needs a unit: write 30s for seconds or 30ms for milliseconds/],
      [['--handler-timeout', '30'], /--handler-timeout needs a unit: write 30s for seconds or 30ms for milliseconds/],
      [['--concurrency', '0'], /concurrency must be a whole number/],
      [['--concurrency', '65537'], /concurrency must be a whole number from 1 to 65536, got 65537/],
      [['--stats-interval', '1'], /--stats-interval needs a unit/],
      [['--metrics', 'somewhere'], /--metrics must be host:port \(an IPv6 host in brackets\) or a port, got "somewhere"/],
    ] as const) {
      const bad = cli(['serve', '--port', '0', ...args]);
      expect(bad.status).toBe(2);
      expect(bad.stderr).toMatch(message);
      expect(bad.stderr).toContain('ERR_BAD_CONFIG');
    }
  });

  it('prints one line and exits 2 on every start-up failure: busy port, bad host, one thread or workers', async () => {
    const { createServer } = await import('../src/index.ts');
    const busy = createServer({});
    const { port } = await busy.listen(0);
    for (const args of [['--port', String(port)], ['--port', String(port), '--workers', '2'], ['--port', '0', '--host', 'no-such-host.invalid']]) {
      const r = cli(['serve', ...args]);
      expect(r.status, args.join(' ')).toBe(2);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(/^ringwire: .*\((EADDRINUSE|ENOTFOUND|EAI_AGAIN|ERR_BAD_CONFIG)\)\n$/);
      expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
    }
    await busy.close();
  });

  it('takes durations with a unit, hours included', async () => {
    const child = serve(['--port', '0', '--idle-timeout', '1h', '--write-timeout', '0s']);
    const [line] = await once(child.stdout.setEncoding('utf8'), 'data') as [string];
    expect(line).toMatch(/^ringwire listening/);
    child.kill('SIGTERM');
    expect((await once(child, 'exit'))[0]).toBe(0);
  });

  it('says which values an option takes, for a value joined (--port=-1) or apart (--port -1)', () => {
    const port = '--port must be a whole number from 0 to 65535 (0 picks a free port), got';
    const bytes = '--max-frame must be a number of bytes like 65536, 64k or 1m, got';
    for (const [args, message] of [
      [['--port', ''], `${port} ""`], // once read as port 0: it listened on a random port
      [['--port', '-1'], `${port} "-1"`], // once refused by parseArgs as "ambiguous"
      [['--port=-1'], `${port} "-1"`],
      [['--port', '65536'], `${port} "65536"`],
      [['--port', '0x10'], `${port} "0x10"`],
      [['--port', '0', '--max-frame', '-5'], `${bytes} "-5"`],
      [['--port', '0', '--max-frame=-5'], `${bytes} "-5"`],
      [['--port', '0', '--framing', 'delimiter:\\xZZ'], 'bad framing "delimiter:\\xZZ": \\x needs two hex digits (\\x00 to \\xff), got "ZZ"'],
    ] as const) {
      const r = cli(['serve', ...args]);
      expect(r.status, args.join(' ')).toBe(2);
      expect(r.stderr).toBe(`ringwire: ${message} (ERR_BAD_CONFIG)\n`);
    }
  });

  it('relays through 2 worker threads to a key-value backend, as the README shows', async () => {
    const listening = async (child: ReturnType<typeof serve>) => {
      const [line] = await once(child.stdout!.setEncoding('utf8'), 'data') as [string];
      expect(line).toMatch(/^ringwire listening/);
      return { line, port: Number(/:(\d+) /.exec(line)![1]) };
    };
    const backend = await listening(serve(['--port', '0', '--framing', 'line', '--handler', 'examples/kv-store.mjs']));
    const relay = spawn(process.execPath, ['dist/cli.js', 'relay', '--port', '0', '--framing', 'line', '--workers', '2', '--upstream', `127.0.0.1:${backend.port}`], { stdio: ['ignore', 'pipe', 'pipe'] });
    running.add(relay);
    const front = await listening(relay);
    expect(front.line).toContain(`upstream=127.0.0.1:${backend.port}`);
    // Two clients through (maybe) different relay threads share the one backend's store.
    expect(String(await roundTrip(front.port, Buffer.from('SET k v\nQUIT\n')))).toBe('OK\nBYE\n');
    expect(String(await roundTrip(front.port, Buffer.from('GET k\n')))).toBe('v\n');
    const bad = cli(['relay', '--port', '0']);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/relay needs --upstream <host:port>.*ERR_BAD_CONFIG/);
  });

  it('serves from 2 worker threads and prints a stats line per interval', async () => {
    const child = serve(['--port', '0', '--workers', '2', '--framing', 'length:2:be', '--stats-interval', '200ms']);
    child.stdout.setEncoding('utf8');
    const lines: string[] = [];
    let rest = '';
    const seen = (re: RegExp) => new Promise<string>((resolve, reject) => {
      const look = () => { const l = lines.find(x => re.test(x)); if (l) resolve(l); };
      child.stdout.on('data', look);
      look();
      setTimeout(() => reject(new Error(`no line like ${re}: ${lines.join(' | ')}`)), 10_000);
    });
    child.stdout.on('data', (d: string) => {
      rest += d;
      const parts = rest.split('\n');
      rest = parts.pop()!;
      lines.push(...parts);
    });
    const listening = await seen(/^ringwire listening/);
    expect(listening).toMatch(/workers=2 balance=(?:transfer|reuseport) memory=[\d.]+ MiB .* per worker$/);
    const port = Number(/:(\d+) /.exec(listening)![1]);
    const frame = lengthFrame(Buffer.from('two threads'), { size: 2 });
    expect((await roundTrip(port, frame)).equals(frame)).toBe(true);
    expect(await seen(/^ringwire: 0 connections \(0\+0\), 0 frames\/s in/)).toContain('0 errors, 0 backpressure pauses');
    child.kill('SIGTERM');
    const [exitCode] = await once(child, 'exit');
    expect(exitCode).toBe(0);
  });

  it('serves, prints one listening line, and drains on SIGTERM', async () => {
    const child = serve(['--port', '0', '--core', 'js', '--framing', 'length:2:be', '--max-frame', '1k']);
    let out = '';
    child.stdout.setEncoding('utf8');
    const line = await new Promise<string>((resolve, reject) => {
      child.stdout.on('data', (d: string) => {
        out += d;
        if (out.includes('\n')) resolve(out.trim());
      });
      child.once('exit', () => reject(new Error(`exited early: ${out}`)));
      setTimeout(() => reject(new Error('no listening line')), 10_000);
    });
    expect(line).toMatch(/^ringwire listening on 127\.0\.0\.1:\d+ core=js framing=length:2:be memory=[\d.]+ MiB at most \([\d.]+ MiB of process baseline \+ [\d.]+ MiB of rings for 1024 connections x \(64k rx \+ 64k tx\) \+ 32\.0 MiB of connection state \+ [\d.]+ MiB of queued replies\)$/);
    const port = Number(/:(\d+) /.exec(line)![1]);
    const frame = lengthFrame(Buffer.from('cli'), { size: 2 });
    expect((await roundTrip(port, frame)).equals(frame)).toBe(true);
    child.kill('SIGTERM');
    const [exitCode] = await once(child, 'exit');
    expect(exitCode).toBe(0);
  });
});
