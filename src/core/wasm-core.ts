// The WASM core: build/core.wasm (compiled from assembly/) instantiated over a
// host-created shared memory. This is the only file that touches WebAssembly or
// build/. One instance per memory, one memory per core: a second instance would
// re-run the module's data initialisation over the first one's state.

import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { CoreConfig } from './config.ts';
import { CoreBase } from './core.ts';

/** The exports the host needs from build/core.wasm (the contract test checks them). */
export interface CoreExports {
  init(...args: number[]): number;
  open(): number;
  close(slot: number): void;
  received(slot: number, n: number): number;
  process(slot: number): number;
  reserve(slot: number, len: number): number;
  commit(slot: number, len: number): void;
  check(len: number): number;
  beginFrame(slot: number, len: number): number;
  putBytes(slot: number, n: number): void;
  endFrame(slot: number): number;
  layoutSize(slots: number, rx: number, tx: number, rxPad: number, frameCap: number): number;
  nop(x: number): number;
}
export const REQUIRED_EXPORTS = ['init', 'open', 'close', 'received', 'process', 'reserve', 'commit', 'check', 'beginFrame', 'putBytes', 'endFrame', 'layoutSize', 'nop', 'memory'] as const;

let compiled: Promise<WebAssembly.Module> | undefined;

/** Where build/core.wasm is, from src/core/ (tests, tsx) or dist/ (the bundle). */
export function wasmPath(): string {
  for (const rel of ['../../build/core.wasm', '../build/core.wasm']) {
    const p = fileURLToPath(new URL(rel, import.meta.url));
    if (existsSync(p)) return p;
  }
  throw new Error('build/core.wasm not found: run `npm run build` (npm install does it)');
}

/** The compiled module, compiled once per process (per thread). */
export function coreModule(): Promise<WebAssembly.Module> {
  return (compiled ??= WebAssembly.compile(readFileSync(wasmPath())));
}

export class WasmCore extends CoreBase {
  readonly kind = 'wasm' as const;

  private readonly x: CoreExports;

  private constructor(config: CoreConfig, memory: SharedArrayBuffer, x: CoreExports) {
    super(config, memory);
    this.x = x;
  }

  static async create(config: CoreConfig): Promise<WasmCore> {
    const pages = Math.ceil(config.regions.total / 65536);
    const memory = new WebAssembly.Memory({ initial: pages, maximum: pages, shared: true });
    const instance = await WebAssembly.instantiate(await coreModule(), {
      env: {
        memory,
        abort: () => {
          throw new Error('ringwire core aborted');
        },
      },
    });
    const x = instance.exports as unknown as CoreExports;
    const d = new Uint32Array(4);
    new Uint8Array(d.buffer).set(config.delimiter);
    const used = x.init(
      config.slots, config.rxSize, config.txSize, config.framing, config.mode, config.maxFrame,
      config.lenOffset, config.lenSize, config.lenBig, config.lenAdjust, config.lenStrip, config.fixed,
      config.delimiter.length, config.stripCR, d[0]!, d[1]!, d[2]!, d[3]!, config.frameCap, config.regions.rxPad,
    );
    if (used === 0) throw new Error('WASM core refused the layout (memory too small or static data too large)');
    const core = new WasmCore(config, memory.buffer as unknown as SharedArrayBuffer, x);
    core.checkHeader();
    return core;
  }

  open(): number {
    return this.x.open();
  }
  close(slot: number): void {
    this.x.close(slot);
  }
  received(slot: number, n: number): number {
    return this.x.received(slot, n);
  }
  process(slot: number): number {
    return this.x.process(slot);
  }
  nop(x: number): number {
    return this.x.nop(x);
  }
  protected reserve(slot: number, len: number): number {
    return this.x.reserve(slot, len);
  }
  protected commit(slot: number, len: number): void {
    this.x.commit(slot, len);
  }
  check(len: number): number {
    return this.x.check(len);
  }
  beginFrame(slot: number, len: number): number {
    return this.x.beginFrame(slot, len);
  }
  protected putBytes(slot: number, n: number): void {
    this.x.putBytes(slot, n);
  }
  endFrame(slot: number): number {
    return this.x.endFrame(slot);
  }
}
