// The per-address table behind maxConnectionsPerIp: a key is admitted up to its cap
// and refused one past it, whatever the address (IPv4 above 128.0.0.0, IPv6 /64s);
// a claim touches O(1) shared words however many addresses came and went before
// (its calls to Atomics counted, not timed); and two threads claiming one address
// at once never hold more than the cap between them.
import { describe, expect, it } from 'vitest';
import { Worker } from 'node:worker_threads';
import { once } from 'node:events';
import { AddressTable, REFUSED, UNTRACKED, addressKey, createAddressTable } from '../src/net/address-table.ts';
import { bundledFixture } from './fixture-bundle.ts';

const CLAIMER = bundledFixture(new URL('./fixtures/address-claimer.mjs', import.meta.url));

/** Calls to Atomics (loads, stores, adds, subs, compare-exchanges) made by fn: each touches one shared word. */
function atomicsCalls(fn: () => void): number {
  const names = ['load', 'store', 'add', 'sub', 'compareExchange', 'exchange'] as const;
  const real = names.map(name => Atomics[name]);
  let calls = 0;
  const atomics = Atomics as unknown as Record<string, (...args: unknown[]) => unknown>;
  // Counted, not recorded (vi.spyOn keeps every call's arguments: millions for a table that walks).
  names.forEach((name, i) => { atomics[name] = (...args: unknown[]) => { calls++; return (real[i] as (...a: unknown[]) => unknown)(...args); }; });
  try {
    fn();
    return calls;
  } finally {
    names.forEach((name, i) => { atomics[name] = real[i] as (...args: unknown[]) => unknown; });
  }
}

/** The n-th address of a /64 of its own (2001:db8:<n>::1). */
function prefix(n: number): string {
  return `2001:db8:${(n >>> 16).toString(16)}:${(n & 0xffff).toString(16)}::1`;
}

describe('AddressTable', () => {
  for (const address of ['10.0.0.1', '192.168.1.5', '255.255.255.254', '2001:db8::1', '::ffff:203.0.113.9']) {
    it(`admits ${address} up to the cap, refuses one past it, and counts it again once released`, () => {
      const table = new AddressTable(createAddressTable(64));
      const key = addressKey(address);
      const cap = 3;
      const held = Array.from({ length: cap }, () => table.acquire(key, cap));
      expect(held.every(e => e >= 0)).toBe(true);
      expect(new Set(held).size).toBe(1); // one counter per address
      expect(table.count(key)).toBe(cap);
      expect(table.acquire(key, cap)).toBe(REFUSED);
      expect(table.count(key)).toBe(cap); // a refusal leaves nothing behind
      for (const e of held) table.release(e);
      expect(table.count(key)).toBe(0);
      expect(table.acquire(key, cap)).toBe(held[0]);
    });
  }

  it('one host in a /64 is one key; another /64 is another; no address is not counted', () => {
    expect(addressKey('2001:db8:1:2::1')).toBe(addressKey('2001:db8:1:2:ffff:ffff:ffff:ffff'));
    expect(addressKey('2001:db8:1:2::1')).not.toBe(addressKey('2001:db8:1:3::1'));
    expect(new AddressTable(createAddressTable(4)).acquire(addressKey(undefined), 1)).toBe(UNTRACKED);
  });

  it('20,000 distinct /64s claimed and released: a claim still touches at most 3 shared words', () => {
    // The table for 64 slots: far fewer counters than the addresses that pass through it.
    const table = new AddressTable(createAddressTable(64));
    const cap = 2;
    const keys = Array.from({ length: 20_000 }, (_, n) => addressKey(prefix(n)));
    const churn = atomicsCalls(() => {
      for (const key of keys) {
        const at = table.acquire(key, cap);
        if (at >= 0) table.release(at);
      }
    });
    // load + add on admission, sub on release: 3 per address, never a walk of the table.
    expect(churn).toBeLessThanOrEqual(3 * keys.length);
    const fresh = addressKey(prefix(300_000));
    let at = 0;
    expect(atomicsCalls(() => { at = table.acquire(fresh, cap); })).toBeLessThanOrEqual(3);
    expect(at).toBeGreaterThanOrEqual(0);
    expect(table.count(fresh)).toBe(1);
  });

  it('the table for a server is at least 64 counters per connection slot, so a collision is rare at the limit', () => {
    const slots = 1024;
    const table = new AddressTable(createAddressTable(slots));
    // Every slot held by its own address: count how many of 10,000 newcomers share a counter with one of them.
    const live = new Set<number>();
    for (let n = 0; n < slots; n++) live.add(table.acquire(addressKey(prefix(n)), 1));
    let shared = 0;
    for (let n = slots; n < slots + 10_000; n++) {
      const at = table.acquire(addressKey(prefix(n)), 1);
      if (at === REFUSED) shared++;
      else table.release(at);
    }
    // At most 1/64 of them in expectation (~156 of 10,000); a newcomer refused shares a counter, nothing else.
    expect(shared).toBeLessThan(10_000 / 32);
  });

  for (const cap of [1, 3]) {
    it(`two threads claiming one address at once (cap ${cap}) never hold more than the cap between them`, async () => {
      const memory = createAddressTable(16);
      const live = new SharedArrayBuffer(8);
      const key = addressKey('198.51.100.7');
      const workers = [0, 1].map(t => new Worker(CLAIMER, {
        workerData: { memory, live, key, cap, rounds: 300_000, others: 1000 + t * 100 },
      }));
      const exits = workers.map(w => once(w, 'exit'));
      const results = await Promise.all(workers.map(async w => (await once(w, 'message'))[0] as { won: number; most: number }));
      await Promise.all(exits);
      const most = Math.max(...results.map(r => r.most));
      expect(results.every(r => r.won > 0)).toBe(true); // both threads did claim it
      expect(most).toBeLessThanOrEqual(cap);
      expect(new AddressTable(memory).count(key)).toBe(0); // every claim was released
    }, 60_000);
  }
});
