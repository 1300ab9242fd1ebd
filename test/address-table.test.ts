// The per-address table behind maxConnectionsPerIp: a key is admitted up to its cap
// and refused one past it, whatever the address (IPv4 above 128.0.0.0 and IPv6 /64
// hashes set the key's top bit), and a released entry is reused.
import { describe, expect, it } from 'vitest';
import { AddressTable, REFUSED, addressKey, createAddressTable } from '../src/net/address-table.ts';

describe('AddressTable', () => {
  for (const address of ['10.0.0.1', '192.168.1.5', '255.255.255.254', '2001:db8::1', '::ffff:203.0.113.9']) {
    it(`admits ${address} up to the cap, refuses one past it, and reuses a freed entry`, () => {
      const table = new AddressTable(createAddressTable(64));
      const key = addressKey(address);
      const cap = 3;
      const held = Array.from({ length: cap }, () => table.acquire(key, cap));
      expect(held.every(e => e >= 0)).toBe(true);
      expect(new Set(held).size).toBe(1); // one entry per address, counted
      expect(table.count(key)).toBe(cap);
      expect(table.acquire(key, cap)).toBe(REFUSED);
      for (const e of held) table.release(e);
      expect(table.count(key)).toBe(0);
      expect(table.acquire(key, cap)).toBe(held[0]); // the freed entry comes back
    });
  }
});
