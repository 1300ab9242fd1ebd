// Issue 19, bullet 4: a 600 KB reply sent from a .then outside any handler closes that
// connection with ERR_REPLY_TOO_LARGE; the process and its other clients carry on.
import { serve, connect, collect, until, roundTrip, metrics, metricSum, freePort, sleep } from './lib.mjs';
const core = process.argv[2] ?? 'wasm';
const extra = process.argv.slice(3);
const mport = await freePort();
const srv = await serve(['--core', core, '--framing', 'line', '--handler', 'scripts/acceptance/handlers/big-then.mjs', '--metrics', String(mport), ...extra]);
const others = [];
for (let i = 0; i < 5; i++) { const s = await connect(srv.port); others.push({ s, c: collect(s) }); s.write(`o${i}-1\n`); }
const v = await connect(srv.port);
const vc = collect(v);
v.write('big\n');
const vr = await vc.done;
await sleep(100);
for (const [i, o] of others.entries()) o.s.end(`o${i}-2\n`);
const ores = await Promise.all(others.map(o => o.c.done));
const fresh = await roundTrip(srv.port, 'fresh\n');
const m = await metrics(mport);
console.log(JSON.stringify({ core, args: extra.join(' '), victimGot: String(vr.bytes).slice(0, 20), victimBytes: vr.bytes.length, victimClosedBy: vr.fin ? 'FIN' : vr.error,
  othersServed: ores.filter((r, i) => String(r.bytes) === `o${i}-1\no${i}-2\n`).length, fresh, alive: srv.child.exitCode === null,
  errReplyTooLargeMetric: metricSum(m, "ringwire_errors_total", "ERR_REPLY_TOO_LARGE") }));
console.log(srv.err().trim()); if (process.env.SHOWM) console.log(m.split("\n").filter(l => /errors/.test(l)).join("\n"));
srv.child.kill('SIGTERM');
console.log('exit', (await srv.exited).code);
