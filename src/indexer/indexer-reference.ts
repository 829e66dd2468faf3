/**
 * The indexer's CPU reference, in f64, on the same FP8 values the kernel
 * reads (the cache's codes and scales, through the block table):
 *
 *   I[i, t] = k_scale[t] * sum_j (w[i, j] q_scale[i, j]) * max(0, sum_d q8[i, j, d] k8[t, d])
 *
 * for t <= keys - s_q + i (causal); -inf past it.
 */
import { decodeE4m3 } from '../numerics/fp8';
import type { IndexerInputs } from './indexer-inputs';
import { INDEXER, indexerOffsets } from '../mla/indexer-shape';

/** Token t's decoded key (unscaled) and its scale, read from the paged cache. */
export function cachedKey(inp: IndexerInputs, t: number): { key: Float64Array; scale: number } {
  const { layout } = inp;
  const slot = inp.blockTable[Math.floor(t / layout.pageBlockSize)] * layout.pageBlockSize + (t % layout.pageBlockSize);
  const at = indexerOffsets(layout, slot);
  const key = new Float64Array(INDEXER.headDim);
  for (let d = 0; d < INDEXER.headDim; d++) key[d] = decodeE4m3(inp.cache[at.key + d]);
  const scale = new DataView(inp.cache.buffer, inp.cache.byteOffset).getFloat32(at.scale, true);
  return { key, scale };
}

/** Scores [s_q, keys] in f64 (-inf where a query token does not see the token). */
export function indexerReference(inp: IndexerInputs): Float64Array {
  return indexerReferenceAt(inp, Array.from({ length: inp.keys }, (_, t) => t));
}

/** Scores [s_q, tokens.length] in f64 for the given tokens only (a long cache's check samples them). */
export function indexerReferenceAt(inp: IndexerInputs, tokens: readonly number[]): Float64Array {
  const { keys, sQ } = inp;
  const H = INDEXER.heads;
  const D = INDEXER.headDim;
  const q = Float64Array.from(inp.qCodes, (c) => decodeE4m3(c));
  const n = tokens.length;
  const out = new Float64Array(sQ * n).fill(-Infinity);
  tokens.forEach((t, at) => {
    const { key, scale } = cachedKey(inp, t);
    for (let i = 0; i < sQ; i++) {
      if (t > keys - sQ + i) continue;
      let sum = 0;
      for (let j = 0; j < H; j++) {
        let dot = 0;
        const base = (i * H + j) * D;
        for (let d = 0; d < D; d++) dot += q[base + d] * key[d];
        sum += inp.weights[i * H + j] * inp.qScales[i * H + j] * Math.max(0, dot);
      }
      out[i * n + at] = scale * sum;
    }
  });
  return out;
}
