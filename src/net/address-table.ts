// Open connections per client address, shared by every thread of a server: a
// small lock-free hash table in a SharedArrayBuffer (the worker server creates it
// and hands it to each worker in workerData; a single-thread server makes its
// own). Atomics only: no lock, no message per connection.
//
// Each entry is one 64-bit word, so an address and its count change together in
// one compare-and-swap:
//
//   word = key << 32 | count        EMPTY = 0 (never used: ends a probe chain)
//                                   TOMB  = 0xFFFFFFFF << 32 (was used, count 0: reusable)
//
// key: an IPv4 address as its 32-bit value; an IPv6 address by a 32-bit hash of
// its /64 prefix (one host usually holds a whole /64, so that is the unit worth
// capping; two prefixes may share a hash, and then a count: stricter, never looser).
// Linear probing from hash(key). Invariants:
//   - an entry with count > 0 holds that many admitted connections of its key;
//     the last release turns it into TOMB, never into EMPTY, so chains stay intact;
//   - acquire() increments only below the cap, so a count never passes the cap
//     through acquire();
//   - two threads admitting the first connections of one address at the same
//     instant may both claim an entry; each then looks along the chain and the
//     one farther from the home position moves its count into the nearer one
//     (admitted once more there even at the cap: the connection is already in).
//     So a key has one entry once the race is over, and its count can exceed
//     the cap by at most (threads - 1), only in that instant.
// The table has at least twice as many entries as the server has connection
// slots, so live keys never fill it; if it were full, a connection is admitted
// untracked (fail open) rather than refused for a reason that is not its own.

import net from 'node:net';

const EMPTY = 0n;
const TOMB = 0xffffffffn << 32n;
/** acquire(): over the cap. */
export const REFUSED = -1;
/** acquire(): admitted but not counted (table full, or no address). */
export const UNTRACKED = -2;

/** A shared table for this many connection slots in all (every thread together). */
export function createAddressTable(totalSlots: number): SharedArrayBuffer {
  let entries = 64;
  while (entries < 2 * totalSlots) entries *= 2;
  return new SharedArrayBuffer(entries * 8);
}

/** The 32-bit key of an address (never 0 or 0xFFFFFFFF), or 0 if it has none. */
export function addressKey(address: string | undefined): number {
  if (!address) return 0;
  let a = address;
  if (a.startsWith('::ffff:') && net.isIPv4(a.slice(7))) a = a.slice(7);
  let key: number;
  if (net.isIPv4(a)) {
    const [p0 = 0, p1 = 0, p2 = 0, p3 = 0] = a.split('.').map(Number);
    key = ((p0 << 24) | (p1 << 16) | (p2 << 8) | p3) >>> 0;
  } else if (net.isIPv6(a)) {
    key = fnv1a(prefix64(a));
  } else {
    return 0;
  }
  return key === 0 || key === 0xffffffff ? 1 : key;
}

/** The first four groups of an IPv6 address, expanded ("2001:db8:0:0"). */
function prefix64(a: string): string {
  const [head = '', tail] = a.split('%')[0]!.split('::');
  const left = head ? head.split(':') : [];
  const right = tail === undefined ? [] : tail ? tail.split(':') : [];
  const groups = tail === undefined ? left : [...left, ...Array<string>(Math.max(0, 8 - left.length - right.length)).fill('0'), ...right];
  return groups.slice(0, 4).map(g => (parseInt(g, 16) || 0).toString(16)).join(':');
}

function fnv1a(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

export class AddressTable {
  private readonly words: BigUint64Array; // unsigned: a key with its top bit set (128.0.0.0 and up) must compare as written
  private readonly mask: number;

  constructor(memory: SharedArrayBuffer) {
    this.words = new BigUint64Array(memory);
    this.mask = this.words.length - 1;
    if (this.words.length === 0 || (this.words.length & this.mask) !== 0) throw new RangeError('an address table has a power-of-two number of entries');
  }

  /** Admit one more connection of key below cap: the entry that holds it, REFUSED, or UNTRACKED. */
  acquire(key: number, cap: number): number {
    if (key === 0) return UNTRACKED;
    const w = this.words;
    const k = BigInt(key) << 32n;
    const home = this.home(key);
    retry: for (;;) {
      let tomb = -1;
      let end = -1;
      for (let i = 0; i <= this.mask; i++) {
        const p = (home + i) & this.mask;
        const word = Atomics.load(w, p);
        if (word === EMPTY) { end = p; break; }
        if (word === TOMB) { if (tomb < 0) tomb = p; continue; }
        if ((word & ~0xffffffffn) !== k) continue;
        if (Number(word & 0xffffffffn) >= cap) return REFUSED;
        if (Atomics.compareExchange(w, p, word, word + 1n) === word) return p;
        continue retry; // changed under us
      }
      const target = tomb >= 0 ? tomb : end;
      if (target < 0) return UNTRACKED; // full of live entries: fail open
      const expected = tomb >= 0 ? TOMB : EMPTY;
      if (Atomics.compareExchange(w, target, expected, k | 1n) !== expected) continue retry;
      return this.settle(k, home, target, cap);
    }
  }

  /** One connection of the entry at `at` (from acquire) closed. */
  release(at: number): void {
    if (at < 0) return;
    const w = this.words;
    for (;;) {
      const word = Atomics.load(w, at);
      const count = word & 0xffffffffn;
      if (count === 0n) return; // not ours: never happens when acquire/release pair up
      const next = count > 1n ? word - 1n : TOMB;
      if (Atomics.compareExchange(w, at, word, next) === word) return;
    }
  }

  /** Connections of key counted now (for tests and stats). */
  count(key: number): number {
    const k = BigInt(key) << 32n;
    let n = 0;
    const home = this.home(key);
    for (let i = 0; i <= this.mask; i++) {
      const word = Atomics.load(this.words, (home + i) & this.mask);
      if (word === EMPTY) break;
      if (word !== TOMB && (word & ~0xffffffffn) === k) n += Number(word & 0xffffffffn);
    }
    return n;
  }

  /** We just claimed `mine` for key: if another thread claimed a nearer entry for it, move there. */
  private settle(k: bigint, home: number, mine: number, cap: number): number {
    const w = this.words;
    const dist = (p: number) => (p - home) & this.mask;
    for (let i = 0; i < dist(mine); i++) {
      const p = (home + i) & this.mask;
      const word = Atomics.load(w, p);
      if (word === EMPTY) break;
      if (word === TOMB || (word & ~0xffffffffn) !== k) continue;
      // A nearer entry for the same key: it is the one that stays.
      if (Number(word & 0xffffffffn) >= cap) {
        this.release(mine);
        return REFUSED;
      }
      if (Atomics.compareExchange(w, p, word, word + 1n) === word) {
        this.release(mine);
        return p;
      }
      i = -1; // it changed: look again from the home position
    }
    return mine;
  }

  private home(key: number): number {
    return (Math.imul(key, 0x9e3779b1) >>> 0) & this.mask;
  }
}
