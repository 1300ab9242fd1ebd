// What a publish costs with the exact topic filter (src/net/topic-filter.ts), at
// 10, 1,000 and 100,000 topics subscribed on a worker: a switchboard of two places
// (two workers), the topics subscribed on place 1, and publishes from this thread
// to topics place 1 has ("subscribed": one record to place 1) and to topics no one
// has ("foreign": the filter must send nothing). Every 1,000 publishes both
// mailboxes are emptied by this thread, so a record that went costs its take too
// (what a worker would pay to find no subscriber). Topics cycle through their set
// (a different topic each publish: encoded and hashed each time). The two kinds
// alternate run by run; the median of --rounds runs is printed, with the foreign
// publishes that reached place 1 (0 for an exact filter). Prints a table, writes JSON.
//
//   node scripts/publish-filter.ts                          3 sizes × 5 rounds × 200,000 publishes
//   node scripts/publish-filter.ts --publishes 50000 --rounds 3
//
// One thread, no sockets: it measures the switchboard, not the delivery.

import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { machine } from '../src/bench/machine.ts';
import { renderTable } from '../src/bench/text-table.ts';
import { Switchboard } from '../src/net/switchboard.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const self = fileURLToPath(import.meta.url);
const CHUNK = 1000;
const FOREIGN = 100_000;

const { values } = parseArgs({ options: {
  topics: { type: 'string', default: '10,1000,100000' }, publishes: { type: 'string', default: '200000' }, rounds: { type: 'string', default: '5' },
  out: { type: 'string', default: path.join(root, 'bench-results') }, help: { type: 'boolean', short: 'h' },
} });
if (values.help) {
  console.log(fs.readFileSync(self, 'utf8').split('\n').filter(l => l.startsWith('//')).map(l => l.slice(3)).join('\n'));
  process.exit(0);
}
const sizes = values.topics.split(',').map(Number);
const publishes = Number(values.publishes);
const rounds = Number(values.rounds);
const payload = new Uint8Array(64).fill(0x78);
const foreign = Array.from({ length: FOREIGN }, (_, i) => `elsewhere-${i}`);
const skip = () => {};

/** CPU ns per publish (take included; the process's CPU time, not the wall clock: the machine is shared) over `publishes` publishes cycling through topics, and the records place 1 got. */
function run(board: Switchboard, topics: string[]): { ns: number; reached: number } {
  let reached = 0;
  let k = 0;
  const t0 = process.cpuUsage();
  for (let done = 0; done < publishes; done += CHUNK) {
    for (let i = 0; i < CHUNK; i++) {
      if (board.publish(topics[k]!, payload) !== 'sent') throw new Error('a mailbox was full: make it larger');
      if (++k === topics.length) k = 0;
    }
    board.mailboxes[0]!.take(2 * CHUNK, skip);
    reached += board.mailboxes[1]!.take(2 * CHUNK, skip);
  }
  const used = process.cpuUsage(t0);
  return { ns: (1000 * (used.user + used.system)) / publishes, reached };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
const m = machine();
console.log(`publish through the topic filter: 2 places, topics subscribed on place 1, ${publishes.toLocaleString('en-US')} publishes of 64 B per run, ${rounds} rounds, median`);
console.log(`Node ${m.node}, ${m.cpuModel} x ${m.cores}, commit ${m.gitCommit?.slice(0, 7) ?? '?'}${m.gitDirty ? ' (dirty)' : ''}, load average ${fs.readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')}`);
const results = [];
for (const size of sizes) {
  const board = Switchboard.create({ places: 2, slots: 4, mailbox: 1 << 22 });
  board.attach(0, 1_000_001); // two places with a thread (this one plays both consumers)
  board.attach(1, 1_000_002);
  const mine = Array.from({ length: size }, (_, i) => `room-${i}`);
  for (const topic of mine) board.subscribed(1, topic, 1);
  const subscribed: number[] = [];
  const other: number[] = [];
  let reachedSubscribed = 0;
  let reachedForeign = 0;
  run(board, mine); // warm-up
  run(board, foreign);
  for (let r = 0; r < rounds; r++) {
    const a = run(board, mine);
    const b = run(board, foreign);
    subscribed.push(a.ns);
    other.push(b.ns);
    reachedSubscribed += a.reached;
    reachedForeign += b.reached;
  }
  results.push({ topics: size, subscribedNs: median(subscribed), foreignNs: median(other), subscribedRuns: subscribed, foreignRuns: other,
    subscribedReached: reachedSubscribed / (rounds * publishes), foreignReached: reachedForeign / (rounds * publishes) });
}
console.log('');
console.log(renderTable(['topics on the worker', 'CPU ns per publish to its topics', 'reached it', 'CPU ns per publish to other topics', 'reached it'],
  results.map(r => [r.topics.toLocaleString('en-US'), r.subscribedNs.toFixed(0), `${(100 * r.subscribedReached).toFixed(1)}%`, r.foreignNs.toFixed(0), `${(100 * r.foreignReached).toFixed(1)}%`]), 'markdown'));
fs.mkdirSync(values.out, { recursive: true });
const file = path.join(values.out, `publish-filter-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
fs.writeFileSync(file, `${JSON.stringify({ machine: m, publishes, rounds, results }, null, 2)}\n`);
console.log(`\nwrote ${path.relative(process.cwd(), file)}`);
