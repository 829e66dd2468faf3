/**
 * What a run will allocate, known from the shape alone, so a shape too big
 * for this machine's memory or this GPU's buffer limits is refused before
 * anything is built (a URL or a flag asking for a million tokens must not
 * allocate gigabytes first). See README, "Non-finite values and sizes".
 */
import { type MlaShape, fmtBytes, maxBlocksPerSeq, pagesPerRequest } from '../mla/shape';
import type { DeviceLimits } from '../gpu/device';
import type { KvLayout } from '../mla/kv-layout';
import { REFERENCE_CHUNK_KEYS } from '../reference/reference-chunked';
import { MAX_KV_SHARDS } from '../kernels/kv-shards';

/** Pages a generated cache has: every request's pages, a spare and the poison page (paged-cache.ts). */
export function generatedPages(shape: MlaShape): number {
  return pagesPerRequest(shape).reduce((a, b) => a + b, 0) + 2;
}

/**
 * A generated cache whose f32 form would be larger than this is generated
 * straight into its format, a chunk at a time (inputs.ts, cacheLayout): a
 * million-token FP8 cache never exists as 2 GiB of f32. Below it the f32
 * cache is kept, so the quantisation error can be measured.
 */
export const F32_CACHE_LIMIT = 256 * 2 ** 20;

/** Whether generated inputs of this shape skip the f32 cache (see F32_CACHE_LIMIT). */
export function generatesStraightIntoFormat(shape: MlaShape): boolean {
  return generatedPages(shape) * shape.pageBlockSize * shape.dQk * 4 > F32_CACHE_LIMIT;
}

/**
 * Host bytes of a run on generated inputs: q, the cache (f32 and its bytes,
 * or its bytes alone: generatesStraightIntoFormat), the reference's chunk of
 * decoded keys and the per-slot flags, the output read back and the f64
 * reference.
 */
export function hostBytesOf(shape: MlaShape, layout: KvLayout): number {
  const rows = shape.batch * shape.sQ * shape.hQ;
  const slots = generatedPages(shape) * shape.pageBlockSize;
  const f32Cache = generatesStraightIntoFormat(shape) ? 0 : slots * 4 * shape.dQk;
  const chunk = REFERENCE_CHUNK_KEYS * 4 * shape.dQk;
  return 4 * rows * shape.dQk + f32Cache + generatedPages(shape) * layout.pageStride + chunk + slots + rows * (shape.dV + 1) * (4 + 8);
}

/** Refuse a shape whose inputs and results (and `extraBytes` more, e.g. the indexer's) would not fit in `budget` bytes of host memory. */
export function checkHostMemory(shape: MlaShape, layout: KvLayout, budget: number, where: string, extraBytes = 0): void {
  const bytes = hostBytesOf(shape, layout) + extraBytes;
  if (bytes > budget) {
    throw new Error(`this shape needs about ${fmtBytes(bytes)} of memory for its inputs, cache and reference, over the ${fmtBytes(budget)} ${where}: make seqlens, batch or h_q smaller`);
  }
}

/** The most bytes one array holds on the host: V8 (Node, Chrome) allocates at most 4 GiB in one ArrayBuffer. */
export const MAX_HOST_ARRAY_BYTES = 2 ** 32;

/** Cached tokens that `bytes` of cache hold, less a generated cache's spare and poison pages. */
export function tokensThatFit(bytes: number, layout: KvLayout): number {
  return Math.max(0, Math.floor(bytes / layout.pageStride) - 2) * layout.pageBlockSize;
}

/**
 * Refuse a generated cache larger than one array on the host can be (its
 * bytes are one ArrayBuffer), before it is allocated, naming its bytes, the
 * limit and how many tokens would fit. The device's limit (shards x binding)
 * is checked by the plan (kernels/kv-shards.ts), with the same count of what fits.
 */
export function checkCacheSize(shape: MlaShape, layout: KvLayout, limits: DeviceLimits, capBytes?: number): void {
  const pages = generatedPages(shape);
  const bytes = pages * layout.pageStride;
  if (bytes <= MAX_HOST_ARRAY_BYTES) return;
  const binding = Math.floor(Math.min(limits.maxStorageBufferBindingSize, limits.maxBufferSize, capBytes ?? Infinity) / 16) * 16;
  const deviceBytes = MAX_KV_SHARDS * Math.floor(binding / layout.pageStride) * layout.pageStride;
  const fit = tokensThatFit(Math.min(deviceBytes, MAX_HOST_ARRAY_BYTES), layout);
  throw new Error(`the ${layout.name} cache of this shape is ${fmtBytes(bytes)} (${pages} pages of ${shape.pageBlockSize} tokens), over the ${fmtBytes(MAX_HOST_ARRAY_BYTES)} one array holds on the host `
    + `(the JavaScript engine's limit; the kernels could bind ${MAX_KV_SHARDS} shards x ${fmtBytes(binding)} = ${fmtBytes(deviceBytes)}): at most about ${fit} cached tokens fit `
    + `(seqlens summed over the batch); make seqlens or batch smaller${layout.kind === 'fp8' ? '' : ', or use a smaller --kv format (fp8)'}`);
}

/**
 * The GPU buffers of a run and their sizes, the cache aside (it is cut into
 * shards that fit: kernels/kv-shards.ts) and the split scratch aside (it
 * comes with the plan), for a block table `tableWidth` wide.
 */
export function deviceBuffers(shape: MlaShape, tableWidth = maxBlocksPerSeq(shape)): [string, number][] {
  const rows = shape.batch * shape.sQ * shape.hQ;
  return [
    ['q', 4 * rows * shape.dQk], ['out', 4 * rows * shape.dV], ['lse', 4 * rows], ['max_logits', 4 * rows],
    [shape.topk > 0 ? 'indices' : 'seqlens', 4 * (shape.topk > 0 ? shape.batch * shape.sQ * shape.topk : shape.batch)],
    ['block table', 4 * shape.batch * tableWidth],
  ];
}

/** A buffer over the device's binding limit: a caller that cuts its work into chunks (a prompt) makes them smaller. */
export class BufferOverLimit extends Error {
  /** The buffer, e.g. "score matrix". */
  constructor(message: string, readonly buffer: string) {
    super(message);
    this.name = 'BufferOverLimit';
  }
}

/** The largest buffer one binding takes on this device. */
export function bindingLimit(limits: DeviceLimits): number {
  return Math.min(limits.maxStorageBufferBindingSize, limits.maxBufferSize);
}

/** Refuse buffers over the device's binding and buffer limits, naming the buffer and the limit. */
export function checkDeviceBuffers(buffers: readonly [string, number][], limits: DeviceLimits): void {
  const limit = bindingLimit(limits);
  for (const [what, bytes] of buffers) {
    if (bytes > limit) {
      throw new BufferOverLimit(`this run needs a ${fmtBytes(bytes)} ${what} buffer, over this device's maxStorageBufferBindingSize/maxBufferSize of ${fmtBytes(limit)}: make the shape smaller`, what);
    }
  }
}
