/**
 * The register blocks a test that runs every version over many shapes gives
 * version 6: its smallest, 8x8 and 8x16, which llvmpipe compiles in about a
 * second, where its defaults there (32x32 / 32x64) take about nine, a cost
 * each new shape and format pays again. What such a test checks (masks,
 * pages, splits, sinks, the second cache) is the same code whatever the
 * block; v6's blocks have tests of their own (test/kernel-tiling.test.ts),
 * and its defaults run in the ladder's tests (test/cli.test.ts, the page's).
 * Other versions keep their defaults.
 */
import type { PlanOptions } from '../../src/kernels/kernel-plan';
import type { KernelChoice } from '../../src/kernels/versions';

export function broadBlocks(kernel: KernelChoice): Pick<PlanOptions, 'scoreBlock' | 'outBlock'> {
  return kernel === 'matmuls' || kernel === 'v6' ? { scoreBlock: '8x8', outBlock: '8x16' } : {};
}
