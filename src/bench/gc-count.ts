// What `ringwire bench --gc` counts in a server process, from v8.GCProfiler's
// statistics (src/bench/gc-probe.ts collects them). Allocated bytes are what the
// JS heap grew by between collections, plus what each collection found in use
// before it ran (a `{a, b}` object counts 40 bytes, a Uint8Array view 104, with
// Node's uncompressed pointers). A lower bound: V8 sweeps concurrently, so the heap's
// used size can still fall after a collection's "after" figure was taken, and what
// the sweeper freed then hides as much allocation (an interval that would come out
// negative counts 0). Memory outside the heap (Buffer and ArrayBuffer contents,
// libuv, WASM memory) is not counted.
import type v8 from 'node:v8';

/** How the probe's report starts on the server's stderr; the JSON of a GcCount follows. */
export const GC_LINE = 'ringwire-gc ';

export interface GcCount {
  /** Bytes allocated on the JS heap during the count. */
  allocated: number;
  /** Young-generation collections (scavenges, minor mark-sweeps). */
  scavenges: number;
  /** Full collections (mark-sweep-compact). */
  markCompacts: number;
  /** Time the collections took, ms. */
  pauseMs: number;
}

/** Sum a GCProfiler run: `usedAtStart` and `usedAtEnd` are the heap's used bytes when it started and stopped. */
export function countGc(statistics: v8.GCProfilerResult['statistics'], usedAtStart: number, usedAtEnd: number): GcCount {
  const count: GcCount = { allocated: 0, scavenges: 0, markCompacts: 0, pauseMs: 0 };
  let used = usedAtStart;
  for (const gc of statistics) {
    count.allocated += Math.max(0, gc.beforeGC.heapStatistics.usedHeapSize - used);
    used = gc.afterGC.heapStatistics.usedHeapSize;
    if (gc.gcType === 'Scavenge' || gc.gcType === 'MinorMarkSweep') count.scavenges++;
    else if (gc.gcType === 'MarkSweepCompact') count.markCompacts++;
    // Incremental marking and weak-callback phases belong to a mark-compact: their time only.
    count.pauseMs += gc.cost / 1000; // cost is in microseconds
  }
  count.allocated += Math.max(0, usedAtEnd - used);
  return count;
}
