// PROXY protocol v1 and v2: the parser alone (every limit at the limit and one
// byte past it, bytes one at a time), then real sockets on 127.0.0.1 on both cores
// and both read paths: headers split across reads, what handlers see, refusals
// with ERR_PROXY_HEADER for bad, untrusted, missing and late headers, and the
// bytes that follow a header in the same packet framed exactly, while a bystander
// keeps echoing. Real HAProxy is in haproxy.test.ts.
import net from 'node:net';
import { once } from 'node:events';
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ProxyHeaderParser, MAX_V1_HEADER, MAX_V2_HEADER, type ProxyHeader } from '../src/net/proxy-header.ts';
import { AddressRanges } from '../src/net/address-ranges.ts';
import { lengthFrame } from './harness.ts';
import { refusal } from './cli-process.ts';
import { bystander, collect, errorCodes, PATHS, sleep, startServer, until } from './net-helpers.ts';
import { ProxyHeaderTimeoutError, type Connection, type ServerOptions } from '../src/index.ts';
import { canTransferSockets, createWorkerServer } from 'ringwire';
import { plainServer } from './net-helpers.ts';

const SIGNATURE = Buffer.from('0d0a0d0a000d0a515549540a', 'hex');

/** A v2 header: command (0 LOCAL, 1 PROXY), family/transport byte, address block, then TLVs. */
function v2(command: number, familyByte: number, addresses: Buffer, tlvs: { type: number; value: Buffer }[] = []): Buffer {
  const tlvBytes = Buffer.concat(tlvs.map(t => Buffer.concat([Buffer.from([t.type, t.value.length >> 8, t.value.length & 0xff]), t.value])));
  const rest = addresses.length + tlvBytes.length;
  return Buffer.concat([SIGNATURE, Buffer.from([0x20 | command, familyByte, rest >> 8, rest & 0xff]), addresses, tlvBytes]);
}

/** v2 PROXY TCP over IPv4 from src:sport to dst:dport. */
function v2inet(src: string, sport: number, dst: string, dport: number, tlvs: { type: number; value: Buffer }[] = []): Buffer {
  const a = Buffer.alloc(12);
  src.split('.').forEach((x, i) => (a[i] = Number(x)));
  dst.split('.').forEach((x, i) => (a[4 + i] = Number(x)));
  a.writeUInt16BE(sport, 8);
  a.writeUInt16BE(dport, 10);
  return v2(1, 0x11, a, tlvs);
}

/** A v2 header of exactly `total` bytes: IPv4 addresses and one padding TLV (type 0x04, NOOP). */
function v2ofLength(total: number): Buffer {
  const padding = total - 16 - 12 - 3;
  return v2inet('10.1.2.3', 4000, '10.9.9.9', 443, [{ type: 0x04, value: Buffer.alloc(padding, 0x61) }]);
}

/** A v1 UNKNOWN line of exactly `total` bytes with its CRLF. */
const v1ofLength = (total: number) => Buffer.from(`PROXY UNKNOWN ${'x'.repeat(total - 'PROXY UNKNOWN '.length - 2)}\r\n`);

function parse(bytes: Buffer, accepts: 'v1' | 'v2' | 'any' = 'any'): { used: number; header: ProxyHeader | undefined } {
  const p = new ProxyHeaderParser(accepts);
  const used = p.push(bytes);
  return { used, header: p.header };
}

const codeOf = (f: () => unknown): string | undefined => {
  try {
    f();
  } catch (err) {
    return (err as { code?: string }).code;
  }
  return undefined;
};

describe('the PROXY header parser', () => {
  it('reads v1 TCP4, TCP6 and UNKNOWN and says where the header ended', () => {
    const line = Buffer.from('PROXY TCP4 192.0.2.7 198.51.100.1 56324 443\r\nnext');
    expect(parse(line)).toEqual({
      used: line.length - 4,
      header: {
        version: 1, command: 'PROXY', family: 'IPv4', transport: undefined, sourceAddress: '192.0.2.7', sourcePort: 56324,
        destinationAddress: '198.51.100.1', destinationPort: 443, tlvs: [],
      },
    });
    expect(parse(Buffer.from('PROXY TCP6 2001:db8::1 ::1 1 65535\r\n')).header).toMatchObject({ family: 'IPv6', sourceAddress: '2001:db8::1', destinationPort: 65535 });
    expect(parse(Buffer.from('PROXY UNKNOWN\r\n')).header).toMatchObject({ family: undefined, sourceAddress: undefined });
  });

  it('refuses a v1 IPv6 address with a zone id (fe80::1%eth0), which net.isIP takes, and takes the same address without it', () => {
    expect(parse(Buffer.from('PROXY TCP6 fe80::1 ::1 1 2\r\n')).header).toMatchObject({ sourceAddress: 'fe80::1' });
    for (const line of ['PROXY TCP6 fe80::1%eth0 ::1 1 2\r\n', 'PROXY TCP6 ::1 fe80::1%1 1 2\r\n']) {
      expect(() => parse(Buffer.from(line))).toThrow(expect.objectContaining({ code: 'ERR_PROXY_HEADER', message: expect.stringMatching(/has a zone id/) }));
    }
  });

  it('takes a v1 line of 107 bytes and refuses 108, at the 107th byte', () => {
    expect(parse(v1ofLength(MAX_V1_HEADER)).used).toBe(107);
    expect(codeOf(() => parse(v1ofLength(MAX_V1_HEADER + 1)))).toBe('ERR_PROXY_HEADER');
    expect(codeOf(() => parse(v1ofLength(MAX_V1_HEADER + 1).subarray(0, 107)))).toBe('ERR_PROXY_HEADER');
  });

  it('takes a v2 header of MAX_V2_HEADER bytes and refuses one byte more as soon as its length is read', () => {
    const { used, header } = parse(v2ofLength(MAX_V2_HEADER));
    expect(used).toBe(MAX_V2_HEADER);
    expect(header!.tlvs).toHaveLength(1);
    expect(header!.tlvs[0]!.value.length).toBe(MAX_V2_HEADER - 31);
    expect(codeOf(() => parse(v2ofLength(MAX_V2_HEADER + 1).subarray(0, 16)))).toBe('ERR_PROXY_HEADER');
  });

  it('parses the same header fed one byte at a time', () => {
    for (const bytes of [Buffer.from('PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n'), v2inet('1.2.3.4', 1, '5.6.7.8', 2, [{ type: 1, value: Buffer.from('h2') }])]) {
      const p = new ProxyHeaderParser('any');
      for (let i = 0; i < bytes.length - 1; i++) expect(p.push(bytes.subarray(i, i + 1))).toBe(-1);
      expect(p.push(Buffer.concat([bytes.subarray(-1), Buffer.from('rest')]))).toBe(1);
      expect(p.header).toMatchObject({ sourceAddress: '1.2.3.4', sourcePort: 1, destinationAddress: '5.6.7.8', destinationPort: 2 });
    }
  });

  it('reads v2 IPv6 (RFC 5952 text), unix paths, LOCAL and TLVs', () => {
    const a6 = Buffer.alloc(36);
    Buffer.from('20010db8000000000000000000000001', 'hex').copy(a6, 0);
    Buffer.from('00000000000000000000ffff7f000001', 'hex').copy(a6, 16);
    a6.writeUInt16BE(1234, 32);
    a6.writeUInt16BE(80, 34);
    expect(parse(v2(1, 0x21, a6)).header).toMatchObject({ family: 'IPv6', transport: 'stream', sourceAddress: '2001:db8::1', destinationAddress: '::ffff:127.0.0.1', sourcePort: 1234 });
    const unix = Buffer.alloc(216);
    unix.write('/run/client.sock', 0);
    unix.write('/run/ringwire.sock', 108);
    expect(parse(v2(1, 0x31, unix)).header).toMatchObject({ family: 'unix', sourceAddress: '/run/client.sock', destinationAddress: '/run/ringwire.sock', sourcePort: undefined });
    expect(parse(v2(0, 0x00, Buffer.alloc(0))).header).toMatchObject({ command: 'LOCAL', family: undefined });
    const tlvs = parse(v2inet('1.1.1.1', 1, '2.2.2.2', 2, [{ type: 0x01, value: Buffer.from('h2') }, { type: 0x05, value: Buffer.from('id-7') }])).header!.tlvs;
    expect(tlvs.map(t => [t.type, Buffer.from(t.value).toString()])).toEqual([[1, 'h2'], [5, 'id-7']]);
  });

  it('refuses garbled headers with ERR_PROXY_HEADER', () => {
    const bad: Buffer[] = [
      Buffer.from('GET / HTTP/1.1\r\n'),
      Buffer.from('PROXY TCP5 1.2.3.4 5.6.7.8 1 2\r\n'),
      Buffer.from('PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n'),
      Buffer.from('PROXY TCP4 1.2.3.4 5.6.7.8 01 2\r\n'),
      Buffer.from('PROXY TCP4 1.2.3.4 5.6.7.8 1 65536\r\n'),
      Buffer.from('PROXY TCP4 ::1 5.6.7.8 1 2\r\n'),
      Buffer.from('PROXY TCP4  1.2.3.4 5.6.7.8 1 2\r\n'),
      Buffer.concat([SIGNATURE.subarray(0, 11), Buffer.from([0])]),
      Buffer.concat([SIGNATURE, Buffer.from([0x31, 0x11, 0, 12])]), // version 3
      Buffer.concat([SIGNATURE, Buffer.from([0x22, 0x11, 0, 12])]), // command 2
      Buffer.concat([SIGNATURE, Buffer.from([0x21, 0x41, 0, 12])]), // family 4
      Buffer.concat([SIGNATURE, Buffer.from([0x21, 0x11, 0, 11])]), // too short for IPv4
    ];
    // A header whose length ends inside its TLV.
    const cut = v2inet('1.1.1.1', 1, '2.2.2.2', 2, [{ type: 1, value: Buffer.from('abc') }]);
    cut.writeUInt16BE(cut.readUInt16BE(14) - 1, 14);
    bad.push(cut.subarray(0, cut.length - 1));
    for (const b of bad) expect(codeOf(() => parse(b)), b.toString('latin1')).toBe('ERR_PROXY_HEADER');
    expect(codeOf(() => parse(Buffer.from('PROXY UNKNOWN\r\n'), 'v2'))).toBe('ERR_PROXY_HEADER');
    expect(codeOf(() => parse(v2(0, 0, Buffer.alloc(0)), 'v1'))).toBe('ERR_PROXY_HEADER');
  });

  it('matches trusted ranges for IPv4, IPv6 and IPv4-mapped addresses, and refuses bad ranges', () => {
    const r = new AddressRanges(['10.0.0.0/8', '2001:db8::/32', '192.0.2.1']);
    expect([r.has('10.2.3.4'), r.has('::ffff:10.2.3.4'), r.has('2001:db8::5'), r.has('192.0.2.1'), r.has('192.0.2.2'), r.has('11.0.0.1'), r.has(undefined)])
      .toEqual([true, true, true, true, false, false, false]);
    for (const bad of ['10.0.0.0/33', 'example.com', '10.0.0.0/8/1', '::/129', '']) expect(codeOf(() => new AddressRanges([bad]))).toBe('ERR_BAD_CONFIG');
  });
});

/** Connect (from `from`, a loopback address), write `first` at once; the socket, what it receives, and its close. */
async function client(port: number, first: Buffer, from = '127.0.0.1') {
  const s = net.connect({ port, host: '127.0.0.1', localAddress: from, noDelay: true });
  s.on('error', () => {});
  await once(s, 'connect');
  const c = collect(s);
  if (first.length > 0) s.write(first);
  return { s, ...c };
}

describe.each(PATHS)('PROXY protocol over sockets, core=$core zeroCopy=$zeroCopy', ({ core, zeroCopy }) => {
  const serve = (o: Partial<ServerOptions> = {}) => {
    const seen: { remote: string; port: number | undefined; local: string | undefined; socket: string | undefined; header: ProxyHeader | undefined }[] = [];
    const onOpen = (c: Connection) => void seen.push({ remote: `${c.remoteAddress}`, port: c.remotePort, local: c.localAddress, socket: c.socketRemoteAddress, header: c.proxyHeader });
    return startServer({ core, zeroCopy, framing: 'length:4:be', proxyProtocol: 'any', onOpen, ...o }).then(r => ({ ...r, seen }));
  };

  it('frames the bytes that arrived with the header exactly, and onOpen sees the client the header names', async () => {
    const { server, port, seen } = await serve();
    const frames = Buffer.concat([lengthFrame(randomBytes(300)), lengthFrame(randomBytes(5))]);
    for (const header of [Buffer.from('PROXY TCP4 192.0.2.7 198.51.100.1 56324 443\r\n'), v2inet('192.0.2.8', 4000, '198.51.100.2', 8443)]) {
      const c = await client(port, Buffer.concat([header, frames]));
      await until(() => c.received() === frames.length, 5000, 'the echo');
      c.s.end();
      expect((await c.done).equals(frames)).toBe(true);
    }
    expect(seen.map(x => [x.remote, x.port, x.local, x.socket])).toEqual([
      ['192.0.2.7', 56324, '198.51.100.1', '127.0.0.1'],
      ['192.0.2.8', 4000, '198.51.100.2', '127.0.0.1'],
    ]);
    await server.close();
  });

  it('takes headers split across reads byte by byte, at their size limits, with TLVs, IPv6, unix and LOCAL', async () => {
    const { server, port, seen } = await serve();
    const a6 = Buffer.alloc(36);
    Buffer.from('20010db8000000000000000000000042', 'hex').copy(a6, 0);
    a6.writeUInt16BE(7, 32);
    const unix = Buffer.alloc(216);
    unix.write('/run/c.sock', 0);
    const headers = [
      v1ofLength(MAX_V1_HEADER),
      v2ofLength(MAX_V2_HEADER),
      v2inet('192.0.2.1', 1, '192.0.2.2', 2, [{ type: 0x01, value: Buffer.from('h2') }, { type: 0xe0, value: Buffer.from([1, 2, 3]) }]),
      v2(1, 0x21, a6),
      v2(1, 0x31, unix),
      v2(0, 0, Buffer.alloc(0)),
    ];
    for (const header of headers) {
      const frame = lengthFrame(randomBytes(64));
      const c = await client(port, Buffer.alloc(0));
      // The first bytes one per write, each its own read (a pause between), the rest with the frame.
      for (let i = 0; i < 20; i++) {
        c.s.write(header.subarray(i, i + 1));
        await sleep(2);
      }
      c.s.write(Buffer.concat([header.subarray(20), frame]));
      await until(() => c.received() === frame.length, 5000, 'the echo');
      c.s.end();
      expect((await c.done).equals(frame)).toBe(true);
    }
    expect(seen.map(x => [x.remote, x.port])).toEqual([
      ['127.0.0.1', seen[0]!.port], ['10.1.2.3', 4000], ['192.0.2.1', 1], ['2001:db8::42', 7], ['/run/c.sock', undefined], ['127.0.0.1', seen[5]!.port],
    ]);
    expect(seen[0]!.header).toMatchObject({ version: 1, family: undefined });
    expect(seen[2]!.header!.tlvs.map(t => [t.type, [...t.value]])).toEqual([[1, [0x68, 0x32]], [0xe0, [1, 2, 3]]]);
    expect(seen[5]!.header).toMatchObject({ version: 2, command: 'LOCAL' });
    expect(server.stats().total.errors).toBe(0);
    await server.close();
  });

  it('counts no error for a balancer\'s health check that resets before a header or after LOCAL (HAProxy\'s do)', async () => {
    const { server, port, seen } = await serve();
    const codes = errorCodes(server);
    for (const first of [Buffer.alloc(0), v2(0, 0, Buffer.alloc(0))]) {
      const c = await client(port, first);
      if (first.length > 0) await until(() => seen.length > 0 && seen.at(-1)!.header !== undefined && server.connections.size === 1, 5000, 'the header');
      else await until(() => server.connections.size === 1, 5000, 'the connection');
      c.s.resetAndDestroy();
      await until(() => server.connections.size === 0, 5000, 'the close');
    }
    expect(codes).toEqual([]);
    expect(seen.map(x => x.header?.command)).toEqual(['LOCAL']);
    await server.close();
  });

  it('counts maxConnectionsPerIp on the client the header names, not on the balancer', async () => {
    const { server, port, seen } = await serve({ maxConnectionsPerIp: 1 });
    const codes = errorCodes(server);
    const first = await client(port, v2inet('198.51.100.1', 1, '127.0.0.1', port));
    const other = await client(port, v2inet('198.51.100.2', 2, '127.0.0.1', port));
    await until(() => seen.length === 2, 5000, 'two clients from one balancer');
    const again = await client(port, v2inet('198.51.100.1', 3, '127.0.0.1', port));
    expect((await again.done).length).toBe(0);
    expect(codes).toEqual(['ERR_TOO_MANY_CONNECTIONS']);
    expect(server.stats().total.refusedPerIp).toBe(1);
    // Refused after its header, so it opened a slot: it closes with that reason (and the metric shows it).
    await until(() => server.stats().total.closedBy.ERR_TOO_MANY_CONNECTIONS === 1, 5000, 'the close by reason');
    expect(server.metrics()).toMatch(/^ringwire_connections_closed_total\{worker="0",reason="ERR_TOO_MANY_CONNECTIONS"\} 1$/m);
    first.s.destroy();
    other.s.destroy();
    await server.close();
  });

  it('proxyTimeout: a header whole just inside it opens; with proxyTimeout 0 a silent peer still meets the idle timeout', async () => {
    const { server, port, seen } = await serve({ proxyTimeout: 400 });
    const codes = errorCodes(server);
    const header = v2inet('198.51.100.7', 7, '127.0.0.1', port);
    const c = await client(port, header.subarray(0, 10));
    await sleep(250); // well inside 400 ms
    c.s.write(header.subarray(10));
    await until(() => seen.length === 1, 5000, 'the header');
    await sleep(300); // past the deadline counted from the connection: opened, so no longer on that clock
    expect(codes).toEqual([]);
    expect(c.s.destroyed).toBe(false);
    c.s.destroy();
    await server.close();

    const never = await serve({ proxyTimeout: 0, idleTimeout: 300 });
    const neverCodes = errorCodes(never.server);
    const silent = await client(never.port, Buffer.alloc(0));
    expect((await silent.done).length).toBe(0);
    expect(neverCodes).toEqual(['ERR_IDLE_TIMEOUT']); // not left waiting for a header forever
    await never.server.close();
  });

  it('closes bad, oversized, missing, cut, late and untrusted headers with ERR_PROXY_HEADER before onOpen, while a bystander echoes', async () => {
    const { server, port, seen } = await serve({ proxyTimeout: 300, proxyTrusted: ['127.0.0.1/32'] });
    const codes = errorCodes(server);
    let timeouts = 0;
    server.on('clientError', e => void (e instanceof ProxyHeaderTimeoutError && timeouts++));
    const b = bystander(port, v2inet('203.0.113.9', 9, '127.0.0.1', port));
    await until(() => seen.length === 1, 5000, 'the bystander');
    const refused = [
      v1ofLength(MAX_V1_HEADER + 1),
      v2ofLength(MAX_V2_HEADER + 1),
      Buffer.concat([lengthFrame(Buffer.from('no header')), lengthFrame(Buffer.from('at all'))]),
      Buffer.from('PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n'),
    ];
    for (const bytes of refused) {
      const c = await client(port, bytes);
      expect((await c.done).length).toBe(0);
    }
    const cut = await client(port, Buffer.alloc(0));
    cut.s.end(v2inet('1.2.3.4', 1, '5.6.7.8', 2).subarray(0, 20));
    expect((await cut.done).length).toBe(0);
    const late = await client(port, Buffer.from('PROXY TCP4 1.2.'));
    expect((await late.done).length).toBe(0);
    const untrusted = await client(port, v2inet('1.2.3.4', 1, '5.6.7.8', 2), '127.0.0.2');
    expect((await untrusted.done).length).toBe(0);
    expect(codes).toEqual(Array(7).fill('ERR_PROXY_HEADER'));
    expect(timeouts).toBe(1); // the late one: its own class and counter, the same code
    expect(server.stats().total.proxyTimeouts).toBe(1);
    expect(seen).toHaveLength(1); // only the bystander opened
    expect(await b.stop()).toBeGreaterThan(5);
    expect(server.stats().total.errorsByCode).toEqual({ ERR_PROXY_HEADER: 7 });
    await server.close();
  });
});

describe('PROXY protocol with workers, the relay and the command line', () => {
  it('ringwire serve refuses bad --proxy-* flags before it starts', async () => {
    for (const [args, message] of [
      [['--proxy-protocol', 'v3'], '--proxy-protocol must be v1, v2 or any'],
      [['--proxy-protocol', 'v2', '--proxy-trusted', '10.0.0.0/33'], '"10.0.0.0/33" is not an address or a CIDR range'],
      [['--proxy-trusted', '10.0.0.0/8'], 'go with --proxy-protocol'],
    ] as const) {
      expect(await refusal(['serve', '--port', '0', ...args])).toContain(message);
    }
  });

  const HANDLER = new URL('./fixtures/probe-handler.mjs', import.meta.url).pathname;
  const balances = canTransferSockets() ? (['reuseport', 'transfer'] as const) : (['reuseport'] as const);

  it.each(balances)('every worker reads the header before framing (balance %s)', async balance => {
    const server = createWorkerServer({ workers: 2, balance, framing: 'line', handler: HANDLER, proxyProtocol: 'v1', proxyTrusted: ['127.0.0.1'] });
    const { port } = await server.listen(0, '127.0.0.1');
    for (let i = 0; i < 4; i++) {
      const c = await client(port, Buffer.from(`PROXY TCP4 198.51.100.${i} 198.51.100.200 ${4000 + i} 443\r\naddress\nhello\n`));
      await until(() => c.received() === `198.51.100.${i}:${4000 + i}\nhello\n`.length, 5000, 'the replies');
      c.s.end();
      expect((await c.done).toString()).toBe(`198.51.100.${i}:${4000 + i}\nhello\n`);
    }
    const refused = await client(port, Buffer.from('address\n'));
    expect((await refused.done).length).toBe(0);
    await until(() => server.stats().total.errorsByCode.ERR_PROXY_HEADER === 1, 5000, 'the count');
    await server.close();
  });

  it.each(['wasm', 'js'] as const)('a relay (core=%s) reads the header and forwards only the frames after it', async core => {
    const seen: Buffer[] = [];
    const upstream = await plainServer(s => s.on('data', d => { seen.push(d); s.write(d); }).on('end', () => s.end()));
    const { server, port } = await startServer({ core, framing: 'line', upstream: { port: upstream.port }, proxyProtocol: 'v2' });
    const c = await client(port, Buffer.concat([v2inet('192.0.2.5', 5, '192.0.2.6', 6), Buffer.from('one\ntwo\n')]));
    await until(() => c.received() === 8, 5000, 'the relayed echo');
    c.s.end();
    expect((await c.done).toString()).toBe('one\ntwo\n');
    expect(Buffer.concat(seen).toString()).toBe('one\ntwo\n');
    await server.close();
    await upstream.stop();
  });

  it.each(['wasm', 'js'] as const)('a relay (core=%s) dials its upstream only for a whole, good header', async core => {
    let dialled = 0;
    const upstream = await plainServer(s => { dialled++; s.pipe(s); });
    const { server, port } = await startServer({ core, framing: 'line', upstream: { port: upstream.port }, proxyProtocol: 'v2' });
    const codes = errorCodes(server);
    // A health check that connects and goes, half a header that never completes, a garbled one: no upstream connection.
    const check = await client(port, Buffer.alloc(0));
    check.s.destroy();
    const half = await client(port, v2inet('192.0.2.5', 5, '192.0.2.6', 6).subarray(0, 20));
    const garbled = await client(port, Buffer.from('GET / HTTP/1.1\r\n\r\n'));
    await garbled.done;
    await until(() => codes.length === 1, 5000, 'the garbled header refused');
    half.s.destroy();
    await until(() => server.connections.size === 0 && codes.length === 2, 5000, 'every connection gone');
    expect(dialled).toBe(0);
    // A good header: one upstream connection, the frames after it relayed.
    const c = await client(port, Buffer.concat([v2inet('192.0.2.5', 5, '192.0.2.6', 6), Buffer.from('one\n')]));
    await until(() => c.received() === 4, 5000, 'the relayed echo');
    c.s.end();
    expect((await c.done).toString()).toBe('one\n');
    expect(dialled).toBe(1);
    expect(codes).toEqual(['ERR_PROXY_HEADER', 'ERR_PROXY_HEADER']); // the garbled header, and the one cut short
    await server.close();
    await upstream.stop();
  });
});
