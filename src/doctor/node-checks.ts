// The Node side: the version running the doctor (the one that would run the
// server), whether it can adopt accepted sockets for zero-copy reads (checked the
// way the server does it, on a real accepted socket over loopback), whether it
// can transfer sockets to worker threads, and CPUs against worker threads.

import { once } from 'node:events';
import net from 'node:net';
import { availableParallelism } from 'node:os';
import { canAdopt } from '../net/socket-adoption.ts';
import { canTransferSockets } from '../workers/protocol.ts';
import type { Finding } from './finding.ts';
import type { Plan } from './plan.ts';
import { SOURCES } from './sources.ts';

const atLeastVersion = (version: string, major: number, minor: number) => {
  const [a = 0, b = 0] = version.split('.').map(Number);
  return a > major || (a === major && b >= minor);
};

/**
 * Accept one loopback connection (paused, as the server accepts them) and ask
 * canAdopt() about it, exactly as the server would. Binds 127.0.0.1 on a free
 * port for a few milliseconds; false if anything fails within 2 s.
 */
export async function probeAdoption(): Promise<boolean> {
  const server = net.createServer({ pauseOnConnect: true });
  const sockets: net.Socket[] = [];
  try {
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const accepted = once(server, 'connection', { signal: AbortSignal.timeout(2000) });
    const { port } = server.address() as net.AddressInfo;
    sockets.push(net.connect(port, '127.0.0.1').on('error', () => {}));
    const [raw] = (await accepted) as [net.Socket];
    sockets.push(raw);
    return canAdopt(raw);
  } catch {
    return false;
  } finally {
    for (const s of sockets) s.destroy();
    server.close();
  }
}

export async function nodeChecks(plan: Plan, version = process.versions.node): Promise<Finding[]> {
  const cpus = availableParallelism();
  const adoptable = await probeAdoption();
  const transfer = canTransferSockets(version);
  return [
    {
      area: 'node', setting: 'Node version', current: version,
      needed: '≥ 22.12 (≥ 24.20 for --balance transfer, ≥ 22.15 for serve --profile)',
      status: atLeastVersion(version, 22, 12) ? 'ok' : 'limit',
      why: 'Node 22.12 is the first that honours listen({ reusePort }) for worker threads; older lines are past their end of life',
      source: SOURCES.nodeFacts,
    },
    {
      area: 'node', setting: 'zero-copy reads (socket adoption)', current: adoptable ? 'available' : 'not available',
      needed: 'available',
      status: adoptable ? 'ok' : 'limit',
      why: 'accepted sockets are moved to a socket that reads straight into the rx ring; without it ringwire copies every read into the ring (and warns once)',
      source: SOURCES.nodeFacts,
    },
    {
      area: 'node', setting: 'socket transfer to worker threads', current: transfer ? 'available' : 'not available',
      needed: plan.workers > 1 ? 'only for --balance transfer' : 'only with --workers > 1 and --balance transfer',
      status: transfer ? 'ok' : 'info',
      why: 'transfer mode hands each accepted socket to the least busy worker (exact balance); without it workers share the port with reuseport',
      source: SOURCES.nodeFacts,
    },
    {
      area: 'node', setting: 'CPUs (available parallelism)', current: String(cpus),
      needed: `≥ ${plan.workers} (--workers), one more for a load generator on this machine`,
      status: cpus >= plan.workers ? 'ok' : 'advice',
      why: 'each worker is an event loop that wants a CPU to itself; more workers than CPUs share them and add cross-thread cost without adding throughput',
      source: SOURCES.readme,
    },
  ];
}
