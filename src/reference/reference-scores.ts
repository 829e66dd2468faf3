/**
 * The score matrix of version 1's first pass, in f64: for each query row
 * (b, i, h) and each key position k below max_keys,
 *
 *   s[row][k] = scale * dot(q[b,i,h,:], kv[slot_k, 0:dQk])   when position k is read,
 *   s[row][k] = MASKED_SCORE                                 when it is not:
 *
 * past the row's keys (dense: its visible tokens; sparse: topk), or an
 * index that is negative or past the cache (skipped, as FlashMLA does).
 * Row-major [batch, sQ, hQ, maxKeys], as v1_naive.wgsl writes it.
 */
import { softmaxScaleOf } from '../mla/shape';
import { slotOf } from '../mla/paged-cache';
import { type ReferenceInputs, validKeys } from './reference';

/** The score of a key position that is not read (v1_naive.wgsl's MASKED). */
export const MASKED_SCORE = -3.0e38;

/** The slot position k of row (b, i) reads, or undefined when it reads none. */
function slotAt(inp: ReferenceInputs, b: number, i: number, k: number): number | undefined {
  const { shape, cache, indices } = inp;
  if (shape.topk > 0) {
    if (k >= shape.topk) return undefined;
    const idx = indices![(b * shape.sQ + i) * shape.topk + k];
    return idx >= 0 && idx < cache.numBlocks * shape.pageBlockSize ? idx : undefined;
  }
  return k < validKeys(shape, cache.seqlens[b], i) ? slotOf(cache, shape.pageBlockSize, b, k) : undefined;
}

export function referenceScores(inp: ReferenceInputs, maxKeys: number): Float64Array {
  const { shape, q, kvRows } = inp;
  const { batch, sQ, hQ, dQk } = shape;
  const scale = softmaxScaleOf(shape);
  const s = new Float64Array(batch * sQ * hQ * maxKeys).fill(MASKED_SCORE);
  for (let b = 0; b < batch; b++) {
    for (let i = 0; i < sQ; i++) {
      for (let k = 0; k < maxKeys; k++) {
        const slot = slotAt(inp, b, i, k);
        if (slot === undefined) continue;
        for (let h = 0; h < hQ; h++) {
          const qBase = ((b * sQ + i) * hQ + h) * dQk;
          let dot = 0;
          for (let c = 0; c < dQk; c++) dot += q[qBase + c] * kvRows[slot * dQk + c];
          s[((b * sQ + i) * hQ + h) * maxKeys + k] = scale * dot;
        }
      }
    }
  }
  return s;
}
