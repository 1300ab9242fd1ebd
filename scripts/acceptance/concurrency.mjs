// Issue 19, bullet 2: one connection pipelining 256 frames to a handler awaiting a 50 ms
// timer, --concurrency 64: all answered, in order, in under 2 s (serially 12.8 s).
import { serve, connect, collect, until } from './lib.mjs';
const core = process.argv[2] ?? 'wasm';
const extra = process.argv.slice(3);
const srv = await serve(['--core', core, '--framing', 'line', '--handler', 'scripts/acceptance/handlers/timer50.mjs', ...extra]);
const s = await connect(srv.port);
const c = collect(s);
const sent = Array.from({ length: 256 }, (_, i) => `frame-${i}\n`).join('');
const t0 = Date.now();
s.write(sent);
await until(() => c.bytes().length >= sent.length, 20_000, 'all replies');
const ms = Date.now() - t0;
s.end();
const got = String((await c.done).bytes);
console.log(JSON.stringify({ core, args: extra.join(' '), ms, inOrderExact: got === sent, replies: got.split('\n').length - 1 }));
srv.child.kill('SIGTERM');
console.log('exit', (await srv.exited).code);
