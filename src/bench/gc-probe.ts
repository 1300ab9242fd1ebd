// Preloaded into a server process by `ringwire bench --gc` (`node --import
// gc-probe.js …`) to count what it allocates on the JS heap while the runner
// measures. It only listens for SIGUSR2: the first signal starts a v8.GCProfiler,
// the second stops it and writes one line to stderr, GC_LINE then a GcCount as
// JSON (src/bench/gc-count.ts says what is counted). Only the main thread's heap
// is seen; nothing else in the server changes.
import v8 from 'node:v8';
import { countGc, GC_LINE } from './gc-count.ts';

let profiler: v8.GCProfiler | undefined;
let usedAtStart = 0;

process.on('SIGUSR2', () => {
  if (!profiler) {
    usedAtStart = v8.getHeapStatistics().used_heap_size;
    profiler = new v8.GCProfiler();
    profiler.start();
    return;
  }
  const usedAtEnd = v8.getHeapStatistics().used_heap_size;
  const { statistics } = profiler.stop();
  profiler = undefined;
  process.stderr.write(`${GC_LINE}${JSON.stringify(countGc(statistics, usedAtStart, usedAtEnd))}\n`);
});
