/**
 * Version 6's plan, from sizes alone (no GPU): its passes' blocks by the kind
 * of adapter, the score matrix's layout (the host's numbers, which the
 * shaders read from params), what it refuses and why, and the 32 x 32 score
 * block that is its only. What it computes is tested on both adapters in
 * test/kernels.test.ts and test/kernel-tiling.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { MAX_OUT_VALUES, MAX_OUT_VALUES_LLVMPIPE, WEBGPU_DEFAULT_LIMITS } from '../src/gpu/device';
import { maxBlocksPerSeq, presetShape } from '../src/mla/shape';
import { generatedPages } from '../src/run/run-size';
import { type RunConfig, planCall } from '../src/run/runner';
import { PROB_WIDTH_MAX, callParams, makeAttentionSpec, probLayout } from '../src/kernels/attention-spec';
import { straightCopies } from '../src/kernels/kernel-plan';
import { kvLayout } from '../src/mla/kv-layout';
import { paramFields } from '../src/kernels/call-params';
import { SHADER_FILES, composeShader } from '../src/gpu/shader-source';
import { storageBuffersDeclared } from '../src/gpu/bindings';
import { describePlan } from '../src/run/report';

const GPU = { ...WEBGPU_DEFAULT_LIMITS, maxComputeWorkgroupStorageSize: 32768 };
const LLVMPIPE = { ...GPU, cpuThreads: 2, maxOutValues: MAX_OUT_VALUES_LLVMPIPE, maxStorageBufferBindingSize: 128 << 20 };
const SWIFTSHADER = { ...GPU, cpuThreads: 2, maxOutValues: MAX_OUT_VALUES };

const plan = (shape: ReturnType<typeof presetShape>, config: Partial<RunConfig>, limits = LLVMPIPE) =>
  planCall(shape, generatedPages(shape), maxBlocksPerSeq(shape), { kernel: 'matmuls', kvFormat: 'fp8', ...config }, limits).plan;

describe('version 6 (matmuls): the plan', () => {
  const shape = presetShape('v32', { seqlens: [4096], hQ: 64 });

  it('takes the largest blocks where the compiler takes them (llvmpipe), 16-head ones on another software adapter, v4\'s on a GPU', () => {
    expect(plan(shape, {})).toMatchObject({ scoreBlock: '32x32', outBlock: '32x64', keys: 'texture', queries: 'texture' });
    expect(plan(shape, {}, SWIFTSHADER)).toMatchObject({ scoreBlock: '16x16', outBlock: '16x32' });
    expect(plan(shape, {}, GPU)).toMatchObject({ scoreBlock: '8x8', outBlock: '8x16' });
    // a P V workgroup of 8 threads on a CPU (two head blocks x 8 value groups a split), 64 on a GPU
    expect(plan(shape, {}).constants).toMatchObject({ SCORE_HEADS: 32, SCORE_KEYS: 32, OUT_HEADS: 32, OUT_VALUES: 64, VALUES_WG: 8, SOFTMAX_WG: 8 });
    expect(plan(shape, {}, GPU).constants).toMatchObject({ VALUES_WG: 64, SOFTMAX_WG: 64 });
  });

  it('32x32 is a score block of v6 only; a 64-value output block only where the compiler takes it', () => {
    expect(plan(shape, { scoreBlock: '32x32', outBlock: '16x32' }, SWIFTSHADER).scoreBlock).toBe('32x32');
    expect(() => plan(shape, { kernel: 'tiled', scoreBlock: '32x32' })).toThrow('scoreBlock "32x32" is not allowed: scoreBlock must be one of 8x8, 8x16, 16x8, 16x16, 32x16 (heads x keys)');
    expect(() => plan(shape, { outBlock: '32x64' }, SWIFTSHADER)).toThrow('output block 32x64 holds 64 values of the output row a thread, over the 32');
  });

  it('keeps its scratch: the splits\' partials, the score matrix (its texture\'s bytes), the keys\' texels, the rows\' statistics, the decoded cache', () => {
    const p = plan(shape, { splits: 2, fp8InBf16: false }); // FP8 whose scales are not powers of two: f32 quads
    const { width, bands } = probLayout(shape);
    expect({ width, bands }).toEqual({ width: 1024, bands: 1 });
    expect(p.scratch.map((s) => [s.label, s.bytes])).toEqual([
      ['split partial out', 4 * 64 * 2 * 512], ['split partial lse', 4 * 64 * 2], ['split partial max', 4 * 64 * 2],
      ['score matrix', 16 * 1024 * 64], ['key rows', 16 * 1024], ['row statistics', 16 * 64 * 2],
      ['decoded cache rows', expect.any(Number)],
    ]);
    expect(p.scratchTextures).toEqual([{ label: 'probabilities', size: { width: 1024, height: 64 } }]);
    // the run's report says so (not v1's "3 dispatches", nor a tile)
    expect(describePlan(p)).toMatch(/^register blocks 32x32 \(S, heads x keys\) and 32x64 \(O, heads x values\), every operand a texel \(keys and values: the cache in a texture of f32 quads\), no workgroup memory; scores, softmax and P V passes \(8 threads\/workgroup\) through split partial out .*, score matrix 1\.0 MiB, .*; 2 splits \+ combine$/);
    // an f32 cache of whole 256-byte slots is copied as it is: no decoded rows
    expect(plan(shape, { kvFormat: 'f32' }).scratch.map((s) => s.label)).not.toContain('decoded cache rows');
  });

  it('holds the cache as bf16 words where every value is one: a bf16 cache\'s own bytes copied in (two V3.2 slots a texture row, one MODEL1 slot), an FP8 cache with power-of-two scales decoded; else f32 quads', () => {
    // 66 pages of 64 slots (64 and 2 spare) and the zero slot: 2113 rows of two 1152-byte slots (2304 bytes, nine 256-byte pieces)
    const v32 = plan(shape, { kvFormat: 'bf16' });
    expect(v32.cacheTexture).toEqual({ format: 'rgba32uint', size: { width: 144, height: 2113 }, slotTexels: 72, slotsPerRow: 2 });
    expect(v32.constants).toMatchObject({ CACHE_WORDS: 1, SLOT_TEXELS: 72, SLOTS_PER_ROW: 2 });
    expect(v32.scratch.map((s) => s.label)).not.toContain('decoded cache rows');
    expect(describePlan(v32)).toContain('every operand a texel (keys and values: the bf16 cache\'s own words copied into a texture, no decode pass)');
    const model1 = plan(presetShape('model1', { seqlens: [4096], hQ: 64 }), { kvFormat: 'bf16' });
    expect(model1.cacheTexture).toEqual({ format: 'rgba32uint', size: { width: 64, height: 4225 }, slotTexels: 64, slotsPerRow: 1 });
    // taller than the device's textures: columns of 1000 rows side by side, each copied from its first slot
    const short = { ...LLVMPIPE, maxTextureDimension2D: 1000 };
    const wrapped = plan(shape, { kvFormat: 'bf16' }, short);
    expect(wrapped.cacheTexture).toEqual({ format: 'rgba32uint', size: { width: 432, height: 1000 }, slotTexels: 72, slotsPerRow: 2 });
    const spec = makeAttentionSpec(shape, kvLayout('bf16', shape, shape.pageBlockSize), generatedPages(shape));
    expect(straightCopies(spec, wrapped.cacheTexture!)).toEqual([
      { offset: 0, x: 0, rows: 1000, bytesPerRow: 2304, texels: 144 },
      { offset: 2000 * 1152, x: 144, rows: 1000, bytesPerRow: 2304, texels: 144 },
      { offset: 4000 * 1152, x: 288, rows: 112, bytesPerRow: 2304, texels: 144 }, // 4224 slots: the zero slot starts row 112
    ]);
    // An odd count of V3.2 slots (5 pages of 15) cannot be copied two a row: decoded into the words.
    const odd = plan(presetShape('v32', { seqlens: [45], hQ: 4, pageBlockSize: 15 }), { kvFormat: 'bf16' });
    expect(odd.cacheTexture).toMatchObject({ format: 'rgba32uint', slotTexels: 72, slotsPerRow: 2 });
    expect(odd.scratch.map((s) => s.label)).toContain('decoded cache rows');
    expect(describePlan(odd)).toContain('(keys and values: the cache decoded into a texture of bf16 words, exact: every value of it is a bf16 value)');
    // FP8 in words where its scales are powers of two (read from the cache when the call is prepared: fp8InBf16; before
    // that, taken to be), else f32 quads.
    expect(plan(shape, { fp8InBf16: true }).cacheTexture).toMatchObject({ format: 'rgba32uint', slotTexels: 72, slotsPerRow: 2 });
    expect(plan(shape, { fp8InBf16: true }).scratch.map((s) => s.label)).toContain('decoded cache rows');
    expect(plan(shape, {}).cacheTexture).toEqual(plan(shape, { fp8InBf16: true }).cacheTexture);
    expect(plan(shape, { fp8InBf16: false }).cacheTexture).toMatchObject({ format: 'rgba32float', slotTexels: 144, slotsPerRow: 1 });
    expect(plan(shape, { kvFormat: 'f32', fp8InBf16: true }).cacheTexture?.format).toBe('rgba32float');
    // V3.2 FP8 at 64K keys on llvmpipe: as words (113 MiB of decoded rows) it fits one 128 MiB binding, as quads (144 MiB) not
    const long = presetShape('v32', { seqlens: [65_536], hQ: 16 });
    expect(plan(long, {}).cacheTexture?.format).toBe('rgba32uint');
    expect(() => plan(long, { fp8InBf16: false })).toThrow(/keys "texture": 65664 cache slots of 144 f32 texels \(151289856 bytes\) do not fit one texture of this device/);
  });

  it('wraps a long row into bands of at most PROB_WIDTH_MAX texels, and every call\'s params carry the layout', () => {
    const long = presetShape('model1', { seqlens: [40_000, 3], hQ: 8 });
    expect(probLayout(long)).toEqual({ width: PROB_WIDTH_MAX, bands: 3 }); // 10,000 quads
    expect(plan(long, {}).scratchTextures?.[0].size).toEqual({ width: PROB_WIDTH_MAX, height: 2 * 8 * 3 });
    // a row of 9 keys: 3 quads, rounded up to 16 texels (a copy's rows are 256 bytes)
    expect(probLayout(presetShape('v32', { seqlens: [9], hQ: 2 }))).toEqual({ width: 16, bands: 1 });
    const spec = makeAttentionSpec(long, kvLayout('f32', long, long.pageBlockSize), generatedPages(long));
    expect(callParams(spec, 1)).toMatchObject({ prob_width: PROB_WIDTH_MAX, prob_bands: 3 });
    expect(paramFields().map((f) => f.name).slice(-2)).toEqual(['prob_width', 'prob_bands']);
  });

  it('refuses, with the reason and what to use, a score matrix past one binding or the texture limit, and a sharded cache', () => {
    // 64 heads x 1M keys: 256 MiB of scores, over llvmpipe's 128 MiB binding
    const million = presetShape('v32', { seqlens: [1 << 20], hQ: 64 });
    expect(() => plan(million, {})).toThrow(/kernel matmuls keeps every score in memory: 64 rows .* of 1048576 keys are 268435456 bytes .* use a fused version \(tiled\), which keeps none/);
    // 64 rows of one band each: a texture 64 texels tall
    expect(() => plan(shape, {}, { ...LLVMPIPE, maxTextureDimension2D: 63 })).toThrow(/in a texture 64 texels tall, over this device's 134217728-byte storage binding or maxTextureDimension2D of 63/);
    expect(() => plan(shape, { shardBytes: 1 << 20 })).toThrow(/a cache in one buffer\); kernel matmuls reads every key from it: use a fused version \(tiled\), which reads a sharded cache/);
  });

  it('each pass is its own module, within 8 storage buffers (Dawn counts a module\'s declarations)', () => {
    const dense = ['params.wgsl', 'fp8.wgsl', 'kv_cache.wgsl', 'kv_shards.wgsl', 'keys_dense.wgsl'] as const;
    const count = (files: readonly (keyof typeof SHADER_FILES)[]) => storageBuffersDeclared(composeShader(files, {}, { wideStrips: true, longRows: true, queryTexture: true, cacheTexture: true }).code);
    expect(count([...dense, 'head_quads.wgsl', 'v6_layout.wgsl', 'v6_cache.wgsl', 'v6_scores.wgsl'])).toBe(5);
    expect(count([...dense, 'v6_layout.wgsl', 'v6_softmax.wgsl'])).toBe(5);
    expect(count(['params.wgsl', 'fused_io.wgsl', 'head_quads.wgsl', 'v6_layout.wgsl', 'v6_cache.wgsl', 'v6_values.wgsl'])).toBe(7);
    // The cache's texture is declared once, as quads or as words, never both.
    const texture = (o: { cacheTexture?: boolean; cacheWords?: boolean }) => composeShader(['v6_cache.wgsl'], {}, o).code.match(/var cache\w+: texture_2d<(\w+)>/g);
    expect(texture({ cacheTexture: true })).toEqual(['var cacheTexture: texture_2d<f32>']);
    expect(texture({ cacheWords: true })).toEqual(['var cacheWords: texture_2d<u32>']);
  });
});
