// `ringwire serve --profile DIR` and `--perf-map` as a user runs them: the built
// CLI in its own process on 127.0.0.1, a few seconds of pipelined load from this
// process (every echoed byte counted), SIGTERM, then the profiles it left and
// `ringwire profile-report` on them.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { CpuProfile } from '../src/profile/cpu-profile.ts';
import { byThread } from '../src/profile/profile-report.ts';

const dirs: string[] = [];
const children: ChildProcess[] = [];
afterAll(() => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** Start `ringwire serve` with args; resolves with its port once it prints its listening line. */
async function serve(args: string[]): Promise<{ child: ChildProcess; port: number; stderr: () => string }> {
  const child = spawn(process.execPath, ['dist/cli.js', 'serve', '--port', '0', '--framing', 'length:4:be', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let out = '';
  let err = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
  child.stdout!.setEncoding('utf8');
  const line = await new Promise<string>((resolve, reject) => {
    child.stdout!.on('data', (d: string) => {
      out += d;
      const l = out.split('\n').find(x => x.startsWith('ringwire listening'));
      if (l) resolve(l);
    });
    child.once('exit', () => reject(new Error(`exited early: ${out} ${err}`)));
    setTimeout(() => reject(new Error(`no listening line: ${out} ${err}`)), 10_000);
  });
  return { child, port: Number(/:(\d+) /.exec(line)![1]), stderr: () => err };
}

/** Connections that each keep 32 frames of 64 bytes in flight for ms; returns the bytes echoed. */
async function load(port: number, ms: number, connections = 8): Promise<{ sent: number; echoed: number }> {
  const frame = Buffer.alloc(64, 7);
  frame.writeUInt32BE(60, 0);
  const batch = Buffer.concat(Array.from({ length: 32 }, () => frame));
  const end = Date.now() + ms;
  let sent = 0;
  let echoed = 0;
  await Promise.all(Array.from({ length: connections }, () => new Promise<void>((resolve, reject) => {
    const s = net.connect({ port, host: '127.0.0.1' }, () => {
      s.write(batch);
      sent += batch.length;
    });
    let pending = batch.length;
    s.on('data', d => {
      echoed += d.length;
      pending -= d.length;
      if (pending > 0) return;
      if (Date.now() < end) {
        s.write(batch);
        sent += batch.length;
        pending += batch.length;
      } else s.end();
    });
    s.on('close', () => resolve());
    s.on('error', reject);
  })));
  return { sent, echoed };
}

async function stop(child: ChildProcess): Promise<number | null> {
  child.kill('SIGTERM');
  const [code] = await once(child, 'exit');
  return code as number | null;
}

const readProfile = (path: string) => JSON.parse(readFileSync(path, 'utf8')) as CpuProfile;
const wasmNames = (p: CpuProfile) => p.nodes.filter(n => n.callFrame.url.startsWith('wasm://')).map(n => n.callFrame.functionName);
const names = (p: CpuProfile) => wasmNames(p).map(n => n.split('/').at(-1));

interface Report { file: string; thread: number; busy: number; byGroup: Record<string, number>; top: { name: string; group: string; url: string; self: number }[] }
function report(path: string): Report[] {
  const r = spawnSync(process.execPath, ['dist/cli.js', 'profile-report', path, '--json', '--top', '200'], { encoding: 'utf8', timeout: 10_000 });
  expect(r.status, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as Report[];
}

describe('serve --profile', () => {
  it('ringwire relay --profile runs the relay again, not serve: without --upstream it is refused', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ringwire-profile-'));
    dirs.push(dir);
    const r = spawnSync(process.execPath, ['dist/cli.js', 'relay', '--port', '0', '--profile', dir], { encoding: 'utf8', timeout: 10_000 });
    expect(r.status, r.stderr).toBe(2);
    expect(r.stderr).toContain('ringwire relay needs --upstream');
  });

  it('writes a profile of the main thread that names the WASM core\'s functions, and profile-report groups it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ringwire-profile-'));
    dirs.push(dir);
    const { child, port, stderr } = await serve(['--profile', dir]);
    const { sent, echoed } = await load(port, 1500);
    expect(echoed).toBe(sent);
    expect(await stop(child)).toBe(0);
    expect(stderr()).toContain(`CPU profiles of every thread go to ${dir}`);
    const files = readdirSync(dir);
    expect(files).toHaveLength(1);
    expect(files[0]).toMatch(new RegExp(`^CPU\\.\\d+\\.\\d+\\.${child.pid}\\.0\\.\\d+\\.cpuprofile$`)); // same PID: replaced in place
    expect(names(readProfile(join(dir, files[0]!)))).toContain('process');

    const [r] = report(dir);
    expect(r!.thread).toBe(0);
    const group = (name: string) => r!.top.find(f => f.name === name)?.group;
    expect(group(wasmNames(readProfile(join(dir, files[0]!))).find(n => n.endsWith('process'))!)).toBe('wasm');
    expect(group('writeBuffer')).toBe('node'); // a native, grouped with its caller in node:internal/stream_base_commons
    expect(r!.top.some(f => f.group === 'ringwire' && f.url.includes('/dist/'))).toBe(true);
    expect(r!.top.every(f => f.group !== 'handler')).toBe(true); // the echo runs in the core: no user code
    for (const g of ['node', 'ringwire', 'wasm']) expect(r!.byGroup[g], g).toBeGreaterThan(0);
    const text = spawnSync(process.execPath, ['dist/cli.js', 'profile-report', join(dir, files[0]!)], { encoding: 'utf8' }).stdout;
    expect(text).toMatch(/^WASM core\s+\d+\.\d\s+[\d.]+%$/m);
    expect(text).toMatch(/thread 0 \(main\)/);
  });

  it('with --workers 2 and a handler, writes one profile per thread and puts the handler in its own group', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ringwire-profile-'));
    dirs.push(dir);
    const { child, port } = await serve(['--profile', dir, '--workers', '2', '--handler', 'test/fixtures/profile-handler.mjs']);
    const { sent, echoed } = await load(port, 2000, 16);
    expect(echoed).toBe(sent);
    expect(await stop(child)).toBe(0);
    const files = byThread(readdirSync(dir));
    expect(files.map(f => f.split('.')[4])).toEqual(['0', '1', '2']); // main thread, then each worker
    const profiles = files.map(f => readProfile(join(dir, f)));
    expect(wasmNames(profiles[0]!)).toEqual([]); // the main thread runs no core in worker mode
    expect(profiles.slice(1).some(p => names(p).includes('process'))).toBe(true);

    const reports = report(dir);
    expect(reports.map(r => r.thread)).toEqual([0, 1, 2]);
    const top = reports.slice(1).flatMap(r => r.top);
    const handler = top.filter(f => f.group === 'handler');
    // The handler's own functions, and Node's crypto code it calls, count as the handler.
    expect(handler.some(f => /^(checksum|onFrame)$/.test(f.name) && f.url.endsWith('test/fixtures/profile-handler.mjs'))).toBe(true);
    expect(handler.some(f => f.url.startsWith('node:internal/crypto'))).toBe(true);
    // Nearly all: crypto's module code (run when the handler is imported) stays Node's, and
    // V8 now and then drops an inlined frame (onFrame inlined into ringwire's read callback).
    const hashing = top.filter(f => f.url === 'node:internal/crypto/hash' && /^(digest|update|Hash)$/.test(f.name));
    const selfIn = (g: string) => hashing.filter(f => f.group === g).reduce((sum, f) => sum + f.self, 0);
    expect(selfIn('handler')).toBeGreaterThan(4 * selfIn('node'));
    expect(handler.every(f => f.url.endsWith('profile-handler.mjs') || f.url.startsWith('node:') || f.url === '')).toBe(true);
    // Writing the replies is still Node internals: send() is ringwire's, not the handler's.
    expect(top.filter(f => f.name === 'writeBuffer').map(f => f.group)).toContain('node');
  });

  it('--perf-map writes /tmp/perf-PID.map naming the WASM core\'s functions', async () => {
    const { child, port } = await serve(['--perf-map']);
    const map = `/tmp/perf-${child.pid}.map`;
    try {
      const { sent, echoed } = await load(port, 200, 2);
      expect(echoed).toBe(sent);
      expect(existsSync(map)).toBe(true);
      expect(readFileSync(map, 'utf8')).toMatch(/ JS:assembly\/index\/process-\d+-(liftoff|turbofan)$/m);
      expect(await stop(child)).toBe(0);
    } finally {
      rmSync(map, { force: true });
    }
  });
});
