// How benchmark figures are written, the same on the terminal and in the HTML
// report: NaN (failed or not measurable here) is always "n/a", never 0.

const na = (v: number) => !Number.isFinite(v);

export const count = (v: number) => (na(v) ? 'n/a' : Math.round(v).toLocaleString('en-US'));

/** 3 significant digits, no exponent: 0.123, 12.3, 1234. */
export const sig = (v: number) => (na(v) ? 'n/a' : v >= 1000 ? count(v) : String(+v.toPrecision(3)));

export const times = (v: number) => (na(v) ? 'n/a' : `${v.toFixed(2)}×`);

export const mib = (bytes: number) => (na(bytes) ? 'n/a' : `${(bytes / 1024 / 1024).toFixed(1)} MiB`);

export const frameSize = (bytes: number) =>
  bytes >= 1024 && bytes % 1024 === 0 ? `${bytes / 1024} KiB` : `${bytes} B`;

export const range = (min: number, max: number, f: (v: number) => string) => (na(min) ? '' : `${f(min)}–${f(max)}`);
