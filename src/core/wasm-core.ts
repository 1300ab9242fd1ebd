// The WASM core: build/core.wasm (compiled from assembly/) instantiated over a
// host-created shared memory. This is the only file that touches WebAssembly or
// build/. One instance per memory, ever: a second instance would re-run the
// module's data initialisation over the first one's state, so a memory given
// back for reuse keeps the instance it has (init() resets everything it keeps).

import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { CoreConfig } from './config.ts';
import { CoreBase } from './core.ts';
import { writeHeader } from './header.ts';
import { INIT_OK, LAYOUT_BASE, PAGE_SIZE } from './layout.ts';

/** The exports the host needs from build/core.wasm (the contract test checks them). */
export interface CoreExports {
  /** Reads the header the host wrote: INIT_OK, or another INIT_* code. */
  init(): number;
  open(): number;
  close(slot: number): void;
  shrink(slot: number): number;
  takeRx(slot: number): number;
  growTx(slot: number, len: number): number;
  received(slot: number, n: number): number;
  process(slot: number): number;
  reserve(slot: number, len: number, kind: number): number;
  commit(slot: number, len: number, kind: number, key: number): number;
  sendFrom(slot: number, addr: number, len: number, kind: number, key: number): number;
  check(len: number, kind: number): number;
  scan(addr: number, len: number, last: boolean): number;
  beginFrame(slot: number, len: number, kind: number, key: number): number;
  putBytes(slot: number, n: number): void;
  endFrame(slot: number): number;
  stage(bytes: number): number;
  fanout(n: number, len: number): number;
  nop(x: number): number;
}
export const REQUIRED_EXPORTS = ['init', 'open', 'close', 'shrink', 'takeRx', 'growTx', 'received', 'process', 'reserve', 'commit', 'sendFrom', 'check', 'scan', 'beginFrame', 'putBytes', 'endFrame', 'stage', 'fanout', 'nop', 'memory'] as const;

let compiled: Promise<WebAssembly.Module> | undefined;
/** The instance running on each memory. */
const instances = new WeakMap<SharedArrayBuffer, CoreExports>();

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

  /** A new core; or, given one that will not be used again, a core on its memory and instance. */
  static async create(config: CoreConfig, reuse?: WasmCore): Promise<WasmCore> {
    let buffer: SharedArrayBuffer;
    let x = reuse && reuse.memory.byteLength >= config.regions.total ? instances.get(reuse.memory) : undefined;
    if (x) {
      buffer = reuse!.memory;
      new Uint8Array(buffer).fill(0, LAYOUT_BASE, reuse!.config.regions.total); // no core wrote past its total
    } else {
      const pages = Math.ceil(config.regions.total / PAGE_SIZE);
      const memory = new WebAssembly.Memory({ initial: pages, maximum: pages, shared: true });
      buffer = memory.buffer as unknown as SharedArrayBuffer;
      const instance = await WebAssembly.instantiate(await coreModule(), {
        env: {
          memory,
          abort: () => {
            throw new Error('ringwire core aborted');
          },
        },
      });
      x = instance.exports as unknown as CoreExports;
      instances.set(buffer, x);
    }
    writeHeader(buffer, config);
    const r = x.init();
    if (r !== INIT_OK) throw new Error(`WASM core refused the header: init() returned ${r} (INIT_* in contract/core-contract.ts); is build/core.wasm current?`);
    return new WasmCore(config, buffer, x);
  }

  open(): number {
    return this.x.open();
  }
  close(slot: number): void {
    this.x.close(slot);
  }
  protected shrinkRings(slot: number): number {
    return this.x.shrink(slot);
  }

  takeRx(slot: number): number {
    return this.x.takeRx(slot);
  }
  growTx(slot: number, len: number): number {
    return this.x.growTx(slot, len);
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
  protected reserve(slot: number, len: number, kind: number): number {
    return this.x.reserve(slot, len, kind);
  }
  protected commit(slot: number, len: number, kind: number, key: number): number {
    return this.x.commit(slot, len, kind, key);
  }
  protected sendFrom(slot: number, addr: number, len: number, kind: number, key: number): number {
    return this.x.sendFrom(slot, addr, len, kind, key);
  }
  protected plan(len: number, kind: number): number {
    return this.x.check(len, kind);
  }
  protected scan(addr: number, len: number, last: boolean): number {
    return this.x.scan(addr, len, last);
  }
  protected begin(slot: number, len: number, kind: number, key: number): number {
    return this.x.beginFrame(slot, len, kind, key);
  }
  protected putBytes(slot: number, n: number): void {
    this.x.putBytes(slot, n);
  }
  endFrame(slot: number): number {
    return this.x.endFrame(slot);
  }

  protected stage(bytes: number): number {
    return this.x.stage(bytes);
  }

  protected fanoutStaged(n: number, len: number): number {
    return this.x.fanout(n, len);
  }
}
