// A ringwire server's statistics (ServerStats: read from every thread's stats
// block in shared memory, with Atomics, at the moment of the scrape) as
// Prometheus metric families. Every family has one sample per thread, labelled
// `worker` ("0" … "n-1"; errors and the event loop also "main" for a worker
// server's main thread, which counts what no worker does), never a label per connection. Error codes and
// close reasons are a fixed set, every one present from the start (zeros
// included), so rate() works from the first scrape and no series appears late.
// Units are Prometheus' base units: the stats' bytes stay bytes, their ms become seconds.

import { ERROR_TABLE } from '../core/errors.ts';
import { CLOSED_NORMALLY, type StatsSnapshot } from '../core/stats.ts';
import type { ServerStats } from '../net/server-stats.ts';
import type { ClusterStats } from '../net/cluster.ts';
import type { MetricFamily, MetricType, Sample } from './exposition.ts';

/** Every stable error code a connection can meet, once (two error numbers may share one); a bad configuration never reaches one. */
const CODES = [...new Set(ERROR_TABLE.map(e => e.code))].filter(code => code !== 'ERR_BAD_CONFIG');
/**
 * Codes that refuse a connection before it opens: never a reason it closed.
 * (ERR_TOO_MANY_CONNECTIONS is one too, except behind a PROXY balancer: the
 * per-address cap is checked on the header's client, after the connection opened.)
 */
const REFUSALS = new Set(['ERR_NO_DESCRIPTORS']);
/** Why connections close: the normal reasons, then every error code that can close one. */
const CLOSE_REASONS = [...Object.keys(CLOSED_NORMALLY), ...CODES.filter(code => !REFUSALS.has(code))];

/** ms (counted in µs) as seconds, without binary fractions' noise (0.000418, not 0.00041799999999999997). */
const seconds = (ms: number) => Math.round(ms * 1000) / 1e6;

export function serverFamilies(stats: ServerStats): MetricFamily[] {
  const workers: [string, StatsSnapshot][] = stats.workers.map(w => [String(w.worker), w]);
  // The main thread of a worker server serves no connection: it appears where it counts (errors, its event loop).
  const all: [string, StatsSnapshot][] = stats.main ? [...workers, ['main', stats.main]] : workers;
  const family = (name: string, type: MetricType, help: string, value: (s: StatsSnapshot) => number, threads = workers): MetricFamily => ({
    name, type, help, samples: threads.map(([worker, s]) => ({ labels: { worker }, value: value(s) })),
  });
  const byKey = (name: string, help: string, key: string, known: string[], read: (s: StatsSnapshot) => Record<string, number>, threads = workers, type: MetricType = 'counter'): MetricFamily => {
    // The known keys always (zeros too), and any other key counted, so nothing counted is hidden.
    const keys = new Set(known);
    for (const [, s] of threads) for (const k of Object.keys(read(s))) keys.add(k);
    return {
      name, type, help,
      samples: threads.flatMap(([worker, s]): Sample[] => [...keys].map(k => ({ labels: { worker, [key]: k }, value: read(s)[k] ?? 0 }))),
    };
  };
  const place = (name: string, type: MetricType, help: string, value: (w: ServerStats['workers'][number]) => number): MetricFamily => ({
    name, type, help, samples: stats.workers.map(w => ({ labels: { worker: String(w.worker) }, value: value(w) })),
  });
  return [
    family('ringwire_connections_active', 'gauge', 'Connections open now.', s => s.connections),
    family('ringwire_connections_quarantined', 'gauge', 'Of the connections open now: slots whose socket is closed (handler timeout) while their handler still holds a frame.', s => s.quarantined),
    family('ringwire_connections_opened_total', 'counter', 'Connections opened: accepted, and dialled (relay upstreams). Refused ones never open, but for the per-address cap behind a PROXY balancer, checked once the header names the client.', s => s.accepted),
    byKey('ringwire_connections_closed_total',
      'Connections closed, by reason: peer (the peer ended it), local (closed by the application), drain (the server drained), or the error code that closed it.',
      'reason', CLOSE_REASONS, s => s.closedBy),
    byKey('ringwire_errors_total', 'Errors by code: each closed or refused one connection (ERR_TOO_MANY_CONNECTIONS and ERR_NO_DESCRIPTORS are refusals).',
      'code', CODES, s => s.errorsByCode, all),
    family('ringwire_received_bytes_total', 'counter', 'Bytes received from peers.', s => s.bytesIn),
    family('ringwire_sent_bytes_total', 'counter', 'Bytes of replies put in the transmit rings (echoed, sent or relayed).', s => s.bytesOut),
    family('ringwire_received_frames_total', 'counter', 'Frames decoded (framing raw: runs of bytes as they arrived).', s => s.framesIn),
    family('ringwire_sent_frames_total', 'counter', 'Frames put in the transmit rings.', s => s.framesOut),
    family('ringwire_drain_unanswered_frames_total', 'counter', 'Frames read but not answered when the drain timed out: their connections were reset (ERR_DRAIN_TIMEOUT).', s => s.drainUnanswered),
    family('ringwire_ring_pool_bytes', 'gauge', 'Bytes of the thread\'s ring pool (maxMemory) in connections\' rings now.', s => s.pool.bytes),
    byKey('ringwire_ring_pool_segments', 'Rings taken from the thread\'s pool now, by segment size in bytes (an rx ring in handler mode takes twice its size: the ring and its pad).',
      'bytes', [], s => s.pool.segments, workers, 'gauge'),
    family('ringwire_ring_pool_exhausted_total', 'counter', 'Times the ring pool could not supply a ring: a connection refused or closed with ERR_MEMORY_EXHAUSTED.', s => s.pool.exhausted),
    family('ringwire_backpressure_pauses_total', 'counter', 'Times reading paused because a ring was full (backpressure).', s => s.backpressurePauses),
    family('ringwire_event_loop_lag_seconds', 'gauge', 'How late the thread\'s last heartbeat tick ran (sampled every 100 ms).', s => seconds(s.loopLag), all),
    family('ringwire_event_loop_blocked_seconds_total', 'counter', 'Time the thread\'s heartbeat ticks ran late, summed: rate() is the fraction of time its event loop was blocked.', s => seconds(s.loopBlocked), all),
    family('ringwire_event_loop_stalls_total', 'counter', 'Times the thread\'s event loop was blocked longer than the stall timeout.', s => s.stalls, all),
    place('ringwire_worker_up', 'gauge', '1 while the thread serves (running), else 0 (starting, restarting, closing, closed).', w => (w.state === 'running' ? 1 : 0)),
    place('ringwire_worker_restarts_total', 'counter', 'Times the thread in this place was replaced after it exited or stalled.', w => w.restarts),
    ...(stats.cluster ? clusterFamilies(stats.cluster) : []),
  ];
}

/** A host in a cluster (cluster.ts): one sample per family, for the host (no worker label: one connection to Redis per host). */
function clusterFamilies(c: ClusterStats): MetricFamily[] {
  const one = (name: string, type: MetricType, help: string, value: number): MetricFamily => ({ name, type, help, samples: [{ value }] });
  return [
    one('ringwire_cluster_connected', 'gauge', '1 while both connections to the cluster\'s Redis are up, else 0 (reconnecting).', c.connected ? 1 : 0),
    one('ringwire_cluster_topics', 'gauge', 'Topics this host is subscribed to in Redis (those with a subscriber on one of its threads).', c.topics),
    one('ringwire_cluster_published_total', 'counter', 'Publishes of this host that Redis acknowledged (carried to the other hosts).', c.published),
    one('ringwire_cluster_received_total', 'counter', 'Messages from other hosts handed to this host\'s threads.', c.received),
    {
      name: 'ringwire_cluster_dropped_total', type: 'counter',
      help: 'Messages not carried: down (this host\'s publish while Redis was down), backlog (over maxInFlight), full (from another host, a mailbox here full), malformed (not ringwire\'s).',
      samples: ([['down', c.droppedDown], ['backlog', c.droppedBacklog], ['full', c.droppedFull], ['malformed', c.malformed]] as const)
        .map(([reason, value]) => ({ labels: { reason }, value })),
    },
    one('ringwire_cluster_errors_total', 'counter', 'Errors with the cluster\'s Redis: what the client reported (each failed reconnection counts), and PINGs unanswered within the ping timeout.', c.errors),
  ];
}
