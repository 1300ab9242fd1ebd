// A latency histogram: log-linear buckets over integer nanoseconds, so recording
// is a few integer operations and histograms from many connections, processes and
// rounds merge by adding counts. Same idea as HdrHistogram with 2 significant
// binary digits fewer: every value below 128 ns has its own bucket, above that each
// power of two is split into 64 buckets, so a reported percentile is within 1/64
// (1.6%) of the true value, rounded up to the bucket's upper edge (a percentile
// never understates). min, max, count and sum are exact.

const LINEAR = 128; // values below this are exact
const SUB_BITS = 6; // 64 buckets per power of two above LINEAR
const SUB = 1 << SUB_BITS;
const TOP_EXP = 31; // values are clamped to below 2^32 ns (4.29 s) for bucketing only
export const BUCKETS = LINEAR + (TOP_EXP - 6) * SUB;

/** The bucket that holds v (an integer number of nanoseconds, >= 0). */
export function bucketOf(v: number): number {
  if (v < LINEAR) return v;
  if (v >= 2 ** 32) v = 2 ** 32 - 1;
  const exp = 31 - Math.clz32(v); // 7..31
  const sub = (v >>> (exp - SUB_BITS)) & (SUB - 1);
  return LINEAR + (exp - 7) * SUB + sub;
}

/** The largest value bucket b holds. */
export function bucketTop(b: number): number {
  if (b < LINEAR) return b;
  const exp = 7 + Math.floor((b - LINEAR) / SUB);
  const sub = (b - LINEAR) % SUB;
  const width = 2 ** (exp - SUB_BITS);
  return (SUB + sub) * width + width - 1;
}

export interface HistogramData {
  count: number;
  sum: number;
  min: number;
  max: number;
  /** [bucket, count] pairs for the non-empty buckets, in bucket order. */
  buckets: [number, number][];
}

export class Histogram {
  readonly counts = new Float64Array(BUCKETS);
  count = 0;
  sum = 0;
  min = Infinity;
  max = 0;

  /** Record one value in nanoseconds (rounded to an integer, negatives to 0). */
  record(ns: number): void {
    const v = ns > 0 ? Math.round(ns) : 0;
    this.counts[bucketOf(v)]!++;
    this.count++;
    this.sum += v;
    if (v < this.min) this.min = v;
    if (v > this.max) this.max = v;
  }

  merge(other: Histogram | HistogramData): this {
    if (other instanceof Histogram) {
      for (let b = 0; b < BUCKETS; b++) this.counts[b]! += other.counts[b]!;
    } else {
      for (const [b, n] of other.buckets) this.counts[b]! += n;
    }
    this.count += other.count;
    this.sum += other.sum;
    this.min = Math.min(this.min, other.min);
    this.max = Math.max(this.max, other.max);
    return this;
  }

  /**
   * The smallest recorded value v such that at least p (0..1) of all values are <= v,
   * reported as its bucket's upper edge but never above the exact max. NaN when empty.
   */
  percentile(p: number): number {
    if (this.count === 0) return NaN;
    if (p >= 1) return this.max;
    const rank = Math.max(1, Math.ceil(p * this.count));
    let seen = 0;
    for (let b = 0; b < BUCKETS; b++) {
      seen += this.counts[b]!;
      if (seen >= rank) return Math.min(bucketTop(b), this.max);
    }
    return this.max;
  }

  mean(): number {
    return this.count ? this.sum / this.count : NaN;
  }

  /** A compact form for IPC and JSON. */
  toJSON(): HistogramData {
    const buckets: [number, number][] = [];
    for (let b = 0; b < BUCKETS; b++) if (this.counts[b]) buckets.push([b, this.counts[b]!]);
    return { count: this.count, sum: this.sum, min: this.count ? this.min : 0, max: this.max, buckets };
  }

  static from(data: HistogramData): Histogram {
    const h = new Histogram().merge(data);
    if (!data.count) h.min = Infinity;
    return h;
  }
}
