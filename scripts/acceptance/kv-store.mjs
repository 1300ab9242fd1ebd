// Issue 21, bullet 1: `npm start -- --workers 2 --framing line --handler examples/kv-store.mjs`:
// after SET b 2 on one connection, 50 fresh connections all read 2 (and the keys of both threads).
import { spawn } from 'node:child_process';
import net from 'node:net';
import { ROOT, sleep, until, connect } from './lib.mjs';
const extra = process.argv.slice(2);
const child = spawn('npm', ['start', '--', '--port', '0', '--workers', '2', '--framing', 'line', '--handler', 'examples/kv-store.mjs', ...extra], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
let out = '';
child.stdout.setEncoding('utf8').on('data', d => (out += d));
child.stderr.setEncoding('utf8').on('data', d => (out += d));
await until(() => /listening on [^ ]*:(\d+)/.test(out), 20_000, 'listening');
const port = Number(/listening on [^ ]*:(\d+)/.exec(out)[1]);
async function ask(s, line) {
  return new Promise(resolve => { let got = ''; const on = d => { got += d; if (got.includes('\n')) { s.off('data', on); resolve(got.trim()); } }; s.on('data', on); s.write(`${line}\n`); });
}
const first = await connect(port); first.setEncoding('utf8');
const setB = await ask(first, 'SET b 2');
const keys = 'acdefghijklmnopq'.split('');
for (const k of keys) await ask(first, `SET ${k} v${k}`);
const fresh = await Promise.all(Array.from({ length: 50 }, async (_, i) => { const s = await connect(port); s.setEncoding('utf8'); const b = await ask(s, 'GET b'); const k = keys[i % keys.length]; const v = await ask(s, `GET ${k}`); s.end(); return { b, ok: v === `v${k}` }; }));
console.log(JSON.stringify({ args: extra.join(' '), setB, freshReadTwo: fresh.filter(f => f.b === '2').length, of: 50, otherKeysRight: fresh.filter(f => f.ok).length, nil: await ask(first, 'GET nothing') }));
first.end();
process.kill(-child.pid, 'SIGTERM');
await new Promise(r => child.once('exit', r));
console.log(out.split('\n').filter(l => /listening|closed after/.test(l)).join('\n'));
