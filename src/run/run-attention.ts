/**
 * Run a kernel and report on it, as every face does: validate first (the GPU output
 * against the CPU reference on the dequantised cache), then time, then set
 * the time against the work and the device's roofline. Optionally also the
 * FP8/bf16 quantisation error: the reference on the dequantised cache against
 * the reference on the original f32 cache (a separate figure from the
 * kernel's own error).
 */
import { DeviceLostError, type GpuContext } from '../gpu/device';
import type { MlaInputs } from '../mla/inputs';
import { type AttentionResult, referenceAttention } from '../reference/reference';
import { type ChunkedReferenceOptions, referenceOnCache } from '../reference/reference-chunked';
import type { KvLayout } from '../mla/kv-layout';
import { type CheckResult, compareToReference } from '../reference/check';
import { type IndexCounts, countIndices } from '../mla/index-counts';
import { type PreparedAttention, type RunConfig, prepareAttention, submitChecked } from './runner';
import { planRequestGroups, prepareInGroups } from './request-groups';
import { type TimingOptions, type TimingResult, timeWork } from '../timing/timer';
import { type Throughput, type Work, throughput, workOf } from '../timing/work';
import { type RooflineMeasurement, measureRoofline } from '../timing/roofline';

export interface QuantizationError {
  /** max |ref(dequantised) - ref(original)| / max |ref(original)| */
  readonly maxRelErr: number;
  readonly cosineDiff: number;
  readonly nmse: number;
}

export interface KernelReport {
  readonly config: RunConfig;
  /** The version that ran (for "flash", the one chosen for this device). */
  readonly version: PreparedAttention['version'];
  readonly plan: PreparedAttention['plan'];
  readonly layout: PreparedAttention['layout'];
  /** Bytes uploaded per buffer: the cache is uploaded in its own format, never as f32. */
  readonly upload: PreparedAttention['upload'];
  readonly check: CheckResult;
  readonly output: { out: Float32Array; lse: Float32Array };
  readonly reference: AttentionResult;
  readonly quantization?: QuantizationError;
  readonly timing?: TimingResult;
  readonly work: Work;
  readonly throughput?: Throughput;
  readonly roofline?: RooflineMeasurement;
  /** A sparse call's indices: attended, padding, out of range (skipped). */
  readonly indices?: IndexCounts;
  /** The requests ran in groups (request-groups.ts): a whole call's buffer was over one binding. */
  readonly groups?: { readonly count: number; readonly size: number; readonly overBuffer: string };
}

export interface MeasureOptions {
  /** Skip timing (check only). */
  readonly time?: boolean;
  readonly timing?: TimingOptions;
  /** Also compute the quantisation error (one more CPU reference run). */
  readonly quantizationError?: boolean;
  /**
   * The reference on the original f32 cache, when the caller already has it
   * (a sweep runs several formats and kernels on the same inputs).
   */
  readonly originalReference?: () => AttentionResult;
  /**
   * The reference on the cache as the kernel read it. Default: referenceOnCache
   * here, chunk by chunk; the page passes one that runs in a Web Worker.
   */
  readonly reference?: ReferenceRunner;
  /** Stops the run between its steps (and between timing samples) with an AbortError. */
  readonly signal?: AbortSignal;
  /** Progress of the reference (keys done of all), when the default runs. */
  readonly onReferenceProgress?: ChunkedReferenceOptions['onProgress'];
}

/** Computes the reference for a run on the cache bytes it uploaded. */
export type ReferenceRunner = (inputs: MlaInputs, cacheBytes: Uint8Array, layout: KvLayout) => Promise<AttentionResult>;

export function quantizationError(onDequantized: AttentionResult, onOriginal: AttentionResult): QuantizationError {
  const c = compareToReference({ out: onDequantized.out, lse: onDequantized.lse }, onOriginal);
  return { maxRelErr: c.maxRelErr, cosineDiff: c.cosineDiff, nmse: c.nmse };
}

export async function measureAttention(ctx: GpuContext, inputs: MlaInputs, config: RunConfig, options: MeasureOptions = {}): Promise<KernelReport> {
  try {
    return await measureOnDevice(ctx, inputs, config, options);
  } catch (e) {
    // A lost device makes every later call fail with the browser's or Dawn's own words; say what happened instead.
    const lost = ctx.lostInfo();
    throw lost ? new DeviceLostError(lost) : e;
  }
}

async function measureOnDevice(ctx: GpuContext, inputs: MlaInputs, config: RunConfig, options: MeasureOptions): Promise<KernelReport> {
  const { signal } = options;
  signal?.throwIfAborted();
  const groups = planRequestGroups(inputs.shape, inputs.cache.numBlocks, inputs.cache.maxBlocksPerSeq, config, ctx.limits);
  const prepared = groups.count === 1 ? await prepareAttention(ctx, inputs, config) : await prepareInGroups(ctx, inputs, config, groups);
  try {
    signal?.throwIfAborted();
    await submitChecked(ctx, prepared);
    const output = await prepared.read();
    signal?.throwIfAborted();
    const reference = options.reference
      ? await options.reference(inputs, prepared.cacheBytes, prepared.layout)
      : referenceOnCache(inputs, prepared.cacheBytes, prepared.layout, { onProgress: options.onReferenceProgress });
    signal?.throwIfAborted();
    const check = compareToReference(output, reference, inputs.shape);
    const quantization = options.quantizationError && config.kvFormat !== 'f32' && !inputs.cacheBytes
      ? quantizationError(reference, options.originalReference?.() ?? referenceAttention(inputs))
      : undefined;
    const work = workOf(inputs.shape, prepared.layout);
    let timing: TimingResult | undefined;
    let roofline: RooflineMeasurement | undefined;
    let speed: Throughput | undefined;
    if (options.time !== false) {
      roofline = await measureRoofline(ctx, options.timing);
      timing = await timeWork(ctx, {
        label: `${config.kernel} ${prepared.layout.name}`,
        passLabels: prepared.passes.map((p) => p.label),
        encode: prepared.encode,
      }, { ...options.timing, signal });
      speed = throughput(work, timing.medianMs, roofline);
    }
    return {
      config, version: prepared.version, plan: prepared.plan, layout: prepared.layout, upload: prepared.upload,
      check, output, reference, quantization, timing, work, throughput: speed, roofline,
      groups: groups.count > 1 ? { count: groups.count, size: groups.size, overBuffer: groups.overBuffer! } : undefined,
      indices: inputs.indices && inputs.shape.topk > 0 ? countIndices(inputs.indices, inputs.cache.numBlocks * inputs.shape.pageBlockSize) : undefined,
    };
  } finally {
    prepared.destroy();
  }
}

/** Run once and check against the reference, without timing. */
export function runAttention(ctx: GpuContext, inputs: MlaInputs, config: RunConfig): Promise<KernelReport> {
  return measureAttention(ctx, inputs, config, { time: false });
}
