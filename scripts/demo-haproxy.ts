// npm run demo:haproxy [-- options]: several ringwire hosts behind HAProxy
// (TCP mode, send-proxy-v2, health checks), a verified load through HAProxy,
// one host drained in the middle of it (SIGTERM), and what each host served and
// whether any frame was lost. With --bench: frames/s through HAProxy with 1, 2
// and 3 hosts (the others set to maintenance through HAProxy's runtime API),
// alternating in rounds, written to bench-results/haproxy.json.
// Loopback only (HAProxy 127.0.0.1, hosts 127.0.0.2...), bounded in time, and it
// stops everything it started. See docs/load-balancers.md.

import { mkdirSync, writeFileSync } from 'node:fs';
import { loadavg, cpus } from 'node:os';
import { parseArgs } from 'node:util';
import { cpuSeconds, missing, runLoad, startDeployment, type LoadOptions } from './haproxy-deployment.ts';

const { values } = parseArgs({
  options: {
    hosts: { type: 'string', default: '3' },
    seconds: { type: 'string' },
    'drain-at': { type: 'string' },
    connections: { type: 'string', default: '12' },
    window: { type: 'string', default: '32' },
    payload: { type: 'string', default: '64' },
    bench: { type: 'boolean', default: false },
    rounds: { type: 'string', default: '3' },
    help: { type: 'boolean', short: 'h' },
  },
});
if (values.help) {
  console.log(`npm run demo:haproxy -- [--hosts 3] [--seconds 8] [--drain-at <s>] [--connections 12] [--window 32] [--payload 64]
  the demo: HAProxy + N ringwire hosts, a verified load, host 2 drained at --drain-at (default: half way)
npm run demo:haproxy -- --bench [--seconds 5] [--rounds 3]
  frames/s through HAProxy with 1, 2 and 3 hosts, alternating, to bench-results/haproxy.json`);
  process.exit(0);
}
const why = missing();
if (why) {
  console.error(`demo:haproxy: ${why}`);
  process.exit(1);
}

const n = (name: keyof typeof values) => Number(values[name]);
/** Per run: the demo's load (default 8 s), or each bench run (default 5 s). */
const seconds = values.seconds === undefined ? (values.bench ? 5 : 8) : Number(values.seconds);
const fmt = (x: number) => Math.round(x).toLocaleString('en-US');
const load = (port: number, seconds: number): LoadOptions => ({
  port, connections: n('connections'), window: n('window'), payload: n('payload'), durationMs: seconds * 1000,
});

const hosts = values.bench ? 3 : n('hosts');
const deployment = await startDeployment({ hosts });
const { haproxy } = deployment;
process.on('SIGINT', () => void deployment.stop().then(() => process.exit(130)));
try {
  console.log(`HAProxy on 127.0.0.1:${haproxy.port} (TCP mode, send-proxy-v2, health checks every 250 ms)`);
  for (const h of deployment.hosts) console.log(`  ${h.name}: ringwire serve --host ${h.host} --port ${h.port} --proxy-protocol v2 --proxy-trusted 127.0.0.1/32 (pid ${h.child.pid})`);
  if (values.bench) await bench();
  else await demo();
} finally {
  await deployment.stop();
}

async function demo(): Promise<void> {
  const drainAt = values['drain-at'] === undefined ? seconds / 2 : Number(values['drain-at']);
  const victim = deployment.hosts[Math.min(1, hosts - 1)]!;
  console.log(`load: ${n('connections')} connections through HAProxy, ${n('window')} frames in flight each, ${n('payload')}-byte payloads, ${seconds} s; every answer checked byte for byte`);
  if (hosts > 1) console.log(`at ${drainAt} s: SIGTERM to ${victim.name} (it closes its listener, answers what it read, closes its connections; clients resend the rest)`);
  let last = 0;
  let t = 0;
  const result = runLoad({
    ...load(haproxy.port, seconds),
    onTick: answered => {
      t += 0.25;
      if (Number.isInteger(t)) {
        const line = `  ${t.toFixed(0).padStart(3)} s  ${fmt(answered - last).padStart(9)} frames/s`;
        last = answered;
        void haproxy.servers().then(rows => console.log(`${line}  connections now: ${rows.map(r => `${r.name} ${r.status === 'UP' ? r.current : r.status}`).join(', ')}`));
      }
    },
  });
  let drained: Promise<unknown> = Promise.resolve();
  if (hosts > 1) {
    await new Promise(r => setTimeout(r, drainAt * 1000));
    console.log(`  SIGTERM ${victim.name}`);
    drained = victim.drain();
  }
  const r = await result;
  await drained;
  const rows = await haproxy.servers();
  await Promise.all(deployment.hosts.map(h => h.drain()));
  console.log('\nhost     state (HAProxy)  sessions (HAProxy)  frames served (ringwire)  errors');
  for (const h of deployment.hosts) {
    const row = rows.find(x => x.name === h.name)!;
    console.log(`${h.name.padEnd(8)} ${row.status.padEnd(16)} ${String(row.total).padStart(18)}  ${fmt(h.totals!.framesOut).padStart(24)}  ${h.totals!.errors}${h.totals!.codes ? ` (${h.totals!.codes})` : ''}`);
  }
  const served = deployment.hosts.reduce((sum, h) => sum + h.totals!.framesOut, 0);
  console.log(`\n${fmt(r.sent)} frames sent, ${fmt(r.answered)} answered byte for byte (${fmt(r.answered / r.seconds)} frames/s), ${r.lost} lost, ${r.mismatched} mismatched;`
    + ` ${r.resent} resent after their connection was drained (${r.reconnects} reconnects); the hosts served ${fmt(served)} frames in all`);
  const ok = r.lost === 0 && r.mismatched === 0 && r.answered === r.sent;
  console.log(ok ? 'no frame lost' : 'FRAMES LOST');
  if (!ok) process.exitCode = 1;
}

async function bench(): Promise<void> {
  const rounds = n('rounds');
  const all = deployment.hosts.map(h => h.name);
  /** Per host count, one entry per run: frames/s, and µs of CPU per frame in the client, HAProxy and the ringwire hosts. */
  const runs: Record<number, { framesPerSecond: number; client: number; haproxy: number; hosts: number }[]> = { 1: [], 2: [], 3: [] };
  const cpu = () => {
    const own = process.cpuUsage();
    return {
      client: (own.user + own.system) / 1e6,
      haproxy: cpuSeconds(haproxy.child.pid),
      hosts: deployment.hosts.reduce((sum, h) => sum + cpuSeconds(h.child.pid), 0),
    };
  };
  console.log(`bench: ${n('connections')} connections, window ${n('window')}, ${n('payload')}-byte payloads, ${seconds} s per run, ${rounds} rounds of 1, 2 and 3 hosts (the order rotating)`);
  const loadBefore = loadavg();
  for (let round = 0; round < rounds; round++) {
    // Each round starts with a different host count, so a load that drifts during a round favours none.
    for (const count of [1, 2, 3].map((_, i) => ((i + round) % 3) + 1)) {
      for (const [i, name] of all.entries()) await haproxy.command(`set server ringwire/${name} state ${i < count ? 'ready' : 'maint'}`);
      const before = cpu();
      const r = await runLoad(load(haproxy.port, seconds));
      const after = cpu();
      if (r.lost !== 0 || r.mismatched !== 0) throw new Error(`${count} host(s): ${r.lost} lost, ${r.mismatched} mismatched`);
      const perFrame = (k: keyof typeof before) => ((after[k] - before[k]) * 1e6) / r.answered;
      const run = { framesPerSecond: r.answered / r.seconds, client: perFrame('client'), haproxy: perFrame('haproxy'), hosts: perFrame('hosts') };
      runs[count]!.push(run);
      console.log(`  round ${round + 1}, ${count} host(s): ${fmt(run.framesPerSecond)} frames/s verified; CPU per frame: client ${run.client.toFixed(2)} µs, HAProxy ${run.haproxy.toFixed(2)} µs, ringwire ${run.hosts.toFixed(2)} µs (load ${loadavg()[0]!.toFixed(2)})`);
    }
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const m = (count: number, k: 'framesPerSecond' | 'client' | 'haproxy' | 'hosts') => median(runs[count]!.map(x => x[k]));
  console.log('\nhosts  frames/s (median)  vs 1 host  CPU µs/frame: client  HAProxy  ringwire hosts');
  for (const count of [1, 2, 3]) {
    console.log(`${String(count).padStart(5)}  ${fmt(m(count, 'framesPerSecond')).padStart(17)}  ${(m(count, 'framesPerSecond') / m(1, 'framesPerSecond')).toFixed(2).padStart(8)}x`
      + `  ${m(count, 'client').toFixed(2).padStart(19)}  ${m(count, 'haproxy').toFixed(2).padStart(7)}  ${m(count, 'hosts').toFixed(2).padStart(14)}`);
  }
  const loadAfter = loadavg();
  console.log(`load average before ${loadBefore.map(x => x.toFixed(2)).join(' ')}, after ${loadAfter.map(x => x.toFixed(2)).join(' ')}; ${cpus().length} CPUs, Node ${process.version}`);
  mkdirSync('bench-results', { recursive: true });
  writeFileSync('bench-results/haproxy.json', JSON.stringify({
    node: process.version, cpus: cpus().length, cpu: cpus()[0]?.model, loadBefore, loadAfter, seconds, rounds,
    connections: n('connections'), window: n('window'), payload: n('payload'), runs,
  }, null, 2));
  console.log('wrote bench-results/haproxy.json');
}
