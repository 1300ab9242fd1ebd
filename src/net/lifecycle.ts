// A handler's life on one thread: onStart once before the thread accepts,
// onStop once after its drain, the same on a single-thread server and in every
// worker thread (each thread imports the handler module for itself, so each
// runs its own onStart and onStop on its own copy of the handler options).
//
// Invariants: onStop runs only on a thread whose onStart succeeded (or that had
// none), once, after the drain's last connection closed; onStart's throw or
// rejection is ERR_BAD_CONFIG naming the module and the thread, so the start
// (listen(), ringwire serve) fails; onStop gets drainTimeout ms of its own, and
// one that overruns them is reported (ERR_DRAIN_TIMEOUT), never awaited further:
// a worker thread is then terminated by its parent.
// handlerOptions cross to every thread by structured clone; every thread, the
// main one included, gets a clone, so the same options behave the same on any
// number of threads, and what cannot be cloned (functions, sockets…) is refused
// at construction, not when the first worker starts.

import { configError, E_DRAIN_TIMEOUT, E_HANDLER, ringwireError, type RingwireError } from '../core/errors.ts';

/** What onStart and onStop are given (the same object for both, per thread). */
export interface LifecycleContext<Server = unknown> {
  /** handlerOptions (createServer, createWorkerServer, --handler-options), a structured clone on every thread; undefined when none were given. */
  readonly options: any;
  /** This thread's place: 0 … threads - 1 (0 on a single-thread server). A replacement thread keeps its place. */
  readonly thread: number;
  /** How many threads serve the port (1 on a single-thread server). */
  readonly threads: number;
  /** This thread's server: its router (join, publish, sendTo), connections and stats. */
  readonly server: Server;
}

/** Where a handler module's path rides along with its hooks (handler-module.ts), so errors can name it: not public API. */
export const HANDLER_MODULE: unique symbol = Symbol('ringwire.handlerModule');
/** Where serveInWorker tells a server which thread it is (thread, threads): not public API. */
export const THREAD_PLACE: unique symbol = Symbol('ringwire.threadPlace');

/** The server's method that runs onStart once (listen() and serveInWorker call it): not public API. */
export const START_HANDLER: unique symbol = Symbol('ringwire.startHandler');

export interface ThreadPlace {
  thread: number;
  threads: number;
}

/** handlerOptions as every thread will see them: a structured clone, or ERR_BAD_CONFIG saying what cannot cross. */
export function cloneHandlerOptions(value: unknown): unknown {
  if (value === undefined) return undefined;
  try {
    return structuredClone(value);
  } catch (err) {
    throw configError(`handlerOptions must be structured-cloneable (plain data: objects, arrays, strings, numbers, Maps, typed arrays…), as each worker thread gets a copy: ${(err as Error).message}`);
  }
}

/** "handler module ./x.mjs" or "the handler", and "thread 1 of 2", for messages. */
function describeHandler(module: string | undefined, place: ThreadPlace): { who: string; where: string } {
  return { who: module === undefined ? 'the handler' : `handler module ${module}`, where: `thread ${place.thread} of ${place.threads}` };
}

/** Run onStart: its throw or rejection becomes ERR_BAD_CONFIG naming the module and the thread. */
export async function runStart(onStart: (c: LifecycleContext) => unknown, context: LifecycleContext, module: string | undefined): Promise<void> {
  try {
    await onStart(context);
  } catch (err) {
    const { who, where } = describeHandler(module, context);
    throw configError(`onStart of ${who} failed on ${where}: ${err instanceof Error ? err.message : String(err)}`);
  }
}

/**
 * Run onStop for at most `timeout` ms. Resolves with null once it settled, or
 * with what went wrong, which the caller reports (not thrown: the thread is
 * stopping anyway): its throw or rejection (ERR_HANDLER), or its overrun (ERR_DRAIN_TIMEOUT).
 */
export async function runStop(onStop: (c: LifecycleContext) => unknown, context: LifecycleContext, module: string | undefined, timeout: number): Promise<RingwireError | null> {
  const { who, where } = describeHandler(module, context);
  let timer: NodeJS.Timeout | undefined;
  const overran = new Promise<RingwireError>(resolve => {
    timer = setTimeout(() => resolve(ringwireError(E_DRAIN_TIMEOUT, `onStop of ${who} on ${where} did not settle within drainTimeout (${timeout} ms)`)), timeout);
  });
  const settled = (async () => {
    try {
      await onStop(context);
      return null;
    } catch (err) {
      return ringwireError(E_HANDLER, `onStop of ${who} failed on ${where}: ${err instanceof Error ? err.message : String(err)}`);
    }
  })();
  const result = await Promise.race([settled, overran]);
  clearTimeout(timer);
  return result;
}
