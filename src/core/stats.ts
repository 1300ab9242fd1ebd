// The stats block: i64 counters in a core's shared memory. The core's own thread
// adds to them (the WASM core with i64 atomics, the JS core and the host with
// Atomics.add); any thread holding the SharedArrayBuffer reads them with
// Atomics.load. A snapshot is plain numbers (exact up to 2^53).

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

  constructor(memory: SharedArrayBuffer, offset: number, count: number) {
    this.counters = new BigInt64Array(memory, offset, count);
  }

  add(counter: number, n: number): void {
    Atomics.add(this.counters, counter, BigInt(n));
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
