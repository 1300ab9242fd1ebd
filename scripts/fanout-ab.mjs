// A/B of the routing suite's fan-out cell (src/bench/routing-bench.ts, same client and
// servers) between two builds of ringwire, e.g. main's and a branch's, against the
// hand-batched plain server, contenders alternating, 1 and 2 workers each:
//   node scripts/fanout-ab.mjs <base dist/> <new dist/> [subscribers 1000] [bytes 64] [rounds 3] [messages 2000]
// (a base build: git archive main | tar -x -C /tmp/base, link node_modules, npm run build.)
// Servers are processes of their own on 127.0.0.1, killed by PID after each run.
// Besides deliveries/s it prints the server's CPU time per delivery (user + system,
// all its threads, from /proc/<pid>/stat: Linux), which a loaded machine disturbs
// less than the rate: the generator's share of the cores does not enter it.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import net from 'node:net';
import { crc32 } from 'node:zlib';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { readFileSync } from 'node:fs';
const [baseDist, newDist, subsArg = '1000', sizeArg = '64', roundsArg = '3', msgsArg = '2000'] = process.argv.slice(2);
if (!baseDist || !newDist) throw new Error('usage: node scripts/fanout-ab.mjs <base dist/> <new dist/> [subscribers] [bytes] [rounds] [messages]');
const SUBS = Number(subsArg), SIZE = Number(sizeArg), ROUNDS = Number(roundsArg), MSGS = Number(msgsArg);
const builds = { main: path.resolve(baseDist), fanout: path.resolve(newDist) };
const plain = fileURLToPath(new URL('../src/bench/plain-fanout.ts', import.meta.url));
const contenders = [
  ['plain-batched', () => [process.execPath, [plain]]],
  ...['main', 'fanout'].flatMap(b => ['1', '2'].map(w => [`${b}-${w}w`, () => [process.execPath, [`${builds[b]}/cli.js`, 'serve', '--port', '0', '--framing', 'line', '--handler', `${builds[b]}/fanout-handler.js`, '--workers', w, '--max-connections', String(SUBS + 64)]]])),
];
const lines = Array.from({ length: MSGS }, (_, k) => Buffer.from(`${String(k).padStart(8, '0')} ${'x'.repeat(SIZE - 10)}\n`));
const stream = Buffer.concat(lines);
const expected = { bytes: stream.length, crc: crc32(stream) };
/** ms of CPU (user + system) process pid has used, from /proc (clock ticks of 10 ms). */
function cpuMs(pid) {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}
async function run(start) {
  const [cmd, args] = start();
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  const [line] = await once(child.stdout.setEncoding('utf8'), 'data');
  const port = Number(/:(\d+) /.exec(line)[1]);
  const sockets = [];
  try {
    let complete = 0, bad = 0, allDone;
    const finished = new Promise(r => (allDone = r));
    for (let i = 0; i < SUBS; i += 100) {
      sockets.push(...await Promise.all(Array.from({ length: Math.min(100, SUBS - i) }, async () => {
        const s = net.connect({ port, host: '127.0.0.1' });
        await once(s, 'connect');
        s.write('SUB\n');
        let skip = 3, got = 0, crc = 0;
        await new Promise(resolve => s.on('data', d => {
          if (skip > 0) { const n = Math.min(skip, d.length); skip -= n; d = d.subarray(n); if (skip === 0) resolve(); if (d.length === 0) return; }
          got += d.length; crc = crc32(d, crc);
          if (got >= expected.bytes && got - d.length < expected.bytes) { if (got !== expected.bytes || crc !== expected.crc) bad++; if (++complete === SUBS) allDone(); }
        }));
        return s;
      })));
    }
    const pub = net.connect({ port, host: '127.0.0.1', noDelay: true });
    sockets.push(pub);
    await once(pub, 'connect');
    pub.write('PUB\n');
    await once(pub, 'data');
    const t0 = performance.now();
    const cpu0 = cpuMs(child.pid);
    for (const l of lines) if (!pub.write(l)) await once(pub, 'drain');
    const t = setTimeout(allDone, 120_000);
    await finished;
    clearTimeout(t);
    const s = (performance.now() - t0) / 1000;
    if (complete < SUBS || bad) return [NaN, NaN];
    return [(SUBS * MSGS) / s, ((cpuMs(child.pid) - cpu0) * 1000) / (SUBS * MSGS)];
  } finally {
    for (const s of sockets) s.destroy();
    const exited = once(child, 'exit');
    child.kill('SIGKILL');
    await exited;
  }
}
const rates = Object.fromEntries(contenders.map(([n]) => [n, []]));
const cpus = Object.fromEntries(contenders.map(([n]) => [n, []]));
const load = [];
for (let r = 0; r < ROUNDS; r++) {
  for (const [name, start] of contenders) {
    const [rate, cpu] = await run(start);
    rates[name].push(rate);
    cpus[name].push(cpu);
    load.push(os.loadavg()[0]);
  }
}
const med = a => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
const base = med(rates['plain-batched']);
console.log(`fan-out A/B: ${SUBS} subscribers, ${MSGS} messages of ${SIZE} B, ${ROUNDS} rounds alternating; load (1 min) ${Math.min(...load).toFixed(1)}–${Math.max(...load).toFixed(1)}`);
const baseCpu = med(cpus['plain-batched']);
for (const [name] of contenders) {
  console.log(`${name.padEnd(14)} ${Math.round(med(rates[name])).toLocaleString('en').padStart(12)} deliveries/s  (${rates[name].map(v => Math.round(v).toLocaleString('en')).join(', ')})  ${(med(rates[name]) / base).toFixed(2)}x`
    + `   server CPU ${med(cpus[name]).toFixed(3)} µs/delivery (${cpus[name].map(v => v.toFixed(3)).join(', ')})  ${(med(cpus[name]) / baseCpu).toFixed(2)}x`);
}
