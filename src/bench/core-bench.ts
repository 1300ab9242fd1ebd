// Core microbenchmarks, no sockets: how fast each core decodes and echoes frames
// already in its rx ring, beside memcpy of the same bytes (the physical limit:
// echo copies every byte at least once), and what one empty call into each core
// costs.
// Method: one slot, a batch of whole frames (up to 32 KiB) placed once in the rx
// ring. Each iteration is what the host does per read: received(n) (the core
// decodes and copies every frame to the tx ring) then release(n). Both rings
// empty after each iteration, so their positions go back to 0 and the same bytes
// are decoded again without refilling. The echoed bytes are checked against the
// batch once, and the core's frame counter against the iterations at the end.
// Measurements rotate wasm, js, memcpy, wasm, js, memcpy ... and report medians.

import { performance } from 'node:perf_hooks';
import { createCore, type CoreKind } from '../index.ts';
import { frameTape } from './frame-tape.ts';
import { median } from './summary.ts';

export interface MicroRow {
  /** wasm, js, or memcpy (one copy of the same bytes, the physical reference). */
  subject: CoreKind | 'memcpy';
  framing: string;
  frameBytes: number;
  bytesPerSecond: number;
  framesPerSecond: number;
  /** bytesPerSecond over memcpy's for the same bytes. */
  ofMemcpy: number;
}

export interface MicroResult {
  rows: MicroRow[];
  /** Nanoseconds per empty call: into WASM, and into the JS twin. */
  boundary: { wasm: number; js: number };
}

export interface MicroOptions {
  framings: string[];
  frameSizes: number[];
  /** Milliseconds per measurement. */
  duration: number;
  /** Measurements per subject (medians are reported). */
  repeats: number;
  onProgress?: (what: string) => void;
}

const BATCH = 32 * 1024;
/** Whole frames of `size` bytes in one batch (at least one). */
const batchFrames = (size: number) => Math.max(1, Math.floor(BATCH / size));
const RING = 64 * 1024;

/** Runs `step` until `ms` have passed; returns iterations per second. */
function rate(ms: number, step: () => void): number {
  let n = 0;
  const t0 = performance.now();
  let t = t0;
  while (t - t0 < ms) {
    for (let i = 0; i < 16; i++) step();
    n += 16;
    t = performance.now();
  }
  return (n * 1000) / (t - t0);
}

const frameSpec = (framing: string, size: number) => (framing === 'fixed' ? `fixed:${size}` : framing);

async function echoSubject(kind: CoreKind, framing: string, size: number) {
  const spec = frameSpec(framing, size);
  const core = await createCore(kind, { framing: spec, maxConnections: 1, maxFrame: size, rxRing: RING, txRing: RING, minRing: RING }); // whole rings from the start: this measures the core, not ring growth
  const slot = core.open();
  const frames = batchFrames(size);
  const batch = frameTape(spec, size, frames).bytes.subarray(0, frames * size);
  const n = batch.length;
  core.readSpan(slot).set(batch);
  const status = core.received(slot, n);
  if (status < 0 || core.txPending(slot) !== n || Buffer.compare(core.txChunk(slot, 0), batch) !== 0) {
    throw new Error(`${kind} core did not echo a ${size}-byte ${spec} batch exactly (status ${status})`);
  }
  core.release(slot, n);
  const perCall = core.stats.snapshot().framesIn; // raw counts each read as one frame
  if (spec !== 'raw' && perCall !== frames) throw new Error(`${kind} core decoded ${perCall} of ${frames} frames`);
  let calls = 1;
  const step = () => {
    if (core.received(slot, n) < 0) throw new Error(`${kind} core failed on ${spec}`);
    core.release(slot, n);
    calls++;
  };
  const check = () => {
    const seen = core.stats.snapshot().framesIn;
    if (seen !== calls * perCall) throw new Error(`${kind} core counted ${seen} frames in ${calls} reads of ${perCall}`);
  };
  return { step, bytes: n, frames, check };
}

// The reference copies between two ordinary (not shared) buffers: V8 does that
// with memmove, while a copy within a SharedArrayBuffer from JS goes through a
// slower word-by-word path (about 5x slower at 32 KiB here), which would flatter
// both cores. Source and destination sit 64 KiB apart in one buffer, aligned
// alike, as the rx and tx rings are: two separate allocations can be misaligned
// relative to each other, which halves memmove's speed here (about 85 against
// 155 GB/s) and would make the reference depend on the allocator.
function memcpySubject(size: number) {
  const frames = batchFrames(size);
  const n = frames * size;
  const memory = new Uint8Array(2 * RING).fill(0x5a);
  const from = memory.subarray(0, n);
  const to = memory.subarray(RING, RING + n);
  return { step: () => { to.set(from); }, bytes: n, frames, check: () => {} };
}

export async function runCoreBench(opts: MicroOptions): Promise<MicroResult> {
  const rows: MicroRow[] = [];
  for (const framing of opts.framings) {
    for (const size of opts.frameSizes) {
      opts.onProgress?.(`core ${framing} ${size} B`);
      const subjects = {
        wasm: await echoSubject('wasm', framing, size),
        js: await echoSubject('js', framing, size),
        memcpy: memcpySubject(size),
      };
      const rates: Record<string, number[]> = { wasm: [], js: [], memcpy: [] };
      for (const s of Object.values(subjects)) rate(Math.min(50, opts.duration), s.step); // warm up (JIT, caches)
      for (let r = 0; r < opts.repeats; r++) {
        for (const [name, s] of Object.entries(subjects)) rates[name]!.push(rate(opts.duration, s.step));
      }
      for (const s of Object.values(subjects)) s.check();
      const copyRate = median(rates.memcpy!) * subjects.memcpy.bytes;
      for (const [name, s] of Object.entries(subjects)) {
        const perSecond = median(rates[name]!);
        rows.push({
          subject: name as MicroRow['subject'],
          framing: frameSpec(framing, size),
          frameBytes: size,
          bytesPerSecond: perSecond * s.bytes,
          framesPerSecond: perSecond * s.frames,
          ofMemcpy: (perSecond * s.bytes) / copyRate,
        });
      }
    }
  }
  opts.onProgress?.('core boundary');
  const wasm = await createCore('wasm', { maxConnections: 1 });
  const js = await createCore('js', { maxConnections: 1 });
  let sink = 0;
  const perCall = (core: typeof wasm) => {
    const calls: number[] = [];
    for (let r = 0; r < opts.repeats; r++) calls.push(rate(opts.duration, () => { sink += core.nop(r); }));
    return 1e9 / median(calls);
  };
  const boundary = { wasm: perCall(wasm), js: perCall(js) };
  if (sink < 0) throw new Error('unreachable: keeps the calls observable');
  return { rows, boundary };
}
