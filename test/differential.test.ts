// Differential property test: random framings and limits, random frames (mostly
// valid, sometimes garbage), split into reads at random points and drained at
// random paces. Both cores must give identical bytes out, frames, errors,
// backpressure stops and memory images; for valid streams, echo must be exact.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { coreWith, feed, lengthFrame, varintFrame } from './harness.ts';
import { resolveConfig, type CoreOptions, type Framing } from '../src/core/config.ts';
import { LAYOUT_BASE } from '../src/core/layout.ts';

const pow2 = (min: number) => fc.integer({ min: Math.ceil(Math.log2(min)), max: 9 }).map(e => 2 ** e);

const framingArb: fc.Arbitrary<Framing> = fc.oneof(
  fc.constant<Framing>({ kind: 'raw' }),
  fc.record({
    size: fc.constantFrom(1, 2, 3, 4, 8) as fc.Arbitrary<1 | 2 | 3 | 4 | 8>,
    endian: fc.constantFrom('be', 'le') as fc.Arbitrary<'be' | 'le'>,
    offset: fc.integer({ min: 0, max: 3 }),
    adjust: fc.integer({ min: -6, max: 3 }),
    stripPick: fc.nat(20),
  }).map(({ stripPick, ...f }) => ({ kind: 'length' as const, ...f, strip: stripPick % (f.offset + f.size + 2) })),
  fc.constant<Framing>({ kind: 'varint' }),
  fc.record({
    delimiter: fc.array(fc.constantFrom(10, 13, 0, 1), { minLength: 1, maxLength: 3 }).map(a => Uint8Array.from(a)),
    stripCR: fc.boolean(),
  }).map(f => ({ kind: 'delimiter' as const, ...f })),
  fc.integer({ min: 1, max: 24 }).map(size => ({ kind: 'fixed' as const, size })),
);

function encode(f: Framing, payload: Uint8Array, prefix: Uint8Array): Uint8Array {
  switch (f.kind) {
    case 'length': {
      const adjust = f.adjust ?? 0;
      if (payload.length - adjust < 0) return payload; // not encodable: garbage instead
      return lengthFrame(payload, { size: f.size, endian: f.endian, adjust, prefix: prefix.subarray(0, f.offset ?? 0) });
    }
    case 'varint':
      return varintFrame(payload);
    case 'delimiter':
      return Buffer.concat([payload, f.delimiter as Uint8Array]);
    case 'fixed':
      return Buffer.concat([payload, Buffer.alloc(f.size)]).subarray(0, f.size);
    default:
      return payload;
  }
}

const caseArb = fc.record({
  framing: framingArb,
  maxFrame: fc.integer({ min: 1, max: 40 }),
  rxPow: pow2(16),
  txPow: pow2(16),
  handler: fc.boolean(),
  segments: fc.array(fc.record({
    garbage: fc.nat(19).map(n => n === 0),
    // A small alphabet with the delimiter and CR bytes in it, so collisions are common.
    payload: fc.array(fc.constantFrom(0, 1, 2, 10, 13, 0x80, 0xff), { maxLength: 45 }).map(a => Uint8Array.from(a)),
    prefix: fc.uint8Array({ minLength: 3, maxLength: 3 }),
  }), { maxLength: 30 }),
  cuts: fc.array(fc.nat(2000), { maxLength: 12 }),
  releaseStep: fc.option(fc.integer({ min: 1, max: 40 }), { nil: undefined }),
  lazyRelease: fc.boolean(),
});

describe('wasm and js cores', () => {
  it('agree byte for byte on random framings, frames, reads and drains', async () => {
    await fc.assert(
      fc.asyncProperty(caseArb, async c => {
        let options: CoreOptions = { framing: c.framing, maxFrame: c.maxFrame, mode: c.handler ? 'handler' : 'echo', frameListCapacity: 3 };
        // Grow the rings to what the limits need, keeping the random choice when it fits.
        const fit = Math.max(16, 2 ** Math.ceil(Math.log2(Math.max(resolveConfig(options).maxWire, 1))));
        options = { ...options, rxRing: Math.max(c.rxPow, fit), txRing: Math.max(c.txPow, fit) };
        const stream = Buffer.concat(c.segments.map(s => (s.garbage ? s.payload : encode(c.framing, s.payload, s.prefix))));
        const cuts = [...new Set(c.cuts.map(x => x % (stream.length + 1)))].sort((a, b) => a - b);
        const chunks = [...cuts, stream.length].map((end, i, all) => stream.subarray(i ? all[i - 1] : 0, end));
        const results = [];
        for (const kind of ['wasm', 'js'] as const) {
          const core = await coreWith(kind, { ...options, maxConnections: 1 });
          const outcome = feed(core, core.open(), chunks, { releaseStep: c.releaseStep, lazyRelease: c.lazyRelease });
          const image = Buffer.from(new Uint8Array(core.memory, LAYOUT_BASE, core.config.regions.total - LAYOUT_BASE));
          results.push({ outcome, image, stats: core.stats.snapshot() });
        }
        const [w, j] = results;
        expect(w!.outcome).toEqual(j!.outcome);
        expect(w!.stats).toEqual(j!.stats);
        expect(w!.image.equals(j!.image)).toBe(true);
        // The oracle: a valid stream echoes exactly.
        if (!c.handler && w!.outcome.error === 0 && !c.segments.some(s => s.garbage)) {
          const complete = w!.outcome.out.length;
          expect(w!.outcome.out).toEqual(stream.subarray(0, complete));
        }
      }),
      { numRuns: 1000 },
    );
  });
});

