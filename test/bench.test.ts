// The load generator's verification against real servers on 127.0.0.1 (it must
// catch a corrupted byte, a lost byte and a dropped connection), and one tiny
// end-to-end `ringwire bench` run: every contender present, nothing failed.
import { afterEach, describe, expect, it } from 'vitest';
import net from 'node:net';
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { LoadGenerator, type LoadOptions } from '../src/bench/load-generator.ts';
import type { BenchReport } from '../src/bench/bench-report.ts';
import { startServer } from './net-helpers.ts';

const closers: (() => void)[] = [];

/** Is pid a running process (not gone, not a zombie)? */
function alive(pid: number): boolean {
  try {
    return !/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, 'utf8'));
  } catch {
    return false;
  }
}
afterEach(() => { while (closers.length) closers.pop()!(); });

/** A raw echo server that passes each chunk through `change` first. */
async function echoServer(change: (d: Buffer, socket: net.Socket) => Buffer | null): Promise<number> {
  const server = net.createServer({ noDelay: true }, s => {
    s.on('data', d => { const out = change(d, s); if (out) s.write(out); });
    s.on('error', () => {});
  });
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve));
  closers.push(() => server.close());
  return (server.address() as net.AddressInfo).port;
}

async function load(port: number, over: Partial<LoadOptions> = {}) {
  const g = new LoadGenerator({ host: '127.0.0.1', port, connections: 4, frameBytes: 64, depth: 8, framing: 'length:4:be', drainTimeout: 500, ...over });
  await g.start();
  g.measure();
  await new Promise(r => setTimeout(r, 200));
  return g.stop();
}

describe('load generator', () => {
  it('verifies a ringwire server: frames echoed, none lost, latencies recorded', async () => {
    const { server, port } = await startServer({ framing: 'length:4:be' });
    closers.push(() => void server.close());
    const r = await load(port);
    expect([r.mismatches, r.shortReads, r.errors]).toEqual([0, 0, 0]);
    expect(r.frames).toBeGreaterThan(0);
    expect(r.latency.count).toBe(r.frames);
    expect(r.bytes).toBe(r.frames * 64);
    expect(server.stats().total.framesIn).toBeGreaterThanOrEqual(r.frames);
  });

  it('counts a changed byte as a mismatch', async () => {
    let n = 0;
    const port = await echoServer(d => { if (++n === 50) d[d.length - 1]! ^= 1; return d; });
    const r = await load(port);
    expect(r.mismatches).toBe(1);
  });

  it('counts frames that never come back as short reads', async () => {
    let n = 0;
    const port = await echoServer(d => (++n === 50 ? d.subarray(0, d.length - 1) : d)); // loses one byte
    const r = await load(port);
    expect(r.mismatches).toBeGreaterThan(0); // everything after the lost byte is shifted
    expect(r.shortReads).toBeGreaterThan(0);
  });

  it('counts a connection the server drops as an error', async () => {
    let n = 0;
    const port = await echoServer((d, s) => { if (++n === 50) { s.destroy(); return null; } return d; });
    const r = await load(port);
    expect(r.errors).toBe(1);
    expect(r.errorMessages[0]).toMatch(/server closed the connection|ECONNRESET/);
  });
});

describe('ringwire bench, end to end', () => {
  it('runs a tiny matrix with every contender and an external server, all verified', () => {
    const out = mkdtempSync(path.join(os.tmpdir(), 'ringwire-bench-'));
    const args = [
      'dist/cli.js', 'bench', '--connections', '3', '--frame-sizes', '64,1k', '--depth', '1,4',
      '--duration', '250ms', '--warmup', '100ms', '--rounds', '1', '--micro-duration', '5ms',
      '--external', `plain=${process.execPath} dist/plain-echo.js data {port}`, '--out', out,
    ];
    const r = spawnSync(process.execPath, args, { encoding: 'utf8', timeout: 90_000 });
    expect(r.stderr).not.toMatch(/FAILED/);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('3 conn · 1 KiB · depth 4 · framing length:4:be');
    const files = readdirSync(out);
    expect(files.filter(f => f.endsWith('.html'))).toHaveLength(1);
    const report = JSON.parse(readFileSync(path.join(out, files.find(f => f.endsWith('.json'))!), 'utf8')) as BenchReport;
    expect(report.ok).toBe(true);
    const names = ['ringwire-wasm', 'ringwire-js', 'node-data', 'node-onread', 'plain'];
    expect(report.settings.contenders).toEqual(names);
    expect(report.summaries).toHaveLength(4);
    for (const s of report.summaries) expect(s.contenders.map(c => c.contender)).toEqual(names);
    expect(report.samples).toHaveLength(4 * 5);
    for (const s of report.samples) {
      expect(s.failure).toBeUndefined();
      expect([s.mismatches, s.shortReads, s.errors]).toEqual([0, 0, 0]);
      expect(s.frames).toBeGreaterThan(0);
      expect(s.serverPeakRss).toBeGreaterThan(1024 * 1024); // read from /proc for the server's own pid
    }
    expect(report.micro!.rows.map(x => x.subject)).toContain('memcpy');
    expect(report.micro!.rows).toHaveLength(6 * 2 * 3);
    expect(report.machine.wasmHash).toMatch(/^[0-9a-f]{16}$/);
  }, 120_000);

  it('stops on Ctrl-C and takes its servers and generators with it', async () => {
    const child = spawn(process.execPath, ['dist/cli.js', 'bench', '--connections', '2', '--frame-sizes', '64', '--duration', '5s', '--suite', 'sockets', '--out', os.tmpdir()], { stdio: ['ignore', 'ignore', 'pipe'] });
    // Wait until a server and a generator are running under the bench process.
    const started = Date.now();
    let kids: number[] = [];
    while (kids.length < 2 && Date.now() - started < 15_000) {
      await new Promise(r => setTimeout(r, 100));
      kids = readFileSync(`/proc/${child.pid}/task/${child.pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
    }
    expect(kids.length).toBeGreaterThanOrEqual(2);
    const exited = once(child, 'exit');
    child.kill('SIGINT');
    const [code] = await exited;
    expect(code).toBe(130);
    await new Promise(r => setTimeout(r, 300));
    for (const pid of kids) expect(alive(pid)).toBe(false);
  }, 30_000);

  it('refuses bad options with ERR_BAD_CONFIG and exit status 2', () => {
    const bad = (...a: string[]) => spawnSync(process.execPath, ['dist/cli.js', 'bench', ...a], { encoding: 'utf8', timeout: 10_000 });
    for (const [args, message] of [
      [['--contenders', 'nginx'], /unknown "nginx"/],
      [['--framing', 'fixed:100'], /no 64-byte frame for framing fixed:100/],
      [['--external', 'x=cat'], /must listen on \{port\}/],
      [['--baseline', 'nope'], /--baseline nope is not among/],
      [['--rounds', '0'], /--rounds must be a whole number/],
      [['--rounds', '-1'], /--rounds must be a whole number of at least 1, got "-1"/],
      [['--suite', 'disk'], /--suite takes sockets/],
    ] as const) {
      const r = bad(...args);
      expect(r.status).toBe(2);
      expect(r.stderr).toMatch(message);
      expect(r.stderr).toContain('ERR_BAD_CONFIG');
    }
  });
});
