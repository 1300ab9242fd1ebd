// A thread's pulse, for the stall watchdog. Every PERIOD ms the thread's own
// event loop runs a tick that (1) measures how late it ran: a tick that comes
// more than stallTimeout late means the loop was blocked that long, reported
// once the thread runs again; and (2) writes the wall-clock time into a shared
// word, so another thread can see a stall while it lasts (the worker server's
// watchdog reads it with Atomics and replaces a worker stalled too long).
// With a stats block, each tick also records its lateness there (the event-loop
// lag gauge, the blocked time and the stalls), where metrics read it from any
// thread; the tick runs on the thread that owns the block, its only writer.
// One timer per thread, unref'd: it never keeps a thread alive.

import { threadId } from 'node:worker_threads';
import { S_LOOP_BLOCKED, S_LOOP_LAG, S_STALLS } from '../core/core.ts';
import type { Stats } from '../core/stats.ts';

export interface StallInfo {
  /** How long the event loop was blocked, in ms (so far, for a stall still going on). */
  ms: number;
  threadId: number;
  /** The worker's place in a worker server; absent for a single-thread server. */
  worker?: number;
}

/** How often a thread beats. */
export const HEARTBEAT_PERIOD = 100;

/** A heartbeat word for one thread (a cache line of its own: no false sharing). */
export function createHeartbeat(): SharedArrayBuffer {
  return new SharedArrayBuffer(64);
}

/** The wall-clock ms of that thread's last beat; 0 before its first. */
export function lastBeat(shared: SharedArrayBuffer): number {
  return Number(Atomics.load(new BigInt64Array(shared, 0, 1), 0));
}

export class Heartbeat {
  private readonly word: BigInt64Array | null;
  private readonly timer: NodeJS.Timeout;
  private last = performance.now();

  constructor(shared: SharedArrayBuffer | undefined, stallTimeout: number, onStall: (info: StallInfo) => void, stats?: Stats) {
    this.word = shared ? new BigInt64Array(shared, 0, 1) : null;
    this.beat();
    this.timer = setInterval(() => {
      const now = performance.now();
      const late = Math.max(0, now - this.last - HEARTBEAT_PERIOD);
      this.last = now;
      this.beat();
      const stalled = stallTimeout > 0 && late > stallTimeout;
      if (stats) {
        const us = Math.round(late * 1000);
        stats.set(S_LOOP_LAG, us);
        if (us > 0) stats.add(S_LOOP_BLOCKED, us);
        if (stalled) stats.add(S_STALLS, 1);
      }
      if (stalled) onStall({ ms: Math.round(late), threadId });
    }, HEARTBEAT_PERIOD);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  private beat(): void {
    if (this.word) Atomics.store(this.word, 0, BigInt(heartbeatClock()));
  }
}

/**
 * Milliseconds on a clock every thread of the process shares and that never
 * steps: a wall-clock jump (Date.now()) would make every worker look stalled.
 */
export function heartbeatClock(): number {
  return Math.floor(performance.timeOrigin + performance.now());
}
