import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Vitest's default is one worker fewer than the cores: on the 2 cores the suite
    // must fit, that is a single worker and the files run one after another. Much of
    // the socket tests' time is waiting (deadlines, sweeps, drains), so two files at a
    // time overlap those waits.
    maxWorkers: 2,
  },
});
