// Statistics over benchmark rounds: each metric of a scenario is measured once
// per round, and tables show the median with the min and max, so one noisy round
// on a shared machine moves the range, not the figure. Ratios compare medians of
// the same metric measured in the same run.

export interface Spread {
  median: number;
  min: number;
  max: number;
  n: number;
}

/** The median (mean of the middle two for an even count); NaN for no samples. Ignores NaN samples. */
export function median(xs: readonly number[]): number {
  const s = xs.filter(x => !Number.isNaN(x)).sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

export function spread(xs: readonly number[]): Spread {
  const s = xs.filter(x => !Number.isNaN(x));
  return {
    median: median(s),
    min: s.length ? Math.min(...s) : NaN,
    max: s.length ? Math.max(...s) : NaN,
    n: s.length,
  };
}

/** a / b, NaN when either is missing or b is 0. */
export function ratio(a: number, b: number): number {
  return Number.isFinite(a) && Number.isFinite(b) && b !== 0 ? a / b : NaN;
}
