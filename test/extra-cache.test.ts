/**
 * MODEL1's second KV source in the sparse decode: the main indices cut by
 * topk_length, the extra cache with its own indices and extra_topk_length,
 * one softmax over both, in every version of the ladder, against a
 * reference that reads each cache through its own indices.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { broadBlocks } from './support/broad-blocks';
import type { GpuContext } from '../src/gpu/device';
import { combineSources, type ExtraSource } from '../src/mla/extra-cache';
import { generateInputs } from '../src/mla/inputs';
import { kvLayout } from '../src/mla/kv-layout';
import { dequantizeKvCache, quantizeKvCache } from '../src/mla/kv-quant';
import { presetShape } from '../src/mla/shape';
import { KERNEL_VERSIONS } from '../src/kernels/versions';
import { compareToReference } from '../src/reference/check';
import { referenceTwoSources } from '../src/reference/reference-two-sources';
import { runAttention } from '../src/run/run-attention';
import { testGpu, testMatrix } from './support/gpu';

let ctx: GpuContext | undefined;
beforeAll(async () => { ctx = await testGpu(); });

// FlashMLA's MODEL1 test: a main top-k of 128 and an extra one of 512; smaller here, the same parts.
const shape = presetShape('model1', { seqlens: [300, 200], hQ: 4, sQ: 2, topk: 40 });
const main = generateInputs(shape, { seed: 6, invalidIndexFraction: 0.05 });
const extraInputs = generateInputs(presetShape('model1', { seqlens: [150, 90], hQ: 4, sQ: 2, topk: 24 }), { seed: 7, invalidIndexFraction: 0.05 });
const extra: ExtraSource = {
  kvRows: extraInputs.kvRows, numBlocks: extraInputs.cache.numBlocks, indices: extraInputs.indices!, topk: 24,
  topkLength: Int32Array.of(24, 9),
};
const topkLength = Int32Array.of(40, 17);
const combined = combineSources(main, extra, topkLength);

function dequantised(rows: Float32Array, format: 'f32' | 'fp8'): Float32Array {
  const layout = kvLayout(format, shape, shape.pageBlockSize);
  return format === 'f32' ? rows : dequantizeKvCache(quantizeKvCache(rows, layout), layout);
}

describe('the extra KV source (MODEL1)', () => {
  it('combines the indices: lengths cut them, the extra ones are shifted past the main cache, invalid ones counted', () => {
    const { inputs, skipped } = combined;
    expect(inputs.shape.topk).toBe(64);
    const mainSlots = main.cache.numBlocks * 64;
    const row = (b: number, i: number) => inputs.indices!.subarray((b * 2 + i) * 64, (b * 2 + i + 1) * 64);
    expect([...row(1, 0).subarray(17, 40)].every((v) => v === -1)).toBe(true); // past topk_length[1]
    expect([...row(1, 1).subarray(40 + 9)].every((v) => v === -1)).toBe(true); // past extra_topk_length[1]
    expect([...row(0, 0).subarray(40)].filter((v) => v >= 0).every((v) => v >= mainSlots)).toBe(true);
    expect(skipped).toBeGreaterThan(0);
    expect(() => combineSources(main, extra, Int32Array.of(41, 0))).toThrow('topk_length[0] = 41 is not allowed: it must be from 0 to topk = 40');
  });

  for (const version of KERNEL_VERSIONS) {
    for (const format of ['f32', 'fp8'] as const) {
      it(`${version.id} ${version.name}, ${format}: one softmax over both caches, as the reference reads them apart`, async (c) => {
        if (!ctx) return c.skip();
        if (version.needs && !ctx.features.includes(version.needs)) return c.skip();
        // SwiftShader's cover: v4, and v5, which only SwiftShader (subgroups) runs; llvmpipe's full matrix runs the rest.
        if (testMatrix(ctx) === 'cover' && !(format === 'fp8' && (version.name === 'tiled' || version.name === 'subgroups'))) return c.skip();
        const run = await runAttention(ctx, combined.inputs, { kernel: version.name, ...broadBlocks(version.name), kvFormat: format });
        expectBothSources(run.output, format);
      });
    }
  }

  // v4's tile decoded into a storage buffer: the rows and scales listed as for keys read from the cache,
  // over both caches' slots, with two splits (each workgroup its own part of the buffer).
  it('v4 tiled, fp8, keys decoded into a storage buffer (--keys tile-storage), two splits', async (c) => {
    if (!ctx) return c.skip();
    const run = await runAttention(ctx, combined.inputs, { kernel: 'tiled', kvFormat: 'fp8', keys: 'tile-storage', splits: 2 });
    expect(run.plan).toMatchObject({ keys: 'tile-storage', splits: 2 });
    expectBothSources(run.output, 'fp8');
  });

  // v4's keys read from both caches decoded into one texture (the extra cache's pages after the main cache's).
  it('v4 tiled, fp8, keys from the cache decoded into a texture (--keys texture)', async (c) => {
    if (!ctx) return c.skip();
    const run = await runAttention(ctx, combined.inputs, { kernel: 'tiled', kvFormat: 'fp8', keys: 'texture', splits: 2 });
    expect(run.plan).toMatchObject({ keys: 'texture', splits: 2 });
    expectBothSources(run.output, 'fp8');
  });

  // v4's queries read from a texture (MODEL1's d_qk 512: 128 texels a row), over both caches.
  it('v4 tiled, fp8, queries from a texture (--queries texture)', async (c) => {
    if (!ctx) return c.skip();
    const run = await runAttention(ctx, combined.inputs, { kernel: 'tiled', kvFormat: 'fp8', queries: 'texture' });
    expect(run.plan.queries).toBe('texture');
    expectBothSources(run.output, 'fp8');
  });
});

function expectBothSources(output: Parameters<typeof compareToReference>[0], format: 'f32' | 'fp8'): void {
  const ref = referenceTwoSources(shape, main.q,
    { rows: dequantised(main.kvRows, format), indices: main.indices!, topk: 40, topkLength },
    { rows: dequantised(extra.kvRows, format), indices: extra.indices, topk: 24, topkLength: extra.topkLength });
  const check = compareToReference(output, ref, combined.inputs.shape);
  expect(check.pass, check.failure).toBe(true);
}
