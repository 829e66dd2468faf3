/**
 * Everything a kernel needs to know about one call, in one object: the shape,
 * the cache layout and paging, the shared shader files, the cache reader's
 * override constants, and the per-call uniform (shaders/params.wgsl).
 */
import { type MlaShape, maxBlocksPerSeq, softmaxScaleOf } from '../mla/shape';
import type { CallParams } from './call-params';
import { type KvLayout, kvLayoutOverrides } from '../mla/kv-layout';
import { SHADER_FILES, type ShaderEdits, type ShaderFileName } from '../gpu/shader-source';
import { type KvShards, kvShardsSource, shardPagesOverride } from './kv-shards';

export interface AttentionSpec {
  readonly shape: MlaShape;
  readonly layout: KvLayout;
  readonly numBlocks: number;
  readonly maxBlocksPerSeq: number;
  readonly sparse: boolean;
  /** How the cache is cut into buffers (kv-shards.ts). */
  readonly shards: KvShards;
  /** Shader files replaced for this call: the caller's edits, and kv_shards.wgsl written for several shards. */
  readonly edits?: ShaderEdits;
  /**
   * Whether every value of the cache is a bf16 value: true for a bf16
   * cache, false for an f32 one; for an FP8 one whether its scales are
   * powers of two (read from its bytes when the call is prepared:
   * src/run/runner.ts, decodesToBf16), undefined before they are read (a
   * plan then takes them to be, as FlashMLA's quantiser makes them, and the
   * runner plans again where they are not). Version 6 holds such a cache in
   * its texture as bf16 words, half the bytes of f32 quads.
   */
  readonly valuesInBf16: boolean | undefined;
}

/** The cache in one buffer. */
export function oneShard(layout: KvLayout, numBlocks: number): KvShards {
  const bytes = numBlocks * layout.pageStride;
  return { count: 1, pagesPerShard: Math.max(1, numBlocks), bytes: [bytes], limitBytes: bytes, limitName: 'the whole cache', capped: false };
}

/**
 * `blockTableWidth`: row width of the block table actually given (default: the narrowest that fits);
 * `shards`: how the cache is cut into buffers (default: one buffer);
 * `fp8InBf16`: whether an FP8 cache's scales are all powers of two, undefined before they are read (AttentionSpec.valuesInBf16).
 */
export function makeAttentionSpec(
  shape: MlaShape, layout: KvLayout, numBlocks: number, edits?: ShaderEdits, blockTableWidth = maxBlocksPerSeq(shape),
  shards: KvShards = oneShard(layout, numBlocks), fp8InBf16?: boolean,
): AttentionSpec {
  let allEdits = edits;
  if (shards.count > 1) {
    if (edits?.['kv_shards.wgsl'] !== undefined) {
      throw new Error(`kv_shards.wgsl is written by the host when the cache is split into shards (${shards.count} here): edit it only for a cache in one buffer`);
    }
    allEdits = { ...edits, 'kv_shards.wgsl': kvShardsSource(shards.count, SHADER_FILES['kv_shards.wgsl']) };
  }
  const valuesInBf16 = layout.kind === 'fp8' ? fp8InBf16 : layout.kind === 'bf16';
  return { shape, layout, numBlocks, maxBlocksPerSeq: blockTableWidth, sparse: shape.topk > 0, shards, edits: allEdits, valuesInBf16 };
}

/** The shared files a kernel file is appended to: per-call params, the FP8 decoder, cache reader and its shards, key source. */
export function sharedFiles(spec: AttentionSpec): ShaderFileName[] {
  return ['params.wgsl', 'fp8.wgsl', 'kv_cache.wgsl', 'kv_shards.wgsl', spec.sparse ? 'keys_sparse.wgsl' : 'keys_dense.wgsl'];
}

/** Override constants of kv_cache.wgsl (the cache layout and its shards). */
export function sharedConstants(spec: AttentionSpec): Record<string, number> {
  return { ...kvLayoutOverrides(spec.layout), SHARD_PAGES: shardPagesOverride(spec.shards) };
}

/** Slots of the cache, its pages x the page size (params.wgsl's num_slots; the texels of `--keys texture`). */
export function cacheSlotsOf(spec: AttentionSpec): number {
  return spec.numBlocks * spec.shape.pageBlockSize;
}

/** Most key quads a row of version 6's score-matrix texture holds (a multiple of 16; within every device's maxTextureDimension2D of 8192 or more). */
export const PROB_WIDTH_MAX = 4096;

/**
 * Version 6's score matrix (shaders/v6_layout.wgsl): key quads a texture row
 * (the row's quads rounded up to 16, at most PROB_WIDTH_MAX) and the
 * texture rows a matrix row takes. Every call's params carry them.
 */
export function probLayout(shape: MlaShape): { readonly width: number; readonly bands: number } {
  const quads = Math.ceil(Math.max(1, maxKeysPerRow(shape)) / 4);
  const width = Math.min(PROB_WIDTH_MAX, Math.ceil(quads / 16) * 16);
  return { width, bands: Math.ceil(quads / width) };
}

/** The per-call uniform (shaders/params.wgsl) for this call. */
export function callParams(spec: AttentionSpec, numSplits: number): CallParams {
  const { shape } = spec;
  const scale = softmaxScaleOf(shape);
  const prob = probLayout(shape);
  return {
    h_q: shape.hQ, s_q: shape.sQ, causal: shape.causal ? 1 : 0, max_blocks: spec.maxBlocksPerSeq,
    topk: shape.topk, num_slots: cacheSlotsOf(spec), max_keys: Math.max(1, maxKeysPerRow(shape)),
    num_splits: numSplits, has_sink: shape.attentionSink ? 1 : 0, scale, scale_log2: scale * Math.LOG2E,
    prob_width: prob.width, prob_bands: prob.bands,
  };
}

/** The most keys any query row can attend to. */
export function maxKeysPerRow(shape: MlaShape): number {
  return shape.topk > 0 ? shape.topk : Math.max(...shape.seqlens);
}

