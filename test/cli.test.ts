// The command line as a user runs it: the built bundle in its own process, for what
// only a process shows (exit codes, what reaches stdout and stderr, signals, a server
// that listens); and every refusal of a serve or relay flag through parseServeArgs()
// (src/serve-args.ts, what the CLI runs before anything starts) in this process, its
// one line exactly as the CLI prints it (`ringwire: <message> (<code>)`, exit 2: the
// process runs below check that wiring on one refusal of each kind).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { collect, connect, roundTrip, sleep } from './net-helpers.ts';
import { lengthFrame } from './harness.ts';
import { refusal, runCli } from './cli-process.ts';
import { parseServeArgs } from '../src/serve-args.ts';

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
      '--tls-cert', '--tls-key', '--tls-ca', '--tls-request-cert', '--tls-handshake-timeout', '--upstream-tls', '--upstream-ca', '--upstream-connect-timeout']) {
      expect(r.stdout).toContain(o);
    }
  });

  it('exits 2 with the error code on bad options', async () => {
    // In processes: a framing the core refuses, an unknown command, and a handler module that does not import (at start, not parsing).
    const [r, frobnicate, handler] = await Promise.all([['serve', '--framing', 'length:5'], ['frobnicate'], ['serve', '--port', '0', '--handler', 'no-such-handler.mjs']].map(a => runCli(a)));
    expect(r!.status).toBe(2);
    expect(r!.stderr).toContain('ERR_BAD_CONFIG');
    expect(frobnicate!.status).toBe(2);
    expect(handler!.status).toBe(2);
    expect(handler!.stderr).toMatch(/cannot import handler module no-such-handler\.mjs/);
    expect(handler!.stderr).toContain('ERR_BAD_CONFIG');
    expect(await refusal(['serve', '--core', 'gpu'])).toContain('(ERR_BAD_CONFIG)');
    const cases = [
      [['--workers', '0'], /--workers must be a whole number of at least 1/],
      [['--max-connections', '1k'], /--max-connections must be a whole number of at least 1, got "1k"/], // a count, not a size
      [['--workers', '2', '--balance', 'roundrobin'], /balance must be reuseport or transfer/],
      [['--balance', 'reuseport'], /--balance shares the port between worker threads/],
      [['--stats-interval', 'often'], /--stats-interval must be a duration/],
      [['--idle-timeout', '30'], /--idle-timeout needs a unit: write 30s for seconds or 30ms for milliseconds/],
      [['--handler-timeout', '30'], /--handler-timeout needs a unit: write 30s for seconds or 30ms for milliseconds/],
      [['--concurrency', '0'], /concurrency must be a whole number/],
      [['--concurrency', '65537'], /concurrency must be a whole number from 1 to 65536, got 65537/],
      [['--stats-interval', '1'], /--stats-interval needs a unit/],
      [['--metrics', 'somewhere'], /--metrics must be host:port \(an IPv6 host in brackets\) or a port, got "somewhere"/],
    ] as const;
    for (const [args, message] of cases) {
      const line = await refusal(['serve', '--port', '0', ...args]);
      expect(line).toMatch(message);
      expect(line).toContain('ERR_BAD_CONFIG');
    }
  });

  it('prints one line and exits 2 on every start-up failure: busy port, bad host, one thread or workers', async () => {
    const { createServer } = await import('../src/index.ts');
    const busy = createServer({});
    const { port } = await busy.listen(0);
    const cases = [['--port', String(port)], ['--port', String(port), '--workers', '2'], ['--port', '0', '--host', 'no-such-host.invalid']];
    const runs = await Promise.all(cases.map(args => runCli(['serve', ...args])));
    for (const [i, args] of cases.entries()) {
      const r = runs[i]!;
      expect(r.status, args.join(' ')).toBe(2);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(/^ringwire: .*\((EADDRINUSE|ENOTFOUND|EAI_AGAIN|ERR_BAD_CONFIG)\)\n$/);
      expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
    }
    await busy.close();
  });

  it('takes durations with a unit, hours included', async () => {
    // A server started with such values (576h, 0s): 'starts with every limit at its edge' below.
    const plan = await parseServeArgs(['--port', '0', '--idle-timeout', '1h', '--write-timeout', '0s']);
    expect(plan.help).toBe(false);
    expect(plan.help === false && plan.common).toMatchObject({ idleTimeout: 3_600_000, writeTimeout: 0 });
  });

  it('--close-timeout is the WebSocket close wait (closeTimeout), 1 ms at least', async () => {
    const args = ['--port', '0', '--framing', 'websocket', '--handler', 'src/bench/echo-handler-websocket.ts'];
    for (const [v, ms] of [['2s', 2000], ['1ms', 1], ['576h', 576 * 3_600_000]] as const) {
      const plan = await parseServeArgs([...args, '--close-timeout', v]);
      expect(plan.help === false && plan.common.closeTimeout).toBe(ms);
    }
  });

  it('says which values an option takes, for a value joined (--port=-1) or apart (--port -1)', async () => {
    const port = '--port must be a whole number from 0 to 65535 (0 picks a free port), got';
    const bytes = '--max-frame must be a number of bytes like 65536, 64k, 1m or 2g, got';
    const cases = [
      [['--port', ''], `${port} ""`], // once read as port 0: it listened on a random port
      [['--port', '-1'], `${port} "-1"`], // once refused by parseArgs as "ambiguous"
      [['--port=-1'], `${port} "-1"`],
      [['--port', '65536'], `${port} "65536"`],
      [['--port', '0x10'], `${port} "0x10"`],
      [['--port', '0', '--max-frame', '-5'], `${bytes} "-5"`],
      [['--port', '0', '--max-frame=-5'], `${bytes} "-5"`],
      [['--port', '0', '--framing', 'delimiter:\\xZZ'], 'bad framing "delimiter:\\xZZ": \\x needs two hex digits (\\x00 to \\xff), got "ZZ"'],
    ] as const;
    for (const [args, message] of cases) expect(await refusal(['serve', ...args]), args.join(' ')).toBe(`ringwire: ${message} (ERR_BAD_CONFIG)\n`);
    // What the process prints and its exit code, for one of them.
    const r = await runCli(['serve', '--port', '-1']);
    expect(r.status).toBe(2);
    expect(r.stderr).toBe(`ringwire: ${port} "-1" (ERR_BAD_CONFIG)\n`);
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
    expect(await refusal(['relay', '--port', '0'])).toMatch(/relay needs --upstream <host:port>.*ERR_BAD_CONFIG/);
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
    expect(line).toMatch(/^ringwire listening on 127\.0\.0\.1:\d+ core=js framing=length:2:be memory=[\d.]+ MiB at most \([\d.]+ MiB of process baseline \+ [\d.]+ MiB of ring pool for 1024 connections, rings of 1k to 64k rx and 64k tx \+ 40\.0 MiB of connection state \+ [\d.]+ MiB of queued replies\)$/);
    const port = Number(/:(\d+) /.exec(line)![1]);
    const frame = lengthFrame(Buffer.from('cli'), { size: 2 });
    expect((await roundTrip(port, frame)).equals(frame)).toBe(true);
    child.kill('SIGTERM');
    const [exitCode] = await once(child, 'exit');
    expect(exitCode).toBe(0);
  });
});

describe('ringwire CLI: values it cannot honour', () => {
  // Each refused before anything starts, with exit 2 and one line naming the flag and what it takes.
  // [command and flags, the line], each through parseServeArgs() (a DNS lookup among them: concurrent).
  it.concurrent.each([
    [['serve', '--drain-timeout', '600h'], '--drain-timeout must be a duration from 0s to 576h, got 600h'], // once: setTimeout overflowed, destroyed at once
    [['serve', '--stats-interval', '600h'], '--stats-interval must be a duration from 100ms to 576h, got 600h'], // once: a line per ms
    [['serve', '--stats-interval', '99ms'], '--stats-interval must be a duration from 100ms to 576h, got 99ms'],
    [['serve', '--stats-interval', '1ms'], '--stats-interval must be a duration from 100ms to 576h, got 1ms'], // the value
    [['serve', '--idle-timeout', '577h'], '--idle-timeout must be a duration from 1ms to 576h (0s: off), got 577h'],
    [['serve', '--handler-timeout', '577h'], '--handler-timeout must be a duration from 1ms to 576h (0s: off), got 577h'],
    [['serve', '--stall-timeout', '99ms'], '--stall-timeout must be a duration from 100ms to 576h (0s: off), got 99ms'],
    [['serve', '--close-timeout', '0s'], '--close-timeout must be a duration from 1ms to 576h, got 0s'],
    [['serve', '--close-timeout', '577h'], '--close-timeout must be a duration from 1ms to 576h, got 577h'],
    [['serve', '--workers', '2', '--stall-restart', '199ms'], '--stall-restart must be a duration from 200ms to 576h (0s: off), got 199ms'],
    [['serve', '--workers', '2', '--stall-restart', '1ms'], '--stall-restart must be a duration from 200ms to 576h (0s: off), got 1ms'], // the value
    [['serve', '--stall-restart', '2s'], '--stall-restart replaces a stalled worker: give --workers 2 or more (or auto)'],
    [['serve', '--keepalive', '500ms'], '--keepalive must be 0s (off) or the idle time before the first probe, 1s to 32767s (whole seconds), got 500ms'],
    [['serve', '--min-rate', '500/99ms'], '--min-rate (its window) must be a duration from 100ms to 576h, got 99ms'],
    [['serve', '--host', ''], '--host must be a host name or an address (0.0.0.0 or :: for every interface), got ""'], // once: every interface
    [['serve', '--max-queued', '0'], '--max-queued must be a whole number from 1 to 4294967296 bytes, got 0'],
    [['serve', '--max-reply', '0'], '--max-reply must be a whole number from 1 to 4294967296 bytes, got 0'],
    [['serve', '--max-queued-total', '1'], '--max-queued-total (1) must be at least --max-queued (262144, 4 tx rings of 65536): one connection\'s queue must fit in the budget of all'],
    [['serve', '--max-queued-total', '255k'], '--max-queued-total (261120) must be at least --max-queued (262144, 4 tx rings of 65536): one connection\'s queue must fit in the budget of all'],
    [['relay', '--upstream', '127.0.0.1:0'], '--upstream (its port) must be a whole number from 1 to 65535, got 0'],
    [['relay', '--upstream', 'no.such.host.invalid:80'], /^--upstream \(its host\): "no\.such\.host\.invalid" does not resolve \((ENOTFOUND|EAI_AGAIN)\)$/],
    [['relay', '--upstream', '127.0.0.1:1', '--upstream-connect-timeout', '0s'], '--upstream-connect-timeout must be a duration from 1ms to 576h, got 0s'],
    [['relay', '--upstream', '127.0.0.1:1', '--upstream-connect-timeout', '577h'], '--upstream-connect-timeout must be a duration from 1ms to 576h, got 577h'],
    [['serve', '--upstream-connect-timeout', '1s'], '--upstream-tls, --upstream-ca and --upstream-connect-timeout are for a relay: give --upstream <host:port> or unix:<path>'],
  ] as [string[], string | RegExp][])('%j', async (args, line) => {
    const [message, ...more] = (await refusal([...args, '--port', '0'])).trim().split('\n');
    expect(more).toEqual([]);
    const text = /^ringwire: (.*) \(ERR_BAD_CONFIG\)$/.exec(message!)?.[1];
    if (typeof line === 'string') expect(text).toBe(line);
    else expect(text).toMatch(line);
  });

  it('names the flag a misspelt one was meant to be', async () => {
    expect(await refusal(['serve', '--idle-timout', '5s'])).toBe('ringwire: unknown option --idle-timout: did you mean --idle-timeout? (ringwire serve --help lists them) (ERR_BAD_CONFIG)\n');
  });

  it('starts with every limit at its edge, and prints a stats line every 100 ms', async () => {
    const child = serve(['--port', '0', '--drain-timeout', '576h', '--idle-timeout', '576h', '--write-timeout', '0s', '--stats-interval', '100ms', '--keepalive', '32767s',
      '--max-queued', '256k', '--max-queued-total', '256k', '--max-reply', '1', '--stall-timeout', '100ms']);
    child.stdout.setEncoding('utf8');
    let out = '';
    child.stdout.on('data', (d: string) => (out += d));
    await new Promise<void>((resolve, reject) => {
      const look = setInterval(() => {
        if (out.split('\n').filter(l => /^ringwire: 0 connections/.test(l)).length >= 2) {
          clearInterval(look);
          resolve();
        }
      }, 20);
      child.once('exit', code => reject(new Error(`exited ${code}: ${out}`)));
    });
    expect(out).toMatch(/^ringwire listening on 127\.0\.0\.1:\d+ /);
    child.kill('SIGTERM');
    expect((await once(child, 'exit'))[0]).toBe(0);
  });

  it('exits 2 saying so when the handler module\'s top-level await can never settle (once: exit 0, silently)', async () => {
    // One thread, and each worker thread importing it from a URL: two processes side by side.
    const [r, workers] = await Promise.all([[], ['--workers', '2']].map(more => runCli(['serve', '--port', '0', ...more, '--handler', 'test/fixtures/never-loads.mjs'])));
    expect(r!.status).toBe(2);
    expect(r!.stderr).toBe('ringwire: handler module test/fixtures/never-loads.mjs never finished loading: its top-level await waits on something that can no longer settle (ERR_BAD_CONFIG)\n');
    // Each worker thread imports it from a URL: still named as a path (it said file:///…).
    expect(workers!.status).toBe(2);
    expect(workers!.stderr).toBe(`ringwire: handler module ${path.resolve('test/fixtures/never-loads.mjs')} never finished loading: its top-level await waits on something that can no longer settle (ERR_BAD_CONFIG)\n`);
  });
});

describe('ringwire relay --upstream-connect-timeout', () => {
  it('gives up an upstream connection that does not complete after the time given (once: 10 s, no flag), closing its client', async () => {
    // An upstream whose accept queue is full: a listener with backlog 1 whose event loop is blocked takes
    // two connections into the kernel's queue and drops the SYNs after them, so those connects hang.
    const upstream = spawn(process.execPath, ['-e', `
      const s = require('node:net').createServer().listen({ port: 0, host: '127.0.0.1', backlog: 1 }, () => {
        console.log(s.address().port);
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20000);
      });`], { stdio: ['ignore', 'pipe', 'inherit'] });
    running.add(upstream);
    const [portLine] = await once(upstream.stdout!.setEncoding('utf8'), 'data') as [string];
    const relay = spawn(process.execPath, ['dist/cli.js', 'relay', '--port', '0', '--framing', 'line', '--upstream', `127.0.0.1:${portLine.trim()}`, '--upstream-connect-timeout', '500ms'], { stdio: ['ignore', 'pipe', 'pipe'] });
    running.add(relay);
    const [line] = await once(relay.stdout!.setEncoding('utf8'), 'data') as [string];
    const port = Number(/:(\d+) /.exec(line)![1]);
    const closeAfter = async () => {
      const socket = await connect(port);
      const opened = performance.now();
      await collect(socket).done;
      return performance.now() - opened;
    };
    const first = [await connect(port), await connect(port)]; // their upstream connections fill the queue
    await sleep(300);
    const ms = await Promise.race([closeAfter(), sleep(5000).then(() => Infinity)]);
    expect(ms).toBeGreaterThanOrEqual(400);
    expect(ms).toBeLessThan(5000);
    for (const s of first) s.destroy();
  });
});
