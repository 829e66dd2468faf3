/**
 * The comparison sweep the mission asks for: 576 vs 512 heads x f32 / bf16 /
 * FP8 caches x seqlens x h_q, for the flash (best) and naive kernels. Every point is
 * validated against the CPU reference before it is timed. The same sweep runs
 * in the CLI (`mla-sandbox bench`) and on the page (Compare).
 */
import type { GpuContext } from '../gpu/device';
import { type MlaShape, type PresetName, maxBlocksPerSeq, presetShape } from '../mla/shape';
import type { KvFormat } from '../mla/kv-layout';
import { KERNEL_VERSIONS, type KernelChoice, missingFeature } from '../kernels/versions';
import type { DeviceLimits } from '../gpu/device';
import { type InputOptions, type MlaInputs, generateInputs } from '../mla/inputs';
import { type ReferenceRunner, measureAttention } from '../run/run-attention';
import { type AttentionResult, referenceAttention } from '../reference/reference';
import type { TimingOptions } from '../timing/timer';
import { planCall } from '../run/runner';
import { checkHostMemory, generatedPages, generatesStraightIntoFormat } from '../run/run-size';

export interface SweepSpec {
  readonly presets: readonly PresetName[];
  readonly formats: readonly KvFormat[];
  readonly kernels: readonly KernelChoice[];
  readonly seqlens: readonly number[];
  readonly heads: readonly number[];
  readonly batch: number;
  readonly seed: number;
  readonly timing: TimingOptions;
}

/** Default: sized to finish in a few minutes on a software adapter (2-core SwiftShader). */
export const DEFAULT_SWEEP: SweepSpec = {
  presets: ['v32', 'model1'], formats: ['f32', 'bf16', 'fp8'], kernels: ['flash', 'naive'],
  seqlens: [256, 1024, 4096], heads: [16, 64], batch: 1, seed: 0,
  timing: { warmup: 1, samples: 5, minSampleMs: 10 },
};

/** --full: the whole range, for a real GPU. */
export const FULL_SWEEP: SweepSpec = {
  ...DEFAULT_SWEEP, seqlens: [256, 1024, 4096, 16384], heads: [16, 64, 128], batch: 2,
  timing: { warmup: 2, samples: 10, minSampleMs: 20 },
};

/**
 * The long-context sweep: 4K to 1M keys, both heads, FP8 and bf16, the best
 * kernel, 16 heads, one timed sample (a 1M-token call takes seconds on a
 * software adapter). Caches past one binding are sharded; a point that does
 * not fit the memory budget is skipped with the reason.
 */
export const LONG_CONTEXT_SWEEP: SweepSpec = {
  presets: ['v32', 'model1'], formats: ['fp8', 'bf16'], kernels: ['flash'],
  seqlens: [4096, 16384, 65536, 262144, 1048576], heads: [16], batch: 1, seed: 0,
  timing: { warmup: 0, samples: 1, minSampleMs: 0 },
};

export interface SweepPoint {
  readonly preset: PresetName;
  readonly kvFormat: KvFormat;
  readonly kernel: KernelChoice;
  readonly seqlen: number;
  readonly hQ: number;
}

export interface SweepRow extends SweepPoint {
  /** The version that ran, e.g. "v4 tiled" (what "flash" chose). */
  readonly version: string;
  readonly dQk: number;
  readonly bytesPerToken: number;
  readonly pass: boolean;
  readonly maxRelErr: number;
  readonly cosineDiff: number;
  /** FP8/bf16 error against the f32 cache (reference on both); 0 for f32; NaN when not measured (a long cache, never built in f32). */
  readonly quantRelErr: number;
  readonly quantCosineDiff: number;
  readonly medianMs: number;
  readonly minMs: number;
  readonly p90Ms: number;
  readonly method: string;
  readonly gbps: number;
  readonly gflops: number;
  readonly rooflineFraction: number;
  readonly suspect: boolean;
  readonly splits: number;
  /**
   * The yardstick (the best plain matmul form, timing/plain-matmul.ts) timed
   * right after this point, when the sweep was asked to (the ladder): a
   * software adapter's speed moves 10-40 % within minutes, so a kernel is
   * divided by the matmul timed beside it, not by one timed at the start.
   */
  readonly yardstickGflops?: number;
}

export function sweepPoints(spec: SweepSpec): SweepPoint[] {
  const points: SweepPoint[] = [];
  for (const preset of spec.presets) for (const kvFormat of spec.formats) for (const kernel of spec.kernels)
    for (const seqlen of spec.seqlens) for (const hQ of spec.heads) points.push({ preset, kvFormat, kernel, seqlen, hQ });
  return points;
}

/**
 * The spec with the kernels this device cannot run left out (v5 without
 * subgroups), and a line for each one left out, for the report.
 */
export function runnableSweep(spec: SweepSpec, limits: DeviceLimits): { spec: SweepSpec; notRun: string[] } {
  const notRun: string[] = [];
  const kernels = spec.kernels.filter((k) => {
    const version = KERNEL_VERSIONS.find((v) => v.name === k || v.id === k);
    const missing = version && missingFeature(version, limits);
    if (missing) notRun.push(`not run: ${missing}`);
    return !missing;
  });
  return { spec: { ...spec, kernels }, notRun };
}

export interface SweepProgress {
  readonly done: number;
  readonly total: number;
  readonly point: SweepPoint;
  readonly row?: SweepRow;
  /** Why this point was not run (it does not fit the device or the memory budget). */
  readonly skipped?: string;
}

/** How a sweep does its CPU work; the page moves it to a Web Worker. */
export interface SweepRunOptions {
  /** Generate a point's inputs (default: generateInputs, here). */
  readonly generate?: (shape: MlaShape, options: InputOptions) => Promise<MlaInputs>;
  /** The reference of a point (default: the chunked reference, here). */
  readonly reference?: ReferenceRunner;
  /** Host memory a point may take, and where that figure comes from; a point over it is skipped. */
  readonly memory?: { readonly bytes: number; readonly where: string };
  /** Times the yardstick (GFLOP/s) right after each point; the row keeps it (SweepRow.yardstickGflops). */
  readonly yardstick?: () => Promise<number>;
}

export async function runSweep(
  ctx: GpuContext, spec: SweepSpec, onProgress?: (p: SweepProgress) => void, signal?: AbortSignal, options: SweepRunOptions = {},
): Promise<SweepRow[]> {
  const points = sweepPoints(spec);
  const rows: SweepRow[] = [];
  const generate = options.generate ?? (async (shape: MlaShape, o: InputOptions) => generateInputs(shape, o));
  // The reference on the original f32 cache depends only on the shape: compute it once per shape.
  const originals = new Map<string, AttentionResult>();
  for (const [k, point] of points.entries()) {
    if (signal?.aborted) throw new DOMException('sweep cancelled', 'AbortError');
    onProgress?.({ done: k, total: points.length, point });
    const shape = presetShape(point.preset, { seqlens: Array(spec.batch).fill(point.seqlen), hQ: point.hQ });
    const config = { kernel: point.kernel, kvFormat: point.kvFormat };
    let straightInto;
    try {
      // Checked before anything is generated: a point too large for this device or budget is skipped, not fatal.
      const { layout } = planCall(shape, generatedPages(shape), maxBlocksPerSeq(shape), config, ctx.limits);
      if (options.memory) checkHostMemory(shape, layout, options.memory.bytes, options.memory.where);
      straightInto = generatesStraightIntoFormat(shape) ? layout : undefined;
    } catch (e) {
      onProgress?.({ done: k + 1, total: points.length, point, skipped: (e as Error).message });
      continue;
    }
    // A long cache is generated straight into its format (no f32 cache, so no quantisation error).
    const inputs = await generate(shape, { seed: spec.seed, cacheLayout: straightInto });
    const shapeKey = `${point.preset}/${point.seqlen}/${point.hQ}`;
    const originalReference = () => {
      let ref = originals.get(shapeKey);
      if (!ref) { ref = referenceAttention(inputs); originals.set(shapeKey, ref); }
      return ref;
    };
    const r = await measureAttention(ctx, inputs, config, {
      timing: spec.timing, quantizationError: true, originalReference, reference: options.reference, signal,
    });
    const t = r.timing!;
    const row: SweepRow = {
      ...point, version: `${r.version.id} ${r.version.name}`, dQk: shape.dQk, bytesPerToken: r.layout.bytesPerToken, pass: r.check.pass, maxRelErr: r.check.maxRelErr,
      cosineDiff: r.check.cosineDiff, quantRelErr: quantOr(r.quantization?.maxRelErr, point.kvFormat), quantCosineDiff: quantOr(r.quantization?.cosineDiff, point.kvFormat),
      medianMs: t.medianMs, minMs: t.minMs, p90Ms: t.p90Ms, method: t.method,
      gbps: r.throughput!.gbps, gflops: r.throughput!.gflops, rooflineFraction: r.throughput!.rooflineFraction,
      suspect: r.throughput!.suspect, splits: r.plan.splits,
      ...(options.yardstick ? { yardstickGflops: await options.yardstick() } : {}),
    };
    rows.push(row);
    onProgress?.({ done: k + 1, total: points.length, point, row });
  }
  return rows;
}

/** The quantisation error measured, 0 for an f32 cache, NaN when it was not measured. */
function quantOr(measured: number | undefined, kvFormat: KvFormat): number {
  return measured ?? (kvFormat === 'f32' ? 0 : NaN);
}
