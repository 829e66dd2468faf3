/**
 * The indexer on the GPU: the paged FP8 key cache uploaded in shards of whole
 * pages (each within one binding), then, chunk by chunk of tokens, the keys
 * decoded (shaders/indexer_decode.wgsl, one pass per shard) and scored
 * (shaders/indexer_scores.wgsl) for every query token. Scores land in one
 * [s_q, L] buffer, which top-k reads next.
 */
import type { GpuContext } from '../gpu/device';
import { type BufferOwner, bufferOwner } from '../gpu/buffer-owner';
import { bindGroup } from '../gpu/bindings';
import { grid2d } from '../gpu/grid';
import { getPipeline } from '../gpu/pipelines';
import { SHADER_FILES } from '../gpu/shader-source';
import { packUniform, uniformFields } from '../gpu/wgsl-layout';
import { withErrorScopes } from '../gpu/error-scopes';
import { type KernelPass, encodePasses } from '../kernels/kernel-plan';
import { GpuRunError } from '../run/runner';
import { decodeCodes } from './indexer-quant';
import type { IndexerInputs } from './indexer-inputs';
import { INDEXER } from '../mla/indexer-shape';

const CALL_FIELDS = uniformFields(SHADER_FILES['indexer_call.wgsl'], 'IndexerCall', 'indexer_call.wgsl');
const WG = 64;
/**
 * Tokens a scoring thread owns and heads it takes at a time (indexer_scores.wgsl's
 * BLOCK: 8 or 16). 16: on llvmpipe at 65,536 tokens it ran 1.6x as fast as 8
 * (docs/sparse.md).
 */
export const INDEXER_BLOCK = 16;
/** Tokens a scoring workgroup covers. */
const TOKENS_PER_GROUP = WG * INDEXER_BLOCK;

export interface IndexerPlan {
  /** Tokens decoded and scored per chunk. */
  readonly chunkKeys: number;
  /** Pages per cache shard, and shards. */
  readonly shardPages: number;
  readonly shards: number;
}

export interface IndexerPlanOptions {
  /** Tokens per chunk (default: as many as one binding holds decoded). */
  readonly chunkKeys?: number;
  /** Largest cache shard in bytes (default: the binding limit): lets tests cut a small cache. */
  readonly shardBytes?: number;
}

export function planIndexer(ctx: GpuContext, inp: Pick<IndexerInputs, 'keys' | 'sQ' | 'layout' | 'cache'>, options: IndexerPlanOptions = {}): IndexerPlan {
  const limit = Math.min(ctx.limits.maxStorageBufferBindingSize, ctx.limits.maxBufferSize);
  const keyBytes = 4 * INDEXER.headDim;
  const most = Math.floor(limit / keyBytes / TOKENS_PER_GROUP) * TOKENS_PER_GROUP;
  const chunkKeys = options.chunkKeys;
  if (chunkKeys !== undefined && (chunkKeys < TOKENS_PER_GROUP || chunkKeys % TOKENS_PER_GROUP !== 0)) throw new Error(`chunkKeys = ${chunkKeys} is not allowed: a chunk is a multiple of ${TOKENS_PER_GROUP} tokens`);
  const chunk = Math.min(chunkKeys ?? most, most, Math.ceil(inp.keys / TOKENS_PER_GROUP) * TOKENS_PER_GROUP);
  if (4 * inp.sQ * inp.keys > limit) throw new Error(`the indexer's scores, ${inp.sQ} x ${inp.keys} f32, are over one storage binding (${limit} bytes): fewer query tokens or keys`);
  const shardPages = Math.floor(Math.floor(Math.min(limit, options.shardBytes ?? limit) / 16) * 16 / inp.layout.pageStride);
  if (shardPages < 1) throw new Error(`one page of the indexer cache (${inp.layout.pageStride} bytes) is over the shard size`);
  return { chunkKeys: chunk, shardPages, shards: Math.ceil(cachePages(inp) / shardPages) };
}

/** Physical pages of the indexer cache: all of them are uploaded (a prompt chunk's keys may be fewer, their pages anywhere). */
function cachePages(inp: Pick<IndexerInputs, 'cache' | 'layout'>): number {
  return Math.ceil(inp.cache.byteLength / inp.layout.pageStride);
}

export interface PreparedIndexer {
  readonly plan: IndexerPlan;
  readonly passes: readonly KernelPass[];
  /** [s_q, L] f32 scores: what top-k reads. */
  readonly scores: GPUBuffer;
  readScores(): Promise<Float32Array>;
  destroy(): void;
}

export async function prepareIndexer(ctx: GpuContext, inp: IndexerInputs, options: IndexerPlanOptions & { owner?: BufferOwner } = {}): Promise<PreparedIndexer> {
  const b = options.owner ?? bufferOwner(ctx);
  const { device, limits } = ctx;
  const plan = planIndexer(ctx, inp, options);
  const { keys, sQ, layout } = inp;
  const scores = b.storage('indexer scores', 4 * sQ * keys);
  const passes = await withErrorScopes(device, async () => {
    const decode = await getPipeline(device, { kernel: 'indexer-decode', files: ['fp8.wgsl', 'indexer_call.wgsl', 'indexer_decode.wgsl'], entryPoint: 'main', constants: { PAGE: layout.pageBlockSize } });
    const score = await getPipeline(device, { kernel: 'indexer-scores', files: ['indexer_call.wgsl', 'indexer_scores.wgsl'], entryPoint: 'main', constants: { HEADS: INDEXER.heads, BLOCK: INDEXER_BLOCK } });
    const pages = cachePages(inp);
    const shards = Array.from({ length: plan.shards }, (_, s) => {
      const first = s * plan.shardPages;
      const count = Math.min(plan.shardPages, pages - first);
      return { first, count, buffer: b.storage(plan.shards > 1 ? `indexer cache shard ${s}` : 'indexer cache', count * layout.pageStride, inp.cache.subarray(first * layout.pageStride, (first + count) * layout.pageStride)) };
    });
    const table = b.storage('indexer block table', inp.blockTable.byteLength, inp.blockTable);
    const q = b.storage('indexer q (FP8 values)', 4 * inp.qCodes.length, decodeCodes(inp.qCodes, 0, inp.qCodes.length));
    const w = b.storage('indexer weights (w q_scale)', 4 * inp.weights.length, inp.weights.map((v, k) => Math.fround(v * inp.qScales[k])));
    const decoded = b.storage('indexer keys (a chunk, decoded)', 4 * INDEXER.headDim * plan.chunkKeys);
    const scales = b.storage('indexer key scales (a chunk)', 4 * plan.chunkKeys);
    const out: KernelPass[] = [];
    for (let first = 0; first < keys; first += plan.chunkKeys) {
      const count = Math.min(plan.chunkKeys, keys - first);
      const tag = keys > plan.chunkKeys ? ` (tokens ${first}..${first + count - 1})` : '';
      for (const shard of shards) {
        const call = b.uniform('indexer call', packUniform({ keys, first, count, queries: sQ, shard_first: shard.first, shard_pages: shard.count }, CALL_FIELDS, 'indexer_call.wgsl'));
        out.push({
          label: `indexer decode${tag}${shards.length > 1 ? ` shard ${shard.first / plan.shardPages}` : ''}`, pipeline: decode,
          bindGroup: bindGroup(device, decode, 'indexer decode', { index_cache: shard.buffer, block_table: table, index_keys: decoded, index_scales: scales, index_call: call }),
          workgroups: grid2d(Math.ceil(count / WG), limits.maxComputeWorkgroupsPerDimension, 'indexer decode'),
        });
      }
      const call = b.uniform('indexer call', packUniform({ keys, first, count, queries: sQ, shard_first: 0, shard_pages: 0 }, CALL_FIELDS, 'indexer_call.wgsl'));
      out.push({
        label: `indexer scores${tag}`, pipeline: score,
        bindGroup: bindGroup(device, score, 'indexer scores', { index_keys: decoded, index_scales: scales, index_q: q, index_weights: w, index_scores: scores, index_call: call }),
        workgroups: [Math.ceil(count / TOKENS_PER_GROUP), sQ, 1],
      });
    }
    return out;
  }, (message) => new GpuRunError('indexer', 'setting up buffers and pipelines failed', message));
  return {
    plan, passes, scores,
    readScores: () => b.read(scores, 4 * sQ * keys),
    destroy: () => { if (!options.owner) b.destroy(); },
  };
}

/** Run the prepared passes once, inside error scopes. */
export async function submitIndexer(ctx: GpuContext, prepared: PreparedIndexer): Promise<void> {
  await withErrorScopes(ctx.device, () => {
    const encoder = ctx.device.createCommandEncoder({ label: 'indexer' });
    encodePasses(prepared.passes, encoder);
    ctx.device.queue.submit([encoder.finish()]);
  }, (message) => new GpuRunError('indexer', 'dispatch failed', message));
}
