/**
 * The reference for MODEL1's sparse decode over two KV sources
 * (mla/extra-cache.ts), written without combining them: row (b, i) gathers
 * the first topk_length[b] of its main indices from the main cache and the
 * first extra_topk_length[b] of its extra indices from the extra cache, each
 * index checked against its own cache (invalid ones skipped), and attends
 * them all in one softmax (attendRow, f64). No valid key: out 0, lse +inf, max_logits -inf.
 */
import type { MlaShape } from '../mla/shape';
import { type AttentionResult, attendRow, sinkFactor } from './reference';

export interface ReferenceSource {
  /** Dequantised rows [slots, dQk], as the kernel reads them. */
  readonly rows: Float32Array;
  /** [batch, sQ, topk] */
  readonly indices: Int32Array;
  readonly topk: number;
  /** [batch]; default: all topk. */
  readonly topkLength?: Int32Array;
}

export function referenceTwoSources(shape: MlaShape, q: Float32Array, main: ReferenceSource, extra: ReferenceSource | undefined, sink?: Float32Array): AttentionResult {
  const { batch, sQ, hQ, dQk, dV } = shape;
  const out = new Float64Array(batch * sQ * hQ * dV);
  const lse = new Float64Array(batch * hQ * sQ);
  const maxLogits = new Float64Array(batch * sQ * hQ).fill(-Infinity);
  for (let b = 0; b < batch; b++) {
    for (let i = 0; i < sQ; i++) {
      const row = b * sQ + i;
      const gathered: Float32Array[] = [];
      for (const src of extra ? [main, extra] : [main]) {
        const slots = src.rows.length / dQk;
        const used = src.topkLength?.[b] ?? src.topk;
        for (let k = 0; k < used; k++) {
          const v = src.indices[row * src.topk + k];
          if (v >= 0 && v < slots) gathered.push(src.rows.subarray(v * dQk, (v + 1) * dQk));
        }
      }
      const keys = new Float32Array(gathered.length * dQk);
      gathered.forEach((r, k) => keys.set(r, k * dQk));
      for (let h = 0; h < hQ; h++) {
        const o = (row * hQ + h) * dV;
        const l = (b * hQ + h) * sQ + i;
        if (gathered.length === 0) { lse[l] = Infinity; continue; }
        const part = attendRow(shape, q, (row * hQ + h) * dQk, keys, Array.from({ length: gathered.length }, (_, k) => k));
        const f = sinkFactor(sink, h, part.lse);
        for (let c = 0; c < dV; c++) out[o + c] = part.out[c] * f;
        lse[l] = part.lse;
        maxLogits[row * hQ + h] = part.maxLogit;
      }
    }
  }
  return { out, lse, maxLogits };
}
