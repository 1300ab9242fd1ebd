// Choosing and building a core: the one place that knows both concrete cores.
import { resolveConfig, type CoreConfig, type CoreOptions } from './config.ts';
import type { Core, CoreKind } from './core.ts';
import { JsCore } from './js-core.ts';
import { WasmCore } from './wasm-core.ts';

/**
 * A core of this kind for these options. `reuse`, for tests and benchmarks that
 * make many short-lived cores: a core of the same kind that will not be used
 * again; its memory (and WASM instance) is cleared and serves the new core when
 * it is large enough, which saves allocating them.
 */
export async function createCore(kind: CoreKind, options: CoreOptions | CoreConfig = {}, reuse?: Core): Promise<Core> {
  const config = 'regions' in options ? options : resolveConfig(options);
  const old = reuse?.kind === kind && reuse.memory.byteLength >= config.regions.total ? reuse : undefined;
  if (kind === 'wasm') return WasmCore.create(config, old as WasmCore | undefined);
  if (kind === 'js') return new JsCore(config, old as JsCore | undefined);
  throw new Error(`unknown core "${kind as string}": use wasm or js`);
}
