// The contract between assembly/ and src/core/: every layout constant the WASM
// module exports equals the TypeScript mirror's, the size formula agrees, and the
// module has every export the host calls and imports nothing but its memory.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import * as mirror from '../src/core/layout.ts';
import { REQUIRED_EXPORTS, coreModule, wasmPath } from '../src/core/wasm-core.ts';
import { createCore } from '../src/core/create.ts';
import { resolveConfig } from '../src/core/config.ts';

async function instance() {
  const memory = new WebAssembly.Memory({ initial: 2, maximum: 2, shared: true });
  return WebAssembly.instantiate(await coreModule(), { env: { memory, abort() {} } });
}

describe('WASM module contract', () => {
  it('has every export the host calls', async () => {
    const names = WebAssembly.Module.exports(await coreModule()).map(e => e.name);
    for (const name of REQUIRED_EXPORTS) expect(names).toContain(name);
  });

  it('imports only a shared memory (and no loader glue)', async () => {
    const imports = WebAssembly.Module.imports(await coreModule());
    expect(imports.map(i => `${i.module}.${i.name}:${i.kind}`)).toEqual(['env.memory:memory']);
    // The memory import is declared shared: byte 0x03 (shared, has maximum) in the import entry.
    const wasm = readFileSync(wasmPath());
    const at = wasm.indexOf(Buffer.from('memory'));
    expect(wasm[at + 'memory'.length + 1]).toBe(0x03);
  });

  it('exports every layout constant of the mirror with the same value', async () => {
    const x = (await instance()).exports as Record<string, { value: number } | unknown>;
    const constants = Object.entries(mirror).filter(([, v]) => typeof v === 'number');
    expect(constants.length).toBeGreaterThan(60);
    for (const [name, value] of constants) {
      const g = x[name] as { value: number } | undefined;
      expect(g, `export ${name}`).toBeDefined();
      expect(g!.value >>> 0, name).toBe((value as number) >>> 0);
    }
  });

  it('computes the same memory size as the mirror', async () => {
    const x = (await instance()).exports as unknown as { layoutSize(...a: number[]): number };
    for (const [slots, rx, tx, pad, cap] of [[1, 16, 16, 0, 1], [1024, 65536, 65536, 0, 1024], [7, 4096, 256, 4160, 33]]) {
      expect(x.layoutSize(slots!, rx!, tx!, pad!, cap!)).toBe(mirror.regionsFor(slots!, rx!, tx!, pad!, cap!).total);
    }
  });

  it('writes the header both cores agree on', async () => {
    for (const framing of ['raw', 'length:2:le:offset=3:adjust=-1:strip=1', 'varint', 'delimiter:\\r\\n:cr', 'fixed:9']) {
      for (const mode of ['echo', 'handler'] as const) {
        const config = resolveConfig({ framing, mode, maxConnections: 3, maxFrame: 100, rxRing: 256, txRing: 512 });
        const [w, j] = await Promise.all([createCore('wasm', config), createCore('js', config)]);
        const header = (m: SharedArrayBuffer) => Buffer.from(new Uint8Array(m, 0, config.regions.total).subarray(mirror.LAYOUT_BASE));
        expect(header(w.memory).equals(header(j.memory)), `${framing} ${mode}`).toBe(true);
      }
    }
  });

  it('keeps a name section, so CPU profiles and perf maps name the core\'s functions', async () => {
    // Without it V8 shows wasm-function[N]. The release target keeps it with "debug": true,
    // which changes no instruction (docs/tuning-and-profiling.md). Subsection 1 of the name
    // section is the function names: a vector of (index, name), LEB128 numbers.
    const { customSections } = WebAssembly.Module as unknown as { customSections(m: WebAssembly.Module, name: string): ArrayBuffer[] };
    const [section] = customSections(await coreModule(), 'name');
    expect(section, 'build/core.wasm has no name section').toBeDefined();
    const bytes = new Uint8Array(section!);
    let at = 0;
    const leb = () => {
      let value = 0;
      for (let shift = 0; ; shift += 7) {
        const b = bytes[at++]!;
        value += (b & 0x7f) * 2 ** shift;
        if (b < 0x80) return value;
      }
    };
    const names: string[] = [];
    while (at < bytes.length) {
      const id = bytes[at++];
      const end = leb() + at;
      if (id === 1) {
        for (let n = leb(); n > 0; n--) {
          leb();
          const len = leb();
          names.push(Buffer.from(bytes.subarray(at, at + len)).toString('utf8'));
          at += len;
        }
      }
      at = end;
    }
    const functions = WebAssembly.Module.exports(await coreModule()).filter(e => e.kind === 'function').map(e => e.name);
    expect(functions).toContain('process');
    for (const name of functions) expect(names.some(n => n === name || n.endsWith(`/${name}`)), name).toBe(true);
  });
});
