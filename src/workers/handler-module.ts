// A handler given as a module, so that every worker thread can import it for
// itself (functions cannot be sent to threads). The module exports the hooks by
// their names (onOpen, onFrame, onDrain, onClose, onConnection, onForward, and
// the thread's onStart and onStop: handler.ts), or a default export that is an
// object of hooks or the onFrame function itself. The module's path rides along
// (HANDLER_MODULE) so that an onStart failure can name it.

import { fileURLToPath, pathToFileURL } from 'node:url';
import path from 'node:path';
import { configError } from '../core/errors.ts';
import { HOOKS, type Handler } from '../net/handler.ts';
import { HANDLER_MODULE } from '../net/lifecycle.ts';

/** A file path (relative to the working directory) or a URL, as an absolute URL string. */
export function handlerUrl(spec: string): string {
  if (/^(file|data|node):/.test(spec)) return spec;
  return pathToFileURL(path.resolve(spec)).href;
}

export async function loadHandler(spec: string): Promise<Handler & { [HANDLER_MODULE]: string }> {
  // Named as a path in messages, also in a worker thread (which is given the URL).
  const name = spec.startsWith('file:') ? fileURLToPath(spec) : spec;
  let mod: Record<string, unknown>;
  let unsettled: (() => void) | undefined;
  try {
    mod = await Promise.race([
      import(handlerUrl(spec)) as Promise<Record<string, unknown>>,
      // The event loop ran dry while the import was pending: its top-level await can never settle,
      // and without this the process would exit 0 as if it had served.
      new Promise<never>((_, reject) => {
        unsettled = () => reject(configError(`handler module ${name} never finished loading: its top-level await waits on something that can no longer settle`));
        process.once('beforeExit', unsettled);
      }),
    ]);
  } catch (err) {
    if ((err as { code?: string }).code === 'ERR_BAD_CONFIG') throw err;
    throw configError(`cannot import handler module ${name}: ${(err as Error).message}`);
  } finally {
    if (unsettled) process.off('beforeExit', unsettled);
  }
  const source = typeof mod.default === 'function' ? { onFrame: mod.default }
    : typeof mod.default === 'object' && mod.default !== null ? mod.default as Record<string, unknown>
      : mod;
  const handler: Handler = {};
  for (const hookName of HOOKS) {
    const hook = source[hookName];
    if (hook === undefined) continue;
    if (typeof hook !== 'function') throw configError(`handler module ${name}: ${hookName} must be a function, got ${typeof hook}`);
    (handler as Record<string, unknown>)[hookName] = hook;
  }
  if (Object.keys(handler).length === 0) {
    throw configError(`handler module ${name} exports no hook: export onFrame (or onConnection, onOpen, onDrain, onClose, onStart, onStop), or a default onFrame function`);
  }
  return { ...handler, [HANDLER_MODULE]: name };
}
