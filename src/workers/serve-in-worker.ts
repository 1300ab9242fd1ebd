// The thread side of a ringwire server running in a worker thread: its own event
// loop, its own core and shared memory. It listens on the port with reusePort
// (every worker does, and the kernel spreads connections) or, in transfer mode,
// serves the sockets its parent accepted and transferred to it. It hands the
// parent its stats block once, reports errors, and drains when told to close.
// The handler's onStart runs once the thread's mailbox is attached and before it
// accepts (or says it is ready for sockets); its onStop after the drain.
// Used by WorkerServer's threads, and by your own workers (ringwire/worker).

import { isMainThread, parentPort } from 'node:worker_threads';
import type net from 'node:net';
import { createCore } from '../core/create.ts';
import { configError, E_DRAIN_TIMEOUT } from '../core/errors.ts';
import { STATS_COUNT } from '../core/core.ts';
import type { Handler } from '../net/handler.ts';
import { RingwireServer } from '../net/server.ts';
import { DRAIN_GATE } from '../net/drain.ts';
import { START_HANDLER, THREAD_PLACE } from '../net/lifecycle.ts';
import { loadHandler } from './handler-module.ts';
import type { ParentMessage, WorkerInit, WorkerMessage } from './protocol.ts';

export interface WorkerServeOptions extends Omit<WorkerInit, 'balance'>, Handler {
  /** Default 'reuseport'. */
  balance?: WorkerInit['balance'];
}

/**
 * Start a ringwire server in this worker thread and link it to the parent thread:
 * the parent can read its stats (attachWorker or WorkerServer) and ask it to drain.
 * Resolves once it is listening (reuseport) or ready for sockets (transfer).
 */
export async function serveInWorker(options: WorkerServeOptions): Promise<RingwireServer> {
  if (isMainThread || !parentPort) throw configError('serveInWorker runs in a worker thread; in the main thread use createServer');
  const port = parentPort;
  // Hooks given directly (your own worker) or as a module (WorkerServer's threads).
  const { handler, balance = 'reuseport', port: listenPort = 0, host = '127.0.0.1', backlog, listeners, switchboard, place = 0, ...serverOptions } = options;
  const server = new RingwireServer({ ...serverOptions, ...(handler ? await loadHandler(handler) : {}) }, createCore);
  server[THREAD_PLACE] = { thread: place, threads: switchboard?.places.length ?? 1 };
  const post = (m: WorkerMessage) => port.postMessage(m);
  server.on('clientError', (err, c) => {
    post({ type: 'ringwire:clientError', number: err.number, message: err.message, id: c.id, remoteAddress: c.remoteAddress, remotePort: c.remotePort });
  });
  // The parent reports it (and terminates the thread if onStop overran: it may never settle).
  let overran = false;
  server.on('stopError', err => {
    overran ||= err.number === E_DRAIN_TIMEOUT;
    post({ type: 'ringwire:stopError', number: err.number, message: err.message });
  });
  let release: (() => void) | undefined;
  // Settles once this thread has started (listening or ready for sockets), or failed to.
  let startDone!: () => void;
  const starting = new Promise<void>(resolve => (startDone = resolve));
  const onMessage = (m: ParentMessage) => {
    if (m.type === 'ringwire:socket') server.serve(m.socket as net.Socket);
    else if (m.type === 'ringwire:release') release?.();
    else if (m.type === 'ringwire:closedSeen') port.off('message', onMessage); // nothing of ours keeps the thread alive any more
    else if (m.type === 'ringwire:close') {
      // The parent drains every thread together (WorkerLink.close): once this one has no
      // frame in flight it says so, and its FINs wait for the parent's release (drain.ts).
      // Closed any other way (server.close() in this thread), it does not wait.
      server[DRAIN_GATE] = () => new Promise<void>(resolve => {
        release = resolve;
        post({ type: 'ringwire:quiet' });
      });
      // A close that comes while the thread starts waits for the start to end, so that an
      // onStart that runs is always followed by its onStop (and nothing starts after a close).
      // The port stays open until the parent has seen the answer ('ringwire:closedSeen').
      void starting.then(() => server.close()).then(() => post({ type: 'ringwire:closed', overran }));
    }
  };
  port.on('message', onMessage);
  try {
    const core = await server.start();
    if (switchboard) {
      server.router.attach(switchboard, place); // this thread's mailbox: sendTo and publish reach it
      // With a cluster, the parent subscribes the host in Redis to the topics its threads have subscribers of.
      if (switchboard.outbox) server.router.watchTopics((topic, active) => post({ type: 'ringwire:topic', topic, active }));
    }
    await server[START_HANDLER](); // before this thread accepts: its failure (ERR_BAD_CONFIG) fails the parent's listen()
    const bound = balance === 'reuseport' ? (await server.listen({ port: listenPort, host, backlog, listeners, reusePort: true })).port : 0;
    post({ type: 'ringwire:ready', port: bound, memory: core.memory, statsOffset: core.config.regions.stats, statsCount: STATS_COUNT });
    return server;
  } finally {
    startDone();
  }
}
