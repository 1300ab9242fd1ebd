// Choosing and building a core: the one place that knows both concrete cores.
import { resolveConfig, type CoreConfig, type CoreOptions } from './config.ts';
import type { Core, CoreKind } from './core.ts';
import { JsCore } from './js-core.ts';
import { WasmCore } from './wasm-core.ts';

export async function createCore(kind: CoreKind, options: CoreOptions | CoreConfig = {}): Promise<Core> {
  const config = 'regions' in options ? options : resolveConfig(options);
  if (kind === 'wasm') return WasmCore.create(config);
  if (kind === 'js') return new JsCore(config);
  throw new Error(`unknown core "${kind as string}": use wasm or js`);
}
