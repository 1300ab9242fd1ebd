// Bundle the public API and the CLI into dist/ with esbuild (ESM, Node 22+).
// The WASM binary stays in build/; src/core/wasm-core.ts finds it from dist/.
import { rmSync } from 'node:fs';
import { build } from 'esbuild';

// From an empty dist/: chunk names carry content hashes, so chunks of earlier
// builds would pile up and ship in the tarball. build:types, which runs after
// this in `npm run build`, writes dist/types again.
rmSync('dist', { recursive: true, force: true });

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
