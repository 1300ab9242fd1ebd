// The benchmark's statistics: histogram buckets and percentiles, medians and
// spreads over rounds, ratios, and the per-scenario summaries built from samples.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import type v8 from 'node:v8';
import { BUCKETS, bucketOf, bucketTop, Histogram } from '../src/bench/histogram.ts';
import { median, ratio, spread } from '../src/bench/summary.ts';
import { bySuite, summarize } from '../src/bench/results.ts';
import type { Scenario } from '../src/bench/contenders.ts';
import { countGc } from '../src/bench/gc-count.ts';
import type { Sample } from '../src/bench/runner.ts';

/** The exact percentile by sorting: the smallest v with at least p of the values <= v. */
function exact(values: number[], p: number): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.max(1, Math.ceil(p * s.length)) - 1]!;
}

describe('histogram', () => {
  it('keeps values below 128 ns exact and puts every value in a bucket whose range holds it', () => {
    for (let v = 0; v < 128; v++) expect([bucketOf(v), bucketTop(v)]).toEqual([v, v]);
    for (const v of [128, 129, 130, 255, 256, 1000, 65_535, 1e6, 123_456_789, 2 ** 32 - 1]) {
      const b = bucketOf(v);
      expect(bucketTop(b)).toBeGreaterThanOrEqual(v);
      expect(b === 0 || bucketTop(b - 1) < v).toBe(true);
    }
    expect(bucketOf(2 ** 40)).toBe(BUCKETS - 1); // clamped into the last bucket
  });

  it('reports a percentile at or above the exact one, within 1/64, never above the max', () => {
    fc.assert(fc.property(
      fc.array(fc.integer({ min: 0, max: 5e9 }), { minLength: 1, maxLength: 400 }),
      fc.constantFrom(0.5, 0.9, 0.99, 0.999, 1),
      (values, p) => {
        const h = new Histogram();
        for (const v of values) h.record(v);
        const want = exact(values, p);
        const got = h.percentile(p);
        expect(got).toBeGreaterThanOrEqual(Math.min(want, 2 ** 32 - 1));
        expect(got).toBeLessThanOrEqual(Math.max(want * (1 + 1 / 64), want + 1));
        expect(got).toBeLessThanOrEqual(h.max);
      },
    ), { numRuns: 300 });
  });

  it('has exact count, sum, min, max and mean', () => {
    const h = new Histogram();
    for (const v of [5, 1_000_000, 300, 42.4]) h.record(v);
    expect([h.count, h.sum, h.min, h.max]).toEqual([4, 1_000_347, 5, 1_000_000]);
    expect(h.mean()).toBeCloseTo(250_086.75);
    expect(h.percentile(1)).toBe(1_000_000);
    expect(h.percentile(0.25)).toBe(5);
    expect(h.percentile(0.5)).toBe(42);
    expect(new Histogram().percentile(0.5)).toBeNaN();
  });

  it('merges: two halves give the same histogram as the whole, also through JSON', () => {
    const whole = new Histogram(), a = new Histogram(), b = new Histogram();
    for (let i = 0; i < 1000; i++) {
      const v = (i * 7919) % 100_000;
      whole.record(v);
      (i % 2 ? a : b).record(v);
    }
    const merged = Histogram.from(JSON.parse(JSON.stringify(a.toJSON()))).merge(b);
    expect(merged.toJSON()).toEqual(whole.toJSON());
    for (const p of [0.5, 0.99, 0.999]) expect(merged.percentile(p)).toBe(whole.percentile(p));
    expect(Histogram.from(new Histogram().toJSON()).min).toBe(Infinity);
  });
});

describe('median, spread, ratio', () => {
  it('takes the middle value, or the mean of the middle two, and ignores NaN', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([5])).toBe(5);
    expect(median([NaN, 7, 1])).toBe(4);
    expect(median([])).toBeNaN();
  });

  it('spreads over rounds', () => {
    expect(spread([10, 30, 20])).toEqual({ median: 20, min: 10, max: 30, n: 3 });
    expect(spread([])).toEqual({ median: NaN, min: NaN, max: NaN, n: 0 });
  });

  it('divides only what can be divided', () => {
    expect(ratio(3, 2)).toBe(1.5);
    expect(ratio(3, 0)).toBeNaN();
    expect(ratio(NaN, 2)).toBeNaN();
    expect(ratio(3, Infinity)).toBeNaN();
  });
});

describe('summaries', () => {
  const scenario: Scenario = { suite: 'echo', connections: 2, frameBytes: 64, depth: 1, framing: 'length:4:be' };
  const sample = (contender: string, round: number, fps: number, cpuNs: number, failure?: string, at = scenario): Sample => {
    const latency = new Histogram();
    for (let i = 1; i <= 100; i++) latency.record(i * 1000 * round); // 1..100 µs, scaled by round
    return {
      scenario: at, contender, round, failure, frames: fps, bytes: fps * 64, seconds: 1, framesPerSecond: fps,
      megabytesPerSecond: (fps * 64) / 1e6, latency: latency.toJSON(), serverCpu: { user: 0, system: 0 },
      cpuPerFrame: { user: cpuNs / 4, system: (3 * cpuNs) / 4, total: cpuNs }, serverSyscalls: { reads: fps, writes: fps / round },
      syscallsPerFrame: { reads: 1, writes: 1 / round }, serverPeakRss: 50e6,
      generatorCpu: { user: 0.5, system: 0.5 }, generatorCores: 1, serverCores: 0.9, mismatches: 0, shortReads: 0, errors: 0,
    };
  };

  it('gives medians, ranges and ratios to the baseline of the medians', () => {
    const samples = [
      sample('fast', 1, 300, 1000), sample('base', 1, 100, 4000),
      sample('fast', 2, 200, 3000), sample('base', 2, 200, 2000),
      sample('fast', 3, 250, 2000), sample('base', 3, 150, 3000),
    ];
    const [s] = summarize(samples, ['fast', 'base'], { echo: 'base' });
    const fast = s!.contenders[0]!;
    expect(fast.contender).toBe('fast');
    expect(fast.framesPerSecond).toEqual({ median: 250, min: 200, max: 300, n: 3 });
    expect(fast.throughputRatio).toBeCloseTo(250 / 150);
    expect(fast.cpuRatio).toBeCloseTo(2000 / 3000);
    expect(fast.cpuUser.median).toBe(500);
    // p50 of 1..100 µs × round: 50, 100, 150 µs, each within the histogram's 1/64.
    const within = (got: number, want: number) => expect(got >= want && got <= want * (1 + 1 / 64)).toBe(true);
    within(fast.p50.min, 50);
    within(fast.p50.median, 100);
    within(fast.p50.max, 150);
    expect(s!.contenders[1]!.throughputRatio).toBe(1);
  });

  it('reports a contender with any failed round as failed, without figures', () => {
    const samples = [sample('a', 1, 300, 1000), sample('a', 2, 300, 1000, '3 mismatched bytes'), sample('base', 1, 100, 1000)];
    const a = summarize(samples, ['a', 'base'], { echo: 'base' })[0]!.contenders[0]!;
    expect(a.failures).toEqual(['round 2: 3 mismatched bytes']);
    expect(a.framesPerSecond.median).toBeNaN();
    expect(a.throughputRatio).toBeNaN();
  });

  it('compares each suite with its own baseline, and keeps same-sized scenarios of two suites apart', () => {
    const handler: Scenario = { ...scenario, suite: 'handler' };
    const samples = [
      sample('base', 1, 100, 1000), sample('a', 1, 200, 1000),
      sample('node-h', 1, 50, 1000, undefined, handler), sample('h', 1, 75, 1000, undefined, handler),
    ];
    const names = ['base', 'a', 'node-h', 'h'];
    const sums = summarize(samples, names, { echo: 'base', handler: 'node-h' });
    expect(sums.map(s => [s.scenario.suite, s.baseline, s.contenders.map(c => c.contender)])).toEqual([
      ['echo', 'base', ['base', 'a']],
      ['handler', 'node-h', ['node-h', 'h']],
    ]);
    expect(sums[0]!.contenders[1]!.throughputRatio).toBe(2);
    expect(sums[1]!.contenders[1]!.throughputRatio).toBe(1.5);
    expect(bySuite(sums, names).map(g => [g.suite, g.baseline, g.contenders, g.summaries.length])).toEqual([
      ['echo', 'base', ['base', 'a'], 1],
      ['handler', 'node-h', ['node-h', 'h'], 1],
    ]);
  });
});

describe('GC counts', () => {
  const heap = (usedHeapSize: number) => ({ heapStatistics: { usedHeapSize } as v8.HeapStatistics, heapSpaceStatistics: [] });
  const gc = (gcType: string, before: number, after: number, cost: number) => ({ gcType, cost, beforeGC: heap(before), afterGC: heap(after) });

  it('adds up what the heap grew by before each collection and after the last', () => {
    const count = countGc([gc('Scavenge', 500, 200, 300), gc('IncrementalMarking', 260, 260, 50), gc('MarkSweepCompact', 900, 300, 2000)], 100, 350);
    expect(count).toEqual({ allocated: 400 + 60 + 640 + 50, scavenges: 1, markCompacts: 1, pauseMs: 2.35 });
  });

  it("never counts a negative interval: the heap's used size falling between collections (concurrent sweeping) hides allocation, it does not undo it", () => {
    // After the mark-compact said 400 in use, the sweeper freed more: the next scavenge starts from 300.
    const count = countGc([gc('MarkSweepCompact', 500, 400, 1000), gc('Scavenge', 300, 100, 100)], 100, 150);
    expect(count.allocated).toBe(400 + 0 + 50);
  });

  it('counts growth alone when no collection ran', () => {
    expect(countGc([], 1000, 1800)).toEqual({ allocated: 800, scavenges: 0, markCompacts: 0, pauseMs: 0 });
  });
});
