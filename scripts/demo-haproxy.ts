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

/** A PROXY v2 header as HAProxy would send it for a client 192.0.2.1:1000 (the direct contender sends it itself). */
function proxyV2Header(port: number): Buffer {
  const h = Buffer.from('0d0a0d0a000d0a515549540a2111000cc0000201' + '7f000002' + '03e8' + '0000', 'hex');
  h.writeUInt16BE(port, 26);
  return h;
}

async function bench(): Promise<void> {
  const rounds = n('rounds');
  const all = deployment.hosts.map(h => h.name);
  const host1 = deployment.hosts[0]!;
  // The baseline: one host without HAProxy (the client sends the PROXY header itself); then HAProxy in front of 1, 2, 3.
  const contenders = ['direct', '1', '2', '3'] as const;
  const label = (c: (typeof contenders)[number]) => (c === 'direct' ? '1 host, no HAProxy' : `HAProxy + ${c} host${c === '1' ? '' : 's'}`);
  /** Per contender, one entry per run: frames/s, and µs of CPU per frame in the client, HAProxy and the ringwire hosts. */
  const runs: Record<string, { framesPerSecond: number; client: number; haproxy: number; hosts: number }[]> = Object.fromEntries(contenders.map(c => [c, []]));
  const cpu = () => {
    const own = process.cpuUsage();
    return {
      client: (own.user + own.system) / 1e6,
      haproxy: cpuSeconds(haproxy.child.pid),
      hosts: deployment.hosts.reduce((sum, h) => sum + cpuSeconds(h.child.pid), 0),
    };
  };
  console.log(`bench: ${n('connections')} connections, window ${n('window')}, ${n('payload')}-byte payloads, ${seconds} s per run, ${rounds} rounds of: ${contenders.map(label).join(', ')} (the order rotating)`);
  const loadBefore = loadavg();
  for (let round = 0; round < rounds; round++) {
    // Each round starts with a different contender, so a load that drifts during a round favours none.
    for (const c of contenders.map((_, i) => contenders[(i + round) % contenders.length]!)) {
      const count = c === 'direct' ? 1 : Number(c);
      for (const [i, name] of all.entries()) await haproxy.command(`set server ringwire/${name} state ${i < count ? 'ready' : 'maint'}`);
      const options = c === 'direct'
        ? { ...load(host1.port, seconds), host: host1.host, preamble: proxyV2Header(host1.port) }
        : load(haproxy.port, seconds);
      const before = cpu();
      const r = await runLoad(options);
      const after = cpu();
      if (r.lost !== 0 || r.mismatched !== 0) throw new Error(`${label(c)}: ${r.lost} lost, ${r.mismatched} mismatched`);
      const perFrame = (k: keyof typeof before) => ((after[k] - before[k]) * 1e6) / r.answered;
      const run = { framesPerSecond: r.answered / r.seconds, client: perFrame('client'), haproxy: perFrame('haproxy'), hosts: perFrame('hosts') };
      runs[c]!.push(run);
      console.log(`  round ${round + 1}, ${label(c).padEnd(19)} ${fmt(run.framesPerSecond).padStart(9)} frames/s verified; CPU per frame: client ${run.client.toFixed(2)} µs, HAProxy ${run.haproxy.toFixed(2)} µs, ringwire ${run.hosts.toFixed(2)} µs (load ${loadavg()[0]!.toFixed(2)})`);
    }
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const m = (c: string, k: 'framesPerSecond' | 'client' | 'haproxy' | 'hosts') => median(runs[c]!.map(x => x[k]));
  console.log('\n                     frames/s (median)  vs HAProxy + 1  CPU µs/frame: client  HAProxy  ringwire hosts');
  for (const c of contenders) {
    console.log(`${label(c).padEnd(19)}  ${fmt(m(c, 'framesPerSecond')).padStart(17)}  ${(m(c, 'framesPerSecond') / m('1', 'framesPerSecond')).toFixed(2).padStart(13)}x`
      + `  ${m(c, 'client').toFixed(2).padStart(19)}  ${m(c, 'haproxy').toFixed(2).padStart(7)}  ${m(c, 'hosts').toFixed(2).padStart(14)}`);
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
