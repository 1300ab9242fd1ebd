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
    const fixed = regionsFor(0, ring, ring, 0, 1024).total;
    const most = Math.floor((2 ** 32 - fixed) / (2 * ring + SLOT_SIZE));
    expect(resolveConfig({ maxConnections: most, rxRing: ring, txRing: ring }).regions.total).toBeLessThanOrEqual(2 ** 32);
    expect(code(() => resolveConfig({ maxConnections: most + 1, rxRing: ring, txRing: ring }))).toBe('ERR_BAD_CONFIG');
  });

  it('refuses zero connections and zero-byte frames', () => {
    expect(code(() => resolveConfig({ maxConnections: 0 }))).toBe('ERR_BAD_CONFIG');
    expect(resolveConfig({ maxConnections: 1 }).slots).toBe(1);
    expect(code(() => resolveConfig({ maxFrame: 0 }))).toBe('ERR_BAD_CONFIG');
  });
});
