/**
 * The lightning indexer's sizes (DeepSeek-V3.2-Exp, `inference/model.py`,
 * class `Indexer`, and `kernel.py`'s `fp8_index`), and its paged FP8 key cache.
 *
 *   I[i, s] = sum over heads j of w[i, j] * ReLU(q[i, j] . k[s])
 *   64 heads of 128 dims; one key of 128 per token, shared by every head.
 *   q and k go through a 128-point Hadamard transform (scale 128^-0.5), then
 *   FP8 E4M3 in blocks of 128 (the whole vector): one f32 scale per token
 *   for k, per token and head for q; with ue8m0 the scales are powers of two.
 *   In the kernel's order: FP8 q . k, ReLU, times (w * q_scale), summed over
 *   heads, times k_scale.
 *
 * The cache: 132 B per token (128 FP8 codes and a 4-byte f32 scale); a page
 * of P tokens stores all its tokens' keys (P x 128 B), then all their scales
 * (P x 4 B). Page p starts at p * 132 P.
 */

export const INDEXER = {
  heads: 64,
  headDim: 128,
  /** Keys the sparse attention keeps: min(topk, L). */
  topk: 2048,
  /** Bytes a token takes in the indexer's cache. */
  bytesPerToken: 132,
} as const;

/** FLOPs of the indexer per context token and query token: 2 * 64 * 128 = 16,384. */
export const INDEXER_FLOPS_PER_TOKEN = 2 * INDEXER.heads * INDEXER.headDim;

export interface IndexerCacheLayout {
  readonly pageBlockSize: number;
  /** Bytes of one page: 132 per token. */
  readonly pageStride: number;
}

export function indexerCacheLayout(pageBlockSize: number): IndexerCacheLayout {
  if (!Number.isInteger(pageBlockSize) || pageBlockSize < 1 || pageBlockSize % 4 !== 0) {
    throw new Error(`pageBlockSize = ${pageBlockSize} is not allowed: the indexer cache's page must hold a multiple of 4 tokens (its scales are read as whole words)`);
  }
  return { pageBlockSize, pageStride: pageBlockSize * INDEXER.bytesPerToken };
}

/** Byte offsets of a slot's 128 codes and of its scale. */
export function indexerOffsets(layout: IndexerCacheLayout, slot: number): { key: number; scale: number } {
  const page = Math.floor(slot / layout.pageBlockSize);
  const off = slot % layout.pageBlockSize;
  const base = page * layout.pageStride;
  return { key: base + off * INDEXER.headDim, scale: base + layout.pageBlockSize * INDEXER.headDim + off * 4 };
}
