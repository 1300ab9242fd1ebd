// Options: the CLI's framing spellings, and every limit at the limit and one past it.
import { describe, expect, it } from 'vitest';
import { parseFraming, resolveConfig, describeFraming } from '../src/core/config.ts';
import { SLOT_SIZE, regionsFor } from '../src/core/layout.ts';

const code = (f: () => unknown) => {
  try {
    f();
  } catch (e) {
    return (e as { code: string }).code;
  }
  return 'no error';
};

describe('framing specs', () => {
  it.each([
    ['raw', { kind: 'raw' }],
    ['length', { kind: 'length' }],
    ['length:2:le:offset=1:adjust=-3:strip=0', { kind: 'length', size: 2, endian: 'le', offset: 1, adjust: -3, strip: 0 }],
    ['varint', { kind: 'varint' }],
    ['line', { kind: 'delimiter', delimiter: '\n', stripCR: false }],
    ['line:cr', { kind: 'delimiter', delimiter: '\n', stripCR: true }],
    ['fixed:64', { kind: 'fixed', size: 64 }],
  ])('parses %s', (spec, want) => {
    expect(parseFraming(spec)).toEqual(want);
  });

  it('parses delimiter escapes, colons included', () => {
    expect(parseFraming('delimiter:\\r\\n\\x3a\\0:cr')).toEqual({ kind: 'delimiter', delimiter: Uint8Array.from([13, 10, 58, 0]), stripCR: true });
    expect(describeFraming(parseFraming('delimiter:\\r\\n\\x3a\\0:cr'))).toBe('delimiter:\\r\\n\\x3a\\x00:cr');
  });

  it.each([
    ['delimiter:\\xZZ', '\\x needs two hex digits (\\x00 to \\xff), got "ZZ"'],
    ['delimiter:ab\\x4', '\\x needs two hex digits (\\x00 to \\xff), got "4"'],
    ['delimiter:\\q', 'unknown escape \\q: the escapes are \\n \\r \\t \\0 \\\\ and \\xHH'],
    ['delimiter:ab\\', 'a lone \\ at the end: write \\\\ for a backslash'],
  ])('says what is wrong with the escape in "%s"', (spec, why) => {
    expect(() => parseFraming(spec)).toThrow(expect.objectContaining({ code: 'ERR_BAD_CONFIG', message: `bad framing "${spec}": ${why}` }));
  });

  it.each(['', 'bogus', 'raw:1', 'fixed', 'fixed:x', 'line:lf', 'length:4:be:speed=2', 'delimiter:\\q', 'length:9'])('refuses "%s" with ERR_BAD_CONFIG', spec => {
    expect(code(() => resolveConfig({ framing: spec }))).toBe('ERR_BAD_CONFIG');
  });
});

describe('limits', () => {
  it('takes an rx ring exactly the size of the largest frame, and refuses one byte more of frame', () => {
    // length:4 + 60-byte payload = 64 bytes on the wire.
    expect(resolveConfig({ framing: 'length:4', maxFrame: 60, rxRing: 64, txRing: 64 }).rxSize).toBe(64);
    expect(code(() => resolveConfig({ framing: 'length:4', maxFrame: 61, rxRing: 64, txRing: 128 }))).toBe('ERR_BAD_CONFIG');
    expect(code(() => resolveConfig({ framing: 'length:4', maxFrame: 61, rxRing: 128, txRing: 64 }))).toBe('ERR_BAD_CONFIG');
  });

  it('sizes unset rings to fit the largest frame', () => {
    const c = resolveConfig({ framing: 'line', maxFrame: 100_000 });
    expect([c.rxSize, c.txSize]).toEqual([131072, 131072]);
  });

  it('refuses rings that are not powers of two, or under 16 bytes', () => {
    expect(code(() => resolveConfig({ rxRing: 100 }))).toBe('ERR_BAD_CONFIG');
    expect(code(() => resolveConfig({ txRing: 8 }))).toBe('ERR_BAD_CONFIG');
    expect(resolveConfig({ rxRing: 16, txRing: 16 }).rxSize).toBe(16);
  });

  it('refuses a layout over 4 GiB and takes one just under', () => {
    const ring = 131072;
    const fixed = regionsFor(resolveConfig({}).slots, 1024, 1024, 0).total; // header, stats, frame list, slot table
    // The arena is whole largest segments: the most that fits beside the table's map byte per minRing.
    const most = Math.floor((2 ** 32 - fixed - 8192) / (ring + ring / 1024)) * ring;
    expect(resolveConfig({ maxMemory: most, rxRing: ring, txRing: ring }).regions.total).toBeLessThanOrEqual(2 ** 32);
    expect(code(() => resolveConfig({ maxMemory: most + ring, rxRing: ring, txRing: ring }))).toBe('ERR_BAD_CONFIG');
  });

  it('takes 100,000 connections with the default frames: the pool, not the connection count, bounds the rings', () => {
    const c = resolveConfig({ maxConnections: 100_000 });
    expect(c.maxConnections).toBe(100_000);
    expect(c.slots).toBe(200_000); // as many again for quarantined connections: 64 bytes each, no rings of their own
    expect(c.regions.arenaSize).toBe(2 ** 30);
    expect(c.regions.total).toBeLessThan(2 ** 32);
  });

  it('takes 64 MiB frames with the default connection count', () => {
    const c = resolveConfig({ framing: 'length:4:be', maxFrame: 64 * 2 ** 20 });
    expect(c.rxSize).toBe(2 ** 27);
    expect(c.regions.arenaSize).toBeGreaterThanOrEqual(2 * (c.rxSize + c.txSize));
  });

  it('refuses a maxMemory smaller than one connection\'s largest rings, and takes exactly that', () => {
    const o = { rxRing: 4096, txRing: 4096, minRing: 1024 };
    expect(resolveConfig({ ...o, maxMemory: 8192 }).regions.arenaSize).toBe(8192);
    expect(code(() => resolveConfig({ ...o, maxMemory: 8191 }))).toBe('ERR_BAD_CONFIG');
    // Handler mode: the rx ring's segment holds its pad too.
    expect(code(() => resolveConfig({ ...o, mode: 'handler', maxMemory: 8192 }))).toBe('ERR_BAD_CONFIG');
    expect(resolveConfig({ ...o, mode: 'handler', maxMemory: 16384 }).regions.arenaSize).toBe(16384);
  });

  it('refuses a smallest ring that is not a power of two from 16 to the largest ring', () => {
    expect(code(() => resolveConfig({ minRing: 8 }))).toBe('ERR_BAD_CONFIG');
    expect(code(() => resolveConfig({ minRing: 1000 }))).toBe('ERR_BAD_CONFIG');
    expect(code(() => resolveConfig({ rxRing: 1024, minRing: 2048 }))).toBe('ERR_BAD_CONFIG');
    expect(resolveConfig({ rxRing: 256, txRing: 512 }).minRing).toBe(256);
  });

  it('refuses zero connections and zero-byte frames', () => {
    expect(code(() => resolveConfig({ maxConnections: 0 }))).toBe('ERR_BAD_CONFIG');
    expect(resolveConfig({ maxConnections: 1 })).toMatchObject({ maxConnections: 1, slots: 2 });
    expect(resolveConfig({ maxConnections: 1, quarantineSlots: 0 }).slots).toBe(1);
    expect(resolveConfig({ maxConnections: 3, quarantineSlots: 5 }).slots).toBe(8);
    expect(code(() => resolveConfig({ quarantineSlots: -1 }))).toBe('ERR_BAD_CONFIG');
    expect(code(() => resolveConfig({ maxFrame: 0 }))).toBe('ERR_BAD_CONFIG');
  });
});
