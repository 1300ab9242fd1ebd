// The contract between assembly/ and src/core/, declared once in
// contract/core-contract.ts: the generated files are what the table renders now,
// build/core.wasm was built from them (every constant it exports equals the
// host's), the module has every export the host calls and imports nothing but a
// shared memory, both cores configure themselves from the header the host wrote
// and refuse one they cannot use, and the one region formula lays out regions
// that neither overlap nor leave the memory.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { renderContract } from '../contract/render.ts';
import * as contract from '../src/core/contract.ts';
import { REQUIRED_EXPORTS, coreModule, wasmPath } from '../src/core/wasm-core.ts';
import { createCore } from '../src/core/create.ts';
import { resolveConfig } from '../src/core/config.ts';
import { headerFor, writeHeader } from '../src/core/header.ts';
import { JsCore } from '../src/core/js-core.ts';
import {
  FRAME_WORDS, POOL_CLASSES, HEADER_SIZE, H_MAGIC, H_TOTAL, INIT_MEMORY_TOO_SMALL, INIT_NO_HEADER, INIT_OK, LAYOUT_BASE, SLOT_SIZE,
  STATS_SIZE, WS_SLOT_SIZE, readHeaderConfig, regionsFor,
} from '../src/core/layout.ts';

const root = fileURLToPath(new URL('..', import.meta.url));

async function instance(pages = 2) {
  const memory = new WebAssembly.Memory({ initial: pages, maximum: pages, shared: true });
  const inst = await WebAssembly.instantiate(await coreModule(), { env: { memory, abort() {} } });
  return { memory: memory.buffer as unknown as SharedArrayBuffer, x: inst.exports as Record<string, unknown> };
}

describe('the contract table', () => {
  it('is what the generated files hold (npm run build writes them)', () => {
    for (const [path, content] of Object.entries(renderContract())) {
      expect(readFileSync(root + path, 'utf8'), `${path} is stale: run npm run build`).toBe(content);
    }
  });

  it('only adds error numbers: each keeps the code it had when it was added (they index the stats counters)', () => {
    // Numbers 0 to 30, as released (layout 10); new ones go after them.
    const released = [
      'ERR_RINGWIRE', 'ERR_FRAME_TOO_LARGE', 'ERR_BAD_LENGTH', 'ERR_TOO_MANY_CONNECTIONS', 'ERR_IDLE_TIMEOUT', 'ERR_TRUNCATED_FRAME',
      'ERR_REPLY_TOO_LARGE', 'ERR_HANDLER', 'ERR_SOCKET', 'ERR_BAD_CONFIG', 'ERR_WORKER_EXIT', 'ERR_SLOW_CONSUMER', 'ERR_FRAME_TIMEOUT',
      'ERR_TOO_SLOW', 'ERR_TOO_MANY_CONNECTIONS', 'ERR_NO_DESCRIPTORS', 'ERR_TLS', 'ERR_TLS', 'ERR_PROXY_HEADER', 'ERR_PROXY_HEADER',
      'ERR_EVICTED', 'ERR_DRAIN_TIMEOUT', 'ERR_DELIMITER_IN_PAYLOAD', 'ERR_HANDLER_TIMEOUT', 'ERR_ASK_TIMEOUT', 'ERR_OWNER_GONE',
      'ERR_ASK_FAILED', 'ERR_MAILBOX_TIMEOUT', 'ERR_MEMORY_EXHAUSTED', 'ERR_WEBSOCKET_PROTOCOL', 'ERR_WEBSOCKET_UTF8',
    ];
    expect(contract.ERROR_CODES.slice(0, released.length)).toEqual(released);
  });

  it('refuses a table that cannot hold, rather than render it', async () => {
    const table = await import('../contract/core-contract.ts');
    for (const name of ['S_ERROR_BY_CODE', 'S_CLOSED_BY_ERROR']) {
      const counter = table.stats.find(c => c.name === name)!;
      const saved = counter.count;
      counter.count = table.errors.length - 1;
      try {
        expect(() => renderContract()).toThrow(new RegExp(name));
      } finally {
        counter.count = saved;
      }
    }
  });
});

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

  it('was built from the current contract: every constant equals the host\'s', async () => {
    const { x } = await instance();
    const constants = Object.entries(contract).filter(([, v]) => typeof v === 'number');
    expect(constants.length).toBeGreaterThan(90);
    for (const [name, value] of constants) {
      const g = x[name] as { value: number } | undefined;
      expect(g, `export ${name}: is build/core.wasm stale?`).toBeDefined();
      expect(g!.value >>> 0, name).toBe((value as number) >>> 0);
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

describe('the configuration header', () => {
  const framings = ['raw', 'length:2:le:offset=3:adjust=-1:strip=1', 'varint', 'delimiter:\\r\\n:cr', 'fixed:9'];

  it('is what both cores run on: the words the host wrote, the same memory image after init', async () => {
    for (const framing of framings) {
      for (const mode of ['echo', 'handler'] as const) {
        const config = resolveConfig({ framing, mode, maxConnections: 3, maxFrame: 100, rxRing: 256, txRing: 512 });
        const [w, j] = await Promise.all([createCore('wasm', config), createCore('js', config)]);
        const want = { ...headerFor(config), delim: Buffer.concat([config.delimiter, Buffer.alloc(16 - config.delimiter.length)]) };
        for (const core of [w, j]) {
          const seen = readHeaderConfig(core.memory);
          expect({ ...seen, delim: Buffer.from(seen.delim) }, `${core.kind} ${framing} ${mode}`).toEqual({ ...want, delim: Buffer.from(want.delim) });
        }
        const image = (m: SharedArrayBuffer) => Buffer.from(new Uint8Array(m, 0, config.regions.total).subarray(LAYOUT_BASE));
        expect(image(w.memory).equals(image(j.memory)), `${framing} ${mode}`).toBe(true);
      }
    }
  });

  it('is refused by both cores without the magic word, or when it claims more memory than there is', async () => {
    const config = resolveConfig({ maxConnections: 1, rxRing: 16, txRing: 16 });
    const wasm = await instance();
    expect((wasm.x.init as () => number)()).toBe(INIT_NO_HEADER);
    writeHeader(wasm.memory, config);
    expect((wasm.x.init as () => number)()).toBe(INIT_OK);
    new Uint32Array(wasm.memory, LAYOUT_BASE)[H_TOTAL] = wasm.memory.byteLength + 1;
    expect((wasm.x.init as () => number)()).toBe(INIT_MEMORY_TOO_SMALL);

    const js = new JsCore(config);
    const words = new Uint32Array(js.memory, LAYOUT_BASE);
    words[H_TOTAL] = js.memory.byteLength + 1;
    expect(js.init()).toBe(INIT_MEMORY_TOO_SMALL);
    words[H_MAGIC] = 0;
    expect(js.init()).toBe(INIT_NO_HEADER);
  });
});

describe('the region formula', () => {
  it('lays out 64-byte aligned regions in order, none overlapping the next, all within total', () => {
    for (const [slots, cap, min, arena, websocket] of [[1, 1, 16, 16, 0], [1024, 1024, 1024, 2 ** 27, 0], [7, 33, 256, 8192, 0], [3, 5, 32, 128, 0], [7, 33, 256, 8192, 1], [1, 1, 16, 16, 1]]) {
      const r = regionsFor(slots!, cap!, min!, arena!, websocket === 1);
      const starts = [r.stats, r.frames, r.slots, ...(websocket ? [r.ws] : []), r.pool, r.arena];
      for (const s of starts) expect(s % 64, `${starts}`).toBe(0);
      // The websocket words (their own region, only with that framing) between the slots and the pool.
      if (websocket) expect(r.ws).toBeGreaterThanOrEqual(r.slots + slots! * SLOT_SIZE);
      expect(r.pool).toBeGreaterThanOrEqual(websocket ? r.ws + slots! * WS_SLOT_SIZE : r.slots);
      if (!websocket) expect(r.ws).toBe(0);
      expect(r.arena % 4096).toBe(0);
      expect(r.stats).toBeGreaterThanOrEqual(LAYOUT_BASE + HEADER_SIZE);
      expect(r.frames).toBeGreaterThanOrEqual(r.stats + STATS_SIZE);
      expect(r.slots).toBeGreaterThanOrEqual(r.frames + cap! * FRAME_WORDS * 4);
      expect(r.pool).toBeGreaterThanOrEqual(r.slots + slots! * SLOT_SIZE);
      expect(r.arena).toBeGreaterThanOrEqual(r.pool + POOL_CLASSES * 4 + arena! / min!);
      expect(r.total).toBe(r.arena + arena!);
    }
  });
});
