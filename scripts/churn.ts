// Publish and join churn against a worker server's memory (issue 23): per round,
// `--clients` connections join and leave random topics among `--topics` while
// `--publishers` connections publish to random topics, for `--seconds`; then every
// client closes. The server's RSS and each thread's V8 heap are read before the
// first round, at the end of each round's load, and after each round once its
// clients have closed and `--settle` has passed. Memory that does not come back
// between rounds grows round after round; memory that only follows the load is
// flat across rounds. Prints a table, writes JSON.
//
//   npm run build && node scripts/churn.ts                       500 clients, 5,000 topics, 20 publishers, 20 s, 3 rounds, --workers 2
//   node scripts/churn.ts --seconds 5 --rounds 2 --core js       shorter, on the JS core
//   node scripts/churn.ts --no-gc                                heaps as they are (default: after a full GC in each thread, so "used" is what is kept)
//
// The server is `createWorkerServer` from the build (dist/index.js) with
// scripts/churn-handler.mjs, in a child process (`--role server`, started with
// --expose-gc unless --no-gc) that answers memory questions over IPC; the worker
// heaps are read through connections that land on each worker ("mem").
// Bounded: each round lasts --seconds plus --settle, every wait has a deadline,
// and the server process is killed by its PID at the end. Loopback only.

import { fork, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { machine } from '../src/bench/machine.ts';
import { renderTable } from '../src/bench/text-table.ts';
import { parseDuration } from '../src/units.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const self = fileURLToPath(import.meta.url);
const handler = path.join(root, 'scripts/churn-handler.mjs');
const sleep = (ms: number) => new Promise(r => setTimeout(r, ms));
const MiB = 1024 * 1024;

interface Memory {
  rss: number;
  mainUsed: number;
  mainTotal: number;
  /** Per worker thread: heap used and total. */
  workers: { thread: number; used: number; total: number }[];
  /** Publishes refused 'full' so far, all workers. */
  full: number;
}

// ---------- the server role ----------

async function server(workers: number, core: string): Promise<void> {
  const { createWorkerServer } = (await import(pathToFileURL(path.join(root, 'dist/index.js')).href)) as typeof import('../src/index.ts');
  const s = createWorkerServer({ workers, framing: 'line', handler, core: core as 'wasm' | 'js', maxConnections: 2048 });
  const { port } = await s.listen(0, '127.0.0.1');
  process.on('message', (m: string) => {
    if (m === 'mem') {
      (globalThis as { gc?: () => void }).gc?.();
      const u = process.memoryUsage();
      process.send!({ rss: u.rss, used: u.heapUsed, total: u.heapTotal });
    } else if (m === 'stop') void s.close().then(() => process.exit(0));
  });
  process.send!({ port });
}

// ---------- the driver ----------

/** A line client that counts the lines it receives and can ask one question. */
class Client {
  readonly socket: net.Socket;
  lines = 0;
  private partial = '';
  private waiting: ((line: string) => void) | undefined;

  constructor(port: number) {
    this.socket = net.connect({ port, host: '127.0.0.1', noDelay: true });
    this.socket.setEncoding('latin1');
    this.socket.on('data', (d: string) => {
      const parts = (this.partial + d).split('\n');
      this.partial = parts.pop()!;
      this.lines += parts.length;
      if (this.waiting) for (const line of parts) if (line.startsWith('mem ')) this.waiting(line);
    });
    this.socket.on('error', () => {});
  }

  ready(): Promise<unknown> {
    return new Promise((resolve, reject) => {
      this.socket.once('connect', resolve);
      this.socket.once('error', reject);
    });
  }

  ask(line: string, timeout: number): Promise<string> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no answer to ${line} in ${timeout} ms`)), timeout);
      this.waiting = answer => {
        clearTimeout(timer);
        this.waiting = undefined;
        resolve(answer);
      };
      this.socket.write(`${line}\n`);
    });
  }
}

/** One connection per worker (new connections until every worker answered, at most 64), asked "mem". */
async function workerHeaps(port: number, workers: number): Promise<{ thread: number; used: number; total: number; full: number }[]> {
  const seen = new Map<number, { thread: number; used: number; total: number; full: number }>();
  for (let i = 0; i < 64 && seen.size < workers; i++) {
    const c = new Client(port);
    try {
      await c.ready();
      const [, thread, used, total, full] = (await c.ask('mem', 10_000)).split(' ').map(Number);
      seen.set(thread!, { thread: thread!, used: used!, total: total!, full: full! });
    } finally {
      c.socket.destroy();
    }
  }
  return [...seen.values()].sort((a, b) => a.thread - b.thread);
}

async function memory(child: ChildProcess, port: number, workers: number): Promise<Memory> {
  const heaps = await workerHeaps(port, workers);
  const main = await new Promise<{ rss: number; used: number; total: number }>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the server did not answer "mem"')), 10_000);
    child.once('message', m => {
      clearTimeout(timer);
      resolve(m as { rss: number; used: number; total: number });
    });
    child.send('mem');
  });
  return { rss: main.rss, mainUsed: main.used, mainTotal: main.total, workers: heaps.map(({ full: _, ...h }) => h), full: heaps.reduce((n, h) => n + h.full, 0) };
}

interface Load {
  clients: number;
  topics: number;
  publishers: number;
  ms: number;
  /** Each subscriber's pause between two joins or leaves. */
  every: number;
  /** Lines each publisher writes per turn. */
  burst: number;
}

/** One round of load: joins, leaves and publishes for load.ms; returns what was sent and received, and the clients, still open. */
async function round(port: number, load: Load, seed: number): Promise<{ joins: number; leaves: number; published: number; received: number; closedEarly: number; clients: Client[] }> {
  let s = seed;
  const random = (n: number) => {
    s = (Math.imul(s, 1103515245) + 12345) | 0;
    return ((s >>> 8) % n);
  };
  const subs = Array.from({ length: load.clients }, () => new Client(port));
  const pubs = Array.from({ length: load.publishers }, () => new Client(port));
  await Promise.all([...subs, ...pubs].map(c => c.ready()));
  let joins = 0;
  let leaves = 0;
  let published = 0;
  const end = performance.now() + load.ms;
  const joined = subs.map(() => [] as number[]);
  const churn = setInterval(() => {
    for (let i = 0; i < subs.length; i++) {
      const mine = joined[i]!;
      if (mine.length > 0 && random(2) === 0) {
        const t = mine.splice(random(mine.length), 1)[0]!;
        subs[i]!.socket.write(`l t${t}\n`);
        leaves++;
      } else {
        const t = random(load.topics);
        mine.push(t);
        subs[i]!.socket.write(`j t${t}\n`);
        joins++;
      }
    }
  }, load.every);
  const publishing = pubs.map(async (p, k) => {
    const text = `from-${k} ${'x'.repeat(40)}`;
    while (performance.now() < end && !p.socket.destroyed) {
      let lines = '';
      for (let i = 0; i < load.burst; i++) lines += `p t${random(load.topics)} ${text}\n`;
      published += load.burst;
      if (!p.socket.write(lines)) await new Promise(r => p.socket.once('drain', r));
      else await new Promise(r => setImmediate(r));
    }
  });
  await Promise.all(publishing);
  clearInterval(churn);
  await sleep(200); // the last deliveries arrive
  const received = subs.reduce((n, c) => n + c.lines, 0);
  const closedEarly = subs.filter(c => c.socket.destroyed || c.socket.readyState !== 'open').length;
  return { joins, leaves, published, received, closedEarly, clients: [...subs, ...pubs] };
}

function loadAverage(): string {
  return fs.readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
}

async function driver(argv: string[]): Promise<void> {
  const { values } = parseArgs({ args: argv, options: {
    workers: { type: 'string', default: '2' }, clients: { type: 'string', default: '500' }, topics: { type: 'string', default: '5000' },
    publishers: { type: 'string', default: '20' }, seconds: { type: 'string', default: '20' }, rounds: { type: 'string', default: '3' },
    settle: { type: 'string', default: '3s' }, every: { type: 'string', default: '10ms' }, burst: { type: 'string', default: '50' },
    core: { type: 'string', default: 'wasm' }, 'no-gc': { type: 'boolean', default: false },
    out: { type: 'string', default: path.join(root, 'bench-results') }, help: { type: 'boolean', short: 'h' },
  } });
  if (values.help) {
    console.log(fs.readFileSync(self, 'utf8').split('\n').filter(l => l.startsWith('//')).map(l => l.slice(3)).join('\n'));
    return;
  }
  const workers = Number(values.workers);
  const rounds = Number(values.rounds);
  const settleMs = parseDuration('--settle', values.settle);
  const load: Load = {
    clients: Number(values.clients), topics: Number(values.topics), publishers: Number(values.publishers),
    ms: Number(values.seconds) * 1000, every: parseDuration('--every', values.every), burst: Number(values.burst),
  };
  const gc = !values['no-gc'];
  const m = machine();
  console.log(`churn: ${load.clients} clients joining and leaving random topics among ${load.topics} (one op each every ${load.every} ms), ${load.publishers} publishers (${load.burst} lines a turn), ${values.seconds} s a round, ${rounds} rounds, --workers ${workers}, core ${values.core}, heaps ${gc ? 'after a full GC' : 'as they are'}`);
  console.log(`Node ${m.node}, ${m.cpuModel} x ${m.cores}, commit ${m.gitCommit?.slice(0, 7) ?? '?'}${m.gitDirty ? ' (dirty)' : ''}, load average ${loadAverage()}`);
  const child = fork(self, ['--role', 'server', '--workers', String(workers), '--core', values.core], { execArgv: gc ? ['--expose-gc'] : [], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const deadline = setTimeout(() => {
    console.error('churn: gave up (the run took longer than its bound)');
    child.kill('SIGKILL');
    process.exit(1);
  }, rounds * (load.ms + settleMs + 60_000) + 60_000);
  try {
    const port = await new Promise<number>((resolve, reject) => {
      child.once('message', msg => resolve((msg as { port: number }).port));
      child.once('exit', code => reject(new Error(`the server exited (${code})`)));
    });
    const samples: ({ phase: string; round: number } & Memory & Partial<Omit<Awaited<ReturnType<typeof round>>, 'clients'>>)[] = [];
    samples.push({ phase: 'before', round: 0, ...(await memory(child, port, workers)) });
    for (let r = 1; r <= rounds; r++) {
      const before = performance.now();
      const { clients, ...counts } = await round(port, load, r * 7919);
      const seconds = (performance.now() - before) / 1000;
      samples.push({ phase: 'loaded', round: r, ...(await memory(child, port, workers)), ...counts });
      console.log(`round ${r}: ${counts.joins} joins, ${counts.leaves} leaves, ${counts.published} published, ${counts.received} delivered in ${seconds.toFixed(1)} s${counts.closedEarly ? `, ${counts.closedEarly} subscribers closed early` : ''}`);
      for (const c of clients) c.socket.destroy(); // every client of the round closes
      await sleep(settleMs);
      samples.push({ phase: 'closed', round: r, ...(await memory(child, port, workers)) });
    }
    const f = (b: number) => (b / MiB).toFixed(1);
    console.log('');
    console.log(renderTable(['round', 'phase', 'RSS MiB', 'main heap used / total MiB', ...Array.from({ length: workers }, (_, i) => `worker ${i + 1} heap used / total MiB`)],
      samples.map(x => [String(x.round), x.phase, f(x.rss), `${f(x.mainUsed)} / ${f(x.mainTotal)}`, ...x.workers.map(w => `${f(w.used)} / ${f(w.total)}`)]), 'markdown', 2));
    fs.mkdirSync(values.out, { recursive: true });
    const file = path.join(values.out, `churn-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
    fs.writeFileSync(file, `${JSON.stringify({ machine: m, load, rounds, settleMs, gc, core: values.core, workers, loadAverage: loadAverage(), samples }, null, 2)}\n`);
    console.log(`\nwrote ${path.relative(process.cwd(), file)}`);
    child.send('stop');
    await new Promise(r => child.once('exit', r));
  } finally {
    clearTimeout(deadline);
    if (child.exitCode === null) child.kill('SIGKILL');
  }
}

const { values: role } = parseArgs({ args: process.argv.slice(2), strict: false, options: { role: { type: 'string' }, workers: { type: 'string' }, core: { type: 'string' } } });
if (role.role === 'server') await server(Number(role.workers), String(role.core));
else await driver(process.argv.slice(2));
