// A set of address ranges (CIDRs) to test a peer's address against: the load
// balancers trusted to send a PROXY protocol header (proxyTrusted). Built on
// Node's net.BlockList, which compares IPv4-mapped IPv6 addresses
// (::ffff:10.0.0.1) with IPv4 ranges and the other way round, so a dual-stack
// listener's peers match the ranges written either way.

import net from 'node:net';
import { configError } from '../core/errors.ts';

/** Trusted when proxyTrusted is not given: this machine only (a balancer on the same host, a sidecar). */
export const LOOPBACK = ['127.0.0.0/8', '::1/128'];

export class AddressRanges {
  private readonly list = new net.BlockList();
  readonly text: string;

  /** Ranges like 10.0.0.0/8, 2001:db8::/32 or a single address (a /32 or /128). Throws ERR_BAD_CONFIG on anything else. */
  constructor(ranges: readonly string[], option = 'proxyTrusted') {
    for (const range of ranges) {
      const [address = '', prefix, extra] = range.trim().split('/');
      const family = net.isIP(address);
      const bits = family === 4 ? 32 : 128;
      const n = prefix === undefined ? bits : /^\d{1,3}$/.test(prefix) ? Number(prefix) : NaN;
      if (family === 0 || extra !== undefined || !(n >= 0 && n <= bits)) {
        throw configError(`${option}: "${range}" is not an address or a CIDR range like 10.0.0.0/8 or fd00::/8`);
      }
      this.list.addSubnet(address, n, family === 4 ? 'ipv4' : 'ipv6');
    }
    this.text = ranges.join(',');
  }

  has(address: string | undefined): boolean {
    const family = net.isIP(address ?? '');
    return family !== 0 && this.list.check(address!, family === 4 ? 'ipv4' : 'ipv6');
  }
}
