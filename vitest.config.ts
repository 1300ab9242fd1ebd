import { configDefaults, defineConfig } from 'vitest/config';

// test/browser/ needs headless Chromium and is its own script (npm run test:browser,
// which sets RINGWIRE_BROWSER): npm test neither installs a browser nor waits for one.
const browser = process.env.RINGWIRE_BROWSER === '1';

export default defineConfig({
  test: {
    include: browser ? ['test/browser/**/*.test.ts'] : ['test/**/*.test.ts'],
    exclude: browser ? configDefaults.exclude : [...configDefaults.exclude, 'test/browser/**'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Vitest's default is one worker fewer than the cores: on the 2 cores the suite
    // must fit, that is a single worker and the files run one after another. Much of
    // the socket tests' time is waiting (deadlines, sweeps, drains), so three files at
    // a time overlap those waits (at load 6: 282 s against 354-419 s with two).
    maxWorkers: 3,
    // Files share a worker's module graph instead of importing src/ afresh each: every test
    // file imported the library (about 140 modules) and what it needs again, ~0.5-1.5 s of
    // CPU a file on 2 loaded cores. Tests keep no state in shared modules between files:
    // each starts and stops its own servers, processes and threads.
    isolate: false,
  },
});
