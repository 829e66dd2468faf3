/**
 * The CPU reference for a cache too long to decode whole: the plain f64
 * formula of reference.ts (attendRow), run on chunks of keys decoded from
 * the cache's bytes, the chunks merged by their lse, as split-KV merges its
 * splits (docs/design.md, "Split-KV"):
 *
 *   lse = log(sum_c exp(lse_c))        out = sum_c exp(lse_c - lse) * out_c
 *   max_logits = max_c max_logits_c
 *
 * which is exact: each chunk's out_c is normalised by its own sum, and
 * exp(lse_c - lse) is that chunk's share of the whole sum. Memory stays one
 * chunk of decoded keys. When all heads would cost more than `budget`
 * multiply-adds, a sample of heads is computed (always the first and the
 * last) and the result says which (AttentionResult.heads).
 */
import { type MlaShape } from '../mla/shape';
import type { KvLayout } from '../mla/kv-layout';
import { dequantizeSlots } from '../mla/kv-quant';
import { type AttentionResult, type ReferenceInputs, attendRow, attendedSlots, sinkFactor } from './reference';

/** Keys decoded at a time: 8192 keys of 576 f32 is 18 MiB. */
export const REFERENCE_CHUNK_KEYS = 8192;
/** Multiply-adds the reference spends before it samples heads: about half a minute of one core. */
export const REFERENCE_BUDGET = 2 ** 35;
/** Heads computed when sampling. */
export const SAMPLED_HEADS = 4;

export interface ChunkedReferenceOptions {
  readonly chunkKeys?: number;
  /** Multiply-adds allowed for all heads; over it, SAMPLED_HEADS heads are computed. */
  readonly budget?: number;
  /** Called after each chunk with the keys done and the keys in all: for a progress bar. */
  readonly onProgress?: (done: number, total: number) => void;
}

/** Multiply-adds of the reference for every head: keys x (dQk + dV) per head and query row. */
export function referenceCost(shape: MlaShape, keysPerRow: readonly number[]): number {
  const keys = keysPerRow.reduce((a, b) => a + b, 0);
  return keys * shape.hQ * (shape.dQk + shape.dV);
}

/** The heads to compute: all of them within the budget, else SAMPLED_HEADS spread from the first to the last. */
export function referenceHeads(shape: MlaShape, cost: number, budget: number): number[] {
  const { hQ } = shape;
  if (cost <= budget || hQ <= SAMPLED_HEADS) return Array.from({ length: hQ }, (_, h) => h);
  return [...new Set(Array.from({ length: SAMPLED_HEADS }, (_, k) => Math.round((k * (hQ - 1)) / (SAMPLED_HEADS - 1))))];
}

/**
 * The reference on the cache as the kernel reads it (its bytes in `layout`),
 * chunk by chunk. With one chunk per row this is exactly referenceAttention
 * on the dequantised cache.
 */
export function referenceOnCache(inp: Omit<ReferenceInputs, 'kvRows'>, bytes: Uint8Array, layout: KvLayout, options: ChunkedReferenceOptions = {}): AttentionResult {
  const { shape, sink } = inp;
  const { batch, sQ, hQ, dQk, dV } = shape;
  const chunkKeys = options.chunkKeys ?? REFERENCE_CHUNK_KEYS;
  const rowSlots: number[][] = [];
  for (let b = 0; b < batch; b++) {
    for (let i = 0; i < sQ; i++) rowSlots.push(attendedSlots(shape, inp.cache, inp.indices, b, i));
  }
  const total = rowSlots.reduce((a, s) => a + s.length, 0);
  const heads = referenceHeads(shape, referenceCost(shape, rowSlots.map((s) => s.length)), options.budget ?? REFERENCE_BUDGET);
  const out = new Float64Array(batch * sQ * hQ * dV);
  const lse = new Float64Array(batch * hQ * sQ);
  const maxLogits = new Float64Array(batch * sQ * hQ).fill(-Infinity); // -inf stays for a row with no key
  const rows = new Float32Array(Math.min(chunkKeys, Math.max(1, ...rowSlots.map((s) => s.length))) * dQk);
  let done = 0;
  for (let r = 0; r < rowSlots.length; r++) {
    const slots = rowSlots[r];
    const b = Math.floor(r / sQ);
    const i = r % sQ;
    for (const h of heads) lse[(b * hQ + h) * sQ + i] = slots.length === 0 ? Infinity : -Infinity; // no key: out 0, lse +inf
    for (let start = 0; start < slots.length; start += chunkKeys) {
      const chunk = slots.slice(start, start + chunkKeys);
      dequantizeSlots(bytes, layout, chunk, rows);
      const local = chunk.map((_, k) => k);
      for (const h of heads) {
        const part = attendRow(shape, inp.q, (r * hQ + h) * dQk, rows, local);
        mergeInto(out, (r * hQ + h) * dV, lse, (b * hQ + h) * sQ + i, part);
        maxLogits[r * hQ + h] = Math.max(maxLogits[r * hQ + h], part.maxLogit);
      }
      done += chunk.length;
      options.onProgress?.(done, total);
    }
    if (slots.length > 0 && sink) {
      for (const h of heads) {
        const f = sinkFactor(sink, h, lse[(b * hQ + h) * sQ + i]);
        for (let c = 0; c < dV; c++) out[(r * hQ + h) * dV + c] *= f;
      }
    }
  }
  return heads.length === hQ ? { out, lse, maxLogits } : { out, lse, maxLogits, heads };
}

/**
 * Merge a chunk's (lse_b, out_b) into the running (lse_a, out_a) at out[o..],
 * lse[l]: lse = log(exp(lse_a) + exp(lse_b)), out = weights exp(lse - lse_new).
 * The first chunk finds lse_a = -inf and takes out_b whole.
 */
function mergeInto(out: Float64Array, o: number, lse: Float64Array, l: number, part: { out: Float64Array; lse: number }): void {
  const a = lse[l];
  const m = Math.max(a, part.lse);
  const merged = m + Math.log(Math.exp(a - m) + Math.exp(part.lse - m));
  const wa = Math.exp(a - merged);
  const wb = Math.exp(part.lse - merged);
  for (let c = 0; c < part.out.length; c++) out[o + c] = out[o + c] * wa + part.out[c] * wb;
  lse[l] = merged;
}
