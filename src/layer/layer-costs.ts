/**
 * What each way of computing the attention core costs, from the shapes alone
 * (a multiply-add is 2 FLOPs; bytes are what one step must read at least):
 *
 *   MHA, materialised  the per-head keys [k_nope ; k_pe] (192) and values (128) are cached:
 *                      per context token and query token 2 h (192 + 128) = 640 h FLOPs;
 *                      the cache read is h (192 + 128) values per context token (640 h B in bf16)
 *   MHA, recomputed    the latent cache is read (576 values a token) and decompressed
 *                      every step: + 2 h (128 + 128) 512 = 262,144 h FLOPs per context token
 *   absorbed (MQA)     every head scores the shared 576-wide row and sums 512 of it:
 *                      2 h (576 + 512) = 2,176 h FLOPs per context token and query token;
 *                      the row is read once for all heads (1,152 B bf16, 656 B FP8);
 *                      + 2 h 128 512 for W_UK^T q and as much for W_UV per query token
 *
 * `attended` counts (query token, key) pairs: causal over a chunk of s_q
 * query tokens at the end of L cached tokens, query i sees L - s_q + i + 1;
 * sparse (topk > 0), min(topk, that). A sparse step reads (and MHA mode
 * decompresses) at most min(L, s_q topk) distinct cached tokens: that bound
 * is what is counted.
 * The projections outside the core (wq_a, wq_b, wkv_a, wo) are the same for
 * both ways and are left out.
 */
import type { CoreDims } from './layer-reference';

export type CostWay = 'mha-materialised' | 'mha-recomputed' | 'absorbed';
export const COST_WAYS: readonly CostWay[] = ['mha-materialised', 'mha-recomputed', 'absorbed'];

export const COST_WAY_LABELS: Readonly<Record<CostWay, string>> = {
  'mha-materialised': 'MHA over a cache of per-head keys and values',
  'mha-recomputed': 'MHA, keys and values recomputed from the latent',
  absorbed: 'absorbed (MQA) over the latent cache',
};

export interface StepCost {
  readonly way: CostWay;
  readonly flops: number;
  /** Cache bytes read (each cached token's record once), at `bytesPerValue` per cached value or the layout's record. */
  readonly cacheBytes: number;
  /** Weight bytes read by the step's own matrices (W_UK, W_UV), at the same bytes per value. */
  readonly weightBytes: number;
}

/** (query token, key) pairs of a causal chunk of sQ query tokens at the end of L keys. */
export function attendedPairs(keys: number, sQ: number, topk = 0): number {
  let pairs = 0;
  for (let i = 0; i < sQ; i++) pairs += topk > 0 ? Math.min(topk, keys - sQ + i + 1) : keys - sQ + i + 1;
  return pairs;
}

/**
 * One step's cost. `latentRecordBytes` is the latent cache's bytes per token
 * (1,152 bf16, 656 FP8, 2,304 f32); `bytesPerValue` the per-head cache's and
 * the weights' (2 for bf16).
 */
export function stepCost(way: CostWay, d: CoreDims, cached: number, sQ: number, bytesPerValue: number, latentRecordBytes: number, topk = 0): StepCost {
  const h = d.heads;
  const pairs = attendedPairs(cached, sQ, topk);
  const keys = topk > 0 ? Math.min(cached, sQ * topk) : cached;
  const core = (width: number) => 2 * h * width * pairs;
  const decompress = 2 * h * (d.qkNope + d.vHead) * d.kvLoraRank * keys;
  const upDown = 2 * h * (d.qkNope + d.vHead) * d.kvLoraRank;
  switch (way) {
    case 'mha-materialised':
      return { way, flops: core(d.qkNope + d.qkRope + d.vHead), cacheBytes: keys * h * (d.qkNope + d.qkRope + d.vHead) * bytesPerValue, weightBytes: 0 };
    case 'mha-recomputed':
      return { way, flops: decompress + core(d.qkNope + d.qkRope + d.vHead), cacheBytes: keys * latentRecordBytes, weightBytes: upDown / 2 * bytesPerValue };
    case 'absorbed':
      return { way, flops: sQ * upDown + core(d.kvLoraRank + d.qkRope + d.kvLoraRank), cacheBytes: keys * latentRecordBytes, weightBytes: upDown / 2 * bytesPerValue };
  }
}

/** Per context token and query token (the large-L limit of a decode step), in FLOPs; and the cache bytes per context token. */
export function perTokenCost(way: CostWay, d: CoreDims, bytesPerValue: number, latentRecordBytes: number): { flops: number; cacheBytes: number } {
  const h = d.heads;
  const core = 2 * h * (way === 'absorbed' ? 2 * d.kvLoraRank + d.qkRope : d.qkNope + d.qkRope + d.vHead);
  const flops = way === 'mha-recomputed' ? core + 2 * h * (d.qkNope + d.vHead) * d.kvLoraRank : core;
  const cacheBytes = way === 'mha-materialised' ? h * (d.qkNope + d.qkRope + d.vHead) * bytesPerValue : latentRecordBytes;
  return { flops, cacheBytes };
}
