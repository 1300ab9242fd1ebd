// What group commit and --concurrency buy the job queue (examples/job-queue/):
// 50 connections each pipeline PUTs to `ringwire`'s worker server (2 workers,
// line framing, SQLite with synchronous=FULL in a temporary directory), against
//   one transaction per job       maxBatch 1, concurrency 1: a handler that commits each command
//   group commit, concurrency 1   one command of each connection out at a time
//   group commit, concurrency 64  a connection's pipelined commands share commits too
// (One transaction per job makes every write wait for the fsyncs of all the writes queued
// before it: with 12,800 of them (200 connections at concurrency 64), or with 200 on a
// busy disk, that is longer than an ask's 5 s timeout, and those connections fail.)
// Rounds alternate the contenders; the table gives the median jobs/s of the rounds
// and the jobs per transaction (the writer's own count, printed by its onStop).
//   npm run build && node bench/job-queue-commits.mjs [jobs per connection, default 40] [rounds, default 3]
// Writes bench-results/job-queue-commits.json (not committed, as the other benchmarks' results).
import net from 'node:net';
import os from 'node:os';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { createWorkerServer } from '../dist/index.js';

const HANDLER = new URL('../examples/job-queue/handler.mjs', import.meta.url).href;
const CONNECTIONS = 50;
const perConnection = Number(process.argv[2] ?? 40);
const rounds = Number(process.argv[3] ?? 3);
const contenders = [
  { name: 'one transaction per job', concurrency: 1, maxBatch: 1 },
  { name: 'group commit, concurrency 1', concurrency: 1 },
  { name: 'group commit, concurrency 64', concurrency: 64 },
];
const dir = mkdtempSync(path.join(os.tmpdir(), 'ringwire-job-queue-bench-'));

/** One round: every connection's PUTs written at once; resolves with jobs/s and jobs per transaction. */
async function round({ concurrency, maxBatch }, n) {
  const db = path.join(dir, `jobs-${n}.db`);
  const server = createWorkerServer({ workers: 2, framing: 'line', concurrency, handler: HANDLER, handlerOptions: { db, maxBatch } });
  const { port } = await server.listen(0, '127.0.0.1');
  // The writer's onStop prints "wrote J jobs in T transactions": a worker's stdout is written to this process's.
  const write = process.stdout.write;
  let perTransaction = NaN;
  process.stdout.write = (chunk, ...rest) => {
    const m = /wrote (\d+) jobs in (\d+) transactions/.exec(String(chunk));
    if (!m) return write.call(process.stdout, chunk, ...rest);
    perTransaction = Number(m[1]) / Number(m[2]);
    return true;
  };
  const started = performance.now();
  const outcomes = await Promise.allSettled(Array.from({ length: CONNECTIONS }, async (_, i) => {
    const socket = net.connect(port, '127.0.0.1');
    await once(socket, 'connect');
    let replies = 0;
    const answered = new Promise((resolve, reject) => {
      socket.on('data', d => {
        for (const b of d) if (b === 10 && ++replies === perConnection) resolve();
      });
      socket.on('close', () => reject(new Error(`connection ${i} closed after ${replies} of ${perConnection} replies`)));
    });
    socket.write(Array.from({ length: perConnection }, (_, k) => `PUT job ${i}.${k}\n`).join(''));
    await answered;
    socket.end();
  }));
  const seconds = (performance.now() - started) / 1000;
  await server.close();
  process.stdout.write = write;
  for (const f of [db, `${db}-wal`, `${db}-shm`]) rmSync(f, { force: true });
  // A connection whose write waited past the ask's timeout was closed (ERR_HANDLER): the round failed.
  const failed = outcomes.filter(o => o.status === 'rejected').length;
  return { jobsPerSecond: failed > 0 ? NaN : (CONNECTIONS * perConnection) / seconds, perTransaction, failed };
}

const results = contenders.map(c => ({ ...c, runs: [] }));
const load = [os.loadavg()[0]];
for (let r = 0; r < rounds; r++) for (const c of results) c.runs.push(await round(c, `${r}-${c.name.replace(/\W+/g, '-')}`));
load.push(os.loadavg()[0]);
const median = xs => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const base = median(results[0].runs.map(r => r.jobsPerSecond).filter(r => !Number.isNaN(r)));
console.log(`${CONNECTIONS} connections x ${perConnection} pipelined PUTs, ${rounds} rounds, Node ${process.version}, ${os.cpus().length} CPUs, load ${load.map(l => l.toFixed(1)).join(' -> ')}`);
console.log('| contender | jobs/s | min-max | vs one per job | jobs per transaction |\n|---|---:|---:|---:|---:|');
const notes = [];
for (const c of results) {
  const failed = c.runs.filter(r => r.failed > 0);
  if (failed.length > 0) notes.push(`${c.name}: ${failed.length} of ${rounds} rounds failed (${failed.map(r => r.failed).join(', ')} connections closed: an ask timed out)`);
  const rates = c.runs.map(r => r.jobsPerSecond).filter(r => !Number.isNaN(r));
  const m = median(rates);
  console.log(`| ${c.name} | ${m.toFixed(0)} | ${Math.min(...rates).toFixed(0)}-${Math.max(...rates).toFixed(0)} | ${(m / base).toFixed(2)}x | ${median(c.runs.map(r => r.perTransaction)).toFixed(1)} |`);
}
for (const note of notes) console.log(note);
mkdirSync(new URL('../bench-results/', import.meta.url), { recursive: true });
writeFileSync(new URL('../bench-results/job-queue-commits.json', import.meta.url), JSON.stringify({ node: process.version, connections: CONNECTIONS, perConnection, rounds, load, results }, null, 2));
rmSync(dir, { recursive: true, force: true });
