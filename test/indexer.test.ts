/**
 * The indexer's host side: the Hadamard transform, the FP8 quantiser (its
 * scale rule, codes from the project's codec), the paged cache's layout, the
 * f64 reference on a case small enough to compute by hand, and your own
 * tensors' shapes refused naming the file.
 */
import { describe, expect, it } from 'vitest';
import { hadamard } from '../src/indexer/hadamard';
import { decodeCodes, quantizeBlock } from '../src/indexer/indexer-quant';
import { generateIndexerInputs, indexerInputsFromArrays } from '../src/indexer/indexer-inputs';
import { cachedKey, indexerReference } from '../src/indexer/indexer-reference';
import { indexerLearnCase } from '../src/indexer/indexer-learn';
import { INDEXER, INDEXER_FLOPS_PER_TOKEN, indexerCacheLayout, indexerOffsets } from '../src/mla/indexer-shape';
import { decodeE4m3, encodeE4m3 } from '../src/numerics/fp8';
import type { NpyArray } from '../src/run/npy';
import { countIndices, describeIndexCounts } from '../src/mla/index-counts';

describe('the Hadamard transform', () => {
  it('is orthogonal and its own inverse, and spreads a spike over every dim', () => {
    const v = new Float64Array(128);
    v[5] = 3;
    hadamard(v, 0, 128);
    expect(Math.hypot(...v)).toBeCloseTo(3, 12);
    expect(v.every((x) => Math.abs(Math.abs(x) - 3 / Math.sqrt(128)) < 1e-12)).toBe(true);
    hadamard(v, 0, 128);
    expect(v[5]).toBeCloseTo(3, 12);
    expect(Math.abs(v[6])).toBeLessThan(1e-12);
    expect(() => hadamard(new Float64Array(12), 0, 12)).toThrow('power-of-two');
  });
});

describe('the indexer\'s FP8 quantiser', () => {
  it('scales by amax / 448 (ue8m0: up to a power of two) and codes with the project\'s E4M3', () => {
    const v = Float64Array.from({ length: 128 }, (_, k) => (k - 64) / 10);
    const codes = new Uint8Array(128);
    const plain = quantizeBlock(v, 0, 128, codes, 0, 'f32');
    expect(plain).toBe(Math.fround(6.4 / 448));
    expect(codes[0]).toBe(encodeE4m3(Math.fround(-6.4) / plain));
    const pow2 = quantizeBlock(v, 0, 128, codes, 0, 'ue8m0');
    expect(Number.isInteger(Math.log2(pow2))).toBe(true);
    expect(pow2).toBeGreaterThanOrEqual(6.4 / 448);
    expect(pow2 / 2).toBeLessThan(6.4 / 448);
    expect(decodeCodes(codes, 0, 2)[0]).toBe(decodeE4m3(codes[0]));
    expect(quantizeBlock(new Float64Array(128), 0, 128, codes, 0, 'f32')).toBe(Math.fround(1e-4 / 448)); // amax clamped to 1e-4
  });
});

describe('the indexer cache and reference', () => {
  it('lays a page out as all its tokens\' keys, then all their scales: 132 B a token', () => {
    const layout = indexerCacheLayout(64);
    expect(layout.pageStride).toBe(64 * 132);
    expect(indexerOffsets(layout, 64 + 3)).toEqual({ key: 64 * 132 + 3 * 128, scale: 64 * 132 + 64 * 128 + 3 * 4 });
    expect(INDEXER_FLOPS_PER_TOKEN).toBe(16384);
    expect(() => indexerCacheLayout(6)).toThrow('multiple of 4');
  });

  it('computes k_scale * sum_j w q_scale ReLU(q . k), -inf past each query\'s position', () => {
    const inp = generateIndexerInputs(70, 3, { seed: 2, pageBlockSize: 16 });
    const ref = indexerReference(inp);
    // token 10, query 1, by hand from the codes
    const { key, scale } = cachedKey(inp, 10);
    let sum = 0;
    for (let j = 0; j < INDEXER.heads; j++) {
      let dot = 0;
      for (let d = 0; d < 128; d++) dot += decodeE4m3(inp.qCodes[(1 * 64 + j) * 128 + d]) * key[d];
      sum += inp.weights[64 + j] * inp.qScales[64 + j] * Math.max(0, dot);
    }
    expect(ref[1 * 70 + 10]).toBeCloseTo(scale * sum, 10);
    expect(ref[0 * 70 + 68]).toBe(-Infinity); // query 0 sits at position 67
    expect(ref[2 * 70 + 69]).toBeGreaterThan(-Infinity);
  });

  it('plants keys that every query token scores high', () => {
    const inp = generateIndexerInputs(500, 2, { seed: 3, planted: [7, 200] });
    const ref = indexerReference(inp);
    for (let i = 0; i < 2; i++) {
      const row = Array.from(ref.subarray(i * 500, (i + 1) * 500)).filter(Number.isFinite).sort((a, b) => b - a);
      expect(ref[i * 500 + 7]).toBeGreaterThanOrEqual(row[1]);
      expect(ref[i * 500 + 200]).toBeGreaterThanOrEqual(row[1]);
    }
    expect(() => generateIndexerInputs(100, 2, { planted: [99] })).toThrow('planted token 99 is not allowed');
  });
});

describe('your own indexer tensors', () => {
  const f32 = (shape: number[]): NpyArray => ({ dtype: 'float32', shape, data: new Float32Array(shape.reduce((a, b) => a * b, 1)).map((_, k) => Math.sin(k)) });
  const names = { q: 'q.npy', k: 'k.npy', weights: 'w.npy' };

  it('are transformed and quantised as generated ones are', () => {
    const inp = indexerInputsFromArrays({ q: f32([2, 64, 128]), k: f32([40, 128]), weights: f32([2, 64]), names });
    expect([inp.keys, inp.sQ]).toEqual([40, 2]);
    expect(indexerReference(inp).filter(Number.isFinite)).toHaveLength(39 + 40);
  });

  it('are refused when a shape or a value is wrong, naming the file', () => {
    expect(() => indexerInputsFromArrays({ q: f32([2, 32, 128]), k: f32([40, 128]), weights: f32([2, 64]), names })).toThrow('q.npy: expected float32 [?, 64, 128] (s_q, 64, 128), found float32 [2, 32, 128]');
    expect(() => indexerInputsFromArrays({ q: f32([2, 64, 128]), k: f32([40, 64]), weights: f32([2, 64]), names })).toThrow('k.npy: expected float32 [?, 128] (L, 128), found float32 [40, 64]');
    expect(() => indexerInputsFromArrays({ q: f32([2, 64, 128]), k: f32([40, 128]), weights: f32([3, 64]), names })).toThrow('w.npy: expected float32 [2, 64] (s_q, 64), found float32 [3, 64]');
    expect(() => indexerInputsFromArrays({ q: f32([5, 64, 128]), k: f32([3, 128]), weights: f32([5, 64]), names })).toThrow('k.npy (L 3) and q.npy (s_q 5): s_q = 5 is not allowed');
    const nan = f32([40, 128]);
    (nan.data as Float32Array)[300] = Number.NaN;
    expect(() => indexerInputsFromArrays({ q: f32([2, 64, 128]), k: nan, weights: f32([2, 64]), names })).toThrow('k.npy: value 300 is NaN: every value must be finite');
  });
});

describe('the Learn view\'s sparse case', () => {
  it('keeps the planted tokens in every query token\'s top-k, and only visible tokens', () => {
    const c = indexerLearnCase();
    expect(c.chosen.map((r) => r.length)).toEqual([12, 12, 12, 12]);
    expect(c.found).toBe(c.of);
    c.chosen.forEach((row, i) => row.forEach((t) => expect(t).toBeLessThanOrEqual(c.keys - c.sQ + i)));
  });
});

describe('a sparse index list, counted as the kernels read it', () => {
  it('-1 is padding, other indices outside [0, slots) are out of range and skipped, the rest attended', () => {
    const c = countIndices(Int32Array.of(-1, 0, 5, 9, -7, 10, 3, -1), 10);
    expect(c).toEqual({ total: 8, attended: 4, padding: 2, outOfRange: 2, numSlots: 10 });
    expect(describeIndexCounts(c)).toBe('4 of 8 attended; 2 padding (-1); 2 out of range [0, 10) skipped, as FlashMLA skips them');
  });
});
