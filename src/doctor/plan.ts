// The configuration `ringwire doctor` checks the machine against: the same sizing
// options as `ringwire serve`, resolved by the same code (resolveConfig for the
// core, memoryBudget for the worst case of rings, connection state and queued replies), and the
// listen backlog. Every "needed" value in the doctor's table is derived here or
// from these numbers, so the table and serve's listening line agree on the sizes.

import { availableParallelism } from 'node:os';
import { configError, memoryBudget, resolveConfig, type CoreConfig, type MemoryBudget } from '../index.ts';
import { parseBytes, parseCount } from '../units.ts';

/** Node's default listen backlog (net docs: server.listen). */
export const NODE_DEFAULT_BACKLOG = 511;

/**
 * Descriptors a ringwire process holds besides its connections. Measured with
 * `ls /proc/PID/fd` on an idle `ringwire serve`: 24 with one thread, +7 per
 * worker thread; rounded up for what a handler or logger opens.
 */
export const descriptorHeadroom = (workers: number) => 64 + 8 * workers;

export interface Plan {
  config: CoreConfig;
  /** Threads that each run a core with its own memory: --workers (1: the main thread). */
  workers: number;
  backlog: number;
  /** Every connection, across threads: max-connections × workers. */
  connections: number;
  /** Descriptors the process needs at full load. */
  descriptors: number;
  /** The worst case of one thread: its core's memory and the replies it may queue. */
  budget: MemoryBudget;
  /** The worst case of all threads together. */
  memory: number;
}

export interface PlanOptions {
  framing?: string;
  'max-connections'?: string;
  'max-frame'?: string;
  'rx-ring'?: string;
  'max-memory'?: string;
  'tx-ring'?: string;
  'max-queued'?: string;
  'max-queued-total'?: string;
  'max-reply'?: string;
  workers?: string;
  backlog?: string;
}

export function planFrom(o: PlanOptions): Plan {
  const size = (name: keyof PlanOptions) => (o[name] === undefined ? undefined : parseBytes(name, o[name]));
  const config = resolveConfig({
    framing: o.framing,
    maxConnections: o['max-connections'] === undefined ? undefined : parseCount('max-connections', o['max-connections']),
    maxFrame: size('max-frame'),
    maxMemory: size('max-memory'),
    rxRing: size('rx-ring'),
    txRing: size('tx-ring'),
  });
  const workers = o.workers === undefined ? 1 : o.workers === 'auto' ? availableParallelism() : parseCount('workers', o.workers);
  const backlog = o.backlog === undefined ? NODE_DEFAULT_BACKLOG : parseCount('backlog', o.backlog);
  if (backlog > 2 ** 31 - 1) throw configError(`--backlog must fit in 31 bits, got ${backlog}`);
  const connections = config.maxConnections * workers; // live ones hold descriptors; a quarantined slot has none
  const budget = memoryBudget(config, size('max-queued'), size('max-queued-total'), size('max-reply'));
  return {
    config, workers, backlog, connections, budget,
    descriptors: connections + descriptorHeadroom(workers),
    memory: budget.total * workers,
  };
}
