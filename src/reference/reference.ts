/**
 * The CPU reference: MLA decode attention written as plainly as possible,
 * accumulated in f64. It is the ground truth every GPU result is checked
 * against, run on exactly the values the GPU saw (the dequantised cache).
 *
 * For request b, query token i, head h (docs/design.md section 1):
 *   keys     = the slots row (b, i) attends (dense: its first `validKeys`
 *              tokens through the block table; sparse: its valid indices)
 *   s_t      = scale * dot(q[b,i,h,:], kv[t, 0:dQk])
 *   lse      = log(sum_t exp(s_t))          computed as m + log(sum exp(s_t - m))
 *   out      = sum_t exp(s_t - lse) * kv[t, 0:dV]
 *   sink     : out *= 1 / (1 + exp(sink_h - lse))     (lse itself unchanged)
 *   max_logits = max_t s_t                             (FlashMLA's sparse prefill returns it)
 *   no keys  : out = 0, lse = +inf, max_logits = -inf  (FlashMLA tests/ref.py)
 */
import { type MlaShape, softmaxScaleOf } from '../mla/shape';
import type { PagedCache } from '../mla/paged-cache';
import { slotOf } from '../mla/paged-cache';

export interface ReferenceInputs {
  readonly shape: MlaShape;
  readonly q: Float32Array;
  /** Dequantised cache rows, [numBlocks * pageBlockSize, dQk]. */
  readonly kvRows: Float32Array;
  readonly cache: PagedCache;
  readonly indices?: Int32Array;
  readonly sink?: Float32Array;
}

export interface AttentionResult {
  /** [batch, sQ, hQ, dV] */
  readonly out: Float64Array;
  /** [batch, hQ, sQ], natural log; +inf for a row with no valid key. */
  readonly lse: Float64Array;
  /** [batch, sQ, hQ], the largest scaled score; -inf for a row with no valid key. Absent where a result has none (a layer's, the indexer's). */
  readonly maxLogits?: Float64Array;
  /** The heads computed, when only a sample was (a long cache): the check compares only these. */
  readonly heads?: readonly number[];
}

/** Keys visible to query token i of a request of `seqlen` tokens (dense); none for a token before the cache's first (causal, seqlen < s_q). */
export function validKeys(shape: MlaShape, seqlen: number, i: number): number {
  return shape.causal ? Math.max(0, seqlen - shape.sQ + i + 1) : seqlen;
}

/** The cache slots that query row (b, i) attends to, in order. */
export function attendedSlots(shape: MlaShape, cache: PagedCache, indices: Int32Array | undefined, b: number, i: number): number[] {
  const slots: number[] = [];
  if (shape.topk > 0) {
    if (!indices) throw new Error('indices are required when topk > 0');
    const numSlots = cache.numBlocks * shape.pageBlockSize;
    for (let k = 0; k < shape.topk; k++) {
      const idx = indices[(b * shape.sQ + i) * shape.topk + k];
      if (idx >= 0 && idx < numSlots) slots.push(idx); // negative or past the cache: skipped
    }
  } else {
    const n = validKeys(shape, cache.seqlens[b], i);
    for (let t = 0; t < n; t++) slots.push(slotOf(cache, shape.pageBlockSize, b, t));
  }
  return slots;
}

/** Attention scores s_t (already scaled) of one (b, i, h) row over `slots`. */
export function rowScores(inp: ReferenceInputs, b: number, i: number, h: number, slots: readonly number[]): number[] {
  const { shape, q, kvRows } = inp;
  const d = shape.dQk;
  const qBase = ((b * shape.sQ + i) * shape.hQ + h) * d;
  const scale = softmaxScaleOf(shape);
  return slots.map((slot) => {
    let dot = 0;
    for (let c = 0; c < d; c++) dot += q[qBase + c] * kvRows[slot * d + c];
    return scale * dot;
  });
}

/**
 * Softmax attention of one query row (q[qBase .. qBase + dQk)) over the keys
 * in `rows` at row indices `keys` (each row dQk wide): the formula above,
 * without the sink. `keys` must not be empty.
 */
export function attendRow(shape: MlaShape, q: Float32Array, qBase: number, rows: Float32Array, keys: ArrayLike<number>): { out: Float64Array; lse: number; maxLogit: number } {
  const { dQk, dV } = shape;
  const scale = softmaxScaleOf(shape);
  const s = new Float64Array(keys.length);
  let m = -Infinity;
  for (let t = 0; t < keys.length; t++) {
    let dot = 0;
    const k = keys[t] * dQk;
    for (let c = 0; c < dQk; c++) dot += q[qBase + c] * rows[k + c];
    s[t] = scale * dot;
    m = Math.max(m, s[t]);
  }
  let sum = 0;
  for (let t = 0; t < keys.length; t++) sum += Math.exp(s[t] - m);
  const lse = m + Math.log(sum);
  const out = new Float64Array(dV);
  for (let t = 0; t < keys.length; t++) {
    const p = Math.exp(s[t] - lse);
    const v = keys[t] * dQk;
    for (let c = 0; c < dV; c++) out[c] += p * rows[v + c];
  }
  return { out, lse, maxLogit: m };
}

/** The sink's factor on out: 1 / (1 + exp(sink_h - lse)) (1 without a sink). */
export function sinkFactor(sink: Float32Array | undefined, h: number, lse: number): number {
  return sink ? 1 / (1 + Math.exp(sink[h] - lse)) : 1;
}

/** The rows of kvRows query head h reads for `slots`: the slots themselves when one KV head serves every query head (MLA). */
export type KeyRows = (slots: readonly number[], h: number) => ArrayLike<number>;

export function referenceAttention(inp: ReferenceInputs, keyRows: KeyRows = (slots) => slots): AttentionResult {
  const { shape, kvRows, sink } = inp;
  const { batch, sQ, hQ, dQk, dV } = shape;
  const out = new Float64Array(batch * sQ * hQ * dV);
  const lse = new Float64Array(batch * hQ * sQ);
  const maxLogits = new Float64Array(batch * sQ * hQ);
  for (let b = 0; b < batch; b++) {
    for (let i = 0; i < sQ; i++) {
      const slots = attendedSlots(shape, inp.cache, inp.indices, b, i);
      for (let h = 0; h < hQ; h++) {
        const outBase = ((b * sQ + i) * hQ + h) * dV;
        const lseAt = (b * hQ + h) * sQ + i;
        if (slots.length === 0) {
          lse[lseAt] = Infinity; // out stays 0
          maxLogits[(b * sQ + i) * hQ + h] = -Infinity;
          continue;
        }
        const row = attendRow(shape, inp.q, ((b * sQ + i) * hQ + h) * dQk, kvRows, keyRows(slots, h));
        lse[lseAt] = row.lse;
        maxLogits[(b * sQ + i) * hQ + h] = row.maxLogit;
        const f = sinkFactor(sink, h, row.lse);
        for (let c = 0; c < dV; c++) out[outBase + c] = row.out[c] * f;
      }
    }
  }
  return { out, lse, maxLogits };
}
