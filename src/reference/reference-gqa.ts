/**
 * The CPU reference of a dense call with several KV heads (mla/gqa.ts), on
 * the call as given: query head h of request b, token i attends the same
 * keys as an MQA row would (its first validKeys tokens through the block
 * table), each read from KV head g = floor(h / (h_q / h_kv)) of its slot:
 * row slot * h_kv + g of the cache [blocks, page, h_kv, d_qk]. The formula
 * is reference.ts's (attendRow, sinkFactor), in f64.
 */
import { kvHeadOf } from '../mla/gqa';
import type { GqaCall } from '../mla/gqa';
import { type AttentionResult, attendRow, attendedSlots, sinkFactor } from './reference';

/** The reference on `kvRows` (the call's rows, or the values the GPU saw, in the call's order). */
export function referenceGqa(call: Omit<GqaCall, 'kvRows'>, kvRows: Float32Array): AttentionResult {
  const { shape, hKv, sink } = call;
  const { batch, sQ, hQ, dQk, dV } = shape;
  const out = new Float64Array(batch * sQ * hQ * dV);
  const lse = new Float64Array(batch * hQ * sQ);
  const maxLogits = new Float64Array(batch * sQ * hQ);
  for (let b = 0; b < batch; b++) {
    for (let i = 0; i < sQ; i++) {
      const slots = attendedSlots(shape, call.cache, undefined, b, i);
      for (let h = 0; h < hQ; h++) {
        const row = (b * sQ + i) * hQ + h;
        if (slots.length === 0) {
          lse[(b * hQ + h) * sQ + i] = Infinity; // out stays 0
          maxLogits[row] = -Infinity;
          continue;
        }
        const g = kvHeadOf(hQ, hKv, h);
        const r = attendRow(shape, call.q, row * dQk, kvRows, slots.map((s) => s * hKv + g));
        lse[(b * hQ + h) * sQ + i] = r.lse;
        maxLogits[row] = r.maxLogit;
        const f = sinkFactor(sink, h, r.lse);
        for (let c = 0; c < dV; c++) out[row * dV + c] = r.out[c] * f;
      }
    }
  }
  return { out, lse, maxLogits };
}
