/**
 * The claims' measured numbers, from runs on this device made on request:
 * each run checked against the CPU reference first (as every run is), then
 * timed. The same seed gives the f32, bf16 and FP8 runs the same values, so
 * the FP8 output can be set against the f32 one.
 *
 *   memory-bound (h_q 8) and compute-bound (h_q 64) decodes of L keys:
 *     V3.2 f32, bf16, FP8 and MODEL1 FP8 at h_q 8; V3.2 bf16, FP8 and MODEL1 FP8 at h_q 64
 *   the longest context asked for: MODEL1, FP8, h_q 16
 */
import type { GpuContext } from '../gpu/device';
import { type MlaInputs, generateInputs } from '../mla/inputs';
import { type KvFormat, kvLayout } from '../mla/kv-layout';
import { type PresetName, presetShape } from '../mla/shape';
import { compareToReference } from '../reference/check';
import { runAttention } from '../run/run-attention';
import { prepareAttention } from '../run/runner';
import { generatesStraightIntoFormat } from '../run/run-size';
import { type TimingOptions, timeWork } from '../timing/timer';

export interface MeasureSpec {
  /** Keys of the memory- and compute-bound decodes. */
  readonly seqlen: number;
  readonly memoryBoundHeads: number;
  readonly computeBoundHeads: number;
  /** The long decode's tokens. */
  readonly longTokens: number;
  readonly timing?: TimingOptions;
}

export const CLI_MEASURE: MeasureSpec = { seqlen: 4096, memoryBoundHeads: 8, computeBoundHeads: 64, longTokens: 1 << 18 };
/** The page's: smaller, for a browser tab and a software adapter. */
export const PAGE_MEASURE: MeasureSpec = { seqlen: 1024, memoryBoundHeads: 8, computeBoundHeads: 64, longTokens: 1 << 14, timing: { warmup: 1, samples: 2 } };

export interface RatioAtTwoShapes {
  readonly memoryBound: number;
  readonly memoryBoundHeads: number;
  readonly computeBound: number;
  readonly computeBoundHeads: number;
}

export interface MeasuredRun {
  readonly label: string;
  readonly pass: boolean;
  readonly ms: number;
}

export interface MeasuredFacts {
  /** MODEL1 / V3.2 decode time, FP8. */
  readonly model1Ratio: RatioAtTwoShapes;
  /** bf16 / FP8 decode time (above 1: FP8 faster). */
  readonly fp8Speedup: RatioAtTwoShapes;
  /** The FP8 cache's output against the f32 cache's, memory-bound shape. */
  readonly fp8Accuracy: { readonly maxRelErr: number; readonly cosineDiff: number };
  readonly formatTimes: { readonly f32: number; readonly bf16: number; readonly fp8: number; readonly heads: number };
  readonly longest: { readonly tokens: number; readonly preset: PresetName; readonly heads: number; readonly ms: number; readonly pass: boolean };
  /** Every run, with its check. */
  readonly runs: readonly MeasuredRun[];
}

interface Planned {
  readonly label: string;
  readonly preset: PresetName;
  readonly heads: number;
  readonly format: KvFormat;
  readonly tokens: number;
}

function planRuns(spec: MeasureSpec): Planned[] {
  const at = (preset: PresetName, heads: number, format: KvFormat, tokens = spec.seqlen): Planned => ({ label: `${preset} ${format} h_q ${heads} L ${tokens}`, preset, heads, format, tokens });
  const m = spec.memoryBoundHeads;
  const c = spec.computeBoundHeads;
  return [
    at('v32', m, 'f32'), at('v32', m, 'bf16'), at('v32', m, 'fp8'), at('model1', m, 'fp8'),
    at('v32', c, 'bf16'), at('v32', c, 'fp8'), at('model1', c, 'fp8'),
    at('model1', 16, 'fp8', spec.longTokens),
  ];
}

/** How many runs measureClaims makes (for a progress bar). */
export function measureRunCount(spec: MeasureSpec): number {
  return planRuns(spec).length;
}

async function timeCall(ctx: GpuContext, inputs: MlaInputs, format: KvFormat, timing?: TimingOptions): Promise<number> {
  const prepared = await prepareAttention(ctx, inputs, { kernel: 'flash', kvFormat: format });
  try {
    return (await timeWork(ctx, { label: 'claim', passLabels: prepared.passes.map((p) => p.label), encode: prepared.encode }, timing)).medianMs;
  } finally {
    prepared.destroy();
  }
}

export async function measureClaims(ctx: GpuContext, spec: MeasureSpec, onRun?: (done: number, total: number, label: string) => void, signal?: AbortSignal): Promise<MeasuredFacts> {
  const plan = planRuns(spec);
  const runs: MeasuredRun[] = [];
  const outputs = new Map<string, Float32Array>();
  const inputsOf = new Map<string, MlaInputs>();
  for (const [k, p] of plan.entries()) {
    signal?.throwIfAborted();
    onRun?.(k, plan.length, p.label);
    const shape = presetShape(p.preset, { hQ: p.heads, seqlens: [p.tokens] });
    const key = `${p.preset} ${p.heads} ${p.tokens}`;
    let inputs = inputsOf.get(key);
    if (!inputs) {
      const layout = generatesStraightIntoFormat(shape) ? kvLayout(p.format, shape, shape.pageBlockSize) : undefined;
      inputs = generateInputs(shape, { seed: 1, cacheLayout: layout });
      inputsOf.set(key, inputs);
    }
    const report = await runAttention(ctx, inputs, { kernel: 'flash', kvFormat: p.format });
    outputs.set(p.label, report.output.out);
    const ms = await timeCall(ctx, inputs, p.format, spec.timing);
    runs.push({ label: p.label, pass: report.check.pass, ms });
  }
  onRun?.(plan.length, plan.length, 'done');
  const ms = (preset: PresetName, heads: number, format: KvFormat) => runs.find((r) => r.label === `${preset} ${format} h_q ${heads} L ${spec.seqlen}`)!.ms;
  const m = spec.memoryBoundHeads;
  const c = spec.computeBoundHeads;
  const fp8Out = outputs.get(`v32 fp8 h_q ${m} L ${spec.seqlen}`)!;
  const f32Out = outputs.get(`v32 f32 h_q ${m} L ${spec.seqlen}`)!;
  const acc = compareToReference({ out: fp8Out, lse: [] }, { out: Float64Array.from(f32Out), lse: new Float64Array(0) });
  const long = runs[runs.length - 1];
  return {
    model1Ratio: { memoryBound: ms('model1', m, 'fp8') / ms('v32', m, 'fp8'), memoryBoundHeads: m, computeBound: ms('model1', c, 'fp8') / ms('v32', c, 'fp8'), computeBoundHeads: c },
    fp8Speedup: { memoryBound: ms('v32', m, 'bf16') / ms('v32', m, 'fp8'), memoryBoundHeads: m, computeBound: ms('v32', c, 'bf16') / ms('v32', c, 'fp8'), computeBoundHeads: c },
    fp8Accuracy: { maxRelErr: acc.maxRelErr, cosineDiff: acc.cosineDiff },
    formatTimes: { f32: ms('v32', m, 'f32'), bf16: ms('v32', m, 'bf16'), fp8: ms('v32', m, 'fp8'), heads: m },
    longest: { tokens: spec.longTokens, preset: 'model1', heads: 16, ms: long.ms, pass: long.pass },
    runs,
  };
}
