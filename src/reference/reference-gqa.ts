/**
 * The CPU reference of a dense call with several KV heads (mla/gqa.ts), on
 * the call as given: query head h of request b, token i attends the same
 * keys as an MLA row would (its first validKeys tokens through the block
 * table), each read from KV head g = floor(h / (h_q / h_kv)) of its slot:
 * row slot * h_kv + g of the cache [blocks, page, h_kv, d_qk]. The formula
 * is reference.ts's, in f64.
 */
import { kvHeadOf } from '../mla/gqa';
import type { GqaCall } from '../mla/gqa';
import { type AttentionResult, referenceAttention } from './reference';

/** The reference on `kvRows` (the call's rows, or the values the GPU saw, in the call's order). */
export function referenceGqa(call: Omit<GqaCall, 'kvRows'>, kvRows: Float32Array): AttentionResult {
  const { shape, hKv } = call;
  return referenceAttention({ ...call, kvRows }, (slots, h) => slots.map((s) => s * hKv + kvHeadOf(shape.hQ, hKv, h)));
}
