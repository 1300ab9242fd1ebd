// Who gives up its slot when every slot is taken and a new connection arrives.
//
// A slot held by a connection whose incomplete frame trickles in (slowloris) is
// taken back by the deadlines only after frameTimeout or a minRate window, and a
// client that reconnects at once takes it again: with every slot held that way,
// legitimate clients are refused for as long as the attack lasts. So at the limit,
// instead of refusing the newcomer, the endpoint evicts the connection whose
// incomplete frame has waited longest on its peer, once that wait is at least
// `after` ms (ERR_EVICTED), and the newcomer takes its slot. Connections between
// frames (idle, or subscribers waiting for pushes) are never evicted, nor those
// waiting on us (a handler holding frames, replies in flight): only a wait that is
// the peer's fault (Connection.awaitingInput). Only accepted connections are
// candidates: never a relay's upstream or a client this endpoint dialled (a
// relay's client takes its upstream with it: Connection.evict).
//
// Cost: the candidates are sorted once (n log n) and handed out oldest first; a
// connection whose frame completed meanwhile (its waitStart moved) is skipped. A
// connection qualifying after the sort began waiting later than every one left
// in it, so the order stays right; the sort is redone when it runs out, at most
// every REBUILD_MS, so a flood of newcomers at a full server costs a few sorts a second.

import type { Connection } from './connection.ts';
import { kAwaitingInput, kClocks, kInbound } from './internals.ts';

const REBUILD_MS = 100;

export class EvictionOrder {
  private order: { connection: Connection; since: number }[] = [];
  private next = 0;
  private builtAt = -Infinity;
  private readonly after: number;

  /** `after`: the shortest wait (ms) that makes a connection evictable. */
  constructor(after: number) {
    this.after = after;
  }

  /** The connection to evict for a newcomer now, or undefined when none has waited `after` ms for its peer. */
  pick(connections: Iterable<Connection>, now: number): Connection | undefined {
    for (;;) {
      while (this.next < this.order.length) {
        const { connection, since } = this.order[this.next++]!;
        if (connection[kAwaitingInput] && connection[kClocks].waitStart === since) return connection;
      }
      if (now - this.builtAt < REBUILD_MS) return undefined;
      this.build(connections, now);
    }
  }

  private build(connections: Iterable<Connection>, now: number): void {
    this.order = [];
    this.next = 0;
    this.builtAt = now;
    for (const connection of connections) {
      const since = connection[kClocks].waitStart;
      if (connection[kInbound] && since > 0 && now - since >= this.after && connection[kAwaitingInput]) this.order.push({ connection, since });
    }
    this.order.sort((a, b) => a.since - b.since);
  }
}
