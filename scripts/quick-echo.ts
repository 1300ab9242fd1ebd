// A quick echo measurement (the benchmark suite proper is a separate piece of
// work): each server runs in its own process, this process is the load
// generator. C connections keep D frames of S bytes (4-byte big-endian length +
// payload) in flight for T seconds; every echoed byte is checked.
//   node scripts/quick-echo.ts [connections=50] [frameBytes=64] [depth=1] [seconds=3] [rounds=2]
import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import { once } from 'node:events';
import { writeFileSync, mkdirSync } from 'node:fs';
import os from 'node:os';

const [C = 50, S = 64, D = 1, T = 3, ROUNDS = 2] = process.argv.slice(2).map(Number);

const contenders: Record<string, string[]> = {
  'ringwire --core wasm': ['dist/cli.js', 'serve', '--port', '0', '--framing', 'length:4:be', '--core', 'wasm'],
  'ringwire --core js': ['dist/cli.js', 'serve', '--port', '0', '--framing', 'length:4:be', '--core', 'js'],
  'node socket.pipe(socket)': ['-e', `const s=require('net').createServer(c=>{c.on('error',()=>{});c.pipe(c)}).listen(0,'127.0.0.1',()=>console.log('listening on 127.0.0.1:'+s.address().port)); process.on('SIGTERM',()=>process.exit(0))`],
};

async function startServer(args: string[]): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  let text = '';
  for await (const chunk of child.stdout!) {
    text += chunk;
    const m = /127\.0\.0\.1:(\d+)/.exec(text);
    if (m) return { child, port: Number(m[1]) };
  }
  throw new Error(`server did not start: ${args.join(' ')}`);
}

async function load(port: number): Promise<{ fps: number; mismatches: number }> {
  const frame = Buffer.alloc(S, 0xab);
  frame.writeUInt32BE(S - 4, 0);
  const burst = Buffer.concat(Array.from({ length: D }, () => frame));
  let frames = 0;
  let mismatches = 0;
  let running = true;
  const sockets = await Promise.all(Array.from({ length: C }, async () => {
    const s = net.connect({ port, host: '127.0.0.1', noDelay: true });
    await once(s, 'connect');
    let pos = 0; // position within the repeating frame pattern
    let owed = 0; // bytes of the current frame still to come
    s.on('data', (d: Buffer) => {
      for (let i = 0; i < d.length; i++) if (d[i] !== frame[(pos + i) % S]) mismatches++;
      pos = (pos + d.length) % S;
      owed += d.length;
      const whole = Math.floor(owed / S);
      owed -= whole * S;
      frames += whole;
      if (running && whole) s.write(whole === D ? burst : Buffer.concat(Array.from({ length: whole }, () => frame)));
    });
    s.on('error', () => {});
    return s;
  }));
  await new Promise(r => setTimeout(r, 300)); // warm-up
  for (const s of sockets) s.write(burst);
  const start = frames;
  const t0 = process.hrtime.bigint();
  await new Promise(r => setTimeout(r, T * 1000));
  const elapsed = Number(process.hrtime.bigint() - t0) / 1e9;
  const done = frames - start;
  running = false;
  for (const s of sockets) s.destroy();
  return { fps: done / elapsed, mismatches };
}

const results: Record<string, number[]> = {};
for (let round = 0; round < ROUNDS; round++) {
  for (const [name, args] of Object.entries(contenders)) {
    const { child, port } = await startServer(args);
    const r = await load(port);
    child.kill('SIGTERM');
    await once(child, 'exit');
    if (r.mismatches) throw new Error(`${name}: ${r.mismatches} mismatched bytes`);
    (results[name] ??= []).push(r.fps);
  }
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const base = median(results['node socket.pipe(socket)']!);
console.log(`${C} connections, ${S}-byte frames, depth ${D}, ${T}s x ${ROUNDS} rounds (alternating), Node ${process.version}, ${os.cpus()[0]?.model} x${os.cpus().length}`);
for (const [name, xs] of Object.entries(results)) {
  console.log(`${name.padEnd(28)} ${Math.round(median(xs)).toLocaleString('en').padStart(12)} frames/s  (${(median(xs) / base).toFixed(2)}x pipe; rounds ${xs.map(x => Math.round(x)).join(', ')})`);
}
mkdirSync('bench-results', { recursive: true });
writeFileSync(`bench-results/quick-echo-c${C}-s${S}-d${D}.json`, JSON.stringify({ C, S, D, T, ROUNDS, node: process.version, cpu: os.cpus()[0]?.model, results }, null, 2));
