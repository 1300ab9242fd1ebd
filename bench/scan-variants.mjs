// How the JS twin should search for a delimiter byte, measured: the candidates
// for src/core/js-scan.ts, each finding every '\n' in 32 KiB of lines of 64 B,
// 1 KiB and 16 KiB held in a SharedArrayBuffer (as a core's memory is).
//   node bench/scan-variants.mjs
// Rates are bytes searched per second of this thread's CPU time (the median of
// five 100 ms measurements), which a busy shared machine disturbs less than
// wall time does.

const N = 64 * 1024;
const memory = new SharedArrayBuffer(N);
const u8 = new Uint8Array(memory);
const u32 = new Uint32Array(memory);

const variants = {
  'loop': (from, to, b) => {
    for (let p = from; p < to; p++) if (u8[p] === b) return p;
    return to;
  },
  'indexOf on a view of the run': (from, to, b) => {
    const i = u8.subarray(from, to).indexOf(b);
    return i < 0 ? to : from + i;
  },
  'indexOf from 64 B, else loop': (from, to, b) => {
    if (to - from >= 64) {
      const i = u8.subarray(from, to).indexOf(b);
      return i < 0 ? to : from + i;
    }
    for (let p = from; p < to; p++) if (u8[p] === b) return p;
    return to;
  },
  'SWAR, one word per step': (from, to, b) => {
    let p = from;
    while (p < to && (p & 3) !== 0) { if (u8[p] === b) return p; p++; }
    const every = Math.imul(b, 0x01010101);
    for (; p + 4 <= to; p += 4) {
      const x = u32[p >>> 2] ^ every;
      if (((x - 0x01010101) & ~x & 0x80808080) !== 0) break;
    }
    for (; p < to; p++) if (u8[p] === b) return p;
    return to;
  },
  'SWAR, two words per step (the twin)': (from, to, b) => {
    let p = from;
    while (p < to && (p & 3) !== 0) { if (u8[p] === b) return p; p++; }
    const every = Math.imul(b, 0x01010101);
    for (; p + 8 <= to; p += 8) {
      const x = u32[p >>> 2] ^ every;
      const y = u32[(p >>> 2) + 1] ^ every;
      if ((((x - 0x01010101) & ~x) | ((y - 0x01010101) & ~y)) & 0x80808080) break;
    }
    for (; p < to; p++) if (u8[p] === b) return p;
    return to;
  },
};

const BATCH = 32 * 1024;
const rows = [];
for (const line of [64, 1024, 16384]) {
  u8.fill(0x61);
  for (let i = line - 1; i < N; i += line) u8[i] = 10;
  const row = { line };
  for (const [name, find] of Object.entries(variants)) {
    const pass = () => {
      let found = 0;
      for (let at = 0; at < BATCH; at = find(at, BATCH, 10) + 1) found++;
      return found;
    };
    if (pass() !== BATCH / line) throw new Error(`${name} found the wrong lines`);
    for (let i = 0; i < 300; i++) pass();
    const rates = [];
    for (let r = 0; r < 5; r++) {
      const cpu = process.cpuUsage();
      const t0 = performance.now();
      let n = 0;
      while (performance.now() - t0 < 100) { pass(); n++; }
      const used = process.cpuUsage(cpu);
      rates.push((n * BATCH) / ((used.user + used.system) / 1e6));
    }
    row[name] = rates.sort((a, b) => a - b)[2] / 1e9;
  }
  rows.push(row);
}
const names = Object.keys(variants);
console.log(`Node ${process.version}: GB/s of CPU time searching 32 KiB of lines for '\\n'\n`);
console.log(`| line | ${names.join(' | ')} |`);
console.log(`|---:|${names.map(() => '---:').join('|')}|`);
for (const r of rows) console.log(`| ${r.line} B | ${names.map(n => r[n].toFixed(2)).join(' | ')} |`);
