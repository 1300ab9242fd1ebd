// Issue 19, bullet 1: 200 connections whose handler never settles, --handler-timeout 1s,
// --max-connections 220: within 3 s all closed with ERR_HANDLER_TIMEOUT, the server's
// descriptor count back to its baseline, 20 new clients served while the promises hang.
import { serve, connect, collect, fds, roundTrip, until, metrics, freePort, sleep } from './lib.mjs';
const core = process.argv[2] ?? 'wasm';
const mport = await freePort();
const srv = await serve(['--core', core, '--framing', 'line', '--handler', 'scripts/acceptance/handlers/hang.mjs', '--handler-timeout', '1s', '--max-connections', '220', '--metrics', String(mport)]);
await sleep(300);
const baseline = fds(srv.pid);
const clients = [];
for (let i = 0; i < 200; i++) clients.push(await connect(srv.port));
const during = fds(srv.pid);
const closed = clients.map(s => collect(s).done);
const t0 = Date.now();
for (const s of clients) s.write('hang\n');
const results = await Promise.all(closed);
const allClosedMs = Date.now() - t0;
let after;
await until(() => (after = fds(srv.pid)) <= baseline, 3000, 'fds back').catch(e => console.log(e.message));
const m = await metrics(mport);
const timeouts = /ringwire_errors_total\{[^}]*code="ERR_HANDLER_TIMEOUT"[^}]*\} (\d+)/.exec(m)?.[1];
const quarantined = /^ringwire_connections_quarantined\{[^}]*\} (\d+)/m.exec(m)?.[1];
const answers = await Promise.all(Array.from({ length: 20 }, (_, i) => roundTrip(srv.port, `n${i}\n`)));
const served = answers.filter((a, i) => a === `n${i}\n`).length;
const afterNew = fds(srv.pid);
console.log(JSON.stringify({ core, baselineFds: baseline, fdsWith200: during, fdsAfterClose: after, allClosedMs, emptyReplies: results.filter(r => r.bytes.length === 0).length,
  closedBy: { fin: results.filter(r => r.fin).length, reset: results.filter(r => r.error).length }, errHandlerTimeoutMetric: Number(timeouts), quarantinedMetric: Number(quarantined), newClientsServed: served, fdsAfterNewClients: afterNew }));
const tk = Date.now(); srv.child.kill("SIGTERM");
const ex = await srv.exited;
console.log("exit", ex.code, ex.signal, "after SIGTERM ms", ex.at - tk); console.log(srv.out().slice(-1500), srv.err().slice(-1500));
