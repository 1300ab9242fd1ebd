// A handler's life per thread (src/net/lifecycle.ts) on real sockets, both cores:
// onStart once per thread before it accepts, with handlerOptions, its place and
// the thread count; its failure fails listen() naming the module and the thread;
// onStop once per thread after the drain's last FIN, bounded by drainTimeout (an
// overrun is reported; a worker is then terminated); a worker server's close()
// resolves as soon as every thread has stopped, and ends each thread then, whatever
// its module left open (as one thread's `ringwire serve` exits). Then as a user runs it:
// `ringwire serve --handler-options`, SIGTERM, the exit.
import net from 'node:net';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { afterEach, describe, expect, it } from 'vitest';
import { killStarted, listening, refusal, runCli, startCli, type CliProcess } from './cli-process.ts';
import { attachWorker, createEndpoint, createServer, createWorkerServer, type LifecycleContext, type RingwireError, type RingwireServer, type WorkerServer } from 'ringwire';
import { CORES } from './harness.ts';
import { LineClient } from './line-client.ts';

const HANDLER = new URL('./fixtures/lifecycle-handler.mjs', import.meta.url).pathname;
const OPEN_HANDLE = new URL('./fixtures/open-handle-handler.mjs', import.meta.url).pathname;
const dir = mkdtempSync(path.join(tmpdir(), 'ringwire-lifecycle-'));
let logs = 0;
/** A fresh file for the fixture's "start …" and "stop …" lines. */
const logFile = () => path.join(dir, `threads-${++logs}.log`);
const lines = (file: string) => readFileSync(file, 'utf8').trim().split('\n').sort();

const servers: (RingwireServer | WorkerServer)[] = [];
afterEach(async () => { await Promise.all(servers.splice(0).map(s => s.close())); });

describe.each(CORES)('a handler\'s life on one thread core=%s', core => {
  it('runs onStart before accepting, with a copy of handlerOptions, thread 0 of 1 and the server', async () => {
    const seen: string[] = [];
    const handlerOptions = { tag: 'x', list: [1, 2] };
    let context: LifecycleContext | undefined;
    const server = createServer({
      core, framing: 'line', handlerOptions,
      async onStart(c) {
        await new Promise(resolve => setTimeout(resolve, 50));
        context = c;
        seen.push('start');
      },
      onFrame(frame, c) { c.send(frame); },
    });
    servers.push(server);
    server.on('listening', () => seen.push('listening'));
    await server.listen(0);
    expect(seen).toEqual(['start', 'listening']);
    expect(context).toMatchObject({ options: { tag: 'x', list: [1, 2] }, thread: 0, threads: 1 });
    expect(context!.options).not.toBe(handlerOptions); // a clone, as every worker thread gets
    expect(context!.server).toBe(server);
  });

  it('runs onStop once, after the drain\'s last FIN, with the same context', async () => {
    const events: string[] = [];
    let started: LifecycleContext | undefined;
    const server = createServer({
      core, framing: 'line',
      onStart(c) { started = c; },
      onFrame(frame, c) { c.send(frame); },
      onStop(c) {
        expect(c).toBe(started);
        events.push(`stop open=${server.connections.size}`);
      },
    });
    servers.push(server);
    const { port } = await server.listen(0);
    const clients = await Promise.all([LineClient.open(port), LineClient.open(port)]);
    await Promise.all(clients.map(c => c.ask('hello', 'hello')));
    clients.forEach((c, i) => c.socket.once('end', () => events.push(`fin ${i}`)));
    await server.close();
    await server.close();
    expect(events.slice(0, 2).sort()).toEqual(['fin 0', 'fin 1']);
    expect(events.slice(2)).toEqual(['stop open=0']);
  });

  it('fails listen() with ERR_BAD_CONFIG naming the thread when onStart throws; nothing listens, onStop never runs', async () => {
    let stopped = false;
    const server = createServer({
      core,
      onStart: () => Promise.reject(new Error('no database')),
      onStop() { stopped = true; },
    });
    servers.push(server);
    await expect(server.listen(0)).rejects.toMatchObject({ code: 'ERR_BAD_CONFIG', message: 'onStart of the handler failed on thread 0 of 1: no database' });
    expect(server.address()).toBeNull();
    await server.close();
    expect(stopped).toBe(false);
  });

  it('reports an onStop that overruns drainTimeout (ERR_DRAIN_TIMEOUT) and one that throws (ERR_HANDLER), and close() resolves', async () => {
    for (const [onStop, code, message] of [
      [() => new Promise<void>(() => {}), 'ERR_DRAIN_TIMEOUT', /^onStop of the handler on thread 0 of 1 did not settle within drainTimeout \(200 ms\)$/],
      [() => { throw new Error('disk gone'); }, 'ERR_HANDLER', /^onStop of the handler failed on thread 0 of 1: disk gone$/],
    ] as const) {
      const server = createServer({ core, drainTimeout: 200, onStop });
      const reported: [RingwireError, unknown][] = [];
      server.on('stopError', (err, info) => reported.push([err, info]));
      await server.listen(0);
      const started = Date.now();
      await server.close();
      expect(Date.now() - started).toBeLessThan(5000);
      expect(reported).toHaveLength(1);
      expect(reported[0]![0]).toMatchObject({ code, message: expect.stringMatching(message) });
      expect(reported[0]![1]).toEqual({ thread: 0, threads: 1 });
    }
  });

  it('refuses onStart where no thread runs it: an endpoint without a listener, a client', () => {
    expect(() => createEndpoint({ core, onStart() {} } as never)).toThrow(expect.objectContaining({ code: 'ERR_BAD_CONFIG', message: expect.stringContaining('onStart') }));
    expect(() => createServer({ core, onStop: 'close' as never })).toThrow(expect.objectContaining({ code: 'ERR_BAD_CONFIG', message: 'onStop must be a function, got string' }));
  });

  it('refuses handlerOptions that cannot be cloned to a thread, with ERR_BAD_CONFIG', () => {
    for (const make of [
      () => createServer({ core, handlerOptions: { log: () => {} } }),
      () => createWorkerServer({ core, workers: 2, handler: HANDLER, handlerOptions: { socket: new net.Socket() } }),
    ]) {
      expect(make).toThrow(expect.objectContaining({ code: 'ERR_BAD_CONFIG', message: expect.stringMatching(/^handlerOptions must be structured-cloneable/) }));
    }
  });
});

describe.each(CORES)('a handler\'s life on every worker thread core=%s', core => {
  async function start(options: Parameters<typeof createWorkerServer>[0] & { handlerOptions?: Record<string, unknown> }) {
    const log = logFile();
    const server = createWorkerServer({ core, workers: 2, framing: 'line', handler: HANDLER, ...options, handlerOptions: { log, ...options.handlerOptions } });
    servers.push(server);
    const reported: [RingwireError, { thread: number; threads: number }][] = [];
    server.on('stopError', (err, info) => reported.push([err, info]));
    return { server, log, reported };
  }

  it('gives every thread its place and handlerOptions before it accepts; close() resolves once each has run onStop, with no wait', async () => {
    const { server, log } = await start({ handlerOptions: { tag: 'x' } });
    const { port } = await server.listen(0);
    expect(lines(log)).toEqual([`start 0/2 {"log":"${log}","tag":"x"}`, `start 1/2 {"log":"${log}","tag":"x"}`]);
    const clients = await Promise.all(Array.from({ length: 6 }, () => LineClient.open(port)));
    const answers = new Set(await Promise.all(clients.map(c => c.ask('whoami', ''))));
    for (const a of answers) expect(a).toMatch(/^[01]\/2 x$/);
    const fins = clients.map(c => once(c.socket, 'end'));
    // onStart opened a BroadcastChannel on each thread (it keeps a thread alive); onStop closes it.
    const started = Date.now();
    await server.close();
    const ms = Date.now() - started;
    await Promise.all(fins); // every client got its FIN before close() resolved
    expect(lines(log).filter(l => l.startsWith('stop'))).toEqual(['stop 0/2 open=0', 'stop 1/2 open=0']);
    expect(ms).toBeLessThan(1000); // the old close waited 5 s for such threads
    expect(server.stats().workers.map(w => w.state)).toEqual(['closed', 'closed']);
  });

  it('fails listen() with ERR_BAD_CONFIG naming the module and the thread when one thread\'s onStart throws, leaving no thread', async () => {
    const { server, log } = await start({ handlerOptions: { failOn: 1 } });
    const failure = server.listen(0);
    await expect(failure).rejects.toMatchObject({ code: 'ERR_BAD_CONFIG' });
    await expect(failure).rejects.toThrow(`onStart of handler module ${HANDLER} failed on thread 1 of 2: boom on 1`);
    expect(server.stats().workers.map(w => w.state)).toEqual(['closed', 'closed']);
    // A thread that never started never stops. (Thread 0 may not have started either: the failure
    // closes the server, and a thread told to close before its onStart ran is ended without running it.)
    expect(existsSync(log) ? lines(log) : []).not.toContain('stop 1/2 open=0');
  });

  it('terminates a thread whose onStop never settles at drainTimeout, and reports it', async () => {
    const { server, log, reported } = await start({ drainTimeout: 300, handlerOptions: { stopNever: true } });
    await server.listen(0);
    const started = Date.now();
    await server.close();
    expect(Date.now() - started).toBeLessThan(5000);
    expect(lines(log).filter(l => l.startsWith('stop'))).toEqual(['stop 0/2 open=0', 'stop 1/2 open=0']);
    expect(reported.map(([e, info]) => [e.code, e.message, info]).sort()).toEqual([0, 1].map(t => [
      'ERR_DRAIN_TIMEOUT', `onStop of handler module ${HANDLER} on thread ${t} of 2 did not settle within drainTimeout (300 ms)`, { thread: t, threads: 2 },
    ]));
    expect(server.stats().workers.map(w => w.state)).toEqual(['closed', 'closed']);
  });

  it('ends a thread once its onStop settled, even when its module left something open: no wait for drainTimeout, nothing reported', async () => {
    const { server, log, reported } = await start({ handlerOptions: { keepOpen: true } }); // drainTimeout: the default 10 s
    await server.listen(0);
    const started = Date.now();
    await server.close();
    expect(Date.now() - started).toBeLessThan(5000); // not the 10 s drainTimeout it used to wait, before reporting ERR_DRAIN_TIMEOUT
    expect(lines(log).filter(l => l.startsWith('stop'))).toEqual(['stop 0/2 open=0', 'stop 1/2 open=0']);
    expect(reported).toEqual([]);
    expect(server.stats().workers.map(w => w.state)).toEqual(['closed', 'closed']);
  });
});

/** `ringwire serve` in a child process; killed after the test even when an assertion failed. */
afterEach(killStarted);

const serve = (args: string[]): CliProcess => startCli(['serve', '--port', '0', ...args]);

describe.each(CORES)('ringwire serve --handler-options core=%s', core => {
  it('reaches onStart on every thread (JSON or @file), and SIGTERM exits well before --drain-timeout once onStop closed the channels', async () => {
    for (const form of ['json', 'file'] as const) {
      const log = logFile();
      const json = JSON.stringify({ tag: 'x', log });
      const file = path.join(dir, `options-${logs}.json`);
      writeFileSync(file, json);
      const server = serve(['--core', core, '--workers', '2', '--framing', 'line', '--handler', HANDLER, '--handler-options', form === 'json' ? json : `@${file}`]);
      const { child } = server;
      await listening(server);
      expect(lines(log)).toEqual([`start 0/2 ${json}`, `start 1/2 ${json}`]);
      const started = Date.now();
      child.kill('SIGTERM');
      const [code] = await once(child, 'exit');
      expect(Date.now() - started).toBeLessThan(5000); // not the 10 s of --drain-timeout (a loaded machine takes more than 1 s)
      expect(code).toBe(0);
      expect(lines(log).filter(l => l.startsWith('stop'))).toEqual(['stop 0/2 open=0', 'stop 1/2 open=0']);
    }
  });

  it('SIGTERM with a module that has no onStop and keeps a timer open: exits 0 without waiting --drain-timeout, on 2 threads as on 1, nothing logged', async () => {
    for (const workers of ['1', '2']) {
      const server = serve(['--core', core, '--workers', workers, '--handler', OPEN_HANDLE]);
      const { child, err } = server;
      await listening(server);
      const started = Date.now();
      child.kill('SIGTERM');
      const [code] = await once(child, 'exit');
      expect(Date.now() - started, `--workers ${workers}`).toBeLessThan(5000); // not the 10 s (--drain-timeout) 2 workers used to take, before exiting 1
      expect(code).toBe(0);
      const logged = err().split('\n').filter(l => l !== '' && !l.startsWith('ringwire: stall: ')); // a loaded machine's warnings
      expect(logged).toEqual(['ringwire: SIGTERM: draining 0 connection(s)', 'ringwire: closed after 0 connections, 0 frames in, 0 frames out, 0 errors']);
    }
  });

  it('logs an onStop that never settles, terminates its worker at --drain-timeout and exits 1', async () => {
    const server = serve(['--core', core, '--workers', '2', '--drain-timeout', '300ms', '--handler', HANDLER, '--handler-options', '{"stopNever":true}']);
    const { child, err } = server;
    await listening(server);
    const started = Date.now();
    child.kill('SIGTERM');
    const [code] = await once(child, 'exit');
    expect(Date.now() - started).toBeLessThan(5000);
    expect(code).toBe(1);
    for (const t of [0, 1]) expect(err()).toContain(`onStop of handler module ${HANDLER} on thread ${t} of 2 did not settle within drainTimeout (300 ms)`);
  });

  it('exits 2 with one line when onStart throws on a thread, naming the module and the thread', async () => {
    // One thread and two, side by side.
    const runs = await Promise.all(['1', '2'].map(workers => runCli(['serve', '--port', '0', '--core', core, '--workers', workers, '--handler', HANDLER, '--handler-options', '{"failOn":0}'])));
    for (const [i, workers] of ['1', '2'].entries()) {
      const r = runs[i]!;
      expect(r.status).toBe(2);
      expect(r.stderr).toBe(`ringwire: onStart of handler module ${HANDLER} failed on thread 0 of ${workers}: boom on 0 (ERR_BAD_CONFIG)\n`);
    }
  });
});

describe('ringwire serve --handler-options refusals', () => {
  it('exits 2 with one line on a bad value, an unreadable file, or no --handler', async () => {
    for (const [args, message] of [
      [['--handler', HANDLER, '--handler-options', '{tag:x}'], /^ringwire: --handler-options must be JSON or @file\.json with JSON in it: .* \(ERR_BAD_CONFIG\)\n$/],
      [['--handler', HANDLER, '--handler-options', '@/nonexistent/options.json'], /^ringwire: --handler-options: cannot read \/nonexistent\/options\.json: ENOENT \(ERR_BAD_CONFIG\)\n$/],
      [['--handler-options', '{"tag":"x"}'], /^ringwire: --handler-options configures a handler module: give --handler <module> too \(ERR_BAD_CONFIG\)\n$/],
    ] as const) {
      expect(await refusal(['serve', '--port', '0', ...args]), args.join(' ')).toMatch(message);
    }
  });
});

describe('examples/audit-log.mjs under ringwire serve --workers 2', () => {
  it('logs every frame to its thread\'s file, flushed by onStop before SIGTERM exits; a missing directory fails the start', async () => {
    const out = mkdtempSync(path.join(dir, 'audit-'));
    const server = serve(['--workers', '2', '--framing', 'line', '--handler', 'examples/audit-log.mjs', '--handler-options', JSON.stringify({ dir: out })]);
    const { child } = server;
    const port = await listening(server);
    const clients = await Promise.all(Array.from({ length: 4 }, () => LineClient.open(port)));
    await Promise.all(clients.map((c, i) => Promise.all(Array.from({ length: 50 }, (_, j) => c.ask(`c${i} f${j}`, `c${i} f${j}`)))));
    child.kill('SIGTERM');
    expect((await once(child, 'exit'))[0]).toBe(0);
    const logged = [0, 1].flatMap(t => readFileSync(path.join(out, `audit-${t}.log`), 'utf8').trim().split('\n')).map(l => l.split(' ').slice(1).join(' '));
    expect(logged.sort()).toEqual(Array.from({ length: 4 }, (_, i) => Array.from({ length: 50 }, (_, j) => `c${i} f${j}`)).flat().sort());
    const r = await runCli(['serve', '--port', '0', '--handler', 'examples/audit-log.mjs', '--handler-options', '{"dir":"/nonexistent/audit"}']);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/^ringwire: onStart of handler module examples\/audit-log\.mjs failed on thread 0 of 1: ENOENT.* \(ERR_BAD_CONFIG\)\n$/);
  });
});

describe('serveInWorker in an application\'s own worker', () => {
  it('runs inline onStart and onStop with handlerOptions; the link relays an onStop overrun and leaves the thread to its owner', async () => {
    for (const stopNever of [false, true]) {
      const worker = new Worker(new URL('./fixtures/lifecycle-worker.mjs', import.meta.url), { workerData: { tag: 'y', stopNever } });
      const app: Record<string, unknown>[] = [];
      worker.on('message', m => { if (m?.app) app.push(m); });
      const link = attachWorker(worker);
      const reported: RingwireError[] = [];
      link.on('stopError', (err: RingwireError) => reported.push(err));
      await link.ready;
      expect(app).toEqual([{ app: 'started', options: { tag: 'y', stopNever }, thread: 0, threads: 1 }]);
      expect(await link.close()).toBe(stopNever); // true: its onStop overran
      expect(app.at(-1)).toEqual({ app: 'stopped' });
      expect(reported.map(e => e.code)).toEqual(stopNever ? ['ERR_DRAIN_TIMEOUT'] : []);
      await worker.terminate();
    }
  });

  it('answers close() whatever instant the thread ends after saying it closed: 24 overrunning threads, 6 at a time, each answers true', async () => {
    // The thread's last message used to race its exit: a message posted the moment before a
    // thread ends naturally can reach the parent after 'exit' (Node 24: 37 of 600 at load 15,
    // 2 of 300 quiet, in a standalone repro), and close() then answered false for an overrun
    // (seen in CI). The thread now waits for the parent to have seen its answer before it lets go.
    const answers: boolean[] = [];
    for (let batch = 0; batch < 4; batch++) {
      answers.push(...await Promise.all(Array.from({ length: 6 }, async () => {
        const worker = new Worker(new URL('./fixtures/lifecycle-worker.mjs', import.meta.url), { workerData: { tag: 'r', stopNever: true, drainTimeout: 20 } });
        const link = attachWorker(worker);
        link.on('stopError', () => {}); // expected: ERR_DRAIN_TIMEOUT each time
        await link.ready;
        const overran = await link.close();
        await worker.terminate();
        return overran;
      })));
    }
    expect(answers.filter(a => !a).length).toBe(0);
  }, 90_000);

  it('told to close while it starts, finishes starting first: its onStart runs, then its onStop, once each', async () => {
    const worker = new Worker(new URL('./fixtures/lifecycle-worker.mjs', import.meta.url), { workerData: { tag: 'z', stopNever: false } });
    const app: unknown[] = [];
    worker.on('message', m => { if (m?.app) app.push(m.app); });
    const link = attachWorker(worker);
    const closed = link.close(); // before it is ready: it used to close at once, then run onStart, and never onStop
    expect(await closed).toBe(false);
    expect(app).toEqual(['started', 'stopped']);
    await link.ready; // it did start
    await worker.terminate();
  });
});
