/**
 * The small case the Learn view steps through: one request, one query token,
 * a few heads and keys, in a chosen head shape and KV format. Everything is
 * computed by the core on the CPU (inputs, quantisation, reference), so the
 * pictures are real runs, and the view works without WebGPU.
 */
import { type MlaShape, type PresetName, presetShape } from '../mla/shape';
import { type KvFormat, type KvLayout, kvLayout } from '../mla/kv-layout';
import { dequantizeKvCache, quantizeKvCache } from '../mla/kv-quant';
import { type MlaInputs, generateInputs } from '../mla/inputs';
import { type AttentionResult, attendedSlots, referenceAttention, rowScores } from '../reference/reference';

export interface LearnCaseOptions {
  readonly preset: PresetName;
  readonly kvFormat: KvFormat;
  readonly hQ: number;
  readonly seqlen: number;
  readonly seed: number;
}

export interface LearnCase {
  readonly shape: MlaShape;
  readonly layout: KvLayout;
  readonly inputs: MlaInputs;
  /** The cache as the kernel sees it: quantised to the format, then decoded. */
  readonly kvSeen: Float32Array;
  /** Cache slots the one query row attends, in key order. */
  readonly slots: readonly number[];
  /** scores[h][t]: scale * q_h . k_t, already scaled. */
  readonly scores: readonly (readonly number[])[];
  /** The reference result on kvSeen (what every kernel is checked against). */
  readonly reference: AttentionResult;
  /** Value c of key t (the first dV dims of the key). */
  value(t: number, c: number): number;
}

export function learnCase(o: LearnCaseOptions): LearnCase {
  const shape = presetShape(o.preset, { hQ: o.hQ, seqlens: [o.seqlen], sQ: 1 });
  const inputs = generateInputs(shape, { seed: o.seed });
  const layout = kvLayout(o.kvFormat, shape, shape.pageBlockSize);
  const kvSeen = dequantizeKvCache(quantizeKvCache(inputs.kvRows, layout), layout);
  const seen = { ...inputs, kvRows: kvSeen };
  const slots = attendedSlots(shape, inputs.cache, undefined, 0, 0);
  const scores = Array.from({ length: shape.hQ }, (_, h) => rowScores(seen, 0, 0, h, slots));
  const reference = referenceAttention(seen);
  const d = shape.dQk;
  return { shape, layout, inputs, kvSeen, slots, scores, reference, value: (t, c) => kvSeen[slots[t] * d + c] };
}

/** softmax of one row of scores, in f64: p_t = exp(s_t - max) / sum. */
export function softmaxRow(scores: readonly number[]): number[] {
  let m = -Infinity;
  for (const s of scores) m = Math.max(m, s);
  const e = scores.map((s) => Math.exp(s - m));
  const sum = e.reduce((a, b) => a + b, 0);
  return e.map((x) => x / sum);
}
