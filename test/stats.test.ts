// The stats block: exact 64-bit totals through the carry and borrow of the low
// half, and, while one thread updates a counter across 2^32 again and again, a
// reader on another thread only ever sees totals that were really reached.
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { S_BYTES_IN, S_CONNECTIONS, STATS_COUNT } from '../src/core/layout.ts';
import { Stats } from '../src/core/stats.ts';

const block = () => {
  const memory = new SharedArrayBuffer(64 + STATS_COUNT * 8);
  return { memory, stats: new Stats(memory, 64, STATS_COUNT), raw: new BigInt64Array(memory, 64, STATS_COUNT) };
};

describe('Stats', () => {
  it('keeps exact totals when the low 32 bits carry and borrow', () => {
    const { stats, raw } = block();
    raw[S_BYTES_IN] = 2n ** 32n - 3n;
    stats.add(S_BYTES_IN, 2);
    expect(stats.get(S_BYTES_IN)).toBe(2 ** 32 - 1);
    stats.add(S_BYTES_IN, 5);
    expect(stats.get(S_BYTES_IN)).toBe(2 ** 32 + 4);
    stats.add(S_BYTES_IN, 2 ** 32 * 3 + 7);
    expect(raw[S_BYTES_IN]).toBe(2n ** 32n * 4n + 11n);
    stats.add(S_BYTES_IN, -12);
    expect(stats.get(S_BYTES_IN)).toBe(2 ** 34 - 1);
    stats.add(S_CONNECTIONS, 1);
    stats.add(S_CONNECTIONS, -1);
    expect(stats.get(S_CONNECTIONS)).toBe(0);
  });

  it('never shows another thread half of an update, across 2^32 and back', async () => {
    const { memory, stats, raw } = block();
    const low = 2n ** 32n - 5n;
    raw[S_BYTES_IN] = low;
    const stop = new Int32Array(new SharedArrayBuffer(4));
    const reader = new Worker(
      `const { parentPort, workerData: { memory, stop, index } } = require('node:worker_threads');
       const counters = new BigInt64Array(memory, 64, ${STATS_COUNT});
       const flag = new Int32Array(stop);
       const seen = new Map();
       Atomics.store(flag, 0, 1);
       while (Atomics.load(flag, 0) === 1) {
         const v = Atomics.load(counters, index);
         seen.set(v, (seen.get(v) ?? 0) + 1);
       }
       parentPort.postMessage([...seen]);`,
      { eval: true, workerData: { memory, stop: stop.buffer, index: S_BYTES_IN } },
    );
    while (Atomics.load(stop, 0) === 0) await new Promise(r => setTimeout(r, 1));
    // Each add crosses 2^32 (a carry, then a borrow); a reader must see only the two totals.
    const deadline = performance.now() + 300;
    while (performance.now() < deadline) {
      for (let i = 0; i < 1000; i++) {
        stats.add(S_BYTES_IN, 10);
        stats.add(S_BYTES_IN, -10);
      }
    }
    const seen = new Promise<[bigint, number][]>(resolve => reader.once('message', resolve));
    Atomics.store(stop, 0, 2);
    const values = new Map(await seen);
    await reader.terminate();
    expect([...values.keys()].filter(v => v !== low && v !== low + 10n)).toEqual([]);
    expect(values.get(low)! + (values.get(low + 10n) ?? 0)).toBeGreaterThan(1000);
  });
});
