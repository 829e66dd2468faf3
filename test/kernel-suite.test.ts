/**
 * The kernel test files as one file, for the `kernels` project (the adapter
 * MLA_ADAPTER picks; SwiftShader on a machine with no GPU): one file is one
 * task for Vitest, so all of them run in one worker, one after the other,
 * sharing one device and the pipelines it has compiled (test/support/gpu.ts
 * opens it once a worker). On a software adapter a compile takes seconds and
 * the files compile many of the same kernels, so running them in two workers
 * would compile those twice; as one task they keep one worker busy while the
 * other runs the rest of the suite beside them (vite.config.ts).
 *
 * Each file also runs alone: `npx vitest run --project kernels-gl test/kernels.test.ts`.
 */
import './kernels.test';
import './layer-gpu.test';
import './indexer-gpu.test';
import './extra-cache.test';
import './kv-shards.test';
import './kernel-tiling.test';
import './kernel-errors.test';
import './roofline.test';
import './tune-gpu.test';
import './exercises-gpu.test';
import './prefill.test';
import './gqa-gpu.test';
