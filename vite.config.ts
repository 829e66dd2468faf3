import { defineConfig } from 'vitest/config';
import { BaseSequencer, type TestSpecification } from 'vitest/node';
import { readFileSync } from 'node:fs';

/** Test projects, each runnable alone (`npx vitest run --project kernels`); `npm test` runs them all. */
const KERNEL_SUITE = 'test/kernel-suite.test.ts';
/** The kernel test files: the ones the suite file imports (one list, read from there). */
const KERNEL_TESTS = [...readFileSync(new URL(KERNEL_SUITE, import.meta.url), 'utf8').matchAll(/^import '\.\/(.+\.test)';$/gm)].map((m) => `test/${m[1]}.ts`);
if (KERNEL_TESTS.length === 0) throw new Error(`${KERNEL_SUITE} imports no kernel test file`);
const TOOL_TESTS = ['test/cli.test.ts', 'test/bench.test.ts', 'test/bad-inputs.test.ts', 'test/tune-cli.test.ts', 'test/exercise-cli.test.ts', 'test/prefill-cli.test.ts'];
const PAGE_TESTS = ['test/page-run.test.ts', 'test/page-sweeps.test.ts', 'test/page-views.test.ts', 'test/page-exercises.test.ts', 'test/page-files.test.ts'];

/**
 * Every project runs at once, two files at a time (a shader compile keeps one
 * core busy, so two files use both cores of a small machine):
 *
 * - `kernels`: the kernel tests on the adapter MLA_ADAPTER picks (SwiftShader
 *   with no GPU), as ONE file (test/kernel-suite.test.ts imports them all),
 *   so one worker runs them in turn with one device and its compiled
 *   pipelines: a software adapter takes seconds to compile a kernel, and the
 *   files compile many of the same ones.
 * - `kernels-gl`: the same files on Mesa llvmpipe, the full matrix
 *   (test/support/gpu.ts), file by file: Mesa keeps compiled shaders on disk
 *   (~/.cache/mesa_shader_cache), so two workers do not compile one twice.
 * - `page`: five files, each with its own Chromium.
 * - `tools`: the command line (flags, files, reports), on llvmpipe.
 * - `unit`: no GPU.
 *
 * Vitest hands the files to the two workers in the order the sequencer
 * gives; the longest first leaves short ones to even out the end.
 */
const TWO_AT_ONCE = { maxWorkers: 2 };
const SHARED_DEVICE = { isolate: false };

/**
 * The order files start in, longest first. A clean clone has no timings, and
 * Vitest would start the files it has none for by size: the kernel suite
 * (a few import lines, about a third of the suite's work) would start last
 * and run on alone while the other worker idles. So: the kernel suite, the
 * page's files (minutes each), the llvmpipe kernel files, the command line,
 * the unit tests; within each, Vitest's own order (recorded times, else size).
 */
const START_ORDER = ['kernels', 'page', 'kernels-gl', 'tools', 'unit'];
class LongestFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const rank = (f: TestSpecification) => {
      const k = START_ORDER.indexOf(f.project.name);
      return k < 0 ? START_ORDER.length : k;
    };
    return (await super.sort(files)).map((f, i) => ({ f, i })).sort((a, b) => rank(a.f) - rank(b.f) || a.i - b.i).map(({ f }) => f);
  }
}

export default defineConfig({
  server: { port: 5173 },
  test: {
    environment: 'node',
    // GPU tests compile shaders on a software adapter: give them room.
    testTimeout: 120_000,
    hookTimeout: 120_000,
    sequence: { sequencer: LongestFirst },
    projects: [
      { extends: true, test: { name: 'kernels', include: [KERNEL_SUITE], ...TWO_AT_ONCE, ...SHARED_DEVICE } },
      { extends: true, test: { name: 'unit', include: ['test/*.test.ts'], exclude: [KERNEL_SUITE, ...KERNEL_TESTS, ...TOOL_TESTS, ...PAGE_TESTS], ...TWO_AT_ONCE } },
      { extends: true, test: { name: 'tools', include: TOOL_TESTS, env: { MLA_ADAPTER: 'llvmpipe' }, ...TWO_AT_ONCE } },
      // A page test waits on Chromium's software GPU, slower still beside another file.
      { extends: true, test: { name: 'page', include: PAGE_TESTS, testTimeout: 300_000, ...TWO_AT_ONCE } },
      // The kernel tests again on Mesa llvmpipe: the full matrix (test/support/gpu.ts).
      { extends: true, test: { name: 'kernels-gl', include: KERNEL_TESTS, env: { MLA_ADAPTER: 'llvmpipe' }, ...TWO_AT_ONCE, ...SHARED_DEVICE } },
      // Kept apart from npm test: npm run test:catalogue.
      { extends: true, test: { name: 'catalogue', include: ['test/catalogue/**/*.test.ts'], fileParallelism: false } },
    ],
  },
});
