/**
 * A cache cut into shards (several storage buffers): every version, every
 * cache format, dense and sparse keys, against the same CPU reference, with a
 * shard cap of a few pages so that any adapter exercises it. The caches have
 * an odd page count (the last shard holds fewer pages) and shuffled block
 * tables, so a request's pages straddle shards in no order.
 */
import { describe, expect, it } from 'vitest';
import { testGpu, testMatrix } from './support/gpu';
import { presetShape, type PresetName } from '../src/mla/shape';
import { generateInputs } from '../src/mla/inputs';
import { runAttention } from '../src/run/run-attention';
import { prepareAttention } from '../src/run/runner';
import { formatCheck } from '../src/reference/check';
import { type KvFormat, kvLayout } from '../src/mla/kv-layout';
import { KERNEL_VERSIONS, missingFeature } from '../src/kernels/versions';
import { ONE_BUFFER_SHARD_PAGES, planKvShards, shardPagesOverride } from '../src/kernels/kv-shards';
import { SHADER_FILES } from '../src/gpu/shader-source';

const gpu = await testGpu();

const FORMATS: KvFormat[] = ['f32', 'bf16', 'fp8'];
const PAGE = 16;
const PAGES_PER_SHARD = 4;
// 1 + 4 + 7 + 3 pages of requests, a spare and the poison page: 17 pages, 5 shards, the last with 1 page
const SEQLENS = [1, 63, 100, 37];

function shardedCase(preset: PresetName, kvFormat: KvFormat, sparse: boolean, hQ: number, pagesPerShard = PAGES_PER_SHARD) {
  const shape = presetShape(preset, { seqlens: SEQLENS, hQ, pageBlockSize: PAGE, topk: sparse ? 40 : 0, attentionSink: preset === 'model1' });
  const inputs = generateInputs(shape, { seed: 77, invalidIndexFraction: sparse ? 0.2 : 0, allInvalidRows: sparse ? [2] : [] });
  const shardBytes = pagesPerShard * kvLayout(kvFormat, shape, PAGE).pageStride;
  return { inputs, shardBytes };
}

interface Case { preset: PresetName; kvFormat: KvFormat; sparse: boolean }
/** The full matrix: every format dense and sparse, the head rotating so that each (head, format) runs (the shard walk is the same for every head). */
const ALL: Case[] = FORMATS.flatMap((kvFormat, f) => [false, true].map((sparse, s) => ({ preset: (['v32', 'model1'] as PresetName[])[(f + s) % 2], kvFormat, sparse })));

/** SwiftShader's cover, one case for each version in turn: every format (FP8 on both heads), both heads, dense and sparse keys. */
const COVER: Case[] = [ALL[0], ALL[5], ALL[4], ALL[3], ALL[2]];

describe.skipIf(!gpu).each(KERNEL_VERSIONS.map((v, k) => [`${v.id} ${v.name}`, v, k] as const))('sharded cache, %s', (_, version, k) => {
  if (gpu && missingFeature(version, gpu.limits)) {
    it.skip(`${missingFeature(version, gpu.limits)}`, () => {});
    return;
  }
  if (version.name === 'matmuls') {
    it('refuses a sharded cache before any upload: it reads every key from the cache decoded into a texture, which takes a cache in one buffer', async () => {
      const { inputs, shardBytes } = shardedCase('v32', 'fp8', false, 16);
      await expect(prepareAttention(gpu!, inputs, { kernel: 'matmuls', kvFormat: 'fp8', shardBytes }))
        .rejects.toThrow(/keys "texture": .* a cache in one buffer\); kernel matmuls reads every key from it: use a fused version \(tiled\)/);
    });
    return;
  }
  // SwiftShader (compiles take seconds): one case a version (COVER).
  const list = gpu && testMatrix(gpu) === 'full' ? ALL : [COVER[k % COVER.length]];
  it.each(list)('$preset $kvFormat, sparse $sparse', async ({ preset, kvFormat, sparse }) => {
    // v1's module declares 8 storage buffers besides the shards (its three passes', and Dawn counts them all): 3 shards of 8 pages fit SwiftShader's 12.
    const pagesPerShard = version.name === 'naive' ? 8 : PAGES_PER_SHARD;
    const { inputs, shardBytes } = shardedCase(preset, kvFormat, sparse, 16, pagesPerShard);
    const run = await runAttention(gpu!, inputs, { kernel: version.name, kvFormat, shardBytes, splits: version.name === 'naive' ? undefined : 2 });
    expect(run.upload.kvShards).toHaveLength(Math.ceil(17 / pagesPerShard));
    expect(run.upload.kvShards.at(-1)).toBe(run.upload.kvShards[0] / pagesPerShard);
    expect(run.check.pass, formatCheck(run.check)).toBe(true);
  });
});

describe.skipIf(!gpu)('sharded cache: failures', () => {
  it('a kernel that reads every page from the first shard fails the check', async () => {
    const { inputs, shardBytes } = shardedCase('model1', 'fp8', false, 16);
    const right = 'return KvPage(page / SHARD_PAGES, (page % SHARD_PAGES) * PAGE_STRIDE_W);';
    const wrong = SHADER_FILES['kv_cache.wgsl'].replace(right, 'return KvPage(0u, (page % SHARD_PAGES) * PAGE_STRIDE_W);');
    expect(wrong).not.toBe(SHADER_FILES['kv_cache.wgsl']); // the edit must land, or this test proves nothing
    const run = await runAttention(gpu!, inputs, { kernel: 'fused', kvFormat: 'fp8', shardBytes, shaderEdits: { 'kv_cache.wgsl': wrong } });
    expect(run.check.pass).toBe(false);
  });

  it('refuses more shards than the kernels bind, before any upload', async () => {
    // One page per shard: 17 shards.
    const { inputs, shardBytes } = shardedCase('model1', 'fp8', false, 16);
    await expect(prepareAttention(gpu!, inputs, { kernel: 'fused', kvFormat: 'fp8', shardBytes: shardBytes / PAGES_PER_SHARD }))
      .rejects.toThrow(/needs 17 shards of at most the shard cap .*; the kernels bind at most 12/);
  });

  it('refuses more shards than the device binds storage buffers, before any upload', async () => {
    const { inputs, shardBytes } = shardedCase('model1', 'fp8', false, 16);
    const limits = { ...gpu!.limits, maxStorageBuffersPerShaderStage: 10 };
    await expect(prepareAttention({ ...gpu!, limits }, inputs, { kernel: 'naive', kvFormat: 'fp8', shardBytes }))
      .rejects.toThrow(/kernel v1 naive with the cache in 5 shards binds 13 storage buffers, over this device's maxStorageBuffersPerShaderStage of 10/);
  });

  it('an edit of kv_shards.wgsl is refused when the host writes that file', async () => {
    const { inputs, shardBytes } = shardedCase('model1', 'fp8', false, 16);
    await expect(runAttention(gpu!, inputs, { kernel: 'fused', kvFormat: 'fp8', shardBytes, shaderEdits: { 'kv_shards.wgsl': '// mine' } }))
      .rejects.toThrow(/kv_shards.wgsl is written by the host when the cache is split into shards \(5 here\)/);
  });
});

describe('planKvShards', () => {
  const shape = presetShape('model1', { seqlens: [1 << 20], hQ: 16 });
  const layout = kvLayout('fp8', shape, 64);
  const limits128 = { maxStorageBufferBindingSize: 128 * 2 ** 20, maxBufferSize: 2 ** 31 } as Parameters<typeof planKvShards>[2];

  it('cuts a 1M-token MODEL1 FP8 cache into 5 shards of whole pages under a 128 MiB binding', () => {
    const pages = (1 << 20) / 64 + 2;
    const s = planKvShards(layout, pages, limits128);
    expect(layout.pageStride).toBe(37440); // 64 x 584, rounded up to 576
    expect(s.pagesPerShard).toBe(Math.floor((128 * 2 ** 20) / 37440)); // 3584
    expect(s.count).toBe(5);
    expect(s.bytes.reduce((a, b) => a + b, 0)).toBe(pages * 37440);
    expect(Math.max(...s.bytes)).toBeLessThanOrEqual(128 * 2 ** 20);
  });

  it('keeps a cache that fits in one buffer, and takes the smaller of cap and limit', () => {
    expect(planKvShards(layout, 10, limits128)).toMatchObject({ count: 1, pagesPerShard: 10, capped: false });
    expect(planKvShards(layout, 10, limits128, 3 * 37440 + 100)).toMatchObject({ count: 4, pagesPerShard: 3, bytes: [3 * 37440, 3 * 37440, 3 * 37440, 37440] });
    expect(planKvShards(layout, 10, limits128, 2 ** 40).count).toBe(1);
  });

  it('gives the shader one SHARD_PAGES for every cache in one buffer, whatever its length, and the pages per shard for several', () => {
    // One compiled pipeline serves every cache length: every page of a cache in one buffer is in shard 0.
    expect(shardPagesOverride(planKvShards(layout, 10, limits128))).toBe(ONE_BUFFER_SHARD_PAGES);
    expect(shardPagesOverride(planKvShards(layout, 3000, limits128))).toBe(ONE_BUFFER_SHARD_PAGES);
    expect(shardPagesOverride(planKvShards(layout, 10, limits128, 3 * 37440 + 100))).toBe(3);
  });

  it('refuses a cap below one page, naming the page size', () => {
    expect(() => planKvShards(layout, 10, limits128, 1000)).toThrow(/one page of the fp8-model1 cache is 36.6 KiB \(64 tokens\), over the shard cap/);
  });
});

describe.skipIf(!gpu)('a call past one binding runs in groups of requests', () => {
  it('q over the binding: the requests run in groups over the one cache, out and lse as one call gives them', async () => {
    // 5 requests x 3 query tokens x 16 heads x 576 x 4 B = 553 KB of q; under a 512 KiB binding, groups of 2
    // (3 requests' q would fit, but not their 2 splits' partial outputs: 590 KB).
    const shape = presetShape('v32', { seqlens: [70, 3, 130, 45, 99], sQ: 3, hQ: 16, pageBlockSize: PAGE, causal: true });
    const inputs = generateInputs(shape, { seed: 12 });
    const small = { ...gpu!, limits: { ...gpu!.limits, maxStorageBufferBindingSize: 1 << 19 } };
    const config = { kernel: 'flash', kvFormat: 'bf16', splits: 2 } as const;
    const grouped = await runAttention(small, inputs, config);
    expect(grouped.groups).toEqual({ count: 3, size: 2, overBuffer: 'q' });
    expect(grouped.check.pass, formatCheck(grouped.check)).toBe(true);
    expect(grouped.upload.q).toBe(inputs.q.byteLength);
    const whole = await runAttention(gpu!, inputs, config);
    expect(whole.groups).toBeUndefined();
    expect([...grouped.output.out]).toEqual([...whole.output.out]);
    expect([...grouped.output.lse]).toEqual([...whole.output.lse]);
    // Sparse keys: the indices are cut with their requests (the host's cutting: llvmpipe only).
    if (testMatrix(gpu!) !== 'full') return;
    const sparse = generateInputs(presetShape('model1', { seqlens: [70, 1, 130, 45, 99], sQ: 3, hQ: 16, pageBlockSize: PAGE, topk: 24 }), { seed: 13, invalidIndexFraction: 0.2 });
    const run = await runAttention(small, sparse, config);
    expect(run.groups?.count).toBe(3);
    expect(run.check.pass, formatCheck(run.check)).toBe(true);
  });

  it('refuses a request too large alone, naming its buffer and the limit', async () => {
    const inputs = generateInputs(presetShape('v32', { seqlens: [40], sQ: 4, hQ: 64, pageBlockSize: PAGE }), { seed: 1 });
    const tiny = { ...gpu!, limits: { ...gpu!.limits, maxStorageBufferBindingSize: 1 << 16 } };
    await expect(runAttention(tiny, inputs, { kernel: 'flash', kvFormat: 'bf16' })).rejects.toThrow(/needs a .* q buffer, over this device's maxStorageBufferBindingSize/);
  });
});
