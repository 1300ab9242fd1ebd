// The one shape of a server's statistics, for a single-thread server and a
// worker server alike: totals, and one entry per event-loop thread that serves
// (a single-thread server has exactly one, worker 0), and a worker server's main
// thread. A thread's figures include every earlier thread in its place, so
// nothing counted is ever lost; the total is the sum of them all.

import type { StatsSnapshot } from '../core/stats.ts';
import type { ClusterStats } from './cluster.ts';

export type ThreadState = 'starting' | 'running' | 'restarting' | 'closing' | 'closed';

export interface ThreadStats extends StatsSnapshot {
  /** The thread's place, 0 … workers-1; it keeps it across restarts. */
  worker: number;
  threadId: number;
  state: ThreadState;
  restarts: number;
}

export interface ServerStats {
  total: StatsSnapshot;
  workers: ThreadStats[];
  /**
   * A worker server's main thread, which serves no connection: what it counted
   * itself (connections it refused in transfer mode, descriptor shortages while
   * accepting) and its own event-loop lag. Absent for a single-thread server,
   * whose main thread is worker 0.
   */
  main?: StatsSnapshot;
  /** With a cluster: what went to and came from the other hosts (cluster.ts). */
  cluster?: ClusterStats;
}

/**
 * Renders a server's stats as text: the public API (index.ts) gives the
 * Prometheus exposition (metrics/registry.ts) to the servers it builds, so net/
 * never imports metrics/.
 */
export type StatsRenderer = (source: { stats(): ServerStats }, options?: { process?: boolean }) => string;
