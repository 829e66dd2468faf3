import { defineConfig } from 'vitest/config';
import { BaseSequencer, type TestSpecification } from 'vitest/node';

/** Test projects, each runnable alone (`npx vitest run --project kernels`); `npm test` runs them all. */
const KERNEL_TESTS = ['test/kernels.test.ts', 'test/layer-gpu.test.ts', 'test/indexer-gpu.test.ts', 'test/extra-cache.test.ts', 'test/kv-shards.test.ts', 'test/kernel-tiling.test.ts', 'test/kernel-errors.test.ts', 'test/roofline.test.ts', 'test/tune-gpu.test.ts', 'test/exercises-gpu.test.ts', 'test/prefill.test.ts', 'test/gqa-gpu.test.ts'];
const TOOL_TESTS = ['test/cli.test.ts', 'test/bench.test.ts', 'test/bad-inputs.test.ts', 'test/tune-cli.test.ts', 'test/exercise-cli.test.ts', 'test/prefill-cli.test.ts'];
const PAGE_TESTS = ['test/page-run.test.ts', 'test/page-sweeps.test.ts', 'test/page-views.test.ts', 'test/page-exercises.test.ts', 'test/page-files.test.ts'];

/**
 * Projects run in groups (sequence.groupOrder), one group after the other.
 *
 * Group 1 is the kernels on SwiftShader, one file at a time in one worker:
 * the files share one module graph (isolate: false), so they share one
 * device and its compiled pipelines. A software adapter takes seconds to
 * compile a kernel, and the files compile many of the same ones (-19 % on
 * SwiftShader); a second worker would compile them all again. Measured
 * with two workers: the group took 530 s against 446 s for one (its files
 * 1049 s of worker time against 446): SwiftShader uses both cores alone.
 *
 * Group 2 runs everything else two files at once: the page's five files
 * (each with its own Chromium), the kernels again on llvmpipe (which compiles
 * about three times faster than SwiftShader), the command line (it tests
 * flags, files and reports, on llvmpipe: every kernel runs on both adapters
 * in the kernel projects) and the unit tests. A shader compile keeps one core
 * busy, so two files at once use both cores of a small machine.
 *
 * Tried and dropped: the SwiftShader files as one file (importing them all:
 * one worker, one device) run in group 2 beside the rest, so that no core
 * would wait while group 1 compiles. Cold, on a slow machine of this kind:
 * the test phase took 2320 s against 2080 s this way, and the CPU time
 * 3895 s against 3406 s: the cores were busy enough already, and the files
 * ran slower side by side.
 */
const ALONE = { sequence: { groupOrder: 1 }, fileParallelism: false };
const TWO_AT_ONCE = { sequence: { groupOrder: 2 }, maxWorkers: 2 };
const SHARED_DEVICE = { isolate: false };
/**
 * The tiling and block-pair sweeps run on llvmpipe compiled without LLVM's
 * optimisation passes (Mesa's GALLIVM_PERF=nopt; set GALLIVM_PERF to another
 * value to run them optimised): that file compiles about a hundred pipelines
 * for small shapes. Measured, its eleven tests of the 8x16 and 32x32 output
 * blocks, a cold shader cache: 188 s against 307 s (the 32-head pairs about
 * 2x, the narrow ones 0-20 %). The other kernel files run many calls of the
 * same pipelines, and without the passes test/kernels.test.ts took 406 s
 * against 274 s, so they run llvmpipe as a user's machine does. The tests
 * check what a kernel computes, not how fast.
 */
const SWEEP_TESTS = ['test/kernel-tiling.test.ts'];
const LLVMPIPE = { MLA_ADAPTER: 'llvmpipe' };
const LLVMPIPE_UNOPTIMISED = { ...LLVMPIPE, GALLIVM_PERF: process.env.GALLIVM_PERF ?? 'nopt' };

/**
 * The order files start in. Vitest starts the files it has no timings for
 * by size and then by project name; a clean clone has no timings, and a long
 * file started last would run on alone while the other worker idles. So the
 * sweeps on llvmpipe (the longest file: 6 minutes cold on a fast machine,
 * 15 on a slow one) start first in their group, then the page's files
 * (minutes each), and the short ones fill in beside them.
 *
 * Ordering files so that one process's compiles serve another's did not
 * work: Mesa writes its shader cache from a thread of the lowest priority
 * (Mesa's disk_cache.c), which two busy cores leave waiting (our reading of
 * what we measured). In two cold runs: with the roofline's llvmpipe tests
 * started first, the command line's `info` (the same six yardstick forms)
 * still took 55.8 s, and with `info` first, those tests' 32 x 32 forms
 * still took 23 and 20 s; after an idle run that left them in the cache,
 * `info` took 8.2 s.
 */
class LongestFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const first = (name: string) => (name === 'kernels-gl-sweeps' ? 0 : name === 'page' ? 1 : 2);
    const rank = (f: TestSpecification) => f.project.config.sequence.groupOrder * 3 + first(f.project.name);
    return (await super.sort(files)).map((f, i) => ({ f, i })).sort((a, b) => rank(a.f) - rank(b.f) || a.i - b.i).map(({ f }) => f);
  }
}

export default defineConfig({
  server: { port: 5173 },
  test: {
    environment: 'node',
    // GPU tests compile shaders on a software adapter: give them room (a slower
    // machine of the same kind took 120 s for the longest command-line test).
    testTimeout: 300_000,
    hookTimeout: 300_000,
    sequence: { sequencer: LongestFirst },
    projects: [
      { extends: true, test: { name: 'kernels', include: KERNEL_TESTS, ...ALONE, ...SHARED_DEVICE } },
      { extends: true, test: { name: 'unit', include: ['test/*.test.ts'], exclude: [...KERNEL_TESTS, ...TOOL_TESTS, ...PAGE_TESTS], ...TWO_AT_ONCE } },
      { extends: true, test: { name: 'tools', include: TOOL_TESTS, env: LLVMPIPE, ...TWO_AT_ONCE } },
      // A page test waits on Chromium's software GPU, slower still beside another file.
      { extends: true, test: { name: 'page', include: PAGE_TESTS, ...TWO_AT_ONCE } },
      // The kernel tests again on Mesa llvmpipe: the full matrix (test/support/gpu.ts); the sweeps apart.
      { extends: true, test: { name: 'kernels-gl', include: KERNEL_TESTS, exclude: SWEEP_TESTS, env: LLVMPIPE, ...TWO_AT_ONCE, ...SHARED_DEVICE } },
      { extends: true, test: { name: 'kernels-gl-sweeps', include: SWEEP_TESTS, env: LLVMPIPE_UNOPTIMISED, ...TWO_AT_ONCE } },
      // Kept apart from npm test: npm run test:catalogue.
      { extends: true, test: { name: 'catalogue', include: ['test/catalogue/**/*.test.ts'], ...ALONE } },
    ],
  },
});
