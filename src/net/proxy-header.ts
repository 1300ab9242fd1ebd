// The PROXY protocol header (HAProxy's spec, versions 1 and 2) that a load
// balancer sends before the client's first byte: who the client is. Parsed by the
// host, once per connection, before the first core call: the cores' contract
// stays framing only, and nothing here is per frame (docs/load-balancers.md).
//
// The parser is incremental: push() takes whatever arrived, one byte or many,
// copies only the header's bytes into its own small buffer, and returns how many
// of them belonged to the header once it is whole (the rest is the client's first
// bytes, framed as usual), or -1 while it needs more. It is strict, and fails with
// ERR_PROXY_HEADER at the first byte that cannot be part of a valid header:
//   v1  "PROXY TCP4|TCP6|UNKNOWN ...\r\n", the whole line at most 107 bytes;
//   v2  the 12-byte signature, version 2, command LOCAL or PROXY, family UNSPEC,
//       INET, INET6 or UNIX over UNSPEC, STREAM or DGRAM, an address block at
//       least as long as the family needs, then TLVs that fill the rest exactly;
//       at most MAX_V2_HEADER bytes in all (the spec allows 16 + 65535).
// Invariant: `length` bytes of `buf` are the header so far; nothing is allocated
// after the header is whole but the result (addresses as strings, TLV views).

import net from 'node:net';
import { ringwireError, E_PROXY_HEADER, type RingwireError } from '../core/errors.ts';

/** Which versions a listener accepts. */
export type ProxyProtocol = 'v1' | 'v2' | 'any';

/** A v2 TLV: its type and its value (a view of the parser's copy of the header). */
export interface ProxyTlv {
  type: number;
  value: Uint8Array;
}

export interface ProxyHeader {
  version: 1 | 2;
  /** PROXY: a relayed client; LOCAL (v2 only): the balancer's own connection (a health check), so the socket's addresses stand. */
  command: 'PROXY' | 'LOCAL';
  /** The client's and the original destination's family; undefined: unknown (v1 UNKNOWN, v2 UNSPEC or LOCAL). */
  family: 'IPv4' | 'IPv6' | 'unix' | undefined;
  /** v2's transport byte: 'stream' (TCP), 'dgram' (UDP), undefined for unspecified and for v1 (always TCP). */
  transport: 'stream' | 'dgram' | undefined;
  /** The client: an IP address, or a path for unix; undefined when the family is unknown. */
  sourceAddress: string | undefined;
  sourcePort: number | undefined;
  /** The address the client connected to (the balancer's frontend). */
  destinationAddress: string | undefined;
  destinationPort: number | undefined;
  /** v2's TLVs in order (ALPN, authority, unique id, SSL...); empty for v1. */
  tlvs: ProxyTlv[];
}

/** The longest v1 line, CRLF included (the spec's limit). */
export const MAX_V1_HEADER = 107;
/**
 * The longest v2 header ringwire takes: 16 bytes of fixed part, then addresses
 * (at most 216, for unix) and TLVs. 4 KiB holds what balancers send (HAProxy's
 * SSL and unique-id TLVs, AWS/Azure/GCP endpoint ids) with room to spare, and
 * bounds what a peer makes a connection buffer before framing starts.
 */
export const MAX_V2_HEADER = 4096;

const V2_SIGNATURE = Uint8Array.of(0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a);
const V1_PREFIX = Uint8Array.from('PROXY ', c => c.charCodeAt(0));
/** Address block length per v2 family (high nibble): UNSPEC, INET, INET6, UNIX. */
const V2_ADDRESS_BYTES = [0, 12, 36, 216];
const V2_FAMILIES = [undefined, 'IPv4', 'IPv6', 'unix'] as const;
const V2_TRANSPORTS = [undefined, 'stream', 'dgram'] as const;

const bad = (message: string): RingwireError => ringwireError(E_PROXY_HEADER, `bad PROXY protocol header: ${message}`);

export class ProxyHeaderParser {
  /** The header, once push() returned a count. */
  header: ProxyHeader | undefined;
  private readonly accepts: ProxyProtocol;
  private version: 1 | 2 | 0 = 0;
  private buf = new Uint8Array(16);
  private length = 0;
  /** v2: the whole header's length, known once the fixed part is in (0 before). */
  private total = 0;

  constructor(accepts: ProxyProtocol) {
    this.accepts = accepts;
  }

  /** Bytes of header taken so far. */
  get received(): number {
    return this.length;
  }

  /**
   * Take the next bytes. Returns how many of them completed the header (the rest
   * follow it), or -1 if every one was header and more is needed. Throws
   * ERR_PROXY_HEADER at the first byte that cannot belong to a valid header.
   */
  push(bytes: Uint8Array): number {
    if (this.header) throw new Error('the PROXY header is already whole');
    for (let i = 0; i < bytes.length; i++) {
      if (this.version === 0) this.begin(bytes[i]!);
      if (this.version === 1) {
        if (this.take1(bytes[i]!)) return i + 1;
      } else {
        // v2: everything up to the known end in one copy.
        const want = (this.total || 16) - this.length;
        const n = Math.min(want, bytes.length - i);
        this.buf.set(bytes.subarray(i, i + n), this.length);
        const start = this.length;
        this.length += n;
        i += n - 1;
        if (start < 12) this.checkSignature(start);
        if (this.length === 16 && this.total === 0) this.fixedPart();
        if (this.total > 0 && this.length === this.total) {
          this.header = this.parse2();
          return i + 1;
        }
      }
    }
    return -1;
  }

  /** The first byte says which version this is. */
  private begin(first: number): void {
    if (first === V1_PREFIX[0] && this.accepts !== 'v2') {
      this.version = 1;
      this.buf = new Uint8Array(MAX_V1_HEADER);
    } else if (first === V2_SIGNATURE[0] && this.accepts !== 'v1') {
      this.version = 2;
    } else {
      const expected = this.accepts === 'v1' ? 'a v1 header ("PROXY ...")' : this.accepts === 'v2' ? 'a v2 header (its 12-byte signature)' : 'a v1 or v2 header';
      throw bad(`expected ${expected}, got byte 0x${first.toString(16).padStart(2, '0')} first`);
    }
  }

  // ---- v1 ----

  /** One byte of the line; true once it ends (CRLF). */
  private take1(byte: number): boolean {
    const at = this.length;
    if (at < V1_PREFIX.length && byte !== V1_PREFIX[at]) throw bad('a v1 header starts with "PROXY "');
    if (byte !== 0x0d && byte !== 0x0a && (byte < 0x20 || byte > 0x7e)) throw bad(`a v1 header is printable ASCII, got byte 0x${byte.toString(16).padStart(2, '0')}`);
    const afterCr = at > 0 && this.buf[at - 1] === 0x0d;
    if (afterCr !== (byte === 0x0a)) throw bad('a v1 header has CR only right before its final LF');
    this.buf[this.length++] = byte;
    if (byte === 0x0a) {
      this.header = this.parse1(new TextDecoder().decode(this.buf.subarray(V1_PREFIX.length, at - 1)));
      return true;
    }
    if (this.length === MAX_V1_HEADER) throw bad(`a v1 header is at most ${MAX_V1_HEADER} bytes with its CRLF`);
    return false;
  }

  /** The line after "PROXY ", without its CRLF. */
  private parse1(line: string): ProxyHeader {
    const fields = line.split(' ');
    const proto = fields[0];
    const header: ProxyHeader = {
      version: 1, command: 'PROXY', family: undefined, transport: undefined,
      sourceAddress: undefined, sourcePort: undefined, destinationAddress: undefined, destinationPort: undefined, tlvs: [],
    };
    if (proto === 'UNKNOWN') return header; // the rest of the line is ignored (spec 2.1)
    if (proto !== 'TCP4' && proto !== 'TCP6') throw bad(`v1 protocol must be TCP4, TCP6 or UNKNOWN, got "${proto}"`);
    if (fields.length !== 5) throw bad(`a v1 ${proto} header has 4 fields after the protocol, separated by single spaces`);
    const [, src, dst, sport, dport] = fields as [string, string, string, string, string];
    const family = proto === 'TCP4' ? 4 : 6;
    for (const a of [src, dst]) {
      if (net.isIP(a) !== family) throw bad(`"${a}" is not an IPv${family} address`);
      // net.isIP takes fe80::1%eth0; a zone names an interface of the balancer's host, meaningless here (and not an address to count or log).
      if (a.includes('%')) throw bad(`"${a}" has a zone id: a PROXY header's addresses are plain IPv6 addresses`);
    }
    header.family = family === 4 ? 'IPv4' : 'IPv6';
    header.sourceAddress = src;
    header.destinationAddress = dst;
    header.sourcePort = port(sport);
    header.destinationPort = port(dport);
    return header;
  }

  // ---- v2 ----

  /** Signature bytes from `from` on, as they arrive. */
  private checkSignature(from: number): void {
    for (let i = from; i < Math.min(12, this.length); i++) {
      if (this.buf[i] !== V2_SIGNATURE[i]) throw bad(`byte ${i} of the v2 signature is wrong`);
    }
  }

  /** Version, command, family and length (bytes 12-15): the whole header's length. */
  private fixedPart(): void {
    const b = this.buf;
    if (b[12]! >> 4 !== 2) throw bad(`v2 version must be 2, got ${b[12]! >> 4}`);
    if ((b[12]! & 0xf) > 1) throw bad(`v2 command must be LOCAL (0) or PROXY (1), got ${b[12]! & 0xf}`);
    const family = b[13]! >> 4;
    const transport = b[13]! & 0xf;
    if (family > 3 || transport > 2) throw bad(`v2 family/transport byte 0x${b[13]!.toString(16).padStart(2, '0')} is not one the spec defines`);
    const rest = (b[14]! << 8) | b[15]!;
    if (16 + rest > MAX_V2_HEADER) throw bad(`a v2 header of ${16 + rest} bytes, over ringwire's limit of ${MAX_V2_HEADER}`);
    if ((b[12]! & 0xf) === 1 && rest < V2_ADDRESS_BYTES[family]!) throw bad(`a v2 ${V2_FAMILIES[family]} header needs ${V2_ADDRESS_BYTES[family]} bytes of addresses, got ${rest}`);
    this.total = 16 + rest;
    const whole = new Uint8Array(this.total);
    whole.set(b.subarray(0, 16));
    this.buf = whole;
  }

  private parse2(): ProxyHeader {
    const b = this.buf;
    const local = (b[12]! & 0xf) === 0;
    const family = b[13]! >> 4;
    const header: ProxyHeader = {
      version: 2, command: local ? 'LOCAL' : 'PROXY', family: undefined, transport: undefined,
      sourceAddress: undefined, sourcePort: undefined, destinationAddress: undefined, destinationPort: undefined, tlvs: [],
    };
    // LOCAL: the balancer speaks for itself; whatever follows the fixed part is skipped (spec 2.2).
    if (local) return header;
    header.family = V2_FAMILIES[family];
    header.transport = V2_TRANSPORTS[b[13]! & 0xf];
    const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
    if (family === 1) {
      header.sourceAddress = `${b[16]}.${b[17]}.${b[18]}.${b[19]}`;
      header.destinationAddress = `${b[20]}.${b[21]}.${b[22]}.${b[23]}`;
      header.sourcePort = view.getUint16(24);
      header.destinationPort = view.getUint16(26);
    } else if (family === 2) {
      header.sourceAddress = ipv6(b.subarray(16, 32));
      header.destinationAddress = ipv6(b.subarray(32, 48));
      header.sourcePort = view.getUint16(48);
      header.destinationPort = view.getUint16(50);
    } else if (family === 3) {
      header.sourceAddress = path(b.subarray(16, 124));
      header.destinationAddress = path(b.subarray(124, 232));
    }
    // TLVs: type (1 byte), length (2), value; together they fill the rest exactly.
    let at = 16 + V2_ADDRESS_BYTES[family]!;
    while (at < this.total) {
      if (at + 3 > this.total) throw bad(`a v2 TLV header cut short at byte ${at} of ${this.total}`);
      const length = view.getUint16(at + 1);
      if (at + 3 + length > this.total) throw bad(`a v2 TLV (type 0x${b[at]!.toString(16)}) of ${length} bytes runs past the header's end`);
      header.tlvs.push({ type: b[at]!, value: b.subarray(at + 3, at + 3 + length) });
      at += 3 + length;
    }
    return header;
  }
}

function port(text: string): number {
  if (!/^(0|[1-9]\d{0,4})$/.test(text) || Number(text) > 65535) throw bad(`"${text}" is not a port (0-65535, no leading zeros)`);
  return Number(text);
}

/** RFC 5952 text of 16 bytes: the longest run of two or more zero groups as ::, IPv4-mapped as ::ffff:a.b.c.d. */
function ipv6(b: Uint8Array): string {
  if (b.subarray(0, 10).every(x => x === 0) && b[10] === 0xff && b[11] === 0xff) return `::ffff:${b[12]}.${b[13]}.${b[14]}.${b[15]}`;
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((b[i]! << 8) | b[i + 1]!);
  let best = -1;
  let bestLength = 1;
  for (let i = 0; i < 8; i++) {
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLength) {
      best = i;
      bestLength = j - i;
    }
    if (j > i) i = j;
  }
  const hex = (g: number[]) => g.map(x => x.toString(16)).join(':');
  return best < 0 ? hex(groups) : `${hex(groups.slice(0, best))}::${hex(groups.slice(best + bestLength))}`;
}

/** A unix socket path: the bytes up to the first NUL. */
function path(b: Uint8Array): string {
  const end = b.indexOf(0);
  return new TextDecoder().decode(end < 0 ? b : b.subarray(0, end));
}
