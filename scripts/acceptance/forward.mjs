// Issue 19, bullet 3: an async onForward that rejects closes only its client and upstream
// with ERR_HANDLER; one that resolves false drops the frame. Real `ringwire relay` process
// (or serve --upstream) against a plain node:net line echo upstream that counts connections.
import net from 'node:net';
import { once } from 'node:events';
import { serve, connect, collect, until, sleep, metrics, freePort } from './lib.mjs';
const core = process.argv[2] ?? 'wasm';
const extra = process.argv.slice(3);
const upstreamSockets = new Set();
const upstreamSeen = [];
const up = net.createServer(s => { upstreamSockets.add(s); s.on('close', () => upstreamSockets.delete(s)); s.on('error', () => {}); s.on('data', d => upstreamSeen.push(String(d))); s.pipe(s); }).listen(0, '127.0.0.1');
await once(up, 'listening');
const mport = await freePort();
const srv = await serve(['--core', core, '--framing', 'line', '--upstream', `127.0.0.1:${up.address().port}`, '--handler', 'scripts/acceptance/handlers/forward.mjs', '--metrics', String(mport), ...extra]);
// Bystanders: 10 clients each doing a round trip before, and again after the rejection.
const bystanders = [];
for (let i = 0; i < 10; i++) { const s = await connect(srv.port); bystanders.push({ s, c: collect(s) }); }
for (const [i, b] of bystanders.entries()) b.s.write(`b${i}-1\n`);
await until(() => bystanders.every((b, i) => String(b.c.bytes()) === `b${i}-1\n`), 5000, 'bystanders first');
await until(() => upstreamSockets.size === 10, 5000, '10 upstreams');
// The client whose frame is dropped, then rejected.
const victim = await connect(srv.port);
const vc = collect(victim);
victim.write('v1\ndrop-me\nv2\n');
await until(() => String(vc.bytes()) === 'v1\nv2\n', 5000, 'victim: the dropped frame skipped');
await until(() => upstreamSockets.size === 11, 5000, '11 upstreams');
victim.write('reject-me\nnever\n');
const vres = await vc.done;
await until(() => upstreamSockets.size === 10, 5000, 'the victim\'s upstream closed');
await sleep(200);
for (const [i, b] of bystanders.entries()) b.s.write(`b${i}-2\n`);
await until(() => bystanders.every((b, i) => String(b.c.bytes()) === `b${i}-1\nb${i}-2\n`), 5000, 'bystanders after');
const m = await metrics(mport);
const handlerErrs = /ringwire_errors_total\{[^}]*code="ERR_HANDLER"[^}]*\} (\d+)/.exec(m)?.[1];
const seen = upstreamSeen.join('');
console.log(JSON.stringify({ core, args: extra.join(' '), victimGot: String(vres.bytes), victimClosedBy: vres.fin ? 'FIN' : vres.error, upstreamsLeft: upstreamSockets.size, bystandersServedAfter: 10,
  upstreamSawDrop: seen.includes('drop-me'), upstreamSawReject: seen.includes('reject-me'), upstreamSawNever: seen.includes('never'), errHandlerMetric: Number(handlerErrs), alive: srv.child.exitCode === null }));
console.log(srv.err().split('\n').filter(l => /ERR_/.test(l)).join('\n'));
for (const b of bystanders) b.s.end();
srv.child.kill('SIGTERM');
console.log('exit', (await srv.exited).code);
for (const s of upstreamSockets) s.destroy();
up.close();
