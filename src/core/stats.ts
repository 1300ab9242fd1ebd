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

import { E_TLS_TIMEOUT, E_PROXY_TIMEOUT, E_TOO_MANY_PER_IP, E_UPGRADE_TIMEOUT, ERROR_TABLE } from './errors.ts';
import {
  S_ACCEPTED, S_BYTES_IN, S_BYTES_OUT, S_CLOSED_BY_ERROR, S_CLOSED_DRAIN, S_CLOSED_LOCAL, S_CLOSED_PEER, S_CONNECTIONS,
  S_ERROR_BY_CODE, S_ERRORS, S_FRAMES_IN, S_FRAMES_OUT, S_LOOP_BLOCKED, S_LOOP_LAG, S_PAUSES, S_STALLS, STATS_COUNT, S_DRAIN_UNANSWERED, S_QUARANTINED,
  S_POOL_BYTES, S_POOL_EXHAUSTED, S_POOL_SEGMENTS,
} from './layout.ts';

/** Why a connection closed without an error: the peer ended it, this side closed it, or the server drained. */
export type NormalClose = 'peer' | 'local' | 'drain';

/** The counter of each normal close. */
export const CLOSED_NORMALLY: Readonly<Record<NormalClose, number>> = { peer: S_CLOSED_PEER, local: S_CLOSED_LOCAL, drain: S_CLOSED_DRAIN };

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
  /**
   * Connections closed, by reason: 'peer', 'local' or 'drain' (normal closes,
   * always present) or the code of the error that closed them (only codes seen).
   * They add up to accepted - connections.
   */
  closedBy: Record<string, number>;
  /** How late the thread's last heartbeat tick ran, in ms (sampled every 100 ms); across threads, the largest. */
  loopLag: number;
  /** ms the thread's heartbeat ticks ran late, summed: how long its event loop was blocked. */
  loopBlocked: number;
  /** Times the thread's event loop was blocked longer than stallTimeout. */
  stalls: number;
  /** Slots held now for a handler that has not settled, their sockets already closed (handlerTimeout); of `connections`. */
  quarantined: number;
  /** Of errorsByCode.ERR_TLS: handshakes that did not finish within the handshake timeout. */
  tlsTimeouts: number;
  /** Of errorsByCode.ERR_PROXY_HEADER: connections with no whole PROXY header within proxyTimeout. */
  proxyTimeouts: number;
  /** Of errorsByCode.ERR_UPGRADE: WebSocket upgrades not done within upgradeTimeout. */
  upgradeTimeouts: number;
  /**
   * Frames read but not answered when the drain timed out (docs/limits-and-errors.md,
   * "The drain"): their connections were reset with ERR_DRAIN_TIMEOUT.
   */
  drainUnanswered: number;
  /** The ring pool (maxMemory): what its rings hold now. */
  pool: PoolStats;
}

export interface PoolStats {
  /** Bytes in rings now (of the pool's arena, `maxMemory` rounded down to whole largest segments). */
  bytes: number;
  /** Rings in use now by segment size in bytes (handler mode: an rx ring's segment is twice the ring); only sizes in use. */
  segments: Record<string, number>;
  /** Times the pool could not supply a ring (ERR_MEMORY_EXHAUSTED). */
  exhausted: number;
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

  /** Set a gauge to n; the owning thread only. */
  set(counter: number, n: number): void {
    Atomics.store(this.counters, counter, BigInt(n));
  }

  /** Count one closed connection: by the number of the error that closed it, or by its normal reason. */
  closed(cause: number | NormalClose): void {
    this.add(typeof cause === 'number' ? S_CLOSED_BY_ERROR + cause : CLOSED_NORMALLY[cause], 1);
  }

  /** Count one error of number n (also in the total). */
  error(n: number): void {
    this.add(S_ERRORS, 1);
    this.add(S_ERROR_BY_CODE + n, 1);
  }

  snapshot(): StatsSnapshot {
    const errorsByCode: Record<string, number> = {};
    const closedBy: Record<string, number> = {};
    for (const [reason, counter] of Object.entries(CLOSED_NORMALLY)) closedBy[reason] = this.get(counter);
    ERROR_TABLE.forEach((e, n) => {
      // Two numbers may share a code (the per-address refusals): their counts add up.
      const v = this.get(S_ERROR_BY_CODE + n);
      if (v) errorsByCode[e.code] = (errorsByCode[e.code] ?? 0) + v;
      const c = this.get(S_CLOSED_BY_ERROR + n);
      if (c) closedBy[e.code] = (closedBy[e.code] ?? 0) + c;
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
      closedBy,
      loopLag: this.get(S_LOOP_LAG) / 1000,
      loopBlocked: this.get(S_LOOP_BLOCKED) / 1000,
      stalls: this.get(S_STALLS),
      quarantined: this.get(S_QUARANTINED),
      tlsTimeouts: this.get(S_ERROR_BY_CODE + E_TLS_TIMEOUT),
      proxyTimeouts: this.get(S_ERROR_BY_CODE + E_PROXY_TIMEOUT),
      upgradeTimeouts: this.get(S_ERROR_BY_CODE + E_UPGRADE_TIMEOUT),
      drainUnanswered: this.get(S_DRAIN_UNANSWERED),
      pool: this.pool(),
    };
  }

  private pool(): PoolStats {
    const segments: Record<string, number> = {};
    for (let k = 0; k < 32; k++) {
      const n = this.get(S_POOL_SEGMENTS + k);
      if (n) segments[String(2 ** k)] = n;
    }
    return { bytes: this.get(S_POOL_BYTES), segments, exhausted: this.get(S_POOL_EXHAUSTED) };
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
    backpressurePauses: 0, errors: 0, errorsByCode: {}, refusedPerIp: 0, tlsTimeouts: 0, proxyTimeouts: 0, upgradeTimeouts: 0, drainUnanswered: 0,
    closedBy: {}, loopLag: 0, loopBlocked: 0, stalls: 0, quarantined: 0, pool: { bytes: 0, segments: {}, exhausted: 0 },
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
    total.tlsTimeouts += s.tlsTimeouts;
    total.proxyTimeouts += s.proxyTimeouts;
    total.upgradeTimeouts += s.upgradeTimeouts;
    total.drainUnanswered += s.drainUnanswered;
    for (const [code, n] of Object.entries(s.errorsByCode)) total.errorsByCode[code] = (total.errorsByCode[code] ?? 0) + n;
    for (const [reason, n] of Object.entries(s.closedBy)) total.closedBy[reason] = (total.closedBy[reason] ?? 0) + n;
    total.loopLag = Math.max(total.loopLag, s.loopLag); // a gauge: the worst thread, not a sum
    total.loopBlocked += s.loopBlocked;
    total.stalls += s.stalls;
    total.quarantined += s.quarantined;
    total.pool.bytes += s.pool.bytes;
    total.pool.exhausted += s.pool.exhausted;
    for (const [size, n] of Object.entries(s.pool.segments)) total.pool.segments[size] = (total.pool.segments[size] ?? 0) + n;
  }
  return total;
}
