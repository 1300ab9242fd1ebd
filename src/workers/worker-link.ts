// The parent side of one worker thread that runs serveInWorker: waits for its
// handshake, reads its stats block straight from shared memory (Atomics, no
// messages), hands it sockets in transfer mode, relays its error reports and
// (with a cluster) the topics it has subscribers of, asks it to drain, and
// relays what went wrong in its handler's onStop ('stopError'). attachWorker(worker) gives you one for a worker of your own.

import { EventEmitter, once } from 'node:events';
import type net from 'node:net';
import type { Worker } from 'node:worker_threads';
import { ringwireError } from '../core/errors.ts';
import { Stats, type StatsSnapshot } from '../core/stats.ts';
import type { ConnectionInfo } from '../net/connection.ts';
import type { ParentMessage, WorkerMessage } from './protocol.ts';

export class WorkerLink extends EventEmitter {
  readonly worker: Worker;
  /** Resolves with the port the worker listens on (0 in transfer mode) once it serves; rejects if it dies first. */
  readonly ready: Promise<number>;
  /** Resolves when the thread has ended, whenever that was. */
  readonly ended: Promise<void>;
  private statsBlock: Stats | undefined;
  private closed: Promise<boolean> | undefined;

  constructor(worker: Worker) {
    super();
    this.worker = worker;
    // Not events.once: it would reject with the error a crashing worker emits first.
    this.ended = new Promise(resolve => worker.once('exit', () => resolve()));
    this.ready = new Promise((resolve, reject) => {
      worker.on('message', (m: WorkerMessage) => {
        if (m?.type === 'ringwire:ready') {
          this.statsBlock = new Stats(m.memory, m.statsOffset, m.statsCount);
          resolve(m.port);
        } else if (m?.type === 'ringwire:clientError') {
          const info: ConnectionInfo = { id: m.id, remoteAddress: m.remoteAddress, remotePort: m.remotePort };
          this.emit('clientError', ringwireError(m.number, m.message), info);
        } else if (m?.type === 'ringwire:topic') {
          this.emit('topic', m.topic, m.active);
        } else if (m?.type === 'ringwire:quiet') {
          this.emit('quiet');
        } else if (m?.type === 'ringwire:stopError') {
          const err = ringwireError(m.number, m.message);
          // Reported, never lost: whoever owns the link listens, or it is a process warning.
          if (this.listenerCount('stopError') > 0) this.emit('stopError', err);
          else process.emitWarning(err.message, { code: err.code });
        } else if (m?.type === 'ringwire:closed') {
          this.worker.postMessage({ type: 'ringwire:closedSeen' } satisfies ParentMessage); // now it may end
          this.emit('drained', m.overran);
        }
      });
      worker.once('error', reject);
      worker.once('exit', code => reject(new Error(`worker exited with code ${code} before it was ready`)));
    });
    this.ready.catch(() => {}); // a failed start is reported through whoever awaits ready
  }

  /** The worker's counters, read now from its shared memory; null before the handshake. */
  stats(): StatsSnapshot | null {
    return this.statsBlock ? this.statsBlock.snapshot() : null;
  }

  /** Hand an accepted, not yet reading socket to the worker (transfer mode; Node >= 24.20). */
  transfer(socket: net.Socket): void {
    const m: ParentMessage = { type: 'ringwire:socket', socket };
    this.worker.postMessage(m, [socket as never]);
  }

  /**
   * Ask the worker's server to stop accepting, drain its connections and run its
   * handler's onStop. Resolves when it has (or the thread has ended): true if its
   * onStop overran drainTimeout (it still runs: terminate the thread to end it).
   * After `timeout` ms the thread is terminated. Once the worker has no frame in
   * flight, its FINs wait for `quiet` to resolve (a worker server's barrier across
   * its threads, drain.ts); by default they go at once.
   */
  close(timeout = 15_000, quiet: () => Promise<void> = () => Promise.resolve()): Promise<boolean> {
    this.closed ??= (async () => {
      const done = Promise.race([once(this, 'drained').then(([overran]) => overran === true), this.ended.then(() => false)]);
      this.once('quiet', () => void quiet().then(() => this.worker.postMessage({ type: 'ringwire:release' } satisfies ParentMessage)));
      const m: ParentMessage = { type: 'ringwire:close' };
      this.worker.postMessage(m);
      const timer = setTimeout(() => void this.worker.terminate(), timeout);
      const overran = await done;
      clearTimeout(timer);
      return overran;
    })();
    return this.closed;
  }
}

/** Link to a worker of yours that calls serveInWorker (ringwire/worker). */
export function attachWorker(worker: Worker): WorkerLink {
  return new WorkerLink(worker);
}
