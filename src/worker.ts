/// <reference types="node" preserve="true" />
// ringwire/worker: run a ringwire server inside a worker thread of your own
// application. In the worker, serveInWorker(options); in the thread that started
// it, attachWorker(worker) (from 'ringwire') reads its stats and drains it.
export { serveInWorker, type WorkerServeOptions } from './workers/serve-in-worker.ts';
export type { WorkerInit, Balance } from './workers/protocol.ts';
