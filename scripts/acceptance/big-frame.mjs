// Issue 22, "Done when": a length:4:be echo of a 64 MiB frame works while 1,000 other
// connections keep echoing 64 B frames. A real `ringwire serve --framing length:4:be
// --max-frame 64m` (dist/cli.js: `npm run build` first) with monitorEventLoopDelay
// preloaded (loop-delay.mjs); the others run in a child process of this script, each
// sending a 64 B frame of its own random bytes, checking the echo byte for byte, then
// waiting GAP ms; this process sends the big frame (random bytes) twice and checks every
// byte of each echo. Three phases, each measured alone: quiet (the others only), the
// first big echo (the server's rings touch fresh pages) and the second (pages reused):
// the server's longest event-loop stall and p99, the others' latency, and the server's
// peak RSS against the bound it printed at start.
//   npx node scripts/acceptance/big-frame.mjs [core=wasm] [others=1000] [MiB=64] [gapMs=100]
import { fork } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import net from 'node:net';
import path from 'node:path';
import { readFileSync } from 'node:fs';
import { ROOT, hwmKiB, rssKiB, serve, sleep } from './lib.mjs';

const GAP = Number(process.argv[5] ?? 100);

if (process.argv[2] === 'others') {
  // The others: N connections, each a loop of send 64 B, await its echo, check it, wait GAP ms.
  const [port, n] = [Number(process.argv[3]), Number(process.argv[4])];
  let lat = [], bad = 0, running = true;
  const one = async () => {
    const s = net.connect({ port, host: '127.0.0.1', noDelay: true });
    s.on('error', () => { bad++; });
    await once(s, 'connect');
    let got = [], have = 0, wake = () => {};
    s.on('data', d => { got.push(d); have += d.length; if (have >= 68) wake(); });
    while (running) {
      const frame = Buffer.concat([Buffer.from([0, 0, 0, 64]), randomBytes(64)]);
      const t0 = performance.now();
      const echoed = new Promise(r => (wake = r));
      s.write(frame);
      await echoed;
      lat.push(performance.now() - t0);
      const back = Buffer.concat(got);
      if (!back.subarray(0, 68).equals(frame)) bad++;
      got = have > 68 ? [back.subarray(68)] : [];
      have -= 68;
      await sleep(GAP * (0.5 + Math.random()));
    }
    s.end();
  };
  const runs = [];
  for (let i = 0; i < n; i++) { runs.push(one()); if (i % 100 === 99) await sleep(20); }
  process.on('message', async m => {
    if (m === 'mark') {
      const l = lat.sort((a, b) => a - b);
      const q = f => Math.round(l[Math.min(l.length - 1, Math.floor(f * l.length))] * 10) / 10;
      process.send({ echoes: l.length, p50: q(0.5), p99: q(0.99), max: q(1), bad });
      lat = [];
    } else if (m === 'stop') {
      running = false;
      await Promise.all(runs);
      process.send({ stopped: true, bad });
      process.exit(0);
    }
  });
  process.send({ ready: true });
} else {
  const core = process.argv[2] ?? 'wasm';
  const others = Number(process.argv[3] ?? 1000);
  const size = Number(process.argv[4] ?? 64) * 2 ** 20;
  const srv = await serve(['--core', core, '--framing', 'length:4:be', '--max-frame', '64m', '--max-connections', String(others + 24)],
    { env: { NODE_OPTIONS: `--import=${path.join(ROOT, 'scripts/acceptance/loop-delay.mjs')}` }, killAfterMs: 600_000 });
  const bound = Number(/memory=([\d.]+) MiB at most/.exec(srv.out() + srv.err())[1]);
  const loopDelay = async () => {
    const before = srv.err().length;
    process.kill(srv.pid, 'SIGUSR2');
    for (let i = 0; i < 200 && !srv.err().slice(before).includes('loop-delay {'); i++) await sleep(10);
    return JSON.parse(/loop-delay (\{.*\})/.exec(srv.err().slice(before))[1]);
  };
  const child = fork(new URL(import.meta.url).pathname, ['others', String(srv.port), String(others), String(GAP)], { stdio: 'inherit' });
  const ask = m => new Promise(r => { child.once('message', r); child.send(m); });
  await once(child, 'message');
  await sleep(2000); // every connection up and echoing
  await ask('mark');
  await loopDelay();

  let peak = 0;
  const sampler = setInterval(() => { if (srv.child.exitCode === null) peak = Math.max(peak, rssKiB(srv.pid)); }, 20);
  const bigEcho = async () => {
    const s = net.connect({ port: srv.port, host: '127.0.0.1' });
    await once(s, 'connect');
    const body = randomBytes(size);
    const head = Buffer.alloc(4);
    head.writeUInt32BE(size);
    const parts = [];
    let have = 0;
    const done = new Promise(r => s.on('data', d => { parts.push(d); have += d.length; if (have >= size + 4) r(); }));
    const t0 = performance.now();
    s.write(head);
    s.write(body);
    await done;
    const ms = Math.round(performance.now() - t0);
    const back = Buffer.concat(parts);
    s.end();
    return { ms, ok: back.length === size + 4 && back.subarray(0, 4).equals(head) && back.subarray(4).equals(body) };
  };
  // Minor page faults of the server: first touches of its memory, which a VM makes dear; less noisy than time on a loaded machine.
  const faults = () => Number(readFileSync(`/proc/${srv.pid}/stat`, 'utf8').split(') ')[1].split(' ')[7]);
  const phases = {};
  const phase = async (name, run) => {
    const start = Date.now();
    const f0 = faults();
    const big = run ? await run() : (await sleep(3000), undefined);
    if (Date.now() - start < 1000) await sleep(1000 - (Date.now() - start));
    phases[name] = { big, serverLoop: await loopDelay(), pageFaults: faults() - f0, others: await ask('mark') };
  };
  await phase('quiet');
  await phase('first big echo', bigEcho);
  await sleep(500);
  await phase('second big echo', bigEcho);
  clearInterval(sampler);
  const stopped = await ask('stop');
  const hwm = hwmKiB(srv.pid);
  srv.child.kill('SIGTERM');
  await srv.exited;
  const mib = kib => Math.round(kib / 1024);
  console.log(`core=${core} others=${others} frame=${size / 2 ** 20} MiB gap=${GAP} ms; server printed: memory=${bound} MiB at most`);
  console.log('phase            | big echo          | server loop max / p99 (ms) | page faults | others: echoes  p50   p99   max (ms) bad');
  for (const [name, p] of Object.entries(phases)) {
    const big = p.big ? `${p.big.ok ? 'bytes ok' : 'BYTES DIFFER'} ${p.big.ms} ms` : '-';
    console.log(`${name.padEnd(16)} | ${big.padEnd(17)} | ${String(p.serverLoop.max).padStart(8)} / ${String(p.serverLoop.p99).padEnd(15)} | ${String(p.pageFaults).padStart(11)} | ${String(p.others.echoes).padStart(14)} ${String(p.others.p50).padStart(5)} ${String(p.others.p99).padStart(5)} ${String(p.others.max).padStart(6)} ${p.others.bad}`);
  }
  console.log(`server RSS: peak ${mib(Math.max(peak, hwm))} MiB (VmHWM ${mib(hwm)} MiB) against the printed bound ${bound} MiB`);
  const ok = Object.values(phases).every(p => (!p.big || p.big.ok) && p.others.bad === 0) && stopped.bad === 0 && mib(hwm) < bound;
  console.log(JSON.stringify({ core, others, frameMiB: size / 2 ** 20, gapMs: GAP, boundMiB: bound, hwmMiB: mib(hwm), phases, ok }));
  process.exit(ok ? 0 : 1);
}
