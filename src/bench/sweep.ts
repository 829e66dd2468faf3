/**
 * The comparison sweep the mission asks for: 576 vs 512 heads x f32 / bf16 /
 * FP8 caches x seqlens x h_q, for the flash (best) and naive kernels. Every point is
 * validated against the CPU reference before it is timed. The same sweep runs
 * in the CLI (`mla-sandbox bench`) and on the page (Compare).
 */
import type { GpuContext } from '../gpu/device';
import { type PresetName, presetShape } from '../shape';
import type { KvFormat } from '../kv-layout';
import { KERNEL_VERSIONS, type KernelChoice, missingFeature } from '../kernels/versions';
import type { DeviceLimits } from '../gpu/device';
import { generateInputs } from '../inputs';
import { measureAttention } from '../run-attention';
import { type AttentionResult, referenceAttention } from '../reference';
import type { TimingOptions } from '../timing/timer';

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
  /** FP8/bf16 error against the f32 cache (reference on both); 0 for f32. */
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
}

export async function runSweep(
  ctx: GpuContext, spec: SweepSpec, onProgress?: (p: SweepProgress) => void, signal?: AbortSignal,
): Promise<SweepRow[]> {
  const points = sweepPoints(spec);
  const rows: SweepRow[] = [];
  // The reference on the original f32 cache depends only on the shape: compute it once per shape.
  const originals = new Map<string, AttentionResult>();
  for (const [k, point] of points.entries()) {
    if (signal?.aborted) throw new DOMException('sweep cancelled', 'AbortError');
    onProgress?.({ done: k, total: points.length, point });
    const shape = presetShape(point.preset, { seqlens: Array(spec.batch).fill(point.seqlen), hQ: point.hQ });
    const inputs = generateInputs(shape, { seed: spec.seed });
    const shapeKey = `${point.preset}/${point.seqlen}/${point.hQ}`;
    const originalReference = () => {
      let ref = originals.get(shapeKey);
      if (!ref) { ref = referenceAttention(inputs); originals.set(shapeKey, ref); }
      return ref;
    };
    const r = await measureAttention(ctx, inputs, { kernel: point.kernel, kvFormat: point.kvFormat }, {
      timing: spec.timing, quantizationError: true, originalReference,
    });
    const t = r.timing!;
    const row: SweepRow = {
      ...point, version: `${r.version.id} ${r.version.name}`, dQk: shape.dQk, bytesPerToken: r.layout.bytesPerToken, pass: r.check.pass, maxRelErr: r.check.maxRelErr,
      cosineDiff: r.check.cosineDiff, quantRelErr: r.quantization?.maxRelErr ?? 0, quantCosineDiff: r.quantization?.cosineDiff ?? 0,
      medianMs: t.medianMs, minMs: t.minMs, p90Ms: t.p90Ms, method: t.method,
      gbps: r.throughput!.gbps, gflops: r.throughput!.gflops, rooflineFraction: r.throughput!.rooflineFraction,
      suspect: r.throughput!.suspect, splits: r.plan.splits,
    };
    rows.push(row);
    onProgress?.({ done: k + 1, total: points.length, point, row });
  }
  return rows;
}
