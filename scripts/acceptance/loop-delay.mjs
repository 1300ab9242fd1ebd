// Preloaded into a server process (NODE_OPTIONS=--import=<this file>) by big-frame.mjs:
// perf_hooks.monitorEventLoopDelay over the whole process, written to stderr as one
// `loop-delay {...}` JSON line (max, p99, mean in ms) and reset at each SIGUSR2, so a
// run can ask for the longest stall of each of its phases. Nothing else changes.
import { monitorEventLoopDelay } from 'node:perf_hooks';

const h = monitorEventLoopDelay({ resolution: 2 });
h.enable();
process.on('SIGUSR2', () => {
  const ms = ns => Math.round(ns / 1e4) / 100;
  process.stderr.write(`loop-delay ${JSON.stringify({ max: ms(h.max), p99: ms(h.percentile(99)), mean: ms(h.mean) })}\n`);
  h.reset();
});
