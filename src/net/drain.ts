// The drain of one endpoint (close(), SIGTERM): every frame it has read is
// answered, and everything the handlers still running send, to any connection of
// the server (on this thread, or on another through the mailboxes), is delivered
// before any connection gets its FIN; or, past drainTimeout, what is left
// unanswered is counted and its connections reset, so no client can take a
// clean close for a complete answer.
//
//   1. answer   The endpoint stops accepting; every connection stops reading and
//               delivers the frames it has read. Then it reads once more what the
//               kernel holds (Connection's lastReads(): a turn of the event loop),
//               answers that, and repeats until a pass reads nothing (still busy
//               meanwhile: the run() below keeps draining connections in `busy`). One
//               that has answered them all holds its FIN (Connection.whenDrained asks
//               the endpoint, [kHoldFin]): idle subscribers wait here, open, for what
//               handlers still publish.
//   2. release  Once no connection of this endpoint has a frame in flight (`busy`
//               is empty) and the gate opens (a worker server's threads all say the
//               same: DrainBarrier), the mailbox is delivered whole
//               (Router.deliverAll), then every connection closes, FIN after its
//               replies (each waits for a slow reader, within the timeout). No pass
//               here: its frames could publish past FINs already out. Input that
//               came during the hold, or after the FIN, is discarded (as after any close).
//   3. timeout  drainTimeout after the start, in either phase: a connection with
//               frames read and unanswered (Connection[kUnanswered]), or replies the
//               kernel has not taken, is reset (RST, Connection[kReset]) and closed
//               with ERR_DRAIN_TIMEOUT; its frames are counted (S_DRAIN_UNANSWERED:
//               stats().total.drainUnanswered). Every other one reads a last time
//               ([kDrain](true)): anything there is reset the same way (0 frames), else
//               FIN. So a client that never stops sending cannot hold the drain.
//
// Invariants: while holding, no draining connection sends its FIN; `busy` only
// shrinks (nothing is accepted; a connection reads only before it holds, in `busy`),
// so once empty it stays empty; a
// connection the application or an error closes is not held (its FIN is its own).
// Cost: one Connection[kUnanswered] per connection at the start and at the timeout
// (a decode of what its rx ring holds); nothing per frame.

import { S_DRAIN_UNANSWERED, type Core } from '../core/core.ts';
import { E_DRAIN_TIMEOUT, ringwireError } from '../core/errors.ts';
import type { Connection } from './connection.ts';
import { kDelivering, kDrain, kLife, kReset, kSlot, kState, kUnanswered } from './internals.ts';
import type { Router } from './router.ts';

/** What the drain needs from its endpoint. */
export interface DrainHost {
  readonly connections: ReadonlySet<Connection>;
  readonly core: Core;
  readonly router: Router;
  /** The connection delivering a batch now (close() called from a handler): busy whatever it holds. */
  readonly [kDelivering]: Connection | null;
}

/**
 * Opens once every thread of the server has nothing in flight; a single thread's
 * opens at once. The endpoint calls it when it is quiet itself.
 */
export type DrainGate = () => Promise<void>;

/** Where an endpoint keeps the gate a worker thread gives it (serve-in-worker.ts): not public API. */
export const DRAIN_GATE: unique symbol = Symbol('ringwire.drainGate');

export class Drain {
  private readonly host: DrainHost;
  /** Connections with frames read and not answered yet. */
  private readonly busy = new Set<Connection>();
  /** Phase 1: answered connections keep their FIN. */
  private holding = true;
  private quiet: (() => void) | undefined;

  constructor(host: DrainHost) {
    this.host = host;
  }

  /** An answered, draining connection asks to send its FIN: not while holding (it is then no longer busy). */
  hold(connection: Connection): boolean {
    if (!this.holding) return false;
    this.settled(connection);
    return true;
  }

  /** A connection closed, whatever the phase. */
  closed(connection: Connection): void {
    this.settled(connection);
  }

  /**
   * Run the drain over the endpoint's connections. Resolves once `allClosed` does
   * (every connection closed), or at the timeout, when what is left has been reset
   * or given its FIN.
   */
  async run(timeout: number, gate: DrainGate, allClosed: Promise<void>): Promise<void> {
    const { connections } = this.host;
    const delivering = this.host[kDelivering];
    for (const c of connections.values()) this.busy.add(c);
    for (const c of [...connections.values()]) c[kDrain](); // those already answered hold (and leave busy) at once
    // Closing on their own: a draining one is not (it reads once more, then answers and holds: drain.ts's header).
    for (const c of this.busy) if (c !== delivering && (gone(c) || (c[kUnanswered] === 0 && c[kLife] !== 'draining'))) this.busy.delete(c);
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>(resolve => (timer = setTimeout(() => resolve('timeout'), timeout)));
    const quiet = new Promise<void>(resolve => {
      this.quiet = resolve;
      if (this.busy.size === 0) resolve();
    });
    if (await Promise.race([quiet.then(gate).then(() => 'open' as const), timedOut]) === 'open') {
      this.release();
      if (await Promise.race([allClosed.then(() => 'closed' as const), timedOut]) === 'closed') return clearTimeout(timer);
    }
    this.expire(timeout);
  }

  private settled(connection: Connection): void {
    if (this.busy.delete(connection) && this.busy.size === 0) this.quiet?.();
  }

  /** Phase 2: what the mailbox holds goes out, then every FIN, each after its connection's replies. */
  private release(): void {
    this.holding = false;
    this.host.router.deliverAll();
    for (const c of [...this.host.connections.values()]) c[kDrain]();
  }

  /** The timeout: reset and count what is unanswered or undelivered; FIN for the rest. */
  private expire(timeout: number): void {
    const { connections, core, router } = this.host;
    this.holding = false;
    router.deliverAll(); // to the connections that can still take it before their FIN
    for (const c of [...connections.values()]) {
      if (gone(c)) continue;
      const frames = c[kUnanswered];
      const bytes = c.queuedBytes + core.txPending(c[kSlot]);
      if (frames === 0 && bytes === 0) {
        c[kDrain](true); // a last read: what the kernel holds is reset and counted, else FIN
        continue;
      }
      core.stats.add(S_DRAIN_UNANSWERED, frames);
      c[kReset](ringwireError(E_DRAIN_TIMEOUT, `the drain timed out (drainTimeout ${timeout} ms) with ${frames} frame(s) read and not answered and ${bytes} bytes of replies not delivered: connection reset`));
    }
  }
}

/**
 * A connection whose socket is gone while a handler still holds its frame (closed by
 * ERR_HANDLER_TIMEOUT, or by its peer): its slot is quarantined until the handler
 * settles. Nothing it holds can be answered or reset any more, and an error closed it
 * already (counted under its own code): the drain neither waits for it nor counts it.
 */
function gone(c: Connection): boolean {
  return c[kState].life === 'quarantined';
}

/**
 * The gate of a worker server's threads: each thread arrives once it has nothing
 * in flight (or once it has ended), and all are let through together, so a
 * handler still running on one thread can publish to subscribers on every other.
 */
export class DrainBarrier {
  private readonly waiting: Set<number>;
  private open!: () => void;
  private readonly opened = new Promise<void>(resolve => (this.open = resolve));

  constructor(places: Iterable<number>) {
    this.waiting = new Set(places);
    if (this.waiting.size === 0) this.open();
  }

  /** Place `place` has nothing in flight (or is gone): resolves once every place has. */
  arrive(place: number): Promise<void> {
    if (this.waiting.delete(place) && this.waiting.size === 0) this.open();
    return this.opened;
  }
}
