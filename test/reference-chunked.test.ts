/**
 * The chunked reference (a long cache checked a chunk of keys at a time and
 * merged by lse) against the plain one, and a cache generated straight into
 * its format against the f32 cache quantised whole.
 */
import { describe, expect, it } from 'vitest';
import { referenceAttention } from '../src/reference/reference';
import { SAMPLED_HEADS, referenceCost, referenceHeads, referenceOnCache } from '../src/reference/reference-chunked';
import { presetShape, type PresetName } from '../src/mla/shape';
import { generateInputs } from '../src/mla/inputs';
import { type KvFormat, kvLayout } from '../src/mla/kv-layout';
import { dequantizeKvCache, quantizeKvCache } from '../src/mla/kv-quant';
import { compareToReference } from '../src/reference/check';

const CASES: { preset: PresetName; kvFormat: KvFormat; sparse: boolean; sink: boolean }[] = [
  { preset: 'v32', kvFormat: 'fp8', sparse: false, sink: false },
  { preset: 'model1', kvFormat: 'fp8', sparse: true, sink: true },
  { preset: 'v32', kvFormat: 'bf16', sparse: true, sink: false },
  { preset: 'model1', kvFormat: 'f32', sparse: false, sink: true },
];

function maxDiff(a: Float64Array, b: Float64Array): number {
  let d = 0;
  for (let k = 0; k < a.length; k++) d = Math.max(d, a[k] === b[k] ? 0 : Math.abs(a[k] - b[k]));
  return d;
}

describe('referenceOnCache', () => {
  it.each(CASES)('$preset $kvFormat, sparse $sparse, sink $sink: chunks of 7 keys agree with the plain reference to 1e-12', ({ preset, kvFormat, sparse, sink }) => {
    const shape = presetShape(preset, { seqlens: [2, 40, 100], sQ: 2, hQ: 3, pageBlockSize: 16, topk: sparse ? 30 : 0, attentionSink: sink });
    const inputs = generateInputs(shape, { seed: 5, invalidIndexFraction: sparse ? 0.2 : 0, allInvalidRows: sparse ? [1] : [] });
    const layout = kvLayout(kvFormat, shape, 16);
    const bytes = quantizeKvCache(inputs.kvRows, layout);
    const plain = referenceAttention({ ...inputs, kvRows: dequantizeKvCache(bytes, layout) });
    for (const chunkKeys of [7, 1 << 20]) {
      const chunked = referenceOnCache(inputs, bytes, layout, { chunkKeys });
      expect(chunked.heads).toBeUndefined();
      expect(maxDiff(chunked.out, plain.out)).toBeLessThan(1e-12);
      expect(maxDiff(chunked.lse, plain.lse)).toBeLessThan(1e-12);
      expect([...chunked.lse].filter((x) => x === Infinity).length).toBe([...plain.lse].filter((x) => x === Infinity).length);
    }
  });

  it('reports progress by keys, ending at the total', () => {
    const shape = presetShape('model1', { seqlens: [50, 20], hQ: 2, pageBlockSize: 16 });
    const inputs = generateInputs(shape, { seed: 1 });
    const layout = kvLayout('fp8', shape, 16);
    const seen: [number, number][] = [];
    referenceOnCache(inputs, quantizeKvCache(inputs.kvRows, layout), layout, { chunkKeys: 16, onProgress: (d, t) => seen.push([d, t]) });
    expect(seen.at(-1)).toEqual([70, 70]);
    expect(seen.length).toBe(4 + 2); // 50 keys in 4 chunks, 20 in 2
  });

  it('over the budget, computes a sample of heads (first and last among them), and the check compares only those', () => {
    const shape = presetShape('model1', { seqlens: [30], hQ: 16, pageBlockSize: 16 });
    const inputs = generateInputs(shape, { seed: 2 });
    const layout = kvLayout('f32', shape, 16);
    const bytes = quantizeKvCache(inputs.kvRows, layout);
    const cost = referenceCost(shape, [30]);
    expect(cost).toBe(30 * 16 * (512 + 512));
    expect(referenceHeads(shape, cost, cost)).toHaveLength(16);
    const heads = referenceHeads(shape, cost, cost - 1);
    expect(heads).toEqual([0, 5, 10, 15]);
    expect(heads).toHaveLength(SAMPLED_HEADS);
    const sampled = referenceOnCache(inputs, bytes, layout, { budget: cost - 1 });
    expect(sampled.heads).toEqual(heads);
    const full = referenceAttention({ ...inputs, kvRows: dequantizeKvCache(bytes, layout) });
    const dims = shape;
    // A GPU result wrong only in an unsampled head passes; wrong in a sampled head fails.
    const wrongIn = (h: number) => {
      const out = Float32Array.from(full.out);
      out[h * shape.dV + 3] += 1;
      return { out, lse: Float32Array.from(full.lse) };
    };
    expect(compareToReference(wrongIn(1), sampled, dims).pass).toBe(true);
    expect(compareToReference(wrongIn(5), sampled, dims).pass).toBe(false);
    expect(compareToReference(wrongIn(1), full, dims).pass).toBe(false);
  });
});

describe('generateInputs straight into a format', () => {
  it.each(['f32', 'bf16', 'fp8'] as KvFormat[])('%s: the same bytes as the f32 cache quantised whole, and the same q, indices and sink', (kvFormat) => {
    // More slots than one generation chunk (4096), so the chunks' seams are crossed.
    const shape = presetShape('v32', { seqlens: [3000, 2500], hQ: 2, topk: 20, attentionSink: true });
    const layout = kvLayout(kvFormat, shape, 64);
    const whole = generateInputs(shape, { seed: 9 });
    const straight = generateInputs(shape, { seed: 9, cacheLayout: layout });
    expect(straight.kvRows).toHaveLength(0);
    expect(straight.cacheLayout).toBe(layout);
    expect(Buffer.from(straight.cacheBytes!).equals(Buffer.from(quantizeKvCache(whole.kvRows, layout)))).toBe(true);
    expect(straight.q).toEqual(whole.q);
    expect(straight.indices).toEqual(whole.indices);
    expect(straight.sink).toEqual(whole.sink);
  });
});
