// Issue 21, bullet 2: a module whose onStart opens a BroadcastChannel and whose onStop closes
// it: SIGTERM to `ringwire serve --workers 2` exits in under 1 s after the drain;
// --handler-options '{"tag":"x"}' is seen by every thread.
import { serve, client, until, sleep } from './lib.mjs';
const [core = 'wasm', ...extra] = process.argv.slice(2);
const srv = await serve(['--core', core, '--workers', '2', '--framing', 'line', '--handler', 'scripts/acceptance/handlers/bc.mjs', '--handler-options', '{"tag":"x"}', ...extra]);
const clients = [];
for (let i = 0; i < 10; i++) {
  const st = await client(srv.port);
  st.s.write('whoami\n');
  clients.push(st);
}
await until(() => clients.every(c => c.got.includes('\n')), 5000, 'whoami');
const seen = [...new Set(clients.map(c => c.got.trim()))].sort();
for (const c of clients) c.s.write('slow 500\n'); // the drain has 500 ms of work
await sleep(50);
const t0 = Date.now();
srv.child.kill('SIGTERM');
await Promise.all(clients.map(c => c.closed));
const lastFin = Math.max(...clients.map(c => c.endAt));
const ex = await srv.exited;
console.log(JSON.stringify({ core, args: extra.join(' '), threadsSeen: seen, allAnsweredDone: clients.every(c => c.got.endsWith('done\n')), drainMs: lastFin - t0, exitAfterDrainMs: ex.at - lastFin, exitAfterSigtermMs: ex.at - t0, exitCode: ex.code }));
