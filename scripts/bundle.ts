// Bundle the public API and the CLI into dist/ with esbuild (ESM, Node 22+).
// The WASM binary stays in build/; src/core/wasm-core.ts finds it from dist/.
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { build } from 'esbuild';

// Chunk names carry content hashes, so chunks of earlier builds would pile up in
// dist/ and ship in the tarball: remove what esbuild wrote before (all but the
// declarations, which build:types writes).
for (const name of existsSync('dist') ? readdirSync('dist') : []) {
  if (name !== 'types') rmSync(`dist/${name}`, { recursive: true, force: true });
}

await build({
  entryPoints: {
    index: 'src/index.ts',
    cli: 'src/cli.ts',
    worker: 'src/worker.ts',
    // What each WorkerServer thread runs.
    'worker-main': 'src/workers/worker-main.ts',
    // Run as their own processes by `ringwire bench`.
    'plain-echo': 'src/bench/plain-echo.ts',
    'generator-process': 'src/bench/generator-process.ts',
    // Loaded by `ringwire serve --handler` in the bench's handler suites.
    'echo-handler': 'src/bench/echo-handler.ts',
    'echo-handler-async': 'src/bench/echo-handler-async.ts',
    'echo-handler-immediate': 'src/bench/echo-handler-immediate.ts',
    'echo-handler-timer': 'src/bench/echo-handler-timer.ts',
    // The routing suite of `ringwire bench`: fan-out servers and the cross-thread consumer.
    'plain-fanout': 'src/bench/plain-fanout.ts',
    'fanout-handler': 'src/bench/fanout-handler.ts',
    'thread-consumer': 'src/bench/thread-consumer.ts',
    // The websocket suite: ringwire's echo handler and the ws servers (echo, broadcast).
    'echo-handler-websocket': 'src/bench/echo-handler-websocket.ts',
    'plain-websocket': 'src/bench/plain-websocket.ts',
    // Preloaded into Node servers by `ringwire bench --gc`.
    'gc-probe': 'src/bench/gc-probe.ts',
  },
  outdir: 'dist',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node22',
  packages: 'external',
  sourcemap: true,
  logLevel: 'warning',
});
