// A frame handler given as a module, so that every worker thread can import it
// for itself (functions cannot be sent to threads). The module exports
// `onFrame(frame, connection)`, or a default export that is that function.

import { pathToFileURL } from 'node:url';
import path from 'node:path';
import { configError } from '../core/errors.ts';
import type { FrameHandler } from '../net/connection.ts';

/** A file path (relative to the working directory) or a URL, as an absolute URL string. */
export function handlerUrl(spec: string): string {
  if (/^(file|data|node):/.test(spec)) return spec;
  return pathToFileURL(path.resolve(spec)).href;
}

export async function loadHandler(spec: string): Promise<FrameHandler> {
  let mod: { onFrame?: unknown; default?: unknown };
  try {
    mod = (await import(handlerUrl(spec))) as typeof mod;
  } catch (err) {
    throw configError(`cannot import handler module ${spec}: ${(err as Error).message}`);
  }
  const fn = mod.onFrame ?? mod.default;
  if (typeof fn !== 'function') throw configError(`handler module ${spec} exports no onFrame function (named onFrame, or default)`);
  return fn as FrameHandler;
}
