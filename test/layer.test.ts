/**
 * The layer's CPU side: its configuration's numbers, RoPE, the f64 reference's
 * two formulas (equal with decoupled RoPE, not with coupled), the cost
 * formulas against hand-computed values, and own tensors' shapes refused.
 */
import { describe, expect, it } from 'vitest';
import { LAYER_CONFIGS, cacheWidth, layerConfig, layerSoftmaxScale, qkHead, yarnMscale } from '../src/layer/layer-config';
import { ropeFrequencies, ropeTable, rotate } from '../src/layer/rope';
import { type CoreTensors, referenceAbsorbed, referenceNaive, rotateCachedLatent } from '../src/layer/layer-reference';
import { absorbedReferenceCost, headsDifference, layerReference } from '../src/layer/layer-check';
import { spread } from '../src/mla/spread';
import { attendedPairs, perTokenCost, stepCost } from '../src/layer/layer-costs';
import { coreFromArrays } from '../src/layer/layer-inputs';
import { chooseKeys } from '../src/layer/layer-run';
import { generateWeights, transposePerHead, wUK, wUV } from '../src/layer/layer-weights';
import { SeededRandom } from '../src/random/seeded-random';
import type { NpyArray } from '../src/run/npy';

const v3 = LAYER_CONFIGS.v3;

/** A small core with V3's per-head dims and few heads, normal values. */
function smallCore(heads: number, keys: number, sQ: number, seed = 3): CoreTensors {
  const rng = new SeededRandom(seed);
  const fill = (n: number, s = 1) => Float32Array.from({ length: n }, () => s * rng.normal());
  const { qkNope: dn, qkRope: dr, vHead: dv, kvLoraRank: dc } = v3;
  return {
    dims: { heads, qkNope: dn, qkRope: dr, vHead: dv, kvLoraRank: dc }, sQ, keys,
    q: fill(sQ * heads * (dn + dr)), latentRows: fill(keys * (dc + dr)),
    wUK: fill(heads * dn * dc, dc ** -0.5), wUV: fill(heads * dv * dc, dc ** -0.5),
    softmaxScale: layerSoftmaxScale(v3), rope: 'decoupled', yarn: v3.yarn,
  };
}

describe('the layer configuration', () => {
  it('has DeepSeek-V3\'s numbers and its softmax scale 0.135234', () => {
    expect([v3.dim, v3.heads, v3.qLoraRank, v3.kvLoraRank, v3.qkNope, v3.qkRope, v3.vHead]).toEqual([7168, 128, 1536, 512, 128, 64, 128]);
    expect(qkHead(v3)).toBe(192);
    expect(cacheWidth(v3)).toBe(576);
    expect(yarnMscale(v3.yarn)).toBeCloseTo(0.1 * Math.log(40) + 1, 12);
    // 192^-0.5 * (0.1 ln 40 + 1)^2, by hand: 0.0721688 * 1.3688879^2
    expect(layerSoftmaxScale(v3)).toBeCloseTo(0.135234, 6);
    expect(LAYER_CONFIGS.small.qkNope).toBe(v3.qkNope);
  });

  it('refuses MODEL1, saying its up-projections are not published', () => {
    expect(() => layerConfig('model1')).toThrow(/no published up-projections/);
    expect(() => layerConfig('v4')).toThrow(/config must be one of v3, small/);
  });

  it('keeps the weights in the model\'s shapes and splits wkv_b per head', () => {
    const c = LAYER_CONFIGS.small;
    const w = generateWeights(c, 1);
    expect(w.wq_b.length).toBe(c.heads * 192 * c.qLoraRank);
    expect(w.wkv_a.length).toBe(576 * c.dim);
    const uk = wUK(c, w.wkv_b);
    const uv = wUV(c, w.wkv_b);
    // head 3, row 5 of W_UK is row 3 * 256 + 5 of wkv_b; of W_UV, row 3 * 256 + 128 + 5
    expect(uk.subarray((3 * 128 + 5) * 512, (3 * 128 + 6) * 512)).toEqual(w.wkv_b.subarray((3 * 256 + 5) * 512, (3 * 256 + 6) * 512));
    expect(uv.subarray((3 * 128 + 5) * 512, (3 * 128 + 6) * 512)).toEqual(w.wkv_b.subarray((3 * 256 + 133) * 512, (3 * 256 + 134) * 512));
    const t = transposePerHead(Float32Array.of(1, 2, 3, 4, 5, 6), 1, 2, 3);
    expect([...t]).toEqual([1, 4, 2, 5, 3, 6]);
  });
});

describe('RoPE', () => {
  it('uses theta^(-2j/d) without YaRN and divides the slow dims by the factor with it', () => {
    const plain = ropeFrequencies(64, { ...v3.yarn, maxSeqLen: 4096 });
    expect(plain[1]).toBeCloseTo(10000 ** (-2 / 64), 15);
    const yarn = ropeFrequencies(64, v3.yarn);
    expect(yarn[0]).toBe(plain[0]); // fast dims untouched
    expect(yarn[31]).toBeCloseTo(plain[31] / 40, 15); // slow dims scaled by 1 / factor
  });

  it('rotates pairs, keeping their length, by pos * f', () => {
    const table = ropeTable(4, v3.yarn, 10);
    const v = Float64Array.of(1, 0, 0.6, 0.8);
    rotate(v, 0, 4, table, 7);
    const f = ropeFrequencies(4, v3.yarn);
    expect(v[0]).toBeCloseTo(Math.cos(7 * f[0]), 14);
    expect(v[1]).toBeCloseTo(Math.sin(7 * f[0]), 14);
    expect(v[2] ** 2 + v[3] ** 2).toBeCloseTo(1, 14);
  });
});

describe('the f64 layer reference', () => {
  it('gives W_UV c for a single key (the softmax of one score is 1)', () => {
    const core = smallCore(2, 1, 1);
    const o = referenceNaive(core).o;
    for (const h of [0, 1]) {
      for (const r of [0, 77, 127]) {
        let v = 0;
        for (let c = 0; c < 512; c++) v += core.wUV[(h * 128 + r) * 512 + c] * core.latentRows[c];
        expect(o[h * 128 + r]).toBeCloseTo(v, 12);
      }
    }
  });

  it('computes the same heads both ways with decoupled RoPE (absorption is exact)', () => {
    const core = smallCore(3, 40, 4);
    const naive = referenceNaive(core);
    const absorbed = referenceAbsorbed(core);
    expect(headsDifference(absorbed.o, naive.o, 128, 3, [0, 1, 2])).toBeLessThan(1e-12);
  });

  it('stops agreeing when RoPE rotates the whole key before caching (coupled)', () => {
    const coupled = { ...smallCore(3, 40, 4), rope: 'coupled' as const };
    const naive = referenceNaive(coupled);
    const absorbed = referenceAbsorbed({ ...coupled, latentRows: rotateCachedLatent(coupled) });
    expect(headsDifference(absorbed.o, naive.o, 128, 3, [0, 1, 2])).toBeGreaterThan(0.05);
    // At position 0 the rotation is the identity: a one-token cache and one query still agree.
    const first = { ...smallCore(2, 1, 1), rope: 'coupled' as const };
    expect(headsDifference(referenceAbsorbed({ ...first, latentRows: rotateCachedLatent(first) }).o, referenceNaive(first).o, 128, 2, [0, 1])).toBeLessThan(1e-12);
  });

  it('attends only the chosen keys when sparse, and the two formulas still agree', () => {
    const core = smallCore(2, 50, 3);
    const keySets = chooseKeys(50, 3, 7, 9);
    expect(keySets.map((s) => s.length)).toEqual([7, 7, 7]);
    keySets.forEach((s, i) => s.forEach((t) => expect(t).toBeLessThanOrEqual(50 - 3 + i)));
    const sparse = { ...core, keySets };
    expect(headsDifference(referenceNaive(sparse).o, referenceNaive(core).o, 128, 2, [0, 1])).toBeGreaterThan(1e-3);
    expect(headsDifference(referenceAbsorbed(sparse).o, referenceNaive(sparse).o, 128, 2, [0, 1])).toBeLessThan(1e-12);
    expect(chooseKeys(5, 2, 10, 1)).toEqual([[0, 1, 2, 3], [0, 1, 2, 3, 4]]); // fewer visible than topk: all of them
  });

  it('samples heads past its budget and uses the absorbed formula for all, checked on the sample', () => {
    const core = smallCore(6, 30, 1);
    const full = layerReference(core);
    expect(full.formula).toBe('naive');
    expect(full.heads).toEqual([0, 1, 2, 3, 4, 5]);
    const budget = absorbedReferenceCost(core, 6) * 2 + 1;
    const cheap = layerReference(core, budget);
    expect(cheap.formula).toBe('absorbed, checked against naive');
    expect(cheap.heads).toHaveLength(6);
    expect(cheap.formulasAgree).toBeLessThan(1e-12);
    expect(headsDifference(cheap.o, full.o, 128, 6, [0, 1, 2, 3, 4, 5])).toBeLessThan(1e-12);
    const coupled = layerReference({ ...core, rope: 'coupled' }, budget);
    expect(coupled.formula).toBe('naive');
    expect(coupled.heads.length).toBeLessThan(6);
    expect(spread(128, 4)).toEqual([0, 42, 85, 127]);
  });
});

describe('the cost formulas', () => {
  const d = { heads: 128, qkNope: 128, qkRope: 64, vHead: 128, kvLoraRank: 512 };

  it('match the hand values per context token at 128 heads', () => {
    // MHA over materialised keys and values: 2 h (192 + 128) = 640 h FLOPs, h (192 + 128) bf16 values = 640 h bytes
    expect(perTokenCost('mha-materialised', d, 2, 1152)).toEqual({ flops: 640 * 128, cacheBytes: 640 * 128 });
    // absorbed: 2 h (576 + 512) = 2176 h FLOPs, one 576-wide row: 1152 B in bf16, 656 in FP8
    expect(perTokenCost('absorbed', d, 2, 1152)).toEqual({ flops: 2176 * 128, cacheBytes: 1152 });
    expect(perTokenCost('absorbed', d, 2, 656).cacheBytes).toBe(656);
    // recomputed: + 2 h (128 + 128) 512 = 262,144 h
    expect(perTokenCost('mha-recomputed', d, 2, 1152).flops).toBe((640 + 262144) * 128);
  });

  it('count a step: decode, a causal chunk, sparse', () => {
    expect(attendedPairs(10, 3)).toBe(8 + 9 + 10);
    expect(attendedPairs(10, 3, 9)).toBe(8 + 9 + 9);
    const decode = stepCost('absorbed', d, 4096, 1, 2, 656);
    // W_UK^T q and W_UV out: 2 * 2 h 128 512 = 33,554,432; attention 2176 h 4096 = 1,140,850,688
    expect(decode.flops).toBe(33554432 + 1140850688);
    expect(decode.cacheBytes).toBe(4096 * 656);
    expect(decode.weightBytes).toBe(128 * 256 * 512 * 2);
    const mha = stepCost('mha-recomputed', d, 4096, 1, 2, 656);
    expect(mha.flops).toBe(262144 * 128 * 4096 + 640 * 128 * 4096);
    const sparse = stepCost('absorbed', d, 100000, 2, 2, 656, 2048);
    expect(sparse.cacheBytes).toBe(4096 * 656);
    expect(sparse.flops).toBe(2 * 33554432 + 2176 * 128 * 4096);
  });
});

describe('your own core tensors', () => {
  const f32 = (shape: number[]): NpyArray => ({ dtype: 'float32', shape, data: new Float32Array(shape.reduce((a, b) => a * b, 1)) });
  const names = { wUK: 'uk.npy', wUV: 'uv.npy', qNope: 'qn.npy', qPe: 'qp.npy', latent: 'lat.npy', kPe: 'kpe.npy' };
  const good = { wUK: f32([2, 128, 512]), wUV: f32([2, 128, 512]), qNope: f32([3, 2, 128]), qPe: f32([3, 2, 64]), latent: f32([10, 512]), kPe: f32([10, 64]), names };

  it('are put together as [q_nope ; q_pe] and [latent ; k_pe]', () => {
    const a = { ...good, qPe: f32([3, 2, 64]), latent: f32([10, 512]) };
    (a.qPe.data as Float32Array)[64 + 5] = 7; // token 0, head 1, rope dim 5
    (a.latent.data as Float32Array)[512 * 4 + 9] = 3;
    const core = coreFromArrays(a);
    expect(core.q[192 + 128 + 5]).toBe(7);
    expect(core.latentRows[576 * 4 + 9]).toBe(3);
    expect([core.keys, core.sQ, core.dims.heads]).toEqual([10, 3, 2]);
  });

  it('are refused when a shape is wrong, naming the file and the dims', () => {
    expect(() => coreFromArrays({ ...good, wUK: f32([2, 192, 512]) })).toThrow('uk.npy: expected float32 [?, 128, 512] (h, 128, 512), found float32 [2, 192, 512]');
    expect(() => coreFromArrays({ ...good, wUV: f32([3, 128, 512]) })).toThrow('uv.npy: expected float32 [2, 128, 512]');
    expect(() => coreFromArrays({ ...good, qPe: f32([3, 2, 128]) })).toThrow('qp.npy: expected float32 [3, 2, 64] (s_q, h, 64)');
    expect(() => coreFromArrays({ ...good, kPe: f32([9, 64]) })).toThrow('kpe.npy: expected float32 [10, 64] (L, 64), found float32 [9, 64]');
    expect(() => coreFromArrays({ ...good, latent: { dtype: 'int32', shape: [10, 512], data: new Int32Array(5120) } })).toThrow('lat.npy: expected float32 [?, 512]');
    expect(() => coreFromArrays({ ...good, qNope: f32([11, 2, 128]), qPe: f32([11, 2, 64]) })).toThrow(/is more than/);
    const nan = f32([10, 64]);
    (nan.data as Float32Array)[70] = Number.NaN;
    expect(() => coreFromArrays({ ...good, kPe: nan })).toThrow('kpe.npy: value 70 is NaN: every value must be finite');
  });

  it('refuse a softmax scale that is not a number > 0, and scores past f32, naming how the scale was given', () => {
    const ones = (shape: number[]): NpyArray => ({ ...f32(shape), data: new Float32Array(shape.reduce((a, b) => a * b, 1)).fill(1) });
    const big = { ...good, wUK: ones([2, 128, 512]), qNope: ones([3, 2, 128]), latent: ones([10, 512]), qPe: ones([3, 2, 64]), kPe: ones([10, 64]) };
    expect(() => coreFromArrays(good, { value: -1, name: '--softmax-scale -1' })).toThrow("--softmax-scale -1 is not allowed: the softmax scale must be a finite number > 0 (unset: the model's, 0.135234)");
    expect(() => coreFromArrays(good, { value: 0, name: 'scale 0' })).toThrow('scale 0 is not allowed');
    // |q_nope| |W_UK[h]|_F |c| + |q_pe| |k_pe| = sqrt(128) * 256 * sqrt(512) + 8 * 8 = 65600.
    expect(() => coreFromArrays(big, { value: 1e38, name: '--softmax-scale 1e38' })).toThrow(/^qn\.npy, uk\.npy, lat\.npy, qp\.npy and kpe\.npy with --softmax-scale 1e38: scores can reach 6\.56e\+42 .*beyond what f32 carries/);
    // The line is at 1e37, as run's: 6.56e36 runs, 1.31e37 does not.
    expect(coreFromArrays(big, { value: 1e32, name: '--softmax-scale 1e32' }).softmaxScale).toBe(1e32);
    expect(() => coreFromArrays(big, { value: 2e32, name: '--softmax-scale 2e32' })).toThrow('scores can reach 1.31e+37');
  });
});
