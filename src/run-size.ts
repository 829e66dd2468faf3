/**
 * What a run will allocate, known from the shape alone, so a shape too big
 * for this machine's memory or this GPU's buffer limits is refused before
 * anything is built (a URL or a flag asking for a million tokens must not
 * allocate gigabytes first). See README, "Non-finite values and sizes".
 */
import { type MlaShape, fmtBytes, maxBlocksPerSeq, pagesPerRequest } from './shape';
import { type KvFormat, kvLayout } from './kv-layout';
import type { DeviceLimits } from './gpu/device';

/** Pages a generated cache has: every request's pages, a spare and the poison page (paged-cache.ts). */
function generatedPages(shape: MlaShape): number {
  return pagesPerRequest(shape).reduce((a, b) => a + b, 0) + 2;
}

/**
 * Host bytes of a run on generated inputs: q, the f32 cache, its quantised
 * bytes and the dequantised copy the check uses, the output read back and
 * the f64 reference.
 */
export function hostBytesOf(shape: MlaShape): number {
  const rows = shape.batch * shape.sQ * shape.hQ;
  const slots = generatedPages(shape) * shape.pageBlockSize;
  return 4 * rows * shape.dQk + slots * (12 * shape.dQk + 1) + rows * (shape.dV + 1) * (4 + 8);
}

/** Refuse a shape whose inputs and results would not fit in `budget` bytes of host memory. */
export function checkHostMemory(shape: MlaShape, budget: number, where: string): void {
  const bytes = hostBytesOf(shape);
  if (bytes > budget) {
    throw new Error(`this shape needs about ${fmtBytes(bytes)} of memory for its inputs, cache and reference, over the ${fmtBytes(budget)} ${where}: make seqlens, batch or h_q smaller`);
  }
}

/**
 * The GPU buffers of a run and their sizes (split scratch aside, which comes
 * with the plan): for generated inputs by default, else for a cache of
 * `numBlocks` pages and a block table `tableWidth` wide.
 */
export function deviceBuffers(shape: MlaShape, kvFormat: KvFormat, numBlocks = generatedPages(shape), tableWidth = maxBlocksPerSeq(shape)): [string, number][] {
  const layout = kvLayout(kvFormat, shape, shape.pageBlockSize);
  const rows = shape.batch * shape.sQ * shape.hQ;
  return [
    ['kv cache', numBlocks * layout.pageStride], ['q', 4 * rows * shape.dQk], ['out', 4 * rows * shape.dV], ['lse', 4 * rows],
    [shape.topk > 0 ? 'indices' : 'seqlens', 4 * (shape.topk > 0 ? shape.batch * shape.sQ * shape.topk : shape.batch)],
    ['block table', 4 * shape.batch * tableWidth],
  ];
}

/** Refuse buffers over the device's binding and buffer limits, naming the buffer and the limit. */
export function checkDeviceBuffers(buffers: readonly [string, number][], limits: DeviceLimits): void {
  const limit = Math.min(limits.maxStorageBufferBindingSize, limits.maxBufferSize);
  for (const [what, bytes] of buffers) {
    if (bytes > limit) {
      throw new Error(`this run needs a ${fmtBytes(bytes)} ${what} buffer, over this device's maxStorageBufferBindingSize/maxBufferSize of ${fmtBytes(limit)}: make the shape smaller`);
    }
  }
}
