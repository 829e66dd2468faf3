/**
 * The layer on the GPU: its matrix multiply against f64 at awkward sizes,
 * then whole runs of the small configuration, every stage checked against
 * the f64 reference (the front's cache rows and queries, MHA mode, the
 * ladder's call, MQA mode, wo), both ways against each other, coupled RoPE
 * breaking absorption, sparse keys and your own tensors.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GpuContext } from '../src/gpu/device';
import { withErrorScopes } from '../src/gpu/error-scopes';
import { encodePasses } from '../src/kernels/kernel-plan';
import { LAYER_CONFIGS } from '../src/layer/layer-config';
import { bufferOwner } from '../src/gpu/buffer-owner';
import { gemmPass } from '../src/layer/layer-kernels';
import { firstTokens, generateLayer } from '../src/layer/layer-inputs';
import { type LayerReport, runLayer } from '../src/layer/layer-run';
import { AGREEMENT_TOLERANCE, layerPasses } from '../src/layer/layer-report';
import { SeededRandom } from '../src/random/seeded-random';
import { testGpu, testMatrix } from './support/gpu';

let ctx: GpuContext | undefined;
beforeAll(async () => { ctx = await testGpu(); });

const small = generateLayer(LAYER_CONFIGS.small, 160, 1, 5);

function expectAllPass(r: LayerReport): void {
  expect(r.front?.cache.pass).toBe(true);
  expect(r.front?.query.pass).toBe(true);
  expect(r.mha.check.pass).toBe(true);
  expect(r.mqa.ladder.pass).toBe(true);
  expect(r.mqa.check.pass).toBe(true);
  expect(r.mha.yCheck?.pass).toBe(true);
  expect(r.mqa.yCheck?.pass).toBe(true);
  expect(r.agreement).toBeLessThanOrEqual(AGREEMENT_TOLERANCE);
  expect(AGREEMENT_TOLERANCE).toBe(1e-5);
  expect(layerPasses(r)).toBe(true);
}

describe('layer_gemm.wgsl', () => {
  const cases = [
    { m: 13, n: 21, k: 36, batches: 3, bKN: false, accumulate: true },
    { m: 1, n: 16, k: 8, batches: 2, bKN: true, accumulate: false },
    { m: 9, n: 24, k: 12, batches: 1, bKN: true, accumulate: true },
  ];
  for (const t of cases) {
    it(`C ${t.accumulate ? '+' : ''}= A op(B): ${t.batches} x [${t.m} x ${t.k}] [${t.bKN ? 'k x n' : 'n x k'}] (${t.n} columns)`, async (c) => {
      if (!ctx) return c.skip();
      const rng = new SeededRandom(t.m * 100 + t.n);
      const fill = (n: number) => Float32Array.from({ length: n }, () => rng.int(-8, 8) / 8);
      // Strides wider than the rows, offsets: the shader must use them, not assume packing.
      const aRow = t.k + 4, bRow = (t.bKN ? t.n : t.k) + 8, cRow = t.n + 3;
      const aBatch = t.m * aRow + 4, bBatch = (t.bKN ? t.k : t.n) * bRow, cBatch = t.m * cRow + 1;
      const a = fill(4 + t.batches * aBatch);
      const b = fill(8 + t.batches * bBatch);
      const c0 = fill(2 + t.batches * cBatch);
      const bufs = bufferOwner(ctx);
      try {
        const cBuf = bufs.storage('C', 4 * c0.length, c0);
        const pass = await gemmPass(bufs, {
          label: 'test gemm', m: t.m, n: t.n, k: t.k, batches: t.batches, bKN: t.bKN, accumulate: t.accumulate,
          a: { buffer: bufs.storage('A', 4 * a.length, a), offset: 4, row: aRow, batch: aBatch },
          b: { buffer: bufs.storage('B', 4 * b.length, b), offset: 8, row: bRow, batch: bBatch },
          c: { buffer: cBuf, offset: 2, row: cRow, batch: cBatch },
        });
        await withErrorScopes(ctx.device, () => {
          const enc = ctx!.device.createCommandEncoder();
          encodePasses([pass], enc);
          ctx!.device.queue.submit([enc.finish()]);
        }, (m) => new Error(m));
        const got = await bufs.read(cBuf, 4 * c0.length);
        const want = Float64Array.from(c0);
        for (let z = 0; z < t.batches; z++) {
          for (let i = 0; i < t.m; i++) {
            for (let j = 0; j < t.n; j++) {
              let s = t.accumulate ? c0[2 + z * cBatch + i * cRow + j] : 0;
              for (let kk = 0; kk < t.k; kk++) {
                const bv = t.bKN ? b[8 + z * bBatch + kk * bRow + j] : b[8 + z * bBatch + j * bRow + kk];
                s += a[4 + z * aBatch + i * aRow + kk] * bv;
              }
              want[2 + z * cBatch + i * cRow + j] = s;
            }
          }
        }
        // Multiples of 1/8 with short sums: every product and sum is exact in f32, so the match is exact,
        // and every value outside C's rows and columns is left as it was.
        expect([...got]).toEqual([...want].map((x) => Math.fround(x)));
      } finally {
        bufs.destroy();
      }
    });
  }
});

describe('one MLA layer, both ways', () => {
  afterAll(() => undefined);

  it('decode (s_q 1) over an f32 cache: every stage passes, the ways agree to 1e-5', async (c) => {
    if (!ctx) return c.skip();
    expectAllPass(await runLayer(ctx, firstTokens(small, 70, 1), { kernel: 'flash', kvFormat: 'f32' }));
  });

  it('a causal prefill chunk over an FP8 cache, sparse keys, any ladder version', async (c) => {
    if (!ctx) return c.skip();
    const kernels = testMatrix(ctx) === 'full' ? (['v1', 'v4'] as const) : (['v4'] as const);
    for (const kernel of kernels) {
      const r = await runLayer(ctx, firstTokens(small, 150, 6), { kernel, kvFormat: 'fp8', topk: 40, seed: 2 });
      expectAllPass(r);
      expect(r.topk).toBe(40);
      // FP8's own error, against the rows before rounding, is shown beside: far above f32 rounding.
      expect(r.mha.formatError!.maxRelErr).toBeGreaterThan(1e-3);
      expect(r.mha.formatError!.maxRelErr).toBeLessThan(0.2);
    }
  });

  // The token batch itself runs on both adapters in test/prefill.test.ts (the dense prompt); here the layer around it.
  it('a prefill chunk past 128 query tokens: MQA mode runs them as one-token requests, causal or sparse', async (c) => {
    if (!ctx || testMatrix(ctx) !== 'full') return c.skip();
    const chunk = firstTokens(generateLayer(LAYER_CONFIGS.small, 160, 132, 8), 160, 132);
    const dense = await runLayer(ctx, chunk, { kernel: 'flash', kvFormat: 'bf16' });
    expectAllPass(dense);
    expect(dense.sQ).toBe(132);
    expectAllPass(await runLayer(ctx, chunk, { kernel: 'v2', kvFormat: 'f32', topk: 24, seed: 1 }));
  });

  it('coupled RoPE: MHA mode still passes, absorbed MQA mode does not, and matches the absorbed formula', async (c) => {
    if (!ctx) return c.skip();
    const r = await runLayer(ctx, firstTokens(small, 90, 3), { kernel: 'flash', kvFormat: 'bf16', rope: 'coupled' });
    expect(r.mha.check.pass).toBe(true);
    expect(r.mqa.ladder.pass).toBe(true);
    expect(r.mqa.check.pass).toBe(false);
    expect(r.mqa.check.maxRelErr).toBeGreaterThan(0.05);
    expect(r.mqa.absorbedFormula?.pass).toBe(true);
    expect(r.mha.yCheck?.pass).toBe(true);
    expect(r.mqa.yCheck?.pass).toBe(false);
    expect(layerPasses(r)).toBe(true); // every check that should pass does
  });

  it('runs your own core tensors (no front, no wo)', async (c) => {
    if (!ctx || testMatrix(ctx) !== 'full') return c.skip();
    const seeded = await runLayer(ctx, firstTokens(small, 40, 2), { kernel: 'flash', kvFormat: 'f32' });
    expect(seeded.front).toBeDefined();
    const rng = new SeededRandom(4);
    const { qkNope: dn, qkRope: dr, vHead: dv, kvLoraRank: dc } = LAYER_CONFIGS.small;
    const heads = 3;
    const fill = (n: number, s = 1) => Float32Array.from({ length: n }, () => s * rng.normal());
    const core = {
      dims: { heads, qkNope: dn, qkRope: dr, vHead: dv, kvLoraRank: dc }, sQ: 2, keys: 33,
      q: fill(2 * heads * (dn + dr)), latentRows: fill(33 * (dc + dr)),
      wUK: fill(heads * dn * dc, dc ** -0.5), wUV: fill(heads * dv * dc, dc ** -0.5),
      softmaxScale: 0.1, rope: 'decoupled' as const, yarn: LAYER_CONFIGS.small.yarn,
    };
    const r = await runLayer(ctx, { kind: 'tensors', core }, { kernel: 'flash', kvFormat: 'f32' });
    expect(r.front).toBeUndefined();
    expect(r.mha.y).toBeUndefined();
    expect(r.mha.check.pass).toBe(true);
    expect(r.mqa.check.pass).toBe(true);
    expect(r.agreement).toBeLessThanOrEqual(1e-5);
  });
});
