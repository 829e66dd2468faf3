import { defineConfig } from 'vitest/config';

/** Test projects, each runnable alone (`npx vitest run --project kernels`); `npm test` runs them all. */
const KERNEL_TESTS = ['test/kernels.test.ts', 'test/layer-gpu.test.ts', 'test/indexer-gpu.test.ts', 'test/extra-cache.test.ts', 'test/kv-shards.test.ts', 'test/kernel-tiling.test.ts', 'test/kernel-errors.test.ts', 'test/roofline.test.ts', 'test/tune-gpu.test.ts'];
const TOOL_TESTS = ['test/cli.test.ts', 'test/bench.test.ts', 'test/bad-inputs.test.ts', 'test/tune-cli.test.ts'];
const PAGE_TESTS = ['test/page-run.test.ts', 'test/page-sweeps.test.ts', 'test/page-views.test.ts'];

/**
 * Projects run in groups (sequence.groupOrder), one group after the other.
 * Group 1 runs its files one at a time, so two Dawn instances do not fight
 * over 2 cores. Group 2 runs the page's three files (each with its own
 * Chromium) beside the kernels on llvmpipe, two files at once.
 *
 * The kernel files share one module graph (isolate: false), so they share one
 * device and its compiled pipelines: a software adapter takes seconds to
 * compile a kernel, and the files compile many of the same ones (-19 % on
 * SwiftShader). The command-line tests run on llvmpipe, which compiles about
 * three times faster than SwiftShader: they test the command line (flags,
 * files, reports), and every kernel runs on both adapters in the kernel
 * projects.
 */
const ONE_AT_A_TIME = { sequence: { groupOrder: 1 }, fileParallelism: false };
const BESIDE_THE_PAGE = { sequence: { groupOrder: 2 }, maxWorkers: 2 };
const SHARED_DEVICE = { isolate: false };

export default defineConfig({
  server: { port: 5173 },
  test: {
    environment: 'node',
    // GPU tests compile shaders on a software adapter: give them room.
    testTimeout: 120_000,
    hookTimeout: 120_000,
    projects: [
      { extends: true, test: { name: 'unit', include: ['test/*.test.ts'], exclude: [...KERNEL_TESTS, ...TOOL_TESTS, ...PAGE_TESTS], ...ONE_AT_A_TIME } },
      { extends: true, test: { name: 'kernels', include: KERNEL_TESTS, ...ONE_AT_A_TIME, ...SHARED_DEVICE } },
      { extends: true, test: { name: 'tools', include: TOOL_TESTS, env: { MLA_ADAPTER: 'llvmpipe' }, ...ONE_AT_A_TIME } },
      // A page test waits on Chromium's software GPU, slower still when two files run at once.
      { extends: true, test: { name: 'page', include: PAGE_TESTS, testTimeout: 300_000, ...BESIDE_THE_PAGE } },
      // The kernel tests again on Mesa llvmpipe: the full matrix (test/support/gpu.ts).
      { extends: true, test: { name: 'kernels-gl', include: KERNEL_TESTS, env: { MLA_ADAPTER: 'llvmpipe' }, ...BESIDE_THE_PAGE, ...SHARED_DEVICE } },
      // Kept apart from npm test: npm run test:catalogue.
      { extends: true, test: { name: 'catalogue', include: ['test/catalogue/**/*.test.ts'], ...ONE_AT_A_TIME } },
    ],
  },
});
