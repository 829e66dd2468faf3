import { defineConfig } from 'vitest/config';

/** Test projects, each runnable alone (`npx vitest run --project kernels`); `npm test` runs them all. */
const KERNEL_TESTS = ['test/kernels.test.ts', 'test/layer-gpu.test.ts', 'test/indexer-gpu.test.ts', 'test/extra-cache.test.ts', 'test/kv-shards.test.ts', 'test/kernel-tiling.test.ts', 'test/kernel-errors.test.ts', 'test/roofline.test.ts'];
const TOOL_TESTS = ['test/cli.test.ts', 'test/bench.test.ts', 'test/bad-inputs.test.ts'];
const PAGE_TESTS = ['test/page.test.ts'];

/**
 * Projects run in groups (sequence.groupOrder), one group after the other.
 * Group 1 runs its files one at a time, so two Dawn instances do not fight
 * over 2 cores. Group 2 runs the page (mostly waiting on Chromium) beside the
 * kernels on llvmpipe: two files at once, which on CI's 2-core machine took
 * 6.7 minutes where one after the other took 9.
 */
const ONE_AT_A_TIME = { sequence: { groupOrder: 1 }, fileParallelism: false };
const BESIDE_THE_PAGE = { sequence: { groupOrder: 2 }, maxWorkers: 2 };

export default defineConfig({
  server: { port: 5173 },
  test: {
    environment: 'node',
    // GPU tests compile shaders on a software adapter: give them room.
    testTimeout: 120_000,
    hookTimeout: 120_000,
    projects: [
      { extends: true, test: { name: 'unit', include: ['test/*.test.ts'], exclude: [...KERNEL_TESTS, ...TOOL_TESTS, ...PAGE_TESTS], ...ONE_AT_A_TIME } },
      { extends: true, test: { name: 'kernels', include: KERNEL_TESTS, ...ONE_AT_A_TIME } },
      { extends: true, test: { name: 'tools', include: TOOL_TESTS, ...ONE_AT_A_TIME } },
      { extends: true, test: { name: 'page', include: PAGE_TESTS, ...BESIDE_THE_PAGE } },
      // The kernel tests again on Mesa llvmpipe: the full matrix (test/support/gpu.ts).
      { extends: true, test: { name: 'kernels-gl', include: KERNEL_TESTS, env: { MLA_ADAPTER: 'llvmpipe' }, ...BESIDE_THE_PAGE } },
      // Kept apart from npm test: npm run test:catalogue.
      { extends: true, test: { name: 'catalogue', include: ['test/catalogue/**/*.test.ts'], ...ONE_AT_A_TIME } },
    ],
  },
});
