// Issue 19, bullet 6 (second half): publishes from handlers in flight at SIGTERM reach
// every subscriber before it closes. N subscribers (spread over the threads), P
// publishers each publishing K notifications after a 300 ms wait; SIGTERM at 100 ms.
import { serve, client, until, sleep } from './lib.mjs';
const [core = 'wasm', subsN = '20', pubsN = '10', k = '2000', ...extra] = process.argv.slice(2);
const srv = await serve(['--core', core, '--framing', 'line', '--handler', 'scripts/acceptance/handlers/drain.mjs', '--drain-timeout', '30s', ...extra]);
const open = () => client(srv.port);
const subs = [];
for (let i = 0; i < Number(subsN); i++) { const s = await open(); s.s.write('sub news\n'); subs.push(s); }
await until(() => subs.every(s => s.got.startsWith('joined ')), 5000, 'joined');
const threads = new Set(subs.map(s => s.got.split(' ')[1].trim()));
const pubs = [];
for (let i = 0; i < Number(pubsN); i++) { const p = await open(); p.s.write(`pub news 300 ${k}\n`); pubs.push(p); }
await until(() => pubs.every(p => p.got.startsWith('pub ')), 5000, 'pub started');
pubs.forEach(p => threads.add(p.got.split(' ')[1].trim()));
await sleep(100);
srv.child.kill('SIGTERM');
await Promise.all([...subs, ...pubs].map(c => c.closed));
const ex = await srv.exited;
const want = Number(pubsN) * Number(k);
const counts = subs.map(s => s.got.split('\n').filter(l => l.startsWith('news ')).length);
// Per publisher order cannot be told apart (same text), so check each k appears P times and the sequence is non-decreasing per... count only.
console.log(JSON.stringify({ core, args: extra.join(' '), threadsWithSubsOrPubs: threads.size, subscribers: subs.length, perSubscriberWanted: want, perSubscriberMin: Math.min(...counts), perSubscriberMax: Math.max(...counts),
  subsFin: subs.filter(s => s.fin && !s.error).length, pubsDone: pubs.filter(p => p.got.trim().endsWith('pub done')).length, exitCode: ex.code }));
console.log((srv.out() + srv.err()).split('\n').filter(l => /ERR|drain|closed after/.test(l)).slice(0, 5).join('\n'));
