/**
 * Everything a kernel needs to know about one call, in one object: the shape,
 * the cache layout and paging, the shared shader files, the cache reader's
 * override constants, and the per-call uniform (shaders/params.wgsl).
 */
import { type MlaShape, maxBlocksPerSeq, softmaxScaleOf } from '../shape';
import type { CallParams } from './call-params';
import { type KvLayout, kvLayoutOverrides } from '../kv-layout';
import type { ShaderEdits, ShaderFileName } from '../gpu/shader-source';

export interface AttentionSpec {
  readonly shape: MlaShape;
  readonly layout: KvLayout;
  readonly numBlocks: number;
  readonly maxBlocksPerSeq: number;
  readonly sparse: boolean;
  readonly edits?: ShaderEdits;
}

/** `blockTableWidth`: row width of the block table actually given (default: the narrowest that fits). */
export function makeAttentionSpec(shape: MlaShape, layout: KvLayout, numBlocks: number, edits?: ShaderEdits, blockTableWidth = maxBlocksPerSeq(shape)): AttentionSpec {
  return { shape, layout, numBlocks, maxBlocksPerSeq: blockTableWidth, sparse: shape.topk > 0, edits };
}

/** The shared files a kernel file is appended to: per-call params, cache reader, key source. */
export function sharedFiles(spec: AttentionSpec): ShaderFileName[] {
  return ['params.wgsl', 'kv_cache.wgsl', spec.sparse ? 'keys_sparse.wgsl' : 'keys_dense.wgsl'];
}

/** Override constants of kv_cache.wgsl (the cache layout). */
export function sharedConstants(spec: AttentionSpec): Record<string, number> {
  return kvLayoutOverrides(spec.layout);
}

/** The per-call uniform (shaders/params.wgsl) for this call. */
export function callParams(spec: AttentionSpec, numSplits: number): CallParams {
  const { shape } = spec;
  const scale = softmaxScaleOf(shape);
  return {
    h_q: shape.hQ, s_q: shape.sQ, causal: shape.causal ? 1 : 0, max_blocks: spec.maxBlocksPerSeq,
    topk: shape.topk, num_slots: spec.numBlocks * shape.pageBlockSize, max_keys: Math.max(1, maxKeysPerRow(shape)),
    num_splits: numSplits, has_sink: shape.attentionSink ? 1 : 0, scale, scale_log2: scale * Math.LOG2E,
  };
}

/** The most keys any query row can attend to. */
export function maxKeysPerRow(shape: MlaShape): number {
  return shape.topk > 0 ? shape.topk : Math.max(...shape.seqlens);
}

