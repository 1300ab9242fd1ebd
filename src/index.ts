// The public API of ringwire: everything a user imports comes from here.
import { createCore } from './core/create.ts';
import { RingwireServer, type ServerOptions } from './net/server.ts';

export { createCore };
export { RingwireServer, type ServerOptions, type ListenOptions } from './net/server.ts';
export { Connection, type ConnectionInfo, type FrameHandler } from './net/connection.ts';
export { parseFraming, resolveConfig, describeFraming, DEFAULTS, type Framing, type CoreOptions, type CoreConfig } from './core/config.ts';
export type { Core, CoreKind } from './core/core.ts';
export { sumStats, type StatsSnapshot } from './core/stats.ts';
export {
  createWorkerServer, WorkerServer, type WorkerServerOptions, type WorkerServerStats, type WorkerStats, type WorkerExitInfo,
} from './workers/worker-server.ts';
export { attachWorker, WorkerLink } from './workers/worker-link.ts';
export { canTransferSockets, type Balance } from './workers/protocol.ts';
export * from './core/errors.ts';

/** A framed TCP server. Call listen() to start it. */
export function createServer(options: ServerOptions = {}): RingwireServer {
  return new RingwireServer(options, createCore);
}
