/**
 * Run a sparse prefill call (prefill-call.ts) on the GPU: the prompt cut into
 * chunks of query tokens that fit the device, one upload of the cache that
 * every chunk reads, each chunk run (and timed) and read back into the
 * prompt's out, lse and max_logits; then a sample of query tokens checked
 * against the f64 reference (the reference of a long prompt would take the
 * CPU hours: its cost is bounded by the sample, which the report lists).
 */
import { spread } from '../mla/spread';
import type { GpuContext } from '../gpu/device';
import { PlanDoesNotFit } from '../kernels/kernel-plan';
import { bufferOwner } from '../gpu/buffer-owner';
import { SHAPE_LIMITS } from '../mla/shape';
import { type KvLayout, kvLayout } from '../mla/kv-layout';
import { quantizeKvCache } from '../mla/kv-quant';
import { type IndexCounts, countIndices } from '../mla/index-counts';
import { type CheckResult, type WorstElement, compareToReference } from '../reference/check';
import { referenceOnCache } from '../reference/reference-chunked';
import { type AttentionOutput, type PlannedCall, type RunConfig, planCall, prepareAttention, submitChecked, uploadCache } from '../run/runner';
import type { ReferenceRunner } from '../run/run-attention';
import { BufferOverLimit, bindingLimit } from '../run/run-size';
import type { MlaInputs } from '../mla/inputs';
import { type TimingMethod, timeWork } from '../timing/timer';
import { type Throughput, type Work, throughput, workOf } from '../timing/work';
import { type MeasuredCeilings, bestMatmulForm, measureDeviceCeilings } from '../timing/device-ceilings';
import { type MatmulForm, plainMatmulWork } from '../timing/plain-matmul';
import { summarize } from '../timing/timer';
import { type PrefillCall, cacheSlots, chunkInputs, chunkShape, sampledInputs, validatePrefill } from './prefill-call';

/** Query tokens checked against the reference by default. */
export const CHECKED_TOKENS = 32;

export interface PrefillOptions {
  /** Query tokens checked against the reference: a count (spread over the prompt) or 'all'. Default CHECKED_TOKENS. */
  readonly checkTokens?: number | 'all';
  /** Time each chunk and measure the device's ceilings and plain-matmul yardstick. Default true. */
  readonly time?: boolean;
  /** At most this many query tokens a chunk (default: as many as the device allows). */
  readonly chunkTokens?: number;
  /** Timed runs of each chunk (the median is kept). Default 1. */
  readonly samples?: number;
  readonly onProgress?: (step: string) => void;
  readonly signal?: AbortSignal;
  /** The reference on the cache's bytes; default referenceOnCache here (the page passes one in a worker). */
  readonly reference?: ReferenceRunner;
}

export interface PrefillTiming {
  /** The prompt's kernel time: the chunks' medians summed, ms. */
  readonly ms: number;
  readonly method: TimingMethod;
  readonly chunkMs: readonly number[];
  /** Timed runs of each chunk, after its first run. */
  readonly samples: number;
}

export interface PrefillReport {
  readonly config: RunConfig;
  readonly version: PlannedCall['version'];
  readonly plan: PlannedCall['plan'];
  readonly layout: KvLayout;
  /** Chunks the prompt ran in, and query tokens in each (the last may have fewer). */
  readonly chunks: number;
  readonly chunkTokens: number;
  /** What limited the chunk: the batch limit, the grid, a binding, or the prompt itself. */
  readonly chunkLimit: string;
  /** out [s_q, h_q, d_v], lse [s_q, h_q], maxLogits [s_q, h_q]. */
  readonly output: AttentionOutput;
  /** The query tokens checked; positions in the check (b) are query tokens of the prompt. */
  readonly checkedTokens: readonly number[];
  readonly check: CheckResult;
  readonly indices: IndexCounts;
  readonly work: Work;
  readonly timing?: PrefillTiming;
  readonly throughput?: Throughput;
  /** The device's copy, FMA and plain-matmul yardstick, measured before the prompt. */
  readonly ceilings?: MeasuredCeilings;
  /**
   * The yardstick's best form, timed before the prompt and again after every
   * chunk (a software adapter's speed moves between minutes): the median of
   * those timings, and each, GFLOP/s.
   */
  readonly yardstick?: { readonly form: MatmulForm; readonly gflops: number; readonly timings: readonly number[] };
}

/** The query tokens to check: all, or `count` spread from the first to the last plus up to four with no valid index. */
export function tokensToCheck(call: PrefillCall, count: number | 'all'): number[] {
  const { sQ } = call;
  if (count === 'all' || count >= sQ) return Array.from({ length: sQ }, (_, i) => i);
  if (!Number.isInteger(count) || count < 1) throw new Error(`check tokens = ${count} is not allowed: it must be "all" or an integer >= 1`);
  const picks = new Set(spread(sQ, count));
  const slots = cacheSlots(call);
  let empty = 0;
  for (let i = 0; i < sQ && empty < 4; i++) {
    const row = call.indices.subarray(i * call.topk, (i + 1) * call.topk);
    if (!row.some((v) => v >= 0 && v < slots)) { picks.add(i); empty++; }
  }
  return [...picks].sort((a, b) => a - b);
}

/**
 * The chunk: as many query tokens as the batch limit, the grid and one
 * binding (q, out, indices, the plan's scratch) allow; halved while a plan's
 * buffer is over the binding limit.
 */
export function planChunks(call: PrefillCall, config: RunConfig, ctx: GpuContext, most?: number, mostWhy = 'the chunk size asked for'): ChunkPlan {
  const perRow = 4 * Math.max(call.hQ * Math.max(call.dims.dQk, call.dims.dV), call.topk);
  return largestChunk(ctx, call.sQ, perRow, qRowWords(call), (rows) => planCall(chunkShape(call, rows), call.numBlocks, 1, config, ctx.limits), most, mostWhy);
}

export interface ChunkPlan {
  readonly rows: number;
  readonly planned: PlannedCall;
  /** What limited the chunk, in words. */
  readonly limit: string;
}

/** One query token's q, in words, for a refusal. */
export function qRowWords(call: Pick<PrefillCall, 'hQ' | 'dims'>): string {
  return `${call.hQ} heads x ${call.dims.dQk} x 4 bytes`;
}

/**
 * The most query tokens a chunk of one-token requests may have: the prompt,
 * the batch limit, the grid, one binding of `perRow` bytes a token (`rowWords`
 * names one token's q in a refusal), `most`;
 * then halved while `plan` finds one of its buffers over the binding limit
 * or refuses the chunk's size (PlanDoesNotFit: the queries' rows past the
 * device's textures, a storage tile past a binding).
 */
export function largestChunk(ctx: GpuContext, sQ: number, perRow: number, rowWords: string, plan: (rows: number) => PlannedCall, most?: number, mostWhy = 'the chunk size asked for'): ChunkPlan {
  const { limits } = ctx;
  const binding = bindingLimit(limits);
  if (perRow > binding) throw new Error(`one query token's q (${rowWords}) is over this device's binding limit of ${binding} bytes: use fewer heads`);
  const bounds: [number, string][] = [
    [sQ, 'the prompt'], [SHAPE_LIMITS.maxBatch, `the batch limit (${SHAPE_LIMITS.maxBatch} requests a call)`],
    [limits.maxComputeWorkgroupsPerDimension, `the grid (${limits.maxComputeWorkgroupsPerDimension} workgroups a dimension)`],
    [Math.floor(binding / perRow), `one binding (${binding} bytes) of q and out`],
    ...(most !== undefined ? [[most, mostWhy] as [number, string]] : []),
  ];
  let [rows, limit] = bounds.reduce((a, b) => (b[0] < a[0] ? b : a));
  for (;;) {
    try {
      return { rows, planned: plan(rows), limit };
    } catch (e) {
      if (!(e instanceof BufferOverLimit || e instanceof PlanDoesNotFit) || rows === 1) throw e;
      rows = Math.ceil(rows / 2);
      limit = e instanceof BufferOverLimit
        ? `one binding (${binding} bytes) of the plan's ${e.buffer} buffer (over it at twice this chunk)`
        : `the plan, which refused twice this chunk (${e.message})`;
    }
  }
}

/** The call's cache in the run's format: its bytes as given, or its rows quantised. */
export function prefillCache(call: PrefillCall, config: RunConfig): { layout: KvLayout; cacheBytes: Uint8Array } {
  const layout = kvLayout(config.kvFormat, call.dims, call.pageSize);
  if (call.cacheLayout && call.cacheLayout.name !== layout.name) throw new Error(`the cache is already in the ${call.cacheLayout.name} layout; this run asks for ${layout.name}`);
  return { layout, cacheBytes: call.cacheBytes ?? quantizeKvCache(call.kvRows, layout, { scaleRounding: config.scaleRounding }) };
}

/**
 * The prompt's output on the listed query tokens against the f64 reference
 * on the call's indices; the check's positions (b) are the prompt's tokens.
 */
export async function checkSampledTokens(
  call: PrefillCall, output: AttentionOutput, tokens: readonly number[], cacheBytes: Uint8Array, layout: KvLayout, reference?: ReferenceRunner,
): Promise<CheckResult> {
  const { hQ } = call;
  const { dV } = call.dims;
  const gathered = (from: Float32Array, width: number) => {
    const to = new Float32Array(tokens.length * width);
    tokens.forEach((t, k) => to.set(from.subarray(t * width, (t + 1) * width), k * width));
    return to;
  };
  const gpu = { out: gathered(output.out, hQ * dV), lse: gathered(output.lse, hQ), maxLogits: gathered(output.maxLogits, hQ) };
  return checkSample(sampledInputs(call, tokens, cacheBytes, layout), gpu, tokens, reference);
}

/**
 * A sample of query tokens, one request each (`sample`), against the f64
 * reference: `gpu` holds their out, lse and max_logits in the sample's order;
 * the check's positions (b) are the prompt's `tokens`.
 */
export async function checkSample(sample: MlaInputs, gpu: AttentionOutput, tokens: readonly number[], reference?: ReferenceRunner): Promise<CheckResult> {
  const { hQ, dV } = sample.shape;
  const cacheBytes = sample.cacheBytes!;
  const layout = sample.cacheLayout!;
  const ref = reference ? await reference(sample, cacheBytes, layout) : referenceOnCache(sample, cacheBytes, layout);
  return onPromptTokens(compareToReference(gpu, ref, { batch: tokens.length, sQ: 1, hQ, dV }), tokens);
}

/** A check over sampled tokens with its positions turned into the prompt's tokens. */
function onPromptTokens(check: CheckResult, tokens: readonly number[]): CheckResult {
  const remap = (w?: WorstElement): WorstElement | undefined => (w?.at ? { ...w, at: [tokens[w.at[0]], ...w.at.slice(1)] } : w);
  return { ...check, worst: remap(check.worst), worstLse: remap(check.worstLse), worstMaxLogits: remap(check.worstMaxLogits), failureAt: remap(check.failureAt) };
}

export async function runPrefill(ctx: GpuContext, call: PrefillCall, config: RunConfig, options: PrefillOptions = {}): Promise<PrefillReport> {
  validatePrefill(call);
  const { signal } = options;
  const say = options.onProgress ?? (() => {});
  if (options.chunkTokens !== undefined && !(Number.isInteger(options.chunkTokens) && options.chunkTokens >= 1)) {
    throw new Error(`chunk tokens = ${options.chunkTokens} is not allowed: it must be an integer >= 1`);
  }
  const { rows, planned, limit } = planChunks(call, config, ctx, options.chunkTokens);
  const { layout, cacheBytes } = prefillCache(call, config);
  const timed = options.time !== false;
  const ceilings = timed ? (say('measuring the device\'s ceilings and the plain-matmul yardstick'), await measureDeviceCeilings(ctx, { signal })) : undefined;

  const { hQ, sQ } = call;
  const { dV } = call.dims;
  const output: AttentionOutput = { out: new Float32Array(sQ * hQ * dV), lse: new Float32Array(sQ * hQ), maxLogits: new Float32Array(sQ * hQ) };
  const alloc = bufferOwner(ctx);
  const chunkMs: number[] = [];
  const yardstickTimings: number[] = ceilings ? [bestMatmulForm(ceilings.yardstick).gflops] : [];
  const yardstickForm = ceilings ? bestMatmulForm(ceilings.yardstick) : undefined;
  const yardstick = yardstickForm ? await plainMatmulWork(ctx, yardstickForm) : undefined;
  let method: TimingMethod = 'wall-clock';
  let version = planned.version;
  let plan = planned.plan;
  const chunks = Math.ceil(sQ / rows);
  try {
    const kv = await uploadCache(ctx, alloc, planned, cacheBytes);
    for (let c = 0; c < chunks; c++) {
      signal?.throwIfAborted();
      const start = c * rows;
      const n = Math.min(rows, sQ - start);
      say(`chunk ${c + 1}/${chunks}: query tokens ${start}..${start + n - 1}`);
      const prepared = await prepareAttention(ctx, chunkInputs(call, start, n, cacheBytes, layout), config, { kv });
      try {
        ({ version, plan } = prepared);
        if (timed) {
          const t = await timeWork(ctx, { label: `prefill chunk ${c + 1}`, passLabels: prepared.passes.map((p) => p.label), encode: prepared.encode },
            { warmup: 0, samples: options.samples ?? 1, iterations: 1, signal });
          chunkMs.push(t.medianMs);
          method = t.method;
          if (yardstick) {
            const y = await timeWork(ctx, yardstick.work, { warmup: 1, samples: 3, signal });
            yardstickTimings.push(yardstick.flops / (y.medianMs / 1e3) / 1e9);
          }
        } else {
          await submitChecked(ctx, prepared);
        }
        const got = await prepared.read();
        output.out.set(got.out, start * hQ * dV);
        output.lse.set(got.lse, start * hQ);
        output.maxLogits.set(got.maxLogits, start * hQ);
      } finally {
        prepared.destroy();
      }
    }
  } finally {
    alloc.destroy();
    yardstick?.release();
  }

  const tokens = tokensToCheck(call, options.checkTokens ?? CHECKED_TOKENS);
  say(`checking ${tokens.length} of ${sQ} query tokens against the f64 reference`);
  const check = await checkSampledTokens(call, output, tokens, cacheBytes, layout, options.reference);

  const work = workOf(chunkShape(call, sQ), layout);
  const ms = chunkMs.reduce((a, b) => a + b, 0);
  return {
    config, version, plan, layout, chunks, chunkTokens: rows, chunkLimit: limit, output, checkedTokens: tokens, check,
    indices: countIndices(call.indices, cacheSlots(call)), work,
    timing: timed ? { ms, method, chunkMs, samples: options.samples ?? 1 } : undefined,
    throughput: timed && ceilings ? throughput(work, ms, ceilings.roof) : undefined,
    ceilings,
    yardstick: yardstickForm ? { form: { block: yardstickForm.block, queries: yardstickForm.queries, keys: yardstickForm.keys }, gflops: summarize(yardstickTimings).median, timings: yardstickTimings } : undefined,
  };
}
