// The stats block: i64 counters in a core's shared memory (S_* in
// contract/core-contract.ts; STATS_COUNT of them).
//
// Writers: one thread per block, the one that owns it: the WASM core (atomic i64
// adds), the JS twin and the host (add() below); never two threads at once.
// Readers: any thread holding the SharedArrayBuffer, through get() and
// snapshot(), which load each counter with one 64-bit atomic read.
//
// add() runs on every process() of the twin, so it must not allocate: it makes
// no BigInt unless the low 32 bits would carry or borrow. Then (once per 4 GiB
// counted) it does one 64-bit Atomics.add; otherwise the sum changes only the low
// half, and one 32-bit Atomics.add on it is the same update. Either way each
// update is a single atomic read-modify-write of the counter, so a reader sees a
// total that was really reached, never half of an update. (The check before it
// reads the low half plainly: only this thread writes it. Words are
// little-endian, as WebAssembly memory is.)

import { E_TOO_MANY_PER_IP, ERROR_TABLE } from './errors.ts';
import {
  S_ACCEPTED, S_BYTES_IN, S_BYTES_OUT, S_CONNECTIONS, S_ERROR_BY_CODE, S_ERRORS, S_FRAMES_IN,
  S_FRAMES_OUT, S_PAUSES, STATS_COUNT,
} from './layout.ts';

export interface StatsSnapshot {
  connections: number;
  accepted: number;
  bytesIn: number;
  bytesOut: number;
  framesIn: number;
  framesOut: number;
  backpressurePauses: number;
  errors: number;
  /** Error counts by stable code, only codes seen. */
  errorsByCode: Record<string, number>;
  /** Of errorsByCode.ERR_TOO_MANY_CONNECTIONS: those refused by the per-address cap (maxConnectionsPerIp). */
  refusedPerIp: number;
}

export class Stats {
  private readonly counters: BigInt64Array;
  /** The same counters as u32 halves: counter i is words[2i] (low) and words[2i + 1]. */
  private readonly words: Uint32Array;

  constructor(memory: SharedArrayBuffer, offset: number, count: number) {
    this.counters = new BigInt64Array(memory, offset, count);
    this.words = new Uint32Array(memory, offset, count * 2);
  }

  /** Add n (an integer, negative for a gauge) to a counter; the owning thread only. */
  add(counter: number, n: number): void {
    const low = this.words[2 * counter]! + n;
    if (low >= 0 && low <= 0xffffffff) Atomics.add(this.words, 2 * counter, n);
    else Atomics.add(this.counters, counter, BigInt(n));
  }

  get(counter: number): number {
    return Number(Atomics.load(this.counters, counter));
  }

  /** Count one error of number n (also in the total). */
  error(n: number): void {
    this.add(S_ERRORS, 1);
    this.add(S_ERROR_BY_CODE + n, 1);
  }

  snapshot(): StatsSnapshot {
    const errorsByCode: Record<string, number> = {};
    ERROR_TABLE.forEach((e, n) => {
      const v = this.get(S_ERROR_BY_CODE + n);
      // Two numbers may share a code (the per-address refusals): their counts add up.
      if (v) errorsByCode[e.code] = (errorsByCode[e.code] ?? 0) + v;
    });
    return {
      connections: this.get(S_CONNECTIONS),
      accepted: this.get(S_ACCEPTED),
      bytesIn: this.get(S_BYTES_IN),
      bytesOut: this.get(S_BYTES_OUT),
      framesIn: this.get(S_FRAMES_IN),
      framesOut: this.get(S_FRAMES_OUT),
      backpressurePauses: this.get(S_PAUSES),
      errors: this.get(S_ERRORS),
      errorsByCode,
      refusedPerIp: this.get(S_ERROR_BY_CODE + E_TOO_MANY_PER_IP),
    };
  }
}

/** A stats block of its own, outside any core: for what a thread counts that no core sees. */
export function standaloneStats(): Stats {
  return new Stats(new SharedArrayBuffer(STATS_COUNT * 8), 0, STATS_COUNT);
}

/** Field-by-field sum of snapshots, error counts merged by code: totals across threads. */
export function sumStats(list: readonly StatsSnapshot[]): StatsSnapshot {
  const total: StatsSnapshot = {
    connections: 0, accepted: 0, bytesIn: 0, bytesOut: 0, framesIn: 0, framesOut: 0,
    backpressurePauses: 0, errors: 0, errorsByCode: {}, refusedPerIp: 0,
  };
  for (const s of list) {
    total.connections += s.connections;
    total.accepted += s.accepted;
    total.bytesIn += s.bytesIn;
    total.bytesOut += s.bytesOut;
    total.framesIn += s.framesIn;
    total.framesOut += s.framesOut;
    total.backpressurePauses += s.backpressurePauses;
    total.errors += s.errors;
    total.refusedPerIp += s.refusedPerIp;
    for (const [code, n] of Object.entries(s.errorsByCode)) total.errorsByCode[code] = (total.errorsByCode[code] ?? 0) + n;
  }
  return total;
}
