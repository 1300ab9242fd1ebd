// Frames up to 64 MiB (issue 22, "Done when"), on real sockets and both cores: a
// length:4:be echo of a 64 MiB frame, every byte checked, while other connections keep
// echoing 64 B frames, every byte checked too (scripts/acceptance/big-frame.mjs runs it
// with 1,000 others, a real `ringwire serve`, and measures the stall); and
// `ringwire relay --framing line --max-frame 64m` in front of a real redis-server,
// driven by the real redis-cli: a 2 MB and a 50 MB value set and read back through the
// relay are the bytes Redis holds (read directly), and the relay's peak RSS stays under
// the bound it printed at start.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CORES, lengthFrame } from './harness.ts';
import { bystander, connect, errorCodes, startServer, until } from './net-helpers.ts';
import { killStarted, startCli } from './cli-process.ts';
import { startRedis, type RedisServer } from './redis-server.ts';

const MiB = 2 ** 20;

describe.each(CORES)('frames up to 64 MiB core=%s', core => {
  it('echoes a 64 MiB length:4:be frame byte for byte while 50 other connections keep echoing 64 B frames', async () => {
    const { server, port } = await startServer({ core, framing: 'length:4:be', maxFrame: 64 * MiB });
    const codes = errorCodes(server);
    const others = Array.from({ length: 50 }, () => bystander(port, undefined, 64));
    await until(() => server.stats().total.connections === 50, 20_000, 'the others connected');
    const frame = lengthFrame(randomBytes(64 * MiB));
    const socket = await connect(port);
    const parts: Buffer[] = [];
    let have = 0;
    const echoed = new Promise<void>(resolve => socket.on('data', (d: Buffer) => {
      parts.push(d);
      if ((have += d.length) >= frame.length) resolve();
    }));
    socket.write(frame);
    await echoed;
    socket.destroy();
    expect(Buffer.concat(parts).equals(frame)).toBe(true);
    const trips = await Promise.all(others.map(o => o.stop())); // each rejects if an echo differed
    expect(trips.every(n => n > 0)).toBe(true);
    expect(codes).toEqual([]);
    await server.close();
  }, 120_000);
});

/** Run redis-cli with these arguments (stdin from a file, or none); its stdout as bytes. */
async function redisCli(args: string[], stdinFile?: string): Promise<Buffer> {
  const child = spawn('redis-cli', args, { stdio: [stdinFile ? 'pipe' : 'ignore', 'pipe', 'inherit'] });
  if (stdinFile) child.stdin!.end(readFileSync(stdinFile));
  const out: Buffer[] = [];
  child.stdout!.on('data', (d: Buffer) => out.push(d));
  const [code] = await once(child, 'close');
  if (code !== 0) throw new Error(`redis-cli ${args.join(' ')} exited with ${code}`);
  return Buffer.concat(out);
}

const hwmKiB = (pid: number) => Number(/VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]);

describe('ringwire relay --framing line --max-frame 64m in front of Redis', () => {
  let redis: RedisServer;
  const dir = mkdtempSync(join(tmpdir(), 'ringwire-big-'));
  // Base64 text: a value redis-cli --raw prints back as it is, plus its newline.
  const values = { '2 MB': randomBytes(1_500_000).toString('base64'), '50 MB': randomBytes(37_500_000).toString('base64') };
  beforeAll(async () => {
    redis = await startRedis();
    for (const [name, v] of Object.entries(values)) writeFileSync(join(dir, name), v);
  });
  afterAll(async () => {
    await redis?.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  afterEach(() => killStarted());

  it.each(CORES)('core=%s: redis-cli sets and gets a 2 MB and a 50 MB value through the relay, byte for byte, its RSS under the printed bound', async core => {
    const relay = startCli(['relay', '--core', core, '--framing', 'line', '--max-frame', '64m', '--port', '0', '--upstream', `127.0.0.1:${redis.port}`]);
    await until(() => /listening on [^ ]*?:\d+/.test(relay.out() + relay.err()), 20_000, 'the relay listening');
    const started = relay.out() + relay.err();
    const port = /listening on [^ ]*?:(\d+)/.exec(started)![1]!;
    const bound = Number(/memory=([\d.]+) MiB at most/.exec(started)![1]);
    for (const [name, value] of Object.entries(values)) {
      const key = `big:${core}:${name}`;
      expect(String(await redisCli(['-p', port, '-x', 'SET', key], join(dir, name))).trim()).toBe('OK');
      const through = await redisCli(['-p', port, '--raw', 'GET', key]);
      const direct = await redisCli(['-p', String(redis.port), '--raw', 'GET', key]);
      expect(direct.equals(Buffer.from(`${value}\n`))).toBe(true);
      expect(through.equals(direct)).toBe(true);
    }
    const peakMiB = hwmKiB(relay.child.pid!) / 1024;
    expect(peakMiB).toBeLessThan(bound);
    relay.child.kill('SIGTERM');
    await once(relay.child, 'exit');
  }, 240_000);
});
