// Open connections per client address, shared by every thread of a server: a
// direct-mapped array of counters in a SharedArrayBuffer (the worker server
// creates it and hands it to each worker in workerData; a single-thread server
// makes its own). Atomics only: no lock, no message per connection, no probing.
//
//   Int32 [0]        seed: random, written once by createAddressTable, read by every thread
//   Int32 [1..15]    unused (the counters start on their own cache line)
//   Int32 [16 + i]   counter i: connections admitted (and held) by the addresses that map to i
//
// key: an IPv4 address as its 32-bit value; an IPv6 address by a 32-bit hash of
// its /64 prefix (one host usually holds a whole /64, so that is the unit worth
// capping). A key maps to counter fmix32(key ^ seed) & mask: one counter per key,
// so a claim or a release touches one word, whatever has been claimed before.
//
// Invariants:
//   - a counter >= the connections admitted under it and not yet released: acquire()
//     adds 1 and keeps it only if the counter was below the cap before its add; a
//     refused acquire() takes its 1 back (Atomics.sub), so between its add and its
//     sub it may make another claim on that counter look full (stricter, never looser);
//   - so the connections admitted under one counter never exceed the cap, whichever
//     threads admit them and however they race (each Atomics.add is one step);
//   - addresses whose keys share a counter share its cap: a collision only makes
//     the cap stricter, never looser. The array has at least 64 counters per
//     connection slot of the server (every thread together), so at the connection
//     limit a newcomer shares a counter with some live address with probability at
//     most 1/64, and is refused for it only if that address holds nearly the cap
//     itself. The seed is per table, so which addresses collide cannot be chosen
//     from outside (an attacker cannot pick /64s that land on a victim's counter).

import net from 'node:net';
import { randomInt } from 'node:crypto';

/** acquire(): over the cap. */
export const REFUSED = -1;
/** acquire(): admitted but not counted (no address). */
export const UNTRACKED = -2;

const HEADER = 16; // Int32 words before the counters: the seed, then padding to 64 bytes
const PER_SLOT = 64; // counters per connection slot: the chance of a collision at the connection limit is at most 1/64
const MIN_COUNTERS = 1024;
const MAX_COUNTERS = 1 << 24; // 64 MiB: past 256k slots in all, collisions get likelier, still only stricter

/** A shared table for this many connection slots in all (every thread together). */
export function createAddressTable(totalSlots: number): SharedArrayBuffer {
  let counters = MIN_COUNTERS;
  while (counters < PER_SLOT * totalSlots && counters < MAX_COUNTERS) counters *= 2;
  const memory = new SharedArrayBuffer(4 * (HEADER + counters));
  new Int32Array(memory)[0] = randomInt(2 ** 32 - 1) | 0; // before any thread can see the buffer: a plain store
  return memory;
}

/** The 32-bit key of an address (never 0), or 0 if it has none. */
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
  return key === 0 ? 1 : key;
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
  private readonly words: Int32Array;
  private readonly seed: number;
  private readonly mask: number;

  constructor(memory: SharedArrayBuffer) {
    this.words = new Int32Array(memory);
    const counters = this.words.length - HEADER;
    if (counters <= 0 || (counters & (counters - 1)) !== 0) throw new RangeError('an address table has a power-of-two number of counters');
    this.mask = counters - 1;
    this.seed = Atomics.load(this.words, 0);
  }

  /** Admit one more connection of key below cap: the counter that holds it, REFUSED, or UNTRACKED. */
  acquire(key: number, cap: number): number {
    if (key === 0) return UNTRACKED;
    const at = this.at(key);
    if (Atomics.load(this.words, at) >= cap) return REFUSED; // the usual refusal writes nothing
    if (Atomics.add(this.words, at, 1) < cap) return at;
    Atomics.sub(this.words, at, 1); // another thread took the last place first
    return REFUSED;
  }

  /** One connection admitted under `at` (from acquire) closed. */
  release(at: number): void {
    if (at >= 0) Atomics.sub(this.words, at, 1);
  }

  /** Connections counted now under key's counter (every key that shares it): for tests and stats. */
  count(key: number): number {
    return Atomics.load(this.words, this.at(key));
  }

  /** The word of key's counter: murmur3's finaliser of key ^ seed (every bit of the key moves every bit of the index). */
  private at(key: number): number {
    let h = key ^ this.seed;
    h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
    h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
    h ^= h >>> 16;
    return HEADER + (h & this.mask);
  }
}
