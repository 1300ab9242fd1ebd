// A/B of the routing suite's fan-out cell (src/bench/routing-bench.ts: its client,
// driveFanout, and its servers) between two builds of ringwire, e.g. main's and a
// branch's, against the hand-batched plain server, contenders alternating, 1 and 2
// workers each:
//   node scripts/fanout-ab.ts <base dist/> <new dist/> [subscribers 1000] [bytes 64] [rounds 3] [messages: the suite's default]
// (a base build: git worktree add --detach /tmp/base main, link node_modules, npm run build.)
// Servers are processes of their own on 127.0.0.1, killed by PID after each run.
// Besides deliveries/s it prints the server's CPU time per delivery (user + system,
// all its threads, from /proc/<pid>/stat: Linux), which a loaded machine disturbs
// less than the rate (the client's share of the cores does not enter it), and the
// client's share of a core (near 100%: it set the pace).
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { driveFanout, fanoutLine, fanoutMessagesFor, type FanoutRun } from '../src/bench/routing-bench.ts';

const [baseDist, newDist, subsArg = '1000', sizeArg = '64', roundsArg = '3', msgsArg] = process.argv.slice(2);
if (!baseDist || !newDist) throw new Error('usage: node scripts/fanout-ab.ts <base dist/> <new dist/> [subscribers] [bytes] [rounds] [messages]');
const SUBS = Number(subsArg), SIZE = Number(sizeArg), ROUNDS = Number(roundsArg);
const MSGS = fanoutMessagesFor(msgsArg === undefined ? undefined : Number(msgsArg), SUBS, SIZE);
const builds: Record<string, string> = { main: path.resolve(baseDist), fanout: path.resolve(newDist) };
const plain = fileURLToPath(new URL('../src/bench/plain-fanout.ts', import.meta.url));
const contenders: [string, string[]][] = [
  ['plain-batched', [plain]],
  ...['main', 'fanout'].flatMap(b => ['1', '2'].map((w): [string, string[]] => [`${b}-${w}w`,
    [`${builds[b]}/cli.js`, 'serve', '--port', '0', '--framing', 'line', '--handler', `${builds[b]}/fanout-handler.js`, '--workers', w, '--max-connections', String(SUBS + 64)]])),
];
const lines = Array.from({ length: MSGS }, (_, k) => fanoutLine(k, SIZE));
const stream = Buffer.concat(lines);

/** One run of a server (NaNs when a subscriber missed bytes). */
async function run(name: string, args: string[]): Promise<FanoutRun> {
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  const [line] = await once(child.stdout.setEncoding('utf8'), 'data') as [string];
  const port = Number(/:(\d+) /.exec(line)![1]);
  try {
    return await driveFanout(name, port, child.pid!, SUBS, lines, stream);
  } catch (err) {
    console.error((err as Error).message);
    return { rate: NaN, cpu: NaN, clientBusy: NaN };
  } finally {
    const exited = once(child, 'exit');
    child.kill('SIGKILL');
    await exited;
  }
}

const runs: Record<string, FanoutRun[]> = Object.fromEntries(contenders.map(([n]) => [n, []]));
const load: number[] = [];
for (let r = 0; r < ROUNDS; r++) {
  for (const [name, args] of contenders) {
    runs[name]!.push(await run(name, args));
    load.push(os.loadavg()[0]!);
  }
}
const med = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)]!;
const base = med(runs['plain-batched']!.map(r => r.rate));
const baseCpu = med(runs['plain-batched']!.map(r => r.cpu));
console.log(`fan-out A/B: ${SUBS} subscribers, ${MSGS} messages of ${SIZE} B, ${ROUNDS} rounds alternating; load (1 min) ${Math.min(...load).toFixed(1)}–${Math.max(...load).toFixed(1)}`);
for (const [name] of contenders) {
  const r = runs[name]!.map(x => x.rate), c = runs[name]!.map(x => x.cpu);
  console.log(`${name.padEnd(14)} ${Math.round(med(r)).toLocaleString('en').padStart(12)} deliveries/s  (${r.map(v => Math.round(v).toLocaleString('en')).join(', ')})  ${(med(r) / base).toFixed(2)}x`
    + `   server CPU ${med(c).toFixed(1)} ns/delivery (${c.map(v => v.toFixed(1)).join(', ')})  ${(med(c) / baseCpu).toFixed(2)}x`
    + `   client busy ${runs[name]!.map(x => `${Math.round(x.clientBusy * 100)}%`).join(', ')}`);
}
