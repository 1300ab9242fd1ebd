// A/B of the routing suite's fan-out cell (src/bench/routing-bench.ts: its client,
// driveFanout, and its servers) between two builds of ringwire, e.g. main's and a
// branch's, against the hand-batched plain server, contenders alternating, 1 and 2
// workers each:
//   node scripts/fanout-ab.ts <base dist/> <new dist/> [subscribers 1000] [bytes 64] [rounds 3] [messages 2000]
// (a base build: git worktree add --detach /tmp/base main, link node_modules, npm run build.)
// Servers are processes of their own on 127.0.0.1, killed by PID after each run.
// Besides deliveries/s it prints the server's CPU time per delivery (user + system,
// all its threads, from /proc/<pid>/stat: Linux), which a loaded machine disturbs
// less than the rate: the generator's share of the cores does not enter it.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { crc32 } from 'node:zlib';
import { driveFanout, fanoutLine } from '../src/bench/routing-bench.ts';

const [baseDist, newDist, subsArg = '1000', sizeArg = '64', roundsArg = '3', msgsArg = '2000'] = process.argv.slice(2);
if (!baseDist || !newDist) throw new Error('usage: node scripts/fanout-ab.ts <base dist/> <new dist/> [subscribers] [bytes] [rounds] [messages]');
const SUBS = Number(subsArg), SIZE = Number(sizeArg), ROUNDS = Number(roundsArg), MSGS = Number(msgsArg);
const builds: Record<string, string> = { main: path.resolve(baseDist), fanout: path.resolve(newDist) };
const plain = fileURLToPath(new URL('../src/bench/plain-fanout.ts', import.meta.url));
const contenders: [string, string[]][] = [
  ['plain-batched', [plain]],
  ...['main', 'fanout'].flatMap(b => ['1', '2'].map((w): [string, string[]] => [`${b}-${w}w`,
    [`${builds[b]}/cli.js`, 'serve', '--port', '0', '--framing', 'line', '--handler', `${builds[b]}/fanout-handler.js`, '--workers', w, '--max-connections', String(SUBS + 64)]])),
];
const lines = Array.from({ length: MSGS }, (_, k) => fanoutLine(k, SIZE));
const stream = Buffer.concat(lines);
const expected = { bytes: stream.length, crc: crc32(stream) };

/** ms of CPU (user + system) process pid has used, from /proc (clock ticks of 10 ms). */
function cpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

/** One run of a server: deliveries/s and server CPU µs per delivery (NaN, NaN when a subscriber missed bytes). */
async function run(name: string, args: string[]): Promise<[number, number]> {
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  const [line] = await once(child.stdout.setEncoding('utf8'), 'data') as [string];
  const port = Number(/:(\d+) /.exec(line)![1]);
  const pid = child.pid!;
  let cpu0 = 0;
  try {
    const rate = await driveFanout(name, port, SUBS, lines, expected, () => (cpu0 = cpuMs(pid)));
    return [rate, ((cpuMs(pid) - cpu0) * 1000) / (SUBS * MSGS)];
  } catch (err) {
    console.error((err as Error).message);
    return [NaN, NaN];
  } finally {
    const exited = once(child, 'exit');
    child.kill('SIGKILL');
    await exited;
  }
}

const rates: Record<string, number[]> = Object.fromEntries(contenders.map(([n]) => [n, []]));
const cpus: Record<string, number[]> = Object.fromEntries(contenders.map(([n]) => [n, []]));
const load: number[] = [];
for (let r = 0; r < ROUNDS; r++) {
  for (const [name, args] of contenders) {
    const [rate, cpu] = await run(name, args);
    rates[name]!.push(rate);
    cpus[name]!.push(cpu);
    load.push(os.loadavg()[0]!);
  }
}
const med = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)]!;
const base = med(rates['plain-batched']!);
const baseCpu = med(cpus['plain-batched']!);
console.log(`fan-out A/B: ${SUBS} subscribers, ${MSGS} messages of ${SIZE} B, ${ROUNDS} rounds alternating; load (1 min) ${Math.min(...load).toFixed(1)}–${Math.max(...load).toFixed(1)}`);
for (const [name] of contenders) {
  const r = rates[name]!, c = cpus[name]!;
  console.log(`${name.padEnd(14)} ${Math.round(med(r)).toLocaleString('en').padStart(12)} deliveries/s  (${r.map(v => Math.round(v).toLocaleString('en')).join(', ')})  ${(med(r) / base).toFixed(2)}x`
    + `   server CPU ${med(c).toFixed(3)} µs/delivery (${c.map(v => v.toFixed(3)).join(', ')})  ${(med(c) / baseCpu).toFixed(2)}x`);
}
