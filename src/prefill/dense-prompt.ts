/**
 * Dense causal attention over a prompt, the absorbed (MQA) way over the
 * latent cache: what a prompt costs without sparse attention
 * (docs/prefill.md, "What a prompt costs").
 *
 * It takes a prefill call's q and flat cache (prefill-call.ts) and ignores
 * its indices: the query tokens are the last s_q of the cache's s_kv tokens,
 * and query token i (position s_kv - s_q + i) attends every token up to its
 * own. The prompt runs in chunks of one-token requests over the shared pages
 * (mla/token-batch.ts), the cache uploaded once; each chunk is timed, and a
 * sample of query tokens is checked against the f64 reference. Only the
 * sampled tokens' outputs are kept: a prompt's whole out is s_q x h_q x d_v.
 */
import type { GpuContext } from '../gpu/device';
import { bufferOwner } from '../gpu/buffer-owner';
import type { MlaInputs } from '../mla/inputs';
import type { KvLayout } from '../mla/kv-layout';
import { type TokenBatch, causalTokenBatch, tokenBatchShape } from '../mla/token-batch';
import { spread } from '../mla/spread';
import type { CheckResult } from '../reference/check';
import { type AttentionOutput, type RunConfig, planCall, prepareAttention, submitChecked, uploadCache } from '../run/runner';
import { type TimingMethod, timeWork } from '../timing/timer';
import { type PrefillCall, cacheSlots, tokenRows, validatePrefill } from './prefill-call';
import { type ChunkPlan, checkSample, largestChunk, prefillCache, qRowWords } from './prefill-run';

export interface DensePromptOptions {
  /** Query tokens checked against the reference, spread over the prompt (default 8). */
  readonly checkTokens?: number;
  readonly chunkTokens?: number;
  /** Time each chunk (default true). */
  readonly time?: boolean;
  readonly onProgress?: (step: string) => void;
  readonly signal?: AbortSignal;
}

export interface DensePromptReport {
  readonly sQ: number;
  readonly keys: number;
  readonly hQ: number;
  readonly kernel: string;
  readonly layout: string;
  readonly chunks: number;
  readonly chunkTokens: number;
  readonly chunkLimit: string;
  /** (query token, key) pairs attended: sum over query tokens of their position + 1. */
  readonly pairs: number;
  readonly checkedTokens: readonly number[];
  /** out, lse and max_logits of the checked tokens, in their order. */
  readonly checkedOutput: AttentionOutput;
  readonly check: CheckResult;
  /** The chunks' times summed, ms. */
  readonly ms?: number;
  readonly method?: TimingMethod;
}

/** Pairs a causal prompt attends: its s_q query tokens at the end of `keys` tokens, each sees its position + 1. */
export function causalPairs(keys: number, sQ: number): number {
  return sQ * (keys - sQ) + (sQ * (sQ + 1)) / 2;
}

/** The listed query tokens of the call (positions s_kv - s_q + i) as one-token requests over its pages. */
function denseBatch(call: PrefillCall, tokens: readonly number[]): TokenBatch {
  const keys = cacheSlots(call);
  return causalTokenBatch(tokens.map((i) => keys - call.sQ + i), call.pageSize, call.numBlocks);
}

function denseInputs(call: PrefillCall, tokens: readonly number[], q: Float32Array, cacheBytes: Uint8Array, layout: KvLayout): MlaInputs {
  const batch = denseBatch(call, tokens);
  return { shape: tokenBatchShape(call.dims, call.hQ, batch, call.pageSize, call.softmaxScale), q, kvRows: new Float32Array(0), cacheBytes, cacheLayout: layout, cache: batch.cache };
}

function range(first: number, n: number): number[] {
  return Array.from({ length: n }, (_, k) => first + k);
}

/** The chunk of the dense prompt, planned for its last tokens (they see the most keys). */
export function planDenseChunks(call: PrefillCall, config: RunConfig, ctx: GpuContext, most?: number): ChunkPlan {
  const perRow = 4 * call.hQ * Math.max(call.dims.dQk, call.dims.dV);
  return largestChunk(ctx, call.sQ, perRow, qRowWords(call), (rows) => {
    const batch = denseBatch(call, range(call.sQ - rows, rows));
    return planCall(tokenBatchShape(call.dims, call.hQ, batch, call.pageSize, call.softmaxScale), call.numBlocks, batch.cache.maxBlocksPerSeq, config, ctx.limits);
  }, most);
}

export async function runDensePrompt(ctx: GpuContext, call: PrefillCall, config: RunConfig, options: DensePromptOptions = {}): Promise<DensePromptReport> {
  validatePrefill(call);
  if (!call.flat) throw new Error('the dense prompt reads a flat cache: token t at slot t');
  const say = options.onProgress ?? (() => {});
  const { sQ, hQ } = call;
  const { dV } = call.dims;
  const keys = cacheSlots(call);
  const { rows, planned, limit } = planDenseChunks(call, config, ctx, options.chunkTokens);
  const { layout, cacheBytes } = prefillCache(call, config);
  const checked = spread(sQ, options.checkTokens ?? 8);
  const kept: AttentionOutput = { out: new Float32Array(checked.length * hQ * dV), lse: new Float32Array(checked.length * hQ), maxLogits: new Float32Array(checked.length * hQ) };
  const chunks = Math.ceil(sQ / rows);
  const alloc = bufferOwner(ctx);
  let ms = 0;
  let method: TimingMethod | undefined;
  let kernel = planned.version.name;
  try {
    const kv = await uploadCache(ctx, alloc, planned, cacheBytes);
    for (let c = 0; c < chunks; c++) {
      options.signal?.throwIfAborted();
      const first = c * rows;
      const n = Math.min(rows, sQ - first);
      say(`dense chunk ${c + 1}/${chunks}: query tokens ${keys - sQ + first}..${keys - sQ + first + n - 1}, each over every token up to its own`);
      const tokens = range(first, n);
      const prepared = await prepareAttention(ctx, denseInputs(call, tokens, call.q.subarray(first * hQ * call.dims.dQk, (first + n) * hQ * call.dims.dQk), cacheBytes, layout), config, { kv });
      try {
        kernel = prepared.version.name;
        if (options.time !== false) {
          const t = await timeWork(ctx, { label: `dense chunk ${c + 1}`, passLabels: prepared.passes.map((p) => p.label), encode: prepared.encode }, { warmup: 0, samples: 1, iterations: 1, signal: options.signal });
          ms += t.medianMs;
          method = t.method;
        } else {
          await submitChecked(ctx, prepared);
        }
        const mine = checked.map((t, k) => [t, k] as const).filter(([t]) => t >= first && t < first + n);
        if (mine.length > 0) {
          const got = await prepared.read();
          for (const [t, k] of mine) {
            kept.out.set(got.out.subarray((t - first) * hQ * dV, (t - first + 1) * hQ * dV), k * hQ * dV);
            kept.lse.set(got.lse.subarray((t - first) * hQ, (t - first + 1) * hQ), k * hQ);
            kept.maxLogits.set(got.maxLogits.subarray((t - first) * hQ, (t - first + 1) * hQ), k * hQ);
          }
        }
      } finally {
        prepared.destroy();
      }
    }
  } finally {
    alloc.destroy();
  }
  say(`checking ${checked.length} query tokens of the dense prompt against the f64 reference`);
  const check = await checkSample(denseInputs(call, checked, tokenRows(call.q, call.hQ * call.dims.dQk, checked), cacheBytes, layout), kept, checked);
  return {
    sQ, keys, hQ, kernel, layout: layout.name, chunks, chunkTokens: rows, chunkLimit: limit, pairs: causalPairs(keys, sQ),
    checkedTokens: checked, checkedOutput: kept, check, ms: options.time !== false ? ms : undefined, method,
  };
}
