// Issue 20, "Command-line values": every value the issue names, through the real CLI
// (dist/cli.js: `npm run build` first), each of which must exit 2 with one line on
// stderr ending in (ERR_BAD_CONFIG) before anything starts. One line per case (exit
// code, stderr's line count, the line), then one JSON line of results; exit status 1
// if any case did otherwise. test/cli.test.ts holds the same cases (and the limits at
// their edge); this is the run the issue describes, to read.
//   npx node scripts/acceptance/issue-20-cli.mjs
import { spawn } from 'node:child_process';
import path from 'node:path';
import { ROOT } from './lib.mjs';

const CASES = [
  ['serve', '--drain-timeout', '600h'], // once: setTimeout overflowed, the drain destroyed at once
  ['serve', '--stats-interval', '600h'], // once: 1,703 lines in 2 s
  ['serve', '--stats-interval', '1ms'],
  ['serve', '--host', ''], // once: every interface
  ['serve', '--upstream', 'no.such.host.invalid:80'],
  ['serve', '--upstream', '127.0.0.1:0'],
  ['relay', '--upstream', 'no.such.host.invalid:80'],
  ['relay', '--upstream', '127.0.0.1:0'],
  ['serve', '--max-queued', '0'],
  ['serve', '--max-queued-total', '1'],
  ['serve', '--max-reply', '0'],
  ['serve', '--stall-restart', '1ms'],
  ['serve', '--workers', '2', '--stall-restart', '1ms'],
  ['serve', '--handler', 'test/fixtures/never-loads.mjs'], // once: exit 0, silently
  ['serve', '--workers', '2', '--handler', 'test/fixtures/never-loads.mjs'],
  ['relay', '--upstream', '127.0.0.1:1', '--upstream-connect-timeout', '0s'], // the flag the issue asked for (once: 10 s, fixed)
  ['relay', '--upstream', '127.0.0.1:1', '--upstream-connect-timeout', '577h'],
];

/** One run: exit code (null if killed at 30 s) and stderr. */
function run(args) {
  return new Promise(resolve => {
    const child = spawn(process.execPath, [path.join(ROOT, 'dist/cli.js'), ...args, '--port', '0'], { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.setEncoding('utf8').on('data', d => (err += d));
    const killer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.once('close', (code, signal) => { clearTimeout(killer); resolve({ code: signal ? null : code, err }); });
  });
}

const results = [];
for (let i = 0; i < CASES.length; i += 4) { // four at a time: each is a Node process start
  results.push(...await Promise.all(CASES.slice(i, i + 4).map(async args => ({ args, ...await run(args) }))));
}
const failed = [];
for (const { args, code, err } of results) {
  const lines = err.trim().split('\n');
  const ok = code === 2 && lines.length === 1 && / \(ERR_BAD_CONFIG\)$/.test(lines[0]);
  if (!ok) failed.push(args.join(' '));
  console.log(`${ok ? 'ok  ' : 'FAIL'} exit=${code} lines=${lines.length}  ${args.map(a => (a === '' ? "''" : a)).join(' ')}\n       ${lines.join('\n       ')}`);
}
console.log(JSON.stringify({ cases: results.length, ok: results.length - failed.length, failed }));
process.exitCode = failed.length > 0 ? 1 : 0;
