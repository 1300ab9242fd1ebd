// The messages between a thread that runs a ringwire server (serveInWorker) and
// the thread that started it (WorkerLink). Few and rare: a handshake that hands
// over the stats block's memory, sockets in transfer mode, error reports, a
// cluster's topics (a thread's first subscriber joined, its last left), and the
// drain at close (close, quiet, release, closed: drain.ts) with the handler's
// onStop after it (stopError, closed: lifecycle.ts). Stats themselves never travel as messages: the parent reads
// the worker's stats block in shared memory with Atomics.

import type { HOOKS } from '../net/handler.ts';
import type { ServerOptions } from '../net/server.ts';
import type { SwitchboardInit } from '../net/switchboard.ts';

export type Balance = 'reuseport' | 'transfer';

/** What a worker started by WorkerServer is told to do (its workerData). */
export interface WorkerInit extends Omit<ServerOptions, (typeof HOOKS)[number] | 'signal' | 'core' | 'cluster'> {
  core?: 'wasm' | 'js';
  /** A module (file path or URL) exporting the hooks (handler.ts); each thread imports it. */
  handler?: string;
  balance: Balance;
  /** reuseport: where to listen (every worker listens there with reusePort). */
  port?: number;
  host?: string;
  /** reuseport: each worker's listen queue per socket, and listening sockets (ListenOptions). */
  backlog?: number;
  listeners?: number;
  /** sendTo and publish across the server's threads: the shared memory, and which place this thread serves. */
  switchboard?: SwitchboardInit;
  place?: number;
}

/** Worker → parent. */
export type WorkerMessage =
  | {
    type: 'ringwire:ready';
    /** The bound port (reuseport), or 0 (transfer: the parent listens). */
    port: number;
    /** The core's whole memory and where its stats block lies in it. */
    memory: SharedArrayBuffer;
    statsOffset: number;
    statsCount: number;
  }
  | { type: 'ringwire:clientError'; number: number; message: string; id: string | null; remoteAddress?: string; remotePort?: number }
  /** With a cluster: topic got its first subscriber on this thread (active), or lost its last. */
  | { type: 'ringwire:topic'; topic: string; active: boolean }
  /** Draining: no frame of this thread is in flight any more; its FINs wait for 'ringwire:release' (drain.ts). */
  | { type: 'ringwire:quiet' }
  /** The thread's onStop threw (ERR_HANDLER) or overran drainTimeout (ERR_DRAIN_TIMEOUT): lifecycle.ts. */
  | { type: 'ringwire:stopError'; number: number; message: string }
  /** Drained, and onStop has settled (or overran: then it still runs, and the thread is the parent's to terminate). */
  | { type: 'ringwire:closed'; overran: boolean };

/** Parent → worker. The socket is in the transfer list. */
export type ParentMessage =
  | { type: 'ringwire:socket'; socket: unknown }
  | { type: 'ringwire:close' }
  /** Every thread of the server is quiet: deliver the mailbox, then FIN. */
  | { type: 'ringwire:release' }
  /**
   * The parent has 'ringwire:closed': the thread may let go of its port now. Not
   * before: a message posted the moment before a thread ends can reach the parent
   * after its 'exit' (Node 24), and the answer would be lost.
   */
  | { type: 'ringwire:closedSeen' };


/** Can this Node transfer sockets to worker threads (postMessage with a socket in the transfer list)? From 24.20. */
export function canTransferSockets(version = process.versions.node): boolean {
  const [major = 0, minor = 0] = version.split('.').map(Number);
  return major > 24 || (major === 24 && minor >= 20);
}
