// One port served by several worker threads, each with its own event loop, core
// and shared memory. Ports are shared in one of two ways, never by one listening
// fd shared between threads (closing it in one thread closes it for all, and a
// worker's exit aborts the process: docs/node-facts.md):
//   reuseport  every worker listens with SO_REUSEPORT; the kernel spreads connections;
//   transfer   this thread accepts and transfers each socket to the worker with the
//              fewest connections (Node >= 24.20); while every worker is restarting,
//              new connections wait, not reading, for the first one back.
// Stats: each worker's stats block is read here from its shared memory. A worker
// that dies is replaced after a backoff; its connections are gone with it, which is
// counted as ERR_WORKER_EXIT (one per connection) and reported as 'workerExit'.
// Invariants: totals are the sums of the per-worker figures, and a worker's figures
// include every earlier thread in its place (nothing counted is ever lost).
// Shared with every worker through workerData, never by messages per connection:
// the per-address table (maxConnectionsPerIp counts across all threads) and each
// worker's heartbeat word. A watchdog here reads the heartbeats: a worker whose
// loop has not run for stallTimeout is reported ('stall'), and one stalled for
// stallRestart is terminated and replaced like a crashed one. A thread that ends
// is reported to every mailbox (Switchboard.writerDied): a post it was terminated
// in the middle of is skipped by its reader, counted, and named in 'workerExit'.

import { EventEmitter } from 'node:events';
import net, { type AddressInfo } from 'node:net';
import os from 'node:os';
import { Worker } from 'node:worker_threads';
import { configError, E_NO_DESCRIPTORS, E_WORKER_EXIT, ringwireError, type RingwireError } from '../core/errors.ts';
import { S_STALLS } from '../core/core.ts';
import { standaloneStats, sumStats, type StatsSnapshot } from '../core/stats.ts';
import type { ConnectionInfo } from '../net/connection.ts';
import type { EndpointEvents } from '../net/endpoint.ts';
import { HOOKS } from '../net/handler.ts';
import { PARENT, Switchboard, type PublishResult, type SendResult } from '../net/switchboard.ts';
import { Asks, DEFAULT_ASK_TIMEOUT, type AskOptions } from '../net/asks.ts';
import { DEFAULT_POST_TIMEOUT, PostQueue } from '../net/post-queue.ts';
import { Cluster } from '../net/cluster.ts';
import type { ServerStats, ThreadStats } from '../net/server-stats.ts';
import { checkServerOptions, type ListenOptions, type ServerOptions } from '../net/server.ts';
import { DEFAULT_DRAIN_TIMEOUT, ENDPOINT_RULES } from '../net/endpoint-config.ts';
import { API_NAMES, checkKnown, checkNumber, checkOptions, deadline, duration, OTHER, type OptionNames, type Rule } from '../net/option-rules.ts';
import { listenerCount, ListenerSet } from '../net/listener-set.ts';
import { createAddressTable } from '../net/address-table.ts';
import { DEFAULT_STALL_TIMEOUT } from '../net/endpoint.ts';
import { createHeartbeat, Heartbeat, HEARTBEAT_PERIOD, heartbeatClock, lastBeat } from '../net/heartbeat.ts';
import { resolveConfig } from '../core/config.ts';
import { handlerUrl } from './handler-module.ts';
import { canTransferSockets, type Balance, type WorkerInit } from './protocol.ts';
import { WorkerLink } from './worker-link.ts';
import { MetricsRegistry, type MetricsOptions } from '../metrics/registry.ts';
import { canReusePort, REUSEPORT_PLATFORMS } from '../net/port-sharing.ts';
import { DescriptorReserve } from './descriptor-reserve.ts';
import { DrainBarrier } from '../net/drain.ts';
import { cloneHandlerOptions } from '../net/lifecycle.ts';

export interface WorkerServerOptions extends Omit<ServerOptions, (typeof HOOKS)[number] | 'core'> {
  /** Worker threads: a number, or 'auto' for the machine's available parallelism. Default 'auto'. */
  workers?: number | 'auto';
  /** How the port is shared. Default 'transfer' where Node can transfer sockets (>= 24.20), else 'reuseport'. */
  balance?: Balance;
  /** A module (path or URL) exporting the hooks (onFrame…, onStart, onStop); each worker imports it. Default: echo in the core. */
  handler?: string;
  core?: 'wasm' | 'js';
  /** Restart backoff: the first delay, doubled after each quick failure, up to max. Default 100 ms … 10 s. */
  restartDelay?: { min: number; max: number };
  /** A worker whose event loop is blocked this many ms is terminated and replaced. Default 30000; 0 = never. */
  stallRestart?: number;
  /** Bytes of each worker's mailbox for sendTo and publish (a power of two). Default 1 MiB. */
  mailbox?: number;
}

const DEFAULT_STALL_RESTART = 30_000;

/** The worker server's own options (option-rules.ts); the rest are a server's (checkServerOptions). */
const WORKER_RULES = {
  workers: OTHER, balance: OTHER, handler: OTHER, restartDelay: OTHER, mailbox: OTHER,
  // A thread beats every HEARTBEAT_PERIOD: a stall shorter than two periods cannot be told from a late beat.
  stallRestart: deadline(2 * HEARTBEAT_PERIOD),
} as const satisfies { readonly [K in Exclude<keyof WorkerServerOptions, keyof ServerOptions>]-?: Rule };

/** Check a worker server's options (ERR_BAD_CONFIG naming the first one that cannot be honoured); the command line runs it too, naming its flags. */
export function checkWorkerServerOptions(options: WorkerServerOptions, names: OptionNames = API_NAMES): void {
  const hooks: readonly string[] = HOOKS;
  checkKnown(options, [...Object.keys(ENDPOINT_RULES).filter(k => !hooks.includes(k)), 'upstream', 'cluster', 'handlerOptions', ...Object.keys(WORKER_RULES)], '', names);
  const { workers, balance, handler, restartDelay, stallRestart, mailbox, ...server } = options;
  checkNumber('stallRestart', stallRestart, WORKER_RULES.stallRestart, names);
  if (balance !== undefined && balance !== 'reuseport' && balance !== 'transfer') throw configError(`${names.name('balance')} must be reuseport or transfer, got "${String(balance)}"`);
  if (restartDelay !== undefined) {
    checkOptions(restartDelay, { min: duration(0), max: duration(0) }, 'restartDelay.', names);
    if (!(restartDelay.min <= restartDelay.max)) throw configError(`restartDelay.min (${restartDelay.min}) must be at most restartDelay.max (${restartDelay.max})`);
  }
  checkServerOptions(server, names);
}

/** One thread's figures (the same shape as a single-thread server's). */
export type WorkerStats = ThreadStats;
export type WorkerServerStats = ServerStats;

export interface WorkerExitInfo {
  worker: number;
  threadId: number;
  exitCode: number;
  /** What the thread threw, if it threw. */
  error?: Error;
  /** Connections it was serving, now closed. */
  connections: number;
  /** ms until its replacement starts (-1: none, the server is closing). */
  restartIn: number;
  /** Mailbox posts (sendTo, publish) it was terminated in the middle of: what it left unpublished is skipped by their readers, counted in each mailbox's `repaired`. */
  postsInterrupted: number;
}

/** Why worker threads serve TCP only. */
export const UNIX_WORKERS = 'worker threads cannot share a Unix socket: Node transfers only TCP sockets to worker threads (balance transfer), '
  + 'and SO_REUSEPORT does not spread Unix-socket connections over listeners (balance reuseport); serve a Unix socket with one thread (createServer; ringwire serve without --workers), or run one process per socket path';

const STABLE_MS = 10_000; // a worker that lived this long resets the backoff
const MAX_WAITING = 1024; // transfer mode: connections held while no worker runs; more are refused

/** A slot for one worker: the current thread, and what earlier threads in it counted. */
class Place {
  link: WorkerLink | undefined;
  state: WorkerStats['state'] = 'starting';
  restarts = 0;
  failures = 0; // quick failures in a row, for the backoff
  startedAt = 0;
  /** The current thread's id (a Worker's own threadId reads -1 once it has exited). */
  threadId = -1;
  /** Sockets transferred to the current thread, for the balance: not yet in its counters. */
  assigned = 0;
  /** The last counters of each earlier thread in this place. */
  readonly retired: StatsSnapshot[] = [];
  /** What this thread counts for the place: connections lost with a thread (ERR_WORKER_EXIT). */
  readonly counted = standaloneStats();
  timer: NodeJS.Timeout | undefined;
  /** The current thread's heartbeat word (heartbeat.ts); a new one for each thread. */
  heartbeat = createHeartbeat();
  /** A stall of the current thread already reported (one 'stall' per stall). */
  stallReported = false;
  /** Why the watchdog terminated the current thread, if it did. */
  killedFor: Error | undefined;
  /** Mailbox posts the last thread in this place was terminated in the middle of (their readers skip what it left). */
  postsInterrupted = 0;
  readonly index: number;
  constructor(index: number) {
    this.index = index;
  }
}

function workerEntry(): URL {
  return new URL(import.meta.url.endsWith('.ts') ? './worker-main.ts' : './worker-main.js', import.meta.url);
}

export interface WorkerServerEvents extends Omit<EndpointEvents, 'connection'> {
  workerStart: [info: { worker: number; threadId: number }];
  workerExit: [error: RingwireError, info: WorkerExitInfo];
}

export class WorkerServer extends EventEmitter<WorkerServerEvents> {
  readonly size: number;
  readonly balance: Balance;
  private readonly places: Place[];
  private readonly init: Omit<WorkerInit, 'port' | 'host'>;
  private readonly restartDelay: { min: number; max: number };
  private readonly stallTimeout: number;
  private readonly stallRestart: number;
  private watchdog: NodeJS.Timeout | undefined;
  /** Transfer mode: this thread accepts (and does nothing else), on `listeners` sockets like any accepting thread. */
  private acceptor: ListenerSet | undefined;
  /** Transfer mode: the descriptor each transfer's dup(2) needs, even at RLIMIT_NOFILE (descriptor-reserve.ts). */
  private reserve: DescriptorReserve | undefined;
  private bound: { port: number; host: string; backlog?: number; listeners?: number } | undefined;
  private closing: Promise<void> | undefined;
  /** Counted in this thread for no worker (transfer mode: a connection no worker could take), and this thread's event-loop lag. */
  private readonly counted = standaloneStats();
  /** This thread's event-loop lag, into `counted` (its stalls are not reported: it serves no connection). */
  private heartbeat: Heartbeat | undefined;
  /** Transfer mode: connections held (paused) while no worker is running, until one is. */
  private readonly waiting: net.Socket[] = [];
  /** Every worker's mailbox and liveness table (switchboard.ts): sendTo and publish from any thread. */
  readonly switchboard: Switchboard;
  /** This thread's asks (made on first use) and its posts waiting for room. */
  private asks: Asks | undefined;
  private readonly posts = new PostQueue();
  /** This host in its cluster (cluster.ts), if it has one: connected by listen(). */
  readonly cluster: Cluster | null;

  constructor(options: WorkerServerOptions = {}) {
    super();
    for (const name of HOOKS) {
      if ((options as Record<string, unknown>)[name] !== undefined) {
        throw configError(`${name} cannot cross into worker threads (functions cannot be sent to threads): put the hooks in a module and give its path as handler: './my-handler.mjs'`);
      }
    }
    checkWorkerServerOptions(options);
    const { workers = 'auto', balance, handler, restartDelay, signal, stallRestart, mailbox, cluster, ...serverOptions } = options;
    for (const [where, tls] of [['tls', serverOptions.tls], ['upstream.tls', serverOptions.upstream?.tls]] as const) {
      const fn = Object.keys(tls ?? {}).find(k => typeof (tls as Record<string, unknown>)[k] === 'function');
      // Each worker builds its own TLS context from a copy of these options; a function cannot be copied to a thread.
      if (fn) throw configError(`${where}.${fn} is a function, which cannot cross into worker threads: serve with one thread, or run your own workers with serveInWorker`);
    }
    this.size = workers === 'auto' ? os.availableParallelism() : workers;
    if (!Number.isInteger(this.size) || this.size < 1 || this.size > 256) {
      throw configError(`workers must be 1 to 256 or 'auto', got ${String(workers)}`);
    }
    // Transfer where Node can (>= 24.20): this thread only accepts, so a new client is accepted at
    // once however busy the workers are (docs/limits-and-errors.md, "Accepting under load"); reuseport elsewhere.
    this.balance = balance ?? (canTransferSockets() || !REUSEPORT_PLATFORMS.has(process.platform) ? 'transfer' : 'reuseport');
    if (this.balance === 'transfer' && !canTransferSockets()) {
      throw configError(`balance transfer needs Node >= 24.20 to transfer sockets to worker threads; this is Node ${process.versions.node}: use reuseport`);
    }
    if (this.balance === 'reuseport' && !REUSEPORT_PLATFORMS.has(process.platform)) {
      throw configError(`balance reuseport is not available on ${process.platform}: use transfer`);
    }
    if (this.balance === 'reuseport' && !canReusePort()) {
      throw configError(`worker threads share a port with listen({ reusePort }), which needs Node >= 22.12; this is Node ${process.versions.node}`);
    }
    this.init = { ...serverOptions, handler: handler === undefined ? undefined : handlerUrl(handler), balance: this.balance };
    // Refused here, not when the first thread starts; each thread gets its own copy (workerData).
    if (serverOptions.handlerOptions !== undefined) this.init.handlerOptions = cloneHandlerOptions(serverOptions.handlerOptions);
    // Each worker's core has these slots: a bad configuration fails here (in the mode a handler module implies: websocket framing needs one).
    const slots = resolveConfig({ ...serverOptions, mode: handler === undefined ? 'echo' : 'handler' }).slots;
    if ((serverOptions.maxConnectionsPerIp ?? 0) > 0) {
      // One table for every thread: the cap holds however the connections are spread.
      this.init.addressTable = createAddressTable(slots * this.size);
    }
    this.stallTimeout = serverOptions.stallTimeout ?? DEFAULT_STALL_TIMEOUT;
    this.stallRestart = stallRestart ?? DEFAULT_STALL_RESTART;
    this.restartDelay = restartDelay ?? { min: 100, max: 10_000 };
    this.places = Array.from({ length: this.size }, (_, i) => new Place(i));
    try {
      this.switchboard = Switchboard.create({ places: this.size, slots, mailbox, outbox: cluster !== undefined, parent: true });
    } catch (err) {
      throw configError(`mailbox: ${(err as Error).message}`);
    }
    // This thread holds the host's connections to Redis; the workers tell it which topics they have subscribers of.
    this.cluster = cluster === undefined ? null : new Cluster(cluster, this.switchboard);
    if (signal) {
      if (signal.aborted) queueMicrotask(() => void this.close());
      else signal.addEventListener('abort', () => void this.close(), { once: true });
    }
  }

  /** Start every worker and listen. Resolves with the bound address once every worker serves. */
  async listen(portOrOptions: number | ListenOptions = {}, host?: string): Promise<AddressInfo> {
    const o: ListenOptions = typeof portOrOptions === 'number' ? { port: portOrOptions, host } : portOrOptions;
    if (o.path !== undefined) throw configError(UNIX_WORKERS);
    const where = { port: o.port ?? 0, host: o.host ?? '127.0.0.1' };
    try {
      await this.cluster?.start(); // before the workers: their first subscribers find the cluster ready
      await this.startAll(where, o.backlog, o.listeners);
    } catch (err) {
      await this.close(); // no thread is left behind by a failed start
      throw err;
    }
    if (!this.closing) { // close() during the start (an abort signal) stops nothing that starts after it
      this.startWatchdog();
      this.heartbeat = new Heartbeat(undefined, 0, () => {}, this.counted);
    }
    this.emit('listening');
    return this.address()!;
  }

  /** Read every running worker's heartbeat: report a stall once, replace a worker stalled past stallRestart. */
  private startWatchdog(): void {
    const limits = [this.stallTimeout, this.stallRestart].filter(v => v > 0);
    if (limits.length === 0) return;
    this.watchdog = setInterval(() => {
      const now = heartbeatClock();
      for (const p of this.places) {
        if (p.state !== 'running' || !p.link) continue;
        const beat = lastBeat(p.heartbeat);
        const ms = beat === 0 ? 0 : now - beat - HEARTBEAT_PERIOD;
        if (ms <= (this.stallTimeout || Infinity) && ms <= (this.stallRestart || Infinity)) {
          p.stallReported = false;
          continue;
        }
        if (!p.stallReported && this.stallTimeout > 0 && ms > this.stallTimeout) {
          p.stallReported = true;
          this.emit('stall', { ms, threadId: p.threadId, worker: p.index });
        }
        if (this.stallRestart > 0 && ms > this.stallRestart && !p.killedFor) {
          p.killedFor = new Error(`its event loop was blocked for ${ms} ms (stallRestart ${this.stallRestart} ms): terminated`);
          void p.link.worker.terminate();
        }
      }
    }, Math.max(20, Math.min(250, Math.min(...limits) / 4)));
    this.watchdog.unref();
  }

  private async startAll(where: { port: number; host: string }, backlog = 511, listeners?: number): Promise<void> {
    if (this.balance === 'transfer') {
      // Workers first, so that the first connection finds them running.
      await Promise.all(this.places.map(p => this.start(p)));
      this.reserve = new DescriptorReserve();
      this.acceptor = new ListenerSet({ pauseOnConnect: true, noDelay: true }, {
        connection: socket => this.dispatch(socket),
        shortage: e => this.refused(e, { id: null, remoteAddress: undefined, remotePort: undefined }),
        other: err => {
          if (this.listenerCount('error') > 0) this.emit('error', err);
        },
      });
      await this.acceptor.listen({ port: where.port, host: where.host, backlog, count: listenerCount(listeners), reusePort: false });
      this.bound = { port: (this.acceptor.address() as AddressInfo).port, host: where.host };
    } else if (where.port === 0) {
      // The first worker binds (port 0 picks one); the others join it on that port.
      this.bound = { ...where, backlog, listeners };
      const port = await this.start(this.places[0]!);
      this.bound = { ...this.bound, port };
      await Promise.all(this.places.slice(1).map(p => this.start(p)));
    } else {
      // A known port: every worker binds it at once, so none serves long alone.
      this.bound = { ...where, backlog, listeners };
      await Promise.all(this.places.map(p => this.start(p)));
    }
  }

  address(): AddressInfo | null {
    if (this.acceptor) return this.acceptor.address() as AddressInfo | null; // TCP only (UNIX_WORKERS)
    if (!this.bound) return null;
    return { port: this.bound.port, address: this.bound.host, family: net.isIPv6(this.bound.host) ? 'IPv6' : 'IPv4' };
  }

  /** Totals and per-worker figures, read now from every worker's shared memory. */
  stats(): WorkerServerStats {
    const workers = this.places.map(p => {
      const current = p.link?.stats();
      const own = sumStats([...p.retired, p.counted.snapshot(), ...(current && p.state !== 'restarting' ? [current] : [])]);
      return { ...own, worker: p.index, threadId: p.threadId, state: p.state, restarts: p.restarts };
    });
    const main = this.counted.snapshot();
    const stats: WorkerServerStats = { total: sumStats([...workers, main]), workers, main };
    if (this.cluster) stats.cluster = this.cluster.stats();
    return stats;
  }

  /** The statistics as Prometheus text (format 0.0.4), read now from every worker's shared memory: see MetricsRegistry to mount them. */
  metrics(options?: MetricsOptions): string {
    return new MetricsRegistry(this, options).text();
  }

  /**
   * Send bytes as one frame to the connection `id`, whichever worker owns it,
   * through that worker's mailbox: 'sent', 'full' (no room now: nothing sent) or
   * 'closed' (no such connection). See router.ts.
   */
  sendTo(id: string, bytes: Uint8Array): SendResult {
    return this.switchboard.sendTo(id, bytes);
  }

  /** Send bytes as one frame to every subscriber of topic, one mailbox record per worker for this tick's publishes of the topic ('full': no worker got it, so a retry cannot duplicate it). */
  publish(topic: string, bytes: Uint8Array): PublishResult {
    return this.switchboard.publish(topic, bytes);
  }

  /** sendTo() that waits for room instead of answering 'full' (router.ts: sendToAsync). */
  sendToAsync(id: string, bytes: Uint8Array, options: { timeout?: number } = {}): Promise<'sent' | 'closed'> {
    return this.posts.post(() => this.switchboard.sendTo(id, bytes), options.timeout ?? DEFAULT_POST_TIMEOUT);
  }

  /** publish() that waits for room instead of answering 'full' (router.ts: publishAsync). */
  publishAsync(topic: string, bytes: Uint8Array, options: { timeout?: number } = {}): Promise<'sent'> {
    return this.posts.post(() => this.switchboard.publish(topic, bytes), options.timeout ?? DEFAULT_POST_TIMEOUT);
  }

  /** Subscribers of topic on every worker, read now from shared memory. */
  subscribers(topic: string): number {
    return this.switchboard.subscribers(topic);
  }

  /** The worker that owns key (router.ts: owner). */
  owner(key: string): number {
    return this.switchboard.owner(key);
  }

  /** Ask the onAsk of the worker that owns key (or of worker `to`), from this thread (router.ts: ask). */
  ask(to: string | number, request: Uint8Array, options: AskOptions = {}): Promise<Uint8Array> {
    this.asks ??= new Asks(this.switchboard, PARENT, () => undefined);
    return this.asks.ask(typeof to === 'number' ? to : this.switchboard.owner(to), request, options.timeout ?? DEFAULT_ASK_TIMEOUT);
  }

  /** Stop accepting, drain every worker's connections, run each thread's onStop; resolve as soon as every thread has ended. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      clearInterval(this.watchdog);
      this.heartbeat?.stop();
      this.reserve?.close();
      const stopped = this.acceptor?.close() ?? Promise.resolve();
      for (const socket of this.waiting.splice(0)) socket.destroy();
      // Every thread's FINs wait until no thread has a frame in flight: a handler still
      // running on one may publish to subscribers on all (drain.ts). A thread that ends arrives too.
      const barrier = new DrainBarrier(this.places.filter(p => p.link && p.state !== 'closed').map(p => p.index));
      const drainTimeout = this.init.drainTimeout ?? DEFAULT_DRAIN_TIMEOUT;
      await Promise.all(this.places.map(async p => {
        clearTimeout(p.timer);
        if (!p.link || p.state === 'closed') { p.state = 'closed'; return; }
        p.state = 'closing';
        const link = p.link;
        void link.ended.then(() => barrier.arrive(p.index));
        // The drain and onStop each have drainTimeout in the thread; past both (its loop blocked), it is terminated.
        await link.close(2 * drainTimeout + 5000, () => barrier.arrive(p.index));
        // Drained, and its onStop settled (or overran: the thread reported it): nothing of the
        // server's is left to run there. End it now rather than wait for whatever its module
        // left open (a timer, a pool's socket, a channel), which would keep it alive for ever:
        // the same as a single thread, whose `ringwire serve` exits once drained, so one module
        // stops alike on one thread or many. What onStop did not await is cut short, as it is there.
        await link.worker.terminate();
        p.state = 'closed';
      }));
      await stopped;
      await this.cluster?.close();
      this.emit('close');
    })();
    return this.closing;
  }

  /** Start (or restart) the thread in place p. Resolves with the port it serves once it is ready. */
  private async start(p: Place): Promise<number> {
    p.heartbeat = createHeartbeat();
    p.stallReported = false;
    p.killedFor = undefined;
    const workerData = { ...this.init, ...this.bound, heartbeat: p.heartbeat, switchboard: this.switchboard.init, place: p.index } satisfies WorkerInit;
    const worker = new Worker(workerEntry(), { workerData });
    const link = new WorkerLink(worker);
    const tid = worker.threadId;
    // A dead thread cannot clear its place: senders get 'closed' for its ids from now on.
    // Nor finish a post it was terminated in the middle of: the mailbox's reader skips it.
    worker.once('exit', () => {
      this.switchboard.detach(p.index, tid);
      this.cluster?.dropPlace(p.index);
      p.postsInterrupted = this.switchboard.writerDied(tid);
    });
    p.link = link;
    p.assigned = 0;
    p.state = 'starting';
    p.startedAt = Date.now();
    p.threadId = worker.threadId;
    link.on('topic', (topic: string, active: boolean) => this.cluster?.topic(p.index, topic, active));
    link.on('clientError', (err: RingwireError, info: ConnectionInfo) => {
      if (this.listenerCount('clientError') > 0) this.emit('clientError', err, info);
    });
    link.on('stopError', (err: RingwireError) => this.stopError(p, err));
    let error: Error | undefined;
    worker.on('error', err => { error = err; });
    worker.once('exit', code => this.exited(p, link, code, error));
    const port = await link.ready; // a thread that fails before it serves rejects listen()
    if (this.closing) return port;
    p.state = 'running';
    this.emit('workerStart', { worker: p.index, threadId: p.threadId });
    for (const socket of this.waiting.splice(0)) this.dispatch(socket);
    return port;
  }

  /** A running thread ended: keep what it counted, report it, replace it. */
  private exited(p: Place, link: WorkerLink, exitCode: number, error: Error | undefined): void {
    if (p.link !== link || p.state !== 'running' || this.closing) return; // closing, or never served
    const last = link.stats();
    const connections = last?.connections ?? 0;
    if (last) p.retired.push({ ...last, connections: 0, loopLag: 0 }); // a thread that has ended serves none
    // Its connections died with it: each was closed by ERR_WORKER_EXIT.
    for (let i = 0; i < connections; i++) {
      p.counted.error(E_WORKER_EXIT);
      p.counted.closed(E_WORKER_EXIT);
    }
    // A thread terminated for a stall never ran again to count it.
    if (p.killedFor) p.counted.add(S_STALLS, 1);
    this.restart(p, { threadId: p.threadId, exitCode, error: p.killedFor ?? error, connections, postsInterrupted: p.postsInterrupted });
  }

  /** Start a replacement after the backoff: doubled for each failure within STABLE_MS of its start. */
  private restart(p: Place, what: Omit<WorkerExitInfo, 'worker' | 'restartIn'>): void {
    p.failures = Date.now() - p.startedAt < STABLE_MS ? p.failures + 1 : 0;
    const restartIn = Math.min(this.restartDelay.max, this.restartDelay.min * 2 ** Math.max(0, p.failures - 1));
    p.state = 'restarting';
    const info: WorkerExitInfo = { worker: p.index, ...what, restartIn };
    const why = !what.error ? '' : p.killedFor ? `: ${what.error.message}` : ` after throwing: ${what.error.message}`;
    const posts = what.postsInterrupted > 0 ? `; it was terminated in the middle of ${what.postsInterrupted} mailbox post(s): what it left unpublished is skipped by their readers` : '';
    this.emit('workerExit', ringwireError(E_WORKER_EXIT, `worker ${p.index} (thread ${what.threadId}) exited with code ${what.exitCode}${why}; ${what.connections} connection(s) closed${posts}; restarting in ${restartIn} ms`), info);
    p.timer = setTimeout(() => {
      p.restarts++;
      this.start(p).catch((err: Error) => {
        if (!this.closing) this.restart(p, { threadId: p.threadId, exitCode: 1, error: err, connections: 0, postsInterrupted: 0 });
      });
    }, restartIn);
  }

  /** Transfer mode: the running worker with the fewest connections, counting those in transit. */
  private dispatch(socket: net.Socket): void {
    let best: Place | undefined;
    let bestLoad = Infinity;
    for (const p of this.places) {
      const s = p.state === 'running' ? p.link?.stats() : null;
      if (!s) continue;
      const refused = s.errorsByCode.ERR_TOO_MANY_CONNECTIONS ?? 0;
      const inTransit = Math.max(0, p.assigned - s.accepted - refused);
      const load = s.connections + inTransit;
      if (load < bestLoad) { best = p; bestLoad = load; }
    }
    if (!best && this.waiting.length < MAX_WAITING && !this.closing) {
      // Every worker is restarting: hold the connection (not reading) until one is back.
      this.waiting.push(socket);
      return;
    }
    const who = { id: null, remoteAddress: socket.remoteAddress, remotePort: socket.remotePort };
    if (!best) {
      socket.destroy();
      return this.refused(ringwireError(E_WORKER_EXIT, `connection from ${who.remoteAddress}:${who.remotePort} refused: no worker is running`), who);
    }
    const target = best;
    if (!this.reserve!.spend(() => target.link!.transfer(socket))) {
      socket.destroy(); // frees a descriptor: the reserve is taken back at the next transfer
      return this.refused(ringwireError(E_NO_DESCRIPTORS, `connection from ${who.remoteAddress}:${who.remotePort} closed: no descriptor left to hand it to a worker (EMFILE)`), who);
    }
    target.assigned++;
  }

  /** Report a thread's onStop that threw or overran (and so is terminated): the 'stopError' event, else a process warning. */
  private stopError(p: Place, err: RingwireError): void {
    if (this.listenerCount('stopError') > 0) this.emit('stopError', err, { thread: p.index, threads: this.size });
    else process.emitWarning(err.message, { code: err.code });
  }

  /** Count and report a connection this thread closed itself (no worker, no descriptor). */
  private refused(err: RingwireError, who: ConnectionInfo): void {
    this.counted.error(err.number);
    if (this.listenerCount('clientError') > 0) this.emit('clientError', err, who);
  }
}

/** A server on one port across worker threads. Call listen() to start it. */
export function createWorkerServer(options: WorkerServerOptions = {}): WorkerServer {
  return new WorkerServer(options);
}
