// The script each WorkerServer thread runs: serve as its workerData says.
import { workerData } from 'node:worker_threads';
import { serveInWorker } from './serve-in-worker.ts';
import type { WorkerInit } from './protocol.ts';

await serveInWorker(workerData as WorkerInit);
