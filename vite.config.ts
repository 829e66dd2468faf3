import { defineConfig } from 'vitest/config';

/** Test projects, each runnable alone (`npx vitest run --project kernels`); `npm test` runs them all. */
const KERNEL_TESTS = ['test/kernels.test.ts', 'test/kv-shards.test.ts', 'test/kernel-tiling.test.ts', 'test/kernel-errors.test.ts', 'test/roofline.test.ts'];
const TOOL_TESTS = ['test/cli.test.ts', 'test/bench.test.ts', 'test/bad-inputs.test.ts'];
const PAGE_TESTS = ['test/page.test.ts'];

export default defineConfig({
  server: { port: 5173 },
  test: {
    environment: 'node',
    // GPU tests compile shaders on a software adapter: give them room, and run
    // files one after another so two Dawn instances do not fight over 2 cores.
    testTimeout: 120_000,
    hookTimeout: 120_000,
    fileParallelism: false,
    projects: [
      { extends: true, test: { name: 'unit', include: ['test/*.test.ts'], exclude: [...KERNEL_TESTS, ...TOOL_TESTS, ...PAGE_TESTS] } },
      { extends: true, test: { name: 'kernels', include: KERNEL_TESTS } },
      { extends: true, test: { name: 'tools', include: TOOL_TESTS } },
      { extends: true, test: { name: 'page', include: PAGE_TESTS } },
      // Kept apart from npm test: npm run test:catalogue.
      { extends: true, test: { name: 'catalogue', include: ['test/catalogue/**/*.test.ts'] } },
    ],
  },
});
