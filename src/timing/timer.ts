/**
 * Time a sequence of dispatches on the GPU.
 *
 * With `timestamp-query` every compute pass gets a timestamp at its start and
 * end (pass-boundary timestamps are the only standard ones, so each kernel
 * dispatch is its own pass), resolved into a buffer and read back; without
 * it, wall clock over submit + onSubmittedWorkDone. Either way: warm-up
 * samples first (compilation, caches), then N samples of `iterations`
 * back-to-back repetitions each, reported as median, min and p90 per
 * iteration. Chrome quantises timestamps (100 us) unless its WebGPU developer
 * features are on: the tick is detected from the values and the iteration
 * count raised until a sample spans many ticks. Every sample runs inside
 * error scopes, so an invalid pipeline reports its error instead of a time.
 */
import type { GpuContext } from '../gpu/device';
import { withErrorScopes } from '../gpu/error-scopes';

export type TimingMethod = 'timestamp-query' | 'wall-clock';

/** Records one repetition of the work, one compute pass per dispatch. */
export type EncodeWork = (encoder: GPUCommandEncoder, timestampWrites?: (pass: number) => GPUComputePassTimestampWrites | undefined) => void;

export interface TimedWork {
  readonly label: string;
  readonly passLabels: readonly string[];
  readonly encode: EncodeWork;
}

export interface TimingOptions {
  /** Samples thrown away first. Default 2. */
  readonly warmup?: number;
  /** Samples measured. Default 10. */
  readonly samples?: number;
  /** Repetitions per sample; 'auto' (default) makes a sample last >= minSampleMs and >= 50 ticks. */
  readonly iterations?: number | 'auto';
  /** Stops between samples with an AbortError. */
  readonly signal?: AbortSignal;
  readonly minSampleMs?: number;
  /** Force the wall-clock method even when timestamps exist. */
  readonly method?: 'auto' | 'wall-clock';
}

export interface TimingResult {
  readonly label: string;
  readonly method: TimingMethod;
  /** Per repetition, in ms. */
  readonly medianMs: number;
  readonly minMs: number;
  readonly p90Ms: number;
  readonly samplesMs: readonly number[];
  readonly iterations: number;
  /** Median GPU time of each pass (timestamp method only). */
  readonly passes: readonly { label: string; medianMs: number }[];
  /** Timestamp resolution seen, in ns (timestamp method only). */
  readonly tickNs?: number;
  /** Notes for the reader: fallback method, coarse timestamps. */
  readonly notes: readonly string[];
}

export class TimingError extends Error {
  constructor(label: string, cause: string) {
    super(`timing ${label}: the GPU raised an error, so no time is reported: ${cause}`);
    this.name = 'TimingError';
  }
}

const MAX_QUERIES = 4096;

function quantile(sorted: number[], q: number): number {
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

export function summarize(samples: readonly number[]): { median: number; min: number; p90: number } {
  if (samples.length === 0) throw new Error('no samples to summarize');
  const sorted = [...samples].sort((a, b) => a - b);
  return { median: quantile(sorted, 0.5), min: sorted[0], p90: quantile(sorted, 0.9) };
}

function gcd(a: bigint, b: bigint): bigint {
  while (b !== 0n) [a, b] = [b, a % b];
  return a < 0n ? -a : a;
}

/**
 * The resolution of a set of timestamps: the gcd of the values themselves
 * (quantised timestamps are all multiples of the quantum). Needs enough
 * values to mean anything; undefined with fewer than 16.
 */
export function timestampTick(stamps: readonly bigint[]): number | undefined {
  if (stamps.length < 16) return undefined;
  let g = 0n;
  for (const s of stamps) g = gcd(g, s);
  return Number(g);
}

/** Timing a call with the default sample count aims to take about this long at most. */
const DEFAULT_BUDGET_MS = 20_000;
/** Fewest samples of a long call. */
const MIN_LONG_SAMPLES = 3;

/** Ticks coarser than this are reported, and samples are lengthened to span many of them. */
const COARSE_TICK_NS = 10_000;
/** A sample is never made longer than this to beat a coarse tick. */
const MAX_SAMPLE_MS = 2_000;

function checked<T>(device: GPUDevice, label: string, body: () => Promise<T>): Promise<T> {
  return withErrorScopes(device, body, (message) => new TimingError(label, message));
}

async function wallClockSample(device: GPUDevice, work: TimedWork, iterations: number): Promise<number> {
  const encoder = device.createCommandEncoder({ label: work.label });
  for (let r = 0; r < iterations; r++) work.encode(encoder);
  const commands = encoder.finish();
  const t0 = performance.now();
  device.queue.submit([commands]);
  await device.queue.onSubmittedWorkDone();
  return (performance.now() - t0) / iterations;
}

interface StampSample {
  readonly perIterationMs: number;
  readonly passMs: number[];
  readonly stamps: bigint[];
}

async function timestampSample(device: GPUDevice, work: TimedWork, iterations: number): Promise<StampSample> {
  const passes = work.passLabels.length;
  const count = 2 * passes * iterations;
  const querySet = device.createQuerySet({ type: 'timestamp', count });
  const resolve = device.createBuffer({ size: 8 * count, usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC });
  const read = device.createBuffer({ size: 8 * count, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
  try {
    const encoder = device.createCommandEncoder({ label: work.label });
    for (let r = 0; r < iterations; r++) {
      work.encode(encoder, (k) => ({
        querySet, beginningOfPassWriteIndex: 2 * (r * passes + k), endOfPassWriteIndex: 2 * (r * passes + k) + 1,
      }));
    }
    encoder.resolveQuerySet(querySet, 0, count, resolve, 0);
    encoder.copyBufferToBuffer(resolve, 0, read, 0, 8 * count);
    device.queue.submit([encoder.finish()]);
    await read.mapAsync(GPUMapMode.READ);
    const stamps = [...new BigUint64Array(read.getMappedRange().slice(0))];
    read.unmap();
    const passMs = Array.from({ length: passes }, (_, k) => {
      let sum = 0n;
      for (let r = 0; r < iterations; r++) sum += stamps[2 * (r * passes + k) + 1] - stamps[2 * (r * passes + k)];
      return Number(sum) / iterations / 1e6;
    });
    const total = stamps[count - 1] - stamps[0];
    return { perIterationMs: Number(total) / iterations / 1e6, passMs, stamps };
  } finally {
    querySet.destroy();
    resolve.destroy();
    read.destroy();
  }
}

export async function timeWork(ctx: GpuContext, work: TimedWork, options: TimingOptions = {}): Promise<TimingResult> {
  const { device } = ctx;
  let warmup = options.warmup ?? 2;
  let samples = options.samples ?? 10;
  const minSampleMs = options.minSampleMs ?? 20;
  const passes = work.passLabels.length;
  const notes: string[] = [];
  let method: TimingMethod = options.method !== 'wall-clock' && ctx.features.includes('timestamp-query') ? 'timestamp-query' : 'wall-clock';
  if (method === 'wall-clock') {
    notes.push(options.method === 'wall-clock'
      ? 'wall-clock timing (asked for): submit + onSubmittedWorkDone, includes submission overhead'
      : 'fallback: this device has no timestamp-query, so times are wall clock over submit + onSubmittedWorkDone (includes submission overhead)');
  }

  // Size the sample: one probe repetition (also the first warm-up).
  const probeMs = await checked(device, work.label, () => wallClockSample(device, work, 1));
  // A long call (a million-token decode) is sampled fewer times unless the caller chose.
  const fitting = Math.floor(DEFAULT_BUDGET_MS / probeMs);
  if (options.samples === undefined && fitting < warmup + samples) {
    warmup = Math.min(warmup, 1);
    samples = Math.max(MIN_LONG_SAMPLES, fitting - warmup);
    notes.push(`a long call (${(probeMs / 1000).toFixed(1)} s): ${samples} samples after ${warmup} warm-up, to stay near ${DEFAULT_BUDGET_MS / 1000} s of timing (--samples sets it)`);
  }
  let iterations = options.iterations === undefined || options.iterations === 'auto'
    ? Math.max(1, Math.ceil(minSampleMs / Math.max(probeMs, 1e-3)))
    : options.iterations;
  if (!Number.isInteger(iterations) || iterations < 1) throw new Error(`iterations = ${iterations} is not allowed: iterations must be "auto" or an integer >= 1`);
  const maxStampIterations = Math.floor(MAX_QUERIES / (2 * passes));
  let tickNs: number | undefined;

  if (method === 'timestamp-query') {
    iterations = Math.min(iterations, maxStampIterations);
    const first = await checked(device, work.label, () => timestampSample(device, work, iterations));
    tickNs = timestampTick(first.stamps);
    if (first.stamps.every((s) => s === first.stamps[0])) {
      method = 'wall-clock';
      notes.push('fallback: timestamps did not advance on this device, so times are wall clock');
    } else if (tickNs !== undefined && tickNs >= COARSE_TICK_NS) {
      const need = Math.ceil((50 * tickNs) / 1e6 / Math.max(first.perIterationMs, 1e-6));
      const most = Math.max(1, Math.floor(MAX_SAMPLE_MS / Math.max(first.perIterationMs, 1e-6)));
      iterations = Math.min(maxStampIterations, most, Math.max(iterations, need));
      notes.push(`coarse timestamps: resolution ${(tickNs / 1000).toFixed(0)} us (Chrome quantises to 100 us unless its WebGPU developer features are on); samples of ${iterations} iterations span ${(iterations * first.perIterationMs * 1e6 / tickNs).toFixed(0)} ticks`);
    }
  }

  const times: number[] = [];
  const passTimes: number[][] = Array.from({ length: passes }, () => []);
  for (let s = 0; s < warmup + samples; s++) {
    options.signal?.throwIfAborted();
    if (method === 'timestamp-query') {
      const sample = await checked(device, work.label, () => timestampSample(device, work, iterations));
      if (s >= warmup) {
        times.push(sample.perIterationMs);
        sample.passMs.forEach((ms, k) => passTimes[k].push(ms));
      }
    } else {
      const ms = await checked(device, work.label, () => wallClockSample(device, work, iterations));
      if (s >= warmup) times.push(ms);
    }
  }
  const { median, min, p90 } = summarize(times);
  return {
    label: work.label, method, medianMs: median, minMs: min, p90Ms: p90, samplesMs: times, iterations,
    passes: method === 'timestamp-query' ? work.passLabels.map((label, k) => ({ label, medianMs: summarize(passTimes[k]).median })) : [],
    tickNs: method === 'timestamp-query' ? tickNs : undefined,
    notes,
  };
}
