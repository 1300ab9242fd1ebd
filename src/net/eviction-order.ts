// Who gives up its slot when every slot is taken and a new connection arrives.
//
// A slot held by a connection whose incomplete frame trickles in (slowloris) is
// taken back by the deadlines only after frameTimeout or a minRate window, and a
// client that reconnects at once takes it again: with every slot held that way,
// legitimate clients are refused for as long as the attack lasts. So at the limit,
// instead of refusing the newcomer, the endpoint evicts the connection whose
// incomplete frame arrives slowest (ERR_EVICTED), and the newcomer takes its slot.
//
// Chosen by rate, not by age: a client uploading a large frame at a decent rate has
// been waiting longer than an attacker that just reconnected, yet it is the one
// being served. The rate is the bytes of the incomplete frame received over the
// recent window (the current minRate window and the one before it, so a window
// that just began is not judged on a few ms), and a connection is a candidate only
//   - when its frame has waited at least `after` ms (a rate needs time to mean anything),
//   - and, with a minimum rate, while it arrives below minRate: a client meeting the
//     server's own minimum is never evicted, however many tricklers come and go
//     (with minRate 0 there is no minimum: the slowest one past `after` goes).
// Connections between frames (idle, or subscribers waiting for pushes) are never
// evicted, nor those waiting on us (a handler holding frames, replies in flight):
// only a wait that is the peer's fault (Connection.awaitingInput). Only accepted
// connections are candidates: never a relay's upstream or a client this endpoint
// dialled (a relay's client takes its upstream with it: Connection.evict).
//
// Cost: the candidates are sorted once (n log n) by rate and handed out slowest
// first; one whose frame completed meanwhile (its waitStart moved) or that sped up
// past minRate is skipped. The sort is redone when the list runs out, at most every
// REBUILD_MS, so a flood of newcomers at a full server costs a few sorts a second;
// rates change little within that time.

import type { Connection } from './connection.ts';
import { kAwaitingInput, kInbound, kWaitStart, kWindowBytes, kWindowStart } from './internals.ts';

const REBUILD_MS = 100;

/** The rate window a connection's previous one ended at (the sweep starts a new one then). */
interface EndedWindow {
  /** When it ended: the connection's windowStart while the window after it runs. */
  end: number;
  bytes: number;
  ms: number;
}

export class EvictionOrder {
  private order: { connection: Connection; since: number }[] = [];
  private next = 0;
  private builtAt = -Infinity;
  private readonly after: number;
  private readonly minRate: number;
  private readonly ended = new WeakMap<Connection, EndedWindow>();

  /** `after`: the shortest wait (ms) that makes a connection evictable; `minRate`: bytes/s at or above which it never is (0: no minimum). */
  constructor(after: number, minRate: number) {
    this.after = after;
    this.minRate = minRate;
  }

  /** The sweep closed a rate window of `connection` (`bytes` in `ms`) and starts the next one at `now`. */
  windowEnded(connection: Connection, bytes: number, ms: number, now: number): void {
    this.ended.set(connection, { end: now, bytes, ms });
  }

  /** Bytes per second at which the connection's incomplete frame arrives, over its current rate window and the one before. */
  rate(connection: Connection, now: number): number {
    let bytes = connection[kWindowBytes];
    let ms = now - connection[kWindowStart];
    const before = this.ended.get(connection);
    if (before && before.end === connection[kWindowStart]) {
      bytes += before.bytes;
      ms += before.ms;
    }
    return bytes * 1000 / Math.max(ms, 1);
  }

  /** The connection to evict for a newcomer now, or undefined when none qualifies. */
  pick(connections: Iterable<Connection>, now: number): Connection | undefined {
    for (;;) {
      while (this.next < this.order.length) {
        const { connection, since } = this.order[this.next++]!;
        if (connection[kAwaitingInput] && connection[kWaitStart] === since && this.slow(connection, now)) return connection;
      }
      if (now - this.builtAt < REBUILD_MS) return undefined;
      this.build(connections, now);
    }
  }

  private slow(connection: Connection, now: number): boolean {
    return this.minRate === 0 || this.rate(connection, now) < this.minRate;
  }

  private build(connections: Iterable<Connection>, now: number): void {
    const candidates: { connection: Connection; since: number; rate: number }[] = [];
    this.next = 0;
    this.builtAt = now;
    for (const connection of connections) {
      const since = connection[kWaitStart];
      if (!connection[kInbound] || since === 0 || now - since < this.after || !connection[kAwaitingInput]) continue;
      const rate = this.rate(connection, now);
      if (this.minRate === 0 || rate < this.minRate) candidates.push({ connection, since, rate });
    }
    // Slowest first; at equal rates, the frame that began first.
    candidates.sort((a, b) => a.rate - b.rate || a.since - b.since);
    this.order = candidates;
  }
}
