// The worked application (examples/job-queue/, docs/workers.md) on real sockets,
// both cores, two worker threads: its protocol; 200 connections pipelining 20,000
// PUTs, each reply checked against the database (in order, committed) and every
// subscriber, on either thread, notified of every job; and `ringwire serve`
// stopped by SIGTERM in the middle of the load: no acknowledged job is missing
// from the database, and no subscriber misses the notification of one.
import { once } from 'node:events';
import { Worker } from 'node:worker_threads';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { afterEach, describe, expect, it } from 'vitest';
import { createWorkerServer, type WorkerServer } from 'ringwire';
import { killStarted, listening, startCli } from './cli-process.ts';
import { CORES } from './harness.ts';
import { LineClient } from './line-client.ts';

const HANDLER = new URL('../examples/job-queue/handler.mjs', import.meta.url).pathname;
const dir = mkdtempSync(path.join(tmpdir(), 'ringwire-job-queue-'));
let files = 0;
const freshDb = () => path.join(dir, `jobs-${++files}.db`);

/** Every row, id → payload, read after the server closed its connections. */
function rows(db: string): Map<number, string> {
  const reader = new DatabaseSync(db, { readOnly: true });
  try {
    return new Map(reader.prepare('SELECT id, payload FROM jobs').all().map(r => [Number(r.id), String(r.payload)]));
  } finally {
    reader.close();
  }
}

/** A subscriber: SUB, then every "NEW <id> <payload>" as id → payload, in arrival order. */
async function subscribe(port: number): Promise<LineClient> {
  const c = await LineClient.open(port);
  expect(await c.ask('SUB', 'OK')).toBe('OK SUB');
  return c;
}

function notified(c: LineClient): [number, string][] {
  return c.with('NEW ').map(l => {
    const [, id, payload] = /^NEW (\d+) (.*)$/.exec(l)!;
    return [Number(id), payload!];
  });
}

/** Ids strictly increasing: the writer's commit order, kept by one connection's replies and by each subscriber's notifications. */
function increasing(ids: number[]): boolean {
  return ids.every((id, i) => i === 0 || id > ids[i - 1]!);
}

const servers: WorkerServer[] = [];
afterEach(async () => { await Promise.all(servers.splice(0).map(s => s.close())); });
afterEach(killStarted);

/** What the server reported closing (clientError), to say why a client saw its connection close. */
const reported: string[] = [];
const why = (err: Error) => {
  const counts = new Map<string, number>();
  for (const r of reported) counts.set(r, (counts.get(r) ?? 0) + 1);
  throw new Error(`${err.message}; the server reported: ${[...counts].map(([r, n]) => `${n} × ${r}`).join('; ') || 'nothing'}`);
};

/** The drain's two lines, and nothing else but stall warnings (a loaded machine's): no warning, no error, no reset. */
function expectCleanDrain(stderr: string): void {
  const lines = stderr.split('\n').filter(l => l !== '' && !l.startsWith('ringwire: stall: '));
  expect(lines.join('\n')).toMatch(/^ringwire: SIGTERM: draining \d+ connection\(s\)\nringwire: closed after \d+ connections, \d+ frames in, \d+ frames out, 0 errors$/);
}

// Limits that only guard against a hang: on a loaded machine the load takes long, and that is not a failure.
const HANG = 60_000;

async function start(core: 'wasm' | 'js', db: string): Promise<{ server: WorkerServer; port: number }> {
  // A small mailbox (64 KiB, against 1 MiB by default): the writer's notifications often find it full, so
  // publishAsync's wait for room is exercised (with publish(), which does not wait, subscribers miss jobs here).
  const server = createWorkerServer({ workers: 2, core, framing: 'line', concurrency: 64, mailbox: 64 * 1024, handler: HANDLER, handlerOptions: { db } });
  servers.push(server);
  reported.length = 0;
  server.on('clientError', err => reported.push(`${err.code} ${err.message}`));
  const { port } = await server.listen(0, '127.0.0.1');
  return { server, port };
}

describe.each(CORES)('the job queue (examples/job-queue) core=%s', core => {
  it('answers PUT, TAKE, GET, SUB and QUIT; a connection reads its own writes even pipelined', async () => {
    const { port } = await start(core, freshDb());
    const sub = await subscribe(port);
    const c = await LineClient.open(port);
    // A GET waits for the connection's earlier writes, pipelined or not (it may also see later ones: they can share a commit).
    c.socket.write('PUT first\nPUT second job\nGET 2\nGET 3\nGET x\nPUT\n');
    await c.until(() => c.lines.length === 6);
    c.socket.write('TAKE\nGET 1\nTAKE\nTAKE\nQUIT\n');
    await c.until(() => c.closed);
    expect(c.lines).toEqual([
      'OK 1', 'OK 2', 'JOB 2 new second job', 'ERR no job 3', 'ERR unknown command', 'ERR unknown command',
      'JOB 1 first', 'JOB 1 taken first', 'JOB 2 second job', 'NONE', 'BYE',
    ]);
    await sub.until(() => notified(sub).length === 2);
    expect(notified(sub)).toEqual([[1, 'first'], [2, 'second job']]);
  });

  it('fails the start without a db in its handler options, naming the module and the thread', async () => {
    const server = createWorkerServer({ workers: 2, core, framing: 'line', handler: HANDLER });
    servers.push(server);
    await expect(server.listen(0, '127.0.0.1')).rejects.toMatchObject({
      code: 'ERR_BAD_CONFIG', message: expect.stringMatching(/^onStart of handler module .*job-queue\/handler\.mjs failed on thread [01] of 2: give --handler-options/),
    });
  });

  it('200 connections pipelining 20,000 PUTs: every reply in order and committed, every subscriber on either thread notified of every job', async () => {
    const db = freshDb();
    const { server, port } = await start(core, db);
    // One after another: each goes to the worker with fewer connections (balance transfer), so two on each thread.
    const subscribers: LineClient[] = [];
    for (let i = 0; i < 4; i++) subscribers.push(await subscribe(port));
    expect(server.subscribers('jobs')).toBe(4);
    expect(server.stats().workers.map(w => w.connections)).toEqual([2, 2]);

    const CONNECTIONS = 200;
    const PER_CONNECTION = 100;
    const producers = await Promise.all(Array.from({ length: CONNECTIONS }, () => LineClient.open(port)));
    const payload = (i: number, k: number) => `job ${i}.${k}`;
    // Each connection writes all its commands at once: they arrive pipelined, and share commits.
    producers.forEach((p, i) => p.socket.write(Array.from({ length: PER_CONNECTION }, (_, k) => `PUT ${payload(i, k)}\n`).join('')));
    await Promise.all(producers.map(p => p.until(() => p.lines.length === PER_CONNECTION, HANG))).catch(why);

    const committed = rows(db); // WAL: readable while the server runs
    expect(committed.size).toBe(CONNECTIONS * PER_CONNECTION);
    producers.forEach((p, i) => {
      const ids = p.lines.map(l => Number(/^OK (\d+)$/.exec(l)?.[1]));
      // Reply k is the answer to command k: its id holds command k's payload.
      expect(ids.map(id => committed.get(id))).toEqual(Array.from({ length: PER_CONNECTION }, (_, k) => payload(i, k)));
      expect(increasing(ids)).toBe(true);
    });
    for (const s of subscribers) {
      await s.until(() => notified(s).length === committed.size, HANG).catch(why);
      const seen = notified(s);
      expect(increasing(seen.map(([id]) => id))).toBe(true);
      expect(new Map(seen)).toEqual(committed);
    }
    const stats = server.stats().total;
    expect(stats.errors).toBe(0);

    for (const c of [...producers, ...subscribers]) c.socket.end();
    await server.close();
    // SQLite removes the -wal file when the last connection closes, if that close gets the file's exclusive lock:
    // the two threads' onStop close theirs at about the same time, and then neither may (seen once in a full run).
    // A connection opened and closed now is the last only if every thread's onStop closed its own.
    const last = new DatabaseSync(db);
    last.prepare('SELECT count(*) FROM jobs').get(); // a read opens the WAL, so that this close checkpoints and removes it
    last.close();
    expect(existsSync(`${db}-wal`)).toBe(false);
  }, 2 * HANG);

  it('ringwire serve stopped by SIGTERM mid-load: every acknowledged job is in the database and was notified to every subscriber', async () => {
    const db = freshDb();
    // --drain-timeout only guards against a hang here (a loaded machine may take more than the default 10 s).
    const server = startCli(['serve', '--port', '0', '--core', core, '--workers', '2', '--framing', 'line', '--concurrency', '64',
      '--drain-timeout', '60s', '--handler', HANDLER, '--handler-options', JSON.stringify({ db })]);
    const { child, err } = server;
    const port = await listening(server, HANG);
    const subscribers = await Promise.all(Array.from({ length: 3 }, () => subscribe(port)));

    // Producers keep WINDOW commands in flight each until the server closes them.
    const WINDOW = 64;
    const producers = await Promise.all(Array.from({ length: 50 }, async (_, i) => {
      const c = await LineClient.open(port);
      const sent: string[] = [];
      const more = () => {
        if (c.socket.writableEnded) return;
        let lines = '';
        while (sent.length - c.lines.length < WINDOW) {
          sent.push(`job ${i}.${sent.length}`);
          lines += `PUT ${sent.at(-1)}\n`;
        }
        c.socket.write(lines);
      };
      c.socket.on('data', more);
      c.socket.on('end', () => c.socket.end());
      more();
      return { c, sent };
    }));
    const acked = () => producers.reduce((n, p) => n + p.c.lines.length, 0);
    // Each wait names itself and what the server printed if it runs out (a hang seen once in a full run, not alone).
    const deadline = Date.now() + HANG;
    while (acked() < 3000) {
      if (Date.now() > deadline) throw new Error(`only ${acked()} of 3000 jobs acknowledged in ${HANG} ms; the server said:\n${err()}`);
      await new Promise(resolve => setTimeout(resolve, 10));
    }
    child.kill('SIGTERM');
    let late: NodeJS.Timeout | undefined;
    const stuck = new Promise<never>((_, reject) => {
      late = setTimeout(() => reject(new Error(`no exit ${HANG} ms after SIGTERM; the server said:\n${err()}`)), HANG);
    });
    const [code] = await Promise.race([once(child, 'exit'), stuck]);
    clearTimeout(late);
    expect(code, err()).toBe(0);
    await Promise.all([...producers.map(p => p.c), ...subscribers].map(c => c.until(() => c.closed, HANG)));

    const committed = rows(db);
    const told = subscribers.map(s => new Set(s.lines));
    let ackedJobs = 0;
    for (const { c, sent } of producers) {
      expect(sent.length).toBeGreaterThan(c.lines.length); // it was cut off mid-load: commands it sent were never answered
      c.lines.forEach((line, k) => {
        const id = Number(/^OK (\d+)$/.exec(line)?.[1]);
        expect(committed.get(id), `${line}, the answer to PUT ${sent[k]}`).toBe(sent[k]);
        told.forEach((lines, n) => expect(lines.has(`NEW ${id} ${sent[k]}`), `subscriber ${n} notified of ${line}`).toBe(true));
      });
      ackedJobs += c.lines.length;
    }
    expect(ackedJobs).toBeGreaterThanOrEqual(3000);
    // What subscribers were told was committed (jobs committed but never acknowledged may be among them).
    for (const s of subscribers) for (const [id, p] of notified(s)) expect(committed.get(id)).toBe(p);
    expectCleanDrain(err());
  }, 2 * HANG);
});

describe('the job store (examples/job-queue/job-store.mjs)', () => {
  it('threads opening a fresh file at once all open it (SQLite answers "database is locked" at once, not after busy_timeout, to one of two switching it to WAL together)', async () => {
    const threads = 8;
    const dir = mkdtempSync(path.join(tmpdir(), 'ringwire-jobstore-'));
    const files = Array.from({ length: 60 }, (_, i) => path.join(dir, `jobs-${i}.db`));
    const barrier = new SharedArrayBuffer(4 * files.length);
    const workers = Array.from({ length: threads }, () => new Worker(new URL('./fixtures/job-store-opener.mjs', import.meta.url), { workerData: { files, barrier, threads } }));
    const failed = (await Promise.all(workers.map(async w => (await once(w, 'message'))[0] as string[]))).flat();
    expect(failed).toEqual([]);
    for (const f of files) {
      const db = new DatabaseSync(f, { readOnly: true });
      expect(db.prepare('PRAGMA journal_mode').get()).toEqual({ journal_mode: 'wal' });
      expect(db.prepare('SELECT count(*) AS n FROM jobs').get()).toEqual({ n: 0 });
      db.close();
    }
  }, 60_000);
});
