/**
 * The sparse pipeline's options by name, shared by `mla-sandbox sparse` and
 * the Run view's sparse mode: one table of flags and their defaults, and how
 * they become a checked request (the shape, the run configuration, top-k,
 * planted tokens) before anything is generated. Every value is checked with
 * a message naming its flag.
 */
import type { DeviceLimits } from '../gpu/device';
import { INDEXER } from '../mla/indexer-shape';
import { kvLayout } from '../mla/kv-layout';
import type { MlaShape } from '../mla/shape';
import type { RunConfig } from '../run/runner';
import { type FlagValues, type MemoryBudget, configFromFlags, intFlag, shapeFromFlags } from '../run/run-options';
import { checkCacheSize, checkHostMemory, generatesStraightIntoFormat } from '../run/run-size';

export const SPARSE_FLAGS = {
  preset: { type: 'string', default: 'v32' },
  'h-q': { type: 'string', default: '64' },
  's-q': { type: 'string', default: '1' },
  seqlens: { type: 'string', default: '65536' },
  topk: { type: 'string', default: String(INDEXER.topk) },
  kv: { type: 'string', default: 'fp8' },
  kernel: { type: 'string', default: 'flash' },
  plant: { type: 'string', default: '0' },
  seed: { type: 'string', default: '0' },
  'no-dense': { type: 'boolean', default: false },
} as const;

/** The flags' defaults, as flag values. */
export const SPARSE_DEFAULTS: FlagValues = Object.fromEntries(Object.entries(SPARSE_FLAGS).map(([k, f]) => [k, f.default]));

/** What one run of the pipeline needs, every value checked. */
export interface SparseRequest {
  readonly shape: MlaShape;
  readonly config: RunConfig;
  readonly topk: number;
  readonly plant: number;
  readonly seed: number;
  readonly compareDense: boolean;
  /** A long cache is generated straight into its format (run-size.ts). */
  readonly straightIntoFormat: boolean;
}

/** The shape and top-k of the flags, checked (no device needed). */
export function sparseRequestFromFlags(v: FlagValues): SparseRequest {
  const topk = intFlag('topk', v.topk, 1, 1 << 16)!;
  if (String(v.seqlens).includes(',')) throw new Error(`--seqlens ${v.seqlens} is not allowed: the sparse pipeline runs one request, --seqlens must be one length`);
  const shape = shapeFromFlags({ preset: v.preset, 'h-q': v['h-q'], 's-q': v['s-q'], seqlens: v.seqlens });
  const config = configFromFlags({ kv: v.kv, kernel: v.kernel, 'scale-rounding': 'pow2', splits: 'auto' });
  const plant = intFlag('plant', v.plant, 0, shape.seqlens[0] - shape.sQ + 1)!;
  const seed = intFlag('seed', v.seed, 0, 0xffffffff)!;
  return { shape, config, topk, plant, seed, compareDense: !v['no-dense'], straightIntoFormat: generatesStraightIntoFormat(shape) };
}

/** Host bytes the indexer adds to a dense run: its paged cache and the scores read back. */
function indexerHostBytes(shape: MlaShape): number {
  const L = shape.seqlens[0];
  return L * INDEXER.bytesPerToken + 4 * L * shape.sQ;
}

/**
 * The pre-flight with a device: the cache fits its shards, the host arrays
 * (the attention cache, the indexer's, the scores) fit the budget; refused by
 * size before any allocation.
 */
export function checkSparseFits(shape: MlaShape, config: RunConfig, limits: DeviceLimits, budget: MemoryBudget): void {
  const layout = kvLayout(config.kvFormat, shape, shape.pageBlockSize);
  checkCacheSize(shape, layout, limits);
  checkHostMemory(shape, layout, budget.bytes, budget.where, indexerHostBytes(shape));
}
