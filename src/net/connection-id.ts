// Connection ids: "<threadId>-<serial>-<slot>". Unique for the life of the
// process and never reused: threadIds are never reused by Node, and the serial
// counts every connection this thread ever opened (across all its endpoints).
// The id carries what a sender on another thread needs to check, without asking
// the owner, whether the connection is still open: the owning thread (which place
// of a worker server runs it) and the core slot (where the owner's liveness table
// holds the serial of the connection open in that slot: switchboard.ts).

import { threadId } from 'node:worker_threads';

let serial = 0;

/** A new id for a connection in this thread's core slot `slot`. */
export function nextConnectionId(slot: number): string {
  // The liveness table keeps serials modulo 2^32, where 0 means "no connection".
  if ((++serial | 0) === 0) ++serial;
  return `${threadId}-${serial}-${slot}`;
}

export interface ParsedId {
  threadId: number;
  /** The serial as the liveness table stores it (modulo 2^32, as an Int32). */
  serial: number;
  slot: number;
}

/** The parts of an id, or null when it is not one of ours. */
export function parseConnectionId(id: string): ParsedId | null {
  const a = id.indexOf('-');
  const b = id.indexOf('-', a + 1);
  if (a <= 0 || b <= a + 1 || b === id.length - 1) return null;
  const t = decimal(id, 0, a);
  const s = decimal(id, a + 1, b);
  const slot = decimal(id, b + 1, id.length);
  if (t < 0 || s < 1 || slot < 0) return null;
  return { threadId: t, serial: s | 0, slot };
}

/** The decimal digits id[from, to) as a number, or -1 when they are not (none, another character, over 15 digits); no substring made (sendTo parses every id it is given). */
function decimal(id: string, from: number, to: number): number {
  if (to <= from || to - from > 15) return -1;
  let n = 0;
  for (let i = from; i < to; i++) {
    const d = id.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return -1;
    n = n * 10 + d;
  }
  return n;
}
